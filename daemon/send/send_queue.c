/*
 * send_queue.c - an account's sender (send_queue.h).
 *
 * A run, in order:
 *   timer or wake -> the account's entries read from the store -> the
 *   lifetime's verdicts and the pruning of old SENT entries (one commit)
 *   -> the due messages' bodies -> SMTP (send_smtp.h): SENDING committed
 *   before each message leaves, each outcome committed as it ends ->
 *   Sent copies (send_sent.h) of what was delivered, each recorded ->
 *   the timer set to the earliest next attempt (or the reconnect backoff).
 */
#include "send/send_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "net/backoff.h"
#include "net/tls.h"
#include "send/send_policy.h"
#include "send/send_sent.h"
#include "send/send_smtp.h"

/* Messages in one run at most (their bodies are in memory). */
#define SEND_QUEUE_BATCH 50
/* A delivered entry stays listed this long (seconds). */
#define SEND_QUEUE_KEEP_SENT (7 * 86400)

enum send_queue_state {
	SEND_QUEUE_IDLE,
	SEND_QUEUE_SENDING,
	SEND_QUEUE_FILING,
	SEND_QUEUE_HELD,		/* copies to file wait for a release */
	SEND_QUEUE_STOPPING,
	SEND_QUEUE_STOPPED,
};

static const char *const send_queue_state_names[] = {
	[SEND_QUEUE_IDLE] = "idle",
	[SEND_QUEUE_SENDING] = "sending",
	[SEND_QUEUE_FILING] = "filing",
	[SEND_QUEUE_HELD] = "held",
	[SEND_QUEUE_STOPPING] = "stopping",
	[SEND_QUEUE_STOPPED] = "stopped",
};

struct send_queue {
	struct send_queue_params p;
	struct cfg_account own;		/* the account, as it started */
	const struct cfg_account *acct;	/* &own */
	struct net_tls_ctx *smtp_tls;	/* NULL with smtp_tls = none */
	struct net_tls_ctx *imap_tls;	/* for the Sent copy */
	enum send_queue_state state;
	uv_timer_t timer;
	bool has_timer;
	struct backoff backoff;
	bool want_run;			/* a wake during a run */
	bool is_copy_held;		/* send_queue_hold_copies() */
	/* Once mode: the run goes on in batches; entries up to this id had
	 * their attempt. */
	uint64_t once_done_id;
	bool is_batch_full;		/* the last run took a whole batch */
	bool is_stop_asked;
	/* The run: the store's entries (all accounts'), and ours in it. */
	struct store_outbox *entries;
	size_t n_entries;
	struct send_msg *msgs;
	size_t n_msgs;
	size_t *msg_entry;		/* msgs[i] is entries[msg_entry[i]] */
	struct ms_buf *bodies;		/* one per message or item */
	size_t n_bodies;
	struct send_sent_item *items;
	size_t n_items;
	size_t *item_entry;
	struct send_smtp *smtp;
	struct send_sent *sent;
	struct send_queue_report rep;
};

static void send_queue_run(struct send_queue *q);
static void send_queue_file(struct send_queue *q);

static void
send_queue_set_state(struct send_queue *q, enum send_queue_state st)
{
	if (q->state == st)
		return;
	log_debug("acct=%s outbox state=%s->%s", q->acct->name,
		  send_queue_state_names[q->state], send_queue_state_names[st]);
	q->state = st;
}

static uint32_t
send_queue_rnd(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)clock();
	return r;
}

static bool
send_queue_is_mine(const struct send_queue *q, const struct store_outbox *e)
{
	return e->account != NULL && strcmp(e->account, q->acct->name) == 0;
}

static bool
send_queue_wants_copy(const struct send_queue *q)
{
	return q->acct->protocol == CFG_PROTOCOL_IMAP &&
	       (q->acct->sent_folder != NULL || q->acct->is_sent_auto);
}

/* Writes e back (every field but id, hash, created) in one commit. */
static int
send_queue_save(struct send_queue *q, const struct store_outbox *e)
{
	struct store_batch *b = NULL;
	struct ms_err err = { 0 };
	int rc = store_batch_new(q->p.store, &b);

	if (rc == MS_OK)
		rc = store_batch_outbox_set(b, e);
	if (rc == MS_OK)
		rc = store_batch_commit(b, &err);
	store_batch_free(&b);
	if (rc < 0)
		log_err("acct=%s outbox id=%llu: cannot record its state: %s",
			q->acct->name, (unsigned long long)e->id,
			err.msg[0] != '\0' ? err.msg : ms_strerror(rc));
	else if (q->p.on_change_cb != NULL)
		q->p.on_change_cb(q, e->id, q->p.arg);
	return rc;
}

/* Replaces a malloc'ed string of an entry. */
static void
send_queue_set_str(char **dst, const char *src)
{
	char *v = strdup(src != NULL ? src : "");

	if (v == NULL)
		abort();
	free(*dst);
	*dst = v;
}

/* --- the run's memory ------------------------------------------------------- */

static void
send_queue_run_free(struct send_queue *q)
{
	for (size_t i = 0; i < q->n_msgs; i++) {
		if (q->msgs[i].n_rcpts > 0)
			free(q->msgs[i].rcpts[0].addr);
		free(q->msgs[i].rcpts);
	}
	free(q->msgs);
	free(q->msg_entry);
	q->msgs = NULL;
	q->msg_entry = NULL;
	q->n_msgs = 0;
	free(q->items);
	free(q->item_entry);
	q->items = NULL;
	q->item_entry = NULL;
	q->n_items = 0;
	for (size_t i = 0; i < q->n_bodies; i++)
		ms_buf_deinit(&q->bodies[i]);
	free(q->bodies);
	q->bodies = NULL;
	q->n_bodies = 0;
	for (size_t i = 0; i < q->n_entries; i++)
		store_outbox_deinit(&q->entries[i]);
	free(q->entries);
	q->entries = NULL;
	q->n_entries = 0;
}

/* The body of entry e into a new slot of q->bodies. */
static int
send_queue_load_body(struct send_queue *q, const struct store_outbox *e,
		     struct ms_slice *body_r)
{
	struct ms_buf *b = &q->bodies[q->n_bodies];
	struct ms_err err = { 0 };
	int rc;

	ms_buf_init(b, SEND_SMTP_MAX_MESSAGE + 1);
	q->n_bodies++;
	rc = store_body_read_all(q->p.store, e->hash, b, &err);
	if (rc < 0) {
		log_err("acct=%s outbox id=%llu: cannot read the message: %s",
			q->acct->name, (unsigned long long)e->id,
			err.msg[0] != '\0' ? err.msg : ms_strerror(rc));
		return rc;
	}
	*body_r = (struct ms_slice){ b->p, b->len };
	return MS_OK;
}

/* --- outcomes ------------------------------------------------------------------ */

static struct store_outbox *
send_queue_entry_of(struct send_queue *q, const struct send_msg *m)
{
	return &q->entries[q->msg_entry[m - q->msgs]];
}

static void
send_queue_on_before_dot(struct send_msg *m, void *arg)
{
	struct send_queue *q = arg;
	struct store_outbox *e = send_queue_entry_of(q, m);

	/* Durable before the "." leaves: a crash from here on is found at
	 * start as "possibly sent" (the one window SMTP cannot close). */
	e->state = STORE_OUTBOX_SENDING;
	if (send_queue_save(q, e) < 0)
		log_warn("acct=%s outbox id=%llu: sending without the "
			 "SENDING record", q->acct->name,
			 (unsigned long long)e->id);
}

/* Appends "addr\n" (or "addr\treply\n") to a list string. */
static void
send_queue_list_add(struct ms_buf *b, const char *addr, const char *reply)
{
	int rc = ms_buf_append_cstr(b, addr);

	if (rc == MS_OK && reply != NULL)
		rc = ms_buf_printf(b, "\t%s", reply);
	if (rc == MS_OK)
		rc = ms_buf_append(b, "\n", 1);
	if (rc != MS_OK)
		log_warn("send: a recipient list is too long to record");
}

static void
send_queue_on_msg_done(struct send_msg *m, void *arg)
{
	struct send_queue *q = arg;
	struct store_outbox *e = send_queue_entry_of(q, m);
	struct ms_buf pending, delivered, rejected;
	const char *last = NULL, *ok_reply = NULL;
	bool has_delivered = false, is_retry = false;
	int64_t now = (int64_t)time(NULL), next;

	ms_buf_init(&pending, STORE_OUTBOX_RCPTS_MAX);
	ms_buf_init(&delivered, STORE_OUTBOX_RCPTS_MAX);
	ms_buf_init(&rejected, STORE_OUTBOX_RCPTS_MAX);
	if (ms_buf_append_cstr(&delivered, e->delivered) != MS_OK ||
	    ms_buf_append_cstr(&rejected, e->rejected) != MS_OK)
		log_warn("send: recorded recipients too long");
	for (size_t i = 0; i < m->n_rcpts; i++) {
		const struct send_rcpt *r = &m->rcpts[i];

		switch (r->verdict) {
		case SEND_OK:
			send_queue_list_add(&delivered, r->addr, NULL);
			has_delivered = true;
			ok_reply = r->reply;
			break;
		case SEND_PERM:
			send_queue_list_add(&rejected, r->addr, r->reply);
			q->rep.rejected++;
			if (last == NULL)
				last = r->reply;
			snprintf(q->rep.failed_text, sizeof(q->rep.failed_text),
				 "%.100s: %.290s", r->addr, r->reply);
			break;
		case SEND_TEMP:
			send_queue_list_add(&pending, r->addr, NULL);
			if (last == NULL)
				last = r->reply;
			break;
		}
	}
	send_queue_set_str(&e->rcpts, (const char *)(pending.p ? pending.p :
				      (const uint8_t *)""));
	send_queue_set_str(&e->delivered, (const char *)(delivered.p ?
				      delivered.p : (const uint8_t *)""));
	send_queue_set_str(&e->rejected, (const char *)(rejected.p ?
				      rejected.p : (const uint8_t *)""));
	send_queue_set_str(&e->last_error, last != NULL ? last : ok_reply);
	e->attempts++;
	if (m->is_possibly_sent)
		e->flags |= STORE_OUTBOX_POSSIBLY_SENT;
	if (has_delivered && !(e->flags & STORE_OUTBOX_SENT_FILED))
		e->flags |= send_queue_wants_copy(q) ?
			    STORE_OUTBOX_SENT_PENDING :
			    STORE_OUTBOX_SENT_FILED;
	if (pending.len > 0) {
		if (send_policy_next_attempt(e->created, e->attempts, now,
					     q->acct->smtp_queue_lifetime,
					     send_queue_rnd(), &next)) {
			e->state = STORE_OUTBOX_QUEUED;
			e->next_attempt = next;
			is_retry = true;
		} else {
			char why[STORE_OUTBOX_STR_MAX];

			e->state = STORE_OUTBOX_FAILED;
			snprintf(why, sizeof(why), "not delivered within "
				 "smtp_queue_lifetime (%u attempts); last: %s",
				 e->attempts, last);
			send_queue_set_str(&e->last_error, why);
			q->rep.failed++;
			snprintf(q->rep.failed_text, sizeof(q->rep.failed_text),
				 "%.399s", why);
			log_err("acct=%s outbox id=%llu given up: %s",
				q->acct->name, (unsigned long long)e->id, why);
		}
	} else if (rejected.len > 0) {
		e->state = STORE_OUTBOX_FAILED;
		q->rep.failed++;
	} else {
		e->state = STORE_OUTBOX_SENT;
		e->next_attempt = now;	/* when it was sent */
		q->rep.sent++;
	}
	ms_buf_deinit(&pending);
	ms_buf_deinit(&delivered);
	ms_buf_deinit(&rejected);
	/* Said once recorded: a crash after this line finds the entry
	 * queued, not "sending" (which a restart takes for possibly sent). */
	if (send_queue_save(q, e) == MS_OK && is_retry)
		log_info("acct=%s outbox id=%llu retry in %lld s "
			 "(attempt %u): %s", q->acct->name,
			 (unsigned long long)e->id,
			 (long long)(e->next_attempt - now), e->attempts, last);
}

/* --- scheduling ------------------------------------------------------------------ */

static void
send_queue_on_timer(uv_timer_t *t)
{
	struct send_queue *q = t->data;

	if (q->state == SEND_QUEUE_IDLE)
		send_queue_run(q);
}

/* Counts what is left and sets the timer to the next due moment. */
static void
send_queue_schedule(struct send_queue *q)
{
	struct store_outbox *list = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;
	int64_t now = (int64_t)time(NULL), next = 0;
	uint64_t now_ms = (uint64_t)now * 1000, delay_ms;

	q->rep.queued = q->rep.possibly_sent = q->rep.sent_copies_pending = 0;
	if (store_outbox_list(q->p.store, &list, &n, &err) < 0)
		log_err("acct=%s outbox: %s", q->acct->name, err.msg);
	for (size_t i = 0; i < n; i++) {
		const struct store_outbox *e = &list[i];

		if (send_queue_is_mine(q, e) &&
		    e->state == STORE_OUTBOX_QUEUED) {
			q->rep.queued++;
			if (e->flags & STORE_OUTBOX_POSSIBLY_SENT)
				q->rep.possibly_sent++;
			if (next == 0 || e->next_attempt < next)
				next = e->next_attempt;
		}
		if (send_queue_is_mine(q, e) &&
		    (e->flags & STORE_OUTBOX_SENT_PENDING) &&
		    !(e->flags & STORE_OUTBOX_SENT_FILED)) {
			q->rep.sent_copies_pending++;
			/* Held: the release wakes the queue. */
			if (!q->is_copy_held && (next == 0 || now < next))
				next = now;
		}
		store_outbox_deinit(&list[i]);
	}
	free(list);
	if (q->p.is_once || q->is_stop_asked || next == 0)
		return;
	delay_ms = next > now ? (uint64_t)(next - now) * 1000 : 0;
	/* While the server cannot be reached, the backoff paces us. */
	if (backoff_remaining_ms(&q->backoff, now_ms) > delay_ms)
		delay_ms = backoff_remaining_ms(&q->backoff, now_ms);
	uv_timer_start(&q->timer, send_queue_on_timer, delay_ms, 0);
	log_debug("acct=%s outbox: %u queued, next run in %llu ms",
		  q->acct->name, q->rep.queued, (unsigned long long)delay_ms);
}

static void
send_queue_close_cb(uv_handle_t *h)
{
	struct send_queue *q = h->data;

	send_queue_set_state(q, SEND_QUEUE_STOPPED);
	if (q->p.on_stopped_cb != NULL)
		q->p.on_stopped_cb(q, q->p.arg);
}

/* The run is over (or there was none). */
static void
send_queue_run_end(struct send_queue *q)
{
	send_queue_run_free(q);
	q->rep.runs++;
	/* Once mode delivers everything queued, a batch at a time. */
	if (q->p.is_once && q->is_batch_full && !q->is_stop_asked &&
	    q->rep.rc == MS_OK) {
		uv_timer_start(&q->timer, send_queue_on_timer, 0, 0);
		send_queue_set_state(q, SEND_QUEUE_IDLE);
		return;
	}
	send_queue_schedule(q);
	if (q->p.is_once || q->is_stop_asked) {
		send_queue_set_state(q, SEND_QUEUE_STOPPING);
		if (q->has_timer && !uv_is_closing((uv_handle_t *)&q->timer))
			uv_close((uv_handle_t *)&q->timer, send_queue_close_cb);
		return;
	}
	send_queue_set_state(q, SEND_QUEUE_IDLE);
	if (q->want_run) {
		q->want_run = false;
		uv_timer_start(&q->timer, send_queue_on_timer, 0, 0);
	}
}

/* --- Sent copies ---------------------------------------------------------------- */

static void
send_queue_on_sent_done(int rc, const struct ms_err *err, void *arg)
{
	struct send_queue *q = arg;

	q->sent = NULL;
	for (size_t i = 0; i < q->n_items; i++) {
		struct store_outbox *e = &q->entries[q->item_entry[i]];

		if (!q->items[i].is_filed)
			continue;
		e->flags &= ~(uint32_t)STORE_OUTBOX_SENT_PENDING;
		e->flags |= STORE_OUTBOX_SENT_FILED;
		(void)send_queue_save(q, e);
	}
	if (rc != MS_OK && rc != MS_ECANCELED) {
		log_warn("acct=%s Sent copy not filed (tried again later): "
			 "%s", q->acct->name, err->msg);
		backoff_fail(&q->backoff, (uint64_t)time(NULL) * 1000,
			     send_queue_rnd());
	}
	send_queue_run_end(q);
}

/* Files the copies of every delivered message without one. */
static void
send_queue_file(struct send_queue *q)
{
	struct send_sent_params sp = {
		.loop = q->p.loop,
		.account = q->acct,
		.tls_ctx = q->imap_tls,
		.on_done_cb = send_queue_on_sent_done,
		.arg = q,
	};
	struct ms_err err = { 0 };
	size_t n = 0;

	if (q->is_stop_asked || !send_queue_wants_copy(q)) {
		send_queue_run_end(q);
		return;
	}
	for (size_t i = 0; i < q->n_entries; i++)
		n += send_queue_is_mine(q, &q->entries[i]) &&
		     (q->entries[i].flags & STORE_OUTBOX_SENT_PENDING) &&
		     !(q->entries[i].flags & STORE_OUTBOX_SENT_FILED);
	if (n == 0) {
		send_queue_run_end(q);
		return;
	}
	if (q->is_copy_held) {
		/* Once mode waits for the release; otherwise the next run
		 * (after the account's pass) files them. */
		if (q->p.is_once) {
			send_queue_set_state(q, SEND_QUEUE_HELD);
			return;
		}
		send_queue_run_end(q);
		return;
	}
	q->items = calloc(n, sizeof(*q->items));
	q->item_entry = calloc(n, sizeof(*q->item_entry));
	if (q->items == NULL || q->item_entry == NULL)
		abort();
	for (size_t i = 0; i < q->n_entries && q->n_items < n; i++) {
		struct store_outbox *e = &q->entries[i];
		struct send_sent_item *it = &q->items[q->n_items];

		if (!send_queue_is_mine(q, e) ||
		    !(e->flags & STORE_OUTBOX_SENT_PENDING) ||
		    (e->flags & STORE_OUTBOX_SENT_FILED))
			continue;
		if (send_queue_load_body(q, e, &it->body) < 0)
			continue;
		it->id = e->id;
		it->message_id = e->message_id;
		q->item_entry[q->n_items++] = i;
	}
	sp.items = q->items;
	sp.n_items = q->n_items;
	if (q->n_items == 0 || send_sent_start(&sp, &q->sent, &err) < 0) {
		if (q->n_items > 0)
			log_warn("acct=%s Sent copy: %s", q->acct->name,
				 err.msg);
		send_queue_run_end(q);
		return;
	}
	send_queue_set_state(q, SEND_QUEUE_FILING);
}

/* --- SMTP ------------------------------------------------------------------------ */

/*
 * The session never got up (offline, TLS, AUTH): the messages were not
 * attempted (no attempt counted, no backoff of theirs), but the outbox
 * shows why they wait.
 */
static void
send_queue_note_unsent(struct send_queue *q, const char *why)
{
	for (size_t i = 0; i < q->n_msgs; i++) {
		struct store_outbox *e = &q->entries[q->msg_entry[i]];

		if (q->msgs[i].is_attempted ||
		    strcmp(e->last_error, why) == 0)
			continue;
		send_queue_set_str(&e->last_error, why);
		(void)send_queue_save(q, e);
	}
}

static void
send_queue_on_smtp_done(int rc, const struct ms_err *err, bool is_reached,
			bool is_ready, void *arg)
{
	struct send_queue *q = arg;
	uint64_t now_ms = (uint64_t)time(NULL) * 1000;

	q->smtp = NULL;
	/* A session that was up and then lost judged its messages (a
	 * retry each); only one that never got up is the account's
	 * failure (offline, or TLS, AUTH refused). */
	q->rep.rc = rc == MS_ECANCELED || is_ready ? MS_OK : rc;
	q->rep.is_reached = is_reached;
	q->rep.error[0] = '\0';
	if (is_ready)
		backoff_reset(&q->backoff);
	if (rc != MS_OK && rc != MS_ECANCELED) {
		snprintf(q->rep.error, sizeof(q->rep.error), "%s", err->msg);
		if (!is_ready)
			send_queue_note_unsent(q, err->msg);
		if (!is_ready) {
			uint64_t d = backoff_fail(&q->backoff, now_ms,
						  send_queue_rnd());

			log_warn("acct=%s send: %s (%s; next try in %llu s)",
				 q->acct->name, err->msg, is_reached ?
				 "the server refused the session" :
				 "offline?", (unsigned long long)d / 1000);
		} else {
			log_warn("acct=%s send: the session ended: %s",
				 q->acct->name, err->msg);
		}
	}
	send_queue_file(q);
}

/* The message of entry e for a run, at msgs[n_msgs]. */
static int
send_queue_add_msg(struct send_queue *q, size_t idx)
{
	struct store_outbox *e = &q->entries[idx];
	struct send_msg *m = &q->msgs[q->n_msgs];
	size_t n = 0;
	char *p, *buf;

	for (p = e->rcpts; *p != '\0'; p++)
		n += *p == '\n';
	n += p > e->rcpts && p[-1] != '\n';
	if (n == 0)
		return MS_EINVAL;
	if (send_queue_load_body(q, e, &m->body) < 0)
		return MS_EIO;
	m->rcpts = calloc(n, sizeof(*m->rcpts));
	/* The addresses point into a copy of the list, cut at each "\n"
	 * (the first owns it); the entry's list is rebuilt from the
	 * verdicts. */
	buf = strdup(e->rcpts);
	if (m->rcpts == NULL || buf == NULL)
		abort();
	for (p = buf; *p != '\0' && m->n_rcpts < n; ) {
		char *nl = strchr(p, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (*p != '\0')
			m->rcpts[m->n_rcpts++].addr = p;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (m->n_rcpts == 0 || m->rcpts[0].addr != buf) {
		free(buf);
		free(m->rcpts);
		m->rcpts = NULL;
		m->n_rcpts = 0;
		return MS_EINVAL;
	}
	m->id = e->id;
	m->from = e->from;
	q->msg_entry[q->n_msgs++] = idx;
	return MS_OK;
}

/*
 * Housekeeping of the listed entries: the lifetime's verdict on queued
 * ones, delivered ones dropped after a week.  One commit.
 */
static void
send_queue_tidy(struct send_queue *q, int64_t now)
{
	struct store_batch *b = NULL;
	struct ms_err err = { 0 };
	int rc = store_batch_new(q->p.store, &b);

	for (size_t i = 0; i < q->n_entries && rc == MS_OK; i++) {
		struct store_outbox *e = &q->entries[i];
		char why[STORE_OUTBOX_STR_MAX];

		if (!send_queue_is_mine(q, e))
			continue;
		if (e->state == STORE_OUTBOX_QUEUED && e->attempts > 0 &&
		    now >= e->created + (int64_t)q->acct->smtp_queue_lifetime) {
			snprintf(why, sizeof(why), "not delivered within "
				 "smtp_queue_lifetime (%u attempts); last: %s",
				 e->attempts, e->last_error);
			send_queue_set_str(&e->last_error, why);
			e->state = STORE_OUTBOX_FAILED;
			q->rep.failed++;
			log_err("acct=%s outbox id=%llu given up: %s",
				q->acct->name, (unsigned long long)e->id, why);
			rc = store_batch_outbox_set(b, e);
		} else if (e->state == STORE_OUTBOX_SENT &&
			   !(e->flags & STORE_OUTBOX_SENT_PENDING) &&
			   now - e->next_attempt > SEND_QUEUE_KEEP_SENT) {
			rc = store_batch_outbox_delete(b, e->id);
		}
	}
	if (rc == MS_OK && store_batch_count(b) > 0)
		rc = store_batch_commit(b, &err);
	if (rc < 0)
		log_err("acct=%s outbox: %s", q->acct->name,
			err.msg[0] != '\0' ? err.msg : ms_strerror(rc));
	store_batch_free(&b);
}

/* Due now: queued and its time come (once mode: not tried yet by this
 * process, whatever its backoff). */
static bool
send_queue_is_due(const struct send_queue *q, const struct store_outbox *e,
		  int64_t now)
{
	if (!send_queue_is_mine(q, e) || e->state != STORE_OUTBOX_QUEUED)
		return false;
	if (q->p.is_once)
		return e->id > q->once_done_id;
	return e->next_attempt <= now;
}

static void
send_queue_run(struct send_queue *q)
{
	struct send_smtp_params sp = {
		.loop = q->p.loop,
		.account = q->acct,
		.tls_ctx = q->smtp_tls,
		.on_before_dot_cb = send_queue_on_before_dot,
		.on_msg_done_cb = send_queue_on_msg_done,
		.on_done_cb = send_queue_on_smtp_done,
		.arg = q,
	};
	struct ms_err err = { 0 };
	int64_t now = (int64_t)time(NULL);
	size_t due = 0;

	uv_timer_stop(&q->timer);
	send_queue_set_state(q, SEND_QUEUE_SENDING);
	if (store_outbox_list(q->p.store, &q->entries, &q->n_entries,
			      &err) < 0) {
		log_err("acct=%s outbox: %s", q->acct->name, err.msg);
		send_queue_run_end(q);
		return;
	}
	send_queue_tidy(q, now);
	/* Bodies of the messages and, later, of the Sent copies. */
	q->bodies = calloc(2 * q->n_entries + 1, sizeof(*q->bodies));
	if (q->bodies == NULL)
		abort();
	for (size_t i = 0; i < q->n_entries; i++)
		due += send_queue_is_due(q, &q->entries[i], now);
	q->is_batch_full = due > SEND_QUEUE_BATCH;
	if (due > SEND_QUEUE_BATCH)
		due = SEND_QUEUE_BATCH;
	if (due == 0) {
		send_queue_file(q);
		return;
	}
	q->msgs = calloc(due, sizeof(*q->msgs));
	q->msg_entry = calloc(due, sizeof(*q->msg_entry));
	if (q->msgs == NULL || q->msg_entry == NULL)
		abort();
	for (size_t i = 0; i < q->n_entries && q->n_msgs < due; i++) {
		const struct store_outbox *e = &q->entries[i];

		if (!send_queue_is_due(q, e, now))
			continue;
		/* Entries come in id order: this one had its try. */
		if (q->p.is_once)
			q->once_done_id = e->id;
		(void)send_queue_add_msg(q, i);
	}
	sp.msgs = q->msgs;
	sp.n_msgs = q->n_msgs;
	if (q->n_msgs == 0 || send_smtp_start(&sp, &q->smtp, &err) < 0) {
		if (q->n_msgs > 0) {
			q->rep.rc = err.code;
			snprintf(q->rep.error, sizeof(q->rep.error), "%s",
				 err.msg);
			log_err("acct=%s send: %s", q->acct->name, err.msg);
		}
		send_queue_file(q);
	}
}

/* --- public ------------------------------------------------------------------------ */

/* At start: an entry left SENDING by a crash may have been sent. */
static void
send_queue_recover(struct send_queue *q)
{
	struct store_outbox *list = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;

	if (store_outbox_list(q->p.store, &list, &n, &err) < 0) {
		log_err("acct=%s outbox: %s", q->acct->name, err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_outbox *e = &list[i];

		if (send_queue_is_mine(q, e) &&
		    e->state == STORE_OUTBOX_SENDING) {
			e->state = STORE_OUTBOX_QUEUED;
			e->flags |= STORE_OUTBOX_POSSIBLY_SENT;
			e->next_attempt = (int64_t)time(NULL);
			send_queue_set_str(&e->last_error, "possibly sent: "
					   "mailsyncd stopped after the message "
					   "left and before the server's reply; "
					   "sending it again");
			log_warn("acct=%s outbox id=%llu %s", q->acct->name,
				 (unsigned long long)e->id, e->last_error);
			(void)send_queue_save(q, e);
		}
		store_outbox_deinit(e);
	}
	free(list);
}

int
send_queue_new(const struct send_queue_params *p, struct send_queue **q_r,
	       struct ms_err *err_r)
{
	const struct cfg_account *a = p->account;
	/* A pin is of one server: the SMTP one only when it is the same
	 * host, or the account only sends. */
	bool is_pin_smtp = a->tls_fingerprint.is_set &&
			   (a->protocol == CFG_PROTOCOL_SMTP ||
			    (a->host != NULL &&
			     strcmp(a->host, a->smtp_host) == 0));
	struct net_tls_ctx_params smtp_tp = {
		.ca_file = a->ca_file,
		.fingerprint = is_pin_smtp ? a->tls_fingerprint.text : NULL,
	};
	struct net_tls_ctx_params imap_tp = {
		.ca_file = a->ca_file,
		.fingerprint = a->tls_fingerprint.is_set ?
			       a->tls_fingerprint.text : NULL,
	};
	struct send_queue *q;
	int rc = MS_OK;

	*q_r = NULL;
	if (a->smtp_host == NULL)
		return ms_err_set(err_r, MS_EINVAL, "account %s does not send",
				  a->name);
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	q->p = *p;
	/* A reload frees the configuration; the sender keeps its own. */
	cfg_account_copy(&q->own, a);
	q->acct = &q->own;
	q->p.account = &q->own;
	backoff_init(&q->backoff);
	if (a->smtp_tls != CFG_TLS_NONE)
		rc = net_tls_ctx_new(&smtp_tp, &q->smtp_tls, err_r);
	if (rc == MS_OK && a->protocol == CFG_PROTOCOL_IMAP &&
	    a->tls != CFG_TLS_NONE)
		rc = net_tls_ctx_new(&imap_tp, &q->imap_tls, err_r);
	if (rc < 0) {
		net_tls_ctx_unref(&q->smtp_tls);
		cfg_account_deinit(&q->own);
		free(q);
		return rc;
	}
	uv_timer_init(p->loop, &q->timer);
	q->timer.data = q;
	q->has_timer = true;
	*q_r = q;
	return MS_OK;
}

void
send_queue_start(struct send_queue *q)
{
	send_queue_recover(q);
	send_queue_run(q);
}

void
send_queue_wake(struct send_queue *q)
{
	if (q->is_stop_asked || q->p.is_once)
		return;
	backoff_reset(&q->backoff);
	if (q->state == SEND_QUEUE_IDLE)
		send_queue_run(q);
	else
		q->want_run = true;
}

void
send_queue_stop(struct send_queue *q)
{
	if (q->is_stop_asked)
		return;
	q->is_stop_asked = true;
	switch (q->state) {
	case SEND_QUEUE_IDLE:
		send_queue_run_end(q);
		break;
	case SEND_QUEUE_SENDING:
		if (q->smtp != NULL)
			send_smtp_cancel(q->smtp);
		break;
	case SEND_QUEUE_FILING:
		if (q->sent != NULL)
			send_sent_cancel(q->sent);
		break;
	case SEND_QUEUE_HELD:
		send_queue_run_end(q);
		break;
	case SEND_QUEUE_STOPPING:
	case SEND_QUEUE_STOPPED:
		break;
	}
}

void
send_queue_hold_copies(struct send_queue *q, bool is_held)
{
	bool was = q->is_copy_held;

	q->is_copy_held = is_held;
	if (!was || is_held)
		return;
	if (q->state == SEND_QUEUE_HELD)
		send_queue_file(q);
	else if (q->rep.sent_copies_pending > 0)
		send_queue_wake(q);
}

bool
send_queue_is_stopped(const struct send_queue *q)
{
	return q->state == SEND_QUEUE_STOPPED;
}

const struct send_queue_report *
send_queue_report(const struct send_queue *q)
{
	return &q->rep;
}

const char *
send_queue_name(const struct send_queue *q)
{
	return q->acct->name;
}

void
send_queue_free(struct send_queue **qp)
{
	struct send_queue *q = *qp;

	if (q == NULL)
		return;
	*qp = NULL;
	send_queue_run_free(q);
	net_tls_ctx_unref(&q->smtp_tls);
	net_tls_ctx_unref(&q->imap_tls);
	cfg_account_deinit(&q->own);
	free(q);
}

/* --- the user's word -------------------------------------------------------------- */

/* Entry id of this account, read from the store into *e. */
static int
send_queue_find(struct send_queue *q, uint64_t id, struct store_outbox *e,
		struct ms_err *err_r)
{
	struct store_outbox *list = NULL;
	size_t n = 0;
	int rc;

	if ((rc = store_outbox_list(q->p.store, &list, &n, err_r)) < 0)
		return rc;
	rc = ms_err_set(err_r, MS_EINVAL, "no outbox entry %llu of account "
			"%s", (unsigned long long)id, q->acct->name);
	for (size_t i = 0; i < n; i++) {
		if (list[i].id == id && send_queue_is_mine(q, &list[i]) &&
		    rc != MS_OK) {
			*e = list[i];
			rc = MS_OK;
			continue;
		}
		store_outbox_deinit(&list[i]);
	}
	free(list);
	return rc;
}

/* A run's copy of the entry follows the user's change, so that the
 * run's own writes do not undo it. */
static void
send_queue_sync_run_copy(struct send_queue *q, const struct store_outbox *e,
			 bool is_gone)
{
	for (size_t i = 0; i < q->n_entries; i++) {
		struct store_outbox *r = &q->entries[i];

		if (r->id != e->id)
			continue;
		if (is_gone) {
			/* Not QUEUED: no run step picks it again; its
			 * outcome's write finds no entry and is skipped. */
			r->state = STORE_OUTBOX_FAILED;
			return;
		}
		r->state = e->state;
		r->attempts = e->attempts;
		r->next_attempt = e->next_attempt;
		send_queue_set_str(&r->rcpts, e->rcpts);
		send_queue_set_str(&r->rejected, e->rejected);
		send_queue_set_str(&r->last_error, e->last_error);
	}
}

int
send_queue_retry(struct send_queue *q, uint64_t id, struct ms_err *err_r)
{
	struct store_outbox e;
	struct ms_buf rcpts;
	int rc;

	if ((rc = send_queue_find(q, id, &e, err_r)) < 0)
		return rc;
	if (e.state == STORE_OUTBOX_SENT || e.state == STORE_OUTBOX_SENDING) {
		rc = ms_err_set(err_r, MS_EINVAL, "outbox entry %llu is %s; "
				"nothing to retry", (unsigned long long)id,
				e.state == STORE_OUTBOX_SENT ? "sent" :
				"being sent");
		store_outbox_deinit(&e);
		return rc;
	}
	/* The refused recipients go back on the list. */
	ms_buf_init(&rcpts, STORE_OUTBOX_RCPTS_MAX);
	rc = ms_buf_append_cstr(&rcpts, e.rcpts);
	for (const char *p = e.rejected; rc == MS_OK && *p != '\0'; ) {
		size_t len = strcspn(p, "\t\n"), line = strcspn(p, "\n");

		if (rcpts.len > 0 && rcpts.p[rcpts.len - 1] != '\n')
			rc = ms_buf_append(&rcpts, "\n", 1);
		if (rc == MS_OK)
			rc = ms_buf_append(&rcpts, p, len);
		if (rc == MS_OK)
			rc = ms_buf_append(&rcpts, "\n", 1);
		p += line + (p[line] == '\n');
	}
	if (rc == MS_OK) {
		send_queue_set_str(&e.rcpts, (const char *)(rcpts.p ?
				   rcpts.p : (const uint8_t *)""));
		send_queue_set_str(&e.rejected, "");
		send_queue_set_str(&e.last_error, "retry asked by the user");
		e.state = STORE_OUTBOX_QUEUED;
		e.attempts = 0;
		e.next_attempt = (int64_t)time(NULL);
		rc = send_queue_save(q, &e);
		if (rc < 0)
			ms_err_set(err_r, rc, "the store refused the change");
	} else {
		ms_err_set(err_r, rc, "too many recipients");
	}
	ms_buf_deinit(&rcpts);
	if (rc == MS_OK) {
		log_info("acct=%s outbox id=%llu retry asked", q->acct->name,
			 (unsigned long long)id);
		send_queue_sync_run_copy(q, &e, false);
		send_queue_wake(q);
	}
	store_outbox_deinit(&e);
	return rc;
}

int
send_queue_drop(struct send_queue *q, uint64_t id, struct ms_err *err_r)
{
	struct store_outbox e;
	struct store_batch *b = NULL;
	int rc;

	if ((rc = send_queue_find(q, id, &e, err_r)) < 0)
		return rc;
	rc = store_batch_new(q->p.store, &b);
	if (rc == MS_OK)
		rc = store_batch_outbox_delete(b, id);
	if (rc == MS_OK)
		rc = store_batch_commit(b, err_r);
	store_batch_free(&b);
	if (rc == MS_OK) {
		log_info("acct=%s outbox id=%llu dropped by the user",
			 q->acct->name, (unsigned long long)id);
		send_queue_sync_run_copy(q, &e, true);
		if (q->p.on_change_cb != NULL)
			q->p.on_change_cb(q, id, q->p.arg);
	}
	store_outbox_deinit(&e);
	return rc;
}
