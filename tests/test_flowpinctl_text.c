// SPDX-License-Identifier: GPL-2.0
/*
 * flowpinctl's text side without a kernel: addresses, prefixes, FLOWs,
 * command lines, command prefixes, tables, JSON escaping, Prometheus text.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "cmd_table.h"
#include "ctl_args.h"
#include "flow_text.h"
#include "json_writer.h"
#include "peers_text.h"
#include "stats_text.h"
#include "version.h"
#include "table.h"

/* What a function printed to a FILE, as a string to compare. */
struct capture {
	char *buf;
	size_t len;
	FILE *f;
};

static FILE *capture_start(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
	return c->f;
}

static const char *capture_end(struct capture *c)
{
	fclose(c->f);
	return c->buf;
}

static void addresses(void **state)
{
	struct fp_addr a;
	char buf[ADDR_TEXT_MAX];

	(void)state;
	assert_int_equal(addr_parse("10.0.0.1", &a), 0);
	assert_int_equal(a.family, FP_AF_INET);
	assert_int_equal(a.a[0], htonl(0x0a000001));
	assert_int_equal(a.a[1], 0);
	assert_int_equal(addr_parse("2001:db8::1", &a), 0);
	assert_int_equal(a.family, FP_AF_INET6);
	assert_string_equal(addr_format(a.family, a.a, buf, sizeof(buf)),
			    "2001:db8::1");
	assert_int_equal(addr_parse("10.0.0.256", &a), -EINVAL);
	assert_int_equal(addr_parse("10.0.0", &a), -EINVAL);
	assert_int_equal(addr_parse("", &a), -EINVAL);
	assert_int_equal(addr_parse("2001:db8:::1", &a), -EINVAL);
	assert_int_equal(addr_parse("[2001:db8::1]", &a), -EINVAL);
}

static void prefixes(void **state)
{
	struct fp_prefix p;
	struct fp_addr a;

	(void)state;
	assert_int_equal(prefix_parse("10.1.2.3/16", &p), 0);
	assert_int_equal(p.len, 16);
	assert_int_equal(p.addr.a[0], htonl(0x0a010000)); /* host bits gone */
	addr_parse("10.1.255.255", &a);
	assert_true(prefix_match(&p, a.family, a.a));
	addr_parse("10.2.0.0", &a);
	assert_false(prefix_match(&p, a.family, a.a));
	addr_parse("2001:db8::1", &a);
	assert_false(prefix_match(&p, a.family, a.a)); /* other family */

	assert_int_equal(prefix_parse("2001:db8:100::/56", &p), 0);
	addr_parse("2001:db8:100:ff::1", &a);
	assert_true(prefix_match(&p, a.family, a.a));
	addr_parse("2001:db8:101::1", &a);
	assert_false(prefix_match(&p, a.family, a.a));
	assert_int_equal(prefix_parse("::/0", &p), 0);
	assert_true(prefix_match(&p, a.family, a.a));
	assert_int_equal(prefix_parse("0.0.0.0/0", &p), 0);
	assert_false(prefix_match(&p, a.family, a.a));
	assert_int_equal(prefix_parse("192.0.2.7", &p), 0); /* a host */
	assert_int_equal(p.len, 32);
	addr_parse("192.0.2.7", &a);
	assert_true(prefix_match(&p, a.family, a.a));
	addr_parse("192.0.2.6", &a);
	assert_false(prefix_match(&p, a.family, a.a));

	assert_int_equal(prefix_parse("10.0.0.0/33", &p), -EINVAL);
	assert_int_equal(prefix_parse("2001:db8::/129", &p), -EINVAL);
	assert_int_equal(prefix_parse("10.0.0.0/", &p), -EINVAL);
	assert_int_equal(prefix_parse("10.0.0.0/-1", &p), -EINVAL);
	assert_int_equal(prefix_parse("10.0.0.0/8x", &p), -EINVAL);
	assert_int_equal(prefix_parse("foo/8", &p), -EINVAL);
}

static void flow_round_trip(const char *in, const char *out)
{
	char buf[FLOW_TEXT_MAX];
	struct flow_key key;
	const char *why;

	assert_int_equal(flow_parse(in, &key, &why), 0);
	assert_null(why);
	assert_string_equal(flow_format(&key, buf, sizeof(buf)), out);
}

static void flows(void **state)
{
	char *argv[] = { "udp", "[2001:db8::1]:53", "[2001:db8::2]:5353" };
	struct flow_key key;
	const char *why;

	(void)state;
	flow_round_trip("tcp 10.0.0.1:40000 198.51.100.10:80",
			"tcp 10.0.0.1:40000 198.51.100.10:80");
	flow_round_trip("TCP  10.0.0.1:1\t10.0.0.2:2", "tcp 10.0.0.1:1 10.0.0.2:2");
	flow_round_trip("6 10.0.0.1:1 10.0.0.2:2", "tcp 10.0.0.1:1 10.0.0.2:2");
	flow_round_trip("tcp [2001:db8::1]:443 [2001:db8::2]:80",
			"tcp [2001:db8::1]:443 [2001:db8::2]:80");
	flow_round_trip("icmp 10.0.0.1 10.0.0.2", "icmp 10.0.0.1 10.0.0.2");
	flow_round_trip("icmpv6 2001:db8::1 [2001:db8::2]",
			"icmpv6 2001:db8::1 2001:db8::2");
	flow_round_trip("ipv6-icmp 2001:db8::1 2001:db8::2",
			"icmpv6 2001:db8::1 2001:db8::2");
	flow_round_trip("udp 10.0.0.1 10.0.0.2", "udp 10.0.0.1 10.0.0.2");
	flow_round_trip("gre 10.0.0.1 10.0.0.2", "gre 10.0.0.1 10.0.0.2");
	flow_round_trip("253 10.0.0.1 10.0.0.2", "253 10.0.0.1 10.0.0.2");

	/* the key's bytes as the datapath makes them */
	assert_int_equal(flow_parse("tcp 10.0.0.1:40000 198.51.100.10:80", &key,
				    NULL), 0);
	assert_int_equal(key.family, FP_AF_INET);
	assert_int_equal(key.proto, IPPROTO_TCP);
	assert_int_equal(key.sport, htons(40000));
	assert_int_equal(key.dport, htons(80));
	assert_int_equal(key.saddr[0], htonl(0x0a000001));
	assert_int_equal(key.daddr[0], htonl(0xc633640a));
	assert_int_equal(key.saddr[1] | key.daddr[3] | key.l3dom, 0);

	assert_int_equal(flow_parse_argv(3, argv, &key, &why), 0);
	assert_int_equal(key.family, FP_AF_INET6);
	assert_int_equal(key.dport, htons(5353));

	static const char *const bad[] = {
		"", "tcp", "tcp 10.0.0.1:1", "tcp 10.0.0.1:1 10.0.0.2:2 x",
		"foo 10.0.0.1:1 10.0.0.2:2", "256 10.0.0.1 10.0.0.2",
		"tcp 10.0.0.1:65536 10.0.0.2:1", "tcp 10.0.0.1: 10.0.0.2:1",
		"tcp 10.0.0.1:1 10.0.0.2", "icmp 10.0.0.1:1 10.0.0.2:1",
		"tcp 10.0.0.1:1 [2001:db8::2]:1", "icmp 2001:db8::1 2001:db8::2",
		"icmpv6 10.0.0.1 10.0.0.2", "tcp [10.0.0.1]:1 [10.0.0.2]:2",
		"tcp [2001:db8::1:1 [2001:db8::2]:1", "tcp [2001:db8::1]x 10.0.0.2",
		"tcp 10.0.0.1:x 10.0.0.2:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (flow_parse(bad[i], &key, &why) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(why);
	}
}

static void formats(void **state)
{
	static const __u8 mac[6] = { 0x02, 0, 0xab, 0, 0x01, 0xff };
	char buf[DURATION_TEXT_MAX], mbuf[MAC_TEXT_MAX], pbuf[PROTO_TEXT_MAX];

	(void)state;
	assert_string_equal(mac_format(mac, mbuf), "02:00:ab:00:01:ff");
	assert_string_equal(proto_name(IPPROTO_ICMPV6, pbuf), "icmpv6");
	assert_string_equal(proto_name(99, pbuf), "99");
	assert_string_equal(fp_nexthop_state_name(NH_WITHDRAWN), "withdrawn");
	assert_string_equal(fp_nexthop_state_name(9), "invalid");
	assert_string_equal(fp_withdrawn_policy_name(FP_WITHDRAWN_REPIN), "repin");
	assert_string_equal(fp_mode_name(2), "skb");
	assert_string_equal(fp_mode_name(FP_MODE_TC), "tc");
	assert_string_equal(duration_format(59, buf), "59s");
	assert_string_equal(duration_format(61, buf), "1m01s");
	assert_string_equal(duration_format(3 * 3600 + 5 * 60, buf), "3h05m");
	assert_string_equal(duration_format(2 * 86400 + 3600, buf), "2d01h");
}

static void numbers(void **state)
{
	unsigned long long n;
	double d;

	(void)state;
	assert_int_equal(uint_parse("42", 100, &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(uint_parse("101", 100, &n), -EINVAL);
	assert_int_equal(uint_parse("-1", ~0ULL, &n), -EINVAL);
	assert_int_equal(uint_parse(" 1", ~0ULL, &n), -EINVAL);
	assert_int_equal(uint_parse("99999999999999999999", ~0ULL, &n), -EINVAL);
	assert_int_equal(seconds_parse("0.5", &d), 0);
	assert_true(d == 0.5);
	assert_int_equal(seconds_parse("0", &d), -EINVAL);
	assert_int_equal(seconds_parse("1s", &d), -EINVAL);
	assert_int_equal(seconds_parse("nan", &d), -EINVAL);
	assert_int_equal(seconds_parse("-1", &d), -EINVAL);
}

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(v) ((int)(sizeof(v) / sizeof(char *)) - 1)

static void global_args(void **state)
{
	char **v1 = ARGV("flowpinctl", "-j", "-p", "/x", "flows", "--count");
	char **v2 = ARGV("flowpinctl", "--pin-path=/y", "status");
	char **v3 = ARGV("flowpinctl", "-q", "status");
	char **v4 = ARGV("flowpinctl", "-p");
	struct global_args g;

	(void)state;
	assert_int_equal(global_args_parse(6, v1, &g), 0);
	assert_true(g.json);
	assert_string_equal(g.pin_path, "/x");
	assert_int_equal(g.next, 4);
	assert_int_equal(global_args_parse(3, v2, &g), 0);
	assert_false(g.json);
	assert_string_equal(g.pin_path, "/y");
	assert_int_equal(g.next, 2);
	assert_int_equal(global_args_parse(3, v3, &g), -EINVAL);
	assert_int_equal(global_args_parse(2, v4, &g), -EINVAL);
	assert_int_equal(global_args_parse(1, v4, &g), 0);
	assert_string_equal(g.pin_path, FP_PIN_PATH);
	assert_int_equal(g.next, 1);
}

static void command_args(void **state)
{
	struct flows_args f;
	struct stats_args s;
	struct flush_args x;

	(void)state;
	assert_int_equal(flows_args_parse(9, ARGV("flows", "--nexthop", "10.0.1.2",
		"--src", "10.0.0.0/8", "--dst=2001:db8::/32", "--limit", "5",
		"--count"), &f), -EINVAL); /* --src and --dst of two families */
	assert_int_equal(flows_args_parse(9, ARGV("flows", "--nexthop", "10.0.1.2",
		"--src", "10.0.0.0/8", "--dst=192.0.2.0/24", "--limit", "5",
		"--count"), &f), 0);
	assert_true(f.has_nexthop && f.has_src && f.has_dst && f.count);
	assert_int_equal(f.limit, 5);
	assert_int_equal(f.src.len, 8);
	assert_int_equal(f.dst.addr.a[0], htonl(0xc0000200));
	assert_int_equal(flows_args_parse(1, ARGV("flows"), &f), 0);
	assert_false(f.has_nexthop || f.has_src || f.has_dst || f.count);
	assert_int_equal(flows_args_parse(2, ARGV("flows", "--limit"), &f), -EINVAL);
	assert_int_equal(flows_args_parse(3, ARGV("flows", "--limit", "0"), &f), -EINVAL);
	assert_int_equal(flows_args_parse(2, ARGV("flows", "--count=1"), &f), -EINVAL);
	assert_int_equal(flows_args_parse(2, ARGV("flows", "10.0.0.1"), &f), -EINVAL);
	assert_int_equal(flows_args_parse(3, ARGV("flows", "--src", "x"), &f), -EINVAL);
	assert_int_equal(flows_args_parse(3, ARGV("flows", "--nexthop", "10.0.0.0/8"), &f), -EINVAL);

	assert_int_equal(stats_args_parse(1, ARGV("stats"), &s), 0);
	assert_true(s.interval == 0 && !s.prometheus);
	assert_int_equal(stats_args_parse(5, ARGV("stats", "--interval", "2.5", "--count", "3"), &s), 0);
	assert_true(s.interval == 2.5);
	assert_int_equal(s.count, 3);
	assert_int_equal(stats_args_parse(2, ARGV("stats", "--prometheus"), &s), 0);
	assert_true(s.prometheus);
	assert_int_equal(stats_args_parse(3, ARGV("stats", "--count", "3"), &s), -EINVAL);
	assert_int_equal(stats_args_parse(4, ARGV("stats", "--prometheus", "--interval", "1"), &s), -EINVAL);

	assert_int_equal(flush_args_parse(2, ARGV("flush", "--all"), &x), 0);
	assert_true(x.all && !x.has_nexthop);
	assert_int_equal(flush_args_parse(3, ARGV("flush", "--nexthop", "fd00:1::2"), &x), 0);
	assert_int_equal(x.nexthop.family, FP_AF_INET6);
	/* a link-local next hop names its device; a mapped one is IPv4 */
	assert_int_equal(flush_args_parse(3, ARGV("flush", "--nexthop", "fe80::1"), &x), -EINVAL);
	assert_int_equal(flush_args_parse(3, ARGV("flush", "--nexthop", "fe80::1%lo"), &x), 0);
	assert_int_equal(x.nexthop.ifindex, 1);
	assert_int_equal(flush_args_parse(3, ARGV("flush", "--nexthop", "fe80::1%1"), &x), 0);
	assert_int_equal(x.nexthop.ifindex, 1);
	assert_int_equal(flush_args_parse(3, ARGV("flush", "--nexthop", "10.0.1.2%nosuchdev0"), &x), -EINVAL);
	assert_int_equal(flush_args_parse(3, ARGV("flush", "--nexthop", "::ffff:10.0.1.2"), &x), 0);
	assert_int_equal(x.nexthop.family, FP_AF_INET);
	assert_int_equal(x.nexthop.a[0], htonl(0x0a000102));
	assert_int_equal(x.nexthop.ifindex, 0);
	assert_int_equal(flush_args_parse(1, ARGV("flush"), &x), -EINVAL);
	assert_int_equal(flush_args_parse(4, ARGV("flush", "--all", "--nexthop", "10.0.0.1"), &x), -EINVAL);
	assert_int_equal(no_args_parse(1, ARGV("status")), 0);
	assert_int_equal(no_args_parse(2, ARGV("status", "x")), -EINVAL);
}

static int handler(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl;
	(void)argc;
	(void)argv;
	return 0;
}

static void command_prefixes(void **state)
{
	static const struct cmd cmds[] = {
		{ "status", handler, "", "" }, { "stats", handler, "", "" },
		{ "flows", handler, "", "" },  { "flush", handler, "", "" },
		{ "nexthops", handler, "", "" }, { "s", handler, "", "" },
		{ NULL, NULL, NULL, NULL },
	};
	const struct cmd *c;

	(void)state;
	assert_int_equal(cmd_find(cmds, "stats", &c), 0);
	assert_ptr_equal(c, &cmds[1]);
	assert_int_equal(cmd_find(cmds, "statu", &c), 0);
	assert_ptr_equal(c, &cmds[0]);
	assert_int_equal(cmd_find(cmds, "n", &c), 0);
	assert_ptr_equal(c, &cmds[4]);
	assert_int_equal(cmd_find(cmds, "s", &c), 0); /* exact beats prefix */
	assert_ptr_equal(c, &cmds[5]);
	assert_int_equal(cmd_find(cmds, "sta", &c), -ENOTUNIQ);
	assert_int_equal(cmd_find(cmds, "fl", &c), -ENOTUNIQ);
	assert_int_equal(cmd_find(cmds, "flowsx", &c), -ENOENT);
	assert_int_equal(cmd_find(cmds, "", &c), -ENOENT);
	assert_null(c);
}

static void tables(void **state)
{
	static const struct table_col cols[] = {
		{ "NAME", false }, { "N", true }, { "LAST", false },
	};
	struct capture c;
	struct table t;

	(void)state;
	assert_int_equal(table_init(&t, capture_start(&c), cols, 3), 0);
	table_cell(&t, "a");
	table_cell(&t, "%d", 1000);
	table_cell(&t, "x");
	table_cell(&t, "longer_name");
	table_cell(&t, "%d", 7);
	table_cell(&t, "y");
	table_end(&t);
	assert_string_equal(capture_end(&c),
			    "NAME            N  LAST\n"
			    "a            1000  x\n"
			    "longer_name     7  y\n");
	free(c.buf);

	/* no rows: the header alone */
	assert_int_equal(table_init(&t, capture_start(&c), cols, 3), 0);
	table_end(&t);
	assert_string_equal(capture_end(&c), "NAME  N  LAST\n");
	free(c.buf);
	assert_int_equal(table_init(&t, stdout, cols, 0), -EINVAL);
}

/* More rows than a block: printed in blocks, columns only widen. */
static void table_streams(void **state)
{
	static const struct table_col cols[] = { { "ID", true }, { "X", false } };
	struct capture c;
	struct table t;
	const char *out, *last;

	(void)state;
	assert_int_equal(table_init(&t, capture_start(&c), cols, 2), 0);
	for (int i = 0; i < TABLE_BLOCK + 1; i++) {
		table_cell(&t, "%d", i < TABLE_BLOCK ? 1 : 123456);
		table_cell(&t, "x");
	}
	assert_int_equal(t.nrows, 1); /* one block went out */
	table_end(&t);
	out = capture_end(&c);
	assert_true(!strncmp(out, "ID  X\n 1  x\n", 12));
	last = strstr(out, "123456");
	assert_non_null(last);
	assert_string_equal(last, "123456  x\n");
	free(c.buf);
}

static void json_output(void **state)
{
	struct json_writer w;
	struct capture c;

	(void)state;
	jw_init(&w, capture_start(&c));
	jw_object_start(&w);
	jw_string_field(&w, "s", "a\"b\\c\n\t\x01\x7f/é");
	jw_uint_field(&w, "u", 18446744073709551615ULL);
	jw_bool_field(&w, "t", true);
	jw_double_field(&w, "d", 1.5);
	jw_double_field(&w, "inf", 1.0 / 0.0);
	jw_name(&w, "a");
	jw_array_start(&w);
	jw_uint(&w, 1);
	jw_object_start(&w);
	jw_object_end(&w);
	jw_array_start(&w);
	jw_array_end(&w);
	jw_null(&w);
	jw_array_end(&w);
	jw_object_end(&w);
	jw_array_start(&w); /* a second top-level value: its own line */
	jw_array_end(&w);
	assert_string_equal(capture_end(&c),
			    "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001\\u007f/é\","
			    "\"u\":18446744073709551615,\"t\":true,\"d\":1.5,"
			    "\"inf\":null,\"a\":[1,{},[],null]}\n[]\n");
	free(c.buf);
}

#define TABLE_HEAD "COUNTER                       PACKETS  PER_SECOND\n" \
		   "packets                           100        25.0\n"

static void stats_output(void **state)
{
	__u64 before[FP_STAT_MAX] = {}, now[FP_STAT_MAX] = {};
	struct json_writer w;
	struct capture c;
	const char *out;

	(void)state;
	now[FP_STAT_PACKETS] = 100;
	now[FP_STAT_FORWARDED] = 90;
	now[FP_PASS_NON_IP] = 4;
	now[FP_PASS_ICMP_ERR_UNPINNED] = 6;
	before[FP_STAT_PACKETS] = 50;
	assert_string_equal(fp_stat_name(FP_PASS_FIB_NO_NEIGH),
			    "pass_fib_no_neighbour");
	assert_string_equal(fp_stat_name(FP_STAT_MAX), "unknown");
	assert_true(fp_stat_is_pass(FP_PASS_NON_IP));
	assert_false(fp_stat_is_pass(FP_STAT_REDIRECT_FAIL));
	assert_int_equal(stats_passed(now), 10);
	assert_true(stat_rate(50, 100, 2) == 25);
	assert_true(stat_rate(100, 30, 2) == 15); /* restarted */
	assert_true(stat_rate(1, 2, 0) == 0);

	stats_prometheus(capture_start(&c), now);
	out = capture_end(&c);
	assert_non_null(strstr(out, "\nflowpin_build_info{version=\"" FP_VERSION "\"} 1\n"));
	assert_non_null(strstr(out, "# HELP flowpin_packets_total "));
	assert_non_null(strstr(out, "# TYPE flowpin_packets_total counter\nflowpin_packets_total 100\n"));
	assert_non_null(strstr(out, "\nflowpin_forwarded_total 90\n"));
	assert_non_null(strstr(out, "# TYPE flowpin_passed_total counter\n"));
	assert_non_null(strstr(out, "\nflowpin_passed_total{reason=\"non_ip\"} 4\n"));
	assert_non_null(strstr(out, "\nflowpin_passed_total{reason=\"icmp_error_unpinned\"} 6\n"));
	assert_null(strstr(out, "pass_"));
	/* every sample line is NAME[{LABELS}] VALUE */
	for (const char *l = out; *l; l = strchr(l, '\n') + 1) {
		unsigned long long v;
		char name[128];

		if (!strncmp(l, "# HELP ", 7)) {
			/* "# HELP NAME TEXT": a text, not printf's "(null)" */
			const char *text = strchr(l + 7, ' ');

			assert_non_null(text);
			assert_true(text[1] != '\n' && strncmp(text + 1, "(null)", 6));
			continue;
		}
		if (*l == '#')
			continue;
		assert_int_equal(sscanf(l, "%127s %llu", name, &v), 2);
		assert_true(!strncmp(name, "flowpin_", 8));
	}
	free(c.buf);

	prom_label_value(capture_start(&c), "a\"b\\c\nd");
	assert_string_equal(capture_end(&c), "\"a\\\"b\\\\c\\nd\"");
	free(c.buf);

	jw_init(&w, capture_start(&c));
	stats_json(&w, now, before, 2);
	out = capture_end(&c);
	assert_non_null(strstr(out, "{\"counters\":{\"packets\":100,\"cache_hit\":0,"));
	assert_true(out[0] == '{');
	assert_non_null(strstr(out, "\"passed\":10,\"interval_s\":2,\"per_second\":{\"packets\":25,"));
	free(c.buf);

	assert_int_equal(stats_table(capture_start(&c), now, before, 2), 0);
	out = capture_end(&c);
	assert_true(!strncmp(out, TABLE_HEAD, strlen(TABLE_HEAD)));
	assert_non_null(strstr(out, "\npassed                             10         5.0\n"));
	free(c.buf);
}

/*
 * The exposition format's rules, as promtool checks them: every sample's
 * family has one HELP and one TYPE line before it, names are
 * [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in _total, and no family appears
 * twice.
 */
static void assert_exposition_format(const char *out)
{
	char families[64][128];
	int n = 0;

	for (const char *l = out; *l; l = strchr(l, '\n') + 1) {
		char name[128], type[32];
		size_t len;

		if (!strncmp(l, "# HELP ", 7))
			continue;
		if (!strncmp(l, "# TYPE ", 7)) {
			assert_int_equal(sscanf(l + 7, "%127s %31s", name, type), 2);
			for (int i = 0; i < n; i++)
				assert_string_not_equal(families[i], name);
			assert_true(n < 64);
			strcpy(families[n++], name);
			len = strlen(name);
			if (!strcmp(type, "counter"))
				assert_true(len > 6 && !strcmp(name + len - 6, "_total"));
			else
				assert_string_equal(type, "gauge");
			continue;
		}
		len = strspn(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
		assert_true(len > 0 && !(l[0] >= '0' && l[0] <= '9'));
		assert_true(l[len] == ' ' || l[len] == '{');
		/* a sample of the family declared last */
		assert_true(n > 0);
		assert_int_equal(strlen(families[n - 1]), len);
		assert_memory_equal(families[n - 1], l, len);
	}
}

/* This router, a peer that is up, one down with drops, the rest unused. */
static void peers_sample(struct sync_peer_status *p)
{
	memset(p, 0, sizeof(*p) * FP_MAX_PEERS);
	p[0] = (struct sync_peer_status){ .family = FP_AF_INET, .state = FP_PEER_SELF,
					  .port = 7430, .addr = { htonl(0xc0000201) } };
	p[0].drops[FP_DROP_UNKNOWN] = 3;
	p[1] = (struct sync_peer_status){ .family = FP_AF_INET, .state = FP_PEER_UP,
					  .port = 7430, .addr = { htonl(0xc0000202) },
					  .last_rx_s = 995, .pins_sent = 120,
					  .pins_received = 80, .pins_applied = 70,
					  .resends = 2, .pins_replaced = 4,
					  .queued = 7, .lag_ms = 250, .rtt_us = 1500,
					  .pins_refreshed = 33, .digests_sent = 41,
					  .digests_answered = 42, .ranges_repaired = 43,
					  .pins_repaired = 44 };
	p[1].skips[FP_SKIP_HAVE] = 10;
	p[1].skips[FP_SKIP_BETTER] = 2;
	p[1].skips[FP_SKIP_GATEWAY] = 1;
	p[2] = (struct sync_peer_status){ .family = FP_AF_INET6, .state = FP_PEER_DOWN,
					  .port = 9000, .addr = { htonl(0x20010db8), 0, 0, htonl(3) },
					  .last_rx_s = 900 };
	p[2].drops[FP_DROP_AUTH] = 5;
	p[2].drops[FP_DROP_REPLAY] = 1;
}

static void peers_output(void **state)
{
	struct sync_peer_status p[FP_MAX_PEERS];
	struct json_writer w;
	struct capture c;
	const char *out;

	(void)state;
	peers_sample(p);
	assert_int_equal(peers_table(capture_start(&c), p, FP_MAX_PEERS, 1000), 0);
	out = capture_end(&c);
	assert_non_null(strstr(out, "PEER"));
	assert_non_null(strstr(out, "192.0.2.1:7430"));
	assert_non_null(strstr(out, "self"));
	assert_non_null(strstr(out, "[2001:db8::3]:9000"));
	assert_non_null(strstr(out, "5s ago"));
	assert_non_null(strstr(out, "100s ago"));
	assert_non_null(strstr(out, "\n192.0.2.1:7430: dropped unknown_peer 3\n"));
	assert_non_null(strstr(out, "\n192.0.2.2:7430: conflicts 6 (theirs taken 4, ours kept 2), agreed 10\n"));
	/* agreements and conflicts are not among the reasons a pin was not applied */
	assert_non_null(strstr(out, "\n192.0.2.2:7430: not applied unknown_gateway 1\n"));
	assert_non_null(strstr(out, "250 ms"));
	assert_non_null(strstr(out, "1.5 ms"));
	assert_non_null(strstr(out, "\n[2001:db8::3]:9000: dropped auth 5, dropped replay 1\n"));
	free(c.buf);

	jw_init(&w, capture_start(&c));
	peers_json(&w, p, FP_MAX_PEERS, 1000);
	out = capture_end(&c);
	assert_non_null(strstr(out, "\"peer\":\"192.0.2.2:7430\""));
	assert_non_null(strstr(out, "\"state\":\"up\""));
	assert_non_null(strstr(out, "\"pins_applied\":70"));
	assert_non_null(strstr(out, "\"last_message_s_ago\":5"));
	assert_non_null(strstr(out, "\"auth\":5"));
	assert_non_null(strstr(out, "\"have_pin\":10"));
	assert_non_null(strstr(out, "\"better_pin\":2"));
	assert_non_null(strstr(out, "\"conflicts\":6"));
	assert_non_null(strstr(out, "\"lag_ms\":250"));
	assert_non_null(strstr(out, "\"pins_refreshed\":33"));
	assert_non_null(strstr(out, "\"digests_sent\":41,\"digests_answered\":42,"
				    "\"ranges_repaired\":43,\"pins_repaired\":44"));
	assert_null(strstr(out, "\"state\":\"unused\"")); /* unused entries left out */
	free(c.buf);

	peers_prometheus(capture_start(&c), p, FP_MAX_PEERS);
	out = capture_end(&c);
	assert_exposition_format(out);
	assert_non_null(strstr(out, "flowpin_sync_peer_up{peer=\"192.0.2.2:7430\",state=\"up\"} 1\n"));
	assert_non_null(strstr(out, "flowpin_sync_peer_up{peer=\"[2001:db8::3]:9000\",state=\"down\"} 0\n"));
	assert_non_null(strstr(out, "flowpin_sync_pins_applied_total{peer=\"192.0.2.2:7430\"} 70\n"));
	assert_non_null(strstr(out, "flowpin_sync_pins_replaced_total{peer=\"192.0.2.2:7430\"} 4\n"));
	assert_non_null(strstr(out, "flowpin_sync_not_applied_total{peer=\"192.0.2.2:7430\",reason=\"better_pin\"} 2\n"));
	assert_non_null(strstr(out, "flowpin_sync_lag_seconds{peer=\"192.0.2.2:7430\"} 0.25\n"));
	assert_non_null(strstr(out, "flowpin_sync_queued{peer=\"192.0.2.2:7430\"} 7\n"));
	assert_non_null(strstr(out, "flowpin_sync_pins_refreshed_total{peer=\"192.0.2.2:7430\"} 33\n"));
	assert_non_null(strstr(out, "flowpin_sync_digests_sent_total{peer=\"192.0.2.2:7430\"} 41\n"));
	assert_non_null(strstr(out, "flowpin_sync_digests_answered_total{peer=\"192.0.2.2:7430\"} 42\n"));
	assert_non_null(strstr(out, "flowpin_sync_ranges_repaired_total{peer=\"192.0.2.2:7430\"} 43\n"));
	assert_non_null(strstr(out, "flowpin_sync_pins_repaired_total{peer=\"192.0.2.2:7430\"} 44\n"));
	assert_non_null(strstr(out, "flowpin_sync_dropped_total{peer=\"none\",reason=\"unknown_peer\"} 3\n"));
	assert_non_null(strstr(out, "flowpin_sync_dropped_total{peer=\"[2001:db8::3]:9000\",reason=\"auth\"} 5\n"));
	free(c.buf);

	/* no sync: the table says so, Prometheus gets nothing */
	memset(p, 0, sizeof(p));
	peers_table(capture_start(&c), p, FP_MAX_PEERS, 1000);
	out = capture_end(&c);
	assert_non_null(strstr(out, "pin sync is off"));
	free(c.buf);
	peers_prometheus(capture_start(&c), p, FP_MAX_PEERS);
	out = capture_end(&c);
	assert_string_equal(out, "");
	free(c.buf);
}

static void gauges_output(void **state)
{
	struct fp_gauges g = {
		.maps = { { "flow_pins", 10, 262144 }, { "flow_cache", 4, 65536 } },
		.n_maps = 2,
		.nexthops = { [NH_ACTIVE] = 4, [NH_WITHDRAWN] = 1, [NH_DEAD] = 2 },
		.daemon_running = true,
		.daemon_dumped = true,
		.dumped_s = 1000,
		.now_s = 1030,
		.redumps = 3,
	};
	__u64 now[FP_STAT_MAX] = {};
	struct capture c;
	const char *out;
	FILE *f;

	(void)state;
	struct sync_peer_status peers[FP_MAX_PEERS];

	peers_sample(peers);
	f = capture_start(&c);
	stats_prometheus(f, now);
	gauges_prometheus(f, &g);
	peers_prometheus(f, peers, FP_MAX_PEERS);
	out = capture_end(&c);
	assert_exposition_format(out);
	assert_non_null(strstr(out, "\nflowpin_map_entries{map=\"flow_pins\"} 10\n"));
	assert_non_null(strstr(out, "\nflowpin_map_max_entries{map=\"flow_cache\"} 65536\n"));
	assert_non_null(strstr(out, "\nflowpin_nexthops{state=\"active\"} 4\n"));
	assert_non_null(strstr(out, "\nflowpin_nexthops{state=\"withdrawn\"} 1\n"));
	assert_non_null(strstr(out, "\nflowpin_nexthops{state=\"dead\"} 2\n"));
	assert_non_null(strstr(out, "\nflowpin_daemon_up 1\n"));
	assert_non_null(strstr(out, "\nflowpin_daemon_synced 1\n"));
	assert_non_null(strstr(out, "\nflowpin_daemon_resyncs_total 3\n"));
	assert_non_null(strstr(out, "\nflowpin_daemon_last_sync_timestamp_seconds 1000\n"));
	assert_non_null(strstr(out, "\nflowpin_daemon_seconds_since_sync 30\n"));

	/* every metric the shipped alert rules and dashboard use exists */
	for (int i = 0; i < 2; i++) {
		static const char *const files[] = { "dist/flowpin-alerts.yml",
						     "dist/grafana-flowpin.json" };
		char buf[16384], name[128], want[160];
		size_t len;
		FILE *in = fopen(files[i], "r"); /* run-all runs from the tree */

		assert_non_null(in);
		len = fread(buf, 1, sizeof(buf) - 1, in);
		fclose(in);
		buf[len] = 0;
		for (const char *p = strstr(buf, "flowpin_"); p;
		     p = strstr(p + 1, "flowpin_")) {
			size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");

			assert_true(n < sizeof(name));
			memcpy(name, p, n);
			name[n] = 0;
			snprintf(want, sizeof(want), "# TYPE %s ", name);
			if (!strstr(out, want))
				fail_msg("%s uses %s, which flowpinctl does not export",
					 files[i], name);
		}
	}
	free(c.buf);

	/* a daemon that never synced has no sync time to give */
	g = (struct fp_gauges){ .n_maps = 0 };
	gauges_prometheus(capture_start(&c), &g);
	out = capture_end(&c);
	assert_exposition_format(out);
	assert_non_null(strstr(out, "\nflowpin_daemon_up 0\n"));
	assert_null(strstr(out, "since_sync"));
	free(c.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addresses),
		cmocka_unit_test(prefixes),
		cmocka_unit_test(flows),
		cmocka_unit_test(formats),
		cmocka_unit_test(numbers),
		cmocka_unit_test(global_args),
		cmocka_unit_test(command_args),
		cmocka_unit_test(command_prefixes),
		cmocka_unit_test(tables),
		cmocka_unit_test(table_streams),
		cmocka_unit_test(json_output),
		cmocka_unit_test(stats_output),
		cmocka_unit_test(gauges_output),
		cmocka_unit_test(peers_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
