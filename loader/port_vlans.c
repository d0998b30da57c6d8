// SPDX-License-Identifier: GPL-2.0
/*
 * The VLAN sub-interfaces of flowpind's ports, as the datapath needs them:
 * vlan_rx (a tagged frame's L3 ingress), vlan_tx (the sub-interfaces
 * flowpin sends to, with their tags) and their MACs and L3 domains in port_macs. Kept equal to the
 * model: written when a VLAN device on a port appears or changes, removed
 * when it goes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>

#include "flowpin.skel.h"
#include "log.h"
#include "port_vlans.h"

/*
 * Does this device (a port, or a member of one: member) hand XDP tagged
 * frames without their tag? Why, in buf.
 */
static const char *dev_hides_tags(const char *name, bool member, char *buf,
				  size_t len)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GFLAGS };
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool rxvlan;

	if (fd < 0)
		return NULL;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&ev;
	rxvlan = !ioctl(fd, SIOCETHTOOL, &ifr) && (ev.data & ETH_FLAG_RXVLAN);
	close(fd);
	if (rxvlan) {
		snprintf(buf, len, "%s%s%srx-vlan-offload on (ethtool -K %s rxvlan off)",
			 member ? "its member " : "", member ? name : "",
			 member ? " has " : "", name);
		return buf;
	}
	if (port_is_veth(name)) {
		/* a veth hands on its peer's tags as they were sent: outside
		 * the frame when the peer's VLAN device offloaded them */
		snprintf(buf, len, "%s%s is a veth, which receives tags outside the frame",
			 member ? "its member " : "", name);
		return buf;
	}
	return NULL;
}

/*
 * A bond's XDP program runs on its members, as their frames arrive: they
 * decide, not the bond's own flags (a bond says rx-vlan-offload on
 * whatever its members do).
 */
const char *port_hides_tags(const struct model *m, const char *name,
			    char *buf, size_t len)
{
	const struct model_link *l = model_link_by_name(m, name);
	const char *why = NULL;

	if (!l || strcmp(l->kind, "bond"))
		return dev_hides_tags(name, false, buf, len);
	for (int i = 0; i < m->n_links && !why; i++)
		if (m->links[i].master == l->ifindex)
			why = dev_hides_tags(m->links[i].name, true, buf, len);
	return why;
}

void port_vlan_note(const struct model *m, struct port *p, int ifindex)
{
	const struct model_link *vlan = port_vlan_first(m, ifindex);

	snprintf(p->vlan, sizeof(p->vlan), "%s", vlan ? vlan->name : "");
	if (!vlan || !port_hides_tags(m, p->name, p->vlan_hides,
				      sizeof(p->vlan_hides)))
		p->vlan_hides[0] = '\0';
}

const struct model_link *port_vlan_first(const struct model *m, int ifindex)
{
	for (int i = 0; i < m->n_links; i++)
		if (m->links[i].lower && m->links[i].lower == (__u32)ifindex)
			return &m->links[i];
	return NULL;
}

/*
 * Does the kernel route the VLAN's frames as its own? Not while it is down
 * (vlan_do_receive() drops them) nor when it is a port of a bridge, bond
 * or team (the master's); a VRF is its L3 domain (in the key, which holds
 * 16 bits of it).
 */
static bool vlan_routed(const struct model *m, const struct model_link *l)
{
	const struct model_link *master;

	if (!l->admin_up || !l->vlan_id)
		return false;
	if (!l->master)
		return true;
	master = model_link(m, l->master);
	return master && !strcmp(master->kind, "vrf") && l->master <= 0xffff;
}

static void vlan_key_of(const struct port_vlan *v, struct vlan_key *k)
{
	memset(k, 0, sizeof(*k));
	k->ifindex = v->port;
	k->proto = v->proto;
	k->vid = v->vid;
}

static void vlan_remove(struct datapath *dp, const struct port_vlan *v)
{
	struct vlan_key k;
	__u32 sub = v->ifindex;

	vlan_key_of(v, &k);
	bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.vlan_rx), &k);
	bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.vlan_tx), &sub);
	bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.port_macs), &sub);
}

/* Written in the order a packet needs them: a frame finds its MAC first. */
static int vlan_write(struct datapath *dp, const struct port_vlan *v)
{
	struct port_mac pm = { .l3dom = v->l3dom };
	struct vlan_tx tx = { .port = v->port, .proto = v->proto,
			      .vid = v->vid, .egress_pcp = v->egress_pcp,
			      .egress_qos = v->egress_qos,
			      .ingress_qos = v->ingress_qos };
	__u32 sub = v->ifindex;
	struct vlan_key k;

	memcpy(pm.mac, v->mac, FP_ETH_ALEN);
	vlan_key_of(v, &k);
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.port_macs), &sub,
				&pm, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(dp->skel->maps.vlan_tx), &sub,
				&tx, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(dp->skel->maps.vlan_rx), &k, &sub,
				BPF_ANY)) {
		int err = -errno;

		vlan_remove(dp, v);
		return err;
	}
	return 0;
}

static bool vlan_same(const struct port_vlan *a, const struct port_vlan *b)
{
	return a->ifindex == b->ifindex && a->port == b->port &&
	       a->proto == b->proto && a->vid == b->vid &&
	       a->egress_qos == b->egress_qos && a->egress_pcp == b->egress_pcp &&
	       a->ingress_qos == b->ingress_qos && a->l3dom == b->l3dom &&
	       !memcmp(a->mac, b->mac, FP_ETH_ALEN);
}

/*
 * A VLAN on a port that runs XDP: its tagged frames are routed as the
 * sub-interface's (the tag is in the frame), unless the driver
 * hands them on with the tag outside the frame (port_hides_tags()): then
 * XDP cannot tell them from the port's own, and the port's frames all go
 * to the kernel (its port_macs entry goes) until the VLAN does. Any VLAN
 * device counts, routed or not.
 */
static int blind_mirror(struct datapath *dp, const struct model *m)
{
	int err = 0;

	for (int i = 0; i < dp->n_ports; i++) {
		struct port *p = &dp->ports[i];
		const struct model_link *vlan;
		const char *why = NULL;
		char buf[96];
		int ret;

		if (p->gone || !p->attached)
			continue;
		vlan = p->mode != FP_MODE_TC ? port_vlan_first(m, p->ifindex) : NULL;
		if (vlan)
			why = port_hides_tags(m, p->name, buf, sizeof(buf));
		if (p->vlan_blind == !!why)
			continue;
		p->vlan_blind = why;
		ret = datapath_set_port(dp, p, p->mac, p->l3dom);
		if (ret) { /* as it was: tried again at the next mirror */
			p->vlan_blind = !why;
			err = err ?: ret;
			continue;
		}
		if (why)
			pr_warn("VLAN %s is on %s, which runs XDP, and %s: XDP cannot tell its tagged frames from %s's own, so all of %s's traffic goes to the kernel; run flowpind on %s in tc mode\n",
				vlan->name, p->name, why, p->name, p->name,
				p->name);
		else
			pr_info("%s: no VLAN hides among its frames any more: flowpin forwards them again\n",
				p->name);
	}
	return err;
}

/* Is this vlan_rx entry, or (key NULL) this sub-interface, one of want? */
static bool wanted(const struct port_vlan *want, int n, __u32 ifindex,
		   const struct vlan_key *key)
{
	for (int i = 0; i < n; i++)
		if (want[i].ifindex == ifindex &&
		    (!key || (want[i].port == key->ifindex &&
			      want[i].proto == key->proto &&
			      want[i].vid == key->vid)))
			return true;
	return false;
}

/*
 * The first mirror of this image: entries an earlier one left (maps are
 * reused across restarts) for VLANs that are not there now go.
 */
static void purge_earlier(struct datapath *dp, const struct port_vlan *want,
			  int n_want)
{
	int rx = bpf_map__fd(dp->skel->maps.vlan_rx);
	int tx = bpf_map__fd(dp->skel->maps.vlan_tx);
	int macs = bpf_map__fd(dp->skel->maps.port_macs);
	struct vlan_key k, *prev = NULL;
	__u32 sub, *prev_sub = NULL;

	while (!bpf_map_get_next_key(rx, prev, &k)) {
		__u32 v;

		if (!bpf_map_lookup_elem(rx, &k, &v) &&
		    !wanted(want, n_want, v, &k)) {
			bpf_map_delete_elem(rx, &k);
			continue; /* the walk starts over: k is gone */
		}
		prev = &k;
	}
	while (!bpf_map_get_next_key(tx, prev_sub, &sub)) {
		if (!wanted(want, n_want, sub, NULL)) {
			bpf_map_delete_elem(tx, &sub);
			/* a port's own entry stays (the port was a VLAN before) */
			if (!datapath_port(dp, sub))
				bpf_map_delete_elem(macs, &sub);
			continue;
		}
		prev_sub = &sub;
	}
}

int port_vlans_mirror(struct datapath *dp, const struct model *m)
{
	struct port_vlan *want;
	int n_want = 0, err = 0;

	want = calloc(m->n_links ? m->n_links : 1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	for (int i = 0; i < m->n_links; i++) {
		const struct model_link *l = &m->links[i];
		struct port *p = l->lower ? datapath_port(dp, l->lower) : NULL;
		struct port_vlan *v = &want[n_want];

		if (!p || !p->attached || !vlan_routed(m, l))
			continue; /* its frames are the kernel's: pass_vlan */
		v->ifindex = l->ifindex;
		v->port = p->ifindex;
		v->proto = l->vlan_proto;
		v->vid = l->vlan_id;
		v->egress_qos = l->vlan_egress_qos;
		v->egress_pcp = l->vlan_egress_pcp;
		v->ingress_qos = l->vlan_ingress_qos;
		v->l3dom = model_l3dom(m, l->ifindex);
		memcpy(v->mac, l->mac, FP_ETH_ALEN);
		snprintf(v->name, sizeof(v->name), "%s", l->name);
		n_want++;
	}
	if (!dp->vlans_mirrored) {
		purge_earlier(dp, want, n_want);
		dp->vlans_mirrored = true;
	}
	err = blind_mirror(dp, m);
	/* gone or changed: out first, so a reused key is never half old */
	for (int i = 0; i < dp->n_vlans; i++) {
		bool kept = false;

		for (int j = 0; j < n_want && !kept; j++)
			kept = vlan_same(&dp->vlans[i], &want[j]);
		if (kept)
			continue;
		vlan_remove(dp, &dp->vlans[i]);
		pr_info("VLAN %s (VID %u on ifindex %u) is no longer flowpin's\n",
			dp->vlans[i].name, dp->vlans[i].vid, dp->vlans[i].port);
	}
	for (int j = 0; j < n_want; j++) {
		struct port *p = datapath_port(dp, want[j].port);
		bool known = false;
		int ret;

		for (int i = 0; i < dp->n_vlans && !known; i++)
			known = vlan_same(&dp->vlans[i], &want[j]);
		if (known)
			continue;
		if (p->mode != FP_MODE_TC && !p->vlan_blind)
			pr_warn("VLAN %s is on %s, which runs XDP: its frames to or from untagged next hops go to the kernel (pass_vlan_retag), unpinned; tc mode pins them\n",
				want[j].name, p->name);
		if (want[j].ingress_qos)
			pr_warn("VLAN %s has an ingress-qos-map: its IPv6 packets to a VLAN with an egress-qos-map go to the kernel (pass_vlan_retag), unpinned, since the PCP they leave with follows it\n",
				want[j].name);
		ret = vlan_write(dp, &want[j]);
		if (ret) {
			pr_warn("cannot record VLAN %s of %s: %s; its frames go to the kernel\n",
				want[j].name, p->name, strerror(-ret));
			err = err ?: ret;
			/* not recorded as written: tried again at the next mirror */
			memmove(&want[j], &want[j + 1],
				(n_want - j - 1) * sizeof(*want));
			n_want--;
			j--;
			continue;
		}
		pr_info("VLAN %s (VID %u, %s) on %s: its tagged frames are routed as %s's\n",
			want[j].name, want[j].vid,
			want[j].proto == htons(ETH_P_8021AD) ? "802.1ad" : "802.1Q",
			p->name, want[j].name);
	}
	free(dp->vlans);
	dp->vlans = want;
	dp->n_vlans = n_want;
	return err;
}
