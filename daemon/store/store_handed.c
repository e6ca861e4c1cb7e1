/*
 * store_handed.c - bodies a commit hands over to the mirror (store.h).
 *
 * A body fetched is hashed, compressed into LMDB by its batch's commit,
 * and then written into the mirror by the export that follows the commit.
 * Without this, the export read each body back from the store (a read
 * transaction and a decompression per 64 KiB) right after the commit had
 * its bytes at hand.  Now the commit keeps them, oldest first, within two
 * budgets: the bytes of bodies in memory (cap), and the bytes of large
 * bodies in their own spool files (spool_cap; files, not memory), and the
 * export takes them by hash.
 *
 * Nothing depends on a body being here: one that was pushed out, or
 * dropped, is read from the store as before.  A body's hash names its
 * bytes, so the ones kept are the ones stored.
 */
#include "store/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct store__handed_body {
	uint8_t hash[STORE_HASH_LEN];
	uint8_t *mem;			/* owned; NULL when in a file */
	int fd;				/* owned spool file, or -1 */
	uint64_t size;
	unsigned refs;			/* messages of the batch with it */
};

int
store__handed_init(struct store *s)
{
	return pthread_mutex_init(&s->handed.mu, NULL) == 0 ? MS_OK :
							       MS_ENOMEM;
}

/* Removes entry i, whose bytes the caller took or frees (under mu). */
static void
store_handed_remove(struct store__handed *h, size_t i)
{
	struct store__handed_body *e = &h->v[i];

	if (e->fd >= 0)
		h->spool_bytes -= e->size;
	else
		h->bytes -= e->size;
	memmove(e, e + 1, (h->n - i - 1) * sizeof(*e));
	h->n--;
}

/* Frees entry i (under mu). */
static void
store_handed_free_one(struct store__handed *h, size_t i)
{
	free(h->v[i].mem);
	if (h->v[i].fd >= 0)
		close(h->v[i].fd);
	store_handed_remove(h, i);
	h->n_dropped++;
}

void
store__handed_deinit(struct store *s)
{
	while (s->handed.n > 0)
		store_handed_free_one(&s->handed, 0);
	free(s->handed.v);
	pthread_mutex_destroy(&s->handed.mu);
}

void
store_handed_enable(struct store *s, size_t cap, uint64_t spool_cap)
{
	pthread_mutex_lock(&s->handed.mu);
	s->handed.cap = cap;
	s->handed.spool_cap = spool_cap;
	pthread_mutex_unlock(&s->handed.mu);
}

/* The index of the body with hash, or h->n (under mu). */
static size_t
store_handed_find(const struct store__handed *h, const uint8_t *hash)
{
	/* Newest first: the export follows the last commit. */
	for (size_t i = h->n; i > 0; i--)
		if (memcmp(h->v[i - 1].hash, hash, STORE_HASH_LEN) == 0)
			return i - 1;
	return h->n;
}

/*
 * Makes room for size more bytes of the kind (in a file or not) within
 * its budget, the oldest going first: an export that fell behind reads
 * them from the store.  False when size alone is over it (under mu).
 */
static bool
store_handed_room(struct store__handed *h, bool is_file, uint64_t size)
{
	uint64_t cap = is_file ? h->spool_cap : h->cap;

	if (size > cap)
		return false;
	for (size_t i = 0; i < h->n;) {
		uint64_t used = is_file ? h->spool_bytes : h->bytes;

		if (used + size <= cap)
			break;
		if ((h->v[i].fd >= 0) == is_file)
			store_handed_free_one(h, i);
		else
			i++;
	}
	return true;
}

void
store__handed_keep(struct store *s, struct store_body *b)
{
	struct store__handed *h = &s->handed;
	struct store__handed_body *e;
	bool is_file = b->mem == NULL;
	size_t i;

	if (is_file && b->fd < 0)
		return;		/* an empty body */
	pthread_mutex_lock(&h->mu);
	if ((i = store_handed_find(h, b->hash)) < h->n) {
		h->v[i].refs++;
		goto out;
	}
	if (!store_handed_room(h, is_file, b->size))
		goto out;
	if (h->n == h->v_cap) {
		size_t ncap = h->v_cap ? 2 * h->v_cap : 64;
		struct store__handed_body *nv =
			realloc(h->v, ncap * sizeof(*nv));

		if (nv == NULL)
			goto out;	/* the export reads it from the store */
		h->v = nv;
		h->v_cap = ncap;
	}
	e = &h->v[h->n++];
	memcpy(e->hash, b->hash, STORE_HASH_LEN);
	e->mem = b->mem;
	e->fd = is_file ? b->fd : -1;
	e->size = b->size;
	e->refs = 1;
	b->mem = NULL;
	if (is_file) {
		b->fd = -1;
		h->spool_bytes += e->size;
	} else {
		h->bytes += e->size;
	}
	h->n_kept++;
out:
	pthread_mutex_unlock(&h->mu);
}

/* A copy of entry e for another message with the same body (under mu). */
static int
store_handed_copy(const struct store__handed_body *e,
		  struct store_handed_body *out)
{
	if (e->fd >= 0) {
		out->fd = dup(e->fd);
		return out->fd >= 0 ? MS_OK : MS_EIO;
	}
	out->mem = malloc(e->size > 0 ? (size_t)e->size : 1);
	if (out->mem == NULL)
		return MS_ENOMEM;
	memcpy(out->mem, e->mem, (size_t)e->size);
	return MS_OK;
}

int
store_handed_take(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		  struct store_handed_body *out)
{
	struct store__handed *h = &s->handed;
	struct store__handed_body *e;
	int rc = STORE_NOTFOUND;
	size_t i;

	*out = (struct store_handed_body){ .fd = -1 };
	pthread_mutex_lock(&h->mu);
	if ((i = store_handed_find(h, hash)) == h->n)
		goto out;
	e = &h->v[i];
	out->size = e->size;
	if (e->refs > 1) {
		/* Another message of the batch has it too: a copy (still
		 * far cheaper than reading it back). */
		if (store_handed_copy(e, out) != MS_OK)
			goto out;
		e->refs--;
	} else {
		out->mem = e->mem;
		out->fd = e->fd;
		store_handed_remove(h, i);
	}
	h->n_taken++;
	rc = MS_OK;
out:
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int
store_handed_body_read(const struct store_handed_body *b, uint64_t off,
		       void *dst, size_t len, const uint8_t **p_r, size_t *n_r,
		       struct ms_err *err_r)
{
	uint64_t left = off < b->size ? b->size - off : 0;
	size_t n = left < len ? (size_t)left : len;

	*n_r = 0;
	if (b->mem != NULL || n == 0) {
		*p_r = b->mem != NULL ? b->mem + off : dst;
		*n_r = n;
		return MS_OK;
	}
	*p_r = dst;
	while (*n_r < n) {
		ssize_t k = pread(b->fd, (uint8_t *)dst + *n_r, n - *n_r,
				  (off_t)(off + *n_r));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return ms_err_set(err_r, MS_EIO,
					  "store: reading a spooled body: %s",
					  k == 0 ? "short file" :
						   strerror(errno));
		*n_r += (size_t)k;
	}
	return MS_OK;
}

void
store_handed_body_free(struct store_handed_body *b)
{
	free(b->mem);
	if (b->fd >= 0)
		close(b->fd);
	*b = (struct store_handed_body){ .fd = -1 };
}

void
store_handed_drop(struct store *s)
{
	pthread_mutex_lock(&s->handed.mu);
	while (s->handed.n > 0)
		store_handed_free_one(&s->handed, 0);
	pthread_mutex_unlock(&s->handed.mu);
}

void
store_handed_stats(struct store *s, struct store_handed_stats *st_r)
{
	pthread_mutex_lock(&s->handed.mu);
	st_r->n_kept = s->handed.n_kept;
	st_r->n_taken = s->handed.n_taken;
	st_r->n_dropped = s->handed.n_dropped;
	st_r->n_held = s->handed.n;
	st_r->bytes_held = s->handed.bytes;
	st_r->spool_bytes_held = s->handed.spool_bytes;
	pthread_mutex_unlock(&s->handed.mu);
}
