/*
 * acct.c - the account runtime (acct.h).
 *
 * The story of a pass, in the order the functions below run:
 *   acct_pass_begin()     a request or the timer: the mirror scan starts
 *                         (on the threadpool)
 *   acct_on_scan_done()   readers' changes are recorded: the engine's
 *                         pass (acct_pass_engine())
 *   acct_on_progress()    the engine's progress, throttled for watchers;
 *                         while the pass only adds messages, early
 *                         exports fill the mirror beside it
 *                         (acct_early_export(); acct_on_hold() keeps the
 *                         pass from changing records while one runs)
 *   acct_on_pass_done()   the engine's result; the export starts (after
 *                         an early one still running)
 *   acct_on_export_done() the mirror shows the store; the watch resumes
 *   acct_pass_end()       the policy (acct_policy.h) picks the next state
 *                         and delay; queued requests start the next pass
 * Stopping: acct_stop() cancels what runs and closes the engine and the
 * timer; acct_maybe_stopped() sets STOPPED once all of them reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acct/acct.h"
#include "acct/acct_hook.h"
#include "acct/acct_mirror.h"
#include "log.h"

/* Watchers hear of progress at most this often (and at every folder). */
#define ACCT_PROGRESS_EVERY_NS (250ull * 1000u * 1000u)

struct acct_sub {
	acct_event_fn *fn;		/* NULL: a free slot */
	void *arg;
};

struct acct {
	uv_loop_t *loop;
	struct store *store;
	struct cfg_account cfg;		/* the runtime's own copy */
	bool is_once;
	acct_event_fn *on_event_cb;
	void *arg;
	struct acct_sub *subs;
	size_t n_subs;
	struct acct_status st;
	const struct acct_engine_ops *ops;	/* NULL: disabled */
	struct acct_engine *engine;
	bool is_engine_closed;
	struct acct_mirror mirror;
	uv_timer_t timer;		/* the next pass */
	bool is_timer_closed;
	/* The pass under way: the scan, the engine's part, the export. */
	bool is_scanning;
	char *scan_folder;		/* the request the scan's pass serves */
	bool is_pass;
	char *pass_folder;		/* its only folder, NULL: all */
	bool is_exporting;
	struct acct_result res;		/* the engine's, during the export */
	/* Early exports (acct_mirror.h): one runs; more was committed
	 * since it began; the engine waits for it (acct_on_hold()); the
	 * pass ended and its export waits for it. */
	bool is_early;
	bool want_early;
	bool is_held;
	bool want_export;
	uint64_t progress_ns;		/* last progress event */
	/* Requests not yet served. */
	bool want_full;			/* a pass of every folder */
	char **want_folders;		/* passes of single folders */
	size_t n_want_folders;
	bool is_reader_changed;		/* the watch recorded a change */
	/* The running pass covers every folder; when the next such pass
	 * is due (uv_now): passes of one folder (push) do not move it, so
	 * the poll still sweeps every folder every poll_interval. */
	bool is_pass_full;
	uint64_t full_due_ms;
	bool is_paused;
	bool is_stopping;
	/* new_mail_cmd: which folder the pass's new mail went to (n: 0, 1,
	 * or 2 for several), the command running, and a run waiting for
	 * it to end. */
	char new_folder[STORE_FOLDER_NAME_MAX + 1];
	unsigned n_new_folders;
	uint64_t progress_msgs;
	struct acct_hook *hook;
	uint64_t hook_count;		/* waiting: 0 for none */
	char hook_folder[STORE_FOLDER_NAME_MAX + 1];
	bool is_hook_spared;		/* --once's end waits for it */
};

static const struct acct_engine_ops *acct_engine_forced;

static void acct_pass_begin(struct acct *a);
static void acct_maybe_stopped(struct acct *a);

/* --- small helpers ------------------------------------------------------ */

static uint64_t
acct_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The jitter: from the kernel's random source, so that many clients that
 * lost the same server do not come back in step. */
static uint32_t
acct_random(void)
{
	uint32_t r;
	int rc;

	if ((rc = uv_random(NULL, NULL, &r, sizeof(r), 0, NULL)) == 0)
		return r;
	log_warn("uv_random: %s; using the clock for the backoff jitter",
		 uv_strerror(rc));
	return (uint32_t)uv_hrtime();
}

/* Copies s into out for a reason="..." field, so that the log line stays
 * one line that splits on its quotes: a double quote becomes a single
 * one, a control character a space. */
static const char *
acct_quote(const char *s, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = c == '"' ? '\'' : c < 0x20 || c == 0x7f ? ' ' :
			 (char)c;
	}
	out[i] = '\0';
	return out;
}

static void
acct_emit(struct acct *a, enum acct_event ev)
{
	if (a->on_event_cb != NULL)
		a->on_event_cb(a, ev, a->arg);
	for (size_t i = 0; i < a->n_subs; i++)
		if (a->subs[i].fn != NULL)
			a->subs[i].fn(a, ev, a->subs[i].arg);
}

/* The one state setter: logs old -> new at debug and tells watchers. */
static void
acct_set_state(struct acct *a, enum acct_state state, const char *reason)
{
	enum acct_state old = a->st.state;

	if (reason != a->st.reason)	/* the same: kept as it is */
		snprintf(a->st.reason, sizeof(a->st.reason), "%s",
			 reason != NULL ? reason : "");
	if (old != state) {
		log_debug("acct=%s state=%s->%s", a->cfg.name,
			  acct_state_name(old), acct_state_name(state));
		a->st.state = state;
	}
	acct_emit(a, ACCT_EV_STATE);
}

static void
acct_on_timer(uv_timer_t *t)
{
	struct acct *a = t->data;

	acct_pass_begin(a);
}

static void
acct_schedule(struct acct *a, uint64_t delay_ms)
{
	if (delay_ms == ACCT_NEVER) {
		a->st.next_ms = 0;
		uv_timer_stop(&a->timer);
		return;
	}
	a->st.next_ms = acct_now_ms() + delay_ms;
	uv_timer_start(&a->timer, acct_on_timer, delay_ms, 0);
}

static bool
acct_is_running(const struct acct *a)
{
	return a->is_scanning || a->is_pass || a->is_exporting;
}

static bool
acct_has_request(const struct acct *a)
{
	return a->want_full || a->n_want_folders > 0;
}

/* --- new_mail_cmd ------------------------------------------------------------ */

static void acct_hook_run(struct acct *a, const char *folder, uint64_t count);

static void
acct_on_hook_done(struct acct_hook *h, void *arg)
{
	struct acct *a = arg;
	char folder[sizeof(a->hook_folder)];
	uint64_t count = a->hook_count;

	(void)h;
	a->hook = NULL;
	a->hook_count = 0;
	if (count > 0 && !a->is_stopping) {
		snprintf(folder, sizeof(folder), "%s", a->hook_folder);
		acct_hook_run(a, folder, count);
	}
	acct_maybe_stopped(a);
}

/* Runs new_mail_cmd now, or after the one that runs (the counts add
 * up; the folder is "" when they differ). */
static void
acct_hook_run(struct acct *a, const char *folder, uint64_t count)
{
	struct ms_err err = { 0 };

	if (a->hook != NULL) {
		if (a->hook_count == 0)
			snprintf(a->hook_folder, sizeof(a->hook_folder), "%s",
				 folder);
		else if (strcmp(a->hook_folder, folder) != 0)
			a->hook_folder[0] = '\0';
		a->hook_count += count;
		return;
	}
	if (acct_hook_start(a->loop, a->cfg.new_mail_cmd, a->cfg.name, folder,
			    count, acct_on_hook_done, a, &a->hook, &err) < 0)
		log_warn("acct=%s %s", a->cfg.name, err.msg);
	else
		log_debug("acct=%s new_mail_cmd: started for %llu in \"%s\"",
			  a->cfg.name, (unsigned long long)count, folder);
}

/* --- the end of a pass ---------------------------------------------------- */

static void
acct_log_next(struct acct *a, const struct acct_next *next,
	      unsigned failed_attempts)
{
	const struct acct_result *r = &a->st.last;
	const char *name = a->cfg.name;
	char reason[sizeof(a->st.reason)];
	char recovered[64] = "";
	char retry[48], line[400];

	acct_quote(a->st.reason, reason, sizeof(reason));
	if (next->delay_ms == ACCT_NEVER)
		snprintf(retry, sizeof(retry), "retry=never");
	else
		snprintf(retry, sizeof(retry), "retry_in=%.1fs",
			 (double)next->delay_ms / 1000.0);
	switch (next->state) {
	case ACCT_IDLE:
		if (failed_attempts > 0)
			snprintf(recovered, sizeof(recovered),
				 " backoff=reset failed_attempts=%u",
				 failed_attempts);
		snprintf(line, sizeof(line), "acct=%s state=idle "
			 "next_sync_in=%llus folders=%u new=%llu changed=%llu "
			 "deleted=%llu appended=%llu moved=%llu "
			 "folder_errors=%u seconds=%.1f%s", name,
			 (unsigned long long)(next->delay_ms / 1000u),
			 r->folders, (unsigned long long)r->new_msgs,
			 (unsigned long long)r->changed,
			 (unsigned long long)r->deleted,
			 (unsigned long long)r->appended,
			 (unsigned long long)r->moved, r->folder_errors,
			 r->seconds, recovered);
		/* A poll that found nothing is no news: at debug, so that
		 * a quiet account keeps a quiet log.  The first pass (it
		 * says the account works), one that changed something and
		 * one that ended a run of failures are at info. */
		if (a->st.passes == 1 || failed_attempts > 0 ||
		    r->new_msgs + r->changed + r->deleted + r->appended +
		    r->moved + r->folder_errors > 0)
			log_info("%s", line);
		else
			log_debug("%s", line);
		break;
	case ACCT_BACKOFF:
	case ACCT_OFFLINE:
		log_warn("acct=%s state=%s %s attempt=%u reason=\"%s\"", name,
			 acct_state_name(next->state), retry,
			 a->st.sched.backoff.attempt, reason);
		break;
	case ACCT_AUTH_FAILED:
		log_err("acct=%s state=auth-failed %s attempt=%u "
			"reason=\"%s\"%s", name, retry,
			a->st.sched.auth_failures, reason,
			next->delay_ms == ACCT_NEVER ?
			" (not tried again until a sync is asked for or "
			"mailsyncd restarts: fix the credentials first)" : "");
		break;
	case ACCT_ERROR:
		log_err("acct=%s state=error next_sync_in=%llus reason=\"%s\"",
			name, (unsigned long long)(next->delay_ms / 1000u),
			reason);
		break;
	case ACCT_SYNCING:
	case ACCT_PAUSED:
	case ACCT_DISABLED:
	case ACCT_STOPPED:
		break;
	}
}

/* The pass (engine and export) is over: the next state, delay and pass. */
static void
acct_pass_end(struct acct *a)
{
	const struct acct_result *r = &a->res;
	unsigned failed_attempts = a->st.sched.backoff.attempt;
	struct acct_next next;

	a->st.passes++;
	a->st.last = *r;
	memset(&a->st.progress, 0, sizeof(a->st.progress));
	a->st.rate_bps = 0;
	if (a->is_stopping) {
		acct_emit(a, ACCT_EV_PASS_DONE);
		acct_maybe_stopped(a);
		return;
	}
	if (r->rc == MS_ECANCELED) {
		/* Only pause cancels a pass while the runtime goes on; a
		 * resume that came before the cancel ended asked for a pass
		 * now; any other cancel waits for the next poll. */
		acct_set_state(a, a->is_paused ? ACCT_PAUSED : ACCT_IDLE,
			       a->is_paused ? "paused" : "interrupted");
		acct_emit(a, ACCT_EV_PASS_DONE);
		if (!a->is_paused)
			acct_schedule(a, acct_has_request(a) ? 0 :
				      (uint64_t)a->cfg.poll_interval * 1000u);
		return;
	}
	acct_next_after_pass(&a->st.sched, r->rc, r->is_reached,
			     a->cfg.poll_interval, acct_now_ms(),
			     acct_random(), &next);
	if (next.state == ACCT_IDLE)
		a->st.last_sync_ms = acct_now_ms();
	/* Push watches from a good pass on: it knows the folders then. */
	if (next.state == ACCT_IDLE && !a->is_once && a->cfg.idle &&
	    a->ops->push != NULL)
		a->ops->push(a->engine);
	if (a->is_paused && !a->is_once) {
		/* Paused during the export: the policy's count (backoff,
		 * refused logins) stays for after the resume, but no pass
		 * is planned and the account never shows idle. */
		acct_set_state(a, ACCT_PAUSED, "paused");
		acct_emit(a, ACCT_EV_PASS_DONE);
		log_info("acct=%s state=paused after a pass that %s", a->cfg.name,
			 r->rc == MS_OK ? "succeeded" : "failed");
		return;
	}
	acct_set_state(a, next.state, r->rc < 0 ? r->error : NULL);
	acct_emit(a, ACCT_EV_PASS_DONE);
	/* After the export: the new files are in the Maildir. */
	if (r->new_msgs > 0 && a->cfg.new_mail_cmd != NULL)
		acct_hook_run(a, a->n_new_folders == 1 ? a->new_folder : "",
			      r->new_msgs);
	if (a->is_once) {
		/* --once waits for the command it started. */
		a->is_hook_spared = true;
		acct_stop(a);
		return;
	}
	if (next.state == ACCT_IDLE) {
		uint64_t now = uv_now(a->loop);

		if (a->is_pass_full)
			a->full_due_ms = now + next.delay_ms;
		else
			next.delay_ms = a->full_due_ms > now ?
					a->full_due_ms - now : 0;
	}
	acct_log_next(a, &next, failed_attempts);
	/* A user's request runs now whatever the state; a reader's change
	 * waits out a backoff like any pass. */
	if (acct_has_request(a) ||
	    (a->is_reader_changed && next.state == ACCT_IDLE)) {
		acct_schedule(a, 0);
		return;
	}
	acct_schedule(a, next.delay_ms);
}

static void
acct_on_export_done(int rc, const struct mirror_stats *st,
		    const struct ms_err *err, void *arg)
{
	struct acct *a = arg;

	a->is_exporting = false;
	acct_mirror_handed_drop(&a->mirror);
	if (rc == MS_ECANCELED) {
		/* Only a stop cancels an export: the mirror is incomplete
		 * until the next start re-writes the rest, which --once's
		 * summary must say. */
		snprintf(a->st.mirror_error, sizeof(a->st.mirror_error),
			 "mirror export %s: interrupted (the next run "
			 "completes it)", a->cfg.maildir);
	} else if (rc < 0) {
		acct_mirror_describe(&a->cfg, "export", err->msg, a->st.mirror_error,
				     sizeof(a->st.mirror_error));
		log_err("acct=%s %s", a->cfg.name, a->st.mirror_error);
	}
	/* Adopting the server's copy of a reader's new message turns the
	 * file's letters into pending flag changes: push them now. */
	if (rc == MS_OK && st->flag_changes > 0)
		a->is_reader_changed = true;
	if (!a->is_stopping)
		acct_mirror_watch(&a->mirror, rc == MS_OK);
	acct_pass_end(a);
}

/* The engine's pass is over (a->res): the export after it, then the end. */
static void
acct_pass_export(struct acct *a)
{
	const struct acct_result *res = &a->res;
	struct ms_err err = { 0 };

	if (acct_mirror_is_on(&a->mirror) && !a->is_stopping &&
	    res->rc != MS_ECANCELED) {
		/* A pushed message: nothing but new messages in the
		 * folder (what the pass did not report, the mirror sees
		 * in the store). */
		bool is_append_only = a->pass_folder != NULL &&
				      res->rc == MS_OK && res->changed == 0 &&
				      res->deleted == 0 && res->appended == 0 &&
				      res->moved == 0 && res->folder_errors == 0;

		if (acct_mirror_export_start(&a->mirror, a->pass_folder,
					     is_append_only, &err) == MS_OK) {
			a->is_exporting = true;
			return;		/* the pass ends with the export */
		}
		acct_mirror_describe(&a->cfg, "export", err.msg, a->st.mirror_error,
				     sizeof(a->st.mirror_error));
		log_err("acct=%s %s", a->cfg.name, a->st.mirror_error);
	}
	if (!a->is_stopping)
		acct_mirror_watch(&a->mirror, false);
	acct_pass_end(a);
}

static void
acct_on_pass_done(const struct acct_result *res, void *arg)
{
	struct acct *a = arg;

	a->is_pass = false;
	a->is_held = false;
	a->want_early = false;
	a->res = *res;
	if (a->is_early) {
		/* The export after the pass follows the early one. */
		a->want_export = true;
		a->is_exporting = true;
		return;
	}
	acct_pass_export(a);
}

/* --- early exports ---------------------------------------------------------- */

/* The pass committed a batch while it only adds messages: an early
 * export shows it (after the one running, if any). */
static void
acct_early_export(struct acct *a)
{
	struct ms_err err = { 0 };

	if (!acct_mirror_is_on(&a->mirror) || a->is_stopping || !a->is_pass ||
	    a->is_held)
		return;
	if (a->is_early) {
		a->want_early = true;
		return;
	}
	if (acct_mirror_export_early(&a->mirror, &err) < 0) {
		log_debug("acct=%s early mirror export: %s", a->cfg.name,
			  err.msg);
		return;
	}
	a->is_early = true;
	a->want_early = false;
}

static void
acct_on_early_done(int rc, void *arg)
{
	struct acct *a = arg;

	(void)rc;
	a->is_early = false;
	if (a->want_export) {
		a->want_export = false;
		a->is_exporting = false;
		acct_pass_export(a);
		return;
	}
	if (a->is_held) {
		/* Also when stopping: the engine's cancel ends it. */
		a->is_held = false;
		a->ops->resume(a->engine);
		return;
	}
	if (a->is_stopping) {
		acct_maybe_stopped(a);
		return;
	}
	if (a->want_early)
		acct_early_export(a);
}

/* The pass is about to change records: it waits while an early export
 * reads them. */
static bool
acct_on_hold(void *arg)
{
	struct acct *a = arg;

	if (!a->is_early || a->ops->resume == NULL)
		return false;
	a->is_held = true;
	a->want_early = false;
	return true;
}

static void
acct_new_mail_in(struct acct *a, const char *folder)
{
	if (folder[0] == '\0')
		a->n_new_folders = 2;
	else if (a->n_new_folders == 0)
		snprintf(a->new_folder, sizeof(a->new_folder), "%s", folder);
	else if (strcmp(a->new_folder, folder) != 0)
		a->n_new_folders = 2;
	if (a->n_new_folders == 0)
		a->n_new_folders = 1;
}

static void
acct_on_progress(const struct acct_progress *p, void *arg)
{
	struct acct *a = arg;
	bool is_new_folder = strcmp(p->folder, a->st.progress.folder) != 0;
	uint64_t now = uv_hrtime();

	/* New messages count in the folder being synced (between folders,
	 * the one that just ended). */
	if (p->msgs_done > a->progress_msgs)
		acct_new_mail_in(a, p->folder[0] != '\0' ? p->folder :
				 a->st.progress.folder);
	a->progress_msgs = p->msgs_done;
	a->st.progress = *p;
	a->st.rate_bps = p->seconds > 0 ? (double)p->bytes_done / p->seconds :
			 0;
	if (p->is_adding)
		acct_early_export(a);
	if (!is_new_folder && now - a->progress_ns < ACCT_PROGRESS_EVERY_NS)
		return;
	a->progress_ns = now;
	acct_emit(a, ACCT_EV_PROGRESS);
}

/* --- the start of a pass -------------------------------------------------- */

/* The request this pass serves: a whole pass covers every single-folder
 * request; otherwise the oldest folder request (the caller frees it). */
static char *
acct_take_request(struct acct *a)
{
	char *folder = NULL;

	if (!a->want_full && a->n_want_folders > 0) {
		folder = a->want_folders[0];
		memmove(a->want_folders, a->want_folders + 1,
			(a->n_want_folders - 1) * sizeof(*a->want_folders));
		a->n_want_folders--;
		return folder;
	}
	for (size_t i = 0; i < a->n_want_folders; i++)
		free(a->want_folders[i]);
	a->n_want_folders = 0;
	a->want_full = false;
	return NULL;
}

/* The engine's pass (the mirror scan, if any, is done). */
static void
acct_pass_engine(struct acct *a, char *folder)
{
	struct ms_err err = { 0 };
	int rc;

	rc = a->ops->pass(a->engine, folder, &err);
	/* The export after the pass covers what the pass synced. */
	free(a->pass_folder);
	a->pass_folder = folder;
	if (rc < 0) {
		memset(&a->res, 0, sizeof(a->res));
		a->res.rc = rc;
		snprintf(a->res.error, sizeof(a->res.error), "%s",
			 err.msg[0] != '\0' ? err.msg : ms_strerror(rc));
		acct_pass_end(a);
		return;
	}
	a->is_pass = true;
}

static void
acct_on_scan_done(bool is_pass, int rc, const struct ms_err *err, void *arg)
{
	struct acct *a = arg;
	char *folder = a->scan_folder;

	if (!is_pass) {
		/* The watch's: a stop may have waited for it. */
		acct_maybe_stopped(a);
		return;
	}
	a->is_scanning = false;
	a->scan_folder = NULL;
	if (rc < 0 && rc != MS_ECANCELED) {
		acct_mirror_describe(&a->cfg, "scan", err->msg, a->st.mirror_error,
				     sizeof(a->st.mirror_error));
		log_err("acct=%s %s", a->cfg.name, a->st.mirror_error);
	}
	if (a->is_stopping) {
		free(folder);
		acct_maybe_stopped(a);
		return;
	}
	if (a->is_paused) {
		/* Paused during the scan: no pass until resume. */
		free(folder);
		acct_set_state(a, ACCT_PAUSED, "paused");
		acct_mirror_watch(&a->mirror, false);
		return;
	}
	acct_pass_engine(a, folder);
}

static void
acct_pass_begin(struct acct *a)
{
	struct ms_err err = { 0 };
	char *folder;

	if (a->is_stopping || a->is_paused || a->ops == NULL ||
	    acct_is_running(a))
		return;
	uv_timer_stop(&a->timer);
	a->st.next_ms = 0;
	a->st.last_attempt_ms = acct_now_ms();
	a->st.mirror_error[0] = '\0';
	memset(&a->st.progress, 0, sizeof(a->st.progress));
	a->progress_ns = 0;
	acct_set_state(a, ACCT_SYNCING, !a->want_full && a->n_want_folders > 0 ?
		       a->want_folders[0] : NULL);
	/* A watcher may have paused or stopped the account from that
	 * event: then the request waits (or goes) with the account. */
	if (a->is_stopping || a->is_paused)
		return;
	folder = acct_take_request(a);
	a->is_pass_full = folder == NULL;
	a->progress_msgs = 0;
	a->n_new_folders = 0;
	if (folder != NULL)
		acct_new_mail_in(a, folder);
	a->is_reader_changed = false;
	if (acct_mirror_is_on(&a->mirror)) {
		int rc = acct_mirror_scan_start(&a->mirror, folder == NULL,
						&err);

		if (rc == MS_OK) {
			/* The pass goes on in acct_on_scan_done(). */
			a->is_scanning = true;
			a->scan_folder = folder;
			return;
		}
		if (rc == ACCT_MIRROR_NO_SCAN) {
			acct_pass_engine(a, folder);
			return;
		}
		acct_mirror_describe(&a->cfg, "scan", err.msg, a->st.mirror_error,
				     sizeof(a->st.mirror_error));
		log_err("acct=%s %s", a->cfg.name, a->st.mirror_error);
	}
	acct_pass_engine(a, folder);
}

/* --- stopping ------------------------------------------------------------- */

static void
acct_maybe_stopped(struct acct *a)
{
	if (!a->is_stopping || acct_is_running(a) || !a->is_engine_closed ||
	    !a->is_timer_closed || acct_mirror_is_busy(&a->mirror) ||
	    a->hook != NULL ||
	    a->st.state == ACCT_STOPPED)
		return;
	if (a->is_once)
		log_debug("acct=%s state=stopped", a->cfg.name);
	else
		log_info("acct=%s state=stopped", a->cfg.name);
	a->st.next_ms = 0;
	/* Why it was disabled or failed last stays readable. */
	acct_set_state(a, ACCT_STOPPED, a->st.reason);
}

static void
acct_on_engine_closed(void *arg)
{
	struct acct *a = arg;

	a->is_engine_closed = true;
	acct_maybe_stopped(a);
}

static void
acct_on_timer_closed(uv_handle_t *h)
{
	struct acct *a = h->data;

	a->is_timer_closed = true;
	acct_maybe_stopped(a);
}

void
acct_stop(struct acct *a)
{
	if (a->is_stopping)
		return;
	a->is_stopping = true;
	a->hook_count = 0;
	if (a->hook != NULL && !a->is_hook_spared)
		acct_hook_kill(a->hook);
	uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *)&a->timer, acct_on_timer_closed);
	acct_mirror_cancel(&a->mirror);
	acct_mirror_close(&a->mirror);
	/* Cancels a running pass first; closed fires after its end. */
	if (a->engine != NULL)
		a->ops->close(a->engine);
}

/* --- requests --------------------------------------------------------------- */

static bool
acct_can_run(const struct acct *a)
{
	return !a->is_stopping && a->ops != NULL;
}

int
acct_request_sync(struct acct *a, const char *folder)
{
	char **v;

	if (!acct_can_run(a) || a->is_paused)
		return MS_EINVAL;
	if (folder == NULL) {
		a->want_full = true;
	} else {
		for (size_t i = 0; i < a->n_want_folders; i++)
			if (strcmp(a->want_folders[i], folder) == 0)
				goto queued;
		v = realloc(a->want_folders,
			    (a->n_want_folders + 1) * sizeof(*v));
		if (v == NULL)
			return MS_ENOMEM;
		a->want_folders = v;
		if ((v[a->n_want_folders] = strdup(folder)) == NULL)
			return MS_ENOMEM;
		a->n_want_folders++;
	}
queued:
	/* A user's request also retries a refused login. */
	if (!acct_is_running(a))
		acct_pass_begin(a);
	return MS_OK;
}

int
acct_request_pause(struct acct *a)
{
	if (!acct_can_run(a) || a->is_paused)
		return MS_EINVAL;
	a->is_paused = true;
	uv_timer_stop(&a->timer);
	a->st.next_ms = 0;
	if (a->is_pass)
		a->ops->cancel(a->engine);	/* ends as PAUSED */
	else if (!a->is_exporting)
		acct_set_state(a, ACCT_PAUSED, "paused");
	return MS_OK;
}

int
acct_request_resume(struct acct *a)
{
	if (!acct_can_run(a) || !a->is_paused)
		return MS_EINVAL;
	a->is_paused = false;
	a->want_full = true;
	if (!acct_is_running(a))
		acct_pass_begin(a);
	return MS_OK;
}

/* --- engine events ------------------------------------------------------ */

static void
acct_on_reader_change(void *arg)
{
	struct acct *a = arg;

	if (a->is_stopping || a->is_paused)
		return;
	/* Still SYNCING when the watch resumes at the end of a pass and
	 * scans what readers did meanwhile: acct_pass_end() is next. */
	if (acct_is_running(a) || a->st.state == ACCT_SYNCING) {
		a->is_reader_changed = true;
		return;
	}
	if (a->st.state == ACCT_IDLE) {
		log_info("acct=%s mirror changed by a reader: syncing now",
			 a->cfg.name);
		acct_schedule(a, 0);
	}
}

/* Push heard of a change: a pass of that folder (or of all), queued
 * behind a running one. */
static void
acct_on_push_change(const char *folder, void *arg)
{
	struct acct *a = arg;
	int rc;

	if (a->is_stopping || a->is_paused)
		return;
	log_debug("acct=%s push: %s changed", a->cfg.name,
		  folder != NULL ? folder : "any folder");
	if ((rc = acct_request_sync(a, folder)) < 0)
		log_warn("acct=%s push: cannot queue a pass: %s", a->cfg.name,
			 ms_strerror(rc));
}

static void
acct_on_push(const char *desc, void *arg)
{
	struct acct *a = arg;

	if (strcmp(a->st.push, desc) == 0)
		return;
	snprintf(a->st.push, sizeof(a->st.push), "%s", desc);
	if (strstr(desc, "connecting") != NULL)
		log_debug("acct=%s push=\"%s\"", a->cfg.name, a->st.push);
	else
		log_info("acct=%s push=\"%s\"", a->cfg.name, a->st.push);
	if (!a->is_stopping)
		acct_emit(a, ACCT_EV_STATE);
}

int
acct_request_reconnect(struct acct *a)
{
	if (!acct_can_run(a) || a->is_paused)
		return MS_EINVAL;
	if (a->ops->reconnect != NULL)
		a->ops->reconnect(a->engine);
	return acct_request_sync(a, NULL);
}

int
acct_request_net_change(struct acct *a)
{
	if (!acct_can_run(a) || a->is_paused)
		return MS_EINVAL;
	switch (acct_net_change_action(a->st.state, a->ops->reconnect != NULL)) {
	case ACCT_NET_RECONNECT:
		return acct_request_reconnect(a);
	case ACCT_NET_RETRY:
		return acct_request_sync(a, NULL);
	case ACCT_NET_NONE:
		break;
	}
	return MS_EINVAL;
}

/* --- public --------------------------------------------------------------- */

void
acct_engine_override(const struct acct_engine_ops *ops)
{
	acct_engine_forced = ops;
}

int
acct_new(const struct acct_params *params, struct acct **a_r,
	 struct ms_err *err_r)
{
	struct acct_engine_cbs cbs = {
		.on_progress_cb = acct_on_progress,
		.on_pass_done_cb = acct_on_pass_done,
		.on_closed_cb = acct_on_engine_closed,
		.on_change_cb = acct_on_push_change,
		.on_push_cb = acct_on_push,
		.hold_cb = acct_on_hold,
	};
	struct acct_mirror_cbs mcbs = {
		.on_reader_change_cb = acct_on_reader_change,
		.on_scan_done_cb = acct_on_scan_done,
		.on_export_done_cb = acct_on_export_done,
		.on_early_done_cb = acct_on_early_done,
	};
	struct acct *a;
	int rc;

	*a_r = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	a->loop = params->loop;
	a->store = params->store;
	a->is_once = params->is_once;
	a->on_event_cb = params->on_event_cb;
	a->arg = params->arg;
	cfg_account_copy(&a->cfg, params->account);
	a->st.name = a->cfg.name;
	a->st.protocol = cfg_protocol_name(a->cfg.protocol);
	snprintf(a->st.push, sizeof(a->st.push), "off");
	acct_sched_init(&a->st.sched);
	if (params->backoff_max_ms > 0)
		backoff_set_max(&a->st.sched.backoff, params->backoff_max_ms);
	cbs.arg = mcbs.arg = a;
	acct_mirror_init(&a->mirror, a->loop, a->store, &a->cfg,
			 a->is_once ? NULL : params->inotify, a->is_once,
			 &mcbs);
	a->ops = acct_engine_forced != NULL ? acct_engine_forced :
		 acct_engine_for(a->cfg.protocol);
	if (a->ops == NULL) {
		a->st.state = ACCT_DISABLED;
		snprintf(a->st.reason, sizeof(a->st.reason), "%s is not "
			 "implemented yet", a->st.protocol);
		a->is_engine_closed = true;
	} else if ((rc = a->ops->create(a->loop, a->store, &a->cfg, &cbs,
					&a->engine, err_r)) < 0) {
		acct_mirror_deinit(&a->mirror);
		cfg_account_deinit(&a->cfg);
		free(a);
		return rc;
	}
	uv_timer_init(a->loop, &a->timer);
	a->timer.data = a;
	*a_r = a;
	return MS_OK;
}

void
acct_start(struct acct *a)
{
	if (a->ops == NULL) {
		/* --once says so in its summary instead. */
		if (a->is_once)
			acct_stop(a);
		else
			log_warn("acct=%s state=disabled reason=\"%s; skipping "
				 "this account\"", a->cfg.name, a->st.reason);
		return;
	}
	a->want_full = true;
	acct_pass_begin(a);
}

bool
acct_is_stopped(const struct acct *a)
{
	return a->st.state == ACCT_STOPPED;
}

const struct acct_status *
acct_status(const struct acct *a)
{
	return &a->st;
}

const char *
acct_name(const struct acct *a)
{
	return a->cfg.name;
}

int
acct_subscribe(struct acct *a, acct_event_fn *fn, void *arg)
{
	struct acct_sub *v;

	for (size_t i = 0; i < a->n_subs; i++) {
		if (a->subs[i].fn == NULL) {
			a->subs[i] = (struct acct_sub){ fn, arg };
			return MS_OK;
		}
	}
	if ((v = realloc(a->subs, (a->n_subs + 1) * sizeof(*v))) == NULL)
		return MS_ENOMEM;
	a->subs = v;
	a->subs[a->n_subs++] = (struct acct_sub){ fn, arg };
	return MS_OK;
}

void
acct_unsubscribe(struct acct *a, acct_event_fn *fn, void *arg)
{
	/* Emptied, not removed: acct_emit() may be walking the array. */
	for (size_t i = 0; i < a->n_subs; i++)
		if (a->subs[i].fn == fn && a->subs[i].arg == arg)
			a->subs[i].fn = NULL;
}

void
acct_free(struct acct **ap)
{
	struct acct *a = *ap;

	if (a == NULL)
		return;
	*ap = NULL;
	if (a->engine != NULL)
		a->ops->destroy(a->engine);
	for (size_t i = 0; i < a->n_want_folders; i++)
		free(a->want_folders[i]);
	free(a->want_folders);
	free(a->scan_folder);
	free(a->pass_folder);
	free(a->subs);
	acct_mirror_deinit(&a->mirror);
	cfg_account_deinit(&a->cfg);
	free(a);
}
