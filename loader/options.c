// SPDX-License-Identifier: GPL-2.0
/*
 * flowpind's options: one table. Each entry names the option, its value
 * and its help, and parses its value; --help is printed from the table
 * (tests/unit.sh checks that the man page has every option it lists), and
 * an invalid value is reported with the entry's name.
 */
#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "follow.h"
#include "version.h"

#define STR(x) #x
#define XSTR(x) STR(x) /* a macro's value as text, for the help */

struct option_def {
	const char *name;
	int key;	  /* the short option, or a value above any character */
	const char *arg;  /* what the value is, in the help; NULL: none */
	const char *help; /* lines, '\n' between them */
	/* 0, -EINVAL for an invalid value, or another -errno, said already */
	int (*parse)(struct flowpind_opts *o, const char *arg);
};

/* A whole decimal, hex or octal number from min to max; false otherwise. */
static bool number(const char *s, unsigned long long min,
		   unsigned long long max, unsigned long long *v)
{
	char *end;

	if (!isdigit((unsigned char)*s)) /* strtoull takes spaces and signs */
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end && *v >= min && *v <= max;
}

#define NUMBER_INTO(field, min, max)                                           \
	do {                                                                   \
		unsigned long long v;                                          \
                                                                               \
		if (!number(arg, min, max, &v))                                \
			return -EINVAL;                                        \
		field = v;                                                     \
		return 0;                                                      \
	} while (0)

static int parse_mode(struct flowpind_opts *o, const char *arg)
{
	return fp_mode_parse(arg, &o->dp.mode) ? -EINVAL : 0;
}

/*
 * The ports: PORT, or PORT:MODE for a mode of its own (no interface name
 * holds a ':', see dev_valid_name()). The words stay as they are: a reload
 * executes them again. Kept for the process's life.
 */
static int parse_ports(struct flowpind_opts *o, char *const *words, int n)
{
	__u32 *modes = calloc(n, sizeof(*modes));
	char **names = calloc(n, sizeof(*names));

	for (int i = 0; modes && names && i < n; i++) {
		const char *mode = strchr(words[i], ':');

		modes[i] = o->dp.mode;
		if (mode && fp_mode_parse(mode + 1, &modes[i])) {
			fprintf(stderr, "flowpind: %s: unknown mode '%s' (native, skb, tc or auto)\n",
				words[i], mode + 1);
			goto err;
		}
		names[i] = strndup(words[i], mode ? (size_t)(mode - words[i]) :
						    strlen(words[i]));
		if (!names[i])
			break;
	}
	if (!modes || !names || (n && !names[n - 1])) {
		fprintf(stderr, "flowpind: %s\n", strerror(ENOMEM));
		goto err;
	}
	o->dp.ifaces = names;
	o->dp.modes = modes;
	o->dp.n_ifaces = n;
	return 0;
err:
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(modes);
	return -EINVAL;
}

static int parse_pin_path(struct flowpind_opts *o, const char *arg)
{
	o->dp.pin_path = arg;
	return 0;
}

static int parse_max_flows(struct flowpind_opts *o, const char *arg)
{
	NUMBER_INTO(o->dp.max_flows, 16, 1U << 28);
}

static int parse_withdrawn(struct flowpind_opts *o, const char *arg)
{
	for (__u32 p = FP_WITHDRAWN_DRAIN; p <= FP_WITHDRAWN_REPIN; p++) {
		if (!strcmp(arg, fp_withdrawn_policy_name(p))) {
			o->dp.policy = p;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_drain_timeout(struct flowpind_opts *o, const char *arg)
{
	NUMBER_INTO(o->drain_timeout_s, 0, ~0ULL);
}

static int parse_pin_rate(struct flowpind_opts *o, const char *arg)
{
	NUMBER_INTO(o->dp.pin_rate, 0, ~0ULL);
}

static int parse_pin_burst(struct flowpind_opts *o, const char *arg)
{
	NUMBER_INTO(o->dp.pin_burst, 1, ~0ULL);
}

static int parse_min_pin_age(struct flowpind_opts *o, const char *arg)
{
	NUMBER_INTO(o->dp.min_pin_age, 0, 86400);
}

static int parse_too_big_rate(struct flowpind_opts *o, const char *arg)
{
	NUMBER_INTO(o->dp.too_big_rate, 0, 1000000000ULL);
}

static int parse_allow_nat(struct flowpind_opts *o, const char *arg)
{
	(void)arg;
	o->allow_nat = true;
	return 0;
}

static int parse_settings(struct flowpind_opts *o, const char *arg)
{
	o->settings = arg;
	return 0;
}

static int parse_sync(struct flowpind_opts *o, const char *arg)
{
	if (sync_parse_addr(arg, &o->sync.listen))
		return -EINVAL;
	o->sync.on = true;
	return 0;
}

static int parse_peer(struct flowpind_opts *o, const char *arg)
{
	if (o->sync.n_peers == FP_MAX_PEERS - 1) {
		fprintf(stderr, "flowpind: at most %d peers\n", FP_MAX_PEERS - 1);
		return -E2BIG;
	}
	if (sync_parse_addr(arg, &o->sync.peer[o->sync.n_peers]))
		return -EINVAL;
	o->sync.n_peers++;
	return 0;
}

static int parse_sync_key(struct flowpind_opts *o, const char *arg)
{
	o->sync.key_file = arg;
	return 0;
}

static int parse_sync_key_next(struct flowpind_opts *o, const char *arg)
{
	o->sync.key_next_file = arg;
	return 0;
}

/* A.B.C.D, as FRR writes router ids, or a number; never 0. */
static int parse_router_id(struct flowpind_opts *o, const char *arg)
{
	struct in_addr a;

	if (inet_pton(AF_INET, arg, &a) == 1 && a.s_addr) {
		o->sync.router_id = ntohl(a.s_addr);
		return 0;
	}
	NUMBER_INTO(o->sync.router_id, 1, UINT32_MAX);
}

static int parse_sync_wait(struct flowpind_opts *o, const char *arg)
{
	NUMBER_INTO(o->sync.wait_s, 0, 3600);
}

static int parse_sync_refresh(struct flowpind_opts *o, const char *arg)
{
	NUMBER_INTO(o->sync.refresh_s, 0, 3600);
}

static int parse_sync_repair(struct flowpind_opts *o, const char *arg)
{
	NUMBER_INTO(o->sync.repair_s, 0, 3600);
}

static int parse_rcvbuf(struct flowpind_opts *o, const char *arg)
{
	NUMBER_INTO(o->rcvbuf, 1, 0x7fffffff);
}

static int parse_verbose(struct flowpind_opts *o, const char *arg)
{
	(void)arg;
	o->verbose++;
	return 0;
}

static int print_version(struct flowpind_opts *o, const char *arg)
{
	(void)o;
	(void)arg;
	printf("flowpind %s\n", FP_VERSION);
	exit(0);
}

static int print_help(struct flowpind_opts *o, const char *arg)
{
	(void)o;
	(void)arg;
	options_usage(stdout);
	exit(0);
}

enum { LONG_ONLY = 256 }; /* keys of options without a short form */

static const struct option_def defs[] = {
	{ "mode", 'm', "native|skb|tc|auto",
	  "where the program runs: XDP in the driver (native),\n"
	  "generic XDP (skb), tc ingress (tc); auto: tc on\n"
	  "veth, devices without native XDP (VLAN, macvlan,\n"
	  "bridge...) and ports with a VLAN, native where\n"
	  "the driver has it, else tc", parse_mode },
	{ "pin-path", 'p', "DIR",
	  "where maps are pinned (default " FP_PIN_PATH ")", parse_pin_path },
	{ "max-flows", 'n', "N",
	  "capacity of the pin table (default " XSTR(FP_MAX_FLOWS) ")",
	  parse_max_flows },
	{ "withdrawn", LONG_ONLY + 0, "drain|repin",
	  "what pinned flows do when their next hop leaves\n"
	  "every route (default drain)", parse_withdrawn },
	{ "drain-timeout", LONG_ONLY + 1, "SECONDS",
	  "release a drained next hop after this long\n"
	  "even if flows are still pinned to it (default 0: never)",
	  parse_drain_timeout },
	{ "pin-rate", LONG_ONLY + 2, "N",
	  "new pins per second and CPU; above it new flows are\n"
	  "forwarded unpinned (default " XSTR(FP_PIN_RATE) "; 0: no limit)",
	  parse_pin_rate },
	{ "pin-burst", LONG_ONLY + 3, "N",
	  "new pins a CPU may make at once (default " XSTR(FP_PIN_BURST) ")",
	  parse_pin_burst },
	{ "min-pin-age", LONG_ONLY + 4, "SECONDS",
	  "all CPUs together make at most max-flows pins per\n"
	  "SECONDS, so a flood evicts no younger pin\n"
	  "(default " XSTR(FP_MIN_PIN_AGE) "; 0: no shared limit)",
	  parse_min_pin_age },
	{ "too-big-rate", LONG_ONLY + 5, "N",
	  "\"fragmentation needed\" / \"packet too big\" errors\n"
	  "flowpin sends per second and CPU, in bursts of " XSTR(FP_TOO_BIG_BURST) "\n"
	  "(default " XSTR(FP_TOO_BIG_RATE) ", as the kernel's icmp_msgs_per_sec;\n"
	  "0: no limit)", parse_too_big_rate },
	{ "allow-nat", LONG_ONLY + 6, NULL,
	  "start even though NAT rules exist (they must not\n"
	  "apply to these ports: flowpin forwards without NAT)",
	  parse_allow_nat },
	{ "settings", LONG_ONLY + 7, "FILE",
	  "read FLOWPIND_OPTS and FLOWPIND_INTERFACES from\n"
	  "FILE again on SIGHUP (the unit gives its\n"
	  "EnvironmentFile): a reload applies an edit", parse_settings },
	{ "sync", LONG_ONLY + 8, "ADDR[:PORT]",
	  "share pins with peers: listen on this address\n"
	  "(UDP port " XSTR(FP_SYNC_PORT) " by default; IPv6 as [ADDR]:PORT)",
	  parse_sync },
	{ "peer", LONG_ONLY + 9, "ADDR[:PORT]",
	  "a peer's --sync address; repeat for each peer", parse_peer },
	{ "sync-key", LONG_ONLY + 10, "FILE",
	  "the peers' shared secret: 32 bytes or more, mode\n"
	  "0600 (head -c 32 /dev/urandom > FILE)", parse_sync_key },
	{ "sync-key-next", LONG_ONLY + 13, "FILE",
	  "a second key, accepted from peers while the fleet\n"
	  "moves to it (messages are signed with --sync-key)",
	  parse_sync_key_next },
	{ "router-id", LONG_ONLY + 14, "ID",
	  "this router's id in the fleet's rule, A.B.C.D or a\n"
	  "number, unique in the fleet (default: --sync's IPv4\n"
	  "address, or the last 32 bits of its IPv6 one)",
	  parse_router_id },
	{ "sync-wait", LONG_ONLY + 11, "SECONDS",
	  "wait this long at most for the peers' pins\n"
	  "before telling systemd it is ready (default " XSTR(SYNC_WAIT_S) ")",
	  parse_sync_wait },
	{ "sync-refresh", LONG_ONLY + 15, "SECONDS",
	  "send the pins of the flows forwarded here to the\n"
	  "peers again this often, so their tables keep them\n"
	  "(default " XSTR(SYNC_REFRESH_S) "; 0: never)", parse_sync_refresh },
	{ "sync-repair", LONG_ONLY + 16, "SECONDS",
	  "compare digests of the peers' pins with them this\n"
	  "often; what differs is sent again (default " XSTR(SYNC_REPAIR_S) ";\n"
	  "0: never)", parse_sync_repair },
	{ "netlink-rcvbuf", LONG_ONLY + 12, "BYTES",
	  "receive buffer of the event socket (default " XSTR(FOLLOW_RCVBUF) ";\n"
	  "tiny values are for testing lost events)", parse_rcvbuf },
	{ "verbose", 'v', NULL,
	  "more messages; twice for libbpf's debug output", parse_verbose },
	{ "version", 'V', NULL, NULL, print_version },
	{ "help", 'h', NULL, NULL, print_help },
};

#define N_DEFS (sizeof(defs) / sizeof(defs[0]))
#define HELP_COLUMN 34

void options_usage(FILE *f)
{
	fprintf(f, "Usage: flowpind [options] IFACE[:MODE]...\n"
		   "Attach flowpin to these ports and keep its maps equal to the kernel's\n"
		   "routes, neighbours and links. IFACE:MODE gives a port a mode of its\n"
		   "own (native, skb, tc or auto) over --mode.\n\n");
	for (size_t i = 0; i < N_DEFS; i++) {
		const struct option_def *d = &defs[i];
		const char *h = d->help, *nl;
		int n;

		if (d->key < LONG_ONLY)
			n = fprintf(f, "  -%c, --%s", d->key, d->name);
		else
			n = fprintf(f, "      --%s", d->name);
		if (d->arg)
			n += fprintf(f, " %s", d->arg);
		for (; h; h = nl ? nl + 1 : NULL) {
			nl = strchr(h, '\n');
			fprintf(f, "%*s%.*s\n", n < HELP_COLUMN ? HELP_COLUMN - n : 1,
				"", nl ? (int)(nl - h) : (int)strlen(h), h);
			n = 0;
		}
		if (!d->help)
			fprintf(f, "\n");
	}
	fprintf(f, "\nSignals: TERM/INT detach and exit; HUP re-executes flowpind without\n"
		   "detaching (a restart or upgrade that breaks no connection).\n");
}

int options_parse(int argc, char **argv, struct flowpind_opts *o)
{
	struct option longs[N_DEFS + 1] = {};
	char shorts[3 * N_DEFS + 1] = "", *s = shorts;
	char err[256];
	int key, ret;

	*o = (struct flowpind_opts){
		.dp = {
			.pin_path = FP_PIN_PATH,
			.mode = XDP_MODE_UNSPEC,
			.max_flows = FP_MAX_FLOWS,
			.policy = FP_WITHDRAWN_DRAIN,
			.pin_rate = FP_PIN_RATE,
			.too_big_rate = FP_TOO_BIG_RATE,
			.pin_burst = FP_PIN_BURST,
			.min_pin_age = FP_MIN_PIN_AGE,
		},
		.rcvbuf = FOLLOW_RCVBUF,
		.sync.wait_s = SYNC_WAIT_S,
		.sync.refresh_s = SYNC_REFRESH_S,
		.sync.repair_s = SYNC_REPAIR_S,
	};
	for (size_t i = 0; i < N_DEFS; i++) {
		longs[i] = (struct option){ defs[i].name,
					    defs[i].arg ? required_argument : no_argument,
					    NULL, defs[i].key };
		if (defs[i].key < LONG_ONLY) {
			*s++ = defs[i].key;
			if (defs[i].arg)
				*s++ = ':';
		}
	}
	while ((key = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct option_def *d = NULL;

		for (size_t i = 0; i < N_DEFS && !d; i++)
			if (defs[i].key == key)
				d = &defs[i];
		if (!d) {
			options_usage(stderr);
			return -EINVAL;
		}
		ret = d->parse(o, optarg);
		if (ret == -EINVAL)
			fprintf(stderr, "flowpind: invalid value '%s' for --%s\n",
				optarg, d->name);
		if (ret)
			return -EINVAL;
	}
	if (optind == argc) {
		fprintf(stderr, "flowpind: no interface given (flowpind --help)\n");
		return -EINVAL;
	}
	if (parse_ports(o, argv + optind, argc - optind))
		return -EINVAL;
	if (sync_check_config(&o->sync, err, sizeof(err))) {
		fprintf(stderr, "flowpind: %s\n", err);
		return -EINVAL;
	}
	o->dp.sync_pins = o->sync.on;
	return 0;
}
