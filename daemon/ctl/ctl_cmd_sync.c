/*
 * ctl_cmd_sync.c - sync, pause, resume.
 *
 * sync [account [folder]] [wait]: a user's sync also retries the local
 * messages the server refused (their refusals are cleared, as
 * store_batch_refusals_clear() is meant for), then asks each runtime for
 * a pass.  A request during a running pass joins the one pass the
 * runtime queues after it (acct_request_sync() merges requests), so
 * with wait the reply comes when that pass has ended: the runtime's
 * pass count reaching one more than now, or two when a pass runs now.
 * Meanwhile the client gets the account's progress and state events.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_cmd.h"
#include "log.h"

struct ctl_sync_target {
	struct acct *a;
	uint64_t target;		/* passes to reach */
	bool is_done;
	bool is_gone;
	struct acct_result res;
};

struct ctl_sync_wait {
	struct ctl_req *req;
	struct ctl_server *srv;
	struct ctl_sync_target *v;
	size_t n;
};

/* Clears the refusals of the account's folders (or of one). */
static int
ctl_sync_retry_refused(struct store *s, const char *account,
		       const struct store_folder *only, struct ms_err *err_r)
{
	struct store_folder *fv = NULL;
	struct store_batch *b = NULL;
	size_t n = 0;
	int rc;

	if ((rc = store_batch_new(s, &b)) < 0)
		return ms_err_set(err_r, rc, "out of memory");
	if (only != NULL) {
		rc = store_batch_refusals_clear(b, only->id);
	} else if ((rc = store_folder_list(s, account, &fv, &n, err_r)) >= 0) {
		for (size_t i = 0; i < n && rc >= 0; i++)
			rc = store_batch_refusals_clear(b, fv[i].id);
	}
	if (rc >= 0)
		rc = store_batch_commit(b, err_r);
	store_batch_free(&b);
	free(fv);
	return rc;
}

static void
ctl_sync_wait_free(struct ctl_sync_wait *w)
{
	free(w->v);
	free(w);
}

static void ctl_sync_on_event(struct acct *a, enum acct_event ev,
			      bool is_gone, void *arg);

static void
ctl_sync_wait_finish(struct ctl_sync_wait *w)
{
	json_t *v = json_array();
	char msg[900] = "";
	size_t pos = 0;

	ctl_server_unlisten(w->srv, ctl_sync_on_event, w);
	for (size_t i = 0; i < w->n; i++) {
		struct ctl_sync_target *t = &w->v[i];
		const char *why = t->is_gone ? "stopped before its pass ended" :
			t->res.rc != MS_OK ? t->res.error : NULL;
		json_t *r = t->is_gone ? json_null() : ctl_json_result(&t->res);

		json_array_append_new(v, json_pack("{s:s,s:o}", "account",
						   acct_name(t->a), "result",
						   r));
		if (why != NULL && pos < sizeof(msg))
			pos += (size_t)snprintf(msg + pos, sizeof(msg) - pos,
						"%s%s: %s", pos > 0 ? "; " :
						"", acct_name(t->a), why);
	}
	if (pos > 0) {
		json_decref(v);
		ctl_req_fail(w->req, CTL_ERR_FAILED, "%s", msg);
	} else {
		ctl_req_ok(w->req, json_pack("{s:o}", "accounts", v));
	}
	ctl_sync_wait_free(w);
}

static bool
ctl_sync_wait_is_done(const struct ctl_sync_wait *w)
{
	for (size_t i = 0; i < w->n; i++)
		if (!w->v[i].is_done)
			return false;
	return true;
}

static void
ctl_sync_on_event(struct acct *a, enum acct_event ev, bool is_gone, void *arg)
{
	struct ctl_sync_wait *w = arg;
	const struct acct_status *st;
	json_t *o = NULL;

	for (size_t i = 0; i < w->n; i++) {
		struct ctl_sync_target *t = &w->v[i];

		if (t->is_done || (a != NULL && t->a != a))
			continue;
		if (is_gone) {
			t->is_done = t->is_gone = true;
			continue;
		}
		st = acct_status(a);
		if (ev == ACCT_EV_PROGRESS) {
			o = ctl_json_progress(st);
			json_object_set_new(o, "account", json_string(st->name));
			ctl_req_event(w->req, "progress", o);
		} else if (ev == ACCT_EV_STATE) {
			o = json_pack("{s:s,s:s,s:o}", "account", st->name,
				      "state", acct_state_name(st->state),
				      "reason", ctl_json_string(st->reason));
			ctl_req_event(w->req, "state", o);
			if (st->state == ACCT_STOPPED || st->state ==
			    ACCT_PAUSED)
				t->is_done = t->is_gone = true;
		} else if (st->passes >= t->target) {
			t->is_done = true;
			t->res = st->last;
		}
	}
	if (ctl_sync_wait_is_done(w))
		ctl_sync_wait_finish(w);
}

/* Requests a pass of a (folder: one); false after failing req. */
static bool
ctl_sync_one(struct ctl_req *req, struct acct *a, const char *folder,
	     bool is_named, struct ctl_sync_target *t, bool *is_asked_r)
{
	struct store_folder f;
	struct ms_err err = { 0 };
	const struct acct_status *st = acct_status(a);
	bool is_running = st->state == ACCT_SYNCING;
	int rc;

	*is_asked_r = false;
	if (folder != NULL) {
		rc = store_folder_find(ctl_req_store(req), acct_name(a), folder,
				       &f, &err);
		if (rc != MS_OK) {
			ctl_req_fail(req, rc < 0 ? CTL_ERR_STORE :
				     CTL_ERR_NO_FOLDER, "%s: %s", acct_name(a),
				     rc < 0 ? err.msg : "no such folder (see "
				     "mailsyncctl folders)");
			return false;
		}
	}
	if (st->state == ACCT_PAUSED || st->state == ACCT_DISABLED ||
	    st->state == ACCT_STOPPED) {
		if (!is_named)
			return true;	/* sync of all: skipped */
		ctl_req_fail(req, CTL_ERR_STATE, "account %s is %s%s",
			     acct_name(a), acct_state_name(st->state),
			     st->state == ACCT_PAUSED ? " (mailsyncctl resume "
			     "first)" : "");
		return false;
	}
	if ((rc = ctl_sync_retry_refused(ctl_req_store(req), acct_name(a),
					 folder != NULL ? &f : NULL,
					 &err)) < 0)
		log_warn("acct=%s ctl sync: the refused messages stay "
			 "refused: %s", acct_name(a), err.msg);
	t->a = a;
	t->target = st->passes + (is_running ? 2 : 1);
	if ((rc = acct_request_sync(a, folder)) < 0) {
		ctl_req_fail(req, CTL_ERR_STATE, "account %s cannot sync now "
			     "(%s)", acct_name(a), acct_state_name(st->state));
		return false;
	}
	*is_asked_r = true;
	return true;
}

static void
ctl_cmd_sync_run(struct ctl_req *req)
{
	size_t n = ctl_req_n_accts(req), k = 0;
	struct ctl_sync_wait *w;
	bool is_bad, is_bad2, is_asked;
	const char *only = ctl_arg_str(req, "account", &is_bad);
	const char *folder = is_bad ? NULL :
		ctl_arg_str(req, "folder", &is_bad2);
	json_t *names;

	if (is_bad || (only == NULL && is_bad2))
		return;
	if (folder != NULL && only == NULL) {
		ctl_req_fail(req, CTL_ERR_BAD_ARGS, "a folder needs its "
			     "account");
		return;
	}
	if (only != NULL && ctl_req_acct_find(req, only) == NULL)
		return;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->v = calloc(n ? n : 1, sizeof(*w->v))) == NULL) {
		free(w);
		ctl_req_fail(req, CTL_ERR_INTERNAL, "out of memory");
		return;
	}
	names = json_array();
	for (size_t i = 0; i < n; i++) {
		struct acct *a = ctl_req_acct(req, i);

		if (only != NULL && strcmp(acct_name(a), only) != 0)
			continue;
		if (!ctl_sync_one(req, a, folder, only != NULL, &w->v[k],
				  &is_asked)) {
			json_decref(names);
			ctl_sync_wait_free(w);
			return;
		}
		if (is_asked) {
			json_array_append_new(names, json_string(acct_name(a)));
			k++;
		}
	}
	w->n = k;
	if (!ctl_arg_bool(req, "wait") || k == 0) {
		ctl_sync_wait_free(w);
		ctl_req_ok(req, json_pack("{s:o}", "accounts", names));
		return;
	}
	json_decref(names);
	w->req = req;
	w->srv = req->srv;
	if (ctl_server_listen(w->srv, ctl_sync_on_event, w) != MS_OK) {
		ctl_sync_wait_free(w);
		ctl_req_fail(req, CTL_ERR_INTERNAL, "out of memory");
	}
}

const struct ctl_cmd ctl_cmd_sync = {
	.name = "sync",
	.usage = "[ACCOUNT [FOLDER]] [--wait]",
	.run_cb = ctl_cmd_sync_run,
};

/* pause and resume: one account or every one that can. */
static void
ctl_cmd_pause_resume(struct ctl_req *req, bool is_pause)
{
	size_t n = ctl_req_n_accts(req);
	bool is_bad;
	const char *only = ctl_arg_str(req, "account", &is_bad);
	json_t *names;

	if (is_bad || (only != NULL && ctl_req_acct_find(req, only) == NULL))
		return;
	names = json_array();
	for (size_t i = 0; i < n; i++) {
		struct acct *a = ctl_req_acct(req, i);
		int rc;

		if (only != NULL && strcmp(acct_name(a), only) != 0)
			continue;
		rc = is_pause ? acct_request_pause(a) : acct_request_resume(a);
		if (rc == MS_OK) {
			json_array_append_new(names, json_string(acct_name(a)));
			continue;
		}
		if (only != NULL) {
			json_decref(names);
			ctl_req_fail(req, CTL_ERR_STATE, "account %s is %s: "
				     "nothing to %s", acct_name(a),
				     acct_state_name(acct_status(a)->state),
				     is_pause ? "pause" : "resume");
			return;
		}
	}
	ctl_req_ok(req, json_pack("{s:o}", "accounts", names));
}

static void
ctl_cmd_pause_run(struct ctl_req *req)
{
	ctl_cmd_pause_resume(req, true);
}

static void
ctl_cmd_resume_run(struct ctl_req *req)
{
	ctl_cmd_pause_resume(req, false);
}

const struct ctl_cmd ctl_cmd_pause = {
	.name = "pause",
	.usage = "[ACCOUNT]",
	.run_cb = ctl_cmd_pause_run,
};

const struct ctl_cmd ctl_cmd_resume = {
	.name = "resume",
	.usage = "[ACCOUNT]",
	.run_cb = ctl_cmd_resume_run,
};
