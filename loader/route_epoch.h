/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which rtnetlink messages move the route epoch: the changes that can make
 * the kernel stop forwarding a flow it forwarded, so the datapath asks the
 * FIB again for each pinned flow (the drop rule). Plain C on messages: no
 * socket, no map.
 */
#ifndef FLOWPIN_ROUTE_EPOCH_H
#define FLOWPIN_ROUTE_EPOCH_H

#include <stdbool.h>
#include <linux/netlink.h>
#include <linux/types.h>

#define EPOCH_MAX_BLACKHOLE_NHS 64

struct epoch_watch {
	__u32 flags; /* FP_EPOCH_*, for the route_epoch map */
	/* nexthop objects that are blackholes: a route through one rejects */
	__u32 blackhole_nh[EPOCH_MAX_BLACKHOLE_NHS];
	int n_blackhole_nh;
	bool blackhole_nh_overflow; /* more than fit: every RTA_NH_ID counts */
};

/*
 * Take one message (an event, or one of a full dump's) into w. True when
 * it is a change after which a pinned flow may be refused: a route of a
 * non-unicast type added or replaced (multicast and IPv6 link-local
 * prefixes aside: the datapath never pins those), a unicast route deleted
 * (it may uncover a reject route), a route through a blackhole nexthop
 * object, a nexthop object made a blackhole or deleted, a rule added or
 * deleted, an address added or removed, forwarding set on a device or all
 * of them.
 */
bool epoch_watch_msg(struct epoch_watch *w, const struct nlmsghdr *nlh);

/* Before a full dump: what the dump shows replaces what w knew. */
void epoch_watch_reset(struct epoch_watch *w);

#endif /* FLOWPIN_ROUTE_EPOCH_H */
