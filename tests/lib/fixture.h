/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The router the packet tests run in: a private network namespace with an
 * ingress veth, five egress veths with permanent neighbours, multipath
 * routes, and a freshly loaded flowpin whose next-hop table mirrors them.
 */
#ifndef FLOWPIN_TEST_FIXTURE_H
#define FLOWPIN_TEST_FIXTURE_H

#include <stdbool.h>
#include <linux/types.h>
#include "flowpin.skel.h"
#include "nexthop_table.h"
#include "packets.h"

#define N_OUT 5
#define SVC4 "198.51.100.10"	  /* 4-way multipath: out1..out4 */
#define SVC6 "2001:db8:100::10"
#define SVC4_NET "198.51.100.0/24"
#define SVC6_NET "2001:db8:100::/64"
#define CLIENT4 "10.0.0.100"
#define CLIENT6 "2001:db8::100"
#define OUT_MASK_SVC 0x1e /* bits 1..4 */

struct router {
	int ifindex_in0, ifindex_in1;
	int ifindex_out[N_OUT + 1];	/* 1..N_OUT */
	__u8 out_mac[N_OUT + 1][6];	/* egress device MACs */
	__u8 gw_mac[N_OUT + 1][6];	/* neighbour MACs */
};

/* The entry point frames run through: XDP's, or tc ingress's on an skb. */
enum fixture_hook { HOOK_XDP = 0, HOOK_TC };

struct fixture_opts {
	enum withdrawn_policy policy;
	__u64 cache_check_ns;
	__u32 max_flows; /* flow_pins and flow_cache; 0: 16384 */
	__u64 pin_rate;	 /* new pins per second and CPU; 0: no limit */
	__u64 pin_burst;
	__u64 pins_per_s; /* all CPUs together; 0: no limit */
	__u64 daemon_silent_ns; /* 0: new flows pinned however old the beat */
	enum fixture_hook hook;
	bool sync_pins; /* the datapath writes pin_events */
	bool no_daemon; /* no route epoch, no heartbeat: the fallback checks */
	/*
	 * Load the other entry point's program too. Otherwise only the hook's
	 * is loaded: each verification of flowpin_tc takes seconds, and under
	 * qemu's TCG minutes.
	 */
	bool both_programs;
};

struct flowpin_fixture {
	struct flowpin *skel;
	struct nexthop_table nht;
	enum fixture_hook hook;
	int prog_fd;
	__u32 nh4[N_OUT + 1], nh6[N_OUT + 1]; /* next-hop ids per egress */
	/*
	 * As flowpind: the route epoch (0: no daemon, pins are checked every
	 * cache_check_ns) and its flags; while it is set, fixture_run() keeps
	 * the heartbeat fresh.
	 */
	__u32 epoch, epoch_flags;
	__u64 beat_ns;
	struct fixture_opts opts; /* what it was loaded with (fixture_reuse_programs()) */
};

extern struct router rt;

/* Namespace and topology; undone by router_destroy(). */
int router_create(void);
void router_destroy(void);

/* The multipath route to SVC4/SVC6 through these egress numbers (1..5). */
int route_svc(const int *outs, int n);


int fixture_load_opts(struct flowpin_fixture *f, const struct fixture_opts *o);
/*
 * From now on (on) or no longer, fixture_unload() keeps the program, and a
 * fixture_load_opts() with the same options as a kept one takes it with
 * every map as a load leaves it (arrays zeroed, hashes emptied) instead of
 * loading and verifying another: seconds a test, and under qemu's TCG ten
 * or more. The program holds nothing else (its globals are .rodata, the
 * options). Options that write pin_events always load: a ring buffer
 * cannot be emptied.
 */
void fixture_reuse_programs(bool on);
/* No pin rate limit, 16384 flows. */
int fixture_load(struct flowpin_fixture *f, enum withdrawn_policy policy,
		 __u64 cache_check_ns);
void fixture_unload(struct flowpin_fixture *f);

/* router_create() then fixture_load() with defaults; undone by router_unload(). */
int router_load(struct flowpin_fixture *f, enum fixture_hook hook);
void router_unload(struct flowpin_fixture *f);

/*
 * Run one frame through the program on the current CPU. Returns the verdict
 * as XDP's (a tc program's TC_ACT_REDIRECT is XDP_REDIRECT, TC_ACT_UNSPEC,
 * on through the chain, is XDP_PASS, TC_ACT_SHOT is XDP_DROP; anything
 * else, TC_ACT_OK too, is -2), or -1 when the run failed.
 */
int fixture_run(struct flowpin_fixture *f, const __u8 *in, size_t len,
		__u8 *out, __u32 *out_len, int ingress_ifindex);
/* The same as a GSO skb of gso_size-byte segments (tc only). */
int fixture_run_gso(struct flowpin_fixture *f, const __u8 *in, size_t len,
		    __u8 *out, __u32 *out_len, int ingress_ifindex,
		    __u16 gso_size);
void fixture_stats(struct flowpin_fixture *f, __u64 *sum /* [FP_STAT_MAX] */);

/*
 * Move the route epoch, as flowpind does after a change that may refuse a
 * flow (no-op under no_daemon). Returns 0 or -errno.
 */
int fixture_move_epoch(struct flowpin_fixture *f, __u32 flags);

/*
 * Build the frame of s and run it on this CPU: the egress (1..5) it was
 * redirected to, 0 when it went to the kernel (XDP_PASS), -1 otherwise.
 */
int fixture_send(struct flowpin_fixture *f, const struct pkt_spec *s, int cpu);

/* Egress number (1..5) a forwarded frame went to, by its MACs; 0 if none. */
int egress_of(const __u8 *frame);
/* Pinned next-hop id of a flow, 0 if none. */
__u32 pin_of(struct flowpin_fixture *f, const struct flow_key *key);

#endif
