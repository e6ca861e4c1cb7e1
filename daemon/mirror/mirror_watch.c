/* mirror_watch.c - inotify events over an account's mirror, paused while
 * a pass runs. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maildir/maildir_watch.h"
#include "mirror/mirror_watch.h"

/* Folders remembered while paused; more than this: "everything". */
#define MIRROR_WATCH_DIRS_MAX 32

struct mirror_watch {
	struct maildir_watch *mw;
	mirror_watch_cb cb;
	void *arg;
	bool is_paused;
	struct mirror_dirs paused;	/* what changed while paused */
	/* Set while mirror_watch_resume() calls back: the callback may
	 * close the watch, which then says so here. */
	bool *is_closed_r;
};

void
mirror_dirs_add(struct mirror_dirs *d, const char *rel, size_t max)
{
	char **v;

	if (d->is_all)
		return;
	for (size_t i = 0; rel != NULL && i < d->n; i++)
		if (strcmp(d->v[i], rel) == 0)
			return;
	if (rel == NULL || d->n >= max ||
	    (v = realloc(d->v, (d->n + 1) * sizeof(*v))) == NULL) {
		mirror_dirs_clear(d);
		d->is_all = true;
		return;
	}
	d->v = v;
	if ((d->v[d->n] = strdup(rel)) == NULL) {
		mirror_dirs_clear(d);
		d->is_all = true;
		return;
	}
	d->n++;
}

void
mirror_dirs_clear(struct mirror_dirs *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/*
 * One event per folder per burst arrives here.  A folder that went (or
 * a tree walk) may have taken messages elsewhere, and events the kernel
 * dropped may have been anywhere: everything is to be scanned then.
 */
static void
mirror_watch_on_event(struct maildir_watch *mw, const char *rel,
		      enum maildir_watch_what what, void *arg)
{
	struct mirror_watch *w = arg;

	(void)mw;
	if (what == MAILDIR_WATCH_GONE || what == MAILDIR_WATCH_ANY)
		rel = NULL;
	if (w->is_paused) {
		mirror_dirs_add(&w->paused, rel, MIRROR_WATCH_DIRS_MAX);
		return;
	}
	w->cb(w, rel, w->arg);
}

void
mirror_watch_pause(struct mirror_watch *w)
{
	if (w != NULL)
		w->is_paused = true;
}

void
mirror_watch_resume(struct mirror_watch *w)
{
	struct mirror_dirs d;
	bool is_closed = false;

	if (w == NULL)
		return;
	w->is_paused = false;
	d = w->paused;
	memset(&w->paused, 0, sizeof(w->paused));
	/* The callback may pause the watch again: the rest is remembered
	 * anew then.  It may also close it: w is not touched after. */
	w->is_closed_r = &is_closed;
	if (d.is_all)
		w->cb(w, NULL, w->arg);
	for (size_t i = 0; i < d.n && !is_closed; i++) {
		if (!w->is_paused)
			w->cb(w, d.v[i], w->arg);
		else
			mirror_dirs_add(&w->paused, d.v[i], MIRROR_WATCH_DIRS_MAX);
	}
	if (!is_closed)
		w->is_closed_r = NULL;
	mirror_dirs_clear(&d);
}

struct mirror_watch *
mirror_watch_new(uv_loop_t *loop, struct inotify_reader *ino, const char *root,
		 enum maildir_layout layout,
		 struct maildir_report *rep, unsigned delay_ms,
		 mirror_watch_cb cb, void *arg, struct ms_err *err_r)
{
	struct mirror_watch *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		ms_err_set(err_r, MS_ENOMEM, "out of memory");
		return NULL;
	}
	w->cb = cb;
	w->arg = arg;
	w->mw = maildir_watch_new(loop, ino, root, layout, delay_ms,
				  mirror_watch_on_event,
				  w, rep, err_r);
	if (w->mw == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

void
mirror_watch_set_expect(struct mirror_watch *w, struct maildir_expect *e)
{
	if (w != NULL)
		maildir_watch_set_expect(w->mw, e);
}

void
mirror_watch_close(struct mirror_watch *w)
{
	if (w == NULL)
		return;
	/* The maildir watch frees itself from its close callbacks and
	 * calls nothing of ours after this. */
	maildir_watch_close(w->mw);
	mirror_dirs_clear(&w->paused);
	if (w->is_closed_r != NULL)
		*w->is_closed_r = true;
	free(w);
}
