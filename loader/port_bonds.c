// SPDX-License-Identifier: GPL-2.0
/*
 * The members of flowpind's ports that are bonds, as the datapath needs
 * them: bond_members (member ifindex -> the bond's). A bond runs its XDP
 * program on each member, where a frame's ingress is the member; the
 * datapath takes such a frame as the bond's. Kept equal to the model.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "flowpin.skel.h"
#include "log.h"
#include "port_bonds.h"

static bool is_bond_port(const struct datapath *dp, const struct model *m,
			 __u32 ifindex)
{
	const struct model_link *l = model_link(m, ifindex);

	return l && !strcmp(l->kind, "bond") && datapath_port(dp, ifindex);
}

int port_bonds_mirror(struct datapath *dp, const struct model *m)
{
	int fd = bpf_map__fd(dp->skel->maps.bond_members);
	__u32 key, *prev = NULL, bond;
	int err = 0;

	/* members that left (or whose bond is no port any more) go */
	while (!bpf_map_get_next_key(fd, prev, &key)) {
		const struct model_link *l = model_link(m, key);

		if (!l || !bpf_map_lookup_elem(fd, &key, &bond) ||
		    l->master != bond || !is_bond_port(dp, m, bond)) {
			bpf_map_delete_elem(fd, &key);
			continue; /* key is gone: the walk starts over */
		}
		prev = &key;
	}
	for (int i = 0; i < m->n_links; i++) {
		const struct model_link *l = &m->links[i];
		__u32 member = l->ifindex, have;

		if (!l->master || !is_bond_port(dp, m, l->master))
			continue;
		if (!bpf_map_lookup_elem(fd, &member, &have) && have == l->master)
			continue;
		bond = l->master;
		if (bpf_map_update_elem(fd, &member, &bond, BPF_ANY)) {
			pr_warn("cannot record %s as a member of bond %u: %s; XDP hands its frames to the kernel\n",
				l->name, bond, strerror(errno));
			err = err ?: -errno;
			continue;
		}
		pr_info("%s is a member of bond %s: XDP takes its frames as the bond's\n",
			l->name, model_link(m, bond)->name);
	}
	return err;
}
