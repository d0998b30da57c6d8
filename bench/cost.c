// SPDX-License-Identifier: GPL-2.0
/*
 * Section 1: ns per packet with BPF_PROG_TEST_RUN, on one CPU. The driver
 * (driver.bpf.c) sets up each iteration's frame and tail-calls P0, flowpin
 * or the reference forwarder, so all of them see the same frames. Variants
 * run interleaved, round after round; the figures are medians over rounds,
 * each round's figure the kernel's own average over `repeat` iterations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "flow_cache.h"
#include "fixture.h"
#include "netns.h"
#include "stats_text.h"
#include "bench_driver.skel.h"
#include "bench_p0.skel.h"
#include "bench_xdp_ref.skel.h"

enum variant {
	V_P0, V_REF, V_HIT, V_SHARED, V_SHARED_COLD, V_MISS, V_MISS_SYNC, V_MAX
};

static const char *const variant_names[V_MAX] = {
	[V_P0] = "P0 parse only (harness floor)",
	[V_REF] = "reference: FIB every packet",
	[V_HIT] = "flowpin per-CPU cache hit",
	[V_SHARED] = "flowpin shared-table hit",
	[V_SHARED_COLD] = "flowpin shared-table hit, cache just cleared",
	[V_MISS] = "flowpin miss (new flow: FIB + pin)",
	[V_MISS_SYNC] = "flowpin miss, pins synced (+ pin_events)",
};

struct cost {
	struct bench *b;
	struct flowpin *fp;
	struct flowpin *fp_sync; /* the same maps, sync_pins on */
	struct flowpin *fp_shared; /* the same maps, but a tiny flow_cache */
	struct ring_buffer *rb;	 /* its pin_events, drained as flowpind would */
	pthread_t drainer;
	bool draining;
	atomic_bool stop;
	atomic_ullong events;
	__u64 events_made, events_lost;
	struct bench_driver *drv;
	struct bench_p0 *p0;
	struct bench_xdp_ref *ref;
	struct nexthop_table nht;
	bool nht_open;
	__u8 frame[PKT_MAX];
	size_t frame_len;
	__u64 next_new; /* first flow number never sent */
};

/*
 * The CPUs flow_cache has sets for: the bench's and those below it, so that
 * the cache's size does not grow with the machine's CPUs (a million flows'
 * copies are 272 MB a CPU). On a CPU past them flowpin finds no set and
 * caches nothing; only BENCH_CPU runs it here.
 */
#define CACHE_CPUS (BENCH_CPU + 1)

/* Sets for copies copies a CPU, on CACHE_CPUS CPUs. */
static void cache_size(struct flowpin *fp, __u32 copies)
{
	__u32 sets = flow_cache_sets(copies);

	fp->rodata->cache_sets = sets;
	bpf_map__set_max_entries(fp->maps.flow_cache, sets * CACHE_CPUS);
	bpf_map__set_max_entries(fp->maps.flow_cache_tags, sets * CACHE_CPUS);
}

static int load_flowpin(struct cost *c, __u32 pins, __u32 cached)
{
	int err, id;

	c->fp = flowpin__open();
	if (!c->fp)
		return -errno;
	/* an hour: a hit is a hit, not the once-a-second check with flow_pins */
	c->fp->rodata->cache_check_ns = 3600ULL * 1000000000ULL;
	/*
	 * The pin rate limit stays in the path but never bites (one token a
	 * nanosecond): a miss here is a real new pin, not an unpinned
	 * forward. With the default limit, new flows past it cost about what
	 * the reference forwarder does (FIB lookup, no pin insert).
	 */
	c->fp->rodata->pin_rate = 1000000000ULL;
	c->fp->rodata->pin_burst = 1000000000ULL;
	bpf_map__set_max_entries(c->fp->maps.flow_pins, pins);
	cache_size(c->fp, cached);
	bpf_map__set_max_entries(c->fp->maps.nexthops, 64);
	err = flowpin__load(c->fp);
	if (err)
		return err;
	err = nexthop_table_open(&c->nht, bpf_map__fd(c->fp->maps.nexthops),
				 bpf_map__fd(c->fp->maps.nexthop_index));
	if (err)
		return err;
	c->nht_open = true;
	{
		/* frames come in on in0, addressed to its MAC (the driver's) */
		struct port_mac pm = { .mac = { 0x02, 0, 0, 0, 0, 0x01 } };
		__u32 key = rt.ifindex_in0;

		if (bpf_map_update_elem(bpf_map__fd(c->fp->maps.port_macs), &key,
					&pm, BPF_ANY))
			return -errno;
	}
	for (int i = 1; i <= N_OUT; i++) {
		struct bpf_devmap_val v = { .ifindex = rt.ifindex_out[i] };
		struct nexthop_addr a;
		__u32 key = rt.ifindex_out[i];
		__be32 gw = htonl(0x0a000002 | i << 8); /* 10.0.i.2 */

		if (bpf_map_update_elem(bpf_map__fd(c->fp->maps.tx_ports), &key,
					&v, BPF_ANY))
			return -errno;
		nexthop_addr_from(&a, rt.ifindex_out[i], FP_AF_INET, &gw);
		id = nexthop_table_set(&c->nht, &a, rt.out_mac[i], rt.gw_mac[i],
				       0, NH_ACTIVE);
		if (id < 0)
			return id;
	}
	return 0;
}

static int count_event(void *ctx, void *data, size_t len)
{
	struct cost *c = ctx;

	(void)data;
	(void)len;
	atomic_fetch_add(&c->events, 1);
	return 0;
}

/* flowpind's side of the ring, on another CPU: read as flowpind does. */
static void *drain(void *arg)
{
	struct cost *c = arg;

	while (!atomic_load(&c->stop)) {
		ring_buffer__poll(c->rb, FP_PIN_EVENTS_READ_MS);
		ring_buffer__consume(c->rb);
	}
	ring_buffer__consume(c->rb);
	return NULL;
}

/*
 * Sets a CPU has in the copy that measures shared-table hits: each of 32
 * sets meets 128 flows of a set of 4,096 in turn, so no flow is still cached
 * when it comes round again, and every packet finds its pin in flow_pins and
 * fills a copy, as a flow's second packet does on a router.
 */
#define SHARED_SETS 32

/*
 * Another copy of flowpin on the first one's maps: with sync_pins set (a new
 * pin also goes to pin_events), or with a flow_cache of its own of
 * SHARED_SETS sets a CPU.
 */
static int load_copy(struct cost *c, struct flowpin **copy, bool sync)
{
	struct bpf_map *m, *mine;
	struct flowpin *fp;
	int err;

	fp = *copy = flowpin__open();
	if (!fp)
		return -errno;
	*fp->rodata = *c->fp->rodata;
	fp->rodata->sync_pins = sync;
	if (!sync)
		cache_size(fp, SHARED_SETS * FP_CACHE_WAYS);
	bpf_object__for_each_map(m, c->fp->obj) {
		if (bpf_map__is_internal(m) ||
		    (!sync && (m == c->fp->maps.flow_cache ||
			       m == c->fp->maps.flow_cache_tags)))
			continue;
		mine = bpf_object__find_map_by_name(fp->obj, bpf_map__name(m));
		if (!mine)
			return -ENOENT;
		err = bpf_map__reuse_fd(mine, bpf_map__fd(m));
		if (err)
			return err;
	}
	return flowpin__load(fp);
}

/* flowpind's side of the sync copy's pin_events, read on another thread. */
static int start_drainer(struct cost *c)
{
	int err;

	c->rb = ring_buffer__new(bpf_map__fd(c->fp->maps.pin_events),
				 count_event, c, NULL);
	if (!c->rb)
		return -errno;
	err = pthread_create(&c->drainer, NULL, drain, c);
	if (err)
		return -err;
	c->draining = true;
	return 0;
}

static int load_all(struct cost *c, __u32 pins, __u32 cached)
{
	int fds[BT_MAX], err;

	err = load_flowpin(c, pins, cached) ?:
	      load_copy(c, &c->fp_sync, true) ?:
	      load_copy(c, &c->fp_shared, false) ?:
	      start_drainer(c);
	if (err)
		return err;
	c->p0 = bench_p0__open_and_load();
	c->ref = bench_xdp_ref__open_and_load();
	c->drv = bench_driver__open_and_load();
	if (!c->p0 || !c->ref || !c->drv)
		return -errno ? -errno : -EINVAL;
	err = tx_ports_fill(bpf_map__fd(c->ref->maps.tx_ports));
	if (err)
		return err;
	fds[BT_P0] = bpf_program__fd(c->p0->progs.p0);
	fds[BT_FLOWPIN] = bpf_program__fd(c->fp->progs.flowpin);
	fds[BT_REF] = bpf_program__fd(c->ref->progs.xdp_ref);
	fds[BT_FLOWPIN_SYNC] = bpf_program__fd(c->fp_sync->progs.flowpin);
	fds[BT_FLOWPIN_SHARED] = bpf_program__fd(c->fp_shared->progs.flowpin);
	for (__u32 i = 0; i <= BT_FLOWPIN_SHARED; i++) /* BT_MODEL: section 6's */
		if (bpf_map_update_elem(bpf_map__fd(c->drv->maps.targets), &i,
					&fds[i], BPF_ANY))
			return -errno;
	memcpy(c->drv->bss->dsts, c->b->dsts, sizeof(c->b->dsts));
	return 0;
}

static void unload_all(struct cost *c)
{
	if (c->draining) {
		atomic_store(&c->stop, true);
		pthread_join(c->drainer, NULL);
	}
	ring_buffer__free(c->rb);
	flowpin__destroy(c->fp_shared);
	flowpin__destroy(c->fp_sync);
	bench_driver__destroy(c->drv);
	bench_xdp_ref__destroy(c->ref);
	bench_p0__destroy(c->p0);
	if (c->nht_open)
		nexthop_table_close(&c->nht);
	flowpin__destroy(c->fp);
}

/*
 * As a running flowpind: a route epoch, and a heartbeat fresh enough
 * (FP_EPOCH_TRUST_NS) that pins checked at it are not asked of the FIB
 * again. Beaten before every run; a run is far shorter than the window.
 */
static int daemon_beat(struct cost *c)
{
	struct route_epoch e = { .epoch = 1 };
	struct timespec ts;
	__u32 key = 0;
	__u64 ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	if (bpf_map_update_elem(bpf_map__fd(c->fp->maps.route_epoch), &key, &e,
				BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(c->fp->maps.heartbeat), &key, &ns,
				BPF_ANY))
		return -errno;
	return 0;
}

static int run(struct cost *c, enum bench_target target, __u64 base,
	       __u32 mask, bool new_flows, __u32 repeat, struct run_result *r)
{
	int err = c->fp ? daemon_beat(c) : 0;

	return err ?: driver_run(c->drv, c->frame, c->frame_len, target, base,
				 mask, new_flows, repeat, r);
}

static void fp_stats(struct cost *c, __u64 *sum)
{
	for (__u32 i = 0; i < FP_STAT_MAX; i++)
		sum[i] = percpu_sum(bpf_map__fd(c->fp->maps.stats), i);
}

static __u64 ref_forwarded(struct cost *c)
{
	return percpu_sum(bpf_map__fd(c->ref->maps.ref_stats), REF_FORWARDED);
}

/* Empty every CPU's flow_cache: the next packet of each flow finds its
 * pin in flow_pins only. */
static bool forget_all(const struct flow_key *key, void *ctx)
{
	(void)key;
	(void)ctx;
	return true;
}

static int clear_cache(struct cost *c)
{
	__u64 n = 0;

	return flow_cache_forget(bpf_map__fd(c->fp->maps.flow_cache),
				 bpf_map__fd(c->fp->maps.flow_cache_tags), CACHE_CPUS,
				 NULL, forget_all, NULL, &n);
}

/*
 * Take the pins of new flows first .. first + n - 1 out of flow_pins, so
 * that every variant meets a table of the flows its row names, whatever
 * rounds of new flows ran before it (they would fill a table of 4,096
 * flows with 1.8M pins, and its hash chains with them). Each should be
 * there, as the run just made it: a missing one is a failed check (the
 * run's own check failed too), and the section goes on.
 */
static void forget_new_pins(struct cost *c, __u64 first, __u32 n)
{
	int fd = bpf_map__fd(c->fp->maps.flow_pins);
	struct flow_key k;
	__u32 gone = 0;

	for (__u32 i = 0; i < n; i++) {
		flow_key_of(c->b, first + i, &k);
		gone += !bpf_map_delete_elem(fd, &k);
	}
	check(c->b, gone == n, "new flows' pins taken out: %u of %u", gone, n);
}

struct samples {
	double v[V_MAX][64];
	double hit1[64], shared1[64]; /* 1 flow: single-iteration runs */
	int n;
};

/* One flow's shared-table hits: the cache entry is deleted before each
 * single-iteration run. A run of 1 carries the timer's own overhead, which
 * the same single-iteration runs of cache hits measure. */
static int shared_one_flow(struct cost *c, int samples, struct samples *s,
			   int round)
{
	double *sh = malloc(samples * sizeof(double));
	double *hit = malloc(samples * sizeof(double));
	struct run_result r;
	struct flow_key key;
	__u64 before[FP_STAT_MAX], after[FP_STAT_MAX];
	int fd = bpf_map__fd(c->fp->maps.flow_cache), err = 0, del_ok = 0;
	int tags = bpf_map__fd(c->fp->maps.flow_cache_tags);

	if (!sh || !hit)
		return -ENOMEM;
	flow_key_of(c->b, 0, &key);
	fp_stats(c, before);
	for (int i = 0; i < samples && !err; i++) {
		__u64 n = 0;

		del_ok += !flow_cache_forget(fd, tags, CACHE_CPUS, &key, NULL, NULL,
					     &n) &&
			  n == 1;
		err = run(c, BT_FLOWPIN, 0, 0, false, 1, &r);
		sh[i] = r.ns;
	}
	fp_stats(c, after);
	check(c->b, del_ok == samples && after[FP_STAT_PIN_HIT] - before[FP_STAT_PIN_HIT] == (__u64)samples,
	      "shared hit, 1 flow: %d deletes, pin_hit +%llu of %d", del_ok,
	      after[FP_STAT_PIN_HIT] - before[FP_STAT_PIN_HIT], samples);
	fp_stats(c, before);
	for (int i = 0; i < samples && !err; i++) {
		err = run(c, BT_FLOWPIN, 0, 0, false, 1, &r);
		hit[i] = r.ns;
	}
	fp_stats(c, after);
	check(c->b, after[FP_STAT_CACHE_HIT] - before[FP_STAT_CACHE_HIT] == (__u64)samples,
	      "cache hit x1, 1 flow: cache_hit +%llu of %d",
	      after[FP_STAT_CACHE_HIT] - before[FP_STAT_CACHE_HIT], samples);
	s->shared1[round] = median(sh, samples);
	s->hit1[round] = median(hit, samples);
	free(sh);
	free(hit);
	return err;
}

static int measure(struct cost *c, enum variant v, __u32 flows, int round,
		   struct samples *s)
{
	struct bench *b = c->b;
	__u32 mask = flows - 1;
	/* at least 2^18 iterations; a big flow set in one pass */
	__u32 n = flows >= (1U << 18) ? flows : (b->smoke ? 1 << 12 : 1 << 18);
	__u32 n_new = b->smoke ? 1 << 12 : 1 << 17;
	__u64 before[FP_STAT_MAX], after[FP_STAT_MAX], rb;
	struct run_result r;
	int err;

#define D(stat) (after[stat] - before[stat])
	switch (v) {
	case V_P0:
		err = run(c, BT_P0, 0, mask, false, n, &r);
		check(b, !err && r.retval == XDP_DROP, "P0: verdict %u", r.retval);
		break;
	case V_REF:
		rb = ref_forwarded(c);
		err = run(c, BT_REF, 0, mask, false, n, &r);
		check(b, !err && forwarded_ok(&r) && ref_forwarded(c) - rb == n,
		      "reference: verdict %u, forwarded +%llu of %u", r.retval,
		      ref_forwarded(c) - rb, n);
		break;
	case V_HIT:
		fp_stats(c, before);
		err = run(c, BT_FLOWPIN, 0, mask, false, n, &r);
		fp_stats(c, after);
		/*
		 * A flow that meets two others in its set of flow_cache is a
		 * shared-table hit: counted in the figure, as on a router.
		 */
		check(b, !err && forwarded_ok(&r) &&
			      D(FP_STAT_CACHE_HIT) + D(FP_STAT_PIN_HIT) == n &&
			      D(FP_STAT_CACHE_HIT) >= n / 10 * 9 &&
			      D(FP_STAT_FORWARDED) == n,
		      "cache hit: verdict %u, cache_hit +%llu pin_hit +%llu forwarded +%llu of %u",
		      r.retval, D(FP_STAT_CACHE_HIT), D(FP_STAT_PIN_HIT),
		      D(FP_STAT_FORWARDED), n);
		if (round == 0)
			say("  cache hits: %.2f%% of packets, the rest shared-table hits\n",
			    100.0 * D(FP_STAT_CACHE_HIT) / n);
		break;
	case V_SHARED:
		if (flows == 1) {
			err = shared_one_flow(c, b->smoke ? 50 : 300, s, round);
			r.ns = 0;
			break;
		}
		fp_stats(c, before);
		err = run(c, BT_FLOWPIN_SHARED, 0, mask, false, n, &r);
		fp_stats(c, after);
		check(b, !err && forwarded_ok(&r) && D(FP_STAT_PIN_HIT) == n &&
			      D(FP_STAT_CACHE_HIT) == 0 && D(FP_STAT_FORWARDED) == n,
		      "shared hit: verdict %u, pin_hit +%llu cache_hit +%llu forwarded +%llu of %u",
		      r.retval, D(FP_STAT_PIN_HIT), D(FP_STAT_CACHE_HIT),
		      D(FP_STAT_FORWARDED), n);
		break;
	case V_SHARED_COLD:
		/*
		 * One pass right after every CPU's cache is cleared: the
		 * clearing's reads of the whole cache leave the slots, tags
		 * and pins this pass reads in memory, not in the CPU's caches
		 * (the reference is never measured cold).
		 */
		if (flows == 1) {
			r.ns = 0;
			err = 0;
			break;
		}
		err = clear_cache(c);
		if (err)
			return err;
		fp_stats(c, before);
		err = run(c, BT_FLOWPIN, 0, mask, false, flows, &r);
		fp_stats(c, after);
		check(b, !err && forwarded_ok(&r) && D(FP_STAT_PIN_HIT) == flows &&
			      D(FP_STAT_FORWARDED) == flows,
		      "shared hit, cache just cleared: verdict %u, pin_hit +%llu forwarded +%llu of %u",
		      r.retval, D(FP_STAT_PIN_HIT), D(FP_STAT_FORWARDED), flows);
		break;
	case V_MISS:
		fp_stats(c, before);
		err = run(c, BT_FLOWPIN, c->next_new, 0, true, n_new, &r);
		fp_stats(c, after);
		check(b, !err && forwarded_ok(&r) && D(FP_STAT_PIN_NEW) == n_new &&
			      D(FP_STAT_FORWARDED) == n_new,
		      "miss: verdict %u, pin_new +%llu forwarded +%llu of %u",
		      r.retval, D(FP_STAT_PIN_NEW), D(FP_STAT_FORWARDED), n_new);
		forget_new_pins(c, c->next_new, n_new);
		c->next_new += n_new;
		break;
	case V_MISS_SYNC:
		fp_stats(c, before);
		err = run(c, BT_FLOWPIN_SYNC, c->next_new, 0, true, n_new, &r);
		fp_stats(c, after);
		check(b, !err && forwarded_ok(&r) && D(FP_STAT_PIN_NEW) == n_new &&
			      D(FP_STAT_FORWARDED) == n_new,
		      "miss, synced: verdict %u, pin_new +%llu forwarded +%llu of %u",
		      r.retval, D(FP_STAT_PIN_NEW), D(FP_STAT_FORWARDED), n_new);
		/* a full ring loses records, and a lost one costs less: counted */
		c->events_lost += D(FP_STAT_PIN_EVENT_LOST);
		c->events_made += D(FP_STAT_PIN_NEW);
		forget_new_pins(c, c->next_new, n_new);
		c->next_new += n_new;
		break;
	default:
		return -EINVAL;
	}
#undef D
	s->v[v][round] = r.ns;
	return err;
}

/* One pass over the flow set; every packet must count stat once. */
static int prime(struct cost *c, __u32 flows, enum fp_stat stat,
		 const char *label)
{
	__u64 before[FP_STAT_MAX], after[FP_STAT_MAX];
	struct run_result r;
	int err;

	fp_stats(c, before);
	err = run(c, BT_FLOWPIN, 0, flows - 1, false, flows, &r);
	fp_stats(c, after);
	if (err)
		return err;
	if (!check(c->b, after[stat] - before[stat] == flows,
		   "priming %s: %s +%llu of %u (pass_fib_no_neigh +%llu, nexthop_unknown +%llu)",
		   label, fp_stat_name(stat), after[stat] - before[stat], flows,
		   after[FP_PASS_FIB_NO_NEIGH] - before[FP_PASS_FIB_NO_NEIGH],
		   after[FP_PASS_NEXTHOP_UNKNOWN] - before[FP_PASS_NEXTHOP_UNKNOWN]))
		return -EIO;
	return 0;
}

int bench_cost(struct bench *b, __u32 flows)
{
	int rounds = b->smoke ? 2 : 7;
	struct pkt_spec spec = {
		.family = 4, .proto = IPPROTO_UDP, .src = CLIENT4,
		.dst = "100.64.0.1", .sport = BENCH_SPORT, .dport = BENCH_DPORT,
		.payload = BENCH_FRAME_LEN - 42,
	};
	struct cost c = { .b = b };
	struct samples *s = calloc(1, sizeof(*s));
	char label[64], what[128], val[48], ratio[48];
	double med[V_MAX], ref;
	int err;

	if (!s)
		return -ENOMEM;
	if (flows == 1)
		snprintf(label, sizeof(label), "%s, 1 flow", b->table);
	else if (flows == 1U << 20)
		snprintf(label, sizeof(label), "%s, 1M flows", b->table);
	else
		snprintf(label, sizeof(label), "%s, %u flows", b->table, flows);
	say("section 1: %s\n", label);
	c.frame_len = pkt_build(&spec, c.frame);
	c.next_new = 1ULL << 32; /* far from the flows 0 .. flows-1 */
	err = run_on_cpu(BENCH_CPU);
	if (!err)
		/*
		 * flow_pins large enough that the misses never evict; flow_cache
		 * with FP_MAX_CACHED_FLOWS copies on the bench's CPU (flowpind's
		 * size on 2 CPUs, whatever this machine has), except that a
		 * million flows must fit for their hits to be cache hits.
		 */
		err = load_all(&c, flows > FP_MAX_CACHED_FLOWS ? 1 << 22 : 1 << 21,
			       flows > FP_MAX_CACHED_FLOWS ? 1 << 22 :
							     FP_MAX_CACHED_FLOWS);
	if (err) {
		say("cannot load the programs: %s\n", strerror(-err));
		goto out;
	}
	/* Pin every flow of the set, then fill this CPU's cache: a flow
	 * enters it on its second packet. */
	err = prime(&c, flows, FP_STAT_PIN_NEW, label);
	if (!err)
		err = prime(&c, flows, FP_STAT_PIN_HIT, label);
	if (err)
		goto out;
	for (int round = 0; round < rounds && !err; round++)
		for (int k = 0; k < V_MAX && !err; k++)
			err = measure(&c, (round + k) % V_MAX, flows, round, s);
	if (err)
		goto out;

	for (int v = 0; v < V_MAX; v++)
		med[v] = median(s->v[v], rounds);
	if (flows == 1) {
		double corr[64];

		for (int i = 0; i < rounds; i++)
			corr[i] = s->shared1[i] - (s->hit1[i] - s->v[V_HIT][i]);
		med[V_SHARED] = median(corr, rounds);
		say("  1-flow shared hit: single runs %.0f ns, single-run cache hit %.0f ns"
		    " (timer overhead %.0f ns subtracted)\n",
		    median(s->shared1, rounds), median(s->hit1, rounds),
		    median(s->hit1, rounds) - med[V_HIT]);
	}
	ref = med[V_REF];
	for (int v = 0; v < V_MAX; v++) {
		const char *target = NULL, *met = NULL;
		bool big = !strcmp(b->table, "750k routes");
		double q = med[v] / ref;

		if (v == V_SHARED_COLD && flows == 1)
			continue; /* one flow's shared hits are single runs */
		say("  %-40s median %6.1f ns  (rounds:", variant_names[v], med[v]);
		for (int i = 0; i < rounds; i++)
			say(" %.0f", s->v[v][i]);
		say(")\n");
		snprintf(what, sizeof(what), "%s: %s", label, variant_names[v]);
		snprintf(val, sizeof(val), "%.1f ns", med[v]);
		snprintf(ratio, sizeof(ratio), "%.2fx ref", q);
		if (big && v == V_HIT) {
			target = "<= 0.35x ref";
			met = q <= 0.35 ? "yes" : "NO";
		} else if (big && v == V_MISS) {
			target = "<= 1.3x ref";
			met = q <= 1.3 ? "yes" : "NO";
		}
		row("1", what, val, v == V_REF ? "1.00" : ratio, target, met);
		if (v != V_REF && v != V_P0) {
			snprintf(what, sizeof(what), "%s: %s / reference", label,
				 variant_names[v]);
			figure("1", what, q, LOWER, 0);
		}
	}
	/* what telling flowpind of a new pin adds, and that the ring kept up */
	atomic_store(&c.stop, true);
	pthread_join(c.drainer, NULL);
	c.draining = false;
	say("  pin_events: %llu new pins, %llu records read, %llu lost (ring full)\n",
	    (unsigned long long)c.events_made,
	    (unsigned long long)atomic_load(&c.events),
	    (unsigned long long)c.events_lost);
	check(b, atomic_load(&c.events) + c.events_lost == c.events_made,
	      "pin_events: %llu read + %llu lost != %llu new pins",
	      (unsigned long long)atomic_load(&c.events),
	      (unsigned long long)c.events_lost,
	      (unsigned long long)c.events_made);
	snprintf(what, sizeof(what), "%s: what pin sync adds to a new flow", label);
	snprintf(val, sizeof(val), "%+.1f ns", med[V_MISS_SYNC] - med[V_MISS]);
	snprintf(ratio, sizeof(ratio), "%.1f%% lost", c.events_made ?
		 100.0 * c.events_lost / c.events_made : 0.0);
	row("1", what, val, ratio, NULL, NULL);
out:
	if (err)
		check(b, false, "section 1 (%s): %s", label, strerror(-err));
	unload_all(&c);
	run_anywhere();
	free(s);
	return err;
}
