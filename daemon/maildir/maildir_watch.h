/*
 * maildir_watch.h - inotify watches (on the daemon's one instance,
 * inotify_reader.h) over an account's mirror tree, delivering debounced
 * "this folder changed" events.
 *
 * Each Maildir folder gets watches on its new/ and cur/ (messages added,
 * renamed, removed) and on the folder directory itself; every other
 * directory of the tree (an intermediate "Lists") is watched for folders
 * appearing or going.  Events are coalesced: a burst of them is delivered
 * once it has been quiet for delay_ms, every folder touched in it once.
 * So a burst of N renames in a folder gives one callback, and an event is
 * delivered at most MAILDIR_WATCH_BURST_MAX times delay_ms (plus the time
 * of a tree rescan) after the burst's first event, however busy the
 * folder stays.  When a directory appears or
 * goes, the tree is walked again and watches are added or closed; a new
 * folder is delivered as MAILDIR_WATCH_CHANGED, a vanished one as
 * MAILDIR_WATCH_GONE.  When the kernel drops events (its queue,
 * fs.inotify.max_queued_events, filled before the loop read it), which
 * folders changed is unknown: one MAILDIR_WATCH_ANY stands for them all.
 *
 * Events only say where to look: the consumer lists the folder
 * (maildir_scan_folder) and compares with what it knows.  That includes
 * changes the daemon made itself, unless it announced them
 * (maildir_watch_set_expect()).
 */
#ifndef MS_MAILDIR_WATCH_H
#define MS_MAILDIR_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/ms.h"
#include "maildir/maildir_scan.h"

/* The longest a burst is held, in delays after its first event. */
#define MAILDIR_WATCH_BURST_MAX 10u

/*
 * When a burst of events is delivered, kept apart from the loop's clock so
 * that a test drives it with its own.  An event at now_ms opens a burst
 * (is_open false) due delay_ms later, or moves an open one's delivery to
 * delay_ms after now_ms but never past MAILDIR_WATCH_BURST_MAX delays
 * after its first event; returns when it is due.  The delivery closes it
 * (is_open = false).
 */
struct maildir_burst {
	uint64_t start_ms;	/* its first event */
	uint64_t due_ms;
	bool is_open;
};

uint64_t maildir_burst_event(struct maildir_burst *b, uint64_t now_ms,
			     unsigned delay_ms);

enum maildir_watch_what {
	MAILDIR_WATCH_CHANGED = 0,	/* look at this folder again */
	MAILDIR_WATCH_GONE = 1,		/* this folder is no longer there */
	MAILDIR_WATCH_ANY = 2,		/* events were lost: any folder may
					 * have changed (rel is "") */
};

struct maildir_watch;
struct inotify_reader;

/*
 * rel is the folder's path relative to the root ("" for the root), valid
 * during the call.  The callback may call maildir_watch_close().
 */
typedef void (*maildir_watch_cb)(struct maildir_watch *w, const char *rel,
				 enum maildir_watch_what what, void *arg);

/*
 * Walks root (its folders as layout nests them: maildir_tree_walk())
 * and starts the watches on ino, which must outlive the watcher.  The
 * folders that exist now are not delivered (the caller scans them at
 * start anyway).  rep (may be NULL)
 * receives the tree's non-message entries, and must outlive the watcher.
 * Returns NULL with err_r set on failure; handles already made are closing
 * then, so run the loop before uv_loop_close() in that case too.
 */
struct maildir_watch *maildir_watch_new(uv_loop_t *loop,
					struct inotify_reader *ino,
					const char *root,
					enum maildir_layout layout,
					unsigned delay_ms, maildir_watch_cb cb,
					void *arg, struct maildir_report *rep,
					struct ms_err *err_r);

/*
 * Stops every watch and the timer; no callback fires afterwards.  Memory is
 * freed from the handles' close callbacks, so after this the loop must run
 * once more (uv_run) before uv_loop_close().  A no-op on NULL.
 */
void maildir_watch_close(struct maildir_watch *w);

struct maildir_expect;

/*
 * Events in new/ and cur/ announced in e (the daemon's own writes,
 * maildir_expect.h) are taken from it and deliver nothing; e (NULL: none)
 * must outlive the watch.
 */
void maildir_watch_set_expect(struct maildir_watch *w,
			      struct maildir_expect *e);

/* Number of directories watched; for tests and status. */
size_t maildir_watch_count_dirs(const struct maildir_watch *w);

#endif
