/*
 * send_smtp.h - one delivery run: a session to the account's SMTP server
 * (session/smtp_session.h: TLS, STARTTLS defences, AUTH) and one mail
 * transaction per message, in order, on it.
 *
 * A transaction, in order:
 *   local checks (SIZE announced by the server, SMTPUTF8 when an address
 *   or the header is not ASCII, 8BITMIME when the body is 8-bit) ->
 *   MAIL FROM (SIZE=, BODY=8BITMIME, SMTPUTF8) and every RCPT TO, all in
 *   one flight when the server offers PIPELINING -> each recipient judged
 *   on its own reply -> DATA when one was accepted -> on_before_dot ->
 *   the message, dot-stuffed, CRLF, and the final "." -> its reply judges
 *   every accepted recipient -> on_msg_done.  A transaction that ends
 *   early is reset (RSET) before the next one.
 *
 * The window nothing can close: after the final "." left and before the
 * reply arrived, a lost connection leaves the server's verdict unknown;
 * the message is then TEMP with is_possibly_sent (it is retried, and may
 * arrive twice).
 *
 * Every callback fires from the loop; on_done fires exactly once, last.
 */
#ifndef MS_SEND_SMTP_H
#define MS_SEND_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cfg/cfg.h"
#include "common/ms.h"
#include "net/tls.h"
#include "send/send_policy.h"

/* The largest message sent (its queue on the connection is this big). */
#define SEND_SMTP_MAX_MESSAGE (64u * 1024 * 1024)

struct send_rcpt {
	char *addr;			/* owned by the caller */
	enum send_verdict verdict;	/* valid once the message is done */
	char reply[300];		/* the reply that judged it */
};

/* One message of a run; the caller owns it and its strings. */
struct send_msg {
	uint64_t id;
	const char *from;
	struct send_rcpt *rcpts;
	size_t n_rcpts;
	struct ms_slice body;		/* CRLF line ends */
	/* Outcome, once on_msg_done fired for it: */
	bool is_attempted;		/* a transaction began (MAIL sent)
					 * or a local check failed it */
	bool is_possibly_sent;		/* lost after the final "." */
};

struct send_smtp;

struct send_smtp_params {
	uv_loop_t *loop;
	const struct cfg_account *account;
	struct net_tls_ctx *tls_ctx;	/* NULL with smtp_tls = none */
	struct send_msg *msgs;		/* outlive the run */
	size_t n_msgs;
	/* DATA was accepted: the message is about to leave (make that
	 * durable now: a crash from here on is "possibly sent"). */
	void (*on_before_dot_cb)(struct send_msg *m, void *arg);
	/* Every recipient of m is judged. */
	void (*on_msg_done_cb)(struct send_msg *m, void *arg);
	/*
	 * The run is over: rc MS_OK when the session ended normally, else
	 * why it failed (err says, for users); is_reached false when the
	 * server was never reached (resolve, connect: offline), is_ready
	 * false when no transaction could begin (TLS, STARTTLS, AUTH).
	 * Messages without on_msg_done were not attempted.
	 */
	void (*on_done_cb)(int rc, const struct ms_err *err, bool is_reached,
			   bool is_ready, void *arg);
	void *arg;
};

/*
 * Starts a run.  MS_OK with *s_r (freed after on_done returns), or an
 * error with err_r and no callback.
 */
int send_smtp_start(const struct send_smtp_params *p, struct send_smtp **s_r,
		    struct ms_err *err_r) MS_WUR;

/* Ends the run early (the transaction in progress is abandoned, as a
 * lost connection would); on_done follows.  Idempotent. */
void send_smtp_cancel(struct send_smtp *s);

#endif
