/*
 * acct_mirror.c - an account's Maildir mirror around its passes
 * (acct_mirror.h).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "acct/acct_mirror.h"
#include "log.h"
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
		 const struct cfg_account *account, bool want_watch,
		 bool is_log_info, const struct acct_mirror_cbs *cbs)
{
	memset(m, 0, sizeof(*m));
	m->loop = loop;
	m->store = store;
	m->acct = account;
	m->want_watch = want_watch;
	m->is_log_info = is_log_info;
	m->cbs = *cbs;
	acct_mirror_params(account, m->ns_prefix, &m->rep, &m->mp);
	maildir_report_init(&m->rep, acct_mirror_report, m);
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

static void
acct_mirror_log(const struct acct_mirror *m, const char *what,
		const struct mirror_stats *st)
{
	char line[512];

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
	if (m->is_log_info)
		log_info("%s", line);
	else
		log_debug("%s", line);
}

static void acct_mirror_scan_next(struct acct_mirror *m);

static void
acct_mirror_on_scan_done(struct mirror_scan_job *j, int rc,
			 const struct mirror_stats *st,
			 const struct ms_err *err, void *arg)
{
	struct acct_mirror *m = arg;
	bool is_pass = m->is_pass_scan;

	(void)j;
	m->scan = NULL;
	m->is_pass_scan = false;
	if (rc == MS_OK)
		acct_mirror_log(m, "scan", st);
	if (!is_pass && rc < 0 && rc != MS_ECANCELED)
		log_err("acct=%s mirror scan %s: %s", m->acct->name,
			m->acct->maildir, err->msg);
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
	int rc;

	if ((rc = acct_mirror_ns(m, err_r)) < 0)
		return rc;
	m->scan = mirror_scan_job_start(m->loop, m->store, &m->mp,
					acct_mirror_on_scan_done, m, err_r);
	if (m->scan == NULL)
		return err_r->code < 0 ? err_r->code : MS_EIO;
	m->is_pass_scan = is_pass;
	return MS_OK;
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
	int rc;

	if (m->scan != NULL)
		return;
	if (m->want_pass_scan) {
		m->want_pass_scan = false;
		m->want_watch_scan = false;
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
			log_err("acct=%s mirror scan %s: %s", m->acct->name,
				m->acct->maildir, err.msg);
	}
}

int
acct_mirror_scan_start(struct acct_mirror *m, struct ms_err *err_r)
{
	if (!acct_mirror_is_on(m) || m->is_closed)
		return ms_err_set(err_r, MS_EINVAL, "no mirror to scan");
	m->is_paused = true;
	mirror_watch_pause(m->watch);
	if (m->scan != NULL) {
		/* The watch's scan: this one follows it. */
		m->want_pass_scan = true;
		return MS_OK;
	}
	m->want_watch_scan = false;
	return acct_mirror_scan_begin(m, true, err_r);
}

bool
acct_mirror_is_busy(const struct acct_mirror *m)
{
	return m->scan != NULL || m->want_pass_scan || m->export != NULL;
}

static void
acct_mirror_on_export_done(struct mirror_job *j, int rc,
			   const struct mirror_stats *st,
			   const struct ms_err *err, void *arg)
{
	struct acct_mirror *m = arg;

	(void)j;
	m->export = NULL;
	if (rc == MS_OK)
		acct_mirror_log(m, "export", st);
	m->cbs.on_export_done_cb(rc, st, err, m->cbs.arg);
}

int
acct_mirror_export_start(struct acct_mirror *m, struct ms_err *err_r)
{
	int rc;

	if (!acct_mirror_is_on(m) || m->export != NULL || m->is_closed)
		return ms_err_set(err_r, MS_EINVAL, "no mirror to export");
	if (m->scan != NULL || m->want_pass_scan)
		return ms_err_set(err_r, MS_EINVAL, "a mirror scan is running");
	if ((rc = acct_mirror_ns(m, err_r)) < 0)
		return rc;
	m->export = mirror_job_start(m->loop, m->store, &m->mp, 0,
				     acct_mirror_on_export_done, m, err_r);
	return m->export != NULL ? MS_OK : err_r->code < 0 ? err_r->code :
	       MS_EIO;
}

bool
acct_mirror_is_exporting(const struct acct_mirror *m)
{
	return m->export != NULL;
}

static void
acct_mirror_on_change(struct mirror_watch *w, const char *rel, void *arg)
{
	struct acct_mirror *m = arg;

	(void)w;
	log_debug("acct=%s mirror changed in \"%s\": scanning", m->acct->name,
		  rel);
	m->want_watch_scan = true;
	acct_mirror_scan_next(m);
}

void
acct_mirror_watch(struct acct_mirror *m, bool is_tree_ready)
{
	struct ms_err err = { 0 };

	if (!acct_mirror_is_on(m) || !m->want_watch || m->is_closed)
		return;
	if (m->watch == NULL && is_tree_ready) {
		m->watch = mirror_watch_new(m->loop, m->mp.root, &m->rep,
					    ACCT_MIRROR_DELAY_MS,
					    acct_mirror_on_change, m, &err);
		if (m->watch == NULL)
			log_warn("acct=%s mirror watch: %s (reader changes "
				 "wait for the next pass)", m->acct->name,
				 err.msg);
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
	m->is_closed = true;
	mirror_watch_close(m->watch);
	m->watch = NULL;
}

void
acct_mirror_deinit(struct acct_mirror *m)
{
	acct_mirror_close(m);
	maildir_report_deinit(&m->rep);
}
