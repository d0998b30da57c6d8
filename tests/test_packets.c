// SPDX-License-Identifier: GPL-2.0
/*
 * The packet table: each frame runs through the real program with
 * BPF_PROG_TEST_RUN in a namespace with real routes. A case names the
 * verdict and every counter it must move; forwarded frames are checked byte
 * by byte and must leave the pin they name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "netns.h"

#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define IP_MF 0x2000

enum ingress { IN0 = 0, IN1 };

struct pkt_case {
	const char *name;
	struct pkt_spec spec;
	int cpu;		/* CPU to run on */
	enum ingress ingress;
	int verdict;		/* XDP_PASS or XDP_REDIRECT */
	__u32 stat[3];		/* counters that must move by one (besides packets, forwarded) */
	int egress_mask;	/* forwarded: allowed egress numbers, as bits */
	const char *same_as;	/* forwarded: same egress as this earlier case */
	__u16 gso_size;		/* tc only: a GSO skb of segments this big */
	enum { BOTH = 0, XDP_ONLY, TC_ONLY } hooks; /* VLAN rows: see vlan_rows_skip() */
	__u16 vlan_out;		/* forwarded to vout (vlan_tx): the TCI its tag must carry */
	bool via_vqos;		/* ... to vqos instead */
	bool to_vout;		/* forwarded to vout untagged (tc: the VLAN device tags it) */
};

#define FWD(...) .verdict = XDP_REDIRECT, .stat = { __VA_ARGS__ }
#define PASS(reason) .verdict = XDP_PASS, .stat = { reason }

static const __u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const __u8 mcast4[6] = { 0x01, 0x00, 0x5e, 0x01, 0x02, 0x03 };
static const __u8 mcast6[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
static const __u8 in1_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const __u8 other_host[6] = { 0x02, 0, 0, 0, 0, 0x77 };
/*
 * VLAN stand-ins (vlan_standins()): in0v is in0's sub-interface of VID 100
 * (vlan_rx), in0q one of VID 102 with an ingress-qos-map, vout one of
 * out1's, VID 300 (vlan_tx), vqos one of out1's with an egress-qos-map
 * (VQOS_PCP), VID 301; in1 a member of in0 as of a bond
 * (bond_members), for tagged frames (its own frames are its own port's). This kernel may have no VLAN devices:
 * veths play them, written into the maps as flowpind writes VLANs.
 */
static const __u8 in0v_mac[6] = { 0x02, 0, 0, 0, 0, 0x03 };
static const __u8 in0q_mac[6] = { 0x02, 0, 0, 0, 0, 0x04 };
static const __u8 vqos_mac[6] = { 0x02, 0, 0, 0, 0x21, 0x01 };
static const __u8 vqos_gw_mac[6] = { 0x02, 0, 0, 0, 0x21, 0x02 };
/*
 * vqos's egress-qos-map as vlan_tx holds it: priority 0 (best effort, and
 * IPv6) to PCP 1, 2 (bulk) to 3, 4 (interactive bulk) to 5, 6
 * (interactive) to 7
 */
#define VQOS_PCP 0x7531
#define TCI(pcp, vid) ((pcp) << 13 | (vid))
static const __u8 vout_mac[6] = { 0x02, 0, 0, 0, 0x20, 0x01 };
static const __u8 vout_gw_mac[6] = { 0x02, 0, 0, 0, 0x20, 0x02 };
static const __u8 ext3[] = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING };
static const __u8 ext7[] = { IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS,
			     IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS,
			     IPPROTO_DSTOPTS };

#define SPEC(fam, p, s, d, sp, dp, ...)                                        \
	{ .family = fam, .proto = p, .src = s, .dst = d, .sport = sp,          \
	  .dport = dp, __VA_ARGS__ }
#define V4(p, sp, ...) SPEC(4, p, CLIENT4, SVC4, sp, 80, __VA_ARGS__)
#define V6(p, sp, ...) SPEC(6, p, CLIENT6, SVC6, sp, 80, __VA_ARGS__)
#define TO4(p, dst, ...) SPEC(4, p, CLIENT4, dst, 41000, 80, __VA_ARGS__)
#define TO6(p, dst, ...) SPEC(6, p, CLIENT6, dst, 41000, 80, __VA_ARGS__)
#define ICMP4(...) SPEC(4, IPPROTO_ICMP, "10.0.0.254", SVC4, 0, 0, __VA_ARGS__)
#define ICMP6(...) SPEC(6, IPPROTO_ICMPV6, "2001:db8::254", SVC6, 0, 0, __VA_ARGS__)

/* Replies of the flows of "v4 tcp syn" and "v6 tcp syn", as ICMP quotes. */
static const struct pkt_spec reply4 = SPEC(4, IPPROTO_TCP, SVC4, CLIENT4, 80, 40001);
static const struct pkt_spec reply6 = SPEC(6, IPPROTO_TCP, SVC6, CLIENT6, 80, 40001);
static const struct pkt_spec stranger4 = SPEC(4, IPPROTO_UDP, SVC4, CLIENT4, 53, 999);
static const struct pkt_spec stranger6 = SPEC(6, IPPROTO_UDP, SVC6, CLIENT6, 53, 999);
/* Reply of the flow of "v6 dstopts, routing": its extension headers too. */
static const struct pkt_spec reply6_ext = SPEC(6, IPPROTO_UDP, SVC6, CLIENT6, 80, 40004, .ext = ext3 + 1, .n_ext = 2);

#define CHECK4(sp, c) V4(IPPROTO_UDP, sp, .force_check = true, .check = c)

static const struct pkt_case cases[] = {
	/*
	 * pins: new; the second packet from the shared table (it fills this
	 * CPU's cache); the shared table from another CPU; this CPU's cache
	 */
	{ "v4 tcp syn: new pin", V4(IPPROTO_TCP, 40001, .tcp_flags = TCP_SYN), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 tcp ack: shared pin hit fills the cache", V4(IPPROTO_TCP, 40001), FWD(FP_STAT_PIN_HIT), .same_as = "v4 tcp syn: new pin" },
	{ "v4 tcp on cpu 1: shared pin hit", V4(IPPROTO_TCP, 40001), .cpu = 1, FWD(FP_STAT_PIN_HIT), .same_as = "v4 tcp syn: new pin" },
	{ "v4 tcp back on cpu 0: cache hit", V4(IPPROTO_TCP, 40001), FWD(FP_STAT_CACHE_HIT), .same_as = "v4 tcp syn: new pin" },
	{ "v4 udp: new pin", V4(IPPROTO_UDP, 40002, .payload = 100), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 icmp echo: new pin, no ports", V4(IPPROTO_ICMP, 0, .icmp_type = 8), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 tcp ack without pin: lost pin", V4(IPPROTO_TCP, 40003), FWD(FP_STAT_LOST_PIN, FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 options (ihl 15): the kernel's", V4(IPPROTO_UDP, 40004, .ip_opts = 40), PASS(FP_PASS_IP_OPTIONS) },
	{ "v4 options (ihl 6): the kernel's", V4(IPPROTO_UDP, 40004, .ip_opts = 4), PASS(FP_PASS_IP_OPTIONS) },
	{ "v4 loopback source", SPEC(4, IPPROTO_UDP, "127.0.0.1", SVC4, 1, 2), PASS(FP_PASS_MARTIAN) },
	{ "v4 zero source", SPEC(4, IPPROTO_UDP, "0.0.0.0", SVC4, 1, 2), PASS(FP_PASS_MARTIAN) },
	{ "v4 multicast source", SPEC(4, IPPROTO_UDP, "224.0.0.5", SVC4, 1, 2), PASS(FP_PASS_MARTIAN) },
	{ "v4 link-local destination", TO4(IPPROTO_UDP, "169.254.1.1"), PASS(FP_PASS_MARTIAN) },
	{ "v6 link-local source", SPEC(6, IPPROTO_UDP, "fe80::1", SVC6, 1, 2), PASS(FP_PASS_MARTIAN) },
	{ "v6 loopback destination", TO6(IPPROTO_UDP, "::1"), PASS(FP_PASS_MARTIAN) },
	{ "v6 hop-by-hop: the kernel's", V6(IPPROTO_UDP, 40004, .ext = ext3, .n_ext = 3), PASS(FP_PASS_IP_OPTIONS) },
	{ "v4 ttl 2: forwarded with ttl 1", V4(IPPROTO_UDP, 40005, .ttl = 2), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 frame longer than tot_len (padding)", V4(IPPROTO_UDP, 40006, .payload = 30, .len_delta = -20), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 first fragment: pinned without ports", V4(IPPROTO_UDP, 40007, .frag = IP_MF, .payload = 64), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 middle fragment: same pin", V4(IPPROTO_UDP, 1, .frag = IP_MF | 9, .payload = 64), FWD(FP_STAT_PIN_HIT), .same_as = "v4 first fragment: pinned without ports" },
	{ "v4 df only: not a fragment, ports used", V4(IPPROTO_UDP, 40008, .frag = 0x4000), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 last fragment on cpu 1: same pin", V4(IPPROTO_UDP, 2, .frag = 18, .payload = 10), .cpu = 1, FWD(FP_STAT_PIN_HIT), .same_as = "v4 first fragment: pinned without ports" },
	/* incremental checksum update across the wrap-around points */
	{ "v4 checksum 0x0000", CHECK4(40010, 0x0000), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 checksum 0x00ff", CHECK4(40011, 0x00ff), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 checksum 0xfeff", CHECK4(40012, 0xfeff), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 checksum 0xff00", CHECK4(40013, 0xff00), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 checksum 0xfffe", CHECK4(40014, 0xfffe), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v4 checksum 0xffff", CHECK4(40015, 0xffff), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },

	{ "v6 tcp syn: new pin", V6(IPPROTO_TCP, 40001, .tcp_flags = TCP_SYN), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v6 tcp ack: shared pin hit fills the cache", V6(IPPROTO_TCP, 40001), FWD(FP_STAT_PIN_HIT), .same_as = "v6 tcp syn: new pin" },
	{ "v6 tcp on cpu 1: shared pin hit", V6(IPPROTO_TCP, 40001), .cpu = 1, FWD(FP_STAT_PIN_HIT), .same_as = "v6 tcp syn: new pin" },
	{ "v6 udp: new pin", V6(IPPROTO_UDP, 40002, .payload = 100), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v6 icmpv6 echo: new pin, no ports", V6(IPPROTO_ICMPV6, 0, .icmp_type = 128), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v6 tcp ack without pin: lost pin", V6(IPPROTO_TCP, 40003), FWD(FP_STAT_LOST_PIN, FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v6 dstopts, routing", V6(IPPROTO_UDP, 40004, .ext = ext3 + 1, .n_ext = 2), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v6 hop limit 2: forwarded with 1", V6(IPPROTO_UDP, 40005, .ttl = 2), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v6 first fragment: pinned without ports", V6(IPPROTO_UDP, 40007, .frag = IP_MF, .payload = 64), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "v6 later fragment after dstopts: same pin", V6(IPPROTO_UDP, 3, .frag = 9, .ext = ext3 + 1, .n_ext = 1, .payload = 16), FWD(FP_STAT_PIN_HIT), .same_as = "v6 first fragment: pinned without ports" },
	/* fragment -> dstopts -> udp: keyed by the fragment header's next header */
	{ "v6 first fragment, dstopts after it: pinned", V6(IPPROTO_UDP, 40037, .frag = IP_MF, .frag_first = true, .ext = ext3 + 1, .n_ext = 1, .payload = 64), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	/* its later fragment's payload happens to read as dstopts -> tcp */
	{ "v6 later fragment: payload not read as headers", V6(IPPROTO_TCP, 40037, .frag = 9, .frag_first = true, .ext = ext3 + 1, .n_ext = 1, .payload = 16), FWD(FP_STAT_PIN_HIT), .same_as = "v6 first fragment, dstopts after it: pinned" },

	/* ICMP errors follow the pin of the flow they quote */
	{ "v4 icmp frag needed follows its flow", ICMP4(.icmp_type = 3, .icmp_code = 4, .quote = &reply4), FWD(FP_STAT_ICMP_ERR_PINNED), .same_as = "v4 tcp syn: new pin" },
	{ "v4 icmp time exceeded on cpu 1 follows its flow", ICMP4(.icmp_type = 11, .quote = &reply4), .cpu = 1, FWD(FP_STAT_ICMP_ERR_PINNED), .same_as = "v4 tcp syn: new pin" },
	{ "v6 packet too big follows its flow", ICMP6(.icmp_type = 2, .quote = &reply6), FWD(FP_STAT_ICMP_ERR_PINNED), .same_as = "v6 tcp syn: new pin" },
	{ "v6 icmp error quoting extension headers follows its flow", ICMP6(.icmp_type = 1, .quote = &reply6_ext), FWD(FP_STAT_ICMP_ERR_PINNED), .same_as = "v6 dstopts, routing" },
	{ "v4 icmp error to the router quoting a pinned flow", SPEC(4, IPPROTO_ICMP, "10.0.0.254", "10.0.0.1", 0, 0, .icmp_type = 3, .icmp_code = 4, .quote = &reply4), PASS(FP_PASS_ICMP_ERR_UNPINNED) },
	{ "v6 icmp error elsewhere quoting a pinned flow", SPEC(6, IPPROTO_ICMPV6, "2001:db8::254", "2001:db8:200::9", 0, 0, .icmp_type = 2, .quote = &reply6), PASS(FP_PASS_ICMP_ERR_UNPINNED) },
	{ "v4 icmp error of an unpinned flow", ICMP4(.icmp_type = 3, .icmp_code = 1, .quote = &stranger4), PASS(FP_PASS_ICMP_ERR_UNPINNED) },
	{ "v6 icmp error of an unpinned flow", ICMP6(.icmp_type = 1, .quote = &stranger6), PASS(FP_PASS_ICMP_ERR_UNPINNED) },
	{ "v4 icmp error with a truncated quote", ICMP4(.icmp_type = 3, .quote = &reply4, .cut = 14 + 20 + 8 + 22), PASS(FP_PASS_MALFORMED) },
	{ "v6 icmp error with a truncated quote", ICMP6(.icmp_type = 1, .quote = &reply6, .cut = 14 + 40 + 8 + 41), PASS(FP_PASS_MALFORMED) },

	/* not for flowpin */
	{ "arp", V4(IPPROTO_UDP, 40019, .ethertype = 0x0806), PASS(FP_PASS_NON_IP) },
	{ "lldp", V4(IPPROTO_UDP, 40019, .ethertype = 0x88cc), PASS(FP_PASS_NON_IP) },
	{ "vlan of no sub-interface", V4(IPPROTO_UDP, 40020, .vlan = 101), PASS(FP_PASS_VLAN) },
	/*
	 * XDP forwards a tagged frame to a tagged next hop with its tag
	 * rewritten (VID, priority 0, protocol), to the sub-interface's port;
	 * a tag to push or pop, or a PCP by egress-qos-map, is the kernel's,
	 * and the flow stays unpinned.
	 */
	{ "v4 tagged to a tagged next hop: the tag rewritten", TO4(IPPROTO_UDP, "198.18.20.5", .vlan = 100, .dmac = in0v_mac), FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = 300 },
	{ "v4 tagged to a tagged next hop, again: the shared pin", TO4(IPPROTO_UDP, "198.18.20.5", .vlan = 100, .dmac = in0v_mac), FWD(FP_STAT_PIN_HIT), .hooks = XDP_ONLY, .vlan_out = 300 },
	{ "v4 tagged with a priority: the egress tag has none", TO4(IPPROTO_TCP, "198.18.20.6", .vlan = (5 << 13) | 100, .dmac = in0v_mac, .tcp_flags = TCP_SYN), FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = 300 },
	{ "v6 tagged to a tagged next hop: the tag rewritten", TO6(IPPROTO_UDP, "2001:db8:20::5", .vlan = 100, .dmac = in0v_mac), FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = 300 },
	{ "v4 tagged to an untagged next hop: the kernel's", V4(IPPROTO_UDP, 40040, .vlan = 100, .dmac = in0v_mac), PASS(FP_PASS_VLAN_RETAG), .hooks = XDP_ONLY },
	{ "v6 tagged to an untagged next hop: the kernel's", V6(IPPROTO_UDP, 40040, .vlan = 100, .dmac = in0v_mac), PASS(FP_PASS_VLAN_RETAG), .hooks = XDP_ONLY },
	{ "v4 untagged to a tagged next hop: the kernel's", TO4(IPPROTO_UDP, "198.18.20.7"), PASS(FP_PASS_VLAN_RETAG), .hooks = XDP_ONLY },
	{ "v6 untagged to a tagged next hop: the kernel's", TO6(IPPROTO_UDP, "2001:db8:20::7"), PASS(FP_PASS_VLAN_RETAG), .hooks = XDP_ONLY },
	{ "v4 untagged to a tagged next hop: tc sends it to the VLAN device", TO4(IPPROTO_UDP, "198.18.20.7"), FWD(FP_STAT_PIN_NEW), .hooks = TC_ONLY, .to_vout = true },
	{ "v6 untagged to a tagged next hop: tc sends it to the VLAN device", TO6(IPPROTO_UDP, "2001:db8:20::7"), FWD(FP_STAT_PIN_NEW), .hooks = TC_ONLY, .to_vout = true },
	/* the PCP as the VLAN device gives it: by the priority IPv4 forwarding sets from the TOS */
	{ "v4 tagged to a vlan with an egress-qos-map: best effort's pcp", TO4(IPPROTO_UDP, "198.18.21.5", .vlan = 100, .dmac = in0v_mac), FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = TCI(1, 301), .via_vqos = true },
	{ "v4 tagged to a vlan with an egress-qos-map: bulk's pcp", TO4(IPPROTO_UDP, "198.18.21.6", .tos = 0x08, .vlan = 100, .dmac = in0v_mac), FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = TCI(3, 301), .via_vqos = true },
	{ "v4 tagged to a vlan with an egress-qos-map: interactive's pcp", TO4(IPPROTO_UDP, "198.18.21.7", .tos = 0x10, .vlan = (6 << 13) | 100, .dmac = in0v_mac), FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = TCI(7, 301), .via_vqos = true },
	{ "v4 tagged to a vlan with an egress-qos-map: interactive bulk's pcp, ecn kept", TO4(IPPROTO_UDP, "198.18.21.8", .tos = 0x1b, .vlan = 100, .dmac = in0v_mac), FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = TCI(5, 301), .via_vqos = true },
	{ "v4 from a vlan with an ingress-qos-map: the tos's pcp still", TO4(IPPROTO_UDP, "198.18.21.9", .tos = 0x08, .vlan = (7 << 13) | 102, .dmac = in0q_mac), FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = TCI(3, 301), .via_vqos = true },
	/* IPv6 forwarding keeps the priority: 0 unless an ingress-qos-map gave one */
	{ "v6 tagged to a vlan with an egress-qos-map: priority 0's pcp", TO6(IPPROTO_UDP, "2001:db8:21::5", .tos = 0x10, .vlan = (5 << 13) | 100, .dmac = in0v_mac), FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = TCI(1, 301), .via_vqos = true },
	{ "v6 from a vlan with an ingress-qos-map to one with an egress-qos-map: the kernel's", TO6(IPPROTO_UDP, "2001:db8:21::6", .vlan = (7 << 13) | 102, .dmac = in0q_mac), PASS(FP_PASS_VLAN_RETAG), .hooks = XDP_ONLY },
	{ "v6 from a vlan with an ingress-qos-map to one without: the tag rewritten", TO6(IPPROTO_UDP, "2001:db8:20::6", .vlan = (7 << 13) | 102, .dmac = in0q_mac), FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = 300 },
	{ "v4 tagged, to the port's mac rather than its vlan's", V4(IPPROTO_UDP, 40041, .vlan = 100), PASS(FP_PASS_OTHER_HOST), .hooks = XDP_ONLY },
	/* in1 stands in for a member of a bond whose port is in0: its VLAN is in0's */
	{ "v4 tagged on a bond's member: the bond's vlan", TO4(IPPROTO_UDP, "198.18.20.11", .vlan = 100, .dmac = in0v_mac), .ingress = IN1, FWD(FP_STAT_PIN_NEW), .hooks = XDP_ONLY, .vlan_out = 300 },
	{ "qinq tagged", V4(IPPROTO_UDP, 40020, .svlan = 200, .vlan = 100), PASS(FP_PASS_VLAN) },
	{ "priority tagged", V4(IPPROTO_UDP, 40020, .vlan = 5 << 13), PASS(FP_PASS_VLAN) },
	{ "qinq outer tag", V4(IPPROTO_UDP, 40021, .ethertype = 0x88a8), PASS(FP_PASS_VLAN) },
	{ "broadcast mac", V4(IPPROTO_UDP, 40022, .dmac = bcast), PASS(FP_PASS_MULTICAST) },
	{ "v4 unicast to another host's mac (promiscuous port)", V4(IPPROTO_TCP, 40025, .dmac = other_host), PASS(FP_PASS_OTHER_HOST) },
	{ "v6 unicast to another host's mac (promiscuous port)", V6(IPPROTO_TCP, 40025, .dmac = other_host), PASS(FP_PASS_OTHER_HOST) },
	{ "v4 to in0's mac but arriving on in1", V4(IPPROTO_UDP, 40026), .ingress = IN1, PASS(FP_PASS_OTHER_HOST) },
	{ "v4 multicast mac", V4(IPPROTO_UDP, 40022, .dmac = mcast4), PASS(FP_PASS_MULTICAST) },
	{ "v6 multicast mac", V6(IPPROTO_UDP, 40022, .dmac = mcast6), PASS(FP_PASS_MULTICAST) },
	{ "v4 multicast address", TO4(IPPROTO_UDP, "239.1.2.3"), PASS(FP_PASS_MULTICAST) },
	{ "v4 limited broadcast", TO4(IPPROTO_UDP, "255.255.255.255"), PASS(FP_PASS_MULTICAST) },
	{ "v6 multicast address", TO6(IPPROTO_UDP, "ff0e::1"), PASS(FP_PASS_MULTICAST) },
	{ "v4 ttl 1", V4(IPPROTO_UDP, 40023, .ttl = 1), PASS(FP_PASS_TTL) },
	{ "v4 ttl 0", V4(IPPROTO_UDP, 40023, .ttl = FIELD_ZERO), PASS(FP_PASS_TTL) },
	{ "v6 hop limit 0", V6(IPPROTO_UDP, 40023, .ttl = FIELD_ZERO), PASS(FP_PASS_TTL) },
	{ "v6 hop limit 1", V6(IPPROTO_UDP, 40023, .ttl = 1), PASS(FP_PASS_TTL) },
	{ "v4 local destination", TO4(IPPROTO_TCP, "10.0.0.1"), PASS(FP_PASS_FIB_NOT_FWDED) },
	{ "v6 local destination", TO6(IPPROTO_TCP, "2001:db8::1"), PASS(FP_PASS_FIB_NOT_FWDED) },
	{ "v4 blackhole", TO4(IPPROTO_UDP, "203.0.113.1"), PASS(FP_PASS_FIB_BLACKHOLE) },
	{ "v4 unreachable", TO4(IPPROTO_UDP, "203.0.113.2"), PASS(FP_PASS_FIB_UNREACHABLE) },
	{ "v4 prohibit", TO4(IPPROTO_UDP, "203.0.113.3"), PASS(FP_PASS_FIB_PROHIBIT) },
	{ "v6 blackhole", TO6(IPPROTO_UDP, "2001:db8:f::1"), PASS(FP_PASS_FIB_BLACKHOLE) },
	{ "v6 unreachable", TO6(IPPROTO_UDP, "2001:db8:f::2"), PASS(FP_PASS_FIB_UNREACHABLE) },
	{ "v6 prohibit", TO6(IPPROTO_UDP, "2001:db8:f::3"), PASS(FP_PASS_FIB_PROHIBIT) },
	{ "v4 no neighbour", TO4(IPPROTO_UDP, "198.18.0.1"), PASS(FP_PASS_FIB_NO_NEIGH) },
	{ "v6 no neighbour", TO6(IPPROTO_UDP, "2001:db8:18::1"), PASS(FP_PASS_FIB_NO_NEIGH) },
	{ "v4 larger than the path mtu", TO4(IPPROTO_UDP, "198.18.1.1", .payload = 1400), PASS(FP_PASS_FIB_FRAG_NEEDED) },
	{ "v6 larger than the path mtu", TO6(IPPROTO_UDP, "2001:db8:18:1::1", .payload = 1400), PASS(FP_PASS_FIB_FRAG_NEEDED) },
	{ "v4 mtu checked on the frame, not tot_len", TO4(IPPROTO_UDP, "198.18.1.1", .payload = 1400, .len_delta = -1300), PASS(FP_PASS_FIB_FRAG_NEEDED) },
	{ "v4 fits the path mtu", TO4(IPPROTO_UDP, "198.18.1.1", .payload = 1200), FWD(FP_STAT_PIN_NEW), .egress_mask = 1 << 5 },
	/*
	 * tc: a GSO skb (TSO's 64 kB segment, shrunk to fit the test runner)
	 * is as big as its segments: 1900 bytes of payload against a 1500
	 * MTU, as 1000-byte segments, goes out; segments that do not fit go to
	 * the kernel, against the device's MTU and the route's.
	 */
	{ "gso v4 tcp: segments fit, the whole does not: new pin", V4(IPPROTO_TCP, 40101, .tcp_flags = TCP_SYN, .payload = 1900), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC, .gso_size = 1000 },
	{ "gso v4 tcp: segments fit: shared pin hit", V4(IPPROTO_TCP, 40101, .payload = 1900), FWD(FP_STAT_PIN_HIT), .same_as = "gso v4 tcp: segments fit, the whole does not: new pin", .gso_size = 1000 },
	{ "gso v4 tcp: segments over the device mtu", V4(IPPROTO_TCP, 40101, .payload = 1900), .verdict = XDP_PASS, .stat = { FP_STAT_CACHE_HIT, FP_PASS_MTU }, .gso_size = 1461 },
	{ "gso v4 tcp: segments that just fit the device mtu", V4(IPPROTO_TCP, 40101, .payload = 1900), FWD(FP_STAT_CACHE_HIT), .same_as = "gso v4 tcp: segments fit, the whole does not: new pin", .gso_size = 1460 },
	{ "gso v6 tcp: segments fit, the whole does not: new pin", V6(IPPROTO_TCP, 40101, .tcp_flags = TCP_SYN, .payload = 1900), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC, .gso_size = 1440 },
	{ "gso v6 tcp: segments over the device mtu", V6(IPPROTO_TCP, 40101, .payload = 1900), .verdict = XDP_PASS, .stat = { FP_STAT_PIN_HIT, FP_PASS_MTU }, .gso_size = 1441 },
	{ "v4 gre: new pin, no ports", V4(IPPROTO_GRE, 0, .payload = 100), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC },
	{ "gso v4 udp: segments fit, the whole does not: new pin", V4(IPPROTO_UDP, 40102, .payload = 1900), FWD(FP_STAT_PIN_NEW), .egress_mask = OUT_MASK_SVC, .gso_size = 1472 },
	{ "gso v4 udp: segments over the device mtu", V4(IPPROTO_UDP, 40102, .payload = 1900), .verdict = XDP_PASS, .stat = { FP_STAT_PIN_HIT, FP_PASS_MTU }, .gso_size = 1473 },
	{ "gso v4 gre: the kernel's, which counts the inner headers", V4(IPPROTO_GRE, 0, .payload = 1900), PASS(FP_PASS_GSO_ENCAP), .gso_size = 1000 },
	{ "gso v4 ipip: the kernel's", V4(IPPROTO_IPIP, 0, .payload = 1900), PASS(FP_PASS_GSO_ENCAP), .gso_size = 1000 },
	{ "gso v6 ip6-in-ip6: the kernel's", V6(IPPROTO_IPV6, 0, .payload = 1900), PASS(FP_PASS_GSO_ENCAP), .gso_size = 1000 },
	{ "gso v6 gre: the kernel's", V6(IPPROTO_GRE, 0, .payload = 1900), PASS(FP_PASS_GSO_ENCAP), .gso_size = 1000 },
	{ "gso v4 udp: segments over the path mtu", TO4(IPPROTO_UDP, "198.18.1.2", .payload = 1900), PASS(FP_PASS_FIB_FRAG_NEEDED), .gso_size = 1253 },
	{ "gso v4 udp: segments within the path mtu", TO4(IPPROTO_UDP, "198.18.1.2", .payload = 1900), FWD(FP_STAT_PIN_NEW), .egress_mask = 1 << 5, .gso_size = 1252 },
	{ "gso v6 udp: segments over the path mtu", TO6(IPPROTO_UDP, "2001:db8:18:1::2", .payload = 1900), PASS(FP_PASS_FIB_FRAG_NEEDED), .gso_size = 1233 },
	{ "gso v6 udp: segments within the path mtu", TO6(IPPROTO_UDP, "2001:db8:18:1::2", .payload = 1900), FWD(FP_STAT_PIN_NEW), .egress_mask = 1 << 5, .gso_size = 1232 },
	{ "v4 forwarding disabled on ingress", V4(IPPROTO_UDP, 40024, .dmac = in1_mac), .ingress = IN1, PASS(FP_PASS_FIB_FWD_DISABLED) },
	{ "v6 forwarding disabled on ingress", V6(IPPROTO_UDP, 40024, .dmac = in1_mac), .ingress = IN1, PASS(FP_PASS_FIB_FWD_DISABLED) },
	{ "v4 connected host: not a known next hop", TO4(IPPROTO_UDP, "10.0.1.99"), PASS(FP_PASS_NEXTHOP_UNKNOWN) },
	{ "v6 connected host: not a known next hop", TO6(IPPROTO_UDP, "fd00:1::99"), PASS(FP_PASS_NEXTHOP_UNKNOWN) },
	{ "v4 next hop known but dead", TO4(IPPROTO_UDP, "198.18.3.1"), PASS(FP_PASS_NEXTHOP_NOT_READY) },
	{ "v4 egress not a tx port", TO4(IPPROTO_UDP, "192.0.2.5"), PASS(FP_PASS_NO_TX_PORT) },
	{ "v6 egress not a tx port", TO6(IPPROTO_UDP, "2001:db8:200::5"), PASS(FP_PASS_NO_TX_PORT) },

	/* malformed */
	{ "ethernet header only", V4(IPPROTO_UDP, 40030, .cut = 14), PASS(FP_PASS_MALFORMED) },
	{ "v4 header cut short", V4(IPPROTO_UDP, 40030, .cut = 14 + 19), PASS(FP_PASS_MALFORMED) },
	{ "v4 options cut short", V4(IPPROTO_UDP, 40030, .ip_opts = 8, .cut = 14 + 24), PASS(FP_PASS_MALFORMED) },
	{ "v4 options, tcp header cut short", V4(IPPROTO_TCP, 40030, .ip_opts = 8, .cut = 14 + 28 + 10), PASS(FP_PASS_MALFORMED) },
	{ "v4 tcp header cut short", V4(IPPROTO_TCP, 40030, .cut = 14 + 20 + 19), PASS(FP_PASS_MALFORMED) },
	{ "v4 udp header cut short", V4(IPPROTO_UDP, 40030, .cut = 14 + 20 + 7), PASS(FP_PASS_MALFORMED) },
	{ "v4 icmp header cut short", V4(IPPROTO_ICMP, 0, .icmp_type = 8, .cut = 14 + 20 + 4), PASS(FP_PASS_MALFORMED) },
	{ "v4 ihl 4", V4(IPPROTO_UDP, 40031, .ihl = 4), PASS(FP_PASS_MALFORMED) },
	{ "v4 ihl 0", V4(IPPROTO_UDP, 40031, .ihl = FIELD_ZERO), PASS(FP_PASS_MALFORMED) },
	{ "v4 ihl 1", V4(IPPROTO_UDP, 40031, .ihl = 1), PASS(FP_PASS_MALFORMED) },
	{ "v4 ihl 2", V4(IPPROTO_UDP, 40031, .ihl = 2), PASS(FP_PASS_MALFORMED) },
	{ "v4 ihl 3", V4(IPPROTO_UDP, 40031, .ihl = 3), PASS(FP_PASS_MALFORMED) },
	{ "v4 ihl 15 without options", V4(IPPROTO_UDP, 40031, .ihl = 15), PASS(FP_PASS_MALFORMED) },
	{ "v4 tot_len beyond the frame", V4(IPPROTO_UDP, 40032, .len_delta = 1), PASS(FP_PASS_MALFORMED) },
	{ "v4 tot_len below the header", V4(IPPROTO_UDP, 40032, .len_delta = -20), PASS(FP_PASS_MALFORMED) },
	{ "v4 bad header checksum", V4(IPPROTO_UDP, 40033, .bad_csum = true), PASS(FP_PASS_MALFORMED) },
	{ "v6 header cut short", V6(IPPROTO_UDP, 40030, .cut = 14 + 39), PASS(FP_PASS_MALFORMED) },
	{ "v6 payload_len beyond the frame", V6(IPPROTO_UDP, 40032, .len_delta = 1), PASS(FP_PASS_MALFORMED) },
	{ "v6 extension header cut short", V6(IPPROTO_UDP, 40034, .ext = ext3 + 1, .n_ext = 1, .cut = 14 + 40 + 6), PASS(FP_PASS_MALFORMED) },
	{ "v6 extension chain longer than the bound", V6(IPPROTO_UDP, 40035, .ext = ext7, .n_ext = 7), PASS(FP_PASS_MALFORMED) },
	{ "v6 tcp header cut short", V6(IPPROTO_TCP, 40030, .cut = 14 + 40 + 10), PASS(FP_PASS_MALFORMED) },
	{ "v6 udp cut right after the extension headers", V6(IPPROTO_UDP, 40036, .ext = ext3 + 1, .n_ext = 2, .cut = 14 + 40 + 16), PASS(FP_PASS_MALFORMED) },
	{ "v6 icmpv6 header cut short", V6(IPPROTO_ICMPV6, 0, .icmp_type = 128, .cut = 14 + 40 + 7), PASS(FP_PASS_MALFORMED) },
	{ "v4 icmp error cut after the quoted ip header", ICMP4(.icmp_type = 3, .quote = &reply4, .cut = 14 + 20 + 8 + 20), PASS(FP_PASS_MALFORMED) },
	{ "v6 icmp error cut inside the quoted ip header", ICMP6(.icmp_type = 1, .quote = &reply6, .cut = 14 + 40 + 8 + 20), PASS(FP_PASS_MALFORMED) },
};

static struct flowpin_fixture fx;
static __u8 live_in[PKT_MAX]; /* live_case()'s frame */
static __u32 vout_nh4, vout_nh6; /* vout's next hops (vlan_standins()) */
static __u32 vqos_nh4, vqos_nh6; /* vqos's */
static int egress_seen[sizeof(cases) / sizeof(cases[0])];

static int case_index(const char *name)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(cases[i].name, name))
			return i;
	return -1;
}

static __u32 nexthop_id(int family, int egress)
{
	return family == 4 ? fx.nh4[egress] : fx.nh6[egress];
}

/* Every byte but the MACs, TTL / hop limit and IPv4 checksum is unchanged. */
static void check_rewrite(const struct pkt_case *c, const __u8 *in,
			  const __u8 *out, size_t len, int egress)
{
	size_t l3 = pkt_l3_off(&c->spec);
	__u8 want[PKT_MAX];

	assert_memory_equal(out, rt.gw_mac[egress], 6);
	assert_memory_equal(out + 6, rt.out_mac[egress], 6);
	memcpy(want, in, len);
	memcpy(want, out, 12);
	if (c->spec.family == 4) {
		assert_int_equal(out[l3 + 8], in[l3 + 8] - 1);
		assert_true(ipv4_csum_valid(out + l3));
		want[l3 + 8] = in[l3 + 8] - 1;
		want[l3 + 10] = out[l3 + 10];
		want[l3 + 11] = out[l3 + 11];
	} else {
		assert_int_equal(out[l3 + 7], in[l3 + 7] - 1);
		want[l3 + 7] = in[l3 + 7] - 1;
	}
	assert_memory_equal(out, want, len);
}

/*
 * The packet runner hands tc an skb with the tag still in the frame, where
 * the kernel's receive path takes it into the skb before tc: tagged rows
 * are XDP's (the kernel matrix's vlan scenarios and test_drop_rule run tc
 * on real VLANs); a row of what only tc does is tc's.
 */
static void vlan_rows_skip(const struct pkt_case *c)
{
	if (c->hooks == XDP_ONLY && fx.hook == HOOK_TC) {
		print_message("at tc: the test runner leaves the tag in the frame, where the kernel takes it out before tc\n");
		skip();
	}
	if (c->hooks == TC_ONLY && fx.hook != HOOK_TC) {
		print_message("at XDP: the row of another entry point (tc)\n");
		skip();
	}
}

/*
 * Forwarded to vout: its neighbour's and its own MAC, then (vlan_out) the
 * tag 802.1Q, VID vlan_out, priority 0 where the frame's tag was, or no
 * tag at all; every other byte as it came but the TTL / hop limit and the
 * IPv4 checksum. The pin names vout's next hop.
 */
static void check_vout(const struct pkt_case *c, const __u8 *in,
		       const __u8 *out, size_t len)
{
	size_t l3 = pkt_l3_off(&c->spec);
	struct flow_key key;
	__u8 want[PKT_MAX];

	memcpy(want, in, len);
	memcpy(want, c->via_vqos ? vqos_gw_mac : vout_gw_mac, 6);
	memcpy(want + 6, c->via_vqos ? vqos_mac : vout_mac, 6);
	if (c->vlan_out) {
		assert_int_equal(l3, 18);
		want[12] = 0x81;
		want[13] = 0x00;
		want[14] = c->vlan_out >> 8;
		want[15] = c->vlan_out & 0xff;
	}
	if (c->spec.family == 4) {
		want[l3 + 8] = in[l3 + 8] - 1;
		want[l3 + 10] = out[l3 + 10];
		want[l3 + 11] = out[l3 + 11];
		assert_true(ipv4_csum_valid(out + l3));
	} else {
		want[l3 + 7] = in[l3 + 7] - 1;
	}
	assert_memory_equal(out, want, len);
	pkt_flow_key(&c->spec, &key);
	if (c->via_vqos)
		assert_int_equal(pin_of(&fx, &key), c->spec.family == 4 ? vqos_nh4 : vqos_nh6);
	else
		assert_int_equal(pin_of(&fx, &key), c->spec.family == 4 ? vout_nh4 : vout_nh6);
}

static void run_case(void **state)
{
	const struct pkt_case *c = *state;
	__u64 before[FP_STAT_MAX], after[FP_STAT_MAX], want[FP_STAT_MAX] = {};
	__u8 in[PKT_MAX], out[PKT_MAX];
	size_t len = pkt_build(&c->spec, in);
	struct flow_key key;
	__u32 out_len = 0;
	int verdict, egress;

	if (fx.hook == HOOK_TC && len < 14 + (c->spec.family == 6 ? 40 : 20)) {
		print_message("at tc: the kernel's test runner builds no skb shorter than its L3 header\n");
		skip();
	}
	if (c->gso_size && fx.hook != HOOK_TC) {
		print_message("at XDP: frames are never GSO\n");
		skip();
	}
	vlan_rows_skip(c);
	assert_int_equal(run_on_cpu(c->cpu), 0);
	fixture_stats(&fx, before);
	verdict = fixture_run_gso(&fx, in, len, out, &out_len,
				  c->ingress == IN1 ? rt.ifindex_in1 :
						      rt.ifindex_in0,
				  c->gso_size);
	fixture_stats(&fx, after);
	assert_int_equal(verdict, c->verdict);
	assert_int_equal(out_len, len);

	want[FP_STAT_PACKETS] = 1;
	for (int i = 0; i < 3; i++)
		if (c->stat[i])
			want[c->stat[i]] += 1;
	if (verdict == XDP_REDIRECT)
		want[FP_STAT_FORWARDED] = 1;
	for (int i = 0; i < FP_STAT_MAX; i++) {
		if (after[i] - before[i] != want[i])
			fail_msg("counter %d moved by %llu, expected %llu", i,
				 (unsigned long long)(after[i] - before[i]),
				 (unsigned long long)want[i]);
	}

	if (verdict == XDP_PASS) {
		assert_memory_equal(out, in, len); /* handed over untouched */
		return;
	}
	if (c->vlan_out || c->to_vout) {
		check_vout(c, in, out, len);
		return;
	}
	egress = egress_of(out);
	assert_in_range(egress, 1, N_OUT);
	check_rewrite(c, in, out, len, egress);
	egress_seen[c - cases] = egress;
	if (c->egress_mask)
		assert_true(c->egress_mask & (1 << egress));
	if (c->same_as) {
		int prev = case_index(c->same_as);

		assert_true(prev >= 0 && prev < c - cases);
		assert_int_equal(egress, egress_seen[prev]);
	}
	/* the pin it leaves (for an ICMP error: its flow's) names this egress */
	if (c->spec.quote)
		pkt_quote_key(&c->spec, &key);
	else
		pkt_flow_key(&c->spec, &key);
	assert_int_equal(pin_of(&fx, &key), nexthop_id(c->spec.family, egress));
}

static enum fixture_hook hook;

/* A veth playing a VLAN sub-interface: made, up, with addresses. */
static int standin(const char *name, const char *mac, int net)
{
	return sh("ip link add %s address %s type veth peer name %sp", name, mac, name) ||
	       sh("ip link set %s up && ip link set %sp up", name, name) ||
	       sh("ip addr add 10.0.%d.1/24 dev %s && ip addr add fd00:%d::1/64 dev %s nodad",
		  net, name, net, name);
}

/* A stand-in's next hop gw (IPv4 or IPv6), active: its id, or -1. */
static int standin_nexthop(__u32 ifindex, const char *gw, const __u8 *mac,
			   const __u8 *gw_mac)
{
	int family = strchr(gw, ':') ? FP_AF_INET6 : FP_AF_INET;
	struct nexthop_addr a;
	__u8 addr[16];

	if (inet_pton(family == FP_AF_INET6 ? AF_INET6 : AF_INET, gw, addr) != 1)
		return -1;
	nexthop_addr_from(&a, ifindex, family, addr);
	return nexthop_table_set(&fx.nht, &a, mac, gw_mac, 0, NH_ACTIVE);
}

/* The VLAN stand-ins of in0v_mac's comment, in the maps as flowpind writes them. */
static int vlan_standins(void)
{
	struct vlan_key rx = { .ifindex = rt.ifindex_in0, .proto = htons(0x8100), .vid = 100 };
	struct vlan_tx tx = { .proto = htons(0x8100) };
	struct port_mac pm = {};
	struct vlan_key rxq = { .ifindex = rt.ifindex_in0, .proto = htons(0x8100), .vid = 102 };
	struct vlan_tx txq = { .port = rt.ifindex_in0, .proto = htons(0x8100), .vid = 102, .ingress_qos = 1 };
	struct port_mac pmq = {};
	__u32 in0v, in0q, vout, vqos;
	int id;

	if (standin("in0v", "02:00:00:00:00:03", 10) ||
	    standin("in0q", "02:00:00:00:00:04", 11) ||
	    standin("vout", "02:00:00:00:20:01", 20) ||
	    standin("vqos", "02:00:00:00:21:01", 21) ||
	    sh("ip neigh replace 10.0.20.2 lladdr 02:00:00:00:20:02 dev vout nud permanent") ||
	    sh("ip neigh replace fd00:20::2 lladdr 02:00:00:00:20:02 dev vout nud permanent") ||
	    sh("ip neigh replace 10.0.21.2 lladdr 02:00:00:00:21:02 dev vqos nud permanent") ||
	    sh("ip neigh replace fd00:21::2 lladdr 02:00:00:00:21:02 dev vqos nud permanent") ||
	    sh("ip route add 198.18.20.0/24 via 10.0.20.2 dev vout") ||
	    sh("ip -6 route add 2001:db8:20::/64 via fd00:20::2 dev vout") ||
	    sh("ip route add 198.18.21.0/24 via 10.0.21.2 dev vqos") ||
	    sh("ip -6 route add 2001:db8:21::/64 via fd00:21::2 dev vqos") ||
	    /* one path, for the live test of a tagged frame to a port */
	    sh("ip route add 198.18.22.0/24 via 10.0.2.2 dev out2"))
		return -1;
	in0v = if_nametoindex("in0v");
	in0q = if_nametoindex("in0q");
	vout = if_nametoindex("vout");
	vqos = if_nametoindex("vqos");
	memcpy(pm.mac, in0v_mac, 6);
	memcpy(pmq.mac, in0q_mac, 6);
	tx.port = rt.ifindex_out[1];
	if (bpf_map_update_elem(bpf_map__fd(fx.skel->maps.bond_members),
				&rt.ifindex_in1, &rt.ifindex_in0, BPF_ANY))
		return -1;
	if (bpf_map_update_elem(bpf_map__fd(fx.skel->maps.port_macs), &in0v, &pm, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(fx.skel->maps.vlan_rx), &rx, &in0v, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(fx.skel->maps.port_macs), &in0q, &pmq, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(fx.skel->maps.vlan_rx), &rxq, &in0q, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(fx.skel->maps.vlan_tx), &in0q, &txq, BPF_ANY))
		return -1;
	tx.vid = 300;
	if (bpf_map_update_elem(bpf_map__fd(fx.skel->maps.vlan_tx), &vout, &tx, BPF_ANY))
		return -1;
	tx.vid = 301;
	tx.egress_qos = 1;
	tx.egress_pcp = VQOS_PCP;
	if (bpf_map_update_elem(bpf_map__fd(fx.skel->maps.vlan_tx), &vqos, &tx, BPF_ANY))
		return -1;
	if ((id = standin_nexthop(vout, "10.0.20.2", vout_mac, vout_gw_mac)) < 0)
		return -1;
	vout_nh4 = id;
	if ((id = standin_nexthop(vout, "fd00:20::2", vout_mac, vout_gw_mac)) < 0)
		return -1;
	vout_nh6 = id;
	if ((id = standin_nexthop(vqos, "10.0.21.2", vqos_mac, vqos_gw_mac)) < 0)
		return -1;
	vqos_nh4 = id;
	if ((id = standin_nexthop(vqos, "fd00:21::2", vqos_mac, vqos_gw_mac)) < 0)
		return -1;
	vqos_nh6 = id;
	return nexthop_table_settle(&fx.nht) ? -1 : 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (router_load(&fx, hook))
		return -1;
	if (vlan_standins()) {
		router_unload(&fx);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	router_unload(&fx);
	return 0;
}

/*
 * The object loaded with its BTF: without it bpftool cannot show the maps'
 * types and libxdp's dispatcher refuses the program (a static const table
 * in a BPF function once made the kernel refuse the BTF, and libbpf loaded
 * the object without it, saying so only in its log).
 */
static void maps_carry_btf(void **state)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	(void)state;
	assert_int_equal(bpf_obj_get_info_by_fd(
		bpf_map__fd(fx.skel->maps.flow_pins), &info, &len), 0);
	assert_int_not_equal(info.btf_id, 0);
	assert_int_not_equal(info.btf_value_type_id, 0);
}

/*
 * XDP: a tagged frame too big for its pin's path MTU, the route moved away
 * from the pin: the error for the pinned path, back by the VLAN's port
 * with the VLAN's tag (priority 0, as the VLAN device tags the kernel's
 * own error), byte by byte; never the error built as if the frame were
 * untagged. vout's next hop gets a path MTU of 1280 for the test; in0 and
 * in0v are written as flowpind writes a port and its VLAN.
 */
static void tagged_too_big_for_a_moved_pin(void **state)
{
	struct pkt_spec small = TO4(IPPROTO_TCP, "198.18.20.30", .vlan = (5 << 13) | 100, .dmac = in0v_mac, .tcp_flags = TCP_SYN);
	struct pkt_spec big = small;
	struct bpf_devmap_val port = { .ifindex = rt.ifindex_in0 };
	struct vlan_tx in0v = { .port = rt.ifindex_in0, .proto = htons(0x8100), .vid = 100 };
	__u32 in0 = rt.ifindex_in0, in0v_ifindex = if_nametoindex("in0v");
	__u64 before[FP_STAT_MAX], after[FP_STAT_MAX];
	__u8 in[PKT_MAX], out[PKT_MAX], want[PKT_MAX];
	struct nexthop_addr a;
	__u32 out_len = 0;
	size_t len, want_len;
	__u8 gw[4];

	(void)state;
	if (fx.hook == HOOK_TC) {
		print_message("at tc: the test runner leaves the tag in the frame, where the kernel takes it out before tc\n");
		skip();
	}
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.tx_ports), &in0, &port, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.vlan_tx), &in0v_ifindex, &in0v, BPF_ANY), 0);
	big.payload = 1300;
	big.frag = 0x4000; /* DF */
	big.tcp_flags = TCP_ACK;
	inet_pton(AF_INET, "10.0.20.2", gw);
	nexthop_addr_from(&a, if_nametoindex("vout"), FP_AF_INET, gw);
	assert_int_equal(nexthop_table_set(&fx.nht, &a, vout_mac, vout_gw_mac, 1280, NH_ACTIVE), (int)vout_nh4);
	assert_int_equal(nexthop_table_settle(&fx.nht), 0);
	assert_int_equal(run_on_cpu(0), 0);
	len = pkt_build(&small, in);
	assert_int_equal(fixture_run(&fx, in, len, out, &out_len, rt.ifindex_in0), XDP_REDIRECT);
	assert_int_equal(sh("ip route replace 198.18.20.0/24 via 10.0.1.2 dev out1"), 0);
	len = pkt_build(&big, in);
	fixture_stats(&fx, before);
	assert_int_equal(fixture_run(&fx, in, len, out, &out_len, rt.ifindex_in0), XDP_REDIRECT);
	fixture_stats(&fx, after);
	assert_int_equal(after[FP_STAT_TOO_BIG_ICMP] - before[FP_STAT_TOO_BIG_ICMP], 1);
	/* the frame keeps its length: the rest is padding (too_big_move_quote()) */
	assert_int_equal(out_len, len);
	want_len = pkt_too_big_error(4, in, 18, 1280, want);
	want[14] = 0; /* VID 100, priority 0 */
	want[15] = 100;
	assert_memory_equal(out, want, want_len);
	assert_int_equal(sh("ip route replace 198.18.20.0/24 via 10.0.20.2 dev vout"), 0);
	assert_int_equal(nexthop_table_set(&fx.nht, &a, vout_mac, vout_gw_mac, 0, NH_ACTIVE), (int)vout_nh4);
	assert_int_equal(nexthop_table_settle(&fx.nht), 0);
	assert_int_equal(bpf_map_delete_elem(bpf_map__fd(fx.skel->maps.vlan_tx), &in0v_ifindex), 0);
	assert_int_equal(bpf_map_delete_elem(bpf_map__fd(fx.skel->maps.tx_ports), &in0), 0);
}

/* One frame of a flow through the tunnel stand-in: the verdict, one counter. */
static void tunnel_send(const struct pkt_spec *s, int verdict, __u32 stat,
			__u32 nh_id)
{
	static const __u8 none[6]; /* an IP tunnel's next hop has no MACs */
	__u64 before[FP_STAT_MAX], after[FP_STAT_MAX];
	__u8 in[PKT_MAX], out[PKT_MAX], want[PKT_MAX];
	size_t len = pkt_build(s, in);
	struct flow_key key;
	__u32 out_len = 0;

	fixture_stats(&fx, before);
	assert_int_equal(fixture_run(&fx, in, len, out, &out_len, rt.ifindex_in0), verdict);
	fixture_stats(&fx, after);
	assert_int_equal(after[stat] - before[stat], 1);
	assert_int_equal(out_len, len);
	pkt_flow_key(s, &key);
	if (verdict == XDP_PASS) {
		assert_memory_equal(out, in, len);
		assert_int_equal(pin_of(&fx, &key), 0);
		return;
	}
	memcpy(want, in, len);
	memcpy(want, none, 6);
	memcpy(want + 6, none, 6);
	if (s->family == 4) {
		want[14 + 8]--;
		want[14 + 10] = out[14 + 10];
		want[14 + 11] = out[14 + 11];
		assert_true(ipv4_csum_valid(out + 14));
	} else {
		want[14 + 7]--;
	}
	assert_memory_equal(out, want, len);
	assert_int_equal(pin_of(&fx, &key), nh_id);
}

/*
 * A next hop out of an IP tunnel (GRE, say; a veth plays it, written into
 * ip_tunnel_tx as flowpind writes such a device, its next hops without
 * MACs): tc pins the flow and sends it there, every byte as it came but
 * the TTL or hop limit and the checksum (the device takes the Ethernet
 * header off); without the entry, and at XDP, which has no way into a
 * tunnel, the kernel's (pass_no_tx_port), unpinned.
 */
static void ip_tunnel_next_hop(void **state)
{
	static const __u8 none[6];
	const struct pkt_spec s4[] = { SPEC(4, IPPROTO_UDP, CLIENT4, "198.18.30.7", 41001, 80),
				       SPEC(4, IPPROTO_UDP, CLIENT4, "198.18.30.7", 41002, 80) };
	const struct pkt_spec s6[] = { SPEC(6, IPPROTO_UDP, CLIENT6, "2001:db8:30::7", 41001, 80),
				       SPEC(6, IPPROTO_UDP, CLIENT6, "2001:db8:30::7", 41002, 80) };
	int fd = bpf_map__fd(fx.skel->maps.ip_tunnel_tx), nh4, nh6;
	__u32 tun;

	(void)state;
	assert_int_equal(run_on_cpu(0), 0);
	assert_int_equal(standin("tun0", "02:00:00:00:30:01", 30), 0);
	assert_int_equal(sh("ip neigh replace 10.0.30.2 lladdr 02:00:00:00:30:02 dev tun0 nud permanent && "
			    "ip neigh replace fd00:30::2 lladdr 02:00:00:00:30:02 dev tun0 nud permanent && "
			    "ip route add 198.18.30.0/24 via 10.0.30.2 dev tun0 && "
			    "ip -6 route add 2001:db8:30::/64 via fd00:30::2 dev tun0"), 0);
	tun = if_nametoindex("tun0");
	nh4 = standin_nexthop(tun, "10.0.30.2", none, none);
	nh6 = standin_nexthop(tun, "fd00:30::2", none, none);
	assert_true(nh4 > 0 && nh6 > 0);
	assert_int_equal(nexthop_table_settle(&fx.nht), 0);

	tunnel_send(&s4[0], XDP_PASS, FP_PASS_NO_TX_PORT, 0);
	tunnel_send(&s6[0], XDP_PASS, FP_PASS_NO_TX_PORT, 0);
	assert_int_equal(bpf_map_update_elem(fd, &tun, &tun, BPF_ANY), 0);
	if (fx.hook == HOOK_TC) {
		tunnel_send(&s4[1], XDP_REDIRECT, FP_STAT_PIN_NEW, nh4);
		tunnel_send(&s6[1], XDP_REDIRECT, FP_STAT_PIN_NEW, nh6);
	} else {
		tunnel_send(&s4[1], XDP_PASS, FP_PASS_NO_TX_PORT, 0);
		tunnel_send(&s6[1], XDP_PASS, FP_PASS_NO_TX_PORT, 0);
	}
	assert_int_equal(bpf_map_delete_elem(fd, &tun), 0);
	assert_int_equal(sh("ip link del tun0"), 0);
}

/*
 * Live: the program native on in0 (a veth), frames sent from its peer and
 * caught at an egress's peer as its kernel hands them on, which takes the
 * tag out (the packet socket tells it apart): the tag rewritten in place,
 * and what XDP leaves to the kernel not sent by the trunk at all.
 */
struct live_case {
	const char *name;
	struct pkt_spec spec;
	const char *out_peer;
	unsigned int tag; /* protocol << 16 | TCI it must arrive with; 0: passed */
	bool via_vqos;	  /* sent by vqos (its MACs), not vout */
};

static const struct live_case live_cases[] = {
	{ "live v4 tagged to a vlan: the tag rewritten", TO4(IPPROTO_UDP, "198.18.20.8", .vlan = (3 << 13) | 100, .dmac = in0v_mac), "out1p", 0x8100u << 16 | 300, false },
	{ "live v6 tagged to a vlan: the tag rewritten", TO6(IPPROTO_UDP, "2001:db8:20::8", .vlan = 100, .dmac = in0v_mac), "out1p", 0x8100u << 16 | 300, false },
	{ "live v4 tagged to a vlan with an egress-qos-map: the pcp of its tos", TO4(IPPROTO_UDP, "198.18.21.10", .tos = 0x10, .vlan = 100, .dmac = in0v_mac), "out1p", 0x8100u << 16 | TCI(7, 301), true },
	{ "live v6 tagged to a vlan with an egress-qos-map: priority 0's pcp", TO6(IPPROTO_UDP, "2001:db8:21::10", .tos = 0x10, .vlan = 100, .dmac = in0v_mac), "out1p", 0x8100u << 16 | TCI(1, 301), true },
	{ "live v4 untagged to a vlan: the kernel's, not by the trunk", TO4(IPPROTO_UDP, "198.18.20.9"), "out1p", 0, false },
	{ "live v4 tagged to a port: the kernel's, not by the port", TO4(IPPROTO_UDP, "198.18.22.9", .vlan = 100, .dmac = in0v_mac), "out2p", 0, false },
};

static void live_case(void **state)
{
	const struct live_case *c = *state;
	size_t len = pkt_build(&c->spec, live_in), l3 = pkt_l3_off(&c->spec);
	__u64 before[FP_STAT_MAX], after[FP_STAT_MAX];
	__u8 got[PKT_MAX], want[PKT_MAX];
	size_t want_len = 12 + len - (l3 - 2);
	unsigned int tag = ~0u;
	int n;

	/* the MACs, then the frame from its (inner) type on: TTL one less */
	memcpy(want, c->via_vqos ? vqos_gw_mac : vout_gw_mac, 6);
	memcpy(want + 6, c->via_vqos ? vqos_mac : vout_mac, 6);
	memcpy(want + 12, live_in + l3 - 2, len - (l3 - 2));
	fixture_stats(&fx, before);
	n = frame_through("in0p", c->out_peer, live_in, len, c->spec.family,
			  got, sizeof(got), &tag);
	fixture_stats(&fx, after);
	if (!c->tag) {
		assert_int_equal(n, 0);
		assert_int_equal(after[FP_PASS_VLAN_RETAG] - before[FP_PASS_VLAN_RETAG], 1);
		return;
	}
	assert_int_equal(n, want_len);
	assert_int_equal(tag, c->tag);
	if (c->spec.family == 4) {
		want[14 + 8]--;
		want[14 + 10] = got[14 + 10];
		want[14 + 11] = got[14 + 11];
		assert_true(ipv4_csum_valid(got + 14));
	} else {
		want[14 + 7]--;
	}
	assert_memory_equal(got, want, want_len);
}

static int live_setup(void **state)
{
	(void)state;
	if (group_setup(state))
		return -1;
	if (sh("ethtool -K out1p gro on >/dev/null && ethtool -K out2p gro on >/dev/null") ||
	    bpf_xdp_attach(rt.ifindex_in0, fx.prog_fd, XDP_FLAGS_DRV_MODE, NULL)) {
		group_teardown(state);
		return -1;
	}
	return 0;
}

int main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct CMUnitTest tests[n + 3];

	for (size_t i = 0; i < n; i++) {
		tests[i] = (struct CMUnitTest){
			.name = cases[i].name,
			.test_func = run_case,
			.initial_state = (void *)&cases[i],
		};
	}
	int failed;

	tests[n++] = (struct CMUnitTest){ .name = "maps carry btf",
					  .test_func = maps_carry_btf };
	tests[n++] = (struct CMUnitTest){ .name = "tagged, too big for a moved pin's path: the error, tagged",
					  .test_func = tagged_too_big_for_a_moved_pin };
	tests[n++] = (struct CMUnitTest){ .name = "a next hop out of an ip tunnel: tc pins it and redirects there, xdp passes",
					  .test_func = ip_tunnel_next_hop };
	/* the same table through both entry points */
	hook = HOOK_XDP;
	failed = _cmocka_run_group_tests("packets (xdp)", tests, n, group_setup,
					 group_teardown);
	hook = HOOK_TC;
	memset(egress_seen, 0, sizeof(egress_seen));
	failed |= _cmocka_run_group_tests("packets (tc)", tests, n,
					  group_setup, group_teardown);
	hook = HOOK_XDP;
	n = sizeof(live_cases) / sizeof(live_cases[0]);
	for (size_t i = 0; i < n; i++)
		tests[i] = (struct CMUnitTest){
			.name = live_cases[i].name,
			.test_func = live_case,
			.initial_state = (void *)&live_cases[i],
		};
	return failed | _cmocka_run_group_tests("packets (xdp, live on veth)",
						tests, n, live_setup,
						group_teardown);
}
