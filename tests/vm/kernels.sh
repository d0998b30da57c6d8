#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel matrix: boot each installed kernel under qemu and run there the
# tests that exercise the kernel (tests/vm/guest.sh; with two virtio-net
# NICs wired together, boot.sh -w, for native XDP on a real driver), then
# the first one's again with 8 CPUs for the tests of pins across CPUs; two
# VMs at a time. Each VM's output, then one line per VM, then "kernels: N
# passed, M failed", counting VMs.
#
# Usage: tests/vm/kernels.sh [--build DIR] [KERNEL...]
#   KERNEL defaults to every /boot/vmlinuz-* with its modules installed:
#   `make deps` installs Debian 12's 6.1 (linux-image-amd64) and 6.12
#   (linux-image-6.12-amd64). Each VM's output is kept in
#   BUILD/kernels/KERNEL.log.
set -u
cd "$(dirname "$0")/../.." || exit 1
build=build
if [ "${1:-}" = --build ]; then
	build=$2
	shift 2
fi
case ${1:-} in -*)
	sed -n '/^# Usage:/,/^#   BUILD/s/^# \{0,1\}//p' "$0" >&2
	exit 2 ;;
esac

kernels=("$@")
if [ ${#kernels[@]} = 0 ]; then
	# oldest first (sort -V: 6.9 before 6.10)
	while read -r k; do
		[ -d "/lib/modules/$k" ] && kernels+=("$k")
	done < <(ls /boot | sed -n 's/^vmlinuz-//p' | sort -V)
fi
if [ ${#kernels[@]} = 0 ]; then
	echo "kernels: no kernel in /boot: run make deps" >&2
	echo "kernels: 0 passed, 1 failed"
	exit 1
fi

mkdir -p "$build/kernels"
# One VM: its name, its log's name, then boot.sh's options and kernel. Its
# output goes to its log; its line of the summary to LOG.result.
vm() {
	local name=$1 log=$build/kernels/$2.log start=$SECONDS rc counts result
	shift 2
	echo "== $name: started, its output in $log"
	tests/vm/boot.sh "$@" 2>&1 | sed -u 's/\r$//' >"$log"
	rc=${PIPESTATUS[0]}
	counts=$(sed -n 's/^tests: \([0-9]* passed, [0-9]* failed, [0-9]* skipped\)$/\1/p' "$log" | tail -n 1)
	# a VM that ran nothing (TESTS_ONLY naming no test) passes nothing
	if [ "$rc" = 0 ] && [ -n "$counts" ] && [ "${counts%% *}" -gt 0 ]; then
		result=passed
	else
		result="FAILED (exit $rc)"
	fi
	printf '%-32s %s: %s in %d s\n' "$name" "$result" "${counts:-no result}" \
		$((SECONDS - start)) >"$log.result"
	echo "== $name: $result"
}
# Two VMs at a time (each keeps one host core busy at best, and this
# machine's tests leave cores idle while they wait): the first kernel, the
# oldest, then the same again with 8 CPUs for the tests of pins across
# CPUs; beside them, every other kernel in turn.
logs=("${kernels[0]}" "${kernels[0]}-8cpus")
rm -f "$build"/kernels/*.log.result
{
	vm "${kernels[0]}" "${kernels[0]}" -w "${kernels[0]}" tests/vm/guest.sh "$build"
	# Pins and counters on more CPUs than this machine has: correctness,
	# not speed (one host thread runs them all, as every VM: boot.sh).
	vm "${kernels[0]} (8 CPUs)" "${kernels[0]}-8cpus" \
		-t 600 -c 8 "${kernels[0]}" \
		env TESTS_ONLY="every_cpu_keeps_the_pin v4 every_cpu_keeps_the_pin v6 flood_over_cpus_shares_one_budget v4" \
		tests/run-all "$build" test_pinning
} &
first=$!
for k in "${kernels[@]:1}"; do
	vm "$k" "$k" -w "$k" tests/vm/guest.sh "$build"
	logs+=("$k")
done
wait "$first"

# every VM's output, then one line each
passed=0 failed=0 lines=()
for l in "${logs[@]}"; do
	cat "$build/kernels/$l.log"
	line=$(cat "$build/kernels/$l.log.result" 2>/dev/null) ||
		line=$(printf '%-32s FAILED: no result' "$l")
	case $line in *" passed: "*) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
	lines+=("$line")
done
echo
printf '%s\n' "${lines[@]}"
echo "kernels: $passed passed, $failed failed"
[ "$failed" = 0 ]
