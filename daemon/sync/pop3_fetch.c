/*
 * pop3_fetch.c - one POP3 pass (pop3_fetch.h).  The steps run in the
 * order of the enum below; pop3_fetch_next() is the one place that picks
 * the next step, pop3_fetch_pump() sends each step's commands (as many in
 * flight as PIPELINING allows), and each command's callback takes its
 * answer.
 */
#include "sync/pop3_fetch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash/body_hash.h"
#include "log.h"
#include "sync/pop3_local.h"
#include "sync/pop3_plan.h"

/*
 * Commands in flight with PIPELINING (RFC 2449 6.6); without, one.  What
 * is on the way must cover the link's round trip: 32 RETRs of 17 KB are
 * 0.5 MB, at most 11 MB/s over a 50 ms round trip, and 32 DELEs a round
 * trip are 5 s for 800 messages over 200 ms.  The answers wait in the
 * kernel's socket buffers, not in ours (the pass reads one message at a
 * time), so RETRs are bounded by the bytes LIST announced for them; the
 * count keeps the session's queue of callbacks short.
 */
#define POP3_FETCH_WINDOW 256
#define POP3_FETCH_RETR_BYTES (8u << 20)
/*
 * Commit after this many operations or this many bytes of bodies.  The
 * commit holds the batch's bodies (compressed) in LMDB's malloc'ed dirty
 * pages: 2 MiB of bodies peaked at 16.6 MB RSS in a 5,000-message first
 * download, 512 KiB at 15.0 MB, for the same CPU time (four times the
 * commits, each one fdatasync() more, is small beside 5,000 files).
 */
#define POP3_FETCH_BATCH_OPS 500
#define POP3_FETCH_BATCH_MEM (512u << 10)
/* A listing longer than this is refused (memory stays bounded). */
#define POP3_FETCH_MAX_MSGS 10000000u
/* The listing's arrays are sized from STAT's count up to this many
 * messages (a STAT that lies costs no more); past it, they double. */
#define POP3_FETCH_STAT_CAP 65536u
/* The keys are kept in blocks of this size, never moved. */
#define POP3_FETCH_KEY_BLOCK (16u << 10)

enum pop3_fetch_step {
	POP3_FETCH_LISTING,
	POP3_FETCH_TOP,
	POP3_FETCH_RETR,
	POP3_FETCH_MARK,
	POP3_FETCH_DELE,
	POP3_FETCH_QUIT,
	POP3_FETCH_DONE,
};

static const char *const pop3_fetch_step_names[] = {
	[POP3_FETCH_LISTING] = "LISTING", [POP3_FETCH_TOP] = "TOP",
	[POP3_FETCH_RETR] = "RETR", [POP3_FETCH_MARK] = "MARK",
	[POP3_FETCH_DELE] = "DELE", [POP3_FETCH_QUIT] = "QUIT",
	[POP3_FETCH_DONE] = "DONE",
};

/*
 * What the pass learned of one listed message beyond the plan.  Its
 * record's hash and first download are not copied here: they are the
 * stored record's (f->recs[msgs[i].rec]) or, for a message this pass
 * stored, f->news[slot]'s.  Copied, they were 40 of its 48 bytes: 200 KB
 * at 5,000 messages in a pass with nothing new, at its peak.
 */
struct pop3_fetch_got {
	uint32_t slot;		/* with is_new: its f->news index */
	bool has_rec;		/* a committed (or batched) POP3 record */
	bool is_new;		/* stored by this pass: f->news */
	bool is_owed;		/* its record says a deletion is owed */
	bool has_uidl;
	bool is_dele_ok;	/* DELE answered +OK */
};

/* The record of a message this pass stored. */
struct pop3_fetch_new {
	uint8_t hash[STORE_HASH_LEN];
	int64_t fetched;
};

/*
 * The bodies of the account's records whose key the server no longer
 * lists (open addressing): a new key with one of these bodies is that
 * message under a UIDL the server changed, not a new message.  A body the
 * server lists under another key as well is a second copy on the server,
 * and is stored as one.
 */
struct pop3_fetch_hashes {
	struct pop3_fetch_hash_slot {
		uint8_t hash[STORE_HASH_LEN];
		int64_t fetched;	/* the first download's */
		uint32_t unlisted;	/* records not yet claimed */
		bool is_used;
	} *slots;
	size_t cap;		/* a power of two */
};

/*
 * The listing's keys (UIDLs and TOP keys), one after the other in blocks
 * that never move, so that a message's key can point at its bytes.
 */
struct pop3_fetch_keys {
	char **blocks;
	size_t n_blocks;
	size_t used;			/* bytes of the last block */
};

struct pop3_fetch {
	struct pop3_fetch_params p;
	const char *name;		/* the account's */
	enum pop3_fetch_step step;
	bool is_done;			/* on_done fired (or is due) */
	bool is_starting;		/* inside pop3_fetch_start() */
	bool is_held;			/* hold_cb kept it after RETR */
	bool is_pipelining;
	struct pop3_fetch_summary sum;
	uint64_t t0;
	int64_t now;
	struct pop3_plan_policy policy;
	/* The listing. */
	bool has_stat;
	uint64_t stat_count;
	bool is_uidl_ok;		/* UIDL answered +OK */
	bool is_list_ok;
	struct pop3_plan_msg *msgs;	/* in message-number order */
	struct pop3_fetch_got *got;
	size_t n, cap;
	struct pop3_fetch_keys keys;	/* where msgs' keys are */
	char *renamed;			/* the keys disambiguation made */
	/* The account's records, sorted by key. */
	struct store_pop3_entry *recs;
	size_t nrecs;
	/* The records this pass stores, one room for each RETR planned. */
	struct pop3_fetch_new *news;
	size_t n_news, cap_news;
	struct pop3_fetch_hashes known;
	/* INBOX */
	struct store_folder inbox;
	struct store_batch *batch;
	/* A step's work: msgs indexes, sent in order, answered in order. */
	size_t *work;
	size_t n_work, next_send, next_done;
	uint64_t retr_bytes;		/* LIST's sizes of the RETRs in flight */
	/* The message being received (the oldest RETR or TOP in flight). */
	struct store_body_writer *w;
	struct body_hasher top_hash;
	bool has_top_hash;
	uint64_t recv;			/* its bytes so far */
	bool is_recv_bad;		/* oversized or not writable */
	uint8_t tail[2];		/* bytes past LIST's size */
	size_t n_tail;
	char recv_error[160];		/* why it is not stored */
	size_t n_dele_ok;
};

static void pop3_fetch_next(struct pop3_fetch *f);
static void pop3_fetch_pump(struct pop3_fetch *f);

static void
pop3_fetch_set_step(struct pop3_fetch *f, enum pop3_fetch_step step)
{
	if (f->step == step)
		return;
	log_debug("acct=%s pop3-fetch step=%s->%s", f->name,
		  pop3_fetch_step_names[f->step], pop3_fetch_step_names[step]);
	f->step = step;
}

static void
pop3_fetch_progress(struct pop3_fetch *f)
{
	f->sum.seconds = (double)(uv_hrtime() - f->t0) / 1e9;
	if (f->p.on_progress_cb != NULL && !f->is_done)
		f->p.on_progress_cb(&f->sum, f->p.arg);
}

/* The pass is over: on_done, once. */
static void
pop3_fetch_finish(struct pop3_fetch *f)
{
	if (f->is_done)
		return;
	f->is_done = true;
	pop3_fetch_set_step(f, POP3_FETCH_DONE);
	store_body_writer_free(&f->w);
	if (f->has_top_hash) {
		body_hash_deinit(&f->top_hash);
		f->has_top_hash = false;
	}
	f->sum.seconds = (double)(uv_hrtime() - f->t0) / 1e9;
	/* A failure inside pop3_fetch_start() is its return value. */
	if (!f->is_starting)
		f->p.on_done_cb(&f->sum, f->p.arg);
}

/* Commits the batch with INBOX's UIDNEXT.  On failure the pass fails. */
static int
pop3_fetch_commit(struct pop3_fetch *f)
{
	struct ms_err err = { 0 };
	int rc;

	if (store_batch_count(f->batch) == 0)
		return MS_OK;
	if ((rc = store_batch_folder_state(f->batch, f->inbox.id,
					   &f->inbox.state,
					   STORE_FS_UIDVALIDITY |
					   STORE_FS_UIDNEXT)) < 0 ||
	    (rc = store_batch_commit(f->batch, &err)) < 0) {
		if (f->sum.rc == MS_OK) {
			f->sum.rc = rc;
			snprintf(f->sum.error, sizeof(f->sum.error),
				 "store: %.240s", err.msg[0] ? err.msg :
				 ms_strerror(rc));
		}
		log_err("acct=%s pop3 store commit failed: %s", f->name,
			f->sum.error);
		return rc;
	}
	pop3_fetch_progress(f);
	return MS_OK;
}

/*
 * The pass cannot go on: what is complete is committed, and the pass
 * ends with rc.  The owner closes the session (without QUIT, so that no
 * DELE sent takes effect).
 */
static void
pop3_fetch_fail(struct pop3_fetch *f, int rc, const char *fmt, ...)
{
	va_list ap;

	if (f->is_done)
		return;
	if (f->sum.rc == MS_OK) {
		f->sum.rc = rc;
		va_start(ap, fmt);
		vsnprintf(f->sum.error, sizeof(f->sum.error), fmt, ap);
		va_end(ap);
	}
	(void)pop3_fetch_commit(f);
	pop3_fetch_finish(f);
}

/* One message could not be stored or kept: logged, counted, the pass
 * goes on. */
static void
pop3_fetch_msg_error(struct pop3_fetch *f, size_t i, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	f->sum.msg_errors++;
	snprintf(f->sum.msg_error, sizeof(f->sum.msg_error), "message %u: %.170s",
		 (unsigned)f->msgs[i].num, what);
	log_err("acct=%s pop3 message %u (%s) %s", f->name,
		(unsigned)f->msgs[i].num,
		f->msgs[i].key[0] != '\0' ? f->msgs[i].key : "no key", what);
}

static bool
pop3_fetch_batch_ok(struct pop3_fetch *f, int rc)
{
	if (rc >= 0)
		return true;
	pop3_fetch_fail(f, rc, "store batch: %s", ms_strerror(rc));
	return false;
}

/* --- known hashes --------------------------------------------------------- */

static size_t
pop3_fetch_hash_slot(const struct pop3_fetch_hashes *h,
		     const uint8_t hash[STORE_HASH_LEN])
{
	size_t i;

	memcpy(&i, hash, sizeof(i));
	for (i &= h->cap - 1; h->slots[i].is_used &&
	     memcmp(h->slots[i].hash, hash, STORE_HASH_LEN) != 0;
	     i = (i + 1) & (h->cap - 1))
		;
	return i;
}

static int
pop3_fetch_hashes_init(struct pop3_fetch_hashes *h, size_t n)
{
	h->cap = 16;
	while (h->cap < 2 * n + 16)
		h->cap *= 2;
	h->slots = calloc(h->cap, sizeof(*h->slots));
	return h->slots != NULL ? MS_OK : MS_ENOMEM;
}

/* Adds an unlisted record's body (kept: the earliest fetched time). */
static void
pop3_fetch_hashes_add(struct pop3_fetch_hashes *h,
		      const uint8_t hash[STORE_HASH_LEN], int64_t fetched)
{
	struct pop3_fetch_hash_slot *e = &h->slots[pop3_fetch_hash_slot(h,
								       hash)];

	if (!e->is_used || fetched < e->fetched)
		e->fetched = fetched;
	memcpy(e->hash, hash, STORE_HASH_LEN);
	e->is_used = true;
	e->unlisted++;
}

/* Claims one unlisted record with this body: true (and *fetched_r its
 * time) when there was one.  Sized for every record, so never full. */
static bool
pop3_fetch_hashes_claim(struct pop3_fetch_hashes *h,
			const uint8_t hash[STORE_HASH_LEN], int64_t *fetched_r)
{
	struct pop3_fetch_hash_slot *e = &h->slots[pop3_fetch_hash_slot(h,
								       hash)];

	if (!e->is_used || e->unlisted == 0)
		return false;
	e->unlisted--;
	*fetched_r = e->fetched;
	return true;
}

/* --- keys ----------------------------------------------------------------- */

/* A copy of key (len bytes) in the pass's key blocks, or NULL (memory). */
static const char *
pop3_fetch_key_keep(struct pop3_fetch_keys *k, const char *key, size_t len)
{
	char *at;

	if (len >= POP3_FETCH_KEY_BLOCK)
		return NULL;
	if (k->n_blocks == 0 || k->used + len + 1 > POP3_FETCH_KEY_BLOCK) {
		char **nb = realloc(k->blocks, (k->n_blocks + 1) *
				    sizeof(*k->blocks));

		if (nb == NULL)
			return NULL;
		k->blocks = nb;
		if ((nb[k->n_blocks] = malloc(POP3_FETCH_KEY_BLOCK)) == NULL)
			return NULL;
		k->n_blocks++;
		k->used = 0;
	}
	at = k->blocks[k->n_blocks - 1] + k->used;
	memcpy(at, key, len);
	at[len] = '\0';
	k->used += len + 1;
	return at;
}

static void
pop3_fetch_keys_free(struct pop3_fetch_keys *k)
{
	for (size_t i = 0; i < k->n_blocks; i++)
		free(k->blocks[i]);
	free(k->blocks);
	memset(k, 0, sizeof(*k));
}

/* --- commands ------------------------------------------------------------- */

/* May the step's command for work[i] go out now (pop3_fetch_pump())? */
static bool
pop3_fetch_may_send(const struct pop3_fetch *f, size_t i)
{
	size_t in_flight = i - f->next_done;

	if (in_flight == 0)
		return true;
	if (!f->is_pipelining)
		return false;
	return in_flight < POP3_FETCH_WINDOW &&
	       (f->step != POP3_FETCH_RETR ||
		f->retr_bytes < POP3_FETCH_RETR_BYTES);
}

/*
 * Registers the n commands just built (with cbs[0], cbs[stride], ...
 * each; stride 0: all with cbs[0]), which sends them, and advances
 * next_send.  build_rc is the result of building the next one: an error
 * with nothing built fails the pass.  False when the pass failed.
 */
static bool
pop3_fetch_register(struct pop3_fetch *f, size_t n,
		    const struct pop3_session_cmd_cbs *cbs, size_t stride,
		    int build_rc)
{
	int rc = n == 0 ? build_rc : MS_OK;

	for (size_t i = 0; i < n && rc == MS_OK; i++) {
		struct pop3_session_cmd_cbs cb = cbs[i * stride];

		cb.arg = f;
		if ((rc = pop3_session_submit(f->p.sess, &cb)) == MS_OK)
			f->next_send++;
	}
	if (rc != MS_OK) {
		pop3_fetch_fail(f, rc == MS_ENOMEM ? rc : MS_EINTERNAL,
				"cannot send a POP3 command (%s)",
				ms_strerror(rc));
		return false;
	}
	return true;
}

/* Parses "N[ rest]": the number, and rest after one space. */
static bool
pop3_fetch_parse_num(struct ms_slice l, uint64_t *n_r, struct ms_slice *rest)
{
	uint64_t n = 0;
	size_t i = 0;

	while (i < l.len && l.p[i] >= '0' && l.p[i] <= '9' && n < (1ull << 40))
		n = n * 10 + (uint64_t)(l.p[i++] - '0');
	if (i == 0 || n >= (1ull << 40))
		return false;
	while (i < l.len && l.p[i] == ' ')
		i++;
	*n_r = n;
	rest->p = l.p + i;
	rest->len = l.len - i;
	return true;
}

/* --- LISTING ------------------------------------------------------------- */

static void
pop3_fetch_on_stat(struct pop3_session *s, int rc, const struct pop3_event *st,
		   void *arg)
{
	struct pop3_fetch *f = arg;
	struct ms_slice rest;

	(void)s;
	if (rc != MS_OK || f->is_done)
		return;
	/* STAT is only a cross-check: LIST is what the pass believes. */
	if (st->is_ok && pop3_fetch_parse_num(st->text, &f->stat_count, &rest))
		f->has_stat = true;
	pop3_fetch_pump(f);
}

static void
pop3_fetch_on_list_line(struct pop3_session *s, const struct pop3_event *ev,
			void *arg)
{
	struct pop3_fetch *f = arg;
	struct ms_slice rest, sz;
	uint64_t num, size;
	struct pop3_plan_msg *m;

	(void)s;
	if (f->is_done || ev->type != POP3_EV_LINE)
		return;
	if (!pop3_fetch_parse_num(ev->text, &num, &rest) ||
	    !pop3_fetch_parse_num(rest, &size, &sz) || num == 0 ||
	    num > UINT32_MAX) {
		log_warn("acct=%s pop3 LIST line not understood: %.*s",
			 f->name, (int)(ev->text.len > 80 ? 80 : ev->text.len),
			 (const char *)ev->text.p);
		return;
	}
	if (f->n > 0 && num <= f->msgs[f->n - 1].num) {
		log_warn("acct=%s pop3 LIST out of order at %llu: ignored",
			 f->name, (unsigned long long)num);
		return;
	}
	if (f->n == f->cap) {
		/* STAT came first: its count, when it is right, is the
		 * size (no slack, no copy). */
		size_t cap = f->cap ? f->cap * 2 :
			     f->has_stat && f->stat_count > 256 ?
			     (f->stat_count < POP3_FETCH_STAT_CAP ?
			      (size_t)f->stat_count : POP3_FETCH_STAT_CAP) :
			     256;
		void *nm, *ng;

		if (cap > POP3_FETCH_MAX_MSGS ||
		    (nm = realloc(f->msgs, cap * sizeof(*f->msgs))) == NULL) {
			pop3_fetch_fail(f, MS_ENOMEM, "LIST: too many messages");
			return;
		}
		f->msgs = nm;
		if ((ng = realloc(f->got, cap * sizeof(*f->got))) == NULL) {
			pop3_fetch_fail(f, MS_ENOMEM, "out of memory");
			return;
		}
		f->got = ng;
		f->cap = cap;
	}
	m = &f->msgs[f->n];
	memset(m, 0, sizeof(*m));
	memset(&f->got[f->n], 0, sizeof(f->got[f->n]));
	m->key = "";
	m->num = (uint32_t)num;
	m->size = size;
	f->n++;
}

static void
pop3_fetch_on_list(struct pop3_session *s, int rc, const struct pop3_event *st,
		   void *arg)
{
	struct pop3_fetch *f = arg;

	(void)s;
	if (rc != MS_OK || f->is_done)
		return;
	if (st->type == POP3_EV_STATUS && !st->is_ok) {
		pop3_fetch_fail(f, MS_ERESP, "LIST refused: -ERR %.*s",
				(int)st->text.len, (const char *)st->text.p);
		return;
	}
	f->is_list_ok = true;
	pop3_fetch_pump(f);
}

/* The message with number num, or NULL. */
static struct pop3_plan_msg *
pop3_fetch_by_num(struct pop3_fetch *f, uint64_t num)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->msgs[mid].num == num)
			return &f->msgs[mid];
		if (f->msgs[mid].num < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* RFC 1939 7: 1 to 70 characters 0x21..0x7E.  Longer ones are taken up
 * to what a key holds with room for the ambiguity suffix. */
static bool
pop3_fetch_uidl_ok(struct ms_slice u)
{
	if (u.len == 0 || u.len > STORE_UIDL_MAX - 24)
		return false;
	for (size_t i = 0; i < u.len; i++)
		if (u.p[i] < 0x21 || u.p[i] > 0x7e)
			return false;
	return true;
}

static void
pop3_fetch_on_uidl_line(struct pop3_session *s, const struct pop3_event *ev,
			void *arg)
{
	struct pop3_fetch *f = arg;
	struct pop3_plan_msg *m;
	struct ms_slice uidl;
	uint64_t num;

	(void)s;
	if (f->is_done || ev->type != POP3_EV_LINE)
		return;
	if (!pop3_fetch_parse_num(ev->text, &num, &uidl) ||
	    (m = pop3_fetch_by_num(f, num)) == NULL) {
		log_warn("acct=%s pop3 UIDL line for no listed message: %.*s",
			 f->name, (int)(ev->text.len > 80 ? 80 : ev->text.len),
			 (const char *)ev->text.p);
		return;
	}
	if (!pop3_fetch_uidl_ok(uidl)) {
		log_warn("acct=%s pop3 message %llu: unusable UIDL; it is "
			 "identified by its header instead", f->name,
			 (unsigned long long)num);
		return;
	}
	if ((m->key = pop3_fetch_key_keep(&f->keys, (const char *)uidl.p,
					  uidl.len)) == NULL) {
		m->key = "";
		pop3_fetch_fail(f, MS_ENOMEM, "UIDL: out of memory");
		return;
	}
	f->got[m - f->msgs].has_uidl = true;
}

static void
pop3_fetch_on_uidl(struct pop3_session *s, int rc, const struct pop3_event *st,
		   void *arg)
{
	struct pop3_fetch *f = arg;

	(void)s;
	if (rc != MS_OK || f->is_done)
		return;
	if (st->type == POP3_EV_STATUS && !st->is_ok)
		log_info("acct=%s pop3 server has no UIDL (-ERR %.*s): messages "
			 "are identified by size and header (weaker)", f->name,
			 (int)st->text.len, (const char *)st->text.p);
	else
		f->is_uidl_ok = true;
	pop3_fetch_next(f);
}

/*
 * The listing's three commands.  Answers come in order, so with
 * PIPELINING all three go at once (one round trip); without it each waits
 * for the answer before it, since such a server may drop what arrives
 * early.
 */
static void
pop3_fetch_send_listing(struct pop3_fetch *f)
{
	static const struct pop3_session_cmd_cbs cbs[3] = {
		{ NULL, pop3_fetch_on_stat, NULL },
		{ pop3_fetch_on_list_line, pop3_fetch_on_list, NULL },
		{ pop3_fetch_on_uidl_line, pop3_fetch_on_uidl, NULL },
	};
	struct pop3_client *c = pop3_session_core(f->p.sess);
	size_t want = f->next_send, n = 0;
	int rc = MS_OK;

	if (f->is_pipelining)
		want = 3;
	else if (pop3_session_in_flight(f->p.sess) == 0 && want < 3)
		want++;
	/* Built first, then registered: the first registration sends all
	 * that is queued, in one write. */
	for (size_t i = f->next_send; i < want && rc == MS_OK; i++) {
		rc = i == 0 ? pop3_cmd_stat(c) : i == 1 ? pop3_cmd_list(c, 0) :
		     pop3_cmd_uidl(c, 0);
		n += rc == MS_OK;
	}
	(void)pop3_fetch_register(f, n, cbs + f->next_send, 1, rc);
}

/* --- TOP ------------------------------------------------------------------- */

static void
pop3_fetch_on_top_chunk(struct pop3_session *s, const struct pop3_event *ev,
			void *arg)
{
	struct pop3_fetch *f = arg;

	(void)s;
	if (f->is_done || ev->type != POP3_EV_BODY_CHUNK)
		return;
	if (!f->has_top_hash) {
		if (body_hash_init(&f->top_hash) != MS_OK) {
			pop3_fetch_fail(f, MS_ENOMEM, "cannot hash a header");
			return;
		}
		f->has_top_hash = true;
	}
	if (body_hash_update(&f->top_hash, ev->text.p, ev->text.len) != MS_OK)
		pop3_fetch_fail(f, MS_EINTERNAL, "cannot hash a header");
}

static void
pop3_fetch_on_top(struct pop3_session *s, int rc, const struct pop3_event *st,
		  void *arg)
{
	struct pop3_fetch *f = arg;
	size_t i;
	uint8_t hash[STORE_HASH_LEN];
	char key[STORE_UIDL_MAX + 1];

	(void)s;
	if (rc != MS_OK || f->is_done)
		return;
	i = f->work[f->next_done++];
	if (st->type == POP3_EV_STATUS && !st->is_ok) {
		pop3_fetch_msg_error(f, i, "cannot be identified: no UIDL and "
				     "TOP refused (-ERR %.*s); left on the "
				     "server", (int)st->text.len,
				     (const char *)st->text.p);
		f->msgs[i].key = "";
	} else {
		if (!f->has_top_hash &&
		    body_hash_init(&f->top_hash) != MS_OK) {
			pop3_fetch_fail(f, MS_ENOMEM, "cannot hash a header");
			return;
		}
		f->has_top_hash = false;
		if (body_hash_final(&f->top_hash, hash) != MS_OK) {
			pop3_fetch_fail(f, MS_EINTERNAL, "cannot hash a header");
			return;
		}
		pop3_plan_top_key(f->msgs[i].size, hash, key);
		if ((f->msgs[i].key = pop3_fetch_key_keep(&f->keys, key,
							 strlen(key))) == NULL) {
			f->msgs[i].key = "";
			pop3_fetch_fail(f, MS_ENOMEM, "TOP: out of memory");
			return;
		}
	}
	pop3_fetch_pump(f);
}

/* --- RETR ------------------------------------------------------------------ */

/*
 * A message that does not end in CRLF gets one from the server before the
 * final "." (RFC 1939 3), beyond the size LIST counted: up to two bytes
 * past LIST's size are held back here, and dropped at the end when they
 * are that CRLF.  Anything else past the size is not the message LIST
 * announced.
 */
static void
pop3_fetch_on_retr_chunk(struct pop3_session *s, const struct pop3_event *ev,
			 void *arg)
{
	struct pop3_fetch *f = arg;
	struct pop3_plan_msg *m;
	struct ms_err err = { 0 };
	struct ms_slice b;
	uint64_t room;

	(void)s;
	if (f->is_done || ev->type != POP3_EV_BODY_CHUNK)
		return;
	m = &f->msgs[f->work[f->next_done]];
	b = ev->text;
	room = f->recv < m->size ? m->size - f->recv : 0;
	f->recv += b.len;
	f->sum.bytes += b.len;
	if (f->is_recv_bad)
		return;
	if (b.len > room) {
		/* The bytes past LIST's size: kept aside (two at most). */
		const uint8_t *extra = b.p + room;
		size_t n = b.len - (size_t)room;

		if (f->n_tail + n > sizeof(f->tail)) {
			snprintf(f->recv_error, sizeof(f->recv_error), "is "
				 "larger than the %llu bytes LIST announced: "
				 "not stored", (unsigned long long)m->size);
			f->is_recv_bad = true;
			store_body_writer_free(&f->w);
			return;
		}
		memcpy(f->tail + f->n_tail, extra, n);
		f->n_tail += n;
		b.len = (size_t)room;
	}
	if (f->w == NULL && store_body_writer_new(f->p.store, m->size, &f->w,
						  &err) < 0) {
		snprintf(f->recv_error, sizeof(f->recv_error), "%.150s", err.msg);
		f->is_recv_bad = true;
		return;
	}
	if (b.len > 0 &&
	    store_body_writer_write(f->w, b.p, b.len, &err) < 0) {
		snprintf(f->recv_error, sizeof(f->recv_error), "%.150s", err.msg);
		f->is_recv_bad = true;
		store_body_writer_free(&f->w);
	}
}

/* A complete body of message i: into the batch, as a new INBOX record
 * unless it is a message the server listed before under another UIDL. */
static void
pop3_fetch_store(struct pop3_fetch *f, size_t i, struct store_body *body)
{
	struct pop3_plan_msg *m = &f->msgs[i];
	struct pop3_fetch_got *g = &f->got[i];
	struct store_pop3 rec = { 0 };
	struct store_msg msg;

	if (f->n_news == f->cap_news) {
		/* One RETR of each planned message: not reached. */
		store_body_free(&body);
		pop3_fetch_fail(f, MS_EINTERNAL, "message %u stored twice",
				(unsigned)m->num);
		return;
	}
	store_body_hash(body, rec.hash);
	rec.fetched = f->now;
	if (pop3_fetch_hashes_claim(&f->known, rec.hash, &rec.fetched)) {
		/* The server changed its UIDLs: stored already, and its age
		 * is the first download's.  The body goes with the record
		 * (the reader may have deleted the stored copy). */
		log_info("acct=%s pop3 message %u (%s) was stored under "
			 "another UIDL: not stored twice", f->name,
			 (unsigned)m->num, m->key);
	} else {
		memset(&msg, 0, sizeof(msg));
		msg.folder_id = f->inbox.id;
		msg.uid = f->inbox.state.uidnext++;
		msg.internal_date = f->now;
		if (!pop3_fetch_batch_ok(f, store_batch_msg_add(f->batch, &msg,
								body)))
			return;
		body = NULL;	/* the record's now */
		f->sum.new_msgs++;
	}
	/* keep = no: the deletion is owed from the commit on. */
	rec.is_deleted = pop3_plan_want_delete(&f->policy, &rec,
					       m->is_ambiguous);
	if (!pop3_fetch_batch_ok(f, store_batch_pop3_put(f->batch,
							 f->p.account->name,
							 m->key, &rec, body)))
		return;
	memcpy(f->news[f->n_news].hash, rec.hash, STORE_HASH_LEN);
	f->news[f->n_news].fetched = rec.fetched;
	g->slot = (uint32_t)f->n_news++;
	g->is_new = true;
	g->has_rec = true;
	g->is_owed = rec.is_deleted;
	if (store_batch_count(f->batch) < POP3_FETCH_BATCH_OPS &&
	    store_batch_commit_mem(f->batch) < POP3_FETCH_BATCH_MEM)
		return;
	/* A batch committed while RETR goes on: what reads the store
	 * beside the pass (the mirror) may show it now. */
	f->sum.is_adding = true;
	if (pop3_fetch_commit(f) < 0)
		pop3_fetch_finish(f);
	f->sum.is_adding = false;
}

static void
pop3_fetch_on_retr(struct pop3_session *s, int rc, const struct pop3_event *st,
		   void *arg)
{
	struct pop3_fetch *f = arg;
	struct store_body *body = NULL;
	struct ms_err err = { 0 };
	size_t i;

	(void)s;
	if (rc != MS_OK || f->is_done) {
		store_body_writer_free(&f->w);
		return;
	}
	i = f->work[f->next_done++];
	f->retr_bytes -= f->msgs[i].size;
	if (st->type == POP3_EV_STATUS && !st->is_ok) {
		pop3_fetch_msg_error(f, i, "RETR refused (-ERR %.*s): not "
				     "stored, left on the server",
				     (int)st->text.len,
				     (const char *)st->text.p);
	} else if (f->is_recv_bad) {
		pop3_fetch_msg_error(f, i, "%s", f->recv_error);
	} else if (f->n_tail > 0 && (f->n_tail != 2 || f->tail[0] != '\r' ||
				      f->tail[1] != '\n')) {
		pop3_fetch_msg_error(f, i, "is larger than the %llu bytes LIST "
				     "announced: not stored, left on the "
				     "server",
				     (unsigned long long)f->msgs[i].size);
	} else if (f->recv - f->n_tail != f->msgs[i].size) {
		/* Fewer bytes: a lone "." the server did not stuff ended it
		 * early, or the server lied; either way not the message. */
		pop3_fetch_msg_error(f, i, "has %llu bytes where LIST "
				     "announced %llu: not stored, left on the "
				     "server", (unsigned long long)f->recv,
				     (unsigned long long)f->msgs[i].size);
	} else if (f->w == NULL &&
		   store_body_writer_new(f->p.store, 0, &f->w, &err) < 0) {
		pop3_fetch_msg_error(f, i, "%s", err.msg);
	} else if (store_body_writer_finish(&f->w, &body, &err) < 0) {
		pop3_fetch_msg_error(f, i, "%s", err.msg);
	} else {
		pop3_fetch_store(f, i, body);
	}
	store_body_writer_free(&f->w);
	f->recv = 0;
	f->n_tail = 0;
	f->is_recv_bad = false;
	if (f->is_done)
		return;
	pop3_fetch_progress(f);
	pop3_fetch_pump(f);
}

/* --- MARK, DELE, QUIT ------------------------------------------------------ */

static void
pop3_fetch_on_dele(struct pop3_session *s, int rc, const struct pop3_event *st,
		   void *arg)
{
	struct pop3_fetch *f = arg;
	size_t i;

	(void)s;
	if (rc != MS_OK || f->is_done)
		return;
	i = f->work[f->next_done++];
	if (st->is_ok) {
		f->got[i].is_dele_ok = true;
		f->n_dele_ok++;
	} else {
		/* Still owed: the next pass asks again. */
		log_warn("acct=%s pop3 message %u (%s): DELE refused (-ERR "
			 "%.*s); it stays on the server for now", f->name,
			 (unsigned)f->msgs[i].num, f->msgs[i].key,
			 (int)st->text.len, (const char *)st->text.p);
	}
	pop3_fetch_pump(f);
}

static void
pop3_fetch_on_quit(struct pop3_session *s, int rc, const struct pop3_event *st,
		   void *arg)
{
	struct pop3_fetch *f = arg;

	(void)s;
	if (rc != MS_OK || f->is_done)
		return;
	f->sum.has_quit = true;
	if (!st->is_ok) {
		/* RFC 1939 6: some deletions were not done.  Which is not
		 * said: the records stay owed, and the next listing
		 * tells. */
		log_warn("acct=%s pop3 QUIT answered -ERR %.*s: deletions "
			 "stay owed", f->name, (int)st->text.len,
			 (const char *)st->text.p);
		pop3_fetch_finish(f);
		return;
	}
	for (size_t i = 0; i < f->n; i++) {
		if (!f->got[i].is_dele_ok)
			continue;
		if (!pop3_fetch_batch_ok(f, store_batch_pop3_delete(
				f->batch, f->p.account->name, f->msgs[i].key)))
			return;
		f->sum.deleted++;
	}
	if (pop3_fetch_commit(f) < 0) {
		pop3_fetch_finish(f);
		return;
	}
	log_debug("acct=%s pop3 %llu message%s deleted on the server",
		  f->name, (unsigned long long)f->sum.deleted,
		  f->sum.deleted == 1 ? "" : "s");
	pop3_fetch_finish(f);
}

/* Records the deletions as owed (committed before any DELE goes out) and
 * makes them the DELE step's work. */
static int
pop3_fetch_mark(struct pop3_fetch *f)
{
	f->n_work = f->next_send = f->next_done = 0;
	for (size_t i = 0; i < f->n; i++) {
		struct pop3_plan_msg *m = &f->msgs[i];
		struct pop3_fetch_got *g = &f->got[i];
		struct store_pop3 rec;

		if (!g->has_rec || m->key[0] == '\0')
			continue;
		if (g->is_new) {
			memcpy(rec.hash, f->news[g->slot].hash, STORE_HASH_LEN);
			rec.fetched = f->news[g->slot].fetched;
		} else {
			memcpy(rec.hash, f->recs[m->rec].rec.hash,
			       STORE_HASH_LEN);
			rec.fetched = f->recs[m->rec].rec.fetched;
		}
		rec.is_deleted = g->is_owed;
		if (!pop3_plan_want_delete(&f->policy, &rec, m->is_ambiguous))
			continue;
		if (!g->is_owed) {
			rec.is_deleted = g->is_owed = true;
			if (!pop3_fetch_batch_ok(f, store_batch_pop3_put(
					f->batch, f->p.account->name, m->key,
					&rec, NULL)))
				return MS_ENOMEM;
		}
		f->work[f->n_work++] = i;
	}
	return pop3_fetch_commit(f);
}

/* --- the steps ------------------------------------------------------------- */

/* Sends the step's commands while the window allows. */
static void
pop3_fetch_pump(struct pop3_fetch *f)
{
	static const struct pop3_session_cmd_cbs top = {
		pop3_fetch_on_top_chunk, pop3_fetch_on_top, NULL };
	static const struct pop3_session_cmd_cbs retr = {
		pop3_fetch_on_retr_chunk, pop3_fetch_on_retr, NULL };
	static const struct pop3_session_cmd_cbs dele = {
		NULL, pop3_fetch_on_dele, NULL };
	struct pop3_client *c = pop3_session_core(f->p.sess);
	size_t i = f->next_send;
	int rc = MS_OK;

	if (f->is_done)
		return;
	if (f->step == POP3_FETCH_LISTING) {
		pop3_fetch_send_listing(f);
		return;
	}
	/* As many as the window allows, built first and then registered,
	 * so that they leave in one write. */
	for (; i < f->n_work && pop3_fetch_may_send(f, i) && rc == MS_OK;
	     i++) {
		const struct pop3_plan_msg *m = &f->msgs[f->work[i]];

		rc = f->step == POP3_FETCH_TOP ? pop3_cmd_top(c, m->num, 0) :
		     f->step == POP3_FETCH_RETR ? pop3_cmd_retr(c, m->num) :
		     pop3_cmd_dele(c, m->num);
		if (rc != MS_OK)
			break;
		if (f->step == POP3_FETCH_RETR)
			f->retr_bytes += m->size;
	}
	if (!pop3_fetch_register(f, i - f->next_send,
				 f->step == POP3_FETCH_TOP ? &top :
				 f->step == POP3_FETCH_RETR ? &retr : &dele, 0,
				 rc))
		return;
	if (f->next_done == f->n_work)
		pop3_fetch_next(f);
}

/* After the listing: keys, the plan, and the records to drop. */
static int
pop3_fetch_plan(struct pop3_fetch *f)
{
	bool *is_seen = NULL;
	bool has_uidl_keys = false, has_top_keys = false;
	size_t n_prune = 0, n_unlisted = 0;
	int rc;

	if ((rc = pop3_plan_disambiguate(f->msgs, f->n, &f->renamed)) < 0)
		return rc;
	for (size_t i = 0; i < f->n; i++) {
		if (f->msgs[i].key[0] == '\0')
			continue;
		if (pop3_plan_is_top_key(f->msgs[i].key))
			has_top_keys = true;
		else
			has_uidl_keys = true;
		if (f->msgs[i].is_ambiguous)
			log_warn("acct=%s pop3 message %u: its identity (%s) "
				 "is not unique on the server; it is never "
				 "deleted from there", f->name,
				 (unsigned)f->msgs[i].num, f->msgs[i].key);
	}
	if (f->nrecs > 0 && (is_seen = calloc(f->nrecs, sizeof(bool))) == NULL)
		return MS_ENOMEM;
	pop3_plan_decide(f->msgs, f->n, f->recs, f->nrecs, &f->policy,
			 is_seen != NULL ? is_seen : &(bool){ false });
	for (size_t i = 0; i < f->n; i++) {
		struct pop3_fetch_got *g = &f->got[i];
		const struct store_pop3_entry *r;

		if (f->msgs[i].key[0] == '\0' ||
		    f->msgs[i].action == POP3_PLAN_FETCH)
			continue;
		r = &f->recs[f->msgs[i].rec];
		g->is_owed = r->rec.is_deleted;
		g->has_rec = true;
	}
	/* A record the listing does not hold: the server deleted the
	 * message, or changed its UIDL (or it was the other kind of key,
	 * which this pass cannot see; an empty listing holds neither). */
	for (size_t r = 0; r < f->nrecs; r++)
		n_unlisted += !is_seen[r];
	if (pop3_fetch_hashes_init(&f->known, n_unlisted) < 0) {
		free(is_seen);
		return MS_ENOMEM;
	}
	for (size_t r = 0; r < f->nrecs; r++) {
		bool is_top = pop3_plan_is_top_key(f->recs[r].uidl);

		if (is_seen[r])
			continue;
		pop3_fetch_hashes_add(&f->known, f->recs[r].rec.hash,
				      f->recs[r].rec.fetched);
		if (f->n > 0 && (is_top ? !has_top_keys : !has_uidl_keys))
			continue;
		if (!pop3_fetch_batch_ok(f, store_batch_pop3_delete(
				f->batch, f->p.account->name, f->recs[r].uidl)))
			break;
		n_prune++;
	}
	free(is_seen);
	if (f->is_done)
		return MS_ENOMEM;
	if (n_prune > 0)
		log_debug("acct=%s pop3 %zu record%s of messages the server "
			  "no longer has dropped", f->name, n_prune,
			  n_prune == 1 ? "" : "s");
	f->n_work = f->next_send = f->next_done = 0;
	for (size_t i = 0; i < f->n; i++)
		if (f->msgs[i].key[0] != '\0' &&
		    f->msgs[i].action == POP3_PLAN_FETCH) {
			f->work[f->n_work++] = i;
			f->sum.to_fetch++;
			f->sum.bytes_to_fetch += f->msgs[i].size;
		}
	if (f->n_work > 0 &&
	    (f->news = malloc(f->n_work * sizeof(*f->news))) == NULL)
		return MS_ENOMEM;
	f->cap_news = f->n_work;
	return MS_OK;
}

static int
pop3_fetch_after_listing(struct pop3_fetch *f)
{
	if (!f->is_list_ok)
		return MS_EPROTO;
	f->sum.listed = f->n;
	if (f->has_stat && f->stat_count != f->n)
		log_warn("acct=%s pop3 STAT said %llu message%s, LIST listed "
			 "%zu: LIST is believed", f->name,
			 (unsigned long long)f->stat_count,
			 f->stat_count == 1 ? "" : "s", f->n);
	if ((f->work = malloc((f->n + 1) * sizeof(*f->work))) == NULL)
		return MS_ENOMEM;
	f->n_work = f->next_send = f->next_done = 0;
	for (size_t i = 0; i < f->n; i++)
		if (f->msgs[i].key[0] == '\0')
			f->work[f->n_work++] = i;
	return MS_OK;
}

/* After RETR's last commit: the deletions are recorded, then sent. */
static void
pop3_fetch_after_retr(struct pop3_fetch *f)
{
	pop3_fetch_set_step(f, POP3_FETCH_MARK);
	if (pop3_fetch_mark(f) < 0) {
		pop3_fetch_finish(f);
		return;
	}
	pop3_fetch_set_step(f, POP3_FETCH_DELE);
	pop3_fetch_pump(f);
}

/* The one place that decides what comes after a step. */
static void
pop3_fetch_next(struct pop3_fetch *f)
{
	static const struct pop3_session_cmd_cbs quit = {
		NULL, pop3_fetch_on_quit, NULL };
	struct pop3_client *c = pop3_session_core(f->p.sess);
	int rc;

	if (f->is_done)
		return;
	switch (f->step) {
	case POP3_FETCH_LISTING:
		if ((rc = pop3_fetch_after_listing(f)) < 0) {
			pop3_fetch_fail(f, rc, "the listing could not be read "
					"(%s)", ms_strerror(rc));
			return;
		}
		pop3_fetch_set_step(f, POP3_FETCH_TOP);
		pop3_fetch_pump(f);
		return;
	case POP3_FETCH_TOP:
		if ((rc = pop3_fetch_plan(f)) < 0) {
			pop3_fetch_fail(f, rc, "planning failed (%s)",
					ms_strerror(rc));
			return;
		}
		pop3_fetch_set_step(f, POP3_FETCH_RETR);
		pop3_fetch_progress(f);
		pop3_fetch_pump(f);
		return;
	case POP3_FETCH_RETR:
		if (pop3_fetch_commit(f) < 0) {
			pop3_fetch_finish(f);
			return;
		}
		/* The records change from here on: what reads the store
		 * beside the pass may want to finish first. */
		if (f->p.hold_cb != NULL && f->p.hold_cb(f->p.arg)) {
			f->is_held = true;
			return;
		}
		pop3_fetch_after_retr(f);
		return;
	case POP3_FETCH_DELE:
		if (f->n_dele_ok == 0) {
			/* Nothing to make real: the owner says goodbye. */
			pop3_fetch_finish(f);
			return;
		}
		pop3_fetch_set_step(f, POP3_FETCH_QUIT);
		rc = pop3_cmd_quit(c);
		(void)pop3_fetch_register(f, rc == MS_OK ? 1 : 0, &quit, 0, rc);
		return;
	case POP3_FETCH_MARK:
	case POP3_FETCH_QUIT:
	case POP3_FETCH_DONE:
		return;
	}
}

/* --- start, end ------------------------------------------------------------ */

static int
pop3_fetch_inbox(struct pop3_fetch *f, struct ms_err *err_r)
{
	uint32_t id;
	int rc;

	if ((rc = store_folder_ensure(f->p.store, f->name, "INBOX", '/',
				      STORE_FOLDER_INBOX, &id, err_r)) < 0 ||
	    (rc = store_folder_get(f->p.store, id, &f->inbox, err_r)) < 0)
		return rc;
	if (f->inbox.state.uidvalidity == 0) {
		f->inbox.state.uidvalidity = POP3_LOCAL_UIDVALIDITY;
		f->inbox.state.uidnext = 1;
	}
	if (f->inbox.state.uidnext == 0)
		f->inbox.state.uidnext = 1;
	return MS_OK;
}

int
pop3_fetch_start(const struct pop3_fetch_params *p, struct pop3_fetch **f_r,
		 struct ms_err *err_r)
{
	struct pop3_fetch *f;
	int rc;

	*f_r = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	f->p = *p;
	f->name = p->account->name;
	f->t0 = uv_hrtime();
	f->now = (int64_t)time(NULL);
	f->policy = (struct pop3_plan_policy){
		.keep = p->account->keep,
		.delete_after_days = p->account->delete_after_days,
		.now = f->now,
	};
	f->is_pipelining = (pop3_session_caps(p->sess) &
			    POP3_CAP_PIPELINING) != 0;
	if ((rc = pop3_fetch_inbox(f, err_r)) < 0 ||
	    (rc = store_pop3_list(p->store, f->name, &f->recs, &f->nrecs,
				  err_r)) < 0)
		goto fail;
	if ((rc = store_batch_new(p->store, &f->batch)) < 0) {
		ms_err_set(err_r, rc, "out of memory");
		goto fail;
	}
	pop3_fetch_set_step(f, POP3_FETCH_LISTING);
	f->is_starting = true;
	pop3_fetch_send_listing(f);
	f->is_starting = false;
	if (f->is_done) {
		/* The commands could not go out: no callback fires. */
		ms_err_set(err_r, f->sum.rc, "%s", f->sum.error);
		rc = f->sum.rc;
		pop3_fetch_free(&f);
		return rc;
	}
	*f_r = f;
	return MS_OK;
fail:
	pop3_fetch_free(&f);
	return rc;
}

void
pop3_fetch_session_closed(struct pop3_fetch *f, int reason,
			  const struct ms_err *err)
{
	if (f == NULL || f->is_done)
		return;
	if (reason == MS_OK)
		reason = MS_ECONN;
	pop3_fetch_fail(f, reason, "%s", err != NULL && err->msg[0] != '\0' ?
			err->msg : ms_strerror(reason));
}

void
pop3_fetch_resume(struct pop3_fetch *f)
{
	if (f == NULL || !f->is_held || f->is_done)
		return;
	f->is_held = false;
	pop3_fetch_after_retr(f);
}

void
pop3_fetch_free(struct pop3_fetch **fp)
{
	struct pop3_fetch *f = *fp;

	if (f == NULL)
		return;
	*fp = NULL;
	store_body_writer_free(&f->w);
	if (f->has_top_hash)
		body_hash_deinit(&f->top_hash);
	store_batch_free(&f->batch);
	free(f->msgs);
	free(f->got);
	pop3_fetch_keys_free(&f->keys);
	free(f->renamed);
	free(f->recs);
	free(f->news);
	free(f->known.slots);
	free(f->work);
	free(f);
}
