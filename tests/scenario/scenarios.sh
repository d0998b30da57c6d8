#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The scenario suite (issue 5): real kernel TCP connections through network
# namespaces, with the kernel alone and with flowpind, side by side.
#
#   client ns --- router ns ---+--- backend ns b1 .. b5
#                 (flowpind)       (service address on lo, scenario_echo)
#
# Each run builds the topology afresh, opens CONNS long-lived connections per
# family (IPv4 and IPv6) to the service address, notes each one's backend,
# makes one change on the router, then sends on every connection and counts
# those no longer answered by the same backend; after an added or withdrawn
# backend, it also sends BULK_BYTES each way on every connection (full-sized
# segments, GSO where the stack uses it). Every run also checks that
# new connections spread over every backend of the route (and never reach a
# withdrawn one). Ends with "scenarios: N passed, M failed".
#
# The bgp variant's routes come from FRR (frr.sh): eBGP sessions from the
# router to each backend, which announces the service address; its changes
# are sessions going down and up, a dead link, FRR restarting and sessions
# flapping. They run with at most BGP_CONNS connections, in the kernel
# column and SCENARIOS_BGP_MODES (default native).
#
# Usage: scenarios.sh [--build DIR] [--demo] [--only "SCENARIO..."]
#                     [--modes "native skb tc auto"] [--conns N] [--kernel-only] [-v]
#                     [--hold SECONDS]  (keep each run's topology up, to look)
# SCENARIOS_ONLY, SCENARIOS_CONNS and SCENARIOS_MODES are the defaults of
# --only, --conns and --modes (for a caller that cannot pass options, as
# run-all).
# FLOWPIND=PATH runs another daemon binary (to check the suite can fail).
set -u -o pipefail

SUITE=scenarios
DEMO=0
ONLY=${SCENARIOS_ONLY:-}
MODES=${SCENARIOS_MODES:-native skb auto} # --demo: auto
BGP_MODES=${SCENARIOS_BGP_MODES:-native} # of MODES, the bgp scenarios' columns
BGP_CONNS=32             # at most, in the bgp scenarios
SKB_SCENARIOS="add drain repin mtu" # the only ones with an skb column
CONNS=${SCENARIOS_CONNS:-200}
SPREAD=100
KERNEL_ONLY=0

# shellcheck source=tests/scenario/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OPT_VALUE[--modes]=MODES
OPT_FLAG[--demo]=DEMO
OPT_FLAG[--kernel-only]=KERNEL_ONLY
options_parse "$@"
suite_check "network namespaces, XDP"

# Everything this run creates carries this prefix: namespaces, the pin
# directory, the temporary folder. Devices live only inside the namespaces.
ID=fps-$$
PIN=/sys/fs/bpf/$ID
TMP=$(mktemp -d "/tmp/$ID.XXXXXX") || exit 1
PORT=7777
SVC4=203.0.113.10        # TEST-NET-3
SVC6=2001:db8:5::10      # documentation prefix
NBACKENDS=5              # b1..b4 in the route at start, b5 to add
WITHDRAWN=b2             # the backend the withdraw scenarios take away
IDLE_TIMER=1             # resilient group's idle timer in the idle scenario
SETTLE=0.5               # after a change; flowpind follows within ~100 ms
CHECK_MS=2000            # how long a connection may take to answer
REJECT_WITHIN=1.5        # a reject stops pinned flows within this (the epoch: at once)
TABLE=100                # the table variant's route table
BULK_BYTES=262144        # each way, on every connection, after add / withdraw
BULK_MS=20000            # how long all of them may take
SMALL_MTU=1280           # the withdrawn backend's link, in the mtu scenario
CLIENT_VID=100 BACKEND_VID=200 # the vlan variant's VLANs
TRUNK_PCP=3                    # the trunk variant's PCP to the backends
# frr-restart: sends while the router has no route, each answer awaited
# GAP_MS: under TCP's least resend time (200 ms), so an answer whose
# segment was dropped and sent again still counts as lost, while a busy
# host's scheduling delay (the matrix's VMs beside the tests) does not
GAP_ROUNDS=10 GAP_MS=180

C=$ID-c
R=$ID-r
ROUTER_BACKEND_PORTS=()
for i in $(seq $NBACKENDS); do ROUTER_BACKEND_PORTS+=("rb$i"); done
declare -A GAP_SEEN
DAEMON_PID=
GAP=

# --- cleanup: every path out of the script goes through here -------------

# Undo one run (lib.sh's cleanup() calls it last): client, daemon,
# servers, namespaces, pin directory.
teardown() {
	local p
	client_down
	# SIGTERM: flowpind detaches and exits 0 (maps stay pinned)
	[ -n "$DAEMON_PID" ] && stop_pids "$DAEMON_PID"
	DAEMON_PID=
	# one after the other
	for p in "${PIDS[@]}"; do
		stop_pids "$p"
	done
	PIDS=()
	# the virtio variant's NICs outlive the namespaces: nothing of
	# flowpin's stays on them (a daemon that died keeps its hooks)
	if on_wire; then
		ip -n "$R" link set r0 xdp off 2>/dev/null
		tc -n "$R" qdisc del dev r0 clsact 2>/dev/null
		# they go back to the root namespace under names no later
		# run's veths take (a veth r0 would not be made beside them)
		ip -n "$R" link set r0 down 2>/dev/null &&
			ip -n "$R" link set r0 name fpwire1 2>/dev/null
		ip -n "$C" link set c0 down 2>/dev/null &&
			ip -n "$C" link set c0 name fpwire2 2>/dev/null
	fi
	nses_del
	rm -rf "$PIN" "$TMP/frr"
}
traps_set

# --- topology ---------------------------------------------------------------

# Link i (0 = client, 1..5 = backends): 10.99.i.0/24 and fd99:0:0:i::/64,
# router .1 / ::1, the other end .2 / ::2.
gw4() { echo "10.99.$1.2"; }
# The variants of VLAN trunks (of VARIANT, or of the one given), and those
# whose client link is the VM's virtio_net wire.
tagged() { [ "${1:-$VARIANT}" = vlan ] || [ "${1:-$VARIANT}" = trunk ]; }
on_wire() { [ "${VARIANT:-}" = virtio ] || [ "${VARIANT:-}" = trunk ]; }
gw6() { echo "fd99:0:0:$1::2"; }

. "$(dirname "${BASH_SOURCE[0]}")/frr.sh"

# The columns: kernel (no flowpin), and flowpind in each of MODES. "auto" is
# flowpind with no -m at all. The veths keep the offloads they are created
# with (TSO, GSO, checksum offload on; GRO off), as in any lab or container
# host, except in the columns that need them changed:
# - native: gro on, because veth drops XDP-redirected frames unless the
#   receiver runs NAPI (an XDP program or GRO); tx off, because a veth hands
#   its peer packets with the TCP/UDP checksum left to "hardware"
#   (CHECKSUM_PARTIAL), and native XDP, which sees only bytes, redirects
#   them unfinished: the receiver drops them (TcpInCsumErrors);
# - skb: tx off (which also turns TSO off), because generic XDP cannot
#   redirect a GSO packet bigger than the MTU, and hands it to the kernel.
# tc (auto's choice on veth) needs neither: it forwards the kernel's skb.

# VARIANT: multipath (RTA_MULTIPATH routes), table (the same in table
# TABLE, which a rule at priority 100 sends the service addresses to), nhobj
# (nexthop objects in a hash-threshold group), resilient, resilient-idle
# (idle timer IDLE_TIMER), vlan (VLAN trunks: the client on VLAN
# CLIENT_VID, odd backends i on VLAN BACKEND_VID + i, even ones untagged,
# so frames go tagged to tagged, tagged to untagged and back; addresses on
# the VLAN sub-interfaces, whose MACs on the router are not their ports';
# the client's VLAN routed through table TABLE by an iif rule, the only
# table with the service route, so only a FIB asked with the
# sub-interface's ifindex finds it), bond (every link a pair of veth
# pairs, each end's two in an active-backup bond: c0, b0 at the ends, r0,
# rbI on the router, flowpind's ports; the native column's offloads in
# every column, since auto gives a bond native XDP), virtio (the client's
# link is a real driver's: two virtio-net NICs of the VM wired together,
# tests/vm/boot.sh -w, with multiple queues and their default offloads, r0
# in the router and c0 in the client; the backends' veths as in bond),
# trunk (virtio's wire and vlan's trunks, every link tagged: the client on
# VLAN CLIENT_VID, backend i on BACKEND_VID + i; flowpind given r0:native,
# so XDP forwards trunk to trunk, rewriting tags, and the veths in the
# column's mode: the auto column only, tc there), tunnel (each backend
# behind a VXLAN tunnel of its own over its link: the link holds the
# underlay, 10.97.I.0/24, and the addresses above go on the tunnels, vxI
# on the router and vx0 on the backend, 1450 bytes; flowpind's ports are
# r0 and the tunnels, the auto column only: tc on both), gre (the same
# with a GRE tunnel, gtI on the router and gt0 on the backend, 1476 bytes,
# which is no port: flowpind's ports are r0 and the links, and tc sends
# into the tunnels, the auto column only).
topo_up() { # VARIANT COLUMN
	local variant=$1 offloads i ns
	offloads=$(veth_offloads "$2")
	case $variant in bond | virtio | trunk) offloads=$(veth_offloads native) ;; esac
	for ns in "$C" "$R" $(for i in $(seq $NBACKENDS); do echo "$ID-b$i"; done); do
		ip netns add "$ns" || return 1
		NSES+=("$ns")
		# no DAD: IPv6 neighbour discovery needs a usable link-local at once
		nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || return 1
	done
	nsx "$R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv6.fib_multipath_hash_policy=1 || return 1

	VARIANT=$variant
	link_add r0 "$C" c0 "$offloads" || return 1
	l3_dev "$C" c0 0 || return 1
	ip -n "$C" -batch - <<-EOF || return 1
		link set lo up
		link set c0 up
		addr add 10.99.0.2/24 dev $L3
		addr add fd99::2/64 dev $L3 nodad
		route add default via 10.99.0.1
		route add default via fd99::1
	EOF
	l3_dev "$R" r0 0 || return 1
	{
		echo "link set lo up"
		echo "link set r0 up"
		echo "addr add 10.99.0.1/24 dev $L3"
		echo "addr add fd99::1/64 dev $L3 nodad"
	} >"$TMP/router.batch"
	for i in $(seq $NBACKENDS); do
		ns=$ID-b$i
		link_add "rb$i" "$ns" b0 "$offloads" || return 1
		l3_dev "$ns" b0 "$i" || return 1
		ip -n "$ns" -batch - <<-EOF || return 1
			link set lo up
			link set b0 up
			addr add $SVC4/32 dev lo
			addr add $SVC6/128 dev lo
			addr add 10.99.$i.2/24 dev $L3
			addr add fd99:0:0:$i::2/64 dev $L3 nodad
			route add default via 10.99.$i.1
			route add default via fd99:0:0:$i::1
		EOF
		l3_dev "$R" "rb$i" "$i" || return 1
		{
			echo "link set rb$i up"
			echo "addr add 10.99.$i.1/24 dev $L3"
			echo "addr add fd99:0:0:$i::1/64 dev $L3 nodad"
		} >>"$TMP/router.batch"
	done
	ip -n "$R" -batch "$TMP/router.batch" || return 1
	NH_MADE=" "
	if [ "$variant" = bgp ]; then
		frr_router_start || return 1
	fi
	route_set 1 2 3 4
}

# A link from the router's device RDEV to device DEV in namespace NS: a
# veth pair, with OFFLOADS on DEV; in the bond variant two (RDEVa-DEVa
# active, RDEVb-DEVb), each end's pair in an active-backup bond of that
# name, OFFLOADS on DEVa and DEVb.
link_add() { # RDEV NS DEV OFFLOADS
	local s
	if on_wire && [ "$1" = r0 ]; then
		wire_plug "$WIRE_MAC1" "$R" r0 && wire_plug "$WIRE_MAC2" "$2" "$3"
		return
	fi
	if [ "$VARIANT" != bond ]; then
		ip link add "$1" netns "$R" type veth peer name "$3" netns "$2" || return 1
		[ -z "$4" ] || nsx "$2" ethtool -K "$3" $4 >/dev/null
		return
	fi
	ip -n "$R" link add "$1" type bond mode active-backup miimon 50 &&
		ip -n "$2" link add "$3" type bond mode active-backup miimon 50 || return 1
	for s in a b; do
		ip link add "$1$s" netns "$R" type veth peer name "$3$s" netns "$2" &&
			ip -n "$R" link set "$1$s" master "$1" &&
			ip -n "$2" link set "$3$s" master "$3" &&
			ip -n "$R" link set "$1$s" up && ip -n "$2" link set "$3$s" up || return 1
		[ -z "$4" ] || nsx "$2" ethtool -K "$3$s" $4 >/dev/null || return 1
	done
}

# The virtio variant's NICs (tests/vm/boot.sh -w): the one with this MAC,
# waited for in this namespace (a namespace's deletion hands its NICs back
# a moment later), moved into NS as NAME.
WIRE_MAC1=52:54:00:f1:00:01 WIRE_MAC2=52:54:00:f1:00:02
wire_dev() { # MAC
	local f
	for f in /sys/class/net/*/address; do
		[ "$(cat "$f" 2>/dev/null)" = "$1" ] && { basename "${f%/address}"; return 0; }
	done
	return 1
}
# XDP's frames on each receive queue of r0 so far, one a line (6.1 names
# the counters rx_queue_N_xdp_packets, 6.12 rxN_xdp_packets).
xdp_rx_counts() {
	nsx "$R" ethtool -S r0 2>/dev/null |
		awk '/^ *rx(_queue_)?[0-9]+_xdp_packets:/ { print $2 }'
}
wire_plug() { # MAC NS NAME
	local dev _try
	for _try in $(seq 50); do
		dev=$(wire_dev "$1") && break
		sleep 0.1
	done
	[ -n "$dev" ] || { echo "no NIC with MAC $1 here" >&2; return 1; }
	ip link set "$dev" netns "$2" && ip -n "$2" link set "$dev" name "$3"
}

# The device link i's addresses go on in namespace NS (in L3): the link
# DEV itself, or in the vlan variant its VLAN sub-interface, made here.
# There the client and the backends also drop (and count) the service's
# TCP segments that reach them untagged: a datapath that forwarded one
# without its VLAN's tag breaks that connection, and the counts say so
# (a foreign tag the kernel drops itself, as for another host). In the
# trunk variant the router's VLANs to the backends have an egress-qos-map
# (priority 0, the client's TOS 0 and IPv6's, to PCP TRUNK_PCP), and the
# backends count the service's segments by PCP as they arrive (pcp_counts).
l3_dev() { # NS DEV I
	L3=$2
	if { [ "$VARIANT" = tunnel ] || [ "$VARIANT" = gre ]; } && [ "$3" != 0 ]; then
		local here=1 there=2 dev=vx type=(type vxlan id "$3" dstport 4789 dev "$2")
		[ "$VARIANT" = gre ] && dev=gt type=(type gre)
		[ "$1" = "$R" ] && L3=$dev$3 || { L3=${dev}0 here=2 there=1; }
		ip -n "$1" link set "$2" up &&
			ip -n "$1" addr add "10.97.$3.$here/24" dev "$2" &&
			ip -n "$1" link add name "$L3" "${type[@]}" \
				local "10.97.$3.$here" remote "10.97.$3.$there" &&
			ip -n "$1" link set dev "$L3" up
		return
	fi
	[ "$VARIANT" = vlan ] && [ $(($3 % 2)) = 0 ] && [ "$3" != 0 ] && return 0
	tagged || return 0
	local vid=$CLIENT_VID port=sport mac=() qos=()
	[ "$3" = 0 ] || { vid=$((BACKEND_VID + $3)); port=dport; }
	[ "$1" = "$R" ] && mac=(address "02:f1:00:00:00:0$3")
	[ "$1" = "$R" ] && [ "$3" != 0 ] && [ "$VARIANT" = trunk ] &&
		qos=(egress-qos-map "0:$TRUNK_PCP")
	L3=$2.$vid
	ip -n "$1" link add link "$2" name "$L3" "${mac[@]}" type vlan id $vid "${qos[@]}" &&
		ip -n "$1" link set "$2" up && ip -n "$1" link set "$L3" up || return 1
	[ "$1" = "$R" ] && return 0
	nsx "$1" nft -f - <<-EOF || return 1
		table inet fpvlan {
			chain in {
				type filter hook input priority 0;
				iifname "$2" tcp $port $PORT counter drop
			}
		}
	EOF
	[ "$VARIANT" = trunk ] && [ "$3" != 0 ] || return 0
	nsx "$1" nft -f - <<-EOF
		table netdev fppcp {
			chain in {
				type filter hook ingress device "$2" priority 0;
				vlan pcp != $TRUNK_PCP tcp dport $PORT counter
				vlan pcp $TRUNK_PCP tcp dport $PORT counter
			}
		}
	EOF
}

# The trunk variant: the service's segments that reached the backends
# with another PCP than their VLAN's egress-qos-map gives, and with it
# ("OTHER RIGHT").
pcp_counts() {
	local i
	for i in $(seq $NBACKENDS); do
		nsx "$ID-b$i" nft list table netdev fppcp 2>/dev/null |
			awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }' |
			paste -s -
	done | awk 'NF == 2 { o += $1; r += $2 } END { print o + 0, r + 0 }'
}

# The vlan variant: service segments that reached an end host on a VLAN
# untagged (an untagged backend's frames with a tag the kernel drops).
untagged_count() {
	local ns n=0 c step=2
	[ "$VARIANT" = trunk ] && step=1
	for ns in "$C" $(for i in $(seq 1 $step $NBACKENDS); do echo "$ID-b$i"; done); do
		c=$(nsx "$ns" nft list table inet fpvlan 2>/dev/null |
			awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
		n=$((n + ${c:-0}))
	done
	echo $n
}

# The router's device towards backend i: its link, its VLAN, or its tunnel.
backend_dev() {
	if [ "$VARIANT" = tunnel ]; then
		echo "vx$1"
	elif [ "$VARIANT" = gre ]; then
		echo "gt$1"
	elif [ "$VARIANT" = trunk ] || { [ "$VARIANT" = vlan ] && [ $(($1 % 2)) = 1 ]; }; then
		echo "rb$1.$((BACKEND_VID + $1))"
	else
		echo "rb$1"
	fi
}

# Point the service route (IPv4 and IPv6) at these backends.
route_set() {
	local i hops4='' hops6='' grp4='' grp6='' res=''
	case $VARIANT in
	bgp)
		bgp_route_set "$@"
		return
		;;
	multipath | table | vlan | virtio | trunk | tunnel | gre)
		for i in "$@"; do
			hops4+=" nexthop via $(gw4 "$i") dev $(backend_dev "$i")"
			hops6+=" nexthop via $(gw6 "$i") dev $(backend_dev "$i")"
		done
		if tagged; then
			local t="table $TABLE" in=r0.$CLIENT_VID
			ip -n "$R" rule show priority 100 | grep -q . || {
				ip -n "$R" rule add iif $in lookup $TABLE priority 100 &&
					ip -n "$R" -6 rule add iif $in lookup $TABLE priority 100
			} || return 1
		elif [ "$VARIANT" = table ]; then
			local t="table $TABLE"
			ip -n "$R" rule show priority 100 | grep -q . || {
				ip -n "$R" rule add to "$SVC4" lookup $TABLE priority 100 &&
					ip -n "$R" -6 rule add to "$SVC6" lookup $TABLE priority 100
			} || return 1
		fi
		# shellcheck disable=SC2086 # ${t} is words, or none
		ip -n "$R" route replace "$SVC4/32" ${t:-} $hops4 &&
			ip -n "$R" -6 route replace "$SVC6/128" ${t:-} $hops6
		return
		;;
	resilient) res="type resilient buckets 64" ;;
	resilient-idle) res="type resilient buckets 64 idle_timer $IDLE_TIMER" ;;
	esac
	# nexthop objects: ids i (IPv4) and 10+i (IPv6), groups 100 and 110
	for i in "$@"; do
		case $NH_MADE in *" $i "*) ;; *)
			ip -n "$R" nexthop add id "$i" via "$(gw4 "$i")" dev "rb$i" &&
				ip -n "$R" nexthop add id "1$i" via "$(gw6 "$i")" dev "rb$i" ||
				return 1
			NH_MADE+="$i "
		esac
		grp4+="${grp4:+/}$i"
		grp6+="${grp6:+/}1$i"
	done
	ip -n "$R" nexthop replace id 100 group "$grp4" $res &&
		ip -n "$R" nexthop replace id 110 group "$grp6" $res &&
		ip -n "$R" route replace "$SVC4/32" nhid 100 &&
		ip -n "$R" -6 route replace "$SVC6/128" nhid 110
}

# The backend's MAC changes and the router's neighbour entries are replaced.
mac_change() {
	local i mac
	for i in 1 2 3 4; do
		mac=02:fb:00:00:00:0$i
		ip -n "$ID-b$i" link set dev b0 address "$mac" &&
			ip -n "$R" neigh replace "$(gw4 "$i")" lladdr "$mac" dev "rb$i" nud reachable &&
			ip -n "$R" neigh replace "$(gw6 "$i")" lladdr "$mac" dev "rb$i" nud reachable ||
			return 1
	done
}


# The router resolves every backend (IPv4 and IPv6) before anything is
# measured: a connection to each backend's own address from the router.
# IPv6 ECMP steers around a next hop whose neighbour failed, and a next hop
# still resolving would make the first flows depend on timing.
neighbours_up() {
	local i cmds='' _try
	for i in $(seq $NBACKENDS); do
		cmds+="spread n$i $(gw4 "$i") $PORT 1"$'\n'"spread n$i $(gw6 "$i") $PORT 1"$'\n'
	done
	for _try in 1 2 3; do
		ip netns exec "$R" "$BUILD/scenario_client" <<<"$cmds" >"$RUNDIR/neighbours" 2>&1
		[ "$(grep -c ' ok=1 ' "$RUNDIR/neighbours")" = $((NBACKENDS * 2)) ] &&
			! ip -n "$R" neigh show | grep -qv 'REACHABLE\|STALE\|DELAY\|PROBE' &&
			return 0
		sleep 0.5
	done
	echo "router cannot reach every backend:" >>"$RUNDIR/errors"
	ip -n "$R" neigh show >>"$RUNDIR/errors"
	return 1
}

daemon_start() { # MODE POLICY
	bpffs_mount || return 1
	local before mode=(-m "$1") r0=r0
	[ "$1" = auto ] && mode=() # the default: no -m
	local ports=("${ROUTER_BACKEND_PORTS[@]}")
	# the trunk variant: XDP on the virtio trunk whatever the column
	[ "$VARIANT" = trunk ] && r0=r0:native
	# the tunnel variant: the tunnels are the ports, not their underlay
	[ "$VARIANT" = tunnel ] && ports=("${ports[@]/#rb/vx}")
	before=$(ready_lines "$RUNDIR/flowpind.log")
	# nsenter itself, not a function: $! must be flowpind's own pid
	nsenter --net="/run/netns/$R" "$FLOWPIND" "${mode[@]}" -p "$PIN" --withdrawn "$2" \
		"$r0" "${ports[@]}" \
		2>>"$RUNDIR/flowpind.log" &
	DAEMON_PID=$!
	ready_wait "$RUNDIR/flowpind.log" "$before" "$DAEMON_PID" flowpind
}

# --- scenarios --------------------------------------------------------------

# name      route           policy change    flowpin   kernel  what changes
SPEC_TABLE="
add         multipath       drain  add       zero      some    5th backend added to a multipath route
drain       multipath       drain  withdraw  zero      some    $WITHDRAWN withdrawn, --withdrawn drain
repin       multipath       repin  withdraw  withdrawn some    $WITHDRAWN withdrawn, --withdrawn repin
mtu         multipath       drain  mtu       zero      some    $WITHDRAWN withdrawn, then its link's MTU lowered to $SMALL_MTU
bgp-add     bgp             drain  add       zero      some    BGP (FRR): b5's sessions come up
bgp-drain   bgp             drain  withdraw  zero      some    BGP: $WITHDRAWN's sessions shut down, drain
bgp-repin   bgp             repin  withdraw  withdrawn some    BGP: $WITHDRAWN's sessions shut down, repin
bgp-dead    bgp             drain  dead      withdrawn some    BGP: $WITHDRAWN's link goes down
frr-restart bgp             drain  frr-restart zero    some    FRR stops (routes gone), b5 up, FRR back
nhg-churn   bgp             drain  churn     zero      zero    BGP: $WITHDRAWN's sessions flap 20 times in 10 s
bond-add    bond            drain  add       zero      some    bonds to the backends: 5th backend added
bond-member bond            drain  member    zero      zero    bonds: each one's active member goes down
vlan-add    vlan            drain  add       zero      some    VLAN trunks (iif rule): 5th backend added
vlan-drain  vlan            drain  withdraw  zero      some    VLAN trunks: $WITHDRAWN withdrawn, drain
virtio-add  virtio          drain  add       zero      some    virtio_net NICs, native XDP: 5th added
virtio-drain virtio         drain  withdraw  zero      some    virtio_net NICs: $WITHDRAWN withdrawn, drain
trunk-add   trunk           drain  add       zero      some    VLAN trunk on virtio_net, native XDP: 5th added
trunk-drain trunk           drain  withdraw  zero      some    VLAN trunk on virtio_net: $WITHDRAWN withdrawn, drain
tunnel-add  tunnel          drain  add       zero      some    a VXLAN tunnel to each backend: 5th backend added
tunnel-drain tunnel         drain  withdraw  zero      some    VXLAN tunnels: $WITHDRAWN withdrawn, drain
gre-add     gre             drain  add       zero      some    a GRE tunnel to each backend: 5th backend added
gre-drain   gre             drain  withdraw  zero      some    GRE tunnels: $WITHDRAWN withdrawn, drain
nh-add      nhobj           drain  add       zero      some    nexthop objects: 5th added to the group
nh-drain    nhobj           drain  withdraw  zero      some    nexthop objects: $WITHDRAWN withdrawn, drain
nh-repin    nhobj           repin  withdraw  withdrawn some    nexthop objects: $WITHDRAWN withdrawn, repin
res-drain   resilient       drain  withdraw  zero      some    resilient group: $WITHDRAWN withdrawn, drain
res-repin   resilient       repin  withdraw  withdrawn some    resilient group: $WITHDRAWN withdrawn, repin
mac         multipath       drain  mac       zero      zero    every backend's MAC changes (neigh replace)
hitless     multipath       drain  hitless   zero      some    flowpind SIGHUP restart, then 5th added
sigkill     multipath       drain  sigkill   zero      some    flowpind SIGKILLed, 5th added, restarted
idle        resilient-idle  drain  idle      zero      some    idle > resilient idle timer, then 5th added
blackhole   multipath       drain  blackhole all       all     a blackhole route replaces the route
unreachable multipath       drain  unreachable all     all     an unreachable route replaces the route
prohibit    multipath       drain  prohibit  all       all     a prohibit route replaces the route
rule        multipath       drain  rule      all       all     ip rule prohibit to the service address
rule-table  table           drain  rule      all       all     ip rule prohibit in front of the rule's table that holds the route
throw       table           drain  throw     zero      some    a throw route in the rule's table: main's route, 5 backends
"
# route: how the service route is made (see route_set); flowpin, kernel:
# what each must show (zero broken, some broken, all broken, or only the
# withdrawn backend's connections broken). The reject scenarios check
# REJECT_WITHIN s after the change: an operator's reject wins over pins at
# flowpin's once-a-second recheck of each pin against the FIB.
ALL_SCENARIOS=$(spec_names)
DEMO_SCENARIOS="add drain"

# Make the change of a scenario. COLUMN is kernel, native or skb.
change() { # CHANGE COLUMN
	local col=$2
	case $1 in
	add) route_set 1 2 3 4 5 ;;
	withdraw) route_set 1 3 4 ;;
	dead)
		# the backend's link goes down: the kernel drops the routes and
		# nexthops through it, FRR its sessions (fast external failover)
		ip -n "$ID-$WITHDRAWN" link set b0 down && wait_paths 1 3 4
		;;
	frr-restart)
		# every route FRR installed leaves the kernel with it; b5 comes
		# up meanwhile; the restarted FRR installs a 5-way route
		frr_router_stop && wait_paths && gap_check &&
			frr_backend_start 5 && sleep 1 &&
			frr_router_start && wait_paths 1 2 3 4 5
		;;
	churn)
		# b2's sessions flap 20 times in 10 s: zebra makes new nexthop
		# groups each time
		for _ in $(seq 20); do
			bgp_session down 2 && sleep 0.25 && bgp_session up 2 && sleep 0.25 || return 1
		done
		wait_paths 1 2 3 4
		;;
	mtu)
		# its connections' bulk no longer fits: the sender must learn
		# the pinned path's MTU, from an error sent on that path
		route_set 1 3 4 &&
			ip -n "$R" link set "rb${WITHDRAWN#b}" mtu $SMALL_MTU &&
			ip -n "$ID-$WITHDRAWN" link set b0 mtu $SMALL_MTU
		;;
	mac) mac_change ;;
	member)
		# every bond fails over to its other member (miimon), at both
		# ends; the next hops stay the bonds
		for i in $(seq $NBACKENDS); do
			ip -n "$R" link set "rb${i}a" down || return 1
		done
		ip -n "$R" link set r0a down || return 1
		sleep 0.5
		;;
	hitless)
		if [ "$col" != kernel ]; then
			kill -HUP "$DAEMON_PID" || return 1
			# the re-executed daemon says ready again after its first sync
			wait_file "$RUNDIR/flowpind.log" "\\<ready\\>" 2 15 "$DAEMON_PID" || {
				echo "flowpind not ready again after SIGHUP" >>"$RUNDIR/errors"
				return 1
			}
		fi
		route_set 1 2 3 4 5
		;;
	sigkill)
		if [ "$col" != kernel ]; then
			kill -KILL "$DAEMON_PID"
			wait "$DAEMON_PID" 2>/dev/null
			DAEMON_PID=
		fi
		# the route changes while no daemon runs; the datapath keeps pins
		route_set 1 2 3 4 5 || return 1
		if [ "$col" != kernel ]; then
			daemon_start "$col" "$POLICY" || return 1
		fi
		;;
	idle)
		sleep $((IDLE_TIMER * 2)).5
		route_set 1 2 3 4 5
		;;
	blackhole | unreachable | prohibit)
		ip -n "$R" route replace "$1" "$SVC4/32" &&
			ip -n "$R" -6 route replace "$1" "$SVC6/128" &&
			sleep $REJECT_WITHIN
		;;
	rule)
		ip -n "$R" rule add prohibit to "$SVC4" priority 50 &&
			ip -n "$R" -6 rule add prohibit to "$SVC6" priority 50 &&
			sleep $REJECT_WITHIN
		;;
	throw)
		# the kernel goes on to the next rule, main, whose route has a
		# fifth backend: it moves connections, pins keep them
		VARIANT=multipath route_set 1 2 3 4 5 &&
			ip -n "$R" route replace throw "$SVC4/32" table $TABLE &&
			ip -n "$R" -6 route replace throw "$SVC6/128" table $TABLE
		;;
	esac
}

# While the router has no route: send on every connection GAP_ROUNDS
# times, GAP_MS apart, and count the answers that did not come back within
# GAP_MS (GAP: "lost/sent").
gap_check() {
	local lost=0 sent=0 fam
	for _ in $(seq $GAP_ROUNDS); do
		for fam in v4 v6; do
			client_cmd check $fam $GAP_MS || return 1
			lost=$((lost + $(field "$REPLY" broken)))
			sent=$((sent + $(field "$REPLY" total)))
		done
	done
	GAP="$lost/$sent"
}

is_reject() { case $1 in blackhole | unreachable | prohibit | rule) return 0 ;; esac; return 1; }

# --- results ----------------------------------------------------------------

# Does a check's (or a bulk's) answer show what MUST says (lib.sh's
# conns_as_expected), and after withdrawn, only the withdrawn backend's
# connections broken, every one of them? 1 or 0.
as_expected() { # MUST ANSWER
	local must=$1 answer=$2 b v bk of
	[ "$(conns_as_expected "$must" "$answer")" = 1 ] || { echo 0; return; }
	if [ "$must" = withdrawn ]; then
		for b in $(seq $NBACKENDS); do
			v=$(field "$answer" "b$b")
			[ -z "$v" ] && continue
			bk=${v%/*}
			of=${v#*/}
			if [ "b$b" = "$WITHDRAWN" ]; then
				[ "$bk" = "$of" ] && [ "$of" -gt 0 ] || { echo 0; return; }
			else
				[ "$bk" = 0 ] || { echo 0; return; }
			fi
		done
	fi
	echo 1
}

# Judge one family of one run from the client's answers.
judge() { # SCEN FAM COL MUST OPENED CHECKED SPREAD EXPECT_BACKENDS EXCLUDED SPREAD_FAILS [BULK]
	local key=$1/$2/$3 name="$1 $2 $3" must=$4 opened=$5 checked=$6 spread=$7
	local bulk=${11:-} ok
	# connections: all opened, then broken as the expectation says
	ok=0
	[ "$(field "$opened" ok)" = "$CONNS" ] && ok=$(as_expected "$must" "$checked")
	judge_broken "$key" "$name" $ok "$checked" "$must ($checked)"
	[ $ok = 1 ] && [ "$must" = withdrawn ] && CELL[$key]+=" ($WITHDRAWN's)"
	if [ "$bulk" = - ]; then
		: # no bulk transfer in this scenario
	elif [ -n "$bulk" ] && [ "$(as_expected "$must" "$bulk")" = 1 ]; then
		CELL[$key]+=" b$(field "$bulk" broken)"
		verdict 1 "$name: bulk"
	else
		CELL[$key]+=" b$(field "$bulk" broken)!"
		verdict 0 "$name: after $BULK_BYTES bytes each way, broken $(field "$bulk" broken), expected $must (${bulk:-no answer})"
	fi

	# spread: the initial connections reached b1..b4, new ones every
	# backend of the route and never an excluded one (after a reject,
	# none: every new connection fails)
	judge_spread "$key" "$(spread_over "$opened" "1 2 3 4" 5)" "$spread" "${10}" "$8" "$9" \
		"$name: new connections spread (before: $opened; after: $spread)"
}

# Did flowpind follow the change? The datapath alone keeps pinned flows
# going even with the daemon frozen, so the answer is in the maps it writes:
# new flows pinned to an added backend, a withdrawn one marked (drain) or
# released (repin), new MACs in place. Prints "ok" or what is missing.
daemon_followed() { # CHANGE
	local i n v nh
	nh=$(nsx "$R" "$FLOWPINCTL" -p "$PIN" nexthops 2>&1)
	case $1 in
	add | hitless | sigkill | idle | frr-restart)
		for v in "$(gw4 5)" "$(gw6 5)"; do
			n=$(nsx "$R" "$FLOWPINCTL" -p "$PIN" flows --nexthop "$v" --count 2>&1)
			[ "$n" -gt 0 ] 2>/dev/null || { echo "no new flow pinned to b5 ($v: ${n:-?})"; return; }
		done
		;;
	withdraw | mtu)
		for v in "$(gw4 2)" "$(gw6 2)"; do
			if [ "$POLICY" = drain ]; then
				grep -q "^ *[0-9]* *$v .* withdrawn " <<<"$nh" ||
					{ echo "$v not withdrawn"; return; }
			elif grep -q "^ *[0-9]* *$v " <<<"$nh"; then
				echo "$v not released"
				return
			fi
		done
		;;
	mac)
		for i in 1 2 3 4; do
			grep -q "^ *[0-9]* *$(gw4 "$i") .* 02:fb:00:00:00:0$i " <<<"$nh" ||
				{ echo "$(gw4 "$i") without its new MAC"; return; }
		done
		;;
	esac
	if [ "$1" = churn ] || [ "$1" = dead ]; then
		# the table is the kernel's, no pin is left on a next hop gone
		# (the dead link's: nothing is sent into it)
		table_matches_kernel
		return
	fi
	if [ "$1" = mtu ]; then
		n=$(nsx "$R" "$FLOWPINCTL" -p "$PIN" stats 2>&1 | awk '$1 == "too_big_icmp" { print $2 }')
		[ "${n:-0}" -gt 0 ] 2>/dev/null || { echo "no error sent for the pinned path (too_big_icmp ${n:-?})"; return; }
	fi
	echo ok
}

# CONNS connections of TAG to ADDR, over every one of b1..b4: the kernel's
# hash leaves one of four backends without any of 32 connections about once
# in 2,500 opens (4 x 0.75^32), and a change to a backend that carries none
# would prove nothing. Such an open is closed and made again (at most twice
# more, said in the run's errors); the last one's answer stands, in REPLY.
open_conns() { # TAG ADDR
	local try b opened
	for try in 1 2 3; do
		client_cmd open "$1" "$2" $PORT "$CONNS" || return 1
		opened=$REPLY
		for b in 1 2 3 4; do
			[ "$(field "$opened" "b$b")" -gt 0 ] 2>/dev/null || break
		done
		[ "$(field "$opened" "b$b")" -gt 0 ] 2>/dev/null && break
		[ $try = 3 ] && break
		echo "open $1: b$b got none of $CONNS ($opened): opened again" >&2
		client_cmd close "$1" || return 1
	done
	REPLY=$opened
}

# One scenario in one column: fresh topology, change, judge, tear down.
run_one() { # SCEN COL
	local scen=$1 col=$2 variant must_fp must_k chg must expect excluded what
	local opened4='' opened6='' checked4='' checked6='' spread4='' spread6='' step=setup
	local bulk='' bulk4='' bulk6=''
	read -r variant POLICY chg must_fp must_k _ <<<"$(spec "$scen")"
	# FRR's scenarios take longer to set up: fewer connections
	local CONNS=$CONNS
	[ "$variant" = bgp ] && [ "$CONNS" -gt "$BGP_CONNS" ] && CONNS=$BGP_CONNS
	case $chg in add | withdraw | mtu) bulk=1 ;; esac
	[ "$col" = kernel ] && must=$must_k || must=$must_fp
	run_begin "$scen-$col"
	local t0=$SECONDS

	local spread_fails=0
	case $chg in
	withdraw | mtu | dead) expect="1 3 4" excluded=${WITHDRAWN#b} ;;
	mac | churn | member) expect="1 2 3 4" excluded=5 ;;
	blackhole | unreachable | prohibit | rule)
		expect= excluded="1 2 3 4 5" spread_fails=$SPREAD ;;
	*) expect="1 2 3 4 5" excluded= ;;
	esac

	{
		step=topology && topo_up "$variant" "$col" &&
			step=servers && servers_up $(seq $NBACKENDS) &&
			step=client && client_up &&
			step=neighbours && neighbours_up &&
			{ [ "$col" = kernel ] || { step=flowpind && daemon_start "$col" "$POLICY"; }; } &&
			{ ! on_wire || xdp_rx_counts >"$RUNDIR/xdp-rx-before"; } &&
			step=open && open_conns v4 $SVC4 && opened4=$REPLY &&
			open_conns v6 $SVC6 && opened6=$REPLY &&
			step=change && change "$chg" "$col" &&
			sleep $SETTLE &&
			step=check && client_cmd check v4 $CHECK_MS && checked4=$REPLY &&
			client_cmd check v6 $CHECK_MS && checked6=$REPLY &&
			{ [ -z "$bulk" ] || {
				step=bulk && client_cmd bulk v4 $BULK_BYTES $BULK_MS && bulk4=$REPLY &&
					client_cmd bulk v6 $BULK_BYTES $BULK_MS && bulk6=$REPLY
			}; } &&
			step=spread && client_cmd spread a4 $SVC4 $PORT $SPREAD && spread4=$REPLY &&
			client_cmd spread a6 $SVC6 $PORT $SPREAD && spread6=$REPLY &&
			step=finished
	} 2>>"$RUNDIR/errors"
	[ "$step" = finished ] || echo "  $scen/$col: failed at step '$step'" >&2
	local untagged= queues='' csum_errors='' pcps=''
	tagged && untagged=$(untagged_count)
	[ "$variant" = trunk ] && pcps=$(pcp_counts)
	if on_wire; then
		# r0's receive queues where XDP ran during this run, of how
		# many (the NIC's counters outlive runs); segments any end's
		# TCP dropped for a bad checksum, from each namespace that
		# answered (none answering: no figure)
		queues=$(xdp_rx_counts | paste - "$RUNDIR/xdp-rx-before" 2>/dev/null |
			awk 'NF == 2 { n++; if ($1 > $2) used++ } END { if (n) printf "%d/%d", used, n }')
		csum_errors=$(for ns in "${NSES[@]}"; do
			nsx "$ns" nstat -saz TcpInCsumErrors 2>/dev/null
		done | awk '$1 == "TcpInCsumErrors" { seen++; n += $2 } END { if (seen) print n }')
	fi
	local dev
	{
		ip -n "$R" route show $SVC4
		ip -n "$R" -6 route show $SVC6
		ip -n "$R" nexthop show
		ip -n "$R" neigh show
		# veth's own XDP counters (frames redirected to a port, dropped)
		for dev in r0 "${ROUTER_BACKEND_PORTS[@]}"; do
			nsx "$R" ethtool -S "$dev" 2>/dev/null |
				awk -v d="$dev" '$2 != 0 && /xdp/ { printf "%s %s %s\n", d, $1, $2 }'
		done
	} >"$RUNDIR/router" 2>&1
	local pinned='' running='' followed=''
	if [ "$col" != kernel ] && [ -x "$FLOWPINCTL" ]; then
		for what in stats nexthops; do
			nsx "$R" "$FLOWPINCTL" -p "$PIN" $what >"$RUNDIR/flowpinctl-$what" 2>&1
		done
		# for a failed run: the gateways the datapath can look up, one
		# line, and every next hop flowpind wrote (the log's tail may
		# not reach back to its start)
		bpftool -j map dump pinned "$PIN/nexthop_index" >"$RUNDIR/nexthop-index" 2>&1
		grep 'next hop' "$RUNDIR/flowpind.log" >"$RUNDIR/flowpind-nexthops" 2>/dev/null
		# flowpinctl against the live daemon and real connections
		pinned=$(nsx "$R" "$FLOWPINCTL" -p "$PIN" flows --count 2>/dev/null)
		followed=$(daemon_followed "$chg")
		running=$(nsx "$R" "$FLOWPINCTL" -p "$PIN" status 2>/dev/null | grep -c '^daemon: *running')
	fi
	hold "$col"

	if [ "$DEMO" = 1 ] && [ "$col" != kernel ] && [ "$step" = finished ]; then
		save_flowpinctl >"$TMP/demo-flowpinctl"
	fi
	teardown

	[ -n "$bulk" ] || { bulk4=- bulk6=-; }
	judge "$scen" IPv4 "$col" "$must" "$opened4" "$checked4" "$spread4" "$expect" "$excluded" $spread_fails "$bulk4"
	judge "$scen" IPv6 "$col" "$must" "$opened6" "$checked6" "$spread6" "$expect" "$excluded" $spread_fails "$bulk6"
	if [ "$col" != kernel ] && [ -x "$FLOWPINCTL" ] && is_reject "$chg"; then
		# every connection sent after the reject: every pin is gone
		local ok=0
		[ "$pinned" = 0 ] && [ "$running" = 1 ] && ok=1
		verdict $ok "$scen/$col: flowpinctl sees the daemon running and ${pinned:-?} pinned flows (none after the reject)"
	elif [ "$col" != kernel ] && [ -x "$FLOWPINCTL" ]; then
		local ok=0
		[ "${pinned:-0}" -ge $((2 * CONNS)) ] 2>/dev/null && [ "$running" = 1 ] && ok=1
		verdict $ok "$scen/$col: flowpinctl sees the daemon running and ${pinned:-?} pinned flows (at least $((2 * CONNS)))"
	fi
	if [ "$col" != kernel ] && [ -x "$FLOWPINCTL" ] && ! is_reject "$chg"; then
		local ok=0
		[ "$followed" = ok ] && ok=1
		verdict $ok "$scen/$col: flowpind followed the change (${followed:-not checked})"
	fi
	if tagged; then
		local ok=0
		[ "$untagged" = 0 ] && ok=1
		verdict $ok "$scen/$col: ${untagged:-?} service segments reached the client or a backend untagged (none)"
	fi
	if [ "$variant" = trunk ]; then
		# the PCP the kernel's VLAN device gives (its egress-qos-map), in
		# every column: the kernel's own, and flowpin's tag rewrite
		local ok=0
		[ "${pcps%% *}" = 0 ] && [ "${pcps#* }" -ge $((2 * CONNS)) ] 2>/dev/null && ok=1
		verdict $ok "$scen/$col: service segments at the backends with another PCP than $TRUNK_PCP (their VLANs' egress-qos-map): ${pcps%% *} (none), with it: ${pcps#* } (at least $((2 * CONNS)))"
	fi
	if on_wire && [ "$col" != kernel ]; then
		# RSS: the client's flows reach flowpin on every receive queue
		# of r0 (the host's tap spreads them; with XDP on, virtio_net
		# uses twice as many queue pairs as CPUs)
		local ok=0
		[ "${queues%/*}" -ge 2 ] 2>/dev/null && [ "${queues%/*}" = "${queues#*/}" ] && ok=1
		verdict $ok "$scen/$col: r0's receive queues where XDP ran: ${queues:-?} (every one, at least 2)"
	fi
	if on_wire; then
		# no end got a segment with an unfinished checksum
		local ok=0
		[ "$csum_errors" = 0 ] && ok=1
		verdict $ok "$scen/$col: ${csum_errors:-?} TCP segments dropped for a bad checksum (none)"
	fi
	if [ "$col" != kernel ] && { tagged || [ "$variant" = bond ] || [ "$variant" = virtio ] ||
		[ "$variant" = tunnel ] || [ "$variant" = gre ]; }; then
		# the traffic was flowpin's: forwarded; in the vlan variants
		# none passed as a VLAN it did not know (but those of the
		# moment between attaching and writing vlan_rx), and in the
		# trunk variant none for a tag XDP could not write
		local ok=0 fwd passed retag
		fwd=$(awk '$1 == "forwarded" { print $2 }' "$RUNDIR/flowpinctl-stats")
		passed=$(awk '$1 == "pass_vlan" { print $2 }' "$RUNDIR/flowpinctl-stats")
		retag=$(awk '$1 == "pass_vlan_retag" { print $2 }' "$RUNDIR/flowpinctl-stats")
		[ "${fwd:-0}" -ge $((4 * CONNS)) ] 2>/dev/null && [ "${passed:-0}" -lt 10 ] &&
			[ "${retag:-0}" = 0 ] && ok=1
		verdict $ok "$scen/$col: flowpin forwarded ${fwd:-?} packets (at least $((4 * CONNS))), passed ${passed:-0} as pass_vlan (under 10: frames before the first sync), ${retag:-0} as pass_vlan_retag (none)"
	fi
	if [ "$col" != kernel ] && [ "$variant" = gre ]; then
		# the tunnels are no ports: flowpind found them itself
		local ok=0 n
		n=$(grep -c "gt[0-9]* is an IP tunnel (gre): tc pins" "$RUNDIR/flowpind.log" 2>/dev/null)
		[ "${n:-0}" -ge "$NBACKENDS" ] && ok=1
		verdict $ok "$scen/$col: flowpind says tc sends into each of $NBACKENDS GRE tunnels (${n:-0} lines)"
	fi
	if [ "$chg" = frr-restart ]; then
		# pinned flows keep going while the routing daemon is away; the
		# kernel alone has no route for them
		local ok=0 lost=${GAP%/*} sent=${GAP#*/}
		if [ -n "$GAP" ] && [ "$sent" -gt 0 ]; then
			if [ "$col" = kernel ]; then [ "$lost" = "$sent" ] && ok=1
			else [ "$lost" = 0 ] && ok=1; fi
		fi
		verdict $ok "$scen/$col: while FRR was down, ${GAP:-?} answers lost or late (over $GAP_MS ms)"
		GAP_SEEN[$col]=$GAP
		GAP=
	fi
	if [ "$col" = auto ] && [ "$variant" = virtio ]; then
		# no -m: native XDP on the virtio NIC, tc on the veths
		local ok=0 n_tc
		n_tc=$(grep -c "attached rb[0-9]* in tc mode (auto: a veth" "$RUNDIR/flowpind.log" 2>/dev/null)
		grep -q "attached r0 in native mode (auto: the driver has native XDP)" "$RUNDIR/flowpind.log" &&
			[ "${n_tc:-0}" -ge "$NBACKENDS" ] && ok=1
		verdict $ok "$scen/$col: flowpind says native mode for r0 (virtio_net) and tc for $NBACKENDS veths (${n_tc:-0} lines)"
	elif [ "$col" = auto ] && [ "$variant" = trunk ]; then
		# r0:native: XDP on the trunk, and what it forwards of its
		# VLANs said; no -m: tc on the veths
		local ok=0 n_tc
		n_tc=$(grep -c "attached rb[0-9]* in tc mode (auto: a VLAN is on it" "$RUNDIR/flowpind.log" 2>/dev/null)
		grep -q "attached r0 in native mode" "$RUNDIR/flowpind.log" &&
			grep -q "r0 has VLAN r0.$CLIENT_VID on it: XDP forwards its tagged frames" "$RUNDIR/flowpind.log" &&
			[ "${n_tc:-0}" -ge "$NBACKENDS" ] && ok=1
		verdict $ok "$scen/$col: flowpind says native mode for the trunk r0 (r0:native), what XDP forwards of its VLANs, and tc for $NBACKENDS veths (${n_tc:-0} lines)"
	elif [ "$col" = auto ] && [ "$variant" = bond ]; then
		# no -m: native XDP on each bond (its members have it)
		local ok=0 n_native
		n_native=$(grep -c "attached r[0b][0-9]* in native mode (auto: the driver has native XDP)" "$RUNDIR/flowpind.log" 2>/dev/null)
		[ "${n_native:-0}" -ge $((NBACKENDS + 1)) ] && ok=1
		verdict $ok "$scen/$col: flowpind says native mode for each of $((NBACKENDS + 1)) bonds (${n_native:-0} lines)"
	elif [ "$col" = auto ]; then
		# no -m: each port says the mode it got, and on veth that is tc
		local ok=0 n_tc
		local why="a veth"
		[ "$variant" = vlan ] && why="a veth\|a VLAN is on it"
		[ "$variant" = tunnel ] && why="a veth\|a VXLAN device has no native XDP"
		n_tc=$(grep -c " in tc mode (auto: \($why\)" "$RUNDIR/flowpind.log" 2>/dev/null)
		[ "${n_tc:-0}" -ge $((NBACKENDS + 1)) ] &&
			! grep -q " in native mode\| in skb mode" "$RUNDIR/flowpind.log" && ok=1
		verdict $ok "$scen/$col: flowpind says tc mode (auto: $why) for each of $((NBACKENDS + 1)) ports (${n_tc:-0} lines)"
	fi
	printf '  %-10s %-7s %3ss  IPv4 %-7s IPv6 %s%s\n' "$scen" "$col" $((SECONDS - t0)) \
		"${CELL[$scen/IPv4/$col]}" "${CELL[$scen/IPv6/$col]}" \
		"${pcps:+  PCP $TRUNK_PCP at the backends: ${pcps#* }, another: ${pcps%% *}}"
	# less the idle counters
	failed_run_show ' 0$' "$RUNDIR"/errors "$RUNDIR"/client.err "$RUNDIR"/flowpind.log \
		"$RUNDIR"/router "$RUNDIR"/flowpinctl-nexthops "$RUNDIR"/flowpinctl-stats \
		"$RUNDIR"/flowpind-nexthops "$RUNDIR"/nexthop-index "$RUNDIR"/echo-b*.log
}

# What flowpinctl says on the router, while the run is still up.
save_flowpinctl() {
	local cmd
	[ -x "$FLOWPINCTL" ] || {
		echo "(build/flowpinctl not built: nothing to show)"
		return 0
	}
	echo "In the router namespace, at the end of the '$scen' run with flowpin:"
	for cmd in status nexthops "flows --limit 5"; do
		echo
		echo "\$ flowpinctl -p $PIN $cmd"
		nsx "$R" "$FLOWPINCTL" -p "$PIN" $cmd 2>&1 | head -n 30
	done
}

# What flowpin must show, in the table.
table_must() { # SCEN
	local must
	read -r _ _ _ must _ <<<"$(spec "$1")"
	case $must in
	zero) must="0 broken" ;;
	withdrawn) must="only $WITHDRAWN's broken" ;;
	esac
	echo "$must"
}

print_table() {
	local col cols=()
	echo
	echo "Broken connections (broken/total) after each change, per family;"
	echo "kernel = the kernel alone, flowpin = flowpind on the router's ports;"
	echo "bN = N broken after $BULK_BYTES bytes each way on every connection."
	echo "! = not what the suite expects, ~ = new connections did not spread as expected;"
	echo "bgp-*, frr-restart and nhg-churn: FRR's routes, at most $BGP_CONNS connections, flowpin in ${BGP_MODES// /, } only"
	echo "flowpin skb (generic XDP): in ${SKB_SCENARIOS// /, } only (its bulk transfers are what differs from native)"
	echo
	for col in $FP_COLS; do
		cols+=("$col:15:flowpin $col")
	done
	results_table "$SCENARIOS" scenario 10 44 "flowpin must show" 17 kernel:8:kernel "${cols[@]}"
	echo
}

# --- main -------------------------------------------------------------------

if [ "$DEMO" = 1 ]; then
	SCENARIOS=${ONLY:-$DEMO_SCENARIOS}
	# what a new user gets: flowpind with no -m, veths as created
	[ -z "${SCENARIOS_MODES:-}" ] && [ "$MODES" = "native skb auto" ] && MODES=auto
else
	SCENARIOS=${ONLY:-$ALL_SCENARIOS}
fi
for s in $SCENARIOS; do
	spec "$s" >/dev/null || { echo "scenarios: unknown scenario $s" >&2; exit 2; }
done

FP_COLS=$MODES
if [ "$KERNEL_ONLY" = 1 ]; then
	FP_COLS=
else
	flowpind_required --kernel-only
fi

# Can this kernel make devices of the kind a variant needs (VLAN: 8021q,
# bond: bonding, tunnel: vxlan, gre: ip_gre)? Asked in a namespace of its
# own. Virtio: are the wired NICs here?
kind_here() { # vlan | bond | virtio | trunk | tunnel | gre
	local ns=$ID-probe rc
	[ "$1" = trunk ] && { kind_here virtio && kind_here vlan; return; }
	[ "$1" = virtio ] && { wire_dev $WIRE_MAC1 >/dev/null && wire_dev $WIRE_MAC2 >/dev/null; return; }
	ip netns add "$ns" || return 1
	ip -n "$ns" link add d0 type veth peer name d1 &&
		if [ "$1" = vlan ]; then
			ip -n "$ns" link add link d0 name d0.5 type vlan id 5 2>/dev/null
		elif [ "$1" = tunnel ]; then
			ip -n "$ns" link add vx5 type vxlan id 5 dstport 4789 dev d0 2>/dev/null
		elif [ "$1" = gre ]; then
			ip -n "$ns" link add name gt5 type gre local 10.0.0.1 remote 10.0.0.2 2>/dev/null
		else
			ip -n "$ns" link add b0 type bond 2>/dev/null
		fi
	rc=$?
	ip netns del "$ns"
	return $rc
}
declare -A KIND_HERE

# NETDEV WATCHDOG lines in the kernel's log so far for a transmit queue of
# the kernel's own that stopped moving (virtio_net gives the stack queues
# 0 .. CPUs - 1 and XDP the ones after: a stall of XDP's is not counted);
# 0 where the log cannot be read.
watchdogs() {
	dmesg 2>/dev/null | awk -v cpus="$(nproc)" '
		/NETDEV WATCHDOG/ && match($0, /transmit queue [0-9]+ timed out/) {
			split(substr($0, RSTART, RLENGTH), w, " ")
			if (w[3] + 0 < cpus) n++
		}
		END { print n + 0 }'
}

# One run of a scenario in one column. On the virtio wire, a run that
# failed while one of a wired NIC's own transmit queues stalled (the
# kernel logged a NETDEV WATCHDOG: qemu stopped taking the NIC's
# transmits; seen once, in a CI run's 6.1 VM with every host core busy)
# says so and runs again, once; the first run's verdicts do not count,
# its lines stay in the output.
run_col() { # SCEN COL VARIANT
	local passed=$PASSED failed=$FAILED stalls
	case $3 in virtio | trunk) ;; *) run_one "$1" "$2"; return ;; esac
	stalls=$(watchdogs)
	run_one "$1" "$2"
	[ "$FAILED" != "$failed" ] && [ "$(watchdogs)" -gt "$stalls" ] || return 0
	echo "  $1 $2: a wired NIC's transmit queue stalled during the run (NETDEV WATCHDOG in the kernel's log): the run once more, without the first one's verdicts" >&2
	PASSED=$passed FAILED=$failed
	run_one "$1" "$2"
}

start=$SECONDS
echo "scenarios: $CONNS connections per family, topology prefix $ID"
for scen in $SCENARIOS; do
	read -r variant _ chg _ <<<"$(spec "$scen")"
	if tagged "$variant" || [ "$variant" = bond ] || [ "$variant" = virtio ] ||
		[ "$variant" = tunnel ] || [ "$variant" = gre ]; then
		[ -n "${KIND_HERE[$variant]:-}" ] ||
			{ kind_here "$variant" && KIND_HERE[$variant]=yes || KIND_HERE[$variant]=no; }
		missing="this kernel makes no $variant devices"
		[ "$variant" = virtio ] && missing="no wired virtio NICs here (tests/vm/boot.sh -w)"
		[ "$variant" = trunk ] && missing="no wired virtio NICs or no VLAN devices here (tests/vm/boot.sh -w)"
		if [ "${KIND_HERE[$variant]}" = no ] && [ "${LINK_KINDS_REQUIRED:-0}" = 1 ]; then
			verdict 0 "$scen: $missing, which LINK_KINDS_REQUIRED asks for"
			continue
		elif [ "${KIND_HERE[$variant]}" = no ]; then
			echo "skipped: scenarios $scen: $missing; the kernel matrix runs it"
			SKIPPED=$((SKIPPED + 1))
			SKIP_WHY=" (devices not here: ${!KIND_HERE[*]})"
			continue
		fi
	fi
	# every reject drops in the kernel alike: its column runs for blackhole
	is_reject "$chg" && [ "$chg" != blackhole ] || run_col "$scen" kernel "$variant"
	for col in $FP_COLS; do
		# the drop rule is code both entry points share: test_pinning
		# checks it through XDP, this through tc (auto); each reject run
		# waits out its timeouts (about 15 s)
		is_reject "$chg" && { [ "$col" = skb ] || [ "$col" = native ]; } && continue
		# FRR's scenarios: their columns only (BGP_MODES)
		[ "$(spec "$scen" | awk '{ print $1 }')" = bgp ] &&
			[[ " $BGP_MODES " != *" $col "* ]] && continue
		# generic XDP differs from native in what it does with skbs (GSO,
		# checksums), which the multipath scenarios' bulk transfers
		# cover; how the route is made or changes is the daemon's, alike
		# in every mode
		[ "$col" = skb ] && [[ " $SKB_SCENARIOS " != *" $scen "* ]] && continue
		# VLANs: XDP passes tagged frames (and on veth, whose driver
		# takes the tag out before XDP, flowpind refuses it): tc only
		[ "$variant" = vlan ] && { [ "$col" = skb ] || [ "$col" = native ]; } && continue
		# the trunk: r0:native, the veths auto's (tc): the auto column;
		# the tunnels have no native XDP: tc, auto's choice; XDP cannot
		# send into a GRE tunnel (the kernel's, unpinned): tc, auto's
		# choice on veth
		{ [ "$variant" = trunk ] || [ "$variant" = tunnel ] || [ "$variant" = gre ]; } &&
			[ "$col" != auto ] && continue
		run_col "$scen" "$col" "$variant"
	done
done

print_table
[ "$DEMO" = 1 ] && [ -s "$TMP/demo-flowpinctl" ] && { cat "$TMP/demo-flowpinctl"; echo; }
[ -z "$FP_COLS" ] && echo "flowpin: not run (--kernel-only)"
for col in "${!GAP_SEEN[@]}"; do
	echo "frr-restart, $col: while FRR was down, ${GAP_SEEN[$col]} answers lost or late (over $GAP_MS ms, $GAP_ROUNDS rounds $GAP_MS ms apart)"
done
summary $start
