// SPDX-License-Identifier: GPL-2.0
/*
 * The VLAN tag a frame leaves with, where flowpin's XDP program cannot
 * write it in place: a tag to put on (untagged in, a VLAN's next hop out)
 * or to take off (tagged in, a port's next hop out) moves the frame's
 * start, which an extension of libxdp's dispatcher may not do. These are
 * devmap programs (BPF_XDP_DEVMAP): the kernel runs them on the frame after
 * flowpin's redirect, on the egress, from the tx_ports entry it went
 * through, as programs of their own.
 *
 * vlan_push: one copy per VLAN sub-interface, its tag's protocol and VID
 * set at load, on that sub-interface's tx_ports entry (-> its port).
 * vlan_pop: one, on each port's FP_TX_POP entry.
 * Priority 0, as the VLAN device writes it without an egress-qos-map
 * (flowpind leaves a VLAN with one to the kernel). The MACs are flowpin's
 * already; what follows the tag is untouched.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MACS_LEN 12 /* destination and source */
#define TAG_LEN 4

const volatile __be16 tag_proto = 0;
const volatile __u16 tag_vid = 0;

/* The MACs, 12 bytes as three words, so the copy may overlap. */
struct macs {
	__u32 w[3];
};

SEC("xdp/devmap")
int vlan_push(struct xdp_md *ctx)
{
	struct macs m;
	void *data, *end;

	if (bpf_xdp_adjust_head(ctx, -TAG_LEN))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + MACS_LEN + 2 * TAG_LEN > end)
		return XDP_DROP;
	__builtin_memcpy(&m, data + TAG_LEN, MACS_LEN);
	__builtin_memcpy(data, &m, MACS_LEN);
	*(__be16 *)(data + MACS_LEN) = tag_proto;
	*(__be16 *)(data + MACS_LEN + 2) = bpf_htons(tag_vid);
	return XDP_PASS;
}

SEC("xdp/devmap")
int vlan_pop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct macs m;

	if (data + MACS_LEN + TAG_LEN + 2 > end)
		return XDP_DROP;
	__builtin_memcpy(&m, data, MACS_LEN);
	__builtin_memcpy(data + TAG_LEN, &m, MACS_LEN);
	if (bpf_xdp_adjust_head(ctx, TAG_LEN))
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
