/*
 * test_mirror_scan_job.c - daemon/mirror/mirror_scan_job.c: the mirror
 * scan on the threadpool.  It records what a direct scan records (renames
 * to new flags in more batches than one, a deletion, readers' new files, a bare-LF file, a new folder, a
 * file left alone reported through the caller's report); a cancel while
 * it runs ends it with MS_ECANCELED and closes cleanly, and a scan after
 * it records the rest, each change once; a loop timer keeps firing while
 * the scan runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "mirror/mirror_scan_job.h"
#include "test_maildir_util.h"
#include "test_store_util.h"

#define SJ_WAIT_MS 20000	/* bound on every wait */

struct sj {
	char *sdir;
	char root[4200];
	struct store *s;
	uint32_t inbox;
	struct maildir_report rep;
	unsigned nreports;
	struct mirror_params p;
	uv_loop_t loop;
	uv_timer_t tick;
	unsigned ticks;			/* while the job ran */
	struct mirror_scan_job *job;
	bool is_done;
	int rc;
	struct mirror_stats st;
};

static void
sj_report_cb(const char *path, const char *why, void *arg)
{
	struct sj *t = arg;

	(void)path;
	(void)why;
	t->nreports++;
}

static uint64_t
sj_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sj_tick(uv_timer_t *h)
{
	struct sj *t = h->data;

	if (t->job != NULL)
		t->ticks++;
}

/* INBOX with n messages (uids 1..n, \Seen), exported. */
static void
sj_setup(struct sj *t, unsigned n)
{
	struct store_folder_state fs = { .uidvalidity = 7, .uidnext = n + 1 };
	struct mirror_stats st = { 0 };
	struct store_batch *b;
	struct ms_err err = { 0 };
	char text[200];

	memset(t, 0, sizeof(*t));
	t->sdir = tsu_tmpdir();
	snprintf(t->root, sizeof(t->root), "%s/mail", t->sdir);
	t->s = tsu_open(t->sdir, 0);
	maildir_report_init(&t->rep, sj_report_cb, t);
	t->p = (struct mirror_params){ .account = "acct", .root = t->root,
				       .rep = &t->rep };
	assert_int_equal(store_folder_ensure(t->s, "acct", "INBOX", '/', 0,
					     &t->inbox, &err), MS_OK);
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_folder_state(b, t->inbox, &fs,
						  STORE_FS_UIDVALIDITY |
						  STORE_FS_UIDNEXT), MS_OK);
	for (unsigned uid = 1; uid <= n; uid++) {
		snprintf(text, sizeof(text), "Subject: m%u\r\n\r\nbody %u\r\n",
			 uid, uid);
		tsu_add(b, t->s, t->inbox, uid, text);
	}
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(mirror_export(t->s, &t->p, &st, &err), MS_OK);
	assert_int_equal(st.written, n);
	assert_int_equal(uv_loop_init(&t->loop), 0);
	uv_timer_init(&t->loop, &t->tick);
	t->tick.data = t;
	uv_timer_start(&t->tick, sj_tick, 1, 1);
}

static void
sj_teardown(struct sj *t)
{
	uv_close((uv_handle_t *)&t->tick, NULL);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	/* Nothing of the job is left on the loop. */
	assert_int_equal(uv_loop_close(&t->loop), 0);
	maildir_report_deinit(&t->rep);
	store_close(&t->s);
	tsu_rmdir(t->sdir);
}

static void
sj_on_done(struct mirror_scan_job *j, int rc, const struct mirror_stats *st,
	   const struct ms_err *err, void *arg)
{
	struct sj *t = arg;

	assert_ptr_equal(j, t->job);
	if (rc < 0 && rc != MS_ECANCELED)
		print_message("scan: %s\n", err->msg);
	t->job = NULL;
	t->is_done = true;
	t->rc = rc;
	t->st = *st;
}

static void
sj_start(struct sj *t)
{
	struct ms_err err = { 0 };

	t->is_done = false;
	t->job = mirror_scan_job_start(&t->loop, t->s, &t->p, sj_on_done, t,
				       &err);
	assert_non_null(t->job);
}

static void
sj_wait(struct sj *t)
{
	uint64_t start = sj_now_ms();

	while (!t->is_done && sj_now_ms() - start < SJ_WAIT_MS)
		uv_run(&t->loop, UV_RUN_ONCE);
	assert_true(t->is_done);
}

/* Renames the files of uids first..last (from cur/) to :2,<letters>. */
static void
sj_reader_flags(struct sj *t, uint32_t first, uint32_t last,
		const char *letters)
{
	char from[8400], to[8500];
	struct store_msg m;
	struct ms_err err = { 0 };

	for (uint32_t uid = first; uid <= last; uid++) {
		assert_int_equal(store_msg_get(t->s, t->inbox, uid, &m, &err),
				 MS_OK);
		snprintf(from, sizeof(from), "%s/cur/%s", t->root, m.mirror_name);
		snprintf(to, sizeof(to), "%s/cur/%.*s:2,%s", t->root,
			 (int)strcspn(m.mirror_name, ":"), m.mirror_name,
			 letters);
		assert_int_equal(rename(from, to), 0);
	}
}

/* n new files in INBOX's new/ (a reader's new messages). */
static void
sj_reader_new(struct sj *t, unsigned first, unsigned n)
{
	char rel[64], text[200];

	for (unsigned i = first; i < first + n; i++) {
		snprintf(rel, sizeof(rel), "new/1700000000.R%u.reader", i);
		snprintf(text, sizeof(text), "Subject: reader %u\r\n\r\nnew %u\r\n",
			 i, i);
		assert_int_equal(tmd_put(t->root, rel, text, strlen(text)), 0);
	}
}

/* Pending changes of a kind, and every one of them. */
static size_t
sj_changes(struct sj *t, enum store_change_kind kind, size_t *all_r)
{
	struct store_change *ch = NULL;
	struct ms_err err = { 0 };
	size_t n = 0, k = 0;

	assert_int_equal(store_change_list(t->s, 0, 100000, &ch, &n, &err),
			 MS_OK);
	for (size_t i = 0; i < n; i++)
		k += ch[i].kind == kind;
	free(ch);
	if (all_r != NULL)
		*all_r = n;
	return k;
}

static void
test_scan_job_records(void **state)
{
	struct sj t;
	struct mirror_stats st = { 0 };
	struct store_msg m;
	struct ms_err err = { 0 };
	char path[8400], buf[64];
	size_t all;

	(void)state;
	sj_setup(&t, 1300);
	/* 1200 renames: more than one of the job's batches. */
	sj_reader_flags(&t, 1, 1200, "FS");
	assert_int_equal(store_msg_get(t.s, t.inbox, 1300, &m, &err), MS_OK);
	snprintf(path, sizeof(path), "%s/cur/%s", t.root, m.mirror_name);
	assert_int_equal(unlink(path), 0);
	sj_reader_new(&t, 0, 3);
	assert_int_equal(tmd_put(t.root, "new/1700000001.R9.barelf",
				 "Subject: lf\n\nbare\n", 18), 0);
	assert_int_equal(tmd_mkmaildir(t.root, "Projects"), 0);
	assert_int_equal(tmd_mkdirs(t.root, "cur/not-a-message"), 0);
	sj_start(&t);
	sj_wait(&t);
	assert_int_equal(t.rc, MS_OK);
	assert_int_equal(t.st.flag_changes, 1200);
	assert_int_equal(t.st.deletes, 1);
	assert_int_equal(t.st.appends, 4);
	assert_int_equal(t.st.created, 1);
	/* The worker's report reached the caller's, once. */
	assert_int_equal(t.nreports, 1);
	/* Committed, each once. */
	assert_int_equal(sj_changes(&t, STORE_CHANGE_FLAGS, &all), 1200);
	assert_int_equal(all, 1205);
	assert_int_equal(sj_changes(&t, STORE_CHANGE_APPEND, NULL), 4);
	/* The bare-LF file is left as it is, under its name. */
	assert_int_equal(tmd_count(t.root, "new"), 4);
	assert_int_equal(tmd_get(t.root, "new/1700000001.R9.barelf", buf,
				 sizeof(buf)), 18);
	/* A second scan, direct, finds nothing more. */
	assert_int_equal(mirror_scan(t.s, &t.p, &st, &err), MS_OK);
	assert_int_equal(st.flag_changes + st.deletes + st.appends +
			 st.created, 0);
	assert_int_equal(store_check(t.s, 0, &err), MS_OK);
	sj_teardown(&t);
}

/*
 * A cancel while the job is in flight (after its first commit): the
 * callback says MS_ECANCELED, the loop closes with nothing left, and a
 * scan afterwards records the rest: every new file is one pending APPEND,
 * none lost, none twice.
 */
static void
test_scan_job_cancel_in_flight(void **state)
{
	enum { N = 3000 };
	struct sj t;
	struct mirror_stats st = { 0 };
	struct ms_err err = { 0 };
	uint64_t start;
	size_t n_before;

	(void)state;
	sj_setup(&t, 10);
	sj_reader_new(&t, 0, N);
	sj_start(&t);
	start = sj_now_ms();
	while (!t.is_done && sj_changes(&t, STORE_CHANGE_APPEND, NULL) == 0 &&
	       sj_now_ms() - start < SJ_WAIT_MS)
		uv_run(&t.loop, UV_RUN_NOWAIT);
	assert_false(t.is_done);	/* N files take longer than a batch */
	mirror_scan_job_cancel(t.job);
	mirror_scan_job_cancel(t.job);	/* a no-op */
	sj_wait(&t);
	assert_int_equal(t.rc, MS_ECANCELED);
	n_before = sj_changes(&t, STORE_CHANGE_APPEND, NULL);
	assert_true(n_before > 0);
	assert_true(n_before < N);
	/* The loop turned while the scan ran. */
	assert_true(t.ticks > 0);
	assert_int_equal(mirror_scan(t.s, &t.p, &st, &err), MS_OK);
	assert_int_equal(st.appends, N - n_before);
	assert_int_equal(sj_changes(&t, STORE_CHANGE_APPEND, NULL), N);
	assert_int_equal(store_check(t.s, 0, &err), MS_OK);
	sj_teardown(&t);
}

/* A cancel before the pool ran the job: the callback still fires, once. */
static void
test_scan_job_cancel_at_once(void **state)
{
	struct sj t;

	(void)state;
	sj_setup(&t, 10);
	sj_reader_flags(&t, 1, 5, "FS");
	sj_start(&t);
	mirror_scan_job_cancel(t.job);
	sj_wait(&t);
	assert_int_equal(t.rc, MS_ECANCELED);
	sj_teardown(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_job_records),
		cmocka_unit_test(test_scan_job_cancel_in_flight),
		cmocka_unit_test(test_scan_job_cancel_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
