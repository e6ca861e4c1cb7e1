/*
 * imap_sync.c - the per-account IMAP sync pass (imap_sync.h): the order
 * of its parts, and its end.
 *
 *	discovery	which folders there are, reconciled with the store,
 *			and folders a reader made created (sync_discover.c,
 *			sync_create.c)
 *	folders		each wanted folder that changed or has local changes,
 *			one at a time, through its steps (sync_folder.c:
 *			select, changes, diff, fetch, check, settle, push)
 *	end		the last batch committed; the session stays logged
 *			in for the next pass
 *
 * Each part reports its end through the pointer this file sets
 * (after_discovery, after_folders) and never starts the next part; what
 * every part uses (commits, failures, commands) is in sync_pass.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session/imap_session.h"
#include "sync/imap_sync_int.h"
#include "sync/sync_commit.h"

static void sync_finish(struct imap_sync *as, int reason,
			const struct ms_err *err);

/* After discovery: the folders. */
static void
sync_pass_folders(struct imap_sync *as)
{
	as->step = SYNC_STEP_FOLDERS;
	sync_folders_start(as);
}

/*
 * After the last folder.  A good pass leaves the session logged in for
 * the next one; commands still out (none should be) are answered by a
 * LOGOUT first, and the pass ends with the session.
 */
static void
sync_pass_end(struct imap_sync *as)
{
	as->step = SYNC_STEP_DONE;
	as->on_event = NULL;
	if (as->is_closing)
		return;
	if (!as->is_end_committed) {
		/* The last batch, after the one behind, commits on the pool
		 * and this runs again: sync_finish() then has nothing to
		 * wait for on the loop. */
		as->is_end_committed = true;
		sync_commit_then(as, sync_pass_end);
		return;
	}
	as->is_closing = true;
	if (imap_session_in_flight(as->sess) == 0) {
		sync_finish(as, MS_OK, NULL);
		return;
	}
	imap_session_close(as->sess, MS_OK);
}

/* The end of the pass, once: what is complete is committed (the
 * watermark covers only it), then on_done. */
static void
sync_finish(struct imap_sync *as, int reason, const struct ms_err *err)
{
	if (as->is_done)
		return;
	as->is_closing = true;
	/* Whatever is complete stays: the watermark covers only it.  The
	 * batch committing behind the pass comes first.  After a failed
	 * commit, whatever its code (MS_ENOMEM, MS_EINVAL from the batch,
	 * not only MS_ESTORE), nothing more is committed: a watermark past
	 * the failed batch's messages would skip them for good. */
	if (as->behind != NULL && !as->has_commit_failed &&
	    as->sum.rc != MS_ESTORE) {
		struct ms_err cerr = { 0 };

		if (sync_commit_behind_join(as->behind, &cerr) < 0) {
			as->has_commit_failed = true;
			as->sum.rc = MS_ESTORE;
			snprintf(as->sum.error, sizeof(as->sum.error),
				 "store: %.200s", cerr.msg);
		}
	}
	if (!as->has_commit_failed && as->sum.rc != MS_ESTORE) {
		struct ms_err cerr = { 0 };
		struct store_folder_state st;

		if (sync_watermark(as, &st)) {
			if (store_batch_folder_state(as->batch,
						     as->run.fold->id, &st,
						     STORE_FS_UIDVALIDITY |
						     STORE_FS_UIDNEXT) < 0)
				store_batch_free(&as->batch);
		}
		if (as->batch != NULL && store_batch_count(as->batch) > 0) {
			if (as->params.loop != NULL)
				as->n_loop_commits++;
			if (store_batch_commit(as->batch, &cerr) < 0 &&
			    as->sum.rc == MS_OK) {
				as->sum.rc = MS_ESTORE;
				snprintf(as->sum.error, sizeof(as->sum.error),
					 "store: %.200s", cerr.msg);
			}
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
	/* What held the loop for the disk (tests read it). */
	log_debug("acct=%s pass loop_commits=%llu loop_waits=%llu "
		  "bodies_waiting_max=%zu", as->name,
		  (unsigned long long)as->n_loop_commits,
		  (unsigned long long)(as->behind != NULL ?
		  sync_commit_behind_waits(as->behind) : 0), as->max_waiting);
	as->sum.seconds = (double)(uv_hrtime() - as->t0) / 1e9;
	as->is_done = true;
	as->params.on_done_cb(as, &as->sum, as->params.arg);
}

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
	if (params->loop != NULL &&
	    (rc = sync_commit_behind_new(params->store, &as->behind)) < 0) {
		store_batch_free(&as->batch);
		free(as->only_folder);
		free(as);
		return ms_err_set(err_r, rc, "commits: %s", ms_strerror(rc));
	}
	if (as->behind != NULL)
		sync_commit_behind_on_retired(as->behind, sync_commit_on_retired,
					      as);
	as->after_discovery = sync_pass_folders;
	as->after_folders = sync_pass_end;
	*sync_r = as;
	sync_discover_start(as);
	return MS_OK;
}

void
imap_sync_stop(struct imap_sync *as)
{
	if (as == NULL || as->is_done || as->is_stopping)
		return;
	as->is_stopping = true;
	if (as->sess != NULL && !as->is_closing) {
		as->is_closing = true;
		imap_session_close(as->sess, MS_ECANCELED);
	}
}

void
imap_sync_free(struct imap_sync **syncp)
{
	struct imap_sync *as = *syncp;

	if (as == NULL)
		return;
	sync_run_end(as);
	sync_ensure_orphan(as);
	store_batch_free(&as->batch);
	sync_commit_behind_free(&as->behind);
	for (size_t i = 0; i < as->n_folds; i++)
		free(as->folds[i].name);
	free(as->folds);
	free(as->creates);
	free(as->only_folder);
	free(as->missing);
	free(as);
	*syncp = NULL;
}
