/*
 * store_zbody.h - bodies kept compressed in the store (store-internal).
 *
 * Mail compresses to about 40% of its size (the corpus: 42% with zstd at
 * level 1), and the store keeps every body beside the mirror's copy, so
 * the store holds a body compressed whenever that saves at least a
 * sixteenth of it.  The body's hash and size stay those of the server's
 * bytes: the store is still addressed by content, and body_info's size
 * is the uncompressed one.  So a value shorter than body_info's size is
 * compressed, one of exactly that size is the bytes themselves (every
 * store written before compression), and anything else is damage.
 *
 * A compressed value is the body in pieces of STORE__ZPIECE bytes, each
 * an independent zstd frame, behind a table of where each frame ends, so
 * that reading at any offset (the mirror's export, `mailsyncctl cat`)
 * decompresses one piece, not the body up to there:
 *
 *	u32 n			pieces: ceil(size / STORE__ZPIECE)
 *	u32 end[n]		end of frame i, from the first frame's start
 *	frames			frame i is end[i-1] (0 for i = 0) .. end[i]
 *
 * Numbers little-endian like the rest of the store's values.
 */
#ifndef MS_STORE_ZBODY_H
#define MS_STORE_ZBODY_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "common/ms.h"

struct store;
struct store_body;

#define STORE__ZPIECE (64u << 10)
/* Smaller bodies are kept as they are: a frame's overhead eats the gain. */
#define STORE__ZMIN 512u
/*
 * Larger ones too: the compressed value is built (in a spool file, for a
 * body over the spool threshold) before the commit reserves its exact
 * size in the map, and a body that large is mostly an attachment already encoded
 * (base64 compresses to about 75%).  4 MiB keeps that extra memory small
 * and still covers all but a few in a thousand messages.
 */
#define STORE__ZMAX (4u << 20)

/* Is a body value of vlen bytes, for a body of size bytes, compressed? */
static inline bool
store__zbody_is(size_t vlen, uint64_t size)
{
	return vlen < size;
}

/*
 * The value to store for body b: MS_OK with its length in *len_r when
 * compressing saves enough, the value in *val_r (malloc'ed, the caller
 * frees it) or, for a body in a spool file, in a spool file of its own
 * from offset 0, *fd_r (the caller closes it); MS_OK with *val_r NULL and
 * *fd_r -1 when the body is to be kept as it is, or an error (reading or
 * writing a spool file, memory).  Called inside a write (store__write()),
 * whose lock makes the store's compression context the caller's.
 */
int store__zbody_encode(struct store *s, const struct store_body *b,
			uint8_t **val_r, int *fd_r, size_t *len_r,
			struct ms_err *err_r) MS_WUR;

/*
 * Copies up to len bytes from offset off of the body that the compressed
 * value v (of a body of size bytes) holds into dst; *n_r gets the count
 * (0 at or past the end).  MS_ESTORE when the value is damaged.  Any
 * thread, inside a read transaction.
 */
int store__zbody_read(struct store *s, const MDB_val *v, uint64_t size,
		      uint64_t off, void *dst, size_t len, size_t *n_r,
		      struct ms_err *err_r) MS_WUR;

/* Checks the table of compressed value v for a body of size bytes
 * (every frame inside the value, in order).  MS_OK or MS_ESTORE. */
int store__zbody_check(struct store *s, const MDB_val *v, uint64_t size,
		       struct ms_err *err_r) MS_WUR;

/* Frees the store's compression contexts (store_close()). */
void store__zbody_close(struct store *s);

#endif
