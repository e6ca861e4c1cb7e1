/*
 * send_queue.h - an account's sender: the sibling of the account runtime
 * (acct/acct.h) that delivers the account's outbox.  An IMAP account with
 * smtp_host has both, a protocol = smtp account only this one.  It owns:
 *   - its schedule: one timer, set to the earliest next attempt of the
 *     account's queued messages (send_policy.h), or to the reconnect
 *     backoff (net/backoff.h: 1 s doubling to 5 min) while the server
 *     cannot be reached, so mail leaves soon after the network returns;
 *   - a run: the due messages, one SMTP session (send_smtp.h), each
 *     message's outcome committed as it ends, then the Sent copies
 *     (send_sent.h) of what was delivered;
 *   - the recovery at start: an entry left SENDING by a crash (the final
 *     "." may have left) is queued again and marked possibly sent.
 *
 * A message's states in the store, in order: QUEUED (attempts, next try)
 * -> SENDING (committed when DATA is accepted, before the message leaves)
 * -> SENT (every recipient accepted) or QUEUED again (a recipient refused
 * for now: only those are retried) or FAILED (refused for good, or the
 * queue lifetime passed; kept with the server's reply).  Delivered
 * recipients are recorded at once, so no retry sends to them again; the
 * Sent copy is recorded (SENT_FILED) once filed.
 *
 * Loop thread only.
 */
#ifndef MS_SEND_QUEUE_H
#define MS_SEND_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "cfg/cfg.h"
#include "common/ms.h"
#include "store/store.h"

struct send_queue;

/* What runs did, for --once's summary and status. */
struct send_queue_report {
	unsigned runs;			/* runs ended */
	unsigned sent;			/* messages delivered to everyone */
	unsigned failed;		/* messages failed for good */
	unsigned rejected;		/* recipients refused for good */
	unsigned queued;		/* messages left queued after the last
					 * run (a retry is planned) */
	unsigned possibly_sent;		/* of those, possibly sent already */
	unsigned sent_copies_pending;	/* Sent copies not filed yet */
	int rc;				/* MS_OK, or the last run's failure */
	bool is_reached;		/* with rc: the server answered */
	char error[300];		/* with rc: why, for users */
	char failed_text[400];		/* the last permanent refusal */
};

typedef void send_queue_event_fn(struct send_queue *q, void *arg);
/* Entry id was written (an outcome, or why it waits); its state is the
 * store's now. */
typedef void send_queue_change_fn(struct send_queue *q, uint64_t id,
				  void *arg);

struct send_queue_params {
	uv_loop_t *loop;
	struct store *store;
	const struct cfg_account *account;	/* copied */
	bool is_once;			/* one run of everything queued */
	send_queue_event_fn *on_stopped_cb;	/* may be NULL */
	send_queue_change_fn *on_change_cb;	/* may be NULL */
	void *arg;
};

/* A sender, not started.  MS_OK with *q_r, or an error (TLS context). */
int send_queue_new(const struct send_queue_params *p, struct send_queue **q_r,
		   struct ms_err *err_r) MS_WUR;

/* Recovers what a crash left SENDING, then runs at once. */
void send_queue_start(struct send_queue *q);

/*
 * Something may be due now: a message was queued, or the network is back
 * (another account reached its server).  Runs at once unless running;
 * during a run, another follows it.  Reconnect backoff is skipped.
 */
void send_queue_wake(struct send_queue *q);

/*
 * Stops: no new run; a running one ends early (a message whose final "."
 * left waits for its reply); on_stopped fires once nothing of the queue
 * is open.  In once mode the queue stops by itself after its run.
 */
void send_queue_stop(struct send_queue *q);
bool send_queue_is_stopped(const struct send_queue *q);

const struct send_queue_report *send_queue_report(const struct send_queue *q);

/*
 * While held, Sent copies wait: the account's own sync pass runs, and a
 * second session writing the same mailboxes at that moment only races
 * it (a Dovecot process was seen to abort on the folder list's lock).
 * Released, waiting copies are filed (in once mode, the run waits for
 * that).  Delivery is never held.
 */
void send_queue_hold_copies(struct send_queue *q, bool is_held);

/*
 * The user's word on entry id of this account (mailsyncctl outbox):
 * retry: a failed or waiting message is queued for an attempt now, its
 * refused recipients with it, its attempts counted anew; drop: the entry
 * goes (a transaction under way ends as it ends; nothing of it is
 * recorded then).  MS_OK, or MS_EINVAL with err_r (no such entry of this
 * account; retry of a sent one).
 */
int send_queue_retry(struct send_queue *q, uint64_t id,
		     struct ms_err *err_r) MS_WUR;
int send_queue_drop(struct send_queue *q, uint64_t id,
		    struct ms_err *err_r) MS_WUR;

const char *send_queue_name(const struct send_queue *q);

/* Frees a stopped queue.  NULL-safe; sets *qp to NULL. */
void send_queue_free(struct send_queue **qp);

#endif
