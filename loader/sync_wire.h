/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pin sync's wire format, version 2: plain C on byte buffers, no sockets
 * (the fuzzer and the unit tests run it as it is). docs/DESIGN.md, "Pin
 * sync", describes the protocol around it.
 *
 * A datagram (every field big-endian):
 *
 *   0  u16 magic "FP"       2 u8 version (2)   3 u8 type
 *   4  u8  flags            5 u8 reserved (0)  6 u16 count of entries
 *   8  u32 aux (SYNC_PINS with SYNC_F_END: pins in the bulk sync;
 *      SYNC_HELLO: the pins the sender made and holds, at most 2^32 - 1)
 *  12  u32 router: the sender's router id (not 0)
 *  16  u64 epoch: the sender's start (CLOCK_REALTIME ns), one per run
 *  24  u64 seq: per sender run and receiver, from 1, never reused
 *  32  u64 time: CLOCK_REALTIME ns when sent
 *  40  entries: count pins (68 bytes), or u64 words: acks (seqs), a
 *      digest's or a diff's fields (struct sync_digest, sync_put_diff())
 * end  32-byte MAC (HMAC-SHA-512-256) of the two ends, then everything
 *      before it: a datagram is good only from its sender to its receiver
 *
 * The ends (struct sync_ends): family, the sender's address and port, the
 * receiver's, as each side's --sync and --peer name them. An ACK's first
 * entry is the epoch of the run it acks: acks of a receiver's earlier run
 * free nothing of its new one.
 *
 * A pin: u8 family, u8 protocol, u8 gateway family, u8 flags
 * (SYNC_PIN_MID_STREAM), u16 source port, u16 destination port, u32 the
 * router id of the router that made it (not 0), u64 when it was made
 * (CLOCK_TAI ns, below 2^63), then source, destination and gateway
 * addresses, 16 bytes each (IPv4 in the first 4, the rest 0). Version 1
 * had no router ids and no made time, and 56-byte pins.
 */
#ifndef FLOWPIN_SYNC_WIRE_H
#define FLOWPIN_SYNC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "flowpin.h"

#define SYNC_MAGIC 0x4650 /* "FP" */
#define SYNC_VERSION 2
#define SYNC_HDR_LEN 40
#define SYNC_MAC_LEN 32
#define SYNC_KEY_LEN 32
#define SYNC_PIN_LEN 68
#define SYNC_PIN_MID_STREAM 0x1 /* a pin's flags: made mid-stream (FP_RANK_MID_STREAM) */
#define SYNC_ACK_LEN 8
/* fits in one IPv6 packet on any link: 1280 - 40 (IPv6) - 8 (UDP) */
#define SYNC_MAX_DGRAM 1232
#define SYNC_MAX_PINS ((SYNC_MAX_DGRAM - SYNC_HDR_LEN - SYNC_MAC_LEN) / SYNC_PIN_LEN)
#define SYNC_MAX_ACKS ((SYNC_MAX_DGRAM - SYNC_HDR_LEN - SYNC_MAC_LEN) / SYNC_ACK_LEN)
/* a message sent longer ago than this, or from further ahead, is dropped */
#define SYNC_MAX_SKEW_NS (30ULL * 1000000000ULL)
/* sequences behind the highest seen that are still accepted (once each) */
#define SYNC_REPLAY_WINDOW 1024

enum sync_type {
	SYNC_HELLO = 1,	   /* I am here, holding aux pins I made (once a second; not acked) */
	SYNC_PINS = 2,	   /* pins (acked) */
	SYNC_ACK = 3,	   /* the seqs of messages received (not acked) */
	SYNC_BULK_REQ = 4, /* send me your pins (acked; DESIGN.md, "Bulk sync") */
	SYNC_DIGEST = 5,   /* the pins you made that I hold, by range (not acked) */
	SYNC_DIFF = 6,	   /* the ranges of your digest that differ from mine (not acked) */
};

#define SYNC_F_BULK 0x1 /* SYNC_PINS: part of a bulk sync */
#define SYNC_F_END 0x2	/* SYNC_PINS: the bulk sync is complete */
/*
 * SYNC_BULK_REQ: the pins I made too (this router lost its own: a reboot,
 * a new pin table). Without it a bulk sync holds no pin its asker made.
 */
#define SYNC_F_MINE 0x4
/*
 * SYNC_PINS: a repair's (DESIGN.md, "Repair"): the ranges a digest found
 * different. Added in version 2 after its first releases, as SYNC_DIGEST
 * and SYNC_DIFF: a router of those builds drops all three as malformed,
 * and never asks for them.
 */
#define SYNC_F_REPAIR 0x8

/*
 * Repair: a digest of the pins one router made, as another holds them,
 * in SYNC_RANGES ranges of the flows (sync_pin_range()): each range's the
 * XOR of its pins' sync_pin_hash(), of the pins made before the cut.
 * The asker names the gateways of the maker's pins it cannot take (it
 * has no usable next hop with them): the maker leaves those out of its
 * own. On the wire, u64 words: the cut, the ranges, the gateways' hashes
 * (sync_gw_hash()).
 */
#define SYNC_RANGES 64
#define SYNC_DIGEST_WORDS (1 + SYNC_RANGES)
#define SYNC_DIGEST_MAX_GW (SYNC_MAX_ACKS - SYNC_DIGEST_WORDS)
#define SYNC_DIFF_WORDS 2 /* the cut, the ranges that differ (a bit each) */

struct sync_digest {
	uint64_t cut; /* CLOCK_TAI ns, below 2^63: pins made before it */
	uint64_t range[SYNC_RANGES];
	uint32_t n_gw;
	uint64_t gw[SYNC_DIGEST_MAX_GW];
};

struct sync_hdr {
	uint8_t type;
	uint8_t flags;
	uint16_t count;
	uint32_t aux;
	uint32_t router;
	uint64_t epoch;
	uint64_t seq;
	uint64_t time_ns;
};

/*
 * A pin as it travels: the flow (outside any VRF), its gateway, and who
 * made it and how (struct flow_pin; the router never 0 here).
 */
struct sync_pin {
	struct flow_key key; /* l3dom 0 */
	uint8_t gw_family;   /* FP_AF_INET or FP_AF_INET6 */
	__be32 gw[4];
	uint32_t router;
	uint64_t rank;	     /* FP_RANK_* */
};

/*
 * The fleet's rule (flowpin.h, FP_RANK_*) between two pins of one flow:
 * true when a goes before b (lower rank, then router id, then gateway).
 * Every router asks it of the same fields: one answer, whatever the order
 * the pins came in.
 */
bool sync_pin_wins(const struct sync_pin *a, const struct sync_pin *b);

/* Which sequences of one sender's run were seen. */
struct sync_replay {
	uint64_t epoch;
	uint64_t top; /* highest seq seen; 0: none */
	uint64_t seen[SYNC_REPLAY_WINDOW / 64];
};

/* Who sends to whom: bound into every MAC. */
#define SYNC_ENDS_LEN 37
struct sync_ends {
	uint8_t b[SYNC_ENDS_LEN]; /* family, from addr[16] port[2], to addr[16] port[2] */
};

/* family: FP_AF_INET or FP_AF_INET6; addresses as on the wire, ports host order. */
void sync_ends_make(struct sync_ends *e, uint8_t family, const void *from_addr,
		    uint16_t from_port, const void *to_addr, uint16_t to_port);

/*
 * Which range a flow's pins fall in, the same on every router (a hash of
 * the flow alone), and a pin's part of its range's digest (a hash of the
 * pin as it travels: flow, gateway, maker, rank). SipHash (libsodium's
 * crypto_shorthash) under a fixed key: a digest compares tables, the MAC
 * guards the datagram.
 */
unsigned int sync_pin_range(const struct sync_pin *p);
uint64_t sync_pin_hash(const struct sync_pin *p);
uint64_t sync_gw_hash(uint8_t family, const __be32 gw[4]);

/* Header at buf[0..SYNC_HDR_LEN). */
void sync_put_hdr(uint8_t *buf, const struct sync_hdr *h);
/* Entry i, after the header. */
void sync_put_pin(uint8_t *buf, unsigned int i, const struct sync_pin *p);
void sync_put_ack(uint8_t *buf, unsigned int i, uint64_t seq);
/* A digest's words; the header's count is SYNC_DIGEST_WORDS + d->n_gw. */
void sync_put_digest(uint8_t *buf, const struct sync_digest *d);
/* A diff's words (count SYNC_DIFF_WORDS). */
void sync_put_diff(uint8_t *buf, uint64_t cut, uint64_t ranges);
/* The datagram's length for count entries of its type. */
size_t sync_len(uint8_t type, unsigned int count);
/*
 * The MAC of len bytes of buf between these ends. sync_seal() puts it
 * after the bytes its header counts; a test that breaks that count on
 * purpose puts it itself.
 */
void sync_mac(uint8_t out[SYNC_MAC_LEN], const uint8_t *buf, size_t len,
	      const uint8_t key[SYNC_KEY_LEN], const struct sync_ends *ends);
/* A resent message's new seq and time (seal it again after). */
void sync_restamp(uint8_t *buf, uint64_t seq, uint64_t time_ns);
/*
 * MAC the datagram (its header's count says how long it is). Returns its
 * length.
 */
size_t sync_seal(uint8_t *buf, const uint8_t key[SYNC_KEY_LEN],
		 const struct sync_ends *ends);

/*
 * Check a received datagram: its length, version, MAC and fields, every
 * entry included. Fills *h. Returns -1 when it is good, else the
 * enum sync_drop reason. Does not judge replay or clock: see below.
 */
int sync_unseal(const uint8_t *buf, size_t len, const uint8_t key[SYNC_KEY_LEN],
		const struct sync_ends *ends, struct sync_hdr *h);
/* Entry i of a datagram sync_unseal() accepted. */
void sync_get_pin(const uint8_t *buf, unsigned int i, struct sync_pin *p);
uint64_t sync_get_ack(const uint8_t *buf, unsigned int i);
void sync_get_digest(const uint8_t *buf, const struct sync_hdr *h,
		     struct sync_digest *d);
void sync_get_diff(const uint8_t *buf, uint64_t *cut, uint64_t *ranges);

/* The message was sent within SYNC_MAX_SKEW_NS of now (both CLOCK_REALTIME). */
bool sync_clock_ok(uint64_t time_ns, uint64_t now_ns);
/*
 * First sight of (epoch, seq): true, and it is recorded. A later epoch (the
 * sender restarted) starts over; an earlier one, a seq seen, or one too
 * far behind the window is false.
 */
bool sync_replay_check(struct sync_replay *r, uint64_t epoch, uint64_t seq);

/*
 * The MAC key from a key file: refused (one line in err) when it is not a
 * regular file, is not owned by flowpind's user, group or others may read
 * or write it, or it holds fewer than 32 bytes or more than
 * SYNC_KEY_FILE_MAX. A symlink is followed and the file it names is
 * judged (secret managers mount keys as symlinks). The key is a hash of the
 * whole content, so any secret of 32 bytes or more (random bytes, hex,
 * base64) serves.
 */
#define SYNC_KEY_FILE_MAX (1 << 20)
int sync_key_load(const char *path, uint8_t key[SYNC_KEY_LEN], char *err,
		  size_t errlen);

#endif /* FLOWPIN_SYNC_WIRE_H */
