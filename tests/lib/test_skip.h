/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel matrix skips tests of a program's own logic (TCG is slow):
 * the names in an environment variable, separated by white space. Include
 * after <cmocka.h>.
 */
#ifndef FLOWPIN_TEST_SKIP_H
#define FLOWPIN_TEST_SKIP_H

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static inline bool test_listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || isspace((unsigned char)p[-1])) &&
		    (!p[n] || isspace((unsigned char)p[n])))
			return true;
	return false;
}

/*
 * Copy into out the tests of all that env does not list and, when
 * TESTS_ONLY is set, that it lists; returns how many. Each one left out is
 * said, "skipped: NAME (listed in ENV)" or "(not listed in TESTS_ONLY)": run-all
 * counts it as skipped.
 */
static inline size_t tests_not_skipped(const char *env,
				       const struct CMUnitTest *all, size_t n,
				       struct CMUnitTest *out)
{
	const char *skip = getenv(env), *only = getenv("TESTS_ONLY");
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		if (skip && test_listed(skip, all[i].name))
			print_message("skipped: %s (listed in %s)\n",
				      all[i].name, env);
		else if (only && !test_listed(only, all[i].name))
			print_message("skipped: %s (not listed in TESTS_ONLY)\n",
				      all[i].name);
		else
			out[kept++] = all[i];
	}
	return kept;
}

#endif
