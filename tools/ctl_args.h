/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flowpinctl's command lines, parsed into plain structs. A parser reports
 * what is wrong on one line of stderr and returns -EINVAL.
 */
#ifndef FLOWPIN_CTL_ARGS_H
#define FLOWPIN_CTL_ARGS_H

#include <stdbool.h>
#include "flow_text.h"

struct global_args {
	const char *pin_path;
	bool json;
	bool help;
	bool version;
	int next; /* argv index of the command */
};

struct stats_args {
	double interval;	  /* seconds; 0: one reading, no rates */
	unsigned long long count; /* reports with --interval; 0: forever */
	bool prometheus;
};

struct flows_args {
	bool has_nexthop, has_src, has_dst, count;
	struct fp_addr nexthop;
	struct fp_prefix src, dst;
	unsigned long long limit; /* 0: all */
};

struct flush_args {
	bool all, has_nexthop;
	struct fp_addr nexthop;
};

int global_args_parse(int argc, char **argv, struct global_args *a);
/* argv[0] is the command's name in these. */
int stats_args_parse(int argc, char **argv, struct stats_args *a);
int flows_args_parse(int argc, char **argv, struct flows_args *a);
int flush_args_parse(int argc, char **argv, struct flush_args *a);
/* A command that takes no arguments. */
int no_args_parse(int argc, char **argv);

#endif /* FLOWPIN_CTL_ARGS_H */
