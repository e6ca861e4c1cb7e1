/*
 * imap_sync.c - the per-account IMAP sync pass (imap_sync.h).
 *
 * One account is a chain of steps driven by command completions:
 *
 *	ready -> LIST (with STATUS where LIST-STATUS exists) [-> STATUS...]
 *	      -> reconcile folders with the store
 *	      -> per folder that changed: SELECT -> [flag diff] -> new
 *	         messages (pipelined UID FETCH ranges) -> final commit
 *	         -> push of local changes
 *	      -> done (the session stays logged in for the next pass)
 *
 * Only one folder is selected at a time; within it up to SYNC_IN_FLIGHT
 * fetch commands are pipelined.  The session hands every untagged
 * response to the oldest command in flight, so one event handler that
 * knows the current step sees them all.  Which command a FETCH answers
 * is not known (Dovecot answers a later pipelined UID FETCH before the
 * earlier one's tagged OK): new messages are checked against the UID
 * ranges in flight, and the watermark follows completed ranges only.
 * A range spans SYNC_RANGE_UIDS UIDs, or in a sparse UID space about as
 * many messages (cut where UID SEARCH finds every SYNC_RANGE_UIDS-th).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_client.h"
#include "imap/imap_cmd.h"
#include "imap/imap_utf7.h"
#include "log.h"
#include "session/imap_session.h"
#include "sync/imap_sync_int.h"
#include "sync/sync_date.h"
#include "sync/sync_flags.h"
#include "sync/sync_folders.h"

static void sync_fetch_pump(struct imap_sync *as);
static void sync_diff_start(struct imap_sync *as);
static void sync_finish(struct imap_sync *as, int reason,
			const struct ms_err *err);
static void sync_on_cut_search(struct imap_sync *as,
			       const struct imap_ev_search *se);

/* --- failures and commits ------------------------------------------------ */

/*
 * The pass ends.  A good pass leaves the session logged in for the next
 * one; a failed one closes it, since commands may still be out and the
 * session's state is not known, and ends when the owner hands the
 * session's end back (imap_sync_session_closed()).
 */
static void
sync_close(struct imap_sync *as, int rc)
{
	if (as->is_closing)
		return;
	as->is_closing = true;
	if (rc == MS_OK && imap_session_in_flight(as->sess) == 0) {
		sync_finish(as, MS_OK, NULL);
		return;
	}
	imap_session_close(as->sess, rc);
}

/* Tells the owner how far the pass is. */
static void
sync_progress(struct imap_sync *as)
{
	if (as->params.on_progress_cb == NULL || as->is_closing)
		return;
	as->sum.folder = as->has_run ? as->run.fold->name : NULL;
	as->sum.seconds = (double)(uv_hrtime() - as->t0) / 1e9;
	as->params.on_progress_cb(as, &as->sum, as->params.arg);
	as->sum.folder = NULL;
}

void
sync_fail(struct imap_sync *as, int rc, const char *fmt, ...)
{
	va_list ap;

	if (as->sum.rc == MS_OK) {
		as->sum.rc = rc;
		va_start(ap, fmt);
		vsnprintf(as->sum.error, sizeof(as->sum.error), fmt, ap);
		va_end(ap);
	}
	sync_close(as, rc);
}

/*
 * The watermark just past uid.  4294967295 is the last UID IMAP has: a
 * folder that holds it stays at it, that record being one the fetch
 * leaves out as stored (sync_run.known); the server has to give the
 * folder a new UIDVALIDITY to add more.
 */
static uint32_t
sync_uid_after(uint32_t uid)
{
	return uid < UINT32_MAX ? uid + 1 : UINT32_MAX;
}

/*
 * The UIDNEXT watermark while new messages stream in: just past the
 * last range whose command, and every one before it, completed OK.
 * Every UID below it is in this batch or an earlier commit, or does not
 * exist on the server, whatever order the responses came in.  False
 * when it does not move (or must not: a message was not stored).
 */
static bool
sync_watermark(const struct imap_sync *as, struct store_folder_state *st)
{
	const struct sync_run *r = &as->run;

	if (!as->has_run || !r->is_fetching || r->has_hole ||
	    r->done_hi < r->fetch_from)
		return false;
	memset(st, 0, sizeof(*st));
	st->uidvalidity = r->uidvalidity;
	st->uidnext = sync_uid_after(r->done_hi);
	return true;
}

/* Commits the batch, with the watermark (sync_watermark()). */
int
sync_commit(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_folder_state st;
	struct ms_err err = { 0 };
	int rc;

	if (sync_watermark(as, &st)) {

		if ((rc = store_batch_folder_state(as->batch, r->fold->id, &st,
						   STORE_FS_UIDVALIDITY |
						   STORE_FS_UIDNEXT)) < 0)
			goto fail;
	}
	if (store_batch_count(as->batch) == 0)
		return MS_OK;
	if ((rc = store_batch_commit(as->batch, &err)) < 0)
		goto fail;
	sync_progress(as);
	return MS_OK;
fail:
	sync_fail(as, rc, "store: %s", err.msg[0] ? err.msg : ms_strerror(rc));
	return rc;
}

int
sync_commit_if_full(struct imap_sync *as)
{
	if (store_batch_count(as->batch) < SYNC_BATCH_OPS &&
	    store_batch_commit_mem(as->batch) < SYNC_BATCH_MEM)
		return MS_OK;
	return sync_commit(as);
}

/* A batch operation could not be queued (out of memory): fatal. */
bool
sync_batch_ok(struct imap_sync *as, int rc)
{
	if (rc >= 0)
		return true;
	sync_fail(as, rc, "store batch: %s", ms_strerror(rc));
	return false;
}

/* One folder failed: log, keep what is complete, go on with the next. */
static void
sync_folder_error(struct imap_sync *as, const char *what,
		  const struct imap_ev_status *st)
{
	struct sync_run *r = &as->run;

	if (!r->is_failed && !r->is_msg_failed)
		as->sum.folder_errors++;
	r->is_failed = true;
	r->has_hole = true;
	log_err("acct=%s folder=%s %s failed: %.*s", as->name, r->fold->name,
		what, st != NULL ? (int)st->text.len : 0,
		st != NULL ? (const char *)st->text.p : "");
}

/* A number past the 32 bits IMAP gives it: the folder fails, the rest of
 * the account goes on. */
static void
sync_folder_fault(struct imap_sync *as, const struct sync_fold *f,
		  const char *cmd, const char *item, uint64_t num)
{
	as->sum.folder_errors++;
	log_err("acct=%s folder=%s %s reports %s %llu, past the 32-bit range "
		"(a server fault): folder not synced", as->name, f->name, cmd,
		item, (unsigned long long)num);
}

/* --- commands ------------------------------------------------------------ */

static void sync_on_event(struct imap_session *s, const struct imap_event *ev,
			  void *arg);

/* Submits the command just built (tag) with on_done; false on failure
 * (the account is failed then). */
bool
sync_submit(struct imap_sync *as, int tag, sync_done_fn *on_done)
{
	struct imap_session_cmd_cbs cbs = {
		.on_event_cb = sync_on_event,
		.on_done_cb = on_done,
		.arg = as,
	};
	int rc;

	if (tag < 0) {
		sync_fail(as, tag, "building a command: %s", ms_strerror(tag));
		return false;
	}
	if ((rc = imap_session_submit(as->sess, tag, &cbs)) < 0) {
		sync_fail(as, rc, "submitting a command: %s", ms_strerror(rc));
		return false;
	}
	return true;
}

/* True when a command's completion should be acted on. */
bool
sync_cmd_live(struct imap_sync *as, int rc)
{
	return rc >= 0 && !as->is_closing;
}

bool
sync_st_ok(const struct imap_ev_status *st)
{
	return st != NULL && st->status == IMAP_STATUS_OK;
}

static void sync_folder_error(struct imap_sync *as, const char *what,
			      const struct imap_ev_status *st);

/* A folder step's command completed: true to go on; on NO/BAD the folder
 * is logged as failed and left. */
static bool
sync_step_ok(struct imap_sync *as, int rc, const struct imap_ev_status *st,
	     const char *what)
{
	if (!sync_cmd_live(as, rc))
		return false;
	if (sync_st_ok(st))
		return true;
	sync_folder_error(as, what, st);
	sync_folder_done(as);
	return false;
}

/* "1:N" for the UIDs below the stored watermark. */
static void
sync_known_set(const struct sync_run *r, char *set, size_t size)
{
	snprintf(set, size, "1:%u", r->stored.state.uidnext - 1);
}

/* --- flags --------------------------------------------------------------- */

/* Merges what the server says about uid into the store's record. */
static void
sync_flags_pull(struct imap_sync *as, const struct store_msg *rec,
		struct ms_slice flags, uint64_t modseq)
{
	uint32_t server = sync_flags_from_imap(flags), conflicts, merged;
	uint64_t ms = modseq != 0 ? modseq : rec->modseq;

	merged = sync_flags_merge(rec->flags, rec->synced_flags, server,
				  &conflicts);
	if (merged == rec->flags && server == rec->synced_flags &&
	    ms == rec->modseq)
		return;
	if (conflicts != 0)
		log_info("acct=%s folder=%s uid=%u flags changed on both "
			 "sides, the server's value wins (bits 0x%x)", as->name,
			 as->run.fold->name, rec->uid, conflicts);
	if (server != rec->synced_flags || merged != rec->flags)
		as->sum.changed++;
	if (!sync_batch_ok(as, store_batch_msg_flags(as->batch, rec->folder_id,
						     rec->uid, merged, server,
						     ms)))
		return;
	(void)sync_commit_if_full(as);
}

/* Removes the records uid_lo..uid_hi that exist, counting them. */
static void
sync_expunge_range(struct imap_sync *as, uint32_t lo, uint32_t hi)
{
	struct sync_run *r = &as->run;
	struct store_msg_iter *it = NULL;
	struct store_msg m;
	uint64_t n = 0;

	if (store_msg_iter_new(as->params.store, r->fold->id, lo, &it) < 0)
		return;
	while (store_msg_iter_next(it, &m, NULL) == MS_OK && m.uid <= hi)
		n++;
	store_msg_iter_free(&it);
	if (n == 0)
		return;
	as->sum.deleted += n;
	if (!sync_batch_ok(as, store_batch_msg_expunge(as->batch, r->fold->id,
						       lo, hi)))
		return;
	(void)sync_commit_if_full(as);
}

static void
sync_on_vanished(struct imap_sync *as, const struct imap_ev_vanished *v)
{
	struct imap_seqset_iter it;
	uint32_t lo, hi;

	imap_seqset_iter_init(&it, v->set);
	while (imap_seqset_iter_next(&it, &lo, &hi) == MS_OK && !as->is_closing)
		sync_expunge_range(as, lo, hi);
}

/* --- events -------------------------------------------------------------- */

struct sync_fold *
sync_fold_add(struct imap_sync *as, const char *name)
{
	struct sync_fold *f;

	if (as->n_folds == as->folds_cap) {
		size_t cap = as->folds_cap ? as->folds_cap * 2 : 16;
		struct sync_fold *v = realloc(as->folds, cap * sizeof(*v));

		if (v == NULL) {
			sync_fail(as, MS_ENOMEM, "out of memory");
			return NULL;
		}
		as->folds = v;
		as->folds_cap = cap;
	}
	f = &as->folds[as->n_folds];
	memset(f, 0, sizeof(*f));
	if ((f->name = strdup(name)) == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return NULL;
	}
	as->n_folds++;
	return f;
}

static void
sync_on_list(struct imap_sync *as, const struct imap_ev_list *l)
{
	struct ms_buf name;
	struct sync_fold *f;

	if (l->is_lsub)
		return;
	ms_buf_init(&name, STORE_FOLDER_NAME_MAX);
	if (imap_utf7_decode(l->name, &name) < 0 || name.len == 0) {
		log_warn("acct=%s skipping folder %.*s: not a valid modified "
			 "UTF-7 name of at most %d bytes", as->name,
			 (int)l->name.len, (const char *)l->name.p,
			 STORE_FOLDER_NAME_MAX);
		ms_buf_deinit(&name);
		return;
	}
	for (size_t i = 0; i < as->n_folds; i++) {
		if (strcmp(as->folds[i].name, (const char *)name.p) != 0)
			continue;
		/* Listed twice: one folder, with the attributes of both. */
		as->folds[i].attrs |= sync_folder_attrs(l->attrs,
							as->folds[i].name);
		ms_buf_deinit(&name);
		return;
	}
	if (as->n_folds == SYNC_FOLDERS_MAX) {
		ms_buf_deinit(&name);
		sync_fail(as, MS_EPROTO, "the server lists more than %d "
			  "folders, the most mailsyncd takes", SYNC_FOLDERS_MAX);
		return;
	}
	f = sync_fold_add(as, (const char *)name.p);
	ms_buf_deinit(&name);
	if (f == NULL)
		return;
	f->delim = (char)l->delim;
	f->attrs = sync_folder_attrs(l->attrs, f->name);
}

static void
sync_on_status(struct imap_sync *as, const struct imap_ev_status_data *sd)
{
	unsigned need = IMAP_STATUS_HAS_MESSAGES | IMAP_STATUS_HAS_UIDNEXT |
			IMAP_STATUS_HAS_UIDVALIDITY;
	struct ms_buf name;

	if ((sd->has & need) != need && (sd->bad & need) == 0)
		return;
	ms_buf_init(&name, STORE_FOLDER_NAME_MAX);
	if (imap_utf7_decode(sd->mailbox, &name) < 0) {
		ms_buf_deinit(&name);
		return;
	}
	for (size_t i = 0; i < as->n_folds; i++) {
		struct sync_fold *f = &as->folds[i];

		if (strcmp(f->name, (const char *)name.p) != 0)
			continue;
		if (sd->bad & need) {
			f->status_fault = (sd->bad & IMAP_STATUS_HAS_UIDNEXT) ?
				"UIDNEXT" : (sd->bad & IMAP_STATUS_HAS_MESSAGES) ?
				"MESSAGES" : "UIDVALIDITY";
			f->status_fault_num = sd->out_of_range;
			break;
		}
		f->st.has_status = true;
		f->st.messages = sd->messages;
		f->st.uidnext = sd->uidnext;
		f->st.uidvalidity = sd->uidvalidity;
		f->st.highestmodseq = (sd->has & IMAP_STATUS_HAS_HIGHESTMODSEQ)
				      ? sd->highestmodseq : 0;
		break;
	}
	ms_buf_deinit(&name);
}

/* The personal namespace: its prefix is what the mirror strips. */
static void
sync_on_namespace(struct imap_sync *as, const struct imap_ev_namespace *ns)
{
	struct ms_buf name;

	if (!ns->has_personal)
		return;
	ms_buf_init(&name, STORE_NS_PREFIX_MAX);
	if (imap_utf7_decode(ns->personal_prefix, &name) < 0 ||
	    (name.len > 0 && memchr(name.p, '\0', name.len) != NULL)) {
		log_warn("acct=%s the personal namespace prefix %.*s is not "
			 "a name of at most %d bytes: ignored", as->name,
			 (int)ns->personal_prefix.len,
			 (const char *)ns->personal_prefix.p,
			 STORE_NS_PREFIX_MAX);
	} else {
		if (name.len > 0)
			memcpy(as->ns_prefix, name.p, name.len);
		as->ns_prefix[name.len] = '\0';
		as->has_ns = true;
	}
	ms_buf_deinit(&name);
}

static void
sync_on_select_status(struct imap_sync *as, const struct imap_ev_status *st)
{
	struct sync_run *r = &as->run;

	/* 0 is no UIDVALIDITY or UIDNEXT: taken as given, 0 would mean
	 * "never synced" or "nothing is new".  Past 32 bits is a server
	 * fault that fails the folder (sync_select_done). */
	if ((st->code.code == IMAP_CODE_UIDVALIDITY ||
	     st->code.code == IMAP_CODE_UIDNEXT) &&
	    st->code.num > UINT32_MAX) {
		r->select_fault = st->code.code == IMAP_CODE_UIDNEXT ?
				  "UIDNEXT" : "UIDVALIDITY";
		r->select_fault_num = st->code.num;
		return;
	}
	switch (st->code.code) {
	case IMAP_CODE_UIDVALIDITY:
		if (st->code.num == 0)
			break;
		r->uidvalidity = (uint32_t)st->code.num;
		r->has_uidvalidity = true;
		break;
	case IMAP_CODE_UIDNEXT:
		if (st->code.num == 0)
			break;
		r->uidnext = (uint32_t)st->code.num;
		r->has_uidnext = true;
		break;
	case IMAP_CODE_HIGHESTMODSEQ:
		r->hms = st->code.num;
		break;
	case IMAP_CODE_NOMODSEQ:
		r->hms = 0;
		break;
	default:
		break;
	}
}

/* A FETCH with flags for a message the store may know (SELECT QRESYNC,
 * the flag diff, or an unsolicited change while fetching). */
static void
sync_on_fetch_flags(struct imap_sync *as, const struct imap_ev_fetch *fe)
{
	struct sync_run *r = &as->run;
	struct store_msg rec;

	if ((fe->has & IMAP_FETCH_HAS_UID) == 0 ||
	    (fe->has & IMAP_FETCH_HAS_FLAGS) == 0)
		return;
	if (store_msg_get(as->params.store, r->fold->id, fe->uid, &rec,
			  NULL) != MS_OK)
		return;
	sync_flags_pull(as, &rec, fe->flags,
			(fe->has & IMAP_FETCH_HAS_MODSEQ) ? fe->modseq : 0);
}

/* The flag diff: stored records the server does not list are noted as
 * gone (sync_diff_done expunges them). */
static void
sync_diff_advance(struct imap_sync *as, uint32_t upto)
{
	struct sync_run *r = &as->run;

	while (r->has_cur && r->cur.uid < upto && !as->is_closing) {
		if (r->is_gone_open) {
			r->gone[r->n_gone - 1].hi = r->cur.uid;
		} else {
			if (r->n_gone == r->gone_cap) {
				size_t cap = r->gone_cap ? r->gone_cap * 2 : 16;
				struct sync_uid_range *v =
					realloc(r->gone, cap * sizeof(*v));

				if (v == NULL) {
					sync_fail(as, MS_ENOMEM,
						  "out of memory");
					return;
				}
				r->gone = v;
				r->gone_cap = cap;
			}
			r->gone[r->n_gone++] = (struct sync_uid_range){
				r->cur.uid, r->cur.uid };
			r->is_gone_open = true;
		}
		r->has_cur = store_msg_iter_next(r->it, &r->cur, NULL) == MS_OK;
	}
}

/* The first of the n ranges v (in UID order) that ends at or after uid;
 * n when none does. */
static size_t
sync_ranges_find(const struct sync_uid_range *v, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].hi < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The server listed uid after a later one: it is not gone after all. */
static void
sync_diff_keep(struct imap_sync *as, uint32_t uid)
{
	struct sync_run *r = &as->run;
	size_t lo = sync_ranges_find(r->gone, r->n_gone, uid);

	if (lo == r->n_gone || r->gone[lo].lo > uid)
		return;
	if (r->gone[lo].lo == uid && r->gone[lo].hi == uid) {
		memmove(&r->gone[lo], &r->gone[lo + 1],
			(r->n_gone - lo - 1) * sizeof(r->gone[0]));
		r->n_gone--;
	} else if (r->gone[lo].lo == uid) {
		r->gone[lo].lo = uid + 1;
	} else if (r->gone[lo].hi == uid) {
		r->gone[lo].hi = uid - 1;
	} else {
		/* Split in two (UIDs in between that are not stored make
		 * no difference to an expunge). */
		struct sync_uid_range *v = r->gone;

		if (r->n_gone == r->gone_cap) {
			size_t cap = r->gone_cap * 2;

			if ((v = realloc(r->gone, cap * sizeof(*v))) == NULL) {
				sync_fail(as, MS_ENOMEM, "out of memory");
				return;
			}
			r->gone = v;
			r->gone_cap = cap;
		}
		memmove(&v[lo + 1], &v[lo], (r->n_gone - lo) * sizeof(v[0]));
		r->n_gone++;
		v[lo].hi = uid - 1;
		v[lo + 1].lo = uid + 1;
	}
	r->is_gone_open = false;
}

static void
sync_on_diff_fetch(struct imap_sync *as, const struct imap_ev_fetch *fe)
{
	struct sync_run *r = &as->run;

	if ((fe->has & IMAP_FETCH_HAS_UID) == 0)
		return;
	if (!r->has_cur || fe->uid < r->cur.uid) {
		/* Out of UID order: a record already passed. */
		sync_diff_keep(as, fe->uid);
		sync_on_fetch_flags(as, fe);
		return;
	}
	sync_diff_advance(as, fe->uid);
	if (r->has_cur && r->cur.uid == fe->uid) {
		r->is_gone_open = false;
		if (fe->has & IMAP_FETCH_HAS_FLAGS)
			sync_flags_pull(as, &r->cur, fe->flags,
					(fe->has & IMAP_FETCH_HAS_MODSEQ) ?
					fe->modseq : 0);
		r->has_cur = store_msg_iter_next(r->it, &r->cur, NULL) == MS_OK;
	}
}

static void
sync_on_fetch_body(struct imap_sync *as, const struct imap_ev_fetch_body *b)
{
	struct sync_run *r = &as->run;
	struct ms_err err = { 0 };

	store_body_writer_free(&r->w);
	r->is_w_failed = false;
	if (b->section.len != 0 || b->has_origin || b->is_nil)
		return;
	if (store_body_writer_new(as->params.store, b->size, &r->w, &err) < 0) {
		log_err("acct=%s folder=%s uid=%u %s", as->name,
			r->fold->name, b->uid, err.msg);
		r->is_w_failed = true;
	}
}

static void
sync_on_chunk(struct imap_sync *as, const struct imap_ev_literal_chunk *c)
{
	struct sync_run *r = &as->run;
	struct ms_err err = { 0 };

	if (r->w == NULL)
		return;
	if (store_body_writer_write(r->w, c->data.p, c->data.len, &err) < 0) {
		log_err("acct=%s folder=%s message body: %s", as->name,
			r->fold->name, err.msg);
		store_body_writer_free(&r->w);
		r->is_w_failed = true;
	}
}

/* A message asked for could not be stored: the watermark stays before
 * it (the next pass fetches it again) and the folder counts as failed. */
static void
sync_msg_not_stored(struct imap_sync *as, uint32_t uid, const char *why)
{
	struct sync_run *r = &as->run;

	log_err("acct=%s folder=%s uid=%u not stored: %s", as->name,
		r->fold->name, uid, why);
	r->has_hole = true;
	if (!r->is_failed && !r->is_msg_failed)
		as->sum.folder_errors++;
	r->is_msg_failed = true;
}

/* True when uid was stored before this fetch (sync_run.known). */
static bool
sync_uid_known(const struct sync_run *r, uint32_t uid)
{
	size_t i = sync_ranges_find(r->known, r->n_known, uid);

	return i < r->n_known && r->known[i].lo <= uid;
}

/* A new message is complete: its body goes into the batch. */
static void
sync_on_new_fetch(struct imap_sync *as, const struct imap_ev_fetch *fe)
{
	struct sync_run *r = &as->run;
	struct store_body *body = NULL;
	struct ms_err err = { 0 };
	struct store_msg m;
	const struct sync_fetch_range *first = &r->ranges[r->range_head];
	const struct sync_fetch_range *last = &r->ranges[
		(r->range_head + r->n_ranges + SYNC_RANGES - 1) % SYNC_RANGES];
	bool is_new = (fe->has & IMAP_FETCH_HAS_UID) != 0 &&
		      fe->uid >= r->fetch_from && r->n_ranges > 0 &&
		      fe->uid >= first->lo && fe->uid <= last->hi;
	bool is_w_failed = r->is_w_failed;
	bool is_again = false;

	r->is_w_failed = false;

	if ((fe->has & IMAP_FETCH_HAS_UID) == 0 &&
	    (fe->n_bodies > 0 || r->w != NULL || is_w_failed)) {
		/* A message asked for came without its UID: it cannot be
		 * stored, and the watermark must not pass it. */
		store_body_writer_free(&r->w);
		sync_msg_not_stored(as, 0, "a FETCH with a body but no UID");
		return;
	}
	if (!is_new && fe->n_bodies > 0 && (fe->has & IMAP_FETCH_HAS_UID) &&
	    fe->uid >= r->fetch_from) {
		/* No command in flight asked for it: a later range
		 * fetches it if it exists. */
		log_warn("acct=%s folder=%s uid=%u the server sent a message "
			 "not asked for: ignored", as->name, r->fold->name,
			 fe->uid);
	}
	if (!is_new) {
		/* "lo:*" answers with the last message even below lo; and
		 * a flag-only FETCH may be a change pushed meanwhile. */
		store_body_writer_free(&r->w);
		if (fe->n_bodies == 0)
			sync_on_fetch_flags(as, fe);
		return;
	}
	if (fe->n_bodies == 0 && r->w == NULL && !is_w_failed) {
		sync_on_fetch_flags(as, fe);
		return;
	}
	if (r->w == NULL || store_body_writer_finish(&r->w, &body, &err) < 0) {
		sync_msg_not_stored(as, fe->uid, err.msg[0] ? err.msg :
				    "no body in the FETCH response");
		return;
	}
	if ((fe->has & IMAP_FETCH_HAS_RFC822_SIZE) != 0 &&
	    store_body_size(body) != fe->rfc822_size) {
		/* Stored as sent: the literal is complete (a cut connection
		 * never gets here), and some servers (Exchange) report
		 * sizes that differ from the bytes they send; refusing it
		 * would leave the message out of the store for good. */
		log_warn("acct=%s folder=%s uid=%u the body has %llu bytes, "
			 "RFC822.SIZE said %llu: stored as sent", as->name,
			 r->fold->name, fe->uid,
			 (unsigned long long)store_body_size(body),
			 (unsigned long long)fe->rfc822_size);
	}
	if (fe->uid <= r->last_uid && !sync_uid_known(r, fe->uid)) {
		/* Out of UID order, or this UID again: a record this fetch
		 * stored is in the batch, where it cannot be read.  The
		 * commit leaves the watermark where it is, in case this is
		 * the second message of one UID. */
		bool has_hole = r->has_hole;

		is_again = true;
		r->has_hole = true;
		if (sync_commit(as) < 0) {
			store_body_free(&body);
			return;
		}
		r->has_hole = has_hole;
	}
	if (fe->uid > r->last_uid)
		r->last_uid = fe->uid;
	if (store_msg_get(as->params.store, r->fold->id, fe->uid, &m,
			  NULL) == MS_OK) {
		uint8_t hash[STORE_HASH_LEN];

		store_body_hash(body, hash);
		if (memcmp(hash, m.hash, STORE_HASH_LEN) != 0 && is_again) {
			/* Two messages with one UID: which one the UID
			 * names cannot be told.  The first stays, and the
			 * watermark does not pass it this pass. */
			store_body_free(&body);
			sync_msg_not_stored(as, fe->uid, "the server sent "
					    "another message with this UID in "
					    "the same fetch (a server fault): "
					    "the first one is kept");
			return;
		}
		if (memcmp(hash, m.hash, STORE_HASH_LEN) == 0) {
			/* Stored before the watermark could pass it (a
			 * crash, or a message not stored before it): a
			 * replaced record would lose its local flag
			 * changes, so the flags are merged instead. */
			store_body_free(&body);
			if (fe->has & IMAP_FETCH_HAS_FLAGS)
				sync_flags_pull(as, &m, fe->flags,
						(fe->has &
						 IMAP_FETCH_HAS_MODSEQ) ?
						fe->modseq : 0);
			return;
		}
	}
	memset(&m, 0, sizeof(m));
	m.folder_id = r->fold->id;
	m.uid = fe->uid;
	m.flags = m.synced_flags = sync_flags_from_imap(fe->flags);
	m.modseq = (fe->has & IMAP_FETCH_HAS_MODSEQ) ? fe->modseq : 0;
	if ((fe->has & IMAP_FETCH_HAS_INTERNALDATE) == 0 ||
	    sync_date_parse(fe->internaldate, &m.internal_date) < 0)
		m.internal_date = 0;
	as->sum.new_msgs++;
	as->sum.bytes += store_body_size(body);
	if (!sync_batch_ok(as, store_batch_msg_add(as->batch, &m, body)))
		return;
	(void)sync_commit_if_full(as);
}

static void
sync_on_event(struct imap_session *s, const struct imap_event *ev, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	if (as->is_closing)
		return;
	switch (ev->type) {
	case IMAP_EV_LIST:
		if (as->step == SYNC_STEP_LIST)
			sync_on_list(as, &ev->u.list_resp);
		return;
	case IMAP_EV_STATUS:
		if (as->step == SYNC_STEP_LIST || as->step == SYNC_STEP_STATUS)
			sync_on_status(as, &ev->u.status_resp);
		return;
	case IMAP_EV_NAMESPACE:
		if (as->step == SYNC_STEP_NAMESPACE)
			sync_on_namespace(as, &ev->u.namespace_resp);
		return;
	default:
		break;
	}
	if (!as->has_run)
		return;
	switch (ev->type) {
	case IMAP_EV_UNTAGGED_STATUS:
		if (as->step == SYNC_STEP_SELECT)
			sync_on_select_status(as, &ev->u.status);
		else if (as->step == SYNC_STEP_PUSH)
			sync_push_on_event(as, ev);
		break;
	case IMAP_EV_EXISTS:
		r->exists = ev->u.num;
		break;
	case IMAP_EV_EXPUNGE:
		if (r->exists > 0)
			r->exists--;
		break;
	case IMAP_EV_VANISHED:
		/* Only for the UIDVALIDITY the store's UIDs belong to; our
		 * own UID EXPUNGE is accounted by the push. */
		if (as->step != SYNC_STEP_PUSH && r->has_uidvalidity &&
		    r->uidvalidity == r->stored.state.uidvalidity) {
			if (!ev->u.vanished.earlier && r->exists > 0) {
				struct imap_seqset_iter it;
				uint32_t lo, hi;

				imap_seqset_iter_init(&it, ev->u.vanished.set);
				while (imap_seqset_iter_next(&it, &lo, &hi) ==
				       MS_OK && r->exists > 0) {
					/* UIDs at or above UIDNEXT never
					 * existed: they count for nothing. */
					if (r->has_uidnext && hi >= r->uidnext)
						hi = r->uidnext - 1;
					if (hi < lo)
						continue;
					r->exists -= (hi - lo + 1 < r->exists)
						? hi - lo + 1 : r->exists;
				}
			}
			sync_on_vanished(as, &ev->u.vanished);
		}
		break;
	case IMAP_EV_SEARCH:
		if (as->step == SYNC_STEP_FETCH && r->is_cut_search)
			sync_on_cut_search(as, &ev->u.search);
		break;
	case IMAP_EV_FETCH_BODY:
		if (as->step == SYNC_STEP_FETCH)
			sync_on_fetch_body(as, &ev->u.body);
		break;
	case IMAP_EV_LITERAL_CHUNK:
		if (as->step == SYNC_STEP_FETCH)
			sync_on_chunk(as, &ev->u.chunk);
		break;
	case IMAP_EV_FETCH:
		if (as->step == SYNC_STEP_FETCH)
			sync_on_new_fetch(as, &ev->u.fetch);
		else if (as->step == SYNC_STEP_DIFF)
			sync_on_diff_fetch(as, &ev->u.fetch);
		else if (r->has_uidvalidity &&
			 r->uidvalidity == r->stored.state.uidvalidity)
			sync_on_fetch_flags(as, &ev->u.fetch);
		break;
	default:
		break;
	}
}

/* --- folder: finish and push --------------------------------------------- */

static void
sync_run_end(struct imap_sync *as)
{
	struct sync_run *r = &as->run;

	store_body_writer_free(&r->w);
	store_msg_iter_free(&r->it);
	free(r->gone);
	free(r->known);
	free(r->changes);
	sync_push_free(&r->push);
	ms_buf_deinit(&r->push_body);
	ms_buf_deinit(&r->push_crlf);
	memset(r, 0, sizeof(*r));
	as->has_run = false;
}

/* The folder is done (or failed): on with the next. */
void
sync_folder_done(struct imap_sync *as)
{
	if (as->is_closing)
		return;
	if (sync_commit(as) < 0)
		return;
	sync_run_end(as);
	as->sum.folders_done++;
	sync_progress(as);
	sync_folder_next(as);
}

/* The folder's messages are all in: the batch that completes it. */
static void
sync_fetch_complete(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_folder_state st = { 0 };
	unsigned mask = STORE_FS_UIDVALIDITY | STORE_FS_UIDNEXT |
			STORE_FS_HIGHESTMODSEQ | STORE_FS_MESSAGES;

	store_msg_iter_free(&r->it);
	if (r->is_failed) {
		/* Keep what is complete; the next pass resumes. */
		sync_folder_done(as);
		return;
	}
	if (r->mode == SYNC_MODE_CONDSTORE && !r->is_uid_check) {
		struct store_folder now;

		/* CHANGEDSINCE does not tell expunges: when the store holds
		 * as many messages as the server, none went (every UID below
		 * the watermark is stored); else diff the UIDs. */
		if (sync_commit(as) < 0)
			return;
		if (store_folder_get(as->params.store, r->fold->id, &now,
				     NULL) == MS_OK &&
		    now.local_count != r->exists) {
			r->is_uid_check = true;
			r->is_fetching = false;
			sync_diff_start(as);
			return;
		}
	}
	if (r->is_msg_failed) {
		/* No final state (the watermark stays before the message
		 * not stored, HIGHESTMODSEQ is not recorded), but the
		 * stored messages' local changes are pushed. */
		r->is_fetching = false;
		if (sync_commit(as) < 0 || sync_push_load(as) < 0)
			return;
		sync_push_next(as);
		return;
	}
	st.uidvalidity = r->uidvalidity;
	st.uidnext = r->stored.state.uidnext;
	if (r->has_uidnext && r->uidnext > st.uidnext)
		st.uidnext = r->uidnext;
	if (r->last_uid >= st.uidnext)
		st.uidnext = sync_uid_after(r->last_uid);
	if (r->last_uid == UINT32_MAX)
		log_warn("acct=%s folder=%s holds UID 4294967295, the last "
			 "one IMAP has: the server must renumber the folder "
			 "(a new UIDVALIDITY) before it can add messages",
			 as->name, r->fold->name);
	st.highestmodseq = r->hms;
	st.messages = r->exists;
	r->is_fetching = false;
	r->is_fetch_whole = true;
	if (!sync_batch_ok(as, store_batch_folder_state(as->batch, r->fold->id,
							&st, mask)))
		return;
	if (sync_commit(as) < 0)
		return;
	if (sync_push_load(as) < 0)
		return;
	sync_push_next(as);
}

/* --- folder: new messages ------------------------------------------------ */

/* Marks the range whose command completed (st) and retires the
 * completed ones at the head, moving done_hi. */
static void
sync_fetch_retire(struct imap_sync *as, const struct imap_ev_status *st)
{
	struct sync_run *r = &as->run;
	uint32_t tag = 0;

	if (st != NULL && imap_client_tag_parse(st->tag, &tag)) {
		for (unsigned i = 0; i < r->n_ranges; i++) {
			struct sync_fetch_range *fr =
				&r->ranges[(r->range_head + i) % SYNC_RANGES];

			if (fr->tag >= 0 && (uint32_t)fr->tag == tag &&
			    !fr->is_done) {
				fr->is_done = true;
				fr->is_ok = sync_st_ok(st);
				break;
			}
		}
	}
	while (r->n_ranges > 0 && r->ranges[r->range_head].is_done) {
		struct sync_fetch_range *fr = &r->ranges[r->range_head];

		if (fr->is_ok && fr->hi != UINT32_MAX)
			r->done_hi = fr->hi;
		r->range_head = (r->range_head + 1) % SYNC_RANGES;
		r->n_ranges--;
	}
}

static void
sync_fetch_done(struct imap_session *s, int rc,
		const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	r->in_flight--;
	sync_fetch_retire(as, st);
	store_body_writer_free(&r->w);
	/* A refused command ends the folder's fetch; a message that could
	 * not be stored does not: the later ones are still fetched (the
	 * watermark stays before it, so it is fetched again next pass). */
	if (!sync_st_ok(st)) {
		sync_folder_error(as, "UID FETCH", st);
		r->is_all_sent = true;
	}
	sync_fetch_pump(as);
}

/*
 * The UID set for the new messages lo..hi (hi UINT32_MAX: "lo:*") that
 * are not stored already; "" when every one is.  Walks r->known from
 * known_i, which only moves forward as ranges are sent in order.
 */
static void
sync_fetch_set(struct sync_run *r, uint32_t lo, uint32_t hi, char *set,
	       size_t size)
{
	size_t len = 0;
	uint32_t at = lo;

	set[0] = '\0';
	while (r->known_i < r->n_known && r->known[r->known_i].hi < lo)
		r->known_i++;
	for (size_t i = r->known_i; i < r->n_known && at <= hi; i++) {
		const struct sync_uid_range *k = &r->known[i];

		/* Only "lo:*" can hold more pieces than fit: the rest is
		 * asked for whole (a stored message fetched again is
		 * recognised by its body). */
		if (k->lo > hi || len + 48 > size)
			break;
		if (k->lo > at)
			len += (size_t)snprintf(set + len, size - len, "%s%u:%u",
						len > 0 ? "," : "", at,
						k->lo - 1);
		if (k->hi >= hi)
			return;
		at = k->hi + 1;
	}
	if (hi == UINT32_MAX) {
		/* "at:*" answers with the last message even when it is
		 * below at (and stored): not asked when every UID below
		 * UIDNEXT is stored.  Otherwise "*" also finds messages at
		 * or above a UIDNEXT the server got wrong. */
		if (!r->has_uidnext || at < r->uidnext)
			snprintf(set + len, size - len, "%s%u:*",
				 len > 0 ? "," : "", at);
	} else {
		snprintf(set + len, size - len, "%s%u:%u", len > 0 ? "," : "",
			 at, hi);
	}
}

/* --- folder: cuts of a sparse UID space (sync_run.cuts) ------------------- */

/* The fetch from the watermark spans far more UIDs than messages can be
 * new (a first sync of a folder whose UIDs run into the billions). */
static bool
sync_fetch_is_sparse(const struct sync_run *r)
{
	uint32_t span, n_new;

	if (!r->has_uidnext || r->exists == 0 || r->uidnext <= r->fetch_from)
		return false;
	span = r->uidnext - r->fetch_from;
	n_new = r->exists > r->stored.local_count ?
		r->exists - r->stored.local_count : 0;
	return span > SYNC_SPARSE_SPAN && span / 8 > n_new;
}

static void
sync_on_cut_search(struct imap_sync *as, const struct imap_ev_search *se)
{
	struct sync_run *r = &as->run;
	struct ms_slice cur = se->nums;
	uint32_t uid;

	while (r->n_cuts < SYNC_CUTS_MAX &&
	       imap_numlist_next(&cur, &uid) == MS_OK)
		if (r->n_cuts == 0 || uid > r->cuts[r->n_cuts - 1])
			r->cuts[r->n_cuts++] = uid;
}

static void
sync_cut_search_done(struct imap_session *s, int rc,
		     const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	if (!sync_cmd_live(as, rc) || !as->has_run || !r->is_cut_search)
		return;
	r->is_cut_search = false;
	if (!sync_st_ok(st)) {
		/* The rest in one range: slower to commit, as complete. */
		log_warn("acct=%s folder=%s UID SEARCH failed (%.*s): the "
			 "rest is fetched in one command", as->name,
			 r->fold->name, st != NULL ? (int)st->text.len : 0,
			 st != NULL ? (const char *)st->text.p : "");
		r->n_cuts = r->cut_i = 0;
		r->is_cuts_final = true;
	}
	sync_fetch_pump(as);
}

/* Asks for the next SYNC_CUTS_MAX cuts from lo on; false when none is
 * left to ask for (the rest is one range). */
static bool
sync_cut_search(struct imap_sync *as, uint32_t lo)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	char seqs[SYNC_CUTS_MAX * 11 + 1], uids[24];
	size_t len = 0;

	r->n_cuts = r->cut_i = 0;
	seqs[0] = '\0';
	for (unsigned k = 0; k < SYNC_CUTS_MAX; k++) {
		uint64_t seq = (uint64_t)r->cut_seq + SYNC_RANGE_UIDS;

		if (seq >= r->exists)
			break;
		r->cut_seq = (uint32_t)seq;
		len += (size_t)snprintf(seqs + len, sizeof(seqs) - len, "%s%u",
					len > 0 ? "," : "", r->cut_seq);
	}
	r->is_cuts_final = (uint64_t)r->cut_seq + SYNC_RANGE_UIDS >= r->exists;
	if (len == 0)
		return false;
	snprintf(uids, sizeof(uids), "%u:*", lo);
	r->is_cut_search = true;
	(void)sync_submit(as, imap_cmd_uid_search(core,
			  ms_slice_from_cstr(seqs), ms_slice_from_cstr(uids)),
			  sync_cut_search_done);
	return true;
}

/* The end of the sparse fetch's range from lo: the next cut, or
 * UINT32_MAX past the last.  False while the cuts are being asked for. */
static bool
sync_fetch_sparse_hi(struct imap_sync *as, uint32_t lo, uint64_t *hi_r)
{
	struct sync_run *r = &as->run;

	if (r->is_cut_search)
		return false;
	while (r->cut_i < r->n_cuts && r->cuts[r->cut_i] < lo)
		r->cut_i++;
	if (r->cut_i < r->n_cuts) {
		*hi_r = r->cuts[r->cut_i++];
		return true;
	}
	if (!r->is_cuts_final && sync_cut_search(as, lo))
		return false;
	*hi_r = UINT32_MAX;
	return true;
}

static void
sync_fetch_pump(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	/* At most SYNC_RANGE_UIDS / 2 pieces of at most 22 bytes. */
	char set[SYNC_RANGE_UIDS * 12 + 32], items[96];

	snprintf(items, sizeof(items), "UID FLAGS INTERNALDATE RFC822.SIZE%s "
		 "BODY.PEEK[]", (as->caps & IMAP_SESSION_CAP_CONDSTORE) ?
		 " MODSEQ" : "");
	while (!r->is_all_sent && r->in_flight < SYNC_IN_FLIGHT &&
	       r->n_ranges < SYNC_RANGES && !as->is_closing) {
		uint32_t lo = r->next_lo;
		uint64_t hi = (uint64_t)lo + SYNC_RANGE_UIDS - 1;
		struct sync_fetch_range *fr = &r->ranges[
			(r->range_head + r->n_ranges) % SYNC_RANGES];
		int tag;

		if (r->is_sparse && !sync_fetch_sparse_hi(as, lo, &hi))
			break;
		if (!r->has_uidnext || hi + 1 >= r->uidnext ||
		    hi >= UINT32_MAX) {
			hi = UINT32_MAX;
			r->is_all_sent = true;
		} else {
			r->next_lo = (uint32_t)hi + 1;
		}
		sync_fetch_set(r, lo, (uint32_t)hi, set, sizeof(set));
		if (set[0] == '\0') {
			/* All stored: a range that completed at once. */
			*fr = (struct sync_fetch_range){ .lo = lo,
				.hi = (uint32_t)hi, .tag = -1, .is_done = true,
				.is_ok = true };
			r->n_ranges++;
			sync_fetch_retire(as, NULL);
			continue;
		}
		tag = imap_cmd_uid_fetch(core, ms_slice_from_cstr(set), items,
					 0, false);
		if (!sync_submit(as, tag, sync_fetch_done))
			return;
		*fr = (struct sync_fetch_range){ .lo = lo, .hi = (uint32_t)hi,
						 .tag = tag };
		r->n_ranges++;
		r->in_flight++;
	}
	if (r->in_flight == 0 && r->is_all_sent && !r->is_cut_search &&
	    !as->is_closing)
		sync_fetch_complete(as);
}

/* Notes the records at or above fetch_from (see sync_run.known). */
static int
sync_fetch_load_known(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_msg_iter *it = NULL;
	struct store_msg m;
	int rc;

	r->n_known = r->known_i = 0;
	if ((rc = store_msg_iter_new(as->params.store, r->fold->id,
				     r->fetch_from, &it)) < 0)
		return rc;
	while ((rc = store_msg_iter_next(it, &m, NULL)) == MS_OK) {
		if (r->n_known > 0 && r->known[r->n_known - 1].hi + 1 == m.uid) {
			r->known[r->n_known - 1].hi = m.uid;
			continue;
		}
		if (r->n_known == r->known_cap) {
			size_t cap = r->known_cap ? r->known_cap * 2 : 16;
			struct sync_uid_range *v =
				realloc(r->known, cap * sizeof(*v));

			if (v == NULL) {
				rc = MS_ENOMEM;
				break;
			}
			r->known = v;
			r->known_cap = cap;
		}
		r->known[r->n_known++] = (struct sync_uid_range){ m.uid, m.uid };
	}
	store_msg_iter_free(&it);
	return rc == STORE_NOTFOUND ? MS_OK : rc;
}

static void
sync_fetch_known_done(struct imap_session *s, int rc,
		      const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;

	(void)s;
	if (sync_step_ok(as, rc, st, "UID FETCH (FLAGS of stored UIDs)"))
		sync_fetch_pump(as);
}

/*
 * The records above the watermark are left out of the fetch, but the
 * pass that moves the watermark past them records the SELECT's
 * HIGHESTMODSEQ, and later passes ask CHANGEDSINCE it (with CONDSTORE but
 * no QRESYNC only below the old watermark): a flag another client set on
 * one of them before this SELECT would never be read.  Their flags are
 * read first, flags only, merged as any flag update.  False when no
 * command went out.
 */
static bool
sync_fetch_known_flags(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	char set[32];

	if (r->n_known == 0)
		return false;
	snprintf(set, sizeof(set), "%u:%u", r->known[0].lo,
		 r->known[r->n_known - 1].hi);
	(void)sync_submit(as, imap_cmd_uid_fetch(core, ms_slice_from_cstr(set),
			  (as->caps & IMAP_SESSION_CAP_CONDSTORE) ?
			  "UID FLAGS MODSEQ" : "UID FLAGS", 0, false),
			  sync_fetch_known_done);
	return true;
}

static void
sync_fetch_start(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	int rc;

	as->step = SYNC_STEP_FETCH;
	r->fetch_from = r->stored.state.uidnext > 0 ?
			r->stored.state.uidnext : 1;
	r->next_lo = r->fetch_from;
	r->last_uid = 0;
	r->is_fetching = true;
	if ((r->is_sparse = sync_fetch_is_sparse(r))) {
		/* The messages below the watermark come first. */
		r->cut_seq = r->stored.local_count < r->exists ?
			     r->stored.local_count : 0;
		log_debug("acct=%s folder=%s UIDs %u to %u for at most %u "
			  "messages: fetched in ranges of existing UIDs",
			  as->name, r->fold->name, r->fetch_from, r->uidnext,
			  r->exists);
	}
	/* Nothing at or above fetch_from existed when the folder was
	 * selected: nothing new. */
	if (r->has_uidnext && r->uidnext <= r->fetch_from)
		r->is_all_sent = true;
	else if ((rc = sync_fetch_load_known(as)) < 0) {
		sync_fail(as, rc, "store: folder %s: %s", r->fold->name,
			  ms_strerror(rc));
		return;
	} else if (sync_fetch_known_flags(as)) {
		return;
	}
	sync_fetch_pump(as);
}

/* --- folder: flag diff ---------------------------------------------------- */

static void
sync_diff_done(struct imap_session *s, int rc,
	       const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	if (!sync_step_ok(as, rc, st, "UID FETCH (FLAGS)"))
		return;
	sync_diff_advance(as, r->stored.state.uidnext);
	store_msg_iter_free(&r->it);
	for (size_t i = 0; i < r->n_gone && !as->is_closing; i++)
		sync_expunge_range(as, r->gone[i].lo, r->gone[i].hi);
	r->n_gone = 0;
	r->is_gone_open = false;
	if (as->is_closing)
		return;
	if (r->is_uid_check)
		sync_fetch_complete(as);
	else
		sync_fetch_start(as);
}

static void
sync_diff_start(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	char set[32];

	if (r->stored.state.uidnext <= 1 || r->stored.local_count == 0) {
		if (r->is_uid_check)
			sync_fetch_complete(as);
		else
			sync_fetch_start(as);
		return;
	}
	as->step = SYNC_STEP_DIFF;
	if (store_msg_iter_new(as->params.store, r->fold->id, 1, &r->it) < 0) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return;
	}
	r->has_cur = store_msg_iter_next(r->it, &r->cur, NULL) == MS_OK;
	sync_known_set(r, set, sizeof(set));
	(void)sync_submit(as, imap_cmd_uid_fetch(core, ms_slice_from_cstr(set),
			  r->is_uid_check ? "UID" :
			  (as->caps & IMAP_SESSION_CAP_CONDSTORE) ?
			  "UID FLAGS MODSEQ" : "UID FLAGS", 0, false),
			  sync_diff_done);
}

/* --- folder: CONDSTORE flag changes --------------------------------------- */

static void
sync_changed_done(struct imap_session *s, int rc,
		  const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;

	(void)s;
	if (sync_step_ok(as, rc, st, "UID FETCH (CHANGEDSINCE)"))
		sync_fetch_start(as);
}

static void
sync_changed_start(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	char set[32];

	if (r->stored.state.uidnext <= 1 || r->stored.local_count == 0) {
		sync_fetch_start(as);
		return;
	}
	as->step = SYNC_STEP_CHANGED;
	sync_known_set(r, set, sizeof(set));
	(void)sync_submit(as, imap_cmd_uid_fetch(core, ms_slice_from_cstr(set),
			  "UID FLAGS MODSEQ", r->stored.state.highestmodseq,
			  false), sync_changed_done);
}

/* --- folder: UIDVALIDITY change ------------------------------------------- */

/*
 * In one transaction: every old record becomes a pending APPEND of its
 * body (so no body is lost), the records go, pending changes on old UIDs
 * are dropped, and the folder restarts under the new UIDVALIDITY.
 */
static int
sync_reset_folder(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_msg_iter *it = NULL;
	struct store_change *all = NULL;
	struct store_folder_state st = { 0 };
	struct store_msg m;
	size_t n_all = 0, n_dropped = 0, n_parked = 0;
	int rc;

	if ((rc = sync_commit(as)) < 0)
		return rc;
	rc = store_msg_iter_new(as->params.store, r->fold->id, 1, &it);
	if (rc < 0) {
		sync_fail(as, rc, "store: %s", ms_strerror(rc));
		return rc;
	}
	while (store_msg_iter_next(it, &m, NULL) == MS_OK) {
		struct store_change c = {
			.kind = STORE_CHANGE_APPEND,
			.folder_id = r->fold->id,
			.uid = m.uid,	/* parked */
			.internal_date = m.internal_date,
		};

		memcpy(c.hash, m.hash, STORE_HASH_LEN);
		if (!sync_batch_ok(as, store_batch_change_add(as->batch, &c,
							      NULL))) {
			store_msg_iter_free(&it);
			return MS_ENOMEM;
		}
		n_parked++;
	}
	store_msg_iter_free(&it);
	if (store_change_list(as->params.store, 0, SYNC_CHANGES_MAX, &all,
			      &n_all, NULL) == MS_OK) {
		for (size_t i = 0; i < n_all; i++) {
			if (all[i].folder_id != r->fold->id ||
			    all[i].kind == STORE_CHANGE_APPEND)
				continue;
			n_dropped++;
			if (!sync_batch_ok(as, store_batch_change_clear(
					as->batch, all[i].seq)))
				break;
		}
		free(all);
	}
	st.uidvalidity = r->uidvalidity;
	st.uidnext = 1;
	if (!sync_batch_ok(as, store_batch_msg_expunge(as->batch, r->fold->id,
						       1, UINT32_MAX)) ||
	    !sync_batch_ok(as, store_batch_folder_state(as->batch,
			r->fold->id, &st, STORE_FS_UIDVALIDITY |
			STORE_FS_UIDNEXT | STORE_FS_HIGHESTMODSEQ |
			STORE_FS_MESSAGES)))
		return MS_ENOMEM;
	if ((rc = sync_commit(as)) < 0)
		return rc;
	log_warn("acct=%s folder=%s UIDVALIDITY changed (%u -> %u): "
		 "fetching the folder again and re-matching its %zu "
		 "messages by content%s",
		 as->name, r->fold->name, r->stored.state.uidvalidity,
		 r->uidvalidity, n_parked, n_dropped > 0 ?
		 "; pending flag changes and deletions on old UIDs dropped" :
		 "");
	r->stored.state = st;
	r->stored.local_count = 0;
	r->mode = SYNC_MODE_INITIAL;
	return MS_OK;
}

/* --- folder: SELECT ------------------------------------------------------- */

static void
sync_select_done(struct imap_session *s, int rc,
		 const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	if (!sync_step_ok(as, rc, st, "SELECT"))
		return;
	if (r->select_fault != NULL) {
		sync_folder_fault(as, r->fold, "SELECT", r->select_fault,
				  r->select_fault_num);
		sync_folder_done(as);
		return;
	}
	if (!r->has_uidvalidity) {
		sync_folder_error(as, "SELECT (no UIDVALIDITY)", NULL);
		sync_folder_done(as);
		return;
	}
	if (r->stored.state.uidvalidity != 0 &&
	    r->stored.state.uidvalidity == r->uidvalidity &&
	    r->has_uidnext && r->uidnext < r->stored.state.uidnext) {
		/* UIDs below our watermark may be given to new messages:
		 * fetching from the watermark would miss them, and a
		 * reused UID would name a stored record of another
		 * message.  Treated as a UIDVALIDITY change: re-matched by
		 * content, nothing lost or mixed. */
		log_warn("acct=%s folder=%s the server's UIDNEXT went "
			 "backwards (%u, stored %u) under the same "
			 "UIDVALIDITY: re-matching the folder", as->name,
			 r->fold->name, r->uidnext, r->stored.state.uidnext);
		if (sync_reset_folder(as) < 0)
			return;
	} else if (r->stored.state.uidvalidity != 0 &&
		   r->stored.state.uidvalidity != r->uidvalidity) {
		if (sync_reset_folder(as) < 0)
			return;
	}
	if (r->mode == SYNC_MODE_FULL)
		sync_diff_start(as);
	else if (r->mode == SYNC_MODE_CONDSTORE)
		sync_changed_start(as);
	else
		sync_fetch_start(as);
}

static void
sync_folder_select(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	struct imap_select_opts opts = { 0 };

	as->step = SYNC_STEP_SELECT;
	as->sum.selected++;
	as->sum.is_selected = true;
	if (r->mode == SYNC_MODE_QRESYNC) {
		opts.qresync = true;
		opts.uidvalidity = r->stored.state.uidvalidity;
		opts.modseq = r->stored.state.highestmodseq;
	} else if ((as->caps & IMAP_SESSION_CAP_CONDSTORE) != 0 &&
		   (as->caps & IMAP_SESSION_CAP_QRESYNC) == 0) {
		/* With QRESYNC enabled every SELECT reports modseqs. */
		opts.condstore = true;
	}
	(void)sync_submit(as, imap_cmd_select(core,
			  ms_slice_from_cstr(r->fold->name), &opts),
			  sync_select_done);
}

void
sync_folder_next(struct imap_sync *as)
{
	struct ms_err err = { 0 };
	int rc;

	while (as->fi < as->n_folds && !as->is_closing) {
		struct sync_fold *f = &as->folds[as->fi++];
		struct sync_run *r = &as->run;
		struct store_msg top;

		if (!f->is_wanted)
			continue;
		sync_run_end(as);
		as->has_run = true;
		r->fold = f;
		ms_buf_init(&r->push_body, 1ull << 30);
		ms_buf_init(&r->push_crlf, 1ull << 30);
		rc = store_folder_get(as->params.store, f->id, &r->stored,
				      &err);
		if (rc != MS_OK) {
			sync_fail(as, rc < 0 ? rc : MS_ESTORE, "store: folder "
				  "%s: %s", f->name,
				  rc < 0 ? err.msg : "vanished");
			return;
		}
		if (f->status_fault != NULL) {
			sync_folder_fault(as, f, "STATUS", f->status_fault,
					  f->status_fault_num);
			continue;
		}
		/* A watermark that wrapped past the last UID (before
		 * sync_uid_after()): everything below it is stored.  (0
		 * is also what an empty folder without UIDNEXT keeps.) */
		if (r->stored.state.uidvalidity != 0 &&
		    r->stored.state.uidnext == 0 &&
		    store_msg_get(as->params.store, f->id, UINT32_MAX, &top,
				  NULL) == MS_OK)
			r->stored.state.uidnext = UINT32_MAX;
		r->mode = sync_folder_plan(&r->stored.state, &f->st, as->caps,
					   f->has_pending);
		log_debug("acct=%s folder=%s plan=%s", as->name, f->name,
			  sync_folder_mode_name(r->mode));
		if (r->mode == SYNC_MODE_SKIP)
			continue;
		sync_folder_select(as);
		return;
	}
	if (as->is_closing)
		return;
	sync_run_end(as);
	as->step = SYNC_STEP_DONE;
	sync_close(as, MS_OK);
}

/* --- discovery ------------------------------------------------------------ */

/*
 * A tombstone (STORE_FOLDER_GONE) the server lists again is a folder made
 * anew: it starts from nothing, as it did when gone folders were deleted
 * from the store.  The old UIDVALIDITY and UIDNEXT must not carry over: a
 * server that re-creates it under the same UIDVALIDITY with UIDs from 1
 * would have its messages below the old watermark never fetched.  The
 * reset is committed before store_folder_ensure() clears the mark, so a
 * crash in between repeats it.
 */
static int
sync_folder_revive(struct imap_sync *as, const struct sync_fold *f)
{
	struct store_folder old;
	struct store_folder_state st = { 0 };
	int rc;

	if (store_folder_find(as->params.store, as->name, f->name, &old,
			      NULL) != MS_OK || !(old.attrs & STORE_FOLDER_GONE))
		return MS_OK;
	log_info("acct=%s folder=%s is on the server again: synced anew",
		 as->name, f->name);
	if (!sync_batch_ok(as, store_batch_folder_state(as->batch, old.id, &st,
			STORE_FS_UIDVALIDITY | STORE_FS_UIDNEXT |
			STORE_FS_HIGHESTMODSEQ | STORE_FS_MESSAGES)))
		return MS_ENOMEM;
	rc = sync_commit(as);
	return rc < 0 ? rc : MS_OK;
}

/*
 * Pending moves' destinations are synced first (the rest keeps the LIST
 * order).  A copy the server made for an earlier attempt whose reply
 * never came (the connection cut, a crash, no COPYUID) is then fetched
 * before the source retries the move, which finds it by its body
 * (sync_push_move()) instead of copying again.  Moves both ways between
 * two folders still retry one of them before its destination is synced.
 * False when out of memory (the account is failed then).
 */
static bool
sync_folders_dests_first(struct imap_sync *as)
{
	struct sync_fold *v;
	size_t k = 0;

	if (as->n_folds == 0)
		return true;
	if ((v = malloc(as->n_folds * sizeof(*v))) == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return false;
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < as->n_folds; i++)
			if (as->folds[i].is_move_dest == (pass == 0))
				v[k++] = as->folds[i];
	memcpy(as->folds, v, as->n_folds * sizeof(*v));
	free(v);
	return true;
}

/*
 * For progress: the new messages the server's counts announce, summed
 * over the wanted folders (a folder with a new UIDVALIDITY counts whole).
 * An estimate: expunges elsewhere in a folder hide as many arrivals.
 */
static void
sync_expect(struct imap_sync *as, const struct store_folder *stored,
	    size_t n_stored)
{
	as->sum.msgs_expected = 0;
	for (size_t i = 0; i < as->n_folds; i++) {
		const struct sync_fold *f = &as->folds[i];
		uint32_t have = 0;

		if (!f->is_wanted || !f->st.has_status)
			continue;
		for (size_t j = 0; j < n_stored; j++)
			if (stored[j].id == f->id &&
			    stored[j].state.uidvalidity == f->st.uidvalidity)
				have = stored[j].local_count;
		if (f->st.messages > have)
			as->sum.msgs_expected += f->st.messages - have;
	}
	sync_progress(as);
}

/* The verdict on a stored folder the LIST left out (sync_missing). */
static enum sync_missing_verdict
sync_missing_verdict(const struct imap_sync *as, uint32_t id)
{
	for (size_t i = 0; i < as->n_missing; i++)
		if (as->missing[i].id == id)
			return as->missing[i].verdict;
	return SYNC_MISSING_ASKING;
}

/* Logs what goes with a folder gone from the server: its pending flag
 * changes, deletions and moves (a reader's moved file stays where it was
 * put, and the mirror records it there as a new message). */
static void
sync_folder_gone_log(struct imap_sync *as, const struct store_folder *f,
		     const struct store_change *ch, size_t n_ch)
{
	size_t n[STORE_CHANGE_MOVE + 1] = { 0 };

	for (size_t k = 0; k < n_ch; k++)
		if (ch[k].folder_id == f->id && ch[k].kind <= STORE_CHANGE_MOVE)
			n[ch[k].kind]++;
	if (n[STORE_CHANGE_FLAGS] + n[STORE_CHANGE_DELETE] +
	    n[STORE_CHANGE_MOVE] == 0) {
		log_info("acct=%s folder=%s is gone from the server: removing "
			 "it from the store", as->name, f->name);
		return;
	}
	log_warn("acct=%s folder=%s is gone from the server: removing it "
		 "from the store; pending changes dropped with it: %zu flag "
		 "change%s, %zu deletion%s, %zu move%s (a moved message's "
		 "file stays where the reader put it)", as->name, f->name,
		 n[STORE_CHANGE_FLAGS], n[STORE_CHANGE_FLAGS] == 1 ? "" : "s",
		 n[STORE_CHANGE_DELETE], n[STORE_CHANGE_DELETE] == 1 ? "" : "s",
		 n[STORE_CHANGE_MOVE], n[STORE_CHANGE_MOVE] == 1 ? "" : "s");
}

/* A stored folder the LIST left out and STATUS did not confirm gone:
 * kept (logged); true when its STORE_FOLDER_MISSING mark changes. */
static bool
sync_folder_kept(struct imap_sync *as, const struct store_folder *f,
		 enum sync_missing_verdict v)
{
	bool was_missing = (f->attrs & STORE_FOLDER_MISSING) != 0;

	if (v == SYNC_MISSING_EXISTS) {
		log_warn("acct=%s folder=%s is not in the server's LIST, but "
			 "STATUS finds it: kept, not synced this pass",
			 as->name, f->name);
		return was_missing;
	}
	log_warn("acct=%s folder=%s is not in the server's LIST, and STATUS "
		 "does not say it does not exist: kept; removed if the next "
		 "pass does not list it either", as->name, f->name);
	return !was_missing;
}

/*
 * Stored folders the LIST left out, confirmed gone (sync_missing), go
 * from the store; the others stay; wanted ones are created; pending
 * changes mark their folders.
 */
static void
sync_folders_settle(struct imap_sync *as)
{
	struct store_folder *stored = NULL;
	struct store_change *ch = NULL;
	struct ms_err err = { 0 };
	size_t n_stored = 0, n_ch = 0, n_marks = 0;
	int rc;

	rc = store_folder_list(as->params.store, as->name, &stored, &n_stored,
			       &err);
	if (rc < 0) {
		sync_fail(as, rc, "store: %s", err.msg);
		return;
	}
	if ((rc = store_change_list(as->params.store, 0, SYNC_CHANGES_MAX, &ch,
				    &n_ch, &err)) < 0) {
		free(stored);
		sync_fail(as, rc, "store: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < n_stored && !as->is_closing; i++) {
		bool is_listed = false;
		size_t n_local = 0;
		enum sync_missing_verdict v;

		for (size_t j = 0; j < as->n_folds && !is_listed; j++)
			is_listed = strcmp(as->folds[j].name,
					   stored[i].name) == 0;
		if (is_listed || (stored[i].attrs & STORE_FOLDER_GONE))
			continue;
		if (stored[i].attrs & STORE_FOLDER_CREATE) {
			if (!sync_create_add(as, &stored[i]))
				break;
			continue;
		}
		for (size_t k = 0; k < n_ch; k++)
			if (ch[k].folder_id == stored[i].id &&
			    ch[k].kind == STORE_CHANGE_APPEND)
				n_local++;
		if (n_local > 0) {
			/* Local messages not yet on the server would go
			 * with the folder: it stays until they are dealt
			 * with. */
			log_warn("acct=%s folder=%s is gone from the server "
				 "but holds %zu local message%s never "
				 "appended: kept in the store", as->name,
				 stored[i].name, n_local,
				 n_local == 1 ? "" : "s");
			continue;
		}
		v = sync_missing_verdict(as, stored[i].id);
		if (v != SYNC_MISSING_GONE) {
			/* After the commit: a mark to set or clear. */
			if (sync_folder_kept(as, &stored[i], v)) {
				stored[i].attrs ^= STORE_FOLDER_MISSING;
				stored[n_marks++] = stored[i];
			}
			continue;
		}
		sync_folder_gone_log(as, &stored[i], ch, n_ch);
		for (size_t k = 0; k < n_ch; k++)
			if (ch[k].folder_id == stored[i].id &&
			    !sync_batch_ok(as, store_batch_change_clear(
					as->batch, ch[k].seq)))
				break;
		if (as->acct->maildir != NULL) {
			/* A tombstone, so the mirror removes its files and
			 * does not take the directory for a new folder. */
			if (!sync_batch_ok(as, store_batch_msg_expunge(
					as->batch, stored[i].id, 1,
					UINT32_MAX)))
				break;
			stored[i].attrs = (stored[i].attrs &
					   ~STORE_FOLDER_MISSING) |
					  STORE_FOLDER_GONE;
			stored[n_marks++] = stored[i];
		} else if (!sync_batch_ok(as, store_batch_folder_delete(
				as->batch, stored[i].id))) {
			break;
		}
	}
	if (as->is_closing || sync_commit(as) < 0) {
		free(stored);
		free(ch);
		return;
	}
	/* After the commit that emptied the gone ones (a crash in between
	 * leaves them to the next pass, not marked with their records). */
	for (size_t i = 0; i < n_marks; i++) {
		uint32_t id;

		rc = store_folder_ensure(as->params.store, as->name,
					 stored[i].name, stored[i].delimiter,
					 stored[i].attrs, &id, &err);
		if (rc < 0) {
			free(stored);
			free(ch);
			sync_fail(as, rc, "store: folder %s: %s",
				  stored[i].name, err.msg);
			return;
		}
	}
	free(stored);
	for (size_t i = 0; i < n_ch &&
	     as->acct->direction == CFG_DIRECTION_BOTH; i++)
		for (size_t j = 0; j < as->n_folds; j++) {
			if (as->folds[j].is_wanted &&
			    as->folds[j].id == ch[i].folder_id)
				as->folds[j].has_pending = true;
			if (ch[i].kind == STORE_CHANGE_MOVE &&
			    as->folds[j].id == ch[i].dest_folder_id)
				as->folds[j].is_move_dest = true;
		}
	free(ch);
	if (!sync_folders_dests_first(as))
		return;
	sync_create_folders(as);
}

static void
sync_missing_status_done(struct imap_session *s, int rc,
			 const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	uint32_t tag = 0;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	if (st != NULL && imap_client_tag_parse(st->tag, &tag)) {
		for (size_t i = 0; i < as->n_missing; i++) {
			struct sync_missing *m = &as->missing[i];

			if (m->tag < 0 || (uint32_t)m->tag != tag)
				continue;
			/* Another NO or BAD leaves the verdict by
			 * absence (missing before: gone now). */
			if (sync_st_ok(st))
				m->verdict = SYNC_MISSING_EXISTS;
			else if (st->code.code == IMAP_CODE_NONEXISTENT)
				m->verdict = SYNC_MISSING_GONE;
			break;
		}
	}
	if (--as->missing_pending == 0)
		sync_folders_settle(as);
}

/*
 * Wanted folders go into the store.  A stored folder that a LIST (which
 * answered OK) left out may still exist: a server can leave a folder out
 * of one LIST.  Each is asked for with STATUS first; it goes only when
 * STATUS answers NO [NONEXISTENT], or when a second pass does not list it
 * either (STORE_FOLDER_MISSING).  Then sync_folders_settle().
 */
static void
sync_folders_reconcile(struct imap_sync *as)
{
	const struct cfg_list *pat = &as->acct->folders;
	struct imap_client *core = imap_session_core(as->sess);
	struct store_folder *stored = NULL;
	struct ms_err err = { 0 };
	size_t n_stored = 0;
	int rc;

	for (size_t i = 0; i < as->n_folds; i++) {
		struct sync_fold *f = &as->folds[i];

		f->is_wanted = (f->attrs & STORE_FOLDER_NOSELECT) == 0 &&
			       cfg_folder_wanted(pat->v, pat->n, f->name,
						  f->delim) &&
			       (as->only_folder == NULL ||
				strcmp(as->only_folder, f->name) == 0);
		if (!f->is_wanted)
			continue;
		as->sum.folders++;
		if (sync_folder_revive(as, f) < 0)
			return;
		rc = store_folder_ensure(as->params.store, as->name, f->name,
					 f->delim, f->attrs, &f->id, &err);
		if (rc < 0) {
			sync_fail(as, rc, "store: folder %s: %s", f->name,
				  err.msg);
			return;
		}
	}
	rc = store_folder_list(as->params.store, as->name, &stored, &n_stored,
			       &err);
	if (rc < 0) {
		sync_fail(as, rc, "store: %s", err.msg);
		return;
	}
	sync_expect(as, stored, n_stored);
	free(as->missing);
	as->missing = calloc(n_stored > 0 ? n_stored : 1,
			     sizeof(*as->missing));
	as->n_missing = 0;
	if (as->missing == NULL) {
		free(stored);
		sync_fail(as, MS_ENOMEM, "out of memory");
		return;
	}
	as->step = SYNC_STEP_STATUS;
	for (size_t i = 0; i < n_stored && !as->is_closing; i++) {
		struct sync_missing *m = &as->missing[as->n_missing];
		bool is_listed = false;

		for (size_t j = 0; j < as->n_folds && !is_listed; j++)
			is_listed = strcmp(as->folds[j].name,
					   stored[i].name) == 0;
		if (is_listed || (stored[i].attrs & (STORE_FOLDER_GONE |
						     STORE_FOLDER_CREATE)))
			continue;
		m->id = stored[i].id;
		m->verdict = (stored[i].attrs & STORE_FOLDER_MISSING) ?
			     SYNC_MISSING_GONE : SYNC_MISSING_UNSURE;
		m->tag = imap_cmd_status(core,
					 ms_slice_from_cstr(stored[i].name),
					 IMAP_STATUS_MESSAGES);
		as->n_missing++;
		if (m->tag < 0) {
			/* A name no command can carry: by absence alone. */
			m->tag = -1;
			continue;
		}
		if (!sync_submit(as, m->tag, sync_missing_status_done))
			break;
		as->missing_pending++;
	}
	free(stored);
	if (as->missing_pending == 0 && !as->is_closing)
		sync_folders_settle(as);
}

static void
sync_status_done(struct imap_session *s, int rc,
		 const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;

	(void)s;
	(void)st;
	if (!sync_cmd_live(as, rc))
		return;
	/* A folder whose STATUS failed has no status: it gets selected. */
	if (--as->status_pending == 0)
		sync_folders_reconcile(as);
}

static void
sync_list_done(struct imap_session *s, int rc, const struct imap_ev_status *st,
	       void *arg)
{
	struct imap_sync *as = arg;
	struct imap_client *core = imap_session_core(s);
	unsigned items = IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT |
			 IMAP_STATUS_UIDVALIDITY;

	if (!sync_cmd_live(as, rc))
		return;
	if (!sync_st_ok(st)) {
		sync_fail(as, MS_ERESP, "LIST failed: %.*s",
			  st != NULL ? (int)st->text.len : 0,
			  st != NULL ? (const char *)st->text.p : "");
		return;
	}
	if (as->caps & IMAP_SESSION_CAP_LIST_STATUS) {
		sync_folders_reconcile(as);
		return;
	}
	if (as->caps & IMAP_SESSION_CAP_CONDSTORE)
		items |= IMAP_STATUS_HIGHESTMODSEQ;
	as->step = SYNC_STEP_STATUS;
	for (size_t i = 0; i < as->n_folds; i++) {
		struct sync_fold *f = &as->folds[i];

		if ((f->attrs & STORE_FOLDER_NOSELECT) != 0 ||
		    !cfg_folder_wanted(as->acct->folders.v,
					as->acct->folders.n, f->name, f->delim))
			continue;
		if (!sync_submit(as, imap_cmd_status(core,
				 ms_slice_from_cstr(f->name), items),
				 sync_status_done))
			return;
		as->status_pending++;
	}
	if (as->status_pending == 0)
		sync_folders_reconcile(as);
}

/* LIST (with STATUS where LIST-STATUS exists): the pass's folders. */
static void
sync_list_start(struct imap_sync *as)
{
	struct imap_client *core = imap_session_core(as->sess);
	unsigned ret = 0, items = 0;

	if (as->caps & IMAP_SESSION_CAP_SPECIAL_USE)
		ret |= IMAP_LIST_RET_SPECIAL_USE;
	if (as->caps & IMAP_SESSION_CAP_LIST_STATUS) {
		items = IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT |
			IMAP_STATUS_UIDVALIDITY;
		if (as->caps & IMAP_SESSION_CAP_CONDSTORE)
			items |= IMAP_STATUS_HIGHESTMODSEQ;
	}
	as->step = SYNC_STEP_LIST;
	(void)sync_submit(as, imap_cmd_list(core, MS_SLICE_LIT(""),
			  MS_SLICE_LIT("*"), ret, items), sync_list_done);
}

static void
sync_namespace_done(struct imap_session *s, int rc,
		    const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct ms_err err = { 0 };

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	/* Without an answer the mirror keeps what it knew. */
	if (sync_st_ok(st) && (rc = store_account_ns_set(as->params.store,
				as->name, as->has_ns ? as->ns_prefix : "",
				&err)) < 0) {
		sync_fail(as, rc, "store: %s", err.msg);
		return;
	}
	sync_list_start(as);
}

static void
sync_unselect_done(struct imap_session *s, int rc,
		   const struct imap_ev_status *st, void *arg)
{
	/* Only the session's state matters: NO (nothing was selected, or
	 * the made-up name does not exist) leaves no folder selected. */
	(void)s;
	(void)rc;
	(void)st;
	(void)arg;
}

/* The first commands of the pass. */
static void
sync_begin(struct imap_sync *as)
{
	struct imap_client *core = imap_session_core(as->sess);
	struct imap_select_opts ro = { .read_only = true };
	int tag;

	as->caps = imap_session_caps(as->sess);
	/* A kept session may still have the last pass's folder selected;
	 * STATUS of it would not show new mail (RFC 3501 6.3.10).  Leave
	 * it, pipelined with what follows: without UNSELECT, by an EXAMINE
	 * that fails (which deselects; never CLOSE, which expunges). */
	if (as->params.is_selected) {
		tag = (as->caps & IMAP_SESSION_CAP_UNSELECT) ?
		      imap_cmd_unselect(core) :
		      imap_cmd_select(core, MS_SLICE_LIT(
				      "mailsync-deselect-nonexistent"), &ro);
		if (!sync_submit(as, tag, sync_unselect_done))
			return;
	}
	if ((as->caps & IMAP_SESSION_CAP_NAMESPACE) && !as->params.is_reused) {
		as->step = SYNC_STEP_NAMESPACE;
		(void)sync_submit(as, imap_cmd_namespace(
				  imap_session_core(as->sess)),
				  sync_namespace_done);
		return;
	}
	sync_list_start(as);
}

/* The end of the pass, once: what is complete is committed (the
 * watermark covers only it), then on_done. */
static void
sync_finish(struct imap_sync *as, int reason, const struct ms_err *err)
{
	if (as->is_done)
		return;
	as->is_closing = true;
	/* Whatever is complete stays: the watermark covers only it. */
	if (as->sum.rc != MS_ESTORE) {
		struct ms_err cerr = { 0 };

		struct store_folder_state st;

		if (sync_watermark(as, &st)) {
			if (store_batch_folder_state(as->batch,
						     as->run.fold->id, &st,
						     STORE_FS_UIDVALIDITY |
						     STORE_FS_UIDNEXT) < 0)
				store_batch_free(&as->batch);
		}
		if (as->batch != NULL && store_batch_count(as->batch) > 0 &&
		    store_batch_commit(as->batch, &cerr) < 0 &&
		    as->sum.rc == MS_OK) {
			as->sum.rc = MS_ESTORE;
			snprintf(as->sum.error, sizeof(as->sum.error),
				 "store: %.200s", cerr.msg);
		}
	}
	sync_run_end(as);
	if (as->sum.rc == MS_OK && as->is_stopping) {
		as->sum.rc = MS_ECANCELED;
		snprintf(as->sum.error, sizeof(as->sum.error), "interrupted");
	} else if (as->sum.rc == MS_OK && reason != MS_OK) {
		as->sum.rc = reason;
		snprintf(as->sum.error, sizeof(as->sum.error), "%s",
			 err != NULL && err->msg[0] ? err->msg :
			 ms_strerror(reason));
	} else if (as->sum.rc == MS_OK && as->step != SYNC_STEP_DONE) {
		as->sum.rc = MS_ECONN;
		snprintf(as->sum.error, sizeof(as->sum.error),
			 "the connection ended early");
	}
	as->sum.seconds = (double)(uv_hrtime() - as->t0) / 1e9;
	as->is_done = true;
	as->params.on_done_cb(as, &as->sum, as->params.arg);
}

/* --- public --------------------------------------------------------------- */

void
imap_sync_session_closed(struct imap_sync *as, int reason,
			 const struct ms_err *err)
{
	as->sess = NULL;
	sync_finish(as, reason, err);
}

int
imap_sync_start(const struct imap_sync_params *params,
		struct imap_sync **sync_r, struct ms_err *err_r)
{
	const struct cfg_account *a = params->account;
	struct imap_sync *as;
	int rc;

	if (a->protocol != CFG_PROTOCOL_IMAP || params->on_done_cb == NULL ||
	    params->sess == NULL)
		return ms_err_set(err_r, MS_EINVAL, "not an IMAP account "
				  "with a session");
	if ((as = calloc(1, sizeof(*as))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	as->params = *params;
	as->acct = a;
	as->name = a->name;
	as->sess = params->sess;
	as->t0 = uv_hrtime();
	if (params->only_folder != NULL &&
	    (as->only_folder = strdup(params->only_folder)) == NULL) {
		free(as);
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	}
	as->params.only_folder = as->only_folder;
	if ((rc = store_batch_new(params->store, &as->batch)) < 0) {
		free(as->only_folder);
		free(as);
		return ms_err_set(err_r, rc, "store batch: %s",
				  ms_strerror(rc));
	}
	*sync_r = as;
	sync_begin(as);
	return MS_OK;
}

void
imap_sync_stop(struct imap_sync *as)
{
	if (as == NULL || as->is_done || as->is_stopping)
		return;
	as->is_stopping = true;
	if (as->sess != NULL)
		sync_close(as, MS_ECANCELED);
}

void
imap_sync_free(struct imap_sync **syncp)
{
	struct imap_sync *as = *syncp;

	if (as == NULL)
		return;
	sync_run_end(as);
	store_batch_free(&as->batch);
	for (size_t i = 0; i < as->n_folds; i++)
		free(as->folds[i].name);
	free(as->folds);
	free(as->creates);
	free(as->only_folder);
	free(as->missing);
	free(as);
	*syncp = NULL;
}
