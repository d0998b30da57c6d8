// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/netconf.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "flowpin.h"
#include "route_epoch.h"

#ifndef AF_INET6
#define AF_INET6 10
#endif

void epoch_watch_reset(struct epoch_watch *w)
{
	memset(w, 0, sizeof(*w));
}

static bool blackhole_nh(const struct epoch_watch *w, __u32 id)
{
	if (w->blackhole_nh_overflow)
		return true;
	for (int i = 0; i < w->n_blackhole_nh; i++)
		if (w->blackhole_nh[i] == id)
			return true;
	return false;
}

static void blackhole_nh_set(struct epoch_watch *w, __u32 id, bool on)
{
	for (int i = 0; i < w->n_blackhole_nh; i++) {
		if (w->blackhole_nh[i] != id)
			continue;
		if (!on)
			w->blackhole_nh[i] = w->blackhole_nh[--w->n_blackhole_nh];
		return;
	}
	if (!on)
		return;
	if (w->n_blackhole_nh == EPOCH_MAX_BLACKHOLE_NHS)
		w->blackhole_nh_overflow = true;
	else
		w->blackhole_nh[w->n_blackhole_nh++] = id;
}

/* IPv6 link-local (fe80::/10): never a pinned flow's destination. */
static bool link_local6(const struct nlmsghdr *nlh, const struct rtmsg *rtm)
{
	const struct nlattr *a;

	if (rtm->rtm_family != AF_INET6 || rtm->rtm_dst_len < 10)
		return false;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		const __u8 *d;

		if (mnl_attr_get_type(a) != RTA_DST ||
		    mnl_attr_get_payload_len(a) < 16)
			continue;
		d = mnl_attr_get_payload(a);
		return d[0] == 0xfe && (d[1] & 0xc0) == 0x80;
	}
	return false;
}

static __u32 route_nh_id(const struct nlmsghdr *nlh, const struct rtmsg *rtm)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(*rtm))
		if (mnl_attr_get_type(a) == RTA_NH_ID &&
		    mnl_attr_get_payload_len(a) >= 4)
			return mnl_attr_get_u32(a);
	return 0;
}

static bool route_msg(struct epoch_watch *w, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	__u32 nh_id;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)) ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return false;
	if (rtm->rtm_type == RTN_MULTICAST || link_local6(nlh, rtm))
		return false;
	if (nlh->nlmsg_type == RTM_DELROUTE)
		return rtm->rtm_type == RTN_UNICAST;
	if (rtm->rtm_type == RTN_THROW && rtm->rtm_family == AF_INET6)
		w->flags |= FP_EPOCH_V6_THROW;
	if (rtm->rtm_type != RTN_UNICAST)
		return true;
	nh_id = route_nh_id(nlh, rtm);
	return nh_id && blackhole_nh(w, nh_id);
}

static bool nexthop_msg(struct epoch_watch *w, const struct nlmsghdr *nlh)
{
	const struct nhmsg *nhm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	bool blackhole = false;
	__u32 id = 0;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*nhm)))
		return false;
	mnl_attr_for_each(a, nlh, sizeof(*nhm)) {
		if (mnl_attr_get_type(a) == NHA_ID &&
		    mnl_attr_get_payload_len(a) >= 4)
			id = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == NHA_BLACKHOLE)
			blackhole = true;
	}
	if (!id)
		return false;
	blackhole_nh_set(w, id, blackhole && nlh->nlmsg_type == RTM_NEWNEXTHOP);
	/*
	 * A deleted object takes the routes through it along without a
	 * message of their own (IPv4): as a unicast route deleted, it may
	 * uncover a covering reject route.
	 */
	return nlh->nlmsg_type == RTM_DELNEXTHOP ||
	       (blackhole && nlh->nlmsg_type == RTM_NEWNEXTHOP);
}

static bool netconf_msg(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct netconfmsg)))
		return false;
	mnl_attr_for_each(a, nlh, sizeof(struct netconfmsg))
		if (mnl_attr_get_type(a) == NETCONFA_FORWARDING)
			return true;
	return false;
}

bool epoch_watch_msg(struct epoch_watch *w, const struct nlmsghdr *nlh)
{
	switch (nlh->nlmsg_type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		return route_msg(w, nlh);
	case RTM_NEWNEXTHOP:
	case RTM_DELNEXTHOP:
		return nexthop_msg(w, nlh);
	case RTM_NEWRULE:
	case RTM_DELRULE:
	case RTM_NEWADDR:
	case RTM_DELADDR:
		return true;
	case RTM_NEWNETCONF:
		return netconf_msg(nlh);
	}
	return false;
}
