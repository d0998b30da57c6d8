// SPDX-License-Identifier: GPL-2.0
/*
 * Pin sync's repair (loader/sync_repair.h) and its messages: digests and
 * diffs open as sent and malformed ones are dropped; a pin's range and
 * hash are the same on every build (routers of a fleet compare them);
 * a digest finds exactly the ranges that differ; the cut and the
 * gateways left out decide what counts; gateways a peer's pins name and
 * this router lacks are learnt once, forgotten when usable; a maker's
 * sums by gateway answer every digest of their cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "sync_repair.h"
#include "sync_wire.h"

static const uint8_t key[SYNC_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static struct sync_ends ends;

#define NOW 1800000000000000000ULL /* ns: 2027 */
/*
 * pin_of(0, "10.0.1.2"): its range, its hash, its gateway's hash:
 * SipHash-2-4 under the zero key of the bytes sync_wire.h names, its 8
 * bytes read big-endian (a reference SipHash in Python gives the same)
 */
#define RANGE0 26
#define HASH0 0x5e31e4abe261adadULL
#define GWHASH0 0x8e6ecc52a9981195ULL

static struct sync_pin pin_of(int i, const char *gw)
{
	struct sync_pin p;

	memset(&p, 0, sizeof(p));
	p.key.family = FP_AF_INET;
	p.key.proto = IPPROTO_TCP;
	p.key.sport = htons(40000 + i);
	p.key.dport = htons(443);
	inet_pton(AF_INET, "10.0.0.1", p.key.saddr);
	inet_pton(AF_INET, "198.51.100.10", p.key.daddr);
	p.gw_family = FP_AF_INET;
	inet_pton(AF_INET, gw, p.gw);
	p.router = 0x0a000001;
	p.rank = NOW - i * 1000ULL;
	return p;
}

static int open_words(uint8_t *buf, uint8_t type, uint8_t flags, uint32_t aux,
		      const uint64_t *w, unsigned int n, struct sync_hdr *h)
{
	struct sync_hdr out = { .type = type, .flags = flags, .count = n, .aux = aux,
				.router = 1, .epoch = 1, .seq = 1, .time_ns = NOW };
	size_t len;

	sync_put_hdr(buf, &out);
	for (unsigned int i = 0; i < n; i++)
		sync_put_ack(buf, i, w[i]);
	len = sync_seal(buf, key, &ends);
	return sync_unseal(buf, len, key, &ends, h);
}

static void digests_and_diffs_open_as_sent(void **state)
{
	struct sync_digest d = { .cut = NOW, .n_gw = SYNC_DIGEST_MAX_GW }, got;
	struct sync_hdr out = { .type = SYNC_DIGEST, .router = 1, .epoch = 1,
				.seq = 1, .time_ns = NOW }, h;
	uint8_t buf[SYNC_MAX_DGRAM];
	uint64_t cut, ranges;
	size_t len;

	(void)state;
	for (int i = 0; i < SYNC_RANGES; i++)
		d.range[i] = 0x0123456789abcdefULL * (i + 1);
	for (unsigned int i = 0; i < d.n_gw; i++)
		d.gw[i] = ~0ULL - i;
	out.count = SYNC_DIGEST_WORDS + d.n_gw;
	sync_put_hdr(buf, &out);
	sync_put_digest(buf, &d);
	len = sync_seal(buf, key, &ends);
	assert_true(len <= SYNC_MAX_DGRAM); /* the most gateways fit */
	assert_int_equal(sync_unseal(buf, len, key, &ends, &h), -1);
	memset(&got, 0xff, sizeof(got));
	sync_get_digest(buf, &h, &got);
	assert_true(got.cut == d.cut);
	assert_memory_equal(got.range, d.range, sizeof(d.range));
	assert_int_equal(got.n_gw, d.n_gw);
	assert_memory_equal(got.gw, d.gw, sizeof(d.gw));

	out = (struct sync_hdr){ .type = SYNC_DIFF, .count = SYNC_DIFF_WORDS,
				 .router = 1, .epoch = 1, .seq = 2, .time_ns = NOW };
	sync_put_hdr(buf, &out);
	sync_put_diff(buf, NOW, 0x8000000000000001ULL);
	len = sync_seal(buf, key, &ends);
	assert_int_equal(sync_unseal(buf, len, key, &ends, &h), -1);
	sync_get_diff(buf, &cut, &ranges);
	assert_true(cut == NOW && ranges == 0x8000000000000001ULL);
}

/* Each field that must add up, and the repair's flag on pins alone. */
static void bad_digests_and_diffs_are_malformed(void **state)
{
	uint64_t w[SYNC_DIGEST_WORDS] = { NOW };
	uint8_t buf[SYNC_MAX_DGRAM];
	struct sync_pin p = pin_of(0, "10.0.1.2");
	struct sync_hdr h = { .type = SYNC_PINS, .count = 1, .router = 1,
			      .epoch = 1, .seq = 1, .time_ns = NOW };
	size_t len;

	(void)state;
	assert_int_equal(open_words(buf, SYNC_DIGEST, 0, 0, w, SYNC_DIGEST_WORDS, &h), -1);
	/* a range short */
	assert_int_equal(open_words(buf, SYNC_DIGEST, 0, 0, w, SYNC_DIGEST_WORDS - 1, &h),
			 FP_DROP_MALFORMED);
	assert_int_equal(open_words(buf, SYNC_DIGEST, SYNC_F_REPAIR, 0, w,
				    SYNC_DIGEST_WORDS, &h), FP_DROP_MALFORMED);
	assert_int_equal(open_words(buf, SYNC_DIGEST, 0, 3, w, SYNC_DIGEST_WORDS, &h),
			 FP_DROP_MALFORMED);
	w[1] = 1;
	assert_int_equal(open_words(buf, SYNC_DIFF, 0, 0, w, SYNC_DIFF_WORDS, &h), -1);
	assert_int_equal(open_words(buf, SYNC_DIFF, 0, 0, w, SYNC_DIFF_WORDS + 1, &h),
			 FP_DROP_MALFORMED);
	assert_int_equal(open_words(buf, SYNC_DIFF, 0, 0, w, 1, &h), FP_DROP_MALFORMED);
	w[1] = 0; /* no range */
	assert_int_equal(open_words(buf, SYNC_DIFF, 0, 0, w, SYNC_DIFF_WORDS, &h),
			 FP_DROP_MALFORMED);
	w[1] = 1;
	/* a cut is a made time: below 2^63 */
	w[0] = NOW | FP_RANK_MID_STREAM;
	assert_int_equal(open_words(buf, SYNC_DIGEST, 0, 0, w, SYNC_DIGEST_WORDS, &h),
			 FP_DROP_MALFORMED);
	assert_int_equal(open_words(buf, SYNC_DIFF, 0, 0, w, SYNC_DIFF_WORDS, &h),
			 FP_DROP_MALFORMED);
	/* a repair's pins; not a bulk sync's, nor its end */
	static const uint8_t flags[] = { SYNC_F_REPAIR, SYNC_F_REPAIR | SYNC_F_BULK,
					 SYNC_F_REPAIR | SYNC_F_END };
	for (unsigned int i = 0; i < sizeof(flags); i++) {
		h = (struct sync_hdr){ .type = SYNC_PINS, .flags = flags[i], .count = 1,
				       .router = 1, .epoch = 1, .seq = 1, .time_ns = NOW };
		sync_put_hdr(buf, &h);
		sync_put_pin(buf, 0, &p);
		len = sync_seal(buf, key, &ends);
		assert_int_equal(sync_unseal(buf, len, key, &ends, &h),
				 i ? FP_DROP_MALFORMED : -1);
	}
}

/*
 * Routers compare what they sum: a pin's range and hash must be the same
 * on every build. A range is the flow's alone; the hash is the whole pin.
 */
static void ranges_and_hashes_do_not_drift(void **state)
{
	struct sync_pin p = pin_of(0, "10.0.1.2"), q;

	(void)state;
	assert_int_equal(sync_pin_range(&p), RANGE0);
	assert_true(sync_pin_hash(&p) == HASH0);
	assert_true(sync_gw_hash(FP_AF_INET, p.gw) == GWHASH0);
	q = p;
	inet_pton(AF_INET, "10.0.2.2", q.gw);
	q.rank |= FP_RANK_MID_STREAM;
	q.router++;
	assert_int_equal(sync_pin_range(&q), sync_pin_range(&p));
	for (int i = 0; i < 3; i++) {
		q = p;
		if (i == 0)
			inet_pton(AF_INET, "10.0.2.2", q.gw);
		if (i == 1)
			q.rank |= FP_RANK_MID_STREAM;
		if (i == 2)
			q.router++;
		assert_true(sync_pin_hash(&q) != sync_pin_hash(&p));
	}
	q = p;
	q.key.sport = htons(40001);
	assert_true(sync_pin_hash(&q) != sync_pin_hash(&p));
}

/*
 * Two digests of the same pins agree, in whatever order they were summed;
 * with pins missing or on another gateway, exactly those pins' ranges
 * differ.
 */
static void a_digest_finds_the_ranges_that_differ(void **state)
{
	enum { N = 200 };
	struct sync_digest a = { 0 }, b = { 0 };
	uint64_t want = 0;
	int used[SYNC_RANGES] = { 0 }, spread = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		struct sync_pin p = pin_of(i, "10.0.1.2");

		repair_digest_add(&a, &p);
		used[sync_pin_range(&p)]++;
	}
	for (int i = N - 1; i >= 0; i--) {
		struct sync_pin p = pin_of(i, "10.0.1.2");

		if (i == 5 || i == 17) {
			want |= 1ULL << sync_pin_range(&p);
			continue; /* lost here */
		}
		if (i == 99) { /* held on another next hop */
			inet_pton(AF_INET, "10.0.3.2", p.gw);
			want |= 1ULL << sync_pin_range(&p);
		}
		repair_digest_add(&b, &p);
	}
	for (int r = 0; r < SYNC_RANGES; r++)
		spread += used[r] > 0;
	assert_true(spread > SYNC_RANGES / 2); /* the flows spread over the ranges */
	assert_true(repair_diff(&a, &a) == 0);
	assert_true(repair_diff(&a, &b) == want);
	assert_true(repair_diff(&b, &a) == want);
	assert_true(__builtin_popcountll(want) >= 2);
}

/* Made before the cut (mid-stream or not), and not by a gateway left out. */
static void the_cut_and_gateways_decide_what_counts(void **state)
{
	struct sync_digest d = { .cut = NOW - 5000, .n_gw = 1 };
	struct repair_filter f;
	struct sync_pin p;

	(void)state;
	p = pin_of(0, "10.0.2.2");
	d.gw[0] = sync_gw_hash(FP_AF_INET, p.gw);
	repair_filter_of(&f, &d, 0);
	assert_true(f.on);
	p = pin_of(4, "10.0.1.2"); /* NOW - 4000: after the cut */
	assert_false(repair_counts(&f, &p));
	p = pin_of(5, "10.0.1.2"); /* at the cut */
	assert_false(repair_counts(&f, &p));
	p = pin_of(6, "10.0.1.2");
	assert_true(repair_counts(&f, &p));
	p.rank |= FP_RANK_MID_STREAM;
	assert_true(repair_counts(&f, &p));
	inet_pton(AF_INET, "10.0.2.2", p.gw); /* left out */
	assert_false(repair_counts(&f, &p));
	/* a repair sends only its ranges */
	p = pin_of(6, "10.0.1.2");
	repair_filter_of(&f, &d, 1ULL << sync_pin_range(&p));
	assert_true(repair_sends(&f, &p));
	repair_filter_of(&f, &d, ~(1ULL << sync_pin_range(&p)));
	assert_false(repair_sends(&f, &p));
}

static bool usable_10_0_1(void *ctx, uint8_t family, const __be32 gw[4])
{
	(void)ctx;
	return family == FP_AF_INET && (ntohl(gw[0]) & 0xffffff00) == 0x0a000100;
}

static void lacking_gateways_are_learnt_and_forgotten(void **state)
{
	struct repair_gws g = { 0 };
	char s[32];

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct sync_pin p = pin_of(k, "10.0.1.9");

		repair_gws_add(&g, &p); /* twice the same: once */
	}
	assert_int_equal(g.n, 1);
	assert_true(g.hash[0] == sync_gw_hash(FP_AF_INET, pin_of(0, "10.0.1.9").gw));
	for (int i = 1; i < SYNC_DIGEST_MAX_GW; i++) {
		snprintf(s, sizeof(s), "10.0.%d.%d", 2 + i / 200, i % 200);
		struct sync_pin p = pin_of(i, s);

		repair_gws_add(&g, &p);
	}
	assert_int_equal(g.n, SYNC_DIGEST_MAX_GW);
	assert_false(g.full);
	struct sync_pin one_more = pin_of(0, "10.9.9.9");

	repair_gws_add(&g, &one_more);
	assert_true(g.full);
	assert_int_equal(g.n, SYNC_DIGEST_MAX_GW);
	/* 10.0.1.9 has a usable next hop now: it goes, the rest stay */
	repair_gws_prune(&g, usable_10_0_1, NULL);
	assert_int_equal(g.n, SYNC_DIGEST_MAX_GW - 1);
	assert_false(g.full);
	for (uint32_t i = 0; i < g.n; i++)
		assert_false(usable_10_0_1(NULL, g.family[i], g.gw[i]));
}

/*
 * Our pins summed once by gateway answer every digest of their cut as a
 * walk of its own would, whatever gateways it leaves out; another cut,
 * or more gateways than the sums hold, they cannot answer.
 */
static void sums_answer_every_digest_of_their_cut(void **state)
{
	enum { N = 300 };
	static const char *const gws[] = { "10.0.1.2", "10.0.2.2", "10.0.3.2",
					   "10.0.4.2", "10.0.5.2" };
	static struct repair_sums sums;
	struct sync_digest theirs = { .cut = NOW - 100000 }, ours, want;
	char s[32];

	(void)state;
	repair_sums_reset(&sums, theirs.cut);
	for (int i = 0; i < N; i++) {
		struct sync_pin p = pin_of(i, gws[i % 5]); /* NOW - i us */

		repair_sums_add(&sums, &p);
	}
	assert_false(repair_sums_digest(&sums, &theirs, &ours)); /* not yet whole */
	sums.valid = true;
	for (int left = 0; left < 4; left++) {
		struct repair_filter f;

		/* none, then 10.0.2.2, then .1 and .3, then all but .5 */
		theirs.n_gw = 0;
		for (int g = 0; g < 5; g++) {
			bool out = (left == 1 && g == 1) || (left == 2 && (g == 0 || g == 2)) ||
				   (left == 3 && g < 4);
			struct sync_pin q = pin_of(0, gws[g]);

			if (out)
				theirs.gw[theirs.n_gw++] = sync_gw_hash(FP_AF_INET, q.gw);
		}
		memset(&want, 0, sizeof(want));
		repair_filter_of(&f, &theirs, 0);
		for (int i = 0; i < N; i++) {
			struct sync_pin p = pin_of(i, gws[i % 5]);

			if (repair_counts(&f, &p))
				repair_digest_add(&want, &p);
		}
		assert_true(repair_sums_digest(&sums, &theirs, &ours));
		assert_memory_equal(ours.range, want.range, sizeof(want.range));
	}
	theirs.cut++;
	assert_false(repair_sums_digest(&sums, &theirs, &ours));
	/* one gateway more than they hold */
	repair_sums_reset(&sums, NOW + 1);
	for (int i = 0; i <= REPAIR_SUMS_GW; i++) {
		snprintf(s, sizeof(s), "10.1.%d.2", i);
		struct sync_pin p = pin_of(i, s);

		repair_sums_add(&sums, &p);
	}
	sums.valid = true;
	theirs = (struct sync_digest){ .cut = NOW + 1 };
	assert_true(sums.overflow);
	assert_false(repair_sums_digest(&sums, &theirs, &ours));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(digests_and_diffs_open_as_sent),
		cmocka_unit_test(bad_digests_and_diffs_are_malformed),
		cmocka_unit_test(ranges_and_hashes_do_not_drift),
		cmocka_unit_test(a_digest_finds_the_ranges_that_differ),
		cmocka_unit_test(the_cut_and_gateways_decide_what_counts),
		cmocka_unit_test(lacking_gateways_are_learnt_and_forgotten),
		cmocka_unit_test(sums_answer_every_digest_of_their_cut),
	};
	uint8_t a[4] = { 192, 0, 2, 1 }, b[4] = { 192, 0, 2, 2 };

	sync_ends_make(&ends, FP_AF_INET, a, 7430, b, 7430);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
