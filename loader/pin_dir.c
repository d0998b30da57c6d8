// SPDX-License-Identifier: GPL-2.0
/* The pin directory on bpffs, and the maps pinned in it: see pin_dir.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "flowpin.skel.h"
#include "log.h"
#include "pin_dir.h"

#define BPFFS "/sys/fs/bpf"

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/*
 * libxdp and our pins need a bpffs. A fresh machine, and the private /sys
 * of `ip netns exec`, have none: mount one.
 */
int pin_dir_bpffs(const char *pin_path)
{
	char parent[PATH_MAX];
	char *slash;

	if (!is_bpffs(BPFFS) && mount("bpf", BPFFS, "bpf", 0, "mode=0700")) {
		pr_warn("no bpffs at %s and mounting one failed: %s\n", BPFFS,
			strerror(errno));
		return -errno;
	}
	snprintf(parent, sizeof(parent), "%s", pin_path);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (!is_bpffs(parent)) {
		pr_warn("%s is not on a bpffs\n", parent);
		return -EINVAL;
	}
	return 0;
}

static int map_path(const struct datapath *dp, const struct bpf_map *map,
		    char *buf, size_t size)
{
	if (snprintf(buf, size, "%s/%s", dp->pin_path, bpf_map__name(map)) >=
	    (int)size)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Maps whose contents nothing depends on across a restart: counters, rate
 * budgets, the heartbeat, the ring of new pins, the peers' status. One of
 * another layout (an upgrade that adds a counter) is replaced rather than
 * refused; pins and next hops never are.
 */
static bool disposable(const struct bpf_map *map)
{
	static const char *const names[] = { "stats", "pin_budget", "port_macs",
					     "vlan_tx", "ip_tunnel_tx",
					     "too_big_budget", "pin_turnover",
					     "heartbeat", "route_epoch",
					     "pin_events", "sync_peers" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(bpf_map__name(map), names[i]))
			return true;
	return false;
}

/*
 * Do the pinned map's values read as ours? Their BTF types (the kernel's
 * copy of an earlier build's, and this object's) compared member by
 * member, name and offset: a field renamed or moved within the same size
 * is another layout. Without BTF on either side, the sizes decided.
 */
static bool same_value_type(const struct datapath *dp,
			    const struct bpf_map *map,
			    const struct bpf_map_info *info)
{
	const struct btf *ours = bpf_object__btf(dp->skel->obj);
	__u32 our_id = bpf_map__btf_value_type_id(map);
	const struct btf_type *a, *b;
	struct btf *theirs;
	bool same;

	if (!ours || !our_id || !info->btf_id || !info->btf_value_type_id)
		return true;
	theirs = btf__load_from_kernel_by_id(info->btf_id);
	if (!theirs)
		return true;
	a = btf__type_by_id(ours, btf__resolve_type(ours, our_id));
	b = btf__type_by_id(theirs,
			    btf__resolve_type(theirs, info->btf_value_type_id));
	same = a && b && btf_kind(a) == btf_kind(b) && a->size == b->size &&
	       btf_vlen(a) == btf_vlen(b);
	for (int i = 0; same && btf_is_composite(a) && i < btf_vlen(a); i++)
		same = btf_member_bit_offset(a, i) == btf_member_bit_offset(b, i) &&
		       !strcmp(btf__name_by_offset(ours, btf_members(a)[i].name_off),
			       btf__name_by_offset(theirs, btf_members(b)[i].name_off));
	btf__free(theirs);
	return same;
}

/* Check a pinned map against ours; reuse it when it matches. */
static int reuse_map(struct datapath *dp, struct bpf_map *map, int idx)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (map_path(dp, map, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		pr_warn("cannot open pinned map %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto err_close;
	}
	if (disposable(map) &&
	    (info.type != bpf_map__type(map) ||
	     info.key_size != bpf_map__key_size(map) ||
	     info.value_size != bpf_map__value_size(map) ||
	     info.max_entries != bpf_map__max_entries(map) ||
	     info.map_flags != bpf_map__map_flags(map) ||
	     !same_value_type(dp, map, &info))) {
		pr_info("pinned map %s is of another build: a new one replaces it once attached\n",
			path);
		dp->repin[idx] = true;
		close(fd);
		return 0;
	}
	if (info.type != bpf_map__type(map) ||
	    info.key_size != bpf_map__key_size(map) ||
	    info.value_size != bpf_map__value_size(map)) {
		pr_warn("pinned map %s has another layout than this flowpind's; stop the datapath that uses it and remove %s\n",
			path, dp->pin_path);
		err = -EEXIST;
		goto err_close;
	}
	if (info.max_entries != bpf_map__max_entries(map)) {
		pr_warn("pinned map %s holds %u entries, not %u: start with the size it was created with (-n), or remove %s to start empty\n",
			path, info.max_entries, bpf_map__max_entries(map),
			dp->pin_path);
		err = -EEXIST;
		goto err_close;
	}
	err = bpf_map__reuse_fd(map, fd);
	if (err)
		goto err_close;
	close(fd);
	dp->reused[idx] = true;
	return 0;

err_close:
	close(fd);
	return err;
}

static int read_prev_status(struct datapath *dp)
{
	__u32 key = 0;

	if (!dp->reused[0] && bpf_map__fd(dp->skel->maps.daemon_status) < 0)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.daemon_status), &key,
				&dp->prev))
		return 0;
	dp->have_prev = dp->prev.layout != 0;
	if (dp->have_prev && dp->prev.layout != FP_LAYOUT) {
		pr_warn("maps in %s have layout %u, this flowpind uses %u: stop the datapath that uses them and remove %s\n",
			dp->pin_path, dp->prev.layout, FP_LAYOUT, dp->pin_path);
		return -EEXIST;
	}
	return 0;
}

/*
 * The pin directory: one this call makes, or one that is already a
 * directory owned by root on a bpffs. A bpffs mounted without mode= lets
 * any user create the path first, as a symlink to somewhere else or as a
 * directory of theirs holding maps of their making. So the path is opened
 * without following a symlink, and checked, restricted to root and locked
 * through that fd, which nobody can swap. The lock keeps a second daemon
 * off these maps: two would hand out the same ids.
 */
int pin_dir_make(struct datapath *dp)
{
	const char *path = dp->pin_path;
	struct statfs sfs;
	struct stat st;
	int fd, err;

	if (!mkdir(path, 0700)) {
		dp->made_dir = true;
	} else if (errno == EACCES || errno == EPERM) {
		/* the bpffs flowpind mounts is root's alone (mode 0700) */
		err = -errno;
		pr_warn("cannot create %s: %s; flowpind needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root)\n",
			path, strerror(-err));
		return err;
	} else if (errno != EEXIST) {
		pr_warn("cannot create %s: %s\n", path, strerror(errno));
		return -errno;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (err == -ELOOP || err == -ENOTDIR)
			pr_warn("%s is not a directory (a symlink or a file): refusing it\n",
				path);
		else
			pr_warn("cannot open %s: %s\n", path, strerror(-err));
		goto err_dir;
	}
	if (fstat(fd, &st) || fstatfs(fd, &sfs)) {
		err = -errno;
		pr_warn("cannot inspect %s: %s\n", path, strerror(-err));
		goto err_close;
	}
	err = -EPERM;
	if (sfs.f_type != BPF_FS_MAGIC) {
		pr_warn("%s is not on a bpffs: refusing it\n", path);
		goto err_close;
	}
	if (st.st_uid != geteuid()) {
		pr_warn("%s belongs to uid %u, not to flowpind's user: refusing it\n",
			path, (unsigned int)st.st_uid);
		goto err_close;
	}
	/* anyone who can open a pinned map can change it */
	if (fchmod(fd, 0700)) {
		err = -errno;
		pr_warn("cannot restrict %s to root: %s\n", path, strerror(-err));
		goto err_close;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		if (err == -EWOULDBLOCK)
			pr_warn("another flowpind is using %s: give this one another pin path (-p)\n",
				path);
		else
			pr_warn("cannot lock %s: %s\n", path, strerror(-err));
		err = err == -EWOULDBLOCK ? -EBUSY : err;
		goto err_close;
	}
	dp->lock_fd = fd;
	return 0;

err_close:
	close(fd);
err_dir:
	if (dp->made_dir)
		rmdir(path);
	dp->made_dir = false;
	return err;
}

int pin_dir_pin_maps(struct datapath *dp)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int i = 0;

	bpf_object__for_each_map(map, dp->skel->obj) {
		int idx = i++;

		if (idx >= DP_MAX_MAPS || dp->reused[idx] ||
		    bpf_map__is_internal(map))
			continue;
		if (!map_path(dp, map, path, sizeof(path)) && dp->repin[idx])
			unlink(path); /* the other build's, replaced */
		if (map_path(dp, map, path, sizeof(path)) ||
		    bpf_map__pin(map, path)) {
			pr_warn("cannot pin %s: %s\n", path, strerror(errno));
			return -errno;
		}
		dp->pinned_now[idx] = true;
	}
	return 0;
}

int pin_dir_repin(struct datapath *dp)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	struct stat st;
	int repinned = 0;

	if (lstat(dp->pin_path, &st) && errno == ENOENT &&
	    mkdir(dp->pin_path, 0700) && errno != EEXIST) {
		pr_warn("cannot make %s again: %s\n", dp->pin_path,
			strerror(errno));
		return -errno;
	}
	if (lstat(dp->pin_path, &st) || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid()) {
		pr_warn("%s is no longer a directory of flowpind's user\n",
			dp->pin_path);
		return -EPERM;
	}
	bpf_object__for_each_map(map, dp->skel->obj) {
		struct bpf_map_info mine = {}, there = {};
		__u32 len = sizeof(mine);
		int fd;

		if (bpf_map__is_internal(map) ||
		    map_path(dp, map, path, sizeof(path)))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0 && errno == ENOENT) {
			if (bpf_obj_pin(bpf_map__fd(map), path)) {
				pr_warn("cannot pin %s again: %s\n", path,
					strerror(errno));
				return -errno;
			}
			repinned++;
			continue;
		}
		if (fd < 0)
			return -errno;
		bpf_obj_get_info_by_fd(bpf_map__fd(map), &mine, &len);
		len = sizeof(there);
		bpf_obj_get_info_by_fd(fd, &there, &len);
		close(fd);
		if (mine.id != there.id) {
			pr_warn("%s is another map than the one in use\n", path);
			return -EEXIST;
		}
	}
	if (repinned)
		pr_warn("%d maps were no longer pinned in %s: pinned them again from the ones in use\n",
			repinned, dp->pin_path);
	return 0;
}

void pin_dir_unpin_new(struct datapath *dp)
{
	struct bpf_map *map;
	int i = 0;

	if (!dp->skel)
		return;
	bpf_object__for_each_map(map, dp->skel->obj) {
		int idx = i++;

		if (idx < DP_MAX_MAPS && dp->pinned_now[idx]) {
			bpf_map__unpin(map, NULL);
			dp->pinned_now[idx] = false;
		}
	}
	if (dp->made_dir)
		rmdir(dp->pin_path);
}

int pin_dir_reuse(struct datapath *dp)
{
	struct bpf_map *map;
	int err, i = 0;

	bpf_object__for_each_map(map, dp->skel->obj) {
		if (i >= DP_MAX_MAPS)
			break;
		if (bpf_map__is_internal(map)) { /* .rodata: part of the program */
			i++;
			continue;
		}
		err = reuse_map(dp, map, i++);
		if (err)
			return err;
	}
	return 0;
}

bool datapath_map_reused(const struct datapath *dp, const struct bpf_map *want)
{
	struct bpf_map *map;
	int i = 0;

	bpf_object__for_each_map(map, dp->skel->obj) {
		if (i >= DP_MAX_MAPS)
			break;
		if (map == want)
			return dp->reused[i];
		i++;
	}
	return false;
}

int pin_dir_read_status(struct datapath *dp)
{
	return read_prev_status(dp);
}

void pin_dir_release(struct datapath *dp)
{
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);
	dp->lock_fd = -1;
	if (dp->made_dir)
		rmdir(dp->pin_path);
	dp->made_dir = false;
}
