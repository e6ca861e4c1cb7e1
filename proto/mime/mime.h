/*
 * mime.h - message header decoding, sans I/O: header field unfolding,
 * RFC 2047 encoded-word decoding to UTF-8 (charset conversion through the
 * C library's iconv), RFC 5322 date parsing (with the obsolete forms and
 * the common malformations of real mail), and a summary extractor that
 * pulls From, To, Subject, Date and Message-ID out of a header block fed
 * incrementally, in chunks of any size, with a hard bound on what it keeps.
 *
 * Nothing here touches files, sockets or clocks.  Every function that can
 * fail returns MS_OK or a negative MS_E* code.
 */
#ifndef MS_MIME_H
#define MS_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

/*
 * Appends the unfolded form of a header field body to out: every line
 * break (CRLF or a bare LF) that is followed by a space or a tab is
 * removed, the whitespace itself stays (RFC 5322 section 2.2.3).  A line
 * break not followed by whitespace is kept as it is.  Returns MS_OK, or
 * MS_ETOOBIG when out's limit is reached (out is then left unchanged).
 */
int mime_header_unfold(struct ms_slice in, struct ms_buf *out) MS_WUR;

/*
 * Appends the display form of an unfolded header field body to out, in
 * UTF-8:
 *  - RFC 2047 encoded words (=?charset[*lang]?Q|B?text?=) are decoded and
 *    converted from their charset.  Adjacent words of the same charset are
 *    converted together, so a multibyte character split across two words
 *    survives.
 *  - Linear whitespace between two adjacent encoded words is dropped
 *    (RFC 2047 section 6.2); all other whitespace stays.
 *  - A word that is not valid (bad syntax, a Q "=" not followed by two hex
 *    digits, a bad base64 character, a charset iconv does not know) is
 *    kept as it is, literally.
 *  - Bytes outside encoded words that are not valid UTF-8 (raw 8-bit
 *    headers), bytes that do not convert, and NUL bytes become U+FFFD.
 *  - Leading and trailing whitespace is trimmed; CR, LF and TAB become
 *    spaces.
 * Encoded words are decoded wherever they appear (also inside quoted
 * strings and glued to other text), as mail readers do.  Returns MS_OK,
 * MS_ETOOBIG when out's limit is reached (out may then hold a prefix) or
 * MS_ENOMEM.
 */
int mime_words_decode(struct ms_slice in, struct ms_buf *out) MS_WUR;

/*
 * Parses an RFC 5322 date-time ("Tue, 1 Jul 2003 10:52:37 +0200") into
 * seconds since the epoch (UTC).  Tolerant: the obsolete forms of RFC 5322
 * section 4.3 (two- and three-digit years, named and military zones,
 * comments and whitespace anywhere), a missing day of week, seconds or
 * zone (taken as UTC), full month names, "12-Jan-2004", asctime order
 * ("Mon Jan 12 10:00:00 2004"), ISO 8601 "2004-01-12 10:00:00", "AM/PM".
 * Returns MS_OK, or MS_EPROTO when no date can be found in the text.
 */
int mime_date_parse(struct ms_slice in, int64_t *time_r) MS_WUR;

/*
 * Incremental header-summary extractor.
 *
 *	struct mime_summary s;
 *	mime_summary_init(&s, NULL);
 *	while (more bytes && mime_summary_feed(&s, p, n, &used) == MS_AGAIN)
 *		...;
 *	mime_summary_finish(&s);	(fills from, to, subject, ...)
 *	...
 *	mime_summary_deinit(&s);
 *
 * Memory is bounded by params: at most max_field bytes are kept of each
 * of the five fields (the first occurrence of each field counts), nothing
 * of other fields, and reading stops after max_header bytes of header
 * (is_truncated is then set; what was seen so far is still summarised).
 * An mbox "From " separator line or any other line without a colon is
 * skipped.  The result does not depend on how the bytes were split.
 */
struct mime_summary_params {
	size_t max_header;	/* 0: MIME_SUMMARY_MAX_HEADER */
	size_t max_field;	/* 0: MIME_SUMMARY_MAX_FIELD */
};

#define MIME_SUMMARY_MAX_HEADER (256 * 1024)
#define MIME_SUMMARY_MAX_FIELD (16 * 1024)

enum mime_field {
	MIME_FIELD_FROM,
	MIME_FIELD_TO,
	MIME_FIELD_SUBJECT,
	MIME_FIELD_DATE,
	MIME_FIELD_MESSAGE_ID,
	MIME_FIELD_COUNT,
};

struct mime_summary {
	/*
	 * Results, valid after mime_summary_finish() until deinit; owned by
	 * the summary.  All are NUL-terminated UTF-8 ("" when absent).
	 * message_id is the id without angle brackets.
	 */
	struct ms_buf from;
	struct ms_buf to;
	struct ms_buf subject;
	struct ms_buf message_id;
	int64_t date;		/* seconds since the epoch, UTC */
	bool has_date;		/* a Date field was present and parsed */
	bool is_done;		/* the end of the header was seen */
	bool is_truncated;	/* max_header or a max_field limit was hit */

	/* private */
	struct mime_summary_params params;
	int state;
	struct ms_buf raw[MIME_FIELD_COUNT];
	bool have[MIME_FIELD_COUNT];
	int cur;		/* enum mime_field being read, or -1 */
	char name[32];
	size_t name_len;
	size_t header_bytes;
};

/* params may be NULL for the defaults. */
void mime_summary_init(struct mime_summary *s,
		       const struct mime_summary_params *params);
void mime_summary_deinit(struct mime_summary *s);

/*
 * Feeds len bytes of the message (header first, the body may follow).
 * Returns MS_AGAIN when more header is needed, MS_OK once the header ended
 * (the blank line, or max_header reached).  consumed_r gets how many
 * bytes belonged to the header (all of them with MS_AGAIN; 0 once done).
 */
int mime_summary_feed(struct mime_summary *s, const uint8_t *p, size_t len,
		      size_t *consumed_r) MS_WUR;

/*
 * Decodes the collected fields into the result members.  Call it once,
 * when the header ended or when the input ended early (a message without
 * a body).  Returns MS_OK or MS_ENOMEM.
 */
int mime_summary_finish(struct mime_summary *s) MS_WUR;

#endif
