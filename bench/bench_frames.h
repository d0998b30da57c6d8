/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the bench's BPF programs and its userspace agree on: how a flow
 * number becomes a frame. Flow f goes to dsts[f % BENCH_NDST] from source
 * BENCH_SRC_BASE + f / BENCH_NDST, so every flow number is a distinct key.
 */
#ifndef FLOWPIN_BENCH_FRAMES_H
#define FLOWPIN_BENCH_FRAMES_H

#define BENCH_NDST_SHIFT 12
#define BENCH_NDST (1 << BENCH_NDST_SHIFT) /* distinct destinations */
#define BENCH_SRC_BASE 0xAC100000U	    /* 172.16.0.0 */
#define BENCH_SPORT 7000
#define BENCH_DPORT 53
#define BENCH_FRAME_LEN 60 /* 64 on the wire with the FCS */

/* Driver targets: slots of its prog array. */
enum bench_target {
	BT_P0 = 0,
	BT_FLOWPIN = 1,
	BT_REF = 2,
	BT_FLOWPIN_SYNC = 3, /* flowpin telling of new pins (pin_events) */
	BT_FLOWPIN_SHARED = 4, /* flowpin with a tiny flow_cache: no cache hits */
	BT_MODEL = 5, /* section 6: the cache model under test */
	BT_MAX,
};

/* The reference forwarder's counters. */
enum ref_stat {
	REF_FORWARDED = 0,
	REF_PASS,
	REF_STAT_MAX,
};

#endif
