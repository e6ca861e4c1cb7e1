/*
 * send_smtp.c - a delivery run over one SMTP session (send_smtp.h).
 *
 * The states of a run, in order:
 *   CONNECTING (greeting, EHLO, STARTTLS, AUTH: the session's) -> for
 *   each message: ENVELOPE (MAIL and RCPTs in flight) -> DATA (waiting
 *   for 354) -> DOT (the message sent, waiting for the final reply) ->
 *   RESET (RSET after a transaction that ended early) -> the next
 *   message ... -> QUIT -> DONE.
 * One setter (send_smtp_set_state) logs every step.
 */
#include "send/send_smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct/acct_engine.h"
#include "log.h"
#include "session/smtp_session.h"
#include "smtp/smtp_msg.h"

enum send_smtp_state {
	SEND_SMTP_CONNECTING,
	SEND_SMTP_ENVELOPE,
	SEND_SMTP_DATA,
	SEND_SMTP_DOT,
	SEND_SMTP_RESET,
	SEND_SMTP_QUIT,
	SEND_SMTP_DONE,
};

static const char *const send_smtp_state_names[] = {
	[SEND_SMTP_CONNECTING] = "connecting",
	[SEND_SMTP_ENVELOPE] = "envelope",
	[SEND_SMTP_DATA] = "data",
	[SEND_SMTP_DOT] = "dot",
	[SEND_SMTP_RESET] = "reset",
	[SEND_SMTP_QUIT] = "quit",
	[SEND_SMTP_DONE] = "done",
};

/* Message bytes handed to the core at a time (its output holds 1 MiB). */
#define SEND_SMTP_CHUNK (256u * 1024)
/* RFC 5321 4.5.3.2.6: the wait for the reply to the final "." */
#define SEND_SMTP_DOT_WAIT_MS (10u * 60 * 1000)

struct send_smtp {
	struct send_smtp_params p;
	const char *name;		/* the account's, for log lines */
	struct smtp_session *sess;
	enum send_smtp_state state;
	size_t cur;			/* the message in progress */
	size_t rcpt_sent, rcpt_replied;	/* of the current message */
	size_t n_accepted;
	bool is_mail_ok;
	int mail_code;			/* MAIL's reply code */
	bool is_reached, is_ready, is_cancelled;
	char mail_reply[300];		/* MAIL's, when it failed */
};

/* The read timeout in state st: the account's, and at least 10 minutes
 * for the reply to the final ".". */
static unsigned
send_smtp_timeout_ms(const struct send_smtp *s, enum send_smtp_state st)
{
	unsigned ms = s->p.account->timeout * 1000u;

	return st == SEND_SMTP_DOT && ms < SEND_SMTP_DOT_WAIT_MS ?
	    SEND_SMTP_DOT_WAIT_MS : ms;
}

static void
send_smtp_set_state(struct send_smtp *s, enum send_smtp_state st)
{
	if (s->state == st)
		return;
	log_debug("acct=%s send state=%s->%s", s->name,
		  send_smtp_state_names[s->state], send_smtp_state_names[st]);
	/* The reply to the final "." may take the server a while (RFC 5321
	 * 4.5.3.2.6: wait at least 10 minutes): a shorter wait would give up
	 * on a message the server is still accepting and leave it "possibly
	 * sent", to be sent twice. */
	if ((st == SEND_SMTP_DOT) != (s->state == SEND_SMTP_DOT) &&
	    s->sess != NULL && smtp_session_conn(s->sess) != NULL)
		net_conn_set_read_timeout(smtp_session_conn(s->sess),
		    send_smtp_timeout_ms(s, st));
	s->state = st;
}

/* "550 5.1.1 text" (first line, bounded) from a reply. */
static void
send_smtp_reply_text(const struct smtp_event *ev, char *out, size_t outsz)
{
	size_t len = ev->text.len;
	const uint8_t *nl = memchr(ev->text.p, '\n', len);

	if (nl != NULL)
		len = (size_t)(nl - ev->text.p);
	if (ev->has_enhanced)
		snprintf(out, outsz, "%d %d.%d.%d %.*s", ev->code,
			 ev->enh_class, ev->enh_subject, ev->enh_detail,
			 (int)len, (const char *)ev->text.p);
	else
		snprintf(out, outsz, "%d %.*s", ev->code, (int)len,
			 (const char *)ev->text.p);
	/* A server's text goes into logs and the store: no controls. */
	for (char *c = out; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

static struct send_msg *
send_smtp_msg(struct send_smtp *s)
{
	return &s->p.msgs[s->cur];
}

/* Judges every recipient of the current message still unjudged (or
 * accepted ones: accepted means "judged by the data's reply"). */
static void
send_smtp_judge_rest(struct send_smtp *s, enum send_verdict v,
		     const char *reply, bool is_accepted_only)
{
	struct send_msg *m = send_smtp_msg(s);

	for (size_t i = 0; i < m->n_rcpts; i++) {
		struct send_rcpt *r = &m->rcpts[i];

		if (is_accepted_only && r->verdict != SEND_OK)
			continue;
		r->verdict = v;
		snprintf(r->reply, sizeof(r->reply), "%s", reply);
	}
}

static void send_smtp_next(struct send_smtp *s);

/* The current message is judged: report it, go on. */
static void
send_smtp_msg_done(struct send_smtp *s)
{
	struct send_msg *m = send_smtp_msg(s);

	m->is_attempted = true;
	s->p.on_msg_done_cb(m, s->p.arg);
	s->cur++;
	send_smtp_next(s);
}

/* --- replies --------------------------------------------------------------- */

static void
send_smtp_on_rset(struct smtp_session *sess, int rc,
		  const struct smtp_event *ev, void *arg)
{
	struct send_smtp *s = arg;

	(void)sess;
	(void)ev;
	if (rc != MS_OK || s->state != SEND_SMTP_RESET)
		return;	/* the session's end reports */
	send_smtp_msg_done(s);
}

/* Ends a transaction early: RSET, then the message is done. */
static void
send_smtp_reset(struct send_smtp *s)
{
	struct smtp_session_cmd_cbs cb = { send_smtp_on_rset, s };

	send_smtp_set_state(s, SEND_SMTP_RESET);
	if (smtp_cmd_rset(smtp_session_core(s->sess)) != MS_OK ||
	    smtp_session_submit(s->sess, &cb) != MS_OK)
		smtp_session_close(s->sess, MS_EINTERNAL);
}

static void
send_smtp_on_dot(struct smtp_session *sess, int rc,
		 const struct smtp_event *ev, void *arg)
{
	struct send_smtp *s = arg;
	char reply[300];

	(void)sess;
	if (rc != MS_OK)
		return;
	send_smtp_reply_text(ev, reply, sizeof(reply));
	send_smtp_judge_rest(s, send_policy_judge(ev->code), reply, true);
	log_info("acct=%s outbox id=%llu %s: %s", s->name,
		 (unsigned long long)send_smtp_msg(s)->id,
		 send_policy_judge(ev->code) == SEND_OK ? "sent" :
		 "refused after DATA", reply);
	send_smtp_msg_done(s);
}

/* 354: the message, then the final "." whose reply judges it. */
static void
send_smtp_write_message(struct send_smtp *s)
{
	struct smtp_session_cmd_cbs cb = { send_smtp_on_dot, s };
	struct smtp_client *core = smtp_session_core(s->sess);
	struct send_msg *m = send_smtp_msg(s);
	int rc = MS_OK;

	s->p.on_before_dot_cb(m, s->p.arg);
	for (size_t off = 0; off < m->body.len && rc == MS_OK; ) {
		size_t n = m->body.len - off;

		if (n > SEND_SMTP_CHUNK)
			n = SEND_SMTP_CHUNK;
		rc = smtp_client_data_write(core, m->body.p + off, n);
		off += n;
		smtp_session_flush(s->sess);
	}
	if (rc == MS_OK)
		rc = smtp_client_data_end(core);
	if (rc == MS_OK)
		rc = smtp_session_submit(s->sess, &cb);
	if (rc != MS_OK) {
		log_err("acct=%s outbox id=%llu: cannot queue the message "
			"(%s)", s->name, (unsigned long long)m->id,
			ms_strerror(rc));
		smtp_session_close(s->sess, rc);
		return;
	}
	send_smtp_set_state(s, SEND_SMTP_DOT);
}

static void
send_smtp_on_data(struct smtp_session *sess, int rc,
		  const struct smtp_event *ev, void *arg)
{
	struct send_smtp *s = arg;
	char reply[300];

	(void)sess;
	if (rc != MS_OK)
		return;
	if (ev->code == 354) {
		send_smtp_write_message(s);
		return;
	}
	send_smtp_reply_text(ev, reply, sizeof(reply));
	send_smtp_judge_rest(s, send_policy_judge(ev->code) == SEND_OK ?
			     SEND_TEMP : send_policy_judge(ev->code), reply,
			     true);
	send_smtp_reset(s);
}

/* Every RCPT answered: DATA when one was accepted, else reset. */
static void
send_smtp_envelope_done(struct send_smtp *s)
{
	struct smtp_session_cmd_cbs cb = { send_smtp_on_data, s };

	if (!s->is_mail_ok) {
		send_smtp_judge_rest(s, send_policy_judge(s->mail_code),
				     s->mail_reply, false);
		send_smtp_msg_done(s);
		return;
	}
	if (s->n_accepted == 0) {
		send_smtp_reset(s);
		return;
	}
	send_smtp_set_state(s, SEND_SMTP_DATA);
	if (smtp_cmd_data(smtp_session_core(s->sess)) != MS_OK ||
	    smtp_session_submit(s->sess, &cb) != MS_OK)
		smtp_session_close(s->sess, MS_EINTERNAL);
}

static void send_smtp_send_rcpt(struct send_smtp *s);

static void
send_smtp_on_rcpt(struct smtp_session *sess, int rc,
		  const struct smtp_event *ev, void *arg)
{
	struct send_smtp *s = arg;
	struct send_msg *m;
	struct send_rcpt *r;

	(void)sess;
	if (rc != MS_OK)
		return;
	m = send_smtp_msg(s);
	r = &m->rcpts[s->rcpt_replied++];
	/* After a refused MAIL the RCPTs' replies (503) say nothing. */
	if (s->is_mail_ok) {
		send_smtp_reply_text(ev, r->reply, sizeof(r->reply));
		r->verdict = send_policy_judge(ev->code);
		if (r->verdict == SEND_OK)
			s->n_accepted++;
		else
			log_warn("acct=%s outbox id=%llu recipient %s "
				 "refused: %s", s->name,
				 (unsigned long long)m->id, r->addr,
				 r->reply);
	}
	if (s->rcpt_replied == m->n_rcpts)
		send_smtp_envelope_done(s);
	else if (s->rcpt_sent == s->rcpt_replied)
		send_smtp_send_rcpt(s);	/* no PIPELINING: one by one */
}

static void
send_smtp_on_mail(struct smtp_session *sess, int rc,
		  const struct smtp_event *ev, void *arg)
{
	struct send_smtp *s = arg;

	(void)sess;
	if (rc != MS_OK)
		return;
	s->mail_code = ev->code;
	s->is_mail_ok = send_policy_judge(ev->code) == SEND_OK;
	if (!s->is_mail_ok) {
		send_smtp_reply_text(ev, s->mail_reply, sizeof(s->mail_reply));
		log_warn("acct=%s outbox id=%llu MAIL FROM refused: %s",
			 s->name, (unsigned long long)send_smtp_msg(s)->id,
			 s->mail_reply);
	}
	/* Without PIPELINING nothing else was sent. */
	if (s->rcpt_sent == 0) {
		if (s->is_mail_ok)
			send_smtp_send_rcpt(s);
		else
			send_smtp_envelope_done(s);
	}
}

/* --- the envelope ------------------------------------------------------------ */

static void
send_smtp_send_rcpt(struct send_smtp *s)
{
	struct smtp_session_cmd_cbs cb = { send_smtp_on_rcpt, s };
	struct send_msg *m = send_smtp_msg(s);
	struct send_rcpt *r = &m->rcpts[s->rcpt_sent];

	if (smtp_cmd_rcpt(smtp_session_core(s->sess),
			  ms_slice_from_cstr(r->addr), NULL) != MS_OK ||
	    smtp_session_submit(s->sess, &cb) != MS_OK) {
		smtp_session_close(s->sess, MS_EINTERNAL);
		return;
	}
	s->rcpt_sent++;
}

/* True when an address or the header is not ASCII (RFC 6531, 6532). */
static bool
send_smtp_needs_utf8(const struct send_msg *m)
{
	size_t hend = smtp_msg_header_end(m->body);

	if (smtp_msg_has_8bit(ms_slice_from_cstr(m->from)) ||
	    smtp_msg_has_8bit((struct ms_slice){ m->body.p, hend }))
		return true;
	for (size_t i = 0; i < m->n_rcpts; i++)
		if (smtp_msg_has_8bit(ms_slice_from_cstr(m->rcpts[i].addr)))
			return true;
	return false;
}

/*
 * What the server must offer for this message, checked before MAIL.
 * MS_OK with the MAIL parameters, or a permanent failure's reply in why.
 */
static int
send_smtp_check(struct send_smtp *s, const struct send_msg *m, char *params,
		size_t psz, char *why, size_t whysz)
{
	unsigned exts = smtp_session_exts(s->sess);
	uint64_t limit = smtp_client_size_limit(smtp_session_core(s->sess));
	bool is_8bit = smtp_msg_has_8bit(m->body);
	bool is_utf8 = send_smtp_needs_utf8(m);
	size_t pos = 0;

	params[0] = '\0';
	if (m->body.len > SEND_SMTP_MAX_MESSAGE) {
		snprintf(why, whysz, "the message (%zu bytes) is larger than "
			 "mailsync sends (%u MiB)", m->body.len,
			 SEND_SMTP_MAX_MESSAGE >> 20);
		return MS_ETOOBIG;
	}
	if ((exts & SMTP_EXT_SIZE) && limit > 0 && m->body.len > limit) {
		snprintf(why, whysz, "the message (%zu bytes) is larger than "
			 "the server accepts (SIZE %llu)", m->body.len,
			 (unsigned long long)limit);
		return MS_ETOOBIG;
	}
	if (is_utf8 && !(exts & SMTP_EXT_SMTPUTF8)) {
		snprintf(why, whysz, "the message needs SMTPUTF8 (a non-ASCII "
			 "address or header), which the server does not "
			 "offer");
		return MS_EIMPL;
	}
	if (is_8bit && !is_utf8 && !(exts & SMTP_EXT_8BITMIME)) {
		snprintf(why, whysz, "the message has 8-bit bytes and the "
			 "server does not offer 8BITMIME (send it "
			 "quoted-printable or base64)");
		return MS_EIMPL;
	}
	if (exts & SMTP_EXT_SIZE)
		pos += (size_t)snprintf(params + pos, psz - pos, "SIZE=%zu",
					m->body.len);
	if (is_8bit && pos < psz)
		pos += (size_t)snprintf(params + pos, psz - pos,
					"%sBODY=8BITMIME", pos ? " " : "");
	if (is_utf8 && pos < psz)
		snprintf(params + pos, psz - pos, "%sSMTPUTF8",
			 pos ? " " : "");
	return MS_OK;
}

/* Starts the current message's transaction (or judges it locally). */
static void
send_smtp_begin(struct send_smtp *s)
{
	struct smtp_session_cmd_cbs cb = { send_smtp_on_mail, s };
	struct send_msg *m = send_smtp_msg(s);
	char params[128], why[300];
	bool is_pipelined;

	s->rcpt_sent = s->rcpt_replied = s->n_accepted = 0;
	s->is_mail_ok = false;
	s->mail_reply[0] = '\0';
	for (size_t i = 0; i < m->n_rcpts; i++) {
		m->rcpts[i].verdict = SEND_TEMP;
		m->rcpts[i].reply[0] = '\0';
	}
	if (send_smtp_check(s, m, params, sizeof(params), why,
			    sizeof(why)) != MS_OK) {
		log_err("acct=%s outbox id=%llu not sent: %s", s->name,
			(unsigned long long)m->id, why);
		send_smtp_judge_rest(s, SEND_PERM, why, false);
		send_smtp_msg_done(s);
		return;
	}
	send_smtp_set_state(s, SEND_SMTP_ENVELOPE);
	if (smtp_cmd_mail(smtp_session_core(s->sess),
			  ms_slice_from_cstr(m->from),
			  params[0] != '\0' ? params : NULL) != MS_OK ||
	    smtp_session_submit(s->sess, &cb) != MS_OK) {
		smtp_session_close(s->sess, MS_EINTERNAL);
		return;
	}
	/* RFC 2920: MAIL and every RCPT in one flight; DATA waits for the
	 * verdicts, so a message nobody accepted is never sent. */
	is_pipelined = (smtp_session_exts(s->sess) & SMTP_EXT_PIPELINING) &&
		       m->n_rcpts < SMTP_MAX_PIPELINE - 2;
	while (is_pipelined && s->rcpt_sent < m->n_rcpts &&
	       s->state == SEND_SMTP_ENVELOPE)
		send_smtp_send_rcpt(s);
}

/* The next message, or QUIT after the last. */
static void
send_smtp_next(struct send_smtp *s)
{
	if (s->is_cancelled || s->cur >= s->p.n_msgs) {
		send_smtp_set_state(s, SEND_SMTP_QUIT);
		smtp_session_close(s->sess, s->is_cancelled ? MS_ECANCELED :
				   MS_OK);
		return;
	}
	send_smtp_begin(s);
}

/* --- the session -------------------------------------------------------------- */

static void
send_smtp_on_ready(struct smtp_session *sess, void *arg)
{
	struct send_smtp *s = arg;

	(void)sess;
	s->is_reached = s->is_ready = true;
	send_smtp_next(s);
}

static void
send_smtp_on_close(struct smtp_session *sess, int reason,
		   const struct ms_err *err, void *arg)
{
	struct send_smtp *s = arg;
	struct ms_err e = { 0 };
	char reply[300];

	(void)sess;
	s->sess = NULL;
	if (err != NULL && err->msg[0] != '\0')
		e = *err;
	else if (reason != MS_OK)
		ms_err_set(&e, reason, "%s", ms_strerror(reason));
	/* A TLS, AUTH or protocol failure means the server answered. */
	if (!s->is_ready)
		s->is_reached = reason != MS_ECONN &&
				reason != MS_ETIMEDOUT &&
				reason != MS_ECANCELED;
	/* A transaction cut short: its recipients wait for a retry. */
	if (s->state >= SEND_SMTP_ENVELOPE && s->state <= SEND_SMTP_RESET &&
	    s->cur < s->p.n_msgs) {
		struct send_msg *m = send_smtp_msg(s);

		if (s->state == SEND_SMTP_DOT) {
			m->is_possibly_sent = true;
			snprintf(reply, sizeof(reply), "possibly sent: the "
				 "connection ended after the message and "
				 "before the server's reply (%.150s)", e.msg);
		} else {
			snprintf(reply, sizeof(reply), "connection lost "
				 "during the transaction (%.200s)", e.msg);
		}
		/* Those refused for good stay refused. */
		for (size_t i = 0; i < m->n_rcpts; i++)
			if (m->rcpts[i].verdict != SEND_PERM) {
				m->rcpts[i].verdict = SEND_TEMP;
				snprintf(m->rcpts[i].reply,
					 sizeof(m->rcpts[i].reply), "%s",
					 reply);
			}
		m->is_attempted = true;
		s->p.on_msg_done_cb(m, s->p.arg);
		s->cur++;
		if (reason == MS_OK)
			reason = MS_ECONN;
	}
	send_smtp_set_state(s, SEND_SMTP_DONE);
	if (reason == MS_OK && s->cur < s->p.n_msgs)
		reason = MS_ECONN;
	s->p.on_done_cb(reason, &e, s->is_reached, s->is_ready, s->p.arg);
	free(s);
}

int
send_smtp_start(const struct send_smtp_params *p, struct send_smtp **s_r,
		struct ms_err *err_r)
{
	const struct cfg_account *a = p->account;
	bool has_own = a->smtp_password_cmd != NULL;
	struct smtp_session_params sp = {
		.account = a->name,
		.host = a->smtp_host,
		.port = a->smtp_port,
		.tls = a->smtp_tls == CFG_TLS_IMPLICIT ? NET_TLS_IMPLICIT :
		       a->smtp_tls == CFG_TLS_STARTTLS ? NET_TLS_STARTTLS :
		       NET_TLS_NONE,
		.tls_ctx = p->tls_ctx,
		.timeout_ms = a->timeout * 1000u,
		/* The whole message is queued at once, dot-stuffed. */
		.max_output = SEND_SMTP_MAX_MESSAGE + SEND_SMTP_MAX_MESSAGE / 2,
		.user = a->smtp_user != NULL ? a->smtp_user : a->user,
		.password = has_own ? NULL : a->password,
		.password_cmd = has_own ? a->smtp_password_cmd :
				a->password_cmd,
		.oauth_token_cmd = has_own ? NULL : a->oauth_token_cmd,
		.auth = acct_engine_sasl_mech(a->auth),
		.on_ready_cb = send_smtp_on_ready,
		.on_close_cb = send_smtp_on_close,
	};
	struct send_smtp *s;
	int rc;

	if (p->n_msgs == 0 || p->on_msg_done_cb == NULL ||
	    p->on_done_cb == NULL || p->on_before_dot_cb == NULL)
		return ms_err_set(err_r, MS_EINVAL, "send: nothing to do");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	s->p = *p;
	s->name = a->name;
	sp.arg = s;
	if ((rc = smtp_session_new(p->loop, &sp, &s->sess, err_r)) < 0) {
		free(s);
		return rc;
	}
	log_info("acct=%s send: %zu message%s to %s:%u", a->name, p->n_msgs,
		 p->n_msgs == 1 ? "" : "s", a->smtp_host, a->smtp_port);
	*s_r = s;
	return MS_OK;
}

void
send_smtp_cancel(struct send_smtp *s)
{
	if (s->is_cancelled)
		return;
	s->is_cancelled = true;
	/* A message whose final "." left waits for its reply (bounded by
	 * the timeout): dropping the connection now would make it
	 * "possibly sent" for nothing.  Anything else ends at once. */
	if (s->sess != NULL && s->state != SEND_SMTP_DOT)
		smtp_session_close(s->sess, MS_ECANCELED);
}
