/*
 * sync_once.c - one pass over the accounts (sync_once.h).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "log.h"
#include "mirror/mirror.h"
#include "net/tls.h"
#include "store/store.h"
#include "sync/imap_sync.h"
#include "sync/sync_once.h"

struct once_acct {
	const struct cfg_account *acct;
	struct imap_sync *sync;
	struct net_tls_ctx *tls_ctx;
	struct imap_sync_summary sum;
	bool is_running;
	struct mirror_params mp;	/* when the account has a maildir */
	char ns_prefix[STORE_NS_PREFIX_MAX + 1];	/* mp.ns_prefix */
	struct maildir_report rep;
	char mirror_error[300];		/* "" unless the mirror failed */
};

struct once {
	struct once_acct *v;
	size_t n;
	unsigned running;
	uv_signal_t sigint, sigterm;
	bool is_interrupted;
};

static void
once_close_signals(struct once *o)
{
	if (!uv_is_closing((uv_handle_t *)&o->sigint))
		uv_close((uv_handle_t *)&o->sigint, NULL);
	if (!uv_is_closing((uv_handle_t *)&o->sigterm))
		uv_close((uv_handle_t *)&o->sigterm, NULL);
}

static void
once_on_done(struct imap_sync *sync, const struct imap_sync_summary *sum,
	     void *arg)
{
	struct once_acct *a = arg;
	struct once *o = uv_loop_get_data(uv_default_loop());

	(void)sync;
	a->sum = *sum;
	a->is_running = false;
	if (--o->running == 0)
		once_close_signals(o);
}

static void
once_on_signal(uv_signal_t *h, int signum)
{
	struct once *o = h->data;

	log_info("signal %d: finishing the current transaction and exiting",
		 signum);
	o->is_interrupted = true;
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i].is_running)
			imap_sync_stop(o->v[i].sync);
}

static void
once_mirror_report(const char *path, const char *why, void *arg)
{
	struct once_acct *a = arg;

	log_warn("acct=%s mirror %s: %s, left alone", a->acct->name, path,
		 why);
}

/*
 * The account's Maildir mirror: a scan before the pass turns what readers
 * did into pending changes that the pass pushes; an export after it makes
 * the mirror show the store, which is the truth.  A failure fails the
 * account (its line says why) but does not stop the pass.
 */
static void
once_mirror(struct store *store, struct once_acct *a, bool is_export)
{
	struct mirror_stats st = { 0 };
	struct ms_err err = { 0 };
	int rc;

	if (a->acct->maildir == NULL || a->mirror_error[0] != '\0')
		return;
	/* The pass may have learned it (NAMESPACE) since the scan. */
	rc = store_account_ns_get(store, a->acct->name, a->ns_prefix,
				  sizeof(a->ns_prefix), &err);
	if (rc < 0) {
		snprintf(a->mirror_error, sizeof(a->mirror_error),
			 "mirror: %s", err.msg);
		return;
	}
	a->mp.ns_prefix = a->ns_prefix;
	rc = is_export ? mirror_export(store, &a->mp, &st, &err) :
	     mirror_scan(store, &a->mp, &st, &err);
	if (rc < 0) {
		snprintf(a->mirror_error, sizeof(a->mirror_error),
			 "mirror %s %s: %s", is_export ? "export" : "scan",
			 a->acct->maildir,
			 err.msg[0] ? err.msg : ms_strerror(rc));
		return;
	}
	log_info("acct=%s mirror %s written=%llu renamed=%llu removed=%llu "
		 "adopted=%llu flags=%llu deletes=%llu moves=%llu appends=%llu "
		 "created=%llu",
		 a->acct->name, is_export ? "export" : "scan",
		 (unsigned long long)st.written, (unsigned long long)st.renamed,
		 (unsigned long long)st.removed, (unsigned long long)st.adopted,
		 (unsigned long long)st.flag_changes,
		 (unsigned long long)st.deletes, (unsigned long long)st.moves,
		 (unsigned long long)st.appends, (unsigned long long)st.created);
}

/* Starts one account; on failure its summary says why. */
static void
once_start(uv_loop_t *loop, struct store *store, struct once *o,
	   struct once_acct *a)
{
	const struct cfg_account *c = a->acct;
	struct imap_sync_params p = { 0 };
	struct ms_err err = { 0 };
	int rc;

	if (c->protocol != CFG_PROTOCOL_IMAP) {
		a->sum.rc = MS_EIMPL;
		snprintf(a->sum.error, sizeof(a->sum.error),
			 "pop3 not implemented yet");
		return;
	}
	if ((rc = sync_tls_ctx_new(c, &a->tls_ctx, &err)) < 0)
		goto fail;
	p.loop = loop;
	p.store = store;
	p.account = c;
	p.tls_ctx = a->tls_ctx;
	p.on_done_cb = once_on_done;
	p.arg = a;
	if ((rc = imap_sync_start(&p, &a->sync, &err)) < 0)
		goto fail;
	a->is_running = true;
	o->running++;
	return;
fail:
	a->sum.rc = rc;
	snprintf(a->sum.error, sizeof(a->sum.error), "%s",
		 err.msg[0] ? err.msg : ms_strerror(rc));
}

int
sync_tls_ctx_new(const struct cfg_account *c, struct net_tls_ctx **ctx_r,
		 struct ms_err *err_r)
{
	struct net_tls_ctx_params tp = {
		.ca_file = c->ca_file,
		.fingerprint = c->tls_fingerprint.is_set ?
			       c->tls_fingerprint.text : NULL,
	};

	*ctx_r = NULL;
	if (c->tls == CFG_TLS_NONE)
		return MS_OK;
	return net_tls_ctx_new(&tp, ctx_r, err_r);
}

static bool
once_is_named(const char *name, char *const *names, size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

int
sync_once_run(const struct cfg *cfg, char *const *names, size_t n,
	      FILE *out, FILE *errout)
{
	struct store_params sp = { .dir = cfg->store };
	struct store *store = NULL;
	struct ms_err err = { 0 };
	uv_loop_t *loop = uv_default_loop();
	struct once o = { 0 };
	int status = 0;

	if (store_open(&store, &sp, &err) < 0) {
		fprintf(errout, "mailsyncd: store %s: %s\n", cfg->store,
			err.msg);
		return 1;
	}
	o.v = calloc(cfg->n_accounts ? cfg->n_accounts : 1, sizeof(*o.v));
	if (o.v == NULL) {
		store_close(&store);
		fputs("mailsyncd: out of memory\n", errout);
		return 1;
	}
	uv_loop_set_data(loop, &o);
	uv_signal_init(loop, &o.sigint);
	uv_signal_init(loop, &o.sigterm);
	o.sigint.data = o.sigterm.data = &o;
	uv_signal_start(&o.sigint, once_on_signal, SIGINT);
	uv_signal_start(&o.sigterm, once_on_signal, SIGTERM);
	for (size_t i = 0; i < cfg->n_accounts; i++) {
		if (!once_is_named(cfg->accounts[i].name, names, n))
			continue;
		o.v[o.n].acct = &cfg->accounts[i];
		o.v[o.n].mp.account = cfg->accounts[i].name;
		o.v[o.n].mp.root = cfg->accounts[i].maildir;
		o.v[o.n].mp.rep = &o.v[o.n].rep;
		o.v[o.n].mp.folders = cfg->accounts[i].folders.v;
		o.v[o.n].mp.nfolders = cfg->accounts[i].folders.n;
		maildir_report_init(&o.v[o.n].rep, once_mirror_report,
				    &o.v[o.n]);
		once_mirror(store, &o.v[o.n], false);
		once_start(loop, store, &o, &o.v[o.n]);
		o.n++;
	}
	if (o.running == 0)
		once_close_signals(&o);
	uv_run(loop, UV_RUN_DEFAULT);
	for (size_t i = 0; i < o.n; i++) {
		struct once_acct *a = &o.v[i];
		const struct imap_sync_summary *s = &a->sum;

		if (!o.is_interrupted)
			once_mirror(store, a, true);
		if (s->rc == MS_OK) {
			fprintf(out, "%s: %u folder%s, %llu new, %llu changed, "
				"%llu deleted, %llu appended, %llu moved, "
				"%.1f MB, %.1f s\n",
				a->acct->name, s->folders,
				s->folders == 1 ? "" : "s",
				(unsigned long long)s->new_msgs,
				(unsigned long long)s->changed,
				(unsigned long long)s->deleted,
				(unsigned long long)s->appended,
				(unsigned long long)s->moved,
				(double)s->bytes / 1e6, s->seconds);
		}
		if (s->rc != MS_OK || s->folder_errors > 0) {
			if (s->rc != MS_OK)
				fprintf(errout, "mailsyncd: %s: %s\n",
					a->acct->name, s->error);
			else
				fprintf(errout, "mailsyncd: %s: %u folder%s "
					"failed (see the log)\n",
					a->acct->name, s->folder_errors,
					s->folder_errors == 1 ? "" : "s");
			status = 1;
		}
		if (a->mirror_error[0] != '\0') {
			fprintf(errout, "mailsyncd: %s: %s\n", a->acct->name,
				a->mirror_error);
			status = 1;
		}
		maildir_report_deinit(&a->rep);
		imap_sync_free(&a->sync);
		net_tls_ctx_unref(&a->tls_ctx);
	}
	fflush(out);
	free(o.v);
	uv_loop_set_data(loop, NULL);
	(void)uv_loop_close(loop);
	store_close(&store);
	return status;
}
