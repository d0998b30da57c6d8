// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink-to-next-hop logic with canned rtnetlink messages: no kernel,
 * no maps. Each test feeds messages to a model, reconciles it against an
 * in-memory table and checks the table that results.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_tunnel.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <cmocka.h>

#include "model.h"
#include "reconcile.h"
#include "nexthop_table.h"

#define SIZE 16
#define NOW 1000

static const __u8 mac_a[6] = { 2, 0, 0, 0, 0, 0xa };
static const __u8 mac_b[6] = { 2, 0, 0, 0, 0, 0xb };
static const __u8 mac_c[6] = { 2, 0, 0, 0, 0, 0xc };
static const __u8 mac_new[6] = { 2, 0, 0, 0, 0, 0xee };
static const __u8 port_mac[6] = { 2, 0, 0, 0, 0, 0x01 };

struct env {
	struct model m;
	struct nexthop table[SIZE]; /* what nexthop_table would hold */
	__u64 withdrawn_at[SIZE];
	__u32 pins[SIZE];
	bool count_pins;
	__u64 pins_counted_s;
	enum withdrawn_policy policy;
	__u64 now_s;	       /* 0: NOW */
	__u64 drain_timeout_s;
	char buf[8192];
};

static int af(int family)
{
	return family == 4 ? AF_INET : AF_INET6;
}

static struct nlmsghdr *put_header(struct env *e, __u16 type, __u16 flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(e->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

static void feed(struct env *e, struct nlmsghdr *nlh)
{
	assert_int_equal(model_apply(&e->m, nlh), 0);
}

/* A link message up to its MAC; the caller adds attributes and feeds it. */
static struct nlmsghdr *link_head(struct env *e, __u16 type, int ifindex,
				  unsigned int flags)
{
	struct nlmsghdr *nlh = put_header(e, type, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_index = ifindex;
	ifi->ifi_flags = flags;
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, port_mac);
	return nlh;
}

#define LINK_UP (IFF_UP | IFF_LOWER_UP | IFF_RUNNING)

static void link_msg(struct env *e, __u16 type, int ifindex, bool up)
{
	feed(e, link_head(e, type, ifindex, up ? LINK_UP : 0));
}

static void link_flags_msg(struct env *e, int ifindex, unsigned int flags)
{
	feed(e, link_head(e, RTM_NEWLINK, ifindex, flags));
}

/* A link of this kind (NULL: none said) enslaved to master (0: none). */
static void link_kind_msg(struct env *e, int ifindex, const char *kind,
			  int master)
{
	struct nlmsghdr *nlh = link_head(e, RTM_NEWLINK, ifindex, LINK_UP);

	if (master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	if (kind) {
		struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);

		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
		mnl_attr_nest_end(nlh, info);
	}
	feed(e, nlh);
}

static void addr_del_msg(struct env *e, int family, int ifindex)
{
	struct nlmsghdr *nlh = put_header(e, RTM_DELADDR, 0);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = af(family);
	ifa->ifa_prefixlen = 24;
	ifa->ifa_index = ifindex;
	feed(e, nlh);
}

static void neigh_msg(struct env *e, __u16 type, int family, int ifindex,
		      const char *addr, const __u8 *mac, __u16 state)
{
	struct nlmsghdr *nlh = put_header(e, type, 0);
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	__u8 a[16];

	ndm->ndm_family = af(family);
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = state;
	inet_pton(af(family), addr, a);
	mnl_attr_put(nlh, NDA_DST, family == 4 ? 4 : 16, a);
	if (mac)
		mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	feed(e, nlh);
}

struct gw {
	int ifindex;
	const char *addr;
};

/* A unicast route in the main table through these gateways. */
/* A unicast route of the main table, up to its destination. */
static struct nlmsghdr *route_head(struct env *e, __u16 type, __u16 flags,
				   int family, const char *dst, int len)
{
	struct nlmsghdr *nlh = put_header(e, type, flags);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	__u8 a[16];

	rtm->rtm_family = af(family);
	rtm->rtm_dst_len = len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_type = RTN_UNICAST;
	inet_pton(af(family), dst, a);
	mnl_attr_put(nlh, RTA_DST, family == 4 ? 4 : 16, a);
	return nlh;
}

static void route_msg(struct env *e, __u16 type, __u16 flags, int family,
		      const char *dst, int len, const struct gw *gws, int n)
{
	struct nlmsghdr *nlh = route_head(e, type, flags, family, dst, len);
	int alen = family == 4 ? 4 : 16;
	__u8 a[16];

	mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
	if (n == 1) {
		inet_pton(af(family), gws[0].addr, a);
		mnl_attr_put(nlh, RTA_GATEWAY, alen, a);
		mnl_attr_put_u32(nlh, RTA_OIF, gws[0].ifindex);
	} else if (n > 1) {
		struct nlattr *mp = mnl_attr_nest_start(nlh, RTA_MULTIPATH);

		for (int i = 0; i < n; i++) {
			struct rtnexthop *rtnh = mnl_nlmsg_get_payload_tail(nlh);

			nlh->nlmsg_len += RTNH_ALIGN(sizeof(*rtnh));
			memset(rtnh, 0, sizeof(*rtnh));
			rtnh->rtnh_ifindex = gws[i].ifindex;
			inet_pton(af(family), gws[i].addr, a);
			mnl_attr_put(nlh, RTA_GATEWAY, alen, a);
			rtnh->rtnh_len = (char *)mnl_nlmsg_get_payload_tail(nlh) -
					 (char *)rtnh;
		}
		mnl_attr_nest_end(nlh, mp);
	}
	feed(e, nlh);
}

static struct nlmsghdr *route4_head(struct env *e, __u16 type, __u16 flags,
				    const char *dst, int len)
{
	return route_head(e, type, flags, 4, dst, len);
}

static void route_nh_msg(struct env *e, __u16 type, __u16 flags,
			 const char *dst, int len, __u32 nh_id)
{
	struct nlmsghdr *nlh = route4_head(e, type, flags, dst, len);

	mnl_attr_put_u32(nlh, RTA_NH_ID, nh_id);
	feed(e, nlh);
}

static void nexthop_msg(struct env *e, __u16 type, __u32 id, int ifindex,
			const char *gw)
{
	struct nlmsghdr *nlh = put_header(e, type, 0);
	struct nhmsg *nhm = mnl_nlmsg_put_extra_header(nlh, sizeof(*nhm));
	__u8 a[4];

	nhm->nh_family = AF_INET;
	mnl_attr_put_u32(nlh, NHA_ID, id);
	if (gw) {
		inet_pton(AF_INET, gw, a);
		mnl_attr_put_u32(nlh, NHA_OIF, ifindex);
		mnl_attr_put(nlh, NHA_GATEWAY, 4, a);
	}
	feed(e, nlh);
}

static void group_msg(struct env *e, __u16 flags, __u32 id, const __u32 *ids,
		      int n)
{
	struct nlmsghdr *nlh = put_header(e, RTM_NEWNEXTHOP, flags);
	struct nhmsg *nhm = mnl_nlmsg_put_extra_header(nlh, sizeof(*nhm));
	struct nexthop_grp g[8] = {};

	nhm->nh_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NHA_ID, id);
	for (int i = 0; i < n; i++)
		g[i].id = ids[i];
	mnl_attr_put(nlh, NHA_GROUP, n * sizeof(g[0]), g);
	feed(e, nlh);
}

/* Reconcile and apply the changes the way nexthop_table does. */
static void sync_table(struct env *e)
{
	struct reconcile_opts o = {
		.policy = e->policy,
		.now_s = e->now_s ? e->now_s : NOW,
		.drain_timeout_s = e->drain_timeout_s,
		.pins = e->count_pins ? e->pins : NULL,
		.pins_counted_s = e->pins_counted_s,
		.withdrawn_at = e->withdrawn_at,
	};
	struct nh_change *ch;
	int n = reconcile(&e->m, e->table, SIZE, &o, &ch);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		struct nexthop *nh;
		__u32 id = ch[i].id;

		if (ch[i].op == NH_RELEASE) {
			e->table[id].state = NH_UNUSED;
			continue;
		}
		if (!id) {
			for (id = 1; e->table[id].state != NH_UNUSED; id++)
				assert_true(id < SIZE - 1);
			e->table[id].gen++;
		}
		nh = &e->table[id];
		if (ch[i].state == NH_DEAD && nh->state != NH_DEAD)
			nh->gen++;
		nh->state = ch[i].state;
		nh->ifindex = ch[i].addr.ifindex;
		nh->family = ch[i].addr.family;
		memcpy(nh->gw, ch[i].addr.gw, sizeof(nh->gw));
		memcpy(nh->smac, ch[i].smac, 6);
		memcpy(nh->dmac, ch[i].dmac, 6);
		nh->mtu = ch[i].mtu;
	}
	free(ch);
}

static const struct nexthop *find(struct env *e, int family, int ifindex,
				  const char *addr)
{
	__be32 a[4] = {};

	inet_pton(af(family), addr, a);
	for (int id = 1; id < SIZE; id++) {
		const struct nexthop *nh = &e->table[id];

		if (nh->state != NH_UNUSED && (int)nh->ifindex == ifindex &&
		    !memcmp(nh->gw, a, sizeof(a)))
			return nh;
	}
	return NULL;
}

static int state_of(struct env *e, int family, int ifindex, const char *addr)
{
	const struct nexthop *nh = find(e, family, ifindex, addr);

	return nh ? nh->state : NH_UNUSED;
}

static int n_used(struct env *e)
{
	int n = 0;

	for (int id = 1; id < SIZE; id++)
		n += e->table[id].state != NH_UNUSED;
	return n;
}

/* Three ports with a reachable gateway each, IPv4 and IPv6. */
static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e || model_init(&e->m))
		return -1;
	*state = e;
	for (int i = 1; i <= 4; i++)
		link_msg(e, RTM_NEWLINK, i, true);
	if (e->m.stale)
		return -1; /* links coming up say nothing of routes */
	neigh_msg(e, RTM_NEWNEIGH, 4, 1, "10.0.1.2", mac_a, NUD_REACHABLE);
	neigh_msg(e, RTM_NEWNEIGH, 4, 2, "10.0.2.2", mac_b, NUD_REACHABLE);
	neigh_msg(e, RTM_NEWNEIGH, 4, 3, "10.0.3.2", mac_c, NUD_STALE);
	neigh_msg(e, RTM_NEWNEIGH, 6, 1, "fd00:1::2", mac_a, NUD_REACHABLE);
	neigh_msg(e, RTM_NEWNEIGH, 6, 2, "fd00:2::2", mac_b, NUD_REACHABLE);
	neigh_msg(e, RTM_NEWNEIGH, 6, 3, "fd00:3::2", mac_c, NUD_PERMANENT);
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	model_free(&e->m);
	free(e);
	return 0;
}

/* A one-gateway route with RTA_METRICS: an MTU, locked or not. */
static void route_mtu_msg(struct env *e, int family, const char *dst,
			  int len, const struct gw *gw, __u32 mtu, bool lock)
{
	struct nlmsghdr *nlh = route_head(e, RTM_NEWROUTE,
					  NLM_F_CREATE | NLM_F_REPLACE, family,
					  dst, len);
	int alen = family == 4 ? 4 : 16;
	struct nlattr *metrics;
	__u8 a[16];

	inet_pton(af(family), gw->addr, a);
	mnl_attr_put(nlh, RTA_GATEWAY, alen, a);
	mnl_attr_put_u32(nlh, RTA_OIF, gw->ifindex);
	metrics = mnl_attr_nest_start(nlh, RTA_METRICS);
	if (lock)
		mnl_attr_put_u32(nlh, RTAX_LOCK, 1 << RTAX_MTU);
	mnl_attr_put_u32(nlh, RTAX_MTU, mtu);
	mnl_attr_nest_end(nlh, metrics);
	feed(e, nlh);
}

/* A link with this MTU (IFLA_MTU). */
static void link_mtu_msg(struct env *e, int ifindex, __u32 mtu)
{
	struct nlmsghdr *nlh = link_head(e, RTM_NEWLINK, ifindex, LINK_UP);

	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	feed(e, nlh);
}

static const struct gw two4[] = { { 1, "10.0.1.2" }, { 2, "10.0.2.2" } };
static const struct gw three4[] = { { 1, "10.0.1.2" }, { 2, "10.0.2.2" }, { 3, "10.0.3.2" } };
static const struct gw three6[] = { { 1, "fd00:1::2" }, { 2, "fd00:2::2" }, { 3, "fd00:3::2" } };

static void two_gateways_then_a_third(void **state)
{
	struct env *e = *state;
	const struct nexthop *nh;

	route_msg(e, RTM_NEWROUTE, NLM_F_CREATE, 4, "198.51.100.0", 24, two4, 2);
	sync_table(e);
	assert_int_equal(n_used(e), 2);
	nh = find(e, 4, 1, "10.0.1.2");
	assert_non_null(nh);
	assert_int_equal(nh->state, NH_ACTIVE);
	assert_memory_equal(nh->dmac, mac_a, 6);
	assert_memory_equal(nh->smac, port_mac, 6);

	route_msg(e, RTM_NEWROUTE, NLM_F_REPLACE, 4, "198.51.100.0", 24, three4, 3);
	sync_table(e);
	assert_int_equal(n_used(e), 3);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_ACTIVE);
}

static void gateway_removed_drain(void **state)
{
	struct env *e = *state;

	e->count_pins = true;
	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, three4, 3);
	sync_table(e);
	route_msg(e, RTM_NEWROUTE, NLM_F_REPLACE, 4, "198.51.100.0", 24, two4, 2);
	e->pins[find(e, 4, 3, "10.0.3.2") - e->table] = 5;
	sync_table(e);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_WITHDRAWN);
	assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_ACTIVE);
	/* a count from before the withdrawal says nothing */
	e->pins[find(e, 4, 3, "10.0.3.2") - e->table] = 0;
	e->pins_counted_s = NOW - 5;
	sync_table(e);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_WITHDRAWN);
	/* released once a later count finds its last pin gone */
	e->pins_counted_s = NOW + 1;
	sync_table(e);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_UNUSED);
	assert_int_equal(n_used(e), 2);
}

/*
 * --drain-timeout counts from the withdrawal on flowpind's clock: a clock
 * that reads earlier than the withdrawal (a wall clock stepped back) does
 * not release the next hop; the timeout does.
 */
static void drain_timeout_counts_forward(void **state)
{
	struct env *e = *state;

	e->drain_timeout_s = 3600;
	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, three4, 3);
	sync_table(e);
	route_msg(e, RTM_NEWROUTE, NLM_F_REPLACE, 4, "198.51.100.0", 24, two4, 2);
	sync_table(e); /* withdrawn at NOW */
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_WITHDRAWN);
	e->now_s = NOW - 1;
	sync_table(e);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_WITHDRAWN);
	e->now_s = NOW + 3599;
	sync_table(e);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_WITHDRAWN);
	e->now_s = NOW + 3600;
	sync_table(e);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_UNUSED);
}

/*
 * reconcile() lists releases, then deaths, then changes, then new next
 * hops: with every id in use, a new next hop fits only after a release,
 * and a write that fails must not hold back a death.
 */
static void changes_release_and_kill_first(void **state)
{
	static const struct gw gw1[] = { { 1, "10.0.1.2" } };
	static const struct gw gw2[] = { { 2, "10.0.2.2" } };
	static const struct gw gw3[] = { { 3, "10.0.3.2" } };
	static const struct gw fresh[] = { { 4, "10.0.4.2" } };
	struct env *e = *state;
	struct reconcile_opts o = {
		.policy = FP_WITHDRAWN_REPIN,
		.now_s = NOW,
		.withdrawn_at = e->withdrawn_at,
	};
	struct nh_change *ch;
	int n, rank = 0;

	e->policy = FP_WITHDRAWN_REPIN;
	neigh_msg(e, RTM_NEWNEIGH, 4, 4, "10.0.4.2", mac_a, NUD_REACHABLE);
	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, gw1, 1);
	route_msg(e, RTM_NEWROUTE, 0, 4, "192.0.2.0", 24, gw2, 1);
	route_msg(e, RTM_NEWROUTE, 0, 4, "203.0.113.0", 24, gw3, 1);
	sync_table(e);
	/* in one batch: a new gateway, one withdrawn (repin: released),
	 * one whose neighbour failed, one whose MAC changed */
	route_msg(e, RTM_NEWROUTE, 0, 4, "198.18.0.0", 24, fresh, 1);
	route_msg(e, RTM_DELROUTE, 0, 4, "198.51.100.0", 24, gw1, 1);
	neigh_msg(e, RTM_NEWNEIGH, 4, 2, "10.0.2.2", mac_b, NUD_FAILED);
	neigh_msg(e, RTM_NEWNEIGH, 4, 3, "10.0.3.2", mac_new, NUD_REACHABLE);
	n = reconcile(&e->m, e->table, SIZE, &o, &ch);
	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++) {
		int r = ch[i].op == NH_RELEASE ? 0 : ch[i].state == NH_DEAD ? 1 :
						  ch[i].id ? 2 : 3;

		assert_true(r >= rank);
		rank = r;
	}
	assert_int_equal(ch[0].op, NH_RELEASE);
	assert_int_equal(ch[1].state, NH_DEAD);
	assert_true(ch[2].id != 0);
	assert_int_equal(ch[3].id, 0);
	free(ch);
}

static void gateway_removed_repin(void **state)
{
	struct env *e = *state;

	e->policy = FP_WITHDRAWN_REPIN;
	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, three4, 3);
	sync_table(e);
	route_msg(e, RTM_DELROUTE, 0, 4, "198.51.100.0", 24, three4, 3);
	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, two4, 2);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_UNUSED);
	assert_int_equal(n_used(e), 2);
}

static void gateway_in_two_routes_stays(void **state)
{
	struct env *e = *state;
	static const struct gw one[] = { { 3, "10.0.3.2" } };

	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, three4, 3);
	route_msg(e, RTM_NEWROUTE, 0, 4, "203.0.113.0", 24, one, 1);
	sync_table(e);
	route_msg(e, RTM_NEWROUTE, NLM_F_REPLACE, 4, "198.51.100.0", 24, two4, 2);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_ACTIVE);
}

static void neighbour_mac_change_keeps_generation(void **state)
{
	struct env *e = *state;
	const struct nexthop *nh;
	__u32 gen;

	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, two4, 2);
	sync_table(e);
	nh = find(e, 4, 2, "10.0.2.2");
	gen = nh->gen;
	neigh_msg(e, RTM_NEWNEIGH, 4, 2, "10.0.2.2", mac_new, NUD_REACHABLE);
	sync_table(e);
	nh = find(e, 4, 2, "10.0.2.2");
	assert_memory_equal(nh->dmac, mac_new, 6);
	assert_int_equal(nh->gen, gen);
	assert_int_equal(nh->state, NH_ACTIVE);
}

static void neighbour_failure_kills(void **state)
{
	struct env *e = *state;
	const struct nexthop *nh;
	__u32 gen;

	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, two4, 2);
	sync_table(e);
	gen = find(e, 4, 1, "10.0.1.2")->gen;
	neigh_msg(e, RTM_NEWNEIGH, 4, 1, "10.0.1.2", NULL, NUD_FAILED);
	sync_table(e);
	nh = find(e, 4, 1, "10.0.1.2");
	assert_int_equal(nh->state, NH_DEAD);
	assert_int_equal(nh->gen, gen + 1);
	assert_memory_equal(nh->dmac, mac_a, 6);
	/* resolved again: usable, still the new generation */
	neigh_msg(e, RTM_NEWNEIGH, 4, 1, "10.0.1.2", mac_a, NUD_REACHABLE);
	sync_table(e);
	nh = find(e, 4, 1, "10.0.1.2");
	assert_int_equal(nh->state, NH_ACTIVE);
	assert_int_equal(nh->gen, gen + 1);
}

static void neighbour_gc_is_not_death(void **state)
{
	struct env *e = *state;

	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, two4, 2);
	sync_table(e);
	neigh_msg(e, RTM_DELNEIGH, 4, 1, "10.0.1.2", mac_a, NUD_STALE);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_ACTIVE);
	assert_memory_equal(find(e, 4, 1, "10.0.1.2")->dmac, mac_a, 6);
}

/* The model's entry for this IPv4 neighbour on ifindex 1, or NULL. */
static const struct model_neigh *neigh4(struct env *e, const char *addr)
{
	struct nexthop_addr na;
	__u8 a[4];

	inet_pton(AF_INET, addr, a);
	nexthop_addr_from(&na, 1, FP_AF_INET, a);
	return model_neigh(&e->m, &na);
}

/*
 * A scan of a connected network: unresolved neighbours are not kept (but
 * a gateway's are), resolved ones go when the kernel removes them (but a
 * gateway's stay), every kept one is still found after many removals, and
 * the table stops growing at MODEL_MAX_NEIGHS.
 */
static void neighbour_table_stays_small(void **state)
{
	struct env *e = *state;
	int base;
	char a[64];

	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, two4, 2);
	sync_table(e);
	base = e->m.n_neighs;
	for (int i = 0; i < 20000; i++) {
		snprintf(a, sizeof(a), "10.9.%d.%d", i / 250, i % 250 + 1);
		neigh_msg(e, RTM_NEWNEIGH, 4, 1, a, NULL, NUD_INCOMPLETE);
		neigh_msg(e, RTM_NEWNEIGH, 4, 1, a, NULL, NUD_FAILED);
	}
	assert_int_equal(e->m.n_neighs, base);
	neigh_msg(e, RTM_NEWNEIGH, 4, 2, "10.0.2.2", NULL, NUD_FAILED);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 2, "10.0.2.2"), NH_DEAD); /* a gateway's */

	for (int i = 0; i < 2000; i++) {
		snprintf(a, sizeof(a), "10.8.%d.%d", i / 250, i % 250 + 1);
		neigh_msg(e, RTM_NEWNEIGH, 4, 1, a, mac_a, NUD_REACHABLE);
	}
	assert_int_equal(e->m.n_neighs, base + 2000);
	for (int i = 1; i < 2000; i += 2) {
		snprintf(a, sizeof(a), "10.8.%d.%d", i / 250, i % 250 + 1);
		neigh_msg(e, RTM_DELNEIGH, 4, 1, a, mac_a, NUD_STALE);
	}
	assert_int_equal(e->m.n_neighs, base + 1000);
	for (int i = 0; i < 2000; i++) {
		const struct model_neigh *n;

		snprintf(a, sizeof(a), "10.8.%d.%d", i / 250, i % 250 + 1);
		n = neigh4(e, a);
		assert_true((n != NULL) == (i % 2 == 0));
		if (n)
			assert_memory_equal(n->mac, mac_a, 6);
	}
	neigh_msg(e, RTM_DELNEIGH, 4, 1, "10.0.1.2", mac_a, NUD_STALE);
	assert_non_null(neigh4(e, "10.0.1.2"));

	for (int i = 0; e->m.n_neighs < MODEL_MAX_NEIGHS; i++) {
		snprintf(a, sizeof(a), "10.%d.%d.%d", 16 + i / 62500,
			 i / 250 % 250, i % 250 + 1);
		neigh_msg(e, RTM_NEWNEIGH, 4, 1, a, mac_a, NUD_REACHABLE);
	}
	neigh_msg(e, RTM_NEWNEIGH, 4, 1, "10.99.0.1", mac_a, NUD_REACHABLE);
	assert_int_equal(e->m.n_neighs, MODEL_MAX_NEIGHS);
	assert_int_equal(e->m.neighs_skipped, 1);
	assert_null(neigh4(e, "10.99.0.1"));
	assert_non_null(neigh4(e, "10.8.0.1"));
}

static void link_down_and_removal(void **state)
{
	struct env *e = *state;

	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, three4, 3);
	sync_table(e);
	link_msg(e, RTM_NEWLINK, 1, false);
	/* IPv4 routes through a link set down or removed go without a message */
	assert_true(e->m.stale);
	e->m.stale = false;
	link_msg(e, RTM_DELLINK, 2, false);
	assert_true(e->m.stale);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_DEAD);
	assert_int_equal(state_of(e, 4, 2, "10.0.2.2"), NH_DEAD);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_ACTIVE);
	link_msg(e, RTM_NEWLINK, 1, true);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_ACTIVE);
}

/* A route via a gateway, with a preferred source address. */
static void route_prefsrc_msg(struct env *e, __u16 type, const char *dst,
			      int ifindex, const char *gw, const char *src)
{
	struct nlmsghdr *nlh = route4_head(e, type, 0, dst, 24);
	__u8 a[4];

	inet_pton(AF_INET, gw, a);
	mnl_attr_put(nlh, RTA_GATEWAY, 4, a);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	inet_pton(AF_INET, src, a);
	mnl_attr_put(nlh, RTA_PREFSRC, 4, a);
	feed(e, nlh);
}

/*
 * The model is stale (dump again) only when the kernel may have removed
 * something of it without a message. Other links' churn (containers'
 * veths) must not cost a full dump of a big table each time.
 */
static void unrouted_link_churn_keeps_model(void **state)
{
	struct env *e = *state;
	static const struct gw via4[] = { { 4, "10.0.4.2" } };

	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, three4, 3);
	link_msg(e, RTM_NEWLINK, 4, false);
	link_msg(e, RTM_NEWLINK, 4, true);
	link_flags_msg(e, 4, IFF_UP); /* carrier lost */
	link_msg(e, RTM_NEWLINK, 4, true);
	addr_del_msg(e, 4, 4);
	link_msg(e, RTM_DELLINK, 4, false);
	assert_false(e->m.stale);

	/* a gateway on the link: its address, then its admin state */
	link_msg(e, RTM_NEWLINK, 4, true);
	route_msg(e, RTM_NEWROUTE, 0, 4, "203.0.113.0", 24, via4, 1);
	addr_del_msg(e, 6, 4); /* IPv6 reports its route removals */
	link_flags_msg(e, 4, IFF_UP); /* routes stay, marked linkdown */
	assert_false(e->m.stale);
	link_msg(e, RTM_NEWLINK, 4, true);
	addr_del_msg(e, 4, 4);
	assert_true(e->m.stale);
	e->m.stale = false;
	link_msg(e, RTM_NEWLINK, 4, false);
	assert_true(e->m.stale);
	e->m.stale = false;
	link_msg(e, RTM_NEWLINK, 4, true);
	route_msg(e, RTM_DELROUTE, 0, 4, "203.0.113.0", 24, via4, 1);

	/* a nexthop object on the link, used by no route: the kernel deletes it */
	nexthop_msg(e, RTM_NEWNEXTHOP, 7, 4, "10.0.4.2");
	link_flags_msg(e, 4, IFF_UP);
	assert_true(e->m.stale);
	e->m.stale = false;
	link_msg(e, RTM_NEWLINK, 4, true);
	link_msg(e, RTM_NEWLINK, 4, false);
	assert_true(e->m.stale);
	e->m.stale = false;
	link_msg(e, RTM_NEWLINK, 4, true);
	nexthop_msg(e, RTM_DELNEXTHOP, 7, 4, "10.0.4.2");

	/* a route with a preferred source: any IPv4 address may be it */
	route_prefsrc_msg(e, RTM_NEWROUTE, "203.0.113.0", 1, "10.0.1.2", "192.0.2.1");
	addr_del_msg(e, 4, 4);
	assert_true(e->m.stale);
	e->m.stale = false;
	route_prefsrc_msg(e, RTM_DELROUTE, "203.0.113.0", 1, "10.0.1.2", "192.0.2.1");
	addr_del_msg(e, 4, 4);
	assert_false(e->m.stale);
}

static void nexthop_objects_and_groups(void **state)
{
	struct env *e = *state;
	static const __u32 g12[] = { 1, 2 }, g123[] = { 1, 2, 3 };

	nexthop_msg(e, RTM_NEWNEXTHOP, 1, 1, "10.0.1.2");
	nexthop_msg(e, RTM_NEWNEXTHOP, 2, 2, "10.0.2.2");
	nexthop_msg(e, RTM_NEWNEXTHOP, 3, 3, "10.0.3.2");
	group_msg(e, NLM_F_CREATE, 100, g12, 2);
	route_nh_msg(e, RTM_NEWROUTE, 0, "198.51.100.0", 24, 100);
	sync_table(e);
	assert_int_equal(n_used(e), 2);
	assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_ACTIVE);

	group_msg(e, NLM_F_REPLACE, 100, g123, 3); /* e.g. a resilient group grows */
	sync_table(e);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_ACTIVE);

	group_msg(e, NLM_F_REPLACE, 100, g12 + 1, 1);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_WITHDRAWN);
	assert_int_equal(state_of(e, 4, 2, "10.0.2.2"), NH_ACTIVE);

	/* deleting the group takes its routes with it, without a message */
	nexthop_msg(e, RTM_DELNEXTHOP, 100, 0, NULL);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 2, "10.0.2.2"), NH_WITHDRAWN);
}

static void ipv6_per_path_delete(void **state)
{
	struct env *e = *state;

	route_msg(e, RTM_NEWROUTE, 0, 6, "2001:db8:100::", 64, three6, 3);
	sync_table(e);
	assert_int_equal(n_used(e), 3);
	route_msg(e, RTM_DELROUTE, 0, 6, "2001:db8:100::", 64, three6 + 1, 1);
	sync_table(e);
	assert_int_equal(state_of(e, 6, 2, "fd00:2::2"), NH_WITHDRAWN);
	assert_int_equal(state_of(e, 6, 1, "fd00:1::2"), NH_ACTIVE);
	assert_int_equal(state_of(e, 6, 3, "fd00:3::2"), NH_ACTIVE);
	/* appended back, one path at a time */
	route_msg(e, RTM_NEWROUTE, NLM_F_APPEND, 6, "2001:db8:100::", 64, three6 + 1, 1);
	sync_table(e);
	assert_int_equal(state_of(e, 6, 2, "fd00:2::2"), NH_ACTIVE);
}

static void cloned_and_non_unicast_ignored(void **state)
{
	struct env *e = *state;
	struct nlmsghdr *nlh = put_header(e, RTM_NEWROUTE, 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	__u8 a[4];

	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 32;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_flags = RTM_F_CLONED;
	inet_pton(AF_INET, "10.0.1.2", a);
	mnl_attr_put(nlh, RTA_GATEWAY, 4, a);
	mnl_attr_put_u32(nlh, RTA_OIF, 1);
	feed(e, nlh);
	rtm->rtm_flags = 0;
	rtm->rtm_type = RTN_BLACKHOLE;
	feed(e, nlh);
	sync_table(e);
	assert_int_equal(n_used(e), 0);
}

/*
 * `ip route replace blackhole PREFIX` over a unicast route: one NEWROUTE
 * with NLM_F_REPLACE and the new type. The route's gateways leave it, as
 * if it had been deleted; a reject route of another key changes nothing,
 * and neither does deleting one.
 */
static void unicast_replaced_by_reject(void **state)
{
	static const __u8 types[] = { RTN_BLACKHOLE, RTN_UNREACHABLE, RTN_PROHIBIT };
	struct env *e = *state;

	for (size_t t = 0; t < sizeof(types); t++) {
		struct nlmsghdr *nlh;
		struct rtmsg *rtm;
		__u8 a[4];

		route_msg(e, RTM_NEWROUTE, NLM_F_REPLACE, 4, "198.51.100.0", 24, two4, 2);
		route_msg(e, RTM_NEWROUTE, 0, 4, "192.0.2.0", 24, three4 + 2, 1);
		sync_table(e);
		assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_ACTIVE);

		/* a blackhole elsewhere, added and deleted: nothing moves */
		nlh = put_header(e, RTM_NEWROUTE, NLM_F_CREATE);
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = AF_INET;
		rtm->rtm_dst_len = 32;
		rtm->rtm_table = RT_TABLE_MAIN;
		rtm->rtm_type = types[t];
		inet_pton(AF_INET, "198.51.100.10", a);
		mnl_attr_put(nlh, RTA_DST, 4, a);
		feed(e, nlh);
		nlh->nlmsg_type = RTM_DELROUTE;
		feed(e, nlh);
		sync_table(e);
		assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_ACTIVE);

		/* the same key as the unicast route, replacing it */
		inet_pton(AF_INET, "198.51.100.0", a);
		nlh = put_header(e, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = AF_INET;
		rtm->rtm_dst_len = 24;
		rtm->rtm_table = RT_TABLE_MAIN;
		rtm->rtm_type = types[t];
		mnl_attr_put(nlh, RTA_DST, 4, a);
		feed(e, nlh);
		sync_table(e);
		assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_WITHDRAWN);
		assert_int_equal(state_of(e, 4, 2, "10.0.2.2"), NH_WITHDRAWN);
		/* a route not replaced keeps its gateway */
		assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_ACTIVE);
		/* and deleting the reject route leaves the model as it is */
		nlh->nlmsg_type = RTM_DELROUTE;
		nlh->nlmsg_flags = NLM_F_REQUEST;
		feed(e, nlh);
	}
}

/* After lost events: a model rebuilt from a dump replaces the old one. */
static void full_dump_removes_vanished_keeps_rest(void **state)
{
	struct env *e = *state;
	const struct nexthop *nh;
	__u32 gen1;
	int id1;

	e->policy = FP_WITHDRAWN_REPIN;
	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, three4, 3);
	sync_table(e);
	nh = find(e, 4, 1, "10.0.1.2");
	id1 = nh - e->table;
	gen1 = nh->gen;

	/* the dump: gateway 3 left, gateway 1 has a new MAC */
	model_free(&e->m);
	assert_int_equal(model_init(&e->m), 0);
	for (int i = 1; i <= 3; i++)
		link_msg(e, RTM_NEWLINK, i, true);
	neigh_msg(e, RTM_NEWNEIGH, 4, 1, "10.0.1.2", mac_new, NUD_REACHABLE);
	neigh_msg(e, RTM_NEWNEIGH, 4, 2, "10.0.2.2", mac_b, NUD_REACHABLE);
	route_msg(e, RTM_NEWROUTE, NLM_F_MULTI, 4, "198.51.100.0", 24, two4, 2);
	sync_table(e);

	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_UNUSED);
	nh = find(e, 4, 1, "10.0.1.2");
	assert_int_equal(nh - e->table, id1); /* same id, same generation */
	assert_int_equal(nh->gen, gen1);
	assert_memory_equal(nh->dmac, mac_new, 6);
	assert_int_equal(state_of(e, 4, 2, "10.0.2.2"), NH_ACTIVE);
}

/* Enough routes to grow the route hash; every one is still found. */
static void many_routes(void **state)
{
	struct env *e = *state;
	char dst[32];

	for (int k = 0; k < 20000; k++) {
		snprintf(dst, sizeof(dst), "100.64.%d.%d", k / 250, k % 250);
		route_msg(e, RTM_NEWROUTE, 0, 4, dst, 32, &two4[k % 2], 1);
	}
	assert_true(e->m.n_buckets > 4096);
	assert_int_equal(e->m.n_routes, 20000);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 2, "10.0.2.2"), NH_ACTIVE);
	for (int k = 1; k < 20000; k += 2) {
		snprintf(dst, sizeof(dst), "100.64.%d.%d", k / 250, k % 250);
		route_msg(e, RTM_DELROUTE, 0, 4, dst, 32, &two4[1], 1);
	}
	assert_int_equal(e->m.n_routes, 10000);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 2, "10.0.2.2"), NH_WITHDRAWN);
	assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_ACTIVE);
}

/*
 * A dump after lost events, or a new daemon's first one, misses the
 * neighbour entries the kernel collected: their MACs come from the old
 * model and from the table, so their next hops stay active.
 */
static void full_dump_keeps_collected_neighbours(void **state)
{
	struct env *e = *state;
	struct model old = e->m;
	__u32 gen = 0;

	route_msg(e, RTM_NEWROUTE, 0, 4, "198.51.100.0", 24, three4, 3);
	sync_table(e);
	gen = find(e, 4, 3, "10.0.3.2")->gen;
	old = e->m;
	assert_int_equal(model_init(&e->m), 0);
	for (int i = 1; i <= 3; i++)
		link_msg(e, RTM_NEWLINK, i, true);
	neigh_msg(e, RTM_NEWNEIGH, 4, 1, "10.0.1.2", mac_a, NUD_REACHABLE);
	/* 10.0.2.2: collected; 10.0.3.2: being resolved again, no MAC */
	neigh_msg(e, RTM_NEWNEIGH, 4, 3, "10.0.3.2", NULL, NUD_INCOMPLETE);
	route_msg(e, RTM_NEWROUTE, NLM_F_MULTI, 4, "198.51.100.0", 24, three4, 3);
	model_keep_macs(&e->m, &old, e->table, SIZE);
	model_free(&old);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 2, "10.0.2.2"), NH_ACTIVE);
	assert_int_equal(state_of(e, 4, 3, "10.0.3.2"), NH_ACTIVE);
	assert_int_equal(find(e, 4, 3, "10.0.3.2")->gen, gen);

	/* a new daemon: no old model, the table alone remembers */
	model_free(&e->m);
	assert_int_equal(model_init(&e->m), 0);
	assert_int_equal(model_init(&old), 0);
	for (int i = 1; i <= 3; i++)
		link_msg(e, RTM_NEWLINK, i, true);
	route_msg(e, RTM_NEWROUTE, NLM_F_MULTI, 4, "198.51.100.0", 24, three4, 3);
	neigh_msg(e, RTM_NEWNEIGH, 4, 1, "10.0.1.2", NULL, NUD_FAILED);
	model_keep_macs(&e->m, &old, e->table, SIZE);
	model_free(&old);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 2, "10.0.2.2"), NH_ACTIVE);
	assert_int_equal(state_of(e, 4, 1, "10.0.1.2"), NH_DEAD); /* failed wins */
}

static void malformed_messages_refused(void **state)
{
	struct env *e = *state;
	struct nlmsghdr *nlh = put_header(e, RTM_NEWNEIGH, 0);
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));

	ndm->ndm_family = AF_INET;
	assert_int_equal(model_apply(&e->m, nlh), -EINVAL); /* no NDA_DST */
	nlh->nlmsg_len = NLMSG_LENGTH(2);
	assert_int_equal(model_apply(&e->m, nlh), -EINVAL);
}

/* A port's L3 domain is its master's ifindex when the master is a VRF. */
static void vrf_domain_follows_master(void **state)
{
	struct env *e = *state;

	link_kind_msg(e, 20, "vrf", 0);
	link_kind_msg(e, 21, "bridge", 0);
	link_kind_msg(e, 3, "veth", 20);
	assert_int_equal(model_l3dom(&e->m, 3), 20);
	assert_int_equal(model_l3dom(&e->m, 20), 0);
	link_kind_msg(e, 3, "veth", 21); /* a bridge is no L3 domain */
	assert_int_equal(model_l3dom(&e->m, 3), 0);
	link_kind_msg(e, 3, "veth", 20);
	assert_int_equal(model_l3dom(&e->m, 3), 20);
	link_kind_msg(e, 3, "veth", 0); /* nomaster */
	assert_int_equal(model_l3dom(&e->m, 3), 0);
	link_kind_msg(e, 3, "veth", 20);
	link_msg(e, RTM_DELLINK, 20, false); /* the VRF is gone */
	assert_int_equal(model_l3dom(&e->m, 3), 0);
	assert_int_equal(model_l3dom(&e->m, 99), 0);
}

/*
 * A link of this kind and ifi_type, up or down, without a MAC; a tunnel's
 * remote (4 or 16 bytes, remote_len 0: none) in the attribute of its kind
 * (IFLA_GRE_REMOTE or IFLA_IPTUN_REMOTE), and external (collect_md).
 */
static void tunnel_link_msg(struct env *e, int ifindex, const char *kind,
			    __u16 type, bool up, const char *remote, bool md)
{
	struct nlmsghdr *nlh = put_header(e, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	bool gre = strstr(kind, "gre");
	struct nlattr *info, *data;
	__u8 a[16];

	ifi->ifi_index = ifindex;
	ifi->ifi_type = type;
	ifi->ifi_flags = up ? LINK_UP : 0;
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	if (remote) {
		int v6 = !!strchr(remote, ':');

		inet_pton(v6 ? AF_INET6 : AF_INET, remote, a);
		mnl_attr_put(nlh, gre ? IFLA_GRE_REMOTE : IFLA_IPTUN_REMOTE,
			     v6 ? 16 : 4, a);
	}
	if (md)
		mnl_attr_put(nlh, gre ? IFLA_GRE_COLLECT_METADATA :
					IFLA_IPTUN_COLLECT_METADATA, 0, NULL);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	feed(e, nlh);
}

static bool ip_tunnel(struct env *e, int ifindex)
{
	return model_link_ip_tunnel(model_link(&e->m, ifindex));
}

/*
 * Which links are IP tunnels flowpin sends to: one fixed unicast remote
 * and not external, or WireGuard; not an NBMA GRE (no remote, or a
 * multicast one), a 6to4 SIT, an external tunnel or an Ethernet one.
 */
static void ip_tunnels_have_one_remote(void **state)
{
	struct env *e = *state;

	tunnel_link_msg(e, 7, "gre", ARPHRD_IPGRE, true, "192.0.2.2", false);
	assert_true(ip_tunnel(e, 7));
	tunnel_link_msg(e, 7, "gre", ARPHRD_IPGRE, true, NULL, false);
	assert_false(ip_tunnel(e, 7));
	tunnel_link_msg(e, 7, "gre", ARPHRD_IPGRE, true, "0.0.0.0", false);
	assert_false(ip_tunnel(e, 7));
	tunnel_link_msg(e, 7, "gre", ARPHRD_IPGRE, true, "239.1.1.1", false);
	assert_false(ip_tunnel(e, 7));
	tunnel_link_msg(e, 7, "gre", ARPHRD_IPGRE, true, "192.0.2.2", true);
	assert_false(ip_tunnel(e, 7));
	tunnel_link_msg(e, 7, "gre", ARPHRD_IPGRE, true, "192.0.2.2", false);
	assert_true(ip_tunnel(e, 7));
	tunnel_link_msg(e, 8, "ip6gre", ARPHRD_IP6GRE, true, "2001:db8::2", false);
	assert_true(ip_tunnel(e, 8));
	tunnel_link_msg(e, 8, "ip6gre", ARPHRD_IP6GRE, true, "ff02::1", false);
	assert_false(ip_tunnel(e, 8));
	tunnel_link_msg(e, 9, "ipip", ARPHRD_TUNNEL, true, "192.0.2.9", false);
	assert_true(ip_tunnel(e, 9));
	tunnel_link_msg(e, 9, "ipip", ARPHRD_TUNNEL, true, NULL, true);
	assert_false(ip_tunnel(e, 9));
	tunnel_link_msg(e, 10, "sit", ARPHRD_SIT, true, "0.0.0.0", false); /* 6to4 */
	assert_false(ip_tunnel(e, 10));
	tunnel_link_msg(e, 11, "ip6tnl", ARPHRD_TUNNEL6, true, "2001:db8::11", false);
	assert_true(ip_tunnel(e, 11));
	tunnel_link_msg(e, 12, "wireguard", ARPHRD_NONE, true, NULL, false);
	assert_true(ip_tunnel(e, 12));
	tunnel_link_msg(e, 13, "gretap", ARPHRD_ETHER, true, "192.0.2.2", false);
	assert_false(ip_tunnel(e, 13));
	tunnel_link_msg(e, 14, "veth", ARPHRD_ETHER, true, NULL, false);
	assert_false(ip_tunnel(e, 14));
}

/*
 * A next hop out of an IP tunnel needs no neighbour entry (the kernel's
 * are NUD_NOARP, made without a message, and a point-to-point device's
 * IPv4 one has no gateway in it): active while its link is up, dead when
 * it goes down. Out of an Ethernet tunnel (gretap) or an NBMA GRE without
 * a neighbour entry, a next hop is not usable.
 */
static void ip_tunnel_next_hops_need_no_neighbour(void **state)
{
	static const struct gw tunnels4[] = { { 7, "10.0.7.2" }, { 8, "10.0.8.2" }, { 9, "10.0.9.2" } };
	static const struct gw tunnels6[] = { { 7, "fd00:7::2" }, { 10, "fd00:a::2" } };
	struct env *e = *state;

	tunnel_link_msg(e, 7, "gre", ARPHRD_IPGRE, true, "192.0.2.7", false);
	tunnel_link_msg(e, 8, "gretap", ARPHRD_ETHER, true, "192.0.2.8", false);
	tunnel_link_msg(e, 9, "gre", ARPHRD_IPGRE, true, NULL, false);
	tunnel_link_msg(e, 10, "wireguard", ARPHRD_NONE, true, NULL, false);
	route_msg(e, RTM_NEWROUTE, NLM_F_CREATE, 4, "198.51.100.0", 24, tunnels4, 3);
	route_msg(e, RTM_NEWROUTE, NLM_F_CREATE, 6, "2001:db8::", 64, tunnels6, 2);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 7, "10.0.7.2"), NH_ACTIVE);
	assert_int_equal(state_of(e, 6, 7, "fd00:7::2"), NH_ACTIVE);
	assert_int_equal(state_of(e, 6, 10, "fd00:a::2"), NH_ACTIVE);
	assert_int_not_equal(state_of(e, 4, 8, "10.0.8.2"), NH_ACTIVE);
	assert_int_not_equal(state_of(e, 4, 9, "10.0.9.2"), NH_ACTIVE);
	tunnel_link_msg(e, 7, "gre", ARPHRD_IPGRE, false, "192.0.2.7", false);
	sync_table(e);
	assert_int_equal(state_of(e, 4, 7, "10.0.7.2"), NH_DEAD);
	assert_int_equal(state_of(e, 6, 10, "fd00:a::2"), NH_ACTIVE);
}

/*
 * A next hop's MTU is the smallest its routes give it (IPv4: locked ones,
 * as forwarding counts them); none where the device's MTU is as small.
 */
static void path_mtus_cap_next_hops(void **state)
{
	struct env *e = *state;
	static const struct gw a4 = { 1, "10.0.1.2" }, b4 = { 2, "10.0.2.2" };
	static const struct gw a6 = { 1, "fd00:1::2" };

	link_mtu_msg(e, 1, 1500);
	route_msg(e, RTM_NEWROUTE, NLM_F_CREATE, 4, "198.51.100.0", 24, two4, 2);
	route_mtu_msg(e, 4, "203.0.113.0", 24, &a4, 1400, true);
	route_mtu_msg(e, 4, "203.0.114.0", 24, &b4, 1300, false);
	route_mtu_msg(e, 6, "2001:db8:100::", 64, &a6, 1350, false);
	sync_table(e);
	assert_int_equal(find(e, 4, 1, "10.0.1.2")->mtu, 1400);
	assert_int_equal(find(e, 4, 2, "10.0.2.2")->mtu, 0); /* not locked */
	assert_int_equal(find(e, 6, 1, "fd00:1::2")->mtu, 1350); /* IPv6: always */
	assert_int_equal(e->m.n_mtu_routes, 2);

	/* the smallest of two routes; then the smaller one goes */
	route_mtu_msg(e, 4, "203.0.115.0", 24, &a4, 1280, true);
	sync_table(e);
	assert_int_equal(find(e, 4, 1, "10.0.1.2")->mtu, 1280);
	route_msg(e, RTM_DELROUTE, 0, 4, "203.0.115.0", 24, &a4, 1);
	sync_table(e);
	assert_int_equal(find(e, 4, 1, "10.0.1.2")->mtu, 1400);
	/* a route replaced without an MTU gives up its own */
	route_msg(e, RTM_NEWROUTE, NLM_F_REPLACE, 4, "203.0.113.0", 24, &a4, 1);
	sync_table(e);
	assert_int_equal(find(e, 4, 1, "10.0.1.2")->mtu, 0);
	assert_int_equal(e->m.n_mtu_routes, 1);

	/* a device MTU as small as the path's: nothing to add */
	link_mtu_msg(e, 1, 1350);
	sync_table(e);
	assert_int_equal(find(e, 6, 1, "fd00:1::2")->mtu, 0);
	link_mtu_msg(e, 1, 1500);
	sync_table(e);
	assert_int_equal(find(e, 6, 1, "fd00:1::2")->mtu, 1350);
}

/*
 * A route of any shape: gateways, or a nexthop object (nh_id), with an MTU
 * (locked, so IPv4 counts it too) or without (mtu 0); type RTN_UNICAST or
 * a reject type.
 */
static void route_any_msg(struct env *e, __u16 type, __u16 flags, int family,
			  const char *dst, int len, __u8 rtn,
			  const struct gw *gws, int n, __u32 nh_id, __u32 mtu)
{
	struct nlmsghdr *nlh = route_head(e, type, flags, family, dst, len);
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	int alen = family == 4 ? 4 : 16;
	__u8 a[16];

	rtm->rtm_type = rtn;
	if (nh_id) {
		mnl_attr_put_u32(nlh, RTA_NH_ID, nh_id);
	} else if (n == 1) {
		inet_pton(af(family), gws[0].addr, a);
		mnl_attr_put(nlh, RTA_GATEWAY, alen, a);
		mnl_attr_put_u32(nlh, RTA_OIF, gws[0].ifindex);
	} else if (n > 1) {
		struct nlattr *mp = mnl_attr_nest_start(nlh, RTA_MULTIPATH);

		for (int i = 0; i < n; i++) {
			struct rtnexthop *rtnh = mnl_nlmsg_get_payload_tail(nlh);

			nlh->nlmsg_len += RTNH_ALIGN(sizeof(*rtnh));
			memset(rtnh, 0, sizeof(*rtnh));
			rtnh->rtnh_ifindex = gws[i].ifindex;
			inet_pton(af(family), gws[i].addr, a);
			mnl_attr_put(nlh, RTA_GATEWAY, alen, a);
			rtnh->rtnh_len = (char *)mnl_nlmsg_get_payload_tail(nlh) -
					 (char *)rtnh;
		}
		mnl_attr_nest_end(nlh, mp);
	}
	if (mtu) {
		struct nlattr *metrics = mnl_attr_nest_start(nlh, RTA_METRICS);

		mnl_attr_put_u32(nlh, RTAX_LOCK, 1 << RTAX_MTU);
		mnl_attr_put_u32(nlh, RTAX_MTU, mtu);
		mnl_attr_nest_end(nlh, metrics);
	}
	feed(e, nlh);
}

/* The MTU model_nexthops() gives this gateway (-1: not listed). */
static int wanted_mtu(struct env *e, int family, int ifindex, const char *addr)
{
	struct desired_nh *want;
	struct nexthop_addr a;
	__u8 gw[16] = {};
	int n, mtu = -1;

	inet_pton(af(family), addr, gw);
	nexthop_addr_from(&a, ifindex, family == 4 ? FP_AF_INET : FP_AF_INET6, gw);
	n = model_nexthops(&e->m, NULL, 0, &want);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++)
		if (!memcmp(&want[i].addr, &a, sizeof(a)))
			mtu = want[i].mtu;
	free(want);
	return mtu;
}

/*
 * Through nexthop objects and groups: the MTU follows the object to its
 * new gateway, leaves with the routes a deleted object takes along, and
 * stays when an object no route uses is deleted.
 */
static void path_mtus_follow_nexthop_objects(void **state)
{
	struct env *e = *state;
	static const __u32 g12[] = { 1, 2 };

	nexthop_msg(e, RTM_NEWNEXTHOP, 1, 1, "10.0.1.2");
	nexthop_msg(e, RTM_NEWNEXTHOP, 2, 2, "10.0.2.2");
	nexthop_msg(e, RTM_NEWNEXTHOP, 3, 3, "10.0.3.2");
	group_msg(e, NLM_F_CREATE, 100, g12, 2);
	route_any_msg(e, RTM_NEWROUTE, NLM_F_CREATE, 4, "203.0.113.0", 24,
		      RTN_UNICAST, NULL, 0, 100, 1400);
	route_any_msg(e, RTM_NEWROUTE, NLM_F_CREATE, 4, "203.0.114.0", 24,
		      RTN_UNICAST, NULL, 0, 1, 1300);
	assert_int_equal(wanted_mtu(e, 4, 1, "10.0.1.2"), 1300);
	assert_int_equal(wanted_mtu(e, 4, 2, "10.0.2.2"), 1400);

	/* object 1 moves: its route's MTU goes with it */
	nexthop_msg(e, RTM_NEWNEXTHOP, 1, 3, "10.0.3.2");
	assert_int_equal(wanted_mtu(e, 4, 3, "10.0.3.2"), 1300);
	assert_int_equal(wanted_mtu(e, 4, 2, "10.0.2.2"), 1400);
	nexthop_msg(e, RTM_NEWNEXTHOP, 1, 1, "10.0.1.2");

	/* an object no route uses goes: nothing else does */
	nexthop_msg(e, RTM_DELNEXTHOP, 3, 0, NULL);
	assert_int_equal(e->m.n_routes, 2);
	assert_int_equal(wanted_mtu(e, 4, 1, "10.0.1.2"), 1300);

	/* object 1 goes with its route: the group's MTU is the one left */
	nexthop_msg(e, RTM_DELNEXTHOP, 1, 0, NULL);
	assert_int_equal(e->m.n_routes, 1);
	assert_int_equal(e->m.n_mtu_routes, 1);
	assert_int_equal(wanted_mtu(e, 4, 2, "10.0.2.2"), 1400);
	assert_int_equal(wanted_mtu(e, 4, 1, "10.0.1.2"), -1);

	/* the group goes with the last route with an MTU */
	nexthop_msg(e, RTM_DELNEXTHOP, 100, 0, NULL);
	assert_int_equal(e->m.n_routes, 0);
	assert_int_equal(e->m.n_mtu_routes, 0);
	assert_int_equal(e->m.n_path_mtus, 0);
}

/* The test's own account of the routes, as the kernel would hold them. */
#define CHURN_ROUTES 24
#define CHURN_GWS 4
struct churn_route {
	bool present;
	int family;
	__u32 nh_id;	      /* or gateways: */
	bool gw[CHURN_GWS];
	__u32 mtu;
};

static const struct gw churn_gw4[CHURN_GWS] = {
	{ 1, "10.0.1.2" }, { 2, "10.0.2.2" }, { 3, "10.0.3.2" }, { 4, "10.0.4.2" },
};
static const struct gw churn_gw6[CHURN_GWS] = {
	{ 1, "fd00:1::2" }, { 2, "fd00:2::2" }, { 3, "fd00:3::2" }, { 4, "fd00:4::2" },
};

static __u32 churn_rnd(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s >> 32;
}

/*
 * Objects 10 and 11 are on gateway obj_gw[0] and obj_gw[1] while alive;
 * group 20 has both as members.
 */
static bool churn_obj_uses(const bool *obj_alive, const int *obj_gw, __u32 id,
			   int g)
{
	if (id == 10 || id == 11)
		return obj_alive[id - 10] && g == obj_gw[id - 10];
	return id == 20 && ((obj_alive[0] && g == obj_gw[0]) ||
			    (obj_alive[1] && g == obj_gw[1]));
}

/*
 * Random route churn with and without MTUs (replace, append, per-path and
 * whole deletes, a reject replacing a route, nexthop objects that move or
 * go with their routes): after every change, each gateway's MTU is the
 * smallest over a walk of every route the test knows of.
 */
static void path_mtus_match_a_walk_of_every_route(void **state)
{
	static const __u32 mtus[] = { 0, 0, 1280, 1300, 1400, 1450 };
	struct env *e = *state;
	struct churn_route rt[CHURN_ROUTES] = {};
	bool obj_alive[2] = { true, true };
	int obj_gw[2] = { 2, 3 };
	static const __u32 g01[] = { 10, 11 };
	__u64 seed = 0x2545f4914f6cdd1dULL;

	nexthop_msg(e, RTM_NEWNEXTHOP, 10, 3, "10.0.3.2");
	nexthop_msg(e, RTM_NEWNEXTHOP, 11, 4, "10.0.4.2");
	group_msg(e, NLM_F_CREATE, 20, g01, 2);
	for (int step = 0; step < 3000; step++) {
		int i = churn_rnd(&seed) % CHURN_ROUTES, op = churn_rnd(&seed) % 8;
		struct churn_route *r = &rt[i];
		int family = i < CHURN_ROUTES / 2 ? 4 : 6;
		const struct gw *gws = family == 4 ? churn_gw4 : churn_gw6;
		__u32 mtu = mtus[churn_rnd(&seed) % 6];
		char dst[64];
		struct gw pick[CHURN_GWS];
		int n = 0;

		snprintf(dst, sizeof(dst), family == 4 ? "203.0.%d.0" : "2001:db8:%x::", i);
		for (int g = 0; g < CHURN_GWS; g++)
			if (churn_rnd(&seed) & 1)
				pick[n++] = gws[g];
		if (!n)
			pick[n++] = gws[churn_rnd(&seed) % CHURN_GWS];

		if (op <= 2) { /* replace (or add) through gateways */
			route_any_msg(e, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
				      family, dst, 24, RTN_UNICAST, pick, n, 0, mtu);
			*r = (struct churn_route){ .present = true, .family = family, .mtu = mtu };
			for (int k = 0; k < n; k++)
				r->gw[pick[k].ifindex - 1] = true;
		} else if (op == 3 && family == 4) { /* through a nexthop object */
			__u32 id = (__u32[]){ 10, 11, 20 }[churn_rnd(&seed) % 3];

			if (id != 20 && !obj_alive[id - 10])
				continue;
			route_any_msg(e, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
				      4, dst, 24, RTN_UNICAST, NULL, 0, id, mtu);
			*r = (struct churn_route){ .present = true, .family = 4,
						   .nh_id = id, .mtu = mtu };
		} else if (op == 3 || (op == 4 && r->present && !r->nh_id)) {
			/* append one path (the MTU is the message's), or add */
			route_any_msg(e, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_APPEND,
				      family, dst, 24, RTN_UNICAST, pick, 1, 0, mtu);
			if (!r->present || r->nh_id)
				*r = (struct churn_route){ .present = true, .family = family };
			r->gw[pick[0].ifindex - 1] = true;
			r->mtu = mtu;
		} else if (op == 5 && r->present && !r->nh_id) { /* one path goes */
			route_any_msg(e, RTM_DELROUTE, 0, family, dst, 24,
				      RTN_UNICAST, pick, 1, 0, 0);
			r->gw[pick[0].ifindex - 1] = false;
			r->present = false;
			for (int g = 0; g < CHURN_GWS; g++)
				r->present |= r->gw[g];
		} else if (op == 5) { /* the whole route goes */
			route_any_msg(e, RTM_DELROUTE, 0, family, dst, 24,
				      RTN_UNICAST, NULL, 0, 0, 0);
			r->present = false;
		} else if (op == 6) { /* a reject takes its place */
			route_any_msg(e, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
				      family, dst, 24, RTN_BLACKHOLE, NULL, 0, 0, 0);
			r->present = false;
		} else { /* an object moves, goes (with its routes) or comes back */
			int o = churn_rnd(&seed) % 2;

			if (!obj_alive[o] || churn_rnd(&seed) % 2) {
				obj_gw[o] = churn_rnd(&seed) % CHURN_GWS;
				nexthop_msg(e, RTM_NEWNEXTHOP, 10 + o,
					    churn_gw4[obj_gw[o]].ifindex,
					    churn_gw4[obj_gw[o]].addr);
				obj_alive[o] = true;
			} else {
				nexthop_msg(e, RTM_DELNEXTHOP, 10 + o, 0, NULL);
				obj_alive[o] = false;
				for (int k = 0; k < CHURN_ROUTES; k++)
					if (rt[k].present && rt[k].nh_id == 10u + o)
						rt[k].present = false;
			}
		}

		for (int f = 4; f <= 6; f += 2) {
			for (int g = 0; g < CHURN_GWS; g++) {
				const struct gw *gw = f == 4 ? &churn_gw4[g] : &churn_gw6[g];
				int want = -1, got;

				for (int k = 0; k < CHURN_ROUTES; k++) {
					bool uses;

					if (!rt[k].present || rt[k].family != f)
						continue;
					uses = rt[k].nh_id ?
						churn_obj_uses(obj_alive, obj_gw,
							       rt[k].nh_id, g) :
						rt[k].gw[g];
					if (!uses)
						continue;
					if (want < 0)
						want = 0;
					if (rt[k].mtu && (!want || (int)rt[k].mtu < want))
						want = rt[k].mtu;
				}
				got = wanted_mtu(e, f, gw->ifindex, gw->addr);
				if (got != want)
					fail_msg("step %d (op %d, route %d): %s gets MTU %d, a walk of the routes says %d",
						 step, op, i, gw->addr, got, want);
			}
		}
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(two_gateways_then_a_third),
		T(gateway_removed_drain),
		T(gateway_removed_repin),
		T(gateway_in_two_routes_stays),
		T(neighbour_mac_change_keeps_generation),
		T(neighbour_failure_kills),
		T(neighbour_gc_is_not_death),
		T(neighbour_table_stays_small),
		T(link_down_and_removal),
		T(unrouted_link_churn_keeps_model),
		T(nexthop_objects_and_groups),
		T(ipv6_per_path_delete),
		T(cloned_and_non_unicast_ignored),
		T(unicast_replaced_by_reject),
		T(drain_timeout_counts_forward),
		T(changes_release_and_kill_first),
		T(full_dump_removes_vanished_keeps_rest),
		T(many_routes),
		T(full_dump_keeps_collected_neighbours),
		T(malformed_messages_refused),
		T(vrf_domain_follows_master),
		T(ip_tunnels_have_one_remote),
		T(ip_tunnel_next_hops_need_no_neighbour),
		T(path_mtus_cap_next_hops),
		T(path_mtus_follow_nexthop_objects),
		T(path_mtus_match_a_walk_of_every_route),
	};

	return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
