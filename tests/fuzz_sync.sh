#!/usr/bin/env bash
# Fuzz pin sync's receive parser in userspace (libFuzzer, ASan, UBSan).
# FUZZ_RUNS sets the number of inputs (default 1000000).
set -u
here=$(dirname "$(readlink -f "$0")")
runs=${FUZZ_RUNS:-1000000}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
"$here/fuzz_sync_seeds" "$corpus" || exit 1
log=$("$here/fuzz_sync" -runs="$runs" -max_len=1300 -seed=1 \
	-artifact_prefix="$here/fuzz-sync-" "$corpus" 2>&1)
rc=$?
printf '%s\n' "$log" | grep -E "Done [0-9]+ runs|ERROR|SUMMARY|^fuzz_sync: (accepted|refused)" | tail -n 5
# a run that accepted no datagram of a type has not tested its parser
counts=$(printf '%s\n' "$log" | sed -n 's/^fuzz_sync: accepted \([0-9]*\) hello, \([0-9]*\) pins, \([0-9]*\) ack, \([0-9]*\) bulk request, \([0-9]*\) digest, \([0-9]*\) diff datagrams$/\1 \2 \3 \4 \5 \6/p' | tail -n 1)
if [ $rc = 0 ] && { [ -z "$counts" ] || [[ " $counts " == *" 0 "* ]]; }; then
	echo "fuzz_sync: some type was never accepted (${counts:-no count})"
	rc=1
fi
# nor one that never offered a forgery (the seeds hold three)
forgeries=$(printf '%s\n' "$log" | sed -n 's/^fuzz_sync: refused \([0-9]*\) forgeries$/\1/p' | tail -n 1)
if [ $rc = 0 ] && [ "${forgeries:-0}" -lt 3 ]; then
	echo "fuzz_sync: ${forgeries:-no} forgeries refused (the seeds alone are 3)"
	rc=1
fi
if [ $rc = 0 ]; then
	echo "fuzz_sync: 1 passed, 0 failed ($runs inputs)"
else
	printf '%s\n' "$log" | tail -n 30
	echo "fuzz_sync: 0 passed, 1 failed"
fi
exit $rc
