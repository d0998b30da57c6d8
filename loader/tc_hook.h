/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flowpin's filter at a port's tc ingress hook: one direct-action BPF
 * filter with flowpin's handle and priority on the port's clsact qdisc.
 * Other filters and the qdisc's other users are left alone.
 */
#ifndef FLOWPIN_TC_HOOK_H
#define FLOWPIN_TC_HOOK_H

#include <stdbool.h>
#include <linux/types.h>

/* The program at flowpin's place on this port's ingress; 0 when none. */
__u32 tc_hook_prog_id(int ifindex);

/*
 * Put prog_fd there, replacing whatever program held the place. The clsact
 * qdisc is added when missing; *made_qdisc says so.
 */
int tc_hook_attach(int ifindex, int prog_fd, bool *made_qdisc);

/* Take flowpin's filter off; the qdisc too when made_qdisc. */
int tc_hook_detach(int ifindex, bool made_qdisc);

#endif
