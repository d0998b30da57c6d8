// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "flowpin.h"
#include "port_prog.h"
#include "tc_hook.h"

#define MAX_MAPS 32 /* more than flowpin's programs use */

struct xdp_multiprog *port_prog_xdp_all(int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);

	return libxdp_get_error(mp) ? NULL : mp;
}

struct xdp_program *port_prog_xdp_flowpin(struct xdp_multiprog *mp)
{
	struct xdp_program *p;

	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		return p && !strcmp(xdp_program__name(p), FP_PROG_XDP) ? p : NULL;
	}
	for (p = xdp_multiprog__next_prog(NULL, mp); p;
	     p = xdp_multiprog__next_prog(p, mp))
		if (!strcmp(xdp_program__name(p), FP_PROG_XDP))
			return p;
	return NULL;
}

__u32 port_prog_xdp_id(int ifindex)
{
	struct xdp_multiprog *mp = port_prog_xdp_all(ifindex);
	struct xdp_program *fp = mp ? port_prog_xdp_flowpin(mp) : NULL;
	__u32 id = fp ? xdp_program__id(fp) : 0;

	xdp_multiprog__close(mp);
	return id;
}

void port_prog_find(int ifindex, struct port_prog *pp)
{
	struct xdp_multiprog *mp = port_prog_xdp_all(ifindex);
	struct xdp_program *p;
	__u32 tc_id;

	memset(pp, 0, sizeof(*pp));
	if (mp) {
		p = xdp_multiprog__main_prog(mp);
		pp->attached = p != NULL;
		pp->dispatcher = !xdp_multiprog__is_legacy(mp);
		pp->mode = xdp_multiprog__attach_mode(mp);
		if (p) {
			snprintf(pp->prog_name, sizeof(pp->prog_name), "%s",
				 xdp_program__name(p));
			pp->prog_id = xdp_program__id(p);
		}
		p = port_prog_xdp_flowpin(mp);
		if (p) {
			pp->flowpin = true;
			pp->prog_id = xdp_program__id(p);
		}
		xdp_multiprog__close(mp);
	}
	if (pp->flowpin)
		return;
	/* flowpin at tc ingress, in its own place there */
	tc_id = tc_hook_prog_id(ifindex);
	if (tc_id) {
		pp->attached = pp->flowpin = true;
		pp->dispatcher = false;
		pp->mode = FP_MODE_TC;
		pp->prog_id = tc_id;
	}
}

int port_prog_xdp_detach(int ifindex, __u32 *mode)
{
	struct xdp_multiprog *mp = port_prog_xdp_all(ifindex);
	struct xdp_program *fp = mp ? port_prog_xdp_flowpin(mp) : NULL;
	enum xdp_attach_mode m;
	int err;

	if (!fp) {
		xdp_multiprog__close(mp);
		return 1;
	}
	m = xdp_multiprog__attach_mode(mp);
	err = xdp_multiprog__is_legacy(mp) ? xdp_multiprog__detach(mp) :
					     xdp_program__detach(fp, ifindex, m, 0);
	xdp_multiprog__close(mp);
	if (!err && mode)
		*mode = m;
	return err;
}

bool port_prog_uses_map(__u32 prog_id, int map_fd)
{
	struct bpf_prog_info info = {};
	struct bpf_map_info minfo = {};
	__u32 len = sizeof(info), mlen = sizeof(minfo), ids[MAX_MAPS];
	bool uses = false;
	int fd = bpf_prog_get_fd_by_id(prog_id);

	if (fd < 0 || bpf_obj_get_info_by_fd(map_fd, &minfo, &mlen))
		goto out;
	info.nr_map_ids = MAX_MAPS;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		goto out;
	for (__u32 i = 0; i < info.nr_map_ids && i < MAX_MAPS; i++)
		uses |= ids[i] == minfo.id;
out:
	if (fd >= 0)
		close(fd);
	return uses;
}

/* The id of the map named flow_pins that this program uses, or 0. */
static __u32 pins_map_of(__u32 prog_id)
{
	__u32 ids[MAX_MAPS], len, n, found = 0;
	struct bpf_prog_info info = {};
	int fd = bpf_prog_get_fd_by_id(prog_id);

	if (fd < 0)
		return 0;
	info.nr_map_ids = MAX_MAPS;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.nr_map_ids = 0;
	close(fd);
	n = info.nr_map_ids < MAX_MAPS ? info.nr_map_ids : MAX_MAPS;
	for (__u32 i = 0; i < n && !found; i++) {
		struct bpf_map_info minfo = {};
		__u32 mlen = sizeof(minfo);
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &minfo, &mlen) &&
		    !strcmp(minfo.name, "flow_pins"))
			found = minfo.id;
		close(mfd);
	}
	return found;
}

/* Does this process hold an fd of the map with this id? */
static bool holds_map(const char *pid, __u32 map_id)
{
	char path[PATH_MAX], line[128], want[32];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fdinfo", pid);
	d = opendir(path);
	if (!d)
		return false;
	snprintf(want, sizeof(want), "map_id:\t%u\n", map_id);
	while (!found && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (!found && fgets(line, sizeof(line), f))
			found = !strcmp(line, want);
		fclose(f);
	}
	closedir(d);
	return found;
}

/* By the flow_pins it uses, held open by the flowpind that owns it. */
pid_t port_prog_owner(__u32 prog_id)
{
	__u32 pins = pins_map_of(prog_id);
	struct dirent *e;
	pid_t found = 0;
	DIR *d;

	if (!pins || !(d = opendir("/proc")))
		return 0;
	while (!found && (e = readdir(d))) {
		char path[PATH_MAX], comm[32] = "";
		pid_t pid = atoi(e->d_name);
		FILE *f;

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		if (!strcmp(comm, "flowpind\n") && holds_map(e->d_name, pins))
			found = pid;
	}
	closedir(d);
	return found;
}
