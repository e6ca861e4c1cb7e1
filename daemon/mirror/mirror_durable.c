/*
 * mirror_durable.c - the mirror's watermarks, moved after one batched
 * syncfs (mirror_durable.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir/maildir_write.h"
#include "mirror/mirror_durable.h"

int
mirror_marks_init(struct mirror_marks *mk)
{
	memset(mk, 0, sizeof(*mk));
	return uv_mutex_init(&mk->mu) == 0 ? MS_OK : MS_EINTERNAL;
}

void
mirror_marks_deinit(struct mirror_marks *mk)
{
	uv_mutex_destroy(&mk->mu);
	free(mk->v);
	memset(mk, 0, sizeof(*mk));
}

int
mirror_marks_add(struct mirror_marks *mk, uint32_t folder_id, uint64_t seq,
		 uint64_t bytes)
{
	int rc = MS_OK;
	size_t i;

	uv_mutex_lock(&mk->mu);
	mk->bytes += bytes;
	for (i = 0; i < mk->n && mk->v[i].folder_id != folder_id; i++)
		;
	if (i == mk->n && mk->n == mk->cap) {
		size_t cap = mk->cap != 0 ? mk->cap * 2 : 8;
		struct mirror_mark *v = realloc(mk->v, cap * sizeof(*v));

		if (v != NULL) {
			mk->v = v;
			mk->cap = cap;
		}
	}
	if (i == mk->n && mk->n < mk->cap)
		mk->v[mk->n++] = (struct mirror_mark){ folder_id, 0, 0 };
	if (i < mk->n && seq > mk->v[i].seq)
		mk->v[i].seq = seq;
	else if (i == mk->n)
		rc = MS_ENOMEM;
	uv_mutex_unlock(&mk->mu);
	return rc;
}

uint64_t
mirror_marks_get(struct mirror_marks *mk, uint32_t folder_id)
{
	uint64_t seq = 0;

	uv_mutex_lock(&mk->mu);
	for (size_t i = 0; i < mk->n; i++)
		if (mk->v[i].folder_id == folder_id)
			seq = mk->v[i].seq;
	uv_mutex_unlock(&mk->mu);
	return seq;
}

bool
mirror_marks_is_due(struct mirror_marks *mk, uint64_t *bytes_r)
{
	bool is_due = false;

	uv_mutex_lock(&mk->mu);
	for (size_t i = 0; i < mk->n; i++)
		if (mk->v[i].seq > mk->v[i].flushed)
			is_due = true;
	if (bytes_r != NULL)
		*bytes_r = mk->bytes;
	uv_mutex_unlock(&mk->mu);
	return is_due;
}

struct mirror_durable_job {
	uv_work_t work;
	struct store *s;
	const char *root;
	struct mirror_marks *mk;
	struct mirror_mark *due;	/* the marks this flush commits */
	size_t ndue;
	mirror_durable_cb cb;
	void *arg;
	int rc;
	struct ms_err err;
};

/* The marks that moved since their last commit. */
static int
mirror_durable_take(struct mirror_durable_job *j)
{
	int rc = MS_OK;

	uv_mutex_lock(&j->mk->mu);
	j->mk->bytes = 0;
	if (j->mk->n > 0 &&
	    (j->due = calloc(j->mk->n, sizeof(*j->due))) == NULL)
		rc = ms_err_set(&j->err, MS_ENOMEM, "out of memory");
	for (size_t i = 0; rc == MS_OK && i < j->mk->n; i++)
		if (j->mk->v[i].seq > j->mk->v[i].flushed)
			j->due[j->ndue++] = j->mk->v[i];
	uv_mutex_unlock(&j->mk->mu);
	return rc;
}

/* Commits the marks that move a watermark up, in one batch. */
static int
mirror_durable_commit(struct mirror_durable_job *j)
{
	struct store_batch *b = NULL;
	int rc = store_batch_new(j->s, &b);

	if (rc != MS_OK)
		return ms_err_set(&j->err, rc, "out of memory");
	for (size_t i = 0; rc == MS_OK && i < j->ndue; i++) {
		struct store_folder f;

		rc = store_folder_get(j->s, j->due[i].folder_id, &f, &j->err);
		if (rc == STORE_NOTFOUND) {
			rc = MS_OK;	/* removed since: nothing to mark */
			continue;
		}
		if (rc != MS_OK || j->due[i].seq <= f.state.mirror_durable)
			continue;
		f.state.mirror_durable = j->due[i].seq;
		rc = store_batch_folder_state(b, f.id, &f.state,
					      STORE_FS_MIRROR_DURABLE);
		if (rc != MS_OK)
			ms_err_set(&j->err, rc, "out of memory");
	}
	if (rc == MS_OK && store_batch_count(b) > 0)
		rc = store_batch_commit(b, &j->err);
	store_batch_free(&b);
	return rc;
}

/* The committed marks are flushed (a mark that moved meanwhile stays
 * due). */
static void
mirror_durable_done(struct mirror_durable_job *j)
{
	uv_mutex_lock(&j->mk->mu);
	for (size_t k = 0; k < j->ndue; k++)
		for (size_t i = 0; i < j->mk->n; i++)
			if (j->mk->v[i].folder_id == j->due[k].folder_id &&
			    j->mk->v[i].flushed < j->due[k].seq)
				j->mk->v[i].flushed = j->due[k].seq;
	uv_mutex_unlock(&j->mk->mu);
}

static void
mirror_durable_work(uv_work_t *w)
{
	struct mirror_durable_job *j = w->data;
	int fd;

	if ((j->rc = mirror_durable_take(j)) != MS_OK || j->ndue == 0)
		return;
	if ((fd = open(j->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		j->rc = ms_err_set(&j->err, MS_EIO, "open %s: %s", j->root,
				   strerror(errno));
		return;
	}
	/* Every file the marks cover was renamed into place before the
	 * export that made the mark ended, and so before this: one syncfs
	 * makes them all durable. */
	j->rc = maildir_syncfs(fd, &j->err);
	close(fd);
	if (j->rc == MS_OK)
		j->rc = mirror_durable_commit(j);
	if (j->rc == MS_OK)
		mirror_durable_done(j);
}

static void
mirror_durable_after_work(uv_work_t *w, int status)
{
	struct mirror_durable_job *j = w->data;
	int rc = status < 0 ? ms_err_set(&j->err, MS_ECANCELED,
					 "mirror flush canceled") : j->rc;

	j->cb(rc, &j->err, j->arg);
	free(j->due);
	free(j);
}

struct mirror_durable_job *
mirror_durable_start(uv_loop_t *loop, struct store *s, const char *root,
		     struct mirror_marks *mk, mirror_durable_cb cb, void *arg,
		     struct ms_err *err_r)
{
	struct mirror_durable_job *j = calloc(1, sizeof(*j));
	int rc;

	if (j == NULL) {
		ms_err_set(err_r, MS_ENOMEM, "out of memory");
		return NULL;
	}
	j->s = s;
	j->root = root;
	j->mk = mk;
	j->cb = cb;
	j->arg = arg;
	j->work.data = j;
	if ((rc = uv_queue_work(loop, &j->work, mirror_durable_work,
				mirror_durable_after_work)) != 0) {
		free(j);
		ms_err_set(err_r, MS_EINTERNAL, "mirror flush: %s",
			   uv_strerror(rc));
		return NULL;
	}
	return j;
}
