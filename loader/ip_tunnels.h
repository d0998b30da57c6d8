/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's IP tunnels, into the datapath's ip_tunnel_tx. */
#ifndef FLOWPIN_IP_TUNNELS_H
#define FLOWPIN_IP_TUNNELS_H

#include "datapath.h"
#include "model.h"

/*
 * Make ip_tunnel_tx hold the model's IP tunnels that are up: new ones
 * written (one line each), gone or down ones removed (an earlier image's
 * too). The first error, after every tunnel was tried.
 */
int ip_tunnels_mirror(struct datapath *dp, const struct model *m);

#endif
