// SPDX-License-Identifier: GPL-2.0
/*
 * VRFs: one 5-tuple in each of two VRFs is two flows. The real flowpind on
 * ports of two VRFs with the same addresses and the same gateway address:
 * each VRF's packets go to its own gateway, with a pin of its own, and a
 * port moved out of its VRF keys its flows anew. Needs VRF devices:
 * Debian's kernels have them (the kernel matrix runs this); a kernel
 * without them skips, or fails with VRF_REQUIRED=1 (the kernel matrix sets
 * it: it runs this test for its VRFs). A VRF's flows are not sent to
 * pin-sync peers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "daemon.h"
#include "fixture.h"
#include "netns.h"
#include "packets.h"
#include "sync_peer.h"

static const __u8 in_mac[2][6] = { { 2, 0, 0, 0, 0xa, 1 }, { 2, 0, 0, 0, 0xb, 1 } };
static const __u8 out_mac[2][6] = { { 2, 0, 0, 0, 0xa, 0x11 }, { 2, 0, 0, 0, 0xb, 0x11 } };
static const __u8 gw_mac[2][6] = { { 2, 0, 0, 0, 0xa, 0x12 }, { 2, 0, 0, 0, 0xb, 0x12 } };
static int in_if[2], vrf_if[2];
static bool have_vrf;

static int topology(void)
{
	for (int v = 0; v < 2; v++) {
		char c = "ab"[v];

		if (sh("ip link add vrf-%c type vrf table %d && ip link set dev vrf-%c up",
		       c, 10 + v, c) ||
		    sh("ip link add in%c address 02:00:00:00:0%c:01 type veth peer name in%cp",
		       c, c, c) ||
		    sh("ip link add out%c address 02:00:00:00:0%c:11 type veth peer name out%cp",
		       c, c, c) ||
		    sh("ip link set dev in%c master vrf-%c && ip link set dev out%c master vrf-%c",
		       c, c, c, c) ||
		    sh("for d in in%c in%cp out%c out%cp; do ip link set dev $d up; done",
		       c, c, c, c) ||
		    /* the same addresses in both VRFs */
		    sh("ip addr add 10.0.0.1/24 dev in%c && ip addr add 2001:db8::1/64 dev in%c nodad",
		       c, c) ||
		    sh("ip addr add 10.0.1.1/24 dev out%c && ip addr add fd00:1::1/64 dev out%c nodad",
		       c, c) ||
		    sh("ip neigh replace 10.0.1.2 lladdr 02:00:00:00:0%c:12 dev out%c nud permanent",
		       c, c) ||
		    sh("ip neigh replace fd00:1::2 lladdr 02:00:00:00:0%c:12 dev out%c nud permanent",
		       c, c) ||
		    sh("ip route add " SVC4 "/32 via 10.0.1.2 dev out%c vrf vrf-%c", c, c) ||
		    sh("ip -6 route add " SVC6 "/128 via fd00:1::2 dev out%c vrf vrf-%c", c, c))
			return -1;
		in_if[v] = if_nametoindex(v ? "inb" : "ina");
		vrf_if[v] = if_nametoindex(v ? "vrf-b" : "vrf-a");
	}
	return sysctl_set("net/ipv4/ip_forward", "1") ||
	       sysctl_set("net/ipv6/conf/all/forwarding", "1");
}

/* Which VRF's gateway a frame of the flow, sent in VRF v, goes to; -1: none. */
static int send_in(int prog_fd, int family, int v)
{
	struct pkt_spec s = {
		.family = family, .proto = IPPROTO_TCP,
		.src = family == 4 ? CLIENT4 : CLIENT6,
		.dst = family == 4 ? SVC4 : SVC6,
		.sport = 40000, .dport = 80, .dmac = in_mac[v],
	};
	__u8 in[PKT_MAX], out[PKT_MAX];
	struct xdp_md ctx = { .data_end = pkt_build(&s, in),
			      .ingress_ifindex = in_if[v] };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
		    .data_size_in = ctx.data_end, .data_out = out,
		    .data_size_out = PKT_MAX, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(prog_fd, &opts), 0);
	if (opts.retval != XDP_REDIRECT)
		return -1;
	for (int w = 0; w < 2; w++)
		if (!memcmp(out, gw_mac[w], 6) && !memcmp(out + 6, out_mac[w], 6))
			return w;
	return -1;
}

/* The pin of the flow as keyed in L3 domain l3dom: its next hop id, or 0. */
static __u32 pin_in(int family, __u16 l3dom)
{
	struct pkt_spec s = {
		.family = family, .proto = IPPROTO_TCP,
		.src = family == 4 ? CLIENT4 : CLIENT6,
		.dst = family == 4 ? SVC4 : SVC6, .sport = 40000, .dport = 80,
	};
	struct flow_key key;
	struct flow_pin pin = {};
	int fd = pinned_fd("flow_pins");

	pkt_flow_key(&s, &key);
	key.l3dom = l3dom;
	bpf_map_lookup_elem(fd, &key, &pin);
	close(fd);
	return pin.nh_id;
}

static __u16 port_l3dom(int ifindex)
{
	struct port_mac pm = {};
	__u32 key = ifindex;
	int fd = pinned_fd("port_macs");

	bpf_map_lookup_elem(fd, &key, &pm);
	close(fd);
	return pm.l3dom;
}

/* Skip without VRF devices, or fail where they are required (the matrix). */
static void need_vrf(void)
{
	if (have_vrf)
		return;
	if (getenv("VRF_REQUIRED") && !strcmp(getenv("VRF_REQUIRED"), "1"))
		fail_msg("no VRF devices in this kernel (VRF_REQUIRED=1)");
	print_message("no VRF devices in this kernel (the kernel matrix runs it)\n");
	skip();
}

static void same_tuple_in_two_vrfs(int family)
{
	int prog_fd;
	__u32 prog_id = 0;
	pid_t pid;

	need_vrf();
	pid = daemon_start("-m", "native", "ina", "inb", "outa", "outb", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_int_equal(port_l3dom(in_if[0]), vrf_if[0]);
	assert_int_equal(port_l3dom(in_if[1]), vrf_if[1]);
	assert_int_equal(bpf_xdp_query_id(in_if[0], 0, &prog_id), 0);
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	assert_true(prog_fd >= 0);

	/* each VRF's gateway, a pin in each domain, and they stay apart */
	assert_int_equal(send_in(prog_fd, family, 0), 0);
	assert_int_equal(send_in(prog_fd, family, 1), 1);
	assert_int_equal(send_in(prog_fd, family, 0), 0);
	assert_int_equal(send_in(prog_fd, family, 1), 1);
	assert_int_not_equal(pin_in(family, vrf_if[0]), 0);
	assert_int_not_equal(pin_in(family, vrf_if[1]), 0);
	assert_int_not_equal(pin_in(family, vrf_if[0]), pin_in(family, vrf_if[1]));
	assert_int_equal(pin_in(family, 0), 0);

	/* out of its VRF: the port's flows are keyed in no domain */
	assert_int_equal(sh("ip link set dev inb nomaster"), 0);
	for (int i = 0; i < 100 && port_l3dom(in_if[1]); i++)
		usleep(10000);
	assert_int_equal(port_l3dom(in_if[1]), 0);
	assert_true(daemon_log_has("port inb is now in L3 domain 0"));
	assert_int_equal(sh("ip link set dev inb master vrf-b"), 0);
	for (int i = 0; i < 100 && port_l3dom(in_if[1]) != vrf_if[1]; i++)
		usleep(10000);
	assert_int_equal(port_l3dom(in_if[1]), vrf_if[1]);
	close(prog_fd);
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	remove_pins();
}

/*
 * A local address inside a VRF is a reject for that VRF's flows only
 * (IPv6: the kernel delivers their packets there), and the other VRF's are
 * forwarded. The
 * same frame through the kernel alone (sent into the port's peer, watched
 * for on the egress peer) and through flowpin, once flowpind moved the
 * route epoch.
 */
static void local_address_in_a_vrf(int family)
{
	const char *svc = family == 4 ? SVC4 : SVC6;
	const char *nodad = family == 4 ? "" : " nodad"; /* local at once */
	const char *outs[2][1] = { { "outap" }, { "outbp" } };
	const char *ins[2] = { "inap", "inbp" };
	struct pkt_spec s[2];
	int kernel[2], prog_fd;
	__u32 prog_id = 0;
	pid_t pid;

	need_vrf();
	/* the kernel alone, before flowpind runs: one VRF refuses */
	assert_int_equal(sh("ip addr add %s dev vrf-a%s", svc, nodad), 0);
	for (int v = 0; v < 2; v++) {
		__u8 frame[PKT_MAX];

		s[v] = (struct pkt_spec){
			.family = family, .proto = IPPROTO_TCP,
			.src = family == 4 ? CLIENT4 : CLIENT6, .dst = svc,
			.sport = 40000, .dport = 80, .dmac = in_mac[v],
		};
		kernel[v] = kernel_forwards(ins[v], outs[v], 1, frame,
					    pkt_build(&s[v], frame), family);
		assert_true(kernel[v] >= 0);
	}
	assert_int_equal(sh("ip addr del %s dev vrf-a", svc), 0);
	/*
	 * IPv6 prefers the local route in vrf-a's table and delivers; IPv4
	 * keeps using the unicast /32 that was there first, and forwards:
	 * flowpin must do the same either way
	 */
	assert_int_equal(kernel[0], family == 4);
	assert_int_equal(kernel[1], 1);

	pid = daemon_start("-m", "native", "ina", "inb", "outa", "outb", NULL);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_int_equal(bpf_xdp_query_id(in_if[0], 0, &prog_id), 0);
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	assert_true(prog_fd >= 0);
	assert_int_equal(send_in(prog_fd, family, 0), 0);
	assert_int_equal(send_in(prog_fd, family, 1), 1);
	assert_int_equal(sh("ip addr add %s dev vrf-a%s", svc, nodad), 0);
	usleep(200000); /* flowpind moves the epoch */
	for (int v = 0; v < 2; v++) {
		int f = send_in(prog_fd, family, v) >= 0;

		print_message("vrf-%c, the address local in vrf-a: kernel %s, flowpin %s\n",
			      "ab"[v], kernel[v] ? "forwards" : "refuses",
			      f ? "forwards" : "refuses");
		assert_int_equal(f, kernel[v] != 0);
	}
	assert_int_equal(pin_in(family, vrf_if[0]) != 0, kernel[0] != 0);
	assert_int_not_equal(pin_in(family, vrf_if[1]), 0);
	assert_int_equal(sh("ip addr del %s dev vrf-a", svc), 0);
	close(prog_fd);
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	remove_pins();
}

static void local_address_in_a_vrf_v4(void **state)
{
	(void)state;
	local_address_in_a_vrf(4);
}

static void local_address_in_a_vrf_v6(void **state)
{
	(void)state;
	local_address_in_a_vrf(6);
}

static void same_tuple_in_two_vrfs_v4(void **state)
{
	(void)state;
	same_tuple_in_two_vrfs(4);
}

static void same_tuple_in_two_vrfs_v6(void **state)
{
	(void)state;
	same_tuple_in_two_vrfs(6);
}

/*
 * Pin sync sends no VRF's flow: its key holds this router's ifindex of the
 * VRF, which means nothing on a peer. The real flowpind with --sync and a
 * test peer that joined it: a flow pinned in a VRF reaches no peer.
 */
static void vrf_flows_are_not_sent_to_peers(void **state)
{
	char key_path[64], err[256];
	uint8_t key[SYNC_KEY_LEN], buf[SYNC_MAX_DGRAM];
	struct test_peer peer = { .fd = -1 };
	struct sync_hdr h;
	__u32 prog_id = 0;
	int fd, prog_fd;
	pid_t pid;

	(void)state;
	need_vrf();
	assert_int_equal(sh("ip link set lo up"), 0);
	snprintf(key_path, sizeof(key_path), "/tmp/fp-vrf-key-%d", getpid());
	fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "the VRF test's secret, 32 bytes or more", 39), 39);
	close(fd);
	assert_int_equal(sync_key_load(key_path, key, err, sizeof(err)), 0);
	assert_int_equal(test_peer_open(&peer, 7431, 7430, key), 0);
	pid = daemon_start("-m", "native", "--sync", "127.0.0.1:7430", "--peer",
			   "127.0.0.1:7431", "--sync-key", key_path,
			   "--sync-wait", "30", "ina", "inb", "outa", "outb", NULL);
	/* under TCG (the kernel matrix) flowpind's start alone can take 10 s */
	assert_int_equal(test_peer_join(&peer, 60000), 0);
	assert_int_equal(daemon_wait_ready(pid), 0);
	assert_int_equal(bpf_xdp_query_id(in_if[0], 0, &prog_id), 0);
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	assert_true(prog_fd >= 0);

	assert_int_equal(send_in(prog_fd, 4, 0), 0);
	assert_int_equal(send_in(prog_fd, 6, 1), 1);
	assert_int_not_equal(pin_in(4, vrf_if[0]), 0);
	assert_int_not_equal(pin_in(6, vrf_if[1]), 0);
	/* flowpind reads the datapath's new pins every few ms: none comes */
	assert_int_equal(test_peer_recv(&peer, SYNC_PINS, &h, buf, 2000, true), 0);
	close(prog_fd);
	test_peer_close(&peer);
	assert_int_equal(daemon_stop(pid, SIGTERM), 0);
	remove_pins();
	unlink(key_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_tuple_in_two_vrfs_v4),
		cmocka_unit_test(same_tuple_in_two_vrfs_v6),
		cmocka_unit_test(local_address_in_a_vrf_v4),
		cmocka_unit_test(local_address_in_a_vrf_v6),
		cmocka_unit_test(vrf_flows_are_not_sent_to_peers),
	};
	int ret;

	if (daemon_paths_init("fp-vrf") || netns_enter())
		return 1;
	/* the kernel loads the module on demand, or has none */
	have_vrf = !sh("ip link add vrf-probe type vrf table 99 && ip link del vrf-probe");
	if (have_vrf && topology()) {
		netns_leave();
		return 1;
	}
	ret = cmocka_run_group_tests_name("vrf", tests, NULL, NULL);
	netns_leave();
	return ret;
}
