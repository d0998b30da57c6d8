/* SPDX-License-Identifier: GPL-2.0 */
/*
 * "Fragmentation needed" (ICMP) and "packet too big" (ICMPv6), built in
 * place from the packet that was too big, for the sender to lower its path
 * MTU. As the kernel's own answer: the quoted packet as it arrived, as much
 * of it as fits 576 bytes (IPv4) or 1280 bytes (IPv6), and the MTU of the
 * port the packet would have left by. It goes back out the port the packet
 * came in on, to the MAC it came from, from the address the packet was for
 * (as Katran's answers do: the sender sees the error come from the
 * destination it tried to reach).
 */
#ifndef FLOWPIN_TOO_BIG_H
#define FLOWPIN_TOO_BIG_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "parse.h"

#define ICMP_FRAG_NEEDED 4
#define IPTOS_TOS_MASK 0x1E
#define IPTOS_PREC_INTERNETCONTROL 0xc0
#define IPV6_MIN_MTU 1280
#define TOO_BIG_TTL 64 /* the kernel's default TTL and hop limit */

/* The error's own headers after Ethernet, and the bytes of the packet it quotes. */
#define TOO_BIG_HDR4 (sizeof(struct iphdr) + 8)
#define TOO_BIG_HDR6 (sizeof(struct ipv6hdr) + 8)
#define TOO_BIG_QUOTE4 (576 - TOO_BIG_HDR4)
#define TOO_BIG_QUOTE6 (IPV6_MIN_MTU - TOO_BIG_HDR6)
#define CSUM_CHUNK 512 /* the most bpf_csum_diff() sums in one call */

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Sum of len bytes at p, a multiple of 4, within [.., end); -1 when out of bounds. */
static __always_inline __s64 csum_add_bytes(void *p, __u32 len, void *end,
					    __s64 sum)
{
	if (sum < 0 || p + len > end)
		return -1;
	return bpf_csum_diff(NULL, 0, p, len, sum);
}

/* The quote's sum: TOO_BIG_QUOTE4 or 6 bytes at q. */
static __always_inline __s64 csum_quote(void *q, bool v6, void *end, __s64 sum)
{
	if (v6) {
		sum = csum_add_bytes(q, CSUM_CHUNK, end, sum);
		sum = csum_add_bytes(q + CSUM_CHUNK, CSUM_CHUNK, end, sum);
		return csum_add_bytes(q + 2 * CSUM_CHUNK,
				      TOO_BIG_QUOTE6 - 2 * CSUM_CHUNK, end, sum);
	}
	sum = csum_add_bytes(q, CSUM_CHUNK, end, sum);
	return csum_add_bytes(q + CSUM_CHUNK, TOO_BIG_QUOTE4 - CSUM_CHUNK, end,
			      sum);
}

/*
 * What the error needs of the packet, copied before the frame is reshaped:
 * the reshaping invalidates every pointer into it.
 */
struct too_big_src {
	__u8 src_mac[ETH_ALEN], dst_mac[ETH_ALEN];
	__be16 proto;
	__u8 tos;
	__be32 saddr[4], daddr[4];
};

static __always_inline void too_big_eth(struct ethhdr *eth,
					const struct too_big_src *s)
{
	__builtin_memcpy(eth->h_dest, s->src_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, s->dst_mac, ETH_ALEN);
	eth->h_proto = s->proto;
}

/*
 * Write the error's headers over the frame [data, end), whose bytes after
 * them already hold the quote. Each returns the sum of the L3 bytes it
 * wrote (the IP and ICMP headers), or -1.
 */
static __always_inline __s64 too_big_write4(void *data, void *end,
					    const struct too_big_src *s,
					    __u32 mtu)
{
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__u8 *icmp = (void *)(iph + 1);
	__s64 sum;

	if ((void *)(icmp + 8) > end)
		return -1;
	too_big_eth(eth, s);
	__builtin_memset(iph, 0, TOO_BIG_HDR4);
	iph->version = 4;
	iph->ihl = 5;
	iph->tos = (s->tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL;
	iph->tot_len = bpf_htons(576);
	iph->ttl = TOO_BIG_TTL;
	iph->protocol = IPPROTO_ICMP;
	iph->saddr = s->daddr[0];
	iph->daddr = s->saddr[0];
	sum = csum_add_bytes(iph, sizeof(*iph), end, 0);
	if (sum < 0)
		return -1;
	iph->check = csum_fold(sum);
	icmp[0] = ICMP_DEST_UNREACH;
	icmp[1] = ICMP_FRAG_NEEDED;
	*(__be16 *)(icmp + 6) = bpf_htons(mtu > 0xffff ? 0xffff : mtu);
	sum = csum_add_bytes(icmp, 8, end, 0);
	sum = csum_quote(icmp + 8, false, end, sum);
	if (sum < 0)
		return -1;
	*(__u16 *)(icmp + 2) = csum_fold(sum);
	return csum_add_bytes(iph, TOO_BIG_HDR4, end, 0);
}

static __always_inline __s64 too_big_write6(void *data, void *end,
					    const struct too_big_src *s,
					    __u32 mtu)
{
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6h = (void *)(eth + 1);
	__u8 *icmp = (void *)(ip6h + 1);
	/* the pseudo-header's length and next header (its addresses: ip6h's) */
	__be32 pseudo[2] = { bpf_htonl(8 + TOO_BIG_QUOTE6),
			     bpf_htonl(IPPROTO_ICMPV6) };
	__s64 sum;

	if ((void *)(icmp + 8) > end)
		return -1;
	too_big_eth(eth, s);
	__builtin_memset(ip6h, 0, TOO_BIG_HDR6);
	ip6h->version = 6;
	ip6h->payload_len = bpf_htons(8 + TOO_BIG_QUOTE6);
	ip6h->nexthdr = IPPROTO_ICMPV6;
	ip6h->hop_limit = TOO_BIG_TTL;
	__builtin_memcpy(&ip6h->saddr, s->daddr, 16);
	__builtin_memcpy(&ip6h->daddr, s->saddr, 16);
	icmp[0] = ICMPV6_PKT_TOOBIG;
	*(__be32 *)(icmp + 4) = bpf_htonl(mtu < IPV6_MIN_MTU ? IPV6_MIN_MTU : mtu);
	sum = csum_add_bytes(&ip6h->saddr, 32, end, 0);
	if (sum < 0)
		return -1;
	sum = bpf_csum_diff(NULL, 0, pseudo, sizeof(pseudo), sum);
	sum = csum_add_bytes(icmp, 8, end, sum);
	sum = csum_quote(icmp + 8, true, end, sum);
	if (sum < 0)
		return -1;
	*(__u16 *)(icmp + 2) = csum_fold(sum);
	return csum_add_bytes(ip6h, TOO_BIG_HDR6, end, 0);
}

/* The 16-bit ones' complement sum of a 32-bit partial sum, not inverted. */
static __always_inline __u32 csum_sum16(__u64 sum)
{
	return ~csum_fold(sum) & 0xffff;
}

/*
 * Is a tc skb's TCP or UDP checksum left to the egress (CHECKSUM_PARTIAL)?
 * BPF cannot read ip_summed, but the field says it: the kernel's senders
 * (tcp_v4_send_check(), udp4_hwcsum(), their IPv6 twins) and GRO
 * (tcp_gro_complete()) leave the pseudo-header's sum there, not inverted,
 * for the egress to finish; a finished checksum equals that value once in
 * 65,536 packets. A UDP checksum of 0 is "none" (IPv4). l4_len: from the
 * L4 header to the skb's end (a GSO skb's whole length, as its senders
 * count).
 */
static __always_inline bool l4_csum_unfinished(const struct packet *pkt,
					       void *end, __u32 l4_len)
{
	__u8 proto = pkt->key.proto;
	__u8 *l4 = (__u8 *)(pkt->eth + 1) + (pkt->l4_off & 0x1ff);
	__u16 *field = (void *)(l4 + (proto == IPPROTO_TCP ? 16 : 6));
	__be32 tail[2] = { bpf_htonl(l4_len), bpf_htonl(proto) };
	__s64 sum;

	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || !pkt->l4_off ||
	    (void *)(field + 1) > end)
		return false;
	if (proto == IPPROTO_UDP && !*field)
		return false;
	/* the pseudo-header: addresses, then the length and the protocol */
	if (pkt->ip6)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)pkt->key.saddr, 32, 0);
	else
		sum = bpf_csum_diff(NULL, 0, (__be32 *)pkt->key.saddr, 4,
				    bpf_csum_diff(NULL, 0,
						  (__be32 *)pkt->key.daddr, 4, 0));
	sum = bpf_csum_diff(NULL, 0, tail, sizeof(tail), sum);
	return sum >= 0 && *field == csum_sum16(sum);
}

/*
 * A CHECKSUM_PARTIAL skb leaves its TCP or UDP checksum to the egress,
 * and the error built from it keeps that state: the
 * NIC, or skb_checksum_help(), will finish the quoted checksum, from the
 * quoted L4 header (l4_off into the quote) to the end. The ICMP checksum
 * is made to cover the value it will write. (Where the error stays on the
 * host, a veth, the receiver trusts CHECKSUM_PARTIAL and checks neither.)
 * Returns 0, or -1.
 */
static __always_inline int too_big_csum_partial(void *data, void *end,
						bool v6, __u32 l4_off,
						__u8 proto)
{
	__u8 *icmp = data + sizeof(struct ethhdr) +
		     (v6 ? TOO_BIG_HDR6 : TOO_BIG_HDR4) - 8;
	__u8 *q = icmp + 8;
	__u16 *check, *field;
	__u64 head = 0;
	__u32 l4, now, fin;
	__s64 all;

	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) ||
	    (void *)(icmp + 8) > end || l4_off > 256)
		return -1;
	/* the quote's bytes before the L4 header: 4-byte words, bounded */
	for (int i = 0; i < 64; i++) {
		__u16 *w = (void *)(q + i * 4);

		if (i * 4 >= l4_off)
			break;
		if ((void *)(w + 2) > end)
			return -1;
		head += w[0] + w[1];
	}
	field = (void *)(q + (l4_off & 0x1ff) +
			 (proto == IPPROTO_TCP ? 16 : 6));
	if ((void *)(field + 1) > end)
		return -1;
	all = csum_quote(q, v6, end, 0);
	if (all < 0)
		return -1;
	/* what the egress writes: the L4 bytes' sum, folded, inverted */
	l4 = csum_sum16(csum_sum16(all) + (~csum_sum16(head) & 0xffff));
	fin = ~l4 & 0xffff ?: 0xffff;
	/* the ICMP sum with that value in place of the one there now */
	check = (__u16 *)(icmp + 2);
	now = *field;
	*check = csum_fold((~*check & 0xffff) + (~now & 0xffff) + fin);
	return 0;
}

#endif /* FLOWPIN_TOO_BIG_H */
