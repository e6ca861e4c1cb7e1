/*
 * store_int.h - what the files of daemon/store share with each other and
 * nobody else: the environment handle, the database handles, value
 * encodings and the write-transaction runner.
 */
#ifndef MS_STORE_INT_H
#define MS_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <zstd.h>

#include "hash/body_hash.h"
#include "store/store.h"

_Static_assert(STORE_HASH_LEN == BODY_HASH_LEN, "bodies are addressed by "
	       "their content hash");

/* Spare decompression contexts kept (store_zbody.c): one per thread that
 * reads bodies at once (loop, pool commit, export, one more). */
#define STORE__ZDCTX_KEEP 4

enum store__dbi {
	STORE_DBI_META,
	STORE_DBI_FOLDERS,
	STORE_DBI_FOLDER_NAMES,
	STORE_DBI_MESSAGES,
	STORE_DBI_BODIES,
	STORE_DBI_BODY_INFO,
	STORE_DBI_BODY_REFS,
	STORE_DBI_SUMMARIES,
	STORE_DBI_MSGIDS,
	STORE_DBI_CHANGES,
	STORE_DBI_POP3,
	STORE_DBI_OUTBOX,
	STORE_DBI_LEFTOVERS,
	STORE_DBI_REFUSALS,
	STORE_DBI_COUNT,
};

/* Bodies a commit handed over to the mirror's export (store_handed.c),
 * oldest first; all fields under mu. */
struct store__handed {
	pthread_mutex_t mu;
	struct store__handed_body *v;
	size_t n, v_cap;
	uint64_t bytes;			/* of the bodies in memory */
	uint64_t spool_bytes;		/* of the ones in spool files */
	uint64_t cap, spool_cap;	/* 0: none of the kind kept */
	uint64_t n_kept, n_taken, n_dropped;	/* for tests */
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_DBI_COUNT];
	char *dir;
	char *tmpdir;		/* DIR/tmp: spool files of large bodies */
	int lock_fd;
	size_t map_size;
	size_t spool_threshold;
	uint64_t max_body_size;
	int last_mdb_rc;	/* MDB_MAP_FULL seen in this write attempt */
	uint64_t next_outbox_id;	/* for store_batch_outbox_add */
	/*
	 * store__map_check() releases the map once the process's mapped
	 * file pages exceed rss_floor (pages, as after the last release) by
	 * release_over bytes (STORE__MAP_RELEASE_OVER; SIZE_MAX: never,
	 * for tests).  statm_fd: /proc/self/statm, -1 if it did not open.
	 */
	size_t release_over;
	long rss_floor;		/* atomic: pool threads check too */
	int statm_fd;
	unsigned long n_checks;	/* atomic: store__map_check() calls */
	unsigned long n_releases;	/* atomic; for tests */
	unsigned long n_body_reads;	/* atomic: store_body_read(); tests */
	/* LMDB's map of data.mdb (NULL if not found) and that file. */
	uint8_t *map_base;
	size_t map_len;
	int map_fd;
	/* Read transactions hold it shared, a map resize exclusively. */
	pthread_rwlock_t resize_lock;
	/* Held by a write (store__write()) from begin to commit: writes may
	 * come from the loop and from a commit on a pool thread, one at a
	 * time, and the writer-only fields above are theirs in turn. */
	pthread_mutex_t write_lock;
	/* Under write_lock (store_commit_sync()): a lazy commit's meta page
	 * is not synced yet; a sync failed (then every write is refused,
	 * with its reason).  n_durable_syncs counts the meta syncs of
	 * durable commits (atomic; for tests). */
	bool is_lazy_pending;
	bool is_sync_failed;
	char sync_error[128];
	unsigned long n_durable_syncs;
	/* Compression (store_zbody.c): the context of the writer (under
	 * write_lock), and spare decompression contexts for readers of any
	 * thread (under zlock). */
	ZSTD_CCtx *zcctx;
	pthread_mutex_t zlock;
	ZSTD_DCtx *zdctx[STORE__ZDCTX_KEEP];
	size_t n_zdctx;
	struct store__handed handed;
};

/*
 * A finished body, ready to be written by a batch: its bytes are in
 * memory, or in a spool file of its own (a large body).
 */
struct store_body {
	struct store *s;
	uint8_t hash[STORE_HASH_LEN];
	uint64_t size;
	uint8_t *mem;		/* the bytes when in memory, else NULL */
	int fd;			/* its own spool file, else -1 */
	uint8_t *summary;	/* encoded summary value (store__summary_*) */
	size_t summary_len;
	char *msgid;		/* Message-ID for the index ("" if none) */
};

/* Big-endian integer coding for keys and values. */
static inline void
store__put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
store__put64(uint8_t *p, uint64_t v)
{
	store__put32(p, (uint32_t)(v >> 32));
	store__put32(p + 4, (uint32_t)v);
}

static inline uint32_t
store__get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
store__get64(const uint8_t *p)
{
	return (uint64_t)store__get32(p) << 32 | store__get32(p + 4);
}

/* Records an LMDB failure: MS_ESTORE with mdb_strerror(rc). */
int store__mdb_err(struct store *s, struct ms_err *err_r, int rc,
		   const char *what);

/*
 * Runs fn inside one write transaction and commits it.  When the map is
 * full (during fn or at commit), the transaction is aborted, the map
 * doubled and fn run again from the start, so fn must only depend on its
 * arg.  fn returns MS_OK or a negative code (then the transaction is
 * aborted and that code returned).
 */
typedef int (*store__txn_fn)(struct store *s, MDB_txn *txn, void *arg,
			     struct ms_err *err_r);
int store__write(struct store *s, store__txn_fn fn, void *arg,
		 struct ms_err *err_r);
/* The same with mdb_txn_begin() flags: MDB_NOMETASYNC for a commit whose
 * durability may wait for the next one (store_batch_commit_lazy()). */
int store__write_flags(struct store *s, unsigned txn_flags, store__txn_fn fn,
		       void *arg, struct ms_err *err_r);
/* A short read transaction; end it with store__read_end(). */
int store__read_begin(struct store *s, MDB_txn **txn_r, struct ms_err *err_r);
void store__read_end(struct store *s, MDB_txn *txn);
/* A read transaction with a cursor on dbi; end with store__cursor_end(). */
int store__cursor_begin(struct store *s, enum store__dbi dbi, MDB_txn **txn_r,
			MDB_cursor **c_r, struct ms_err *err_r);
void store__cursor_end(struct store *s, MDB_txn *txn, MDB_cursor *c);

/* Copies a finished body's bytes (wherever they are) to dst. */
int store__body_copy(const struct store_body *b, void *dst,
		     struct ms_err *err_r);
/* An unlinked file in the store's tmp/: a crash leaves nothing behind.
 * The fd, or an error. */
int store__spool_open(struct store *s, struct ms_err *err_r);
/* pread() of exactly len bytes: 0, or -1 with errno (EIO when short). */
int store__pread_all(int fd, void *dst, size_t len, uint64_t off);
/* pwrite() of all len bytes: 0, or -1 with errno. */
int store__pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off);
/* Copies n bytes of a finished body from offset off to dst. */
int store__body_read_at(const struct store_body *b, uint64_t off, void *dst,
			size_t n, struct ms_err *err_r);
/* Copies n bytes at off of a value read in a transaction (through the
 * map, or pread() for a large one: store_body.c). */
int store__value_copy(struct store *s, const MDB_val *v, uint64_t off,
		      void *dst, size_t n, struct ms_err *err_r);

/*
 * Values of at least this many bytes are read with pread() from the file
 * rather than through the map (store_body.c).
 */
#define STORE__MAP_PREAD_MIN 4096
/* Finds the map (after opening and after every resize). */
void store__map_locate(struct store *s);
/*
 * Unmaps the pages of the LMDB file this process has touched (they stay in
 * the page cache), so the pages a sync reads or faults in around what it
 * reads do not pile up in the process's RSS.  Called right before a batch
 * commits (the dirty pages peak then).
 */
void store__map_release(struct store *s);
/*
 * Unmaps the windows of STORE__MAP_DROP_WINDOW bytes around each of the n
 * addresses (of values read in a transaction now ended, while the map was
 * at base): a walk over many records (store_msg_iter) drops the leaf
 * pages it read, and the pages the kernel mapped around them on each
 * fault (fault-around; a whole large folio, up to 2 MiB: the window is
 * that large, a 64 KiB one left 7.5 MB mapped on ext4), as it goes.
 * Nothing when the map moved meanwhile.  Pages used again fault in again
 * from the page cache.
 */
void store__map_drop(struct store *s, const uint8_t *base,
		     const uintptr_t *addrs, size_t n);
#define STORE__MAP_DROP_WINDOW (2u << 20)
/*
 * Called after every read transaction and every batch operation: releases
 * the map only when the process's mapped file pages have grown by more
 * than release_over bytes since the last release, as statm says when it
 * is read, every STORE__MAP_CHECK_EVERY calls.  See store_body.c.
 */
void store__map_check(struct store *s);
/*
 * One statm read per this many checks: one operation maps a few pages (a
 * B-tree path, a small body's leaf or overflow page), so 32 of them add
 * little to release_over, where a read per call was some 5 system calls
 * per message of an initial sync (4 reads and a commit's operation).
 */
#define STORE__MAP_CHECK_EVERY 32
/*
 * 2 MiB: the 18,000-message initial sync of tests/bench peaks at 15.3 MB
 * with it (with 4 MiB at 17.1 MB, 1 MiB 14.7 MB); an incremental sync
 * of 800 changes releases 155 times (1 MiB: 440; every 2 reads: 1300).
 */
#ifndef STORE__MAP_RELEASE_OVER
#define STORE__MAP_RELEASE_OVER (2u << 20)
#endif
/* The process's mapped file pages now (statm), or -1. */
long store__map_rss(struct store *s);

/*
 * Makes room for one more element in a growable array: *arrp holds n
 * elements of elem bytes in *capp slots; doubles from `first`.  Returns
 * MS_OK or MS_ENOMEM (the array is then unchanged).
 */
int store__reserve(void *arrp, size_t *capp, size_t n, size_t elem,
		   size_t first);

/* Counters in meta: *v_r gets the stored value (1 when absent). */
int store__meta_next(struct store *s, MDB_txn *txn, const char *key,
		     uint64_t *v_r, struct ms_err *err_r);
int store__meta_set(struct store *s, MDB_txn *txn, const char *key,
		    uint64_t v, struct ms_err *err_r);

/* Encoded values. */
#define STORE__MSG_FIXED 73	/* message value without the mirror name */
#define STORE__INFO_LEN 12	/* body_info: refcount u32, size u64 */
#define STORE__CHANGE_LEN 61

void store__msg_encode(const struct store_msg *m, uint8_t *out,
		       size_t *len_r);
int store__msg_decode(uint32_t folder_id, uint32_t uid, const MDB_val *v,
		      struct store_msg *m);
void store__folder_key(uint32_t folder_id, uint8_t key[4]);
void store__msg_key(uint32_t folder_id, uint32_t uid, uint8_t key[8]);
int store__folder_decode(uint32_t id, const MDB_val *v,
			 struct store_folder *f);
int store__folder_encode(const struct store_folder *f, uint8_t *out,
			 size_t outsz, size_t *len_r);
void store__change_encode(const struct store_change *c,
			  uint8_t out[STORE__CHANGE_LEN]);
int store__change_decode(uint64_t seq, const MDB_val *v,
			 struct store_change *c);
/* Message-ID index key: at most STORE_MSGID_KEY_MAX bytes of msgid. */
MDB_val store__msgid_key(const char *msgid);

/* Outbox values; *out_r is malloc'ed.  MS_EINVAL for over-long strings. */
int store__outbox_encode(const struct store_outbox *e, uint8_t **out_r,
			 size_t *len_r);
int store__outbox_decode(uint64_t id, const void *data, size_t len,
			 struct store_outbox *e);

/* Refusals (store_refusal.c) inside a write transaction: put (skipped
 * when the change is no longer pending), delete (no-op when absent), and
 * clear a folder's (0: every folder's) but the ALTERED ones. */
int store__refusal_put(struct store *s, MDB_txn *txn,
		       const struct store_refusal *r, struct ms_err *err_r);
int store__refusal_del(struct store *s, MDB_txn *txn, uint64_t seq,
		       struct ms_err *err_r);
int store__refusals_clear(struct store *s, MDB_txn *txn, uint32_t folder_id,
			  struct ms_err *err_r);
/* store_check(): every refusal names a pending APPEND of its folder. */
int store__refusals_check(struct store *s, MDB_txn *txn, struct ms_err *err_r);

/* Migration from schema v1: builds body_refs from the message records. */
int store__migrate_1_to_2(struct store *s, MDB_txn *txn, struct ms_err *err_r);
/* The leftovers key of (folder, unique part of a file name): *len_r bytes
 * into key (4 + STORE_MIRROR_NAME_MAX); MS_EINVAL for an empty or too long
 * part. */
int store__leftover_key(uint32_t folder_id, const char *part, size_t len,
			uint8_t *key, size_t *len_r);

/* Bodies handed over to the mirror (store_handed.c). */
int store__handed_init(struct store *s);
void store__handed_deinit(struct store *s);
/* A committed body's bytes kept for the export when they fit (the body
 * then no longer has them); otherwise left to be freed with it. */
void store__handed_keep(struct store *s, struct store_body *b);

#endif
