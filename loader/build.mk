# libflowpin.a: what flowpind, flowpinctl and the tests share.
LIB_OBJS += $(BUILD)/nexthop_table.o $(BUILD)/model.o
