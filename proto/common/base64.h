/*
 * base64.h - RFC 4648 section 4 base64 (the "+/" alphabet with "=" padding),
 * as SASL in IMAP, POP3 and SMTP uses it.
 *
 * Decoding is strict because its input comes from the network: the length
 * must be a multiple of four, only alphabet characters may appear, "=" only
 * as one or two final padding characters, and the unused bits before the
 * padding must be zero.  No whitespace is skipped; protocol drivers hand
 * over exactly the bytes between the response code and CRLF.
 */
#ifndef MS_BASE64_H
#define MS_BASE64_H

#include "common/ms.h"

/* Length of the encoding of n bytes (without a NUL). */
size_t ms_base64_encoded_len(size_t n);

/* Value 0..63 of one alphabet character, or -1 (also for '='). */
int ms_base64_value(uint8_t c);

/* Upper bound of the decoding of n base64 characters. */
size_t ms_base64_decoded_max(size_t n);

/*
 * Appends the encoding of p[0..len) to out in a single append, so out
 * reallocates at most once (which matters when the bytes are a secret:
 * see sasl.h).  Returns MS_OK, MS_ETOOBIG or MS_ENOMEM; on error out is
 * unchanged.
 */
int ms_base64_encode(struct ms_buf *out, const void *p, size_t len) MS_WUR;

/*
 * Appends the strict decoding of in[0..len) to out in a single append.
 * Returns MS_OK, MS_EPROTO for malformed input (out unchanged), MS_ETOOBIG
 * or MS_ENOMEM.  Empty input decodes to nothing.
 */
int ms_base64_decode(struct ms_buf *out, const void *in, size_t len) MS_WUR;

#endif
