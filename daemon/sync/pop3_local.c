/*
 * pop3_local.c - settling a POP3 account's pending local changes in the
 * store (pop3_local.h).
 */
#include "sync/pop3_local.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A folder's next UID while its changes are settled. */
struct pop3_local_folder {
	struct store_folder f;
	bool is_dirty;		/* its state goes into the batch */
};

static int
pop3_local_folder_load(struct store *s, uint32_t id,
		       struct pop3_local_folder *lf, struct ms_err *err_r)
{
	int rc = store_folder_get(s, id, &lf->f, err_r);

	if (rc == STORE_NOTFOUND)
		return ms_err_set(err_r, MS_ESTORE, "store: folder %u gone",
				  id);
	if (rc < 0)
		return rc;
	lf->is_dirty = false;
	/* A folder a reader made: it exists here only. */
	if (lf->f.attrs & STORE_FOLDER_CREATE) {
		uint32_t fid;

		rc = store_folder_ensure(s, lf->f.account, lf->f.name,
					 lf->f.delimiter,
					 lf->f.attrs & ~(uint32_t)
					 STORE_FOLDER_CREATE, &fid, err_r);
		if (rc < 0)
			return rc;
		lf->f.attrs &= ~(uint32_t)STORE_FOLDER_CREATE;
	}
	if (lf->f.state.uidvalidity == 0) {
		lf->f.state.uidvalidity = POP3_LOCAL_UIDVALIDITY;
		lf->is_dirty = true;
	}
	if (lf->f.state.uidnext == 0) {
		lf->f.state.uidnext = 1;
		lf->is_dirty = true;
	}
	return MS_OK;
}

/* A new record of body hash in lf (a move's destination, a new file). */
static int
pop3_local_add(struct store_batch *b, struct pop3_local_folder *lf,
	       const uint8_t hash[STORE_HASH_LEN], uint32_t flags,
	       int64_t date, uint64_t size)
{
	struct store_msg m;

	memset(&m, 0, sizeof(m));
	m.folder_id = lf->f.id;
	m.uid = lf->f.state.uidnext++;
	memcpy(m.hash, hash, STORE_HASH_LEN);
	m.flags = m.synced_flags = flags;
	m.internal_date = date;
	m.size = size;
	lf->is_dirty = true;
	return store_batch_msg_add(b, &m, NULL);
}

static int
pop3_local_one(struct store *s, struct store_batch *b,
	       struct pop3_local_folder *lf, const struct store_change *c,
	       struct ms_err *err_r)
{
	struct pop3_local_folder dest;
	struct store_msg m;
	int rc;

	switch (c->kind) {
	case STORE_CHANGE_FLAGS:
		if (store_msg_get(s, c->folder_id, c->uid, &m, err_r) != MS_OK)
			break;
		rc = store_batch_msg_flags(b, c->folder_id, c->uid, m.flags,
					   m.flags, m.modseq);
		if (rc < 0)
			return rc;
		break;
	case STORE_CHANGE_DELETE:
		if ((rc = store_batch_msg_expunge(b, c->folder_id, c->uid,
						  c->uid)) < 0)
			return rc;
		break;
	case STORE_CHANGE_MOVE:
		if (store_msg_get(s, c->folder_id, c->uid, &m, err_r) != MS_OK)
			break;
		if (c->dest_folder_id == lf->f.id) {
			/* A move into the same folder: nothing moves. */
			break;
		}
		if ((rc = pop3_local_folder_load(s, c->dest_folder_id, &dest,
						 err_r)) < 0)
			return rc;
		/* The destination's own changes come in its own commit,
		 * after this one: its UIDNEXT goes into this batch. */
		if ((rc = pop3_local_add(b, &dest, m.hash, m.flags,
					 m.internal_date, m.size)) < 0 ||
		    (rc = store_batch_folder_state(b, dest.f.id,
						   &dest.f.state,
						   STORE_FS_UIDVALIDITY |
						   STORE_FS_UIDNEXT)) < 0 ||
		    (rc = store_batch_msg_expunge(b, c->folder_id, c->uid,
						  c->uid)) < 0)
			return rc;
		/* Committed now, so that the destination's next add (in
		 * this folder's later changes) reads its new UIDNEXT. */
		if ((rc = store_batch_commit(b, err_r)) < 0)
			return rc;
		break;
	case STORE_CHANGE_APPEND: {
		uint64_t size;

		if ((rc = store_body_size_get(s, c->hash, &size, err_r)) < 0)
			return rc;
		if ((rc = pop3_local_add(b, lf, c->hash, c->flags_add,
					 c->internal_date, size)) < 0)
			return rc;
		break;
	}
	}
	return store_batch_change_clear(b, c->seq);
}

static int
pop3_local_folder(struct store *s, uint32_t folder_id, uint64_t *settled_r,
		  struct ms_err *err_r)
{
	struct store_change *ch = NULL;
	struct store_batch *b = NULL;
	struct pop3_local_folder lf;
	size_t n = 0;
	int rc;

	if ((rc = store_change_list_folder(s, folder_id, SIZE_MAX, &ch, &n,
					   err_r)) < 0)
		return rc;
	if (n == 0)
		return MS_OK;
	if ((rc = pop3_local_folder_load(s, folder_id, &lf, err_r)) < 0)
		goto out;
	if ((rc = store_batch_new(s, &b)) < 0) {
		ms_err_set(err_r, rc, "store batch: %s", ms_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((rc = pop3_local_one(s, b, &lf, &ch[i], err_r)) < 0)
			goto out;
	}
	if (lf.is_dirty &&
	    (rc = store_batch_folder_state(b, lf.f.id, &lf.f.state,
					   STORE_FS_UIDVALIDITY |
					   STORE_FS_UIDNEXT)) < 0)
		goto out;
	if ((rc = store_batch_commit(b, err_r)) < 0)
		goto out;
	*settled_r += n;
	log_debug("acct=%s folder=%s %zu local change%s kept local (POP3)",
		  lf.f.account, lf.f.name, n, n == 1 ? "" : "s");
out:
	if (rc < 0 && err_r != NULL && err_r->msg[0] == '\0')
		ms_err_set(err_r, rc, "store: %s", ms_strerror(rc));
	store_batch_free(&b);
	free(ch);
	return rc;
}

int
pop3_local_settle(struct store *s, const char *account, uint64_t *settled_r,
		  struct ms_err *err_r)
{
	struct store_folder *f = NULL;
	size_t n = 0;
	int rc;

	*settled_r = 0;
	if ((rc = store_folder_list(s, account, &f, &n, err_r)) < 0)
		return rc;
	for (size_t i = 0; i < n && rc >= 0; i++)
		rc = pop3_local_folder(s, f[i].id, settled_r, err_r);
	free(f);
	return rc < 0 ? rc : MS_OK;
}
