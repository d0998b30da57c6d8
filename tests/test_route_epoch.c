// SPDX-License-Identifier: GPL-2.0
/*
 * Which rtnetlink messages move the route epoch (loader/route_epoch.c),
 * fed canned messages: the changes that can make the kernel refuse a flow
 * do, the ones that cannot (or concern nothing flowpin pins) do not.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <linux/fib_rules.h>
#include <linux/netconf.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <cmocka.h>

#include "flowpin.h"
#include "route_epoch.h"

static char buf[4096];

static struct nlmsghdr *route(int type, int family, __u8 rtm_type,
			      const char *dst, int dst_len, __u32 nh_id)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(memset(buf, 0, sizeof(buf)));
	struct rtmsg *rtm;
	__u8 addr[16];

	nlh->nlmsg_type = type;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family;
	rtm->rtm_type = rtm_type;
	rtm->rtm_dst_len = dst_len;
	rtm->rtm_table = RT_TABLE_MAIN;
	if (dst) {
		inet_pton(family, dst, addr);
		mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, addr);
	}
	if (nh_id)
		mnl_attr_put_u32(nlh, RTA_NH_ID, nh_id);
	return nlh;
}

static struct nlmsghdr *nexthop(int type, __u32 id, bool blackhole)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(memset(buf, 0, sizeof(buf)));
	struct nhmsg *nhm;

	nlh->nlmsg_type = type;
	nhm = mnl_nlmsg_put_extra_header(nlh, sizeof(*nhm));
	nhm->nh_family = AF_INET;
	mnl_attr_put_u32(nlh, NHA_ID, id);
	if (blackhole)
		mnl_attr_put(nlh, NHA_BLACKHOLE, 0, NULL);
	return nlh;
}

static struct nlmsghdr *bare(int type, size_t hdr)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(memset(buf, 0, sizeof(buf)));

	nlh->nlmsg_type = type;
	mnl_nlmsg_put_extra_header(nlh, hdr);
	return nlh;
}

static void reject_routes_move_it(void **state)
{
	static const __u8 types[] = { RTN_BLACKHOLE, RTN_UNREACHABLE,
				      RTN_PROHIBIT, RTN_LOCAL, RTN_THROW,
				      RTN_BROADCAST, RTN_ANYCAST };
	struct epoch_watch w;

	(void)state;
	epoch_watch_reset(&w);
	for (size_t i = 0; i < sizeof(types); i++) {
		assert_true(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET, types[i], "198.51.100.10", 32, 0)));
		assert_true(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET6, types[i], "2001:db8:100::10", 128, 0)));
	}
	/* deleting one lets flows through: nothing to refuse */
	assert_false(epoch_watch_msg(&w, route(RTM_DELROUTE, AF_INET, RTN_BLACKHOLE, "198.51.100.10", 32, 0)));
}

static void unicast_routes(void **state)
{
	struct epoch_watch w;

	(void)state;
	epoch_watch_reset(&w);
	/* added: the flow is still forwarded (through whichever gateway) */
	assert_false(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET, RTN_UNICAST, "198.51.100.0", 24, 0)));
	/* deleted: it may uncover a covering reject route */
	assert_true(epoch_watch_msg(&w, route(RTM_DELROUTE, AF_INET, RTN_UNICAST, "198.51.100.0", 24, 0)));
	assert_true(epoch_watch_msg(&w, route(RTM_DELROUTE, AF_INET6, RTN_UNICAST, "2001:db8:100::", 64, 0)));
	/* cloned (cache) routes are not the table */
	route(RTM_DELROUTE, AF_INET, RTN_UNICAST, "198.51.100.0", 24, 0);
	((struct rtmsg *)mnl_nlmsg_get_payload((void *)buf))->rtm_flags |= RTM_F_CLONED;
	assert_false(epoch_watch_msg(&w, (void *)buf));
}

static void never_pinned_destinations(void **state)
{
	struct epoch_watch w;

	(void)state;
	epoch_watch_reset(&w);
	/* a link coming up: multicast and link-local routes, never a pin's */
	assert_false(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET6, RTN_MULTICAST, "ff00::", 8, 0)));
	assert_false(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET6, RTN_LOCAL, "fe80::1", 128, 0)));
	assert_false(epoch_watch_msg(&w, route(RTM_DELROUTE, AF_INET6, RTN_UNICAST, "fe80::", 64, 0)));
	/* fec0:: is not link-local */
	assert_true(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET6, RTN_LOCAL, "fec0::1", 128, 0)));
}

static void ipv6_throw_sets_the_flag(void **state)
{
	struct epoch_watch w;

	(void)state;
	epoch_watch_reset(&w);
	assert_true(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET, RTN_THROW, "198.51.100.10", 32, 0)));
	assert_int_equal(w.flags, 0); /* the helper follows IPv4 throws */
	assert_true(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET6, RTN_THROW, "2001:db8:100::10", 128, 0)));
	assert_int_equal(w.flags, FP_EPOCH_V6_THROW);
	/* a full dump that shows none clears it */
	epoch_watch_reset(&w);
	assert_int_equal(w.flags, 0);
}

static void blackhole_nexthop_objects(void **state)
{
	struct epoch_watch w;

	(void)state;
	epoch_watch_reset(&w);
	assert_false(epoch_watch_msg(&w, nexthop(RTM_NEWNEXTHOP, 7, false)));
	assert_false(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET, RTN_UNICAST, "198.51.100.0", 24, 7)));
	/* made a blackhole: the routes through it now reject */
	assert_true(epoch_watch_msg(&w, nexthop(RTM_NEWNEXTHOP, 7, true)));
	assert_true(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET, RTN_UNICAST, "198.51.100.0", 24, 7)));
	assert_false(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET, RTN_UNICAST, "198.51.100.0", 24, 8)));
	/* deleted (its routes go without a message): moves it; the id reused */
	assert_true(epoch_watch_msg(&w, nexthop(RTM_DELNEXTHOP, 7, false)));
	assert_false(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET, RTN_UNICAST, "198.51.100.0", 24, 7)));
	/* more blackholes than it can list: every route through an object counts */
	for (__u32 id = 100; id < 100 + EPOCH_MAX_BLACKHOLE_NHS + 1; id++)
		epoch_watch_msg(&w, nexthop(RTM_NEWNEXTHOP, id, true));
	assert_true(epoch_watch_msg(&w, route(RTM_NEWROUTE, AF_INET, RTN_UNICAST, "198.51.100.0", 24, 8)));
}

static void rules_addresses_forwarding(void **state)
{
	struct epoch_watch w;
	struct nlmsghdr *nlh;

	(void)state;
	epoch_watch_reset(&w);
	assert_true(epoch_watch_msg(&w, bare(RTM_NEWRULE, sizeof(struct fib_rule_hdr))));
	assert_true(epoch_watch_msg(&w, bare(RTM_DELRULE, sizeof(struct fib_rule_hdr))));
	assert_true(epoch_watch_msg(&w, bare(RTM_NEWADDR, sizeof(struct ifaddrmsg))));
	assert_true(epoch_watch_msg(&w, bare(RTM_DELADDR, sizeof(struct ifaddrmsg))));
	nlh = bare(RTM_NEWNETCONF, sizeof(struct netconfmsg));
	mnl_attr_put_u32(nlh, NETCONFA_RP_FILTER, 1);
	assert_false(epoch_watch_msg(&w, nlh));
	nlh = bare(RTM_NEWNETCONF, sizeof(struct netconfmsg));
	mnl_attr_put_u32(nlh, NETCONFA_FORWARDING, 0);
	assert_true(epoch_watch_msg(&w, nlh));
	/* links and neighbours: the next-hop table's business */
	assert_false(epoch_watch_msg(&w, bare(RTM_NEWLINK, sizeof(struct ifinfomsg))));
	assert_false(epoch_watch_msg(&w, bare(RTM_NEWNEIGH, sizeof(struct ndmsg))));
}

static void short_messages(void **state)
{
	struct epoch_watch w;
	struct nlmsghdr *nlh;

	(void)state;
	epoch_watch_reset(&w);
	nlh = route(RTM_NEWROUTE, AF_INET, RTN_BLACKHOLE, NULL, 0, 0);
	nlh->nlmsg_len = NLMSG_HDRLEN + 2; /* cut inside the rtmsg */
	assert_false(epoch_watch_msg(&w, nlh));
	nlh = nexthop(RTM_NEWNEXTHOP, 9, true);
	nlh->nlmsg_len = NLMSG_HDRLEN + 1;
	assert_false(epoch_watch_msg(&w, nlh));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reject_routes_move_it),
		cmocka_unit_test(unicast_routes),
		cmocka_unit_test(never_pinned_destinations),
		cmocka_unit_test(ipv6_throw_sets_the_flag),
		cmocka_unit_test(blackhole_nexthop_objects),
		cmocka_unit_test(rules_addresses_forwarding),
		cmocka_unit_test(short_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
