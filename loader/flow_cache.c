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

/* Is way i of set v, with tags t, a copy: a whole slot with its tag? */
static bool is_copy(const struct flow_cache_set *v,
		    const struct flow_cache_tags *t, int i)
{
	const struct flow_cache_slot *w = &v->way[i];

	return w->key.family && !(w->seq & 1) && t->tag[i] &&
	       t->tag[i] == flow_cache_tag(flow_cache_hash(&w->key));
}

static int read_set(int cache_fd, int tags_fd, __u32 set,
		    struct flow_cache_set *v, struct flow_cache_tags *t)
{
	if (bpf_map_lookup_elem(tags_fd, &set, t) ||
	    bpf_map_lookup_elem(cache_fd, &set, v))
		return -errno;
	return 0;
}

int flow_cache_copies(int cache_fd, int tags_fd, int ncpus,
		      const struct flow_key *key, struct flow_pin *copies)
{
	struct flow_cache_set v;
	struct flow_cache_tags t;
	__u32 sets, set;
	int err;

	memset(copies, 0, ncpus * sizeof(*copies));
	err = sets_of(cache_fd, ncpus, &sets);
	if (err)
		return err;
	set = flow_cache_hash(key) & (sets - 1);
	for (int c = 0; c < ncpus; c++, set += sets) {
		err = read_set(cache_fd, tags_fd, set, &v, &t);
		if (err)
			return err;
		for (int i = 0; i < FP_CACHE_WAYS; i++)
			if (is_copy(&v, &t, i) &&
			    !memcmp(&v.way[i].key, key, sizeof(*key))) {
				copies[c].nh_id = v.way[i].nh_id;
				copies[c].nh_gen = v.way[i].nh_gen;
				copies[c].epoch = v.way[i].epoch;
				break;
			}
	}
	return 0;
}

/* Clear, in one set, the tags of the copies whose flow goes. */
static int forget_set(int cache_fd, int tags_fd, __u32 set,
		      const struct flow_key *key,
		      bool (*forget)(const struct flow_key *, void *),
		      void *ctx, __u64 *n)
{
	struct flow_cache_set v;
	struct flow_cache_tags t;
	bool changed = false;
	int err;

	err = read_set(cache_fd, tags_fd, set, &v, &t);
	if (err)
		return err;
	for (int i = 0; i < FP_CACHE_WAYS; i++) {
		const struct flow_key *k = &v.way[i].key;

		if (!is_copy(&v, &t, i) ||
		    (key ? memcmp(k, key, sizeof(*key)) : !forget(k, ctx)))
			continue;
		t.tag[i] = 0;
		changed = true;
		(*n)++;
	}
	if (changed && bpf_map_update_elem(tags_fd, &set, &t, BPF_EXIST))
		return -errno;
	return 0;
}

int flow_cache_forget(int cache_fd, int tags_fd, int ncpus,
		      const struct flow_key *key,
		      bool (*forget)(const struct flow_key *key, void *ctx),
		      void *ctx, __u64 *n)
{
	__u32 sets, set;
	int err;

	err = sets_of(cache_fd, ncpus, &sets);
	if (err)
		return err;
	if (key) {
		set = flow_cache_hash(key) & (sets - 1);
		for (int c = 0; c < ncpus && !err; c++, set += sets)
			err = forget_set(cache_fd, tags_fd, set, key, NULL, NULL,
					 n);
		return err;
	}
	for (set = 0; set < sets * ncpus && !err; set++)
		err = forget_set(cache_fd, tags_fd, set, NULL, forget, ctx, n);
	return err;
}

int flow_cache_count(int cache_fd, int tags_fd, __u64 *n)
{
	struct flow_cache_set v;
	struct flow_cache_tags t;
	int err;

	*n = 0;
	for (__u32 set = 0;; set++) {
		err = read_set(cache_fd, tags_fd, set, &v, &t);
		if (err)
			return err == -ENOENT ? 0 : err;
		for (int i = 0; i < FP_CACHE_WAYS; i++)
			*n += is_copy(&v, &t, i);
	}
}
