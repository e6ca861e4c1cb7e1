/*
 * store_refusal.c - pending APPENDs held back (store.h, "refusals"): the
 * server refused the message, or it cannot be sent to this server, or it
 * went out in a form the server may alter.  Kept next to the pending change,
 * keyed by its sequence, so the engine does not send it again every pass
 * and status can name it; a refusal goes with its change (cleared in the
 * same transaction), and the user's retry clears the refusals.
 *
 * Value: kind u8, folder id u32, time i64, then the text (no NUL), then,
 * when the sent form is recorded, NUL, the form u8 and for
 * STORE_SENT_CRLF the hash of the bytes sent.  The whole stays within
 * the size a text alone could take, so a reader of before takes the
 * trailer for the end of its text.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define STORE_REFUSAL_FIXED 13
/* NUL, form, hash */
#define STORE_REFUSAL_TRAILER (2 + STORE_HASH_LEN)

static int
store_refusal_decode(uint64_t seq, const MDB_val *v, struct store_refusal *r)
{
	const uint8_t *p = v->mv_data;
	size_t n;

	if (v->mv_size < STORE_REFUSAL_FIXED ||
	    v->mv_size > STORE_REFUSAL_FIXED + STORE_REFUSAL_TEXT_MAX ||
	    p[0] < STORE_REFUSAL_REFUSED || p[0] > STORE_REFUSAL_ALTERED)
		return MS_ESTORE;
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->kind = (enum store_refusal_kind)p[0];
	r->folder_id = store__get32(p + 1);
	r->when = (int64_t)store__get64(p + 5);
	n = v->mv_size - STORE_REFUSAL_FIXED;
	memcpy(r->text, p + STORE_REFUSAL_FIXED, n);
	r->text[n] = '\0';
	/* The trailer: after the text's NUL, the form and maybe a hash. */
	p += STORE_REFUSAL_FIXED;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\0')
			continue;
		if (i + 2 == n && p[i + 1] == STORE_SENT_BODY)
			r->sent_form = STORE_SENT_BODY;
		else if (i + 2 + STORE_HASH_LEN == n &&
			 p[i + 1] == STORE_SENT_CRLF) {
			r->sent_form = STORE_SENT_CRLF;
			memcpy(r->sent_hash, p + i + 2, STORE_HASH_LEN);
		} else {
			return MS_ESTORE;
		}
		break;
	}
	return MS_OK;
}

int
store_refusal_list(struct store *s, uint32_t folder_id,
		   struct store_refusal **v_r, size_t *n_r,
		   struct ms_err *err_r)
{
	struct store_refusal *arr = NULL, r;
	size_t n = 0, cap = 0;
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	*v_r = NULL;
	*n_r = 0;
	rc = store__cursor_begin(s, STORE_DBI_REFUSALS, &txn, &c, err_r);
	if (rc < 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != 8 ||
		    store_refusal_decode(store__get64(k.mv_data), &v, &r) < 0) {
			rc = ms_err_set(err_r, MS_ESTORE,
					"store: bad refusal record");
			goto out;
		}
		if (folder_id != 0 && r.folder_id != folder_id)
			continue;
		if (store__reserve(&arr, &cap, n, sizeof(*arr), 8) < 0) {
			rc = ms_err_set(err_r, MS_ENOMEM,
					"store: out of memory");
			goto out;
		}
		arr[n++] = r;
	}
	rc = rc == MDB_NOTFOUND ? MS_OK :
	     store__mdb_err(s, err_r, rc, "refusals");
out:
	store__cursor_end(s, txn, c);
	if (rc < 0 || n == 0) {
		free(arr);
		return rc < 0 ? rc : MS_OK;
	}
	*v_r = arr;
	*n_r = n;
	return MS_OK;
}

int
store__refusal_put(struct store *s, MDB_txn *txn,
		   const struct store_refusal *r, struct ms_err *err_r)
{
	uint8_t key[8], val[STORE_REFUSAL_FIXED + STORE_REFUSAL_TEXT_MAX];
	size_t n = strnlen(r->text, STORE_REFUSAL_TEXT_MAX);
	MDB_val k = { 8, key }, v;
	int rc;

	if (r->sent_form != STORE_SENT_UNKNOWN &&
	    n > STORE_REFUSAL_TEXT_MAX - STORE_REFUSAL_TRAILER)
		n = STORE_REFUSAL_TEXT_MAX - STORE_REFUSAL_TRAILER;

	store__put64(key, r->seq);
	/* Only for a change that is still pending: one cleared meanwhile
	 * (by the same batch, say) leaves nothing behind. */
	rc = mdb_get(txn, s->dbi[STORE_DBI_CHANGES], &k, &(MDB_val){ 0 });
	if (rc == MDB_NOTFOUND)
		return MS_OK;
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading a change");
	val[0] = (uint8_t)r->kind;
	store__put32(val + 1, r->folder_id);
	store__put64(val + 5, (uint64_t)r->when);
	memcpy(val + STORE_REFUSAL_FIXED, r->text, n);
	v.mv_size = STORE_REFUSAL_FIXED + n;
	if (r->sent_form != STORE_SENT_UNKNOWN) {
		val[v.mv_size++] = '\0';
		val[v.mv_size++] = (uint8_t)r->sent_form;
	}
	if (r->sent_form == STORE_SENT_CRLF) {
		memcpy(val + v.mv_size, r->sent_hash, STORE_HASH_LEN);
		v.mv_size += STORE_HASH_LEN;
	}
	v.mv_data = val;
	rc = mdb_put(txn, s->dbi[STORE_DBI_REFUSALS], &k, &v, 0);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "writing a refusal");
	return MS_OK;
}

int
store__refusal_del(struct store *s, MDB_txn *txn, uint64_t seq,
		   struct ms_err *err_r)
{
	uint8_t key[8];
	MDB_val k = { 8, key };
	int rc;

	store__put64(key, seq);
	rc = mdb_del(txn, s->dbi[STORE_DBI_REFUSALS], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store__mdb_err(s, err_r, rc, "clearing a refusal");
	return MS_OK;
}

int
store__refusals_clear(struct store *s, MDB_txn *txn, uint32_t folder_id,
		      struct ms_err *err_r)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	rc = mdb_cursor_open(txn, s->dbi[STORE_DBI_REFUSALS], &c);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "refusal cursor");
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		struct store_refusal r;

		op = MDB_NEXT;
		if (k.mv_size != 8 ||
		    store_refusal_decode(store__get64(k.mv_data), &v, &r) < 0) {
			mdb_cursor_close(c);
			return ms_err_set(err_r, MS_ESTORE,
					  "store: bad refusal record");
		}
		/* An altered copy is on the server: sending it again
		 * would make a second one. */
		if (r.kind == STORE_REFUSAL_ALTERED ||
		    (folder_id != 0 && r.folder_id != folder_id))
			continue;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return store__mdb_err(s, err_r, rc, "clearing refusals");
	return MS_OK;
}

int
store__refusals_check(struct store *s, MDB_txn *txn, struct ms_err *err_r)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	rc = mdb_cursor_open(txn, s->dbi[STORE_DBI_REFUSALS], &c);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "check");
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		struct store_refusal r;
		struct store_change ch;
		MDB_val cv;

		op = MDB_NEXT;
		if (k.mv_size != 8 ||
		    store_refusal_decode(store__get64(k.mv_data), &v, &r) < 0) {
			rc = ms_err_set(err_r, MS_ESTORE,
					"store check: bad refusal record");
			break;
		}
		rc = mdb_get(txn, s->dbi[STORE_DBI_CHANGES], &k, &cv);
		if (rc == 0 && (store__change_decode(r.seq, &cv, &ch) < 0 ||
				ch.kind != STORE_CHANGE_APPEND ||
				ch.folder_id != r.folder_id))
			rc = MDB_NOTFOUND;
		if (rc != 0) {
			rc = ms_err_set(err_r, MS_ESTORE, "store check: "
					"refusal %llu without its pending "
					"APPEND",
					(unsigned long long)r.seq);
			break;
		}
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return MS_OK;
	return rc < 0 ? rc : store__mdb_err(s, err_r, rc, "check");
}
