/* test_inotify_reader.c - the daemon's one inotify instance: events reach
 * the owner of their descriptor only, a directory two owners watch reaches
 * both until each gives it back, a descriptor number the kernel hands out
 * again after IN_IGNORED belongs to its new owner only, and lost events
 * reach every owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>
#include <unistd.h>

#include "inotify_reader.h"
#include "test_maildir_util.h"

#define WAIT_MS 5000	/* bound on every wait for the kernel's events */
#define MASK (IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF)

struct own {
	struct inotify_owner o;
	int n_events;
	int n_ignored;
	int n_lost;
	int last_wd;
	uint32_t last_mask;
};

struct ir {
	uv_loop_t loop;
	uv_timer_t tick;		/* bounds each UV_RUN_ONCE */
	struct inotify_reader *r;
	char *dir;
	struct own a, b;
};

static void
own_on_event(const struct inotify_event *e, void *arg)
{
	struct own *o = arg;

	o->n_events++;
	o->n_ignored += (e->mask & IN_IGNORED) != 0;
	o->last_wd = e->wd;
	o->last_mask = e->mask;
}

static void
own_on_lost(void *arg)
{
	struct own *o = arg;

	o->n_lost++;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
tick_cb(uv_timer_t *h)
{
	(void)h;	/* only makes UV_RUN_ONCE return regularly */
}

/* Runs the loop until *n reaches want, at most WAIT_MS; then one more
 * non-blocking turn, so that what else was queued arrives too. */
static void
run_until(struct ir *t, const int *n, int want)
{
	uint64_t start = now_ms();

	while (*n < want && now_ms() - start < WAIT_MS)
		uv_run(&t->loop, UV_RUN_ONCE);
	uv_run(&t->loop, UV_RUN_NOWAIT);
	assert_true(*n >= want);
}

static char *
ir_mkdir(struct ir *t, const char *name)
{
	char *path = malloc(1200);

	assert_non_null(path);
	snprintf(path, 1200, "%s/%s", t->dir, name);
	assert_int_equal(mkdir(path, 0700), 0);
	return path;
}

static void
ir_touch(const char *dir, const char *name)
{
	char path[1200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static int
ir_setup(void **state)
{
	struct ir *t = calloc(1, sizeof(*t));
	struct ms_err err = { 0 };

	if (t == NULL || (t->dir = tmd_mkdtemp()) == NULL)
		return -1;
	assert_int_equal(uv_loop_init(&t->loop), 0);
	uv_timer_init(&t->loop, &t->tick);
	uv_timer_start(&t->tick, tick_cb, 20, 20);
	if (inotify_reader_new(&t->loop, &t->r, &err) != MS_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	inotify_reader_join(t->r, &t->a.o, own_on_event, own_on_lost, &t->a);
	inotify_reader_join(t->r, &t->b.o, own_on_event, own_on_lost, &t->b);
	assert_int_equal(inotify_reader_count_owners(t->r), 2);
	*state = t;
	return 0;
}

static int
ir_teardown(void **state)
{
	struct ir *t = *state;

	inotify_reader_leave(&t->a.o);
	inotify_reader_leave(&t->a.o);	/* a no-op the second time */
	inotify_reader_leave(&t->b.o);
	assert_int_equal(inotify_reader_count_owners(t->r), 0);
	assert_int_equal(inotify_reader_count_wds(t->r), 0);
	inotify_reader_close(t->r);
	uv_close((uv_handle_t *)&t->tick, NULL);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	tmd_rmtree(t->dir);
	free(t->dir);
	free(t);
	return 0;
}

/* Each owner hears about its own directory only. */
static void
test_two_owners(void **state)
{
	struct ir *t = *state;
	char *x = ir_mkdir(t, "x"), *y = ir_mkdir(t, "y");
	int wa = inotify_reader_add(&t->a.o, x, MASK);
	int wb = inotify_reader_add(&t->b.o, y, MASK);

	assert_true(wa >= 0 && wb >= 0 && wa != wb);
	assert_int_equal(inotify_reader_count_wds(t->r), 2);
	ir_touch(x, "1");
	run_until(t, &t->a.n_events, 1);
	assert_int_equal(t->a.n_events, 1);
	assert_int_equal(t->a.last_wd, wa);
	assert_int_equal(t->b.n_events, 0);
	ir_touch(y, "2");
	ir_touch(y, "3");
	run_until(t, &t->b.n_events, 2);
	assert_int_equal(t->b.n_events, 2);
	assert_int_equal(t->b.last_wd, wb);
	assert_int_equal(t->a.n_events, 1);

	/* A descriptor given back hears nothing more; the other still does. */
	inotify_reader_remove(&t->a.o, wa);
	assert_int_equal(inotify_reader_count_wds(t->r), 1);
	ir_touch(x, "4");
	ir_touch(y, "5");
	run_until(t, &t->b.n_events, 3);
	assert_int_equal(t->a.n_events, 1);	/* not even its IN_IGNORED */
	/* A missing directory is the caller's to hear of. */
	assert_int_equal(inotify_reader_add(&t->a.o, "/nonexistent/dir", MASK),
			 -ENOENT);
	free(x);
	free(y);
}

/* Both watch one directory: the kernel gives both the same descriptor;
 * each hears every event until it gives its share back. */
static void
test_shared_directory(void **state)
{
	struct ir *t = *state;
	char *x = ir_mkdir(t, "x");
	int wa = inotify_reader_add(&t->a.o, x, IN_CREATE);
	int wb = inotify_reader_add(&t->b.o, x, IN_MOVED_TO);
	int wa2 = inotify_reader_add(&t->a.o, x, IN_CREATE);
	char from[1200], to[1200];

	assert_true(wa >= 0);
	assert_int_equal(wb, wa);
	assert_int_equal(wa2, wa);
	assert_int_equal(inotify_reader_count_wds(t->r), 1);
	/* Each hears what it asked for (IN_MASK_ADD: b's asking for renames
	 * kept a's creations). */
	ir_touch(t->dir, "moved");
	snprintf(from, sizeof(from), "%s/moved", t->dir);
	snprintf(to, sizeof(to), "%s/moved", x);
	assert_int_equal(rename(from, to), 0);
	run_until(t, &t->b.n_events, 1);
	assert_int_equal(t->b.last_mask, IN_MOVED_TO);
	assert_int_equal(t->a.n_events, 0);
	inotify_reader_add(&t->b.o, x, IN_CREATE);	/* b: both now */
	ir_touch(x, "1");
	run_until(t, &t->b.n_events, 2);
	assert_int_equal(t->a.n_events, 1);
	assert_int_equal(t->b.n_events, 2);
	inotify_reader_remove(&t->b.o, wb);
	t->b.n_events = 0;
	/* a added twice: it holds the descriptor until its second remove. */
	inotify_reader_remove(&t->a.o, wa);
	ir_touch(x, "2");
	run_until(t, &t->b.n_events, 1);
	assert_int_equal(t->a.n_events, 2);
	inotify_reader_remove(&t->a.o, wa);
	ir_touch(x, "3");
	run_until(t, &t->b.n_events, 2);
	assert_int_equal(t->a.n_events, 2);
	assert_int_equal(inotify_reader_count_wds(t->r), 1);
	/* Leaving gives back all of b's. */
	inotify_reader_leave(&t->b.o);
	assert_int_equal(inotify_reader_count_wds(t->r), 0);
	free(x);
}

/* One event, as the kernel writes it (no name). */
static void
feed(struct ir *t, int wd, uint32_t mask)
{
	struct inotify_event e = { .wd = wd, .mask = mask };

	inotify_reader_feed(t->r, (const char *)&e, sizeof(e));
}

/*
 * The directory goes: its owner hears IN_IGNORED and the reader forgets
 * the descriptor, so when the kernel hands the number out again the new
 * owner alone hears it.  A descriptor given back whose IN_IGNORED is not
 * read yet: what the kernel queued for it until then is no one's, not the
 * next owner's of the number.
 */
static void
test_wd_reused(void **state)
{
	struct ir *t = *state;
	char *x = ir_mkdir(t, "x");
	int wa = inotify_reader_add(&t->a.o, x, MASK);

	assert_true(wa >= 0);
	assert_int_equal(rmdir(x), 0);
	run_until(t, &t->a.n_ignored, 1);
	assert_int_equal(t->a.n_events, 2);	/* IN_DELETE_SELF, IN_IGNORED */
	assert_int_equal(t->a.last_wd, wa);
	assert_int_equal(inotify_reader_count_wds(t->r), 0);
	/* The kernel's numbers grow; a test gives this one out again. */
	assert_int_equal(inotify_reader_hold(&t->b.o, wa, MASK), wa);
	feed(t, wa, IN_CREATE);
	assert_int_equal(t->a.n_events, 2);
	assert_int_equal(t->b.n_events, 1);
	/* a gave back nothing by hand: its remove of the old one is a no-op. */
	inotify_reader_remove(&t->a.o, wa);
	feed(t, wa, IN_CREATE);
	assert_int_equal(t->b.n_events, 2);
	inotify_reader_remove(&t->b.o, wa);

	/* Given back, its IN_IGNORED still queued, and given out again. */
	assert_int_equal(inotify_reader_hold(&t->a.o, 100000, MASK), 100000);
	inotify_reader_remove(&t->a.o, 100000);
	assert_int_equal(inotify_reader_hold(&t->b.o, 100000, MASK), 100000);
	feed(t, 100000, IN_CREATE);		/* the old watch's */
	feed(t, 100000, IN_IGNORED);
	assert_int_equal(t->a.n_events, 2);
	assert_int_equal(t->b.n_events, 2);
	feed(t, 100000, IN_MOVED_TO);		/* the new one's */
	assert_int_equal(t->b.n_events, 3);
	assert_int_equal(t->b.last_mask, IN_MOVED_TO);
	inotify_reader_remove(&t->b.o, 100000);
	feed(t, 100000, IN_IGNORED);
	assert_int_equal(t->b.n_events, 3);
	free(x);
}

/* The kernel dropped events: every owner is told, once, and each still
 * hears its own events afterwards. */
static void
test_overflow_fans_out(void **state)
{
	struct ir *t = *state;
	char *x = ir_mkdir(t, "x"), *y = ir_mkdir(t, "y");
	int wa = inotify_reader_add(&t->a.o, x, MASK);
	int wb = inotify_reader_add(&t->b.o, y, MASK);
	struct inotify_event ev[3] = {
		{ .wd = wa, .mask = IN_CREATE },
		{ .wd = -1, .mask = IN_Q_OVERFLOW },
		{ .wd = wb, .mask = IN_CREATE },
	};

	assert_true(wa >= 0 && wb >= 0);
	/* As one read returns them: in order. */
	inotify_reader_feed(t->r, (const char *)ev, sizeof(ev));
	assert_int_equal(t->a.n_lost, 1);
	assert_int_equal(t->b.n_lost, 1);
	assert_int_equal(t->a.n_events, 1);
	assert_int_equal(t->b.n_events, 1);
	/* A cut event at the end of a buffer is not read past. */
	inotify_reader_feed(t->r, (const char *)ev, sizeof(ev[0]) + 3);
	assert_int_equal(t->a.n_events, 2);
	assert_int_equal(t->a.n_lost, 1);
	ir_touch(y, "1");
	run_until(t, &t->b.n_events, 2);
	assert_int_equal(t->a.n_events, 2);
	free(x);
	free(y);
}

/* Closing the reader before its owners leave detaches them: their
 * later calls do nothing. */
static void
test_close_before_owners(void **state)
{
	uv_loop_t loop;
	struct inotify_reader *r = NULL;
	struct ms_err err = { 0 };
	struct own a = { 0 };
	char *dir = tmd_mkdtemp();

	(void)state;
	assert_non_null(dir);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(inotify_reader_new(&loop, &r, &err), MS_OK);
	inotify_reader_join(r, &a.o, own_on_event, own_on_lost, &a);
	assert_true(inotify_reader_add(&a.o, dir, MASK) >= 0);
	inotify_reader_close(r);
	assert_null(a.o.r);
	assert_int_equal(inotify_reader_add(&a.o, dir, MASK), -EBADF);
	inotify_reader_remove(&a.o, 1);
	inotify_reader_leave(&a.o);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	tmd_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_owners, ir_setup, ir_teardown),
		cmocka_unit_test_setup_teardown(test_shared_directory, ir_setup, ir_teardown),
		cmocka_unit_test_setup_teardown(test_wd_reused, ir_setup, ir_teardown),
		cmocka_unit_test_setup_teardown(test_overflow_fans_out, ir_setup, ir_teardown),
		cmocka_unit_test(test_close_before_owners),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
