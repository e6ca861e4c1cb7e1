/*
 * inotify_reader.c - one inotify instance for the daemon, its events
 * handed to their owners by watch descriptor (inotify_reader.h).
 *
 * The instance is read through a uv_poll handle.  Who holds which
 * descriptor is a table sorted by descriptor (the kernel hands them out
 * in increasing order, so an add mostly appends), one row per owner of a
 * descriptor with a count of its adds.  Descriptors removed but whose
 * IN_IGNORED has not been read yet are kept apart ("retired"): events
 * still queued for them belong to no one.  The reader itself is freed
 * when its poll handle has closed (libuv handle rule).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inotify_reader.h"
#include "log.h"

struct inotify_hold {
	int wd;
	unsigned n;			/* adds not yet removed */
	uint32_t mask;			/* the events o asked for */
	struct inotify_owner *o;
};

struct inotify_reader {
	uv_poll_t poll;
	int fd;
	bool is_closing;
	struct inotify_owner *owners;	/* joined, a list */
	size_t n_owners;
	struct inotify_hold *holds;	/* sorted by wd */
	size_t n_holds, cap_holds;
	int *retired;			/* removed, IN_IGNORED not read */
	size_t n_retired, cap_retired;
};

/* The first row with a descriptor >= wd. */
static size_t
inotify_reader_lower(const struct inotify_reader *r, int wd)
{
	size_t lo = 0, hi = r->n_holds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->holds[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct inotify_hold *
inotify_reader_find(struct inotify_reader *r, const struct inotify_owner *o,
		    int wd)
{
	for (size_t i = inotify_reader_lower(r, wd);
	     i < r->n_holds && r->holds[i].wd == wd; i++)
		if (r->holds[i].o == o)
			return &r->holds[i];
	return NULL;
}

static bool
inotify_reader_is_held(const struct inotify_reader *r, int wd)
{
	size_t i = inotify_reader_lower(r, wd);

	return i < r->n_holds && r->holds[i].wd == wd;
}

static void
inotify_reader_drop_row(struct inotify_reader *r, size_t i)
{
	memmove(&r->holds[i], &r->holds[i + 1],
		(r->n_holds - i - 1) * sizeof(r->holds[0]));
	r->n_holds--;
}

/* The kernel's IN_IGNORED for wd is still to come: what it queued for
 * wd until then is nobody's. */
static void
inotify_reader_retire(struct inotify_reader *r, int wd)
{
	int *v;

	if (r->n_retired == r->cap_retired) {
		size_t cap = r->cap_retired != 0 ? 2 * r->cap_retired : 16;

		if ((v = realloc(r->retired, cap * sizeof(*v))) == NULL) {
			/* Its last events may then reach a later owner of the
			 * number: a look at a folder for nothing. */
			log_warn("inotify: out of memory");
			return;
		}
		r->retired = v;
		r->cap_retired = cap;
	}
	r->retired[r->n_retired++] = wd;
}

/* True when wd is retired; IN_IGNORED ends that. */
static bool
inotify_reader_is_retired(struct inotify_reader *r,
			  const struct inotify_event *e)
{
	for (size_t i = 0; i < r->n_retired; i++) {
		if (r->retired[i] != e->wd)
			continue;
		if (e->mask & IN_IGNORED)
			r->retired[i] = r->retired[--r->n_retired];
		return true;
	}
	return false;
}

static void
inotify_reader_lost(struct inotify_reader *r)
{
	for (struct inotify_owner *o = r->owners; o != NULL; o = o->next)
		o->on_lost(o->arg);
}

/*
 * One event: IN_Q_OVERFLOW (no descriptor) goes to every owner, any other
 * to the owners of its descriptor that asked for it (the kernel's watch
 * has what they all asked for).  After IN_IGNORED the kernel no longer
 * knows the descriptor: neither do we.
 */
static void
inotify_reader_dispatch(struct inotify_reader *r, const struct inotify_event *e)
{
	size_t i, end;

	if (e->mask & IN_Q_OVERFLOW) {
		inotify_reader_lost(r);
		return;
	}
	if (inotify_reader_is_retired(r, e))
		return;
	i = inotify_reader_lower(r, e->wd);
	for (end = i; end < r->n_holds && r->holds[end].wd == e->wd; end++)
		if ((e->mask & (r->holds[end].mask | IN_IGNORED | IN_UNMOUNT)) != 0)
			r->holds[end].o->on_event(e, r->holds[end].o->arg);
	if (e->mask & IN_IGNORED) {
		memmove(&r->holds[i], &r->holds[end],
			(r->n_holds - end) * sizeof(r->holds[0]));
		r->n_holds -= end - i;
	}
}

void
inotify_reader_feed(struct inotify_reader *r, const char *buf, size_t len)
{
	const struct inotify_event *e;

	for (size_t off = 0; off + sizeof(*e) <= len;
	     off += sizeof(*e) + e->len) {
		e = (const struct inotify_event *)(const void *)(buf + off);
		if (off + sizeof(*e) + e->len > len)
			break;
		inotify_reader_dispatch(r, e);
	}
}

/* Reads every queued event (the descriptor is non-blocking). */
static void
inotify_reader_on_readable(uv_poll_t *h, int status, int events)
{
	struct inotify_reader *r = h->data;
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	(void)events;
	if (r->is_closing)
		return;
	if (status < 0) {
		log_warn("inotify: %s: looking at everything watched",
			 uv_strerror(status));
		inotify_reader_lost(r);
		return;
	}
	for (;;) {
		ssize_t got = read(r->fd, buf, sizeof(buf));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno != EAGAIN) {
			log_warn("inotify: read: %s: looking at everything "
				 "watched", strerror(errno));
			inotify_reader_lost(r);
		}
		if (got <= 0)
			return;
		inotify_reader_feed(r, buf, (size_t)got);
	}
}

int
inotify_reader_hold(struct inotify_owner *o, int wd, uint32_t mask)
{
	struct inotify_reader *r = o->r;
	struct inotify_hold *h, *v;
	size_t i;

	if (r == NULL)
		return -EBADF;
	if ((h = inotify_reader_find(r, o, wd)) != NULL) {
		h->n++;
		h->mask |= mask;
		return wd;
	}
	if (r->n_holds == r->cap_holds) {
		size_t cap = r->cap_holds != 0 ? 2 * r->cap_holds : 64;

		if ((v = realloc(r->holds, cap * sizeof(*v))) == NULL)
			return -ENOMEM;
		r->holds = v;
		r->cap_holds = cap;
	}
	i = inotify_reader_lower(r, wd + 1);
	memmove(&r->holds[i + 1], &r->holds[i],
		(r->n_holds - i) * sizeof(r->holds[0]));
	r->holds[i] = (struct inotify_hold){ .wd = wd, .n = 1, .mask = mask,
					     .o = o };
	r->n_holds++;
	return wd;
}

int
inotify_reader_add(struct inotify_owner *o, const char *path, uint32_t mask)
{
	struct inotify_reader *r = o->r;
	int wd, rc;

	if (r == NULL)
		return -EBADF;
	/* IN_MASK_ADD: another owner of the directory keeps what it asked. */
	if ((wd = inotify_add_watch(r->fd, path, mask | IN_MASK_ADD)) < 0)
		return -errno;
	if ((rc = inotify_reader_hold(o, wd, mask)) < 0 &&
	    !inotify_reader_is_held(r, wd)) {
		(void)inotify_rm_watch(r->fd, wd);
		inotify_reader_retire(r, wd);
	}
	return rc;
}

/* Drops row i; the kernel's watch goes with the last row of its wd. */
static void
inotify_reader_release(struct inotify_reader *r, size_t i)
{
	int wd = r->holds[i].wd;

	inotify_reader_drop_row(r, i);
	if (inotify_reader_is_held(r, wd) || r->is_closing)
		return;
	/* EINVAL: the kernel dropped it already, its IN_IGNORED unread. */
	(void)inotify_rm_watch(r->fd, wd);
	inotify_reader_retire(r, wd);
}

void
inotify_reader_remove(struct inotify_owner *o, int wd)
{
	struct inotify_reader *r = o->r;
	struct inotify_hold *h;

	if (r == NULL || (h = inotify_reader_find(r, o, wd)) == NULL)
		return;
	if (--h->n == 0)
		inotify_reader_release(r, (size_t)(h - r->holds));
}

void
inotify_reader_join(struct inotify_reader *r, struct inotify_owner *o,
		    inotify_event_fn *on_event, inotify_lost_fn *on_lost,
		    void *arg)
{
	o->r = r;
	o->on_event = on_event;
	o->on_lost = on_lost;
	o->arg = arg;
	o->prev = NULL;
	o->next = r->owners;
	if (r->owners != NULL)
		r->owners->prev = o;
	r->owners = o;
	r->n_owners++;
}

void
inotify_reader_leave(struct inotify_owner *o)
{
	struct inotify_reader *r = o->r;

	if (r == NULL)
		return;
	for (size_t i = r->n_holds; i-- > 0;)
		if (r->holds[i].o == o)
			inotify_reader_release(r, i);
	if (o->prev != NULL)
		o->prev->next = o->next;
	else
		r->owners = o->next;
	if (o->next != NULL)
		o->next->prev = o->prev;
	r->n_owners--;
	o->r = NULL;
	o->prev = o->next = NULL;
}

size_t
inotify_reader_count_wds(const struct inotify_reader *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_holds; i++)
		if (i == 0 || r->holds[i].wd != r->holds[i - 1].wd)
			n++;
	return n;
}

size_t
inotify_reader_count_owners(const struct inotify_reader *r)
{
	return r->n_owners;
}

int
inotify_reader_new(uv_loop_t *loop, struct inotify_reader **r_r,
		   struct ms_err *err_r)
{
	struct inotify_reader *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	if ((r->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		rc = ms_err_set(err_r, MS_EIO, "inotify: %s%s", strerror(errno),
				errno == EMFILE ? " (raise "
				"fs.inotify.max_user_instances)" : "");
		free(r);
		return rc;
	}
	if ((rc = uv_poll_init(loop, &r->poll, r->fd)) != 0) {
		ms_err_set(err_r, MS_EIO, "inotify: %s", uv_strerror(rc));
		close(r->fd);
		free(r);
		return MS_EIO;
	}
	r->poll.data = r;
	if ((rc = uv_poll_start(&r->poll, UV_READABLE,
				inotify_reader_on_readable)) != 0) {
		ms_err_set(err_r, MS_EIO, "inotify: %s", uv_strerror(rc));
		inotify_reader_close(r);	/* freed as the loop runs */
		return MS_EIO;
	}
	*r_r = r;
	return MS_OK;
}

/* The descriptor is closed only once libuv no longer polls it (closing
 * it drops every watch with it). */
static void
inotify_reader_on_close(uv_handle_t *h)
{
	struct inotify_reader *r = h->data;

	close(r->fd);
	free(r->holds);
	free(r->retired);
	free(r);
}

void
inotify_reader_close(struct inotify_reader *r)
{
	if (r == NULL || r->is_closing)
		return;
	r->is_closing = true;
	while (r->owners != NULL) {
		struct inotify_owner *o = r->owners;

		r->owners = o->next;
		o->r = NULL;
		o->prev = o->next = NULL;
	}
	r->n_owners = 0;
	r->n_holds = 0;
	uv_close((uv_handle_t *)&r->poll, inotify_reader_on_close);
}
