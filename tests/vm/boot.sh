#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot an installed kernel under qemu and run one command in it, on this
# machine's own root: a small initramfs (busybox and the kernel's virtio and
# 9p modules) mounts / read-only over virtio-9p, puts tmpfs on /tmp and /run,
# mounts proc, sys, dev and a bpffs, and runs COMMAND chrooted there, in the
# current folder (shared on its own too, so it may be under /tmp). Prints
# what the command prints; exits with its status
# (124 when the guest ran out of time, 125 when it never ran the command).
#
# Usage: tests/vm/boot.sh [-t SECONDS] [-m MIB] [-c CPUS] [-w] KERNEL COMMAND...
#   KERNEL is a release with /boot/vmlinuz-KERNEL and /lib/modules/KERNEL.
#   CPUS: the guest's (default 2).
#   -w: two virtio-net NICs in the guest, MACs 52:54:00:f1:00:01 and :02,
#   wired to each other like a cable, with two queue pairs per guest CPU
#   (one for the stack, one for XDP's transmits): two multiqueue taps in a
#   bridge, in a network namespace of their own that lives as long as the
#   guest (root only).
# QEMU_ACCEL (default tcg,thread=single: one host thread runs every guest
# CPU in turn) chooses the accelerator. With a thread per guest CPU
# (thread=multi), TCG let a CPU run a jump the kernel was patching on
# another: Debian's 6.12 died of an int3 in netif_rx_internal() (a static
# key flipped while packets flowed) and once in early boot, and 6.1 once
# hung in a kworker for 20 minutes.
set -u -o pipefail

TIMEOUT=1500
MEM=3072
CPUS=2
WIRE=0
usage() {
	sed -n '/^# Usage:/,/^# QEMU_ACCEL/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
while getopts t:m:c:wh opt; do
	case $opt in
	w) WIRE=1 ;;
	t) TIMEOUT=$OPTARG ;;
	m) MEM=$OPTARG ;;
	c) CPUS=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
case $CPUS in '' | *[!0-9]* | 0) usage ;; esac
KVER=$1
shift

kernel=/boot/vmlinuz-$KVER
moddir=/lib/modules/$KVER
[ -r "$kernel" ] || { echo "boot: $kernel: no such kernel" >&2; exit 125; }
[ -d "$moddir" ] || { echo "boot: $moddir: no modules for $KVER" >&2; exit 125; }
for tool in qemu-system-x86_64 busybox cpio; do
	command -v $tool >/dev/null || { echo "boot: $tool missing: run make deps" >&2; exit 125; }
done

tmp=$(mktemp -d /tmp/flowpin-vm.XXXXXX) || exit 125
wire_ns=
trap 'rm -rf "$tmp"; [ -z "$wire_ns" ] || ip netns del "$wire_ns" 2>/dev/null' EXIT

# -w: the cable. qemu opens the taps by name, so it runs in their namespace
# (ip netns exec), which changes nothing else of what it reaches. No IPv6 on
# the bridge: nothing but the guest's frames on the wire.
run=()
nics=()
if [ "$WIRE" = 1 ]; then
	wire_ns=flowpin-wire-$$
	ip netns add "$wire_ns" &&
		ip netns exec "$wire_ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv6.conf.all.disable_ipv6=1 &&
		ip -n "$wire_ns" link add wire type bridge &&
		ip -n "$wire_ns" link set wire up || {
		echo "boot: cannot make the wire's namespace and bridge (root?)" >&2
		exit 125
	}
	for i in 1 2; do
		ip -n "$wire_ns" tuntap add dev "wire$i" mode tap multi_queue &&
			ip -n "$wire_ns" link set "wire$i" master wire up || {
			echo "boot: cannot make tap wire$i (the tun module?)" >&2
			exit 125
		}
		nics+=(-netdev "tap,id=wire$i,ifname=wire$i,script=no,downscript=no,vhost=off,queues=$((2 * CPUS))"
			-device "virtio-net-pci,netdev=wire$i,mq=on,vectors=$((4 * CPUS + 2)),mac=52:54:00:f1:00:0$i")
	done
	run=(ip netns exec "$wire_ns")
fi
root=$tmp/initramfs
mkdir -p "$root"/{bin,modules,proc,sys,dev,mnt}
cp "$(command -v busybox)" "$root/bin/busybox"

# The modules 9p over virtio-pci needs, in load order; some kernels build
# part of them in ("builtin" lines). Compressed ones are unpacked: busybox's
# insmod takes plain .ko files only.
deps=$(modprobe -a -S "$KVER" --show-depends virtio_pci 9pnet_virtio 9p) ||
	{ echo "boot: $KVER: no virtio and 9p modules (above)" >&2; exit 125; }
mods=$(sed -n 's/^insmod \([^ ]*\).*/\1/p' <<<"$deps" | awk '!seen[$0]++')
for m in $mods; do
	base=${m##*/}
	case $m in
	*.ko.xz) xz -dc "$m" > "$root/modules/${base%.xz}" ;;
	*.ko.zst) zstd -qdc "$m" > "$root/modules/${base%.zst}" ;;
	*.ko.gz) gzip -dc "$m" > "$root/modules/${base%.gz}" ;;
	*) cp "$m" "$root/modules/$base" ;;
	esac || { echo "boot: cannot unpack $m" >&2; exit 125; }
	base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
	echo "$base" >> "$root/modules.order"
done
touch "$root/modules.order"

# The current folder is shared on its own too, and mounted over the tmpfs
# the guest puts on /tmp and /run, so a clone under /tmp works as well.
printf '%s\n' "$PWD" > "$root/cwd"

[ "$WIRE" = 1 ] && touch "$root/wire"

# The command, quoted for the guest's shell.
printf 'cd %q || exit 125\n' "$PWD" > "$root/cmd"
printf '%q ' "$@" >> "$root/cmd"
echo >> "$root/cmd"

cat > "$root/init" <<'EOF'
#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in $($B cat /modules.order); do
	$B insmod /modules/$m || echo "vm: insmod $m failed"
done
rc=125
# the virtio devices may still be probing: give them a few seconds
for i in 1 2 3 4 5 6 7 8 9 10; do
	tags=$($B cat /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null | $B tr '\0' ' ')
	case $tags in *host*work*|*work*host*) break ;; esac
	$B sleep 0.5
done
if $B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose host /mnt; then
	$B mount -t tmpfs tmp /mnt/tmp
	$B mount -t tmpfs run /mnt/run
	$B mount -t proc proc /mnt/proc
	$B mount -t sysfs sys /mnt/sys
	$B mount -t devtmpfs dev /mnt/dev
	$B mkdir -p /mnt/dev/pts /mnt/dev/shm
	$B cp /cmd /mnt/dev/vmcmd # readable inside the chroot
	# what udev would add: bash's <(...) needs /dev/fd
	$B ln -s /proc/self/fd /mnt/dev/fd
	$B ln -s /proc/self/fd/0 /mnt/dev/stdin
	$B ln -s /proc/self/fd/1 /mnt/dev/stdout
	$B ln -s /proc/self/fd/2 /mnt/dev/stderr
	$B mount -t devpts devpts /mnt/dev/pts
	$B mount -t tmpfs shm /mnt/dev/shm
	$B mount -t bpf bpf /mnt/sys/fs/bpf
	cwd=$($B cat /cwd)
	$B mkdir -p "/mnt$cwd" 2>/dev/null
	$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose work "/mnt$cwd" ||
		echo "vm: cannot mount $cwd"
	$B mount -t tracefs tracefs /mnt/sys/kernel/tracing 2>/dev/null
	# -w: the wired NICs' driver (no udev here to load it)
	[ -e /wire ] && $B chroot /mnt /sbin/modprobe virtio_net
	$B ip link set lo up
	echo "flowpin-vm-start"
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root TERM=dumb LANG=C.UTF-8 \
		$B chroot /mnt /bin/sh /dev/vmcmd
	rc=$?
else
	echo "vm: cannot mount the host's root"
fi
echo "flowpin-vm-exit: $rc"
$B poweroff -f
EOF
chmod +x "$root/init"
# The kernel loads modules on demand (veth, vrf, ...) by running
# /sbin/modprobe in the initramfs: hand that to the host's modprobe.
mkdir -p "$root/sbin"
printf '#!/bin/busybox sh\nexec /bin/busybox chroot /mnt /sbin/modprobe "$@"\n' > "$root/sbin/modprobe"
chmod +x "$root/sbin/modprobe"

(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$tmp/initrd" || exit 125

accel=${QEMU_ACCEL:-tcg,thread=single}
# A kernel that dies while booting, before the command starts (seen once
# under TCG: an int3 oops in early boot), is booted once more, said here;
# once the command started, its result stands.
for attempt in 1 2; do
timeout --foreground -k 10 "$TIMEOUT" "${run[@]}" qemu-system-x86_64 \
	-accel "$accel" -cpu max -smp "$CPUS" -m "$MEM" \
	-display none -monitor none -serial stdio -no-reboot -net none \
	-kernel "$kernel" -initrd "$tmp/initrd" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" \
	-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=root,mount_tag=host \
	-fsdev local,id=work,path="${PWD//,/,,}",security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=work,mount_tag=work "${nics[@]}" \
	</dev/null 2>&1 | tee "$tmp/console" | grep --line-buffered -v '^flowpin-vm-\(exit: \|start\)'
qrc=${PIPESTATUS[0]}
[ "$qrc" = 124 ] && { echo "boot: $KVER: no answer within ${TIMEOUT}s" >&2; exit 124; }
rc=$(sed -n 's/^flowpin-vm-exit: \([0-9]*\).*/\1/p' "$tmp/console" | tr -d '\r' | tail -n 1)
[ -n "$rc" ] && exit "$rc"
grep -q '^flowpin-vm-start' "$tmp/console" && break
[ "$attempt" = 1 ] && echo "boot: $KVER: the kernel stopped before the command started (above): booting it once more" >&2
done
echo "boot: $KVER: the guest did not run the command (qemu exit $qrc)" >&2
exit 125
