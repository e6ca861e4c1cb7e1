/*
 * imap_session_compress.h - COMPRESS=DEFLATE (RFC 4978) for the IMAP
 * session: raw deflate (windowBits -15) both ways, every write flushed
 * with Z_SYNC_FLUSH so the server can act on each command at once.
 *
 * The server's stream (all the mail of an initial sync) is inflated by
 * ISA-L when the build has it (imap_zinflate_isal.h, about twice zlib's
 * speed), else by zlib; both give the same bytes at the same points.
 * Our commands are few and short: zlib deflates them.
 *
 * Memory is fixed once initialised: zlib's deflate state (memLevel 8,
 * 32 KiB window, about 256 KiB) and one inflate state (zlib's, 32 KiB
 * window, or ISA-L's, about 85 KiB); the callers pass their own fixed
 * output buffers, so nothing grows with the traffic.
 */
#ifndef MS_IMAP_SESSION_COMPRESS_H
#define MS_IMAP_SESSION_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "common/ms.h"

struct inflate_state;		/* ISA-L's */

/* What inflates the server's stream. */
enum imap_zinflater {
	IMAP_ZINFLATE_ZLIB,
	IMAP_ZINFLATE_ISAL,	/* only when built with ISA-L */
};

struct imap_zstream {
	enum imap_zinflater inflater;
	z_stream in, out;
	struct inflate_state *isal_in;	/* IMAP_ZINFLATE_ISAL: owned */
	bool in_ready, out_ready;
	bool in_ended;		/* the server's stream ended */
};

/* The fastest inflater this build has: ISA-L's when built with it. */
enum imap_zinflater imap_zstream_best_inflater(void);

/* Every inflater this build has (the tests run each): sets *list_r to a
 * static array and returns its length. */
size_t imap_zstream_inflaters(const enum imap_zinflater **list_r);

/* Sets up both directions, inflating with imap_zstream_best_inflater().
 * MS_OK or MS_ENOMEM (z is then deinit-safe). */
int imap_zstream_init(struct imap_zstream *z) MS_WUR;

/* The same with a chosen inflater (the tests compare the two):
 * MS_EIMPL when this build does not have it. */
int imap_zstream_init_with(struct imap_zstream *z,
			   enum imap_zinflater inflater) MS_WUR;
void imap_zstream_deinit(struct imap_zstream *z);

/*
 * Inflates from in[0..len) into out[0..outsz).  *consumed_r and
 * *produced_r say how much was used and made; *more_r is true when the
 * output filled up, so zlib may hold more output without more input.
 * MS_OK, or MS_EPROTO for corrupt data or data after the end of the
 * stream.  The server ends its stream only as it closes the connection:
 * the last block's output is produced like any other.
 */
int imap_zstream_inflate(struct imap_zstream *z, const uint8_t *in, size_t len,
			 size_t *consumed_r, uint8_t *out, size_t outsz,
			 size_t *produced_r, bool *more_r) MS_WUR;

/*
 * Deflates in[0..len) with Z_SYNC_FLUSH and hands each compressed piece
 * (at most outsz bytes, in the caller's out buffer) to write_cb, which
 * returns MS_OK or an error that stops the call and is returned.
 */
typedef int imap_zstream_write_cb(const uint8_t *p, size_t len, void *arg);
int imap_zstream_deflate(struct imap_zstream *z, const uint8_t *in,
			 size_t len, uint8_t *out, size_t outsz,
			 imap_zstream_write_cb *write_cb, void *arg) MS_WUR;

#endif
