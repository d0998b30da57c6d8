// SPDX-License-Identifier: GPL-2.0
/*
 * flowpind: attach flowpin to the ports and keep its next-hop table equal
 * to the kernel's routes, neighbours and links.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowpin.skel.h"
#include "datapath.h"
#include "kernel.h"
#include "log.h"
#include "bypass.h"
#include "settings.h"
#include "model.h"
#include "reconcile.h"
#include "port_bonds.h"
#include "port_vlans.h"
#include "nexthop_table.h"
#include "route_epoch.h"
#include "rtnl.h"
#include "sync.h"
#include "version.h"

#define RCVBUF (32 << 20)
#define KEEPALIVE_S 5 /* NTF_USE for next hops in use */
#define PIN_COUNT_S 10 /* count pins per next hop, to release drained ones */
#define BYPASS_CHECK_S 10 /* look again for what forwarded flows skip */

struct daemon {
	struct datapath dp;
	struct nexthop_table nht;
	struct rtnl rtnl;
	struct model model;
	struct daemon_status status;
	enum withdrawn_policy policy;
	__u64 drain_timeout_s;
	int rcvbuf; /* bytes of the netlink event socket's receive buffer */
	__u64 *withdrawn_at;
	__u32 *pins;
	bool pins_counted;
	__u64 pins_counted_s;
	__u64 write_errors; /* next-hop changes that failed to reach the maps */
	char exe[PATH_MAX]; /* what SIGHUP executes: the installed binary */
	struct bypass bypass; /* what forwarded flows skip, as last said */
	bool allow_nat;	      /* --allow-nat */
	bool attached;	      /* the ports have flowpin: follow their changes */
	bool resync_due;      /* events were lost, or a dump failed: dump at the tick */
	struct epoch_watch epochs; /* what moves the route epoch */
	bool epoch_due;	      /* an event moved it: write it after the table */
	bool links_due;	      /* a link changed: follow the ports again */
	char *const *port_names;
	int n_port_names;
	const char *settings; /* --settings: read again on SIGHUP */
	struct sync_config sync_cfg;
	struct sync *sync;    /* pin sync with peers, when --sync */
	bool ready_due;	      /* READY=1 once the peers' bulk syncs are in */
	double ready_by;      /* ... or at this time (mono_s()) */
	char ready_msg[PATH_MAX + 128];
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: flowpind [options] IFACE...\n"
		"Attach flowpin to these ports and keep its maps in sync with the kernel.\n\n"
		"  -m, --mode native|skb|tc|auto   where the program runs: XDP in the driver (native),\n"
		"                                  generic XDP (skb), tc ingress (tc); auto: tc on\n"
		"                                  veth and devices without native XDP (VLAN,\n"
		"                                  macvlan, bridge...), native where the driver\n"
		"                                  has it, else tc\n"
		"  -p, --pin-path DIR              where maps are pinned (default %s)\n"
		"  -n, --max-flows N               capacity of the pin table (default %u)\n"
		"      --withdrawn drain|repin     what pinned flows do when their next hop leaves\n"
		"                                  every route (default drain)\n"
		"      --drain-timeout SECONDS     release a drained next hop after this long\n"
		"                                  even if flows are still pinned to it (default 0: never)\n"
		"      --pin-rate N                new pins per second and CPU; above it new flows are\n"
		"                                  forwarded unpinned (default %u; 0: no limit)\n"
		"      --pin-burst N               new pins a CPU may make at once (default %u)\n"
		"      --min-pin-age SECONDS       all CPUs together make at most max-flows pins per\n"
		"                                  SECONDS, so a flood evicts no younger pin\n"
		"                                  (default %u; 0: no shared limit)\n"
		"      --too-big-rate N            \"fragmentation needed\" / \"packet too big\" errors\n"
		"                                  flowpin sends per second and CPU, in bursts of %d\n"
		"                                  (default %u, as the kernel's icmp_msgs_per_sec;\n"
		"                                  0: no limit)\n"
		"      --allow-nat                 start even though NAT rules exist (they must not\n"
		"                                  apply to these ports: flowpin forwards without NAT)\n"
		"      --settings FILE             read FLOWPIND_OPTS and FLOWPIND_INTERFACES from\n"
		"                                  FILE again on SIGHUP (the unit gives its\n"
		"                                  EnvironmentFile): a reload applies an edit\n"
		"      --sync ADDR[:PORT]          share pins with peers: listen on this address\n"
		"                                  (UDP port %d by default; IPv6 as [ADDR]:PORT)\n"
		"      --peer ADDR[:PORT]          a peer's --sync address; repeat for each peer\n"
		"      --sync-key FILE             the peers' shared secret: 32 bytes or more, mode\n"
		"                                  0600 (head -c 32 /dev/urandom > FILE)\n"
		"      --sync-wait SECONDS         wait this long at most for the peers' pins\n"
		"                                  before telling systemd it is ready (default %d)\n"
		"      --netlink-rcvbuf BYTES      receive buffer of the event socket (default %d;\n"
		"                                  tiny values are for testing lost events)\n"
		"  -v, --verbose                   more messages; twice for libbpf's debug output\n"
		"  -V, --version\n"
		"  -h, --help\n\n"
		"Signals: TERM/INT detach and exit; HUP re-executes flowpind without\n"
		"detaching (a restart or upgrade that breaks no connection).\n",
		FP_PIN_PATH, FP_MAX_FLOWS, FP_PIN_RATE, FP_PIN_BURST,
		FP_MIN_PIN_AGE, FP_TOO_BIG_BURST, FP_TOO_BIG_RATE, FP_SYNC_PORT,
		SYNC_WAIT_S, RCVBUF);
}

static void sd_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract socket */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
	       offsetof(struct sockaddr_un, sun_path) + len);
	close(fd);
}

/* One line and false on a kernel older than the oldest one tested. */
static bool check_kernel(void)
{
	struct utsname u;

	if (uname(&u) || kernel_release_ok(u.release))
		return true;
	pr_warn("Linux %s or later is needed; this kernel is %s\n",
		FP_MIN_KERNEL, u.release);
	return false;
}

/*
 * Routers that share pins should make the same choice for a new flow: the
 * same routes and the same multipath hash seed (one for IPv4 and IPv6).
 */
static void warn_hash_seed(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/fib_multipath_hash_seed", "r");
	unsigned long long seed = 1;

	if (!f)
		return; /* before 6.11: no seed to set */
	if (fscanf(f, "%llu", &seed) == 1 && seed == 0)
		pr_warn("net.ipv4.fib_multipath_hash_seed is 0 (random at each boot): set one seed on every router that shares pins, so they choose alike for new flows\n");
	fclose(f);
}

/* A port of ours, attached: its next hops may take a peer's pins. */
static bool serves(void *ctx, __u32 ifindex)
{
	const struct daemon *d = ctx;

	return datapath_port(&d->dp, ifindex);
}

static void warn_hash_policy(void)
{
	static const char *const files[] = {
		"/proc/sys/net/ipv4/fib_multipath_hash_policy",
		"/proc/sys/net/ipv6/fib_multipath_hash_policy",
	};

	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");
		int policy = -1;

		if (!f)
			continue;
		if (fscanf(f, "%d", &policy) == 1 && policy == 0)
			pr_warn("%s is 0: the multipath hash ignores ports, so all flows between two hosts take one path\n",
				files[i] + strlen("/proc/sys/"));
		fclose(f);
	}
}

static const char *nh_str(const struct nexthop_addr *a, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?", dev[IF_NAMESIZE] = "?";

	inet_ntop(a->family == FP_AF_INET ? AF_INET : AF_INET6, a->gw, addr,
		  sizeof(addr));
	if_indextoname(a->ifindex, dev);
	snprintf(buf, len, "%s dev %s", addr, dev);
	return buf;
}

static const char *const state_names[] = {
	[NH_UNUSED] = "released", [NH_ACTIVE] = "active",
	[NH_WITHDRAWN] = "withdrawn", [NH_DEAD] = "dead",
};

/*
 * A port whose MAC changed receives frames for the new one; a port moved
 * into or out of a VRF keys its flows with the new domain. A port whose
 * device was deleted is attached again when a device of its name appears.
 * Then the ports' VLAN devices and bond members, into the datapath's maps.
 */
static void sync_ports(struct daemon *d)
{
	bool again = false; /* something failed: tried again at the next sync */

	if (!d->links_due)
		return; /* nothing of the ports changed: no map to read or write */
	for (int i = 0; i < d->dp.n_ports; i++) {
		struct port *p = &d->dp.ports[i];
		const struct model_link *l = model_link(&d->model, p->ifindex);
		const struct model_link *vlan;
		__u32 l3dom, old;
		bool new_mac;

		if (!l) {
			if (!p->gone) {
				pr_warn("port %s is gone: its flows' packets go to the kernel; flowpin attaches again to a new %s\n",
					p->name, p->name);
				datapath_port_gone(&d->dp, p);
				p->gone = true;
			}
			l = model_link_by_name(&d->model, p->name);
			if (!l)
				continue;
			pr_info("port %s is back (ifindex %u)\n", p->name,
				l->ifindex);
			vlan = port_vlan_first(&d->model, l->ifindex);
			snprintf(p->vlan, sizeof(p->vlan), "%s", vlan ? vlan->name : "");
			old = p->ifindex;
			if (datapath_port_back(&d->dp, p, l->ifindex,
					       model_l3dom(&d->model, l->ifindex))) {
				p->ifindex = old;
				again = true;
			} else {
				p->gone = false;
			}
			continue;
		}
		l3dom = model_l3dom(&d->model, p->ifindex);
		new_mac = memcmp(l->mac, p->mac, FP_ETH_ALEN);
		if (!new_mac && l3dom == p->l3dom)
			continue;
		if (datapath_set_port(&d->dp, p, l->mac, l3dom)) {
			again = true;
			continue;
		}
		if (new_mac)
			pr_info("port %s has a new MAC\n", p->name);
		else
			pr_info("port %s is now in L3 domain %u%s\n", p->name,
				l3dom, l3dom ? " (a VRF)" : " (none)");
	}
	if (port_vlans_sync(&d->dp, &d->model))
		again = true;
	if (port_bonds_sync(&d->dp, &d->model))
		again = true;
	d->links_due = again;
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
static int sync_table(struct daemon *d)
{
	struct reconcile_opts o = {
		.policy = d->policy,
		.now_s = boot_s(),
		.drain_timeout_s = d->drain_timeout_s,
		.pins = d->pins_counted ? d->pins : NULL,
		.pins_counted_s = d->pins_counted_s,
		.withdrawn_at = d->withdrawn_at,
	};
	struct nh_change *ch;
	char buf[96];
	int n, err = 0, failed = 0, ret;

	if (d->attached)
		sync_ports(d);
	n = reconcile(&d->model, d->nht.nh, d->nht.size, &o, &ch);
	if (n < 0)
		return n;
	/*
	 * In reconcile()'s order, one failed write not stopping the rest, and
	 * as one batch: one grace period for all of them.
	 */
	nexthop_table_begin(&d->nht);
	for (int i = 0; i < n; i++) {
		struct nexthop_addr a = ch[i].addr;
		const struct nexthop *nh;

		if (ch[i].op == NH_RELEASE) {
			nh = nexthop_table_get(&d->nht, ch[i].id);
			nexthop_addr_of(&a, nh);
			ret = nexthop_table_release(&d->nht, ch[i].id);
			if (!ret)
				pr_info("next hop %s: released\n",
					nh_str(&a, buf, sizeof(buf)));
		} else {
			ret = nexthop_table_set(&d->nht, &a, ch[i].smac,
						ch[i].dmac, ch[i].mtu,
						ch[i].state);
			if (ret >= 0)
				pr_info("next hop %s: %s, id %d\n",
					nh_str(&a, buf, sizeof(buf)),
					state_names[ch[i].state], ret);
		}
		if (ret < 0) {
			pr_warn("next hop %s: cannot write it: %s\n",
				nh_str(&a, buf, sizeof(buf)), strerror(-ret));
			failed++;
			err = err ? err : ret;
		}
	}
	free(ch);
	ret = nexthop_table_commit(&d->nht);
	if (ret) {
		pr_warn("waiting for the datapath's readers failed: %s; the next write waits first\n",
			strerror(-ret));
		err = err ? err : ret;
	}
	d->write_errors += failed;
	if (failed)
		pr_warn("%d of %d next-hop changes failed (%llu since start); the next event or resync tries again\n",
			failed, n, (unsigned long long)d->write_errors);
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
	struct daemon *d = data;

	d->epoch_due |= epoch_watch_msg(&d->epochs, nlh);
	d->links_due |= nlh->nlmsg_type == RTM_NEWLINK ||
			nlh->nlmsg_type == RTM_DELLINK;
	return apply_msg(nlh, &d->model);
}

/*
 * After the next-hop table, so a next hop that left every route reads
 * NH_WITHDRAWN by the time a pinned flow is asked again.
 */
static void move_epoch(struct daemon *d)
{
	int err = datapath_move_epoch(&d->dp, d->epochs.flags);

	d->epoch_due = err != 0; /* tried again at the next tick */
	if (err)
		pr_warn("cannot move the route epoch: %s; trying again in a second\n",
			strerror(-err));
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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
static int full_sync(struct daemon *d)
{
	struct model fresh;
	struct epoch_watch epochs;
	struct dump_into to = { &fresh, &epochs };
	double t0 = mono_s();
	int err;

	rtnl_read_events(&d->rtnl, discard_msg, NULL);
	for (int tries = 1;; tries++) {
		err = model_init(&fresh);
		if (err)
			return err;
		epoch_watch_reset(&epochs);
		err = rtnl_dump(&d->rtnl, dump_msg, &to);
		if (!err || (err == -EINTR && tries == DUMP_TRIES)) {
			if (err)
				pr_warn("the kernel's state changed during %d dumps in a row: keeping the last; the events that follow correct it\n",
					tries);
			model_keep_macs(&fresh, &d->model, d->nht.nh, d->nht.size);
			model_free(&d->model);
			d->model = fresh;
			d->epochs = epochs;
			d->links_due = true;
			d->status.synced_s = time(NULL);
			pr_debug("full dump: %u routes through gateways in %.2f s\n",
				 d->model.n_routes, mono_s() - t0);
			err = sync_table(d);
			move_epoch(d); /* what changed unseen may refuse a flow */
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
 * Apply pending events. Failures are logged where they happen and never
 * stop the daemon: the datapath keeps forwarding, and the next event or
 * resync tries again.
 */
/*
 * A full dump, now or (resync_due) at the next tick: lost events are
 * answered by one dump however many losses a burst brings, and a dump that
 * fails is tried again at every tick until one succeeds.
 */
static void resync(struct daemon *d)
{
	d->resync_due = full_sync(d) != 0;
	if (!d->resync_due) {
		d->status.resyncs++;
		datapath_write_status(&d->dp, &d->status);
	}
}

static void handle_events(struct daemon *d)
{
	int err = rtnl_read_events(&d->rtnl, event_msg, d);

	if (err) {
		if (!d->resync_due) {
			if (err == -ENOBUFS)
				pr_warn("netlink events were lost: resyncing from a full dump\n");
			else
				pr_warn("reading netlink events: %s; resyncing\n",
					strerror(-err));
		}
		d->resync_due = true;
		return;
	}
	if (d->resync_due)
		return; /* the model is behind: the dump comes at the tick */
	if (d->model.stale) {
		pr_debug("a link went down or lost an address: dumping again\n");
		d->resync_due = full_sync(d) != 0;
		return;
	}
	sync_table(d);
	/*
	 * Once the socket is drained: mid-flood (a routing daemon removing
	 * its routes one by one) a next hop whose routes are going still
	 * reads NH_ACTIVE, and a flow asked then would be refused for a
	 * state the next batch undoes. The tick moves it at the latest.
	 */
	if (d->epoch_due && !rtnl_events_pending(&d->rtnl))
		move_epoch(d);
}

/*
 * Keep the kernel's neighbour entries of next hops in use resolved. Static
 * entries need nothing, and NTF_USE would strip NUD_PERMANENT from them
 * (neigh_add() passes NEIGH_UPDATE_F_USE, which clears it).
 */
static void keepalive(struct daemon *d)
{
	const struct model_neigh *n;
	char buf[96];
	int err;

	for (__u32 id = 1; id < d->nht.size; id++) {
		const struct nexthop *nh = &d->nht.nh[id];
		struct nexthop_addr a;

		if (nh->state != NH_ACTIVE && nh->state != NH_WITHDRAWN)
			continue;
		nexthop_addr_of(&a, nh);
		n = model_neigh(&d->model, &a);
		if (n && n->is_static)
			continue;
		err = rtnl_neigh_use(&d->rtnl, &a);
		if (err)
			pr_debug("next hop %s: cannot refresh its neighbour entry: %s\n",
				 nh_str(&a, buf, sizeof(buf)), strerror(-err));
	}
}

/* Pins per next hop, read in batches so the datapath is not disturbed. */
static int count_pins(struct daemon *d)
{
	int fd = bpf_map__fd(d->dp.skel->maps.flow_pins);
	struct pollfd events = { .fd = rtnl_event_fd(&d->rtnl), .events = POLLIN };
	__u32 *counting = calloc(d->nht.size, sizeof(*counting));
	__u64 started = boot_s();
	struct flow_key keys[1024];
	struct flow_pin vals[1024];
	__u32 batch, count;
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
				nexthop_table_get(&d->nht, vals[i].nh_id);

			if (nh && nh->gen == vals[i].nh_gen)
				counting[vals[i].nh_id]++;
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
			handle_events(d);
	}
	memcpy(d->pins, counting, d->nht.size * sizeof(*d->pins));
	free(counting);
	d->pins_counted_s = started;
	d->pins_counted = true;
	return 0;
}

static int parse_args(int argc, char **argv, struct datapath_opts *o,
		      struct daemon *d, int *verbose)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "pin-path", required_argument, NULL, 'p' },
		{ "max-flows", required_argument, NULL, 'n' },
		{ "withdrawn", required_argument, NULL, 'w' },
		{ "drain-timeout", required_argument, NULL, 't' },
		{ "pin-rate", required_argument, NULL, 'r' },
		{ "pin-burst", required_argument, NULL, 'b' },
		{ "min-pin-age", required_argument, NULL, 'a' },
		{ "too-big-rate", required_argument, NULL, 'B' },
		{ "allow-nat", no_argument, NULL, 'N' },
		{ "settings", required_argument, NULL, 'S' },
		{ "netlink-rcvbuf", required_argument, NULL, 'R' },
		{ "sync", required_argument, NULL, 's' },
		{ "peer", required_argument, NULL, 'P' },
		{ "sync-key", required_argument, NULL, 'k' },
		{ "sync-wait", required_argument, NULL, 'W' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "m:p:n:vVh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "native"))
				o->mode = XDP_MODE_NATIVE;
			else if (!strcmp(optarg, "skb"))
				o->mode = XDP_MODE_SKB;
			else if (!strcmp(optarg, "tc"))
				o->mode = FP_MODE_TC;
			else if (!strcmp(optarg, "auto"))
				o->mode = XDP_MODE_UNSPEC;
			else
				goto bad;
			break;
		case 'p':
			o->pin_path = optarg;
			break;
		case 'n':
			errno = 0;
			o->max_flows = strtoul(optarg, &end, 0);
			if (errno || *end || o->max_flows < 16 ||
			    o->max_flows > (1U << 28))
				goto bad;
			break;
		case 'w':
			if (!strcmp(optarg, "drain"))
				o->policy = FP_WITHDRAWN_DRAIN;
			else if (!strcmp(optarg, "repin"))
				o->policy = FP_WITHDRAWN_REPIN;
			else
				goto bad;
			break;
		case 't':
			errno = 0;
			d->drain_timeout_s = strtoull(optarg, &end, 0);
			if (errno || *end)
				goto bad;
			break;
		case 'r':
		case 'b':
			errno = 0;
			*(c == 'r' ? &o->pin_rate : &o->pin_burst) =
				strtoull(optarg, &end, 0);
			if (errno || *end || (c == 'b' && !o->pin_burst))
				goto bad;
			break;
		case 'a':
			errno = 0;
			o->min_pin_age = strtoul(optarg, &end, 0);
			if (errno || *end || o->min_pin_age > 86400)
				goto bad;
			break;
		case 'B':
			errno = 0;
			o->too_big_rate = strtoull(optarg, &end, 0);
			if (errno || *end || o->too_big_rate > 1000000000ULL)
				goto bad;
			break;
		case 'N':
			d->allow_nat = true;
			break;
		case 'S':
			d->settings = optarg;
			break;
		case 'R':
			errno = 0;
			d->rcvbuf = strtol(optarg, &end, 0);
			if (errno || *end || d->rcvbuf <= 0)
				goto bad;
			break;
		case 's':
			if (sync_parse_addr(optarg, &d->sync_cfg.listen))
				goto bad;
			d->sync_cfg.on = true;
			break;
		case 'P':
			if (d->sync_cfg.n_peers == FP_MAX_PEERS - 1) {
				fprintf(stderr, "flowpind: at most %d peers\n",
					FP_MAX_PEERS - 1);
				return -EINVAL;
			}
			if (sync_parse_addr(optarg,
					    &d->sync_cfg.peer[d->sync_cfg.n_peers++]))
				goto bad;
			break;
		case 'k':
			d->sync_cfg.key_file = optarg;
			break;
		case 'W':
			errno = 0;
			d->sync_cfg.wait_s = strtoul(optarg, &end, 0);
			if (errno || *end || d->sync_cfg.wait_s > 3600)
				goto bad;
			break;
		case 'v':
			(*verbose)++;
			break;
		case 'V':
			printf("flowpind %s\n", FP_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	o->ifaces = argv + optind;
	o->n_ifaces = argc - optind;
	if (!o->n_ifaces) {
		fprintf(stderr, "flowpind: no interface given (flowpind --help)\n");
		return -EINVAL;
	}
	{
		char err[256];

		if (sync_check_config(&d->sync_cfg, err, sizeof(err))) {
			fprintf(stderr, "flowpind: %s\n", err);
			return -EINVAL;
		}
	}
	o->sync_pins = d->sync_cfg.on;
	return 0;
bad:
	fprintf(stderr, "flowpind: invalid value '%s' for --%s\n", optarg,
		c == 'm' ? "mode" : c == 'n' ? "max-flows" :
		c == 'w' ? "withdrawn" : c == 'r' ? "pin-rate" :
		c == 'b' ? "pin-burst" : c == 'R' ? "netlink-rcvbuf" :
		c == 'a' ? "min-pin-age" : c == 'B' ? "too-big-rate" :
		c == 's' ? "sync" :
		c == 'P' ? "peer" : c == 'W' ? "sync-wait" :
		"drain-timeout");
	return -EINVAL;
}

/*
 * Say what forwarded flows skip: everything at start, then what is new.
 * At start, NAT is a refusal unless --allow-nat: flowpin would send packets
 * out un-NATed. Returns -EPERM for that refusal.
 */
static int check_bypass(struct daemon *d, bool start)
{
	struct bypass now;
	int err = 0;

	bypass_scan(d->port_names, d->n_port_names, &now);
	for (int i = 0; i < now.n; i++)
		if (start || !bypass_has(&d->bypass, now.what[i]))
			pr_warn("%s\n", now.what[i]);
	if (start && now.nat && !d->allow_nat) {
		pr_warn("NAT rules exist, and flowpin would forward around them: remove them, or start with --allow-nat if they never apply to these ports\n");
		err = -EPERM;
	}
	d->bypass = now;
	return err;
}

/*
 * When each withdrawn next hop was withdrawn (boot-time seconds), handed to
 * the re-executed image in the environment: its drain timeout runs on, and
 * does not start over at every reload.
 */
#define WITHDRAWN_ENV "FLOWPIND_WITHDRAWN_AT"

static void withdrawn_at_export(const struct daemon *d)
{
	size_t len = 0, cap = 64;
	char *v = malloc(cap);

	if (!v)
		return;
	v[0] = '\0';
	for (__u32 id = 1; id < d->nht.size; id++) {
		if (!d->withdrawn_at[id])
			continue;
		if (cap - len < 48) {
			char *bigger = realloc(v, cap *= 2);

			if (!bigger)
				break;
			v = bigger;
		}
		len += snprintf(v + len, cap - len, "%s%u=%llu", len ? "," : "",
				id, (unsigned long long)d->withdrawn_at[id]);
	}
	setenv(WITHDRAWN_ENV, v, 1);
	free(v);
}

/* Only for next hops the table still holds as withdrawn. */
static void withdrawn_at_import(struct daemon *d)
{
	const char *v = getenv(WITHDRAWN_ENV);
	unsigned long long t;
	unsigned int id;
	int n;

	while (v && sscanf(v, "%u=%llu%n", &id, &t, &n) == 2) {
		const struct nexthop *nh = id < d->nht.size ?
			nexthop_table_get(&d->nht, id) : NULL;

		if (nh && nh->state == NH_WITHDRAWN)
			d->withdrawn_at[id] = t;
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

static void ports_export(const struct daemon *d)
{
	char v[FP_MAX_PORTS * (IF_NAMESIZE + 1) + 1] = "";
	size_t len = 0;

	for (int i = 0; i < d->dp.n_ports && len < sizeof(v); i++)
		len += snprintf(v + len, sizeof(v) - len, "%s%s", len ? " " : "",
				d->dp.ports[i].name);
	setenv(PORTS_ENV, v, 1);
}

static void ports_import(struct daemon *d)
{
	const char *v = getenv(PORTS_ENV);
	char *copy = v ? strdup(v) : NULL, *save = NULL;

	for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w;
	     w = strtok_r(NULL, " ", &save))
		datapath_release(&d->dp, w);
	free(copy);
	unsetenv(PORTS_ENV);
}

static int open_fds(sigset_t *mask, int *sigfd, int *timerfd)
{
	struct itimerspec tick = { { 1, 0 }, { 1, 0 } };

	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, mask, NULL))
		return -errno;
	*sigfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	*timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (*sigfd < 0 || *timerfd < 0 || timerfd_settime(*timerfd, 0, &tick, NULL))
		return -errno;
	return 0;
}

/*
 * READY=1, once: with peers, after their bulk syncs (or the wait ran out),
 * so whatever announces this router upstream waits for its peers' pins.
 */
static void maybe_ready(struct daemon *d)
{
	char pending[512];

	if (!d->ready_due)
		return;
	if (d->sync && !sync_bulk_done(d->sync)) {
		if (mono_s() < d->ready_by)
			return;
		sync_pending_peers(d->sync, pending, sizeof(pending));
		pr_warn("sync: no bulk sync from %s after %u s: ready without their pins\n",
			pending, d->sync_cfg.wait_s);
	}
	d->ready_due = false;
	sd_notify(d->ready_msg);
	pr_info("ready: %d port(s), maps pinned in %s\n", d->dp.n_ports,
		d->dp.pin_path);
}

/* Returns the signal that ended the loop, or -errno. */
static int run(struct daemon *d, int sigfd, int timerfd)
{
	struct pollfd pfd[4] = {
		{ .fd = rtnl_event_fd(&d->rtnl), .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = timerfd, .events = POLLIN },
		{ .fd = d->sync ? sync_fd(d->sync) : -1, .events = POLLIN },
	};
	/* due times, not multiples: a timer that overran skips nothing */
	unsigned long ticks = 0, keepalive_at = KEEPALIVE_S,
		      count_at = PIN_COUNT_S, bypass_at = BYPASS_CHECK_S;

	for (;;) {
		maybe_ready(d);
		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents)
			handle_events(d);
		if (pfd[3].revents)
			sync_work(d->sync);
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si))
				return si.ssi_signo;
		}
		if (pfd[2].revents) {
			__u64 n;

			if (read(timerfd, &n, sizeof(n)) != sizeof(n))
				continue;
			ticks += n;
			datapath_beat(&d->dp);
			if (getenv("WATCHDOG_USEC"))
				sd_notify("WATCHDOG=1");
			if (d->resync_due)
				resync(d);
			else if (d->epoch_due)
				move_epoch(d); /* a flood, or a failed write */
			if (ticks >= keepalive_at) {
				keepalive_at = ticks + KEEPALIVE_S;
				keepalive(d);
			}
			if (ticks >= count_at) {
				count_at = ticks + PIN_COUNT_S;
				if (!count_pins(d) && !d->resync_due)
					sync_table(d);
			}
			if (ticks >= bypass_at) {
				bypass_at = ticks + BYPASS_CHECK_S;
				check_bypass(d, false);
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct datapath_opts o = {
		.pin_path = FP_PIN_PATH,
		.mode = XDP_MODE_UNSPEC,
		.max_flows = FP_MAX_FLOWS,
		.policy = FP_WITHDRAWN_DRAIN,
		.pin_rate = FP_PIN_RATE,
		.too_big_rate = FP_TOO_BIG_RATE,
		.pin_burst = FP_PIN_BURST,
		.min_pin_age = FP_MIN_PIN_AGE,
	};
	struct daemon d = { .rcvbuf = RCVBUF, .sync_cfg.wait_s = SYNC_WAIT_S };
	int verbose = 0, sigfd = -1, timerfd = -1, sig, err;
	double t0;
	sigset_t mask;

	if (parse_args(argc, argv, &o, &d, &verbose))
		return 2;
	/* resolved now, so a SIGHUP after an upgrade runs the new binary */
	if (readlink("/proc/self/exe", d.exe, sizeof(d.exe) - 1) < 0)
		snprintf(d.exe, sizeof(d.exe), "%s", argv[0]);
	log_init("flowpind", verbose >= 2 ? LOG_TRACE :
			     verbose ? LOG_DEBUG : LOG_INFO);
	d.policy = o.policy;
	if (!check_kernel())
		return 1;
	/* the key and the socket first: bad input is one line, nothing done */
	if (d.sync_cfg.on && sync_open(&d.sync, &d.sync_cfg))
		return 1;
	warn_hash_policy();
	if (d.sync_cfg.on)
		warn_hash_seed();
	d.port_names = o.ifaces;
	d.n_port_names = o.n_ifaces;
	if (check_bypass(&d, true)) {
		sync_stop(d.sync);
		return 1;
	}

	err = open_fds(&mask, &sigfd, &timerfd);
	if (err)
		goto out;
	t0 = mono_s();
	err = datapath_open(&d.dp, &o);
	if (err)
		goto out;
	pr_debug("maps and program ready in %.2f s\n", mono_s() - t0);
	err = nexthop_table_open(&d.nht, bpf_map__fd(d.dp.skel->maps.nexthops),
				 bpf_map__fd(d.dp.skel->maps.nexthop_index));
	if (err) {
		pr_warn("cannot read the next-hop table: %s\n", strerror(-err));
		goto err_dp;
	}
	d.withdrawn_at = calloc(d.nht.size, sizeof(*d.withdrawn_at));
	d.pins = calloc(d.nht.size, sizeof(*d.pins));
	if (!d.withdrawn_at || !d.pins || model_init(&d.model)) {
		err = -ENOMEM;
		goto err_nht;
	}
	withdrawn_at_import(&d);
	/* Subscribe first, then dump, so no change falls between the two. */
	err = rtnl_open(&d.rtnl, d.rcvbuf);
	if (err) {
		pr_warn("cannot open rtnetlink: %s\n", strerror(-err));
		goto err_nht;
	}
	err = full_sync(&d);
	if (err)
		goto err_rtnl;
	t0 = mono_s();
	datapath_beat(&d.dp); /* before the program runs with these maps */
	/*
	 * port_macs is written with the VRFs the first sync found, and
	 * auto's mode heeds the VLANs it found on each port
	 */
	for (int i = 0; i < d.dp.n_ports; i++) {
		struct port *p = &d.dp.ports[i];
		const struct model_link *vlan = port_vlan_first(&d.model, p->ifindex);

		p->l3dom = model_l3dom(&d.model, p->ifindex);
		snprintf(p->vlan, sizeof(p->vlan), "%s", vlan ? vlan->name : "");
	}
	err = datapath_attach(&d.dp);
	if (err)
		goto err_rtnl;
	d.attached = true;
	d.links_due = true;
	sync_ports(&d); /* the ports' VLANs and bonds */
	ports_import(&d);
	pr_debug("attached in %.2f s\n", mono_s() - t0);

	d.status = (struct daemon_status){
		.layout = FP_LAYOUT,
		.pid = getpid(),
		.obj_hash = d.dp.obj_hash,
		.withdrawn_policy = d.policy,
		.started_s = time(NULL),
		.synced_s = d.status.synced_s,
		.xdp_mode = d.dp.status_mode,
	};
	datapath_write_status(&d.dp, &d.status);
	snprintf(d.ready_msg, sizeof(d.ready_msg),
		 "READY=1\nSTATUS=forwarding on %d port(s), pins in %s",
		 d.dp.n_ports, d.dp.pin_path);
	d.ready_due = true;
	if (d.sync) {
		struct sync_env env = {
			.nht = &d.nht,
			.policy = d.policy,
			.serves = serves,
			.ctx = &d,
			.flow_pins_fd = bpf_map__fd(d.dp.skel->maps.flow_pins),
			.pin_events_fd = bpf_map__fd(d.dp.skel->maps.pin_events),
			.peers_fd = bpf_map__fd(d.dp.skel->maps.sync_peers),
			.turnover_fd = bpf_map__fd(d.dp.skel->maps.pin_turnover),
			.pins_per_s = d.dp.skel->rodata->pins_per_s,
		};

		err = sync_start(d.sync, &env);
		if (err) {
			/* before the maps it writes to are closed */
			sync_stop(d.sync);
			d.sync = NULL;
			datapath_detach(&d.dp);
			goto err_rtnl;
		}
		d.ready_by = mono_s() + d.sync_cfg.wait_s;
	}

	for (;;) {
		sig = run(&d, sigfd, timerfd);
		if (sig != SIGHUP || !datapath_repin(&d.dp))
			break;
		pr_warn("not re-executing: the new image would not find these maps; fix %s and send SIGHUP again\n",
			d.dp.pin_path);
	}
	if (sig == SIGHUP) {
		char **next = argv;

		/* The datapath stays attached; the new image adopts it. */
		if (d.settings) {
			next = settings_argv(d.exe, d.settings);
			if (!next) {
				pr_warn("cannot read %s: %s; re-executing with the same options\n",
					d.settings, strerror(errno));
				next = argv;
			}
		}
		pr_info("re-executing%s, the datapath stays attached\n",
			next != argv ? " with the settings read again" : "");
		sd_notify("RELOADING=1");
		sync_stop(d.sync);
		d.sync = NULL;
		rtnl_close(&d.rtnl);
		withdrawn_at_export(&d);
		ports_export(&d);
		/* signals stay blocked: the new image's signalfd gets any pending */
		execv(d.exe, next);
		pr_warn("cannot re-execute: %s; the datapath stays attached\n",
			strerror(errno));
		return 1;
	}
	if (sig < 0)
		pr_warn("stopping after an error: %s\n", strerror(-sig));
	sd_notify("STOPPING=1");
	sync_stop(d.sync);
	d.sync = NULL;
	datapath_detach(&d.dp);
	d.status.pid = 0;
	datapath_write_status(&d.dp, &d.status);
	err = sig < 0 ? sig : 0;
	rtnl_close(&d.rtnl);
	model_free(&d.model);
	nexthop_table_close(&d.nht);
	datapath_close(&d.dp);
	goto out;

err_rtnl:
	rtnl_close(&d.rtnl);
err_nht:
	model_free(&d.model);
	nexthop_table_close(&d.nht);
err_dp:
	datapath_unpin_new(&d.dp);
	datapath_close(&d.dp);
out:
	sync_stop(d.sync);
	free(d.withdrawn_at);
	free(d.pins);
	return err ? 1 : 0;
}
