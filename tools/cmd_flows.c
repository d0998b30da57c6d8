// SPDX-License-Identifier: GPL-2.0
/* flows, lookup, flush: the pins in flow_pins and their copies in flow_cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "ctl_args.h"
#include "flow_cache.h"
#include "flowpinctl.h"

#define PIN_BATCH 1024

static bool flow_selected(const struct flows_args *a,
			  const struct nexthop_view *v,
			  const struct flow_key *key, const struct flow_pin *pin)
{
	if (a->has_src && !prefix_match(&a->src, key->family, key->saddr))
		return false;
	if (a->has_dst && !prefix_match(&a->dst, key->family, key->daddr))
		return false;
	return !v->selected || nexthop_view_pin_selected(v, pin);
}

int do_flows(struct ctl *ctl, int argc, char **argv)
{
	const struct flow_key *key;
	const struct flow_pin *pin;
	struct nexthop_view v;
	struct flows_args a;
	struct map_walk w;
	struct table t;
	__u64 n = 0;
	int err;

	err = flows_args_parse(argc, argv, &a);
	if (err)
		return err;
	err = nexthop_view_open(ctl, 0, a.has_nexthop ? &a.nexthop : NULL, &v);
	if (err)
		return err;
	err = map_walk_init(&w, &ctl->maps, FP_MAP_FLOW_PINS, PIN_BATCH);
	if (err)
		goto out_view;
	if (!a.count && !ctl->json)
		err = table_init(&t, stdout, flow_cols, FLOW_NCOLS);
	if (err)
		goto out_walk;
	if (!a.count && ctl->json)
		jw_array_start(&ctl->jw);
	while ((!a.limit || n < a.limit) &&
	       (err = map_walk_next(&w, (const void **)&key,
				    (const void **)&pin)) > 0) {
		if (!flow_selected(&a, &v, key, pin))
			continue;
		n++;
		if (a.count)
			continue;
		if (ctl->json)
			flow_row_json(&ctl->jw, key, pin, &v);
		else
			flow_row_table(&t, key, pin, &v);
	}
	if (err > 0)
		err = 0; /* stopped at the limit */
	if (a.count) {
		if (ctl->json) {
			jw_object_start(&ctl->jw);
			jw_uint_field(&ctl->jw, "count", n);
			jw_object_end(&ctl->jw);
		} else {
			printf("%llu\n", (unsigned long long)n);
		}
	} else if (ctl->json) {
		jw_array_end(&ctl->jw);
	} else {
		table_end(&t);
	}
	if (err)
		fprintf(stderr, "flowpinctl: reading flow_pins: %s\n",
			strerror(-err));
out_walk:
	map_walk_free(&w);
out_view:
	nexthop_view_free(&v);
	return err;
}

/* The CPUs whose flow_cache holds a copy of the flow's pin. */
static void lookup_cache(struct ctl *ctl, const struct flow_key *key,
			 const struct flow_pin *pin)
{
	int ncpus = ctl->maps.ncpus, copies = 0;
	struct flow_pin *cpu = calloc(ncpus, sizeof(*cpu));

	if (!cpu || flow_cache_copies(ctl->maps.fd[FP_MAP_FLOW_CACHE],
				      ctl->maps.fd[FP_MAP_FLOW_CACHE_TAGS],
				      ncpus, key, cpu))
		ncpus = 0;
	if (ctl->json) {
		jw_name(&ctl->jw, "cache");
		jw_array_start(&ctl->jw);
	}
	for (int c = 0; c < ncpus; c++) {
		const struct flow_pin *pc = &cpu[c];

		if (!pc->nh_id)
			continue;
		if (ctl->json) {
			jw_object_start(&ctl->jw);
			jw_uint_field(&ctl->jw, "cpu", c);
			jw_uint_field(&ctl->jw, "nh_id", pc->nh_id);
			jw_uint_field(&ctl->jw, "nh_gen", pc->nh_gen);
			jw_bool_field(&ctl->jw, "same", pin &&
				      pc->nh_id == pin->nh_id &&
				      pc->nh_gen == pin->nh_gen);
			jw_object_end(&ctl->jw);
		} else {
			printf("%s%d%s", copies ? " " : "cached on CPU ", c,
			       pin && pc->nh_id == pin->nh_id &&
					       pc->nh_gen == pin->nh_gen ?
				       "" : "(differs)");
		}
		copies++;
	}
	if (ctl->json)
		jw_array_end(&ctl->jw);
	else
		printf("%s\n", copies ? "" : "not in any CPU's flow_cache");
	free(cpu);
}

int do_lookup(struct ctl *ctl, int argc, char **argv)
{
	char text[FLOW_TEXT_MAX];
	const struct nexthop *nh;
	struct nexthop_view v;
	struct flow_key key;
	struct flow_pin pin;
	const char *why;
	bool pinned;
	int err;

	if (argc < 2) {
		fprintf(stderr, "flowpinctl lookup: give a FLOW: PROTO SRC DST, e.g. tcp 10.0.0.1:40000 198.51.100.10:80\n");
		return -EINVAL;
	}
	if (flow_parse_argv(argc - 1, argv + 1, &key, &why)) {
		fprintf(stderr, "flowpinctl lookup: malformed FLOW: %s\n", why);
		return -EINVAL;
	}
	err = nexthop_view_open(ctl, FP_MAP_CACHE_BITS, NULL, &v);
	if (err)
		return err;
	/* a lookup from a syscall leaves the LRU's view of the flow alone */
	err = bpf_map_lookup_elem(ctl->maps.fd[FP_MAP_FLOW_PINS], &key, &pin);
	if (err && err != -ENOENT) {
		fprintf(stderr, "flowpinctl: flow_pins: %s\n", strerror(-err));
		nexthop_view_free(&v);
		return err;
	}
	pinned = !err;
	flow_format(&key, text, sizeof(text));
	nh = pinned ? nexthop_view_pin(&v, &pin) : NULL;
	if (ctl->json) {
		jw_object_start(&ctl->jw);
		jw_string_field(&ctl->jw, "flow", text);
		jw_bool_field(&ctl->jw, "pinned", pinned);
		if (pinned) {
			jw_name(&ctl->jw, "pin");
			flow_row_json(&ctl->jw, &key, &pin, &v);
		}
	} else if (!pinned) {
		printf("%s: not pinned\n", text);
	} else if (nh) {
		char origin[64];

		printf("%s: pinned to %s dev %s (id %u, gen %u, %s), %s\n", text,
		       v.gw[pin.nh_id], v.dev[pin.nh_id], pin.nh_id, pin.nh_gen,
		       fp_nexthop_state_name(nh->state),
		       pin_origin_format(&pin, origin, sizeof(origin)));
	} else {
		printf("%s: stale pin (id %u, gen %u): resolved again on its next packet\n",
		       text, pin.nh_id, pin.nh_gen);
	}
	lookup_cache(ctl, &key, pinned ? &pin : NULL);
	if (ctl->json)
		jw_object_end(&ctl->jw);
	nexthop_view_free(&v);
	return 0;
}

/*
 * Delete the pin and every CPU's copy of it. A packet between the two may
 * put the pin back from a copy: check once, and delete again.
 */
static int flush_one(struct ctl *ctl, const struct flow_key *key)
{
	int pins = ctl->maps.fd[FP_MAP_FLOW_PINS];
	int cache = ctl->maps.fd[FP_MAP_FLOW_CACHE];
	int tags = ctl->maps.fd[FP_MAP_FLOW_CACHE_TAGS];
	struct flow_pin pin;
	__u64 copies = 0;
	int err;

	for (int round = 0; round < 2; round++) {
		err = bpf_map_delete_elem(pins, key);
		if (err && err != -ENOENT)
			return err;
		err = flow_cache_forget(cache, tags, ctl->maps.ncpus, key, NULL,
					NULL, &copies);
		if (err)
			return err;
		if (bpf_map_lookup_elem(pins, key, &pin))
			break;
	}
	return 0;
}

static bool has_no_pin(const struct flow_key *key, void *ctx)
{
	struct ctl *ctl = ctx;
	struct flow_pin pin;

	return bpf_map_lookup_elem(ctl->maps.fd[FP_MAP_FLOW_PINS], key, &pin) ==
	       -ENOENT;
}

/* flow_cache copies whose pin is gone from flow_pins. */
static int flush_cache(struct ctl *ctl, __u64 *n)
{
	return flow_cache_forget(ctl->maps.fd[FP_MAP_FLOW_CACHE],
				 ctl->maps.fd[FP_MAP_FLOW_CACHE_TAGS], ctl->maps.ncpus,
				 NULL, has_no_pin, ctl, n);
}

int do_flush(struct ctl *ctl, int argc, char **argv)
{
	const struct flow_key *key;
	const struct flow_pin *pin;
	struct nexthop_view v;
	struct flush_args a;
	struct map_walk w;
	__u64 n = 0, cached = 0;
	int err;

	err = flush_args_parse(argc, argv, &a);
	if (err)
		return err;
	err = nexthop_view_open(ctl, FP_MAP_CACHE_BITS,
				a.has_nexthop ? &a.nexthop : NULL, &v);
	if (err)
		return err;
	err = map_walk_init(&w, &ctl->maps, FP_MAP_FLOW_PINS, PIN_BATCH);
	if (err)
		goto out_view;
	/* deleting what was read is safe: the walk's cursor is past it */
	while ((err = map_walk_next(&w, (const void **)&key,
				    (const void **)&pin)) > 0) {
		if (v.selected && !nexthop_view_pin_selected(&v, pin))
			continue;
		err = flush_one(ctl, key);
		if (err)
			break;
		n++;
	}
	map_walk_free(&w);
	if (!err && a.all)
		err = flush_cache(ctl, &cached);
	if (err) {
		fprintf(stderr, "flowpinctl flush: %s\n", strerror(-err));
	} else if (ctl->json) {
		jw_object_start(&ctl->jw);
		jw_uint_field(&ctl->jw, "flushed", n);
		if (a.all)
			jw_uint_field(&ctl->jw, "cache_only", cached);
		jw_object_end(&ctl->jw);
	} else {
		printf("flushed %llu pins", (unsigned long long)n);
		if (a.all)
			printf(" and %llu cached copies without a pin",
			       (unsigned long long)cached);
		printf("\n");
	}
out_view:
	nexthop_view_free(&v);
	return err;
}
