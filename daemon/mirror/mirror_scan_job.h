/*
 * mirror_scan_job.h - mirror_scan() on a libuv loop without holding the
 * loop: the whole scan (listing every folder, hashing and reading readers'
 * new files, reading the store, and committing what it found, batch by
 * batch, with their fsyncs) runs on the libuv threadpool.  The store's
 * write lock orders its commits with the loop's writes (another account's
 * pass may wait for one batch).  So the mirror's guarantee holds as with
 * a direct scan: what a reader did is committed before the job reports,
 * and a crash or a stop loses nothing the next scan would not find again
 * (scanning is idempotent).
 *
 * Ownership: the job copies what it needs of the params (the strings, the
 * folders = patterns and only_dirs; p->marks, read by the worker, must
 * outlive the job and stay unchanged meanwhile); the worker reports what it leaves alone into
 * a report of its own, and the loop passes each note to p->rep before the
 * callback.  The store must outlive the job.  While a job runs, the
 * caller must not run another scan, an export or a sync pass of the same
 * account (their batches would meet the scan's).
 */
#ifndef MS_MIRROR_SCAN_JOB_H
#define MS_MIRROR_SCAN_JOB_H

#include <uv.h>

#include "common/ms.h"
#include "mirror/mirror.h"
#include "store/store.h"

struct mirror_scan_job;

/*
 * Fires once per job, from the loop: rc is the scan's result (MS_OK or
 * its error, err says why), or MS_ECANCELED after mirror_scan_job_cancel()
 * (what was committed before stays committed; the rest is found again by
 * the next scan).  st holds what the scan recorded.  The job is freed
 * when the callback returns.
 */
typedef void (*mirror_scan_job_cb)(struct mirror_scan_job *j, int rc,
				   const struct mirror_stats *st,
				   const struct ms_err *err, void *arg);

/*
 * Starts scanning p->account's mirror on the threadpool.  p->rep (may be
 * NULL) must outlive the job.  Returns NULL with err_r set when the job
 * cannot start (no callback then).
 */
struct mirror_scan_job *mirror_scan_job_start(uv_loop_t *loop,
					      struct store *s,
					      const struct mirror_params *p,
					      mirror_scan_job_cb cb, void *arg,
					      struct ms_err *err_r);

/*
 * Asks the scan to stop: no further write of it runs (a commit under way
 * ends first), and the worker stops at its next file or folder.  The callback fires with MS_ECANCELED once the worker
 * has returned (the loop must keep running until then).  A no-op on NULL
 * or a job already canceled.
 */
void mirror_scan_job_cancel(struct mirror_scan_job *j);

#endif
