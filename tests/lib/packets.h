/* SPDX-License-Identifier: GPL-2.0 */
/* Frames for the packet tests: built from a spec, checked byte by byte. */
#ifndef FLOWPIN_TEST_PACKETS_H
#define FLOWPIN_TEST_PACKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "flowpin.h"

#define PKT_MAX 2048
#define FIELD_ZERO 0x100 /* a field set to 0, not left to its default */

struct pkt_spec {
	int family;	     /* 4 or 6 */
	__u8 proto;
	const char *src, *dst;
	__u16 sport, dport;  /* host order */
	int ttl;	     /* 0: 64; FIELD_ZERO: 0 */
	__u8 tos;	     /* IPv4 TOS, IPv6 traffic class */
	__u8 tcp_flags;	     /* TCP: 0 means ACK */
	__u16 payload;	     /* bytes after the L4 header */
	__u8 ip_opts;	     /* IPv4 option bytes (multiple of 4) */
	__u16 frag;	     /* IPv4 DF (0x4000) | MF (0x2000) | offset; IPv6: adds a fragment header */
	const __u8 *ext;     /* IPv6 extension headers before L4, 8 bytes each */
	int n_ext;
	bool frag_first;     /* IPv6: the fragment header before .ext, not after */
	__u8 icmp_type, icmp_code;
	const struct pkt_spec *quote; /* ICMP error: the packet it quotes */
	__u16 vlan;	     /* insert an 802.1Q tag with this TCI */
	__u16 svlan;	     /* and an 802.1ad (QinQ) tag with this TCI before it */
	__u16 ethertype;     /* override */
	const __u8 *dmac;    /* override; default: the router's ingress MAC */
	int len_delta;	     /* added to IPv4 tot_len / IPv6 payload_len */
	int ihl;	     /* override; FIELD_ZERO: 0 */
	int cut;	     /* truncate the frame to this many bytes */
	bool force_check;    /* IPv4: choose the id so the checksum is .check */
	__u16 check;
	bool bad_csum;	     /* IPv4: corrupt the header checksum */
};

extern __u8 router_mac[6]; /* destination MAC of built frames */
extern const __u8 client_mac[6];

/* Build the frame; returns its length. */
size_t pkt_build(const struct pkt_spec *s, __u8 *buf);
/* The flow key the datapath derives from such a packet. */
void pkt_flow_key(const struct pkt_spec *s, struct flow_key *key);
/* The reversed key of the flow an ICMP error quotes. */
void pkt_quote_key(const struct pkt_spec *s, struct flow_key *key);

__u16 csum16(const void *data, size_t len, __u32 sum);
bool ipv4_csum_valid(const __u8 *iph);
/* Offset of the IP header in a frame built from s. */
size_t pkt_l3_off(const struct pkt_spec *s);
/*
 * The error the kernel sends for the frame `in` (its L2 header l2 bytes:
 * 14, or 18 with a tag, which the error keeps as it came), too big for a
 * port of `mtu`: to the MAC it came from, from the address it was for,
 * quoting 548 (IPv4) or 1232 (IPv6) bytes of it as it arrived. Returns its
 * length.
 */
size_t pkt_too_big_error(int family, const __u8 *in, size_t l2, __u16 mtu,
			 __u8 *want);

#endif
