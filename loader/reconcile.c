// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nexthop_table.h"
#include "reconcile.h"

/* One more change; returns it, or NULL. */
static struct nh_change *change_add(struct nh_change **ch, int *n)
{
	struct nh_change *p = realloc(*ch, (*n + 1) * sizeof(**ch));

	if (!p)
		return NULL;
	*ch = p;
	memset(&p[*n], 0, sizeof(*p));
	return &p[(*n)++];
}

/*
 * When each next hop left every route, in boot-time seconds; 0 while a
 * route uses it. Kept by the caller across calls: the drain timeout counts
 * from the first call that saw it withdrawn.
 */
static void note_withdrawal(const struct desired_nh *d, __u32 id,
			    const struct reconcile_opts *o)
{
	if (d->routed)
		o->withdrawn_at[id] = 0;
	else if (!o->withdrawn_at[id])
		o->withdrawn_at[id] = o->now_s;
}

/* Release this id now: no route uses it, and no pin needs it (or may wait). */
static bool should_release(const struct desired_nh *d,
			   enum nexthop_state want, __u32 id,
			   const struct reconcile_opts *o)
{
	if (d->routed)
		return false;
	if (want == NH_DEAD || o->policy == FP_WITHDRAWN_REPIN)
		return true; /* generations keep any old pin from matching */
	/* a count from before the withdrawal may miss pins made since */
	if (o->pins && o->pins_counted_s > o->withdrawn_at[id] && !o->pins[id])
		return true;
	return o->drain_timeout_s && o->now_s >= o->withdrawn_at[id] &&
	       o->now_s - o->withdrawn_at[id] >= o->drain_timeout_s;
}

/*
 * Releases first, then deaths, then changes of known next hops, then new
 * ones: with every id in use, a new next hop only fits once a release has
 * run, and a failed write must not hold back a death (pinned traffic would
 * keep going to a failed neighbour).
 */
static int change_rank(const struct nh_change *c)
{
	if (c->op == NH_RELEASE)
		return 0;
	if (c->state == NH_DEAD)
		return 1;
	return c->id ? 2 : 3;
}

static int order_changes(struct nh_change *ch, int n)
{
	struct nh_change *sorted = malloc(n * sizeof(*sorted));
	int k = 0;

	if (!sorted)
		return -ENOMEM;
	for (int rank = 0; rank <= 3; rank++)
		for (int i = 0; i < n; i++)
			if (change_rank(&ch[i]) == rank)
				sorted[k++] = ch[i];
	memcpy(ch, sorted, n * sizeof(*ch));
	free(sorted);
	return 0;
}

int reconcile(const struct model *m, const struct nexthop *cur, __u32 size,
	      const struct reconcile_opts *opts, struct nh_change **out)
{
	struct nexthop_addr *extra = calloc(size, sizeof(*extra));
	struct nh_change *ch = NULL;
	struct desired_nh *want = NULL;
	int n_extra = 0, n_want, n_ch = 0;

	if (!extra)
		return -ENOMEM;
	for (__u32 id = 1; id < size; id++) {
		if (cur[id].state == NH_UNUSED)
			continue;
		nexthop_addr_of(&extra[n_extra++], &cur[id]);
	}
	n_want = model_nexthops(m, extra, n_extra, &want);
	free(extra);
	if (n_want < 0)
		return n_want;

	for (int i = 0; i < n_want; i++) {
		const struct desired_nh *d = &want[i];
		__u32 id = nexthop_find(cur, size, &d->addr);
		enum nexthop_state state;
		struct nh_change *c;

		if (d->routed)
			state = d->usable ? NH_ACTIVE : NH_DEAD;
		else
			state = d->usable ? NH_WITHDRAWN : NH_DEAD;
		if (!id && state != NH_ACTIVE)
			continue; /* nothing to say of a next hop never usable */
		if (id)
			note_withdrawal(d, id, opts);
		if (id && should_release(d, state, id, opts)) {
			c = change_add(&ch, &n_ch);
			if (!c)
				goto err_nomem;
			c->op = NH_RELEASE;
			c->id = id;
			opts->withdrawn_at[id] = 0;
			continue;
		}
		if (id && cur[id].state == state &&
		    (state == NH_DEAD ||
		     (!memcmp(cur[id].smac, d->smac, FP_ETH_ALEN) &&
		      !memcmp(cur[id].dmac, d->dmac, FP_ETH_ALEN) &&
		      cur[id].mtu == d->mtu)))
			continue;
		c = change_add(&ch, &n_ch);
		if (!c)
			goto err_nomem;
		c->op = NH_SET;
		c->id = id;
		c->addr = d->addr;
		c->state = state;
		/* a dead next hop keeps the MACs it had */
		memcpy(c->smac, state == NH_DEAD ? cur[id].smac : d->smac, FP_ETH_ALEN);
		memcpy(c->dmac, state == NH_DEAD ? cur[id].dmac : d->dmac, FP_ETH_ALEN);
		c->mtu = state == NH_DEAD ? cur[id].mtu : d->mtu;
	}
	free(want);
	if (n_ch > 1 && order_changes(ch, n_ch))
		goto err_nomem_ch;
	*out = ch;
	return n_ch;

err_nomem_ch:
	free(ch);
	return -ENOMEM;
err_nomem:
	free(want);
	free(ch);
	return -ENOMEM;
}
