# SPDX-License-Identifier: GPL-2.0
#
# FRR for the scenario suite's bgp variant (sourced by scenarios.sh): the
# router runs zebra and bgpd, with one eBGP session per backend over IPv4
# and one over IPv6, maximum-paths and as-path multipath-relax; zebra
# installs the service's multipath routes as nexthop objects and groups of
# its own. Each backend runs bgpd alone (no zebra: it announces the service
# address /32 and /128, it installs nothing). Every instance has its own
# config, sockets, pid files and log under $TMP/frr/NAME, and runs as the
# frr user the package creates.

FRR_LIB=/usr/lib/frr
ROUTER_AS=65000
BGP_UP_S=20 # how long sessions may take to come up and routes to settle

frr_dir() { echo "$TMP/frr/$1"; }

frr_prepare() { # NAME: an instance's folder, its config on stdin
	local d
	d=$(frr_dir "$1")
	mkdir -p "$d" && cat >"$d/frr.conf" && chown -R frr:frr "$TMP/frr" &&
		chmod o+x "$TMP"
}

frr_daemon() { # NS NAME DAEMON [ARGS...]
	local d
	d=$(frr_dir "$2")
	nsx "$1" "$FRR_LIB/$3" -d -f "$d/frr.conf" -i "$d/$3.pid" \
		--vty_socket "$d" "${@:4}" >>"$d/start.log" 2>&1
}

frr_kill() { # NAME DAEMON...: SIGTERM, wait until each is gone
	local d p daemon
	d=$(frr_dir "$1")
	shift
	for daemon in "$@"; do
		p=$(cat "$d/$daemon.pid" 2>/dev/null) || continue
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		rm -f "$d/$daemon.pid"
	done
}

frr_running() { # NAME DAEMON
	local p
	p=$(cat "$(frr_dir "$1")/$2.pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null
}

frr_router_conf() {
	local i
	cat <<-EOF
		frr defaults datacenter
		hostname router
		log file $(frr_dir r)/frr.log
		router bgp $ROUTER_AS
		 bgp router-id 10.99.0.1
		 no bgp ebgp-requires-policy
		 bgp bestpath as-path multipath-relax
		 timers bgp 1 3
	EOF
	for i in $(seq $NBACKENDS); do
		echo " neighbor $(gw4 "$i") remote-as external"
		echo " neighbor $(gw4 "$i") timers connect 1"
		echo " neighbor $(gw6 "$i") remote-as external"
		echo " neighbor $(gw6 "$i") timers connect 1"
	done
	echo " address-family ipv4 unicast"
	echo "  maximum-paths 16"
	for i in $(seq $NBACKENDS); do echo "  no neighbor $(gw6 "$i") activate"; done
	echo " exit-address-family"
	echo " address-family ipv6 unicast"
	echo "  maximum-paths 16"
	for i in $(seq $NBACKENDS); do echo "  neighbor $(gw6 "$i") activate"; done
	echo " exit-address-family"
}

frr_backend_conf() { # I
	cat <<-EOF
		frr defaults datacenter
		hostname b$1
		log file $(frr_dir "b$1")/frr.log
		router bgp $((ROUTER_AS + $1))
		 bgp router-id $(gw4 "$1")
		 no bgp ebgp-requires-policy
		 no bgp network import-check
		 timers bgp 1 3
		 neighbor 10.99.$1.1 remote-as external
		 neighbor 10.99.$1.1 timers connect 1
		 neighbor fd99:0:0:$1::1 remote-as external
		 neighbor fd99:0:0:$1::1 timers connect 1
		 address-family ipv4 unicast
		  network $SVC4/32
		  no neighbor fd99:0:0:$1::1 activate
		 exit-address-family
		 address-family ipv6 unicast
		  network $SVC6/128
		  neighbor fd99:0:0:$1::1 activate
		 exit-address-family
	EOF
}

frr_router_start() {
	local d
	d=$(frr_dir r)
	[ -s "$d/frr.conf" ] || frr_router_conf | frr_prepare r || return 1
	frr_daemon "$R" r zebra -z "$d/zserv.api" &&
		frr_daemon "$R" r bgpd -z "$d/zserv.api"
}

# zebra removes every route it installed when it stops (no -r)
frr_router_stop() { frr_kill r bgpd zebra; }

frr_backend_start() { # I
	[ -s "$(frr_dir "b$1")/frr.conf" ] || frr_backend_conf "$1" | frr_prepare "b$1" || return 1
	frr_daemon "$ID-b$1" "b$1" bgpd -Z
}

vtysh_r() { nsx "$R" vtysh --vty_socket "$(frr_dir r)" "$@" >/dev/null; }

bgp_session() { # up|down I: the router's sessions to backend I
	local no=
	[ "$1" = up ] && no="no "
	vtysh_r -c "configure terminal" -c "router bgp $ROUTER_AS" \
		-c "${no}neighbor $(gw4 "$2") shutdown" \
		-c "${no}neighbor $(gw6 "$2") shutdown"
}

# The gateways of the router's service route, sorted, one per line: through
# zebra's nexthop group, or the route's own paths.
route_gws() { # 4|6
	local pfx nhid
	[ "$1" = 4 ] && pfx=$SVC4/32 || pfx=$SVC6/128
	nhid=$(ip -n "$R" -"$1" route show "$pfx" | sed -n 's/.* nhid \([0-9]*\) .*/\1/p' | head -n 1)
	if [ -z "$nhid" ]; then
		ip -n "$R" -"$1" route show "$pfx" | grep -o 'via [^ ]*' | awk '{ print $2 }' | sort
		return
	fi
	ip -n "$R" nexthop show | awk -v id="$nhid" '
		{
			for (i = 1; i < NF; i++) {
				if ($i == "id") nid = $(i + 1)
				if ($i == "via") via[nid] = $(i + 1)
				if ($i == "group") grp[nid] = $(i + 1)
			}
		}
		END {
			if (id in grp) {
				n = split(grp[id], m, "/")
				for (k = 1; k <= n; k++) { split(m[k], w, ","); print via[w[1]] }
			} else if (id in via) print via[id]
		}' | sort
}

# Wait until the kernel's service routes (both families) have exactly
# these backends' gateways; none: no route.
wait_paths() { # I...
	local i want4='' want6='' n
	for i in "$@"; do
		want4+="$(gw4 "$i")"$'\n'
		want6+="$(gw6 "$i")"$'\n'
	done
	want4=$(sort <<<"${want4%$'\n'}")
	want6=$(sort <<<"${want6%$'\n'}")
	for ((n = 0; n < BGP_UP_S * 10; n++)); do
		[ "$(route_gws 4)" = "$want4" ] && [ "$(route_gws 6)" = "$want6" ] && return 0
		sleep 0.1
	done
	echo "routes did not reach backends '$*' within $BGP_UP_S s: $(route_gws 4 | tr '\n' ' ')/ $(route_gws 6 | tr '\n' ' ')" >>"$RUNDIR/errors"
	return 1
}

# The backends in the route are the ones with an announcing session: start
# the speakers that never ran, bring shut sessions up, shut the others.
bgp_route_set() { # I...
	local i
	for i in $(seq $NBACKENDS); do
		if [[ " $* " == *" $i "* ]]; then
			if ! frr_running "b$i" bgpd; then
				frr_backend_start "$i" || return 1
			fi
			bgp_session up "$i" || return 1
		elif frr_running "b$i" bgpd; then
			bgp_session down "$i" || return 1
		fi
	done
	wait_paths "$@"
}

# The router's next-hop table as flowpinctl shows it equals the kernel's:
# every gateway of the service routes is an active next hop, no other
# next hop is active, and no pin refers to a stale id.
table_matches_kernel() {
	local nh kernel active stale
	nh=$(nsx "$R" "$FLOWPINCTL" -j -p "$PIN" nexthops 2>&1) || { echo "flowpinctl: $nh"; return; }
	kernel=$( { route_gws 4; route_gws 6; } | sort)
	active=$(grep -o '"address":"[^"]*","dev":"[^"]*","ifindex":[0-9]*,"mac":"[^"]*","smac":"[^"]*","mtu":[0-9]*,"state":"active"' <<<"$nh" |
		sed 's/"address":"\([^"]*\)".*/\1/' | sort)
	stale=$(sed -n 's/.*"stale_pins":\([0-9]*\).*/\1/p' <<<"$nh")
	[ "$active" = "$kernel" ] || { echo "active next hops '$(tr '\n' ' ' <<<"$active")' but the kernel's '$(tr '\n' ' ' <<<"$kernel")'"; return; }
	[ "${stale:-x}" = 0 ] || { echo "${stale:-?} pins on stale next hops"; return; }
	echo ok
}
