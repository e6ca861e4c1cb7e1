/*
 * store_batch.c - batched writes: operations collected in memory, applied
 * in one write transaction, body refcounts kept on the way.
 */
#include "store/store_int.h"
#include "store/store_zbody.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum store_op_kind {
	STORE_OP_MSG_ADD,
	STORE_OP_MSG_FLAGS,
	STORE_OP_MSG_MIRROR,
	STORE_OP_MSG_EXPUNGE,
	STORE_OP_FOLDER_STATE,
	STORE_OP_FOLDER_DELETE,
	STORE_OP_CHANGE_ADD,
	STORE_OP_CHANGE_CLEAR,
	STORE_OP_POP3_PUT,
	STORE_OP_POP3_DELETE,
	STORE_OP_OUTBOX_ADD,
	STORE_OP_OUTBOX_UPDATE,
	STORE_OP_OUTBOX_SET,
	STORE_OP_OUTBOX_DELETE,
	STORE_OP_LEFTOVER_CLEAR,
	STORE_OP_REFUSAL_PUT,
	STORE_OP_REFUSALS_CLEAR,
};

#define STORE_POP3_KEY_MAX (STORE_ACCOUNT_MAX + 1 + STORE_UIDL_MAX)

struct store_op {
	enum store_op_kind kind;
	uint32_t folder_id;
	uint32_t uid_lo, uid_hi;
	struct store_body *body;	/* owned; MSG_ADD, CHANGE_ADD, POP3_PUT,
					 * OUTBOX_ADD */
	uint8_t *data;		/* owned: outbox value or error text */
	size_t data_len;
	union {
		struct store_msg msg;	/* MSG_ADD, _FLAGS, _MIRROR;
					 * LEFTOVER_CLEAR: the part in
					 * mirror_name */
		struct {
			struct store_folder_state state;
			unsigned mask;
		} fs;
		struct store_change change;
		struct store_refusal refusal;
		uint64_t seq;
		struct {
			struct store_pop3 rec;
			uint8_t key[STORE_POP3_KEY_MAX];
			size_t key_len;
		} pop3;
		struct {
			uint64_t id;
			uint8_t hash[STORE_HASH_LEN];
			enum store_outbox_state state;
			uint32_t attempts;
			int64_t next_attempt;
		} outbox;
	} u;
};

struct store_batch {
	struct store *s;
	struct store_op *ops;
	size_t n, cap;
	size_t mem;		/* bytes of bodies below the spool threshold */
	size_t commit_mem;	/* bytes of all bodies: the commit's memory */
};

/* Per-commit state: counters, folder count deltas, bodies that hit 0. */
struct store_folder_delta {
	uint32_t folder_id;
	int64_t delta;
	bool is_gone;
};

struct store_commit {
	struct store_batch *b;
	uint64_t local_seq, change_seq;
	struct store_folder_delta *folders;
	size_t n_folders, cap_folders;
	uint8_t (*zero)[STORE_HASH_LEN];
	size_t n_zero, cap_zero;
};

int
store_batch_new(struct store *s, struct store_batch **b_r)
{
	struct store_batch *b = calloc(1, sizeof(*b));

	*b_r = b;
	if (b == NULL)
		return MS_ENOMEM;
	b->s = s;
	return MS_OK;
}

static void
store_batch_clear(struct store_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		store_body_free(&b->ops[i].body);
		free(b->ops[i].data);
	}
	b->n = 0;
	b->mem = 0;
	b->commit_mem = 0;
}

void
store_batch_free(struct store_batch **bp)
{
	struct store_batch *b = *bp;

	if (b == NULL)
		return;
	*bp = NULL;
	store_batch_clear(b);
	free(b->ops);
	free(b);
}

size_t
store_batch_count(const struct store_batch *b)
{
	return b->n;
}

size_t
store_batch_mem(const struct store_batch *b)
{
	return b->mem;
}

size_t
store_batch_commit_mem(const struct store_batch *b)
{
	return b->commit_mem;
}

/* A new zeroed operation, or NULL (body is then freed). */
static struct store_op *
store_batch_push(struct store_batch *b, enum store_op_kind kind,
		 struct store_body *body)
{
	struct store_op *op;

	if (store__reserve(&b->ops, &b->cap, b->n, sizeof(*b->ops), 64) < 0) {
		store_body_free(&body);
		return NULL;
	}
	op = &b->ops[b->n++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->body = body;
	/* Bodies below the spool threshold wait in memory; the commit
	 * copies them into LMDB's dirty pages in memory too.  Large bodies
	 * (own spool files) count in commit_mem only. */
	if (body != NULL && body->fd < 0)
		b->mem += body->size;
	if (body != NULL)
		b->commit_mem += body->size;
	return op;
}

int
store_batch_msg_add(struct store_batch *b, const struct store_msg *msg,
		    struct store_body *body)
{
	struct store_op *op = store_batch_push(b, STORE_OP_MSG_ADD, body);

	if (op == NULL)
		return MS_ENOMEM;
	op->u.msg = *msg;
	op->u.msg.mirror_name[STORE_MIRROR_NAME_MAX] = '\0';
	op->folder_id = msg->folder_id;
	if (body != NULL) {
		memcpy(op->u.msg.hash, body->hash, STORE_HASH_LEN);
		op->u.msg.size = body->size;
	}
	return MS_OK;
}

int
store_batch_msg_flags(struct store_batch *b, uint32_t folder_id, uint32_t uid,
		      uint32_t flags, uint32_t synced_flags, uint64_t modseq)
{
	struct store_op *op = store_batch_push(b, STORE_OP_MSG_FLAGS, NULL);

	if (op == NULL)
		return MS_ENOMEM;
	op->folder_id = folder_id;
	op->u.msg.uid = uid;
	op->u.msg.flags = flags;
	op->u.msg.synced_flags = synced_flags;
	op->u.msg.modseq = modseq;
	return MS_OK;
}

int
store_batch_msg_mirror(struct store_batch *b, uint32_t folder_id,
		       uint32_t uid, const char *mirror_name)
{
	size_t n = strlen(mirror_name);
	struct store_op *op;

	if (n > STORE_MIRROR_NAME_MAX)
		return MS_EINVAL;
	op = store_batch_push(b, STORE_OP_MSG_MIRROR, NULL);
	if (op == NULL)
		return MS_ENOMEM;
	op->folder_id = folder_id;
	op->u.msg.uid = uid;
	memcpy(op->u.msg.mirror_name, mirror_name, n + 1);
	return MS_OK;
}

int
store_batch_msg_expunge(struct store_batch *b, uint32_t folder_id,
			uint32_t uid_lo, uint32_t uid_hi)
{
	struct store_op *op;

	if (uid_lo > uid_hi)
		return MS_EINVAL;
	op = store_batch_push(b, STORE_OP_MSG_EXPUNGE, NULL);
	if (op == NULL)
		return MS_ENOMEM;
	op->folder_id = folder_id;
	op->uid_lo = uid_lo;
	op->uid_hi = uid_hi;
	return MS_OK;
}

int
store_batch_folder_state(struct store_batch *b, uint32_t folder_id,
			 const struct store_folder_state *state, unsigned mask)
{
	struct store_op *op = store_batch_push(b, STORE_OP_FOLDER_STATE, NULL);

	if (op == NULL)
		return MS_ENOMEM;
	op->folder_id = folder_id;
	op->u.fs.state = *state;
	op->u.fs.mask = mask;
	return MS_OK;
}

int
store_batch_folder_delete(struct store_batch *b, uint32_t folder_id)
{
	struct store_op *op = store_batch_push(b, STORE_OP_FOLDER_DELETE, NULL);

	if (op == NULL)
		return MS_ENOMEM;
	op->folder_id = folder_id;
	return MS_OK;
}

int
store_batch_change_add(struct store_batch *b, const struct store_change *c,
		       struct store_body *body)
{
	struct store_op *op;

	if (c->kind < STORE_CHANGE_FLAGS || c->kind > STORE_CHANGE_MOVE) {
		store_body_free(&body);
		return MS_EINVAL;
	}
	op = store_batch_push(b, STORE_OP_CHANGE_ADD, body);
	if (op == NULL)
		return MS_ENOMEM;
	op->u.change = *c;
	if (body != NULL)
		memcpy(op->u.change.hash, body->hash, STORE_HASH_LEN);
	return MS_OK;
}

int
store_batch_change_clear(struct store_batch *b, uint64_t seq)
{
	struct store_op *op = store_batch_push(b, STORE_OP_CHANGE_CLEAR, NULL);

	if (op == NULL)
		return MS_ENOMEM;
	op->u.seq = seq;
	return MS_OK;
}

int
store_batch_refusal_put(struct store_batch *b, const struct store_refusal *r)
{
	struct store_op *op;

	if (r->kind < STORE_REFUSAL_REFUSED || r->kind > STORE_REFUSAL_ALTERED)
		return MS_EINVAL;
	if ((op = store_batch_push(b, STORE_OP_REFUSAL_PUT, NULL)) == NULL)
		return MS_ENOMEM;
	op->u.refusal = *r;
	op->u.refusal.text[STORE_REFUSAL_TEXT_MAX] = '\0';
	return MS_OK;
}

int
store_batch_refusals_clear(struct store_batch *b, uint32_t folder_id)
{
	struct store_op *op;

	if ((op = store_batch_push(b, STORE_OP_REFUSALS_CLEAR, NULL)) == NULL)
		return MS_ENOMEM;
	op->folder_id = folder_id;
	return MS_OK;
}

int
store__leftover_key(uint32_t folder_id, const char *part, size_t len,
		    uint8_t *key, size_t *len_r)
{
	if (len == 0 || len > STORE_MIRROR_NAME_MAX)
		return MS_EINVAL;
	store__folder_key(folder_id, key);
	memcpy(key + 4, part, len);
	*len_r = 4 + len;
	return MS_OK;
}

int
store_batch_leftover_clear(struct store_batch *b, uint32_t folder_id,
			   const char *part)
{
	size_t n = strlen(part);
	struct store_op *op;

	if (n == 0 || n > STORE_MIRROR_NAME_MAX)
		return MS_EINVAL;
	op = store_batch_push(b, STORE_OP_LEFTOVER_CLEAR, NULL);
	if (op == NULL)
		return MS_ENOMEM;
	op->folder_id = folder_id;
	memcpy(op->u.msg.mirror_name, part, n + 1);
	return MS_OK;
}

/* POP3 key: account NUL uidl. */
static int
store_pop3_key(const char *account, const char *uidl, uint8_t *key,
	       size_t *len_r)
{
	size_t al = strlen(account), ul = strlen(uidl);

	if (al == 0 || al > STORE_ACCOUNT_MAX || ul == 0 ||
	    ul > STORE_UIDL_MAX)
		return MS_EINVAL;
	memcpy(key, account, al);
	key[al] = '\0';
	memcpy(key + al + 1, uidl, ul);
	*len_r = al + 1 + ul;
	return MS_OK;
}

int
store_batch_pop3_put(struct store_batch *b, const char *account,
		     const char *uidl, const struct store_pop3 *rec,
		     struct store_body *body)
{
	uint8_t key[STORE_POP3_KEY_MAX];
	struct store_op *op;
	size_t klen;

	if (store_pop3_key(account, uidl, key, &klen) < 0) {
		store_body_free(&body);
		return MS_EINVAL;
	}
	op = store_batch_push(b, STORE_OP_POP3_PUT, body);
	if (op == NULL)
		return MS_ENOMEM;
	op->u.pop3.rec = *rec;
	if (body != NULL)
		memcpy(op->u.pop3.rec.hash, body->hash, STORE_HASH_LEN);
	memcpy(op->u.pop3.key, key, klen);
	op->u.pop3.key_len = klen;
	return MS_OK;
}

int
store_batch_pop3_delete(struct store_batch *b, const char *account,
			const char *uidl)
{
	uint8_t key[STORE_POP3_KEY_MAX];
	struct store_op *op;
	size_t klen;

	if (store_pop3_key(account, uidl, key, &klen) < 0)
		return MS_EINVAL;
	op = store_batch_push(b, STORE_OP_POP3_DELETE, NULL);
	if (op == NULL)
		return MS_ENOMEM;
	memcpy(op->u.pop3.key, key, klen);
	op->u.pop3.key_len = klen;
	return MS_OK;
}

int
store_batch_outbox_add(struct store_batch *b, const struct store_outbox *e,
		       struct store_body *body, uint64_t *id_r)
{
	struct store_outbox copy = *e;
	struct store_op *op;
	uint8_t *val;
	size_t len;
	int rc;

	if (body != NULL)
		memcpy(copy.hash, body->hash, STORE_HASH_LEN);
	rc = store__outbox_encode(&copy, &val, &len);
	if (rc < 0) {
		store_body_free(&body);
		return rc;
	}
	op = store_batch_push(b, STORE_OP_OUTBOX_ADD, body);
	if (op == NULL) {
		free(val);
		return MS_ENOMEM;
	}
	/* One writer: an id from memory is unique; the commit records the
	 * next one in meta. */
	op->u.outbox.id = b->s->next_outbox_id++;
	memcpy(op->u.outbox.hash, copy.hash, STORE_HASH_LEN);
	op->data = val;
	op->data_len = len;
	*id_r = op->u.outbox.id;
	return MS_OK;
}

int
store_batch_outbox_update(struct store_batch *b, uint64_t id,
			  enum store_outbox_state state, uint32_t attempts,
			  int64_t next_attempt, const char *last_error)
{
	size_t n = strlen(last_error);
	struct store_op *op;
	uint8_t *text;

	if (n > STORE_OUTBOX_STR_MAX)
		return MS_EINVAL;
	text = malloc(n + 1);
	if (text == NULL)
		return MS_ENOMEM;
	memcpy(text, last_error, n + 1);
	op = store_batch_push(b, STORE_OP_OUTBOX_UPDATE, NULL);
	if (op == NULL) {
		free(text);
		return MS_ENOMEM;
	}
	op->u.outbox.id = id;
	op->u.outbox.state = state;
	op->u.outbox.attempts = attempts;
	op->u.outbox.next_attempt = next_attempt;
	op->data = text;
	op->data_len = n;
	return MS_OK;
}

int
store_batch_outbox_set(struct store_batch *b, const struct store_outbox *e)
{
	struct store_op *op;
	uint8_t *val;
	size_t len;
	int rc;

	if ((rc = store__outbox_encode(e, &val, &len)) < 0)
		return rc;
	op = store_batch_push(b, STORE_OP_OUTBOX_SET, NULL);
	if (op == NULL) {
		free(val);
		return MS_ENOMEM;
	}
	op->u.outbox.id = e->id;
	memcpy(op->u.outbox.hash, e->hash, STORE_HASH_LEN);
	op->data = val;
	op->data_len = len;
	return MS_OK;
}

int
store_batch_outbox_delete(struct store_batch *b, uint64_t id)
{
	struct store_op *op = store_batch_push(b, STORE_OP_OUTBOX_DELETE, NULL);

	if (op == NULL)
		return MS_ENOMEM;
	op->u.outbox.id = id;
	return MS_OK;
}

/* --- applying ------------------------------------------------------------- */

static int
store_hex_err(struct ms_err *err_r, int code, const char *what,
	      const uint8_t hash[STORE_HASH_LEN])
{
	char hex[2 * 8 + 1];

	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	return ms_err_set(err_r, code, "store: %s %s…", what, hex);
}

/* Writes a finished body into space reserved in the map: compressed
 * when that saves enough (store_zbody.h), else as it is. */
static int
store_body_put(struct store *s, MDB_txn *txn, const struct store_body *body,
	       struct ms_err *err_r)
{
	MDB_val k = { STORE_HASH_LEN, (void *)body->hash };
	MDB_val v = { body->size, NULL };
	uint8_t *z = NULL;
	size_t zlen = 0;
	int rc, zfd = -1;

	if ((rc = store__zbody_encode(s, body, &z, &zfd, &zlen,
				      err_r)) != MS_OK)
		return rc;
	if (z != NULL || zfd >= 0)
		v.mv_size = zlen;
	rc = mdb_put(txn, s->dbi[STORE_DBI_BODIES], &k, &v, MDB_RESERVE);
	if (rc != 0)
		rc = store__mdb_err(s, err_r, rc, "writing a body");
	else if (z != NULL)
		memcpy(v.mv_data, z, zlen);
	else if (zfd >= 0 && store__pread_all(zfd, v.mv_data, zlen, 0) < 0)
		rc = ms_err_set(err_r, MS_EIO, "store: reading a spool file: "
				"%s", strerror(errno));
	else if (zfd < 0)
		rc = store__body_copy(body, v.mv_data, err_r);
	free(z);
	if (zfd >= 0)
		close(zfd);
	return rc;
}

/*
 * Takes a reference on hash.  A body not yet stored is written from body
 * (with its info, summary and Message-ID index entry); without a body
 * that is an error.
 */
static int
store_body_ref(struct store *s, MDB_txn *txn, const uint8_t *hash,
	       const struct store_body *body, struct ms_err *err_r)
{
	MDB_val k = { STORE_HASH_LEN, (void *)hash }, v;
	uint8_t info[STORE__INFO_LEN];
	int rc;

	rc = mdb_get(txn, s->dbi[STORE_DBI_BODY_INFO], &k, &v);
	if (rc == 0) {
		if (v.mv_size != STORE__INFO_LEN)
			return store_hex_err(err_r, MS_ESTORE,
					     "bad body_info of", hash);
		memcpy(info, v.mv_data, STORE__INFO_LEN);
		store__put32(info, store__get32(info) + 1);
	} else if (rc == MDB_NOTFOUND) {
		if (body == NULL || memcmp(body->hash, hash, STORE_HASH_LEN))
			return store_hex_err(err_r, MS_EINVAL,
					     "no body in the store for", hash);
		rc = store_body_put(s, txn, body, err_r);
		if (rc < 0)
			return rc;
		v = (MDB_val){ body->summary_len, body->summary };
		rc = mdb_put(txn, s->dbi[STORE_DBI_SUMMARIES], &k, &v, 0);
		if (rc == 0 && body->msgid[0] != '\0') {
			MDB_val mk = store__msgid_key(body->msgid);

			v = k;
			rc = mdb_put(txn, s->dbi[STORE_DBI_MSGIDS], &mk, &v, 0);
		}
		if (rc != 0)
			return store__mdb_err(s, err_r, rc,
					      "writing a summary");
		store__put32(info, 1);
		store__put64(info + 4, body->size);
	} else {
		return store__mdb_err(s, err_r, rc, "reading body_info");
	}
	v = (MDB_val){ STORE__INFO_LEN, info };
	rc = mdb_put(txn, s->dbi[STORE_DBI_BODY_INFO], &k, &v, 0);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "writing body_info");
	return MS_OK;
}

/* Drops a reference; a body at zero is collected at the end. */
static int
store_body_unref(struct store *s, MDB_txn *txn, struct store_commit *c,
		 const uint8_t *hash, struct ms_err *err_r)
{
	MDB_val k = { STORE_HASH_LEN, (void *)hash }, v;
	uint8_t info[STORE__INFO_LEN];
	uint32_t refs;
	int rc;

	rc = mdb_get(txn, s->dbi[STORE_DBI_BODY_INFO], &k, &v);
	if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != STORE__INFO_LEN))
		return store_hex_err(err_r, MS_ESTORE,
				     "missing body_info of", hash);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading body_info");
	memcpy(info, v.mv_data, STORE__INFO_LEN);
	refs = store__get32(info);
	if (refs == 0)
		return store_hex_err(err_r, MS_ESTORE, "refcount underflow of",
				     hash);
	store__put32(info, refs - 1);
	v = (MDB_val){ STORE__INFO_LEN, info };
	rc = mdb_put(txn, s->dbi[STORE_DBI_BODY_INFO], &k, &v, 0);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "writing body_info");
	if (refs - 1 == 0) {
		if (store__reserve(&c->zero, &c->cap_zero, c->n_zero,
				   STORE_HASH_LEN, 32) < 0)
			return ms_err_set(err_r, MS_ENOMEM,
					  "store: out of memory");
		memcpy(c->zero[c->n_zero++], hash, STORE_HASH_LEN);
	}
	return MS_OK;
}

/* Deletes the bodies whose refcount is still zero at the end. */
static int
store_collect(struct store *s, MDB_txn *txn, struct store_commit *c,
	      struct ms_err *err_r)
{
	for (size_t i = 0; i < c->n_zero; i++) {
		MDB_val k = { STORE_HASH_LEN, c->zero[i] }, v;
		int rc;

		store__map_check(s);

		rc = mdb_get(txn, s->dbi[STORE_DBI_BODY_INFO], &k, &v);
		if (rc == MDB_NOTFOUND)
			continue;	/* listed twice */
		if (rc != 0)
			return store__mdb_err(s, err_r, rc, "body_info");
		if (store__get32(v.mv_data) != 0)
			continue;	/* referenced again later */
		rc = mdb_get(txn, s->dbi[STORE_DBI_SUMMARIES], &k, &v);
		if (rc == 0) {
			/* The Message-ID index entry: id is in the summary. */
			const uint8_t *p = v.mv_data, *end = p + v.mv_size;
			uint32_t n = 0;

			p += 9;
			for (int f = 0; f < 3 && end - p >= 4; f++) {
				uint32_t flen = store__get32(p);

				if ((size_t)(end - p - 4) < flen) {
					p = end;
					break;
				}
				p += 4 + flen;
			}
			if (end - p >= 4) {
				n = store__get32(p);
				if ((size_t)(end - p - 4) >= n && n > 0) {
					MDB_val mk = { n, (void *)(p + 4) };
					MDB_val hv = k;

					if (mk.mv_size > STORE_MSGID_KEY_MAX)
						mk.mv_size =
							STORE_MSGID_KEY_MAX;
					rc = mdb_del(txn,
						     s->dbi[STORE_DBI_MSGIDS],
						     &mk, &hv);
					if (rc != 0 && rc != MDB_NOTFOUND)
						return store__mdb_err(
							s, err_r, rc,
							"msgid index");
				}
			}
			rc = mdb_del(txn, s->dbi[STORE_DBI_SUMMARIES], &k,
				     NULL);
			if (rc != 0)
				return store__mdb_err(s, err_r, rc,
						      "deleting a summary");
		}
		if ((rc = mdb_del(txn, s->dbi[STORE_DBI_BODIES], &k, NULL))
		    != 0 && rc != MDB_NOTFOUND)
			return store__mdb_err(s, err_r, rc, "deleting a body");
		if ((rc = mdb_del(txn, s->dbi[STORE_DBI_BODY_INFO], &k,
				  NULL)) != 0)
			return store__mdb_err(s, err_r, rc,
					      "deleting body_info");
	}
	return MS_OK;
}

/* The folder's delta slot; checks once that the folder exists. */
static int
store_folder_slot(struct store *s, MDB_txn *txn, struct store_commit *c,
		  uint32_t folder_id, struct store_folder_delta **d_r,
		  struct ms_err *err_r)
{
	uint8_t key[4];
	MDB_val k = { 4, key }, v;
	int rc;

	for (size_t i = c->n_folders; i > 0; i--) {
		if (c->folders[i - 1].folder_id == folder_id) {
			*d_r = &c->folders[i - 1];
			goto found;
		}
	}
	store__folder_key(folder_id, key);
	rc = mdb_get(txn, s->dbi[STORE_DBI_FOLDERS], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ms_err_set(err_r, MS_EINVAL, "store: no folder %u",
				  folder_id);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading a folder");
	if (store__reserve(&c->folders, &c->cap_folders, c->n_folders,
			   sizeof(*c->folders), 8) < 0)
		return ms_err_set(err_r, MS_ENOMEM, "store: out of memory");
	*d_r = &c->folders[c->n_folders++];
	**d_r = (struct store_folder_delta){ .folder_id = folder_id };
found:
	if ((*d_r)->is_gone)
		return ms_err_set(err_r, MS_EINVAL,
				  "store: folder %u deleted in this batch",
				  folder_id);
	return MS_OK;
}

/* Reads, changes and writes back a folder record. */
static int
store_folder_update(struct store *s, MDB_txn *txn, uint32_t folder_id,
		    const struct store_folder_state *st, unsigned mask,
		    int64_t delta, struct ms_err *err_r)
{
	uint8_t key[4], val[STORE_ACCOUNT_MAX + STORE_FOLDER_NAME_MAX + 64];
	MDB_val k = { 4, key }, v;
	struct store_folder f;
	size_t len;
	int rc;

	store__folder_key(folder_id, key);
	rc = mdb_get(txn, s->dbi[STORE_DBI_FOLDERS], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ms_err_set(err_r, MS_EINVAL, "store: no folder %u",
				  folder_id);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading a folder");
	if (store__folder_decode(folder_id, &v, &f) < 0)
		return ms_err_set(err_r, MS_ESTORE,
				  "store: bad folder record %u", folder_id);
	if (mask & STORE_FS_UIDVALIDITY)
		f.state.uidvalidity = st->uidvalidity;
	if (mask & STORE_FS_UIDNEXT)
		f.state.uidnext = st->uidnext;
	if (mask & STORE_FS_HIGHESTMODSEQ)
		f.state.highestmodseq = st->highestmodseq;
	if (mask & STORE_FS_MESSAGES)
		f.state.messages = st->messages;
	if (mask & STORE_FS_MIRROR_DURABLE)
		f.state.mirror_durable = st->mirror_durable;
	if (delta < 0 && (uint64_t)-delta > f.local_count)
		return ms_err_set(err_r, MS_ESTORE,
				  "store: folder %u count underflow",
				  folder_id);
	f.local_count = (uint32_t)((int64_t)f.local_count + delta);
	if (store__folder_encode(&f, val, sizeof(val), &len) < 0)
		return ms_err_set(err_r, MS_ESTORE, "store: folder too large");
	v = (MDB_val){ len, val };
	rc = mdb_put(txn, s->dbi[STORE_DBI_FOLDERS], &k, &v, 0);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "writing a folder");
	return MS_OK;
}

static int
store_msg_put(struct store *s, MDB_txn *txn, const struct store_msg *m,
	      struct ms_err *err_r)
{
	uint8_t key[8], val[STORE__MSG_FIXED + STORE_MIRROR_NAME_MAX];
	MDB_val k = { 8, key }, v;
	size_t len;
	int rc;

	store__msg_key(m->folder_id, m->uid, key);
	store__msg_encode(m, val, &len);
	v = (MDB_val){ len, val };
	rc = mdb_put(txn, s->dbi[STORE_DBI_MESSAGES], &k, &v, 0);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "writing a message");
	return MS_OK;
}

/* Reads (folder, uid) into m: MS_OK, STORE_NOTFOUND or an error. */
static int
store_msg_load(struct store *s, MDB_txn *txn, uint32_t folder_id,
	       uint32_t uid, struct store_msg *m, struct ms_err *err_r)
{
	uint8_t key[8];
	MDB_val k = { 8, key }, v;
	int rc;

	store__msg_key(folder_id, uid, key);
	rc = mdb_get(txn, s->dbi[STORE_DBI_MESSAGES], &k, &v);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading a message");
	if (store__msg_decode(folder_id, uid, &v, m) < 0)
		return ms_err_set(err_r, MS_ESTORE,
				  "store: bad message record %u/%u",
				  folder_id, uid);
	return MS_OK;
}

static int
store_ref_index(struct store *s, MDB_txn *txn, const uint8_t *hash,
		uint32_t folder_id, uint32_t uid, bool add,
		struct ms_err *err_r)
{
	uint8_t ref[8];
	MDB_val k = { STORE_HASH_LEN, (void *)hash }, v = { 8, ref };
	int rc;

	store__msg_key(folder_id, uid, ref);
	rc = add ? mdb_put(txn, s->dbi[STORE_DBI_BODY_REFS], &k, &v,
			   MDB_NODUPDATA)
		 : mdb_del(txn, s->dbi[STORE_DBI_BODY_REFS], &k, &v);
	if (rc == MDB_KEYEXIST || (!add && rc == MDB_NOTFOUND))
		return store_hex_err(err_r, MS_ESTORE,
				     "body_refs out of step for", hash);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "body_refs");
	return MS_OK;
}

static int
store_apply_msg_add(struct store *s, MDB_txn *txn, struct store_commit *c,
		    struct store_op *op, struct ms_err *err_r)
{
	struct store_msg m = op->u.msg, old;
	struct store_folder_delta *d;
	bool is_new;
	int rc;

	rc = store_folder_slot(s, txn, c, m.folder_id, &d, err_r);
	if (rc < 0)
		return rc;
	rc = store_msg_load(s, txn, m.folder_id, m.uid, &old, err_r);
	if (rc < 0)
		return rc;
	is_new = rc == STORE_NOTFOUND;
	if (is_new || memcmp(old.hash, m.hash, STORE_HASH_LEN) != 0) {
		rc = store_body_ref(s, txn, m.hash, op->body, err_r);
		if (rc == MS_OK)
			rc = store_ref_index(s, txn, m.hash, m.folder_id,
					     m.uid, true, err_r);
		if (rc < 0)
			return rc;
	}
	if (is_new) {
		d->delta++;
	} else if (memcmp(old.hash, m.hash, STORE_HASH_LEN) != 0) {
		rc = store_body_unref(s, txn, c, old.hash, err_r);
		if (rc == MS_OK)
			rc = store_ref_index(s, txn, old.hash, m.folder_id,
					     m.uid, false, err_r);
		if (rc < 0)
			return rc;
	}
	if (m.size == 0 && op->body == NULL) {
		MDB_val k = { STORE_HASH_LEN, m.hash }, v;

		if (mdb_get(txn, s->dbi[STORE_DBI_BODY_INFO], &k, &v) == 0 &&
		    v.mv_size == STORE__INFO_LEN)
			m.size = store__get64((uint8_t *)v.mv_data + 4);
	}
	m.local_seq = c->local_seq++;
	return store_msg_put(s, txn, &m, err_r);
}

static int
store_apply_msg_update(struct store *s, MDB_txn *txn, struct store_commit *c,
		       struct store_op *op, struct ms_err *err_r)
{
	struct store_msg m;
	int rc;

	rc = store_msg_load(s, txn, op->folder_id, op->u.msg.uid, &m, err_r);
	if (rc != MS_OK)
		return rc == STORE_NOTFOUND ? MS_OK : rc;
	if (op->kind == STORE_OP_MSG_FLAGS) {
		m.flags = op->u.msg.flags;
		m.synced_flags = op->u.msg.synced_flags;
		m.modseq = op->u.msg.modseq;
		m.local_seq = c->local_seq++;
	} else {
		/* Recording where the mirror put the file is not a change
		 * the mirror must export again: local_seq stays. */
		memcpy(m.mirror_name, op->u.msg.mirror_name,
		       sizeof(m.mirror_name));
	}
	return store_msg_put(s, txn, &m, err_r);
}

/*
 * Record m, removed, leaves a leftover for its Maildir file that takes
 * over its body reference (one of the same part before it gives its own
 * up).
 */
static int
store_leftover_put(struct store *s, MDB_txn *txn, struct store_commit *c,
		   const struct store_msg *m, struct ms_err *err_r)
{
	uint8_t key[4 + STORE_MIRROR_NAME_MAX], old[STORE_HASH_LEN];
	MDB_val k, v;
	size_t klen;
	int rc;

	if (store__leftover_key(m->folder_id, m->mirror_name,
				strcspn(m->mirror_name, ",:!"), key,
				&klen) != MS_OK)
		return store_body_unref(s, txn, c, m->hash, err_r);
	k = (MDB_val){ klen, key };
	rc = mdb_get(txn, s->dbi[STORE_DBI_LEFTOVERS], &k, &v);
	if (rc == 0 && v.mv_size == STORE_HASH_LEN) {
		memcpy(old, v.mv_data, STORE_HASH_LEN);
		if ((rc = store_body_unref(s, txn, c, old, err_r)) < 0)
			return rc;
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		return store__mdb_err(s, err_r, rc, "reading a leftover");
	}
	v = (MDB_val){ STORE_HASH_LEN, (void *)m->hash };
	rc = mdb_put(txn, s->dbi[STORE_DBI_LEFTOVERS], &k, &v, 0);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "writing a leftover");
	return MS_OK;
}

/* Removes leftover (folder, part) or, with part NULL, all the folder's. */
static int
store_leftover_del(struct store *s, MDB_txn *txn, struct store_commit *c,
		   uint32_t folder_id, const char *part, struct ms_err *err_r)
{
	uint8_t key[4 + STORE_MIRROR_NAME_MAX], hash[STORE_HASH_LEN];
	MDB_cursor *cur;
	MDB_val k, v;
	size_t klen = 4;
	int rc;

	if (part != NULL) {
		if (store__leftover_key(folder_id, part, strlen(part), key,
					&klen) != MS_OK)
			return MS_OK;
	} else {
		store__folder_key(folder_id, key);
	}
	rc = mdb_cursor_open(txn, s->dbi[STORE_DBI_LEFTOVERS], &cur);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "leftover cursor");
	for (;;) {
		k = (MDB_val){ klen, key };
		rc = mdb_cursor_get(cur, &k, &v, part != NULL ? MDB_SET_KEY :
				    MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size < 4 ||
		    memcmp(k.mv_data, key, 4) != 0))) {
			rc = MS_OK;
			break;
		}
		if (rc == 0 && v.mv_size != STORE_HASH_LEN) {
			rc = ms_err_set(err_r, MS_ESTORE, "store: bad leftover");
			break;
		}
		if (rc == 0) {
			memcpy(hash, v.mv_data, STORE_HASH_LEN);
			rc = mdb_cursor_del(cur, 0);
		}
		if (rc != 0) {
			rc = store__mdb_err(s, err_r, rc, "removing a leftover");
			break;
		}
		if ((rc = store_body_unref(s, txn, c, hash, err_r)) < 0 ||
		    part != NULL)
			break;
	}
	mdb_cursor_close(cur);
	return rc;
}

/* Removes the records lo..hi of a folder; with keep_files, a record's
 * Maildir file leaves a leftover. */
static int
store_expunge_range(struct store *s, MDB_txn *txn, struct store_commit *c,
		    uint32_t folder_id, uint32_t lo, uint32_t hi,
		    bool keep_files, struct store_folder_delta *d,
		    struct ms_err *err_r)
{
	MDB_cursor *cur;
	int rc;

	rc = mdb_cursor_open(txn, s->dbi[STORE_DBI_MESSAGES], &cur);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "expunge cursor");
	for (;;) {
		uint8_t key[8];
		MDB_val k = { 8, key }, v;
		struct store_msg m;
		uint32_t fid, uid;

		store__msg_key(folder_id, lo, key);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			break;
		if (rc != 0) {
			rc = store__mdb_err(s, err_r, rc, "expunge");
			goto out;
		}
		if (k.mv_size != 8)
			break;
		fid = store__get32(k.mv_data);
		uid = store__get32((uint8_t *)k.mv_data + 4);
		if (fid != folder_id || uid > hi)
			break;
		if (store__msg_decode(fid, uid, &v, &m) < 0) {
			rc = ms_err_set(err_r, MS_ESTORE,
					"store: bad message record %u/%u",
					fid, uid);
			goto out;
		}
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0) {
			rc = store__mdb_err(s, err_r, rc, "expunge");
			goto out;
		}
		if (keep_files && m.mirror_name[0] != '\0')
			rc = store_leftover_put(s, txn, c, &m, err_r);
		else
			rc = store_body_unref(s, txn, c, m.hash, err_r);
		if (rc == MS_OK)
			rc = store_ref_index(s, txn, m.hash, fid, uid, false,
					     err_r);
		if (rc < 0)
			goto out;
		if (d != NULL)
			d->delta--;
		/* One operation may expunge a whole folder. */
		store__map_check(s);
		if (uid == UINT32_MAX)
			break;
		/* Seek again rather than rely on the cursor's position
		 * after a delete. */
		lo = uid + 1;
	}
	rc = MS_OK;
out:
	mdb_cursor_close(cur);
	return rc;
}

static int
store_apply_folder_delete(struct store *s, MDB_txn *txn,
			  struct store_commit *c, uint32_t folder_id,
			  struct ms_err *err_r)
{
	uint8_t key[4], nkey[STORE_ACCOUNT_MAX + 1 + STORE_FOLDER_NAME_MAX];
	MDB_val k = { 4, key }, v, nk;
	struct store_folder_delta *d;
	struct store_folder f;
	size_t al, nl;
	int rc;

	rc = store_folder_slot(s, txn, c, folder_id, &d, err_r);
	if (rc < 0)
		return rc;
	rc = store_expunge_range(s, txn, c, folder_id, 0, UINT32_MAX, false,
				 NULL, err_r);
	if (rc == MS_OK)
		rc = store_leftover_del(s, txn, c, folder_id, NULL, err_r);
	if (rc < 0)
		return rc;
	store__folder_key(folder_id, key);
	rc = mdb_get(txn, s->dbi[STORE_DBI_FOLDERS], &k, &v);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading a folder");
	if (store__folder_decode(folder_id, &v, &f) < 0)
		return ms_err_set(err_r, MS_ESTORE, "store: bad folder %u",
				  folder_id);
	al = strlen(f.account);
	nl = strlen(f.name);
	memcpy(nkey, f.account, al + 1);
	memcpy(nkey + al + 1, f.name, nl);
	nk = (MDB_val){ al + 1 + nl, nkey };
	if ((rc = mdb_del(txn, s->dbi[STORE_DBI_FOLDER_NAMES], &nk, NULL))
	    != 0 && rc != MDB_NOTFOUND)
		return store__mdb_err(s, err_r, rc, "deleting a folder name");
	rc = mdb_del(txn, s->dbi[STORE_DBI_FOLDERS], &k, NULL);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "deleting a folder");
	d->is_gone = true;
	d->delta = 0;
	return MS_OK;
}

static int
store_apply_change(struct store *s, MDB_txn *txn, struct store_commit *c,
		   struct store_op *op, struct ms_err *err_r)
{
	uint8_t key[8], val[STORE__CHANGE_LEN];
	MDB_val k = { 8, key }, v;
	struct store_change ch;
	int rc;

	if (op->kind == STORE_OP_CHANGE_ADD) {
		ch = op->u.change;
		if (ch.kind == STORE_CHANGE_APPEND) {
			rc = store_body_ref(s, txn, ch.hash, op->body, err_r);
			if (rc < 0)
				return rc;
		}
		store__put64(key, c->change_seq++);
		store__change_encode(&ch, val);
		v = (MDB_val){ sizeof(val), val };
		rc = mdb_put(txn, s->dbi[STORE_DBI_CHANGES], &k, &v, 0);
		if (rc != 0)
			return store__mdb_err(s, err_r, rc, "writing a change");
		return MS_OK;
	}
	store__put64(key, op->u.seq);
	rc = mdb_get(txn, s->dbi[STORE_DBI_CHANGES], &k, &v);
	if (rc == MDB_NOTFOUND)
		return MS_OK;
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading a change");
	if (store__change_decode(op->u.seq, &v, &ch) < 0)
		return ms_err_set(err_r, MS_ESTORE, "store: bad change record");
	if (ch.kind == STORE_CHANGE_APPEND) {
		rc = store_body_unref(s, txn, c, ch.hash, err_r);
		if (rc < 0)
			return rc;
	}
	rc = mdb_del(txn, s->dbi[STORE_DBI_CHANGES], &k, NULL);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "clearing a change");
	return store__refusal_del(s, txn, op->u.seq, err_r);
}

/* POP3 value: hash, fetched i64, deleted u8. */
#define STORE_POP3_VAL_LEN (STORE_HASH_LEN + 9)

static int
store_apply_pop3(struct store *s, MDB_txn *txn, struct store_commit *c,
		 struct store_op *op, struct ms_err *err_r)
{
	MDB_val k = { op->u.pop3.key_len, op->u.pop3.key }, v;
	uint8_t old[STORE_HASH_LEN], val[STORE_POP3_VAL_LEN];
	bool had = false;
	int rc;

	rc = mdb_get(txn, s->dbi[STORE_DBI_POP3], &k, &v);
	if (rc == 0 && v.mv_size == STORE_POP3_VAL_LEN) {
		memcpy(old, v.mv_data, STORE_HASH_LEN);
		had = true;
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		return store__mdb_err(s, err_r, rc, "reading a pop3 record");
	}
	if (op->kind == STORE_OP_POP3_PUT) {
		const struct store_pop3 *r = &op->u.pop3.rec;

		if (!had || memcmp(old, r->hash, STORE_HASH_LEN) != 0) {
			rc = store_body_ref(s, txn, r->hash, op->body, err_r);
			if (rc < 0)
				return rc;
		} else {
			had = false;	/* same body: keep its reference */
		}
		memcpy(val, r->hash, STORE_HASH_LEN);
		store__put64(val + STORE_HASH_LEN, (uint64_t)r->fetched);
		val[STORE_HASH_LEN + 8] = r->is_deleted;
		v = (MDB_val){ sizeof(val), val };
		rc = mdb_put(txn, s->dbi[STORE_DBI_POP3], &k, &v, 0);
	} else if (had) {
		rc = mdb_del(txn, s->dbi[STORE_DBI_POP3], &k, NULL);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store__mdb_err(s, err_r, rc, "writing a pop3 record");
	if (had)
		return store_body_unref(s, txn, c, old, err_r);
	return MS_OK;
}

static int
store_apply_outbox(struct store *s, MDB_txn *txn, struct store_commit *c,
		   struct store_op *op, struct ms_err *err_r)
{
	uint8_t key[8], *val = NULL;
	MDB_val k = { 8, key }, v;
	struct store_outbox e;
	size_t len;
	uint64_t next;
	int rc;

	store__put64(key, op->u.outbox.id);
	if (op->kind == STORE_OP_OUTBOX_ADD) {
		rc = store_body_ref(s, txn, op->u.outbox.hash, op->body, err_r);
		if (rc < 0)
			return rc;
		v = (MDB_val){ op->data_len, op->data };
		rc = mdb_put(txn, s->dbi[STORE_DBI_OUTBOX], &k, &v, 0);
		if (rc != 0)
			return store__mdb_err(s, err_r, rc, "writing outbox");
		rc = store__meta_next(s, txn, "next_outbox_id", &next, err_r);
		if (rc == MS_OK && next <= op->u.outbox.id)
			rc = store__meta_set(s, txn, "next_outbox_id",
					     op->u.outbox.id + 1, err_r);
		return rc;
	}
	rc = mdb_get(txn, s->dbi[STORE_DBI_OUTBOX], &k, &v);
	if (rc == MDB_NOTFOUND)
		return MS_OK;
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "reading outbox");
	rc = store__outbox_decode(op->u.outbox.id, v.mv_data, v.mv_size, &e);
	if (rc < 0)
		return ms_err_set(err_r, rc, "store: bad outbox entry %llu",
				  (unsigned long long)op->u.outbox.id);
	if (op->kind == STORE_OP_OUTBOX_SET) {
		/* The body reference stays; so must the hash, and the
		 * creation time is the entry's. */
		int64_t created = e.created;
		bool is_same = memcmp(e.hash, op->u.outbox.hash,
				      STORE_HASH_LEN) == 0;

		store_outbox_deinit(&e);
		if (!is_same)
			return ms_err_set(err_r, MS_EINVAL, "store: outbox "
					  "entry %llu: another message",
					  (unsigned long long)op->u.outbox.id);
		store__put64(op->data + 5, (uint64_t)created);
		v = (MDB_val){ op->data_len, op->data };
		rc = mdb_put(txn, s->dbi[STORE_DBI_OUTBOX], &k, &v, 0);
		if (rc != 0)
			return store__mdb_err(s, err_r, rc, "writing outbox");
		return MS_OK;
	}
	if (op->kind == STORE_OP_OUTBOX_DELETE) {
		rc = store_body_unref(s, txn, c, e.hash, err_r);
		store_outbox_deinit(&e);
		if (rc < 0)
			return rc;
		rc = mdb_del(txn, s->dbi[STORE_DBI_OUTBOX], &k, NULL);
		if (rc != 0)
			return store__mdb_err(s, err_r, rc, "deleting outbox");
		return MS_OK;
	}
	free(e.last_error);
	e.last_error = (char *)op->data;
	e.state = op->u.outbox.state;
	e.attempts = op->u.outbox.attempts;
	e.next_attempt = op->u.outbox.next_attempt;
	rc = store__outbox_encode(&e, &val, &len);
	e.last_error = NULL;	/* owned by the op */
	store_outbox_deinit(&e);
	if (rc < 0)
		return ms_err_set(err_r, rc, "store: outbox entry too large");
	v = (MDB_val){ len, val };
	rc = mdb_put(txn, s->dbi[STORE_DBI_OUTBOX], &k, &v, 0);
	free(val);
	if (rc != 0)
		return store__mdb_err(s, err_r, rc, "writing outbox");
	return MS_OK;
}

static int
store_apply(struct store *s, MDB_txn *txn, struct store_commit *c,
	    struct store_op *op, struct ms_err *err_r)
{
	struct store_folder_delta *d;
	int rc;

	switch (op->kind) {
	case STORE_OP_MSG_ADD:
		return store_apply_msg_add(s, txn, c, op, err_r);
	case STORE_OP_MSG_FLAGS:
	case STORE_OP_MSG_MIRROR:
		return store_apply_msg_update(s, txn, c, op, err_r);
	case STORE_OP_MSG_EXPUNGE:
		rc = store_folder_slot(s, txn, c, op->folder_id, &d, err_r);
		if (rc < 0)
			return rc;
		return store_expunge_range(s, txn, c, op->folder_id,
					   op->uid_lo, op->uid_hi, true, d,
					   err_r);
	case STORE_OP_FOLDER_STATE:
		rc = store_folder_slot(s, txn, c, op->folder_id, &d, err_r);
		if (rc < 0)
			return rc;
		return store_folder_update(s, txn, op->folder_id,
					   &op->u.fs.state, op->u.fs.mask, 0,
					   err_r);
	case STORE_OP_FOLDER_DELETE:
		return store_apply_folder_delete(s, txn, c, op->folder_id,
						 err_r);
	case STORE_OP_CHANGE_ADD:
	case STORE_OP_CHANGE_CLEAR:
		return store_apply_change(s, txn, c, op, err_r);
	case STORE_OP_POP3_PUT:
	case STORE_OP_POP3_DELETE:
		return store_apply_pop3(s, txn, c, op, err_r);
	case STORE_OP_OUTBOX_ADD:
	case STORE_OP_OUTBOX_UPDATE:
	case STORE_OP_OUTBOX_SET:
	case STORE_OP_OUTBOX_DELETE:
		return store_apply_outbox(s, txn, c, op, err_r);
	case STORE_OP_LEFTOVER_CLEAR:
		return store_leftover_del(s, txn, c, op->folder_id,
					  op->u.msg.mirror_name, err_r);
	case STORE_OP_REFUSAL_PUT:
		return store__refusal_put(s, txn, &op->u.refusal, err_r);
	case STORE_OP_REFUSALS_CLEAR:
		return store__refusals_clear(s, txn, op->folder_id, err_r);
	}
	return ms_err_set(err_r, MS_EINTERNAL, "store: unknown batch op");
}

static int
store_batch_txn(struct store *s, MDB_txn *txn, void *arg,
		struct ms_err *err_r)
{
	struct store_commit *c = arg;
	int rc;

	/* A retry after a map resize starts from scratch. */
	c->n_folders = 0;
	c->n_zero = 0;
	if ((rc = store__meta_next(s, txn, "next_local_seq", &c->local_seq,
				   err_r)) < 0 ||
	    (rc = store__meta_next(s, txn, "next_change_seq", &c->change_seq,
				   err_r)) < 0)
		return rc;
	for (size_t i = 0; i < c->b->n; i++) {
		rc = store_apply(s, txn, c, &c->b->ops[i], err_r);
		if (rc < 0)
			return rc;
		/* The pages read on the way (the changed ones are copies in
		 * memory by now). */
		store__map_check(s);
	}
	for (size_t i = 0; i < c->n_folders; i++) {
		struct store_folder_delta *d = &c->folders[i];

		if (d->is_gone || d->delta == 0)
			continue;
		rc = store_folder_update(s, txn, d->folder_id, NULL, 0,
					 d->delta, err_r);
		if (rc < 0)
			return rc;
	}
	if ((rc = store_collect(s, txn, c, err_r)) < 0 ||
	    (rc = store__meta_set(s, txn, "next_local_seq", c->local_seq,
				  err_r)) < 0 ||
	    (rc = store__meta_set(s, txn, "next_change_seq", c->change_seq,
				  err_r)) < 0)
		return rc;
	/* The commit is when the dirty pages (the new bodies) peak: no
	 * mapped pages on top of them.  A small batch (a pushed message, a
	 * reader's flag) only counts: releasing the whole map at each one
	 * cost a madvise() of the map, TLB shootdowns and the faults to
	 * map the B-tree's upper pages again, some 0.3 ms a message. */
	if (store_batch_commit_mem(c->b) >= s->release_over)
		store__map_release(s);
	else
		store__map_check(s);
	return MS_OK;
}

static int
store_batch_commit_flags(struct store_batch *b, unsigned txn_flags,
			 struct ms_err *err_r)
{
	struct store_commit c = { .b = b };
	bool has_spooled = false;
	int rc;

	if (b->n == 0)
		return MS_OK;
	for (size_t i = 0; i < b->n; i++)
		if (b->ops[i].body != NULL && b->ops[i].body->fd >= 0)
			has_spooled = true;
	rc = store__write_flags(b->s, txn_flags, store_batch_txn, &c, err_r);
	free(c.folders);
	free(c.zero);
	if (rc < 0)
		return rc;
	/* The mirror's export writes these next: it takes them from memory
	 * rather than read them back (store_handed.c). */
	for (size_t i = 0; i < b->n; i++)
		if (b->ops[i].body != NULL)
			store__handed_keep(b->s, b->ops[i].body);
	store_batch_clear(b);
	/*
	 * LMDB copied the large bodies into malloc'ed dirty pages; glibc
	 * raises its mmap and trim thresholds after freeing such blocks and
	 * would keep that memory.  Give it back, so one large message does
	 * not leave the daemon that much bigger.
	 */
	if (has_spooled)
		malloc_trim(0);
	store__map_check(b->s);
	return MS_OK;
}

int
store_batch_commit(struct store_batch *b, struct ms_err *err_r)
{
	return store_batch_commit_flags(b, 0, err_r);
}

int
store_batch_commit_lazy(struct store_batch *b, struct ms_err *err_r)
{
	/* The data pages are synced; the meta page that points at them is
	 * written without its own sync, and reaches the disk with the next
	 * commit's (or the system's writeback). */
	return store_batch_commit_flags(b, MDB_NOMETASYNC, err_r);
}
