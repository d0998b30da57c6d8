// SPDX-License-Identifier: GPL-2.0
/*
 * The next-hop table writer against real maps: ids, generations, the live
 * slot flip, and adoption of a table written by an earlier process.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "nexthop_table.h"

#define SIZE 8

struct maps {
	int nexthops_fd;
	int index_fd;
	struct nexthop_table t;
};

static const __u8 smac[6] = { 2, 0, 0, 0, 0, 1 };
static const __u8 dmac[6] = { 2, 0, 0, 0, 0, 2 };
static const __u8 dmac2[6] = { 2, 0, 0, 0, 0, 3 };

static void addr4(struct nexthop_addr *a, __u32 ifindex, __u8 last)
{
	__u8 gw[4] = { 10, 0, 0, last };

	nexthop_addr_from(a, ifindex, FP_AF_INET, gw);
}

static int setup(void **state)
{
	static struct maps m;

	m.nexthops_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nexthops", 4,
				       sizeof(struct nexthop_entry), SIZE, NULL);
	m.index_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "nexthop_index",
				    sizeof(struct nexthop_addr), 4, SIZE, NULL);
	if (m.nexthops_fd < 0 || m.index_fd < 0)
		return -1;
	if (nexthop_table_open(&m.t, m.nexthops_fd, m.index_fd))
		return -1;
	*state = &m;
	return 0;
}

static int teardown(void **state)
{
	struct maps *m = *state;

	nexthop_table_close(&m->t);
	close(m->nexthops_fd);
	close(m->index_fd);
	return 0;
}

static void read_entry(struct maps *m, __u32 id, struct nexthop_entry *e)
{
	assert_int_equal(bpf_map_lookup_elem(m->nexthops_fd, &id, e), 0);
}

static __u32 index_of(struct maps *m, const struct nexthop_addr *a)
{
	__u32 id = 0;

	bpf_map_lookup_elem(m->index_fd, a, &id);
	return id;
}

static void add_writes_live_slot_and_index(void **state)
{
	struct maps *m = *state;
	struct nexthop_addr a;
	struct nexthop_entry e;
	int id;

	addr4(&a, 7, 1);
	id = nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE);
	assert_int_equal(id, 1);
	assert_int_equal(index_of(m, &a), 1);
	read_entry(m, id, &e);
	assert_int_equal(e.slot[e.live].ifindex, 7);
	assert_int_equal(e.slot[e.live].state, NH_ACTIVE);
	assert_memory_equal(e.slot[e.live].dmac, dmac, 6);
	assert_memory_equal(e.slot[e.live].smac, smac, 6);
	assert_int_equal(e.slot[e.live].gw[0], a.gw[0]);
}

static void mac_change_flips_slot_keeps_generation(void **state)
{
	struct maps *m = *state;
	struct nexthop_addr a;
	struct nexthop_entry before, after;
	int id;

	addr4(&a, 7, 1);
	id = nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE);
	read_entry(m, id, &before);
	assert_int_equal(nexthop_table_set(&m->t, &a, smac, dmac2, 0, NH_ACTIVE), id);
	read_entry(m, id, &after);
	assert_int_not_equal(after.live, before.live);
	/* the copy the datapath read before is untouched */
	assert_memory_equal(&after.slot[before.live], &before.slot[before.live],
			    sizeof(struct nexthop));
	assert_memory_equal(after.slot[after.live].dmac, dmac2, 6);
	assert_int_equal(after.slot[after.live].gen, before.slot[before.live].gen);
}

static void death_and_reuse_bump_generation(void **state)
{
	struct maps *m = *state;
	struct nexthop_addr a, b;
	const struct nexthop *nh;
	__u32 gen;
	int id;

	addr4(&a, 7, 1);
	id = nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE);
	gen = nexthop_table_get(&m->t, id)->gen;
	assert_int_equal(nexthop_table_set_state(&m->t, id, NH_WITHDRAWN), 0);
	assert_int_equal(nexthop_table_get(&m->t, id)->gen, gen);
	assert_int_equal(nexthop_table_set_state(&m->t, id, NH_DEAD), 0);
	assert_int_equal(nexthop_table_get(&m->t, id)->gen, gen + 1);

	assert_int_equal(nexthop_table_release(&m->t, id), 0);
	assert_null(nexthop_table_get(&m->t, id));
	assert_int_equal(index_of(m, &a), 0);

	addr4(&b, 8, 9); /* a different next hop takes the free id */
	assert_int_equal(nexthop_table_set(&m->t, &b, smac, dmac, 0, NH_ACTIVE), id);
	nh = nexthop_table_get(&m->t, id);
	assert_int_equal(nh->gen, gen + 2);
	assert_int_equal(nh->ifindex, 8);
}

static void full_table_refuses(void **state)
{
	struct maps *m = *state;
	struct nexthop_addr a;

	for (int i = 1; i < SIZE; i++) {
		addr4(&a, 1, i);
		assert_int_equal(nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE), i);
	}
	addr4(&a, 1, 200);
	assert_int_equal(nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE), -ENOSPC);
	assert_int_equal(index_of(m, &a), 0);
}

static void reopen_adopts_table(void **state)
{
	struct maps *m = *state;
	struct nexthop_table again;
	struct nexthop_addr a;
	int id;

	addr4(&a, 7, 1);
	id = nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE);
	assert_int_equal(nexthop_table_set(&m->t, &a, smac, dmac2, 0, NH_ACTIVE), id);
	assert_int_equal(nexthop_table_open(&again, m->nexthops_fd, m->index_fd), 0);
	assert_int_equal(nexthop_table_find(&again, &a), id);
	assert_memory_equal(nexthop_table_get(&again, id),
			    nexthop_table_get(&m->t, id), sizeof(struct nexthop));
	/* a write by the new owner goes to the slot not in use */
	assert_int_equal(nexthop_table_set(&again, &a, smac, dmac, 0, NH_ACTIVE), id);
	assert_memory_equal(nexthop_table_get(&again, id)->dmac, dmac, 6);
	nexthop_table_close(&again);
}

/*
 * A writer killed between its two writes (the next hop, then its index
 * entry) leaves an active next hop no lookup finds, or an index entry for
 * an id that was released. The next writer rebuilds the index from the
 * next hops when it adopts the table.
 */
static void reopen_rebuilds_index(void **state)
{
	struct maps *m = *state;
	struct nexthop_table again;
	struct nexthop_addr a, b, stale;
	__u32 got, unused_id = SIZE - 1;
	int ida, idb;

	addr4(&a, 7, 1);
	addr4(&b, 7, 2);
	addr4(&stale, 7, 3);
	ida = nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE);
	idb = nexthop_table_set(&m->t, &b, smac, dmac, 0, NH_ACTIVE);
	assert_true(ida > 0 && idb > 0);
	/* killed before a's index entry was written */
	assert_int_equal(bpf_map_delete_elem(m->index_fd, &a), 0);
	/* an index entry left behind for an id now unused */
	assert_int_equal(bpf_map_update_elem(m->index_fd, &stale, &unused_id, BPF_ANY), 0);
	/* and one naming the wrong id for b */
	assert_int_equal(bpf_map_update_elem(m->index_fd, &b, &ida, BPF_ANY), 0);

	assert_int_equal(nexthop_table_open(&again, m->nexthops_fd, m->index_fd), 0);
	assert_int_equal(bpf_map_lookup_elem(m->index_fd, &a, &got), 0);
	assert_int_equal(got, ida);
	assert_int_equal(bpf_map_lookup_elem(m->index_fd, &b, &got), 0);
	assert_int_equal(got, idb);
	assert_int_not_equal(bpf_map_lookup_elem(m->index_fd, &stale, &got), 0);
	nexthop_table_close(&again);
}

/*
 * The wait for readers after a flip fails (here: its map is gone): the next
 * write must not overwrite the slot readers may still hold, so it fails
 * too, until a wait succeeds.
 */
static void failed_wait_blocks_next_write(void **state)
{
	struct maps *m = *state;
	struct nexthop_entry e;
	struct nexthop_addr a, b;
	int grace_fd = m->t.grace_fd, id;
	__u32 key;

	addr4(&a, 7, 1);
	addr4(&b, 7, 2);
	id = nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE);
	assert_true(id > 0);
	key = id;
	/* the waiter is idle: it reads grace_fd after it is asked again */
	assert_int_equal(nexthop_table_settle(&m->t), 0);
	m->t.grace_fd = -1;
	/* this flip's wait fails */
	assert_int_equal(nexthop_table_set(&m->t, &a, smac, dmac2, 0, NH_ACTIVE), id);
	assert_true(nexthop_table_settle(&m->t) < 0);
	assert_true(nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE) < 0);
	assert_int_equal(bpf_map_lookup_elem(m->nexthops_fd, &key, &e), 0);
	/* the flip happened: the old slot must stay as it was */
	assert_memory_equal(e.slot[!(e.live & 1)].dmac, dmac, 6);
	assert_memory_equal(e.slot[e.live & 1].dmac, dmac2, 6);
	/* nor does any other next hop get written while no wait succeeds */
	assert_true(nexthop_table_set(&m->t, &b, smac, dmac, 0, NH_ACTIVE) < 0);
	assert_int_equal(nexthop_table_find(&m->t, &b), 0);
	assert_true(nexthop_table_commit(&m->t) < 0);
	m->t.grace_fd = grace_fd;
	assert_int_equal(nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE), id);
	assert_int_equal(bpf_map_lookup_elem(m->nexthops_fd, &key, &e), 0);
	assert_memory_equal(e.slot[e.live & 1].dmac, dmac, 6);
	assert_int_equal(nexthop_table_commit(&m->t), 0);
}

/*
 * A batch (here: filling the table) flips every next hop it writes at
 * once and waits for the datapath's readers once, at commit; a next hop
 * written twice in it waits before its second write, whose slot may still
 * be read.
 */
static void batch_waits_once(void **state)
{
	struct maps *m = *state;
	struct nexthop_entry e;
	struct nexthop_addr a;
	__u64 waits = m->t.waits;
	__u32 key;

	nexthop_table_begin(&m->t);
	for (int i = 1; i < SIZE; i++) {
		addr4(&a, 7, i);
		assert_true(nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE) > 0);
	}
	assert_int_equal(m->t.waits, waits); /* live already, not waited for */
	addr4(&a, 7, SIZE - 1);
	key = nexthop_table_find(&m->t, &a);
	read_entry(m, key, &e);
	assert_int_equal(e.slot[e.live].state, NH_ACTIVE);
	assert_int_equal(nexthop_table_commit(&m->t), 0);
	assert_int_equal(nexthop_table_settle(&m->t), 0);
	assert_int_equal(m->t.waits, waits + 1);

	nexthop_table_begin(&m->t);
	assert_int_equal(nexthop_table_set(&m->t, &a, smac, dmac2, 0, NH_ACTIVE), (int)key);
	assert_int_equal(m->t.waits, waits + 1);
	assert_int_equal(nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE), (int)key);
	assert_int_equal(m->t.waits, waits + 2); /* before the second write */
	read_entry(m, key, &e);
	assert_memory_equal(e.slot[e.live].dmac, dmac, 6);
	assert_memory_equal(e.slot[!e.live].dmac, dmac2, 6);
	assert_int_equal(nexthop_table_commit(&m->t), 0);
	assert_int_equal(nexthop_table_settle(&m->t), 0);
	assert_int_equal(m->t.waits, waits + 3);
	/* an empty batch waits for nothing */
	nexthop_table_begin(&m->t);
	assert_int_equal(nexthop_table_commit(&m->t), 0);
	assert_int_equal(nexthop_table_settle(&m->t), 0);
	assert_int_equal(m->t.waits, waits + 3);
}

/*
 * Commit leaves the grace period to the waiter: it returns while readers
 * of the old slots may still run, and the caller's loop goes on. A
 * grace period takes milliseconds here; one commit in five returning after
 * its wait ended would need it in microseconds, every time.
 */
static void commit_does_not_wait(void **state)
{
	struct maps *m = *state;
	struct nexthop_addr a;
	int returned_first = 0;

	addr4(&a, 7, 1);
	for (int i = 0; i < 5; i++) {
		bool pending;

		nexthop_table_begin(&m->t);
		assert_true(nexthop_table_set(&m->t, &a, smac, i & 1 ? dmac : dmac2,
					      0, NH_ACTIVE) > 0);
		assert_int_equal(nexthop_table_commit(&m->t), 0);
		pthread_mutex_lock(&m->t.lock);
		pending = m->t.waited < m->t.flips;
		pthread_mutex_unlock(&m->t.lock);
		returned_first += pending;
		assert_int_equal(nexthop_table_settle(&m->t), 0);
		assert_int_equal(m->t.waited, m->t.flips);
	}
	assert_true(returned_first > 0);
}

/*
 * A writer that stopped between a flip and its wait (killed, or re-executed
 * with the wait still running) leaves readers of the old slot: the next
 * owner waits once before it writes anything.
 */
static void reopen_waits_first(void **state)
{
	struct maps *m = *state;
	struct nexthop_table again;

	assert_int_equal(nexthop_table_open(&again, m->nexthops_fd, m->index_fd), 0);
	assert_int_equal(again.waits, 1);
	nexthop_table_close(&again);
}

/* Close waits for the flips it leaves behind. */
static void close_settles(void **state)
{
	struct maps *m = *state;
	struct nexthop_addr a;

	addr4(&a, 7, 1);
	assert_true(nexthop_table_set(&m->t, &a, smac, dmac, 0, NH_ACTIVE) > 0);
	assert_true(nexthop_table_set(&m->t, &a, smac, dmac2, 0, NH_ACTIVE) > 0);
	nexthop_table_close(&m->t);
	assert_int_equal(m->t.waited, m->t.flips);
	/* teardown closes it again: nothing left to do */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(add_writes_live_slot_and_index, setup, teardown),
		cmocka_unit_test_setup_teardown(mac_change_flips_slot_keeps_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(death_and_reuse_bump_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(full_table_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen_adopts_table, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen_rebuilds_index, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_wait_blocks_next_write, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_waits_once, setup, teardown),
		cmocka_unit_test_setup_teardown(commit_does_not_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen_waits_first, setup, teardown),
		cmocka_unit_test_setup_teardown(close_settles, setup, teardown),
	};

	return cmocka_run_group_tests_name("nexthop_table", tests, NULL, NULL);
}
