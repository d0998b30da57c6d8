/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rtnetlink I/O for flowpind: an event socket subscribed to the groups
 * the model needs, a request socket for dumps and neighbour keep-alives.
 */
#ifndef FLOWPIN_RTNL_H
#define FLOWPIN_RTNL_H

#include <linux/netlink.h>
#include "flowpin.h"

struct mnl_socket;

struct rtnl {
	struct mnl_socket *events;
	struct mnl_socket *req;
	unsigned int seq;
	char *buf;
};

typedef int (*rtnl_cb)(const struct nlmsghdr *nlh, void *data);

/* rcvbuf: bytes for the event socket (SO_RCVBUFFORCE when allowed). */
int rtnl_open(struct rtnl *r, int rcvbuf);
void rtnl_close(struct rtnl *r);
int rtnl_event_fd(const struct rtnl *r);

/*
 * Dump links, neighbours, nexthop objects and routes into cb. Returns 0,
 * -EINTR when the kernel flagged a dump inconsistent (NLM_F_DUMP_INTR;
 * everything was still fed to cb), or -errno.
 */
int rtnl_dump(struct rtnl *r, rtnl_cb cb, void *data);

/*
 * Feed pending events to cb without blocking, at most RTNL_READ_MAX reads
 * (of up to 64 kB each) per call, so that a flood of events cannot starve
 * the caller's signals and timers. Returns 0, -ENOBUFS when events were
 * lost (a full dump is the only correct answer), or -errno.
 */
#define RTNL_READ_MAX 64
int rtnl_read_events(struct rtnl *r, rtnl_cb cb, void *data);
/* Whether more events wait on the socket (a flood that one call left). */
bool rtnl_events_pending(const struct rtnl *r);

/*
 * One link's RTM_NEWLINK into cb (model_apply(), say), asked on a socket of
 * its own: before the event socket is open. Returns 0 or -errno.
 */
int rtnl_link_get(__u32 ifindex, rtnl_cb cb, void *data);

/* Tell the kernel this neighbour is in use (NTF_USE), so it stays resolved. */
int rtnl_neigh_use(struct rtnl *r, const struct nexthop_addr *a);

#endif
