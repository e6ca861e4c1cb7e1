/*
 * mirror_watch.h - reader changes while the daemon runs: inotify watches
 * over the account's mirror (maildir_watch, debounced) that say, once per
 * burst of events, "the mirror changed: scan it".  The owner runs the
 * scan (acct_mirror.h, on the threadpool: mirror_scan_job.h), so that
 * whatever a reader did is a committed pending change soon after the
 * burst.
 *
 * The daemon's own writes (export) also raise events.  Those the export
 * announced (mirror_params.expect, maildir/maildir_expect.h) are taken
 * one for one and start no scan; any other event still does, also one
 * that comes in the same instant as our own write.
 */
#ifndef MS_MIRROR_WATCH_H
#define MS_MIRROR_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "common/ms.h"
#include "maildir/maildir_report.h"

struct mirror_watch;
struct inotify_reader;

/* Folders that changed (paths relative to the root, as the callback below
 * gives them), or is_all: what the next scan is to cover. */
struct mirror_dirs {
	char **v;
	size_t n;
	bool is_all;
};

/* Adds rel (NULL: everything; beyond max folders, or out of memory:
 * everything too). */
void mirror_dirs_add(struct mirror_dirs *d, const char *rel, size_t max);
void mirror_dirs_clear(struct mirror_dirs *d);

/*
 * The mirror changed in the folder at rel (relative to the root, "" for
 * the root; valid during the call): scan it.  rel NULL: anywhere (a
 * folder went, too much happened while paused, or the kernel dropped
 * events): scan everything.
 * The callback may call mirror_watch_pause() or mirror_watch_close().
 */
typedef void (*mirror_watch_cb)(struct mirror_watch *w, const char *rel,
				void *arg);

/*
 * Starts watching root (which must exist: export first), its folders
 * nested as layout says (the mirror's maildir_layout), on the daemon's
 * inotify reader ino.  ino, root and rep (may be NULL) must outlive the
 * watch.  Returns NULL with err_r set on
 * failure; run the loop before uv_loop_close() then too.
 */
struct mirror_watch *mirror_watch_new(uv_loop_t *loop,
				      struct inotify_reader *ino,
				      const char *root,
				      enum maildir_layout layout,
				      struct maildir_report *rep,
				      unsigned delay_ms, mirror_watch_cb cb,
				      void *arg, struct ms_err *err_r);

/*
 * While paused (a scan before a pass, the pass and its export run: their
 * batches must not meet a watch's scan's), events are remembered by
 * folder; resuming calls back once per folder that changed meanwhile (or
 * once with NULL), from within mirror_watch_resume().
 */
void mirror_watch_pause(struct mirror_watch *w);
void mirror_watch_resume(struct mirror_watch *w);

struct maildir_expect;

/* Events announced in e (the export's own writes; NULL: none) start no
 * scan; e must outlive the watch.  A no-op on NULL w. */
void mirror_watch_set_expect(struct mirror_watch *w, struct maildir_expect *e);

/* Stops watching; no callback fires afterwards.  The loop must run once
 * more before uv_loop_close().  A no-op on NULL. */
void mirror_watch_close(struct mirror_watch *w);

#endif
