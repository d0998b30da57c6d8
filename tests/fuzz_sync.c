// SPDX-License-Identifier: GPL-2.0
/*
 * Pin sync's receive parser (loader/sync_wire.c) under libFuzzer, ASan and
 * UBSan. An input whose first byte is odd is MACed with the fuzzer's key
 * first (the rest of it is the datagram), so the fuzzer gets past the MAC
 * to the fields behind it; an even one is taken as it comes, as a forger's
 * would be: one whose MAC is not the key's (any of its bytes) must be
 * refused. Every accepted datagram must add up (its length, each entry),
 * encode back to the same bytes, and be refused as a replay the second
 * time.
 *
 * Built with -DFUZZ_SEEDS, it writes seeds instead: one valid datagram of
 * each type into the folder given, and forgeries of them (taken as they
 * come, one byte of the MAC changed: its first, its middle, its last).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync_wire.h"

static const uint8_t key[SYNC_KEY_LEN] = "the fuzzer's key, 32 bytes long";
/* 192.0.2.1:7430 to 192.0.2.2:7430 */
static const struct sync_ends ends = { { FP_AF_INET, 192, 0, 2, 1, [17] = 0x1d, 0x06,
					 192, 0, 2, 2, [35] = 0x1d, 0x06 } };

#ifndef FUZZ_SEEDS
static unsigned long accepted[SYNC_DIFF + 1], forgeries;

static void report(void)
{
	fprintf(stderr, "fuzz_sync: accepted %lu hello, %lu pins, %lu ack, %lu bulk request, %lu digest, %lu diff datagrams\n",
		accepted[SYNC_HELLO], accepted[SYNC_PINS], accepted[SYNC_ACK],
		accepted[SYNC_BULK_REQ], accepted[SYNC_DIGEST], accepted[SYNC_DIFF]);
	fprintf(stderr, "fuzz_sync: refused %lu forgeries\n", forgeries);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[SYNC_MAX_DGRAM + 64], again[SYNC_MAX_DGRAM];
	struct sync_replay r = { 0 };
	struct sync_hdr h;
	uint8_t mac[SYNC_MAC_LEN];
	bool forged = false;
	size_t len;
	int drop;

	if (!size || size - 1 > sizeof(buf))
		return 0;
	len = size - 1;
	memcpy(buf, data + 1, len);
	if (data[0] & 1 && len >= SYNC_MAC_LEN) {
		sync_mac(buf + len - SYNC_MAC_LEN, buf, len - SYNC_MAC_LEN, key, &ends);
	} else if (len >= SYNC_MAC_LEN) {
		/* as it came: a forgery unless it carries the key's MAC */
		sync_mac(mac, buf, len - SYNC_MAC_LEN, key, &ends);
		forged = memcmp(mac, buf + len - SYNC_MAC_LEN, SYNC_MAC_LEN);
	}
	drop = sync_unseal(buf, len, key, &ends, &h);
	if (drop >= FP_DROP_MAX)
		abort();
	if (drop >= 0) {
		forgeries += forged;
		return 0;
	}
	if (forged) {
		fprintf(stderr, "fuzz_sync: a datagram without the key's MAC was accepted\n");
		abort();
	}
	if (len != sync_len(h.type, h.count) || len > SYNC_MAX_DGRAM || !h.router ||
	    h.type < SYNC_HELLO || h.type > SYNC_DIFF)
		abort();
	/* a digest: a cut below 2^63, every range; a diff: a cut and its ranges */
	if ((h.type == SYNC_DIGEST || h.type == SYNC_DIFF) &&
	    (sync_get_ack(buf, 0) & FP_RANK_MID_STREAM ||
	     (h.type == SYNC_DIGEST && h.count < SYNC_DIGEST_WORDS) ||
	     (h.type == SYNC_DIFF && (h.count != SYNC_DIFF_WORDS || !sync_get_ack(buf, 1)))))
		abort();
	if (h.type == SYNC_DIGEST) {
		struct sync_digest d;

		sync_get_digest(buf, &h, &d);
		if (d.n_gw > SYNC_DIGEST_MAX_GW)
			abort();
	}
	accepted[h.type]++;
	/* what was read writes back to the same bytes */
	sync_put_hdr(again, &h);
	for (unsigned int i = 0; i < h.count; i++) {
		if (h.type == SYNC_PINS) {
			struct sync_pin p;

			sync_get_pin(buf, i, &p);
			if ((p.key.family != FP_AF_INET && p.key.family != FP_AF_INET6) ||
			    (p.gw_family != FP_AF_INET && p.gw_family != FP_AF_INET6) ||
			    p.key.l3dom || !p.router)
				abort();
			sync_put_pin(again, i, &p);
		} else {
			sync_put_ack(again, i, sync_get_ack(buf, i));
		}
	}
	if (sync_seal(again, key, &ends) != len || memcmp(again, buf, len))
		abort();
	if (!sync_replay_check(&r, h.epoch, h.seq) ||
	    sync_replay_check(&r, h.epoch, h.seq))
		abort();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(report);
	return 0;
}
#else
/* forge: -1, a sealed datagram; else taken as it comes, this MAC byte changed */
static void seed(const char *dir, const char *name, uint8_t type, uint8_t flags,
		 int n, int forge)
{
	uint8_t buf[1 + SYNC_MAX_DGRAM];
	struct sync_hdr h = { .type = type, .flags = flags, .count = n,
			      .router = 1, .epoch = 1, .seq = 1, .time_ns = 1 };
	char path[4096];
	size_t len;
	FILE *f;

	buf[0] = 1; /* seal it again after each mutation */
	sync_put_hdr(buf + 1, &h);
	for (int i = 0; i < n; i++) {
		if (type == SYNC_PINS) {
			struct sync_pin p = { .key = { .family = i % 2 ? FP_AF_INET6 : FP_AF_INET,
						       .proto = 6, .sport = i, .dport = 443 },
					      .gw_family = FP_AF_INET };

			p.key.saddr[0] = i;
			p.gw[0] = 0x0200000a;
			p.router = i + 1;
			p.rank = (i % 2 ? FP_RANK_MID_STREAM : 0) | (uint64_t)i;
			sync_put_pin(buf + 1, i, &p);
		} else {
			sync_put_ack(buf + 1, i, i + 1); /* the first: an epoch */
		}
	}
	len = sync_seal(buf + 1, key, &ends);
	if (forge >= 0) {
		buf[0] = 0;
		buf[1 + len - SYNC_MAC_LEN + forge] ^= 0x01;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fwrite(buf, 1, len + 1, f) != len + 1) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	seed(argv[1], "hello", SYNC_HELLO, 0, 0, -1);
	seed(argv[1], "bulk_req", SYNC_BULK_REQ, 0, 0, -1);
	seed(argv[1], "pins", SYNC_PINS, 0, 3, -1);
	seed(argv[1], "bulk_end", SYNC_PINS, SYNC_F_END, 0, -1);
	seed(argv[1], "acks", SYNC_ACK, 0, 4, -1);
	seed(argv[1], "digest", SYNC_DIGEST, 0, SYNC_DIGEST_WORDS + 2, -1);
	seed(argv[1], "diff", SYNC_DIFF, 0, SYNC_DIFF_WORDS, -1);
	seed(argv[1], "repair_pins", SYNC_PINS, SYNC_F_REPAIR, 2, -1);
	seed(argv[1], "forged_first", SYNC_PINS, 0, 3, 0);
	seed(argv[1], "forged_middle", SYNC_HELLO, 0, 0, SYNC_MAC_LEN / 2);
	seed(argv[1], "forged_last", SYNC_ACK, 0, 4, SYNC_MAC_LEN - 1);
	return 0;
}
#endif
