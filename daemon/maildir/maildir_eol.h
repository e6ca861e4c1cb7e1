/*
 * maildir_eol.h - line ends at the mirror's edge.  The store keeps a
 * message's bytes as the server holds them (CRLF, as IMAP sends them);
 * Maildir readers (mutt, notmuch, git am, mblaze) expect LF.  Export
 * writes a body with its CRLFs made LF when the way back (each LF made
 * CRLF) gives the same bytes again, and the exact bytes otherwise (a bare
 * CR, or a LF without CR, anywhere in it).  A file is known by its
 * content hash: the hash of the bytes the body would hold, the file's
 * CRLF form (every LF without CR gets one); for a file written exact with
 * a bare LF that is not the body's hash, so a file also has its raw hash
 * (struct maildir_fhash in maildir_hash.h).
 *
 * Both converters stream: feed any split of the input, get the same
 * output.  No I/O here.
 */
#ifndef MS_MAILDIR_EOL_H
#define MS_MAILDIR_EOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRLF -> LF, for export. */
struct maildir_eol_lf {
	bool has_cr;	/* the last byte fed was a CR, not written yet */
	bool is_exact;	/* so far, LF -> CRLF gives the input back */
};

void maildir_eol_lf_init(struct maildir_eol_lf *e);
/*
 * Converts in[0..n) into out (room for n + 1 bytes: a CR held back from
 * the previous piece may come out now).  Returns the bytes written.  Once
 * is_exact is false the output is no longer the file to write (the
 * caller writes the exact bytes instead).
 */
size_t maildir_eol_lf_feed(struct maildir_eol_lf *e, const uint8_t *in,
			   size_t n, uint8_t *out);
/* The end of the input: a CR held back is a bare CR (not exact); it goes
 * to out (1 byte).  Returns the bytes written (0 or 1). */
size_t maildir_eol_lf_finish(struct maildir_eol_lf *e, uint8_t *out);

/* LF -> CRLF, for what a file is (its body, its content hash). */
struct maildir_eol_crlf {
	bool was_cr;	/* the last byte fed was a CR */
};

static inline void
maildir_eol_crlf_init(struct maildir_eol_crlf *e)
{
	e->was_cr = false;
}
/*
 * Copies in[0..n) into out (room for 2n bytes) with a CR put before each
 * LF that has none.  Returns the bytes written; *is_changed_r (may be
 * NULL) is set when a CR was added.
 */
size_t maildir_eol_crlf_feed(struct maildir_eol_crlf *e, const uint8_t *in,
			     size_t n, uint8_t *out, bool *is_changed_r);

#endif
