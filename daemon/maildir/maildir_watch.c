/*
 * maildir_watch.c - debounced inotify watches over a mirror tree (see
 * maildir_watch.h).
 *
 * The watcher is an owner of the daemon's inotify reader
 * (inotify_reader.h), which hands it the events of its descriptors; one
 * node per directory of the tree holds them.  The watcher itself is freed
 * when its timer has closed (libuv handle rule).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "inotify_reader.h"
#include "log.h"
#include "maildir/maildir_expect.h"
#include "maildir/maildir_watch.h"

enum {
	MAILDIR_WATCH_EV_DIR = 0,	/* the directory itself: structure */
	MAILDIR_WATCH_EV_NEW = 1,
	MAILDIR_WATCH_EV_CUR = 2,
};

/* What uv_fs_event asked inotify for, so nothing a reader does is missed:
 * entries made, removed, renamed, written or re-flagged, and the
 * directory itself going. */
#define MAILDIR_WATCH_MASK \
	(IN_ATTRIB | IN_CREATE | IN_MODIFY | IN_DELETE | IN_DELETE_SELF | \
	 IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO)

struct maildir_watch_node {
	struct maildir_watch_node *next;
	char *rel;
	char *path;		/* root joined with rel: how writers name it */
	bool is_maildir;
	bool is_dirty;		/* deliver CHANGED at the next timer */
	bool is_seen;		/* found by the current rescan */
	int wd[3];		/* inotify watch descriptors (-1: none) */
};

struct maildir_watch {
	uv_loop_t *loop;
	char *root;
	enum maildir_layout layout;	/* which directories are folders */
	unsigned delay_ms;
	struct maildir_burst burst;	/* when the timer delivers */
	maildir_watch_cb cb;
	void *arg;
	struct maildir_report *rep;
	struct maildir_expect *expect;	/* not owned; may be NULL */
	uv_timer_t timer;
	/* On the daemon's one inotify instance (uv_fs_event would take one
	 * per watch, and drops IN_Q_OVERFLOW). */
	struct inotify_owner own;
	struct maildir_watch_node *nodes;
	struct maildir_watch_node *gone;	/* unlinked, to deliver and free */
	size_t nnodes;
	bool want_rescan;	/* a directory appeared or went */
	bool is_lost;		/* the kernel dropped events: deliver ANY */
	bool is_starting;	/* initial walk: new folders are not delivered */
	bool is_closing;
};


static void
maildir_watch_timer_close_cb(uv_handle_t *h)
{
	struct maildir_watch *w = h->data;

	free(w->root);
	free(w);
}

static void maildir_watch_timer_cb(uv_timer_t *t);

/*
 * The first event opens a burst due delay_ms later; each later one moves
 * that to delay_ms after itself, so a burst is delivered once it has been
 * quiet that long (a mutt move's write and unlink stay in one delivery,
 * not a copy and then a deletion), but never later than
 * MAILDIR_WATCH_BURST_MAX delays after its first event, however busy the
 * folder stays.
 */
uint64_t
maildir_burst_event(struct maildir_burst *b, uint64_t now_ms,
		    unsigned delay_ms)
{
	uint64_t cap;

	if (!b->is_open) {
		b->is_open = true;
		b->start_ms = now_ms;
		b->due_ms = now_ms + delay_ms;
		return b->due_ms;
	}
	cap = b->start_ms + (uint64_t)delay_ms * MAILDIR_WATCH_BURST_MAX;
	if (now_ms + delay_ms <= cap)
		b->due_ms = now_ms + delay_ms;
	return b->due_ms;
}

/* An event: the timer fires when the burst is due. */
static void
maildir_watch_arm(struct maildir_watch *w)
{
	uint64_t now = uv_now(w->loop);
	uint64_t due;

	if (w->is_closing)
		return;
	due = maildir_burst_event(&w->burst, now, w->delay_ms);
	uv_timer_start(&w->timer, maildir_watch_timer_cb,
		       due > now ? due - now : 0, 0);
}

/*
 * The daemon's own write in new/ or cur/, announced before it was made
 * (maildir_expect.h): nothing for a reader to have done.  Events about the
 * directory itself are never taken.
 */
static bool
maildir_watch_is_expected(struct maildir_watch *w,
			  const struct maildir_watch_node *n, int i,
			  const struct inotify_event *e)
{
	enum maildir_sub sub = i == MAILDIR_WATCH_EV_NEW ? MAILDIR_SUB_NEW :
							   MAILDIR_SUB_CUR;

	enum maildir_expect_kind kind;

	if (e->len == 0 || n->path == NULL ||
	    (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)))
		return false;
	if (e->mask & (IN_MOVED_TO | IN_CREATE))
		kind = MAILDIR_EXPECT_COMES;
	else if (e->mask & (IN_MOVED_FROM | IN_DELETE))
		kind = MAILDIR_EXPECT_GOES;
	else
		return false;	/* written or re-flagged: never ours */
	return maildir_expect_take(w->expect, n->path, sub, kind, e->name);
}

/*
 * One inotify event.  Watch descriptors are looked up among the live
 * nodes; a renamed directory keeps its descriptor, so two nodes may share
 * one for a moment (the old name's, gone, and the new name's): each is
 * marked.
 */
static void
maildir_watch_on_inotify(struct maildir_watch *w, const struct inotify_event *e)
{
	for (struct maildir_watch_node *n = w->nodes; n != NULL; n = n->next) {
		for (int i = 0; i < 3; i++) {
			if (n->wd[i] != e->wd)
				continue;
			if (e->mask & IN_IGNORED)
				n->wd[i] = -1;	/* the kernel dropped it */
			if (i == MAILDIR_WATCH_EV_DIR ||
			    (e->mask & (IN_IGNORED | IN_DELETE_SELF |
					IN_MOVE_SELF)))
				w->want_rescan = true;
			if (i != MAILDIR_WATCH_EV_DIR &&
			    !maildir_watch_is_expected(w, n, i, e))
				n->is_dirty = true;
		}
	}
}

/* The reader's callbacks: an event of ours, or events lost. */
static void
maildir_watch_on_event(const struct inotify_event *e, void *arg)
{
	struct maildir_watch *w = arg;

	if (w->is_closing)
		return;
	maildir_watch_on_inotify(w, e);
	maildir_watch_arm(w);
}

static void
maildir_watch_on_lost(void *arg)
{
	struct maildir_watch *w = arg;

	/* Which folders changed is unknown, and directories may have come
	 * or gone unseen. */
	w->is_lost = true;
	w->want_rescan = true;
	maildir_watch_arm(w);
}

/* Starts watch i of n on its path; a failure is logged. */
static void
maildir_watch_node_start(struct maildir_watch *w, struct maildir_watch_node *n,
			 int i)
{
	static const char *const subs[3] = { "", "new", "cur" };
	char *path;
	int wd;

	path = maildir__path_join(w->root, n->rel, subs[i]);
	if (path == NULL)
		return;
	wd = inotify_reader_add(&w->own, path, MAILDIR_WATCH_MASK);
	if (wd < 0) {
		/* Gone already, or out of inotify watches: the rescan decides. */
		log_warn("maildir watch %s: %s", path, strerror(-wd));
		w->want_rescan = wd == -ENOENT ? true : w->want_rescan;
		wd = -1;
	}
	n->wd[i] = wd;
	free(path);
}

/* Gives n's watches back (a directory renamed: its new name's node got
 * the same descriptor, which the reader keeps for it) and frees n.  The
 * whole watcher closing has given them all back already. */
static void
maildir_watch_node_free(struct maildir_watch *w, struct maildir_watch_node *n)
{
	for (int i = 0; i < 3 && !w->is_closing; i++)
		if (n->wd[i] >= 0)
			inotify_reader_remove(&w->own, n->wd[i]);
	free(n->rel);
	free(n->path);
	free(n);
}

/* Moves n from the live list to the gone list. */
static void
maildir_watch_unlink(struct maildir_watch *w, struct maildir_watch_node *n)
{
	struct maildir_watch_node **pp = &w->nodes;

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	w->nnodes--;
	n->next = w->gone;
	w->gone = n;
}

static struct maildir_watch_node *
maildir_watch_find(struct maildir_watch *w, const char *rel)
{
	for (struct maildir_watch_node *n = w->nodes; n != NULL; n = n->next)
		if (strcmp(n->rel, rel) == 0)
			return n;
	return NULL;
}

/* Walk callback: makes sure rel has the right watches. */
static int
maildir_watch_walk_cb(const char *rel, bool is_maildir, void *arg)
{
	struct maildir_watch *w = arg;
	struct maildir_watch_node *n = maildir_watch_find(w, rel);

	if (n != NULL && n->is_maildir != is_maildir) {
		/*
		 * A folder lost its cur/ or new/, or a plain directory became
		 * a folder: retire the node (GONE if it was a folder) and
		 * start afresh.
		 */
		maildir_watch_unlink(w, n);
		n = NULL;
	}
	if (n == NULL) {
		n = calloc(1, sizeof(*n));
		if (n == NULL || (n->rel = strdup(rel)) == NULL ||
		    (n->path = maildir__path_join(w->root, rel, "")) == NULL) {
			if (n != NULL)
				free(n->rel);
			free(n);
			return MS_ENOMEM;
		}
		n->wd[0] = n->wd[1] = n->wd[2] = -1;
		n->next = w->nodes;
		w->nodes = n;
		w->nnodes++;
		maildir_watch_node_start(w, n, MAILDIR_WATCH_EV_DIR);
		n->is_maildir = is_maildir;
		if (is_maildir) {
			maildir_watch_node_start(w, n, MAILDIR_WATCH_EV_NEW);
			maildir_watch_node_start(w, n, MAILDIR_WATCH_EV_CUR);
		}
		/* A folder that appeared while we ran may already hold mail. */
		n->is_dirty = is_maildir && !w->is_starting;
	}
	n->is_seen = true;
	return MS_OK;
}

/*
 * Walks the tree again: new directories get watches; vanished ones move to
 * the gone list, so the timer can deliver GONE and free them.
 */
static void
maildir_watch_rescan(struct maildir_watch *w)
{
	struct maildir_watch_node *n, *next;
	struct ms_err err = { 0 };
	int rc;

	w->want_rescan = false;
	for (n = w->nodes; n != NULL; n = n->next)
		n->is_seen = false;
	rc = maildir_tree_walk(w->root, w->layout, maildir_watch_walk_cb, w,
			       w->rep, &err);
	if (rc != MS_OK) {
		log_warn("maildir watch %s: %s", w->root, err.msg);
		/* Out of memory: keep every watch; try again on the next event. */
		if (rc != MS_EIO)
			return;
		/* An I/O error (the root vanished): whatever was not seen is gone. */
	}
	for (n = w->nodes; n != NULL; n = next) {
		next = n->next;
		if (!n->is_seen)
			maildir_watch_unlink(w, n);
	}
}

/*
 * Delivers the burst: GONE folders, then either ANY (events were lost,
 * which covers every folder) or each dirty folder.  The callback may
 * close the watcher, which frees the nodes: nothing is touched after.
 */
static void
maildir_watch_timer_cb(uv_timer_t *t)
{
	struct maildir_watch *w = t->data;
	struct maildir_watch_node *n, *next;

	w->burst.is_open = false;
	if (w->want_rescan)
		maildir_watch_rescan(w);
	while (w->gone != NULL && !w->is_closing) {
		n = w->gone;
		w->gone = n->next;
		if (n->is_maildir)
			w->cb(w, n->rel, MAILDIR_WATCH_GONE, w->arg);
		maildir_watch_node_free(w, n);
	}
	if (w->is_closing)
		return;
	if (w->is_lost) {
		w->is_lost = false;
		for (n = w->nodes; n != NULL; n = n->next)
			n->is_dirty = false;
		log_warn("maildir watch %s: the kernel dropped events (inotify "
			 "queue full, fs.inotify.max_queued_events): looking at "
			 "every folder", w->root);
		w->cb(w, "", MAILDIR_WATCH_ANY, w->arg);
		return;
	}
	for (n = w->nodes; n != NULL; n = next) {
		next = n->next;
		if (!n->is_dirty)
			continue;
		n->is_dirty = false;
		if (n->is_maildir) {
			w->cb(w, n->rel, MAILDIR_WATCH_CHANGED, w->arg);
			if (w->is_closing)
				return;
		}
	}
}

struct maildir_watch *
maildir_watch_new(uv_loop_t *loop, struct inotify_reader *ino, const char *root,
		  enum maildir_layout layout, unsigned delay_ms,
		  maildir_watch_cb cb, void *arg, struct maildir_report *rep,
		  struct ms_err *err_r)
{
	struct maildir_watch *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL || (w->root = strdup(root)) == NULL) {
		free(w);
		ms_err_set(err_r, MS_ENOMEM, "out of memory");
		return NULL;
	}
	w->loop = loop;
	w->layout = layout;
	w->delay_ms = delay_ms;
	w->cb = cb;
	w->arg = arg;
	w->rep = rep;
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	inotify_reader_join(ino, &w->own, maildir_watch_on_event,
			    maildir_watch_on_lost, w);
	w->is_starting = true;
	rc = maildir_tree_walk(root, layout, maildir_watch_walk_cb, w, rep,
			       err_r);
	w->is_starting = false;
	if (rc != MS_OK) {
		maildir_watch_close(w);
		return NULL;
	}
	/* A watch that failed to start asked for a rescan: do it soon. */
	if (w->want_rescan)
		maildir_watch_arm(w);
	return w;
}

void
maildir_watch_close(struct maildir_watch *w)
{
	if (w == NULL || w->is_closing)
		return;
	w->is_closing = true;
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, maildir_watch_timer_close_cb);
	inotify_reader_leave(&w->own);	/* every descriptor given back */
	while (w->nodes != NULL) {
		struct maildir_watch_node *n = w->nodes;

		w->nodes = n->next;
		maildir_watch_node_free(w, n);
	}
	while (w->gone != NULL) {
		struct maildir_watch_node *n = w->gone;

		w->gone = n->next;
		maildir_watch_node_free(w, n);
	}
	w->nnodes = 0;
}

void
maildir_watch_set_expect(struct maildir_watch *w, struct maildir_expect *e)
{
	w->expect = e;
}

size_t
maildir_watch_count_dirs(const struct maildir_watch *w)
{
	return w->nnodes;
}
