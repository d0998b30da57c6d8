// SPDX-License-Identifier: GPL-2.0
/* Someone else's XDP program, attached without libxdp: flowpind must refuse the port. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int not_flowpin(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
