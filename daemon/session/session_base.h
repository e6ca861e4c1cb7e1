/*
 * session_base.h - what the POP3 and SMTP sessions share: copying the
 * account's parameters, fetching the secret (password or password_cmd /
 * oauth_token_cmd through secret_cmd), the connection, traced and
 * redacted writes, one recorded failure, a timer for bounded waits, and
 * the end: exactly one closed callback, then the owner is freed from a
 * later loop callback.  Module-internal to daemon/session.
 */
#ifndef MS_SESSION_BASE_H
#define MS_SESSION_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/ms.h"
#include "net/conn.h"
#include "sasl/sasl.h"
#include "secret/secret_cmd.h"

struct session_base_ops {
	/* TCP up (tls none / starttls) or implicit TLS verified. */
	void (*connected_cb)(void *arg);
	/* The handshake after net_conn_starttls() succeeded. */
	void (*tls_ready_cb)(void *arg);
	/* Plaintext from the server; returns the bytes consumed. */
	size_t (*data_cb)(const uint8_t *p, size_t len, void *arg);
	/* The timer armed with session_base_timer_start() fired. */
	void (*timer_cb)(void *arg);
	/*
	 * Exactly once at the end, with the first recorded failure (or the
	 * connection's own reason).  The owner completes its pending work
	 * and calls its user's on_close here.
	 */
	void (*closed_cb)(int reason, const struct ms_err *err, void *arg);
	/* After closed_cb, from a later callback: free the owner. */
	void (*free_cb)(void *arg);
};

struct session_base_params {
	const char *proto;		/* "pop3", "smtp": log lines */
	unsigned trace_area;		/* TRACE_POP3, ... */
	const char *account, *host, *user;
	uint16_t port;
	enum net_tls_mode tls;
	struct net_tls_ctx *tls_ctx;
	unsigned timeout_ms;
	bool is_user_required;		/* SMTP may send without AUTH */
	const char *password, *password_cmd, *oauth_token_cmd;
};

struct session_base {
	uv_loop_t *loop;
	const struct session_base_ops *ops;
	void *arg;
	const char *proto;
	unsigned trace_area;
	char *account, *host, *user;	/* owned; user may be NULL */
	uint16_t port;
	enum net_tls_mode tls;
	struct net_tls_ctx *tls_ctx;	/* ref held */
	unsigned timeout_ms;
	char *secret;			/* owned, wiped; NULL once used */
	size_t secret_len;
	char *secret_cmd;		/* owned */
	bool has_oauth;			/* the secret is a bearer token */
	struct secret_cmd *job;		/* while the command runs */
	struct net_conn *conn;		/* while connected */
	uv_timer_t timer;
	bool is_closing;		/* close requested or failed */
	bool is_closed;			/* closed_cb fired */
	bool in_auth;			/* trace SASL lines redacted */
	struct ms_err err;		/* first failure; code 0 if none */
	/* SASL while authenticating. */
	struct sasl_client sasl;
	bool has_sasl;
	char auth_used[24];		/* "PLAIN", "USER", "" */
	struct ms_err sasl_err;		/* our SASL error, told after "*" */
	/* Callbacks of submitted commands (entry_size bytes each). */
	uint8_t *fifo;
	size_t fifo_len, fifo_cap, entry_size;
	/* Core commands accounted for (submitted, or our own QUIT). */
	size_t nsubmitted;
};

/*
 * Copies params and checks them: MS_OK, or MS_EINVAL with err_r set
 * (and nothing to clean up).
 */
int session_base_init(struct session_base *b, uv_loop_t *loop,
		      const struct session_base_params *params,
		      const struct session_base_ops *ops, void *arg,
		      struct ms_err *err_r) MS_WUR;

/* The FIFO of submitted commands' callbacks: entries of size bytes. */
void session_base_fifo_init(struct session_base *b, size_t size);
void session_base_fifo_push(struct session_base *b, const void *entry);
/* Copies the oldest entry to entry_r and removes it; false if empty. */
bool session_base_fifo_pop(struct session_base *b, void *entry_r);
/*
 * Registers entry for the command just built: MS_OK, or MS_EINVAL when
 * the session is not ready or closing, or the core has no unclaimed
 * command (core_pending is the core's count of unanswered commands).
 */
int session_base_submit(struct session_base *b, bool is_ready,
			size_t core_pending, const void *entry) MS_WUR;
/* A submitted command got its answer: pops the oldest entry. */
bool session_base_cmd_done(struct session_base *b, void *entry_r);
/* Our own QUIT was queued: account for it and bound the wait. */
void session_base_quit_sent(struct session_base *b);
/* The oldest entry, or NULL. */
const void *session_base_fifo_head(const struct session_base *b);
size_t session_base_fifo_count(const struct session_base *b);

/*
 * session_base_init(), then fetches the secret if a command provides it
 * and connects.  MS_OK: closed_cb and free_cb will fire.  On error err_r
 * is set, nothing is left to release in b and no callback fires.
 */
int session_base_open(struct session_base *b, uv_loop_t *loop,
		      const struct session_base_params *params,
		      const struct session_base_ops *ops, void *arg,
		      struct ms_err *err_r) MS_WUR;

/*
 * Records the first failure (code and printf message prefixed with
 * "proto host:port: ") and closes.  Idempotent after the first.
 */
void session_base_fail(struct session_base *b, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Closes with reason (MS_OK for a clean end); idempotent. */
void session_base_close(struct session_base *b, int reason);

/*
 * Sends p[0..len) (whole protocol lines), tracing each line through
 * log_redact_line().  Fails the session on error and returns it.
 */
int session_base_write(struct session_base *b, const uint8_t *p, size_t len);

/* Traces one received line (not redacted: servers send no secrets). */
void session_base_trace_in(struct session_base *b, struct ms_slice line);

/* Wipes and frees the secret once authentication no longer needs it. */
void session_base_secret_wipe(struct session_base *b);

/*
 * Starts SASL: sasl_select() over mechs (space-separated) with the
 * account's choice, then the client and its base64 initial response,
 * appended to ir (*has_ir_r false for mechanisms without one).  Returns
 * MS_OK with *mech_r; MS_EIMPL from sasl_select without failing the
 * session (POP3 may fall back to USER/PASS); any other error fails it.
 */
int session_base_sasl_start(struct session_base *b, struct ms_slice mechs,
			    enum sasl_mech auth, enum sasl_mech *mech_r,
			    struct ms_buf *ir, bool *has_ir_r) MS_WUR;

/*
 * Answers a base64 challenge into out; on a SASL error the answer is "*"
 * (cancel) and the error is kept for session_base_sasl_failed().
 */
void session_base_sasl_step(struct session_base *b, struct ms_slice b64,
			    struct ms_buf *out);

/* The server accepted: SCRAM checks the server here.  MS_OK or failed. */
int session_base_sasl_success(struct session_base *b) MS_WUR;

/*
 * The server refused with text: fails the session with our kept SASL
 * error, or with code and the server's words.
 */
void session_base_sasl_failed(struct session_base *b, int code,
			      struct ms_slice text);

/* Authentication is over: SASL state and the secret are wiped. */
void session_base_auth_done(struct session_base *b);

/* Arms the timer (one shot); session_base_timer_stop() disarms. */
void session_base_timer_start(struct session_base *b, unsigned ms);
void session_base_timer_stop(struct session_base *b);

bool session_base_is_tls(const struct session_base *b);

#endif
