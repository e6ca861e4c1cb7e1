/*
 * store_body.c - receiving bodies: SHA-256 as the bytes arrive, the header
 * summary on the way, memory or an unlinked spool file; and reading
 * bodies and summaries back.
 */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime/mime.h"

struct store_body_writer {
	struct store *s;
	EVP_MD_CTX *md;
	struct mime_summary sum;
	bool is_sum_done;
	uint8_t *mem;
	size_t mem_len, mem_cap;
	int fd;
	uint64_t size;
};

/* An unlinked file in DIR/tmp: a crash leaves nothing behind. */
static int
store_spool_open(struct store *s, struct ms_err *err_r)
{
	int fd = open(s->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR ||
		       errno == EINVAL)) {
		/* A file system without O_TMPFILE. */
		size_t n = strlen(s->tmpdir) + 16;
		char *path = malloc(n);

		if (path == NULL)
			return ms_err_set(err_r, MS_ENOMEM,
					  "store: out of memory");
		snprintf(path, n, "%s/bodyXXXXXX", s->tmpdir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
		free(path);
	}
	if (fd < 0)
		return ms_err_set(err_r, MS_EIO, "store: spool file in %s: %s",
				  s->tmpdir, strerror(errno));
	return fd;
}

static int
store_write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
store_body_writer_new(struct store *s, uint64_t size_hint,
		      struct store_body_writer **w_r, struct ms_err *err_r)
{
	struct store_body_writer *w = calloc(1, sizeof(*w));
	int rc;

	*w_r = NULL;
	if (w == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
	w->s = s;
	w->fd = -1;
	mime_summary_init(&w->sum, NULL);
	w->md = EVP_MD_CTX_new();
	if (w->md == NULL || !EVP_DigestInit_ex(w->md, s->sha256, NULL)) {
		store_body_writer_free(&w);
		return ms_err_set(err_r, MS_EINTERNAL,
				  "store: SHA-256 init failed");
	}
	if (size_hint > s->max_body_size) {
		store_body_writer_free(&w);
		return ms_err_set(err_r, MS_ETOOBIG,
				  "store: body of %llu bytes is over the "
				  "limit", (unsigned long long)size_hint);
	}
	if (size_hint > s->spool_threshold) {
		rc = store_spool_open(s, err_r);
		if (rc < 0) {
			store_body_writer_free(&w);
			return rc;
		}
		w->fd = rc;
	} else if (size_hint > 0) {
		/* The announced size exactly: no regrowth, no slack. */
		w->mem = malloc(size_hint);
		if (w->mem == NULL) {
			store_body_writer_free(&w);
			return ms_err_set(err_r, MS_ENOMEM,
					  "store: out of memory");
		}
		w->mem_cap = size_hint;
	}
	*w_r = w;
	return MS_OK;
}

/* Moves what is in memory to a spool file. */
static int
store_writer_spool(struct store_body_writer *w, struct ms_err *err_r)
{
	int fd = store_spool_open(w->s, err_r);

	if (fd < 0)
		return fd;
	if (store_write_all(fd, w->mem, w->mem_len) < 0) {
		int e = errno;

		close(fd);
		return ms_err_set(err_r, MS_EIO, "store: spool write: %s",
				  strerror(e));
	}
	free(w->mem);
	w->mem = NULL;
	w->mem_len = w->mem_cap = 0;
	w->fd = fd;
	return MS_OK;
}

int
store_body_writer_write(struct store_body_writer *w, const void *p,
			size_t len, struct ms_err *err_r)
{
	int rc;

	if (len > w->s->max_body_size - w->size)
		return ms_err_set(err_r, MS_ETOOBIG,
				  "store: body over %llu bytes",
				  (unsigned long long)w->s->max_body_size);
	if (!EVP_DigestUpdate(w->md, p, len))
		return ms_err_set(err_r, MS_EINTERNAL,
				  "store: SHA-256 update failed");
	if (!w->is_sum_done) {
		size_t used;

		w->is_sum_done = mime_summary_feed(&w->sum, p, len, &used) ==
				 MS_OK;
	}
	w->size += len;
	if (w->fd < 0 && w->mem_len + len > w->s->spool_threshold) {
		rc = store_writer_spool(w, err_r);
		if (rc < 0)
			return rc;
	}
	if (w->fd >= 0) {
		if (store_write_all(w->fd, p, len) < 0)
			return ms_err_set(err_r, MS_EIO,
					  "store: spool write: %s",
					  strerror(errno));
		return MS_OK;
	}
	if (w->mem_len + len > w->mem_cap) {
		size_t ncap = w->mem_cap ? w->mem_cap : 4096;
		uint8_t *np;

		while (ncap < w->mem_len + len)
			ncap *= 2;
		if (ncap > w->s->spool_threshold)
			ncap = w->s->spool_threshold;
		np = realloc(w->mem, ncap);
		if (np == NULL)
			return ms_err_set(err_r, MS_ENOMEM,
					  "store: out of memory");
		w->mem = np;
		w->mem_cap = ncap;
	}
	memcpy(w->mem + w->mem_len, p, len);
	w->mem_len += len;
	return MS_OK;
}

/*
 * Summary value: date i64, has_date u8, then from, to, subject,
 * message-id each as u32 length + bytes.
 */
static int
store_summary_encode(struct store_body *b, const struct mime_summary *sum)
{
	const struct ms_buf *f[4] = {
		&sum->from, &sum->to, &sum->subject, &sum->message_id,
	};
	size_t n = 9;
	uint8_t *p;

	for (int i = 0; i < 4; i++)
		n += 4 + f[i]->len;
	b->summary = p = malloc(n);
	b->msgid = strdup(sum->message_id.p ? (char *)sum->message_id.p : "");
	if (p == NULL || b->msgid == NULL)
		return MS_ENOMEM;
	store__put64(p, (uint64_t)(sum->has_date ? sum->date : 0));
	p[8] = sum->has_date;
	p += 9;
	for (int i = 0; i < 4; i++) {
		store__put32(p, (uint32_t)f[i]->len);
		if (f[i]->len > 0)
			memcpy(p + 4, f[i]->p, f[i]->len);
		p += 4 + f[i]->len;
	}
	b->summary_len = n;
	return MS_OK;
}

int
store_body_writer_finish(struct store_body_writer **wp,
			 struct store_body **body_r, struct ms_err *err_r)
{
	struct store_body_writer *w = *wp;
	struct store_body *b;
	unsigned int hlen = 0;
	int rc;

	*wp = NULL;
	*body_r = NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		store_body_writer_free(&w);
		return ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
	}
	b->fd = -1;
	if (!EVP_DigestFinal_ex(w->md, b->hash, &hlen) ||
	    hlen != STORE_HASH_LEN) {
		rc = ms_err_set(err_r, MS_EINTERNAL,
				"store: SHA-256 final failed");
		goto fail;
	}
	if (mime_summary_finish(&w->sum) < 0 ||
	    store_summary_encode(b, &w->sum) < 0) {
		rc = ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
		goto fail;
	}
	b->size = w->size;
	b->mem = w->mem;
	b->fd = w->fd;
	w->mem = NULL;
	w->fd = -1;
	store_body_writer_free(&w);
	*body_r = b;
	return MS_OK;
fail:
	store_body_free(&b);
	store_body_writer_free(&w);
	return rc;
}

void
store_body_writer_free(struct store_body_writer **wp)
{
	struct store_body_writer *w = *wp;

	if (w == NULL)
		return;
	*wp = NULL;
	EVP_MD_CTX_free(w->md);
	mime_summary_deinit(&w->sum);
	free(w->mem);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

void
store_body_hash(const struct store_body *b, uint8_t hash_r[STORE_HASH_LEN])
{
	memcpy(hash_r, b->hash, STORE_HASH_LEN);
}

uint64_t
store_body_size(const struct store_body *b)
{
	return b->size;
}

void
store_body_free(struct store_body **bp)
{
	struct store_body *b = *bp;

	if (b == NULL)
		return;
	*bp = NULL;
	free(b->mem);
	if (b->fd >= 0)
		close(b->fd);
	free(b->summary);
	free(b->msgid);
	free(b);
}

/* --- reading -------------------------------------------------------------- */

int
store_body_read(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		uint64_t offset, void *dst, size_t len, size_t *n_r,
		struct ms_err *err_r)
{
	MDB_val k = { STORE_HASH_LEN, (void *)hash }, v;
	MDB_txn *txn;
	int rc;

	*n_r = 0;
	rc = store__read_begin(s, &txn, err_r);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->dbi[STORE_DBI_BODIES], &k, &v);
	if (rc == 0) {
		if (offset < v.mv_size) {
			size_t n = v.mv_size - offset;

			if (n > len)
				n = len;
			memcpy(dst, (uint8_t *)v.mv_data + offset, n);
			*n_r = n;
		}
		rc = MS_OK;
	} else if (rc == MDB_NOTFOUND) {
		rc = STORE_NOTFOUND;
	} else {
		rc = store__mdb_err(s, err_r, rc, "reading a body");
	}
	store__read_end(s, txn);
	return rc;
}

int
store_body_read_all(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		    struct ms_buf *out, struct ms_err *err_r)
{
	MDB_val k = { STORE_HASH_LEN, (void *)hash }, v;
	MDB_txn *txn;
	int rc;

	rc = store__read_begin(s, &txn, err_r);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->dbi[STORE_DBI_BODIES], &k, &v);
	if (rc == 0) {
		rc = ms_buf_append(out, v.mv_data, v.mv_size);
		if (rc < 0)
			rc = ms_err_set(err_r, rc, "store: body of %zu bytes "
					"does not fit", v.mv_size);
	} else if (rc == MDB_NOTFOUND) {
		rc = STORE_NOTFOUND;
	} else {
		rc = store__mdb_err(s, err_r, rc, "reading a body");
	}
	store__read_end(s, txn);
	return rc;
}

static char *
store_summary_str(const uint8_t **pp, const uint8_t *end, bool *ok)
{
	const uint8_t *p = *pp;
	uint32_t n;
	char *str;

	if (!*ok || end - p < 4) {
		*ok = false;
		return NULL;
	}
	n = store__get32(p);
	if ((size_t)(end - p - 4) < n) {
		*ok = false;
		return NULL;
	}
	str = malloc((size_t)n + 1);
	if (str == NULL) {
		*ok = false;
		return NULL;
	}
	memcpy(str, p + 4, n);
	str[n] = '\0';
	*pp = p + 4 + n;
	return str;
}

int
store_summary_get(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		  struct store_summary *sum_r, struct ms_err *err_r)
{
	MDB_val k = { STORE_HASH_LEN, (void *)hash }, v;
	MDB_txn *txn;
	bool ok = true;
	int rc;

	memset(sum_r, 0, sizeof(*sum_r));
	rc = store__read_begin(s, &txn, err_r);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->dbi[STORE_DBI_SUMMARIES], &k, &v);
	if (rc == 0 && v.mv_size >= 9) {
		const uint8_t *p = v.mv_data, *end = p + v.mv_size;

		sum_r->date = (int64_t)store__get64(p);
		sum_r->has_date = p[8] != 0;
		p += 9;
		sum_r->from = store_summary_str(&p, end, &ok);
		sum_r->to = store_summary_str(&p, end, &ok);
		sum_r->subject = store_summary_str(&p, end, &ok);
		sum_r->message_id = store_summary_str(&p, end, &ok);
		rc = ok ? MS_OK : ms_err_set(err_r, MS_ESTORE,
					     "store: bad summary record");
	} else if (rc == 0) {
		rc = ms_err_set(err_r, MS_ESTORE, "store: short summary");
	} else if (rc == MDB_NOTFOUND) {
		rc = STORE_NOTFOUND;
	} else {
		rc = store__mdb_err(s, err_r, rc, "reading a summary");
	}
	store__read_end(s, txn);
	if (rc != MS_OK)
		store_summary_deinit(sum_r);
	return rc;
}

void
store_summary_deinit(struct store_summary *sum)
{
	free(sum->from);
	free(sum->to);
	free(sum->subject);
	free(sum->message_id);
	memset(sum, 0, sizeof(*sum));
}
