/*
 * pop3_session.h - one logged-in POP3 connection, for the fetch engine.
 *
 * The session connects (net/conn.h), reads the greeting and CAPA, upgrades
 * with STLS when the account says tls = starttls (refusing with MS_ETLS
 * before any credential when the server does not offer STLS or answers
 * -ERR; bytes after the +OK are discarded by the connection, never
 * parsed), reads CAPA again over TLS, then authenticates: SASL AUTH with
 * the mechanism sasl_select() picks from the server's "SASL" list, and
 * USER/PASS only as the last resort, only over TLS and only with
 * auth = auto and a password.  Then on_ready fires and commands may be
 * sent; pop3_session_close() ends with QUIT.
 *
 * Every callback fires from the loop, never from inside the call that
 * caused it; on_close fires exactly once, after every command callback.
 * The session frees itself after on_close returns.  Loop thread only.
 */
#ifndef MS_POP3_SESSION_H
#define MS_POP3_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "common/ms.h"
#include "net/conn.h"
#include "pop3/pop3_client.h"
#include "sasl/sasl.h"

struct pop3_session;

struct pop3_session_params {
	const char *account;		/* for log lines; copied */
	const char *host;		/* copied */
	uint16_t port;
	enum net_tls_mode tls;
	struct net_tls_ctx *tls_ctx;	/* required unless tls is none; ref taken */
	unsigned timeout_ms;		/* connect and read inactivity; 0 = 60 s */
	const char *user;		/* copied */
	/* Exactly one source of the secret; all copied (and wiped later). */
	const char *password;
	const char *password_cmd;
	const char *oauth_token_cmd;
	enum sasl_mech auth;		/* SASL_MECH_AUTO: the strongest offered */

	/* Logged in; CAPA (after TLS) known. */
	void (*on_ready_cb)(struct pop3_session *s, void *arg);
	/*
	 * The end: reason MS_OK after pop3_session_close(s, MS_OK), else
	 * MS_ECONN/MS_ETIMEDOUT/MS_ETLS/MS_EAUTH/MS_EPROTO/MS_EIMPL/
	 * MS_ERESP/MS_EIO (secret command)/...; err names the host and says
	 * what happened (the server's words for MS_EAUTH; never a secret).
	 */
	void (*on_close_cb)(struct pop3_session *s, int reason,
			    const struct ms_err *err, void *arg);
	void *arg;
};

/*
 * Starts (running the secret command first, if any).  MS_OK with *s_r:
 * on_close fires exactly once later.  On error (MS_EINVAL, MS_ECONFIG)
 * err_r says why and no callback fires.
 */
int pop3_session_new(uv_loop_t *loop, const struct pop3_session_params *params,
		     struct pop3_session **s_r, struct ms_err *err_r) MS_WUR;

/*
 * Callbacks of one command.  on_event receives the POP3_EV_LINE,
 * POP3_EV_BODY_CHUNK and POP3_EV_END events of a positive multi-line
 * answer (ev valid during the call only).  on_done fires once: rc MS_OK
 * with st the status event (is_ok false for -ERR) for a one-line answer,
 * or the POP3_EV_END event after a listing or message; or rc
 * MS_ECANCELED / the session's failure code with st NULL when the session
 * closed first.
 */
struct pop3_session_cmd_cbs {
	void (*on_event_cb)(struct pop3_session *s,
			    const struct pop3_event *ev, void *arg);
	void (*on_done_cb)(struct pop3_session *s, int rc,
			   const struct pop3_event *st, void *arg);
	void *arg;
};

/* The core, to build commands with pop3_cmd_*() once ready. */
struct pop3_client *pop3_session_core(struct pop3_session *s);

/*
 * Registers the callbacks of the command just built with pop3_cmd_*()
 * (one submit per command, in order, before returning to the loop) and
 * sends what is queued.  MS_OK, or MS_EINVAL (not ready, closing, no
 * command built) with no callback.
 */
int pop3_session_submit(struct pop3_session *s,
			const struct pop3_session_cmd_cbs *cbs) MS_WUR;

/* Commands sent and not yet answered. */
size_t pop3_session_in_flight(const struct pop3_session *s);
/* POP3_CAP_* of the CAPA after login preparation (over TLS if any). */
unsigned pop3_session_caps(const struct pop3_session *s);
/* How the session logged in: "SCRAM-SHA-256", "USER", or "" before. */
const char *pop3_session_auth_used(const struct pop3_session *s);
/* The connection (for net_conn_discarded_bytes, is_tls, ...). */
struct net_conn *pop3_session_conn(struct pop3_session *s);

/*
 * Ends the session: QUIT when ready and reason is MS_OK (bounded wait),
 * then the connection closes.  Idempotent.  Pending commands complete
 * with MS_ECANCELED; on_close fires once, from a later callback.
 */
void pop3_session_close(struct pop3_session *s, int reason);

/*
 * Ends the session with QUIT, closing once it is written instead of
 * waiting for its +OK: for a session that sent no DELE (or whose DELEs
 * all failed), where QUIT changes nothing on the server and its answer
 * would only cost a round trip.  on_close fires with MS_OK.
 */
void pop3_session_quit_unanswered(struct pop3_session *s);

#endif
