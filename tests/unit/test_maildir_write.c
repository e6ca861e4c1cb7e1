/* test_maildir_write.c - daemon/maildir: tmp/ -> new/ or cur/, flags, removal, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <sys/mount.h>
#include <time.h>
#include <cmocka.h>

#include "maildir/maildir_scan.h"
#include "maildir/maildir_write.h"
#include "test_maildir_util.h"

struct wt {
	char *root;
	char folder[1024];
	struct maildir_dir d;
	struct maildir_namegen g;
};

static int
wt_setup(void **state)
{
	struct wt *t = calloc(1, sizeof(*t));
	struct ms_err err = { 0 };

	if (t == NULL || (t->root = tmd_mkdtemp()) == NULL)
		return -1;
	/* A nested folder that does not exist yet: open creates it. */
	snprintf(t->folder, sizeof(t->folder), "%s/acct/Lists/dev", t->root);
	if (maildir_dir_open(&t->d, t->folder, t->folder, true, NULL,
			     &err) != MS_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	maildir_namegen_init(&t->g);
	*state = t;
	return 0;
}

static int
wt_teardown(void **state)
{
	struct wt *t = *state;
	char mnt[1100];

	maildir_dir_close(&t->d);
	/* If the ENOSPC test failed half-way, its tmpfs is still mounted. */
	snprintf(mnt, sizeof(mnt), "%s/small", t->root);
	(void)umount2(mnt, MNT_DETACH);
	tmd_rmtree(t->root);
	free(t->root);
	free(t);
	return 0;
}

static void
test_create_layout(void **state)
{
	struct wt *t = *state;
	struct stat st;
	char path[1200];
	struct maildir_dir d2;
	struct ms_err err = { 0 };

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", t->folder,
			 maildir_sub_name((enum maildir_sub)i));
		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 0777, 0700);
	}
	/* Opening without create fails on a missing folder, naming it. */
	snprintf(path, sizeof(path), "%s/missing", t->root);
	assert_int_equal(maildir_dir_open(&d2, path, path, false, NULL, &err),
			 MS_EIO);
	assert_non_null(strstr(err.msg, path));
	/* Re-opening an existing folder with create is fine. */
	assert_int_equal(maildir_dir_open(&d2, t->folder, t->folder, true,
					  NULL, &err), MS_OK);
	maildir_dir_close(&d2);
	maildir_dir_close(&d2);	/* idempotent */
}

static void
test_write_new_and_cur(void **state)
{
	struct wt *t = *state;
	struct ms_err err = { 0 };
	char name[MAILDIR_NAME_MAX + 1], rel[600], buf[64];
	struct maildir_name_params p = { 0 };
	struct maildir_name_info in;
	static const char msg[] = "Subject: hi\r\n\r\nbody\r\n";

	assert_int_equal(maildir_msg_write(&t->d, &t->g, &p, 0, msg, sizeof(msg) - 1,
					   name, sizeof(name), &err), MS_OK);
	snprintf(rel, sizeof(rel), "new/%s", name);
	assert_int_equal(tmd_get(t->folder, rel, buf, sizeof(buf)), sizeof(msg) - 1);
	assert_memory_equal(buf, msg, sizeof(msg) - 1);
	assert_int_equal(maildir_name_parse(name, strlen(name), &in), MS_OK);
	assert_true(in.has_size && in.size == sizeof(msg) - 1);
	assert_int_equal(in.sep, 0);

	p.has_info = true;
	p.flags = MAILDIR_FLAG_SEEN | MAILDIR_FLAG_FLAGGED;
	p.id = "77-42-cafe";
	p.uid = 42;
	assert_int_equal(maildir_msg_write(&t->d, &t->g, &p, 0, msg, sizeof(msg) - 1,
					   name, sizeof(name), &err), MS_OK);
	assert_string_equal(name, "77-42-cafe,U=42,S=21:2,FS");
	snprintf(rel, sizeof(rel), "cur/%s", name);
	assert_int_equal(tmd_get(t->folder, rel, buf, sizeof(buf)), sizeof(msg) - 1);
	assert_int_equal(tmd_count(t->folder, "tmp"), 0);
	assert_int_equal(tmd_count(t->folder, "new"), 1);
	assert_int_equal(tmd_count(t->folder, "cur"), 1);

	/* The same stable name is never overwritten unless asked. */
	assert_int_equal(maildir_msg_write(&t->d, &t->g, &p, 0,
					   "Subject: hY\r\n\r\nbody\r\n", 21, name,
					   sizeof(name), &err), MS_EIO);
	assert_non_null(strstr(err.msg, t->folder));
	assert_non_null(strstr(err.msg, strerror(EEXIST)));
	assert_int_equal(tmd_count(t->folder, "tmp"), 0);
	assert_int_equal(tmd_get(t->folder, rel, buf, sizeof(buf)), sizeof(msg) - 1);
	/* With MAILDIR_WRITE_REPLACE the file is replaced in one rename. */
	assert_int_equal(maildir_msg_write(&t->d, &t->g, &p, MAILDIR_WRITE_REPLACE,
					   "Subject: hX\r\n\r\nbody\r\n", 21, name,
					   sizeof(name), &err), MS_OK);
	assert_int_equal(tmd_get(t->folder, rel, buf, sizeof(buf)), 21);
	assert_memory_equal(buf, "Subject: hX", 11);
	assert_int_equal(tmd_count(t->folder, "cur"), 1);
	assert_int_equal(tmd_count(t->folder, "tmp"), 0);
}

static void
test_streamed_chunks(void **state)
{
	struct wt *t = *state;
	struct ms_err err = { 0 };
	struct maildir_wfile w;
	struct maildir_name_params p = { .has_info = true, .flags = MAILDIR_FLAG_SEEN };
	char name[MAILDIR_NAME_MAX + 1], rel[600];
	size_t total = 300000, off = 0, step = 1;
	uint8_t *src = malloc(total), *back = malloc(total + 1);

	assert_non_null(src);
	assert_non_null(back);
	for (size_t i = 0; i < total; i++)
		src[i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(maildir_wfile_open(&w, &t->d, &t->g, &err), MS_OK);
	/* Chunks of growing, uneven sizes, as literal chunks arrive. */
	while (off < total) {
		size_t n = step < total - off ? step : total - off;

		assert_int_equal(maildir_wfile_write(&w, src + off, n, &err), MS_OK);
		off += n;
		step = step * 3 + 1;
		/* Not visible in new/ or cur/ while being written. */
		assert_int_equal(tmd_count(t->folder, "cur"), 0);
	}
	assert_int_equal(tmd_count(t->folder, "tmp"), 1);
	assert_int_equal(maildir_wfile_commit(&w, &p, 0, name, sizeof(name), &err), MS_OK);
	assert_non_null(strstr(name, ",S=300000:2,S"));
	snprintf(rel, sizeof(rel), "cur/%s", name);
	assert_int_equal(tmd_get(t->folder, rel, back, total + 1), (ssize_t)total);
	assert_memory_equal(back, src, total);
	assert_int_equal(tmd_count(t->folder, "tmp"), 0);

	/* Abort leaves nothing anywhere. */
	assert_int_equal(maildir_wfile_open(&w, &t->d, &t->g, &err), MS_OK);
	assert_int_equal(maildir_wfile_write(&w, src, 100, &err), MS_OK);
	maildir_wfile_abort(&w);
	maildir_wfile_abort(&w);
	assert_int_equal(tmd_count(t->folder, "tmp"), 0);
	assert_int_equal(tmd_count(t->folder, "cur"), 1);
	assert_int_equal(tmd_count(t->folder, "new"), 0);
	/* Writing to an aborted file is refused. */
	assert_int_equal(maildir_wfile_write(&w, src, 1, &err), MS_EINVAL);
	free(src);
	free(back);
}

static void
test_set_flags_and_remove(void **state)
{
	struct wt *t = *state;
	struct ms_err err = { 0 };
	char name[MAILDIR_NAME_MAX + 1], name2[MAILDIR_NAME_MAX + 1];
	char name3[MAILDIR_NAME_MAX + 1], rel[600];
	struct maildir_name_params p = { .id = "1-5-ab", .uid = 5 };
	bool vanished = true;
	char buf[8];

	assert_int_equal(maildir_msg_write(&t->d, &t->g, &p, 0, "abc", 3, name,
					   sizeof(name), &err), MS_OK);
	assert_string_equal(name, "1-5-ab,U=5,S=3");
	/* No flags: stays in new/. */
	assert_int_equal(maildir_msg_set_flags(&t->d, MAILDIR_SUB_NEW, name, 0, name2,
					       sizeof(name2), &vanished, &err), MS_OK);
	assert_string_equal(name2, name);
	assert_int_equal(tmd_count(t->folder, "new"), 1);
	/* Seen: new/ -> cur/ with the suffix. */
	assert_int_equal(maildir_msg_set_flags(&t->d, MAILDIR_SUB_NEW, name,
					       MAILDIR_FLAG_SEEN, name2, sizeof(name2),
					       &vanished, &err), MS_OK);
	assert_string_equal(name2, "1-5-ab,U=5,S=3:2,S");
	assert_false(vanished);
	assert_int_equal(tmd_count(t->folder, "new"), 0);
	/* Within cur/: sorted letters, keyword letters as given. */
	assert_int_equal(maildir_msg_set_flags(&t->d, MAILDIR_SUB_CUR, name2,
					       MAILDIR_FLAG_TRASHED | MAILDIR_FLAG_REPLIED |
					       MAILDIR_FLAG_BIT('b'),
					       name3, sizeof(name3), &vanished, &err), MS_OK);
	assert_string_equal(name3, "1-5-ab,U=5,S=3:2,RTb");
	snprintf(rel, sizeof(rel), "cur/%s", name3);
	assert_int_equal(tmd_get(t->folder, rel, buf, sizeof(buf)), 3);
	/* Same flags: nothing to do. */
	assert_int_equal(maildir_msg_set_flags(&t->d, MAILDIR_SUB_CUR, name3,
					       MAILDIR_FLAG_TRASHED | MAILDIR_FLAG_REPLIED |
					       MAILDIR_FLAG_BIT('b'),
					       name2, sizeof(name2), &vanished, &err), MS_OK);
	assert_string_equal(name2, name3);
	/* The old name is gone: vanished, with the path in the message. */
	assert_int_equal(maildir_msg_set_flags(&t->d, MAILDIR_SUB_NEW, name,
					       MAILDIR_FLAG_SEEN, name2, sizeof(name2),
					       &vanished, &err), MS_EIO);
	assert_true(vanished);
	assert_non_null(strstr(err.msg, t->folder));
	assert_non_null(strstr(err.msg, name));
	/* Remove, then remove again. */
	assert_int_equal(maildir_msg_remove(&t->d, MAILDIR_SUB_CUR, name3, &vanished,
					    &err), MS_OK);
	assert_false(vanished);
	assert_int_equal(tmd_count(t->folder, "cur"), 0);
	assert_int_equal(maildir_msg_remove(&t->d, MAILDIR_SUB_CUR, name3, &vanished,
					    &err), MS_EIO);
	assert_true(vanished);
	/* A dot file is not a message. */
	assert_int_equal(maildir_msg_set_flags(&t->d, MAILDIR_SUB_CUR, ".x", 0, name2,
					       sizeof(name2), NULL, &err), MS_EINVAL);
}

static void
test_syncfs(void **state)
{
	struct wt *t = *state;
	struct ms_err err = { 0 };

	assert_int_equal(maildir_syncfs(t->d.fd, &err), MS_OK);
	assert_int_equal(maildir_syncfs(-1, &err), MS_EIO);
	assert_non_null(strstr(err.msg, "syncfs"));
}

static void
test_clean_tmp(void **state)
{
	struct wt *t = *state;
	struct ms_err err = { 0 };
	struct timespec old[2] = { { .tv_sec = time(NULL) - 48 * 3600 },
				   { .tv_sec = time(NULL) - 48 * 3600 } };
	unsigned removed = 99;
	char path[1200];

	assert_int_equal(tmd_put(t->folder, "tmp/old.crashed", "x", 1), 0);
	assert_int_equal(tmd_put(t->folder, "tmp/young.writing", "x", 1), 0);
	assert_int_equal(tmd_mkdirs(t->folder, "tmp/olddir"), 0);
	snprintf(path, sizeof(path), "%s/tmp/old.crashed", t->folder);
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	snprintf(path, sizeof(path), "%s/tmp/olddir", t->folder);
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(maildir_dir_clean_tmp(&t->d, time(NULL) - 36 * 3600, &removed,
					       &err), MS_OK);
	/* Only the old file; a directory is left alone. */
	assert_int_equal(removed, 1);
	assert_int_equal(tmd_count(t->folder, "tmp"), 2);
	assert_int_equal(tmd_get(t->folder, "tmp/old.crashed", path, 4), -1);
}

/*
 * A real full file system: a 64 KiB tmpfs.  We run as root in CI, so we
 * can mount; elsewhere the test is skipped.
 */
static void
test_enospc_leaves_nothing(void **state)
{
	struct wt *t = *state;
	struct ms_err err = { 0 };
	char mnt[1024], folder[1200], name[MAILDIR_NAME_MAX + 1];
	struct maildir_dir d;
	struct maildir_wfile w;
	struct maildir_name_params p = { .has_info = true };
	size_t big = 1 << 20;
	char *data = calloc(1, big);
	int rc, rc2 = MS_OK;	/* stays MS_OK, failing the test, if the open fails */

	assert_non_null(data);
	snprintf(mnt, sizeof(mnt), "%s/small", t->root);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
		free(data);
		skip();
	}
	snprintf(folder, sizeof(folder), "%s/INBOX", mnt);
	rc = maildir_dir_open(&d, folder, folder, true, NULL, &err);
	if (rc == MS_OK) {
		rc = maildir_msg_write(&d, &t->g, &p, 0, data, big, name, sizeof(name), &err);
		/* Streaming fails the same way and cleans up too. */
		rc2 = maildir_wfile_open(&w, &d, &t->g, &err);
		for (int i = 0; rc2 == MS_OK && i < 64; i++)
			rc2 = maildir_wfile_write(&w, data, 4096, &err);
		if (rc2 == MS_OK)
			maildir_wfile_abort(&w);
		maildir_dir_close(&d);
	}
	assert_int_equal(rc, MS_EIO);
	assert_non_null(strstr(err.msg, folder));
	assert_non_null(strstr(err.msg, strerror(ENOSPC)));
	assert_int_equal(rc2, MS_EIO);
	assert_int_equal(tmd_count(folder, "tmp"), 0);
	assert_int_equal(tmd_count(folder, "new"), 0);
	assert_int_equal(tmd_count(folder, "cur"), 0);
	assert_int_equal(umount(mnt), 0);
	free(data);
}

static unsigned tw_nreports;
static char tw_report[1200];

static void
tw_report_cb(const char *path, const char *why, void *arg)
{
	(void)arg;
	tw_nreports++;
	snprintf(tw_report, sizeof(tw_report), "%s: %s", path, why);
}

/*
 * Below the root nothing is followed: a link to another tree, or a FIFO
 * where a directory should be, is reported and refused, with create too,
 * and nothing is made beyond it.  A link as the root is the user's.
 */
static void
test_open_no_follow(void **state)
{
	struct wt *t = *state;
	struct maildir_report rep;
	struct maildir_dir d;
	struct ms_err err = { 0 };
	char acct[1100], other[1200], link[1200], path[1300], want[1400];

	maildir_report_init(&rep, tw_report_cb, NULL);
	tw_nreports = 0;
	snprintf(acct, sizeof(acct), "%s/acct", t->root);
	snprintf(other, sizeof(other), "%s/other", t->root);
	assert_int_equal(tmd_mkmaildir(t->root, "other/dev"), 0);
	snprintf(link, sizeof(link), "%s/Links", acct);
	assert_int_equal(symlink(other, link), 0);
	alarm(10);
	snprintf(path, sizeof(path), "%s/dev", link);
	assert_int_equal(maildir_dir_open(&d, acct, path, false, &rep, &err),
			 MS_EINVAL);
	snprintf(want, sizeof(want), "%s: symbolic link, not followed", link);
	assert_string_equal(tw_report, want);
	snprintf(path, sizeof(path), "%s/new/sub", link);
	assert_int_equal(maildir_dir_open(&d, acct, path, true, &rep, &err),
			 MS_EINVAL);
	assert_int_equal(tmd_count(other, "new"), -1);	/* nothing made */
	assert_int_equal(tw_nreports, 1);	/* once per path */

	/* cur/ as a link to another Maildir's cur/. */
	assert_int_equal(tmd_mkmaildir(acct, "F"), 0);
	snprintf(path, sizeof(path), "%s/F/cur", acct);
	assert_int_equal(rmdir(path), 0);
	snprintf(want, sizeof(want), "%s/dev/cur", other);
	assert_int_equal(symlink(want, path), 0);
	snprintf(path, sizeof(path), "%s/F", acct);
	assert_int_equal(maildir_dir_open(&d, acct, path, false, &rep, &err),
			 MS_EINVAL);
	assert_non_null(strstr(tw_report, "/F/cur: symbolic link"));

	/* A FIFO where a directory should be: refused, not opened. */
	snprintf(path, sizeof(path), "%s/fifo", acct);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/fifo/x", acct);
	assert_int_equal(maildir_dir_open(&d, acct, path, true, &rep, &err),
			 MS_EINVAL);
	assert_non_null(strstr(tw_report, "/fifo: not a directory"));
	alarm(0);

	/* The root itself may be a link. */
	snprintf(path, sizeof(path), "%s/dev", link);
	assert_int_equal(maildir_dir_open(&d, link, path, false, &rep, &err),
			 MS_OK);
	maildir_dir_close(&d);
	maildir_report_deinit(&rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_layout, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_open_no_follow, wt_setup,
						wt_teardown),
		cmocka_unit_test_setup_teardown(test_write_new_and_cur, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_streamed_chunks, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_set_flags_and_remove, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_syncfs, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_clean_tmp, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_enospc_leaves_nothing, wt_setup, wt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
