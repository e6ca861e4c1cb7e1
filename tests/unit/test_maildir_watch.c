/* test_maildir_watch.c - daemon/maildir: debounced inotify watches over a
 * tree, on a shared inotify reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "inotify_reader.h"
#include "maildir/maildir_expect.h"
#include "maildir/maildir_watch.h"
#include "maildir/maildir_write.h"
#include "test_maildir_util.h"

#define DELAY_MS 100
/* Bound on every wait for a delivery, which takes ~DELAY_MS: a wait ends
 * as soon as it comes, so the bound can be far beyond what a loaded
 * machine needs without slowing the test. */
#define WAIT_MS 30000

struct got {
	int n;
	char rel[64][256];
	int what[64];
};

struct wt {
	uv_loop_t loop;
	uv_timer_t tick;
	struct inotify_reader *ino;
	char *root;
	struct maildir_watch *w;
	struct maildir_report rep;
	struct got got;
};

static void
watch_cb(struct maildir_watch *w, const char *rel, enum maildir_watch_what what,
	 void *arg)
{
	struct wt *t = arg;

	if (t->got.n < 64) {
		snprintf(t->got.rel[t->got.n], sizeof(t->got.rel[0]), "%s", rel);
		t->got.what[t->got.n] = (int)what;
	}
	t->got.n++;
}

static void
tick_cb(uv_timer_t *h)
{
	(void)h;	/* only makes UV_RUN_ONCE return regularly */
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
count_for(const struct wt *t, const char *rel, int what)
{
	int c = 0;

	for (int i = 0; i < t->got.n && i < 64; i++)
		if (strcmp(t->got.rel[i], rel) == 0 && t->got.what[i] == what)
			c++;
	return c;
}

/* Runs the loop until rel got what, or WAIT_MS pass; returns elapsed ms or -1. */
static long
wait_for(struct wt *t, const char *rel, int what)
{
	uint64_t start = now_ms();

	while (count_for(t, rel, what) == 0) {
		if (now_ms() - start > WAIT_MS)
			return -1;
		uv_run(&t->loop, UV_RUN_ONCE);
	}
	return (long)(now_ms() - start);
}

/* Runs the loop for ms milliseconds. */
static void
run_for(struct wt *t, uint64_t ms)
{
	uint64_t start = now_ms();

	while (now_ms() - start < ms)
		uv_run(&t->loop, UV_RUN_ONCE);
}

static int
wt_setup(void **state)
{
	struct wt *t = calloc(1, sizeof(*t));
	struct ms_err err = { 0 };

	if (t == NULL || (t->root = tmd_mkdtemp()) == NULL)
		return -1;
	if (tmd_mkmaildir(t->root, "") != 0 || tmd_mkmaildir(t->root, "a") != 0 ||
	    tmd_mkmaildir(t->root, "Lists/dev") != 0)
		return -1;
	if (tmd_put(t->root, "a/cur/1.x.host,S=1:2,", "x", 1) != 0)
		return -1;
	uv_loop_init(&t->loop);
	uv_timer_init(&t->loop, &t->tick);
	uv_timer_start(&t->tick, tick_cb, 20, 20);
	maildir_report_init(&t->rep, NULL, NULL);
	if (inotify_reader_new(&t->loop, &t->ino, &err) != MS_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	t->w = maildir_watch_new(&t->loop, t->ino, t->root, MAILDIR_LAYOUT_VERBATIM, DELAY_MS, watch_cb, t, &t->rep, &err);
	if (t->w == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	*state = t;
	return 0;
}

static int
wt_teardown(void **state)
{
	struct wt *t = *state;

	maildir_watch_close(t->w);
	maildir_watch_close(t->w);	/* idempotent */
	/* The watcher gave back every descriptor it held. */
	assert_int_equal(inotify_reader_count_wds(t->ino), 0);
	assert_int_equal(inotify_reader_count_owners(t->ino), 0);
	inotify_reader_close(t->ino);
	uv_close((uv_handle_t *)&t->tick, NULL);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	/* Every handle closed and freed: the loop closes cleanly. */
	assert_int_equal(uv_loop_close(&t->loop), 0);
	maildir_report_deinit(&t->rep);
	tmd_rmtree(t->root);
	free(t->root);
	free(t);
	return 0;
}

static void
test_initial_state(void **state)
{
	struct wt *t = *state;

	/* root, a, Lists, Lists/dev */
	assert_int_equal(maildir_watch_count_dirs(t->w), 4);
	/* Existing folders are not delivered at start. */
	run_for(t, 2 * DELAY_MS);
	assert_int_equal(t->got.n, 0);
}

static void
test_new_file_and_rename(void **state)
{
	struct wt *t = *state;
	char from[1200], to[1200];
	long ms;

	/* A message delivered the Maildir way: tmp/ then rename into new/. */
	assert_int_equal(tmd_put(t->root, "tmp/2.y.host", "hello", 5), 0);
	snprintf(from, sizeof(from), "%s/tmp/2.y.host", t->root);
	snprintf(to, sizeof(to), "%s/new/2.y.host", t->root);
	assert_int_equal(rename(from, to), 0);
	ms = wait_for(t, "", MAILDIR_WATCH_CHANGED);
	assert_true(ms >= 0);
	fprintf(stderr, "# new file delivered after %ld ms\n", ms);
	assert_int_equal(t->got.n, 1);

	/* A reader sets \Seen: a rename within cur/. */
	snprintf(from, sizeof(from), "%s/a/cur/1.x.host,S=1:2,", t->root);
	snprintf(to, sizeof(to), "%s/a/cur/1.x.host,S=1:2,S", t->root);
	assert_int_equal(rename(from, to), 0);
	ms = wait_for(t, "a", MAILDIR_WATCH_CHANGED);
	assert_true(ms >= 0);
	fprintf(stderr, "# rename delivered after %ld ms\n", ms);
	assert_int_equal(t->got.n, 2);

	/* A deletion in a nested folder. */
	assert_int_equal(tmd_put(t->root, "Lists/dev/new/3.z.host", "x", 1), 0);
	assert_true(wait_for(t, "Lists/dev", MAILDIR_WATCH_CHANGED) >= 0);
	snprintf(from, sizeof(from), "%s/Lists/dev/new/3.z.host", t->root);
	t->got.n = 0;
	assert_int_equal(unlink(from), 0);
	assert_true(wait_for(t, "Lists/dev", MAILDIR_WATCH_CHANGED) >= 0);
	/* Writes in tmp/ are not reported. */
	t->got.n = 0;
	assert_int_equal(tmd_put(t->root, "a/tmp/4.w.host", "x", 1), 0);
	run_for(t, 3 * DELAY_MS);
	assert_int_equal(t->got.n, 0);
}

static void
test_burst_coalesced(void **state)
{
	struct wt *t = *state;
	char name[64];

	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "new/%d.burst.host", i);
		assert_int_equal(tmd_put(t->root, name, "x", 1), 0);
	}
	assert_true(wait_for(t, "", MAILDIR_WATCH_CHANGED) >= 0);
	run_for(t, 3 * DELAY_MS);
	/* 200 files written in well under DELAY_MS: one delivery, two at most. */
	fprintf(stderr, "# 200 new files -> %d deliveries\n", t->got.n);
	assert_true(t->got.n >= 1 && t->got.n <= 2);
	assert_int_equal(count_for(t, "", MAILDIR_WATCH_CHANGED), t->got.n);
}

/*
 * A burst driven by the test's clock (maildir_burst_event()), as the
 * watcher's timer delivers it: events at at[0..n) (ms, increasing); the
 * timer fires before an event at or after the time the burst is due.
 * Returns the number of deliveries, their times in due_r (max of them).
 */
static int
burst_deliveries(const uint64_t *at, int n, unsigned delay_ms,
		 uint64_t *due_r, int max)
{
	struct maildir_burst b = { 0 };
	int k = 0;

	for (int i = 0; i <= n; i++) {
		if (b.is_open && (i == n || b.due_ms <= at[i])) {
			if (k < max)
				due_r[k] = b.due_ms;
			k++;
			b.is_open = false;	/* the timer's delivery */
		}
		if (i < n)
			(void)maildir_burst_event(&b, at[i], delay_ms);
	}
	return k;
}

/* A reader's burst with gaps shorter than the delay (a slow mutt, a
 * loaded machine) is delivered once it is quiet, not cut every delay;
 * with gaps longer than the delay, each event is a delivery. */
static void
test_slow_burst_held_together(void **state)
{
	uint64_t at[12], due[12];

	(void)state;
	/* 12 files over 4 delays: cut every delay it would be 4 or 5. */
	for (int i = 0; i < 12; i++)
		at[i] = 5000 + (uint64_t)i * (DELAY_MS / 3);
	assert_int_equal(burst_deliveries(at, 12, DELAY_MS, due, 12), 1);
	/* Once quiet for a delay after the last event. */
	assert_int_equal(due[0], at[11] + DELAY_MS);

	/* Quiet for more than a delay between files: one each. */
	for (int i = 0; i < 12; i++)
		at[i] = 5000 + (uint64_t)i * (2 * DELAY_MS);
	assert_int_equal(burst_deliveries(at, 12, DELAY_MS, due, 12), 12);
	for (int i = 0; i < 12; i++)
		assert_int_equal(due[i], at[i] + DELAY_MS);
}

/* A folder that never goes quiet is still delivered, at most
 * MAILDIR_WATCH_BURST_MAX delays after the burst began; the next burst
 * begins with the next event. */
static void
test_endless_burst_still_delivered(void **state)
{
	uint64_t at[100], due[100];

	(void)state;
	for (int i = 0; i < 100; i++)
		at[i] = 5000 + (uint64_t)i * (DELAY_MS / 4);
	/* 25 delays of events: held 10 delays each time, then the rest. */
	assert_int_equal(burst_deliveries(at, 100, DELAY_MS, due, 100), 3);
	assert_int_equal(due[0], at[0] + MAILDIR_WATCH_BURST_MAX * DELAY_MS);
	assert_int_equal(due[1], at[40] + MAILDIR_WATCH_BURST_MAX * DELAY_MS);
	assert_int_equal(due[2], at[99] + DELAY_MS);
}

static void
test_folders_appear_and_go(void **state)
{
	struct wt *t = *state;
	char path[1200];

	/* A reader creates a folder (as mutt does: dir, then cur/new/tmp). */
	assert_int_equal(tmd_mkmaildir(t->root, "b"), 0);
	assert_true(wait_for(t, "b", MAILDIR_WATCH_CHANGED) >= 0);
	assert_int_equal(maildir_watch_count_dirs(t->w), 5);
	/* Its new/ is watched now. */
	t->got.n = 0;
	assert_int_equal(tmd_put(t->root, "b/new/5.v.host", "x", 1), 0);
	assert_true(wait_for(t, "b", MAILDIR_WATCH_CHANGED) >= 0);

	/* A nested folder below a new plain directory. */
	assert_int_equal(tmd_mkmaildir(t->root, "x/y/z"), 0);
	assert_true(wait_for(t, "x/y/z", MAILDIR_WATCH_CHANGED) >= 0);
	assert_int_equal(maildir_watch_count_dirs(t->w), 8);

	/* Removing a folder: GONE, and its watches are closed. */
	snprintf(path, sizeof(path), "%s/a", t->root);
	tmd_rmtree(path);
	assert_true(wait_for(t, "a", MAILDIR_WATCH_GONE) >= 0);
	run_for(t, 2 * DELAY_MS);
	assert_int_equal(maildir_watch_count_dirs(t->w), 7);
	/* A folder that loses new/ is no longer a folder. */
	snprintf(path, sizeof(path), "%s/b/new/5.v.host", t->root);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/b/new", t->root);
	assert_int_equal(rmdir(path), 0);
	assert_true(wait_for(t, "b", MAILDIR_WATCH_GONE) >= 0);
	/* ...and is one again when new/ comes back. */
	t->got.n = 0;
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(wait_for(t, "b", MAILDIR_WATCH_CHANGED) >= 0);
}

/* The kernel's per-instance inotify queue length (events). */
static long
inotify_queue_max(void)
{
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	long n = -1;

	if (f != NULL) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/*
 * More events than the kernel queues while the loop does not read them:
 * the kernel drops the rest and queues IN_Q_OVERFLOW.  A reader's change
 * in another folder, made after the queue filled, has no event of its
 * own: the watcher must say "anything may have changed" (MAILDIR_WATCH_ANY),
 * or that change waits for a restart.
 */
static void
test_queue_overflow_says_any(void **state)
{
	struct wt *t = *state;
	long max = inotify_queue_max();
	char a[1200], b[1200];

	assert_true(max > 0);
	assert_int_equal(tmd_put(t->root, "new/8.flip.host", "x", 1), 0);
	snprintf(a, sizeof(a), "%s/new/8.flip.host", t->root);
	snprintf(b, sizeof(b), "%s/new/8.flop.host", t->root);
	/* Each rename queues IN_MOVED_FROM and IN_MOVED_TO, never merged:
	 * max renames are twice what the queue holds. */
	for (long i = 0; i < max; i++)
		assert_int_equal(rename(i % 2 == 0 ? a : b, i % 2 == 0 ? b : a), 0);
	/* The queue is full: this change in "a" raises no event. */
	assert_int_equal(tmd_put(t->root, "a/new/9.lost.host", "x", 1), 0);
	assert_true(wait_for(t, "", MAILDIR_WATCH_ANY) >= 0);
	run_for(t, 3 * DELAY_MS);
	fprintf(stderr, "# %ld renames -> %d deliveries\n", max, t->got.n);
	/* Once, not per folder; the watches still work afterwards. */
	assert_int_equal(count_for(t, "", MAILDIR_WATCH_ANY), 1);
	t->got.n = 0;
	assert_int_equal(tmd_put(t->root, "a/new/10.after.host", "x", 1), 0);
	assert_true(wait_for(t, "a", MAILDIR_WATCH_CHANGED) >= 0);
	assert_int_equal(count_for(t, "", MAILDIR_WATCH_ANY), 0);
}

/* Opens folder rel of the tree for writing, announcing into e. */
static void
open_announced(struct wt *t, const char *rel, struct maildir_expect *e,
	       struct maildir_dir *d)
{
	struct ms_err err = { 0 };
	char *path = maildir__path_join(t->root, rel, "");

	assert_non_null(path);
	assert_int_equal(maildir_dir_open(d, t->root, path, false, NULL, &err),
			 MS_OK);
	free(path);
	d->expect = e;
}

/*
 * The daemon's own writes, announced, deliver nothing: a write through
 * tmp/ into new/, a flag rename into cur/, a removal.  A reader's change
 * in the same instant, even to the very file just written, is delivered.
 */
static void
test_own_writes_not_delivered(void **state)
{
	struct wt *t = *state;
	struct maildir_expect *e = maildir_expect_new(MAILDIR_EXPECT_TTL_MS);
	struct maildir_name_params np = { 0 };
	struct maildir_namegen g;
	struct maildir_dir d;
	struct ms_err err = { 0 };
	char name[MAILDIR_NAME_MAX + 1], flagged[MAILDIR_NAME_MAX + 1];
	char from[2400], to[2400];
	bool is_gone;

	assert_non_null(e);
	maildir_namegen_init(&g);
	maildir_watch_set_expect(t->w, e);
	open_announced(t, "Lists/dev", e, &d);

	assert_int_equal(maildir_msg_write(&d, &g, &np, 0, "hello", 5, name,
					   sizeof(name), &err), MS_OK);
	run_for(t, 3 * DELAY_MS);
	assert_int_equal(t->got.n, 0);
	assert_int_equal(maildir_msg_set_flags(&d, MAILDIR_SUB_NEW, name,
					       MAILDIR_FLAG_SEEN, flagged,
					       sizeof(flagged), &is_gone, &err),
			 MS_OK);
	run_for(t, 3 * DELAY_MS);
	assert_int_equal(t->got.n, 0);
	assert_int_equal(maildir_msg_remove(&d, MAILDIR_SUB_CUR, flagged,
					    &is_gone, &err), MS_OK);
	run_for(t, 3 * DELAY_MS);
	assert_int_equal(t->got.n, 0);
	/* Every announcement was taken. */
	assert_int_equal(maildir_expect_count(e), 0);
	/* A rename that fails withdraws what it announced. */
	assert_int_not_equal(maildir_msg_set_flags(&d, MAILDIR_SUB_NEW, name,
						   MAILDIR_FLAG_SEEN, flagged,
						   sizeof(flagged), &is_gone,
						   &err), MS_OK);
	assert_true(is_gone);
	assert_int_equal(maildir_expect_count(e), 0);

	/* Ours, and at once a reader moves the same file on to cur/. */
	assert_int_equal(maildir_msg_write(&d, &g, &np, 0, "again", 5, name,
					   sizeof(name), &err), MS_OK);
	snprintf(from, sizeof(from), "%s/Lists/dev/new/%s", t->root, name);
	snprintf(to, sizeof(to), "%s/Lists/dev/cur/%s:2,S", t->root, name);
	assert_int_equal(rename(from, to), 0);
	assert_true(wait_for(t, "Lists/dev", MAILDIR_WATCH_CHANGED) >= 0);

	/* Ours, and at once a reader's own file in the same folder. */
	t->got.n = 0;
	assert_int_equal(maildir_msg_write(&d, &g, &np, 0, "third", 5, name,
					   sizeof(name), &err), MS_OK);
	assert_int_equal(tmd_put(t->root, "Lists/dev/new/9.reader.host", "x",
				 1), 0);
	assert_true(wait_for(t, "Lists/dev", MAILDIR_WATCH_CHANGED) >= 0);

	/* Announced for another folder: this one's event is a reader's. */
	t->got.n = 0;
	maildir_expect_add(e, d.path, MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "10.reader.host");
	assert_int_equal(tmd_put(t->root, "a/new/10.reader.host", "x", 1), 0);
	assert_true(wait_for(t, "a", MAILDIR_WATCH_CHANGED) >= 0);
	assert_int_equal(count_for(t, "Lists/dev", MAILDIR_WATCH_CHANGED), 0);

	maildir_dir_close(&d);
	/* The watch no longer uses e once told so. */
	maildir_watch_set_expect(t->w, NULL);
	maildir_expect_free(&e);
}

/* Closing from inside the callback stops delivery and frees cleanly. */
static void
close_in_cb(struct maildir_watch *w, const char *rel, enum maildir_watch_what what,
	    void *arg)
{
	struct wt *t = arg;

	watch_cb(w, rel, what, arg);
	maildir_watch_close(w);
	t->w = NULL;
}

static void
test_close_from_callback(void **state)
{
	struct wt *t = *state;
	struct ms_err err = { 0 };

	maildir_watch_close(t->w);
	t->w = maildir_watch_new(&t->loop, t->ino, t->root, MAILDIR_LAYOUT_VERBATIM, DELAY_MS, close_in_cb, t, NULL, &err);
	assert_non_null(t->w);
	assert_int_equal(tmd_put(t->root, "new/6.u.host", "x", 1), 0);
	assert_int_equal(tmd_put(t->root, "a/new/7.u.host", "x", 1), 0);
	run_for(t, 4 * DELAY_MS);
	/* Two folders were dirty; the first delivery closed the watcher. */
	assert_int_equal(t->got.n, 1);
	assert_null(t->w);
}

/*
 * The folders a layout makes (maildir_path.h) are watched: in maildir++
 * the dot directories at the top (.Lists.dev; "a" and "Lists" are none),
 * in legacy the top directories and the dot ones below (Lists/.dev).
 */
static void
test_layouts(void **state)
{
	struct wt *t = *state;
	struct ms_err err = { 0 };

	maildir_watch_close(t->w);
	assert_int_equal(tmd_mkmaildir(t->root, ".Lists.dev"), 0);
	assert_int_equal(tmd_mkmaildir(t->root, "Lists/.dev"), 0);
	t->w = maildir_watch_new(&t->loop, t->ino, t->root, MAILDIR_LAYOUT_MAILDIRPP,
				 DELAY_MS, watch_cb, t, &t->rep, &err);
	assert_non_null(t->w);
	/* root, .Lists.dev */
	assert_int_equal(maildir_watch_count_dirs(t->w), 2);
	assert_int_equal(tmd_put(t->root, ".Lists.dev/new/8.v.host", "x", 1), 0);
	assert_true(wait_for(t, ".Lists.dev", MAILDIR_WATCH_CHANGED) >= 0);
	/* A reader's new folder. */
	assert_int_equal(tmd_mkmaildir(t->root, ".Projects.y"), 0);
	assert_true(wait_for(t, ".Projects.y", MAILDIR_WATCH_CHANGED) >= 0);
	/* Not a folder in maildir++. */
	t->got.n = 0;
	assert_int_equal(tmd_put(t->root, "a/new/9.v.host", "x", 1), 0);
	run_for(t, 3 * DELAY_MS);
	assert_int_equal(count_for(t, "a", MAILDIR_WATCH_CHANGED), 0);

	maildir_watch_close(t->w);
	t->w = maildir_watch_new(&t->loop, t->ino, t->root, MAILDIR_LAYOUT_LEGACY,
				 DELAY_MS, watch_cb, t, &t->rep, &err);
	assert_non_null(t->w);
	/* root, a, Lists, Lists/.dev, .Lists.dev, .Projects.y (INBOX's
	 * children when INBOX is the root); not Lists/dev. */
	assert_int_equal(maildir_watch_count_dirs(t->w), 6);
	assert_int_equal(tmd_put(t->root, "Lists/.dev/new/10.v.host", "x", 1), 0);
	assert_true(wait_for(t, "Lists/.dev", MAILDIR_WATCH_CHANGED) >= 0);
}

static void
test_missing_root(void **state)
{
	uv_loop_t loop;
	struct ms_err err = { 0 };

	struct inotify_reader *ino = NULL;

	uv_loop_init(&loop);
	assert_int_equal(inotify_reader_new(&loop, &ino, &err), MS_OK);
	assert_null(maildir_watch_new(&loop, ino, "/nonexistent/mirror", MAILDIR_LAYOUT_VERBATIM, DELAY_MS, watch_cb,
				      NULL, NULL, &err));
	assert_non_null(strstr(err.msg, "/nonexistent/mirror"));
	assert_int_equal(inotify_reader_count_owners(ino), 0);
	inotify_reader_close(ino);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_initial_state, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_new_file_and_rename, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_burst_coalesced, wt_setup, wt_teardown),
		cmocka_unit_test(test_slow_burst_held_together),
		cmocka_unit_test(test_endless_burst_still_delivered),
		cmocka_unit_test_setup_teardown(test_folders_appear_and_go, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_queue_overflow_says_any, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_own_writes_not_delivered, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_close_from_callback, wt_setup, wt_teardown),
		cmocka_unit_test_setup_teardown(test_layouts, wt_setup, wt_teardown),
		cmocka_unit_test(test_missing_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
