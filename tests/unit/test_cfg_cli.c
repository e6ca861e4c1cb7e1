/*
 * test_cfg_cli.c - the mailsyncd command line as a user sees it: exit
 * statuses, --check-config output, usage errors, the config search.
 *
 * It runs the mailsyncd built next to this test (../daemon/mailsyncd from
 * this binary, or $MAILSYNCD), in a controlled environment.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ms.h"
#include "ms_version.h"

static char daemon_path[PATH_MAX + 32];
static char data_dir[1024];

struct run {
	int status;	/* exit status, or -1 */
	char out[8192];
	char err[8192];
};

/* Reads what a child wrote into fd (a temp file) into buf. */
static void
run_slurp(int fd, char *buf, size_t size)
{
	ssize_t n;
	size_t len = 0;

	lseek(fd, 0, SEEK_SET);
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
}

static int
run_tmpfd(void)
{
	char path[] = "/tmp/test_cfg_cli_XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/* Runs mailsyncd with args (NULL-terminated) and exactly the env given. */
static void
run(struct run *r, char *const *env, ...)
{
	char *argv[16] = { daemon_path };
	int out = run_tmpfd(), err = run_tmpfd(), st;
	size_t n = 1;
	va_list ap;
	pid_t pid;

	va_start(ap, env);
	while (n < 15 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out, 1);
		dup2(err, 2);
		execve(daemon_path, argv, env);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	run_slurp(out, r->out, sizeof(r->out));
	run_slurp(err, r->err, sizeof(r->err));
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static char *env_plain[] = {
	"HOME=/dev/null/home", "XDG_RUNTIME_DIR=/run/user/4242",
	"PATH=/usr/bin:/bin", NULL,
};

static char *
data(const char *name)
{
	static char path[1024 + 64];

	snprintf(path, sizeof(path), "%s/cfg/%s", data_dir, name);
	return path;
}

static void
test_version_help(void **state)
{
	struct run r;
	char want[64];

	run(&r, env_plain, "--version", NULL);
	snprintf(want, sizeof(want), "mailsyncd %s\n", MS_VERSION);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, want);
	assert_string_equal(r.err, "");

	run(&r, env_plain, "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "usage: mailsyncd [-c FILE] [--once "
			       "[ACCOUNT...]] [--check-config] [-v|--verbose]"));
	assert_non_null(strstr(r.out, "Without --once it runs in the "
			       "foreground until SIGTERM or SIGINT"));
	run(&r, env_plain, "-h", NULL);
	assert_int_equal(r.status, 0);
}

static void
test_usage_errors(void **state)
{
	struct run r;

	run(&r, env_plain, "--bogus", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "mailsyncd: unknown option '--bogus' (try "
			    "'mailsyncd --help')\n");
	run(&r, env_plain, "-c", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "mailsyncd: option '-c' needs an argument "
			    "(try 'mailsyncd --help')\n");
	run(&r, env_plain, "work", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "mailsyncd: unexpected argument 'work' "
			    "(account names follow --once) (try 'mailsyncd "
			    "--help')\n");
	run(&r, env_plain, "--once", "--check-config", NULL);
	assert_int_equal(r.status, 2);
	assert_int_equal(count_lines(r.err), 1);
}

static void
test_check_config(void **state)
{
	static const unsigned lines[] = { 4, 9, 12, 17, 20 };
	const char *p;
	char prefix[1024 + 160];
	struct run r;

	run(&r, env_plain, "--check-config", "-c", data("five-mistakes.ini"),
	    NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "");
	assert_int_equal(count_lines(r.err), 5);
	p = r.err;
	for (size_t i = 0; i < 5; i++) {
		snprintf(prefix, sizeof(prefix), "%s:%u: ",
			 data("five-mistakes.ini"), lines[i]);
		assert_memory_equal(p, prefix, strlen(prefix));
		p = strchr(p, '\n') + 1;
	}

	run(&r, env_plain, "--check-config", "-c", data("example.ini"), NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	snprintf(prefix, sizeof(prefix), "%s: OK, 4 accounts: work gmail isp "
		 "local\n", data("example.ini"));
	assert_string_equal(r.out, prefix);
}

static void
test_run_errors(void **state)
{
	struct run r;

	/* The foreground mode starts by opening the store, whose missing
	 * parents are made, but not under a HOME below a file: a clear
	 * error and exit 1. */
	run(&r, env_plain, "-c", data("example.ini"), NULL);
	assert_int_equal(r.status, 1);
	/* Stamped like a log line: "TIME error mailsyncd: ...". */
	assert_non_null(strstr(r.err, " error mailsyncd: store: cannot create "
			       "/dev/null/home/.local/share/mailsync: mkdir "
			       "/dev/null/home: Not a directory\n"));
	assert_ptr_equal(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	/* --once really syncs now: tests/integration/test_imap_sync*.sh. */
	run(&r, env_plain, "-c", data("example.ini"), "--once", "work", "nope",
	    NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "mailsyncd: --once: no account 'nope' "
			       "in "));
	assert_null(strstr(r.err, "not implemented"));
}

static void
test_search(void **state)
{
	char *env_none[] = { "HOME=/nonexistent-home", "PATH=/bin", NULL };
	char cfg_env[1024 + 128];
	char *env_set[] = { cfg_env, "XDG_RUNTIME_DIR=/run/user/4242", NULL };
	struct run r;

	/* Skip when this machine has a system-wide config to find. */
	if (access("/etc/mailsync/config.ini", F_OK) == 0)
		skip();
	run(&r, env_none, "--check-config", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "mailsyncd: no configuration file found; "
			    "searched: $MAILSYNC_CONFIG (not set), "
			    "/nonexistent-home/.config/mailsync/config.ini, "
			    "/etc/mailsync/config.ini (use -c FILE or set "
			    "MAILSYNC_CONFIG)\n");

	snprintf(cfg_env, sizeof(cfg_env), "MAILSYNC_CONFIG=%s",
		 data("example.ini"));
	run(&r, env_set, "--check-config", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "OK, 4 accounts"));

	snprintf(cfg_env, sizeof(cfg_env), "MAILSYNC_CONFIG=/nonexistent.ini");
	run(&r, env_set, "--check-config", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "/nonexistent.ini: cannot open: No such "
			    "file or directory\n");
}

/* Finds mailsyncd: $MAILSYNCD, or ../daemon/mailsyncd from this test. */
static int
setup(void **state)
{
	const char *env = getenv("MAILSYNCD"), *dir = getenv("MS_TEST_DATA");
	char self[PATH_MAX];
	ssize_t n;

	snprintf(data_dir, sizeof(data_dir), "%s", dir ? dir : "tests/data");
	if (env != NULL) {
		snprintf(daemon_path, sizeof(daemon_path), "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(daemon_path, sizeof(daemon_path), "%s/../daemon/mailsyncd",
		 self);
	return access(daemon_path, X_OK) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_run_errors),
		cmocka_unit_test(test_search),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
