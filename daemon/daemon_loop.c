/*
 * daemon_loop.c - the orchestration of both modes (daemon_loop.h).
 *
 * Everything about a single account (its passes, schedule, backoff,
 * mirror, connection) is its runtime's (acct/acct.h); this file only
 * starts the runtimes, relays signals to them, tells systemd how they
 * are, and ends the loop when the last one has stopped.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "daemon_loop.h"
#include "log.h"
#include "sd_notify.h"
#include "send/send_import.h"
#include "send/send_queue.h"
#include "store/store.h"

struct daemon_loop {
	const struct cfg *cfg;
	struct daemon_opts opts;
	uv_loop_t loop;
	bool has_loop;
	struct store *store;
	struct acct **accts;
	size_t n;
	/* The senders (send/send_queue.h) of the accounts with smtp_host,
	 * and the watch on the spool `mailsyncctl send` writes. */
	struct send_queue **queues;
	size_t n_queues;
	uv_fs_event_t spool_watch;
	bool has_spool_watch;
	uv_signal_t sigint, sigterm, sighup;
	bool has_signals;
	/* READY=1 on the first tick, WATCHDOG=1 on every tick when the
	 * watchdog is on. */
	uv_timer_t notify_timer;
	bool has_notify_timer;
	struct sd_notifier notifier;
	bool is_ready_sent;
	bool is_stopping;
	bool is_closed;
};

/* --- systemd ------------------------------------------------------------ */

/* STATUS= with every account's state, for systemctl status. */
static void
daemon_notify_status(struct daemon_loop *d)
{
	char msg[1024];
	size_t pos;
	int n;

	if (!sd_notifier_is_on(&d->notifier))
		return;
	pos = (size_t)snprintf(msg, sizeof(msg), "STATUS=");
	for (size_t i = 0; i < d->n && pos < sizeof(msg); i++) {
		const struct acct_status *st = acct_status(d->accts[i]);

		n = snprintf(msg + pos, sizeof(msg) - pos, "%s%s: %s",
			     i > 0 ? "; " : "", st->name,
			     acct_state_name(st->state));
		if (n < 0)
			break;
		pos += (size_t)n;
		if ((st->state == ACCT_BACKOFF || st->state == ACCT_OFFLINE) &&
		    pos < sizeof(msg)) {
			n = snprintf(msg + pos, sizeof(msg) - pos,
				     " (attempt %u)",
				     st->sched.backoff.attempt);
			if (n > 0)
				pos += (size_t)n;
		}
	}
	if (d->n == 0)
		snprintf(msg, sizeof(msg), "STATUS=no accounts to sync");
	sd_notifier_send(&d->notifier, msg);
}

static void
daemon_on_notify_timer(uv_timer_t *t)
{
	struct daemon_loop *d = t->data;

	if (!d->is_ready_sent) {
		/* There is no control socket yet (DESIGN.md wants READY=1
		 * when it listens): ready means the loop runs and every
		 * account's first pass is under way. */
		sd_notifier_send(&d->notifier, "READY=1");
		daemon_notify_status(d);
		d->is_ready_sent = true;
	}
	if (d->notifier.watchdog_ms > 0)
		sd_notifier_send(&d->notifier, "WATCHDOG=1");
}

/* --- the end ------------------------------------------------------------- */

static void
daemon_close_handle(uv_handle_t *h, bool *has)
{
	if (*has && !uv_is_closing(h))
		uv_close(h, NULL);
	*has = false;
}

/* Every runtime has stopped: the loop's own handles go, uv_run returns. */
static void
daemon_close_all(struct daemon_loop *d)
{
	if (d->is_closed)
		return;
	d->is_closed = true;
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
	daemon_close_handle((uv_handle_t *)&d->spool_watch,
			    &d->has_spool_watch);
}

static bool
daemon_all_stopped(const struct daemon_loop *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (!acct_is_stopped(d->accts[i]))
			return false;
	for (size_t i = 0; i < d->n_queues; i++)
		if (!send_queue_is_stopped(d->queues[i]))
			return false;
	return true;
}

static void
daemon_on_queue_stopped(struct send_queue *q, void *arg)
{
	struct daemon_loop *d = arg;

	(void)q;
	if (daemon_all_stopped(d))
		daemon_close_all(d);
}

/* A server answered: the network is back for any sender offline. */
static void
daemon_wake_offline_senders(struct daemon_loop *d)
{
	for (size_t i = 0; i < d->n_queues; i++) {
		const struct send_queue_report *r =
			send_queue_report(d->queues[i]);

		if (r->rc < 0 && !r->is_reached)
			send_queue_wake(d->queues[i]);
	}
}

/* An account's Sent copies wait while its own pass runs (send_queue.h). */
static void
daemon_hold_copies(struct daemon_loop *d, struct acct *a)
{
	bool is_syncing = acct_status(a)->state == ACCT_SYNCING;

	for (size_t i = 0; i < d->n_queues; i++)
		if (strcmp(send_queue_name(d->queues[i]), acct_name(a)) == 0)
			send_queue_hold_copies(d->queues[i], is_syncing);
}

static void
daemon_on_acct_event(struct acct *a, enum acct_event ev, void *arg)
{
	struct daemon_loop *d = arg;

	if (ev == ACCT_EV_PASS_DONE && acct_status(a)->last.is_reached)
		daemon_wake_offline_senders(d);
	if (ev == ACCT_EV_STATE)
		daemon_hold_copies(d, a);
	if (ev != ACCT_EV_STATE)
		return;
	if (!d->opts.is_once)
		daemon_notify_status(d);
	if (daemon_all_stopped(d))
		daemon_close_all(d);
}

static void
daemon_stop(struct daemon_loop *d)
{
	d->is_stopping = true;
	if (d->has_notify_timer)
		uv_timer_stop(&d->notify_timer);
	for (size_t i = 0; i < d->n; i++)
		acct_stop(d->accts[i]);
	for (size_t i = 0; i < d->n_queues; i++)
		send_queue_stop(d->queues[i]);
	if (d->has_spool_watch)
		uv_fs_event_stop(&d->spool_watch);
	if (daemon_all_stopped(d))
		daemon_close_all(d);
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
	sd_notifier_send(&d->notifier, "STOPPING=1");
	daemon_stop(d);
}

/* --- --once's summary ------------------------------------------------------ */

/* A line of --once's summary on errout: reasons carry server texts, which
 * are escaped as in the log. */
static void
daemon_once_error(FILE *errout, const char *name, const char *what)
{
	char safe[4 * 300];

	fprintf(errout, "mailsyncd: %s: %s\n", name,
		log_escape(what, strlen(what), safe, sizeof(safe)));
}

/*
 * The outbox's part of --once: a line per sender that had work on out,
 * one per problem on errout.  Returns 1 for a permanent failure (a
 * refused message or recipient, a session the server refused), 75 when
 * mail stays queued for a retry, else 0.
 */
static int
daemon_once_send_report(const struct daemon_loop *d)
{
	FILE *out = d->opts.out, *errout = d->opts.errout;
	bool is_failed = false, is_queued = false;
	char line[600];

	for (size_t i = 0; i < d->n_queues; i++) {
		const struct send_queue_report *r =
			send_queue_report(d->queues[i]);
		const char *name = send_queue_name(d->queues[i]);

		if (r->sent + r->failed + r->queued > 0)
			fprintf(out, "%s: outbox: %u sent, %u failed, %u "
				"queued%s\n", name, r->sent, r->failed,
				r->queued, r->possibly_sent > 0 ?
				" (some possibly sent already)" : "");
		if (r->rc < 0) {
			snprintf(line, sizeof(line), "sending: %s%s", r->error,
				 r->is_reached ? "" : " (mail stays queued)");
			daemon_once_error(errout, name, line);
			is_failed |= r->is_reached;
		}
		if (r->failed > 0 || r->rejected > 0) {
			snprintf(line, sizeof(line), "%u message%s failed, %u "
				 "recipient%s refused; kept in the outbox: %s",
				 r->failed, r->failed == 1 ? "" : "s",
				 r->rejected, r->rejected == 1 ? "" : "s",
				 r->failed_text);
			daemon_once_error(errout, name, line);
			is_failed = true;
		}
		if (r->sent_copies_pending > 0) {
			snprintf(line, sizeof(line), "%u Sent cop%s not filed "
				 "yet (tried again next time)",
				 r->sent_copies_pending,
				 r->sent_copies_pending == 1 ? "y" : "ies");
			daemon_once_error(errout, name, line);
			is_queued = true;
		}
		is_queued |= r->queued > 0;
	}
	return is_failed ? 1 : is_queued ? 75 : 0;
}

/* One line per account on out when it synced, one per problem on errout;
 * 0 when every account succeeded, else 1; 75 when only outgoing mail
 * stays queued. */
static int
daemon_once_report(const struct daemon_loop *d)
{
	FILE *out = d->opts.out, *errout = d->opts.errout;
	int status = 0, send_status;

	for (size_t i = 0; i < d->n; i++) {
		const struct acct_status *st = acct_status(d->accts[i]);
		const struct acct_result *r = &st->last;

		if (st->passes == 0) {
			daemon_once_error(errout, st->name,
					  st->reason[0] != '\0' ? st->reason :
					  "interrupted before its pass");
			status = 1;
			continue;
		}
		if (r->rc == MS_OK)
			fprintf(out, "%s: %u folder%s, %llu new, %llu changed, "
				"%llu deleted, %llu appended, %llu moved, "
				"%.1f MB, %.1f s\n", st->name, r->folders,
				r->folders == 1 ? "" : "s",
				(unsigned long long)r->new_msgs,
				(unsigned long long)r->changed,
				(unsigned long long)r->deleted,
				(unsigned long long)r->appended,
				(unsigned long long)r->moved,
				(double)r->bytes / 1e6, r->seconds);
		if (r->rc != MS_OK) {
			daemon_once_error(errout, st->name, r->error);
			status = 1;
		} else if (r->folder_errors > 0) {
			fprintf(errout, "mailsyncd: %s: %u folder%s failed "
				"(see the log)\n", st->name, r->folder_errors,
				r->folder_errors == 1 ? "" : "s");
			status = 1;
		}
		if (st->mirror_error[0] != '\0') {
			daemon_once_error(errout, st->name, st->mirror_error);
			status = 1;
		}
		/* Kept local, not lost, but not synced either: a script
		 * must see it. */
		if (r->refused > 0) {
			fprintf(errout, "mailsyncd: %s: %llu local message%s "
				"refused by the server (see the log)\n",
				st->name, (unsigned long long)r->refused,
				r->refused == 1 ? "" : "s");
			status = 1;
		}
		if (r->unsendable > 0) {
			fprintf(errout, "mailsyncd: %s: %llu local message%s "
				"not sent: NUL bytes need BINARY, which the "
				"server lacks (see the log)\n", st->name,
				(unsigned long long)r->unsendable,
				r->unsendable == 1 ? "" : "s");
			status = 1;
		}
	}
	send_status = daemon_once_send_report(d);
	if (status == 0)
		status = send_status;
	fflush(out);
	return status;
}

/* --- the send spool -------------------------------------------------------- */

/* Takes what `mailsyncctl send` left in the spool into the outbox.
 * Returns the number of messages queued. */
static size_t
daemon_import_spool(struct daemon_loop *d)
{
	struct ms_err err = { 0 };
	size_t n = 0;

	if (d->cfg->spool == NULL)
		return 0;
	if (send_import_run(d->store, d->cfg, d->cfg->spool, &n, &err) < 0)
		log_err("send spool %s: %s (the files stay for the next try)",
			d->cfg->spool, err.msg);
	return n;
}

static void
daemon_on_spool_event(uv_fs_event_t *h, const char *name, int events,
		      int status)
{
	struct daemon_loop *d = h->data;

	(void)name;
	(void)events;
	if (status < 0) {
		log_warn("send spool watch: %s", uv_strerror(status));
		return;
	}
	if (d->is_stopping || daemon_import_spool(d) == 0)
		return;
	for (size_t i = 0; i < d->n_queues; i++)
		send_queue_wake(d->queues[i]);
}

/* Watches SPOOL/new, creating it (0700) so that the watch has a target
 * before the first message. */
static void
daemon_watch_spool(struct daemon_loop *d)
{
	char path[4200];
	int rc;

	if (d->cfg->spool == NULL || d->n_queues == 0)
		return;
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), i == 0 ? "%s" : i == 1 ?
			 "%s/tmp" : "%s/new", d->cfg->spool);
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			log_warn("send spool: cannot create %s: %s (mail "
				 "queued with mailsyncctl send is taken at "
				 "start only)", path, strerror(errno));
			return;
		}
	}
	uv_fs_event_init(&d->loop, &d->spool_watch);
	d->spool_watch.data = d;
	d->has_spool_watch = true;
	if ((rc = uv_fs_event_start(&d->spool_watch, daemon_on_spool_event,
				    path, 0)) < 0)
		log_warn("send spool: cannot watch %s: %s (mail queued with "
			 "mailsyncctl send is taken at start only)", path,
			 uv_strerror(rc));
}

/* --- public ---------------------------------------------------------------- */

static bool
daemon_is_named(const struct daemon_opts *o, const char *name)
{
	if (o->n_names == 0)
		return true;
	for (size_t i = 0; i < o->n_names; i++)
		if (strcmp(o->names[i], name) == 0)
			return true;
	return false;
}

size_t
daemon_loop_n_accounts(const struct daemon_loop *d)
{
	return d->n;
}

struct acct *
daemon_loop_account(struct daemon_loop *d, size_t i)
{
	return i < d->n ? d->accts[i] : NULL;
}

int
daemon_loop_new(const struct cfg *cfg, const struct daemon_opts *opts,
		struct daemon_loop **d_r, struct ms_err *err_r)
{
	struct store_params sp = { .dir = cfg->store };
	struct daemon_loop *d;
	int rc;

	*d_r = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	d->cfg = cfg;
	d->opts = *opts;
	d->notifier.fd = -1;
	if ((d->accts = calloc(cfg->n_accounts ? cfg->n_accounts : 1,
			       sizeof(*d->accts))) == NULL ||
	    (d->queues = calloc(cfg->n_accounts ? cfg->n_accounts : 1,
				sizeof(*d->queues))) == NULL) {
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
	for (size_t i = 0; i < cfg->n_accounts; i++) {
		const struct cfg_account *c = &cfg->accounts[i];
		struct acct_params ap = {
			.loop = &d->loop,
			.store = d->store,
			.account = c,
			.is_once = opts->is_once,
			.on_event_cb = daemon_on_acct_event,
			.arg = d,
		};
		struct ms_err aerr = { 0 };

		struct send_queue_params qp = {
			.loop = &d->loop,
			.store = d->store,
			.account = c,
			.is_once = opts->is_once,
			.on_stopped_cb = daemon_on_queue_stopped,
			.arg = d,
		};

		if (!daemon_is_named(opts, c->name))
			continue;
		if (c->smtp_host != NULL &&
		    (rc = send_queue_new(&qp, &d->queues[d->n_queues],
					 &aerr)) < 0) {
			rc = ms_err_set(err_r, rc, "account %s: %s", c->name,
					aerr.msg);
			goto fail;
		}
		if (c->smtp_host != NULL)
			d->n_queues++;
		/* A send-only account has no runtime: nothing to sync. */
		if (c->protocol == CFG_PROTOCOL_SMTP)
			continue;
		if ((rc = acct_new(&ap, &d->accts[d->n], &aerr)) < 0) {
			rc = ms_err_set(err_r, rc, "account %s: %s", c->name,
					aerr.msg[0] != '\0' ? aerr.msg :
					ms_strerror(rc));
			goto fail;
		}
		d->n++;
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
	unsigned n_run = 0;

	/* A peer that closes while we write must be an error on that
	 * connection, not the end of the daemon. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	if (!d->opts.is_once)
		sd_notifier_open(&d->notifier);
	uv_signal_start(&d->sigint, daemon_on_signal, SIGINT);
	uv_signal_start(&d->sigterm, daemon_on_signal, SIGTERM);
	if (!d->opts.is_once)
		uv_signal_start(&d->sighup, daemon_on_signal, SIGHUP);
	for (size_t i = 0; i < d->n; i++) {
		acct_start(d->accts[i]);
		if (acct_status(d->accts[i])->state != ACCT_DISABLED)
			n_run++;
	}
	/* Mail queued while the daemon was stopped goes out now. */
	if (d->n_queues > 0)
		daemon_import_spool(d);
	if (!d->opts.is_once)
		daemon_watch_spool(d);
	for (size_t i = 0; i < d->n; i++)
		daemon_hold_copies(d, d->accts[i]);
	for (size_t i = 0; i < d->n_queues; i++)
		send_queue_start(d->queues[i]);
	if (!d->opts.is_once) {
		log_info("mailsyncd running: %u account%s to sync, %zu "
			 "sending, store %s%s", n_run, n_run == 1 ? "" : "s",
			 d->n_queues, d->cfg->store,
			 sd_notifier_is_on(&d->notifier) ?
			 ", notifying systemd" : "");
		if (n_run == 0 && d->n_queues == 0)
			log_warn("no account to sync; waiting for a signal");
		uv_timer_start(&d->notify_timer, daemon_on_notify_timer, 0,
			       d->notifier.watchdog_ms);
	}
	if (daemon_all_stopped(d))
		daemon_close_all(d);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (d->opts.is_once)
		return daemon_once_report(d);
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
		for (size_t i = 0; i < d->n; i++)
			acct_stop(d->accts[i]);
		for (size_t i = 0; i < d->n_queues; i++)
			send_queue_stop(d->queues[i]);
		daemon_close_all(d);
		/* Runs the close callbacks (and any pass's last steps). */
		uv_run(&d->loop, UV_RUN_DEFAULT);
		if ((rc = uv_loop_close(&d->loop)) < 0)
			log_err("closing the event loop: %s", uv_strerror(rc));
	}
	for (size_t i = 0; i < d->n; i++)
		acct_free(&d->accts[i]);
	for (size_t i = 0; i < d->n_queues; i++)
		send_queue_free(&d->queues[i]);
	free(d->queues);
	sd_notifier_close(&d->notifier);
	store_close(&d->store);
	free(d->accts);
	free(d);
}
