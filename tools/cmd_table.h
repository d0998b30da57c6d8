/* SPDX-License-Identifier: GPL-2.0 */
/* A command table in bpftool's style, with unique-prefix matching. */
#ifndef FLOWPIN_CMD_TABLE_H
#define FLOWPIN_CMD_TABLE_H

struct ctl;

struct cmd {
	const char *name;
	int (*func)(struct ctl *ctl, int argc, char **argv);
	const char *args; /* its arguments, for usage */
	const char *help; /* what it does, one line */
};

/*
 * The command called name, or the only one it is a prefix of. The table
 * ends with a NULL name. Returns 0, -ENOENT (no such command) or
 * -ENOTUNIQ (a prefix of more than one).
 */
int cmd_find(const struct cmd *cmds, const char *name, const struct cmd **out);

#endif /* FLOWPIN_CMD_TABLE_H */
