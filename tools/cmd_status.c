// SPDX-License-Identifier: GPL-2.0
/* status, stats, nexthops, detach: what is attached, loaded and counted. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "ctl_args.h"
#include "flowpinctl.h"
#include "peers_text.h"
#include "stats_text.h"
#include "port_prog.h"
#include "tc_hook.h"
#include "version.h"

/*
 * The loaded flowpin program that uses these maps: the XDP one where there
 * is one, else the tc one (flowpind loads only what its ports' modes use).
 * Its name in *name.
 */
static __u32 find_prog_id(struct ctl *ctl, const char **name)
{
	__u32 pins_id = ctl->maps.info[FP_MAP_FLOW_PINS].id, id = 0, tc_id = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		__u32 map_ids[16], len, nmaps;
		struct bpf_prog_info info;
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		info.nr_map_ids = 16;
		info.map_ids = (__u64)(unsigned long)map_ids;
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    (strcmp(info.name, FP_PROG_XDP) && strcmp(info.name, FP_PROG_TC))) {
			close(fd);
			continue;
		}
		close(fd);
		nmaps = info.nr_map_ids < 16 ? info.nr_map_ids : 16;
		for (__u32 i = 0; i < nmaps; i++) {
			if (map_ids[i] != pins_id)
				continue;
			if (!strcmp(info.name, FP_PROG_XDP)) {
				*name = FP_PROG_XDP;
				return id;
			}
			tc_id = tc_id ?: id;
		}
	}
	*name = FP_PROG_TC;
	return tc_id;
}

/* Does a process hold the lock on this directory? 1, 0, or -1: cannot tell. */
static int dir_locked(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), held;

	if (fd < 0)
		return -1;
	held = flock(fd, LOCK_SH | LOCK_NB) ? errno == EWOULDBLOCK ? 1 : -1 : 0;
	close(fd);
	return held;
}

/* The daemon's status record, and its state: running, gone, stopped, ... */
static const char *daemon_state(struct ctl *ctl, struct daemon_status *ds)
{
	__u32 key = 0;

	memset(ds, 0, sizeof(*ds));
	if (ctl->maps.fd[FP_MAP_DAEMON_STATUS] < 0 ||
	    bpf_map_lookup_elem(ctl->maps.fd[FP_MAP_DAEMON_STATUS], &key, ds))
		return "unknown";
	/* a running flowpind holds the pin directory's lock; a pid may be reused */
	switch (dir_locked(ctl->pin_path)) {
	case 1:
		return "running";
	case 0:
		return ds->pid ? "gone" : ds->started_s ? "stopped" :
						       "never started";
	}
	if (ds->pid) /* the lock cannot be asked: the pid must do */
		return kill(ds->pid, 0) && errno == ESRCH ? "gone" : "running";
	return ds->started_s ? "stopped" : "never started";
}

static void status_daemon(struct ctl *ctl)
{
	struct daemon_status ds;
	struct json_writer *w = &ctl->jw;
	__u64 now = time(NULL);
	const char *state = daemon_state(ctl, &ds);
	char up[DURATION_TEXT_MAX], sync[DURATION_TEXT_MAX];
	/* "synced" and "resyncs" keep their first names: scripts read them */
	if (ctl->json) {
		jw_name(w, "daemon");
		jw_object_start(w);
		jw_string_field(w, "state", state);
		jw_uint_field(w, "pid", ds.pid);
		jw_uint_field(w, "started_s", ds.started_s);
		jw_uint_field(w, "synced_s", ds.dumped_s);
		jw_string_field(w, "xdp_mode", fp_mode_name(ds.xdp_mode));
		jw_string_field(w, "withdrawn_policy",
				fp_withdrawn_policy_name(ds.withdrawn_policy));
		jw_uint_field(w, "resyncs", ds.redumps);
		jw_object_end(w);
		return;
	}
	printf("daemon:     %s", state);
	if (!strcmp(state, "running") || !strcmp(state, "gone"))
		printf(", pid %u", ds.pid);
	if (!strcmp(state, "gone"))
		printf(" (did not stop cleanly)");
	if (ds.started_s && ds.started_s <= now)
		printf(", up %s", duration_format(now - ds.started_s, up));
	if (ds.dumped_s && ds.dumped_s <= now)
		printf(", synced %s ago",
		       duration_format(now - ds.dumped_s, sync));
	if (ds.started_s)
		printf(", mode %s, policy %s, %u resyncs",
		       fp_mode_name(ds.xdp_mode),
		       fp_withdrawn_policy_name(ds.withdrawn_policy), ds.redumps);
	printf("\n");
}

static int status_interfaces(struct ctl *ctl)
{
	static const struct table_col cols[] = {
		{ "INTERFACE", false }, { "IFINDEX", true },
		{ "PROGRAM", false }, { "MODE", false },
		{ "PROG_ID", true },	{ "DISPATCHER", false },
	};
	struct json_writer *w = &ctl->jw;
	char name[IF_NAMESIZE];
	const __u32 *ifindex;
	struct port_prog s;
	const void *val;
	struct map_walk mw;
	struct table t;
	int err;

	err = map_walk_init(&mw, &ctl->maps, FP_MAP_TX_PORTS, 256);
	if (!err && !ctl->json)
		err = table_init(&t, stdout, cols, 6);
	if (err)
		return err;
	if (ctl->json) {
		jw_name(w, "interfaces");
		jw_array_start(w);
	}
	while ((err = map_walk_next(&mw, (const void **)&ifindex, &val)) > 0) {
		if (!if_indextoname(*ifindex, name))
			snprintf(name, sizeof(name), "if%u", *ifindex);
		port_prog_find(*ifindex, &s);
		if (ctl->json) {
			jw_object_start(w);
			jw_string_field(w, "name", name);
			jw_uint_field(w, "ifindex", *ifindex);
			jw_bool_field(w, "attached", s.flowpin);
			jw_string_field(w, "program", s.mode == FP_MODE_TC ?
					FP_PROG_TC : s.prog_name);
			jw_string_field(w, "mode", s.attached ?
				fp_mode_name(s.mode) : "none");
			jw_uint_field(w, "prog_id", s.prog_id);
			jw_bool_field(w, "dispatcher", s.dispatcher);
			jw_object_end(w);
			continue;
		}
		table_cell(&t, "%s", name);
		table_cell(&t, "%u", *ifindex);
		table_cell(&t, "%s", s.flowpin ? s.mode == FP_MODE_TC ?
						 FP_PROG_TC : FP_PROG_XDP :
			   s.attached ? s.prog_name : "-");
		table_cell(&t, "%s", s.attached ? fp_mode_name(s.mode) : "-");
		table_cell(&t, "%u", s.prog_id);
		table_cell(&t, "%s", s.dispatcher ? "yes" : "no");
	}
	map_walk_free(&mw);
	if (ctl->json)
		jw_array_end(w);
	else
		table_end(&t);
	return err;
}

static int status_maps(struct ctl *ctl)
{
	static const struct table_col cols[] = {
		{ "MAP", false },     { "TYPE", false }, { "ENTRIES", true },
		{ "MAX", true },      { "FILL", true },	 { "ID", true },
	};
	struct json_writer *w = &ctl->jw;
	struct table t;
	__u64 count;
	int err = 0;

	if (ctl->json) {
		jw_name(w, "maps");
		jw_object_start(w);
	} else {
		err = table_init(&t, stdout, cols, 6);
		if (err)
			return err;
	}
	for (int m = 0; m < FP_MAP_COUNT && !err; m++) {
		const struct bpf_map_info *info = &ctl->maps.info[m];
		const char *type = libbpf_bpf_map_type_str(info->type);
		bool counted = m != FP_MAP_STATS && m != FP_MAP_DAEMON_STATUS &&
			       m != FP_MAP_SYNC_PEERS;

		if (ctl->maps.fd[m] < 0)
			continue;
		count = info->max_entries;
		if (counted)
			err = map_count(&ctl->maps, m, &count);
		if (err)
			break;
		if (ctl->json) {
			jw_name(w, fp_map_name(m));
			jw_object_start(w);
			jw_uint_field(w, "id", info->id);
			jw_string_field(w, "type", type ? type : "unknown");
			if (counted)
				jw_uint_field(w, "entries", count);
			jw_uint_field(w, "max_entries", info->max_entries);
			jw_object_end(w);
			continue;
		}
		table_cell(&t, "%s", fp_map_name(m));
		table_cell(&t, "%s", type ? type : "unknown");
		if (counted)
			table_cell(&t, "%llu", (unsigned long long)count);
		else
			table_cell(&t, "-"); /* arrays of counters: always full */
		table_cell(&t, "%u", info->max_entries);
		if (counted)
			table_cell(&t, "%.1f%%", info->max_entries ?
				   100.0 * count / info->max_entries : 0.0);
		else
			table_cell(&t, "-");
		table_cell(&t, "%u", info->id);
	}
	if (ctl->json)
		jw_object_end(w);
	else
		table_end(&t);
	if (err)
		fprintf(stderr, "flowpinctl: counting map entries: %s\n",
			strerror(-err));
	return err;
}

int do_status(struct ctl *ctl, int argc, char **argv)
{
	__u32 prog_id;
	const char *prog_name = FP_PROG_XDP;
	int err;

	err = no_args_parse(argc, argv);
	if (err)
		return err;
	err = ctl_open(ctl, ~0u);
	if (err)
		return err;
	prog_id = find_prog_id(ctl, &prog_name);
	if (ctl->json) {
		jw_object_start(&ctl->jw);
		jw_string_field(&ctl->jw, "version", FP_VERSION);
		jw_string_field(&ctl->jw, "pin_path", ctl->pin_path);
		jw_uint_field(&ctl->jw, "prog_id", prog_id);
	} else {
		printf("version:    flowpinctl %s\n", FP_VERSION);
		printf("pin path:   %s\n", ctl->pin_path);
		if (prog_id)
			printf("program:    %s, id %u\n", prog_name, prog_id);
		else
			printf("program:    none loaded uses these maps\n");
	}
	status_daemon(ctl);
	if (!ctl->json)
		printf("\n");
	err = status_interfaces(ctl);
	if (err) {
		fprintf(stderr, "flowpinctl: reading tx_ports: %s\n",
			strerror(-err));
		return err;
	}
	if (!ctl->json)
		printf("\n");
	err = status_maps(ctl);
	if (ctl->json)
		jw_object_end(&ctl->jw);
	return err;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int stats_sleep(double secs)
{
	struct timespec ts = {
		.tv_sec = (time_t)secs,
		.tv_nsec = (long)((secs - (time_t)secs) * 1e9),
	};

	while (nanosleep(&ts, &ts))
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* The maps' fill, the next hops by state and the daemon, for --prometheus. */
static int gauges_read(struct ctl *ctl, struct fp_gauges *g)
{
	static const enum fp_map maps[] = {
		FP_MAP_FLOW_PINS, FP_MAP_FLOW_CACHE, FP_MAP_NEXTHOPS,
		FP_MAP_NEXTHOP_INDEX,
	};
	struct daemon_status ds;
	struct nexthop *nh;
	__u32 n;
	int err;

	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		struct fp_gauge_map *gm = &g->maps[g->n_maps++];

		gm->name = fp_map_name(maps[i]);
		gm->max_entries = ctl->maps.info[maps[i]].max_entries;
		if (maps[i] == FP_MAP_FLOW_CACHE) /* sets: in copies, as counted */
			gm->max_entries *= FP_CACHE_WAYS;
		err = map_count(&ctl->maps, maps[i], &gm->entries);
		if (err)
			return err;
	}
	err = nexthops_read(&ctl->maps, &nh, &n);
	if (err)
		return err;
	for (__u32 id = 0; id < n; id++)
		if (nh[id].state <= NH_DEAD)
			g->nexthops[nh[id].state]++;
	free(nh);
	g->daemon_running = !strcmp(daemon_state(ctl, &ds), "running");
	g->daemon_dumped = g->daemon_running && ds.dumped_s;
	g->dumped_s = ds.dumped_s;
	g->redumps = ds.redumps;
	g->now_s = time(NULL);
	return 0;
}

int do_stats(struct ctl *ctl, int argc, char **argv)
{
	__u64 before[FP_STAT_MAX], now[FP_STAT_MAX];
	struct stats_args a;
	double t0, t1;
	int err;

	err = stats_args_parse(argc, argv, &a);
	if (err)
		return err;
	err = ctl_open(ctl, a.prometheus ? ~0u : FP_MAP_BIT(FP_MAP_STATS));
	if (err)
		return err;
	err = stats_read(&ctl->maps, now);
	t1 = now_s();
	for (__u64 n = 0; !err && a.interval && (!a.count || n < a.count);
	     n++) {
		memcpy(before, now, sizeof(now));
		t0 = t1;
		err = stats_sleep(a.interval);
		if (!err)
			err = stats_read(&ctl->maps, now);
		t1 = now_s();
		if (err)
			break;
		if (ctl->json)
			stats_json(&ctl->jw, now, before, t1 - t0);
		else if (n)
			printf("\n");
		if (!ctl->json)
			err = stats_table(stdout, now, before, t1 - t0);
		fflush(stdout);
	}
	if (!err && !a.interval) {
		struct fp_gauges g;

		if (a.prometheus) {
			err = gauges_read(ctl, &g);
			if (err) {
				fprintf(stderr, "flowpinctl: reading the maps: %s\n",
					strerror(-err));
				return err;
			}
			stats_prometheus(stdout, now);
			gauges_prometheus(stdout, &g);
			{
				struct sync_peer_status p[FP_MAX_PEERS];
				int n;

				if (!peers_read(ctl, p, &n))
					peers_prometheus(stdout, p, n);
			}
			return 0;
		}
		if (ctl->json)
			stats_json(&ctl->jw, now, NULL, 0);
		else
			err = stats_table(stdout, now, NULL, 0);
	}
	if (err)
		fprintf(stderr, "flowpinctl: reading stats: %s\n",
			strerror(-err));
	return err;
}

int do_nexthops(struct ctl *ctl, int argc, char **argv)
{
	static const struct table_col cols[] = {
		{ "ID", true },	    { "ADDRESS", false }, { "DEV", false },
		{ "MAC", false },   { "STATE", false },	  { "GEN", true },
		{ "FLOWS", true },
	};
	struct json_writer *w = &ctl->jw;
	const struct flow_key *key;
	const struct flow_pin *pin;
	struct nexthop_view v;
	struct map_walk mw;
	char mac[MAC_TEXT_MAX];
	__u64 *flows, stale = 0;
	struct table t;
	int err;

	err = no_args_parse(argc, argv);
	if (err)
		return err;
	err = nexthop_view_open(ctl, 0, NULL, &v);
	if (err)
		return err;
	flows = calloc(v.n, sizeof(*flows));
	err = flows ? map_walk_init(&mw, &ctl->maps, FP_MAP_FLOW_PINS, 1024) :
		      -ENOMEM;
	if (err)
		goto out;
	while ((err = map_walk_next(&mw, (const void **)&key,
				    (const void **)&pin)) > 0) {
		if (nexthop_view_pin(&v, pin))
			flows[pin->nh_id]++;
		else
			stale++;
	}
	map_walk_free(&mw);
	if (err)
		goto out;
	if (ctl->json) {
		jw_object_start(w);
		jw_name(w, "nexthops");
		jw_array_start(w);
	} else {
		err = table_init(&t, stdout, cols, 7);
		if (err)
			goto out;
	}
	for (__u32 id = 1; id < v.n; id++) {
		const struct nexthop *nh = &v.nh[id];

		if (nh->state == NH_UNUSED)
			continue;
		mac_format(nh->dmac, mac);
		if (!ctl->json) {
			table_cell(&t, "%u", id);
			table_cell(&t, "%s", v.gw[id]);
			table_cell(&t, "%s", v.dev[id]);
			table_cell(&t, "%s", mac);
			table_cell(&t, "%s", fp_nexthop_state_name(nh->state));
			table_cell(&t, "%u", nh->gen);
			table_cell(&t, "%llu", (unsigned long long)flows[id]);
			continue;
		}
		jw_object_start(w);
		jw_uint_field(w, "id", id);
		jw_string_field(w, "family", family_name(nh->family));
		jw_string_field(w, "address", v.gw[id]);
		jw_string_field(w, "dev", v.dev[id]);
		jw_uint_field(w, "ifindex", nh->ifindex);
		jw_string_field(w, "mac", mac);
		jw_string_field(w, "smac", mac_format(nh->smac, mac));
		jw_uint_field(w, "mtu", nh->mtu); /* 0: the device's */
		jw_string_field(w, "state", fp_nexthop_state_name(nh->state));
		jw_uint_field(w, "gen", nh->gen);
		jw_uint_field(w, "flows", flows[id]);
		jw_object_end(w);
	}
	if (ctl->json) {
		jw_array_end(w);
		jw_uint_field(w, "stale_pins", stale);
		jw_object_end(w);
	} else {
		table_end(&t);
		if (stale)
			printf("%llu stale pins (resolved again on their next packet)\n",
			       (unsigned long long)stale);
	}
out:
	if (err)
		fprintf(stderr, "flowpinctl: nexthops: %s\n", strerror(-err));
	free(flows);
	nexthop_view_free(&v);
	return err;
}

/* Take flowpin off one interface; other programs are left alone. */
static int detach_one(struct ctl *ctl, int ifindex, const char *name,
		      bool explicit)
{
	__u32 mode = FP_MODE_TC;
	int err = port_prog_xdp_detach(ifindex, &mode);

	if (err > 0) { /* not at XDP */
		if (!tc_hook_prog_id(ifindex)) {
			if (!explicit)
				return 0;
			fprintf(stderr, "flowpinctl detach: %s: flowpin is not attached\n",
				name);
			return -ENOENT;
		}
		err = tc_hook_detach(ifindex, false);
	}
	if (err) {
		fprintf(stderr, "flowpinctl detach: %s: %s\n", name,
			strerror(-err));
		return err;
	}
	if (ctl->json) {
		jw_object_start(&ctl->jw);
		jw_string_field(&ctl->jw, "name", name);
		jw_string_field(&ctl->jw, "mode", fp_mode_name(mode));
		jw_object_end(&ctl->jw);
	} else {
		printf("%s: detached (%s)\n", name, fp_mode_name(mode));
	}
	return 0;
}

/* Every interface flowpin sends to (tx_ports) where it is attached. */
static int detach_all(struct ctl *ctl)
{
	char name[IF_NAMESIZE];
	const __u32 *ifindex;
	struct map_walk mw;
	const void *val;
	int err, ret = 0;

	err = ctl_open(ctl, FP_MAP_BIT(FP_MAP_TX_PORTS));
	if (err)
		return err;
	err = map_walk_init(&mw, &ctl->maps, FP_MAP_TX_PORTS, 256);
	if (err)
		return err;
	while ((err = map_walk_next(&mw, (const void **)&ifindex, &val)) > 0) {
		if (!if_indextoname(*ifindex, name))
			continue;
		err = detach_one(ctl, *ifindex, name, false);
		ret = ret ? ret : err;
	}
	map_walk_free(&mw);
	if (err < 0)
		fprintf(stderr, "flowpinctl: reading tx_ports: %s\n",
			strerror(-err));
	return ret ? ret : err;
}

int do_detach(struct ctl *ctl, int argc, char **argv)
{
	int err, ret = 0;

	for (int i = 1; i < argc; i++) {
		if (!if_nametoindex(argv[i])) {
			fprintf(stderr, "flowpinctl detach: no interface '%s'\n",
				argv[i]);
			return -ENODEV;
		}
	}
	if (ctl->json)
		jw_array_start(&ctl->jw);
	for (int i = 1; i < argc; i++) {
		err = detach_one(ctl, if_nametoindex(argv[i]), argv[i], true);
		ret = ret ? ret : err;
	}
	if (argc < 2)
		ret = detach_all(ctl);
	if (ctl->json)
		jw_array_end(&ctl->jw);
	return ret;
}
