/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A streaming JSON writer: values go out as they come, so an array of a
 * million flows never sits in memory. Commas and nesting are its business.
 */
#ifndef FLOWPIN_JSON_WRITER_H
#define FLOWPIN_JSON_WRITER_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#define JSON_MAX_DEPTH 16

struct json_writer {
	FILE *out;
	int depth;
	bool has_items[JSON_MAX_DEPTH]; /* a comma is due before the next */
	bool after_name;
};

void jw_init(struct json_writer *w, FILE *out);

/* "s", with quotes, backslashes and control characters escaped. */
void json_escape(FILE *out, const char *s);

void jw_object_start(struct json_writer *w);
void jw_object_end(struct json_writer *w);
void jw_array_start(struct json_writer *w);
void jw_array_end(struct json_writer *w);
void jw_name(struct json_writer *w, const char *name);

void jw_string(struct json_writer *w, const char *s);
void jw_uint(struct json_writer *w, __u64 v);
void jw_double(struct json_writer *w, double v);
void jw_bool(struct json_writer *w, bool v);
void jw_null(struct json_writer *w);

/* name: value, in an object */
void jw_string_field(struct json_writer *w, const char *name, const char *s);
void jw_uint_field(struct json_writer *w, const char *name, __u64 v);
void jw_double_field(struct json_writer *w, const char *name, double v);
void jw_bool_field(struct json_writer *w, const char *name, bool v);

#endif /* FLOWPIN_JSON_WRITER_H */
