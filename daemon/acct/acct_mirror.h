/*
 * acct_mirror.h - an account's Maildir mirror around its passes
 * (mirror/mirror.h): a scan before a pass turns what readers did into
 * pending changes the pass pushes; an export after it (in bounded steps,
 * mirror/mirror_job.h) makes the mirror show the store; in the foreground
 * mode a watch (mirror/mirror_watch.h) says when readers changed the
 * mirror between passes, and a scan then records it and asks for a pass.
 *
 * Scans run on the threadpool (mirror/mirror_scan_job.h), one at a time
 * per account: a scan before a pass asked for while the watch's scan runs
 * starts when that one ends, and covers what the watch saw since.  The
 * watch is paused from the scan before a pass until the export is done,
 * so that no scan meets the pass's batches or the export's steps; what
 * readers do meanwhile is scanned when it resumes.  Loop thread only.
 */
#ifndef MS_ACCT_MIRROR_H
#define MS_ACCT_MIRROR_H

#include <stdbool.h>

#include <uv.h>

#include "cfg/cfg.h"
#include "common/ms.h"
#include "maildir/maildir_scan.h"
#include "mirror/mirror.h"
#include "store/store.h"

struct mirror_job;
struct mirror_scan_job;
struct mirror_watch;

struct acct_mirror_cbs {
	/* The watch's scan recorded a reader's change: a pass should push
	 * it. */
	void (*on_reader_change_cb)(void *arg);
	/* A scan ended: is_pass for the one acct_mirror_scan_start() asked
	 * for (rc MS_OK, MS_ECANCELED or its error, err says why), else the
	 * watch's (already logged; told so that a stop can wait for it). */
	void (*on_scan_done_cb)(bool is_pass, int rc, const struct ms_err *err,
				void *arg);
	/* The export ended: rc MS_OK, MS_ECANCELED or its error (err). */
	void (*on_export_done_cb)(int rc, const struct mirror_stats *st,
				  const struct ms_err *err, void *arg);
	void *arg;
};

struct acct_mirror {
	uv_loop_t *loop;
	struct store *store;
	const struct cfg_account *acct;	/* outlives the mirror */
	bool want_watch;		/* the foreground mode */
	bool is_log_info;		/* --once: scan and export at info */
	struct acct_mirror_cbs cbs;
	struct mirror_params mp;
	char ns_prefix[STORE_NS_PREFIX_MAX + 1];	/* mp.ns_prefix */
	struct maildir_report rep;
	struct mirror_watch *watch;
	struct mirror_job *export;
	struct mirror_scan_job *scan;	/* the one scan running */
	bool is_pass_scan;		/* it is the one before a pass */
	bool want_pass_scan;		/* asked for, waits for the watch's */
	bool want_watch_scan;		/* the watch saw more meanwhile */
	bool is_paused;			/* the watch, from the pass's scan */
	bool is_closed;
};

/* Sets m up for account (whose maildir may be NULL: then every call
 * below is a no-op and the export reports at once). */
void acct_mirror_init(struct acct_mirror *m, uv_loop_t *loop,
		      struct store *store, const struct cfg_account *account,
		      bool want_watch, bool is_log_info,
		      const struct acct_mirror_cbs *cbs);

bool acct_mirror_is_on(const struct acct_mirror *m);

/*
 * Before a pass: pauses the watch and starts a scan (after the watch's,
 * when one runs).  MS_OK: on_scan_done_cb fires later with is_pass; an
 * error in err_r: no callback (the pass may still run: the store is
 * unharmed).  Without a mirror, or closed: MS_EINVAL.
 */
int acct_mirror_scan_start(struct acct_mirror *m, struct ms_err *err_r) MS_WUR;

/* A scan or an export is running (or a scan is waiting to). */
bool acct_mirror_is_busy(const struct acct_mirror *m);

/*
 * After a pass: starts the export.  MS_OK (on_export_done fires later),
 * or an error in err_r and no callback.  Without a mirror: MS_EINVAL.
 */
int acct_mirror_export_start(struct acct_mirror *m,
			     struct ms_err *err_r) MS_WUR;

bool acct_mirror_is_exporting(const struct acct_mirror *m);

/* After the export (or when a pass ends without one): the watch starts
 * (when wanted and the tree exists) or resumes. */
void acct_mirror_watch(struct acct_mirror *m, bool is_tree_ready);

/* Abandons a running export and scan: their callbacks fire with
 * MS_ECANCELED (a scan before a pass still waiting for the watch's too,
 * when that one ends).  A no-op when nothing runs. */
void acct_mirror_cancel(struct acct_mirror *m);

/* Stops the watch; the loop must run once more before it is gone. */
void acct_mirror_close(struct acct_mirror *m);

/*
 * The migration from mbsync (mirror_adopt()) of one folder no pass has
 * synced, for the IMAP engine (imap_sync_params.adopt_cb): logs what it
 * adopted, or why mbsync's state did not fit.  Returns the records made
 * (0 without a mirror or when none), or a negative MS_E* with err_r set.
 * Loop thread.
 */
int acct_mirror_adopt(struct store *store, const struct cfg_account *account,
		      uint32_t folder_id, const char *folder,
		      uint32_t uidvalidity, struct ms_err *err_r) MS_WUR;

void acct_mirror_deinit(struct acct_mirror *m);

#endif
