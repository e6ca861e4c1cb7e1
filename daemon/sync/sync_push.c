/*
 * sync_push.c - pushes a selected folder's pending local changes to the
 * server (direction = both): flag changes (UID STORE, UNCHANGEDSINCE
 * where CONDSTORE exists), deletions (\Deleted then UID EXPUNGE with
 * UIDPLUS), APPENDs bound to their UID by APPENDUID, and moves (UID MOVE,
 * or UID COPY + \Deleted + UID EXPUNGE) bound by COPYUID.  One change is
 * out at a time; each is cleared in the batch that records its outcome,
 * so a crash in between pushes it again, and a push found done already
 * (the body is in the folder) is cleared without a command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "imap/imap_cmd.h"
#include "imap/imap_seqset.h"
#include "log.h"
#include "sync/imap_sync_int.h"
#include "sync/sync_date.h"
#include "sync/sync_flags.h"

int
sync_push_load(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_change *all = NULL;
	struct ms_err err = { 0 };
	size_t n = 0, k = 0;
	int rc;

	if ((rc = store_change_list(as->params.store, 0, SYNC_CHANGES_MAX,
				    &all, &n, &err)) < 0) {
		sync_fail(as, rc, "store: %s", err.msg);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		if (all[i].folder_id == r->fold->id)
			all[k++] = all[i];
	r->changes = all;
	r->n_changes = k;
	r->ci = 0;
	return MS_OK;
}

/* True when the folder holds a record with this body. */
static bool
sync_folder_has_hash(struct imap_sync *as, const uint8_t *hash)
{
	struct store_msg_ref *refs = NULL;
	size_t n = 0;
	bool found = false;

	if (store_find_by_hash(as->params.store, hash, &refs, &n, NULL) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (refs[i].folder_id == as->run.fold->id)
			found = true;
	free(refs);
	return found;
}

static void
sync_push_clear(struct imap_sync *as, uint64_t seq)
{
	if (!sync_batch_ok(as, store_batch_change_clear(as->batch, seq)))
		return;
	(void)sync_commit_if_full(as);
}

static void
sync_push_store_done(struct imap_session *s, int rc,
		     const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;
	struct store_change *c = &r->push_c;
	struct store_msg *rec = &r->push_rec;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	if (!sync_st_ok(st) || st->code.code == IMAP_CODE_MODIFIED) {
		if (r->is_push_ok)
			log_warn("acct=%s folder=%s uid=%u the server did "
				 "not take the local change (%s%.*s); it stays "
				 "pending and is merged on the next pass",
				 as->name,
				 r->fold->name, c->uid,
				 st != NULL && st->code.code ==
				 IMAP_CODE_MODIFIED ? "MODIFIED " : "",
				 st != NULL ? (int)st->text.len : 0,
				 st != NULL ? (const char *)st->text.p : "");
		r->is_push_ok = false;
	}
	if (--r->push_pending > 0)
		return;
	if (r->is_push_ok) {
		if (c->kind == STORE_CHANGE_DELETE &&
		    (as->caps & IMAP_SESSION_CAP_UIDPLUS) != 0) {
			as->sum.deleted++;
			if (!sync_batch_ok(as, store_batch_msg_expunge(
					as->batch, c->folder_id, c->uid,
					c->uid)))
				return;
		} else {
			/* The server now holds what was synced plus what
			 * was sent.  The local view is read again: a local
			 * change made while the command was out (its own
			 * pending change follows) must not be undone. */
			uint32_t synced = (rec->synced_flags | r->push_add) &
					  ~r->push_rem;
			uint32_t f = synced;
			struct store_msg now;

			if (store_msg_get(as->params.store, c->folder_id,
					  c->uid, &now, NULL) == MS_OK)
				f = now.flags | (r->push_add &
						 STORE_FLAG_DELETED);
			if (c->kind != STORE_CHANGE_DELETE)
				as->sum.changed++;
			if (!sync_batch_ok(as, store_batch_msg_flags(
					as->batch, c->folder_id, c->uid, f,
					synced, rec->modseq)))
				return;
		}
		sync_push_clear(as, c->seq);
	}
	sync_push_next(as);
}

/* A finished store body holding the bytes of buf. */
static int
sync_body_from(struct imap_sync *as, const struct ms_buf *buf,
	       struct store_body **body_r)
{
	struct store_body_writer *w = NULL;
	struct ms_err err = { 0 };
	int rc;

	if ((rc = store_body_writer_new(as->params.store, buf->len, &w,
					&err)) < 0 ||
	    (rc = store_body_writer_write(w, buf->p, buf->len, &err)) < 0 ||
	    (rc = store_body_writer_finish(&w, body_r, &err)) < 0) {
		store_body_writer_free(&w);
		log_err("acct=%s storing an appended body: %s", as->name,
			err.msg);
		return rc;
	}
	return MS_OK;
}

/*
 * The server says it gave the message with body hash the UID uid in
 * folder_id (APPENDUID, COPYUID).  False when the store holds another
 * message under that UID: a server fault, logged; the record is not
 * replaced (the original would never be fetched again), and the message
 * sent is fetched like any new one.  A record of this very body is one an
 * earlier attempt bound: false too, quietly.
 */
static bool
sync_push_uid_free(struct imap_sync *as, uint32_t folder_id,
		   const char *folder, uint32_t uid,
		   const uint8_t hash[STORE_HASH_LEN], const char *code)
{
	struct store_msg m;

	if (store_msg_get(as->params.store, folder_id, uid, &m, NULL) != MS_OK)
		return true;
	if (memcmp(m.hash, hash, STORE_HASH_LEN) != 0)
		log_warn("acct=%s folder=%s %s names UID %u, which the store "
			 "holds for another message (a server fault): that "
			 "record stays, the message is fetched as a new one",
			 as->name, folder, code, uid);
	return false;
}

static void
sync_push_append_done(struct imap_session *s, int rc,
		      const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;
	struct store_change *c = &r->push_c;
	struct imap_seqset_iter it;
	uint32_t lo, hi;
	struct store_msg m;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	if (!sync_st_ok(st)) {
		ms_buf_reset(&r->push_body);
		log_warn("acct=%s folder=%s the server refused to append "
			 "a local message (it stays local and pending): %.*s",
			 as->name, r->fold->name,
			 st != NULL ? (int)st->text.len : 0,
			 st != NULL ? (const char *)st->text.p : "");
		sync_push_next(as);
		return;
	}
	as->sum.appended++;
	imap_seqset_iter_init(&it, st->code.set1);
	if (st->code.code == IMAP_CODE_APPENDUID &&
	    st->code.uidvalidity == r->uidvalidity &&
	    imap_seqset_iter_next(&it, &lo, &hi) == MS_OK && lo == hi &&
	    sync_push_uid_free(as, c->folder_id, r->fold->name, lo, c->hash,
			       "APPENDUID")) {
		/* Bound to its UID now; without APPENDUID the next pass
		 * fetches it like any new message (same body, stored
		 * once). */
		struct store_body *body = NULL;

		memset(&m, 0, sizeof(m));
		m.folder_id = c->folder_id;
		m.uid = lo;
		memcpy(m.hash, c->hash, STORE_HASH_LEN);
		m.internal_date = c->internal_date;
		m.size = r->push_rec.size;
		if (r->is_push_converted && sync_body_from(as, &r->push_body,
							   &body) < 0) {
			ms_buf_reset(&r->push_body);
			sync_push_next(as);
			return;
		}
		if (!sync_batch_ok(as, store_batch_msg_add(as->batch, &m,
							   body)))
			return;
	}
	ms_buf_reset(&r->push_body);
	sync_push_clear(as, c->seq);
	sync_push_next(as);
}

/* Sends UID STORE uid op (flags); false when the account failed. */
static bool
sync_push_store(struct imap_sync *as, uint32_t uid, uint64_t unchangedsince,
		const char *op, uint32_t flags)
{
	struct imap_client *core = imap_session_core(as->sess);
	char set[16], names[SYNC_FLAGS_TEXT_MAX];

	snprintf(set, sizeof(set), "%u", uid);
	if (sync_flags_to_imap(flags, names, sizeof(names)) < 0)
		return false;
	as->run.push_pending++;
	return sync_submit(as, imap_cmd_uid_store(core,
						  ms_slice_from_cstr(set),
						  unchangedsince, op, names),
			   sync_push_store_done);
}

/*
 * Marks uid \Deleted and, with UIDPLUS, expunges just it (a plain EXPUNGE
 * would take every message someone else marked).  Each command counts in
 * push_pending and completes in on_done.  False when the server has no
 * UIDPLUS, so the message is only marked.
 */
static bool
sync_push_remove(struct imap_sync *as, uint32_t uid, sync_done_fn *on_done)
{
	struct imap_client *core = imap_session_core(as->sess);
	bool has_uidplus = (as->caps & IMAP_SESSION_CAP_UIDPLUS) != 0;
	char set[16];

	snprintf(set, sizeof(set), "%u", uid);
	as->run.push_pending++;
	if (!sync_submit(as, imap_cmd_uid_store(core, ms_slice_from_cstr(set),
						0, "+FLAGS.SILENT",
						"\\Deleted"), on_done) ||
	    !has_uidplus)
		return has_uidplus;
	as->run.push_pending++;
	(void)sync_submit(as, imap_cmd_uid_expunge(core,
						   ms_slice_from_cstr(set)),
			  on_done);
	return true;
}

/*
 * IMAP messages end lines with CRLF; a local body with bare LF is sent
 * converted (into out), and the record is bound to the converted bytes,
 * which are what the server stores.  Returns MS_OK with out empty when
 * no conversion is needed.
 */
static int
sync_crlf(const struct ms_buf *in, struct ms_buf *out)
{
	bool needs = false;

	ms_buf_reset(out);
	for (size_t i = 0; i < in->len && !needs; i++)
		needs = in->p[i] == '\n' && (i == 0 || in->p[i - 1] != '\r');
	if (!needs)
		return MS_OK;
	for (size_t i = 0, start = 0; i <= in->len; i++) {
		int rc;

		if (i < in->len && !(in->p[i] == '\n' &&
				     (i == 0 || in->p[i - 1] != '\r')))
			continue;
		if ((rc = ms_buf_append(out, in->p + start, i - start)) < 0)
			return rc;
		if (i < in->len && (rc = ms_buf_append(out, "\r\n", 2)) < 0)
			return rc;
		start = i + 1;
	}
	return MS_OK;
}

/* --- moves --------------------------------------------------------------- */

/* COPYUID uidvalidity src dst for the one UID being moved: remember its
 * UID in the destination (when the destination's UIDVALIDITY is the one
 * the store knows, so the UID means something there). */
static void
sync_move_note_copyuid(struct imap_sync *as, const struct imap_resp_code *code)
{
	struct sync_run *r = &as->run;
	struct imap_seqset_iter si, di;
	uint32_t slo, shi, dlo, dhi;

	if (code->code != IMAP_CODE_COPYUID ||
	    r->push_c.kind != STORE_CHANGE_MOVE ||
	    code->uidvalidity == 0 ||
	    code->uidvalidity != r->move_dest.state.uidvalidity)
		return;
	imap_seqset_iter_init(&si, code->set1);
	imap_seqset_iter_init(&di, code->set2);
	if (imap_seqset_iter_next(&si, &slo, &shi) != MS_OK ||
	    imap_seqset_iter_next(&di, &dlo, &dhi) != MS_OK ||
	    slo != r->push_c.uid || shi != slo || dhi != dlo)
		return;
	r->move_uid = dlo;
}

void
sync_push_on_event(struct imap_sync *as, const struct imap_event *ev)
{
	if (ev->type == IMAP_EV_UNTAGGED_STATUS)
		sync_move_note_copyuid(as, &ev->u.status.code);
}

/*
 * The destination holds a copy whose UID COPYUID told: its record (same
 * body, so the mirror's file is adopted, not written again) goes into the
 * batch at once, so that a retry after a failure to remove the source
 * finds the copy (sync_push_move()) instead of copying again.
 */
static bool
sync_move_add_dest(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_msg m = r->push_rec;

	if (r->move_uid == 0 || r->is_move_dest_added)
		return true;
	if (!sync_push_uid_free(as, r->move_dest.id, r->move_dest.name,
				r->move_uid, r->push_rec.hash, "COPYUID")) {
		r->move_uid = 0;
		return true;
	}
	r->is_move_dest_added = true;
	m.folder_id = r->move_dest.id;
	m.uid = r->move_uid;
	m.modseq = 0;
	m.mirror_name[0] = '\0';
	if (!sync_batch_ok(as, store_batch_msg_add(as->batch, &m, NULL)))
		return false;
	if (m.flags != m.synced_flags) {
		/* Local flag changes not pushed yet travel along. */
		struct store_change fc = {
			.kind = STORE_CHANGE_FLAGS,
			.folder_id = m.folder_id,
			.uid = m.uid,
			.flags_add = m.flags & ~m.synced_flags,
			.flags_remove = m.synced_flags & ~m.flags,
		};

		if (!sync_batch_ok(as, store_batch_change_add(as->batch, &fc,
							      NULL)))
			return false;
	}
	return true;
}

/*
 * The message is in the destination and gone from the source: in one
 * batch the source record goes, the destination's comes (when COPYUID
 * named it; without, the destination fetches it like any new message),
 * and the pending change is cleared.
 */
static void
sync_move_finish(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	const struct store_change *c = &r->push_c;
	const struct store_msg *rec = &r->push_rec;

	as->sum.moved++;
	if (r->is_move_marked) {
		/* Copied and marked, not expunged: the source stays on the
		 * server, and in the store, as \Deleted. */
		if (!sync_batch_ok(as, store_batch_msg_flags(as->batch,
				c->folder_id, c->uid,
				rec->flags | STORE_FLAG_DELETED,
				rec->synced_flags | STORE_FLAG_DELETED,
				rec->modseq)))
			return;
	} else if (!sync_batch_ok(as, store_batch_msg_expunge(as->batch,
						c->folder_id, c->uid, c->uid))) {
		return;
	}
	if (!sync_move_add_dest(as))
		return;
	log_info("acct=%s folder=%s uid=%u moved to %s%s", as->name,
		 r->fold->name, c->uid, r->move_dest.name,
		 r->move_uid != 0 ? "" : " (no COPYUID: fetched there later)");
	sync_push_clear(as, c->seq);
}

static void
sync_move_refused(struct imap_sync *as, const char *what,
		  const struct imap_ev_status *st)
{
	struct sync_run *r = &as->run;

	log_warn("acct=%s folder=%s uid=%u the server refused to %s it to "
		 "%s (the move stays pending): %.*s", as->name, r->fold->name,
		 r->push_c.uid, what, r->move_dest.name,
		 st != NULL ? (int)st->text.len : 0,
		 st != NULL ? (const char *)st->text.p : "");
}

static void
sync_move_done(struct imap_session *s, int rc,
	       const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	if (!sync_st_ok(st)) {
		sync_move_refused(as, "move", st);
	} else {
		sync_move_note_copyuid(as, &st->code);
		sync_move_finish(as);
	}
	sync_push_next(as);
}

/* COPY + \Deleted + UID EXPUNGE, one after the other: the source is only
 * marked once the copy exists. */
static void
sync_move_expunge_done(struct imap_session *s, int rc,
		       const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	if (!sync_st_ok(st))
		r->is_push_ok = false;
	if (--r->push_pending > 0)
		return;
	if (r->is_push_ok) {
		sync_move_finish(as);
	} else {
		/* The copy exists; the source stays, marked or not.  The
		 * move stays pending and is retried: the next COPY would
		 * make a second copy, so the destination is fetched and
		 * the copy found by its body (sync_push_move()). */
		sync_move_refused(as, "expunge the source after copying", st);
	}
	sync_push_next(as);
}

/* The source of a copy: marked, and expunged with UIDPLUS. */
static void
sync_move_remove_source(struct imap_sync *as)
{
	struct sync_run *r = &as->run;

	r->is_push_ok = true;
	r->push_pending = 0;
	r->is_move_marked = !sync_push_remove(as, r->push_c.uid,
					      sync_move_expunge_done);
}

static void
sync_move_copy_done(struct imap_session *s, int rc,
		    const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	if (!sync_st_ok(st)) {
		sync_move_refused(as, "copy", st);
		sync_push_next(as);
		return;
	}
	sync_move_note_copyuid(as, &st->code);
	if (!sync_move_add_dest(as))
		return;
	/* Durable before the source is touched: after a crash from here on
	 * the retry must find the copy (sync_push_move()), and the folder
	 * order may sync the destination only after this source, so its
	 * fetch would come too late to stop a second COPY. */
	if (r->is_move_dest_added && sync_commit(as) < 0)
		return;
	sync_move_remove_source(as);
}

/* Starts a pending MOVE; true when a command went out. */
static bool
sync_push_move(struct imap_sync *as, const struct store_change *c)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	struct store_msg_ref *refs = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;
	bool is_there = false;
	char set[16];
	int rc;

	if (store_msg_get(as->params.store, c->folder_id, c->uid, &r->push_rec,
			  NULL) != MS_OK) {
		/* Expunged on the server meanwhile: the mirror's file in the
		 * destination is then a new message there. */
		sync_push_clear(as, c->seq);
		return false;
	}
	rc = store_folder_get(as->params.store, c->dest_folder_id,
			      &r->move_dest, &err);
	if (rc != MS_OK || (r->move_dest.attrs & (STORE_FOLDER_GONE |
						  STORE_FOLDER_CREATE))) {
		log_warn("acct=%s folder=%s uid=%u move: the destination "
			 "folder is %s (the move stays pending)", as->name,
			 r->fold->name, c->uid, rc < 0 ? err.msg :
			 rc != MS_OK || (r->move_dest.attrs &
					 STORE_FOLDER_GONE) ?
			 "gone from the server" : "not created yet");
		return false;
	}
	/* A copy made by an earlier attempt (UID COPY, then a failure or a
	 * crash before the source was removed) is in the destination
	 * already: only the source is left to remove.  Not with MOVE: it
	 * leaves no copy beside the source (one the server took is found
	 * by the source's record being gone, above), so a body already in
	 * the destination is another message with the same bytes (the
	 * same mail filed twice), which must not take this one's place.
	 * Without MOVE that case is not told apart from a copy. */
	if ((as->caps & IMAP_SESSION_CAP_MOVE) == 0 &&
	    store_find_by_hash(as->params.store, r->push_rec.hash, &refs, &n,
			       NULL) == MS_OK)
		for (size_t i = 0; i < n; i++)
			is_there |= refs[i].folder_id == r->move_dest.id;
	free(refs);
	snprintf(set, sizeof(set), "%u", c->uid);
	r->move_uid = 0;
	r->is_move_marked = r->is_move_dest_added = false;
	r->push_pending = 1;
	if (is_there || (as->caps & IMAP_SESSION_CAP_MOVE) == 0) {
		if (is_there) {
			sync_move_remove_source(as);
			return true;
		}
		(void)sync_submit(as, imap_cmd_uid_copy(core,
					ms_slice_from_cstr(set),
					ms_slice_from_cstr(r->move_dest.name)),
				  sync_move_copy_done);
		return true;
	}
	(void)sync_submit(as, imap_cmd_uid_move(core, ms_slice_from_cstr(set),
				ms_slice_from_cstr(r->move_dest.name)),
			  sync_move_done);
	return true;
}

/* --- one change ----------------------------------------------------------- */

/* Starts pushing change c; true when a command went out. */
static bool
sync_push_one(struct imap_sync *as, const struct store_change *c)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	bool is_both = as->acct->direction == CFG_DIRECTION_BOTH;
	struct store_msg *rec = &r->push_rec;
	uint64_t unch;
	uint32_t add, rem;
	int rc;

	r->push_c = *c;
	r->push_add = r->push_rem = 0;
	r->is_push_converted = false;
	r->push_pending = 0;
	r->is_push_ok = true;
	if (c->kind == STORE_CHANGE_APPEND) {
		char date[SYNC_DATE_TEXT_MAX];
		struct ms_err err = { 0 };

		if (sync_folder_has_hash(as, c->hash)) {
			/* The folder has this message: re-matched after a
			 * UIDVALIDITY change, or appended before a crash. */
			sync_push_clear(as, c->seq);
			return false;
		}
		if (!is_both)
			return false;
		if (c->uid != 0 && !r->is_fetch_whole) {
			/* Parked by a UIDVALIDITY change, and not every
			 * message of the folder is fetched again: it may be
			 * one of those still on the server. */
			r->n_parked_held++;
			return false;
		}
		ms_buf_reset(&r->push_body);
		rc = store_body_read_all(as->params.store, c->hash,
					 &r->push_body, &err);
		if (rc != MS_OK) {
			log_err("acct=%s folder=%s pending APPEND: body not "
				"readable: %s", as->name, r->fold->name,
				err.msg);
			return false;
		}
		if ((rc = sync_crlf(&r->push_body, &r->push_crlf)) < 0) {
			log_err("acct=%s folder=%s pending APPEND: %s",
				as->name, r->fold->name, ms_strerror(rc));
			return false;
		}
		if (r->push_crlf.len > 0) {
			struct ms_buf t = r->push_body;
			uint8_t h[STORE_HASH_LEN];

			r->push_body = r->push_crlf;
			r->push_crlf = t;
			ms_buf_reset(&r->push_crlf);
			r->is_push_converted = true;
			/* What the server holds of an APPEND taken before a
			 * crash (or without APPENDUID) is the converted
			 * body: found by that hash, it is not sent again. */
			if (EVP_Digest(r->push_body.p, r->push_body.len, h,
				       NULL, EVP_sha256(), NULL) == 1 &&
			    sync_folder_has_hash(as, h)) {
				ms_buf_reset(&r->push_body);
				sync_push_clear(as, c->seq);
				return false;
			}
		}
		rec->size = r->push_body.len;
		sync_date_format(c->internal_date, date);
		r->push_pending = 1;
		return sync_submit(as, imap_cmd_append(core,
				ms_slice_from_cstr(r->fold->name), NULL,
				c->internal_date != 0 ?
				ms_slice_from_cstr(date) :
				(struct ms_slice){ NULL, 0 },
				(struct ms_slice){ r->push_body.p,
						   r->push_body.len }),
				sync_push_append_done);
	}
	if (!is_both)
		return false;
	if (c->kind == STORE_CHANGE_MOVE)
		return sync_push_move(as, c);
	if (c->kind != STORE_CHANGE_FLAGS && c->kind != STORE_CHANGE_DELETE)
		return false;
	if (store_msg_get(as->params.store, c->folder_id, c->uid, rec,
			  NULL) != MS_OK) {
		/* Expunged on the server meanwhile: nothing to do. */
		sync_push_clear(as, c->seq);
		return false;
	}
	unch = (as->caps & IMAP_SESSION_CAP_CONDSTORE) ? rec->modseq : 0;
	if (c->kind == STORE_CHANGE_DELETE) {
		r->push_add = STORE_FLAG_DELETED;
		if (!sync_push_remove(as, c->uid, sync_push_store_done) &&
		    !as->is_closing && !as->warned_no_uidplus) {
			log_warn("acct=%s the server has no UIDPLUS: local "
				 "deletions are marked \\Deleted, not expunged",
				 as->name);
			as->warned_no_uidplus = true;
		}
		return true;
	}
	add = rec->flags & ~rec->synced_flags;
	rem = rec->synced_flags & ~rec->flags;
	if (add == 0 && rem == 0) {
		sync_push_clear(as, c->seq);
		return false;
	}
	r->push_add = add;
	r->push_rem = rem;
	/* UNCHANGEDSINCE on the first command only: it moves the modseq. */
	if (add != 0) {
		if (!sync_push_store(as, c->uid, unch, "+FLAGS.SILENT", add))
			return true;
		unch = 0;
	}
	if (rem != 0)
		(void)sync_push_store(as, c->uid, unch, "-FLAGS.SILENT", rem);
	return true;
}

void
sync_push_next(struct imap_sync *as)
{
	struct sync_run *r = &as->run;

	as->step = SYNC_STEP_PUSH;
	while (r->ci < r->n_changes && !as->is_closing) {
		if (sync_push_one(as, &r->changes[r->ci++]))
			return;
	}
	if (r->n_parked_held > 0)
		log_warn("acct=%s folder=%s %zu message%s from before the "
			 "UIDVALIDITY change not found again: appended only "
			 "after a pass that fetches the whole folder", as->name,
			 r->fold->name, r->n_parked_held,
			 r->n_parked_held == 1 ? "" : "s");
	sync_folder_done(as);
}

