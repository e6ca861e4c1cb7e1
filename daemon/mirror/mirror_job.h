/*
 * mirror_job.h - mirror_export() on a libuv loop without holding the loop:
 * the whole export (reading the store, listing folders, writing and
 * renaming files, whose inode allocation alone can take milliseconds on a
 * busy file system, each folder's syncfs(2), which can take seconds, and
 * the commits of what it recorded) runs on the libuv threadpool, in steps
 * between which it looks for a cancel.  Its commits run there too, under
 * the store's write lock (a loop write meanwhile waits for one of them).
 * What the export reports (paths left alone) reaches p->rep on the loop,
 * before the callback.
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

/* How often the worker looks for a cancel, in milliseconds, when the
 * caller passes 0. */
#define MIRROR_JOB_SLICE_MS 20

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
 * Starts exporting p->account's mirror.  s and *p (its strings) must
 * outlive the job; p->rep may be NULL.  Returns NULL with err_r set when
 * the job cannot be queued (no callback then); an export that cannot
 * begin reports its error through the callback.
 */
struct mirror_job *mirror_job_start(uv_loop_t *loop, struct store *s,
				    const struct mirror_params *p,
				    unsigned slice_ms, mirror_job_cb cb,
				    void *arg, struct ms_err *err_r);

/*
 * Abandons the export between two steps (what is done is kept; the next
 * export finishes the rest).  The callback fires with MS_ECANCELED once
 * the worker has returned (a listing, a syncfs or a commit under way
 * ends first; the loop must keep running until then).  A no-op on NULL
 * or a job already canceled.
 */
void mirror_job_cancel(struct mirror_job *j);

#endif
