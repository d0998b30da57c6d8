// SPDX-License-Identifier: GPL-2.0
/*
 * Live-frames generator, run by BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES: each frame is written here and sent out of
 * the ingress device with XDP_TX. Pages come back with whatever the
 * receivers wrote into them, so every header is written on every run.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bench_frames.h"

__be32 dsts[BENCH_NDST];
__be32 saddr;
__u32 flow_mask;
__u8 dmac[6], smac[6];
__u64 iter;

SEC("xdp")
int gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *uh = (void *)(iph + 1);
	__u32 flow = iter++ & flow_mask;
	__u16 *w = (__u16 *)iph;
	__u32 sum = 0;

	if (data + BENCH_FRAME_LEN > end)
		return XDP_ABORTED;
	__builtin_memcpy(eth->h_dest, dmac, 6);
	__builtin_memcpy(eth->h_source, smac, 6);
	eth->h_proto = bpf_htons(ETH_P_IP);
	*(__u16 *)iph = bpf_htons(0x4500);
	iph->tot_len = bpf_htons(BENCH_FRAME_LEN - sizeof(*eth));
	iph->id = 0;
	iph->frag_off = 0;
	iph->ttl = 64;
	iph->protocol = IPPROTO_UDP;
	iph->check = 0;
	iph->saddr = saddr;
	iph->daddr = dsts[flow & (BENCH_NDST - 1)];
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum += sum >> 16;
	iph->check = ~sum;
	uh->source = bpf_htons(1024 + (flow >> BENCH_NDST_SHIFT));
	uh->dest = bpf_htons(BENCH_DPORT);
	uh->len = bpf_htons(BENCH_FRAME_LEN - sizeof(*eth) - sizeof(*iph));
	uh->check = 0;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
