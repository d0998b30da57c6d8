// SPDX-License-Identifier: GPL-2.0
/* Which kernel releases flowpind accepts: FP_MIN_KERNEL and later. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kernel.h"

static void debian_kernels_pass(void **state)
{
	(void)state;
	assert_true(kernel_release_ok("6.1.0-57-amd64"));
	assert_true(kernel_release_ok("6.12.117+deb12-amd64"));
	assert_true(kernel_release_ok("6.18.44-fc-v1045"));
	assert_true(kernel_release_ok("7.0.0"));
}

static void older_kernels_refused(void **state)
{
	(void)state;
	assert_false(kernel_release_ok("6.0.19"));
	assert_false(kernel_release_ok("5.15.0-91-generic"));
	assert_false(kernel_release_ok("5.10.0-30-amd64"));
	assert_false(kernel_release_ok("4.19.0"));
}

static void unreadable_release_refused(void **state)
{
	(void)state;
	assert_false(kernel_release_ok(""));
	assert_false(kernel_release_ok("6"));
	assert_false(kernel_release_ok("linux"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(debian_kernels_pass),
		cmocka_unit_test(older_kernels_refused),
		cmocka_unit_test(unreadable_release_refused),
	};

	return cmocka_run_group_tests_name("kernel", tests, NULL, NULL);
}
