/*
 * sync_pass.c - what every part of an IMAP pass uses (imap_sync_int.h):
 * failing the account or a folder, committing the batch with the UIDNEXT
 * watermark, sending commands, and taking the server's flags into a
 * record.  Nothing here decides what comes next: each part reports its
 * end through the pointers the orchestrator (imap_sync.c) and the folder
 * steps (sync_folder.c) set.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_client.h"
#include "imap/imap_cmd.h"
#include "log.h"
#include "session/imap_session.h"
#include "sync/imap_sync_int.h"
#include "sync/sync_commit.h"
#include "sync/sync_flags.h"

/* Untagged responses go to the part of the pass under way. */
static void
sync_on_event(struct imap_session *s, const struct imap_event *ev, void *arg)
{
	struct imap_sync *as = arg;

	(void)s;
	if (!as->is_closing && as->on_event != NULL)
		as->on_event(as, ev);
}

/*
 * The pass cannot go on: the session is closed, since commands may still
 * be out and its state is not known; the pass ends when the owner hands
 * the session's end back (imap_sync_session_closed()).
 */
static void
sync_close(struct imap_sync *as, int rc)
{
	if (as->is_closing)
		return;
	as->is_closing = true;
	imap_session_close(as->sess, rc);
}

void
sync_progress(struct imap_sync *as)
{
	if (as->params.on_progress_cb == NULL || as->is_closing)
		return;
	as->sum.folder = as->has_run ? as->run.fold->name : NULL;
	as->sum.is_adding = as->has_run && as->run.is_first &&
			    as->run.step == SYNC_FOLDER_FETCH;
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
uint32_t
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
bool
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

/* The result of the batch committing behind the pass (waiting for it);
 * a failure fails the account. */
static int
sync_commit_join(struct imap_sync *as)
{
	struct ms_err err = { 0 };
	int rc;

	if (as->behind == NULL ||
	    (rc = sync_commit_behind_join(as->behind, &err)) >= 0)
		return MS_OK;
	as->has_commit_failed = true;
	sync_fail(as, rc, "store: %s", err.msg[0] ? err.msg : ms_strerror(rc));
	return rc;
}

/* The watermark (sync_watermark()) into the batch. */
static int
sync_commit_watermark(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_folder_state st;
	int rc;

	if (!sync_watermark(as, &st))
		return MS_OK;
	if ((rc = store_batch_folder_state(as->batch, r->fold->id, &st,
					   STORE_FS_UIDVALIDITY |
					   STORE_FS_UIDNEXT)) < 0)
		sync_fail(as, rc, "store: %s", ms_strerror(rc));
	return rc;
}

/* Commits the batch, with the watermark, after the one committing behind
 * (so what the pass reads next is committed). */
int
sync_commit(struct imap_sync *as)
{
	struct ms_err err = { 0 };
	int rc;

	if ((rc = sync_commit_join(as)) < 0 ||
	    (rc = sync_commit_watermark(as)) < 0)
		return rc;
	if (store_batch_count(as->batch) == 0)
		return MS_OK;
	if (as->params.loop != NULL)
		as->n_loop_commits++;
	if ((rc = store_batch_commit(as->batch, &err)) < 0) {
		as->has_commit_failed = true;
		sync_fail(as, rc, "store: %s", err.msg[0] ? err.msg :
			  ms_strerror(rc));
		return rc;
	}
	sync_progress(as);
	return MS_OK;
}

/*
 * A full batch (new messages, mostly) is handed to a pool thread to
 * commit, with the watermark, once the one before it is committed and its
 * request retired.  Until then the pass goes on filling it, and the
 * retirement hands it out (sync_commit_on_retired()); the fetch asks for
 * no more messages while the bodies waiting in memory pass
 * SYNC_WAITING_MEM (sync_bodies_waiting()), which bounds the batch.  So
 * the loop never waits for a commit here, nor commits in place (without
 * a loop, every batch is committed in place).
 */
int
sync_commit_if_full(struct imap_sync *as)
{
	struct ms_err err = { 0 };
	int rc;

	if (store_batch_count(as->batch) < SYNC_BATCH_OPS &&
	    store_batch_commit_mem(as->batch) < SYNC_BATCH_MEM)
		return MS_OK;
	if (as->behind == NULL || as->params.loop == NULL)
		return sync_commit(as);
	if (!sync_commit_behind_is_finished(as->behind))
		return MS_OK;
	/* Finished: the join takes its result without waiting. */
	if ((rc = sync_commit_join(as)) < 0)
		return rc;
	if (!sync_commit_behind_is_ready(as->behind))
		return MS_OK;	/* retired later in this turn of the loop */
	if ((rc = sync_commit_watermark(as)) < 0)
		return rc;
	if (sync_commit_behind_start(as->behind, as->params.loop, &as->batch,
				     &err) < 0)
		return sync_commit(as);
	sync_progress(as);
	return MS_OK;
}

size_t
sync_bodies_waiting(struct imap_sync *as)
{
	size_t mem = as->batch != NULL ? store_batch_mem(as->batch) : 0;

	if (as->behind != NULL)
		mem += sync_commit_behind_mem(as->behind);
	return mem;
}

/*
 * One step of sync_commit_then(), run again each time a commit on the
 * pool is retired: the commit before is joined (it is finished by then),
 * the batch with the watermark is handed out, and once that one is joined
 * too the waiting step goes on.
 */
static void
sync_commit_then_step(struct imap_sync *as)
{
	void (*then)(struct imap_sync *as) = as->commit_then;
	struct ms_err err = { 0 };

	if (then == NULL || as->is_closing ||
	    !sync_commit_behind_is_finished(as->behind))
		return;
	if (sync_commit_join(as) < 0) {
		as->commit_then = NULL;
		return;
	}
	if (!as->is_commit_handed) {
		/* The request before is retired on a later turn. */
		if (!sync_commit_behind_is_ready(as->behind))
			return;
		if (sync_commit_watermark(as) < 0) {
			as->commit_then = NULL;
			return;
		}
		if (store_batch_count(as->batch) > 0) {
			if (sync_commit_behind_start(as->behind,
						     as->params.loop, &as->batch,
						     &err) == MS_OK) {
				as->is_commit_handed = true;
				return;
			}
			/* Not queued: in place after all. */
			if (sync_commit(as) < 0) {
				as->commit_then = NULL;
				return;
			}
		}
	}
	as->is_commit_handed = false;
	as->commit_then = NULL;
	sync_progress(as);
	then(as);
}

void
sync_commit_then(struct imap_sync *as, void (*then)(struct imap_sync *as))
{
	if (as->behind == NULL || as->params.loop == NULL) {
		if (sync_commit(as) == MS_OK)
			then(as);
		return;
	}
	as->commit_then = then;
	sync_commit_then_step(as);
}

/*
 * A commit on the pool retired: the step waiting for it goes on, or else
 * the batch the pass filled meanwhile is handed out if full, and a fetch
 * that stopped asking for messages (sync_bodies_waiting()) goes on.
 */
void
sync_commit_on_retired(void *arg)
{
	struct imap_sync *as = arg;

	if (as->commit_then != NULL) {
		sync_commit_then_step(as);
		return;
	}
	if (as->is_closing || as->is_done)
		return;
	if (sync_commit_if_full(as) < 0 || as->is_closing)
		return;
	if (as->has_run && as->run.is_fetching)
		sync_fetch_resume(as);
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
void
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
void
sync_folder_fault(struct imap_sync *as, const struct sync_fold *f,
		  const char *cmd, const char *item, uint64_t num)
{
	as->sum.folder_errors++;
	log_err("acct=%s folder=%s %s reports %s %llu, past the 32-bit range "
		"(a server fault): folder not synced", as->name, f->name, cmd,
		item, (unsigned long long)num);
}

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

/* Merges what the server says about uid into the store's record. */
void
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

/* The first of the n ranges v (in UID order) that ends at or after uid;
 * n when none does. */
size_t
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

int
sync_ranges_reserve(struct sync_uid_range **v, size_t *cap, size_t n)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	struct sync_uid_range *nv;

	if (n < *cap)
		return MS_OK;
	if ((nv = realloc(*v, ncap * sizeof(*nv))) == NULL)
		return MS_ENOMEM;
	*v = nv;
	*cap = ncap;
	return MS_OK;
}

/* A FETCH with flags for a message the store may know (SELECT QRESYNC,
 * the flag diff, or an unsolicited change while fetching). */
void
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

/* A folder step's command completed: true to go on; on NO/BAD the folder
 * is logged as failed and left. */
bool
sync_step_ok(struct imap_sync *as, int rc, const struct imap_ev_status *st,
	     const char *what)
{
	if (!sync_cmd_live(as, rc))
		return false;
	if (sync_st_ok(st))
		return true;
	sync_folder_error(as, what, st);
	as->run.step_done(as);
	return false;
}
