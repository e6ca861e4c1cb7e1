/*
 * daemon_loop.h - the one orchestration behind both of mailsyncd's modes:
 * one libuv loop, the store opened once, one account runtime per
 * configured account (acct/acct.h), the signals, and systemd
 * notification.  The modes are thin:
 *   - the foreground mode runs every account's runtime until SIGINT or
 *     SIGTERM; each runtime schedules its own passes;
 *   - --once runs one pass of every (or every named) account, concurrently,
 *     and prints a summary line per account.
 *
 * Signals: SIGINT and SIGTERM stop every runtime (a running pass commits
 * what is complete, the export is abandoned between steps and finished
 * by the next start, sessions log out); when the last runtime has
 * stopped, every handle is closed and daemon_loop_run() returns.  A second
 * one while stopping exits the process at once with status 1.  SIGHUP
 * (foreground mode) reloads (daemon_reload()).
 *
 * The control socket (ctl/ctl_server.h, foreground mode only) opens in
 * daemon_loop_new(), before any account starts, so a second daemon on
 * the same socket fails there; it hears every account event.
 *
 * systemd (foreground mode, NOTIFY_SOCKET set): READY=1 once the control
 * socket listens and the loop runs,
 * STATUS= on every state change, WATCHDOG=1 every WATCHDOG_USEC / 2,
 * STOPPING=1 on the way out.
 */
#ifndef MS_DAEMON_LOOP_H
#define MS_DAEMON_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "acct/acct.h"
#include "cfg/cfg.h"
#include "common/ms.h"

struct daemon_opts {
	bool is_once;
	char *const *names;	/* --once ACCOUNT...: these only (in cfg) */
	size_t n_names;		/* 0: every account */
	FILE *out;		/* --once: a line per account that synced */
	FILE *errout;		/* --once: a line per failure */
	bool keep_log_level;	/* -v: a reload leaves the level alone */
};

struct daemon_loop;

/*
 * Opens the store at cfg->store and makes every account's runtime; cfg
 * is only read here.  MS_OK with *d_r, or an error in err_r.
 */
int daemon_loop_new(const struct cfg *cfg, const struct daemon_opts *opts,
		    struct daemon_loop **d_r, struct ms_err *err_r) MS_WUR;

/*
 * Runs until every runtime stopped (--once: after its pass; else after
 * SIGINT or SIGTERM).  Returns the exit status: the foreground mode 0;
 * --once 0 when every account succeeded, else 1 (DESIGN.md).
 */
int daemon_loop_run(struct daemon_loop *d);

/* The account runtimes, in config order; valid until daemon_loop_free(). */
size_t daemon_loop_n_accounts(const struct daemon_loop *d);
struct acct *daemon_loop_account(struct daemon_loop *d, size_t i);

/*
 * Re-reads the configuration file (SIGHUP, mailsyncctl reload).  The new
 * file is parsed and validated whole first: with any problem the running
 * configuration stays, every "FILE:LINE: message" is logged and
 * returned, as strings in the new array *data_r, with MS_ECONFIG (or
 * MS_EIO).  Otherwise accounts added start, removed ones stop, changed
 * ones (cfg_account_equal()) stop and start again once stopped, equal
 * ones run on untouched; [general] store and socket need a restart
 * (kept, and said); log_level applies at once.  MS_OK with a summary in
 * *data_r: added, removed, restarted, unchanged, restart_needed,
 * problems (accounts whose runtime could not be made keep running).
 */
int daemon_reload(struct daemon_loop *d, json_t **data_r) MS_WUR;

/* Closes the store and frees d.  NULL-safe; sets *dp to NULL. */
void daemon_loop_free(struct daemon_loop **dp);

#endif
