// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "cmd_table.h"

int cmd_find(const struct cmd *cmds, const char *name, const struct cmd **out)
{
	size_t len = strlen(name);
	const struct cmd *found = NULL;
	int matches = 0;

	*out = NULL;
	if (!len)
		return -ENOENT;
	for (const struct cmd *c = cmds; c->name; c++) {
		if (!strcmp(c->name, name)) {
			*out = c;
			return 0;
		}
		if (!strncmp(c->name, name, len)) {
			found = c;
			matches++;
		}
	}
	if (matches > 1)
		return -ENOTUNIQ;
	if (!found)
		return -ENOENT;
	*out = found;
	return 0;
}
