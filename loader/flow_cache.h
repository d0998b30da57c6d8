/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flow_cache from userspace: its size, set before the datapath is loaded
 * (the map and the program's mask together), and each CPU's copies of a
 * flow's pin, read and cleared through the map. No logging: -errno.
 */
#ifndef FLOWPIN_FLOW_CACHE_H
#define FLOWPIN_FLOW_CACHE_H

#include <stdbool.h>
#include <linux/types.h>

#include "flowpin.h"

struct bpf_map;

/*
 * Size flow_cache for about flows copies a CPU: its max_entries and
 * flow_cache_tags' (every possible CPU's sets), and the datapath's
 * cache_sets (the skeleton's rodata, a CPU's sets), which must agree.
 */
int flow_cache_size(struct bpf_map *cache, struct bpf_map *tags,
		    __u32 *cache_sets, __u32 flows);

/*
 * The copies a CPU is sized for, to hold about flows in all: a CPU serves
 * its share of the flows (RSS spreads them), so twice an even share, at
 * least FP_CACHE_MIN_PER_CPU (one CPU may see most of them: a veth, a
 * NIC with one queue) and at most flows. 68 bytes a copy (slot and tag),
 * rounded up to a power of two a CPU: for 65,536 flows, 8.5 MB in all
 * with 2, 4 or 8 CPUs (up to twice that by the rounding in between), then
 * 1.06 MB a CPU.
 */
#define FP_CACHE_MIN_PER_CPU 16384
__u32 flow_cache_per_cpu(__u32 flows);

/*
 * A copy is a slot whose key is the flow's, and whose tag in
 * flow_cache_tags is the key's: userspace never writes a slot (the
 * datapath's CPU may be writing it), it clears tags, and a slot without
 * its tag is never read again. A tag written a moment too late or too
 * early costs the datapath a miss, or keeps a copy the datapath refreshed
 * in the same moment (flush checks its pin once more): the slot's key
 * decides, never the tag.
 */

/*
 * Each CPU's copy of key's pin, in copies[0..ncpus-1] (nh_id 0: none, or
 * being written). 0 or -errno.
 */
int flow_cache_copies(int cache_fd, int tags_fd, int ncpus,
		      const struct flow_key *key, struct flow_pin *copies);

/*
 * Clear the copies, on every CPU, of key (key set) or of every flow for
 * which forget(key, ctx) is true (forget set). *n grows by the copies
 * cleared.
 */
int flow_cache_forget(int cache_fd, int tags_fd, int ncpus,
		      const struct flow_key *key,
		      bool (*forget)(const struct flow_key *key, void *ctx),
		      void *ctx, __u64 *n);

/* The copies every CPU holds. */
int flow_cache_count(int cache_fd, int tags_fd, __u64 *n);

#endif /* FLOWPIN_FLOW_CACHE_H */
