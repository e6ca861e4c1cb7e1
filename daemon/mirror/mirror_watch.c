/* mirror_watch.c - inotify events over an account's mirror, paused while
 * a pass runs. */
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "maildir/maildir_watch.h"
#include "mirror/mirror_watch.h"

struct mirror_watch {
	struct maildir_watch *mw;
	mirror_watch_cb cb;
	void *arg;
	bool is_paused;
	bool is_dirty;		/* an event came while paused */
};

/*
 * One event per folder per burst arrives here; a scan covers the whole
 * account (a move spans two folders), so the owner scans once for the
 * first event of a burst and once more for any that came during that
 * scan.
 */
static void
mirror_watch_on_event(struct maildir_watch *mw, const char *rel,
		      enum maildir_watch_what what, void *arg)
{
	struct mirror_watch *w = arg;

	(void)mw;
	(void)what;
	if (w->is_paused) {
		w->is_dirty = true;
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
	if (w == NULL)
		return;
	w->is_paused = false;
	if (w->is_dirty) {
		w->is_dirty = false;
		w->cb(w, "(changed while paused)", w->arg);
	}
}

struct mirror_watch *
mirror_watch_new(uv_loop_t *loop, const char *root, struct maildir_report *rep,
		 unsigned delay_ms, mirror_watch_cb cb, void *arg,
		 struct ms_err *err_r)
{
	struct mirror_watch *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		ms_err_set(err_r, MS_ENOMEM, "out of memory");
		return NULL;
	}
	w->cb = cb;
	w->arg = arg;
	w->mw = maildir_watch_new(loop, root, delay_ms, mirror_watch_on_event,
				  w, rep, err_r);
	if (w->mw == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

void
mirror_watch_close(struct mirror_watch *w)
{
	if (w == NULL)
		return;
	/* The maildir watch frees itself from its close callbacks and
	 * calls nothing of ours after this. */
	maildir_watch_close(w->mw);
	free(w);
}
