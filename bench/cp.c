// SPDX-License-Identifier: GPL-2.0
/*
 * Section 4: how long an `ip route` / `ip nexthop` / `ip neigh` change takes
 * to reach flowpind's pinned maps. One `ip -batch -` process reads the
 * changes from a pipe, so the time is from the line written to ip (parse,
 * netlink request, kernel, event, flowpind, map write) to the map read
 * back in the new state, without ip's fork and exec.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "bench.h"
#include "nexthop_table.h"

static int nh_of(int idx_fd, int nh_fd, int ifindex, int host,
		 struct nexthop *out)
{
	__be32 gw = htonl(0x0a000500 | host); /* 10.0.5.host */
	struct nexthop_entry e;
	struct nexthop_addr a;
	__u32 id;

	nexthop_addr_from(&a, ifindex, FP_AF_INET, &gw);
	if (bpf_map_lookup_elem(idx_fd, &a, &id) ||
	    bpf_map_lookup_elem(nh_fd, &id, &e))
		return -1;
	*out = e.slot[e.live & 1];
	return 0;
}

enum { CH_ROUTE, CH_NEXTHOP, CH_NEIGH, CH_MAX };

int bench_cp_latency(struct bench *b, struct daemon_proc *d, int changes)
{
	static const char *const kind[CH_MAX] = { "ip route", "ip nexthop", "ip neigh" };
	double *lat = calloc(changes, sizeof(double));
	double *by[CH_MAX];
	int n_by[CH_MAX] = {}, n = 0, lost = 0, ifindex = if_nametoindex("out5");
	bool has21 = true;
	int nh_host = 30, mac = 0, nh_fd, idx_fd;
	char path[256], what[128], val[64];
	FILE *ip;

	for (int t = 0; t < CH_MAX; t++)
		by[t] = calloc(changes, sizeof(double));
	snprintf(path, sizeof(path), "%s/nexthops", d->pin);
	nh_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/nexthop_index", d->pin);
	idx_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "ip -force -batch - >>%s/ip-batch.log 2>&1", b->tmp);
	ip = popen(path, "w");
	if (!lat || !by[CH_MAX - 1] || nh_fd < 0 || idx_fd < 0 || !ip) {
		check(b, false, "control plane: cannot open the pinned maps or ip");
		return -EIO;
	}
	say("section 4: %d changes, %s\n", changes, b->table);
	for (int k = 0; k < changes; k++) {
		int type = k % CH_MAX, host = 0;
		__u8 dmac[6] = { 0x02, 0, 0, 0x40 };
		bool want_active = true, seen = false;
		char line[256];
		double t0;

		switch (type) {
		case CH_ROUTE:
			/* 10.0.5.21 leaves the route (withdrawn) or comes back */
			host = 21;
			want_active = !has21;
			if (has21)
				snprintf(line, sizeof(line),
					 "route replace 198.19.0.0/24 via 10.0.5.20 dev out5\n");
			else
				snprintf(line, sizeof(line),
					 "route replace 198.19.0.0/24 nexthop via 10.0.5.20 dev out5 nexthop via 10.0.5.21 dev out5\n");
			has21 = !has21;
			break;
		case CH_NEXTHOP:
			/* the nexthop object moves to the other gateway */
			nh_host = host = nh_host == 30 ? 31 : 30;
			snprintf(line, sizeof(line),
				 "nexthop replace id 901 via 10.0.5.%d dev out5\n", host);
			break;
		case CH_NEIGH:
			/* the gateway's MAC changes */
			host = 40;
			mac++;
			dmac[4] = mac >> 8;
			dmac[5] = mac;
			snprintf(line, sizeof(line),
				 "neigh replace 10.0.5.40 lladdr 02:00:00:40:%02x:%02x dev out5 nud noarp\n",
				 dmac[4], dmac[5]);
			break;
		}
		t0 = now_s();
		fputs(line, ip);
		fflush(ip);
		while (now_s() - t0 < 2) {
			struct nexthop nh;
			bool active = !nh_of(idx_fd, nh_fd, ifindex, host, &nh) &&
				      nh.state == NH_ACTIVE;

			if (type == CH_NEIGH)
				seen = active && !memcmp(nh.dmac, dmac, 6);
			else
				seen = active == want_active;
			if (seen)
				break;
			sleep_us(20);
		}
		if (seen) {
			lat[n++] = (now_s() - t0) * 1e3;
			by[type][n_by[type]++] = lat[n - 1];
		} else {
			lost++;
		}
		sleep_us(5000);
	}
	pclose(ip);
	close(nh_fd);
	close(idx_fd);
	check(b, lost == 0, "control plane: %d of %d changes never reached the maps",
	      lost, changes);
	for (int t = 0; t < CH_MAX; t++)
		say("  %-10s p50 %.2f ms  p99 %.2f ms  max %.2f ms (%d)\n", kind[t],
		    percentile(by[t], n_by[t], 0.5), percentile(by[t], n_by[t], 0.99),
		    percentile(by[t], n_by[t], 1), n_by[t]);
	snprintf(what, sizeof(what), "change -> map, %s, %d changes: p50", b->table,
		 changes);
	snprintf(val, sizeof(val), "%.2f ms", percentile(lat, n, 0.5));
	row("4", what, val, NULL, NULL, NULL);
	snprintf(what, sizeof(what), "change -> map, %s, %d changes: p99 (max %.2f ms)",
		 b->table, changes, percentile(lat, n, 1));
	snprintf(val, sizeof(val), "%.2f ms", percentile(lat, n, 0.99));
	row("4", what, val, NULL, "<= 10 ms",
	    lost ? "NO (lost)" : percentile(lat, n, 0.99) <= 10 ? "yes" : "NO");
	for (int t = 0; t < CH_MAX; t++)
		free(by[t]);
	free(lat);
	return 0;
}
