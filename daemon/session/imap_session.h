/*
 * imap_session.h - one logged-in IMAP connection: the glue between the
 * connection layer (net/conn.h), the IMAP client core (proto/imap) and
 * SASL (proto/sasl).  It connects, reads the greeting and capabilities,
 * does STARTTLS when configured (never sending a credential before TLS),
 * fetches the secret (password_cmd / oauth_token_cmd through
 * secret/secret_cmd.h), authenticates (the strongest SASL mechanism both
 * sides offer, IMAP LOGIN only as the last resort and only over TLS),
 * re-reads capabilities, ENABLEs QRESYNC (or CONDSTORE) when offered,
 * turns on COMPRESS=DEFLATE when offered and wanted, then reports ready.
 * After that it runs the caller's commands, pipelined, and routes the
 * server's responses back to them.
 *
 * Protocol traces: with log_trace(TRACE_IMAP) every line each way is
 * logged through log_redact_line(), so credentials never appear.
 *
 * Lifetime: imap_session_new() returns a session that ends with exactly
 * one on_close callback (after a failure, a server BYE, or
 * imap_session_close()).  Every command callback of a session fires
 * exactly once: with the tagged response, or with MS_ECANCELED when the
 * session closes first.  The session frees itself after on_close returns.
 * Loop thread only.
 */
#ifndef MS_IMAP_SESSION_H
#define MS_IMAP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "common/ms.h"
#include "imap/imap_client.h"
#include "imap/imap_cmd.h"
#include "imap/imap_parser.h"
#include "net/conn.h"
#include "sasl/sasl.h"

struct imap_session;

/* Capabilities the sync engine cares about, learned after login. */
enum {
	IMAP_SESSION_CAP_IDLE = 1u << 0,
	IMAP_SESSION_CAP_CONDSTORE = 1u << 1,
	IMAP_SESSION_CAP_QRESYNC = 1u << 2,	/* and ENABLE QRESYNC succeeded */
	IMAP_SESSION_CAP_UIDPLUS = 1u << 3,
	IMAP_SESSION_CAP_MOVE = 1u << 4,
	IMAP_SESSION_CAP_LIST_STATUS = 1u << 5,
	IMAP_SESSION_CAP_SPECIAL_USE = 1u << 6,
	IMAP_SESSION_CAP_COMPRESS = 1u << 7,	/* and COMPRESS is active */
	IMAP_SESSION_CAP_NAMESPACE = 1u << 8,
	IMAP_SESSION_CAP_ESEARCH = 1u << 9,
	IMAP_SESSION_CAP_LITERAL_PLUS = 1u << 10,
	IMAP_SESSION_CAP_NOTIFY = 1u << 11,
	IMAP_SESSION_CAP_BINARY = 1u << 12,
	IMAP_SESSION_CAP_UNSELECT = 1u << 13,
	IMAP_SESSION_CAP_STATUS_SIZE = 1u << 14,	/* RFC 8438 */
};

struct imap_session_params {
	const char *account;		/* for log lines; copied */
	const char *host;		/* copied */
	uint16_t port;
	enum net_tls_mode tls;
	struct net_tls_ctx *tls_ctx;	/* required unless tls is none; ref taken */
	/* Connect, and read inactivity while a command waits for its
	 * answer: a logged-in session with nothing in flight waits quietly
	 * (the server's autologout or BYE ends it). */
	unsigned timeout_ms;
	const char *user;		/* copied */
	/* Exactly one source of the secret; all copied (and wiped later). */
	const char *password;
	const char *password_cmd;
	const char *oauth_token_cmd;
	enum sasl_mech auth;		/* SASL_MECH_AUTO: the strongest offered */
	bool want_compress;		/* COMPRESS=DEFLATE when offered */

	/* Logged in, capabilities known, ENABLE done. */
	void (*on_ready_cb)(struct imap_session *s, void *arg);
	/*
	 * An untagged response that no running command claims: with no
	 * command in flight (EXISTS/EXPUNGE/FETCH during IDLE, an ALERT) or
	 * before ready.  ev and its slices are valid during the call only.
	 */
	void (*on_unsolicited_cb)(struct imap_session *s,
				  const struct imap_event *ev, void *arg);
	/*
	 * The end: reason MS_OK after imap_session_close(s, MS_OK), else
	 * MS_ECONN/MS_ETIMEDOUT/MS_ETLS/MS_EAUTH/MS_EPROTO/MS_EIMPL/...;
	 * err names the host and says what happened (never a secret).
	 */
	void (*on_close_cb)(struct imap_session *s, int reason,
			    const struct ms_err *err, void *arg);
	void *arg;
};

/*
 * Starts connecting.  MS_OK with *s_r: on_close fires exactly once later
 * (never before this returns).  On error (MS_EINVAL, MS_ECONFIG) err_r
 * says why and no callback fires.
 */
int imap_session_new(uv_loop_t *loop, const struct imap_session_params *params,
		     struct imap_session **s_r, struct ms_err *err_r) MS_WUR;

/*
 * Callbacks of one command.  on_event receives every untagged response
 * that arrives while this command is the oldest one in flight (FETCH,
 * body chunks, VANISHED, LIST, STATUS, EXISTS, ...).  That is only a
 * delivery rule, not an attribution: IMAP does not tie untagged data to
 * a command, and with pipelined commands a server may answer a later
 * command before the earlier one's tagged OK (Dovecot does, for UID
 * FETCH).  A caller with several commands in flight must attribute
 * responses by their content (the UID of a FETCH), as the sync engine
 * does.  on_done fires once with the tagged status (OK, NO or BAD;
 * st->code carries APPENDUID, COPYUID, MODIFIED, ...), or with st NULL
 * and rc MS_ECANCELED / the session's failure code when the session
 * closed first.  ev and st are valid during the call only.
 */
struct imap_session_cmd_cbs {
	void (*on_event_cb)(struct imap_session *s,
			    const struct imap_event *ev, void *arg);
	void (*on_done_cb)(struct imap_session *s, int rc,
			   const struct imap_ev_status *st, void *arg);
	void *arg;
};

/*
 * The client core, to build commands with imap_cmd_*() once ready.  Each
 * built command's tag must be handed to imap_session_submit() right away,
 * before returning to the loop.
 */
struct imap_client *imap_session_core(struct imap_session *s);

/*
 * Registers the callbacks of the command with this tag (returned by an
 * imap_cmd_*() builder) and sends what is queued.  MS_OK, or MS_EINVAL
 * (not ready, closing, unknown tag); on error the callbacks never fire
 * and the caller should close the session.
 */
int imap_session_submit(struct imap_session *s, int tag,
			const struct imap_session_cmd_cbs *cbs) MS_WUR;

/* True once the session is ending (a failure, BYE, close): submit
 * refuses commands, and on_close is on the way. */
bool imap_session_is_closing(const struct imap_session *s);

/* Commands sent and not yet answered (to bound pipelining). */
unsigned imap_session_in_flight(const struct imap_session *s);

/* IMAP_SESSION_CAP_* bits; valid once ready. */
unsigned imap_session_caps(const struct imap_session *s);
/* The text of the server's greeting ("Courier-IMAP ready. ..."; its
 * response code left out), printable ASCII, at most
 * IMAP_SESSION_GREETING_MAX bytes; "" before it came. */
#define IMAP_SESSION_GREETING_MAX 127
const char *imap_session_greeting(const struct imap_session *s);
/* The server's full capability list (space-separated) once ready. */
struct ms_slice imap_session_capability_list(const struct imap_session *s);

/*
 * IDLE: imap_session_idle_start() sends IDLE (only with no command in
 * flight) and disarms the read timeout; server pushes reach
 * on_unsolicited_cb.  imap_session_idle_stop() sends DONE; on_done fires
 * when the IDLE command completes.  MS_OK or MS_EIMPL/MS_EINVAL.
 */
int imap_session_idle_start(struct imap_session *s,
			    const struct imap_session_cmd_cbs *cbs) MS_WUR;
int imap_session_idle_stop(struct imap_session *s) MS_WUR;

/*
 * Ends the session: LOGOUT when ready and reason is MS_OK (bounded wait),
 * then the connection closes.  Idempotent.  Pending commands complete
 * with MS_ECANCELED; on_close fires once, from a later callback.
 */
void imap_session_close(struct imap_session *s, int reason);

/*
 * The SASL mechanism the login used, once ready; SASL_MECH_AUTO when it
 * was the IMAP LOGIN command or the server greeted with PREAUTH.
 */
enum sasl_mech imap_session_mech(const struct imap_session *s);

/*
 * Bytes received and sent on the wire (after TLS/compression).
 * Measured as the plaintext handed to and from the connection, so with
 * COMPRESS these are the compressed sizes; TLS record overhead is not
 * counted.
 */
uint64_t imap_session_bytes_in(const struct imap_session *s);
uint64_t imap_session_bytes_out(const struct imap_session *s);

#endif
