// SPDX-License-Identifier: GPL-2.0
/*
 * A campaign of random and mutated frames through the real program in the
 * router namespace. On every frame: the verdict is XDP_PASS or
 * XDP_REDIRECT; a passed frame is untouched; a forwarded one was IP, not
 * to a group MAC, had a TTL / hop limit above 1, leaves with it one lower
 * and, for IPv4, a valid header checksum.
 * FRAMES sets the count (default 1,000,000).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <cmocka.h>

#include "fixture.h"
#include "netns.h"

static struct flowpin_fixture fx;
static unsigned long counts[4]; /* passed, forwarded, random, mutated */

static __u32 rnd(void)
{
	static __u64 s = 0x9e3779b97f4a7c15ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s >> 11;
}

static const __u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
			       IPPROTO_ICMPV6, IPPROTO_GRE, IPPROTO_SCTP };
static const __u8 exts[] = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS };

/* A frame the builder makes, with random fields, then damaged a little. */
static size_t mutated_frame(__u8 *buf)
{
	static const int ttls[] = { 0x100, 1, 2, 3, 64, 255 };
	struct pkt_spec quote = {}, s = {};
	__u8 ext[8];
	char src[64], qdst[64];
	size_t len;
	int n;

	s.family = rnd() % 2 ? 4 : 6;
	s.proto = protos[rnd() % sizeof(protos)];
	if (s.family == 4)
		snprintf(src, sizeof(src), "10.%u.%u.%u", rnd() % 256, rnd() % 256, rnd() % 254 + 1);
	else
		snprintf(src, sizeof(src), "2001:db8:%x::%x", rnd() % 0xffff, rnd() % 0xffff + 1);
	s.src = src;
	s.dst = s.family == 4 ? SVC4 : SVC6;
	s.sport = rnd();
	s.dport = rnd();
	s.ttl = ttls[rnd() % 6];
	s.tcp_flags = rnd();
	s.payload = rnd() % 200;
	if (s.family == 4 && rnd() % 4 == 0)
		s.ip_opts = 4 * (rnd() % 11);
	if (rnd() % 5 == 0)
		s.frag = rnd() & 0x3fff;
	if (s.family == 6 && rnd() % 3 == 0) {
		s.n_ext = rnd() % 8;
		for (int i = 0; i < s.n_ext; i++)
			ext[i] = exts[rnd() % 3];
		s.ext = ext;
	}
	if ((s.proto == IPPROTO_ICMP || s.proto == IPPROTO_ICMPV6) && rnd() % 2) {
		s.icmp_type = s.family == 4 ? (rnd() % 2 ? 3 : 11) : rnd() % 4;
		quote.family = s.family;
		quote.proto = rnd() % 2 ? IPPROTO_TCP : IPPROTO_UDP;
		quote.src = s.dst;
		snprintf(qdst, sizeof(qdst), "%s", src);
		quote.dst = qdst;
		quote.sport = rnd();
		quote.dport = rnd();
		s.quote = &quote;
	}
	len = pkt_build(&s, buf);
	n = rnd() % 4; /* a few damaged bytes, anywhere */
	for (int i = 0; i < n; i++)
		buf[rnd() % len] = rnd();
	if (rnd() % 4 == 0) /* or cut short */
		len = 14 + rnd() % (len - 13);
	return len;
}

static size_t random_frame(__u8 *buf)
{
	size_t len = 14 + rnd() % 300;

	for (size_t i = 0; i < len; i++)
		buf[i] = rnd();
	if (rnd() % 2) { /* often to us, often IP */
		memcpy(buf, router_mac, 6);
		buf[12] = rnd() % 2 ? 0x08 : 0x86;
		buf[13] = buf[12] == 0x08 ? 0x00 : 0xdd;
		buf[14] = buf[12] == 0x08 ? 0x45 : 0x60;
	}
	return len;
}

static void check_frame(const __u8 *in, size_t len, int verdict,
			const __u8 *out, __u32 out_len)
{
	__u16 type = in[12] << 8 | in[13];

	if (verdict != XDP_PASS && verdict != XDP_REDIRECT)
		fail_msg("verdict %d", verdict);
	assert_int_equal(out_len, len);
	if (verdict == XDP_PASS) {
		counts[0]++;
		assert_memory_equal(out, in, len);
		return;
	}
	counts[1]++;
	assert_false(in[0] & 1);
	if (type == 0x0800) {
		assert_true(in[22] > 1);
		assert_int_equal(out[22], in[22] - 1);
		assert_true(ipv4_csum_valid(out + 14));
	} else if (type == 0x86dd) {
		assert_true(in[21] > 1);
		assert_int_equal(out[21], in[21] - 1);
	} else {
		fail_msg("forwarded ethertype 0x%04x", type);
	}
}

static void campaign(void **state)
{
	const char *env = getenv("FRAMES");
	unsigned long frames = env ? strtoul(env, NULL, 0) : 1000000;
	__u8 in[PKT_MAX], out[PKT_MAX];
	unsigned long refused = 0;

	(void)state;
	for (unsigned long i = 0; i < frames; i++) {
		bool mutate = rnd() % 4 != 0;
		size_t len = mutate ? mutated_frame(in) : random_frame(in);
		__u32 out_len = 0;
		int verdict;

		counts[mutate ? 3 : 2]++;
		if (i % 4096 == 0) /* both CPUs, in turns */
			assert_int_equal(run_on_cpu((i / 4096) & 1), 0);
		verdict = fixture_run(&fx, in, len, out, &out_len, rt.ifindex_in0);
		/* the kernel's test runner builds no skb this short */
		if (fx.hook == HOOK_TC && verdict == -1 && len <= 14 + 40) {
			refused++;
			continue;
		}
		check_frame(in, len, verdict, out, out_len);
	}
	print_message("    %s: %lu frames (%lu random, %lu mutated): %lu passed to the kernel, %lu forwarded, %lu too short for an skb\n",
		      fx.hook == HOOK_TC ? "tc" : "xdp", frames, counts[2],
		      counts[3], counts[0], counts[1], refused);
	assert_true(counts[1] > frames / 20); /* the campaign reaches forwarding */
}

static enum fixture_hook hook;

static int setup(void **state)
{
	(void)state;
	memset(counts, 0, sizeof(counts));
	return router_load(&fx, hook);
}

static int teardown(void **state)
{
	(void)state;
	router_unload(&fx);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(campaign) };
	int failed;

	hook = HOOK_XDP;
	failed = cmocka_run_group_tests_name("random frames (xdp)", tests,
					     setup, teardown);
	hook = HOOK_TC;
	return failed | cmocka_run_group_tests_name("random frames (tc)", tests,
						    setup, teardown);
}
