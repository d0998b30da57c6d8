# libflowpin.a: what flowpind, flowpinctl and the tests share.
LIB_OBJS += $(BUILD)/nexthop_table.o $(BUILD)/model.o $(BUILD)/reconcile.o $(BUILD)/follow.o $(BUILD)/log.o \
	    $(BUILD)/rtnl.o $(BUILD)/datapath.o $(BUILD)/kernel.o \
	    $(BUILD)/tc_hook.o $(BUILD)/port_prog.o $(BUILD)/pin_dir.o $(BUILD)/bypass.o \
	    $(BUILD)/settings.o $(BUILD)/sync_wire.o $(BUILD)/sync_pace.o $(BUILD)/sync_repair.o $(BUILD)/sync.o \
	    $(BUILD)/route_epoch.o $(BUILD)/pin_touch.o $(BUILD)/flow_cache.o $(BUILD)/port_vlans.o $(BUILD)/port_bonds.o \
	    $(BUILD)/ip_tunnels.o
PROGS += $(BUILD)/flowpind

$(BUILD)/flowpind: $(BUILD)/flowpind.o $(BUILD)/options.o $(BUILD)/libflowpin.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)
