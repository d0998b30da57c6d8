# make bench (issue 6): not part of make test; test_bench_smoke is.
#
# bench/NAME.bpf.c -> $(BUILD)/bench_NAME.bpf.o (+ skeleton),
# bench/NAME.c -> $(BUILD)/bench_NAME.o, all linked into flowpin_bench.
.PHONY: bench

BENCH_BPF_NAMES := driver p0 xdp_ref gen sink
BENCH_SKELS := $(BENCH_BPF_NAMES:%=$(BUILD)/bench_%.skel.h)
BENCH_OBJS := $(addprefix $(BUILD)/bench_,main.o util.o cost.o pps.o mem.o cp.o sync.o)
BENCH_ARGS ?=

$(BUILD)/bench_%.bpf.o: bench/%.bpf.c bench/*.h bpf/*.h include/flowpin.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Ibpf -Ibench -c $< -o $@

$(BUILD)/bench_%.o: bench/%.c bench/*.h tests/*.h loader/*.h tools/stats_text.h include/flowpin.h \
		$(SKELS) $(BENCH_SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Ibench -Itests -Itools -c $< -o $@

$(BUILD)/flowpin_bench: $(BENCH_OBJS) $(addprefix $(BUILD)/,fixture.o netns.o packets.o sync_peer.o) \
		$(FLOWPINCTL_TEXT_OBJS) \
		$(BUILD)/libflowpin.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lpthread -lm

# The smoke run (tiny sizes, about 20 s) in make test.
TESTS += $(BUILD)/test_bench_smoke
$(BUILD)/test_bench_smoke: $(BUILD)/flowpin_bench $(BUILD)/flowpind | $(BUILD)
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec "%s" --smoke --build "%s" "$$@"\n' \
		"$(abspath $(BUILD))/flowpin_bench" "$(abspath $(BUILD))" > $@
	$(Q)chmod +x $@

bench: check-deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)$(BUILD)/flowpin_bench --build $(BUILD) --out $(BUILD)/bench.md $(BENCH_ARGS)
