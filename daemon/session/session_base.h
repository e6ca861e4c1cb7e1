/*
 * session_base.h - what the POP3 and SMTP sessions share: copying the
 * account's parameters, fetching the secret (password or password_cmd /
 * oauth_token_cmd through secret_cmd), the connection, traced and
 * redacted writes, one recorded failure, a timer for bounded waits, and
 * the end: exactly one closed callback, then the owner is freed from a
 * later loop callback.  It also runs what only differs by protocol verbs,
 * through the owner's core callbacks: the shared states, feeding,
 * flushing, SASL, the submitted-command FIFO and QUIT.  Module-internal
 * to daemon/session.
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

/*
 * The states both protocols pass through; each protocol numbers its own
 * states from SESSION_PROTO_STATES on and names them in state_names.
 */
enum session_base_state {
	SESSION_CONNECTING = 0,
	SESSION_GREETING,
	SESSION_TLS_HANDSHAKE,
	SESSION_AUTH,
	SESSION_READY,
	SESSION_QUIT,
	SESSION_DONE,
	SESSION_PROTO_STATES,
};

struct session_base_ops {
	/* The handshake after net_conn_starttls() succeeded. */
	void (*tls_ready_cb)(void *arg);
	/*
	 * Feeds plaintext to the core and handles the events it yields;
	 * *used_r is what the core consumed.  Negative: malformed.
	 */
	int (*feed_cb)(void *arg, const uint8_t *p, size_t len,
		       size_t *used_r);
	/* The core's queued output, and consuming what was written. */
	void (*out_peek_cb)(void *arg, const uint8_t **p_r, size_t *len_r);
	void (*out_consume_cb)(void *arg, size_t len);
	/* The core's count of commands sent and not yet answered. */
	size_t (*pending_cb)(void *arg);
	/* Builds QUIT in the core. */
	int (*quit_cb)(void *arg);
	/* Builds AUTH mech (with the base64 initial response ir, or NULL). */
	int (*auth_cb)(void *arg, const char *mech, const struct ms_slice *ir);
	/* Builds the base64 answer to a SASL challenge. */
	int (*auth_response_cb)(void *arg, struct ms_slice b64);
	/* A submitted command (its FIFO entry) hears the end with rc. */
	void (*cmd_cancel_cb)(void *arg, int rc, const void *entry);
	/*
	 * Exactly once at the end, with the first recorded failure (or the
	 * connection's own reason), after every submitted command heard
	 * about it.  The owner calls its user's on_close here.
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
	size_t max_output;		/* queued output; 0: the connection's default */
	bool is_user_required;		/* SMTP may send without AUTH */
	const char *password, *password_cmd, *oauth_token_cmd;
	/* Names of the states from SESSION_PROTO_STATES on (trace lines). */
	const char *const *state_names;
	size_t entry_size;		/* of a submitted command's callbacks */
	const char *reply_word;		/* "response", "reply": messages */
};

struct session_base {
	uv_loop_t *loop;
	const struct session_base_ops *ops;
	void *arg;
	const char *proto;
	unsigned trace_area;
	int state;			/* enum session_base_state or the
					 * protocol's own */
	const char *const *state_names;
	const char *reply_word;
	char *account, *host, *user;	/* owned; user may be NULL */
	uint16_t port;
	enum net_tls_mode tls;
	struct net_tls_ctx *tls_ctx;	/* ref held */
	unsigned timeout_ms;
	size_t max_output;
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

/*
 * Registers entry (entry_size bytes) for the command just built and sends
 * what is queued: MS_OK, or MS_EINVAL when the session is not ready or
 * closing, or the core has no unclaimed command.
 */
int session_base_submit(struct session_base *b, const void *entry) MS_WUR;
/* A submitted command got its answer: pops the oldest entry. */
bool session_base_cmd_done(struct session_base *b, void *entry_r);
/* The oldest entry, or NULL. */
const void *session_base_fifo_head(const struct session_base *b);
size_t session_base_fifo_count(const struct session_base *b);

/* Moves to state st (traced with the state names). */
void session_base_set_state(struct session_base *b, int st);
/* The name of the current state, for messages. */
const char *session_base_state_name(const struct session_base *b);

/* Sends everything the core queued. */
void session_base_flush(struct session_base *b);

/*
 * Logged in (or greeted without AUTH): SASL state and the secret are
 * wiped, the core's commands so far are accounted for, state READY.
 */
void session_base_ready(struct session_base *b);

/*
 * Ends the session: QUIT when ready and reason is MS_OK (bounded wait),
 * else closes with reason.  Idempotent.
 */
void session_base_shutdown(struct session_base *b, int reason);

/*
 * Ends the session with QUIT without waiting for its reply: the
 * connection closes (reason MS_OK) once QUIT has been written, for a
 * session whose QUIT changes nothing on the server.  Not READY: closes
 * with MS_OK.  Idempotent.
 */
void session_base_quit_unanswered(struct session_base *b);

/*
 * A reply while READY or QUIT that no submitted command claims: our QUIT
 * answered ends the session cleanly.  is_quit: the reply is to QUIT.
 */
void session_base_unclaimed(struct session_base *b, bool is_quit);

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
 * account's choice, then builds AUTH with the initial response and moves
 * to AUTH.  Returns MS_OK; MS_EIMPL from sasl_select without failing the
 * session (POP3 may fall back to USER/PASS); any other error fails it.
 */
int session_base_sasl_begin(struct session_base *b, struct ms_slice mechs,
			    enum sasl_mech auth) MS_WUR;

/*
 * Answers a base64 challenge; on a SASL error the answer is "*" (cancel)
 * and the error is kept for session_base_sasl_failed().
 */
void session_base_sasl_answer(struct session_base *b, struct ms_slice b64);

/* The server accepted: SCRAM checks the server here.  MS_OK or failed. */
int session_base_sasl_success(struct session_base *b) MS_WUR;

/*
 * The server refused with text: fails the session with our kept SASL
 * error, or with code and the server's words.
 */
void session_base_sasl_failed(struct session_base *b, int code,
			      struct ms_slice text);

/* Arms the timer (one shot); session_base_timer_stop() disarms. */
void session_base_timer_start(struct session_base *b, unsigned ms);
void session_base_timer_stop(struct session_base *b);

bool session_base_is_tls(const struct session_base *b);

#endif
