// SPDX-License-Identifier: GPL-2.0
/*
 * A campaign of random and mutated frames through the real program in the
 * router namespace, each checked against an independent model of the
 * verdict (verdict_model.c): a frame the rules forward leaves by a port its
 * route allows, by the same one as every other frame of its flow, with the
 * next hop's MACs, TTL / hop limit one lower, a valid IPv4 header checksum
 * and every other byte as it came; any other frame is passed untouched. An
 * ICMP error is forwarded along the pin of the flow it quotes when the
 * datapath holds one (this CPU's flow_cache or flow_pins, looked up by the
 * model's key of the quoted flow), and passed when it holds none.
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
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "fixture.h"
#include "flow_cache.h"
#include "netns.h"
#include "verdict_model.h"

static struct flowpin_fixture fx;
/* frames per class (random, mutated), and forwarded per class */
static unsigned long counts[2], forwarded[2], passed, errors_pinned,
	errors_unpinned;

/*
 * The egress each forwarded flow took, by its model identity: open
 * addressing, never emptied (the flows of one campaign fit).
 */
#define FLOWS_BITS 21
static struct seen_flow {
	__u8 id[40];
	__u8 egress; /* 0: free slot */
} *flows;

static struct seen_flow *flow_slot(const __u8 *id)
{
	__u32 h = 2166136261u;

	for (int i = 0; i < 40; i++)
		h = (h ^ id[i]) * 16777619u;
	for (__u32 i = 0;; i++) {
		struct seen_flow *f = &flows[(h + i) & ((1u << FLOWS_BITS) - 1)];

		if (!f->egress || !memcmp(f->id, id, 40))
			return f;
	}
}

static __u32 rnd(void)
{
	static __u64 s = 0x9e3779b97f4a7c15ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s >> 11;
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static const __u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
			       IPPROTO_ICMPV6, IPPROTO_GRE, IPPROTO_SCTP };
static const __u8 exts[] = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS };

/* A source: mostly from a few clients, so that flows repeat; some martian. */
static void random_source(int family, char *src, size_t size)
{
	static const char *const martian4[] = { "0.1.2.3", "127.0.0.9",
						"169.254.7.7", "224.0.0.5",
						"255.255.255.255" };
	static const char *const martian6[] = { "fe80::9", "::1", "::",
						"ff02::1" };

	if (rnd() % 16 == 0)
		snprintf(src, size, "%s", family == 4 ? martian4[rnd() % 5] :
							martian6[rnd() % 4]);
	else if (family == 4)
		snprintf(src, size, "10.1.%u.%u", rnd() % 4, rnd() % 8 + 1);
	else
		snprintf(src, size, "2001:db8:1::%x", rnd() % 32 + 1);
}

/* IPv4: the header checksum made valid again, when the header is whole. */
static void fix_ipv4_check(__u8 *buf, size_t len)
{
	__u8 *l3 = buf + 14;
	size_t hlen;

	if (len < 14 + 20 || buf[12] != 0x08 || buf[13] != 0x00)
		return;
	hlen = (l3[0] & 15) * 4;
	if (hlen < 20 || 14 + hlen > len)
		return;
	put16(l3 + 10, 0);
	put16(l3 + 10, ~csum16(l3, hlen, 0));
}

/*
 * A frame the builder makes, with random fields, then damaged a little
 * (IPv4: half the time with the header checksum made valid again, so the
 * damage reaches the checks behind it). Ports come from a few values, so a
 * flow's frames (fragments too) and the ICMP errors quoting it recur.
 */
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
	random_source(s.family, src, sizeof(src));
	s.src = src;
	s.dst = s.family == 4 ? SVC4 : SVC6;
	s.sport = 40000 + rnd() % 8;
	s.dport = rnd() % 2 ? 80 : 443;
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
		quote.sport = rnd() % 2 ? 80 : 443;
		quote.dport = 40000 + rnd() % 8;
		s.quote = &quote;
	}
	len = pkt_build(&s, buf);
	n = rnd() % 4; /* a few damaged bytes, anywhere */
	for (int i = 0; i < n; i++)
		buf[rnd() % len] = rnd();
	if (rnd() % 2)
		fix_ipv4_check(buf, len);
	if (rnd() % 4 == 0) /* or cut short */
		len = 14 + rnd() % (len - 13);
	return len;
}

/*
 * Random bytes. Half are to us with an IP ethertype and version; half of
 * those have a length that fits the frame, a TTL over 1, a destination the
 * routes forward and (IPv4) a valid header checksum, so that random headers
 * past those reach forwarding too.
 */
static size_t random_frame(__u8 *buf)
{
	size_t len = 14 + rnd() % 300;
	__u8 *l3 = buf + 14;
	bool v4;

	for (size_t i = 0; i < len; i++)
		buf[i] = rnd();
	if (rnd() % 2)
		return len;
	memcpy(buf, router_mac, 6);
	v4 = rnd() % 2;
	put16(buf + 12, v4 ? 0x0800 : 0x86dd);
	if (len < 14 + (v4 ? 20 : 40)) {
		l3[0] = v4 ? 0x45 : 0x60;
		return len;
	}
	l3[0] = v4 ? 0x40 | (l3[0] & 0xf) : 0x60 | (l3[0] & 0xf);
	if (rnd() % 2)
		return len;
	if (v4) {
		if (rnd() % 4)
			l3[0] = 0x45;
		put16(l3 + 2, len - 14);
		l3[8] |= 2;
		l3[12] = rnd() % 8 ? 10 : rnd() % 2 ? 127 : 0;
		memcpy(l3 + 16, "\xc6\x33\x64", 3); /* 198.51.100.x */
		put16(l3 + 10, 0);
		if ((l3[0] & 15) * 4 <= len - 14)
			put16(l3 + 10, ~csum16(l3, (l3[0] & 15) * 4, 0));
	} else {
		put16(l3 + 4, len - 54);
		l3[7] |= 2;
		memcpy(l3 + 8, rnd() % 8 ? "\x20\x01\x0d\xb8" : "\xfe\x80\x00\x00", 4);
		memcpy(l3 + 24, "\x20\x01\x0d\xb8\x01\x00\x00\x00", 8);
	}
	return len;
}

/* Forwarded: the next hop's MACs, TTL / hop limit - 1, all else kept. */
static void check_rewrite(const __u8 *in, size_t len, const __u8 *out,
			  const struct model_verdict *v, int egress)
{
	__u8 want[PKT_MAX];

	memcpy(want, in, len);
	memcpy(want, rt.gw_mac[egress], 6);
	memcpy(want + 6, rt.out_mac[egress], 6);
	want[v->ttl_off] = in[v->ttl_off] - 1;
	if (v->ipv4) {
		assert_true(ipv4_csum_valid(out + 14));
		want[14 + 10] = out[14 + 10];
		want[14 + 11] = out[14 + 11];
	}
	assert_memory_equal(out, want, len);
}

/*
 * Does the datapath hold a pin for this flow (a model identity), as a frame
 * on this CPU finds it: its copy in the CPU's flow_cache, or the shared
 * one in flow_pins.
 */
static bool pin_held(const __u8 *id, int cpu)
{
	int ncpu = libbpf_num_possible_cpus();
	struct flow_key k = { .family = id[0] == 4 ? FP_AF_INET : FP_AF_INET6,
			      .proto = id[1] };
	struct flow_pin cached[ncpu];
	struct flow_pin pin;

	memcpy(&k.sport, id + 2, 2);
	memcpy(&k.dport, id + 4, 2);
	memcpy(k.saddr, id + 6, id[0] == 4 ? 4 : 16);
	memcpy(k.daddr, id + 22, id[0] == 4 ? 4 : 16);
	if (!flow_cache_copies(bpf_map__fd(fx.skel->maps.flow_cache),
			       bpf_map__fd(fx.skel->maps.flow_cache_tags), ncpu,
			       &k, cached) &&
	    cached[cpu].nh_id)
		return true;
	return !bpf_map_lookup_elem(bpf_map__fd(fx.skel->maps.flow_pins), &k,
				    &pin) && pin.nh_id;
}

/* pinned: for an ICMP error, what pin_held() said before it ran */
static void check_frame(const __u8 *in, size_t len, int verdict,
			const __u8 *out, __u32 out_len, bool mutated,
			const struct model_verdict *mv, bool pinned)
{
	struct model_verdict v = *mv;
	struct seen_flow *f = NULL;
	bool forward;
	int egress;

	forward = v.forward;
	if (v.icmp_error) {
		f = flow_slot(v.inner);
		/* along its flow's pin, if the datapath holds one */
		forward = pinned;
		errors_unpinned += !pinned;
	} else if (v.forward) {
		f = flow_slot(v.flow);
	}
	if (verdict != (forward ? XDP_REDIRECT : XDP_PASS))
		fail_msg("%s frame of %zu bytes: verdict %d, the model says %s",
			 mutated ? "mutated" : "random", len, verdict,
			 forward ? "forward" : "pass");
	assert_int_equal(out_len, len);
	if (!forward) {
		passed++;
		assert_memory_equal(out, in, len);
		return;
	}
	forwarded[mutated]++;
	errors_pinned += v.icmp_error;
	egress = egress_of(out);
	assert_in_range(egress, 1, N_OUT);
	if (!v.icmp_error && !(v.egress_mask & (1 << egress)))
		fail_msg("forwarded to out%d, not a port of its route (0x%x)",
			 egress, v.egress_mask);
	check_rewrite(in, len, out, &v, egress);
	if (f->egress)
		assert_int_equal(egress, f->egress); /* its flow's port */
	memcpy(f->id, v.icmp_error ? v.inner : v.flow, 40);
	f->egress = egress;
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
		struct model_verdict v;
		__u32 out_len = 0;
		bool pinned;
		int verdict;

		counts[mutate]++;
		if (i % 4096 == 0) /* both CPUs, in turns */
			assert_int_equal(run_on_cpu((i / 4096) & 1), 0);
		model_verdict(in, len, router_mac, &v);
		pinned = v.icmp_error && pin_held(v.inner, (i / 4096) & 1);
		verdict = fixture_run(&fx, in, len, out, &out_len, rt.ifindex_in0);
		/* the kernel's test runner builds no skb this short */
		if (fx.hook == HOOK_TC && verdict == -1 && len <= 14 + 40) {
			refused++;
			continue;
		}
		check_frame(in, len, verdict, out, out_len, mutate, &v, pinned);
	}
	print_message("    %s: %lu frames (%lu random, %lu mutated): %lu passed to the kernel, %lu forwarded (%lu random, %lu mutated; %lu ICMP errors along their flow's pin, %lu passed without one), %lu too short for an skb\n",
		      fx.hook == HOOK_TC ? "tc" : "xdp", frames, counts[0],
		      counts[1], passed, forwarded[0] + forwarded[1],
		      forwarded[0], forwarded[1], errors_pinned,
		      errors_unpinned, refused);
	/* both kinds reach forwarding, and errors with and without a pin */
	assert_true(forwarded[0] > counts[0] / 100);
	assert_true(forwarded[1] > counts[1] / 20);
	assert_true(errors_pinned > frames / 1000);
	assert_true(errors_unpinned > frames / 5000);
}

static enum fixture_hook hook;

static int setup(void **state)
{
	(void)state;
	memset(counts, 0, sizeof(counts));
	memset(forwarded, 0, sizeof(forwarded));
	passed = errors_pinned = errors_unpinned = 0;
	flows = calloc(1u << FLOWS_BITS, sizeof(*flows));
	if (!flows)
		return -1;
	return router_load(&fx, hook);
}

static int teardown(void **state)
{
	(void)state;
	router_unload(&fx);
	free(flows);
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
