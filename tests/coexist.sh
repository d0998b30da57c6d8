#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# flowpind beside other programs on one port. At tc, a later filter on the
# same clsact ingress sees every packet flowpin passes (and none it
# forwards). At XDP, through libxdp's dispatcher: attached in both orders,
# both programs run, and a restart, a replace (new settings after a
# SIGKILL), a reload (SIGHUP) and a detach of flowpin leave the other
# program attached and running.
#
#   c (10.9.1.2) --- cr|rc  r (flowpind on rc, rb)  rb|br --- b (203.0.113.10 on lo)
#
# Where libxdp's dispatcher does not load (this kernel's lockdown, say), the
# test reports itself skipped, or failed with COEXIST_REQUIRE_DISPATCHER=1
# (the kernel matrix sets it: Debian's kernels have the dispatcher).
set -u
BUILD=$(cd "$(dirname "$0")" && pwd)
FLOWPIND=$BUILD/flowpind
FLOWPINCTL=$BUILD/flowpinctl
OTHER=$BUILD/xdp_pass.bpf.o # its program is named not_flowpin
COUNTER=$BUILD/tc_count.bpf.o # a tc filter counting echo requests
ID=fpx-$$
PIN=/sys/fs/bpf/$ID
SVC=203.0.113.10
TMP=$(mktemp -d "/tmp/$ID.XXXXXX") || exit 1
DAEMON_PID=
MOUNTED_BPFFS=0
# check runs in this shell: start_daemon sets DAEMON_PID
. "$BUILD/../tests/check.sh"
. "$BUILD/../tests/router_daemon.sh"

cleanup() {
	stop_daemon
	for ns in c r b; do ip netns del "$ID-$ns" 2>/dev/null; done
	rm -rf "$PIN" "$TMP" "$check_out"
	[ "$MOUNTED_BPFFS" = 1 ] && [ -z "$(ls -A /sys/fs/bpf)" ] && umount /sys/fs/bpf
}
trap cleanup EXIT

in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ID-$ns" "$@"; }


setup() {
	ip netns add "$ID-c" && ip netns add "$ID-r" && ip netns add "$ID-b" || return 1
	ip -n "$ID-c" link add cr type veth peer name rc netns "$ID-r"
	ip -n "$ID-r" link add rb type veth peer name br netns "$ID-b"
	ip -n "$ID-c" addr add 10.9.1.2/24 dev cr
	ip -n "$ID-r" addr add 10.9.1.1/24 dev rc
	ip -n "$ID-r" addr add 10.9.2.1/24 dev rb
	ip -n "$ID-b" addr add 10.9.2.2/24 dev br
	ip -n "$ID-b" addr add $SVC/32 dev lo
	for l in c/cr r/rc r/rb b/br c/lo r/lo b/lo; do
		ip -n "$ID-${l%/*}" link set dev "${l#*/}" up
	done
	ip -n "$ID-c" route add default via 10.9.1.1
	ip -n "$ID-b" route add default via 10.9.2.1
	ip -n "$ID-r" route add $SVC/32 via 10.9.2.2
	in_ns r sysctl -qw net.ipv4.ip_forward=1
	# frames redirected into a veth arrive only with GRO on at the peer
	in_ns c ethtool -K cr gro on >/dev/null
	in_ns b ethtool -K br gro on >/dev/null
	mountpoint -q /sys/fs/bpf || { mount -t bpf bpf /sys/fs/bpf && MOUNTED_BPFFS=1; }
	rm -f /run/xdp-loader.lck # a stale one from a failed run blocks xdp-loader
}

# "NAME ID" of each program on rc: in a dispatcher ("=>  PRIO NAME ID ...")
# or alone ("rc NAME MODE ID ...").
progs_on_rc() {
	in_ns r xdp-loader status rc 2>/dev/null | awk '
		$1 == "=>" { print $3, $4; next }
		$1 == "rc" && $2 != "xdp_dispatcher" { print $2, $4 }'
}

prog_id() { progs_on_rc | awk -v n="$1" '$1 == n { print $2 }'; }

# Packets the other program saw: its map "seen".
seen() { # PROG_ID
	local m
	m=$(bpftool -j prog show id "$1" | sed -n 's/.*"map_ids":\[\([0-9]*\).*/\1/p')
	bpftool -j map dump id "$m" | sed -n 's/.*"formatted":{"key":0,"value":\([0-9]*\)}.*/\1/p'
}

# Both programs are on rc, in one dispatcher.
both_attached() {
	local out
	out=$(in_ns r xdp-loader status rc 2>&1)
	grep -q xdp_dispatcher <<<"$out" && grep -q '\<not_flowpin\>' <<<"$out" &&
		grep -q '\<flowpin\>' <<<"$out" || { echo "$out"; return 1; }
}

other_alone() {
	local out
	out=$(in_ns r xdp-loader status rc 2>&1)
	grep -q '\<not_flowpin\>' <<<"$out" && ! grep -q '\<flowpin\>' <<<"$out" ||
		{ echo "$out"; return 1; }
}

# Pings to r, which flowpin passes, so whichever runs first both see them;
# pings through r, which flowpin (if named) forwards.
traffic_runs() { # both | other | flowpin
	local other o0 p0 fw0
	other=$(prog_id not_flowpin)
	[ "$1" = flowpin ] || [ -n "$other" ] || { echo "not_flowpin is not attached"; return 1; }
	[ "$1" = other ] || [ -n "$(prog_id flowpin)" ] || { echo "flowpin is not attached"; return 1; }
	[ "$1" = flowpin ] || o0=$(seen "$other")
	[ "$1" = other ] || { p0=$(counter packets); fw0=$(counter forwarded); }
	in_ns c ping -q -c 5 -i 0.2 -W 2 10.9.1.1 >/dev/null || { echo "pings to r lost"; return 1; }
	in_ns c ping -q -c 10 -i 0.2 -W 2 $SVC >/dev/null || { echo "pings through r lost"; return 1; }
	if [ "$1" != flowpin ]; then
		[ "$(seen "$other")" -gt "${o0:-0}" ] || { echo "not_flowpin did not run"; return 1; }
	fi
	[ "$1" = other ] && return 0
	[ "$(counter packets)" -gt "${p0:-0}" ] || { echo "flowpin did not run"; return 1; }
	[ "$(counter forwarded)" -gt "${fw0:-0}" ] || { echo "flowpin forwarded nothing"; return 1; }
}

# The later tc filter's counts of echo requests: "TO_R THROUGH_R".
echo_requests() {
	local id
	id=$(bpftool -j map show | tr '}' '\n' |
		sed -n 's/.*"id":\([0-9]*\),"type":"array","name":"echo_requests".*/\1/p' |
		tail -n 1)
	[ -n "$id" ] || return 1
	bpftool -j map dump id "$id" | tr '}' '\n' |
		sed -n 's/.*"key":\([01]\),"value":\([0-9]*\).*/\2/p' | tr '\n' ' '
}

# flowpin at tc (pref 1), the counter after it (pref 2): 5 pings to r,
# which flowpin passes, all reach the counter; of 10 pings through r, the
# ones flowpin forwarded do not (a redirect ends the chain).
tc_chain_runs() {
	local before after fw0 to_r through
	in_ns r tc filter add dev rc ingress pref 2 bpf da obj "$COUNTER" sec tc ||
		return 1
	before=($(echo_requests)) || { echo "no echo_requests map"; return 1; }
	fw0=$(counter forwarded)
	in_ns c ping -q -c 5 -i 0.2 -W 2 10.9.1.1 >/dev/null || { echo "pings to r lost"; return 1; }
	in_ns c ping -q -c 10 -i 0.2 -W 2 $SVC >/dev/null || { echo "pings through r lost"; return 1; }
	after=($(echo_requests))
	to_r=$((after[0] - before[0])) through=$((after[1] - before[1]))
	echo "the later filter saw $to_r of 5 echo requests to r, $through of 10 through r;" \
		"flowpin forwarded $(($(counter forwarded) - fw0)) packets"
	[ "$to_r" = 5 ] && [ "$through" -lt 10 ] &&
		[ "$(counter forwarded)" -gt "$fw0" ]
}

if [ "$(id -u)" != 0 ]; then
	echo "coexist: needs root" >&2
	exit 1
fi
setup || { echo "coexist: 0 passed, 1 failed (setup)"; exit 1; }

# tc: flowpin's filter, then someone else's.
MODE=tc check "flowpind attaches at tc" start_daemon
check "a later tc filter sees what flowpin passes" tc_chain_runs
stop_daemon
rm -rf "$PIN"

# --- XDP, through libxdp's dispatcher: the checks from here on
# Does libxdp's dispatcher load here?
in_ns r xdp-loader load -m native rc "$OTHER" >"$TMP/loader.log" 2>&1
if ! in_ns r xdp-loader status rc 2>&1 | grep -q xdp_dispatcher; then
	if [ "${COEXIST_REQUIRE_DISPATCHER:-0}" = 1 ]; then
		cat "$TMP/loader.log"
		echo "coexist: $passed passed, $((failed + 1)) failed (libxdp's dispatcher does not load on $(uname -r))"
		exit 1
	fi
	# every check below is one not run
	echo "coexist: $passed passed, $failed failed, $(sed -n '/^# --- XDP/,$p' "$0" | grep -c '^check ') skipped (libxdp's dispatcher does not load on $(uname -r))"
	[ "$failed" = 0 ]
	exit
fi

# Order 1: the other program first, then flowpind.
check "flowpind attaches beside a program already there" start_daemon
check "both are in the dispatcher" both_attached
check "both run, flowpin forwards" traffic_runs both
check "SIGHUP (reload) keeps both" sh -c "kill -HUP $DAEMON_PID && sleep 2 && kill -0 $DAEMON_PID"
check "after the reload both run" traffic_runs both
stop_daemon
check "flowpind's stop leaves the other attached" other_alone
check "the other still runs after the stop" traffic_runs other
check "a restart attaches beside it again" start_daemon
check "after the restart both are in the dispatcher" both_attached
# SIGKILL leaves flowpin attached: the next flowpind, with new settings,
# replaces that program with its own
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
check "flowpind with new settings replaces its program" start_daemon --pin-rate 5000
check "the log says it replaced the earlier flowpin" grep -q 'replaced the earlier flowpin on rc' "$TMP/flowpind.log"
check "after the replace both are in the dispatcher" both_attached
check "after the replace both run" traffic_runs both
check "flowpinctl detach removes flowpin only" in_ns r "$FLOWPINCTL" -p "$PIN" detach rc
check "after the detach the other is alone" other_alone
check "after the detach the other runs" traffic_runs other
stop_daemon
in_ns r xdp-loader unload --all rc >/dev/null 2>&1
rm -rf "$PIN"

# Order 2: flowpind first, then the other program.
check "flowpind attaches alone" start_daemon
check "another program attaches beside flowpin" in_ns r xdp-loader load -m native rc "$OTHER"
check "order 2: both are in the dispatcher" both_attached
check "order 2: both run, flowpin forwards" traffic_runs both
check "unloading the other keeps flowpin" in_ns r xdp-loader unload -i "$(prog_id not_flowpin)" rc
check "flowpin still forwards" traffic_runs flowpin
stop_daemon
check "flowpind's stop leaves rc clean" sh -c "! nsenter --net=/run/netns/$ID-r xdp-loader status rc | grep -q flowpin"

check_summary coexist
