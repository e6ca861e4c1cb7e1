/*
 * acct_mirror.c - an account's Maildir mirror around its passes
 * (acct_mirror.h).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct/acct_mirror.h"
#include "log.h"
#include "maildir/maildir_expect.h"
#include "mirror/mirror_job.h"
#include "mirror/mirror_scan_job.h"
#include "mirror/mirror_watch.h"

/* Reader changes are scanned this long after the first of a burst.  It
 * is what a reader's edit waits before its pass starts, on top of the
 * pass's round trips (with the session kept, about 100 ms for 400 edits
 * over a 50 ms link), so it is kept short: a reader's burst (mutt's sync
 * of a folder, a move's write and unlink) is over in a few ms, and
 * changes that come later go in the next pass. */
#define ACCT_MIRROR_DELAY_MS 100

/* What exports wrote is made durable (one syncfs, then the watermarks)
 * this long after the first export that left a mark, or at once when
 * this many bytes wait.  A crash loses the marks, not mail: start-up
 * checks the files beyond the committed watermarks.  Kept long enough
 * that a stream of pushed messages shares a syncfs: a syncfs writes back
 * the dirty data of the whole file system, everyone's: 1.4 to 4 ms of
 * CPU on a busy ext4 disk, so every 10 s it added 0.2 to 0.6 ms to each
 * message of a stream at one every 1.5 s, a fifth of what one cost.
 * By 30 s the kernel's writeback (30 s by default) has written most of
 * the files anyway. */
#define ACCT_MIRROR_FLUSH_MS 30000
#define ACCT_MIRROR_FLUSH_BYTES (64u << 20)

/* The watch's folders remembered for the next scan; beyond: all. */
#define ACCT_MIRROR_DIRS_MAX 64
/* Bytes of just-committed bodies the store keeps for the export
 * (store_handed_enable()): in memory, a batch's (SYNC_BATCH_MEM) while the
 * export writes the one before; large ones, in their spool files (disk
 * the commit used already), more. */
#define ACCT_MIRROR_HANDED_MAX (2u << 20)
#define ACCT_MIRROR_HANDED_SPOOL_MAX (64u << 20)

static void acct_mirror_params(const struct cfg_account *account,
			       const char *ns_prefix, struct maildir_report *rep,
			       struct mirror_params *mp);

static void
acct_mirror_report(const char *path, const char *why, void *arg)
{
	struct acct_mirror *m = arg;

	log_warn("acct=%s mirror %s: %s, left alone", m->acct->name, path,
		 why);
}

void
acct_mirror_init(struct acct_mirror *m, uv_loop_t *loop, struct store *store,
		 const struct cfg_account *account, struct inotify_reader *ino,
		 bool is_log_info, const struct acct_mirror_cbs *cbs)
{
	memset(m, 0, sizeof(*m));
	m->loop = loop;
	m->store = store;
	m->acct = account;
	m->ino = ino;
	m->want_watch = ino != NULL;
	m->is_log_info = is_log_info;
	m->cbs = *cbs;
	acct_mirror_params(account, m->ns_prefix, &m->rep, &m->mp);
	maildir_report_init(&m->rep, acct_mirror_report, m);
	/* Without marks (no mutex), exports syncfs each folder. */
	m->has_marks = mirror_marks_init(&m->marks) == MS_OK;
	m->mp.marks = m->has_marks ? &m->marks : NULL;
	m->mp.early = &m->early;
	m->mp.pushed = &m->pushed;
	/* The watch takes the exports' own writes from here rather than
	 * scan for them (without it, out of memory: it scans). */
	if (m->want_watch)
		m->mp.expect = m->expect = maildir_expect_new(MAILDIR_EXPECT_TTL_MS);
	if (acct_mirror_is_on(m))
		store_handed_enable(store, ACCT_MIRROR_HANDED_MAX,
				    ACCT_MIRROR_HANDED_SPOOL_MAX);
}

void
acct_mirror_handed_drop(struct acct_mirror *m)
{
	struct store_handed_stats st;

	if (!acct_mirror_is_on(m))
		return;
	store_handed_stats(m->store, &st);
	log_debug("acct=%s mirror bodies handed over by commits: %" PRIu64
		  " kept, %" PRIu64 " taken by exports, %" PRIu64
		  " dropped, %zu left (dropped now)", m->acct->name, st.n_kept,
		  st.n_taken, st.n_dropped, st.n_held);
	store_handed_drop(m->store);
}

/* The mirror's parameters of account; ns_prefix and rep are the
 * caller's. */
static void
acct_mirror_params(const struct cfg_account *account, const char *ns_prefix,
		   struct maildir_report *rep, struct mirror_params *mp)
{
	memset(mp, 0, sizeof(*mp));
	mp->account = account->name;
	mp->root = account->maildir;
	mp->ns_prefix = ns_prefix;
	mp->rep = rep;
	mp->folders = account->folders.v;
	mp->nfolders = account->folders.n;
	mp->is_inbox_subfolder =
		account->maildir_inbox == CFG_MAILDIR_INBOX_SUBFOLDER;
	mp->layout = account->maildir_layout == CFG_MAILDIR_LAYOUT_MAILDIRPP ?
		     MAILDIR_LAYOUT_MAILDIRPP :
		     account->maildir_layout == CFG_MAILDIR_LAYOUT_LEGACY ?
		     MAILDIR_LAYOUT_LEGACY : MAILDIR_LAYOUT_VERBATIM;
	mp->mbsync_state = account->mbsync_state;
	mp->is_deleted_hidden =
		account->protocol == CFG_PROTOCOL_IMAP &&
		account->local_delete == CFG_LOCAL_DELETE_FLAG;
}

int
acct_mirror_adopt(struct store *store, const struct cfg_account *account,
		  uint32_t folder_id, const char *folder, uint32_t uidvalidity,
		  struct ms_err *err_r)
{
	char ns[STORE_NS_PREFIX_MAX + 1] = "";
	struct mirror_adopt_result res;
	struct mirror_params mp;
	int rc;

	if (account->maildir == NULL)
		return 0;
	rc = store_account_ns_get(store, account->name, ns, sizeof(ns), err_r);
	if (rc < 0)
		return rc;
	acct_mirror_params(account, ns, NULL, &mp);
	if ((rc = mirror_adopt(store, &mp, folder_id, uidvalidity, &res,
			       err_r)) < 0)
		return rc;
	if (res.why[0] != '\0')
		log_warn("acct=%s folder=%s mbsync's state of the Maildir not "
			 "used: %s; its messages are downloaded and matched "
			 "with its files by content (the server's flags win)",
			 account->name, folder, res.why);
	if (res.adopted == 0)
		return 0;
	log_info("acct=%s folder=%s adopted %" PRIu64 " files of mbsync's "
		 "Maildir, without a download (%" PRIu64 " with local flag "
		 "changes to push, %" PRIu64 " not adopted, fetched from UID "
		 "%" PRIu32 ")", account->name, folder, res.adopted,
		 res.flag_changes, res.not_adopted, res.uidnext);
	return res.adopted > INT32_MAX ? INT32_MAX : (int)res.adopted;
}

bool
acct_mirror_is_on(const struct acct_mirror *m)
{
	return m->acct->maildir != NULL;
}

/*
 * The personal namespace prefix the mirror strips, as the last pass
 * learned it (NAMESPACE); read again before every scan and export, since
 * a pass may have learned it since.
 */
static int
acct_mirror_ns(struct acct_mirror *m, struct ms_err *err_r)
{
	int rc = store_account_ns_get(m->store, m->acct->name, m->ns_prefix,
				      sizeof(m->ns_prefix), err_r);

	if (rc == STORE_NOTFOUND) {
		m->ns_prefix[0] = '\0';
		return MS_OK;
	}
	return rc < 0 ? rc : MS_OK;
}

char *
acct_mirror_describe(const struct cfg_account *account, const char *what,
		     const char *msg, char *out, size_t size)
{
	const char *dir = account->maildir != NULL ? account->maildir : "";

	if (dir[0] == '\0' || strstr(msg, dir) != NULL)
		snprintf(out, size, "mirror %s: %s", what, msg);
	else
		snprintf(out, size, "mirror %s %s: %s", what, dir, msg);
	return out;
}

/* What a scan or export did: at info in --once, unless it did nothing
 * (an unchanged pass logs no line of zeros), else at debug. */
static void
acct_mirror_log(const struct acct_mirror *m, const char *what,
		const struct mirror_stats *st)
{
	char line[512];
	bool is_nothing = st->written + st->renamed + st->removed +
			  st->adopted + st->flag_changes + st->deletes +
			  st->moves + st->appends + st->created == 0;

	snprintf(line, sizeof(line), "acct=%s mirror %s written=%llu "
		 "renamed=%llu removed=%llu adopted=%llu flags=%llu "
		 "deletes=%llu moves=%llu appends=%llu created=%llu",
		 m->acct->name, what, (unsigned long long)st->written,
		 (unsigned long long)st->renamed,
		 (unsigned long long)st->removed,
		 (unsigned long long)st->adopted,
		 (unsigned long long)st->flag_changes,
		 (unsigned long long)st->deletes,
		 (unsigned long long)st->moves,
		 (unsigned long long)st->appends,
		 (unsigned long long)st->created);
	if (m->is_log_info && !is_nothing)
		log_info("%s", line);
	else
		log_debug("%s", line);
	/* How much it read: folders left alone unlisted, entries listed. */
	log_debug("acct=%s mirror %s folders=%llu unchanged=%llu listed=%llu",
		  m->acct->name, what, (unsigned long long)st->folders,
		  (unsigned long long)st->unchanged,
		  (unsigned long long)st->listed);
}

static void acct_mirror_scan_next(struct acct_mirror *m);

/* --- durability -------------------------------------------------------- */

static void acct_mirror_flush(struct acct_mirror *m);

static void
acct_mirror_on_flush_done(int rc, const struct ms_err *err, void *arg)
{
	struct acct_mirror *m = arg;

	m->flush = NULL;
	if (rc < 0 && rc != MS_ECANCELED)
		log_err("acct=%s mirror %s: %s (written again at the next "
			"start if lost)", m->acct->name, m->acct->maildir,
			err->msg);
	else
		log_debug("acct=%s mirror durable", m->acct->name);
	if (m->want_flush || (m->is_closed && rc == MS_OK)) {
		m->want_flush = false;
		acct_mirror_flush(m);
	}
	/* A stop may have waited for it. */
	if (m->is_closed && m->flush == NULL)
		m->cbs.on_scan_done_cb(false, MS_OK, NULL, m->cbs.arg);
}

/* One syncfs for what the exports wrote, then their watermarks. */
static void
acct_mirror_flush(struct acct_mirror *m)
{
	struct ms_err err = { 0 };

	if (!m->has_marks || !mirror_marks_is_due(&m->marks, NULL))
		return;
	if (m->flush != NULL) {
		m->want_flush = true;
		return;
	}
	if (m->flush_timer != NULL)
		uv_timer_stop(m->flush_timer);
	m->flush = mirror_durable_start(m->loop, m->store, m->mp.root,
					&m->marks, acct_mirror_on_flush_done,
					m, &err);
	if (m->flush == NULL)
		log_err("acct=%s mirror %s: %s", m->acct->name,
			m->acct->maildir, err.msg);
}

static void
acct_mirror_on_flush_timer(uv_timer_t *t)
{
	acct_mirror_flush(t->data);
}

static void
acct_mirror_on_timer_closed(uv_handle_t *h)
{
	free(h);
}

/* Starts *t (made at the first call, freed by its close callback) unless
 * it runs; MS_ENOMEM when it cannot be made. */
static int
acct_mirror_timer_start(struct acct_mirror *m, uv_timer_t **t, uv_timer_cb cb,
			uint64_t ms)
{
	if (*t == NULL) {
		*t = malloc(sizeof(**t));
		if (*t == NULL || uv_timer_init(m->loop, *t) != 0) {
			free(*t);
			*t = NULL;
			return MS_ENOMEM;
		}
		(*t)->data = m;
	}
	if (!uv_is_active((uv_handle_t *)*t))
		uv_timer_start(*t, cb, ms, 0);
	return MS_OK;
}

/* After an export: a flush now when much waits, else soon. */
static void
acct_mirror_flush_later(struct acct_mirror *m)
{
	uint64_t bytes = 0;

	if (!m->has_marks || !mirror_marks_is_due(&m->marks, &bytes))
		return;
	if (bytes >= ACCT_MIRROR_FLUSH_BYTES || m->is_closed) {
		acct_mirror_flush(m);
		return;
	}
	if (acct_mirror_timer_start(m, &m->flush_timer,
				    acct_mirror_on_flush_timer,
				    ACCT_MIRROR_FLUSH_MS) < 0)
		acct_mirror_flush(m);
}

static void
acct_mirror_on_scan_done(struct mirror_scan_job *j, int rc,
			 const struct mirror_stats *st,
			 const struct ms_err *err, void *arg)
{
	struct acct_mirror *m = arg;
	bool is_pass = m->is_pass_scan;
	char line[600];

	(void)j;
	m->scan = NULL;
	m->is_pass_scan = false;
	if (rc == MS_OK)
		acct_mirror_log(m, "scan", st);
	if (rc == MS_OK && m->is_scan_all)
		m->has_scanned_all = true;
	if (!is_pass && rc < 0 && rc != MS_ECANCELED)
		log_err("acct=%s %s", m->acct->name,
			acct_mirror_describe(m->acct, "scan", err->msg, line,
					     sizeof(line)));
	/* A new folder, even empty, is to be created on the server. */
	if (!is_pass && rc == MS_OK && st->flag_changes + st->deletes +
	    st->moves + st->appends + st->created > 0 &&
	    m->cbs.on_reader_change_cb != NULL)
		m->cbs.on_reader_change_cb(m->cbs.arg);
	m->cbs.on_scan_done_cb(is_pass, rc, err, m->cbs.arg);
	acct_mirror_scan_next(m);
}

/* Starts a scan now; on_scan_done_cb fires later.  MS_OK or an error. */
static int
acct_mirror_scan_begin(struct acct_mirror *m, bool is_pass,
		       struct ms_err *err_r)
{
	bool is_all = (is_pass && m->is_pass_full) || m->dirs.is_all ||
		      !m->has_scanned_all;
	int rc;

	if ((rc = acct_mirror_ns(m, err_r)) < 0)
		return rc;
	/* The job copies the folders: what the watch sees from now on is
	 * for the next scan. */
	m->mp.only_dirs = is_all ? NULL : m->dirs.v;
	m->mp.n_only_dirs = is_all ? 0 : m->dirs.n;
	m->scan = mirror_scan_job_start(m->loop, m->store, &m->mp,
					acct_mirror_on_scan_done, m, err_r);
	/* m->dirs.v is freed below: the job has its own copy. */
	m->mp.only_dirs = NULL;
	m->mp.n_only_dirs = 0;
	if (m->scan == NULL)
		return err_r->code < 0 ? err_r->code : MS_EIO;
	m->is_scan_all = is_all;
	if (!is_all)
		log_debug("acct=%s mirror scan of %zu folder(s)",
			  m->acct->name, m->dirs.n);
	mirror_dirs_clear(&m->dirs);
	m->is_pass_scan = is_pass;
	return MS_OK;
}

/* Would a scan before a pass of one folder find anything?  Not when the
 * watch runs, saw nothing since the last scan, and a whole scan was done
 * (readers' changes before the watch started). */
static bool
acct_mirror_is_scan_needed(const struct acct_mirror *m)
{
	return m->is_pass_full || m->watch == NULL || !m->has_scanned_all ||
	       m->dirs.is_all || m->dirs.n > 0 || m->want_watch_scan;
}

/*
 * The next scan once none runs: the one before a pass first (it covers
 * what the watch saw), else the watch's when it is not paused.  A pass's
 * scan that cannot start, or that the mirror closed before it could,
 * reports at once: this runs from a callback, never from the request.
 */
static void
acct_mirror_scan_next(struct acct_mirror *m)
{
	struct ms_err err = { 0 };
	char line[600];
	int rc;

	if (m->scan != NULL)
		return;
	if (m->want_pass_scan) {
		m->want_pass_scan = false;
		m->want_watch_scan = false;
		if (!m->is_closed && !acct_mirror_is_scan_needed(m)) {
			/* The watch's scan covered it all. */
			m->cbs.on_scan_done_cb(true, MS_OK, &err, m->cbs.arg);
			return;
		}
		rc = m->is_closed ? ms_err_set(&err, MS_ECANCELED, "mirror "
					       "closed") :
		     acct_mirror_scan_begin(m, true, &err);
		if (rc < 0)
			m->cbs.on_scan_done_cb(true, rc, &err, m->cbs.arg);
		return;
	}
	if (m->want_watch_scan && !m->is_paused && !m->is_closed) {
		m->want_watch_scan = false;
		if (acct_mirror_scan_begin(m, false, &err) < 0)
			log_err("acct=%s %s", m->acct->name,
				acct_mirror_describe(m->acct, "scan", err.msg,
						     line, sizeof(line)));
	}
}

int
acct_mirror_scan_start(struct acct_mirror *m, bool is_full,
		       struct ms_err *err_r)
{
	if (!acct_mirror_is_on(m) || m->is_closed)
		return ms_err_set(err_r, MS_EINVAL, "no mirror to scan");
	memset(&m->early_st, 0, sizeof(m->early_st));	/* a new pass */
	m->is_paused = true;
	mirror_watch_pause(m->watch);
	m->is_pass_full = is_full;
	if (m->scan != NULL) {
		/* The watch's scan: this one follows it. */
		m->want_pass_scan = true;
		return MS_OK;
	}
	if (!acct_mirror_is_scan_needed(m))
		return ACCT_MIRROR_NO_SCAN;
	m->want_watch_scan = false;
	return acct_mirror_scan_begin(m, true, err_r);
}

bool
acct_mirror_is_busy(const struct acct_mirror *m)
{
	return m->scan != NULL || m->want_pass_scan || m->export != NULL ||
	       m->flush != NULL;
}

static void
acct_mirror_on_export_done(struct mirror_job *j, int rc,
			   const struct mirror_stats *st,
			   const struct ms_err *err, void *arg)
{
	struct acct_mirror *m = arg;
	struct mirror_stats all = m->early_st;

	(void)j;
	m->export = NULL;
	free(m->export_folder);
	m->export_folder = NULL;
	m->mp.only_folder = NULL;
	acct_mirror_flush_later(m);
	/* What a failed export left is unknown: the next lists. */
	if (rc != MS_OK)
		mirror_early_clear(&m->pushed);
	if (m->is_early) {
		m->is_early = false;
		if (rc == MS_OK) {
			mirror_stats_add(&m->early_st, st);
		} else {
			/* What it wrote is unknown: the next one lists. */
			mirror_early_clear(&m->early);
			log_debug("acct=%s early mirror export: %s",
				  m->acct->name, err->msg);
		}
		m->cbs.on_early_done_cb(rc, m->cbs.arg);
		return;
	}
	memset(&m->early_st, 0, sizeof(m->early_st));
	mirror_stats_add(&all, st);
	if (rc == MS_OK)
		acct_mirror_log(m, "export", &all);
	m->cbs.on_export_done_cb(rc, &all, err, m->cbs.arg);
}

static int
acct_mirror_export_begin(struct acct_mirror *m, bool is_early,
			 const char *only_folder, bool is_append_only,
			 struct ms_err *err_r)
{
	int rc;

	if (!acct_mirror_is_on(m) || m->export != NULL || m->is_closed)
		return ms_err_set(err_r, MS_EINVAL, "no mirror to export");
	if (m->scan != NULL || m->want_pass_scan)
		return ms_err_set(err_r, MS_EINVAL, "a mirror scan is running");
	if ((rc = acct_mirror_ns(m, err_r)) < 0)
		return rc;
	/* The export after a pass lists every folder it exports: the
	 * next pass's early exports start from the listing again. */
	if (!is_early)
		mirror_early_clear(&m->early);
	/* So does the export of every folder: push exports start from
	 * its listing again. */
	if (!is_early && only_folder == NULL)
		mirror_early_clear(&m->pushed);
	if (only_folder != NULL &&
	    (m->export_folder = strdup(only_folder)) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	/* The job keeps a pointer to the name, freed when it ends. */
	m->mp.only_folder = m->export_folder;
	m->mp.is_early = is_early;
	m->mp.is_append_only = only_folder != NULL && is_append_only;
	m->export = mirror_job_start(m->loop, m->store, &m->mp, 0,
				     acct_mirror_on_export_done, m, err_r);
	m->mp.only_folder = NULL;
	m->mp.is_early = false;
	m->mp.is_append_only = false;
	if (m->export == NULL) {
		free(m->export_folder);
		m->export_folder = NULL;
		return err_r->code < 0 ? err_r->code : MS_EIO;
	}
	m->is_early = is_early;
	return MS_OK;
}

int
acct_mirror_export_start(struct acct_mirror *m, const char *only_folder,
			 bool is_append_only, struct ms_err *err_r)
{
	return acct_mirror_export_begin(m, false, only_folder, is_append_only,
					err_r);
}

int
acct_mirror_export_early(struct acct_mirror *m, struct ms_err *err_r)
{
	return acct_mirror_export_begin(m, true, NULL, false, err_r);
}

bool
acct_mirror_is_exporting(const struct acct_mirror *m)
{
	return m->export != NULL;
}

static void
acct_mirror_on_watch_timer(uv_timer_t *t)
{
	acct_mirror_scan_next(t->data);
}

/*
 * The watch delivers a burst one folder per call.  A scan started at the
 * first would see half of a reader's move across folders (the file gone
 * from A, not yet the one in B: a DELETE and an APPEND instead of a
 * MOVE), so the scan starts from a timer, after the watch has delivered
 * every folder of the burst.
 */
static void
acct_mirror_scan_soon(struct acct_mirror *m)
{
	if (m->scan != NULL)
		return;		/* its end starts the next one */
	/* Without the timer a scan now still sees everything: a partial
	 * one widens to every folder for what it cannot match. */
	if (acct_mirror_timer_start(m, &m->watch_timer,
				    acct_mirror_on_watch_timer, 0) < 0)
		acct_mirror_scan_next(m);
}

static void
acct_mirror_on_change(struct mirror_watch *w, const char *rel, void *arg)
{
	struct acct_mirror *m = arg;

	(void)w;
	log_debug("acct=%s mirror changed in \"%s\": scanning", m->acct->name,
		  rel != NULL ? rel : "(anywhere)");
	mirror_dirs_add(&m->dirs, rel, ACCT_MIRROR_DIRS_MAX);
	m->want_watch_scan = true;
	acct_mirror_scan_soon(m);
}

void
acct_mirror_watch(struct acct_mirror *m, bool is_tree_ready)
{
	struct ms_err err = { 0 };

	if (!acct_mirror_is_on(m) || !m->want_watch || m->is_closed)
		return;
	if (m->watch == NULL && is_tree_ready) {
		m->watch = mirror_watch_new(m->loop, m->ino, m->mp.root,
					    m->mp.layout,
					    &m->rep,
					    ACCT_MIRROR_DELAY_MS,
					    acct_mirror_on_change, m, &err);
		if (m->watch == NULL)
			log_warn("acct=%s mirror watch: %s (reader changes "
				 "wait for the next pass)", m->acct->name,
				 err.msg);
		mirror_watch_set_expect(m->watch, m->expect);
	}
	m->is_paused = false;
	mirror_watch_resume(m->watch);
}

void
acct_mirror_cancel(struct acct_mirror *m)
{
	mirror_job_cancel(m->export);
	mirror_scan_job_cancel(m->scan);
}

void
acct_mirror_close(struct acct_mirror *m)
{
	bool was_closed = m->is_closed;

	m->is_closed = true;
	mirror_watch_close(m->watch);
	m->watch = NULL;
	if (m->flush_timer != NULL) {
		uv_close((uv_handle_t *)m->flush_timer,
			 acct_mirror_on_timer_closed);
		m->flush_timer = NULL;
	}
	if (m->watch_timer != NULL) {
		uv_close((uv_handle_t *)m->watch_timer,
			 acct_mirror_on_timer_closed);
		m->watch_timer = NULL;
	}
	/* What the exports wrote is made durable before the stop ends (an
	 * export still running flushes when it ends). */
	if (!was_closed && m->export == NULL)
		acct_mirror_flush(m);
}

void
acct_mirror_deinit(struct acct_mirror *m)
{
	acct_mirror_close(m);
	mirror_dirs_clear(&m->dirs);
	free(m->export_folder);
	m->export_folder = NULL;
	if (m->has_marks)
		mirror_marks_deinit(&m->marks);
	m->has_marks = false;
	mirror_early_clear(&m->early);
	mirror_early_clear(&m->pushed);
	m->mp.expect = NULL;
	maildir_expect_free(&m->expect);
	maildir_report_deinit(&m->rep);
}
