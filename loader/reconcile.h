/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the next-hop table should become: the model's next hops against the
 * table's, under the withdrawn policy (drain or repin), the drain timeout
 * and the last pin count. Plain C: it decides, flowpind's follow.c writes.
 */
#ifndef FLOWPIN_RECONCILE_H
#define FLOWPIN_RECONCILE_H

#include "model.h"

/* A change to the next-hop table. */
struct nh_change {
	enum { NH_SET, NH_RELEASE } op;
	__u32 id;		  /* NH_RELEASE; NH_SET of a known next hop */
	struct nexthop_addr addr; /* NH_SET */
	__u8 smac[FP_ETH_ALEN];
	__u8 dmac[FP_ETH_ALEN];
	__u16 mtu;		  /* NH_SET: struct nexthop's */
	enum nexthop_state state;
};

struct reconcile_opts {
	enum withdrawn_policy policy;
	__u64 now_s;	       /* seconds of boot time (CLOCK_BOOTTIME) */
	__u64 drain_timeout_s; /* 0: wait for the last pin */
	const __u32 *pins;     /* pins per id, or NULL when not counted */
	__u64 pins_counted_s;  /* when that count started */
	__u64 *withdrawn_at;   /* per id, kept by the caller */
};

/*
 * Compare the model with the table (cur[id], size ids) and list the
 * changes that make the table equal to it. Returns the count or -errno.
 */
int reconcile(const struct model *m, const struct nexthop *cur, __u32 size,
	      const struct reconcile_opts *opts, struct nh_change **out);

#endif /* FLOWPIN_RECONCILE_H */
