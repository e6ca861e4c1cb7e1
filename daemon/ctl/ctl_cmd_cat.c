/*
 * ctl_cmd_cat.c - cat ACCOUNT FOLDER UID: the message's raw bytes, as
 * the store holds them (the server's, byte for byte), sent as the
 * reply's payload and read from the store a piece at a time as the
 * client takes them (ctl_conn.c), never escaped into JSON and never
 * whole in memory.
 */
#include "ctl/ctl_cmd.h"

static void
ctl_cmd_cat_run(struct ctl_req *req)
{
	const char *account = ctl_arg_need_str(req, "account"), *folder;
	json_t *uidj = json_object_get(req->args, "uid");
	struct store *s = ctl_req_store(req);
	struct ms_err err = { 0 };
	struct store_folder f;
	struct store_msg m;
	json_int_t uid;
	int rc;

	if (account == NULL || ctl_req_acct_find(req, account) == NULL ||
	    (folder = ctl_arg_need_str(req, "folder")) == NULL)
		return;
	uid = json_integer_value(uidj);
	if (!json_is_integer(uidj) || uid <= 0 || uid > UINT32_MAX) {
		ctl_req_fail(req, CTL_ERR_BAD_ARGS, "\"uid\" must be a UID "
			     "(1 to 4294967295)");
		return;
	}
	rc = store_folder_find(s, account, folder, &f, &err);
	if (rc == STORE_NOTFOUND) {
		ctl_req_fail(req, CTL_ERR_NO_FOLDER, "%s has no folder "
			     "'%.200s' (see mailsyncctl folders %s)", account,
			     folder, account);
		return;
	}
	if (rc == MS_OK)
		rc = store_msg_get(s, f.id, (uint32_t)uid, &m, &err);
	if (rc == STORE_NOTFOUND) {
		ctl_req_fail(req, CTL_ERR_NO_MESSAGE, "%s %.200s has no UID %lld "
			     "(see mailsyncctl list %s %.200s)", account,
			     folder, (long long)uid, account, folder);
		return;
	}
	if (rc < 0) {
		ctl_req_fail(req, CTL_ERR_STORE, "%s", err.msg);
		return;
	}
	ctl_req_ok_body(req, json_pack("{s:s,s:o,s:I,s:I,s:o}", "account",
				       account, "folder",
				       ctl_json_string(f.name), "uid",
				       (json_int_t)m.uid, "size",
				       (json_int_t)m.size, "flags",
				       ctl_flags_json(m.flags)),
			m.hash, m.size);
}

const struct ctl_cmd ctl_cmd_cat = {
	.name = "cat",
	.usage = "ACCOUNT FOLDER UID",
	.run_cb = ctl_cmd_cat_run,
};
