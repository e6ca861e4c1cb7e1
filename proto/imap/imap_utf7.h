/*
 * imap_utf7.h - modified UTF-7 mailbox names (RFC 3501 section 5.1.3).
 *
 * Servers without UTF8=ACCEPT send and expect mailbox names in this form:
 * printable ASCII stands for itself, "&" is "&-", and everything else is
 * UTF-16 in a base64 variant between "&" and "-".
 */
#ifndef IMAP_UTF7_H
#define IMAP_UTF7_H

#include "common/ms.h"

/*
 * Appends the modified UTF-7 form of the UTF-8 name to out.  Returns MS_OK,
 * MS_EINVAL for invalid UTF-8 (overlong forms, surrogates, NUL), or an
 * ms_buf error.  On error out is left as it was.
 */
int imap_utf7_encode(struct ms_slice utf8, struct ms_buf *out) MS_WUR;

/*
 * Appends the UTF-8 form of a modified UTF-7 name to out.  Only the one
 * canonical encoding is accepted: bytes outside printable ASCII, a bare
 * "&", base64 that encodes printable ASCII, non-zero padding bits, broken
 * surrogate pairs, or two adjacent encoded runs give MS_EINVAL (and out is
 * left as it was).
 */
int imap_utf7_decode(struct ms_slice mutf7, struct ms_buf *out) MS_WUR;

#endif
