// SPDX-License-Identifier: GPL-2.0
/*
 * The IP tunnels flowpin sends to at tc, as the datapath needs them:
 * ip_tunnel_tx (ifindex -> ifindex). Every GRE, IPIP, ip6tnl, ip6gre or
 * SIT device of the namespace with one fixed remote, and every WireGuard
 * device, that is up (model_link_ip_tunnel()): a next hop out of one is pinned
 * like any other, and the device encapsulates what tc redirects to it, as
 * it does what the kernel's forwarding hands it. They are not ports: no
 * hook runs on them (what comes out of a tunnel has no Ethernet header),
 * and XDP cannot send to them. Kept equal to the model.
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>

#include "flowpin.skel.h"
#include "ip_tunnels.h"
#include "log.h"

/*
 * An IP tunnel that is up. A down one's next hops are dead anyway, and
 * the kernel's fallback devices (tunl0, gre0, sit0, ip6tnl0, ...), made
 * in every namespace once their module is loaded, stay down unless used.
 */
static bool in_use(const struct model_link *l)
{
	return model_link_ip_tunnel(l) && l->admin_up;
}

int ip_tunnels_mirror(struct datapath *dp, const struct model *m)
{
	int fd = bpf_map__fd(dp->skel->maps.ip_tunnel_tx);
	__u32 key, *prev = NULL, have;
	int err = 0;

	/* tunnels that went (or whose ifindex another device took) go */
	while (!bpf_map_get_next_key(fd, prev, &key)) {
		const struct model_link *l = model_link(m, key);

		if (!l || !in_use(l)) {
			bpf_map_delete_elem(fd, &key);
			continue; /* key is gone: the walk starts over */
		}
		prev = &key;
	}
	for (int i = 0; i < m->n_links; i++) {
		const struct model_link *l = &m->links[i];
		__u32 ifindex = l->ifindex;

		if (!in_use(l) || !bpf_map_lookup_elem(fd, &ifindex, &have))
			continue;
		if (bpf_map_update_elem(fd, &ifindex, &ifindex, BPF_ANY)) {
			pr_warn("cannot record IP tunnel %s: %s; its next hops stay the kernel's\n",
				l->name, strerror(errno));
			err = err ?: -errno;
			continue;
		}
		pr_info("%s is an IP tunnel (%s): tc pins and sends flows to next hops out of it, XDP leaves them to the kernel\n",
			l->name, l->kind);
	}
	return err;
}
