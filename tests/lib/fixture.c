// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "fixture.h"
#include "flow_cache.h"
#include "netns.h"

struct router rt;

static void mac_for(__u8 *mac, int out, int host)
{
	__u8 m[6] = { 0x02, 0, 0, 0, out, host };

	memcpy(mac, m, 6);
}

int route_svc(const int *outs, int n)
{
	char v4[512] = "", v6[512] = "";
	size_t l4 = 0, l6 = 0;

	for (int i = 0; i < n; i++) {
		l4 += snprintf(v4 + l4, sizeof(v4) - l4,
			       " nexthop via 10.0.%d.2 dev out%d", outs[i],
			       outs[i]);
		l6 += snprintf(v6 + l6, sizeof(v6) - l6,
			       " nexthop via fd00:%d::2 dev out%d", outs[i],
			       outs[i]);
	}
	if (sh("ip route replace " SVC4_NET "%s", v4) ||
	    sh("ip -6 route replace " SVC6_NET "%s", v6))
		return -1;
	return 0;
}

int router_create(void)
{
	static const int four[] = { 1, 2, 3, 4 };
	int err = netns_enter();
	char name[IF_NAMESIZE];

	if (err)
		return err;
	err = sysctl_set("net/ipv4/ip_forward", "1") ||
	      sysctl_set("net/ipv6/conf/all/forwarding", "1") ||
	      sysctl_set("net/ipv4/fib_multipath_hash_policy", "1") ||
	      sysctl_set("net/ipv6/fib_multipath_hash_policy", "1");
	err = err ||
	      sh("ip link add in0 address 02:00:00:00:00:01 type veth peer name in0p") ||
	      sh("ip link add in1 address 02:00:00:00:00:02 type veth peer name in1p") ||
	      sh("ip link set in0 up && ip link set in0p up && ip link set in1 up && ip link set in1p up") ||
	      sh("ip addr add 10.0.0.1/24 dev in0 && ip addr add 2001:db8::1/64 dev in0 nodad") ||
	      sh("ip addr add 10.0.9.1/24 dev in1 && ip addr add 2001:db8:9::1/64 dev in1 nodad") ||
	      sh("ip neigh replace 10.0.0.2 lladdr 02:00:00:00:00:fe dev in0 nud permanent") ||
	      sh("ip neigh replace 2001:db8::2 lladdr 02:00:00:00:00:fe dev in0 nud permanent");
	for (int i = 1; i <= N_OUT && !err; i++) {
		mac_for(rt.out_mac[i], i, 1);
		mac_for(rt.gw_mac[i], i, 2);
		err = sh("ip link add out%d address 02:00:00:00:%02x:01 type veth peer name out%dp", i, i, i) ||
		      sh("ip link set out%d up && ip link set out%dp up", i, i) ||
		      sh("ip addr add 10.0.%d.1/24 dev out%d && ip addr add fd00:%d::1/64 dev out%d nodad", i, i, i, i) ||
		      sh("ip neigh replace 10.0.%d.2 lladdr 02:00:00:00:%02x:02 dev out%d nud permanent", i, i, i) ||
		      sh("ip neigh replace fd00:%d::2 lladdr 02:00:00:00:%02x:02 dev out%d nud permanent", i, i, i);
		snprintf(name, sizeof(name), "out%d", i);
		rt.ifindex_out[i] = err ? 0 : if_nametoindex(name);
	}
	err = err ||
	      sysctl_set("net/ipv4/conf/in1/forwarding", "0") ||
	      sysctl_set("net/ipv6/conf/in1/forwarding", "0") ||
	      route_svc(four, 4) ||
	      sh("ip route add 192.0.2.0/24 via 10.0.0.2 dev in0") ||
	      sh("ip -6 route add 2001:db8:200::/64 via 2001:db8::2 dev in0") ||
	      sh("ip route add blackhole 203.0.113.1/32 && ip route add unreachable 203.0.113.2/32 && ip route add prohibit 203.0.113.3/32") ||
	      sh("ip -6 route add blackhole 2001:db8:f::1/128 && ip -6 route add unreachable 2001:db8:f::2/128 && ip -6 route add prohibit 2001:db8:f::3/128") ||
	      /* a gateway with no neighbour entry */
	      sh("ip route add 198.18.0.0/24 via 10.0.5.3 dev out5") ||
	      sh("ip -6 route add 2001:db8:18::/64 via fd00:5::3 dev out5") ||
	      /* a path whose MTU is smaller than the device's */
	      sh("ip route add 198.18.1.0/24 via 10.0.5.2 dev out5 mtu lock 1280") ||
	      sh("ip -6 route add 2001:db8:18:1::/64 via fd00:5::2 dev out5 mtu lock 1280") ||
	      /* a gateway the next-hop table holds as dead */
	      sh("ip neigh replace 10.0.5.4 lladdr 02:00:00:00:05:04 dev out5 nud permanent") ||
	      sh("ip route add 198.18.3.0/24 via 10.0.5.4 dev out5") ||
	      /* a connected host: its next hop is itself, not a gateway */
	      sh("ip neigh replace 10.0.1.99 lladdr 02:00:00:00:01:99 dev out1 nud permanent") ||
	      sh("ip neigh replace fd00:1::99 lladdr 02:00:00:00:01:99 dev out1 nud permanent");
	rt.ifindex_in0 = if_nametoindex("in0");
	rt.ifindex_in1 = if_nametoindex("in1");
	if (err || !rt.ifindex_in0 || !rt.ifindex_in1) {
		router_destroy();
		return -1;
	}
	return 0;
}

void router_destroy(void)
{
	netns_leave();
}

static int add_nexthop(struct flowpin_fixture *f, int family, const char *gw,
		       int ifindex, const __u8 *smac, const __u8 *dmac,
		       enum nexthop_state state)
{
	struct nexthop_addr addr;
	__u8 buf[16];

	inet_pton(family == FP_AF_INET ? AF_INET : AF_INET6, gw, buf);
	nexthop_addr_from(&addr, ifindex, family, buf);
	return nexthop_table_set(&f->nht, &addr, smac, dmac, 0, state);
}

int fixture_load(struct flowpin_fixture *f, enum withdrawn_policy policy,
		 __u64 cache_check_ns)
{
	struct fixture_opts o = { .policy = policy, .cache_check_ns = cache_check_ns };

	return fixture_load_opts(f, &o);
}

/* Programs fixture_unload() kept, by the options they were loaded with. */
#define KEPT_MAX 4
static struct {
	struct fixture_opts o;
	struct flowpin *skel;
} kept[KEPT_MAX];
static int n_kept;
static bool reuse;

static void kept_free(void)
{
	while (n_kept)
		flowpin__destroy(kept[--n_kept].skel);
}

void fixture_reuse_programs(bool on)
{
	static bool registered;

	reuse = on;
	if (!on)
		kept_free();
	else if (!registered)
		registered = !atexit(kept_free);
}

static bool same_opts(const struct fixture_opts *a, const struct fixture_opts *b)
{
	return a->policy == b->policy && a->cache_check_ns == b->cache_check_ns &&
	       a->max_flows == b->max_flows && a->pin_rate == b->pin_rate &&
	       a->pin_burst == b->pin_burst && a->pins_per_s == b->pins_per_s &&
	       a->daemon_silent_ns == b->daemon_silent_ns &&
	       a->hook == b->hook && a->sync_pins == b->sync_pins &&
	       a->no_daemon == b->no_daemon &&
	       a->both_programs == b->both_programs;
}

/* A kept program loaded with o, taken out of kept; NULL if none. */
static struct flowpin *kept_take(const struct fixture_opts *o)
{
	for (int i = 0; i < n_kept; i++) {
		struct flowpin *skel = kept[i].skel;

		if (!same_opts(&kept[i].o, o))
			continue;
		kept[i] = kept[--n_kept];
		return skel;
	}
	return NULL;
}

/*
 * Every map of skel as a load leaves it: arrays zeroed (the whole array in
 * one batch), hashes emptied. .rodata is the options, frozen.
 */
static int maps_empty(struct flowpin *skel)
{
	int ncpus = libbpf_num_possible_cpus();
	struct bpf_map *m;

	if (ncpus < 0)
		return ncpus;
	bpf_object__for_each_map(m, skel->obj) {
		enum bpf_map_type type = bpf_map__type(m);
		__u32 n = bpf_map__max_entries(m), count = n;
		int fd = bpf_map__fd(m), err = 0;
		size_t len = bpf_map__value_size(m);
		void *keys, *vals;

		if (bpf_map__is_internal(m))
			continue;
		switch (type) {
		case BPF_MAP_TYPE_ARRAY:
		case BPF_MAP_TYPE_PERCPU_ARRAY:
			if (type == BPF_MAP_TYPE_PERCPU_ARRAY)
				len = (len + 7) / 8 * 8 * ncpus;
			keys = calloc(n, sizeof(__u32));
			vals = calloc(n, len);
			if (!keys || !vals)
				err = -ENOMEM;
			for (__u32 i = 0; !err && i < n; i++)
				((__u32 *)keys)[i] = i;
			if (!err && bpf_map_update_batch(fd, keys, vals, &count, NULL))
				err = -errno;
			free(keys);
			free(vals);
			break;
		case BPF_MAP_TYPE_HASH:
		case BPF_MAP_TYPE_LRU_HASH:
		case BPF_MAP_TYPE_PERCPU_HASH:
		case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		case BPF_MAP_TYPE_DEVMAP_HASH: {
			__u8 key[256];

			if (bpf_map__key_size(m) > sizeof(key))
				return -E2BIG;
			while (!err && !bpf_map_get_next_key(fd, NULL, key))
				if (bpf_map_delete_elem(fd, key))
					err = -errno;
			break;
		}
		case BPF_MAP_TYPE_RINGBUF:
			break; /* never kept: see fixture_reuse_programs() */
		default:
			return -EOPNOTSUPP; /* a kind of map this does not know */
		}
		if (err)
			return err;
	}
	return 0;
}

int fixture_load_opts(struct flowpin_fixture *f, const struct fixture_opts *o)
{
	__u32 flows = o->max_flows ? o->max_flows : 16384;
	static const __u8 in0_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const __u8 in0_gw_mac[6] = { 0x02, 0, 0, 0, 0, 0xfe };
	static const __u8 dead_mac[6] = { 0x02, 0, 0, 0, 0x05, 0x04 };
	char gw[64];
	int err, id;

	memset(f, 0, sizeof(*f));
	f->opts = *o;
	f->skel = reuse ? kept_take(o) : NULL;
	if (f->skel) {
		err = maps_empty(f->skel);
		if (err)
			goto err_destroy;
		goto loaded;
	}
	f->skel = flowpin__open();
	if (!f->skel)
		return -errno;
	f->skel->rodata->withdrawn_policy = o->policy;
	f->skel->rodata->cache_check_ns = o->cache_check_ns;
	f->skel->rodata->pin_rate = o->pin_rate;
	f->skel->rodata->pin_burst = o->pin_burst;
	f->skel->rodata->pins_per_s = o->pins_per_s;
	f->skel->rodata->daemon_silent_ns = o->daemon_silent_ns;
	f->skel->rodata->sync_pins = o->sync_pins;
	bpf_map__set_max_entries(f->skel->maps.flow_pins, flows);
	err = flow_cache_size(f->skel->maps.flow_cache,
			      f->skel->maps.flow_cache_tags,
			      &f->skel->rodata->cache_sets, flows);
	if (err)
		goto err_destroy;
	bpf_map__set_max_entries(f->skel->maps.nexthops, 64);
	if (!o->both_programs)
		bpf_program__set_autoload(o->hook == HOOK_TC ?
						  f->skel->progs.flowpin :
						  f->skel->progs.flowpin_tc,
					  false);
	err = flowpin__load(f->skel);
	if (err)
		goto err_destroy;
loaded:
	f->hook = o->hook;
	if (!o->no_daemon) {
		err = fixture_move_epoch(f, 0);
		if (err)
			goto err_destroy;
	}
	f->prog_fd = bpf_program__fd(o->hook == HOOK_TC ?
					     f->skel->progs.flowpin_tc :
					     f->skel->progs.flowpin);

	for (int i = 1; i <= N_OUT; i++) {
		struct bpf_devmap_val v = { .ifindex = rt.ifindex_out[i] };
		__u32 key = rt.ifindex_out[i];

		if (bpf_map_update_elem(bpf_map__fd(f->skel->maps.tx_ports),
					&key, &v, BPF_ANY)) {
			err = -errno;
			goto err_destroy;
		}
	}
	/* the ports' own MACs: frames to others are not the router's */
	for (int i = 0; i <= N_OUT + 1; i++) {
		static const __u8 in_mac[2][6] = { { 0x02, 0, 0, 0, 0, 0x01 },
						   { 0x02, 0, 0, 0, 0, 0x02 } };
		__u32 key = i == 0 ? rt.ifindex_in0 :
			    i == N_OUT + 1 ? rt.ifindex_in1 : rt.ifindex_out[i];
		struct port_mac v = {};

		memcpy(v.mac, i == 0 ? in_mac[0] : i == N_OUT + 1 ? in_mac[1] :
				       rt.out_mac[i], 6);
		if (bpf_map_update_elem(bpf_map__fd(f->skel->maps.port_macs),
					&key, &v, BPF_ANY)) {
			err = -errno;
			goto err_destroy;
		}
	}
	err = nexthop_table_open(&f->nht, bpf_map__fd(f->skel->maps.nexthops),
				 bpf_map__fd(f->skel->maps.nexthop_index));
	if (err)
		goto err_destroy;
	for (int i = 1; i <= N_OUT; i++) {
		snprintf(gw, sizeof(gw), "10.0.%d.2", i);
		id = add_nexthop(f, FP_AF_INET, gw, rt.ifindex_out[i],
				 rt.out_mac[i], rt.gw_mac[i], NH_ACTIVE);
		if (id < 0)
			goto err_id;
		f->nh4[i] = id;
		snprintf(gw, sizeof(gw), "fd00:%d::2", i);
		id = add_nexthop(f, FP_AF_INET6, gw, rt.ifindex_out[i],
				 rt.out_mac[i], rt.gw_mac[i], NH_ACTIVE);
		if (id < 0)
			goto err_id;
		f->nh6[i] = id;
	}
	if ((id = add_nexthop(f, FP_AF_INET, "10.0.0.2", rt.ifindex_in0,
			      in0_mac, in0_gw_mac, NH_ACTIVE)) < 0 ||
	    (id = add_nexthop(f, FP_AF_INET6, "2001:db8::2", rt.ifindex_in0,
			      in0_mac, in0_gw_mac, NH_ACTIVE)) < 0 ||
	    (id = add_nexthop(f, FP_AF_INET, "10.0.5.4", rt.ifindex_out[5],
			      rt.out_mac[5], dead_mac, NH_DEAD)) < 0)
		goto err_id;
	return 0;

err_id:
	err = id;
	nexthop_table_close(&f->nht);
err_destroy:
	flowpin__destroy(f->skel);
	f->skel = NULL;
	return err;
}

void fixture_unload(struct flowpin_fixture *f)
{
	nexthop_table_close(&f->nht);
	if (reuse && f->skel && !f->opts.sync_pins && n_kept < KEPT_MAX) {
		kept[n_kept].o = f->opts;
		kept[n_kept++].skel = f->skel;
	} else {
		flowpin__destroy(f->skel);
	}
	f->skel = NULL;
}

int router_load(struct flowpin_fixture *f, enum fixture_hook hook)
{
	struct fixture_opts o = { .policy = FP_WITHDRAWN_DRAIN,
				  .cache_check_ns = FP_CACHE_CHECK_NS,
				  .hook = hook };

	if (router_create())
		return -1;
	if (fixture_load_opts(f, &o)) {
		router_destroy();
		return -1;
	}
	return 0;
}

void router_unload(struct flowpin_fixture *f)
{
	fixture_unload(f);
	router_destroy();
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* flowpind's beat, once a second, while the fixture plays it */
static int fixture_beat(struct flowpin_fixture *f)
{
	__u64 now = mono_ns();
	__u32 key = 0;

	if (!f->epoch || now - f->beat_ns < 1000000000ULL)
		return 0;
	if (bpf_map_update_elem(bpf_map__fd(f->skel->maps.heartbeat), &key,
				&now, BPF_ANY))
		return -errno;
	f->beat_ns = now;
	return 0;
}

int fixture_move_epoch(struct flowpin_fixture *f, __u32 flags)
{
	struct route_epoch e = { .epoch = f->epoch + 1, .flags = flags };
	__u32 key = 0;

	if (bpf_map_update_elem(bpf_map__fd(f->skel->maps.route_epoch), &key,
				&e, BPF_ANY))
		return -errno;
	f->epoch = e.epoch;
	f->epoch_flags = flags;
	f->beat_ns = 0;
	return fixture_beat(f);
}

int fixture_run_gso(struct flowpin_fixture *f, const __u8 *in, size_t len,
		    __u8 *out, __u32 *out_len, int ingress_ifindex,
		    __u16 gso_size)
{
	struct xdp_md xdp = {
		.data_end = len,
		.ingress_ifindex = ingress_ifindex,
	};
	/* as tc ingress sees it: skb->dev and skb_iif are the port */
	struct __sk_buff skb = {
		.ifindex = ingress_ifindex,
		.ingress_ifindex = ingress_ifindex,
		.gso_size = gso_size,
		.gso_segs = gso_size ? (len - 14 + gso_size - 1) / gso_size : 0,
	};
	bool tc = f->hook == HOOK_TC;

	if (fixture_beat(f))
		return -1;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
		    .data_size_in = len, .data_out = out,
		    .data_size_out = PKT_MAX,
		    .ctx_in = tc ? (void *)&skb : (void *)&xdp,
		    .ctx_size_in = tc ? sizeof(skb) : sizeof(xdp), .repeat = 1);
	/* a refusal is the caller's to report: random frames expect some */
	if (bpf_prog_test_run_opts(f->prog_fd, &opts))
		return -1;
	*out_len = opts.data_size_out;
	if (!tc)
		return opts.retval;
	return opts.retval == TC_ACT_REDIRECT ? XDP_REDIRECT :
	       opts.retval == (__u32)TC_ACT_UNSPEC ? XDP_PASS :
	       opts.retval == TC_ACT_SHOT ? XDP_DROP : -2;
}

int fixture_run(struct flowpin_fixture *f, const __u8 *in, size_t len,
		__u8 *out, __u32 *out_len, int ingress_ifindex)
{
	return fixture_run_gso(f, in, len, out, out_len, ingress_ifindex, 0);
}

void fixture_stats(struct flowpin_fixture *f, __u64 *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[ncpu];

	for (__u32 i = 0; i < FP_STAT_MAX; i++) {
		sum[i] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.stats), &i,
					vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			sum[i] += vals[c];
	}
}

int fixture_send(struct flowpin_fixture *f, const struct pkt_spec *s, int cpu)
{
	__u8 in[PKT_MAX], out[PKT_MAX];
	size_t len = pkt_build(s, in);
	__u32 out_len;
	int verdict;

	if (run_on_cpu(cpu))
		return -1;
	verdict = fixture_run(f, in, len, out, &out_len, rt.ifindex_in0);
	if (verdict == XDP_PASS)
		return 0;
	return verdict == XDP_REDIRECT ? egress_of(out) : -1;
}

int egress_of(const __u8 *frame)
{
	for (int i = 1; i <= N_OUT; i++)
		if (!memcmp(frame, rt.gw_mac[i], 6) &&
		    !memcmp(frame + 6, rt.out_mac[i], 6))
			return i;
	return 0;
}

__u32 pin_of(struct flowpin_fixture *f, const struct flow_key *key)
{
	struct flow_pin pin;

	if (bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.flow_pins), key,
				&pin))
		return 0;
	return pin.nh_id;
}
