# The datapath (XDP and tc) and pin sync's touch program, with their skeletons.
SKELS += $(BUILD)/flowpin.skel.h $(BUILD)/pin_touch.skel.h
