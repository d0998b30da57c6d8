// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>

#include "peers_text.h"
#include "table.h"

static const char *const states[] = {
	[FP_PEER_UNUSED] = "unused", [FP_PEER_SELF] = "self",
	[FP_PEER_WAITING] = "waiting", [FP_PEER_BULK] = "bulk",
	[FP_PEER_UP] = "up", [FP_PEER_DOWN] = "down",
};

static const char *const drops[FP_DROP_MAX] = {
	[FP_DROP_SHORT] = "short", [FP_DROP_LONG] = "oversized",
	[FP_DROP_VERSION] = "version", [FP_DROP_MALFORMED] = "malformed",
	[FP_DROP_AUTH] = "auth", [FP_DROP_REPLAY] = "replay",
	[FP_DROP_CLOCK] = "clock", [FP_DROP_UNKNOWN] = "unknown_peer",
};

static const char *const skips[FP_SKIP_MAX] = {
	[FP_SKIP_HAVE] = "have_pin", [FP_SKIP_GATEWAY] = "unknown_gateway",
	[FP_SKIP_UNUSABLE] = "unusable_nexthop", [FP_SKIP_FULL] = "map_refused",
	[FP_SKIP_BUDGET] = "turnover_budget", [FP_SKIP_BETTER] = "better_pin",
};

const char *peer_state_name(__u8 state)
{
	return state < sizeof(states) / sizeof(states[0]) ? states[state] : "?";
}

const char *sync_drop_name(int reason)
{
	return reason >= 0 && reason < FP_DROP_MAX ? drops[reason] : "?";
}

const char *sync_skip_name(int reason)
{
	return reason >= 0 && reason < FP_SKIP_MAX ? skips[reason] : "?";
}

const char *router_id_format(__u32 id, char *buf, size_t len)
{
	struct in_addr a = { htonl(id) };

	return inet_ntop(AF_INET, &a, buf, len) ? buf : "?";
}

void peer_addr_text(const struct sync_peer_status *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(p->family == FP_AF_INET ? AF_INET : AF_INET6, p->addr, a,
		  sizeof(a));
	snprintf(buf, len, p->family == FP_AF_INET ? "%s:%u" : "[%s]:%u", a,
		 p->port);
}

static __u64 sum(const __u64 *v, int n)
{
	__u64 s = 0;

	while (n--)
		s += v[n];
	return s;
}

static const struct table_col cols[] = {
	{ "PEER", false },    { "STATE", false },  { "LAST", true },
	{ "PINS SENT", true }, { "RECEIVED", true }, { "APPLIED", true },
	{ "RESENDS", true },  { "DROPS", true },   { "QUEUED", true },
	{ "LAG", true },      { "RTT", true },
};

/* The pins a peer agreed with, or not: shown on their own line. */
static bool rule_skip(int reason)
{
	return reason == FP_SKIP_HAVE || reason == FP_SKIP_BETTER;
}

int peers_table(FILE *out, const struct sync_peer_status *p, int n, __u64 now_s)
{
	struct table t;
	char addr[64];
	bool any = false;

	if (table_init(&t, out, cols, sizeof(cols) / sizeof(cols[0])))
		return -1;
	for (int i = 0; i < n; i++) {
		if (!p[i].family)
			continue;
		any = true;
		peer_addr_text(&p[i], addr, sizeof(addr));
		table_cell(&t, "%s", addr);
		table_cell(&t, "%s", peer_state_name(p[i].state));
		if (p[i].state == FP_PEER_SELF || !p[i].last_rx_s)
			table_cell(&t, "-");
		else
			table_cell(&t, "%" PRIu64 "s ago",
				   (uint64_t)(now_s > p[i].last_rx_s ?
						      now_s - p[i].last_rx_s : 0));
		table_cell(&t, "%" PRIu64, (uint64_t)p[i].pins_sent);
		table_cell(&t, "%" PRIu64, (uint64_t)p[i].pins_received);
		table_cell(&t, "%" PRIu64, (uint64_t)p[i].pins_applied);
		table_cell(&t, "%" PRIu64, (uint64_t)p[i].resends);
		table_cell(&t, "%" PRIu64, (uint64_t)sum(p[i].drops, FP_DROP_MAX));
		if (p[i].state == FP_PEER_SELF) {
			table_cell(&t, "-");
			table_cell(&t, "-");
			table_cell(&t, "-");
			continue;
		}
		table_cell(&t, "%u", p[i].queued);
		table_cell(&t, "%u ms", p[i].lag_ms);
		if (p[i].rtt_us)
			table_cell(&t, "%.1f ms", p[i].rtt_us / 1000.0);
		else
			table_cell(&t, "-");
	}
	table_end(&t);
	if (!any) {
		fprintf(out, "pin sync is off (flowpind runs without --sync)\n");
		return 0;
	}
	/* the fleet's rule: where a peer and this router disagreed */
	for (int i = 0; i < n; i++) {
		__u64 conflicts = p[i].pins_replaced + p[i].skips[FP_SKIP_BETTER];

		if (!p[i].family || !(conflicts + p[i].skips[FP_SKIP_HAVE]))
			continue;
		peer_addr_text(&p[i], addr, sizeof(addr));
		fprintf(out, "%s: conflicts %" PRIu64 " (theirs taken %" PRIu64
			", ours kept %" PRIu64 "), agreed %" PRIu64 "\n", addr,
			(uint64_t)conflicts, (uint64_t)p[i].pins_replaced,
			(uint64_t)p[i].skips[FP_SKIP_BETTER],
			(uint64_t)p[i].skips[FP_SKIP_HAVE]);
	}
	/* the reasons, one line per peer that has any */
	for (int i = 0; i < n; i++) {
		const char *sep = ": ";

		__u64 skipped = sum(p[i].skips, FP_SKIP_MAX) -
				p[i].skips[FP_SKIP_HAVE] - p[i].skips[FP_SKIP_BETTER];

		if (!p[i].family ||
		    !(sum(p[i].drops, FP_DROP_MAX) + skipped + p[i].queue_drops))
			continue;
		peer_addr_text(&p[i], addr, sizeof(addr));
		fprintf(out, "%s", addr);
		for (int r = 0; r < FP_DROP_MAX; r++)
			if (p[i].drops[r]) {
				fprintf(out, "%sdropped %s %" PRIu64, sep, drops[r],
					(uint64_t)p[i].drops[r]);
				sep = ", ";
			}
		for (int r = 0; r < FP_SKIP_MAX; r++)
			if (p[i].skips[r] && !rule_skip(r)) {
				fprintf(out, "%snot applied %s %" PRIu64, sep, skips[r],
					(uint64_t)p[i].skips[r]);
				sep = ", ";
			}
		if (p[i].queue_drops)
			fprintf(out, "%snot sent (queue full) %" PRIu64, sep,
				(uint64_t)p[i].queue_drops);
		fputc('\n', out);
	}
	return 0;
}

void peers_json(struct json_writer *w, const struct sync_peer_status *p, int n,
		__u64 now_s)
{
	char addr[64];

	jw_array_start(w);
	for (int i = 0; i < n; i++) {
		if (!p[i].family)
			continue;
		peer_addr_text(&p[i], addr, sizeof(addr));
		jw_object_start(w);
		jw_string_field(w, "peer", addr);
		jw_bool_field(w, "self", p[i].state == FP_PEER_SELF);
		jw_string_field(w, "state", peer_state_name(p[i].state));
		jw_name(w, "last_message_s_ago");
		if (p[i].state == FP_PEER_SELF || !p[i].last_rx_s)
			jw_null(w);
		else
			jw_uint(w, now_s > p[i].last_rx_s ? now_s - p[i].last_rx_s : 0);
		jw_uint_field(w, "messages_sent", p[i].msgs_sent);
		jw_uint_field(w, "messages_received", p[i].msgs_received);
		jw_uint_field(w, "pins_sent", p[i].pins_sent);
		jw_uint_field(w, "pins_received", p[i].pins_received);
		jw_uint_field(w, "pins_applied", p[i].pins_applied);
		jw_uint_field(w, "bulk_pins", p[i].bulk_pins);
		jw_uint_field(w, "resends", p[i].resends);
		jw_uint_field(w, "queue_drops", p[i].queue_drops);
		/* its run: its start time in ns, or the last run's plus one */
		jw_uint_field(w, "epoch", p[i].epoch);
		/* its router id, A.B.C.D as its messages say (null: none heard yet) */
		jw_name(w, "router_id");
		if (p[i].router) {
			char rid[INET_ADDRSTRLEN];

			jw_string(w, router_id_format(p[i].router, rid, sizeof(rid)));
		} else {
			jw_null(w);
		}
		jw_uint_field(w, "pins_replaced", p[i].pins_replaced);
		/* the pins it made and holds, as its hellos say (this router's: its count) */
		jw_uint_field(w, "pins_made", p[i].pins_made);
		jw_uint_field(w, "conflicts", p[i].pins_replaced + p[i].skips[FP_SKIP_BETTER]);
		jw_uint_field(w, "pins_refreshed", p[i].pins_refreshed);
		jw_uint_field(w, "digests_sent", p[i].digests_sent);
		jw_uint_field(w, "digests_answered", p[i].digests_answered);
		jw_uint_field(w, "ranges_repaired", p[i].ranges_repaired);
		jw_uint_field(w, "pins_repaired", p[i].pins_repaired);
		jw_uint_field(w, "queued", p[i].queued);
		jw_uint_field(w, "inflight", p[i].inflight);
		jw_uint_field(w, "lag_ms", p[i].lag_ms);
		jw_uint_field(w, "rtt_us", p[i].rtt_us);
		jw_name(w, "drops");
		jw_object_start(w);
		for (int r = 0; r < FP_DROP_MAX; r++)
			jw_uint_field(w, drops[r], p[i].drops[r]);
		jw_object_end(w);
		jw_name(w, "not_applied");
		jw_object_start(w);
		for (int r = 0; r < FP_SKIP_MAX; r++)
			jw_uint_field(w, skips[r], p[i].skips[r]);
		jw_object_end(w);
		jw_object_end(w);
	}
	jw_array_end(w);
}

/*
 * One metric, a sample per peer, of one field of its status: a __u64
 * counter, as it is, or a __u32 gauge divided by unit (ms: 1e3).
 */
static void prom_peers(FILE *out, const struct sync_peer_status *p, int n,
		       const char *metric, const char *type, const char *help,
		       size_t off, size_t size, double unit)
{
	char addr[64];

	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
	for (int i = 0; i < n; i++) {
		const char *field = (const char *)&p[i] + off;

		if (!p[i].family || p[i].state == FP_PEER_SELF)
			continue;
		peer_addr_text(&p[i], addr, sizeof(addr));
		if (size == sizeof(__u64))
			fprintf(out, "%s{peer=\"%s\"} %" PRIu64 "\n", metric, addr,
				(uint64_t)*(const __u64 *)field);
		else
			fprintf(out, "%s{peer=\"%s\"} %.9g\n", metric, addr,
				*(const __u32 *)field / unit);
	}
}

#define FIELD(field) offsetof(struct sync_peer_status, field), \
	sizeof(((const struct sync_peer_status *)0)->field)
#define PROM(name, field, help) \
	prom_peers(out, p, n, "flowpin_sync_" name "_total", "counter", help, FIELD(field), 1)
#define GAUGE(name, field, unit, help) \
	prom_peers(out, p, n, "flowpin_sync_" name, "gauge", help, FIELD(field), unit)

void peers_prometheus(FILE *out, const struct sync_peer_status *p, int n)
{
	char addr[64];
	bool any = false;

	for (int i = 0; i < n; i++)
		any |= p[i].family != 0;
	if (!any)
		return; /* pin sync is off */
	fputs("# HELP flowpin_sync_peer_up 1 when the peer is in sync (up), else 0.\n"
	      "# TYPE flowpin_sync_peer_up gauge\n", out);
	for (int i = 0; i < n; i++) {
		if (!p[i].family || p[i].state == FP_PEER_SELF)
			continue;
		peer_addr_text(&p[i], addr, sizeof(addr));
		fprintf(out, "flowpin_sync_peer_up{peer=\"%s\",state=\"%s\"} %d\n",
			addr, peer_state_name(p[i].state), p[i].state == FP_PEER_UP);
	}
	GAUGE("queued", queued, 1, "Pins waiting for room in the peer's window.");
	GAUGE("lag_seconds", lag_ms, 1e3,
	      "How long the oldest message to the peer has waited for its ack.");
	GAUGE("rtt_seconds", rtt_us, 1e6,
	      "The smoothed round trip to the peer's acks (0: none measured).");
	PROM("messages_sent", msgs_sent, "Sync datagrams sent to the peer.");
	PROM("messages_received", msgs_received, "Valid sync datagrams from the peer.");
	PROM("pins_sent", pins_sent, "Pins sent to the peer.");
	PROM("pins_received", pins_received, "Pins received from the peer.");
	PROM("pins_applied", pins_applied, "Pins from the peer written into flow_pins.");
	PROM("pins_replaced", pins_replaced,
	     "Pins from the peer that replaced another pin here, which the fleet's rule put behind them.");
	PROM("pins_refreshed", pins_refreshed,
	     "Pins of flows forwarded here, sent to the peer again so its LRU keeps them.");
	PROM("digests_sent", digests_sent,
	     "Digests of the peer's pins held here, sent to it (repair).");
	PROM("digests_answered", digests_answered,
	     "The peer's digests of the pins made here, compared with them (repair).");
	PROM("ranges_repaired", ranges_repaired,
	     "Ranges of the pins made here that the peer's digests found different.");
	PROM("pins_repaired", pins_repaired,
	     "Pins sent to the peer by repairs, where the digests differed.");
	PROM("resends", resends, "Datagrams sent again to the peer for want of an ack.");
	PROM("queue_drops", queue_drops, "Pins not sent to the peer: its queue was full.");
	fputs("# HELP flowpin_sync_dropped_total Sync datagrams dropped, by source and reason.\n"
	      "# TYPE flowpin_sync_dropped_total counter\n", out);
	for (int i = 0; i < n; i++) {
		if (!p[i].family)
			continue;
		peer_addr_text(&p[i], addr, sizeof(addr));
		for (int r = 0; r < FP_DROP_MAX; r++)
			fprintf(out, "flowpin_sync_dropped_total{peer=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
				p[i].state == FP_PEER_SELF ? "none" : addr, drops[r],
				(uint64_t)p[i].drops[r]);
	}
	fputs("# HELP flowpin_sync_not_applied_total Pins from a peer not written, by reason.\n"
	      "# TYPE flowpin_sync_not_applied_total counter\n", out);
	for (int i = 0; i < n; i++) {
		if (!p[i].family || p[i].state == FP_PEER_SELF)
			continue;
		peer_addr_text(&p[i], addr, sizeof(addr));
		for (int r = 0; r < FP_SKIP_MAX; r++)
			fprintf(out, "flowpin_sync_not_applied_total{peer=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
				addr, skips[r], (uint64_t)p[i].skips[r]);
	}
}
