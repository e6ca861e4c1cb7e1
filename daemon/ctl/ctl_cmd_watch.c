/*
 * ctl_cmd_watch.c - watch: the reply carries every account's status;
 * from then on the connection gets every account event (state,
 * progress, pass-done, new-mail) until the client goes.  A watcher that
 * does not read is dropped (ctl_conn.c), never buffered without bound.
 */
#include "ctl/ctl_cmd.h"

static void
ctl_cmd_watch_run(struct ctl_req *req)
{
	size_t n = ctl_req_n_accts(req);
	json_t *v = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(v, ctl_json_acct(ctl_req_store(req),
						       ctl_req_acct(req, i)));
	ctl_req_watch(req);
	ctl_req_ok(req, json_pack("{s:o}", "accounts", v));
}

const struct ctl_cmd ctl_cmd_watch = {
	.name = "watch",
	.usage = "",
	.run_cb = ctl_cmd_watch_run,
};
