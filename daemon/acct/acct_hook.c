/*
 * acct_hook.c - new_mail_cmd (acct_hook.h).
 *
 * acct_hook_start() builds the argv and the environment and spawns; the
 * exit callback (or the timer's kill) ends it: both handles close, and
 * the last close callback reports and frees.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct/acct_hook.h"
#include "log.h"
#include "secret/secret_cmd.h"

#define ACCT_HOOK_MAX_ARGS 64

extern char **environ;

struct acct_hook {
	char *account;
	acct_hook_done_fn *done;
	void *arg;
	uv_process_t proc;
	uv_timer_t timer;
	int open_handles;
	bool is_exited, is_killed, is_timed_out;
};

static void
acct_hook_closed(uv_handle_t *h)
{
	struct acct_hook *hook = h->data;

	if (--hook->open_handles > 0)
		return;
	if (hook->done != NULL)
		hook->done(hook, hook->arg);
	free(hook->account);
	free(hook);
}

static void
acct_hook_close(struct acct_hook *h)
{
	uv_timer_stop(&h->timer);
	if (!uv_is_closing((uv_handle_t *)&h->timer))
		uv_close((uv_handle_t *)&h->timer, acct_hook_closed);
	if (!uv_is_closing((uv_handle_t *)&h->proc))
		uv_close((uv_handle_t *)&h->proc, acct_hook_closed);
}

static void
acct_hook_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
	struct acct_hook *h = proc->data;

	h->is_exited = true;
	if (h->is_timed_out)
		log_warn("acct=%s new_mail_cmd: killed after %u s",
			 h->account, ACCT_HOOK_TIMEOUT_MS / 1000u);
	else if (sig != 0 && !h->is_killed)
		log_warn("acct=%s new_mail_cmd: killed by signal %d",
			 h->account, sig);
	else if (status != 0)
		log_warn("acct=%s new_mail_cmd: failed with exit status %lld",
			 h->account, (long long)status);
	else
		log_debug("acct=%s new_mail_cmd: done", h->account);
	acct_hook_close(h);
}

static void
acct_hook_signal(struct acct_hook *h)
{
	/* The negative pid reaches the group made by setsid(). */
	if (!h->is_exited && h->proc.pid > 0)
		(void)uv_kill(-h->proc.pid, SIGTERM);
}

static void
acct_hook_timer_cb(uv_timer_t *t)
{
	struct acct_hook *h = t->data;

	h->is_timed_out = true;
	acct_hook_signal(h);
}

void
acct_hook_kill(struct acct_hook *h)
{
	h->is_killed = true;
	acct_hook_signal(h);
}

/* environ plus the three MAILSYNC_ variables (malloc'ed; vars[] hold
 * the strings), older MAILSYNC_ values of the same names left out. */
static char **
acct_hook_env(char *vars[3])
{
	size_t n = 0, o = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 4, sizeof(*env))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "MAILSYNC_ACCOUNT=", 17) != 0 &&
		    strncmp(environ[i], "MAILSYNC_FOLDER=", 16) != 0 &&
		    strncmp(environ[i], "MAILSYNC_NEW_COUNT=", 19) != 0)
			env[o++] = environ[i];
	for (size_t i = 0; i < 3; i++)
		env[o++] = vars[i];
	env[o] = NULL;
	return env;
}

static char *
acct_hook_var(const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	char *s = malloc(len);

	if (s != NULL)
		snprintf(s, len, "%s=%s", name, value);
	return s;
}

int
acct_hook_start(uv_loop_t *loop, const char *command, const char *account,
		const char *folder, uint64_t count, acct_hook_done_fn *done,
		void *arg, struct acct_hook **h_r, struct ms_err *err_r)
{
	char *argv[ACCT_HOOK_MAX_ARGS], *vars[3], **env = NULL, *copy;
	uv_process_options_t opts = { 0 };
	uv_stdio_container_t stdio[3];
	struct acct_hook *h = NULL;
	char num[24];
	int argc, rc;

	*h_r = NULL;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)count);
	vars[0] = acct_hook_var("MAILSYNC_ACCOUNT", account);
	vars[1] = acct_hook_var("MAILSYNC_FOLDER", folder);
	vars[2] = acct_hook_var("MAILSYNC_NEW_COUNT", num);
	copy = strdup(command);
	if (vars[0] == NULL || vars[1] == NULL || vars[2] == NULL ||
	    copy == NULL || (env = acct_hook_env(vars)) == NULL ||
	    (h = calloc(1, sizeof(*h))) == NULL ||
	    (h->account = strdup(account)) == NULL) {
		rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
		goto out;
	}
	if ((argc = secret_cmd_argv(copy, argv, ACCT_HOOK_MAX_ARGS)) <= 0) {
		rc = ms_err_set(err_r, MS_EINVAL, argc == 0 ? "new_mail_cmd: "
				"empty command" : "new_mail_cmd: too many "
				"arguments");
		goto out;
	}
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = 1;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	opts.file = argv[0];
	opts.args = argv;
	opts.env = env;
	opts.stdio = stdio;
	opts.stdio_count = 3;
	opts.exit_cb = acct_hook_exit_cb;
	opts.flags = UV_PROCESS_DETACHED;
	h->done = done;
	h->arg = arg;
	h->proc.data = h->timer.data = h;
	uv_timer_init(loop, &h->timer);
	h->open_handles = 2;
	if ((rc = uv_spawn(loop, &h->proc, &opts)) < 0) {
		rc = ms_err_set(err_r, MS_EIO, "new_mail_cmd: cannot run %s: "
				"%s", argv[0], uv_strerror(rc));
		/* libuv wants both handles closed; the hook goes with them,
		 * without a report. */
		h->done = NULL;
		acct_hook_close(h);
		h = NULL;
		goto out;
	}
	uv_timer_start(&h->timer, acct_hook_timer_cb, ACCT_HOOK_TIMEOUT_MS, 0);
	*h_r = h;
	h = NULL;
	rc = MS_OK;
out:
	if (h != NULL) {
		free(h->account);
		free(h);
	}
	for (size_t i = 0; i < 3; i++)
		free(vars[i]);
	free(env);
	free(copy);
	return rc;
}
