// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <net/if_arp.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowpin.skel.h"
#include "clock.h"
#include "datapath.h"
#include "flow_cache.h"
#include "log.h"
#include "model.h"
#include "pin_dir.h"
#include "port_prog.h"
#include "port_vlans.h"
#include "rtnl.h"
#include "tc_hook.h"

static __u64 fnv64(const void *data, size_t len, __u64 h)
{
	const __u8 *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

void port_driver(const char *name, char *driver, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	driver[0] = '\0';
	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&info;
	if (!ioctl(fd, SIOCETHTOOL, &ifr) && len > 0) {
		strncpy(driver, info.driver, len - 1);
		driver[len - 1] = '\0';
	}
	close(fd);
}

_Static_assert(PORT_DRIVER_LEN == sizeof(((struct ethtool_drvinfo *)0)->driver) + 1,
	       "PORT_DRIVER_LEN holds ethtool's driver name");

bool port_is_veth(const char *name)
{
	char driver[PORT_DRIVER_LEN];

	port_driver(name, driver, sizeof(driver));
	return !strcmp(driver, "veth");
}

static int into_model(const struct nlmsghdr *nlh, void *m)
{
	return model_apply(m, nlh);
}

/* The link ifindex as the kernel tells it, into links (model.c parses it). */
static const struct model_link *link_read(struct model *links, __u32 ifindex,
					  const char *what, const char *port)
{
	int err = rtnl_link_get(ifindex, into_model, links);
	const struct model_link *l = err ? NULL : model_link(links, ifindex);

	if (!l)
		pr_warn("cannot read %s%s: %s\n", what, port,
			strerror(err ? -err : ENODEV));
	return l;
}

/*
 * Is the port one the kernel routes on? Not when it is enslaved to
 * anything but a VRF (a bond, team, bridge, switch): the kernel routes its
 * packets as its master's. Asked before anything is loaded or pinned.
 */
static int port_routed(const struct port *p)
{
	const struct model_link *link, *master;
	struct model links;
	int master_id, err = 0;

	if (model_init(&links))
		return -ENOMEM;
	link = link_read(&links, p->ifindex, "the link of ", p->name);
	if (!link) {
		err = -ENODEV;
		goto out;
	}
	if (model_link_ip_tunnel(link)) {
		pr_warn("%s is an IP tunnel (%s), not a port: what comes out of it has no Ethernet header, and flowpin sends to next hops out of it at tc without being told; give flowpind the ports the traffic comes in on\n",
			p->name, link->kind);
		err = -EINVAL;
		goto out;
	}
	if (link->type != ARPHRD_ETHER) {
		pr_warn("%s is a device without Ethernet headers (%s): flowpin forwards Ethernet frames, and the kernel keeps routing what comes in on %s\n",
			p->name, link->kind[0] ? link->kind : "an IP tunnel, say",
			p->name);
		err = -EINVAL;
		goto out;
	}
	/* reading the master may move the model's links: link is not used after */
	master_id = link->master;
	if (!master_id)
		goto out;
	master = link_read(&links, master_id, "the master of ", p->name);
	if (!master) {
		err = -ENODEV;
	} else if (strcmp(master->kind, "vrf")) {
		if (!strcmp(master->kind, "bond") || !strcmp(master->kind, "team") ||
		    !strcmp(master->kind, "bridge"))
			pr_warn("%s is a port of %s: the kernel routes its packets as %s's; give flowpind %s instead\n",
				p->name, master->name, master->name, master->name);
		else
			pr_warn("%s is a port of %s (%s): the kernel routes its packets as %s's, and flowpind serves the ports the kernel routes on\n",
				p->name, master->name,
				master->kind[0] ? master->kind : "a master",
				master->name);
		err = -EINVAL;
	}
out:
	model_free(&links);
	return err;
}

static int resolve_ports(struct datapath *dp, const struct datapath_opts *o)
{
	int err;

	dp->ports = calloc(o->n_ifaces, sizeof(*dp->ports));
	if (!dp->ports)
		return -ENOMEM;
	for (int i = 0; i < o->n_ifaces; i++) {
		struct port *p = &dp->ports[i];

		if (strlen(o->ifaces[i]) >= IF_NAMESIZE ||
		    !(p->ifindex = if_nametoindex(o->ifaces[i]))) {
			pr_warn("unknown interface %s\n", o->ifaces[i]);
			return -ENODEV;
		}
		snprintf(p->name, sizeof(p->name), "%s", o->ifaces[i]);
		p->want = o->modes ? o->modes[i] : o->mode;
		for (int j = 0; j < i; j++) {
			if (dp->ports[j].ifindex == p->ifindex) {
				pr_warn("interface %s given twice\n", p->name);
				return -EINVAL;
			}
		}
		err = port_routed(p);
		if (err)
			return err;
		dp->n_ports++;
	}
	return 0;
}

int datapath_open(struct datapath *dp, const struct datapath_opts *o)
{
	size_t elf_len;
	const void *elf;
	int err;

	memset(dp, 0, sizeof(*dp));
	dp->lock_fd = -1;
	snprintf(dp->pin_path, sizeof(dp->pin_path), "%s", o->pin_path);
	err = resolve_ports(dp, o);
	if (err)
		goto err_free;
	dp->status_mode = dp->ports[0].want;
	err = pin_dir_bpffs(dp->pin_path);
	if (err)
		goto err_free;

	dp->skel = flowpin__open();
	if (!dp->skel) {
		err = -errno;
		pr_warn("cannot open the BPF object: %s\n", strerror(-err));
		goto err_free;
	}
	/*
	 * The XDP program attaches from a copy of the object (open_copy()):
	 * this one's would be verified for nothing. Ports all in an XDP
	 * mode never attach the tc program: no need to verify it either.
	 */
	bpf_program__set_autoload(dp->skel->progs.flowpin, false);
	bpf_program__set_autoload(dp->skel->progs.flowpin_tc, false);
	for (int i = 0; i < dp->n_ports; i++)
		if (dp->ports[i].want == XDP_MODE_UNSPEC ||
		    dp->ports[i].want == FP_MODE_TC)
			bpf_program__set_autoload(dp->skel->progs.flowpin_tc,
						  true);
	dp->skel->rodata->withdrawn_policy = o->policy;
	dp->skel->rodata->pin_rate = o->pin_rate;
	dp->skel->rodata->pin_burst = o->pin_burst;
	dp->skel->rodata->daemon_silent_ns = FP_DAEMON_SILENT_S * 1000000000ULL;
	dp->skel->rodata->sync_pins = o->sync_pins;
	dp->skel->rodata->too_big_rate = o->too_big_rate;
	dp->skel->rodata->pins_per_s = o->min_pin_age ?
		(o->max_flows + o->min_pin_age - 1) / o->min_pin_age : 0;
	bpf_map__set_max_entries(dp->skel->maps.flow_pins, o->max_flows);
	err = flow_cache_size(dp->skel->maps.flow_cache,
			      dp->skel->maps.flow_cache_tags,
			      &dp->skel->rodata->cache_sets,
			      flow_cache_per_cpu(o->max_flows < FP_MAX_CACHED_FLOWS ?
							 o->max_flows :
							 FP_MAX_CACHED_FLOWS));
	if (err) {
		pr_warn("cannot size flow_cache: %s\n", strerror(-err));
		goto err_destroy;
	}
	/* what is attached: this object with these settings */
	elf = flowpin__elf_bytes(&elf_len);
	dp->obj_hash = fnv64(elf, elf_len, 14695981039346656037ULL);
	dp->obj_hash = fnv64(&o->policy, sizeof(o->policy), dp->obj_hash);
	dp->obj_hash = fnv64(&o->pin_rate, sizeof(o->pin_rate), dp->obj_hash);
	dp->obj_hash = fnv64(&o->pin_burst, sizeof(o->pin_burst), dp->obj_hash);
	dp->obj_hash = fnv64(&o->sync_pins, sizeof(o->sync_pins), dp->obj_hash);
	dp->obj_hash = fnv64(&o->too_big_rate, sizeof(o->too_big_rate),
			     dp->obj_hash);
	dp->obj_hash = fnv64(&dp->skel->rodata->pins_per_s,
			     sizeof(dp->skel->rodata->pins_per_s), dp->obj_hash);
	dp->obj_hash = fnv64(&dp->skel->rodata->daemon_silent_ns,
			     sizeof(dp->skel->rodata->daemon_silent_ns),
			     dp->obj_hash);

	err = pin_dir_make(dp);
	if (err)
		goto err_destroy;
	err = pin_dir_reuse(dp);
	if (err)
		goto err_dir;
	err = flowpin__load(dp->skel);
	if (err) {
		if (err == -EPERM)
			pr_warn("loading the BPF program needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root)\n");
		else
			pr_warn("the kernel refused the BPF program: %s (-v shows the verifier's log)\n",
				strerror(-err));
		goto err_dir;
	}
	err = pin_dir_read_status(dp);
	if (err)
		goto err_dir;
	return 0;

err_dir:
	pin_dir_release(dp);
err_destroy:
	flowpin__destroy(dp->skel);
	dp->skel = NULL;
err_free:
	free(dp->ports);
	dp->ports = NULL;
	return err;
}

static __u32 mode_flags(enum xdp_attach_mode m)
{
	return m == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE :
	       m == XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : 0;
}

/*
 * A copy of the object that shares every map of the loaded one, .rodata
 * with its load-time settings included, its tc program off: what the XDP
 * program attaches from (libxdp loads it, or a legacy replace does).
 */
static struct bpf_object *open_copy(struct datapath *dp)
{
	/* the skeleton's name, so internal maps (.rodata) get the same names */
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .object_name = FP_PROG_XDP);
	struct bpf_object *obj;
	struct bpf_map *map;
	size_t elf_len;
	const void *elf = flowpin__elf_bytes(&elf_len);
	int err;

	obj = bpf_object__open_mem(elf, elf_len, &oopts);
	if (!obj) {
		err = -errno;
		pr_warn("cannot open the BPF object: %s\n", strerror(-err));
		errno = -err;
		return NULL;
	}
	bpf_object__for_each_map(map, obj) {
		struct bpf_map *used = bpf_object__find_map_by_name(
			dp->skel->obj, bpf_map__name(map));

		err = used ? bpf_map__reuse_fd(map, bpf_map__fd(used)) : -ENOENT;
		if (err) {
			pr_warn("cannot share map %s with the attached program: %s\n",
				bpf_map__name(map), strerror(-err));
			bpf_object__close(obj);
			errno = -err;
			return NULL;
		}
	}
	bpf_program__set_autoload(bpf_object__find_program_by_name(obj, FP_PROG_TC),
				  false);
	return obj;
}

/*
 * Replace an earlier flowpin attached without libxdp's dispatcher in one
 * step (the port never runs without one): a copy loaded for it, which the
 * port keeps once attached.
 */
static int replace_legacy_xdp(struct datapath *dp, struct port *p,
			      struct xdp_program *old, enum xdp_attach_mode m)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = xdp_program__fd(old));
	struct bpf_object *copy = open_copy(dp);
	int err = copy ? bpf_object__load(copy) : -errno;

	if (!err)
		err = bpf_xdp_attach(p->ifindex,
				     bpf_program__fd(bpf_object__find_program_by_name(copy, FP_PROG_XDP)),
				     XDP_FLAGS_REPLACE | mode_flags(m), &opts);
	bpf_object__close(copy);
	return err;
}

/*
 * XDP on one port. A flowpin already there that runs this object with these
 * maps is adopted as it is; another flowpin is replaced in place, so the
 * port never runs without one. *how says which.
 */
static int attach_xdp(struct datapath *dp, struct port *p, __u32 mode,
		      const char **how)
{
	int pins_fd = bpf_map__fd(dp->skel->maps.flow_pins);
	struct xdp_multiprog *mp = port_prog_xdp_all(p->ifindex);
	struct xdp_program *old = NULL;
	int err = 0;

	*how = "attached";
	if (mp && xdp_multiprog__main_prog(mp)) {
		old = port_prog_xdp_flowpin(mp);
		if (!old && xdp_multiprog__is_legacy(mp)) {
			struct xdp_program *other = xdp_multiprog__main_prog(mp);

			pr_warn("%s already runs XDP program %s (id %u), not loaded through libxdp: remove it first (ip link set dev %s xdp off)\n",
				p->name, xdp_program__name(other),
				xdp_program__id(other), p->name);
			err = -EBUSY;
			goto out;
		}
	}
	if (old && dp->have_prev && dp->prev.obj_hash == dp->obj_hash &&
	    port_prog_uses_map(xdp_program__id(old), pins_fd)) {
		*how = "adopted";
	} else if (old && xdp_multiprog__is_legacy(mp)) {
		err = replace_legacy_xdp(dp, p, old, xdp_multiprog__attach_mode(mp));
		if (err) {
			pr_warn("cannot replace the flowpin on %s: %s\n",
				p->name, strerror(-err));
			goto out;
		}
		*how = "replaced the earlier flowpin on";
	} else {
		err = xdp_program__attach(dp->prog, p->ifindex, mode, 0);
		if (err)
			goto out;
		if (old) { /* a dispatcher ran both for a moment */
			xdp_program__detach(old, p->ifindex,
					    xdp_multiprog__attach_mode(mp), 0);
			*how = "replaced the earlier flowpin on";
		}
	}
	xdp_multiprog__close(mp);
	mp = port_prog_xdp_all(p->ifindex);
	p->mode = mp ? xdp_multiprog__attach_mode(mp) : mode;
	p->dispatcher = mp && !xdp_multiprog__is_legacy(mp);
out:
	xdp_multiprog__close(mp);
	return err;
}

/* Take flowpin's XDP program off a port; 0 when it is not there. */
static int detach_xdp(struct port *p)
{
	int err = port_prog_xdp_detach(p->ifindex, NULL);

	return err > 0 ? 0 : err;
}
/* The tc ingress hook on one port, adopted or replaced in place as above. */
static int attach_tc(struct datapath *dp, struct port *p, const char **how)
{
	int pins_fd = bpf_map__fd(dp->skel->maps.flow_pins);
	__u32 old = tc_hook_prog_id(p->ifindex);
	int err;

	if (old && dp->have_prev && dp->prev.obj_hash == dp->obj_hash &&
	    port_prog_uses_map(old, pins_fd)) {
		*how = "adopted";
	} else {
		err = tc_hook_attach(p->ifindex,
				     bpf_program__fd(dp->skel->progs.flowpin_tc),
				     &p->made_qdisc);
		if (err)
			return err;
		/* what held flowpin's place was flowpin's, or is gone now */
		*how = old ? "replaced the earlier flowpin on" : "attached";
	}
	p->mode = FP_MODE_TC;
	p->dispatcher = false;
	return 0;
}

/*
 * Drivers auto gives tc without trying native XDP first (which libxdp
 * would report as an error): veth, whose native XDP forwards frames with
 * checksums left to the hardware unfinished and delivers only to peers
 * that run NAPI (and generic XDP cannot forward GSO packets), and the
 * virtual devices that have no native XDP.
 */
static const struct {
	const char *driver, *why;
} auto_tc[] = {
	{ "veth", " (auto: a veth)" },
	{ "802.1Q VLAN Support", " (auto: a VLAN device has no native XDP)" },
	{ "macvlan", " (auto: a macvlan device has no native XDP)" },
	{ "ipvlan", " (auto: an ipvlan device has no native XDP)" },
	{ "bridge", " (auto: a bridge has no native XDP)" },
	{ "team", " (auto: a team device has no native XDP)" },
	{ "vrf", " (auto: a VRF device has no native XDP)" },
	{ "vxlan", " (auto: a VXLAN device has no native XDP)" },
	{ "geneve", " (auto: a Geneve device has no native XDP)" },
	{ "dummy", " (auto: a dummy device has no native XDP)" },
};

/*
 * auto: tc on the drivers above, native XDP on every other driver that
 * has it, and tc on those that do not (attach_port() falls back).
 */
static __u32 auto_mode(const struct port *p, const char **why)
{
	char driver[PORT_DRIVER_LEN];

	port_driver(p->name, driver, sizeof(driver));
	for (size_t i = 0; i < sizeof(auto_tc) / sizeof(auto_tc[0]); i++)
		if (!strcmp(driver, auto_tc[i].driver)) {
			*why = auto_tc[i].why;
			return FP_MODE_TC;
		}
	*why = " (auto: the driver has native XDP)";
	return XDP_MODE_NATIVE;
}

/*
 * Attach to one port in the mode asked for (or auto's), then take off a
 * flowpin that an earlier run left at the other hook: the port never runs
 * without one.
 */
static int attach_port(struct datapath *dp, struct port *p)
{
	int pins_fd = bpf_map__fd(dp->skel->maps.flow_pins);
	const char *how = "attached", *why = "", *hides;
	char refused[128], fallback[192];
	__u32 mode = p->want, ids[2];
	bool had_xdp, had_tc;
	int err;

	ids[0] = port_prog_xdp_id(p->ifindex);
	had_xdp = ids[0] != 0;
	ids[1] = tc_hook_prog_id(p->ifindex);
	had_tc = ids[1] != 0;
	/* another flowpind's port: neither replaced nor, later, detached */
	for (int i = 0; i < 2; i++) {
		pid_t other;

		if (!ids[i] || port_prog_uses_map(ids[i], pins_fd))
			continue;
		other = port_prog_owner(ids[i]);
		if (other) {
			pr_warn("%s is served by another flowpind (pid %d, with other maps): stop it first, or give each its own ports\n",
				p->name, other);
			return -EBUSY;
		}
	}
	if (mode == XDP_MODE_UNSPEC && p->vlan[0]) {
		mode = FP_MODE_TC;
		why = " (auto: a VLAN is on it, and tc mode forwards every VLAN shape)";
	} else if (mode == XDP_MODE_UNSPEC) {
		mode = auto_mode(p, &why);
	} else if (mode != FP_MODE_TC && p->vlan[0]) {
		hides = p->vlan_hides[0] ? p->vlan_hides : NULL;
		if (hides) {
			pr_warn("%s has VLAN %s on it, and %s: XDP would see its tagged frames without the tag and route them as %s's; run %s in tc mode (-m tc, or auto)\n",
				p->name, p->vlan, hides, p->name, p->name);
			return -EINVAL;
		}
		pr_info("%s has VLAN %s on it: XDP forwards its tagged frames to next hops behind VLANs of flowpin's ports, the tag rewritten as the VLAN device would write it; one to push or pop is the kernel's (pass_vlan_retag); tc mode forwards every shape\n",
			p->name, p->vlan);
	}
	if (mode == FP_MODE_TC) {
		err = attach_tc(dp, p, &how);
	} else {
		err = attach_xdp(dp, p, mode, &how);
		if (err && p->want == XDP_MODE_UNSPEC) {
			/*
			 * A driver without native XDP, an MTU too large for
			 * it, or (the XDP program is first verified here) a
			 * kernel that refuses the program: the log says which
			 */
			libxdp_strerror(err, refused, sizeof(refused));
			snprintf(fallback, sizeof(fallback),
				 " (auto: native XDP refused: %s)", refused);
			why = fallback;
			err = attach_tc(dp, p, &how);
		}
	}
	if (err) {
		char buf[256];

		libxdp_strerror(err, buf, sizeof(buf));
		pr_warn("cannot attach to %s in %s mode: %s\n", p->name,
			fp_mode_name(mode), buf);
		return err;
	}
	if (p->mode == FP_MODE_TC && had_xdp) {
		err = detach_xdp(p);
		how = "replaced the earlier flowpin (XDP) on";
	} else if (p->mode != FP_MODE_TC && had_tc) {
		err = tc_hook_detach(p->ifindex, false);
		how = "replaced the earlier flowpin (tc) on";
	}
	if (err) {
		/*
		 * Both hooks would run flowpin, and a frame the first passes
		 * would be handled again by the second: the new one goes, the
		 * earlier one stays, and the start fails.
		 */
		pr_warn("cannot take the earlier flowpin off %s: %s; leaving it there and this mode off\n",
			p->name, strerror(-err));
		if (p->mode == FP_MODE_TC)
			tc_hook_detach(p->ifindex, p->made_qdisc);
		else
			detach_xdp(p);
		return err;
	}
	p->attached = true;
	p->fresh = !had_xdp && !had_tc;
	if (p->want != p->mode && p == &dp->ports[0])
		dp->status_mode = p->mode; /* auto's choice */
	pr_info("%s %s in %s mode%s%s\n", how, p->name, fp_mode_name(p->mode), why,
		p->mode == FP_MODE_TC ? "" :
		p->dispatcher ? " (through libxdp's dispatcher)" :
		" (alone: libxdp's dispatcher is not in use)");
	if (port_is_veth(p->name) && p->mode == XDP_MODE_NATIVE)
		pr_warn("%s is a veth in native mode: frames redirected to it arrive only when its peer runs an XDP program or has GRO on (ethtool -K PEER gro on), and the sending peer needs checksum offload off (ethtool -K PEER tx off); tc mode (auto's choice on veth) needs neither\n",
			p->name);
	if (p->mode == XDP_MODE_SKB)
		pr_warn("%s runs generic XDP (skb mode), which cannot forward GSO packets: bulk TCP from senders with TSO or GRO goes to the kernel unpinned; tc mode keeps it pinned\n",
			p->name);
	return 0;
}

struct port *datapath_port(const struct datapath *dp, __u32 ifindex)
{
	for (int i = 0; i < dp->n_ports; i++)
		if (!dp->ports[i].gone && dp->ports[i].ifindex == (int)ifindex)
			return &dp->ports[i];
	return NULL;
}

int datapath_set_port(struct datapath *dp, struct port *p, const __u8 *mac,
		      __u32 l3dom)
{
	int fd = bpf_map__fd(dp->skel->maps.port_macs);
	struct port_mac v = { .l3dom = l3dom };
	__u32 key = p->ifindex;

	memcpy(v.mac, mac, FP_ETH_ALEN);
	if (p->vlan_blind) {
		/* port_vlans_mirror(): XDP cannot tell its VLANs' frames */
		bpf_map_delete_elem(fd, &key);
	} else if (l3dom > 0xffff) {
		/*
		 * The key holds 16 bits of it: rather than mix this VRF's flows
		 * with another's, its frames go to the kernel (pass_other_host).
		 */
		pr_warn("port %s is in a VRF with ifindex %u, more than flowpin's keys can hold: the kernel forwards its traffic\n",
			p->name, l3dom);
		bpf_map_delete_elem(fd, &key);
	} else if (bpf_map_update_elem(fd, &key, &v, BPF_ANY)) {
		pr_warn("cannot record the MAC of %s: %s\n", p->name,
			strerror(errno));
		return -errno;
	}
	memcpy(p->mac, mac, FP_ETH_ALEN);
	p->l3dom = l3dom;
	return 0;
}

static int port_mac_of(const struct port *p, __u8 *mac)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->name);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, FP_ETH_ALEN);
	close(fd);
	return err;
}

/* One port in tx_ports, with its MAC and L3 domain in port_macs. */
static int fill_port(struct datapath *dp, struct port *p)
{
	struct bpf_devmap_val v = { .ifindex = p->ifindex };
	__u32 k = p->ifindex;
	__u8 mac[FP_ETH_ALEN];
	int err;

	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.tx_ports), &k, &v,
				BPF_ANY)) {
		pr_warn("cannot add %s to tx_ports: %s\n", p->name,
			strerror(errno));
		return -errno;
	}
	err = port_mac_of(p, mac);
	if (err) {
		pr_warn("cannot read the MAC of %s: %s\n", p->name,
			strerror(-err));
		return err;
	}
	return datapath_set_port(dp, p, mac, p->l3dom);
}

static int fill_tx_ports(struct datapath *dp)
{
	int fd = bpf_map__fd(dp->skel->maps.tx_ports);
	__u32 key, *prev = NULL, stale[FP_MAX_PORTS];
	int n_stale = 0, err;

	/* ports of an earlier run that are not ours any more */
	while (n_stale < FP_MAX_PORTS && !bpf_map_get_next_key(fd, prev, &key)) {
		if (!datapath_port(dp, key))
			stale[n_stale++] = key;
		prev = &key;
	}
	for (int i = 0; i < n_stale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	for (int i = 0; i < dp->n_ports; i++) {
		err = fill_port(dp, &dp->ports[i]);
		if (err)
			return err;
	}
	return 0;
}

void datapath_port_gone(struct datapath *dp, struct port *p)
{
	__u32 key = p->ifindex;

	/* the device took its program along, and its tx_ports entry */
	p->attached = false;
	p->made_qdisc = false;
	bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.tx_ports), &key);
	bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.port_macs), &key);
}

int datapath_port_back(struct datapath *dp, struct port *p, int ifindex,
		       __u32 l3dom)
{
	int err;

	p->ifindex = ifindex;
	p->l3dom = l3dom;
	err = fill_port(dp, p);
	if (!err)
		err = attach_port(dp, p);
	return err;
}

/*
 * The program libxdp attaches: a second, unloaded copy of the object that
 * uses the skeleton's maps. libxdp must load a program itself to put it in
 * its dispatcher (as an extension of the dispatcher's slot, not as XDP);
 * the skeleton's own copy, loaded in datapath_open(), cannot go there.
 */
static int open_attach_prog(struct datapath *dp)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts, .prog_name = FP_PROG_XDP);
	int err;

	dp->attach_obj = open_copy(dp);
	if (!dp->attach_obj)
		return -errno;
	xopts.obj = dp->attach_obj;
	dp->prog = xdp_program__create(&xopts);
	err = libxdp_get_error(dp->prog);
	if (err) {
		dp->prog = NULL;
		pr_warn("libxdp cannot use the program: %s\n", strerror(-err));
	}
	return err;
}

int datapath_attach(struct datapath *dp)
{
	int err;

	err = open_attach_prog(dp);
	if (err)
		return err;
	err = fill_tx_ports(dp);
	if (err)
		goto err_unpin;
	for (int i = 0; i < dp->n_ports; i++) {
		err = attach_port(dp, &dp->ports[i]);
		if (err)
			goto err_detach;
	}
	err = pin_dir_pin_maps(dp);
	if (err)
		goto err_detach;
	return 0;

err_detach:
	/* undo what this call did: ports that ran flowpin before keep it */
	for (int i = 0; i < dp->n_ports; i++)
		dp->ports[i].attached &= dp->ports[i].fresh;
	datapath_detach(dp);
err_unpin:
	pin_dir_unpin_new(dp);
	return err;
}

/* Does the flowpin at the port's hook still use this datapath's maps? */
static bool ours_on_port(struct datapath *dp, struct port *p)
{
	int pins_fd = bpf_map__fd(dp->skel->maps.flow_pins);
	__u32 id = 0;

	id = p->mode == FP_MODE_TC ? tc_hook_prog_id(p->ifindex) :
				     port_prog_xdp_id(p->ifindex);
	/* nothing there is nothing to take off, and not another's either */
	return !id || port_prog_uses_map(id, pins_fd);
}

void datapath_release(struct datapath *dp, const char *name)
{
	struct port p = {};

	for (int i = 0; i < dp->n_ports; i++)
		if (!strcmp(dp->ports[i].name, name))
			return; /* still a port */
	snprintf(p.name, sizeof(p.name), "%s", name);
	p.ifindex = if_nametoindex(name);
	if (!p.ifindex)
		return;
	for (int hook = 0; hook < 2; hook++) {
		int err;

		p.mode = hook ? FP_MODE_TC : XDP_MODE_NATIVE;
		if (!ours_on_port(dp, &p) ||
		    !(hook ? tc_hook_prog_id(p.ifindex) : port_prog_xdp_id(p.ifindex)))
			continue;
		err = hook ? tc_hook_detach(p.ifindex, false) : detach_xdp(&p);
		if (err)
			pr_warn("cannot detach from %s: %s\n", name, strerror(-err));
		else
			pr_info("detached from %s: no longer a port\n", name);
	}
}

void datapath_detach(struct datapath *dp)
{
	for (int i = 0; i < dp->n_ports; i++) {
		struct port *p = &dp->ports[i];
		int err;

		if (!p->attached)
			continue;
		if (!ours_on_port(dp, p)) {
			pr_warn("left %s alone: the flowpin on it is no longer this one's\n",
				p->name);
			p->attached = false;
			continue;
		}
		err = p->mode == FP_MODE_TC ?
			      tc_hook_detach(p->ifindex, p->made_qdisc) :
			      detach_xdp(p);
		if (err && err != -ENOENT)
			pr_warn("cannot detach from %s: %s\n", p->name,
				strerror(-err));
		else if (!err)
			pr_info("detached from %s\n", p->name);
		p->attached = false;
	}
}

void datapath_close(struct datapath *dp)
{
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);
	xdp_program__close(dp->prog);
	bpf_object__close(dp->attach_obj);
	flowpin__destroy(dp->skel);
	free(dp->ports);
	free(dp->vlans);
	memset(dp, 0, sizeof(*dp));
}

int datapath_beat(struct datapath *dp)
{
	__u64 ns = now_ns(CLOCK_MONOTONIC);
	__u32 key = 0;

	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.heartbeat), &key,
				&ns, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * The first epoch of a run follows the one in the map (an adopted datapath's
 * pins were checked at that or an earlier one); a new map starts at a
 * random one, so pins made under an epoch of another run never match it by
 * chance. 0 is never an epoch: it stands for "no flowpind".
 */
int datapath_move_epoch(struct datapath *dp, __u32 flags)
{
	int fd = bpf_map__fd(dp->skel->maps.route_epoch);
	struct route_epoch e = {};
	__u32 key = 0;

	if (!dp->epoch && !bpf_map_lookup_elem(fd, &key, &e))
		dp->epoch = e.epoch;
	if (!dp->epoch && getrandom(&dp->epoch, sizeof(dp->epoch), 0) !=
				  sizeof(dp->epoch))
		dp->epoch = time(NULL);
	e.epoch = ++dp->epoch ?: ++dp->epoch;
	e.flags = flags;
	if (bpf_map_update_elem(fd, &key, &e, BPF_ANY))
		return -errno;
	return 0;
}

int datapath_write_status(struct datapath *dp, const struct daemon_status *st)
{
	__u32 key = 0;

	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.daemon_status), &key,
				st, BPF_ANY))
		return -errno;
	return 0;
}
