/*
 * acct_pop3.c - the POP3 engine behind the account runtime
 * (acct_engine.h): each pass settles the reader's local changes
 * (sync/pop3_local.h), logs in, runs a pass (sync/pop3_fetch.h) and logs
 * out.  No session is kept between passes: a POP3 server locks the
 * mailbox for a session and deletes only at QUIT, so a kept session
 * would hold both back.
 *
 * The story of a pass, in order:
 *   IDLE -> CONNECTING (login, STLS) -> FETCH (the pass) -> CLOSING (QUIT
 *   written and the connection closed without waiting for its +OK when
 *   no deletion was made, or a drop without QUIT when the pass failed,
 *   so that no DELE takes effect) -> IDLE, and the result goes to the
 *   runtime from the defer timer.  close(): the pass is cancelled, then
 *   CLOSED.
 * While the pass downloads it only adds records: each batch it commits
 * is reported with is_adding, and before it changes records it asks
 * hold_cb (acct_engine.h), as the IMAP engine does in a first fetch, so
 * that the mirror fills during a first download too.
 */
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "acct/acct_engine.h"
#include "log.h"
#include "net/tls.h"
#include "session/pop3_session.h"
#include "sync/pop3_fetch.h"
#include "sync/pop3_local.h"

enum acct_pop3_state {
	ACCT_POP3_IDLE,
	ACCT_POP3_CONNECTING,
	ACCT_POP3_FETCH,
	ACCT_POP3_CLOSING,
	ACCT_POP3_CLOSED,
};

static const char *const acct_pop3_state_names[] = {
	[ACCT_POP3_IDLE] = "idle",
	[ACCT_POP3_CONNECTING] = "connecting",
	[ACCT_POP3_FETCH] = "fetch",
	[ACCT_POP3_CLOSING] = "closing",
	[ACCT_POP3_CLOSED] = "closed",
};

struct acct_pop3 {
	struct acct_engine base;	/* first: the runtime's handle */
	struct acct_engine_common c;	/* loop, store, acct, cbs, TLS, defer */
	enum acct_pop3_state state;
	struct pop3_session *sess;
	struct pop3_fetch *fetch;
	bool want_pass;			/* until pass_done */
	bool is_cancelled;
	bool is_close_asked;
	bool has_done;			/* res waits for the defer timer */
	uint64_t settled;		/* local changes kept local */
	struct acct_result res;
};

static void acct_pop3_maybe_closed(struct acct_pop3 *e);

static void
acct_pop3_set_state(struct acct_pop3 *e, enum acct_pop3_state st)
{
	if (e->state == st)
		return;
	log_debug("acct=%s pop3-engine state=%s->%s", e->c.acct->name,
		  acct_pop3_state_names[e->state], acct_pop3_state_names[st]);
	e->state = st;
}

static void
acct_pop3_on_defer(uv_timer_t *t)
{
	struct acct_pop3 *e = t->data;
	struct acct_result res;

	if (!e->has_done) {
		acct_pop3_maybe_closed(e);
		return;
	}
	e->has_done = false;
	pop3_fetch_free(&e->fetch);
	res = e->res;
	e->want_pass = false;
	e->is_cancelled = false;
	e->c.cbs.on_pass_done_cb(&res, e->c.cbs.arg);
	acct_pop3_maybe_closed(e);
}

/* The pass is over and its session gone: reported on a later turn. */
static void
acct_pop3_report(struct acct_pop3 *e)
{
	e->has_done = true;
	uv_timer_start(&e->c.defer, acct_pop3_on_defer, 0, 0);
}

static void
acct_pop3_fail_pass(struct acct_pop3 *e, int rc, const char *msg,
		    bool is_reached)
{
	memset(&e->res, 0, sizeof(e->res));
	e->res.rc = rc;
	e->res.is_reached = is_reached;
	snprintf(e->res.error, sizeof(e->res.error), "%s",
		 msg != NULL && msg[0] != '\0' ? msg : ms_strerror(rc));
}

/* --- the pass ------------------------------------------------------------- */

static void
acct_pop3_on_progress(const struct pop3_fetch_summary *sum, void *arg)
{
	struct acct_pop3 *e = arg;
	struct acct_progress p = {
		.folders_done = 0,
		.folders_total = 1,
		.msgs_done = sum->new_msgs,
		.msgs_total = sum->to_fetch,
		.bytes_done = sum->bytes,
		.bytes_total = sum->bytes_to_fetch,
		.seconds = sum->seconds,
		.is_adding = sum->is_adding,
	};

	snprintf(p.folder, sizeof(p.folder), "INBOX");
	if (e->c.cbs.on_progress_cb != NULL)
		e->c.cbs.on_progress_cb(&p, e->c.cbs.arg);
}

static bool
acct_pop3_on_hold(void *arg)
{
	struct acct_pop3 *e = arg;

	return e->c.cbs.hold_cb != NULL && e->c.cbs.hold_cb(e->c.cbs.arg);
}

/* Fires inside a session callback: the session is closed here (QUIT
 * unless the pass sent it or failed), the report waits for on_close. */
static void
acct_pop3_on_fetch_done(const struct pop3_fetch_summary *sum, void *arg)
{
	struct acct_pop3 *e = arg;
	struct acct_result *r = &e->res;

	memset(r, 0, sizeof(*r));
	r->rc = sum->rc;
	if (e->is_cancelled && sum->rc != MS_OK)
		r->rc = MS_ECANCELED;
	snprintf(r->error, sizeof(r->error), "%s", sum->error);
	r->is_reached = true;
	r->folders = 1;
	r->folder_errors = sum->msg_errors > 0 ? 1 : 0;
	r->new_msgs = sum->new_msgs;
	r->deleted = sum->deleted;
	r->changed = e->settled;
	r->bytes = sum->bytes;
	r->seconds = sum->seconds;
	if (sum->msg_errors > 0)
		log_err("acct=%s pop3 %u message%s not downloaded (the last: "
			"%s); they stay on the server", e->c.acct->name,
			sum->msg_errors, sum->msg_errors == 1 ? "" : "s",
			sum->msg_error);
	if (e->sess == NULL)
		return;		/* it ended the pass: on_close reports */
	acct_pop3_set_state(e, ACCT_POP3_CLOSING);
	/* A pass that ended well without QUIT made no deletion real: its
	 * QUIT changes nothing, so the session ends once QUIT is written,
	 * without a round trip for the +OK. */
	if (sum->rc == MS_OK && !sum->has_quit)
		pop3_session_quit_unanswered(e->sess);
	else
		pop3_session_close(e->sess, MS_ECANCELED);
}

static void
acct_pop3_on_ready(struct pop3_session *s, void *arg)
{
	struct acct_pop3 *e = arg;
	struct pop3_fetch_params p = {
		.store = e->c.store,
		.account = e->c.acct,
		.sess = s,
		.on_progress_cb = acct_pop3_on_progress,
		.on_done_cb = acct_pop3_on_fetch_done,
		.hold_cb = acct_pop3_on_hold,
		.arg = e,
	};
	struct ms_err err = { 0 };
	int rc;

	if (e->state != ACCT_POP3_CONNECTING)
		return;
	if (e->is_cancelled) {
		acct_pop3_fail_pass(e, MS_ECANCELED, "interrupted", true);
		acct_pop3_set_state(e, ACCT_POP3_CLOSING);
		pop3_session_close(s, MS_OK);
		return;
	}
	acct_pop3_set_state(e, ACCT_POP3_FETCH);
	if ((rc = pop3_fetch_start(&p, &e->fetch, &err)) < 0) {
		acct_pop3_fail_pass(e, rc, err.msg, true);
		acct_pop3_set_state(e, ACCT_POP3_CLOSING);
		pop3_session_close(s, MS_OK);
	}
}

static void
acct_pop3_on_close(struct pop3_session *s, int reason,
		   const struct ms_err *err, void *arg)
{
	struct acct_pop3 *e = arg;
	const char *why = err != NULL && err->msg[0] != '\0' ? err->msg :
			  ms_strerror(reason);

	(void)s;
	e->sess = NULL;
	switch (e->state) {
	case ACCT_POP3_CONNECTING:
		/* Never logged in.  Unreached when the connection itself
		 * failed. */
		acct_pop3_fail_pass(e, e->is_cancelled ? MS_ECANCELED :
				    reason == MS_OK ? MS_ECONN : reason,
				    e->is_cancelled ? "interrupted" : why,
				    reason != MS_ECONN &&
				    reason != MS_ETIMEDOUT);
		break;
	case ACCT_POP3_FETCH:
		/* The session ended under the pass: it commits what is
		 * complete and reports (acct_pop3_on_fetch_done). */
		pop3_fetch_session_closed(e->fetch, reason, err);
		break;
	case ACCT_POP3_CLOSING:
		break;
	case ACCT_POP3_IDLE:
	case ACCT_POP3_CLOSED:
		return;
	}
	acct_pop3_set_state(e, ACCT_POP3_IDLE);
	acct_pop3_report(e);
}

static int
acct_pop3_connect(struct acct_pop3 *e, struct ms_err *err_r)
{
	const struct cfg_account *a = e->c.acct;
	struct pop3_session_params sp = {
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
		.on_ready_cb = acct_pop3_on_ready,
		.on_close_cb = acct_pop3_on_close,
		.arg = e,
	};
	int rc;

	if ((rc = pop3_session_new(e->c.loop, &sp, &e->sess, err_r)) < 0)
		return rc;
	acct_pop3_set_state(e, ACCT_POP3_CONNECTING);
	return MS_OK;
}

/* --- closing ---------------------------------------------------------------- */

static void
acct_pop3_on_defer_closed(uv_handle_t *h)
{
	struct acct_pop3 *e = h->data;

	acct_pop3_set_state(e, ACCT_POP3_CLOSED);
	if (e->c.cbs.on_closed_cb != NULL)
		e->c.cbs.on_closed_cb(e->c.cbs.arg);
}

static void
acct_pop3_maybe_closed(struct acct_pop3 *e)
{
	if (!e->is_close_asked || e->sess != NULL || e->has_done ||
	    e->want_pass || e->state == ACCT_POP3_CLOSED ||
	    uv_is_closing((uv_handle_t *)&e->c.defer))
		return;
	uv_close((uv_handle_t *)&e->c.defer, acct_pop3_on_defer_closed);
}

/* --- the interface ------------------------------------------------------- */

static int
acct_pop3_create(uv_loop_t *loop, struct store *store,
		 const struct cfg_account *account,
		 const struct acct_engine_cbs *cbs, struct acct_engine **e_r,
		 struct ms_err *err_r)
{
	return acct_engine_new(sizeof(struct acct_pop3),
			       offsetof(struct acct_pop3, c), &acct_pop3_ops, loop,
			       store, account, cbs, e_r, err_r);
}

static int
acct_pop3_pass(struct acct_engine *base, const char *folder,
	       struct ms_err *err_r)
{
	struct acct_pop3 *e = (struct acct_pop3 *)base;
	struct ms_err err = { 0 };
	int rc;

	(void)folder;	/* one folder: INBOX */
	if (e->want_pass || e->is_close_asked || e->state != ACCT_POP3_IDLE)
		return ms_err_set(err_r, MS_EINVAL, "a pass is running or the "
				  "engine is closing");
	e->is_cancelled = false;
	/* What a reader did stays local; settled before the network, so
	 * that it is done even while the server is out of reach. */
	if ((rc = pop3_local_settle(e->c.store, e->c.acct->name, &e->settled,
				    &err)) < 0)
		log_err("acct=%s pop3 local changes: %s", e->c.acct->name,
			err.msg);
	if ((rc = acct_pop3_connect(e, err_r)) < 0)
		return rc;
	e->want_pass = true;
	return MS_OK;
}

static void
acct_pop3_cancel(struct acct_engine *base)
{
	struct acct_pop3 *e = (struct acct_pop3 *)base;

	if (!e->want_pass || e->has_done || e->is_cancelled)
		return;
	e->is_cancelled = true;
	/* No QUIT: a DELE already sent must not take effect, and the
	 * pass commits what is complete when its session ends. */
	if (e->sess != NULL && e->state != ACCT_POP3_CLOSING)
		pop3_session_close(e->sess, MS_ECANCELED);
}

static void
acct_pop3_resume(struct acct_engine *base)
{
	struct acct_pop3 *e = (struct acct_pop3 *)base;

	if (e->state == ACCT_POP3_FETCH && !e->has_done)
		pop3_fetch_resume(e->fetch);
}

static void
acct_pop3_close(struct acct_engine *base)
{
	struct acct_pop3 *e = (struct acct_pop3 *)base;

	if (e->is_close_asked)
		return;
	e->is_close_asked = true;
	if (e->want_pass) {
		acct_pop3_cancel(base);
		return;
	}
	acct_pop3_maybe_closed(e);
}

static void
acct_pop3_destroy(struct acct_engine *base)
{
	struct acct_pop3 *e = (struct acct_pop3 *)base;

	if (e == NULL)
		return;
	if (e->state != ACCT_POP3_CLOSED)	/* a bug: handles would dangle */
		log_err("acct=%s pop3-engine freed while %s", e->c.acct->name,
			acct_pop3_state_names[e->state]);
	pop3_fetch_free(&e->fetch);
	acct_engine_common_deinit(&e->c);
	free(e);
}

const struct acct_engine_ops acct_pop3_ops = {
	.protocol = "pop3",
	.create = acct_pop3_create,
	.pass = acct_pop3_pass,
	.cancel = acct_pop3_cancel,
	.close = acct_pop3_close,
	.resume = acct_pop3_resume,
	.destroy = acct_pop3_destroy,
};
