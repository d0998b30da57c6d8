/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The maps flowpind pins, opened by path, and a streaming walk over a map:
 * batched reads where the kernel has them, get_next_key otherwise, so a
 * million pins never sit in memory.
 */
#ifndef FLOWPIN_PINNED_MAPS_H
#define FLOWPIN_PINNED_MAPS_H

#include <stdbool.h>
#include <linux/bpf.h>
#include "flowpin.h"

enum fp_map {
	FP_MAP_FLOW_CACHE,
	FP_MAP_FLOW_CACHE_TAGS,
	FP_MAP_FLOW_PINS,
	FP_MAP_NEXTHOPS,
	FP_MAP_NEXTHOP_INDEX,
	FP_MAP_TX_PORTS,
	FP_MAP_STATS,
	FP_MAP_DAEMON_STATUS,
	FP_MAP_SYNC_PEERS,
	FP_MAP_COUNT,
};

#define FP_MAP_BIT(m) (1u << (m))
/* flow_cache is read with its tags (flow_cache.h) */
#define FP_MAP_CACHE_BITS \
	(FP_MAP_BIT(FP_MAP_FLOW_CACHE) | FP_MAP_BIT(FP_MAP_FLOW_CACHE_TAGS))

struct pinned_maps {
	const char *path;
	int ncpus;
	int fd[FP_MAP_COUNT]; /* -1 when not opened */
	struct bpf_map_info info[FP_MAP_COUNT];
};

const char *fp_map_name(enum fp_map m);

/*
 * Open the maps in the mask (FP_MAP_BIT()s) pinned under path and check
 * their key and value sizes against flowpin.h. Reports the error itself,
 * one line: no pins there, no privileges, a map of another build.
 * daemon_status and sync_peers are optional: their fds stay -1 when they
 * are not pinned (maps of an older build).
 */
int pinned_maps_open(struct pinned_maps *m, const char *path,
		     unsigned int mask);
void pinned_maps_close(struct pinned_maps *m);

/* Bytes of a value as the syscalls see it (all CPUs for per-CPU maps). */
__u32 map_value_bytes(const struct pinned_maps *m, enum fp_map map);

struct map_walk {
	int fd;
	__u32 key_size, value_size; /* value_size: all CPUs */
	__u32 batch;		    /* elements per batched read */
	bool use_batch, started, done;
	void *keys, *values;
	__u32 count, pos;	    /* elements in the buffers, next one */
	void *in_token, *out_token; /* batch cursors */
	void *next_key;		    /* get_next_key: the element after this */
	bool have_next;
};

int map_walk_init(struct map_walk *w, const struct pinned_maps *m,
		  enum fp_map map, __u32 batch);
/*
 * The next element: 1 and key/value set, 0 at the end, or -errno. The
 * element returned may be deleted before the next call.
 */
int map_walk_next(struct map_walk *w, const void **key, const void **value);
void map_walk_free(struct map_walk *w);

/* Elements in a hash map, or used ids in nexthops. */
int map_count(const struct pinned_maps *m, enum fp_map map, __u64 *count);

/* The live copy of every next hop, by id: *out has info.max_entries. */
int nexthops_read(const struct pinned_maps *m, struct nexthop **out,
		  __u32 *n);

/* Sum of every CPU's counters: v has FP_STAT_MAX. */
int stats_read(const struct pinned_maps *m, __u64 *v);

#endif /* FLOWPIN_PINNED_MAPS_H */
