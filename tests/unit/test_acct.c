/*
 * test_acct.c - daemon/acct/acct.c, the account runtime, driven through a
 * scripted engine on a real libuv loop: state changes and their events,
 * the request queue (merged requests, single folders, a whole pass
 * covering folder requests), pause and resume cancelling a pass,
 * progress and its throttling, auth-failed waiting 15 minutes and a
 * request waking it, offline, stop during a pass, and --once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acct/acct.h"
#include "inotify_reader.h"
#include "test_store_util.h"

/* --- the scripted engine ---------------------------------------------------- */

struct fake {
	struct acct_engine base;
	struct acct_engine_cbs cbs;
	uv_timer_t t;			/* delivers cancels and closes */
	bool is_pass;
	unsigned n_pass, n_cancel, n_close, n_resume;
	char folders[16][32];		/* the folder of each pass ("*": all) */
	bool is_close_asked, want_cancel_done, is_closed;
	bool is_destroyed;
};

static struct fake *the_fake;

static void
fake_on_closed(uv_handle_t *h)
{
	struct fake *f = h->data;

	f->is_closed = true;
	f->cbs.on_closed_cb(f->cbs.arg);
}

static void
fake_on_timer(uv_timer_t *t)
{
	struct fake *f = t->data;

	if (f->want_cancel_done && f->is_pass) {
		struct acct_result r = { .rc = MS_ECANCELED, .is_reached = true };

		f->want_cancel_done = false;
		f->is_pass = false;
		f->cbs.on_pass_done_cb(&r, f->cbs.arg);
	}
	if (f->is_close_asked && !f->is_pass && !f->is_closed &&
	    !uv_is_closing((uv_handle_t *)&f->t))
		uv_close((uv_handle_t *)&f->t, fake_on_closed);
}

static int
fake_create(uv_loop_t *loop, struct store *store,
	    const struct cfg_account *account, const struct acct_engine_cbs *cbs,
	    struct acct_engine **e_r, struct ms_err *err_r)
{
	struct fake *f = calloc(1, sizeof(*f));

	(void)store;
	(void)account;
	(void)err_r;
	assert_non_null(f);
	f->cbs = *cbs;
	uv_timer_init(loop, &f->t);
	f->t.data = f;
	the_fake = f;
	*e_r = &f->base;
	return MS_OK;
}

static int
fake_pass(struct acct_engine *e, const char *folder, struct ms_err *err_r)
{
	struct fake *f = (struct fake *)e;

	(void)err_r;
	assert_false(f->is_pass);		/* one pass at a time */
	assert_false(f->is_close_asked);
	assert_true(f->n_pass < 16);
	snprintf(f->folders[f->n_pass], sizeof(f->folders[0]), "%s",
		 folder != NULL ? folder : "*");
	f->n_pass++;
	f->is_pass = true;
	return MS_OK;
}

static void
fake_cancel(struct acct_engine *e)
{
	struct fake *f = (struct fake *)e;

	f->n_cancel++;
	f->want_cancel_done = true;
	uv_timer_start(&f->t, fake_on_timer, 0, 0);
}

static void
fake_close(struct acct_engine *e)
{
	struct fake *f = (struct fake *)e;

	f->n_close++;
	f->is_close_asked = true;
	if (f->is_pass)
		fake_cancel(e);
	else
		uv_timer_start(&f->t, fake_on_timer, 0, 0);
}

static void
fake_resume(struct acct_engine *e)
{
	((struct fake *)e)->n_resume++;
}

static void
fake_destroy(struct acct_engine *e)
{
	struct fake *f = (struct fake *)e;

	assert_true(f->is_closed);
	free(f);
	the_fake = NULL;
}

static const struct acct_engine_ops fake_ops = {
	.protocol = "fake",
	.create = fake_create,
	.pass = fake_pass,
	.cancel = fake_cancel,
	.close = fake_close,
	.resume = fake_resume,
	.destroy = fake_destroy,
};

/* The engine's pass ends with rc (as from a command callback). */
static void
fake_finish(int rc, bool is_reached, uint64_t new_msgs)
{
	struct acct_result r = {
		.rc = rc,
		.is_reached = is_reached,
		.folders = 3,
		.new_msgs = new_msgs,
	};

	assert_non_null(the_fake);
	assert_true(the_fake->is_pass);
	if (rc < 0)
		snprintf(r.error, sizeof(r.error), "scripted failure %d", rc);
	the_fake->is_pass = false;
	the_fake->cbs.on_pass_done_cb(&r, the_fake->cbs.arg);
}

/* --- the fixture -------------------------------------------------------------- */

struct fix {
	uv_loop_t loop;
	struct inotify_reader *ino;	/* the daemon's, for mirror watches */
	struct cfg_account cfg;
	struct acct *a;
	unsigned n_ev[3];
	enum acct_state states[64];
	unsigned n_states;
};

static void
fix_on_event(struct acct *a, enum acct_event ev, void *arg)
{
	struct fix *x = arg;

	x->n_ev[ev]++;
	if (ev == ACCT_EV_STATE && x->n_states < 64)
		x->states[x->n_states++] = acct_status(a)->state;
}

static void
fix_turns(struct fix *x, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		uv_run(&x->loop, UV_RUN_NOWAIT);
}

static void
fix_new(struct fix *x, bool is_once)
{
	static char name[] = "t", host[] = "localhost";
	struct acct_params p = { 0 };
	struct ms_err err = { 0 };

	memset(x, 0, sizeof(*x));
	assert_int_equal(uv_loop_init(&x->loop), 0);
	assert_int_equal(inotify_reader_new(&x->loop, &x->ino, &err), MS_OK);
	x->cfg.name = name;
	x->cfg.host = host;
	x->cfg.protocol = CFG_PROTOCOL_IMAP;
	x->cfg.poll_interval = 60;
	p.loop = &x->loop;
	p.account = &x->cfg;
	p.is_once = is_once;
	p.inotify = x->ino;
	p.on_event_cb = fix_on_event;
	p.arg = x;
	acct_engine_override(&fake_ops);
	assert_int_equal(acct_new(&p, &x->a, &err), MS_OK);
	/* The runtime keeps its own copy of the configuration. */
	assert_ptr_not_equal(acct_status(x->a)->name, name);
	assert_string_equal(acct_name(x->a), "t");
}

static void
fix_free(struct fix *x)
{
	acct_stop(x->a);
	fix_turns(x, 5);
	assert_true(acct_is_stopped(x->a));
	assert_int_equal(acct_status(x->a)->state, ACCT_STOPPED);
	acct_free(&x->a);
	assert_null(x->a);
	acct_engine_override(NULL);
	inotify_reader_close(x->ino);
	fix_turns(x, 1);
	assert_int_equal(uv_loop_close(&x->loop), 0);
}

/*
 * The fixture's runtime again, with store s and the mirror at mail (which
 * must exist): the first one stops and goes, a new one takes its place.
 */
static void
fix_renew_mirror(struct fix *x, struct store *s, char *mail)
{
	struct acct_params p = { 0 };
	struct ms_err err = { 0 };

	acct_stop(x->a);
	fix_turns(x, 3);
	acct_free(&x->a);
	x->cfg.maildir = mail;
	p.loop = &x->loop;
	p.store = s;
	p.account = &x->cfg;
	p.inotify = x->ino;
	p.on_event_cb = fix_on_event;
	p.arg = x;
	assert_int_equal(acct_new(&p, &x->a, &err), MS_OK);
}

/* A new fixture whose runtime has a store (returned) in a new temporary
 * directory (*dir_r) and its mirror at mail there. */
static struct store *
fix_new_mirror(struct fix *x, char **dir_r, char *mail, size_t size)
{
	struct store *s;

	*dir_r = tsu_tmpdir();
	s = tsu_open(*dir_r, 0);
	fix_new(x, false);
	snprintf(mail, size, "%s/mail", *dir_r);
	assert_int_equal(mkdir(mail, 0700), 0);
	fix_renew_mirror(x, s, mail);
	return s;
}

/* Runs the loop until the engine's pass has started (the mirror's scan,
 * on the threadpool, comes first), at most 5 s. */
static void
fix_until_pass(struct fix *x)
{
	for (unsigned i = 0; i < 500 && !the_fake->is_pass; i++) {
		uv_run(&x->loop, UV_RUN_NOWAIT);
		if (!the_fake->is_pass)
			usleep(10000);
	}
	assert_true(the_fake->is_pass);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --- tests ---------------------------------------------------------------------- */

static void
test_pass_then_idle(void **state)
{
	struct fix x;
	const struct acct_status *st;
	uint64_t t0 = now_ms();

	(void)state;
	fix_new(&x, false);
	st = acct_status(x.a);
	assert_string_equal(st->protocol, "imap");
	acct_start(x.a);
	assert_int_equal(st->state, ACCT_SYNCING);
	assert_int_equal(the_fake->n_pass, 1);
	assert_string_equal(the_fake->folders[0], "*");
	fake_finish(MS_OK, true, 7);
	assert_int_equal(st->state, ACCT_IDLE);
	assert_int_equal(st->passes, 1);
	assert_int_equal(st->last.new_msgs, 7);
	assert_true(st->last_sync_ms >= t0);
	/* The next pass after poll_interval (60 s). */
	assert_true(st->next_ms >= t0 + 59000 && st->next_ms <= now_ms() + 60000);
	assert_int_equal(x.n_ev[ACCT_EV_PASS_DONE], 1);
	assert_int_equal(x.n_states, 2);
	assert_int_equal(x.states[0], ACCT_SYNCING);
	assert_int_equal(x.states[1], ACCT_IDLE);
	fix_turns(&x, 3);
	assert_int_equal(the_fake->n_pass, 1);	/* nothing before the poll */
	fix_free(&x);
}

/* Requests during a pass merge into one pass right after it; single
 * folders come one per pass, in order; a whole pass covers them. */
static void
test_request_queue(void **state)
{
	struct fix x;
	const struct acct_status *st;

	(void)state;
	fix_new(&x, false);
	st = acct_status(x.a);
	acct_start(x.a);
	assert_int_equal(acct_request_sync(x.a, NULL), MS_OK);
	assert_int_equal(acct_request_sync(x.a, NULL), MS_OK);
	assert_int_equal(the_fake->n_pass, 1);
	fake_finish(MS_OK, true, 0);
	fix_turns(&x, 2);		/* the next pass starts from the timer */
	assert_int_equal(the_fake->n_pass, 2);
	assert_int_equal(st->state, ACCT_SYNCING);
	assert_string_equal(the_fake->folders[1], "*");
	/* Two folders (one asked twice): two passes, in order. */
	assert_int_equal(acct_request_sync(x.a, "INBOX"), MS_OK);
	assert_int_equal(acct_request_sync(x.a, "Sent"), MS_OK);
	assert_int_equal(acct_request_sync(x.a, "INBOX"), MS_OK);
	fake_finish(MS_OK, true, 0);
	fix_turns(&x, 2);
	assert_int_equal(the_fake->n_pass, 3);
	assert_string_equal(the_fake->folders[2], "INBOX");
	fake_finish(MS_OK, true, 0);
	fix_turns(&x, 2);
	assert_int_equal(the_fake->n_pass, 4);
	assert_string_equal(the_fake->folders[3], "Sent");
	fake_finish(MS_OK, true, 0);
	fix_turns(&x, 2);
	assert_int_equal(the_fake->n_pass, 4);
	assert_int_equal(st->state, ACCT_IDLE);
	/* A whole pass asked with a folder: one whole pass serves both. */
	assert_int_equal(acct_request_sync(x.a, "Drafts"), MS_OK);
	assert_int_equal(the_fake->n_pass, 5);	/* idle: at once */
	assert_string_equal(the_fake->folders[4], "Drafts");
	assert_int_equal(acct_request_sync(x.a, "Junk"), MS_OK);
	assert_int_equal(acct_request_sync(x.a, NULL), MS_OK);
	fake_finish(MS_OK, true, 0);
	fix_turns(&x, 2);
	assert_int_equal(the_fake->n_pass, 6);
	assert_string_equal(the_fake->folders[5], "*");
	fake_finish(MS_OK, true, 0);
	fix_turns(&x, 2);
	assert_int_equal(the_fake->n_pass, 6);
	assert_int_equal(st->passes, 6);
	fix_free(&x);
}

static void
test_pause_cancels_and_resume_restarts(void **state)
{
	struct fix x;
	const struct acct_status *st;

	(void)state;
	fix_new(&x, false);
	st = acct_status(x.a);
	acct_start(x.a);
	assert_int_equal(acct_request_pause(x.a), MS_OK);
	assert_int_equal(the_fake->n_cancel, 1);
	assert_int_equal(st->state, ACCT_SYNCING);	/* until it ends */
	fix_turns(&x, 2);
	assert_int_equal(st->state, ACCT_PAUSED);
	assert_int_equal(st->next_ms, 0);
	assert_int_equal(st->last.rc, MS_ECANCELED);
	/* Paused: no pass on request, no second pause. */
	assert_int_equal(acct_request_sync(x.a, NULL), MS_EINVAL);
	assert_int_equal(acct_request_pause(x.a), MS_EINVAL);
	fix_turns(&x, 3);
	assert_int_equal(the_fake->n_pass, 1);
	assert_int_equal(acct_request_resume(x.a), MS_OK);
	assert_int_equal(the_fake->n_pass, 2);
	assert_int_equal(st->state, ACCT_SYNCING);
	assert_int_equal(acct_request_resume(x.a), MS_EINVAL);
	fake_finish(MS_OK, true, 0);
	assert_int_equal(st->state, ACCT_IDLE);
	/* Paused while idle: at once. */
	assert_int_equal(acct_request_pause(x.a), MS_OK);
	assert_int_equal(st->state, ACCT_PAUSED);
	fix_free(&x);
}

/* Resumed while the paused pass is still being cancelled: the pass that
 * resume asks for starts as soon as the cancelled one has ended, not at
 * the next poll. */
static void
test_resume_during_cancel(void **state)
{
	struct fix x;
	const struct acct_status *st;

	(void)state;
	fix_new(&x, false);
	st = acct_status(x.a);
	acct_start(x.a);
	assert_int_equal(acct_request_pause(x.a), MS_OK);
	assert_int_equal(the_fake->n_cancel, 1);
	assert_int_equal(acct_request_resume(x.a), MS_OK);
	assert_int_equal(the_fake->n_pass, 1);	/* the cancel runs */
	fix_turns(&x, 3);
	assert_int_equal(st->last.rc, MS_ECANCELED);
	assert_int_equal(the_fake->n_pass, 2);
	assert_int_equal(st->state, ACCT_SYNCING);
	fake_finish(MS_OK, true, 0);
	assert_int_equal(st->state, ACCT_IDLE);
	fix_free(&x);
}

/* Paused while the pass's export runs: the export finishes, then the
 * account is paused; watchers never see it idle with a pass planned. */
static void
test_pause_during_export(void **state)
{
	struct fix x;
	const struct acct_status *st;
	char *dir, mail[4200];
	struct store *s = fix_new_mirror(&x, &dir, mail, sizeof(mail));

	(void)state;
	st = acct_status(x.a);
	x.n_states = 0;
	acct_start(x.a);
	/* The scan runs on the threadpool first; the engine's pass after. */
	assert_false(the_fake->is_pass);
	fix_until_pass(&x);
	fake_finish(MS_OK, true, 0);
	assert_int_equal(st->state, ACCT_SYNCING);	/* the export runs */
	assert_int_equal(acct_request_pause(x.a), MS_OK);
	assert_int_equal(the_fake->n_cancel, 0);
	/* The export runs on the threadpool: at most 5 s. */
	for (unsigned i = 0; i < 500 && st->state == ACCT_SYNCING; i++) {
		fix_turns(&x, 1);
		usleep(10000);
	}
	assert_int_equal(st->state, ACCT_PAUSED);
	assert_int_equal(st->passes, 1);
	assert_int_equal(st->next_ms, 0);
	assert_string_equal(st->mirror_error, "");
	assert_int_equal(x.n_states, 2);
	assert_int_equal(x.states[0], ACCT_SYNCING);
	assert_int_equal(x.states[1], ACCT_PAUSED);
	fix_turns(&x, 3);
	assert_int_equal(the_fake->n_pass, 1);
	fix_free(&x);
	store_close(&s);
	tsu_rmdir(dir);
}

/*
 * While the pass only adds messages (progress is_adding), a committed
 * batch starts an early export; the pass asking to change records while
 * it runs is held until the export is done, then resumed once; a pass
 * that ends while an early export runs gets its own export after it.
 */
static void
test_early_export_hold(void **state)
{
	struct fix x;
	const struct acct_status *st;
	struct acct_progress p = { .folders_total = 1, .msgs_done = 10,
				   .msgs_total = 20, .is_adding = true };
	char *dir, mail[4200];
	struct store *s = fix_new_mirror(&x, &dir, mail, sizeof(mail));

	(void)state;
	st = acct_status(x.a);
	acct_start(x.a);
	fix_until_pass(&x);
	/* No early export runs: the pass goes on at once. */
	assert_false(the_fake->cbs.hold_cb(the_fake->cbs.arg));
	the_fake->cbs.on_progress_cb(&p, the_fake->cbs.arg);
	/* One runs now (on the threadpool): the pass waits for it. */
	assert_true(the_fake->cbs.hold_cb(the_fake->cbs.arg));
	for (unsigned i = 0; i < 500 && the_fake->n_resume == 0; i++) {
		fix_turns(&x, 1);
		usleep(10000);
	}
	assert_int_equal(the_fake->n_resume, 1);
	assert_false(the_fake->cbs.hold_cb(the_fake->cbs.arg));
	/* Adding again, then the pass ends while that export runs. */
	p.msgs_done = 20;
	the_fake->cbs.on_progress_cb(&p, the_fake->cbs.arg);
	fake_finish(MS_OK, true, 20);
	assert_int_equal(st->state, ACCT_SYNCING);
	for (unsigned i = 0; i < 500 && st->state == ACCT_SYNCING; i++) {
		fix_turns(&x, 1);
		usleep(10000);
	}
	assert_int_equal(st->state, ACCT_IDLE);
	assert_int_equal(st->passes, 1);
	assert_string_equal(st->mirror_error, "");
	assert_int_equal(the_fake->n_resume, 1);
	fix_free(&x);
	store_close(&s);
	tsu_rmdir(dir);
}

/* A stop while the pass is held: the early export is cancelled, the
 * pass is let go (its engine's cancel ends it), and the runtime stops. */
static void
test_early_export_stop(void **state)
{
	struct fix x;
	struct acct_progress p = { .msgs_done = 1, .is_adding = true };
	char *dir, mail[4200];
	struct store *s = fix_new_mirror(&x, &dir, mail, sizeof(mail));

	(void)state;
	acct_start(x.a);
	fix_until_pass(&x);
	the_fake->cbs.on_progress_cb(&p, the_fake->cbs.arg);
	assert_true(the_fake->cbs.hold_cb(the_fake->cbs.arg));
	acct_stop(x.a);
	for (unsigned i = 0; i < 500 && !acct_is_stopped(x.a); i++) {
		fix_turns(&x, 1);
		usleep(10000);
	}
	assert_true(acct_is_stopped(x.a));
	acct_free(&x.a);
	acct_engine_override(NULL);
	inotify_reader_close(x.ino);
	fix_turns(&x, 3);
	assert_int_equal(uv_loop_close(&x.loop), 0);
	store_close(&s);
	tsu_rmdir(dir);
}

/*
 * Stop while the mirror's scan runs on the threadpool (a reader's 2000
 * new files): the runtime is not stopped until the scan has reported, the
 * engine's pass never starts, and nothing is left on the loop.
 */
static void
test_stop_during_scan(void **state)
{
	struct fix x;
	char *dir = tsu_tmpdir();
	char mail[4200], path[4400];
	struct ms_err err = { 0 };
	struct store *s = tsu_open(dir, 0);
	uint32_t inbox;

	(void)state;
	fix_new(&x, false);
	snprintf(mail, sizeof(mail), "%s/mail", dir);
	assert_int_equal(store_folder_ensure(s, "t", "INBOX", '/', 0, &inbox,
					     &err), MS_OK);
	assert_int_equal(mkdir(mail, 0700), 0);
	for (size_t i = 0; i < 3; i++) {
		static const char *const subs[] = { "cur", "new", "tmp" };

		snprintf(path, sizeof(path), "%s/%s", mail, subs[i]);
		assert_int_equal(mkdir(path, 0700), 0);
	}
	for (unsigned i = 0; i < 2000; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/new/1700000000.R%u.t", mail, i);
		assert_non_null(f = fopen(path, "w"));
		fprintf(f, "Subject: %u\r\n\r\nbody %u\r\n", i, i);
		fclose(f);
	}
	fix_renew_mirror(&x, s, mail);
	acct_start(x.a);
	assert_int_equal(acct_status(x.a)->state, ACCT_SYNCING);
	usleep(30000);		/* the pool has begun the scan, most likely */
	acct_stop(x.a);
	assert_false(acct_is_stopped(x.a));	/* the scan reports first */
	for (unsigned i = 0; i < 500 && !acct_is_stopped(x.a); i++) {
		uv_run(&x.loop, UV_RUN_NOWAIT);
		usleep(10000);
	}
	assert_true(acct_is_stopped(x.a));
	assert_int_equal(the_fake->n_pass, 0);
	assert_int_equal(acct_status(x.a)->passes, 0);
	fix_free(&x);
	store_close(&s);
	tsu_rmdir(dir);
}

/* A subscriber that pauses (or stops) the account as it turns to syncing
 * is obeyed: the pass does not start, and its request waits for the
 * resume. */
static void
pause_on_syncing(struct acct *a, enum acct_event ev, void *arg)
{
	unsigned *n = arg;

	if (ev == ACCT_EV_STATE && acct_status(a)->state == ACCT_SYNCING &&
	    (*n)++ == 0)
		assert_int_equal(acct_request_pause(a), MS_OK);
}

static void
stop_on_syncing(struct acct *a, enum acct_event ev, void *arg)
{
	(void)arg;
	if (ev == ACCT_EV_STATE && acct_status(a)->state == ACCT_SYNCING)
		acct_stop(a);
}

static void
test_subscriber_pauses_or_stops(void **state)
{
	struct fix x;
	const struct acct_status *st;
	unsigned n = 0;

	(void)state;
	fix_new(&x, false);
	st = acct_status(x.a);
	assert_int_equal(acct_subscribe(x.a, pause_on_syncing, &n), MS_OK);
	assert_int_equal(acct_request_sync(x.a, "INBOX"), MS_OK);
	assert_int_equal(the_fake->n_pass, 0);
	assert_int_equal(st->state, ACCT_PAUSED);
	fix_turns(&x, 3);
	assert_int_equal(the_fake->n_pass, 0);
	assert_int_equal(acct_request_resume(x.a), MS_OK);
	assert_int_equal(the_fake->n_pass, 1);
	assert_string_equal(the_fake->folders[0], "*");
	fake_finish(MS_OK, true, 0);
	fix_turns(&x, 3);
	assert_int_equal(the_fake->n_pass, 1);	/* INBOX was covered */
	fix_free(&x);

	fix_new(&x, false);
	assert_int_equal(acct_subscribe(x.a, stop_on_syncing, NULL), MS_OK);
	acct_start(x.a);
	assert_int_equal(the_fake->n_pass, 0);
	fix_turns(&x, 3);
	assert_true(acct_is_stopped(x.a));
	assert_int_equal(acct_status(x.a)->passes, 0);
	fix_free(&x);
}

static void
test_progress(void **state)
{
	struct fix x;
	const struct acct_status *st;
	struct acct_progress p = {
		.folders_done = 1, .folders_total = 4,
		.msgs_done = 100, .msgs_total = 400,
		.bytes_done = 2000000, .seconds = 2.0,
		.folder = "INBOX",
	};

	(void)state;
	fix_new(&x, false);
	st = acct_status(x.a);
	acct_start(x.a);
	the_fake->cbs.on_progress_cb(&p, the_fake->cbs.arg);
	assert_int_equal(x.n_ev[ACCT_EV_PROGRESS], 1);
	assert_int_equal(st->progress.msgs_done, 100);
	assert_int_equal(st->progress.msgs_total, 400);
	assert_string_equal(st->progress.folder, "INBOX");
	assert_true(st->rate_bps > 999999.0 && st->rate_bps < 1000001.0);
	/* Within 250 ms: read, not pushed; a new folder is pushed. */
	p.msgs_done = 150;
	the_fake->cbs.on_progress_cb(&p, the_fake->cbs.arg);
	assert_int_equal(x.n_ev[ACCT_EV_PROGRESS], 1);
	assert_int_equal(st->progress.msgs_done, 150);
	snprintf(p.folder, sizeof(p.folder), "Sent");
	the_fake->cbs.on_progress_cb(&p, the_fake->cbs.arg);
	assert_int_equal(x.n_ev[ACCT_EV_PROGRESS], 2);
	fake_finish(MS_OK, true, 150);
	assert_int_equal(st->progress.msgs_done, 0);	/* no pass runs */
	fix_free(&x);
}

/* A subscriber hears what the owner hears, until it unsubscribes. */
static unsigned sub_events;

static void
sub_on_event(struct acct *a, enum acct_event ev, void *arg)
{
	(void)a;
	(void)ev;
	assert_ptr_equal(arg, &sub_events);
	sub_events++;
}

static void
test_subscribers(void **state)
{
	struct fix x;

	(void)state;
	fix_new(&x, false);
	sub_events = 0;
	assert_int_equal(acct_subscribe(x.a, sub_on_event, &sub_events),
			 MS_OK);
	acct_start(x.a);
	assert_int_equal(sub_events, 1);		/* SYNCING */
	fake_finish(MS_OK, true, 0);
	assert_int_equal(sub_events, 3);		/* IDLE, PASS_DONE */
	acct_unsubscribe(x.a, sub_on_event, &sub_events);
	assert_int_equal(acct_request_sync(x.a, NULL), MS_OK);
	assert_int_equal(sub_events, 3);
	fake_finish(MS_OK, true, 0);
	fix_free(&x);
}

/* A refused login: auth-failed, the next try in 15 minutes; a user's
 * request tries at once. */
static void
test_auth_failed(void **state)
{
	struct fix x;
	const struct acct_status *st;
	uint64_t t0 = now_ms();

	(void)state;
	fix_new(&x, false);
	st = acct_status(x.a);
	acct_start(x.a);
	fake_finish(MS_EAUTH, true, 0);
	assert_int_equal(st->state, ACCT_AUTH_FAILED);
	assert_string_equal(st->reason, "scripted failure -14");
	assert_int_equal(st->sched.auth_failures, 1);
	assert_true(st->next_ms >= t0 + 15 * 60 * 1000 - 1000);
	fix_turns(&x, 3);
	assert_int_equal(the_fake->n_pass, 1);
	assert_int_equal(acct_request_sync(x.a, NULL), MS_OK);
	assert_int_equal(the_fake->n_pass, 2);
	fake_finish(MS_OK, true, 0);
	assert_int_equal(st->state, ACCT_IDLE);
	assert_int_equal(st->sched.auth_failures, 0);
	assert_string_equal(st->reason, "");
	fix_free(&x);
}

static void
test_offline_then_backoff(void **state)
{
	struct fix x;
	const struct acct_status *st;

	(void)state;
	fix_new(&x, false);
	st = acct_status(x.a);
	acct_start(x.a);
	fake_finish(MS_ECONN, false, 0);
	assert_int_equal(st->state, ACCT_OFFLINE);
	assert_int_equal(st->sched.backoff.attempt, 1);
	assert_true(st->next_ms <= now_ms() + 1000);
	assert_int_equal(acct_request_sync(x.a, NULL), MS_OK);
	fake_finish(MS_ETIMEDOUT, true, 0);
	assert_int_equal(st->state, ACCT_BACKOFF);
	assert_int_equal(st->sched.backoff.attempt, 2);
	fix_free(&x);
}

/* Stop during a pass: the engine cancels, then closes; stopped only
 * then. */
static void
test_stop_during_pass(void **state)
{
	struct fix x;
	const struct acct_status *st;

	(void)state;
	fix_new(&x, false);
	st = acct_status(x.a);
	acct_start(x.a);
	acct_stop(x.a);
	assert_int_equal(the_fake->n_close, 1);
	assert_int_equal(the_fake->n_cancel, 1);
	assert_false(acct_is_stopped(x.a));
	assert_int_equal(acct_request_sync(x.a, NULL), MS_EINVAL);
	fix_turns(&x, 3);
	assert_true(acct_is_stopped(x.a));
	assert_int_equal(st->passes, 1);
	assert_int_equal(st->last.rc, MS_ECANCELED);
	acct_stop(x.a);			/* idempotent */
	fix_free(&x);
}

/* --once: one pass, then the engine closes and the runtime stops. */
static void
test_once(void **state)
{
	struct fix x;
	const struct acct_status *st;

	(void)state;
	fix_new(&x, true);
	st = acct_status(x.a);
	acct_start(x.a);
	fake_finish(MS_OK, true, 3);
	assert_int_equal(the_fake->n_close, 1);
	fix_turns(&x, 3);
	assert_true(acct_is_stopped(x.a));
	assert_int_equal(st->last.new_msgs, 3);
	assert_int_equal(st->passes, 1);
	fix_free(&x);
}

/* An account without an engine is disabled, says why, and stops. */
static void
test_disabled(void **state)
{
	static char name[] = "p", host[] = "localhost";
	/* Every protocol of the configuration has an engine today, or
	 * (smtp, send-only) no runtime at all. */
	struct cfg_account c = { .name = name, .host = host,
				 .protocol = (enum cfg_protocol)
					     (CFG_PROTOCOL_SMTP + 1) };
	struct acct_params p = { 0 };
	struct ms_err err = { 0 };
	uv_loop_t loop;
	struct acct *a;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	p.loop = &loop;
	p.account = &c;
	assert_int_equal(acct_new(&p, &a, &err), MS_OK);
	assert_int_equal(acct_status(a)->state, ACCT_DISABLED);
	assert_string_equal(acct_status(a)->reason,
			    "? is not implemented yet");
	assert_int_equal(acct_request_sync(a, NULL), MS_EINVAL);
	acct_start(a);
	acct_stop(a);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_true(acct_is_stopped(a));
	assert_string_equal(acct_status(a)->reason,
			    "? is not implemented yet");
	acct_free(&a);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_then_idle),
		cmocka_unit_test(test_request_queue),
		cmocka_unit_test(test_pause_cancels_and_resume_restarts),
		cmocka_unit_test(test_resume_during_cancel),
		cmocka_unit_test(test_pause_during_export),
		cmocka_unit_test(test_early_export_hold),
		cmocka_unit_test(test_early_export_stop),
		cmocka_unit_test(test_stop_during_scan),
		cmocka_unit_test(test_subscriber_pauses_or_stops),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_subscribers),
		cmocka_unit_test(test_auth_failed),
		cmocka_unit_test(test_offline_then_backoff),
		cmocka_unit_test(test_stop_during_pass),
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_disabled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
