/*
 * test_ctl_socket.c - the control socket's file (daemon/ctl/ctl_socket.c)
 * in a temporary directory: missing directories are made 0700, the
 * socket is 0600, a second open is "already running" with our pid, a
 * dead daemon's socket is replaced, and unsafe or impossible places are
 * refused with a message that says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl_socket.h"

/* The socket shared with no group: 0600, this uid only. */
#define NO_GROUP ((gid_t)-1)

static char tmp[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/ms-ctlsock.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
test_create_and_lock(void **state)
{
	struct ctl_socket a, b;
	struct ms_err err = { 0 };
	char path[200], dir[128], want[160];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/x/y", tmp);
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	assert_int_equal(ctl_socket_open(&a, path, NO_GROUP, &err), MS_OK);
	assert_int_equal(mode_of(dir), 0700);
	assert_int_equal(mode_of(path), 0600);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
	}
	/* A second daemon on the same socket. */
	assert_int_equal(ctl_socket_open(&b, path, NO_GROUP, &err), MS_ECONFIG);
	snprintf(want, sizeof(want), "already running (pid %ld)",
		 (long)getpid());
	assert_non_null(strstr(err.msg, want));
	close(a.fd);
	ctl_socket_release(&a);
	assert_int_equal(access(path, F_OK), -1);
	/* Free again: it opens. */
	assert_int_equal(ctl_socket_open(&b, path, NO_GROUP, &err), MS_OK);
	close(b.fd);
	ctl_socket_release(&b);
}

/* A socket file left by a daemon that died (no lock held) is replaced. */
static void
test_stale(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_socket a;
	struct ms_err err = { 0 };
	int fd;

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", tmp);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(ctl_socket_open(&a, sa.sun_path, NO_GROUP, &err),
			 MS_OK);
	close(a.fd);
	ctl_socket_release(&a);
}

static void
test_refused(void **state)
{
	struct ctl_socket a;
	struct ms_err err = { 0 };
	char path[512];
	FILE *f;

	(void)state;
	/* Not a socket: never removed. */
	snprintf(path, sizeof(path), "%s/file", tmp);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(ctl_socket_open(&a, path, NO_GROUP, &err), MS_ECONFIG);
	assert_non_null(strstr(err.msg, "is not a socket"));
	assert_int_equal(access(path, F_OK), 0);
	/* A directory others may write to. */
	snprintf(path, sizeof(path), "%s/open", tmp);
	assert_int_equal(mkdir(path, 0777), 0);
	assert_int_equal(chmod(path, 0777), 0);
	snprintf(path, sizeof(path), "%s/open/ctl.sock", tmp);
	assert_int_equal(ctl_socket_open(&a, path, NO_GROUP, &err), MS_ECONFIG);
	assert_non_null(strstr(err.msg, "writable by others (chmod 700"));
	/* Too long for sun_path (with ".lock"). */
	memset(path, 'a', 200);
	path[0] = '/';
	path[200] = '\0';
	assert_int_equal(ctl_socket_open(&a, path, NO_GROUP, &err), MS_EINVAL);
	assert_non_null(strstr(err.msg, "longer than"));
	assert_int_equal(ctl_socket_open(&a, "rel.sock", NO_GROUP, &err),
			 MS_EINVAL);
	assert_non_null(strstr(err.msg, "absolute path"));
}

/* Shared with a group (the system unit's socket_group): the socket is
 * 0660 and the group's, a directory made for it 0750 and the group's,
 * and an existing directory the group cannot pass is refused with the
 * fix.  Our own gid: a group any process may give its files. */
static void
test_shared_group(void **state)
{
	struct ctl_socket a;
	struct ms_err err = { 0 };
	char path[200], dir[128];
	gid_t gid = getgid();
	struct stat st;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/run/ms", tmp);
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	assert_int_equal(ctl_socket_open(&a, path, gid, &err), MS_OK);
	assert_int_equal(mode_of(path), 0660);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(mode_of(dir), 0750);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_gid, gid);
	close(a.fd);
	ctl_socket_release(&a);

	/* A 0700 directory keeps the group out: refused, saying how. */
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(ctl_socket_open(&a, path, gid, &err), MS_ECONFIG);
	assert_non_null(strstr(err.msg, "does not let group"));
	assert_non_null(strstr(err.msg, "chmod 750"));
	assert_int_equal(access(path, F_OK), -1);
	/* Without a group the same directory is right. */
	assert_int_equal(ctl_socket_open(&a, path, NO_GROUP, &err), MS_OK);
	assert_int_equal(mode_of(path), 0600);
	close(a.fd);
	ctl_socket_release(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_lock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_group, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
