/*
 * imap_seqset.h - IMAP sequence sets (RFC 3501 "sequence-set"): iterate the
 * raw text a server sent, and format sorted numbers as compressed ranges.
 *
 * Sets in VANISHED, ESEARCH ALL and COPYUID can cover millions of UIDs, so
 * the parser never expands them: it hands out the raw text and the caller
 * walks it range by range with imap_seqset_iter_next().
 */
#ifndef IMAP_SEQSET_H
#define IMAP_SEQSET_H

#include "common/ms.h"

/* "*" in a set; only meaningful in sets the client sends.  The number
 * 4294967295 (the highest UID) reads as the same value. */
#define IMAP_SEQ_STAR UINT32_MAX

struct imap_seqset_iter {
	const uint8_t *p;	/* next unread byte (not owned) */
	const uint8_t *end;
};

/* Starts iterating set; the bytes must stay valid while iterating. */
void imap_seqset_iter_init(struct imap_seqset_iter *it, struct ms_slice set);

/*
 * Yields the next range as lo <= hi (a reversed "9:5" is normalised, "*"
 * is IMAP_SEQ_STAR).  Returns MS_OK with a range, MS_AGAIN at the end, or
 * MS_EPROTO when the text is not a valid set (zero, overflow, bad syntax).
 */
int imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *lo_r,
    uint32_t *hi_r) MS_WUR;

/* Returns true if set is a complete, valid, non-empty sequence set. */
bool imap_seqset_is_valid(struct ms_slice set, bool allow_star);

/*
 * Appends nums[0..n) (sorted ascending, duplicates allowed, no zero) to out
 * as ranges ("1:5,7,9:12"), writing at most max_len bytes.  Stores in
 * *used_r how many numbers were written; the caller sends the rest in a
 * further command.  Returns MS_OK, MS_EINVAL for unsorted or zero input or
 * a max_len too small for even one number, or an ms_buf error.
 */
int imap_seqset_format(struct ms_buf *out, const uint32_t *nums, size_t n,
    size_t max_len, size_t *used_r) MS_WUR;

#endif
