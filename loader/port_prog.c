// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "flowpin.h"
#include "port_prog.h"
#include "tc_hook.h"

struct xdp_multiprog *port_prog_xdp_all(int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);

	return libxdp_get_error(mp) ? NULL : mp;
}

struct xdp_program *port_prog_xdp_flowpin(struct xdp_multiprog *mp)
{
	struct xdp_program *p;

	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		return p && !strcmp(xdp_program__name(p), FP_PROG_XDP) ? p : NULL;
	}
	for (p = xdp_multiprog__next_prog(NULL, mp); p;
	     p = xdp_multiprog__next_prog(p, mp))
		if (!strcmp(xdp_program__name(p), FP_PROG_XDP))
			return p;
	return NULL;
}

__u32 port_prog_xdp_id(int ifindex)
{
	struct xdp_multiprog *mp = port_prog_xdp_all(ifindex);
	struct xdp_program *fp = mp ? port_prog_xdp_flowpin(mp) : NULL;
	__u32 id = fp ? xdp_program__id(fp) : 0;

	xdp_multiprog__close(mp);
	return id;
}

void port_prog_find(int ifindex, struct port_prog *pp)
{
	struct xdp_multiprog *mp = port_prog_xdp_all(ifindex);
	struct xdp_program *p;
	__u32 tc_id;

	memset(pp, 0, sizeof(*pp));
	if (mp) {
		p = xdp_multiprog__main_prog(mp);
		pp->attached = p != NULL;
		pp->dispatcher = !xdp_multiprog__is_legacy(mp);
		pp->mode = xdp_multiprog__attach_mode(mp);
		if (p) {
			snprintf(pp->prog_name, sizeof(pp->prog_name), "%s",
				 xdp_program__name(p));
			pp->prog_id = xdp_program__id(p);
		}
		p = port_prog_xdp_flowpin(mp);
		if (p) {
			pp->flowpin = true;
			pp->prog_id = xdp_program__id(p);
		}
		xdp_multiprog__close(mp);
	}
	if (pp->flowpin)
		return;
	/* flowpin at tc ingress, in its own place there */
	tc_id = tc_hook_prog_id(ifindex);
	if (tc_id) {
		pp->attached = pp->flowpin = true;
		pp->dispatcher = false;
		pp->mode = FP_MODE_TC;
		pp->prog_id = tc_id;
	}
}

int port_prog_xdp_detach(int ifindex, __u32 *mode)
{
	struct xdp_multiprog *mp = port_prog_xdp_all(ifindex);
	struct xdp_program *fp = mp ? port_prog_xdp_flowpin(mp) : NULL;
	enum xdp_attach_mode m;
	int err;

	if (!fp) {
		xdp_multiprog__close(mp);
		return -ENOENT;
	}
	m = xdp_multiprog__attach_mode(mp);
	err = xdp_multiprog__is_legacy(mp) ? xdp_multiprog__detach(mp) :
					     xdp_program__detach(fp, ifindex, m, 0);
	xdp_multiprog__close(mp);
	if (!err && mode)
		*mode = m;
	return err;
}
