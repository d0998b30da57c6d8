// SPDX-License-Identifier: GPL-2.0
/*
 * pin_touch: flowpind's lookups of the pins its peers named, made from
 * inside the kernel, so that flow_pins' LRU counts them used.
 *
 * A pin a peer sends (new, bulk, or again because its flow is live there:
 * pin sync's refresh) is never looked up here while the flow goes through
 * another router, and an LRU hash evicts what nobody looks up first. A
 * lookup from userspace does not set an element's ref bit; one from a BPF
 * program does (docs/DESIGN.md, "Sizing"). flowpind writes the keys into
 * touch_keys (this object's .bss, mmap()ed) and runs this program once
 * with BPF_PROG_TEST_RUN. flow_pins is the datapath's, shared by fd.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "flowpin.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1); /* the datapath's map takes its place */
	__type(key, struct flow_key);
	__type(value, struct flow_pin);
} flow_pins SEC(".maps");

struct flow_key touch_keys[FP_TOUCH_MAX];

SEC("syscall")
int pin_touch(struct pin_touch_args *args)
{
	__u32 n = args->n, found = 0;

	for (__u32 i = 0; i < FP_TOUCH_MAX; i++) {
		if (i >= n)
			break;
		if (bpf_map_lookup_elem(&flow_pins, &touch_keys[i]))
			found++;
	}
	args->found = found;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
