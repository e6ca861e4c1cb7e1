/*
 * smtp_session.c - greeting, EHLO, STARTTLS, EHLO again, AUTH, then a
 * command pipe for the send engine, over session_base.
 */
#include "session/smtp_session.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session/session_base.h"

enum smtp_session_state {
	SMTP_SESSION_CONNECTING = 0,
	SMTP_SESSION_GREETING,
	SMTP_SESSION_EHLO,
	SMTP_SESSION_HELO,
	SMTP_SESSION_STARTTLS,
	SMTP_SESSION_TLS_HANDSHAKE,
	SMTP_SESSION_EHLO_TLS,
	SMTP_SESSION_AUTH,
	SMTP_SESSION_READY,
	SMTP_SESSION_QUIT,
	SMTP_SESSION_DONE,
};

static const char *const smtp_session_state_names[] = {
	"CONNECTING", "GREETING", "EHLO", "HELO", "STARTTLS", "TLS_HANDSHAKE",
	"EHLO_TLS", "AUTH", "READY", "QUIT", "DONE",
};

struct smtp_session {
	struct session_base base;
	enum smtp_session_state state;
	struct smtp_client core;
	enum sasl_mech auth;
	char *helo_name;	/* owned */
	void (*on_ready_cb)(struct smtp_session *s, void *arg);
	void (*on_close_cb)(struct smtp_session *s, int reason,
			    const struct ms_err *err, void *arg);
	void *arg;
};

static void
smtp_session_set_state(struct smtp_session *s, enum smtp_session_state st)
{
	log_trace(TRACE_SMTP, "acct=%s smtp state=%s->%s", s->base.account,
		  smtp_session_state_names[s->state],
		  smtp_session_state_names[st]);
	s->state = st;
}

void
smtp_session_flush(struct smtp_session *s)
{
	const uint8_t *p;
	size_t n;

	smtp_client_out_peek(&s->core, &p, &n);
	if (n == 0)
		return;
	if (session_base_write(&s->base, p, n) == MS_OK)
		smtp_client_out_consume(&s->core, n);
}

static void
smtp_session_ready(struct smtp_session *s)
{
	session_base_auth_done(&s->base);
	s->base.nsubmitted = smtp_client_pending(&s->core);
	smtp_session_set_state(s, SMTP_SESSION_READY);
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
	smtp_session_set_state(s, st);
}

static void
smtp_session_start_auth(struct smtp_session *s)
{
	enum sasl_mech mech;
	struct ms_buf ir;
	bool has_ir = false;
	int rc;

	if (!(smtp_client_exts(&s->core) & SMTP_EXT_AUTH)) {
		session_base_fail(&s->base, MS_EIMPL, "server offers no AUTH%s",
				  session_base_is_tls(&s->base) ?
				  "" : " without TLS");
		return;
	}
	ms_buf_init(&ir, 64u * 1024);
	rc = session_base_sasl_start(&s->base,
				     smtp_client_auth_mechs(&s->core),
				     s->auth, &mech, &ir, &has_ir);
	if (rc == MS_OK) {
		struct ms_slice sl = { ir.p != NULL ? ir.p :
				       (const uint8_t *)"", ir.len };

		/* RFC 4954 4: the initial response saves a round trip. */
		rc = smtp_cmd_auth(&s->core, sasl_mech_name(mech),
				   has_ir ? &sl : NULL);
		if (rc != MS_OK)
			session_base_fail(&s->base, rc, "cannot send AUTH %s "
					  "(%s)", sasl_mech_name(mech),
					  ms_strerror(rc));
		else
			smtp_session_set_state(s, SMTP_SESSION_AUTH);
	} else if (rc == MS_EIMPL) {
		session_base_fail(&s->base, rc, "no usable AUTH mechanism "
				  "(server offers %s)", s->core.auth_mechs);
	}
	ms_buf_wipe(&ir);
	ms_buf_deinit(&ir);
}

/* EHLO answered (plain or over TLS): STARTTLS, AUTH or ready. */
static void
smtp_session_ehlo_done(struct smtp_session *s)
{
	if (s->base.tls == NET_TLS_STARTTLS && s->state == SMTP_SESSION_EHLO) {
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
		smtp_session_set_state(s, SMTP_SESSION_STARTTLS);
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
		struct ms_buf out;
		int rc;

		ms_buf_init(&out, 64u * 1024);
		session_base_sasl_step(&s->base, ev->text, &out);
		rc = smtp_cmd_auth_response(&s->core, (struct ms_slice){
			out.p != NULL ? out.p : (const uint8_t *)"", out.len });
		ms_buf_wipe(&out);
		ms_buf_deinit(&out);
		if (rc != MS_OK)
			session_base_fail(&s->base, rc, "cannot answer the "
					  "SASL challenge");
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
		if (s->state == SMTP_SESSION_QUIT && ev->cmd == SMTP_CMD_QUIT)
			session_base_close(&s->base, MS_OK);
		return;
	}
	cb.on_reply_cb(s, MS_OK, ev, cb.arg);
}

static void
smtp_session_event(struct smtp_session *s, const struct smtp_event *ev)
{
	session_base_trace_in(&s->base, ev->text);
	/* 421: the server is going away, whatever we were doing. */
	if (ev->code == 421 && s->state != SMTP_SESSION_READY &&
	    s->state != SMTP_SESSION_QUIT) {
		smtp_session_fail_reply(s, MS_ECONN, "session", ev);
		return;
	}
	switch (s->state) {
	case SMTP_SESSION_GREETING:
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
		} else if (s->state == SMTP_SESSION_EHLO &&
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
		smtp_session_set_state(s, SMTP_SESSION_TLS_HANDSHAKE);
		if (net_conn_starttls(s->base.conn) != MS_OK)
			session_base_fail(&s->base, MS_EINTERNAL,
					  "cannot start TLS");
		break;
	case SMTP_SESSION_AUTH:
		smtp_session_auth_reply(s, ev);
		break;
	case SMTP_SESSION_READY:
	case SMTP_SESSION_QUIT:
		smtp_session_cmd_reply(s, ev);
		break;
	default:
		session_base_fail(&s->base, MS_EPROTO, "unexpected reply "
				  "in state %s",
				  smtp_session_state_names[s->state]);
		break;
	}
}

static size_t
smtp_session_data_cb(const uint8_t *p, size_t len, void *arg)
{
	struct smtp_session *s = arg;
	size_t off = 0;

	while (off < len && !s->base.is_closing &&
	       s->state != SMTP_SESSION_TLS_HANDSHAKE) {
		struct smtp_event ev;
		size_t used = 0;
		int rc = smtp_client_feed(&s->core, p + off, len - off, &used);

		off += used;
		while (smtp_client_next_event(&s->core, &ev) == MS_OK &&
		       !s->base.is_closing)
			smtp_session_event(s, &ev);
		if (rc < 0) {
			session_base_fail(&s->base, MS_EPROTO, "malformed "
					  "server reply (%s)",
					  ms_strerror(rc));
			break;
		}
	}
	if (!s->base.is_closing)
		smtp_session_flush(s);
	return off;
}

static void
smtp_session_connected_cb(void *arg)
{
	struct smtp_session *s = arg;

	smtp_session_set_state(s, SMTP_SESSION_GREETING);
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
smtp_session_timer_cb(void *arg)
{
	struct smtp_session *s = arg;

	session_base_close(&s->base, MS_OK);
}

static void
smtp_session_closed_cb(int reason, const struct ms_err *err, void *arg)
{
	struct smtp_session *s = arg;
	int rc = reason == MS_OK ? MS_ECANCELED : reason;
	struct smtp_session_cmd_cbs cb;

	smtp_session_set_state(s, SMTP_SESSION_DONE);
	session_base_auth_done(&s->base);
	while (session_base_fifo_pop(&s->base, &cb))
		cb.on_reply_cb(s, rc, NULL, cb.arg);
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
	.connected_cb = smtp_session_connected_cb,
	.tls_ready_cb = smtp_session_tls_ready_cb,
	.data_cb = smtp_session_data_cb,
	.timer_cb = smtp_session_timer_cb,
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
		.password = params->password,
		.password_cmd = params->password_cmd,
		.oauth_token_cmd = params->oauth_token_cmd,
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
	session_base_fifo_init(&s->base, sizeof(struct smtp_session_cmd_cbs));
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
	int rc;

	if (cbs == NULL || cbs->on_reply_cb == NULL)
		return MS_EINVAL;
	rc = session_base_submit(&s->base, s->state == SMTP_SESSION_READY,
				 smtp_client_pending(&s->core), cbs);
	if (rc == MS_OK)
		smtp_session_flush(s);
	return rc;
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
	if (s->base.is_closing || s->state == SMTP_SESSION_QUIT)
		return;
	if (reason == MS_OK && s->state == SMTP_SESSION_READY &&
	    smtp_cmd_quit(&s->core) == MS_OK) {
		smtp_session_set_state(s, SMTP_SESSION_QUIT);
		session_base_quit_sent(&s->base);
		smtp_session_flush(s);
		return;
	}
	session_base_close(&s->base, reason);
}
