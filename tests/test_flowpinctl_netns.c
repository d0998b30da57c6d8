// SPDX-License-Identifier: GPL-2.0
/*
 * The built flowpinctl against real pins: the fixture's router namespace,
 * flows pinned by frames run through the program, the maps pinned to a
 * private folder of a bpffs. Checks tables and JSON (parsed back here)
 * against the maps, flush --nexthop removing exactly that next hop's flows,
 * errors as one line and a non-zero exit, and detach.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "fixture.h"
#include "flow_cache.h"
#include "tc_hook.h"
#include "flow_text.h"
#include "netns.h"

#define BPFFS "/sys/fs/bpf"
#define BPF_FS_MAGIC_ 0xcafe4a11
#define N4 48 /* IPv4 TCP flows */
#define N6 8  /* IPv6 TCP flows */
#define NFLOWS (N4 + N6 + 2) /* and one UDP, one ICMP */
#define FLUSH_EGRESS 2
#define STALE_EGRESS 4 /* 10.0.4.2 */

struct pinned_flow {
	struct flow_key key;
	__u32 nh_id;
	char text[FLOW_TEXT_MAX];
};

static struct {
	struct flowpin_fixture fx;
	struct pinned_flow flows[NFLOWS];
	char pin_dir[64];
	int lock_fd; /* held on pin_dir, as a running flowpind holds it */
	char ctl_bin[PATH_MAX];
	bool mounted;
	__u32 prog_id;
	char *out, *err; /* of the last run */
} T;

static const char *const map_names[] = {
	"flow_cache", "flow_cache_tags", "flow_pins", "nexthops",
	"nexthop_index", "tx_ports", "stats", "daemon_status",
};

/* ---- a small JSON reader, to parse flowpinctl -j back ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype t;
	bool b;
	double num;
	char *str;
	int n;
	char **names;
	struct jval **items;
};

static void json_free(struct jval *v)
{
	if (!v)
		return;
	for (int i = 0; i < v->n; i++) {
		json_free(v->items[i]);
		if (v->names)
			free(v->names[i]);
	}
	free(v->items);
	free(v->names);
	free(v->str);
	free(v);
}

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
		(*p)++;
}

static char *parse_str(const char **p)
{
	size_t cap = 16, len = 0;
	char *s = malloc(cap);

	if (**p != '"')
		goto fail;
	for ((*p)++; **p != '"'; (*p)++) {
		char c = **p;

		if (!c || (unsigned char)c < 0x20)
			goto fail;
		if (c == '\\') {
			(*p)++;
			switch (**p) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case '"': case '\\': case '/': c = **p; break;
			case 'u': {
				unsigned int u;

				if (sscanf(*p + 1, "%4x", &u) != 1 || u > 0x7f)
					goto fail;
				c = u;
				*p += 4;
				break;
			}
			default:
				goto fail;
			}
		}
		if (len + 2 > cap)
			s = realloc(s, cap *= 2);
		s[len++] = c;
	}
	(*p)++;
	s[len] = '\0';
	return s;
fail:
	free(s);
	return NULL;
}

static struct jval *parse_value(const char **p, int depth);

static bool add_item(struct jval *v, char *name, struct jval *item)
{
	if (!item)
		return false;
	v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
	if (v->t == J_OBJ) {
		v->names = realloc(v->names, (v->n + 1) * sizeof(*v->names));
		v->names[v->n] = name;
	}
	v->items[v->n++] = item;
	return true;
}

static struct jval *parse_container(const char **p, int depth, bool obj)
{
	struct jval *v = calloc(1, sizeof(*v));
	char *name = NULL;

	v->t = obj ? J_OBJ : J_ARR;
	(*p)++;
	skip_ws(p);
	if (**p == (obj ? '}' : ']')) {
		(*p)++;
		return v;
	}
	for (;;) {
		skip_ws(p);
		if (obj) {
			name = parse_str(p);
			skip_ws(p);
			if (!name || **p != ':')
				goto fail;
			(*p)++;
		}
		if (!add_item(v, name, parse_value(p, depth + 1)))
			goto fail;
		name = NULL;
		skip_ws(p);
		if (**p == ',') {
			(*p)++;
			continue;
		}
		if (**p != (obj ? '}' : ']'))
			goto fail;
		(*p)++;
		return v;
	}
fail:
	free(name);
	json_free(v);
	return NULL;
}

static struct jval *parse_value(const char **p, int depth)
{
	struct jval *v;
	char *end;

	skip_ws(p);
	if (depth > 32)
		return NULL;
	if (**p == '{' || **p == '[')
		return parse_container(p, depth, **p == '{');
	v = calloc(1, sizeof(*v));
	if (**p == '"') {
		v->t = J_STR;
		v->str = parse_str(p);
		if (!v->str)
			goto fail;
	} else if (!strncmp(*p, "true", 4) || !strncmp(*p, "false", 5)) {
		v->t = J_BOOL;
		v->b = **p == 't';
		*p += v->b ? 4 : 5;
	} else if (!strncmp(*p, "null", 4)) {
		*p += 4;
	} else if (**p == '-' || (**p >= '0' && **p <= '9')) {
		v->t = J_NUM;
		v->num = strtod(*p, &end);
		*p = end;
	} else {
		goto fail;
	}
	return v;
fail:
	json_free(v);
	return NULL;
}

/* One JSON value and nothing after it; NULL if it is not valid JSON. */
static struct jval *json_parse(const char *s)
{
	struct jval *v = parse_value(&s, 0);

	skip_ws(&s);
	if (v && *s) {
		json_free(v);
		return NULL;
	}
	return v;
}

static const struct jval *jget(const struct jval *o, const char *name)
{
	if (!o || o->t != J_OBJ)
		return NULL;
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->names[i], name))
			return o->items[i];
	return NULL;
}

static double jnum(const struct jval *o, const char *name)
{
	const struct jval *v = jget(o, name);

	assert_non_null(v);
	assert_int_equal(v->t, J_NUM);
	return v->num;
}

static const char *jstr(const struct jval *o, const char *name)
{
	const struct jval *v = jget(o, name);

	assert_non_null(v);
	assert_int_equal(v->t, J_STR);
	return v->str;
}

static bool jbool(const struct jval *o, const char *name)
{
	const struct jval *v = jget(o, name);

	assert_non_null(v);
	assert_int_equal(v->t, J_BOOL);
	return v->b;
}

/* ---- running flowpinctl ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap);

	if (!f) {
		buf[0] = '\0';
		return buf;
	}
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* flowpinctl -p PIN_DIR ARGS; T.out and T.err hold what it printed. */
static int ctl(const char *fmt, ...)
{
	char args[512], cmd[PATH_MAX + 1024], out[] = "/tmp/fpctl-out-XXXXXX",
					err[] = "/tmp/fpctl-err-XXXXXX";
	va_list ap;
	int rc, fo = mkstemp(out), fe = mkstemp(err);

	assert_true(fo >= 0 && fe >= 0);
	close(fo);
	close(fe);
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s -p %s %s >%s 2>%s", T.ctl_bin,
		 T.pin_dir, args, out, err);
	rc = system(cmd);
	free(T.out);
	free(T.err);
	T.out = slurp(out);
	T.err = slurp(err);
	unlink(out);
	unlink(err);
	if (getenv("FLOWPINCTL_TEST_SHOW")) /* to see what flowpinctl prints */
		print_message("$ flowpinctl %s\n%s%s", args, T.out, T.err);
	assert_true(WIFEXITED(rc));
	return WEXITSTATUS(rc);
}

/* flowpinctl -j ARGS, which must succeed and print valid JSON. */
static struct jval *ctl_json(const char *args)
{
	struct jval *v;

	if (ctl("-j %s", args)) {
		print_message("flowpinctl -j %s: %s", args, T.err);
		fail();
	}
	v = json_parse(T.out);
	if (!v)
		print_message("not JSON: %s\n", T.out);
	assert_non_null(v);
	return v;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The line of a table that starts with this word, NULL if none. */
static const char *line_starting(const char *s, const char *word)
{
	size_t len = strlen(word);

	for (const char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, word, len) && (l[len] == ' ' || l[len] == '\n'))
			return l;
	return NULL;
}

/* ---- setup ---- */

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC_;
}

/* Two packets: the first pins the flow, the second puts it in cpu's cache. */
static int pin_flow(struct pinned_flow *pf, const struct pkt_spec *s, int cpu)
{
	__u8 in[PKT_MAX], out[PKT_MAX];
	size_t len = pkt_build(s, in);
	__u32 out_len;

	if (run_on_cpu(cpu))
		return -1;
	for (int i = 0; i < 2; i++)
		if (fixture_run(&T.fx, in, len, out, &out_len, rt.ifindex_in0) !=
		    XDP_REDIRECT)
			return -1;
	pkt_flow_key(s, &pf->key);
	pf->nh_id = pin_of(&T.fx, &pf->key);
	flow_format(&pf->key, pf->text, sizeof(pf->text));
	return pf->nh_id ? 0 : -1;
}

static int pin_all_flows(void)
{
	struct pkt_spec s = { .proto = IPPROTO_TCP, .dport = 443,
			      .tcp_flags = 0x02 };
	int i, n = 0;

	for (i = 0; i < N4 + N6; i++) {
		s.family = i < N4 ? 4 : 6;
		s.src = i < N4 ? CLIENT4 : CLIENT6;
		s.dst = i < N4 ? SVC4 : SVC6;
		s.sport = 41000 + i;
		if (pin_flow(&T.flows[n++], &s, i & 1))
			return -1;
	}
	s = (struct pkt_spec){ .family = 4, .proto = IPPROTO_UDP,
			       .src = CLIENT4, .dst = SVC4, .sport = 5353,
			       .dport = 53 };
	if (pin_flow(&T.flows[n++], &s, 0))
		return -1;
	s = (struct pkt_spec){ .family = 4, .proto = IPPROTO_ICMP,
			       .src = CLIENT4, .dst = SVC4, .icmp_type = 8 };
	return pin_flow(&T.flows[n++], &s, 1);
}

static int pin_maps(void)
{
	struct bpf_object *obj = T.fx.skel->obj;
	char path[128];

	snprintf(T.pin_dir, sizeof(T.pin_dir), BPFFS "/fpctl-test-XXXXXX");
	if (!mkdtemp(T.pin_dir))
		return -errno;
	chmod(T.pin_dir, 0700);
	for (size_t i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, map_names[i]);

		snprintf(path, sizeof(path), "%s/%s", T.pin_dir, map_names[i]);
		if (!m || bpf_obj_pin(bpf_map__fd(m), path))
			return -1;
	}
	T.lock_fd = open(T.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (T.lock_fd < 0 || flock(T.lock_fd, LOCK_EX | LOCK_NB))
		return -1;
	return 0;
}

static void unpin_maps(void)
{
	char path[128];

	if (!T.pin_dir[0])
		return;
	for (size_t i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", T.pin_dir, map_names[i]);
		unlink(path);
	}
	if (T.lock_fd > 0)
		close(T.lock_fd);
	if (rmdir(T.pin_dir))
		fprintf(stderr, "rmdir %s: %s\n", T.pin_dir, strerror(errno));
}

static int write_daemon_status_layout(__u32 layout)
{
	struct daemon_status ds = {
		.layout = layout,
		.pid = getpid(),
		.withdrawn_policy = FP_WITHDRAWN_REPIN,
		.started_s = time(NULL) - 3700,
		.dumped_s = time(NULL) - 5,
		.xdp_mode = 1, /* XDP_MODE_NATIVE */
		.redumps = 2,
	};
	__u32 key = 0;

	return bpf_map_update_elem(bpf_map__fd(T.fx.skel->maps.daemon_status),
				   &key, &ds, BPF_ANY);
}

static int write_daemon_status(void)
{
	return write_daemon_status_layout(FP_LAYOUT);
}

static int group_setup(void **state)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	char self[PATH_MAX];
	ssize_t n;

	(void)state;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -1;
	self[n] = '\0';
	snprintf(T.ctl_bin, sizeof(T.ctl_bin), "%s/flowpinctl", dirname(self));
	if (access(T.ctl_bin, X_OK)) {
		fprintf(stderr, "%s: %s\n", T.ctl_bin, strerror(errno));
		return -1;
	}
	if (!is_bpffs(BPFFS)) {
		if (mount("bpf", BPFFS, "bpf", 0, "mode=0700"))
			return -1;
		T.mounted = true;
	}
	if (router_create())
		return -1;
	/* both programs: flowpinctl is shown flowpin at tc ingress too */
	if (fixture_load_opts(&T.fx, &(struct fixture_opts){
				      .policy = FP_WITHDRAWN_DRAIN,
				      .cache_check_ns = FP_CACHE_CHECK_NS,
				      .both_programs = true }))
		return -1;
	if (bpf_obj_get_info_by_fd(T.fx.prog_fd, &info, &len))
		return -1;
	T.prog_id = info.id;
	if (pin_all_flows() || write_daemon_status() || pin_maps()) {
		fprintf(stderr, "setup: pinning flows or maps failed\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unpin_maps();
	if (T.fx.skel)
		fixture_unload(&T.fx);
	router_destroy();
	if (T.mounted)
		umount(BPFFS);
	free(T.out);
	free(T.err);
	return 0;
}

static int flows_on(__u32 nh_id)
{
	int n = 0;

	for (int i = 0; i < NFLOWS; i++)
		n += T.flows[i].nh_id == nh_id;
	return n;
}

static const struct pinned_flow *expected_flow(const char *text)
{
	for (int i = 0; i < NFLOWS; i++)
		if (!strcmp(T.flows[i].text, text))
			return &T.flows[i];
	return NULL;
}

/* ---- the tests ---- */

static void status_table_and_json(void **state)
{
	unsigned long long entries;
	const struct jval *ifs, *maps;
	struct jval *v;
	char want[64];
	const char *l;

	(void)state;
	assert_int_equal(ctl("status"), 0);
	snprintf(want, sizeof(want), "daemon:     running, pid %d, up 1h0", getpid());
	assert_non_null(strstr(T.out, want));
	assert_non_null(strstr(T.out, "policy repin, 2 resyncs"));
	snprintf(want, sizeof(want), "program:    flowpin, id %u\n", T.prog_id);
	assert_non_null(strstr(T.out, want));
	l = line_starting(T.out, "flow_pins");
	assert_non_null(l);
	assert_int_equal(sscanf(l, "flow_pins %*s %llu", &entries), 1);
	assert_int_equal(entries, NFLOWS);
	for (int i = 1; i <= N_OUT; i++) {
		snprintf(want, sizeof(want), "out%d", i);
		assert_non_null(line_starting(T.out, want));
	}

	/* its lock released, the daemon whose pid is still alive is gone */
	flock(T.lock_fd, LOCK_UN);
	v = ctl_json("status");
	assert_string_equal(jstr(jget(v, "daemon"), "state"), "gone");
	json_free(v);
	assert_int_equal(flock(T.lock_fd, LOCK_EX | LOCK_NB), 0);
	v = ctl_json("status");
	assert_string_equal(jstr(jget(v, "daemon"), "state"), "running");
	assert_int_equal(jnum(jget(v, "daemon"), "pid"), getpid());
	assert_string_equal(jstr(jget(v, "daemon"), "withdrawn_policy"), "repin");
	assert_int_equal(jnum(v, "prog_id"), T.prog_id);
	maps = jget(v, "maps");
	assert_int_equal(jnum(jget(maps, "flow_pins"), "entries"), NFLOWS);
	assert_int_equal(jnum(jget(maps, "flow_pins"), "max_entries"), 16384);
	assert_int_equal(jnum(jget(maps, "nexthops"), "entries"), 2 * N_OUT + 3);
	assert_int_equal(jnum(jget(maps, "tx_ports"), "entries"), N_OUT);
	ifs = jget(v, "interfaces");
	assert_non_null(ifs);
	assert_int_equal(ifs->n, N_OUT);
	for (int i = 0; i < ifs->n; i++)
		assert_false(jbool(ifs->items[i], "attached"));
	json_free(v);
}

static void stats_table_json_prometheus(void **state)
{
	__u64 sum[FP_STAT_MAX];
	const struct jval *c;
	unsigned long long n;
	struct jval *v;
	char want[128];
	const char *l;

	(void)state;
	fixture_stats(&T.fx, sum);
	assert_true(sum[FP_STAT_PACKETS] >= NFLOWS);
	assert_int_equal(ctl("stats"), 0);
	l = line_starting(T.out, "COUNTER");
	assert_non_null(l);
	l = line_starting(T.out, "pin_new");
	assert_non_null(l);
	assert_int_equal(sscanf(l, "pin_new %llu", &n), 1);
	assert_int_equal(n, sum[FP_STAT_PIN_NEW]);
	assert_int_equal(count_lines(T.out), FP_STAT_MAX + 2);

	v = ctl_json("stats");
	c = jget(v, "counters");
	assert_int_equal(c->n, FP_STAT_MAX);
	assert_int_equal(jnum(c, "packets"), sum[FP_STAT_PACKETS]);
	assert_int_equal(jnum(c, "forwarded"), sum[FP_STAT_FORWARDED]);
	assert_int_equal(jnum(c, "pass_nexthop_unknown"),
			 sum[FP_PASS_NEXTHOP_UNKNOWN]);
	json_free(v);

	assert_int_equal(ctl("stats --prometheus"), 0);
	snprintf(want, sizeof(want), "\nflowpin_packets_total %llu\n",
		 (unsigned long long)sum[FP_STAT_PACKETS]);
	assert_non_null(strstr(T.out, want));
	assert_non_null(strstr(T.out, "# TYPE flowpin_passed_total counter\n"));
	snprintf(want, sizeof(want), "flowpin_passed_total{reason=\"no_tx_port\"} %llu\n",
		 (unsigned long long)sum[FP_PASS_NO_TX_PORT]);
	assert_non_null(strstr(T.out, want));
	/* the gauges, read from the same maps: every flow is pinned */
	snprintf(want, sizeof(want), "\nflowpin_map_entries{map=\"flow_pins\"} %d\n",
		 NFLOWS);
	assert_non_null(strstr(T.out, want));
	assert_non_null(strstr(T.out, "\nflowpin_map_max_entries{map=\"flow_pins\"} "));
	assert_non_null(strstr(T.out, "\nflowpin_daemon_up "));
	assert_non_null(strstr(T.out, "\nflowpin_nexthops{state=\"active\"} "));

	/* two reports of rates, one JSON object a line */
	assert_int_equal(ctl("-j stats --interval 0.1 --count 2"), 0);
	assert_int_equal(count_lines(T.out), 2);
	*strchr(T.out, '\n') = '\0';
	v = json_parse(T.out);
	assert_non_null(v);
	assert_int_equal(jnum(jget(v, "per_second"), "packets"), 0);
	assert_true(jnum(v, "interval_s") >= 0.1);
	json_free(v);
}

/* Every row's column starts where its title does. */
static void assert_aligned(const char *out, const char *title)
{
	const char *col = strstr(out, title);
	size_t off = col - out;

	assert_non_null(col);
	for (const char *l = strchr(out, '\n') + 1; *l; l = strchr(l, '\n') + 1) {
		assert_true(strlen(l) > off);
		assert_true(l[off - 1] == ' ' && l[off] != ' ');
	}
}

static void flows_table(void **state)
{
	(void)state;
	assert_int_equal(ctl("flows"), 0);
	assert_int_equal(count_lines(T.out), NFLOWS + 1);
	assert_true(!strncmp(T.out, "PROTO ", 6));
	assert_aligned(T.out, "DESTINATION");
	assert_aligned(T.out, "NEXTHOP");
	assert_aligned(T.out, "PIN");
	assert_non_null(strstr(T.out, "[2001:db8::100]:41050"));
	assert_non_null(strstr(T.out, "icmp   10.0.0.100 "));

	assert_int_equal(ctl("flo --count"), 0); /* a prefix of flows */
	assert_int_equal(atoi(T.out), NFLOWS);
	assert_int_equal(ctl("flows --dst " SVC6_NET " --count"), 0);
	assert_int_equal(atoi(T.out), N6);
	assert_int_equal(ctl("flows --src 10.0.0.0/24 --dst=" SVC4 " --count"), 0);
	assert_int_equal(atoi(T.out), N4 + 2);
	assert_int_equal(ctl("flows --src 10.0.1.0/24 --count"), 0);
	assert_int_equal(atoi(T.out), 0);
	assert_int_equal(ctl("flows --limit 5"), 0);
	assert_int_equal(count_lines(T.out), 6);
}

static void flows_json(void **state)
{
	char gw[ADDR_TEXT_MAX];
	bool seen[NFLOWS] = {};
	struct jval *v;

	(void)state;
	v = ctl_json("flows");
	assert_int_equal(v->t, J_ARR);
	assert_int_equal(v->n, NFLOWS);
	for (int i = 0; i < v->n; i++) {
		const struct jval *f = v->items[i];
		const struct pinned_flow *pf = expected_flow(jstr(f, "flow"));
		const struct nexthop *nh;

		assert_non_null(pf);
		seen[pf - T.flows] = true;
		assert_int_equal(jnum(f, "nh_id"), pf->nh_id);
		assert_true(jbool(f, "valid"));
		nh = nexthop_table_get(&T.fx.nht, pf->nh_id);
		addr_format(nh->family, nh->gw, gw, sizeof(gw));
		assert_string_equal(jstr(f, "nexthop"), gw);
		assert_string_equal(jstr(f, "state"), "active");
	}
	for (int i = 0; i < NFLOWS; i++)
		assert_true(seen[i]);
	json_free(v);

	/* --nexthop: exactly the flows pinned there */
	v = ctl_json("flows --nexthop 10.0.2.2");
	assert_int_equal(v->n, flows_on(T.fx.nh4[FLUSH_EGRESS]));
	for (int i = 0; i < v->n; i++)
		assert_int_equal(jnum(v->items[i], "nh_id"),
				 T.fx.nh4[FLUSH_EGRESS]);
	json_free(v);
	/* scoped to its device: the same flows; on another device: none */
	v = ctl_json("flows --nexthop 10.0.2.2%out2");
	assert_int_equal(v->n, flows_on(T.fx.nh4[FLUSH_EGRESS]));
	json_free(v);
	v = ctl_json("flows --nexthop ::ffff:10.0.2.2");
	assert_int_equal(v->n, flows_on(T.fx.nh4[FLUSH_EGRESS]));
	json_free(v);
	v = ctl_json("flows --limit 3");
	assert_int_equal(v->n, 3);
	json_free(v);
	v = ctl_json("flows --count");
	assert_int_equal(jnum(v, "count"), NFLOWS);
	json_free(v);
}

static void lookup_flows(void **state)
{
	const struct pinned_flow *pf = &T.flows[0], *p6 = &T.flows[N4];
	const struct nexthop *nh;
	char want[FLOW_TEXT_MAX + ADDR_TEXT_MAX + 32], gw[ADDR_TEXT_MAX];
	struct jval *v;

	(void)state;
	nh = nexthop_table_get(&T.fx.nht, pf->nh_id);
	addr_format(nh->family, nh->gw, gw, sizeof(gw));
	assert_string_equal(pf->text, "tcp 10.0.0.100:41000 198.51.100.10:443");
	assert_int_equal(ctl("lookup %s", pf->text), 0);
	snprintf(want, sizeof(want), "%s: pinned to %s dev out", pf->text, gw);
	assert_true(!strncmp(T.out, want, strlen(want)));
	/* where it came from: this router's datapath, from a SYN */
	assert_non_null(strstr(T.out, ", made here, from a first packet\n"));
	assert_non_null(strstr(T.out, "cached on CPU 0"));

	assert_int_equal(ctl("lookup '%s'", p6->text), 0); /* one word */
	assert_non_null(strstr(T.out, "pinned to fd00:"));
	v = ctl_json("lookup tcp [2001:db8::100]:41048 [2001:db8:100::10]:443");
	assert_true(jbool(v, "pinned"));
	assert_int_equal(jnum(jget(v, "pin"), "nh_id"), p6->nh_id);
	assert_int_equal(jget(jget(v, "pin"), "made_by")->t, J_NULL);
	assert_false(jbool(jget(v, "pin"), "mid_stream"));
	assert_true(jnum(jget(v, "pin"), "made_tai_ns") > 0);
	assert_int_equal(jget(v, "cache")->n, 1);
	assert_int_equal(jnum(jget(v, "cache")->items[0], "cpu"), 0);
	json_free(v);

	v = ctl_json("lookup icmp 10.0.0.100 198.51.100.10");
	assert_true(jbool(v, "pinned"));
	assert_int_equal(jnum(jget(v, "pin"), "nh_id"), T.flows[NFLOWS - 1].nh_id);
	json_free(v);

	assert_int_equal(ctl("lookup tcp 10.0.0.100:1 198.51.100.10:443"), 0);
	assert_string_equal(T.out, "tcp 10.0.0.100:1 198.51.100.10:443: not pinned\nnot in any CPU's flow_cache\n");
	v = ctl_json("look udp 10.0.0.100:1 198.51.100.10:2");
	assert_false(jbool(v, "pinned"));
	json_free(v);
}

static void nexthops_table_and_json(void **state)
{
	struct jval *v;
	const char *l;
	char want[128];
	int seen = 0;

	(void)state;
	assert_int_equal(ctl("nexthops"), 0);
	assert_int_equal(count_lines(T.out), 1 + 2 * N_OUT + 3);
	assert_aligned(T.out, "ADDRESS");
	assert_aligned(T.out, "MAC");
	snprintf(want, sizeof(want), "%u", T.fx.nh4[1]);
	l = strstr(T.out, "10.0.1.2 ");
	assert_non_null(l);
	assert_non_null(strstr(l, "out1"));
	assert_non_null(strstr(l, "02:00:00:00:01:02"));
	assert_non_null(strstr(l, "active"));
	assert_non_null(strstr(T.out, "dead"));

	v = ctl_json("nexthops");
	assert_int_equal(jnum(v, "stale_pins"), 0);
	for (int i = 0; i < jget(v, "nexthops")->n; i++) {
		const struct jval *nh = jget(v, "nexthops")->items[i];
		__u32 id = jnum(nh, "id");

		assert_int_equal(jnum(nh, "flows"), flows_on(id));
		if (id == T.fx.nh6[3]) {
			assert_string_equal(jstr(nh, "address"), "fd00:3::2");
			assert_string_equal(jstr(nh, "dev"), "out3");
			assert_string_equal(jstr(nh, "family"), "inet6");
			seen++;
		}
	}
	assert_int_equal(seen, 1);
	json_free(v);
}

/* One line on stderr, nothing on stdout, a non-zero exit. */
static void assert_bad(const char *args, const char *words)
{
	int rc = ctl("%s", args);

	if (!rc || count_lines(T.err) != 1 || *T.out ||
	    !strstr(T.err, words))
		print_message("flowpinctl %s: rc %d, out '%s', err '%s'\n",
			      args, rc, T.out, T.err);
	assert_int_not_equal(rc, 0);
	assert_int_equal(count_lines(T.err), 1);
	assert_string_equal(T.out, "");
	assert_non_null(strstr(T.err, words));
}

static void bad_input(void **state)
{
	char cmd[PATH_MAX + 256];

	(void)state;
	assert_bad("frobnicate", "unknown command 'frobnicate'");
	assert_bad("f", "ambiguous");
	assert_bad("flows --src 10.0.0.0/33", "not a prefix");
	assert_bad("flows --dst 2001:db8::/129", "not a prefix");
	assert_bad("flows --nexthop 10.0.0.300", "not an IPv4 or IPv6 address");
	assert_bad("flows --nexthop 10.9.9.9", "no next hop 10.9.9.9");
	assert_bad("flows --nexthop fe80::1", "link-local address: say which device");
	assert_bad("flows --nexthop 10.0.2.2%out3", "no next hop 10.0.2.2");
	assert_bad("flows --limit x", "--limit");
	assert_bad("flows --bogus", "unknown option");
	assert_bad("lookup tcp 10.0.0.1:80", "malformed FLOW");
	assert_bad("lookup tcp 10.0.0.1:99999 10.0.0.2:80", "malformed FLOW");
	assert_bad("lookup icmp 10.0.0.1:1 10.0.0.2:1", "ports");
	assert_bad("lookup tcp 10.0.0.1:1 [2001:db8::1]:1", "families");
	assert_bad("flush", "--nexthop ADDR or --all");
	assert_bad("stats --interval 0", "--interval");
	assert_bad("detach nosuchdev0", "no interface");
	assert_bad("status extra", "unexpected argument");

	/* maps pinned by a flowpind of another layout */
	assert_int_equal(write_daemon_status_layout(FP_LAYOUT + 1), 0);
	assert_bad("stats", "layout");
	assert_int_equal(write_daemon_status(), 0);
	assert_int_equal(ctl("stats"), 0);

	/*
	 * A map of another type with the same sizes (another build's): not
	 * read, and an error of the maps (exit 1), not of the command (2).
	 */
	{
		char dir[64], file[96];
		int fd, rc;

		snprintf(dir, sizeof(dir), "/sys/fs/bpf/fpctl-wrong-%d", getpid());
		snprintf(file, sizeof(file), "%s/stats", dir);
		assert_int_equal(mkdir(dir, 0700), 0);
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "stats", 4, 8, FP_STAT_MAX, NULL);
		assert_true(fd >= 0);
		assert_int_equal(bpf_obj_pin(fd, file), 0);
		close(fd);
		rc = ctl("-p %s stats", dir);
		unlink(file); /* before any assertion can leave it behind */
		rmdir(dir);
		assert_int_equal(rc, 1);
		assert_int_equal(count_lines(T.err), 1);
		assert_string_equal(T.out, "");
		assert_non_null(strstr(T.err, "pinned by another build"));
	}

	/* the last -p wins */
	assert_bad("-p /nonexistent/flowpin status",
		   "no flowpin maps pinned at /nonexistent/flowpin");
	/* no privileges: the pin folder is 0700 and root's */
	/* util-linux (make deps) has setpriv: its absence is a failure */
	assert_int_equal(access("/usr/bin/setpriv", X_OK), 0);
	{
		snprintf(cmd, sizeof(cmd),
			 "setpriv --reuid=65534 --regid=65534 --clear-groups %s -p %s stats 2>&1 | grep -q 'needs root'",
			 T.ctl_bin, T.pin_dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* A next hop that died: its pins stay in flow_pins but no longer hold. */
static void stale_pins(void **state)
{
	__u32 id = T.fx.nh4[STALE_EGRESS];
	const struct pinned_flow *pf = NULL;
	int on = flows_on(id), n = 0;
	struct jval *v;

	(void)state;
	assert_true(on > 0);
	assert_int_equal(nexthop_table_set_state(&T.fx.nht, id, NH_DEAD), 0);
	assert_int_equal(nexthop_table_set_state(&T.fx.nht, id, NH_ACTIVE), 0);

	v = ctl_json("flows");
	assert_int_equal(v->n, NFLOWS);
	for (int i = 0; i < v->n; i++) {
		bool on_it = jnum(v->items[i], "nh_id") == id;

		assert_int_equal(jbool(v->items[i], "valid"), !on_it);
		assert_int_equal(jget(v->items[i], "nexthop") == NULL, on_it);
		n += on_it;
	}
	assert_int_equal(n, on);
	json_free(v);
	v = ctl_json("flows --nexthop 10.0.4.2");
	assert_int_equal(v->n, 0);
	json_free(v);

	v = ctl_json("nexthops");
	assert_int_equal(jnum(v, "stale_pins"), on);
	for (int i = 0; i < jget(v, "nexthops")->n; i++) {
		const struct jval *nh = jget(v, "nexthops")->items[i];

		if (jnum(nh, "id") == id) {
			assert_int_equal(jnum(nh, "flows"), 0);
			assert_int_equal(jnum(nh, "gen"), 2);
		}
	}
	json_free(v);

	for (int i = 0; i < NFLOWS && !pf; i++)
		if (T.flows[i].nh_id == id)
			pf = &T.flows[i];
	assert_int_equal(ctl("lookup %s", pf->text), 0);
	assert_non_null(strstr(T.out, ": stale pin (id "));
	assert_int_equal(ctl("flows"), 0);
	assert_int_equal(count_lines(T.out), NFLOWS + 1);
	assert_non_null(strstr(T.out, "  stale\n"));
}

static void flush_nexthop(void **state)
{
	int fd_cache = bpf_map__fd(T.fx.skel->maps.flow_cache);
	int fd_tags = bpf_map__fd(T.fx.skel->maps.flow_cache_tags);
	__u32 id = T.fx.nh4[FLUSH_EGRESS];
	int ncpus = libbpf_num_possible_cpus();
	struct flow_pin copies[ncpus];
	int on = flows_on(id);
	char want[64];

	(void)state;
	assert_true(on > 0 && on < NFLOWS);
	assert_int_equal(ctl("flush --nexthop 10.0.2.2"), 0);
	snprintf(want, sizeof(want), "flushed %d pins\n", on);
	assert_string_equal(T.out, want);
	for (int i = 0; i < NFLOWS; i++) {
		const struct pinned_flow *pf = &T.flows[i];
		bool flushed = pf->nh_id == id;
		bool cached = false;

		assert_int_equal(flow_cache_copies(fd_cache, fd_tags, ncpus,
						   &pf->key, copies), 0);
		for (int c = 0; c < ncpus; c++)
			cached |= copies[c].nh_id != 0;

		assert_int_equal(pin_of(&T.fx, &pf->key), flushed ? 0 : pf->nh_id);
		assert_int_equal(cached, !flushed);
	}
	assert_int_equal(ctl("flows --count"), 0);
	assert_int_equal(atoi(T.out), NFLOWS - on);
	assert_int_equal(ctl("flows --nexthop 10.0.2.2 --count"), 0);
	assert_int_equal(atoi(T.out), 0);
}

/* Every CPU's copies in flow_cache. */
static __u64 cache_copies(void)
{
	__u64 n;

	assert_int_equal(flow_cache_count(bpf_map__fd(T.fx.skel->maps.flow_cache),
					  bpf_map__fd(T.fx.skel->maps.flow_cache_tags),
					  &n), 0);
	return n;
}

static void flush_all(void **state)
{
	struct flow_key key;
	struct jval *v;

	(void)state;
	v = ctl_json("flush --all");
	assert_int_equal(jnum(v, "flushed"), NFLOWS - flows_on(T.fx.nh4[FLUSH_EGRESS]));
	json_free(v);
	assert_int_not_equal(bpf_map_get_next_key(
		bpf_map__fd(T.fx.skel->maps.flow_pins), NULL, &key), 0);
	assert_int_equal(cache_copies(), 0);
	assert_int_equal(ctl("flows"), 0);
	assert_int_equal(count_lines(T.out), 1); /* the header */
}

static void detach_interface(void **state)
{
	int ifindex = rt.ifindex_out[1];
	const struct jval *ifs;
	struct jval *v;
	__u32 id = 0;

	(void)state;
	assert_int_equal(bpf_xdp_attach(ifindex, T.fx.prog_fd,
					XDP_FLAGS_DRV_MODE, NULL), 0);
	v = ctl_json("status");
	ifs = jget(v, "interfaces");
	for (int i = 0; i < ifs->n; i++) {
		const struct jval *f = ifs->items[i];

		if (strcmp(jstr(f, "name"), "out1"))
			continue;
		assert_true(jbool(f, "attached"));
		assert_string_equal(jstr(f, "mode"), "native");
		assert_int_equal(jnum(f, "prog_id"), T.prog_id);
		id = 1;
	}
	assert_int_equal(id, 1);
	json_free(v);

	assert_int_equal(ctl("detach out1"), 0);
	assert_string_equal(T.out, "out1: detached (native)\n");
	assert_int_equal(bpf_xdp_query_id(ifindex, 0, &id), 0);
	assert_int_equal(id, 0);
	assert_bad("detach out1", "flowpin is not attached");

	/* no interface named: every one in tx_ports */
	assert_int_equal(bpf_xdp_attach(rt.ifindex_out[3], T.fx.prog_fd,
					XDP_FLAGS_DRV_MODE, NULL), 0);
	assert_int_equal(ctl("detach"), 0);
	assert_string_equal(T.out, "out3: detached (native)\n");
	assert_int_equal(bpf_xdp_query_id(rt.ifindex_out[3], 0, &id), 0);
	assert_int_equal(id, 0);

	/* flowpin at tc ingress: seen, and taken off, the same way */
	{
		int tc_fd = bpf_program__fd(T.fx.skel->progs.flowpin_tc);
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		bool made, seen = false;

		assert_int_equal(bpf_obj_get_info_by_fd(tc_fd, &info, &len), 0);
		assert_int_equal(tc_hook_attach(rt.ifindex_out[2], tc_fd, &made), 0);
		v = ctl_json("status");
		ifs = jget(v, "interfaces");
		for (int i = 0; i < ifs->n; i++) {
			const struct jval *f = ifs->items[i];

			if (strcmp(jstr(f, "name"), "out2"))
				continue;
			assert_true(jbool(f, "attached"));
			assert_string_equal(jstr(f, "mode"), "tc");
			assert_string_equal(jstr(f, "program"), "flowpin_tc");
			assert_int_equal(jnum(f, "prog_id"), info.id);
			seen = true;
		}
		assert_true(seen);
		json_free(v);
		assert_int_equal(ctl("detach"), 0);
		assert_string_equal(T.out, "out2: detached (tc)\n");
		assert_int_equal(tc_hook_prog_id(rt.ifindex_out[2]), 0);
		assert_bad("detach out2", "flowpin is not attached");
		if (made)
			tc_hook_detach(rt.ifindex_out[2], true);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_table_and_json),
		cmocka_unit_test(stats_table_json_prometheus),
		cmocka_unit_test(flows_table),
		cmocka_unit_test(flows_json),
		cmocka_unit_test(lookup_flows),
		cmocka_unit_test(nexthops_table_and_json),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(stale_pins),
		cmocka_unit_test(flush_nexthop),
		cmocka_unit_test(flush_all),
		cmocka_unit_test(detach_interface),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
