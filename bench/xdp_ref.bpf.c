// SPDX-License-Identifier: GPL-2.0
/*
 * The reference forwarder flowpin is measured against, written the way the
 * kernel's samples/bpf/xdp_fwd_kern.c and xdp-tools' xdp-forward work:
 * bpf_fib_lookup() on every packet, then MAC and TTL rewrite and a devmap
 * redirect. Unlike them it fills the ports and protocol, so the kernel's
 * L4 multipath hash applies as it does for flowpin.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bench_frames.h"
#include "bench_fwd.h"

#define AF_INET 2
#define AF_INET6 10
#define IPV6_FLOWINFO_MASK bpf_htonl(0x0FFFFFFF)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REF_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ref_stats SEC(".maps");

static __always_inline int count(__u32 idx, int verdict)
{
	__u64 *n = bpf_map_lookup_elem(&ref_stats, &idx);

	if (n)
		*n += 1;
	return verdict;
}

static __always_inline void ports(void *l4, void *end, __u8 proto,
				  struct bpf_fib_lookup *fib)
{
	__be16 *p = l4;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return;
	if ((void *)(p + 2) > end)
		return;
	fib->sport = p[0];
	fib->dport = p[1];
}

SEC("xdp")
int xdp_ref(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;
	struct iphdr *iph = NULL;
	struct ipv6hdr *ip6h = NULL;
	bool v4 = false;
	long rc;

	if ((void *)(eth + 1) > end)
		return count(REF_PASS, XDP_PASS);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		iph = (void *)(eth + 1);
		if ((void *)(iph + 1) > end || iph->ttl <= 1)
			return count(REF_PASS, XDP_PASS);
		v4 = true;
		fib.family = AF_INET;
		fib.tos = iph->tos;
		fib.l4_protocol = iph->protocol;
		fib.tot_len = bpf_ntohs(iph->tot_len);
		fib.ipv4_src = iph->saddr;
		fib.ipv4_dst = iph->daddr;
		if (!(iph->frag_off & bpf_htons(0x3FFF)))
			ports((void *)iph + iph->ihl * 4, end, iph->protocol,
			      &fib);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		ip6h = (void *)(eth + 1);
		if ((void *)(ip6h + 1) > end || ip6h->hop_limit <= 1)
			return count(REF_PASS, XDP_PASS);
		fib.family = AF_INET6;
		fib.flowinfo = *(__be32 *)ip6h & IPV6_FLOWINFO_MASK;
		fib.l4_protocol = ip6h->nexthdr;
		fib.tot_len = bpf_ntohs(ip6h->payload_len);
		__builtin_memcpy(fib.ipv6_src, &ip6h->saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, &ip6h->daddr, 16);
		ports(ip6h + 1, end, ip6h->nexthdr, &fib);
	} else {
		return count(REF_PASS, XDP_PASS);
	}
	fib.ifindex = ctx->ingress_ifindex;

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return count(REF_PASS, XDP_PASS);
	/* As xdp_fwd: an egress port not in the devmap goes to the kernel. */
	if (!bpf_map_lookup_elem(&tx_ports, &fib.ifindex))
		return count(REF_PASS, XDP_PASS);
	/* re-checked: clang merges the two pointers into one otherwise */
	if (v4) {
		iph = (void *)(eth + 1);
		if ((void *)(iph + 1) > end)
			return count(REF_PASS, XDP_PASS);
		ip_decrease_ttl(iph);
	} else {
		ip6h = (void *)(eth + 1);
		if ((void *)(ip6h + 1) > end)
			return count(REF_PASS, XDP_PASS);
		ip6h->hop_limit--;
	}
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	return count(REF_FORWARDED, bpf_redirect_map(&tx_ports, fib.ifindex, 0));
}

char LICENSE[] SEC("license") = "GPL";
