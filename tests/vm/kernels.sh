#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel matrix: boot each installed kernel under qemu and run there the
# tests that exercise the kernel (tests/vm/guest.sh), then the first one's
# again with 8 CPUs for the tests of pins across CPUs. One line per VM,
# then "kernels: N passed, M failed", counting VMs.
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
passed=0 failed=0 lines=()
# One VM: its name, its log's name, then boot.sh's options and kernel.
vm() {
	local name=$1 log=$build/kernels/$2.log start=$SECONDS rc counts result
	shift 2
	echo "== $name"
	tests/vm/boot.sh "$@" 2>&1 | sed -u 's/\r$//' | tee "$log"
	rc=${PIPESTATUS[0]}
	counts=$(sed -n 's/^tests: \([0-9]* passed, [0-9]* failed, [0-9]* skipped\)$/\1/p' "$log" | tail -n 1)
	# a VM that ran nothing (TESTS_ONLY naming no test) passes nothing
	if [ "$rc" = 0 ] && [ -n "$counts" ] && [ "${counts%% *}" -gt 0 ]; then
		result=passed
		passed=$((passed + 1))
	else
		result="FAILED (exit $rc)"
		failed=$((failed + 1))
	fi
	lines+=("$(printf '%-32s %s: %s in %d s' "$name" "$result" "${counts:-no result}" $((SECONDS - start)))")
}
for k in "${kernels[@]}"; do
	vm "$k" "$k" "$k" tests/vm/guest.sh "$build"
done
# Pins and counters on more CPUs than this machine has: correctness, not
# speed (8 vCPUs share its cores under TCG). The first kernel, the oldest.
vm "${kernels[0]} (8 CPUs)" "${kernels[0]}-8cpus" -c 8 "${kernels[0]}" \
	env TESTS_ONLY="every_cpu_keeps_the_pin v4 every_cpu_keeps_the_pin v6 flood_over_cpus_shares_one_budget v4" \
	tests/run-all "$build" test_pinning

echo
printf '%s\n' "${lines[@]}"
echo "kernels: $passed passed, $failed failed"
[ "$failed" = 0 ]
