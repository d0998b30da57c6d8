// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "clock.h"
#include "flow_cache.h"
#include "log.h"
#include "pin_touch.h"
#include "sync.h"
#include "sync_pace.h"
#include "sync_repair.h"
#include "sync_wire.h"

#define TICK_MS FP_PIN_EVENTS_READ_MS /* the ring is read, resends checked */
_Static_assert(TICK_MS <= SYNC_PACE_TICK_MS, "pacing's bursts must cover a tick");
#define HELLO_MS 1000
#define DOWN_MS 3000		/* a peer silent this long is down */
/* how far a peer's clock may lag this one's for its bulk request to count */
#define BULK_REQ_SKEW_NS 1000000000ULL
#define RTO_FIRST_MS 1000	/* before a round trip is known (RFC 6298) */
#define RTO_MIN_MS 100		/* the least resend timeout */
#define RTO_MAX_MS 2000
#define WINDOW 512		/* datagrams sent to a peer and not acked */
#define QUEUE_MAX (1U << 18)	/* pins waiting for room in the window */
#define QUEUE_MIN 1024		/* the first allocation; a power of two */
#define RX_BURST 64		/* datagrams read per wake-up */
#define BULK_BATCH 1024		/* pins read from flow_pins at once */
/* batches a walk reads per wake-up at most: most pins may be skipped */
#define BULK_READS 64
#define RCVBUF (8 << 20)	/* the socket's: WINDOW datagrams of every peer */

#define COPIES 4 /* the seqs of a message's last copies an ack may name */
/*
 * The refresh: its pins wait in a peer's queue only while fewer than this
 * do (new pins keep the rest), and it looks up at most REFRESH_LOOKUPS
 * live copies a tick (a pass then takes longer than its period).
 */
#define REFRESH_QUEUED 4096
#define REFRESH_LOOKUPS 256
/*
 * Repair: a digest counts the pins made this long before it (what is
 * still on its way is not missing), and its walk of flow_pins reads at
 * most this many batches a tick.
 */
#define REPAIR_SETTLE_NS (2ULL * 1000000000ULL)
#define DIGEST_READS 16

/* What an unacked datagram carries, for what waits on its ack. */
enum fl_kind {
	FL_OTHER,
	FL_BULK,   /* a bulk sync's pins or its end */
	FL_REPAIR, /* a repair's pins */
};

struct inflight {
	uint64_t seq; /* of its last transmission; 0: free slot */
	/*
	 * Every copy takes a new seq (the receiver's replay window takes each
	 * once); an ack of any of the last COPIES frees the slot, so a late
	 * ack stops the resends it would otherwise have fed.
	 */
	uint64_t copy[COPIES];
	uint64_t copy_ns[COPIES]; /* when each went (CLOCK_MONOTONIC) */
	uint32_t n_copies;
	uint64_t resend_ns;  /* of the last copy */
	uint64_t first_ns;   /* of the first copy */
	uint32_t rto_ms;
	enum fl_kind kind;
	uint16_t len;
	uint8_t buf[SYNC_MAX_DGRAM];
};

struct peer {
	struct sync_addr addr;
	struct sync_ends to, from; /* what the MACs of each way bind */
	char name[INET6_ADDRSTRLEN + 8];
	struct sync_peer_status st;
	struct sync_replay replay;
	uint64_t seq;		/* last seq sent to it */
	uint64_t last_rx_ns;	/* CLOCK_MONOTONIC */
	uint64_t last_hello_ns;
	int send_errno;		/* of the last send that failed; 0: it worked */
	/* pins waiting for room in the window: a ring */
	struct sync_pin *queue;
	uint32_t q_head, q_len, q_cap;
	struct inflight *fl;	/* WINDOW slots */
	uint32_t n_fl, n_fl_bulk, n_fl_repair;
	uint64_t acks[SYNC_MAX_ACKS - 1]; /* to send, after the epoch */
	uint32_t n_acks;
	/* a bulk sync to it: where flow_pins' walk is */
	bool bulk_out, bulk_first, bulk_walked;
	bool bulk_mine;		/* it asked for the pins it made, too */
	uint32_t bulk_reads;	/* batches read since this wake-up */
	/* its bulk request had MINE: this run of it lost the pins it made */
	bool lost_own;
	/* pins meant for it were dropped (a full queue): a walk of ours follows */
	bool walk_due;
	uint32_t bulk_token;
	struct flow_key *bk;
	struct flow_pin *bv;
	uint32_t b_len, b_pos;
	uint64_t bulk_sent;
	/* its bulk sync to us */
	bool bulk_req_due;	/* to ask for it when the window has room */
	bool bulk_done;		/* since this run started */
	bool signs_next;	/* its last good datagram was under key_next */
	/*
	 * The round trip to its acks (RFC 6298) and the resend timeout new
	 * messages start with. Every copy has a seq of its own, so an ack says
	 * which copy it answers and each one measures the round trip (as in
	 * QUIC; TCP, whose copies share a seq, must skip resent ones: Karn).
	 */
	uint32_t srtt_us, rttvar_us;
	uint32_t rto_ms;
	struct sync_pace pace;
	/*
	 * Repair (DESIGN.md, "Repair"). Asking: the gateways of its pins we
	 * cannot take, and our digest of its pins, summed by the digest walk.
	 * Answering: its digest of ours, waiting for a walk or being compared
	 * with ours in one. Then a walk to it (bulk_out, walk_repair) sends
	 * what differs: [0] our pins, [1] its own held here.
	 */
	struct repair_gws lacks;
	bool lacks_said;
	/*
	 * The gateways its last digest said it cannot take (when it came):
	 * the refresh skips them, and our digests of its pins leave them out
	 * too, so both sides count the same pins.
	 */
	uint32_t n_lacked;
	uint64_t lacked[SYNC_DIGEST_MAX_GW];
	uint64_t lacked_ns;
	uint64_t asked_cut; /* of our last digest to it: its diff must name it */
	bool ask_in_walk;
	struct sync_digest ask;
	bool answer_due, answer_in_walk, answer_by_sums;
	struct sync_digest theirs_due, theirs, ours;
	struct repair_filter answer_f; /* which of ours its digest counts */
	struct repair_filter rep_due[2], rep[2];
	bool walk_repair;
};

struct sync {
	struct sync_env env;
	uint8_t key[SYNC_KEY_LEN];	/* what this router signs with */
	uint8_t key_next[SYNC_KEY_LEN]; /* --sync-key-next: also accepted */
	bool has_key_next;
	int sock, epfd, timerfd;
	struct ring_buffer *rb;
	uint64_t epoch;	     /* this run's, in every message */
	bool size_warned;    /* the fleet's pins passed --max-flows: said */
	int ncpus;	     /* possible CPUs: flow_cache's copies */
	uint64_t started_ns; /* CLOCK_REALTIME at start */
	struct sync_peer_status self;
	char listen_name[INET6_ADDRSTRLEN + 8];
	struct peer peer[FP_MAX_PEERS - 1];
	int n;
	/* usable next hops on our ports, by id, rebuilt when the table changes */
	__u32 *nh_ids;
	__u32 n_nh_ids;
	__u64 nh_changes;
	bool nh_built;
	/* the datapath's pin_turnover, mmap()ed; NULL: no budget */
	struct pin_turnover *turnover;
	size_t turnover_len;
	/* peers' pins, looked up from the kernel once received (NULL: none) */
	struct pin_touch_batch *touch;
	/*
	 * The refresh: flow_cache, mmap()ed read-only, walked a slice a tick,
	 * once every refresh_ms (0: off), the pass started at pass_ns; its live
	 * copies' pins go to the peers again.
	 */
	const struct flow_cache_set *cache;
	size_t cache_len;
	__u32 cache_n_sets, refresh_pos;
	uint64_t refresh_ms, pass_ns;
	/*
	 * Repair: once every repair_ms (0: never; rounds at multiples of it of
	 * CLOCK_TAI) a walk of flow_pins sums our digests of every peer's
	 * pins, and our own pins by gateway (sums), from which every digest
	 * of ours of that cut is answered; a digest of another cut is summed
	 * in a walk too. A digest that arrives during a walk waits for the
	 * next.
	 */
	uint64_t repair_ms, next_ask_tai, ask_cut;
	int repair_reads; /* batches the repair walks may still read this wake-up */
	struct repair_sums sums;
	bool sums_in_walk;
	bool dw_on, dw_first, dw_walked;
	__u32 dw_token;
	struct flow_key *dwk;
	struct flow_pin *dwv;
};

/* --- options ------------------------------------------------------------ */

int sync_parse_addr(const char *s, struct sync_addr *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *end;
	struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;
	unsigned long p = FP_SYNC_PORT;
	size_t n;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		n = end - s - 1;
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return -EINVAL;
	} else {
		end = strchr(s, ':');
		/* one colon: IPv4 and a port; more: a bare IPv6 address */
		if (end && !strchr(end + 1, ':')) {
			n = end - s;
			port = end + 1;
		} else {
			n = strlen(s);
		}
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = '\0';
	}
	if (port) {
		char *e;

		if (!*port || *port == '-' || *port == '+')
			return -EINVAL;
		errno = 0;
		p = strtoul(port, &e, 10);
		if (errno || *e || !p || p > 65535)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1 && s[0] != '[') {
		in->sin_family = AF_INET;
		in->sin_port = htons(p);
		a->len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(p);
		a->len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static bool addr_eq(const struct sync_addr *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)&a->sa, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)&a->sa, *b6 = (const void *)b;

	if (a->sa.ss_family != b->ss_family)
		return false;
	if (a->sa.ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

static const char *addr_str(const struct sync_addr *a, char *buf, size_t len)
{
	const struct sockaddr_in *a4 = (const void *)&a->sa;
	const struct sockaddr_in6 *a6 = (const void *)&a->sa;
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->sa.ss_family == AF_INET) {
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a4->sin_port));
	} else {
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a6->sin6_port));
	}
	return buf;
}

uint32_t sync_router_id(const struct sync_config *c)
{
	const struct sockaddr_in *in = (const void *)&c->listen.sa;
	const struct sockaddr_in6 *in6 = (const void *)&c->listen.sa;
	uint32_t last;

	if (c->router_id)
		return c->router_id;
	if (c->listen.sa.ss_family == AF_INET)
		return ntohl(in->sin_addr.s_addr);
	memcpy(&last, &in6->sin6_addr.s6_addr[12], 4);
	return ntohl(last);
}

int sync_check_config(const struct sync_config *c, char *err, size_t errlen)
{
	char a[INET6_ADDRSTRLEN + 8];

	if (!c->on) {
		if (c->n_peers || c->key_file || c->key_next_file || c->router_id) {
			snprintf(err, errlen, "--peer, --sync-key, --sync-key-next and --router-id need --sync ADDR[:PORT]");
			return -EINVAL;
		}
		return 0;
	}
	if (!c->key_file) {
		snprintf(err, errlen, "--sync needs --sync-key FILE: pin sync is always authenticated");
		return -EINVAL;
	}
	{
		const struct sockaddr_in *in = (const void *)&c->listen.sa;
		const struct sockaddr_in6 *in6 = (const void *)&c->listen.sa;

		/* the MACs bind the address the peers know this router by */
		if (c->listen.sa.ss_family == AF_INET ?
			    in->sin_addr.s_addr == htonl(INADDR_ANY) :
			    IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) {
			snprintf(err, errlen, "--sync needs this router's own address, the one its peers name with --peer, not %s",
				 addr_str(&c->listen, a, sizeof(a)));
			return -EINVAL;
		}
	}
	if (!sync_router_id(c)) {
		snprintf(err, errlen, "--sync %s gives no router id (its last 32 bits are 0): give --router-id",
			 addr_str(&c->listen, a, sizeof(a)));
		return -EINVAL;
	}
	for (int i = 0; i < c->n_peers; i++) {
		if (c->peer[i].sa.ss_family != c->listen.sa.ss_family) {
			snprintf(err, errlen, "peer %s is not of the family of --sync's address",
				 addr_str(&c->peer[i], a, sizeof(a)));
			return -EINVAL;
		}
		for (int j = 0; j < i; j++)
			if (addr_eq(&c->peer[j], &c->peer[i].sa)) {
				snprintf(err, errlen, "peer %s is given twice",
					 addr_str(&c->peer[i], a, sizeof(a)));
				return -EINVAL;
			}
		if (addr_eq(&c->listen, &c->peer[i].sa)) {
			snprintf(err, errlen, "peer %s is this router's own --sync address",
				 addr_str(&c->peer[i], a, sizeof(a)));
			return -EINVAL;
		}
	}
	return 0;
}

static void status_addr(struct sync_peer_status *st, const struct sync_addr *a)
{
	const struct sockaddr_in *a4 = (const void *)&a->sa;
	const struct sockaddr_in6 *a6 = (const void *)&a->sa;

	if (a->sa.ss_family == AF_INET) {
		st->family = FP_AF_INET;
		st->port = ntohs(a4->sin_port);
		memcpy(st->addr, &a4->sin_addr, 4);
	} else {
		st->family = FP_AF_INET6;
		st->port = ntohs(a6->sin6_port);
		memcpy(st->addr, &a6->sin6_addr, 16);
	}
}

static void write_status(struct sync *s);

/* --- sending ------------------------------------------------------------ */

static void send_dgram(struct sync *s, struct peer *p, uint8_t *buf,
		       size_t len)
{
	if (sendto(s->sock, buf, len, MSG_DONTWAIT, (struct sockaddr *)&p->addr.sa,
		   p->addr.len) < 0) {
		/* said once for each new reason: a peer may be away for long */
		if (errno != p->send_errno)
			pr_warn("sync: cannot send to %s: %s%s\n", p->name,
				strerror(errno), errno == EPERM ?
				" (under systemd: allow the peers with IPAddressAllow=, see flowpind.service)" : "");
		p->send_errno = errno;
		return;
	}
	p->send_errno = 0;
	p->st.msgs_sent++;
}

/* Fill in a header with the next seq for this peer. */
static void start_msg(struct sync *s, struct peer *p, uint8_t *buf,
		      uint8_t type, uint8_t flags, uint16_t count, uint32_t aux)
{
	struct sync_hdr h = {
		.type = type, .flags = flags, .count = count, .aux = aux,
		.router = s->self.router, .epoch = s->epoch, .seq = ++p->seq,
		.time_ns = now_ns(CLOCK_REALTIME),
	};

	sync_put_hdr(buf, &h);
}

static void send_plain(struct sync *s, struct peer *p, uint8_t type)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	uint32_t aux = 0;

	if (type == SYNC_HELLO) /* the pins this router made */
		aux = s->self.pins_made > UINT32_MAX ? UINT32_MAX : s->self.pins_made;
	start_msg(s, p, buf, type, 0, 0, aux);
	send_dgram(s, p, buf, sync_seal(buf, s->key, &p->to));
}

static struct inflight *fl_slot(struct peer *p)
{
	for (uint32_t i = 0; i < WINDOW; i++)
		if (!p->fl[i].seq)
			return &p->fl[i];
	return NULL;
}

/* A message that must arrive: kept until acked, resent until then. */
static void send_reliable(struct sync *s, struct peer *p, struct inflight *f,
			  enum fl_kind kind)
{
	f->seq = p->seq; /* start_msg() gave it */
	f->copy[0] = f->seq;
	f->n_copies = 1;
	f->copy_ns[0] = f->resend_ns = f->first_ns = now_ns(CLOCK_MONOTONIC);
	f->rto_ms = p->rto_ms;
	f->kind = kind;
	f->len = sync_seal(f->buf, s->key, &p->to);
	p->n_fl++;
	p->n_fl_bulk += kind == FL_BULK;
	p->n_fl_repair += kind == FL_REPAIR;
	send_dgram(s, p, f->buf, f->len);
}

/*
 * Ask for the peer's pins as soon as the window has room; for those it
 * holds of ours too while this run has not had them (flow_pins is new).
 */
static void send_bulk_req(struct sync *s, struct peer *p)
{
	struct inflight *f = fl_slot(p);

	p->bulk_req_due = !f;
	if (!f)
		return;
	start_msg(s, p, f->buf, SYNC_BULK_REQ,
		  s->env.own_pins_lost && !p->bulk_done ? SYNC_F_MINE : 0, 0, 0);
	send_reliable(s, p, f, FL_OTHER);
}

static void flush_acks(struct sync *s, struct peer *p)
{
	uint8_t buf[SYNC_MAX_DGRAM];

	if (!p->n_acks)
		return;
	/* first the run they belong to: acks for an earlier one free nothing */
	start_msg(s, p, buf, SYNC_ACK, 0, p->n_acks + 1, 0);
	sync_put_ack(buf, 0, p->replay.epoch);
	for (uint32_t i = 0; i < p->n_acks; i++)
		sync_put_ack(buf, i + 1, p->acks[i]);
	send_dgram(s, p, buf, sync_seal(buf, s->key, &p->to));
	p->n_acks = 0;
}

static void ack_later(struct sync *s, struct peer *p, uint64_t seq)
{
	if (p->n_acks == SYNC_MAX_ACKS - 1)
		flush_acks(s, p);
	p->acks[p->n_acks++] = seq;
}

/*
 * The queue of pins for a peer holds at most QUEUE_MAX, and no more than
 * flow_pins does: past that, a walk of the table is the shorter way.
 */
static uint32_t queue_max(const struct sync *s)
{
	return s->env.max_flows && s->env.max_flows < QUEUE_MAX ?
	       s->env.max_flows : QUEUE_MAX;
}

static bool queue_push(const struct sync *s, struct peer *p,
		       const struct sync_pin *pin)
{
	if (p->q_len >= queue_max(s))
		return false;
	if (p->q_len == p->q_cap) { /* below QUEUE_MAX, and both powers of two */
		uint32_t cap = p->q_cap ? p->q_cap * 2 : QUEUE_MIN;
		struct sync_pin *q;

		q = malloc(cap * sizeof(*q));
		if (!q)
			return false;
		for (uint32_t i = 0; i < p->q_len; i++)
			q[i] = p->queue[(p->q_head + i) % p->q_cap];
		free(p->queue);
		p->queue = q;
		p->q_cap = cap;
		p->q_head = 0;
	}
	p->queue[(p->q_head + p->q_len) % p->q_cap] = *pin;
	p->q_len++;
	return true;
}

/*
 * Queue a pin for a peer; one the queue has no room for is dropped, and a
 * walk to that peer follows. A silent peer's queue goes then (the walk
 * holds what it held, and pins made later), so a peer gone for long costs
 * no memory.
 */
static void queue_pin(const struct sync *s, struct peer *p,
		      const struct sync_pin *pin)
{
	if (p->walk_due && p->st.state == FP_PEER_DOWN)
		return; /* the walk when it is back holds this one too */
	if (queue_push(s, p, pin))
		return;
	p->st.queue_drops++;
	p->walk_due = true;
	if (p->st.state == FP_PEER_DOWN) {
		free(p->queue);
		p->queue = NULL;
		p->q_cap = p->q_len = p->q_head = 0;
	}
}

/* A bulk sync to this peer has pins left to read or to send. */
static bool bulk_more(const struct peer *p)
{
	return !p->bulk_walked || p->b_pos < p->b_len;
}

/* Next pin of a bulk sync to this peer: false when the walk is over. */
static bool bulk_next(struct sync *s, struct peer *p, struct sync_pin *out);

static void bulk_start(struct peer *p, bool mine);
static void repair_start(struct peer *p);

/* Pins and their copies go as the peer's pacing allows (sync_pace.h). */
static bool pace_take(struct peer *p)
{
	return sync_pace_take(&p->pace, now_ns(CLOCK_MONOTONIC), p->srtt_us, WINDOW);
}

/* A peer that is heard: messages to it may go. */
static bool in_touch(const struct peer *p)
{
	return p->st.state == FP_PEER_UP || p->st.state == FP_PEER_BULK;
}

/* Send what the window has room for: queued pins, then the bulk walk. */
static void flush_pins(struct sync *s, struct peer *p)
{
	struct inflight *f;

	if (!in_touch(p))
		return; /* what waits for it goes when it is back */
	p->bulk_reads = 0;
	if (p->walk_due && !p->bulk_out) {
		pr_info("sync: pins for %s were dropped (%llu so far): sending it ours again\n",
			p->name, (unsigned long long)p->st.queue_drops);
		p->walk_due = false;
		bulk_start(p, false);
	}
	if (!p->bulk_out && (p->rep_due[0].on || p->rep_due[1].on))
		repair_start(p);
	if (p->bulk_req_due)
		send_bulk_req(s, p);
	while (p->q_len && (f = fl_slot(p)) && pace_take(p)) {
		uint16_t n = 0;

		for (; n < SYNC_MAX_PINS && p->q_len; n++) {
			sync_put_pin(f->buf, n, &p->queue[p->q_head]);
			p->q_head = (p->q_head + 1) % p->q_cap;
			p->q_len--;
		}
		start_msg(s, p, f->buf, SYNC_PINS, 0, n, 0);
		p->st.pins_sent += n;
		send_reliable(s, p, f, FL_OTHER);
	}
	while (p->bulk_out && bulk_more(p) && (f = fl_slot(p)) && pace_take(p)) {
		struct sync_pin pin;
		uint16_t n = 0;

		while (n < SYNC_MAX_PINS && bulk_next(s, p, &pin))
			sync_put_pin(f->buf, n++, &pin);
		if (!n)
			break;
		start_msg(s, p, f->buf, SYNC_PINS,
			  p->walk_repair ? SYNC_F_REPAIR : SYNC_F_BULK, n, 0);
		p->st.pins_sent += n;
		if (p->walk_repair)
			p->st.pins_repaired += n;
		else
			p->bulk_sent += n;
		send_reliable(s, p, f, p->walk_repair ? FL_REPAIR : FL_BULK);
	}
	/* a repair has no end: its pins are acked one by one */
	if (p->bulk_out && p->walk_repair && !bulk_more(p)) {
		p->bulk_out = false;
		p->walk_repair = false;
	}
	/* the end goes once every pin of the walk was acked */
	if (p->bulk_out && !bulk_more(p) && !p->n_fl_bulk && (f = fl_slot(p))) {
		start_msg(s, p, f->buf, SYNC_PINS, SYNC_F_END, 0,
			  p->bulk_sent > UINT32_MAX ? UINT32_MAX : p->bulk_sent);
		send_reliable(s, p, f, FL_OTHER);
		pr_debug("sync: bulk sync to %s: %llu pins sent\n", p->name,
			 (unsigned long long)p->bulk_sent);
		p->bulk_out = false;
	}
}

/* --- next hops: local ids <-> gateways ---------------------------------- */

static bool nh_usable(const struct sync *s, const struct nexthop *nh)
{
	return FP_NEXTHOP_USABLE(nh->state, s->env.policy);
}

static void nh_index(struct sync *s)
{
	const struct nexthop_table *t = s->env.nht;

	if (s->nh_built && s->nh_changes == t->changes)
		return;
	s->n_nh_ids = 0;
	for (__u32 id = 1; id < t->size; id++) {
		const struct nexthop *nh = nexthop_table_get(t, id);

		if (nh && s->env.serves(s->env.ctx, nh->ifindex))
			s->nh_ids[s->n_nh_ids++] = id;
	}
	s->nh_changes = t->changes;
	s->nh_built = true;
}

/* Our next hop with this gateway on one of our ports, usable first; 0: none. */
static __u32 nh_by_gw(struct sync *s, const struct sync_pin *pin,
		      bool *usable)
{
	__u32 found = 0;

	nh_index(s);
	*usable = false;
	for (__u32 i = 0; i < s->n_nh_ids; i++) {
		const struct nexthop *nh =
			nexthop_table_get(s->env.nht, s->nh_ids[i]);

		if (!nh || nh->family != pin->gw_family ||
		    memcmp(nh->gw, pin->gw, nh->family == FP_AF_INET ? 4 : 16))
			continue;
		found = s->nh_ids[i];
		if (nh_usable(s, nh)) {
			*usable = true;
			return found;
		}
	}
	return found;
}

/*
 * Count a peer's pin against the window's budget of new pins, which the
 * datapath's draw on too: pins from peers turn flow_pins over no faster
 * than the router's own (--min-pin-age).
 */
static bool turnover_allowed(struct sync *s)
{
	__u64 start;

	if (!s->turnover)
		return true;
	start = __atomic_load_n(&s->turnover->start_ns, __ATOMIC_ACQUIRE);
	return fp_turnover_count(s->turnover, start, now_ns(CLOCK_MONOTONIC),
				 fp_turnover_budget(s->env.pins_per_s));
}

/*
 * A pin of flow_pins as it travels: its gateway, and its router's id (0
 * in flow_pins is this router).
 */
static void wire_pin(const struct sync *s, struct sync_pin *out,
		     const struct flow_key *key, const struct flow_pin *pin,
		     const struct nexthop *nh)
{
	memset(out, 0, sizeof(*out));
	out->key = *key;
	out->gw_family = nh->family;
	memcpy(out->gw, nh->gw, sizeof(out->gw));
	out->router = pin->router ? pin->router : s->self.router;
	out->rank = pin->rank;
}

/*
 * The fleet's rule has put a peer's pin before the flow's pin here: it
 * takes that pin's place, and the CPUs' copies of the old one go, so the
 * flow's next packet on every CPU goes the rule's way. BPF_EXIST: a flow
 * whose pin went meanwhile gets a fresh insert instead. Like any update of
 * an LRU hash, it takes a free element first, and on a full table that
 * evicts another flow's pin: conflicts are rare, and not budgeted.
 */
static int replace_pin(struct sync *s, const struct flow_key *key,
		       const struct flow_pin *pin)
{
	__u64 n = 0;

	if (bpf_map_update_elem(s->env.flow_pins_fd, key, pin, BPF_EXIST))
		return -errno;
	if (s->ncpus > 0)
		flow_cache_forget(s->env.cache_fd, s->env.cache_tags_fd,
				  s->ncpus, key, NULL, NULL, &n);
	return 0;
}

/*
 * The pin here beat the peer's (or ranks before it, on the same next
 * hop): the peer gets it, to replace or rank its own, since nothing else
 * would send it again (its maker sent it once, and the peer may have
 * missed it: a full queue or ring, a spent budget, an eviction). The
 * peer, having lost, sends nothing back: no loop.
 */
static void tell_back(const struct sync *s, struct peer *p,
		      const struct sync_pin *here)
{
	if (in_touch(p))
		queue_pin(s, p, here);
}

/*
 * A pin from a peer: into flow_pins where the flow has no usable pin here,
 * or in place of one the fleet's rule puts behind it (sync_pin_wins()).
 * One that agrees with the pin here only lends it a better rank, so that
 * this router judges the next pin as every other does; one the pin here
 * beats, or outranks, gets the pin here back (tell_back()). A live pin (a
 * peer's new flow) must fit the turnover budget; a bulk sync's or a
 * repair's is the fleet's state this router catches up with, asked for,
 * acked and not sent again: it is not budgeted (catch_up), and neither is
 * a replacement, which adds no pin.
 */
static void apply_pin(struct sync *s, struct peer *p, const struct sync_pin *in,
		      bool catch_up)
{
	int fd = s->env.flow_pins_fd;
	struct flow_pin cur, pin = { 0 }; /* epoch 0: never checked here */
	const struct nexthop *nh;
	struct sync_pin here;
	bool usable, stale = false;

	pin.nh_id = nh_by_gw(s, in, &usable);
	if (!pin.nh_id || !usable) {
		p->st.skips[pin.nh_id ? FP_SKIP_UNUSABLE : FP_SKIP_GATEWAY]++;
		/* our digests of its pins leave this gateway out */
		repair_gws_add(&p->lacks, in);
		return;
	}
	pin.nh_gen = nexthop_table_get(s->env.nht, pin.nh_id)->gen;
	pin.router = in->router == s->self.router ? 0 : in->router;
	pin.rank = in->rank;
	if (!bpf_map_lookup_elem(fd, &in->key, &cur)) {
		nh = nexthop_table_get(s->env.nht, cur.nh_id);
		if (nh && nh->gen == cur.nh_gen && nh_usable(s, nh)) {
			wire_pin(s, &here, &in->key, &cur, nh);
			if (cur.nh_id == pin.nh_id) {
				p->st.skips[FP_SKIP_HAVE]++;
				if (sync_pin_wins(in, &here)) {
					pin.epoch = cur.epoch;
					bpf_map_update_elem(fd, &in->key, &pin, BPF_EXIST);
				} else if (sync_pin_wins(&here, in)) {
					tell_back(s, p, &here);
				}
				return;
			}
			if (!sync_pin_wins(in, &here)) {
				p->st.skips[FP_SKIP_BETTER]++;
				tell_back(s, p, &here);
				return;
			}
			if (!replace_pin(s, &in->key, &pin)) {
				p->st.pins_replaced++;
				p->st.pins_applied++;
				return;
			}
		}
		stale = true;
	}
	if (!catch_up && !turnover_allowed(s)) {
		p->st.skips[FP_SKIP_BUDGET]++;
		return;
	}
	/* as the datapath does: a stale pin goes first (flowpin.h) */
	if (FP_PIN_INSERT(bpf_map_delete_elem, bpf_map_update_elem, fd,
			  &in->key, &pin, stale)) {
		p->st.skips[errno == EEXIST ? FP_SKIP_HAVE : FP_SKIP_FULL]++;
		return;
	}
	p->st.pins_applied++;
}

/*
 * The datapath's new pins: to every peer met this run, also one that is
 * silent now (they wait in its queue for it to be back).
 */
static int on_event(void *ctx, void *data, size_t len)
{
	struct sync *s = ctx;
	const struct pin_event *ev = data;
	const struct nexthop *nh;
	struct sync_pin pin;

	if (len < sizeof(*ev) || ev->key.l3dom)
		return 0; /* a VRF's flow: its key means nothing elsewhere */
	nh = nexthop_table_get(s->env.nht, ev->pin.nh_id);
	if (!nh || nh->gen != ev->pin.nh_gen)
		return 0;
	wire_pin(s, &pin, &ev->key, &ev->pin, nh);
	for (int i = 0; i < s->n; i++) {
		struct peer *p = &s->peer[i];

		if (p->st.state == FP_PEER_WAITING)
			continue; /* it asks for them when we meet */
		queue_pin(s, p, &pin);
	}
	return 0;
}

/*
 * How long a peer's list of the gateways it cannot take holds: two of
 * its rounds (as ours, or the default when we do not ask), so a peer
 * that stopped sending digests does not keep its last list for good.
 * The list's length while it holds; 0 after.
 */
static uint32_t lacked_now(const struct sync *s, const struct peer *p)
{
	uint64_t ms = s->repair_ms > SYNC_REPAIR_S * 1000ULL ? s->repair_ms :
		      SYNC_REPAIR_S * 1000ULL;

	return now_ns(CLOCK_MONOTONIC) - p->lacked_ns < 2 * ms * 1000000ULL ?
	       p->n_lacked : 0;
}

/*
 * A pin as it travels, of a key and value read from flow_pins: false when
 * it may not (a VRF's flow, a stale pin, a next hop not usable here).
 */
static bool wire_of(const struct sync *s, const struct flow_key *k,
		    const struct flow_pin *v, struct sync_pin *out)
{
	const struct nexthop *nh = nexthop_table_get(s->env.nht, v->nh_id);

	if (k->l3dom || !nh || nh->gen != v->nh_gen || !nh_usable(s, nh))
		return false;
	wire_pin(s, out, k, v, nh);
	return true;
}

/*
 * One batch of a walk of flow_pins (from the start when *first): into
 * keys and vals, count of them; *walked after the last. A read that fails
 * leaves the walk where it is, to be tried again: -1, and a line that
 * names what it read for.
 */
static int pins_batch(const struct sync *s, bool *first, __u32 *token,
		      struct flow_key *keys, struct flow_pin *vals, __u32 *count,
		      bool *walked, const char *what)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int err;

	*count = BULK_BATCH;
	err = bpf_map_lookup_batch(s->env.flow_pins_fd, *first ? NULL : token,
				   token, keys, vals, count, &opts);
	if (err && errno != ENOENT) {
		pr_warn("sync: reading the pins for %s: %s\n", what, strerror(errno));
		return -1;
	}
	*first = false;
	*walked = err; /* ENOENT: the last batch */
	return 0;
}

/*
 * The refresh. A peer holds the pin of a flow that goes through this
 * router, and never looks it up: its LRU would evict that pin before any
 * it uses. So the pins of the flows this router forwards go to the peers
 * again, every refresh_ms, and each peer looks every pin it receives up
 * from the kernel (pin_touch), which marks it used. A peer that lost one
 * gets it back. A flow is live while a CPU's copy of its pin was checked
 * within the period (a copy is checked on a packet once it is
 * cache_check_ns old, and a pass may run a little late: both are
 * allowed for). A live flow's pin goes to each peer once a pass, from
 * each CPU that holds a copy, whoever made it; a VRF's never. Only flows
 * in flow_cache when the pass reaches them are seen.
 *
 * A refresh never takes a new pin's place: its pins join a peer's queue
 * only while it is short and no walk to it is under way, else that peer
 * misses the pin this pass. Nor does it send a peer pins of a gateway its
 * last digest said it lacks (it would skip them: return traffic through
 * this router's own upstream). A refreshed pin is a pin like any other on
 * the wire, acked and resent.
 */
static void refresh_pin(struct sync *s, const struct flow_cache_slot *slot)
{
	struct flow_pin pin;
	struct sync_pin out;

	/* flow_pins decides: a copy may be stale (flushed, replaced) */
	if (bpf_map_lookup_elem(s->env.flow_pins_fd, &slot->key, &pin) ||
	    pin.nh_id != slot->nh_id || !wire_of(s, &slot->key, &pin, &out))
		return;
	for (int i = 0; i < s->n; i++) {
		struct peer *p = &s->peer[i];

		if (in_touch(p) && !p->bulk_out && p->q_len < REFRESH_QUEUED &&
		    !repair_gw_named(p->lacked, lacked_now(s, p), &out) &&
		    queue_push(s, p, &out))
			p->st.pins_refreshed++;
	}
}

/*
 * A slot of the datapath's as it was when read whole (the datapath's
 * protocol: seq odd while a write is under way, and moved by it): false
 * when it was being written, or is empty.
 */
static bool slot_copy(const struct flow_cache_slot *w, struct flow_cache_slot *out)
{
	__u32 seq = __atomic_load_n(&w->seq, __ATOMIC_ACQUIRE);

	if (seq & 1)
		return false;
	memcpy(out, w, sizeof(*out));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&w->seq, __ATOMIC_RELAXED) == seq &&
	       out->key.family && out->nh_id;
}

/*
 * This tick's part of the pass: the sets the time since the pass began
 * calls for (ticks the loop missed are made up), at most REFRESH_LOOKUPS
 * live copies. A pass over, the next begins.
 */
static void refresh_slice(struct sync *s)
{
	uint64_t period_ns = s->refresh_ms * 1000000ULL;
	uint64_t live_ns = period_ns + FP_CACHE_CHECK_NS + 2 * period_ns / 10;
	uint64_t now = now_ns(CLOCK_MONOTONIC_COARSE); /* the datapath's clock */
	uint64_t due = now - s->pass_ns >= period_ns ? s->cache_n_sets :
		       s->cache_n_sets * (now - s->pass_ns) / period_ns;
	int lookups = 0, peers = 0;

	for (int i = 0; i < s->n; i++)
		peers += in_touch(&s->peer[i]);
	while (s->refresh_pos < due && lookups < REFRESH_LOOKUPS) {
		const struct flow_cache_set *set = &s->cache[s->refresh_pos++];

		for (int w = 0; w < FP_CACHE_WAYS && peers; w++) {
			struct flow_cache_slot slot;

			if (slot_copy(&set->way[w], &slot) && !slot.key.l3dom &&
			    slot.checked_ns + live_ns >= now) {
				refresh_pin(s, &slot);
				lookups++;
			}
		}
	}
	if (s->refresh_pos == s->cache_n_sets) {
		s->refresh_pos = 0;
		s->pass_ns = now;
	}
}

/*
 * Whether a bulk sync to this peer holds this pin: ours always; the
 * peer's own only when it asked for them (it lost its pin table); a third
 * router's only when that router is not in touch with us, since one that
 * is answers the same request itself. Each pin crosses the wire once a
 * rejoin, from its maker while it is there.
 */
static bool bulk_sends(const struct sync *s, const struct peer *to,
		       const struct flow_pin *v)
{
	if (!v->router)
		return true;
	if (v->router == to->st.router)
		return to->bulk_mine;
	for (int i = 0; i < s->n; i++)
		if (s->peer[i].st.router == v->router)
			return !in_touch(&s->peer[i]) || s->peer[i].lost_own;
	return true;
}

/*
 * Whether a repair to this peer holds this pin: ours of the ranges its
 * digest found different ([0]); its own held here, of the ranges ours
 * did ([1]). Made before the cut either way.
 */
static bool repair_walk_sends(const struct peer *p, const struct flow_pin *v,
			      const struct sync_pin *pin)
{
	if (!v->router)
		return p->rep[0].on && repair_sends(&p->rep[0], pin);
	return v->router == p->st.router && p->rep[1].on &&
	       repair_sends(&p->rep[1], pin);
}

static bool bulk_next(struct sync *s, struct peer *p, struct sync_pin *out)
{
	__u32 count;

	for (;;) {
		if (p->b_pos < p->b_len) {
			const struct flow_key *k = &p->bk[p->b_pos];
			const struct flow_pin *v = &p->bv[p->b_pos++];

			if (wire_of(s, k, v, out) &&
			    (p->walk_repair ? repair_walk_sends(p, v, out) :
					      bulk_sends(s, p, v)))
				return true;
			continue;
		}
		if (p->bulk_walked || p->bulk_reads++ == BULK_READS ||
		    (p->walk_repair && s->repair_reads-- <= 0))
			return false; /* over, or on at the next wake-up */
		if (pins_batch(s, &p->bulk_first, &p->bulk_token, p->bk, p->bv,
			       &count, &p->bulk_walked, p->name))
			return false;
		p->b_len = count;
		p->b_pos = 0;
	}
}

/* --- repair: digests of the pins each router made ----------------------- */

/* A gateway a peer's pin may name that a usable next hop here has. */
static bool gw_usable(void *ctx, uint8_t family, const __be32 gw[4])
{
	struct sync_pin pin = { .gw_family = family };
	bool usable;

	memcpy(pin.gw, gw, sizeof(pin.gw));
	return nh_by_gw(ctx, &pin, &usable) && usable;
}

/*
 * Our digest of a peer's pins names the gateways whose pins neither side
 * counts: those of its pins we cannot take (learnt from the pins we
 * skipped), and those its last digest said it cannot take (its own pins
 * of them it does not count: a next hop of its that is not usable, or
 * gone; it learns them when we send those pins back and it skips them).
 * Both sides then count the same pins. False when they are more than a
 * digest names: that peer is not asked.
 */
static bool ask_names(struct sync *s, struct peer *p)
{
	struct repair_gws names = { 0 };

	repair_gws_prune(&p->lacks, gw_usable, s);
	memset(&p->ask, 0, sizeof(p->ask));
	p->ask.cut = s->ask_cut;
	if (p->lacks.full)
		names.full = true;
	for (uint32_t i = 0; i < p->lacks.n; i++)
		repair_gws_add_hash(&names, p->lacks.hash[i]);
	for (uint32_t i = 0; i < lacked_now(s, p); i++)
		repair_gws_add_hash(&names, p->lacked[i]);
	if (names.full) {
		if (!p->lacks_said)
			pr_warn("sync: %s's pins and ours name more than %u gateways one of us cannot take: its pins are not repaired\n",
				p->name, SYNC_DIGEST_MAX_GW);
		p->lacks_said = true;
		return false;
	}
	p->ask.n_gw = names.n;
	memcpy(p->ask.gw, names.hash, names.n * sizeof(names.hash[0]));
	return true;
}

/*
 * Repair rounds begin at the same instants on every router: multiples of
 * the period of CLOCK_TAI, so every digest of a round has one cut (2 s
 * before it) and a maker answers them all from one walk. Each router
 * asks a little after (up to a tenth of the period, at most 1 s, by its
 * router id), so the walks do not all start at once.
 */
static uint64_t round_cut(const struct sync *s, uint64_t tai)
{
	uint64_t period = s->repair_ms * 1000000ULL;

	return tai / period * period - REPAIR_SETTLE_NS;
}

static uint64_t next_round(const struct sync *s, uint64_t tai)
{
	uint64_t period = s->repair_ms * 1000000ULL;
	uint64_t spread = period / 10 < 1000000000ULL ? period / 10 : 1000000000ULL;

	return (tai / period + 1) * period +
	       (uint64_t)s->self.router * 2654435761ULL % (spread ? spread : 1);
}

static void answer(struct sync *s, struct peer *p);

/*
 * A walk begins when one is due: each round our digests of the peers'
 * pins (of each peer that is up: its bulk sync is in), and whenever a
 * peer's digest of ours waits that our sums of its cut cannot answer.
 * Those they can are answered now. False when no walk is due.
 */
static bool digest_start(struct sync *s)
{
	uint64_t tai = now_ns(CLOCK_TAI), sums_cut = 0;
	bool ask = s->repair_ms && tai >= s->next_ask_tai, any = false;

	/*
	 * Not past its size (the LRU evicts; repairs would only trade one pin
	 * for another). Nor with a peer whose bulk sync to us is not in (our
	 * table would differ from its everywhere: the bulk sync fills it):
	 * below, and asked only when up.
	 */
	if (s->size_warned) {
		for (int i = 0; i < s->n; i++)
			s->peer[i].answer_due = false;
		if (ask)
			s->next_ask_tai = next_round(s, tai);
		return false;
	}
	if (ask) {
		s->next_ask_tai = next_round(s, tai);
		s->ask_cut = sums_cut = round_cut(s, tai);
	}
	for (int i = 0; i < s->n; i++) {
		struct peer *p = &s->peer[i];

		p->answer_due &= p->bulk_done;
		if (!p->answer_due)
			continue;
		if (repair_sums_digest(&s->sums, &p->theirs_due, &p->ours)) {
			p->answer_due = false;
			p->theirs = p->theirs_due;
			answer(s, p);
		} else if (!sums_cut &&
			   !(s->sums.cut == p->theirs_due.cut && s->sums.overflow)) {
			sums_cut = p->theirs_due.cut; /* summed in this walk */
		}
	}
	for (int i = 0; i < s->n; i++) {
		struct peer *p = &s->peer[i];

		p->ask_in_walk = ask && p->st.state == FP_PEER_UP &&
				 ask_names(s, p);
		p->answer_by_sums = p->answer_in_walk = false;
		if (p->answer_due) {
			p->answer_due = false;
			p->theirs = p->theirs_due;
			if (sums_cut && p->theirs.cut == sums_cut) {
				p->answer_by_sums = true;
			} else { /* another cut, or too many gateways: its own sum */
				p->answer_in_walk = true;
				repair_filter_of(&p->answer_f, &p->theirs, 0);
				memset(&p->ours, 0, sizeof(p->ours));
			}
		}
		any |= p->ask_in_walk || p->answer_in_walk || p->answer_by_sums;
	}
	if (!any)
		return false;
	s->sums_in_walk = sums_cut;
	if (sums_cut)
		repair_sums_reset(&s->sums, sums_cut);
	s->dw_on = s->dw_first = true;
	s->dw_walked = false;
	return true;
}

/* One pin of the walk, into the digests it counts in. */
static void digest_pin(struct sync *s, const struct flow_key *k,
		       const struct flow_pin *v)
{
	struct sync_pin pin;

	if (!wire_of(s, k, v, &pin))
		return; /* neither sent nor kept as the peers' */
	for (int i = 0; i < s->n; i++) {
		struct peer *p = &s->peer[i];

		if (p->ask_in_walk && v->router && v->router == p->st.router &&
		    FP_RANK_TIME(pin.rank) < p->ask.cut &&
		    !repair_gw_named(p->ask.gw, p->ask.n_gw, &pin))
			repair_digest_add(&p->ask, &pin);
		if (p->answer_in_walk && !v->router &&
		    repair_counts(&p->answer_f, &pin))
			repair_digest_add(&p->ours, &pin);
	}
	if (s->sums_in_walk && !v->router)
		repair_sums_add(&s->sums, &pin);
}

static void send_words(struct sync *s, struct peer *p, uint8_t type,
		       const struct sync_digest *d, uint64_t cut, uint64_t ranges)
{
	uint8_t buf[SYNC_MAX_DGRAM];

	if (type == SYNC_DIGEST) {
		start_msg(s, p, buf, type, 0, SYNC_DIGEST_WORDS + d->n_gw, 0);
		sync_put_digest(buf, d);
	} else {
		start_msg(s, p, buf, type, 0, SYNC_DIFF_WORDS, 0);
		sync_put_diff(buf, cut, ranges);
	}
	send_dgram(s, p, buf, sync_seal(buf, s->key, &p->to));
}

/*
 * Our pins (p->ours) against its digest of them (p->theirs): where ranges
 * differ the peer is told which, and a walk sends it our pins of those
 * ranges.
 */
static void answer(struct sync *s, struct peer *p)
{
	uint64_t d;

	if (!in_touch(p))
		return;
	d = repair_diff(&p->ours, &p->theirs);
	p->st.digests_answered++;
	if (d) {
		send_words(s, p, SYNC_DIFF, NULL, p->theirs.cut, d);
		p->st.ranges_repaired += __builtin_popcountll(d);
		repair_filter_of(&p->rep_due[0], &p->theirs, d);
	}
}

/*
 * The walk is over: our digests of the peers' pins go to them (naming the
 * gateways neither side counts), and theirs of ours are answered.
 */
static void digest_done(struct sync *s)
{
	s->dw_on = false;
	s->sums.valid = s->sums_in_walk;
	for (int i = 0; i < s->n; i++) {
		struct peer *p = &s->peer[i];

		if (p->ask_in_walk && p->st.state == FP_PEER_UP) {
			send_words(s, p, SYNC_DIGEST, &p->ask, 0, 0);
			p->asked_cut = p->ask.cut;
			p->st.digests_sent++;
		}
		if (p->answer_in_walk)
			answer(s, p);
		if (p->answer_by_sums) {
			if (repair_sums_digest(&s->sums, &p->theirs, &p->ours)) {
				answer(s, p);
			} else {
				/* too many gateways to sum by: a walk of its own, next */
				if (!p->answer_due)
					p->theirs_due = p->theirs;
				p->answer_due = true;
			}
		}
		p->ask_in_walk = p->answer_in_walk = p->answer_by_sums = false;
	}
}

/* The walk's part of this tick: at most DIGEST_READS batches. */
static void digest_walk(struct sync *s)
{
	if (!s->dw_on && !digest_start(s))
		return;
	for (int r = 0; r < DIGEST_READS && !s->dw_walked; r++) {
		__u32 count;

		if (pins_batch(s, &s->dw_first, &s->dw_token, s->dwk, s->dwv,
			       &count, &s->dw_walked, "a digest"))
			return; /* tried again at the next tick */
		for (__u32 i = 0; i < count; i++)
			digest_pin(s, &s->dwk[i], &s->dwv[i]);
	}
	if (s->dw_walked)
		digest_done(s);
}

/* --- receiving ---------------------------------------------------------- */

/* Walk flow_pins for this peer, from the start. */
static void bulk_start(struct peer *p, bool mine)
{
	p->bulk_out = true;
	p->walk_repair = false;
	p->bulk_mine = mine;
	p->bulk_first = true;
	p->bulk_walked = false;
	p->b_len = p->b_pos = 0;
	p->bulk_sent = 0;
}

/* A walk of flow_pins for a repair to this peer: what waits for one. */
static void repair_start(struct peer *p)
{
	bulk_start(p, false);
	p->walk_repair = true;
	for (int i = 0; i < 2; i++) {
		p->rep[i] = p->rep_due[i];
		p->rep_due[i].on = false;
	}
}

/* Nothing meant for a peer's last run goes (it asks for our pins anew). */
static void peer_reset_out(struct peer *p)
{
	p->q_len = 0;
	p->q_head = 0;
	for (uint32_t i = 0; i < WINDOW; i++)
		p->fl[i].seq = 0;
	p->n_fl = p->n_fl_bulk = p->n_fl_repair = 0;
	p->n_acks = 0;
	p->bulk_out = false;
	p->bulk_req_due = false;
	p->walk_due = false;
	p->walk_repair = false;
	p->rep_due[0].on = p->rep_due[1].on = false;
	p->answer_due = p->answer_in_walk = p->answer_by_sums = false;
	p->n_lacked = 0; /* its new run says again what it lacks */
	p->asked_cut = 0;
}

/*
 * A valid message from a peer we had not heard from: ask it for its pins.
 * One that restarted gets nothing of what was meant for its last run (it
 * asks for our pins). One back from silence, the same run, is asked for
 * nothing and gets what it has not acked: the window, as its resend
 * timers fall due, then the queue, which kept our new pins for it (and a walk if the
 * queue overflowed). Its side does the same for us.
 */
static void peer_met(struct sync *s, struct peer *p, bool restarted)
{
	if (p->st.state == FP_PEER_DOWN && !restarted) {
		pr_info("sync: peer %s is back: sending what it has not acked (%u messages, %u pins queued)\n",
			p->name, p->n_fl, p->q_len);
		/* its window goes again on its resend timers (no copy went meanwhile) */
		p->st.state = p->bulk_done ? FP_PEER_UP : FP_PEER_BULK;
		write_status(s);
		return;
	}
	pr_info("sync: peer %s is %s: asking for its pins\n", p->name,
		restarted ? "back (restarted)" : "up");
	if (restarted) {
		peer_reset_out(p);
		p->lost_own = false; /* its new run says so again */
	}
	p->st.state = FP_PEER_BULK;
	p->st.bulk_pins = 0;
	send_bulk_req(s, p);
	write_status(s); /* states are shown as they change, counters each second */
}

/* A round trip measured: the smoothed one, its variation, the timeout. */
static void rtt_sample(struct peer *p, uint64_t rtt_ns)
{
	uint32_t r = rtt_ns / 1000 > UINT32_MAX / 2 ? UINT32_MAX / 2 :
		     rtt_ns / 1000 ? rtt_ns / 1000 : 1; /* 0: none measured */
	uint32_t rto;

	if (!p->srtt_us) {
		p->srtt_us = r;
		p->rttvar_us = r / 2;
	} else {
		uint32_t d = r > p->srtt_us ? r - p->srtt_us : p->srtt_us - r;

		p->rttvar_us = (3 * (uint64_t)p->rttvar_us + d) / 4;
		p->srtt_us = (7 * (uint64_t)p->srtt_us + r) / 8;
	}
	rto = (p->srtt_us + 4 * (uint64_t)p->rttvar_us) / 1000;
	p->rto_ms = rto < RTO_MIN_MS ? RTO_MIN_MS : rto > RTO_MAX_MS ? RTO_MAX_MS : rto;
}

static void on_ack(struct peer *p, uint64_t seq, uint64_t now)
{
	for (uint32_t i = 0; i < WINDOW; i++) {
		struct inflight *f = &p->fl[i];
		uint32_t k, n = f->n_copies < COPIES ? f->n_copies : COPIES;

		if (!f->seq)
			continue;
		for (k = 0; k < n && f->copy[k] != seq; k++)
			;
		if (k == n)
			continue;
		rtt_sample(p, now - f->copy_ns[k]);
		f->seq = 0;
		p->n_fl--;
		p->n_fl_bulk -= f->kind == FL_BULK;
		p->n_fl_repair -= f->kind == FL_REPAIR;
		return;
	}
}

static void on_message(struct sync *s, struct peer *p, const uint8_t *buf,
		       const struct sync_hdr *h)
{
	struct sync_pin pin;

	switch (h->type) {
	case SYNC_ACK:
		if (sync_get_ack(buf, 0) != s->epoch)
			break; /* acks of our earlier run (replayed) */
		for (unsigned int i = 1; i < h->count; i++)
			on_ack(p, sync_get_ack(buf, i), now_ns(CLOCK_MONOTONIC));
		break;
	case SYNC_BULK_REQ:
		ack_later(s, p, h->seq);
		/*
		 * A request sent again (our ack was lost) joins the walk; one
		 * for its own pins too restarts a walk without them (one we
		 * started unasked).
		 */
		if (h->flags & SYNC_F_MINE)
			p->lost_own = true;
		if (!p->bulk_out || p->walk_repair ||
		    (h->flags & SYNC_F_MINE && !p->bulk_mine)) {
			pr_debug("sync: %s asks for our pins%s\n", p->name,
				 h->flags & SYNC_F_MINE ? " and its own" : "");
			bulk_start(p, h->flags & SYNC_F_MINE);
		}
		break;
	case SYNC_PINS:
		ack_later(s, p, h->seq);
		for (unsigned int i = 0; i < h->count; i++) {
			sync_get_pin(buf, i, &pin);
			apply_pin(s, p, &pin,
				  h->flags & (SYNC_F_BULK | SYNC_F_REPAIR));
			/* a pin a peer sends is a flow it has: used (pin_touch) */
			pin_touch_add(s->touch, &pin.key);
		}
		p->st.pins_received += h->count;
		if (h->flags & SYNC_F_BULK)
			p->st.bulk_pins += h->count;
		if (h->flags & SYNC_F_END) {
			if (!p->bulk_done || p->st.state == FP_PEER_BULK)
				pr_info("sync: bulk sync from %s done: %llu pins\n",
					p->name, (unsigned long long)p->st.bulk_pins);
			p->bulk_done = true;
			if (p->st.state == FP_PEER_BULK)
				p->st.state = FP_PEER_UP;
			write_status(s);
		}
		break;
	case SYNC_DIGEST:
		/*
		 * Its digest of our pins: compared at the next walk (a newer one
		 * takes its place). Not while a bulk sync to it, which holds
		 * them all, is under way, nor while a repair of our pins to it
		 * is (rep[0]: the walk, or its pins unacked): the digest may
		 * have been summed before they arrived, and their ranges would
		 * go again. The next round's will do. A repair that only sends
		 * back its own pins does not hold it. The gateways it lacks are
		 * kept for the refresh either way.
		 */
		sync_get_digest(buf, h, &p->theirs_due);
		p->n_lacked = p->theirs_due.n_gw;
		memcpy(p->lacked, p->theirs_due.gw, p->n_lacked * sizeof(p->lacked[0]));
		p->lacked_ns = now_ns(CLOCK_MONOTONIC);
		p->answer_due = !(p->bulk_out && !p->walk_repair) &&
				!(p->rep[0].on && (p->walk_repair || p->n_fl_repair));
		if (!p->answer_due)
			pr_debug("sync: %s's digest waits for the next round (a walk or repair to it is out)\n",
				 p->name);
		break;
	case SYNC_DIFF: {
		/* ours of its pins differ in these ranges: it gets them back */
		uint64_t cut, ranges;

		sync_get_diff(buf, &cut, &ranges);
		if (!p->asked_cut || cut != p->asked_cut || p->ask.cut != cut)
			break; /* no answer to our last digest */
		p->asked_cut = 0; /* one walk a digest */
		/* the pins that digest counted: not those of the gateways it named */
		repair_filter_of(&p->rep_due[1], &p->ask, ranges);
		break;
	}
	default: /* SYNC_HELLO: here, with the pins it made */
		p->st.pins_made = h->aux;
		break;
	}
}

static struct peer *peer_of(struct sync *s, const struct sockaddr_storage *from)
{
	for (int i = 0; i < s->n; i++)
		if (addr_eq(&s->peer[i].addr, from))
			return &s->peer[i];
	return NULL;
}

static void receive(struct sync *s)
{
	uint8_t buf[SYNC_MAX_DGRAM + 1];

	for (int i = 0; i < RX_BURST; i++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		struct sync_hdr h;
		struct peer *p;
		uint64_t epoch;
		ssize_t n;
		bool next;
		int drop;

		n = recvfrom(s->sock, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&from, &flen);
		if (n < 0)
			break;
		p = peer_of(s, &from);
		if (!p) {
			s->self.drops[FP_DROP_UNKNOWN]++;
			continue;
		}
		drop = sync_unseal(buf, (size_t)n, s->key, &p->from, &h);
		next = false;
		/* a fleet moving to a new key: a peer may sign with it already */
		if (drop == FP_DROP_AUTH && s->has_key_next &&
		    sync_unseal(buf, (size_t)n, s->key_next, &p->from, &h) < 0) {
			drop = -1;
			next = true;
		}
		if (drop < 0 && !sync_clock_ok(h.time_ns, now_ns(CLOCK_REALTIME)))
			drop = FP_DROP_CLOCK;
		epoch = p->replay.epoch;
		if (drop < 0 && !sync_replay_check(&p->replay, h.epoch, h.seq))
			drop = FP_DROP_REPLAY;
		/*
		 * A bulk request sent before this run started was meant for
		 * the last (its replay would start a whole walk): refused.
		 */
		if (drop < 0 && h.type == SYNC_BULK_REQ &&
		    h.time_ns + BULK_REQ_SKEW_NS < s->started_ns)
			drop = FP_DROP_REPLAY;
		if (drop >= 0) {
			p->st.drops[drop]++;
			continue;
		}
		if (next != p->signs_next)
			pr_info("sync: peer %s signs with the key of --sync-key%s\n",
				p->name, next ? "-next" : "");
		p->signs_next = next;
		if (h.router != p->st.router && h.router == s->self.router)
			pr_warn("sync: peer %s has this router's id %u: the rule needs one id a router (--router-id)\n",
				p->name, h.router);
		p->st.router = h.router;
		p->st.msgs_received++;
		p->st.epoch = h.epoch;
		p->st.last_rx_s = time(NULL);
		p->last_rx_ns = now_ns(CLOCK_MONOTONIC);
		if (p->st.state == FP_PEER_WAITING || p->st.state == FP_PEER_DOWN ||
		    (epoch && h.epoch != epoch))
			peer_met(s, p, epoch && h.epoch != epoch);
		on_message(s, p, buf, &h);
	}
	pin_touch_flush(s->touch);
	for (int i = 0; i < s->n; i++)
		flush_acks(s, &s->peer[i]);
}

/* --- timers ------------------------------------------------------------- */

/* What a peer's convergence looks like now: its queue, window, lag, round trip. */
static void convergence(struct peer *p, uint64_t now)
{
	uint64_t oldest = now;

	for (uint32_t i = 0; i < WINDOW && p->n_fl; i++)
		if (p->fl[i].seq && p->fl[i].first_ns < oldest)
			oldest = p->fl[i].first_ns;
	p->st.queued = p->q_len;
	p->st.inflight = p->n_fl;
	p->st.lag_ms = (now - oldest) / 1000000;
	p->st.rtt_us = p->srtt_us;
}

static void write_status(struct sync *s)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	__u32 key = 0;

	bpf_map_update_elem(s->env.peers_fd, &key, &s->self, BPF_ANY);
	for (int i = 0; i < s->n; i++) {
		convergence(&s->peer[i], now);
		key = i + 1;
		bpf_map_update_elem(s->env.peers_fd, &key, &s->peer[i].st, BPF_ANY);
	}
}

/* --- sizing --------------------------------------------------------------- */

/*
 * Every router holds every pin of the fleet: its own and its peers'. When
 * they are more than flow_pins holds, the LRU evicts, and peers' pins,
 * never looked up here until their flows move, go first. Said once when
 * the fleet's pins pass --max-flows, and again after they fell below 90%.
 */
static void check_size(struct sync *s)
{
	__u64 fleet = s->self.pins_made, peers = 0;

	if (!s->env.max_flows)
		return;
	for (int i = 0; i < s->n; i++)
		if (in_touch(&s->peer[i]))
			peers += s->peer[i].st.pins_made;
	fleet += peers;
	if (!s->size_warned && fleet > s->env.max_flows) {
		pr_warn("sync: the fleet holds about %llu pins (%llu made here, %llu by peers), more than --max-flows %u: pins are evicted, peers' first; give every router --max-flows of the fleet's pins and more (README, \"A fleet\")\n",
			(unsigned long long)fleet, (unsigned long long)s->self.pins_made,
			(unsigned long long)peers, s->env.max_flows);
		s->size_warned = true;
	} else if (s->size_warned && fleet < s->env.max_flows / 10 * 9) {
		s->size_warned = false;
	}
}

static void tick(struct sync *s)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	bool hello = false;

	for (int i = 0; i < s->n; i++) {
		struct peer *p = &s->peer[i];

		if (in_touch(p) && now - p->last_rx_ns > DOWN_MS * 1000000ULL) {
			pr_warn("sync: peer %s is silent: down (its pins wait for it to come back)\n",
				p->name);
			p->st.state = FP_PEER_DOWN;
			hello = true; /* the status is written below */
		}
		if (now - p->last_hello_ns >= HELLO_MS * 1000000ULL) {
			p->last_hello_ns = now;
			send_plain(s, p, SYNC_HELLO);
			hello = true;
		}
		if (!in_touch(p))
			continue;
		for (uint32_t j = 0; j < WINDOW; j++) {
			struct inflight *f = &p->fl[j];

			if (!f->seq || now - f->resend_ns < f->rto_ms * 1000000ULL)
				continue;
			if (!pace_take(p))
				break; /* the rest at the next tick */
			/* a new seq: the first copy may yet arrive, and count once */
			f->seq = ++p->seq;
			f->copy[f->n_copies % COPIES] = f->seq;
			f->copy_ns[f->n_copies++ % COPIES] = now;
			sync_restamp(f->buf, f->seq, now_ns(CLOCK_REALTIME));
			f->len = sync_seal(f->buf, s->key, &p->to);
			f->resend_ns = now;
			f->rto_ms = f->rto_ms * 2 > RTO_MAX_MS ? RTO_MAX_MS : f->rto_ms * 2;
			p->st.resends++;
			send_dgram(s, p, f->buf, f->len);
		}
		flush_pins(s, p);
	}
	if (s->cache)
		refresh_slice(s);
	if (s->dwk)
		digest_walk(s);
	if (hello)
		write_status(s);
}

void sync_set_own_pins(struct sync *s, __u64 n)
{
	if (!s)
		return;
	s->self.pins_made = n;
	check_size(s);
}

void sync_work(struct sync *s)
{
	struct epoll_event ev[4];
	int n = epoll_wait(s->epfd, ev, 4, 0);

	/* the repair walks to every peer share DIGEST_READS batches a wake-up */
	s->repair_reads = DIGEST_READS;
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 == 0) {
			receive(s);
		} else if (ev[i].data.u32 == 1) {
			ring_buffer__consume(s->rb);
		} else {
			__u64 x;

			if (read(s->timerfd, &x, sizeof(x)) == sizeof(x)) {
				/* records wake nobody: read them now */
				ring_buffer__consume(s->rb);
				tick(s);
			}
		}
	}
	for (int i = 0; i < s->n; i++)
		flush_pins(s, &s->peer[i]);
}

int sync_fd(const struct sync *s)
{
	return s->epfd;
}

bool sync_bulk_done(const struct sync *s)
{
	for (int i = 0; i < s->n; i++)
		if (!s->peer[i].bulk_done)
			return false;
	return true;
}

void sync_pending_peers(const struct sync *s, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->n && used < len; i++)
		if (!s->peer[i].bulk_done)
			used += snprintf(buf + used, len - used, "%s%s",
					 used ? ", " : "", s->peer[i].name);
}

/* --- start and stop ----------------------------------------------------- */

static int epoll_add(int epfd, int fd, __u32 tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int sync_open(struct sync **out, const struct sync_config *c)
{
	char err[256], a[INET6_ADDRSTRLEN + 8];
	struct sync *s = calloc(1, sizeof(*s));
	int ret, one = 1, rcvbuf = RCVBUF;

	if (!s)
		return -ENOMEM;
	s->sock = s->epfd = s->timerfd = -1;
	s->env.peers_fd = -1;
	ret = sync_key_load(c->key_file, s->key, err, sizeof(err));
	if (!ret && c->key_next_file) {
		ret = sync_key_load(c->key_next_file, s->key_next, err, sizeof(err));
		s->has_key_next = !ret;
	}
	if (ret) {
		pr_warn("%s\n", err);
		goto fail;
	}
	s->epoch = s->started_ns = now_ns(CLOCK_REALTIME);
	s->self.epoch = s->epoch;
	s->self.router = sync_router_id(c);
	s->ncpus = libbpf_num_possible_cpus();
	s->refresh_ms = c->refresh_s * 1000ULL;
	s->repair_ms = c->repair_s * 1000ULL;
	status_addr(&s->self, &c->listen);
	s->self.state = FP_PEER_SELF;
	s->n = c->n_peers;
	for (int i = 0; i < s->n; i++) {
		struct peer *p = &s->peer[i];

		p->addr = c->peer[i];
		addr_str(&p->addr, p->name, sizeof(p->name));
		status_addr(&p->st, &p->addr);
		sync_ends_make(&p->to, s->self.family, s->self.addr, s->self.port,
			       p->st.addr, p->st.port);
		sync_ends_make(&p->from, s->self.family, p->st.addr, p->st.port,
			       s->self.addr, s->self.port);
		p->st.state = FP_PEER_WAITING;
		p->rto_ms = RTO_FIRST_MS;
		p->fl = calloc(WINDOW, sizeof(*p->fl));
		p->bk = calloc(BULK_BATCH, sizeof(*p->bk));
		p->bv = calloc(BULK_BATCH, sizeof(*p->bv));
		if (!p->fl || !p->bk || !p->bv) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	s->sock = socket(c->listen.sa.ss_family,
			 SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->sock < 0 ||
	    (c->listen.sa.ss_family == AF_INET6 &&
	     setsockopt(s->sock, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(s->sock, (const struct sockaddr *)&c->listen.sa, c->listen.len)) {
		ret = -errno;
		pr_warn("cannot listen for pin sync on %s: %s\n",
			addr_str(&c->listen, a, sizeof(a)), strerror(errno));
		goto fail;
	}
	/* a window of datagrams from each peer, and a burst of acks */
	if (setsockopt(s->sock, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(s->sock, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	snprintf(s->listen_name, sizeof(s->listen_name), "%s",
		 addr_str(&c->listen, a, sizeof(a)));
	*out = s;
	return 0;
fail:
	sync_stop(s);
	return ret;
}

/*
 * The epoch is the start time, unless the last run's (in sync_peers, kept
 * pinned across restarts) is not behind it: a clock stepped back must not
 * make this run look older than the last, whose messages its peers would
 * take for replays of. Then it is the last run's plus one.
 */
static void keep_epoch_ahead(struct sync *s)
{
	struct sync_peer_status last = { 0 };
	__u32 key = 0;

	if (bpf_map_lookup_elem(s->env.peers_fd, &key, &last) ||
	    last.epoch < s->epoch)
		return;
	pr_warn("sync: the clock is behind the last run's start: this run's epoch follows it (%llu)\n",
		(unsigned long long)last.epoch + 1);
	s->epoch = last.epoch + 1;
	s->self.epoch = s->epoch;
}

/*
 * flow_cache, read-only, for the refresh: every CPU's sets. Without it,
 * one line, and sync goes on without the refresh.
 */
static void refresh_map(struct sync *s)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	void *m;

	if (bpf_obj_get_info_by_fd(s->env.cache_fd, &info, &len))
		goto fail;
	if (info.value_size != sizeof(struct flow_cache_set) || !info.max_entries) {
		errno = EINVAL;
		goto fail;
	}
	s->cache_len = (size_t)info.max_entries * info.value_size;
	m = mmap(NULL, s->cache_len, PROT_READ, MAP_SHARED, s->env.cache_fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	s->cache = m;
	s->cache_n_sets = info.max_entries;
	s->pass_ns = now_ns(CLOCK_MONOTONIC_COARSE);
	return;
fail:
	pr_warn("sync: cannot map flow_cache: %s; the pins of live flows are not refreshed\n",
		strerror(errno));
}

int sync_start(struct sync *s, const struct sync_env *env)
{
	struct itimerspec t = { { 0, TICK_MS * 1000000L }, { 0, TICK_MS * 1000000L } };

	s->env = *env;
	if (env->pins_per_s) {
		s->turnover_len = sysconf(_SC_PAGESIZE);
		s->turnover = mmap(NULL, s->turnover_len, PROT_READ | PROT_WRITE,
				   MAP_SHARED, env->turnover_fd, 0);
		if (s->turnover == MAP_FAILED) {
			int err = -errno;

			s->turnover = NULL;
			pr_warn("cannot map pin_turnover for pin sync: %s\n",
				strerror(-err));
			return err;
		}
	}
	s->nh_ids = calloc(env->nht->size, sizeof(*s->nh_ids));
	s->rb = ring_buffer__new(env->pin_events_fd, on_event, s, NULL);
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!s->nh_ids || !s->rb || s->timerfd < 0 || s->epfd < 0 ||
	    timerfd_settime(s->timerfd, 0, &t, NULL) ||
	    epoll_add(s->epfd, s->sock, 0) ||
	    epoll_add(s->epfd, ring_buffer__epoll_fd(s->rb), 1) ||
	    epoll_add(s->epfd, s->timerfd, 2)) {
		int err = errno ? -errno : -ENOMEM;

		pr_warn("cannot set up pin sync: %s\n", strerror(-err));
		return err;
	}
	/* without it, peers' pins go first when flow_pins is full: said once */
	pin_touch_open(&s->touch, env->flow_pins_fd);
	if (s->refresh_ms)
		refresh_map(s);
	/* peers' digests are answered whether this router asks or not */
	s->dwk = calloc(BULK_BATCH, sizeof(*s->dwk));
	s->dwv = calloc(BULK_BATCH, sizeof(*s->dwv));
	if (!s->dwk || !s->dwv) {
		pr_warn("cannot set up pin sync: %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (s->repair_ms)
		s->next_ask_tai = next_round(s, now_ns(CLOCK_TAI));
	keep_epoch_ahead(s);
	write_status(s);
	for (int i = 0; i < s->n; i++) {
		s->peer[i].last_hello_ns = now_ns(CLOCK_MONOTONIC);
		send_plain(s, &s->peer[i], SYNC_HELLO);
	}
	pr_info("sync: listening on %s, %d peer(s)\n", s->listen_name, s->n);
	return 0;
}

void sync_stop(struct sync *s)
{
	__u32 key;

	if (!s)
		return;
	/*
	 * What flowpinctl shows once the daemon is gone: nothing stale, but
	 * this run's epoch, which the next run's must pass (entry 0).
	 */
	if (s->env.peers_fd >= 0)
		for (key = 0; key < FP_MAX_PEERS; key++)
			bpf_map_update_elem(s->env.peers_fd, &key,
					    &(struct sync_peer_status){
						    .epoch = key ? 0 : s->epoch },
					    BPF_ANY);
	ring_buffer__free(s->rb);
	if (s->turnover)
		munmap(s->turnover, s->turnover_len);
	if (s->cache)
		munmap((void *)s->cache, s->cache_len);
	pin_touch_close(s->touch);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->timerfd >= 0)
		close(s->timerfd);
	if (s->sock >= 0)
		close(s->sock);
	for (int i = 0; i < FP_MAX_PEERS - 1; i++) {
		free(s->peer[i].queue);
		free(s->peer[i].fl);
		free(s->peer[i].bk);
		free(s->peer[i].bv);
	}
	free(s->nh_ids);
	free(s->dwk);
	free(s->dwv);
	sodium_memzero(s->key, sizeof(s->key));
	sodium_memzero(s->key_next, sizeof(s->key_next));
	free(s);
}
