/*
 * smtp_msg.h - what sending needs to know of a message, sans I/O: its
 * header fields (RFC 5322 2.2), the addresses of an address-list field
 * (To, Cc, Bcc: RFC 5322 3.4, groups, comments, quoted strings and display
 * names), line ends made CRLF, and whether it needs 8BITMIME or SMTPUTF8.
 *
 * Everything takes the whole message in memory (the sendmail command reads
 * it before queueing; the engine holds one message while it sends it), so
 * nothing here is incremental.  No allocation except into caller buffers.
 */
#ifndef MS_SMTP_MSG_H
#define MS_SMTP_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ms.h"

/* One header field; slices point into the message. */
struct smtp_msg_field {
	struct ms_slice name;	/* "To" */
	struct ms_slice value;	/* after the colon, folded, without the
				 * last line end */
	struct ms_slice raw;	/* the whole field with its line end(s) */
};

/*
 * The next header field at *pos (start with 0).  True with *f and *pos
 * after it; false at the end of the header: an empty line, the end of
 * msg, or a line that is not a field (no colon before any space), where
 * *pos stays.
 */
bool smtp_msg_next_field(struct ms_slice msg, size_t *pos,
			 struct smtp_msg_field *f);

/* Where the header ends (the offset of its empty line, or of the first
 * line that is not a field, or msg.len). */
size_t smtp_msg_header_end(struct ms_slice msg);

/*
 * Appends each address of an address-list field value to out, each
 * followed by "\n": the addr-spec of "Name <a@b>", of a bare "a@b", and
 * of every member of a group ("team: a@b, c@d;"); comments and display
 * names dropped.  *n_r (may be NULL) gets the count.  MS_OK, MS_EINVAL for
 * an address with spaces or control characters or unbalanced quotes,
 * brackets or parentheses (nothing appended), MS_ETOOBIG from out.
 */
int smtp_addr_list_parse(struct ms_slice value, struct ms_buf *out,
			 size_t *n_r) MS_WUR;

/*
 * True when a is usable as an SMTP path: 1..254 bytes, no control
 * characters, spaces, '<' or '>' outside a quoted local part, at most
 * one unquoted '@' which is not last.
 */
bool smtp_addr_is_valid(struct ms_slice a);

/* True when s has a byte >= 0x80. */
bool smtp_msg_has_8bit(struct ms_slice s);

/*
 * Appends msg to out with every line ending in CRLF (a bare LF or a bare
 * CR becomes CRLF), so that what is queued is what goes on the wire.
 * MS_OK or MS_ETOOBIG/MS_ENOMEM from out.
 */
int smtp_msg_crlf(struct ms_slice msg, struct ms_buf *out) MS_WUR;

#endif
