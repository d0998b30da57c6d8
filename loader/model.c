// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_tunnel.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "model.h"
#include "nexthop_table.h"

#define N_BUCKETS 4096 /* at start; doubled at one route per bucket */
/* The kernel's NUD_VALID: states in which the link-layer address is good. */
#define NUD_HAS_MAC                                                            \
	(NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE |    \
	 NUD_DELAY)

int model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->n_buckets = N_BUCKETS;
	m->buckets = calloc(m->n_buckets, sizeof(*m->buckets));
	return m->buckets ? 0 : -ENOMEM;
}

void model_free(struct model *m)
{
	for (__u32 b = 0; b < m->n_buckets && m->buckets; b++) {
		struct model_route *r = m->buckets[b], *next;

		for (; r; r = next) {
			next = r->next;
			free(r);
		}
	}
	for (int i = 0; i < m->n_nhobjs; i++)
		free(m->nhobjs[i].group);
	free(m->buckets);
	free(m->links);
	free(m->neighs);
	free(m->neigh_head);
	free(m->neigh_next);
	free(m->nhobjs);
	free(m->refs);
	free(m->path_mtus);
	memset(m, 0, sizeof(*m));
}

/* Grow an array by one element; returns the new element or NULL. */
static void *grow(void *arrp, int *n, size_t size)
{
	void **arr = arrp;
	void *p = realloc(*arr, (*n + 1) * size);

	if (!p)
		return NULL;
	*arr = p;
	memset((char *)p + *n * size, 0, size);
	return (char *)p + (*n)++ * size;
}

static void drop(void *arr, int *n, int i, size_t size)
{
	char *a = arr;

	memmove(a + i * size, a + (i + 1) * size, (*n - i - 1) * size);
	(*n)--;
}

static bool addr_eq(const struct nexthop_addr *a, const struct nexthop_addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static struct model_link *find_link(const struct model *m, __u32 ifindex)
{
	for (int i = 0; i < m->n_links; i++)
		if (m->links[i].ifindex == ifindex)
			return &m->links[i];
	return NULL;
}

/* FNV-1a: the hash of neighbours' and routes' buckets. */
static __u32 fnv32(const void *data, size_t len)
{
	const __u8 *p = data;
	__u32 h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static __u32 neigh_hash(const struct nexthop_addr *a)
{
	return fnv32(a, sizeof(*a));
}

static struct model_neigh *find_neigh(const struct model *m,
				      const struct nexthop_addr *a)
{
	if (!m->n_neigh_buckets)
		return NULL;
	for (int i = m->neigh_head[neigh_hash(a) & (m->n_neigh_buckets - 1)];
	     i; i = m->neigh_next[i - 1])
		if (addr_eq(&m->neighs[i - 1].addr, a))
			return &m->neighs[i - 1];
	return NULL;
}

static void neigh_link(struct model *m, int i)
{
	__u32 b = neigh_hash(&m->neighs[i].addr) & (m->n_neigh_buckets - 1);

	m->neigh_next[i] = m->neigh_head[b];
	m->neigh_head[b] = i + 1;
}

static void neigh_unlink(struct model *m, int i)
{
	int *pp = &m->neigh_head[neigh_hash(&m->neighs[i].addr) &
				 (m->n_neigh_buckets - 1)];

	while (*pp && *pp != i + 1)
		pp = &m->neigh_next[*pp - 1];
	if (*pp)
		*pp = m->neigh_next[i];
}

/* A new entry for this address (zeroed but for it), or NULL. */
static struct model_neigh *neigh_add(struct model *m,
				     const struct nexthop_addr *a)
{
	struct model_neigh *n;

	if (m->n_neighs == m->cap_neighs) {
		int cap = m->cap_neighs ? m->cap_neighs * 2 : 64;
		struct model_neigh *v = realloc(m->neighs, cap * sizeof(*v));
		int *next;

		if (!v)
			return NULL;
		m->neighs = v;
		next = realloc(m->neigh_next, cap * sizeof(*next));
		if (!next)
			return NULL;
		m->neigh_next = next;
		m->cap_neighs = cap;
	}
	if ((__u32)(m->n_neighs + 1) * 2 > m->n_neigh_buckets) {
		__u32 nb = m->n_neigh_buckets ? m->n_neigh_buckets * 2 : 128;
		int *head = calloc(nb, sizeof(*head));

		if (!head)
			return NULL;
		free(m->neigh_head);
		m->neigh_head = head;
		m->n_neigh_buckets = nb;
		for (int i = 0; i < m->n_neighs; i++)
			neigh_link(m, i);
	}
	n = &m->neighs[m->n_neighs];
	memset(n, 0, sizeof(*n));
	n->addr = *a;
	neigh_link(m, m->n_neighs++);
	return n;
}

/* Remove an entry: the last one takes its place. */
static void neigh_del(struct model *m, struct model_neigh *n)
{
	int i = n - m->neighs, last = m->n_neighs - 1;

	neigh_unlink(m, i);
	if (i != last) {
		neigh_unlink(m, last);
		m->neighs[i] = m->neighs[last];
		neigh_link(m, i);
	}
	m->n_neighs--;
}

/* Is this address a gateway of a route or a nexthop object of the model? */
static bool is_gateway(const struct model *m, const struct nexthop_addr *a)
{
	for (int i = 0; i < m->n_refs; i++)
		if (m->refs[i].count && addr_eq(&m->refs[i].addr, a))
			return true;
	for (int i = 0; i < m->n_nhobjs; i++)
		if (addr_eq(&m->nhobjs[i].gw, a))
			return true;
	return false;
}

const struct model_link *model_link(const struct model *m, __u32 ifindex)
{
	return find_link(m, ifindex);
}

const struct model_link *model_link_by_name(const struct model *m,
					    const char *name)
{
	for (int i = 0; i < m->n_links; i++)
		if (!strcmp(m->links[i].name, name))
			return &m->links[i];
	return NULL;
}

__u32 model_l3dom(const struct model *m, __u32 ifindex)
{
	const struct model_link *l = find_link(m, ifindex), *master;

	if (!l || !l->master)
		return 0;
	master = find_link(m, l->master);
	return master && !strcmp(master->kind, "vrf") ? master->ifindex : 0;
}

bool model_link_ip_tunnel(const struct model_link *l)
{
	if (l->type == ARPHRD_ETHER) /* gretap, ip6gretap: Ethernet */
		return false;
	/* a WireGuard device finds its peer by the packet's destination */
	return l->tunnel_remote || !strcmp(l->kind, "wireguard");
}

const struct model_neigh *model_neigh(const struct model *m,
				      const struct nexthop_addr *a)
{
	return find_neigh(m, a);
}

static struct model_nhobj *find_nhobj(const struct model *m, __u32 id)
{
	for (int i = 0; i < m->n_nhobjs; i++)
		if (m->nhobjs[i].id == id)
			return &m->nhobjs[i];
	return NULL;
}

static int fam_of(int af)
{
	return af == AF_INET ? FP_AF_INET : af == AF_INET6 ? FP_AF_INET6 : 0;
}

static int addr_len(int family)
{
	return family == FP_AF_INET ? 4 : 16;
}

/* Copy an address attribute of the right size; false when it is not. */
static bool get_addr(const struct nlattr *a, int family, __be32 *dst)
{
	if (!family || mnl_attr_get_payload_len(a) != addr_len(family))
		return false;
	memcpy(dst, mnl_attr_get_payload(a), addr_len(family));
	return true;
}

/*
 * The kernel changes the routing state without a message in a few cases;
 * the model is then stale and flowpind dumps again. These say whether an
 * event on a link can have done so to anything the model holds.
 */

/* A route of the model has a gateway on this link. */
static bool link_routed(const struct model *m, __u32 ifindex)
{
	for (int i = 0; i < m->n_refs; i++)
		if (m->refs[i].count && !m->refs[i].nh_id &&
		    m->refs[i].addr.ifindex == ifindex)
			return true;
	return false;
}

/* A nexthop object of the model, used or not, is on this link. */
static bool link_has_nhobj(const struct model *m, __u32 ifindex)
{
	for (int i = 0; i < m->n_nhobjs; i++)
		if (m->nhobjs[i].gw.family && m->nhobjs[i].gw.ifindex == ifindex)
			return true;
	return false;
}

/*
 * A link set down or removed: the kernel drops the IPv4 routes through it
 * and deletes the nexthop objects on it (shrinking groups, and dropping
 * the routes left without a path), all without a message.
 */
static bool link_down_stales(const struct model *m, __u32 ifindex)
{
	return link_routed(m, ifindex) || link_has_nhobj(m, ifindex);
}

/* --- links --- */

/*
 * A VLAN's IFLA_VLAN_EGRESS_QOS or IFLA_VLAN_INGRESS_QOS: does it map
 * something to something other than 0 (the kernel lists only those)? And
 * of the egress map, into pcp, the PCP of each priority the kernel's IPv4
 * forwarding gives (0, 2, 4, 6: struct vlan_tx's egress_pcp).
 */
static bool vlan_qos_map(const struct nlattr *qos, __u16 *pcp)
{
	const struct nlattr *a;
	bool any = false;

	*pcp = 0;
	mnl_attr_for_each_nested(a, qos) {
		const struct ifla_vlan_qos_mapping *m;

		if (mnl_attr_get_type(a) != IFLA_VLAN_QOS_MAPPING ||
		    mnl_attr_get_payload_len(a) < sizeof(*m))
			continue;
		m = mnl_attr_get_payload(a);
		if (!m->to)
			continue;
		any = true;
		if (m->from <= 6 && !(m->from & 1))
			*pcp |= (m->to & 7) << (m->from * 2);
	}
	return any;
}

/* A VLAN device's IFLA_INFO_DATA: its VID, protocol and QoS maps. */
static void link_vlan(const struct nlattr *data, struct model_link *l)
{
	const struct nlattr *a;
	__u16 unused;

	mnl_attr_for_each_nested(a, data) {
		if (mnl_attr_get_type(a) == IFLA_VLAN_ID &&
		    mnl_attr_get_payload_len(a) == sizeof(__u16))
			l->vlan_id = mnl_attr_get_u16(a);
		else if (mnl_attr_get_type(a) == IFLA_VLAN_PROTOCOL &&
			 mnl_attr_get_payload_len(a) == sizeof(__u16))
			l->vlan_proto = mnl_attr_get_u16(a);
		else if (mnl_attr_get_type(a) == IFLA_VLAN_EGRESS_QOS)
			l->vlan_egress_qos = vlan_qos_map(a, &l->vlan_egress_pcp);
		else if (mnl_attr_get_type(a) == IFLA_VLAN_INGRESS_QOS)
			l->vlan_ingress_qos = vlan_qos_map(a, &unused);
	}
}

/* A unicast address, IPv4 (4 bytes) or IPv6 (16): not 0, multicast or broadcast. */
static bool unicast(const __u8 *a, size_t len)
{
	static const __u8 zero[16];

	if (len == 4)
		return memcmp(a, zero, 4) && (a[0] & 0xf0) != 0xe0 &&
		       memcmp(a, "\xff\xff\xff\xff", 4);
	return len == 16 && memcmp(a, zero, 16) && a[0] != 0xff;
}

/*
 * An IP tunnel's IFLA_INFO_DATA (attributes REMOTE and COLLECT_METADATA of
 * its family, GRE's or IPIP's): one fixed unicast remote, and not external
 * (collect_md, whose remote each packet's metadata gives)?
 */
static bool tunnel_remote(const struct nlattr *data, int remote, int md)
{
	const struct nlattr *a;
	bool fixed = false;

	mnl_attr_for_each_nested(a, data) {
		if (mnl_attr_get_type(a) == remote)
			fixed = unicast(mnl_attr_get_payload(a),
					mnl_attr_get_payload_len(a));
		else if (mnl_attr_get_type(a) == md)
			return false;
	}
	return fixed;
}

/*
 * IFLA_LINKINFO: IFLA_INFO_KIND into kind ("" when it has none) and, of a
 * VLAN device, its VID and protocol; of an IP tunnel, whether it has one
 * fixed remote.
 */
static void link_info(const struct nlattr *linkinfo, struct model_link *l)
{
	const struct nlattr *a, *data = NULL;

	l->kind[0] = '\0';
	mnl_attr_for_each_nested(a, linkinfo) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
		    !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(l->kind, sizeof(l->kind), "%s",
				 mnl_attr_get_str(a));
		else if (mnl_attr_get_type(a) == IFLA_INFO_DATA)
			data = a;
	}
	if (data && !strcmp(l->kind, "vlan"))
		link_vlan(data, l);
	else if (data && (!strcmp(l->kind, "gre") || !strcmp(l->kind, "ip6gre")))
		l->tunnel_remote = tunnel_remote(data, IFLA_GRE_REMOTE,
						 IFLA_GRE_COLLECT_METADATA);
	else if (data && (!strcmp(l->kind, "ipip") || !strcmp(l->kind, "sit") ||
			  !strcmp(l->kind, "ip6tnl")))
		l->tunnel_remote = tunnel_remote(data, IFLA_IPTUN_REMOTE,
						 IFLA_IPTUN_COLLECT_METADATA);
}

static int apply_link(struct model *m, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct model_link *l = find_link(m, ifi->ifi_index);
	const struct nlattr *a;
	bool other_ns = false;

	if (nlh->nlmsg_type == RTM_DELLINK) {
		if (l) {
			drop(m->links, &m->n_links, l - m->links, sizeof(*l));
			m->stale |= link_down_stales(m, ifi->ifi_index);
		}
		return 0;
	}
	if (!l && !(l = grow(&m->links, &m->n_links, sizeof(*l))))
		return -ENOMEM;
	if (l->admin_up && !(ifi->ifi_flags & IFF_UP))
		m->stale |= link_down_stales(m, ifi->ifi_index);
	/* carrier lost: routes stay (marked linkdown), nexthop objects go */
	else if (l->up && !(ifi->ifi_flags & (IFF_RUNNING | IFF_LOWER_UP)))
		m->stale |= link_has_nhobj(m, ifi->ifi_index);
	l->admin_up = ifi->ifi_flags & IFF_UP;
	l->ifindex = ifi->ifi_index;
	l->type = ifi->ifi_type;
	l->up = (ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_LOWER_UP);
	l->master = 0;
	l->lower = 0;
	l->vlan_id = 0;
	l->vlan_proto = 0;
	l->vlan_egress_qos = false;
	l->vlan_egress_pcp = 0;
	l->vlan_ingress_qos = false;
	l->tunnel_remote = false;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		if (mnl_attr_get_type(a) == IFLA_ADDRESS &&
		    mnl_attr_get_payload_len(a) == FP_ETH_ALEN)
			memcpy(l->mac, mnl_attr_get_payload(a), FP_ETH_ALEN);
		else if (mnl_attr_get_type(a) == IFLA_MASTER &&
			 mnl_attr_get_payload_len(a) == sizeof(__u32))
			l->master = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == IFLA_LINKINFO)
			link_info(a, l);
		else if (mnl_attr_get_type(a) == IFLA_LINK &&
			 mnl_attr_get_payload_len(a) == sizeof(__u32))
			l->lower = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == IFLA_LINK_NETNSID)
			other_ns = true;
		else if (mnl_attr_get_type(a) == IFLA_IFNAME &&
			 !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(l->name, sizeof(l->name), "%s",
				 mnl_attr_get_str(a));
		else if (mnl_attr_get_type(a) == IFLA_MTU &&
			 mnl_attr_get_payload_len(a) == sizeof(__u32))
			l->mtu = mnl_attr_get_u32(a);
	}
	/* a lower device in another namespace is none of ours */
	if (other_ns || !l->vlan_id)
		l->lower = 0;
	return 0;
}

/* --- neighbours --- */

static int apply_neigh(struct model *m, const struct nlmsghdr *nlh)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct nexthop_addr addr = { .ifindex = ndm->ndm_ifindex };
	const __u8 *lladdr = NULL;
	struct model_neigh *n;
	const struct nlattr *a;
	bool have_dst = false, resolved;

	addr.family = fam_of(ndm->ndm_family);
	if (!addr.family || (ndm->ndm_flags & NTF_PROXY))
		return 0;
	mnl_attr_for_each(a, nlh, sizeof(*ndm)) {
		if (mnl_attr_get_type(a) == NDA_DST)
			have_dst = get_addr(a, addr.family, addr.gw);
		else if (mnl_attr_get_type(a) == NDA_LLADDR &&
			 mnl_attr_get_payload_len(a) == FP_ETH_ALEN)
			lladdr = mnl_attr_get_payload(a);
	}
	if (!have_dst)
		return -EINVAL;
	n = find_neigh(m, &addr);
	if (nlh->nlmsg_type == RTM_DELNEIGH) {
		/*
		 * A removed entry is most often garbage collection of a
		 * neighbour the kernel saw no traffic for (pinned traffic
		 * bypasses it): a gateway's keeps its MAC, and only a failed
		 * resolution makes it unusable. Any other goes.
		 */
		if (n && !is_gateway(m, &addr))
			neigh_del(m, n);
		return 0;
	}
	resolved = lladdr && (ndm->ndm_state & NUD_HAS_MAC);
	if (!n) {
		/* unresolved: of interest only for a gateway (a failure) */
		if (!resolved && !is_gateway(m, &addr))
			return 0;
		if (m->n_neighs >= MODEL_MAX_NEIGHS && !is_gateway(m, &addr)) {
			m->neighs_skipped++;
			return 0;
		}
		n = neigh_add(m, &addr);
		if (!n)
			return -ENOMEM;
	}
	n->failed = ndm->ndm_state & NUD_FAILED;
	n->is_static = ndm->ndm_state & (NUD_PERMANENT | NUD_NOARP);
	if (resolved) {
		memcpy(n->mac, lladdr, FP_ETH_ALEN);
		n->has_mac = true;
	}
	return 0;
}

/* A neighbour of this address with this MAC, unless the model knows better. */
static void remember_mac(struct model *m, const struct nexthop_addr *a,
			 const __u8 *mac, bool failed)
{
	struct model_neigh *n = find_neigh(m, a);

	if (n && (n->has_mac || n->failed))
		return;
	if (!n) {
		n = neigh_add(m, a);
		if (!n)
			return; /* best effort: the next hop is then dead */
		n->failed = failed;
	}
	memcpy(n->mac, mac, FP_ETH_ALEN);
	n->has_mac = true;
}

void model_keep_macs(struct model *fresh, const struct model *old,
		     const struct nexthop *cur, __u32 size)
{
	/* gateways' MACs only: the dump brought every other entry afresh */
	for (int i = 0; i < old->n_neighs; i++)
		if (old->neighs[i].has_mac &&
		    is_gateway(fresh, &old->neighs[i].addr))
			remember_mac(fresh, &old->neighs[i].addr,
				     old->neighs[i].mac, old->neighs[i].failed);
	for (__u32 id = 1; id < size; id++) {
		struct nexthop_addr a;

		if (cur[id].state != NH_ACTIVE && cur[id].state != NH_WITHDRAWN)
			continue;
		nexthop_addr_of(&a, &cur[id]);
		remember_mac(fresh, &a, cur[id].dmac, false);
	}
}

/* --- routes --- */

static __u32 route_hash(const struct route_key *k)
{
	return fnv32(k, sizeof(*k));
}

static bool ref_is(const struct refcount *r, const struct route_path *p)
{
	return r->count && r->nh_id == p->nh_id && addr_eq(&r->addr, &p->gw);
}

/* Take a reference on path p; returns its index in m->refs, or -ENOMEM. */
static int ref_get(struct model *m, const struct route_path *p)
{
	struct refcount *r;
	int free_slot = -1;

	for (int i = 0; i < m->n_refs; i++) {
		if (ref_is(&m->refs[i], p)) {
			m->refs[i].count++;
			return i;
		}
		if (!m->refs[i].count && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0) {
		r = &m->refs[free_slot];
	} else {
		r = grow(&m->refs, &m->n_refs, sizeof(*r));
		if (!r)
			return -ENOMEM;
	}
	r->nh_id = p->nh_id;
	r->addr = p->gw;
	r->count = 1;
	return r - m->refs;
}

/* Drop a reference; a slot at count 0 is free for the next new path. */
static void ref_put(struct model *m, __u32 idx)
{
	if (!--m->refs[idx].count)
		memset(&m->refs[idx], 0, sizeof(m->refs[idx]));
}

/* Room for this many more path_mtus entries, so that adding them cannot fail. */
static int path_mtus_reserve(struct model *m, int more)
{
	struct path_mtu *v;
	int cap;

	if (m->n_path_mtus + more <= m->cap_path_mtus)
		return 0;
	cap = m->cap_path_mtus ? m->cap_path_mtus * 2 : 16;
	if (cap < m->n_path_mtus + more)
		cap = m->n_path_mtus + more;
	v = realloc(m->path_mtus, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->path_mtus = v;
	m->cap_path_mtus = cap;
	return 0;
}

static struct path_mtu *path_mtu_find(const struct model *m, __u32 ref,
				      __u16 mtu)
{
	for (int i = 0; i < m->n_path_mtus; i++)
		if (m->path_mtus[i].ref == ref && m->path_mtus[i].mtu == mtu)
			return &m->path_mtus[i];
	return NULL;
}

/* One more route with this MTU uses path ref (room reserved before). */
static void path_mtu_add(struct model *m, __u32 ref, __u16 mtu)
{
	struct path_mtu *e;

	if (!mtu)
		return;
	e = path_mtu_find(m, ref, mtu);
	if (!e) {
		e = &m->path_mtus[m->n_path_mtus++];
		*e = (struct path_mtu){ .ref = ref, .mtu = mtu };
	}
	e->routes++;
}

static void path_mtu_del(struct model *m, __u32 ref, __u16 mtu)
{
	struct path_mtu *e = mtu ? path_mtu_find(m, ref, mtu) : NULL;

	if (e && !--e->routes)
		*e = m->path_mtus[--m->n_path_mtus];
}

static struct model_route **route_slot(struct model *m,
				       const struct route_key *k)
{
	struct model_route **pp = &m->buckets[route_hash(k) % m->n_buckets];

	for (; *pp; pp = &(*pp)->next)
		if (!memcmp(&(*pp)->key, k, sizeof(*k)))
			break;
	return pp;
}

/* Keep chains short: a full Internet table is 1M routes. */
static int route_rehash(struct model *m)
{
	__u32 n = m->n_buckets * 2;
	struct model_route **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (__u32 i = 0; i < m->n_buckets; i++) {
		struct model_route *r = m->buckets[i], *next;

		for (; r; r = next) {
			struct model_route **head = &b[route_hash(&r->key) % n];

			next = r->next;
			r->next = *head;
			*head = r;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = n;
	return 0;
}

/* The route's index of path p, or -1. */
static int route_has(const struct model *m, const struct model_route *r,
		     const struct route_path *p)
{
	for (int i = 0; i < r->n_paths; i++)
		if (ref_is(&m->refs[r->ref[i]], p))
			return i;
	return -1;
}

static void route_remove_path(struct model *m, struct model_route *r, int i)
{
	path_mtu_del(m, r->ref[i], r->mtu);
	ref_put(m, r->ref[i]);
	memmove(&r->ref[i], &r->ref[i + 1], (r->n_paths - i - 1) * sizeof(r->ref[0]));
	r->n_paths--;
}

static void route_unlink(struct model *m, struct model_route **pp)
{
	struct model_route *r = *pp;

	while (r->n_paths)
		route_remove_path(m, r, r->n_paths - 1);
	*pp = r->next;
	m->n_prefsrc_routes -= r->prefsrc;
	m->n_mtu_routes -= r->mtu != 0;
	free(r);
	m->n_routes--;
}

/* A route's MTU, and its paths' (room for r->n_paths reserved before). */
static void route_set_mtu(struct model *m, struct model_route *r, __u16 mtu)
{
	for (int i = 0; i < r->n_paths && mtu != r->mtu; i++) {
		path_mtu_del(m, r->ref[i], r->mtu);
		path_mtu_add(m, r->ref[i], mtu);
	}
	m->n_mtu_routes += (mtu != 0) - (r->mtu != 0);
	r->mtu = mtu;
}

/* Room for n paths; the route may move, so *pp (its link) is updated. */
static struct model_route *route_reserve(struct model_route **pp, int n)
{
	struct model_route *r = *pp;

	if (r && r->cap >= n)
		return r;
	r = realloc(r, sizeof(*r) + n * sizeof(r->ref[0]));
	if (!r)
		return NULL;
	r->cap = n;
	*pp = r;
	return r;
}

struct parsed_route {
	struct route_key key;
	bool unicast; /* else a blackhole, unreachable, local, ...: no paths */
	bool prefsrc; /* has a preferred source address */
	__u16 mtu;    /* what forwarding uses of RTAX_MTU, or 0 */
	struct route_path paths[64];
	int n_paths;
};

static void add_parsed_path(struct parsed_route *pr, __u32 nh_id,
			    __u32 ifindex, int family, const void *gw)
{
	struct route_path *p;

	if (pr->n_paths == (int)(sizeof(pr->paths) / sizeof(pr->paths[0])))
		return;
	p = &pr->paths[pr->n_paths++];
	memset(p, 0, sizeof(*p));
	p->nh_id = nh_id;
	if (!nh_id) {
		p->gw.ifindex = ifindex;
		p->gw.family = family;
		memcpy(p->gw.gw, gw, addr_len(family));
	}
}

/* RTA_VIA: struct rtvia, an address family and the address. */
static bool get_via(const struct nlattr *a, int *family, __be32 *dst)
{
	const struct rtvia *via = mnl_attr_get_payload(a);
	int len = mnl_attr_get_payload_len(a);

	if (len < (int)sizeof(*via))
		return false;
	*family = fam_of(via->rtvia_family);
	if (!*family || len != (int)sizeof(*via) + addr_len(*family))
		return false;
	memcpy(dst, via->rtvia_addr, addr_len(*family));
	return true;
}

static int parse_multipath(struct parsed_route *pr, const struct nlattr *mp)
{
	const struct rtnexthop *rtnh = mnl_attr_get_payload(mp);
	int left = mnl_attr_get_payload_len(mp);

	while (left >= (int)sizeof(*rtnh) && rtnh->rtnh_len >= sizeof(*rtnh) &&
	       rtnh->rtnh_len <= left) {
		const struct nlattr *a = (const void *)RTNH_DATA(rtnh);
		int alen = rtnh->rtnh_len - RTNH_LENGTH(0);
		__be32 gw[4];
		int family = 0;

		while (mnl_attr_ok(a, alen)) {
			if (mnl_attr_get_type(a) == RTA_GATEWAY &&
			    get_addr(a, pr->key.family, gw))
				family = pr->key.family;
			else if (mnl_attr_get_type(a) == RTA_VIA)
				get_via(a, &family, gw);
			alen -= MNL_ALIGN(a->nla_len);
			a = mnl_attr_next(a);
		}
		if (family)
			add_parsed_path(pr, 0, rtnh->rtnh_ifindex, family, gw);
		left -= RTNH_ALIGN(rtnh->rtnh_len);
		rtnh = RTNH_NEXT(rtnh);
	}
	return 0;
}

/*
 * RTA_METRICS: the route's MTU as forwarding uses it. IPv6 always; IPv4
 * only when locked (`mtu lock N`), as ip_mtu_from_fib_result() does
 * unless net.ipv4.ip_forward_use_pmtu is set.
 */
static __u16 route_mtu(const struct nlattr *metrics, int family)
{
	const struct nlattr *a;
	__u32 mtu = 0, lock = 0;

	mnl_attr_for_each_nested(a, metrics) {
		if (mnl_attr_get_payload_len(a) != sizeof(__u32))
			continue;
		if (mnl_attr_get_type(a) == RTAX_MTU)
			mtu = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == RTAX_LOCK)
			lock = mnl_attr_get_u32(a);
	}
	if (family == FP_AF_INET && !(lock & (1 << RTAX_MTU)))
		return 0;
	return mtu > 0xffff ? 0xffff : mtu;
}

/* Returns 1 for a route that matters, 0 for one to ignore. */
static int parse_route(const struct nlmsghdr *nlh, struct parsed_route *pr)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *mp = NULL;
	__u32 oif = 0, nh_id = 0;
	int gw_family = 0;
	__be32 gw[4];

	memset(pr, 0, sizeof(*pr));
	pr->key.family = fam_of(rtm->rtm_family);
	if (!pr->key.family || (rtm->rtm_flags & RTM_F_CLONED))
		return 0;
	/*
	 * Other types have no gateways, but their key matters: a unicast
	 * route replaced by a blackhole arrives as one NEWROUTE with
	 * NLM_F_REPLACE and the new type.
	 */
	pr->unicast = rtm->rtm_type == RTN_UNICAST;
	pr->key.dst_len = rtm->rtm_dst_len;
	pr->key.tos = rtm->rtm_tos;
	pr->key.table = rtm->rtm_table;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		switch (mnl_attr_get_type(a)) {
		case RTA_DST:
			get_addr(a, pr->key.family, pr->key.dst);
			break;
		case RTA_TABLE:
			pr->key.table = mnl_attr_get_u32(a);
			break;
		case RTA_PRIORITY:
			pr->key.priority = mnl_attr_get_u32(a);
			break;
		case RTA_OIF:
			oif = mnl_attr_get_u32(a);
			break;
		case RTA_GATEWAY:
			if (get_addr(a, pr->key.family, gw))
				gw_family = pr->key.family;
			break;
		case RTA_VIA:
			get_via(a, &gw_family, gw);
			break;
		case RTA_MULTIPATH:
			mp = a;
			break;
		case RTA_NH_ID:
			nh_id = mnl_attr_get_u32(a);
			break;
		case RTA_PREFSRC:
			pr->prefsrc = true;
			break;
		case RTA_METRICS:
			pr->mtu = route_mtu(a, pr->key.family);
			break;
		}
	}
	if (!pr->unicast)
		return 1;
	if (nh_id)
		add_parsed_path(pr, nh_id, 0, 0, NULL);
	else if (mp)
		parse_multipath(pr, mp);
	else if (gw_family)
		add_parsed_path(pr, 0, oif, gw_family, gw);
	return 1;
}

static int apply_route(struct model *m, const struct nlmsghdr *nlh)
{
	struct parsed_route pr;
	struct model_route **pp, *r;
	int idx, err;

	if (!parse_route(nlh, &pr))
		return 0;
	pp = route_slot(m, &pr.key);
	r = *pp;
	/* a route of another type only matters where it replaces ours */
	if (!pr.unicast && (nlh->nlmsg_type != RTM_NEWROUTE ||
			    !(nlh->nlmsg_flags & NLM_F_REPLACE)))
		return 0;

	if (nlh->nlmsg_type == RTM_DELROUTE) {
		if (!r)
			return 0;
		/* IPv6 deletes one path of a multipath route at a time */
		for (int i = 0; i < pr.n_paths; i++) {
			int at = route_has(m, r, &pr.paths[i]);

			if (at >= 0)
				route_remove_path(m, r, at);
		}
		if (!pr.n_paths || !r->n_paths)
			route_unlink(m, pp);
		return 0;
	}

	if (!pr.n_paths) { /* no gateway: a connected or a reject route */
		if (r && (nlh->nlmsg_flags & NLM_F_REPLACE))
			route_unlink(m, pp);
		return 0;
	}
	/* every path this route may have after, once for its MTU */
	err = path_mtus_reserve(m, pr.n_paths + (r ? r->n_paths : 0));
	if (err)
		return err;
	if (!r) {
		if (m->n_routes >= m->n_buckets) {
			err = route_rehash(m);
			if (err)
				return err;
			pp = route_slot(m, &pr.key);
		}
		r = route_reserve(pp, pr.n_paths);
		if (!r)
			return -ENOMEM;
		r->next = NULL;
		r->key = pr.key;
		r->n_paths = 0;
		r->prefsrc = false;
		r->mtu = 0;
		m->n_routes++;
	} else if (nlh->nlmsg_flags & NLM_F_REPLACE) {
		while (r->n_paths)
			route_remove_path(m, r, r->n_paths - 1);
	}
	if (pr.key.family == FP_AF_INET) {
		m->n_prefsrc_routes += pr.prefsrc - r->prefsrc;
		r->prefsrc = pr.prefsrc;
	}
	route_set_mtu(m, r, pr.mtu);
	/* without REPLACE, paths are added (IPv6 appends them one by one) */
	r = route_reserve(pp, r->n_paths + pr.n_paths);
	if (!r)
		return -ENOMEM;
	for (int i = 0; i < pr.n_paths; i++) {
		if (route_has(m, r, &pr.paths[i]) >= 0)
			continue;
		idx = ref_get(m, &pr.paths[i]);
		if (idx < 0)
			return idx;
		path_mtu_add(m, idx, r->mtu);
		r->ref[r->n_paths++] = idx;
	}
	return 0;
}

/* --- nexthop objects --- */

/* Some route has nexthop object id as a path. */
static bool nhobj_routed(const struct model *m, __u32 id)
{
	for (int i = 0; i < m->n_refs; i++)
		if (m->refs[i].count && m->refs[i].nh_id == id)
			return true;
	return false;
}

/* The kernel removes routes that use a deleted nexthop without telling. */
static void drop_routes_using(struct model *m, __u32 id)
{
	/* most objects go once no route uses them: no walk of a full table */
	if (!nhobj_routed(m, id))
		return;
	for (__u32 b = 0; b < m->n_buckets; b++) {
		struct model_route **pp = &m->buckets[b];

		while (*pp) {
			bool uses = false;

			for (int i = 0; i < (*pp)->n_paths; i++)
				uses |= m->refs[(*pp)->ref[i]].nh_id == id;
			if (uses)
				route_unlink(m, pp);
			else
				pp = &(*pp)->next;
		}
	}
}

static int apply_nexthop(struct model *m, const struct nlmsghdr *nlh)
{
	const struct nhmsg *nhm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *group = NULL;
	struct model_nhobj obj = {}, *o;
	int family = fam_of(nhm->nh_family);

	mnl_attr_for_each(a, nlh, sizeof(*nhm)) {
		switch (mnl_attr_get_type(a)) {
		case NHA_ID:
			obj.id = mnl_attr_get_u32(a);
			break;
		case NHA_OIF:
			obj.gw.ifindex = mnl_attr_get_u32(a);
			break;
		case NHA_GATEWAY:
			if (get_addr(a, family, obj.gw.gw))
				obj.gw.family = family;
			break;
		case NHA_GROUP:
			group = a;
			break;
		}
	}
	if (!obj.id)
		return -EINVAL;
	o = find_nhobj(m, obj.id);
	if (o) {
		free(o->group);
		drop(m->nhobjs, &m->n_nhobjs, o - m->nhobjs, sizeof(*o));
	}
	if (nlh->nlmsg_type == RTM_DELNEXTHOP) {
		drop_routes_using(m, obj.id);
		return 0;
	}
	if (!obj.gw.family)
		obj.gw.ifindex = 0;
	if (group) {
		const struct nexthop_grp *g = mnl_attr_get_payload(group);

		obj.n_group = mnl_attr_get_payload_len(group) / sizeof(*g);
		obj.group = calloc(obj.n_group, sizeof(*obj.group));
		if (obj.n_group && !obj.group)
			return -ENOMEM;
		for (int i = 0; i < obj.n_group; i++)
			obj.group[i] = g[i].id;
	}
	o = grow(&m->nhobjs, &m->n_nhobjs, sizeof(*o));
	if (!o) {
		free(obj.group);
		return -ENOMEM;
	}
	*o = obj;
	return 0;
}

/*
 * An IPv4 address removed: the kernel drops, without a message, the IPv4
 * routes through its link when it was the link's last address, and the
 * routes on any link whose preferred source it was. (IPv6 reports its
 * route removals.)
 */
static int apply_deladdr(struct model *m, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

	if (ifa->ifa_family == AF_INET)
		m->stale |= m->n_prefsrc_routes || link_down_stales(m, ifa->ifa_index);
	return 0;
}

int model_apply(struct model *m, const struct nlmsghdr *nlh)
{
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
			return -EINVAL;
		return apply_link(m, nlh);
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ndmsg)))
			return -EINVAL;
		return apply_neigh(m, nlh);
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
			return -EINVAL;
		return apply_route(m, nlh);
	case RTM_DELADDR:
		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
			return -EINVAL;
		return apply_deladdr(m, nlh);
	case RTM_NEWNEXTHOP:
	case RTM_DELNEXTHOP:
		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nhmsg)))
			return -EINVAL;
		return apply_nexthop(m, nlh);
	}
	return 0;
}

/* --- what the datapath should have --- */

struct nh_list {
	struct desired_nh *v;
	int n;
};

static int list_add(struct nh_list *l, const struct nexthop_addr *a,
		    bool routed)
{
	struct desired_nh *d;

	for (int i = 0; i < l->n; i++) {
		if (addr_eq(&l->v[i].addr, a)) {
			l->v[i].routed |= routed;
			return 0;
		}
	}
	d = grow(&l->v, &l->n, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->addr = *a;
	d->routed = routed;
	return 0;
}

static void list_cap(struct nh_list *l, const struct nexthop_addr *a,
		     __u16 mtu)
{
	for (int i = 0; i < l->n; i++)
		if (addr_eq(&l->v[i].addr, a) &&
		    (!l->v[i].mtu || mtu < l->v[i].mtu))
			l->v[i].mtu = mtu;
}

/* What to do with each gateway a path reaches (see path_gateways()). */
typedef int (*gateway_fn)(struct nh_list *l, const struct nexthop_addr *a,
			  __u16 mtu);

static int gw_add(struct nh_list *l, const struct nexthop_addr *a, __u16 mtu)
{
	(void)mtu;
	return list_add(l, a, true);
}

static int gw_cap(struct nh_list *l, const struct nexthop_addr *a, __u16 mtu)
{
	list_cap(l, a, mtu);
	return 0;
}

/* A nexthop object's gateway, or its group's members' (groups do not nest). */
static int nhobj_gateways(const struct model *m, __u32 id, int depth,
			  struct nh_list *l, gateway_fn fn, __u16 mtu)
{
	const struct model_nhobj *o = find_nhobj(m, id);
	int err = 0;

	if (!o || depth > 1)
		return 0;
	if (o->gw.family)
		return fn(l, &o->gw, mtu);
	for (int i = 0; i < o->n_group && !err; i++)
		err = nhobj_gateways(m, o->group[i], depth + 1, l, fn, mtu);
	return err;
}

/* fn for every gateway of a route's path: its own, or its nexthop object's. */
static int path_gateways(const struct model *m, const struct refcount *ref,
			 struct nh_list *l, gateway_fn fn, __u16 mtu)
{
	if (!ref->nh_id)
		return fn(l, &ref->addr, mtu);
	return nhobj_gateways(m, ref->nh_id, 0, l, fn, mtu);
}

/* Each next hop's MTU: the smallest of the routes through it. */
static void cap_by_routes(const struct model *m, struct nh_list *l)
{
	for (int i = 0; i < m->n_path_mtus; i++)
		path_gateways(m, &m->refs[m->path_mtus[i].ref], l, gw_cap,
			      m->path_mtus[i].mtu);
}

int model_nexthops(const struct model *m, const struct nexthop_addr *extra,
		   int n_extra, struct desired_nh **out)
{
	struct nh_list l = {};
	int err = 0;

	for (int i = 0; i < m->n_refs && !err; i++) {
		const struct refcount *r = &m->refs[i];

		if (!r->count)
			continue;
		err = path_gateways(m, r, &l, gw_add, 0);
	}
	for (int i = 0; i < n_extra && !err; i++)
		err = list_add(&l, &extra[i], false);
	if (err) {
		free(l.v);
		return err;
	}
	cap_by_routes(m, &l);
	for (int i = 0; i < l.n; i++) {
		struct desired_nh *d = &l.v[i];
		const struct model_link *link = find_link(m, d->addr.ifindex);
		const struct model_neigh *n = find_neigh(m, &d->addr);

		if (link)
			memcpy(d->smac, link->mac, FP_ETH_ALEN);
		if (n && n->has_mac)
			memcpy(d->dmac, n->mac, FP_ETH_ALEN);
		d->usable = link && link->up &&
			    (model_link_ip_tunnel(link) ||
			     (n && n->has_mac && !n->failed));
		/* an MTU the device's already enforces is none */
		if (link && link->mtu && d->mtu >= link->mtu)
			d->mtu = 0;
	}
	*out = l.v;
	return l.n;
}
