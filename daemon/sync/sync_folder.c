/*
 * sync_folder.c - one folder of an IMAP pass, as a chain of steps named
 * in one enum (enum sync_folder_step, imap_sync_int.h) and advanced by
 * one function, so that the order can be read in one place:
 *
 *	SELECT   SELECT, or SELECT (QRESYNC ...): VANISHED and changed
 *	         flags come with it; a new UIDVALIDITY (or a UIDNEXT gone
 *	         backwards) re-matches the folder (sync_reset_folder)
 *	REMATCH  after that: sizes and Message-IDs first, so only the
 *	         bodies that match nothing are fetched (sync_rematch.c)
 *	CHANGES  CONDSTORE: UID FETCH 1:n (FLAGS) (CHANGEDSINCE m)
 *	DIFF     UID FETCH 1:n (FLAGS) against the store: changes, expunges
 *	FETCH    new messages, pipelined UID FETCH ranges (sync_fetch.c)
 *	CHECK    CONDSTORE: counts that disagree send the folder back to
 *	         DIFF once, for expunges CHANGEDSINCE does not tell
 *	SETTLE   the batch that records the folder's final state
 *	PUSH     the folder's pending local changes (sync_push.c)
 *	DONE     commit, then the next folder
 *
 * sync_folder_after() decides the next step (pure: the plan, and what the
 * steps found); a step ends by calling sync_folder_step_done() (through
 * run.step_done where it lives in another file), never the next step
 * itself.  A failed folder goes to DONE from any step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_client.h"
#include "imap/imap_cmd.h"
#include "imap/imap_seqset.h"
#include "log.h"
#include "session/imap_session.h"
#include "sync/imap_sync_int.h"
#include "sync/sync_folders.h"

static const char *const sync_folder_step_names[] = {
	[SYNC_FOLDER_SELECT] = "select",
	[SYNC_FOLDER_REMATCH] = "rematch",
	[SYNC_FOLDER_CHANGES] = "changes",
	[SYNC_FOLDER_DIFF] = "diff",
	[SYNC_FOLDER_FETCH] = "fetch",
	[SYNC_FOLDER_CHECK] = "check",
	[SYNC_FOLDER_SETTLE] = "settle",
	[SYNC_FOLDER_PUSH] = "push",
	[SYNC_FOLDER_DONE] = "done",
};

static void sync_folder_next(struct imap_sync *as);
static void sync_folder_run(struct imap_sync *as);

const char *
sync_folder_step_name(enum sync_folder_step step)
{
	return (unsigned)step < sizeof(sync_folder_step_names) /
				sizeof(sync_folder_step_names[0]) ?
	       sync_folder_step_names[step] : "?";
}

/* The one setter of a folder's step. */
static void
sync_folder_set_step(struct imap_sync *as, enum sync_folder_step step)
{
	struct sync_run *r = &as->run;

	log_debug("acct=%s folder=%s step=%s->%s", as->name, r->fold->name,
		  sync_folder_step_name(r->step), sync_folder_step_name(step));
	r->step = step;
}

enum sync_folder_step
sync_folder_after(enum sync_folder_step done, enum sync_folder_mode mode,
		  bool is_failed, bool is_uid_check)
{
	if (is_failed)
		return SYNC_FOLDER_DONE;
	switch (done) {
	case SYNC_FOLDER_SELECT:
		return mode == SYNC_MODE_FULL ? SYNC_FOLDER_DIFF :
		       mode == SYNC_MODE_CONDSTORE ? SYNC_FOLDER_CHANGES :
		       mode == SYNC_MODE_REMATCH ? SYNC_FOLDER_REMATCH :
		       SYNC_FOLDER_FETCH;
	case SYNC_FOLDER_REMATCH:
	case SYNC_FOLDER_CHANGES:
		return SYNC_FOLDER_FETCH;
	case SYNC_FOLDER_DIFF:
		/* The second diff (for expunges) follows the fetch. */
		return is_uid_check ? SYNC_FOLDER_SETTLE : SYNC_FOLDER_FETCH;
	case SYNC_FOLDER_FETCH:
		return SYNC_FOLDER_CHECK;
	case SYNC_FOLDER_CHECK:
		return is_uid_check ? SYNC_FOLDER_DIFF : SYNC_FOLDER_SETTLE;
	case SYNC_FOLDER_SETTLE:
		return SYNC_FOLDER_PUSH;
	case SYNC_FOLDER_PUSH:
	case SYNC_FOLDER_DONE:
		break;
	}
	return SYNC_FOLDER_DONE;
}

void
sync_folder_step_done(struct imap_sync *as)
{
	struct sync_run *r = &as->run;

	if (as->is_closing)
		return;
	/* The end of a first fetch: what reads the store beside the pass
	 * may want to finish before records change. */
	if (r->step == SYNC_FOLDER_FETCH && r->is_first &&
	    as->params.hold_cb != NULL &&
	    as->params.hold_cb(as, as->params.arg)) {
		as->is_held = true;
		return;
	}
	sync_folder_set_step(as, sync_folder_after(r->step, r->mode,
						   r->is_failed,
						   r->is_uid_check));
	sync_folder_run(as);
}

/* "1:N" for the UIDs below the stored watermark. */
static void
sync_known_set(const struct sync_run *r, char *set, size_t size)
{
	snprintf(set, size, "1:%u", r->stored.state.uidnext - 1);
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

/* An adopted record whose size is not the server's, or a server message
 * below an adopted folder's watermark without a record: fetched
 * (sync_refetch_plan() sorts the UIDs). */
static void
sync_refetch_add(struct imap_sync *as, uint32_t uid)
{
	struct sync_run *r = &as->run;

	if (r->n_refetch == r->refetch_cap) {
		size_t cap = r->refetch_cap ? r->refetch_cap * 2 : 16;
		uint32_t *v = realloc(r->refetch, cap * sizeof(*v));

		if (v == NULL) {
			sync_fail(as, MS_ENOMEM, "out of memory");
			return;
		}
		r->refetch = v;
		r->refetch_cap = cap;
	}
	r->refetch[r->n_refetch++] = uid;
}

static int
sync_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A UID the diff of an adopted folder lists that the store has no record
 * of: mbsync's state did not have it (mbsync skips a message whose header
 * it finds incomplete, and records nothing of it), so no pass would ever
 * fetch it below the watermark: it is fetched now.
 */
static void
sync_refetch_unstored(struct imap_sync *as, uint32_t uid)
{
	struct sync_run *r = &as->run;
	struct store_msg m;

	if (r->is_adopted && uid < r->stored.state.uidnext &&
	    store_msg_get(as->params.store, r->fold->id, uid, &m,
			  NULL) == STORE_NOTFOUND)
		sync_refetch_add(as, uid);
}

bool
sync_is_refetch(const struct sync_run *r, uint32_t uid)
{
	return r->n_refetch > 0 &&
	       bsearch(&uid, r->refetch, r->n_refetch, sizeof(uid),
		       sync_u32_cmp) != NULL;
}

/*
 * After the diff of an adopted folder: the watermark goes back to the
 * first UID to fetch again, so that the fetch asks for it (the records
 * above stay known and are left out).
 */
static void
sync_refetch_plan(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_folder_state st = { .uidnext = 0 };

	size_t n = 0;

	if (r->n_refetch > 1)
		qsort(r->refetch, r->n_refetch, sizeof(*r->refetch),
		      sync_u32_cmp);
	for (size_t i = 0; i < r->n_refetch; i++)
		if (n == 0 || r->refetch[n - 1] != r->refetch[i])
			r->refetch[n++] = r->refetch[i];
	r->n_refetch = n;
	if (r->n_refetch == 0 || r->refetch[0] >= r->stored.state.uidnext)
		return;
	log_warn("acct=%s folder=%s %zu messages of the adopted Maildir are "
		 "fetched: files that differ from the server's messages "
		 "(their size; the files stay as they are) or messages "
		 "mbsync did not copy", as->name, r->fold->name,
		 r->n_refetch);
	st.uidnext = r->refetch[0];
	if (!sync_batch_ok(as, store_batch_folder_state(as->batch, r->fold->id,
							&st, STORE_FS_UIDNEXT)))
		return;
	r->stored.state.uidnext = st.uidnext;
	/* The fetch reads each record to keep its flags and file: the
	 * diff's flag updates must be in the store by then. */
	(void)sync_commit(as);
}

static void
sync_on_diff_fetch(struct imap_sync *as, const struct imap_ev_fetch *fe)
{
	struct sync_run *r = &as->run;

	if ((fe->has & IMAP_FETCH_HAS_UID) == 0)
		return;
	if (!r->has_cur || fe->uid < r->cur.uid) {
		/* Out of UID order: a record already passed (or, past the
		 * last record, none). */
		sync_diff_keep(as, fe->uid);
		sync_on_fetch_flags(as, fe);
		sync_refetch_unstored(as, fe->uid);
		return;
	}
	sync_diff_advance(as, fe->uid);
	if (!r->has_cur || r->cur.uid != fe->uid)
		sync_refetch_unstored(as, fe->uid);
	if (r->has_cur && r->cur.uid == fe->uid) {
		r->is_gone_open = false;
		if (fe->has & IMAP_FETCH_HAS_FLAGS)
			sync_flags_pull(as, &r->cur, fe->flags,
					(fe->has & IMAP_FETCH_HAS_MODSEQ) ?
					fe->modseq : 0);
		if (r->is_adopted && (fe->has & IMAP_FETCH_HAS_RFC822_SIZE) &&
		    fe->rfc822_size != r->cur.size)
			sync_refetch_add(as, fe->uid);
		r->has_cur = store_msg_iter_next(r->it, &r->cur, NULL) == MS_OK;
	}
}

void
sync_run_end(struct imap_sync *as)
{
	struct sync_run *r = &as->run;

	store_body_writer_free(&r->w);
	store_msg_iter_free(&r->it);
	free(r->gone);
	free(r->refetch);
	free(r->known);
	free(r->added);
	free(r->changes);
	sync_push_free(&r->push);
	sync_rematch_free(&r->rematch);
	ms_buf_deinit(&r->push_body);
	ms_buf_deinit(&r->push_crlf);
	memset(r, 0, sizeof(*r));
	as->has_run = false;
}

/* The folder's last batch is committed: on with the next. */
static void
sync_folder_committed(struct imap_sync *as)
{
	sync_run_end(as);
	as->sum.folders_done++;
	sync_progress(as);
	sync_folder_next(as);
}

/* DONE: the folder is done (or failed): its last batch commits on the
 * pool (the loop never waits for its fsync), then the next folder. */
static void
sync_folder_done(struct imap_sync *as)
{
	if (as->is_closing)
		return;
	sync_commit_then(as, sync_folder_committed);
}

/* The counts disagree: the UIDs are diffed (DIFF comes next). */
static void
sync_folder_check_failed(struct imap_sync *as)
{
	struct sync_run *r = &as->run;

	r->is_uid_check = true;
	r->is_fetching = false;
	sync_folder_step_done(as);
}

/* A hit of UID SEARCH DELETED: one the store forgot counts. */
static void
sync_folder_check_on_search(struct imap_sync *as,
			    const struct imap_ev_search *sr)
{
	struct sync_run *r = &as->run;
	struct ms_slice cur = sr->nums;
	struct store_msg m;
	uint32_t uid;

	while (imap_numlist_next(&cur, &uid) == MS_OK)
		if (store_msg_get(as->params.store, r->fold->id, uid, &m,
				  NULL) == STORE_NOTFOUND)
			r->check_forgotten++;
}

static void
sync_folder_check_searched(struct imap_session *s, int rc,
			   const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	r->is_check_search = false;
	if (!sync_cmd_live(as, rc))
		return;
	if (sync_st_ok(st) &&
	    (uint64_t)r->check_local + r->check_forgotten == r->exists) {
		log_debug("acct=%s folder=%s %u message(s) marked \\Deleted "
			  "on the server, forgotten: no expunge", as->name,
			  r->fold->name, r->check_forgotten);
		sync_folder_step_done(as);
		return;
	}
	sync_folder_check_failed(as);
}

/*
 * CHECK: CHANGEDSINCE does not tell expunges.  When the store holds as
 * many messages as the server, none went (every UID below the watermark
 * is stored); else the UIDs are diffed (is_uid_check: DIFF comes next).
 * A server without UIDPLUS keeps what the reader deleted marked \Deleted
 * (sync_push.c) while the store forgot it: those, counted by one UID
 * SEARCH DELETED, do not send the folder to the diff every time it is
 * selected.
 */
static void
sync_folder_check_count(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_folder now;
	int tag;

	if (store_folder_get(as->params.store, r->fold->id, &now,
			     NULL) != MS_OK || now.local_count == r->exists) {
		sync_folder_step_done(as);
		return;
	}
	if (now.local_count > r->exists ||
	    (as->caps & IMAP_SESSION_CAP_UIDPLUS) != 0) {
		sync_folder_check_failed(as);
		return;
	}
	r->check_local = now.local_count;
	r->check_forgotten = 0;
	tag = imap_cmd_uid_search_deleted(imap_session_core(as->sess));
	if (sync_submit(as, tag, sync_folder_check_searched))
		r->is_check_search = true;
}

static void
sync_folder_check(struct imap_sync *as)
{
	struct sync_run *r = &as->run;

	store_msg_iter_free(&r->it);
	if (r->mode == SYNC_MODE_CONDSTORE && !r->is_uid_check) {
		/* The count is the store's, with the batch committed. */
		sync_commit_then(as, sync_folder_check_count);
		return;
	}
	sync_folder_step_done(as);
}

/* SETTLE: the folder's messages are all in: the batch that completes it
 * records its final state. */
static void
sync_folder_settle(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_folder_state st = { 0 };
	unsigned mask = STORE_FS_UIDVALIDITY | STORE_FS_UIDNEXT |
			STORE_FS_HIGHESTMODSEQ | STORE_FS_MESSAGES;

	store_msg_iter_free(&r->it);
	r->is_fetching = false;
	if (r->is_msg_failed) {
		/* No final state (the watermark stays before the message
		 * not stored, HIGHESTMODSEQ is not recorded), but the
		 * stored messages' local changes are pushed. */
		sync_commit_then(as, sync_folder_step_done);
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
	r->is_fetch_whole = true;
	if (!sync_batch_ok(as, store_batch_folder_state(as->batch, r->fold->id,
							&st, mask)))
		return;
	sync_commit_then(as, sync_folder_step_done);
}

/* PUSH: the folder's pending local changes (sync_push.c), which report
 * their end through run.step_done. */
static void
sync_folder_push(struct imap_sync *as)
{
	if (sync_push_load(as) == MS_OK)
		sync_push_next(as);
}

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
	sync_refetch_plan(as);
	if (as->is_closing)
		return;
	sync_folder_step_done(as);
}

static void
sync_diff_start(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	char set[32];

	if (r->stored.state.uidnext <= 1 || r->stored.local_count == 0) {
		sync_folder_step_done(as);	/* nothing to diff */
		return;
	}
	if (store_msg_iter_new(as->params.store, r->fold->id, 1, &r->it) < 0) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return;
	}
	r->has_cur = store_msg_iter_next(r->it, &r->cur, NULL) == MS_OK;
	sync_known_set(r, set, sizeof(set));
	(void)sync_submit(as, imap_cmd_uid_fetch(core, ms_slice_from_cstr(set),
			  r->is_uid_check ? "UID" :
			  r->is_adopted ? "UID FLAGS RFC822.SIZE" :
			  (as->caps & IMAP_SESSION_CAP_CONDSTORE) ?
			  "UID FLAGS MODSEQ" : "UID FLAGS", 0, false),
			  sync_diff_done);
}

static void
sync_changed_done(struct imap_session *s, int rc,
		  const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;

	(void)s;
	if (sync_step_ok(as, rc, st, "UID FETCH (CHANGEDSINCE)"))
		sync_folder_step_done(as);
}

static void
sync_changed_start(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	char set[32];

	if (r->stored.state.uidnext <= 1 || r->stored.local_count == 0) {
		sync_folder_step_done(as);	/* nothing stored to change */
		return;
	}
	sync_known_set(r, set, sizeof(set));
	(void)sync_submit(as, imap_cmd_uid_fetch(core, ms_slice_from_cstr(set),
			  "UID FLAGS MODSEQ", r->stored.state.highestmodseq,
			  false), sync_changed_done);
}

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
	if (store_change_list_folder(as->params.store, r->fold->id,
				     SYNC_CHANGES_MAX, &all, &n_all,
				     NULL) == MS_OK) {
		for (size_t i = 0; i < n_all; i++) {
			if (all[i].kind == STORE_CHANGE_APPEND)
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
		 "re-matching its %zu messages by size and Message-ID, then "
		 "by content%s",
		 as->name, r->fold->name, r->stored.state.uidvalidity,
		 r->uidvalidity, n_parked, n_dropped > 0 ?
		 "; pending flag changes and deletions on old UIDs dropped" :
		 "");
	r->stored.state = st;
	r->stored.local_count = 0;
	r->mode = SYNC_MODE_REMATCH;
	return MS_OK;
}

/* Sets (or clears) the folder's STORE_FOLDER_UNSELECTABLE mark, with
 * STORE_FOLDER_NOSELECT; false when the account failed. */
static bool
sync_select_mark(struct imap_sync *as, bool is_unselectable)
{
	struct sync_run *r = &as->run;
	uint32_t mark = STORE_FOLDER_UNSELECTABLE | STORE_FOLDER_NOSELECT;
	uint32_t attrs = r->fold->attrs | (is_unselectable ? mark : 0);
	struct ms_err err = { 0 };
	uint32_t id;
	int rc;

	if ((rc = store_folder_ensure(as->params.store, as->name,
				      r->fold->name, r->fold->delim, attrs,
				      &id, &err)) < 0) {
		sync_fail(as, rc, "store: folder %s: %s", r->fold->name,
			  err.msg);
		return false;
	}
	r->stored.attrs = attrs;
	return true;
}

/*
 * SELECT refused a folder the LIST shows as selectable.  One that was
 * never selected (no UIDVALIDITY, no records, nothing local waiting for
 * it) is taken for one whose \Noselect the server forgot (Gmail-like
 * "[Gmail]"): reported once, marked (no Maildir), skipped without
 * failing the pass.  True then; false for a folder that did sync before,
 * whose refusal is a folder error.  So is a refusal whose response code
 * says something else than "there is no such mailbox to select"
 * (RFC 5530: [UNAVAILABLE], [INUSE], [SERVERBUG], [LIMIT]...: the folder
 * may well hold mail, and the next pass tries again).
 */
static bool
sync_select_unselectable(struct imap_sync *as, const struct imap_ev_status *st)
{
	struct sync_run *r = &as->run;

	if (st == NULL || st->status != IMAP_STATUS_NO ||
	    r->stored.state.uidvalidity != 0 || r->stored.local_count != 0 ||
	    r->fold->has_pending)
		return false;
	if (st->code.name.len > 0 &&
	    !imap_code_is_any(&st->code, "NONEXISTENT CANNOT NOPERM"))
		return false;
	if ((r->stored.attrs & STORE_FOLDER_UNSELECTABLE) == 0) {
		log_warn("acct=%s folder=%s the server lists it as a folder but "
			 "refuses to SELECT it (%.*s): skipped as a folder "
			 "without messages, and not reported again while the "
			 "server refuses it", as->name, r->fold->name,
			 (int)(st->text.len > 200 ? 200 : st->text.len),
			 (const char *)st->text.p);
		if (!sync_select_mark(as, true))
			return true;
	}
	r->is_failed = true;	/* to DONE, counted as no error */
	sync_folder_step_done(as);
	return true;
}

/*
 * A folder no pass has synced, selected: an existing copy of it (a
 * Maildir mbsync filled) may be adopted instead of fetched
 * (imap_sync_params.adopt_cb).  Then the folder goes on as one synced
 * before: a flag diff below the watermark, a fetch above it.  A failed
 * adoption fails the folder (MS_OK: it goes to DONE); negative when the
 * pass failed (a store error).
 */
static int
sync_adopt(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct ms_err err = { 0 };
	int rc;

	if ((rc = sync_commit(as)) < 0)
		return rc;
	rc = as->params.adopt_cb(r->fold->id, r->fold->name, r->uidvalidity,
				 as->params.arg, &err);
	if (rc < 0) {
		if (!r->is_failed && !r->is_msg_failed)
			as->sum.folder_errors++;
		r->is_failed = true;
		r->has_hole = true;
		log_err("acct=%s folder=%s not synced: %s", as->name,
			r->fold->name, err.msg);
		return MS_OK;
	}
	if (rc == 0)
		return MS_OK;
	rc = store_folder_get(as->params.store, r->fold->id, &r->stored, &err);
	if (rc != MS_OK) {
		sync_fail(as, rc < 0 ? rc : MS_ESTORE, "store: folder %s: %s",
			  r->fold->name, rc < 0 ? err.msg : "vanished");
		return rc < 0 ? rc : MS_ESTORE;
	}
	r->mode = SYNC_MODE_FULL;
	r->is_adopted = true;
	return MS_OK;
}

static void
sync_select_done(struct imap_session *s, int rc,
		 const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	if (sync_cmd_live(as, rc) && sync_select_unselectable(as, st))
		return;
	if (!sync_step_ok(as, rc, st, "SELECT"))
		return;
	if ((r->stored.attrs & STORE_FOLDER_UNSELECTABLE) != 0) {
		log_info("acct=%s folder=%s the server selects it now: "
			 "synced", as->name, r->fold->name);
		if (!sync_select_mark(as, false))
			return;
	}
	if (r->select_fault != NULL) {
		sync_folder_fault(as, r->fold, "SELECT", r->select_fault,
				  r->select_fault_num);
		r->is_failed = true;
		sync_folder_step_done(as);
		return;
	}
	if (!r->has_uidvalidity) {
		sync_folder_error(as, "SELECT (no UIDVALIDITY)", NULL);
		sync_folder_step_done(as);
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
	} else if (r->stored.state.uidvalidity == 0 &&
		   r->stored.local_count == 0 &&
		   as->params.adopt_cb != NULL) {
		if (sync_adopt(as) < 0)
			return;
	}
	sync_folder_step_done(as);
}

static void
sync_folder_select(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	struct imap_select_opts opts = { 0 };

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

static void
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
		r->is_first = r->mode == SYNC_MODE_INITIAL;
		log_debug("acct=%s folder=%s plan=%s", as->name, f->name,
			  sync_folder_mode_name(r->mode));
		if (r->mode == SYNC_MODE_SKIP)
			continue;
		r->step_done = sync_folder_step_done;
		sync_folder_set_step(as, SYNC_FOLDER_SELECT);
		sync_folder_run(as);
		return;
	}
	if (as->is_closing)
		return;
	sync_run_end(as);
	as->after_folders(as);
}

/* Starts the step the folder is at. */
static void
sync_folder_run(struct imap_sync *as)
{
	switch (as->run.step) {
	case SYNC_FOLDER_SELECT:
		sync_folder_select(as);
		return;
	case SYNC_FOLDER_REMATCH:
		sync_rematch_start(as);
		return;
	case SYNC_FOLDER_CHANGES:
		sync_changed_start(as);
		return;
	case SYNC_FOLDER_DIFF:
		sync_diff_start(as);
		return;
	case SYNC_FOLDER_FETCH:
		sync_fetch_start(as);
		return;
	case SYNC_FOLDER_CHECK:
		sync_folder_check(as);
		return;
	case SYNC_FOLDER_SETTLE:
		sync_folder_settle(as);
		return;
	case SYNC_FOLDER_PUSH:
		sync_folder_push(as);
		return;
	case SYNC_FOLDER_DONE:
		sync_folder_done(as);
		return;
	}
}

void
imap_sync_resume(struct imap_sync *as)
{
	if (as == NULL || !as->is_held)
		return;
	as->is_held = false;
	if (as->is_closing || !as->has_run)
		return;
	as->run.is_first = false;	/* held once */
	sync_folder_step_done(as);
}

void
sync_folders_start(struct imap_sync *as)
{
	as->fi = 0;
	as->on_event = sync_folder_on_event;
	sync_folder_next(as);
}

/* Untagged responses while a folder is under way. */
void
sync_folder_on_event(struct imap_sync *as, const struct imap_event *ev)
{
	struct sync_run *r = &as->run;

	if (!as->has_run)
		return;
	switch (ev->type) {
	case IMAP_EV_UNTAGGED_STATUS:
		if (r->step == SYNC_FOLDER_SELECT)
			sync_on_select_status(as, &ev->u.status);
		else if (r->step == SYNC_FOLDER_PUSH)
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
		if (r->step != SYNC_FOLDER_PUSH && r->has_uidvalidity &&
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
		if (r->step == SYNC_FOLDER_CHECK && r->is_check_search)
			sync_folder_check_on_search(as, &ev->u.search);
		else if (r->step == SYNC_FOLDER_PUSH)
			sync_push_on_event(as, ev);	/* APPEND's copy */
		else if (r->step == SYNC_FOLDER_FETCH)
			sync_fetch_on_event(as, ev);
		break;
	case IMAP_EV_FETCH_BODY:
	case IMAP_EV_LITERAL_CHUNK:
		if (r->step == SYNC_FOLDER_FETCH)
			sync_fetch_on_event(as, ev);
		else if (r->step == SYNC_FOLDER_REMATCH)
			sync_rematch_on_event(as, ev);
		break;
	case IMAP_EV_FETCH:
		if (r->step == SYNC_FOLDER_PUSH)
			sync_push_on_event(as, ev);	/* APPEND's copies */
		if (r->step == SYNC_FOLDER_REMATCH)
			sync_rematch_on_event(as, ev);
		else if (r->step == SYNC_FOLDER_FETCH)
			sync_fetch_on_event(as, ev);
		else if (r->step == SYNC_FOLDER_DIFF)
			sync_on_diff_fetch(as, &ev->u.fetch);
		else if (r->has_uidvalidity &&
			 r->uidvalidity == r->stored.state.uidvalidity)
			sync_on_fetch_flags(as, &ev->u.fetch);
		break;
	default:
		break;
	}
}
