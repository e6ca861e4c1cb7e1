/*
 * session_base.c - secret, connection, traced writes and the one end of
 * a POP3 or SMTP session.
 */
#include "session/session_base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl_crypto_openssl.h"
#include "log.h"

#define SESSION_BASE_QUIT_WAIT_MS 5000u

static void session_base_auth_done(struct session_base *b);
static int session_base_sasl_start(struct session_base *b,
				   struct ms_slice mechs, enum sasl_mech auth,
				   enum sasl_mech *mech_r, struct ms_buf *ir,
				   bool *has_ir_r);
static void session_base_sasl_step(struct session_base *b,
				   struct ms_slice b64, struct ms_buf *out);

static char *
session_base_strdup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		abort();	/* daemon code may abort on OOM (STYLE.md 4) */
	return d;
}

static void
session_base_free_strings(struct session_base *b)
{
	session_base_auth_done(b);
	free(b->fifo);
	b->fifo = NULL;
	free(b->account);
	free(b->host);
	free(b->user);
	free(b->secret_cmd);
	b->account = b->host = b->user = b->secret_cmd = NULL;
	if (b->tls_ctx != NULL)
		net_tls_ctx_unref(&b->tls_ctx);
}

int
session_base_init(struct session_base *b, uv_loop_t *loop,
		  const struct session_base_params *p,
		  const struct session_base_ops *ops, void *arg,
		  struct ms_err *err_r)
{
	int nsrc = (p->password != NULL) + (p->password_cmd != NULL) +
		   (p->oauth_token_cmd != NULL);

	memset(b, 0, sizeof(*b));
	if (p->host == NULL || p->host[0] == '\0' || p->port == 0)
		return ms_err_set(err_r, MS_EINVAL, "%s: host and port needed",
				  p->proto);
	if (p->tls != NET_TLS_NONE && p->tls_ctx == NULL)
		return ms_err_set(err_r, MS_EINVAL, "%s %s: TLS without a "
				  "TLS context", p->proto, p->host);
	if ((p->user == NULL || p->user[0] == '\0') &&
	    (p->is_user_required || nsrc > 0))
		return ms_err_set(err_r, MS_EINVAL, "%s %s: no user name",
				  p->proto, p->host);
	if (p->user != NULL && p->user[0] != '\0' && nsrc != 1)
		return ms_err_set(err_r, MS_EINVAL, "%s %s: need exactly one "
				  "of password, password_cmd, oauth_token_cmd",
				  p->proto, p->host);
	b->loop = loop;
	b->ops = ops;
	b->arg = arg;
	b->proto = p->proto;
	b->trace_area = p->trace_area;
	b->state_names = p->state_names;
	b->reply_word = p->reply_word;
	b->entry_size = p->entry_size;
	b->account = session_base_strdup(p->account != NULL ? p->account :
					 "-");
	b->host = session_base_strdup(p->host);
	if (p->user != NULL && p->user[0] != '\0')
		b->user = session_base_strdup(p->user);
	b->port = p->port;
	b->tls = p->tls;
	b->timeout_ms = p->timeout_ms != 0 ? p->timeout_ms : 60000;
	b->max_output = p->max_output;
	if (p->tls_ctx != NULL) {
		net_tls_ctx_ref(p->tls_ctx);
		b->tls_ctx = p->tls_ctx;
	}
	if (p->password != NULL) {
		b->secret = session_base_strdup(p->password);
		b->secret_len = strlen(b->secret);
	}
	b->secret_cmd = session_base_strdup(p->password_cmd != NULL ?
					    p->password_cmd :
					    p->oauth_token_cmd);
	b->has_oauth = p->oauth_token_cmd != NULL;
	return MS_OK;
}

static void
session_base_fifo_push(struct session_base *b, const void *entry)
{
	if (b->fifo_len == b->fifo_cap) {
		size_t cap = b->fifo_cap ? b->fifo_cap * 2 : 8;
		uint8_t *n = realloc(b->fifo, cap * b->entry_size);

		if (n == NULL)
			abort();
		b->fifo = n;
		b->fifo_cap = cap;
	}
	memcpy(b->fifo + b->fifo_len++ * b->entry_size, entry, b->entry_size);
}

static bool
session_base_fifo_pop(struct session_base *b, void *entry_r)
{
	if (b->fifo_len == 0)
		return false;
	memcpy(entry_r, b->fifo, b->entry_size);
	/* Pipelines are short: moving the rest is cheaper than a ring. */
	memmove(b->fifo, b->fifo + b->entry_size,
		--b->fifo_len * b->entry_size);
	return true;
}

int
session_base_submit(struct session_base *b, const void *entry)
{
	if (b->state != SESSION_READY || b->is_closing ||
	    b->ops->pending_cb(b->arg) <= b->nsubmitted)
		return MS_EINVAL;
	session_base_fifo_push(b, entry);
	b->nsubmitted++;
	session_base_flush(b);
	return MS_OK;
}

bool
session_base_cmd_done(struct session_base *b, void *entry_r)
{
	if (!session_base_fifo_pop(b, entry_r))
		return false;
	b->nsubmitted--;
	return true;
}

static const char *const session_base_state_names[] = {
	"CONNECTING", "GREETING", "TLS_HANDSHAKE", "AUTH", "READY", "QUIT",
	"DONE",
};

static const char *
session_base_name_of(const struct session_base *b, int st)
{
	return st < SESSION_PROTO_STATES ? session_base_state_names[st] :
	       b->state_names[st - SESSION_PROTO_STATES];
}

const char *
session_base_state_name(const struct session_base *b)
{
	return session_base_name_of(b, b->state);
}

void
session_base_set_state(struct session_base *b, int st)
{
	log_trace(b->trace_area, "acct=%s %s state=%s->%s", b->account,
		  b->proto, session_base_name_of(b, b->state),
		  session_base_name_of(b, st));
	b->state = st;
}

void
session_base_flush(struct session_base *b)
{
	const uint8_t *p;
	size_t n;

	b->ops->out_peek_cb(b->arg, &p, &n);
	if (n == 0)
		return;
	if (session_base_write(b, p, n) == MS_OK)
		b->ops->out_consume_cb(b->arg, n);
}

void
session_base_ready(struct session_base *b)
{
	session_base_auth_done(b);
	b->nsubmitted = b->ops->pending_cb(b->arg);
	session_base_set_state(b, SESSION_READY);
}

void
session_base_shutdown(struct session_base *b, int reason)
{
	if (b->is_closing || b->state == SESSION_QUIT)
		return;
	if (reason == MS_OK && b->state == SESSION_READY &&
	    b->ops->quit_cb(b->arg) == MS_OK) {
		session_base_set_state(b, SESSION_QUIT);
		b->nsubmitted++;
		/* A server that never answers QUIT must not keep us. */
		session_base_timer_start(b, SESSION_BASE_QUIT_WAIT_MS);
		session_base_flush(b);
		return;
	}
	session_base_close(b, reason);
}

void
session_base_quit_unanswered(struct session_base *b)
{
	if (b->is_closing || b->state == SESSION_QUIT)
		return;
	if (b->state != SESSION_READY || b->conn == NULL ||
	    b->ops->quit_cb(b->arg) != MS_OK) {
		session_base_close(b, MS_OK);
		return;
	}
	session_base_set_state(b, SESSION_QUIT);
	b->nsubmitted++;
	session_base_flush(b);
	if (b->is_closing)
		return;		/* the write failed */
	/* The same bounded wait, should the kernel take no more bytes; a
	 * reply that comes first closes as in session_base_shutdown(). */
	session_base_timer_start(b, SESSION_BASE_QUIT_WAIT_MS);
	net_conn_close_when_written(b->conn);
}

void
session_base_unclaimed(struct session_base *b, bool is_quit)
{
	/* Else a command built but not submitted: nobody to tell. */
	if (b->state == SESSION_QUIT && is_quit)
		session_base_close(b, MS_OK);
}

const void *
session_base_fifo_head(const struct session_base *b)
{
	return b->fifo_len > 0 ? b->fifo : NULL;
}

size_t
session_base_fifo_count(const struct session_base *b)
{
	return b->fifo_len;
}

void
session_base_secret_wipe(struct session_base *b)
{
	if (b->secret != NULL) {
		explicit_bzero(b->secret, b->secret_len);
		free(b->secret);
		b->secret = NULL;
		b->secret_len = 0;
	}
}

static void
session_base_timer_close_cb(uv_handle_t *h)
{
	struct session_base *b = h->data;

	session_base_free_strings(b);
	b->ops->free_cb(b->arg);
}

/* The one end: closed_cb, then the owner is freed after the timer. */
static void
session_base_finish(struct session_base *b, int reason,
		    const struct ms_err *err)
{
	struct ms_err e;

	if (b->is_closed)
		return;
	b->is_closed = true;
	session_base_secret_wipe(b);
	if (b->err.code != 0) {
		e = b->err;
	} else if (err != NULL && reason != MS_OK) {
		e = *err;
	} else {
		ms_err_set(&e, reason, "%s %s:%u: closed", b->proto, b->host,
			   b->port);
	}
	uv_timer_stop(&b->timer);
	session_base_set_state(b, SESSION_DONE);
	session_base_auth_done(b);
	/* Every submitted command hears about the end, oldest first. */
	if (b->fifo_len > 0) {
		int rc = e.code == MS_OK ? MS_ECANCELED : e.code;
		uint8_t *entry = malloc(b->entry_size);

		if (entry == NULL)
			abort();
		while (session_base_fifo_pop(b, entry))
			b->ops->cmd_cancel_cb(b->arg, rc, entry);
		free(entry);
	}
	b->ops->closed_cb(e.code, &e, b->arg);
	uv_close((uv_handle_t *)&b->timer, session_base_timer_close_cb);
}

static void
session_base_conn_connected_cb(struct net_conn *conn, void *arg)
{
	struct session_base *b = arg;

	(void)conn;
	session_base_set_state(b, SESSION_GREETING);
}

static void
session_base_conn_tls_ready_cb(struct net_conn *conn, void *arg)
{
	struct session_base *b = arg;

	(void)conn;
	b->ops->tls_ready_cb(b->arg);
}

static size_t
session_base_conn_data_cb(struct net_conn *conn, const uint8_t *p, size_t len,
			  void *arg)
{
	struct session_base *b = arg;
	size_t off = 0;

	(void)conn;
	/* After a failure nothing more is parsed. */
	if (b->is_closing)
		return len;
	/* After STLS/STARTTLS the caller discards what we leave. */
	while (off < len && !b->is_closing &&
	       b->state != SESSION_TLS_HANDSHAKE) {
		size_t used = 0;
		int rc = b->ops->feed_cb(b->arg, p + off, len - off, &used);

		off += used;
		if (rc < 0) {
			session_base_fail(b, MS_EPROTO, "malformed server %s "
					  "(%s)", b->reply_word,
					  ms_strerror(rc));
			break;
		}
	}
	if (!b->is_closing)
		session_base_flush(b);
	return off;
}

static void
session_base_conn_close_cb(struct net_conn *conn, int reason,
			   const struct ms_err *err, void *arg)
{
	struct session_base *b = arg;

	(void)conn;
	b->conn = NULL;		/* it frees itself when this returns */
	session_base_finish(b, reason, err);
}

static int
session_base_connect(struct session_base *b, struct ms_err *err_r)
{
	struct net_conn_params cp = {
		.account = b->account,
		.host = b->host,
		.port = b->port,
		.tls = b->tls,
		.tls_ctx = b->tls_ctx,
		.connect_timeout_ms = b->timeout_ms,
		.read_timeout_ms = b->timeout_ms,
		.max_output = b->max_output,
		.on_connected_cb = session_base_conn_connected_cb,
		.on_tls_ready_cb = session_base_conn_tls_ready_cb,
		.on_data_cb = session_base_conn_data_cb,
		.on_close_cb = session_base_conn_close_cb,
		.arg = b,
	};

	return net_conn_new(b->loop, &cp, &b->conn, err_r);
}

static void
session_base_secret_done_cb(int rc, char *secret, size_t len,
			    const struct ms_err *err, void *arg)
{
	struct session_base *b = arg;
	struct ms_err e;

	b->job = NULL;
	if (rc != MS_OK) {
		if (b->err.code == 0 && !b->is_closing)
			ms_err_set(&b->err, rc, "%s", err->msg);
		session_base_finish(b, rc, err);
		return;
	}
	b->secret = secret;	/* ours now; wiped by secret_wipe */
	b->secret_len = len;
	if (b->is_closing) {
		session_base_finish(b, MS_OK, NULL);
		return;
	}
	if (session_base_connect(b, &e) != MS_OK) {
		b->err = e;
		session_base_finish(b, e.code, &e);
	}
}

static int
session_base_start(struct session_base *b, struct ms_err *err_r)
{
	int rc;

	if (b->secret_cmd != NULL) {
		struct secret_cmd_params sp = {
			.account = b->account,
			.what = b->has_oauth ? "oauth_token_cmd" :
					       "password_cmd",
			.command = b->secret_cmd,
			.timeout_ms = b->timeout_ms,
		};

		rc = secret_cmd_start(b->loop, &sp, session_base_secret_done_cb,
				      b, &b->job, err_r);
	} else {
		rc = session_base_connect(b, err_r);
	}
	if (rc != MS_OK)
		return rc;
	uv_timer_init(b->loop, &b->timer);
	b->timer.data = b;
	return MS_OK;
}

int
session_base_open(struct session_base *b, uv_loop_t *loop,
		  const struct session_base_params *params,
		  const struct session_base_ops *ops, void *arg,
		  struct ms_err *err_r)
{
	int rc = session_base_init(b, loop, params, ops, arg, err_r);

	if (rc != MS_OK)
		return rc;
	rc = session_base_start(b, err_r);
	if (rc != MS_OK)
		session_base_free_strings(b);
	return rc;
}

void
session_base_close(struct session_base *b, int reason)
{
	if (b->is_closing || b->is_closed)
		return;
	b->is_closing = true;
	uv_timer_stop(&b->timer);
	if (b->conn != NULL)
		net_conn_close(b->conn, reason);
	else if (b->job != NULL)
		secret_cmd_cancel(b->job);
}

void
session_base_fail(struct session_base *b, int code, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (b->err.code != 0 || b->is_closed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ms_err_set(&b->err, code, "%s %s:%u: %s", b->proto, b->host, b->port,
		   msg);
	log_debug("acct=%s %s failed: %s", b->account, b->proto, b->err.msg);
	/* A close already under way (QUIT) becomes this failure. */
	if (b->is_closing && b->conn != NULL)
		net_conn_close(b->conn, code);
	session_base_close(b, code);
}

/* Traces each line of p[0..len) with credentials masked. */
static void
session_base_trace_out(struct session_base *b, const uint8_t *p, size_t len)
{
	char red[512];

	while (len > 0) {
		const uint8_t *nl = memchr(p, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : len;

		log_redact_line((const char *)p, n, b->in_auth, red,
				sizeof(red));
		log_trace(b->trace_area, "acct=%s conn=%u %s C: %s", b->account,
			  b->conn != NULL ? net_conn_id(b->conn) : 0, b->proto,
			  red);
		p += n;
		len -= n;
	}
}

int
session_base_write(struct session_base *b, const uint8_t *p, size_t len)
{
	int rc;

	if (b->conn == NULL || b->is_closing)
		return MS_EINVAL;
	if (log_trace_enabled(b->trace_area))
		session_base_trace_out(b, p, len);
	rc = net_conn_write(b->conn, p, len);
	if (rc != MS_OK)
		session_base_fail(b, rc, "cannot queue output (%s)",
				  ms_strerror(rc));
	return rc;
}

void
session_base_trace_in(struct session_base *b, struct ms_slice line)
{
	char red[512];

	if (!log_trace_enabled(b->trace_area))
		return;
	log_redact_line((const char *)line.p, line.len, false, red,
			sizeof(red));
	log_trace(b->trace_area, "acct=%s conn=%u %s S: %s", b->account,
		  b->conn != NULL ? net_conn_id(b->conn) : 0, b->proto, red);
}

static void
session_base_timer_cb(uv_timer_t *t)
{
	struct session_base *b = t->data;

	/* QUIT went unanswered: close anyway, it was a clean end for us. */
	session_base_close(b, MS_OK);
}

void
session_base_timer_start(struct session_base *b, unsigned ms)
{
	uv_timer_start(&b->timer, session_base_timer_cb, ms, 0);
}

void
session_base_timer_stop(struct session_base *b)
{
	uv_timer_stop(&b->timer);
}

bool
session_base_is_tls(const struct session_base *b)
{
	return b->conn != NULL && net_conn_is_tls(b->conn);
}

static int
session_base_sasl_start(struct session_base *b, struct ms_slice mechs,
			enum sasl_mech auth, enum sasl_mech *mech_r,
			struct ms_buf *ir, bool *has_ir_r)
{
	struct sasl_params sp = {
		.user = ms_slice_from_cstr(b->user),
		.secret = { (const uint8_t *)b->secret, b->secret_len },
		.host = ms_slice_from_cstr(b->host),
		.port = b->port,
		.crypto = sasl_crypto_openssl(),
	};
	struct ms_err e = { 0 };
	int rc;

	rc = sasl_select(mechs, auth, session_base_is_tls(b), b->has_oauth,
			 mech_r, &e);
	if (rc == MS_EIMPL)
		return rc;
	if (rc == MS_OK) {
		b->has_sasl = true;
		rc = sasl_client_init(&b->sasl, *mech_r, &sp, &e);
	}
	if (rc == MS_OK) {
		snprintf(b->auth_used, sizeof(b->auth_used), "%s",
			 sasl_mech_name(*mech_r));
		b->in_auth = true;
		rc = sasl_client_initial_b64(&b->sasl, ir, &e);
		*has_ir_r = rc == MS_OK;
		if (rc == MS_AGAIN)
			rc = MS_OK;
	}
	if (rc != MS_OK)
		session_base_fail(b, rc, "%s", e.code != 0 ? e.msg :
				  ms_strerror(rc));
	return rc;
}

static void
session_base_sasl_step(struct session_base *b, struct ms_slice b64,
		       struct ms_buf *out)
{
	struct ms_err e = { 0 };

	if (sasl_client_step_b64(&b->sasl, b64, out, &e) == MS_OK)
		return;
	/* Cancel; the server's refusal then ends the exchange. */
	b->sasl_err = e;
	ms_buf_wipe(out);
	if (ms_buf_append(out, "*", 1) != MS_OK)
		session_base_fail(b, MS_ENOMEM, "out of memory");
}

int
session_base_sasl_success(struct session_base *b)
{
	struct ms_err e = { 0 };

	if (sasl_client_finish_b64(&b->sasl, NULL, &e) != MS_OK) {
		session_base_fail(b, e.code, "%s", e.msg);
		return e.code;
	}
	return MS_OK;
}

void
session_base_sasl_failed(struct session_base *b, int code,
			 struct ms_slice text)
{
	struct ms_err e = { 0 };

	if (b->sasl_err.code != 0) {
		session_base_fail(b, b->sasl_err.code, "%s", b->sasl_err.msg);
		return;
	}
	sasl_client_report_failure(&b->sasl, text, &e);
	session_base_fail(b, code, "%s", e.msg);
}

static void
session_base_auth_done(struct session_base *b)
{
	if (b->has_sasl) {
		sasl_client_deinit(&b->sasl);
		b->has_sasl = false;
	}
	b->in_auth = false;
	session_base_secret_wipe(b);
}

int
session_base_sasl_begin(struct session_base *b, struct ms_slice mechs,
			enum sasl_mech auth)
{
	enum sasl_mech mech;
	struct ms_buf ir;
	bool has_ir = false;
	int rc;

	ms_buf_init(&ir, 64u * 1024);
	rc = session_base_sasl_start(b, mechs, auth, &mech, &ir, &has_ir);
	if (rc == MS_OK) {
		struct ms_slice sl = { ir.p != NULL ? ir.p :
				       (const uint8_t *)"", ir.len };

		/* The initial response saves a round trip (RFC 4954 4). */
		rc = b->ops->auth_cb(b->arg, sasl_mech_name(mech),
				     has_ir ? &sl : NULL);
		if (rc == MS_OK)
			session_base_set_state(b, SESSION_AUTH);
		else
			session_base_fail(b, rc, "cannot send AUTH %s (%s)",
					  sasl_mech_name(mech),
					  ms_strerror(rc));
		/* MS_EIMPL tells the caller "nothing offered"; not this. */
		if (rc == MS_EIMPL)
			rc = MS_EINTERNAL;
	}
	ms_buf_wipe(&ir);
	ms_buf_deinit(&ir);
	return rc;
}

void
session_base_sasl_answer(struct session_base *b, struct ms_slice b64)
{
	struct ms_buf out;
	int rc;

	ms_buf_init(&out, 64u * 1024);
	session_base_sasl_step(b, b64, &out);
	rc = b->ops->auth_response_cb(b->arg, (struct ms_slice){
		out.p != NULL ? out.p : (const uint8_t *)"", out.len });
	ms_buf_wipe(&out);
	ms_buf_deinit(&out);
	if (rc != MS_OK)
		session_base_fail(b, rc, "cannot answer the SASL challenge");
}
