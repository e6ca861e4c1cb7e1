/*
 * cli_table.c - aligned columns for mailsyncctl's human output: rows of
 * cells are collected, then printed with each column as wide as its
 * widest cell (counted in characters, not bytes, so UTF-8 subjects
 * align); the last column is cut to fit the terminal.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli_table.h"

void
cli_table_init(struct cli_table *t, unsigned ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

void
cli_table_deinit(struct cli_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i].text);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void
cli_table_add(struct cli_table *t, const char *const *cells,
	      const char *color)
{
	struct cli_cell *v;

	v = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*v));
	if (v == NULL)
		abort();	/* the client's xmalloc rule (STYLE.md 4) */
	t->cells = v;
	for (unsigned c = 0; c < t->ncols; c++) {
		struct cli_cell *cell = &v[t->nrows * t->ncols + c];
		const unsigned char *p;

		/* Control characters never reach the terminal. */
		cell->text = strdup(cells[c] != NULL ? cells[c] : "");
		if (cell->text == NULL)
			abort();
		for (char *q = cell->text; *q != '\0'; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				*q = ' ';
		cell->width = 0;
		for (p = (const unsigned char *)cell->text; *p != '\0'; p++)
			if ((*p & 0xc0) != 0x80)
				cell->width++;
		cell->color = c == t->color_col ? color : NULL;
	}
	t->nrows++;
}

/* Prints at most max characters of s. */
static void
cli_table_put(FILE *f, const char *s, size_t max)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';
	     p++) {
		if ((*p & 0xc0) != 0x80 && n++ == max)
			break;
		fputc(*p, f);
	}
}

void
cli_table_print(const struct cli_table *t, FILE *f, unsigned columns,
		const char *reset)
{
	size_t w[CLI_TABLE_MAX_COLS] = { 0 }, used = 0;

	for (size_t r = 0; r < t->nrows; r++)
		for (unsigned c = 0; c < t->ncols; c++)
			if (t->cells[r * t->ncols + c].width > w[c])
				w[c] = t->cells[r * t->ncols + c].width;
	for (unsigned c = 0; c + 1 < t->ncols; c++)
		used += w[c] + 2;
	for (size_t r = 0; r < t->nrows; r++) {
		for (unsigned c = 0; c < t->ncols; c++) {
			const struct cli_cell *cell = &t->cells[r * t->ncols + c];
			bool is_last = c + 1 == t->ncols;
			size_t max = is_last ? (columns > used + 8 ?
				columns - used : 8) : w[c];

			if (cell->color != NULL && cell->color[0] != '\0')
				fputs(cell->color, f);
			cli_table_put(f, cell->text, max);
			if (cell->color != NULL && cell->color[0] != '\0')
				fputs(reset, f);
			if (!is_last)
				fprintf(f, "%*s", (int)(w[c] - cell->width + 2),
					"");
		}
		fputc('\n', f);
	}
}
