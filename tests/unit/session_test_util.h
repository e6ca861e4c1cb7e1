/*
 * session_test_util.h - shared by the POP3 and SMTP session tests: a
 * throwaway PKI (tests/data/net/mkcerts.sh), the scripted fake server
 * (tests/data/session-fake/fake_mail_server.py) started on a free
 * loopback port and stopped by PID (its start, st_spawn_port(), is also
 * used by the net_conn and IMAP fake-server tests for their own scripts),
 * the integration fixtures (Dovecot, the SMTP sink) run in a child bash
 * that stops them when its stdin closes, and a guard timer for every loop
 * run.  Header-only.
 */
#ifndef MS_TEST_SESSION_UTIL_H
#define MS_TEST_SESSION_UTIL_H

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "common/base64.h"
#include "common/ms.h"

#define SESSION_GUARD_MS 20000

static char st_pki[256];	/* temp dir with the generated certs */

static const char *
st_data_dir(void)
{
	const char *d = getenv("MS_TEST_DATA");

	return d != NULL ? d : "tests/data";
}

static int
st_pki_make(void)
{
	char cmd[1024];

	snprintf(st_pki, sizeof(st_pki), "/tmp/ms-test-session-XXXXXX");
	if (mkdtemp(st_pki) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh %s/net/mkcerts.sh %s", st_data_dir(),
	    st_pki);
	return system(cmd) == 0 ? 0 : -1;
}

static void
st_pki_remove(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", st_pki);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", st_pki);
}

/* Reads one '\n'-terminated line from fd within ms milliseconds. */
static bool
st_read_line(int fd, char *line, size_t size, int ms)
{
	size_t n = 0;

	/* Bounded: ms / 100 polls of 100 ms. */
	for (int i = 0; i < ms / 100 && n + 1 < size; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		r = read(fd, line + n, 1);
		if (r <= 0)
			break;
		if (line[n++] == '\n') {
			line[n] = '\0';
			return true;
		}
		i--;	/* data flowing: do not count this as a wait */
	}
	line[n] = '\0';
	return false;
}

/*
 * Starts argv[0] (a path; argv NULL-terminated) with its stdout on a pipe
 * and waits (bounded, 10 s) for its "PORT n" line.  Returns the PID with
 * *port_r set, or -1 after killing and reaping the child, with line
 * holding what it printed (for the caller's message).
 */
static pid_t
st_spawn_port(const char *const *argv, int *port_r, char *line, size_t size)
{
	int fds[2];
	pid_t pid;
	bool ok;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	ok = st_read_line(fds[0], line, size, 10000) &&
	     sscanf(line, "PORT %d", port_r) == 1;
	close(fds[0]);
	if (!ok) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

struct st_server {
	pid_t pid;
	int port;
	char record[300];	/* what it received before TLS */
};

/*
 * Every fake server started, so that teardown stops the ones a failed
 * assertion left behind (cmocka leaves the test function at once).
 */
#define ST_MAX_SERVERS 64
static pid_t st_server_pids[ST_MAX_SERVERS];
static size_t st_nserver_pids;

static void
st_servers_kill_all(void)
{
	for (size_t i = 0; i < st_nserver_pids; i++) {
		if (kill(st_server_pids[i], SIGKILL) == 0)
			waitpid(st_server_pids[i], NULL, 0);
	}
	st_nserver_pids = 0;
}

/* Starts fake_mail_server.py --proto proto --mode mode [--implicit]. */
static void
st_server_start(struct st_server *s, const char *proto, const char *mode)
{
	char script[512], cert[300], key[300], line[64];
	const char *argv[20];
	int argc = 0;
	FILE *f;

	memset(s, 0, sizeof(*s));
	snprintf(script, sizeof(script),
	    "%s/session-fake/fake_mail_server.py", st_data_dir());
	snprintf(cert, sizeof(cert), "%s/good.pem", st_pki);
	snprintf(key, sizeof(key), "%s/good.key", st_pki);
	snprintf(s->record, sizeof(s->record), "%s/record-%s-%s", st_pki,
	    proto, mode);
	f = fopen(s->record, "w");	/* empty: nothing received yet */
	assert_non_null(f);
	fclose(f);
	argv[argc++] = "/usr/bin/python3";
	argv[argc++] = script;
	argv[argc++] = "--proto";
	argv[argc++] = proto;
	argv[argc++] = "--mode";
	argv[argc++] = mode;
	argv[argc++] = "--cert";
	argv[argc++] = cert;
	argv[argc++] = "--key";
	argv[argc++] = key;
	argv[argc++] = "--record";
	argv[argc++] = s->record;
	argv[argc] = NULL;
	s->pid = st_spawn_port(argv, &s->port, line, sizeof(line));
	if (s->pid < 0)
		fail_msg("fake server %s %s did not start: '%s'", proto, mode,
		    line);
	if (st_nserver_pids < ST_MAX_SERVERS)
		st_server_pids[st_nserver_pids++] = s->pid;
}

static void
st_server_stop(struct st_server *s)
{
	/* Forget it first: a reaped PID may be reused by anyone. */
	for (size_t i = 0; i < st_nserver_pids; i++) {
		if (st_server_pids[i] == s->pid)
			st_server_pids[i] = st_server_pids[--st_nserver_pids];
	}
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

/* True if the file holds needle (binary-safe). */
static bool
st_file_contains(const char *path, const char *needle)
{
	char buf[65536];
	size_t n, k = strlen(needle);
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (size_t i = 0; k > 0 && i + k <= n; i++) {
		if (memcmp(buf + i, needle, k) == 0)
			return true;
	}
	return false;
}

/*
 * What the fake server received before TLS holds neither the password
 * nor its base64 forms (PLAIN's "\0user\0pass", LOGIN's password), nor
 * any AUTH command.
 */
static void
st_expect_no_secret(const struct st_server *srv, const char *user,
    const char *pass)
{
	struct ms_buf b;
	char plain[256];
	int n = snprintf(plain, sizeof(plain), "%c%s%c%s", 0, user, 0, pass);

	assert_false(st_file_contains(srv->record, pass));
	ms_buf_init(&b, 1024);
	assert_int_equal(ms_base64_encode(&b, plain, (size_t)n), MS_OK);
	assert_false(st_file_contains(srv->record, (const char *)b.p));
	ms_buf_reset(&b);
	assert_int_equal(ms_base64_encode(&b, pass, strlen(pass)), MS_OK);
	assert_false(st_file_contains(srv->record, (const char *)b.p));
	ms_buf_deinit(&b);
	assert_false(st_file_contains(srv->record, "AUTH"));
}

static size_t
st_file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return (size_t)n;
}

/* An integration fixture in a child bash; values from "key=value" lines. */
#define ST_FIXTURE_MAX_KEYS 16
struct st_fixture {
	pid_t pid;
	int to_child;		/* closing it stops the servers */
	bool is_running;
	size_t nkeys;
	char keys[ST_FIXTURE_MAX_KEYS][32];
	char values[ST_FIXTURE_MAX_KEYS][256];
};

/*
 * Runs script (which must print key=value lines, then "READY", then wait
 * for its stdin to close) with $1 = the tests dir.  Returns 0 running,
 * 77 skipped (the fixture said 77), -1 failure.
 */
static int
st_fixture_start(struct st_fixture *fx, const char *script)
{
	char tests_dir[600], line[600];
	int in[2], out[2], status;

	memset(fx, 0, sizeof(*fx));
	snprintf(tests_dir, sizeof(tests_dir), "%s/..", st_data_dir());
	/* Close-on-exec: a later child must not keep the fixture alive. */
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		return -1;
	fx->pid = fork();
	if (fx->pid < 0)
		return -1;
	if (fx->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/bin/bash", "bash", "-c", script, "fixture", tests_dir,
		    (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fx->to_child = in[1];
	/* The fixtures bound their own waits; this bounds ours (60 s). */
	while (st_read_line(out[0], line, sizeof(line), 60000)) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "READY") == 0) {
			fx->is_running = true;
			break;
		}
		if (eq != NULL && fx->nkeys < ST_FIXTURE_MAX_KEYS) {
			*eq = '\0';
			snprintf(fx->keys[fx->nkeys], sizeof(fx->keys[0]),
			    "%.31s", line);
			snprintf(fx->values[fx->nkeys++],
			    sizeof(fx->values[0]), "%.255s", eq + 1);
		}
	}
	close(out[0]);
	if (fx->is_running)
		return 0;
	close(fx->to_child);
	waitpid(fx->pid, &status, 0);
	fx->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77 &&
	    getenv("MS_REQUIRE_SERVERS") == NULL)
		return 77;
	fprintf(stderr, "fixture failed (status %d)\n", status);
	return -1;
}

static const char *
st_fixture_get(const struct st_fixture *fx, const char *key)
{
	for (size_t i = 0; i < fx->nkeys; i++) {
		if (strcmp(fx->keys[i], key) == 0)
			return fx->values[i];
	}
	return "";
}

static int
st_fixture_stop(struct st_fixture *fx)
{
	int status = 0;

	if (fx->pid <= 0)
		return 0;
	close(fx->to_child);
	if (waitpid(fx->pid, &status, 0) != fx->pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "fixture stop failed (%d)\n", status);
		return -1;
	}
	fx->pid = 0;
	return 0;
}

/* A loop with a guard timer that fails the test if it fires. */
struct st_loop {
	uv_loop_t loop;
	uv_timer_t guard;
	bool is_guard_fired;
};

static void
st_guard_cb(uv_timer_t *t)
{
	struct st_loop *l = t->data;

	l->is_guard_fired = true;
	uv_stop(t->loop);
}

static void
st_loop_init(struct st_loop *l)
{
	memset(l, 0, sizeof(*l));
	assert_int_equal(uv_loop_init(&l->loop), 0);
	uv_timer_init(&l->loop, &l->guard);
	l->guard.data = l;
	uv_timer_start(&l->guard, st_guard_cb, SESSION_GUARD_MS, 0);
	uv_unref((uv_handle_t *)&l->guard);
}

/* Runs until nothing is left; every handle must be closed then. */
static void
st_loop_run_and_close(struct st_loop *l)
{
	uv_run(&l->loop, UV_RUN_DEFAULT);
	assert_false(l->is_guard_fired);
	uv_close((uv_handle_t *)&l->guard, NULL);
	uv_run(&l->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&l->loop), 0);
}

#endif
