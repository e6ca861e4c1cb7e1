/*
 * mirror_job.h - mirror_export() on a libuv loop without holding the loop:
 * the export runs in steps of at most slice_ms each, one per loop turn (a
 * uv_idle handle, so the loop polls for I/O, timers and signals between
 * steps), and what may block for long (each folder's listing, its
 * syncfs(2), which can take seconds, and each commit of the export's
 * batch, whose fsync can take as long) runs on the libuv threadpool; the
 * steps in between only read the store.
 *
 * While a job runs, the caller must not scan or sync the same account
 * (see mirror_export_begin()).
 */
#ifndef MS_MIRROR_JOB_H
#define MS_MIRROR_JOB_H

#include <uv.h>

#include "common/ms.h"
#include "mirror/mirror.h"
#include "store/store.h"

/* Work per loop turn, in milliseconds, when the caller passes 0: well
 * under what a control request or a watcher may wait (mailsyncd(1)). */
#define MIRROR_JOB_SLICE_MS 4

struct mirror_job;

/*
 * Fires once per job: rc is MS_OK, MS_ECANCELED after mirror_job_cancel(),
 * or the export's error (err says why); st holds what was done.  The job
 * is freed when the callback returns.
 */
typedef void (*mirror_job_cb)(struct mirror_job *j, int rc,
			      const struct mirror_stats *st,
			      const struct ms_err *err, void *arg);

/*
 * Starts exporting p->account's mirror.  s and *p must outlive the job.
 * Returns NULL with err_r set when the export cannot begin (no callback
 * then).
 */
struct mirror_job *mirror_job_start(uv_loop_t *loop, struct store *s,
				    const struct mirror_params *p,
				    unsigned slice_ms, mirror_job_cb cb,
				    void *arg, struct ms_err *err_r);

/*
 * Abandons the export between two steps (what is done is kept; the next
 * export finishes the rest).  The callback fires with MS_ECANCELED from
 * the loop soon after, or once work under way on the threadpool (a
 * listing, a syncfs) has returned.  A no-op once the job is finishing.
 */
void mirror_job_cancel(struct mirror_job *j);

#endif
