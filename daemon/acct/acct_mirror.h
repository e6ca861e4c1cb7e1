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
 * readers do meanwhile is scanned when it resumes.
 *
 * What a scan covers: the first one, and the one before every pass of
 * all folders (the poll's, a safety net for events inotify lost), the
 * whole mirror; the watch's, only the folders the watch saw change.  The
 * scan before a pass of one folder (push) is skipped when the watch runs
 * and saw nothing since the last scan: it would find nothing.  The export
 * after a pass of one folder exports only that folder.
 *
 * Durability (mirror/mirror_durable.h): exports leave marks, which one
 * syncfs commits ACCT_MIRROR_FLUSH_MS after the first, at once when
 * ACCT_MIRROR_FLUSH_BYTES wait, and when the mirror closes.
 *
 * Early exports fill the mirror while a pass runs: while the pass only
 * adds records (the first fetch of a folder, a POP3 download;
 * acct_engine.h is_adding), each committed batch is exported beside it,
 * so that a reader opens the first messages seconds after a first sync
 * starts, and a first sync cut short leaves a Maildir with what it
 * committed.  The export then
 * reads records the pass is still committing: mirror_export() never
 * moves a folder's durable watermark past a record it may not have seen
 * (mirror_export_job.seq_cap), and the runtime holds the pass before it
 * may change or remove a record until the early export is done.  The
 * export after the pass is the one acct_mirror_export_start() starts, as
 * before.
 * Loop thread only.
 */
#ifndef MS_ACCT_MIRROR_H
#define MS_ACCT_MIRROR_H

#include <stdbool.h>

#include <uv.h>

#include "cfg/cfg.h"
#include "common/ms.h"
#include "maildir/maildir_scan.h"
#include "mirror/mirror.h"
#include "mirror/mirror_watch.h"
#include "store/store.h"

struct maildir_expect;
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
	/* The export ended: rc MS_OK, MS_ECANCELED or its error (err);
	 * st adds what the early exports of the pass did. */
	void (*on_export_done_cb)(int rc, const struct mirror_stats *st,
				  const struct ms_err *err, void *arg);
	/* An early export ended: rc MS_OK, MS_ECANCELED or its error
	 * (logged at debug: the export after the pass says it again). */
	void (*on_early_done_cb)(int rc, void *arg);
	void *arg;
};

/* acct_mirror_scan_start(): no scan is needed, no callback comes. */
#define ACCT_MIRROR_NO_SCAN 1

struct acct_mirror {
	uv_loop_t *loop;
	struct store *store;
	const struct cfg_account *acct;	/* outlives the mirror */
	bool want_watch;		/* the foreground mode */
	struct inotify_reader *ino;	/* the daemon's; NULL: no watch */
	bool is_log_info;		/* --once: scan and export at info */
	struct acct_mirror_cbs cbs;
	struct mirror_params mp;
	char ns_prefix[STORE_NS_PREFIX_MAX + 1];	/* mp.ns_prefix */
	struct maildir_report rep;
	struct mirror_watch *watch;
	/* The exports' own writes, announced to the watch (mp.expect);
	 * NULL without a watch. */
	struct maildir_expect *expect;
	struct mirror_job *export;
	bool is_early;			/* export is an early one */
	struct mirror_stats early_st;	/* the pass's early exports */
	struct mirror_early early;	/* where they left each folder */
	struct mirror_early pushed;	/* where push exports left them */
	struct mirror_scan_job *scan;	/* the one scan running */
	bool is_pass_scan;		/* it is the one before a pass */
	bool is_scan_all;		/* it covers every folder */
	bool want_pass_scan;		/* asked for, waits for the watch's */
	bool want_watch_scan;		/* the watch saw more meanwhile */
	/* Starts the watch's scan once the watch has delivered every
	 * folder of a burst (freed by its close callback). */
	uv_timer_t *watch_timer;
	bool is_paused;			/* the watch, from the pass's scan */
	bool is_closed;
	/* What the watch saw change since the last scan began. */
	struct mirror_dirs dirs;
	bool has_scanned_all;		/* a whole scan succeeded */
	bool is_pass_full;		/* the pass's scan covers all */
	char *export_folder;		/* the running export's only folder */
	/* Batched durability. */
	struct mirror_marks marks;
	bool has_marks;			/* marks initialised */
	struct mirror_durable_job *flush;
	uv_timer_t *flush_timer;	/* freed by its close callback */
	bool want_flush;		/* again when this one ends */
};

/* Sets m up for account (whose maildir may be NULL: then every call
 * below is a no-op and the export reports at once); its watch on ino
 * (the foreground mode; NULL, --once: no watch). */
void acct_mirror_init(struct acct_mirror *m, uv_loop_t *loop,
		      struct store *store, const struct cfg_account *account,
		      struct inotify_reader *ino, bool is_log_info,
		      const struct acct_mirror_cbs *cbs);

bool acct_mirror_is_on(const struct acct_mirror *m);
/* The export after a pass is over: the bodies its commits handed over and
 * no export took are freed (store_handed_drop()). */
void acct_mirror_handed_drop(struct acct_mirror *m);

/*
 * "mirror WHAT MAILDIR: MSG" in out (size bytes), the line a failed scan
 * or export is reported with; without MAILDIR when msg names it already,
 * so that no message repeats its path.  Returns out.
 */
char *acct_mirror_describe(const struct cfg_account *account,
			   const char *what, const char *msg, char *out,
			   size_t size);

/*
 * Before a pass (of every folder when is_full): pauses the watch and
 * starts a scan (after the watch's, when one runs).  MS_OK:
 * on_scan_done_cb fires later with is_pass; ACCT_MIRROR_NO_SCAN: nothing
 * to scan (see above), no callback; an error in err_r: no callback (the
 * pass may still run: the store is unharmed).  Without a mirror, or
 * closed: MS_EINVAL.
 */
int acct_mirror_scan_start(struct acct_mirror *m, bool is_full,
			   struct ms_err *err_r) MS_WUR;

/* A scan or an export is running (or a scan is waiting to). */
bool acct_mirror_is_busy(const struct acct_mirror *m);

/*
 * After a pass: starts the export, of only_folder (as the server names
 * it; copied) when the pass synced only that one, else of every folder.
 * is_append_only: the pass of only_folder only added messages to it
 * (nothing else pulled or pushed), so that the export may write the new
 * ones without listing the folder (mirror_params.pushed).  MS_OK
 * (on_export_done fires later), or an error in err_r and no callback.
 * Without a mirror: MS_EINVAL.
 */
int acct_mirror_export_start(struct acct_mirror *m, const char *only_folder,
			     bool is_append_only, struct ms_err *err_r) MS_WUR;

/*
 * While a pass only adds records: starts an early export.  MS_OK
 * (on_early_done_cb fires later), or an error in err_r and no callback
 * (an export or a scan runs, no mirror, closed).
 */
int acct_mirror_export_early(struct acct_mirror *m,
			     struct ms_err *err_r) MS_WUR;

bool acct_mirror_is_exporting(const struct acct_mirror *m);

/* After the export (or when a pass ends without one): the watch starts
 * (when wanted and the tree exists) or resumes. */
void acct_mirror_watch(struct acct_mirror *m, bool is_tree_ready);

/* Abandons a running export and scan: their callbacks fire with
 * MS_ECANCELED (a scan before a pass still waiting for the watch's too,
 * when that one ends).  A no-op when nothing runs. */
void acct_mirror_cancel(struct acct_mirror *m);

/* Stops the watch and makes what the exports wrote durable (the mirror
 * is busy until then); the loop must run once more before it is gone. */
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
