// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF_PROG_TEST_RUN driver. With repeat, the kernel runs a program
 * over the same buffer again and again, and whatever the program wrote
 * stays: the TTL would run down and every iteration would be the same
 * flow. The driver rewrites the frame for the next flow number (MACs,
 * TTL 64, addresses, header checksum), then tail-calls the program under
 * test. Its cost is in every figure alike, and P0 (driver + parse) shows it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bench_frames.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, BT_MAX);
	__type(key, __u32);
	__type(value, __u32);
} targets SEC(".maps");

/* Set by userspace through the skeleton's mmap()ed .bss. */
__be32 dsts[BENCH_NDST];
__u32 target;
__u32 flow_mask;  /* flows base .. base + mask, round robin */
__u32 new_flows;  /* 1: base + iteration, never the same flow twice */
__u64 flow_base;
__u64 flow_step;  /* set: base + (iteration * step) % count, a permutation */
__u64 flow_count;
__u64 iter;

static const __u8 macs[12] = { 0x02, 0, 0, 0, 0, 0x01,	  /* router in0 */
			       0x02, 0, 0, 0, 0, 0xaa }; /* client */

SEC("xdp")
int driver(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	__u64 flow = flow_base + (flow_step ? (iter * flow_step) % flow_count :
				  new_flows ? iter : (iter & flow_mask));
	__u16 *w = (__u16 *)iph;
	__u32 sum = 0;

	iter++;
	if ((void *)(iph + 1) + sizeof(struct udphdr) > end)
		return XDP_ABORTED;
	__builtin_memcpy(data, macs, sizeof(macs));
	iph->ttl = 64;
	iph->saddr = bpf_htonl(BENCH_SRC_BASE + (__u32)(flow >> BENCH_NDST_SHIFT));
	iph->daddr = dsts[flow & (BENCH_NDST - 1)];
	iph->check = 0;
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum += sum >> 16;
	iph->check = ~sum;
	bpf_tail_call(ctx, &targets, target);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
