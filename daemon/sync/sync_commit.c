/*
 * sync_commit.c - a pass's full batches committed behind it on the
 * threadpool (sync_commit.h).
 *
 * A batch handed out (sync_commit_behind_start()) belongs to the worker
 * (sync_commit_behind_work()) until it says it is done (is_worked, under
 * the mutex); the pass then takes the result (join) and the batch, now
 * empty, becomes the spare again.  The request itself is retired by the
 * loop later (after_work); only then can it be queued again.
 */
#include <stdlib.h>

#include "sync/sync_commit.h"

struct sync_commit_behind {
	uv_work_t work;
	uv_mutex_t mu;
	uv_cond_t cv;
	struct store *s;
	struct store_batch *batch;	/* the spare, or the one committing */
	bool is_handed;			/* batch is the worker's until joined */
	bool is_queued;			/* after_work not yet called */
	bool is_orphan;			/* freed by the pass: after_work frees */
	size_t handed_mem;		/* store_batch_mem() of the one handed */
	uint64_t n_waits;		/* joins that had to wait */
	void (*on_retired)(void *arg);	/* the pass's, NULL: none */
	void *arg;
	/* Under mu: */
	bool is_worked;
	int rc;
	struct ms_err err;
};

static void
sync_commit_behind_destroy(struct sync_commit_behind *c)
{
	store_batch_free(&c->batch);
	uv_cond_destroy(&c->cv);
	uv_mutex_destroy(&c->mu);
	free(c);
}

int
sync_commit_behind_new(struct store *s, struct sync_commit_behind **cb_r)
{
	struct sync_commit_behind *c = calloc(1, sizeof(*c));
	int rc;

	*cb_r = NULL;
	if (c == NULL)
		return MS_ENOMEM;
	if (uv_mutex_init(&c->mu) != 0) {
		free(c);
		return MS_ENOMEM;
	}
	if (uv_cond_init(&c->cv) != 0) {
		uv_mutex_destroy(&c->mu);
		free(c);
		return MS_ENOMEM;
	}
	if ((rc = store_batch_new(s, &c->batch)) < 0) {
		sync_commit_behind_destroy(c);
		return rc;
	}
	c->s = s;
	c->work.data = c;
	*cb_r = c;
	return MS_OK;
}

static void
sync_commit_behind_work(uv_work_t *w)
{
	struct sync_commit_behind *c = w->data;
	struct ms_err err = { 0 };
	int rc = store_batch_commit(c->batch, &err);

	uv_mutex_lock(&c->mu);
	c->rc = rc;
	c->err = err;
	c->is_worked = true;
	uv_cond_signal(&c->cv);
	uv_mutex_unlock(&c->mu);
}

static void
sync_commit_behind_after_work(uv_work_t *w, int status)
{
	struct sync_commit_behind *c = w->data;

	c->is_queued = false;
	if (status < 0) {
		/* Never cancelled; said, in case libuv ever does. */
		uv_mutex_lock(&c->mu);
		c->rc = ms_err_set(&c->err, MS_EINTERNAL, "commit not run: %s",
				   uv_strerror(status));
		c->is_worked = true;
		uv_cond_signal(&c->cv);
		uv_mutex_unlock(&c->mu);
	}
	if (c->is_orphan)
		sync_commit_behind_destroy(c);
	else if (c->on_retired != NULL)
		c->on_retired(c->arg);
}

size_t
sync_commit_behind_mem(struct sync_commit_behind *c)
{
	/* The commit frees its bodies as it ends. */
	return sync_commit_behind_is_finished(c) ? 0 : c->handed_mem;
}

uint64_t
sync_commit_behind_waits(const struct sync_commit_behind *c)
{
	return c->n_waits;
}

void
sync_commit_behind_on_retired(struct sync_commit_behind *c,
			      void (*fn)(void *arg), void *arg)
{
	c->on_retired = fn;
	c->arg = arg;
}

bool
sync_commit_behind_is_ready(const struct sync_commit_behind *c)
{
	return !c->is_handed && !c->is_queued;
}

bool
sync_commit_behind_is_finished(struct sync_commit_behind *c)
{
	bool is_worked;

	if (!c->is_handed)
		return true;
	uv_mutex_lock(&c->mu);
	is_worked = c->is_worked;
	uv_mutex_unlock(&c->mu);
	return is_worked;
}

int
sync_commit_behind_start(struct sync_commit_behind *c, uv_loop_t *loop,
			 struct store_batch **batch_io, struct ms_err *err_r)
{
	struct store_batch *full = *batch_io;
	int rc;

	if (!sync_commit_behind_is_ready(c) || c->batch == NULL)
		return ms_err_set(err_r, MS_EINTERNAL, "a commit is under way");
	c->is_worked = false;
	*batch_io = c->batch;
	c->batch = full;
	if ((rc = uv_queue_work(loop, &c->work, sync_commit_behind_work,
				sync_commit_behind_after_work)) != 0) {
		c->batch = *batch_io;
		*batch_io = full;
		return ms_err_set(err_r, MS_EINTERNAL, "queueing a commit: %s",
				  uv_strerror(rc));
	}
	c->is_handed = true;
	c->is_queued = true;
	c->handed_mem = store_batch_mem(full);
	return MS_OK;
}

int
sync_commit_behind_join(struct sync_commit_behind *c, struct ms_err *err_r)
{
	int rc;

	if (!c->is_handed)
		return MS_OK;
	uv_mutex_lock(&c->mu);
	if (!c->is_worked)
		c->n_waits++;
	while (!c->is_worked)
		uv_cond_wait(&c->cv, &c->mu);
	rc = c->rc;
	if (rc < 0 && err_r != NULL)
		*err_r = c->err;
	uv_mutex_unlock(&c->mu);
	c->is_handed = false;
	c->handed_mem = 0;
	if (rc < 0) {
		/* A failed batch keeps its operations: never handed out
		 * again (the pass fails; a new spare, empty, replaces it). */
		store_batch_free(&c->batch);
		if (store_batch_new(c->s, &c->batch) < 0)
			c->batch = NULL;
	}
	return rc;
}

void
sync_commit_behind_free(struct sync_commit_behind **cp)
{
	struct sync_commit_behind *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->is_queued) {
		/* The worker may still hold the batch: the loop frees all
		 * once it retires the request. */
		c->is_orphan = true;
		return;
	}
	sync_commit_behind_destroy(c);
}
