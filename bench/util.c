// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/wait.h>

#include "bench.h"
#include "netns.h"

#define MAX_ROWS 128

struct table_row {
	char section[8], what[192], value[48], ratio[48], target[32], met[24];
};

static struct table_row rows[MAX_ROWS];
static int n_rows;

static void target_figure(const char *section, const char *what,
			  const char *met);

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

void row(const char *section, const char *what, const char *value,
	 const char *ratio, const char *target, const char *met)
{
	struct table_row *r;

	if (n_rows == MAX_ROWS)
		return;
	r = &rows[n_rows++];
	copy(r->section, sizeof(r->section), section);
	copy(r->what, sizeof(r->what), what);
	copy(r->value, sizeof(r->value), value);
	copy(r->ratio, sizeof(r->ratio), ratio);
	copy(r->target, sizeof(r->target), target);
	copy(r->met, sizeof(r->met), met);
	if (target && met)
		target_figure(section, what, met);
}

void print_table(FILE *f)
{
	fprintf(f, "| # | measure | value | ratio | target | met |\n");
	fprintf(f, "|---|---|---:|---:|---|---|\n");
	for (int i = 0; i < n_rows; i++)
		fprintf(f, "| %s | %s | %s | %s | %s | %s |\n", rows[i].section,
			rows[i].what, rows[i].value, rows[i].ratio,
			rows[i].target, rows[i].met);
}

/* --- make bench-compare --- */

#define MAX_FIGURES 160

struct fig {
	char section[8];
	char name[128];
	double value;
	char better[8]; /* "lower", "higher" or "target" (value: 1 met, 0 not) */
	double floor;
};

struct figs {
	struct fig v[MAX_FIGURES];
	int n;
};

static struct figs run_figs;

static void fig_add(struct figs *f, const char *section, const char *name,
		    double value, const char *better, double floor)
{
	struct fig *x;

	if (f->n == MAX_FIGURES)
		return;
	x = &f->v[f->n++];
	copy(x->section, sizeof(x->section), section);
	copy(x->name, sizeof(x->name), name);
	copy(x->better, sizeof(x->better), better);
	x->value = value;
	x->floor = floor;
}

void figure(const char *section, const char *name, double value,
	    enum better better, double floor)
{
	if (isfinite(value))
		fig_add(&run_figs, section, name, value,
			better == LOWER ? "lower" : "higher", floor);
}

/* A row's target, named by the row without its parenthesised figures. */
static void target_figure(const char *section, const char *what,
			  const char *met)
{
	char name[128];
	size_t k = 0;
	int depth = 0;

	for (const char *p = what; *p && k < sizeof(name) - 1; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth)
			depth--;
		else if (!depth && !(*p == ' ' && (p[1] == '(' || p[1] == ',')))
			name[k++] = *p;
	}
	while (k && name[k - 1] == ' ')
		k--;
	name[k] = 0;
	fig_add(&run_figs, section, name, !strncmp(met, "yes", 3), "target", 0);
}

int write_figures(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "# flowpin_bench figures for make bench-compare: section, figure, value, better, floor\n");
	for (int i = 0; i < run_figs.n; i++) {
		const struct fig *x = &run_figs.v[i];

		fprintf(f, "%s\t%s\t%.4g\t%s\t%g\n", x->section, x->name, x->value,
			x->better, x->floor);
	}
	return fclose(f) ? -errno : 0;
}

static int read_figures(const char *path, struct figs *out)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	out->n = 0;
	while (fgets(line, sizeof(line), f)) {
		char *field[5], *save = NULL, *p = line;
		int n = 0;

		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#' || !line[0])
			continue;
		for (; n < 5 && (field[n] = strtok_r(p, "\t", &save)); n++)
			p = NULL;
		if (n != 5)
			continue;
		fig_add(out, field[0], field[1], atof(field[2]), field[3],
			atof(field[4]));
	}
	fclose(f);
	return 0;
}

static const struct fig *fig_find(const struct figs *f, const struct fig *like)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].section, like->section) &&
		    !strcmp(f->v[i].name, like->name) &&
		    !strcmp(f->v[i].better, like->better))
			return &f->v[i];
	return NULL;
}

/* How many times worse now is than then (1: the same; below 1: better). */
static double worse_by(const struct fig *then, const struct fig *now)
{
	double a = then->value > then->floor ? then->value : then->floor;
	double b = now->value > now->floor ? now->value : now->floor;

	if (a <= 0 || b <= 0)
		return a == b ? 1 : INFINITY;
	return !strcmp(now->better, "higher") ? a / b : b / a;
}

static int compare_sets(const struct figs *base, const struct figs *run,
			double threshold, FILE *out)
{
	int worse = 0, compared = 0, missing = 0;

	for (int i = 0; i < base->n; i++) {
		const struct fig *then = &base->v[i], *now = fig_find(run, then);

		if (!now) {
			missing++;
			continue;
		}
		compared++;
		if (!strcmp(then->better, "target")) {
			if (then->value && !now->value) {
				fprintf(out, "  MISSED  %s | %s: target met in the baseline, not now\n",
					then->section, then->name);
				worse++;
			}
			continue;
		}
		if (worse_by(then, now) > 1 + threshold) {
			fprintf(out, "  WORSE   %s | %s: %.4g -> %.4g (%.2fx worse, %s is better)\n",
				then->section, then->name, then->value, now->value,
				worse_by(then, now), then->better);
			worse++;
		}
	}
	fprintf(out, "bench-compare: %d figures compared, %d more than %.0f%% worse or missed targets",
		compared, worse, threshold * 100);
	if (missing)
		fprintf(out, "; %d of the baseline not in this run (sections or tables not run)",
			missing);
	fprintf(out, "\n");
	return worse;
}

int compare_figures(const char *base_path, const char *run_path,
		    double threshold)
{
	static struct figs base, other;
	int err = read_figures(base_path, &base);

	if (err)
		return err;
	if (run_path) {
		err = read_figures(run_path, &other);
		if (err)
			return err;
	}
	printf("\nbench-compare: %s against %s\n", run_path ? run_path : "this run",
	       base_path);
	return compare_sets(&base, run_path ? &other : &run_figs, threshold, stdout);
}

int compare_selftest(void)
{
	static struct figs base, run;
	FILE *devnull = fopen("/dev/null", "w");
	int same, worse;

	if (!devnull)
		return -errno;
	base.n = run.n = 0;
	fig_add(&base, "1", "hit / ref", 0.50, "lower", 0);
	fig_add(&base, "2", "flowpin / kernel", 3.0, "higher", 0);
	fig_add(&base, "4", "latency ms", 0.20, "lower", 1.0);
	fig_add(&base, "4", "p99 <= 2 ms", 1, "target", 0);
	/* within the threshold, and under a floor: nothing */
	fig_add(&run, "1", "hit / ref", 0.59, "lower", 0);
	fig_add(&run, "2", "flowpin / kernel", 2.6, "higher", 0);
	fig_add(&run, "4", "latency ms", 0.90, "lower", 1.0);
	fig_add(&run, "4", "p99 <= 2 ms", 1, "target", 0);
	same = compare_sets(&base, &run, 0.2, devnull);
	/* each of them worse */
	run.n = 0;
	fig_add(&run, "1", "hit / ref", 0.61, "lower", 0);
	fig_add(&run, "2", "flowpin / kernel", 2.4, "higher", 0);
	fig_add(&run, "4", "latency ms", 1.25, "lower", 1.0);
	fig_add(&run, "4", "p99 <= 2 ms", 0, "target", 0);
	worse = compare_sets(&base, &run, 0.2, devnull);
	fclose(devnull);
	return same == 0 && worse == 4 ? 0 : -EINVAL;
}

void skip_section(struct bench *b, const char *section, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	say("section %s skipped: %s\n", section, why);
	if (!b->skipped++)
		copy(b->skip_why, sizeof(b->skip_why), why);
	row(section, why, "skipped", NULL, NULL, NULL);
}

bool check(struct bench *b, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		b->checks_passed++;
		return true;
	}
	b->checks_failed++;
	fprintf(stderr, "CHECK FAILED: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double percentile(double *v, int n, double p)
{
	double *s;
	double r;
	int i;

	if (n <= 0)
		return NAN;
	s = malloc(n * sizeof(*s));
	if (!s)
		return NAN;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	i = (int)ceil(p * n) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	r = s[i];
	if (p == 0.5 && !(n & 1))
		r = (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return r;
}

double median(double *v, int n)
{
	return percentile(v, n, 0.5);
}

void run_anywhere(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE && c < sysconf(_SC_NPROCESSORS_CONF); c++)
		CPU_SET(c, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

#define PATHS4 "nexthop via 10.0.1.2 dev out1 nexthop via 10.0.2.2 dev out2 " \
	       "nexthop via 10.0.3.2 dev out3 nexthop via 10.0.4.2 dev out4"

/*
 * Gateways' neighbour entries as NOARP, not PERMANENT: flowpind's NTF_USE
 * keep-alive clears NUD_PERMANENT on this kernel (neigh_add() with
 * NEIGH_UPDATE_F_USE), the entry then probes a gateway that does not exist
 * and fails within seconds, and every next hop goes dead. NOARP keeps.
 */
static int neigh_noarp(void)
{
	return sh("for i in 1 2 3 4 5; do "
		  "ip neigh replace 10.0.$i.2 lladdr 02:00:00:00:0$i:02 dev out$i nud noarp && "
		  "ip neigh replace fd00:$i::2 lladdr 02:00:00:00:0$i:02 dev out$i nud noarp || exit 1; done; "
		  "ip neigh replace 10.0.5.4 lladdr 02:00:00:00:05:04 dev out5 nud noarp && "
		  "ip neigh replace 10.0.0.2 lladdr 02:00:00:00:00:fe dev in0 nud noarp && "
		  "ip neigh replace 2001:db8::2 lladdr 02:00:00:00:00:fe dev in0 nud noarp && "
		  "for h in 20 21 30 31 40; do ip neigh replace 10.0.5.$h lladdr 02:00:00:00:05:$h "
		  "dev out5 nud noarp || exit 1; done");
}

int bench_router(struct bench *b)
{
	int err = neigh_noarp() ||
		  sh("ip route add 100.64.0.0/16 " PATHS4) ||
		  /* gateways and routes only the control-plane test changes */
		  sh("ip route add 198.19.0.0/24 nexthop via 10.0.5.20 dev out5 nexthop via 10.0.5.21 dev out5") ||
		  sh("ip nexthop add id 901 via 10.0.5.30 dev out5") ||
		  sh("ip route add 198.19.1.0/24 nhid 901") ||
		  sh("ip route add 198.19.2.0/24 via 10.0.5.40 dev out5") ||
		  /* veth delivers to a peer without XDP only with GRO on */
		  sh("ethtool -K in0 gro on >/dev/null");

	if (err)
		return -1;
	for (int i = 0; i < BENCH_NDST; i++)
		b->dsts[i] = htonl(0x64400000 | i); /* 100.64.0.0 + i */
	b->table = "10 routes";
	b->routes = count_routes();
	return 0;
}

int count_routes(void)
{
	FILE *p = popen("ip -4 -o route show table main | wc -l", "r");
	int n = -1;

	if (!p)
		return -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

static __u64 rng_state = 0x9e3779b97f4a7c15ULL;

static __u64 rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static bool first_octet_ok(unsigned a)
{
	/* keep clear of the bench's own routes and of special ranges */
	static const unsigned char skip[] = { 0, 10, 100, 127, 169, 172, 192, 198, 203 };

	if (a == 0 || a >= 224)
		return false;
	for (size_t i = 0; i < sizeof(skip); i++)
		if (a == skip[i])
			return false;
	return true;
}

/*
 * A table shaped like the Internet's: about 60% /24, the rest /23 to /16,
 * all over the 4-way multipath. Two `ip -batch` run at once (the parsing
 * is most of ip's time; the kernel serialises the inserts).
 */
int bench_big_table(struct bench *b, int n)
{
	static const int lens[] = { 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
				    23, 23, 22, 22, 22, 21, 20, 19 };
	__u32 *pfx = malloc(n * sizeof(*pfx));
	__u8 *plen = malloc(n);
	__u8 *seen[33] = {};
	char path[2][128];
	FILE *f[2];
	int have = 0, err = -1;
	double t0;

	if (!pfx || !plen)
		goto out;
	for (int i = 0; i < 2; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/routes%d.batch", b->tmp, i);
		f[i] = fopen(path[i], "w");
		if (!f[i])
			goto out;
	}
	while (have < n) {
		int len = lens[rnd() % (sizeof(lens) / sizeof(lens[0]))];
		__u32 a = rnd() >> 32, idx;

		if (len == 19)
			len = 16 + rnd() % 4;
		if (!first_octet_ok(a >> 24))
			continue;
		a &= ~0U << (32 - len);
		idx = a >> (32 - len);
		if (!seen[len] && !(seen[len] = calloc((1U << len) / 8, 1)))
			goto close;
		if (seen[len][idx / 8] & (1 << (idx % 8)))
			continue;
		seen[len][idx / 8] |= 1 << (idx % 8);
		pfx[have] = a;
		plen[have] = len;
		fprintf(f[have & 1], "route add %u.%u.%u.%u/%d " PATHS4 "\n",
			a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, len);
		have++;
	}
	for (int i = 0; i < BENCH_NDST; i++) {
		__u32 k = rnd() % n;
		__u32 host = rnd() & ~(~0U << (32 - plen[k]));

		b->dsts[i] = htonl(pfx[k] | host);
	}
close:
	fclose(f[0]);
	fclose(f[1]);
	if (have < n)
		goto out;
	say("adding %d routes with ip -batch ...\n", n);
	t0 = now_s();
	err = sh("ip -batch %s & p=$!; ip -batch %s; r=$?; wait $p && [ $r = 0 ]",
		 path[0], path[1]);
	b->routes = count_routes();
	say("  %.1f s, %d routes in the main table\n", now_s() - t0, b->routes);
	b->table = "750k routes";
	if (!err && b->routes < n)
		err = -1;
out:
	for (int i = 0; i <= 32; i++)
		free(seen[i]);
	free(pfx);
	free(plen);
	return err;
}

static void read_status(pid_t pid, long *rss, long *hwm)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", rss);
		sscanf(line, "VmHWM: %ld", hwm);
	}
	fclose(f);
}

static bool file_has(const char *path, const char *s)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return strstr(buf, s);
}

int daemon_start(struct bench *b, struct daemon_proc *d, const char *tag)
{
	char bin[256];
	double t0;
	int status;

	memset(d, 0, sizeof(*d));
	snprintf(d->pin, sizeof(d->pin), "%s-%s", b->pin_base, tag);
	snprintf(d->log, sizeof(d->log), "%s/flowpind-%s.log", b->tmp, tag);
	snprintf(bin, sizeof(bin), "%s/flowpind", b->build);
	t0 = now_s();
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (!d->pid) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		run_anywhere();
		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		/* native XDP: what the bench measures (auto picks tc on veth) */
		char *argv[64] = { "flowpind", "-m", "native", "-p", d->pin, "in0",
				   "out1", "out2", "out3", "out4", "out5" };
		int argc = 11;

		if (b->daemon_verbose)
			argv[argc++] = "-v";
		for (int i = 0; b->daemon_extra && b->daemon_extra[i]; i++) {
			if (argc == 63) {
				fprintf(stderr, "flowpin_bench: too many flowpind options\n");
				_exit(127);
			}
			argv[argc++] = (char *)b->daemon_extra[i];
		}
		argv[argc] = NULL;
		/* as dist/flowpind.service runs it */
		setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
		execv(bin, argv);
		_exit(127);
	}
	while (now_s() - t0 < 120) {
		if (file_has(d->log, "ready:")) {
			d->ready_s = now_s() - t0;
			read_status(d->pid, &d->rss_kb, &d->hwm_kb);
			return 0;
		}
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			break;
		}
		sleep_us(1000);
	}
	say("flowpind did not get ready; its log (%s):\n", d->log);
	sh("tail -n 5 %s >&2", d->log);
	daemon_stop(d);
	return -1;
}

void daemon_stop(struct daemon_proc *d)
{
	int status;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		for (int i = 0; i < 500; i++) {
			if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
				d->pid = 0;
				break;
			}
			sleep_us(10000);
		}
		if (d->pid > 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
		}
		d->pid = 0;
	}
	if (d->pin[0])
		sh("rm -rf '%s'", d->pin);
	d->pin[0] = 0;
}
