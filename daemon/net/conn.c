/*
 * conn.c - a client connection over libuv with optional TLS through
 * OpenSSL memory BIOs (STYLE.md section 8; model: h2o uv-binding.c.h).
 *
 * The story, in callback order: net_conn_new -> conn_resolve_cb ->
 * conn_try_next_addr -> conn_connect_cb -> (conn_tls_start ->
 * conn_handshake) -> conn_read_cb -> conn_on_ciphertext / conn_ssl_read ->
 * conn_deliver -> on_data; writes go net_conn_write -> conn_flush_tls ->
 * conn_write_start -> conn_write_cb; every failure goes conn_fail ->
 * conn_close_start -> conn_*_closed_cb -> conn_maybe_finish -> on_close.
 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "log.h"
#include "net/conn_internal.h"

#define NET_CONN_DEFAULT_CONNECT_MS 30000u
#define NET_CONN_DEFAULT_MAX_INPUT (1u << 20)
#define NET_CONN_DEFAULT_MAX_OUTPUT (8u << 20)
/* Room for TLS record framing on top of the plaintext cap. */
#define NET_CONN_TLS_SLACK (64u << 10)
#define NET_CONN_CHUNK 16384

enum net_conn_state {
	NET_CONN_RESOLVING,
	NET_CONN_CONNECTING,
	NET_CONN_HANDSHAKE,
	NET_CONN_READY,
	NET_CONN_CLOSING,
	NET_CONN_CLOSED,
};

static const char *const net_conn_state_names[] = {
	[NET_CONN_RESOLVING] = "RESOLVING",
	[NET_CONN_CONNECTING] = "CONNECTING",
	[NET_CONN_HANDSHAKE] = "HANDSHAKE",
	[NET_CONN_READY] = "READY",
	[NET_CONN_CLOSING] = "CLOSING",
	[NET_CONN_CLOSED] = "CLOSED",
};

struct net_conn {
	uv_loop_t *loop;
	int refs;
	enum net_conn_state state;
	unsigned id;
	char *account;
	char *host;
	uint16_t port;
	enum net_tls_mode tls_mode;
	struct net_tls_ctx *tls_ctx;	/* one reference */
	unsigned connect_timeout_ms;
	unsigned read_timeout_ms;
	struct net_conn_params cb;	/* callbacks and arg only */

	uv_getaddrinfo_t gai;
	bool is_resolving;		/* gai callback still to come */
	struct addrinfo *addrs;		/* owned; freed in conn_free */
	struct addrinfo *next_addr;
	char peer_addr[INET6_ADDRSTRLEN];
	struct ms_err attempt_err;	/* why the last address failed */

	uv_tcp_t tcp;			/* re-initialised for each address */
	bool is_tcp_open;
	bool is_connected;
	bool is_attempt_abandoned;	/* connect timed out; ignore its cb */
	uv_connect_t connect_req;
	uv_timer_t timer;		/* connect timeout, then read timeout */
	bool is_timer_open;
	bool is_idle;
	bool has_read;			/* the server has sent something */

	SSL *ssl;
	struct net_tls_verify verify;	/* referenced by ssl's ex_data */
	bool is_tls_active;

	struct ms_buf in;		/* plaintext the driver has not consumed */
	struct ms_buf out;		/* queued bytes, ciphertext under TLS */
	struct ms_buf wbuf;		/* the bytes of the write in flight */
	size_t max_output;
	uv_write_t write_req;
	bool is_writing;
	bool want_close_written;	/* net_conn_close_when_written() */

	bool is_delivering;
	bool want_discard;		/* starttls called from on_data */
	size_t discarded;

	struct ms_err err;		/* the close reason */
	uint8_t rbuf[NET_CONN_CHUNK];	/* libuv reads land here */
};

static unsigned net_conn_next_id = 1;

/* Invariant checks stay on in release builds (STYLE.md 5). */
#define MS_ASSERT_CONN(x) do {						\
		if (!(x)) {						\
			log_err("net/conn.c:%d: assertion failed: %s",	\
				__LINE__, #x);				\
			abort();					\
		}							\
	} while (0)

static void conn_try_next_addr(struct net_conn *conn);
static void conn_tcp_closed_cb(uv_handle_t *handle);
static void conn_timer_cb(uv_timer_t *timer);
static void conn_handshake(struct net_conn *conn);
static void conn_deliver(struct net_conn *conn);

static void
conn_set_state(struct net_conn *conn, enum net_conn_state state)
{
	if (log_trace_enabled(TRACE_NET))
		log_trace(TRACE_NET, "acct=%s conn=%x net state=%s->%s",
			  conn->account, conn->id,
			  net_conn_state_names[conn->state],
			  net_conn_state_names[state]);
	conn->state = state;
}

/* "30 s" for whole seconds, "250 ms" otherwise. */
static const char *
conn_fmt_ms(unsigned ms, char *buf, size_t sz)
{
	if (ms % 1000 == 0)
		snprintf(buf, sz, "%u s", ms / 1000);
	else
		snprintf(buf, sz, "%u ms", ms);
	return buf;
}

static void
conn_free(struct net_conn *conn)
{
	SSL_free(conn->ssl);
	net_tls_ctx_unref(&conn->tls_ctx);
	if (conn->addrs != NULL)
		freeaddrinfo(conn->addrs);
	/*
	 * Queued output may hold credentials (on tls none, or before
	 * encryption in a future driver); wipe what the buffers hold.
	 */
	if (conn->out.p != NULL)
		explicit_bzero(conn->out.p, conn->out.cap);
	if (conn->wbuf.p != NULL)
		explicit_bzero(conn->wbuf.p, conn->wbuf.cap);
	ms_buf_deinit(&conn->in);
	ms_buf_deinit(&conn->out);
	ms_buf_deinit(&conn->wbuf);
	free(conn->account);
	free(conn->host);
	free(conn);
}

void
net_conn_ref(struct net_conn *conn)
{
	conn->refs++;
}

static void
conn_unref(struct net_conn *conn)
{
	MS_ASSERT_CONN(conn->refs > 0);
	if (--conn->refs == 0)
		conn_free(conn);
}

void
net_conn_unref(struct net_conn **connp)
{
	struct net_conn *conn = *connp;

	if (conn == NULL)
		return;
	*connp = NULL;
	conn_unref(conn);
}

/* ---- close ------------------------------------------------------------ */

/* Runs when every handle is closed and no request is pending. */
static void
conn_maybe_finish(struct net_conn *conn)
{
	if (conn->state != NET_CONN_CLOSING || conn->is_tcp_open ||
	    conn->is_timer_open || conn->is_resolving)
		return;
	conn_set_state(conn, NET_CONN_CLOSED);
	if (conn->err.code != MS_OK)
		log_debug("acct=%s conn=%x closed: %s: %s", conn->account,
			  conn->id, ms_strerror(conn->err.code),
			  conn->err.msg);
	if (conn->cb.on_close_cb != NULL)
		conn->cb.on_close_cb(conn, conn->err.code, &conn->err,
				     conn->cb.arg);
	/* Drop the connection's own reference, taken in conn_alloc. */
	conn_unref(conn);
}

static void
conn_timer_closed_cb(uv_handle_t *handle)
{
	struct net_conn *conn = handle->data;

	conn->is_timer_open = false;
	conn_maybe_finish(conn);
}

/*
 * Ends the TLS session of a verified connection so that OpenSSL keeps its
 * session resumable: SSL_free() without a shutdown marks it "bad".  On a
 * normal close the close_notify goes out best-effort with uv_try_write;
 * otherwise the shutdown is quiet (nothing sent).  TLS failures skip this,
 * so their sessions are dropped.
 */
static void
conn_tls_shutdown(struct net_conn *conn)
{
	uint8_t chunk[256];
	uv_buf_t b;
	int n;

	if (!conn->is_tls_active || conn->state != NET_CONN_READY ||
	    conn->err.code == MS_ETLS)
		return;
	if (conn->err.code != MS_OK || conn->is_writing)
		SSL_set_quiet_shutdown(conn->ssl, 1);
	(void)SSL_shutdown(conn->ssl);
	n = BIO_read(SSL_get_wbio(conn->ssl), chunk, sizeof(chunk));
	if (n > 0 && !conn->is_writing && conn->out.len == 0) {
		b = uv_buf_init((char *)chunk, (unsigned)n);
		(void)uv_try_write((uv_stream_t *)&conn->tcp, &b, 1);
	}
	ERR_clear_error();
}

static void
conn_close_start(struct net_conn *conn)
{
	conn_tls_shutdown(conn);
	conn_set_state(conn, NET_CONN_CLOSING);
	/* A running lookup cannot be stopped; its callback finishes the close. */
	if (conn->is_resolving)
		(void)uv_cancel((uv_req_t *)&conn->gai);
	if (conn->is_timer_open && !uv_is_closing((uv_handle_t *)&conn->timer)) {
		uv_timer_stop(&conn->timer);
		uv_close((uv_handle_t *)&conn->timer, conn_timer_closed_cb);
	}
	if (conn->is_tcp_open && !uv_is_closing((uv_handle_t *)&conn->tcp)) {
		if (conn->is_connected)
			uv_read_stop((uv_stream_t *)&conn->tcp);
		/* Pending connect and write requests fail with UV_ECANCELED. */
		uv_close((uv_handle_t *)&conn->tcp, conn_tcp_closed_cb);
	}
}

static void
conn_fail_err(struct net_conn *conn, const struct ms_err *err)
{
	if (conn->state >= NET_CONN_CLOSING)
		return;
	conn->err = *err;
	conn_close_start(conn);
}

static void __attribute__((format(printf, 3, 4)))
conn_fail(struct net_conn *conn, int code, const char *fmt, ...)
{
	va_list ap;

	if (conn->state >= NET_CONN_CLOSING)
		return;
	conn->err.code = code;
	va_start(ap, fmt);
	vsnprintf(conn->err.msg, sizeof(conn->err.msg), fmt, ap);
	va_end(ap);
	conn_close_start(conn);
}

void
net_conn_close(struct net_conn *conn, int reason)
{
	if (conn->state >= NET_CONN_CLOSING)
		return;
	ms_err_set(&conn->err, reason, "%s:%u: closed%s%s", conn->host,
		   (unsigned)conn->port, reason == MS_OK ? "" : ": ",
		   reason == MS_OK ? "" : ms_strerror(reason));
	conn_close_start(conn);
}

/* ---- resolve and connect ---------------------------------------------- */

static bool
conn_addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		const uint8_t *b = sin6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && b[12] == 127;
	}
	return false;
}

static void
conn_format_addr(const struct sockaddr *sa, char *out, size_t sz)
{
	out[0] = '\0';
	if (sa->sa_family == AF_INET)
		uv_ip4_name((const struct sockaddr_in *)sa, out, sz);
	else if (sa->sa_family == AF_INET6)
		uv_ip6_name((const struct sockaddr_in6 *)sa, out, sz);
}

static void
conn_arm_read_timer(struct net_conn *conn)
{
	if (conn->read_timeout_ms == 0 || conn->is_idle ||
	    conn->state >= NET_CONN_CLOSING)
		return;
	/* From now, not from the start of the loop turn: libuv reads a busy
	 * socket up to 32 times in one turn, and on a loaded machine handling
	 * those reads can outlast the timeout, which then fired at the next
	 * turn although bytes kept coming. */
	uv_update_time(conn->timer.loop);
	uv_timer_start(&conn->timer, conn_timer_cb, conn->read_timeout_ms, 0);
}

static void
conn_resolve_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct net_conn *conn = req->data;

	conn->is_resolving = false;
	if (conn->state >= NET_CONN_CLOSING) {
		if (res != NULL)
			uv_freeaddrinfo(res);
		conn_maybe_finish(conn);
		return;
	}
	if (status < 0) {
		conn_fail(conn, MS_ECONN, "resolve %s: %s", conn->host,
			  uv_strerror(status));
		return;
	}
	conn->addrs = res;
	conn->next_addr = res;
	conn_set_state(conn, NET_CONN_CONNECTING);
	conn_try_next_addr(conn);
}

static void
conn_tcp_closed_cb(uv_handle_t *handle)
{
	struct net_conn *conn = handle->data;

	conn->is_tcp_open = false;
	conn->is_connected = false;
	if (conn->state >= NET_CONN_CLOSING)
		conn_maybe_finish(conn);
	else
		conn_try_next_addr(conn);	/* a failed attempt is closed */
}

/* Gives up on the current address; conn_tcp_closed_cb tries the next. */
static void
conn_attempt_fail(struct net_conn *conn)
{
	uv_timer_stop(&conn->timer);
	uv_close((uv_handle_t *)&conn->tcp, conn_tcp_closed_cb);
}

static void
conn_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void
conn_alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct net_conn *conn = handle->data;

	/* One read at a time lands in the connection's own buffer. */
	*buf = uv_buf_init((char *)conn->rbuf, sizeof(conn->rbuf));
}

static void
conn_tls_start(struct net_conn *conn)
{
	struct ms_err err;

	conn->ssl = net_tls__ssl_new(conn->tls_ctx, conn->host, conn->port,
				     &conn->verify, &err);
	if (conn->ssl == NULL) {
		conn_fail_err(conn, &err);
		return;
	}
	conn->is_tls_active = true;
	conn_set_state(conn, NET_CONN_HANDSHAKE);
	if (log_trace_enabled(TRACE_TLS))
		log_trace(TRACE_TLS, "acct=%s conn=%x tls handshake with %s:%u",
			  conn->account, conn->id, conn->host,
			  (unsigned)conn->port);
	conn_handshake(conn);
}

static void
conn_connect_cb(uv_connect_t *req, int status)
{
	struct net_conn *conn = req->data;
	int r;

	/* Our own close or connect timeout cancelled this attempt. */
	if (conn->state >= NET_CONN_CLOSING || conn->is_attempt_abandoned)
		return;
	if (status < 0) {
		ms_err_set(&conn->attempt_err, MS_ECONN,
			   "connect to %s:%u (%s): %s", conn->host,
			   (unsigned)conn->port, conn->peer_addr,
			   uv_strerror(status));
		if (log_trace_enabled(TRACE_NET))
			log_trace(TRACE_NET, "acct=%s conn=%x %s",
				  conn->account, conn->id,
				  conn->attempt_err.msg);
		conn_attempt_fail(conn);
		return;
	}
	uv_timer_stop(&conn->timer);
	conn->is_connected = true;
	/* Pipelined commands must not wait for Nagle (DESIGN.md, Speed). */
	(void)uv_tcp_nodelay(&conn->tcp, 1);
	if (log_trace_enabled(TRACE_NET))
		log_trace(TRACE_NET, "acct=%s conn=%x connected to %s:%u (%s)",
			  conn->account, conn->id, conn->host,
			  (unsigned)conn->port, conn->peer_addr);
	r = uv_read_start((uv_stream_t *)&conn->tcp, conn_alloc_cb,
			  conn_read_cb);
	if (r < 0) {
		conn_fail(conn, MS_ECONN, "%s:%u: read: %s", conn->host,
			  (unsigned)conn->port, uv_strerror(r));
		return;
	}
	conn_arm_read_timer(conn);
	if (conn->tls_mode == NET_TLS_IMPLICIT) {
		conn_tls_start(conn);
		return;
	}
	conn_set_state(conn, NET_CONN_READY);
	net_conn_ref(conn);
	if (conn->cb.on_connected_cb != NULL)
		conn->cb.on_connected_cb(conn, conn->cb.arg);
	conn_unref(conn);
}

static void
conn_try_next_addr(struct net_conn *conn)
{
	struct addrinfo *ai;
	int r;

	while ((ai = conn->next_addr) != NULL) {
		conn->next_addr = ai->ai_next;
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		conn_format_addr(ai->ai_addr, conn->peer_addr,
				 sizeof(conn->peer_addr));
		/*
		 * Defence in depth: config validation refuses tls = none for
		 * remote hosts, but a name may still resolve elsewhere.
		 */
		if (conn->tls_mode == NET_TLS_NONE &&
		    !conn_addr_is_loopback(ai->ai_addr)) {
			ms_err_set(&conn->attempt_err, MS_ECONFIG,
			    "connect to %s:%u (%s): refusing plaintext "
			    "(tls = none) to a non-loopback address",
			    conn->host, (unsigned)conn->port, conn->peer_addr);
			continue;
		}
		r = uv_tcp_init(conn->loop, &conn->tcp);
		if (r < 0) {
			ms_err_set(&conn->attempt_err, MS_ECONN, "socket: %s",
				   uv_strerror(r));
			break;
		}
		conn->tcp.data = conn;
		conn->is_tcp_open = true;
		conn->is_attempt_abandoned = false;
		conn->connect_req.data = conn;
		if (log_trace_enabled(TRACE_NET))
			log_trace(TRACE_NET, "acct=%s conn=%x connect %s:%u (%s)",
				  conn->account, conn->id, conn->host,
				  (unsigned)conn->port, conn->peer_addr);
		r = uv_tcp_connect(&conn->connect_req, &conn->tcp,
				   ai->ai_addr, conn_connect_cb);
		if (r < 0) {
			ms_err_set(&conn->attempt_err, MS_ECONN,
				   "connect to %s:%u (%s): %s", conn->host,
				   (unsigned)conn->port, conn->peer_addr,
				   uv_strerror(r));
			/* Sets is_attempt_abandoned so no cb is expected. */
			conn->is_attempt_abandoned = true;
			conn_attempt_fail(conn);
			return;
		}
		uv_timer_start(&conn->timer, conn_timer_cb,
			       conn->connect_timeout_ms, 0);
		return;
	}
	if (conn->attempt_err.code == MS_OK)
		ms_err_set(&conn->attempt_err, MS_ECONN,
			   "resolve %s: no usable address", conn->host);
	conn_fail_err(conn, &conn->attempt_err);
}

static void
conn_timer_cb(uv_timer_t *timer)
{
	struct net_conn *conn = timer->data;
	char t[32];

	switch (conn->state) {
	case NET_CONN_CONNECTING:
		ms_err_set(&conn->attempt_err, MS_ETIMEDOUT,
			   "connect to %s:%u (%s): timed out after %s",
			   conn->host, (unsigned)conn->port, conn->peer_addr,
			   conn_fmt_ms(conn->connect_timeout_ms, t, sizeof(t)));
		conn->is_attempt_abandoned = true;
		conn_attempt_fail(conn);
		break;
	case NET_CONN_HANDSHAKE:
	case NET_CONN_READY:
		conn_fail(conn, MS_ETIMEDOUT, "%s:%u (%s): read timeout after %s%s",
			  conn->host, (unsigned)conn->port, conn->peer_addr,
			  conn_fmt_ms(conn->read_timeout_ms, t, sizeof(t)),
			  conn->state == NET_CONN_HANDSHAKE ?
			  " during the TLS handshake" :
			  /* A plain connection that never heard a greeting:
			   * most likely a port that speaks TLS at once. */
			  !conn->has_read && !conn->is_tls_active ?
			  ", not a byte received (a port that speaks TLS at "
			  "once, such as 993, 995 or 465, needs "
			  "tls = implicit)" : "");
		break;
	default:
		break;
	}
}

/* ---- TLS -------------------------------------------------------------- */

/* Moves whatever OpenSSL wrote (handshake or records) to the out queue. */
static void conn_write_start(struct net_conn *conn);

static void
conn_flush_tls(struct net_conn *conn)
{
	BIO *wbio = SSL_get_wbio(conn->ssl);
	uint8_t chunk[NET_CONN_CHUNK];
	int n;

	while (conn->state < NET_CONN_CLOSING &&
	       (n = BIO_read(wbio, chunk, sizeof(chunk))) > 0) {
		if (ms_buf_append(&conn->out, chunk, (size_t)n) != MS_OK) {
			conn_fail(conn, MS_ETOOBIG, "%s:%u: output queue full",
				  conn->host, (unsigned)conn->port);
			return;
		}
	}
	conn_write_start(conn);
}

static void
conn_tls_established(struct net_conn *conn)
{
	struct ms_err err;
	bool was_starttls = conn->tls_mode == NET_TLS_STARTTLS;

	if (net_tls__check_peer(conn->tls_ctx, conn->ssl, conn->host,
				conn->port, &err) != MS_OK) {
		conn_fail_err(conn, &err);
		return;
	}
	if (log_trace_enabled(TRACE_TLS))
		log_trace(TRACE_TLS, "acct=%s conn=%x tls established %s %s "
			  "resumed=%s", conn->account, conn->id,
			  SSL_get_version(conn->ssl),
			  SSL_get_cipher_name(conn->ssl),
			  SSL_session_reused(conn->ssl) ? "yes" : "no");
	conn_set_state(conn, NET_CONN_READY);
	net_conn_ref(conn);
	if (was_starttls && conn->cb.on_tls_ready_cb != NULL)
		conn->cb.on_tls_ready_cb(conn, conn->cb.arg);
	else if (!was_starttls && conn->cb.on_connected_cb != NULL)
		conn->cb.on_connected_cb(conn, conn->cb.arg);
	conn_unref(conn);
}

static void
conn_handshake(struct net_conn *conn)
{
	struct ms_err err;
	int r, e;

	r = SSL_do_handshake(conn->ssl);
	/* The handshake writes too: flush after every OpenSSL call. */
	conn_flush_tls(conn);
	if (conn->state >= NET_CONN_CLOSING)
		return;
	if (r == 1) {
		conn_tls_established(conn);
		return;
	}
	e = SSL_get_error(conn->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	net_tls__handshake_error(conn->ssl, conn->host, conn->port,
				 &conn->verify, &err);
	conn_fail_err(conn, &err);
}

/* Decrypts every complete record into conn->in. */
static void
conn_ssl_read(struct net_conn *conn)
{
	uint8_t chunk[NET_CONN_CHUNK];
	bool is_peer_done = false;
	struct ms_err err;
	int n, e;

	while (conn->state == NET_CONN_READY) {
		n = SSL_read(conn->ssl, chunk, sizeof(chunk));
		if (n > 0) {
			if (ms_buf_append(&conn->in, chunk, (size_t)n) != MS_OK) {
				conn_fail(conn, MS_EPROTO, "%s:%u: more than "
				    "%zu bytes of unconsumed input",
				    conn->host, (unsigned)conn->port,
				    conn->in.max);
				break;
			}
			continue;
		}
		e = SSL_get_error(conn->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			is_peer_done = true;
			break;
		}
		ms_err_set(&err, MS_ETLS, "%s:%u: TLS error: %s", conn->host,
			   (unsigned)conn->port,
			   ERR_reason_error_string(ERR_peek_last_error()) ?
			   ERR_reason_error_string(ERR_peek_last_error()) :
			   "protocol error");
		ERR_clear_error();
		conn_fail_err(conn, &err);
		break;
	}
	/* SSL_read may answer key updates; tickets arrive here as well. */
	if (conn->state < NET_CONN_CLOSING)
		conn_flush_tls(conn);
	if (conn->state < NET_CONN_CLOSING)
		conn_deliver(conn);
	if (is_peer_done)
		conn_fail(conn, MS_ECONN, "%s:%u: connection closed by server "
			  "(TLS close_notify)", conn->host,
			  (unsigned)conn->port);
}

/* ---- read ------------------------------------------------------------- */

static void
conn_discard_input(struct net_conn *conn, size_t n)
{
	if (n == 0)
		return;
	conn->discarded += n;
	log_warn("acct=%s conn=%x %s:%u: discarded %zu plaintext bytes "
		 "received after the STARTTLS reply (possible response "
		 "injection)", conn->account, conn->id, conn->host,
		 (unsigned)conn->port, n);
	ms_buf_consume(&conn->in, n);
}

/*
 * Offers the unconsumed plaintext to the driver for as long as it
 * consumes.  When the driver switches to TLS from inside on_data, the
 * bytes after the ones it consumed are the injection the STARTTLS defence
 * is about: they are dropped here and never offered again.
 */
static void
conn_deliver(struct net_conn *conn)
{
	size_t n;

	if (conn->is_delivering || conn->cb.on_data_cb == NULL)
		return;
	conn->is_delivering = true;
	net_conn_ref(conn);
	while (conn->in.len > 0 && conn->state == NET_CONN_READY) {
		n = conn->cb.on_data_cb(conn, conn->in.p, conn->in.len,
					conn->cb.arg);
		if (n > conn->in.len)
			n = conn->in.len;
		ms_buf_consume(&conn->in, n);
		if (conn->want_discard) {
			conn->want_discard = false;
			conn_discard_input(conn, conn->in.len);
			break;
		}
		if (n == 0)
			break;
	}
	conn->is_delivering = false;
	conn_unref(conn);
}

static void
conn_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct net_conn *conn = stream->data;

	if (conn->state >= NET_CONN_CLOSING || nread == 0)
		return;
	if (nread < 0) {
		if (conn->state == NET_CONN_HANDSHAKE)
			conn_fail(conn, MS_ETLS, "%s:%u (%s): connection %s "
				  "during the TLS handshake", conn->host,
				  (unsigned)conn->port, conn->peer_addr,
				  nread == UV_EOF ? "closed by server" :
				  uv_strerror((int)nread));
		else if (nread == UV_EOF)
			conn_fail(conn, MS_ECONN, "%s:%u (%s): connection closed "
				  "by server", conn->host, (unsigned)conn->port,
				  conn->peer_addr);
		else
			conn_fail(conn, MS_ECONN, "%s:%u (%s): read: %s",
				  conn->host, (unsigned)conn->port,
				  conn->peer_addr, uv_strerror((int)nread));
		return;
	}
	conn_arm_read_timer(conn);
	conn->has_read = true;
	if (!conn->is_tls_active) {
		if (ms_buf_append(&conn->in, buf->base, (size_t)nread) != MS_OK) {
			conn_fail(conn, MS_EPROTO, "%s:%u: more than %zu bytes "
				  "of unconsumed input", conn->host,
				  (unsigned)conn->port, conn->in.max);
			return;
		}
		conn_deliver(conn);
		return;
	}
	/* A memory BIO grows as needed, so the write always takes it all. */
	if (BIO_write(SSL_get_rbio(conn->ssl), buf->base, (int)nread) !=
	    (int)nread) {
		conn_fail(conn, MS_EINTERNAL, "%s:%u: TLS input buffer",
			  conn->host, (unsigned)conn->port);
		return;
	}
	if (conn->state == NET_CONN_HANDSHAKE)
		conn_handshake(conn);
	/* Application data may follow the handshake in the same read. */
	if (conn->state == NET_CONN_READY)
		conn_ssl_read(conn);
}

/* ---- write ------------------------------------------------------------ */

static void
conn_write_cb(uv_write_t *req, int status)
{
	struct net_conn *conn = req->data;

	conn->is_writing = false;
	if (conn->wbuf.p != NULL)
		explicit_bzero(conn->wbuf.p, conn->wbuf.len);
	ms_buf_reset(&conn->wbuf);
	if (status < 0) {
		conn_fail(conn, MS_ECONN, "%s:%u (%s): write: %s", conn->host,
			  (unsigned)conn->port, conn->peer_addr,
			  uv_strerror(status));
		return;
	}
	conn_write_start(conn);
	if (conn->want_close_written && !conn->is_writing)
		net_conn_close(conn, MS_OK);
}

/*
 * Starts one uv_write of everything queued, if none is in flight.  The
 * queued bytes move to wbuf, which stays untouched until conn_write_cb.
 */
static void
conn_write_start(struct net_conn *conn)
{
	struct ms_buf tmp;
	uv_buf_t b;
	int r;

	if (conn->is_writing || conn->out.len == 0 || !conn->is_connected ||
	    conn->state >= NET_CONN_CLOSING)
		return;
	tmp = conn->wbuf;
	conn->wbuf = conn->out;
	conn->out = tmp;
	b = uv_buf_init((char *)conn->wbuf.p, (unsigned)conn->wbuf.len);
	conn->write_req.data = conn;
	r = uv_write(&conn->write_req, (uv_stream_t *)&conn->tcp, &b, 1,
		     conn_write_cb);
	if (r < 0) {
		conn_fail(conn, MS_ECONN, "%s:%u: write: %s", conn->host,
			  (unsigned)conn->port, uv_strerror(r));
		return;
	}
	conn->is_writing = true;
}

void
net_conn_close_when_written(struct net_conn *conn)
{
	if (conn->state >= NET_CONN_CLOSING)
		return;
	conn_write_start(conn);
	if (!conn->is_writing) {
		net_conn_close(conn, MS_OK);
		return;
	}
	conn->want_close_written = true;
}

int
net_conn_write(struct net_conn *conn, const void *p, size_t len)
{
	size_t queued = conn->out.len;

	if (conn->state != NET_CONN_READY)
		return MS_EINVAL;
	if (len > conn->max_output || queued > conn->max_output - len)
		return MS_ETOOBIG;
	if (len == 0)
		return MS_OK;
	if (!conn->is_tls_active) {
		if (ms_buf_append(&conn->out, p, len) != MS_OK)
			return MS_ETOOBIG;
		conn_write_start(conn);
		return MS_OK;
	}
	/* Memory BIOs take everything, so SSL_write never returns short. */
	if (SSL_write(conn->ssl, p, (int)len) != (int)len) {
		ERR_clear_error();
		conn_fail(conn, MS_ETLS, "%s:%u: TLS write failed", conn->host,
			  (unsigned)conn->port);
		return MS_ETLS;
	}
	conn_flush_tls(conn);
	return conn->state == NET_CONN_READY ? MS_OK : conn->err.code;
}

/* ---- STARTTLS, idle, getters ------------------------------------------ */

int
net_conn_starttls(struct net_conn *conn)
{
	if (conn->tls_mode != NET_TLS_STARTTLS ||
	    conn->state != NET_CONN_READY || conn->is_tls_active)
		return MS_EINVAL;
	if (conn->is_delivering)
		conn->want_discard = true;	/* conn_deliver drops the rest */
	else
		conn_discard_input(conn, conn->in.len);
	conn_tls_start(conn);
	return MS_OK;
}

void
net_conn_set_idle(struct net_conn *conn, bool is_idle)
{
	conn->is_idle = is_idle;
	if (conn->state != NET_CONN_READY && conn->state != NET_CONN_HANDSHAKE)
		return;
	if (is_idle)
		uv_timer_stop(&conn->timer);
	else
		conn_arm_read_timer(conn);
}

void
net_conn_set_read_timeout(struct net_conn *conn, unsigned ms)
{
	conn->read_timeout_ms = ms;
	if (conn->state != NET_CONN_READY && conn->state != NET_CONN_HANDSHAKE)
		return;
	if (ms == 0)
		uv_timer_stop(&conn->timer);
	else if (uv_is_active((uv_handle_t *)&conn->timer))
		conn_arm_read_timer(conn);
}

bool
net_conn_is_tls(const struct net_conn *conn)
{
	return conn->is_tls_active && conn->state == NET_CONN_READY;
}

bool
net_conn_tls_session_reused(const struct net_conn *conn)
{
	return conn->ssl != NULL && SSL_session_reused(conn->ssl);
}

const char *
net_conn_tls_version(const struct net_conn *conn)
{
	return conn->is_tls_active && conn->ssl != NULL ?
	    SSL_get_version(conn->ssl) : "";
}

size_t
net_conn_discarded_bytes(const struct net_conn *conn)
{
	return conn->discarded;
}

const char *
net_conn_peer_addr(const struct net_conn *conn)
{
	return conn->peer_addr;
}

unsigned
net_conn_id(const struct net_conn *conn)
{
	return conn->id;
}

/* ---- create ----------------------------------------------------------- */

static bool
conn_host_is_remote_literal(const char *host)
{
	/* One storage for both families: gcc -O3 inlines the check and
	 * warns about the IPv6 branch reading past a sockaddr_in. */
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(host, 0, (struct sockaddr_in *)&ss) == 0 ||
	    uv_ip6_addr(host, 0, (struct sockaddr_in6 *)&ss) == 0)
		return !conn_addr_is_loopback((struct sockaddr *)&ss);
	return false;
}

static int
conn_alloc(uv_loop_t *loop, const struct net_conn_params *params,
	   struct net_conn **conn_r, struct ms_err *err_r)
{
	struct net_conn *conn;

	*conn_r = NULL;
	if (params->host == NULL || params->host[0] == '\0' ||
	    params->port == 0)
		return ms_err_set(err_r, MS_EINVAL, "no host or port");
	if (params->tls != NET_TLS_NONE && params->tls_ctx == NULL)
		return ms_err_set(err_r, MS_EINVAL, "%s:%u: TLS without a "
				  "TLS context", params->host,
				  (unsigned)params->port);
	if (params->tls == NET_TLS_NONE &&
	    conn_host_is_remote_literal(params->host))
		return ms_err_set(err_r, MS_ECONFIG, "%s:%u: refusing "
				  "plaintext (tls = none) to a non-loopback "
				  "host", params->host, (unsigned)params->port);
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	conn->account = strdup(params->account ? params->account : "-");
	conn->host = strdup(params->host);
	if (conn->account == NULL || conn->host == NULL) {
		free(conn->account);
		free(conn->host);
		free(conn);
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	}
	conn->loop = loop;
	conn->refs = 1;		/* dropped after on_close */
	conn->id = net_conn_next_id++;
	conn->port = params->port;
	conn->tls_mode = params->tls;
	if (params->tls_ctx != NULL && params->tls != NET_TLS_NONE) {
		conn->tls_ctx = params->tls_ctx;
		net_tls_ctx_ref(conn->tls_ctx);
	}
	conn->connect_timeout_ms = params->connect_timeout_ms ?
	    params->connect_timeout_ms : NET_CONN_DEFAULT_CONNECT_MS;
	conn->read_timeout_ms = params->read_timeout_ms;
	conn->cb.on_connected_cb = params->on_connected_cb;
	conn->cb.on_tls_ready_cb = params->on_tls_ready_cb;
	conn->cb.on_data_cb = params->on_data_cb;
	conn->cb.on_close_cb = params->on_close_cb;
	conn->cb.arg = params->arg;
	ms_buf_init(&conn->in, params->max_input ? params->max_input :
		    NET_CONN_DEFAULT_MAX_INPUT);
	conn->max_output = params->max_output ? params->max_output :
	    NET_CONN_DEFAULT_MAX_OUTPUT;
	ms_buf_init(&conn->out, conn->max_output + NET_CONN_TLS_SLACK);
	ms_buf_init(&conn->wbuf, conn->max_output + NET_CONN_TLS_SLACK);
	*conn_r = conn;
	return MS_OK;
}

static void
conn_timer_open(struct net_conn *conn)
{
	/* uv_timer_init cannot fail on a valid loop. */
	(void)uv_timer_init(conn->loop, &conn->timer);
	conn->timer.data = conn;
	conn->is_timer_open = true;
}

int
net_conn_new(uv_loop_t *loop, const struct net_conn_params *params,
	     struct net_conn **conn_r, struct ms_err *err_r)
{
	struct addrinfo hints;
	struct net_conn *conn;
	char port[8];
	int r;

	r = conn_alloc(loop, params, &conn, err_r);
	if (r != MS_OK)
		return r;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%u", (unsigned)params->port);
	conn->gai.data = conn;
	if (log_trace_enabled(TRACE_NET))
		log_trace(TRACE_NET, "acct=%s conn=%x resolve %s:%u",
			  conn->account, conn->id, conn->host,
			  (unsigned)conn->port);
	r = uv_getaddrinfo(loop, &conn->gai, conn_resolve_cb, conn->host,
			   port, &hints);
	if (r < 0) {
		ms_err_set(err_r, MS_ECONN, "resolve %s: %s", conn->host,
			   uv_strerror(r));
		conn_free(conn);
		return MS_ECONN;
	}
	conn->is_resolving = true;
	conn_timer_open(conn);
	*conn_r = conn;
	return MS_OK;
}

int
net__conn_new_with_addrs(uv_loop_t *loop, const struct net_conn_params *params,
			 struct addrinfo *addrs, struct net_conn **conn_r,
			 struct ms_err *err_r)
{
	struct net_conn *conn;
	int r;

	r = conn_alloc(loop, params, &conn, err_r);
	if (r != MS_OK) {
		freeaddrinfo(addrs);
		return r;
	}
	conn->addrs = addrs;
	conn->next_addr = addrs;
	conn_timer_open(conn);
	conn_set_state(conn, NET_CONN_CONNECTING);
	/* Failures here close asynchronously, so on_close never fires early. */
	conn_try_next_addr(conn);
	*conn_r = conn;
	return MS_OK;
}

int
net_conn_new_at(uv_loop_t *loop, const struct net_conn_params *params,
		const char *addrs, struct net_conn **conn_r,
		struct ms_err *err_r)
{
	struct addrinfo hints, *head = NULL, **tail = &head;
	char port[8], one[64];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", (unsigned)params->port);
	for (const char *a = addrs; *a != '\0';) {
		size_t n = strcspn(a, " ");
		struct addrinfo *res = NULL;

		if (n >= sizeof(one) || (memcpy(one, a, n), one[n] = '\0',
		    getaddrinfo(one, port, &hints, &res)) != 0) {
			if (head != NULL)
				freeaddrinfo(head);
			return ms_err_set(err_r, MS_EINVAL, "%.*s: not an IP "
					  "address", (int)n, a);
		}
		/* glibc frees a chain node by node, so lists join. */
		*tail = res;
		while (*tail != NULL)
			tail = &(*tail)->ai_next;
		a += n;
		a += strspn(a, " ");
	}
	if (head == NULL)
		return ms_err_set(err_r, MS_EINVAL, "no address to connect "
				  "to");
	return net__conn_new_with_addrs(loop, params, head, conn_r, err_r);
}
