// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "sync_repair.h"

static unsigned int gw_len(uint8_t family)
{
	return family == FP_AF_INET ? 4 : 16;
}

/* Is the gateway of hash h among the n named? */
static bool hash_named(const uint64_t *gw, uint32_t n, uint64_t h)
{
	for (uint32_t i = 0; i < n; i++)
		if (gw[i] == h)
			return true;
	return false;
}

/* One more, by its hash; family 0: known by the hash alone. */
static void gws_add(struct repair_gws *g, uint64_t h, uint8_t family,
		    const __be32 *gw)
{
	if (hash_named(g->hash, g->n, h))
		return;
	if (g->n == SYNC_DIGEST_MAX_GW) {
		g->full = true;
		return;
	}
	g->family[g->n] = family;
	memset(g->gw[g->n], 0, sizeof(g->gw[g->n]));
	if (family)
		memcpy(g->gw[g->n], gw, gw_len(family));
	g->hash[g->n++] = h;
}

void repair_gws_add(struct repair_gws *g, const struct sync_pin *skipped)
{
	gws_add(g, sync_gw_hash(skipped->gw_family, skipped->gw),
		skipped->gw_family, skipped->gw);
}

void repair_gws_add_hash(struct repair_gws *g, uint64_t hash)
{
	gws_add(g, hash, 0, NULL);
}

void repair_gws_prune(struct repair_gws *g,
		      bool (*usable)(void *ctx, uint8_t family, const __be32 gw[4]),
		      void *ctx)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < g->n; i++) {
		if (usable(ctx, g->family[i], g->gw[i]))
			continue;
		g->family[k] = g->family[i];
		memcpy(g->gw[k], g->gw[i], sizeof(g->gw[k]));
		g->hash[k++] = g->hash[i];
	}
	g->n = k;
	g->full = false; /* those skipped since are learnt again */
}

void repair_filter_of(struct repair_filter *f, const struct sync_digest *d,
		      uint64_t ranges)
{
	f->on = true;
	f->cut = d->cut;
	f->ranges = ranges;
	f->n_gw = d->n_gw;
	memcpy(f->gw, d->gw, d->n_gw * sizeof(f->gw[0]));
}

bool repair_gw_named(const uint64_t *gw, uint32_t n, const struct sync_pin *p)
{
	return n && hash_named(gw, n, sync_gw_hash(p->gw_family, p->gw));
}

bool repair_counts(const struct repair_filter *f, const struct sync_pin *p)
{
	return FP_RANK_TIME(p->rank) < f->cut && !repair_gw_named(f->gw, f->n_gw, p);
}

bool repair_sends(const struct repair_filter *f, const struct sync_pin *p)
{
	return f->ranges & 1ULL << sync_pin_range(p) && repair_counts(f, p);
}

void repair_digest_add(struct sync_digest *d, const struct sync_pin *p)
{
	d->range[sync_pin_range(p)] ^= sync_pin_hash(p);
}

uint64_t repair_diff(const struct sync_digest *a, const struct sync_digest *b)
{
	uint64_t m = 0;

	for (unsigned int i = 0; i < SYNC_RANGES; i++)
		if (a->range[i] != b->range[i])
			m |= 1ULL << i;
	return m;
}

void repair_sums_reset(struct repair_sums *s, uint64_t cut)
{
	s->cut = cut;
	s->valid = s->overflow = false;
	s->n = 0;
}

void repair_sums_add(struct repair_sums *s, const struct sync_pin *p)
{
	uint64_t h;
	uint32_t i;

	if (FP_RANK_TIME(p->rank) >= s->cut || s->overflow)
		return;
	h = sync_gw_hash(p->gw_family, p->gw);
	for (i = 0; i < s->n && s->gw[i] != h; i++)
		;
	if (i == s->n) {
		if (s->n == REPAIR_SUMS_GW) {
			s->overflow = true;
			return;
		}
		s->gw[s->n] = h;
		memset(s->range[s->n++], 0, sizeof(s->range[0]));
	}
	s->range[i][sync_pin_range(p)] ^= sync_pin_hash(p);
}

bool repair_sums_digest(const struct repair_sums *s,
			const struct sync_digest *theirs, struct sync_digest *ours)
{
	if (!s->valid || s->overflow || s->cut != theirs->cut)
		return false;
	memset(ours->range, 0, sizeof(ours->range));
	for (uint32_t i = 0; i < s->n; i++) {
		if (hash_named(theirs->gw, theirs->n_gw, s->gw[i]))
			continue;
		for (unsigned int r = 0; r < SYNC_RANGES; r++)
			ours->range[r] ^= s->range[i][r];
	}
	return true;
}
