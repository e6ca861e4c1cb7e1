/*
 * store_body.c - receiving bodies: SHA-256 as the bytes arrive, the header
 * summary on the way, in memory (or, above the spool threshold, an
 * unlinked spool file of its own); and reading bodies and summaries back.
 */
#include "store/store_int.h"
#include "store/store_zbody.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mime/mime.h"

struct store_body_writer {
	struct store *s;
	struct body_hasher md;
	struct mime_summary sum;
	bool is_sum_done;
	uint8_t *mem;
	size_t mem_len, mem_cap;
	int fd;
	uint64_t size;
};

int
store__spool_open(struct store *s, struct ms_err *err_r)
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

int
store__pread_all(int fd, void *dst, size_t len, uint64_t off)
{
	uint8_t *p = dst;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int
store__pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int
store__body_read_at(const struct store_body *b, uint64_t off, void *dst,
		    size_t n, struct ms_err *err_r)
{
	if (n == 0)
		return MS_OK;
	if (off > b->size || n > b->size - off)
		return ms_err_set(err_r, MS_EINTERNAL,
				  "store: read past a body's end");
	if (b->mem != NULL) {
		memcpy(dst, b->mem + off, n);
		return MS_OK;
	}
	if (store__pread_all(b->fd, dst, n, off) < 0)
		return ms_err_set(err_r, MS_EIO,
				  "store: reading a spooled body: %s",
				  strerror(errno));
	return MS_OK;
}

int
store__body_copy(const struct store_body *b, void *dst, struct ms_err *err_r)
{
	return store__body_read_at(b, 0, dst, (size_t)b->size, err_r);
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
	if (body_hash_init(&w->md) != MS_OK) {
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
		rc = store__spool_open(s, err_r);
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
	int fd = store__spool_open(w->s, err_r);

	if (fd < 0)
		return fd;
	if (store__pwrite_all(fd, w->mem, w->mem_len, 0) < 0) {
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
	if (body_hash_update(&w->md, p, len) != MS_OK)
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
		/* Every byte so far is in the file. */
		if (store__pwrite_all(w->fd, p, len, w->size - len) < 0)
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
	int rc;

	*wp = NULL;
	*body_r = NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		store_body_writer_free(&w);
		return ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
	}
	b->fd = -1;
	if (body_hash_final(&w->md, b->hash) != MS_OK) {
		rc = ms_err_set(err_r, MS_EINTERNAL,
				"store: SHA-256 final failed");
		goto fail;
	}
	if (mime_summary_finish(&w->sum) < 0 ||
	    store_summary_encode(b, &w->sum) < 0) {
		rc = ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
		goto fail;
	}
	b->s = w->s;
	b->size = w->size;
	b->mem = w->mem;
	b->fd = w->fd;
	w->mem = NULL;
	w->fd = -1;
	store_body_writer_free(&w);
	/*
	 * A body below the spool threshold stays in memory until its batch
	 * commits and copies it (compressed) into LMDB: no write to the
	 * kernel on the way, none on the loop.  The caller bounds how many
	 * wait (sync_fetch.c stops asking for more while they pass a bound).
	 */
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
	body_hash_deinit(&w->md);
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

/* --- the map --------------------------------------------------------------- */

/*
 * Where LMDB mapped data.mdb: its line in /proc/self/maps (LMDB does not
 * say; mdb_env_info() gives the address only for MDB_FIXEDMAP).
 */
void
store__map_locate(struct store *s)
{
	unsigned long long lo, hi, off, ino;
	unsigned int maj, min;
	MDB_envinfo info;
	struct stat st;
	char line[4352], perms[8];
	bool is_whole = true;
	FILE *f;
	int fd;

	s->map_base = NULL;
	s->map_len = 0;
	if (mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &st) < 0 ||
	    mdb_env_info(s->env, &info) != 0)
		return;
	s->map_fd = fd;
	f = fopen("/proc/self/maps", "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* Only whole lines: the tail of an over-long one is not a
		 * mapping (and a wrong range here would be unmapped). */
		bool was_whole = is_whole;

		is_whole = strchr(line, '\n') != NULL;
		if (!was_whole || !is_whole)
			continue;
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &lo, &hi,
			   perms, &off, &maj, &min, &ino) != 7)
			continue;
		/*
		 * LMDB's map: read-only, shared, the whole map size, our
		 * file.  Some file systems (btrfs) show another device
		 * number there than stat() gives: the name then.
		 */
		if (strcmp(perms, "r--s") == 0 && off == 0 &&
		    hi - lo == info.me_mapsize && ino == st.st_ino &&
		    ((maj == major(st.st_dev) && min == minor(st.st_dev)) ||
		     strstr(line, "/data.mdb\n") != NULL)) {
			s->map_base = (uint8_t *)(uintptr_t)lo;
			s->map_len = (size_t)(hi - lo);
			break;
		}
	}
	fclose(f);
}

/*
 * Copies n bytes at off of a value got in a live read transaction.  A
 * value of at least STORE__MAP_PREAD_MIN bytes is on overflow pages of its
 * own: it is read from the file with pread(), not through the map, so
 * reading every body (the mirror's export) does not map the file into the
 * process (mapped pages count in its RSS; the page cache holds them either
 * way).  A smaller value is in a leaf page the lookup mapped already.
 */
int
store__value_copy(struct store *s, const MDB_val *v, uint64_t off, void *dst,
		  size_t n, struct ms_err *err_r)
{
	const uint8_t *src = (const uint8_t *)v->mv_data + off;

	if (v->mv_size < STORE__MAP_PREAD_MIN || s->map_base == NULL ||
	    src < s->map_base || src + n > s->map_base + s->map_len) {
		memcpy(dst, src, n);
		return MS_OK;
	}
	if (store__pread_all(s->map_fd, dst, n,
			    (uint64_t)(src - s->map_base)) < 0)
		return ms_err_set(err_r, MS_EIO, "store: reading a body: %s",
				  strerror(errno));
	return MS_OK;
}

long
store__map_rss(struct store *s)
{
	char buf[128];
	ssize_t n;
	char *p;
	long v;

	if (s->statm_fd < 0)
		return -1;
	n = pread(s->statm_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "size resident shared ...": shared is RssFile + RssShmem. */
	v = strtol(buf, &p, 10);
	v = strtol(p, &p, 10);
	v = strtol(p, NULL, 10);
	return v;
}

void
store__map_release(struct store *s)
{
	long rss;

	/*
	 * Without MDB_WRITEMAP the map is a read-only shared file mapping:
	 * dropping its pages from this process only unmaps them (the page
	 * cache keeps them, the next access maps them again), so it is safe
	 * while other threads read.  The lock keeps a resize from moving
	 * the map meanwhile.
	 */
	pthread_rwlock_rdlock(&s->resize_lock);
	if (s->map_base != NULL)
		(void)madvise(s->map_base, s->map_len, MADV_DONTNEED);
	pthread_rwlock_unlock(&s->resize_lock);
	__atomic_add_fetch(&s->n_releases, 1, __ATOMIC_RELAXED);
	rss = store__map_rss(s);
	if (rss >= 0)
		__atomic_store_n(&s->rss_floor, rss, __ATOMIC_RELAXED);
}

void
store__map_drop(struct store *s, const uint8_t *base, const uintptr_t *addrs,
		size_t n)
{
	uintptr_t lo, hi, last = 0;

	pthread_rwlock_rdlock(&s->resize_lock);
	if (s->map_base != NULL && s->map_base == base) {
		lo = (uintptr_t)s->map_base;
		hi = lo + s->map_len;
		for (size_t i = 0; i < n; i++) {
			uintptr_t w = addrs[i] & ~(uintptr_t)(STORE__MAP_DROP_WINDOW - 1);

			if (w == last || w < lo || w + STORE__MAP_DROP_WINDOW > hi)
				continue;
			(void)madvise((void *)w, STORE__MAP_DROP_WINDOW,
				      MADV_DONTNEED);
			last = w;
		}
	}
	pthread_rwlock_unlock(&s->resize_lock);
}

/*
 * Releasing costs more than the madvise() itself: every page used again
 * afterwards (the B-tree's upper pages, the leaves a pass keeps going back
 * to) faults in again, a whole large folio (up to 2 MiB) at a time.  At a
 * fixed pace (every 2 reads and 4 batch operations) an incremental sync
 * of 800 changes released 1300 times and spent about a fifth of its CPU
 * time on that.  So release only once the mapped pages have grown by
 * release_over since the last release, as the kernel counts them
 * (/proc/self/statm, a system call; read every STORE__MAP_CHECK_EVERY
 * calls, where each call was 655,000 reads in a 100,000-message initial
 * sync, 6.5 a message): a pass that keeps going back
 * to the same pages keeps them mapped as long as they fit in
 * release_over, and one that walks the whole store still holds no more
 * than release_over (plus what STORE__MAP_CHECK_EVERY operations map)
 * at a time.
 * The count is of all mapped file pages, shared libraries too: their
 * growth costs one needless release, after which the floor is taken
 * afresh.  Pool threads check too, hence the atomics; two releases at
 * once are harmless.
 */
void
store__map_check(struct store *s)
{
	long rss, floor;

	if (__atomic_add_fetch(&s->n_checks, 1, __ATOMIC_RELAXED) %
	    STORE__MAP_CHECK_EVERY != 0)
		return;
	rss = store__map_rss(s);
	floor = __atomic_load_n(&s->rss_floor, __ATOMIC_RELAXED);
	if (rss < 0)
		return;
	if (rss < floor) {
		/* Pages dropped by the kernel or another thread's release. */
		__atomic_store_n(&s->rss_floor, rss, __ATOMIC_RELAXED);
		return;
	}
	if ((size_t)(rss - floor) * (size_t)sysconf(_SC_PAGESIZE) >
	    s->release_over)
		store__map_release(s);
}

/* --- reading -------------------------------------------------------------- */

/*
 * The value of the body with this hash, and the body's size (body_info's:
 * a shorter value is compressed, store_zbody.h).  MS_OK, STORE_NOTFOUND
 * or an error.
 */
static int
store_body_get(struct store *s, MDB_txn *txn, const uint8_t *hash,
	       MDB_val *v_r, uint64_t *size_r, struct ms_err *err_r)
{
	MDB_val k = { STORE_HASH_LEN, (void *)hash }, iv;
	int rc;

	rc = mdb_get(txn, s->dbi[STORE_DBI_BODIES], &k, v_r);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading a body");
	rc = mdb_get(txn, s->dbi[STORE_DBI_BODY_INFO], &k, &iv);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading body_info");
	if (iv.mv_size != STORE__INFO_LEN)
		return ms_err_set(err_r, MS_ESTORE, "store: bad body_info");
	*size_r = store__get64((const uint8_t *)iv.mv_data + 4);
	if (v_r->mv_size > *size_r)
		return ms_err_set(err_r, MS_ESTORE, "store: a body is longer "
				  "than its body_info says");
	return MS_OK;
}

/* Up to len bytes of the body (value v, size bytes) from off into dst. */
static int
store_body_copy_out(struct store *s, const MDB_val *v, uint64_t size,
		    uint64_t off, void *dst, size_t len, size_t *n_r,
		    struct ms_err *err_r)
{
	size_t n;
	int rc;

	*n_r = 0;
	if (store__zbody_is(v->mv_size, size))
		return store__zbody_read(s, v, size, off, dst, len, n_r,
					 err_r);
	if (off >= v->mv_size)
		return MS_OK;
	n = v->mv_size - off < len ? (size_t)(v->mv_size - off) : len;
	if ((rc = store__value_copy(s, v, off, dst, n, err_r)) == MS_OK)
		*n_r = n;
	return rc;
}

int
store_body_read(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		uint64_t offset, void *dst, size_t len, size_t *n_r,
		struct ms_err *err_r)
{
	MDB_txn *txn;
	MDB_val v;
	uint64_t size;
	int rc;

	*n_r = 0;
	__atomic_add_fetch(&s->n_body_reads, 1, __ATOMIC_RELAXED);
	rc = store__read_begin(s, &txn, err_r);
	if (rc < 0)
		return rc;
	rc = store_body_get(s, txn, hash, &v, &size, err_r);
	if (rc == MS_OK)
		rc = store_body_copy_out(s, &v, size, offset, dst, len, n_r,
					 err_r);
	store__read_end(s, txn);
	return rc;
}

int
store_body_size_get(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		    uint64_t *size_r, struct ms_err *err_r)
{
	MDB_val k = { STORE_HASH_LEN, (void *)hash }, v;
	MDB_txn *txn;
	int rc;

	*size_r = 0;
	rc = store__read_begin(s, &txn, err_r);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->dbi[STORE_DBI_BODY_INFO], &k, &v);
	if (rc == 0 && v.mv_size == STORE__INFO_LEN) {
		*size_r = store__get64((const uint8_t *)v.mv_data + 4);
		rc = MS_OK;
	} else if (rc == 0) {
		rc = ms_err_set(err_r, MS_ESTORE, "store: bad body_info");
	} else if (rc == MDB_NOTFOUND) {
		rc = STORE_NOTFOUND;
	} else {
		rc = store__mdb_err(s, err_r, rc, "reading body_info");
	}
	store__read_end(s, txn);
	return rc;
}

int
store_body_read_all(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		    struct ms_buf *out, struct ms_err *err_r)
{
	/* A compressed body's piece at a time: each decompressed once. */
	uint8_t *chunk = malloc(STORE__ZPIECE);
	size_t start = out->len;
	MDB_txn *txn;
	MDB_val v;
	uint64_t size;
	int rc;

	if (chunk == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
	rc = store__read_begin(s, &txn, err_r);
	if (rc < 0) {
		free(chunk);
		return rc;
	}
	rc = store_body_get(s, txn, hash, &v, &size, err_r);
	for (uint64_t off = 0; rc == MS_OK && off < size;) {
		size_t n = 0;

		rc = store_body_copy_out(s, &v, size, off, chunk,
					 STORE__ZPIECE, &n, err_r);
		if (rc == MS_OK && n == 0)
			rc = ms_err_set(err_r, MS_ESTORE, "store: a body is "
					"shorter than its body_info says");
		if (rc == MS_OK && (rc = ms_buf_append(out, chunk, n)) < 0)
			rc = ms_err_set(err_r, rc, "store: body of %llu bytes "
					"does not fit",
					(unsigned long long)size);
		off += n;
	}
	if (rc < 0)
		out->len = start;
	store__read_end(s, txn);
	free(chunk);
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
