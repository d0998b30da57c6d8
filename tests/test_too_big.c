// SPDX-License-Identifier: GPL-2.0
/*
 * Pinned packets too big for their pinned path get the answer the kernel
 * would give on that path, never a forward over another next hop. While the
 * route still names the pin's next hop, the kernel answers (the packet is
 * passed untouched). Once it names another, flowpin answers itself: ICMP
 * "fragmentation needed" / ICMPv6 "packet too big" with the pinned port's
 * MTU, checked here byte by byte; what it cannot answer (IPv4 without DF)
 * is dropped and counted. Through both entry points, both families.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "fixture.h"
#include "netns.h"

#define TCP_SYN 0x02
#define IP_DF 0x4000
#define PORT_MTU 1300	 /* the pinned port's, lowered under the flow */
#define BIG_PAYLOAD 1400 /* over PORT_MTU with any header */

static const int four[] = { 1, 2, 3, 4 };

/* One program per entry point for all its tests, a flow of its own for each. */
static struct flowpin_fixture fx;
static enum fixture_hook hook;

/* One per family and entry point. */
struct test_state {
	int family;
	__u16 sport;		 /* this test's flow */
	int egress;		 /* the pinned flow's */
	__u64 base[FP_STAT_MAX]; /* counters when the test began */
};

static struct pkt_spec flow(const struct test_state *st, __u16 payload,
			    bool df)
{
	struct pkt_spec s = {
		.family = st->family,
		.proto = IPPROTO_TCP,
		.src = st->family == 4 ? CLIENT4 : CLIENT6,
		.dst = st->family == 4 ? SVC4 : SVC6,
		.sport = st->sport,
		.dport = 443,
		.payload = payload,
		.frag = st->family == 4 && df ? IP_DF : 0,
	};
	return s;
}

/* How much a counter moved since the test began. */
static __u64 moved(struct test_state *st, enum fp_stat idx)
{
	__u64 sum[FP_STAT_MAX];

	fixture_stats(&fx, sum);
	return sum[idx] - st->base[idx];
}

/* The verdict of one frame of s; out holds what the program left. */
static int send_frame(const struct pkt_spec *s, __u8 *in, size_t *len,
		      __u8 *out, __u32 *out_len, __u16 gso_size)
{
	*len = pkt_build(s, in);
	return fixture_run_gso(&fx, in, *len, out, out_len, rt.ifindex_in0,
			       gso_size);
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/* The kernel's error for `in`, an untagged frame (tests/lib/packets.h). */
static size_t expected_error(int family, const __u8 *in, __u16 mtu, __u8 *want)
{
	return pkt_too_big_error(family, in, 14, mtu, want);
}

/*
 * The same for a GSO skb, whose TCP checksum the egress finishes
 * (CHECKSUM_PARTIAL) in the quote: the error's ICMP checksum covers the
 * value the egress will write, so it holds once the frame leaves.
 */
static size_t expected_error_gso(int family, const __u8 *in, __u16 mtu,
				 __u8 *want)
{
	size_t len = expected_error(family, in, mtu, want);
	size_t icmp = 14 + (family == 4 ? 20 : 40);
	size_t l4 = icmp + 8 + (family == 4 ? 20 : 40);
	__u8 nic[PKT_MAX];
	__u32 sum = 0;

	memcpy(nic, want, len);
	put16(nic + l4 + 16, ~csum16(nic + l4, len - l4, 0) ?: 0xffff);
	put16(nic + icmp + 2, 0);
	if (family == 6)
		sum = csum16(nic + 14 + 8, 32, 0) + 8 + 1232 + IPPROTO_ICMPV6;
	put16(nic + icmp + 2, ~csum16(nic + icmp, len - icmp, sum));
	/* the frame as it leaves flowpin: the quote as it came */
	memcpy(want + icmp + 2, nic + icmp + 2, 2);
	return len;
}

/*
 * The error left by the program: at tc, the frame cut to it; at XDP, the
 * frame as long as it came (the rest is padding the receiver's IP layer
 * trims: XDP does not change a frame's bounds, see too_big_move_quote()).
 */
static void check_error(const __u8 *out, __u32 out_len, size_t in_len,
			const __u8 *want, size_t want_len)
{
	assert_int_equal(out_len, hook == HOOK_TC ? want_len : in_len);
	assert_memory_equal(out, want, want_len);
}

/* A new flow is pinned on a 4-way route, and its port's MTU lowered. */
static int setup(void **state)
{
	struct test_state *st = *state;
	__u8 in[PKT_MAX], out[PKT_MAX];
	struct pkt_spec syn;
	__u32 out_len;
	size_t len;

	if (route_svc(four, 4))
		return -1;
	st->sport++;
	syn = flow(st, 0, true);
	syn.tcp_flags = TCP_SYN;
	if (send_frame(&syn, in, &len, out, &out_len, 0) != XDP_REDIRECT)
		return -1;
	st->egress = egress_of(out);
	if (st->egress < 1 || st->egress > 4)
		return -1;
	fixture_stats(&fx, st->base);
	return sh("ip link set out%d mtu %d", st->egress, PORT_MTU);
}

static int teardown(void **state)
{
	struct test_state *st = *state;

	sh("ip link set out%d mtu 1500", st->egress);
	return route_svc(four, 4);
}

/* Route the service over the three ports the flow is not pinned to. */
static void route_away(const struct test_state *st)
{
	int others[3], n = 0;

	for (int e = 1; e <= 4; e++)
		if (e != st->egress)
			others[n++] = e;
	assert_int_equal(route_svc(others, 3), 0);
}

/* The route still names the pin's next hop: the kernel's to answer. */
static void same_path_is_the_kernels(void **state)
{
	struct test_state *st = *state;
	__u8 in[PKT_MAX], out[PKT_MAX];
	__u64 mtu = moved(st, FP_PASS_MTU);
	struct pkt_spec s;
	__u32 out_len;
	size_t len;

	for (int df = 0; df <= 1; df++) {
		s = flow(st, BIG_PAYLOAD, df);
		assert_int_equal(send_frame(&s, in, &len, out, &out_len, 0),
				 XDP_PASS);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, in, len);
	}
	assert_int_equal(moved(st, FP_PASS_MTU), mtu + 2);
	assert_int_equal(moved(st, FP_STAT_TOO_BIG_ICMP), 0);
	/* what fits still leaves by the pin */
	s = flow(st, 1000, true);
	assert_int_equal(send_frame(&s, in, &len, out, &out_len, 0),
			 XDP_REDIRECT);
	assert_int_equal(egress_of(out), st->egress);
}

/* The route moved: the error for the pinned path, byte by byte. */
static void moved_route_gets_the_pinned_paths_error(void **state)
{
	struct test_state *st = *state;
	__u8 in[PKT_MAX], out[PKT_MAX], want[PKT_MAX];
	struct pkt_spec s = flow(st, BIG_PAYLOAD, true);
	__u64 mtu = moved(st, FP_PASS_MTU);
	size_t len, want_len;
	__u32 out_len;

	route_away(st);
	/* redirected to the ingress port */
	assert_int_equal(send_frame(&s, in, &len, out, &out_len, 0),
			 XDP_REDIRECT);
	want_len = expected_error(st->family, in, PORT_MTU, want);
	check_error(out, out_len, len, want, want_len);
	assert_int_equal(moved(st, FP_STAT_TOO_BIG_ICMP), 1);
	assert_int_equal(moved(st, FP_PASS_MTU), mtu);
	assert_int_equal(moved(st, FP_STAT_FORWARDED), 0);

	/* the sender's smaller packets keep the pin */
	s = flow(st, 1000, true);
	assert_int_equal(send_frame(&s, in, &len, out, &out_len, 0),
			 XDP_REDIRECT);
	assert_int_equal(egress_of(out), st->egress);
}

/* IPv4 without DF: the kernel would fragment it towards the pin. */
static void moved_route_without_df_is_dropped(void **state)
{
	struct test_state *st = *state;
	__u8 in[PKT_MAX], out[PKT_MAX];
	struct pkt_spec s = flow(st, BIG_PAYLOAD, false);
	__u32 out_len;
	size_t len;

	if (st->family == 6) {
		print_message("IPv6: routers never fragment\n");
		skip();
	}
	route_away(st);
	assert_int_equal(send_frame(&s, in, &len, out, &out_len, 0), XDP_DROP);
	assert_int_equal(moved(st, FP_STAT_TOO_BIG_DROP), 1);
	assert_int_equal(moved(st, FP_STAT_TOO_BIG_ICMP), 0);
}

/* tc: a GSO skb's segments over the pinned port's MTU. */
static void moved_route_gso_gets_the_error(void **state)
{
	struct test_state *st = *state;
	__u8 in[PKT_MAX], out[PKT_MAX], want[PKT_MAX];
	struct pkt_spec s = flow(st, 1900, true);
	__u64 mtu = moved(st, FP_PASS_MTU);
	size_t len, want_len;
	__u32 out_len;

	if (hook != HOOK_TC) {
		print_message("at XDP: frames are never GSO\n");
		skip();
	}
	/* on the same path: the kernel segments and answers */
	assert_int_equal(send_frame(&s, in, &len, out, &out_len, 1400), XDP_PASS);
	assert_int_equal(moved(st, FP_PASS_MTU), mtu + 1);
	route_away(st);
	assert_int_equal(send_frame(&s, in, &len, out, &out_len, 1400),
			 XDP_REDIRECT);
	want_len = expected_error_gso(st->family, in, PORT_MTU, want);
	check_error(out, out_len, len, want, want_len);
	assert_int_equal(moved(st, FP_STAT_TOO_BIG_ICMP), 1);
	/* segments that fit leave whole, by the pin */
	assert_int_equal(send_frame(&s, in, &len, out, &out_len, 1000),
			 XDP_REDIRECT);
	assert_int_equal(egress_of(out), st->egress);
}

/*
 * A route's MTU, or IPv6's, below the device's: the control plane puts it
 * in the next hop, and the datapath holds pinned packets to it.
 */
static void path_mtu_below_the_device(void **state)
{
	struct test_state *st = *state;
	__u8 in[PKT_MAX], out[PKT_MAX], want[PKT_MAX];
	struct pkt_spec s = flow(st, 1260, true); /* 1300 bytes or more */
	__u32 id = st->family == 4 ? fx.nh4[st->egress] :
				     fx.nh6[st->egress];
	const struct nexthop *nh = nexthop_table_get(&fx.nht, id);
	__u64 mtu = moved(st, FP_PASS_MTU);
	struct nexthop_addr addr;
	size_t len, want_len;
	__u32 out_len;

	assert_int_equal(sh("ip link set out%d mtu 1500", st->egress), 0);
	assert_non_null(nh);
	nexthop_addr_of(&addr, nh);
	assert_int_equal(nexthop_table_set(&fx.nht, &addr, nh->smac,
					   nh->dmac, 1280, NH_ACTIVE),
			 (int)id);
	/* on the same path: the kernel's, which knows the route's MTU */
	assert_int_equal(send_frame(&s, in, &len, out, &out_len, 0), XDP_PASS);
	assert_int_equal(moved(st, FP_PASS_MTU), mtu + 1);
	route_away(st);
	assert_int_equal(send_frame(&s, in, &len, out, &out_len, 0),
			 XDP_REDIRECT);
	want_len = expected_error(st->family, in, 1280, want);
	check_error(out, out_len, len, want, want_len);
	/* what fits the path leaves by the pin */
	s = flow(st, 1000, true);
	assert_int_equal(send_frame(&s, in, &len, out, &out_len, 0),
			 XDP_REDIRECT);
	assert_int_equal(egress_of(out), st->egress);
	/* the next test's next hop has the device's MTU again */
	assert_int_equal(nexthop_table_set(&fx.nht, &addr, nh->smac,
					   nh->dmac, 0, NH_ACTIVE),
			 (int)id);
}

static int group_setup(void **state)
{
	struct fixture_opts o = { .policy = FP_WITHDRAWN_DRAIN,
				  .cache_check_ns = FP_CACHE_CHECK_NS,
				  .hook = hook };
	struct bpf_devmap_val port = {};
	__u32 in0;

	(void)state;
	if (router_create() || fixture_load_opts(&fx, &o))
		return -1;
	/* the errors leave by the ingress port: one of flowpin's, as all are */
	in0 = port.ifindex = rt.ifindex_in0;
	return bpf_map_update_elem(bpf_map__fd(fx.skel->maps.tx_ports), &in0,
				   &port, BPF_ANY);
}

static int group_teardown(void **state)
{
	(void)state;
	fixture_unload(&fx);
	router_destroy();
	return 0;
}

#define CASE(fn, st, fam) { #fn " " fam, fn, setup, teardown, &st }
#define CASES(st, fam)                                                         \
	CASE(same_path_is_the_kernels, st, fam),                               \
	CASE(moved_route_gets_the_pinned_paths_error, st, fam),                \
	CASE(moved_route_without_df_is_dropped, st, fam),                      \
	CASE(moved_route_gso_gets_the_error, st, fam),                         \
	CASE(path_mtu_below_the_device, st, fam)

int main(void)
{
	static struct test_state x4 = { .family = 4, .sport = 33000 },
				 x6 = { .family = 6, .sport = 33000 },
				 t4 = { .family = 4, .sport = 33000 },
				 t6 = { .family = 6, .sport = 33000 };
	const struct CMUnitTest xdp[] = { CASES(x4, "v4"), CASES(x6, "v6") },
				tc[] = { CASES(t4, "v4"), CASES(t6, "v6") };
	int failed;

	hook = HOOK_XDP;
	failed = cmocka_run_group_tests_name("too big (xdp)", xdp, group_setup,
					     group_teardown);
	hook = HOOK_TC;
	return failed | cmocka_run_group_tests_name("too big (tc)", tc,
						    group_setup,
						    group_teardown);
}
