/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flowpind's settings file (/etc/default/flowpind): FLOWPIND_OPTS and
 * FLOWPIND_INTERFACES, as the unit's EnvironmentFile= reads them. A SIGHUP
 * reads it again, so `systemctl reload` applies an edit without a restart.
 */
#ifndef FLOWPIN_SETTINGS_H
#define FLOWPIN_SETTINGS_H

/*
 * The argv to re-execute with: exe, --settings FILE, then the words of
 * FLOWPIND_OPTS and FLOWPIND_INTERFACES. NULL (with errno) when the file
 * cannot be read. Free with settings_argv_free().
 */
char **settings_argv(const char *exe, const char *file);
void settings_argv_free(char **argv);

#endif
