/*
 * maildir_watch.c - debounced uv_fs_event watches over a mirror tree (see
 * maildir_watch.h).
 *
 * Handles live in heap nodes, one per directory of the tree, freed only
 * from their close callbacks (libuv handle rule).  The watcher itself is
 * freed when its last handle has closed.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maildir/maildir_watch.h"

enum {
	MAILDIR_WATCH_EV_DIR = 0,	/* the directory itself: structure */
	MAILDIR_WATCH_EV_NEW = 1,
	MAILDIR_WATCH_EV_CUR = 2,
};

struct maildir_watch_node {
	struct maildir_watch *w;
	struct maildir_watch_node *next;
	char *rel;
	bool is_maildir;
	bool is_dirty;		/* deliver CHANGED at the next timer */
	bool is_seen;		/* found by the current rescan */
	bool is_unlinked;	/* out of the list, waiting for close callbacks */
	bool is_inited[3];
	int nopen;		/* handles initialised and not yet closed */
	uv_fs_event_t ev[3];
};

struct maildir_watch {
	uv_loop_t *loop;
	char *root;
	enum maildir_layout layout;	/* which directories are folders */
	unsigned delay_ms;
	uint64_t burst_start_ms;	/* loop time of the burst's first event */
	maildir_watch_cb cb;
	void *arg;
	struct maildir_report *rep;
	uv_timer_t timer;
	struct maildir_watch_node *nodes;
	struct maildir_watch_node *gone;	/* unlinked, to deliver and close */
	size_t nnodes;
	bool want_rescan;	/* a directory appeared or went */
	bool is_starting;	/* initial walk: new folders are not delivered */
	bool is_closing;
	int nopen;		/* timer + nodes still holding handles */
};


static void
maildir_watch_maybe_free(struct maildir_watch *w)
{
	if (w->is_closing && w->nopen == 0) {
		free(w->root);
		free(w);
	}
}

static void
maildir_watch_timer_close_cb(uv_handle_t *h)
{
	struct maildir_watch *w = h->data;

	w->nopen--;
	maildir_watch_maybe_free(w);
}

static void
maildir_watch_ev_close_cb(uv_handle_t *h)
{
	struct maildir_watch_node *n = h->data;
	struct maildir_watch *w = n->w;

	if (--n->nopen > 0)
		return;
	free(n->rel);
	free(n);
	w->nopen--;
	maildir_watch_maybe_free(w);
}

static void maildir_watch_timer_cb(uv_timer_t *t);

/*
 * The first event arms the timer for delay_ms; each later one moves it to
 * delay_ms after itself, so a burst is delivered once it has been quiet
 * that long (a mutt move's write and unlink stay in one delivery, not a
 * copy and then a deletion), but never later than MAILDIR_WATCH_BURST_MAX
 * delays after its first event, however busy the folder stays.
 */
static void
maildir_watch_arm(struct maildir_watch *w)
{
	uint64_t now = uv_now(w->loop);

	if (w->is_closing)
		return;
	if (!uv_is_active((uv_handle_t *)&w->timer))
		w->burst_start_ms = now;
	else if (now + w->delay_ms >
		 w->burst_start_ms + (uint64_t)w->delay_ms * MAILDIR_WATCH_BURST_MAX)
		return;
	uv_timer_start(&w->timer, maildir_watch_timer_cb, w->delay_ms, 0);
}


static void
maildir_watch_event_cb(uv_fs_event_t *h, const char *filename, int events,
		       int status)
{
	struct maildir_watch_node *n = h->data;
	struct maildir_watch *w = n->w;

	if (w->is_closing || n->is_unlinked)
		return;
	if (h == &n->ev[MAILDIR_WATCH_EV_DIR] || status < 0)
		w->want_rescan = true;
	else
		n->is_dirty = true;
	maildir_watch_arm(w);
}

/* Initialises and starts watch i of n on path; a failure is logged. */
static void
maildir_watch_node_start(struct maildir_watch_node *n, int i)
{
	static const char *const subs[3] = { "", "new", "cur" };
	struct maildir_watch *w = n->w;
	char *path;
	int rc;

	if (n->is_inited[i])
		return;
	path = maildir__path_join(w->root, n->rel, subs[i]);
	if (path == NULL)
		return;
	if (uv_fs_event_init(w->loop, &n->ev[i]) != 0) {
		free(path);
		return;
	}
	n->ev[i].data = n;
	n->is_inited[i] = true;
	n->nopen++;
	rc = uv_fs_event_start(&n->ev[i], maildir_watch_event_cb, path, 0);
	if (rc != 0) {
		/* Gone already, or out of inotify watches: the rescan decides. */
		log_warn("maildir watch %s: %s", path, uv_strerror(rc));
		w->want_rescan = rc == UV_ENOENT ? true : w->want_rescan;
	}
	free(path);
}

static void
maildir_watch_node_stop(struct maildir_watch_node *n, int i)
{
	if (!n->is_inited[i])
		return;
	n->is_inited[i] = false;
	uv_fs_event_stop(&n->ev[i]);
	uv_close((uv_handle_t *)&n->ev[i], maildir_watch_ev_close_cb);
}

/* Closes every handle of n; n is freed by the last close callback. */
static void
maildir_watch_node_close(struct maildir_watch_node *n)
{
	n->is_unlinked = true;
	if (n->nopen == 0) {
		/* Nothing was ever opened: free now, the loop holds nothing. */
		struct maildir_watch *w = n->w;

		free(n->rel);
		free(n);
		w->nopen--;
		return;
	}
	for (int i = 0; i < 3; i++)
		maildir_watch_node_stop(n, i);
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
		 * start afresh, so no handle is ever re-initialised while its
		 * close is pending.
		 */
		maildir_watch_unlink(w, n);
		n = NULL;
	}
	if (n == NULL) {
		n = calloc(1, sizeof(*n));
		if (n == NULL || (n->rel = strdup(rel)) == NULL) {
			free(n);
			return MS_ENOMEM;
		}
		n->w = w;
		n->next = w->nodes;
		w->nodes = n;
		w->nnodes++;
		w->nopen++;
		maildir_watch_node_start(n, MAILDIR_WATCH_EV_DIR);
		n->is_maildir = is_maildir;
		if (is_maildir) {
			maildir_watch_node_start(n, MAILDIR_WATCH_EV_NEW);
			maildir_watch_node_start(n, MAILDIR_WATCH_EV_CUR);
		}
		/* A folder that appeared while we ran may already hold mail. */
		n->is_dirty = is_maildir && !w->is_starting;
	}
	n->is_seen = true;
	return MS_OK;
}

/*
 * Walks the tree again: new directories get watches; vanished ones move to
 * the gone list, still open, so the timer can deliver GONE and close them.
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

static void
maildir_watch_timer_cb(uv_timer_t *t)
{
	struct maildir_watch *w = t->data;

	if (w->want_rescan)
		maildir_watch_rescan(w);
	while (w->gone != NULL) {
		struct maildir_watch_node *n = w->gone;

		w->gone = n->next;
		if (n->is_maildir && !w->is_closing)
			w->cb(w, n->rel, MAILDIR_WATCH_GONE, w->arg);
		maildir_watch_node_close(n);
	}
	/* The callback may close the watcher: then stop delivering. */
	for (struct maildir_watch_node *n = w->nodes; n != NULL && !w->is_closing;
	     n = n->next) {
		if (!n->is_dirty)
			continue;
		n->is_dirty = false;
		if (n->is_maildir)
			w->cb(w, n->rel, MAILDIR_WATCH_CHANGED, w->arg);
	}
}

struct maildir_watch *
maildir_watch_new(uv_loop_t *loop, const char *root,
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
	w->nopen = 1;
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
	while (w->nodes != NULL) {
		struct maildir_watch_node *n = w->nodes;

		w->nodes = n->next;
		maildir_watch_node_close(n);
	}
	while (w->gone != NULL) {
		struct maildir_watch_node *n = w->gone;

		w->gone = n->next;
		maildir_watch_node_close(n);
	}
	w->nnodes = 0;
}

size_t
maildir_watch_count_dirs(const struct maildir_watch *w)
{
	return w->nnodes;
}
