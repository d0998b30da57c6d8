// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl_args.h"

struct opt_def {
	const char *name; /* with its dashes */
	bool has_arg;
};

static int arg_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int arg_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "flowpinctl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

/*
 * argv[*i] as one of defs: returns its index and sets *arg (--opt VALUE or
 * --opt=VALUE), moving *i past the value.
 */
static int opt_next(int argc, char **argv, int *i, const struct opt_def *defs,
		    int ndefs, const char **arg)
{
	const char *s = argv[*i], *eq = strchr(s, '=');
	size_t len = eq ? (size_t)(eq - s) : strlen(s);

	*arg = NULL;
	if (s[0] != '-')
		return arg_error(argv[0], "unexpected argument '%s'", s);
	for (int d = 0; d < ndefs; d++) {
		if (strlen(defs[d].name) != len || strncmp(defs[d].name, s, len))
			continue;
		if (!defs[d].has_arg && eq)
			return arg_error(argv[0], "%s takes no value",
					 defs[d].name);
		if (defs[d].has_arg) {
			if (eq)
				*arg = eq + 1;
			else if (*i + 1 < argc)
				*arg = argv[++*i];
			else
				return arg_error(argv[0], "%s needs a value",
						 defs[d].name);
		}
		return d;
	}
	return arg_error(argv[0], "unknown option '%.*s'", (int)len, s);
}

int global_args_parse(int argc, char **argv, struct global_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->pin_path = FP_PIN_PATH;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "-j") || !strcmp(s, "--json")) {
			a->json = true;
		} else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			a->help = true;
		} else if (!strcmp(s, "-V") || !strcmp(s, "--version")) {
			a->version = true;
		} else if (!strcmp(s, "-p") || !strcmp(s, "--pin-path")) {
			if (++i == argc)
				return arg_error(NULL, "%s needs a path", s);
			a->pin_path = argv[i];
		} else if (!strncmp(s, "--pin-path=", 11)) {
			a->pin_path = s + 11;
		} else if (!strncmp(s, "-p", 2)) {
			a->pin_path = s + 2;
		} else {
			return arg_error(NULL, "unknown option '%s'", s);
		}
	}
	if (!a->pin_path[0])
		return arg_error(NULL, "empty pin path");
	a->next = i;
	return 0;
}

int stats_args_parse(int argc, char **argv, struct stats_args *a)
{
	static const struct opt_def defs[] = {
		{ "--interval", true },
		{ "--count", true },
		{ "--prometheus", false },
	};
	const char *arg;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		switch (opt_next(argc, argv, &i, defs, 3, &arg)) {
		case 0:
			if (seconds_parse(arg, &a->interval))
				return arg_error(argv[0],
						 "--interval: '%s' is not a number of seconds in (0, 86400]",
						 arg);
			break;
		case 1:
			if (uint_parse(arg, ~0ULL, &a->count) || !a->count)
				return arg_error(argv[0],
						 "--count: '%s' is not a positive number",
						 arg);
			break;
		case 2:
			a->prometheus = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (a->count && !a->interval)
		return arg_error(argv[0], "--count needs --interval");
	if (a->prometheus && a->interval)
		return arg_error(argv[0],
				 "--prometheus gives counters, not rates: no --interval");
	return 0;
}

static int nexthop_arg(const char *cmd, const char *arg, struct fp_addr *addr)
{
	const char *why;

	if (nexthop_parse(arg, addr, &why))
		return arg_error(cmd, "--nexthop: '%s': %s", arg, why);
	return 0;
}

static int prefix_arg(const char *cmd, const char *opt, const char *arg,
		      struct fp_prefix *p)
{
	if (prefix_parse(arg, p))
		return arg_error(cmd, "%s: '%s' is not a prefix (ADDR/LEN or ADDR)",
				 opt, arg);
	return 0;
}

int flows_args_parse(int argc, char **argv, struct flows_args *a)
{
	static const struct opt_def defs[] = {
		{ "--nexthop", true }, { "--src", true },    { "--dst", true },
		{ "--limit", true },   { "--count", false },
	};
	const char *arg;
	int err = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc && !err; i++) {
		switch (opt_next(argc, argv, &i, defs, 5, &arg)) {
		case 0:
			a->has_nexthop = true;
			err = nexthop_arg(argv[0], arg, &a->nexthop);
			break;
		case 1:
			a->has_src = true;
			err = prefix_arg(argv[0], "--src", arg, &a->src);
			break;
		case 2:
			a->has_dst = true;
			err = prefix_arg(argv[0], "--dst", arg, &a->dst);
			break;
		case 3:
			if (uint_parse(arg, ~0ULL, &a->limit) || !a->limit)
				err = arg_error(argv[0],
						"--limit: '%s' is not a positive number",
						arg);
			break;
		case 4:
			a->count = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (!err && a->has_src && a->has_dst &&
	    a->src.addr.family != a->dst.addr.family)
		err = arg_error(argv[0], "--src and --dst are of different families");
	return err;
}

int flush_args_parse(int argc, char **argv, struct flush_args *a)
{
	static const struct opt_def defs[] = {
		{ "--nexthop", true },
		{ "--all", false },
	};
	const char *arg;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		switch (opt_next(argc, argv, &i, defs, 2, &arg)) {
		case 0:
			a->has_nexthop = true;
			if (nexthop_arg(argv[0], arg, &a->nexthop))
				return -EINVAL;
			break;
		case 1:
			a->all = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (a->all == a->has_nexthop)
		return arg_error(argv[0], "give either --nexthop ADDR or --all");
	return 0;
}

int no_args_parse(int argc, char **argv)
{
	if (argc > 1)
		return arg_error(argv[0], "unexpected argument '%s'", argv[1]);
	return 0;
}
