/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VLAN sub-interfaces of flowpind's ports, mirrored from the model
 * into the datapath's vlan_rx, vlan_tx and port_macs.
 */
#ifndef FLOWPIN_PORT_VLANS_H
#define FLOWPIN_PORT_VLANS_H

#include <stdbool.h>
#include <stddef.h>

#include "datapath.h"
#include "model.h"

/* One VLAN device on a port, as written in the maps. */
struct port_vlan {
	__u32 ifindex; /* the sub-interface */
	__u32 port;    /* its port's ifindex */
	__be16 proto;  /* ETH_P_8021Q or ETH_P_8021AD, network order */
	__u16 vid;
	bool egress_qos;  /* an egress-qos-map, */
	__u16 egress_pcp; /* ... its PCPs as struct vlan_tx holds them */
	bool ingress_qos; /* an ingress-qos-map */
	__u32 l3dom;   /* the sub-interface's VRF, 0: none */
	__u8 mac[FP_ETH_ALEN];
	char name[IF_NAMESIZE];
};

/*
 * Make the maps hold the VLAN devices the model has on attached ports that
 * the kernel routes on (up, not a port of a bridge, bond or team): new and
 * changed ones written, gone ones removed. A port running XDP that has a
 * VLAN and hides tags (port_hides_tags()) is left to the kernel
 * (datapath_set_port()) until the VLAN goes. The first error, after every
 * VLAN was tried.
 */
int port_vlans_mirror(struct datapath *dp, const struct model *m);

/*
 * Note in p, before it is attached, the first VLAN device on it (ifindex,
 * its ifindex now) and whether XDP would see that VLAN's frames without
 * their tags (port_hides_tags()).
 */
void port_vlan_note(const struct model *m, struct port *p, int ifindex);

/* A VLAN device on ifindex in the model, or NULL. */
const struct model_link *port_vlan_first(const struct model *m, int ifindex);

/*
 * Can a tagged frame reach XDP on this device with its tag outside the
 * frame? The reason, in buf, when the driver takes tags out on receive
 * (ethtool's rxvlan) or the device is a veth (its peer's VLAN device may
 * have left the tag outside); of a bond, when one of its members does (XDP
 * runs on them); NULL when tags stay in the frame.
 */
const char *port_hides_tags(const struct model *m, const char *name,
			    char *buf, size_t len);

#endif
