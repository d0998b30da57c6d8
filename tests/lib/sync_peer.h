/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A pin sync peer played by a test or the bench, over IPv4 on loopback:
 * it speaks the wire format (loader/sync_wire.h) with the daemon's key and
 * checks every message the daemon sends (MAC, clock, replay).
 */
#ifndef FLOWPIN_TEST_SYNC_PEER_H
#define FLOWPIN_TEST_SYNC_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "sync_wire.h"

struct test_peer {
	int fd;
	struct sockaddr_in daemon;
	uint8_t key[SYNC_KEY_LEN];
	struct sync_ends to, from; /* to the daemon, from it */
	uint32_t router;	   /* its router id: 127.0.0.0 + its port */
	uint64_t epoch, seq;
	uint64_t their_epoch;	   /* the daemon's run, from its messages */
	struct sync_replay replay;
};

uint64_t realtime_ns(void);
/* CLOCK_TAI, the clock of a pin's rank (FP_RANK_*) */
uint64_t tai_ns(void);
/* A pin of this peer's, made now from a flow's first packet. */
struct sync_pin test_peer_pin(const struct test_peer *p,
			      const struct flow_key *key, uint8_t gw_family,
			      const void *gw);
/* A UDP socket bound to 127.0.0.1:port, or -1. */
int udp_socket(int port);
/* Listen on 127.0.0.1:port, talk to the daemon at 127.0.0.1:daemon_port. */
int test_peer_open(struct test_peer *p, int port, int daemon_port,
		   const uint8_t key[SYNC_KEY_LEN]);
void test_peer_close(struct test_peer *p);
/* A message: header with the next seq, n pins or acks (one of them NULL), sealed. */
size_t test_peer_build(struct test_peer *p, uint8_t *buf, uint8_t type,
		       uint8_t flags, uint32_t aux, const struct sync_pin *pins,
		       const uint64_t *acks, int n);
/* Send bytes from fd (the peer's own, or another socket) to the daemon. */
int test_peer_send_raw(const struct test_peer *p, int fd, const uint8_t *buf,
		       size_t len);
int test_peer_send(struct test_peer *p, uint8_t type, uint8_t flags,
		   uint32_t aux, const struct sync_pin *pins,
		   const uint64_t *acks, int n);
/* An ACK of this seq of the daemon's run (their_epoch first). */
int test_peer_ack(struct test_peer *p, uint64_t seq);
/*
 * The daemon's next message of this type within timeout_ms (others are
 * skipped, and acked when they ask for it and ack_others): 1, 0 when none
 * came, -1 when the daemon sent one that does not open, is stale or a
 * replay.
 */
int test_peer_recv(struct test_peer *p, uint8_t type, struct sync_hdr *h,
		   uint8_t *buf, int timeout_ms, bool ack_others);
/*
 * Greet the daemon until it asks for our pins, then answer with an empty
 * bulk sync: 0, or -1 when it did not ask within timeout_ms.
 */
int test_peer_join(struct test_peer *p, int timeout_ms);

#endif
