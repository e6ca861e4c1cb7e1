/*
 * sync_rematch.c - the REMATCH step of a folder whose UIDVALIDITY changed.
 * sync_reset_folder() parked every old record as a pending APPEND of its
 * body; the FETCH step would then download the whole folder again to find
 * them by content (GNU imap4d changes UIDVALIDITY after an APPEND: a
 * folder of 94 messages downloaded for one).  First, one
 *
 *	UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE [MODSEQ]
 *		       BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])
 *
 * lists the folder cheaply.  When exactly one listed message and exactly
 * one parked body have a given RFC822.SIZE and Message-ID, the message
 * becomes that body's record at its new UID (the server's flags and
 * date), its parked change cleared, nothing downloaded.  Two or more on
 * either side are not guessed at: those messages are downloaded.  FETCH
 * then leaves the bound records out (they are above the watermark) and
 * downloads only the rest, which re-match by content as before.
 *
 * When, after that, exactly one listed message and exactly one parked
 * body are left with a Message-ID, and their sizes differ, the message is
 * the server's form of that body: a server that rewrites what it stores
 * (the record mailsync bound, without APPENDUID, to the bytes it
 * appended).  It is downloaded, and the parked change goes: appending the
 * body again would make a second copy.  So it goes, on a server without
 * UIDPLUS, for a parked body without a Message-ID when it and one listed
 * message without one, no larger, are alone with their INTERNALDATE (the
 * date a rewriting server kept, which an APPEND without APPENDUID was
 * bound by); any other waits for the content match.
 *
 * A server without UIDPLUS keeps what a reader deleted or moved away
 * marked \Deleted (sync_push.c), and the store forgot it.  A message
 * marked \Deleted whose Message-ID no parked body has is such a message
 * (or one another client deleted): it is left out of the fetch, as it was
 * before the change, instead of coming back into the mirror.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_cmd.h"
#include "log.h"
#include "session/imap_session.h"
#include "sync/imap_sync_int.h"
#include "sync/sync_date.h"
#include "sync/sync_flags.h"

/* Bytes of a BODY[HEADER.FIELDS (MESSAGE-ID)] kept: a Message-ID field,
 * folded or not, fits; a longer answer matches nothing (downloaded). */
#define SYNC_REMATCH_HEADER_MAX 1024

/* A parked body of the folder, or a message of the listing: what the two
 * are matched on, and whether a match took it. */
struct sync_rematch_key {
	char *msgid;		/* without angle brackets, as summarised */
	uint64_t size;
	bool is_bound;
};

struct sync_rematch_body {
	struct sync_rematch_key k;	/* msgid "": it has none */
	uint64_t seq;		/* its parked APPEND */
	uint8_t hash[STORE_HASH_LEN];
	int64_t internal_date;	/* its record's */
};

struct sync_rematch_msg {
	struct sync_rematch_key k;	/* msgid "": it has none */
	uint32_t uid;
	uint32_t flags;		/* the server's, STORE_FLAG_* */
	uint64_t modseq;
	int64_t internal_date;
};

struct sync_rematch {
	struct sync_rematch_body *bodies;	/* by Message-ID, then size */
	size_t n_bodies;
	struct sync_rematch_msg *msgs;		/* the listing, same order */
	size_t n_msgs, msgs_cap;
	char header[SYNC_REMATCH_HEADER_MAX + 1];
	size_t header_len;
	bool has_header;	/* a BODY[...] came with this FETCH */
	bool is_header_long;	/* longer than SYNC_REMATCH_HEADER_MAX */
	/* Leave out messages marked \Deleted that match no parked body: no
	 * UIDPLUS, and every parked body's Message-ID could be read. */
	bool is_left_out_ok;
	uint32_t *left_out;	/* their UIDs, ascending */
	size_t n_left_out;
	uint64_t n_bound, n_ambiguous, n_resized;
	uint32_t max_uid;	/* the highest UID listed */
};

void
sync_rematch_free(struct sync_rematch **rp)
{
	struct sync_rematch *rm = *rp;

	if (rm == NULL)
		return;
	for (size_t i = 0; i < rm->n_bodies; i++)
		free(rm->bodies[i].k.msgid);
	for (size_t i = 0; i < rm->n_msgs; i++)
		free(rm->msgs[i].k.msgid);
	free(rm->bodies);
	free(rm->msgs);
	free(rm->left_out);
	free(rm);
	*rp = NULL;
}

static int
sync_rematch_key_cmp(const struct sync_rematch_key *x,
		     const struct sync_rematch_key *y)
{
	int c = strcmp(x->msgid, y->msgid);

	if (c != 0)
		return c;
	return x->size < y->size ? -1 : x->size > y->size;
}

static int
sync_rematch_body_cmp(const void *a, const void *b)
{
	const struct sync_rematch_body *x = a, *y = b;

	return sync_rematch_key_cmp(&x->k, &y->k);
}

static int
sync_rematch_msg_cmp(const void *a, const void *b)
{
	const struct sync_rematch_msg *x = a, *y = b;
	int c = sync_rematch_key_cmp(&x->k, &y->k);

	if (c != 0)
		return c;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* The parked bodies [*lo, *hi) with k's Message-ID, and with its size
 * too when is_sized. */
static void
sync_rematch_bodies_of(const struct sync_rematch *rm,
		       const struct sync_rematch_key *k, bool is_sized,
		       size_t *lo_r, size_t *hi_r)
{
	size_t lo = 0, hi = rm->n_bodies, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(rm->bodies[mid].k.msgid, k->msgid);

		if (c < 0 || (c == 0 && is_sized &&
			      rm->bodies[mid].k.size < k->size))
			lo = mid + 1;
		else
			hi = mid;
	}
	end = lo;
	while (end < rm->n_bodies &&
	       (is_sized ? sync_rematch_key_cmp(&rm->bodies[end].k, k) :
			   strcmp(rm->bodies[end].k.msgid, k->msgid)) == 0)
		end++;
	*lo_r = lo;
	*hi_r = end;
}

/* Adds parked APPEND c (a body without a Message-ID as msgid ""). */
static void
sync_rematch_add_body(struct imap_sync *as, struct sync_rematch *rm,
		      const struct store_change *c)
{
	struct sync_rematch_body *b = &rm->bodies[rm->n_bodies];
	struct store_summary sum;

	if (store_summary_get(as->params.store, c->hash, &sum, NULL) != MS_OK) {
		/* Its Message-ID is unknown: it could be any message. */
		rm->is_left_out_ok = false;
		return;
	}
	if (store_body_size_get(as->params.store, c->hash, &b->k.size,
				NULL) != MS_OK) {
		rm->is_left_out_ok = false;
		store_summary_deinit(&sum);
		return;
	}
	b->seq = c->seq;
	b->internal_date = c->internal_date;
	memcpy(b->hash, c->hash, STORE_HASH_LEN);
	b->k.msgid = sum.message_id;
	b->k.is_bound = false;
	sum.message_id = NULL;
	store_summary_deinit(&sum);
	rm->n_bodies++;
}

/* The folder's parked bodies with a Message-ID, sorted, in *rm_r; NULL
 * when there is nothing to match nor to leave out.  False when out of
 * memory (the account failed). */
static bool
sync_rematch_load(struct imap_sync *as, struct sync_rematch **rm_r)
{
	struct store_change *ch = NULL;
	struct sync_rematch *rm;
	size_t n = 0;

	*rm_r = NULL;
	if (store_change_list_folder(as->params.store, as->run.fold->id,
				     SYNC_CHANGES_MAX, &ch, &n, NULL) != MS_OK) {
		free(ch);
		return true;	/* the content match still finds them */
	}
	if ((rm = calloc(1, sizeof(*rm))) == NULL ||
	    (n > 0 && (rm->bodies = calloc(n, sizeof(*rm->bodies))) == NULL)) {
		free(rm);
		free(ch);
		sync_fail(as, MS_ENOMEM, "out of memory");
		return false;
	}
	rm->is_left_out_ok = (as->caps & IMAP_SESSION_CAP_UIDPLUS) == 0;
	for (size_t i = 0; i < n; i++)
		if (ch[i].kind == STORE_CHANGE_APPEND && ch[i].uid != 0)
			sync_rematch_add_body(as, rm, &ch[i]);
	free(ch);
	if (rm->n_bodies == 0 && !rm->is_left_out_ok) {
		sync_rematch_free(&rm);
		return true;
	}
	if (rm->n_bodies > 0)
		qsort(rm->bodies, rm->n_bodies, sizeof(*rm->bodies),
		      sync_rematch_body_cmp);
	*rm_r = rm;
	return true;
}

/*
 * The Message-ID in a BODY[HEADER.FIELDS (MESSAGE-ID)] answer, in place:
 * between the first "<" and ">", blanks trimmed (as store summaries keep
 * it); NULL for none.
 */
static char *
sync_rematch_msgid(char *header)
{
	char *lt, *gt;

	if (strncasecmp(header, "Message-ID", 10) != 0 ||
	    (lt = strchr(header + 10, '<')) == NULL ||
	    (gt = strchr(lt, '>')) == NULL)
		return NULL;
	lt++;
	while (lt < gt && (*lt == ' ' || *lt == '\t'))
		lt++;
	while (gt > lt && (gt[-1] == ' ' || gt[-1] == '\t'))
		gt--;
	if (gt == lt)
		return NULL;
	*gt = '\0';
	return lt;
}

/* One message of the listing, noted when it has a Message-ID, a size and
 * no record yet. */
static void
sync_rematch_list_one(struct imap_sync *as, struct sync_rematch *rm,
		      const struct imap_ev_fetch *fe)
{
	struct sync_rematch_msg *m;
	struct store_msg old;
	const char *msgid = NULL;

	rm->header[rm->header_len] = '\0';
	if (rm->has_header && !rm->is_header_long)
		msgid = sync_rematch_msgid(rm->header);
	rm->header_len = 0;
	rm->has_header = rm->is_header_long = false;
	if ((fe->has & IMAP_FETCH_HAS_UID) == 0)
		return;
	if (fe->uid > rm->max_uid)
		rm->max_uid = fe->uid;
	if ((fe->has & IMAP_FETCH_HAS_RFC822_SIZE) == 0 ||
	    store_msg_get(as->params.store, as->run.fold->id, fe->uid, &old,
			  NULL) == MS_OK)
		return;
	if (rm->n_msgs == rm->msgs_cap) {
		size_t cap = rm->msgs_cap ? 2 * rm->msgs_cap : 64;
		void *v = realloc(rm->msgs, cap * sizeof(*rm->msgs));

		if (v == NULL) {
			sync_fail(as, MS_ENOMEM, "out of memory");
			return;
		}
		rm->msgs = v;
		rm->msgs_cap = cap;
	}
	m = &rm->msgs[rm->n_msgs];
	memset(m, 0, sizeof(*m));
	if ((m->k.msgid = strdup(msgid != NULL ? msgid : "")) == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return;
	}
	m->k.size = fe->rfc822_size;
	m->uid = fe->uid;
	m->flags = sync_flags_from_imap(fe->flags);
	m->modseq = (fe->has & IMAP_FETCH_HAS_MODSEQ) ? fe->modseq : 0;
	if ((fe->has & IMAP_FETCH_HAS_INTERNALDATE) == 0 ||
	    sync_date_parse(fe->internaldate, &m->internal_date) < 0)
		m->internal_date = 0;
	rm->n_msgs++;
}

void
sync_rematch_on_event(struct imap_sync *as, const struct imap_event *ev)
{
	struct sync_rematch *rm = as->run.rematch;
	size_t len;

	if (rm == NULL || as->is_closing)
		return;
	switch (ev->type) {
	case IMAP_EV_FETCH_BODY:
		rm->header_len = 0;
		rm->has_header = !ev->u.body.is_nil;
		rm->is_header_long = false;
		break;
	case IMAP_EV_LITERAL_CHUNK:
		/* A NUL in it ends the text early: no Message-ID then. */
		len = ev->u.chunk.data.len;
		if (len > SYNC_REMATCH_HEADER_MAX - rm->header_len) {
			rm->is_header_long = true;
			break;
		}
		memcpy(rm->header + rm->header_len, ev->u.chunk.data.p, len);
		rm->header_len += len;
		break;
	case IMAP_EV_FETCH:
		sync_rematch_list_one(as, rm, &ev->u.fetch);
		break;
	default:
		break;
	}
}

/* Listed message m is parked body b: b's record at m's UID. */
static bool
sync_rematch_bind(struct imap_sync *as, struct sync_rematch_msg *m,
		  struct sync_rematch_body *b)
{
	struct store_msg rec;

	memset(&rec, 0, sizeof(rec));
	rec.folder_id = as->run.fold->id;
	rec.uid = m->uid;
	memcpy(rec.hash, b->hash, STORE_HASH_LEN);
	rec.flags = rec.synced_flags = m->flags;
	rec.modseq = m->modseq;
	rec.internal_date = m->internal_date;
	rec.size = b->k.size;
	m->k.is_bound = b->k.is_bound = true;
	return sync_batch_ok(as, store_batch_msg_add(as->batch, &rec, NULL)) &&
	       sync_batch_ok(as, store_batch_change_clear(as->batch, b->seq)) &&
	       sync_commit_if_full(as) >= 0;
}

/* Binds each (Message-ID, size) that one listed message and one parked
 * body have; counts the listed messages it leaves as ambiguous. */
static bool
sync_rematch_by_size(struct imap_sync *as, struct sync_rematch *rm)
{
	size_t i = 0, j, lo, hi;

	while (i < rm->n_msgs) {
		for (j = i + 1; j < rm->n_msgs &&
		     sync_rematch_key_cmp(&rm->msgs[j].k, &rm->msgs[i].k) == 0;
		     j++)
			;
		sync_rematch_bodies_of(rm, &rm->msgs[i].k, true, &lo, &hi);
		/* Without a Message-ID a size alone tells nothing. */
		if (rm->msgs[i].k.msgid[0] == '\0') {
			i = j;
			continue;
		}
		if (j - i == 1 && hi - lo == 1) {
			if (!sync_rematch_bind(as, &rm->msgs[i],
					       &rm->bodies[lo]))
				return false;
			rm->n_bound++;
		} else if (hi > lo) {
			rm->n_ambiguous += j - i;
		}
		i = j;
	}
	return true;
}

/* A Message-ID left on one listed message and one parked body, with
 * another size: the server keeps that body in another form, and its
 * parked APPEND goes. */
static bool
sync_rematch_resized(struct imap_sync *as, struct sync_rematch *rm)
{
	size_t i = 0, j, lo, hi, n_msgs, n_bodies, last = 0;

	while (i < rm->n_msgs) {
		n_msgs = 0;
		for (j = i; j < rm->n_msgs &&
		     strcmp(rm->msgs[j].k.msgid, rm->msgs[i].k.msgid) == 0;
		     j++)
			n_msgs += !rm->msgs[j].k.is_bound;
		sync_rematch_bodies_of(rm, &rm->msgs[i].k, false, &lo, &hi);
		if (rm->msgs[i].k.msgid[0] == '\0') {
			i = j;	/* sync_rematch_dated */
			continue;
		}
		n_bodies = 0;
		for (size_t k = lo; k < hi; k++)
			if (!rm->bodies[k].k.is_bound) {
				n_bodies++;
				last = k;
			}
		if (n_msgs == 1 && n_bodies == 1) {
			rm->bodies[last].k.is_bound = true;
			rm->n_resized++;
			if (!sync_batch_ok(as, store_batch_change_clear(
					as->batch, rm->bodies[last].seq)))
				return false;
		}
		i = j;
	}
	return true;
}

static int
sync_rematch_date_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* How many of the n sorted dates v are d. */
static size_t
sync_rematch_date_count(const int64_t *v, size_t n, int64_t d)
{
	size_t lo = 0, hi = n, c = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] < d)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo + c < n && v[lo + c] == d)
		c++;
	return c;
}

/* A listed message's date and where it is in rm->msgs. */
struct sync_rematch_dated_msg {
	int64_t date;
	size_t i;
};

static int
sync_rematch_dated_cmp(const void *a, const void *b)
{
	const struct sync_rematch_dated_msg *x = a, *y = b;

	return x->date < y->date ? -1 : x->date > y->date;
}

/*
 * A parked body without a Message-ID and one listed message without one,
 * alone with their INTERNALDATE: the server's form of that body (as
 * sync_rematch_resized).  Only where it can be one: a server without
 * UIDPLUS (the record was bound without APPENDUID), whose copy is no
 * larger than the body (a rewriting server drops lines and squeezes
 * spaces, it adds nothing).  Bodies and messages without a Message-ID
 * sort first.
 */
static bool
sync_rematch_dated(struct imap_sync *as, struct sync_rematch *rm)
{
	struct sync_rematch_dated_msg *md, key;
	size_t nb = 0, nm = 0;
	int64_t *bd;
	bool ok = true;

	if ((as->caps & IMAP_SESSION_CAP_UIDPLUS) != 0)
		return true;
	while (nb < rm->n_bodies && rm->bodies[nb].k.msgid[0] == '\0')
		nb++;
	while (nm < rm->n_msgs && rm->msgs[nm].k.msgid[0] == '\0')
		nm++;
	if (nb == 0 || nm == 0)
		return true;
	bd = malloc(nb * sizeof(*bd));
	md = malloc(nm * sizeof(*md));
	if (bd == NULL || md == NULL) {
		free(bd);
		free(md);
		sync_fail(as, MS_ENOMEM, "out of memory");
		return false;
	}
	for (size_t i = 0; i < nb; i++)
		bd[i] = rm->bodies[i].internal_date;
	for (size_t i = 0; i < nm; i++)
		md[i] = (struct sync_rematch_dated_msg){
			.date = rm->msgs[i].internal_date, .i = i };
	qsort(bd, nb, sizeof(*bd), sync_rematch_date_cmp);
	qsort(md, nm, sizeof(*md), sync_rematch_dated_cmp);
	for (size_t b = 0; b < nb && ok; b++) {
		struct sync_rematch_body *body = &rm->bodies[b];
		const struct sync_rematch_dated_msg *hit;

		key.date = body->internal_date;
		if (key.date == 0 ||
		    sync_rematch_date_count(bd, nb, key.date) != 1 ||
		    (hit = bsearch(&key, md, nm, sizeof(*md),
				   sync_rematch_dated_cmp)) == NULL ||
		    (hit > md && hit[-1].date == key.date) ||
		    (hit + 1 < md + nm && hit[1].date == key.date) ||
		    rm->msgs[hit->i].k.size > body->k.size)
			continue;
		body->k.is_bound = true;
		rm->n_resized++;
		ok = sync_batch_ok(as, store_batch_change_clear(as->batch,
								body->seq));
	}
	free(bd);
	free(md);
	return ok;
}

static int
sync_rematch_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Messages marked \Deleted whose Message-ID no parked body has: their
 * UIDs, ascending, in rm->left_out (msgs sorted by Message-ID). */
static bool
sync_rematch_left_out(struct imap_sync *as, struct sync_rematch *rm)
{
	size_t lo, hi;

	if (!rm->is_left_out_ok || rm->n_msgs == 0)
		return true;
	if ((rm->left_out = malloc(rm->n_msgs * sizeof(*rm->left_out))) ==
	    NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return false;
	}
	for (size_t i = 0; i < rm->n_msgs; i++) {
		if ((rm->msgs[i].flags & STORE_FLAG_DELETED) == 0 ||
		    rm->msgs[i].k.msgid[0] == '\0')
			continue;
		sync_rematch_bodies_of(rm, &rm->msgs[i].k, false, &lo, &hi);
		if (lo == hi)
			rm->left_out[rm->n_left_out++] = rm->msgs[i].uid;
	}
	qsort(rm->left_out, rm->n_left_out, sizeof(*rm->left_out),
	      sync_rematch_uid_cmp);
	return true;
}

int
sync_rematch_known_add(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	const struct sync_rematch *rm = r->rematch;
	struct sync_uid_range *v;
	size_t n = 0, i = 0, j = 0, cap;

	if (rm == NULL || rm->n_left_out == 0)
		return MS_OK;
	cap = r->n_known + rm->n_left_out;
	if ((v = malloc(cap * sizeof(*v))) == NULL)
		return MS_ENOMEM;
	/* Both in UID order: merged, touching ranges joined. */
	while (i < r->n_known || j < rm->n_left_out) {
		struct sync_uid_range next;

		if (j == rm->n_left_out ||
		    (i < r->n_known && r->known[i].lo < rm->left_out[j])) {
			next = r->known[i++];
		} else {
			next.lo = next.hi = rm->left_out[j++];
		}
		if (next.lo < r->fetch_from)
			continue;
		if (n > 0 && v[n - 1].hi != UINT32_MAX &&
		    v[n - 1].hi + 1 >= next.lo) {
			if (next.hi > v[n - 1].hi)
				v[n - 1].hi = next.hi;
			continue;
		}
		v[n++] = next;
	}
	free(r->known);
	r->known = v;
	r->n_known = n;
	r->known_cap = cap;
	r->known_i = 0;
	return MS_OK;
}

/* The listing is over: match, then FETCH the rest.  A server that cannot
 * answer it (NO, BAD) gets the whole folder fetched. */
static void
sync_rematch_done(struct imap_session *s, int rc,
		  const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;
	struct sync_rematch *rm = r->rematch;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	if (!sync_st_ok(st)) {
		log_warn("acct=%s folder=%s UID FETCH of sizes and Message-IDs "
			 "failed (%.*s): every message is downloaded and "
			 "matched by content", as->name, r->fold->name,
			 st != NULL ? (int)st->text.len : 0,
			 st != NULL ? (const char *)st->text.p : "");
		r->step_done(as);
		return;
	}
	if (rm->n_msgs > 0)
		qsort(rm->msgs, rm->n_msgs, sizeof(*rm->msgs),
		      sync_rematch_msg_cmp);
	if (!sync_rematch_by_size(as, rm) || !sync_rematch_resized(as, rm) ||
	    !sync_rematch_dated(as, rm) || !sync_rematch_left_out(as, rm))
		return;
	/* A UIDNEXT at or below a UID the server lists (a lagging replica,
	 * whose UIDNEXT went backwards) would stop the fetch, and the
	 * watermark, below the records just bound. */
	if (r->has_uidnext && rm->max_uid >= r->uidnext)
		r->uidnext = sync_uid_after(rm->max_uid);
	/* FETCH reads the records above the watermark from the store. */
	if (sync_commit(as) < 0)
		return;
	log_info("acct=%s folder=%s re-matched %llu of %zu messages by size "
		 "and Message-ID, not downloaded; %llu with the size and "
		 "Message-ID of another are downloaded; %llu kept by the server "
		 "in another form; %zu marked \\Deleted on the server left out",
		 as->name, r->fold->name,
		 (unsigned long long)rm->n_bound, rm->n_bodies,
		 (unsigned long long)rm->n_ambiguous,
		 (unsigned long long)rm->n_resized, rm->n_left_out);
	r->step_done(as);
}

void
sync_rematch_start(struct imap_sync *as)
{
	struct sync_run *r = &as->run;

	if (r->exists == 0 || !sync_rematch_load(as, &r->rematch) ||
	    r->rematch == NULL) {
		if (!as->is_closing)
			r->step_done(as);
		return;
	}
	(void)sync_submit(as, imap_cmd_uid_fetch(imap_session_core(as->sess),
			  MS_SLICE_LIT("1:*"),
			  (as->caps & IMAP_SESSION_CAP_CONDSTORE) ?
			  "UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ "
			  "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]" :
			  "UID FLAGS INTERNALDATE RFC822.SIZE "
			  "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]", 0, false),
			  sync_rematch_done);
}
