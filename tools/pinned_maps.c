// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flow_cache.h"
#include "pinned_maps.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's "no such operation for this map" */
#endif

static const struct {
	const char *name;
	__u32 type;
	__u32 key_size, value_size;
} map_defs[FP_MAP_COUNT] = {
	[FP_MAP_FLOW_CACHE] = { "flow_cache", BPF_MAP_TYPE_ARRAY,
				sizeof(__u32), sizeof(struct flow_cache_set) },
	[FP_MAP_FLOW_CACHE_TAGS] = { "flow_cache_tags", BPF_MAP_TYPE_ARRAY,
				     sizeof(__u32),
				     sizeof(struct flow_cache_tags) },
	[FP_MAP_FLOW_PINS] = { "flow_pins", BPF_MAP_TYPE_LRU_HASH,
			       sizeof(struct flow_key), sizeof(struct flow_pin) },
	[FP_MAP_NEXTHOPS] = { "nexthops", BPF_MAP_TYPE_ARRAY, sizeof(__u32),
			      sizeof(struct nexthop_entry) },
	[FP_MAP_NEXTHOP_INDEX] = { "nexthop_index", BPF_MAP_TYPE_HASH,
				   sizeof(struct nexthop_addr), sizeof(__u32) },
	[FP_MAP_TX_PORTS] = { "tx_ports", BPF_MAP_TYPE_DEVMAP_HASH,
			      sizeof(__u32), sizeof(struct bpf_devmap_val) },
	[FP_MAP_STATS] = { "stats", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
			   sizeof(__u64) },
	[FP_MAP_DAEMON_STATUS] = { "daemon_status", BPF_MAP_TYPE_ARRAY,
				   sizeof(__u32), sizeof(struct daemon_status) },
	[FP_MAP_SYNC_PEERS] = { "sync_peers", BPF_MAP_TYPE_ARRAY, sizeof(__u32),
				sizeof(struct sync_peer_status) },
};

const char *fp_map_name(enum fp_map m)
{
	return m < FP_MAP_COUNT ? map_defs[m].name : "unknown";
}

static bool is_percpu(__u32 type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

__u32 map_value_bytes(const struct pinned_maps *m, enum fp_map map)
{
	const struct bpf_map_info *info = &m->info[map];

	if (is_percpu(info->type))
		return ((info->value_size + 7) & ~7u) * m->ncpus;
	return info->value_size;
}

static int report_open_error(const char *path, const char *file, int err)
{
	if (err == -EACCES || err == -EPERM)
		fprintf(stderr,
			"flowpinctl: %s: %s (flowpinctl needs root: CAP_BPF and CAP_SYS_ADMIN)\n",
			file, strerror(-err));
	else if (err == -ENOENT)
		fprintf(stderr,
			"flowpinctl: no flowpin maps pinned at %s (is flowpind running? use -p PIN_PATH)\n",
			path);
	else
		fprintf(stderr, "flowpinctl: %s: %s\n", file, strerror(-err));
	return err;
}

static int map_open(struct pinned_maps *m, enum fp_map map)
{
	char file[PATH_MAX];
	__u32 len = sizeof(m->info[map]);
	int fd;

	snprintf(file, sizeof(file), "%s/%s", m->path, map_defs[map].name);
	fd = bpf_obj_get(file);
	if (fd < 0) {
		if ((map == FP_MAP_DAEMON_STATUS || map == FP_MAP_SYNC_PEERS) &&
		    fd == -ENOENT)
			return 0;
		return report_open_error(m->path, file, fd);
	}
	m->fd[map] = fd;
	if (bpf_obj_get_info_by_fd(fd, &m->info[map], &len))
		return report_open_error(m->path, file, -errno);
	/*
	 * Another build's maps, not bad input (-EINVAL exits 2): a per-CPU
	 * map of the same sizes would fill a buffer sized for one value.
	 */
	if (m->info[map].type != map_defs[map].type) {
		fprintf(stderr,
			"flowpinctl: %s: a map of type %u, this flowpinctl expects %u: pinned by another build\n",
			file, m->info[map].type, map_defs[map].type);
		return -EPROTO;
	}
	if (m->info[map].key_size != map_defs[map].key_size ||
	    m->info[map].value_size != map_defs[map].value_size) {
		fprintf(stderr,
			"flowpinctl: %s: key/value of %u/%u bytes, this flowpinctl expects %u/%u: pinned by another build\n",
			file, m->info[map].key_size, m->info[map].value_size,
			map_defs[map].key_size, map_defs[map].value_size);
		return -EPROTO;
	}
	return 0;
}

/*
 * Maps of another layout would be read wrongly (counters under other
 * names): refuse them, as flowpind does. Layout 0: no daemon wrote one.
 */
static int layout_check(struct pinned_maps *m)
{
	struct daemon_status ds = {};
	__u32 key = 0;
	int err;

	if (m->fd[FP_MAP_DAEMON_STATUS] < 0) {
		err = map_open(m, FP_MAP_DAEMON_STATUS);
		if (err || m->fd[FP_MAP_DAEMON_STATUS] < 0)
			return err;
	}
	if (bpf_map_lookup_elem(m->fd[FP_MAP_DAEMON_STATUS], &key, &ds) ||
	    !ds.layout || ds.layout == FP_LAYOUT)
		return 0;
	fprintf(stderr,
		"flowpinctl: maps in %s have layout %u, this flowpinctl reads layout %u: use the flowpinctl of the flowpind that pinned them\n",
		m->path, ds.layout, FP_LAYOUT);
	return -EPROTO;
}

int pinned_maps_open(struct pinned_maps *m, const char *path,
		     unsigned int mask)
{
	struct stat st;
	int err;

	memset(m, 0, sizeof(*m));
	m->path = path;
	for (int i = 0; i < FP_MAP_COUNT; i++)
		m->fd[i] = -1;
	m->ncpus = libbpf_num_possible_cpus();
	if (m->ncpus < 0) {
		fprintf(stderr, "flowpinctl: possible CPUs: %s\n",
			strerror(-m->ncpus));
		return m->ncpus;
	}
	if (stat(path, &st))
		return report_open_error(path, path, -errno);
	for (int i = 0; i < FP_MAP_COUNT; i++) {
		if (!(mask & FP_MAP_BIT(i)))
			continue;
		err = map_open(m, i);
		if (err) {
			pinned_maps_close(m);
			return err;
		}
	}
	err = layout_check(m);
	if (err)
		pinned_maps_close(m);
	return err;
}

void pinned_maps_close(struct pinned_maps *m)
{
	for (int i = 0; i < FP_MAP_COUNT; i++) {
		if (m->fd[i] >= 0)
			close(m->fd[i]);
		m->fd[i] = -1;
	}
}

int map_walk_init(struct map_walk *w, const struct pinned_maps *m,
		  enum fp_map map, __u32 batch)
{
	size_t token = m->info[map].key_size > 8 ? m->info[map].key_size : 8;

	memset(w, 0, sizeof(*w));
	w->fd = m->fd[map];
	w->key_size = m->info[map].key_size;
	w->value_size = map_value_bytes(m, map);
	w->batch = batch ? batch : 1;
	w->use_batch = true;
	w->keys = calloc(w->batch, w->key_size);
	w->values = calloc(w->batch, w->value_size);
	w->in_token = calloc(1, token);
	w->out_token = calloc(1, token);
	w->next_key = calloc(1, w->key_size);
	if (!w->keys || !w->values || !w->in_token || !w->out_token ||
	    !w->next_key) {
		map_walk_free(w);
		return -ENOMEM;
	}
	return 0;
}

void map_walk_free(struct map_walk *w)
{
	free(w->keys);
	free(w->values);
	free(w->in_token);
	free(w->out_token);
	free(w->next_key);
	memset(w, 0, sizeof(*w));
}

/* A bucket held more elements than the buffers: make them bigger. */
static int walk_grow(struct map_walk *w)
{
	__u32 batch = w->batch * 2;
	void *k = realloc(w->keys, (size_t)batch * w->key_size);
	void *v;

	if (!k)
		return -ENOMEM;
	w->keys = k;
	v = realloc(w->values, (size_t)batch * w->value_size);
	if (!v)
		return -ENOMEM;
	w->values = v;
	w->batch = batch;
	return 0;
}

static int walk_fill_batch(struct map_walk *w)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count;
	int err;

again:
	count = w->batch;
	err = bpf_map_lookup_batch(w->fd, w->started ? w->in_token : NULL,
				   w->out_token, w->keys, w->values, &count,
				   &opts);
	if (err && err != -ENOENT) {
		if (!w->started && (err == -EINVAL || err == -ENOTSUPP ||
				    err == -EOPNOTSUPP)) {
			w->use_batch = false; /* the kernel has no batch here */
			return 0;
		}
		if (err == -ENOSPC && !count && w->batch < (1u << 20)) {
			err = walk_grow(w);
			if (err)
				return err;
			goto again;
		}
		return err;
	}
	w->started = true;
	w->count = count;
	w->pos = 0;
	if (err == -ENOENT)
		w->done = true;
	else
		memcpy(w->in_token, w->out_token,
		       w->key_size > 8 ? w->key_size : 8);
	return 0;
}

/* One element at a time; the key after the current one is fetched first. */
static int walk_next_key(struct map_walk *w, const void **key,
			 const void **value)
{
	int err;

	for (;;) {
		if (!w->started) {
			err = bpf_map_get_next_key(w->fd, NULL, w->next_key);
			w->started = true;
			w->have_next = !err;
			if (err && err != -ENOENT)
				return err;
		}
		if (!w->have_next)
			return 0;
		memcpy(w->keys, w->next_key, w->key_size);
		err = bpf_map_get_next_key(w->fd, w->keys, w->next_key);
		if (err && err != -ENOENT)
			return err;
		w->have_next = !err;
		err = bpf_map_lookup_elem(w->fd, w->keys, w->values);
		if (err == -ENOENT)
			continue; /* deleted since */
		if (err)
			return err;
		*key = w->keys;
		*value = w->values;
		return 1;
	}
}

int map_walk_next(struct map_walk *w, const void **key, const void **value)
{
	int err;

	while (w->use_batch) {
		if (w->pos < w->count) {
			*key = (char *)w->keys + (size_t)w->pos * w->key_size;
			*value = (char *)w->values +
				 (size_t)w->pos * w->value_size;
			w->pos++;
			return 1;
		}
		if (w->done)
			return 0;
		err = walk_fill_batch(w);
		if (err)
			return err;
	}
	return walk_next_key(w, key, value);
}

int nexthops_read(const struct pinned_maps *m, struct nexthop **out, __u32 *n)
{
	__u32 size = m->info[FP_MAP_NEXTHOPS].max_entries;
	const struct nexthop_entry *e;
	struct nexthop *nh;
	struct map_walk w;
	const __u32 *id;
	int err;

	nh = calloc(size ? size : 1, sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	err = map_walk_init(&w, m, FP_MAP_NEXTHOPS, 256);
	if (err)
		goto err_free;
	while ((err = map_walk_next(&w, (const void **)&id,
				    (const void **)&e)) > 0)
		if (*id < size)
			nh[*id] = e->slot[e->live & 1];
	map_walk_free(&w);
	if (err)
		goto err_free;
	*out = nh;
	*n = size;
	return 0;

err_free:
	free(nh);
	return err;
}

int map_count(const struct pinned_maps *m, enum fp_map map, __u64 *count)
{
	const void *key, *value;
	struct map_walk w;
	int err;

	*count = 0;
	/* the copies: every CPU's slots that hold one (flow_cache.h) */
	if (map == FP_MAP_FLOW_CACHE)
		return flow_cache_count(m->fd[FP_MAP_FLOW_CACHE],
					m->fd[FP_MAP_FLOW_CACHE_TAGS], count);
	err = map_walk_init(&w, m, map, 1024);
	if (err)
		return err;
	while ((err = map_walk_next(&w, &key, &value)) > 0) {
		if (map == FP_MAP_NEXTHOPS) {
			const struct nexthop_entry *e = value;

			*count += e->slot[e->live & 1].state != NH_UNUSED;
		} else {
			(*count)++;
		}
	}
	map_walk_free(&w);
	return err;
}

int stats_read(const struct pinned_maps *m, __u64 *v)
{
	__u64 *percpu = calloc(m->ncpus, sizeof(__u64));

	if (!percpu)
		return -ENOMEM;
	for (__u32 i = 0; i < FP_STAT_MAX; i++) {
		v[i] = 0;
		if (i >= m->info[FP_MAP_STATS].max_entries)
			continue;
		if (bpf_map_lookup_elem(m->fd[FP_MAP_STATS], &i, percpu)) {
			int err = -errno;

			free(percpu);
			return err;
		}
		for (int c = 0; c < m->ncpus; c++)
			v[i] += percpu[c];
	}
	free(percpu);
	return 0;
}
