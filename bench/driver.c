// SPDX-License-Identifier: GPL-2.0
/* The driver (driver.bpf.c) from userspace: one test run, and what it made. */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "fixture.h"
#include "packets.h"
#include "bench_driver.skel.h"

int driver_run(struct bench_driver *drv, const __u8 *frame, __u32 len,
	       enum bench_target target, __u64 base, __u32 mask,
	       bool new_flows, __u32 repeat, struct run_result *r)
{
	struct xdp_md ctx = {
		.data_end = len,
		.ingress_ifindex = rt.ifindex_in0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .data_out = r->out,
		    .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);
	int err;

	drv->bss->target = target;
	drv->bss->flow_base = base;
	drv->bss->flow_mask = mask;
	drv->bss->new_flows = new_flows;
	drv->bss->iter = 0;
	err = bpf_prog_test_run_opts(bpf_program__fd(drv->progs.driver), &opts);
	if (err) {
		say("test run: %s\n", strerror(-err));
		return err;
	}
	r->ns = opts.duration;
	r->retval = opts.retval;
	r->out_len = opts.data_size_out;
	return 0;
}

bool forwarded_ok(const struct run_result *r)
{
	const __u8 *ip = r->out + 14;

	return r->retval == XDP_REDIRECT && r->out_len >= 34 && egress_of(r->out) &&
	       ip[8] == 63 && ipv4_csum_valid(ip);
}

void flow_key_of(const struct bench *b, __u64 flow, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = FP_AF_INET;
	k->proto = IPPROTO_UDP;
	k->sport = htons(BENCH_SPORT);
	k->dport = htons(BENCH_DPORT);
	k->saddr[0] = htonl(BENCH_SRC_BASE + (__u32)(flow >> BENCH_NDST_SHIFT));
	k->daddr[0] = b->dsts[flow & (BENCH_NDST - 1)];
}
