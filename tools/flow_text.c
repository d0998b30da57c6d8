// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <net/if.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>

#include "flow_text.h"

static const struct {
	const char *name;
	__u8 proto;
} protos[] = {
	{ "icmp", IPPROTO_ICMP },    { "igmp", IPPROTO_IGMP },
	{ "tcp", IPPROTO_TCP },	     { "udp", IPPROTO_UDP },
	{ "dccp", IPPROTO_DCCP },    { "gre", IPPROTO_GRE },
	{ "esp", IPPROTO_ESP },	     { "ah", IPPROTO_AH },
	{ "icmpv6", IPPROTO_ICMPV6 }, { "ipv6-icmp", IPPROTO_ICMPV6 },
	{ "sctp", IPPROTO_SCTP },    { "udplite", IPPROTO_UDPLITE },
};

int addr_parse(const char *s, struct fp_addr *addr)
{
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, s, addr->a) == 1) {
		addr->family = FP_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr->a) == 1) {
		addr->family = FP_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int nexthop_parse(const char *s, struct fp_addr *addr, const char **why)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char *dev;

	*why = "not an IPv4 or IPv6 address";
	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	dev = strchr(buf, '%');
	if (dev)
		*dev++ = '\0';
	if (addr_parse(buf, addr))
		return -EINVAL;
	if (addr->family == FP_AF_INET6 && !addr->a[0] && !addr->a[1] &&
	    addr->a[2] == htonl(0xffff)) {
		addr->family = FP_AF_INET; /* ::ffff:a.b.c.d */
		addr->a[0] = addr->a[3];
		addr->a[1] = addr->a[2] = addr->a[3] = 0;
	}
	if (dev) {
		char *end;
		unsigned long idx = strtoul(dev, &end, 10);

		addr->ifindex = *dev && !*end ? idx : if_nametoindex(dev);
		if (!addr->ifindex) {
			*why = "no such device";
			return -EINVAL;
		}
	} else if (addr->family == FP_AF_INET6 &&
		   (ntohl(addr->a[0]) & 0xffc00000) == 0xfe800000) {
		*why = "a link-local address: say which device, ADDR%DEV";
		return -EINVAL;
	}
	return 0;
}

static void mask_host_bits(__be32 *a, unsigned int len, unsigned int bits)
{
	for (unsigned int w = 0; w < bits / 32; w++) {
		unsigned int keep = len > w * 32 ? len - w * 32 : 0;
		__u32 mask = keep >= 32 ? 0xffffffff :
			     keep ? ~(0xffffffffu >> keep) : 0;

		a[w] &= htonl(mask);
	}
}

int prefix_parse(const char *s, struct fp_prefix *p)
{
	char buf[ADDR_TEXT_MAX + 8];
	const char *slash = strchr(s, '/');
	unsigned long long len;
	unsigned int bits;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	memset(p, 0, sizeof(*p));
	if (n >= ADDR_TEXT_MAX)
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (addr_parse(buf, &p->addr))
		return -EINVAL;
	bits = p->addr.family == FP_AF_INET ? 32 : 128;
	if (!slash) {
		p->len = bits;
		return 0;
	}
	if (uint_parse(slash + 1, bits, &len))
		return -EINVAL;
	p->len = len;
	mask_host_bits(p->addr.a, p->len, bits);
	return 0;
}

bool prefix_match(const struct fp_prefix *p, __u8 family, const __be32 *addr)
{
	__be32 a[4];

	if (p->addr.family != family)
		return false;
	memcpy(a, addr, sizeof(a));
	mask_host_bits(a, p->len, family == FP_AF_INET ? 32 : 128);
	return !memcmp(a, p->addr.a, family == FP_AF_INET ? 4 : 16);
}

bool addr_equal(const struct fp_addr *addr, __u8 family, const __be32 *a)
{
	return addr->family == family &&
	       !memcmp(addr->a, a, family == FP_AF_INET ? 4 : 16);
}

int proto_parse(const char *s, __u8 *proto)
{
	unsigned long long n;

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (!strcasecmp(s, protos[i].name)) {
			*proto = protos[i].proto;
			return 0;
		}
	}
	if (uint_parse(s, 255, &n))
		return -EINVAL;
	*proto = n;
	return 0;
}

const char *proto_name(__u8 proto, char *buf)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	snprintf(buf, PROTO_TEXT_MAX, "%u", proto);
	return buf;
}

bool proto_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* ADDR, ADDR:PORT (IPv4), [ADDR] or [ADDR]:PORT (IPv6), bare IPv6 ADDR. */
static int endpoint_parse(const char *s, struct fp_addr *addr, __u16 *port,
			  bool *has_port)
{
	char buf[ADDR_TEXT_MAX + 1];
	const char *end, *colon = NULL;
	bool bracket = s[0] == '[';
	unsigned long long n;
	size_t len;

	*has_port = false;
	*port = 0;
	if (bracket) {
		end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		if (end[1] == ':')
			colon = end + 1;
		s++;
		len = end - s;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		len = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (len > ADDR_TEXT_MAX)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (addr_parse(buf, addr))
		return -EINVAL;
	if (bracket && addr->family != FP_AF_INET6)
		return -EINVAL;
	if (!colon)
		return 0;
	if (uint_parse(colon + 1, 65535, &n))
		return -EINVAL;
	*port = n;
	*has_port = true;
	return 0;
}

int flow_parse(const char *s, struct flow_key *key, const char **why)
{
	char buf[3 * ENDPOINT_TEXT_MAX], *words[4], *save = NULL, *w;
	struct fp_addr src, dst;
	bool sp, dp;
	__u16 sport, dport;
	int n = 0;

	memset(key, 0, sizeof(*key));
	if (why)
		*why = "expected PROTO SRC DST, e.g. tcp 10.0.0.1:40000 198.51.100.10:80";
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (w = strtok_r(buf, " \t", &save); w && n < 4;
	     w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	if (n != 3)
		return -EINVAL;
	if (proto_parse(words[0], &key->proto)) {
		if (why)
			*why = "unknown protocol";
		return -EINVAL;
	}
	if (why)
		*why = "malformed address: use ADDR:PORT, [IPV6]:PORT or ADDR";
	if (endpoint_parse(words[1], &src, &sport, &sp) ||
	    endpoint_parse(words[2], &dst, &dport, &dp))
		return -EINVAL;
	if (src.family != dst.family) {
		if (why)
			*why = "source and destination are of different families";
		return -EINVAL;
	}
	if ((sp || dp) && !proto_has_ports(key->proto)) {
		if (why)
			*why = "only tcp and udp flows have ports";
		return -EINVAL;
	}
	if (sp != dp) {
		if (why)
			*why = "give both ports, or neither (port 0: fragments)";
		return -EINVAL;
	}
	if ((key->proto == IPPROTO_ICMP && src.family != FP_AF_INET) ||
	    (key->proto == IPPROTO_ICMPV6 && src.family != FP_AF_INET6)) {
		if (why)
			*why = "icmp is for IPv4 and icmpv6 for IPv6";
		return -EINVAL;
	}
	key->family = src.family;
	key->sport = htons(sport);
	key->dport = htons(dport);
	memcpy(key->saddr, src.a, sizeof(key->saddr));
	memcpy(key->daddr, dst.a, sizeof(key->daddr));
	if (why)
		*why = NULL;
	return 0;
}

int flow_parse_argv(int argc, char **argv, struct flow_key *key,
		    const char **why)
{
	char buf[3 * ENDPOINT_TEXT_MAX] = "";
	size_t len = 0;

	for (int i = 0; i < argc; i++) {
		int n = snprintf(buf + len, sizeof(buf) - len, "%s%s",
				 i ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(buf) - len) {
			if (why)
				*why = "too long";
			return -EINVAL;
		}
		len += n;
	}
	return flow_parse(buf, key, why);
}

char *addr_format(__u8 family, const __be32 *a, char *buf, size_t len)
{
	if (!inet_ntop(family == FP_AF_INET ? AF_INET : AF_INET6, a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

char *endpoint_format(const struct flow_key *key, bool src, char *buf,
		      size_t len)
{
	char addr[ADDR_TEXT_MAX];
	const __be32 *a = src ? key->saddr : key->daddr;
	__u16 port = ntohs(src ? key->sport : key->dport);
	bool v6 = key->family == FP_AF_INET6;

	addr_format(key->family, a, addr, sizeof(addr));
	if (!proto_has_ports(key->proto) || (!key->sport && !key->dport))
		snprintf(buf, len, "%s", addr);
	else
		snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", addr,
			 v6 ? "]" : "", port);
	return buf;
}

char *flow_format(const struct flow_key *key, char *buf, size_t len)
{
	char src[ENDPOINT_TEXT_MAX], dst[ENDPOINT_TEXT_MAX];
	char pbuf[PROTO_TEXT_MAX];

	snprintf(buf, len, "%s %s %s", proto_name(key->proto, pbuf),
		 endpoint_format(key, true, src, sizeof(src)),
		 endpoint_format(key, false, dst, sizeof(dst)));
	return buf;
}

char *mac_format(const __u8 *mac, char *buf)
{
	snprintf(buf, MAC_TEXT_MAX, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
		 mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

const char *family_name(__u8 family)
{
	return family == FP_AF_INET ? "inet" :
	       family == FP_AF_INET6 ? "inet6" : "unknown";
}

char *duration_format(__u64 secs, char *buf)
{
	unsigned long long s = secs;

	if (s >= 86400)
		snprintf(buf, DURATION_TEXT_MAX, "%llud%02lluh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, DURATION_TEXT_MAX, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, DURATION_TEXT_MAX, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(buf, DURATION_TEXT_MAX, "%llus", s);
	return buf;
}

int uint_parse(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long n;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

int seconds_parse(const char *s, double *out)
{
	double d;
	char *end;

	if (!isdigit((unsigned char)s[0]) && s[0] != '.')
		return -EINVAL;
	errno = 0;
	d = strtod(s, &end);
	if (errno || *end || !isfinite(d) || d <= 0 || d > 86400)
		return -EINVAL;
	*out = d;
	return 0;
}
