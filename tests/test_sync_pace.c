// SPDX-License-Identifier: GPL-2.0
/*
 * Pin sync's pacing (loader/sync_pace.h) on a clock the test turns: a
 * far peer's window leaves in bursts of SYNC_PACE_BURST and then at twice
 * the window per round trip; a near peer's at once; before a round trip
 * is measured, as if it were SYNC_PACE_RTT_US.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sync_pace.h"

#define WINDOW 512
#define T0 1000000000000ULL /* a CLOCK_MONOTONIC time, in ns */

/* Datagrams that may go at now_ns, of at most n wanted. */
static int take(struct sync_pace *p, uint64_t now_ns, uint32_t srtt_us, int n)
{
	int k = 0;

	while (k < n && sync_pace_take(p, now_ns, srtt_us, WINDOW))
		k++;
	return k;
}

/* A round trip of 1 s: 1,024 datagrams a second, in bursts of 32. */
static void a_far_peer_gets_bursts_at_the_rate(void **state)
{
	struct sync_pace p = { 0 };
	int sent;

	(void)state;
	assert_int_equal(take(&p, T0, 1000000, WINDOW), SYNC_PACE_BURST);
	/* 10 ms later: 10.24 more */
	assert_int_equal(take(&p, T0 + 10000000, 1000000, WINDOW), 10);
	/* the tokens' fraction is kept: 100 ms in 10 ticks, 102 or 103 */
	sent = 0;
	for (int i = 2; i <= 11; i++)
		sent += take(&p, T0 + i * 10000000ULL, 1000000, WINDOW);
	assert_in_range(sent, 102, 103);
	/* idle for long, then a burst again, no more */
	assert_int_equal(take(&p, T0 + 60ULL * 1000000000, 1000000, WINDOW),
			 SYNC_PACE_BURST);
	/* a whole second, asked every tick: the rate, give or take one */
	sent = 0;
	for (int i = 1; i <= 100; i++)
		sent += take(&p, T0 + 60ULL * 1000000000 + i * 10000000ULL, 1000000,
			     WINDOW);
	assert_in_range(sent, 1023, 1025);
}

/* A round trip of 100 us: the window at once. */
static void a_near_peer_gets_the_window_at_once(void **state)
{
	struct sync_pace p = { 0 };

	(void)state;
	assert_int_equal(take(&p, T0, 100, WINDOW), WINDOW);
}

/*
 * No round trip yet: 100 ms taken, 10,240 a second, bursts of what a tick
 * allows (102); a clock that went back (it cannot, but) gives nothing.
 */
static void before_a_round_trip_it_is_taken_as_100_ms(void **state)
{
	struct sync_pace p = { 0 };

	(void)state;
	assert_int_equal(take(&p, T0, 0, WINDOW), 102);
	assert_int_equal(take(&p, T0 - 5000000, 0, WINDOW), 0);
	assert_int_equal(take(&p, T0 + 1000000, 0, WINDOW), 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_far_peer_gets_bursts_at_the_rate),
		cmocka_unit_test(a_near_peer_gets_the_window_at_once),
		cmocka_unit_test(before_a_round_trip_it_is_taken_as_100_ms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
