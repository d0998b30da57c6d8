/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flowpin on a port: which program runs at its XDP hook (alone, or in
 * libxdp's dispatcher) and at its tc ingress hook, and taking flowpin's
 * XDP program off. flowpind and flowpinctl both ask here; tc_hook.h
 * attaches and detaches at tc.
 */
#ifndef FLOWPIN_PORT_PROG_H
#define FLOWPIN_PORT_PROG_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/bpf.h>
#include <xdp/libxdp.h>

struct port_prog {
	bool attached;	 /* some XDP program is there, or flowpin at tc */
	bool flowpin;	 /* and flowpin is it, or one of the dispatcher's */
	bool dispatcher; /* XDP, through libxdp's dispatcher */
	__u32 mode;	 /* an XDP mode, or FP_MODE_TC */
	__u32 prog_id;	 /* flowpin's; else the XDP program's */
	char prog_name[BPF_OBJ_NAME_LEN]; /* the XDP program's */
};

/* What runs on the port: flowpin at XDP first, then at tc. */
void port_prog_find(int ifindex, struct port_prog *pp);

/* The port's XDP programs as libxdp sees them, or NULL when none. */
struct xdp_multiprog *port_prog_xdp_all(int ifindex);
/* flowpin among them (legacy, or in the dispatcher), or NULL. */
struct xdp_program *port_prog_xdp_flowpin(struct xdp_multiprog *mp);
/* The id of flowpin's XDP program on the port, or 0. */
__u32 port_prog_xdp_id(int ifindex);

/*
 * Take flowpin's XDP program off the port, leaving others. 0, and the mode
 * it ran in (mode may be NULL); 1 when it is not there; or -errno.
 */
int port_prog_xdp_detach(int ifindex, __u32 *mode);

/* Does the program with this id use the map of this fd? */
bool port_prog_uses_map(__u32 prog_id, int map_fd);
/*
 * The running flowpind, other than this process, that a flowpin program
 * belongs to: the one holding the program's flow_pins map. 0 when none
 * does (it stopped or was killed: its program is ours to replace).
 */
pid_t port_prog_owner(__u32 prog_id);

#endif /* FLOWPIN_PORT_PROG_H */
