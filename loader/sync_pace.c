// SPDX-License-Identifier: GPL-2.0
#include "sync_pace.h"

bool sync_pace_take(struct sync_pace *p, uint64_t now_ns, uint32_t srtt_us,
		    uint32_t window)
{
	double rtt_s = (srtt_us ? srtt_us : SYNC_PACE_RTT_US) / 1e6;
	double rate = 2.0 * window / rtt_s; /* datagrams a second */
	double burst = rate * SYNC_PACE_TICK_MS / 1000.0;

	if (burst < SYNC_PACE_BURST)
		burst = SYNC_PACE_BURST;
	if (now_ns > p->ns) {
		p->tokens += (now_ns - p->ns) / 1e9 * rate;
		p->ns = now_ns;
	}
	if (p->tokens > burst)
		p->tokens = burst;
	if (p->tokens < 1)
		return false;
	p->tokens--;
	return true;
}
