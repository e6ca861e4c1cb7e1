/*
 * ctl_cmd_status.c - status, accounts, version: what the daemon is and
 * how each account is, answered at once from the runtimes and short
 * store reads.
 */
#include <string.h>

#include "ctl/ctl_cmd.h"
#include "ms_version.h"

static void
ctl_cmd_status_run(struct ctl_req *req)
{
	size_t n = ctl_req_n_accts(req);
	json_t *v = json_array();
	bool is_bad;
	const char *only = ctl_arg_str(req, "account", &is_bad);

	if (is_bad || (only != NULL && ctl_req_acct_find(req, only) == NULL)) {
		json_decref(v);
		return;
	}
	for (size_t i = 0; i < n && v != NULL; i++) {
		struct acct *a = ctl_req_acct(req, i);

		if (only != NULL && strcmp(acct_name(a), only) != 0)
			continue;
		if (json_array_append_new(v, ctl_json_acct(ctl_req_store(req),
							   a)) != 0) {
			json_decref(v);
			v = NULL;
		}
	}
	if (v == NULL) {
		ctl_req_fail(req, CTL_ERR_INTERNAL, "out of memory");
		return;
	}
	ctl_req_ok(req, json_pack("{s:s,s:o}", "version", MS_VERSION,
				  "accounts", v));
}

const struct ctl_cmd ctl_cmd_status = {
	.name = "status",
	.usage = "[ACCOUNT]",
	.run_cb = ctl_cmd_status_run,
};

static void
ctl_cmd_accounts_run(struct ctl_req *req)
{
	size_t n = ctl_req_n_accts(req);
	json_t *v = json_array();

	for (size_t i = 0; i < n && v != NULL; i++) {
		const struct acct_status *st = acct_status(ctl_req_acct(req, i));

		json_array_append_new(v, json_pack("{s:s,s:s,s:s}", "name",
						   st->name, "protocol",
						   st->protocol, "state",
						   acct_state_name(st->state)));
	}
	ctl_req_ok(req, json_pack("{s:o}", "accounts", v));
}

const struct ctl_cmd ctl_cmd_accounts = {
	.name = "accounts",
	.usage = "",
	.run_cb = ctl_cmd_accounts_run,
};

static void
ctl_cmd_version_run(struct ctl_req *req)
{
	ctl_req_ok(req, json_pack("{s:s,s:i}", "version", MS_VERSION, "proto",
				  CTL_PROTO_VERSION));
}

const struct ctl_cmd ctl_cmd_version = {
	.name = "version",
	.usage = "",
	.run_cb = ctl_cmd_version_run,
};

/* The table, for a client that completes command names. */
static void
ctl_cmd_help_run(struct ctl_req *req)
{
	json_t *v = json_array();

	for (size_t i = 0; ctl_cmds[i] != NULL; i++)
		json_array_append_new(v, json_pack("{s:s,s:s}", "name",
						   ctl_cmds[i]->name, "usage",
						   ctl_cmds[i]->usage));
	ctl_req_ok(req, json_pack("{s:o}", "commands", v));
}

const struct ctl_cmd ctl_cmd_help = {
	.name = "help",
	.usage = "",
	.run_cb = ctl_cmd_help_run,
};
