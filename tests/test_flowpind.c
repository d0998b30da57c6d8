// SPDX-License-Identifier: GPL-2.0
/*
 * The real flowpind in the router namespace of fixture.c: it follows
 * `ip route`, `ip nexthop`, `ip neigh` and `ip link` within 100 ms, refuses
 * bad input leaving nothing behind, and survives restarts without
 * detaching or losing its pinned maps.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <libgen.h>
#include <net/if.h>
#include <limits.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <cmocka.h>

#include "fixture.h"
#include "daemon.h"
#include "datapath.h"
#include "netns.h"
#include "nexthop_table.h"
#include "tc_hook.h"
#include "test_skip.h"

#define PORTS "out1", "out2", "out3", "out4", "out5"


/*
 * How long flowpind may take to follow a change here: a bound, not the
 * figure (`make bench` measures that, change -> map). flowpind polls
 * nothing: a change it missed is never followed, and busy cores (the
 * kernel matrix beside) must not fail a test that it was late.
 */
#define FOLLOW_US 5000000

/*
 * Milliseconds from `since_us` (taken when the command that changed the
 * kernel returned) until the next hop reaches this state; -1 after
 * FOLLOW_US.
 */
static double wait_state(int family, int out, const char *gw, int state,
			 __u64 since_us)
{
	while (now_us() - since_us < FOLLOW_US) {
		if (nh_state(family, rt.ifindex_out[out], gw, NULL) == state)
			return (now_us() - since_us) / 1000.0;
		usleep(200);
	}
	return -1;
}

static __u32 xdp_prog_id(int out)
{
	__u32 id = 0;

	bpf_xdp_query_id(rt.ifindex_out[out], 0, &id);
	return id;
}

/* The policy flowpind says it runs with (daemon_status). */
static __u32 status_policy(void)
{
	struct daemon_status st = {};
	__u32 zero = 0;
	int fd = pinned_fd("daemon_status");

	bpf_map_lookup_elem(fd, &zero, &st);
	close(fd);
	return st.withdrawn_policy;
}

/* The program at flowpin's place at tc ingress; 0 if none. */
static __u32 tc_prog_id(int out)
{
	return tc_hook_prog_id(rt.ifindex_out[out]);
}

static int setup(void **state)
{
	static const int four[] = { 1, 2, 3, 4 };

	(void)state;
	unlink(log_path);
	return route_svc(four, 4);
}

static int teardown(void **state)
{
	(void)state;
	as_nobody = false; /* bad_input's, if it failed while set */
	daemon_cleanup();
	/* a second instance's pins (instances_keep_to_their_ports), if a
	 * failure left them */
	sh("rm -rf %s-other", pin_path);
	/* auto_on_kind()'s and port_of_master()'s */
	sh("ip link del fpk3 2>/dev/null; ip link del fpk2 2>/dev/null; ip link del fpk1 2>/dev/null; ip link del fpk0 2>/dev/null || true");
	return 0;
}

static void follows_the_kernel(void **state)
{
	static const int five[] = { 1, 2, 3, 4, 5 }, three[] = { 1, 2, 3 };
	struct nexthop nh;
	pid_t pid = daemon_start(PORTS, NULL);
	double ms[6];
	__u64 t;

	(void)state;
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_int_equal(nh_state(FP_AF_INET, rt.ifindex_out[1], "10.0.1.2", &nh), NH_ACTIVE);
	assert_memory_equal(nh.dmac, rt.gw_mac[1], 6);
	assert_memory_equal(nh.smac, rt.out_mac[1], 6);
	assert_int_equal(nh_state(FP_AF_INET6, rt.ifindex_out[4], "fd00:4::2", NULL), NH_ACTIVE);

	assert_int_equal(route_svc(five, 5), 0);
	t = now_us();
	ms[0] = wait_state(FP_AF_INET, 5, "10.0.5.2", NH_ACTIVE, t);
	assert_int_equal(route_svc(three, 3), 0);
	t = now_us();
	ms[1] = wait_state(FP_AF_INET6, 4, "fd00:4::2", NH_WITHDRAWN, t);

	assert_int_equal(sh("ip nexthop add id 7 via 10.0.4.2 dev out4 && ip route add 203.0.113.64/26 nhid 7"), 0);
	t = now_us();
	ms[2] = wait_state(FP_AF_INET, 4, "10.0.4.2", NH_ACTIVE, t);

	assert_int_equal(sh("ip neigh replace 10.0.2.2 lladdr 02:00:00:00:22:22 dev out2 nud permanent"), 0);
	t = now_us();
	while (now_us() - t < FOLLOW_US) {
		nh_state(FP_AF_INET, rt.ifindex_out[2], "10.0.2.2", &nh);
		if (nh.dmac[4] == 0x22)
			break;
		usleep(200);
	}
	ms[3] = nh.dmac[4] == 0x22 ? (now_us() - t) / 1000.0 : -1;

	assert_int_equal(sh("ip link set out3 down"), 0);
	t = now_us();
	ms[4] = wait_state(FP_AF_INET, 3, "10.0.3.2", NH_DEAD, t);
	assert_int_equal(sh("ip link set out3 up"), 0);
	t = now_us();
	ms[5] = wait_state(FP_AF_INET, 3, "10.0.3.2", NH_ACTIVE, t);
	/* a link down flushes neighbours and IPv6 addresses: put them back */
	assert_int_equal(sh("ip addr replace fd00:3::1/64 dev out3 nodad && "
			    "ip neigh replace 10.0.3.2 lladdr 02:00:00:00:03:02 dev out3 nud permanent && "
			    "ip neigh replace fd00:3::2 lladdr 02:00:00:00:03:02 dev out3 nud permanent"), 0);

	/* a port's new MAC: frames to it are the router's from now on */
	assert_int_equal(sh("ip link set out1 address 02:00:00:00:01:99"), 0);
	t = now_us();
	{
		struct port_mac pm = {};
		__u32 key = rt.ifindex_out[1];
		int fd = pinned_fd("port_macs");

		/* the port's MAC, then its next hops' source MAC */
		while (now_us() - t < FOLLOW_US &&
		       (bpf_map_lookup_elem(fd, &key, &pm) || pm.mac[5] != 0x99 ||
			nh_state(FP_AF_INET, rt.ifindex_out[1], "10.0.1.2", &nh) < 0 ||
			nh.smac[5] != 0x99))
			usleep(200);
		close(fd);
		assert_int_equal(pm.mac[5], 0x99);
		assert_int_equal(nh.smac[5], 0x99);
	}
	/* a new MAC flushes the port's neighbours, permanent ones too */
	assert_int_equal(sh("ip link set out1 address 02:00:00:00:01:01 && "
			    "ip neigh replace 10.0.1.2 lladdr 02:00:00:00:01:02 dev out1 nud permanent && "
			    "ip neigh replace fd00:1::2 lladdr 02:00:00:00:01:02 dev out1 nud permanent && "
			    "ip neigh replace 10.0.1.99 lladdr 02:00:00:00:01:99 dev out1 nud permanent && "
			    "ip neigh replace fd00:1::99 lladdr 02:00:00:00:01:99 dev out1 nud permanent"), 0);

	print_message("    ms from the change to the map: route add %.1f, route del %.1f, nexthop %.1f, neigh %.1f, link down %.1f, up %.1f\n",
		      ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]);
	for (int i = 0; i < 6; i++)
		assert_true(ms[i] >= 0);

	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	for (int i = 1; i <= N_OUT; i++)
		assert_int_equal(xdp_prog_id(i), 0); /* the kernel forwards alone */
	assert_true(pin_dir_exists()); /* pins are kept for the next start */
	sh("ip route del 203.0.113.64/26; ip nexthop del id 7; ip neigh replace 10.0.2.2 lladdr 02:00:00:00:02:02 dev out2 nud permanent");
}

/* The next hop's path MTU (0: the device's); -1 when it is not in the table. */
static int nh_mtu(int family, int out, const char *gw)
{
	struct nexthop nh;

	if (nh_state(family, rt.ifindex_out[out], gw, &nh) < 0)
		return -1;
	return nh.mtu;
}

static bool wait_mtu(int family, int out, const char *gw, int mtu)
{
	__u64 t = now_us();

	while (now_us() - t < FOLLOW_US) {
		if (nh_mtu(family, out, gw) == mtu)
			return true;
		usleep(1000);
	}
	print_message("    %s: mtu %d, expected %d\n", gw, nh_mtu(family, out, gw), mtu);
	return false;
}

/* Route MTUs below the device's reach the next hops they bound. */
static void follows_path_mtus(void **state)
{
	pid_t pid = daemon_start(PORTS, NULL);

	(void)state;
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_int_equal(nh_mtu(FP_AF_INET, 2, "10.0.2.2"), 0);
	assert_int_equal(sh("ip route add 203.0.113.128/25 via 10.0.2.2 dev out2 mtu lock 1400 && "
			    "ip -6 route add 2001:db8:77::/64 via fd00:2::2 dev out2 mtu 1300"), 0);
	assert_true(wait_mtu(FP_AF_INET, 2, "10.0.2.2", 1400));
	assert_true(wait_mtu(FP_AF_INET6, 2, "fd00:2::2", 1300));
	/* a device as small as the route: the device's check is enough */
	assert_int_equal(sh("ip link set out2 mtu 1400"), 0);
	assert_true(wait_mtu(FP_AF_INET, 2, "10.0.2.2", 0));
	assert_true(wait_mtu(FP_AF_INET6, 2, "fd00:2::2", 1300));
	assert_int_equal(sh("ip link set out2 mtu 1500"), 0);
	assert_true(wait_mtu(FP_AF_INET, 2, "10.0.2.2", 1400));
	assert_int_equal(sh("ip route del 203.0.113.128/25 && "
			    "ip -6 route del 2001:db8:77::/64"), 0);
	assert_true(wait_mtu(FP_AF_INET6, 2, "fd00:2::2", 0));
	assert_true(wait_mtu(FP_AF_INET, 2, "10.0.2.2", 0));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
}

/* Ready for systemd only after the first full sync, with a status line. */
static void pin_dir_is_private_and_systemd_told(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char msg[512] = "";
	struct stat st;
	pid_t pid;
	int fd;

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/fp-notify-%d", getpid());
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	setenv("WATCHDOG_USEC", "2000000", 1);
	pid = daemon_start(PORTS, NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	/* block on the notify socket itself, then read the table at once */
	{
		struct pollfd p = { .fd = fd, .events = POLLIN };

		assert_int_equal(poll(&p, 1, 10000), 1);
	}
	assert_true(recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT) > 0);
	assert_int_equal(nh_state(FP_AF_INET, rt.ifindex_out[2], "10.0.2.2", NULL), NH_ACTIVE);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_non_null(strstr(msg, "READY=1\nSTATUS=forwarding on 5 port(s)"));
	/* with WATCHDOG_USEC=2 s, a ping within those 2 s, or systemd kills it */
	{
		__u64 t0 = now_us();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		bool pinged = false;

		while (!pinged && now_us() - t0 < 2000000) {
			int left = 2000 - (now_us() - t0) / 1000;

			if (poll(&p, 1, left > 0 ? left : 0) != 1)
				break;
			memset(msg, 0, sizeof(msg));
			if (recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT) > 0)
				pinged = strstr(msg, "WATCHDOG=1") != NULL;
		}
		assert_true(pinged);
	}
	close(fd);
	unlink(sa.sun_path);
	assert_int_equal(stat(pin_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
}

/*
 * Through the program attached to out5 (XDP, or tc with tc set): where
 * each of n TCP flows from out5's side to the service goes, 1..4.
 */
static void flows_through(bool tc, int *egress, int n)
{
	static const __u8 out5_mac[6] = { 2, 0, 0, 0, 5, 1 };
	__u32 id = tc ? tc_prog_id(5) : xdp_prog_id(5);
	struct flowpin_fixture f = { .hook = tc ? HOOK_TC : HOOK_XDP,
				     .prog_fd = bpf_prog_get_fd_by_id(id) };
	__u8 in[PKT_MAX], out[PKT_MAX];

	assert_true(f.prog_fd >= 0);
	for (int i = 0; i < n; i++) {
		struct pkt_spec s = {
			.family = 4, .proto = IPPROTO_TCP, .src = CLIENT4,
			.dst = SVC4, .sport = 31000 + i, .dport = 443,
			.dmac = out5_mac,
		};
		size_t len = pkt_build(&s, in);
		__u32 out_len;

		assert_int_equal(fixture_run(&f, in, len, out, &out_len,
					     rt.ifindex_out[5]), XDP_REDIRECT);
		egress[i] = egress_of(out);
		assert_in_range(egress[i], 1, 4);
	}
	close(f.prog_fd);
}

/*
 * A restart, a SIGHUP and a SIGKILL keep the program and the pins, in XDP
 * (-m native) and at tc (the default on these veths). MODE is a -m value,
 * or NULL for none.
 */
/*
 * A port's L3 domain (its VRF's ifindex) reaches port_macs and so the key
 * of every flow that comes in there. flowpind takes it from the kernel's
 * VRFs (test_vrf, on kernels that have them); here its writer,
 * datapath_set_port(), on the maps of a flowpind killed after its start,
 * needs no VRF device.
 */
static void port_domain_keys_its_flows(void **state)
{
	static const __u8 out5_mac[6] = { 2, 0, 0, 0, 5, 1 };
	char *ifaces[] = { "out1", "out2", "out3", "out4", "out5" };
	struct datapath_opts o = {
		.pin_path = pin_path, .mode = XDP_MODE_NATIVE,
		.max_flows = FP_MAX_FLOWS, .policy = FP_WITHDRAWN_DRAIN,
		.pin_rate = FP_PIN_RATE, .pin_burst = FP_PIN_BURST,
		.min_pin_age = FP_MIN_PIN_AGE, .ifaces = ifaces, .n_ifaces = 5,
	};
	__u32 port = rt.ifindex_out[5];
	struct datapath dp;
	struct port *p = NULL;
	struct port_mac pm;
	int egress[4], macs;
	pid_t pid;

	(void)state;
	pid = daemon_start("-m", "native", PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_int_equal(daemon_stop(pid, SIGKILL), 128);
	assert_int_equal(datapath_open(&dp, &o), 0);
	for (int i = 0; i < dp.n_ports; i++)
		if (dp.ports[i].ifindex == (int)port)
			p = &dp.ports[i];
	assert_non_null(p);
	assert_int_equal(datapath_beat(&dp), 0); /* a live daemon's: new pins */
	assert_int_equal(datapath_set_port(&dp, p, out5_mac, 7), 0);
	macs = pinned_fd("port_macs");
	assert_int_equal(bpf_map_lookup_elem(macs, &port, &pm), 0);
	assert_int_equal(pm.l3dom, 7);
	assert_memory_equal(pm.mac, out5_mac, 6);

	/* flows in through out5 are pinned in domain 7, none in domain 0 */
	flows_through(false, egress, 4);
	{
		int pins = pinned_fd("flow_pins");

		for (int i = 0; i < 4; i++) {
			struct flow_key k = { .family = FP_AF_INET,
					      .proto = IPPROTO_TCP, .l3dom = 7,
					      .sport = htons(31000 + i),
					      .dport = htons(443) };
			struct flow_pin pin;

			inet_pton(AF_INET, CLIENT4, k.saddr);
			inet_pton(AF_INET, SVC4, k.daddr);
			assert_int_equal(bpf_map_lookup_elem(pins, &k, &pin), 0);
			k.l3dom = 0;
			assert_int_not_equal(bpf_map_lookup_elem(pins, &k, &pin), 0);
		}
		close(pins);
	}
	/* a domain the keys cannot hold: the port's frames are the kernel's */
	assert_int_equal(datapath_set_port(&dp, p, out5_mac, 0x10000), 0);
	assert_int_not_equal(bpf_map_lookup_elem(macs, &port, &pm), 0);
	close(macs);
	datapath_close(&dp);
}

static void restarts_keep_datapath(const char *mode)
{
	struct flow_key key = { .family = FP_AF_INET, .proto = 6, .sport = 1 };
	struct flow_pin pin = { .nh_id = 1, .nh_gen = 1 }, got;
	__u32 (*prog_id)(int) = mode ? xdp_prog_id : tc_prog_id;
	__u32 (*other_id)(int) = mode ? tc_prog_id : xdp_prog_id;
	static const int five[] = { 1, 2, 3, 4, 5 };
	int before[32], after[32];
	pid_t pid = mode ? daemon_start("-m", mode, PORTS, NULL) :
			   daemon_start(PORTS, NULL), pid2;
	__u32 prog;
	int fd;

	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has(mode ? "attached out1 in native mode" :
				   "attached out1 in tc mode (auto: a veth)"));
	prog = prog_id(1);
	assert_true(prog > 0);
	assert_int_equal(other_id(1), 0);
	/*
	 * flowpinctl names it: only the mode's program is loaded (at XDP the
	 * port's program is libxdp's dispatcher where it loads, flowpin an
	 * extension in it: its id is not the port's)
	 */
	if (mode)
		assert_int_equal(sh("%s -p %s status | grep -qx 'program: *flowpin, id [1-9][0-9]*'",
				    flowpinctl, pin_path), 0);
	else
		assert_int_equal(sh("%s -p %s status | grep -qx 'program: *flowpin_tc, id %u'",
				    flowpinctl, pin_path, prog), 0);
	fd = pinned_fd("flow_pins");
	assert_int_equal(bpf_map_update_elem(fd, &key, &pin, BPF_ANY), 0);
	close(fd);
	/* real pins, through the real program, kept across every restart */
	flows_through(!mode, before, 32);

	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_int_equal(truncate(log_path, 0), 0);
	assert_int_equal(daemon_wait_ready(pid), 0); /* same process, new image */
	assert_true(daemon_log_has("adopted out1"));
	assert_int_equal(prog_id(1), prog);
	flows_through(!mode, after, 32);
	assert_memory_equal(after, before, sizeof(before));
	/* only the new image can follow this: out5 joins the route */
	{
		__u64 t = now_us();

		assert_int_equal(route_svc(five, 5), 0);
		assert_true(wait_state(FP_AF_INET, 5, "10.0.5.2", NH_ACTIVE, t) >= 0);
		flows_through(!mode, after, 32);
		assert_memory_equal(after, before, sizeof(before));
		assert_int_equal(route_svc(five, 4), 0);
	}

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(prog_id(1), prog); /* still forwarding */
	pid2 = mode ? daemon_start("-m", mode, PORTS, NULL) :
		      daemon_start(PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid2), 0);
	assert_true(daemon_log_has("adopted out1"));
	assert_int_equal(prog_id(1), prog);
	fd = pinned_fd("flow_pins");
	assert_int_equal(bpf_map_lookup_elem(fd, &key, &got), 0);
	assert_memory_equal(&got, &pin, sizeof(pin));
	close(fd);
	flows_through(!mode, after, 32);
	assert_memory_equal(after, before, sizeof(before));

	/* another policy is another program: replaced in place, pins kept */
	kill(pid2, SIGKILL);
	waitpid(pid2, NULL, 0);
	pid2 = mode ? daemon_start("--withdrawn", "repin", "-m", mode, PORTS, NULL) :
		      daemon_start("--withdrawn", "repin", PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid2), 0);
	if (!daemon_log_has("replaced the earlier flowpin on out1"))
		sh("cat %s >&2", log_path);
	assert_true(daemon_log_has("replaced the earlier flowpin on out1"));
	assert_true(prog_id(1) > 0);
	assert_int_not_equal(prog_id(1), prog);
	fd = pinned_fd("flow_pins");
	assert_int_equal(bpf_map_lookup_elem(fd, &key, &got), 0);
	close(fd);

	/* the other hook: flowpin moves there, never off the port, pins kept */
	kill(pid2, SIGKILL);
	waitpid(pid2, NULL, 0);
	pid2 = mode ? daemon_start(PORTS, NULL) :
		      daemon_start("-m", "native", PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid2), 0);
	if (!daemon_log_has(mode ? "replaced the earlier flowpin (XDP) on out1 in tc mode" :
				   "replaced the earlier flowpin (tc) on out1 in native mode"))
		sh("cat %s >&2", log_path);
	assert_true(daemon_log_has(mode ? "replaced the earlier flowpin (XDP) on out1 in tc mode" :
					  "replaced the earlier flowpin (tc) on out1 in native mode"));
	assert_int_equal(prog_id(1), 0);
	assert_true(other_id(1) > 0);
	fd = pinned_fd("flow_pins");
	assert_int_equal(bpf_map_lookup_elem(fd, &key, &got), 0);
	close(fd);
	assert_int_equal(daemon_stop(pid2, SIGTERM), 0);
	assert_int_equal(xdp_prog_id(1), 0);
	assert_int_equal(tc_prog_id(1), 0);
}

static void restarts_keep_datapath_native(void **state)
{
	(void)state;
	restarts_keep_datapath("native");
}

static void restarts_keep_datapath_tc(void **state)
{
	(void)state;
	restarts_keep_datapath(NULL);
}

static bool neigh_state_is(const char *addr, const char *dev, const char *state)
{
	return sh("ip neigh show %s dev %s | grep -q ' %s'", addr, dev, state) == 0;
}

/*
 * Every 5 s flowpind marks the neighbours of next hops in use (NTF_USE),
 * since pinned traffic bypasses the kernel; static entries are left alone.
 */
static void keepalive_spares_static_neighbours(void **state)
{
	pid_t pid;

	(void)state;
	assert_int_equal(sh("ip neigh replace 10.0.4.2 lladdr 02:00:00:00:04:02 dev out4 nud stale"), 0);
	pid = daemon_start(PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	sleep(6);
	assert_true(neigh_state_is("10.0.1.2", "out1", "PERMANENT"));
	assert_true(neigh_state_is("fd00:2::2", "out2", "PERMANENT"));
	/* probed: still there (a deleted entry is not STALE either), and no
	 * longer STALE */
	assert_int_equal(sh("ip neigh show 10.0.4.2 dev out4 | grep -q ."), 0);
	assert_false(neigh_state_is("10.0.4.2", "out4", "STALE"));
	assert_int_equal(nh_state(FP_AF_INET, rt.ifindex_out[1], "10.0.1.2", NULL), NH_ACTIVE);
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	sh("ip neigh replace 10.0.4.2 lladdr 02:00:00:00:04:02 dev out4 nud permanent");
}

/* Refused: one line, non-zero exit. */
static void refuse_leaving(const char *why, const char *expect, pid_t pid)
{
	int status = daemon_wait_exit(pid);

	if (status == 0 || status == -1 || !daemon_log_has(expect)) {
		sh("cat %s >&2", log_path);
		fail_msg("%s: exit %d, expected a message with '%s'", why,
			 status, expect);
	}
}

/* Bad input: refused, and nothing attached or pinned. */
static void refuse(const char *why, const char *expect, pid_t pid)
{
	refuse_leaving(why, expect, pid);
	if (xdp_prog_id(1) || tc_prog_id(1))
		fail_msg("%s: a program was left on out1", why);
}

static void bad_input(void **state)
{
	char path[128];
	int fd, l3_devs;

	(void)state;
	refuse("unknown interface", "unknown interface nosuch0",
	       daemon_start("out1", "nosuch0", NULL));
	assert_false(pin_dir_exists());
	/*
	 * An L3 device: a TUN (where there is /dev/net/tun; not in the
	 * matrix's VMs), and an IP tunnel (where the kernel has IPIP; this
	 * machine may not), at least one of them.
	 */
	l3_devs = 0;
	if (!system("ip tuntap add dev fptun0 mode tun 2>/dev/null")) {
		refuse("a port without Ethernet headers",
		       "fptun0 is a device without Ethernet headers (tun): flowpin forwards Ethernet frames, and the kernel keeps routing what comes in on fptun0",
		       daemon_start("out1", "fptun0", NULL));
		assert_false(pin_dir_exists());
		assert_int_equal(sh("ip link del fptun0"), 0);
		l3_devs++;
	}
	if (!system("ip link add fptun0 type ipip remote 192.0.2.250 2>/dev/null")) {
		refuse("an ip tunnel as a port",
		       "fptun0 is an IP tunnel (ipip), not a port: what comes out of it has no Ethernet header, and flowpin sends to next hops out of it at tc without being told",
		       daemon_start("out1", "fptun0", NULL));
		assert_false(pin_dir_exists());
		assert_int_equal(sh("ip link del fptun0"), 0);
		l3_devs++;
	}
	assert_true(l3_devs > 0);
	refuse("bad mode", "invalid value 'fast' for --mode",
	       daemon_start("-m", "fast", "out1", NULL));
	refuse("bad mode of a port", "out2:hw: unknown mode 'hw' (native, skb, tc or auto)",
	       daemon_start("out1", "out2:hw", NULL));
	assert_false(pin_dir_exists());
	refuse("no interface", "no interface given", daemon_start(NULL));

	snprintf(pin_path, sizeof(pin_path), "/tmp/fp-test-%d", getpid());
	refuse("pin path not on bpffs", "is not on a bpffs", daemon_start("out1", NULL));
	snprintf(pin_path, sizeof(pin_path), "/sys/fs/bpf/fp-test-%d", getpid());

	/* someone else's program, attached without libxdp */
	assert_int_equal(sh("ip link set dev out2 xdpgeneric obj %s sec xdp", xdp_pass_obj), 0);
	refuse("foreign XDP program", "already runs XDP program not_flowpin",
	       daemon_start("-m", "native", "out1", "out2", NULL));
	assert_int_equal(sh("ip link set dev out2 xdpgeneric off"), 0);
	assert_false(pin_dir_exists());

	/*
	 * A pin path planted by another user (a bpffs without mode= is
	 * world-writable): a symlink to elsewhere, or a directory of theirs.
	 * Refused, and neither is changed.
	 */
	{
		char target[128];
		struct stat st;

		snprintf(target, sizeof(target), "/sys/fs/bpf/fp-target-%d", getpid());
		assert_int_equal(mkdir(target, 0755), 0);
		assert_int_equal(symlink(target, pin_path), 0);
		refuse("pin path is a symlink", "is not a directory (a symlink or a file)",
		       daemon_start("out1", NULL));
		assert_int_equal(stat(target, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
		assert_int_equal(lstat(pin_path, &st), 0);
		assert_true(S_ISLNK(st.st_mode));
		assert_int_equal(unlink(pin_path), 0);
		assert_int_equal(rmdir(target), 0);

		assert_int_equal(mkdir(pin_path, 0777), 0);
		assert_int_equal(chmod(pin_path, 0777), 0); /* past the umask */
		assert_int_equal(chown(pin_path, 65534, 65534), 0);
		refuse("pin path owned by another user", "belongs to uid 65534",
		       daemon_start("out1", NULL));
		assert_int_equal(stat(pin_path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0777);
		assert_int_equal(rmdir(pin_path), 0);
	}

	/* maps of another layout pinned where ours go */
	assert_int_equal(mkdir(pin_path, 0700), 0);
	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "flow_pins", 8, 8, 128, NULL);
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/flow_pins", pin_path);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
	refuse("layout mismatch", "has another layout", daemon_start("out1", NULL));
	fd = pinned_fd("flow_pins"); /* not ours to remove */
	assert_true(fd >= 0);
	close(fd);
	remove_pins();

	/* one daemon per pin path */
	{
		pid_t first = daemon_start("out1", NULL);

		assert_int_equal(daemon_wait_ready(first), 0);
		refuse_leaving("a second daemon on the same pins",
			       "another flowpind is using", daemon_start("out2", NULL));
		assert_int_equal(daemon_stop(first, SIGTERM), 0);
		remove_pins();
	}

	as_nobody = true;
	refuse("no privileges", "needs CAP_BPF", daemon_start("out1", NULL));
	as_nobody = false;
	assert_false(pin_dir_exists());
}

/*
 * A port deleted and created again under its name gets flowpin again; pins
 * removed underneath are pinned again before a SIGHUP re-executes, so the
 * new image adopts the maps in use rather than starting empty.
 */
static void ports_and_pins_come_back(void **state)
{
	struct flow_key key = { .family = FP_AF_INET, .proto = 17, .sport = 9 };
	struct flow_pin pin = { .nh_id = 1, .nh_gen = 1 }, got;
	__u32 k, old = rt.ifindex_out[5];
	struct bpf_devmap_val dv;
	pid_t pid;
	int fd;

	(void)state;
	pid = daemon_start(PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_int_equal(sh("ip link del out5"), 0);
	assert_int_equal(sh("ip link add out5 address 02:00:00:00:05:01 type veth peer name out5p && ip link set dev out5 up && ip link set dev out5p up && ip addr add 10.0.5.1/24 dev out5"), 0);
	rt.ifindex_out[5] = if_nametoindex("out5");
	assert_int_not_equal(rt.ifindex_out[5], old);
	for (int i = 0; i < 200 && !tc_prog_id(5); i++)
		usleep(10000);
	assert_true(daemon_log_has("port out5 is gone"));
	assert_true(daemon_log_has("port out5 is back"));
	assert_true(tc_prog_id(5) > 0);
	fd = pinned_fd("tx_ports");
	k = rt.ifindex_out[5];
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &dv), 0);
	k = old;
	assert_int_not_equal(bpf_map_lookup_elem(fd, &k, &dv), 0);
	close(fd);

	fd = pinned_fd("flow_pins");
	assert_int_equal(bpf_map_update_elem(fd, &key, &pin, BPF_ANY), 0);
	close(fd);
	remove_pins();
	assert_false(pin_dir_exists());
	assert_int_equal(truncate(log_path, 0), 0);
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("maps were no longer pinned"));
	assert_true(daemon_log_has("adopted out1"));
	fd = pinned_fd("flow_pins");
	assert_int_equal(bpf_map_lookup_elem(fd, &key, &got), 0);
	assert_memory_equal(&got, &pin, sizeof(pin));
	close(fd);
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	/* the fixture's out5 again, for the tests that follow */
	sh("ip neigh replace 10.0.5.2 lladdr 02:00:00:00:05:02 dev out5 nud permanent; ip addr add fd00:5::1/64 dev out5 nodad; ip neigh replace fd00:5::2 lladdr 02:00:00:00:05:02 dev out5 nud permanent");
}

/*
 * A drained next hop's timeout counts from its withdrawal, across a SIGHUP
 * re-exec: the new image takes the times over rather than starting anew.
 */
static void drain_timeout_survives_reload(void **state)
{
	static const int no2[] = { 1, 3, 4 };
	__u64 t0;
	pid_t pid;

	(void)state;
	/* 20 s: the reload must be done well before it, even under qemu */
	pid = daemon_start("--drain-timeout", "20", PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	/* a flow pinned there: only the timeout may release it, not a count */
	{
		struct flow_key key = { .family = FP_AF_INET, .proto = 17, .sport = 7 };
		struct nexthop_addr a;
		struct nexthop nh;
		struct flow_pin pin;
		__be32 gw = htonl(0x0a000202); /* 10.0.2.2 */
		int fd = pinned_fd("nexthop_index");

		nexthop_addr_from(&a, rt.ifindex_out[2], FP_AF_INET, &gw);
		assert_int_equal(bpf_map_lookup_elem(fd, &a, &pin.nh_id), 0);
		close(fd);
		assert_int_equal(nh_state(FP_AF_INET, rt.ifindex_out[2], "10.0.2.2", &nh), NH_ACTIVE);
		pin.nh_gen = nh.gen;
		fd = pinned_fd("flow_pins");
		assert_int_equal(bpf_map_update_elem(fd, &key, &pin, BPF_ANY), 0);
		close(fd);
	}
	t0 = now_us();
	assert_int_equal(route_svc(no2, 3), 0);
	assert_true(wait_state(FP_AF_INET, 2, "10.0.2.2", NH_WITHDRAWN, t0) >= 0);
	usleep(3000000);
	assert_int_equal(truncate(log_path, 0), 0);
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_int_equal(nh_state(FP_AF_INET, rt.ifindex_out[2], "10.0.2.2", NULL), NH_WITHDRAWN);
	/* 21 s after the withdrawal, 18 s after the reload: due */
	assert_true(now_us() - t0 < 19000000);
	while (now_us() - t0 < 21000000)
		usleep(100000);
	assert_int_equal(sh("ip route add 192.0.2.77/32 via 10.0.1.2 dev out1"), 0);
	for (int i = 0; i < 20 && !daemon_log_has("10.0.2.2 dev out2: released"); i++)
		usleep(50000);
	if (!daemon_log_has("10.0.2.2 dev out2: released"))
		sh("cat %s >&2", log_path);
	assert_true(daemon_log_has("10.0.2.2 dev out2: released"));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	sh("ip route del 192.0.2.77/32");
}

/*
 * Two instances (another -p): the second refuses a port the first serves,
 * leaving nothing behind; once the first is killed, its program is the
 * second's to replace.
 */
static void instances_keep_to_their_ports(void **state)
{
	char other[80];
	__u32 prog;
	pid_t a, b;

	(void)state;
	snprintf(other, sizeof(other), "%s-other", pin_path);
	a = daemon_start("out1", "out2", NULL);
	assert_int_equal(daemon_wait_ready(a), 0);
	prog = tc_prog_id(2);
	assert_true(prog > 0);
	refuse_leaving("a port another flowpind serves",
		       "out2 is served by another flowpind",
		       daemon_start("-p", other, "out3", "out2", NULL));
	assert_int_equal(tc_prog_id(2), prog);
	assert_int_equal(tc_prog_id(3), 0); /* undone */
	assert_int_equal(xdp_prog_id(3), 0);

	kill(a, SIGKILL);
	waitpid(a, NULL, 0);
	assert_int_equal(truncate(log_path, 0), 0);
	b = daemon_start("-p", other, "out3", "out2", NULL);
	assert_int_equal(daemon_wait_ready(b), 0);
	assert_true(daemon_log_has("replaced the earlier flowpin on out2"));
	assert_int_not_equal(tc_prog_id(2), prog);
	assert_int_equal(daemon_stop(b, SIGTERM), 0);
	assert_int_equal(tc_prog_id(2), 0);
	sh("rm -rf %s", other);
}

/*
 * A vlan_tx of the same sizes as this build's, as an earlier build's BTF
 * describes it: {port, proto, vid, egress_qos, pad[3]}. The fd of the map,
 * pinned at path, or -1.
 */
static int pin_earlier_vlan_tx(const char *path)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	struct btf *btf = btf__new_empty();
	int u8, u16, u32, arr, vt, fd = -1;

	if (!btf)
		return -1;
	u8 = btf__add_int(btf, "__u8", 1, 0);
	u16 = btf__add_int(btf, "__u16", 2, 0);
	u32 = btf__add_int(btf, "__u32", 4, 0);
	arr = btf__add_array(btf, u32, u8, 3);
	vt = btf__add_struct(btf, "vlan_tx", 12);
	if (u8 < 0 || u16 < 0 || u32 < 0 || arr < 0 || vt < 0 ||
	    btf__add_field(btf, "port", u32, 0, 0) ||
	    btf__add_field(btf, "proto", u16, 32, 0) ||
	    btf__add_field(btf, "vid", u16, 48, 0) ||
	    btf__add_field(btf, "egress_qos", u8, 64, 0) ||
	    btf__add_field(btf, "pad", arr, 72, 0) ||
	    btf__load_into_kernel(btf))
		goto out;
	opts.btf_fd = btf__fd(btf);
	opts.btf_key_type_id = u32;
	opts.btf_value_type_id = vt;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "vlan_tx", 4, 12, FP_MAX_VLANS, &opts);
	if (fd >= 0 && bpf_obj_pin(fd, path)) {
		close(fd);
		fd = -1;
	}
out:
	btf__free(btf);
	return fd;
}

/*
 * Counters of another build (an upgrade that adds one) are replaced, not
 * refused, and so is a vlan_tx whose fields moved within the same size;
 * and flowpind beats once a second in the heartbeat map.
 */
static void counters_replaced_and_heartbeat(void **state)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	__u64 beat1 = 0, beat2 = 0;
	char path[128];
	pid_t pid;
	int fd;

	(void)state;
	assert_int_equal(mkdir(pin_path, 0700), 0);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "stats", 4, 8, 5, NULL);
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/stats", pin_path);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/vlan_tx", pin_path);
	fd = pin_earlier_vlan_tx(path);
	assert_true(fd >= 0);
	close(fd);
	pid = daemon_start(PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("stats is of another build: a new one replaces it"));
	assert_true(daemon_log_has("vlan_tx is of another build: a new one replaces it"));
	fd = pinned_fd("stats");
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	assert_int_equal(info.max_entries, FP_STAT_MAX);
	close(fd);

	fd = pinned_fd("heartbeat");
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &beat1), 0);
	usleep(2200000);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &beat2), 0);
	close(fd);
	assert_true(beat1 > 0);
	assert_true(beat2 >= beat1 + 1000000000ULL);
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
}

/*
 * systemctl reload after an edit of the settings file: the re-executed
 * flowpind runs with the file's options and ports, drops the port no
 * longer listed, takes the new one, and the pins stay.
 */
static void reload_reads_the_settings_again(void **state)
{
	char file[96];
	FILE *f;
	pid_t pid;

	(void)state;
	snprintf(file, sizeof(file), "/tmp/fp-settings-%d", getpid());
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "# edited by hand\nFLOWPIND_INTERFACES=\"out1 out2\"\nFLOWPIND_OPTS=\"-p %s --withdrawn drain\"\n",
		pin_path);
	fclose(f);
	pid = daemon_start("--settings", file, "--withdrawn", "drain", "out1", "out2", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(tc_prog_id(2) > 0);
	assert_int_equal(tc_prog_id(3), 0);
	assert_int_equal(status_policy(), FP_WITHDRAWN_DRAIN);

	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "FLOWPIND_INTERFACES='out1 out3'\n  FLOWPIND_OPTS=\"-p %s --withdrawn repin\"\n",
		pin_path);
	fclose(f);
	assert_int_equal(truncate(log_path, 0), 0);
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("re-executing with the settings read again"));
	assert_true(daemon_log_has("replaced the earlier flowpin on out1"));
	assert_true(daemon_log_has("detached from out2: no longer a port"));
	assert_int_equal(tc_prog_id(2), 0);
	assert_true(tc_prog_id(3) > 0);
	assert_int_equal(status_policy(), FP_WITHDRAWN_REPIN);
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	unlink(file);
}

/*
 * What forwarded flows skip is said at start, one line each, and again
 * when it appears later; NAT is refused unless --allow-nat.
 */
static void says_what_flows_bypass(void **state)
{
	pid_t pid;

	(void)state;
	assert_int_equal(sysctl_set("net/ipv4/conf/out1/rp_filter", "1"), 0);
	assert_int_equal(sh("ip rule add fwmark 0x7 table 100"), 0);
	assert_int_equal(sh("nft add table inet fpt && nft 'add chain inet fpt fwdchain { type filter hook forward priority 0; }' && nft add rule inet fpt fwdchain counter"), 0);
	pid = daemon_start(PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("rp_filter is 1 on out1: flowpin forwards its packets without the reverse-path check"));
	assert_false(daemon_log_has("rp_filter is 1 on out2"));
	assert_true(daemon_log_has("an IPv4 policy rule on fwmark 0x7 (table 100)"));
	assert_true(daemon_log_has("nftables chain 'inet fpt fwdchain' (1 rules) filters forwarded packets"));
	assert_false(daemon_log_has("IPsec"));
	/* later: an IPsec policy, said within one check interval */
	assert_int_equal(sh("ip xfrm policy add src 10.9.0.0/24 dst 10.9.1.0/24 dir fwd tmpl src 10.0.1.1 dst 10.0.1.2 proto esp mode tunnel"), 0);
	for (int i = 0; i < 120 && !daemon_log_has("IPsec"); i++)
		usleep(100000);
	assert_true(daemon_log_has("1 IPsec (xfrm) forward or output policies"));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);

	/* NAT: refused, leaving nothing; started with --allow-nat */
	assert_int_equal(sh("nft add table ip fpnat && nft 'add chain ip fpnat post { type nat hook postrouting priority 100; }' && nft add rule ip fpnat post oifname out5 masquerade"), 0);
	remove_pins();
	refuse("NAT rules", "NAT rules exist, and flowpin would forward around them",
	       daemon_start(PORTS, NULL));
	assert_false(pin_dir_exists());
	pid = daemon_start("--allow-nat", PORTS, NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("nftables NAT chain 'ip fpnat post' has 1 rules: flowpin forwards its flows without NAT"));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);

	sysctl_set("net/ipv4/conf/out1/rp_filter", "0");
	sh("ip rule del fwmark 0x7 table 100; ip xfrm policy flush; nft delete table inet fpt; nft delete table ip fpnat");
}

/*
 * Run add, which makes a device of this kind; a kind this kernel cannot
 * make is a skip, and a failure where LINK_KINDS_REQUIRED is set (the
 * kernel matrix: Debian's kernels have them all).
 */
static void make_link_or_skip(const char *kind, const char *add)
{
	if (sh("%s 2>/dev/null", add)) {
		if (getenv("LINK_KINDS_REQUIRED"))
			fail_msg("no %s devices on %s", kind, "this kernel");
		print_message("no %s devices on this kernel\n", kind);
		skip();
	}
}

/*
 * auto on a virtual device without native XDP: tc at once, with the
 * device's kind as the reason, and no native attach tried and failed
 * first.
 */
static void auto_on_kind(const char *kind, const char *add, const char *what)
{
	char line[128];
	pid_t pid;

	make_link_or_skip(kind, add);
	assert_int_equal(sh("ip link set fpk0 up"), 0);
	pid = daemon_start("fpk0", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	snprintf(line, sizeof(line),
		 "attached fpk0 in tc mode (auto: %s has no native XDP)", what);
	assert_true(daemon_log_has(line));
	assert_false(daemon_log_has("in native mode"));
	assert_false(daemon_log_has("cannot attach"));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	assert_int_equal(sh("ip link del fpk0"), 0);
}

static void auto_on_a_vlan_device(void **state)
{
	(void)state;
	auto_on_kind("VLAN", "ip link add link out1 name fpk0 type vlan id 100",
		     "a VLAN device");
}

static void auto_on_a_macvlan_device(void **state)
{
	(void)state;
	auto_on_kind("macvlan", "ip link add link out1 name fpk0 type macvlan",
		     "a macvlan device");
}

/*
 * PORT:MODE: a port's own mode, over -m's (auto's when there is none); the
 * status names the first port's.
 */
static void ports_of_their_own_modes(void **state)
{
	pid_t pid;

	(void)state;
	pid = daemon_start("-m", "native", "out1:tc", "out2", "out3:skb",
			   "out4:auto", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("attached out1 in tc mode"));
	assert_true(daemon_log_has("attached out2 in native mode"));
	assert_true(daemon_log_has("attached out3 in skb mode"));
	assert_true(daemon_log_has("attached out4 in tc mode (auto: a veth"));
	assert_true(tc_prog_id(1) && !xdp_prog_id(1));
	assert_true(xdp_prog_id(2) && !tc_prog_id(2));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
}

/*
 * auto where the native attach is refused (ifb has no native XDP and is on
 * no list): tc, with the kernel's reason in the line. It is also where a
 * kernel that refuses the XDP program would show, since that program is
 * first verified at the attach.
 */
static void auto_after_a_refused_native_attach(void **state)
{
	pid_t pid;

	(void)state;
	make_link_or_skip("ifb", "ip link add fpk0 type ifb");
	assert_int_equal(sh("ip link set fpk0 up"), 0);
	pid = daemon_start("fpk0", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("attached fpk0 in tc mode (auto: native XDP refused: "));
	assert_false(daemon_log_has("in native mode"));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	assert_int_equal(sh("ip link del fpk0"), 0);
}

/*
 * A VLAN trunk: auto gives it tc, which routes its tagged frames as the
 * sub-interface's; flowpind follows VLANs made, removed, taken down or
 * bridged while it runs. Native XDP on it is refused where tags can reach
 * XDP outside the frame (rx-vlan-offload; a veth, whatever its setting),
 * and a VLAN made later on such a port running XDP takes the port out of
 * flowpin's hands, with one line, until it goes.
 */
static bool in_map(const char *map, const void *key)
{
	int fd = pinned_fd(map);
	__u8 value[64];
	bool found = !bpf_map_lookup_elem(fd, key, value);

	close(fd);
	return found;
}

/*
 * IP tunnels are flowpind's to find, not ports: one up at start and one
 * brought up while it runs go into ip_tunnel_tx, each said; one down
 * (as the kernel's fallback devices, tunl0 or gre0, stay) or deleted is
 * not there; an Ethernet tunnel (gretap) is none, nor is a GRE without a
 * remote (NBMA: its outer header comes from a neighbour).
 */
static void ip_tunnels_followed(void **state)
{
	__u32 t0, t1, tap, nbma;
	pid_t pid;

	(void)state;
	make_link_or_skip("GRE", "ip link add name fpk0 type gre local 192.0.2.1 remote 192.0.2.2");
	assert_int_equal(sh("ip link set dev fpk0 up && "
			    "ip link add name fpk1 type gre local 192.0.2.1 remote 192.0.2.3"), 0);
	pid = daemon_start("out1", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("fpk0 is an IP tunnel (gre): tc pins and sends flows to next hops out of it, XDP leaves them to the kernel"));
	assert_false(daemon_log_has("fpk1 is an IP tunnel"));
	t0 = if_nametoindex("fpk0");
	t1 = if_nametoindex("fpk1");
	assert_true(in_map("ip_tunnel_tx", &t0));
	assert_false(in_map("ip_tunnel_tx", &t1));
	/* the gretap and the NBMA GRE first: read before the tunnel's line */
	assert_int_equal(sh("ip link add name fpk2 type gretap local 192.0.2.1 remote 192.0.2.4 && "
			    "ip link add name fpk3 type gre local 192.0.2.1 && "
			    "ip link set dev fpk2 up && ip link set dev fpk3 up && ip link set dev fpk1 up"), 0);
	assert_int_equal(daemon_wait_log("fpk1 is an IP tunnel (gre)", 5000), 0);
	tap = if_nametoindex("fpk2");
	nbma = if_nametoindex("fpk3");
	assert_true(in_map("ip_tunnel_tx", &t1));
	assert_false(in_map("ip_tunnel_tx", &tap));
	assert_false(in_map("ip_tunnel_tx", &nbma));
	assert_false(daemon_log_has("fpk3 is an IP tunnel"));
	assert_int_equal(sh("ip link del fpk0 && ip link set dev fpk1 down"), 0);
	for (int i = 0; i < 500 && (in_map("ip_tunnel_tx", &t0) ||
				    in_map("ip_tunnel_tx", &t1)); i++)
		usleep(10000);
	assert_false(in_map("ip_tunnel_tx", &t0));
	assert_false(in_map("ip_tunnel_tx", &t1));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
}

static void vlan_trunk_modes(void **state)
{
	struct vlan_key vk = { .proto = htons(ETH_P_8021Q), .vid = 100 };
	struct vlan_key ad = { .proto = htons(ETH_P_8021AD), .vid = 7 };
	struct vlan_tx tx;
	__u32 out1, sub;
	pid_t pid;
	int fd;

	(void)state;
	make_link_or_skip("VLAN", "ip link add link out1 name fpk0 type vlan id 100");
	assert_int_equal(sh("ip link set fpk0 up && ethtool -K out1 rxvlan on"), 0);
	refuse("native XDP on a trunk with rx-vlan-offload",
	       "out1 has VLAN fpk0 on it, and rx-vlan-offload on (ethtool -K out1 rxvlan off): XDP would see its tagged frames without the tag and route them as out1's; run out1 in tc mode (-m tc, or auto)",
	       daemon_start("-m", "native", "out1", NULL));
	assert_int_equal(sh("ethtool -K out1 rxvlan off"), 0);
	refuse("native XDP on a veth trunk",
	       "out1 has VLAN fpk0 on it, and out1 is a veth, which receives tags outside the frame",
	       daemon_start("-m", "native", "out1", NULL));
	assert_int_equal(sh("ethtool -K out1 rxvlan on"), 0);

	pid = daemon_start("out1", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(daemon_log_has("attached out1 in tc mode (auto: a VLAN is on it, and tc mode forwards every VLAN shape)"));
	assert_true(daemon_log_has("VLAN fpk0 (VID 100, 802.1Q) on out1: its tagged frames are routed as fpk0's"));
	/* the maps: the tag's sub-interface, tc's way out, its MAC */
	out1 = if_nametoindex("out1");
	vk.ifindex = ad.ifindex = out1;
	fd = pinned_fd("vlan_rx");
	assert_int_equal(bpf_map_lookup_elem(fd, &vk, &sub), 0);
	close(fd);
	assert_int_equal(sub, if_nametoindex("fpk0"));
	fd = pinned_fd("vlan_tx");
	assert_int_equal(bpf_map_lookup_elem(fd, &sub, &tx), 0);
	assert_int_equal(tx.port, out1);
	assert_int_equal(tx.proto, htons(ETH_P_8021Q));
	assert_int_equal(tx.vid, 100);
	assert_int_equal(tx.egress_qos, 0);
	assert_int_equal(tx.egress_pcp, 0);
	assert_int_equal(tx.ingress_qos, 0);
	/*
	 * an egress-qos-map: the PCPs of the priorities IPv4 forwarding
	 * gives (0, 2, 4, 6), a nibble each; 5 is none of them
	 */
	assert_int_equal(sh("ip link set fpk0 type vlan egress-qos-map 0:3 2:5 5:1 6:7"), 0);
	for (int i = 0; i < 500 && !(bpf_map_lookup_elem(fd, &sub, &tx) == 0 &&
				     tx.egress_qos); i++)
		usleep(10000);
	assert_int_equal(tx.egress_qos, 1);
	assert_int_equal(tx.egress_pcp, 0x7053);
	/* an ingress-qos-map: what IPv6 forwarding keeps */
	assert_int_equal(sh("ip link set fpk0 type vlan ingress-qos-map 1:4"), 0);
	for (int i = 0; i < 500 && !(bpf_map_lookup_elem(fd, &sub, &tx) == 0 &&
				     tx.ingress_qos); i++)
		usleep(10000);
	assert_int_equal(tx.ingress_qos, 1);
	assert_int_equal(tx.egress_pcp, 0x7053);
	close(fd);
	assert_true(in_map("port_macs", &sub));
	/* down, its frames are the kernel's to drop; a bridge's, to bridge */
	assert_int_equal(sh("ip link set fpk0 down"), 0);
	assert_int_equal(daemon_wait_log("VLAN fpk0 (VID 100 on ifindex ", 5000), 0);
	assert_false(in_map("vlan_rx", &vk));
	assert_int_equal(sh("ip link set fpk0 up"), 0);
	for (int i = 0; i < 500 && !in_map("vlan_rx", &vk); i++)
		usleep(10000);
	assert_true(in_map("vlan_rx", &vk));
	assert_int_equal(sh("ip link add fpbr0 type bridge && ip link set fpk0 master fpbr0"), 0);
	for (int i = 0; i < 500 && in_map("vlan_rx", &vk); i++)
		usleep(10000);
	assert_false(in_map("vlan_rx", &vk));
	assert_false(in_map("port_macs", &sub));
	assert_int_equal(sh("ip link del fpbr0"), 0);
	/* one made while it runs, of the other protocol; then removed */
	assert_int_equal(sh("ip link add link out1 name fpk1 type vlan proto 802.1ad id 7 && ip link set fpk1 up"), 0);
	assert_int_equal(daemon_wait_log("VLAN fpk1 (VID 7, 802.1ad) on out1: its tagged frames are routed as fpk1's", 5000), 0);
	sub = if_nametoindex("fpk1");
	assert_true(in_map("vlan_rx", &ad));
	assert_true(in_map("vlan_tx", &sub));
	assert_int_equal(sh("ip link del fpk1"), 0);
	assert_int_equal(daemon_wait_log("VLAN fpk1 (VID 7 on ifindex ", 5000), 0);
	assert_false(in_map("vlan_rx", &ad));
	assert_false(in_map("vlan_tx", &sub));
	assert_false(in_map("port_macs", &sub));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);

	/* XDP on a port, then a VLAN on it: the port's frames to the kernel */
	assert_int_equal(sh("ip link del fpk0"), 0);
	pid = daemon_start("-m", "native", "out1", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_true(in_map("port_macs", &out1));
	assert_int_equal(sh("ip link add link out1 name fpk0 type vlan id 100"), 0);
	assert_int_equal(daemon_wait_log("VLAN fpk0 is on out1, which runs XDP, and rx-vlan-offload on (ethtool -K out1 rxvlan off): XDP cannot tell its tagged frames from out1's own, so all of out1's traffic goes to the kernel", 5000), 0);
	assert_false(in_map("port_macs", &out1));
	assert_int_equal(sh("ip link del fpk0"), 0);
	assert_int_equal(daemon_wait_log("out1: no VLAN hides among its frames any more", 5000), 0);
	assert_true(in_map("port_macs", &out1));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
}

/*
 * A port of a bond or bridge is not where the kernel routes: its master
 * is. flowpind refuses it with one line naming the master, and leaves
 * nothing; given the master itself, it starts.
 */
static void port_of_master(const char *kind, const char *add)
{
	pid_t pid;

	make_link_or_skip(kind, add);
	/* a bond takes its ports down: a veth pair of the test's own */
	assert_int_equal(sh("ip link add fpk1 type veth peer name fpk1p && "
			    "ip link set fpk1 master fpk0 && ip link set fpk0 up && "
			    "ip link set fpk1p up"), 0);
	refuse(kind, "fpk1 is a port of fpk0: the kernel routes its packets as fpk0's; give flowpind fpk0 instead",
	       daemon_start("out1", "fpk1", NULL));
	assert_false(pin_dir_exists());
	pid = daemon_start("out1", "fpk0", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	/* tc on a bridge; native on a bond of veths (bonds have it, 5.15+) */
	assert_true(daemon_log_has("attached fpk0 in "));
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	if (!strcmp(kind, "bond")) {
		/*
		 * a VLAN on the bond: XDP sees its frames on the members,
		 * which decide whether the tag is still in them (a veth's
		 * may not be), whatever the bond's own flags say
		 */
		assert_int_equal(sh("ip link add link fpk0 name fpk0.7 type vlan id 7"), 0);
		refuse(kind, "fpk0 has VLAN fpk0.7 on it, and its member fpk1 has rx-vlan-offload on (ethtool -K fpk1 rxvlan off)",
		       daemon_start("-m", "native", "out1", "fpk0", NULL));
		assert_int_equal(sh("ethtool -K fpk1 rxvlan off"), 0);
		refuse(kind, "fpk0 has VLAN fpk0.7 on it, and its member fpk1 is a veth, which receives tags outside the frame",
		       daemon_start("-m", "native", "out1", "fpk0", NULL));
	}
	assert_int_equal(sh("ip link del fpk1 && ip link del fpk0"), 0);
}

static void port_of_a_bridge(void **state)
{
	(void)state;
	port_of_master("bridge", "ip link add fpk0 type bridge");
}

static void port_of_a_bond(void **state)
{
	(void)state;
	port_of_master("bond", "ip link add fpk0 type bond mode active-backup");
}

/* Is the test named in the whitespace-separated list? */
int main(void)
{
	const struct CMUnitTest all[] = {
		cmocka_unit_test_setup_teardown(follows_the_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(follows_path_mtus, setup, teardown),
		cmocka_unit_test_setup_teardown(pin_dir_is_private_and_systemd_told, setup, teardown),
		cmocka_unit_test_setup_teardown(restarts_keep_datapath_native, setup, teardown),
		cmocka_unit_test_setup_teardown(port_domain_keys_its_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(restarts_keep_datapath_tc, setup, teardown),
		cmocka_unit_test_setup_teardown(keepalive_spares_static_neighbours, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(says_what_flows_bypass, setup, teardown),
		cmocka_unit_test_setup_teardown(auto_on_a_vlan_device, setup, teardown),
		cmocka_unit_test_setup_teardown(auto_on_a_macvlan_device, setup, teardown),
		cmocka_unit_test_setup_teardown(auto_after_a_refused_native_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(ports_of_their_own_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(vlan_trunk_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(ip_tunnels_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(port_of_a_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(port_of_a_bond, setup, teardown),
		cmocka_unit_test_setup_teardown(ports_and_pins_come_back, setup, teardown),
		cmocka_unit_test_setup_teardown(drain_timeout_survives_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(instances_keep_to_their_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(counters_replaced_and_heartbeat, setup, teardown),
		cmocka_unit_test_setup_teardown(reload_reads_the_settings_again, setup, teardown),
	};
	struct CMUnitTest tests[sizeof(all) / sizeof(all[0])];
	size_t n = tests_not_skipped("FLOWPIND_TESTS_SKIP", all,
				     sizeof(all) / sizeof(all[0]), tests);
	int ret;

	if (daemon_paths_init("fp-test"))
		return 1;
	if (router_create())
		return 1;
	ret = _cmocka_run_group_tests("flowpind", tests, n, NULL, NULL);
	router_destroy();
	return ret;
}
