// SPDX-License-Identifier: GPL-2.0
/*
 * The drop rule: a pinned flow is forwarded only while the kernel's own
 * forwarding would forward it. For each way an operator can make the kernel
 * refuse a flow (reject routes in main and behind a rule, reject rules
 * before and after the table, throw routes, a local address, forwarding
 * off), the same packet goes through the kernel alone (a frame sent into
 * the router's ingress veth, watched for on every egress) and through
 * flowpin (BPF_PROG_TEST_RUN, a flow pinned before the change, the route
 * epoch moved after it as flowpind moves it): both must forward it, or both
 * not. Both families, both entry points.
 *
 * And what the epoch promises: a cached pin is not asked of the FIB again
 * while the epoch stands and is on its first packet after it moves; ICMP
 * errors quoting a flow never keep a pin the kernel now refuses alive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "daemon.h"
#include "fixture.h"
#include "netns.h"
#include "packets.h"
#include "tc_hook.h"
#include "test_skip.h"

#define TCP_SYN 0x02
#define TCP_ACK 0x10

struct test_state {
	int family;
	enum fixture_hook hook;
	struct flowpin_fixture fx;
};

static const int four[] = { 1, 2, 3, 4 };

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
		.payload = 32,
	};
	return s;
}

/* Egress (1..5) flowpin sends the packet to, 0 when it goes to the kernel. */
static int flowpin_sends(struct flowpin_fixture *fx, const struct pkt_spec *s,
			 int cpu)
{
	int e = fixture_send(fx, s, cpu);

	assert_true(e >= 0);
	return e;
}

static __u64 stat_of(struct flowpin_fixture *fx, enum fp_stat idx)
{
	__u64 sum[FP_STAT_MAX];

	fixture_stats(fx, sum);
	return sum[idx];
}

/*
 * The kernel alone: the frame goes into in0 (sent from its peer) and the
 * router forwards it, or not. Returns the egress (1..5) it left by, 0 if it
 * left by none within 300 ms.
 */
static int kernel_sends(const struct pkt_spec *s)
{
	static const char *const outs[N_OUT] = { "out1p", "out2p", "out3p",
						 "out4p", "out5p" };
	__u8 frame[PKT_MAX];
	size_t len = pkt_build(s, frame);
	int e = kernel_forwards("in0p", outs, N_OUT, frame, len, s->family);

	assert_true(e >= 0);
	return e;
}

/*
 * One way of refusing a flow (or of not refusing it). %1$s: ip -4 / ip -6;
 * %2$s the service address, %3$s its prefix. Commands run after the
 * service route moved to table 100 behind a rule when in_table is set.
 */
struct change {
	const char *name;
	const char *apply, *undo;
	bool in_table;	   /* the service route in table 100, a rule to it */
	bool v6_throw;	   /* flowpind's FP_EPOCH_V6_THROW for IPv6 */
	bool forwards;	   /* what the kernel does, for the record */
};

static const struct change changes[] = {
	{ "blackhole route in main", "%1$s route add blackhole %2$s",
	  "%1$s route del blackhole %2$s", .in_table = false },
	{ "unreachable route in main", "%1$s route add unreachable %2$s",
	  "%1$s route del unreachable %2$s", .in_table = false },
	{ "prohibit route in main", "%1$s route add prohibit %2$s",
	  "%1$s route del prohibit %2$s", .in_table = false },
	{ "blackhole route in the rule's table",
	  "%1$s route add blackhole %2$s table 100",
	  "%1$s route del blackhole %2$s table 100", .in_table = true },
	{ "unreachable route in the rule's table",
	  "%1$s route add unreachable %2$s table 100",
	  "%1$s route del unreachable %2$s table 100", .in_table = true },
	{ "prohibit route in the rule's table",
	  "%1$s route add prohibit %2$s table 100",
	  "%1$s route del prohibit %2$s table 100", .in_table = true },
	{ "prohibit rule before the table",
	  "%1$s rule add to %2$s prohibit priority 50",
	  "%1$s rule del priority 50", .in_table = true },
	{ "unreachable rule before the table",
	  "%1$s rule add to %2$s unreachable priority 50",
	  "%1$s rule del priority 50", .in_table = true },
	{ "blackhole rule before the table",
	  "%1$s rule add to %2$s blackhole priority 50",
	  "%1$s rule del priority 50", .in_table = true },
	{ "prohibit rule after the table",
	  "%1$s rule add to %2$s prohibit priority 150",
	  "%1$s rule del priority 150", .in_table = true, .forwards = true },
	{ "throw route in the rule's table, the route in main",
	  "%1$s route add throw %2$s table 100 && %1$s route add %3$s via %4$s",
	  "%1$s route del throw %2$s table 100 && %1$s route del %3$s",
	  .in_table = true, .v6_throw = true, .forwards = true },
	{ "local address in main", "%1$s addr add %2$s dev lo",
	  "%1$s addr del %2$s dev lo", .in_table = false },
	/* IPv4 forwards by the ingress port's setting, IPv6 by "all"'s */
	{ "forwarding off", "sysctl -qw net.ipv4.conf.in0.forwarding=0 "
			    "net.ipv6.conf.all.forwarding=0",
	  "sysctl -qw net.ipv4.conf.in0.forwarding=1 "
	  "net.ipv6.conf.all.forwarding=1", .in_table = false },
};

static int shf(const char *fmt, const struct test_state *st)
{
	bool v4 = st->family == 4;

	return sh(fmt, v4 ? "ip -4" : "ip -6", v4 ? SVC4 : SVC6,
		  v4 ? SVC4_NET : SVC6_NET, v4 ? "10.0.1.2" : "fd00:1::2");
}

/* The service route in table 100, reached through a rule at priority 100. */
static int svc_in_table(const struct test_state *st, bool on)
{
	bool v4 = st->family == 4;
	const char *ip = v4 ? "ip -4" : "ip -6", *net = v4 ? SVC4_NET : SVC6_NET;

	if (on)
		return sh("%s route add %s via %s table 100 && "
			  "%s rule add to %s lookup 100 priority 100 && "
			  "%s route del %s", ip, net, v4 ? "10.0.1.2" : "fd00:1::2",
			  ip, net, ip, net);
	return sh("%s rule del priority 100 && %s route flush table 100", ip,
		  ip) ||
	       route_svc(four, 4);
}

/*
 * Table 100's route has one path (out1): the pin made there must be on
 * out1, and the kernel's packet too, before any change.
 */
static void agree(void **state)
{
	struct test_state *st = *state;
	int pins_fd = bpf_map__fd(st->fx.skel->maps.flow_pins);

	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		const struct change *c = &changes[i];
		__u16 sport = 31000 + 10 * i + st->hook;
		struct pkt_spec syn = flow(st->family, sport, TCP_SYN);
		struct pkt_spec ack = flow(st->family, sport, TCP_ACK);
		int e, k, f;

		if (c->in_table)
			assert_int_equal(svc_in_table(st, true), 0);
		e = flowpin_sends(&st->fx, &syn, 0);
		assert_in_range(e, 1, 4);
		assert_int_equal(flowpin_sends(&st->fx, &ack, 0), e); /* cached */
		assert_int_equal(flowpin_sends(&st->fx, &ack, 1), e);
		assert_int_not_equal(kernel_sends(&ack), 0);

		assert_int_equal(shf(c->apply, st), 0);
		assert_int_equal(fixture_move_epoch(&st->fx,
			c->v6_throw && st->family == 6 ? FP_EPOCH_V6_THROW : 0), 0);
		usleep(FP_RECHECK_MIN_NS / 1000 + 5000);
		k = kernel_sends(&ack);
		f = flowpin_sends(&st->fx, &ack, 0);
		print_message("%-52s kernel %-9s flowpin %s\n", c->name,
			      k ? "forwards" : "refuses", f ? "forwards" : "refuses");
		assert_int_equal(!!k, c->forwards);
		assert_int_equal(!!f, !!k);
		if (f) {
			assert_int_equal(f, e); /* pinned: where it was */
			assert_int_equal(flowpin_sends(&st->fx, &ack, 1), e);
		} else {
			struct flow_key key;
			struct flow_pin pin;

			/* gone everywhere: the other CPU passes it too */
			pkt_flow_key(&ack, &key);
			assert_int_not_equal(bpf_map_lookup_elem(pins_fd, &key,
								 &pin), 0);
			assert_int_equal(flowpin_sends(&st->fx, &ack, 1), 0);
		}
		assert_int_equal(shf(c->undo, st), 0);
		if (c->in_table)
			assert_int_equal(svc_in_table(st, false), 0);
		assert_int_equal(fixture_move_epoch(&st->fx, 0), 0);
	}
}

/*
 * While the epoch stands, a cached pin is not asked again, however long
 * (cache_check_ns here: 20 ms, so checks against flow_pins happen); on its first
 * packet after the epoch moves it is, once per CPU.
 */
static void epoch_asks_once(void **state)
{
	struct test_state *st = *state;
	struct pkt_spec syn = flow(st->family, 32000 + st->hook, TCP_SYN);
	struct pkt_spec ack = flow(st->family, 32000 + st->hook, TCP_ACK);
	__u64 before;
	int e;

	e = flowpin_sends(&st->fx, &syn, 0);
	assert_in_range(e, 1, 4);
	before = stat_of(&st->fx, FP_STAT_RECHECK);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(flowpin_sends(&st->fx, &ack, 0), e);
		usleep(5000);
	}
	assert_int_equal(stat_of(&st->fx, FP_STAT_RECHECK), before);

	assert_int_equal(fixture_move_epoch(&st->fx, 0), 0);
	usleep(FP_RECHECK_MIN_NS / 1000 + 5000);
	assert_int_equal(flowpin_sends(&st->fx, &ack, 0), e);
	assert_int_equal(stat_of(&st->fx, FP_STAT_RECHECK), before + 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(flowpin_sends(&st->fx, &ack, 0), e);
	assert_int_equal(stat_of(&st->fx, FP_STAT_RECHECK), before + 1);
}

/* A "fragmentation needed" / "packet too big" quoting the flow's reply. */
static struct pkt_spec error_for(const struct pkt_spec *reply, int family)
{
	struct pkt_spec e = {
		.family = family,
		.proto = family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6,
		.src = family == 4 ? "10.0.0.77" : "2001:db8::77",
		.dst = family == 4 ? SVC4 : SVC6,
		.icmp_type = family == 4 ? 3 : 2,
		.icmp_code = family == 4 ? 4 : 0,
		.quote = reply,
	};
	return e;
}

/*
 * A stream of ICMP errors quoting a pinned flow whose destination is then
 * blackholed: none is forwarded, and the flow's next packet finds the
 * reject (errors neither refresh the pin nor fill a cache).
 */
static void errors_keep_nothing_alive(void **state)
{
	struct test_state *st = *state;
	__u16 sport = 33000 + st->hook;
	struct pkt_spec syn = flow(st->family, sport, TCP_SYN);
	struct pkt_spec ack = flow(st->family, sport, TCP_ACK);
	struct pkt_spec reply = {
		.family = st->family, .proto = IPPROTO_TCP,
		.src = syn.dst, .dst = syn.src, .sport = 443, .dport = sport,
	};
	struct pkt_spec err = error_for(&reply, st->family);
	__u64 fwd;
	int e;

	e = flowpin_sends(&st->fx, &syn, 0);
	assert_in_range(e, 1, 4);
	assert_int_equal(flowpin_sends(&st->fx, &ack, 0), e);
	/* before the reject, errors follow the pin */
	assert_int_equal(flowpin_sends(&st->fx, &err, 0), e);
	assert_int_equal(flowpin_sends(&st->fx, &err, 1), e);

	assert_int_equal(shf("%1$s route add blackhole %2$s", st), 0);
	assert_int_equal(fixture_move_epoch(&st->fx, 0), 0);
	fwd = stat_of(&st->fx, FP_STAT_ICMP_ERR_PINNED);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(flowpin_sends(&st->fx, &err, i & 1), 0);
		if (i % 10 == 0)
			usleep(20000);
	}
	assert_int_equal(stat_of(&st->fx, FP_STAT_ICMP_ERR_PINNED), fwd);
	assert_int_equal(flowpin_sends(&st->fx, &ack, 0), 0); /* the kernel's */
	assert_int_equal(shf("%1$s route del blackhole %2$s", st), 0);
}

/*
 * Without flowpind (no epoch) a pin is asked again every cache_check_ns
 * (100 ms here): errors arriving every 20 ms must not stretch that. Once
 * the flow's own packets stop, errors are forwarded for at most
 * cache_check_ns, then passed.
 */
static void errors_without_daemon(void **state)
{
	struct test_state *st = *state;
	struct fixture_opts o = { .cache_check_ns = 100000000ULL,
				  .hook = st->hook, .no_daemon = true };
	__u16 sport = 34000 + st->hook;
	struct pkt_spec syn = flow(st->family, sport, TCP_SYN);
	struct pkt_spec ack = flow(st->family, sport, TCP_ACK);
	struct pkt_spec reply = {
		.family = st->family, .proto = IPPROTO_TCP,
		.src = syn.dst, .dst = syn.src, .sport = 443, .dport = sport,
	};
	struct pkt_spec err = error_for(&reply, st->family);
	int e, late = 0;

	fixture_unload(&st->fx);
	assert_int_equal(fixture_load_opts(&st->fx, &o), 0);
	e = flowpin_sends(&st->fx, &syn, 0);
	assert_in_range(e, 1, 4);
	assert_int_equal(flowpin_sends(&st->fx, &ack, 0), e); /* cached */
	assert_int_equal(shf("%1$s route add blackhole %2$s", st), 0);
	for (int i = 0; i < 25; i++) { /* 500 ms of errors */
		int f = flowpin_sends(&st->fx, &err, 0);

		if (i >= 8) /* 160 ms on: past cache_check_ns */
			late += f != 0;
		usleep(20000);
	}
	assert_int_equal(late, 0);
	assert_int_equal(flowpin_sends(&st->fx, &ack, 0), 0);
	assert_int_equal(shf("%1$s route del blackhole %2$s", st), 0);
}

/*
 * A tagged frame at tc: the kernel takes the (outer) tag into the skb
 * before tc ingress, and routes the packet in its VLAN sub-interface's
 * context, or drops it when the port has none, as in0 has none here; a
 * QinQ frame the same; a priority tag (VID 0) it takes off and routes the
 * frame as the port's. flowpin, live on in0, leaves each to the kernel
 * (pass_vlan), which then does what it does alone: the first two sent
 * nowhere, the priority-tagged one forwarded, none by flowpin (it would
 * leave, tagged, by an egress). The same flow untagged is flowpin's.
 */
static void tagged_frames_are_the_kernels(void **state)
{
	struct test_state *st = *state;
	struct pkt_spec s = flow(st->family, 41000, TCP_SYN);
	/* VID 100; QinQ (802.1ad 200, then 802.1Q 100); a priority tag (VID 0, PCP 5) */
	struct pkt_spec tagged[3] = { s, s, s };
	int in0 = if_nametoindex("in0"), alone[3];
	__u64 fwd, vlan;
	bool made;

	tagged[0].vlan = 100;
	tagged[1].svlan = 200, tagged[1].vlan = 100;
	tagged[2].vlan = 5 << 13;
	assert_in_range(kernel_sends(&s), 1, 4);
	for (int i = 0; i < 3; i++)
		alone[i] = kernel_sends(&tagged[i]);
	/* no sub-interface of VLAN 100 here; a priority tag is untagged */
	assert_int_equal(alone[0], 0);
	assert_int_equal(alone[1], 0);
	assert_in_range(alone[2], 1, 4);

	assert_int_equal(tc_hook_attach(in0, st->fx.prog_fd, &made), 0);
	fwd = stat_of(&st->fx, FP_STAT_FORWARDED);
	vlan = stat_of(&st->fx, FP_PASS_VLAN);
	for (int i = 0; i < 3; i++) {
		/* flowpin passes each; the kernel then does what it does alone */
		assert_int_equal(kernel_sends(&tagged[i]) > 0, alone[i] > 0);
		assert_int_equal(stat_of(&st->fx, FP_STAT_FORWARDED) - fwd, 0);
		assert_int_equal(stat_of(&st->fx, FP_PASS_VLAN) - vlan, i + 1);
	}
	/* live: the untagged flow is flowpin's */
	assert_in_range(kernel_sends(&s), 1, 4);
	assert_int_equal(stat_of(&st->fx, FP_STAT_FORWARDED) - fwd, 1);
	assert_int_equal(tc_hook_detach(in0, made), 0);
}

static struct route_epoch epoch_of_daemon(void)
{
	struct route_epoch e = {};
	int fd = pinned_fd("route_epoch");
	__u32 key = 0;

	assert_true(fd >= 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &key, &e), 0);
	close(fd);
	return e;
}

/* The epoch once it differs from was, or was itself after 1 s. */
static struct route_epoch epoch_after(struct route_epoch was)
{
	struct route_epoch now = was;

	for (int i = 0; i < 100 && now.epoch == was.epoch; i++) {
		usleep(10000);
		now = epoch_of_daemon();
	}
	return now;
}

/*
 * The real flowpind moves the epoch on what may refuse a flow (and sets
 * FP_EPOCH_V6_THROW for an IPv6 throw route), not on what cannot.
 */
static void flowpind_moves_the_epoch(void **state)
{
	static const struct {
		const char *cmd;
		bool moves;
		__u32 flags;
	} steps[] = {
		{ "ip route add 203.0.113.64/26 via 10.0.1.2", false, 0 },
		{ "ip rule add to " SVC4 " prohibit priority 50", true, 0 },
		{ "ip rule del priority 50", true, 0 },
		{ "ip -6 rule add to " SVC6 " unreachable priority 50", true, 0 },
		{ "ip -6 rule del priority 50", true, 0 },
		{ "ip route add blackhole " SVC4, true, 0 },
		{ "ip route del blackhole " SVC4, false, 0 },
		{ "ip route del 203.0.113.64/26", true, 0 },
		{ "ip addr add 192.0.2.99/32 dev lo", true, 0 },
		{ "ip -6 route add throw " SVC6 " table 100", true, FP_EPOCH_V6_THROW },
		{ "sysctl -qw net.ipv4.conf.in0.forwarding=0", true, FP_EPOCH_V6_THROW },
		{ "sysctl -qw net.ipv4.conf.in0.forwarding=1", true, FP_EPOCH_V6_THROW },
	};
	struct route_epoch was, now;
	pid_t pid;

	(void)state;
	pid = daemon_start("-m", "tc", "in0", "out1", "out2", "out3", "out4", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	was = epoch_of_daemon();
	assert_int_not_equal(was.epoch, 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(sh("%s", steps[i].cmd), 0);
		if (!steps[i].moves)
			usleep(300000);
		now = steps[i].moves ? epoch_after(was) : epoch_of_daemon();
		print_message("%-52s epoch %s\n", steps[i].cmd,
			      now.epoch != was.epoch ? "moved" : "stood");
		assert_int_equal(now.epoch != was.epoch, steps[i].moves);
		assert_int_equal(now.flags, steps[i].flags);
		was = now;
	}
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	sh("ip addr del 192.0.2.99/32 dev lo; ip -6 route flush table 100");
	daemon_cleanup();
}

static int setup(void **state)
{
	struct test_state *st = *state;
	struct fixture_opts o = { .cache_check_ns = 20000000ULL,
				  .hook = st->hook };

	if (route_svc(four, 4))
		return -1;
	return fixture_load_opts(&st->fx, &o);
}

static int teardown(void **state)
{
	struct test_state *st = *state;

	fixture_unload(&st->fx);
	return route_svc(four, 4);
}

static int group_setup(void **state)
{
	(void)state;
	/* ECMP by the kernel's own hash: no L4 hash on frames sent in */
	return router_create();
}

static int group_teardown(void **state)
{
	(void)state;
	router_destroy();
	return 0;
}

#define ALL(fn)                                                                \
	{ #fn " v4 xdp", fn, setup, teardown, &v4x },                          \
	{ #fn " v6 xdp", fn, setup, teardown, &v6x },                          \
	{ #fn " v4 tc", fn, setup, teardown, &v4t },                           \
	{ #fn " v6 tc", fn, setup, teardown, &v6t }

int main(void)
{
	static struct test_state v4x = { .family = 4, .hook = HOOK_XDP },
				 v6x = { .family = 6, .hook = HOOK_XDP },
				 v4t = { .family = 4, .hook = HOOK_TC },
				 v6t = { .family = 6, .hook = HOOK_TC };
	const struct CMUnitTest all[] = {
		ALL(agree),
		ALL(epoch_asks_once),
		ALL(errors_keep_nothing_alive),
		ALL(errors_without_daemon),
		{ "tagged_frames_are_the_kernels v4 tc", tagged_frames_are_the_kernels,
		  setup, teardown, &v4t },
		{ "tagged_frames_are_the_kernels v6 tc", tagged_frames_are_the_kernels,
		  setup, teardown, &v6t },
		cmocka_unit_test(flowpind_moves_the_epoch),
	};

	struct CMUnitTest tests[sizeof(all) / sizeof(all[0])];
	size_t n = tests_not_skipped("DROP_RULE_TESTS_SKIP", all,
				     sizeof(all) / sizeof(all[0]), tests);

	if (daemon_paths_init("fp-drop-rule"))
		return 1;
	fixture_reuse_programs(true); /* a load per test is most of its time */
	return _cmocka_run_group_tests("drop_rule", tests, n, group_setup,
				       group_teardown);
}
