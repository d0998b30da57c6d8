// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "nexthop_table.h"

void nexthop_addr_from(struct nexthop_addr *addr, __u32 ifindex, int family,
		       const void *gw)
{
	memset(addr, 0, sizeof(*addr));
	addr->ifindex = ifindex;
	addr->family = family;
	memcpy(addr->gw, gw, family == FP_AF_INET ? 4 : 16);
}

void nexthop_addr_of(struct nexthop_addr *addr, const struct nexthop *nh)
{
	nexthop_addr_from(addr, nh->ifindex, nh->family, nh->gw);
}

__u32 nexthop_find(const struct nexthop *nh, __u32 size,
		   const struct nexthop_addr *addr)
{
	for (__u32 id = 1; id < size; id++)
		if (nh[id].state != NH_UNUSED && nh[id].ifindex == addr->ifindex &&
		    nh[id].family == addr->family &&
		    !memcmp(nh[id].gw, addr->gw, sizeof(nh[id].gw)))
			return id;
	return 0;
}

/*
 * Updating an element of a map-in-map waits for an RCU grace period
 * (maybe_wait_bpf_programs() in kernel/bpf/syscall.c): every XDP program
 * running when it started has returned. That is what lets us write the
 * slot that was live before a flip made before it started. It takes 8 ms
 * here (HZ=250), 16-30 ms back to back, so it runs in a thread of its
 * own, not in the caller's event loop.
 */
static int grace_create(struct nexthop_table *t)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	int err;

	t->grace_inner_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "fp_grace_inner",
					  4, 4, 1, NULL);
	if (t->grace_inner_fd < 0)
		return -errno;
	opts.inner_map_fd = t->grace_inner_fd;
	t->grace_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "fp_grace", 4, 4,
				    1, &opts);
	if (t->grace_fd < 0) {
		err = -errno;
		close(t->grace_inner_fd);
		return err;
	}
	return 0;
}

/* One grace period, in whichever thread calls it. */
static int grace_period(struct nexthop_table *t)
{
	__u32 key = 0;

	if (bpf_map_update_elem(t->grace_fd, &key, &t->grace_inner_fd, BPF_ANY))
		return -errno;
	return 0;
}

/* A wait that covers flips up to upto ended (under lock). */
static void wait_ended(struct nexthop_table *t, __u64 upto, int err)
{
	t->waits++;
	if (err) {
		t->wait_err = err;
		t->failed_upto = upto;
	} else {
		if (upto > t->waited)
			t->waited = upto;
		if (upto >= t->failed_upto)
			t->wait_err = 0;
	}
	pthread_cond_broadcast(&t->done);
}

static void *waiter_main(void *arg)
{
	struct nexthop_table *t = arg;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		__u64 upto;
		int err;

		while (!t->stop && t->asked <= t->started)
			pthread_cond_wait(&t->ask, &t->lock);
		if (t->stop)
			break;
		/* every flip up to asked had returned before this wait starts */
		upto = t->started = t->asked;
		pthread_mutex_unlock(&t->lock);
		err = grace_period(t);
		pthread_mutex_lock(&t->lock);
		wait_ended(t, upto, err);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static int waiter_start(struct nexthop_table *t)
{
	sigset_t all, old;
	int err;

	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->ask, NULL);
	pthread_cond_init(&t->done, NULL);
	/* signals are the main thread's (flowpind reads them from a signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&t->waiter, NULL, waiter_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	t->has_waiter = !err;
	return err;
}

/* Ask the waiter to cover every flip so far (under lock). */
static void ask_locked(struct nexthop_table *t)
{
	if (t->asked < t->flips) {
		t->asked = t->flips;
		pthread_cond_signal(&t->ask);
	}
}

/*
 * Before a write of id: wait until its last flip has no reader of the slot
 * this write overwrites. After a failed wait, any write waits first, here,
 * and writes nothing while it cannot.
 */
static int wait_for_readers(struct nexthop_table *t, __u32 id)
{
	__u64 need = t->flipped_at[id];
	int err = 0;

	pthread_mutex_lock(&t->lock);
	if (t->wait_err) {
		__u64 upto = t->flips;

		pthread_mutex_unlock(&t->lock);
		err = grace_period(t);
		pthread_mutex_lock(&t->lock);
		wait_ended(t, upto, err);
	}
	if (!err && need > t->waited) {
		ask_locked(t);
		while (need > t->waited && !t->wait_err)
			pthread_cond_wait(&t->done, &t->lock);
		err = need > t->waited ? t->wait_err : 0;
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}

/*
 * Make nexthop_index name exactly the next hops in use. A writer killed
 * between writing a next hop and its index entry leaves one missing (an
 * active next hop nothing is pinned to again) or one too many.
 */
static int index_rebuild(struct nexthop_table *t)
{
	struct nexthop_addr key, next, addr;
	bool first = true;
	__u32 id;

	for (id = 1; id < t->size; id++) {
		if (t->nh[id].state == NH_UNUSED)
			continue;
		nexthop_addr_of(&addr, &t->nh[id]);
		if (bpf_map_update_elem(t->index_fd, &addr, &id, BPF_ANY))
			return -errno;
	}
	/* then every entry that names no next hop of that address */
	while (!bpf_map_get_next_key(t->index_fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (bpf_map_lookup_elem(t->index_fd, &key, &id))
			continue;
		if (nexthop_find(t->nh, t->size, &key) == id && id)
			continue;
		if (bpf_map_delete_elem(t->index_fd, &key) && errno != ENOENT)
			return -errno;
		first = true; /* the walk's position went with it: start over */
	}
	return 0;
}

int nexthop_table_open(struct nexthop_table *t, int nexthops_fd, int index_fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct nexthop_entry e;
	int err;

	memset(t, 0, sizeof(*t));
	t->nexthops_fd = nexthops_fd;
	t->index_fd = index_fd;
	if (bpf_obj_get_info_by_fd(nexthops_fd, &info, &len))
		return -errno;
	if (info.value_size != sizeof(struct nexthop_entry))
		return -EINVAL;
	t->size = info.max_entries;
	t->nh = calloc(t->size, sizeof(*t->nh));
	t->live = calloc(t->size, 1);
	t->flipped_at = calloc(t->size, sizeof(*t->flipped_at));
	if (!t->nh || !t->live || !t->flipped_at) {
		err = -ENOMEM;
		goto err_free;
	}
	/* Adopt what is there: pins made before us must stay valid. */
	for (__u32 id = 1; id < t->size; id++) {
		if (bpf_map_lookup_elem(nexthops_fd, &id, &e)) {
			err = -errno;
			goto err_free;
		}
		t->live[id] = e.live & 1;
		t->nh[id] = e.slot[t->live[id]];
	}
	err = index_rebuild(t);
	if (err)
		goto err_free;
	err = grace_create(t);
	if (err)
		goto err_free;
	err = grace_period(t);
	t->waits = !err;
	if (!err)
		err = waiter_start(t);
	if (err)
		goto err_grace;
	return 0;

err_grace:
	close(t->grace_fd);
	close(t->grace_inner_fd);
err_free:
	free(t->nh);
	free(t->live);
	free(t->flipped_at);
	t->nh = NULL;
	t->live = NULL;
	t->flipped_at = NULL;
	return err;
}

int nexthop_table_settle(struct nexthop_table *t)
{
	int err;

	pthread_mutex_lock(&t->lock);
	ask_locked(t);
	while (t->waited < t->flips && !t->wait_err)
		pthread_cond_wait(&t->done, &t->lock);
	err = t->waited < t->flips ? t->wait_err : 0;
	pthread_mutex_unlock(&t->lock);
	return err;
}

void nexthop_table_close(struct nexthop_table *t)
{
	if (!t->nh)
		return;
	if (t->has_waiter) {
		nexthop_table_settle(t);
		pthread_mutex_lock(&t->lock);
		t->stop = true;
		pthread_cond_signal(&t->ask);
		pthread_mutex_unlock(&t->lock);
		pthread_join(t->waiter, NULL);
		pthread_cond_destroy(&t->ask);
		pthread_cond_destroy(&t->done);
		pthread_mutex_destroy(&t->lock);
		t->has_waiter = false;
	}
	close(t->grace_fd);
	close(t->grace_inner_fd);
	free(t->nh);
	free(t->live);
	free(t->flipped_at);
	t->nh = NULL;
	t->live = NULL;
	t->flipped_at = NULL;
}

/* Write the copy not in use and flip; the waiter then waits for readers. */
static int nexthop_write(struct nexthop_table *t, __u32 id,
			 const struct nexthop *nh)
{
	struct nexthop_entry e = {};
	__u8 next = !t->live[id];
	int err;

	err = wait_for_readers(t, id);
	if (err)
		return err;
	e.live = t->live[id];
	e.slot[e.live] = t->nh[id];
	e.slot[next] = *nh;
	if (bpf_map_update_elem(t->nexthops_fd, &id, &e, BPF_ANY))
		return -errno;
	e.live = next;
	if (bpf_map_update_elem(t->nexthops_fd, &id, &e, BPF_ANY))
		return -errno;
	t->live[id] = next;
	t->nh[id] = *nh;
	t->changes++;
	t->flipped_at[id] = ++t->flips;
	if (!t->batch) {
		pthread_mutex_lock(&t->lock);
		ask_locked(t);
		pthread_mutex_unlock(&t->lock);
	}
	return 0;
}

void nexthop_table_begin(struct nexthop_table *t)
{
	t->batch = true;
}

int nexthop_table_commit(struct nexthop_table *t)
{
	int err;

	t->batch = false;
	pthread_mutex_lock(&t->lock);
	ask_locked(t);
	err = t->wait_err;
	pthread_mutex_unlock(&t->lock);
	return err;
}

__u32 nexthop_table_find(const struct nexthop_table *t,
			 const struct nexthop_addr *addr)
{
	return nexthop_find(t->nh, t->size, addr);
}

const struct nexthop *nexthop_table_get(const struct nexthop_table *t,
					__u32 id)
{
	if (id == 0 || id >= t->size || t->nh[id].state == NH_UNUSED)
		return NULL;
	return &t->nh[id];
}

int nexthop_table_set(struct nexthop_table *t, const struct nexthop_addr *addr,
		      const __u8 smac[FP_ETH_ALEN], const __u8 dmac[FP_ETH_ALEN],
		      __u16 mtu, enum nexthop_state state)
{
	__u32 id = nexthop_table_find(t, addr);
	struct nexthop nh;
	bool fresh = !id;
	int err;

	if (fresh) {
		for (id = 1; id < t->size; id++)
			if (t->nh[id].state == NH_UNUSED)
				break;
		if (id == t->size)
			return -ENOSPC;
		nh = t->nh[id];
		nh.gen++; /* no pin to the id's last owner may match */
	} else {
		nh = t->nh[id];
	}
	nh.ifindex = addr->ifindex;
	nh.family = addr->family;
	memcpy(nh.gw, addr->gw, sizeof(nh.gw));
	memcpy(nh.smac, smac, FP_ETH_ALEN);
	memcpy(nh.dmac, dmac, FP_ETH_ALEN);
	nh.mtu = mtu;
	if (state == NH_DEAD && nh.state != NH_DEAD)
		nh.gen++;
	nh.state = state;

	err = nexthop_write(t, id, &nh);
	if (err)
		return err;
	if (fresh && bpf_map_update_elem(t->index_fd, addr, &id, BPF_ANY)) {
		err = -errno;
		nexthop_table_release(t, id);
		return err;
	}
	return id;
}

int nexthop_table_set_state(struct nexthop_table *t, __u32 id,
			    enum nexthop_state state)
{
	struct nexthop nh;

	if (!nexthop_table_get(t, id) || state == NH_UNUSED)
		return -ENOENT;
	nh = t->nh[id];
	if (state == NH_DEAD && nh.state != NH_DEAD)
		nh.gen++;
	nh.state = state;
	return nexthop_write(t, id, &nh);
}

int nexthop_table_release(struct nexthop_table *t, __u32 id)
{
	struct nexthop_addr addr;
	struct nexthop nh;

	if (!nexthop_table_get(t, id))
		return -ENOENT;
	nh = t->nh[id];
	nexthop_addr_of(&addr, &nh);
	if (bpf_map_delete_elem(t->index_fd, &addr) && errno != ENOENT)
		return -errno;
	nh.state = NH_UNUSED;
	return nexthop_write(t, id, &nh);
}
