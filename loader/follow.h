/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Following the kernel: rtnetlink events and full dumps into the model,
 * the model into the next-hop table (through reconcile.h), the ports' links
 * into the datapath's port maps, the route epoch, neighbour keep-alive, pin
 * counts, and what a re-executed flowpind takes over. A route change goes
 * one way: rtnl -> follow_events() -> model_apply() -> write_table() ->
 * reconcile() -> nexthop_table.
 *
 * Failures are logged where they happen and never stop the daemon: the
 * datapath keeps forwarding, and the next event, tick or full dump tries
 * again.
 */
#ifndef FLOWPIN_FOLLOW_H
#define FLOWPIN_FOLLOW_H

#include <stdbool.h>

#include "datapath.h"
#include "model.h"
#include "nexthop_table.h"
#include "route_epoch.h"
#include "rtnl.h"

#define FOLLOW_RCVBUF 33554432 /* 32 MiB: the event socket's, by default */

struct follow {
	struct datapath *dp;
	struct nexthop_table *nht;
	struct rtnl rtnl;
	struct model model;
	/* what flowpind says of itself; follow writes its dump fields */
	struct daemon_status status;
	enum withdrawn_policy policy;
	__u64 drain_timeout_s;
	__u64 *withdrawn_at; /* per next-hop id: when it left every route */
	__u32 *pins;	     /* per next-hop id: pins at the last count */
	__u64 own_pins;	     /* pins made here (router 0), usable, at the last count */
	bool pins_counted;
	__u64 pins_counted_s;
	__u64 write_errors;  /* next-hop changes that failed to reach the maps */
	bool attached;	     /* the ports have flowpin: follow their changes */
	bool dump_due;	     /* events were lost, or a dump failed: dump at the tick */
	struct epoch_watch epochs; /* what moves the route epoch */
	bool epoch_due;	     /* an event moved it: write it after the table */
	bool links_due;	     /* a link changed: follow the ports again */
	unsigned long ticks;		      /* of the 1 s timer, since open */
	unsigned long keepalive_at, count_at; /* due ticks */
};

/*
 * Open the event socket (rcvbuf bytes), then dump the kernel into the
 * model and the table: no change falls between the two. The withdrawal
 * times a previous image handed over are taken. Returns 0 or -errno,
 * having said why.
 */
int follow_open(struct follow *f, struct datapath *dp, struct nexthop_table *nht,
		enum withdrawn_policy policy, __u64 drain_timeout_s, int rcvbuf);

/* Before attach: each port's VRF and VLAN devices, from the first dump. */
void follow_ports_before_attach(struct follow *f);
/*
 * After attach: follow the ports' links from now on, mirror their VLANs
 * and bonds, and take flowpin off the ports a previous image had and this
 * one does not.
 */
void follow_attached(struct follow *f);

int follow_event_fd(const struct follow *f);
/* Apply the pending events. */
void follow_events(struct follow *f);
/*
 * The 1 s timer fired n times: a due dump or epoch, keep-alive, pin
 * counts (by due times, not multiples: a timer that overran skips none).
 */
void follow_tick(struct follow *f, unsigned long n);

/*
 * For a re-executed image: the withdrawal times and the ports, in the
 * environment; the event socket closed.
 */
void follow_hand_over(struct follow *f);
void follow_close(struct follow *f);

#endif /* FLOWPIN_FOLLOW_H */
