# make bench (issue 6): not part of make test; test_bench_smoke is.
#
# bench/NAME.bpf.c -> $(BUILD)/bench_NAME.bpf.o (+ skeleton),
# bench/NAME.c -> $(BUILD)/bench_NAME.o, all linked into flowpin_bench.
.PHONY: bench

BENCH_BPF_NAMES := driver p0 xdp_ref models gen sink
BENCH_SKELS := $(BENCH_BPF_NAMES:%=$(BUILD)/bench_%.skel.h)
BENCH_OBJS := $(addprefix $(BUILD)/bench_,main.o util.o maps.o driver.o cost.o models.o pps.o mem.o cp.o sync.o)
BENCH_ARGS ?=

$(BUILD)/bench_%.bpf.o: bench/%.bpf.c bench/*.h bpf/*.h include/flowpin.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Ibpf -Ibench -c $< -o $@

$(BUILD)/bench_%.o: bench/%.c bench/*.h tests/lib/*.h loader/*.h tools/stats_text.h include/flowpin.h \
		$(SKELS) $(BENCH_SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Ibench -Itests/lib -Itools -c $< -o $@

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

# Section 2 where the kernel refuses the live-frames generator (EPERM):
# the smoke run must count it as skipped, with the reason, not as passed.
$(BUILD)/bench_refuse: bench/refuse.c | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< -o $@

TESTS += $(BUILD)/test_bench_refused
$(BUILD)/test_bench_refused: $(BUILD)/flowpin_bench $(BUILD)/bench_refuse $(BUILD)/flowpind | $(BUILD)
	$(call msg,GEN,$@)
	$(Q)printf '%s\n' '#!/bin/sh' \
		'out=$$("$(abspath $(BUILD))/bench_refuse" "$(abspath $(BUILD))/flowpin_bench" --smoke --sections 2 --build "$(abspath $(BUILD))" "$$@" 2>&1); rc=$$?' \
		'printf "%s\n" "$$out"' \
		'if [ $$rc = 0 ] && printf "%s\n" "$$out" | tail -n 1 | grep -q "^bench_smoke: [0-9]* passed, 0 failed, 1 skipped (10 routes: the kernel refused the live-frames generator"; then' \
		'	echo "bench_refused: 1 passed, 0 failed"; else' \
		'	echo "bench_refused: 0 passed, 1 failed (section 2 did not say it was skipped, or failed checks; exit $$rc)"; exit 1; fi' > $@
	$(Q)chmod +x $@

# The committed figures make bench-compare holds a run against.
BENCH_BASELINE ?= bench/baseline.tsv
.PHONY: bench-compare

bench: check-deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)$(BUILD)/flowpin_bench --build $(BUILD) --out $(BUILD)/bench.md \
		--results $(BUILD)/bench.tsv $(BENCH_ARGS)

# A whole run (or BENCH_ARGS=--sections ...) against $(BENCH_BASELINE):
# prints each figure more than 20% worse and each target no longer met,
# and fails if any. Not part of make test.
bench-compare: check-deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)$(BUILD)/flowpin_bench --build $(BUILD) --out $(BUILD)/bench.md \
		--results $(BUILD)/bench.tsv --compare $(BENCH_BASELINE) $(BENCH_ARGS)
