// SPDX-License-Identifier: GPL-2.0
/*
 * The core promise at the packet level: flows keep their next hop when the
 * route changes, when they move to another CPU, and when their neighbour's
 * MAC changes; they let go of next hops that die or are withdrawn (repin).
 * Each test loads a fresh program in the router namespace of fixture.c and
 * plays the control plane itself through loader/nexthop_table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "daemon.h"
#include "test_skip.h"
#include "fixture.h"
#include "flow_cache.h"
#include "netns.h"

#define N_FLOWS 256
#define TCP_SYN 0x02
#define TCP_ACK 0x10

static const int four[] = { 1, 2, 3, 4 };
static const int five[] = { 1, 2, 3, 4, 5 };
static const int three[] = { 1, 2, 3 };

struct test_state {
	int family;
	struct flowpin_fixture fx;
};

static struct pkt_spec flow(int family, __u16 sport, __u8 flags)
{
	struct pkt_spec s = {
		.family = family,
		.proto = IPPROTO_TCP,
		.src = family == 4 ? CLIENT4 : CLIENT6,
		.dst = family == 4 ? SVC4 : SVC6,
		.sport = sport,
		.dport = 443,
		.tcp_flags = flags,
	};
	return s;
}

/* Egress (1..5) one packet of the flow takes, 0 when passed to the kernel. */
static int send_spec(struct flowpin_fixture *fx, const struct pkt_spec *s,
		     int cpu)
{
	int e = fixture_send(fx, s, cpu);

	assert_true(e >= 0);
	return e;
}

static int send_flow(struct test_state *st, __u16 sport, __u8 flags, int cpu)
{
	struct pkt_spec s = flow(st->family, sport, flags);

	return send_spec(&st->fx, &s, cpu);
}

static __u32 nh_id(struct test_state *st, int egress)
{
	return st->family == 4 ? st->fx.nh4[egress] : st->fx.nh6[egress];
}

static __u64 stat_of(struct flowpin_fixture *fx, enum fp_stat idx)
{
	__u64 sum[FP_STAT_MAX];

	fixture_stats(fx, sum);
	return sum[idx];
}

/* Pin N_FLOWS flows (sports base..) and return their egress. */
static void pin_flows(struct test_state *st, __u16 base, int *egress)
{
	int used = 0;

	for (int i = 0; i < N_FLOWS; i++) {
		egress[i] = send_flow(st, base + i, TCP_SYN, i & 1);
		assert_in_range(egress[i], 1, 4);
		used |= 1 << egress[i];
	}
	assert_int_equal(used, OUT_MASK_SVC); /* the ports spread them */
}

/* New flows must spread over exactly these egress numbers. */
static void check_spread(struct test_state *st, __u16 base, const int *outs,
			 int n)
{
	int count[N_OUT + 1] = {};
	int want = 0, got = 0;

	for (int i = 0; i < N_FLOWS; i++)
		count[send_flow(st, base + i, TCP_SYN, 0)]++;
	for (int i = 0; i < n; i++)
		want |= 1 << outs[i];
	for (int e = 0; e <= N_OUT; e++)
		if (count[e])
			got |= 1 << e;
	print_message("    new flows per egress: %d %d %d %d %d\n", count[1],
		      count[2], count[3], count[4], count[5]);
	assert_int_equal(got, want);
	for (int i = 0; i < n; i++)
		assert_true(count[outs[i]] >= N_FLOWS / n / 3);
}

/*
 * How many of the flows would the kernel alone move: a program with no
 * pins resolves each through the FIB as it is now.
 */
static int kernel_moves(struct test_state *st, __u16 base, const int *egress)
{
	struct flowpin_fixture fresh;
	int moved = 0;

	assert_int_equal(fixture_load(&fresh, FP_WITHDRAWN_DRAIN, FP_CACHE_CHECK_NS), 0);
	for (int i = 0; i < N_FLOWS; i++) {
		struct pkt_spec s = flow(st->family, base + i, TCP_ACK);

		moved += send_spec(&fresh, &s, 0) != egress[i];
	}
	fixture_unload(&fresh);
	return moved;
}

static int setup(void **state)
{
	struct test_state *st = *state;

	if (route_svc(four, 4))
		return -1;
	return fixture_load(&st->fx, FP_WITHDRAWN_DRAIN, FP_CACHE_CHECK_NS);
}

static int setup_repin(void **state)
{
	struct test_state *st = *state;

	if (route_svc(four, 4))
		return -1;
	return fixture_load(&st->fx, FP_WITHDRAWN_REPIN, FP_CACHE_CHECK_NS);
}

static int setup_sync_always(void **state)
{
	struct test_state *st = *state;

	if (route_svc(four, 4))
		return -1;
	return fixture_load(&st->fx, FP_WITHDRAWN_DRAIN, 0);
}

static int teardown(void **state)
{
	struct test_state *st = *state;

	fixture_unload(&st->fx);
	return route_svc(four, 4);
}

/*
 * 256 flows over 4 next hops; a fifth is added, then one of the four is
 * withdrawn. With drain, every pinned flow keeps its next hop throughout.
 */
static void route_change_drain(void **state)
{
	struct test_state *st = *state;
	int egress[N_FLOWS], moved;

	pin_flows(st, 20000, egress);

	assert_int_equal(route_svc(five, 5), 0);
	moved = kernel_moves(st, 20000, egress);
	print_message("    add a 5th next hop: the kernel alone moves %d of %d flows\n",
		      moved, N_FLOWS);
	assert_true(moved > 0);
	for (int i = 0; i < N_FLOWS; i++)
		assert_int_equal(send_flow(st, 20000 + i, TCP_ACK, i & 1), egress[i]);
	check_spread(st, 30000, five, 5);

	assert_int_equal(route_svc(three, 3), 0);
	assert_int_equal(nexthop_table_set_state(&st->fx.nht, nh_id(st, 4), NH_WITHDRAWN), 0);
	assert_int_equal(nexthop_table_set_state(&st->fx.nht, nh_id(st, 5), NH_WITHDRAWN), 0);
	moved = kernel_moves(st, 20000, egress);
	print_message("    back to 3 of the 4: the kernel alone moves %d of %d flows\n",
		      moved, N_FLOWS);
	for (int i = 0; i < N_FLOWS; i++)
		assert_int_equal(send_flow(st, 20000 + i, TCP_ACK, i & 1), egress[i]);
	check_spread(st, 40000, three, 3);
	assert_int_equal(stat_of(&st->fx, FP_STAT_LOST_PIN), 0);
}

/* With repin, only the withdrawn next hop's flows move, and only to the rest. */
static void route_change_repin(void **state)
{
	struct test_state *st = *state;
	int egress[N_FLOWS], on4 = 0;

	pin_flows(st, 20000, egress);
	assert_int_equal(route_svc(five, 5), 0);
	for (int i = 0; i < N_FLOWS; i++)
		assert_int_equal(send_flow(st, 20000 + i, TCP_ACK, 0), egress[i]);

	assert_int_equal(route_svc(three, 3), 0);
	assert_int_equal(nexthop_table_set_state(&st->fx.nht, nh_id(st, 4), NH_WITHDRAWN), 0);
	assert_int_equal(nexthop_table_set_state(&st->fx.nht, nh_id(st, 5), NH_WITHDRAWN), 0);
	for (int i = 0; i < N_FLOWS; i++) {
		int e = send_flow(st, 20000 + i, TCP_ACK, i & 1);

		if (egress[i] == 4) {
			on4++;
			assert_in_range(e, 1, 3);
		} else {
			assert_int_equal(e, egress[i]);
		}
	}
	assert_true(on4 > 0);
	assert_int_equal(stat_of(&st->fx, FP_STAT_PIN_STALE), on4);
	check_spread(st, 40000, three, 3);
}

/* A flow pinned on CPU 0 keeps its next hop on CPU 1, across a route change. */
static void cpu_migration(void **state)
{
	struct test_state *st = *state;
	int egress[N_FLOWS];

	for (int i = 0; i < N_FLOWS; i++)
		egress[i] = send_flow(st, 21000 + i, TCP_SYN, 0);
	assert_int_equal(route_svc(five, 5), 0);
	assert_true(kernel_moves(st, 21000, egress) > 0);
	for (int i = 0; i < N_FLOWS; i++)
		assert_int_equal(send_flow(st, 21000 + i, TCP_ACK, 1), egress[i]);
	assert_int_equal(stat_of(&st->fx, FP_STAT_PIN_HIT), N_FLOWS);
	/* CPU 0's second packet: the shared pin, now in its cache too */
	for (int i = 0; i < N_FLOWS; i++)
		assert_int_equal(send_flow(st, 21000 + i, TCP_ACK, 0), egress[i]);
	assert_int_equal(stat_of(&st->fx, FP_STAT_PIN_HIT), 2 * N_FLOWS);
	for (int i = 0; i < N_FLOWS; i++)
		assert_int_equal(send_flow(st, 21000 + i, TCP_ACK, 0), egress[i]);
	assert_int_equal(stat_of(&st->fx, FP_STAT_CACHE_HIT), N_FLOWS);
}

/* The online CPUs' numbers (there may be gaps); returns how many. */
static int online_cpus(int *cpus, int max)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	int n = 0, a, b;
	char sep;

	assert_non_null(f);
	while (n < max && fscanf(f, "%d", &a) == 1) {
		b = a;
		if (fscanf(f, "%c", &sep) == 1 && sep == '-' &&
		    fscanf(f, "%d", &b) == 1)
			fscanf(f, "%c", &sep);
		for (int c = a; c <= b && n < max; c++)
			cpus[n++] = c;
	}
	fclose(f);
	return n;
}

/* Each possible CPU's own value of a counter. */
static void stat_per_cpu(struct flowpin_fixture *fx, enum fp_stat idx,
			 __u64 *vals)
{
	__u32 key = idx;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.stats),
					     &key, vals), 0);
}

/*
 * Every CPU, however many there are (the kernel matrix runs this on 8):
 * flow i is pinned on CPU i % n; after a fifth backend, every CPU sends
 * each flow where it was pinned, first from the shared table, then from
 * its own copy. Each CPU's counters say exactly that, and each CPU's copy
 * holds the flow's pin.
 */
static void every_cpu_keeps_the_pin(void **state)
{
	struct test_state *st = *state;
	struct flowpin_fixture *fx = &st->fx;
	int possible = libbpf_num_possible_cpus(), cpus[possible];
	int n = online_cpus(cpus, possible);
	int cache = bpf_map__fd(fx->skel->maps.flow_cache);
	int tags = bpf_map__fd(fx->skel->maps.flow_cache_tags);
	__u64 news[possible], shared[possible], cached[possible], fwd[possible];
	struct flow_pin copies[possible];
	int egress[N_FLOWS];
	struct flow_key key;

	print_message("    %d CPUs online, %d possible\n", n, possible);
	assert_true(n >= 2);
	for (int i = 0; i < N_FLOWS; i++)
		egress[i] = send_flow(st, 30000 + i, TCP_SYN, cpus[i % n]);
	assert_int_equal(route_svc(five, 5), 0);
	assert_true(kernel_moves(st, 30000, egress) > 0);
	for (int pass = 0; pass < 2; pass++)
		for (int k = 0; k < n; k++)
			for (int i = 0; i < N_FLOWS; i++)
				assert_int_equal(send_flow(st, 30000 + i, TCP_ACK,
							   cpus[k]),
						 egress[i]);

	stat_per_cpu(fx, FP_STAT_PIN_NEW, news);
	stat_per_cpu(fx, FP_STAT_PIN_HIT, shared);
	stat_per_cpu(fx, FP_STAT_CACHE_HIT, cached);
	stat_per_cpu(fx, FP_STAT_FORWARDED, fwd);
	for (int c = 0; c < possible; c++) {
		__u64 mine = 0, each = 0;

		for (int k = 0; k < n; k++)
			if (cpus[k] == c) {
				mine = (N_FLOWS - k + n - 1) / n;
				each = N_FLOWS;
			}
		assert_int_equal(news[c], mine);
		assert_int_equal(shared[c], each);
		assert_int_equal(cached[c], each);
		assert_int_equal(fwd[c], mine + 2 * each);
	}
	for (int i = 0; i < N_FLOWS; i++) {
		struct pkt_spec s = flow(st->family, 30000 + i, TCP_ACK);

		pkt_flow_key(&s, &key);
		assert_int_equal(flow_cache_copies(cache, tags, possible, &key,
						   copies), 0);
		for (int k = 0; k < n; k++)
			assert_int_equal(copies[cpus[k]].nh_id,
					 nh_id(st, egress[i]));
	}
}

/* A neighbour's new MAC is followed by every flow pinned to it, in place. */
static void mac_change(void **state)
{
	struct test_state *st = *state;
	static const __u8 new_mac[6] = { 0x02, 0xbe, 0xef, 0, 0x02, 0x02 };
	const struct nexthop *nh = nexthop_table_get(&st->fx.nht, nh_id(st, 2));
	struct nexthop_addr addr;
	__u8 in[PKT_MAX], out[PKT_MAX];
	int egress[N_FLOWS], on2 = 0;
	__u32 out_len;

	for (int i = 0; i < N_FLOWS; i++)
		egress[i] = send_flow(st, 22000 + i, TCP_SYN, 0);
	assert_non_null(nh);
	nexthop_addr_of(&addr, nh);
	assert_int_equal(nexthop_table_set(&st->fx.nht, &addr, nh->smac, new_mac,
					   0, NH_ACTIVE), (int)nh_id(st, 2));

	for (int i = 0; i < N_FLOWS; i++) {
		struct pkt_spec s = flow(st->family, 22000 + i, TCP_ACK);
		size_t len = pkt_build(&s, in);

		assert_int_equal(fixture_run(&st->fx, in, len, out, &out_len,
					     rt.ifindex_in0), XDP_REDIRECT);
		if (egress[i] == 2) {
			on2++;
			assert_memory_equal(out, new_mac, 6);
			assert_memory_equal(out + 6, rt.out_mac[2], 6);
		} else {
			assert_int_equal(egress_of(out), egress[i]);
		}
	}
	assert_true(on2 > 0);
	assert_int_equal(stat_of(&st->fx, FP_STAT_PIN_STALE), 0);
}

/* A dead next hop's flows are resolved again; the others stay. */
static void dead_nexthop(void **state)
{
	struct test_state *st = *state;
	static const int no3[] = { 1, 2, 4 };
	int egress[N_FLOWS], on3 = 0;

	for (int i = 0; i < N_FLOWS; i++)
		egress[i] = send_flow(st, 23000 + i, TCP_SYN, 0);
	/* in drain mode too: death is not a withdrawal */
	assert_int_equal(nexthop_table_set_state(&st->fx.nht, nh_id(st, 3), NH_DEAD), 0);
	assert_int_equal(route_svc(no3, 3), 0);
	for (int i = 0; i < N_FLOWS; i++) {
		int e = send_flow(st, 23000 + i, TCP_ACK, 1);

		if (egress[i] == 3) {
			on3++;
			assert_true(e == 1 || e == 2 || e == 4);
		} else {
			assert_int_equal(e, egress[i]);
		}
	}
	assert_true(on3 > 0);
	assert_int_equal(stat_of(&st->fx, FP_STAT_PIN_STALE), on3);
}

/*
 * A port's L3 domain (its VRF) is part of the flow's key: the same 5-tuple
 * through a port of another domain is another flow. (The kernel matrix
 * runs test_vrf with real VRFs; this kernel has none.)
 */
static void l3_domain_in_key(void **state)
{
	struct test_state *st = *state;
	struct port_mac pm = { .mac = { 0x02, 0, 0, 0, 0, 0x01 }, .l3dom = 7 };
	struct pkt_spec s = flow(st->family, 25500, TCP_SYN);
	int fd = bpf_map__fd(st->fx.skel->maps.port_macs);
	__u32 in0 = rt.ifindex_in0;
	struct flow_key key;

	assert_int_equal(bpf_map_update_elem(fd, &in0, &pm, BPF_EXIST), 0);
	assert_in_range(send_flow(st, 25500, TCP_SYN, 0), 1, 4);
	pkt_flow_key(&s, &key);
	assert_int_equal(pin_of(&st->fx, &key), 0);
	key.l3dom = 7;
	assert_int_not_equal(pin_of(&st->fx, &key), 0);
	/* back in no domain: a flow of its own, pinned anew */
	pm.l3dom = 0;
	assert_int_equal(bpf_map_update_elem(fd, &in0, &pm, BPF_EXIST), 0);
	assert_in_range(send_flow(st, 25500, TCP_ACK, 0), 1, 4);
	key.l3dom = 0;
	assert_int_not_equal(pin_of(&st->fx, &key), 0);
	assert_int_equal(stat_of(&st->fx, FP_STAT_LOST_PIN), 1);
}

/*
 * flowpind silent longer than the bound (its beat 60 s old, the bound 30 s):
 * new flows go to the kernel, unpinned; a pinned flow keeps its next hop.
 * A fresh beat: new flows are pinned again.
 */
static void silent_daemon_pins_nothing_new(void **state)
{
	struct test_state *st = *state;
	struct fixture_opts o = {
		.policy = FP_WITHDRAWN_DRAIN,
		.cache_check_ns = FP_CACHE_CHECK_NS,
		.daemon_silent_ns = 30000000000ULL,
	};
	struct flowpin_fixture *fx = &st->fx;
	struct timespec ts;
	__u32 zero = 0;
	__u64 now, beat;
	int fd, e;

	fixture_unload(fx);
	assert_int_equal(fixture_load_opts(fx, &o), 0);
	fd = bpf_map__fd(fx->skel->maps.heartbeat);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	beat = now;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &beat, BPF_ANY), 0);
	e = send_flow(st, 25600, TCP_SYN, 0);
	assert_in_range(e, 1, 4);

	beat = now - 60000000000ULL;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &beat, BPF_ANY), 0);
	assert_int_equal(send_flow(st, 25601, TCP_SYN, 0), 0);
	assert_int_equal(stat_of(fx, FP_PASS_DAEMON_SILENT), 1);
	assert_int_equal(send_flow(st, 25600, TCP_ACK, 1), e); /* pinned: kept */

	beat = now;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &beat, BPF_ANY), 0);
	assert_in_range(send_flow(st, 25601, TCP_SYN, 0), 1, 4);
	assert_int_equal(stat_of(fx, FP_PASS_DAEMON_SILENT), 1);
}

/* Pinned packets skip the FIB: the egress MTU is still enforced. */
static void pinned_mtu(void **state)
{
	struct test_state *st = *state;
	struct pkt_spec big = flow(st->family, 24000, TCP_ACK);
	int e = send_flow(st, 24000, TCP_SYN, 0);
	__u64 before = stat_of(&st->fx, FP_PASS_MTU);

	assert_in_range(e, 1, 4);
	assert_int_equal(sh("ip link set out%d mtu 1280", e), 0);
	big.payload = 1300;
	assert_int_equal(send_spec(&st->fx, &big, 0), 0);
	assert_int_equal(stat_of(&st->fx, FP_PASS_MTU), before + 1);
	big.payload = 1000;
	assert_int_equal(send_spec(&st->fx, &big, 0), e);
	assert_int_equal(sh("ip link set out%d mtu 1500", e), 0);
}

/*
 * A pinned flow whose egress port leaves tx_ports goes to the kernel,
 * counted, and keeps its pin: it is forwarded again once the port is back.
 * A frame too big for that port is counted for the missing port, not the
 * MTU.
 */
static void port_removed(struct test_state *st)
{
	int tx_fd = bpf_map__fd(st->fx.skel->maps.tx_ports);
	int e = send_flow(st, 26000, TCP_SYN, 0);
	__u64 fails = stat_of(&st->fx, FP_STAT_REDIRECT_FAIL);
	__u64 no_port = stat_of(&st->fx, FP_PASS_NO_TX_PORT);
	__u64 mtu = stat_of(&st->fx, FP_PASS_MTU);
	struct pkt_spec big = flow(st->family, 26000, TCP_ACK);
	struct bpf_devmap_val v = {};
	__u32 key;

	assert_in_range(e, 1, 4);
	assert_int_equal(send_flow(st, 26000, TCP_ACK, 0), e); /* cached now */
	key = v.ifindex = rt.ifindex_out[e];
	assert_int_equal(bpf_map_delete_elem(tx_fd, &key), 0);
	assert_int_equal(send_flow(st, 26000, TCP_ACK, 0), 0);
	assert_int_equal(send_flow(st, 26000, TCP_ACK, 1), 0);
	assert_int_equal(stat_of(&st->fx, FP_STAT_REDIRECT_FAIL), fails + 2);
	big.payload = 1600;
	assert_int_equal(send_spec(&st->fx, &big, 0), 0);
	assert_int_equal(stat_of(&st->fx, FP_PASS_NO_TX_PORT), no_port + 1);
	assert_int_equal(stat_of(&st->fx, FP_PASS_MTU), mtu);
	assert_int_equal(bpf_map_update_elem(tx_fd, &key, &v, BPF_ANY), 0);
	assert_int_equal(send_flow(st, 26000, TCP_ACK, 0), e);
	assert_int_equal(send_flow(st, 26000, TCP_ACK, 1), e);
	assert_int_equal(send_spec(&st->fx, &big, 0), 0);
	assert_int_equal(stat_of(&st->fx, FP_PASS_MTU), mtu + 1);
}

/*
 * A pinned flow whose port left tx_ports goes to the kernel, at both entry
 * points: XDP's bpf_redirect_map() refuses it, tc checks tx_ports before
 * bpf_redirect(), which would take any device.
 */
static void pinned_port_removed(void **state)
{
	struct test_state *st = *state;
	struct fixture_opts o = { .policy = FP_WITHDRAWN_DRAIN,
				  .cache_check_ns = FP_CACHE_CHECK_NS,
				  .hook = HOOK_TC };

	port_removed(st);
	fixture_unload(&st->fx);
	assert_int_equal(fixture_load_opts(&st->fx, &o), 0);
	port_removed(st);
}

/*
 * A pin lost from flow_pins (evicted, flushed) while this CPU still serves
 * the flow from its cache is put back, so other CPUs agree.
 */
static void cache_republishes(void **state)
{
	struct test_state *st = *state;
	int pins_fd = bpf_map__fd(st->fx.skel->maps.flow_pins);
	int egress[N_FLOWS];
	struct flow_key key;

	pin_flows(st, 25000, egress);
	for (int i = 0; i < N_FLOWS; i++) {
		struct pkt_spec s = flow(st->family, 25000 + i, TCP_ACK);

		/* the second packet puts the flow in its CPU's cache */
		assert_int_equal(send_spec(&st->fx, &s, i & 1), egress[i]);
		pkt_flow_key(&s, &key);
		assert_int_equal(bpf_map_delete_elem(pins_fd, &key), 0);
	}
	assert_int_equal(route_svc(five, 5), 0);
	assert_true(kernel_moves(st, 25000, egress) > 0);
	for (int i = 0; i < N_FLOWS; i++) {
		struct pkt_spec s = flow(st->family, 25000 + i, TCP_ACK);
		int cpu = i & 1; /* the CPU whose cache holds the flow */

		assert_int_equal(send_spec(&st->fx, &s, cpu), egress[i]);
		pkt_flow_key(&s, &key);
		assert_int_equal(pin_of(&st->fx, &key), nh_id(st, egress[i]));
		assert_int_equal(send_spec(&st->fx, &s, !cpu), egress[i]);
	}
}

/*
 * Three flows whose keys share one set of a CPU's flow_cache: the set holds
 * two, the newest in way 0, and the third to come sends the oldest back to
 * flow_pins. Each is forwarded by its own pin throughout: a slot is a hit
 * only for the key it holds. The flows differ only in their source port,
 * and are pinned to three different next hops.
 */
static void cache_set_of_three(void **state)
{
	struct test_state *st = *state;
	__u32 sets = st->fx.skel->rodata->cache_sets;
	enum { FIRST = 30000, PORTS = 30000 };
	__u32 *set_of = calloc(PORTS, sizeof(*set_of));
	__u32 *count = calloc(sets, sizeof(*count));
	__u16 sport[3];
	int egress[3], n = 0;

	assert_non_null(set_of);
	assert_non_null(count);
	for (int i = 0; i < PORTS; i++) {
		struct pkt_spec s = flow(st->family, FIRST + i, TCP_SYN);
		struct flow_key key;

		pkt_flow_key(&s, &key);
		set_of[i] = flow_cache_hash(&key) & (sets - 1);
		count[set_of[i]]++;
	}
	/* a set three ports share, which the FIB sends three ways */
	for (__u32 set = 0; set < sets && n < 3; set++) {
		n = 0;
		for (int i = 0; i < PORTS && count[set] >= 3 && n < 3; i++) {
			int e;

			if (set_of[i] != set)
				continue;
			e = send_flow(st, FIRST + i, TCP_SYN, 0); /* pinned only */
			assert_in_range(e, 1, 4);
			if ((n > 0 && e == egress[0]) || (n > 1 && e == egress[1]))
				continue;
			sport[n] = FIRST + i;
			egress[n++] = e;
		}
	}
	free(set_of);
	free(count);
	assert_int_equal(n, 3);

	struct {
		int flow;
		enum fp_stat hit;
	} steps[] = {
		{ 0, FP_STAT_PIN_HIT },	  /* way 0: A */
		{ 1, FP_STAT_PIN_HIT },	  /* way 0: B, way 1: A */
		{ 0, FP_STAT_CACHE_HIT }, /* A from way 1 */
		{ 1, FP_STAT_CACHE_HIT }, /* B from way 0 */
		{ 2, FP_STAT_PIN_HIT },	  /* way 0: C, way 1: B; A leaves */
		{ 1, FP_STAT_CACHE_HIT },
		{ 2, FP_STAT_CACHE_HIT },
		{ 0, FP_STAT_PIN_HIT },	  /* A again from flow_pins */
		{ 0, FP_STAT_CACHE_HIT },
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		__u64 before = stat_of(&st->fx, steps[i].hit);
		int f = steps[i].flow;

		assert_int_equal(send_flow(st, sport[f], TCP_ACK, 0), egress[f]);
		assert_int_equal(stat_of(&st->fx, steps[i].hit) - before, 1);
	}
}

/*
 * What flowpinctl flush does to a flow: its pin deleted, then every CPU's
 * copy forgotten (flow_cache_forget() clears the copy's tag). The next
 * packet is a new flow, on the CPU that held the copy too: a copy left
 * readable would be a cache hit, and put the pin back.
 */
static void forgotten_copy_is_not_used(void **state)
{
	struct test_state *st = *state;
	int ncpus = libbpf_num_possible_cpus();
	int cache = bpf_map__fd(st->fx.skel->maps.flow_cache);
	int tags = bpf_map__fd(st->fx.skel->maps.flow_cache_tags);
	struct pkt_spec s = flow(st->family, 29000, TCP_SYN);
	struct flow_pin copies[ncpus];
	struct flow_key key;
	__u64 n = 0, hits, news;
	int e;

	pkt_flow_key(&s, &key);
	e = send_flow(st, 29000, TCP_SYN, 0);
	assert_in_range(e, 1, 4);
	assert_int_equal(send_flow(st, 29000, TCP_ACK, 0), e); /* cached */
	assert_int_equal(flow_cache_copies(cache, tags, ncpus, &key, copies), 0);
	assert_int_equal(copies[0].nh_id, nh_id(st, e));

	assert_int_equal(bpf_map_delete_elem(
		bpf_map__fd(st->fx.skel->maps.flow_pins), &key), 0);
	assert_int_equal(flow_cache_forget(cache, tags, ncpus, &key, NULL, NULL,
					   &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(flow_cache_copies(cache, tags, ncpus, &key, copies), 0);
	assert_int_equal(copies[0].nh_id, 0);

	hits = stat_of(&st->fx, FP_STAT_CACHE_HIT);
	news = stat_of(&st->fx, FP_STAT_PIN_NEW);
	assert_in_range(send_flow(st, 29000, TCP_SYN, 0), 1, 4);
	assert_int_equal(stat_of(&st->fx, FP_STAT_CACHE_HIT) - hits, 0);
	assert_int_equal(stat_of(&st->fx, FP_STAT_PIN_NEW) - news, 1);
}

/*
 * An operator's reject wins over pins: a blackhole, unreachable or prohibit
 * route, a prohibit rule or a local address stops pinned flows on their
 * first packet after flowpind moves the route epoch, and removes their
 * pins. Until it moves, cached pins are not asked again (cache_check_ns is
 * 0 here: every packet is a check against flow_pins, none a FIB lookup). A
 * route that is simply gone, its next hops withdrawn, does not stop them:
 * pinned flows keep going.
 */
static void rejects_stop_pinned_flows(void **state)
{
	struct test_state *st = *state;
	const char *ip = st->family == 4 ? "ip -4" : "ip -6";
	const char *svc = st->family == 4 ? SVC4 : SVC6;
	const char *net = st->family == 4 ? SVC4_NET : SVC6_NET;
	static const struct {
		const char *add, *del;
		enum fp_stat reason;
	} rejects[] = {
		{ "route replace blackhole %s", NULL, FP_PASS_FIB_BLACKHOLE },
		{ "route replace unreachable %s", NULL, FP_PASS_FIB_UNREACHABLE },
		{ "route replace prohibit %s", NULL, FP_PASS_FIB_PROHIBIT },
		{ "rule add prohibit to %s priority 100", "rule del priority 100",
		  0 /* IPv4: FP_PASS_FIB_PROHIBIT; IPv6: NOT_FWDED */ },
		{ "addr add %s dev lo", "addr flush dev lo scope global",
		  FP_PASS_FIB_NOT_FWDED },
	};
	int pins_fd = bpf_map__fd(st->fx.skel->maps.flow_pins);

	for (size_t r = 0; r < sizeof(rejects) / sizeof(rejects[0]); r++) {
		__u16 sport = 26000 + 10 * r;
		struct pkt_spec s = flow(st->family, sport, TCP_ACK);
		enum fp_stat reason;
		struct flow_pin pin;
		struct flow_key key;
		__u64 before;
		int e;

		e = send_flow(st, sport, TCP_SYN, 0);
		assert_in_range(e, 1, 4);
		assert_int_equal(send_flow(st, sport, TCP_ACK, 0), e); /* cached */
		char cmd[128];

		snprintf(cmd, sizeof(cmd), rejects[r].add, svc);
		assert_int_equal(sh("%s %s", ip, cmd), 0);
		/*
		 * An IPv6 address's local route comes from addrconf's work
		 * queue, after the command returned: wait for the FIB to say
		 * local (2 s at most)
		 */
		if (!strncmp(rejects[r].add, "addr", 4))
			assert_int_equal(sh("for i in $(seq 200); do %s route get %s | grep -q '^local' && exit 0; sleep 0.01; done; exit 1",
					    ip, svc), 0);
		/* the epoch stands: no FIB lookup, the pin holds */
		before = stat_of(&st->fx, FP_STAT_RECHECK);
		assert_int_equal(send_spec(&st->fx, &s, 0), e);
		assert_int_equal(stat_of(&st->fx, FP_STAT_RECHECK), before);
		assert_int_equal(fixture_move_epoch(&st->fx, 0), 0);
		reason = rejects[r].reason ? rejects[r].reason :
			 st->family == 4 ? FP_PASS_FIB_PROHIBIT :
					   FP_PASS_FIB_NOT_FWDED;
		before = stat_of(&st->fx, reason);
		assert_int_equal(send_spec(&st->fx, &s, 0), 0);
		assert_int_equal(stat_of(&st->fx, reason), before + 1);
		pkt_flow_key(&s, &key);
		assert_int_equal(pin_of(&st->fx, &key), 0);
		assert_int_not_equal(bpf_map_lookup_elem(pins_fd, &key, &pin), 0);
		/* on the other CPU too: the pin is gone everywhere */
		assert_int_equal(send_spec(&st->fx, &s, 1), 0);
		if (rejects[r].del)
			assert_int_equal(sh("%s %s", ip, rejects[r].del), 0);
		else
			assert_int_equal(sh("%s route del %s", ip, svc), 0);
		assert_int_equal(fixture_move_epoch(&st->fx, 0), 0);
		/* once the reject is lifted, the flow is forwarded again */
		assert_in_range(send_spec(&st->fx, &s, 0), 1, 4);
	}

	/*
	 * A route that disappears is not a drop decision: flowpind withdraws
	 * its next hops (they are in no route), then moves the epoch.
	 */
	{
		struct pkt_spec s = flow(st->family, 26900, TCP_ACK);
		int e = send_flow(st, 26900, TCP_SYN, 0);

		assert_in_range(e, 1, 4);
		assert_int_equal(send_spec(&st->fx, &s, 0), e);
		assert_int_equal(sh("%s route del %s", ip, net), 0);
		for (int i = 1; i <= 4; i++)
			assert_int_equal(nexthop_table_set_state(
				&st->fx.nht, nh_id(st, i), NH_WITHDRAWN), 0);
		assert_int_equal(fixture_move_epoch(&st->fx, 0), 0);
		assert_int_equal(send_spec(&st->fx, &s, 0), e);
		assert_int_equal(send_spec(&st->fx, &s, 1), e);
	}
}

/* A new flow of a flood: a random source address and port; src holds it. */
static struct pkt_spec flood_flow(struct test_state *st, char *src, size_t len)
{
	struct pkt_spec s = flow(st->family, random() % 60000 + 1024, TCP_SYN);

	if (st->family == 4)
		snprintf(src, len, "10.%ld.%ld.%ld", random() % 200 + 50,
			 random() % 256, random() % 254 + 1);
	else
		snprintf(src, len, "2001:db8:%lx::%lx", random() % 0xffff,
			 random() % 0xffff + 1);
	s.src = src;
	return s;
}

/* What one flood() did. */
struct flood_run {
	int evicted;	 /* established flows that lost their shared pin */
	int moved;	 /* established flows a route change then moved */
	__u64 pinned;	 /* flood flows pinned */
	__u64 unpinned;	 /* flood flows forwarded unpinned (the limit) */
	__u64 took_us;	 /* how long the flood took */
};

/*
 * A flood of new flows, ten times the pin table, while established flows
 * stay active on the other CPU (or idle). r->moved: how many established
 * flows a route change then moves; r->evicted: how many lost their shared
 * pin (a CPU's cache may still hold them; another CPU would re-hash them).
 */
#define FLOOD_PIN_BURST 64 /* the bucket's pin_burst in every flood */

static void flood(struct test_state *st, __u64 pin_rate, bool active,
		  struct flood_run *r)
{
	struct fixture_opts o = {
		.policy = FP_WITHDRAWN_DRAIN,
		.cache_check_ns = FP_CACHE_CHECK_NS,
		.max_flows = 1024,
		.pin_rate = pin_rate,
		.pin_burst = FLOOD_PIN_BURST,
	};
	struct flowpin_fixture *fx = &st->fx;
	int egress[64];
	struct flow_key key;
	__u64 t0, pinned;
	char src[64];

	memset(r, 0, sizeof(*r));
	fixture_unload(fx);
	assert_int_equal(fixture_load_opts(fx, &o), 0);
	/* pinned on the flood's CPU: LRU nodes stay on a CPU's own list
	 * until that CPU inserts again */
	for (int i = 0; i < 64; i++)
		egress[i] = send_flow(st, 26000 + i, TCP_SYN, 0);
	pinned = stat_of(fx, FP_STAT_PIN_NEW);

	srandom(7);
	t0 = now_us();
	for (int k = 0; k < 10 * 1024; k++) {
		struct pkt_spec s = flood_flow(st, src, sizeof(src));
		int e;

		e = send_spec(fx, &s, 0);
		assert_in_range(e, 1, 4); /* pinned or not, it is forwarded */
		if (active && k % 256 == 0)
			for (int i = 0; i < 64; i++)
				assert_int_equal(send_flow(st, 26000 + i, TCP_ACK, 1), egress[i]);
	}
	r->took_us = now_us() - t0;
	r->pinned = stat_of(fx, FP_STAT_PIN_NEW) - pinned;
	r->unpinned = stat_of(fx, FP_STAT_UNPINNED_RATE);
	for (int i = 0; i < 64; i++) {
		struct pkt_spec s = flow(st->family, 26000 + i, TCP_ACK);

		pkt_flow_key(&s, &key);
		r->evicted += pin_of(fx, &key) == 0;
	}
	assert_int_equal(route_svc(five, 5), 0);
	for (int i = 0; i < 64; i++)
		r->moved += send_flow(st, 26000 + i, TCP_ACK, 0) != egress[i];
}

/*
 * A flood of new flows spread over two CPUs and several windows, with no
 * per-CPU limit: every CPU draws on one budget (pins_per_s, 200 per 100 ms
 * window here), so the table turns over no faster than that however many
 * CPUs the flood reaches, and established flows keep their pins.
 */
/*
 * The shared budget at its exact bound: pins_per_s 500 is 50 pins a 100 ms
 * window, so of 80 new flows sent within one window, 50 are pinned and 30
 * forwarded unpinned. A run that took longer than the window says nothing
 * and is tried again with fresh maps.
 */
static void turnover_budget_exact(void **state)
{
	struct test_state *st = *state;
	struct fixture_opts o = {
		.policy = FP_WITHDRAWN_DRAIN,
		.cache_check_ns = FP_CACHE_CHECK_NS,
		.pins_per_s = 500,
	};
	struct flowpin_fixture *fx = &st->fx;
	__u64 pinned = 0, limited = 0, took = 0;
	char src[64];
	int tries;

	for (tries = 0; tries < 10; tries++) {
		__u64 t0;

		fixture_unload(fx);
		assert_int_equal(fixture_load_opts(fx, &o), 0);
		srandom(11 + tries);
		t0 = now_us();
		for (int k = 0; k < 80; k++) {
			struct pkt_spec s = flood_flow(st, src, sizeof(src));

			assert_in_range(send_spec(fx, &s, 0), 1, 4);
		}
		took = now_us() - t0;
		pinned = stat_of(fx, FP_STAT_PIN_NEW);
		limited = stat_of(fx, FP_STAT_UNPINNED_RATE);
		if (took < FP_TURNOVER_WINDOW_NS / 1000 * 8 / 10)
			break;
	}
	print_message("    80 new flows in %llu us: %llu pinned, %llu unpinned\n",
		      (unsigned long long)took, (unsigned long long)pinned,
		      (unsigned long long)limited);
	assert_true(tries < 10);
	assert_int_equal(pinned, 50);
	assert_int_equal(limited, 30);
}

/*
 * 8,192 new flows, 512 at a time on each online CPU in turn: together they
 * make no more pins than one budget a window allows, and no pin of an
 * established flow is evicted.
 */
static void flood_over_cpus_shares_one_budget(void **state)
{
	struct test_state *st = *state;
	struct fixture_opts o = {
		.policy = FP_WITHDRAWN_DRAIN,
		.cache_check_ns = FP_CACHE_CHECK_NS,
		.max_flows = 4096,
		.pins_per_s = 2000,
	};
	struct flowpin_fixture *fx = &st->fx;
	int possible = libbpf_num_possible_cpus(), cpus[possible];
	int n = online_cpus(cpus, possible);
	__u64 pinned, limited, t0, windows;
	int egress[64], evicted = 0;
	struct flow_key key;
	char src[64];

	fixture_unload(fx);
	assert_int_equal(fixture_load_opts(fx, &o), 0);
	for (int i = 0; i < 64; i++)
		egress[i] = send_flow(st, 27000 + i, TCP_SYN, 0);
	pinned = stat_of(fx, FP_STAT_PIN_NEW);
	limited = stat_of(fx, FP_STAT_UNPINNED_RATE);
	t0 = now_us();
	srandom(9);
	for (int k = 0; k < 8 * 1024; k++) {
		struct pkt_spec s = flood_flow(st, src, sizeof(src));

		assert_in_range(send_spec(fx, &s, cpus[(k / 512) % n]), 1, 4);
		if (k % 1024 == 1023)
			usleep(FP_TURNOVER_WINDOW_NS / 1000); /* the next window */
	}
	windows = (now_us() - t0) / (FP_TURNOVER_WINDOW_NS / 1000) + 2;
	pinned = stat_of(fx, FP_STAT_PIN_NEW) - pinned;
	limited = stat_of(fx, FP_STAT_UNPINNED_RATE) - limited;
	for (int i = 0; i < 64; i++) {
		struct pkt_spec s = flow(st->family, 27000 + i, TCP_ACK);

		pkt_flow_key(&s, &key);
		evicted += pin_of(fx, &key) == 0;
	}
	print_message("    8192 new flows on %d CPUs in %llu windows: %llu pinned, %llu forwarded unpinned, %d of 64 established pins evicted\n",
		      n, (unsigned long long)windows - 2, (unsigned long long)pinned,
		      (unsigned long long)limited, evicted);
	assert_int_equal(pinned + limited, 8 * 1024);
	assert_true(pinned <= 200 * windows);
	assert_true(pinned >= 200); /* and it was used: a window's worth at least */
	assert_int_equal(evicted, 0);
	assert_int_equal(route_svc(five, 5), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(send_flow(st, 27000 + i, TCP_ACK, i & 1), egress[i]);
}

/*
 * The per-CPU pin rate against a flood. The bucket allows pin_burst pins
 * and pin_rate a second after them, however fast the flood comes; at 100
 * a second a flood that takes under 3.5 s makes fewer than 448 pins, and
 * with the 64 established ones the 1,024-pin table keeps them all. A
 * slower flood (a busy machine) says nothing about eviction and is tried
 * again.
 */
static void flood_of_new_flows(void **state)
{
	struct test_state *st = *state;
	const __u64 rate = 100;
	struct flood_run r;
	int tries;

	/* the threat: without a limit, a flood evicts the pins of flows that
	 * were quiet while it lasted, and a route change then moves them */
	flood(st, 0, false, &r);
	print_message("    no pin rate limit, flows idle during the flood: %d of 64 pins evicted, %d flows moved\n",
		      r.evicted, r.moved);
	assert_true(r.evicted > 0);

	for (int active = 1; active >= 0; active--) {
		for (tries = 0; tries < 3; tries++) {
			assert_int_equal(route_svc(four, 4), 0);
			flood(st, rate, active, &r);
			print_message("    %llu pins/s per CPU, flows %s: %llu pinned in %llu ms, %llu forwarded unpinned, %d evicted, %d moved\n",
				      (unsigned long long)rate, active ? "active" : "idle",
				      (unsigned long long)r.pinned,
				      (unsigned long long)r.took_us / 1000,
				      (unsigned long long)r.unpinned, r.evicted, r.moved);
			/* the bucket's bound, one token of rounding */
			assert_true(r.pinned <= FLOOD_PIN_BURST + rate * r.took_us / 1000000 + 1);
			assert_int_equal(r.pinned + r.unpinned, 10 * 1024);
			if (r.pinned + 64 <= 512)
				break;
		}
		assert_true(tries < 3);
		assert_int_equal(r.evicted, 0);
		assert_int_equal(r.moved, 0);
	}
}

#define BOTH(fn, setup_fn)                                                     \
	{ #fn " v4", fn, setup_fn, teardown, &v4 },                            \
	{ #fn " v6", fn, setup_fn, teardown, &v6 }

static int group_setup(void **state)
{
	(void)state;
	return router_create();
}

static int group_teardown(void **state)
{
	(void)state;
	router_destroy();
	return 0;
}

int main(void)
{
	static struct test_state v4 = { .family = 4 }, v6 = { .family = 6 };
	const struct CMUnitTest all[] = {
		BOTH(route_change_drain, setup),
		BOTH(route_change_repin, setup_repin),
		BOTH(cpu_migration, setup),
		BOTH(every_cpu_keeps_the_pin, setup),
		BOTH(mac_change, setup),
		BOTH(dead_nexthop, setup),
		BOTH(l3_domain_in_key, setup),
		BOTH(silent_daemon_pins_nothing_new, setup),
		BOTH(pinned_mtu, setup),
		BOTH(pinned_port_removed, setup),
		BOTH(cache_republishes, setup_sync_always),
		BOTH(cache_set_of_three, setup),
		BOTH(forgotten_copy_is_not_used, setup),
		BOTH(rejects_stop_pinned_flows, setup_sync_always),
		BOTH(flood_of_new_flows, setup),
		BOTH(flood_over_cpus_shares_one_budget, setup),
		BOTH(turnover_budget_exact, setup),
	};

	struct CMUnitTest tests[sizeof(all) / sizeof(all[0])];
	size_t n = tests_not_skipped("PINNING_TESTS_SKIP", all,
				     sizeof(all) / sizeof(all[0]), tests);

	fixture_reuse_programs(true); /* a load per test is most of its time */
	return _cmocka_run_group_tests("pinning", tests, n, group_setup,
				       group_teardown);
}
