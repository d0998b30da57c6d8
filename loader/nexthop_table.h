/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control plane's writer of the nexthops and nexthop_index maps.
 *
 * A next hop is written without the datapath ever reading a half-written
 * copy: see struct nexthop_entry in flowpin.h. After a flip, the slot that
 * was live may be written again only after an RCU grace period. A thread
 * of the table's own waits for those grace periods, so the caller's loop
 * goes on meanwhile; a write waits only when its next hop's last flip is
 * not yet covered. A batch (nexthop_table_begin() ... _commit()) asks for
 * one grace period for all of its writes.
 */
#ifndef FLOWPIN_NEXTHOP_TABLE_H
#define FLOWPIN_NEXTHOP_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include "flowpin.h"

struct nexthop_table {
	int nexthops_fd;
	int index_fd;
	int grace_fd;	   /* map-in-map: an update waits for running programs */
	int grace_inner_fd;
	__u32 size;	   /* ids 1..size-1 */
	struct nexthop *nh; /* copy of every live slot, by id */
	__u8 *live;	   /* which slot of each entry is live, by id */
	bool batch;	   /* between begin and commit */
	__u64 *flipped_at; /* by id: the number of its last flip, 0: none */
	__u64 flips;	   /* flips so far */
	__u64 changes;	   /* next hops written, ever: readers' copies are stale */
	/* The waiter thread; the fields below are under lock. */
	pthread_t waiter;
	bool has_waiter;
	pthread_mutex_t lock;
	pthread_cond_t ask;  /* to the waiter: asked moved, or stop */
	pthread_cond_t done; /* from the waiter: a wait ended */
	__u64 asked;	   /* flips up to this number are to be waited for */
	__u64 started;	   /* the waiter's last wait covers flips up to this */
	__u64 waited;	   /* flips up to this number have no reader left */
	int wait_err;	   /* a wait failed: the next write waits first */
	__u64 failed_upto; /* the flips that failed wait was for */
	bool stop;
	__u64 waits;	   /* grace periods waited for, ever */
};

/*
 * Adopt the table as it is, after one grace period: a writer before us may
 * have stopped between a flip and the wait that followed it.
 */
int nexthop_table_open(struct nexthop_table *t, int nexthops_fd, int index_fd);

/*
 * A batch: every write flips, and commit asks the waiter for one grace
 * period for all of them, so a thousand changes cost one rather than a
 * thousand. A next hop written twice in a batch waits before its second
 * write. Commit returns without waiting: 0, or the error of an earlier
 * wait that failed (the next write then waits first).
 */
void nexthop_table_begin(struct nexthop_table *t);
int nexthop_table_commit(struct nexthop_table *t);
/* Wait until no reader is left of any slot flipped so far; 0 or -errno. */
int nexthop_table_settle(struct nexthop_table *t);
/* Settles, then stops the waiter. */
void nexthop_table_close(struct nexthop_table *t);

/* The next hop with this address, or 0. */
__u32 nexthop_table_find(const struct nexthop_table *t,
			 const struct nexthop_addr *addr);
const struct nexthop *nexthop_table_get(const struct nexthop_table *t,
					__u32 id);

/*
 * Add a next hop in state NH_ACTIVE, or update the MACs, path MTU (0: the
 * device's), state and device of the one with this address. Its generation
 * changes only when its id is reused, so pins survive a MAC change.
 * Returns the id (> 0) or -errno.
 */
int nexthop_table_set(struct nexthop_table *t, const struct nexthop_addr *addr,
		      const __u8 smac[FP_ETH_ALEN], const __u8 dmac[FP_ETH_ALEN],
		      __u16 mtu, enum nexthop_state state);

/* Change only the state; moving to NH_DEAD bumps the generation. */
int nexthop_table_set_state(struct nexthop_table *t, __u32 id,
			    enum nexthop_state state);

/* Forget a next hop: its pins stop matching, its id may be reused. */
int nexthop_table_release(struct nexthop_table *t, __u32 id);

void nexthop_addr_from(struct nexthop_addr *addr, __u32 ifindex, int family,
		       const void *gw);
/* Plain helpers on next hops, for the table and for model.c alike. */
void nexthop_addr_of(struct nexthop_addr *addr, const struct nexthop *nh);
/* The id (1..size-1) of the next hop in use with this address, or 0. */
__u32 nexthop_find(const struct nexthop *nh, __u32 size,
		   const struct nexthop_addr *addr);

#endif /* FLOWPIN_NEXTHOP_TABLE_H */
