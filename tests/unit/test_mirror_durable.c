/* test_mirror_durable.c - batched durability of the Maildir mirror
 * (mirror/mirror_durable.h): an export with marks moves no watermark; a
 * crash before the flush (the marks lost) costs a re-write, never a
 * deletion; within the process a reader's deletion of a fresh file is
 * recorded; the flush commits the marks after its syncfs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <unistd.h>

#include <uv.h>

#include "mirror/mirror.h"
#include "test_maildir_util.h"
#include "test_store_util.h"

#define MD_MSGS 5

struct md {
	char *sdir;
	char root[4200];
	struct store *s;
	struct maildir_report rep;
	struct mirror_marks marks;
	struct mirror_params p;		/* with the marks */
	struct mirror_params p_crash;	/* a new process: no marks */
	uint32_t folder;
	bool is_flushed;
	int flush_rc;
};

static int
md_setup(void **state)
{
	struct md *t = calloc(1, sizeof(*t));
	struct store_batch *b = NULL;
	struct store_folder_state fs = { .uidvalidity = 7,
					 .uidnext = MD_MSGS + 1 };
	struct ms_err err = { 0 };

	t->sdir = tsu_tmpdir();
	snprintf(t->root, sizeof(t->root), "%s/mail", t->sdir);
	t->s = tsu_open(t->sdir, 0);
	maildir_report_init(&t->rep, NULL, NULL);
	assert_int_equal(mirror_marks_init(&t->marks), MS_OK);
	t->p.account = "acct";
	t->p.root = t->root;
	t->p.rep = &t->rep;
	t->p_crash = t->p;
	t->p.marks = &t->marks;
	assert_int_equal(store_folder_ensure(t->s, "acct", "INBOX", '/', 0,
					     &t->folder, &err), MS_OK);
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_folder_state(b, t->folder, &fs,
						  STORE_FS_UIDVALIDITY |
						  STORE_FS_UIDNEXT), MS_OK);
	for (uint32_t uid = 1; uid <= MD_MSGS; uid++) {
		char text[64];

		snprintf(text, sizeof(text), "Subject: %u\r\n\r\nbody %u\r\n",
			 uid, uid);
		tsu_add(b, t->s, t->folder, uid, text);
	}
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	*state = t;
	return 0;
}

static int
md_teardown(void **state)
{
	struct md *t = *state;
	struct ms_err err = { 0 };

	assert_int_equal(store_check(t->s, 0, &err), MS_OK);
	mirror_marks_deinit(&t->marks);
	maildir_report_deinit(&t->rep);
	store_close(&t->s);
	tsu_rmdir(t->sdir);
	free(t);
	return 0;
}

static uint64_t
md_watermark(struct md *t)
{
	struct store_folder f;
	struct ms_err err = { 0 };

	assert_int_equal(store_folder_get(t->s, t->folder, &f, &err), MS_OK);
	return f.state.mirror_durable;
}

static size_t
md_pending(struct md *t)
{
	struct store_change *ch = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;

	assert_int_equal(store_change_list(t->s, 0, 100, &ch, &n, &err), MS_OK);
	free(ch);
	return n;
}

/* Removes one message file of the root Maildir (INBOX), as a crash that
 * lost it, or a reader, would. */
static void
md_remove_one(struct md *t)
{
	char dir[4300], path[4600];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/cur", t->root);
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL && e->d_name[0] == '.')
		;
	assert_non_null(e);
	snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
	assert_int_equal(unlink(path), 0);
	closedir(d);
}

static void
md_export(struct md *t, const struct mirror_params *p,
	  struct mirror_stats *st)
{
	struct ms_err err = { 0 };

	memset(st, 0, sizeof(*st));
	if (mirror_export(t->s, p, st, &err) != MS_OK)
		fail_msg("export: %s", err.msg);
}

static void
md_scan(struct md *t, const struct mirror_params *p, struct mirror_stats *st)
{
	struct ms_err err = { 0 };

	memset(st, 0, sizeof(*st));
	if (mirror_scan(t->s, p, st, &err) != MS_OK)
		fail_msg("scan: %s", err.msg);
}

static void
md_on_flush(int rc, const struct ms_err *err, void *arg)
{
	struct md *t = arg;

	(void)err;
	t->is_flushed = true;
	t->flush_rc = rc;
}

static void
md_flush(struct md *t)
{
	uv_loop_t loop;
	struct ms_err err = { 0 };

	assert_int_equal(uv_loop_init(&loop), 0);
	t->is_flushed = false;
	if (mirror_durable_start(&loop, t->s, t->root, &t->marks, md_on_flush,
				 t, &err) == NULL)
		fail_msg("flush: %s", err.msg);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_true(t->is_flushed);
	assert_int_equal(t->flush_rc, MS_OK);
}

/* An export with marks writes the files and leaves the watermark. */
static void
test_export_marks(void **state)
{
	struct md *t = *state;
	struct mirror_stats st;
	struct ms_err err = { 0 };
	uint64_t bytes = 0;

	md_export(t, &t->p, &st);
	assert_int_equal(st.written, MD_MSGS);
	assert_int_equal(mirror_check(t->s, &t->p, MIRROR_CHECK_CONTENT, &err),
			 MS_OK);
	assert_int_equal(md_watermark(t), 0);
	assert_true(mirror_marks_get(&t->marks, t->folder) > 0);
	assert_true(mirror_marks_is_due(&t->marks, &bytes));
	assert_true(bytes > 0);
}

/* A crash before the flush: the new process has no marks.  The file the
 * crash lost is no reader's deletion; export writes it again. */
static void
test_crash_before_flush(void **state)
{
	struct md *t = *state;
	struct mirror_stats st;
	struct ms_err err = { 0 };

	md_export(t, &t->p, &st);
	md_remove_one(t);
	md_scan(t, &t->p_crash, &st);
	assert_int_equal(st.deletes, 0);
	assert_int_equal(md_pending(t), 0);
	md_export(t, &t->p_crash, &st);
	assert_int_equal(st.written, 1);
	assert_int_equal(mirror_check(t->s, &t->p_crash, MIRROR_CHECK_CONTENT,
				      &err), MS_OK);
}

/* In the process that wrote it, a fresh file that is gone was removed by
 * a reader: recorded, and the export does not bring it back. */
static void
test_reader_delete_before_flush(void **state)
{
	struct md *t = *state;
	struct mirror_stats st;

	md_export(t, &t->p, &st);
	md_remove_one(t);
	md_scan(t, &t->p, &st);
	assert_int_equal(st.deletes, 1);
	assert_int_equal(md_pending(t), 1);
	md_export(t, &t->p, &st);
	assert_int_equal(st.written, 0);
}

/* The flush commits the marks; after it, a new process counts the files
 * as durable: one that is gone is a reader's deletion. */
static void
test_flush(void **state)
{
	struct md *t = *state;
	struct mirror_stats st;
	uint64_t mark;

	md_export(t, &t->p, &st);
	mark = mirror_marks_get(&t->marks, t->folder);
	md_flush(t);
	assert_int_equal(md_watermark(t), mark);
	assert_false(mirror_marks_is_due(&t->marks, NULL));
	/* Nothing due: a second flush commits nothing and succeeds. */
	md_flush(t);
	md_remove_one(t);
	md_scan(t, &t->p_crash, &st);
	assert_int_equal(st.deletes, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_export_marks, md_setup,
						md_teardown),
		cmocka_unit_test_setup_teardown(test_crash_before_flush,
						md_setup, md_teardown),
		cmocka_unit_test_setup_teardown(test_reader_delete_before_flush,
						md_setup, md_teardown),
		cmocka_unit_test_setup_teardown(test_flush, md_setup,
						md_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
