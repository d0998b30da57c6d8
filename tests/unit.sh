#!/usr/bin/env bash
# The systemd unit as `make install` writes it: systemd-analyze accepts it,
# and it asks for what flowpind needs and no more.
set -u
cd "$(dirname "$0")/.." || exit 1
passed=0 failed=0
check() { # name, command...
	local name=$1
	shift
	if out=$("$@" 2>&1); then
		echo "[       OK ] $name"
		passed=$((passed + 1))
	else
		echo "[  FAILED  ] $name"
		printf '%s\n' "$out" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s --no-print-directory install DESTDIR="$tmp" >/dev/null
unit=$tmp/etc/systemd/system/flowpind.service
# verify resolves ExecStart and EnvironmentFile: point them into DESTDIR
sed -i -e "s|^ExecStart=|ExecStart=$tmp|" -e "s|^EnvironmentFile=|EnvironmentFile=$tmp|" "$unit"

verify() { out=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ] || { echo "$out"; false; }; }
has() { grep -qx -- "$1" "$unit" || { echo "missing: $1"; false; }; }
check "systemd-analyze verify accepts the unit" verify
check "Type=notify" has "Type=notify"
check "capabilities bounded" has "CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_SYS_ADMIN"
check "system calls filtered" has "SystemCallFilter=@system-service bpf"
check "file system read-only but the pins" has "ProtectSystem=strict"
check "pin path writable" has "ReadWritePaths=/sys/fs/bpf"
check "reload keeps the datapath (SIGHUP)" has 'ExecReload=/bin/kill -HUP $MAINPID'
check "installed binary runs" "$tmp/usr/local/sbin/flowpind" --help
version_is() { # PROGRAM: prints "NAME VERSION[+gCOMMIT]" and exits 0
	local out
	out=$("$1" --version) || return 1
	grep -qx "${1##*/} $(cat VERSION)\(+g[0-9a-f]*\(-dirty\)\{0,1\}\)\{0,1\}" <<<"$out" ||
		{ echo "got: $out"; return 1; }
}
check "flowpind --version" version_is "$tmp/usr/local/sbin/flowpind"
check "flowpinctl --version" version_is "$tmp/usr/local/sbin/flowpinctl"

echo "unit: $passed passed, $failed failed"
[ "$failed" = 0 ]
