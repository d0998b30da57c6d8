#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Every BPF object builds with glibc's 32-bit headers hidden, as on a fresh
# Debian 12 (no libc6-dev-i386). Under -target bpf, any glibc header takes
# its 32-bit branch and needs gnu/stubs-32.h, so this fails as soon as a
# BPF source includes glibc, even through a UAPI header (<linux/icmp.h>).
# Each object is built by the Makefile's own rules into a scratch folder,
# in a private mount namespace where gnu/ is a copy without stubs-32.h.
set -u
cd "$(dirname "$(readlink -f "$0")")/.." || exit 1
gnu=/usr/include/$(gcc -dumpmachine)/gnu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/build"
cp -a "$gnu" "$tmp/gnu" && rm -f "$tmp/gnu/stubs-32.h" || exit 1

objs=()
for src in bpf/*.bpf.c tests/*.bpf.c; do
	objs+=("$(basename "$src" .c).o")
done
for src in bench/*.bpf.c; do
	objs+=("bench_$(basename "$src" .c).o")
done

. tests/check.sh
build_hidden() { # OBJECT: built with gnu/stubs-32.h hidden
	unshare -m sh -c 'mount --make-rprivate / &&
		mount --bind "$1/gnu" "$2" &&
		! test -e "$2/stubs-32.h" &&
		make -s --no-print-directory BUILD="$1/build" "$1/build/$3"' \
		sh "$tmp" "$gnu" "$1"
}
for o in "${objs[@]}"; do
	check "$o builds without gnu/stubs-32.h" build_hidden "$o"
done
check_summary bpf_build
