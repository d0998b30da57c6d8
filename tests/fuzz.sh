#!/usr/bin/env bash
# Fuzz the datapath's parser in userspace (libFuzzer, ASan, UBSan).
# FUZZ_RUNS sets the number of inputs (default 500000).
set -u
here=$(dirname "$(readlink -f "$0")")
runs=${FUZZ_RUNS:-500000}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# valid frames of every kind first, so mutations get past the checksums
"$here/fuzz_seeds" "$corpus" || exit 1
log=$("$here/fuzz_parse" -runs="$runs" -max_len=512 -seed=1 \
	-use_value_profile=1 -artifact_prefix="$here/fuzz-" "$corpus" 2>&1)
rc=$?
printf '%s\n' "$log" | grep -E "^#[0-9]+ +DONE|Done [0-9]+ runs|ERROR|SUMMARY|^fuzz_parse: parsed" | tail -n 4
# a run that parsed no frame of a family has not tested that family's code
# (and a tagged one, XDP's parse, the tagged frame's)
parsed=$(printf '%s\n' "$log" | sed -n 's/^fuzz_parse: parsed \([0-9]*\) IPv4 and \([0-9]*\) IPv6 frames, \([0-9]*\) tagged$/\1 \2 \3/p' | tail -n 1)
if [ $rc = 0 ] && { [ -z "$parsed" ] || [[ " $parsed " = *" 0 "* ]]; }; then
	echo "fuzz: no IPv4, IPv6 or tagged frame was parsed (${parsed:-no count})"
	rc=1
fi
if [ $rc = 0 ]; then
	echo "fuzz: 1 passed, 0 failed ($runs inputs, corpus of $(ls "$corpus" | wc -l))"
else
	printf '%s\n' "$log" | tail -n 30
	echo "fuzz: 0 passed, 1 failed"
fi
exit $rc
