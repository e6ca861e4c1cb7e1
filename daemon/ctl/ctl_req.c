/*
 * ctl_req.c - a request's life (ctl_cmd.h): found in the command table,
 * run, answered once, freed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_int.h"
#include "log.h"

const struct ctl_cmd *
ctl_cmd_find(const char *name)
{
	for (size_t i = 0; ctl_cmds[i] != NULL; i++)
		if (strcmp(ctl_cmds[i]->name, name) == 0)
			return ctl_cmds[i];
	return NULL;
}

static void
ctl_req_free(struct ctl_req *req)
{
	struct ctl_conn *c = req->conn;

	json_decref(req->frame);
	free(req);
	ctl_conn_unref(c);
}

void
ctl_req_dispatch(struct ctl_conn *c, const struct ctl_msg *m)
{
	const struct ctl_cmd *cmd = ctl_cmd_find(m->cmd);
	struct ms_buf names;
	struct ctl_req *req;

	if (cmd == NULL) {
		char msg[600];

		ms_buf_init(&names, 4096);
		for (size_t i = 0; ctl_cmds[i] != NULL; i++)
			if (ms_buf_printf(&names, "%s%s", i > 0 ? ", " : "",
					  ctl_cmds[i]->name) != MS_OK)
				break;
		snprintf(msg, sizeof(msg), "unknown command '%.60s' (commands: "
			 "%s)", m->cmd, names.len > 0 ? (char *)names.p : "");
		ctl_conn_queue_error(c, m->id, CTL_ERR_UNKNOWN_COMMAND, msg);
		ms_buf_deinit(&names);
		return;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL) {
		ctl_conn_queue_error(c, m->id, CTL_ERR_INTERNAL,
				     "out of memory");
		return;
	}
	req->srv = c->srv;
	req->conn = c;
	ctl_conn_ref(c);
	req->id = m->id;
	req->frame = json_incref(m->root);
	req->cmd = m->cmd;
	req->args = m->args;
	log_debug("ctl client=%llu id=%llu cmd=%s", (unsigned long long)c->id,
		  (unsigned long long)m->id, cmd->name);
	cmd->run_cb(req);
}

/* --- replies ------------------------------------------------------------- */

void
ctl_req_ok(struct ctl_req *req, json_t *data)
{
	ctl_conn_queue_reply(req->conn, req->id, data, NULL);
	if (data != NULL)
		json_decref(data);
	ctl_req_free(req);
}

void
ctl_req_ok_body(struct ctl_req *req, json_t *data,
		const uint8_t hash[STORE_HASH_LEN], uint64_t size)
{
	struct ctl_body_stream bs = { .size = size };

	memcpy(bs.hash, hash, STORE_HASH_LEN);
	ctl_conn_queue_reply(req->conn, req->id, data, &bs);
	if (data != NULL)
		json_decref(data);
	ctl_req_free(req);
}

void
ctl_req_fail(struct ctl_req *req, const char *code, const char *fmt, ...)
{
	char msg[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_conn_queue_error(req->conn, req->id, code, msg);
	ctl_req_free(req);
}

void
ctl_req_event(struct ctl_req *req, const char *name, json_t *fields)
{
	ctl_conn_queue_event(req->conn, name, fields);
	if (fields != NULL)
		json_decref(fields);
}

bool
ctl_req_is_alive(const struct ctl_req *req)
{
	return !req->conn->is_closing;
}

/* --- the daemon ---------------------------------------------------------- */

struct store *
ctl_req_store(const struct ctl_req *req)
{
	return req->srv->host.store;
}

size_t
ctl_req_n_accts(const struct ctl_req *req)
{
	const struct ctl_host *h = &req->srv->host;

	return h->n_accts_cb(h->arg);
}

struct acct *
ctl_req_acct(const struct ctl_req *req, size_t i)
{
	const struct ctl_host *h = &req->srv->host;

	return h->acct_cb(h->arg, i);
}

struct acct *
ctl_req_acct_find(struct ctl_req *req, const char *name)
{
	size_t n = ctl_req_n_accts(req);
	struct ms_buf names;

	for (size_t i = 0; i < n; i++)
		if (strcmp(acct_name(ctl_req_acct(req, i)), name) == 0)
			return ctl_req_acct(req, i);
	ms_buf_init(&names, 4096);
	for (size_t i = 0; i < n; i++)
		if (ms_buf_printf(&names, "%s%s", i > 0 ? ", " : "",
				  acct_name(ctl_req_acct(req, i))) != MS_OK)
			break;
	ctl_req_fail(req, CTL_ERR_NO_ACCOUNT, "no account '%.100s' (the "
		     "daemon has: %s)", name,
		     names.len > 0 ? (char *)names.p : "none");
	ms_buf_deinit(&names);
	return NULL;
}

void
ctl_req_watch(struct ctl_req *req)
{
	req->conn->is_watching = true;
}

int
ctl_req_reload(struct ctl_req *req, json_t **data_r)
{
	const struct ctl_host *h = &req->srv->host;

	return h->reload_cb(h->arg, data_r);
}

int
ctl_req_outbox(struct ctl_req *req, const char *op, uint64_t id,
	       struct ms_err *err_r)
{
	const struct ctl_host *h = &req->srv->host;

	if (h->outbox_cb == NULL)
		return ms_err_set(err_r, MS_EINVAL, "no account sends");
	return h->outbox_cb(h->arg, op, id, err_r);
}

/* --- args ------------------------------------------------------------------ */

const char *
ctl_arg_str(struct ctl_req *req, const char *key, bool *is_bad)
{
	json_t *v = json_object_get(req->args, key);

	*is_bad = false;
	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*is_bad = true;
		ctl_req_fail(req, CTL_ERR_BAD_ARGS, "\"%s\" must be a string",
			     key);
		return NULL;
	}
	return json_string_value(v);
}

const char *
ctl_arg_need_str(struct ctl_req *req, const char *key)
{
	bool is_bad;
	const char *s = ctl_arg_str(req, key, &is_bad);

	if (s == NULL && !is_bad)
		ctl_req_fail(req, CTL_ERR_BAD_ARGS, "\"%s\" is missing", key);
	return s;
}

bool
ctl_arg_bool(const struct ctl_req *req, const char *key)
{
	return json_is_true(json_object_get(req->args, key));
}
