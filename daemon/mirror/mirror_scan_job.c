/*
 * mirror_scan_job.c - the mirror scan on the threadpool
 * (mirror_scan_job.h).
 *
 * The story of a job: mirror_scan_job_start() copies the params and
 * queues the worker (mirror_scan_job_work(), a pool thread), which runs
 * the scan with a writer (mirror_int.h) that commits its batches right
 * there, under the store's write lock, and stops when the loop has asked
 * it to (mirror_scan_job_cancel() sets the flag it reads); when the worker
 * returns, mirror_scan_job_after_work() passes its reports on, calls back
 * and frees the job.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mirror/mirror_int.h"
#include "mirror/mirror_scan_job.h"

/* A commit holds the store's write lock this long at most, roughly: a
 * loop write (another account's) may wait for it. */
#define MIRROR_SCAN_JOB_BATCH_OPS 1000
#define MIRROR_SCAN_JOB_BATCH_MEM (4u << 20)

struct mirror_scan_job {
	uv_work_t work;			/* the scan on the threadpool */
	struct store *s;
	/* The worker's inputs, copied (p points into these). */
	struct mirror_params p;
	char *account, *root, *ns_prefix;
	char **folders;
	size_t nfolders;
	char **dirs;			/* p.only_dirs, NULL: every folder */
	size_t ndirs;
	struct mirror_report_buf notes;	/* the worker's until after_work */
	struct maildir_report *out_rep;	/* the caller's */
	struct mirror_writer w;
	mirror_scan_job_cb cb;
	void *arg;
	bool is_canceled;		/* set by the loop, read by the worker */
	/* The worker's result, read after after_work. */
	int rc;
	struct mirror_stats st;
	struct ms_err err;
};

/* --- the worker's side (pool thread) --------------------------------------- */

static bool
mirror_scan_job_is_canceled(void *ctx)
{
	struct mirror_scan_job *j = ctx;

	return __atomic_load_n(&j->is_canceled, __ATOMIC_ACQUIRE);
}

/* A write of the scan, here on the worker: the store's write lock keeps
 * it from meeting a write of the loop's (another account's). */
static int
mirror_scan_job_run_write(void *ctx, mirror_write_fn fn, void *arg,
			  struct ms_err *err_r)
{
	struct mirror_scan_job *j = ctx;

	if (mirror_scan_job_is_canceled(j))
		return ms_err_set(err_r, MS_ECANCELED, "mirror scan canceled");
	return fn(j->s, arg, err_r);
}

static void
mirror_scan_job_work(uv_work_t *w)
{
	struct mirror_scan_job *j = w->data;

	j->rc = mirror__scan_with(j->s, &j->p, &j->w, &j->st, &j->err);
}

/* --- the loop's side ------------------------------------------------------ */

static void
mirror_scan_job_free(struct mirror_scan_job *j)
{
	mirror__report_buf_deinit(&j->notes);
	for (size_t i = 0; i < j->nfolders; i++)
		free(j->folders[i]);
	free(j->folders);
	for (size_t i = 0; i < j->ndirs; i++)
		free(j->dirs[i]);
	free(j->dirs);
	free(j->account);
	free(j->root);
	free(j->ns_prefix);
	free(j);
}

static void
mirror_scan_job_after_work(uv_work_t *w, int status)
{
	struct mirror_scan_job *j = w->data;
	int rc = j->rc;

	mirror__report_buf_flush(&j->notes, j->out_rep);
	/* Not run at all (status < 0) only after a cancel; a scan that
	 * ended anyway is reported canceled too: its caller is stopping. */
	if (j->is_canceled || status < 0) {
		rc = MS_ECANCELED;
		ms_err_set(&j->err, MS_ECANCELED, "mirror scan canceled");
	}
	j->cb(j, rc, &j->st, &j->err, j->arg);
	mirror_scan_job_free(j);
}

/* Copies the params the worker reads. */
static int
mirror_scan_job_copy(struct mirror_scan_job *j, const struct mirror_params *p)
{
	j->account = strdup(p->account);
	j->root = strdup(p->root);
	j->ns_prefix = strdup(p->ns_prefix != NULL ? p->ns_prefix : "");
	if (j->account == NULL || j->root == NULL || j->ns_prefix == NULL)
		return MS_ENOMEM;
	if (p->nfolders > 0 &&
	    (j->folders = calloc(p->nfolders, sizeof(*j->folders))) == NULL)
		return MS_ENOMEM;
	for (; j->nfolders < p->nfolders; j->nfolders++)
		if ((j->folders[j->nfolders] = strdup(p->folders[j->nfolders]))
		    == NULL)
			return MS_ENOMEM;
	if (p->only_dirs != NULL &&
	    (j->dirs = calloc(p->n_only_dirs + 1, sizeof(*j->dirs))) == NULL)
		return MS_ENOMEM;
	for (; j->dirs != NULL && j->ndirs < p->n_only_dirs; j->ndirs++)
		if ((j->dirs[j->ndirs] = strdup(p->only_dirs[j->ndirs])) == NULL)
			return MS_ENOMEM;
	j->p.only_dirs = j->dirs;
	j->p.n_only_dirs = j->ndirs;
	/* The marks are the owner's, left alone while the job runs. */
	j->p.marks = p->marks;
	j->p.account = j->account;
	j->p.root = j->root;
	j->p.ns_prefix = j->ns_prefix;
	j->p.folders = j->folders;
	j->p.nfolders = j->nfolders;
	j->p.is_inbox_subfolder = p->is_inbox_subfolder;
	j->p.layout = p->layout;
	j->p.is_deleted_hidden = p->is_deleted_hidden;
	j->p.rep = &j->notes.rep;
	return MS_OK;
}

struct mirror_scan_job *
mirror_scan_job_start(uv_loop_t *loop, struct store *s,
		      const struct mirror_params *p, mirror_scan_job_cb cb,
		      void *arg, struct ms_err *err_r)
{
	struct mirror_scan_job *j = calloc(1, sizeof(*j));
	int rc;

	if (j == NULL) {
		ms_err_set(err_r, MS_ENOMEM, "out of memory");
		return NULL;
	}
	mirror__report_buf_init(&j->notes);
	if (mirror_scan_job_copy(j, p) != MS_OK) {
		mirror_scan_job_free(j);
		ms_err_set(err_r, MS_ENOMEM, "out of memory");
		return NULL;
	}
	j->s = s;
	j->out_rep = p->rep;
	j->cb = cb;
	j->arg = arg;
	j->w = (struct mirror_writer){
		.run = mirror_scan_job_run_write,
		.is_canceled = mirror_scan_job_is_canceled,
		.ctx = j,
		.batch_ops = MIRROR_SCAN_JOB_BATCH_OPS,
		.batch_mem = MIRROR_SCAN_JOB_BATCH_MEM,
	};
	j->work.data = j;
	if ((rc = uv_queue_work(loop, &j->work, mirror_scan_job_work,
				mirror_scan_job_after_work)) != 0) {
		mirror_scan_job_free(j);
		ms_err_set(err_r, MS_EINTERNAL, "mirror scan: %s",
			   uv_strerror(rc));
		return NULL;
	}
	return j;
}

void
mirror_scan_job_cancel(struct mirror_scan_job *j)
{
	if (j == NULL || j->is_canceled)
		return;
	__atomic_store_n(&j->is_canceled, true, __ATOMIC_RELEASE);
	/* Not started yet: dropped, and after_work reports. */
	(void)uv_cancel((uv_req_t *)&j->work);
}
