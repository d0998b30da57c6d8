/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The counters of the stats map as text: a table, JSON, and Prometheus's
 * text exposition format. Input is one sum per counter, by enum fp_stat.
 */
#ifndef FLOWPIN_STATS_TEXT_H
#define FLOWPIN_STATS_TEXT_H

#include <stdbool.h>
#include <stdio.h>
#include "flowpin.h"
#include "json_writer.h"

/* The name in flowpin.h's FP_STAT_NAMES: "packets", "pass_non_ip", ... */
const char *fp_stat_name(int idx);
/* A counter of packets passed to the kernel, by reason. */
bool fp_stat_is_pass(int idx);
/* Every pass_* counter added up. */
__u64 stats_passed(const __u64 *v);
/* Per second, from two readings; a counter that went back restarted. */
double stat_rate(__u64 before, __u64 after, double secs);

/* before may be NULL: no rates. */
int stats_table(FILE *out, const __u64 *now, const __u64 *before,
		double secs);
void stats_json(struct json_writer *w, const __u64 *now, const __u64 *before,
		double secs);
void stats_prometheus(FILE *out, const __u64 *v);
/* What --prometheus reports beside the counters: the maps and the daemon. */
struct fp_gauge_map {
	const char *name;
	__u64 entries;
	__u64 max_entries;
};

struct fp_gauges {
	struct fp_gauge_map maps[4]; /* flow_pins, flow_cache, nexthops, nexthop_index */
	int n_maps;
	__u64 nexthops[NH_DEAD + 1]; /* by enum nexthop_state */
	bool daemon_running;	     /* its pid is alive */
	bool daemon_dumped;	     /* running, and its first dump is done */
	__u64 dumped_s;		     /* CLOCK_REALTIME of the last full dump; 0: never */
	__u64 now_s;
	__u32 redumps;
};

void gauges_prometheus(FILE *out, const struct fp_gauges *g);
/* A label value in the exposition format: \, " and newline escaped. */
void prom_label_value(FILE *out, const char *s);

#endif /* FLOWPIN_STATS_TEXT_H */
