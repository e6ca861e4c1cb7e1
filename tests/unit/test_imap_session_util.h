/*
 * test_imap_session_util.h - runs one imap_session on its own uv loop to
 * the end and records what happened, for test_imap_session_*.c.  Every
 * run closes every handle and checks uv_loop_close() == 0.
 */
#ifndef TEST_IMAP_SESSION_UTIL_H
#define TEST_IMAP_SESSION_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "log.h"
#include "net/tls.h"
#include "session/imap_session.h"

/* The whole session (connect .. LOGOUT) must end within this. */
#define SRUN_GUARD_MS 30000

struct srun;
typedef void srun_hook(struct srun *r);

struct srun {
	uv_loop_t loop;
	uv_timer_t guard;
	struct imap_session *s;
	bool ready, closed, guard_fired;
	int close_rc;
	char close_msg[256];
	unsigned caps;
	enum sasl_mech mech;
	char caplist[4096];
	unsigned nunsol;
	/* Called on ready; NULL: close(MS_OK) at once. */
	srun_hook *on_ready;
	/* Called for each unsolicited response (after counting it). */
	void (*on_unsol)(struct srun *r, const struct imap_event *ev);
	/* Nonzero: imap_session_close(s, close_rc_early) after this long. */
	unsigned close_after_ms;
	int close_rc_early;
	uv_timer_t early;
	void *user;
};

static void
srun_ready_cb(struct imap_session *s, void *arg)
{
	struct srun *r = arg;
	struct ms_slice l = imap_session_capability_list(s);

	r->ready = true;
	r->caps = imap_session_caps(s);
	r->mech = imap_session_mech(s);
	snprintf(r->caplist, sizeof(r->caplist), "%.*s", (int)l.len,
	    (const char *)l.p);
	if (r->on_ready != NULL)
		r->on_ready(r);
	else
		imap_session_close(s, MS_OK);
}

static void
srun_unsol_cb(struct imap_session *s, const struct imap_event *ev, void *arg)
{
	struct srun *r = arg;

	(void)s;
	r->nunsol++;
	if (r->on_unsol != NULL)
		r->on_unsol(r, ev);
}

static void
srun_close_cb(struct imap_session *s, int reason, const struct ms_err *err,
    void *arg)
{
	struct srun *r = arg;

	(void)s;
	assert_false(r->closed);	/* exactly once */
	r->closed = true;
	r->close_rc = reason;
	snprintf(r->close_msg, sizeof(r->close_msg), "%s", err->msg);
	r->s = NULL;
	uv_timer_stop(&r->guard);
	if (r->close_after_ms != 0)
		uv_timer_stop(&r->early);
}

static void
srun_early_cb(uv_timer_t *t)
{
	struct srun *r = t->data;

	if (r->s != NULL)
		imap_session_close(r->s, r->close_rc_early);
}

static void
srun_guard_cb(uv_timer_t *t)
{
	struct srun *r = t->data;

	r->guard_fired = true;
	if (r->s != NULL)
		imap_session_close(r->s, MS_ETIMEDOUT);
}

/* Fills the common parameters: loopback, 5 s timeout, r's callbacks. */
static void
srun_params(struct srun *r, struct imap_session_params *p)
{
	memset(r, 0, sizeof(*r));
	memset(p, 0, sizeof(*p));
	p->account = "test";
	p->host = "127.0.0.1";
	p->timeout_ms = 5000;
	p->on_ready_cb = srun_ready_cb;
	p->on_unsolicited_cb = srun_unsol_cb;
	p->on_close_cb = srun_close_cb;
	p->arg = r;
	if (getenv("MS_TEST_TRACE") != NULL) {
		log_set_level(LOG_LEVEL_DEBUG);
		log_set_trace(TRACE_ALL);
	}
}

/* Runs the session to its end. */
static void
srun_go(struct srun *r, const struct imap_session_params *p)
{
	struct ms_err err;
	int rc;

	assert_int_equal(uv_loop_init(&r->loop), 0);
	assert_int_equal(uv_timer_init(&r->loop, &r->guard), 0);
	r->guard.data = r;
	assert_int_equal(uv_timer_start(&r->guard, srun_guard_cb,
	    SRUN_GUARD_MS, 0), 0);
	if (r->close_after_ms != 0) {
		assert_int_equal(uv_timer_init(&r->loop, &r->early), 0);
		r->early.data = r;
		assert_int_equal(uv_timer_start(&r->early, srun_early_cb,
		    r->close_after_ms, 0), 0);
	}
	rc = imap_session_new(&r->loop, p, &r->s, &err);
	if (rc != MS_OK)
		fail_msg("imap_session_new: %s", err.msg);
	(void)uv_run(&r->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&r->guard, NULL);
	if (r->close_after_ms != 0)
		uv_close((uv_handle_t *)&r->early, NULL);
	(void)uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&r->loop), 0);
	assert_true(r->closed);
	assert_false(r->guard_fired);
}

static void
srun_assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("'%s' does not contain '%s'", hay, needle);
}

static struct net_tls_ctx *
srun_tls_ctx(const char *ca_file, const char *pin)
{
	struct net_tls_ctx_params tp = { .ca_file = ca_file,
	    .fingerprint = pin };
	struct net_tls_ctx *ctx;
	struct ms_err err;

	if (net_tls_ctx_new(&tp, &ctx, &err) != MS_OK)
		fail_msg("net_tls_ctx_new: %s", err.msg);
	return ctx;
}

#endif
