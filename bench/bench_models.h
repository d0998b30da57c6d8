/* SPDX-License-Identifier: GPL-2.0 */
/* What models.bpf.c and section 6 (models.c) agree on: its counters. */
#ifndef FLOWPIN_BENCH_MODELS_H
#define FLOWPIN_BENCH_MODELS_H

enum model_stat {
	M_HIT = 0,   /* found in the model's first structure */
	M_SECOND,    /* found in the shared pins behind it, and copied */
	M_NEW,	     /* asked of the FIB and pinned */
	M_FORWARDED,
	M_PASS,
	M_STAT_MAX,
};

#endif
