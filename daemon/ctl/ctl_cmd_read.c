/*
 * ctl_cmd_read.c - folders, list, search: what the store holds, read on
 * the threadpool (ctl_work.c) from short read transactions, so that
 * they never wait for a sync nor hold up the loop.  Protocol-neutral:
 * any account whose messages are folder records in the store shows.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_cmd.h"

static void
ctl_read_err(struct ctl_work_err *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
ctl_read_err(struct ctl_work_err *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* A folder a user can read: selectable and not deleted on the server. */
static bool
ctl_read_is_shown(const struct store_folder *f)
{
	return (f->attrs & (STORE_FOLDER_NOSELECT | STORE_FOLDER_GONE)) == 0;
}

/* One message as list and search show it. */
static json_t *
ctl_read_msg(const struct store_msg *m, const struct store_summary *sum,
	     const char *folder)
{
	json_t *o;

	o = json_pack("{s:I,s:o,s:o,s:o,s:o,s:I,s:I}",
		      "uid", (json_int_t)m->uid,
		      "date", sum->has_date ? json_integer(sum->date) :
		      json_null(),
		      "from", ctl_json_string(sum->from),
		      "subject", ctl_json_string(sum->subject),
		      "flags", ctl_flags_json(m->flags),
		      "size", (json_int_t)m->size,
		      "internal_date", (json_int_t)m->internal_date);
	if (o != NULL && folder != NULL)
		json_object_set_new(o, "folder", ctl_json_string(folder));
	return o;
}

/* The summary of m, or an empty one when the store has none. */
static int
ctl_read_summary(struct store *s, const struct store_msg *m,
		 struct store_summary *sum, struct ms_err *err)
{
	int rc = store_summary_get(s, m->hash, sum, err);

	if (rc == STORE_NOTFOUND) {
		memset(sum, 0, sizeof(*sum));
		sum->from = strdup("");
		sum->to = strdup("");
		sum->subject = strdup("");
		sum->message_id = strdup("");
		if (sum->from == NULL || sum->to == NULL ||
		    sum->subject == NULL || sum->message_id == NULL) {
			store_summary_deinit(sum);
			return ms_err_set(err, MS_ENOMEM, "out of memory");
		}
		return MS_OK;
	}
	return rc;
}

/* --- folders ---------------------------------------------------------------- */

/* Unread, flagged and bytes of one folder, from its records. */
static int
ctl_read_folder_counts(struct store *s, uint32_t id, json_t *o,
		       struct ms_err *err)
{
	struct store_msg_iter *it = NULL;
	struct store_msg m;
	uint64_t unread = 0, flagged = 0, bytes = 0;
	int rc;

	if ((rc = store_msg_iter_new(s, id, 0, &it)) < 0)
		return ms_err_set(err, rc, "out of memory");
	while ((rc = store_msg_iter_next(it, &m, err)) == MS_OK) {
		unread += (m.flags & STORE_FLAG_SEEN) == 0;
		flagged += (m.flags & STORE_FLAG_FLAGGED) != 0;
		bytes += m.size;
	}
	store_msg_iter_free(&it);
	if (rc < 0)
		return rc;
	json_object_set_new(o, "unread", json_integer((json_int_t)unread));
	json_object_set_new(o, "flagged", json_integer((json_int_t)flagged));
	json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
	return MS_OK;
}

/* args: "accounts": [{"name", "last_sync"}] (the loop adds it). */
static void
ctl_folders_work(struct store *s, json_t *args, json_t **data_r,
		 struct ctl_work_err *err)
{
	json_t *accts = json_object_get(args, "accounts"), *a, *v;
	struct ms_err e = { 0 };
	size_t i;

	v = json_array();
	json_array_foreach(accts, i, a) {
		const char *name = json_string_value(json_object_get(a, "name"));
		struct store_folder *fv = NULL;
		size_t n = 0;

		if (store_folder_list(s, name, &fv, &n, &e) < 0) {
			ctl_read_err(err, CTL_ERR_STORE, "%s", e.msg);
			json_decref(v);
			return;
		}
		for (size_t k = 0; k < n; k++) {
			const struct store_folder *f = &fv[k];
			json_t *o;

			if (!ctl_read_is_shown(f))
				continue;
			o = json_pack("{s:s,s:o,s:I,s:I,s:O}", "account", name,
				      "name", ctl_json_string(f->name),
				      "messages", (json_int_t)f->local_count,
				      "server_messages",
				      (json_int_t)f->state.messages,
				      "last_sync",
				      json_object_get(a, "last_sync"));
			if (o == NULL ||
			    ctl_read_folder_counts(s, f->id, o, &e) < 0) {
				ctl_read_err(err, CTL_ERR_STORE, "%s", e.msg);
				json_decref(o);
				json_decref(v);
				free(fv);
				return;
			}
			json_array_append_new(v, o);
		}
		free(fv);
	}
	*data_r = json_pack("{s:o}", "folders", v);
}

/* Which accounts: the one named, or every configured one, with the
 * time of its last good pass (the store keeps none per folder). */
static bool
ctl_read_accounts_arg(struct ctl_req *req)
{
	size_t n = ctl_req_n_accts(req);
	bool is_bad;
	const char *only = ctl_arg_str(req, "account", &is_bad);
	json_t *v;

	if (is_bad || (only != NULL && ctl_req_acct_find(req, only) == NULL))
		return false;
	v = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct acct_status *st = acct_status(ctl_req_acct(req, i));

		if (only != NULL && strcmp(st->name, only) != 0)
			continue;
		json_array_append_new(v, json_pack("{s:s,s:o}", "name",
						   st->name, "last_sync",
						   st->last_sync_ms == 0 ?
						   json_null() :
						   json_integer((json_int_t)
							st->last_sync_ms)));
	}
	json_object_set_new(req->args, "accounts", v);
	return true;
}

static void
ctl_cmd_folders_run(struct ctl_req *req)
{
	if (ctl_read_accounts_arg(req))
		ctl_req_work(req, ctl_folders_work);
}

const struct ctl_cmd ctl_cmd_folders = {
	.name = "folders",
	.usage = "[ACCOUNT]",
	.run_cb = ctl_cmd_folders_run,
};

/* --- list --------------------------------------------------------------------- */

struct ctl_list_opts {
	bool want_unread;
	uint64_t limit;			/* 0: all */
	int64_t since;			/* epoch seconds; 0: all */
	const char *text;		/* search: NULL for list */
};

static bool
ctl_read_match(const struct store_summary *sum, const char *text)
{
	return strcasestr(sum->subject, text) != NULL ||
	       strcasestr(sum->from, text) != NULL ||
	       strcasestr(sum->to, text) != NULL ||
	       strcasestr(sum->message_id, text) != NULL;
}

/*
 * Appends the folder's messages that pass o to v, keeping only the
 * last o->limit of them (the newest UIDs) when there is a limit.
 */
static int
ctl_read_folder_msgs(struct store *s, const struct store_folder *f,
		     const struct ctl_list_opts *o, bool with_folder, json_t *v,
		     struct ms_err *err)
{
	struct store_msg_iter *it = NULL;
	struct store_summary sum;
	struct store_msg m;
	int rc;

	if ((rc = store_msg_iter_new(s, f->id, 0, &it)) < 0)
		return ms_err_set(err, rc, "out of memory");
	while ((rc = store_msg_iter_next(it, &m, err)) == MS_OK) {
		int64_t when;
		bool is_in;

		if (o->want_unread && (m.flags & STORE_FLAG_SEEN))
			continue;
		if ((rc = ctl_read_summary(s, &m, &sum, err)) < 0)
			break;
		when = sum.has_date ? sum.date : m.internal_date;
		is_in = (o->since == 0 || when >= o->since) &&
			(o->text == NULL || ctl_read_match(&sum, o->text));
		if (is_in)
			json_array_append_new(v, ctl_read_msg(&m, &sum,
					with_folder ? f->name : NULL));
		store_summary_deinit(&sum);
		if (is_in && o->limit > 0 && json_array_size(v) > o->limit)
			json_array_remove(v, 0);
	}
	store_msg_iter_free(&it);
	return rc < 0 ? rc : MS_OK;
}

static bool
ctl_list_opts_get(json_t *args, struct ctl_list_opts *o)
{
	json_t *lim = json_object_get(args, "limit");
	json_t *since = json_object_get(args, "since");

	memset(o, 0, sizeof(*o));
	o->want_unread = json_is_true(json_object_get(args, "unread"));
	if (lim != NULL && (!json_is_integer(lim) ||
			    json_integer_value(lim) < 0))
		return false;
	if (since != NULL && !json_is_integer(since))
		return false;
	o->limit = lim != NULL ? (uint64_t)json_integer_value(lim) : 0;
	o->since = since != NULL ? json_integer_value(since) : 0;
	o->text = json_string_value(json_object_get(args, "text"));
	return true;
}

static void
ctl_list_work(struct store *s, json_t *args, json_t **data_r,
	      struct ctl_work_err *err)
{
	const char *account = json_string_value(json_object_get(args,
								"account"));
	const char *folder = json_string_value(json_object_get(args, "folder"));
	struct ctl_list_opts o;
	struct store_folder f;
	struct ms_err e = { 0 };
	json_t *v;
	int rc;

	if (!ctl_list_opts_get(args, &o)) {
		ctl_read_err(err, CTL_ERR_BAD_ARGS, "\"limit\" must be a count "
			     "and \"since\" a time in seconds");
		return;
	}
	rc = store_folder_find(s, account, folder, &f, &e);
	if (rc != MS_OK || !ctl_read_is_shown(&f)) {
		if (rc < 0)
			ctl_read_err(err, CTL_ERR_STORE, "%s", e.msg);
		else
			ctl_read_err(err, CTL_ERR_NO_FOLDER, "%s has no folder "
				     "'%.200s' (see mailsyncctl folders %s)",
				     account, folder, account);
		return;
	}
	v = json_array();
	if (ctl_read_folder_msgs(s, &f, &o, false, v, &e) < 0) {
		ctl_read_err(err, CTL_ERR_STORE, "%s", e.msg);
		json_decref(v);
		return;
	}
	*data_r = json_pack("{s:s,s:o,s:I,s:o}", "account", account, "folder",
			    ctl_json_string(f.name), "total",
			    (json_int_t)f.local_count, "messages", v);
}

static void
ctl_cmd_list_run(struct ctl_req *req)
{
	const char *account = ctl_arg_need_str(req, "account");

	if (account == NULL || ctl_req_acct_find(req, account) == NULL ||
	    ctl_arg_need_str(req, "folder") == NULL)
		return;
	ctl_req_work(req, ctl_list_work);
}

const struct ctl_cmd ctl_cmd_list = {
	.name = "list",
	.usage = "ACCOUNT FOLDER [--unread] [--limit N] [--since DATE]",
	.run_cb = ctl_cmd_list_run,
};

/* --- search ---------------------------------------------------------------- */

static void
ctl_search_work(struct store *s, json_t *args, json_t **data_r,
		struct ctl_work_err *err)
{
	const char *account = json_string_value(json_object_get(args,
								"account"));
	const char *folder = json_string_value(json_object_get(args, "folder"));
	struct store_folder *fv = NULL;
	struct ctl_list_opts o;
	struct ms_err e = { 0 };
	size_t n = 0, hits = 0;
	json_t *v;

	if (!ctl_list_opts_get(args, &o)) {
		ctl_read_err(err, CTL_ERR_BAD_ARGS, "\"limit\" must be a count");
		return;
	}
	if (store_folder_list(s, account, &fv, &n, &e) < 0) {
		ctl_read_err(err, CTL_ERR_STORE, "%s", e.msg);
		return;
	}
	v = json_array();
	for (size_t i = 0; i < n; i++) {
		if (!ctl_read_is_shown(&fv[i]) ||
		    (folder != NULL && strcmp(fv[i].name, folder) != 0))
			continue;
		hits++;
		if (ctl_read_folder_msgs(s, &fv[i], &o, true, v, &e) < 0) {
			ctl_read_err(err, CTL_ERR_STORE, "%s", e.msg);
			break;
		}
	}
	free(fv);
	if (err->code == NULL && folder != NULL && hits == 0)
		ctl_read_err(err, CTL_ERR_NO_FOLDER, "%s has no folder '%.200s' "
			     "(see mailsyncctl folders %s)", account, folder,
			     account);
	if (err->code != NULL) {
		json_decref(v);
		return;
	}
	*data_r = json_pack("{s:s,s:o,s:o}", "account", account, "text",
			    ctl_json_string(o.text), "messages", v);
}

static void
ctl_cmd_search_run(struct ctl_req *req)
{
	const char *account = ctl_arg_need_str(req, "account");
	bool is_bad;

	if (account == NULL || ctl_req_acct_find(req, account) == NULL)
		return;
	(void)ctl_arg_str(req, "folder", &is_bad);
	if (is_bad || ctl_arg_need_str(req, "text") == NULL)
		return;
	ctl_req_work(req, ctl_search_work);
}

const struct ctl_cmd ctl_cmd_search = {
	.name = "search",
	.usage = "ACCOUNT [FOLDER] TEXT [--limit N]",
	.run_cb = ctl_cmd_search_run,
};
