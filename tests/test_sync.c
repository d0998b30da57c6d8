// SPDX-License-Identifier: GPL-2.0
/*
 * Pin sync: the datapath reports each new pin once (pin_events), and the
 * real flowpind, run with --sync in the router namespace of fixture.c,
 * talks to this test, which plays its peer with the same key: it tells
 * systemd it is ready only after the peer's bulk sync, sends its new pins
 * (resent until acked), applies the peer's pins by gateway by the
 * fleet's rule, answers a bulk request with the pins whose maker is not
 * there to send them, keeps what a silent peer missed for when it is
 * back, and drops
 * forged, replayed, truncated, oversized, stale and unknown datagrams by
 * reason, without a pin from any of them. Bad sync options are refused
 * with one line and nothing left behind.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "daemon.h"
#include "fixture.h"
#include "netns.h"
#include "sync_peer.h"
#include "sync_repair.h"
#include "sync_wire.h"
#include "tc_hook.h"
#include "test_skip.h"

#define PORTS "out1", "out2", "out3", "out4", "out5"
#define DAEMON_ADDR "127.0.0.1:7430"
#define PEER_PORT 7431

static char key_path[64];
static uint8_t key[SYNC_KEY_LEN];

static struct test_peer peer = { .fd = -1 };

static void tpeer_open(void)
{
	assert_int_equal(test_peer_open(&peer, PEER_PORT, 7430, key), 0);
}

static void tpeer_close(void)
{
	test_peer_close(&peer);
}

static void send_raw(int fd, const uint8_t *buf, size_t len)
{
	assert_int_equal(test_peer_send_raw(&peer, fd, buf, len), 0);
}

static void tsend(uint8_t type, uint8_t flags, uint32_t aux,
		  const struct sync_pin *pins, const uint64_t *acks, int n)
{
	assert_int_equal(test_peer_send(&peer, type, flags, aux, pins, acks, n), 0);
}

static void tack(uint64_t seq)
{
	assert_int_equal(test_peer_ack(&peer, seq), 0);
}

/* The daemon's next message of this type; every one it sends must be good. */
static bool trecv(uint8_t type, struct sync_hdr *h, uint8_t *buf, int timeout_ms,
		  bool ack_others)
{
	int got = test_peer_recv(&peer, type, h, buf, timeout_ms, ack_others);

	assert_int_not_equal(got, -1);
	return got == 1;
}

static void tpeer_join(void)
{
	/* under TCG (the kernel matrix) flowpind's start alone can take 10 s */
	assert_int_equal(test_peer_join(&peer, 60000), 0);
}

static pid_t start_synced(const char *wait_s)
{
	return daemon_start("--sync", DAEMON_ADDR, "--peer", "127.0.0.1:7431",
			    "--sync-key", key_path, "--sync-wait", wait_s, PORTS,
			    NULL);
}

/* Start flowpind and join it as its peer: ready, and in sync. */
static pid_t start_joined(void)
{
	pid_t pid;

	tpeer_open();
	pid = start_synced("30");
	assert_true(pid > 0);
	tpeer_join();
	assert_int_equal(daemon_wait_ready(pid), 0);
	return pid;
}

/* The same with one more option: OPT VALUE. */
static pid_t start_joined_with(const char *opt, const char *value)
{
	pid_t pid;

	tpeer_open();
	pid = daemon_start("--sync", DAEMON_ADDR, "--peer", "127.0.0.1:7431",
			   "--sync-key", key_path, "--sync-wait", "30", opt, value,
			   PORTS, NULL);
	assert_true(pid > 0);
	tpeer_join();
	assert_int_equal(daemon_wait_ready(pid), 0);
	return pid;
}

/* --- what the test checks in the daemon's maps --------------------------- */

static __u32 nh_id(int out)
{
	struct nexthop_addr a;
	int fd = pinned_fd("nexthop_index");
	__u8 gw[4];
	char s[32];
	__u32 id = 0;

	snprintf(s, sizeof(s), "10.0.%d.2", out);
	inet_pton(AF_INET, s, gw);
	nexthop_addr_from(&a, rt.ifindex_out[out], FP_AF_INET, gw);
	bpf_map_lookup_elem(fd, &a, &id);
	close(fd);
	return id;
}

static struct flow_key flow(int sport)
{
	struct flow_key k = { .family = FP_AF_INET, .proto = IPPROTO_TCP,
			      .sport = htons(sport), .dport = htons(443) };

	inet_pton(AF_INET, CLIENT4, k.saddr);
	inet_pton(AF_INET, SVC4, k.daddr);
	return k;
}

/* The flow's pin in the daemon's flow_pins; nh_id 0: none. */
static struct flow_pin pin_here(int sport)
{
	struct flow_key k = flow(sport);
	struct flow_pin p = { 0 };
	int fd = pinned_fd("flow_pins");

	bpf_map_lookup_elem(fd, &k, &p);
	close(fd);
	return p;
}

/* The next hop id a flow is pinned to in the daemon's flow_pins; 0: none. */
static __u32 pinned_to(int sport)
{
	return pin_here(sport).nh_id;
}

/* The test peer's pin of a flow, made now from its first packet. */
static struct sync_pin wire_pin(int sport, const char *gw)
{
	struct flow_key k = flow(sport);
	__be32 a;

	inet_pton(AF_INET, gw, &a);
	return test_peer_pin(&peer, &k, FP_AF_INET, &a);
}

static struct sync_peer_status peer_status(__u32 entry)
{
	struct sync_peer_status st = { 0 };
	int fd = pinned_fd("sync_peers");

	bpf_map_lookup_elem(fd, &entry, &st);
	close(fd);
	return st;
}

/* The status is written once a second: wait for it to show n of a kind. */
static struct sync_peer_status wait_status(__u32 entry, size_t off, __u64 n)
{
	struct sync_peer_status st;

	for (int i = 0; i < 40; i++) {
		st = peer_status(entry);
		if (*(__u64 *)((char *)&st + off) >= n)
			break;
		usleep(100000);
	}
	return st;
}

#define WAIT_STATUS(entry, field, n) \
	wait_status(entry, offsetof(struct sync_peer_status, field), n)

/*
 * The peer's row once its oldest unacked message waited lag_ms (or 4 s
 * on). The peer says hello meanwhile: silent 3 s, it would be down.
 */
static struct sync_peer_status wait_lag(__u32 lag_ms)
{
	struct sync_peer_status st;

	for (int i = 0; i < 40; i++) {
		st = peer_status(1);
		if (st.lag_ms >= lag_ms)
			break;
		tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		usleep(100000);
	}
	return st;
}

/* Packets of these flows through the attached program (tc on these veths). */
static void flows_through_flags(int first, int n, __u8 tcp_flags, int *egress)
{
	static const __u8 out5_mac[6] = { 2, 0, 0, 0, 5, 1 };
	struct flowpin_fixture f = {
		.hook = HOOK_TC,
		.prog_fd = bpf_prog_get_fd_by_id(tc_hook_prog_id(rt.ifindex_out[5])),
	};
	__u8 in[PKT_MAX], out[PKT_MAX];

	assert_true(f.prog_fd >= 0);
	for (int i = 0; i < n; i++) {
		struct pkt_spec s = {
			.family = 4, .proto = IPPROTO_TCP, .src = CLIENT4,
			.dst = SVC4, .sport = first + i, .dport = 443,
			.dmac = out5_mac, .tcp_flags = tcp_flags,
		};
		size_t len = pkt_build(&s, in);
		__u32 out_len;

		assert_int_equal(fixture_run(&f, in, len, out, &out_len,
					     rt.ifindex_out[5]), XDP_REDIRECT);
		egress[i] = egress_of(out);
	}
	close(f.prog_fd);
}

/* n flows' first packets (SYN) through the datapath: where each went. */
static void flows_through(int first, int n, int *egress)
{
	flows_through_flags(first, n, 0x02, egress);
}

/* --- tests ----------------------------------------------------------------- */

static cpu_set_t all_cpus; /* the test's CPUs, given back after each test */

static int group_setup(void **state)
{
	int fd;

	(void)state;
	if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus))
		return -1;
	if (daemon_paths_init("test_sync") || router_create() ||
	    sh("ip link set lo up"))
		return -1;
	snprintf(key_path, sizeof(key_path), "/tmp/fp-sync-key-%d", getpid());
	fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "a shared secret of the test's, 40 bytes.", 40) != 40)
		return -1;
	close(fd);
	{
		char err[256];

		return sync_key_load(key_path, key, err, sizeof(err));
	}
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(key_path);
	router_destroy();
	return 0;
}

static int setup(void **state)
{
	static const int four[] = { 1, 2, 3, 4 };

	(void)state;
	unlink(log_path);
	return route_svc(four, 4);
}

static int teardown(void **state)
{
	(void)state;
	sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
	tpeer_close();
	daemon_cleanup();
	return 0;
}

/* One record per new pin, with the pin flow_pins holds; none for hits. */
static int count_event(void *ctx, void *data, size_t len)
{
	struct flowpin_fixture *f = ctx;
	const struct pin_event *ev = data;

	assert_int_equal(len, sizeof(*ev));
	assert_int_equal(ev->pin.nh_id, pin_of(f, &ev->key));
	return 1; /* counted by ring_buffer__consume() */
}

static void datapath_reports_each_new_pin(void **state)
{
	struct fixture_opts o = { .hook = HOOK_XDP, .sync_pins = true };
	struct flowpin_fixture f;
	struct ring_buffer *rb;
	__u8 in[PKT_MAX], out[PKT_MAX];
	__u32 out_len;
	int n;

	(void)state;
	assert_int_equal(fixture_load_opts(&f, &o), 0);
	rb = ring_buffer__new(bpf_map__fd(f.skel->maps.pin_events), count_event,
			      &f, NULL);
	assert_non_null(rb);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 10; i++) {
			struct pkt_spec s = {
				.family = i % 2 ? 6 : 4, .proto = IPPROTO_UDP,
				.src = i % 2 ? CLIENT6 : CLIENT4,
				.dst = i % 2 ? SVC6 : SVC4,
				.sport = 5000 + i, .dport = 53,
			};
			size_t len = pkt_build(&s, in);

			assert_int_equal(fixture_run(&f, in, len, out, &out_len,
						     rt.ifindex_in0), XDP_REDIRECT);
		}
	n = ring_buffer__consume(rb);
	assert_int_equal(n, 10);
	ring_buffer__free(rb);
	fixture_unload(&f);

	/* and none without sync */
	o.sync_pins = false;
	assert_int_equal(fixture_load_opts(&f, &o), 0);
	rb = ring_buffer__new(bpf_map__fd(f.skel->maps.pin_events), count_event,
			      &f, NULL);
	for (int i = 0; i < 10; i++) {
		struct pkt_spec s = { .family = 4, .proto = IPPROTO_UDP,
				      .src = CLIENT4, .dst = SVC4,
				      .sport = 5000 + i, .dport = 53 };
		size_t len = pkt_build(&s, in);

		assert_int_equal(fixture_run(&f, in, len, out, &out_len,
					     rt.ifindex_in0), XDP_REDIRECT);
	}
	assert_int_equal(ring_buffer__consume(rb), 0);
	ring_buffer__free(rb);
	fixture_unload(&f);
}

static void ready_after_the_peers_bulk_sync(void **state)
{
	pid_t pid;
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	bool asked = false;

	(void)state;
	tpeer_open();
	pid = start_synced("30");
	assert_true(pid > 0);
	/*
	 * Greeted, it asks for our pins from its main loop, which says ready
	 * first thing when it is due: not yet, while the bulk sync is owed
	 */
	for (int waited = 0; !asked && waited < 60000; waited += 200) {
		tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		asked = trecv(SYNC_BULK_REQ, &h, buf, 200, true);
	}
	assert_true(asked);
	assert_false(daemon_log_has("ready:"));
	tack(h.seq);
	tsend(SYNC_PINS, SYNC_F_END, 0, NULL, NULL, 0);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("bulk sync from 127.0.0.1:7431 done: 0 pins"));
}

static void ready_after_the_wait_without_peers(void **state)
{
	__u64 t0 = now_us();
	pid_t pid = start_synced("1");

	(void)state;
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(now_us() - t0 >= 1000000);
	assert_true(daemon_log_has("no bulk sync from 127.0.0.1:7431 after 1 s"));
	assert_int_equal(peer_status(1).state, FP_PEER_WAITING);
}

static void new_pins_reach_the_peer_until_acked(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	int egress[16], seen = 0;
	struct sync_hdr h;
	struct sync_peer_status st;

	(void)state;
	start_joined();
	flows_through(31000, 16, egress);
	while (seen < 16) {
		assert_true(trecv(SYNC_PINS, &h, buf, 2000, true));
		for (unsigned int i = 0; i < h.count; i++) {
			struct sync_pin p;
			struct flow_key want;
			char gw[32];
			int sport;

			sync_get_pin(buf, i, &p);
			sport = ntohs(p.key.sport);
			assert_in_range(sport, 31000, 31015);
			/* the flow's whole key: addresses, ports, protocol */
			want = flow(sport);
			assert_memory_equal(&p.key, &want, sizeof(want));
			/* the gateway of the egress the flow took */
			snprintf(gw, sizeof(gw), "10.0.%d.2", egress[sport - 31000]);
			assert_int_equal(p.gw_family, FP_AF_INET);
			assert_int_equal(p.gw[0], inet_addr(gw));
			/* made here (127.0.0.1), from a SYN, as flow_pins says */
			assert_int_equal(p.router, 0x7f000001);
			assert_true(p.rank == pin_here(sport).rank);
			assert_false(p.rank & FP_RANK_MID_STREAM);
			seen++;
		}
		tack(h.seq);
	}
	assert_int_equal(seen, 16);

	/* one more, not acked: sent again, with a new seq, until it is */
	flows_through(31100, 1, egress);
	assert_true(trecv(SYNC_PINS, &h, buf, 2000, false));
	{
		uint64_t first = h.seq;
		struct sync_pin p;

		assert_true(trecv(SYNC_PINS, &h, buf, 1000, false));
		assert_true(h.seq > first);
		sync_get_pin(buf, 0, &p);
		assert_int_equal(ntohs(p.key.sport), 31100);
		/* while it waits, the peer's row shows it waiting */
		st = wait_lag(300);
		assert_in_range(st.lag_ms, 300, 10000);
		assert_int_equal(st.inflight, 1);
		assert_int_equal(st.queued, 0);
		assert_true(st.rtt_us > 0); /* from the acks of the 16 */
		/* the copies sent meanwhile: the newest is acked */
		assert_true(trecv(SYNC_PINS, &h, buf, 3000, false));
		first = h.seq;
		while (trecv(SYNC_PINS, &h, buf, 300, false)) {
			first = h.seq;
			tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		}
		tack(first);
	}
	st = WAIT_STATUS(1, resends, 1);
	assert_true(st.resends >= 1);
	assert_int_equal(st.state, FP_PEER_UP);
	assert_true(st.pins_sent >= 17);
	/* acked: no more copies, and nothing waits */
	assert_false(trecv(SYNC_PINS, &h, buf, 700, false));
	for (int i = 0; i < 20 && (st = peer_status(1)).inflight; i++)
		usleep(100000);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.lag_ms, 0);
	/*
	 * and what an operator sees, the peer having just spoken (3 s of
	 * silence make it down, and a loaded host can take that long here
	 * before the daemon reads the ack): asked again after each hello,
	 * for 2 s at most
	 */
	tack(h.seq);
	for (int i = 0, ok = -1; ok; i++) {
		if (i)
			tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		usleep(100000);
		ok = sh("\"$(dirname %s)/flowpinctl\" -p %s -j peers | "
			"grep -q '\"peer\":\"127.0.0.1:7431\",\"self\":false,\"state\":\"up\"' && "
			"\"$(dirname %s)/flowpinctl\" -p %s peers | "
			"grep -q '^127.0.0.1:7431 *up '",
			flowpind, pin_path, flowpind, pin_path);
		assert_true(!ok || i < 20);
	}
}

static void peer_pins_are_applied_by_gateway(void **state)
{
	struct sync_pin pins[10];
	int egress[8], existing;
	char gw[32];
	struct sync_peer_status st;

	(void)state;
	start_joined();
	flows_through(31000, 1, &existing);
	for (int i = 0; i < 8; i++) {
		snprintf(gw, sizeof(gw), "10.0.%d.2", i % 4 + 1);
		pins[i] = wire_pin(32000 + i, gw);
	}
	/* a flow pinned here already, to another gateway: kept */
	snprintf(gw, sizeof(gw), "10.0.%d.2", existing % 4 + 1);
	pins[8] = wire_pin(31000, gw);
	/* a gateway this router does not have */
	pins[9] = wire_pin(32100, "10.77.0.1");
	tsend(SYNC_PINS, 0, 0, pins, NULL, 10);

	st = WAIT_STATUS(1, pins_received, 10);
	assert_int_equal(st.pins_received, 10);
	assert_int_equal(st.pins_applied, 8);
	/* the pin here was made before the peer's: a conflict the rule keeps */
	assert_int_equal(st.skips[FP_SKIP_BETTER], 1);
	assert_int_equal(st.skips[FP_SKIP_HAVE], 0);
	assert_int_equal(st.pins_replaced, 0);
	assert_int_equal(st.skips[FP_SKIP_GATEWAY], 1);
	for (int i = 0; i < 8; i++)
		assert_int_equal(pinned_to(32000 + i), nh_id(i % 4 + 1));
	assert_int_equal(pinned_to(31000), nh_id(existing));
	assert_int_equal(pinned_to(32100), 0);
	/* and the datapath sends those flows where the peer pinned them */
	flows_through(32000, 8, egress);
	for (int i = 0; i < 8; i++)
		assert_int_equal(egress[i], i % 4 + 1);
}

/* The gateway of another egress than e's (1..4), "10.0.N.2". */
static void other_gw(int e, char *gw, size_t len)
{
	snprintf(gw, len, "10.0.%d.2", e % 4 + 1);
}

/*
 * The fleet's rule between a pin here and a peer's of the same flow: the
 * pin made from a first packet, then the earlier, wins, whichever came
 * first; agreement and conflict are counted apart. A pin the peer's
 * replaces leaves every CPU's cache: the flow's next packet goes the
 * peer's way.
 */
static void conflicts_follow_the_rule(void **state)
{
	struct sync_pin pins[4];
	int here[4], egress[4];
	char gw[32];
	struct sync_peer_status st;
	struct flow_pin mine;
	uint64_t before, after;
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	struct sync_pin back;

	(void)state;
	start_joined();
	/* one CPU, whose cache copies the replaced pins must leave */
	assert_int_equal(run_on_cpu(0), 0);
	before = tai_ns();
	flows_through(34000, 3, here);
	after = tai_ns();
	flows_through(34000, 3, egress); /* the second packets: into the cache */
	/* a pin made from a SYN ranks by when it was made */
	mine = pin_here(34000);
	assert_false(mine.rank & FP_RANK_MID_STREAM);
	assert_in_range(mine.rank, before, after);
	assert_int_equal(mine.router, 0);
	/* one made from a segment without SYN is mid-stream */
	flows_through_flags(34003, 1, 0x10, &here[3]);
	assert_true(pin_here(34003).rank & FP_RANK_MID_STREAM);

	/* made before ours: it wins */
	other_gw(here[0], gw, sizeof(gw));
	pins[0] = wire_pin(34000, gw);
	pins[0].rank = mine.rank - 1000;
	/* made after ours: ours stays */
	other_gw(here[1], gw, sizeof(gw));
	pins[1] = wire_pin(34001, gw);
	/* the same gateway, made before ours: they agree, and its rank is kept */
	snprintf(gw, sizeof(gw), "10.0.%d.2", here[2]);
	pins[2] = wire_pin(34002, gw);
	pins[2].rank = pin_here(34002).rank - 1000;
	/* made after ours, but from a first packet: ours was mid-stream */
	other_gw(here[3], gw, sizeof(gw));
	pins[3] = wire_pin(34003, gw);
	/* the daemon's new pins of these flows, taken and acked first */
	while (trecv(SYNC_PINS, &h, buf, 300, false))
		tack(h.seq);
	tsend(SYNC_PINS, 0, 0, pins, NULL, 4);
	/*
	 * The pin here that won goes back to the peer (it may have missed
	 * it), sent once the whole datagram was applied; the one the peer
	 * outranked on the same next hop does not.
	 */
	assert_true(trecv(SYNC_PINS, &h, buf, 3000, false));
	assert_int_equal(h.count, 1);
	sync_get_pin(buf, 0, &back);
	assert_int_equal(ntohs(back.key.sport), 34001);
	assert_int_equal(back.router, 0x7f000001);
	assert_true(back.rank == pin_here(34001).rank);
	tack(h.seq);
	/* the flows' next packets, well within a cache check */
	flows_through(34000, 4, egress);
	assert_int_equal(egress[0], here[0] % 4 + 1);
	assert_int_equal(egress[1], here[1]);
	assert_int_equal(egress[2], here[2]);
	assert_int_equal(egress[3], here[3] % 4 + 1);
	assert_false(trecv(SYNC_PINS, &h, buf, 500, false));

	st = WAIT_STATUS(1, pins_received, 4);
	assert_int_equal(st.pins_replaced, 2);
	assert_int_equal(st.pins_applied, 2);
	assert_int_equal(st.skips[FP_SKIP_BETTER], 1);
	assert_int_equal(st.skips[FP_SKIP_HAVE], 1);
	assert_int_equal(pinned_to(34000), nh_id(here[0] % 4 + 1));
	assert_int_equal(pinned_to(34001), nh_id(here[1]));
	assert_int_equal(pinned_to(34002), nh_id(here[2]));
	assert_int_equal(pinned_to(34003), nh_id(here[3] % 4 + 1));
	/* the winner's rank and router, for the next pin to be judged by */
	assert_true(pin_here(34000).rank == pins[0].rank);
	assert_int_equal(pin_here(34000).router, peer.router);
	assert_int_equal(pin_here(34001).router, 0);
	assert_true(pin_here(34002).rank == pins[2].rank);
	assert_int_equal(pin_here(34002).router, peer.router);
	/* and what an operator sees: the peer just spoke */
	tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
	assert_int_equal(sh("\"$(dirname %s)/flowpinctl\" -p %s peers | "
			    "grep -q '^127.0.0.1:7431: conflicts 3 (theirs taken 2, ours kept 1), agreed 1$'",
			    flowpind, pin_path), 0);
}

/*
 * Hellos say how many pins their sender made and holds: the daemon's, at
 * its count (every 10 s); a peer's, kept in its row. The fleet's pins
 * held against --max-flows: said once when they pass it.
 */
static void hellos_carry_the_pins_made(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_peer_status st;
	struct sync_hdr h;
	int egress[8], i;

	(void)state;
	start_joined();
	flows_through(36000, 8, egress);
	/* 8 pins made here, 3 from the peer (not made here) */
	{
		struct sync_pin pins[3];

		for (i = 0; i < 3; i++)
			pins[i] = wire_pin(36100 + i, "10.0.1.2");
		tsend(SYNC_PINS, 0, 0, pins, NULL, 3);
		WAIT_STATUS(1, pins_applied, 3);
	}
	/* the peer's hello: 262,140 pins, 4 fewer than --max-flows */
	assert_int_equal(test_peer_send(&peer, SYNC_HELLO, 0, 262140, NULL, NULL, 0), 0);
	st = WAIT_STATUS(1, pins_made, 262140);
	assert_int_equal(st.pins_made, 262140);
	assert_false(daemon_log_has("the fleet holds"));
	/*
	 * the daemon's own count comes within its 10 s, then in its hellos;
	 * the peer speaks meanwhile (silent 3 s, it would be down, and its
	 * pins no longer counted)
	 */
	for (i = 0; i < 150; i++) {
		if (trecv(SYNC_HELLO, &h, buf, 100, true) && h.aux == 8)
			break;
		assert_int_equal(test_peer_send(&peer, SYNC_HELLO, 0, 262140, NULL, NULL, 0), 0);
	}
	assert_int_equal(h.aux, 8);
	st = WAIT_STATUS(0, pins_made, 8); /* its row, at the next write */
	assert_int_equal(st.pins_made, 8);
	/* with the 8 made here, more than the default --max-flows: said */
	assert_true(daemon_log_has("sync: the fleet holds about 262148 pins (8 made here, 262140 by peers), more than --max-flows 262144"));
}

/*
 * Peers' pins draw on the turnover budget the datapath's new pins do:
 * --max-flows 1000 per --min-pin-age 10 s is 100 pins a second, 10 a
 * 100 ms window. 48 pins sent at once get 10 applied, or 20 or 30 when one
 * or two windows end while flowpind applies them (a busy machine); the
 * rest are skipped as turnover_budget. Unbudgeted, all 48 are applied.
 * A bulk sync's pins right after, in the spent window, all apply.
 */
static void peer_pins_draw_on_the_turnover_budget(void **state)
{
	struct sync_pin pins[16];
	struct sync_peer_status st;
	__u64 applied;
	int pinned = 0;
	pid_t pid;

	(void)state;
	tpeer_open();
	pid = daemon_start("--sync", DAEMON_ADDR, "--peer", "127.0.0.1:7431",
			   "--sync-key", key_path, "--sync-wait", "30",
			   "--max-flows", "1000", "--min-pin-age", "10", PORTS,
			   NULL);
	assert_true(pid > 0);
	tpeer_join();
	assert_int_equal(daemon_wait_ready(pid), 0);
	for (int d = 0; d < 3; d++) {
		for (int i = 0; i < 16; i++)
			pins[i] = wire_pin(33000 + d * 16 + i, "10.0.1.2");
		tsend(SYNC_PINS, 0, 0, pins, NULL, 16);
	}
	st = WAIT_STATUS(1, pins_received, 48);
	assert_int_equal(st.pins_received, 48);
	applied = st.pins_applied;
	assert_in_range(applied, 10, 30);
	assert_int_equal(st.skips[FP_SKIP_BUDGET], 48 - applied);
	for (int i = 0; i < 48; i++)
		pinned += pinned_to(33000 + i) != 0;
	assert_int_equal(pinned, applied);
	assert_int_equal(sh("\"$(dirname %s)/flowpinctl\" -p %s peers | "
			    "grep -q 'not applied turnover_budget %llu'", flowpind,
			    pin_path, (unsigned long long)(48 - applied)), 0);
	/* a bulk sync's pins are the fleet's state to catch up with: all in */
	for (int i = 0; i < 16; i++)
		pins[i] = wire_pin(33100 + i, "10.0.1.2");
	tsend(SYNC_PINS, SYNC_F_BULK, 0, pins, NULL, 16);
	st = WAIT_STATUS(1, pins_received, 64);
	assert_int_equal(st.pins_applied, applied + 16);
	assert_int_equal(st.skips[FP_SKIP_BUDGET], 48 - applied);
	for (int i = 0; i < 16; i++)
		assert_int_not_equal(pinned_to(33100 + i), 0);
}

/* A datagram with one pin for this flow, sealed with this key. */
static size_t pin_dgram_to(uint8_t *buf, int sport, const uint8_t *k,
			   uint64_t time_ns, const struct sync_ends *ends)
{
	struct sync_pin p = wire_pin(sport, "10.0.1.2");
	struct sync_hdr h = { .type = SYNC_PINS, .count = 1, .router = peer.router,
			      .epoch = peer.epoch, .seq = ++peer.seq,
			      .time_ns = time_ns };

	sync_put_hdr(buf, &h);
	sync_put_pin(buf, 0, &p);
	return sync_seal(buf, k, ends);
}

/* The same, from this test to the daemon. */
static size_t pin_dgram(uint8_t *buf, int sport, const uint8_t *k,
			uint64_t time_ns)
{
	return pin_dgram_to(buf, sport, k, time_ns, &peer.to);
}

static void bad_datagrams_are_dropped_and_never_pin(void **state)
{
	static const uint8_t wrong_key[SYNC_KEY_LEN] = { 0xee };
	uint8_t buf[SYNC_MAX_DGRAM + 100], good[SYNC_MAX_DGRAM];
	struct sync_peer_status st, self;
	size_t len, good_len;
	pid_t pid = start_joined();
	int other;

	(void)state;
	/* a good one first, kept for the replay */
	good_len = pin_dgram(good, 33000, key, realtime_ns());
	send_raw(peer.fd, good, good_len);
	WAIT_STATUS(1, pins_applied, 1);
	assert_int_not_equal(pinned_to(33000), 0);
	{
		struct flow_key k = flow(33000);
		int fd = pinned_fd("flow_pins");

		assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
		close(fd);
	}

	send_raw(peer.fd, good, good_len);			/* replay */
	len = pin_dgram(buf, 33001, wrong_key, realtime_ns());	/* forged */
	send_raw(peer.fd, buf, len);
	len = pin_dgram(buf, 33002, key, realtime_ns());	/* truncated */
	send_raw(peer.fd, buf, len - 5);
	len = pin_dgram(buf, 33003, key, realtime_ns());	/* oversized */
	memset(buf + len, 0, sizeof(buf) - len);
	send_raw(peer.fd, buf, SYNC_MAX_DGRAM + 100);
	len = pin_dgram(buf, 33004, key, realtime_ns());	/* version 1 */
	buf[2] = 1;
	sync_seal(buf, key, &peer.to);
	send_raw(peer.fd, buf, len);
	len = pin_dgram(buf, 33005, key, realtime_ns() - 3600ULL * 1000000000ULL);
	send_raw(peer.fd, buf, len);				/* an hour old */
	send_raw(peer.fd, buf, 10);				/* short */
	{
		/* good, but sealed for another receiver (replayed here) */
		static const __u8 lo[4] = { 127, 0, 0, 1 };
		struct sync_ends elsewhere;

		sync_ends_make(&elsewhere, FP_AF_INET, lo, PEER_PORT, lo, 7499);
		len = pin_dgram_to(buf, 33008, key, realtime_ns(), &elsewhere);
		send_raw(peer.fd, buf, len);
	}
	other = udp_socket(PEER_PORT + 1);			/* not a peer */
	len = pin_dgram(buf, 33006, key, realtime_ns());
	send_raw(other, buf, len);
	close(other);

	self = WAIT_STATUS(0, drops[FP_DROP_UNKNOWN], 1);
	st = WAIT_STATUS(1, drops[FP_DROP_SHORT], 1);
	assert_int_equal(st.drops[FP_DROP_REPLAY], 1);
	assert_int_equal(st.drops[FP_DROP_AUTH], 3); /* forged, truncated, elsewhere's */
	assert_int_equal(st.drops[FP_DROP_LONG], 1);
	assert_int_equal(st.drops[FP_DROP_VERSION], 1);
	assert_int_equal(st.drops[FP_DROP_CLOCK], 1);
	assert_int_equal(st.drops[FP_DROP_SHORT], 1);
	assert_int_equal(self.drops[FP_DROP_UNKNOWN], 1);
	for (int sport = 33000; sport <= 33008; sport++)
		assert_int_equal(pinned_to(sport), 0);
	/* and it is still there, taking good ones */
	assert_int_equal(kill(pid, 0), 0);
	len = pin_dgram(buf, 33007, key, realtime_ns());
	send_raw(peer.fd, buf, len);
	st = WAIT_STATUS(1, pins_applied, 2);
	assert_int_equal(st.pins_applied, 2);
	assert_int_equal(pinned_to(33007), nh_id(1));
}

/*
 * A fleet moving to a new key: flowpind with --sync-key-next takes a
 * peer's datagrams signed with either key, and signs its own with
 * --sync-key only (every message the test peer opens is checked with it).
 * A third key is still refused.
 */
static void a_second_key_is_accepted_while_the_fleet_moves_to_it(void **state)
{
	static const uint8_t third_key[SYNC_KEY_LEN] = { 0x33 };
	char next_path[80], err[256];
	uint8_t next_key[SYNC_KEY_LEN], buf[SYNC_MAX_DGRAM];
	struct sync_peer_status st;
	struct sync_hdr h;
	size_t len;
	pid_t pid;
	int fd;

	(void)state;
	snprintf(next_path, sizeof(next_path), "%s-next", key_path);
	fd = open(next_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "the fleet's next secret, 32 bytes or more.", 42), 42);
	close(fd);
	assert_int_equal(sync_key_load(next_path, next_key, err, sizeof(err)), 0);

	tpeer_open();
	pid = daemon_start("--sync", DAEMON_ADDR, "--peer", "127.0.0.1:7431",
			   "--sync-key", key_path, "--sync-key-next", next_path,
			   "--sync-wait", "30", PORTS, NULL);
	assert_true(pid > 0);
	tpeer_join();
	assert_int_equal(daemon_wait_ready(pid), 0);

	len = pin_dgram(buf, 34000, next_key, realtime_ns());
	send_raw(peer.fd, buf, len);
	len = pin_dgram(buf, 34001, third_key, realtime_ns());
	send_raw(peer.fd, buf, len);
	len = pin_dgram(buf, 34002, key, realtime_ns());
	send_raw(peer.fd, buf, len);
	st = WAIT_STATUS(1, pins_applied, 2);
	assert_int_equal(st.pins_applied, 2);
	assert_int_equal(st.drops[FP_DROP_AUTH], 1);
	assert_int_equal(pinned_to(34000), nh_id(1));
	assert_int_equal(pinned_to(34001), 0);
	assert_int_equal(pinned_to(34002), nh_id(1));
	assert_true(daemon_log_has("signs with the key of --sync-key-next"));
	/* its own messages are signed with --sync-key: acks of those pins */
	assert_true(trecv(SYNC_ACK, &h, buf, 5000, true));
	unlink(next_path);
}

/*
 * A bulk sync's END goes once every pin of the walk was acked: a peer that
 * took END for "all here" while a datagram of the walk was lost would be
 * ready without those pins.
 */
static void a_bulk_sync_ends_after_its_pins_are_acked(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	int egress[64], bulk = 0;
	struct sync_hdr h;
	uint64_t until;

	(void)state;
	start_joined();
	flows_through(35000, 64, egress);
	while (trecv(SYNC_PINS, &h, buf, 500, true))
		tack(h.seq);
	tsend(SYNC_BULK_REQ, 0, 0, NULL, NULL, 0);
	/* nothing acked for 1.5 s: the walk's pins come, and come again, no END */
	until = realtime_ns() + 1500000000ULL;
	while (realtime_ns() < until) {
		if (!trecv(SYNC_PINS, &h, buf, 200, true))
			continue;
		assert_false(h.flags & SYNC_F_END);
		bulk += h.count;
	}
	assert_true(bulk >= 64);
	/* acked from now on: the END follows */
	for (;;) {
		assert_true(trecv(SYNC_PINS, &h, buf, 5000, true));
		tack(h.seq);
		if (h.flags & SYNC_F_END)
			break;
	}
	assert_int_equal(h.aux, 64); /* the pins of the walk, sent once each */
}

/*
 * An ACK carries the run it acks: one of the daemon's earlier run (a
 * replay, or a peer that missed a restart) frees no pin of this one.
 */
static void acks_of_an_earlier_run_free_nothing(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	struct sync_pin p;
	int egress;

	(void)state;
	start_joined();
	flows_through(36000, 1, &egress);
	assert_true(trecv(SYNC_PINS, &h, buf, 2000, false));
	{
		uint64_t acks[2] = { peer.their_epoch - 1, h.seq };

		tsend(SYNC_ACK, 0, 0, NULL, acks, 2);
	}
	/* still unacked: it comes again */
	assert_true(trecv(SYNC_PINS, &h, buf, 2000, false));
	sync_get_pin(buf, 0, &p);
	assert_int_equal(ntohs(p.key.sport), 36000);
	tack(h.seq);
	assert_false(trecv(SYNC_PINS, &h, buf, 700, false));
}

/*
 * Each copy of a message takes a new seq; an ack of an earlier copy, come
 * late, frees it all the same: no more copies. (When only the last copy's
 * ack counted, late acks fed the resends they came too late for.)
 */
static void an_ack_of_any_copy_stops_the_resends(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	uint64_t first;
	int egress;

	(void)state;
	start_joined();
	flows_through(37000, 1, &egress);
	assert_true(trecv(SYNC_PINS, &h, buf, 2000, false));
	first = h.seq;
	assert_true(trecv(SYNC_PINS, &h, buf, 3000, false));
	assert_true(h.seq > first);
	tack(first);
	assert_false(trecv(SYNC_PINS, &h, buf, 1500, false));
}

/*
 * A peer that restarted (a newer epoch, its seqs from 1) lost the pins it
 * held: the daemon sees it and asks it for its pins again, and says so.
 */
static void a_restarted_peer_is_seen(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;

	(void)state;
	start_joined();
	assert_false(daemon_log_has("back (restarted)"));
	peer.epoch = realtime_ns();
	peer.seq = 0;
	tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
	assert_true(trecv(SYNC_BULK_REQ, &h, buf, 3000, true));
	assert_true(daemon_log_has("back (restarted)"));
}

/*
 * A run's epoch never goes back: the last run's stays in sync_peers, and a
 * start whose clock is behind it takes the last one's plus one (its peers
 * would otherwise drop its messages as replays of the last run).
 */
static void a_restart_keeps_the_epoch_ahead(void **state)
{
	struct sync_peer_status self;
	__u32 key = 0;
	__u64 ahead;
	pid_t pid = start_joined();
	int fd;

	(void)state;
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	fd = pinned_fd("sync_peers");
	/* a stopped daemon leaves its run's epoch, and nothing else */
	assert_int_equal(bpf_map_lookup_elem(fd, &key, &self), 0);
	assert_int_equal(self.state, FP_PEER_UNUSED);
	assert_true(self.epoch == peer.their_epoch);
	/* the last run as if the clock had been an hour ahead then */
	ahead = self.epoch + 3600ULL * 1000000000ULL;
	self.epoch = ahead;
	assert_int_equal(bpf_map_update_elem(fd, &key, &self, BPF_ANY), 0);
	close(fd);
	pid = start_synced("30");
	assert_true(pid > 0);
	tpeer_join();
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(peer.their_epoch == ahead + 1);
	assert_true(daemon_log_has("the clock is behind the last run's start"));
}

/*
 * A bulk request sent before the daemon started was meant for its last
 * run: replayed within the 30 s the clock check allows, it would start a
 * whole walk. Refused as a replay; a fresh one is answered.
 */
static void a_bulk_request_of_an_earlier_run_is_refused(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h = { .type = SYNC_BULK_REQ, .router = peer.router };
	struct sync_peer_status st;

	(void)state;
	start_joined();
	h.epoch = peer.epoch;
	h.seq = ++peer.seq;
	h.time_ns = peer.their_epoch - 5ULL * 1000000000ULL;
	sync_put_hdr(buf, &h);
	send_raw(peer.fd, buf, sync_seal(buf, key, &peer.to));
	st = WAIT_STATUS(1, drops[FP_DROP_REPLAY], 1);
	assert_int_equal(st.drops[FP_DROP_REPLAY], 1);
	assert_false(trecv(SYNC_PINS, &h, buf, 1000, true));
	tsend(SYNC_BULK_REQ, 0, 0, NULL, NULL, 0);
	assert_true(trecv(SYNC_PINS, &h, buf, 3000, true));
	assert_true(h.flags & SYNC_F_END);
}

/*
 * Mark in seen the flows of a PINS message (sports base .. base + n - 1,
 * none other), and keep their pins in pins unless NULL (a pin seen before
 * must be the same): how many were not marked yet. Once each when !dups.
 */
static int keep_pins(const uint8_t *buf, const struct sync_hdr *h, int base,
		     int n, int *seen, bool dups, struct sync_pin *pins)
{
	int fresh = 0;

	for (unsigned int i = 0; i < h->count; i++) {
		struct sync_pin p;
		int at;

		sync_get_pin(buf, i, &p);
		at = ntohs(p.key.sport) - base;
		assert_in_range(at, 0, n - 1);
		if (!dups)
			assert_int_equal(seen[at], 0);
		if (pins && seen[at])
			assert_memory_equal(&pins[at], &p, sizeof(p));
		else if (pins)
			pins[at] = p;
		fresh += !seen[at];
		seen[at] = 1;
	}
	return fresh;
}

/* keep_pins() without keeping them. */
static int mark_pins(const uint8_t *buf, const struct sync_hdr *h, int base,
		     int n, int *seen, bool dups)
{
	return keep_pins(buf, h, base, n, seen, dups, NULL);
}

/*
 * Wait until the daemon holds peer entry down (silent 3 s); the test's
 * own peer says hello meanwhile unless it is the one to go silent.
 */
static void wait_down(__u32 entry)
{
	for (int i = 0; i < 60 && peer_status(entry).state != FP_PEER_DOWN; i++) {
		if (entry != 1)
			tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		usleep(100000);
	}
	assert_int_equal(peer_status(entry).state, FP_PEER_DOWN);
}

/*
 * Join as tpeer_join() does, and say which flags the daemon's bulk
 * request carried.
 */
static uint8_t tpeer_join_flags(void)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;

	for (int waited = 0; waited < 60000; waited += 200) {
		tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		if (trecv(SYNC_BULK_REQ, &h, buf, 200, true)) {
			tack(h.seq);
			tsend(SYNC_PINS, SYNC_F_END, 0, NULL, NULL, 0);
			return h.flags;
		}
	}
	fail_msg("the daemon never asked for our pins");
	return 0;
}

/*
 * A daemon whose flow_pins is new (a first start, a reboot) asks for the
 * pins it made, too (SYNC_F_MINE): its peers hold them and it does not.
 * One that kept flow_pins from its last run does not: they are here.
 */
static void a_new_pin_table_asks_for_its_own_pins(void **state)
{
	pid_t pid;

	(void)state;
	tpeer_open();
	pid = start_synced("30");
	assert_true(pid > 0);
	assert_int_equal(tpeer_join_flags(), SYNC_F_MINE);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	pid = start_synced("30");
	assert_true(pid > 0);
	assert_int_equal(tpeer_join_flags(), 0);
	assert_int_equal(daemon_wait_ready(pid), 0);
	/* and once a peer's END came, not of that peer again (it restarted) */
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	daemon_cleanup();
	pid = start_synced("30");
	assert_true(pid > 0);
	assert_int_equal(tpeer_join_flags(), SYNC_F_MINE);
	peer.epoch = realtime_ns();
	peer.seq = 0;
	assert_int_equal(tpeer_join_flags(), 0);
}

/*
 * Ask the daemon for a bulk sync as tp, with these flags, and take it
 * all (acked): which flows of sports base .. base + n - 1 came, each once
 * (or more: a walk started again sends its first pins again).
 */
static int bulk_from_daemon_dups(struct test_peer *tp, uint8_t flags, int base,
				 int n, int *seen, bool dups)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	int got = 0;

	memset(seen, 0, n * sizeof(*seen));
	assert_int_equal(test_peer_send(tp, SYNC_BULK_REQ, flags, 0, NULL, NULL, 0), 0);
	for (;;) {
		assert_int_equal(test_peer_recv(tp, SYNC_PINS, &h, buf, 3000, true), 1);
		assert_int_equal(test_peer_ack(tp, h.seq), 0);
		if (!(h.flags & SYNC_F_BULK) && !(h.flags & SYNC_F_END))
			continue; /* new pins, not the walk's */
		if (h.flags & SYNC_F_END)
			break;
		got += mark_pins(buf, &h, base, n, seen, dups);
	}
	assert_int_equal(h.aux, got);
	return got;
}

static int bulk_from_daemon(struct test_peer *tp, uint8_t flags, int base,
			    int n, int *seen)
{
	return bulk_from_daemon_dups(tp, flags, base, n, seen, false);
}

/*
 * A bulk sync holds each pin once across the fleet: its maker sends it.
 * Asked by peer A, the daemon sends the pins it made and those of a
 * router that is not in touch (not a peer here, or a silent one) or that
 * lost its own (asked with SYNC_F_MINE); not A's own unless A asks for
 * them (a request with MINE starts a walk without them again), and not
 * those of peer B, which A asks itself while B is in touch.
 */
static void a_bulk_sync_sends_each_pin_from_its_maker(void **state)
{
	struct test_peer b = { .fd = -1 };
	struct sync_pin pins[8];
	int egress[8], seen[40];
	pid_t pid;

	(void)state;
	tpeer_open();
	assert_int_equal(test_peer_open(&b, PEER_PORT + 1, 7430, key), 0);
	pid = daemon_start("--sync", DAEMON_ADDR, "--peer", "127.0.0.1:7431",
			   "--peer", "127.0.0.1:7432", "--sync-key", key_path,
			   "--sync-wait", "30", PORTS, NULL);
	assert_true(pid > 0);
	tpeer_join();
	assert_int_equal(test_peer_join(&b, 60000), 0);
	assert_int_equal(daemon_wait_ready(pid), 0);

	/* sports 39000-39007: made here; 39008-15: A's; 39016-23: router X's
	 * (sent by A); 39024-31: B's */
	flows_through(39000, 8, egress);
	for (int i = 0; i < 8; i++) {
		char gw[32];

		snprintf(gw, sizeof(gw), "10.0.%d.2", i % 4 + 1);
		pins[i] = wire_pin(39008 + i, gw);
	}
	tsend(SYNC_PINS, 0, 0, pins, NULL, 8);
	for (int i = 0; i < 8; i++) {
		pins[i] = wire_pin(39016 + i, "10.0.1.2");
		pins[i].router = 0x0a0a0a0a;
	}
	tsend(SYNC_PINS, 0, 0, pins, NULL, 8);
	for (int i = 0; i < 8; i++) {
		struct flow_key k = flow(39024 + i);
		__be32 gw = inet_addr("10.0.2.2");

		pins[i] = test_peer_pin(&b, &k, FP_AF_INET, &gw);
	}
	assert_int_equal(test_peer_send(&b, SYNC_PINS, 0, 0, pins, NULL, 8), 0);
	for (int i = 0; i < 50 && !pinned_to(39031); i++)
		usleep(100000);
	for (int i = 8; i < 32; i++)
		assert_int_not_equal(pinned_to(39000 + i), 0);

	/* B speaks: in touch (silent 3 s, it would be down) */
	assert_int_equal(test_peer_send(&b, SYNC_HELLO, 0, 0, NULL, NULL, 0), 0);
	assert_int_equal(bulk_from_daemon(&peer, 0, 39000, 40, seen), 16);
	for (int i = 0; i < 32; i++)
		assert_int_equal(seen[i], i < 8 || (i >= 16 && i < 24));
	/* a walk without A's own under way, then A asks for them too */
	assert_int_equal(test_peer_send(&b, SYNC_HELLO, 0, 0, NULL, NULL, 0), 0);
	tsend(SYNC_BULK_REQ, 0, 0, NULL, NULL, 0);
	assert_int_equal(bulk_from_daemon_dups(&peer, SYNC_F_MINE, 39000, 40, seen,
					       true), 24);
	for (int i = 0; i < 32; i++)
		assert_int_equal(seen[i], i < 24);
	/* B lost its own (a reboot): A gets them from here too */
	assert_int_equal(test_peer_send(&b, SYNC_BULK_REQ, SYNC_F_MINE, 0, NULL, NULL, 0), 0);
	assert_int_equal(bulk_from_daemon(&peer, 0, 39000, 40, seen), 24);
	for (int i = 0; i < 32; i++)
		assert_int_equal(seen[i], i < 8 || i >= 16);
	/* a restart of B (a new run) clears it: its new request says again */
	b.epoch = realtime_ns();
	b.seq = 0;
	assert_int_equal(test_peer_send(&b, SYNC_HELLO, 0, 0, NULL, NULL, 0), 0);
	for (int i = 0; i < 30 && peer_status(2).epoch != b.epoch; i++)
		usleep(100000);
	assert_int_equal(bulk_from_daemon(&peer, 0, 39000, 40, seen), 16);
	test_peer_close(&b);

	/* B silent 3 s: down, and A gets B's pins from here */
	wait_down(2);
	assert_int_equal(bulk_from_daemon(&peer, 0, 39000, 40, seen), 24);
	for (int i = 0; i < 32; i++)
		assert_int_equal(seen[i], i < 8 || i >= 16);
}

/*
 * A peer silent for 3 s is down; the same run heard again is asked for
 * nothing and gets what it missed: the pins made meanwhile (queued for
 * it) and those it had not acked, as new pins, not a walk of the table.
 */
static void a_peer_back_from_silence_gets_what_it_missed(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	int egress[24], seen[24] = { 0 }, got = 0;
	struct sync_hdr h;

	(void)state;
	start_joined();
	flows_through(40000, 4, egress); /* sent, never acked */
	assert_true(trecv(SYNC_PINS, &h, buf, 2000, false));
	wait_down(1);
	flows_through(40004, 20, egress); /* made while it is away */
	usleep(300000);
	/* what went out before it was back: drained, unacked */
	while (test_peer_recv(&peer, SYNC_PINS, &h, buf, 100, false) == 1)
		;
	tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
	while (got < 24) {
		assert_true(trecv(SYNC_PINS, &h, buf, 3000, false));
		assert_int_equal(h.flags, 0);
		tack(h.seq);
		got += mark_pins(buf, &h, 40000, 24, seen, true);
	}
	assert_false(trecv(SYNC_BULK_REQ, &h, buf, 1000, false));
	assert_int_equal(peer_status(1).state, FP_PEER_UP);
	assert_true(daemon_log_has("is back: sending what it has not acked"));
}

/*
 * The queue for a silent peer holds what flow_pins holds at most
 * (--max-flows); past that, the queue goes (a peer gone for long costs
 * no memory), and when the peer is back a walk of the table brings every
 * pin: each flow pinned here reaches it.
 */
static void a_full_queue_is_made_up_by_a_walk(void **state)
{
	enum { N = 700 };
	static int egress[N], seen[N];
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	int bulk = 0, pinned = 0;
	pid_t pid;

	(void)state;
	tpeer_open();
	pid = daemon_start("--sync", DAEMON_ADDR, "--peer", "127.0.0.1:7431",
			   "--sync-key", key_path, "--sync-wait", "30",
			   "--max-flows", "256", "--min-pin-age", "0",
			   "--pin-rate", "0", PORTS, NULL);
	assert_true(pid > 0);
	tpeer_join();
	assert_int_equal(daemon_wait_ready(pid), 0);
	wait_down(1);
	flows_through(41000, N, egress);
	/* 256 queued, then one dropped: the queue goes, a walk is due */
	for (int i = 0; i < 30 && !peer_status(1).queue_drops; i++)
		usleep(100000);
	usleep(1100000); /* the row is written once a second */
	assert_int_equal(peer_status(1).queue_drops, 1);
	assert_int_equal(peer_status(1).queued, 0);

	tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
	for (;;) {
		assert_true(trecv(SYNC_PINS, &h, buf, 3000, true));
		tack(h.seq);
		if (h.flags & SYNC_F_END)
			break;
		bulk += h.flags & SYNC_F_BULK ? h.count : 0;
		mark_pins(buf, &h, 41000, N, seen, true);
	}
	assert_true(bulk > 0);
	for (int i = 0; i < N; i++) {
		if (!pinned_to(41000 + i))
			continue;
		pinned++;
		assert_int_equal(seen[i], 1);
	}
	/* the table's last flows, whose pins the full queue had dropped */
	assert_true(pinned >= 128);
	assert_true(daemon_log_has("were dropped"));
}

/*
 * Collect the daemon's pins for ms (acking each, saying hello so that it
 * keeps us up), marked by flow in seen (sports base .. base + n - 1).
 */
static void collect_pins(int base, int n, int *seen, int ms)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;

	for (int waited = 0; waited < ms; waited += 200) {
		tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		while (trecv(SYNC_PINS, &h, buf, 200, true)) {
			tack(h.seq);
			mark_pins(buf, &h, base, n, seen, true);
		}
	}
}

/*
 * The refresh: the pins of the flows this router forwards go to its
 * peers again, once a --sync-refresh, and only theirs: not a flow seen
 * once (no CPU took a copy), nor one idle for a period.
 */
static void live_flows_pins_go_to_the_peers_again(void **state)
{
	enum { N = 20, LIVE = 10 };
	int egress[N], seen[N] = { 0 };

	(void)state;
	start_joined_with("--sync-refresh", "1");
	flows_through(43000, N, egress);
	/* their new pins, once each */
	for (int i = 0; i < 50; i++) {
		int all = 1;

		collect_pins(43000, N, seen, 200);
		for (int f = 0; f < N; f++)
			all &= seen[f];
		if (all)
			break;
	}
	for (int f = 0; f < N; f++)
		assert_int_equal(seen[f], 1);
	/* a second packet of the first LIVE: each takes a CPU's copy */
	flows_through_flags(43000, LIVE, 0x10, egress);
	memset(seen, 0, sizeof(seen));
	collect_pins(43000, N, seen, 1500);
	for (int f = 0; f < N; f++)
		assert_int_equal(seen[f], f < LIVE);
	/* the row is written once a second */
	assert_true(WAIT_STATUS(1, pins_refreshed, LIVE).pins_refreshed >= LIVE);
	/* idle for a period: no longer live */
	collect_pins(43000, N, seen, 1200);
	memset(seen, 0, sizeof(seen));
	collect_pins(43000, N, seen, 1500);
	for (int f = 0; f < N; f++)
		assert_int_equal(seen[f], 0);
}

/* --- repair --------------------------------------------------------------- */

/* Pin i of a datagram, into p: its flow's place among base .. base + n - 1. */
static int pin_of_flows(const uint8_t *buf, unsigned int i, int base, int n,
			struct sync_pin *p)
{
	int at;

	sync_get_pin(buf, i, p);
	at = ntohs(p->key.sport) - base;
	assert_in_range(at, 0, n - 1);
	return at;
}

/*
 * The daemon's pins as they travel, of flows base .. base + n - 1, as it
 * sends them to us (new pins, or a repair's: want_flags), until each came
 * or ms passed: how many came. Every one must be of those flows, and come
 * once: but for a resend, which carries an earlier datagram's pins in its
 * order under a new seq (sync.c), when our ack was late (a loaded host).
 */
static int wire_pins_from_daemon(int base, int n, uint8_t want_flags,
				 struct sync_pin *pins, int *seen, int ms)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	/* each pin's datagram and place there; each datagram's pins */
	int dgram_of[n], place_of[n], count_of[n];
	struct sync_hdr h;
	int got = 0, dgrams = 0;

	for (int waited = 0; waited < ms && got < n; waited += 200) {
		tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		while (trecv(SYNC_PINS, &h, buf, 200, true)) {
			bool resend = true;
			int d = -1;

			tack(h.seq);
			assert_int_equal(h.flags, want_flags);
			if (!h.count)
				continue;
			for (unsigned int i = 0; i < h.count; i++) {
				struct sync_pin p;
				int at = pin_of_flows(buf, i, base, n, &p);

				if (!seen[at]) {
					resend = false;
					continue;
				}
				if (i == 0)
					d = dgram_of[at];
				resend &= dgram_of[at] == d && place_of[at] == (int)i;
			}
			if (resend && count_of[d] == (int)h.count)
				continue;
			for (unsigned int i = 0; i < h.count; i++) {
				struct sync_pin p;
				int at = pin_of_flows(buf, i, base, n, &p);

				assert_int_equal(seen[at], 0); /* once each */
				seen[at] = 1;
				dgram_of[at] = dgrams;
				place_of[at] = i;
				pins[at] = p;
				got++;
			}
			count_of[dgrams++] = h.count;
		}
	}
	return got;
}

/* Joined to a new daemon, with the pins of n new flows from base, as it sent them. */
static void joined_with_pins(int base, int n, struct sync_pin *mine)
{
	int egress[n], seen[n];

	memset(seen, 0, sizeof(seen));
	start_joined();
	flows_through(base, n, egress);
	assert_int_equal(wire_pins_from_daemon(base, n, 0, mine, seen, 10000), n);
}

/*
 * A repair's datagram from the daemon, acked: its pins of flows base ..
 * base + n - 1 into pins and seen; how many were new (a copy's are not).
 */
static int repair_pins_in(const uint8_t *buf, const struct sync_hdr *h, int base,
			  int n, struct sync_pin *pins, int *seen)
{
	assert_int_equal(h->flags, SYNC_F_REPAIR);
	tack(h->seq);
	return keep_pins(buf, h, base, n, seen, true, pins);
}

/*
 * No message of this type from the daemon for ms (saying hello meanwhile),
 * acking the pins and requests that come, or (!ack_others) none.
 */
static void none_acking(uint8_t type, int ms, bool ack_others)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;

	for (int waited = 0; waited < ms; waited += 200) {
		tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		assert_false(trecv(type, &h, buf, 200, ack_others));
	}
}

static void none_for(uint8_t type, int ms)
{
	none_acking(type, ms, true);
}

static void send_digest(const struct sync_digest *d)
{
	uint64_t w[SYNC_MAX_ACKS];

	w[0] = d->cut;
	memcpy(w + 1, d->range, sizeof(d->range));
	memcpy(w + SYNC_DIGEST_WORDS, d->gw, d->n_gw * sizeof(d->gw[0]));
	tsend(SYNC_DIGEST, 0, 0, NULL, w, SYNC_DIGEST_WORDS + d->n_gw);
}

/*
 * Repair, answered: our digest of the daemon's pins. Where it matches,
 * nothing comes; where pins are missing from it, the daemon names exactly
 * their ranges (SYNC_DIFF, with our cut) and sends its pins of those
 * ranges, each once (SYNC_F_REPAIR). A pin whose gateway the digest
 * leaves out, or made after its cut, does not count on the daemon's side
 * either.
 */
static void a_digest_of_the_daemons_pins_gets_what_differs(void **state)
{
	enum { N = 40, BASE = 44000, GONE1 = 3, GONE2 = 11 };
	struct sync_pin mine[N], rep[N];
	int seen[N], via1 = 0, sent = 0;
	struct sync_digest d;
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	uint64_t cut, ranges, want = 0;
	__be32 gw1;

	(void)state;
	joined_with_pins(BASE, N, mine);

	/* all of them: the same */
	memset(&d, 0, sizeof(d));
	d.cut = tai_ns();
	for (int i = 0; i < N; i++)
		repair_digest_add(&d, &mine[i]);
	send_digest(&d);
	none_for(SYNC_DIFF, 1000);
	assert_int_equal(WAIT_STATUS(1, digests_answered, 1).digests_answered, 1);

	/* made after the cut: not counted */
	memset(&d, 0, sizeof(d));
	d.cut = FP_RANK_TIME(mine[0].rank);
	for (int i = 0; i < N; i++)
		if (FP_RANK_TIME(mine[i].rank) < d.cut)
			repair_digest_add(&d, &mine[i]);
	send_digest(&d);
	none_for(SYNC_DIFF, 600);

	/* those through 10.0.1.2 left out, by the gateway's hash */
	inet_pton(AF_INET, "10.0.1.2", &gw1);
	memset(&d, 0, sizeof(d));
	d.cut = tai_ns();
	d.n_gw = 2;
	d.gw[0] = sync_gw_hash(FP_AF_INET, (__be32[4]){ htonl(0x0a4d0001) });
	d.gw[1] = sync_gw_hash(FP_AF_INET, (__be32[4]){ gw1 });
	for (int i = 0; i < N; i++) {
		via1 += mine[i].gw[0] == gw1;
		if (mine[i].gw[0] != gw1)
			repair_digest_add(&d, &mine[i]);
	}
	assert_true(via1 > 0);
	send_digest(&d);
	none_for(SYNC_DIFF, 600);

	/* two missing: their ranges, and the daemon's pins of them */
	memset(&d, 0, sizeof(d));
	d.cut = tai_ns();
	for (int i = 0; i < N; i++) {
		if (i == GONE1 || i == GONE2)
			want |= 1ULL << sync_pin_range(&mine[i]);
		else
			repair_digest_add(&d, &mine[i]);
	}
	send_digest(&d);
	tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
	assert_true(trecv(SYNC_DIFF, &h, buf, 2000, true));
	sync_get_diff(buf, &cut, &ranges);
	assert_true(cut == d.cut);
	assert_true(ranges == want);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < N; i++)
		sent += !!(want & 1ULL << sync_pin_range(&mine[i]));
	assert_int_equal(wire_pins_from_daemon(BASE, N, SYNC_F_REPAIR, rep, seen, 3000),
			 sent);
	for (int i = 0; i < N; i++) {
		assert_int_equal(seen[i], !!(want & 1ULL << sync_pin_range(&mine[i])));
		if (seen[i])
			assert_memory_equal(&rep[i], &mine[i], sizeof(rep[i]));
	}
	none_for(SYNC_PINS, 600); /* and nothing more */
	struct sync_peer_status st = WAIT_STATUS(1, digests_answered, 4);

	assert_int_equal(st.digests_answered, 4);
	assert_int_equal(st.ranges_repaired, __builtin_popcountll(want));
	assert_int_equal(st.pins_repaired, sent);
}

/*
 * A digest that comes while the last repair's pins are unacked is left for
 * the next round: it may have been summed before they arrived, and their
 * ranges would go again. Once they are acked, the next digest is answered.
 */
static void a_digest_waits_for_the_last_repairs_acks(void **state)
{
	enum { N = 40, BASE = 45000, GONE = 7 };
	struct sync_pin mine[N];
	int acked = 0;
	struct sync_digest d;
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;

	(void)state;
	joined_with_pins(BASE, N, mine);

	/* one missing: a diff, and the repair's pins, left unacked */
	memset(&d, 0, sizeof(d));
	d.cut = tai_ns();
	for (int i = 0; i < N; i++)
		if (i != GONE)
			repair_digest_add(&d, &mine[i]);
	send_digest(&d);
	tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
	assert_true(trecv(SYNC_DIFF, &h, buf, 2000, false));
	assert_true(trecv(SYNC_PINS, &h, buf, 2000, false));
	assert_int_equal(h.flags, SYNC_F_REPAIR);
	assert_int_equal(WAIT_STATUS(1, digests_answered, 1).digests_answered, 1);

	/* the same digest again, a round later: not answered */
	d.cut = tai_ns();
	send_digest(&d);
	none_acking(SYNC_DIFF, 1200, false);
	assert_int_equal(peer_status(1).digests_answered, 1);

	/* the repair's copies acked (resends come at most 2 s apart): the next one is */
	for (int waited = 0; waited < 3600 && !acked; waited += 200)
		while (trecv(SYNC_PINS, &h, buf, 200, false)) {
			tack(h.seq);
			acked++;
		}
	assert_true(acked > 0);
	for (int waited = 0; waited < 600; waited += 200) /* copies on the way */
		while (trecv(SYNC_PINS, &h, buf, 200, false))
			tack(h.seq);
	d.cut = tai_ns();
	send_digest(&d);
	tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
	assert_true(trecv(SYNC_DIFF, &h, buf, 2000, true));
	assert_int_equal(WAIT_STATUS(1, digests_answered, 2).digests_answered, 2);
}

/*
 * A peer's digest names the gateways it lacks: the refresh sends it no
 * pin of theirs (it would skip them), and every other live flow's.
 */
static void the_refresh_leaves_out_gateways_a_peer_lacks(void **state)
{
	enum { N = 20, BASE = 46000 };
	struct sync_pin mine[N];
	int egress[N], seen[N] = { 0 }, via1 = 0;
	struct sync_digest d = { 0 };
	__be32 gw1;

	(void)state;
	start_joined_with("--sync-refresh", "1");
	flows_through(BASE, N, egress);
	assert_int_equal(wire_pins_from_daemon(BASE, N, 0, mine, seen, 10000), N);
	/* our digest: every pin but those through 10.0.1.2, which it names */
	inet_pton(AF_INET, "10.0.1.2", &gw1);
	d.cut = tai_ns();
	d.n_gw = 1;
	d.gw[0] = sync_gw_hash(FP_AF_INET, (__be32[4]){ gw1 });
	for (int i = 0; i < N; i++) {
		via1 += mine[i].gw[0] == gw1;
		if (mine[i].gw[0] != gw1)
			repair_digest_add(&d, &mine[i]);
	}
	assert_true(via1 > 0 && via1 < N);
	send_digest(&d);
	none_for(SYNC_DIFF, 600); /* it matches */
	/* a second packet of each: all live */
	flows_through_flags(BASE, N, 0x10, egress);
	memset(seen, 0, sizeof(seen));
	collect_pins(BASE, N, seen, 2500);
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], mine[i].gw[0] != gw1);
}

/*
 * A peer's digest is not answered before its bulk sync to the daemon is
 * in (the daemon's table would differ from its everywhere), and is once
 * it is.
 */
static void no_digest_is_answered_before_the_peers_bulk_sync(void **state)
{
	int egress[10];
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	pid_t pid;

	(void)state;
	tpeer_open();
	pid = start_synced("0");
	assert_true(pid > 0);
	assert_int_equal(daemon_wait_ready(pid), 0);
	flows_through(48000, 10, egress);
	/* heard (it asks for our pins), and no END yet */
	tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
	assert_true(trecv(SYNC_BULK_REQ, &h, buf, 5000, false));
	tack(h.seq);
	send_digest(&(struct sync_digest){ .cut = tai_ns() });
	none_for(SYNC_DIFF, 1000);
	tsend(SYNC_PINS, SYNC_F_END, 0, NULL, NULL, 0);
	send_digest(&(struct sync_digest){ .cut = tai_ns() });
	tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
	assert_true(trecv(SYNC_DIFF, &h, buf, 2000, true));
}

/*
 * Repair, asked: once a --sync-repair, the daemon sends its digest of our
 * pins it holds (made more than 2 s before), not of its own, naming the
 * gateway of ours it could not take and the one our last digest said we
 * cannot take, and counting no pin of either. Told which ranges differ,
 * it sends back our pins it holds of them (a maker that lost its pin gets
 * it back), not those of the gateways named, and takes ours of them.
 */
static void the_daemon_asks_for_what_it_lacks(void **state)
{
	enum { N = 90, BASE = 45000, GONE1 = 4, GONE2 = 21 };
	struct sync_pin pins[N + 1], rep[N], own[5];
	struct sync_digest want_d = { 0 }, d, own_d = { 0 };
	int egress[5], seen[N] = { 0 }, seen_own[5] = { 0 }, fd, back = 0, got;
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	uint64_t want = 0, t0, answered;
	__be32 gw3;
	char gw[32];

	(void)state;
	start_joined_with("--sync-repair", "1");
	flows_through(BASE + 100, 5, egress); /* its own: not in its digest of ours */
	assert_int_equal(wire_pins_from_daemon(BASE + 100, 5, 0, own, seen_own, 10000), 5);
	for (int i = 0; i < N; i++) {
		snprintf(gw, sizeof(gw), "10.0.%d.2", i % 4 + 1);
		pins[i] = wire_pin(BASE + i, gw);
		pins[i].rank -= 10000000000ULL; /* made 10 s ago */
	}
	pins[N] = wire_pin(BASE + N, "10.77.0.1"); /* a gateway it lacks */
	pins[N].rank -= 10000000000ULL;
	for (int i = 0; i < N + 1; i += SYNC_MAX_PINS)
		tsend(SYNC_PINS, 0, 0, pins + i, NULL,
		      N + 1 - i < SYNC_MAX_PINS ? N + 1 - i : SYNC_MAX_PINS);
	assert_int_equal(WAIT_STATUS(1, pins_applied, N).pins_applied, N);

	/*
	 * our digest of its pins (of no cut: nothing counts, nothing differs)
	 * says we cannot take 10.0.3.2
	 */
	inet_pton(AF_INET, "10.0.3.2", &gw3);
	send_digest(&(struct sync_digest){
		.cut = 1, .n_gw = 1,
		.gw = { sync_gw_hash(FP_AF_INET, (__be32[4]){ gw3 }) } });
	assert_int_equal(WAIT_STATUS(1, digests_answered, 1).digests_answered, 1);
	/* it loses two of ours */
	fd = pinned_fd("flow_pins");
	for (int i = 0; i < N; i++) {
		struct flow_key k = flow(BASE + i);

		if (i == GONE1 || i == GONE2) {
			assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
			want |= 1ULL << sync_pin_range(&pins[i]);
		} else if (pins[i].gw[0] != gw3) {
			repair_digest_add(&want_d, &pins[i]);
		}
	}
	close(fd);
	/* a digest begun after that: the next but one */
	t0 = realtime_ns();
	for (;;) {
		tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		assert_true(trecv(SYNC_DIGEST, &h, buf, 2500, true));
		if (h.time_ns > t0 + 100000000ULL)
			break;
	}
	sync_get_digest(buf, &h, &d);
	assert_true(d.cut < tai_ns() - 1500000000ULL);
	assert_true(d.cut > tai_ns() - 8000000000ULL); /* made this run (TCG is slow) */
	assert_memory_equal(d.range, want_d.range, sizeof(d.range));
	assert_int_equal(d.n_gw, 2);
	assert_true(repair_gw_named(d.gw, 2, &pins[N])); /* 10.77.0.1 */
	assert_true(repair_gw_named(d.gw, 2, &pins[2])); /* 10.0.3.2 */
	assert_true(repair_diff(&d, &want_d) == 0);

	/* ranges differ: ours it holds of them come back */
	tsend(SYNC_DIFF, 0, 0, NULL, (uint64_t[]){ d.cut, want }, 2);
	for (int i = 0; i < N; i++)
		back += i != GONE1 && i != GONE2 && pins[i].gw[0] != gw3 &&
			want & 1ULL << sync_pin_range(&pins[i]);
	assert_true(back > 0); /* the flows' ranges are fixed: some share them */
	/*
	 * The first datagram of them left unacked: a send-back holds no digest
	 * of its own pins (all of them: it is counted as answered).
	 */
	answered = peer_status(1).digests_answered;
	assert_true(trecv(SYNC_PINS, &h, buf, 3000, false));
	for (int i = 0; i < 5; i++)
		repair_digest_add(&own_d, &own[i]);
	own_d.cut = tai_ns();
	send_digest(&own_d);
	assert_int_equal(WAIT_STATUS(1, digests_answered, answered + 1).digests_answered,
			 answered + 1);
	/* then every pin of the send-back, each datagram acked (copies too) */
	got = repair_pins_in(buf, &h, BASE, N, rep, seen);
	for (int waited = 0; got < back && waited < 3000; waited += 200) {
		tsend(SYNC_HELLO, 0, 0, NULL, NULL, 0);
		while (trecv(SYNC_PINS, &h, buf, 200, true))
			got += repair_pins_in(buf, &h, BASE, N, rep, seen);
	}
	assert_int_equal(got, back);
	for (int i = 0; i < N; i++) {
		assert_int_equal(seen[i], i != GONE1 && i != GONE2 &&
					  pins[i].gw[0] != gw3 &&
					  !!(want & 1ULL << sync_pin_range(&pins[i])));
		if (seen[i])
			assert_memory_equal(&rep[i], &pins[i], sizeof(rep[i]));
	}
	/* and ours of them: the two it lost are back */
	tsend(SYNC_PINS, SYNC_F_REPAIR, 0, (struct sync_pin[]){ pins[GONE1], pins[GONE2] },
	      NULL, 2);
	assert_true(WAIT_STATUS(1, pins_applied, N + 2).pins_applied >= N + 2);
	assert_int_equal(pinned_to(BASE + GONE1), nh_id(GONE1 % 4 + 1));
	assert_int_equal(pinned_to(BASE + GONE2), nh_id(GONE2 % 4 + 1));
	assert_int_equal(peer_status(1).pins_repaired, back);
	assert_true(peer_status(1).digests_sent >= 2);
}

/*
 * A pin a peer sends is looked up from the kernel (pin_touch), so flow_pins'
 * LRU counts it used: the pins a peer refreshes stay while new flows fill
 * the table, and those it stopped sending go first. A userspace lookup or
 * write would not keep them (DESIGN.md, "Sizing").
 */
static void refreshed_peer_pins_outlive_the_others(void **state)
{
	enum { PEER = 256, KEEP = 128, ROUNDS = 12, LOCAL = 200 };
	static int egress[LOCAL];
	struct sync_pin pins[PEER];
	int kept = 0, others = 0;
	__u64 received;
	cpu_set_t one;
	pid_t pid;

	(void)state;
	/*
	 * The daemon and the datapath's test runs on one CPU: the LRU keeps
	 * lists a CPU, whose flushes would otherwise follow the scheduler.
	 */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	tpeer_open();
	pid = daemon_start("--sync", DAEMON_ADDR, "--peer", "127.0.0.1:7431",
			   "--sync-key", key_path, "--sync-wait", "30",
			   "--max-flows", "1024", "--min-pin-age", "0",
			   "--pin-rate", "0", "--sync-refresh", "0", PORTS, NULL);
	assert_true(pid > 0);
	tpeer_join();
	assert_int_equal(daemon_wait_ready(pid), 0);
	for (int i = 0; i < PEER; i++)
		pins[i] = wire_pin(44000 + i, "10.0.1.2");
	for (int i = 0; i < PEER; i += 16)
		tsend(SYNC_PINS, 0, 0, &pins[i], NULL, 16);
	received = WAIT_STATUS(1, pins_received, PEER).pins_received;
	assert_int_equal(received, PEER);
	assert_int_equal(peer_status(1).pins_applied, PEER);
	/* the peer's flows live on there: it sends the first KEEP again */
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < KEEP; i += 16)
			tsend(SYNC_PINS, 0, 0, &pins[i], NULL, 16);
		received += KEEP;
		assert_int_equal(WAIT_STATUS(1, pins_received, received).pins_received,
				 received);
		/* new flows here, each used again (its second packet) */
		flows_through(45000 + r * LOCAL, LOCAL, egress);
		flows_through_flags(45000 + r * LOCAL, LOCAL, 0x10, egress);
	}
	for (int i = 0; i < PEER; i++) {
		if (!pinned_to(44000 + i))
			continue;
		if (i < KEEP)
			kept++;
		else
			others++;
	}
	print_message("peer pins kept: %d of %d refreshed, %d of %d not\n", kept,
		      KEEP, others, PEER - KEEP);
	assert_int_equal(kept, KEEP);
	assert_true(others < (PEER - KEEP) / 4);
}

static void bulk_request_gets_every_pin(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	int egress[64], seen[64] = { 0 }, n = 0;
	struct sync_hdr h;

	(void)state;
	start_joined();
	flows_through(34000, 64, egress);
	/* the new pins themselves, acked and left aside */
	while (trecv(SYNC_PINS, &h, buf, 500, true))
		tack(h.seq);
	tsend(SYNC_BULK_REQ, 0, 0, NULL, NULL, 0);
	for (;;) {
		assert_true(trecv(SYNC_PINS, &h, buf, 3000, true));
		tack(h.seq);
		if (h.flags & SYNC_F_END)
			break;
		assert_int_equal(h.flags, SYNC_F_BULK);
		for (unsigned int i = 0; i < h.count; i++) {
			struct sync_pin p;
			int sport;

			sync_get_pin(buf, i, &p);
			sport = ntohs(p.key.sport) - 34000;
			assert_in_range(sport, 0, 63);
			assert_int_equal(seen[sport], 0);
			seen[sport] = 1;
			assert_int_equal(p.gw[0], htonl(0x0a000002 | egress[sport] << 8));
			n++;
		}
	}
	assert_int_equal(n, 64);
	assert_int_equal(h.aux, 64);
}

/* The same over IPv6: [ADDR]:PORT, and a peer known by its IPv6 source. */
static void peers_over_ipv6(void **state)
{
	struct sockaddr_in6 me = { .sin6_family = AF_INET6,
				   .sin6_port = htons(PEER_PORT),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT },
			    daemon = me, from;
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	socklen_t len = sizeof(from);
	bool asked = false;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sync_ends to, back;
	pid_t pid;

	sync_ends_make(&to, FP_AF_INET6, &in6addr_loopback, PEER_PORT,
		       &in6addr_loopback, 7430);
	sync_ends_make(&back, FP_AF_INET6, &in6addr_loopback, 7430,
		       &in6addr_loopback, PEER_PORT);
	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	daemon.sin6_port = htons(7430);
	pid = daemon_start("--sync", "[::1]", "--peer", "[::1]:7431", "--sync-key",
			   key_path, "--sync-wait", "0", PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("sync: listening on [::1]:7430, 1 peer(s)"));
	/* its hello, from [::1]:7430; ours makes it ask for our pins */
	for (int i = 0; i < 40 && !asked; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sync_hdr out = { .type = SYNC_HELLO, .router = 0x7f000002,
					.epoch = 1, .seq = i + 1,
					.time_ns = realtime_ns() };

		sync_put_hdr(buf, &out);
		assert_true(sendto(fd, buf, sync_seal(buf, key, &to), 0,
				   (struct sockaddr *)&daemon, sizeof(daemon)) > 0);
		while (poll(&p, 1, 100) > 0) {
			ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
					     (struct sockaddr *)&from, &len);

			assert_int_equal(sync_unseal(buf, n, key, &back, &h), -1);
			assert_int_equal(from.sin6_port, htons(7430));
			assert_memory_equal(&from.sin6_addr, &in6addr_loopback, 16);
			asked |= h.type == SYNC_BULK_REQ;
		}
	}
	close(fd);
	assert_true(asked);
	assert_true(daemon_log_has("sync: peer [::1]:7431 is up"));
}

static void bad_sync_options_are_refused(void **state)
{
	char loose[80], short_key[80];
	static const struct {
		const char *args[4];
		const char *expect;
	} cases[] = {
		{ { "--peer", "127.0.0.1:7431" }, "need --sync" },
		{ { "--sync-key-next", "/nonexistent" }, "need --sync" },
		{ { "--sync", DAEMON_ADDR }, "needs --sync-key" },
		{ { "--sync", "10.0.0.1:x" }, "invalid value '10.0.0.1:x' for --sync" },
		{ { "--sync-refresh", "4000" }, "invalid value '4000' for --sync-refresh" },
		{ { "--sync-repair", "-1" }, "invalid value '-1' for --sync-repair" },
	};
	int fd;
	pid_t pid;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unlink(log_path);
		pid = daemon_start(cases[i].args[0], cases[i].args[1], PORTS, NULL);
		assert_int_equal(daemon_wait_exit(pid), 2);
		assert_true(daemon_log_has(cases[i].expect));
	}
	unlink(log_path);
	pid = daemon_start("--sync", "0.0.0.0", "--sync-key", key_path, PORTS, NULL);
	assert_int_equal(daemon_wait_exit(pid), 2);
	assert_true(daemon_log_has("--sync needs this router's own address"));
	snprintf(loose, sizeof(loose), "%s-loose", key_path);
	fd = open(loose, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef", 32), 32);
	fchmod(fd, 0644);
	close(fd);
	snprintf(short_key, sizeof(short_key), "%s-short", key_path);
	fd = open(short_key, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	unlink(log_path);
	pid = daemon_start("--sync", DAEMON_ADDR, "--sync-key", loose, PORTS, NULL);
	assert_int_not_equal(daemon_wait_exit(pid), 0);
	assert_true(daemon_log_has("chmod 600"));
	unlink(log_path);
	pid = daemon_start("--sync", DAEMON_ADDR, "--sync-key", key_path,
			   "--sync-key-next", loose, PORTS, NULL);
	assert_int_not_equal(daemon_wait_exit(pid), 0);
	assert_true(daemon_log_has("chmod 600"));
	unlink(log_path);
	pid = daemon_start("--sync", DAEMON_ADDR, "--sync-key", short_key, PORTS, NULL);
	assert_int_not_equal(daemon_wait_exit(pid), 0);
	assert_true(daemon_log_has("at least 32 are needed"));
	unlink(log_path);
	pid = daemon_start("--sync", "192.0.2.77", "--sync-key", key_path, PORTS, NULL);
	assert_int_not_equal(daemon_wait_exit(pid), 0);
	assert_true(daemon_log_has("cannot listen for pin sync on 192.0.2.77:7430"));
	unlink(loose);
	unlink(short_key);
	/* nothing attached, nothing pinned */
	assert_int_equal(tc_hook_prog_id(rt.ifindex_out[1]), 0);
	assert_false(pin_dir_exists());
}

int main(void)
{
	const struct CMUnitTest all[] = {
		cmocka_unit_test(datapath_reports_each_new_pin),
		cmocka_unit_test_setup_teardown(ready_after_the_peers_bulk_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(ready_after_the_wait_without_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(new_pins_reach_the_peer_until_acked, setup, teardown),
		cmocka_unit_test_setup_teardown(peer_pins_are_applied_by_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(conflicts_follow_the_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(hellos_carry_the_pins_made, setup, teardown),
		cmocka_unit_test_setup_teardown(peer_pins_draw_on_the_turnover_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_datagrams_are_dropped_and_never_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(a_second_key_is_accepted_while_the_fleet_moves_to_it,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_bulk_sync_ends_after_its_pins_are_acked,
						setup, teardown),
		cmocka_unit_test_setup_teardown(acks_of_an_earlier_run_free_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(an_ack_of_any_copy_stops_the_resends, setup, teardown),
		cmocka_unit_test_setup_teardown(a_restarted_peer_is_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(a_restart_keeps_the_epoch_ahead, setup, teardown),
		cmocka_unit_test_setup_teardown(a_bulk_request_of_an_earlier_run_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(bulk_request_gets_every_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(a_new_pin_table_asks_for_its_own_pins,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_bulk_sync_sends_each_pin_from_its_maker,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_peer_back_from_silence_gets_what_it_missed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_full_queue_is_made_up_by_a_walk,
						setup, teardown),
		cmocka_unit_test_setup_teardown(live_flows_pins_go_to_the_peers_again,
						setup, teardown),
		cmocka_unit_test_setup_teardown(refreshed_peer_pins_outlive_the_others,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_digest_of_the_daemons_pins_gets_what_differs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_digest_waits_for_the_last_repairs_acks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(the_daemon_asks_for_what_it_lacks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(the_refresh_leaves_out_gateways_a_peer_lacks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(no_digest_is_answered_before_the_peers_bulk_sync,
						setup, teardown),
		cmocka_unit_test_setup_teardown(peers_over_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_sync_options_are_refused, setup, teardown),
	};

	struct CMUnitTest tests[sizeof(all) / sizeof(all[0])];
	size_t n = tests_not_skipped("SYNC_TESTS_SKIP", all,
				     sizeof(all) / sizeof(all[0]), tests);

	return _cmocka_run_group_tests("test_sync", tests, n, group_setup,
				       group_teardown);
}
