# The datapath (XDP and tc), the tags XDP cannot write in place (devmap
# programs) and pin sync's touch program, with their skeletons.
SKELS += $(BUILD)/flowpin.skel.h $(BUILD)/pin_touch.skel.h $(BUILD)/vlan_tag.skel.h
