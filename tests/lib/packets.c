// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "packets.h"

__u8 router_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
const __u8 client_mac[6] = { 0x02, 0, 0, 0, 0, 0xaa };

__u16 csum16(const void *data, size_t len, __u32 sum)
{
	const __u8 *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum; /* folded, not inverted; network order value */
}

bool ipv4_csum_valid(const __u8 *iph)
{
	return csum16(iph, (iph[0] & 0xf) * 4, 0) == 0xffff;
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void addr(int family, const char *s, void *out)
{
	inet_pton(family == 4 ? AF_INET : AF_INET6, s, out);
}

static size_t l4_len(const struct pkt_spec *s)
{
	switch (s->proto) {
	case IPPROTO_TCP:
		return 20;
	case IPPROTO_UDP:
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return 8;
	}
	return 0;
}

/* L3 and L4 headers and payload, no Ethernet. */
static size_t build_l3(const struct pkt_spec *s, __u8 *p)
{
	size_t l3hdr, l4 = l4_len(s), body, quote_len = 0;
	__u8 quote[PKT_MAX], *l4p, proto = s->proto;

	if (s->quote) {
		struct pkt_spec q = *s->quote;

		/*
		 * RFC 792: the quoted IP header and 8 bytes of what follows;
		 * RFC 4443: as much of the packet as fits in 1280 bytes, so
		 * its extension headers and ports too.
		 */
		quote_len = build_l3(&q, quote);
		size_t qmax = q.family == 4 ? (quote[0] & 0xf) * 4 + 8 : 1280 - 48;
		if (quote_len > qmax)
			quote_len = qmax;
	}
	body = l4 + quote_len + s->payload;

	if (s->family == 4) {
		l3hdr = 20 + s->ip_opts;
		memset(p, 0, l3hdr);
		p[0] = 0x40 | (s->ihl ? s->ihl & 0xf : l3hdr / 4);
		p[1] = s->tos;
		put16(p + 2, l3hdr + body + s->len_delta);
		put16(p + 6, s->frag);
		p[8] = s->ttl ? s->ttl & 0xff : 64;
		p[9] = proto;
		addr(4, s->src, p + 12);
		addr(4, s->dst, p + 16);
		for (int i = 0; i < s->ip_opts; i++)
			p[20 + i] = 1; /* NOP */
		if (s->force_check) {
			/* id = ~check - sum, in ones' complement */
			__u32 sum = csum16(p, l3hdr, 0);
			__u32 id = (__u16)~s->check + (__u16)~sum;

			id = (id & 0xffff) + (id >> 16);
			put16(p + 4, id);
		}
		put16(p + 10, ~csum16(p, l3hdr, 0));
		if (s->bad_csum)
			p[10] ^= 0x5a;
	} else {
		__u8 *nh = p + 6;
		int n_ext = s->n_ext + (s->frag ? 1 : 0);

		l3hdr = 40 + 8 * n_ext;
		memset(p, 0, l3hdr);
		p[0] = 0x60 | s->tos >> 4;
		p[1] = s->tos << 4;
		put16(p + 4, l3hdr - 40 + body + s->len_delta);
		p[7] = s->ttl ? s->ttl & 0xff : 64;
		addr(6, s->src, p + 8);
		addr(6, s->dst, p + 24);
		for (int i = 0; i < n_ext; i++) {
			__u8 *e = p + 40 + 8 * i;
			bool frag = s->frag && i == (s->frag_first ? 0 : s->n_ext);
			int x = s->frag && s->frag_first ? i - 1 : i; /* index in .ext */

			*nh = frag ? IPPROTO_FRAGMENT : s->ext[x];
			if (frag) {
				put16(e + 2, (s->frag & 0x1fff) << 3 |
						     (s->frag & 0x2000 ? 1 : 0));
				e[7] = 0x42; /* identification */
			} else if (s->ext[x] != IPPROTO_ROUTING) {
				e[2] = 1; /* PadN, 4 bytes */
				e[3] = 4;
			}
			nh = e;
		}
		*nh = proto;
	}

	l4p = p + l3hdr;
	memset(l4p, 0, body);
	if (proto == IPPROTO_TCP) {
		put16(l4p, s->sport);
		put16(l4p + 2, s->dport);
		l4p[12] = 5 << 4;
		l4p[13] = s->tcp_flags ? s->tcp_flags : 0x10;
	} else if (proto == IPPROTO_UDP) {
		put16(l4p, s->sport);
		put16(l4p + 2, s->dport);
		put16(l4p + 4, 8 + s->payload);
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		l4p[0] = s->icmp_type;
		l4p[1] = s->icmp_code;
		if (s->icmp_type == 3 && s->icmp_code == 4)
			put16(l4p + 6, 1280); /* next-hop MTU */
		if (s->icmp_type == 2 && proto == IPPROTO_ICMPV6)
			put16(l4p + 6, 1280);
		memcpy(l4p + 8, quote, quote_len);
	}
	for (size_t i = l4 + quote_len; i < body; i++)
		l4p[i] = i;
	return l3hdr + body;
}

size_t pkt_l3_off(const struct pkt_spec *s)
{
	return 14 + (s->svlan ? 4 : 0) + (s->vlan ? 4 : 0);
}

size_t pkt_build(const struct pkt_spec *s, __u8 *buf)
{
	size_t off = 0, len;
	__u16 type = s->ethertype ? s->ethertype :
				    (s->family == 4 ? 0x0800 : 0x86dd);

	memcpy(buf, s->dmac ? s->dmac : router_mac, 6);
	memcpy(buf + 6, client_mac, 6);
	off = 12;
	if (s->svlan) {
		put16(buf + off, 0x88a8);
		put16(buf + off + 2, s->svlan);
		off += 4;
	}
	if (s->vlan) {
		put16(buf + off, 0x8100);
		put16(buf + off + 2, s->vlan);
		off += 4;
	}
	put16(buf + off, type);
	off += 2;
	len = off + build_l3(s, buf + off);
	if (s->cut && (size_t)s->cut < len)
		len = s->cut;
	return len;
}

static bool has_ports(const struct pkt_spec *s)
{
	/* IPv4: MF or an offset make a fragment, DF does not; IPv6: any
	 * fragment header */
	bool fragment = s->family == 4 ? s->frag & 0x3fff : s->frag;

	return (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP) && !fragment;
}

void pkt_flow_key(const struct pkt_spec *s, struct flow_key *key)
{
	memset(key, 0, sizeof(*key));
	key->family = s->family == 4 ? FP_AF_INET : FP_AF_INET6;
	key->proto = s->proto;
	/* an IPv6 fragment's protocol is its Fragment header's next header */
	if (s->family == 6 && s->frag && s->frag_first && s->n_ext)
		key->proto = s->ext[0];
	addr(s->family, s->src, key->saddr);
	addr(s->family, s->dst, key->daddr);
	if (has_ports(s)) {
		key->sport = htons(s->sport);
		key->dport = htons(s->dport);
	}
}

void pkt_quote_key(const struct pkt_spec *s, struct flow_key *key)
{
	const struct pkt_spec *q = s->quote;

	memset(key, 0, sizeof(*key));
	key->family = q->family == 4 ? FP_AF_INET : FP_AF_INET6;
	key->proto = q->proto;
	addr(q->family, q->dst, key->saddr);
	addr(q->family, q->src, key->daddr);
	if (has_ports(q)) {
		key->sport = htons(q->dport);
		key->dport = htons(q->sport);
	}
}

size_t pkt_too_big_error(int family, const __u8 *in, size_t l2, __u16 mtu,
			 __u8 *want)
{
	const __u8 *l3 = in + l2;
	__u8 *ip = want + l2;

	memcpy(want, in + 6, 6);
	memcpy(want + 6, in, 6);
	memcpy(want + 12, in + 12, l2 - 12);
	if (family == 4) {
		__u8 *icmp = ip + 20;

		memset(ip, 0, 28);
		ip[0] = 0x45;
		ip[1] = (l3[1] & 0x1e) | 0xc0;
		put16(ip + 2, 576);
		ip[8] = 64;
		ip[9] = IPPROTO_ICMP;
		memcpy(ip + 12, l3 + 16, 4); /* from the destination */
		memcpy(ip + 16, l3 + 12, 4); /* to the source */
		put16(ip + 10, ~csum16(ip, 20, 0));
		icmp[0] = 3;
		icmp[1] = 4;
		put16(icmp + 6, mtu);
		memcpy(icmp + 8, l3, 548);
		put16(icmp + 2, ~csum16(icmp, 8 + 548, 0));
		return l2 + 20 + 8 + 548;
	}
	__u8 *icmp = ip + 40;
	__u32 sum;

	memset(ip, 0, 48);
	ip[0] = 0x60;
	put16(ip + 4, 8 + 1232);
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = 64;
	memcpy(ip + 8, l3 + 24, 16);
	memcpy(ip + 24, l3 + 8, 16);
	icmp[0] = 2;
	put16(icmp + 6, mtu); /* a 32-bit MTU; it fits 16 */
	memcpy(icmp + 8, l3, 1232);
	sum = csum16(ip + 8, 32, 0) + 8 + 1232 + IPPROTO_ICMPV6;
	put16(icmp + 2, ~csum16(icmp, 8 + 1232, sum));
	return l2 + 40 + 8 + 1232;
}
