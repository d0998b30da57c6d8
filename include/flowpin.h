/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Everything the flowpin datapath and its userspace share: map keys and
 * values, counter indexes, next-hop states and limits. Both bpf/ and the
 * userspace programs include this file; nothing here is declared twice.
 *
 * Fixed-width types, explicit padding, no pointers.
 */
#ifndef FLOWPIN_H
#define FLOWPIN_H

#include <linux/types.h>
#include <stdbool.h>

/* Default capacities; userspace may resize the maps before loading. */
#ifndef FP_MAX_FLOWS
#define FP_MAX_FLOWS 262144 /* flow_pins: the authoritative pin table */
#endif
#ifndef FP_MAX_CACHED_FLOWS
#define FP_MAX_CACHED_FLOWS 65536 /* flow_cache: flows, all CPUs (flow_cache_per_cpu()) */
#endif
#ifndef FP_MAX_NEXTHOPS
#define FP_MAX_NEXTHOPS 4096
#endif
#ifndef FP_MAX_PORTS
#define FP_MAX_PORTS 256
#endif
/* IPv6 extension headers walked before giving up (XDP_PASS). */
#ifndef FP_MAX_IPV6_EXT
#define FP_MAX_IPV6_EXT 6
#endif

#define FP_ETH_ALEN 6

/* Address family as in AF_INET / AF_INET6, stored in one byte. */
#define FP_AF_INET 2
#define FP_AF_INET6 10

/*
 * A flow: family, protocol, addresses and ports as they appear on the
 * wire (network byte order). Protocols without ports, and every fragment
 * of a fragmented datagram, use port 0. IPv4 addresses sit in addr[0].
 */
struct flow_key {
	__u8 family;
	__u8 proto;
	__u16 l3dom;	/* the ingress port's VRF (its ifindex); 0: none */
	__be16 sport;
	__be16 dport;
	__be32 saddr[4];
	__be32 daddr[4];
};

/*
 * Where a flow is pinned: a next hop's id and the generation it had when
 * the pin was made. nh_id 0 is never a next hop: it reads as "no pin". And
 * the route epoch at which the kernel's routing last accepted the flow (the
 * drop rule): 0, never checked here (a peer's pin, say).
 *
 * Who made it and how, for the fleet's rule (pin sync, FP_RANK_*): router,
 * the router id of the peer whose pin it is (0: made here); rank, how and
 * when it was made. Forwarding reads neither: a CPU's copy in flow_cache
 * holds the first three fields only.
 */
struct flow_pin {
	__u32 nh_id;
	__u32 nh_gen;
	__u32 epoch;
	__u32 router;
	__u64 rank;
};

/*
 * The fleet's rule: of two pins of one flow, every router keeps the one of
 * lower rank, then of lower router id (0 reads as this router's own id),
 * then of lower gateway, whatever order they arrive in. The rank is the
 * CLOCK_TAI time the pin was made (bpf_ktime_get_tai_ns()), with
 * FP_RANK_MID_STREAM set when it was made from a TCP segment without SYN:
 * a pin made from a connection's first packet beats one made mid-stream,
 * then the earlier beats the later. Of other protocols the first packet
 * cannot be told: their pins rank by time alone. A mid-stream pin is
 * provisional: a peer's pin from the connection's first packet replaces it.
 */
#define FP_RANK_MID_STREAM (1ULL << 63)
#define FP_RANK_TIME(rank) ((rank) & ~FP_RANK_MID_STREAM)

/*
 * flow_cache: each CPU's copies of the pins it serves, a per-CPU array of
 * sets of FP_CACHE_WAYS slots (one cache line a slot). A flow's set is
 * flow_cache_hash() of its key, masked by the number of sets (a power of
 * two, flow_cache_sets()); a slot holds the whole key, compared on every
 * hit. A new copy goes into way 0 and moves what was there to way 1: the
 * older of two flows meeting in a set is the one that leaves.
 *
 * A CPU reads and writes only its own copies, without a lock: seq is odd
 * while the slot is being written, so a reader that came between (on this
 * CPU: a preempted test run, say) takes it for empty. family 0: an empty
 * slot. checked_ns: when the copy was last checked against flow_pins
 * (bpf_ktime_get_coarse_ns()); packets served from the cache do not touch
 * flow_pins, so its LRU would see busy flows as idle: the check refreshes
 * them there.
 */
#define FP_CACHE_WAYS 2
struct flow_cache_slot {
	struct flow_key key;
	__u32 nh_id;	/* the pin's first three fields (struct flow_pin) */
	__u32 nh_gen;
	__u32 epoch;
	__u32 seq;
	__u64 checked_ns;
};

struct flow_cache_set {
	struct flow_cache_slot way[FP_CACHE_WAYS];
};

/*
 * flow_cache_tags: beside each set of flow_cache, a 16-bit tag of each
 * way's key (flow_cache_tag(); 0: none), in an array of its own that stays
 * in the CPU's caches (8 bytes a set, 64 for the slots): a lookup whose
 * tags do not match, a new flow's, reads no slot. A hint only: the slot's
 * key decides.
 */
struct flow_cache_tags {
	__u16 tag[FP_CACHE_WAYS];
	__u32 pad;
};

/*
 * A flow's set: a multiply-xorshift hash of the key's ten words (the same
 * in the datapath and in flowpinctl), masked by the number of sets.
 */
static inline __attribute__((always_inline)) __u32
flow_cache_hash(const struct flow_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = 0x811c9dc5;

	for (unsigned int i = 0; i < sizeof(*k) / sizeof(*w); i++) {
		h = (h ^ w[i]) * 0x9e3779b1;
		h ^= h >> 15;
	}
	return h;
}

/* A key's tag in flow_cache_tags: hash bits the set index rarely uses. */
static inline __attribute__((always_inline)) __u16 flow_cache_tag(__u32 hash)
{
	return (hash >> 16) | 1;
}

/* Two keys alike, compared a word at a time without a branch per word. */
static inline __attribute__((always_inline)) bool
flow_key_eq(const struct flow_key *a, const struct flow_key *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;
	__u32 diff = 0;

	for (unsigned int i = 0; i < sizeof(*a) / sizeof(*x); i++)
		diff |= x[i] ^ y[i];
	return !diff;
}

/* Sets for about flows copies: a power of two, at least 1. */
static inline __u32 flow_cache_sets(__u32 flows)
{
	__u32 sets = 1;

	while (sets < flows / FP_CACHE_WAYS && sets < 1U << 30)
		sets <<= 1;
	return sets;
}

/*
 * route_epoch map (one entry, written by flowpind only): bumped on every
 * change that can make the kernel stop forwarding a flow it forwarded (a
 * route of a non-unicast type added or replaced, a unicast route deleted,
 * a rule or an address added or removed, forwarding turned off, a blackhole
 * nexthop object, a full dump). A pin whose epoch is the current one was
 * accepted by the kernel's routing since the last such change: the
 * datapath asks the FIB again only when the epoch moved. 0: no flowpind,
 * and then pins are checked every cache_check_ns instead.
 */
struct route_epoch {
	__u32 epoch;
	__u32 flags; /* FP_EPOCH_* */
};

/*
 * Some IPv6 table holds a throw route. bpf_fib_lookup() answers NOT_FWDED
 * for a flow that meets one behind a rule, where the kernel's own lookup
 * goes on to the next rule: the datapath then asks the main table.
 */
#define FP_EPOCH_V6_THROW 0x1

/*
 * The epoch is trusted while flowpind's heartbeat (once a second) is this
 * recent; past it, cached pins are checked every cache_check_ns again.
 */
#define FP_EPOCH_TRUST_NS 3000000000ULL
/*
 * Under route churn a flow is asked again at most this often per CPU: a
 * reject stops it within this much of its bump.
 */
#define FP_RECHECK_MIN_NS 10000000ULL /* 10 ms */

/*
 * A per-CPU token bucket. pin_budget: new pins (a flood of new flows may
 * not evict the pins of established ones: above the rate, new flows are
 * forwarded without a pin). too_big_budget: the "fragmentation needed" /
 * "packet too big" errors flowpin sends itself (as the kernel's
 * icmp_msgs_per_sec and icmp_msgs_burst limit its own).
 */
struct token_bucket {
	__u64 tokens;
	__u64 refilled_ns; /* bpf_ktime_get_ns() the tokens were counted up to */
};

#ifndef FP_TOO_BIG_RATE
#define FP_TOO_BIG_RATE 1000 /* errors per second and CPU; 0: no limit */
#endif
#define FP_TOO_BIG_BURST 50

/*
 * pin_turnover map (one entry, shared by every CPU): new pins made in the
 * current window. However many CPUs a flood of new flows arrives on, the
 * pin table turns over no faster than max_flows per --min-pin-age: a pin
 * lives at least that long before a flood can evict it.
 */
struct pin_turnover {
	__u64 start_ns; /* bpf_ktime_get_ns() at the window's start */
	__u64 count;	/* pins made in it, by every CPU */
};

#define FP_TURNOVER_WINDOW_NS 100000000ULL /* 100 ms */

/* New pins a window allows at pins_per_s: at least 1. */
static inline __u64 fp_turnover_budget(__u64 pins_per_s)
{
	__u64 budget = pins_per_s * FP_TURNOVER_WINDOW_NS / 1000000000ULL;

	return budget ?: 1;
}

/*
 * The turnover rule, for the datapath's new pins and flowpind's pins from
 * peers alike: count one new pin in w's window; false when the window's
 * budget is spent. start is w->start_ns read before now, the clock
 * (CLOCK_MONOTONIC, the datapath's bpf_ktime_get_ns()): read after it, now
 * is never before a start another writer set, whose underflow would open
 * a window again. The first to see a window end starts the next (a
 * compare-and-swap, so only one does); a pin counted across that reset is
 * at worst one too many or too few.
 */
static inline __attribute__((always_inline)) bool
fp_turnover_count(struct pin_turnover *w, __u64 start, __u64 now,
		  __u64 budget)
{
	if ((__s64)(now - start) >= (__s64)FP_TURNOVER_WINDOW_NS &&
	    __sync_val_compare_and_swap(&w->start_ns, start, now) == start)
		w->count = 0;
	return __sync_fetch_and_add(&w->count, 1) < budget;
}

/*
 * heartbeat map (one entry, a __u64): CLOCK_MONOTONIC ns (the datapath's
 * bpf_ktime_get_ns()) of flowpind's last beat, once a second. When it is
 * older than this, the control plane is gone: new flows go to the kernel
 * unpinned, since the next-hop table may be stale. 0 in the map: no beat
 * yet (a datapath loaded by a test, say), so no judgement.
 */
#ifndef FP_DAEMON_SILENT_S
#define FP_DAEMON_SILENT_S 30
#endif
#ifndef FP_MIN_PIN_AGE
#define FP_MIN_PIN_AGE 10 /* seconds; 0: no shared limit */
#endif

#ifndef FP_PIN_RATE
#define FP_PIN_RATE 100000 /* new pins per second and CPU; 0: no limit */
#endif
#ifndef FP_PIN_BURST
#define FP_PIN_BURST 10000
#endif

#ifndef FP_CACHE_CHECK_NS
#define FP_CACHE_CHECK_NS 1000000000ULL
#endif

/* Next-hop states, written by the control plane. */
enum nexthop_state {
	NH_UNUSED = 0,	 /* free slot */
	NH_ACTIVE = 1,	 /* in at least one route, neighbour and link usable */
	NH_WITHDRAWN = 2, /* in no route any more, still reachable */
	NH_DEAD = 3,	 /* neighbour failed, link down or device gone */
};

/* What pinned flows do when their next hop leaves every route. */
enum withdrawn_policy {
	FP_WITHDRAWN_DRAIN = 0, /* keep using it while it is reachable */
	FP_WITHDRAWN_REPIN = 1, /* resolve the flow again at once */
};

/*
 * May a pin to a next hop in this state carry its flow under this policy?
 * The datapath asks it of every pin; flowpind of a peer's pin and of the
 * pin a flow already has. A macro: the datapath's policy is a load-time
 * constant, read only when the state is NH_WITHDRAWN.
 */
#define FP_NEXTHOP_USABLE(state, policy)                                       \
	((state) == NH_ACTIVE ||                                               \
	 ((state) == NH_WITHDRAWN && (policy) == FP_WITHDRAWN_DRAIN))

/*
 * How a flow gets its pin, in the datapath and in flowpind alike (del and
 * update: the BPF helpers on the map, or libbpf's on its fd). An LRU insert
 * takes a free element before it looks for the key, evicting another
 * flow's pin when none is free: so a stale pin is deleted first and its
 * element is the one the insert takes, and an insert never replaces a pin
 * made meanwhile (BPF_NOEXIST). 0 when this pin went in.
 */
#define FP_PIN_INSERT(del, update, map, key, pin, stale)                       \
	({                                                                     \
		if (stale)                                                     \
			del(map, key);                                         \
		update(map, key, pin, BPF_NOEXIST);                            \
	})

/* One next hop as the datapath uses it. */
struct nexthop {
	__u32 ifindex;		/* egress device */
	__u32 gen;		/* bumped when the next hop dies or its id is reused */
	__u8 family;		/* FP_AF_INET or FP_AF_INET6 */
	__u8 state;		/* enum nexthop_state */
	__u8 dmac[FP_ETH_ALEN]; /* neighbour's MAC */
	__u8 smac[FP_ETH_ALEN]; /* egress device's MAC */
	/*
	 * The path's MTU where it is below the egress device's: the smallest
	 * MTU of the routes through this next hop (IPv4: locked ones, as the
	 * kernel's forwarding counts them). 0: the device's.
	 */
	__u16 mtu;
	__be32 gw[4];		/* gateway address; IPv4 in gw[0] */
};

/*
 * nexthops map (an array indexed by next-hop id, id 0 unused): two copies
 * of the next hop and the index of the one in use. The writer fills the
 * copy not in use, then flips live, then waits for an RCU grace period
 * before it may write again, so a packet never reads a copy being written.
 * A map update rewrites every byte of the value, but bytes it does not
 * change are written with the values they already hold.
 */
struct nexthop_entry {
	__u8 live; /* 0 or 1: which slot the datapath reads */
	__u8 pad[3];
	struct nexthop slot[2];
};

/*
 * port_macs map: each port's own MAC, by ifindex. XDP runs before the
 * kernel drops frames addressed to other hosts (PACKET_OTHERHOST), which a
 * port in promiscuous mode receives: flowpin hands those to the kernel.
 * And the port's L3 domain: two VRFs may carry flows with one 5-tuple, and
 * route them to different gateways.
 */
struct port_mac {
	__u8 mac[FP_ETH_ALEN];
	__u16 l3dom; /* the port's VRF (its ifindex), 0: none; goes in the key */
};

/*
 * vlan_rx map: which VLAN sub-interface a tagged frame on a port belongs
 * to (its L3 ingress: the FIB is asked with its ifindex, port_macs holds
 * its MAC and L3 domain). Key: the port, the tag's protocol (802.1Q or
 * 802.1ad, network order) and VID; value: the sub-interface's ifindex.
 * vlan_tx map: the sub-interfaces flowpin sends to, ifindex -> struct
 * vlan_tx. tc redirects to the VLAN device, which puts its tag on and hands
 * the frame to its port; XDP rewrites the tag a tagged frame came with (a
 * VLAN device has no XDP transmit) and sends it to the port. Both written
 * by flowpind.
 */
#define FP_MAX_VLANS 4096
/*
 * bond_members map: a bond's members, whose received frames XDP sees with
 * the member's ifindex (the bond puts its program on each), -> the bond's
 * ifindex, the port. Written by flowpind.
 */
#define FP_MAX_BOND_MEMBERS 1024
/*
 * ip_tunnel_tx map: the IP tunnels (GRE, IPIP, ip6tnl, ip6gre, SIT with
 * one fixed remote, WireGuard: devices without Ethernet headers) that are
 * up, which flowpin sends to at tc, ifindex -> the same ifindex. bpf_redirect() into one takes the frame's
 * Ethernet header off, as the kernel's forwarding hands such a device the
 * IP packet, and the device encapsulates. XDP has no way into them: their
 * next hops stay the kernel's there. Written by flowpind, from its model
 * of the namespace's links.
 */
#define FP_MAX_IP_TUNNELS 1024
struct vlan_key {
	__u32 ifindex;
	__be16 proto;
	__u16 vid;
};

struct vlan_tx {
	__u32 port;	/* the sub-interface's lower device: a port */
	__be16 proto;	/* its tag's protocol, network order */
	__u16 vid;
	/*
	 * The PCP its egress-qos-map gives the priorities the kernel's IPv4
	 * forwarding sets from the TOS (TC_PRIO_BESTEFFORT 0, BULK 2,
	 * INTERACTIVE_BULK 4, INTERACTIVE 6), a nibble each, priority p's at
	 * bit 2 * p; priority 0's is also an IPv6 packet's (forwarding keeps
	 * the priority it came with, 0 from a port).
	 */
	__u16 egress_pcp;
	__u8 egress_qos;  /* its egress-qos-map gives some priority a PCP */
	/*
	 * Its ingress-qos-map gives some PCP a priority: an IPv6 packet that
	 * came by it keeps that priority, which egress_pcp does not cover.
	 */
	__u8 ingress_qos;
};

/* nexthop_index map: what bpf_fib_lookup() answers -> the next hop's id. */
struct nexthop_addr {
	__u32 ifindex;
	__u8 family;
	__u8 pad[3];
	__be32 gw[4];
};

/*
 * daemon_status map (one entry, key 0): what flowpind last said of itself,
 * for flowpinctl and bpftool. The datapath never reads it.
 */
struct daemon_status {
	__u32 layout;		/* FP_LAYOUT of the daemon that pinned the maps */
	__u32 pid;		/* 0 when the daemon stopped cleanly */
	__u64 obj_hash;		/* hash of the BPF object it attached */
	__u32 withdrawn_policy; /* enum withdrawn_policy in force */
	__u32 pad;
	__u64 started_s;	/* CLOCK_REALTIME seconds of the daemon's start */
	__u64 dumped_s;		/* CLOCK_REALTIME seconds of the last full dump */
	__u32 xdp_mode;		/* enum xdp_attach_mode of libxdp, or FP_MODE_TC */
	__u32 redumps;		/* full dumps again after lost netlink events */
};

/*
 * pin_events ring buffer (written only when flowpind syncs pins with peers):
 * one record per pin the datapath made, for flowpind to send to its peers.
 * Big enough for FP_PIN_EVENTS_BYTES / FP_PIN_EVENT_RECORD pins between two
 * reads of the daemon.
 */
struct pin_event {
	struct flow_key key;
	struct flow_pin pin;
};
#define FP_PIN_EVENTS_BYTES (1U << 20)
/* a record in the ring: its 8-byte header and the event, 8-byte aligned */
#define FP_PIN_EVENT_RECORD (8 + ((sizeof(struct pin_event) + 7) & ~7UL))
#define FP_PIN_EVENTS_READ_MS 10 /* flowpind reads the ring this often */

/*
 * pin_touch (bpf/pin_touch.bpf.c): the keys of pins peers sent, looked up
 * from a BPF program so flow_pins' LRU counts them used. flowpind writes up
 * to FP_TOUCH_MAX keys into the program's touch_keys, then runs it with
 * these arguments (its context); found: how many were in flow_pins.
 */
#define FP_TOUCH_MAX 1024
struct pin_touch_args {
	__u32 n;
	__u32 found;
};

/*
 * sync_peers map (an array, written by flowpind only): the state of pin
 * sync, for flowpinctl peers and bpftool. Entry 0 is this router (its
 * listening address; drops of datagrams from no peer), 1..FP_MAX_PEERS-1
 * its peers in the order given. An entry with family 0 is unused.
 */
#define FP_MAX_PEERS 17
#define FP_SYNC_PORT 7430 /* the default UDP port of pin sync */

enum sync_peer_state {
	FP_PEER_UNUSED = 0,
	FP_PEER_SELF,	 /* entry 0: this router */
	FP_PEER_WAITING, /* no valid message from it yet (or since its restart) */
	FP_PEER_BULK,	 /* its bulk sync of all pins is under way */
	FP_PEER_UP,	 /* in sync: new pins flow both ways */
	FP_PEER_DOWN,	 /* silent for FP_PEER_DOWN_S: nothing sent but hellos */
};

/* Datagrams dropped, by reason. */
enum sync_drop {
	FP_DROP_SHORT = 0, /* shorter than a header and its MAC */
	FP_DROP_LONG,	   /* longer than the largest message */
	FP_DROP_VERSION,   /* another magic or protocol version */
	FP_DROP_MALFORMED, /* length or fields that do not add up */
	FP_DROP_AUTH,	   /* MAC does not verify: forged, or another key */
	FP_DROP_REPLAY,	   /* sequence already seen, or of an older start */
	FP_DROP_CLOCK,	   /* sent too long ago, or from too far ahead */
	FP_DROP_UNKNOWN,   /* from an address that is not a peer */
	FP_DROP_MAX,
};

/* Received pins not applied, by reason. */
enum sync_skip {
	FP_SKIP_HAVE = 0, /* the flow has this pin here already: they agree */
	FP_SKIP_GATEWAY,  /* no next hop here with that gateway on a port */
	FP_SKIP_UNUSABLE, /* that next hop is not usable under --withdrawn */
	FP_SKIP_FULL,	  /* the map refused it */
	FP_SKIP_BUDGET,	  /* the turnover budget (--min-pin-age) is spent */
	FP_SKIP_BETTER,	  /* the flow has another pin here the rule prefers: a conflict */
	FP_SKIP_MAX,
};

struct sync_peer_status {
	__u8 family;	/* FP_AF_INET or FP_AF_INET6; 0: unused entry */
	__u8 state;	/* enum sync_peer_state */
	__u16 port;	/* host byte order */
	__be32 addr[4];
	__u64 last_rx_s;	/* CLOCK_REALTIME seconds of its last valid message */
	__u64 msgs_sent;
	__u64 msgs_received;
	__u64 pins_sent;
	__u64 pins_received;
	__u64 pins_applied;
	__u64 resends;
	__u64 queue_drops;	/* pins not sent: its queue was full */
	__u64 bulk_pins;	/* pins of its last bulk sync, received */
	__u64 drops[FP_DROP_MAX];
	__u64 skips[FP_SKIP_MAX];
	/*
	 * This router's run (entry 0), kept across restarts so the next run's
	 * never goes back; a peer's, as its messages say.
	 */
	__u64 epoch;
	/*
	 * Its pins that replaced another usable pin here, which the rule
	 * (FP_RANK_*) put behind them: conflicts it won. Those it lost are
	 * skips[FP_SKIP_BETTER].
	 */
	__u64 pins_replaced;
	__u32 router;	/* the router id: this router's (entry 0); a peer's, as its messages say */
	/* convergence, as of the last write (each second): */
	__u32 queued;	/* pins waiting for room in the window */
	__u32 inflight;	/* messages sent and not acked */
	__u32 lag_ms;	/* how long the oldest of them has waited for its ack */
	__u32 rtt_us;	/* the smoothed round trip to its acks; 0: none measured */
	__u32 pad;
	/*
	 * The pins it made and holds, as its hellos say (this router's,
	 * entry 0: at its last count, every 10 s); 0: not counted yet.
	 */
	__u64 pins_made;
	/*
	 * Pins of flows this router forwards, sent to it again (refresh: its
	 * LRU keeps them used while the flow lives here)
	 */
	__u64 pins_refreshed;
	/*
	 * Repair (anti-entropy): digests of its pins held here, sent to it;
	 * its digests of ours, answered; the ranges of ours they found
	 * different; pins sent to it by repairs (ours of those ranges, and
	 * its own held here where its differed)
	 */
	__u64 digests_sent;
	__u64 digests_answered;
	__u64 ranges_repaired;
	__u64 pins_repaired;
};

/*
 * Bumped whenever a map's key or value changes meaning: a daemon refuses
 * pinned maps of another layout rather than mix them.
 */
#define FP_LAYOUT 5 /* 2: flow_pin carries the route epoch; 3: flow_cache is an array;
		     * 4: pin_turnover is mmapable, a peer's skips count the budget;
		     * 5: flow_pin carries its router and rank (the fleet's rule) */

/*
 * Where the program runs on a port besides libxdp's XDP modes (1 native,
 * 2 skb, 3 hw): tc ingress, as a direct-action filter on the clsact qdisc
 * with this handle and priority.
 */
#define FP_MODE_TC 4
#define FP_TC_HANDLE 0xf10f
#define FP_TC_PRIORITY 1

/* The programs' names, as bpftool and libxdp show them. */
#define FP_PROG_XDP "flowpin"
#define FP_PROG_TC "flowpin_tc"

#ifndef __bpf__
#include <string.h>

/*
 * The words flowpind, flowpinctl and their pages use for states, policies
 * and modes: one table each.
 */
static inline const char *fp_nexthop_state_name(__u8 state)
{
	static const char *const names[] = {
		[NH_UNUSED] = "unused",
		[NH_ACTIVE] = "active",
		[NH_WITHDRAWN] = "withdrawn",
		[NH_DEAD] = "dead",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] :
							  "invalid";
}

static inline const char *fp_withdrawn_policy_name(__u32 policy)
{
	return policy == FP_WITHDRAWN_DRAIN ? "drain" :
	       policy == FP_WITHDRAWN_REPIN ? "repin" : "unknown";
}

/* By libxdp's enum xdp_attach_mode (0 is auto's), then FP_MODE_TC. */
static const char *const fp_mode_names[] = { "auto", "native", "skb", "hw",
					     "tc" };

static inline const char *fp_mode_name(__u32 mode)
{
	return mode < sizeof(fp_mode_names) / sizeof(fp_mode_names[0]) ?
		       fp_mode_names[mode] : "unknown";
}

/* A mode flowpind attaches in, by name (auto, native, skb, tc): 0 or -1. */
static inline int fp_mode_parse(const char *name, __u32 *mode)
{
	for (__u32 m = 0; m < sizeof(fp_mode_names) / sizeof(fp_mode_names[0]); m++) {
		if (m != 3 /* hw: never */ && !strcmp(name, fp_mode_names[m])) {
			*mode = m;
			return 0;
		}
	}
	return -1;
}
#endif /* !__bpf__ */

/* Default pin path: every map is pinned there under its own name. */
#define FP_PIN_PATH "/sys/fs/bpf/flowpin"

/*
 * Counters, one slot each in the per-CPU stats array. The FP_PASS_* block
 * counts packets handed to the kernel (XDP_PASS), by reason.
 */
enum fp_stat {
	FP_STAT_PACKETS = 0,	 /* every packet the program saw */
	FP_STAT_CACHE_HIT,	 /* pin found in this CPU's flow_cache */
	FP_STAT_PIN_HIT,	 /* pin found in the shared flow_pins */
	FP_STAT_PIN_NEW,	 /* flow pinned after a FIB lookup */
	FP_STAT_PIN_STALE,	 /* pin whose next hop was invalidated, resolved again */
	FP_STAT_LOST_PIN,	 /* TCP without SYN that found no pin */
	FP_STAT_ICMP_ERR_PINNED, /* ICMP error sent along its flow's pin */
	FP_STAT_UNPINNED_RATE,	 /* new flow forwarded unpinned: pin rate exceeded */
	FP_STAT_FORWARDED,	 /* XDP_REDIRECT returned */
	FP_STAT_REDIRECT_FAIL,	 /* bpf_redirect_map() refused: port not in tx_ports */
	FP_STAT_TOO_BIG_ICMP,	 /* pinned packet too big for its path: ICMP error sent back */
	FP_STAT_TOO_BIG_DROP,	 /* pinned packet too big for its path, no error possible: dropped */
	FP_STAT_PIN_EVENT_LOST,	 /* new pin that pin_events had no room for: peers not told */
	FP_STAT_RECHECK,	 /* pinned flow asked of the FIB again: the route epoch moved */
	FP_STAT_PIN_REJECTED,	 /* pin removed: the kernel's routing now refuses the flow */
	FP_STAT_TOO_BIG_RATE,	 /* pinned packet too big: error not sent, over too_big_rate */
	FP_PASS_NON_IP,		 /* ARP and every other non-IP ethertype */
	FP_PASS_VLAN,		 /* 802.1Q / 802.1ad tagged */
	FP_PASS_MULTICAST,	 /* broadcast or multicast MAC or address */
	FP_PASS_OTHER_HOST,	 /* not addressed to the port's MAC */
	FP_PASS_TTL,		 /* TTL or hop limit <= 1 */
	FP_PASS_MALFORMED,	 /* truncated or invalid headers */
	FP_PASS_IP_OPTIONS,	 /* IPv4 options or IPv6 hop-by-hop: the kernel's */
	FP_PASS_MARTIAN,	 /* loopback, unspecified, link-local or group addresses */
	FP_PASS_MTU,	 /* pinned flow, frame larger than egress MTU */
	FP_PASS_FIB_BLACKHOLE,
	FP_PASS_FIB_UNREACHABLE,
	FP_PASS_FIB_PROHIBIT,
	FP_PASS_FIB_NOT_FWDED, /* local destination, or not unicast */
	FP_PASS_FIB_FWD_DISABLED,
	FP_PASS_FIB_UNSUPP_LWT,
	FP_PASS_FIB_NO_NEIGH,
	FP_PASS_FIB_FRAG_NEEDED,
	FP_PASS_FIB_NO_SRC_ADDR,
	FP_PASS_FIB_OTHER,	  /* an answer this build does not know */
	FP_PASS_NEXTHOP_UNKNOWN,  /* FIB's next hop is not in nexthops */
	FP_PASS_NEXTHOP_NOT_READY, /* known, but not NH_ACTIVE */
	FP_PASS_NO_TX_PORT,	  /* egress device not in tx_ports */
	FP_PASS_ICMP_ERR_UNPINNED, /* ICMP error whose flow has no pin */
	FP_PASS_ICMP_ERR_UNCHECKED, /* ICMP error whose flow's pin awaits the drop rule's check */
	FP_PASS_DAEMON_SILENT,	  /* new flow while flowpind is silent: not pinned */
	FP_PASS_GSO_ENCAP,	  /* tc: GSO skb of another protocol than TCP or UDP (IPIP, GRE) */
	FP_PASS_VLAN_RETAG,	  /* XDP: its egress needs a tag pushed or popped; an IPv6 packet from a VLAN with an ingress-qos-map to one with an egress-qos-map */
	FP_STAT_MAX,
};

#define FP_STAT_NAMES                                                          \
	[FP_STAT_PACKETS] = "packets",                                         \
	[FP_STAT_CACHE_HIT] = "cache_hit",                                     \
	[FP_STAT_PIN_HIT] = "pin_hit",                                         \
	[FP_STAT_PIN_NEW] = "pin_new",                                         \
	[FP_STAT_PIN_STALE] = "pin_stale",                                     \
	[FP_STAT_LOST_PIN] = "lost_pin",                                       \
	[FP_STAT_ICMP_ERR_PINNED] = "icmp_error_pinned",                       \
	[FP_STAT_UNPINNED_RATE] = "unpinned_rate_limited",                     \
	[FP_STAT_FORWARDED] = "forwarded",                                     \
	[FP_STAT_REDIRECT_FAIL] = "redirect_fail",                             \
	[FP_STAT_TOO_BIG_ICMP] = "too_big_icmp",                               \
	[FP_STAT_TOO_BIG_DROP] = "too_big_drop",                               \
	[FP_STAT_PIN_EVENT_LOST] = "pin_event_lost",                           \
	[FP_STAT_RECHECK] = "recheck",                                         \
	[FP_STAT_PIN_REJECTED] = "pin_rejected",                               \
	[FP_STAT_TOO_BIG_RATE] = "too_big_rate_limited",                       \
	[FP_PASS_NON_IP] = "pass_non_ip",                                      \
	[FP_PASS_VLAN] = "pass_vlan",                                          \
	[FP_PASS_MULTICAST] = "pass_multicast",                                \
	[FP_PASS_OTHER_HOST] = "pass_other_host",                              \
	[FP_PASS_TTL] = "pass_ttl",                                            \
	[FP_PASS_MALFORMED] = "pass_malformed",                                \
	[FP_PASS_IP_OPTIONS] = "pass_ip_options",                              \
	[FP_PASS_MARTIAN] = "pass_martian",                                    \
	[FP_PASS_MTU] = "pass_mtu",                                   \
	[FP_PASS_FIB_BLACKHOLE] = "pass_fib_blackhole",                        \
	[FP_PASS_FIB_UNREACHABLE] = "pass_fib_unreachable",                    \
	[FP_PASS_FIB_PROHIBIT] = "pass_fib_prohibit",                          \
	[FP_PASS_FIB_NOT_FWDED] = "pass_fib_not_forwarded",                    \
	[FP_PASS_FIB_FWD_DISABLED] = "pass_fib_forwarding_disabled",           \
	[FP_PASS_FIB_UNSUPP_LWT] = "pass_fib_unsupported_lwt",                 \
	[FP_PASS_FIB_NO_NEIGH] = "pass_fib_no_neighbour",                      \
	[FP_PASS_FIB_FRAG_NEEDED] = "pass_fib_frag_needed",                    \
	[FP_PASS_FIB_NO_SRC_ADDR] = "pass_fib_no_src_addr",                    \
	[FP_PASS_FIB_OTHER] = "pass_fib_other",                                \
	[FP_PASS_NEXTHOP_UNKNOWN] = "pass_nexthop_unknown",                    \
	[FP_PASS_NEXTHOP_NOT_READY] = "pass_nexthop_not_ready",                \
	[FP_PASS_NO_TX_PORT] = "pass_no_tx_port",                              \
	[FP_PASS_ICMP_ERR_UNPINNED] = "pass_icmp_error_unpinned",            \
	[FP_PASS_ICMP_ERR_UNCHECKED] = "pass_icmp_error_unchecked",          \
	[FP_PASS_DAEMON_SILENT] = "pass_daemon_silent",                        \
	[FP_PASS_GSO_ENCAP] = "pass_gso_encapsulated",                         \
	[FP_PASS_VLAN_RETAG] = "pass_vlan_retag",

#endif /* FLOWPIN_H */
