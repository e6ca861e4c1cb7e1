/*
 * pop3_session.c - greeting, CAPA, STLS, SASL or USER/PASS, then a
 * command pipe for the fetch engine, over session_base.
 */
#include "session/pop3_session.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session/session_base.h"

/* After the SESSION_* states every session passes through. */
enum pop3_session_state {
	POP3_SESSION_CAPA = SESSION_PROTO_STATES,
	POP3_SESSION_STLS,
	POP3_SESSION_CAPA_TLS,
	POP3_SESSION_USER,
	POP3_SESSION_PASS,
};

static const char *const pop3_session_state_names[] = {
	"CAPA", "STLS", "CAPA_TLS", "USER", "PASS",
};

struct pop3_session {
	struct session_base base;
	struct pop3_client core;
	enum sasl_mech auth;
	void (*on_ready_cb)(struct pop3_session *s, void *arg);
	void (*on_close_cb)(struct pop3_session *s, int reason,
			    const struct ms_err *err, void *arg);
	void *arg;
};

static void
pop3_session_ready(struct pop3_session *s)
{
	session_base_ready(&s->base);
	log_debug("acct=%s pop3 %s:%u logged in (%s%s)", s->base.account,
		  s->base.host, s->base.port, s->base.auth_used,
		  session_base_is_tls(&s->base) ? ", TLS" : "");
	s->on_ready_cb(s, s->arg);
}

static void
pop3_session_send_capa(struct pop3_session *s, enum pop3_session_state st)
{
	if (pop3_cmd_capa(&s->core) != MS_OK) {
		session_base_fail(&s->base, MS_EINTERNAL, "cannot build CAPA");
		return;
	}
	session_base_set_state(&s->base, st);
	session_base_flush(&s->base);
}

static void
pop3_session_start_user_pass(struct pop3_session *s)
{
	struct ms_err e;

	if (!sasl_may_use_login_command(session_base_is_tls(&s->base),
					s->base.has_oauth, &e)) {
		session_base_fail(&s->base, e.code, "%s", e.msg);
		return;
	}
	snprintf(s->base.auth_used, sizeof(s->base.auth_used), "USER");
	if (pop3_cmd_user(&s->core, ms_slice_from_cstr(s->base.user)) !=
	    MS_OK) {
		session_base_fail(&s->base, MS_EINVAL, "user name unusable "
				  "in USER");
		return;
	}
	session_base_set_state(&s->base, POP3_SESSION_USER);
	session_base_flush(&s->base);
}

/* Picks the mechanism and sends AUTH (or USER as the last resort). */
static void
pop3_session_start_auth(struct pop3_session *s)
{
	int rc = session_base_sasl_begin(&s->base,
					 pop3_client_sasl_mechs(&s->core),
					 s->auth);

	if (rc == MS_EIMPL && s->auth == SASL_MECH_AUTO) {
		pop3_session_start_user_pass(s);
	} else if (rc == MS_EIMPL) {
		session_base_fail(&s->base, rc, "AUTH %s not offered (SASL "
				  "%s)", sasl_mech_name(s->auth),
				  s->core.sasl_mechs);
	}
	session_base_flush(&s->base);
}

/* After CAPA (plain or over TLS): STLS, or on to authentication. */
static void
pop3_session_capa_done(struct pop3_session *s)
{
	unsigned caps = pop3_client_caps(&s->core);

	if (s->base.tls == NET_TLS_STARTTLS &&
	    s->base.state == POP3_SESSION_CAPA) {
		if (!(caps & POP3_CAP_STLS)) {
			session_base_fail(&s->base, MS_ETLS, "server does not "
					  "offer STLS; refusing to continue "
					  "without TLS");
			return;
		}
		if (pop3_cmd_stls(&s->core) != MS_OK) {
			session_base_fail(&s->base, MS_EINTERNAL,
					  "cannot build STLS");
			return;
		}
		session_base_set_state(&s->base, POP3_SESSION_STLS);
		session_base_flush(&s->base);
		return;
	}
	pop3_session_start_auth(s);
}

static void
pop3_session_auth_event(struct pop3_session *s, const struct pop3_event *ev)
{
	if (ev->type == POP3_EV_CONTINUATION) {
		session_base_sasl_answer(&s->base, ev->text);
		return;
	}
	if (ev->type != POP3_EV_STATUS)
		return;
	if (!ev->is_ok) {
		/* RFC 3206: these are not about the credentials. */
		bool is_temp = ms_slice_case_eq_cstr(ev->code, "SYS/TEMP") ||
			       ms_slice_case_eq_cstr(ev->code, "SYS/PERM") ||
			       ms_slice_case_eq_cstr(ev->code, "IN-USE");

		session_base_sasl_failed(&s->base, is_temp ? MS_ERESP :
					 MS_EAUTH, ev->text);
		return;
	}
	if (session_base_sasl_success(&s->base) == MS_OK)
		pop3_session_ready(s);
}

static void
pop3_session_fail_status(struct pop3_session *s, int code, const char *what,
			 const struct pop3_event *ev)
{
	session_base_fail(&s->base, code, "%s refused: -ERR %.*s", what,
			  (int)ev->text.len, (const char *)ev->text.p);
}

/* A command event while ready: hand it to the oldest submitter. */
static void
pop3_session_cmd_event(struct pop3_session *s, const struct pop3_event *ev)
{
	const struct pop3_session_cmd_cbs *head =
		session_base_fifo_head(&s->base);
	struct pop3_session_cmd_cbs cb;
	bool is_done;

	if (head == NULL) {
		/* QUIT (ours) or a command built but not submitted. */
		session_base_unclaimed(&s->base, ev->cmd == POP3_CMD_QUIT);
		return;
	}
	cb = *head;
	is_done = ev->type == POP3_EV_END || (ev->type == POP3_EV_STATUS &&
		  (!ev->is_ok || (ev->cmd != POP3_CMD_CAPA &&
				  ev->cmd != POP3_CMD_LIST_ALL &&
				  ev->cmd != POP3_CMD_UIDL_ALL &&
				  ev->cmd != POP3_CMD_RETR &&
				  ev->cmd != POP3_CMD_TOP)));
	if (!is_done) {
		if (ev->type != POP3_EV_STATUS && cb.on_event_cb != NULL)
			cb.on_event_cb(s, ev, cb.arg);
		return;
	}
	(void)session_base_cmd_done(&s->base, &cb);
	cb.on_done_cb(s, MS_OK, ev, cb.arg);
}

static void
pop3_session_event(struct pop3_session *s, const struct pop3_event *ev)
{
	if (ev->type == POP3_EV_STATUS || ev->type == POP3_EV_CONTINUATION)
		session_base_trace_in(&s->base, ev->text);
	switch (s->base.state) {
	case SESSION_GREETING:
		if (!ev->is_ok) {
			pop3_session_fail_status(s, MS_ERESP, "greeting", ev);
			return;
		}
		pop3_session_send_capa(s, POP3_SESSION_CAPA);
		break;
	case POP3_SESSION_CAPA:
	case POP3_SESSION_CAPA_TLS:
		/* No CAPA (RFC 1939 servers): no STLS, no SASL. */
		if (ev->type == POP3_EV_END ||
		    (ev->type == POP3_EV_STATUS && !ev->is_ok))
			pop3_session_capa_done(s);
		break;
	case POP3_SESSION_STLS:
		if (!ev->is_ok) {
			pop3_session_fail_status(s, MS_ETLS, "STLS", ev);
			return;
		}
		/* The caller stops feeding: later bytes are discarded. */
		session_base_set_state(&s->base, SESSION_TLS_HANDSHAKE);
		if (net_conn_starttls(s->base.conn) != MS_OK)
			session_base_fail(&s->base, MS_EINTERNAL,
					  "cannot start TLS");
		break;
	case SESSION_AUTH:
		pop3_session_auth_event(s, ev);
		break;
	case POP3_SESSION_USER:
		if (!ev->is_ok) {
			pop3_session_fail_status(s, MS_EAUTH, "USER", ev);
			return;
		}
		s->base.in_auth = true;
		if (pop3_cmd_pass(&s->core, (struct ms_slice){
			(const uint8_t *)s->base.secret, s->base.secret_len }) !=
		    MS_OK) {
			session_base_fail(&s->base, MS_EINVAL, "password "
					  "unusable in PASS");
			return;
		}
		session_base_set_state(&s->base, POP3_SESSION_PASS);
		break;
	case POP3_SESSION_PASS:
		if (!ev->is_ok) {
			pop3_session_fail_status(s, MS_EAUTH, "PASS", ev);
			return;
		}
		pop3_session_ready(s);
		break;
	case SESSION_READY:
	case SESSION_QUIT:
		pop3_session_cmd_event(s, ev);
		break;
	default:
		session_base_fail(&s->base, MS_EPROTO, "unexpected response "
				  "in state %s",
				  session_base_state_name(&s->base));
		break;
	}
}

static int
pop3_session_feed_cb(void *arg, const uint8_t *p, size_t len, size_t *used_r)
{
	struct pop3_session *s = arg;
	struct pop3_event ev;
	int rc = pop3_client_feed(&s->core, p, len, used_r);

	while (pop3_client_next_event(&s->core, &ev) == MS_OK &&
	       !s->base.is_closing)
		pop3_session_event(s, &ev);
	return rc;
}

static void
pop3_session_tls_ready_cb(void *arg)
{
	struct pop3_session *s = arg;

	if (pop3_client_starttls_done(&s->core) != MS_OK) {
		session_base_fail(&s->base, MS_EPROTO, "TLS up without STLS");
		return;
	}
	log_debug("acct=%s pop3 %s:%u STLS done, %zu plaintext bytes "
		  "discarded", s->base.account, s->base.host, s->base.port,
		  net_conn_discarded_bytes(s->base.conn));
	pop3_session_send_capa(s, POP3_SESSION_CAPA_TLS);
}

static void
pop3_session_out_peek_cb(void *arg, const uint8_t **p_r, size_t *len_r)
{
	struct pop3_session *s = arg;

	pop3_client_out_peek(&s->core, p_r, len_r);
}

static void
pop3_session_out_consume_cb(void *arg, size_t len)
{
	struct pop3_session *s = arg;

	pop3_client_out_consume(&s->core, len);
}

static size_t
pop3_session_pending_cb(void *arg)
{
	struct pop3_session *s = arg;

	return pop3_client_pending(&s->core);
}

static int
pop3_session_quit_cb(void *arg)
{
	struct pop3_session *s = arg;

	return pop3_cmd_quit(&s->core);
}

static int
pop3_session_auth_cb(void *arg, const char *mech, const struct ms_slice *ir)
{
	struct pop3_session *s = arg;

	return pop3_cmd_auth(&s->core, mech, ir);
}

static int
pop3_session_auth_response_cb(void *arg, struct ms_slice b64)
{
	struct pop3_session *s = arg;

	return pop3_cmd_auth_response(&s->core, b64);
}

static void
pop3_session_cmd_cancel_cb(void *arg, int rc, const void *entry)
{
	struct pop3_session *s = arg;
	const struct pop3_session_cmd_cbs *cb = entry;

	cb->on_done_cb(s, rc, NULL, cb->arg);
}

static void
pop3_session_closed_cb(int reason, const struct ms_err *err, void *arg)
{
	struct pop3_session *s = arg;

	s->on_close_cb(s, reason, err, s->arg);
}

static void
pop3_session_free_cb(void *arg)
{
	struct pop3_session *s = arg;

	pop3_client_deinit(&s->core);
	free(s);
}

static const struct session_base_ops pop3_session_ops = {
	.tls_ready_cb = pop3_session_tls_ready_cb,
	.feed_cb = pop3_session_feed_cb,
	.out_peek_cb = pop3_session_out_peek_cb,
	.out_consume_cb = pop3_session_out_consume_cb,
	.pending_cb = pop3_session_pending_cb,
	.quit_cb = pop3_session_quit_cb,
	.auth_cb = pop3_session_auth_cb,
	.auth_response_cb = pop3_session_auth_response_cb,
	.cmd_cancel_cb = pop3_session_cmd_cancel_cb,
	.closed_cb = pop3_session_closed_cb,
	.free_cb = pop3_session_free_cb,
};

int
pop3_session_new(uv_loop_t *loop, const struct pop3_session_params *params,
		 struct pop3_session **s_r, struct ms_err *err_r)
{
	struct session_base_params bp = {
		.proto = "pop3",
		.trace_area = TRACE_POP3,
		.account = params->account,
		.host = params->host,
		.user = params->user,
		.port = params->port,
		.tls = params->tls,
		.tls_ctx = params->tls_ctx,
		.timeout_ms = params->timeout_ms,
		.is_user_required = true,
		.password = params->password,
		.password_cmd = params->password_cmd,
		.oauth_token_cmd = params->oauth_token_cmd,
		.state_names = pop3_session_state_names,
		.entry_size = sizeof(struct pop3_session_cmd_cbs),
		.reply_word = "response",
	};
	struct pop3_session *s;
	int rc;

	if (params->on_ready_cb == NULL || params->on_close_cb == NULL)
		return ms_err_set(err_r, MS_EINVAL, "pop3: callbacks missing");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "pop3: out of memory");
	if (pop3_client_init(&s->core, NULL) != MS_OK) {
		pop3_client_deinit(&s->core);
		free(s);
		return ms_err_set(err_r, MS_ENOMEM, "pop3: out of memory");
	}
	s->auth = params->auth;
	s->on_ready_cb = params->on_ready_cb;
	s->on_close_cb = params->on_close_cb;
	s->arg = params->arg;
	rc = session_base_open(&s->base, loop, &bp, &pop3_session_ops, s,
			       err_r);
	if (rc != MS_OK) {
		pop3_client_deinit(&s->core);
		free(s);
		return rc;
	}
	*s_r = s;
	return MS_OK;
}

struct pop3_client *
pop3_session_core(struct pop3_session *s)
{
	return &s->core;
}

int
pop3_session_submit(struct pop3_session *s,
		    const struct pop3_session_cmd_cbs *cbs)
{
	if (cbs == NULL || cbs->on_done_cb == NULL)
		return MS_EINVAL;
	return session_base_submit(&s->base, cbs);
}

size_t
pop3_session_in_flight(const struct pop3_session *s)
{
	return session_base_fifo_count(&s->base);
}

unsigned
pop3_session_caps(const struct pop3_session *s)
{
	return pop3_client_caps(&s->core);
}

const char *
pop3_session_auth_used(const struct pop3_session *s)
{
	return s->base.auth_used;
}

struct net_conn *
pop3_session_conn(struct pop3_session *s)
{
	return s->base.conn;
}

void
pop3_session_close(struct pop3_session *s, int reason)
{
	session_base_shutdown(&s->base, reason);
}

void
pop3_session_quit_unanswered(struct pop3_session *s)
{
	session_base_quit_unanswered(&s->base);
}
