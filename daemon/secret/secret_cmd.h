/*
 * secret_cmd.h - runs password_cmd / oauth_token_cmd through uv_spawn and
 * hands the first line of its output to a callback.
 *
 * A command without shell syntax is split on blanks and executed directly
 * (looked up in PATH); anything else runs under /bin/sh -c.  The child
 * gets /dev/null as stdin and its own process group, so a timeout kills
 * the command together with whatever it started.  stdout is read into one
 * fixed buffer (never reallocated, wiped before free) of at most
 * SECRET_CMD_MAX_OUTPUT bytes; the secret is never logged, and error
 * messages quote only stderr.  Loop thread only.
 */
#ifndef MS_SECRET_CMD_H
#define MS_SECRET_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "common/ms.h"

#define SECRET_CMD_MAX_OUTPUT (64u << 10)
#define SECRET_CMD_DEFAULT_TIMEOUT_MS 30000u

struct secret_cmd;

/*
 * rc is MS_OK with secret (NUL-terminated, len bytes, no CR/LF) or a
 * negative code with secret NULL and err set: MS_EIO (failed, silent,
 * timed out), MS_ECANCELED (secret_cmd_cancel).  The callee owns secret
 * and must explicit_bzero(secret, len) and free(secret) once it is used.
 * err is valid during the call only.
 */
typedef void secret_cmd_done_cb(int rc, char *secret, size_t len,
				const struct ms_err *err, void *arg);

struct secret_cmd_params {
	const char *account;	/* for log lines */
	const char *what;	/* "password_cmd": names the command in errors */
	const char *command;
	unsigned timeout_ms;	/* 0 = SECRET_CMD_DEFAULT_TIMEOUT_MS */
};

/*
 * Starts the command.  On MS_OK done_cb fires exactly once, never before
 * this returns; *job_r (may be NULL) stays valid until then and may be
 * passed to secret_cmd_cancel.  On error (MS_EINVAL empty command, MS_EIO
 * cannot execute it) err_r says why and done_cb never fires.
 */
int secret_cmd_start(uv_loop_t *loop, const struct secret_cmd_params *params,
		     secret_cmd_done_cb *done_cb, void *arg,
		     struct secret_cmd **job_r, struct ms_err *err_r) MS_WUR;

/* Kills the command; done_cb then fires with MS_ECANCELED. */
void secret_cmd_cancel(struct secret_cmd *job);

/* True if command contains characters only a shell can interpret. */
bool secret_cmd_needs_shell(const char *command);

/*
 * The argv that runs cmd, as for password_cmd: without shell syntax the
 * words (split on blanks, in place: argv points into cmd), else /bin/sh
 * -c cmd.  Returns argc, 0 for an empty command, -1 for more than max - 1
 * words.  argv[argc] is NULL.  new_mail_cmd (acct/acct_hook.c) uses it.
 */
int secret_cmd_argv(char *cmd, char **argv, size_t max);

#endif
