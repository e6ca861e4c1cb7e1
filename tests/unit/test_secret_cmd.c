/*
 * test_secret_cmd.c - daemon/secret/secret_cmd.c: direct exec and sh -c,
 * failure with stderr, timeout, empty and huge output.  Each test runs its
 * own uv_loop and asserts uv_loop_close() == 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "secret/secret_cmd.h"

struct result {
	int n_calls;
	int rc;
	char secret[128];
	size_t len;
	struct ms_err err;
	uint64_t t_done;
	uv_loop_t *loop;
};

static void
done_cb(int rc, char *secret, size_t len, const struct ms_err *err,
	void *arg)
{
	struct result *r = arg;

	r->n_calls++;
	r->rc = rc;
	r->err = *err;
	r->len = len;
	r->t_done = uv_now(r->loop);
	if (secret != NULL) {
		assert_int_equal(rc, MS_OK);
		assert_int_equal(strlen(secret), len);
		snprintf(r->secret, sizeof(r->secret), "%s", secret);
		explicit_bzero(secret, len);
		free(secret);
	} else {
		assert_true(rc < 0);
	}
}

/* Runs command to completion; returns the elapsed loop time in ms. */
static uint64_t
run(const char *command, unsigned timeout_ms, struct result *r)
{
	struct secret_cmd_params p = {
		.account = "test", .what = "password_cmd",
		.command = command, .timeout_ms = timeout_ms,
	};
	struct ms_err err = { 0 };
	uv_loop_t loop;
	uint64_t t0;

	memset(r, 0, sizeof(*r));
	assert_int_equal(uv_loop_init(&loop), 0);
	r->loop = &loop;
	t0 = uv_now(&loop);
	if (secret_cmd_start(&loop, &p, done_cb, r, NULL, &err) != MS_OK)
		fail_msg("secret_cmd_start: %s", err.msg);
	assert_int_equal(r->n_calls, 0);	/* never before it returns */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r->n_calls, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
	return r->t_done - t0;
}

static void
test_needs_shell(void **state)
{
	assert_false(secret_cmd_needs_shell("pass show mail/work"));
	assert_false(secret_cmd_needs_shell("/usr/bin/secret-tool lookup a b"));
	assert_true(secret_cmd_needs_shell("gpg -d ~/.pw.gpg"));
	assert_true(secret_cmd_needs_shell("cat x | head -1"));
	assert_true(secret_cmd_needs_shell("echo \"a b\""));
	assert_true(secret_cmd_needs_shell("echo $HOME"));
	assert_true(secret_cmd_needs_shell("a; b"));
	assert_true(secret_cmd_needs_shell("a\nb"));
}

static void
test_direct_exec(void **state)
{
	struct result r;

	/* No shell syntax: echo runs directly, found in PATH. */
	run("echo hunter2", 5000, &r);
	assert_int_equal(r.rc, MS_OK);
	assert_string_equal(r.secret, "hunter2");
	run("echo  s3cret   second-word", 5000, &r);
	assert_int_equal(r.rc, MS_OK);
	assert_string_equal(r.secret, "s3cret second-word");
}

static void
test_direct_exec_no_shell_expansion(void **state)
{
	struct result r;

	/*
	 * Run directly, "a=b" reaches env as an argument; a shell would have
	 * taken it as an assignment and printed the environment instead.
	 */
	run("env -i a=b", 5000, &r);
	assert_int_equal(r.rc, MS_OK);
	assert_string_equal(r.secret, "a=b");
}

static void
test_shell(void **state)
{
	struct result r;

	run("printf 'first\\r\\nsecond\\n' | cat", 5000, &r);
	assert_int_equal(r.rc, MS_OK);
	assert_string_equal(r.secret, "first");	/* CR and LF stripped */
	assert_int_equal(r.len, 5);
}

static void
test_no_trailing_newline(void **state)
{
	struct result r;

	run("printf tok", 5000, &r);
	assert_int_equal(r.rc, MS_OK);
	assert_string_equal(r.secret, "tok");
}

static void
test_failure_reports_stderr_not_stdout(void **state)
{
	struct result r;

	run("echo leaked-secret; echo 'gpg: decryption failed' >&2; exit 3",
	    5000, &r);
	assert_int_equal(r.rc, MS_EIO);
	assert_string_equal(r.err.msg, "password_cmd: failed with exit "
			    "status 3: gpg: decryption failed");
	assert_null(strstr(r.err.msg, "leaked"));
}

static void
test_not_found(void **state)
{
	struct secret_cmd_params p = {
		.what = "password_cmd", .command = "/nonexistent/cmd arg",
	};
	struct ms_err err = { 0 };
	struct result r = { 0 };
	uv_loop_t loop;

	assert_int_equal(uv_loop_init(&loop), 0);
	r.loop = &loop;
	assert_int_equal(secret_cmd_start(&loop, &p, done_cb, &r, NULL, &err),
			 MS_EIO);
	assert_string_equal(err.msg, "password_cmd: cannot run "
			    "/nonexistent/cmd: no such file or directory");
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r.n_calls, 0);		/* error return: no callback */
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_timeout(void **state)
{
	struct result r;
	uint64_t dt;

	/* The shell and its sleep child die together (process group). */
	dt = run("sleep 30; echo late", 300, &r);
	assert_int_equal(r.rc, MS_EIO);
	assert_string_equal(r.err.msg, "password_cmd: timed out after 1 s");
	assert_true(dt >= 290);
	assert_true(dt < 5000);
}

static void
test_timeout_direct(void **state)
{
	struct result r;
	uint64_t dt;

	dt = run("sleep 30", 2000, &r);
	assert_int_equal(r.rc, MS_EIO);
	assert_string_equal(r.err.msg, "password_cmd: timed out after 2 s");
	assert_true(dt >= 1990 && dt < 6000);
}

static void
test_empty_output(void **state)
{
	struct result r;

	run("true", 5000, &r);
	assert_int_equal(r.rc, MS_EIO);
	assert_string_equal(r.err.msg, "password_cmd: printed nothing");
	run("printf '\\nsecond\\n'", 5000, &r);
	assert_int_equal(r.rc, MS_EIO);
	assert_string_equal(r.err.msg,
			    "password_cmd: printed an empty first line");
}

static void
test_huge_output_bounded(void **state)
{
	struct result r;

	/* 10 MB of output: the first line is still the secret. */
	run("yes token | head -c 10000000", 20000, &r);
	assert_int_equal(r.rc, MS_OK);
	assert_string_equal(r.secret, "token");
	/* One line longer than the cap is refused, not truncated. */
	run("head -c 200000 /dev/zero | tr '\\0' a", 20000, &r);
	assert_int_equal(r.rc, MS_EIO);
	assert_string_equal(r.err.msg, "password_cmd: first output line "
			    "longer than 65536 bytes");
}

static void
test_empty_command(void **state)
{
	struct secret_cmd_params p = { .what = "password_cmd", .command = " " };
	struct ms_err err = { 0 };
	uv_loop_t loop;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(secret_cmd_start(&loop, &p, done_cb, NULL, NULL,
					  &err), MS_EINVAL);
	assert_string_equal(err.msg, "password_cmd: empty command");
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
cancel_timer_cb(uv_timer_t *t)
{
	secret_cmd_cancel(t->data);
	uv_close((uv_handle_t *)t, NULL);
}

static void
test_cancel(void **state)
{
	struct secret_cmd_params p = {
		.what = "oauth_token_cmd", .command = "sleep 30",
	};
	struct secret_cmd *job = NULL;
	struct ms_err err = { 0 };
	struct result r = { 0 };
	uv_loop_t loop;
	uv_timer_t t;

	assert_int_equal(uv_loop_init(&loop), 0);
	r.loop = &loop;
	assert_int_equal(secret_cmd_start(&loop, &p, done_cb, &r, &job, &err),
			 MS_OK);
	assert_int_equal(uv_timer_init(&loop, &t), 0);
	t.data = job;
	assert_int_equal(uv_timer_start(&t, cancel_timer_cb, 100, 0), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r.n_calls, 1);
	assert_int_equal(r.rc, MS_ECANCELED);
	assert_string_equal(r.err.msg, "oauth_token_cmd: canceled");
	assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needs_shell),
		cmocka_unit_test(test_direct_exec),
		cmocka_unit_test(test_direct_exec_no_shell_expansion),
		cmocka_unit_test(test_shell),
		cmocka_unit_test(test_no_trailing_newline),
		cmocka_unit_test(test_failure_reports_stderr_not_stdout),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_direct),
		cmocka_unit_test(test_empty_output),
		cmocka_unit_test(test_huge_output_bounded),
		cmocka_unit_test(test_empty_command),
		cmocka_unit_test(test_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
