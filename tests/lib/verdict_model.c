// SPDX-License-Identifier: GPL-2.0
/*
 * The verdict model: README.md's rules ("What goes to the kernel") and the
 * packet tests' routes, written out once more, by hand, over raw bytes.
 */
#include <string.h>
#include <netinet/in.h>

#include "verdict_model.h"

#define MAX_EXT 6 /* extension headers walked before the protocol */

static unsigned be16(const __u8 *p)
{
	return p[0] << 8 | p[1];
}

static bool ipv4_sum_ok(const __u8 *h, size_t n)
{
	__u32 sum = 0;

	for (size_t i = 0; i < n; i += 2)
		sum += be16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* 0/8, 127/8, 169.254/16 */
static bool v4_martian(const __u8 *a)
{
	return a[0] == 0 || a[0] == 127 || (a[0] == 169 && a[1] == 254);
}

/* fe80::/10, ::, ::1 */
static bool v6_martian(const __u8 *a)
{
	static const __u8 zero[15];

	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return true;
	return !memcmp(a, zero, 15) && (a[15] == 0 || a[15] == 1);
}

static bool is_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
	       nh == IPPROTO_DSTOPTS || nh == IPPROTO_FRAGMENT;
}

/*
 * Walk IPv6 extension headers from *pos: the protocol they lead to, and
 * whether a Fragment header ended the walk. False when they are cut short
 * or longer than MAX_EXT.
 */
static bool v6_walk(const __u8 **pos, const __u8 *end, __u8 nh, __u8 *proto,
		    bool *frag)
{
	for (int i = 0; i < MAX_EXT && is_ext(nh); i++) {
		const __u8 *h = *pos;

		if (end - h < 8)
			return false;
		if (nh == IPPROTO_FRAGMENT) {
			*frag = true;
			*proto = h[0];
			*pos = h + 8;
			return true;
		}
		if (end - h < 8 + h[1] * 8)
			return false;
		nh = h[0];
		*pos = h + 8 + h[1] * 8;
	}
	if (is_ext(nh))
		return false;
	*proto = nh;
	return true;
}

/* flow identity: family, proto, sport, dport, source, destination */
static void identity(__u8 *id, int family, __u8 proto, const __u8 *ports,
		     bool swap, const __u8 *src, const __u8 *dst)
{
	size_t alen = family == 4 ? 4 : 16;

	memset(id, 0, 40);
	id[0] = family;
	id[1] = proto;
	if (ports) {
		memcpy(id + 2, ports + (swap ? 2 : 0), 2);
		memcpy(id + 4, ports + (swap ? 0 : 2), 2);
	}
	memcpy(id + 6, src, alen);
	memcpy(id + 22, dst, alen);
}

/* The quoted packet of an ICMP error at q: false when it is malformed. */
static bool quoted_flow(int family, const __u8 *q, const __u8 *end,
			struct model_verdict *v)
{
	const __u8 *src, *dst, *l4;
	bool frag = false;
	__u8 proto;

	if (family == 4) {
		if (end - q < 20 || q[0] >> 4 != 4 || (q[0] & 15) < 5 ||
		    end - q < (q[0] & 15) * 4)
			return false;
		proto = q[9];
		src = q + 12;
		dst = q + 16;
		frag = be16(q + 6) & 0x3fff;
		l4 = q + (q[0] & 15) * 4;
	} else {
		if (end - q < 40 || q[0] >> 4 != 6)
			return false;
		src = q + 8;
		dst = q + 24;
		l4 = q + 40;
		if (!v6_walk(&l4, end, q[6], &proto, &frag))
			return false;
	}
	if (!frag && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
		if (end - l4 < 4)
			return false;
		/* the reply's flow, reversed: the quoted dst is the flow's src */
		identity(v->inner, family, proto, l4, true, dst, src);
	} else {
		identity(v->inner, family, proto, NULL, false, dst, src);
	}
	return true;
}

/* Where the router's routes send a destination: egress bits, 0 for the kernel. */
static int route_mask(int family, const __u8 *dst)
{
	static const __u8 svc6[8] = { 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00 };
	static const __u8 mtu6[8] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x18, 0x00, 0x01 };
	static const __u8 zero[13];

	if (family == 4) {
		if (dst[0] == 198 && dst[1] == 51 && dst[2] == 100)
			return 0x1e; /* the service: out1..4 */
		if (dst[0] == 198 && dst[1] == 18 && dst[2] == 1)
			return 1 << 5; /* via 10.0.5.2 */
		/* a gateway itself, 10.0.N.2, connected on outN */
		if (dst[0] == 10 && dst[1] == 0 && dst[2] >= 1 && dst[2] <= 5 &&
		    dst[3] == 2)
			return 1 << dst[2];
		return 0;
	}
	if (!memcmp(dst, svc6, 8))
		return 0x1e;
	if (!memcmp(dst, mtu6, 8))
		return 1 << 5;
	/* fd00:N::2 */
	if (dst[0] == 0xfd && dst[1] == 0 && dst[2] == 0 && dst[3] >= 1 &&
	    dst[3] <= 5 && !memcmp(dst + 4, zero, 11) && dst[15] == 2)
		return 1 << dst[3];
	return 0;
}

void model_verdict(const __u8 *in, size_t len, const __u8 *port_mac,
		   struct model_verdict *v)
{
	const __u8 *end = in + len, *l3 = in + 14, *l4, *src, *dst;
	size_t l3len = len - 14;
	bool frag = false;
	unsigned type;
	int family;
	__u8 proto;

	memset(v, 0, sizeof(*v));
	if (len < 14 || memcmp(in, port_mac, 6))
		return;
	type = be16(in + 12);
	if (type == 0x0800) {
		unsigned hlen;

		family = 4;
		if (l3len < 20 || l3[0] >> 4 != 4 || (l3[0] & 15) < 5)
			return;
		hlen = (l3[0] & 15) * 4;
		if (hlen > l3len || be16(l3 + 2) < hlen || be16(l3 + 2) > l3len ||
		    !ipv4_sum_ok(l3, hlen))
			return;
		src = l3 + 12;
		dst = l3 + 16;
		if ((dst[0] & 0xf0) == 0xe0 || !memcmp(dst, "\xff\xff\xff\xff", 4))
			return; /* multicast, broadcast */
		if (v4_martian(src) || v4_martian(dst) || (src[0] & 0xf0) == 0xe0 ||
		    !memcmp(src, "\xff\xff\xff\xff", 4))
			return;
		if (hlen > 20 || l3[8] <= 1)
			return; /* options; TTL */
		proto = l3[9];
		frag = be16(l3 + 6) & 0x3fff;
		l4 = l3 + 20;
		v->ttl_off = 14 + 8;
		v->ipv4 = true;
	} else if (type == 0x86dd) {
		family = 6;
		if (l3len < 40 || l3[0] >> 4 != 6 || 40 + be16(l3 + 4) > l3len)
			return;
		src = l3 + 8;
		dst = l3 + 24;
		if (dst[0] == 0xff || v6_martian(src) || v6_martian(dst) ||
		    src[0] == 0xff)
			return;
		if (l3[6] == IPPROTO_HOPOPTS || l3[7] <= 1)
			return;
		l4 = l3 + 40;
		if (!v6_walk(&l4, end, l3[6], &proto, &frag))
			return;
		v->ttl_off = 14 + 7;
	} else {
		return;
	}

	identity(v->flow, family, proto, NULL, false, src, dst);
	if (!frag) {
		switch (proto) {
		case IPPROTO_TCP:
			if (end - l4 < 20 || l4[12] >> 4 < 5)
				return;
			identity(v->flow, family, proto, l4, false, src, dst);
			break;
		case IPPROTO_UDP:
			if (end - l4 < 8)
				return;
			identity(v->flow, family, proto, l4, false, src, dst);
			break;
		case IPPROTO_ICMP:
		case IPPROTO_ICMPV6:
			if (end - l4 < 8)
				return;
			if ((proto == IPPROTO_ICMP) != (family == 4))
				break;
			if (family == 4 ? l4[0] == 3 || l4[0] == 11 :
					  l4[0] >= 1 && l4[0] <= 3) {
				if (!quoted_flow(family, l4 + 8, end, v))
					return;
				/* only an error to the quoted packet's source */
				if (memcmp(v->inner + 22, dst, family == 4 ? 4 : 16))
					return;
				v->icmp_error = true; /* forwarded if pinned */
				return;
			}
			break;
		}
	}
	v->egress_mask = route_mask(family, dst);
	v->forward = v->egress_mask != 0;
}
