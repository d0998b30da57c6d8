#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Broken daemons the scenario suite must catch. Each runs the "add"
# scenario (kernel and auto columns) through the suite's FLOWPIND=
# override; the suite must fail with it. A mutant the suite lets pass is a
# failure here: the suite would not notice that product breaking.
# Ends with "mutants: N passed, M failed".
#
# Usage: tests/mutants.sh BUILD_DIR
set -u
here=$(dirname "$(readlink -f "$0")")
BUILD=$(cd "${1:-build}" && pwd) || exit 1
TMP=$(mktemp -d /tmp/fp-mutants.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT
passed=0 failed=0

# frozen: stops (SIGSTOP) as soon as it says it is ready, so the datapath
# runs on with the state of the first sync and follows no change.
cat >"$TMP/frozen" <<MUTANT
#!/usr/bin/env bash
mkfifo "$TMP/err.\$\$"
"$BUILD/flowpind" "\$@" 2>"$TMP/err.\$\$" &
pid=\$!
while IFS= read -r l; do
	printf '%s\n' "\$l" >&2
	case \$l in *"ready:"*) kill -STOP \$pid ;; esac
done <"$TMP/err.\$\$" &
wait \$pid
MUTANT
# unpinned: all CPUs together make one pin per 100 ms, so nearly every
# flow is forwarded unpinned, where the kernel's hash sends it.
cat >"$TMP/unpinned" <<MUTANT
#!/bin/sh
exec "$BUILD/flowpind" --min-pin-age 86400 "\$@"
MUTANT
chmod +x "$TMP/frozen" "$TMP/unpinned"

for m in frozen unpinned; do
	FLOWPIND=$TMP/$m "$here/scenario/scenarios.sh" --build "$BUILD" \
		--only add --modes auto --conns 32 >"$TMP/$m.log" 2>&1
	if [ $? = 0 ]; then
		echo "mutant $m: the suite passed with it"
		tail -n 5 "$TMP/$m.log"
		failed=$((failed + 1))
	else
		echo "mutant $m: caught ($(grep -c 'FAIL' "$TMP/$m.log") failed checks)"
		passed=$((passed + 1))
	fi
done
echo "mutants: $passed passed, $failed failed"
[ "$failed" = 0 ]
