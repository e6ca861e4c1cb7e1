/*
 * smtp_session.c - greeting, EHLO, STARTTLS, EHLO again, AUTH, then a
 * command pipe for the send engine, over session_base.
 */
#include "session/smtp_session.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session/session_base.h"

/* After the SESSION_* states every session passes through. */
enum smtp_session_state {
	SMTP_SESSION_EHLO = SESSION_PROTO_STATES,
	SMTP_SESSION_HELO,
	SMTP_SESSION_STARTTLS,
	SMTP_SESSION_EHLO_TLS,
};

static const char *const smtp_session_state_names[] = {
	"EHLO", "HELO", "STARTTLS", "EHLO_TLS",
};

struct smtp_session {
	struct session_base base;
	struct smtp_client core;
	enum sasl_mech auth;
	char *helo_name;	/* owned */
	void (*on_ready_cb)(struct smtp_session *s, void *arg);
	void (*on_close_cb)(struct smtp_session *s, int reason,
			    const struct ms_err *err, void *arg);
	void *arg;
};

void
smtp_session_flush(struct smtp_session *s)
{
	session_base_flush(&s->base);
}

static void
smtp_session_ready(struct smtp_session *s)
{
	session_base_ready(&s->base);
	log_debug("acct=%s smtp %s:%u ready (%s%s)", s->base.account,
		  s->base.host, s->base.port,
		  s->base.auth_used[0] != '\0' ? s->base.auth_used :
		  "no auth",
		  session_base_is_tls(&s->base) ? ", TLS" : "");
	s->on_ready_cb(s, s->arg);
}

/* "550 5.1.1 text": the reply as the error message wants it. */
static void
smtp_session_fail_reply(struct smtp_session *s, int code, const char *what,
			const struct smtp_event *ev)
{
	session_base_fail(&s->base, code, "%s refused: %d %.*s", what,
			  ev->code, (int)ev->text.len,
			  (const char *)ev->text.p);
}

static void
smtp_session_send_ehlo(struct smtp_session *s, enum smtp_session_state st)
{
	int rc = st == SMTP_SESSION_HELO ?
		 smtp_cmd_helo(&s->core, s->helo_name) :
		 smtp_cmd_ehlo(&s->core, s->helo_name);

	if (rc != MS_OK) {
		session_base_fail(&s->base, MS_EINVAL, "EHLO name '%s' "
				  "unusable", s->helo_name);
		return;
	}
	session_base_set_state(&s->base, st);
}

static void
smtp_session_start_auth(struct smtp_session *s)
{
	if (!(smtp_client_exts(&s->core) & SMTP_EXT_AUTH)) {
		session_base_fail(&s->base, MS_EIMPL, "server offers no AUTH%s",
				  session_base_is_tls(&s->base) ?
				  "" : " without TLS");
		return;
	}
	if (session_base_sasl_begin(&s->base, smtp_client_auth_mechs(&s->core),
				    s->auth) == MS_EIMPL)
		session_base_fail(&s->base, MS_EIMPL, "no usable AUTH "
				  "mechanism (server offers %s)",
				  s->core.auth_mechs);
}

/* EHLO answered (plain or over TLS): STARTTLS, AUTH or ready. */
static void
smtp_session_ehlo_done(struct smtp_session *s)
{
	if (s->base.tls == NET_TLS_STARTTLS &&
	    s->base.state == SMTP_SESSION_EHLO) {
		if (!(smtp_client_exts(&s->core) & SMTP_EXT_STARTTLS)) {
			session_base_fail(&s->base, MS_ETLS, "server does not "
					  "offer STARTTLS; refusing to "
					  "continue without TLS");
			return;
		}
		if (smtp_cmd_starttls(&s->core) != MS_OK) {
			session_base_fail(&s->base, MS_EINTERNAL,
					  "cannot build STARTTLS");
			return;
		}
		session_base_set_state(&s->base, SMTP_SESSION_STARTTLS);
		return;
	}
	if (s->base.user != NULL)
		smtp_session_start_auth(s);
	else
		smtp_session_ready(s);
}

static void
smtp_session_auth_reply(struct smtp_session *s, const struct smtp_event *ev)
{
	char text[300];

	if (ev->type == SMTP_EV_AUTH_CHALLENGE) {
		session_base_sasl_answer(&s->base, ev->text);
		return;
	}
	if (ev->code == 235) {
		if (session_base_sasl_success(&s->base) == MS_OK)
			smtp_session_ready(s);
		return;
	}
	snprintf(text, sizeof(text), "%d %.*s", ev->code, (int)ev->text.len,
		 (const char *)ev->text.p);
	/* 4xx (454 temporary failure) is not a verdict on the password. */
	session_base_sasl_failed(&s->base, ev->code >= 500 ? MS_EAUTH :
				 MS_ERESP, ms_slice_from_cstr(text));
}

static void
smtp_session_cmd_reply(struct smtp_session *s, const struct smtp_event *ev)
{
	struct smtp_session_cmd_cbs cb;

	/* An unasked 421 answers no command: the pending ones fail. */
	if (ev->cmd == SMTP_CMD_NONE) {
		smtp_session_fail_reply(s, MS_ECONN, "session", ev);
		return;
	}
	if (!session_base_cmd_done(&s->base, &cb)) {
		session_base_unclaimed(&s->base, ev->cmd == SMTP_CMD_QUIT);
		return;
	}
	cb.on_reply_cb(s, MS_OK, ev, cb.arg);
}

static void
smtp_session_event(struct smtp_session *s, const struct smtp_event *ev)
{
	session_base_trace_in(&s->base, ev->text);
	/* 421: the server is going away, whatever we were doing. */
	if (ev->code == 421 && s->base.state != SESSION_READY &&
	    s->base.state != SESSION_QUIT) {
		smtp_session_fail_reply(s, MS_ECONN, "session", ev);
		return;
	}
	switch (s->base.state) {
	case SESSION_GREETING:
		if (ev->code != 220) {
			smtp_session_fail_reply(s, MS_ERESP, "greeting", ev);
			return;
		}
		smtp_session_send_ehlo(s, SMTP_SESSION_EHLO);
		break;
	case SMTP_SESSION_EHLO:
	case SMTP_SESSION_EHLO_TLS:
		if (ev->code == 250) {
			smtp_session_ehlo_done(s);
		} else if (s->base.state == SMTP_SESSION_EHLO &&
			   s->base.tls == NET_TLS_NONE &&
			   s->base.user == NULL && ev->code >= 500) {
			/* RFC 5321 3.2: an old server; HELO suffices. */
			smtp_session_send_ehlo(s, SMTP_SESSION_HELO);
		} else {
			smtp_session_fail_reply(s, ev->code >= 500 ?
						MS_EIMPL : MS_ERESP, "EHLO",
						ev);
		}
		break;
	case SMTP_SESSION_HELO:
		if (ev->code != 250) {
			smtp_session_fail_reply(s, MS_ERESP, "HELO", ev);
			return;
		}
		smtp_session_ready(s);
		break;
	case SMTP_SESSION_STARTTLS:
		if (ev->code != 220) {
			smtp_session_fail_reply(s, MS_ETLS, "STARTTLS", ev);
			return;
		}
		/* The caller stops feeding: later bytes are discarded. */
		session_base_set_state(&s->base, SESSION_TLS_HANDSHAKE);
		if (net_conn_starttls(s->base.conn) != MS_OK)
			session_base_fail(&s->base, MS_EINTERNAL,
					  "cannot start TLS");
		break;
	case SESSION_AUTH:
		smtp_session_auth_reply(s, ev);
		break;
	case SESSION_READY:
	case SESSION_QUIT:
		smtp_session_cmd_reply(s, ev);
		break;
	default:
		session_base_fail(&s->base, MS_EPROTO, "unexpected reply "
				  "in state %s",
				  session_base_state_name(&s->base));
		break;
	}
}

static int
smtp_session_feed_cb(void *arg, const uint8_t *p, size_t len, size_t *used_r)
{
	struct smtp_session *s = arg;
	struct smtp_event ev;
	int rc = smtp_client_feed(&s->core, p, len, used_r);

	while (smtp_client_next_event(&s->core, &ev) == MS_OK &&
	       !s->base.is_closing)
		smtp_session_event(s, &ev);
	return rc;
}

static void
smtp_session_tls_ready_cb(void *arg)
{
	struct smtp_session *s = arg;

	if (smtp_client_starttls_done(&s->core) != MS_OK) {
		session_base_fail(&s->base, MS_EPROTO,
				  "TLS up without STARTTLS");
		return;
	}
	log_debug("acct=%s smtp %s:%u STARTTLS done, %zu plaintext bytes "
		  "discarded", s->base.account, s->base.host, s->base.port,
		  net_conn_discarded_bytes(s->base.conn));
	/* RFC 3207 4.2: forget everything, greet again. */
	smtp_session_send_ehlo(s, SMTP_SESSION_EHLO_TLS);
	smtp_session_flush(s);
}

static void
smtp_session_out_peek_cb(void *arg, const uint8_t **p_r, size_t *len_r)
{
	struct smtp_session *s = arg;

	smtp_client_out_peek(&s->core, p_r, len_r);
}

static void
smtp_session_out_consume_cb(void *arg, size_t len)
{
	struct smtp_session *s = arg;

	smtp_client_out_consume(&s->core, len);
}

static size_t
smtp_session_pending_cb(void *arg)
{
	struct smtp_session *s = arg;

	return smtp_client_pending(&s->core);
}

static int
smtp_session_quit_cb(void *arg)
{
	struct smtp_session *s = arg;

	return smtp_cmd_quit(&s->core);
}

static int
smtp_session_auth_cb(void *arg, const char *mech, const struct ms_slice *ir)
{
	struct smtp_session *s = arg;

	return smtp_cmd_auth(&s->core, mech, ir);
}

static int
smtp_session_auth_response_cb(void *arg, struct ms_slice b64)
{
	struct smtp_session *s = arg;

	return smtp_cmd_auth_response(&s->core, b64);
}

static void
smtp_session_cmd_cancel_cb(void *arg, int rc, const void *entry)
{
	struct smtp_session *s = arg;
	const struct smtp_session_cmd_cbs *cb = entry;

	cb->on_reply_cb(s, rc, NULL, cb->arg);
}

static void
smtp_session_closed_cb(int reason, const struct ms_err *err, void *arg)
{
	struct smtp_session *s = arg;

	s->on_close_cb(s, reason, err, s->arg);
}

static void
smtp_session_free_cb(void *arg)
{
	struct smtp_session *s = arg;

	smtp_client_deinit(&s->core);
	free(s->helo_name);
	free(s);
}

static const struct session_base_ops smtp_session_ops = {
	.tls_ready_cb = smtp_session_tls_ready_cb,
	.feed_cb = smtp_session_feed_cb,
	.out_peek_cb = smtp_session_out_peek_cb,
	.out_consume_cb = smtp_session_out_consume_cb,
	.pending_cb = smtp_session_pending_cb,
	.quit_cb = smtp_session_quit_cb,
	.auth_cb = smtp_session_auth_cb,
	.auth_response_cb = smtp_session_auth_response_cb,
	.cmd_cancel_cb = smtp_session_cmd_cancel_cb,
	.closed_cb = smtp_session_closed_cb,
	.free_cb = smtp_session_free_cb,
};

int
smtp_session_new(uv_loop_t *loop, const struct smtp_session_params *params,
		 struct smtp_session **s_r, struct ms_err *err_r)
{
	struct session_base_params bp = {
		.proto = "smtp",
		.trace_area = TRACE_SMTP,
		.account = params->account,
		.host = params->host,
		.user = params->user,
		.port = params->port,
		.tls = params->tls,
		.tls_ctx = params->tls_ctx,
		.timeout_ms = params->timeout_ms,
		.max_output = params->max_output,
		.password = params->password,
		.password_cmd = params->password_cmd,
		.oauth_token_cmd = params->oauth_token_cmd,
		.state_names = smtp_session_state_names,
		.entry_size = sizeof(struct smtp_session_cmd_cbs),
		.reply_word = "reply",
	};
	struct smtp_session *s;
	int rc;

	if (params->on_ready_cb == NULL || params->on_close_cb == NULL)
		return ms_err_set(err_r, MS_EINVAL, "smtp: callbacks missing");
	s = calloc(1, sizeof(*s));
	if (s == NULL || smtp_client_init(&s->core, NULL) != MS_OK) {
		free(s);
		return ms_err_set(err_r, MS_ENOMEM, "smtp: out of memory");
	}
	s->helo_name = strdup(params->helo_name != NULL ? params->helo_name :
			      "localhost");
	if (s->helo_name == NULL)
		abort();
	s->auth = params->auth;
	s->on_ready_cb = params->on_ready_cb;
	s->on_close_cb = params->on_close_cb;
	s->arg = params->arg;
	rc = session_base_open(&s->base, loop, &bp, &smtp_session_ops, s,
			       err_r);
	if (rc != MS_OK) {
		smtp_client_deinit(&s->core);
		free(s->helo_name);
		free(s);
		return rc;
	}
	*s_r = s;
	return MS_OK;
}

struct smtp_client *
smtp_session_core(struct smtp_session *s)
{
	return &s->core;
}

int
smtp_session_submit(struct smtp_session *s,
		    const struct smtp_session_cmd_cbs *cbs)
{
	if (cbs == NULL || cbs->on_reply_cb == NULL)
		return MS_EINVAL;
	return session_base_submit(&s->base, cbs);
}

size_t
smtp_session_in_flight(const struct smtp_session *s)
{
	return session_base_fifo_count(&s->base);
}

unsigned
smtp_session_exts(const struct smtp_session *s)
{
	return smtp_client_exts(&s->core);
}

const char *
smtp_session_auth_used(const struct smtp_session *s)
{
	return s->base.auth_used;
}

struct net_conn *
smtp_session_conn(struct smtp_session *s)
{
	return s->base.conn;
}

void
smtp_session_close(struct smtp_session *s, int reason)
{
	session_base_shutdown(&s->base, reason);
}
