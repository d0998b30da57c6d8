#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What the kernel matrix runs inside each kernel's VM: the tests that
# exercise the kernel (the verifier, bpf_fib_lookup(), XDP on veth,
# rtnetlink, libxdp's dispatcher), sized for qemu's TCG. run-all counts
# them and ends with "tests: N passed, M failed, K skipped".
#
# Usage: tests/vm/guest.sh BUILD_DIR
set -u
cd "$(dirname "$0")/../.." || exit 1

# What the matrix runs test_vrf and test_coexist for, Debian's kernels have
# (VRF devices, libxdp's dispatcher): there, a skip of theirs is a failure.
export COEXIST_REQUIRE_DISPATCHER=1 VRF_REQUIRED=1
# and VLAN and macvlan devices (auto's choice on them), and the wired virtio
# NICs (kernels.sh boots every VM with them)
export LINK_KINDS_REQUIRED=1
# Sized for TCG, where everything is ~10x slower: fewer random frames, and
# the "add" scenario and the VLAN trunk ones (and on 6.12 the bond ones)
# with fewer connections, in auto (tc on veth and on a port with VLANs,
# native on a bond) mode;
# native XDP carries real flows in test_flowpind's restarts and in
# test_coexist, and skb mode runs the XDP program native mode loads. The
# host runs every scenario in every mode.
export FRAMES=10000 TUNNEL_BULK=262144
# test_flowpind's tests of the daemon's own logic (settings, clocks,
# refusals, what it reports), nothing of the kernel's: the host runs them
export FLOWPIND_TESTS_SKIP="drain_timeout_survives_reload reload_reads_the_settings_again
	instances_keep_to_their_ports counters_replaced_and_heartbeat
	says_what_flows_bypass pin_dir_is_private_and_systemd_told follows_path_mtus
	ports_of_their_own_modes"
export SCENARIOS_ONLY="add vlan-add vlan-drain" SCENARIOS_CONNS=64 SCENARIOS_MODES="auto"
# IPv6 runs of the properties that are the program's logic alone, the same
# for both families (each run loads the program: costly under TCG); IPv6's
# multipath routes, MTU and reject answers, which are the kernel's, stay.
# every_cpu_keeps_the_pin runs in its own VM of 8 CPUs (kernels.sh).
export PINNING_TESTS_SKIP="flood_of_new_flows v6 flood_over_cpus_shares_one_budget v6
	cpu_migration v6 mac_change v6 dead_nexthop v6 l3_domain_in_key v6
	silent_daemon_pins_nothing_new v6 pinned_port_removed v6 cache_republishes v6
	cache_set_of_three v6 forgotten_copy_is_not_used v6
	turnover_budget_exact v4 turnover_budget_exact v6
	every_cpu_keeps_the_pin v4 every_cpu_keeps_the_pin v6"
# the drop rule: the kernel's answers through one entry point (both call
# the same lookup) and flowpind's epoch; the epoch's and errors' own logic
# is the host's
export DROP_RULE_TESTS_SKIP="agree v4 tc agree v6 tc
	epoch_asks_once v4 xdp epoch_asks_once v6 xdp epoch_asks_once v4 tc epoch_asks_once v6 tc
	errors_keep_nothing_alive v4 xdp errors_keep_nothing_alive v6 xdp
	errors_keep_nothing_alive v4 tc errors_keep_nothing_alive v6 tc
	errors_without_daemon v4 xdp errors_without_daemon v6 xdp
	errors_without_daemon v4 tc errors_without_daemon v6 tc"
# pin sync: the ring read by flowpind, new pins to a peer; the protocol's
# own logic (drops, bulk, options, IPv6) is the host's
export SYNC_TESTS_SKIP="ready_after_the_wait_without_peers peer_pins_are_applied_by_gateway
	peer_pins_draw_on_the_turnover_budget
	bad_datagrams_are_dropped_and_never_pin bulk_request_gets_every_pin
	peers_over_ipv6 bad_sync_options_are_refused
	a_second_key_is_accepted_while_the_fleet_moves_to_it
	a_bulk_sync_ends_after_its_pins_are_acked acks_of_an_earlier_run_free_nothing
	an_ack_of_any_copy_stops_the_resends a_restarted_peer_is_seen
	a_restart_keeps_the_epoch_ahead a_bulk_request_of_an_earlier_run_is_refused
	conflicts_follow_the_rule hellos_carry_the_pins_made live_flows_pins_go_to_the_peers_again
	a_new_pin_table_asks_for_its_own_pins a_bulk_sync_sends_each_pin_from_its_maker
	a_peer_back_from_silence_gets_what_it_missed a_full_queue_is_made_up_by_a_walk
	a_digest_of_the_daemons_pins_gets_what_differs a_digest_waits_for_the_last_repairs_acks
	the_daemon_asks_for_what_it_lacks
	the_refresh_leaves_out_gateways_a_peer_lacks
	no_digest_is_answered_before_the_peers_bulk_sync"
# The oldest supported kernel (6.1) runs most. A newer one runs what
# differs between kernels: both entry points load and pass their packet
# fixtures, flowpind attaches (alone and in libxdp's dispatcher, which 6.12
# checks more strictly), VRFs, real TCP. What exercises the same verified
# program on any kernel is split between the two, whose VMs run side by
# side (kernels.sh): the pinning properties and the drop rule's answers
# against the kernel's (6.1, 6.12 and 6.18 gave the same ones; the host
# runs them all) on 6.1; the random frames, pin sync (the program with
# pin_events on, its ring read by flowpind), the VLAN drain and the bonds
# on 6.12. Native XDP on a real driver (virtio_net, its NICs wired by
# kernels.sh: boot.sh -w) with real TCP on both: an added backend on 6.1,
# a drained one on 6.12; the same wire as a VLAN trunk, XDP rewriting its
# tags (trunk-add, trunk-drain); backends behind VXLAN tunnels at tc
# (tunnel-add on 6.1, tunnel-drain on 6.12) and behind GRE tunnels, which
# tc sends into (gre-add on 6.1, gre-drain on 6.12; this machine may have
# no IP tunnels at all).
case $(uname -r) in
6.1.*)
	datapath="test_drop_rule test_pinning test_checksum"
	# the device kinds' drivers name themselves alike on 6.12, which runs them
	FLOWPIND_TESTS_SKIP+=" auto_on_a_vlan_device auto_on_a_macvlan_device auto_after_a_refused_native_attach
		port_of_a_bridge port_of_a_bond
		vlan_trunk_modes"
	SCENARIOS_ONLY="add vlan-add virtio-add trunk-add tunnel-add gre-add"
	;;
*)
	datapath="test_random_frames test_sync test_tunnel"
	# tc's attach and the refusals are the same calls on every kernel:
	# 6.1 runs them; a newer one the native restarts (the dispatcher)
	FLOWPIND_TESTS_SKIP+=" restarts_keep_datapath_tc bad_input"
	# bonds' native XDP (members run the bond's program) with real TCP
	SCENARIOS_ONLY+=" bond-add bond-member virtio-drain trunk-drain tunnel-drain gre-drain"
	;;
esac
exec tests/run-all "${1:-build}" test_packets test_too_big $datapath \
	test_flowpind test_vrf test_coexist test_scenarios
