# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# What the scenario suite (scenarios.sh) and the fleet suite (fleet.sh)
# share: sourced by both, before they read their options. A suite sets
# SUITE (its name, which starts its messages) before it sources this; then
# its own options in OPT_VALUE and OPT_FLAG, ID and TMP, SPEC_TABLE,
# teardown() (undo one run) and table_must() (the results table's last
# column), and for each run RUNDIR and FAIL_RUN (run_begin). LOG_FD, where
# set, is where -v goes.

# --- options ------------------------------------------------------------------

# The options both take. A suite adds its own: OPT_VALUE maps an option to
# the variable its value goes to, OPT_FLAG to the one it sets to 1.
BUILD=build
VERBOSE=0
HOLD=0
declare -A OPT_VALUE=([--build]=BUILD [--only]=ONLY [--conns]=CONNS [--hold]=HOLD)
declare -A OPT_FLAG=([-v]=VERBOSE)

# The "# Usage:" block of the calling script, to stderr; exit 2.
usage() {
	sed -n '/^# Usage:/,/^# FLOWPIND/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

options_parse() { # ARG...
	while [ $# -gt 0 ]; do
		if [ -n "$1" ] && [ -n "${OPT_FLAG[$1]:-}" ]; then
			printf -v "${OPT_FLAG[$1]}" 1
		elif [ -n "$1" ] && [ -n "${OPT_VALUE[$1]:-}" ]; then
			printf -v "${OPT_VALUE[$1]}" %s "$2"
			shift
		else
			usage
		fi
		shift
	done
}

# Root, and the programs the suite runs (BUILD made absolute): exits if not.
suite_check() { # WHY: what root is for
	local b
	if [ "$(id -u)" != 0 ]; then
		echo "$SUITE: needs root ($1)" >&2
		exit 1
	fi
	BUILD=$(cd "$BUILD" && pwd) || exit 1
	for b in scenario_echo scenario_client; do
		[ -x "$BUILD/$b" ] || { echo "$SUITE: $BUILD/$b missing: run make" >&2; exit 1; }
	done
	FLOWPIND=${FLOWPIND:-$BUILD/flowpind}
	# shellcheck disable=SC2034 # the suites run it
	FLOWPINCTL=$BUILD/flowpinctl
}

# A suite that ran without flowpin has shown nothing of it: a failure.
flowpind_required() { # HOW: how to ask for the kernel alone
	[ -x "$FLOWPIND" ] && return 0
	echo "$SUITE: $FLOWPIND not built: run make, or ask for $1" >&2
	echo "$SUITE: 0 passed, 1 failed"
	exit 1
}

# --- a run's state, and undoing it ------------------------------------------------

NSES=()          # the run's namespaces
PIDS=()          # the run's servers
CLIENT_PID=
CFD=             # scenario_client's commands
CLIENT_LINES=0   # its answers so far
REPLY=
MOUNTED_BPFFS=0

log() { [ "$VERBOSE" = 1 ] && echo "  .. $*" >&"${LOG_FD:-2}"; return 0; }

# TERM every PID at once, wait for all (5 s), then KILL what is left.
stop_pids() { # PID...
	local pid i alive
	[ $# -gt 0 ] || return 0
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for i in $(seq 50); do
		alive=0
		for pid in "$@"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for pid in "$@"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 0
}

# The client told to quit, and stopped.
client_down() {
	if [ -n "$CFD" ]; then
		echo quit 1>&"$CFD" 2>/dev/null
		exec {CFD}>&-
		CFD=
	fi
	[ -n "$CLIENT_PID" ] && stop_pids "$CLIENT_PID"
	CLIENT_PID=
}

# The run's namespaces deleted, with anything still running in them.
nses_del() {
	local ns p
	for ns in "${NSES[@]}"; do
		# anything still running in our namespaces was started by us
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	NSES=()
}

# Every path out of the suite goes through here: the suite's teardown(),
# then TMP (kept with KEEP=1) and the bpffs.
cleanup() {
	trap - EXIT INT TERM
	teardown
	if [ "${KEEP:-0}" = 1 ]; then
		echo "$SUITE: logs kept in $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	bpffs_release
}

traps_set() {
	trap cleanup EXIT
	# a write to a client that died must fail, not end the suite
	trap '' PIPE
	trap 'echo "$SUITE: interrupted" >&"${LOG_FD:-2}"; exit 130' INT TERM
}

bpffs_mount() {
	mountpoint -q /sys/fs/bpf || {
		mount -t bpf bpf /sys/fs/bpf && MOUNTED_BPFFS=1
	}
}

# Unmount the bpffs only if this run mounted it (MOUNTED_BPFFS) and nobody
# uses it.
bpffs_release() {
	if [ "$MOUNTED_BPFFS" = 1 ] && [ -z "$(ls -A /sys/fs/bpf 2>/dev/null)" ]; then
		umount /sys/fs/bpf 2>/dev/null
	fi
	return 0
}

# --- in a run ---------------------------------------------------------------------

run_begin() { # NAME: the run's folder, under TMP
	RUNDIR=$TMP/$1
	mkdir -p "$RUNDIR"
	FAIL_RUN=0
}

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

# The offloads a column needs on the veths (scenarios.sh says why).
veth_offloads() { # COLUMN
	case $1 in
	native) echo "gro on tx off" ;;
	skb) echo "tx off" ;;
	esac
}

# scenario_echo on backends I... (namespaces ID-bI), listening.
servers_up() { # I...
	local i
	for i in "$@"; do
		# nsenter itself, not a function: $! must be the server's pid
		nsenter --net="/run/netns/$ID-b$i" "$BUILD/scenario_echo" "b$i" "$PORT" \
			>"$RUNDIR/echo-b$i.log" 2>&1 &
		PIDS+=($!)
	done
	for i in "$@"; do
		wait_file "$RUNDIR/echo-b$i.log" listening 1 5 || return 1
	done
}

# scenario_client in the client's namespace C, reading commands from CFD.
client_up() {
	rm -f "$TMP/client.in"
	mkfifo "$TMP/client.in" || return 1
	nsenter --net="/run/netns/$C" "$BUILD/scenario_client" <"$TMP/client.in" \
		>"$RUNDIR/client.out" 2>"$RUNDIR/client.err" &
	CLIENT_PID=$!
	exec {CFD}>"$TMP/client.in"
	CLIENT_LINES=0
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

# flowpind's "ready: N port(s)" lines in its LOG so far: a start waits for
# one more. Only that line: its usage, printed when it refuses an option,
# has the word too.
READY_LINE='ready: [0-9][0-9]* port'
ready_lines() { grep -c -- "$READY_LINE" "$1" 2>/dev/null; }

ready_wait() { # LOG BEFORE PID WHO
	wait_file "$1" "$READY_LINE" $((${2:-0} + 1)) 15 "$3" || {
		echo "$4 did not get ready" >>"$RUNDIR/errors"
		return 1
	}
}

# --hold: keep a flowpin run's topology up, to look.
hold() { # COLUMN
	[ "$HOLD" != 0 ] && [ "$1" != kernel ] || return 0
	echo "  holding $ID for $HOLD s" >&2
	sleep "$HOLD"
}

# --- the suite's runs: SPEC_TABLE, a line each -----------------------------------

# A run's name, five fields of the suite's, and what changes.
spec() { # NAME -> the five fields and what changes
	local line
	line=$(awk -v n="$1" '$1 == n { $1 = ""; print substr($0, 2) }' <<<"$SPEC_TABLE")
	[ -n "$line" ] && echo "$line"
}

spec_names() { awk 'NF { printf "%s ", $1 }' <<<"$SPEC_TABLE"; }

describe() { # NAME
	local _1 _2 _3 _4 _5 what
	read -r _1 _2 _3 _4 _5 what <<<"$(spec "$1")"
	echo "$what"
}

# --- results ------------------------------------------------------------------------

PASSED=0
FAILED=0
SKIPPED=0
SKIP_WHY=        # after the skipped count, in the last line
declare -A CELL  # name/family/column -> "broken/total" (! marks a failure)

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

# Does a check's (or a bulk's) answer show what MUST says? CONNS
# connections, and zero, some or all of them broken; any other MUST, any
# number (the caller looks closer). 1 or 0.
conns_as_expected() { # MUST ANSWER
	local total broken
	total=$(field "$2" total)
	broken=$(field "$2" broken)
	[ -n "$total" ] && [ "$total" = "$CONNS" ] || { echo 0; return; }
	case $1 in
	zero) [ "$broken" = 0 ] || { echo 0; return; } ;;
	some) [ "$broken" -gt 0 ] || { echo 0; return; } ;;
	all) [ "$broken" = "$total" ] || { echo 0; return; } ;;
	esac
	echo 1
}

# Did the connections of an answer (open or spread) reach each backend of
# EXPECT and none of EXCLUDED? 1 or 0.
spread_over() { # ANSWER "EXPECT" "EXCLUDED"
	local b
	for b in $2; do
		[ "$(field "$1" "b$b")" -gt 0 ] 2>/dev/null || { echo 0; return; }
	done
	for b in $3; do
		[ -z "$(field "$1" "b$b")" ] || { echo 0; return; }
	done
	echo 1
}

# The connections of one family after the change: the cell KEY
# (name/family/column) is the check's broken/total, ! when not OK.
judge_broken() { # KEY NAME OK CHECKED EXPECTED: what the failure says was expected
	local total broken
	total=$(field "$4" total)
	broken=$(field "$4" broken)
	CELL[$1]="${broken:-?}/${total:-?}"
	[ "$3" = 1 ] || CELL[$1]+="!"
	verdict "$3" "$2: broken ${broken:-?}/${total:-?}, expected $5"
}

# New connections after the change (a spread answer): FAILS of them
# failed, and the others reached each backend of EXPECT, none of EXCLUDED.
# OK 0: the caller saw something wrong already. ~ in the cell when not.
judge_spread() { # KEY OK SPREAD FAILS "EXPECT" "EXCLUDED" WHAT
	local ok=$2
	[ "$(field "$3" fail)" = "$4" ] || ok=0
	[ "$(spread_over "$3" "$5" "$6")" = 1 ] || ok=0
	[ "$ok" = 1 ] || CELL[$1]+="~"
	verdict "$ok" "$7"
}

# A failed run's files, to stderr: the last 12 lines of each (all of it
# with -v), less flowpind's veth notices and lines that match QUIET.
failed_run_show() { # QUIET FILE...
	local quiet=$1 f
	shift
	[ "$FAIL_RUN" = 1 ] || return 0
	for f in "$@"; do
		[ -s "$f" ] || continue
		echo "  --- ${f##*/}"
		if [ "$VERBOSE" = 1 ] && [ -n "$quiet" ]; then
			grep -v "$quiet" "$f"
		elif [ "$VERBOSE" = 1 ]; then
			cat "$f"
		else
			grep -v "is a veth: frames redirected${quiet:+\\|$quiet}" "$f" | tail -n 12
		fi
	done >&2
	return 0
}

# A row's cell in the results table (a suite may have its own).
table_cell() { # NAME FAM COL
	printf '%s' "${CELL[$1/$2/$3]:-n/a}"
}

dashes() { # N
	local s
	printf -v s '%*s' "$1" ''
	printf '%s' "${s// /-}"
}

# The results table: a row per name of NAMES and family, with the name's
# description, a cell per column (table_cell), and what the row must show
# (table_must, the suite's). Each COLUMN is COL:WIDTH:TITLE.
results_table() { # "NAMES" NAME_TITLE NAME_W DESC_W MUST_TITLE MUST_W COLUMN...
	local names=$1 title=$2 nw=$3 dw=$4 must_title=$5 mw=$6
	local cols=() widths=() hdr line c name fam i
	shift 6
	hdr=$(printf "| %-${nw}s | %-${dw}s | %-6s" "$title" change family)
	line="|$(dashes $((nw + 2)))|$(dashes $((dw + 2)))|--------"
	for c in "$@"; do
		cols+=("${c%%:*}")
		c=${c#*:}
		widths+=("${c%%:*}")
		hdr+=$(printf " | %-${c%%:*}s" "${c#*:}")
		line+="|$(dashes $((${c%%:*} + 2)))"
	done
	printf "%s | %-${mw}s |\n" "$hdr" "$must_title"
	echo "$line|$(dashes $((mw + 2)))|"
	for name in $names; do
		for fam in IPv4 IPv6; do
			printf "| %-${nw}s | %-${dw}s | %-6s" "$name" "$(describe "$name")" $fam
			for i in "${!cols[@]}"; do
				printf " | %-${widths[i]}s" "$(table_cell "$name" $fam "${cols[i]}")"
			done
			printf " | %-${mw}s |\n" "$(table_must "$name")"
		done
	done
}

# The last lines, which run-all reads; the suite's exit status.
summary() { # START: SECONDS when the runs began
	echo "took $((SECONDS - $1)) s"
	if [ "$SKIPPED" = 0 ]; then
		echo "$SUITE: $PASSED passed, $FAILED failed"
	else
		echo "$SUITE: $PASSED passed, $FAILED failed, $SKIPPED skipped$SKIP_WHY"
	fi
	[ "$FAILED" = 0 ]
}
