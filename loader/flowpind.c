// SPDX-License-Identifier: GPL-2.0
/*
 * flowpind: attach flowpin to the ports and keep its next-hop table equal
 * to the kernel's routes, neighbours and links.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "flowpin.skel.h"
#include "bypass.h"
#include "clock.h"
#include "datapath.h"
#include "follow.h"
#include "kernel.h"
#include "log.h"
#include "nexthop_table.h"
#include "options.h"
#include "pin_dir.h"
#include "settings.h"
#include "sync.h"
#include "version.h"

#define BYPASS_CHECK_S 10 /* look again for what forwarded flows skip */

struct daemon {
	struct flowpind_opts opts;
	struct datapath dp;
	struct nexthop_table nht;
	struct follow follow; /* the kernel, into the maps */
	char exe[PATH_MAX]; /* what SIGHUP executes: the installed binary */
	struct bypass bypass; /* what forwarded flows skip, as last said */
	struct sync *sync;    /* pin sync with peers, when --sync */
	bool ready_due;	      /* READY=1 once the peers' bulk syncs are in */
	double ready_by;      /* ... or at this time (mono_s()) */
	char ready_msg[PATH_MAX + 128];
};

static void sd_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract socket */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
	       offsetof(struct sockaddr_un, sun_path) + len);
	close(fd);
}

/* One line and false on a kernel older than the oldest one tested. */
static bool check_kernel(void)
{
	struct utsname u;

	if (uname(&u) || kernel_release_ok(u.release))
		return true;
	pr_warn("Linux %s or later is needed; this kernel is %s\n",
		FP_MIN_KERNEL, u.release);
	return false;
}

/*
 * Routers that share pins should make the same choice for a new flow: the
 * same routes and the same multipath hash seed (one for IPv4 and IPv6).
 */
static void warn_hash_seed(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/fib_multipath_hash_seed", "r");
	unsigned long long seed = 1;

	if (!f)
		return; /* before 6.11: no seed to set */
	if (fscanf(f, "%llu", &seed) == 1 && seed == 0)
		pr_warn("net.ipv4.fib_multipath_hash_seed is 0 (random at each boot): set one seed on every router that shares pins, so they choose alike for new flows\n");
	fclose(f);
}

/* A port of ours, attached: its next hops may take a peer's pins. */
static bool serves(void *ctx, __u32 ifindex)
{
	const struct daemon *d = ctx;

	return datapath_port(&d->dp, ifindex);
}

static void warn_hash_policy(void)
{
	static const char *const files[] = {
		"/proc/sys/net/ipv4/fib_multipath_hash_policy",
		"/proc/sys/net/ipv6/fib_multipath_hash_policy",
	};

	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");
		int policy = -1;

		if (!f)
			continue;
		if (fscanf(f, "%d", &policy) == 1 && policy == 0)
			pr_warn("%s is 0: the multipath hash ignores ports, so all flows between two hosts take one path\n",
				files[i] + strlen("/proc/sys/"));
		fclose(f);
	}
}

/*
 * Say what forwarded flows skip: everything at start, then what is new.
 * At start, NAT is a refusal unless --allow-nat: flowpin would send packets
 * out un-NATed. Returns -EPERM for that refusal.
 */
static int check_bypass(struct daemon *d, bool start)
{
	struct bypass now;
	int err = 0;

	bypass_scan(d->opts.dp.ifaces, d->opts.dp.n_ifaces, &now);
	for (int i = 0; i < now.n; i++)
		if (start || !bypass_has(&d->bypass, now.what[i]))
			pr_warn("%s\n", now.what[i]);
	if (start && now.nat && !d->opts.allow_nat) {
		pr_warn("NAT rules exist, and flowpin would forward around them: remove them, or start with --allow-nat if they never apply to these ports\n");
		err = -EPERM;
	}
	d->bypass = now;
	return err;
}

static int open_fds(sigset_t *mask, int *sigfd, int *timerfd)
{
	struct itimerspec tick = { { 1, 0 }, { 1, 0 } };

	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, mask, NULL))
		return -errno;
	*sigfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	*timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (*sigfd < 0 || *timerfd < 0 || timerfd_settime(*timerfd, 0, &tick, NULL))
		return -errno;
	return 0;
}

/*
 * READY=1, once: with peers, after their bulk syncs (or the wait ran out),
 * so whatever announces this router upstream waits for its peers' pins.
 */
static void maybe_ready(struct daemon *d)
{
	char pending[512];

	if (!d->ready_due)
		return;
	if (d->sync && !sync_bulk_done(d->sync)) {
		if (mono_s() < d->ready_by)
			return;
		sync_pending_peers(d->sync, pending, sizeof(pending));
		pr_warn("sync: no bulk sync from %s after %u s: ready without their pins\n",
			pending, d->opts.sync.wait_s);
	}
	d->ready_due = false;
	sd_notify(d->ready_msg);
	pr_info("ready: %d port(s), maps pinned in %s\n", d->dp.n_ports,
		d->dp.pin_path);
}

/* Returns the signal that ended the loop, or -errno. */
static int run(struct daemon *d, int sigfd, int timerfd)
{
	struct pollfd pfd[4] = {
		{ .fd = follow_event_fd(&d->follow), .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = timerfd, .events = POLLIN },
		{ .fd = d->sync ? sync_fd(d->sync) : -1, .events = POLLIN },
	};
	/* due times, not multiples: a timer that overran skips nothing */
	unsigned long ticks = 0, bypass_at = BYPASS_CHECK_S;

	for (;;) {
		maybe_ready(d);
		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents)
			follow_events(&d->follow);
		if (pfd[3].revents)
			sync_work(d->sync);
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si))
				return si.ssi_signo;
		}
		if (pfd[2].revents) {
			__u64 n;

			if (read(timerfd, &n, sizeof(n)) != sizeof(n))
				continue;
			ticks += n;
			datapath_beat(&d->dp);
			if (getenv("WATCHDOG_USEC"))
				sd_notify("WATCHDOG=1");
			follow_tick(&d->follow, n);
			sync_set_own_pins(d->sync, d->follow.own_pins);
			if (ticks >= bypass_at) {
				bypass_at = ticks + BYPASS_CHECK_S;
				check_bypass(d, false);
			}
		}
	}
}

int main(int argc, char **argv)
{
	/* static: what it holds (the options' ports) lives as long as the process */
	static struct daemon d;
	int sigfd = -1, timerfd = -1, sig, err;
	double t0;
	sigset_t mask;

	if (options_parse(argc, argv, &d.opts))
		return 2;
	/* resolved now, so a SIGHUP after an upgrade runs the new binary */
	if (readlink("/proc/self/exe", d.exe, sizeof(d.exe) - 1) < 0)
		snprintf(d.exe, sizeof(d.exe), "%s", argv[0]);
	log_init("flowpind", d.opts.verbose >= 2 ? LOG_TRACE :
			     d.opts.verbose ? LOG_DEBUG : LOG_INFO);
	if (!check_kernel())
		return 1;
	/* the key and the socket first: bad input is one line, nothing done */
	if (d.opts.sync.on && sync_open(&d.sync, &d.opts.sync))
		return 1;
	warn_hash_policy();
	if (d.opts.sync.on)
		warn_hash_seed();
	if (check_bypass(&d, true)) {
		sync_stop(d.sync);
		return 1;
	}

	err = open_fds(&mask, &sigfd, &timerfd);
	if (err)
		goto out;
	t0 = mono_s();
	err = datapath_open(&d.dp, &d.opts.dp);
	if (err)
		goto out;
	pr_debug("maps and program ready in %.2f s\n", mono_s() - t0);
	err = nexthop_table_open(&d.nht, bpf_map__fd(d.dp.skel->maps.nexthops),
				 bpf_map__fd(d.dp.skel->maps.nexthop_index));
	if (err) {
		pr_warn("cannot read the next-hop table: %s\n", strerror(-err));
		goto err_dp;
	}
	err = follow_open(&d.follow, &d.dp, &d.nht, d.opts.dp.policy,
			  d.opts.drain_timeout_s, d.opts.rcvbuf);
	if (err)
		goto err_nht;
	t0 = mono_s();
	datapath_beat(&d.dp); /* before the program runs with these maps */
	follow_ports_before_attach(&d.follow);
	err = datapath_attach(&d.dp);
	if (err)
		goto err_follow;
	follow_attached(&d.follow);
	pr_debug("attached in %.2f s\n", mono_s() - t0);

	d.follow.status = (struct daemon_status){
		.layout = FP_LAYOUT,
		.pid = getpid(),
		.obj_hash = d.dp.obj_hash,
		.withdrawn_policy = d.opts.dp.policy,
		.started_s = time(NULL),
		.dumped_s = d.follow.status.dumped_s,
		.xdp_mode = d.dp.status_mode,
	};
	datapath_write_status(&d.dp, &d.follow.status);
	snprintf(d.ready_msg, sizeof(d.ready_msg),
		 "READY=1\nSTATUS=forwarding on %d port(s), pins in %s",
		 d.dp.n_ports, d.dp.pin_path);
	d.ready_due = true;
	if (d.sync) {
		struct sync_env env = {
			.nht = &d.nht,
			.policy = d.opts.dp.policy,
			.serves = serves,
			.ctx = &d,
			.flow_pins_fd = bpf_map__fd(d.dp.skel->maps.flow_pins),
			.own_pins_lost = !datapath_map_reused(&d.dp, d.dp.skel->maps.flow_pins),
			.pin_events_fd = bpf_map__fd(d.dp.skel->maps.pin_events),
			.peers_fd = bpf_map__fd(d.dp.skel->maps.sync_peers),
			.turnover_fd = bpf_map__fd(d.dp.skel->maps.pin_turnover),
			.cache_fd = bpf_map__fd(d.dp.skel->maps.flow_cache),
			.cache_tags_fd = bpf_map__fd(d.dp.skel->maps.flow_cache_tags),
			.max_flows = d.opts.dp.max_flows,
			.pins_per_s = d.dp.skel->rodata->pins_per_s,
		};

		err = sync_start(d.sync, &env);
		if (err) {
			/* before the maps it writes to are closed */
			sync_stop(d.sync);
			d.sync = NULL;
			datapath_detach(&d.dp);
			goto err_follow;
		}
		d.ready_by = mono_s() + d.opts.sync.wait_s;
	}

	for (;;) {
		sig = run(&d, sigfd, timerfd);
		if (sig != SIGHUP || !pin_dir_repin(&d.dp))
			break;
		pr_warn("not re-executing: the new image would not find these maps; fix %s and send SIGHUP again\n",
			d.dp.pin_path);
	}
	if (sig == SIGHUP) {
		char **next = argv;

		/* The datapath stays attached; the new image adopts it. */
		if (d.opts.settings) {
			next = settings_argv(d.exe, d.opts.settings);
			if (!next) {
				pr_warn("cannot read %s: %s; re-executing with the same options\n",
					d.opts.settings, strerror(errno));
				next = argv;
			}
		}
		pr_info("re-executing%s, the datapath stays attached\n",
			next != argv ? " with the settings read again" : "");
		sd_notify("RELOADING=1");
		sync_stop(d.sync);
		d.sync = NULL;
		follow_hand_over(&d.follow);
		/* signals stay blocked: the new image's signalfd gets any pending */
		execv(d.exe, next);
		pr_warn("cannot re-execute: %s; the datapath stays attached\n",
			strerror(errno));
		return 1;
	}
	if (sig < 0)
		pr_warn("stopping after an error: %s\n", strerror(-sig));
	sd_notify("STOPPING=1");
	sync_stop(d.sync);
	d.sync = NULL;
	datapath_detach(&d.dp);
	d.follow.status.pid = 0;
	datapath_write_status(&d.dp, &d.follow.status);
	err = sig < 0 ? sig : 0;
	follow_close(&d.follow);
	nexthop_table_close(&d.nht);
	datapath_close(&d.dp);
	goto out;

err_follow:
	follow_close(&d.follow);
err_nht:
	nexthop_table_close(&d.nht);
err_dp:
	pin_dir_unpin_new(&d.dp);
	datapath_close(&d.dp);
out:
	sync_stop(d.sync);
	return err ? 1 : 0;
}
