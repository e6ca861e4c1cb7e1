/*
 * store.c - the environment: opening, the process lock, the schema and its
 * migrations, the write-transaction runner that grows the map, value
 * encodings, and folders.
 */
#include "store/store_int.h"
#include "store/store_zbody.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define STORE_DEFAULT_MAP (256u * 1024 * 1024)
#define STORE_DEFAULT_SPOOL (1024u * 1024)
#define STORE_DEFAULT_MAX_BODY (1024ull * 1024 * 1024)
/* Doubling from 1 MiB reaches 2^50 in 30 steps: more means a bug. */
#define STORE_MAX_GROWTH 30

static const char *const store_dbi_names[STORE_DBI_COUNT] = {
	"meta", "folders", "folder_names", "messages", "bodies", "body_info",
	"body_refs", "summaries", "msgids", "changes", "pop3", "outbox",
	"leftovers", "refusals",
};

int
store__mdb_err(struct store *s, struct ms_err *err_r, int rc,
	       const char *what)
{
	/* Only writers (one thread) look at it; readers never see a full
	 * map, so they never write this field. */
	if (s != NULL && rc == MDB_MAP_FULL)
		s->last_mdb_rc = rc;
	return ms_err_set(err_r, MS_ESTORE, "store: %s: %s", what,
			  mdb_strerror(rc));
}

size_t
store_map_size(const struct store *s)
{
	return s->map_size;
}

/* Doubles the map.  No transaction of this process may be open. */
static int
store_grow(struct store *s, struct ms_err *err_r)
{
	size_t want = s->map_size * 2;
	int rc;

	if (want < s->map_size)
		return ms_err_set(err_r, MS_ESTORE, "store: map size overflow");
	/* LMDB allows a resize only while no transaction is open in the
	 * process: wait for readers on other threads. */
	pthread_rwlock_wrlock(&s->resize_lock);
	rc = mdb_env_set_mapsize(s->env, want);
	store__map_locate(s);	/* the map may have moved */
	pthread_rwlock_unlock(&s->resize_lock);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "growing the map");
	log_info("store map_size=%zu->%zu dir=%s", s->map_size, want, s->dir);
	s->map_size = want;
	return MS_OK;
}

static int store_write_locked(struct store *s, unsigned txn_flags,
			      store__txn_fn fn, void *arg,
			      struct ms_err *err_r);

int
store__write(struct store *s, store__txn_fn fn, void *arg,
	     struct ms_err *err_r)
{
	return store__write_flags(s, 0, fn, arg, err_r);
}

int
store__write_flags(struct store *s, unsigned txn_flags, store__txn_fn fn,
		   void *arg, struct ms_err *err_r)
{
	int rc;

	pthread_mutex_lock(&s->write_lock);
	if (s->is_sync_failed)
		rc = ms_err_set(err_r, MS_EIO, "store: an earlier commit could "
				"not be made durable (%s): restart mailsyncd "
				"once the disk is writable", s->sync_error);
	else
		rc = store_write_locked(s, txn_flags, fn, arg, err_r);
	pthread_mutex_unlock(&s->write_lock);
	return rc;
}

/*
 * The environment is opened with MDB_NOMETASYNC (LMDB 0.9 ignores the
 * flag on mdb_txn_begin(), so a lazy commit paid both syncs): every
 * commit syncs its data pages before it writes the meta page that points
 * at them (a system crash may undo the last commit, never damage the
 * store), and a durable commit then syncs the meta page too.  A sync that
 * fails after the commit leaves a transaction that other readers already
 * see but the disk may not keep: no later write is let through (as LMDB
 * does after a failed meta write), so nothing is built on it.
 */
static int
store_commit_sync(struct store *s, unsigned txn_flags, size_t txn_id,
		  struct ms_err *err_r)
{
	MDB_envinfo info;
	int rc;

	/* A transaction that changed nothing was not written (LMDB skips
	 * it): nothing to sync.  The export's removal of a mirror_dir
	 * record that is not there, after every pushed message, is one. */
	if (mdb_env_info(s->env, &info) == 0 && info.me_last_txnid != txn_id)
		return MS_OK;
	if (txn_flags & MDB_NOMETASYNC) {
		s->is_lazy_pending = true;
		return MS_OK;
	}
	if ((rc = mdb_env_sync(s->env, 1)) == 0) {
		s->is_lazy_pending = false;
		__atomic_add_fetch(&s->n_durable_syncs, 1, __ATOMIC_RELAXED);
		return MS_OK;
	}
	snprintf(s->sync_error, sizeof(s->sync_error), "%s", mdb_strerror(rc));
	s->is_sync_failed = true;
	return ms_err_set(err_r, MS_EIO, "store: commit not durable: %s",
			  s->sync_error);
}

static int
store_write_locked(struct store *s, unsigned txn_flags, store__txn_fn fn,
		   void *arg, struct ms_err *err_r)
{
	for (int attempt = 0;; attempt++) {
		MDB_txn *txn;
		int rc;

		s->last_mdb_rc = 0;
		rc = mdb_txn_begin(s->env, NULL, txn_flags, &txn);
		if (rc != 0)
			return store__mdb_err(s, err_r, rc,
					      "beginning a write transaction");
		rc = fn(s, txn, arg, err_r);
		if (rc < 0) {
			mdb_txn_abort(txn);
		} else {
			int fn_rc = rc;
			size_t txn_id = mdb_txn_id(txn);

			rc = mdb_txn_commit(txn);
			if (rc != 0) {
				s->last_mdb_rc = rc;
				rc = store__mdb_err(s, err_r, rc, "commit");
			} else if ((rc = store_commit_sync(s, txn_flags, txn_id,
							   err_r)) == MS_OK) {
				rc = fn_rc;
			}
		}
		if (rc >= 0)
			return rc;
		if (s->last_mdb_rc != MDB_MAP_FULL)
			return rc;
		if (attempt >= STORE_MAX_GROWTH)
			return ms_err_set(err_r, MS_ESTORE,
					  "store: map still full after %d "
					  "resizes", attempt);
		rc = store_grow(s, err_r);
		if (rc < 0)
			return rc;
	}
}

int
store__read_begin(struct store *s, MDB_txn **txn_r, struct ms_err *err_r)
{
	int rc;

	pthread_rwlock_rdlock(&s->resize_lock);
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn_r);
	if (rc != 0) {
		pthread_rwlock_unlock(&s->resize_lock);
		return store__mdb_err(s, err_r, rc,
				      "beginning a read transaction");
	}
	return MS_OK;
}

void
store__read_end(struct store *s, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->resize_lock);
	store__map_check(s);
}

int
store__cursor_begin(struct store *s, enum store__dbi dbi, MDB_txn **txn_r,
		    MDB_cursor **c_r, struct ms_err *err_r)
{
	int rc = store__read_begin(s, txn_r, err_r);

	if (rc < 0)
		return rc;
	rc = mdb_cursor_open(*txn_r, s->dbi[dbi], c_r);
	if (rc != 0) {
		store__read_end(s, *txn_r);
		return store__mdb_err(s, err_r, rc, "opening a cursor");
	}
	return MS_OK;
}

void
store__cursor_end(struct store *s, MDB_txn *txn, MDB_cursor *c)
{
	mdb_cursor_close(c);
	store__read_end(s, txn);
}

int
store__reserve(void *arrp, size_t *capp, size_t n, size_t elem, size_t first)
{
	void **arr = arrp;
	size_t ncap;
	void *na;

	if (n < *capp)
		return MS_OK;
	ncap = *capp ? *capp * 2 : first;
	na = realloc(*arr, ncap * elem);
	if (na == NULL)
		return MS_ENOMEM;
	*arr = na;
	*capp = ncap;
	return MS_OK;
}

/* --- encodings ------------------------------------------------------------ */

void
store__folder_key(uint32_t folder_id, uint8_t key[4])
{
	store__put32(key, folder_id);
}

void
store__msg_key(uint32_t folder_id, uint32_t uid, uint8_t key[8])
{
	store__put32(key, folder_id);
	store__put32(key + 4, uid);
}

void
store__msg_encode(const struct store_msg *m, uint8_t *out, size_t *len_r)
{
	size_t n = strnlen(m->mirror_name, STORE_MIRROR_NAME_MAX);

	memcpy(out, m->hash, STORE_HASH_LEN);
	store__put32(out + 32, m->flags);
	store__put32(out + 36, m->synced_flags);
	store__put64(out + 40, m->modseq);
	store__put64(out + 48, (uint64_t)m->internal_date);
	store__put64(out + 56, m->size);
	store__put64(out + 64, m->local_seq);
	out[72] = (uint8_t)n;
	memcpy(out + STORE__MSG_FIXED, m->mirror_name, n);
	*len_r = STORE__MSG_FIXED + n;
}

int
store__msg_decode(uint32_t folder_id, uint32_t uid, const MDB_val *v,
		  struct store_msg *m)
{
	const uint8_t *p = v->mv_data;
	size_t n;

	if (v->mv_size < STORE__MSG_FIXED)
		return MS_ESTORE;
	n = p[72];
	if (v->mv_size != STORE__MSG_FIXED + n)
		return MS_ESTORE;
	m->folder_id = folder_id;
	m->uid = uid;
	memcpy(m->hash, p, STORE_HASH_LEN);
	m->flags = store__get32(p + 32);
	m->synced_flags = store__get32(p + 36);
	m->modseq = store__get64(p + 40);
	m->internal_date = (int64_t)store__get64(p + 48);
	m->size = store__get64(p + 56);
	m->local_seq = store__get64(p + 64);
	memcpy(m->mirror_name, p + STORE__MSG_FIXED, n);
	m->mirror_name[n] = '\0';
	return MS_OK;
}

/*
 * Folder value: attrs u32, delimiter u8, uidvalidity u32, uidnext u32,
 * highestmodseq u64, messages u32, mirror_durable u64, local_count u32,
 * account length u8 + bytes, name length u16 + bytes.
 */
#define STORE_FOLDER_FIXED 38

int
store__folder_encode(const struct store_folder *f, uint8_t *out, size_t outsz,
		     size_t *len_r)
{
	size_t al = strlen(f->account), nl = strlen(f->name);
	size_t n = STORE_FOLDER_FIXED + 1 + al + 2 + nl;

	if (n > outsz || al > STORE_ACCOUNT_MAX || nl > STORE_FOLDER_NAME_MAX)
		return MS_EINVAL;
	store__put32(out, f->attrs);
	out[4] = (uint8_t)f->delimiter;
	store__put32(out + 5, f->state.uidvalidity);
	store__put32(out + 9, f->state.uidnext);
	store__put64(out + 13, f->state.highestmodseq);
	store__put32(out + 21, f->state.messages);
	store__put64(out + 25, f->state.mirror_durable);
	store__put32(out + 33, f->local_count);
	out[37] = 0;	/* reserved */
	out[38] = (uint8_t)al;
	memcpy(out + 39, f->account, al);
	out[39 + al] = (uint8_t)(nl >> 8);
	out[40 + al] = (uint8_t)nl;
	memcpy(out + 41 + al, f->name, nl);
	*len_r = n;
	return MS_OK;
}

int
store__folder_decode(uint32_t id, const MDB_val *v, struct store_folder *f)
{
	const uint8_t *p = v->mv_data;
	size_t al, nl;

	if (v->mv_size < STORE_FOLDER_FIXED + 3)
		return MS_ESTORE;
	al = p[38];
	if (al > STORE_ACCOUNT_MAX || v->mv_size < STORE_FOLDER_FIXED + 3 + al)
		return MS_ESTORE;
	nl = (size_t)p[39 + al] << 8 | p[40 + al];
	if (nl > STORE_FOLDER_NAME_MAX ||
	    v->mv_size != STORE_FOLDER_FIXED + 3 + al + nl)
		return MS_ESTORE;
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->attrs = store__get32(p);
	f->delimiter = (char)p[4];
	f->state.uidvalidity = store__get32(p + 5);
	f->state.uidnext = store__get32(p + 9);
	f->state.highestmodseq = store__get64(p + 13);
	f->state.messages = store__get32(p + 21);
	f->state.mirror_durable = store__get64(p + 25);
	f->local_count = store__get32(p + 33);
	memcpy(f->account, p + 39, al);
	memcpy(f->name, p + 41 + al, nl);
	return MS_OK;
}

void
store__change_encode(const struct store_change *c,
		     uint8_t out[STORE__CHANGE_LEN])
{
	out[0] = (uint8_t)c->kind;
	store__put32(out + 1, c->folder_id);
	store__put32(out + 5, c->uid);
	store__put32(out + 9, c->flags_add);
	store__put32(out + 13, c->flags_remove);
	store__put32(out + 17, c->dest_folder_id);
	memcpy(out + 21, c->hash, STORE_HASH_LEN);
	store__put64(out + 53, (uint64_t)c->internal_date);
}

int
store__change_decode(uint64_t seq, const MDB_val *v, struct store_change *c)
{
	const uint8_t *p = v->mv_data;

	if (v->mv_size != STORE__CHANGE_LEN)
		return MS_ESTORE;
	c->seq = seq;
	c->kind = (enum store_change_kind)p[0];
	c->folder_id = store__get32(p + 1);
	c->uid = store__get32(p + 5);
	c->flags_add = store__get32(p + 9);
	c->flags_remove = store__get32(p + 13);
	c->dest_folder_id = store__get32(p + 17);
	memcpy(c->hash, p + 21, STORE_HASH_LEN);
	c->internal_date = (int64_t)store__get64(p + 53);
	return MS_OK;
}

MDB_val
store__msgid_key(const char *msgid)
{
	size_t n = strlen(msgid);

	if (n > STORE_MSGID_KEY_MAX)
		n = STORE_MSGID_KEY_MAX;
	return (MDB_val){ n, (void *)msgid };
}

/* --- meta and schema ------------------------------------------------------ */

static int
store_meta_get(struct store *s, MDB_txn *txn, const char *key, uint64_t *v_r,
	       bool *found_r, struct ms_err *err_r)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc = mdb_get(txn, s->dbi[STORE_DBI_META], &k, &v);

	*found_r = false;
	if (rc == MDB_NOTFOUND)
		return MS_OK;
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading meta");
	if (v.mv_size == 4)
		*v_r = store__get32(v.mv_data);
	else if (v.mv_size == 8)
		*v_r = store__get64(v.mv_data);
	else
		return ms_err_set(err_r, MS_ESTORE,
				  "store: meta %s has a bad size", key);
	*found_r = true;
	return MS_OK;
}

static int
store_meta_put(struct store *s, MDB_txn *txn, const char *key, uint64_t v,
	       size_t width, struct ms_err *err_r)
{
	uint8_t buf[8];
	MDB_val k = { strlen(key), (void *)key }, d = { width, buf };
	int rc;

	if (width == 4)
		store__put32(buf, (uint32_t)v);
	else
		store__put64(buf, v);
	rc = mdb_put(txn, s->dbi[STORE_DBI_META], &k, &d, 0);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "writing meta");
	return MS_OK;
}

int
store__meta_next(struct store *s, MDB_txn *txn, const char *key,
		 uint64_t *v_r, struct ms_err *err_r)
{
	bool found;
	int rc = store_meta_get(s, txn, key, v_r, &found, err_r);

	if (rc < 0)
		return rc;
	if (!found)
		*v_r = 1;
	return MS_OK;
}

int
store_local_seq_last(struct store *s, uint64_t *seq_r, struct ms_err *err_r)
{
	MDB_txn *txn;
	uint64_t next = 1;
	int rc;

	*seq_r = 0;
	if ((rc = store__read_begin(s, &txn, err_r)) < 0)
		return rc;
	rc = store__meta_next(s, txn, "next_local_seq", &next, err_r);
	store__read_end(s, txn);
	if (rc < 0)
		return rc;
	*seq_r = next > 0 ? next - 1 : 0;
	return MS_OK;
}

int
store__meta_set(struct store *s, MDB_txn *txn, const char *key, uint64_t v,
		struct ms_err *err_r)
{
	return store_meta_put(s, txn, key, v, 8, err_r);
}

int
store__migrate_1_to_2(struct store *s, MDB_txn *txn, struct ms_err *err_r)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, op = MDB_FIRST;
	size_t n = 0;

	/* Version 2 added body_refs, the reverse index from a body to the
	 * message records holding it; build it from the records. */
	rc = mdb_drop(txn, s->dbi[STORE_DBI_BODY_REFS], 0);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "migrate 1->2: clear");
	rc = mdb_cursor_open(txn, s->dbi[STORE_DBI_MESSAGES], &c);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "migrate 1->2: cursor");
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		MDB_val hk = { STORE_HASH_LEN, v.mv_data }, ref = k;

		op = MDB_NEXT;
		if (k.mv_size != 8 || v.mv_size < STORE__MSG_FIXED) {
			mdb_cursor_close(c);
			return ms_err_set(err_r, MS_ESTORE,
					  "store: migrate 1->2: bad record");
		}
		rc = mdb_put(txn, s->dbi[STORE_DBI_BODY_REFS], &hk, &ref, 0);
		if (rc != 0)
			break;
		n++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return store__mdb_err(s, err_r, rc, "migrate 1->2");
	log_info("store migrated schema 1->2 dir=%s refs=%zu", s->dir, n);
	return MS_OK;
}

/* Version 3 added leftovers, which starts empty (opening creates it). */
static int
store_migrate_2_to_3(struct store *s, MDB_txn *txn, struct ms_err *err_r)
{
	(void)txn;
	(void)err_r;
	log_info("store migrated schema 2->3 dir=%s", s->dir);
	return MS_OK;
}

/* Version 4 added refusals, which starts empty (opening creates it). */
static int
store_migrate_3_to_4(struct store *s, MDB_txn *txn, struct ms_err *err_r)
{
	(void)txn;
	(void)err_r;
	log_info("store migrated schema 3->4 dir=%s", s->dir);
	return MS_OK;
}

/*
 * Version 5 keeps bodies compressed (store_zbody.h).  Nothing to convert:
 * the bodies stored before stay as they are and read as before.  The
 * number is there so that an older mailsyncd refuses the store instead
 * of taking a compressed body for the message's bytes.
 */
static int
store_migrate_4_to_5(struct store *s, MDB_txn *txn, struct ms_err *err_r)
{
	(void)txn;
	(void)err_r;
	log_info("store migrated schema 4->5 dir=%s", s->dir);
	return MS_OK;
}

/* One function per version step: migrations[v] turns v into v + 1. */
static int (*const store_migrations[STORE_SCHEMA_VERSION])(
	struct store *, MDB_txn *, struct ms_err *) = {
	[1] = store__migrate_1_to_2,
	[2] = store_migrate_2_to_3,
	[3] = store_migrate_3_to_4,
	[4] = store_migrate_4_to_5,
};

static int
store_schema_txn(struct store *s, MDB_txn *txn, void *arg,
		 struct ms_err *err_r)
{
	uint64_t version;
	bool found;
	int rc;

	for (int i = 0; i < STORE_DBI_COUNT; i++) {
		unsigned flags = MDB_CREATE;

		if (i == STORE_DBI_BODY_REFS || i == STORE_DBI_MSGIDS)
			flags |= MDB_DUPSORT;
		rc = mdb_dbi_open(txn, store_dbi_names[i], flags, &s->dbi[i]);
		if (rc != 0)
			return store__mdb_err(s, err_r, rc,
					      store_dbi_names[i]);
	}
	rc = store__meta_next(s, txn, "next_outbox_id", &s->next_outbox_id,
			      err_r);
	if (rc < 0)
		return rc;
	rc = store_meta_get(s, txn, "schema_version", &version, &found, err_r);
	if (rc < 0)
		return rc;
	if (!found)
		return store_meta_put(s, txn, "schema_version",
				      STORE_SCHEMA_VERSION, 4, err_r);
	if (version > STORE_SCHEMA_VERSION)
		return ms_err_set(err_r, MS_ESTORE,
				  "store %s: schema version %" PRIu64
				  " is newer than this mailsyncd (%d); "
				  "upgrade mailsync", s->dir, version,
				  STORE_SCHEMA_VERSION);
	if (version == 0)
		return ms_err_set(err_r, MS_ESTORE,
				  "store %s: bad schema version 0", s->dir);
	for (uint64_t v = version; v < STORE_SCHEMA_VERSION; v++) {
		rc = store_migrations[v](s, txn, err_r);
		if (rc < 0)
			return rc;
	}
	if (version != STORE_SCHEMA_VERSION)
		return store_meta_put(s, txn, "schema_version",
				      STORE_SCHEMA_VERSION, 4, err_r);
	return MS_OK;
}

/* --- open and close ------------------------------------------------------- */

static char *
store_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/*
 * An open-file-description lock (not a classic POSIX lock) so that a
 * second open of the same store fails even inside one process, where
 * LMDB forbids opening an environment twice.  The holder's pid is written
 * into the file for the error message.
 */
static int
store_lock(struct store *s, struct ms_err *err_r)
{
	char *path = store_path(s->dir, "mailsync.lock");
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char pid[32];
	int n;

	if (path == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		int e = errno;

		free(path);
		return ms_err_set(err_r, MS_ESTORE, "store: open %s/%s: %s",
				  s->dir, "mailsync.lock", strerror(e));
	}
	free(path);
	if (fcntl(s->lock_fd, F_OFD_SETLK, &fl) < 0) {
		int e = errno;
		ssize_t r;

		if (e != EAGAIN && e != EACCES)
			return ms_err_set(err_r, MS_ESTORE,
					  "store: lock %s: %s", s->dir,
					  strerror(e));
		r = pread(s->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[r > 0 ? r : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		return ms_err_set(err_r, MS_ESTORE,
				  "store %s is in use by pid %s", s->dir,
				  pid[0] != '\0' ? pid : "(unknown)");
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(s->lock_fd, 0) < 0 ||
	    pwrite(s->lock_fd, pid, (size_t)n, 0) != n)
		log_warn_errno(errno, "store: writing pid to %s/mailsync.lock",
			       s->dir);
	return MS_OK;
}

static int
store_mkdir(const char *path, struct ms_err *err_r)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return ms_err_set(err_r, MS_ESTORE, "store: mkdir %s: %s",
				  path, strerror(errno));
	return MS_OK;
}

/* The store's directory and, as mkdir -p, its missing parents (0700, as
 * the XDG base directory spec asks of ~/.local/share): a first run with
 * the default store must not fail on a fresh home. */
static int
store_mkdir_parents(const char *path, struct ms_err *err_r)
{
	char *p = strdup(path);
	int rc = MS_OK;

	if (p == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
	for (char *slash = strchr(p + 1, '/'); ; slash = strchr(slash + 1, '/')) {
		if (slash != NULL)
			*slash = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			rc = ms_err_set(err_r, MS_ESTORE, "store: cannot "
					"create %s: mkdir %s: %s", path, p,
					strerror(errno));
			break;
		}
		if (slash == NULL)
			break;
		*slash = '/';
	}
	free(p);
	return rc;
}

int
store_open(struct store **store_r, const struct store_params *params,
	   struct ms_err *err_r)
{
	struct store *s;
	MDB_envinfo info;
	int rc;

	*store_r = NULL;
	if (params->dir == NULL || params->dir[0] == '\0')
		return ms_err_set(err_r, MS_EINVAL, "store: no directory");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
	if (pthread_rwlock_init(&s->resize_lock, NULL) != 0) {
		free(s);
		return ms_err_set(err_r, MS_ENOMEM, "store: rwlock init");
	}
	s->lock_fd = -1;
	s->release_over = STORE__MAP_RELEASE_OVER;
	if (pthread_mutex_init(&s->write_lock, NULL) != 0) {
		pthread_rwlock_destroy(&s->resize_lock);
		free(s);
		return ms_err_set(err_r, MS_ENOMEM, "store: mutex init");
	}
	if (pthread_mutex_init(&s->zlock, NULL) != 0) {
		pthread_mutex_destroy(&s->write_lock);
		pthread_rwlock_destroy(&s->resize_lock);
		free(s);
		return ms_err_set(err_r, MS_ENOMEM, "store: mutex init");
	}
	if (store__handed_init(s) != MS_OK) {
		pthread_mutex_destroy(&s->zlock);
		pthread_mutex_destroy(&s->write_lock);
		pthread_rwlock_destroy(&s->resize_lock);
		free(s);
		return ms_err_set(err_r, MS_ENOMEM, "store: mutex init");
	}
	/* Without it (no /proc) the map is not found either (maps). */
	s->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	s->map_size = params->map_size ? params->map_size : STORE_DEFAULT_MAP;
	s->spool_threshold = params->spool_threshold ?
			     params->spool_threshold : STORE_DEFAULT_SPOOL;
	s->max_body_size = params->max_body_size ?
			   params->max_body_size : STORE_DEFAULT_MAX_BODY;
	s->dir = strdup(params->dir);
	s->tmpdir = store_path(params->dir, "tmp");
	if (s->dir == NULL || s->tmpdir == NULL) {
		rc = ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
		goto fail;
	}
	if ((rc = store_mkdir_parents(s->dir, err_r)) < 0 ||
	    (rc = store_mkdir(s->tmpdir, err_r)) < 0 ||
	    (rc = store_lock(s, err_r)) < 0)
		goto fail;
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, STORE_DBI_COUNT + 4)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, s->map_size)) != 0) {
		rc = store__mdb_err(s, err_r, rc, "creating the environment");
		goto fail;
	}
	/* MDB_NOTLS: read transactions are not tied to a thread, so pool
	 * threads may read.  MDB_NOMETASYNC: the meta page is synced by
	 * store_commit_sync(), for the commits that must be durable. */
	rc = mdb_env_open(s->env, s->dir, MDB_NOTLS | MDB_NOMETASYNC, 0600);
	if (rc != 0) {
		rc = ms_err_set(err_r, MS_ESTORE, "store: open %s: %s",
				s->dir, mdb_strerror(rc));
		goto fail;
	}
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize;
	store__map_locate(s);
	s->rss_floor = store__map_rss(s);
	rc = store__write(s, store_schema_txn, NULL, err_r);
	if (rc < 0)
		goto fail;
	*store_r = s;
	return MS_OK;
fail:
	store_close(&s);
	return rc;
}

void
store_close(struct store **storep)
{
	struct store *s = *storep;

	if (s == NULL)
		return;
	*storep = NULL;
	/* A clean close leaves the last lazy commit durable too. */
	if (s->env != NULL && s->is_lazy_pending && !s->is_sync_failed)
		(void)mdb_env_sync(s->env, 1);
	if (s->env != NULL)
		mdb_env_close(s->env);
	/* Closing the descriptor releases the lock. */
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->dir);
	free(s->tmpdir);
	if (s->statm_fd >= 0)
		close(s->statm_fd);
	store__zbody_close(s);
	store__handed_deinit(s);
	pthread_mutex_destroy(&s->write_lock);
	pthread_mutex_destroy(&s->zlock);
	pthread_rwlock_destroy(&s->resize_lock);
	free(s);
}

/* --- folders -------------------------------------------------------------- */

static int
store_folder_name_key(const char *account, const char *name, uint8_t *key,
		      size_t *len_r, struct ms_err *err_r)
{
	size_t al = strlen(account), nl = strlen(name);

	if (al == 0 || al > STORE_ACCOUNT_MAX)
		return ms_err_set(err_r, MS_EINVAL,
				  "store: bad account name length %zu", al);
	if (nl == 0 || nl > STORE_FOLDER_NAME_MAX)
		return ms_err_set(err_r, MS_EINVAL,
				  "store: bad folder name length %zu", nl);
	memcpy(key, account, al);
	key[al] = '\0';
	memcpy(key + al + 1, name, nl);
	*len_r = al + 1 + nl;
	return MS_OK;
}

struct store_ensure_arg {
	const char *account, *name;
	char delimiter;
	uint32_t attrs;
	uint32_t id;
};

static int
store_folder_ensure_txn(struct store *s, MDB_txn *txn, void *arg,
			struct ms_err *err_r)
{
	struct store_ensure_arg *a = arg;
	uint8_t nkey[STORE_ACCOUNT_MAX + 1 + STORE_FOLDER_NAME_MAX];
	uint8_t fkey[4], val[STORE_FOLDER_FIXED + 3 + STORE_ACCOUNT_MAX +
			     STORE_FOLDER_NAME_MAX];
	struct store_folder f;
	MDB_val k, v, fk = { 4, fkey };
	size_t klen = 0, vlen;	/* gcc -O2 cannot see the key sets it */
	uint64_t next;
	int rc;

	rc = store_folder_name_key(a->account, a->name, nkey, &klen, err_r);
	if (rc < 0)
		return rc;
	k = (MDB_val){ klen, nkey };
	rc = mdb_get(txn, s->dbi[STORE_DBI_FOLDER_NAMES], &k, &v);
	if (rc == 0) {
		if (v.mv_size != 4)
			return ms_err_set(err_r, MS_ESTORE,
					  "store: bad folder name index");
		a->id = store__get32(v.mv_data);
		store__folder_key(a->id, fkey);
		rc = mdb_get(txn, s->dbi[STORE_DBI_FOLDERS], &fk, &v);
		if (rc != 0)
			return store__mdb_err(s, err_r, rc, "folder record");
		if (store__folder_decode(a->id, &v, &f) < 0)
			return ms_err_set(err_r, MS_ESTORE,
					  "store: bad folder record %u",
					  a->id);
		if (f.delimiter == a->delimiter && f.attrs == a->attrs)
			return MS_OK;
	} else if (rc == MDB_NOTFOUND) {
		rc = store__meta_next(s, txn, "next_folder_id", &next, err_r);
		if (rc < 0)
			return rc;
		if (next > UINT32_MAX)
			return ms_err_set(err_r, MS_ESTORE,
					  "store: folder ids exhausted");
		a->id = (uint32_t)next;
		rc = store__meta_set(s, txn, "next_folder_id", next + 1,
				     err_r);
		if (rc < 0)
			return rc;
		memset(&f, 0, sizeof(f));
		f.id = a->id;
		memcpy(f.account, a->account, strlen(a->account));
		memcpy(f.name, a->name, strlen(a->name));
		store__folder_key(a->id, fkey);
		v = (MDB_val){ 4, fkey };
		rc = mdb_put(txn, s->dbi[STORE_DBI_FOLDER_NAMES], &k, &v, 0);
		if (rc != 0)
			return store__mdb_err(s, err_r, rc, "folder name");
	} else {
		return store__mdb_err(s, err_r, rc, "folder name index");
	}
	f.delimiter = a->delimiter;
	f.attrs = a->attrs;
	rc = store__folder_encode(&f, val, sizeof(val), &vlen);
	if (rc < 0)
		return ms_err_set(err_r, rc, "store: folder too large");
	v = (MDB_val){ vlen, val };
	rc = mdb_put(txn, s->dbi[STORE_DBI_FOLDERS], &fk, &v, 0);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "folder record");
	return MS_OK;
}

int
store_folder_ensure(struct store *s, const char *account, const char *name,
		    char delimiter, uint32_t attrs, uint32_t *id_r,
		    struct ms_err *err_r)
{
	struct store_ensure_arg a = { account, name, delimiter, attrs, 0 };
	int rc = store__write(s, store_folder_ensure_txn, &a, err_r);

	if (rc < 0)
		return rc;
	*id_r = a.id;
	return MS_OK;
}

struct store_ensure_many_arg {
	const char *account;
	struct store_folder_want *v;
	size_t n;
};

static int
store_folders_ensure_txn(struct store *s, MDB_txn *txn, void *arg,
			 struct ms_err *err_r)
{
	struct store_ensure_many_arg *m = arg;

	for (size_t i = 0; i < m->n; i++) {
		struct store_ensure_arg a = { m->account, m->v[i].name,
					      m->v[i].delimiter,
					      m->v[i].attrs, 0 };
		int rc = store_folder_ensure_txn(s, txn, &a, err_r);

		if (rc < 0)
			return rc;
		m->v[i].id = a.id;
	}
	return MS_OK;
}

int
store_folders_ensure(struct store *s, const char *account,
		     struct store_folder_want *v, size_t n,
		     struct ms_err *err_r)
{
	struct store_ensure_many_arg m = { account, v, n };

	if (n == 0)
		return MS_OK;
	return store__write(s, store_folders_ensure_txn, &m, err_r);
}

int
store_folder_get(struct store *s, uint32_t folder_id,
		 struct store_folder *folder_r, struct ms_err *err_r)
{
	uint8_t key[4];
	MDB_val k = { 4, key }, v;
	MDB_txn *txn;
	int rc;

	store__folder_key(folder_id, key);
	rc = store__read_begin(s, &txn, err_r);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->dbi[STORE_DBI_FOLDERS], &k, &v);
	if (rc == 0)
		rc = store__folder_decode(folder_id, &v, folder_r) < 0 ?
		     ms_err_set(err_r, MS_ESTORE, "store: bad folder %u",
				folder_id) : MS_OK;
	else if (rc == MDB_NOTFOUND)
		rc = STORE_NOTFOUND;
	else
		rc = store__mdb_err(s, err_r, rc, "reading a folder");
	store__read_end(s, txn);
	return rc;
}

int
store_folder_find(struct store *s, const char *account, const char *name,
		  struct store_folder *folder_r, struct ms_err *err_r)
{
	uint8_t nkey[STORE_ACCOUNT_MAX + 1 + STORE_FOLDER_NAME_MAX];
	MDB_val k, v;
	MDB_txn *txn;
	size_t klen = 0;	/* gcc -O2 cannot see the key sets it */
	uint32_t id = 0;
	int rc;

	rc = store_folder_name_key(account, name, nkey, &klen, err_r);
	if (rc < 0)
		return rc;
	k = (MDB_val){ klen, nkey };
	rc = store__read_begin(s, &txn, err_r);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->dbi[STORE_DBI_FOLDER_NAMES], &k, &v);
	if (rc == 0 && v.mv_size == 4)
		id = store__get32(v.mv_data);	/* copy before the abort */
	store__read_end(s, txn);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "folder name index");
	if (v.mv_size != 4)
		return ms_err_set(err_r, MS_ESTORE, "store: bad folder index");
	return store_folder_get(s, id, folder_r, err_r);
}

int
store_folder_list(struct store *s, const char *account,
		  struct store_folder **folders_r, size_t *n_r,
		  struct ms_err *err_r)
{
	struct store_folder *arr = NULL;
	size_t n = 0, cap = 0, alen = account ? strlen(account) : 0;
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	*folders_r = NULL;
	*n_r = 0;
	rc = store__cursor_begin(s, STORE_DBI_FOLDER_NAMES, &txn, &c, err_r);
	if (rc < 0)
		return rc;
	if (account != NULL) {
		/* Names of one account share the prefix "account\0". */
		k = (MDB_val){ alen + 1, (void *)account };
		op = MDB_SET_RANGE;
	}
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		uint8_t fkey[4];
		MDB_val fk = { 4, fkey }, fv;
		uint32_t id;

		op = MDB_NEXT;
		if (account != NULL &&
		    (k.mv_size <= alen ||
		     memcmp(k.mv_data, account, alen + 1) != 0))
			break;
		if (v.mv_size != 4) {
			rc = ms_err_set(err_r, MS_ESTORE,
					"store: bad folder index");
			goto out;
		}
		id = store__get32(v.mv_data);
		store__folder_key(id, fkey);
		rc = mdb_get(txn, s->dbi[STORE_DBI_FOLDERS], &fk, &fv);
		if (rc != 0) {
			rc = store__mdb_err(s, err_r, rc, "folder record");
			goto out;
		}
		if (store__reserve(&arr, &cap, n, sizeof(*arr), 16) < 0) {
			rc = ms_err_set(err_r, MS_ENOMEM,
					"store: out of memory");
			goto out;
		}
		if (store__folder_decode(id, &fv, &arr[n]) < 0) {
			rc = ms_err_set(err_r, MS_ESTORE,
					"store: bad folder record %u", id);
			goto out;
		}
		n++;
	}
	if (rc != MDB_NOTFOUND && rc != 0) {
		rc = store__mdb_err(s, err_r, rc, "folder list");
		goto out;
	}
	rc = MS_OK;
out:
	store__cursor_end(s, txn, c);
	if (rc < 0) {
		free(arr);
		return rc;
	}
	*folders_r = arr;
	*n_r = n;
	return MS_OK;
}
