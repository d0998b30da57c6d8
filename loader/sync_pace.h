/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pin sync's pacing, per peer: what it sends (pins, their copies) leaves
 * at twice its window per round trip at most, as QUIC paces (RFC 9002,
 * 7.7), in bursts of SYNC_PACE_BURST datagrams or what one tick of
 * SYNC_PACE_TICK_MS allows at that rate, whichever is more. So a full
 * window does not leave at once towards a far or busy peer, whose acks
 * come late; towards a near one (a round trip of a millisecond or less)
 * it does not slow anything down. Plain C on a clock given, as the unit
 * tests run it.
 */
#ifndef FLOWPIN_SYNC_PACE_H
#define FLOWPIN_SYNC_PACE_H

#include <stdbool.h>
#include <stdint.h>

#define SYNC_PACE_BURST 32	  /* datagrams at once, at the least */
#define SYNC_PACE_TICK_MS 10	  /* how often the sender wakes, at the least */
#define SYNC_PACE_RTT_US 100000	  /* the round trip taken before one is measured */

struct sync_pace {
	double tokens; /* datagrams that may go now */
	uint64_t ns;   /* when they were counted (CLOCK_MONOTONIC) */
};

/*
 * May one more datagram go at now_ns, to a peer of this smoothed round
 * trip (0: not measured yet) and window (datagrams unacked at most)? True
 * takes it.
 */
bool sync_pace_take(struct sync_pace *p, uint64_t now_ns, uint32_t srtt_us,
		    uint32_t window);

#endif /* FLOWPIN_SYNC_PACE_H */
