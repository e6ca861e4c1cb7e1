/* test_mirror_watch.c - daemon/mirror: a reader's rename and deletion,
 * seen through inotify, become committed pending changes through the
 * scan the watch asks for (run as the daemon runs it: a scan job on the
 * threadpool, one at a time, once more for events during a scan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "inotify_reader.h"
#include "mirror/mirror_scan_job.h"
#include "mirror/mirror_watch.h"
#include "test_maildir_util.h"
#include "test_store_util.h"

#define WAIT_MS 5000	/* bound on the wait; delivery takes ~DELAY_MS */
#define DELAY_MS 50

struct wt {
	uv_loop_t loop;
	uv_timer_t tick;
	struct inotify_reader *ino;
	struct mirror_watch *w;
	struct store *s;
	const struct mirror_params *p;
	struct mirror_scan_job *job;	/* the scan running */
	bool want_scan;			/* an event came during it */
	struct mirror_stats got;
	int calls;			/* scans that found something */
	int scans;
};

static void wt_scan(struct wt *t);

static void
wt_on_scan(struct mirror_scan_job *j, int rc, const struct mirror_stats *st,
	   const struct ms_err *err, void *arg)
{
	struct wt *t = arg;

	(void)j;
	t->job = NULL;
	t->scans++;
	if (rc < 0)
		fail_msg("scan: %s", err->msg);
	t->got.flag_changes += st->flag_changes;
	t->got.deletes += st->deletes;
	t->got.created += st->created;
	if (st->flag_changes + st->deletes + st->created > 0)
		t->calls++;
	if (t->want_scan)
		wt_scan(t);
}

static void
wt_scan(struct wt *t)
{
	struct ms_err err = { 0 };

	t->want_scan = t->job != NULL;
	if (t->job != NULL)
		return;
	t->job = mirror_scan_job_start(&t->loop, t->s, t->p, wt_on_scan, t,
				       &err);
	if (t->job == NULL)
		fail_msg("scan job: %s", err.msg);
}

static void
wt_cb(struct mirror_watch *w, const char *rel, void *arg)
{
	(void)w;
	(void)rel;
	wt_scan(arg);
}

static void
wt_tick(uv_timer_t *h)
{
	(void)h;	/* makes UV_RUN_ONCE return regularly */
}

static uint64_t
wt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A reader gives the file of (INBOX, uid) the letters. */
static void
wt_reader_flags(struct store *s, uint32_t folder, uint32_t uid,
		const char *root, const char *letters)
{
	char path[8400], to[8500];
	struct store_msg m;
	struct ms_err err = { 0 };

	assert_int_equal(store_msg_get(s, folder, uid, &m, &err), MS_OK);
	snprintf(path, sizeof(path), "%s/cur/%s", root, m.mirror_name);
	snprintf(to, sizeof(to), "%s/cur/%.*s:2,%s", root,
		 (int)strcspn(m.mirror_name, ":"), m.mirror_name, letters);
	assert_int_equal(rename(path, to), 0);
}

/* Runs the loop for ms milliseconds. */
static void
wt_run_for(struct wt *t, uint64_t ms)
{
	uint64_t start = wt_now_ms();

	while (wt_now_ms() - start < ms)
		uv_run(&t->loop, UV_RUN_ONCE);
}

static void
test_watch_scans(void **state)
{
	struct wt t = { 0 };
	char *sdir = tsu_tmpdir(), root[4200], path[8400];
	struct store *s = tsu_open(sdir, 0);
	struct store_folder_state fs = { .uidvalidity = 5, .uidnext = 3 };
	struct maildir_report rep;
	struct mirror_params p = { .account = "acct", .root = root, .rep = &rep };
	struct mirror_stats st = { 0 };
	struct store_batch *b;
	struct store_change *ch = NULL;
	struct store_msg m;
	struct ms_err err = { 0 };
	uint32_t inbox;
	uint64_t start;
	size_t n;

	(void)state;
	snprintf(root, sizeof(root), "%s/mail", sdir);
	maildir_report_init(&rep, NULL, NULL);
	assert_int_equal(store_folder_ensure(s, "acct", "INBOX", '/', 0, &inbox,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	assert_int_equal(store_batch_folder_state(b, inbox, &fs,
						  STORE_FS_UIDVALIDITY), MS_OK);
	tsu_add(b, s, inbox, 1, "Subject: one\r\n\r\n1\r\n");	/* \Seen */
	tsu_add(b, s, inbox, 2, "Subject: two\r\n\r\n2\r\n");
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(mirror_export(s, &p, &st, &err), MS_OK);

	assert_int_equal(uv_loop_init(&t.loop), 0);
	uv_timer_init(&t.loop, &t.tick);
	uv_timer_start(&t.tick, wt_tick, 10, 10);
	t.s = s;
	t.p = &p;
	assert_int_equal(inotify_reader_new(&t.loop, &t.ino, &err), MS_OK);
	t.w = mirror_watch_new(&t.loop, t.ino, root, MAILDIR_LAYOUT_VERBATIM, &rep, DELAY_MS, wt_cb, &t, &err);
	assert_non_null(t.w);
	/* The reader flags uid 1 and deletes uid 2. */
	wt_reader_flags(s, inbox, 1, root, "FS");
	assert_int_equal(store_msg_get(s, inbox, 2, &m, &err), MS_OK);
	snprintf(path, sizeof(path), "%s/cur/%s", root, m.mirror_name);
	assert_int_equal(unlink(path), 0);
	start = wt_now_ms();
	while ((t.got.flag_changes < 1 || t.got.deletes < 1) &&
	       wt_now_ms() - start < WAIT_MS)
		uv_run(&t.loop, UV_RUN_ONCE);
	assert_int_equal(t.got.flag_changes, 1);
	assert_int_equal(t.got.deletes, 1);
	/* Committed: another store handle would see them now. */
	assert_int_equal(store_change_list(s, 0, 10, &ch, &n, &err), MS_OK);
	assert_int_equal(n, 2);
	free(ch);
	/* Our own export raises events too; the scans after it find
	 * nothing, so no callback. */
	while (t.job != NULL)	/* no export while a scan runs */
		uv_run(&t.loop, UV_RUN_ONCE);
	t.calls = 0;
	assert_int_equal(mirror_export(s, &p, &st, &err), MS_OK);
	wt_run_for(&t, 4 * DELAY_MS);
	assert_int_equal(t.calls, 0);
	assert_int_equal(mirror_check(s, &p, MIRROR_CHECK_CONTENT, &err), MS_OK);

	/* Paused (a pass runs): nothing scans until resumed. */
	while (t.job != NULL)
		uv_run(&t.loop, UV_RUN_ONCE);
	mirror_watch_pause(t.w);
	wt_reader_flags(s, inbox, 1, root, "S");
	wt_run_for(&t, 4 * DELAY_MS);
	assert_int_equal(t.calls, 0);
	mirror_watch_resume(t.w);
	start = wt_now_ms();
	while (t.calls < 1 && wt_now_ms() - start < WAIT_MS)
		uv_run(&t.loop, UV_RUN_ONCE);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.got.flag_changes, 2);	/* F removed */

	/* A reader makes an empty folder: a change to push (CREATE). */
	assert_int_equal(tmd_mkmaildir(root, "Projects"), 0);
	start = wt_now_ms();
	while (t.got.created < 1 && wt_now_ms() - start < WAIT_MS)
		uv_run(&t.loop, UV_RUN_ONCE);
	assert_int_equal(t.got.created, 1);
	assert_int_equal(t.calls, 2);

	mirror_watch_close(t.w);
	inotify_reader_close(t.ino);
	while (t.job != NULL)
		uv_run(&t.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t.tick, NULL);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&t.loop), 0);
	maildir_report_deinit(&rep);
	store_close(&s);
	tsu_rmdir(sdir);
}

struct wt_rels {
	int n, n_any;		/* calls; with rel NULL */
};

static void
wt_rels_cb(struct mirror_watch *w, const char *rel, void *arg)
{
	struct wt_rels *r = arg;

	(void)w;
	r->n++;
	r->n_any += rel == NULL;
}

/*
 * The kernel drops events when its inotify queue fills before the loop
 * reads it (a reader's big move while the loop is busy): the change in
 * "other", made after the queue filled, has no event of its own, so the
 * watch asks for a scan of everything (rel NULL), not of nothing.
 */
static void
test_overflow_scans_everything(void **state)
{
	struct wt_rels r = { 0 };
	uv_loop_t loop;
	uv_timer_t tick;
	struct inotify_reader *ino = NULL;
	struct mirror_watch *w;
	struct ms_err err = { 0 };
	char *root = tmd_mkdtemp(), a[1200], b[1200];
	long max = -1;
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	uint64_t start;

	(void)state;
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &max), 1);
	fclose(f);
	assert_int_equal(tmd_mkmaildir(root, ""), 0);
	assert_int_equal(tmd_mkmaildir(root, "other"), 0);
	assert_int_equal(tmd_put(root, "cur/1.flip.host:2,", "x", 1), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, wt_tick, 10, 10);
	assert_int_equal(inotify_reader_new(&loop, &ino, &err), MS_OK);
	w = mirror_watch_new(&loop, ino, root, MAILDIR_LAYOUT_VERBATIM, NULL, DELAY_MS, wt_rels_cb, &r, &err);
	assert_non_null(w);
	/* A reader flips a flag back and forth: two events a rename. */
	snprintf(a, sizeof(a), "%s/cur/1.flip.host:2,", root);
	snprintf(b, sizeof(b), "%s/cur/1.flip.host:2,S", root);
	for (long i = 0; i < max; i++)
		assert_int_equal(rename(i % 2 == 0 ? a : b, i % 2 == 0 ? b : a), 0);
	assert_int_equal(tmd_put(root, "other/new/2.lost.host", "x", 1), 0);
	start = wt_now_ms();
	while (r.n_any == 0 && wt_now_ms() - start < WAIT_MS)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(r.n_any, 1);
	mirror_watch_close(w);
	inotify_reader_close(ino);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	tmd_rmtree(root);
	free(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_scans),
		cmocka_unit_test(test_overflow_scans_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
