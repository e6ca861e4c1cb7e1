/*
 * cli_table.h - aligned columns for mailsyncctl's human output.
 */
#ifndef MS_CLI_TABLE_H
#define MS_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define CLI_TABLE_MAX_COLS 12

struct cli_cell {
	char *text;		/* owned */
	size_t width;		/* in characters */
	const char *color;	/* static; NULL: none */
};

struct cli_table {
	unsigned ncols;
	unsigned color_col;	/* the column a row's colour applies to */
	struct cli_cell *cells;	/* nrows * ncols */
	size_t nrows;
};

void cli_table_init(struct cli_table *t, unsigned ncols);
void cli_table_deinit(struct cli_table *t);
/* Adds a row of ncols cells (copied; NULL is ""); color (static, may be
 * NULL or "") paints the cell in column color_col. */
void cli_table_add(struct cli_table *t, const char *const *cells,
		   const char *color);
/* Prints every row; the last column is cut to fit columns. */
void cli_table_print(const struct cli_table *t, FILE *f, unsigned columns,
		     const char *reset);

#endif
