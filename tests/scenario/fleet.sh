#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The fleet suite: three flowpin routers behind one ECMP upstream router, in
# front of one backend LAN, with real kernel TCP connections; the kernel
# alone, flowpind on each router alone, and flowpind with pin sync between
# the routers, side by side.
#
#                                   +-- r1 --+
#   client --- upstream (ECMP) -----+-- r2 --+--- LAN (a bridge) --- b0 .. b4
#                                   +-- r3 --+    (service address on lo,
#                                                  scenario_echo)
#
# The upstream routes the service address over r1 and r2 (r3 stands by);
# each router routes it over b0..b3 (b4 stands by). L4 multipath hash
# everywhere, and each router its own hash seed, as separate machines have,
# unless a case says one seed. The backends answer through r1, which never
# fails here. flowpind runs on both ports of each router (wan, lan: the
# egress must be one of its ports); with sync, each router is a peer of the
# two others over the LAN (IPv4), and a pin made anywhere is sent to every
# peer.
#
# The routers hash with policy 3 and the five fields of policy 1, not with
# policy 1 itself: policy 1 hashes a forwarded packet that already carries
# an L4 hash (skb->l4_hash) with that hash and no seed, and here every
# packet carries its client socket's hash (sk_txhash) through the veths, so
# the kernel alone on r3 would choose exactly as r2 did, whatever the seeds
# (on separate machines, each NIC's own RSS hash would differ).
# bpf_fib_lookup() hashes the flow's fields with the seed under either
# policy. --hash-policy 1 shows the difference.
#
# Each run builds the topology afresh, opens CONNS connections per family
# (IPv4 and IPv6), notes each one's backend, makes its case's change, then
# sends on every connection and counts those no longer answered by their
# backend; new connections must still spread over every backend of the
# routers' route. flowpin with sync must break none in any case; the kernel
# and flowpin alone are measured, not judged (but flowpin alone with one
# seed on every router and the routers' routes unchanged must break none).
# Ends with "fleet: N passed, M failed".
#
# Usage: fleet.sh [--build DIR] [--only "CASE..."] [--cols "kernel alone sync"]
#                 [--conns N] [--mode auto|tc|native|skb] [--hash-policy 3|1] [-v]
#                 [--hold SECONDS]  (keep each flowpin run's topology up, to look)
#                 [--keep]          (keep every run's logs, flowpinctl output)
# FLEET_ONLY, FLEET_COLS and FLEET_CONNS are the defaults of --only, --cols
# and --conns (for a caller that cannot pass options, as run-all).
# FLEET_REPAIR_S is the evicted-idle case's --sync-repair (2; 0 turns the
# repair off, to check the case can fail).
# FLOWPIND=PATH runs another daemon binary (to check the suite can fail).
set -u -o pipefail

SUITE=fleet
ONLY=${FLEET_ONLY:-}
COLS=${FLEET_COLS:-kernel alone sync}
CONNS=${FLEET_CONNS:-256}
MODE=auto                # flowpind's -m; auto (no -m) picks tc on veth
HASH_POLICY=3            # the routers'; 3: the fields of policy 1, below
HASH_FIELDS=55           # 0x37: source and destination address, protocol, ports
SPREAD=100               # new connections per family after the change
KEEP=0

# shellcheck source=tests/scenario/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OPT_VALUE[--cols]=COLS
OPT_VALUE[--mode]=MODE
OPT_VALUE[--hash-policy]=HASH_POLICY
OPT_FLAG[--keep]=KEEP
options_parse "$@"
suite_check "network namespaces, BPF"

# Everything this run creates carries this prefix: namespaces, the pin
# directories (one per router), the temporary folder. Devices live only
# inside the namespaces.
ID=fleet-$$
PIN=/sys/fs/bpf/$ID      # router n pins in $PIN-rn
TMP=$(mktemp -d "/tmp/$ID.XXXXXX") || exit 1
KEY=$TMP/sync.key
KEY_NEXT=$TMP/sync-next.key   # the key the rekey case moves the fleet to
PORT=7777
SYNC_PORT=7430
SVC4=10.98.0.100
SVC6=fd98::100
ROUTERS="1 2 3"
BACKENDS="0 1 2 3 4"     # b0..b3 in the routers' route at start, b4 to add
UPSTREAM_SEED=7654321
ONE_SEED=1234567         # every router, in the one-seed cases
SETTLE=0.5               # after a change
FOLLOW=0.3               # flowpind follows a route change within ~100 ms
CHECK_MS=2000            # how long a connection may take to answer
SYNC_WAIT_S=5            # how long every router may take to hold every pin
REFRESH_S=2              # the evicted case's --sync-refresh
REPAIR_S=${FLEET_REPAIR_S:-2}  # the evicted-idle case's --sync-repair
LOSS=10                  # percent of sync datagrams dropped, in the loss case

C=$ID-c                  # client
U=$ID-u                  # upstream router
L=$ID-lan                # the LAN's bridge
declare -A DPID          # router -> its flowpind's pid
declare -A KEYS          # router -> its key options, with sync ("--sync-key $KEY" unset)
declare -A WAIT          # router -> its --sync-wait, with sync (flowpind's default unset)
declare -A ROUTER_ID     # router -> its --router-id, with sync (the default unset)
declare -A REFRESH       # router -> its --sync-refresh, with sync (the default unset)
declare -A REPAIR        # router -> its --sync-repair, with sync (the default unset)
declare -A READY_BEFORE  # router -> "ready" lines in its log before a start
RUNDIR=$TMP

# -v: to the suite's own stderr, also from a run's steps (their stderr goes
# to the run's folder)
exec {LOG_FD}>&2

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# --- cleanup: every path out of the script goes through here -------------

# Undo one run (lib.sh's cleanup() calls it last): client, daemons,
# servers, namespaces, pin directories.
teardown() {
	local n pids=()
	client_down
	# SIGTERM: flowpind detaches and exits 0 (maps stay pinned)
	for n in "${!DPID[@]}"; do
		[ -n "${DPID[$n]}" ] && pids+=("${DPID[$n]}")
	done
	stop_pids "${pids[@]}"
	DPID=()
	stop_pids "${PIDS[@]}"
	PIDS=()
	nses_del
	for n in $ROUTERS; do
		rm -rf "$PIN-r$n"
	done
}
traps_set

# --- topology ---------------------------------------------------------------

# Router n's link to the upstream: 10.97.n.0/24, fd97:0:0:n::/64, the
# upstream .1 (port un), the router .2 (port wan). The client's link is
# number 0 (client c0 .2, upstream uc .1).
wan4() { echo "10.97.$1.2"; }
wan6() { echo "fd97:0:0:$1::2"; }
# The LAN: 10.98.1.0/24, fd98:1::/64; router n at .n, backend i at .1i.
lan4() { echo "10.98.1.$1"; }
lan6() { echo "fd98:1::$1"; }
be4() { echo "10.98.1.1$1"; }
be6() { echo "fd98:1::1$1"; }

# Offloads for flowpind's columns, as scenarios.sh's veth_offloads(): native
# XDP needs GRO on the receiving peer and finished checksums from senders;
# generic XDP cannot redirect a GSO packet. tc (auto on veth) needs neither.

topo_up() { # SEEDS COLUMN
	local seeds=$1 offloads='' n i ns seed
	[ "$2" = kernel ] || offloads=$(veth_offloads "$MODE")
	for ns in "$C" "$U" "$L" $(for n in $ROUTERS; do echo "$ID-r$n"; done) \
		$(for i in $BACKENDS; do echo "$ID-b$i"; done); do
		ip netns add "$ns" || return 1
		NSES+=("$ns")
	done
	# no DAD: IPv6 neighbour discovery needs a usable link-local at once
	for ns in "$C" "$L"; do
		nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || return 1
	done
	nsx "$U" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1 \
		net.ipv4.fib_multipath_hash_seed=$UPSTREAM_SEED || return 1
	for n in $ROUTERS; do
		# separate machines hash with separate seeds (per netns since 6.11)
		case $seeds in one) seed=$ONE_SEED ;; *) seed=$((n * 1111111)) ;; esac
		nsx "$ID-r$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 \
			net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
			net.ipv4.fib_multipath_hash_policy="$HASH_POLICY" \
			net.ipv6.fib_multipath_hash_policy="$HASH_POLICY" \
			net.ipv4.fib_multipath_hash_fields=$HASH_FIELDS \
			net.ipv6.fib_multipath_hash_fields=$HASH_FIELDS \
			net.ipv4.fib_multipath_hash_seed=$seed || return 1
	done
	for i in $BACKENDS; do
		# the service address on lo: answer ARP only for the LAN
		# address, and ask with it (as any direct-return backend)
		nsx "$ID-b$i" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 \
			net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 || return 1
	done

	ip link add c0 netns "$C" type veth peer name uc netns "$U" || return 1
	for n in $ROUTERS; do
		ip link add "u$n" netns "$U" type veth peer name wan netns "$ID-r$n" &&
			ip link add lan netns "$ID-r$n" type veth peer name "pr$n" netns "$L" ||
			return 1
	done
	for i in $BACKENDS; do
		ip link add eth0 netns "$ID-b$i" type veth peer name "pb$i" netns "$L" || return 1
	done

	ip -n "$C" -batch - <<-EOF || return 1
		link set lo up
		link set c0 up
		addr add 10.97.0.2/24 dev c0
		addr add fd97::2/64 dev c0 nodad
		route add default via 10.97.0.1
		route add default via fd97::1
	EOF
	{
		echo "link set lo up"
		echo "link set uc up"
		echo "addr add 10.97.0.1/24 dev uc"
		echo "addr add fd97::1/64 dev uc nodad"
		for n in $ROUTERS; do
			echo "link set u$n up"
			echo "addr add 10.97.$n.1/24 dev u$n"
			echo "addr add fd97:0:0:$n::1/64 dev u$n nodad"
		done
	} | ip -n "$U" -batch - || return 1
	# no multicast snooping: neighbour solicitations reach every port
	{
		echo "link add br0 type bridge mcast_snooping 0"
		echo "link set br0 up"
		for n in $ROUTERS; do
			echo "link set pr$n master br0"
			echo "link set pr$n up"
		done
		for i in $BACKENDS; do
			echo "link set pb$i master br0"
			echo "link set pb$i up"
		done
	} | ip -n "$L" -batch - || return 1
	for n in $ROUTERS; do
		ip -n "$ID-r$n" -batch - <<-EOF || return 1
			link set lo up
			link set wan up
			link set lan up
			addr add $(wan4 "$n")/24 dev wan
			addr add $(wan6 "$n")/64 dev wan nodad
			addr add $(lan4 "$n")/24 dev lan
			addr add $(lan6 "$n")/64 dev lan nodad
			route add default via 10.97.$n.1
			route add default via fd97:0:0:$n::1
		EOF
	done
	for i in $BACKENDS; do
		# the backends answer through r1
		ip -n "$ID-b$i" -batch - <<-EOF || return 1
			link set lo up
			link set eth0 up
			addr add $SVC4/32 dev lo
			addr add $SVC6/128 dev lo
			addr add $(be4 "$i")/24 dev eth0
			addr add $(be6 "$i")/64 dev eth0 nodad
			route add default via $(lan4 1)
			route add default via $(lan6 1)
		EOF
	done
	if [ -n "$offloads" ]; then
		nsx "$C" ethtool -K c0 $offloads >/dev/null &&
			nsx "$U" ethtool -K uc $offloads >/dev/null || return 1
		for n in $ROUTERS; do
			nsx "$U" ethtool -K "u$n" $offloads >/dev/null &&
				nsx "$ID-r$n" ethtool -K wan $offloads >/dev/null &&
				nsx "$ID-r$n" ethtool -K lan $offloads >/dev/null &&
				nsx "$L" ethtool -K "pr$n" $offloads >/dev/null || return 1
		done
		for i in $BACKENDS; do
			nsx "$ID-b$i" ethtool -K eth0 $offloads >/dev/null &&
				nsx "$L" ethtool -K "pb$i" $offloads >/dev/null || return 1
		done
	fi
	for n in $ROUTERS; do
		router_route "$n" 0 1 2 3 || return 1
	done
	upstream_route 1 2
}

# The upstream's route to the service (IPv4 and IPv6) over these routers.
upstream_route() { # ROUTER...
	local n hops4='' hops6='' all="$*"
	for n in "$@"; do
		hops4+=" nexthop via $(wan4 "$n") dev u$n"
		hops6+=" nexthop via $(wan6 "$n") dev u$n"
	done
	log "upstream: service over r${all// /, r}"
	ip -n "$U" route replace "$SVC4/32" $hops4 &&
		ip -n "$U" -6 route replace "$SVC6/128" $hops6
}

# Router n's route to the service over these backends.
router_route() { # ROUTER BACKEND...
	local n=$1 i hops4='' hops6=''
	shift
	for i in "$@"; do
		hops4+=" nexthop via $(be4 "$i") dev lan"
		hops6+=" nexthop via $(be6 "$i") dev lan"
	done
	ip -n "$ID-r$n" route replace "$SVC4/32" $hops4 &&
		ip -n "$ID-r$n" -6 route replace "$SVC6/128" $hops6
}

# Lose LOSS% of the datagrams that arrive for the sync port, on every router.
sync_loss_up() {
	local n
	for n in $ROUTERS; do
		nsx "$ID-r$n" nft -f - <<-EOF || return 1
			table inet fleet_loss {
				chain input {
					type filter hook input priority 0; policy accept;
					udp dport $SYNC_PORT numgen random mod 100 < $LOSS counter drop
				}
			}
		EOF
	done
}


# Every neighbour resolved before anything is measured (IPv6 ECMP steers
# around a next hop whose neighbour failed, and one still resolving would
# make the first flows depend on timing): each router connects to every
# backend's own address (the backends learn the routers too), and the
# upstream pings every router, r3 included.
neighbours_up() {
	local n i cmds='' ok
	for i in $BACKENDS; do
		cmds+="spread n$i $(be4 "$i") $PORT 1"$'\n'"spread n$i $(be6 "$i") $PORT 1"$'\n'
	done
	for _ in 1 2 3; do
		ok=1
		for n in $ROUTERS; do
			nsx "$ID-r$n" "$BUILD/scenario_client" <<<"$cmds" >"$RUNDIR/neighbours-r$n" 2>&1
			[ "$(grep -c ' ok=1 ' "$RUNDIR/neighbours-r$n")" = 10 ] || ok=0
		done
		for n in $ROUTERS; do
			nsx "$U" ping -q -c 1 -W 1 "$(wan4 "$n")" >/dev/null 2>&1 &&
				nsx "$U" ping -q -c 1 -W 1 "$(wan6 "$n")" >/dev/null 2>&1 || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.5
	done
	echo "the routers cannot reach every backend, or the upstream every router:" >>"$RUNDIR/errors"
	for n in $ROUTERS; do
		ip -n "$ID-r$n" neigh show >>"$RUNDIR/errors"
	done
	ip -n "$U" neigh show >>"$RUNDIR/errors"
	return 1
}

# --- flowpind on the routers -------------------------------------------------

have_sync() { "$FLOWPIND" --help 2>&1 | grep -q -- '--sync\>'; }

# Start router n's flowpind (COLUMN alone: no peers; sync: the two other
# routers are its peers); daemon_ready waits for its "ready".
daemon_launch() { # N COLUMN
	local n=$1 p args=()
	bpffs_mount || return 1
	[ "$MODE" = auto ] || args+=(-m "$MODE")  # auto: the default, no -m
	[ "$VERBOSE" = 1 ] && args+=(-v)
	args+=(-p "$PIN-r$n")
	if [ "$2" = sync ]; then
		# shellcheck disable=SC2206 # the key options are words
		args+=(--sync "$(lan4 "$n"):$SYNC_PORT" ${KEYS[$n]:---sync-key $KEY})
		[ -n "${WAIT[$n]:-}" ] && args+=(--sync-wait "${WAIT[$n]}")
		[ -n "${ROUTER_ID[$n]:-}" ] && args+=(--router-id "${ROUTER_ID[$n]}")
		[ -n "${REFRESH[$n]:-}" ] && args+=(--sync-refresh "${REFRESH[$n]}")
		[ -n "${REPAIR[$n]:-}" ] && args+=(--sync-repair "${REPAIR[$n]}")
		for p in $ROUTERS; do
			[ "$p" = "$n" ] || args+=(--peer "$(lan4 "$p"):$SYNC_PORT")
		done
	fi
	READY_BEFORE[$n]=$(ready_lines "$RUNDIR/flowpind-r$n.log")
	echo "# $(date +%T.%N | cut -c1-12) flowpind ${args[*]} wan lan" >>"$RUNDIR/flowpind-r$n.log"
	# nsenter itself, not a function: $! must be flowpind's own pid
	nsenter --net="/run/netns/$ID-r$n" "$FLOWPIND" "${args[@]}" wan lan \
		>>"$RUNDIR/flowpind-r$n.log" 2>&1 &
	DPID[$n]=$!
}

daemon_ready() { # N
	ready_wait "$RUNDIR/flowpind-r$1.log" "${READY_BEFORE[$1]:-}" "${DPID[$1]}" "flowpind on r$1"
}

daemons_start() { # COLUMN
	local n
	for n in $ROUTERS; do
		daemon_launch "$n" "$1" || return 1
	done
	for n in $ROUTERS; do
		daemon_ready "$n" || return 1
	done
}

pctl() { # N ARGS...: flowpinctl on router n's maps
	local n=$1
	shift
	nsx "$ID-r$n" "$FLOWPINCTL" -p "$PIN-r$n" "$@"
}

# Pins router n holds for the service address, one family.
service_pins() { # N 4|6
	local c
	if [ "$2" = 4 ]; then
		c=$(pctl "$1" flows --dst "$SVC4/32" --count 2>/dev/null)
	else
		c=$(pctl "$1" flows --dst "$SVC6/128" --count 2>/dev/null)
	fi
	echo "${c:-0}"
}

# Wait until every router given holds a pin for every connection opened
# (CONNS per family), for at most SYNC_WAIT_S. SYNCED: how long it took,
# or what was missing; 0 or 1 in SYNC_OK.
pins_synced() { # ROUTER...
	local t0 missing n f c all="$*"
	t0=$(now_ms)
	while :; do
		missing=
		for n in "$@"; do
			for f in 4 6; do
				c=$(service_pins "$n" $f)
				[ "$c" -ge "$CONNS" ] 2>/dev/null || missing+=" r$n IPv$f $c/$CONNS"
			done
		done
		[ -z "$missing" ] && break
		[ $(($(now_ms) - t0)) -gt $((SYNC_WAIT_S * 1000)) ] && break
		sleep 0.05
	done
	if [ -z "$missing" ]; then
		SYNC_OK=1
		SYNCED="every pin on r${all// /, r} in $(($(now_ms) - t0)) ms"
	else
		SYNC_OK=0
		SYNCED="after ${SYNC_WAIT_S} s, pins missing:$missing"
	fi
	log "$SYNCED"
}

# Every pin the routers hold of the service's flows (both families), one
# line each: SOURCE DESTINATION NEXTHOP ROUTER.
pins_held() { # ROUTER...
	local n
	for n in "$@"; do
		{
			pctl "$n" flows --dst "$SVC4/32"
			pctl "$n" flows --dst "$SVC6/128"
		} | awk -v r="$n" '$1 != "PROTO" && $NF != "stale" { print $2, $3, $4, r }'
	done
}

# One answer per flow: of the routers given, those that hold a pin of a
# flow all hold the same next hop. ANSWER: "FLOWS DIFFERING", the flows
# seen and those the routers pin differently.
one_answer() { # ROUTER...
	local all="$*"
	ANSWER_ON="r${all// /, r}"
	ANSWER=$(pins_held "$@" | awk '{
		k = $1 " " $2
		if ((k in hop) && hop[k] != $3)
			differ[k] = 1
		hop[k] = $3
	} END { n = 0; for (k in differ) n++; print length(hop), n }')
}

# The routers still running flowpind.
live_routers() {
	local n live=''
	for n in $ROUTERS; do
		[ -n "${DPID[$n]:-}" ] && live+=" $n"
	done
	echo $live
}

# r3 hears no sync datagram (its own still go out): a router whose bulk
# sync cannot end.
r3_deaf() {
	nsx "$ID-r3" nft -f - <<-EOF
		table inet fleet_deaf {
			chain input {
				type filter hook input priority 0; policy accept;
				udp dport $SYNC_PORT counter drop
			}
		}
	EOF
}

# r2 hears nothing from r1 (r1 hears r2, and r3 both): a one-way partition.
r2_deaf_to_r1() {
	nsx "$ID-r2" nft -f - <<-EOF
		table inet fleet_deaf {
			chain input {
				type filter hook input priority 0; policy accept;
				ip saddr $(lan4 1) udp dport $SYNC_PORT counter drop
			}
		}
	EOF
}

# The partition case's change: r2, which held none of r1's pins, hears r1
# again and must hold them all before r1's flows move to it and r3.
partition_heal() {
	local c4 c6 synced=$SYNCED sync_ok=$SYNC_OK
	c4=$(service_pins 2 4) c6=$(service_pins 2 6)
	nsx "$ID-r2" nft delete table inet fleet_deaf || return 1
	pins_synced 1 2 3
	PARTED="r2 held IPv4 $c4 and IPv6 $c6 pins of $CONNS each while it did not hear r1; healed: $SYNCED"
	PARTED_OK=$SYNC_OK
	# before the change: what the run judged there
	SYNCED=$synced SYNC_OK=$sync_ok
	log "$PARTED"
	upstream_route 2 3
}

# The evicted case's change: r3 loses every pin (flowpinctl flush; a full
# table evicts the peers' pins that nobody looks up, as r3 never does
# while the upstream sends it nothing), and the flows go on through r1
# and r2. Their refresh (--sync-refresh REFRESH_S) must give r3 every pin
# back before the move. A flow counts as live while a CPU's copy of its
# pin was checked within the period, and a copy is checked on a packet
# once it is a second old: the client sends on every connection once that
# second has passed since the last check. EVICTED says what happened.
evicted_refill() {
	local flushed synced=$SYNCED sync_ok=$SYNC_OK
	flushed=$(pctl 3 -j flush --all | sed -n 's/.*"flushed":\([0-9]*\).*/\1/p')
	EVICTED="r3 lost ${flushed:-no} pins (flushed); the connections did not answer after"
	sleep 1.1
	client_cmd check v4 $CHECK_MS && client_cmd check v6 $CHECK_MS || return 1
	SYNC_WAIT_S=$((2 * REFRESH_S + 1)) pins_synced 3
	EVICTED="r3 lost ${flushed:-no} pins (flushed); refreshed by r1 and r2: $SYNCED"
	EVICTED_OK=0
	[ "${flushed:-0}" -ge $((2 * CONNS)) ] && [ "$SYNC_OK" = 1 ] && EVICTED_OK=1
	# before the change: what the run judged there
	SYNCED=$synced SYNC_OK=$sync_ok
	log "$EVICTED"
	upstream_route 1 3
}

# The evicted-idle case's change: r3 loses every pin (flushed, as in the
# evicted case) while the flows are idle: the client sends nothing on them
# from the flush to the move, and the refresh is off (--sync-refresh 0), so
# only the repair (--sync-repair REPAIR_S) can give the pins back. Each
# period r3 sends r1 and r2 a digest of the pins each of them made that
# it holds, of those made more than 2 s before; each sends back the pins
# of every range that differs. Every pin should be back within about a
# period and those 2 s; the wait allows two periods and 4 s, and as long
# with the repair off (FLEET_REPAIR_S=0) as with the default, so that run
# fails for want of the repair, not of time. Then the fleet is in sync:
# in two more periods no router may find a range of its pins different
# (a pin a peer can never take, say of a gateway it lacks, would make its
# range differ every period). EVICTED_IDLE says what happened, with the
# pins r1 and r2 sent r3 by repairs (their pins_repaired).
evicted_idle_repair() {
	local flushed period=$REPAIR_S synced=$SYNCED sync_ok=$SYNC_OK before after
	[ "$period" -gt 0 ] || period=2
	flushed=$(pctl 3 -j flush --all | sed -n 's/.*"flushed":\([0-9]*\).*/\1/p')
	SYNC_WAIT_S=$((2 * period + 4)) pins_synced 3
	sleep $((period + 1)).1 # the round under way ends; rows are written once a second
	before=$(ranges_repaired)
	sleep $((2 * period)).1
	after=$(ranges_repaired)
	EVICTED_IDLE="r3 lost ${flushed:-no} pins (flushed) while the flows were idle; with --sync-repair $REPAIR_S: $SYNCED; r1 sent it $(peer_count 1 3 pins_repaired) pins by repairs, r2 $(peer_count 2 3 pins_repaired); ranges found different in the two periods after: $((after - before))"
	EVICTED_IDLE_OK=0
	[ "${flushed:-0}" -ge $((2 * CONNS)) ] && [ "$SYNC_OK" = 1 ] &&
		[ "$after" = "$before" ] && EVICTED_IDLE_OK=1
	# before the change: what the run judged there
	SYNCED=$synced SYNC_OK=$sync_ok
	log "$EVICTED_IDLE"
	upstream_route 1 3
}

# The mid-stream case's change: r3, deaf, meets a segment without SYN of
# every flow (scenario_stray), as a router does whose bulk sync timed out
# when flows move to it, and pins each one its own way; then it hears its
# peers again, and the fleet's rule must give every router one answer
# before the move. STRAY and HEARD say what happened. The at-once case
# (syn) sends a SYN of every flow instead: two routers each pinned a
# flow from its first packet, r1 or r2 first; r3 has the fleet's lowest
# router id, so the earlier pin must win for the move to break nothing.
mid_stream() { # [syn]
	local mac t0 sent how="mid-stream"
	[ "${1:-}" = syn ] && how="from a SYN of its own"
	mac=$(ip -n "$ID-r3" -br link show wan | awk '{ print $3 }')
	sent=$(pins_held 1 2 | awk '{
		f = 4; s = $1; d = $2
		if (s ~ /^\[/) { f = 6; sub(/^\[/, "", s); sub(/^\[/, "", d); sub(/\]:/, " ", s); sub(/\]:/, " ", d) }
		else { sub(/:/, " ", s); sub(/:/, " ", d) }
		print f, s, d
	}' | sort -u | nsx "$U" "$BUILD/scenario_stray" u3 "$mac" ${1:+"$1"}) || return 1
	t0=$(now_ms)
	while [ "$(service_pins 3 4)" -lt "$CONNS" ] || [ "$(service_pins 3 6)" -lt "$CONNS" ]; do
		[ $(($(now_ms) - t0)) -gt 3000 ] && break
		sleep 0.05
	done
	one_answer 1 2 3
	STRAY_DIFFER=${ANSWER#* }
	STRAY="$sent: r3 pinned $(service_pins 3 4) + $(service_pins 3 6) flows $how, $STRAY_DIFFER of them not as r1 and r2"
	log "$STRAY"
	nsx "$ID-r3" nft delete table inet fleet_deaf || return 1
	t0=$(now_ms)
	while one_answer 1 2 3; [ "${ANSWER#* }" != 0 ]; do
		[ $(($(now_ms) - t0)) -gt $((SYNC_WAIT_S * 1000)) ] && break
		sleep 0.1
	done
	HEARD_DIFFER=${ANSWER#* }
	HEARD="r3 hearing its peers again: of ${ANSWER% *} flows, $HEARD_DIFFER pinned differently after $(($(now_ms) - t0)) ms"
	log "$HEARD"
	upstream_route 1 3
}

# Router n's row of router m in n's sync_peers: "STATE REPLAY_DROPS".
peer_row() { # N M
	pctl "$1" -j peers | sed 's/},{"peer"/}\n{"peer"/g' |
		grep "\"peer\":\"$(lan4 "$2"):" |
		sed -n 's/.*"state":"\([a-z]*\)".*"replay":\([0-9]*\).*/\1 \2/p'
}

# Router n's counter COUNTER in its row of router m in n's sync_peers.
peer_count() { # N M COUNTER
	pctl "$1" -j peers | sed 's/},{"peer"/}\n{"peer"/g' |
		grep "\"peer\":\"$(lan4 "$2"):" |
		sed -n "s/.*\"$3\":\([0-9]*\).*/\1/p"
}

# The ranges every router's peers found different, in all.
ranges_repaired() {
	local n m sum=0
	for n in $ROUTERS; do
		for m in $ROUTERS; do
			[ "$n" = "$m" ] || sum=$((sum + $(peer_count "$n" "$m" ranges_repaired)))
		done
	done
	echo $sum
}

# The clock-back case's change: r3's last run as if its clock had been an
# hour ahead (scenario_epoch_ahead); r3 started keeping its maps, so its
# peers learn an epoch an hour ahead; then started again with its clock
# right, behind what they know. Its epoch must still go forward (the last
# run's plus one), or r1 and r2 drop all it sends as replays. CLOCKED and
# CLOCKED_OK say what happened.
clock_back() {
	local run r1 r2
	stop_pids "${DPID[3]}"
	DPID[3]=
	"$BUILD/scenario_epoch_ahead" "$PIN-r3" 3600 >/dev/null || return 1
	for run in 1 2; do
		daemon_launch 3 sync && daemon_ready 3 || return 1
		[ "$run" = 2 ] && break
		sleep 1.5 # its peers hear the run an hour ahead
		stop_pids "${DPID[3]}"
		DPID[3]=
	done
	sleep 1.5 # its hellos, and its peers' rows (written once a second)
	r1=$(peer_row 1 3) r2=$(peer_row 2 3)
	CLOCKED="r3 restarted with its clock an hour behind its last run: r1 sees it ${r1% *} with ${r1#* } replay drops, r2 ${r2% *} with ${r2#* }"
	CLOCKED_OK=0
	[ "$r1" = "up 0" ] && [ "$r2" = "up 0" ] &&
		[ "$(grep -c "the clock is behind the last run's start" "$RUNDIR/flowpind-r3.log")" = 2 ] &&
		CLOCKED_OK=1
	log "$CLOCKED"
}

# --- cases ---------------------------------------------------------------------

# The kernel alone has no flowpind to restart and no sync to lose: its
# figures for restart and loss are move's and add-move's, not run again.
# name            seeds loss change   columns            alone  what changes
SPEC_TABLE="
move              own   0    move     kernel,alone,sync  -      upstream replaces r2 by r3 in its route
add-move          own   0    add-move kernel,alone,sync  -      b4 added to every router's route, then the move
kill              own   0    kill     kernel,alone,sync  -      r2 dies (flowpind SIGKILLed, links down): upstream r1, then r1 r3
restart           own   0    restart  alone,sync         -      r3's flowpind restarted with no maps, ready, then the move
loss              own   1    add-move alone,sync         -      ${LOSS}% of sync datagrams lost throughout; add-move
rekey             own   0    rekey    sync               -      a key change under way (r1 on the new key, r2 r3 on the old, each taking both), finished router by router; then the move
mid-stream        own   0    mid-stream sync             -      r3, hearing no peer, pins every flow from a segment without SYN (its bulk sync timed out); then it hears them; then the move
at-once           own   0    at-once  sync               -      r3, with the fleet's lowest router id and hearing no peer, gets a SYN of every flow after r1 and r2 pinned it and pins it its own way; then it hears them (the earlier pin must win, not the lower id); then the move
clock-back        own   0    clock-back sync             -      r3's last run as if its clock had been an hour ahead (its peers know that run), then r3 restarted with the clock right, keeping its maps: its peers must hear it; then the move
partition         own   0    partition sync              -      r2 hears nothing from r1 (one way) while the flows open, so neither learns the other's pins; then it does; then the upstream replaces r1 by r3
evicted           own   0    evicted  sync               -      r3 loses every pin (flushed, as a full table evicts pins nobody looks up) while the flows go on through r1 and r2, whose refresh must give them back; then the move
evicted-idle      own   0    evicted-idle sync           -      r3 loses every pin (flushed) while the flows are idle and the refresh is off: the repair must give them back; then the move
move-1seed        one   0    move     kernel,alone       zero   one hash seed on every router; the move
add-move-1seed    one   0    add-move kernel,alone       -      one hash seed on every router; add-move
"
# seeds: own (each router its own) or one; loss: drop LOSS% of the sync
# port's datagrams on every router; columns: where the case runs (sync's
# flowpind runs the others' changes too); alone: what flowpin alone must
# show (zero broken, or - : measured only). Sync must show zero broken.
ALL_CASES=$(spec_names)

# The client's answers, in the middle of the kill case (r2's flows on r1).
MID4='' MID6=''
# The restarted r3's bulk sync: its pins at ready, and how long it took.
BULK='' BULK_OK=''

# Make a case's change. COLUMN: kernel, alone or sync.
change() { # CHANGE COLUMN
	local col=$2 t0 c4 c6
	case $1 in
	move) upstream_route 1 3 ;;
	add-move)
		for n in $ROUTERS; do
			router_route "$n" 0 1 2 3 4 || return 1
		done
		sleep $FOLLOW
		upstream_route 1 3
		;;
	kill)
		if [ "$col" != kernel ]; then
			kill -KILL "${DPID[2]}"
			wait "${DPID[2]}" 2>/dev/null
			DPID[2]=
		fi
		ip -n "$ID-r2" link set wan down &&
			ip -n "$ID-r2" link set lan down || return 1
		# r2's flows land on r1 first, then (its place taken) on r3
		upstream_route 1 && sleep $SETTLE &&
			client_cmd check v4 $CHECK_MS && MID4=$REPLY &&
			client_cmd check v6 $CHECK_MS && MID6=$REPLY &&
			upstream_route 1 3
		;;
	rekey)
		# the rest of the roll, one router at a time, each keeping its
		# maps: r2 and r3 sign with the new key, then all drop the old
		for n in 2 3 1 2 3; do
			if [ "${KEYS[$n]}" = "--sync-key $KEY --sync-key-next $KEY_NEXT" ]; then
				KEYS[$n]="--sync-key $KEY_NEXT --sync-key-next $KEY"
			else
				KEYS[$n]="--sync-key $KEY_NEXT"
			fi
			stop_pids "${DPID[$n]}"
			daemon_launch "$n" "$col" && daemon_ready "$n" || return 1
		done
		upstream_route 1 3
		;;
	mid-stream) mid_stream ;;
	at-once) mid_stream syn ;;
	clock-back)
		clock_back || return 1
		upstream_route 1 3
		;;
	partition) partition_heal ;;
	evicted) evicted_refill ;;
	evicted-idle) evicted_idle_repair ;;
	restart)
		if [ "$col" != kernel ]; then
			t0=$(now_ms)
			stop_pids "${DPID[3]}"
			DPID[3]=
			# fresh: no map of the earlier run is left
			rm -rf "$PIN-r3"
			daemon_launch 3 "$col" && daemon_ready 3 || return 1
			c4=$(service_pins 3 4)
			c6=$(service_pins 3 6)
			BULK="r3 ready $(($(now_ms) - t0)) ms after its stop, holding IPv4 $c4 and IPv6 $c6 pins"
			BULK_OK=0
			[ "$c4" -ge "$CONNS" ] && [ "$c6" -ge "$CONNS" ] && BULK_OK=1
			log "$BULK"
		fi
		upstream_route 1 3
		;;
	esac
}

# --- results ----------------------------------------------------------------

# Judge one family of one run from the client's answers.
judge() { # CASE FAM COL MUST OPENED PRE CHECKED SPREAD BACKENDS_AFTER EXCLUDED
	local key=$1/$2/$3 name="$1 $2 $3" must=$4 opened=$5 pre=$6 checked=$7 spread=$8
	local after=$9 ok=0

	# before the change: every connection opened, over b0..b3 only, and
	# answered by its backend
	[ "$(field "$opened" ok)" = "$CONNS" ] && [ "$(spread_over "$opened" "0 1 2 3" 4)" = 1 ] &&
		[ "$(conns_as_expected zero "$pre")" = 1 ] && ok=1
	verdict $ok "$name: before the change, all opened over b0..b3 and answered (${opened:-no answer}; ${pre:-no answer})"

	# after: measured everywhere, judged where MUST says zero
	judge_broken "$key" "$name" "$(conns_as_expected "$must" "$checked")" "$checked" \
		"${must/-/any} (${checked:-no answer})"

	# new connections spread over every backend of the routers' route
	judge_spread "$key" 1 "$spread" 0 "$after" "${10}" \
		"$name: new connections spread over b${after// /, b} (${spread:-no answer})"
}

# What the routers' daemons and tables say, into the run's folder.
save_state() { # COLUMN
	local n what
	{
		ip -n "$U" route show "$SVC4"
		ip -n "$U" -6 route show "$SVC6"
		ip -n "$U" neigh show
	} >"$RUNDIR/upstream" 2>&1
	for n in $ROUTERS; do
		{
			ip -n "$ID-r$n" route show
			ip -n "$ID-r$n" -6 route show
			ip -n "$ID-r$n" neigh show
			nsx "$ID-r$n" nft list ruleset
		} >"$RUNDIR/r$n-kernel" 2>&1
		[ "$1" = kernel ] || [ ! -x "$FLOWPINCTL" ] && continue
		for what in status stats nexthops peers; do
			pctl "$n" $what >"$RUNDIR/r$n-$what" 2>&1
		done
		pctl "$n" -j peers >"$RUNDIR/r$n-peers.json" 2>&1
	done
}

run_one() { # CASE COLUMN
	local case=$1 col=$2 seeds loss chg alone must after excluded
	local opened4='' opened6='' pre4='' pre6='' checked4='' checked6=''
	local spread4='' spread6='' step=setup note='' t0=$SECONDS n f
	read -r seeds loss chg _ alone _ <<<"$(spec "$case")"
	case $col in
	sync) must=zero ;;
	alone) must=$alone ;;
	*) must=- ;;
	esac
	case $chg in
	add-move) after="0 1 2 3 4" excluded= ;;
	*) after="0 1 2 3" excluded=4 ;;
	esac
	run_begin "$case-$col"
	MID4='' MID6='' BULK='' BULK_OK='' SYNCED='' SYNC_OK='' ANSWER='' ANSWER_ON=''
	STRAY='' STRAY_DIFFER='' HEARD='' HEARD_DIFFER='' PARTED='' PARTED_OK=''
	CLOCKED='' CLOCKED_OK='' EVICTED='' EVICTED_OK='' EVICTED_IDLE='' EVICTED_IDLE_OK=''
	KEYS=() WAIT=() ROUTER_ID=() REFRESH=() REPAIR=()
	local synced=$ROUTERS
	if [ "$chg" = mid-stream ] || [ "$chg" = at-once ]; then
		# r3 is ready without its peers' pins, hearing none of them
		WAIT[3]=1 synced="1 2"
		# the lowest id: the rule's time must decide, not the id
		[ "$chg" = at-once ] && ROUTER_ID[3]=0.0.0.1
	elif [ "$chg" = partition ]; then
		# r2 is ready without r1's pins, and sends r1 none of its own
		# (it never heard r1 come up)
		WAIT[2]=1 synced=3
	fi
	if [ "$chg" = evicted ]; then
		REFRESH=([1]=$REFRESH_S [2]=$REFRESH_S [3]=$REFRESH_S)
	fi
	if [ "$chg" = evicted-idle ]; then
		# no refresh: only the repair can give r3 its pins back
		REFRESH=([1]=0 [2]=0 [3]=0)
		REPAIR=([1]=$REPAIR_S [2]=$REPAIR_S [3]=$REPAIR_S)
	fi
	if [ "$chg" = rekey ]; then
		# the fleet is half way through a key change when flows start
		KEYS[1]="--sync-key $KEY_NEXT --sync-key-next $KEY"
		KEYS[2]="--sync-key $KEY --sync-key-next $KEY_NEXT"
		KEYS[3]="--sync-key $KEY --sync-key-next $KEY_NEXT"
	fi

	{
		step=topology && topo_up "$seeds" "$col" &&
			{ [ "$loss" = 0 ] || { step=loss && sync_loss_up; }; } &&
			{ [ "$chg" != mid-stream ] && [ "$chg" != at-once ] || { step=deaf && r3_deaf; }; } &&
			{ [ "$chg" != partition ] || { step=deaf && r2_deaf_to_r1; }; } &&
			step=servers && servers_up $BACKENDS &&
			step=neighbours && neighbours_up &&
			{ [ "$col" = kernel ] || { step=flowpind && daemons_start "$col"; }; } &&
			step=client && client_up &&
			step=open && client_cmd open v4 $SVC4 $PORT "$CONNS" && opened4=$REPLY &&
			client_cmd open v6 $SVC6 $PORT "$CONNS" && opened6=$REPLY &&
			{ [ "$col" != sync ] || { step=sync && pins_synced $synced; }; } &&
			step=precheck && client_cmd check v4 $CHECK_MS && pre4=$REPLY &&
			client_cmd check v6 $CHECK_MS && pre6=$REPLY &&
			step=change && change "$chg" "$col" &&
			sleep $SETTLE &&
			step=check && client_cmd check v4 $CHECK_MS && checked4=$REPLY &&
			client_cmd check v6 $CHECK_MS && checked6=$REPLY &&
			{ [ "$col" != sync ] || { step=answer && one_answer $(live_routers); }; } &&
			step=spread && client_cmd spread a4 $SVC4 $PORT $SPREAD && spread4=$REPLY &&
			client_cmd spread a6 $SVC6 $PORT $SPREAD && spread6=$REPLY &&
			step=finished
	} 2>>"$RUNDIR/errors"
	[ "$step" = finished ] || echo "  $case/$col: failed at step '$step'" >&2
	# flowpind writes its peers' counters (sync_peers) once a second
	[ "$col" = sync ] && sleep 1.1
	save_state "$col"
	hold "$col"
	teardown

	judge "$case" IPv4 "$col" "$must" "$opened4" "$pre4" "$checked4" "$spread4" "$after" "$excluded"
	judge "$case" IPv6 "$col" "$must" "$opened6" "$pre6" "$checked6" "$spread6" "$after" "$excluded"
	if [ "$col" = sync ]; then
		# pins travel to every peer before anything moves
		verdict "${SYNC_OK:-0}" "$case/$col: before the change, ${SYNCED:-pins not looked at}"
		note=$SYNCED
		# the routers that hold a pin of a flow hold the same one
		verdict "$([ -n "$ANSWER" ] && [ "${ANSWER#* }" = 0 ] && echo 1 || echo 0)" \
			"$case/$col: after the change, one pin per flow on ${ANSWER_ON:-no router} (${ANSWER:-not looked at}: flows, differing)"
		if [ "$chg" = mid-stream ] || [ "$chg" = at-once ]; then
			# the case means something only if r3 pinned flows its own way
			verdict "$([ "${STRAY_DIFFER:-0}" -gt 0 ] && echo 1 || echo 0)" "$case/$col: ${STRAY:-no stray segments}"
			verdict "$([ "$HEARD_DIFFER" = 0 ] && echo 1 || echo 0)" "$case/$col: ${HEARD:-r3 never heard its peers}"
			note="$STRAY; $HEARD"
		fi
		if [ "$chg" = clock-back ]; then
			# a restart whose clock went back is heard by its peers
			verdict "${CLOCKED_OK:-0}" "$case/$col: ${CLOCKED:-r3 never restarted}"
			note=$CLOCKED
		fi
		if [ "$chg" = partition ]; then
			# what r2 missed reaches it once it hears r1, before the move
			verdict "${PARTED_OK:-0}" "$case/$col: ${PARTED:-the partition never healed}"
			note=$PARTED
		fi
		if [ "$chg" = evicted ]; then
			# the pins of live flows come back to a router that lost them
			verdict "${EVICTED_OK:-0}" "$case/$col: ${EVICTED:-r3 never lost its pins}"
			note=$EVICTED
		fi
		if [ "$chg" = evicted-idle ]; then
			# the pins of idle flows come back to a router that lost them
			verdict "${EVICTED_IDLE_OK:-0}" "$case/$col: ${EVICTED_IDLE:-r3 never lost its pins}"
			note=$EVICTED_IDLE
		fi
		if [ "$chg" = restart ]; then
			# the restarted router has its peers' pins when it says ready
			verdict "${BULK_OK:-0}" "$case/$col: bulk sync: ${BULK:-no restart}"
			note=$BULK
		fi
	fi
	if [ "$chg" = kill ] && [ "$col" = sync ]; then
		# r2's flows were answered on r1 too, not only after r3 took them
		local ok=0
		[ "$(field "$MID4" broken)" = 0 ] && [ "$(field "$MID6" broken)" = 0 ] &&
			[ "$(field "$MID4" total)" = "$CONNS" ] && [ "$(field "$MID6" total)" = "$CONNS" ] && ok=1
		verdict $ok "$case/$col: while upstream routed over r1 only: ${MID4:-no answer}; ${MID6:-no answer}"
	fi
	if [ "$chg" = kill ]; then
		note="via r1 only: IPv4 $(field "$MID4" broken)/$(field "$MID4" total), IPv6 $(field "$MID6" broken)/$(field "$MID6" total) broken${note:+; $note}"
	fi
	printf '  %-15s %-6s %3ss  IPv4 %-8s IPv6 %-8s %s\n' "$case" "$col" $((SECONDS - t0)) \
		"${CELL[$case/IPv4/$col]}" "${CELL[$case/IPv6/$col]}" "$note"
	failed_run_show '' "$RUNDIR"/errors "$RUNDIR"/client.err "$RUNDIR"/flowpind-r*.log \
		"$RUNDIR"/r*-peers
}

# A cell of the table: the kernel's restart and loss are its move and
# add-move.
table_cell() { # CASE FAM COL
	local cell=${CELL[$1/$2/$3]:-n/a}
	if [ "$3" = kernel ] && [ "$cell" = n/a ]; then
		case $1 in
		restart) cell="${CELL[move/$2/kernel]:+${CELL[move/$2/kernel]} (move)}" ;;
		loss) cell="${CELL[add-move/$2/kernel]:+${CELL[add-move/$2/kernel]} (add-move)}" ;;
		esac
		cell=${cell:-n/a}
	fi
	printf '%s' "$cell"
}

# The columns the table judges a case by.
table_must() { # CASE
	local cols alone must=
	read -r _ _ _ cols alone _ <<<"$(spec "$1")"
	[[ ",$cols," == *",sync,"* ]] && must="sync 0"
	[ "$alone" = zero ] && must+="${must:+, }alone 0"
	echo "${must:-measured only}"
}

print_table() {
	echo
	echo "Broken connections (broken/total) after each change, per family, over"
	echo "the 3 routers: kernel = the kernel alone, alone = flowpind on each router,"
	echo "sync = flowpind on each router, syncing pins with the two others;"
	echo "judged: the columns that must break none (the others are measured)."
	echo "! = not what the suite expects, ~ = new connections did not spread as expected"
	echo
	results_table "$CASES" case 14 66 judged 14 kernel:9:kernel alone:9:alone sync:9:sync
	echo
}

# --- main -------------------------------------------------------------------

CASES=${ONLY:-$ALL_CASES}
for s in $CASES; do
	spec "$s" >/dev/null || { echo "fleet: unknown case $s (of: $ALL_CASES)" >&2; exit 2; }
done
[[ $REPAIR_S =~ ^[0-9]+$ ]] || { echo "fleet: FLEET_REPAIR_S=$REPAIR_S is not a number of seconds" >&2; exit 2; }
for col in $COLS; do
	case $col in kernel | alone | sync) ;; *)
		echo "fleet: unknown column $col (of: kernel alone sync)" >&2; exit 2 ;;
	esac
done
[ "$COLS" = kernel ] || flowpind_required "--cols kernel"
if [[ " $COLS " == *" sync "* ]]; then
	if ! have_sync; then
		# nothing shown of the sync: that is a failure, not a skip
		echo "fleet: $FLOWPIND has no --sync: the sync column is not run" >&2
		COLS=${COLS//sync/}
		FAILED=$((FAILED + 1))
	fi
	head -c 32 /dev/urandom >"$KEY" && chmod 600 "$KEY" || exit 1
	head -c 32 /dev/urandom >"$KEY_NEXT" && chmod 600 "$KEY_NEXT" || exit 1
fi

start=$SECONDS
echo "fleet: $CONNS connections per family, flowpind mode $MODE, topology prefix $ID"
for case in $CASES; do
	read -r _ _ _ case_cols _ <<<"$(spec "$case")"
	for col in $COLS; do
		[[ ",$case_cols," == *",$col,"* ]] || continue
		run_one "$case" "$col"
	done
done

print_table
summary $start
