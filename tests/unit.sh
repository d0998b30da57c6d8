#!/usr/bin/env bash
# The systemd unit as `make install` writes it: systemd-analyze accepts it,
# and it asks for what flowpind needs and no more.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/check.sh

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

# The man pages: installed, no warnings from either formatter, and every
# option and command the programs list is in them.
man_lint() {
	local out
	out=$(mandoc -T lint -W warning "$1" 2>&1; groff -ww -z -man "$1" 2>&1)
	[ -z "$out" ] || { echo "$out"; return 1; }
}
man_has_all() { # PAGE WORDS...
	local page=$1 w missing=
	shift
	for w in "$@"; do
		grep -q -- "$(sed 's/-/\\\\-/g' <<<"$w")" "$page" || missing="$missing $w"
	done
	[ -z "$missing" ] || { echo "not in ${page##*/}:$missing"; return 1; }
}
man8=$tmp/usr/local/share/man/man8
check "flowpind(8) installed and clean" man_lint "$man8/flowpind.8"
check "flowpinctl(8) installed and clean" man_lint "$man8/flowpinctl.8"
check "flowpind(8) has every option of --help" man_has_all "$man8/flowpind.8" \
	$("$tmp/usr/local/sbin/flowpind" --help | grep -o -- '--[a-z-]*' | sort -u)
check "flowpinctl(8) has every command and option of help" man_has_all "$man8/flowpinctl.8" \
	$("$tmp/usr/local/sbin/flowpinctl" --help | grep -o -- '--[a-z-]*' | sort -u) \
	$("$tmp/usr/local/sbin/flowpinctl" --help | sed -n 's/^  \([a-z]\+\)\( .*\)\{0,1\}$/\1/p')

# Under systemd, stderr is the journal: lines carry sd-daemon priorities.
journal_priorities() {
	local err=$tmp/journal
	: > "$err"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$err") "$tmp/usr/local/sbin/flowpind" \
		nosuch0 2>>"$err"
	grep -q '^<4>unknown interface nosuch0$' "$err" || { cat "$err"; false; }
}
check "warnings reach the journal as warnings (<4>)" journal_priorities
check "outside the journal, lines name the program" sh -c \
	"'$tmp/usr/local/sbin/flowpind' nosuch0 2>&1 | grep -qx 'flowpind: unknown interface nosuch0'"
has_all() { for l in "$@"; do has "$l" || return 1; done; }
check "a filtered call fails, it does not kill (containers)" has "SystemCallErrorNumber=EPERM"
check "the sandbox systemd-analyze security asks for" has_all ProtectKernelTunables=yes \
	ProtectKernelLogs=yes PrivateDevices=yes RestrictNamespaces=yes UMask=0077 \
	IPAddressDeny=any

# The build takes the user's flags and paths.
check "make CFLAGS=... keeps the build's own flags" \
	make -s --no-print-directory BUILD="$tmp/b" CFLAGS=-O1 "$tmp/b/flowpinctl"
reinstall_to_usr() {
	make -s --no-print-directory install DESTDIR="$tmp/usr-prefix" PREFIX=/usr >/dev/null &&
		grep -qx 'ExecStart=/usr/sbin/flowpind --settings /etc/default/flowpind $FLOWPIND_OPTS $FLOWPIND_INTERFACES' \
			"$tmp/usr-prefix/etc/systemd/system/flowpind.service"
}
check "make install PREFIX=/usr after make install points the unit at /usr" reinstall_to_usr

check_summary unit
