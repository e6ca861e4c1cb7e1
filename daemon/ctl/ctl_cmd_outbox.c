/*
 * ctl_cmd_outbox.c - outbox {op: list | show | retry | drop | wait}.
 *
 * list and show read the store's outbox (an entry's state as users see
 * it: queued, retrying, sending, failed, sent; "possibly sent" where the
 * window after the final "." was hit).  retry and drop go to the
 * account's sender (the host's outbox_cb), which owns the outbox state.
 * wait (`mailsyncctl send --wait`) names the spool file the client just
 * wrote and is answered when that message's first outcome is recorded:
 * sent, failed, or queued again with the server's reply; the sender
 * reports each recorded change (ctl_server_outbox_event()).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_int.h"
#include "log.h"

struct ctl_outbox_wait {
	struct ctl_outbox_wait *next;
	struct ctl_req *req;
	char spool[256];
};

/* The state as users read it. */
static const char *
ctl_outbox_state(const struct store_outbox *e)
{
	switch (e->state) {
	case STORE_OUTBOX_QUEUED:
		return e->attempts > 0 ? "retrying" : "queued";
	case STORE_OUTBOX_SENDING:
		return "sending";
	case STORE_OUTBOX_FAILED:
		return "failed";
	case STORE_OUTBOX_SENT:
		return "sent";
	}
	return "unknown";
}

/* A "\n"-separated list as a JSON array; with is_pairs, of
 * {"rcpt", "reply"} from "rcpt\treply" lines. */
static json_t *
ctl_outbox_list_json(const char *s, bool is_pairs)
{
	json_t *v = json_array();

	while (s != NULL && *s != '\0') {
		size_t line = strcspn(s, "\n"), a = strcspn(s, "\t\n");
		json_t *item;

		if (is_pairs)
			item = json_pack("{s:s%,s:s%}", "rcpt", s, a, "reply",
					 s + (a < line ? a + 1 : a),
					 a < line ? line - a - 1 : 0);
		else
			item = json_stringn(s, line);
		if (line > 0)
			json_array_append_new(v, item);
		else
			json_decref(item);
		s += line + (s[line] == '\n');
	}
	return v;
}

static json_t *
ctl_outbox_entry_json(struct store *s, const struct store_outbox *e)
{
	struct store_summary sum = { 0 };
	struct ms_err err = { 0 };
	const char *copy = e->flags & STORE_OUTBOX_SENT_FILED ? "filed" :
			   e->flags & STORE_OUTBOX_SENT_PENDING ? "pending" :
			   "none";
	json_t *o;

	o = json_pack("{s:I,s:s,s:s,s:b,s:o,s:o,s:o,s:s,s:s,s:s,s:I,s:I,s:I,"
		      "s:s}",
		      "id", (json_int_t)e->id, "account", e->account,
		      "state", ctl_outbox_state(e),
		      "possibly_sent",
		      (e->flags & STORE_OUTBOX_POSSIBLY_SENT) != 0,
		      "recipients", ctl_outbox_list_json(e->rcpts, false),
		      "delivered", ctl_outbox_list_json(e->delivered, false),
		      "rejected", ctl_outbox_list_json(e->rejected, true),
		      "from", e->from, "message_id", e->message_id,
		      "last_reply", e->last_error,
		      "attempts", (json_int_t)e->attempts,
		      "created_ms", (json_int_t)e->created * 1000,
		      "next_ms", (json_int_t)(e->state == STORE_OUTBOX_QUEUED ?
					      e->next_attempt * 1000 : 0),
		      "sent_copy", copy);
	if (o != NULL && store_summary_get(s, e->hash, &sum, &err) == MS_OK) {
		json_object_set_new(o, "subject", json_string(sum.subject));
		store_summary_deinit(&sum);
	}
	return o;
}

/* The store's entries; NULL after failing the request. */
static struct store_outbox *
ctl_outbox_read(struct ctl_req *req, size_t *n_r)
{
	struct store_outbox *v = NULL;
	struct ms_err err = { 0 };

	if (store_outbox_list(ctl_req_store(req), &v, n_r, &err) < 0) {
		ctl_req_fail(req, CTL_ERR_STORE, "%s", err.msg);
		return NULL;
	}
	if (v == NULL)
		v = calloc(1, sizeof(*v));	/* none: an empty list */
	return v;
}

static void
ctl_outbox_free(struct store_outbox *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_outbox_deinit(&v[i]);
	free(v);
}

static void
ctl_outbox_list(struct ctl_req *req)
{
	const char *only = json_string_value(json_object_get(req->args,
							     "account"));
	json_t *a = json_array();
	struct store_outbox *v;
	size_t n = 0;

	if ((v = ctl_outbox_read(req, &n)) == NULL) {
		json_decref(a);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (only == NULL || strcmp(only, v[i].account) == 0)
			json_array_append_new(a, ctl_outbox_entry_json(
					      ctl_req_store(req), &v[i]));
	ctl_outbox_free(v, n);
	ctl_req_ok(req, json_pack("{s:o}", "entries", a));
}

static void
ctl_outbox_show(struct ctl_req *req, uint64_t id)
{
	struct store_outbox *v;
	size_t n = 0;

	if ((v = ctl_outbox_read(req, &n)) == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (v[i].id != id)
			continue;
		ctl_req_ok(req, ctl_outbox_entry_json(ctl_req_store(req),
						      &v[i]));
		ctl_outbox_free(v, n);
		return;
	}
	ctl_outbox_free(v, n);
	ctl_req_fail(req, CTL_ERR_NO_MESSAGE, "no outbox entry %llu "
		     "(mailsyncctl outbox lists them)", (unsigned long long)id);
}

/* --- send --wait ------------------------------------------------------------ */

/*
 * The entry of a spool file, once its first outcome is recorded: true
 * after answering (or failing) the request.
 */
static bool
ctl_outbox_wait_check(struct ctl_outbox_wait *w, bool is_first)
{
	struct ctl_req *req = w->req;
	struct store *s = ctl_req_store(req);
	struct store_outbox *v = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;

	if (!ctl_req_is_alive(req)) {
		ctl_req_fail(req, CTL_ERR_STATE, "client gone");
		return true;
	}
	if (store_outbox_list(s, &v, &n, &err) < 0) {
		ctl_req_fail(req, CTL_ERR_STORE, "%s", err.msg);
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_outbox *e = &v[i];

		if (strcmp(e->spool, w->spool) != 0)
			continue;
		/* Done: a verdict, or queued again after a try (its reply
		 * says why). */
		if (e->state == STORE_OUTBOX_SENT ||
		    e->state == STORE_OUTBOX_FAILED ||
		    (e->state == STORE_OUTBOX_QUEUED &&
		     e->last_error[0] != '\0')) {
			ctl_req_ok(req, ctl_outbox_entry_json(s, e));
			ctl_outbox_free(v, n);
			return true;
		}
		ctl_outbox_free(v, n);
		return false;
	}
	ctl_outbox_free(v, n);
	/* Not imported yet is normal at first; gone later means dropped. */
	if (!is_first) {
		ctl_req_fail(req, CTL_ERR_NO_MESSAGE, "the message left the "
			     "outbox (dropped) before an outcome");
		return true;
	}
	return false;
}

void
ctl_server_outbox_event(struct ctl_server *s, uint64_t id)
{
	struct ctl_outbox_wait **pp, *w;

	(void)id;	/* waits are by spool file: any change may be it */
	if (s == NULL)
		return;
	for (pp = &s->outbox_waits; (w = *pp) != NULL; ) {
		/* An import without an attempt leaves it waiting. */
		if (ctl_outbox_wait_check(w, true)) {
			*pp = w->next;
			free(w);
			continue;
		}
		pp = &w->next;
	}
}

void
ctl_outbox_close_waits(struct ctl_server *s)
{
	struct ctl_outbox_wait *w;

	while ((w = s->outbox_waits) != NULL) {
		s->outbox_waits = w->next;
		ctl_req_fail(w->req, CTL_ERR_STATE, "mailsyncd is stopping; "
			     "the message stays queued");
		free(w);
	}
}

static void
ctl_outbox_wait(struct ctl_req *req)
{
	const char *spool = ctl_arg_need_str(req, "spool");
	struct ctl_outbox_wait *w;

	if (spool == NULL)
		return;
	if (strlen(spool) >= sizeof(w->spool) || strchr(spool, '/') != NULL) {
		ctl_req_fail(req, CTL_ERR_BAD_ARGS, "\"spool\" is not a spool "
			     "file name");
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		ctl_req_fail(req, CTL_ERR_INTERNAL, "out of memory");
		return;
	}
	w->req = req;
	snprintf(w->spool, sizeof(w->spool), "%s", spool);
	if (ctl_outbox_wait_check(w, true)) {
		free(w);
		return;
	}
	w->next = req->srv->outbox_waits;
	req->srv->outbox_waits = w;
}

/* --- the command --------------------------------------------------------------- */

static void
ctl_cmd_outbox_run(struct ctl_req *req)
{
	const char *op = json_string_value(json_object_get(req->args, "op"));
	json_t *idv = json_object_get(req->args, "id");
	struct ms_err err = { 0 };
	uint64_t id;

	if (op == NULL || strcmp(op, "list") == 0) {
		ctl_outbox_list(req);
		return;
	}
	if (strcmp(op, "wait") == 0) {
		ctl_outbox_wait(req);
		return;
	}
	if (!json_is_integer(idv) || json_integer_value(idv) <= 0) {
		ctl_req_fail(req, CTL_ERR_BAD_ARGS, "\"id\" must be an entry's "
			     "number (mailsyncctl outbox lists them)");
		return;
	}
	id = (uint64_t)json_integer_value(idv);
	if (strcmp(op, "show") == 0) {
		ctl_outbox_show(req, id);
	} else if (strcmp(op, "retry") == 0 || strcmp(op, "drop") == 0) {
		if (ctl_req_outbox(req, op, id, &err) < 0)
			ctl_req_fail(req, CTL_ERR_NO_MESSAGE, "%s", err.msg);
		else
			ctl_req_ok(req, json_pack("{s:I,s:s}", "id",
						  (json_int_t)id, "done", op));
	} else {
		ctl_req_fail(req, CTL_ERR_BAD_ARGS, "\"op\" must be list, show, "
			     "retry, drop or wait");
	}
}

const struct ctl_cmd ctl_cmd_outbox = {
	.name = "outbox",
	.usage = "[retry|drop|show ID]",
	.run_cb = ctl_cmd_outbox_run,
};
