/*
 * acct_hook.h - new_mail_cmd: a command an account runs after a pass
 * brought new mail into the Maildir (notmuch new, a desktop
 * notification), as people run goimapnotify's hooks today.
 *
 * The command runs as password_cmd does (secret/secret_cmd.h): without
 * a shell unless it has shell syntax, stdin /dev/null, its own process
 * group; its stdout and stderr are the daemon's (the journal under
 * systemd).  Its environment adds MAILSYNC_ACCOUNT, MAILSYNC_FOLDER (the
 * folder the new mail is in; empty when it came into several) and
 * MAILSYNC_NEW_COUNT.  It is killed after ACCT_HOOK_TIMEOUT_MS.  Its
 * failure is logged as a warning and changes nothing else.
 * Loop thread only.
 */
#ifndef MS_ACCT_HOOK_H
#define MS_ACCT_HOOK_H

#include <stdint.h>

#include <uv.h>

#include "common/ms.h"

#define ACCT_HOOK_TIMEOUT_MS (10u * 60u * 1000u)

struct acct_hook;

/* The command ended (or could not run); its handles are closed.  The
 * hook is freed after this returns. */
typedef void acct_hook_done_fn(struct acct_hook *h, void *arg);

/*
 * Starts command for account.  MS_OK with *h_r: done fires once, later.
 * An error (MS_EINVAL empty, MS_EIO cannot run it) is in err_r and done
 * never fires.
 */
int acct_hook_start(uv_loop_t *loop, const char *command,
		    const char *account, const char *folder, uint64_t count,
		    acct_hook_done_fn *done, void *arg, struct acct_hook **h_r,
		    struct ms_err *err_r) MS_WUR;

/* Kills the command's process group (a stop); done still fires. */
void acct_hook_kill(struct acct_hook *h);

#endif
