/* SPDX-License-Identifier: GPL-2.0 */
/* The members of flowpind's bond ports, into the datapath's bond_members. */
#ifndef FLOWPIN_PORT_BONDS_H
#define FLOWPIN_PORT_BONDS_H

#include "datapath.h"
#include "model.h"

/*
 * Make bond_members hold the model's members of ports that are bonds: new
 * ones written, gone ones removed (an earlier image's too). The first
 * error, after every member was tried.
 */
int port_bonds_mirror(struct datapath *dp, const struct model *m);

#endif
