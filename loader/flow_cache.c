// SPDX-License-Identifier: GPL-2.0
/* flow_cache from userspace: see flow_cache.h. */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flow_cache.h"

int flow_cache_size(struct bpf_map *cache, struct bpf_map *tags,
		    __u32 *cache_sets, __u32 flows)
{
	__u32 sets = flow_cache_sets(flows);
	int ncpus = libbpf_num_possible_cpus(), err;

	if (ncpus < 0)
		return ncpus;
	err = bpf_map__set_max_entries(cache, sets * ncpus) ?:
	      bpf_map__set_max_entries(tags, sets * ncpus);
	if (err)
		return err;
	*cache_sets = sets;
	return 0;
}

__u32 flow_cache_per_cpu(__u32 flows)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 share = ncpus > 0 ? 2ULL * flows / ncpus : flows;

	if (share < FP_CACHE_MIN_PER_CPU)
		share = FP_CACHE_MIN_PER_CPU;
	return share < flows ? share : flows;
}

/* The sets a CPU has: a power of two, max_entries / ncpus. */
static int sets_of(int fd, int ncpus, __u32 *sets)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*sets = ncpus > 0 ? info.max_entries / ncpus : 0;
	if (info.value_size != sizeof(struct flow_cache_set) || !*sets ||
	    *sets & (*sets - 1) || *sets * ncpus != info.max_entries)
		return -EINVAL;
	return 0;
}

int flow_cache_copies(int fd, int ncpus, const struct flow_key *key,
		      struct flow_pin *copies)
{
	struct flow_cache_set v;
	__u32 sets, set;
	int err;

	memset(copies, 0, ncpus * sizeof(*copies));
	err = sets_of(fd, ncpus, &sets);
	if (err)
		return err;
	set = flow_cache_hash(key) & (sets - 1);
	for (int c = 0; c < ncpus; c++, set += sets) {
		if (bpf_map_lookup_elem(fd, &set, &v))
			return -errno;
		for (int i = 0; i < FP_CACHE_WAYS; i++) {
			const struct flow_cache_slot *w = &v.way[i];

			if (!(w->seq & 1) && !memcmp(&w->key, key, sizeof(*key))) {
				copies[c] = w->pin;
				break;
			}
		}
	}
	return 0;
}

/* Clear the slots of a set whose flow goes; true when one was. */
static bool forget_in(struct flow_cache_set *v, const struct flow_key *key,
		      bool (*forget)(const struct flow_key *, void *),
		      void *ctx, __u64 *n)
{
	bool changed = false;

	for (int i = 0; i < FP_CACHE_WAYS; i++) {
		struct flow_cache_slot *w = &v->way[i];

		if (!w->key.family)
			continue;
		if (key ? memcmp(&w->key, key, sizeof(*key)) : !forget(&w->key, ctx))
			continue;
		w->key.family = 0;
		w->seq = (w->seq | 1) + 1; /* even: no write is half done */
		changed = true;
		(*n)++;
	}
	return changed;
}

/* Clear, in one set, the slots whose flow goes. */
static int forget_set(int fd, __u32 set, const struct flow_key *key,
		      bool (*forget)(const struct flow_key *, void *),
		      void *ctx, __u64 *n)
{
	struct flow_cache_set v;

	if (bpf_map_lookup_elem(fd, &set, &v))
		return -errno;
	if (forget_in(&v, key, forget, ctx, n) &&
	    bpf_map_update_elem(fd, &set, &v, BPF_EXIST))
		return -errno;
	return 0;
}

int flow_cache_forget(int fd, int ncpus, const struct flow_key *key,
		      bool (*forget)(const struct flow_key *key, void *ctx),
		      void *ctx, __u64 *n)
{
	__u32 sets, set;
	int err;

	err = sets_of(fd, ncpus, &sets);
	if (err)
		return err;
	if (key) {
		set = flow_cache_hash(key) & (sets - 1);
		for (int c = 0; c < ncpus && !err; c++, set += sets)
			err = forget_set(fd, set, key, NULL, NULL, n);
		return err;
	}
	for (set = 0; set < sets * ncpus && !err; set++)
		err = forget_set(fd, set, NULL, forget, ctx, n);
	return err;
}
