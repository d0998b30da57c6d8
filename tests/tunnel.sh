#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A UDP tunnel passing through the router, at tc: VXLAN between c and b,
# over IPv4 and over IPv6, with b's link (1450) smaller than the tunnel's
# packets (1500). c's veth hands the router GSO skbs of the tunnel, whose
# segments repeat the inner headers; flowpin cannot see that they are a
# tunnel's, so it must count the segments as the kernel does, and leave
# the ones too big to the kernel, which fragments them (IPv4) or answers
# "packet too big" (IPv6). rb has no tunnel segmentation offload, as many
# NICs: a segment bigger than the link is dropped there, as on a wire.
#
#   c (vxlan) --- cr|rc  r (flowpind -m tc on rc, rb)  rb|br --- b (vxlan, 1450)
#
# Each column (the kernel alone, then flowpind) sends BULK bytes each way
# on CONNS TCP connections inside each tunnel and checks every byte comes
# back, and that rb dropped nothing; flowpind's checks that it carried the
# tunnel's packets and passed the ones too big. Where this kernel has no
# VXLAN, the test is skipped (a failure with LINK_KINDS_REQUIRED=1).
set -u
BUILD=$(cd "$(dirname "$0")" && pwd)
FLOWPIND=$BUILD/flowpind
FLOWPINCTL=$BUILD/flowpinctl
ECHO=$BUILD/scenario_echo
CLIENT=$BUILD/scenario_client
ID=fpt-$$
PIN=/sys/fs/bpf/$ID
VTEP4=203.0.113.10 VTEP6=2001:db8:5::10
PORT=7777 CONNS=4 BULK=${TUNNEL_BULK:-1048576}
TMP=$(mktemp -d "/tmp/$ID.XXXXXX") || exit 1
DAEMON_PID= ECHO_PID=
MOUNTED_BPFFS=0
. "$BUILD/../tests/check.sh"
. "$BUILD/../tests/router_daemon.sh"

teardown() {
	stop_daemon
	rm -rf "$PIN"
	[ -n "$ECHO_PID" ] && kill "$ECHO_PID" 2>/dev/null && wait "$ECHO_PID" 2>/dev/null
	ECHO_PID=
	for ns in c r b; do ip netns del "$ID-$ns" 2>/dev/null; done
}

cleanup() {
	teardown
	rm -rf "$TMP" "$check_out"
	[ "$MOUNTED_BPFFS" = 1 ] && [ -z "$(ls -A /sys/fs/bpf)" ] && umount /sys/fs/bpf
}
trap cleanup EXIT

in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ID-$ns" "$@"; }

setup() {
	ip netns add "$ID-c" && ip netns add "$ID-r" && ip netns add "$ID-b" || return 1
	ip -n "$ID-c" link add cr type veth peer name rc netns "$ID-r" &&
		ip -n "$ID-r" link add rb type veth peer name br netns "$ID-b" || return 1
	ip -n "$ID-c" addr add 10.9.1.2/24 dev cr
	ip -n "$ID-c" addr add fd09:1::2/64 dev cr nodad
	ip -n "$ID-r" addr add 10.9.1.1/24 dev rc
	ip -n "$ID-r" addr add fd09:1::1/64 dev rc nodad
	ip -n "$ID-r" addr add 10.9.2.1/24 dev rb
	ip -n "$ID-r" addr add fd09:2::1/64 dev rb nodad
	ip -n "$ID-b" addr add 10.9.2.2/24 dev br
	ip -n "$ID-b" addr add fd09:2::2/64 dev br nodad
	ip -n "$ID-b" addr add $VTEP4/32 dev lo
	ip -n "$ID-b" addr add $VTEP6/128 dev lo
	ip -n "$ID-r" link set dev rb mtu 1450
	ip -n "$ID-b" link set dev br mtu 1450
	for l in c/cr r/rc r/rb b/br c/lo r/lo b/lo; do
		ip -n "$ID-${l%/*}" link set dev "${l#*/}" up
	done
	ip -n "$ID-c" route add default via 10.9.1.1
	ip -n "$ID-c" -6 route add default via fd09:1::1
	ip -n "$ID-b" route add default via 10.9.2.1
	ip -n "$ID-b" -6 route add default via fd09:2::1
	ip -n "$ID-r" route add $VTEP4/32 via 10.9.2.2
	ip -n "$ID-r" -6 route add $VTEP6/128 via fd09:2::2
	in_ns r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	in_ns r ethtool -K rb tx-udp_tnl-segmentation off \
		tx-udp_tnl-csum-segmentation off >/dev/null || return 1
	# the tunnels: vx4 over IPv4 (inner 10.77.0.0/24), vx6 over IPv6
	# (inner 10.78.0.0/24), each 1450 inside the client's 1500
	ip -n "$ID-c" link add vx4 type vxlan id 4 local 10.9.1.2 remote $VTEP4 dstport 4789 &&
		ip -n "$ID-b" link add vx4 type vxlan id 4 local $VTEP4 remote 10.9.1.2 dstport 4789 &&
		ip -n "$ID-c" link add vx6 type vxlan id 6 local fd09:1::2 remote $VTEP6 dstport 4789 &&
		ip -n "$ID-b" link add vx6 type vxlan id 6 local $VTEP6 remote fd09:1::2 dstport 4789 ||
		return 2
	for ns in c b; do
		for v in 4 6; do
			ip -n "$ID-$ns" link set vx$v mtu 1450 up
		done
	done
	ip -n "$ID-c" addr add 10.77.0.1/24 dev vx4
	ip -n "$ID-b" addr add 10.77.0.2/24 dev vx4
	ip -n "$ID-c" addr add 10.78.0.1/24 dev vx6
	ip -n "$ID-b" addr add 10.78.0.2/24 dev vx6
	mountpoint -q /sys/fs/bpf || { mount -t bpf bpf /sys/fs/bpf && MOUNTED_BPFFS=1; }
	# emptied first: the last topology's "listening" must not be read as
	# this server's
	: >"$TMP/echo.log"
	in_ns b "$ECHO" b "$PORT" >>"$TMP/echo.log" 2>&1 &
	ECHO_PID=$!
	for _ in $(seq 50); do
		grep -q listening "$TMP/echo.log" && return 0
		sleep 0.1
	done
	return 1
}

rb_dropped() { # what rb dropped on its way out
	ip -n "$ID-r" -s -j link show dev rb |
		sed -n 's/.*"tx":{[^}]*"dropped":\([0-9]*\).*/\1/p'
}

# CONNS connections to b inside the tunnel to INNER, BULK bytes each way on
# each: every byte echoed back
bulk_through() { # INNER
	local out
	out=$(printf 'open t %s %s %s\nbulk t %s 30000\nquit\n' "$1" "$PORT" "$CONNS" "$BULK" |
		in_ns c timeout 60 "$CLIENT" 2>&1)
	echo "$out"
	grep -q "^open t ok=$CONNS fail=0" <<<"$out" &&
		grep -q "^bulk t total=$CONNS same=$CONNS broken=0" <<<"$out"
}

column() { # kernel | flowpind
	local col=$1 fam inner d0 fw0 mtu0
	for fam in 4 6; do
		inner=10.77.0.2
		[ "$fam" = 6 ] && inner=10.78.0.2
		d0=$(rb_dropped)
		[ "$col" = flowpind ] && { fw0=$(counter forwarded); mtu0=$(counter pass_mtu); }
		check "$col, VXLAN over IPv$fam: $CONNS connections, $BULK bytes each way, every byte back" \
			bulk_through "$inner"
		check "$col, VXLAN over IPv$fam: rb dropped no segment too big for it" \
			test "$(rb_dropped)" = "$d0"
		[ "$col" = flowpind ] || continue
		check "flowpind, VXLAN over IPv$fam: flowpin forwarded the tunnel's packets" \
			test "$(counter forwarded)" -gt "$fw0"
		check "flowpind, VXLAN over IPv$fam: the GSO packets too big for rb went to the kernel (pass_mtu)" \
			test "$(counter pass_mtu)" -gt "$mtu0"
	done
}

if [ "$(id -u)" != 0 ]; then
	echo "tunnel: needs root" >&2
	exit 1
fi
setup
rc=$?
if [ "$rc" = 2 ]; then
	if [ "${LINK_KINDS_REQUIRED:-0}" = 1 ]; then
		echo "tunnel: 0 passed, 1 failed (no VXLAN devices on $(uname -r), which LINK_KINDS_REQUIRED asks for)"
		exit 1
	fi
	echo "tunnel: 0 passed, 0 failed, 1 skipped (no VXLAN devices on $(uname -r))"
	exit 0
fi
[ "$rc" = 0 ] || { echo "tunnel: 0 passed, 1 failed (setup)"; exit 1; }
teardown

# each column in a topology of its own: no path MTU learnt in one is
# left for the next
for col in kernel flowpind; do
	setup || { check "$col: the topology is set up" false; continue; }
	if [ "$col" = flowpind ]; then
		MODE=tc check "flowpind attaches at tc" start_daemon
	fi
	column $col
	teardown
done
check_summary tunnel
