// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon.h"
#include "tc_hook.h"
#include "fixture.h"
#include "nexthop_table.h"

char pin_path[64], log_path[64];
char flowpind[PATH_MAX], flowpinctl[PATH_MAX], xdp_pass_obj[PATH_MAX];
bool as_nobody;
static pid_t started[16]; /* stopped by daemon_kill_all() */
static int n_started;

__u64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static pid_t vstart(const char *const *wrapper, const char *first, va_list ap)
{
	const char *argv[48];
	int argc = 0;
	pid_t pid;

	for (; wrapper && *wrapper && argc < 16; wrapper++)
		argv[argc++] = *wrapper;
	argv[argc++] = flowpind;
	argv[argc++] = "-p";
	argv[argc++] = pin_path;
	for (const char *a = first; a && argc < 47; a = va_arg(ap, const char *))
		argv[argc++] = a;
	argv[argc] = NULL;
	if (truncate(log_path, 0) && errno != ENOENT)
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fd, 2);
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	if (n_started < 16)
		started[n_started++] = pid;
	return pid;
}

pid_t daemon_start(const char *first, ...)
{
	static const char *const nobody[] = {
		"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", NULL,
	};
	va_list ap;
	pid_t pid;

	va_start(ap, first);
	pid = vstart(as_nobody ? nobody : NULL, first, ap);
	va_end(ap);
	return pid;
}

pid_t daemon_start_wrapped(const char *const *wrapper, const char *first, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, first);
	pid = vstart(wrapper, first, ap);
	va_end(ap);
	return pid;
}

bool daemon_log_has(const char *what)
{
	char buf[16384];
	FILE *f = fopen(log_path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, what);
}

int daemon_wait_log(const char *what, int ms)
{
	for (int i = 0; i * 10 < ms; i++) {
		if (daemon_log_has(what))
			return 0;
		usleep(10000);
	}
	if (daemon_log_has(what))
		return 0;
	fprintf(stderr, "not in the log within %d ms: %s\n", ms, what);
	return -1;
}

/* Bounds, not expectations: qemu's TCG (the kernel matrix) is slow. */
#define WAIT_TRIES 3000 /* of 10 ms */

int daemon_wait_ready(pid_t pid)
{
	for (int i = 0; i < WAIT_TRIES; i++) {
		if (daemon_log_has("ready:"))
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(10000);
	}
	return -1;
}

/* Exit status of a flowpind that must stop by itself. */
int daemon_wait_exit(pid_t pid)
{
	int status;

	for (int i = 0; i < WAIT_TRIES; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

int daemon_stop(pid_t pid, int sig)
{
	kill(pid, sig);
	return daemon_wait_exit(pid);
}

int pinned_fd(const char *map)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", pin_path, map);
	return bpf_obj_get(path);
}

bool pin_dir_exists(void)
{
	struct stat st;

	return !stat(pin_path, &st);
}

void remove_pins(void)
{
	DIR *d = opendir(pin_path);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_path, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(pin_path);
}

/* The next hop of this gateway as the datapath sees it, state or -1. */
int nh_state(int family, int ifindex, const char *gw, struct nexthop *out)
{
	struct nexthop_addr addr;
	struct nexthop_entry e;
	int idx_fd = pinned_fd("nexthop_index"), nh_fd = pinned_fd("nexthops");
	__u8 buf[16];
	__u32 id;
	int state = -1;

	inet_pton(family == FP_AF_INET ? AF_INET : AF_INET6, gw, buf);
	nexthop_addr_from(&addr, ifindex, family, buf);
	if (idx_fd >= 0 && nh_fd >= 0 &&
	    !bpf_map_lookup_elem(idx_fd, &addr, &id) &&
	    !bpf_map_lookup_elem(nh_fd, &id, &e)) {
		state = e.slot[e.live & 1].state;
		if (out)
			*out = e.slot[e.live & 1];
	}
	close(idx_fd);
	close(nh_fd);
	return state;
}


void daemon_kill_all(void)
{
	for (int i = 0; i < n_started; i++) {
		if (!kill(started[i], SIGKILL))
			waitpid(started[i], NULL, 0);
	}
	n_started = 0;
}

void daemon_cleanup(void)
{
	daemon_kill_all();
	for (int i = 1; i <= N_OUT; i++) {
		bpf_xdp_detach(rt.ifindex_out[i], 0, NULL);
		tc_hook_detach(rt.ifindex_out[i], false);
	}
	remove_pins();
	unlink(log_path);
}

int daemon_paths_init(const char *name)
{
	char self[PATH_MAX] = "";

	if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0)
		return -1;
	snprintf(flowpind, sizeof(flowpind), "%s/flowpind", dirname(self));
	snprintf(flowpinctl, sizeof(flowpinctl), "%s/flowpinctl", self);
	snprintf(xdp_pass_obj, sizeof(xdp_pass_obj), "%s/xdp_pass.bpf.o", self);
	snprintf(pin_path, sizeof(pin_path), "/sys/fs/bpf/%s-%d", name, getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/%s-%d.log", name, getpid());
	if (access(flowpind, X_OK)) {
		fprintf(stderr, "%s is not built\n", flowpind);
		return -1;
	}
	return 0;
}
