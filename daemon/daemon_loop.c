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
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "ctl/ctl_server.h"
#include "daemon_loop.h"
#include "inotify_reader.h"
#include "log.h"
#include "loop_lateness.h"
#include "mime/mime_charset.h"
#include "net/net_change.h"
#include "net/net_watch.h"
#include "progress_report.h"
#include "sd_notify.h"
#include "send/send_import.h"
#include "send/send_queue.h"
#include "store/store.h"

/* A runtime a reload removed or replaced: stopping, freed once stopped;
 * its successor (a changed account's new runtime) starts then. */
struct daemon_retiring {
	struct acct *old;
	struct acct *successor;		/* NULL: the account was removed */
};

struct daemon_loop {
	const struct cfg *cfg;		/* the running configuration */
	struct cfg *own_cfg;		/* cfg when a reload loaded it */
	struct daemon_opts opts;
	uv_loop_t loop;
	bool has_loop;
	struct store *store;
	struct ctl_server *ctl;		/* the control socket; NULL: --once */
	struct progress_report progress;	/* of long passes */
	struct acct **accts;
	size_t n;
	/* The daemon's one inotify instance, for every account's mirror
	 * watch and the spool's (NULL: --once, or none could be made). */
	struct inotify_reader *inotify;
	/* The senders (send/send_queue.h) of the accounts with smtp_host,
	 * and the watch on the spool `mailsyncctl send` writes. */
	struct send_queue **queues;
	size_t n_queues;
	struct inotify_owner spool_watch;
	struct daemon_retiring *retiring;
	size_t n_retiring;
	uv_timer_t reap_timer;		/* frees stopped retiring runtimes */
	bool has_reap_timer;
	uv_signal_t sigint, sigterm, sighup;
	bool has_signals;
	/* READY=1 on the first tick, WATCHDOG=1 on every tick when the
	 * watchdog is on. */
	uv_timer_t notify_timer;
	bool has_notify_timer;
	struct sd_notifier notifier;
	bool is_ready_sent;
	struct loop_lateness lateness;	/* MAILSYNC_LOOP_LATENESS only */
	/* Suspend and resume: both clocks read every ACCT_CLOCK_CHECK_MS
	 * (acct_clock_jumped()). */
	uv_timer_t clock_timer;
	bool has_clock_timer;
	uint64_t clock_mono_ms, clock_wall_ms;
	/* Network changes (addresses, links): reconnect at once. */
	struct net_watch *net_watch;
	uint64_t backoff_max_ms;	/* MAILSYNC_BACKOFF_MAX; 0: default */
	bool is_stopping;
	uv_work_t charset_warm;		/* mime_charset_warm() at start */
	bool is_closed;
};

static void daemon_on_reap(uv_timer_t *t);

/* --- systemd ------------------------------------------------------------ */

/* Appends text to msg at *pos for a STATUS= line: a control character
 * (a newline would start another assignment) becomes a space. */
static void
daemon_status_add(char *msg, size_t size, size_t *pos, const char *text)
{
	for (; *text != '\0' && *pos + 1 < size; text++)
		msg[(*pos)++] = (unsigned char)*text < 0x20 ||
				*text == 0x7f ? ' ' : *text;
	msg[*pos] = '\0';
}

static void
daemon_status_reason(char *msg, size_t size, size_t *pos,
		     const struct acct_status *st)
{
	if (st->reason[0] == '\0')
		return;
	daemon_status_add(msg, size, pos, ": ");
	daemon_status_add(msg, size, pos, st->reason);
}

/* STATUS= with every account's state on one line, for systemctl status:
 * "work: idle (push: notify on every folder (1 connection)); home:
 * offline (attempt 3): REASON". */
static void
daemon_notify_status(struct daemon_loop *d)
{
	char msg[1024], part[64];
	size_t pos = 0;

	if (!sd_notifier_is_on(&d->notifier))
		return;
	daemon_status_add(msg, sizeof(msg), &pos, "STATUS=");
	for (size_t i = 0; i < d->n; i++) {
		const struct acct_status *st = acct_status(d->accts[i]);

		daemon_status_add(msg, sizeof(msg), &pos, i > 0 ? "; " : "");
		daemon_status_add(msg, sizeof(msg), &pos, st->name);
		daemon_status_add(msg, sizeof(msg), &pos, ": ");
		daemon_status_add(msg, sizeof(msg), &pos,
				  acct_state_name(st->state));
		switch (st->state) {
		case ACCT_IDLE:
		case ACCT_SYNCING:
			if (strcmp(st->push, "off") == 0)
				break;
			daemon_status_add(msg, sizeof(msg), &pos, " (push: ");
			daemon_status_add(msg, sizeof(msg), &pos, st->push);
			daemon_status_add(msg, sizeof(msg), &pos, ")");
			break;
		case ACCT_BACKOFF:
		case ACCT_OFFLINE:
			snprintf(part, sizeof(part), " (attempt %u)",
				 st->sched.backoff.attempt);
			daemon_status_add(msg, sizeof(msg), &pos, part);
			daemon_status_reason(msg, sizeof(msg), &pos, st);
			break;
		case ACCT_ERROR:
		case ACCT_AUTH_FAILED:
			daemon_status_reason(msg, sizeof(msg), &pos, st);
			break;
		case ACCT_PAUSED:
		case ACCT_DISABLED:
		case ACCT_STOPPED:
			break;
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
		/* The control socket listens (daemon_loop_new() opened it)
		 * and the loop runs: clients can be served. */
		sd_notifier_send(&d->notifier, "READY=1");
		daemon_notify_status(d);
		d->is_ready_sent = true;
	}
	if (d->notifier.watchdog_ms > 0)
		sd_notifier_send(&d->notifier, "WATCHDOG=1");
}

/* --- suspend and resume ------------------------------------------------- */

static void
daemon_clock_read(uint64_t *mono_r, uint64_t *wall_r)
{
	struct timespec m, w;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &w);
	*mono_r = (uint64_t)m.tv_sec * 1000u + (uint64_t)m.tv_nsec / 1000000u;
	*wall_r = (uint64_t)w.tv_sec * 1000u + (uint64_t)w.tv_nsec / 1000000u;
}

static void
daemon_on_clock_timer(uv_timer_t *t)
{
	struct daemon_loop *d = t->data;
	uint64_t mono, wall;

	daemon_clock_read(&mono, &wall);
	if (acct_clock_jumped(d->clock_mono_ms, d->clock_wall_ms, mono,
			      wall)) {
		log_info("the wall clock moved %+.0f s against the monotonic "
			 "clock (the machine slept?): reconnecting every "
			 "account now", ((double)(int64_t)(wall -
			 d->clock_wall_ms) - (double)(int64_t)(mono -
			 d->clock_mono_ms)) / 1000.0);
		for (size_t i = 0; i < d->n; i++)
			(void)acct_request_reconnect(d->accts[i]);
	}
	d->clock_mono_ms = mono;
	d->clock_wall_ms = wall;
}

/* --- network changes ---------------------------------------------------- */

static void
daemon_on_net_change(unsigned bits, void *arg)
{
	struct daemon_loop *d = arg;
	char what[128];
	unsigned n = 0;

	for (size_t i = 0; i < d->n; i++)
		n += acct_request_net_change(d->accts[i]) == MS_OK;
	log_info("network changed (%s): %u account%s reconnecting or "
		 "retrying now", net_change_describe(bits, what, sizeof(what)),
		 n, n == 1 ? "" : "s");
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
	daemon_close_handle((uv_handle_t *)&d->clock_timer,
			    &d->has_clock_timer);
	net_watch_close(d->net_watch);
	d->net_watch = NULL;
	inotify_reader_leave(&d->spool_watch);
	/* Every runtime has stopped: their mirror watches have left. */
	inotify_reader_close(d->inotify);
	d->inotify = NULL;
	daemon_close_handle((uv_handle_t *)&d->reap_timer,
			    &d->has_reap_timer);
	ctl_server_close(d->ctl);
	loop_lateness_close(&d->lateness);
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
	for (size_t i = 0; i < d->n_retiring; i++)
		if (!acct_is_stopped(d->retiring[i].old))
			return false;
	return true;
}

static bool
daemon_is_retiring(const struct daemon_loop *d, const struct acct *a)
{
	for (size_t i = 0; i < d->n_retiring; i++)
		if (d->retiring[i].old == a)
			return true;
	return false;
}

/* An outbox entry changed: send --wait requests hear of it. */
static void
daemon_on_queue_change(struct send_queue *q, uint64_t id, void *arg)
{
	struct daemon_loop *d = arg;

	(void)q;
	ctl_server_outbox_event(d->ctl, id);
}

static void
daemon_on_queue_stopped(struct send_queue *q, void *arg)
{
	struct daemon_loop *d = arg;

	(void)q;
	if ((d->opts.is_once || d->is_stopping) && daemon_all_stopped(d))
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
	ctl_server_acct_event(d->ctl, a, ev);
	progress_report_event(&d->progress, a, ev);
	if (ev != ACCT_EV_STATE)
		return;
	/* Not from inside its own callback: on the next loop turn. */
	if (acct_is_stopped(a) && daemon_is_retiring(d, a) &&
	    d->has_reap_timer && !d->is_stopping)
		uv_timer_start(&d->reap_timer, daemon_on_reap, 0, 0);
	if (!d->opts.is_once)
		daemon_notify_status(d);
	/* The foreground mode ends on a signal only: a reload may leave it
	 * without an account for a while. */
	if ((d->opts.is_once || d->is_stopping) && daemon_all_stopped(d))
		daemon_close_all(d);
}

static void
daemon_stop(struct daemon_loop *d)
{
	d->is_stopping = true;
	if (d->has_notify_timer)
		uv_timer_stop(&d->notify_timer);
	if (d->has_clock_timer)
		uv_timer_stop(&d->clock_timer);
	net_watch_close(d->net_watch);
	d->net_watch = NULL;
	for (size_t i = 0; i < d->n; i++)
		acct_stop(d->accts[i]);
	for (size_t i = 0; i < d->n_queues; i++)
		send_queue_stop(d->queues[i]);
	inotify_reader_leave(&d->spool_watch);
	for (size_t i = 0; i < d->n_retiring; i++)
		acct_stop(d->retiring[i].old);
	if (daemon_all_stopped(d))
		daemon_close_all(d);
}

static void
daemon_on_signal(uv_signal_t *h, int signum)
{
	struct daemon_loop *d = h->data;

	if (signum == SIGHUP) {
		json_t *data = NULL;

		log_info("signal %d (SIGHUP): reloading %s", signum,
			 d->cfg->file);
		if (daemon_reload(d, &data) != MS_OK)
			log_warn("reload: the running configuration stays");
		if (data != NULL)
			json_decref(data);
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

/* --- reload ---------------------------------------------------------------- */

/* Frees the retiring runtimes that have stopped, and starts their
 * successors. */
static void
daemon_on_reap(uv_timer_t *t)
{
	struct daemon_loop *d = t->data;
	size_t k = 0;

	for (size_t i = 0; i < d->n_retiring; i++) {
		struct daemon_retiring r = d->retiring[i];

		if (!acct_is_stopped(r.old)) {
			d->retiring[k++] = r;
			continue;
		}
		ctl_server_acct_gone(d->ctl, r.old);
		progress_report_forget(&d->progress, r.old);
		acct_free(&r.old);
		if (r.successor != NULL && !d->is_stopping)
			acct_start(r.successor);
	}
	d->n_retiring = k;
}

static void
daemon_retire(struct daemon_loop *d, struct acct *old, struct acct *successor)
{
	struct daemon_retiring *v;

	v = realloc(d->retiring, (d->n_retiring + 1) * sizeof(*v));
	if (v == NULL) {
		log_err("reload: out of memory");
		abort();	/* the daemon's xmalloc rule (STYLE.md 4) */
	}
	d->retiring = v;
	v[d->n_retiring].old = old;
	v[d->n_retiring].successor = successor;
	d->n_retiring++;
	acct_stop(old);
	if (acct_is_stopped(old))
		uv_timer_start(&d->reap_timer, daemon_on_reap, 0, 0);
}

static struct acct *
daemon_find(struct acct **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL && strcmp(acct_name(v[i]), name) == 0)
			return v[i];
	return NULL;
}

/* The runtime of a new or changed account, not started; NULL (logged,
 * and named in problems) when it cannot be made. */
static struct acct *
daemon_reload_new(struct daemon_loop *d, const struct cfg_account *c,
		  json_t *problems)
{
	struct acct_params ap = {
		.loop = &d->loop,
		.store = d->store,
		.account = c,
		.backoff_max_ms = d->backoff_max_ms,
		.inotify = d->inotify,
		.on_event_cb = daemon_on_acct_event,
		.arg = d,
	};
	struct ms_err err = { 0 };
	struct acct *a = NULL;
	char msg[400];

	if (acct_new(&ap, &a, &err) < 0) {
		snprintf(msg, sizeof(msg), "account %s: %s", c->name, err.msg);
		log_err("reload: %s", msg);
		json_array_append_new(problems, json_string(msg));
		return NULL;
	}
	return a;
}

/*
 * The senders keep the settings they started with (each holds its own
 * copy): a change to how an account sends takes a restart, and is said.
 */
static void
daemon_reload_senders_note(const struct cfg_account *oc,
			   const struct cfg_account *c)
{
	bool was = oc != NULL && oc->smtp_host != NULL;
	bool is = c->smtp_host != NULL;

	if (!was && !is)
		return;
	if (was != is || oc == NULL || !cfg_account_equal(oc, c))
		log_warn("reload: account %s: its sending settings change only "
			 "with a restart of mailsyncd; the outbox keeps "
			 "sending as before", c->name);
}

/* What cannot change without a restart is kept, and said. */
static void
daemon_reload_kept(const struct cfg *old, const struct cfg *nc, json_t *data)
{
	json_t *v = json_array();

	if (strcmp(old->store, nc->store) != 0)
		json_array_append_new(v, json_string("store"));
	if (strcmp(old->socket, nc->socket) != 0)
		json_array_append_new(v, json_string("socket"));
	if (old->socket_gid != nc->socket_gid)
		json_array_append_new(v, json_string("socket_group"));
	if (json_array_size(v) > 0)
		log_warn("reload: [general] store, socket and socket_group "
			 "change only with a restart of mailsyncd; running on "
			 "%s and %s", old->store, old->socket);
	json_object_set_new(data, "restart_needed", v);
}

int
daemon_reload(struct daemon_loop *d, json_t **data_r)
{
	json_t *data, *added, *removed, *restarted, *unchanged, *problems;
	struct cfg_report rep;
	struct cfg *nc = NULL;
	struct acct **v;
	size_t n = 0;
	int rc;

	cfg_report_init(&rep);
	rc = cfg_load(d->cfg->file, cfg_env_system(), &nc, &rep);
	if (rc != MS_OK) {
		problems = json_array();
		for (size_t i = 0; i < rep.n; i++) {
			log_err("reload: %s", rep.v[i].text);
			json_array_append_new(problems,
					      json_string(rep.v[i].text));
		}
		log_err("reload: %s has %zu problem%s: keeping the running "
			"configuration", d->cfg->file, rep.n,
			rep.n == 1 ? "" : "s");
		cfg_report_deinit(&rep);
		*data_r = problems;
		return rc;
	}
	cfg_report_deinit(&rep);
	if ((v = calloc(nc->n_accounts ? nc->n_accounts : 1,
			sizeof(*v))) == NULL) {
		cfg_free(&nc);
		*data_r = json_pack("[s]", "out of memory");
		return MS_ENOMEM;
	}
	data = json_object();
	added = json_array();
	removed = json_array();
	restarted = json_array();
	unchanged = json_array();
	problems = json_array();
	for (size_t i = 0; i < nc->n_accounts; i++) {
		const struct cfg_account *c = &nc->accounts[i];
		struct acct *old = daemon_find(d->accts, d->n, c->name);
		const struct cfg_account *oc = cfg_account_find(d->cfg, c->name);

		daemon_reload_senders_note(oc, c);
		/* A send-only account has no runtime. */
		if (c->protocol == CFG_PROTOCOL_SMTP)
			continue;
		if (old != NULL && oc != NULL && cfg_account_equal(oc, c)) {
			v[n++] = old;
			json_array_append_new(unchanged, json_string(c->name));
			continue;
		}
		if ((v[n] = daemon_reload_new(d, c, problems)) == NULL) {
			if (old != NULL)
				v[n++] = old;	/* it keeps running */
			continue;
		}
		if (old != NULL) {
			log_info("reload: account %s changed: restarting it",
				 c->name);
			json_array_append_new(restarted, json_string(c->name));
			daemon_retire(d, old, v[n]);
		} else {
			log_info("reload: account %s added", c->name);
			json_array_append_new(added, json_string(c->name));
			acct_start(v[n]);
		}
		n++;
	}
	for (size_t i = 0; i < d->n; i++) {
		const char *name = acct_name(d->accts[i]);

		if (cfg_account_find(nc, name) != NULL)
			continue;
		log_info("reload: account %s removed: stopping it", name);
		json_array_append_new(removed, json_string(name));
		daemon_retire(d, d->accts[i], NULL);
	}
	free(d->accts);
	d->accts = v;
	d->n = n;
	daemon_reload_kept(d->cfg, nc, data);
	if (!d->opts.keep_log_level)
		log_set_level(nc->log_level);
	d->cfg = nc;
	cfg_free(&d->own_cfg);
	d->own_cfg = nc;
	log_info("reload: %zu added, %zu removed, %zu restarted, %zu unchanged",
		 json_array_size(added), json_array_size(removed),
		 json_array_size(restarted), json_array_size(unchanged));
	json_object_set_new(data, "added", added);
	json_object_set_new(data, "removed", removed);
	json_object_set_new(data, "restarted", restarted);
	json_object_set_new(data, "unchanged", unchanged);
	json_object_set_new(data, "problems", problems);
	daemon_notify_status(d);
	*data_r = data;
	return MS_OK;
}

/* --- --once's summary ------------------------------------------------------ */

/* A line of --once's summary on errout, stamped like a log line: reasons
 * carry server texts, which are escaped as in the log. */
static void
daemon_once_error(FILE *errout, const char *name, const char *what)
{
	char safe[4 * 300], prefix[64];

	fprintf(errout, "%smailsyncd: %s: %s\n",
		log_prefix(LOG_LEVEL_ERROR, prefix, sizeof(prefix)), name,
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
	char line[200];

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
			snprintf(line, sizeof(line), "%u folder%s failed (see "
				 "the log)", r->folder_errors,
				 r->folder_errors == 1 ? "" : "s");
			daemon_once_error(errout, st->name, line);
			status = 1;
		}
		if (st->mirror_error[0] != '\0') {
			daemon_once_error(errout, st->name, st->mirror_error);
			status = 1;
		}
		/* Kept local, not lost, but not synced either: a script
		 * must see it. */
		if (r->refused > 0) {
			snprintf(line, sizeof(line), "%llu local message%s "
				 "refused by the server (see the log)",
				 (unsigned long long)r->refused,
				 r->refused == 1 ? "" : "s");
			daemon_once_error(errout, st->name, line);
			status = 1;
		}
		if (r->unsendable > 0) {
			snprintf(line, sizeof(line), "%llu local message%s "
				 "not sent: NUL bytes need BINARY, which the "
				 "server lacks (see the log)",
				 (unsigned long long)r->unsendable,
				 r->unsendable == 1 ? "" : "s");
			daemon_once_error(errout, st->name, line);
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

/* Something came into SPOOL/new, or events were lost (IN_Q_OVERFLOW:
 * the import lists the whole spool anyway). */
static void
daemon_on_spool_lost(void *arg)
{
	struct daemon_loop *d = arg;

	if (d->is_stopping || daemon_import_spool(d) == 0)
		return;
	ctl_server_outbox_event(d->ctl, 0);
	for (size_t i = 0; i < d->n_queues; i++)
		send_queue_wake(d->queues[i]);
}

static void
daemon_on_spool_event(const struct inotify_event *e, void *arg)
{
	struct daemon_loop *d = arg;

	if (e->mask & IN_IGNORED) {
		log_warn("send spool %s/new went: mail queued with mailsyncctl "
			 "send is taken at the next start", d->cfg->spool);
		return;
	}
	daemon_on_spool_lost(d);
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
	if (d->inotify == NULL)
		return;		/* said when it could not be made */
	inotify_reader_join(d->inotify, &d->spool_watch, daemon_on_spool_event,
			    daemon_on_spool_lost, d);
	/* A message is written in tmp/ and renamed into new/. */
	if ((rc = inotify_reader_add(&d->spool_watch, path, IN_MOVED_TO |
				     IN_CREATE | IN_CLOSE_WRITE)) < 0)
		log_warn("send spool: cannot watch %s: %s (mail queued with "
			 "mailsyncctl send is taken at start only)", path,
			 strerror(-rc));
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

static size_t
daemon_ctl_n_accts(void *arg)
{
	return daemon_loop_n_accounts(arg);
}

static struct acct *
daemon_ctl_acct(void *arg, size_t i)
{
	return daemon_loop_account(arg, i);
}

static int
daemon_ctl_reload(void *arg, json_t **data_r)
{
	return daemon_reload(arg, data_r);
}

/* outbox retry|drop ID: the entry's account's sender does it. */
static int
daemon_ctl_outbox(void *arg, const char *op, uint64_t id,
		  struct ms_err *err_r)
{
	struct daemon_loop *d = arg;
	struct store_outbox *v = NULL;
	struct send_queue *q = NULL;
	size_t n = 0;
	int rc;

	if ((rc = store_outbox_list(d->store, &v, &n, err_r)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; v[i].id == id && j < d->n_queues; j++)
			if (strcmp(send_queue_name(d->queues[j]),
				   v[i].account) == 0)
				q = d->queues[j];
		store_outbox_deinit(&v[i]);
	}
	free(v);
	if (q == NULL)
		return ms_err_set(err_r, MS_EINVAL, "no outbox entry %llu of "
				  "an account that sends",
				  (unsigned long long)id);
	return strcmp(op, "drop") == 0 ? send_queue_drop(q, id, err_r) :
	       send_queue_retry(q, id, err_r);
}

/* The control socket, before any account starts: a second daemon on the
 * same socket is refused here. */
static int
daemon_ctl_open(struct daemon_loop *d, struct ms_err *err_r)
{
	struct ctl_host host = {
		.loop = &d->loop,
		.store = d->store,
		.n_accts_cb = daemon_ctl_n_accts,
		.acct_cb = daemon_ctl_acct,
		.reload_cb = daemon_ctl_reload,
		.outbox_cb = daemon_ctl_outbox,
		.arg = d,
	};

	return ctl_server_open(&host, d->cfg->socket, d->cfg->socket_gid,
			       &d->ctl, err_r);
}

struct acct *
daemon_loop_account(struct daemon_loop *d, size_t i)
{
	return i < d->n ? d->accts[i] : NULL;
}

/* MAILSYNC_BACKOFF_MAX: the reconnect backoff's cap in seconds, for
 * tests that keep a server down past it and for the impatient. */
static int
daemon_backoff_max(uint64_t *ms_r, struct ms_err *err_r)
{
	const char *v = getenv("MAILSYNC_BACKOFF_MAX");
	unsigned long long secs;
	char *end;

	*ms_r = 0;
	if (v == NULL || v[0] == '\0')
		return MS_OK;
	errno = 0;
	secs = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || secs < 1 || secs > 86400 ||
	    v[0] < '0' || v[0] > '9')
		return ms_err_set(err_r, MS_ECONFIG, "MAILSYNC_BACKOFF_MAX=%s: "
				  "expected whole seconds from 1 to 86400",
				  v);
	*ms_r = secs * 1000u;
	return MS_OK;
}

int
daemon_loop_new(const struct cfg *cfg, const struct daemon_opts *opts,
		struct daemon_loop **d_r, struct ms_err *err_r)
{
	struct store_params sp = { .dir = cfg->store };
	struct daemon_loop *d;
	struct ms_err aerr0 = { 0 };
	uint64_t backoff_max_ms;
	int rc;

	*d_r = NULL;
	if ((rc = daemon_backoff_max(&backoff_max_ms, err_r)) < 0)
		return rc;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	d->cfg = cfg;
	d->opts = *opts;
	d->backoff_max_ms = backoff_max_ms;
	d->notifier.fd = -1;
	/* --once on a terminal redraws a line per account; otherwise (and
	 * always in the foreground mode, whose stderr is a log) long passes
	 * log a line every few seconds. */
	progress_report_init(&d->progress, opts->is_once && log_is_terminal(),
			     0);
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
	/* One inotify instance for every watch: the kernel's limit is on
	 * instances (fs.inotify.max_user_instances), and one per account
	 * ran out past about 120 accounts. */
	if (!opts->is_once &&
	    inotify_reader_new(&d->loop, &d->inotify, &aerr0) < 0)
		log_warn("%s: reader changes in the mirrors wait for the next "
			 "pass, and mail queued with mailsyncctl send for the "
			 "next start", aerr0.msg);
	if ((rc = store_open(&d->store, &sp, err_r)) < 0)
		goto fail;
	if (!opts->is_once && (rc = daemon_ctl_open(d, err_r)) < 0)
		goto fail;
	for (size_t i = 0; i < cfg->n_accounts; i++) {
		const struct cfg_account *c = &cfg->accounts[i];
		struct acct_params ap = {
			.loop = &d->loop,
			.store = d->store,
			.account = c,
			.is_once = opts->is_once,
			.backoff_max_ms = backoff_max_ms,
			.inotify = d->inotify,
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
			.on_change_cb = daemon_on_queue_change,
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
	uv_timer_init(&d->loop, &d->clock_timer);
	d->clock_timer.data = d;
	d->has_clock_timer = true;
	uv_timer_init(&d->loop, &d->reap_timer);
	d->reap_timer.data = d;
	d->has_reap_timer = true;
	*d_r = d;
	return MS_OK;
fail:
	daemon_loop_free(&d);
	return rc;
}

/* Without the socket (a sandbox without AF_NETLINK) connections on a
 * vanished address end by their timeouts, as before. */
static void
daemon_watch_net(struct daemon_loop *d)
{
	struct ms_err err = { 0 };

	d->net_watch = net_watch_new(&d->loop, daemon_on_net_change, d, &err);
	if (d->net_watch == NULL)
		log_warn("%s: network changes are not watched (a connection "
			 "on a vanished address waits for its timeout)",
			 err.msg);
}

/* On the threadpool: the charset modules load there, not on the loop
 * while the first messages using them are summarised. */
static void
daemon_warm_charsets(uv_work_t *req)
{
	(void)req;
	mime_charset_warm();
}

/*
 * Whether the common charsets are worth loading at start: for IMAP
 * accounts, whose first pass summarises a folder's mail in bulk.  A
 * POP3-only process loads a module when a message first needs it: about
 * 0.5 MB of modules and their tables that a pass with no new mail never
 * touches.
 */
static bool
daemon_wants_charsets(const struct cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_accounts; i++)
		if (cfg->accounts[i].protocol == CFG_PROTOCOL_IMAP)
			return true;
	return false;
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
	loop_lateness_start_from_env(&d->lateness, &d->loop);
	if (daemon_wants_charsets(d->cfg))
		(void)uv_queue_work(&d->loop, &d->charset_warm,
				    daemon_warm_charsets, NULL);
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
		daemon_clock_read(&d->clock_mono_ms, &d->clock_wall_ms);
		uv_timer_start(&d->clock_timer, daemon_on_clock_timer,
			       ACCT_CLOCK_CHECK_MS, ACCT_CLOCK_CHECK_MS);
		daemon_watch_net(d);
	}
	if (d->opts.is_once && daemon_all_stopped(d))
		daemon_close_all(d);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	progress_report_deinit(&d->progress);	/* erased before the summary */
	loop_lateness_report(&d->lateness);
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
		for (size_t i = 0; i < d->n_retiring; i++)
			acct_stop(d->retiring[i].old);
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
	for (size_t i = 0; i < d->n_retiring; i++)
		acct_free(&d->retiring[i].old);
	free(d->retiring);
	ctl_server_free(&d->ctl);
	progress_report_deinit(&d->progress);
	sd_notifier_close(&d->notifier);
	store_close(&d->store);
	mime_charset_clear();
	free(d->accts);
	cfg_free(&d->own_cfg);
	free(d);
}
