/*
 * acct_imap.c - the IMAP engine behind the account runtime
 * (acct_engine.h): one logged-in session kept between passes, and a pass
 * (sync/imap_sync.h) that borrows it.
 *
 * The story of a session, in order:
 *   DISCONNECTED -> CONNECTING (a pass asked; login, STARTTLS, ENABLE)
 *   -> PASS (the pass runs on it) -> READY (logged in, quiet; the read
 *   timeout is off while no command waits) -> PASS -> READY ...
 *   The server's BYE, its autologout or a failed pass ends the session:
 *   back to DISCONNECTED, and the next pass logs in again.  close():
 *   CLOSING (LOGOUT) -> CLOSED.
 *
 * A kept session may have died quietly (a NAT forgot it, the laptop
 * slept): a pass on a reused session that fails with a connection error
 * is tried once more at once on a new session, so a stale connection
 * costs a reconnect, not a backoff.
 *
 * Every report to the runtime (pass_done, closed) goes out from the
 * defer timer, on a later loop turn, so that the pass can be freed there
 * and the runtime may start the next pass from its callback.
 */
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "acct/acct_engine.h"
#include "acct/acct_mirror.h"
#include "acct/imap_push.h"
#include "log.h"
#include "net/tls.h"
#include "session/imap_session.h"
#include "sync/imap_sync.h"

/* Push that ended within this long of its start is not started again
 * for ACCT_IMAP_PUSH_RETRY_MS, doubled for each such end in a row (up to
 * poll_interval): a server that drops every push connection at once is
 * not logged into again and again. */
#define ACCT_IMAP_PUSH_MIN_MS 5000u
#define ACCT_IMAP_PUSH_RETRY_MS 60000u

enum acct_imap_state {
	ACCT_IMAP_DISCONNECTED,
	ACCT_IMAP_CONNECTING,
	ACCT_IMAP_READY,
	ACCT_IMAP_PASS,
	ACCT_IMAP_CLOSING,
	ACCT_IMAP_CLOSED,
};

static const char *const acct_imap_state_names[] = {
	[ACCT_IMAP_DISCONNECTED] = "disconnected",
	[ACCT_IMAP_CONNECTING] = "connecting",
	[ACCT_IMAP_READY] = "ready",
	[ACCT_IMAP_PASS] = "pass",
	[ACCT_IMAP_CLOSING] = "closing",
	[ACCT_IMAP_CLOSED] = "closed",
};

struct acct_imap {
	struct acct_engine base;	/* first: the runtime's handle */
	struct acct_engine_common c;	/* loop, store, acct, cbs, TLS, defer */
	enum acct_imap_state state;
	struct imap_session *sess;	/* NULL when DISCONNECTED */
	struct imap_sync *sync;		/* the running pass */
	char *folder;			/* the pass's only folder, or NULL */
	bool want_pass;			/* a pass is asked (until pass_done) */
	bool is_reused;			/* the pass runs on a kept session */
	bool is_selected;		/* the session has a folder selected */
	bool has_retried;		/* on a new session, once */
	bool is_retry_held;		/* that retry waits for resume */
	bool is_cancelled;
	bool is_close_asked;
	bool has_done;			/* res waits for the defer timer */
	struct acct_result res;
	struct acct_result carry;	/* counts of an attempt retried */
	unsigned caps;			/* of the last session that was ready */
	struct imap_push *push;		/* NULL until push first starts */
	bool is_push_closed;		/* after close(): push holds nothing */
	uint64_t push_up_ms;		/* uv_now() when push last started */
	unsigned push_quick_ends;	/* ended soon after the start, in a row */
	uint64_t push_retry_ms;		/* uv_now() before which it waits */
};

static void acct_imap_maybe_closed(struct acct_imap *e);
static int acct_imap_connect(struct acct_imap *e, struct ms_err *err_r);
static void acct_imap_on_defer(uv_timer_t *t);

static void
acct_imap_set_state(struct acct_imap *e, enum acct_imap_state st)
{
	if (e->state == st)
		return;
	log_debug("acct=%s imap-engine state=%s->%s", e->c.acct->name,
		  acct_imap_state_names[e->state], acct_imap_state_names[st]);
	e->state = st;
}

static void
acct_imap_defer(struct acct_imap *e)
{
	uv_timer_start(&e->c.defer, acct_imap_on_defer, 0, 0);
}

/* The pass is over (res filled): reported from the defer timer. */
static void
acct_imap_pass_over(struct acct_imap *e)
{
	e->has_done = true;
	acct_imap_defer(e);
}

static void
acct_imap_fail_pass(struct acct_imap *e, int rc, const char *msg,
		    bool is_reached)
{
	memset(&e->res, 0, sizeof(e->res));
	e->res.rc = rc;
	e->res.is_reached = is_reached;
	snprintf(e->res.error, sizeof(e->res.error), "%s",
		 msg != NULL && msg[0] != '\0' ? msg : ms_strerror(rc));
	acct_imap_pass_over(e);
}

/* --- the pass ------------------------------------------------------------ */

static void
acct_imap_on_progress(struct imap_sync *sync,
		      const struct imap_sync_summary *sum, void *arg)
{
	struct acct_imap *e = arg;
	struct acct_progress p = {
		.folders_done = sum->folders_done,
		.folders_total = sum->folders,
		.msgs_done = e->carry.new_msgs + sum->new_msgs,
		.msgs_total = sum->msgs_expected,
		.bytes_done = e->carry.bytes + sum->bytes,
		.bytes_total = sum->bytes_expected == 0 ? 0 :
			e->carry.bytes + sum->bytes_expected,
		.seconds = sum->seconds,
		.is_adding = sum->is_adding,
	};

	(void)sync;
	snprintf(p.folder, sizeof(p.folder), "%s",
		 sum->folder != NULL ? sum->folder : "");
	if (e->c.cbs.on_progress_cb != NULL)
		e->c.cbs.on_progress_cb(&p, e->c.cbs.arg);
}

static bool
acct_imap_on_hold(struct imap_sync *sync, void *arg)
{
	struct acct_imap *e = arg;

	(void)sync;
	return e->c.cbs.hold_cb != NULL && e->c.cbs.hold_cb(e->c.cbs.arg);
}

/* Fires inside a command callback or the session's end: the sync is
 * freed from the defer timer. */
static void
acct_imap_on_sync_done(struct imap_sync *sync,
		       const struct imap_sync_summary *sum, void *arg)
{
	struct acct_imap *e = arg;
	struct acct_result *r = &e->res;

	(void)sync;
	e->is_selected = sum->is_selected;
	memset(r, 0, sizeof(*r));
	r->rc = sum->rc;
	snprintf(r->error, sizeof(r->error), "%s", sum->error);
	r->is_reached = true;
	r->folders = sum->folders;
	r->folder_errors = sum->folder_errors;
	r->new_msgs = e->carry.new_msgs + sum->new_msgs;
	r->changed = e->carry.changed + sum->changed;
	r->deleted = e->carry.deleted + sum->deleted;
	r->appended = e->carry.appended + sum->appended;
	r->moved = e->carry.moved + sum->moved;
	r->refused = sum->refused;
	r->unsendable = sum->unsendable;
	snprintf(r->refused_text, sizeof(r->refused_text), "%s",
		 sum->refused_text);
	r->bytes = e->carry.bytes + sum->bytes;
	r->seconds = e->carry.seconds + sum->seconds;
	acct_imap_pass_over(e);
}

/* A folder no pass has synced: adopt the user's Maildir of it, when
 * mbsync filled it (imap_sync_params.adopt_cb). */
static int
acct_imap_adopt(uint32_t folder_id, const char *folder, uint32_t uidvalidity,
		void *arg, struct ms_err *err_r)
{
	struct acct_imap *e = arg;

	return acct_mirror_adopt(e->c.store, e->c.acct, folder_id, folder,
				 uidvalidity, err_r);
}

static void
acct_imap_start_sync(struct acct_imap *e)
{
	struct imap_sync_params p = {
		.store = e->c.store,
		.loop = e->c.loop,
		.account = e->c.acct,
		.sess = e->sess,
		.only_folder = e->folder,
		.is_reused = e->is_reused,
		.is_selected = e->is_selected,
		.on_done_cb = acct_imap_on_sync_done,
		.on_progress_cb = acct_imap_on_progress,
		.hold_cb = acct_imap_on_hold,
		.adopt_cb = e->c.acct->maildir != NULL ? acct_imap_adopt : NULL,
		.arg = e,
	};
	struct ms_err err = { 0 };
	int rc;

	acct_imap_set_state(e, ACCT_IMAP_PASS);
	if ((rc = imap_sync_start(&p, &e->sync, &err)) < 0) {
		/* The session is fine; the pass could not begin. */
		acct_imap_set_state(e, ACCT_IMAP_READY);
		acct_imap_fail_pass(e, rc, err.msg, true);
	}
}

/* --- the session ----------------------------------------------------------- */

static void
acct_imap_on_ready(struct imap_session *s, void *arg)
{
	struct acct_imap *e = arg;

	if (e->state != ACCT_IMAP_CONNECTING)
		return;
	e->caps = imap_session_caps(s);
	if (e->is_cancelled || e->is_close_asked) {
		imap_session_close(e->sess, MS_ECANCELED);
		return;
	}
	acct_imap_start_sync(e);
}

static void
acct_imap_on_unsolicited(struct imap_session *s, const struct imap_event *ev,
			 void *arg)
{
	/* Between passes the server may tell of new mail (EXISTS) or say
	 * goodbye; push (IDLE, NOTIFY) will act on it.  BYE ends the
	 * session through on_close. */
	(void)s;
	(void)ev;
	(void)arg;
}

static void
acct_imap_on_close(struct imap_session *s, int reason,
		   const struct ms_err *err, void *arg)
{
	struct acct_imap *e = arg;
	const char *why = err != NULL && err->msg[0] != '\0' ? err->msg :
			  ms_strerror(reason);
	struct ms_err cerr = { 0 };

	(void)s;
	e->sess = NULL;
	switch (e->state) {
	case ACCT_IMAP_CONNECTING:
		acct_imap_set_state(e, ACCT_IMAP_DISCONNECTED);
		/* Never logged in.  Unreached when the connection itself
		 * failed; a TLS, login or protocol failure means the server
		 * answered. */
		acct_imap_fail_pass(e, e->is_cancelled ? MS_ECANCELED :
				    reason == MS_OK ? MS_ECONN : reason,
				    e->is_cancelled ? "interrupted" : why,
				    reason != MS_ECONN &&
				    reason != MS_ETIMEDOUT);
		return;
	case ACCT_IMAP_PASS:
		acct_imap_set_state(e, ACCT_IMAP_DISCONNECTED);
		if (e->sync != NULL)
			imap_sync_session_closed(e->sync, reason, err);
		return;
	case ACCT_IMAP_READY:
		acct_imap_set_state(e, ACCT_IMAP_DISCONNECTED);
		log_info("acct=%s imap connection closed between passes (%s); "
			 "the next pass logs in again", e->c.acct->name, why);
		if (e->want_pass && !e->has_done &&
		    acct_imap_connect(e, &cerr) < 0)
			acct_imap_fail_pass(e, cerr.code ? cerr.code : MS_ECONN,
					    cerr.msg, false);
		return;
	case ACCT_IMAP_CLOSING:
		acct_imap_set_state(e, ACCT_IMAP_DISCONNECTED);
		acct_imap_maybe_closed(e);
		return;
	case ACCT_IMAP_DISCONNECTED:
	case ACCT_IMAP_CLOSED:
		return;
	}
}

/* The session of a pass; push makes its own from the same template. */
static void
acct_imap_session_params(struct acct_imap *e, struct imap_session_params *sp_r)
{
	const struct cfg_account *a = e->c.acct;
	struct imap_session_params sp = {
		.account = a->name,
		.host = a->host,
		.port = a->port,
		.tls = acct_engine_tls_mode(a->tls),
		.tls_ctx = e->c.tls_ctx,
		.timeout_ms = a->timeout * 1000u,
		.user = a->user,
		.password = a->password,
		.password_cmd = a->password_cmd,
		.oauth_token_cmd = a->oauth_token_cmd,
		.auth = acct_engine_sasl_mech(a->auth),
		.want_compress = a->compress,
		.on_ready_cb = acct_imap_on_ready,
		.on_unsolicited_cb = acct_imap_on_unsolicited,
		.on_close_cb = acct_imap_on_close,
		.arg = e,
	};

	*sp_r = sp;
}

static int
acct_imap_connect(struct acct_imap *e, struct ms_err *err_r)
{
	struct imap_session_params sp;
	int rc;

	acct_imap_session_params(e, &sp);
	if ((rc = imap_session_new(e->c.loop, &sp, &e->sess, err_r)) < 0)
		return rc;
	e->is_reused = false;
	e->is_selected = false;
	acct_imap_set_state(e, ACCT_IMAP_CONNECTING);
	return MS_OK;
}

/* --- reports on a later loop turn ----------------------------------------- */

static bool
acct_imap_is_stale_conn(int rc)
{
	return rc == MS_ECONN || rc == MS_ETIMEDOUT;
}

/* The pass again on a new session, after a kept one failed. */
static void
acct_imap_retry(struct acct_imap *e)
{
	struct ms_err err = { 0 };

	e->is_retry_held = false;
	if (e->is_cancelled || e->is_close_asked) {
		acct_imap_fail_pass(e, MS_ECANCELED, "interrupted", true);
		return;
	}
	if (acct_imap_connect(e, &err) < 0)
		acct_imap_fail_pass(e, err.code ? err.code : MS_ECONN, err.msg,
				    false);
}

static void
acct_imap_on_defer(uv_timer_t *t)
{
	struct acct_imap *e = t->data;
	struct acct_result res;

	if (!e->has_done) {
		acct_imap_maybe_closed(e);
		return;
	}
	e->has_done = false;
	imap_sync_free(&e->sync);
	if (e->state == ACCT_IMAP_PASS)
		acct_imap_set_state(e, e->sess != NULL ? ACCT_IMAP_READY :
				    ACCT_IMAP_DISCONNECTED);
	if (acct_imap_is_stale_conn(e->res.rc) && e->is_reused &&
	    !e->has_retried && !e->is_cancelled && !e->is_close_asked &&
	    e->sess == NULL) {
		log_info("acct=%s imap: the kept connection failed (%s); "
			 "logging in again", e->c.acct->name, e->res.error);
		e->has_retried = true;
		e->carry = e->res;
		/* The new attempt may change records from its first folder
		 * on: it waits while the mirror reads them (hold_cb). */
		if (e->c.cbs.hold_cb != NULL && e->c.cbs.hold_cb(e->c.cbs.arg)) {
			e->is_retry_held = true;
			return;
		}
		acct_imap_retry(e);
		return;
	}
	res = e->res;
	/* The server was away: push ending early is explained; it starts
	 * at once after the next good pass. */
	if (res.rc < 0 && res.rc != MS_ECANCELED) {
		e->push_quick_ends = 0;
		e->push_retry_ms = 0;
	}
	e->want_pass = false;
	e->is_cancelled = false;
	free(e->folder);
	e->folder = NULL;
	memset(&e->carry, 0, sizeof(e->carry));
	if (e->is_close_asked && e->sess != NULL &&
	    e->state == ACCT_IMAP_READY) {
		acct_imap_set_state(e, ACCT_IMAP_CLOSING);
		imap_session_close(e->sess, MS_OK);
	}
	e->c.cbs.on_pass_done_cb(&res, e->c.cbs.arg);
	/* The runtime may have asked for close() from the callback. */
	acct_imap_maybe_closed(e);
}

static void
acct_imap_on_defer_closed(uv_handle_t *h)
{
	struct acct_imap *e = h->data;

	acct_imap_set_state(e, ACCT_IMAP_CLOSED);
	if (e->c.cbs.on_closed_cb != NULL)
		e->c.cbs.on_closed_cb(e->c.cbs.arg);
}

/* After close(): once no session, no pass and no report is left, the
 * defer timer closes and its close callback says so. */
static void
acct_imap_maybe_closed(struct acct_imap *e)
{
	if (!e->is_close_asked || e->sess != NULL || e->sync != NULL ||
	    e->has_done || e->want_pass || e->state == ACCT_IMAP_CLOSED ||
	    (e->push != NULL && !e->is_push_closed) ||
	    uv_is_closing((uv_handle_t *)&e->c.defer))
		return;
	uv_close((uv_handle_t *)&e->c.defer, acct_imap_on_defer_closed);
}

/* --- the interface ------------------------------------------------------- */

static int
acct_imap_create(uv_loop_t *loop, struct store *store,
		 const struct cfg_account *account,
		 const struct acct_engine_cbs *cbs, struct acct_engine **e_r,
		 struct ms_err *err_r)
{
	return acct_engine_new(sizeof(struct acct_imap),
			       offsetof(struct acct_imap, c), &acct_imap_ops, loop,
			       store, account, cbs, e_r, err_r);
}

static int
acct_imap_pass(struct acct_engine *base, const char *folder,
	       struct ms_err *err_r)
{
	struct acct_imap *e = (struct acct_imap *)base;
	int rc;

	if (e->want_pass || e->is_close_asked)
		return ms_err_set(err_r, MS_EINVAL, "a pass is running or the "
				  "engine is closing");
	if (folder != NULL && (e->folder = strdup(folder)) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	e->has_retried = false;
	e->is_cancelled = false;
	if (e->state == ACCT_IMAP_READY && imap_session_is_closing(e->sess)) {
		/* Its end is on the way (the server went away): the pass
		 * logs in again from acct_imap_on_close(). */
		e->want_pass = true;
		return MS_OK;
	}
	if (e->state == ACCT_IMAP_READY) {
		e->want_pass = true;
		e->is_reused = true;
		acct_imap_start_sync(e);
		return MS_OK;
	}
	if ((rc = acct_imap_connect(e, err_r)) < 0) {
		free(e->folder);
		e->folder = NULL;
		return rc;
	}
	e->want_pass = true;
	return MS_OK;
}

static void
acct_imap_cancel(struct acct_engine *base)
{
	struct acct_imap *e = (struct acct_imap *)base;

	if (!e->want_pass || e->has_done)
		return;
	e->is_cancelled = true;
	if (e->is_retry_held)
		acct_imap_retry(e);	/* ends it as interrupted */
	else if (e->sync != NULL)
		imap_sync_stop(e->sync);
	else if (e->state == ACCT_IMAP_CONNECTING && e->sess != NULL)
		imap_session_close(e->sess, MS_ECANCELED);
}

static void
acct_imap_resume(struct acct_engine *base)
{
	struct acct_imap *e = (struct acct_imap *)base;

	if (e->is_retry_held)
		acct_imap_retry(e);
	else if (e->sync != NULL && !e->has_done)
		imap_sync_resume(e->sync);
}

static void
acct_imap_close(struct acct_engine *base)
{
	struct acct_imap *e = (struct acct_imap *)base;

	if (e->is_close_asked)
		return;
	e->is_close_asked = true;
	if (e->push != NULL)
		imap_push_close(e->push);
	if (e->want_pass) {
		/* The pass's end closes the session (acct_imap_on_defer). */
		acct_imap_cancel(base);
		return;
	}
	if (e->sess != NULL) {
		acct_imap_set_state(e, ACCT_IMAP_CLOSING);
		imap_session_close(e->sess, MS_OK);
		return;
	}
	acct_imap_maybe_closed(e);
}

/* --- push ---------------------------------------------------------------- */

static void
acct_imap_on_push_change(const char *folder, void *arg)
{
	struct acct_imap *e = arg;
	struct store_folder f;
	struct ms_err err = { 0 };

	/* A folder the passes do not sync (excluded, or new: its LIST
	 * event asks for a full pass) is none of ours. */
	if (folder != NULL && store_folder_find(e->c.store, e->c.acct->name,
						folder, &f, &err) != MS_OK) {
		log_debug("acct=%s push: %s changed; not a synced folder",
			  e->c.acct->name, folder);
		return;
	}
	e->c.cbs.on_change_cb(folder, e->c.cbs.arg);
}

static void
acct_imap_on_push_down(bool was_watching, const char *why, void *arg)
{
	struct acct_imap *e = arg;
	uint64_t now = uv_now(e->c.loop), wait_ms;
	uint64_t poll_ms = (uint64_t)e->c.acct->poll_interval * 1000u;

	if (e->is_close_asked || why[0] == '\0')
		return;
	if (was_watching && now - e->push_up_ms >= ACCT_IMAP_PUSH_MIN_MS) {
		e->push_quick_ends = 0;
		log_info("acct=%s push: connection ended (%s); catching up "
			 "with a pass", e->c.acct->name, why);
	} else {
		wait_ms = (uint64_t)ACCT_IMAP_PUSH_RETRY_MS <<
			  (e->push_quick_ends < 10 ? e->push_quick_ends : 10);
		if (wait_ms > poll_ms)
			wait_ms = poll_ms;
		e->push_quick_ends++;
		e->push_retry_ms = now + wait_ms;
		log_info("acct=%s push: %s (%s); catching up with a pass, push "
			 "again in %llu s at the earliest", e->c.acct->name,
			 was_watching ? "connection ended soon after it "
			 "started" : "could not start", why,
			 (unsigned long long)(wait_ms / 1000u));
	}
	/* The server ended push or refused it: the kept session is likely
	 * gone or going too (a shutdown says BYE to all), so the catch-up
	 * pass logs in anew and a server that is down shows as offline. */
	if (e->sess != NULL && e->state == ACCT_IMAP_READY)
		imap_session_close(e->sess, MS_ECONN);
	e->c.cbs.on_change_cb(NULL, e->c.cbs.arg);
}

static void
acct_imap_on_push_state(void *arg)
{
	struct acct_imap *e = arg;

	if (e->c.cbs.on_push_cb != NULL)
		e->c.cbs.on_push_cb(imap_push_describe(e->push), e->c.cbs.arg);
}

static void
acct_imap_on_push_closed(void *arg)
{
	struct acct_imap *e = arg;

	e->is_push_closed = true;
	acct_imap_maybe_closed(e);
}

/* The folders IDLE watches: idle_folders, where "*" is every synced
 * folder (INBOX first).  *n_wanted_r counts them all; the caller frees
 * the names it gets. */
static int
acct_imap_idle_folders(struct acct_imap *e, char ***v_r, size_t *n_r,
		       size_t *n_wanted_r)
{
	const struct cfg_list *l = &e->c.acct->idle_folders;
	struct store_folder *fs = NULL;
	struct ms_err err = { 0 };
	size_t n = 0, nfs = 0;
	bool is_all = false;
	char **v;
	int rc;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], "*") == 0)
			is_all = true;
	if (is_all && (rc = store_folder_list(e->c.store, e->c.acct->name, &fs,
					      &nfs, &err)) < 0) {
		log_warn("acct=%s push: %s", e->c.acct->name, err.msg);
		return rc;
	}
	if ((v = calloc(is_all ? nfs + 1 : l->n + 1, sizeof(*v))) == NULL) {
		free(fs);
		return MS_ENOMEM;
	}
	if (!is_all) {
		for (size_t i = 0; i < l->n; i++)
			v[n++] = l->v[i];
	} else {
		/* INBOX first: with more folders than connections, the
		 * one most people wait for is watched. */
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < nfs; i++) {
				bool is_inbox = strcmp(fs[i].name,
						       "INBOX") == 0;

				if (is_inbox != (pass == 0) ||
				    (fs[i].attrs & STORE_FOLDER_NOSELECT))
					continue;
				if ((v[n] = strdup(fs[i].name)) != NULL)
					n++;
			}
		}
	}
	free(fs);
	*v_r = v;
	*n_r = n;
	*n_wanted_r = n;
	return MS_OK;
}

static void
acct_imap_push(struct acct_engine *base)
{
	struct acct_imap *e = (struct acct_imap *)base;
	struct imap_push_cbs cbs = {
		.on_change_cb = acct_imap_on_push_change,
		.on_down_cb = acct_imap_on_push_down,
		.on_state_cb = acct_imap_on_push_state,
		.on_closed_cb = acct_imap_on_push_closed,
		.arg = e,
	};
	struct imap_session_params sp;
	bool is_all = false;
	size_t n = 0, n_wanted = 0;
	char **v = NULL;
	int rc;

	if (!e->c.acct->idle || e->is_close_asked || e->caps == 0 ||
	    (e->push != NULL && imap_push_is_up(e->push)) ||
	    uv_now(e->c.loop) < e->push_retry_ms)
		return;
	if (e->push == NULL) {
		acct_imap_session_params(e, &sp);
		if (imap_push_new(e->c.loop, &sp, &cbs, &e->push) < 0) {
			log_warn("acct=%s push: out of memory", e->c.acct->name);
			return;
		}
	}
	for (size_t i = 0; i < e->c.acct->idle_folders.n; i++)
		if (strcmp(e->c.acct->idle_folders.v[i], "*") == 0)
			is_all = true;
	/* With NOTIFY too: IDLE takes over if the server refuses it. */
	if (acct_imap_idle_folders(e, &v, &n, &n_wanted) < 0)
		return;
	e->push_up_ms = uv_now(e->c.loop);
	if ((rc = imap_push_start(e->push, e->caps, v, n, n_wanted)) < 0)
		log_warn("acct=%s push: %s", e->c.acct->name, ms_strerror(rc));
	if (is_all)
		for (size_t i = 0; i < n; i++)
			free(v[i]);
	free(v);
}

static void
acct_imap_reconnect(struct acct_engine *base)
{
	struct acct_imap *e = (struct acct_imap *)base;

	if (e->is_close_asked)
		return;
	/* Without LOGOUT: after a sleep or a network change its answer
	 * may never come, and push restarts only once the old one is
	 * down. */
	if (e->push != NULL)
		imap_push_drop(e->push);
	/* A pass on it fails over to a new session at once (is_reused);
	 * a kept one is logged in again by the next pass. */
	if (e->sess != NULL && (e->state == ACCT_IMAP_READY ||
				e->state == ACCT_IMAP_PASS))
		imap_session_close(e->sess, MS_ECONN);
}

static void
acct_imap_destroy(struct acct_engine *base)
{
	struct acct_imap *e = (struct acct_imap *)base;

	if (e == NULL)
		return;
	if (e->state != ACCT_IMAP_CLOSED)	/* a bug: handles would dangle */
		log_err("acct=%s imap-engine freed while %s", e->c.acct->name,
			acct_imap_state_names[e->state]);
	imap_sync_free(&e->sync);
	imap_push_free(&e->push);
	acct_engine_common_deinit(&e->c);
	free(e->folder);
	free(e);
}

const struct acct_engine_ops acct_imap_ops = {
	.protocol = "imap",
	.create = acct_imap_create,
	.pass = acct_imap_pass,
	.cancel = acct_imap_cancel,
	.close = acct_imap_close,
	.push = acct_imap_push,
	.reconnect = acct_imap_reconnect,
	.resume = acct_imap_resume,
	.destroy = acct_imap_destroy,
};
