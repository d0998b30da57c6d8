// SPDX-License-Identifier: GPL-2.0
/* Following the kernel into the datapath's maps: see follow.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowpin.skel.h"
#include "clock.h"
#include "follow.h"
#include "ip_tunnels.h"
#include "log.h"
#include "port_bonds.h"
#include "port_vlans.h"
#include "reconcile.h"

#define KEEPALIVE_S 5 /* NTF_USE for next hops in use */
#define PIN_COUNT_S 10 /* count pins per next hop, to release drained ones */

static const char *nh_str(const struct nexthop_addr *a, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?", dev[IF_NAMESIZE] = "?";

	inet_ntop(a->family == FP_AF_INET ? AF_INET : AF_INET6, a->gw, addr,
		  sizeof(addr));
	if_indextoname(a->ifindex, dev);
	snprintf(buf, len, "%s dev %s", addr, dev);
	return buf;
}

/*
 * A port whose MAC changed receives frames for the new one; a port moved
 * into or out of a VRF keys its flows with the new domain. A port whose
 * device was deleted is attached again when a device of its name appears.
 * Then the ports' VLAN devices and bond members, into the datapath's maps.
 */
static void follow_ports(struct follow *f)
{
	bool again = false; /* something failed: tried again next time */

	if (!f->links_due)
		return; /* nothing of the ports changed: no map to read or write */
	for (int i = 0; i < f->dp->n_ports; i++) {
		struct port *p = &f->dp->ports[i];
		const struct model_link *l = model_link(&f->model, p->ifindex);
		__u32 l3dom, old;
		bool new_mac;

		if (!l) {
			if (!p->gone) {
				pr_warn("port %s is gone: its flows' packets go to the kernel; flowpin attaches again to a new %s\n",
					p->name, p->name);
				datapath_port_gone(f->dp, p);
				p->gone = true;
			}
			l = model_link_by_name(&f->model, p->name);
			if (!l)
				continue;
			pr_info("port %s is back (ifindex %u)\n", p->name,
				l->ifindex);
			port_vlan_note(&f->model, p, l->ifindex);
			old = p->ifindex;
			if (datapath_port_back(f->dp, p, l->ifindex,
					       model_l3dom(&f->model, l->ifindex))) {
				p->ifindex = old;
				again = true;
			} else {
				p->gone = false;
			}
			continue;
		}
		l3dom = model_l3dom(&f->model, p->ifindex);
		new_mac = memcmp(l->mac, p->mac, FP_ETH_ALEN);
		if (!new_mac && l3dom == p->l3dom)
			continue;
		if (datapath_set_port(f->dp, p, l->mac, l3dom)) {
			again = true;
			continue;
		}
		if (new_mac)
			pr_info("port %s has a new MAC\n", p->name);
		else
			pr_info("port %s is now in L3 domain %u%s\n", p->name,
				l3dom, l3dom ? " (a VRF)" : " (none)");
	}
	if (port_vlans_mirror(f->dp, &f->model))
		again = true;
	if (port_bonds_mirror(f->dp, &f->model))
		again = true;
	if (ip_tunnels_mirror(f->dp, &f->model))
		again = true;
	f->links_due = again;
}

/*
 * Seconds on the clock the drain timeout and pin counts use: boot time,
 * which neither steps with the wall clock nor stops in suspend.
 */
static __u64 boot_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec;
}

/* Make the next-hop table (and the ports' MACs) equal to the model. */
static int write_table(struct follow *f)
{
	struct reconcile_opts o = {
		.policy = f->policy,
		.now_s = boot_s(),
		.drain_timeout_s = f->drain_timeout_s,
		.pins = f->pins_counted ? f->pins : NULL,
		.pins_counted_s = f->pins_counted_s,
		.withdrawn_at = f->withdrawn_at,
	};
	struct nh_change *ch;
	char buf[96];
	int n, err = 0, failed = 0, ret;

	if (f->attached)
		follow_ports(f);
	n = reconcile(&f->model, f->nht->nh, f->nht->size, &o, &ch);
	if (n < 0)
		return n;
	/*
	 * In reconcile()'s order, one failed write not stopping the rest, and
	 * as one batch: one grace period for all of them.
	 */
	nexthop_table_begin(f->nht);
	for (int i = 0; i < n; i++) {
		struct nexthop_addr a = ch[i].addr;
		const struct nexthop *nh;

		if (ch[i].op == NH_RELEASE) {
			nh = nexthop_table_get(f->nht, ch[i].id);
			nexthop_addr_of(&a, nh);
			ret = nexthop_table_release(f->nht, ch[i].id);
			if (!ret)
				pr_info("next hop %s: released\n",
					nh_str(&a, buf, sizeof(buf)));
		} else {
			ret = nexthop_table_set(f->nht, &a, ch[i].smac,
						ch[i].dmac, ch[i].mtu,
						ch[i].state);
			if (ret >= 0)
				pr_info("next hop %s: %s, id %d\n",
					nh_str(&a, buf, sizeof(buf)),
					fp_nexthop_state_name(ch[i].state), ret);
		}
		if (ret < 0) {
			pr_warn("next hop %s: cannot write it: %s\n",
				nh_str(&a, buf, sizeof(buf)), strerror(-ret));
			failed++;
			err = err ? err : ret;
		}
	}
	free(ch);
	ret = nexthop_table_commit(f->nht);
	if (ret) {
		pr_warn("waiting for the datapath's readers failed: %s; the next write waits first\n",
			strerror(-ret));
		err = err ? err : ret;
	}
	f->write_errors += failed;
	if (failed)
		pr_warn("%d of %d next-hop changes failed (%llu since start); the next event or full dump tries again\n",
			failed, n, (unsigned long long)f->write_errors);
	return err;
}

static int apply_msg(const struct nlmsghdr *nlh, void *data)
{
	int err = model_apply(data, nlh);

	if (err == -EINVAL) {
		pr_debug("ignoring a malformed rtnetlink message (type %u)\n",
			 nlh->nlmsg_type);
		return 0;
	}
	return err;
}

/* A full dump's message: into the fresh model, and what moves the epoch. */
struct dump_into {
	struct model *model;
	struct epoch_watch *epochs;
};

static int dump_msg(const struct nlmsghdr *nlh, void *data)
{
	struct dump_into *to = data;

	epoch_watch_msg(to->epochs, nlh);
	return apply_msg(nlh, to->model);
}

/* An event: into the model; the epoch moves once the batch is written. */
static int event_msg(const struct nlmsghdr *nlh, void *data)
{
	struct follow *f = data;

	f->epoch_due |= epoch_watch_msg(&f->epochs, nlh);
	f->links_due |= nlh->nlmsg_type == RTM_NEWLINK ||
			nlh->nlmsg_type == RTM_DELLINK;
	return apply_msg(nlh, &f->model);
}

/*
 * After the next-hop table, so a next hop that left every route reads
 * NH_WITHDRAWN by the time a pinned flow is asked again.
 */
static void move_epoch(struct follow *f)
{
	int err = datapath_move_epoch(f->dp, f->epochs.flags);

	f->epoch_due = err != 0; /* tried again at the next tick */
	if (err)
		pr_warn("cannot move the route epoch: %s; trying again in a second\n",
			strerror(-err));
}

static int discard_msg(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return 0;
}

#define DUMP_TRIES 5

/*
 * Rebuild the model from a full dump. Events queued before it are already
 * in the dump: drop them. Events that arrive during it are applied after,
 * which also corrects a dump the kernel flagged inconsistent: one is
 * repeated, but under constant churn the last one is kept.
 */
static int dump_kernel(struct follow *f)
{
	struct model fresh;
	struct epoch_watch epochs;
	struct dump_into to = { &fresh, &epochs };
	double t0 = mono_s();
	int err;

	rtnl_read_events(&f->rtnl, discard_msg, NULL);
	for (int tries = 1;; tries++) {
		err = model_init(&fresh);
		if (err)
			return err;
		epoch_watch_reset(&epochs);
		err = rtnl_dump(&f->rtnl, dump_msg, &to);
		if (!err || (err == -EINTR && tries == DUMP_TRIES)) {
			if (err)
				pr_warn("the kernel's state changed during %d dumps in a row: keeping the last; the events that follow correct it\n",
					tries);
			model_keep_macs(&fresh, &f->model, f->nht->nh, f->nht->size);
			model_free(&f->model);
			f->model = fresh;
			f->epochs = epochs;
			f->links_due = true;
			f->status.dumped_s = time(NULL);
			pr_debug("full dump: %u routes through gateways in %.2f s\n",
				 f->model.n_routes, mono_s() - t0);
			err = write_table(f);
			move_epoch(f); /* what changed unseen may refuse a flow */
			return err;
		}
		model_free(&fresh);
		if (err != -EINTR)
			break;
		pr_debug("dump interrupted by changes, repeating it\n");
	}
	pr_warn("cannot dump the kernel's routing state: %s\n", strerror(-err));
	return err;
}

/*
 * A full dump, now or (dump_due) at the next tick: lost events are
 * answered by one dump however many losses a burst brings, and a dump that
 * fails is tried again at every tick until one succeeds.
 */
static void redump(struct follow *f)
{
	f->dump_due = dump_kernel(f) != 0;
	if (!f->dump_due) {
		f->status.redumps++;
		datapath_write_status(f->dp, &f->status);
	}
}

void follow_events(struct follow *f)
{
	int err = rtnl_read_events(&f->rtnl, event_msg, f);

	if (err) {
		if (!f->dump_due) {
			if (err == -ENOBUFS)
				pr_warn("netlink events were lost: dumping the kernel again\n");
			else
				pr_warn("reading netlink events: %s; dumping the kernel again\n",
					strerror(-err));
		}
		f->dump_due = true;
		return;
	}
	if (f->dump_due)
		return; /* the model is behind: the dump comes at the tick */
	if (f->model.stale) {
		pr_debug("a link went down or lost an address: dumping again\n");
		f->dump_due = dump_kernel(f) != 0;
		return;
	}
	write_table(f);
	/*
	 * Once the socket is drained: mid-flood (a routing daemon removing
	 * its routes one by one) a next hop whose routes are going still
	 * reads NH_ACTIVE, and a flow asked then would be refused for a
	 * state the next batch undoes. The tick moves it at the latest.
	 */
	if (f->epoch_due && !rtnl_events_pending(&f->rtnl))
		move_epoch(f);
}

/*
 * Keep the kernel's neighbour entries of next hops in use resolved. Static
 * entries need nothing, and NTF_USE would strip NUD_PERMANENT from them
 * (neigh_add() passes NEIGH_UPDATE_F_USE, which clears it).
 */
static void keepalive(struct follow *f)
{
	const struct model_link *l;
	const struct model_neigh *n;
	char buf[96];
	int err;

	for (__u32 id = 1; id < f->nht->size; id++) {
		const struct nexthop *nh = &f->nht->nh[id];
		struct nexthop_addr a;

		if (nh->state != NH_ACTIVE && nh->state != NH_WITHDRAWN)
			continue;
		nexthop_addr_of(&a, nh);
		n = model_neigh(&f->model, &a);
		l = model_link(&f->model, a.ifindex);
		/* nor do an IP tunnel's next hops, which have none */
		if ((n && n->is_static) || (l && model_link_ip_tunnel(l)))
			continue;
		err = rtnl_neigh_use(&f->rtnl, &a);
		if (err)
			pr_debug("next hop %s: cannot refresh its neighbour entry: %s\n",
				 nh_str(&a, buf, sizeof(buf)), strerror(-err));
	}
}

/* Pins per next hop, read in batches so the datapath is not disturbed. */
static int count_pins(struct follow *f)
{
	int fd = bpf_map__fd(f->dp->skel->maps.flow_pins);
	struct pollfd events = { .fd = rtnl_event_fd(&f->rtnl), .events = POLLIN };
	__u32 *counting = calloc(f->nht->size, sizeof(*counting));
	__u64 started = boot_s();
	struct flow_key keys[1024];
	struct flow_pin vals[1024];
	__u32 batch, count;
	__u64 own = 0;
	bool first = true;
	int err;

	if (!counting)
		return -ENOMEM;
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		count = 1024;
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch,
					   keys, vals, &count, &opts);
		if (err && errno != ENOENT) {
			err = -errno;
			free(counting);
			return err;
		}
		for (__u32 i = 0; i < count; i++) {
			const struct nexthop *nh =
				nexthop_table_get(f->nht, vals[i].nh_id);

			if (nh && nh->gen == vals[i].nh_gen) {
				counting[vals[i].nh_id]++;
				own += !vals[i].router &&
				       FP_NEXTHOP_USABLE(nh->state, f->policy);
			}
		}
		if (err) /* ENOENT: that was the last batch */
			break;
		first = false;
		/*
		 * A million pins take a second or more: routing changes do not
		 * wait for the count. They use the last complete one, and none
		 * is trusted for a next hop withdrawn after it started.
		 */
		if (poll(&events, 1, 0) > 0)
			follow_events(f);
	}
	memcpy(f->pins, counting, f->nht->size * sizeof(*f->pins));
	free(counting);
	f->own_pins = own;
	f->pins_counted_s = started;
	f->pins_counted = true;
	return 0;
}

/*
 * When each withdrawn next hop was withdrawn (boot-time seconds), handed to
 * the re-executed image in the environment: its drain timeout runs on, and
 * does not start over at every reload.
 */
#define WITHDRAWN_ENV "FLOWPIND_WITHDRAWN_AT"

static void withdrawn_at_export(const struct follow *f)
{
	size_t len = 0, cap = 64;
	char *v = malloc(cap);

	if (!v)
		return;
	v[0] = '\0';
	for (__u32 id = 1; id < f->nht->size; id++) {
		if (!f->withdrawn_at[id])
			continue;
		if (cap - len < 48) {
			char *bigger = realloc(v, cap *= 2);

			if (!bigger)
				break;
			v = bigger;
		}
		len += snprintf(v + len, cap - len, "%s%u=%llu", len ? "," : "",
				id, (unsigned long long)f->withdrawn_at[id]);
	}
	setenv(WITHDRAWN_ENV, v, 1);
	free(v);
}

/* Only for next hops the table still holds as withdrawn. */
static void withdrawn_at_import(struct follow *f)
{
	const char *v = getenv(WITHDRAWN_ENV);
	unsigned long long t;
	unsigned int id;
	int n;

	while (v && sscanf(v, "%u=%llu%n", &id, &t, &n) == 2) {
		const struct nexthop *nh = id < f->nht->size ?
			nexthop_table_get(f->nht, id) : NULL;

		if (nh && nh->state == NH_WITHDRAWN)
			f->withdrawn_at[id] = t;
		v += n;
		v += *v == ',';
	}
	unsetenv(WITHDRAWN_ENV);
}

/*
 * The ports of this image, for the next one (a reload whose settings drop
 * a port): it takes flowpin off those it does not serve.
 */
#define PORTS_ENV "FLOWPIND_PORTS"

static void ports_export(const struct follow *f)
{
	char v[FP_MAX_PORTS * (IF_NAMESIZE + 1) + 1] = "";
	size_t len = 0;

	for (int i = 0; i < f->dp->n_ports && len < sizeof(v); i++)
		len += snprintf(v + len, sizeof(v) - len, "%s%s", len ? " " : "",
				f->dp->ports[i].name);
	setenv(PORTS_ENV, v, 1);
}

static void ports_import(struct follow *f)
{
	const char *v = getenv(PORTS_ENV);
	char *copy = v ? strdup(v) : NULL, *save = NULL;

	for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w;
	     w = strtok_r(NULL, " ", &save))
		datapath_release(f->dp, w);
	free(copy);
	unsetenv(PORTS_ENV);
}

int follow_open(struct follow *f, struct datapath *dp, struct nexthop_table *nht,
		enum withdrawn_policy policy, __u64 drain_timeout_s, int rcvbuf)
{
	int err;

	memset(f, 0, sizeof(*f));
	f->dp = dp;
	f->nht = nht;
	f->policy = policy;
	f->drain_timeout_s = drain_timeout_s;
	f->keepalive_at = KEEPALIVE_S;
	f->count_at = PIN_COUNT_S;
	f->withdrawn_at = calloc(nht->size, sizeof(*f->withdrawn_at));
	f->pins = calloc(nht->size, sizeof(*f->pins));
	if (!f->withdrawn_at || !f->pins || model_init(&f->model)) {
		pr_warn("cannot follow the kernel: %s\n", strerror(ENOMEM));
		follow_close(f);
		return -ENOMEM;
	}
	withdrawn_at_import(f);
	/* Subscribe first, then dump, so no change falls between the two. */
	err = rtnl_open(&f->rtnl, rcvbuf);
	if (err) {
		pr_warn("cannot open rtnetlink: %s\n", strerror(-err));
		follow_close(f);
		return err;
	}
	err = dump_kernel(f);
	if (err)
		follow_close(f);
	return err;
}

/*
 * port_macs is written with the VRFs the first dump found, and auto's
 * mode heeds the VLANs it found on each port.
 */
void follow_ports_before_attach(struct follow *f)
{
	for (int i = 0; i < f->dp->n_ports; i++) {
		struct port *p = &f->dp->ports[i];
		p->l3dom = model_l3dom(&f->model, p->ifindex);
		port_vlan_note(&f->model, p, p->ifindex);
	}
}

void follow_attached(struct follow *f)
{
	f->attached = true;
	f->links_due = true;
	follow_ports(f); /* the ports' VLANs and bonds */
	ports_import(f);
}

int follow_event_fd(const struct follow *f)
{
	return rtnl_event_fd(&f->rtnl);
}

void follow_tick(struct follow *f, unsigned long n)
{
	unsigned long ticks = f->ticks += n;

	if (f->dump_due)
		redump(f);
	else if (f->epoch_due)
		move_epoch(f); /* a flood, or a failed write */
	if (ticks >= f->keepalive_at) {
		f->keepalive_at = ticks + KEEPALIVE_S;
		keepalive(f);
	}
	if (ticks >= f->count_at) {
		f->count_at = ticks + PIN_COUNT_S;
		if (!count_pins(f) && !f->dump_due)
			write_table(f);
	}
}

void follow_hand_over(struct follow *f)
{
	rtnl_close(&f->rtnl);
	withdrawn_at_export(f);
	ports_export(f);
}

void follow_close(struct follow *f)
{
	rtnl_close(&f->rtnl);
	model_free(&f->model);
	free(f->withdrawn_at);
	free(f->pins);
	f->withdrawn_at = NULL;
	f->pins = NULL;
}
