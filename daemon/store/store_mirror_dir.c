/*
 * store_mirror_dir.c - what the Maildir mirror last saw of each folder's
 * Maildir (store.h), in the meta database under "mirror_dir/" and the
 * folder id, and the stamp it is compared with.
 */
#include <string.h>

#include "store/store_int.h"

#define STORE_MIRROR_DIR_KEY "mirror_dir/"
#define STORE_MIRROR_DIR_KEY_LEN (sizeof(STORE_MIRROR_DIR_KEY) - 1 + 4)
/* A version byte, then 24 big-endian u64s. */
#define STORE_MIRROR_DIR_VERSION 1
#define STORE_MIRROR_DIR_NVALS 24
#define STORE_MIRROR_DIR_LEN (1 + 8 * STORE_MIRROR_DIR_NVALS)

static void
store_mirror_dir_key(uint32_t folder_id, uint8_t key[STORE_MIRROR_DIR_KEY_LEN])
{
	memcpy(key, STORE_MIRROR_DIR_KEY, sizeof(STORE_MIRROR_DIR_KEY) - 1);
	store__put32(key + sizeof(STORE_MIRROR_DIR_KEY) - 1, folder_id);
}

/* The record's members in their stored order (one table for both ways). */
static void
store_mirror_dir_vals(struct store_mirror_dir *d,
		      uint64_t *v[STORE_MIRROR_DIR_NVALS])
{
	size_t n = 0;

	for (size_t i = 0; i < 2; i++) {
		v[n++] = &d->sub[i].dev;
		v[n++] = &d->sub[i].ino;
		v[n++] = (uint64_t *)&d->sub[i].mtime_sec;
		v[n++] = (uint64_t *)&d->sub[i].mtime_nsec;
		v[n++] = (uint64_t *)&d->sub[i].ctime_sec;
		v[n++] = (uint64_t *)&d->sub[i].ctime_nsec;
	}
	v[n++] = &d->stamp.next_local_seq;
	v[n++] = &d->stamp.next_change_seq;
	v[n++] = &d->stamp.changes;
	v[n++] = &d->stamp.leftovers;
	v[n++] = &d->max_local_seq;
	v[n] = NULL;	/* the three u32s follow: see below */
}

static void
store_mirror_dir_encode(const struct store_mirror_dir *d,
			uint8_t out[STORE_MIRROR_DIR_LEN])
{
	struct store_mirror_dir copy = *d;
	uint64_t *v[STORE_MIRROR_DIR_NVALS];
	size_t n = 0;

	store_mirror_dir_vals(&copy, v);
	out[0] = STORE_MIRROR_DIR_VERSION;
	for (; v[n] != NULL; n++)
		store__put64(out + 1 + 8 * n, *v[n]);
	store__put64(out + 1 + 8 * n++, d->uidvalidity);
	store__put64(out + 1 + 8 * n++, d->attrs);
	store__put64(out + 1 + 8 * n++, d->local_count);
	for (; n < STORE_MIRROR_DIR_NVALS; n++)
		store__put64(out + 1 + 8 * n, 0);
}

static bool
store_mirror_dir_decode(const uint8_t *p, size_t len,
			struct store_mirror_dir *d)
{
	uint64_t *v[STORE_MIRROR_DIR_NVALS];
	size_t n = 0;

	if (len != STORE_MIRROR_DIR_LEN || p[0] != STORE_MIRROR_DIR_VERSION)
		return false;
	memset(d, 0, sizeof(*d));
	store_mirror_dir_vals(d, v);
	for (; v[n] != NULL; n++)
		*v[n] = store__get64(p + 1 + 8 * n);
	d->uidvalidity = (uint32_t)store__get64(p + 1 + 8 * n++);
	d->attrs = (uint32_t)store__get64(p + 1 + 8 * n++);
	d->local_count = (uint32_t)store__get64(p + 1 + 8 * n);
	return true;
}

int
store_mirror_stamp_get(struct store *s, struct store_mirror_stamp *stamp_r,
		       struct ms_err *err_r)
{
	MDB_stat changes, leftovers;
	MDB_txn *txn;
	int rc;

	memset(stamp_r, 0, sizeof(*stamp_r));
	if ((rc = store__read_begin(s, &txn, err_r)) < 0)
		return rc;
	rc = store__meta_next(s, txn, "next_local_seq",
			      &stamp_r->next_local_seq, err_r);
	if (rc == MS_OK)
		rc = store__meta_next(s, txn, "next_change_seq",
				      &stamp_r->next_change_seq, err_r);
	if (rc == MS_OK) {
		int mrc = mdb_stat(txn, s->dbi[STORE_DBI_CHANGES], &changes);

		if (mrc == 0)
			mrc = mdb_stat(txn, s->dbi[STORE_DBI_LEFTOVERS],
				       &leftovers);
		if (mrc != 0)
			rc = store__mdb_err(s, err_r, mrc, "mirror stamp");
	}
	store__read_end(s, txn);
	if (rc != MS_OK)
		return rc;
	stamp_r->changes = changes.ms_entries;
	stamp_r->leftovers = leftovers.ms_entries;
	return MS_OK;
}

int
store_mirror_dir_get(struct store *s, uint32_t folder_id,
		     struct store_mirror_dir *dir_r, struct ms_err *err_r)
{
	uint8_t key[STORE_MIRROR_DIR_KEY_LEN];
	MDB_val k = { sizeof(key), key }, v;
	MDB_txn *txn;
	int rc;

	memset(dir_r, 0, sizeof(*dir_r));
	store_mirror_dir_key(folder_id, key);
	if ((rc = store__read_begin(s, &txn, err_r)) < 0)
		return rc;
	rc = mdb_get(txn, s->dbi[STORE_DBI_META], &k, &v);
	if (rc == MDB_NOTFOUND)
		rc = STORE_NOTFOUND;
	else if (rc != 0)
		rc = store__mdb_err(s, err_r, rc, "mirror dir");
	else
		rc = store_mirror_dir_decode(v.mv_data, v.mv_size, dir_r) ?
		     MS_OK : STORE_NOTFOUND;
	store__read_end(s, txn);
	return rc;
}

struct store_mirror_dir_arg {
	const uint32_t *ids;
	const struct store_mirror_dir *const *dirs;
	size_t n;
};

static int
store_mirror_dir_put_txn(struct store *s, MDB_txn *txn, void *arg,
			 struct ms_err *err_r)
{
	struct store_mirror_dir_arg *a = arg;

	for (size_t i = 0; i < a->n; i++) {
		uint8_t key[STORE_MIRROR_DIR_KEY_LEN];
		uint8_t val[STORE_MIRROR_DIR_LEN];
		MDB_val k = { sizeof(key), key }, v = { sizeof(val), val };
		int rc;

		store_mirror_dir_key(a->ids[i], key);
		if (a->dirs[i] == NULL) {
			rc = mdb_del(txn, s->dbi[STORE_DBI_META], &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			store_mirror_dir_encode(a->dirs[i], val);
			rc = mdb_put(txn, s->dbi[STORE_DBI_META], &k, &v, 0);
		}
		if (rc != 0)
			return store__mdb_err(s, err_r, rc, "mirror dir");
	}
	return MS_OK;
}

int
store_mirror_dir_put(struct store *s, const uint32_t *folder_ids,
		     const struct store_mirror_dir *const *dirs, size_t n,
		     struct ms_err *err_r)
{
	struct store_mirror_dir_arg a = { folder_ids, dirs, n };

	if (n == 0)
		return MS_OK;
	return store__write(s, store_mirror_dir_put_txn, &a, err_r);
}
