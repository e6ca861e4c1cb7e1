/*
 * smtp_session.h - one (authenticated) SMTP connection, for the send engine.
 *
 * The session connects (net/conn.h), reads the 220 greeting, sends EHLO,
 * upgrades with STARTTLS when the account says tls = starttls (refusing
 * with MS_ETLS before any credential when the server does not offer it or
 * answers anything but 220; bytes after the 220 are discarded by the
 * connection, never parsed), sends EHLO again over TLS, then, when a user
 * is configured, authenticates with AUTH and an initial response using
 * the mechanism sasl_select() picks from the EHLO "AUTH" keyword.  Then
 * on_ready fires; smtp_session_close() ends with QUIT.
 *
 * Every callback fires from the loop, never from inside the call that
 * caused it; on_close fires exactly once, after every command callback.
 * The session frees itself after on_close returns.  Loop thread only.
 */
#ifndef MS_SMTP_SESSION_H
#define MS_SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "common/ms.h"
#include "net/conn.h"
#include "smtp/smtp_client.h"
#include "sasl/sasl.h"

struct smtp_session;

struct smtp_session_params {
	const char *account;		/* for log lines; copied */
	const char *host;		/* copied */
	uint16_t port;
	enum net_tls_mode tls;
	struct net_tls_ctx *tls_ctx;	/* required unless tls is none; ref taken */
	unsigned timeout_ms;		/* connect and read inactivity; 0 = 60 s */
	/* Output queued on the connection at most (a whole message goes
	 * out at once); 0 = the connection's default (8 MiB). */
	size_t max_output;
	/* The EHLO name; copied; NULL = "localhost". */
	const char *helo_name;
	/* NULL or "": no AUTH.  Else copied, and exactly one source of the
	 * secret below; all copied (and wiped later). */
	const char *user;
	const char *password;
	const char *password_cmd;
	const char *oauth_token_cmd;
	enum sasl_mech auth;		/* SASL_MECH_AUTO: the strongest offered */

	/* Greeted, EHLO (over TLS if any) known, authenticated if a user. */
	void (*on_ready_cb)(struct smtp_session *s, void *arg);
	/*
	 * The end: reason MS_OK after smtp_session_close(s, MS_OK), else
	 * MS_ECONN/MS_ETIMEDOUT/MS_ETLS/MS_EAUTH/MS_EPROTO/MS_EIMPL/
	 * MS_ERESP/MS_EIO (secret command)/...; err names the host and says
	 * what happened (the server's words for MS_EAUTH; never a secret).
	 */
	void (*on_close_cb)(struct smtp_session *s, int reason,
			    const struct ms_err *err, void *arg);
	void *arg;
};

/*
 * Starts (running the secret command first, if any).  MS_OK with *s_r:
 * on_close fires exactly once later.  On error (MS_EINVAL, MS_ECONFIG)
 * err_r says why and no callback fires.
 */
int smtp_session_new(uv_loop_t *loop, const struct smtp_session_params *params,
		     struct smtp_session **s_r, struct ms_err *err_r) MS_WUR;

/*
 * Callbacks of one command: on_reply fires once with rc MS_OK and the
 * reply (any code; ev valid during the call only), or with ev NULL and
 * rc MS_ECANCELED / the session's failure code when the session closed
 * first.  The message after a 354 to DATA is written with
 * smtp_client_data_write() / smtp_client_data_end() on the core, then
 * smtp_session_flush(); the reply to the final "." is submitted like a
 * command right after smtp_client_data_end().
 */
struct smtp_session_cmd_cbs {
	void (*on_reply_cb)(struct smtp_session *s, int rc,
			    const struct smtp_event *ev, void *arg);
	void *arg;
};

/* The core, to build commands with smtp_cmd_*() once ready. */
struct smtp_client *smtp_session_core(struct smtp_session *s);

/*
 * Registers the callbacks of the command just built with smtp_cmd_*()
 * (one submit per command, in order, before returning to the loop) and
 * sends what is queued.  MS_OK, or MS_EINVAL (not ready, closing, no
 * command built) with no callback.
 */
int smtp_session_submit(struct smtp_session *s,
			const struct smtp_session_cmd_cbs *cbs) MS_WUR;

/* Commands sent and not yet answered. */
size_t smtp_session_in_flight(const struct smtp_session *s);
/* SMTP_EXT_* of the last EHLO (over TLS if any). */
unsigned smtp_session_exts(const struct smtp_session *s);
/* Sends what the core queued (after smtp_client_data_write). */
void smtp_session_flush(struct smtp_session *s);
/* The mechanism used ("PLAIN"), or "" (no AUTH, or not yet). */
const char *smtp_session_auth_used(const struct smtp_session *s);
/* The connection (for net_conn_discarded_bytes, is_tls, ...). */
struct net_conn *smtp_session_conn(struct smtp_session *s);

/*
 * Ends the session: QUIT when ready and reason is MS_OK (bounded wait),
 * then the connection closes.  Idempotent.  Pending commands complete
 * with MS_ECANCELED; on_close fires once, from a later callback.
 */
void smtp_session_close(struct smtp_session *s, int reason);

#endif
