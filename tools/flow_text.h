/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Text forms of what flowpin's maps hold: addresses, prefixes, protocols,
 * flows, MACs, next-hop states. Plain C: no maps, no kernel.
 *
 * The FLOW syntax, printed by `flows` and read by `lookup`:
 *   PROTO SRC DST
 * PROTO is a name (tcp, udp, icmp, icmpv6, gre, esp, ...) or a number.
 * SRC and DST are ADDR:PORT for IPv4, [ADDR]:PORT for IPv6, or a bare
 * address (port 0: protocols without ports, and fragments). Only TCP and
 * UDP carry ports in a flow key.
 */
#ifndef FLOWPIN_FLOW_TEXT_H
#define FLOWPIN_FLOW_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include "flowpin.h"

/* Longest text of an address, an endpoint ([addr]:port) and a flow. */
#define ADDR_TEXT_MAX 46
#define ENDPOINT_TEXT_MAX (ADDR_TEXT_MAX + 8)
#define FLOW_TEXT_MAX (2 * ENDPOINT_TEXT_MAX + 16)
#define MAC_TEXT_MAX 18
#define PROTO_TEXT_MAX 8

/* An address with its family (FP_AF_INET or FP_AF_INET6). */
struct fp_addr {
	__u8 family;
	__be32 a[4]; /* IPv4 in a[0] */
	__u32 ifindex; /* a next hop's device (ADDR%DEV); 0: any */
};

struct fp_prefix {
	struct fp_addr addr; /* host bits cleared */
	__u8 len;
};

int addr_parse(const char *s, struct fp_addr *addr);
/*
 * A next hop: ADDR or ADDR%DEV (DEV a name or an ifindex). An IPv4-mapped
 * IPv6 address is its IPv4 address; an IPv6 link-local one needs %DEV,
 * since every link has its own. 0, or -EINVAL with *why said.
 */
int nexthop_parse(const char *s, struct fp_addr *addr, const char **why);
/* ADDR/LEN, or a bare address (a host prefix). Host bits are cleared. */
int prefix_parse(const char *s, struct fp_prefix *p);
bool prefix_match(const struct fp_prefix *p, __u8 family, const __be32 *addr);
bool addr_equal(const struct fp_addr *addr, __u8 family, const __be32 *a);

int proto_parse(const char *s, __u8 *proto);
/* The name of a protocol, or its number: buf holds PROTO_TEXT_MAX. */
const char *proto_name(__u8 proto, char *buf);
bool proto_has_ports(__u8 proto);

/*
 * FLOW as one string, or as argv words joined by spaces. On -EINVAL,
 * *why (if not NULL) says what is wrong.
 */
int flow_parse(const char *s, struct flow_key *key, const char **why);
int flow_parse_argv(int argc, char **argv, struct flow_key *key,
		    const char **why);

/* These return buf; they never fail for a buffer of the _MAX size. */
char *addr_format(__u8 family, const __be32 *a, char *buf, size_t len);
char *flow_format(const struct flow_key *key, char *buf, size_t len);
/* Endpoint of a flow: "10.0.0.1:80", "[2001:db8::1]:80" or bare address. */
char *endpoint_format(const struct flow_key *key, bool src, char *buf,
		      size_t len);
char *mac_format(const __u8 *mac, char *buf);

const char *family_name(__u8 family);

/* "3d04h", "2h05m", "4m10s", "12s": buf holds DURATION_TEXT_MAX. */
#define DURATION_TEXT_MAX 24
char *duration_format(__u64 secs, char *buf);

/* A decimal number in [0, max]. */
int uint_parse(const char *s, unsigned long long max, unsigned long long *out);
/* Seconds, decimals allowed ("0.5"), in (0, 86400]. */
int seconds_parse(const char *s, double *out);

#endif /* FLOWPIN_FLOW_TEXT_H */
