/*
 * imap_push.h - push for the IMAP engine (acct_imap.c): connections of
 * its own that wait for the server to tell of a change and say which
 * folder changed.  The passes run on the engine's session, so nothing
 * here is ever dropped to run a command.
 *
 *   NOTIFY (RFC 5465), where the server offers it: one connection sends
 *   NOTIFY SET (personal (MessageNew MessageExpunge FlagChange
 *   MailboxName SubscriptionChange)), then IDLE.  A STATUS of a folder
 *   says that folder changed; a LIST (a folder created, renamed or
 *   deleted) or NOTIFICATIONOVERFLOW says anything may have.
 *   IDLE (RFC 2177) otherwise: one connection per watched folder
 *   (EXAMINE, then IDLE), at most IMAP_PUSH_MAX_CONNS; EXISTS, EXPUNGE,
 *   FETCH or VANISHED say the folder changed.  The rest wait for the
 *   poll.
 * A connection that starts watching asks for a pass of what it watches
 * (on_change_cb): a change between the owner's last pass and that moment
 * reached no one.
 * Either way IDLE is ended and issued again every IMAP_PUSH_REIDLE_MS,
 * before the 29 minutes after which RFC 2177 lets a server drop it.
 *
 * A connection that ends while push is up (a drop, a server restart,
 * BYE, an autologout) takes the others down with it; once all are
 * closed on_down_cb says so, once, with was_watching true when changes
 * may have been missed (the owner catches up with a full pass and starts
 * push again after it).  The callbacks may call any imap_push_*()
 * function except imap_push_free().  Loop thread only.
 */
#ifndef MS_IMAP_PUSH_H
#define MS_IMAP_PUSH_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "common/ms.h"
#include "session/imap_session.h"

/* Connections IDLE may hold open for one account. */
#define IMAP_PUSH_MAX_CONNS 5u
/* IDLE is re-issued after this long (RFC 2177: within 29 minutes). */
#define IMAP_PUSH_REIDLE_MS (28u * 60u * 1000u)

struct imap_push;

struct imap_push_cbs {
	/* folder (UTF-8, as the server names it) changed; NULL: any may
	 * have.  The name is valid during the call only. */
	void (*on_change_cb)(const char *folder, void *arg);
	/* Every connection is closed after imap_push_stop() (was_watching
	 * false, why "") or after one ended on its own (why says how). */
	void (*on_down_cb)(bool was_watching, const char *why, void *arg);
	/* imap_push_describe() changed. */
	void (*on_state_cb)(void *arg);
	/* After imap_push_close(): no handle is left; free it now. */
	void (*on_closed_cb)(void *arg);
	void *arg;
};

/*
 * A push that is down.  sp is the session template (server, TLS,
 * credentials; its callbacks and arg are replaced); its strings must
 * outlive the push.  MS_OK or MS_ENOMEM.
 */
int imap_push_new(uv_loop_t *loop, const struct imap_session_params *sp,
		  const struct imap_push_cbs *cbs, struct imap_push **p_r)
    MS_WUR;

/*
 * Starts watching, when down: with NOTIFY when caps (IMAP_SESSION_CAP_*
 * of a session of this server) has it, else IDLE on folders (n names,
 * UTF-8, copied; the first IMAP_PUSH_MAX_CONNS are watched).  n_wanted
 * is how many folders IDLE was asked for, for the description.  Without
 * NOTIFY or IDLE push stays down and says so.  MS_OK, or MS_ENOMEM.
 */
int imap_push_start(struct imap_push *p, unsigned caps,
		    char *const *folders, size_t n, size_t n_wanted) MS_WUR;

/* Closes every connection (LOGOUT); on_down_cb follows.  Idempotent. */
void imap_push_stop(struct imap_push *p);

/* Closes every connection without LOGOUT (the network under them
 * changed: an answer may never come); on_down_cb follows.  Idempotent. */
void imap_push_drop(struct imap_push *p);

/* True from imap_push_start() until on_down_cb. */
bool imap_push_is_up(const struct imap_push *p);

/* Stops, then on_closed_cb fires once nothing is left open. */
void imap_push_close(struct imap_push *p);

/* For status, e.g. "notify (1 connection)", "idle on 3 of 7 folders (3
 * connections)", "off: the server offers neither NOTIFY nor IDLE". */
const char *imap_push_describe(const struct imap_push *p);

/* Frees a closed push (or one never started).  NULL-safe. */
void imap_push_free(struct imap_push **pp);

#endif
