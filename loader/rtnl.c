// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "rtnl.h"

#define BUF_SIZE (64 * 1024)

static const unsigned int groups[] = {
	RTNLGRP_LINK,	    RTNLGRP_NEIGH,	 RTNLGRP_IPV4_IFADDR,
	RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE,
	RTNLGRP_NEXTHOP,
	/* for the route epoch only: rules, and forwarding turned off */
	RTNLGRP_IPV4_RULE,  RTNLGRP_IPV6_RULE,	 RTNLGRP_IPV4_NETCONF,
	RTNLGRP_IPV6_NETCONF,
};

int rtnl_open(struct rtnl *r, int rcvbuf)
{
	int fd, err;

	memset(r, 0, sizeof(*r));
	r->seq = time(NULL);
	r->buf = malloc(BUF_SIZE);
	r->events = mnl_socket_open(NETLINK_ROUTE);
	r->req = mnl_socket_open(NETLINK_ROUTE);
	if (!r->buf || !r->events || !r->req)
		goto err;
	if (mnl_socket_bind(r->events, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_bind(r->req, 0, MNL_SOCKET_AUTOPID))
		goto err;
	fd = mnl_socket_get_fd(r->events);
	/* Events lost to a full buffer cost a full dump: make it large. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (mnl_socket_setsockopt(r->events, NETLINK_ADD_MEMBERSHIP,
					  (void *)&groups[i], sizeof(groups[i])))
			goto err;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		goto err;
	return 0;

err:
	err = -errno;
	rtnl_close(r);
	return err ? err : -ENOMEM;
}

void rtnl_close(struct rtnl *r)
{
	if (r->events)
		mnl_socket_close(r->events);
	if (r->req)
		mnl_socket_close(r->req);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

int rtnl_event_fd(const struct rtnl *r)
{
	return mnl_socket_get_fd(r->events);
}

struct dump_ctx {
	rtnl_cb cb;
	void *data;
	bool intr;
	int err;
};

static int dump_msg(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		d->intr = true;
	if (!d->err)
		d->err = d->cb(nlh, d->data);
	return MNL_CB_OK;
}

/*
 * libmnl stops at the first message flagged NLM_F_DUMP_INTR. Apply the
 * rest of the dump anyway, from that message (the n bytes just received)
 * to NLMSG_DONE: the caller decides whether to repeat, and reading the
 * dump to its end keeps the next request from reading stale replies.
 */
static int finish_dump(struct rtnl *r, int n, struct dump_ctx *d)
{
	const struct nlmsghdr *nlh = (const void *)r->buf;
	bool unapplied = false; /* libmnl applied what came before the flag */

	for (;;) {
		for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
			if (nlh->nlmsg_type == NLMSG_DONE ||
			    nlh->nlmsg_type == NLMSG_ERROR)
				return 0;
			unapplied |= nlh->nlmsg_flags & NLM_F_DUMP_INTR;
			if (unapplied)
				dump_msg(nlh, d);
		}
		n = mnl_socket_recvfrom(r->req, r->buf, BUF_SIZE);
		if (n < 0)
			return -errno;
		nlh = (const void *)r->buf;
		unapplied = true;
	}
}

static int dump_one(struct rtnl *r, int type, size_t hdrlen, int family,
		    struct dump_ctx *d)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(r->buf);
	unsigned int portid = mnl_socket_get_portid(r->req);
	__u8 *hdr;
	int n, ret;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++r->seq;
	hdr = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	hdr[0] = family; /* every rtnetlink header starts with the family */
	if (mnl_socket_sendto(r->req, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(r->req, r->buf, BUF_SIZE);
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(r->buf, n, r->seq, portid, dump_msg, d);
	} while (ret > MNL_CB_STOP);
	if (ret < 0 && errno == EINTR) {
		d->intr = true;
		return finish_dump(r, n, d);
	}
	if (ret < 0) {
		/* nexthop objects need 5.3; their absence is not an error */
		if (type == RTM_GETNEXTHOP && (errno == EINVAL || errno == EOPNOTSUPP))
			return 0;
		return -errno;
	}
	return 0;
}

int rtnl_dump(struct rtnl *r, rtnl_cb cb, void *data)
{
	struct dump_ctx d = { .cb = cb, .data = data };
	int err;

	/* Links and neighbours first: next hops are built from them. */
	err = dump_one(r, RTM_GETLINK, sizeof(struct ifinfomsg), AF_UNSPEC, &d);
	if (!err)
		err = dump_one(r, RTM_GETNEIGH, sizeof(struct ndmsg), AF_UNSPEC, &d);
	if (!err)
		err = dump_one(r, RTM_GETNEXTHOP, sizeof(struct nhmsg), AF_UNSPEC, &d);
	if (!err)
		err = dump_one(r, RTM_GETROUTE, sizeof(struct rtmsg), AF_INET, &d);
	if (!err)
		err = dump_one(r, RTM_GETROUTE, sizeof(struct rtmsg), AF_INET6, &d);
	if (err)
		return err;
	if (d.err)
		return d.err;
	return d.intr ? -EINTR : 0;
}

int rtnl_read_events(struct rtnl *r, rtnl_cb cb, void *data)
{
	struct dump_ctx d = { .cb = cb, .data = data };
	int n;

	/* bounded: what is left wakes the caller's poll() again, after it
	 * has looked at its signals and timers */
	for (int i = 0; i < RTNL_READ_MAX; i++) {
		n = mnl_socket_recvfrom(r->events, r->buf, BUF_SIZE);
		if (n < 0)
			return errno == EAGAIN ? d.err : -errno;
		mnl_cb_run(r->buf, n, 0, 0, dump_msg, &d);
	}
	return d.err;
}

bool rtnl_events_pending(const struct rtnl *r)
{
	char c;

	return recv(mnl_socket_get_fd(r->events), &c, 1,
		    MSG_PEEK | MSG_DONTWAIT) > 0;
}

int rtnl_neigh_use(struct rtnl *r, const struct nexthop_addr *a)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(r->buf);
	unsigned int portid = mnl_socket_get_portid(r->req);
	struct ndmsg *ndm;
	int n;

	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	nlh->nlmsg_seq = ++r->seq;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = a->family == FP_AF_INET ? AF_INET : AF_INET6;
	ndm->ndm_ifindex = a->ifindex;
	ndm->ndm_flags = NTF_USE;
	mnl_attr_put(nlh, NDA_DST, a->family == FP_AF_INET ? 4 : 16, a->gw);
	if (mnl_socket_sendto(r->req, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(r->req, r->buf, BUF_SIZE);
	if (n < 0)
		return -errno;
	return mnl_cb_run(r->buf, n, r->seq, portid, NULL, NULL) < 0 ? -errno : 0;
}

int rtnl_link_get(__u32 ifindex, rtnl_cb cb, void *data)
{
	char buf[32768]; /* a link with its statistics and VFs */
	struct dump_ctx d = { .cb = cb, .data = data };
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	unsigned int seq = time(NULL), portid;
	int n, err = 0;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID)) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0 || mnl_cb_run(buf, n, seq, portid, dump_msg, &d) < 0)
		err = errno ? -errno : -EIO;
	else
		err = d.err;
out:
	mnl_socket_close(nl);
	return err;
}
