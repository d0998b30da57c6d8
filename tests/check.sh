# SPDX-License-Identifier: GPL-2.0
# Sourced by the shell tests: check NAME COMMAND... runs COMMAND in this
# shell (it may set variables), prints an OK or FAILED line like cmocka's,
# and on failure the last lines COMMAND printed. check_summary NAME ends
# with "NAME: N passed, M failed" and returns non-zero after a failure.
passed=0 failed=0
check_out=$(mktemp)

check() { # NAME COMMAND...
	local name=$1
	shift
	if "$@" >"$check_out" 2>&1; then
		echo "[       OK ] $name"
		passed=$((passed + 1))
	else
		echo "[  FAILED  ] $name"
		tail -n 20 "$check_out" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

check_summary() { # NAME
	rm -f "$check_out"
	echo "$1: $passed passed, $failed failed"
	[ "$failed" = 0 ]
}
