/* SPDX-License-Identifier: GPL-2.0 */
/* The clocks flowpind reads, in the units its callers want. */
#ifndef FLOWPIN_CLOCK_H
#define FLOWPIN_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Seconds of CLOCK_MONOTONIC: for durations and deadlines in the logs. */
static inline double mono_s(void)
{
	return now_ns(CLOCK_MONOTONIC) / 1e9;
}

#endif /* FLOWPIN_CLOCK_H */
