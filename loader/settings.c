// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"

#define MAX_WORDS 256

/* KEY=VALUE, VALUE bare or in one pair of quotes: the value, or NULL. */
static char *value_of(char *line, const char *key)
{
	size_t n = strlen(key), len;
	char *v;

	while (isspace((unsigned char)*line))
		line++;
	if (strncmp(line, key, n) || line[n] != '=')
		return NULL;
	v = line + n + 1;
	len = strcspn(v, "\n");
	v[len] = '\0';
	if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
		v[len - 1] = '\0';
		v++;
	}
	return v;
}

/* Append the whitespace-separated words of s. */
static int add_words(char **argv, int *argc, const char *s)
{
	char *copy = strdup(s), *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		if (*argc >= MAX_WORDS - 1 || !(argv[*argc] = strdup(w))) {
			free(copy);
			return -E2BIG;
		}
		(*argc)++;
	}
	free(copy);
	return 0;
}

char **settings_argv(const char *exe, const char *file)
{
	char line[4096], *opts = NULL, *ifaces = NULL, *v;
	char **argv = calloc(MAX_WORDS, sizeof(*argv));
	FILE *f = fopen(file, "r");
	int argc = 0, err = 0;

	if (!f || !argv) {
		err = errno ? errno : ENOMEM;
		goto fail;
	}
	while (fgets(line, sizeof(line), f)) {
		if ((v = value_of(line, "FLOWPIND_OPTS"))) {
			free(opts);
			opts = strdup(v);
		} else if ((v = value_of(line, "FLOWPIND_INTERFACES"))) {
			free(ifaces);
			ifaces = strdup(v);
		}
	}
	fclose(f);
	f = NULL;
	if (add_words(argv, &argc, exe) || add_words(argv, &argc, "--settings") ||
	    !(argv[argc++] = strdup(file)) ||
	    add_words(argv, &argc, opts ? opts : "") ||
	    add_words(argv, &argc, ifaces ? ifaces : "")) {
		err = E2BIG;
		goto fail;
	}
	free(opts);
	free(ifaces);
	return argv;
fail:
	if (f)
		fclose(f);
	free(opts);
	free(ifaces);
	settings_argv_free(argv);
	errno = err;
	return NULL;
}

void settings_argv_free(char **argv)
{
	if (!argv)
		return;
	for (int i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}
