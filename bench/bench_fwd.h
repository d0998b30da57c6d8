/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the bench's own forwarders (xdp_ref.bpf.c, models.bpf.c) share: the
 * egress ports they redirect into and the TTL decrement. Included by BPF
 * programs only; each object gets its own tx_ports.
 */
#ifndef FLOWPIN_BENCH_FWD_H
#define FLOWPIN_BENCH_FWD_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Egress ports, keyed by ifindex (userspace: tx_ports_fill()). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} tx_ports SEC(".maps");

/* As the kernel's ip_decrease_ttl(). */
static __always_inline void ip_decrease_ttl(struct iphdr *iph)
{
	__u32 check = (__u32)iph->check;

	check += (__u32)bpf_htons(0x0100);
	iph->check = (__sum16)(check + (check >= 0xFFFF));
	iph->ttl--;
}

#endif
