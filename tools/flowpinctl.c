// SPDX-License-Identifier: GPL-2.0
/*
 * flowpinctl: see and operate a running flowpin through its pinned maps,
 * with or without flowpind.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "cmd_table.h"
#include "ctl_args.h"
#include "flowpinctl.h"
#include "version.h"

static int do_help(struct ctl *ctl, int argc, char **argv);

static const struct cmd cmds[] = {
	{ "status", do_status, "",
	  "attached interfaces and mode, program id, map fill, daemon state" },
	{ "stats", do_stats, "[--interval S [--count N]] [--prometheus]",
	  "counters (rates with --interval), passes by reason" },
	{ "flows", do_flows,
	  "[--nexthop ADDR] [--src PREFIX] [--dst PREFIX] [--limit N] [--count]",
	  "pinned flows and their next hop" },
	{ "lookup", do_lookup, "FLOW", "where a flow is pinned, or that it is not" },
	{ "nexthops", do_nexthops, "",
	  "the next-hop table: address, device, MAC, state, pinned flows" },
	{ "peers", do_peers, "",
	  "pin sync: each peer's state, last message, pins sent and received, drops" },
	{ "flush", do_flush, "--nexthop ADDR | --all",
	  "remove pins: their flows are resolved again on their next packet" },
	{ "detach", do_detach, "[IFACE...]",
	  "remove flowpin from interfaces (default: every one in tx_ports)" },
	{ "help", do_help, "", "this text" },
	{ NULL, NULL, NULL, NULL },
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: flowpinctl [-p PIN_PATH] [-j] COMMAND [ARGS]\n"
		"  -p, --pin-path PATH   where flowpind pinned the maps (default %s)\n"
		"  -j, --json            JSON output\n"
		"  -V, --version         flowpinctl's version\n"
		"Commands (any unique prefix will do):\n",
		FP_PIN_PATH);
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(out, "  %s%s%s\n        %s\n", c->name, c->args[0] ? " " : "",
			c->args, c->help);
	fprintf(out,
		"FLOW: PROTO SRC DST; SRC and DST are ADDR:PORT, [IPV6]:PORT, or an ADDR\n"
		"      without port (protocols other than tcp and udp, fragments),\n"
		"      e.g. tcp 10.0.0.1:40000 198.51.100.10:80, icmp 10.0.0.1 192.0.2.1\n");
}

static int do_help(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl;
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

int ctl_open(struct ctl *ctl, unsigned int maps)
{
	return pinned_maps_open(&ctl->maps, ctl->pin_path, maps);
}

/* libbpf and libxdp warnings only; their debug and info lines stay quiet. */
static int print_warnings(enum libbpf_print_level level, const char *fmt,
			  va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int print_xdp_warnings(enum libxdp_print_level level, const char *fmt,
			      va_list ap)
{
	if (level != LIBXDP_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	struct global_args g;
	const struct cmd *cmd;
	struct ctl ctl = {};
	int err;

	if (global_args_parse(argc, argv, &g))
		return 2;
	if (g.help) {
		usage(stdout);
		return 0;
	}
	if (g.version) {
		printf("flowpinctl %s\n", FP_VERSION);
		return 0;
	}
	if (g.next >= argc) {
		usage(stderr);
		return 2;
	}
	err = cmd_find(cmds, argv[g.next], &cmd);
	if (err == -ENOTUNIQ) {
		fprintf(stderr, "flowpinctl: '%s' is ambiguous:", argv[g.next]);
		for (const struct cmd *c = cmds; c->name; c++)
			if (!strncmp(c->name, argv[g.next], strlen(argv[g.next])))
				fprintf(stderr, " %s", c->name);
		fprintf(stderr, "\n");
		return 2;
	}
	if (err) {
		fprintf(stderr, "flowpinctl: unknown command '%s' (try flowpinctl help)\n",
			argv[g.next]);
		return 2;
	}
	libbpf_set_print(print_warnings);
	libxdp_set_print(print_xdp_warnings);
	ctl.pin_path = g.pin_path;
	ctl.json = g.json;
	jw_init(&ctl.jw, stdout);
	for (int i = 0; i < FP_MAP_COUNT; i++)
		ctl.maps.fd[i] = -1;
	err = cmd->func(&ctl, argc - g.next, argv + g.next);
	pinned_maps_close(&ctl.maps);
	if (fflush(stdout) && !err) {
		fprintf(stderr, "flowpinctl: writing output: %s\n",
			strerror(errno));
		err = -EIO;
	}
	return err == -EINVAL ? 2 : err ? 1 : 0;
}
