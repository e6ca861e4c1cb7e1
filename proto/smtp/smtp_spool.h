/*
 * smtp_spool.h - the format of a spool file: one message handed to
 * `mailsyncctl send`, waiting for the daemon to take it into the store's
 * outbox.  Sans I/O: the client encodes, the daemon decodes; the file
 * handling (tmp/, fsync, rename into new/) is theirs.
 *
 * A spool file is an envelope of "key value" lines ending in LF, an empty
 * line, then the message exactly as it is to be sent (CRLF line ends):
 *
 *	mailsync-spool 1
 *	account work
 *	from me@example.com
 *	rcpt you@example.org
 *	rcpt them@example.net
 *	created 1765080000
 *
 *	From: ...
 *
 * The version on the first line changes with any incompatible change; a
 * daemon refuses (and keeps) a file of a version it does not know.
 */
#ifndef MS_SMTP_SPOOL_H
#define MS_SMTP_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

#define SMTP_SPOOL_VERSION 1
#define SMTP_SPOOL_MAX_ENVELOPE (256 * 1024)	/* bytes before the message */
#define SMTP_SPOOL_MAX_VALUE 4096		/* one value */

struct smtp_spool_env {
	const char *account;
	const char *from;	/* envelope sender; may be "" (null path) */
	const char *rcpts;	/* "\n"-separated (a last "\n" optional) */
	int64_t created;	/* seconds since the Unix epoch */
};

/*
 * Appends the envelope and its empty line to out (the message follows).
 * MS_EINVAL for a value with a control character, an empty account, no
 * recipient or one over SMTP_SPOOL_MAX_VALUE; MS_ETOOBIG from out.
 */
int smtp_spool_encode(const struct smtp_spool_env *e, struct ms_buf *out) MS_WUR;

/* A decoded envelope; slices point into the file. */
struct smtp_spool_head {
	unsigned version;
	struct ms_slice account;
	struct ms_slice from;
	int64_t created;
	size_t n_rcpts;
	size_t body_off;	/* the message starts here */
};

/*
 * Decodes the envelope of file; the recipients are appended to rcpts,
 * each followed by "\n".  MS_OK, or MS_EPROTO with why (a static string)
 * for a file that is not a spool file, MS_EIMPL for another version,
 * MS_ETOOBIG from rcpts.
 */
int smtp_spool_decode(struct ms_slice file, struct smtp_spool_head *h,
		      struct ms_buf *rcpts, const char **why_r) MS_WUR;

#endif
