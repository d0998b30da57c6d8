# SPDX-License-Identifier: GPL-2.0
# make          build everything into build/
# make test     run every test tier on this kernel (root; installs missing packages first)
# make test-kernels  the kernel's tests on Debian's 6.1 and 6.12, under qemu (CI runs both)
# make deps     install the Debian packages flowpin needs
# V=1           show the commands
#
# Each folder's build.mk adds its own targets; the rules are here.

BUILD    ?= build
# SANITIZE=1: userspace with ASan and UBSan, in its own build folder (set
# before anything below expands $(BUILD), such as FP_CFLAGS' -I).
ifeq ($(SANITIZE),1)
BUILD    := build-san
SAN_CFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	      -fno-sanitize-recover=undefined
export ASAN_OPTIONS ?= abort_on_error=0:detect_leaks=1
endif
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH_INC := /usr/include/$(shell $(CC) -dumpmachine)

PKGS     := libbpf libxdp libmnl libsodium
# CFLAGS, CPPFLAGS and LDFLAGS are the user's (or dpkg-buildflags'): what
# the build needs is in FP_CFLAGS, so `make CFLAGS=...` keeps it.
# WERROR=0 turns warnings back into warnings (a newer compiler's, say).
CFLAGS   ?= -O2 -g
WERROR   ?= 1
FP_CFLAGS := -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) \
	     -Iinclude -Iloader -I$(BUILD) $(SAN_CFLAGS)
ALL_CFLAGS = $(CPPFLAGS) $(FP_CFLAGS) $(CFLAGS)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# The source folder is mapped out of the debug info: the embedded object
# does not depend on where the tree was built.
BPF_CFLAGS := -target bpf -mcpu=v3 -g -O2 -Wall -Werror -Iinclude -I$(ARCH_INC) \
	      -fdebug-prefix-map=$(CURDIR)=.

DEB_PKGS := clang llvm bpftool libbpf-dev libxdp-dev xdp-tools libcmocka-dev \
	    libmnl-dev libelf-dev zlib1g-dev pkg-config iproute2 ethtool make gcc \
	    libclang-rt-14-dev util-linux systemd iputils-ping mandoc nftables frr \
	    libsodium-dev
# The kernel matrix: qemu, an initramfs' makings, and Debian 12's kernels
# (6.1 and 6.12), installed as files for qemu only: no initrd, no boot entry.
VM_PKGS  := qemu-system-x86 busybox-static cpio xz-utils kmod \
	    linux-image-amd64 linux-image-6.12-amd64

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all progs clean test test-kernels deps check-deps deb test-deb FORCE

# The version: VERSION, and in a git checkout the commit it was built from.
VERSION  := $(shell cat VERSION)$(shell git describe --always --dirty \
	      --match none 2>/dev/null | sed 's/^/+g/')

# Filled in by the build.mk files.
PROGS :=
TESTS :=
LIB_OBJS :=

all: build-all

include bpf/build.mk loader/build.mk tools/build.mk tests/build.mk tests/scenario.mk dist/build.mk bench/build.mk

build-all: $(PROGS) $(TESTS)

# Only what make install ships (the Debian package builds this).
progs: $(PROGS)

$(BUILD):
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/*.h include/flowpin.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

# Rewritten only when the version changes, so nothing rebuilds otherwise.
$(BUILD)/version.h: FORCE | $(BUILD)
	$(Q)echo '#define FP_VERSION "$(VERSION)"' | cmp -s - $@ || \
		echo '#define FP_VERSION "$(VERSION)"' > $@
FORCE:

$(BUILD)/%.o: loader/%.c loader/*.h include/flowpin.h $(SKELS) $(BUILD)/version.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/%.o: tools/%.c tools/*.h loader/*.h include/flowpin.h $(BUILD)/version.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itools -c $< -o $@

# Test programs, and the helpers in tests/lib/ they and bench/ share.
$(BUILD)/%.o: tests/%.c tests/lib/*.h loader/*.h include/flowpin.h $(SKELS) \
		$(BUILD)/version.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib -c $< -o $@

$(BUILD)/%.o: tests/lib/%.c tests/lib/*.h loader/*.h include/flowpin.h $(SKELS) \
		$(BUILD)/version.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib -c $< -o $@

$(BUILD)/libflowpin.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

# Building the Debian package (make deb) and checking it.
PKG_PKGS := debhelper dpkg-dev lintian

# Install what is missing, so `make test` works on a fresh Debian 12.
check-deps:
	@dpkg -s $(DEB_PKGS) $(VM_PKGS) $(PKG_PKGS) >/dev/null 2>&1 || \
		$(MAKE) --no-print-directory deps

deps:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEB_PKGS) $(PKG_PKGS)
	DEBIAN_FRONTEND=noninteractive INITRD=No apt-get install -y -q \
		--no-install-recommends $(VM_PKGS)

# make test runs the host's tests (well under 15 minutes); the kernel
# matrix (about 16 more under TCG) is make test-kernels, or TEST_KERNELS=1.
TEST_KERNELS ?= 0

# run-all is told every program this build makes: one that is missing
# counts as a failure, not as a test less.
test: check-deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)tests/run-all $(BUILD) $(notdir $(TESTS))
ifeq ($(TEST_KERNELS),1)
	$(Q)tests/vm/kernels.sh --build $(BUILD)
endif

# Boot Debian's kernels under qemu and run the kernel's tests in each.
test-kernels: check-deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)tests/vm/kernels.sh --build $(BUILD)

# flowpin_VERSION_ARCH.deb in $(BUILD)/, with Debian's own tools.
DEB_VERSION = $(shell dpkg-parsechangelog -S Version)
DEB_ARCH = $(shell dpkg-architecture -q DEB_HOST_ARCH)
deb: check-deps | $(BUILD)
	dpkg-buildpackage -b -us -uc
	mv ../flowpin_$(DEB_VERSION)_$(DEB_ARCH).deb \
	   ../flowpin-dbgsym_$(DEB_VERSION)_$(DEB_ARCH).deb \
	   ../flowpin_$(DEB_VERSION)_$(DEB_ARCH).buildinfo \
	   ../flowpin_$(DEB_VERSION)_$(DEB_ARCH).changes $(BUILD)/
	lintian --fail-on error $(BUILD)/flowpin_$(DEB_VERSION)_$(DEB_ARCH).deb

# Install the package, run it, verify its unit, purge it: nothing may stay.
test-deb: deb
	tests/deb.sh $(BUILD)/flowpin_$(DEB_VERSION)_$(DEB_ARCH).deb

clean:
	rm -rf $(BUILD)
