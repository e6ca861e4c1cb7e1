/* test_mirror_job.c - the mirror export in steps on a libuv loop: the
 * export's work runs on the threadpool, not on the loop (shown by the
 * order of what the loop and the pool see, not by a time), a cancelled
 * export stops between steps and the next one finishes it, an export that
 * fails reports once; the result is the synchronous export's. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "mirror/mirror_job.h"
#include "test_maildir_util.h"
#include "test_store_util.h"

/* Enough that one synchronous export takes far longer than a slice. */
#define MJ_MSGS 4000
#define MJ_BODY 3000

struct mj {
	char *sdir;
	char root[4200];
	struct store *s;
	struct maildir_report rep;
	struct mirror_params p;
	uint32_t folders[2];
	/* the job's outcome */
	bool is_done;
	int rc;
	struct mirror_stats st;
	char err[256];
	/* the loop's responsiveness */
	uv_timer_t tick;
	uint64_t last_ns, max_gap_ns, ticks;
	unsigned cancel_after;		/* ticks; 0: never */
	struct mirror_job *job;
	/* test_responsive: the pool's one thread is held by a gate until
	 * the loop has ticked open_after times; a probe queued after the job
	 * counts the files the export has written when the pool reaches it. */
	unsigned open_after;		/* ticks; 0: no gate */
	uv_work_t gate, probe;
	uv_sem_t gate_sem;
	bool was_done_at_open;
	long files_at_open, files_at_probe;
	long files_at_start;
};

static void
mj_fill(struct mj *t)
{
	struct store_batch *b = NULL;
	struct ms_err err = { 0 };
	char *text = malloc(MJ_BODY + 1);

	assert_non_null(text);
	for (int f = 0; f < 2; f++) {
		struct store_folder_state fs = { .uidvalidity = 500 + (uint32_t)f,
						 .uidnext = MJ_MSGS + 1 };

		assert_int_equal(store_folder_ensure(t->s, "acct",
						     f == 0 ? "INBOX" : "Archive",
						     '/', 0, &t->folders[f], &err),
				 MS_OK);
		assert_int_equal(store_batch_new(t->s, &b), MS_OK);
		assert_int_equal(store_batch_folder_state(b, t->folders[f], &fs,
							  STORE_FS_UIDVALIDITY |
							  STORE_FS_UIDNEXT), MS_OK);
		for (uint32_t uid = 1; uid <= MJ_MSGS / 2; uid++) {
			struct store_msg m;
			int n = snprintf(text, MJ_BODY + 1, "Subject: %d-%u\r\n\r\n",
					 f, uid);

			memset(text + n, 'a' + (int)(uid % 26), MJ_BODY - (size_t)n);
			memset(&m, 0, sizeof(m));
			m.folder_id = t->folders[f];
			m.uid = uid;
			m.flags = uid % 3 == 0 ? STORE_FLAG_SEEN : 0;
			m.synced_flags = m.flags;
			assert_int_equal(store_batch_msg_add(b, &m,
							     tsu_body(t->s, text, MJ_BODY,
								      4096)), MS_OK);
			if (uid % 500 == 0)
				assert_int_equal(store_batch_commit(b, &err), MS_OK);
		}
		assert_int_equal(store_batch_commit(b, &err), MS_OK);
		store_batch_free(&b);
	}
	free(text);
}

static int
mj_setup(void **state)
{
	struct mj *t = calloc(1, sizeof(*t));

	t->sdir = tsu_tmpdir();
	snprintf(t->root, sizeof(t->root), "%s/mail", t->sdir);
	t->s = tsu_open(t->sdir, 0);
	maildir_report_init(&t->rep, NULL, NULL);
	t->p.account = "acct";
	t->p.root = t->root;
	t->p.rep = &t->rep;
	mj_fill(t);
	*state = t;
	return 0;
}

static int
mj_teardown(void **state)
{
	struct mj *t = *state;
	struct ms_err err = { 0 };

	assert_int_equal(store_check(t->s, 0, &err), MS_OK);
	maildir_report_deinit(&t->rep);
	store_close(&t->s);
	tsu_rmdir(t->sdir);
	free(t);
	return 0;
}

static void
mj_check(struct mj *t)
{
	struct ms_err err = { 0 };

	if (mirror_check(t->s, &t->p, 0, &err) != MS_OK)
		fail_msg("check: %s", err.msg);
}

static void
mj_on_done(struct mirror_job *j, int rc, const struct mirror_stats *st,
	   const struct ms_err *err, void *arg)
{
	struct mj *t = arg;

	(void)j;
	t->is_done = true;
	t->rc = rc;
	t->st = *st;
	snprintf(t->err, sizeof(t->err), "%s", err->msg);
	t->job = NULL;
	uv_timer_stop(&t->tick);
}

/* Messages written under root so far: files in new/ and cur/. */
static long mj_nfiles;

static int
mj_count_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	if (flag == FTW_F && f->base >= 5 &&
	    (strncmp(path + f->base - 5, "/new/", 5) == 0 ||
	     strncmp(path + f->base - 5, "/cur/", 5) == 0))
		mj_nfiles++;
	return 0;
}

static long
mj_count_files(const char *root)
{
	mj_nfiles = 0;
	if (nftw(root, mj_count_cb, 16, FTW_PHYS) != 0 && errno != ENOENT)
		fail_msg("listing %s: %s", root, strerror(errno));
	return mj_nfiles;
}

static void
mj_gate_work(uv_work_t *w)
{
	struct mj *t = w->data;

	uv_sem_wait(&t->gate_sem);
}

static void
mj_probe_work(uv_work_t *w)
{
	struct mj *t = w->data;

	t->files_at_probe = mj_count_files(t->root);
}

static void
mj_work_done(uv_work_t *w, int status)
{
	(void)w;
	assert_int_equal(status, 0);
}

static void
mj_on_tick(uv_timer_t *h)
{
	struct mj *t = h->data;
	uint64_t now = uv_hrtime();

	if (now - t->last_ns > t->max_gap_ns)
		t->max_gap_ns = now - t->last_ns;
	t->last_ns = now;
	t->ticks++;
	if (t->cancel_after != 0 && t->ticks == t->cancel_after)
		mirror_job_cancel(t->job);
	if (t->open_after != 0 && t->ticks == t->open_after) {
		t->was_done_at_open = t->is_done;
		t->files_at_open = mj_count_files(t->root);
		uv_sem_post(&t->gate_sem);
	}
}

/* Runs a job on a fresh loop with the 10 ms timer beside it. */
static void
mj_run(struct mj *t)
{
	uv_loop_t loop;
	struct ms_err err = { 0 };

	assert_int_equal(uv_loop_init(&loop), 0);
	t->is_done = false;
	t->ticks = t->max_gap_ns = 0;
	uv_timer_init(&loop, &t->tick);
	t->tick.data = t;
	t->gate.data = t->probe.data = t;
	if (t->open_after != 0)
		assert_int_equal(uv_queue_work(&loop, &t->gate, mj_gate_work,
					       mj_work_done), 0);
	t->job = mirror_job_start(&loop, t->s, &t->p, 0, mj_on_done, t, &err);
	if (t->job == NULL)
		fail_msg("start: %s", err.msg);
	if (t->open_after != 0) {
		t->files_at_start = mj_count_files(t->root);
		assert_int_equal(uv_queue_work(&loop, &t->probe, mj_probe_work,
					       mj_work_done), 0);
	}
	t->last_ns = uv_hrtime();
	uv_timer_start(&t->tick, mj_on_tick, 10, 10);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t->tick, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_true(t->is_done);
}

static double
mj_ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/*
 * The export's work runs on the threadpool, never on the loop: with the
 * pool's one thread held by a gate, the job starts and the loop keeps
 * ticking with nothing written; once the loop opens the gate, the export
 * is done on the pool before the probe queued after it runs there.  This
 * is an order of events, not a time, so a slow machine cannot fail it;
 * the longest gap between ticks is only printed.
 */
static void
test_responsive(void **state)
{
	struct mj *t = *state;
	struct mirror_stats st = { 0 };
	struct ms_err err = { 0 };
	uint64_t t0;

	assert_int_equal(uv_sem_init(&t->gate_sem, 0), 0);
	t->open_after = 3;
	mj_run(t);
	t->open_after = 0;
	uv_sem_destroy(&t->gate_sem);
	if (t->rc != MS_OK)
		fail_msg("export: %s", t->err);
	assert_int_equal(t->st.written, MJ_MSGS);
	printf("export of %d messages behind a gate: %ld files at start, %ld "
	       "when the loop opened it (tick 3), %ld when the pool reached "
	       "the probe; %llu ticks of 10 ms in all, longest gap %.1f ms\n",
	       MJ_MSGS, t->files_at_start, t->files_at_open, t->files_at_probe,
	       (unsigned long long)t->ticks, mj_ms(t->max_gap_ns));
	/* Starting it wrote nothing: its work waits for the pool... */
	assert_int_equal(t->files_at_start, 0);
	/* ...while the loop ran: three ticks and still nothing written... */
	assert_false(t->was_done_at_open);
	assert_int_equal(t->files_at_open, 0);
	/* ...and the pool's thread wrote it all before taking the probe. */
	assert_int_equal(t->files_at_probe, MJ_MSGS);
	assert_true(t->ticks >= 3);
	mj_check(t);
	/* Nothing more to do. */
	mj_run(t);
	assert_int_equal(t->rc, MS_OK);
	assert_int_equal(t->st.written + t->st.renamed + t->st.removed, 0);

	/* What the loop would have waited for without the pool: the same
	 * export in one call. */
	tmd_rmtree(t->root);
	t0 = uv_hrtime();
	if (mirror_export(t->s, &t->p, &st, &err) != MS_OK)
		fail_msg("export: %s", err.msg);
	printf("the same export in one call: %.1f ms\n",
	       mj_ms(uv_hrtime() - t0));
	assert_int_equal(st.written, MJ_MSGS);
	mj_check(t);
}

static void
test_cancel(void **state)
{
	struct mj *t = *state;
	struct mirror_stats st = { 0 };
	struct ms_err err = { 0 };
	uint64_t first;

	/* After 10 ms: the export needs far longer.  The callback comes at
	 * the next loop turn, or when work under way on the threadpool
	 * returns. */
	t->cancel_after = 1;
	mj_run(t);
	t->cancel_after = 0;
	assert_int_equal(t->rc, MS_ECANCELED);
	printf("cancelled at the first tick; the callback %llu ticks later: "
	       "%llu of %d written\n", (unsigned long long)t->ticks - 1,
	       (unsigned long long)t->st.written, MJ_MSGS);
	assert_true(t->st.written < MJ_MSGS);
	first = t->st.written;
	/* The next export finishes it: files written before the cancel are
	 * found by their names, not written again. */
	if (mirror_export(t->s, &t->p, &st, &err) != MS_OK)
		fail_msg("export: %s", err.msg);
	assert_int_equal(first + st.written, MJ_MSGS);
	mj_check(t);
}

static void
test_error(void **state)
{
	struct mj *t = *state;

	/* A root under a regular file cannot be made. */
	assert_int_equal(tmd_put(t->sdir, "file", "x", 1), 0);
	snprintf(t->root, sizeof(t->root), "%s/file/mail", t->sdir);
	mj_run(t);
	assert_true(t->rc < 0);
	assert_int_not_equal(t->rc, MS_ECANCELED);
	assert_true(t->err[0] != '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_responsive, mj_setup, mj_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, mj_setup, mj_teardown),
		cmocka_unit_test_setup_teardown(test_error, mj_setup, mj_teardown),
	};

	/* One pool thread, so that test_responsive's gate holds the pool
	 * (libuv reads it when the pool first starts). */
	setenv("UV_THREADPOOL_SIZE", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
