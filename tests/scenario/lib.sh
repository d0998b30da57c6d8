# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# What the scenario suite (scenarios.sh) and the fleet suite (fleet.sh)
# share: sourced by both. The callers set PASSED, FAILED, FAIL_RUN (verdict),
# CFD, CLIENT_PID, CLIENT_LINES, RUNDIR (client_cmd) and log().

nsx() { # NS CMD...: run in a namespace, keeping this mount namespace
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

wait_file() { # FILE PATTERN COUNT TIMEOUT_S [PID]: PATTERN seen COUNT times
	local n=0 max=$(($4 * 20)) seen
	for (( ; ; n++)); do
		seen=$(grep -c -- "$2" "$1" 2>/dev/null)
		[ "${seen:-0}" -ge "$3" ] && return 0
		[ $n -gt $max ] && return 1
		[ -n "${5:-}" ] && ! kill -0 "$5" 2>/dev/null && return 1
		sleep 0.05
	done
}

# The value of KEY=VALUE among the words of LINE.
field() { # LINE KEY
	local w
	for w in $1; do
		[ "${w%%=*}" = "$2" ] && { echo "${w#*=}"; return; }
	done
	echo ""
}

# Count one check; print what failed.
verdict() { # OK WHAT
	if [ "$1" = 1 ]; then
		PASSED=$((PASSED + 1))
	else
		FAILED=$((FAILED + 1))
		echo "  FAIL $2" >&2
		FAIL_RUN=1
	fi
}

# The offloads a column needs on the veths (scenarios.sh says why).
veth_offloads() { # COLUMN
	case $1 in
	native) echo "gro on tx off" ;;
	skb) echo "tx off" ;;
	esac
}

# One command to scenario_client; its one-line answer in REPLY.
client_cmd() {
	CLIENT_LINES=$((CLIENT_LINES + 1))
	REPLY=
	echo "$*" >&"$CFD" || return 1
	wait_file "$RUNDIR/client.out" '' $CLIENT_LINES 20 "$CLIENT_PID" || {
		echo "client gave no answer to: $*" >>"$RUNDIR/errors"
		return 1
	}
	REPLY=$(sed -n "${CLIENT_LINES}p" "$RUNDIR/client.out")
	log "$REPLY"
	case $REPLY in *error*) return 1 ;; esac
}

# The "# Usage:" block of the calling script, to stderr; exit 2.
usage() {
	sed -n '/^# Usage:/,/^# FLOWPIND/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# Unmount the bpffs only if this run mounted it (MOUNTED_BPFFS) and nobody
# uses it.
bpffs_release() {
	if [ "$MOUNTED_BPFFS" = 1 ] && [ -z "$(ls -A /sys/fs/bpf 2>/dev/null)" ]; then
		umount /sys/fs/bpf 2>/dev/null
	fi
	return 0
}
