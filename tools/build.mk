# flowpinctl: see and operate a running flowpin through its pinned maps.
#
# The text side (parsing, tables, JSON, Prometheus) is plain C in its own
# objects, tested by test_flowpinctl_text without a kernel;
# test_flowpinctl_netns runs the built binary against pinned maps.
FLOWPINCTL_TEXT_OBJS := $(addprefix $(BUILD)/,flow_text.o ctl_args.o \
	cmd_table.o json_writer.o table.o stats_text.o peers_text.o)
FLOWPINCTL_OBJS := $(addprefix $(BUILD)/,flowpinctl.o cmd_flows.o \
	cmd_status.o cmd_peers.o nexthop_view.o pinned_maps.o) $(FLOWPINCTL_TEXT_OBJS)

PROGS += $(BUILD)/flowpinctl
TESTS += $(BUILD)/test_flowpinctl_text $(BUILD)/test_flowpinctl_netns

$(BUILD)/flowpinctl: $(FLOWPINCTL_OBJS) $(BUILD)/libflowpin.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lm

$(BUILD)/test_flowpinctl_text.o $(BUILD)/test_flowpinctl_netns.o: FP_CFLAGS += -Itools
$(BUILD)/test_flowpinctl_text.o $(BUILD)/test_flowpinctl_netns.o: tools/*.h

$(BUILD)/test_flowpinctl_text: $(BUILD)/test_flowpinctl_text.o $(FLOWPINCTL_TEXT_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ -o $@ -lcmocka -lm

# Runs $(BUILD)/flowpinctl: built first. The fixture's objects (tests/lib/)
# are named here: TEST_OBJS is not set yet when this file is read.
$(BUILD)/test_flowpinctl_netns: $(BUILD)/test_flowpinctl_netns.o \
		$(addprefix $(BUILD)/,fixture.o netns.o packets.o) \
		$(FLOWPINCTL_TEXT_OBJS) $(BUILD)/libflowpin.a | $(BUILD)/flowpinctl
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcmocka -lm
