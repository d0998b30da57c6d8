// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

int table_init(struct table *t, FILE *out, const struct table_col *cols,
	       int ncols)
{
	memset(t, 0, sizeof(*t));
	if (ncols < 1 || ncols > TABLE_MAX_COLS)
		return -EINVAL;
	t->cells = calloc((size_t)TABLE_BLOCK * ncols, TABLE_CELL_MAX);
	if (!t->cells)
		return -ENOMEM;
	t->out = out;
	t->cols = cols;
	t->ncols = ncols;
	for (int c = 0; c < ncols; c++)
		t->width[c] = strlen(cols[c].title);
	return 0;
}

static void print_row(struct table *t, char (*row)[TABLE_CELL_MAX],
		      const char *const *titles)
{
	for (int c = 0; c < t->ncols; c++) {
		const char *s = row ? row[c] : titles[c];
		bool last = c == t->ncols - 1;
		int w = t->width[c];

		if (t->cols[c].right)
			fprintf(t->out, "%*s", w, s);
		else if (last)
			fputs(s, t->out); /* no trailing blanks */
		else
			fprintf(t->out, "%-*s", w, s);
		fputs(last ? "\n" : "  ", t->out);
	}
}

void table_flush(struct table *t)
{
	const char *titles[TABLE_MAX_COLS];

	if (!t->cells)
		return;
	if (!t->header_done) {
		for (int c = 0; c < t->ncols; c++)
			titles[c] = t->cols[c].title;
		print_row(t, NULL, titles);
		t->header_done = true;
	}
	for (int r = 0; r < t->nrows; r++)
		print_row(t, t->cells + (size_t)r * t->ncols, NULL);
	t->nrows = 0;
}

void table_cell(struct table *t, const char *fmt, ...)
{
	char *cell;
	va_list ap;
	int len;

	if (!t->cells)
		return;
	cell = t->cells[(size_t)t->nrows * t->ncols + t->ncell];
	va_start(ap, fmt);
	vsnprintf(cell, TABLE_CELL_MAX, fmt, ap);
	va_end(ap);
	len = strlen(cell);
	if (len > t->width[t->ncell])
		t->width[t->ncell] = len;
	if (++t->ncell < t->ncols)
		return;
	t->ncell = 0;
	if (++t->nrows == TABLE_BLOCK)
		table_flush(t);
}

void table_end(struct table *t)
{
	table_flush(t);
	free(t->cells);
	t->cells = NULL;
}
