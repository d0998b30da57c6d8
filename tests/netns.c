// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"

static int orig_netns = -1;

int netns_enter(void)
{
	orig_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig_netns < 0)
		return -errno;
	if (unshare(CLONE_NEWNET)) {
		int err = -errno;

		close(orig_netns);
		orig_netns = -1;
		return err;
	}
	return sh("ip link set lo up");
}

void netns_leave(void)
{
	if (orig_netns < 0)
		return;
	if (setns(orig_netns, CLONE_NEWNET))
		fprintf(stderr, "setns back: %s\n", strerror(errno));
	close(orig_netns);
	orig_netns = -1;
}

int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

int sysctl_set(const char *name, const char *value)
{
	char path[256];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -errno;
	}
	rc = fputs(value, f) < 0 ? -EIO : 0;
	if (fclose(f))
		rc = -errno;
	return rc;
}

int run_on_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}
