/*
 * pop3_fetch.h - one POP3 pass on a logged-in session: list, download
 * what is new into the account's INBOX, commit, then delete what the
 * account's policy says, effective at QUIT.
 *
 * The steps, in order (pop3_fetch_set_step() logs each):
 *   LISTING  STAT, LIST and UIDL (pipelined where the server offers
 *            PIPELINING: one round trip); a STAT that disagrees with
 *            LIST is logged and LIST believed; -ERR to UIDL: no UIDL
 *   TOP      for messages without a usable UIDL: TOP n 0, hashed into
 *            the weaker key (pop3_plan.h)
 *   RETR     each new message streamed into a body (hashed and spooled
 *            as it arrives, never held whole); its size must equal
 *            LIST's, else it is an error for that message: not stored,
 *            not deleted, reported; committed in batches together with
 *            its POP3 record and the folder's UIDNEXT.  The step only
 *            adds records: the progress after each batch committed
 *            says so (is_adding), so that the mirror can export it
 *            while the step goes on; at its end hold_cb may keep the
 *            pass waiting until that export is done
 *   MARK     the deletions the policy wants are recorded as owed
 *            (store_pop3.is_deleted) in a commit
 *   DELE     pipelined; -ERR leaves that deletion owed
 *   QUIT     sent by the pass after a DELE: only its +OK makes the
 *            deletions real, and their records go then
 * A message is never sent DELE unless its record was committed before,
 * and never when its identity is ambiguous.  A session that ends early
 * (a drop, a timeout, -ERR on a command the pass cannot go on without)
 * leaves the server untouched (POP3 deletes only at QUIT); the messages
 * complete by then are committed.
 *
 * A new key whose bytes are those of a record whose key the server no
 * longer lists is that message under a UIDL the server changed: it is not
 * stored a second time, only its POP3 record is added.  Two messages with
 * the same bytes that the server lists both are two messages, stored
 * both.  Records of messages the server no longer lists are dropped (for
 * the kind of key the pass used).
 *
 * Loop thread only.  Callbacks fire from session callbacks, never from
 * inside pop3_fetch_start().
 */
#ifndef MS_POP3_FETCH_H
#define MS_POP3_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "cfg/cfg.h"
#include "common/ms.h"
#include "session/pop3_session.h"
#include "store/store.h"

struct pop3_fetch;

struct pop3_fetch_summary {
	int rc;			/* MS_OK, or why the pass failed */
	char error[256];
	uint64_t listed;	/* messages the server listed */
	uint64_t to_fetch;	/* of those, new */
	uint64_t bytes_to_fetch;	/* their sizes, as LIST gave them */
	uint64_t new_msgs;	/* stored as new records */
	uint64_t bytes;		/* body bytes received */
	uint64_t deleted;	/* deleted on the server (QUIT +OK) */
	unsigned msg_errors;	/* messages not stored or kept (logged) */
	char msg_error[200];	/* the last of them */
	bool has_quit;		/* the pass ended the session with QUIT */
	/* This report follows a batch of downloads committed while the
	 * pass only adds records (RETR, before its last commit). */
	bool is_adding;
	double seconds;
};

struct pop3_fetch_params {
	struct store *store;
	const struct cfg_account *account;	/* outlives the pass */
	struct pop3_session *sess;		/* logged in; borrowed */
	void (*on_progress_cb)(const struct pop3_fetch_summary *sum,
			       void *arg);
	/* Once; the pass may be freed from a later loop turn. */
	void (*on_done_cb)(const struct pop3_fetch_summary *sum, void *arg);
	/* Optional: the downloads are over and the pass is about to change
	 * records (MARK).  True keeps it waiting until pop3_fetch_resume(). */
	bool (*hold_cb)(void *arg);
	void *arg;
};

/* Starts the pass (its first commands go out).  MS_OK with *f_r, or an
 * error in err_r (store, memory) and no callback. */
int pop3_fetch_start(const struct pop3_fetch_params *p, struct pop3_fetch **f_r,
		     struct ms_err *err_r) MS_WUR;

/* The session ended (the owner's on_close): what is complete is
 * committed and on_done fires, unless it already did. */
void pop3_fetch_session_closed(struct pop3_fetch *f, int reason,
			       const struct ms_err *err);

/* Lets a pass that hold_cb kept go on (from a later loop turn than
 * hold_cb's).  A no-op when it is not held or has ended. */
void pop3_fetch_resume(struct pop3_fetch *f);

/* Frees a pass whose on_done fired (or NULL).  Sets *fp to NULL. */
void pop3_fetch_free(struct pop3_fetch **fp);

#endif
