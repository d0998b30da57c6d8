// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <string.h>

#include "stats_text.h"
#include "table.h"
#include "version.h"

static const char *const stat_names[FP_STAT_MAX] = { FP_STAT_NAMES };

/* Prometheus HELP of the counters that are not passes. */
static const char *const stat_help[FP_PASS_NON_IP] = {
	[FP_STAT_PACKETS] = "Packets the flowpin XDP program saw.",
	[FP_STAT_CACHE_HIT] = "Pins found in the CPU's flow_cache.",
	[FP_STAT_PIN_HIT] = "Pins found in the shared flow_pins.",
	[FP_STAT_PIN_NEW] = "Flows pinned after a FIB lookup.",
	[FP_STAT_PIN_STALE] = "Pins whose next hop was invalidated, resolved again.",
	[FP_STAT_LOST_PIN] = "TCP segments without SYN that found no pin.",
	[FP_STAT_ICMP_ERR_PINNED] = "ICMP errors sent along their flow's pin.",
	[FP_STAT_UNPINNED_RATE] = "New flows forwarded without a pin: the pin rate was exceeded.",
	[FP_STAT_FORWARDED] = "Packets redirected (XDP_REDIRECT).",
	[FP_STAT_REDIRECT_FAIL] = "Pinned packets whose port left tx_ports: bpf_redirect_map() refused them.",
	[FP_STAT_TOO_BIG_ICMP] = "Pinned packets too big for their path whose route moved: answered with ICMP fragmentation needed or packet too big.",
	[FP_STAT_TOO_BIG_DROP] = "Pinned packets too big for their path whose route moved, that no ICMP error could answer: dropped.",
	[FP_STAT_PIN_EVENT_LOST] = "New pins the ring to flowpind had no room for: its peers were not told of them (they learn them at their next bulk sync).",
	[FP_STAT_RECHECK] = "Pinned flows asked of the FIB again: the route epoch moved (or flowpind is silent).",
	[FP_STAT_PIN_REJECTED] = "Pins removed because the kernel's routing now refuses their flow (a reject route or rule, a local address, forwarding off).",
	[FP_STAT_TOO_BIG_RATE] = "Pinned packets too big for their path whose error was over --too-big-rate: dropped without one.",
};

const char *fp_stat_name(int idx)
{
	if (idx < 0 || idx >= FP_STAT_MAX || !stat_names[idx])
		return "unknown";
	return stat_names[idx];
}

bool fp_stat_is_pass(int idx)
{
	return idx >= FP_PASS_NON_IP && idx < FP_STAT_MAX;
}

__u64 stats_passed(const __u64 *v)
{
	__u64 sum = 0;

	for (int i = FP_PASS_NON_IP; i < FP_STAT_MAX; i++)
		sum += v[i];
	return sum;
}

double stat_rate(__u64 before, __u64 after, double secs)
{
	if (secs <= 0)
		return 0;
	if (after < before) /* reloaded: counting again from 0 */
		return after / secs;
	return (after - before) / secs;
}

int stats_table(FILE *out, const __u64 *now, const __u64 *before, double secs)
{
	static const struct table_col cols[] = {
		{ "COUNTER", false },
		{ "PACKETS", true },
		{ "PER_SECOND", true },
	};
	struct table t;
	int err = table_init(&t, out, cols, before ? 3 : 2);

	if (err)
		return err;
	for (int i = 0; i < FP_STAT_MAX; i++) {
		table_cell(&t, "%s", fp_stat_name(i));
		table_cell(&t, "%" PRIu64, (uint64_t)now[i]);
		if (before)
			table_cell(&t, "%.1f", stat_rate(before[i], now[i], secs));
	}
	table_cell(&t, "passed");
	table_cell(&t, "%" PRIu64, (uint64_t)stats_passed(now));
	if (before)
		table_cell(&t, "%.1f", stat_rate(stats_passed(before),
						 stats_passed(now), secs));
	table_end(&t);
	return 0;
}

void stats_json(struct json_writer *w, const __u64 *now, const __u64 *before,
		double secs)
{
	jw_object_start(w);
	jw_name(w, "counters");
	jw_object_start(w);
	for (int i = 0; i < FP_STAT_MAX; i++)
		jw_uint_field(w, fp_stat_name(i), now[i]);
	jw_object_end(w);
	jw_uint_field(w, "passed", stats_passed(now));
	if (before) {
		jw_double_field(w, "interval_s", secs);
		jw_name(w, "per_second");
		jw_object_start(w);
		for (int i = 0; i < FP_STAT_MAX; i++)
			jw_double_field(w, fp_stat_name(i),
					stat_rate(before[i], now[i], secs));
		jw_object_end(w);
	}
	jw_object_end(w);
}

void prom_label_value(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

void stats_prometheus(FILE *out, const __u64 *v)
{
	fputs("# HELP flowpin_build_info The flowpin version that reads these counters.\n"
	      "# TYPE flowpin_build_info gauge\n"
	      "flowpin_build_info{version=", out);
	prom_label_value(out, FP_VERSION);
	fputs("} 1\n", out);
	for (int i = 0; i < FP_PASS_NON_IP; i++) {
		const char *name = fp_stat_name(i);

		fprintf(out, "# HELP flowpin_%s_total %s\n", name, stat_help[i]);
		fprintf(out, "# TYPE flowpin_%s_total counter\n", name);
		fprintf(out, "flowpin_%s_total %" PRIu64 "\n", name,
			(uint64_t)v[i]);
	}
	fputs("# HELP flowpin_passed_total Packets handed to the kernel (XDP_PASS), by reason.\n"
	      "# TYPE flowpin_passed_total counter\n", out);
	for (int i = FP_PASS_NON_IP; i < FP_STAT_MAX; i++) {
		fputs("flowpin_passed_total{reason=", out);
		prom_label_value(out, fp_stat_name(i) + strlen("pass_"));
		fprintf(out, "} %" PRIu64 "\n", (uint64_t)v[i]);
	}
}

static void prom_head(FILE *out, const char *name, const char *type,
		      const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_map_sample(FILE *out, const char *metric, const char *map,
			    __u64 value)
{
	fprintf(out, "%s{map=", metric);
	prom_label_value(out, map);
	fprintf(out, "} %" PRIu64 "\n", (uint64_t)value);
}

void gauges_prometheus(FILE *out, const struct fp_gauges *g)
{
	static const char *const states[] = {
		[NH_ACTIVE] = "active",
		[NH_WITHDRAWN] = "withdrawn",
		[NH_DEAD] = "dead",
	};

	prom_head(out, "flowpin_map_entries", "gauge",
		  "Entries in a map: pins, cached pins, next hops in use.");
	for (int i = 0; i < g->n_maps; i++)
		prom_map_sample(out, "flowpin_map_entries", g->maps[i].name,
				g->maps[i].entries);
	prom_head(out, "flowpin_map_max_entries", "gauge",
		  "Capacity of a map.");
	for (int i = 0; i < g->n_maps; i++)
		prom_map_sample(out, "flowpin_map_max_entries", g->maps[i].name,
				g->maps[i].max_entries);
	prom_head(out, "flowpin_nexthops", "gauge",
		  "Next hops in the table, by state.");
	for (int s = NH_ACTIVE; s <= NH_DEAD; s++)
		fprintf(out, "flowpin_nexthops{state=\"%s\"} %" PRIu64 "\n",
			states[s], (uint64_t)g->nexthops[s]);
	prom_head(out, "flowpin_daemon_up", "gauge",
		  "1 when flowpind is running on these maps.");
	fprintf(out, "flowpin_daemon_up %d\n", g->daemon_running);
	/*
	 * The metrics and status fields named "sync" here keep the names
	 * operators' dashboards read: they mean the full dump of the kernel.
	 */
	prom_head(out, "flowpin_daemon_synced", "gauge",
		  "1 when flowpind runs and has mirrored the kernel's tables.");
	fprintf(out, "flowpin_daemon_synced %d\n", g->daemon_dumped);
	prom_head(out, "flowpin_daemon_resyncs_total", "counter",
		  "Full re-dumps after lost netlink events.");
	fprintf(out, "flowpin_daemon_resyncs_total %u\n", g->redumps);
	if (!g->dumped_s)
		return; /* never synced: no timestamp to give */
	prom_head(out, "flowpin_daemon_last_sync_timestamp_seconds", "gauge",
		  "Unix time of flowpind's last full dump of the kernel's tables.");
	fprintf(out, "flowpin_daemon_last_sync_timestamp_seconds %" PRIu64 "\n",
		(uint64_t)g->dumped_s);
	prom_head(out, "flowpin_daemon_seconds_since_sync", "gauge",
		  "Seconds since flowpind's last full dump of the kernel's tables.");
	fprintf(out, "flowpin_daemon_seconds_since_sync %" PRIu64 "\n",
		(uint64_t)(g->now_s > g->dumped_s ? g->now_s - g->dumped_s : 0));
}
