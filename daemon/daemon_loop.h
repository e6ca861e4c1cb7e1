/*
 * daemon_loop.h - mailsyncd's foreground mode: one libuv loop, the store
 * opened once, and per IMAP account a small state machine that runs a
 * sync pass (sync/imap_sync.h), waits the account's poll_interval, and
 * runs the next one.  A pass that fails for a connection-class reason
 * (or a refused login) is retried after an exponential backoff with
 * jitter (net/backoff.h), reset by the next good pass.
 *
 * Not here yet: IDLE push, the control socket (so no mailsyncctl), the
 * outbox, POP3 (logged once and skipped), configuration reload on SIGHUP
 * (logged as not implemented).
 *
 * Signals: SIGINT and SIGTERM stop every running pass (what is complete
 * is committed), close every handle and make daemon_loop_run() return 0;
 * a second one while stopping exits the process at once with status 1.
 *
 * systemd: with NOTIFY_SOCKET set, READY=1 once the loop runs, STATUS=
 * on every state change, WATCHDOG=1 every WATCHDOG_USEC / 2.
 */
#ifndef MS_DAEMON_LOOP_H
#define MS_DAEMON_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg/cfg.h"
#include "common/ms.h"
#include "net/backoff.h"

enum daemon_acct_state {
	DAEMON_ACCT_IDLE,	/* waiting for the next poll */
	DAEMON_ACCT_SYNCING,	/* a pass is running */
	DAEMON_ACCT_BACKOFF,	/* a pass failed; retry at backoff.until_ms */
	DAEMON_ACCT_ERROR,	/* a pass failed otherwise; retry at next_ms */
	DAEMON_ACCT_DISABLED,	/* not run (POP3 is not implemented) */
};

/* What a status command shows for one account.  Times are milliseconds
 * since the Unix epoch; 0 means never / not scheduled. */
struct daemon_acct_status {
	const char *name;		/* the cfg's; lives as long as it */
	enum daemon_acct_state state;
	struct backoff backoff;		/* attempt, until_ms while BACKOFF */
	uint64_t next_ms;		/* the next pass starts; 0 while syncing */
	uint64_t last_sync_ms;		/* end of the last good pass */
	uint64_t last_attempt_ms;	/* start of the last pass */
	uint64_t passes;		/* passes ended, good or not */
	int last_rc;			/* MS_OK or why the last pass failed */
	char last_error[256];		/* with last_rc < 0 */
};

/* --- the scheduling decision (pure, for tests) --------------------------- */

enum daemon_fail_class {
	DAEMON_FAIL_NONE,	/* MS_OK */
	DAEMON_FAIL_CONN,	/* connect, TLS, timeout, protocol, secret cmd */
	DAEMON_FAIL_AUTH,	/* the login was refused */
	DAEMON_FAIL_OTHER,	/* anything else: store, config, server NO... */
	DAEMON_FAIL_STOPPED,	/* MS_ECANCELED: we stopped the pass */
};

enum daemon_fail_class daemon_fail_classify(int rc);

struct daemon_next {
	enum daemon_acct_state state;	/* IDLE, BACKOFF or ERROR */
	uint64_t delay_ms;		/* until the next pass */
	bool is_error;			/* log at error level */
};

/*
 * After a pass ended with rc at now_ms: a good pass resets b and waits
 * poll_interval_s; a connection-class or authentication failure records a
 * failure in b (with the random rnd) and waits the backoff delay; any other
 * failure waits poll_interval_s in state ERROR, leaving b as it is.
 * Not for MS_ECANCELED.
 */
void daemon_next_after_pass(struct backoff *b, int rc,
			    unsigned poll_interval_s, uint64_t now_ms,
			    uint32_t rnd, struct daemon_next *next_r);

/* "idle", "syncing", "backoff", "error", "disabled". */
const char *daemon_acct_state_name(enum daemon_acct_state state);

/* --- the loop ------------------------------------------------------------ */

struct daemon_loop;

/*
 * Opens the store at cfg->store and sets up every account; cfg must
 * outlive the daemon.  MS_OK with *d_r, or an error in err_r.
 */
int daemon_loop_new(const struct cfg *cfg, struct daemon_loop **d_r,
		    struct ms_err *err_r) MS_WUR;

/* Runs until SIGINT or SIGTERM.  Returns the exit status (0). */
int daemon_loop_run(struct daemon_loop *d);

/*
 * The accounts' states, in config order, *n_r of them; valid until
 * daemon_loop_free() and changed by the loop, so read it on the loop's
 * thread.
 */
const struct daemon_acct_status *
daemon_loop_status(const struct daemon_loop *d, size_t *n_r);

/* Closes the store and frees d.  NULL-safe; sets *dp to NULL. */
void daemon_loop_free(struct daemon_loop **dp);

#endif
