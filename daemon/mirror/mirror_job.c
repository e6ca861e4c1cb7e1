/* mirror_job.c - the mirror export in steps on a libuv loop. */
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "mirror/mirror_job.h"

struct mirror_job {
	uv_idle_t idle;			/* one export step per loop turn */
	uv_work_t work;			/* blocking work on the threadpool */
	struct mirror_export_job *ej;
	uint64_t slice_ns;
	mirror_job_cb cb;
	void *arg;
	bool is_working;		/* work is queued or running */
	bool is_canceled;
	bool is_finishing;		/* the idle handle is closing */
	int rc;
	struct ms_err err;
	struct mirror_stats st;
};

static void
mirror_job_on_close(uv_handle_t *h)
{
	struct mirror_job *j = h->data;

	mirror_export_end(&j->ej, &j->st);
	j->cb(j, j->rc, &j->st, &j->err, j->arg);
	free(j);
}

static void
mirror_job_finish(struct mirror_job *j, int rc)
{
	if (j->is_finishing)
		return;
	j->is_finishing = true;
	j->rc = rc;
	uv_idle_stop(&j->idle);
	uv_close((uv_handle_t *)&j->idle, mirror_job_on_close);
}

static void
mirror_job_work(uv_work_t *w)
{
	struct mirror_job *j = w->data;

	/* The export job is the thread's alone until after_work. */
	mirror_export_work(j->ej);
}

static void mirror_job_on_idle(uv_idle_t *h);

static void
mirror_job_after_work(uv_work_t *w, int status)
{
	struct mirror_job *j = w->data;

	j->is_working = false;
	if (j->is_canceled) {
		mirror_job_finish(j, MS_ECANCELED);
		return;
	}
	/* Not run (status < 0, which only a cancel causes): the next step
	 * runs it itself. */
	(void)status;
	uv_idle_start(&j->idle, mirror_job_on_idle);
}

static void
mirror_job_on_idle(uv_idle_t *h)
{
	struct mirror_job *j = h->data;
	int rc = mirror_export_step(j->ej, j->slice_ns, &j->err);

	if (rc == MS_AGAIN)
		return;
	if (rc == MIRROR_EXPORT_WORK) {
		uv_idle_stop(&j->idle);
		j->is_working = true;
		if ((rc = uv_queue_work(h->loop, &j->work, mirror_job_work,
					mirror_job_after_work)) < 0) {
			/* The next step runs it here instead. */
			log_debug("mirror export work on the threadpool: %s",
				  uv_strerror(rc));
			j->is_working = false;
			uv_idle_start(&j->idle, mirror_job_on_idle);
		}
		return;
	}
	mirror_job_finish(j, rc);
}

struct mirror_job *
mirror_job_start(uv_loop_t *loop, struct store *s,
		 const struct mirror_params *p, unsigned slice_ms,
		 mirror_job_cb cb, void *arg, struct ms_err *err_r)
{
	struct mirror_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		ms_err_set(err_r, MS_ENOMEM, "out of memory");
		return NULL;
	}
	if (mirror_export_begin(s, p, &j->ej, err_r) != MS_OK) {
		free(j);
		return NULL;
	}
	mirror_export_commit_as_work(j->ej);
	j->slice_ns = (uint64_t)(slice_ms != 0 ? slice_ms : MIRROR_JOB_SLICE_MS) *
		      1000000u;
	j->cb = cb;
	j->arg = arg;
	j->idle.data = j;
	j->work.data = j;
	uv_idle_init(loop, &j->idle);
	uv_idle_start(&j->idle, mirror_job_on_idle);
	return j;
}

void
mirror_job_cancel(struct mirror_job *j)
{
	if (j == NULL || j->is_finishing || j->is_canceled)
		return;
	j->is_canceled = true;
	if (j->is_working) {
		/* Not started yet: it is dropped and after_work reports;
		 * running: after_work reports when it returns. */
		(void)uv_cancel((uv_req_t *)&j->work);
		return;
	}
	mirror_job_finish(j, MS_ECANCELED);
}
