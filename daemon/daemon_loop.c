/*
 * daemon_loop.c - the foreground mode (daemon_loop.h).
 *
 * Each IMAP account owns one timer.  The timer fires, a pass starts; the
 * pass ends, daemon_next_after_pass() decides the state and the delay, the
 * timer is armed again.  So at most one pass per account runs at a time,
 * and a failing server is never hammered: the backoff delay replaces the
 * poll interval until a pass succeeds.
 *
 * A pass of an account with a Maildir mirror ends with the mirror's
 * export, which runs in bounded steps (mirror_job.h) so that the loop
 * keeps serving signals, timers and other accounts' passes meanwhile;
 * the account's pass counts as running, and its next pass and mirror
 * scans wait, until the export is done.
 *
 * Stopping: the first SIGINT/SIGTERM stops the timers, every running
 * pass and every export (abandoned between two steps; the next start
 * finishes it); when the last has reported (imap_sync_stop() commits what
 * is complete, then on_done fires), every handle is closed and uv_run()
 * returns.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "daemon_loop.h"
#include "log.h"
#include "mirror/mirror.h"
#include "mirror/mirror_job.h"
#include "mirror/mirror_watch.h"
#include "net/tls.h"
#include "store/store.h"
#include "sync/imap_sync.h"
#include "sync/sync_once.h"

struct daemon_acct {
	struct daemon_loop *d;
	const struct cfg_account *acct;
	struct daemon_acct_status *st;
	struct net_tls_ctx *tls_ctx;
	struct imap_sync *sync;		/* while SYNCING */
	uv_timer_t timer;		/* the next pass */
	bool has_timer;
	/* The Maildir mirror (account maildir set): scanned before each
	 * pass, exported after it, watched in between. */
	struct mirror_params mp;
	char ns_prefix[STORE_NS_PREFIX_MAX + 1];	/* mp.ns_prefix */
	struct maildir_report rep;
	struct mirror_watch *watch;
	bool is_mirror_changed;		/* a reader changed it mid-pass */
	struct mirror_job *export;	/* the export ending a pass */
	struct imap_sync_summary sum;	/* of that pass, while exporting */
};

/* Reader changes are scanned this long after a burst of them. */
#define DAEMON_MIRROR_DELAY_MS 500

struct daemon_loop {
	const struct cfg *cfg;
	uv_loop_t loop;
	bool has_loop;
	struct store *store;
	struct daemon_acct *accts;
	struct daemon_acct_status *status;
	size_t n;
	unsigned running;		/* passes not yet reported */
	uv_signal_t sigint, sigterm, sighup;
	bool has_signals;
	/* READY=1 on the first tick, WATCHDOG=1 on every tick when the
	 * watchdog is on. */
	uv_timer_t notify_timer;
	bool has_notify_timer;
	uint64_t watchdog_ms;		/* 0: no watchdog */
	int notify_fd;			/* -1: not under systemd */
	struct sockaddr_un notify_addr;
	socklen_t notify_addr_len;
	bool is_ready_sent;
	bool is_stopping;
	bool is_closed;
};

/* --- the decision ------------------------------------------------------- */

enum daemon_fail_class
daemon_fail_classify(int rc)
{
	switch (rc) {
	case MS_OK:
		return DAEMON_FAIL_NONE;
	case MS_ECONN:
	case MS_ETIMEDOUT:
	case MS_ETLS:
	case MS_EIO:		/* password_cmd / oauth_token_cmd failed */
	case MS_EPROTO:
		return DAEMON_FAIL_CONN;
	case MS_EAUTH:
		return DAEMON_FAIL_AUTH;
	case MS_ECANCELED:
		return DAEMON_FAIL_STOPPED;
	default:
		return DAEMON_FAIL_OTHER;
	}
}

void
daemon_next_after_pass(struct backoff *b, int rc, unsigned poll_interval_s,
		       uint64_t now_ms, uint32_t rnd,
		       struct daemon_next *next_r)
{
	uint64_t poll_ms = (uint64_t)poll_interval_s * 1000u;

	switch (daemon_fail_classify(rc)) {
	case DAEMON_FAIL_NONE:
		backoff_reset(b);
		next_r->state = DAEMON_ACCT_IDLE;
		next_r->delay_ms = poll_ms;
		next_r->is_error = false;
		return;
	case DAEMON_FAIL_CONN:
	case DAEMON_FAIL_AUTH:
		next_r->state = DAEMON_ACCT_BACKOFF;
		next_r->delay_ms = backoff_fail(b, now_ms, rnd);
		/* A refused login needs the user; a network fault does not. */
		next_r->is_error = rc == MS_EAUTH;
		return;
	case DAEMON_FAIL_OTHER:
	case DAEMON_FAIL_STOPPED:
		break;
	}
	next_r->state = DAEMON_ACCT_ERROR;
	next_r->delay_ms = poll_ms;
	next_r->is_error = true;
}

const char *
daemon_acct_state_name(enum daemon_acct_state state)
{
	switch (state) {
	case DAEMON_ACCT_IDLE: return "idle";
	case DAEMON_ACCT_SYNCING: return "syncing";
	case DAEMON_ACCT_BACKOFF: return "backoff";
	case DAEMON_ACCT_ERROR: return "error";
	case DAEMON_ACCT_DISABLED: return "disabled";
	}
	return "?";
}

/* --- small helpers ------------------------------------------------------ */

static uint64_t
daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The jitter: from the kernel's random source, so that many clients that
 * lost the same server do not come back in step. */
static uint32_t
daemon_random(void)
{
	uint32_t r;
	int rc;

	if ((rc = uv_random(NULL, NULL, &r, sizeof(r), 0, NULL)) == 0)
		return r;
	log_warn("uv_random: %s; using the clock for the backoff jitter",
		 uv_strerror(rc));
	return (uint32_t)uv_hrtime();
}

/* Copies s into out for a reason="..." field, so that the log line stays
 * one line that splits on its quotes: a double quote becomes a single
 * one, a control character a space. */
static const char *
daemon_quote(const char *s, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = c == '"' ? '\'' : c < 0x20 || c == 0x7f ? ' ' :
			 (char)c;
	}
	out[i] = '\0';
	return out;
}

/* --- systemd notification ---------------------------------------------- */

/*
 * sd_notify(3) without libsystemd: one datagram per message to the
 * AF_UNIX socket named by NOTIFY_SOCKET; a leading '@' names an abstract
 * socket.  The variables are removed from the environment so that
 * password_cmd and other children do not talk to systemd as us.
 */
static void
daemon_notify_open(struct daemon_loop *d)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wd_pid = getenv("WATCHDOG_PID");
	size_t len;

	d->notify_fd = -1;
	if (wd != NULL && (wd_pid == NULL ||
			   strtol(wd_pid, NULL, 10) == (long)getpid())) {
		char *end;
		unsigned long long usec;

		errno = 0;
		usec = strtoull(wd, &end, 10);
		if (errno == 0 && end != wd && *end == '\0' && usec > 0)
			d->watchdog_ms = usec / 2000u > 0 ? usec / 2000u : 1;
		else
			log_warn("WATCHDOG_USEC=%s is not a number of "
				 "microseconds; no watchdog pings", wd);
	}
	if (path == NULL || path[0] == '\0') {
		d->watchdog_ms = 0;
		goto out;
	}
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(d->notify_addr.sun_path)) {
		log_warn("NOTIFY_SOCKET=%s: not a socket path or abstract "
			 "name; not notifying systemd", path);
		d->watchdog_ms = 0;
		goto out;
	}
	memset(&d->notify_addr, 0, sizeof(d->notify_addr));
	d->notify_addr.sun_family = AF_UNIX;
	memcpy(d->notify_addr.sun_path, path, len);
	if (path[0] == '@')
		d->notify_addr.sun_path[0] = '\0';
	d->notify_addr_len = (socklen_t)(offsetof(struct sockaddr_un,
						  sun_path) + len);
	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (d->notify_fd < 0) {
		log_warn_errno(errno, "NOTIFY_SOCKET: socket");
		d->watchdog_ms = 0;
	}
out:
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void
daemon_notify(struct daemon_loop *d, const char *msg)
{
	if (d->notify_fd < 0)
		return;
	if (sendto(d->notify_fd, msg, strlen(msg), MSG_NOSIGNAL,
		   (const struct sockaddr *)&d->notify_addr,
		   d->notify_addr_len) < 0)
		log_debug("sd_notify %.*s: %s", (int)strcspn(msg, "\n"), msg,
			  strerror(errno));
}

/* STATUS= with every account's state, for systemctl status. */
static void
daemon_notify_status(struct daemon_loop *d)
{
	char msg[1024];
	size_t pos;
	int n;

	if (d->notify_fd < 0)
		return;
	pos = (size_t)snprintf(msg, sizeof(msg), "STATUS=");
	for (size_t i = 0; i < d->n && pos < sizeof(msg); i++) {
		const struct daemon_acct_status *st = &d->status[i];

		n = snprintf(msg + pos, sizeof(msg) - pos, "%s%s: %s",
			     i > 0 ? "; " : "", st->name,
			     daemon_acct_state_name(st->state));
		if (n < 0)
			break;
		pos += (size_t)n;
		if (st->state == DAEMON_ACCT_BACKOFF && pos < sizeof(msg)) {
			n = snprintf(msg + pos, sizeof(msg) - pos,
				     " (attempt %u)", st->backoff.attempt);
			if (n > 0)
				pos += (size_t)n;
		}
	}
	if (d->n == 0)
		snprintf(msg, sizeof(msg), "STATUS=no accounts to sync");
	daemon_notify(d, msg);
}

static void
daemon_on_notify_timer(uv_timer_t *t)
{
	struct daemon_loop *d = t->data;

	if (!d->is_ready_sent) {
		/* There is no control socket yet (DESIGN.md wants READY=1
		 * when it listens): ready means the loop runs and every
		 * account's first pass is scheduled. */
		daemon_notify(d, "READY=1");
		daemon_notify_status(d);
		d->is_ready_sent = true;
	}
	if (d->watchdog_ms > 0)
		daemon_notify(d, "WATCHDOG=1");
}

/* --- accounts ------------------------------------------------------------ */

static void daemon_acct_start(struct daemon_acct *a);
static void daemon_close_all(struct daemon_loop *d);

static void
daemon_on_acct_timer(uv_timer_t *t)
{
	struct daemon_acct *a = t->data;

	if (!a->d->is_stopping)
		daemon_acct_start(a);
}

static void
daemon_acct_schedule(struct daemon_acct *a, uint64_t delay_ms)
{
	a->st->next_ms = daemon_now_ms() + delay_ms;
	uv_timer_start(&a->timer, daemon_on_acct_timer, delay_ms, 0);
}

/* A pass ended (or could not start) with rc: the next state. */
static void
daemon_acct_after_pass(struct daemon_acct *a, int rc, const char *error,
		       const struct imap_sync_summary *sum)
{
	struct daemon_acct_status *st = a->st;
	const char *name = a->acct->name;
	unsigned failed_attempts = st->backoff.attempt;
	struct daemon_next next;
	uint64_t now = daemon_now_ms();
	char reason[sizeof(st->last_error)];
	char recovered[64] = "";

	st->passes++;
	st->last_rc = rc;
	snprintf(st->last_error, sizeof(st->last_error), "%s",
		 rc < 0 ? error : "");
	if (rc == MS_ECANCELED || a->d->is_stopping) {
		/* Stopping: no next pass; the state says what we last knew. */
		st->state = DAEMON_ACCT_IDLE;
		st->next_ms = 0;
		log_info("acct=%s state=stopped", name);
		return;
	}
	daemon_next_after_pass(&st->backoff, rc, a->acct->poll_interval, now,
			       daemon_random(), &next);
	st->state = next.state;
	daemon_quote(st->last_error, reason, sizeof(reason));
	switch (next.state) {
	case DAEMON_ACCT_IDLE:
		st->last_sync_ms = now;
		if (failed_attempts > 0)
			snprintf(recovered, sizeof(recovered),
				 " backoff=reset failed_attempts=%u",
				 failed_attempts);
		if (sum != NULL)
			log_info("acct=%s state=idle next_sync_in=%llus "
				 "folders=%u new=%llu changed=%llu "
				 "deleted=%llu appended=%llu moved=%llu "
				 "folder_errors=%u seconds=%.1f%s", name,
				 (unsigned long long)(next.delay_ms / 1000u),
				 sum->folders,
				 (unsigned long long)sum->new_msgs,
				 (unsigned long long)sum->changed,
				 (unsigned long long)sum->deleted,
				 (unsigned long long)sum->appended,
				 (unsigned long long)sum->moved,
				 sum->folder_errors, sum->seconds,
				 recovered);
		break;
	case DAEMON_ACCT_BACKOFF:
		if (next.is_error)
			log_err("acct=%s state=backoff retry_in=%.1fs "
				"attempt=%u reason=\"%s\"", name,
				(double)next.delay_ms / 1000.0,
				st->backoff.attempt, reason);
		else
			log_warn("acct=%s state=backoff retry_in=%.1fs "
				 "attempt=%u reason=\"%s\"", name,
				 (double)next.delay_ms / 1000.0,
				 st->backoff.attempt, reason);
		break;
	case DAEMON_ACCT_ERROR:
		log_err("acct=%s state=error next_sync_in=%llus reason=\"%s\"",
			name, (unsigned long long)(next.delay_ms / 1000u),
			reason);
		break;
	case DAEMON_ACCT_SYNCING:
	case DAEMON_ACCT_DISABLED:
		break;
	}
	daemon_acct_schedule(a, next.delay_ms);
	daemon_notify_status(a->d);
}

static void
daemon_mirror_report(const char *path, const char *why, void *arg)
{
	struct daemon_acct *a = arg;

	log_warn("acct=%s mirror %s: %s, left alone", a->acct->name, path, why);
}

/* The watch committed a reader's change: push it with a pass now. */
static void
daemon_on_mirror_change(struct mirror_watch *w, int rc,
			const struct mirror_stats *st, const struct ms_err *err,
			void *arg)
{
	struct daemon_acct *a = arg;

	(void)w;
	(void)st;
	(void)err;
	if (rc < 0 || a->d->is_stopping)
		return;
	if (a->st->state == DAEMON_ACCT_SYNCING) {
		a->is_mirror_changed = true;
		return;
	}
	if (a->st->state == DAEMON_ACCT_IDLE) {
		log_info("acct=%s mirror changed by a reader: syncing now",
			 a->acct->name);
		daemon_acct_schedule(a, 0);
	}
}

/*
 * Around a pass: the scan before it turns reader changes into pending
 * changes that the pass pushes; the export after it makes the mirror show
 * the store, and then the watch starts (the tree exists now).  The watch
 * is paused from the scan until the export is done, so that no scan
 * meets the pass's batches or the export's steps; what readers do
 * meanwhile is scanned when it resumes.
 */
/*
 * The personal namespace prefix the mirror strips, as the last pass
 * learned it (NAMESPACE); read again before every scan and export, since
 * a pass may have learned it since.
 */
static void
daemon_acct_ns(struct daemon_acct *a)
{
	struct ms_err err = { 0 };
	int rc = store_account_ns_get(a->d->store, a->acct->name, a->ns_prefix,
				      sizeof(a->ns_prefix), &err);

	if (rc == STORE_NOTFOUND)
		a->ns_prefix[0] = '\0';
	else if (rc < 0)
		log_warn("acct=%s mirror: namespace prefix: %s (keeping \"%s\")",
			 a->acct->name, err.msg, a->ns_prefix);
}

static void
daemon_acct_scan(struct daemon_acct *a)
{
	struct mirror_stats st = { 0 };
	struct ms_err err = { 0 };

	if (a->acct->maildir == NULL)
		return;
	mirror_watch_pause(a->watch);
	daemon_acct_ns(a);
	if (mirror_scan(a->d->store, &a->mp, &st, &err) < 0)
		log_err("acct=%s mirror scan %s: %s", a->acct->name,
			a->acct->maildir, err.msg);
}

/* The pass (and its export) is over: the next one is scheduled. */
static void
daemon_acct_pass_end(struct daemon_acct *a)
{
	struct daemon_loop *d = a->d;

	daemon_acct_after_pass(a, a->sum.rc, a->sum.error, &a->sum);
	if (a->is_mirror_changed && a->st->state == DAEMON_ACCT_IDLE &&
	    !d->is_stopping)
		daemon_acct_schedule(a, 0);
	a->is_mirror_changed = false;
	d->running--;
	if (d->is_stopping && d->running == 0)
		daemon_close_all(d);
}

static void
daemon_on_export_done(struct mirror_job *j, int rc,
		      const struct mirror_stats *st, const struct ms_err *err,
		      void *arg)
{
	struct daemon_acct *a = arg;
	struct ms_err werr = { 0 };

	(void)j;
	a->export = NULL;
	if (rc < 0 && rc != MS_ECANCELED)
		log_err("acct=%s mirror export %s: %s", a->acct->name,
			a->acct->maildir, err->msg);
	else if (rc == MS_OK)
		log_debug("acct=%s mirror export written=%llu renamed=%llu "
			  "removed=%llu adopted=%llu", a->acct->name,
			  (unsigned long long)st->written,
			  (unsigned long long)st->renamed,
			  (unsigned long long)st->removed,
			  (unsigned long long)st->adopted);
	/* Adopting the server's copy of a reader's new message turns the
	 * file's letters into pending flag changes: push them now. */
	if (rc == MS_OK && st->flag_changes > 0)
		a->is_mirror_changed = true;
	if (!a->d->is_stopping) {
		if (a->watch == NULL && rc == MS_OK) {
			a->watch = mirror_watch_new(&a->d->loop, a->d->store,
						    &a->mp, DAEMON_MIRROR_DELAY_MS,
						    daemon_on_mirror_change, a,
						    &werr);
			if (a->watch == NULL)
				log_warn("acct=%s mirror watch: %s (reader "
					 "changes wait for the next pass)",
					 a->acct->name, werr.msg);
		}
		mirror_watch_resume(a->watch);
	}
	daemon_acct_pass_end(a);
}

static void
daemon_acct_on_done(struct imap_sync *sync,
		    const struct imap_sync_summary *sum, void *arg)
{
	struct daemon_acct *a = arg;
	struct ms_err err = { 0 };

	(void)sync;
	a->sum = *sum;
	imap_sync_free(&a->sync);
	if (a->acct->maildir != NULL && !a->d->is_stopping) {
		daemon_acct_ns(a);
		a->export = mirror_job_start(&a->d->loop, a->d->store, &a->mp,
					     0, daemon_on_export_done, a, &err);
		if (a->export != NULL)
			return;		/* the pass ends with the export */
		log_err("acct=%s mirror export %s: %s", a->acct->name,
			a->acct->maildir, err.msg);
		mirror_watch_resume(a->watch);
	}
	daemon_acct_pass_end(a);
}

static void
daemon_acct_start(struct daemon_acct *a)
{
	struct imap_sync_params p = {
		.loop = &a->d->loop,
		.store = a->d->store,
		.account = a->acct,
		.tls_ctx = a->tls_ctx,
		.on_done_cb = daemon_acct_on_done,
		.arg = a,
	};
	struct ms_err err = { 0 };
	int rc;

	a->st->state = DAEMON_ACCT_SYNCING;
	a->st->next_ms = 0;
	a->st->last_attempt_ms = daemon_now_ms();
	log_debug("acct=%s state=syncing", a->acct->name);
	daemon_acct_scan(a);
	if ((rc = imap_sync_start(&p, &a->sync, &err)) < 0) {
		daemon_acct_after_pass(a, rc, err.msg[0] != '\0' ? err.msg :
				       ms_strerror(rc), NULL);
		return;
	}
	a->d->running++;
	daemon_notify_status(a->d);
}

/* --- stopping ------------------------------------------------------------ */

static void
daemon_close_handle(uv_handle_t *h, bool *has)
{
	if (*has && !uv_is_closing(h))
		uv_close(h, NULL);
	*has = false;
}

static void
daemon_close_all(struct daemon_loop *d)
{
	if (d->is_closed)
		return;
	d->is_closed = true;
	for (size_t i = 0; i < d->n; i++) {
		daemon_close_handle((uv_handle_t *)&d->accts[i].timer,
				    &d->accts[i].has_timer);
		mirror_watch_close(d->accts[i].watch);
		d->accts[i].watch = NULL;
	}
	if (d->has_signals) {
		bool has = true;

		daemon_close_handle((uv_handle_t *)&d->sigint, &has);
		has = true;
		daemon_close_handle((uv_handle_t *)&d->sigterm, &has);
		has = true;
		daemon_close_handle((uv_handle_t *)&d->sighup, &has);
		d->has_signals = false;
	}
	daemon_close_handle((uv_handle_t *)&d->notify_timer,
			    &d->has_notify_timer);
}

static void
daemon_on_signal(uv_signal_t *h, int signum)
{
	struct daemon_loop *d = h->data;

	if (signum == SIGHUP) {
		log_warn("signal %d (SIGHUP): reload is not implemented yet; "
			 "restart mailsyncd to read a changed configuration",
			 signum);
		return;
	}
	if (d->is_stopping) {
		log_err("signal %d while stopping: exiting now", signum);
		_exit(1);
	}
	log_info("signal %d: finishing the current transactions and exiting",
		 signum);
	d->is_stopping = true;
	daemon_notify(d, "STOPPING=1");
	for (size_t i = 0; i < d->n; i++)
		if (d->accts[i].has_timer)
			uv_timer_stop(&d->accts[i].timer);
	if (d->has_notify_timer)
		uv_timer_stop(&d->notify_timer);
	/* imap_sync_stop() may report at once, freeing the sync; an export
	 * reports from the loop. */
	for (size_t i = 0; i < d->n; i++) {
		if (d->accts[i].sync != NULL)
			imap_sync_stop(d->accts[i].sync);
		mirror_job_cancel(d->accts[i].export);
	}
	if (d->running == 0)
		daemon_close_all(d);
}

/* --- public -------------------------------------------------------------- */

const struct daemon_acct_status *
daemon_loop_status(const struct daemon_loop *d, size_t *n_r)
{
	*n_r = d->n;
	return d->status;
}

int
daemon_loop_new(const struct cfg *cfg, struct daemon_loop **d_r,
		struct ms_err *err_r)
{
	struct store_params sp = { .dir = cfg->store };
	struct ms_err tls_err = { 0 };
	struct daemon_loop *d;
	size_t n = cfg->n_accounts;
	int rc;

	*d_r = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	d->cfg = cfg;
	d->notify_fd = -1;
	d->accts = calloc(n ? n : 1, sizeof(*d->accts));
	d->status = calloc(n ? n : 1, sizeof(*d->status));
	if (d->accts == NULL || d->status == NULL) {
		rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = uv_loop_init(&d->loop)) < 0) {
		rc = ms_err_set(err_r, MS_EINTERNAL, "uv_loop_init: %s",
				uv_strerror(rc));
		goto fail;
	}
	d->has_loop = true;
	if ((rc = store_open(&d->store, &sp, err_r)) < 0)
		goto fail;
	d->n = n;
	for (size_t i = 0; i < n; i++) {
		struct daemon_acct *a = &d->accts[i];
		const struct cfg_account *c = &cfg->accounts[i];

		a->d = d;
		a->acct = c;
		a->st = &d->status[i];
		a->st->name = c->name;
		a->mp.account = c->name;
		a->mp.root = c->maildir;
		a->mp.ns_prefix = a->ns_prefix;
		a->mp.rep = &a->rep;
		a->mp.folders = c->folders.v;
		a->mp.nfolders = c->folders.n;
		maildir_report_init(&a->rep, daemon_mirror_report, a);
		backoff_init(&a->st->backoff);
		uv_timer_init(&d->loop, &a->timer);
		a->timer.data = a;
		a->has_timer = true;
		if (c->protocol != CFG_PROTOCOL_IMAP) {
			a->st->state = DAEMON_ACCT_DISABLED;
			a->st->last_rc = MS_EIMPL;
			snprintf(a->st->last_error,
				 sizeof(a->st->last_error),
				 "POP3 is not implemented yet");
			continue;
		}
		/* One context for the daemon's life: sessions resume. */
		if ((rc = sync_tls_ctx_new(c, &a->tls_ctx, &tls_err)) < 0) {
			rc = ms_err_set(err_r, rc, "account %s: %s", c->name,
					tls_err.msg[0] != '\0' ? tls_err.msg :
					ms_strerror(rc));
			goto fail;
		}
	}
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sighup);
	d->sigint.data = d->sigterm.data = d->sighup.data = d;
	d->has_signals = true;
	uv_timer_init(&d->loop, &d->notify_timer);
	d->notify_timer.data = d;
	d->has_notify_timer = true;
	*d_r = d;
	return MS_OK;
fail:
	daemon_loop_free(&d);
	return rc;
}

int
daemon_loop_run(struct daemon_loop *d)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };
	unsigned n_imap = 0;

	/* A peer that closes while we write must be an error on that
	 * connection, not the end of the daemon. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	daemon_notify_open(d);
	uv_signal_start(&d->sigint, daemon_on_signal, SIGINT);
	uv_signal_start(&d->sigterm, daemon_on_signal, SIGTERM);
	uv_signal_start(&d->sighup, daemon_on_signal, SIGHUP);
	for (size_t i = 0; i < d->n; i++) {
		struct daemon_acct *a = &d->accts[i];

		if (a->st->state == DAEMON_ACCT_DISABLED) {
			log_warn("acct=%s state=disabled reason=\"POP3 is not "
				 "implemented yet; skipping this account\"",
				 a->acct->name);
			continue;
		}
		n_imap++;
		daemon_acct_schedule(a, 0);
	}
	log_info("mailsyncd running: %u IMAP account%s, store %s%s", n_imap,
		 n_imap == 1 ? "" : "s", d->cfg->store,
		 d->notify_fd >= 0 ? ", notifying systemd" : "");
	if (n_imap == 0)
		log_warn("no IMAP account to sync; waiting for a signal");
	uv_timer_start(&d->notify_timer, daemon_on_notify_timer, 0,
		       d->watchdog_ms);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	log_info("mailsyncd stopped");
	return 0;
}

void
daemon_loop_free(struct daemon_loop **dp)
{
	struct daemon_loop *d = *dp;
	int rc;

	if (d == NULL)
		return;
	*dp = NULL;
	if (d->has_loop) {
		d->is_stopping = true;
		for (size_t i = 0; i < d->n; i++) {
			if (d->accts[i].sync != NULL)
				imap_sync_stop(d->accts[i].sync);
			mirror_job_cancel(d->accts[i].export);
		}
		daemon_close_all(d);
		/* Runs the close callbacks (and any pass's last steps). */
		uv_run(&d->loop, UV_RUN_DEFAULT);
		if ((rc = uv_loop_close(&d->loop)) < 0)
			log_err("closing the event loop: %s", uv_strerror(rc));
	}
	for (size_t i = 0; i < d->n; i++) {
		imap_sync_free(&d->accts[i].sync);
		net_tls_ctx_unref(&d->accts[i].tls_ctx);
		maildir_report_deinit(&d->accts[i].rep);
	}
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	store_close(&d->store);
	free(d->accts);
	free(d->status);
	free(d);
}
