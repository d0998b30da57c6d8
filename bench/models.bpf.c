// SPDX-License-Identifier: GPL-2.0
/*
 * Section 6 (issue 28): the per-CPU cache's candidate structures, side by
 * side. Three models of a flow cache share everything but the structure a
 * packet looks its flow up in: the same key (struct flow_key), the same pin
 * (struct flow_pin), the same FIB lookup and insert for a new flow, the same
 * rewrite and redirect. None of flowpin's checks (epoch, budgets, MTU,
 * stats beyond four counters) are in them: they measure structures, and
 * flowpin's own rows in section 1 measure flowpin.
 *
 *   model_sets       an array of 2-way sets of 64-byte slots, each CPU its
 *                    own sets, with a 16-bit tag of each way beside them
 *                    (flowpin's flow_cache, without its seq guard); behind
 *                    it the shared pins (lru_hash).
 *   model_percpu     an lru_percpu_hash of pins (flowpin's flow_cache until
 *                    2026-12-06); behind it the same shared pins.
 *   model_pins       the shared pins alone: an lru_hash with
 *                    BPF_F_NO_COMMON_LRU (each CPU its own LRU lists), no
 *                    second level.
 *
 * Userspace sizes every map before load (1 entry for the maps a run does
 * not use) and sets sets_per_cpu.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "flowpin.h"
#include "bench_frames.h"
#include "bench_models.h"
#include "bench_fwd.h"

const volatile __u32 sets_per_cpu = 1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_cache_set);
} sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_cache_tags);
} set_tags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 1);
	__type(key, struct flow_key);
	__type(value, struct flow_pin);
} percpu_pins SEC(".maps");

/* behind model_sets and model_percpu */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, struct flow_key);
	__type(value, struct flow_pin);
} pins SEC(".maps");

/* model_pins */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct flow_key);
	__type(value, struct flow_pin);
} pins_percpu_lru SEC(".maps");

/* egress ifindex -> its MAC and the gateway's, written by new flows */
struct model_nexthop {
	__u8 smac[ETH_ALEN];
	__u8 dmac[ETH_ALEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct model_nexthop);
} nexthops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, M_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} model_stats SEC(".maps");

static __always_inline int count(__u32 idx, int verdict)
{
	__u64 *n = bpf_map_lookup_elem(&model_stats, &idx);

	if (n)
		*n += 1;
	return verdict;
}

/* The driver's frames: Ethernet, IPv4 without options, UDP. */
static __always_inline struct iphdr *parse(struct xdp_md *ctx,
					   struct flow_key *key)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct udphdr *udp = (void *)(iph + 1);

	if ((void *)(udp + 1) > end || iph->ihl != 5 || iph->ttl <= 1 ||
	    iph->protocol != IPPROTO_UDP)
		return NULL;
	__builtin_memset(key, 0, sizeof(*key));
	key->family = FP_AF_INET;
	key->proto = IPPROTO_UDP;
	key->sport = udp->source;
	key->dport = udp->dest;
	key->saddr[0] = iph->saddr;
	key->daddr[0] = iph->daddr;
	return iph;
}

static __always_inline int forward(struct xdp_md *ctx, struct iphdr *iph,
				   __u32 ifindex)
{
	struct model_nexthop *nh = bpf_map_lookup_elem(&nexthops, &ifindex);
	struct ethhdr *eth = (void *)(long)ctx->data;

	if (!nh || (void *)(eth + 1) > (void *)(long)ctx->data_end)
		return count(M_PASS, XDP_PASS);
	__builtin_memcpy(eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, nh->smac, ETH_ALEN);
	ip_decrease_ttl(iph);
	if (bpf_redirect_map(&tx_ports, ifindex, XDP_PASS) != XDP_REDIRECT)
		return count(M_PASS, XDP_PASS);
	return count(M_FORWARDED, XDP_REDIRECT);
}

/* A new flow: the FIB's answer, pinned in table (BPF_NOEXIST). */
static __always_inline int pin_new(struct xdp_md *ctx, struct iphdr *iph,
				   const struct flow_key *key, void *table)
{
	struct bpf_fib_lookup fib = {
		.family = FP_AF_INET,
		.tos = iph->tos,
		.l4_protocol = key->proto,
		.sport = key->sport,
		.dport = key->dport,
		.tot_len = bpf_ntohs(iph->tot_len),
		.ipv4_src = iph->saddr,
		.ipv4_dst = iph->daddr,
		.ifindex = ctx->ingress_ifindex,
	};
	struct flow_pin pin = {};
	struct model_nexthop nh;
	__u32 oif;

	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return count(M_PASS, XDP_PASS);
	oif = fib.ifindex;
	pin.nh_id = oif;
	pin.rank = bpf_ktime_get_ns();
	__builtin_memcpy(nh.smac, fib.smac, ETH_ALEN);
	__builtin_memcpy(nh.dmac, fib.dmac, ETH_ALEN);
	bpf_map_update_elem(&nexthops, &oif, &nh, BPF_ANY);
	bpf_map_update_elem(table, key, &pin, BPF_NOEXIST);
	count(M_NEW, 0);
	return forward(ctx, iph, oif);
}

SEC("xdp")
int model_sets(struct xdp_md *ctx)
{
	struct flow_key key;
	struct iphdr *iph = parse(ctx, &key);
	__u32 hash, idx;
	struct flow_cache_set *s;
	struct flow_cache_tags *t;
	struct flow_pin *pin;
	__u16 tag;

	if (!iph)
		return count(M_PASS, XDP_PASS);
	hash = flow_cache_hash(&key);
	tag = flow_cache_tag(hash);
	idx = bpf_get_smp_processor_id() * sets_per_cpu +
	      (hash & (sets_per_cpu - 1));
	s = bpf_map_lookup_elem(&sets, &idx);
	t = bpf_map_lookup_elem(&set_tags, &idx);
	if (!s || !t)
		return count(M_PASS, XDP_PASS);
	for (int i = 0; i < FP_CACHE_WAYS; i++)
		if (t->tag[i] == tag && flow_key_eq(&s->way[i].key, &key)) {
			count(M_HIT, 0);
			return forward(ctx, iph, s->way[i].nh_id);
		}
	pin = bpf_map_lookup_elem(&pins, &key);
	if (!pin)
		return pin_new(ctx, iph, &key, &pins);
	/* way 0's flow moves to way 1, way 1's leaves */
	s->way[1] = s->way[0];
	t->tag[1] = t->tag[0];
	s->way[0].key = key;
	s->way[0].nh_id = pin->nh_id;
	s->way[0].nh_gen = pin->nh_gen;
	s->way[0].epoch = pin->epoch;
	s->way[0].checked_ns = bpf_ktime_get_coarse_ns();
	t->tag[0] = tag;
	count(M_SECOND, 0);
	return forward(ctx, iph, pin->nh_id);
}

SEC("xdp")
int model_percpu(struct xdp_md *ctx)
{
	struct flow_key key;
	struct iphdr *iph = parse(ctx, &key);
	struct flow_pin *pin;

	if (!iph)
		return count(M_PASS, XDP_PASS);
	pin = bpf_map_lookup_elem(&percpu_pins, &key);
	if (pin) {
		count(M_HIT, 0);
		return forward(ctx, iph, pin->nh_id);
	}
	pin = bpf_map_lookup_elem(&pins, &key);
	if (!pin)
		return pin_new(ctx, iph, &key, &pins);
	bpf_map_update_elem(&percpu_pins, &key, pin, BPF_ANY);
	count(M_SECOND, 0);
	return forward(ctx, iph, pin->nh_id);
}

SEC("xdp")
int model_pins(struct xdp_md *ctx)
{
	struct flow_key key;
	struct iphdr *iph = parse(ctx, &key);
	struct flow_pin *pin;

	if (!iph)
		return count(M_PASS, XDP_PASS);
	pin = bpf_map_lookup_elem(&pins_percpu_lru, &key);
	if (!pin)
		return pin_new(ctx, iph, &key, &pins_percpu_lru);
	count(M_HIT, 0);
	return forward(ctx, iph, pin->nh_id);
}

char LICENSE[] SEC("license") = "GPL";
