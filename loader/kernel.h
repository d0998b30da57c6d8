/* SPDX-License-Identifier: GPL-2.0 */
/* The oldest kernel flowpin runs on, and the check against uname(2). */
#ifndef FLOWPIN_KERNEL_H
#define FLOWPIN_KERNEL_H

#include <stdbool.h>

/*
 * The oldest kernel `make test-kernels` boots and passes: Debian 12's 6.1.
 * The datapath needs bpf_check_mtu() (5.12) and bpf_ktime_get_coarse_ns()
 * (5.11); older verifiers than 6.1's were never tried.
 */
#define FP_MIN_KERNEL_MAJOR 6
#define FP_MIN_KERNEL_MINOR 1
#define FP_MIN_KERNEL "6.1"

/*
 * Whether a kernel release ("6.1.0-57-amd64", "6.12.117+deb12-amd64") is
 * FP_MIN_KERNEL or later. A release that does not start with
 * MAJOR.MINOR counts as too old.
 */
bool kernel_release_ok(const char *release);

#endif
