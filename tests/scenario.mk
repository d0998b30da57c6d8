# Scenario suite and make demo (issue 5): real kernel TCP connections
# through network namespaces, with the kernel alone and with flowpind.
#
# make test    runs $(BUILD)/test_scenarios with every other test program
# make demo    the add-a-backend and drain scenarios, kernel vs flowpin
.PHONY: demo

SCENARIO_BINS := $(BUILD)/scenario_echo $(BUILD)/scenario_client $(BUILD)/scenario_stray \
		 $(BUILD)/scenario_epoch_ahead
# Not in the sanitizer build: the suite runs the same daemon code as
# test_flowpind and test_faults do there, and takes minutes.
ifneq ($(SANITIZE),1)
TESTS += $(BUILD)/test_scenarios $(BUILD)/test_mutants $(BUILD)/test_fleet
endif

# tests/scenario/NAME.c -> $(BUILD)/scenario_NAME, one file each.
$(BUILD)/scenario_%: tests/scenario/%.c | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< -o $@

# The stray segments of the fleet suite's mid-stream case, built by the
# packet tests' builder.
$(BUILD)/scenario_stray: tests/scenario/stray.c $(BUILD)/packets.o | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib $(LDFLAGS) $^ -o $@

# The fleet suite's clock-back case: a stopped flowpind's last epoch moved
# ahead in its maps.
$(BUILD)/scenario_epoch_ahead: tests/scenario/epoch_ahead.c | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< -o $@ -lbpf

# run-all runs executables: a wrapper that knows where the suite lives.
$(BUILD)/test_scenarios: tests/scenario/scenarios.sh $(SCENARIO_BINS) | $(BUILD)
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec "%s" --build "%s" "$$@"\n' \
		"$(CURDIR)/tests/scenario/scenarios.sh" "$(abspath $(BUILD))" > $@
	$(Q)chmod +x $@

# Three routers behind one ECMP upstream, with and without pin sync.
$(BUILD)/test_fleet: tests/scenario/fleet.sh $(SCENARIO_BINS) | $(BUILD)
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec "%s" --build "%s" "$$@"\n' \
		"$(CURDIR)/tests/scenario/fleet.sh" "$(abspath $(BUILD))" > $@
	$(Q)chmod +x $@

# Broken daemons the suite must catch (tests/mutants.sh).
$(BUILD)/test_mutants: tests/mutants.sh $(SCENARIO_BINS) | $(BUILD)
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec "%s" "%s" "$$@"\n' \
		"$(CURDIR)/tests/mutants.sh" "$(abspath $(BUILD))" > $@
	$(Q)chmod +x $@

demo: check-deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)tests/scenario/scenarios.sh --build $(BUILD) --demo
