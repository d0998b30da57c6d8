/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flowpinctl peers: pin sync's status (the sync_peers map) as a table, JSON
 * and Prometheus samples. Plain C on the map's values.
 */
#ifndef FLOWPIN_PEERS_TEXT_H
#define FLOWPIN_PEERS_TEXT_H

#include <stdio.h>
#include "flowpin.h"
#include "json_writer.h"

const char *peer_state_name(__u8 state);
const char *sync_drop_name(int reason);
const char *sync_skip_name(int reason);
/* A router id (the fleet's rule) as A.B.C.D. */
const char *router_id_format(__u32 id, char *buf, size_t len);
/* "ADDR:PORT" or "[ADDR6]:PORT". */
void peer_addr_text(const struct sync_peer_status *p, char *buf, size_t len);

/*
 * The entries in use (family set) of n, as read from the map: entry 0 is
 * this router. now_s: CLOCK_REALTIME seconds, for "last message, s ago".
 */
int peers_table(FILE *out, const struct sync_peer_status *p, int n, __u64 now_s);
void peers_json(struct json_writer *w, const struct sync_peer_status *p, int n,
		__u64 now_s);
void peers_prometheus(FILE *out, const struct sync_peer_status *p, int n);

#endif /* FLOWPIN_PEERS_TEXT_H */
