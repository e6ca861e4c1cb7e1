/*
 * store_read.c - lookups, the chunked message iterator, pending changes,
 * POP3 records, the consistency check and the testing faults.
 */
#include "store/store_int.h"
#include "store/store_zbody.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
store_msg_get(struct store *s, uint32_t folder_id, uint32_t uid,
	      struct store_msg *msg_r, struct ms_err *err_r)
{
	uint8_t key[8];
	MDB_val k = { 8, key }, v;
	MDB_txn *txn;
	int rc;

	store__msg_key(folder_id, uid, key);
	rc = store__read_begin(s, &txn, err_r);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->dbi[STORE_DBI_MESSAGES], &k, &v);
	if (rc == 0)
		rc = store__msg_decode(folder_id, uid, &v, msg_r) < 0 ?
		     ms_err_set(err_r, MS_ESTORE, "store: bad message %u/%u",
				folder_id, uid) : MS_OK;
	else if (rc == MDB_NOTFOUND)
		rc = STORE_NOTFOUND;
	else
		rc = store__mdb_err(s, err_r, rc, "reading a message");
	store__read_end(s, txn);
	return rc;
}

/* --- iterator ------------------------------------------------------------- */

#define STORE_ITER_CHUNK 256

struct store_msg_iter {
	struct store *s;
	uint32_t folder_id;
	uint32_t next_uid;	/* where the next chunk starts */
	bool is_end;		/* no records above the last chunk */
	size_t n, pos;
	struct store_msg chunk[STORE_ITER_CHUNK];
};

int
store_msg_iter_new(struct store *s, uint32_t folder_id, uint32_t uid_from,
		   struct store_msg_iter **it_r)
{
	struct store_msg_iter *it = calloc(1, sizeof(*it));

	*it_r = it;
	if (it == NULL)
		return MS_ENOMEM;
	it->s = s;
	it->folder_id = folder_id;
	it->next_uid = uid_from;
	return MS_OK;
}

void
store_msg_iter_free(struct store_msg_iter **itp)
{
	free(*itp);
	*itp = NULL;
}

/* Reads the next chunk in one short read transaction. */
static int
store_msg_iter_fill(struct store_msg_iter *it, struct ms_err *err_r)
{
	struct store *s = it->s;
	uint8_t key[8];
	MDB_val k = { 8, key }, v;
	MDB_cursor *c;
	MDB_txn *txn;
	int rc, op = MDB_SET_RANGE;
	/* Where the records were read, to drop those pages after the txn. */
	uintptr_t at[STORE_ITER_CHUNK];
	const uint8_t *base;

	it->n = it->pos = 0;
	rc = store__cursor_begin(s, STORE_DBI_MESSAGES, &txn, &c, err_r);
	if (rc < 0)
		return rc;
	base = s->map_base;
	store__msg_key(it->folder_id, it->next_uid, key);
	while (it->n < STORE_ITER_CHUNK &&
	       (rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		uint32_t fid, uid;

		op = MDB_NEXT;
		if (k.mv_size != 8)
			break;
		fid = store__get32(k.mv_data);
		uid = store__get32((uint8_t *)k.mv_data + 4);
		if (fid != it->folder_id) {
			rc = MDB_NOTFOUND;
			break;
		}
		if (store__msg_decode(fid, uid, &v, &it->chunk[it->n]) < 0) {
			rc = ms_err_set(err_r, MS_ESTORE,
					"store: bad message %u/%u", fid, uid);
			goto out;
		}
		at[it->n] = (uintptr_t)v.mv_data;
		it->n++;
		if (uid == UINT32_MAX) {
			rc = MDB_NOTFOUND;
			break;
		}
		it->next_uid = uid + 1;
	}
	if (rc == MDB_NOTFOUND)
		it->is_end = true;
	else if (rc != 0) {
		rc = store__mdb_err(s, err_r, rc, "message iteration");
		goto out;
	}
	rc = MS_OK;
out:
	store__cursor_end(s, txn, c);
	/*
	 * A walk reads each leaf once: its pages (and what the kernel maps
	 * around each fault) would pile up until the next release, at
	 * 100,000 records some 22 MB between two checks.  Dropped now, the
	 * walk holds about one chunk's worth.
	 */
	store__map_drop(s, base, at, it->n);
	return rc;
}

int
store_msg_iter_next(struct store_msg_iter *it, struct store_msg *msg_r,
		    struct ms_err *err_r)
{
	if (it->pos == it->n) {
		int rc;

		if (it->is_end)
			return STORE_NOTFOUND;
		rc = store_msg_iter_fill(it, err_r);
		if (rc < 0)
			return rc;
		if (it->n == 0)
			return STORE_NOTFOUND;
	}
	*msg_r = it->chunk[it->pos++];
	return MS_OK;
}

/* --- reverse lookups ------------------------------------------------------ */

int
store_find_by_hash(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		   struct store_msg_ref **refs_r, size_t *n_r,
		   struct ms_err *err_r)
{
	MDB_val k = { STORE_HASH_LEN, (void *)hash }, v;
	struct store_msg_ref *arr = NULL;
	size_t n = 0, cap = 0;
	MDB_cursor *c;
	MDB_txn *txn;
	int rc, op = MDB_SET;

	*refs_r = NULL;
	*n_r = 0;
	rc = store__cursor_begin(s, STORE_DBI_BODY_REFS, &txn, &c, err_r);
	if (rc < 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT_DUP;
		if (v.mv_size != 8)
			continue;
		if (store__reserve(&arr, &cap, n, sizeof(*arr), 4) < 0) {
			rc = ms_err_set(err_r, MS_ENOMEM,
					"store: out of memory");
			goto out;
		}
		arr[n].folder_id = store__get32(v.mv_data);
		arr[n].uid = store__get32((uint8_t *)v.mv_data + 4);
		n++;
	}
	rc = rc == MDB_NOTFOUND ? MS_OK :
	     store__mdb_err(s, err_r, rc, "body_refs");
out:
	store__cursor_end(s, txn, c);
	if (rc < 0) {
		free(arr);
		return rc;
	}
	*refs_r = arr;
	*n_r = n;
	return MS_OK;
}

int
store_find_by_msgid(struct store *s, const char *msgid,
		    uint8_t (**hashes_r)[STORE_HASH_LEN], size_t *n_r,
		    struct ms_err *err_r)
{
	MDB_val k = store__msgid_key(msgid), v;
	uint8_t (*arr)[STORE_HASH_LEN] = NULL;
	size_t n = 0, cap = 0;
	MDB_cursor *c;
	MDB_txn *txn;
	int rc, op = MDB_SET;

	*hashes_r = NULL;
	*n_r = 0;
	if (k.mv_size == 0)
		return MS_OK;
	rc = store__cursor_begin(s, STORE_DBI_MSGIDS, &txn, &c, err_r);
	if (rc < 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT_DUP;
		if (v.mv_size != STORE_HASH_LEN)
			continue;
		if (store__reserve(&arr, &cap, n, STORE_HASH_LEN, 4) < 0) {
			rc = ms_err_set(err_r, MS_ENOMEM,
					"store: out of memory");
			goto out;
		}
		memcpy(arr[n++], v.mv_data, STORE_HASH_LEN);
	}
	rc = rc == MDB_NOTFOUND ? MS_OK :
	     store__mdb_err(s, err_r, rc, "msgid index");
out:
	store__cursor_end(s, txn, c);
	if (rc < 0) {
		free(arr);
		return rc;
	}
	*hashes_r = arr;
	*n_r = n;
	return MS_OK;
}

/* --- pending changes, POP3 ------------------------------------------------ */

/*
 * Pending changes with seq > after_seq, oldest first, at most max, of the
 * folder folder_id (a MOVE counts for its source) or of every folder when
 * is_all.  The changes database holds pending changes only, so walking
 * it is short; it is keyed by sequence, which keeps the order changes
 * were made in.
 */
static int
store_change_scan(struct store *s, uint64_t after_seq, bool is_all,
		  uint32_t folder_id, size_t max,
		  struct store_change **changes_r, size_t *n_r,
		  struct ms_err *err_r)
{
	struct store_change *arr = NULL;
	size_t n = 0, cap = 0;
	uint8_t key[8];
	MDB_val k = { 8, key }, v;
	MDB_cursor *c;
	MDB_txn *txn;
	int rc, op = MDB_SET_RANGE;

	*changes_r = NULL;
	*n_r = 0;
	if (after_seq == UINT64_MAX || max == 0)
		return MS_OK;
	store__put64(key, after_seq + 1);
	rc = store__cursor_begin(s, STORE_DBI_CHANGES, &txn, &c, err_r);
	if (rc < 0)
		return rc;
	while (n < max && (rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != 8)
			continue;
		if (store__reserve(&arr, &cap, n, sizeof(*arr), 16) < 0) {
			rc = ms_err_set(err_r, MS_ENOMEM,
					"store: out of memory");
			goto out;
		}
		if (store__change_decode(store__get64(k.mv_data), &v,
					 &arr[n]) < 0) {
			rc = ms_err_set(err_r, MS_ESTORE,
					"store: bad change record");
			goto out;
		}
		if (is_all || arr[n].folder_id == folder_id)
			n++;
	}
	rc = (rc == MDB_NOTFOUND || rc == 0) ? MS_OK :
	     store__mdb_err(s, err_r, rc, "changes");
out:
	store__cursor_end(s, txn, c);
	if (rc < 0 || n == 0) {
		free(arr);
		return rc < 0 ? rc : MS_OK;
	}
	*changes_r = arr;
	*n_r = n;
	return MS_OK;
}

int
store_change_list(struct store *s, uint64_t after_seq, size_t max,
		  struct store_change **changes_r, size_t *n_r,
		  struct ms_err *err_r)
{
	return store_change_scan(s, after_seq, true, 0, max, changes_r, n_r,
				 err_r);
}

int
store_change_list_folder(struct store *s, uint32_t folder_id, size_t max,
			 struct store_change **changes_r, size_t *n_r,
			 struct ms_err *err_r)
{
	return store_change_scan(s, 0, false, folder_id, max, changes_r, n_r,
				 err_r);
}

/* A POP3 value: hash, fetched i64, owed u8.  False when malformed. */
static bool
store_pop3_decode(const MDB_val *v, struct store_pop3 *rec_r)
{
	const uint8_t *p = v->mv_data;

	if (v->mv_size != STORE_HASH_LEN + 9)
		return false;
	memcpy(rec_r->hash, p, STORE_HASH_LEN);
	rec_r->fetched = (int64_t)store__get64(p + STORE_HASH_LEN);
	rec_r->is_deleted = p[STORE_HASH_LEN + 8] != 0;
	return true;
}

int
store_pop3_get(struct store *s, const char *account, const char *uidl,
	       struct store_pop3 *rec_r, struct ms_err *err_r)
{
	uint8_t key[STORE_ACCOUNT_MAX + 1 + STORE_UIDL_MAX];
	size_t al = strlen(account), ul = strlen(uidl);
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	if (al == 0 || al > STORE_ACCOUNT_MAX || ul == 0 ||
	    ul > STORE_UIDL_MAX)
		return ms_err_set(err_r, MS_EINVAL, "store: bad pop3 key");
	memcpy(key, account, al);
	key[al] = '\0';
	memcpy(key + al + 1, uidl, ul);
	k = (MDB_val){ al + 1 + ul, key };
	rc = store__read_begin(s, &txn, err_r);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->dbi[STORE_DBI_POP3], &k, &v);
	if (rc == 0 && store_pop3_decode(&v, rec_r)) {
		rc = MS_OK;
	} else if (rc == 0) {
		rc = ms_err_set(err_r, MS_ESTORE, "store: bad pop3 record");
	} else if (rc == MDB_NOTFOUND) {
		rc = STORE_NOTFOUND;
	} else {
		rc = store__mdb_err(s, err_r, rc, "reading a pop3 record");
	}
	store__read_end(s, txn);
	return rc;
}

/*
 * Records between two releases of the map in store_pop3_list()'s walk.
 * The walk reads each leaf page once, and each page it faults in maps the
 * 64 KiB around it (the kernel's fault-around): without releases a
 * 5,000-message maildrop left 2.4 MB of the store mapped.
 */
#define STORE_POP3_RELEASE_EVERY 512

/*
 * One walk over the records of account (key: "account\0", al its length
 * without the NUL): counts them (*n_r) and their UIDLs' bytes (*bytes_r);
 * with v, also fills v[0..*n_r) and the UIDLs after them (v sized by a
 * count walk in the same transaction).
 */
static int
store_pop3_walk(struct store *s, MDB_cursor *c, const uint8_t *key, size_t al,
		struct store_pop3_entry *v, size_t *n_r, size_t *bytes_r,
		struct ms_err *err_r)
{
	char *at = v != NULL ? (char *)(v + *n_r) : NULL;
	MDB_val k = { al + 1, (void *)key }, val;
	size_t n = 0, bytes = 0;
	int rc, op = MDB_SET_RANGE;

	while ((rc = mdb_cursor_get(c, &k, &val, op)) == 0) {
		size_t ul = k.mv_size - al - 1;
		struct store_pop3 rec;

		op = MDB_NEXT;
		if (k.mv_size <= al + 1 || memcmp(k.mv_data, key, al + 1) != 0)
			break;
		if (ul > STORE_UIDL_MAX || !store_pop3_decode(&val, &rec) ||
		    (v != NULL && n == *n_r))
			return ms_err_set(err_r, MS_ESTORE,
					  "store: bad pop3 record");
		if (v != NULL) {
			memcpy(at, (const uint8_t *)k.mv_data + al + 1, ul);
			at[ul] = '\0';
			v[n].uidl = at;
			v[n].rec = rec;
			at += ul + 1;
		}
		n++;
		bytes += ul + 1;
		if (n % STORE_POP3_RELEASE_EVERY == 0)
			store__map_release(s);
	}
	if (rc != MDB_NOTFOUND && rc != 0)
		return store__mdb_err(s, err_r, rc, "pop3 records");
	*n_r = n;
	*bytes_r = bytes;
	return MS_OK;
}

int
store_pop3_list(struct store *s, const char *account,
		struct store_pop3_entry **v_r, size_t *n_r,
		struct ms_err *err_r)
{
	struct store_pop3_entry *v = NULL;
	size_t n = 0, bytes = 0, al = strlen(account);
	uint8_t key[STORE_ACCOUNT_MAX + 1];
	MDB_cursor *c;
	MDB_txn *txn;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (al == 0 || al > STORE_ACCOUNT_MAX)
		return ms_err_set(err_r, MS_EINVAL, "store: bad pop3 account");
	memcpy(key, account, al);
	key[al] = '\0';
	rc = store__cursor_begin(s, STORE_DBI_POP3, &txn, &c, err_r);
	if (rc < 0)
		return rc;
	/* Counted first, then filled into one block of the exact size: a
	 * growing array would hold up to twice the room at its peak. */
	if ((rc = store_pop3_walk(s, c, key, al, NULL, &n, &bytes,
				  err_r)) < 0 || n == 0)
		goto out;
	if (n > (SIZE_MAX - bytes) / sizeof(*v) ||
	    (v = malloc(n * sizeof(*v) + bytes)) == NULL) {
		rc = ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
		goto out;
	}
	rc = store_pop3_walk(s, c, key, al, v, &n, &bytes, err_r);
out:
	store__cursor_end(s, txn, c);
	/* The pages read since the walk's last release are read no more:
	 * not left mapped beside the copy (up to 0.6 MB of them at 5,000
	 * records, the POP3 pass's peak with nothing new). */
	if (n > 0)
		store__map_release(s);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*v_r = v;
	*n_r = n;
	return MS_OK;
}

/* --- leftovers ------------------------------------------------------------ */

int
store_leftover_list(struct store *s, uint32_t folder_id,
		    struct store_leftover **v_r, size_t *n_r,
		    struct ms_err *err_r)
{
	struct store_leftover *arr = NULL;
	size_t n = 0, cap = 0;
	uint8_t key[4];
	MDB_val k = { 4, key }, v;
	MDB_cursor *c;
	MDB_txn *txn;
	int rc, op = MDB_SET_RANGE;

	*v_r = NULL;
	*n_r = 0;
	store__folder_key(folder_id, key);
	rc = store__cursor_begin(s, STORE_DBI_LEFTOVERS, &txn, &c, err_r);
	if (rc < 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size < 4 || memcmp(k.mv_data, key, 4) != 0)
			break;
		if (k.mv_size == 4 || k.mv_size > 4 + STORE_MIRROR_NAME_MAX ||
		    v.mv_size != STORE_HASH_LEN) {
			rc = ms_err_set(err_r, MS_ESTORE,
					"store: bad leftover record");
			goto out;
		}
		if (store__reserve(&arr, &cap, n, sizeof(*arr), 16) < 0) {
			rc = ms_err_set(err_r, MS_ENOMEM,
					"store: out of memory");
			goto out;
		}
		memcpy(arr[n].part, (uint8_t *)k.mv_data + 4, k.mv_size - 4);
		arr[n].part[k.mv_size - 4] = '\0';
		memcpy(arr[n].hash, v.mv_data, STORE_HASH_LEN);
		n++;
	}
	rc = (rc == MDB_NOTFOUND || rc == 0) ? MS_OK :
	     store__mdb_err(s, err_r, rc, "leftovers");
out:
	store__cursor_end(s, txn, c);
	if (rc < 0) {
		free(arr);
		return rc;
	}
	*v_r = arr;
	*n_r = n;
	return MS_OK;
}

/* --- consistency check ---------------------------------------------------- */

struct store_check_ctx {
	struct store *s;
	MDB_txn *txn;
	struct ms_err *err_r;
	uint8_t (*refs)[STORE_HASH_LEN];
	size_t n_refs, cap_refs;
};

static int
store_check_push(struct store_check_ctx *x, const uint8_t *hash)
{
	if (store__reserve(&x->refs, &x->cap_refs, x->n_refs,
			   STORE_HASH_LEN, 1024) < 0)
		return ms_err_set(x->err_r, MS_ENOMEM, "store: out of memory");
	memcpy(x->refs[x->n_refs++], hash, STORE_HASH_LEN);
	return MS_OK;
}

static int
store_check_hashcmp(const void *a, const void *b)
{
	return memcmp(a, b, STORE_HASH_LEN);
}

static int
store_check_fail(struct store_check_ctx *x, const char *what,
		 const uint8_t *hash, uint32_t a, uint32_t b)
{
	char hex[17] = "";

	if (hash != NULL)
		for (int i = 0; i < 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	return ms_err_set(x->err_r, MS_ESTORE, "store check: %s %s (%u, %u)",
			  what, hex, a, b);
}

/* Walks the message records: folders exist, counts, body_refs. */
static int
store_check_messages(struct store_check_ctx *x, size_t *n_msgs_r)
{
	struct store *s = x->s;
	MDB_cursor *c, *rc_cur;
	MDB_val k, v;
	uint32_t cur_fid = 0, count = 0;
	bool have_folder = false;
	struct store_folder f;
	int rc, op = MDB_FIRST;
	size_t n = 0;

	if ((rc = mdb_cursor_open(x->txn, s->dbi[STORE_DBI_MESSAGES], &c)))
		return store__mdb_err(s, x->err_r, rc, "check");
	if ((rc = mdb_cursor_open(x->txn, s->dbi[STORE_DBI_BODY_REFS],
				  &rc_cur))) {
		mdb_cursor_close(c);
		return store__mdb_err(s, x->err_r, rc, "check");
	}
	for (;;) {
		uint32_t fid = 0, uid;
		bool is_end;

		rc = mdb_cursor_get(c, &k, &v, op);
		op = MDB_NEXT;
		if (rc != 0 && rc != MDB_NOTFOUND) {
			rc = store__mdb_err(s, x->err_r, rc, "check");
			goto out;
		}
		is_end = rc == MDB_NOTFOUND;
		if (!is_end) {
			if (k.mv_size != 8) {
				rc = store_check_fail(x, "bad message key",
						      NULL, 0, 0);
				goto out;
			}
			fid = store__get32(k.mv_data);
		}
		if (have_folder && (is_end || fid != cur_fid) &&
		    f.local_count != count) {
			rc = store_check_fail(x, "folder count wrong", NULL,
					      f.local_count, count);
			goto out;
		}
		if (is_end)
			break;
		if (!have_folder || fid != cur_fid) {
			uint8_t fkey[4];
			MDB_val fk = { 4, fkey }, fv;

			store__folder_key(fid, fkey);
			rc = mdb_get(x->txn, s->dbi[STORE_DBI_FOLDERS], &fk,
				     &fv);
			if (rc != 0 ||
			    store__folder_decode(fid, &fv, &f) < 0) {
				rc = store_check_fail(x, "message of a missing "
						      "folder", NULL, fid, 0);
				goto out;
			}
			have_folder = true;
			cur_fid = fid;
			count = 0;
		}
		uid = store__get32((uint8_t *)k.mv_data + 4);
		if (v.mv_size < STORE__MSG_FIXED) {
			rc = store_check_fail(x, "bad message record", NULL,
					      fid, uid);
			goto out;
		}
		{
			MDB_val hk = { STORE_HASH_LEN, v.mv_data };
			MDB_val ref = k;

			rc = mdb_cursor_get(rc_cur, &hk, &ref, MDB_GET_BOTH);
			if (rc != 0) {
				rc = store_check_fail(x, "no body_refs entry "
						      "for message",
						      v.mv_data, fid, uid);
				goto out;
			}
		}
		rc = store_check_push(x, v.mv_data);
		if (rc < 0)
			goto out;
		count++;
		n++;
	}
	rc = MS_OK;
	*n_msgs_r = n;
out:
	mdb_cursor_close(rc_cur);
	mdb_cursor_close(c);
	return rc;
}

/* Collects the hashes held by pending APPENDs, POP3 records, the outbox
 * and leftovers. */
static int
store_check_other_refs(struct store_check_ctx *x)
{
	struct store *s = x->s;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, op;

	if ((rc = mdb_cursor_open(x->txn, s->dbi[STORE_DBI_CHANGES], &c)))
		return store__mdb_err(s, x->err_r, rc, "check");
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		struct store_change ch;

		if (store__change_decode(0, &v, &ch) < 0) {
			mdb_cursor_close(c);
			return store_check_fail(x, "bad change", NULL, 0, 0);
		}
		if (ch.kind == STORE_CHANGE_APPEND &&
		    (rc = store_check_push(x, ch.hash)) < 0) {
			mdb_cursor_close(c);
			return rc;
		}
	}
	mdb_cursor_close(c);
	if ((rc = mdb_cursor_open(x->txn, s->dbi[STORE_DBI_POP3], &c)))
		return store__mdb_err(s, x->err_r, rc, "check");
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		if (v.mv_size != STORE_HASH_LEN + 9) {
			mdb_cursor_close(c);
			return store_check_fail(x, "bad pop3 record", NULL,
						0, 0);
		}
		if ((rc = store_check_push(x, v.mv_data)) < 0) {
			mdb_cursor_close(c);
			return rc;
		}
	}
	mdb_cursor_close(c);
	if ((rc = mdb_cursor_open(x->txn, s->dbi[STORE_DBI_OUTBOX], &c)))
		return store__mdb_err(s, x->err_r, rc, "check");
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		struct store_outbox e;

		if (store__outbox_decode(0, v.mv_data, v.mv_size, &e) < 0) {
			mdb_cursor_close(c);
			return store_check_fail(x, "bad outbox entry", NULL,
						0, 0);
		}
		rc = store_check_push(x, e.hash);
		store_outbox_deinit(&e);
		if (rc < 0) {
			mdb_cursor_close(c);
			return rc;
		}
	}
	mdb_cursor_close(c);
	if ((rc = mdb_cursor_open(x->txn, s->dbi[STORE_DBI_LEFTOVERS], &c)))
		return store__mdb_err(s, x->err_r, rc, "check");
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		if (k.mv_size <= 4 || v.mv_size != STORE_HASH_LEN) {
			mdb_cursor_close(c);
			return store_check_fail(x, "bad leftover", NULL, 0, 0);
		}
		if ((rc = store_check_push(x, v.mv_data)) < 0) {
			mdb_cursor_close(c);
			return rc;
		}
	}
	mdb_cursor_close(c);
	return MS_OK;
}

/* The body's bytes (value body, size bytes: compressed or not) hash to
 * hash. */
static int
store_check_rehash(struct store_check_ctx *x, const MDB_val *body,
		   uint64_t size, const uint8_t *hash)
{
	struct body_hasher h;
	uint8_t md[STORE_HASH_LEN], *piece = NULL;
	int rc = MS_OK;

	if (!store__zbody_is(body->mv_size, size)) {
		if (body_hash(body->mv_data, body->mv_size, md) != MS_OK)
			return ms_err_set(x->err_r, MS_EINTERNAL,
					  "store check: SHA-256 failed");
	} else {
		if ((piece = malloc(STORE__ZPIECE)) == NULL)
			return ms_err_set(x->err_r, MS_ENOMEM,
					  "store check: out of memory");
		if (body_hash_init(&h) != MS_OK) {
			free(piece);
			return ms_err_set(x->err_r, MS_EINTERNAL,
					  "store check: SHA-256 failed");
		}
		for (uint64_t off = 0; rc == MS_OK && off < size;) {
			size_t n = 0;

			if (store__zbody_read(x->s, body, size, off, piece,
					      STORE__ZPIECE, &n, NULL) != MS_OK ||
			    n == 0) {
				rc = store_check_fail(x, "compressed body "
						      "damaged", hash, 0, 0);
				break;
			}
			if (body_hash_update(&h, piece, n) != MS_OK)
				rc = ms_err_set(x->err_r, MS_EINTERNAL,
						"store check: SHA-256 failed");
			off += n;
		}
		if (rc == MS_OK && body_hash_final(&h, md) != MS_OK)
			rc = ms_err_set(x->err_r, MS_EINTERNAL,
					"store check: SHA-256 failed");
		body_hash_deinit(&h);
		free(piece);
		if (rc != MS_OK)
			return rc;
	}
	if (memcmp(md, hash, STORE_HASH_LEN) != 0)
		return store_check_fail(x, "body does not match its hash",
					hash, 0, 0);
	return MS_OK;
}

/* Merges the sorted reference list with body_info (same key order). */
static int
store_check_bodies(struct store_check_ctx *x, unsigned flags)
{
	struct store *s = x->s;
	MDB_cursor *c;
	MDB_val k, v;
	size_t r = 0;
	int rc, op;

	if (x->n_refs > 1)
		qsort(x->refs, x->n_refs, STORE_HASH_LEN, store_check_hashcmp);
	if ((rc = mdb_cursor_open(x->txn, s->dbi[STORE_DBI_BODY_INFO], &c)))
		return store__mdb_err(s, x->err_r, rc, "check");
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		MDB_val bv, sv;
		uint32_t refs, counted = 0;
		uint64_t size;

		if (k.mv_size != STORE_HASH_LEN ||
		    v.mv_size != STORE__INFO_LEN) {
			rc = store_check_fail(x, "bad body_info", NULL, 0, 0);
			goto out;
		}
		if (r < x->n_refs && memcmp(x->refs[r], k.mv_data,
					    STORE_HASH_LEN) < 0) {
			rc = store_check_fail(x, "referenced body missing",
					      x->refs[r], 0, 0);
			goto out;
		}
		while (r < x->n_refs &&
		       memcmp(x->refs[r], k.mv_data, STORE_HASH_LEN) == 0) {
			counted++;
			r++;
		}
		refs = store__get32(v.mv_data);
		if (counted == 0) {
			rc = store_check_fail(x, "orphaned body", k.mv_data,
					      refs, 0);
			goto out;
		}
		if (refs != counted) {
			rc = store_check_fail(x, "refcount wrong", k.mv_data,
					      refs, counted);
			goto out;
		}
		size = store__get64((uint8_t *)v.mv_data + 4);
		rc = mdb_get(x->txn, s->dbi[STORE_DBI_BODIES], &k, &bv);
		if (rc != 0 || bv.mv_size > size) {
			rc = store_check_fail(x, "body bytes missing or of "
					      "the wrong size", k.mv_data,
					      0, 0);
			goto out;
		}
		if (store__zbody_is(bv.mv_size, size) &&
		    store__zbody_check(s, &bv, size, NULL) != MS_OK) {
			rc = store_check_fail(x, "compressed body damaged",
					      k.mv_data, 0, 0);
			goto out;
		}
		if ((flags & STORE_CHECK_HASHES) &&
		    (rc = store_check_rehash(x, &bv, size, k.mv_data)) < 0)
			goto out;
		rc = mdb_get(x->txn, s->dbi[STORE_DBI_SUMMARIES], &k, &sv);
		if (rc != 0) {
			rc = store_check_fail(x, "summary missing", k.mv_data,
					      0, 0);
			goto out;
		}
	}
	if (rc != MDB_NOTFOUND) {
		rc = store__mdb_err(s, x->err_r, rc, "check");
		goto out;
	}
	if (r < x->n_refs) {
		rc = store_check_fail(x, "referenced body missing",
				      x->refs[r], 0, 0);
		goto out;
	}
	rc = MS_OK;
out:
	mdb_cursor_close(c);
	return rc;
}

int
store_check(struct store *s, unsigned flags, struct ms_err *err_r)
{
	struct store_check_ctx x = { .s = s, .err_r = err_r };
	MDB_stat st_info, st_bodies, st_sum, st_refs;
	size_t n_msgs = 0;
	int rc;

	rc = store__read_begin(s, &x.txn, err_r);
	if (rc < 0)
		return rc;
	if ((rc = store_check_messages(&x, &n_msgs)) < 0 ||
	    (rc = store_check_other_refs(&x)) < 0 ||
	    (rc = store__refusals_check(s, x.txn, err_r)) < 0 ||
	    (rc = store_check_bodies(&x, flags)) < 0)
		goto out;
	/* Every body_info key was matched above; equal entry counts then
	 * mean no extra bodies, summaries or body_refs exist. */
	if ((rc = mdb_stat(x.txn, s->dbi[STORE_DBI_BODY_INFO], &st_info)) ||
	    (rc = mdb_stat(x.txn, s->dbi[STORE_DBI_BODIES], &st_bodies)) ||
	    (rc = mdb_stat(x.txn, s->dbi[STORE_DBI_SUMMARIES], &st_sum)) ||
	    (rc = mdb_stat(x.txn, s->dbi[STORE_DBI_BODY_REFS], &st_refs))) {
		rc = store__mdb_err(s, err_r, rc, "check stat");
		goto out;
	}
	if (st_bodies.ms_entries != st_info.ms_entries) {
		rc = store_check_fail(&x, "orphaned body bytes", NULL,
				      (uint32_t)st_bodies.ms_entries,
				      (uint32_t)st_info.ms_entries);
		goto out;
	}
	if (st_sum.ms_entries != st_info.ms_entries) {
		rc = store_check_fail(&x, "orphaned summaries", NULL,
				      (uint32_t)st_sum.ms_entries,
				      (uint32_t)st_info.ms_entries);
		goto out;
	}
	if (st_refs.ms_entries != n_msgs) {
		rc = store_check_fail(&x, "stale body_refs entries", NULL,
				      (uint32_t)st_refs.ms_entries,
				      (uint32_t)n_msgs);
		goto out;
	}
	rc = MS_OK;
out:
	store__read_end(s, x.txn);
	free(x.refs);
	return rc;
}

/* --- testing faults ------------------------------------------------------- */

struct store_fault_arg {
	enum store_testing_fault fault;
	const uint8_t *hash;
};

static int
store_fault_txn(struct store *s, MDB_txn *txn, void *arg,
		struct ms_err *err_r)
{
	struct store_fault_arg *a = arg;
	MDB_val k = { STORE_HASH_LEN, (void *)a->hash }, v;
	uint8_t info[STORE__INFO_LEN], orphan[STORE_HASH_LEN];
	static const char bytes[] = "orphan";
	const char *meta_key = "schema_version";
	MDB_val mk = { strlen(meta_key), (void *)meta_key };
	uint8_t ver[4];
	int rc = 0;

	switch (a->fault) {
	case STORE_TESTING_DROP_BODY:
		rc = mdb_del(txn, s->dbi[STORE_DBI_BODIES], &k, NULL);
		break;
	case STORE_TESTING_BUMP_REFCOUNT:
		rc = mdb_get(txn, s->dbi[STORE_DBI_BODY_INFO], &k, &v);
		if (rc != 0 || v.mv_size != STORE__INFO_LEN)
			break;
		memcpy(info, v.mv_data, sizeof(info));
		store__put32(info, store__get32(info) + 1);
		v = (MDB_val){ sizeof(info), info };
		rc = mdb_put(txn, s->dbi[STORE_DBI_BODY_INFO], &k, &v, 0);
		break;
	case STORE_TESTING_ORPHAN_BODY:
		memset(orphan, 0xee, sizeof(orphan));
		k = (MDB_val){ sizeof(orphan), orphan };
		v = (MDB_val){ sizeof(bytes) - 1, (void *)bytes };
		rc = mdb_put(txn, s->dbi[STORE_DBI_BODIES], &k, &v, 0);
		break;
	case STORE_TESTING_SCHEMA_V1:
		/* Version 1 had no body_refs index. */
		rc = mdb_drop(txn, s->dbi[STORE_DBI_BODY_REFS], 0);
		if (rc != 0)
			break;
		store__put32(ver, 1);
		v = (MDB_val){ 4, ver };
		rc = mdb_put(txn, s->dbi[STORE_DBI_META], &mk, &v, 0);
		break;
	case STORE_TESTING_SCHEMA_FUTURE:
		store__put32(ver, 9999);
		v = (MDB_val){ 4, ver };
		rc = mdb_put(txn, s->dbi[STORE_DBI_META], &mk, &v, 0);
		break;
	}
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "testing fault");
	return MS_OK;
}

int
store_testing_fault(struct store *s, enum store_testing_fault fault,
		    const uint8_t hash[STORE_HASH_LEN], struct ms_err *err_r)
{
	static const uint8_t zero[STORE_HASH_LEN];
	struct store_fault_arg a = { fault, hash != NULL ? hash : zero };

	return store__write(s, store_fault_txn, &a, err_r);
}
