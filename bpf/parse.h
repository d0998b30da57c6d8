/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Packet parsing with a cursor. Every helper bound-checks what it reads,
 * advances the cursor and returns 0, or a pass reason (enum fp_stat) when
 * the packet is not one flowpin forwards.
 */
#ifndef FLOWPIN_PARSE_H
#define FLOWPIN_PARSE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "flowpin.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/*
 * From <linux/icmp.h>, which pulls glibc's <sys/socket.h> through
 * <linux/if.h>: under -target bpf glibc takes its 32-bit branch and needs
 * gnu/stubs-32.h, which a fresh Debian lacks. BPF objects include no glibc.
 */
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11

#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

struct cursor {
	void *pos;
	void *end;
};

/* What the program needs to know of a packet once parsed. */
struct packet {
	struct flow_key key;	   /* the flow, as pinned */
	struct flow_key inner_key; /* ICMP errors: the reversed embedded flow */
	struct ethhdr *eth;
	struct iphdr *ip4;	   /* one of ip4 / ip6 is set */
	struct ipv6hdr *ip6;
	__u32 l3_len;		   /* real length from the L3 header on */
	__u32 hdr_len;		   /* TCP, UDP: L3 header to payload (a GSO segment's headers) */
	__u32 l4_off;		   /* TCP, UDP: L3 header to the TCP or UDP header */
	__u8 tcp_flags;
	bool icmp_error;
	__u32 l3_ifindex;	   /* the L3 ingress: the port, or the VLAN sub-interface of its tag */
	/*
	 * XDP: the frame's 802.1Q or 802.1ad tag, between Ethernet and IP
	 * (eth->h_proto is its protocol). Scalars, not a pointer: the
	 * verifier then walks the rest of the program once for tagged and
	 * untagged frames alike.
	 */
	__u8 tag_in_frame;	   /* 1: tagged (a number: see tag_len()) */
	__u16 tag_tci;		   /* host order */
};

/* The IP header parse_ipv4() or parse_ipv6() found. */
static __always_inline void *l3_start(const struct packet *pkt)
{
	return pkt->ip4 ? (void *)pkt->ip4 : (void *)pkt->ip6;
}

/* A VLAN tag after the MACs, whose protocol is the Ethernet type before it. */
struct vlan_tag {
	__be16 tci;
	__be16 proto; /* what follows it */
};

static __always_inline void *cursor_pull(struct cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	c->pos = p + len;
	return p;
}

static __always_inline bool mac_is_multicast(const __u8 *mac)
{
	return mac[0] & 1; /* the group bit; broadcast has it too */
}

/*
 * Full IPv4 header checksum check, options included. The kernel drops
 * headers that fail it (ip_rcv_core()); so does the XDP_PASS we return.
 */
static __always_inline bool ipv4_csum_ok(struct iphdr *iph, void *end)
{
	__u16 *w = (__u16 *)iph;
	__u32 *opt = (__u32 *)(iph + 1);
	__u32 sum = 0;

	for (int i = 0; i < 10; i++) /* the fixed 20 bytes, already checked */
		sum += w[i];
	for (int i = 0; i < 10; i++) { /* up to 40 bytes of options */
		if (i >= iph->ihl - 5)
			break;
		if ((void *)(opt + 1) > end)
			return false;
		sum += *opt & 0xffff;
		sum += *opt >> 16;
		opt++;
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static __always_inline bool icmp_is_error(__u8 proto, __u8 type)
{
	if (proto == IPPROTO_ICMP)
		return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED;
	return type == ICMPV6_DEST_UNREACH || type == ICMPV6_PKT_TOOBIG ||
	       type == ICMPV6_TIME_EXCEED;
}

static __always_inline bool ipv6_is_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT;
}

/*
 * Step over IPv6 extension headers (at most FP_MAX_IPV6_EXT) and set *proto
 * to the protocol they lead to. The walk stops at a Fragment header: what
 * follows it is a header only in a datagram's first fragment, and payload
 * in the others. Every fragment of a datagram must get one key, so its
 * protocol is the Fragment header's next header, without ports, in all of
 * them. Returns 0, or a pass reason.
 */
static __always_inline int ipv6_skip_ext(struct cursor *c, __u8 nexthdr,
					 __u8 *proto, bool *fragment)
{
	for (int i = 0; i < FP_MAX_IPV6_EXT; i++) {
		__u8 *hdr;

		if (!ipv6_is_ext(nexthdr))
			break;
		hdr = cursor_pull(c, 8);
		if (!hdr)
			return FP_PASS_MALFORMED;
		if (nexthdr == IPPROTO_FRAGMENT) {
			*fragment = true;
			*proto = hdr[0];
			return 0;
		}
		if (hdr[1] && !cursor_pull(c, hdr[1] * 8)) /* (len + 1) * 8 */
			return FP_PASS_MALFORMED;
		nexthdr = hdr[0];
	}
	if (ipv6_is_ext(nexthdr))
		return FP_PASS_MALFORMED; /* longer chain than we walk */
	*proto = nexthdr;
	return 0;
}

/*
 * An ICMP error quotes the header of the packet that caused it: a packet
 * that travelled from the flow's destination back towards its source.
 * Reversing that quoted tuple gives the key of the flow the error belongs
 * to. Returns 0 with pkt->inner_key set, or a pass reason.
 */
static __always_inline int parse_icmp_error(struct cursor *c,
					    struct packet *pkt)
{
	struct flow_key *in = &pkt->inner_key;
	__be16 *ports;

	in->family = pkt->key.family;
	if (in->family == FP_AF_INET) {
		struct iphdr *iph = cursor_pull(c, sizeof(*iph));

		if (!iph || iph->version != 4 || iph->ihl < 5)
			return FP_PASS_MALFORMED;
		if (iph->ihl > 5 && !cursor_pull(c, (iph->ihl - 5) * 4))
			return FP_PASS_MALFORMED;
		in->proto = iph->protocol;
		in->saddr[0] = iph->daddr;
		in->daddr[0] = iph->saddr;
		if (iph->frag_off & bpf_htons(IP_OFFSET))
			return 0; /* a later fragment: its flow used port 0 */
		if (iph->frag_off & bpf_htons(IP_MF))
			return 0;
	} else {
		struct ipv6hdr *ip6h = cursor_pull(c, sizeof(*ip6h));
		bool fragment = false;
		int reason;

		if (!ip6h || ip6h->version != 6)
			return FP_PASS_MALFORMED;
		__builtin_memcpy(in->saddr, &ip6h->daddr, 16);
		__builtin_memcpy(in->daddr, &ip6h->saddr, 16);
		/* the quoted packet's own extension headers, as for a packet */
		reason = ipv6_skip_ext(c, ip6h->nexthdr, &in->proto, &fragment);
		if (reason)
			return reason;
		if (fragment)
			return 0; /* its flow used port 0 */
	}
	if (in->proto != IPPROTO_TCP && in->proto != IPPROTO_UDP)
		return 0;
	/* RFC 792 quotes at least 8 bytes of L4 header: the ports are in */
	ports = cursor_pull(c, 4);
	if (!ports)
		return FP_PASS_MALFORMED;
	in->sport = ports[1];
	in->dport = ports[0];
	return 0;
}

/* Ports and TCP flags, for the first (or only) fragment of a datagram. */
static __always_inline int parse_l4(struct cursor *c, struct packet *pkt)
{
	struct flow_key *key = &pkt->key;

	switch (key->proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = cursor_pull(c, sizeof(*th));

		if (!th || th->doff < 5)
			return FP_PASS_MALFORMED;
		key->sport = th->source;
		key->dport = th->dest;
		pkt->tcp_flags = ((__u8 *)th)[13];
		pkt->l4_off = (void *)th - l3_start(pkt);
		pkt->hdr_len = pkt->l4_off + th->doff * 4;
		return 0;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = cursor_pull(c, sizeof(*uh));

		if (!uh)
			return FP_PASS_MALFORMED;
		key->sport = uh->source;
		key->dport = uh->dest;
		pkt->l4_off = (void *)uh - l3_start(pkt);
		pkt->hdr_len = pkt->l4_off + sizeof(*uh);
		return 0;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		/* ICMP carries no ports; an error belongs to the flow it quotes */
		__u8 *icmp = cursor_pull(c, 8);

		if (!icmp)
			return FP_PASS_MALFORMED;
		if ((key->proto == IPPROTO_ICMP) != (key->family == FP_AF_INET))
			return 0;
		if (!icmp_is_error(key->proto, icmp[0]))
			return 0;
		pkt->icmp_error = true;
		return parse_icmp_error(c, pkt);
	}
	}
	return 0;
}

/* 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16: never forwarded (the kernel's martians). */
static __always_inline bool ipv4_martian(__be32 a)
{
	__u32 h = bpf_ntohl(a);

	return (h >> 24) == 0 || (h >> 24) == 127 || (h >> 16) == 0xa9fe;
}

/* ::, ::1, fe80::/10: not to be forwarded. */
static __always_inline bool ipv6_martian(const struct in6_addr *a)
{
	const __u32 *w = a->in6_u.u6_addr32;

	if ((w[0] & bpf_htonl(0xffc00000)) == bpf_htonl(0xfe800000))
		return true;
	return !w[0] && !w[1] && !w[2] && (!w[3] || w[3] == bpf_htonl(1));
}

static __always_inline int parse_ipv4(struct cursor *c, struct packet *pkt)
{
	struct iphdr *iph = cursor_pull(c, sizeof(*iph));
	__u32 hlen, tot_len;

	if (!iph)
		return FP_PASS_MALFORMED;
	hlen = iph->ihl * 4;
	if (iph->version != 4 || hlen < sizeof(*iph))
		return FP_PASS_MALFORMED;
	/*
	 * Options stay under the cursor: a packet with options goes to the
	 * kernel below, so only an option-less header is followed by ports.
	 * Older verifiers (6.1, 6.12) lose the bounds of a cursor moved by
	 * hlen, and then refuse every later read through it.
	 */
	if ((void *)iph + hlen > c->end)
		return FP_PASS_MALFORMED;
	tot_len = bpf_ntohs(iph->tot_len);
	if (tot_len < hlen || tot_len > pkt->l3_len)
		return FP_PASS_MALFORMED;
	if (!ipv4_csum_ok(iph, c->end))
		return FP_PASS_MALFORMED;
	if ((iph->daddr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000) ||
	    iph->daddr == 0xffffffff)
		return FP_PASS_MULTICAST;
	if (ipv4_martian(iph->saddr) || ipv4_martian(iph->daddr) ||
	    (iph->saddr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000) ||
	    iph->saddr == 0xffffffff)
		return FP_PASS_MARTIAN;
	/* options (source route, router alert, record route) are the kernel's */
	if (hlen > sizeof(*iph))
		return FP_PASS_IP_OPTIONS;
	if (iph->ttl <= 1)
		return FP_PASS_TTL;

	pkt->ip4 = iph;
	pkt->key.family = FP_AF_INET;
	pkt->key.proto = iph->protocol;
	pkt->key.saddr[0] = iph->saddr;
	pkt->key.daddr[0] = iph->daddr;
	/* Every fragment of a datagram keeps port 0, so all take one path. */
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return 0;
	return parse_l4(c, pkt);
}

static __always_inline int parse_ipv6(struct cursor *c, struct packet *pkt)
{
	struct ipv6hdr *ip6h = cursor_pull(c, sizeof(*ip6h));
	bool fragment = false;
	__u8 nexthdr = 0;
	int reason;

	if (!ip6h || ip6h->version != 6)
		return FP_PASS_MALFORMED;
	if (sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len) > pkt->l3_len)
		return FP_PASS_MALFORMED;
	if (ip6h->daddr.in6_u.u6_addr8[0] == 0xff)
		return FP_PASS_MULTICAST;
	if (ipv6_martian(&ip6h->saddr) || ipv6_martian(&ip6h->daddr) ||
	    ip6h->saddr.in6_u.u6_addr8[0] == 0xff)
		return FP_PASS_MARTIAN;
	/* hop-by-hop options (router alert: MLD, RSVP) are the kernel's */
	if (ip6h->nexthdr == IPPROTO_HOPOPTS)
		return FP_PASS_IP_OPTIONS;
	if (ip6h->hop_limit <= 1)
		return FP_PASS_TTL;

	reason = ipv6_skip_ext(c, ip6h->nexthdr, &nexthdr, &fragment);
	if (reason)
		return reason;

	pkt->ip6 = ip6h;
	pkt->key.family = FP_AF_INET6;
	pkt->key.proto = nexthdr;
	__builtin_memcpy(pkt->key.saddr, &ip6h->saddr, 16);
	__builtin_memcpy(pkt->key.daddr, &ip6h->daddr, 16);
	if (fragment)
		return 0;
	return parse_l4(c, pkt);
}

/*
 * 4 when proto is 802.1Q or 802.1ad (a tag follows the MACs), else 0,
 * computed without a branch (the barriers keep the compiler from making
 * one): parse_packet() then hands the rest of the program one path, with
 * the IP header at a variable offset, and the verifier walks it once
 * rather than once per offset. A word w - 1 has its top bit set only when
 * w is 0.
 */
static __always_inline __u32 tag_len(__be16 proto)
{
	__u64 q = (__u16)(proto ^ bpf_htons(ETH_P_8021Q));
	__u64 ad = (__u16)(proto ^ bpf_htons(ETH_P_8021AD));
	__u64 tagged;

	asm volatile("" : "+r"(q), "+r"(ad));
	tagged = ((q - 1) | (ad - 1)) >> 63;
	asm volatile("" : "+r"(tagged));
	return tagged << 2;
}

/*
 * Ethernet, then IPv4 or IPv6, then ports; ICMP errors' quoted flow too.
 * Takes the frame's bounds rather than the XDP context, so the same code
 * runs in userspace under a fuzzer. [data, data_end) holds the headers;
 * frame_len is the whole frame's length, which is more in a paged skb.
 * tag_ok: one 802.1Q or 802.1ad tag may follow the MACs (XDP sees it in the
 * frame; at tc the kernel has taken the outer tag out, and one in the frame
 * is a second: QinQ). Two tags, one where none may be, or one in front of
 * anything but IP: FP_PASS_VLAN.
 */
static __always_inline int parse_packet(void *data, void *data_end,
					__u32 frame_len, bool tag_ok,
					struct packet *pkt)
{
	struct cursor c = { .pos = data, .end = data_end };
	struct ethhdr *eth = cursor_pull(&c, sizeof(*eth));
	__u32 l2_len = sizeof(*eth), tl = 0;
	__be16 proto;

	if (!eth)
		return FP_PASS_MALFORMED;
	pkt->eth = eth;
	proto = eth->h_proto;
	if (tag_ok) {
		/* the 4 bytes after the MACs: the tag, or the IP header's first */
		struct vlan_tag *tag = cursor_pull(&c, sizeof(*tag));
		__u64 mask;

		if (!tag)
			return FP_PASS_MALFORMED; /* no room for IP either */
		__u32 tagged;

		tl = tag_len(proto);
		tagged = tl >> 2;
		mask = -(__u64)tagged; /* all ones when tagged */
		asm volatile("" : "+r"(mask), "+r"(tagged));
		proto = (proto & ~mask) | (tag->proto & mask);
		pkt->tag_in_frame = tagged;
		pkt->tag_tci = bpf_ntohs(tag->tci) & mask;
		l2_len += tl;
		c.pos = data + l2_len;
		/* no pointer arithmetic in 32 bits made of the length below */
		asm volatile("" : "+r"(frame_len));
	} else if (proto == bpf_htons(ETH_P_8021Q) ||
		   proto == bpf_htons(ETH_P_8021AD)) {
		return FP_PASS_VLAN;
	}
	/* after a tag: a second one (QinQ), or no IP: the VLAN's, not ours */
	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return tl ? FP_PASS_VLAN : FP_PASS_NON_IP;
	if (mac_is_multicast(eth->h_dest))
		return FP_PASS_MULTICAST;

	pkt->l3_len = frame_len - l2_len;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(&c, pkt);
	return parse_ipv6(&c, pkt);
}

#endif /* FLOWPIN_PARSE_H */
