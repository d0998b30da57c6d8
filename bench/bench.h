/* SPDX-License-Identifier: GPL-2.0 */
/* flowpin_bench: the sections of make bench, and what they share. */
#ifndef FLOWPIN_BENCH_H
#define FLOWPIN_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#include "bench_frames.h"
#include "packets.h" /* PKT_MAX */

#define BENCH_CPU 1 /* the CPU BPF_PROG_TEST_RUN runs on */

#define SECTION(b, n) ((b)->sections & (1U << (n)))

struct bench {
	bool smoke;
	unsigned sections;     /* bit N: run section N (default: all) */
	bool keep;	       /* keep tmp (flowpind's logs) at the end */
	bool daemon_verbose;   /* run flowpind with -v */
	const char *build;     /* where flowpind is */
	char tmp[64];	       /* /tmp/fpb-PID: route files, logs */
	char pin_base[64];     /* /sys/fs/bpf/fpb-PID: flowpind's pins */
	int routes;	       /* routes in the main table, as counted */
	__be32 dsts[BENCH_NDST]; /* destinations of the table in use */
	const char *table;     /* "10 routes" or "750k routes" */
	int checks_failed, checks_passed;
	int skipped;	       /* sections that could not run */
	char skip_why[160];    /* the first one's reason */
	const char *const *daemon_extra; /* more flowpind options; NULL-ended */
};

/* A line of the final table. */
void row(const char *section, const char *what, const char *value,
	 const char *ratio, const char *target, const char *met);
void print_table(FILE *f);

/*
 * Figures make bench-compare holds against the committed results
 * (bench/baseline.tsv): ratios within this run, or figures that do not
 * follow the machine's speed. Values below floor compare as floor.
 * Every row with a target is also kept: met, or not.
 */
enum better { LOWER, HIGHER };
void figure(const char *section, const char *name, double value,
	    enum better better, double floor);
/* Write this run's figures (tab-separated); 0 or -errno. */
int write_figures(const char *path);
/*
 * Compare a run (this one when run_path is NULL) with the baseline: print
 * each figure more than threshold (0.2: 20%) worse and each target met
 * there and missed here. Returns how many, or -errno.
 */
int compare_figures(const char *base_path, const char *run_path,
		    double threshold);
/* The comparison's own check, on made-up figures; 0 when it holds. */
int compare_selftest(void);

/* A section that cannot run here: said once, counted as skipped. */
void skip_section(struct bench *b, const char *section, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Count one verification; print what failed. */
bool check(struct bench *b, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

double now_s(void);
double median(double *v, int n);
double percentile(double *v, int n, double p);
void sleep_us(long us);
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Put this thread back on every CPU (children inherit it). */
void run_anywhere(void);

/* Router setup beyond tests/lib/fixture: the 10-route table's extras. */
int bench_router(struct bench *b);
/* Add the generated full-size table; fills b->dsts from it. */
int bench_big_table(struct bench *b, int n);
int count_routes(void);

/* flowpind as a child process, in this network namespace. */
struct daemon_proc {
	pid_t pid;
	char pin[96];
	char log[96];
	double ready_s;	 /* spawn -> "ready:" */
	long rss_kb, hwm_kb;
};
int daemon_start(struct bench *b, struct daemon_proc *d, const char *tag);
void daemon_stop(struct daemon_proc *d);

/* A test run through the driver (driver.c): what the program under test made. */
struct run_result {
	__u32 ns;     /* the kernel's average per iteration */
	__u32 retval; /* the last iteration's verdict */
	__u8 out[PKT_MAX];
	__u32 out_len;
};
struct bench_driver;
/* repeat iterations of target over flows base .. base + mask round robin,
 * or (new_flows) base, base + 1, ...; 0 or -errno */
int driver_run(struct bench_driver *drv, const __u8 *frame, __u32 len,
	       enum bench_target target, __u64 base, __u32 mask,
	       bool new_flows, __u32 repeat, struct run_result *r);
/* A forwarded frame: to a gateway's MAC, TTL 63, checksum still valid. */
bool forwarded_ok(const struct run_result *r);
/* The key of the driver's flow number flow, on the current table. */
void flow_key_of(const struct bench *b, __u64 flow, struct flow_key *k);

/* maps.c: a per-CPU value of key summed over every CPU (0 if unread) */
__u64 percpu_sum(int fd, __u32 key);
/* the bytes the kernel counts for a map (its fdinfo's memlock), or -1 */
long long map_memlock(int fd);
/* the router's out1..out5 into a devmap keyed by ifindex; 0 or -errno */
int tx_ports_fill(int fd);

/* The sections. */
/* Section 1 with this many flows, round robin (1, 4096, 1M). */
int bench_cost(struct bench *b, __u32 flows);
int bench_pps(struct bench *b, struct daemon_proc *d);
int bench_mem(struct bench *b);
int bench_cp_latency(struct bench *b, struct daemon_proc *d, int changes);
int bench_sync(struct bench *b);
/* Section 6 with this many flows on the current table (4096, 1M, 10M). */
int bench_models(struct bench *b, __u32 flows);

#endif
