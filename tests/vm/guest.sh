#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What the kernel matrix runs inside each kernel's VM: the tests that
# exercise the kernel (the verifier, bpf_fib_lookup(), XDP on veth,
# rtnetlink, libxdp's dispatcher), sized for qemu's TCG. Ends with
# "vm: N passed, M failed".
#
# Usage: tests/vm/guest.sh BUILD_DIR
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${1:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Debian's kernels have libxdp's dispatcher: there, not loading is a failure.
export COEXIST_REQUIRE_DISPATCHER=1
passed=0 failed=0
# run_part NAME COMMAND...: add up its closing "NAME: N passed, M failed"
run_part() {
	local name=$1 line p f rc
	shift
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed" "$log" | tail -n 1)
	p=$(sed -E 's/^[a-z]+: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	[ "$rc" = 0 ] || [ "${f:-0}" != 0 ] || failed=$((failed + 1))
}

run_part tests tests/run-all "$build" test_packets test_pinning \
	test_random_frames test_flowpind test_coexist
# The scenarios with fewer connections: under TCG everything is ~10x slower.
run_part scenarios tests/scenario/scenarios.sh --build "$build" \
	--only "add drain" --conns 32

echo "vm: $passed passed, $failed failed"
[ "$failed" = 0 ]
