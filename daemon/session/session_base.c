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
	b->account = session_base_strdup(p->account != NULL ? p->account :
					 "-");
	b->host = session_base_strdup(p->host);
	if (p->user != NULL && p->user[0] != '\0')
		b->user = session_base_strdup(p->user);
	b->port = p->port;
	b->tls = p->tls;
	b->timeout_ms = p->timeout_ms != 0 ? p->timeout_ms : 60000;
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

void
session_base_fifo_init(struct session_base *b, size_t size)
{
	b->entry_size = size;
}

void
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

bool
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
session_base_submit(struct session_base *b, bool is_ready,
		    size_t core_pending, const void *entry)
{
	if (!is_ready || b->is_closing || core_pending <= b->nsubmitted)
		return MS_EINVAL;
	session_base_fifo_push(b, entry);
	b->nsubmitted++;
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

void
session_base_quit_sent(struct session_base *b)
{
	b->nsubmitted++;
	/* A server that never answers QUIT must not keep us. */
	session_base_timer_start(b, SESSION_BASE_QUIT_WAIT_MS);
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
	b->ops->closed_cb(e.code, &e, b->arg);
	uv_close((uv_handle_t *)&b->timer, session_base_timer_close_cb);
}

static void
session_base_conn_connected_cb(struct net_conn *conn, void *arg)
{
	struct session_base *b = arg;

	(void)conn;
	b->ops->connected_cb(b->arg);
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

	(void)conn;
	/* After a failure nothing more is parsed. */
	if (b->is_closing)
		return len;
	return b->ops->data_cb(p, len, b->arg);
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

	b->ops->timer_cb(b->arg);
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

int
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

void
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

void
session_base_auth_done(struct session_base *b)
{
	if (b->has_sasl) {
		sasl_client_deinit(&b->sasl);
		b->has_sasl = false;
	}
	b->in_auth = false;
	session_base_secret_wipe(b);
}
