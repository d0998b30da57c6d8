/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flowpind's command line, declared as one table (options.c) from which
 * parsing, --help (and so the man page's check) and the error messages
 * come.
 */
#ifndef FLOWPIN_OPTIONS_H
#define FLOWPIN_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "datapath.h"
#include "sync.h"

struct flowpind_opts {
	struct datapath_opts dp; /* the maps, the program, the ports */
	__u64 drain_timeout_s;	 /* --drain-timeout; 0: never */
	int rcvbuf;		 /* --netlink-rcvbuf */
	bool allow_nat;		 /* --allow-nat */
	const char *settings;	 /* --settings: read again on SIGHUP */
	struct sync_config sync; /* --sync, --peer, --sync-key, --sync-wait */
	int verbose;		 /* -v given this many times */
};

/*
 * Fill o from the defaults and argv. Returns 0, or -EINVAL having printed
 * one line (and, for an unknown option, the usage) to stderr. --help and
 * --version print and exit 0.
 */
int options_parse(int argc, char **argv, struct flowpind_opts *o);

void options_usage(FILE *f);

#endif /* FLOWPIN_OPTIONS_H */
