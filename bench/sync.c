// SPDX-License-Identifier: GPL-2.0
/*
 * Section 5: pin sync. flowpind runs with --sync and this process is its
 * peer (tests/lib/sync_peer.c) on loopback:
 *
 * - take: pins per second flowpind applies from a peer (the bench sends
 *   datagrams of 20 pins, at most WINDOW unacked; an ack comes after the
 *   datagram's pins are in flow_pins);
 * - send: pins per second flowpind sends, and the time from a pin's
 *   creation (a new flow through its attached program) to its arrival here,
 *   at a steady rate and flat out;
 * - the same steady rate with 10% of the sync datagrams dropped both ways
 *   (nftables), so each pin's arrival also measures the resends;
 * - the same steady rate with this peer's acks 150 ms and 450 ms late (a
 *   far or busy peer): pins sent per pin needed, what resends cost;
 * - bytes per pin on the wire;
 * - a rejoin: flowpind holds a fleet's pins (its own and those of 8
 *   peers, 7 of them played here and in touch); the 8th asks for a bulk
 *   sync, as a restarted router does (and as a rebooted one, with MINE):
 *   the pins, bytes and time it takes. Each router sends only what it
 *   made, so the fleet's whole rejoin is this times the routers in touch.
 *
 * flowpind runs without its pin rate limits (--pin-rate 0 --min-pin-age 0)
 * so the figures are sync's, not the limits'.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "bench.h"
#include "fixture.h"
#include "netns.h"
#include "sync_peer.h"

#define DAEMON_PORT 7430
#define PEER_PORT 7431
#define WINDOW 256 /* datagrams the bench sends before it waits for acks */
#define UDP_IP4 28 /* UDP and IPv4 headers of each datagram */
#define FLEET 8	   /* the rejoin's peers: PEER_PORT (the one that asks) and 7 more */

struct sync_bench {
	struct bench *b;
	struct test_peer peer;
	int prog_fd;	 /* flowpind's program on in0 */
	__u32 n;	 /* flows of the current run */
	double *created; /* by flow: when its packet ran; 0: not yet */
	double *arrived; /* by flow: when its pin arrived here */
	atomic_uint got;
	atomic_bool stop;
	__u64 bytes, datagrams, pins_rx;
	__u32 base;	 /* flow numbers of this run start here */
	atomic_uint ack_delay_ms; /* acks this late (0: at once) */
};

#define LATE_ACKS 65536 /* acks the receiver holds back at once, at most */

/* The acks a far or busy peer holds back, each sent when it is due. */
struct late_acks {
	struct { __u64 seq; double due; } q[LATE_ACKS];
	__u32 head, len;
};

/* Ack seq delay_ms from now (0: now; so too when LATE_ACKS are held). */
static void ack_after(struct late_acks *l, struct test_peer *p, __u64 seq,
		      double now, unsigned int delay_ms)
{
	__u32 at;

	if (!delay_ms || l->len == LATE_ACKS) {
		test_peer_ack(p, seq);
		return;
	}
	at = (l->head + l->len++) % LATE_ACKS;
	l->q[at].seq = seq;
	l->q[at].due = now + delay_ms / 1000.0;
}

/* Send the held acks that are due by now. */
static void acks_due(struct late_acks *l, struct test_peer *p, double now)
{
	while (l->len && l->q[l->head].due <= now) {
		test_peer_ack(p, l->q[l->head].seq);
		l->head = (l->head + 1) % LATE_ACKS;
		l->len--;
	}
}

/*
 * Pin i of a run the bench writes itself: TCP to 100.64.0.1:443 from
 * net + i / 60000, port 1 + i % 60000 (net: a /8 of the run's own).
 */
static struct flow_key bench_key(__u32 net, __u32 i)
{
	struct flow_key k = { .family = FP_AF_INET, .proto = IPPROTO_TCP,
			      .sport = htons(1 + i % 60000), .dport = htons(443) };

	k.saddr[0] = htonl(net + i / 60000);
	k.daddr[0] = htonl(0x64400001);
	return k;
}

/* Flow i: 172.16.0.0 + i to 100.64.0.1, UDP: a distinct key each. */
static __u32 src_of(__u32 flow)
{
	return BENCH_SRC_BASE + flow;
}

/* The receiving side: every pin flowpind sends, acked (maybe late), timed. */
static void *receiver(void *arg)
{
	struct sync_bench *s = arg;
	uint8_t buf[SYNC_MAX_DGRAM];
	double hello = 0;
	struct sync_hdr h;
	static struct late_acks late;

	while (!atomic_load(&s->stop)) {
		unsigned int delay = atomic_load(&s->ack_delay_ms);
		int got = test_peer_recv(&s->peer, SYNC_PINS, &h, buf,
					 delay || late.len ? 5 : 50, true);
		double now = now_s();

		acks_due(&late, &s->peer, now);

		if (now - hello > 0.5) { /* as a peer does, or it is down */
			test_peer_send(&s->peer, SYNC_HELLO, 0, 0, NULL, NULL, 0);
			hello = now;
		}
		if (got < 0) {
			say("  flowpind sent a message that does not open\n");
			continue;
		}
		if (!got)
			continue;
		ack_after(&late, &s->peer, h.seq, now, delay);
		s->bytes += sync_len(SYNC_PINS, h.count) + UDP_IP4;
		s->datagrams++;
		s->pins_rx += h.count;
		for (unsigned int i = 0; i < h.count; i++) {
			struct sync_pin p;
			__u32 flow;

			sync_get_pin(buf, i, &p);
			flow = ntohl(p.key.saddr[0]) - BENCH_SRC_BASE - s->base;
			if (flow < s->n && !s->arrived[flow]) {
				s->arrived[flow] = now;
				atomic_fetch_add(&s->got, 1);
			}
		}
	}
	return NULL;
}

/* One new flow through flowpind's own program. */
static int new_flow(struct sync_bench *s, __u32 flow)
{
	__u8 in[PKT_MAX], out[PKT_MAX];
	char src[32];
	__u32 a = htonl(src_of(s->base + flow));
	struct pkt_spec spec = {
		.family = 4, .proto = IPPROTO_UDP, .src = src,
		.dst = "100.64.0.1", .sport = BENCH_SPORT, .dport = BENCH_DPORT,
	};
	struct xdp_md ctx;
	size_t len;

	inet_ntop(AF_INET, &a, src, sizeof(src));
	len = pkt_build(&spec, in);
	ctx = (struct xdp_md){ .data_end = len, .ingress_ifindex = rt.ifindex_in0 };
	{
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
			    .data_size_in = len, .data_out = out,
			    .data_size_out = sizeof(out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1);
		int err = bpf_prog_test_run_opts(s->prog_fd, &opts);

		if (err || opts.retval != XDP_REDIRECT)
			return err ? err : -EIO;
	}
	s->created[flow] = now_s();
	return 0;
}

/*
 * n new flows at rate per second (0: flat out), then wait for their pins,
 * wait_s at most. Returns the pins that arrived; fills the latency
 * percentiles (ms) and the rate from the first creation to the last
 * arrival.
 */
/*
 * How long a run waits for its pins: 5 s; with 10% of datagrams lost each
 * way, 15 s. On a loaded host the round trip flowpind measures pushes its
 * resend timeout to the 2 s cap, and 5 s then hold two or three copies of
 * a datagram, all lost one time in 10^3: a CI run saw 17 of 500 pins
 * still on their way. 15 s hold seven, all lost one time in 10^7.
 */
#define SEND_WAIT_S 5
#define LOSSY_WAIT_S 15

static __u32 send_run(struct sync_bench *s, __u32 n, double rate,
		      unsigned int wait_s, double *p50, double *p99,
		      double *max, double *pins_s)
{
	double t0 = now_s(), last = 0, *lat;
	__u32 m = 0;
	int err = 0;

	memset(s->created, 0, n * sizeof(double));
	memset(s->arrived, 0, n * sizeof(double));
	atomic_store(&s->got, 0);
	s->n = n;
	for (__u32 i = 0; i < n && !err; i++) {
		if (rate > 0)
			while (now_s() < t0 + i / rate)
				;
		err = new_flow(s, i);
	}
	check(s->b, !err, "sync: a new flow was not forwarded: %s", strerror(-err));
	for (unsigned int i = 0; i < wait_s * 100 && atomic_load(&s->got) < n; i++)
		sleep_us(10000);
	lat = malloc(n * sizeof(double));
	for (__u32 i = 0; lat && i < n; i++) {
		if (!s->arrived[i] || !s->created[i])
			continue;
		lat[m++] = (s->arrived[i] - s->created[i]) * 1000;
		if (s->arrived[i] > last)
			last = s->arrived[i];
	}
	*p50 = m ? percentile(lat, m, 0.5) : 0;
	*p99 = m ? percentile(lat, m, 0.99) : 0;
	*max = m ? percentile(lat, m, 1.0) : 0;
	*pins_s = m && last > t0 ? m / (last - t0) : 0;
	free(lat);
	s->base += n;
	return m;
}

/*
 * The steady run with acks delay_ms late, after a tenth of it to let
 * flowpind learn the round trip: pins that arrived (copies included) per
 * pin made, once the last resend is over.
 */
static double late_ack_run(struct sync_bench *s, __u32 n, unsigned int delay_ms)
{
	double p50, p99, max, rate;
	__u64 rx0;
	__u32 got;

	atomic_store(&s->ack_delay_ms, delay_ms);
	/* flowpind learns the new round trip first: the figure is the steady state's */
	send_run(s, n / 10, s->b->smoke ? 5000 : 10000, SEND_WAIT_S, &p50, &p99, &max, &rate);
	sleep_us(4 * delay_ms * 1000 + 1000000);
	rx0 = s->pins_rx;
	got = send_run(s, n, s->b->smoke ? 5000 : 10000, SEND_WAIT_S, &p50, &p99, &max, &rate);
	/* the copies sent before the last late acks came in */
	sleep_us(4 * delay_ms * 1000 + 1000000);
	check(s->b, got == n, "sync, acks %u ms late: %u of %u pins arrived",
	      delay_ms, got, n);
	atomic_store(&s->ack_delay_ms, 0);
	return (double)(s->pins_rx - rx0) / n;
}

static struct sync_peer_status peer_status(const char *pin)
{
	struct sync_peer_status st = { 0 };
	char path[160];
	__u32 key = 1;
	int fd;

	snprintf(path, sizeof(path), "%s/sync_peers", pin);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_map_lookup_elem(fd, &key, &st);
		close(fd);
	}
	return st;
}

/* n pins for flows flowpind has not seen, as fast as its acks allow. */
static double take_run(struct sync_bench *s, __u32 n, const char *pin)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	__u64 inflight[WINDOW];
	int n_inflight = 0;
	double t0 = now_s(), t_last = t0;
	__u32 sent = 0;
	struct sync_hdr h;
	__u64 applied0 = peer_status(pin).pins_applied;

	while ((sent < n || n_inflight) && now_s() - t_last < 2) {
		while (sent < n && n_inflight < WINDOW) {
			struct sync_pin pins[SYNC_MAX_PINS];
			int k = 0;

			for (; k < SYNC_MAX_PINS && sent < n; k++, sent++) {
				memset(&pins[k], 0, sizeof(pins[k]));
				pins[k].key = bench_key(0x0b000000, sent);
				pins[k].gw_family = FP_AF_INET;
				pins[k].gw[0] = htonl(0x0a000002 | (sent % 4 + 1) << 8);
				pins[k].router = s->peer.router;
				pins[k].rank = tai_ns();
			}
			test_peer_send(&s->peer, SYNC_PINS, 0, 0, pins, NULL, k);
			inflight[n_inflight++] = s->peer.seq;
		}
		if (test_peer_recv(&s->peer, SYNC_ACK, &h, buf, 100, true) != 1)
			continue;
		t_last = now_s();
		for (unsigned int i = 1; i < h.count; i++) { /* 0: our epoch */
			__u64 seq = sync_get_ack(buf, i);

			for (int j = 0; j < n_inflight; j++)
				if (inflight[j] == seq) {
					inflight[j] = inflight[--n_inflight];
					break;
				}
		}
	}
	check(s->b, !n_inflight && sent == n,
	      "sync take: %d datagrams never acked", n_inflight);
	/* the status is written once a second; a peer greets as often */
	test_peer_send(&s->peer, SYNC_HELLO, 0, 0, NULL, NULL, 0);
	sleep_us(1200000);
	check(s->b, peer_status(pin).pins_applied - applied0 == n,
	      "sync take: %llu of %u pins applied",
	      (unsigned long long)(peer_status(pin).pins_applied - applied0), n);
	return n / (t_last - t0);
}

/* flow_pins of the running flowpind, emptied: n pins taken out. */
static __u64 empty_pins(int fd)
{
	static struct flow_key keys[4096];
	static struct flow_pin vals[4096];
	__u64 n = 0;

	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = 4096, token;
		int err = bpf_map_lookup_and_delete_batch(fd, NULL, &token, keys,
							  vals, &count, &opts);

		n += count;
		if (err || !count)
			return n;
	}
}

/*
 * The fleet's pins in flowpind's flow_pins: n, an eighth made by each of
 * flowpind (router 0), the asker and the 7 others, all to one usable
 * next hop (like: a pin flowpind holds already).
 */
static int fill_fleet(int fd, __u32 n, const struct flow_pin *like,
		      const struct test_peer *asker, const struct test_peer *others)
{
	enum { BATCH = 4096 };
	static struct flow_key keys[BATCH];
	static struct flow_pin vals[BATCH];

	for (__u32 i = 0; i < n;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 k = 0;

		for (; k < BATCH && i < n; k++, i++) {
			__u32 maker = i % (FLEET + 1);

			keys[k] = bench_key(0x0c000000, i);
			vals[k] = *like;
			vals[k].router = !maker ? 0 : maker == 1 ? asker->router :
					 others[maker - 2].router;
			vals[k].rank = tai_ns();
		}
		if (bpf_map_update_batch(fd, keys, vals, &k, &opts))
			return -errno;
	}
	return 0;
}

struct rejoin_run {
	__u64 pins, bytes;
	__u64 walk; /* the END's count: the walk's pins, each once */
	double secs;
};


/*
 * The asker's bulk request (flags) and its answer, acked ack_delay_ms
 * after each datagram came, every peer saying hello meanwhile: the pins,
 * wire bytes (copies included) and seconds until the END; false when it
 * did not end.
 */
static bool rejoin(struct sync_bench *s, struct test_peer *others, uint8_t flags,
		   unsigned int ack_delay_ms, struct rejoin_run *r)
{
	static struct late_acks late;
	uint8_t buf[SYNC_MAX_DGRAM];
	double t0 = now_s(), hello = 0;
	struct sync_hdr h;

	memset(r, 0, sizeof(*r));
	late.head = late.len = 0; /* what an earlier run held is acked */
	/* every peer in touch before the request (read before it, in order) */
	while (now_s() - t0 < 120) {
		double now = now_s();

		if (now - hello > 0.5) {
			for (int i = 0; i < FLEET - 1; i++)
				test_peer_send(&others[i], SYNC_HELLO, 0, 0, NULL, NULL, 0);
			test_peer_send(&s->peer, SYNC_HELLO, 0, 0, NULL, NULL, 0);
			if (!hello)
				test_peer_send(&s->peer, SYNC_BULK_REQ, flags, 0, NULL,
					       NULL, 0);
			hello = now;
		}
		acks_due(&late, &s->peer, now);
		if (test_peer_recv(&s->peer, SYNC_PINS, &h, buf,
				   late.len ? 1 : 100, true) != 1)
			continue;
		now = now_s();
		/* the END at once: the walk's own acks were what came late */
		ack_after(&late, &s->peer, h.seq, now,
			  h.flags & SYNC_F_END ? 0 : ack_delay_ms);
		r->bytes += sync_len(SYNC_PINS, h.count) + UDP_IP4;
		if (h.flags & SYNC_F_BULK)
			r->pins += h.count;
		if (h.flags & SYNC_F_END) {
			r->secs = now - t0;
			r->walk = h.aux;
			return true;
		}
	}
	return false;
}

/* A process's CPU time so far (user and system), in seconds. */
static double cpu_s(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return NAN;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* after the name: state and 10 more fields, then utime and stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return NAN;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

struct repair_run {
	double diff_s, pins_s; /* digest sent -> its diff; diff -> the last pin */
	double cpu_ms;	       /* flowpind's CPU until the diff */
	uint64_t ranges;
	__u64 pins, bytes;
};

/*
 * Send flowpind a digest of this cut that holds none of its pins, and take
 * its diff and its repair, want pins (acked); false when they did not all
 * come within 120 s.
 */
static bool repair_run(struct sync_bench *s, pid_t pid, uint64_t cut,
		       __u64 want, struct repair_run *r)
{
	uint64_t w[SYNC_DIGEST_WORDS] = { cut }, diff_cut;
	uint8_t buf[SYNC_MAX_DGRAM];
	double t0 = now_s(), hello = t0, t_diff = 0, t_end = 0;
	double cpu0 = cpu_s(pid);
	struct sync_hdr h;

	memset(r, 0, sizeof(*r));
	test_peer_send(&s->peer, SYNC_DIGEST, 0, 0, NULL, w, SYNC_DIGEST_WORDS);
	while (now_s() - t0 < 120 && (!t_diff || r->pins < want)) {
		if (now_s() - hello > 0.5) {
			test_peer_send(&s->peer, SYNC_HELLO, 0, 0, NULL, NULL, 0);
			hello = now_s();
		}
		if (test_peer_recv(&s->peer, t_diff ? SYNC_PINS : SYNC_DIFF, &h, buf,
				   100, true) != 1)
			continue;
		if (!t_diff) {
			t_diff = now_s();
			r->cpu_ms = (cpu_s(pid) - cpu0) * 1e3;
			sync_get_diff(buf, &diff_cut, &r->ranges);
			continue;
		}
		test_peer_ack(&s->peer, h.seq);
		if (!(h.flags & SYNC_F_REPAIR))
			continue;
		r->pins += h.count;
		r->bytes += sync_len(SYNC_PINS, h.count) + UDP_IP4;
		t_end = now_s();
	}
	r->diff_s = t_diff ? t_diff - t0 : NAN;
	r->pins_s = t_end - t_diff;
	return t_diff && r->pins == want;
}

/*
 * The repair against the same table: a digest of flowpind's pins that
 * holds none of them (every range differs), as from a peer that lost
 * them all. How long flowpind takes to answer (a walk of the whole table,
 * which also sums its own pins by gateway for that cut), then its pins of
 * every range: its share of the table, each once. Then a second digest of
 * the same cut, as from another peer of the same round: answered from
 * those sums, without a walk.
 */
static void repair_rows(struct sync_bench *s, __u32 n, pid_t pid)
{
	__u64 want = (n + FLEET) / (FLEET + 1);
	uint64_t cut = tai_ns();
	struct repair_run r[2];
	char what[128], val[96], ratio[64];

	for (int k = 0; k < 2; k++)
		if (!check(s->b, repair_run(s, pid, cut, want, &r[k]) && r[k].ranges == ~0ULL,
			   "sync repair%s: diff of ranges %#llx, %llu pins of %llu",
			   k ? " (same cut)" : "", (unsigned long long)r[k].ranges,
			   (unsigned long long)r[k].pins, (unsigned long long)want))
			return;
	snprintf(what, sizeof(what),
		 "pin sync: repair, %uk pins: a digest answered (a walk of the table)",
		 n / 1000);
	snprintf(val, sizeof(val), "%.0f ms", r[0].diff_s * 1e3);
	/* the walk reads DIGEST_READS batches a tick: its CPU is what it costs */
	snprintf(ratio, sizeof(ratio), "flowpind's CPU %.0f ms", r[0].cpu_ms);
	row("5", what, val, ratio, NULL, NULL);
	figure("5", "pin sync: repair: a digest answered, flowpind's CPU ms", r[0].cpu_ms,
	       LOWER, 0);
	figure("5", "pin sync: repair: a digest answered, ms", r[0].diff_s * 1e3, LOWER, 0);
	snprintf(what, sizeof(what),
		 "pin sync: repair, %uk pins: another digest of the round (its sums)",
		 n / 1000);
	snprintf(val, sizeof(val), "%.1f ms", r[1].diff_s * 1e3);
	snprintf(ratio, sizeof(ratio), "flowpind's CPU %.0f ms", r[1].cpu_ms);
	row("5", what, val, ratio, NULL, NULL);
	figure("5", "pin sync: repair: another digest of the round, ms", r[1].diff_s * 1e3,
	       LOWER, 0);
	snprintf(what, sizeof(what),
		 "pin sync: repair, %uk pins of 9 routers, every range different: what the maker sends",
		 n / 1000);
	snprintf(val, sizeof(val), "%llu pins, %.1f MB, %.2f s",
		 (unsigned long long)r[0].pins, r[0].bytes / 1e6, r[0].pins_s);
	row("5", what, val, NULL, NULL, NULL);
	figure("5", "pin sync: repair, every range: seconds", r[0].pins_s, LOWER, 0);
	say("  repair: digest answered in %.0f ms (64 ranges different; flowpind's CPU %.0f ms), then %llu pins, %.1f MB in %.2f s; another of its round in %.1f ms (CPU %.0f ms)\n",
	    r[0].diff_s * 1e3, r[0].cpu_ms, (unsigned long long)r[0].pins,
	    r[0].bytes / 1e6, r[0].pins_s, r[1].diff_s * 1e3, r[1].cpu_ms);
}

static void rejoin_rows(struct sync_bench *s, const char *pin_dir, pid_t pid,
			__u32 n)
{
	struct test_peer others[FLEET - 1];
	struct flow_pin like = { 0 };
	struct flow_key k;
	char path[160];
	int fd, ok = 0;

	for (int i = 0; i < FLEET - 1; i++)
		others[i].fd = -1;
	snprintf(path, sizeof(path), "%s/flow_pins", pin_dir);
	fd = bpf_obj_get(path);
	/* a pin of the take run: to a next hop flowpind has, usable */
	if (!check(s->b, fd >= 0 && !bpf_map_get_next_key(fd, NULL, &k) &&
			 !bpf_map_lookup_elem(fd, &k, &like),
		   "sync rejoin: no pin in flow_pins to start from"))
		goto out;
	empty_pins(fd);
	for (int i = 0; i < FLEET - 1; i++)
		if (!check(s->b, !test_peer_open(&others[i], PEER_PORT + 1 + i,
						 DAEMON_PORT, s->peer.key) &&
				 !test_peer_join(&others[i], 5000),
			   "sync rejoin: flowpind did not take peer %d", i + 2))
			goto out;
	if (!check(s->b, !fill_fleet(fd, n, &like, &s->peer, others),
		   "sync rejoin: cannot write %u pins: %s", n, strerror(errno)))
		goto out;
	for (int run = 0; run < 3; run++) {
		bool mine = run == 1, late = run == 2;
		__u64 pins, bytes, want = n / (FLEET + 1) * (1 + mine);
		double secs = 0;
		char what[128], val[96], ratio[64];
		struct rejoin_run r;

		ok = rejoin(s, others, mine ? SYNC_F_MINE : 0, late ? 150 : 0, &r);
		pins = r.pins, bytes = r.bytes, secs = r.secs;
		check(s->b, ok, "sync rejoin%s%s: no END within 120 s",
		      mine ? " (MINE)" : "", late ? " (acks late)" : "");
		if (late) {
			/* a far or busy asker: the window and its resends */
			snprintf(what, sizeof(what),
				 "pin sync: rejoin, restarted, acks 150 ms late");
			snprintf(val, sizeof(val), "%.2f s", secs);
			snprintf(ratio, sizeof(ratio), "%.2f pins sent per pin",
				 r.walk ? (double)pins / r.walk : 0);
			row("5", what, val, ratio, NULL, NULL);
			figure("5", "pin sync: rejoin, acks 150 ms late: seconds", secs, LOWER, 0);
			if (r.walk)
				figure("5", "pin sync: rejoin, acks 150 ms late: pins sent per pin",
				       (double)pins / r.walk, LOWER, 0);
			say("  rejoin (restarted), acks 150 ms late: %llu pins sent for %llu in %.2f s\n",
			    (unsigned long long)pins, (unsigned long long)r.walk, secs);
			continue;
		}
		/* each maker's share, to a few (n is not a multiple of 9) */
		check(s->b, r.walk >= want && r.walk <= want + 2,
		      "sync rejoin%s: %llu pins in the walk, %llu expected",
		      mine ? " (MINE)" : "", (unsigned long long)r.walk,
		      (unsigned long long)want);
		snprintf(what, sizeof(what),
			 "pin sync: rejoin, %uk pins of 9 routers, %s: what one peer sends",
			 n / 1000, mine ? "rebooted (MINE)" : "restarted");
		snprintf(val, sizeof(val), "%llu pins, %.1f MB, %.2f s",
			 (unsigned long long)pins, bytes / 1e6, secs);
		snprintf(ratio, sizeof(ratio), "%.3f of the table", (double)pins / n);
		row("5", what, val, ratio, NULL, NULL);
		snprintf(what, sizeof(what), "pin sync: rejoin, %s: seconds",
			 mine ? "rebooted" : "restarted");
		figure("5", what, secs, LOWER, 0);
		snprintf(what, sizeof(what), "pin sync: rejoin, %s: bytes",
			 mine ? "rebooted" : "restarted");
		figure("5", what, bytes, LOWER, 0);
		say("  rejoin (%s): %llu of %u pins sent, %.1f MB, %.2f s; the fleet's: %d peers in touch, each its share\n",
		    mine ? "rebooted" : "restarted", (unsigned long long)pins, n,
		    bytes / 1e6, secs, FLEET);
	}
	repair_rows(s, n, pid);
out:
	for (int i = 0; i < FLEET - 1; i++)
		test_peer_close(&others[i]);
	if (fd >= 0) {
		empty_pins(fd);
		close(fd);
	}
}

static void latency_row(const char *what, __u32 got, __u32 n, double p50,
			double p99, double max, struct bench *b)
{
	char val[64], ratio[64], w[160];

	snprintf(w, sizeof(w), "pin sync: %s", what);
	snprintf(val, sizeof(val), "p50 %.1f ms, p99 %.1f ms", p50, p99);
	snprintf(ratio, sizeof(ratio), "max %.1f ms", max);
	row("5", w, val, ratio, NULL, NULL);
	say("  %s: %u of %u pins arrived, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	    what, got, n, p50, p99, max);
	check(b, got == n, "sync %s: %u of %u pins arrived", what, got, n);
}

/* Pins a second against the target: one CPU's default new-pin rate. */
static void rate_row(const char *what, double rate)
{
	char val[64], ratio[64];

	snprintf(val, sizeof(val), "%.0f pins/s", rate);
	snprintf(ratio, sizeof(ratio), "%.2fx 100k/s", rate / 100000);
	row("5", what, val, ratio, ">= 100k/s", rate >= 100000 ? "yes" : "NO");
	/* the rate itself too: its target alone let a halving pass the gate */
	figure("5", what, rate, HIGHER, 0);
}

int bench_sync(struct bench *b)
{
	struct sync_bench s = { .b = b, .peer.fd = -1 };
	char key_path[96], err_buf[256], val[64], ratio[64];
	/* no pin rate limits: the figures are sync's */
	const char *extra[] = {
		"--sync", "127.0.0.1:7430", "--peer", "127.0.0.1:7431",
		/* the rejoin's other peers: silent (waiting) until then */
		"--peer", "127.0.0.1:7432", "--peer", "127.0.0.1:7433",
		"--peer", "127.0.0.1:7434", "--peer", "127.0.0.1:7435",
		"--peer", "127.0.0.1:7436", "--peer", "127.0.0.1:7437",
		"--peer", "127.0.0.1:7438",
		"--sync-key", key_path, "--sync-wait", "0", "--pin-rate", "0",
		"--min-pin-age", "0", "-n", "4194304", NULL,
	};
	uint8_t key[SYNC_KEY_LEN], secret[SYNC_KEY_LEN];
	struct daemon_proc d = { 0 };
	__u32 n_take = b->smoke ? 2000 : 400000, n_fast = b->smoke ? 2000 : 200000;
	__u32 n_steady = b->smoke ? 500 : 20000, got, prog_id = 0;
	double p50, p99, max, rate;
	pthread_t rx;
	int fd, err;

	say("section 5: pin sync\n");
	snprintf(key_path, sizeof(key_path), "%s/sync.key", b->tmp);
	randombytes_buf(secret, sizeof(secret));
	fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, secret, sizeof(secret)) != sizeof(secret) ||
	    sync_key_load(key_path, key, err_buf, sizeof(err_buf))) {
		check(b, false, "sync: cannot write the key");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	b->daemon_extra = extra;
	sh("ip link set lo up");
	err = daemon_start(b, &d, "sync");
	b->daemon_extra = NULL;
	if (!check(b, !err, "sync: flowpind did not start"))
		return -1;
	s.created = calloc(n_fast > n_steady ? n_fast : n_steady, sizeof(double));
	s.arrived = calloc(n_fast > n_steady ? n_fast : n_steady, sizeof(double));
	if (!s.created || !s.arrived ||
	    test_peer_open(&s.peer, PEER_PORT, DAEMON_PORT, key) ||
	    test_peer_join(&s.peer, 5000)) {
		check(b, false, "sync: flowpind did not take this bench as its peer");
		goto out;
	}

	/* take: before the receiver thread, which would eat the acks */
	rate = take_run(&s, n_take, d.pin);
	rate_row("pin sync: pins flowpind takes from a peer", rate);
	say("  take: %u pins applied at %.0f pins/s\n", n_take, rate);

	bpf_xdp_query_id(rt.ifindex_in0, XDP_FLAGS_DRV_MODE, &prog_id);
	s.prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (!check(b, s.prog_fd >= 0, "sync: flowpind's program on in0 not found"))
		goto out;
	if (pthread_create(&rx, NULL, receiver, &s)) {
		check(b, false, "sync: no receiver thread");
		goto out;
	}
	run_on_cpu(BENCH_CPU);
	got = send_run(&s, n_steady, b->smoke ? 5000 : 10000, SEND_WAIT_S, &p50, &p99, &max, &rate);
	latency_row("new pin to a peer, 10k new flows/s", got, n_steady, p50, p99,
		    max, b);
	got = send_run(&s, n_fast, 0, SEND_WAIT_S, &p50, &p99, &max, &rate);
	latency_row("new pin to a peer, new flows flat out", got, n_fast, p50, p99,
		    max, b);
	rate_row("pin sync: pins flowpind sends (new flows flat out)", rate);
	say("  send: %u pins at %.0f pins/s (the bench makes the flows on one CPU)\n",
	    got, rate);
	snprintf(val, sizeof(val), "%.1f bytes",
		 s.pins_rx ? (double)s.bytes / s.pins_rx : 0);
	snprintf(ratio, sizeof(ratio), "%.1f pins a datagram",
		 s.datagrams ? (double)s.pins_rx / s.datagrams : 0);
	row("5", "pin sync: bytes per pin on the wire (UDP/IPv4 included)", val,
	    ratio, NULL, NULL);
	if (s.pins_rx)
		figure("5", "pin sync: bytes per pin on the wire", (double)s.bytes / s.pins_rx,
		       LOWER, 0);

	for (int i = 0; i < 2; i++) {
		unsigned int delay = i ? 450 : 150;
		double sent = late_ack_run(&s, n_steady, delay);
		char what[96];

		snprintf(what, sizeof(what),
			 "pin sync: pins sent per pin needed, acks %u ms late", delay);
		snprintf(val, sizeof(val), "%.2f", sent);
		row("5", what, val, NULL, "<= 1.2", sent <= 1.2 ? "yes" : "NO");
		figure("5", what, sent, LOWER, 0);
		say("  acks %u ms late: %.2f pins sent per pin needed\n", delay, sent);
	}

	/* 10% of the sync datagrams lost, each way */
	if (!check(b, !sh("nft add table inet fpb_sync && "
			  "nft add chain inet fpb_sync out '{ type filter hook output priority 0; }' && "
			  "nft add rule inet fpb_sync out udp dport '{ 7430, 7431 }' numgen random mod 10 0 drop"),
		   "sync: cannot add the nftables loss"))
		goto stop_rx;
	got = send_run(&s, n_steady, b->smoke ? 5000 : 10000, LOSSY_WAIT_S, &p50, &p99, &max, &rate);
	sh("nft delete table inet fpb_sync");
	latency_row("new pin to a peer, 10k/s, 10% of datagrams lost each way",
		    got, n_steady, p50, p99, max, b);
	{
		struct sync_peer_status st = peer_status(d.pin);

		say("  resends so far: %llu\n", (unsigned long long)st.resends);
	}
stop_rx:
	atomic_store(&s.stop, true);
	pthread_join(rx, NULL);
	run_anywhere();
	rejoin_rows(&s, d.pin, d.pid, b->smoke ? 9000 : 1000000);
out:
	if (s.prog_fd > 0)
		close(s.prog_fd);
	test_peer_close(&s.peer);
	daemon_stop(&d);
	free(s.created);
	free(s.arrived);
	return 0;
}
