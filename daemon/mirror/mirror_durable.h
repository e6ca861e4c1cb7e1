/*
 * mirror_durable.h - how far an account's mirror is known on disk, moved
 * in batches (DESIGN.md "Maildir mirror").
 *
 * mirror_export() makes each folder durable with its own syncfs(2) before
 * it moves the folder's mirror_durable watermark.  The daemon exports
 * after every pushed message, and a syncfs per message is most of what a
 * delivery costs, so its exports leave the watermarks to marks instead
 * (mirror_params.marks): each folder export that completed adds a mark
 * (folder, local_seq) here, in memory.  mirror_durable_start() later runs
 * one syncfs for all of them on the threadpool and only then commits the
 * marks as the folders' watermarks.  A crash before that loses the marks,
 * not mail: start-up finds the files beyond the committed watermark again
 * (or writes them again), as after any crash.
 *
 * Within the process, the export and the scan count a mark as the
 * folder's watermark (mirror__ctx_init() raises it): the files were
 * written by this process and no crash came in between, so a file below
 * a mark that is gone was removed by a reader, and its deletion is
 * recorded at once rather than undone by the next export.
 *
 * The owner (acct_mirror.h) flushes a few seconds after an export left a
 * mark, at once when many bytes wait, and when it closes.
 */
#ifndef MS_MIRROR_DURABLE_H
#define MS_MIRROR_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/ms.h"
#include "store/store.h"

/* One per folder: the mark, and how far it is committed. */
struct mirror_mark {
	uint32_t folder_id;
	uint64_t seq;		/* every record up to it has its file */
	uint64_t flushed;	/* committed as the watermark (or 0) */
};

/*
 * The marks of one account.  Export jobs add to them, scans read them and
 * a flush commits them, each on its own pool thread: the mutex orders
 * them.  One entry per folder that was ever marked, so the set stays as
 * small as the folder list.
 */
struct mirror_marks {
	uv_mutex_t mu;
	struct mirror_mark *v;
	size_t n, cap;
	uint64_t bytes;		/* written since the last flush began */
};

/* MS_OK or MS_ENOMEM/MS_EINTERNAL. */
int mirror_marks_init(struct mirror_marks *mk) MS_WUR;
void mirror_marks_deinit(struct mirror_marks *mk);

/* Raises folder_id's mark to seq (a lower seq is ignored) and counts
 * bytes written.  MS_OK or MS_ENOMEM. */
int mirror_marks_add(struct mirror_marks *mk, uint32_t folder_id,
		     uint64_t seq, uint64_t bytes) MS_WUR;

/* folder_id's mark, 0 when it has none. */
uint64_t mirror_marks_get(struct mirror_marks *mk, uint32_t folder_id);

/* Has a mark moved since it was last committed?  *bytes_r (may be NULL):
 * the bytes written since the last flush began. */
bool mirror_marks_is_due(struct mirror_marks *mk, uint64_t *bytes_r);

struct mirror_durable_job;

/* Fires once per job, on the loop: rc MS_OK (the marks are committed) or
 * the error (err says why; the marks stay due for the next flush).  The
 * job is freed when the callback returns. */
typedef void (*mirror_durable_cb)(int rc, const struct ms_err *err,
				  void *arg);

/*
 * On the threadpool: takes the marks that moved (those of exports that
 * ended by now), runs syncfs on the file system holding root, then
 * commits each as its folder's mirror_durable (only upwards; a folder
 * gone since is skipped).  Exports and scans may run meanwhile.  s, root
 * and mk must outlive the job.  Returns NULL with err_r set when it
 * cannot be queued (no callback then).
 */
struct mirror_durable_job *mirror_durable_start(uv_loop_t *loop,
						struct store *s,
						const char *root,
						struct mirror_marks *mk,
						mirror_durable_cb cb,
						void *arg,
						struct ms_err *err_r);

#endif
