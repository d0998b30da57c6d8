// SPDX-License-Identifier: GPL-2.0
/*
 * flowpin_bench: make bench (issue 6). Runs in a private network namespace
 * (tests/lib/fixture's router, plus the bench's routes) and prints one table.
 *
 *   flowpin_bench [--smoke] [--build DIR] [--out FILE] [--routes N]
 *                 [--sections LIST] [--keep] [--daemon-verbose]
 *                 [--results FILE] [--compare BASELINE [--threshold PCT]]
 *   flowpin_bench --compare BASELINE [--threshold PCT] RESULTS
 *
 * --sections 1,4: run only these of the sections (1 ns/packet,
 * 2 pps, 3 memory, 4 control plane, 5 pin sync). --keep leaves /tmp/fpb-PID (flowpind's
 * logs, the route files) behind; --daemon-verbose runs flowpind with -v.
 *
 * --results FILE: the run's figures for make bench-compare, one a line.
 * --compare BASELINE: after the run (or, given RESULTS, instead of one),
 * print each figure more than PCT (20) percent worse than the baseline's
 * and each target the baseline met and this run does not; exit 3 if any.
 *
 * --routes 0 skips the big table. --smoke: tiny sizes, no big table; ends
 * with "bench_smoke: N passed, M failed[, K skipped (why)]" for
 * tests/run-all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "bench.h"
#include "fixture.h"
#include "netns.h"

static struct bench b;
static struct daemon_proc *running;

static void cleanup(void)
{
	if (running)
		daemon_stop(running);
	running = NULL;
	if (b.tmp[0] && !b.keep)
		sh("rm -rf '%s'", b.tmp);
	else if (b.tmp[0])
		fprintf(stderr, "flowpin_bench: kept %s\n", b.tmp);
	b.tmp[0] = 0;
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1); /* runs cleanup() */
}

static void machine(char *buf, size_t len)
{
	char model[128] = "?", line[256], load[64] = "?";
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "model name : %127[^\n]", model) == 1)
			break;
	if (f)
		fclose(f);
	f = fopen("/proc/loadavg", "r");
	if (f && fgets(load, sizeof(load), f))
		load[strcspn(load, "\n")] = 0;
	if (f)
		fclose(f);
	uname(&u);
	snprintf(buf, len, "%s, %ld cores, kernel %s, load average %s", model,
		 sysconf(_SC_NPROCESSORS_ONLN), u.release, load);
}

static void startup_row(struct daemon_proc *d)
{
	char what[128], val[64], rss[64];

	snprintf(what, sizeof(what), "flowpind start + first sync, %s (%d routes)",
		 b.table, b.routes);
	snprintf(val, sizeof(val), "%.2f s", d->ready_s);
	snprintf(rss, sizeof(rss), "RSS %.1f MiB (peak %.1f)", d->rss_kb / 1024.0,
		 d->hwm_kb / 1024.0);
	row("4", what, val, rss, b.routes >= 750000 ? "<= 3 s" : NULL,
	    b.routes >= 750000 ? (d->ready_s <= 3 ? "yes" : "NO") : NULL);
	say("flowpind ready after %.2f s, VmRSS %ld kB, VmHWM %ld kB\n",
	    d->ready_s, d->rss_kb, d->hwm_kb);
}

/*
 * Section 1 on the current table: one flow (everything hot), one flow per
 * destination (the pins stay in the CPU's caches, the FIB walks 4096
 * places of the trie), and a million (neither fits).
 */
static void cost_rows(void)
{
	bench_cost(&b, 1);
	bench_cost(&b, 1U << 12);
	if (!b.smoke)
		bench_cost(&b, 1U << 20);
}

/* Section 6 on the current table: the cache models, then 1M and 10M flows. */
static void model_rows(void)
{
	bench_models(&b, 1U << 12);
	if (!b.smoke) {
		bench_models(&b, 1U << 20);
		bench_models(&b, 10000000);
	}
}

/* flowpind on the current table: start time, pps, change latency. */
static int with_daemon(const char *tag, int changes)
{
	struct daemon_proc d;
	int err = daemon_start(&b, &d, tag);

	if (!check(&b, !err, "flowpind did not start (%s)", tag))
		return -1;
	running = &d;
	if (SECTION(&b, 4))
		startup_row(&d);
	if (SECTION(&b, 2))
		bench_pps(&b, &d);
	if (SECTION(&b, 4))
		bench_cp_latency(&b, &d, changes);
	daemon_stop(&d);
	running = NULL;
	return 0;
}

/* "1,4" -> bits 1 and 4; 0 on anything else */
static unsigned parse_sections(const char *s)
{
	unsigned bits = 0;

	for (; *s; s++) {
		if (*s >= '1' && *s <= '6')
			bits |= 1U << (*s - '0');
		else if (*s != ',')
			return 0;
	}
	return bits;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "build", required_argument, NULL, 'b' },
		{ "out", required_argument, NULL, 'o' },
		{ "routes", required_argument, NULL, 'r' },
		{ "sections", required_argument, NULL, 'S' },
		{ "keep", no_argument, NULL, 'k' },
		{ "daemon-verbose", no_argument, NULL, 'v' },
		{ "results", required_argument, NULL, 'R' },
		{ "compare", required_argument, NULL, 'C' },
		{ "threshold", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static const char usage[] =
		"usage: %s [--smoke] [--build DIR] [--out FILE] [--routes N] "
		"[--sections LIST] [--keep] [--daemon-verbose] [--results FILE] "
		"[--compare BASELINE [--threshold PCT]] [RESULTS]\n";
	const char *out = NULL, *results = NULL, *baseline = NULL;
	double threshold = 0.2;
	int worse = 0;
	int n_routes = 750000, c;
	char before[256], after[256];
	double t0 = now_s();

	b.build = "build";
	b.sections = ~0U;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': b.smoke = true; break;
		case 'b': b.build = optarg; break;
		case 'o': out = optarg; break;
		case 'r': n_routes = atoi(optarg); break;
		case 'S':
			b.sections = parse_sections(optarg);
			if (!b.sections) {
				fprintf(stderr, "flowpin_bench: --sections takes numbers 1-6, as in 1,4\n");
				return 2;
			}
			break;
		case 'k': b.keep = true; break;
		case 'v': b.daemon_verbose = true; break;
		case 'R': results = optarg; break;
		case 'C': baseline = optarg; break;
		case 'T': threshold = atof(optarg) / 100; break;
		case 'h':
			printf(usage, argv[0]);
			printf("Sections: 1 ns/packet, 2 pps, 3 memory, 4 control plane, 5 pin sync,\n"
			       "6 cache structures side by side.\n");
			return 0;
		default:
			fprintf(stderr, usage, argv[0]);
			return 2;
		}
	}
	if (optind < argc) { /* compare two result files, run nothing */
		if (!baseline || optind + 1 != argc) {
			fprintf(stderr, "flowpin_bench: RESULTS goes with --compare BASELINE\n");
			return 2;
		}
		worse = compare_figures(baseline, argv[optind], threshold);
		if (worse < 0)
			fprintf(stderr, "flowpin_bench: cannot read %s or %s: %s\n",
				baseline, argv[optind], strerror(-worse));
		return worse < 0 ? 1 : worse ? 3 : 0;
	}
	if (geteuid()) {
		fprintf(stderr, "flowpin_bench: needs root\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(b.tmp, sizeof(b.tmp), "/tmp/fpb-%d", getpid());
	snprintf(b.pin_base, sizeof(b.pin_base), "/sys/fs/bpf/fpb-%d", getpid());
	if (sh("mkdir -p '%s'", b.tmp))
		return 1;
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	machine(before, sizeof(before));
	say("machine: %s\n", before);

	if (b.smoke)
		check(&b, !compare_selftest(),
		      "bench-compare: made-up figures compare wrongly");
	if (router_create() || bench_router(&b)) {
		check(&b, false, "cannot build the router namespace");
		goto done;
	}
	if (SECTION(&b, 3))
		bench_mem(&b);
	if (SECTION(&b, 1))
		cost_rows();
	if (SECTION(&b, 6))
		model_rows();
	if (SECTION(&b, 2) || SECTION(&b, 4))
		with_daemon("small", b.smoke ? 30 : 1000);
	if (SECTION(&b, 5))
		bench_sync(&b);
	/* memory (3) does not depend on the routes */
	if (!b.smoke && n_routes > 0 &&
	    (SECTION(&b, 1) || SECTION(&b, 2) || SECTION(&b, 4) ||
	     SECTION(&b, 6))) {
		if (!check(&b, !bench_big_table(&b, n_routes), "cannot add %d routes",
			   n_routes))
			goto done;
		if (SECTION(&b, 1))
			cost_rows();
		if (SECTION(&b, 6))
			model_rows();
		if (SECTION(&b, 2) || SECTION(&b, 4))
			with_daemon("big", 300);
	}
done:
	router_destroy();
	machine(after, sizeof(after));
	printf("\nflowpin bench%s, %.0f s\n", b.smoke ? " (smoke sizes)" : "",
	       now_s() - t0);
	printf("machine: %s\n", before);
	printf("load average at the end: %s\n\n", strstr(after, "load average") ?
	       strstr(after, "load average") + strlen("load average ") : "?");
	print_table(stdout);
	if (out) {
		FILE *f = fopen(out, "w");

		if (f) {
			fprintf(f, "machine: %s\n\n", before);
			print_table(f);
			fclose(f);
		}
	}
	if (results && write_figures(results))
		check(&b, false, "cannot write %s", results);
	if (baseline) {
		worse = compare_figures(baseline, NULL, threshold);
		if (worse < 0)
			check(&b, false, "bench-compare: cannot read %s: %s", baseline,
			      strerror(-worse));
	}
	printf("\nchecks: %d passed, %d failed", b.checks_passed, b.checks_failed);
	if (b.skipped)
		printf(", %d sections skipped (%s)", b.skipped, b.skip_why);
	printf("\n");
	if (b.smoke) {
		/* tests/run-all counts a skip as a skip, with its reason */
		printf("bench_smoke: %d passed, %d failed", b.checks_passed,
		       b.checks_failed);
		if (b.skipped)
			printf(", %d skipped (%s)", b.skipped, b.skip_why);
		printf("\n");
	}
	return b.checks_failed ? 1 : worse > 0 ? 3 : 0;
}
