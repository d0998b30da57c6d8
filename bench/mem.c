// SPDX-License-Identifier: GPL-2.0
/*
 * Section 3: bytes per pinned flow, from the kernel's own accounting (the
 * map's memlock in fdinfo, which bpftool map show prints). LRU hashes are
 * preallocated, so a map costs its full size from load on, whether flows
 * fill it or not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "flow_cache.h"
#include "flowpin.skel.h"

int bench_mem(struct bench *b)
{
	static const __u32 small[] = { 1 << 14 };
	static const __u32 full[] = { 1000000, 10000000 };
	const __u32 *sizes = b->smoke ? small : full;
	int n = b->smoke ? 1 : 2, ncpu = libbpf_num_possible_cpus();
	char what[128], val[64], ratio[64];

	say("section 3: memory\n");
	for (int i = 0; i < n; i++) {
		struct flowpin *fp = flowpin__open();
		long long pins, cache;
		double per_pin, per_cache;
		int err;

		if (!fp)
			return -errno;
		bpf_map__set_max_entries(fp->maps.flow_pins, sizes[i]);
		/* by flowpind's rule for this many flows (flowpind itself
		 * stops at FP_MAX_CACHED_FLOWS) */
		err = flow_cache_size(fp->maps.flow_cache,
				      fp->maps.flow_cache_tags,
				      &fp->rodata->cache_sets,
				      flow_cache_per_cpu(sizes[i])) ?:
		      flowpin__load(fp);
		if (err) {
			check(b, false, "loading flowpin with %u flows: %s", sizes[i],
			      strerror(-err));
			flowpin__destroy(fp);
			return err;
		}
		pins = map_memlock(bpf_map__fd(fp->maps.flow_pins));
		cache = map_memlock(bpf_map__fd(fp->maps.flow_cache)) +
			map_memlock(bpf_map__fd(fp->maps.flow_cache_tags));
		flowpin__destroy(fp);
		if (!check(b, pins > 0 && cache > 0, "memlock: %lld %lld",
			   pins, cache))
			return -EIO;
		per_pin = (double)pins / sizes[i];
		per_cache = (double)cache / sizes[i];
		say("  %u flows: flow_pins %lld B (%.1f B/flow), flow_cache and its tags %lld B (%.1f B/flow, %d CPUs)\n",
		    sizes[i], pins, per_pin, cache, per_cache, ncpu);
		snprintf(what, sizeof(what), "flow_pins (shared), %u flows: B/flow", sizes[i]);
		figure("3", what, per_pin, LOWER, 0);
		snprintf(what, sizeof(what), "flow_cache (any CPU count), %u flows: B/flow",
			 sizes[i]);
		figure("3", what, per_cache, LOWER, 0);
		snprintf(what, sizeof(what), "flow_pins (shared), %u flows", sizes[i]);
		snprintf(val, sizeof(val), "%.1f B/flow", per_pin);
		snprintf(ratio, sizeof(ratio), "%.0f MiB", pins / 1048576.0);
		row("3", what, val, ratio, sizes[i] >= 10000000 ? "<= 128 B/flow" : NULL,
		    sizes[i] >= 10000000 ? (per_pin <= 128 ? "yes" : "NO") : NULL);
		snprintf(what, sizeof(what), "flow_cache (any CPU count, here %d), %u flows",
			 ncpu, sizes[i]);
		snprintf(val, sizeof(val), "%.1f B/flow", per_cache);
		snprintf(ratio, sizeof(ratio), "%.0f MiB", cache / 1048576.0);
		row("3", what, val, ratio, NULL, NULL);
	}
	return 0;
}
