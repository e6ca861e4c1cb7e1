/*
 * mirror_job.c - the mirror export on the libuv threadpool
 * (mirror_job.h).
 *
 * The story of a job: mirror_job_start() copies the params (the worker
 * reports into a report of its own) and queues the worker
 * (mirror_job_work(), a pool thread), which begins the export and runs
 * its steps and their blocking work one after the other, looking between
 * two steps for a cancel (mirror_job_cancel() sets the flag); when it
 * returns, mirror_job_after_work() ends the export, passes the reports
 * on, calls back and frees the job.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mirror/mirror_int.h"
#include "mirror/mirror_job.h"

struct mirror_job {
	uv_work_t work;
	struct store *s;
	/* The worker's params: the caller's, with its own report. */
	struct mirror_params p;
	struct mirror_report_buf notes;	/* the worker's until after_work */
	struct maildir_report *out_rep;	/* the caller's */
	struct mirror_export_job *ej;	/* the worker's until after_work */
	uint64_t slice_ns;
	mirror_job_cb cb;
	void *arg;
	bool is_canceled;		/* set by the loop, read by the worker */
	int rc;
	struct ms_err err;
	struct mirror_stats st;
};

static bool
mirror_job_is_canceled(struct mirror_job *j)
{
	return __atomic_load_n(&j->is_canceled, __ATOMIC_ACQUIRE);
}

static void
mirror_job_work(uv_work_t *w)
{
	struct mirror_job *j = w->data;
	int rc = mirror_export_begin(j->s, &j->p, &j->ej, &j->err);

	while (rc == MS_OK || rc == MS_AGAIN) {
		if (mirror_job_is_canceled(j)) {
			rc = MS_ECANCELED;
			break;
		}
		rc = mirror_export_step(j->ej, j->slice_ns, &j->err);
		if (rc == MIRROR_EXPORT_WORK) {
			mirror_export_work(j->ej);
			rc = MS_AGAIN;
		}
		if (rc == MS_OK)
			break;
	}
	j->rc = rc;
}

static void
mirror_job_after_work(uv_work_t *w, int status)
{
	struct mirror_job *j = w->data;
	int rc = j->rc;

	/* What the export recorded stays; the rest the next one does. */
	mirror_export_end(&j->ej, &j->st);
	mirror__report_buf_flush(&j->notes, j->out_rep);
	if (status < 0 || j->is_canceled)
		rc = MS_ECANCELED;
	if (rc == MS_ECANCELED)
		ms_err_set(&j->err, MS_ECANCELED, "mirror export canceled");
	j->cb(j, rc, &j->st, &j->err, j->arg);
	mirror__report_buf_deinit(&j->notes);
	free(j);
}

struct mirror_job *
mirror_job_start(uv_loop_t *loop, struct store *s,
		 const struct mirror_params *p, unsigned slice_ms,
		 mirror_job_cb cb, void *arg, struct ms_err *err_r)
{
	struct mirror_job *j = calloc(1, sizeof(*j));
	int rc;

	if (j == NULL) {
		ms_err_set(err_r, MS_ENOMEM, "out of memory");
		return NULL;
	}
	mirror__report_buf_init(&j->notes);
	j->s = s;
	j->p = *p;
	j->p.rep = &j->notes.rep;
	j->out_rep = p->rep;
	j->slice_ns = (uint64_t)(slice_ms != 0 ? slice_ms : MIRROR_JOB_SLICE_MS) *
		      1000000u;
	j->cb = cb;
	j->arg = arg;
	j->work.data = j;
	if ((rc = uv_queue_work(loop, &j->work, mirror_job_work,
				mirror_job_after_work)) != 0) {
		mirror__report_buf_deinit(&j->notes);
		free(j);
		ms_err_set(err_r, MS_EINTERNAL, "mirror export: %s",
			   uv_strerror(rc));
		return NULL;
	}
	return j;
}

void
mirror_job_cancel(struct mirror_job *j)
{
	if (j == NULL || j->is_canceled)
		return;
	__atomic_store_n(&j->is_canceled, true, __ATOMIC_RELEASE);
	/* Not started yet: dropped, and after_work reports. */
	(void)uv_cancel((uv_req_t *)&j->work);
}
