/*
 * ctl_json.c - what the account runtimes and the store hold, as the JSON
 * that `status` and watch events carry (field names: mailsyncctl(1)).
 * Times are milliseconds since the Unix epoch, null for never.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_cmd.h"
#include "log.h"

static json_t *
ctl_json_time(uint64_t ms)
{
	return ms == 0 ? json_null() : json_integer((json_int_t)ms);
}

json_t *
ctl_json_progress(const struct acct_status *st)
{
	const struct acct_progress *p = &st->progress;

	return json_pack("{s:i,s:i,s:I,s:I,s:I,s:I,s:o,s:f,s:f}",
			 "folders_done", (int)p->folders_done,
			 "folders_total", (int)p->folders_total,
			 "msgs_done", (json_int_t)p->msgs_done,
			 "msgs_total", (json_int_t)p->msgs_total,
			 "bytes_done", (json_int_t)p->bytes_done,
			 "bytes_total", (json_int_t)p->bytes_total,
			 "folder", ctl_json_string(p->folder),
			 "seconds", p->seconds,
			 "rate_bps", st->rate_bps);
}

json_t *
ctl_json_result(const struct acct_result *r)
{
	return json_pack("{s:b,s:o,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
			 "s:f}",
			 "ok", r->rc == MS_OK,
			 "error", ctl_json_string(r->rc == MS_OK ? "" :
						  r->error),
			 "folders", (int)r->folders,
			 "folder_errors", (int)r->folder_errors,
			 "new", (json_int_t)r->new_msgs,
			 "changed", (json_int_t)r->changed,
			 "deleted", (json_int_t)r->deleted,
			 "appended", (json_int_t)r->appended,
			 "moved", (json_int_t)r->moved,
			 "refused", (json_int_t)r->refused,
			 "unsendable", (json_int_t)r->unsendable,
			 "bytes", (json_int_t)r->bytes,
			 "seconds", r->seconds);
}

static bool
ctl_json_has_folder(const struct store_folder *v, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			return true;
	return false;
}

/* Counts from the store: folders, messages, refusals, outbox. */
static int
ctl_json_store_counts(struct store *s, const char *name, json_t *o)
{
	struct store_folder *fv = NULL;
	struct store_refusal *rv = NULL;
	struct store_outbox *ov = NULL;
	size_t nf = 0, nr = 0, no = 0, folders = 0;
	uint64_t msgs = 0, refused = 0, unsendable = 0, queued = 0, failed = 0;
	struct ms_err err = { 0 };
	int rc;

	if ((rc = store_folder_list(s, name, &fv, &nf, &err)) < 0 ||
	    (rc = store_refusal_list(s, 0, &rv, &nr, &err)) < 0 ||
	    (rc = store_outbox_list(s, &ov, &no, &err)) < 0) {
		log_warn("ctl status %s: %s", name, err.msg);
		goto out;
	}
	for (size_t i = 0; i < nf; i++) {
		if (fv[i].attrs & (STORE_FOLDER_GONE | STORE_FOLDER_NOSELECT))
			continue;
		folders++;
		msgs += fv[i].local_count;
	}
	for (size_t i = 0; i < nr; i++) {
		if (!ctl_json_has_folder(fv, nf, rv[i].folder_id))
			continue;
		if (rv[i].kind == STORE_REFUSAL_REFUSED)
			refused++;
		else if (rv[i].kind == STORE_REFUSAL_UNSENDABLE)
			unsendable++;
	}
	for (size_t i = 0; i < no; i++) {
		if (strcmp(ov[i].account, name) == 0) {
			if (ov[i].state == STORE_OUTBOX_FAILED)
				failed++;
			else if (ov[i].state != STORE_OUTBOX_SENT)
				queued++;	/* sent ones are history */
		}
	}
	json_object_set_new(o, "folders", json_integer((json_int_t)folders));
	json_object_set_new(o, "messages", json_integer((json_int_t)msgs));
	json_object_set_new(o, "refused", json_integer((json_int_t)refused));
	json_object_set_new(o, "unsendable",
			    json_integer((json_int_t)unsendable));
	json_object_set_new(o, "outbox", json_pack("{s:I,s:I}", "queued",
						   (json_int_t)queued,
						   "failed",
						   (json_int_t)failed));
out:
	for (size_t i = 0; i < no; i++)
		store_outbox_deinit(&ov[i]);
	free(ov);
	free(rv);
	free(fv);
	return rc;
}

json_t *
ctl_json_acct(struct store *s, struct acct *a)
{
	const struct acct_status *st = acct_status(a);
	json_t *o;

	o = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:i,s:i,s:o,s:s}",
		      "name", st->name,
		      "protocol", st->protocol,
		      "state", acct_state_name(st->state),
		      "reason", ctl_json_string(st->reason),
		      "last_sync", ctl_json_time(st->last_sync_ms),
		      "last_attempt", ctl_json_time(st->last_attempt_ms),
		      "next_sync", ctl_json_time(st->next_ms),
		      "passes", (json_int_t)st->passes,
		      "backoff_attempt", (int)st->sched.backoff.attempt,
		      "auth_failures", (int)st->sched.auth_failures,
		      "mirror_error", ctl_json_string(st->mirror_error),
		      "push", st->push);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "progress", st->state == ACCT_SYNCING ?
			    ctl_json_progress(st) : json_null());
	json_object_set_new(o, "last", st->passes > 0 ?
			    ctl_json_result(&st->last) : json_null());
	(void)ctl_json_store_counts(s, st->name, o);
	return o;
}
