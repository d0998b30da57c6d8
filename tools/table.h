/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Aligned columns for people. Rows are held in blocks of TABLE_BLOCK and
 * printed when a block fills: a short table is aligned as a whole, a long
 * one streams with columns that only ever widen.
 */
#ifndef FLOWPIN_TABLE_H
#define FLOWPIN_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#define TABLE_MAX_COLS 12
#define TABLE_CELL_MAX 64
#define TABLE_BLOCK 1024

struct table_col {
	const char *title;
	bool right; /* numbers align right */
};

struct table {
	FILE *out;
	const struct table_col *cols;
	int ncols;
	int width[TABLE_MAX_COLS];
	char (*cells)[TABLE_CELL_MAX]; /* TABLE_BLOCK rows of ncols */
	int nrows;	/* complete rows held */
	int ncell;	/* cells of the row being filled */
	bool header_done;
};

int table_init(struct table *t, FILE *out, const struct table_col *cols,
	       int ncols);
/* Add the next cell of the current row; a row is complete after ncols. */
void table_cell(struct table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print what is held (the header at least once). */
void table_flush(struct table *t);
/* Flush, then free. */
void table_end(struct table *t);

#endif /* FLOWPIN_TABLE_H */
