/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pin sync's repair (anti-entropy), the parts that judge pins: plain C, no
 * maps or sockets, as the unit tests run it. sync.c walks flow_pins and
 * sends; docs/DESIGN.md, "Repair", has the exchange:
 *
 *   asker -> maker   SYNC_DIGEST: the maker's pins I hold, by range
 *   maker -> asker   SYNC_DIFF: the ranges where mine differ; then my pins
 *                    of those ranges (SYNC_PINS, SYNC_F_REPAIR)
 *   asker -> maker   the maker's pins it holds of those ranges (the same):
 *                    a pin its maker lost comes back to it
 */
#ifndef FLOWPIN_SYNC_REPAIR_H
#define FLOWPIN_SYNC_REPAIR_H

#include <stdbool.h>
#include <stdint.h>
#include "sync_wire.h"

/*
 * The gateways of a peer's pins that this router cannot take (no usable
 * next hop has them): its digests of that peer's pins name them, and the
 * peer leaves them out of its own, so pins that could never be applied
 * here do not make a range differ for good. Learnt from the pins skipped;
 * one that became usable leaves at the next digest.
 */
struct repair_gws {
	uint32_t n;
	bool full; /* more than SYNC_DIGEST_MAX_GW: the peer cannot be asked */
	uint8_t family[SYNC_DIGEST_MAX_GW];
	__be32 gw[SYNC_DIGEST_MAX_GW][4];
	uint64_t hash[SYNC_DIGEST_MAX_GW];
};

void repair_gws_add(struct repair_gws *g, const struct sync_pin *skipped);
/* One known by its hash alone (it cannot be pruned: a list to name). */
void repair_gws_add_hash(struct repair_gws *g, uint64_t hash);
/* Keep those usable() still refuses. */
void repair_gws_prune(struct repair_gws *g,
		      bool (*usable)(void *ctx, uint8_t family, const __be32 gw[4]),
		      void *ctx);

/* The pin's gateway is among these n (sync_gw_hash()es). */
bool repair_gw_named(const uint64_t *gw, uint32_t n, const struct sync_pin *p);

/* Which pins of a walk a digest or a repair counts: made before cut. */
struct repair_filter {
	bool on;
	uint64_t cut;
	uint64_t ranges;  /* a bit a range: those a repair sends */
	uint32_t n_gw;	  /* gateways left out (struct sync_digest's) */
	uint64_t gw[SYNC_DIGEST_MAX_GW];
};

/* What a digest counts (its cut, its gateways left out), of these ranges. */
void repair_filter_of(struct repair_filter *f, const struct sync_digest *d,
		      uint64_t ranges);
/* The pin is made before the cut, and its gateway is not left out. */
bool repair_counts(const struct repair_filter *f, const struct sync_pin *p);
/* ... and it is of a range the repair sends. */
bool repair_sends(const struct repair_filter *f, const struct sync_pin *p);

/* A digest being summed: add every pin repair_counts(). */
void repair_digest_add(struct sync_digest *d, const struct sync_pin *p);
/* The ranges where two digests differ, a bit each. */
uint64_t repair_diff(const struct sync_digest *a, const struct sync_digest *b);

/*
 * A maker's own pins summed once by gateway and range, made before cut:
 * every peer's digest of that cut is answered from it, whatever gateways
 * it lacks (the XOR of the others), so a router walks its table once a
 * cut, not once a peer. The peers' cuts agree: each asks at the same
 * moments of CLOCK_TAI (DESIGN.md, "Repair"). More gateways than
 * REPAIR_SUMS_GW: overflow, and each digest is answered by a walk of its
 * own.
 */
#define REPAIR_SUMS_GW 64

struct repair_sums {
	uint64_t cut;
	bool valid;	/* summed over the whole table */
	bool overflow;
	uint32_t n;
	uint64_t gw[REPAIR_SUMS_GW];
	uint64_t range[REPAIR_SUMS_GW][SYNC_RANGES];
};

void repair_sums_reset(struct repair_sums *s, uint64_t cut);
/* A pin of the table's: counted when made before the cut. */
void repair_sums_add(struct repair_sums *s, const struct sync_pin *p);
/*
 * What a digest of this cut, leaving out its gateways, sums to here:
 * false when these sums cannot say (not valid, another cut, overflow).
 */
bool repair_sums_digest(const struct repair_sums *s,
			const struct sync_digest *theirs, struct sync_digest *ours);

#endif /* FLOWPIN_SYNC_REPAIR_H */
