/*
 * store_zbody.c - bodies kept compressed in the store (store_zbody.h).
 */
#include "store/store_zbody.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "store/store_int.h"

/*
 * Level 1: the corpus compresses to 41.7% at level 1 and 40.9% at level
 * 3, for about half the CPU.  The commit compresses on a pool thread, but
 * CPU per message is what a sync costs.
 */
#define STORE__ZLEVEL 1

static size_t
store_zpieces(uint64_t size)
{
	return (size_t)((size + STORE__ZPIECE - 1) / STORE__ZPIECE);
}

/* The bytes of piece i of a body of size bytes. */
static size_t
store_zpiece_len(uint64_t size, size_t i)
{
	uint64_t start = (uint64_t)i * STORE__ZPIECE;

	return size - start < STORE__ZPIECE ? (size_t)(size - start) :
					      STORE__ZPIECE;
}

/* --- writing -------------------------------------------------------------- */

/* Opens the store's compression context at its first use. */
static int
store_zcctx(struct store *s, struct ms_err *err_r)
{
	if (s->zcctx != NULL)
		return MS_OK;
	if ((s->zcctx = ZSTD_createCCtx()) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
	/* Each frame carries its checksum (4 bytes, checked for far less
	 * than the decompression costs): a damaged value is an error when
	 * read, never other bytes. */
	if (ZSTD_isError(ZSTD_CCtx_setParameter(s->zcctx,
						ZSTD_c_compressionLevel,
						STORE__ZLEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->zcctx,
						ZSTD_c_checksumFlag, 1))) {
		ZSTD_freeCCtx(s->zcctx);
		s->zcctx = NULL;
		return ms_err_set(err_r, MS_EINTERNAL,
				  "store: zstd level %d refused",
				  STORE__ZLEVEL);
	}
	return MS_OK;
}

int
store__zbody_encode(struct store *s, const struct store_body *b,
		    uint8_t **val_r, int *fd_r, size_t *len_r,
		    struct ms_err *err_r)
{
	uint64_t size = b->size;
	size_t n, head, limit, used, zcap;
	uint8_t *table, *piece, *zbuf;
	bool is_file = b->fd >= 0, is_worth = true;
	int rc, fd = -1;

	*val_r = NULL;
	*fd_r = -1;
	*len_r = 0;
	if (size < STORE__ZMIN || size > STORE__ZMAX)
		return MS_OK;
	n = store_zpieces(size);
	head = 4 + 4 * n;
	/* Worth it only at a sixteenth smaller: the output stops there. */
	limit = (size_t)(size - size / 16);
	if (head >= limit)
		return MS_OK;
	if ((rc = store_zcctx(s, err_r)) != MS_OK)
		return rc;
	/*
	 * In memory, the value is built in place (pages of it past what is
	 * written are never touched: a large allocation is mapped on
	 * demand).  A body in a spool file gets its value in one too,
	 * frame by frame from a piece's room: it is copied into the map's
	 * reserved space at the commit, when the map's own dirty copy of
	 * it peaks, and a whole copy in memory beside that one was the
	 * largest part of a POP3 first download's peak RSS.
	 */
	zcap = is_file ? ZSTD_compressBound(STORE__ZPIECE) : limit;
	table = malloc(is_file ? head : limit);
	zbuf = is_file ? malloc(zcap) : table;
	piece = malloc(n > 1 ? STORE__ZPIECE : (size_t)size);
	if (table == NULL || zbuf == NULL || piece == NULL)
		rc = ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
	else if (is_file && (fd = store__spool_open(s, err_r)) < 0)
		rc = fd;
	else
		store__put32(table, (uint32_t)n);
	used = head;
	for (size_t i = 0; i < n && rc == MS_OK; i++) {
		size_t len = store_zpiece_len(size, i), z, room = limit - used;
		uint8_t *dst = is_file ? zbuf : table + used;

		rc = store__body_read_at(b, (uint64_t)i * STORE__ZPIECE, piece,
					 len, err_r);
		if (rc != MS_OK)
			break;
		z = ZSTD_compress2(s->zcctx, dst, room < zcap ? room : zcap,
				   piece, len);
		if (ZSTD_isError(z)) {
			/* dstSize_tooSmall: not worth it; anything else is
			 * not ours to fail a commit for either. */
			ZSTD_CCtx_reset(s->zcctx, ZSTD_reset_session_only);
			is_worth = false;
			break;
		}
		if (is_file && store__pwrite_all(fd, zbuf, z, used) < 0) {
			rc = ms_err_set(err_r, MS_EIO, "store: spool write: %s",
					strerror(errno));
			break;
		}
		used += z;
		store__put32(table + 4 + 4 * i, (uint32_t)(used - head));
		/* Bytes that do not compress (an 8-bit image, an archive)
		 * show it in their first pieces: stop there. */
		if (used - head > (uint64_t)(i + 1) * STORE__ZPIECE / 16 * 15) {
			is_worth = false;
			break;
		}
	}
	if (rc == MS_OK && is_worth && is_file &&
	    store__pwrite_all(fd, table, head, 0) < 0)
		rc = ms_err_set(err_r, MS_EIO, "store: spool write: %s",
				strerror(errno));
	free(piece);
	if (is_file) {
		free(zbuf);
		free(table);
		table = NULL;
	}
	if (rc != MS_OK || !is_worth) {
		free(table);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	*val_r = table;
	*fd_r = fd;
	*len_r = used;
	return MS_OK;
}

/* --- reading -------------------------------------------------------------- */

/* A decompression context from the store's few spare ones, or a new one. */
static ZSTD_DCtx *
store_zdctx_get(struct store *s)
{
	ZSTD_DCtx *d = NULL;

	pthread_mutex_lock(&s->zlock);
	if (s->n_zdctx > 0)
		d = s->zdctx[--s->n_zdctx];
	pthread_mutex_unlock(&s->zlock);
	return d != NULL ? d : ZSTD_createDCtx();
}

static void
store_zdctx_put(struct store *s, ZSTD_DCtx *d)
{
	pthread_mutex_lock(&s->zlock);
	if (s->n_zdctx < STORE__ZDCTX_KEEP) {
		s->zdctx[s->n_zdctx++] = d;
		d = NULL;
	}
	pthread_mutex_unlock(&s->zlock);
	ZSTD_freeDCtx(d);
}

static int
store_zdamaged(struct ms_err *err_r, const char *what)
{
	return ms_err_set(err_r, MS_ESTORE, "store: a compressed body is "
			  "damaged (%s)", what);
}

/* Where frame i lies in v: [*start_r, *end_r) from the value's start. */
static int
store_zframe(struct store *s, const MDB_val *v, uint64_t size, size_t i,
	     size_t *start_r, size_t *end_r, struct ms_err *err_r)
{
	size_t n = store_zpieces(size), head = 4 + 4 * n;
	uint8_t t[8];
	uint32_t start = 0, end;
	int rc;

	if (v->mv_size < head)
		return store_zdamaged(err_r, "short table");
	if ((rc = store__value_copy(s, v, 0, t, 4, err_r)) != MS_OK)
		return rc;
	if (store__get32(t) != n)
		return store_zdamaged(err_r, "piece count");
	if (i > 0) {
		if ((rc = store__value_copy(s, v, 4 + 4 * (i - 1), t, 8,
					    err_r)) != MS_OK)
			return rc;
		start = store__get32(t);
		end = store__get32(t + 4);
	} else {
		if ((rc = store__value_copy(s, v, 4, t, 4, err_r)) != MS_OK)
			return rc;
		end = store__get32(t);
	}
	if (start >= end || end > v->mv_size - head ||
	    end - start > ZSTD_compressBound(STORE__ZPIECE))
		return store_zdamaged(err_r, "frame bounds");
	*start_r = head + start;
	*end_r = head + end;
	return MS_OK;
}

/* Decompresses piece i of the body into out (its length: want). */
static int
store_zpiece(struct store *s, const MDB_val *v, uint64_t size, size_t i,
	     ZSTD_DCtx *d, uint8_t *frame, uint8_t *out, size_t want,
	     struct ms_err *err_r)
{
	size_t start, end, got;
	int rc;

	if ((rc = store_zframe(s, v, size, i, &start, &end, err_r)) != MS_OK ||
	    (rc = store__value_copy(s, v, start, frame, end - start,
				    err_r)) != MS_OK)
		return rc;
	got = ZSTD_decompressDCtx(d, out, want, frame, end - start);
	if (ZSTD_isError(got) || got != want)
		return store_zdamaged(err_r, ZSTD_isError(got) ?
				      ZSTD_getErrorName(got) : "piece size");
	return MS_OK;
}

int
store__zbody_read(struct store *s, const MDB_val *v, uint64_t size,
		  uint64_t off, void *dst, size_t len, size_t *n_r,
		  struct ms_err *err_r)
{
	uint8_t *frame = NULL, *piece = NULL, *out = dst;
	ZSTD_DCtx *d = NULL;
	size_t done = 0;
	int rc = MS_OK;

	*n_r = 0;
	if (off >= size || len == 0)
		return MS_OK;
	if (len > size - off)
		len = (size_t)(size - off);
	if ((d = store_zdctx_get(s)) == NULL ||
	    (frame = malloc(ZSTD_compressBound(STORE__ZPIECE))) == NULL) {
		rc = ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
		goto out;
	}
	while (done < len) {
		uint64_t at = off + done;
		size_t i = (size_t)(at / STORE__ZPIECE);
		size_t in = (size_t)(at % STORE__ZPIECE);
		size_t plen = store_zpiece_len(size, i);
		size_t take = plen - in < len - done ? plen - in : len - done;

		if (in == 0 && take == plen) {
			/* A whole piece: straight into dst. */
			rc = store_zpiece(s, v, size, i, d, frame, out + done,
					  plen, err_r);
		} else {
			if (piece == NULL &&
			    (piece = malloc(STORE__ZPIECE)) == NULL) {
				rc = ms_err_set(err_r, MS_ENOMEM,
						"store: out of memory");
				break;
			}
			rc = store_zpiece(s, v, size, i, d, frame, piece, plen,
					  err_r);
			if (rc == MS_OK)
				memcpy(out + done, piece + in, take);
		}
		if (rc != MS_OK)
			break;
		done += take;
	}
	if (rc == MS_OK)
		*n_r = done;
out:
	free(frame);
	free(piece);
	if (d != NULL)
		store_zdctx_put(s, d);
	return rc;
}

int
store__zbody_check(struct store *s, const MDB_val *v, uint64_t size,
		   struct ms_err *err_r)
{
	size_t n = store_zpieces(size), start, end, prev = 4 + 4 * n;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if ((rc = store_zframe(s, v, size, i, &start, &end,
				       err_r)) != MS_OK)
			return rc;
		if (start != prev)
			return store_zdamaged(err_r, "frame order");
		prev = end;
	}
	if (prev != v->mv_size)
		return store_zdamaged(err_r, "bytes after the last frame");
	return MS_OK;
}

void
store__zbody_close(struct store *s)
{
	ZSTD_freeCCtx(s->zcctx);
	s->zcctx = NULL;
	for (size_t i = 0; i < s->n_zdctx; i++)
		ZSTD_freeDCtx(s->zdctx[i]);
	s->n_zdctx = 0;
}
