/*
 * conn.h - one client connection over libuv: name resolution, trying each
 * address in turn, TCP, TLS through OpenSSL memory BIOs (implicit or after
 * STARTTLS), connect and read-inactivity timeouts, bounded buffered writes
 * and one clean close in every state.  Protocol-agnostic: the IMAP, POP3
 * and SMTP drivers sit on top of it.
 *
 * Lifetime: net_conn_new() returns a connection holding its own reference.
 * Exactly one on_close callback ends every connection that was created,
 * whatever happened (resolve failure, refused, timeout, TLS failure, reset,
 * net_conn_close()).  After on_close returns the connection frees itself
 * unless the user took a reference with net_conn_ref().  Loop thread only.
 */
#ifndef MS_NET_CONN_H
#define MS_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/ms.h"
#include "net/tls.h"

enum net_tls_mode {
	NET_TLS_NONE,		/* plaintext; loopback hosts only */
	NET_TLS_IMPLICIT,	/* TLS from the first byte (993, 995, 465) */
	NET_TLS_STARTTLS,	/* plaintext until net_conn_starttls() */
};

struct net_conn;

struct net_conn_params {
	const char *account;	/* for log lines; copied */
	const char *host;	/* name or IP literal; copied */
	uint16_t port;
	enum net_tls_mode tls;
	/*
	 * Trust anchors, pin and session cache (net/tls.h); required unless
	 * tls is NET_TLS_NONE.  The connection holds a reference.
	 */
	struct net_tls_ctx *tls_ctx;
	unsigned connect_timeout_ms;	/* per address attempt; 0 = 30 s */
	/*
	 * Read inactivity: no byte from the server for this long closes the
	 * connection with MS_ETIMEDOUT (also during the TLS handshake).
	 * 0 = no read timeout.
	 */
	unsigned read_timeout_ms;
	/* Cap on received plaintext the driver has not consumed; 0 = 1 MiB. */
	size_t max_input;
	/* Cap on queued outgoing bytes; 0 = 8 MiB. */
	size_t max_output;

	/*
	 * The connection is ready for the protocol: TCP connected (tls none
	 * or starttls) or TLS established and verified (implicit).
	 */
	void (*on_connected_cb)(struct net_conn *conn, void *arg);
	/* NET_TLS_STARTTLS: the handshake after net_conn_starttls() succeeded. */
	void (*on_tls_ready_cb)(struct net_conn *conn, void *arg);
	/*
	 * Plaintext from the server: p/len stay valid only during the call.
	 * Return how many bytes were consumed (<= len).  The connection keeps
	 * the rest and offers it again, together with new bytes; it calls
	 * again at once while the callback consumes something.  A driver that
	 * sees the positive STARTTLS reply consumes exactly that reply and
	 * calls net_conn_starttls(); every byte after it is discarded.
	 */
	size_t (*on_data_cb)(struct net_conn *conn, const uint8_t *p,
			     size_t len, void *arg);
	/*
	 * Called once at the end.  reason is MS_OK after a caller's
	 * net_conn_close(conn, MS_OK), else a negative MS_E* code; err
	 * (never NULL) has the same code and a message that names the host
	 * and port.  The connection must not be used after this returns
	 * unless the caller holds a reference (and then only for
	 * net_conn_unref and the getters).
	 */
	void (*on_close_cb)(struct net_conn *conn, int reason,
			    const struct ms_err *err, void *arg);
	void *arg;
};

/*
 * Starts resolving and connecting.  Returns MS_OK with *conn_r, after
 * which on_close fires exactly once (never before this returns); or an
 * error (MS_EINVAL, MS_ECONFIG for tls none to a non-loopback address
 * literal) with err_r set, and no callback fires.
 */
int net_conn_new(uv_loop_t *loop, const struct net_conn_params *params,
		 struct net_conn **conn_r, struct ms_err *err_r) MS_WUR;

/*
 * Like net_conn_new(), but tries the addresses of addrs in order (IP
 * literals, space-separated, resolved elsewhere: mailsyncctl setup asks
 * its own DNS server), while params->host still names the server for SNI
 * and certificate verification.  MS_EINVAL when one is not an IP literal.
 */
int net_conn_new_at(uv_loop_t *loop, const struct net_conn_params *params,
		    const char *addrs, struct net_conn **conn_r,
		    struct ms_err *err_r) MS_WUR;

void net_conn_ref(struct net_conn *conn);
/* Drops a reference taken with net_conn_ref(); sets *connp = NULL. */
void net_conn_unref(struct net_conn **connp);

/*
 * Queues plaintext for the server (encrypted when TLS is on); the bytes
 * are copied.  Only after on_connected (or on_tls_ready during STARTTLS).
 * Returns MS_OK, MS_EINVAL (not ready or closing) or MS_ETOOBIG (the
 * output queue is full; nothing was queued).
 */
int net_conn_write(struct net_conn *conn, const void *p, size_t len) MS_WUR;

/*
 * Switches a NET_TLS_STARTTLS connection to TLS after the server's
 * positive STARTTLS reply.  Every received plaintext byte not yet consumed
 * (including the rest of the current on_data call) is discarded and
 * counted (net_conn_discarded_bytes), with a warning: it can only be an
 * injection attempt.  on_tls_ready fires after handshake and
 * verification; failure ends in on_close with MS_ETLS.  Returns MS_OK or
 * MS_EINVAL (wrong mode or state).
 */
int net_conn_starttls(struct net_conn *conn) MS_WUR;

/* Disarms (true) or re-arms (false) the read-inactivity timeout. */
void net_conn_set_idle(struct net_conn *conn, bool is_idle);

/* Changes the read-inactivity timeout (0: none); a running one restarts
 * with the new length. */
void net_conn_set_read_timeout(struct net_conn *conn, unsigned ms);

/*
 * Closes the connection: idempotent; stops timers and reading, closes
 * every handle and fires on_close once, from a later callback, with
 * reason (MS_OK for a normal close).  Output still queued is dropped, so
 * a driver waits for the reply to its last command (LOGOUT, QUIT) first.
 * With reason MS_OK a TLS close_notify is sent best-effort; either way a
 * verified TLS session stays in the account's cache for resumption.
 */
void net_conn_close(struct net_conn *conn, int reason);

/*
 * Like net_conn_close(conn, MS_OK) once every byte queued so far has gone
 * to the kernel (a write error closes with MS_ECONN instead): for a last
 * command whose reply changes nothing (POP3's QUIT when no DELE was sent),
 * so that the session ends without waiting a round trip for it.  Replies
 * still arriving are not read.
 */
void net_conn_close_when_written(struct net_conn *conn);

/* Getters, valid until the last reference is dropped. */
bool net_conn_is_tls(const struct net_conn *conn);
/* True when the TLS session was resumed from the account's cache. */
bool net_conn_tls_session_reused(const struct net_conn *conn);
/* "TLSv1.3", or "" without TLS (for status and logs). */
const char *net_conn_tls_version(const struct net_conn *conn);
/* Plaintext bytes dropped by net_conn_starttls(). */
size_t net_conn_discarded_bytes(const struct net_conn *conn);
/* The address connected to ("127.0.0.1"), "" before that. */
const char *net_conn_peer_addr(const struct net_conn *conn);
/* The short id used in log lines ("conn=3f"). */
unsigned net_conn_id(const struct net_conn *conn);

#endif
