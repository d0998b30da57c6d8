// SPDX-License-Identifier: GPL-2.0
/*
 * Checksum states at tc, live. An skb that reaches flowpin_tc with
 * CHECKSUM_COMPLETE carries the sum of its bytes, and flowpin rewrites
 * some of them: the IPv6 hop limit changes the sum (forward() tells the
 * skb), an IPv4 TTL decrement with its header checksum update does not,
 * and the MACs are outside the sum at ingress. The forwarded frame must
 * leave with a sum that is still its own: csum_check.bpf.c, at the
 * egress, compares the two.
 *
 * veth makes no CHECKSUM_COMPLETE skb; conntrack does, when it checks a
 * TCP checksum the device did not (nf_checksum(), at PRE_ROUTING): tc's
 * ct action runs it on in0 before flowpin, with in0's receive checksumming
 * off. Where the kernel has no ct action or matchall classifier (this
 * host's 6.18 is built without them), the test is skipped; Debian's 6.1
 * and 6.12 have both.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "fixture.h"
#include "netns.h"
#include "packets.h"

#define TCP_SYN 0x02
#define FLOWPIN_PRIO 2 /* after the ct filter's 1 */

enum { NOT_COMPLETE, SUM_RIGHT, SUM_WRONG, TOO_LONG, N_SEEN }; /* csum_check.bpf.c */

static char check_obj[PATH_MAX];

struct test_state {
	struct flowpin_fixture fx;
	struct bpf_object *check;
	int seen_fd;
	bool ct; /* the ct filter is on in0 */
};

static void seen_counts(const struct test_state *st, __u64 *n)
{
	for (__u32 k = 0; k < N_SEEN; k++) {
		n[k] = 0;
		bpf_map_lookup_elem(st->seen_fd, &k, &n[k]);
	}
}

/* A SYN of this flow sent into in0: where it left (1: out1), 0: nowhere. */
static int send_syn(int family, __u16 sport)
{
	static const char *const out1p[] = { "out1p" };
	struct pkt_spec s = {
		.family = family, .proto = IPPROTO_TCP,
		.src = family == 4 ? CLIENT4 : CLIENT6,
		.dst = family == 4 ? SVC4 : SVC6,
		.sport = sport, .dport = 443, .tcp_flags = TCP_SYN,
	};
	__u8 frame[PKT_MAX];
	size_t len = pkt_build(&s, frame);

	return kernel_forwards("in0p", out1p, 1, frame, len, family);
}

/*
 * What leaves out1 after flowpin forwarded a SYN of each family: with the
 * ct filter in front, a CHECKSUM_COMPLETE skb whose sum is the frame's;
 * without it, an skb that is not CHECKSUM_COMPLETE (what the test makes,
 * not the datapath, makes the state).
 */
static void forwarded_sums_stay_right(void **state)
{
	struct test_state *st = *state;
	__u64 before[N_SEEN], after[N_SEEN];
	__u64 fwd0 = 0, fwd1 = 0, sum[FP_STAT_MAX];

	if (!st->ct) {
		print_message("no ct action or matchall classifier in this kernel: nothing makes CHECKSUM_COMPLETE\n");
		skip();
	}
	fixture_stats(&st->fx, sum);
	fwd0 = sum[FP_STAT_FORWARDED];
	for (int family = 4; family <= 6; family += 2) {
		seen_counts(st, before);
		assert_int_equal(send_syn(family, 42000 + family), 1);
		seen_counts(st, after);
		print_message("IPv%d: COMPLETE, sum right %llu, wrong %llu; not COMPLETE %llu\n",
			      family,
			      (unsigned long long)(after[SUM_RIGHT] - before[SUM_RIGHT]),
			      (unsigned long long)(after[SUM_WRONG] - before[SUM_WRONG]),
			      (unsigned long long)(after[NOT_COMPLETE] - before[NOT_COMPLETE]));
		assert_int_equal(after[SUM_RIGHT] - before[SUM_RIGHT], 1);
		assert_int_equal(after[SUM_WRONG] - before[SUM_WRONG], 0);
		assert_int_equal(after[NOT_COMPLETE] - before[NOT_COMPLETE], 0);
		assert_int_equal(after[TOO_LONG] - before[TOO_LONG], 0);
	}
	fixture_stats(&st->fx, sum);
	fwd1 = sum[FP_STAT_FORWARDED];
	assert_int_equal(fwd1 - fwd0, 2); /* flowpin's forwards, not the kernel's */

	/* the control: without ct nothing here makes the skb COMPLETE */
	assert_int_equal(sh("tc filter del dev in0 ingress prio 1"), 0);
	st->ct = false;
	seen_counts(st, before);
	assert_int_equal(send_syn(6, 42100), 1);
	seen_counts(st, after);
	assert_int_equal(after[NOT_COMPLETE] - before[NOT_COMPLETE], 1);
}

static int attach(int ifindex, enum bpf_tc_attach_point at, int prog_fd,
		  __u32 prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = at);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .priority = prio,
		    .handle = 1);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

static int setup(void **state)
{
	static struct test_state st;
	struct fixture_opts o = { .hook = HOOK_TC };
	static const int one[] = { 1 };
	struct bpf_program *prog;
	int err;

	memset(&st, 0, sizeof(st));
	*state = &st;
	if (route_svc(one, 1) || fixture_load_opts(&st.fx, &o))
		return -1;
	st.check = bpf_object__open_file(check_obj, NULL);
	if (!st.check || bpf_object__load(st.check))
		return -1;
	prog = bpf_object__find_program_by_name(st.check, "csum_check");
	st.seen_fd = bpf_object__find_map_fd_by_name(st.check, "seen");
	err = attach(rt.ifindex_out[1], BPF_TC_EGRESS, bpf_program__fd(prog), 1) ?:
	      attach(rt.ifindex_in0, BPF_TC_INGRESS, st.fx.prog_fd, FLOWPIN_PRIO);
	if (err)
		return -1;
	/* in0's own checksumming off, so conntrack checks the sum itself */
	st.ct = !sh("ethtool -K in0 rx off >/dev/null 2>&1 && "
		    "tc filter add dev in0 ingress prio 1 matchall action ct continue 2>/dev/null");
	return 0;
}

static int teardown(void **state)
{
	struct test_state *st = *state;

	sh("tc filter del dev in0 ingress prio 1 2>/dev/null; "
	   "tc qdisc del dev in0 clsact; tc qdisc del dev out1 clsact; "
	   "ethtool -K in0 rx on >/dev/null 2>&1");
	bpf_object__close(st->check);
	fixture_unload(&st->fx);
	return route_svc((const int[]){ 1, 2, 3, 4 }, 4);
}

static int group_setup(void **state)
{
	char self[PATH_MAX] = "";

	(void)state;
	if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0)
		return -1;
	snprintf(check_obj, sizeof(check_obj), "%s/csum_check.bpf.o", dirname(self));
	return router_create();
}

static int group_teardown(void **state)
{
	(void)state;
	router_destroy();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(forwarded_sums_stay_right, setup, teardown),
	};

	return cmocka_run_group_tests_name("checksum", tests, group_setup,
					   group_teardown);
}
