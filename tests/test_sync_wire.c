// SPDX-License-Identifier: GPL-2.0
/*
 * Pin sync's wire format without sockets: a sealed message opens with the
 * same fields and pins; each way a datagram can be wrong is dropped for its
 * own reason; the replay window takes each sequence once, tolerates
 * reordering within the window, and follows a sender's restart but never
 * goes back to an older one; key files and addresses are checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "sync.h"
#include "sync_wire.h"

static const uint8_t key[SYNC_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static struct sync_ends ends; /* 192.0.2.1:7430 to 192.0.2.2:7430 */
static const uint8_t other_key[SYNC_KEY_LEN] = { 8, 7, 6, 5 };

#define NOW 1800000000000000000ULL /* ns: 2027 */

static struct sync_pin pin_of(int family, int i)
{
	struct sync_pin p;

	memset(&p, 0, sizeof(p));
	p.key.family = family;
	p.key.proto = IPPROTO_TCP;
	p.key.sport = htons(40000 + i);
	p.key.dport = htons(443);
	if (family == FP_AF_INET) {
		inet_pton(AF_INET, "10.0.0.1", p.key.saddr);
		inet_pton(AF_INET, "198.51.100.10", p.key.daddr);
		p.key.saddr[0] = htonl(ntohl(p.key.saddr[0]) + i);
		p.gw_family = FP_AF_INET;
		inet_pton(AF_INET, "10.1.1.2", p.gw);
	} else {
		inet_pton(AF_INET6, "2001:db8::1", p.key.saddr);
		inet_pton(AF_INET6, "2001:db8:100::10", p.key.daddr);
		p.key.saddr[3] = htonl(i);
		/* RFC 5549: an IPv6 gateway is fine for any flow */
		p.gw_family = FP_AF_INET6;
		inet_pton(AF_INET6, "fe80::2", p.gw);
	}
	p.router = 0x0a000001 + i;
	p.rank = (NOW - i * 1000ULL) | (i % 2 ? FP_RANK_MID_STREAM : 0);
	return p;
}

static size_t make_pins(uint8_t *buf, int n, uint64_t seq, const uint8_t *k)
{
	struct sync_hdr h = {
		.type = SYNC_PINS, .count = n, .router = 0xc0000201, .epoch = 7,
		.seq = seq, .time_ns = NOW,
	};

	sync_put_hdr(buf, &h);
	for (int i = 0; i < n; i++) {
		struct sync_pin p = pin_of(i % 2 ? FP_AF_INET6 : FP_AF_INET, i);

		sync_put_pin(buf, i, &p);
	}
	return sync_seal(buf, k, &ends);
}

static void sealed_pins_open_as_sent(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h;
	size_t len;

	(void)state;
	len = make_pins(buf, SYNC_MAX_PINS, 42, key);
	assert_int_equal(len, SYNC_HDR_LEN + SYNC_MAX_PINS * SYNC_PIN_LEN + SYNC_MAC_LEN);
	assert_true(len <= SYNC_MAX_DGRAM);
	assert_int_equal(sync_unseal(buf, len, key, &ends, &h), -1);
	assert_int_equal(h.type, SYNC_PINS);
	assert_int_equal(h.count, SYNC_MAX_PINS);
	assert_int_equal(h.epoch, 7);
	assert_int_equal(h.seq, 42);
	assert_int_equal(h.router, 0xc0000201);
	assert_true(h.time_ns == NOW);
	for (int i = 0; i < SYNC_MAX_PINS; i++) {
		struct sync_pin want = pin_of(i % 2 ? FP_AF_INET6 : FP_AF_INET, i), got;

		sync_get_pin(buf, i, &got);
		assert_memory_equal(&got, &want, sizeof(got));
	}
}

/* A hello carries the pins its sender made, in aux. */
static void hellos_carry_a_count(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h = { .type = SYNC_HELLO, .aux = 0xfffffffe, .router = 1,
			      .epoch = 1, .seq = 1, .time_ns = NOW };
	size_t len;

	(void)state;
	sync_put_hdr(buf, &h);
	len = sync_seal(buf, key, &ends);
	memset(&h, 0, sizeof(h));
	assert_int_equal(sync_unseal(buf, len, key, &ends, &h), -1);
	assert_int_equal(h.type, SYNC_HELLO);
	assert_int_equal(h.aux, 0xfffffffe);
}

/*
 * A bulk request may say "my own pins too" (SYNC_F_MINE), and nothing
 * else: no pins' flags, no aux.
 */
static void bulk_requests_may_ask_for_the_askers_pins(void **state)
{
	static const uint8_t flags[] = { SYNC_F_MINE, 0, SYNC_F_BULK, SYNC_F_END, 0x8 };
	static const int good[] = { 1, 1, 0, 0, 0 };
	uint8_t buf[SYNC_MAX_DGRAM];

	(void)state;
	for (unsigned int i = 0; i < sizeof(flags); i++) {
		struct sync_hdr h = { .type = SYNC_BULK_REQ, .flags = flags[i],
				      .router = 1, .epoch = 1, .seq = 1, .time_ns = NOW };
		size_t len;

		sync_put_hdr(buf, &h);
		len = sync_seal(buf, key, &ends);
		memset(&h, 0, sizeof(h));
		assert_int_equal(sync_unseal(buf, len, key, &ends, &h),
				 good[i] ? -1 : FP_DROP_MALFORMED);
		if (good[i])
			assert_int_equal(h.flags, flags[i]);
	}
}

static void acks_open_as_sent(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_hdr h = { .type = SYNC_ACK, .count = SYNC_MAX_ACKS,
			      .router = 1, .epoch = 1, .seq = 1, .time_ns = NOW };
	size_t len;

	(void)state;
	sync_put_hdr(buf, &h);
	for (unsigned int i = 0; i < SYNC_MAX_ACKS; i++)
		sync_put_ack(buf, i, 1000 + i * 0x100000001ULL);
	len = sync_seal(buf, key, &ends);
	assert_true(len <= SYNC_MAX_DGRAM);
	assert_int_equal(sync_unseal(buf, len, key, &ends, &h), -1);
	for (unsigned int i = 0; i < SYNC_MAX_ACKS; i++)
		assert_true(sync_get_ack(buf, i) == 1000 + i * 0x100000001ULL);
}

/* MAC again after a change, so only the change is judged. */
static int reseal_and_open(uint8_t *buf, size_t len)
{
	struct sync_hdr h;

	sync_mac(buf + len - SYNC_MAC_LEN, buf, len - SYNC_MAC_LEN, key, &ends);
	return sync_unseal(buf, len, key, &ends, &h);
}

static void bad_datagrams_are_dropped_by_reason(void **state)
{
	uint8_t buf[SYNC_MAX_DGRAM + 64], copy[sizeof(buf)];
	struct sync_hdr h;
	size_t len;

	(void)state;
	len = make_pins(buf, 3, 1, key);
	memcpy(copy, buf, len);

	assert_int_equal(sync_unseal(buf, 0, key, &ends, &h), FP_DROP_SHORT);
	assert_int_equal(sync_unseal(buf, SYNC_HDR_LEN + SYNC_MAC_LEN - 1, key, &ends, &h),
			 FP_DROP_SHORT);
	assert_int_equal(sync_unseal(buf, SYNC_MAX_DGRAM + 1, key, &ends, &h), FP_DROP_LONG);
	/* truncated: the MAC is then over other bytes */
	assert_int_equal(sync_unseal(buf, len - 1, key, &ends, &h), FP_DROP_AUTH);
	assert_int_equal(sync_unseal(buf, len, other_key, &ends, &h), FP_DROP_AUTH);
	for (size_t i = 0; i < len; i++) { /* any bit flipped anywhere */
		memcpy(buf, copy, len);
		buf[i] ^= 0x10;
		assert_int_not_equal(sync_unseal(buf, len, key, &ends, &h), -1);
	}
	memcpy(buf, copy, len);
	buf[2] = 1; /* a version this build does not speak (no router ids) */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_VERSION);
	memcpy(buf, copy, len);
	buf[2] = 3;
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_VERSION);
	memcpy(buf, copy, len);
	buf[0] = 'X';
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_VERSION);

	/* authentic but malformed: each field that must add up */
	memcpy(buf, copy, len);
	buf[3] = 9; /* unknown type */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	buf[7] = 4; /* count says 4 pins, the datagram holds 3 */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	buf[11] = 1; /* aux on pins that end no bulk sync */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	buf[4] = 0x80; /* unknown flag */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	buf[4] = SYNC_F_MINE; /* a bulk request's flag, on pins */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	buf[31] = 0, buf[30] = 0, buf[29] = 0, buf[28] = 0, buf[27] = 0,
	buf[26] = 0, buf[25] = 0, buf[24] = 0; /* seq 0 */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	buf[SYNC_HDR_LEN] = 7; /* a pin of no family */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	buf[SYNC_HDR_LEN + 20 + 5] = 1; /* an IPv4 address with bytes past its 4 */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	memset(buf + 12, 0, 4); /* a sender of no router id */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	memset(buf + SYNC_HDR_LEN + 8, 0, 4); /* a pin of no router */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	buf[SYNC_HDR_LEN + 12] |= 0x80; /* a made time of 2^63 and more */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	buf[SYNC_HDR_LEN + 3] = 0x2; /* a pin flag this build does not know */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	buf[SYNC_HDR_LEN + 2] = 0; /* a gateway of no family */
	assert_int_equal(reseal_and_open(buf, len), FP_DROP_MALFORMED);
	memcpy(buf, copy, len);
	assert_int_equal(reseal_and_open(buf, len), -1);
}

/* A datagram is good from its sender to its receiver, nowhere else. */
static void the_mac_binds_both_ends(void **state)
{
	static const __u8 a[4] = { 192, 0, 2, 1 }, b[4] = { 192, 0, 2, 2 },
			  c[4] = { 192, 0, 2, 3 };
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_ends other;
	struct sync_hdr h;
	size_t len;

	(void)state;
	len = make_pins(buf, 2, 9, key);
	assert_int_equal(sync_unseal(buf, len, key, &ends, &h), -1);
	sync_ends_make(&other, FP_AF_INET, b, 7430, a, 7430); /* the way back */
	assert_int_equal(sync_unseal(buf, len, key, &other, &h), FP_DROP_AUTH);
	sync_ends_make(&other, FP_AF_INET, c, 7430, b, 7430); /* another sender */
	assert_int_equal(sync_unseal(buf, len, key, &other, &h), FP_DROP_AUTH);
	sync_ends_make(&other, FP_AF_INET, a, 7430, c, 7430); /* another receiver */
	assert_int_equal(sync_unseal(buf, len, key, &other, &h), FP_DROP_AUTH);
	sync_ends_make(&other, FP_AF_INET, a, 7430, b, 7431); /* another port */
	assert_int_equal(sync_unseal(buf, len, key, &other, &h), FP_DROP_AUTH);
}

static void clock_skew_is_bounded(void **state)
{
	(void)state;
	assert_true(sync_clock_ok(NOW, NOW));
	assert_true(sync_clock_ok(NOW - SYNC_MAX_SKEW_NS, NOW));
	assert_true(sync_clock_ok(NOW + SYNC_MAX_SKEW_NS, NOW));
	assert_false(sync_clock_ok(NOW - SYNC_MAX_SKEW_NS - 1, NOW));
	assert_false(sync_clock_ok(NOW + SYNC_MAX_SKEW_NS + 1, NOW));
	assert_false(sync_clock_ok(0, NOW));
}

static void replay_window_takes_each_seq_once(void **state)
{
	struct sync_replay r = { 0 };

	(void)state;
	assert_true(sync_replay_check(&r, 5, 1));
	assert_false(sync_replay_check(&r, 5, 1));
	assert_true(sync_replay_check(&r, 5, 3));
	assert_true(sync_replay_check(&r, 5, 2)); /* late, within the window */
	assert_false(sync_replay_check(&r, 5, 2));
	assert_false(sync_replay_check(&r, 5, 0));
	/* a jump: what it slides past was never seen, and can arrive late */
	assert_true(sync_replay_check(&r, 5, 1000));
	assert_true(sync_replay_check(&r, 5, 500));
	assert_false(sync_replay_check(&r, 5, 500));
	assert_false(sync_replay_check(&r, 5, 3)); /* seen, before the jump */
	/* a jump beyond the window forgets everything behind it */
	assert_true(sync_replay_check(&r, 5, 1000 + SYNC_REPLAY_WINDOW + 5));
	assert_false(sync_replay_check(&r, 5, 1000)); /* too old now */
	assert_true(sync_replay_check(&r, 5, 1000 + 6)); /* within, unseen */
	/* a slot reused by the window's slide is free again */
	assert_true(sync_replay_check(&r, 5, 1000 + 2 * SYNC_REPLAY_WINDOW));
	assert_true(sync_replay_check(&r, 5, 1000 + SYNC_REPLAY_WINDOW + 6));
	/* the sender restarted: a later epoch starts over; an earlier one never */
	assert_true(sync_replay_check(&r, 6, 1));
	assert_false(sync_replay_check(&r, 5, 5000));
	assert_false(sync_replay_check(&r, 6, 1));
	assert_true(sync_replay_check(&r, 6, 2));
}

static void write_file(const char *path, const char *content, size_t len,
		       mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void key_files_are_checked(void **state)
{
	char path[] = "/tmp/fp-sync-key-XXXXXX", err[256];
	uint8_t k1[SYNC_KEY_LEN], k2[SYNC_KEY_LEN];
	const char *secret = "0123456789abcdef0123456789abcdef";

	(void)state;
	close(mkstemp(path));
	write_file(path, secret, 32, 0600);
	assert_int_equal(sync_key_load(path, k1, err, sizeof(err)), 0);
	write_file(path, secret, 32, 0400);
	assert_int_equal(sync_key_load(path, k2, err, sizeof(err)), 0);
	assert_memory_equal(k1, k2, sizeof(k1)); /* the content is the key */
	write_file(path, "1123456789abcdef0123456789abcdef", 32, 0600);
	assert_int_equal(sync_key_load(path, k2, err, sizeof(err)), 0);
	assert_memory_not_equal(k1, k2, sizeof(k1));

	write_file(path, secret, 32, 0640);
	assert_int_equal(sync_key_load(path, k1, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));
	write_file(path, secret, 32, 0604);
	assert_int_equal(sync_key_load(path, k1, err, sizeof(err)), -EPERM);
	write_file(path, secret, 31, 0600);
	assert_int_equal(sync_key_load(path, k1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "31 bytes"));
	unlink(path);
	assert_int_equal(sync_key_load(path, k1, err, sizeof(err)), -ENOENT);
	assert_int_equal(sync_key_load("/tmp", k1, err, sizeof(err)), -EINVAL);
}

/*
 * The key is the whole file: two files that differ only past their first
 * 4,096 bytes give two keys. A file over SYNC_KEY_FILE_MAX is refused.
 */
static void key_is_the_whole_file(void **state)
{
	char path[] = "/tmp/fp-sync-key-XXXXXX", err[256];
	uint8_t k1[SYNC_KEY_LEN], k2[SYNC_KEY_LEN];
	static char big[SYNC_KEY_FILE_MAX + 1];

	(void)state;
	close(mkstemp(path));
	memset(big, 'k', sizeof(big));
	write_file(path, big, 5000, 0600);
	assert_int_equal(sync_key_load(path, k1, err, sizeof(err)), 0);
	big[4999] = 'K';
	write_file(path, big, 5000, 0600);
	assert_int_equal(sync_key_load(path, k2, err, sizeof(err)), 0);
	assert_memory_not_equal(k1, k2, sizeof(k1));
	write_file(path, big, SYNC_KEY_FILE_MAX, 0600);
	assert_int_equal(sync_key_load(path, k1, err, sizeof(err)), 0);
	write_file(path, big, SYNC_KEY_FILE_MAX + 1, 0600);
	assert_int_equal(sync_key_load(path, k1, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "larger than"));
	unlink(path);
}

/*
 * A symlink (a secret manager's mount) is followed, and the file it names
 * is judged: its owner and its mode. Needs root to give a file away.
 */
static void key_symlinks_and_owners(void **state)
{
	char path[] = "/tmp/fp-sync-key-XXXXXX", link[sizeof(path) + 5], err[256];
	uint8_t k1[SYNC_KEY_LEN], k2[SYNC_KEY_LEN];
	const char *secret = "0123456789abcdef0123456789abcdef";

	(void)state;
	if (geteuid() != 0)
		skip();
	close(mkstemp(path));
	snprintf(link, sizeof(link), "%s.link", path);
	write_file(path, secret, 32, 0600);
	assert_int_equal(sync_key_load(path, k1, err, sizeof(err)), 0);
	unlink(link);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(sync_key_load(link, k2, err, sizeof(err)), 0);
	assert_memory_equal(k1, k2, sizeof(k1));
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(sync_key_load(link, k2, err, sizeof(err)), -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(sync_key_load(path, k2, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "belongs to uid 65534"));
	assert_int_equal(sync_key_load(link, k2, err, sizeof(err)), -EPERM);
	unlink(link);
	unlink(path);
}

/*
 * One datagram, byte for byte: what version 1 puts on the wire, so that
 * routers of two builds keep understanding each other. The MAC was checked
 * apart from sync_wire.c: Python's hmac.new(key, ends + bytes,
 * hashlib.sha512).digest()[:32] gives the same 32 bytes.
 */
static void the_wire_format_does_not_drift(void **state)
{
	static const char *const want =
		/* magic, version 2, PINS, flags BULK, 0, count 2 */
		"4650" "02" "02" "01" "00" "0002"
		/* aux 5, the sender's router id 192.0.2.1 */
		"00000005" "c0000201"
		/* epoch, seq, time */
		"0102030405060708" "0000000000000009" "18fae27693b40000"
		/*
		 * pin 0: IPv4 TCP 10.0.0.1:40000 -> 198.51.100.10:443 via
		 * 10.1.1.2, made by router 10.0.0.1 from a first packet at NOW
		 */
		"02" "06" "02" "00" "9c40" "01bb" "0a000001" "18fae27693b40000"
		"0a000001000000000000000000000000"
		"c633640a000000000000000000000000"
		"0a010102000000000000000000000000"
		/*
		 * pin 1: IPv6 TCP [2001:db8::1]:40001 -> [2001:db8:100::10]:443
		 * via fe80::2, made by router 10.0.0.2 mid-stream at NOW - 1 us
		 */
		"0a" "06" "0a" "01" "9c41" "01bb" "0a000002" "18fae27693b3fc18"
		"20010db8000000000000000000000001"
		"20010db8010000000000000000000010"
		"fe800000000000000000000000000002"
		/* HMAC-SHA-512-256 of the ends (192.0.2.1:7430 to .2:7430), then all above */
		"136192e896d381908bba0712ac2e30b2f8c9e4d377f888121d19498a14d40a5f";
	struct sync_hdr h = {
		.type = SYNC_PINS, .flags = SYNC_F_BULK, .count = 2, .aux = 5,
		.router = 0xc0000201, .epoch = 0x0102030405060708ULL, .seq = 9, .time_ns = NOW,
	};
	struct sync_pin p0 = pin_of(FP_AF_INET, 0), p1 = pin_of(FP_AF_INET6, 1);
	uint8_t buf[SYNC_MAX_DGRAM];
	char got[2 * SYNC_MAX_DGRAM + 1];
	size_t len;

	(void)state;
	sync_put_hdr(buf, &h);
	sync_put_pin(buf, 0, &p0);
	sync_put_pin(buf, 1, &p1);
	len = sync_seal(buf, key, &ends);
	for (size_t i = 0; i < len; i++)
		sprintf(got + 2 * i, "%02x", buf[i]);
	assert_string_equal(got, want);
}

static struct sync_pin claim(bool mid_stream, uint64_t made, uint32_t router,
			     const char *gw)
{
	struct sync_pin p = pin_of(FP_AF_INET, 0);

	p.rank = made | (mid_stream ? FP_RANK_MID_STREAM : 0);
	p.router = router;
	inet_pton(AF_INET, gw, p.gw);
	return p;
}

/*
 * The fleet's rule orders any two pins of a flow one way, whichever is
 * asked about first: first packet before mid-stream, then earlier, then
 * lower router id, then lower gateway.
 */
static void the_rule_orders_pins_one_way(void **state)
{
	const struct sync_pin order[] = {
		claim(false, NOW, 5, "10.1.1.2"),
		claim(false, NOW, 5, "10.1.1.3"),   /* a higher gateway */
		claim(false, NOW, 6, "10.1.1.2"),   /* a higher router id */
		claim(false, NOW + 1, 1, "10.1.1.1"), /* later */
		claim(true, NOW - 5000, 1, "10.1.1.1"), /* earlier, but mid-stream */
		claim(true, NOW - 4000, 1, "10.1.1.1"),
	};
	const int n = sizeof(order) / sizeof(order[0]);

	(void)state;
	for (int i = 0; i < n; i++) {
		assert_false(sync_pin_wins(&order[i], &order[i]));
		for (int j = i + 1; j < n; j++) {
			assert_true(sync_pin_wins(&order[i], &order[j]));
			assert_false(sync_pin_wins(&order[j], &order[i]));
		}
	}
}

static unsigned int port_of(const struct sync_addr *a)
{
	const struct sockaddr_in *in = (const void *)&a->sa;
	const struct sockaddr_in6 *in6 = (const void *)&a->sa;

	return ntohs(a->sa.ss_family == AF_INET ? in->sin_port : in6->sin6_port);
}

static void addresses_parse(void **state)
{
	struct sync_addr a;

	(void)state;
	assert_int_equal(sync_parse_addr("10.0.0.1", &a), 0);
	assert_int_equal(a.sa.ss_family, AF_INET);
	assert_int_equal(port_of(&a), FP_SYNC_PORT);
	assert_int_equal(sync_parse_addr("10.0.0.1:9000", &a), 0);
	assert_int_equal(port_of(&a), 9000);
	assert_int_equal(sync_parse_addr("[2001:db8::1]:9000", &a), 0);
	assert_int_equal(a.sa.ss_family, AF_INET6);
	assert_int_equal(port_of(&a), 9000);
	assert_int_equal(sync_parse_addr("[2001:db8::1]", &a), 0);
	assert_int_equal(port_of(&a), FP_SYNC_PORT);
	assert_int_equal(sync_parse_addr("2001:db8::1", &a), 0);
	assert_int_equal(a.sa.ss_family, AF_INET6);
	assert_int_equal(port_of(&a), FP_SYNC_PORT);

	assert_int_equal(sync_parse_addr("", &a), -EINVAL);
	assert_int_equal(sync_parse_addr("10.0.0.1:", &a), -EINVAL);
	assert_int_equal(sync_parse_addr("10.0.0.1:0", &a), -EINVAL);
	assert_int_equal(sync_parse_addr("10.0.0.1:65536", &a), -EINVAL);
	assert_int_equal(sync_parse_addr("10.0.0.1:-1", &a), -EINVAL);
	assert_int_equal(sync_parse_addr("10.0.0.1:80x", &a), -EINVAL);
	assert_int_equal(sync_parse_addr("[10.0.0.1]:80", &a), -EINVAL);
	assert_int_equal(sync_parse_addr("[2001:db8::1", &a), -EINVAL);
	assert_int_equal(sync_parse_addr("[2001:db8::1]x", &a), -EINVAL);
	assert_int_equal(sync_parse_addr("router1:7430", &a), -EINVAL);
}

static void options_are_checked_together(void **state)
{
	struct sync_config c = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), 0);
	c.n_peers = 1;
	sync_parse_addr("10.0.0.2", &c.peer[0]);
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "need --sync"));
	c.on = true;
	sync_parse_addr("10.0.0.1", &c.listen);
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--sync-key"));
	c.key_file = "/etc/flowpin/sync.key";
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), 0);
	c.n_peers = 2;
	sync_parse_addr("10.0.0.2", &c.peer[1]);
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	sync_parse_addr("[2001:db8::2]", &c.peer[1]);
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "family"));
	sync_parse_addr("10.0.0.1", &c.peer[1]);
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "own"));
}

/* The router id: --router-id, else what the listening address gives. */
static void router_ids(void **state)
{
	struct sync_config c = { .on = true, .key_file = "k" };
	char err[256];

	(void)state;
	sync_parse_addr("10.0.0.1", &c.listen);
	assert_int_equal(sync_router_id(&c), 0x0a000001);
	c.router_id = 7;
	assert_int_equal(sync_router_id(&c), 7);
	c.router_id = 0;
	sync_parse_addr("[2001:db8::a:102]", &c.listen);
	assert_int_equal(sync_router_id(&c), 0x000a0102);
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), 0);
	sync_parse_addr("[2001:db8:0:1::]", &c.listen);
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--router-id"));
	c.router_id = 9;
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), 0);
	c.on = false;
	c.key_file = NULL;
	assert_int_equal(sync_check_config(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "need --sync"));
}

int main(void)
{
	static const __u8 a[4] = { 192, 0, 2, 1 }, b[4] = { 192, 0, 2, 2 };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_mac_binds_both_ends),
		cmocka_unit_test(sealed_pins_open_as_sent),
		cmocka_unit_test(acks_open_as_sent),
		cmocka_unit_test(hellos_carry_a_count),
		cmocka_unit_test(bulk_requests_may_ask_for_the_askers_pins),
		cmocka_unit_test(bad_datagrams_are_dropped_by_reason),
		cmocka_unit_test(clock_skew_is_bounded),
		cmocka_unit_test(replay_window_takes_each_seq_once),
		cmocka_unit_test(key_files_are_checked),
		cmocka_unit_test(key_is_the_whole_file),
		cmocka_unit_test(key_symlinks_and_owners),
		cmocka_unit_test(the_wire_format_does_not_drift),
		cmocka_unit_test(addresses_parse),
		cmocka_unit_test(options_are_checked_together),
		cmocka_unit_test(the_rule_orders_pins_one_way),
		cmocka_unit_test(router_ids),
	};

	sync_ends_make(&ends, FP_AF_INET, a, 7430, b, 7430);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
