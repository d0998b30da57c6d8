# SPDX-License-Identifier: GPL-2.0
# make          build everything into build/
# make test     run every test tier (root; installs missing packages first)
# make deps     install the Debian packages flowpin needs
# V=1           show the commands
#
# Each folder's build.mk adds its own targets; the rules are here.

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH_INC := /usr/include/$(shell $(CC) -dumpmachine)

PKGS     := libbpf libxdp libmnl
CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Werror -Iinclude -Iloader -I$(BUILD)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null)
BPF_CFLAGS := -target bpf -mcpu=v3 -g -O2 -Wall -Werror -Iinclude -I$(ARCH_INC)

DEB_PKGS := clang llvm bpftool libbpf-dev libxdp-dev xdp-tools libcmocka-dev \
	    libmnl-dev libelf-dev zlib1g-dev pkg-config iproute2 ethtool make gcc \
	    libclang-rt-14-dev util-linux systemd

# SANITIZE=1: userspace with ASan and UBSan, in its own build folder.
ifeq ($(SANITIZE),1)
BUILD    := build-san
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=undefined
export ASAN_OPTIONS ?= abort_on_error=0:detect_leaks=1
endif

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean test deps check-deps

# Filled in by the build.mk files.
PROGS :=
TESTS :=
LIB_OBJS :=

all: build-all

include bpf/build.mk loader/build.mk tools/build.mk tests/build.mk tests/scenario.mk dist/build.mk bench/build.mk

build-all: $(PROGS) $(TESTS)

$(BUILD):
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/*.h include/flowpin.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

$(BUILD)/%.o: loader/%.c loader/*.h include/flowpin.h $(SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: tools/%.c tools/*.h loader/*.h include/flowpin.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itools -c $< -o $@

$(BUILD)/%.o: tests/%.c tests/*.h loader/*.h include/flowpin.h $(SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/libflowpin.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

# Install what is missing, so `make test` works on a fresh Debian 12.
check-deps:
	@dpkg -s $(DEB_PKGS) >/dev/null 2>&1 || $(MAKE) --no-print-directory deps

deps:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEB_PKGS)

test: check-deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)tests/run-all $(BUILD)

clean:
	rm -rf $(BUILD)
