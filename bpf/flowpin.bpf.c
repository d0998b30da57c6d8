// SPDX-License-Identifier: GPL-2.0
/*
 * flowpin: forward each flow to the next hop it was first given.
 *
 * parse -> pin lookup (this CPU's flow_cache, then the shared flow_pins)
 * -> on a miss, bpf_fib_lookup() and a new pin -> rewrite and redirect.
 * Anything else goes to the kernel with XDP_PASS, counted by reason.
 *
 * Two entry points run the same code: flowpin at XDP (native or generic),
 * flowpin_tc at tc ingress, on the kernel's skb. The tc one keeps what an
 * skb carries and an XDP frame loses: GSO (a 64 kB TCP segment is checked
 * and forwarded whole, segmented on the way out) and checksums left to the
 * hardware (CHECKSUM_PARTIAL, which veth peers send). Internally both speak
 * XDP verdicts; flowpin_tc turns them into tc's.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "flowpin.h"
#include "maps.h"
#include "parse.h"
#include "too_big.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#define IPV6_FLOWINFO_MASK bpf_htonl(0x0FFFFFFF)
#define TCP_FLAG_SYN 0x02
/*
 * tc: a nonlinear skb whose linear part is shorter than TC_LINEAR_MIN
 * (Ethernet, an ICMPv6 error and the IPv6 header and ports it quotes, the
 * longest that holds no extension header) is pulled up to TC_PULL_LEN
 * first; others are parsed as they are. Deeper headers (long IPv6
 * extension chains) in a paged skb are passed.
 */
#define TC_LINEAR_MIN (14 + 40 + 8 + 40 + 8) /* an ICMPv6 error's quote */
#define TC_PULL_LEN 256

/* Where the program runs. Constant per entry point once inlined. */
struct hook {
	void *ctx;	/* struct xdp_md, or struct __sk_buff at tc */
	__u32 ifindex;	/* the port the packet came in on */
	bool skb;	/* tc: an skb, maybe GSO, maybe CHECKSUM_COMPLETE */
	__u32 gso_size;	/* tc, GSO: payload bytes per segment */
	bool vlan_tag;	/* tc: the kernel took an 802.1Q/802.1ad tag into the skb, */
	__be16 vlan_proto; /* ... of this protocol */
	__u16 vlan_tci;	   /* ... and this VID and priority */
};

/*
 * The L3 length the MTU must hold: a GSO packet's segments', or 0 for the
 * frame as it is.
 */
static __always_inline __u32 seg_l3_len(const struct hook *h,
					const struct packet *pkt)
{
	return h->gso_size ? pkt->hdr_len + h->gso_size : 0;
}

/* Load-time settings, written by the loader between open and load. */
const volatile __u32 withdrawn_policy = FP_WITHDRAWN_DRAIN;
const volatile __u64 cache_check_ns = FP_CACHE_CHECK_NS;
const volatile __u64 pin_rate = FP_PIN_RATE;   /* per second and CPU; 0: no limit */
const volatile __u64 pin_burst = FP_PIN_BURST;
const volatile __u64 pins_per_s = 0; /* all CPUs together; 0: no limit */
const volatile __u64 daemon_silent_ns = 0; /* new flows to the kernel after; 0: never */
const volatile bool sync_pins = false; /* tell flowpind of new pins (pin_events) */
const volatile __u64 too_big_rate = FP_TOO_BIG_RATE; /* per second and CPU; 0: no limit */
const volatile __u64 too_big_burst = FP_TOO_BIG_BURST;
/* flow_cache's sets a CPU (a power of two), set with its size (flow_cache_size()) */
const volatile __u32 cache_sets = FP_MAX_CACHED_FLOWS / FP_CACHE_WAYS;

#define NSEC_PER_SEC 1000000000ULL

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *cnt = bpf_map_lookup_elem(&stats, &idx);

	if (cnt)
		*cnt += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline bool addr_eq(const __be32 *a, const __be32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/*
 * Is the frame addressed to its L3 ingress (the port, or the VLAN
 * sub-interface of its tag)? Unknown: no. When it is, the flow's keys take
 * that device's L3 domain (VRF). A frame a bond's member received, where
 * XDP runs with the member's ifindex, is the bond's (bond_members): looked
 * up only when the ingress is no port of its own.
 */
static __always_inline bool for_this_port(struct packet *pkt)
{
	__u32 ifindex = pkt->l3_ifindex, *bond;
	const struct port_mac *p = bpf_map_lookup_elem(&port_macs, &ifindex);

	if (!p) {
		bond = bpf_map_lookup_elem(&bond_members, &ifindex);
		if (!bond)
			return false;
		ifindex = *bond;
		p = bpf_map_lookup_elem(&port_macs, &ifindex);
		if (!p)
			return false;
		pkt->l3_ifindex = ifindex;
	}
	for (int i = 0; i < FP_ETH_ALEN; i++)
		if (p->mac[i] != pkt->eth->h_dest[i])
			return false;
	pkt->key.l3dom = p->l3dom;
	pkt->inner_key.l3dom = p->l3dom;
	return true;
}

/*
 * The priority the kernel's IPv4 forwarding gives a packet (ip_forward():
 * rt_tos2priority(), the ip_tos2prio table by TOS bits): TC_PRIO_* of the
 * four TOS classes, a nibble each: best effort 0, bulk 2, interactive 6,
 * interactive bulk 4 (a static table would be a .rodata variable clang 14
 * gives a BTF offset the kernel refuses).
 */
static __always_inline __u32 tos_priority(__u8 tos)
{
	return (0x4620 >> (((tos & 0x1E) >> 3) * 4)) & 0xf;
}

/*
 * The PCP the kernel's VLAN device vlan would give this packet's tag: its
 * egress-qos-map's for the packet's priority, which IPv4 forwarding sets
 * from the TOS and IPv6 forwarding keeps (0, unless the VLAN it came by
 * has an ingress-qos-map). -1 for that last case, which vlan_tx does not
 * cover.
 */
static __always_inline int vlan_pcp(const struct packet *pkt,
				    const struct vlan_tx *vlan)
{
	const struct vlan_tx *in;

	if (!vlan->egress_qos)
		return 0;
	if (pkt->ip4)
		return (vlan->egress_pcp >> (tos_priority(pkt->ip4->tos) * 2)) & 7;
	in = bpf_map_lookup_elem(&vlan_tx, &pkt->l3_ifindex);
	if (in && in->ingress_qos)
		return -1;
	return vlan->egress_pcp & 7;
}

/*
 * Can this entry point send the packet to ifindex? XDP: one of tx_ports,
 * the ports. tc: also a VLAN sub-interface of one (vlan_tx), whose device
 * puts the tag on, when the PCP it writes is the kernel's (vlan_pcp(); pkt
 * NULL: an error of flowpin's own, priority 0 as the kernel's), and an IP
 * tunnel (ip_tunnel_tx). (XDP sends to a sub-interface only by rewriting the
 * tag a frame came with: forward().)
 */
static __always_inline bool can_send(const struct hook *h,
				     const struct packet *pkt, __u32 ifindex)
{
	const struct vlan_tx *vlan;

	if (bpf_map_lookup_elem(&tx_ports, &ifindex))
		return true;
	if (!h->skb)
		return false;
	vlan = bpf_map_lookup_elem(&vlan_tx, &ifindex);
	if (!vlan)
		return bpf_map_lookup_elem(&ip_tunnel_tx, &ifindex);
	return !pkt || vlan_pcp(pkt, vlan) >= 0;
}

/*
 * Can this packet leave by ifindex? 0, or why not: can_send(), and at XDP
 * a frame that came tagged leaves only by a VLAN sub-interface whose tag
 * forward() can write in place of its own, an untagged one only by a port;
 * tc: an IP tunnel too. Either hook: by a VLAN, only with the PCP the
 * kernel would give it.
 */
static __always_inline __u32 cannot_send(const struct hook *h,
					 const struct packet *pkt,
					 __u32 ifindex)
{
	bool untagged = h->skb || !pkt->tag_in_frame;
	const struct vlan_tx *vlan;

	if (untagged && bpf_map_lookup_elem(&tx_ports, &ifindex))
		return 0;
	vlan = bpf_map_lookup_elem(&vlan_tx, &ifindex);
	if (!vlan) {
		if (!untagged)
			return bpf_map_lookup_elem(&tx_ports, &ifindex) ?
				       FP_PASS_VLAN_RETAG : /* a tag to pop */
				       FP_PASS_NO_TX_PORT;
		return h->skb && bpf_map_lookup_elem(&ip_tunnel_tx, &ifindex) ?
			       0 : FP_PASS_NO_TX_PORT;
	}
	if (vlan_pcp(pkt, vlan) < 0 || !(h->skb || pkt->tag_in_frame))
		return FP_PASS_VLAN_RETAG; /* a PCP it cannot tell, a tag to push */
	return 0;
}

static __always_inline int pass(__u32 reason)
{
	stat_inc(reason);
	return XDP_PASS;
}

/*
 * The copy of the next hop in use. The writer never touches the live copy
 * and waits for a grace period after flipping live before it writes again.
 */
static __always_inline const struct nexthop *nexthop_get(__u32 id)
{
	struct nexthop_entry *e = bpf_map_lookup_elem(&nexthops, &id);

	if (!e)
		return NULL;
	return &e->slot[*(volatile __u8 *)&e->live & 1];
}

/* The next hop a pin may still use, or NULL when it must be resolved again. */
static __always_inline const struct nexthop *
pin_nexthop(const struct flow_pin *pin)
{
	const struct nexthop *nh;

	if (!pin->nh_id)
		return NULL;
	nh = nexthop_get(pin->nh_id);
	if (!nh || nh->gen != pin->nh_gen)
		return NULL;
	if (FP_NEXTHOP_USABLE(nh->state, withdrawn_policy))
		return nh;
	return NULL;
}

/* A TCP segment without SYN: its connection began before this router saw it. */
static __always_inline bool pin_mid_stream(const struct packet *pkt)
{
	return pkt->key.proto == IPPROTO_TCP && !(pkt->tcp_flags & TCP_FLAG_SYN);
}

/* The rank (FP_RANK_*, flowpin.h) of a pin made now. */
static __always_inline __u64 pin_rank(bool mid_stream)
{
	return FP_RANK_TIME(bpf_ktime_get_tai_ns()) |
	       (mid_stream ? FP_RANK_MID_STREAM : 0);
}

/*
 * Map values are copied out once, right after their lookup, and never
 * written through the pointer: an LRU map can hand an evicted element to
 * another flow's insert at once, so a pointer held a moment too long reads,
 * or would write, another flow's pin. Writes go by key.
 */
static __always_inline bool pin_copy(const struct flow_pin *in,
				     struct flow_pin *out)
{
	if (!in)
		return false;
	*out = *in;
	return true;
}

/*
 * A pin this CPU made, for flowpind to send to its peers: one record in
 * pin_events, on the new-flow path only. flowpind reads the ring on a
 * timer (every FP_PIN_EVENTS_READ_MS), so a record wakes nobody (a wake-up
 * per record cost 1.8 us a new flow), unless the ring is half full. A
 * full ring loses the record (the pin stands; peers learn it at their
 * next bulk sync).
 */
static __always_inline void pin_tell_peers(const struct flow_key *key,
					   const struct flow_pin *pin)
{
	struct pin_event ev;
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (!sync_pins)
		return;
	ev.key = *key;
	ev.pin = *pin;
	if (bpf_ringbuf_query(&pin_events, BPF_RB_AVAIL_DATA) >
	    FP_PIN_EVENTS_BYTES / 2)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&pin_events, &ev, sizeof(ev), flags))
		stat_inc(FP_STAT_PIN_EVENT_LOST);
}

/*
 * Store a pin in flow_pins unless another CPU stored a usable one first;
 * *pin becomes whichever pin the flow now has. The caller has just looked:
 * no pin, or a stale one, which goes first (FP_PIN_INSERT, flowpin.h).
 */
static __always_inline void pin_publish(const struct flow_key *key,
					struct flow_pin *pin, bool stale)
{
	struct flow_pin cur;

	if (!FP_PIN_INSERT(bpf_map_delete_elem, bpf_map_update_elem, &flow_pins,
			   key, pin, stale)) {
		pin_tell_peers(key, pin);
		return;
	}
	/* another CPU's insert came between: theirs stands if usable */
	if (pin_copy(bpf_map_lookup_elem(&flow_pins, key), &cur) &&
	    pin_nexthop(&cur))
		*pin = cur;
}

/*
 * flow_cache: this CPU's copies of pins, in the flow's set of slots
 * (flowpin.h). Programs on one CPU do not nest (they run in softirq): seq
 * only guards a reader against a writer preempted half way, which a test
 * run in process context can be. A slot whose seq is odd is neither read
 * nor written.
 *
 * cache_read(), cache_fill() and cache_drop() are global functions: the
 * verifier checks each once, on its own, not once per path of its callers.
 * Inlined, they took flowpin_tc to 928k of the 1M instructions the verifier
 * walks on 6.18 (653k as functions). It takes their pointer arguments as
 * possibly NULL, so each checks them.
 */
#define barrier() asm volatile("" ::: "memory")

/* This CPU's set of slots for a flow, and their tags. */
struct cache_ref {
	struct flow_cache_set *set;
	struct flow_cache_tags *tags;
	__u16 tag; /* the flow's */
};

static __always_inline struct cache_ref cache_set(const struct flow_key *key)
{
	__u32 hash = flow_cache_hash(key);
	__u32 set = bpf_get_smp_processor_id() * cache_sets +
		    (hash & (cache_sets - 1));
	struct cache_ref r = {
		.set = bpf_map_lookup_elem(&flow_cache, &set),
		.tags = bpf_map_lookup_elem(&flow_cache_tags, &set),
		.tag = flow_cache_tag(hash),
	};

	if (!r.tags)
		r.set = NULL;
	return r;
}

/*
 * A copy as cache_read() finds it and cache_fill() writes it (a global
 * function takes five arguments at most).
 */
struct cache_copy {
	struct flow_pin pin;
	__u16 tag; /* the flow's */
	__s16 way; /* its way in the set; -1: none */
	__u64 checked_ns;
};

/* The pin a slot holds: its first three fields (the rest forwarding never reads). */
static __always_inline void slot_pin(const struct flow_cache_slot *w,
				     struct flow_pin *pin)
{
	pin->nh_id = w->nh_id;
	pin->nh_gen = w->nh_gen;
	pin->epoch = w->epoch;
}

/*
 * The flow's copy in set s, read whole into c (c->tag set): its way, or -1
 * when it has none (or it changed while read). Only a way whose tag
 * matches is read.
 */
__noinline int cache_read(struct flow_cache_set *s, struct flow_cache_tags *t,
			  const struct flow_key *key, struct cache_copy *c)
{
	if (!s || !t || !key || !c)
		return -1;
	for (int i = 0; i < FP_CACHE_WAYS; i++) {
		struct flow_cache_slot *w = &s->way[i];
		__u32 seq;

		if (t->tag[i] != c->tag)
			continue;
		seq = *(volatile __u32 *)&w->seq;
		barrier();
		if ((seq & 1) || !flow_key_eq(&w->key, key))
			continue;
		slot_pin(w, &c->pin);
		c->checked_ns = w->checked_ns;
		barrier();
		if (*(volatile __u32 *)&w->seq != seq)
			return -1;
		c->way = i;
		return i;
	}
	return -1;
}

static __always_inline void slot_write(struct flow_cache_slot *w,
				       const struct flow_key *key,
				       const struct flow_pin *pin,
				       __u64 checked_ns)
{
	__u32 seq = *(volatile __u32 *)&w->seq;

	if (seq & 1)
		return;
	*(volatile __u32 *)&w->seq = seq + 1;
	barrier();
	w->key = *key;
	w->nh_id = pin->nh_id;
	w->nh_gen = pin->nh_gen;
	w->epoch = pin->epoch;
	w->checked_ns = checked_ns;
	barrier();
	*(volatile __u32 *)&w->seq = seq + 2;
}

static __always_inline void slot_clear(struct flow_cache_slot *w)
{
	__u32 seq = *(volatile __u32 *)&w->seq;

	if (seq & 1)
		return;
	*(volatile __u32 *)&w->seq = seq + 1;
	barrier();
	w->key.family = 0;
	barrier();
	*(volatile __u32 *)&w->seq = seq + 2;
}

/*
 * This CPU's copy of a pin, checked now: in place when the flow has a slot
 * (way), else in way 0, whose flow moves to way 1, and way 1's leaves.
 */
__noinline int cache_fill(struct flow_cache_set *s, struct flow_cache_tags *t,
			  const struct flow_key *key, const struct cache_copy *c)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct flow_cache_slot *w0;

	if (!s || !t || !key || !c)
		return 0;
	w0 = &s->way[0];
	if (c->way == 1) {
		slot_write(&s->way[1], key, &c->pin, now);
		t->tag[1] = c->tag;
		return 0;
	}
	if (c->way < 0 && w0->key.family) {
		__u32 seq0 = *(volatile __u32 *)&w0->seq;

		if (!(seq0 & 1)) {
			struct flow_pin p0;

			barrier();
			slot_pin(w0, &p0);
			slot_write(&s->way[1], &w0->key, &p0, w0->checked_ns);
			t->tag[1] = t->tag[0];
			barrier();
			/* way 0 written meanwhile (a nested test run): no copy */
			if (*(volatile __u32 *)&w0->seq != seq0) {
				slot_clear(&s->way[1]);
				t->tag[1] = 0;
			}
		}
	}
	slot_write(w0, key, &c->pin, now);
	t->tag[0] = c->tag;
	return 0;
}

/* This CPU's copy of key's pin: its way, or -1 when it has none. */
static __always_inline int cache_lookup(const struct cache_ref *c,
					const struct flow_key *key,
					struct flow_pin *pin, __u64 *checked_ns)
{
	struct cache_copy copy = { .tag = c->tag, .way = -1 };

	if (!c->set || cache_read(c->set, c->tags, key, &copy) < 0)
		return -1;
	*pin = copy.pin;
	*checked_ns = copy.checked_ns;
	return copy.way;
}

/* A copy of pin, checked now, in the flow's way (-1: a new copy). */
static __always_inline void cache_put(const struct cache_ref *c, int way,
				      const struct flow_key *key,
				      const struct flow_pin *pin)
{
	struct cache_copy copy = { .pin = *pin, .tag = c->tag, .way = way };

	if (c->set)
		cache_fill(c->set, c->tags, key, &copy);
}

__noinline int cache_drop(struct flow_cache_set *s, struct flow_cache_tags *t,
			  int way)
{
	if (!s || !t)
		return 0;
	if (way == 0) {
		slot_clear(&s->way[0]);
		t->tag[0] = 0;
	} else if (way == 1) {
		slot_clear(&s->way[1]);
		t->tag[1] = 0;
	}
	return 0;
}

/*
 * The question bpf_fib_lookup() is asked for a packet, as the kernel's own
 * forwarding would ask it. False when the packet is neither IPv4 nor IPv6.
 */
static __always_inline bool fib_params(const struct hook *h,
				       const struct packet *pkt,
				       struct bpf_fib_lookup *fib)
{
	const struct flow_key *key = &pkt->key;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = pkt->l3_ifindex;
	/* Filled ports and protocol let the kernel's L4 ECMP hash apply. */
	fib->l4_protocol = key->proto;
	fib->sport = key->sport;
	fib->dport = key->dport;
	/*
	 * The MTU check must see the frame's real size, not tot_len's; a GSO
	 * packet's, that of the segments it leaves in.
	 */
	fib->tot_len = seg_l3_len(h, pkt) ?: pkt->l3_len;
	if (pkt->ip4) {
		fib->family = AF_INET;
		fib->tos = pkt->ip4->tos;
		fib->ipv4_src = key->saddr[0];
		fib->ipv4_dst = key->daddr[0];
		return true;
	}
	if (pkt->ip6) {
		fib->family = AF_INET6;
		fib->flowinfo = *(__be32 *)pkt->ip6 & IPV6_FLOWINFO_MASK;
		__builtin_memcpy(fib->ipv6_src, key->saddr, 16);
		__builtin_memcpy(fib->ipv6_dst, key->daddr, 16);
		return true;
	}
	return false;
}

/*
 * The next hop of a SUCCESS answer: the helper leaves the gateway in
 * ipv4_dst / ipv6_dst (the destination itself for a connected route) and
 * sets family to the gateway's, which differs for IPv4 routes via IPv6
 * gateways.
 */
static __always_inline void fib_nexthop_addr(const struct bpf_fib_lookup *fib,
					     struct nexthop_addr *addr)
{
	addr->ifindex = fib->ifindex;
	if (fib->family == AF_INET) {
		addr->family = FP_AF_INET;
		addr->gw[0] = fib->ipv4_dst;
	} else {
		addr->family = FP_AF_INET6;
		__builtin_memcpy(addr->gw, fib->ipv6_dst, 16);
	}
}

/* Does the kernel's routing send the packet to this next hop now? */
static __always_inline bool fib_chooses(const struct hook *h,
					const struct packet *pkt,
					const struct nexthop *nh)
{
	struct nexthop_addr addr = {};
	struct bpf_fib_lookup fib;

	if (!fib_params(h, pkt, &fib))
		return false;
	fib.tot_len = 1; /* the path is the question here, not its MTU */
	if (bpf_fib_lookup(h->ctx, &fib, sizeof(fib), 0) !=
	    BPF_FIB_LKUP_RET_SUCCESS)
		return false;
	fib_nexthop_addr(&fib, &addr);
	return addr.ifindex == nh->ifindex && addr.family == nh->family &&
	       addr_eq(addr.gw, nh->gw);
}

/*
 * The route epoch (route_epoch): flowpind moves it on every change that
 * can make the kernel refuse a flow it forwarded. A pin checked at the
 * current epoch needs no new check, while flowpind is there to move it.
 */
static __always_inline struct route_epoch epoch_now(void)
{
	struct route_epoch *e, cur = {};
	__u32 zero = 0;

	e = bpf_map_lookup_elem(&route_epoch, &zero);
	if (e)
		cur = *e;
	return cur;
}

/*
 * How long before now (CLOCK_MONOTONIC) flowpind last beat (heartbeat), in
 * ns; -1 when it never did (0 in the map: a datapath loaded by a test, say).
 * A beat that landed after now was read is no silence: age 0.
 */
static __always_inline __s64 beat_age(__u64 now)
{
	__u32 zero = 0;
	__u64 *b, beat;
	__s64 age;

	b = bpf_map_lookup_elem(&heartbeat, &zero);
	if (!b)
		return -1;
	beat = *(volatile __u64 *)b;
	if (!beat)
		return -1;
	age = now - beat;
	return age < 0 ? 0 : age;
}

/*
 * Is flowpind beating? Without it nobody moves the epoch, and a pin is
 * checked again every cache_check_ns, as if the epoch had moved.
 */
static __always_inline bool epoch_trusted(__u32 epoch)
{
	__s64 age;

	if (!epoch)
		return false;
	age = beat_age(bpf_ktime_get_ns());
	return age >= 0 && age <= (__s64)FP_EPOCH_TRUST_NS;
}

/*
 * Whether the kernel's routing now refuses to forward the flow: a
 * blackhole, unreachable or prohibit route or rule, a local destination
 * (in main or in the port's VRF), a route of another non-unicast type, or
 * forwarding turned off on the port. That is an operator's decision, and
 * it wins over the pin. Any SUCCESS keeps the pin, whatever gateway the
 * FIB names now (that is what pins are for).
 *
 * NOT_FWDED is what the helper answers for a local or non-unicast route,
 * for an IPv4 "unreachable" rule (its -ENETUNREACH), for every IPv6 reject
 * rule, and for no route at all. The pin's next hop tells the last apart:
 * while it is in some route (NH_ACTIVE), the kernel still has a way there
 * and refuses the flow; once it left every route (NH_WITHDRAWN, drained),
 * the route is gone, as when a routing daemon restarts, which is no drop
 * decision. One IPv6 answer is the helper's own: a throw route behind a
 * rule, where the kernel goes on to the next rule and the helper stops
 * with NOT_FWDED. Where some IPv6 table holds one (FP_EPOCH_V6_THROW),
 * the main table (or the port's VRF's) decides, as the kernel's fall
 * through to it would.
 */
/* An answer that is a refusal whatever the pin: a reject route or rule, forwarding off. */
static __always_inline bool fib_refuses(long rc)
{
	return rc == BPF_FIB_LKUP_RET_BLACKHOLE ||
	       rc == BPF_FIB_LKUP_RET_UNREACHABLE ||
	       rc == BPF_FIB_LKUP_RET_PROHIBIT ||
	       rc == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

static __always_inline bool route_rejects(const struct hook *h,
					  const struct packet *pkt,
					  const struct nexthop *nh, __u32 flags)
{
	struct bpf_fib_lookup fib;
	long rc;

	if (!fib_params(h, pkt, &fib))
		return false;
	stat_inc(FP_STAT_RECHECK);
	rc = bpf_fib_lookup(h->ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_NOT_FWDED)
		return fib_refuses(rc);
	if (nh->state != NH_ACTIVE)
		return false; /* the route is gone: drained */
	if (!pkt->ip6 || !(flags & FP_EPOCH_V6_THROW))
		return true;
	/*
	 * the lookup wrote its answer into fib: ask afresh, for the path
	 * only (tot_len 1: a packet too big, a neighbour not resolved yet
	 * are no refusal)
	 */
	fib_params(h, pkt, &fib);
	fib.tot_len = 1;
	rc = bpf_fib_lookup(h->ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT);
	return rc == BPF_FIB_LKUP_RET_NOT_FWDED || fib_refuses(rc);
}

/*
 * A pin the kernel's routing now refuses is removed from flow_pins and
 * from this CPU's cache, and its packet goes to the kernel, which drops
 * (or delivers) it.
 */
static __always_inline bool pin_rejected(const struct hook *h,
					 const struct packet *pkt,
					 const struct flow_key *key,
					 const struct nexthop *nh, __u32 flags,
					 const struct cache_ref *c, int way)
{
	if (!route_rejects(h, pkt, nh, flags))
		return false;
	bpf_map_delete_elem(&flow_pins, key);
	if (c->set)	/* other CPUs' copies: at their own next check */
		cache_drop(c->set, c->tags, way);
	stat_inc(FP_STAT_PIN_REJECTED);
	return true;
}

/*
 * This CPU's cache, then the shared pins: the next hop of the flow's pin, or
 * NULL with *stale set when it has a pin whose next hop was invalidated.
 *
 * The drop rule: a pin is used only once the kernel's routing accepted the
 * flow at the current route epoch (route_rejects()). A copy checked at an
 * older epoch is asked again on its first packet after the epoch moved (at
 * most once per FP_RECHECK_MIN_NS and CPU under churn), and every
 * cache_check_ns while flowpind is silent.
 *
 * Next hops travel as return values, checked for NULL where they arrive:
 * older verifiers (6.1, 6.12) lose track of a pointer written through a
 * pointer and of which pass reason goes with a NULL one.
 */
static __always_inline const struct nexthop *
pin_find(const struct hook *h, const struct packet *pkt,
	 const struct flow_key *key, bool *stale)
{
	struct cache_ref c = cache_set(key);
	const struct nexthop *nh;
	struct flow_pin mine = {}, shared = {};
	struct route_epoch ep;
	__u64 checked_ns = 0, age;
	bool check;
	int way;

	way = cache_lookup(&c, key, &mine, &checked_ns);
	if (way >= 0 && (nh = pin_nexthop(&mine))) {
		ep = epoch_now();
		age = bpf_ktime_get_coarse_ns() - checked_ns;
		if (age < cache_check_ns &&
		    (mine.epoch == ep.epoch || age < FP_RECHECK_MIN_NS)) {
			stat_inc(FP_STAT_CACHE_HIT);
			return nh;
		}
		/* the epoch moved, or flowpind is silent: routing has its say */
		check = mine.epoch != ep.epoch || !epoch_trusted(ep.epoch);
		if (check && pin_rejected(h, pkt, key, nh, ep.flags, &c, way))
			return NULL;
		/*
		 * Time to check with flow_pins: the lookup refreshes its LRU,
		 * and a pin it lost (evicted, flushed) is put back, so other
		 * CPUs keep sending the flow to the same next hop.
		 */
		mine.epoch = ep.epoch;
		if (!pin_copy(bpf_map_lookup_elem(&flow_pins, key), &shared)) {
			/* how it was made is not known here: mid-stream, now */
			mine.router = 0;
			mine.rank = pin_rank(true);
			pin_publish(key, &mine, false);
			nh = pin_nexthop(&mine);
		} else if (shared.nh_id != mine.nh_id ||
			   shared.nh_gen != mine.nh_gen) {
			/* another CPU's pin wins; the route check was the flow's */
			mine.nh_id = shared.nh_id;
			mine.nh_gen = shared.nh_gen;
			nh = pin_nexthop(&mine);
		}
		cache_put(&c, way, key, &mine);
		if (nh) {
			stat_inc(FP_STAT_CACHE_HIT);
			return nh;
		}
	}

	if (!pin_copy(bpf_map_lookup_elem(&flow_pins, key), &shared))
		return NULL;
	nh = pin_nexthop(&shared);
	if (!nh) {
		*stale = true;
		return NULL;
	}
	ep = epoch_now(); /* not before: a new flow reads it in pin_new() */
	/*
	 * A pin not checked at this epoch, or flowpind silent: check it. The
	 * epoch the check accepted goes into this CPU's copy only: an update
	 * of flow_pins, an LRU hash, takes a free element before it looks for
	 * the key, whatever its flags, and on a full table that evicts other
	 * flows' pins.
	 */
	if (shared.epoch != ep.epoch || !epoch_trusted(ep.epoch)) {
		if (pin_rejected(h, pkt, key, nh, ep.flags, &c, way))
			return NULL;
		shared.epoch = ep.epoch;
	}
	stat_inc(FP_STAT_PIN_HIT);
	cache_put(&c, way, key, &shared);
	return nh;
}

/*
 * An ICMP error's flow: its pin only if the drop rule accepted the flow at
 * the current epoch (or, while flowpind is silent, in the last
 * cache_check_ns), as the flow's own packets found. Looking writes nothing:
 * errors neither refresh a pin nor fill a cache, so a stream of them
 * cannot keep a flow the kernel now refuses alive.
 */
static __always_inline const struct nexthop *
pin_peek(const struct flow_key *key, __u32 *reason)
{
	struct cache_ref c = cache_set(key);
	struct route_epoch ep = epoch_now();
	bool trusted = epoch_trusted(ep.epoch);
	const struct nexthop *nh;
	struct flow_pin pin = {};
	__u64 checked_ns = 0;

	*reason = FP_PASS_ICMP_ERR_UNPINNED;
	if (cache_lookup(&c, key, &pin, &checked_ns) >= 0) {
		nh = pin_nexthop(&pin);
		if (nh && pin.epoch == ep.epoch &&
		    (trusted ||
		     bpf_ktime_get_coarse_ns() - checked_ns < cache_check_ns))
			return nh;
	}
	if (!pin_copy(bpf_map_lookup_elem(&flow_pins, key), &pin))
		return NULL;
	nh = pin_nexthop(&pin);
	if (!nh)
		return NULL;
	if (pin.epoch == ep.epoch && trusted)
		return nh;
	*reason = FP_PASS_ICMP_ERR_UNCHECKED;
	return NULL;
}

/*
 * Take one token from a token bucket; false when empty. Whole tokens are
 * added for the time passed, and the bucket's clock moves by their time
 * only, so the fraction of a token carries over to the next refill.
 */
static __always_inline bool bucket_take(struct token_bucket *b, __u64 rate,
					__u64 burst, __u64 now)
{
	__u64 elapsed = now - b->refilled_ns;
	__u64 add;

	if (elapsed >= NSEC_PER_SEC || (__s64)elapsed < 0) {
		b->tokens = burst;
		b->refilled_ns = now;
	} else {
		add = elapsed * rate / NSEC_PER_SEC;
		if (b->tokens + add >= burst) {
			b->tokens = burst;
			b->refilled_ns = now;
		} else if (add) {
			b->tokens += add;
			b->refilled_ns += add * NSEC_PER_SEC / rate;
		}
	}
	if (!b->tokens)
		return false;
	b->tokens--;
	return true;
}

/* Take one token from this CPU's bucket of new pins; false when empty. */
static __always_inline bool pin_allowed(__u64 now)
{
	struct token_bucket *b;
	__u32 zero = 0;

	if (!pin_rate)
		return true;
	b = bpf_map_lookup_elem(&pin_budget, &zero);
	return !b || bucket_take(b, pin_rate, pin_burst, now);
}

/* Take one token from this CPU's bucket of too-big errors. */
static __always_inline bool too_big_allowed(void)
{
	struct token_bucket *b;
	__u32 zero = 0;

	if (!too_big_rate)
		return true;
	b = bpf_map_lookup_elem(&too_big_budget, &zero);
	return !b || bucket_take(b, too_big_rate, too_big_burst, bpf_ktime_get_ns());
}

/*
 * Count a new pin against the shared budget of this window, which every
 * CPU and flowpind's pins from peers draw on; false when it is spent
 * (fp_turnover_count()).
 */
static __always_inline bool turnover_allowed(__u64 now)
{
	struct pin_turnover *w;
	__u64 start;
	__u32 zero = 0;

	if (!pins_per_s)
		return true;
	w = bpf_map_lookup_elem(&pin_turnover, &zero);
	if (!w)
		return true;
	start = *(volatile __u64 *)&w->start_ns;
	/* now may be older than a start another CPU just set: no new window */
	return fp_turnover_count(w, start, now, fp_turnover_budget(pins_per_s));
}

/*
 * Has flowpind been silent longer than daemon_silent_ns? Then the next-hop
 * table may be stale (a neighbour that failed since, a MAC that changed):
 * new flows are the kernel's, and stay unpinned. Pinned flows keep their
 * next hops, as they do through any daemon restart.
 */
static __always_inline bool daemon_silent(__u64 now)
{
	return daemon_silent_ns && beat_age(now) > (__s64)daemon_silent_ns;
}

/* bpf_fib_lookup() answers 1..9 map onto FP_PASS_FIB_BLACKHOLE.. in order. */
static __always_inline __u32 fib_pass_reason(long rc)
{
	if (rc >= BPF_FIB_LKUP_RET_BLACKHOLE &&
	    rc <= BPF_FIB_LKUP_RET_NO_SRC_ADDR)
		return FP_PASS_FIB_BLACKHOLE + rc - BPF_FIB_LKUP_RET_BLACKHOLE;
	return FP_PASS_FIB_OTHER;
}

/*
 * Ask the kernel's routing table, as its own forwarding would, and pin the
 * answer. Returns the next hop to use, or NULL with *reason set to why the
 * packet goes to the kernel.
 */
static __always_inline const struct nexthop *
pin_new(const struct hook *h, struct packet *pkt, bool stale, __u32 *reason)
{
	const struct flow_key *key = &pkt->key;
	struct bpf_fib_lookup fib;
	struct nexthop_addr addr = {};
	const struct nexthop *nh;
	struct flow_pin pin;
	__u32 *id;
	__u64 now;
	long rc;

	/* before the FIB: a change after this read moves the epoch past it */
	pin.epoch = epoch_now().epoch;
	if (!fib_params(h, pkt, &fib)) {
		*reason = FP_PASS_MALFORMED; /* parse_packet() set one of them */
		return NULL;
	}
	/* one clock read for the daemon's silence and both budgets */
	now = bpf_ktime_get_ns();
	if (daemon_silent(now)) {
		*reason = FP_PASS_DAEMON_SILENT;
		return NULL;
	}

	/*
	 * Every answer but SUCCESS goes to the kernel: it resolves missing
	 * neighbours, sends ICMP errors (unreachable, fragmentation needed),
	 * delivers local traffic and counts what it drops.
	 */
	rc = bpf_fib_lookup(h->ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		*reason = fib_pass_reason(rc);
		return NULL;
	}

	fib_nexthop_addr(&fib, &addr);
	id = bpf_map_lookup_elem(&nexthop_index, &addr);
	if (!id) {
		*reason = FP_PASS_NEXTHOP_UNKNOWN;
		return NULL;
	}
	pin.nh_id = *id;
	nh = nexthop_get(pin.nh_id);
	if (!nh || nh->state != NH_ACTIVE) {
		*reason = FP_PASS_NEXTHOP_NOT_READY;
		return NULL;
	}
	/* Pin only what we can send: a flow the kernel forwards stays unpinned. */
	*reason = cannot_send(h, pkt, nh->ifindex);
	if (*reason)
		return NULL;
	pin.nh_gen = nh->gen;

	if (!pin_allowed(now) || !turnover_allowed(now)) {
		stat_inc(FP_STAT_UNPINNED_RATE);
		return nh; /* forwarded where the FIB said, without a pin */
	}
	pin.router = 0;
	pin.rank = pin_rank(pin_mid_stream(pkt));
	pin_publish(key, &pin, stale);
	if (pin.nh_id != *id) {
		nh = pin_nexthop(&pin); /* another CPU won with its own pin */
		if (!nh) {
			*reason = FP_PASS_NEXTHOP_NOT_READY;
			return NULL;
		}
	}
	/*
	 * The flow enters a CPU's cache when a packet there finds its pin in
	 * flow_pins: on this CPU, its next packet. One-packet flows (DNS,
	 * scans, floods) never take a cache slot, and a flow's first packet
	 * makes one insert, not two.
	 */
	stat_inc(FP_STAT_PIN_NEW);
	/* A forwarded TCP flow seen mid-stream has lost its pin. */
	if (stale)
		stat_inc(FP_STAT_PIN_STALE);
	else if (pin_mid_stream(pkt))
		stat_inc(FP_STAT_LOST_PIN);
	return nh;
}

/*
 * Send the frame out of this port, one of tx_ports (or at tc of vlan_tx):
 * true when it will go.
 * When the port is not there, bpf_redirect_map() fails with its flags'
 * verdict, the frame untouched: no separate devmap lookup on XDP's hot
 * path. tc's bpf_redirect() takes any device: tx_ports is checked first.
 */
static __always_inline bool redirect_to(const struct hook *h,
					const struct packet *pkt, __u32 ifindex)
{
	if (h->skb)
		return can_send(h, pkt, ifindex) &&
		       bpf_redirect(ifindex, 0) == TC_ACT_REDIRECT;
	return bpf_redirect_map(&tx_ports, ifindex, XDP_PASS) == XDP_REDIRECT;
}

/* RFC 1624 incremental update for a TTL decrement, as ip_decrease_ttl(). */
static __always_inline void ipv4_decrease_ttl(struct iphdr *iph)
{
	__u32 check = (__u32)iph->check;

	check += (__u32)bpf_htons(0x0100);
	iph->check = (__sum16)(check + (check >= 0xFFFF));
	iph->ttl--;
}

/*
 * An skb that arrived with CHECKSUM_COMPLETE carries the sum of its bytes
 * from the network header on: tell it of the hop limit's change, as the
 * kernel's own IPv6 forwarding would. (An IPv4 header sums to the same
 * value after a TTL decrement and its checksum update.) Other skbs, and XDP
 * frames, carry no such sum.
 */
static __always_inline void skb_csum_diff(const struct hook *h, __be32 from,
					  __be32 to)
{
	if (h->skb)
		bpf_csum_update(h->ctx, bpf_csum_diff(&from, 4, &to, 4, 0));
}

/*
 * tc: the priority the kernel's IPv4 forwarding gives a packet
 * (tos_priority()). XDP frames have none: vlan_pcp() reads the tag's.
 */
static __always_inline void skb_set_priority(const struct hook *h, __u8 tos)
{
	if (h->skb)
		((struct __sk_buff *)h->ctx)->priority = tos_priority(tos);
}

/*
 * XDP: move the first quote bytes after the L2 header (l3: its length, with
 * a tag or without) up by hdr, from the end down (the two ranges overlap),
 * a stack chunk at a time.
 */
#define MOVE_CHUNK 128
static __always_inline int too_big_move_quote(struct xdp_md *xdp, __u32 l3,
					      __u32 quote, __u32 hdr)
{
	__u32 tail = quote % MOVE_CHUNK, full = quote / MOVE_CHUNK;
	__u8 buf[MOVE_CHUNK];

	if (tail && (bpf_xdp_load_bytes(xdp, l3 + full * MOVE_CHUNK, buf, tail) ||
		     bpf_xdp_store_bytes(xdp, l3 + full * MOVE_CHUNK + hdr, buf,
					 tail)))
		return -1;
	for (int i = TOO_BIG_QUOTE6 / MOVE_CHUNK; i > 0; i--) {
		__u32 off = l3 + (i - 1) * MOVE_CHUNK;

		if (i > full)
			continue;
		if (bpf_xdp_load_bytes(xdp, off, buf, MOVE_CHUNK) ||
		    bpf_xdp_store_bytes(xdp, off + hdr, buf, MOVE_CHUNK))
			return -1;
	}
	return 0;
}

/*
 * XDP: the tag after the MACs becomes the egress sub-interface's, as its
 * VLAN device would write it: the VID, the PCP its egress-qos-map gives
 * (vlan_pcp()) and the device's tag protocol (tag: protocol << 16 | TCI,
 * from vlan_tx). 0, or -1 when the frame is shorter than it was parsed
 * (never).
 */
static __always_inline int retag(const struct hook *h, __u32 tag)
{
	struct xdp_md *xdp = h->ctx;
	struct ethhdr *eth = (void *)(long)xdp->data;
	struct vlan_tag *t = (void *)(eth + 1);

	if ((void *)(t + 1) > (void *)(long)xdp->data_end)
		return -1;
	eth->h_proto = tag >> 16;
	t->tci = bpf_htons(tag & 0xffff);
	return 0;
}

/*
 * XDP: the error's MACs and its tag (protocol << 16 | TCI), in front of
 * the inner type too_big_write4/6() wrote 4 bytes on.
 */
static __always_inline int too_big_tag(const struct hook *h,
				       const struct too_big_src *s, __u32 tag)
{
	struct xdp_md *xdp = h->ctx;
	struct ethhdr *eth = (void *)(long)xdp->data;

	if ((void *)(eth + 1) > (void *)(long)xdp->data_end)
		return -1;
	too_big_eth(eth, s);
	return retag(h, tag);
}

/*
 * Turn the frame into its "fragmentation needed" / "packet too big" and
 * redirect that to the port the frame came in on, as forward() redirects
 * (tx_ports; not XDP_TX, which a veth delivers only to a peer with an XDP
 * program of its own). XDP_DROP when the frame cannot be reshaped or sent:
 * it may be cut already, and must not reach the kernel so.
 */
static __always_inline int too_big_reply(const struct hook *h,
					 const struct packet *pkt, __u32 mtu)
{
	bool v6 = pkt->ip6;
	__u32 hdr = v6 ? TOO_BIG_HDR6 : TOO_BIG_HDR4;
	__u32 len = sizeof(struct ethhdr) +
		    (v6 ? TOO_BIG_QUOTE6 : TOO_BIG_QUOTE4);
	struct too_big_src s = {};
	__u32 port = pkt->l3_ifindex; /* back the way it came: a bond, a VLAN */
	/* XDP, a frame that came tagged: the tag goes back on (tag_len()) */
	__u32 l2 = sizeof(struct ethhdr) + 4 * (__u32)pkt->tag_in_frame;
	__u32 tag = 0; /* ... as protocol << 16 | TCI */
	bool partial = false;
	void *data, *end;
	__s64 sum;

	if (pkt->l3_len < len - sizeof(struct ethhdr))
		goto drop; /* a path MTU under 548: nothing to quote that much */
	if (!h->skb && pkt->tag_in_frame) {
		/*
		 * by the VLAN's port, tagged as the VLAN device tags the
		 * kernel's own error (priority 0)
		 */
		const struct vlan_tx *vlan =
			bpf_map_lookup_elem(&vlan_tx, &port);

		if (!vlan)
			goto drop;
		port = vlan->port;
		tag = (__u32)vlan->proto << 16 |
		      (__u32)(vlan->egress_qos ? vlan->egress_pcp & 7 : 0) << 13 |
		      vlan->vid;
	}
	if (!can_send(h, NULL, port)) /* the kernel's error has priority 0 */
		goto drop;
	if (h->skb) {
		struct __sk_buff *skb = h->ctx;

		partial = h->gso_size ||
			  l4_csum_unfinished(pkt, (void *)(long)skb->data_end,
					     pkt->l3_len - pkt->l4_off);
	}
	__builtin_memcpy(s.src_mac, pkt->eth->h_source, ETH_ALEN);
	__builtin_memcpy(s.dst_mac, pkt->eth->h_dest, ETH_ALEN);
	s.proto = bpf_htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
	s.tos = pkt->ip4 ? pkt->ip4->tos : 0;
	__builtin_memcpy(s.saddr, pkt->key.saddr, 16);
	__builtin_memcpy(s.daddr, pkt->key.daddr, 16);

	if (h->skb) {
		struct __sk_buff *skb = h->ctx;

		/* the headers go between Ethernet and the quote */
		if (bpf_skb_change_tail(skb, len, 0) ||
		    bpf_skb_adjust_room(skb, hdr, BPF_ADJ_ROOM_MAC, 0) ||
		    bpf_skb_pull_data(skb, len + hdr))
			goto drop;
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	} else {
		struct xdp_md *xdp = h->ctx;

		/*
		 * The quote moves up in place, the frame keeps its length:
		 * the bytes after the error are padding that the receiver's
		 * IP layer trims. No bpf_xdp_adjust_head/tail(): a program
		 * that changes the frame's bounds cannot extend libxdp's
		 * dispatcher, whose slots do not (refused since 6.12).
		 */
		if (v6 ? too_big_move_quote(xdp, l2, TOO_BIG_QUOTE6, TOO_BIG_HDR6) :
			 too_big_move_quote(xdp, l2, TOO_BIG_QUOTE4, TOO_BIG_HDR4))
			goto drop;
		/*
		 * the headers are written as if untagged from the tag's
		 * length on, the tag (when there is one) in front of them:
		 * retag()
		 */
		data = (void *)(long)xdp->data + (l2 - sizeof(struct ethhdr));
		end = (void *)(long)xdp->data_end;
	}
	sum = v6 ? too_big_write6(data, end, &s, mtu) :
		   too_big_write4(data, end, &s, mtu);
	if (sum < 0 || (tag && too_big_tag(h, &s, tag)))
		goto drop;
	/* CHECKSUM_COMPLETE skbs sum their L3 bytes: add the new ones */
	if (h->skb)
		bpf_csum_update(h->ctx, sum);
	if (partial &&
	    too_big_csum_partial(data, end, v6, pkt->l4_off, pkt->key.proto))
		goto drop;
	if (!redirect_to(h, NULL, port))
		goto drop;
	stat_inc(FP_STAT_TOO_BIG_ICMP);
	return XDP_REDIRECT;
drop:
	stat_inc(FP_STAT_TOO_BIG_DROP);
	return XDP_DROP;
}

/*
 * A pinned packet too big for its next hop's port (mtu). While the kernel's
 * routing still sends the flow there, the kernel answers it, as any packet:
 * "fragmentation needed" or "packet too big" with the route's MTU, or
 * fragments. Once a route change sends it elsewhere, the kernel would
 * answer for, or fragment towards, another next hop: flowpin answers for
 * the pinned path itself. What it cannot answer for is dropped, counted,
 * never forwarded over another next hop: an IPv4 packet without DF (the
 * kernel would fragment it; XDP cannot). ICMP errors are never answered
 * with errors: they are the kernel's.
 */
static __always_inline int too_big(const struct hook *h, struct packet *pkt,
				   const struct nexthop *nh, __u32 mtu)
{
	if (pkt->icmp_error || fib_chooses(h, pkt, nh))
		return pass(FP_PASS_MTU);
	if (pkt->ip4 && !(pkt->ip4->frag_off & bpf_htons(IP_DF))) {
		stat_inc(FP_STAT_TOO_BIG_DROP);
		return XDP_DROP;
	}
	/*
	 * As the kernel limits its own errors (icmp_msgs_per_sec, burst):
	 * over the rate the packet is dropped without one, so a flood of
	 * spoofed frames cannot be reflected at line rate.
	 */
	if (!too_big_allowed()) {
		stat_inc(FP_STAT_TOO_BIG_RATE);
		return XDP_DROP;
	}
	return too_big_reply(h, pkt, mtu);
}

/*
 * tc: is a UDP GSO skb's segment too big for ifindex by the kernel's own
 * count? A UDP tunnel's (VXLAN, Geneve) segments repeat inner headers
 * that seg_l3_len() does not see, and __sk_buff does not say whether the
 * skb is one. The kernel counts them (BPF_MTU_CHK_SEGS: the headers its
 * sender or GRO set); a plain UDP GSO skb whose transport header was never
 * set is undercounted there, never over, and seg_l3_len() checks it.
 */
static __always_inline bool udp_segs_too_big(const struct hook *h,
					     const struct packet *pkt,
					     __u32 ifindex)
{
	__u32 mtu = 0; /* BPF_MTU_CHK_SEGS takes no length */

	if (!h->gso_size || pkt->key.proto != IPPROTO_UDP)
		return false;
	return bpf_check_mtu(h->ctx, ifindex, &mtu, 0, BPF_MTU_CHK_SEGS) > 0;
}

/*
 * Send the packet to its next hop: the frame is rewritten, and the helper
 * only records where it goes; it leaves after we return. XDP sends through
 * tx_ports (a devmap); tc through bpf_redirect(), after the same check
 * that the port is flowpin's.
 */
static __always_inline int forward(const struct hook *h, struct packet *pkt,
				   const struct nexthop *nh)
{
	__u32 ifindex = nh->ifindex;
	__u32 tag = 0; /* XDP: the tag to write over the frame's: protocol << 16 | TCI */
	__u32 mtu_len, seg_len;
	long rc;

	/*
	 * Pinned packets skip the FIB and its MTU check: check the frame (a
	 * GSO packet's segments) against the egress MTU. A negative answer
	 * means the device is gone.
	 */
	seg_len = seg_l3_len(h, pkt);
	/*
	 * The L3 length, not the frame's: a frame that came tagged is 4 bytes
	 * longer than what the egress device's MTU counts.
	 */
	mtu_len = seg_len ?: pkt->l3_len;
	rc = bpf_check_mtu(h->ctx, ifindex, &mtu_len, 0, 0);
	if (rc < 0)
		return pass(FP_PASS_NO_TX_PORT);
	/*
	 * The helper lets every GSO skb through and leaves the device's MTU
	 * in mtu_len: the segments are checked here. (BPF_MTU_CHK_SEGS would
	 * trust a transport header that received skbs may not have set; it
	 * is asked too of UDP's, which may be a tunnel's: udp_segs_too_big().)
	 */
	if (rc || seg_len > mtu_len || udp_segs_too_big(h, pkt, ifindex)) {
		__u32 why = cannot_send(h, pkt, ifindex);

		if (why)
			return pass(why);
		return too_big(h, pkt, nh, mtu_len);
	}
	/* a route's MTU, or IPv6's, below the device's */
	if (nh->mtu && (seg_len ?: pkt->l3_len) > nh->mtu)
		return too_big(h, pkt, nh, nh->mtu);
	/*
	 * XDP: a frame that came tagged leaves tagged, its tag rewritten to
	 * the egress sub-interface's, through that device's port. A tag to
	 * push or pop would move the frame's start (see too_big_reply()).
	 */
	if (!h->skb && pkt->tag_in_frame) {
		const struct vlan_tx *vlan =
			bpf_map_lookup_elem(&vlan_tx, &ifindex);

		int pcp = vlan ? vlan_pcp(pkt, vlan) : -1;

		if (pcp < 0)
			return pass(FP_PASS_VLAN_RETAG);
		ifindex = vlan->port;
		tag = (__u32)vlan->proto << 16 | (__u32)pcp << 13 | vlan->vid;
	}
	if (!redirect_to(h, pkt, ifindex)) {
		/* XDP: a tag to push; tc: a PCP the VLAN device would not write */
		if (bpf_map_lookup_elem(&vlan_tx, &ifindex))
			return pass(FP_PASS_VLAN_RETAG);
		stat_inc(FP_STAT_REDIRECT_FAIL);
		return XDP_PASS;
	}
	__builtin_memcpy(pkt->eth->h_dest, nh->dmac, FP_ETH_ALEN);
	__builtin_memcpy(pkt->eth->h_source, nh->smac, FP_ETH_ALEN);
	if (tag && retag(h, tag)) {
		stat_inc(FP_STAT_REDIRECT_FAIL);
		return XDP_DROP;
	}
	if (pkt->ip4) {
		skb_set_priority(h, pkt->ip4->tos);
		ipv4_decrease_ttl(pkt->ip4);
	} else if (pkt->ip6) {
		__be32 *word = (__be32 *)pkt->ip6 + 1; /* ..., hop limit */
		__be32 old = *word;

		pkt->ip6->hop_limit--;
		skb_csum_diff(h, old, *word);
	}
	/*
	 * tc: the ingress VLAN's tag leaves the skb last (the packet's
	 * pointers are stale after it); an egress sub-interface puts its own.
	 * The skb is asked again, not the hook: a value read at the start
	 * and branched on at both ends would make the verifier walk the
	 * whole program twice.
	 */
	if (h->skb && ((struct __sk_buff *)h->ctx)->vlan_present &&
	    bpf_skb_vlan_pop(h->ctx)) {
		stat_inc(FP_STAT_REDIRECT_FAIL);
		return XDP_DROP;
	}
	stat_inc(FP_STAT_FORWARDED);
	return XDP_REDIRECT;
}

/* parse -> pin -> forward, for either entry point. An XDP verdict. */
static __always_inline int flowpin_run(const struct hook *h, void *data,
				       void *data_end, __u32 frame_len)
{
	struct packet pkt = {};
	const struct nexthop *nh;
	bool stale = false;
	__u32 reason;

	stat_inc(FP_STAT_PACKETS);
	/*
	 * A tagged frame is routed in its VLAN sub-interface's context (the
	 * kernel drops it when the port has none for it); never in this
	 * port's. At tc the kernel took the (outer) tag into the skb before
	 * tc ingress; at XDP it is in the frame. The frame goes on as its
	 * sub-interface's (vlan_rx), or to the kernel (no sub-interface
	 * flowpind knows of, a priority tag, two tags).
	 */
	pkt.l3_ifindex = h->ifindex;
	reason = parse_packet(data, data_end, frame_len, !h->skb, &pkt);
	if (reason)
		return pass(reason);
	if (h->vlan_tag || pkt.tag_in_frame) {
		struct vlan_key vk = { .ifindex = h->ifindex };
		__u32 *sub;

		if (h->vlan_tag) {
			vk.proto = h->vlan_proto;
			vk.vid = h->vlan_tci & 0x0fff;
		} else {
			vk.proto = pkt.eth->h_proto;
			vk.vid = pkt.tag_tci & 0x0fff;
		}
		/*
		 * XDP on a bond runs with its member's ifindex: the VLAN is
		 * the bond's (at tc the skb is the bond's already)
		 */
		if (!h->skb) {
			__u32 *bond = bpf_map_lookup_elem(&bond_members,
							  &vk.ifindex);

			if (bond)
				vk.ifindex = *bond;
		}
		sub = vk.vid ? bpf_map_lookup_elem(&vlan_rx, &vk) : NULL;
		if (!sub)
			return pass(FP_PASS_VLAN);
		pkt.l3_ifindex = *sub;
	}
	if (!for_this_port(&pkt))
		return pass(FP_PASS_OTHER_HOST);
	/*
	 * A GSO skb's segments are its headers and gso_size bytes each; the
	 * headers counted are the ones parsed, up to TCP or UDP. Of a tunnel
	 * (IPIP, GRE: the kernel aggregates those too), each segment also
	 * repeats inner headers not parsed here: the kernel checks them.
	 */
	if (h->gso_size && pkt.key.proto != IPPROTO_TCP &&
	    pkt.key.proto != IPPROTO_UDP)
		return pass(FP_PASS_GSO_ENCAP);

	if (pkt.icmp_error) {
		/*
		 * Errors follow their flow's pin; they never make one. Only an
		 * error sent to the quoted packet's source belongs to the flow:
		 * others (to this router, say) are the kernel's to route.
		 */
		if (!addr_eq(pkt.key.daddr, pkt.inner_key.daddr))
			return pass(FP_PASS_ICMP_ERR_UNPINNED);
		nh = pin_peek(&pkt.inner_key, &reason);
		if (!nh)
			return pass(reason);
		stat_inc(FP_STAT_ICMP_ERR_PINNED);
		return forward(h, &pkt, nh);
	}

	nh = pin_find(h, &pkt, &pkt.key, &stale);
	if (!nh) {
		nh = pin_new(h, &pkt, stale, &reason);
		if (!nh)
			return pass(reason);
	}
	return forward(h, &pkt, nh);
}

SEC("xdp")
int flowpin(struct xdp_md *ctx)
{
	struct hook h = { .ctx = ctx, .ifindex = ctx->ingress_ifindex };

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return flowpin_run(&h, data, data_end, data_end - data);
}

SEC("tc")
int flowpin_tc(struct __sk_buff *skb)
{
	struct hook h = { .ctx = skb, .ifindex = skb->ingress_ifindex,
			  .skb = true, .gso_size = skb->gso_size,
			  .vlan_tag = skb->vlan_present,
			  .vlan_proto = skb->vlan_proto,
			  .vlan_tci = skb->vlan_tci };
	__u32 head = skb->data_end - skb->data;

	/* the headers of a paged skb (GSO, say) may not all be linear */
	if (head < skb->len && head < TC_LINEAR_MIN)
		bpf_skb_pull_data(skb, skb->len < TC_PULL_LEN ? skb->len :
								 TC_PULL_LEN);
	switch (flowpin_run(&h, (void *)(long)skb->data,
			    (void *)(long)skb->data_end, skb->len)) {
	case XDP_REDIRECT:
		return TC_ACT_REDIRECT;
	case XDP_DROP:
		return TC_ACT_SHOT;
	default:
		/*
		 * on through the chain: the next filter (an operator's
		 * policer, mirror or counter) sees what flowpin passes, then
		 * the stack; TC_ACT_OK would end the chain here
		 */
		return TC_ACT_UNSPEC;
	}
}

char LICENSE[] SEC("license") = "GPL";
