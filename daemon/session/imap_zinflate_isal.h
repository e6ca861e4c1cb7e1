/*
 * imap_zinflate_isal.h - the server's COMPRESS=DEFLATE stream inflated
 * with ISA-L (isal_inflate), about twice as fast as zlib's inflate on
 * the initial sync's bodies.  Built only when CMake finds libisal
 * (MS_HAVE_ISAL); imap_session_compress.c falls back to zlib otherwise.
 *
 * One raw deflate stream for the connection (RFC 4978): ISA-L keeps the
 * last 32 KiB of output as its own history between calls, so the
 * caller's output buffer may be reused at once.  The state is one fixed
 * heap block (about 85 KiB) for the session's life.
 */
#ifndef MS_IMAP_ZINFLATE_ISAL_H
#define MS_IMAP_ZINFLATE_ISAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

struct inflate_state;

/* A fresh raw-deflate state, or NULL when out of memory. */
struct inflate_state *imap_zinflate_isal_new(void);
void imap_zinflate_isal_free(struct inflate_state *st);

/*
 * As imap_zstream_inflate (imap_session_compress.h): inflates from
 * in[0..len) into out[0..outsz) (len and outsz at most UINT32_MAX),
 * *more_r when the output filled up.
 * *ended_r is set when the final block's output has all been produced;
 * bytes after it are left unconsumed, or (when ISA-L read them ahead)
 * make the call return MS_EPROTO.  MS_OK, or MS_EPROTO for corrupt
 * data.
 */
int imap_zinflate_isal(struct inflate_state *st, const uint8_t *in,
		       size_t len, size_t *consumed_r, uint8_t *out,
		       size_t outsz, size_t *produced_r, bool *more_r,
		       bool *ended_r) MS_WUR;

#endif
