/* SPDX-License-Identifier: GPL-2.0 */
/* The datapath's maps. Userspace sizes them before load; see flowpin.h. */
#ifndef FLOWPIN_MAPS_H
#define FLOWPIN_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "flowpin.h"

/*
 * Fast path: each CPU's copies of pins, in sets of slots (flowpin.h): CPU
 * c's sets are c * cache_sets ... (c + 1) * cache_sets - 1. One array, not
 * a per-CPU one: a lookup is an address computed inline, one cache miss at
 * most, and BPF_F_MMAPABLE starts it on a page, so no slot straddles two
 * cache lines. Written by the datapath, each CPU its own sets; cleared by
 * operators (flush).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, FP_MAX_CACHED_FLOWS / FP_CACHE_WAYS);
	__type(key, __u32);
	__type(value, struct flow_cache_set);
} flow_cache SEC(".maps");

/* Each set's tags (flowpin.h), as flow_cache is laid out. Datapath only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_MAX_CACHED_FLOWS / FP_CACHE_WAYS);
	__type(key, __u32);
	__type(value, struct flow_cache_tags);
} flow_cache_tags SEC(".maps");

/*
 * The authoritative pins, shared by all CPUs. Written by the datapath
 * (new pins) and by operators (flush).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_MAX_FLOWS);
	__type(key, struct flow_key);
	__type(value, struct flow_pin);
} flow_pins SEC(".maps");

/* Next hops by id. Written by the control plane only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_MAX_NEXTHOPS);
	__type(key, __u32);
	__type(value, struct nexthop_entry);
} nexthops SEC(".maps");

/* (egress ifindex, gateway) as bpf_fib_lookup() answers -> next-hop id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_NEXTHOPS);
	__type(key, struct nexthop_addr);
	__type(value, __u32);
} nexthop_index SEC(".maps");

/* Egress ports, keyed by ifindex. Written by the control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, FP_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} tx_ports SEC(".maps");

/* A tagged frame's sub-interface (flowpin.h). Written by the control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_VLANS);
	__type(key, struct vlan_key);
	__type(value, __u32);
} vlan_rx SEC(".maps");

/* A bond's members -> the bond (flowpin.h). Written by the control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_BOND_MEMBERS);
	__type(key, __u32);
	__type(value, __u32);
} bond_members SEC(".maps");

/* Sub-interfaces flowpin sends to (flowpin.h). Written by the control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_VLANS);
	__type(key, __u32);
	__type(value, struct vlan_tx);
} vlan_tx SEC(".maps");

/* IP tunnels flowpin sends to at tc (flowpin.h). Written by the control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_IP_TUNNELS);
	__type(key, __u32);
	__type(value, __u32);
} ip_tunnel_tx SEC(".maps");

/*
 * Each port's own MAC, keyed by ifindex, and each VLAN sub-interface's of
 * vlan_rx. Written by the control plane.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_PORTS + FP_MAX_VLANS);
	__type(key, __u32);
	__type(value, struct port_mac);
} port_macs SEC(".maps");

/* Counters, indexed by enum fp_stat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* This CPU's budget of new pins. Written by the datapath only. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct token_bucket);
} pin_budget SEC(".maps");

/* This CPU's budget of too-big errors. Written by the datapath only. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct token_bucket);
} too_big_budget SEC(".maps");

/*
 * New pins in this window: every CPU's, and peers' pins flowpind applied.
 * Written by the datapath and by flowpind, through mmap(), with the same
 * atomic rule (fp_turnover_count()).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pin_turnover);
} pin_turnover SEC(".maps");

/* flowpind's last beat. Written by the daemon only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} heartbeat SEC(".maps");

/*
 * The route epoch: moves when the kernel may have stopped forwarding some
 * flow. Written by the daemon only.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct route_epoch);
} route_epoch SEC(".maps");

/* flowpind's own status, for operators. Written by the daemon only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct daemon_status);
} daemon_status SEC(".maps");

/*
 * New pins, for flowpind to send to its peers. Written by the datapath, and
 * only when flowpind syncs pins (sync_pins); read by flowpind.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FP_PIN_EVENTS_BYTES);
} pin_events SEC(".maps");

/* Pin sync's peers, for operators. Written by the daemon only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_MAX_PEERS);
	__type(key, __u32);
	__type(value, struct sync_peer_status);
} sync_peers SEC(".maps");

#endif /* FLOWPIN_MAPS_H */
