/* maildir_eol.c - CRLF <-> LF at the mirror's edge (maildir_eol.h). */
#include "maildir/maildir_eol.h"

#include <string.h>

void
maildir_eol_lf_init(struct maildir_eol_lf *e)
{
	e->has_cr = false;
	e->is_exact = true;
}

size_t
maildir_eol_lf_feed(struct maildir_eol_lf *e, const uint8_t *in, size_t n,
		    uint8_t *out)
{
	size_t i = 0, k = 0;

	while (i < n) {
		const uint8_t *cr;
		size_t m;

		if (e->has_cr) {
			uint8_t c = in[i++];

			e->has_cr = false;
			if (c == '\n') {
				out[k++] = c;
				continue;
			}
			/* A CR not before LF would not come back. */
			out[k++] = '\r';
			e->is_exact = false;
			if (c == '\r')
				e->has_cr = true;	/* held in turn */
			else
				out[k++] = c;
			continue;
		}
		/*
		 * The bytes up to the next CR go out as they are (memchr and
		 * memcpy: one byte at a time, this loop was 6% of a POP3
		 * first download's CPU time).  A LF among them has no CR and
		 * would come back with one.
		 */
		cr = memchr(in + i, '\r', n - i);
		m = cr != NULL ? (size_t)(cr - (in + i)) : n - i;
		if (e->is_exact && memchr(in + i, '\n', m) != NULL)
			e->is_exact = false;
		memcpy(out + k, in + i, m);
		k += m;
		i += m;
		if (cr != NULL) {
			e->has_cr = true;	/* held until the next byte */
			i++;
		}
	}
	return k;
}

size_t
maildir_eol_lf_finish(struct maildir_eol_lf *e, uint8_t *out)
{
	if (!e->has_cr)
		return 0;
	e->has_cr = false;
	e->is_exact = false;
	out[0] = '\r';
	return 1;
}

size_t
maildir_eol_crlf_feed(struct maildir_eol_crlf *e, const uint8_t *in, size_t n,
		      uint8_t *out, bool *is_changed_r)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && !e->was_cr) {
			out[k++] = '\r';
			if (is_changed_r != NULL)
				*is_changed_r = true;
		}
		out[k++] = in[i];
		e->was_cr = in[i] == '\r';
	}
	return k;
}
