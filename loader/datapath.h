/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The datapath as flowpind runs it: the BPF object with its maps pinned in
 * bpffs, attached to the ports through libxdp (XDP) or at tc ingress, or
 * adopted from an earlier flowpind that was killed or re-executed.
 */
#ifndef FLOWPIN_DATAPATH_H
#define FLOWPIN_DATAPATH_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <xdp/libxdp.h>

#include "flowpin.h"

struct port_vlan;

struct datapath_opts {
	const char *pin_path;
	__u32 mode; /* XDP_MODE_NATIVE, XDP_MODE_SKB, FP_MODE_TC; XDP_MODE_UNSPEC: auto */
	__u32 max_flows;
	enum withdrawn_policy policy;
	__u64 pin_rate;	 /* new pins per second and CPU; 0: no limit */
	__u64 pin_burst;
	__u32 min_pin_age; /* s: all CPUs make <= max_flows pins per it; 0: no limit */
	__u64 too_big_rate; /* too-big errors per second and CPU; 0: no limit */
	bool sync_pins;	   /* the datapath tells of new pins (pin_events) */
	char *const *ifaces;
	const __u32 *modes; /* each port's (PORT:MODE, else mode); NULL: mode */
	int n_ifaces;
};

struct port {
	char name[IF_NAMESIZE];
	int ifindex;
	bool attached; /* by this process, or adopted */
	bool fresh;    /* attached by this call where nothing ran before */
	__u32 mode;    /* what runs there: an XDP mode, or FP_MODE_TC */
	__u32 want;    /* the mode asked for it (PORT:MODE, else -m): XDP_MODE_UNSPEC is auto */
	bool dispatcher; /* XDP: in libxdp's dispatcher */
	bool made_qdisc; /* tc: this process added the clsact qdisc */
	bool gone;     /* its device was deleted; waiting for one of its name */
	__u8 mac[6];   /* as written in port_macs */
	__u32 l3dom;   /* likewise: its VRF's ifindex, 0: none */
	/* a VLAN device is on it, which auto's choice of mode heeds */
	char vlan[IF_NAMESIZE]; /* its name, "": none (set before attach) */
	/* ... and why XDP would see its frames without their tags, "": it
	 * would not (port_hides_tags(), set with vlan) */
	char vlan_hides[96];
	bool vlan_blind; /* XDP cannot tell its VLANs' frames: out of port_macs */
};

#define DP_MAX_MAPS 24

struct datapath {
	struct flowpin *skel;
	struct xdp_program *prog;	/* what libxdp attaches ... */
	struct bpf_object *attach_obj;	/* ... from this copy of the object */
	char pin_path[PATH_MAX];
	int lock_fd; /* flock on the pin directory: one daemon per maps */
	bool made_dir;
	bool pinned_now[DP_MAX_MAPS]; /* maps this process pinned */
	bool reused[DP_MAX_MAPS];     /* maps found pinned */
	bool repin[DP_MAX_MAPS];      /* found pinned, of another build: replaced */
	struct port *ports;
	int n_ports;
	__u32 status_mode; /* for daemon_status: the first port's mode, or auto's choice for it */
	__u64 obj_hash;
	struct daemon_status prev; /* what the last daemon wrote, if any */
	bool have_prev;
	__u32 epoch; /* the route epoch last written */
	struct port_vlan *vlans; /* VLAN devices on ports, as in the maps */
	int n_vlans;
	bool vlans_mirrored; /* port_vlans_mirror() ran: earlier images' entries are gone */
};

/*
 * Resolve the ports, make sure a bpffs is there, reuse maps pinned by an
 * earlier daemon when their layout matches, load the program. Nothing is
 * attached yet. On error, nothing is left behind.
 */
int datapath_open(struct datapath *dp, const struct datapath_opts *o);

/*
 * Attach to every port (or adopt the flowpin already there), fill tx_ports,
 * pin the maps. On error, what this call did is undone.
 */
int datapath_attach(struct datapath *dp);

/*
 * A port's device was deleted: its program and tx_ports entry went with it.
 * When a device of that name comes back, it gets flowpin again.
 */
void datapath_port_gone(struct datapath *dp, struct port *p);
int datapath_port_back(struct datapath *dp, struct port *p, int ifindex,
		       __u32 l3dom);

/*
 * A port of an earlier image that this one does not serve (the settings
 * changed): take this datapath's flowpin off it, if it is there.
 */
void datapath_release(struct datapath *dp, const char *name);

/* Remove the program from every port (the kernel forwards alone again). */
void datapath_detach(struct datapath *dp);

void datapath_close(struct datapath *dp);

int datapath_write_status(struct datapath *dp, const struct daemon_status *st);

/* Was this map found pinned (an earlier run's, with what it held)? */
bool datapath_map_reused(const struct datapath *dp, const struct bpf_map *map);

/* flowpind is alive: the datapath pins new flows for another FP_DAEMON_SILENT_S. */
int datapath_beat(struct datapath *dp);

/*
 * Move the route epoch (route_epoch), with flags (FP_EPOCH_*): every pinned
 * flow is asked of the FIB again on its next packet.
 */
int datapath_move_epoch(struct datapath *dp, __u32 flags);

/*
 * A port's MAC (ip link set address: frames now come to this one) or VRF
 * (ip link set master: its flows are keyed apart) changed.
 */
int datapath_set_port(struct datapath *dp, struct port *p, const __u8 *mac,
		      __u32 l3dom);

/* The port of this ifindex whose device is there (not gone), or NULL. */
struct port *datapath_port(const struct datapath *dp, __u32 ifindex);

/* A device's driver, as ethtool -i names it; "" when it cannot be read. */
#define PORT_DRIVER_LEN 33 /* ethtool_drvinfo's driver, and a NUL */
void port_driver(const char *name, char *driver, size_t len);
/* Is the device a veth (by its driver)? */
bool port_is_veth(const char *name);

#endif
