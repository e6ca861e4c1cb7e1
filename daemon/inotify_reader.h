/*
 * inotify_reader.h - the daemon's one inotify instance, shared by every
 * watch (each account's mirror watch, the send spool's watch).
 *
 * The kernel limits inotify instances per user
 * (fs.inotify.max_user_instances, 128 by default), not watches in an
 * instance that much: one instance per mirror failed past about 120
 * accounts.  So the daemon loop makes one reader, and each watch joins it
 * as an owner: the owner adds and removes its watch descriptors, and the
 * reader hands every event to the owner (or owners) of its descriptor.
 * When the kernel dropped events (IN_Q_OVERFLOW: its queue,
 * fs.inotify.max_queued_events, filled before the loop read it), or the
 * descriptor cannot be read, no one knows whose events were lost: every
 * owner is told, and looks at everything it watches.
 *
 * Two owners may watch the same directory: the kernel gives both the same
 * descriptor, the reader counts them and removes the kernel's watch when
 * the last one goes.  A descriptor the kernel dropped (IN_IGNORED: its
 * directory went) or that the reader removed is forgotten, so that the
 * kernel may hand the number out again; what was still queued for the old
 * one is not given to the new one.
 *
 * Callbacks run on the loop and must not add, remove or leave (they note
 * what to do and act from a timer, as maildir_watch does).
 */
#ifndef MS_INOTIFY_READER_H
#define MS_INOTIFY_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/inotify.h>

#include <uv.h>

#include "common/ms.h"

struct inotify_reader;

/* An event for one of the owner's descriptors (e->wd); e is valid
 * during the call.  IN_IGNORED comes too: the descriptor is gone. */
typedef void inotify_event_fn(const struct inotify_event *e, void *arg);
/* Events were lost: look at everything. */
typedef void inotify_lost_fn(void *arg);

/* One watcher; embedded in its user, set up by inotify_reader_join(). */
struct inotify_owner {
	struct inotify_reader *r;	/* NULL: not joined, or reader closed */
	struct inotify_owner *prev, *next;
	inotify_event_fn *on_event;
	inotify_lost_fn *on_lost;
	void *arg;
};

/* A reader on loop: MS_OK and *r_r, or an error in err_r (no inotify
 * instance left: fs.inotify.max_user_instances; run the loop before
 * uv_loop_close() then too). */
int inotify_reader_new(uv_loop_t *loop, struct inotify_reader **r_r,
		       struct ms_err *err_r) MS_WUR;

/*
 * Stops reading; the owners still joined are detached (their later calls
 * do nothing).  Memory is freed from the handle's close callback: run the
 * loop before uv_loop_close().  A no-op on NULL.
 */
void inotify_reader_close(struct inotify_reader *r);

/* o (the caller's memory) starts getting events; it must leave (or the
 * reader close) before o is freed. */
void inotify_reader_join(struct inotify_reader *r, struct inotify_owner *o,
			 inotify_event_fn *on_event, inotify_lost_fn *on_lost,
			 void *arg);

/* Removes every watch o added and o itself; a no-op when o is not
 * joined. */
void inotify_reader_leave(struct inotify_owner *o);

/* Watches path for the events in mask (the kernel's watch has what every
 * owner of the directory asked for; each hears what it asked for, and
 * IN_IGNORED).  Returns the descriptor, or -errno (ENOENT: no such
 * directory; ENOSPC: out of watches, fs.inotify.max_user_watches). */
int inotify_reader_add(struct inotify_owner *o, const char *path,
		       uint32_t mask);

/* o no longer wants wd (each add is undone by one remove). */
void inotify_reader_remove(struct inotify_owner *o, int wd);

/*
 * For tests: hands the events in buf (len bytes, as read(2) returns
 * them) to their owners, as the reader does with what it reads; records
 * that o holds wd, as add does with the kernel's answer (so a test can
 * give a number out again); counts the descriptors held (by anyone) and
 * the owners joined.
 */
void inotify_reader_feed(struct inotify_reader *r, const char *buf,
			 size_t len);
int inotify_reader_hold(struct inotify_owner *o, int wd, uint32_t mask);
size_t inotify_reader_count_wds(const struct inotify_reader *r);
size_t inotify_reader_count_owners(const struct inotify_reader *r);

#endif
