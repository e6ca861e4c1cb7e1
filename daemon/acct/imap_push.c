/*
 * imap_push.c - push for the IMAP engine (imap_push.h).
 *
 * The story of one watching connection (struct imap_push_watch), in the
 * order its functions run:
 *   push_watch_open()      a session of its own (no COMPRESS: it carries
 *                          a few lines an hour)
 *   push_on_ready()        NOTIFY SET, or EXAMINE of its folder
 *   push_on_setup_done()   IDLE: the connection watches
 *   push_on_event()        a change: the owner's on_change_cb
 *   push_on_reidle()       every IMAP_PUSH_REIDLE_MS: DONE, then IDLE
 *   push_on_close()        the end; an end nobody asked for takes the
 *                          others down (push_teardown), and the last one
 *                          closed reports push down (push_maybe_down)
 * The push itself is DOWN, UP or GOING_DOWN; one setter logs its moves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct/imap_push.h"
#include "imap/imap_utf7.h"
#include "log.h"

enum push_watch_state {
	PUSH_W_CONNECTING,
	PUSH_W_SETUP,		/* NOTIFY SET or EXAMINE sent */
	PUSH_W_IDLE,		/* IDLE runs: the connection watches */
	PUSH_W_REIDLE,		/* DONE sent; IDLE again after its OK */
	PUSH_W_CLOSING,
};

enum push_state {
	PUSH_DOWN,
	PUSH_UP,
	PUSH_GOING_DOWN,
};

static const char *const push_state_names[] = {
	[PUSH_DOWN] = "down",
	[PUSH_UP] = "up",
	[PUSH_GOING_DOWN] = "going-down",
};

enum push_mode {
	PUSH_MODE_NONE,
	PUSH_MODE_NOTIFY,
	PUSH_MODE_IDLE,
};

struct imap_push_watch {
	struct imap_push *push;
	struct imap_session *sess;	/* NULL once closed */
	char *folder;			/* IDLE: the folder; NOTIFY: NULL */
	enum push_watch_state state;
	bool is_quiet;			/* its end is no loss (EXAMINE NO) */
};

struct imap_push {
	uv_loop_t *loop;
	struct imap_session_params sp;	/* the template */
	struct imap_push_cbs cbs;
	enum push_state state;
	enum push_mode mode;
	unsigned caps;
	char **folders;			/* IDLE's folders (owned) */
	size_t n_folders, n_wanted;
	struct imap_push_watch **w;	/* open connections */
	size_t n_w;
	bool has_watched;		/* some connection reached IDLE */
	bool want_idle_instead;		/* NOTIFY was refused */
	/* The server's IDLE only polls its folders (Courier-IMAP without
	 * FAM: every 60 s), so push is no faster than that: said in
	 * status. */
	bool is_idle_polling;
	char why[256];			/* the first end nobody asked for */
	char desc[192];
	uv_timer_t reidle;
	bool is_close_asked;
	bool is_closed;
	bool is_dropping;		/* imap_push_drop(): no LOGOUT */
};

static void push_teardown(struct imap_push *p, const char *why);
static int push_start_mode(struct imap_push *p);

static void
push_set_state(struct imap_push *p, enum push_state st)
{
	if (p->state == st)
		return;
	log_debug("acct=%s push state=%s->%s", p->sp.account,
		  push_state_names[p->state], push_state_names[st]);
	p->state = st;
}

/* --- the description for status ----------------------------------------- */

#define PUSH_IDLE_POLLS_NOTE "; the server's IDLE only polls " \
	"(Courier-IMAP: new mail shows within about a minute)"

/*
 * Does the server's IDLE only poll?  Courier-IMAP's checks the folder
 * every 60 s unless it was built with FAM and IMAP_ENHANCEDIDLE is on,
 * which the server does not tell: its greeting names it, and the note
 * errs on the side of saying so.
 */
static bool
push_idle_polls(const char *greeting)
{
	return strstr(greeting, "Courier-IMAP") != NULL;
}

static void
push_describe_update(struct imap_push *p)
{
	size_t watching = 0;

	for (size_t i = 0; i < p->n_w; i++)
		if (p->w[i]->state == PUSH_W_IDLE ||
		    p->w[i]->state == PUSH_W_REIDLE)
			watching++;
	if (p->state != PUSH_UP) {
		if (p->mode == PUSH_MODE_NONE && p->caps != 0 &&
		    !(p->caps & IMAP_SESSION_CAP_IDLE))
			snprintf(p->desc, sizeof(p->desc), "off: the server "
				 "offers neither NOTIFY nor IDLE (polling "
				 "only)");
		else if (p->mode == PUSH_MODE_NONE && p->caps != 0)
			snprintf(p->desc, sizeof(p->desc), "off: no folder "
				 "of idle_folders to watch (polling only)");
		else
			snprintf(p->desc, sizeof(p->desc), "off");
	} else if (watching < p->n_w) {
		snprintf(p->desc, sizeof(p->desc), "%s: connecting (%zu of "
			 "%zu connection%s watching)", p->mode ==
			 PUSH_MODE_NOTIFY ? "notify" : "idle", watching,
			 p->n_w, p->n_w == 1 ? "" : "s");
	} else if (p->mode == PUSH_MODE_NOTIFY) {
		snprintf(p->desc, sizeof(p->desc), "notify on every folder "
			 "(1 connection)");
	} else if (p->n_w == 1 && p->n_wanted <= 1) {
		snprintf(p->desc, sizeof(p->desc), "idle on %s (1 connection)%s",
			 p->w[0]->folder, p->is_idle_polling ?
			 PUSH_IDLE_POLLS_NOTE : "");
	} else {
		snprintf(p->desc, sizeof(p->desc), "idle on %zu of %zu "
			 "folders (%zu connection%s, at most %u; the rest "
			 "polled)%s", p->n_w, p->n_wanted, p->n_w,
			 p->n_w == 1 ? "" : "s", IMAP_PUSH_MAX_CONNS,
			 p->is_idle_polling ? PUSH_IDLE_POLLS_NOTE : "");
	}
	if (p->cbs.on_state_cb != NULL)
		p->cbs.on_state_cb(p->cbs.arg);
}

const char *
imap_push_describe(const struct imap_push *p)
{
	return p->desc;
}

/* --- the end ------------------------------------------------------------ */

static void
push_on_reidle_closed(uv_handle_t *h)
{
	struct imap_push *p = h->data;

	p->is_closed = true;
	if (p->cbs.on_closed_cb != NULL)
		p->cbs.on_closed_cb(p->cbs.arg);
}

static void
push_maybe_closed(struct imap_push *p)
{
	if (!p->is_close_asked || p->state != PUSH_DOWN ||
	    uv_is_closing((uv_handle_t *)&p->reidle))
		return;
	uv_close((uv_handle_t *)&p->reidle, push_on_reidle_closed);
}

/* The last connection closed: push is down. */
static void
push_maybe_down(struct imap_push *p)
{
	bool was_watching = p->has_watched;
	char why[sizeof(p->why)];

	if (p->n_w > 0 || p->state == PUSH_DOWN)
		return;
	uv_timer_stop(&p->reidle);
	p->is_dropping = false;
	push_set_state(p, PUSH_DOWN);
	snprintf(why, sizeof(why), "%s", p->why);
	p->why[0] = '\0';
	p->has_watched = false;
	if (p->want_idle_instead && !p->is_close_asked) {
		/* NOTIFY refused: the same folders with IDLE instead. */
		p->want_idle_instead = false;
		p->mode = PUSH_MODE_IDLE;
		if (push_start_mode(p) == MS_OK)
			return;
	}
	push_describe_update(p);
	if (p->cbs.on_down_cb != NULL)
		p->cbs.on_down_cb(was_watching && why[0] != '\0', why,
				  p->cbs.arg);
	push_maybe_closed(p);
}

static void
push_watch_remove(struct imap_push *p, struct imap_push_watch *w)
{
	for (size_t i = 0; i < p->n_w; i++) {
		if (p->w[i] != w)
			continue;
		memmove(&p->w[i], &p->w[i + 1],
			(p->n_w - i - 1) * sizeof(p->w[0]));
		p->n_w--;
		break;
	}
	free(w->folder);
	free(w);
}

static void
push_watch_close(struct imap_push_watch *w)
{
	if (w->sess == NULL || w->state == PUSH_W_CLOSING)
		return;
	w->state = PUSH_W_CLOSING;
	/* Dropped: the connection may lead nowhere now; no LOGOUT to wait
	 * for. */
	imap_session_close(w->sess, w->push->is_dropping ? MS_ECONN : MS_OK);
}

static void
push_teardown(struct imap_push *p, const char *why)
{
	if (why != NULL && p->why[0] == '\0')
		snprintf(p->why, sizeof(p->why), "%s", why);
	if (p->state == PUSH_UP)
		push_set_state(p, PUSH_GOING_DOWN);
	uv_timer_stop(&p->reidle);
	for (size_t i = 0; i < p->n_w; i++)
		push_watch_close(p->w[i]);
}

static void
push_on_close(struct imap_session *s, int reason, const struct ms_err *err,
	      void *arg)
{
	struct imap_push_watch *w = arg;
	struct imap_push *p = w->push;
	const char *why = err != NULL && err->msg[0] != '\0' ? err->msg :
			  ms_strerror(reason);
	bool is_asked = w->state == PUSH_W_CLOSING && reason == MS_OK;

	(void)s;
	w->sess = NULL;
	if (w->is_quiet) {
		push_watch_remove(p, w);
		if (p->n_w == 0)
			push_teardown(p, NULL);
		else
			push_describe_update(p);
		push_maybe_down(p);
		return;
	}
	if (!is_asked && p->state == PUSH_UP) {
		log_debug("acct=%s push: connection for %s ended: %s",
			  p->sp.account, w->folder != NULL ? w->folder :
			  "NOTIFY", why);
		push_watch_remove(p, w);
		push_teardown(p, why);
	} else {
		push_watch_remove(p, w);
	}
	push_maybe_down(p);
}

/* --- watching ------------------------------------------------------------- */

static void
push_change(struct imap_push *p, const char *folder)
{
	if (p->state == PUSH_UP && p->cbs.on_change_cb != NULL)
		p->cbs.on_change_cb(folder, p->cbs.arg);
}

/* A NOTIFY STATUS names a folder in modified UTF-7. */
static void
push_change_mutf7(struct imap_push *p, struct ms_slice mailbox)
{
	struct ms_buf name;

	/* The buffer keeps a NUL after its data: a string. */
	ms_buf_init(&name, 4096);
	if (imap_utf7_decode(mailbox, &name) < 0 || name.len == 0) {
		/* Not a name we could have synced: the next full pass
		 * judges it. */
		push_change(p, NULL);
	} else {
		push_change(p, (const char *)name.p);
	}
	ms_buf_deinit(&name);
}

static void
push_on_event(struct imap_push_watch *w, const struct imap_event *ev)
{
	struct imap_push *p = w->push;

	if (w->folder == NULL) {
		switch (ev->type) {
		case IMAP_EV_STATUS:
			push_change_mutf7(p, ev->u.status_resp.mailbox);
			return;
		case IMAP_EV_LIST:	/* created, renamed, deleted */
			push_change(p, NULL);
			return;
		case IMAP_EV_UNTAGGED_STATUS:
			if (ev->u.status.code.code ==
			    IMAP_CODE_NOTIFICATIONOVERFLOW)
				push_change(p, NULL);
			return;
		default:
			return;
		}
	}
	/* EXAMINE's own EXISTS is no change. */
	if (w->state != PUSH_W_IDLE && w->state != PUSH_W_REIDLE)
		return;
	switch (ev->type) {
	case IMAP_EV_EXISTS:
	case IMAP_EV_EXPUNGE:
	case IMAP_EV_FETCH:
	case IMAP_EV_VANISHED:
		push_change(p, w->folder);
		return;
	default:
		return;
	}
}

/* Untagged responses, whether a command of ours runs (NOTIFY SET's, or
 * IDLE's) or not: the same news either way. */
static void
push_on_session_event(struct imap_session *s, const struct imap_event *ev,
		      void *arg)
{
	(void)s;
	push_on_event(arg, ev);
}

static void push_idle(struct imap_push_watch *w);

static void
push_on_idle_done(struct imap_session *s, int rc,
		  const struct imap_ev_status *st, void *arg)
{
	struct imap_push_watch *w = arg;

	(void)s;
	if (rc < 0 || w->state == PUSH_W_CLOSING)
		return;		/* the session's end tells */
	if (st->status != IMAP_STATUS_OK) {
		push_teardown(w->push, "the server ended IDLE with an error");
		return;
	}
	if (w->state == PUSH_W_REIDLE)
		push_idle(w);
}

static void
push_idle(struct imap_push_watch *w)
{
	struct imap_session_cmd_cbs cbs = {
		.on_event_cb = push_on_session_event,
		.on_done_cb = push_on_idle_done,
		.arg = w,
	};
	struct imap_push *p = w->push;
	bool was = w->state == PUSH_W_IDLE || w->state == PUSH_W_REIDLE;
	int rc;

	if ((rc = imap_session_idle_start(w->sess, &cbs)) < 0) {
		push_teardown(p, rc == MS_EIMPL ? "the server has no IDLE" :
			      "IDLE could not be sent");
		return;
	}
	w->state = PUSH_W_IDLE;
	if (was)
		return;
	p->has_watched = true;
	push_describe_update(p);
	/* What changed between the pass that started push and this moment
	 * was told to nobody: one more pass of what this connection
	 * watches closes the gap. */
	push_change(p, w->folder);
}

static void
push_on_reidle(uv_timer_t *t)
{
	struct imap_push *p = t->data;

	for (size_t i = 0; i < p->n_w; i++) {
		struct imap_push_watch *w = p->w[i];

		if (w->state != PUSH_W_IDLE)
			continue;
		if (imap_session_idle_stop(w->sess) < 0) {
			push_teardown(p, "IDLE could not be ended");
			return;
		}
		w->state = PUSH_W_REIDLE;
	}
}

static void
push_on_setup_done(struct imap_session *s, int rc,
		   const struct imap_ev_status *st, void *arg)
{
	struct imap_push_watch *w = arg;
	struct imap_push *p = w->push;

	(void)s;
	if (rc < 0 || w->state == PUSH_W_CLOSING)
		return;
	if (st->status == IMAP_STATUS_OK) {
		push_idle(w);
		return;
	}
	if (w->folder == NULL) {
		log_info("acct=%s push: the server refused NOTIFY (%.*s); "
			 "watching idle_folders with IDLE instead",
			 p->sp.account, (int)st->text.len,
			 (const char *)st->text.p);
		p->want_idle_instead = true;
		w->is_quiet = true;
		push_watch_close(w);
		return;
	}
	log_info("acct=%s push: cannot watch %s (EXAMINE: %.*s); the poll "
		 "covers it", p->sp.account, w->folder, (int)st->text.len,
		 (const char *)st->text.p);
	w->is_quiet = true;
	push_watch_close(w);
}

static void
push_on_ready(struct imap_session *s, void *arg)
{
	struct imap_push_watch *w = arg;
	struct imap_session_cmd_cbs cbs = {
		.on_event_cb = push_on_session_event,
		.on_done_cb = push_on_setup_done,
		.arg = w,
	};
	struct imap_select_opts so = { .read_only = true };
	struct imap_client *core = imap_session_core(s);
	int tag;

	if (w->state != PUSH_W_CONNECTING)
		return;
	w->push->is_idle_polling = push_idle_polls(imap_session_greeting(s));
	if (w->folder == NULL)
		tag = imap_cmd_notify_personal(core, false,
		    IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE |
		    IMAP_NOTIFY_FLAG_CHANGE | IMAP_NOTIFY_MAILBOX_NAME |
		    IMAP_NOTIFY_SUBSCRIPTION_CHANGE);
	else
		tag = imap_cmd_select(core, ms_slice_from_cstr(w->folder), &so);
	if (tag < 0 || imap_session_submit(s, tag, &cbs) < 0) {
		push_teardown(w->push, "could not send NOTIFY or EXAMINE");
		return;
	}
	w->state = PUSH_W_SETUP;
}

/* --- starting --------------------------------------------------------------- */

static int
push_watch_open(struct imap_push *p, const char *folder)
{
	struct imap_session_params sp = p->sp;
	struct imap_push_watch *w, **v;
	struct ms_err err = { 0 };
	int rc;

	if ((v = realloc(p->w, (p->n_w + 1) * sizeof(*v))) == NULL)
		return MS_ENOMEM;
	p->w = v;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return MS_ENOMEM;
	w->push = p;
	if (folder != NULL && (w->folder = strdup(folder)) == NULL) {
		free(w);
		return MS_ENOMEM;
	}
	sp.want_compress = false;
	sp.on_ready_cb = push_on_ready;
	sp.on_unsolicited_cb = push_on_session_event;
	sp.on_close_cb = push_on_close;
	sp.arg = w;
	if ((rc = imap_session_new(p->loop, &sp, &w->sess, &err)) < 0) {
		log_warn("acct=%s push: %s", p->sp.account, err.msg);
		free(w->folder);
		free(w);
		return rc;
	}
	w->state = PUSH_W_CONNECTING;
	p->w[p->n_w++] = w;
	return MS_OK;
}

/* Opens the connections of p->mode; MS_OK or an error with none open. */
static int
push_start_mode(struct imap_push *p)
{
	size_t n = p->mode == PUSH_MODE_NOTIFY ? 1 : p->n_folders;
	int rc = MS_OK;

	if (p->mode == PUSH_MODE_NONE || n == 0)
		return MS_EINVAL;
	push_set_state(p, PUSH_UP);
	for (size_t i = 0; i < n && rc == MS_OK; i++)
		rc = push_watch_open(p, p->mode == PUSH_MODE_NOTIFY ? NULL :
				     p->folders[i]);
	if (rc < 0) {
		push_teardown(p, NULL);
		if (p->n_w == 0)
			push_set_state(p, PUSH_DOWN);
		return rc;
	}
	uv_timer_start(&p->reidle, push_on_reidle, IMAP_PUSH_REIDLE_MS,
		       IMAP_PUSH_REIDLE_MS);
	push_describe_update(p);
	return MS_OK;
}

static void
push_folders_free(struct imap_push *p)
{
	for (size_t i = 0; i < p->n_folders; i++)
		free(p->folders[i]);
	free(p->folders);
	p->folders = NULL;
	p->n_folders = 0;
}

int
imap_push_start(struct imap_push *p, unsigned caps, char *const *folders,
		size_t n, size_t n_wanted)
{
	if (p->state != PUSH_DOWN || p->is_close_asked)
		return MS_OK;
	push_folders_free(p);
	if (n > IMAP_PUSH_MAX_CONNS)
		n = IMAP_PUSH_MAX_CONNS;
	if (n > 0 && (p->folders = calloc(n, sizeof(*p->folders))) == NULL)
		return MS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if ((p->folders[i] = strdup(folders[i])) == NULL) {
			push_folders_free(p);
			return MS_ENOMEM;
		}
		p->n_folders++;
	}
	p->n_wanted = n_wanted;
	p->caps = caps;
	p->mode = !(caps & IMAP_SESSION_CAP_IDLE) ? PUSH_MODE_NONE :
		  (caps & IMAP_SESSION_CAP_NOTIFY) ? PUSH_MODE_NOTIFY :
		  n > 0 ? PUSH_MODE_IDLE : PUSH_MODE_NONE;
	if (p->mode == PUSH_MODE_NONE) {
		push_describe_update(p);
		return MS_OK;
	}
	return push_start_mode(p);
}

/* --- the rest of the interface ------------------------------------------ */

int
imap_push_new(uv_loop_t *loop, const struct imap_session_params *sp,
	      const struct imap_push_cbs *cbs, struct imap_push **p_r)
{
	struct imap_push *p;

	*p_r = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return MS_ENOMEM;
	p->loop = loop;
	p->sp = *sp;
	p->cbs = *cbs;
	snprintf(p->desc, sizeof(p->desc), "off");
	uv_timer_init(loop, &p->reidle);
	p->reidle.data = p;
	*p_r = p;
	return MS_OK;
}

void
imap_push_stop(struct imap_push *p)
{
	p->want_idle_instead = false;
	if (p->state == PUSH_UP)
		push_teardown(p, NULL);
}

void
imap_push_drop(struct imap_push *p)
{
	if (p->state == PUSH_UP)
		p->is_dropping = true;
	imap_push_stop(p);
}

bool
imap_push_is_up(const struct imap_push *p)
{
	return p->state != PUSH_DOWN;
}

void
imap_push_close(struct imap_push *p)
{
	if (p->is_close_asked)
		return;
	p->is_close_asked = true;
	imap_push_stop(p);
	push_maybe_closed(p);
}

void
imap_push_free(struct imap_push **pp)
{
	struct imap_push *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	if (p->n_w > 0 || (!p->is_closed && p->is_close_asked))
		log_err("acct=%s push freed while open", p->sp.account);
	push_folders_free(p);
	free(p->w);
	free(p);
}
