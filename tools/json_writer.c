// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "json_writer.h"

void jw_init(struct json_writer *w, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

void json_escape(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = *s;

		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(out, "\\u%04x", c);
			else
				fputc(c, out);
		}
	}
	fputc('"', out);
}

/* Before any value: the comma after a sibling, unless a name just went. */
static void value_begin(struct json_writer *w)
{
	if (w->after_name) {
		w->after_name = false;
		return;
	}
	if (w->has_items[w->depth])
		fputc(',', w->out);
	w->has_items[w->depth] = true;
}

/* After a value: a top-level value ends its line. */
static void value_end(struct json_writer *w)
{
	if (!w->depth) {
		fputc('\n', w->out);
		w->has_items[0] = false;
	}
}

static void container_open(struct json_writer *w, char c)
{
	value_begin(w);
	fputc(c, w->out);
	if (w->depth < JSON_MAX_DEPTH - 1)
		w->depth++;
	w->has_items[w->depth] = false;
}

static void container_close(struct json_writer *w, char c)
{
	fputc(c, w->out);
	if (w->depth)
		w->depth--;
	value_end(w);
}

void jw_object_start(struct json_writer *w)
{
	container_open(w, '{');
}

void jw_object_end(struct json_writer *w)
{
	container_close(w, '}');
}

void jw_array_start(struct json_writer *w)
{
	container_open(w, '[');
}

void jw_array_end(struct json_writer *w)
{
	container_close(w, ']');
}

void jw_name(struct json_writer *w, const char *name)
{
	value_begin(w);
	json_escape(w->out, name);
	fputc(':', w->out);
	w->after_name = true;
}

void jw_string(struct json_writer *w, const char *s)
{
	value_begin(w);
	json_escape(w->out, s);
	value_end(w);
}

void jw_uint(struct json_writer *w, __u64 v)
{
	value_begin(w);
	fprintf(w->out, "%" PRIu64, (uint64_t)v);
	value_end(w);
}

void jw_double(struct json_writer *w, double v)
{
	value_begin(w);
	if (isfinite(v))
		fprintf(w->out, "%.6g", v);
	else
		fputs("null", w->out); /* JSON has no inf or nan */
	value_end(w);
}

void jw_bool(struct json_writer *w, bool v)
{
	value_begin(w);
	fputs(v ? "true" : "false", w->out);
	value_end(w);
}

void jw_null(struct json_writer *w)
{
	value_begin(w);
	fputs("null", w->out);
	value_end(w);
}

void jw_string_field(struct json_writer *w, const char *name, const char *s)
{
	jw_name(w, name);
	jw_string(w, s);
}

void jw_uint_field(struct json_writer *w, const char *name, __u64 v)
{
	jw_name(w, name);
	jw_uint(w, v);
}

void jw_double_field(struct json_writer *w, const char *name, double v)
{
	jw_name(w, name);
	jw_double(w, v);
}

void jw_bool_field(struct json_writer *w, const char *name, bool v)
{
	jw_name(w, name);
	jw_bool(w, v);
}
