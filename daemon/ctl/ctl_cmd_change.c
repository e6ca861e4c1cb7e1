/*
 * ctl_cmd_change.c - flag, move, delete: a user's changes, recorded in
 * the store exactly as a reader's Maildir edit is (store_local.c: the
 * record shows new flags at once, a pending change holds what the
 * engine must push), in one batch for all the UIDs; then a sync pass is
 * asked for, which pushes them to the server, and its export makes the
 * mirror show them.  Every UID is checked before anything is written:
 * a request is recorded whole or not at all.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_cmd.h"
#include "log.h"

#define CTL_CHANGE_MAX_UIDS 100000u

enum ctl_change_kind { CTL_CHANGE_FLAG, CTL_CHANGE_MOVE, CTL_CHANGE_DELETE };

struct ctl_change {
	enum ctl_change_kind kind;
	struct acct *a;
	const char *account;
	struct store_folder f, dest;
	uint32_t add, remove;		/* flag */
	struct store_msg *msgs;		/* the records, one per UID */
	size_t n;
};

/* The flag names of args[key] into *bits_r; false after failing req. */
static bool
ctl_change_flags(struct ctl_req *req, const char *key, uint32_t *bits_r)
{
	json_t *v = json_object_get(req->args, key), *e;
	size_t i;

	*bits_r = 0;
	if (v == NULL)
		return true;
	if (!json_is_array(v))
		goto bad;
	json_array_foreach(v, i, e) {
		uint32_t bit;

		if (!json_is_string(e))
			goto bad;
		if ((bit = ctl_flag_parse(json_string_value(e))) == 0) {
			ctl_req_fail(req, CTL_ERR_BAD_ARGS, "unknown flag "
				     "'%.60s' (flags: seen, answered, flagged, "
				     "deleted, draft, forwarded, junk, notjunk)",
				     json_string_value(e));
			return false;
		}
		*bits_r |= bit;
	}
	return true;
bad:
	ctl_req_fail(req, CTL_ERR_BAD_ARGS, "\"%s\" must be a list of flag "
		     "names", key);
	return false;
}

/* A folder of the account, or false after failing req. */
static bool
ctl_change_folder(struct ctl_req *req, const char *account, const char *name,
		  struct store_folder *f_r)
{
	struct ms_err err = { 0 };
	int rc = store_folder_find(ctl_req_store(req), account, name, f_r,
				   &err);

	if (rc < 0)
		ctl_req_fail(req, CTL_ERR_STORE, "%s", err.msg);
	else if (rc == STORE_NOTFOUND ||
		 (f_r->attrs & (STORE_FOLDER_NOSELECT | STORE_FOLDER_GONE)))
		ctl_req_fail(req, CTL_ERR_NO_FOLDER, "%s has no folder '%.200s' "
			     "(see mailsyncctl folders %s)", account, name,
			     account);
	else
		return true;
	return false;
}

/* Every UID's record into c->msgs; false after failing req. */
static bool
ctl_change_msgs(struct ctl_req *req, struct ctl_change *c)
{
	json_t *v = json_object_get(req->args, "uids"), *e;
	struct ms_err err = { 0 };
	char missing[300] = "";
	size_t i, pos = 0, n_missing = 0;

	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > CTL_CHANGE_MAX_UIDS) {
		ctl_req_fail(req, CTL_ERR_BAD_ARGS, "\"uids\" must list 1 to %u "
			     "UIDs", CTL_CHANGE_MAX_UIDS);
		return false;
	}
	if ((c->msgs = calloc(json_array_size(v), sizeof(*c->msgs))) == NULL) {
		ctl_req_fail(req, CTL_ERR_INTERNAL, "out of memory");
		return false;
	}
	json_array_foreach(v, i, e) {
		json_int_t uid = json_integer_value(e);
		int rc;

		if (!json_is_integer(e) || uid <= 0 || uid > UINT32_MAX) {
			ctl_req_fail(req, CTL_ERR_BAD_ARGS, "\"uids\" must be "
				     "UIDs (1 to 4294967295)");
			return false;
		}
		rc = store_msg_get(ctl_req_store(req), c->f.id, (uint32_t)uid,
				   &c->msgs[c->n], &err);
		if (rc < 0) {
			ctl_req_fail(req, CTL_ERR_STORE, "%s", err.msg);
			return false;
		}
		if (rc == STORE_NOTFOUND) {
			if (n_missing++ < 10 && pos < sizeof(missing))
				pos += (size_t)snprintf(missing + pos,
							sizeof(missing) - pos,
							"%s%lld", pos > 0 ?
							" " : "",
							(long long)uid);
			continue;
		}
		c->n++;
	}
	if (n_missing > 0) {
		ctl_req_fail(req, CTL_ERR_NO_MESSAGE, "%s %.200s has no UID "
			     "%s%s; nothing was changed", c->account, c->f.name,
			     missing, n_missing > 10 ? " ..." : "");
		return false;
	}
	return true;
}

/*
 * A message already on its way out (a pending delete or move) cannot be
 * deleted or moved again: say so rather than record a change the server
 * would refuse.
 */
static bool
ctl_change_not_pending(struct ctl_req *req, struct ctl_change *c)
{
	struct store_change *ch = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;

	if (c->kind == CTL_CHANGE_FLAG)
		return true;
	if (store_change_list_folder(ctl_req_store(req), c->f.id, SIZE_MAX,
				     &ch, &n, &err) < 0) {
		ctl_req_fail(req, CTL_ERR_STORE, "%s", err.msg);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (ch[i].kind != STORE_CHANGE_DELETE &&
		    ch[i].kind != STORE_CHANGE_MOVE)
			continue;
		for (size_t k = 0; k < c->n; k++) {
			if (c->msgs[k].uid != ch[i].uid)
				continue;
			ctl_req_fail(req, CTL_ERR_STATE, "%s %.200s UID %u is "
				     "already to be %s on the next sync; "
				     "nothing was changed", c->account,
				     c->f.name, ch[i].uid, ch[i].kind ==
				     STORE_CHANGE_DELETE ? "deleted" : "moved");
			free(ch);
			return false;
		}
	}
	free(ch);
	return true;
}

/* One batch with every change; MS_OK with the count that changed. */
static int
ctl_change_record(struct store *s, const struct ctl_change *c,
		  size_t *changed_r, struct ms_err *err)
{
	struct store_batch *b = NULL;
	int rc;

	*changed_r = 0;
	if ((rc = store_batch_new(s, &b)) < 0)
		return ms_err_set(err, rc, "out of memory");
	for (size_t i = 0; i < c->n && rc >= 0; i++) {
		const struct store_msg *m = &c->msgs[i];

		switch (c->kind) {
		case CTL_CHANGE_FLAG:
			rc = store_batch_local_flags(b, m, (m->flags | c->add) &
						     ~c->remove);
			break;
		case CTL_CHANGE_MOVE:
			rc = store_batch_local_move(b, m->folder_id, m->uid,
						    c->dest.id);
			if (rc >= 0)
				rc = 1;
			break;
		case CTL_CHANGE_DELETE:
			rc = store_batch_local_delete(b, m->folder_id, m->uid);
			if (rc >= 0)
				rc = 1;
			break;
		}
		if (rc > 0)
			(*changed_r)++;
	}
	if (rc < 0)
		ms_err_set(err, rc, "out of memory");
	else
		rc = store_batch_commit(b, err);
	store_batch_free(&b);
	return rc;
}

static const char *const ctl_change_verb[] = {
	[CTL_CHANGE_FLAG] = "flag",
	[CTL_CHANGE_MOVE] = "move",
	[CTL_CHANGE_DELETE] = "delete",
};

static void
ctl_change_run(struct ctl_req *req, enum ctl_change_kind kind)
{
	struct ctl_change c = { .kind = kind };
	struct ms_err err = { 0 };
	const char *folder, *dest = NULL, *sync;
	size_t changed;
	json_t *uids;

	if ((c.account = ctl_arg_need_str(req, "account")) == NULL ||
	    (c.a = ctl_req_acct_find(req, c.account)) == NULL ||
	    (folder = ctl_arg_need_str(req, "folder")) == NULL)
		return;
	if (strcmp(acct_status(c.a)->protocol, "imap") != 0) {
		ctl_req_fail(req, CTL_ERR_STATE, "%s is a %s account: %s needs "
			     "IMAP", c.account, acct_status(c.a)->protocol,
			     ctl_change_verb[kind]);
		return;
	}
	if (!ctl_change_folder(req, c.account, folder, &c.f))
		return;
	if (kind == CTL_CHANGE_MOVE &&
	    ((dest = ctl_arg_need_str(req, "dest")) == NULL ||
	     !ctl_change_folder(req, c.account, dest, &c.dest)))
		return;
	if (kind == CTL_CHANGE_MOVE && c.dest.id == c.f.id) {
		ctl_req_fail(req, CTL_ERR_BAD_ARGS, "the messages are in "
			     "%.200s already", dest);
		return;
	}
	if (kind == CTL_CHANGE_FLAG &&
	    (!ctl_change_flags(req, "add", &c.add) ||
	     !ctl_change_flags(req, "remove", &c.remove)))
		return;
	if (kind == CTL_CHANGE_FLAG && (c.add & c.remove) != 0) {
		ctl_req_fail(req, CTL_ERR_BAD_ARGS, "a flag cannot be both "
			     "added and removed");
		return;
	}
	if (!ctl_change_msgs(req, &c) || !ctl_change_not_pending(req, &c))
		goto out;
	if (ctl_change_record(ctl_req_store(req), &c, &changed, &err) < 0) {
		ctl_req_fail(req, CTL_ERR_STORE, "%s", err.msg);
		goto out;
	}
	log_info("acct=%s ctl %s folder=\"%s\" uids=%zu changed=%zu%s%s%s",
		 c.account, ctl_change_verb[kind], c.f.name, c.n, changed,
		 dest != NULL ? " dest=\"" : "", dest != NULL ? c.dest.name : "",
		 dest != NULL ? "\"" : "");
	/* A paused account keeps the change for its next pass. */
	sync = changed == 0 ? "none" :
		acct_request_sync(c.a, NULL) == MS_OK ? "requested" : "later";
	uids = json_array();
	for (size_t i = 0; i < c.n; i++)
		json_array_append_new(uids, json_integer(c.msgs[i].uid));
	ctl_req_ok(req, json_pack("{s:s,s:o,s:o,s:I,s:s}", "account",
				  c.account, "folder", ctl_json_string(c.f.name),
				  "uids", uids, "changed", (json_int_t)changed,
				  "sync", sync));
out:
	free(c.msgs);
}

static void
ctl_cmd_flag_run(struct ctl_req *req)
{
	ctl_change_run(req, CTL_CHANGE_FLAG);
}

static void
ctl_cmd_move_run(struct ctl_req *req)
{
	ctl_change_run(req, CTL_CHANGE_MOVE);
}

static void
ctl_cmd_delete_run(struct ctl_req *req)
{
	ctl_change_run(req, CTL_CHANGE_DELETE);
}

const struct ctl_cmd ctl_cmd_flag = {
	.name = "flag",
	.usage = "ACCOUNT FOLDER UID... +FLAG|-FLAG...",
	.run_cb = ctl_cmd_flag_run,
};

const struct ctl_cmd ctl_cmd_move = {
	.name = "move",
	.usage = "ACCOUNT FOLDER UID... DEST",
	.run_cb = ctl_cmd_move_run,
};

const struct ctl_cmd ctl_cmd_delete = {
	.name = "delete",
	.usage = "ACCOUNT FOLDER UID...",
	.run_cb = ctl_cmd_delete_run,
};
