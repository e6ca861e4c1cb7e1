/*
 * ctl_cmd_reload.c - reload: the daemon re-reads its configuration file
 * (daemon_reload(), as SIGHUP does).  A bad file keeps the running
 * configuration; the error's message lists every "FILE:LINE: problem",
 * one a line.
 */
#include "ctl/ctl_cmd.h"

static void
ctl_cmd_reload_run(struct ctl_req *req)
{
	json_t *data = NULL, *p;
	struct ms_buf msg;
	size_t i;

	if (ctl_req_reload(req, &data) == MS_OK) {
		ctl_req_ok(req, data);
		return;
	}
	ms_buf_init(&msg, 16384);
	if (ms_buf_append_cstr(&msg, "the configuration has problems; the "
			       "running one stays:") != MS_OK)
		ms_buf_reset(&msg);
	json_array_foreach(data, i, p)
		if (ms_buf_printf(&msg, "\n%s", json_string_value(p)) != MS_OK)
			break;
	ctl_req_fail(req, CTL_ERR_CONFIG, "%s", (const char *)msg.p);
	ms_buf_deinit(&msg);
	if (data != NULL)
		json_decref(data);
}

const struct ctl_cmd ctl_cmd_reload = {
	.name = "reload",
	.usage = "",
	.run_cb = ctl_cmd_reload_run,
};
