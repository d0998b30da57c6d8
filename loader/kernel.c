// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>

#include "kernel.h"

bool kernel_release_ok(const char *release)
{
	unsigned int major, minor;

	if (sscanf(release, "%u.%u", &major, &minor) != 2)
		return false;
	if (major != FP_MIN_KERNEL_MAJOR)
		return major > FP_MIN_KERNEL_MAJOR;
	return minor >= FP_MIN_KERNEL_MINOR;
}
