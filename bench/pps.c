// SPDX-License-Identifier: GPL-2.0
/*
 * Section 2: packets per second through the bench's namespace. A
 * live-frames generator (gen.bpf.c) sends UDP frames of many flows out of
 * in0p; they arrive on in0, the router's port, where flowpin (attached by
 * flowpind), the reference forwarder or the kernel alone forwards them to
 * out1..out4, whose peers count and drop them (sink.bpf.c). Everything
 * runs on one CPU: veth runs the receiver's NAPI on the sender's CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "fixture.h"
#include "netns.h"
#include "stats_text.h"
#include "bench_gen.skel.h"
#include "bench_sink.skel.h"
#include "bench_xdp_ref.skel.h"

enum mode { M_KERNEL, M_REF, M_FLOWPIN, M_MAX };
static const char *const mode_names[M_MAX] = { "kernel forwarding",
					       "reference forwarder", "flowpin" };

#define N_SINKS 4
#define PPS_FLOWS (1 << 15) /* many flows, within flowpind's default flow_cache */

struct pps {
	struct bench *b;
	struct bench_gen *gen;
	struct bench_sink *sink;
	struct bench_xdp_ref *ref;
	int sink_ifindex[N_SINKS];
	int in[M_MAX], peer[M_MAX]; /* router port and generator side, per mode */
	__u8 in_mac[M_MAX][6], peer_mac[M_MAX][6];
	__be32 src[M_MAX];
	int fp_fd;	 /* flowpind's program */
	int stats_fd;	 /* flowpind's pinned stats */
	bool reported;	 /* a failure already counted */
};

static int mac_of(const char *dev, __u8 *mac)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

static void prog_stats(int fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	*ns = *cnt = 0;
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
		*ns = info.run_time_ns;
		*cnt = info.run_cnt;
	}
}

/*
 * Each forwarder has its own router port, so nothing is attached or
 * detached between runs: flowpin (flowpind's) on in0, the reference on
 * fpbr0, the kernel alone on fpbk0 (GRO on, so veth gives it frames).
 * Toggling XDP on one veth between runs left it delivering nothing here.
 */
static void set_mode(struct pps *p, enum mode m)
{
	memcpy(p->gen->bss->dmac, p->in_mac[m], 6);
	memcpy(p->gen->bss->smac, p->peer_mac[m], 6);
	p->gen->bss->saddr = p->src[m];
}

static int ports_up(struct pps *p)
{
	static const char *const in[M_MAX] = { "fpbk0", "fpbr0", "in0" };
	static const char *const peer[M_MAX] = { "fpbk0p", "fpbr0p", "in0p" };
	static const char *const src[M_MAX] = { "10.0.11.100", "10.0.12.100", CLIENT4 };

	if (sh("ip link add fpbk0 address 02:00:00:00:0b:01 type veth peer name fpbk0p && "
	       "ip link add fpbr0 address 02:00:00:00:0c:01 type veth peer name fpbr0p && "
	       "ip link set fpbk0 up && ip link set fpbk0p up && ip link set fpbr0 up && "
	       "ip link set fpbr0p up && ip addr add 10.0.11.1/24 dev fpbk0 && "
	       "ip addr add 10.0.12.1/24 dev fpbr0 && ethtool -K fpbk0 gro on >/dev/null"))
		return -EINVAL;
	for (int m = 0; m < M_MAX; m++) {
		p->in[m] = if_nametoindex(in[m]);
		p->peer[m] = if_nametoindex(peer[m]);
		inet_pton(AF_INET, src[m], &p->src[m]);
		if (!p->in[m] || !p->peer[m] || mac_of(in[m], p->in_mac[m]) ||
		    mac_of(peer[m], p->peer_mac[m]))
			return -ENODEV;
	}
	return bpf_xdp_attach(p->in[M_REF], bpf_program__fd(p->ref->progs.xdp_ref),
			      XDP_FLAGS_DRV_MODE, NULL);
}

/* One live-frames run of `repeat` frames; 0 or -errno. */
static int generate_once(struct pps *p, enum mode m, __u32 repeat)
{
	static __u8 frame[BENCH_FRAME_LEN];
	struct xdp_md ctx = { .data_end = sizeof(frame), .ingress_ifindex = p->peer[m] };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = sizeof(frame), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);

	return bpf_prog_test_run_opts(bpf_program__fd(p->gen->progs.gen), &opts) ?
		       -errno : 0;
}

/* Send for `secs` from this thread; *sent: frames handed to XDP_TX. */
static int generate(struct pps *p, enum mode m, double secs, __u64 *sent)
{
	double t0 = now_s();
	int err = 0;

	*sent = 0;
	while (!err && now_s() - t0 < secs) {
		err = generate_once(p, m, 1 << 14);
		if (!err)
			*sent += 1 << 14;
	}
	return err;
}

/*
 * The generator needs BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES
 * (5.18+). Some machines refuse it to root (EPERM: a capability or a
 * policy the bench cannot change): then there is nothing to measure, and
 * the section says so instead of reporting zeros.
 */
static bool refused(int err)
{
	return err == -EPERM || err == -EACCES || err == -EOPNOTSUPP ||
	       err == -524 /* ENOTSUPP */;
}

static __u64 delivered(struct pps *p)
{
	return percpu_sum(bpf_map__fd(p->sink->maps.received), 0);
}

/* flowpin's counters a run reports; forwarded first, checked against delivery */
static const enum fp_stat run_stats[] = { FP_STAT_FORWARDED, FP_STAT_CACHE_HIT,
					  FP_STAT_PIN_HIT, FP_STAT_PIN_NEW,
					  FP_STAT_UNPINNED_RATE };
#define N_RUN_STATS (sizeof(run_stats) / sizeof(run_stats[0]))

static void run_counts(struct pps *p, __u64 *v)
{
	for (size_t i = 0; i < N_RUN_STATS; i++)
		v[i] = percpu_sum(p->stats_fd, run_stats[i]);
}

/* One figure per forwarder with this many flows, round robin. */
static int measure_flows(struct pps *p, __u32 flows)
{
	struct bench *b = p->b;
	int reps = b->smoke ? 1 : 3, err;
	double secs = b->smoke ? 0.3 : 2.0;
	double pps[M_MAX][8] = {}, ns_pkt[M_MAX][8] = {}, med[M_MAX], med_ns[M_MAX];
	__u64 run0[N_RUN_STATS] = {}, run1[N_RUN_STATS] = {};
	char what[128], name[128], val[64], ratio[64];

	p->gen->bss->flow_mask = flows - 1;
	err = run_on_cpu(BENCH_CPU);
	for (int r = 0; r < reps && !err; r++) {
		for (int k = 0; k < M_MAX && !err; k++) {
			enum mode m = (r + k) % M_MAX;
			int fd = m == M_REF ? bpf_program__fd(p->ref->progs.xdp_ref) :
				 m == M_FLOWPIN ? p->fp_fd : -1;
			__u64 ns0, c0, ns1, c1, got0, got1, sent;
			double t0, dt;

			set_mode(p, m);
			/* warm up: pins (rate-limited), caches */
			err = generate(p, m, secs / 2, &sent);
			got0 = delivered(p);
			prog_stats(fd, &ns0, &c0);
			if (m == M_FLOWPIN)
				run_counts(p, run0);
			t0 = now_s();
			if (!err)
				err = generate(p, m, secs, &sent);
			if (err) {
				check(b, false, "pps %s: the generator failed: %s",
				      mode_names[m], strerror(-err));
				p->reported = true;
				break;
			}
			sleep_us(20000); /* let the last batches drain */
			dt = now_s() - t0;
			got1 = delivered(p);
			prog_stats(fd, &ns1, &c1);
			if (m == M_FLOWPIN) {
				run_counts(p, run1);
				check(b, run1[0] - run0[0] >= (got1 - got0) * 99 / 100,
				      "pps flowpin: forwarded +%llu, delivered +%llu",
				      run1[0] - run0[0], got1 - got0);
			}
			pps[m][r] = (got1 - got0) / dt;
			ns_pkt[m][r] = c1 > c0 ? (double)(ns1 - ns0) / (c1 - c0) : 0;
			check(b, got1 > got0, "pps %s: nothing delivered", mode_names[m]);
			say("  %-20s %.3f Mpps delivered of %.3f Mpps sent, program %.1f ns/packet\n",
			    mode_names[m], pps[m][r] / 1e6, sent / dt / 1e6, ns_pkt[m][r]);
		}
	}
	run_anywhere();
	if (err)
		return err;
	for (int m = 0; m < M_MAX; m++) {
		med[m] = median(pps[m], reps);
		med_ns[m] = median(ns_pkt[m], reps);
	}
	say("  flowpin, last run:");
	for (size_t i = 0; i < N_RUN_STATS; i++)
		say("%s %s %llu", i ? "," : "", fp_stat_name(run_stats[i]),
		    run1[i] - run0[i]);
	say("\n");
	for (int m = 0; m < M_MAX; m++) {
		const char *target = NULL, *met = NULL;
		char extra[64] = "";

		if (m != M_KERNEL)
			snprintf(extra, sizeof(extra), " (program %.0f ns/pkt)", med_ns[m]);
		snprintf(what, sizeof(what), "%s, %s, %d flows%s", b->table,
			 mode_names[m], flows, extra);
		snprintf(val, sizeof(val), "%.3f Mpps", med[m] / 1e6);
		ratio[0] = 0;
		if (m == M_REF)
			snprintf(ratio, sizeof(ratio), "%.2fx kernel", med[m] / med[M_KERNEL]);
		if (m == M_FLOWPIN) {
			double qk = med[m] / med[M_KERNEL], qr = med[m] / med[M_REF];

			snprintf(ratio, sizeof(ratio), "%.2fx kernel, %.2fx ref", qk, qr);
			snprintf(name, sizeof(name), "%s, flowpin, %u flows: pps / kernel's",
				 b->table, flows);
			figure("2", name, qk, HIGHER, 0);
			snprintf(name, sizeof(name), "%s, flowpin, %u flows: pps / reference's",
				 b->table, flows);
			figure("2", name, qr, HIGHER, 0);
			target = ">= 3x kernel, >= 1.0x ref";
			met = qk >= 3 && qr >= 1.0 ? "yes" :
			      qk >= 3 ? "NO (ref)" : qr >= 1.0 ? "NO (kernel)" : "NO";
		}
		row("2", what, val, ratio, target, met);
	}
	return 0;
}

int bench_pps(struct bench *b, struct daemon_proc *d)
{
	struct pps p = { .b = b, .fp_fd = -1, .stats_fd = -1 };
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int stats_on = -1, err = 0;
	char path[192];

	say("section 2: pps, %s\n", b->table);
	p.gen = bench_gen__open_and_load();
	p.sink = bench_sink__open_and_load();
	p.ref = bench_xdp_ref__open_and_load();
	if (!p.gen || !p.sink || !p.ref || ports_up(&p)) {
		err = -EINVAL;
		goto out;
	}
	err = tx_ports_fill(bpf_map__fd(p.ref->maps.tx_ports));
	if (err)
		goto out;
	for (int i = 0; i < N_SINKS; i++) {
		char dev[IF_NAMESIZE];

		snprintf(dev, sizeof(dev), "out%dp", i + 1);
		p.sink_ifindex[i] = if_nametoindex(dev);
		err = bpf_xdp_attach(p.sink_ifindex[i],
				     bpf_program__fd(p.sink->progs.sink),
				     XDP_FLAGS_DRV_MODE, NULL);
		if (err)
			goto out;
	}
	memcpy(p.gen->bss->dsts, b->dsts, sizeof(b->dsts));
	set_mode(&p, M_KERNEL);
	err = generate_once(&p, M_KERNEL, 1);
	if (refused(err)) {
		skip_section(b, "2", "%s: the kernel refused the live-frames generator "
			     "(BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES: %s)",
			     b->table, strerror(-err));
		err = 0;
		goto out;
	}
	if (err) {
		check(b, false, "section 2: the live-frames generator fails: %s",
		      strerror(-err));
		p.reported = true;
		goto out;
	}

	/* flowpind's program on in0, for its run time */
	err = bpf_xdp_query(p.in[M_FLOWPIN], 0, &q);
	if (err || !q.prog_id) {
		check(b, false, "pps: no XDP program on in0 (flowpind)");
		err = -ENOENT;
		goto out;
	}
	p.fp_fd = bpf_prog_get_fd_by_id(q.prog_id);
	snprintf(path, sizeof(path), "%s/stats", d->pin);
	p.stats_fd = bpf_obj_get(path);
	stats_on = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (p.fp_fd < 0 || p.stats_fd < 0 || stats_on < 0) {
		err = -errno;
		goto out;
	}

	/*
	 * 4,096 flows (one per destination) fit the CPU's caches; 32,768 do
	 * not, which is where flowpin's per-flow state costs memory traffic.
	 */
	err = measure_flows(&p, 1U << 12);
	if (!err)
		err = measure_flows(&p, PPS_FLOWS);
out:
	if (err && !p.reported)
		check(b, false, "section 2: %s", strerror(-err));
	for (int i = 0; i < N_SINKS; i++)
		if (p.sink_ifindex[i])
			bpf_xdp_detach(p.sink_ifindex[i], XDP_FLAGS_DRV_MODE, NULL);
	sh("ip link del fpbk0 2>/dev/null; ip link del fpbr0 2>/dev/null; true");
	if (stats_on >= 0)
		close(stats_on);
	if (p.stats_fd >= 0)
		close(p.stats_fd);
	if (p.fp_fd >= 0)
		close(p.fp_fd);
	bench_xdp_ref__destroy(p.ref);
	bench_sink__destroy(p.sink);
	bench_gen__destroy(p.gen);
	return err;
}
