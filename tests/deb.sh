#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian package as a user meets it: installs with apt, runs, its unit
# passes systemd-analyze, the service is not enabled, the settings file is a
# conffile, and a purge leaves no file behind. Changes the system: CI only.
#
# Usage: tests/deb.sh PACKAGE.deb
set -u
deb=$(readlink -f "${1:?usage: tests/deb.sh PACKAGE.deb}")
. "$(dirname "$0")/check.sh"
if dpkg -s flowpin >/dev/null 2>&1; then
	echo "deb: flowpin is already installed here; not touching it" >&2
	echo "deb: 0 passed, 1 failed"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
check "apt-get installs it" apt-get install -y -q "$deb"
files=$(dpkg -L flowpin 2>/dev/null | while read -r f; do [ -f "$f" ] && echo "$f"; done)
check "flowpind --version" sh -c 'flowpind --version | grep -q "^flowpind [0-9]"'
check "flowpinctl --version" sh -c 'flowpinctl --version | grep -q "^flowpinctl [0-9]"'
check "the unit passes systemd-analyze verify" sh -c \
	'out=$(systemd-analyze verify /lib/systemd/system/flowpind.service 2>&1); echo "$out"; [ -z "$out" ]'
check "the service is not enabled" sh -c '! systemctl is-enabled flowpind.service 2>/dev/null | grep -q ^enabled'
check "/etc/default/flowpind is a conffile" sh -c 'dpkg-query -W -f="\${Conffiles}" flowpin | grep -q /etc/default/flowpind'
check "the man pages are installed" test -f /usr/share/man/man8/flowpind.8.gz -a -f /usr/share/man/man8/flowpinctl.8.gz
check "apt-get purges it" apt-get purge -y -q flowpin
left=
for f in $files /etc/default/flowpind; do
	[ -e "$f" ] && left="$left $f"
done
check "nothing is left after the purge" sh -c "[ -z '$left' ] || { echo 'left:$left'; false; }"

check_summary deb
