/* secret_cmd.c - password_cmd / oauth_token_cmd runner over uv_spawn. */
#include "secret/secret_cmd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define SECRET_CMD_MAX_STDERR 4096
#define SECRET_CMD_MAX_ARGS 64

struct secret_cmd {
	uv_loop_t *loop;
	char *account;
	char *what;
	unsigned timeout_ms;
	secret_cmd_done_cb *done_cb;
	void *arg;
	bool is_silent;		/* spawn failed: no callback */

	uv_process_t proc;
	uv_pipe_t out;
	uv_pipe_t err;
	uv_timer_t timer;
	int open_handles;
	bool is_exited, is_out_eof, is_err_eof;
	bool is_timed_out, is_canceled, is_closing;
	int64_t exit_status;
	int term_signal;

	uint8_t *obuf;		/* SECRET_CMD_MAX_OUTPUT bytes, fixed */
	size_t olen;
	bool is_overflow;
	char ebuf[SECRET_CMD_MAX_STDERR];
	size_t elen;
	uint8_t sink[4096];	/* reads past a full buffer land here */
};

bool
secret_cmd_needs_shell(const char *command)
{
	return strpbrk(command, "'\"$`|&;<>*?()\\~\n#[]{}") != NULL;
}

static void
secret_cmd_free(struct secret_cmd *job)
{
	if (job->obuf != NULL) {
		explicit_bzero(job->obuf, SECRET_CMD_MAX_OUTPUT);
		free(job->obuf);
	}
	explicit_bzero(job->sink, sizeof(job->sink));
	explicit_bzero(job->ebuf, sizeof(job->ebuf));
	free(job->account);
	free(job->what);
	free(job);
}

/* Copies the first line of stderr into out, replacing control bytes. */
static void
secret_cmd_stderr_line(const struct secret_cmd *job, char *out, size_t sz)
{
	size_t i, n = 0;

	for (i = 0; i < job->elen && n + 1 < sz; i++) {
		unsigned char c = (unsigned char)job->ebuf[i];

		if (c == '\n' || c == '\r')
			break;
		out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, sz, "(no error output)");
}

/* Every handle is closed: judge the outcome and call back once. */
static void
secret_cmd_finish(struct secret_cmd *job)
{
	struct ms_err err = { .code = MS_OK };
	char line[160];
	char *secret = NULL;
	size_t len = 0;
	uint8_t *nl;

	if (job->is_silent) {
		secret_cmd_free(job);
		return;
	}
	secret_cmd_stderr_line(job, line, sizeof(line));
	nl = memchr(job->obuf, '\n', job->olen);
	len = nl != NULL ? (size_t)(nl - job->obuf) : job->olen;
	if (len > 0 && job->obuf[len - 1] == '\r')
		len--;
	if (job->is_canceled) {
		ms_err_set(&err, MS_ECANCELED, "%s: canceled", job->what);
	} else if (job->is_timed_out) {
		ms_err_set(&err, MS_EIO, "%s: timed out after %u s", job->what,
			   (job->timeout_ms + 999) / 1000);
	} else if (job->term_signal != 0) {
		ms_err_set(&err, MS_EIO, "%s: killed by signal %d: %s",
			   job->what, job->term_signal, line);
	} else if (job->exit_status != 0) {
		ms_err_set(&err, MS_EIO, "%s: failed with exit status %lld: %s",
			   job->what, (long long)job->exit_status, line);
	} else if (nl == NULL && job->is_overflow) {
		ms_err_set(&err, MS_EIO, "%s: first output line longer than "
			   "%u bytes", job->what, SECRET_CMD_MAX_OUTPUT);
	} else if (job->olen == 0) {
		ms_err_set(&err, MS_EIO, "%s: printed nothing", job->what);
	} else if (len == 0) {
		ms_err_set(&err, MS_EIO, "%s: printed an empty first line",
			   job->what);
	} else {
		secret = malloc(len + 1);
		if (secret == NULL) {
			ms_err_set(&err, MS_ENOMEM, "%s: out of memory",
				   job->what);
		} else {
			memcpy(secret, job->obuf, len);
			secret[len] = '\0';
		}
	}
	if (err.code != MS_OK)
		log_debug("acct=%s %s", job->account, err.msg);
	job->done_cb(err.code, secret, secret != NULL ? len : 0, &err,
		     job->arg);
	secret_cmd_free(job);
}

static void
secret_cmd_closed_cb(uv_handle_t *handle)
{
	struct secret_cmd *job = handle->data;

	if (--job->open_handles == 0)
		secret_cmd_finish(job);
}

static void
secret_cmd_close(struct secret_cmd *job, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, secret_cmd_closed_cb);
}

/* Closes whatever is still open once the child is gone. */
static void
secret_cmd_maybe_done(struct secret_cmd *job)
{
	if (!job->is_exited)
		return;
	/*
	 * After a kill, a grandchild outside the process group may still
	 * hold the pipes: do not wait for their EOF.
	 */
	if (!(job->is_out_eof && job->is_err_eof) &&
	    !job->is_timed_out && !job->is_canceled)
		return;
	job->is_closing = true;
	uv_timer_stop(&job->timer);
	secret_cmd_close(job, (uv_handle_t *)&job->out);
	secret_cmd_close(job, (uv_handle_t *)&job->err);
	secret_cmd_close(job, (uv_handle_t *)&job->timer);
	secret_cmd_close(job, (uv_handle_t *)&job->proc);
}

static void
secret_cmd_exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct secret_cmd *job = proc->data;

	job->is_exited = true;
	job->exit_status = exit_status;
	job->term_signal = term_signal;
	secret_cmd_maybe_done(job);
}

static void
secret_cmd_alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct secret_cmd *job = handle->data;

	if (handle == (uv_handle_t *)&job->out &&
	    job->olen < SECRET_CMD_MAX_OUTPUT) {
		/* Straight into the fixed buffer: no copy of the secret. */
		*buf = uv_buf_init((char *)job->obuf + job->olen,
				   SECRET_CMD_MAX_OUTPUT - job->olen);
	} else if (handle == (uv_handle_t *)&job->err &&
		   job->elen < sizeof(job->ebuf)) {
		*buf = uv_buf_init(job->ebuf + job->elen,
				   sizeof(job->ebuf) - job->elen);
	} else {
		/* Keep draining so the child never blocks on a full pipe. */
		*buf = uv_buf_init((char *)job->sink, sizeof(job->sink));
	}
}

static void
secret_cmd_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct secret_cmd *job = stream->data;
	bool is_out = stream == (uv_stream_t *)&job->out;

	if (nread < 0) {
		uv_read_stop(stream);
		if (is_out)
			job->is_out_eof = true;
		else
			job->is_err_eof = true;
		secret_cmd_maybe_done(job);
		return;
	}
	if (buf->base == (char *)job->sink) {
		if (is_out)
			job->is_overflow = true;
		explicit_bzero(job->sink, (size_t)nread);
	} else if (is_out) {
		job->olen += (size_t)nread;
	} else {
		job->elen += (size_t)nread;
	}
}

static void
secret_cmd_kill(struct secret_cmd *job)
{
	/* The negative pid reaches the whole group made by setsid(). */
	if (!job->is_exited && job->proc.pid > 0)
		(void)uv_kill(-job->proc.pid, SIGKILL);
}

static void
secret_cmd_timer_cb(uv_timer_t *timer)
{
	struct secret_cmd *job = timer->data;

	job->is_timed_out = true;
	secret_cmd_kill(job);
	secret_cmd_maybe_done(job);
}

void
secret_cmd_cancel(struct secret_cmd *job)
{
	if (job->is_closing || job->is_canceled)
		return;
	job->is_canceled = true;
	secret_cmd_kill(job);
	secret_cmd_maybe_done(job);
}

/* Splits a shell-free command on blanks, in place. */
static int
secret_cmd_split(char *cmd, char **argv, size_t max)
{
	size_t n = 0;
	char *p = cmd;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (n + 1 >= max)
			return -1;
		argv[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
	argv[n] = NULL;
	return (int)n;
}

int
secret_cmd_argv(char *cmd, char **argv, size_t max)
{
	if (!secret_cmd_needs_shell(cmd))
		return secret_cmd_split(cmd, argv, max);
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = cmd;
	argv[3] = NULL;
	return cmd[strspn(cmd, " \t\n")] == '\0' ? 0 : 3;
}

int
secret_cmd_start(uv_loop_t *loop, const struct secret_cmd_params *params,
		 secret_cmd_done_cb *done_cb, void *arg,
		 struct secret_cmd **job_r, struct ms_err *err_r)
{
	const char *what = params->what ? params->what : "secret command";
	char *argv[SECRET_CMD_MAX_ARGS];
	uv_process_options_t opts;
	uv_stdio_container_t stdio[3];
	struct secret_cmd *job;
	char *copy;
	int r, argc;

	if (job_r != NULL)
		*job_r = NULL;
	if (params->command == NULL)
		return ms_err_set(err_r, MS_EINVAL, "%s: empty command", what);
	copy = strdup(params->command);
	if (copy == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	argc = secret_cmd_argv(copy, argv, SECRET_CMD_MAX_ARGS);
	if (argc <= 0) {
		free(copy);
		return ms_err_set(err_r, MS_EINVAL, argc == 0 ?
				  "%s: empty command" : "%s: too many arguments",
				  what);
	}
	job = calloc(1, sizeof(*job));
	if (job != NULL)
		job->obuf = malloc(SECRET_CMD_MAX_OUTPUT);
	if (job == NULL || job->obuf == NULL ||
	    (job->account = strdup(params->account ? params->account : "-"))
	    == NULL || (job->what = strdup(what)) == NULL) {
		if (job != NULL) {
			free(job->obuf);
			job->obuf = NULL;
			secret_cmd_free(job);
		}
		free(copy);
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	}
	job->loop = loop;
	job->timeout_ms = params->timeout_ms ? params->timeout_ms :
	    SECRET_CMD_DEFAULT_TIMEOUT_MS;
	job->done_cb = done_cb;
	job->arg = arg;
	(void)uv_pipe_init(loop, &job->out, 0);
	(void)uv_pipe_init(loop, &job->err, 0);
	(void)uv_timer_init(loop, &job->timer);
	job->out.data = job->err.data = job->timer.data = job->proc.data = job;
	job->open_handles = 4;

	memset(&opts, 0, sizeof(opts));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&job->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&job->err;
	opts.file = argv[0];
	opts.args = argv;
	opts.stdio = stdio;
	opts.stdio_count = 3;
	opts.exit_cb = secret_cmd_exit_cb;
	/* A new session, hence a process group we can kill as a whole. */
	opts.flags = UV_PROCESS_DETACHED;
	r = uv_spawn(loop, &job->proc, &opts);
	if (r < 0) {
		/* Name only argv[0]: arguments may carry secrets (pass show x). */
		ms_err_set(err_r, MS_EIO, "%s: cannot run %s: %s", what,
			   argv[0], uv_strerror(r));
		explicit_bzero(copy, strlen(params->command));
		free(copy);
		/* libuv still wants the handles closed; free after that. */
		job->is_silent = true;
		job->is_closing = true;
		secret_cmd_close(job, (uv_handle_t *)&job->out);
		secret_cmd_close(job, (uv_handle_t *)&job->err);
		secret_cmd_close(job, (uv_handle_t *)&job->timer);
		secret_cmd_close(job, (uv_handle_t *)&job->proc);
		return MS_EIO;
	}
	explicit_bzero(copy, strlen(params->command));
	free(copy);
	if (log_trace_enabled(TRACE_NET))
		log_trace(TRACE_NET, "acct=%s %s started pid=%d", job->account,
			  job->what, job->proc.pid);
	(void)uv_read_start((uv_stream_t *)&job->out, secret_cmd_alloc_cb,
			    secret_cmd_read_cb);
	(void)uv_read_start((uv_stream_t *)&job->err, secret_cmd_alloc_cb,
			    secret_cmd_read_cb);
	uv_timer_start(&job->timer, secret_cmd_timer_cb, job->timeout_ms, 0);
	if (job_r != NULL)
		*job_r = job;
	return MS_OK;
}
