# Test programs; tests/run-all runs every $(BUILD)/test_* it finds.
TESTS += $(BUILD)/test_model $(BUILD)/test_kernel $(BUILD)/test_nexthop_table \
	 $(BUILD)/test_route_epoch \
	 $(BUILD)/test_sync_wire $(BUILD)/test_sync_pace $(BUILD)/test_sync_repair \
	 $(BUILD)/test_faults $(BUILD)/test_packets
# Not in the sanitizer build: they run the BPF program, which the sanitizers
# do not see, at length; test_packets runs the same fixture code there.
ifneq ($(SANITIZE),1)
TESTS += $(BUILD)/test_random_frames $(BUILD)/test_pinning $(BUILD)/test_too_big \
	 $(BUILD)/test_drop_rule $(BUILD)/test_checksum
endif
$(BUILD)/test_checksum: | $(BUILD)/csum_check.bpf.o
# The helpers in tests/lib/, linked into every test program.
TEST_OBJS := $(BUILD)/fixture.o $(BUILD)/netns.o $(BUILD)/packets.o $(BUILD)/daemon.o \
	     $(BUILD)/sync_peer.o \
	     $(BUILD)/verdict_model.o

$(BUILD)/test_%: $(BUILD)/test_%.o $(TEST_OBJS) $(BUILD)/libflowpin.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

TESTS += $(BUILD)/test_flowpind $(BUILD)/test_vrf $(BUILD)/test_sync
$(BUILD)/test_flowpind $(BUILD)/test_faults $(BUILD)/test_vrf $(BUILD)/test_sync: | $(BUILD)/flowpind $(BUILD)/xdp_pass.bpf.o

$(BUILD)/xdp_pass.bpf.o $(BUILD)/tc_count.bpf.o $(BUILD)/csum_check.bpf.o: $(BUILD)/%.bpf.o: tests/%.bpf.c | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# Shell test programs run from the source tree.
TESTS += $(BUILD)/test_unit
$(BUILD)/test_unit: tests/unit.sh $(BUILD)/flowpind | $(BUILD)
	$(Q)install -m 0755 $< $@

# The parser under libFuzzer, ASan and UBSan (clang only): sanitized on its
# own, so not again in the sanitizer build.
ifneq ($(SANITIZE),1)
TESTS += $(BUILD)/test_fuzz
endif
$(BUILD)/fuzz_parse: tests/fuzz_parse.c bpf/parse.h include/flowpin.h | $(BUILD)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Wall -Werror \
		-Iinclude -Ibpf -I$(ARCH_INC) $< -o $@

# Valid frames of every kind, from the packet tests' builder (tests/lib/), as
# its seeds.
$(BUILD)/fuzz_seeds: $(BUILD)/fuzz_seeds.o $(BUILD)/packets.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ -o $@

$(BUILD)/test_fuzz: tests/fuzz.sh $(BUILD)/fuzz_parse $(BUILD)/fuzz_seeds | $(BUILD)
	$(Q)install -m 0755 $< $@

# Pin sync's receive parser, the same way; its seeds from the same file.
ifneq ($(SANITIZE),1)
TESTS += $(BUILD)/test_fuzz_sync
endif
$(BUILD)/fuzz_sync: tests/fuzz_sync.c loader/sync_wire.c loader/sync_wire.h include/flowpin.h | $(BUILD)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Wall -Werror \
		-Iinclude -Iloader -I$(ARCH_INC) tests/fuzz_sync.c loader/sync_wire.c \
		-o $@ -lsodium

$(BUILD)/fuzz_sync_seeds: tests/fuzz_sync.c $(BUILD)/sync_wire.o | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -DFUZZ_SEEDS $(LDFLAGS) $^ -o $@ -lsodium

$(BUILD)/test_fuzz_sync: tests/fuzz_sync.sh $(BUILD)/fuzz_sync $(BUILD)/fuzz_sync_seeds | $(BUILD)
	$(Q)install -m 0755 $< $@

# flowpind beside another XDP program, through libxdp's dispatcher.
TESTS += $(BUILD)/test_coexist
$(BUILD)/test_coexist: tests/coexist.sh | $(BUILD)/flowpind $(BUILD)/flowpinctl $(BUILD)/xdp_pass.bpf.o \
	$(BUILD)/tc_count.bpf.o
	$(Q)install -m 0755 $< $@

# A UDP tunnel through the router at tc, its segments bigger than a link:
# the datapath's check (flowpind only attaches, as test_coexist's does).
ifneq ($(SANITIZE),1)
TESTS += $(BUILD)/test_tunnel
endif
$(BUILD)/test_tunnel: tests/tunnel.sh | $(BUILD)/flowpind $(BUILD)/flowpinctl \
	$(BUILD)/scenario_echo $(BUILD)/scenario_client
	$(Q)install -m 0755 $< $@

# The BPF objects build without glibc's 32-bit headers (a fresh Debian 12).
TESTS += $(BUILD)/test_bpf_build
$(BUILD)/test_bpf_build: tests/bpf_build.sh | $(BUILD)
	$(Q)install -m 0755 $< $@
