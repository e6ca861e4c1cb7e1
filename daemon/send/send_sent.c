/*
 * send_sent.c - Sent copies over IMAP (send_sent.h).
 *
 * States, in order: CONNECTING -> LIST (only to find \Sent) -> SELECT
 * (-> CREATE -> SELECT when the folder is missing) -> SEARCH -> APPEND
 * (when not found) -> SEARCH of the next item ... -> LOGOUT -> DONE.
 */
#include "send/send_sent.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct/acct_engine.h"
#include "imap/imap_utf7.h"
#include "log.h"
#include "session/imap_session.h"

enum send_sent_state {
	SEND_SENT_CONNECTING,
	SEND_SENT_LIST,
	SEND_SENT_SELECT,
	SEND_SENT_CREATE,
	SEND_SENT_SEARCH,
	SEND_SENT_APPEND,
	SEND_SENT_LOGOUT,
	SEND_SENT_DONE,
};

static const char *const send_sent_state_names[] = {
	[SEND_SENT_CONNECTING] = "connecting",
	[SEND_SENT_LIST] = "list",
	[SEND_SENT_SELECT] = "select",
	[SEND_SENT_CREATE] = "create",
	[SEND_SENT_SEARCH] = "search",
	[SEND_SENT_APPEND] = "append",
	[SEND_SENT_LOGOUT] = "logout",
	[SEND_SENT_DONE] = "done",
};

struct send_sent {
	struct send_sent_params p;
	const char *name;
	struct imap_session *sess;
	enum send_sent_state state;
	char folder[512];		/* UTF-8 */
	size_t cur;
	bool has_created;
	bool is_found;			/* the current item's search hit */
	bool is_cancelled;
	struct ms_err err;		/* the first failure */
};

static void
send_sent_set_state(struct send_sent *s, enum send_sent_state st)
{
	if (s->state == st)
		return;
	log_debug("acct=%s sent-copy state=%s->%s", s->name,
		  send_sent_state_names[s->state], send_sent_state_names[st]);
	s->state = st;
}

static void
send_sent_fail(struct send_sent *s, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
send_sent_fail(struct send_sent *s, int rc, const char *fmt, ...)
{
	va_list ap;

	if (s->err.code == MS_OK) {
		s->err.code = rc;
		va_start(ap, fmt);
		vsnprintf(s->err.msg, sizeof(s->err.msg), fmt, ap);
		va_end(ap);
	}
	imap_session_close(s->sess, rc);
}

/* Builds the command (tag >= 0 or an error) and hands it over. */
static void
send_sent_submit(struct send_sent *s, int tag,
		 void (*done)(struct imap_session *, int,
			      const struct imap_ev_status *, void *),
		 void (*event)(struct imap_session *,
			       const struct imap_event *, void *))
{
	struct imap_session_cmd_cbs cb = { event, done, s };

	if (tag < 0 || imap_session_submit(s->sess, tag, &cb) != MS_OK)
		send_sent_fail(s, MS_EINTERNAL, "cannot build an IMAP command "
			       "for the Sent copy");
}

static void
send_sent_quiet(struct imap_session *sess, const struct imap_event *ev,
		void *arg)
{
	(void)sess;
	(void)ev;
	(void)arg;
}

static void send_sent_next(struct send_sent *s);

/* True when a command ended OK; else (a refusal) the run fails with
 * "WHAT refused: text"; false too when the session ended first. */
static bool
send_sent_is_ok(struct send_sent *s, int rc, const struct imap_ev_status *st,
		const char *what)
{
	if (rc != MS_OK)
		return false;	/* the session's end reports */
	if (st->status == IMAP_STATUS_OK)
		return true;
	send_sent_fail(s, MS_ERESP, "%s %s refused: %.*s", what, s->folder,
		       (int)st->text.len, (const char *)st->text.p);
	return false;
}

/* --- per item ------------------------------------------------------------- */

static void
send_sent_on_append(struct imap_session *sess, int rc,
		    const struct imap_ev_status *st, void *arg)
{
	struct send_sent *s = arg;
	struct send_sent_item *it = &s->p.items[s->cur];

	(void)sess;
	if (!send_sent_is_ok(s, rc, st, "APPEND to"))
		return;
	it->is_filed = true;
	log_info("acct=%s outbox id=%llu Sent copy filed in %s", s->name,
		 (unsigned long long)it->id, s->folder);
	s->cur++;
	send_sent_next(s);
}

static void
send_sent_append(struct send_sent *s)
{
	struct send_sent_item *it = &s->p.items[s->cur];
	struct imap_client *core = imap_session_core(s->sess);
	struct ms_slice folder = ms_slice_from_cstr(s->folder);
	bool has_nul = memchr(it->body.p, 0, it->body.len) != NULL;
	int tag;

	send_sent_set_state(s, SEND_SENT_APPEND);
	if (has_nul && (imap_session_caps(s->sess) & IMAP_SESSION_CAP_BINARY))
		tag = imap_cmd_append_binary(core, folder, "\\Seen",
					     (struct ms_slice){ NULL, 0 },
					     it->body);
	else
		tag = imap_cmd_append(core, folder, "\\Seen",
				      (struct ms_slice){ NULL, 0 }, it->body);
	send_sent_submit(s, tag, send_sent_on_append, send_sent_quiet);
}

static void
send_sent_on_search_event(struct imap_session *sess,
			  const struct imap_event *ev, void *arg)
{
	struct send_sent *s = arg;

	(void)sess;
	if (ev->type == IMAP_EV_SEARCH && ev->u.search.nums.len > 0)
		s->is_found = true;
}

static void
send_sent_on_search(struct imap_session *sess, int rc,
		    const struct imap_ev_status *st, void *arg)
{
	struct send_sent *s = arg;
	struct send_sent_item *it = &s->p.items[s->cur];

	(void)sess;
	if (!send_sent_is_ok(s, rc, st, "SEARCH in"))
		return;
	if (!s->is_found) {
		send_sent_append(s);
		return;
	}
	/* Filed before (a crash between APPEND and its record). */
	it->is_filed = it->was_there = true;
	log_info("acct=%s outbox id=%llu Sent copy already in %s", s->name,
		 (unsigned long long)it->id, s->folder);
	s->cur++;
	send_sent_next(s);
}

/* The next item: its search, its APPEND; LOGOUT after the last. */
static void
send_sent_next(struct send_sent *s)
{
	struct send_sent_item *it;

	if (s->is_cancelled || s->cur >= s->p.n_items) {
		send_sent_set_state(s, SEND_SENT_LOGOUT);
		imap_session_close(s->sess, s->is_cancelled ? MS_ECANCELED :
				   MS_OK);
		return;
	}
	it = &s->p.items[s->cur];
	s->is_found = false;
	if (it->message_id == NULL || it->message_id[0] == '\0') {
		send_sent_append(s);
		return;
	}
	send_sent_set_state(s, SEND_SENT_SEARCH);
	send_sent_submit(s, imap_cmd_uid_search_header(
			 imap_session_core(s->sess), MS_SLICE_LIT("Message-ID"),
			 ms_slice_from_cstr(it->message_id)),
			 send_sent_on_search, send_sent_on_search_event);
}

/* --- the folder ------------------------------------------------------------ */

static void send_sent_select(struct send_sent *s);

static void
send_sent_on_create(struct imap_session *sess, int rc,
		    const struct imap_ev_status *st, void *arg)
{
	struct send_sent *s = arg;

	(void)sess;
	if (rc != MS_OK)
		return;
	/* NO [ALREADYEXISTS] is as good: another client made it. */
	log_info("acct=%s created %s for Sent copies (%s)", s->name,
		 s->folder, st->status == IMAP_STATUS_OK ? "OK" : "NO");
	send_sent_select(s);
}

static void
send_sent_on_select(struct imap_session *sess, int rc,
		    const struct imap_ev_status *st, void *arg)
{
	struct send_sent *s = arg;

	(void)sess;
	if (rc != MS_OK)
		return;
	if (st->status == IMAP_STATUS_OK) {
		send_sent_next(s);
		return;
	}
	if (!s->has_created) {
		s->has_created = true;
		send_sent_set_state(s, SEND_SENT_CREATE);
		send_sent_submit(s, imap_cmd_create(imap_session_core(s->sess),
			 ms_slice_from_cstr(s->folder)), send_sent_on_create,
			 send_sent_quiet);
		return;
	}
	send_sent_fail(s, MS_ERESP, "cannot select %s for the Sent copy: "
		       "%.*s", s->folder, (int)st->text.len,
		       (const char *)st->text.p);
}

static void
send_sent_select(struct send_sent *s)
{
	struct imap_select_opts o = { 0 };

	send_sent_set_state(s, SEND_SENT_SELECT);
	send_sent_submit(s, imap_cmd_select(imap_session_core(s->sess),
			 ms_slice_from_cstr(s->folder), &o),
			 send_sent_on_select, send_sent_quiet);
}

static void
send_sent_on_list_event(struct imap_session *sess, const struct imap_event *ev,
			void *arg)
{
	struct send_sent *s = arg;
	struct ms_slice cur, item;
	struct ms_buf name;

	(void)sess;
	if (ev->type != IMAP_EV_LIST || s->folder[0] != '\0')
		return;
	cur = ev->u.list_resp.attrs;
	while (imap_list_next(&cur, &item)) {
		if (!ms_slice_case_eq_cstr(item, "\\Sent"))
			continue;
		ms_buf_init(&name, sizeof(s->folder) - 1);
		if (imap_utf7_decode(ev->u.list_resp.name, &name) == MS_OK &&
		    name.len > 0)
			snprintf(s->folder, sizeof(s->folder), "%s",
				 (const char *)name.p);
		ms_buf_deinit(&name);
		return;
	}
}

static void
send_sent_on_list(struct imap_session *sess, int rc,
		  const struct imap_ev_status *st, void *arg)
{
	struct send_sent *s = arg;

	(void)sess;
	(void)st;
	if (rc != MS_OK)
		return;
	if (s->folder[0] == '\0') {
		snprintf(s->folder, sizeof(s->folder), "Sent");
		log_info("acct=%s no folder is marked \\Sent; Sent copies go "
			 "to %s (set sent_folder to choose)", s->name,
			 s->folder);
	}
	send_sent_select(s);
}

/* --- the session ------------------------------------------------------------- */

static void
send_sent_on_ready(struct imap_session *sess, void *arg)
{
	struct send_sent *s = arg;

	(void)sess;
	if (s->is_cancelled) {
		imap_session_close(s->sess, MS_ECANCELED);
		return;
	}
	if (s->folder[0] != '\0') {
		send_sent_select(s);
		return;
	}
	send_sent_set_state(s, SEND_SENT_LIST);
	send_sent_submit(s, imap_cmd_list(imap_session_core(s->sess),
			 MS_SLICE_LIT(""), MS_SLICE_LIT("*"),
			 (imap_session_caps(s->sess) &
			  IMAP_SESSION_CAP_SPECIAL_USE) ?
			 IMAP_LIST_RET_SPECIAL_USE : 0, 0),
			 send_sent_on_list, send_sent_on_list_event);
}

static void
send_sent_on_unsolicited(struct imap_session *sess, const struct imap_event *ev,
			 void *arg)
{
	(void)sess;
	(void)ev;
	(void)arg;
}

static void
send_sent_on_close(struct imap_session *sess, int reason,
		   const struct ms_err *err, void *arg)
{
	struct send_sent *s = arg;
	int rc = s->err.code;

	(void)sess;
	s->sess = NULL;
	if (rc == MS_OK && reason != MS_OK) {
		rc = reason;
		if (err != NULL && err->msg[0] != '\0')
			s->err = *err;
		else
			ms_err_set(&s->err, reason, "%s", ms_strerror(reason));
	}
	if (rc == MS_OK && s->cur < s->p.n_items)
		rc = ms_err_set(&s->err, MS_ECONN, "the IMAP session ended "
				"before every Sent copy was filed");
	s->err.code = rc;
	send_sent_set_state(s, SEND_SENT_DONE);
	s->p.on_done_cb(rc, &s->err, s->p.arg);
	free(s);
}

int
send_sent_start(const struct send_sent_params *p, struct send_sent **s_r,
		struct ms_err *err_r)
{
	const struct cfg_account *a = p->account;
	struct imap_session_params sp = {
		.account = a->name,
		.host = a->host,
		.port = a->port,
		.tls = a->tls == CFG_TLS_IMPLICIT ? NET_TLS_IMPLICIT :
		       a->tls == CFG_TLS_STARTTLS ? NET_TLS_STARTTLS :
		       NET_TLS_NONE,
		.tls_ctx = p->tls_ctx,
		.timeout_ms = a->timeout * 1000u,
		.user = a->user,
		.password = a->password,
		.password_cmd = a->password_cmd,
		.oauth_token_cmd = a->oauth_token_cmd,
		.auth = acct_engine_sasl_mech(a->auth),
		.on_ready_cb = send_sent_on_ready,
		.on_unsolicited_cb = send_sent_on_unsolicited,
		.on_close_cb = send_sent_on_close,
	};
	struct send_sent *s;
	int rc;

	if (p->n_items == 0 || p->on_done_cb == NULL ||
	    a->protocol != CFG_PROTOCOL_IMAP)
		return ms_err_set(err_r, MS_EINVAL, "sent copy: nothing to do");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	s->p = *p;
	s->name = a->name;
	if (a->sent_folder != NULL)
		snprintf(s->folder, sizeof(s->folder), "%s", a->sent_folder);
	sp.arg = s;
	if ((rc = imap_session_new(p->loop, &sp, &s->sess, err_r)) < 0) {
		free(s);
		return rc;
	}
	*s_r = s;
	return MS_OK;
}

void
send_sent_cancel(struct send_sent *s)
{
	if (s->is_cancelled)
		return;
	s->is_cancelled = true;
	/* An APPEND in flight finishes (its copy would be found anyway);
	 * a search or select can just stop. */
	if (s->sess != NULL && s->state != SEND_SENT_APPEND)
		imap_session_close(s->sess, MS_ECANCELED);
}
