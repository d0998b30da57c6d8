/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What flowpind knows of the kernel: links, neighbours, nexthop objects and
 * the gateways of unicast routes, built from rtnetlink messages. Plain C on
 * plain structs: no socket, no map. model_nexthops() turns it into the
 * next hops the datapath should have (reconcile.h turns them into table
 * changes).
 */
#ifndef FLOWPIN_MODEL_H
#define FLOWPIN_MODEL_H

#include <stdbool.h>
#include <linux/netlink.h>
#include "flowpin.h"

struct model_link {
	__u32 ifindex;
	__u32 master;  /* IFLA_MASTER: a bridge, a bond, a VRF, ...; 0: none */
	char name[16]; /* IFLA_IFNAME */
	__u8 mac[FP_ETH_ALEN];
	bool up;       /* administratively up with carrier */
	bool admin_up; /* IFF_UP */
	char kind[16]; /* IFLA_INFO_KIND ("vrf", "bond", ...); "": none (a NIC) */
	__u32 mtu;     /* IFLA_MTU */
	__u32 lower;   /* IFLA_LINK of a VLAN device, in this namespace; 0: none */
	__u16 type;    /* ifi_type: ARPHRD_ETHER, or a device without Ethernet headers */
	__u16 vlan_id; /* a VLAN device's IFLA_VLAN_ID */
	__be16 vlan_proto; /* ... and IFLA_VLAN_PROTOCOL (802.1Q, 802.1ad) */
	bool vlan_egress_qos; /* ... whose egress-qos-map gives a PCP */
	__u16 vlan_egress_pcp; /* ... to priorities 0, 2, 4, 6 (struct vlan_tx) */
	bool vlan_ingress_qos; /* ... whose ingress-qos-map gives a priority */
	/*
	 * A GRE, ip6gre, IPIP, SIT or ip6tnl device with one fixed unicast
	 * remote (IFLA_GRE_REMOTE, IFLA_IPTUN_REMOTE), not external
	 */
	bool tunnel_remote;
};

struct model_neigh {
	struct nexthop_addr addr;
	__u8 mac[FP_ETH_ALEN];
	bool has_mac;	/* kept when the entry is garbage-collected */
	bool failed;	/* the last resolution failed */
	bool is_static; /* NUD_PERMANENT or NUD_NOARP: never resolved */
};

struct model_nhobj {
	__u32 id;
	struct nexthop_addr gw; /* family 0: no gateway */
	__u32 *group;		/* member ids of a group */
	int n_group;
};

/* A route's identity: the kernel's (table, family, prefix, tos, metric). */
struct route_key {
	__u32 table;
	__u32 priority;
	__u8 family;
	__u8 dst_len;
	__u8 tos;
	__u8 pad;
	__be32 dst[4];
};

/* One path of a route: a gateway, or a nexthop object. */
struct route_path {
	__u32 nh_id;
	struct nexthop_addr gw;
};

/*
 * A route: one allocation, its paths as indexes into model.refs (a full
 * table is a million routes, and each path would otherwise be a 28-byte
 * copy of a gateway most routes share).
 */
struct model_route {
	struct model_route *next; /* hash chain */
	struct route_key key;
	__u16 n_paths;
	__u16 cap;
	bool prefsrc; /* IPv4, with a preferred source address */
	__u16 mtu;    /* the MTU forwarding uses (IPv4: locked), 0: the device's */
	__u32 ref[];  /* model.refs index of each path */
};

/* A path some routes use, and how many; count 0 is a free slot. */
struct refcount {
	struct nexthop_addr addr; /* or nh_id with family 0 */
	__u32 nh_id;
	__u32 count;
};

/*
 * How many routes with this MTU of their own use this path: each next
 * hop's MTU comes from these few, not from a walk of every route.
 */
struct path_mtu {
	__u32 ref; /* model.refs index */
	__u16 mtu;
	__u16 pad;
	__u32 routes;
};

struct model {
	struct model_link *links;
	int n_links;
	struct model_neigh *neighs;
	int n_neighs;
	int cap_neighs;
	int *neigh_head;	/* hash buckets: index + 1 of a chain's first, 0: none */
	int *neigh_next;	/* by index: index + 1 of the next in its chain */
	__u32 n_neigh_buckets;	/* a power of two, at least twice n_neighs */
	__u64 neighs_skipped;	/* not kept: past MODEL_MAX_NEIGHS */
	struct model_nhobj *nhobjs;
	int n_nhobjs;
	struct model_route **buckets;
	__u32 n_buckets;
	__u32 n_routes;
	struct refcount *refs; /* paths per gateway / nexthop object; stable indexes */
	int n_refs;
	__u32 n_prefsrc_routes; /* IPv4 routes with a preferred source */
	__u32 n_mtu_routes;	/* routes with an MTU of their own */
	struct path_mtu *path_mtus; /* their paths, one entry per (path, MTU) */
	int n_path_mtus;
	int cap_path_mtus;
	/*
	 * The kernel may have removed routes or nexthop objects of the model
	 * without a message (a link set down, removed, without carrier, or an
	 * IPv4 address removed): dump again.
	 */
	bool stale;
};

/*
 * Neighbours the model keeps besides gateways' (which it always keeps):
 * resolved entries, for a route that may come to use them. Entries the
 * kernel removes go, unless they are a gateway's (garbage collection of a
 * neighbour pinned traffic bypasses); unresolved ones are kept only for
 * gateways. A scan of a connected /64 therefore costs little.
 */
#define MODEL_MAX_NEIGHS (1 << 18)

int model_init(struct model *m);
void model_free(struct model *m);

/*
 * Apply one rtnetlink message (RTM_NEW/DEL LINK, NEIGH, NEXTHOP, ROUTE);
 * others are ignored. Returns 0, or -errno when out of memory or the
 * message is malformed.
 */
int model_apply(struct model *m, const struct nlmsghdr *nlh);

/* A link as the model knows it, or NULL. */
const struct model_link *model_link(const struct model *m, __u32 ifindex);
/* The link of this name, or NULL. */
const struct model_link *model_link_by_name(const struct model *m,
					    const char *name);
/* The link's L3 domain: its VRF's ifindex, or 0 outside any VRF. */
__u32 model_l3dom(const struct model *m, __u32 ifindex);
/*
 * Is the link an IP tunnel flowpin sends to: a GRE, IPIP, ip6tnl, ip6gre
 * or SIT device with one fixed unicast remote and not external
 * (collect_md), or a WireGuard device; no Ethernet headers? The others
 * (NBMA GRE, 6to4 or ISATAP SIT, an IPIP without remote) take the outer
 * header from a neighbour or from the route the kernel's forwarding
 * attaches, which a redirected packet lacks. Its next hops need no
 * neighbour (the kernel's are NUD_NOARP, made unannounced, and of a
 * point-to-point device keyed by no gateway): flowpin sends to them at
 * tc (ip_tunnels.c).
 */
bool model_link_ip_tunnel(const struct model_link *l);

/* The neighbour entry of a gateway, or NULL. */
const struct model_neigh *model_neigh(const struct model *m,
				      const struct nexthop_addr *a);

/*
 * A model rebuilt from a dump lacks the MACs of neighbour entries the
 * kernel garbage-collected (or is resolving again): take them from the
 * model it replaces and from the table (for a new daemon), unless the dump
 * says the neighbour failed.
 */
void model_keep_macs(struct model *fresh, const struct model *old,
		     const struct nexthop *cur, __u32 size);

/* One next hop the datapath should have. */
struct desired_nh {
	struct nexthop_addr addr;
	__u8 smac[FP_ETH_ALEN];
	__u8 dmac[FP_ETH_ALEN];
	bool routed;	/* a gateway of at least one route */
	bool usable;	/* link up, MAC known, neighbour not failed */
	__u16 mtu;	/* struct nexthop's: below the device's MTU, or 0 */
};

/* Every gateway the routes use, plus these extra addresses (table entries
 * that may have left every route). Returns the count, or -errno. */
int model_nexthops(const struct model *m, const struct nexthop_addr *extra,
		   int n_extra, struct desired_nh **out);

#endif /* FLOWPIN_MODEL_H */
