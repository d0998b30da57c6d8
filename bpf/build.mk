# The XDP program and its skeleton.
SKELS += $(BUILD)/flowpin.skel.h
