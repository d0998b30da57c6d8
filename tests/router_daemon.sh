# SPDX-License-Identifier: GPL-2.0
# Sourced by the shell tests whose router is the namespace $ID-r with ports
# rc and rb: flowpind started there and stopped, and its counters. Uses
# FLOWPIND, FLOWPINCTL, ID, PIN and TMP; MODE (native unless set) is
# flowpind's -m.

start_daemon() { # extra flowpind options...: sets DAEMON_PID
	: > "$TMP/flowpind.log"
	nsenter --net="/run/netns/$ID-r" "$FLOWPIND" -m "${MODE:-native}" -p "$PIN" "$@" \
		rc rb >>"$TMP/flowpind.log" 2>&1 &
	DAEMON_PID=$!
	for _ in $(seq 150); do
		grep -q '\<ready\>' "$TMP/flowpind.log" && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "flowpind did not get ready:"
	cat "$TMP/flowpind.log"
	return 1
}

stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

# A counter of flowpin's, from flowpinctl -j stats.
counter() { # NAME
	nsenter --net="/run/netns/$ID-r" "$FLOWPINCTL" -p "$PIN" -j stats 2>/dev/null |
		sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" | head -n 1
}
