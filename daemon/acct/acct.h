/*
 * acct.h - the account runtime: one object per configured account, the
 * only thing the daemon's modes (the foreground mode, --once) and the
 * coming control socket talk to.  It owns:
 *   - its copy of the account's configuration (a reload can replace the
 *     runtime without touching the others);
 *   - its state (acct_policy.h: idle, syncing, backoff, offline, error,
 *     auth-failed, paused, disabled, stopped) with the reason;
 *   - its schedule: one timer for the next pass, the backoff, the poll;
 *   - its engine (acct_engine.h: IMAP today), which owns the connection
 *     and keeps it logged in between passes;
 *   - the Maildir mirror around its passes (acct_mirror.h): a scan before
 *     each pass, an export after it, a watch in between;
 *   - a request queue: sync now, sync one folder, pause, resume; requests
 *     that arrive during a pass are merged and served right after it;
 *   - progress (folders, messages, bytes done of the known totals, rate),
 *     readable at any time and pushed to subscribers.
 *
 * A pass, in order:  timer or request -> scan -> engine pass (progress
 * events) -> export -> the policy decides the next state and delay ->
 * timer.  In once mode (--once) the runtime makes one pass, then closes
 * its engine and stops.
 *
 * Loop thread only.  Subscribers are called from the loop; they may call
 * any acct_* function except acct_free().
 */
#ifndef MS_ACCT_H
#define MS_ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "acct/acct_engine.h"
#include "acct/acct_policy.h"
#include "cfg/cfg.h"
#include "common/ms.h"
#include "store/store.h"

struct acct;
struct inotify_reader;

/* What status shows of an account.  Times are ms since the Unix epoch;
 * 0 means never / not scheduled. */
struct acct_status {
	const char *name;		/* the runtime's copy of the config */
	const char *protocol;		/* "imap", "pop3" */
	enum acct_state state;
	char reason[256];		/* why, in a failed or disabled state */
	struct acct_sched sched;	/* backoff attempt, refused logins */
	uint64_t next_ms;		/* the next pass; 0: none planned */
	uint64_t last_sync_ms;		/* end of the last good pass */
	uint64_t last_attempt_ms;	/* start of the last pass */
	uint64_t passes;		/* passes ended, good or not */
	struct acct_progress progress;	/* of the running pass */
	double rate_bps;		/* body bytes per second, this pass */
	struct acct_result last;	/* of the last pass that ended */
	char mirror_error[300];		/* "" unless the mirror failed */
	/* What push does: "notify on every folder (1 connection)", "idle
	 * on INBOX (1 connection)", "off"... */
	char push[192];
};

enum acct_event {
	ACCT_EV_STATE,		/* status->state (or its reason) changed */
	ACCT_EV_PROGRESS,	/* status->progress moved */
	ACCT_EV_PASS_DONE,	/* status->last holds a pass that ended */
};

typedef void acct_event_fn(struct acct *a, enum acct_event ev, void *arg);

struct acct_params {
	uv_loop_t *loop;
	struct store *store;		/* outlives the runtime */
	const struct cfg_account *account;	/* copied */
	bool is_once;			/* one pass, then stopped */
	uint64_t backoff_max_ms;	/* the backoff's cap; 0: 5 minutes */
	/* The daemon's inotify instance, which the mirror watch joins (NULL:
	 * no mirror watch; --once has none); outlives the runtime. */
	struct inotify_reader *inotify;
	acct_event_fn *on_event_cb;	/* the owner's; may be NULL */
	void *arg;
};

/*
 * A new runtime, not started.  An account without an engine for its
 * protocol is created DISABLED.  MS_OK with *a_r, or an error in err_r
 * (the TLS context could not be made, out of memory).
 */
int acct_new(const struct acct_params *params, struct acct **a_r,
	     struct ms_err *err_r) MS_WUR;

/* The first pass, at once (unless disabled). */
void acct_start(struct acct *a);

/*
 * Requests.  sync: a pass now (folder NULL) or of one folder (the name
 * as the server spells it); during a pass, one more pass right after it;
 * also wakes an account in backoff, offline, error or auth-failed.
 * pause: the running pass is cancelled (what is complete stays) and no
 * pass starts until resume, which starts one at once.  Each returns
 * MS_OK, or MS_EINVAL when the state does not allow it (stopped,
 * disabled; sync while paused).
 */
int acct_request_sync(struct acct *a, const char *folder);
int acct_request_pause(struct acct *a);
/*
 * The connections may be dead (the wall clock jumped against the
 * monotonic one: the machine slept): they are dropped now and a pass of
 * every folder starts, instead of waiting for a timeout.  MS_OK, or
 * MS_EINVAL as for a sync.
 */
int acct_request_reconnect(struct acct *a);
/*
 * The network changed (an address or a link went or came): the kept
 * connections are redone, or a failed account retries now, as
 * acct_net_change_action() says.  MS_OK when something was done,
 * MS_EINVAL when nothing was to be.
 */
int acct_request_net_change(struct acct *a);
int acct_request_resume(struct acct *a);

/*
 * Stops: no new pass; a running pass and export end early (what is
 * complete is committed), the engine logs out; the state becomes
 * STOPPED (an ACCT_EV_STATE) once no handle of the runtime is left
 * open.  Idempotent.
 */
void acct_stop(struct acct *a);

/* True once stopped (state STOPPED): acct_free() is safe then, and the
 * loop must still run to free what the engine's session closes last.  A
 * disabled runtime is not stopped: its timer is open until acct_stop(). */
bool acct_is_stopped(const struct acct *a);

const struct acct_status *acct_status(const struct acct *a);
const char *acct_name(const struct acct *a);

/*
 * More listeners (the control socket's watchers): each event goes to the
 * owner first, then to each subscriber in order.  MS_OK or MS_ENOMEM.
 */
int acct_subscribe(struct acct *a, acct_event_fn *fn, void *arg) MS_WUR;
void acct_unsubscribe(struct acct *a, acct_event_fn *fn, void *arg);

/* Frees a stopped runtime.  NULL-safe; sets *ap to NULL. */
void acct_free(struct acct **ap);

/*
 * For tests: the engine to use instead of acct_engine_for(protocol).
 * NULL restores the default.
 */
void acct_engine_override(const struct acct_engine_ops *ops);

#endif
