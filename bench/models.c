// SPDX-License-Identifier: GPL-2.0
/*
 * Section 6 (issue 28): the structures a per-CPU flow cache could be, side
 * by side (models.bpf.c), with 4,096, 1M and 10M flows on the current table.
 * For each: ns per packet of a hit and of a new flow, each against the
 * reference (FIB every packet) in the same rounds, and bytes per flow as a
 * function of the CPU count. Each model is loaded on its own, sized for the
 * flow count, primed (every flow pinned, then in the first structure), then
 * measured in interleaved rounds, as section 1 does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "bench_models.h"
#include "fixture.h"
#include "netns.h"
#include "bench_driver.skel.h"
#include "bench_models.skel.h"
#include "bench_xdp_ref.skel.h"

enum model { MODEL_SETS, MODEL_PERCPU, MODEL_PINS, MODEL_MAX };

static const char *const model_names[MODEL_MAX] = {
	[MODEL_SETS] = "array of sets (flowpin's), shared pins behind",
	[MODEL_PERCPU] = "lru_percpu_hash, shared pins behind",
	[MODEL_PINS] = "shared pins alone, per-CPU LRU lists",
};

/* The bytes a value of lru_percpu_hash takes on each CPU: round_up(24, 8). */
#define PERCPU_VALUE_BYTES 24
/* The most sets a CPU gets: 32M copies, about 2.2 GB a CPU. */
#define MODEL_MAX_SETS (1U << 24)
/*
 * The priming passes visit the flows in this stride's order (coprime with
 * every flow count here): a hash map's elements then sit in memory in
 * another order than the one the measured rounds visit, as on a router. In
 * flow order, a round would read them one after the other.
 */
#define PRIMING_STEP 2654435761ULL

struct models {
	struct bench *b;
	struct bench_driver *drv;
	struct bench_xdp_ref *ref;
	struct bench_models *m;
	__u8 frame[PKT_MAX];
	size_t frame_len;
	int ncpu;
	__u32 sets; /* a CPU's, MODEL_SETS */
	__u32 pin_entries;
	__u32 flows;
};

static void model_stats(struct models *s, __u64 *sum)
{
	for (__u32 i = 0; i < M_STAT_MAX; i++)
		sum[i] = percpu_sum(bpf_map__fd(s->m->maps.model_stats), i);
}

/* About what model m's maps take, to know before it is loaded whether they fit. */
static double model_bytes(const struct models *s, enum model m)
{
	double pins = 160.0 * s->pin_entries; /* an lru_hash entry, with margin */

	switch (m) {
	case MODEL_SETS:
		return pins + 140.0 * s->sets * (BENCH_CPU + 1);
	case MODEL_PERCPU:
		return 2 * pins + (double)PERCPU_VALUE_BYTES * s->ncpu * s->pin_entries;
	default:
		return pins * s->ncpu;
	}
}

static double mem_available(void)
{
	char line[128];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024.0;
}

/*
 * Model m's maps sized for flows + extra pins (its maps of other models: one
 * entry); -E2BIG when they would take more than 3/4 of the memory available.
 * The sets are those of CPUs 0 .. BENCH_CPU (the rounds run there), so
 * their size does not grow with the machine's CPUs. The shared pins with
 * per-CPU LRU lists give each CPU max_entries / CPUs of them; the bench
 * makes every pin on one CPU, so that table has CPUs times the room.
 */
static int load_model(struct models *s, enum model m, __u32 flows, __u32 extra)
{
	struct bench_models *o;
	__u32 fd, slot = BT_MODEL;
	int err, prog;

	s->pin_entries = flows + extra;
	s->flows = flows;
	/*
	 * As flowpind sizes a CPU's sets for the flows it sees: room for two
	 * copies a flow, at least its default; at most MODEL_MAX_SETS.
	 */
	s->sets = flow_cache_sets(flows < FP_MAX_CACHED_FLOWS / 2 ?
					  FP_MAX_CACHED_FLOWS : 2 * flows);
	if (s->sets > MODEL_MAX_SETS)
		s->sets = MODEL_MAX_SETS;
	if (model_bytes(s, m) > 0.75 * mem_available())
		return -E2BIG;
	o = s->m = bench_models__open();
	if (!o)
		return -errno;
	if (m == MODEL_SETS) {
		o->rodata->sets_per_cpu = s->sets;
		bpf_map__set_max_entries(o->maps.sets, s->sets * (BENCH_CPU + 1));
		bpf_map__set_max_entries(o->maps.set_tags, s->sets * (BENCH_CPU + 1));
	}
	if (m == MODEL_PERCPU)
		bpf_map__set_max_entries(o->maps.percpu_pins, s->pin_entries);
	if (m != MODEL_PINS)
		bpf_map__set_max_entries(o->maps.pins, s->pin_entries);
	else
		bpf_map__set_max_entries(o->maps.pins_percpu_lru,
					 s->pin_entries * s->ncpu);
	err = bench_models__load(o);
	if (err)
		return err;
	err = tx_ports_fill(bpf_map__fd(o->maps.tx_ports));
	if (err)
		return err;
	prog = bpf_program__fd(m == MODEL_SETS ? o->progs.model_sets :
			       m == MODEL_PERCPU ? o->progs.model_percpu :
						   o->progs.model_pins);
	fd = bpf_map__fd(s->drv->maps.targets);
	return bpf_map_update_elem(fd, &slot, &prog, BPF_ANY) ? -errno : 0;
}

/* One run of the model; every packet must count in the stats given. */
static int model_run(struct models *s, __u64 base, __u32 mask, bool new_flows,
		     __u32 n, enum model_stat a, enum model_stat b2,
		     const char *what, struct run_result *r, __u64 *hits)
{
	__u64 before[M_STAT_MAX], after[M_STAT_MAX];
	int err;

	model_stats(s, before);
	err = driver_run(s->drv, s->frame, s->frame_len, BT_MODEL, base, mask,
			 new_flows, n, r);
	model_stats(s, after);
	if (err)
		return err;
	if (hits)
		*hits = after[M_HIT] - before[M_HIT];
#define MD(x) (after[x] - before[x])
	check(s->b, forwarded_ok(r) && MD(a) + (a == b2 ? 0 : MD(b2)) == n &&
		      MD(M_FORWARDED) == n,
	      "model %s: verdict %u, hit +%llu second +%llu new +%llu forwarded +%llu of %u",
	      what, r->retval, MD(M_HIT), MD(M_SECOND), MD(M_NEW),
	      MD(M_FORWARDED), n);
#undef MD
	return 0;
}

static int ref_run(struct models *s, __u32 mask, __u32 n, struct run_result *r)
{
	int err = driver_run(s->drv, s->frame, s->frame_len, BT_REF, 0, mask,
			     false, n, r);

	check(s->b, !err && forwarded_ok(r), "model section, reference: verdict %u",
	      r->retval);
	return err;
}

/* Bytes per flow with ncpu CPUs, from what this machine's maps take. */
static double bytes_per_flow(struct models *s, enum model m, int ncpu)
{
	double pins = 0, first;

	if (m != MODEL_PINS)
		pins = (double)map_memlock(bpf_map__fd(s->m->maps.pins)) /
		       s->pin_entries;
	switch (m) {
	case MODEL_SETS:
		/*
		 * the room measured: the sets of the CPU that sees the flows
		 * (RSS gives a flow one), over its flows; the same at any
		 * CPU count, each CPU sized for the flows it sees
		 */
		first = (double)(map_memlock(bpf_map__fd(s->m->maps.sets)) +
				 map_memlock(bpf_map__fd(s->m->maps.set_tags))) /
			((double)(BENCH_CPU + 1) * s->flows);
		break;
	case MODEL_PERCPU:
		/* a value on every possible CPU, whichever sees the flow */
		first = (double)map_memlock(bpf_map__fd(s->m->maps.percpu_pins)) /
				s->pin_entries +
			(double)PERCPU_VALUE_BYTES * (ncpu - s->ncpu);
		break;
	default:
		/* sized to what each CPU's lists must hold, not CPUs times */
		first = (double)map_memlock(bpf_map__fd(s->m->maps.pins_percpu_lru)) /
			((double)s->pin_entries * s->ncpu);
		break;
	}
	return pins + first;
}

static void flows_label(__u32 flows, char *buf, size_t len)
{
	if (flows >= 1U << 20 && !(flows % 1000000))
		snprintf(buf, len, "%uM flows", flows / 1000000);
	else if (flows == 1U << 20)
		snprintf(buf, len, "1M flows");
	else
		snprintf(buf, len, "%u flows", flows);
}

static int one_model(struct models *s, enum model m, __u32 flows,
		     const char *label)
{
	struct bench *b = s->b;
	int rounds = b->smoke ? 2 : 3;
	/* a round: 2^18 packets round robin, or one pass of 2^18 flows or more */
	__u32 n = flows >= (1U << 18) ? flows : (b->smoke ? 1 << 12 : 1 << 18);
	__u32 n_new = b->smoke ? 1 << 12 : 1 << 17;
	/* past 2^18 flows a round is at most one pass: any count will do there */
	__u32 mask = flows - 1;
	double ref[8], hit[8], miss[8], mref, mhit, mmiss;
	enum model_stat found = m == MODEL_PINS ? M_HIT : M_SECOND;
	struct run_result *r = malloc(sizeof(*r));
	__u64 next_new = 1ULL << 32, hits = 0, hits_all = 0;
	char what[160], val[64], ratio[64];
	int err;

	if (!r)
		return -ENOMEM;
	while (mask & (mask + 1))
		mask |= mask >> 1;
	err = load_model(s, m, flows, rounds * n_new);
	if (err == -E2BIG) {
		skip_section(b, "6", "%s, %s: %s needs about %.1f GB, %.1f GB available",
			     b->table, label, model_names[m],
			     model_bytes(s, m) / 1e9, mem_available() / 1e9);
		free(r);
		return 0;
	}
	/* every flow pinned, then in the first structure */
	s->drv->bss->flow_step = PRIMING_STEP;
	s->drv->bss->flow_count = flows;
	if (!err)
		err = model_run(s, 0, mask, false, flows, M_NEW, M_NEW,
				"priming, new", r, NULL);
	if (!err)
		err = model_run(s, 0, mask, false, flows, found, found,
				"priming, found", r, NULL);
	s->drv->bss->flow_step = 0;
	for (int i = 0; i < rounds && !err; i++) {
		err = ref_run(s, mask, n, r);
		if (err)
			break;
		ref[i] = r->ns;
		if (!err)
			err = model_run(s, 0, mask, false, n, M_HIT, M_SECOND,
					"hit", r, &hits);
		hit[i] = r->ns;
		hits_all += hits;
		if (!err)
			err = model_run(s, next_new, 0, true, n_new, M_NEW,
					M_NEW, "new flow", r, NULL);
		miss[i] = r->ns;
		next_new += n_new;
	}
	if (err)
		goto out;
	mref = median(ref, rounds);
	mhit = median(hit, rounds);
	mmiss = median(miss, rounds);
	say("  %-48s ref %4.0f  hit %4.0f (%.1f%% hits)  new flow %4.0f ns\n",
	    model_names[m], mref, mhit, 100.0 * hits_all / ((double)n * rounds),
	    mmiss);

	snprintf(what, sizeof(what), "%s, %s: %s: hit", b->table, label,
		 model_names[m]);
	snprintf(val, sizeof(val), "%.1f ns", mhit);
	snprintf(ratio, sizeof(ratio), "%.2fx ref (%.0f ns)", mhit / mref, mref);
	row("6", what, val, ratio, NULL, NULL);
	snprintf(what, sizeof(what), "%s, %s: %s: hit / reference", b->table,
		 label, model_names[m]);
	figure("6", what, mhit / mref, LOWER, 0);

	snprintf(what, sizeof(what), "%s, %s: %s: new flow", b->table, label,
		 model_names[m]);
	snprintf(val, sizeof(val), "%.1f ns", mmiss);
	snprintf(ratio, sizeof(ratio), "%.2fx ref", mmiss / mref);
	row("6", what, val, ratio, NULL, NULL);
	snprintf(what, sizeof(what), "%s, %s: %s: new flow / reference",
		 b->table, label, model_names[m]);
	figure("6", what, mmiss / mref, LOWER, 0);

	snprintf(what, sizeof(what), "%s: %s: bytes per flow, 2 / 16 / 64 CPUs",
		 label, model_names[m]);
	snprintf(val, sizeof(val), "%.0f / %.0f / %.0f B",
		 bytes_per_flow(s, m, 2), bytes_per_flow(s, m, 16),
		 bytes_per_flow(s, m, 64));
	if (!strcmp(b->table, "10 routes"))
		row("6", what, val, NULL, NULL, NULL);
out:
	if (err)
		check(b, false, "section 6 (%s, %s): %s", label, model_names[m],
		      strerror(-err));
	{
		/* the driver's reference holds the model's maps: let them go now */
		__u32 slot = BT_MODEL;

		bpf_map_delete_elem(bpf_map__fd(s->drv->maps.targets), &slot);
	}
	bench_models__destroy(s->m);
	s->m = NULL;
	free(r);
	return err;
}

int bench_models(struct bench *b, __u32 flows)
{
	struct pkt_spec spec = {
		.family = 4, .proto = IPPROTO_UDP, .src = CLIENT4,
		.dst = "100.64.0.1", .sport = BENCH_SPORT, .dport = BENCH_DPORT,
		.payload = BENCH_FRAME_LEN - 42,
	};
	struct models s = { .b = b, .ncpu = libbpf_num_possible_cpus() };
	char label[32];
	__u32 slot = BT_REF;
	int err, prog;

	flows_label(flows, label, sizeof(label));
	say("section 6: %s, %s\n", b->table, label);
	s.frame_len = pkt_build(&spec, s.frame);
	err = run_on_cpu(BENCH_CPU);
	if (!err) {
		s.drv = bench_driver__open_and_load();
		s.ref = bench_xdp_ref__open_and_load();
		if (!s.drv || !s.ref)
			err = -errno ?: -EINVAL;
	}
	if (!err) {
		memcpy(s.drv->bss->dsts, b->dsts, sizeof(b->dsts));
		prog = bpf_program__fd(s.ref->progs.xdp_ref);
		err = tx_ports_fill(bpf_map__fd(s.ref->maps.tx_ports)) ?:
		      (bpf_map_update_elem(bpf_map__fd(s.drv->maps.targets),
					   &slot, &prog, BPF_ANY) ? -errno : 0);
	}
	if (err)
		check(b, false, "section 6: cannot load the programs: %s",
		      strerror(-err));
	for (int m = 0; m < MODEL_MAX && !err; m++)
		err = one_model(&s, m, flows, label);
	bench_xdp_ref__destroy(s.ref);
	bench_driver__destroy(s.drv);
	run_anywhere();
	return err;
}
