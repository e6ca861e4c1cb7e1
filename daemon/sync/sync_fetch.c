/*
 * sync_fetch.c - the FETCH step of a folder (sync_folder.c): new messages
 * streamed into the store.  The flags of messages already stored above
 * the watermark (bound by APPENDUID or COPYUID) are read first; then
 * pipelined UID FETCH ranges, up to SYNC_IN_FLIGHT at once.  Which
 * command a FETCH answers is not known (Dovecot answers a later pipelined
 * UID FETCH before the earlier one's tagged OK): new messages are checked
 * against the UID ranges in flight, and the watermark follows completed
 * ranges only.  A range spans SYNC_RANGE_UIDS UIDs, or in a sparse UID
 * space about as many messages (cut where UID SEARCH finds every
 * SYNC_RANGE_UIDS-th).  The first fetch of a large folder asks for its
 * newest messages first (sync_fetch_top()).  The step ends through
 * run.step_done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_client.h"
#include "imap/imap_cmd.h"
#include "log.h"
#include "session/imap_session.h"
#include "sync/imap_sync_int.h"
#include "sync/sync_date.h"
#include "sync/sync_flags.h"

static void sync_fetch_pump(struct imap_sync *as);
static void sync_fetch_after_top(struct imap_sync *as);

static void
sync_on_fetch_body(struct imap_sync *as, const struct imap_ev_fetch_body *b)
{
	struct sync_run *r = &as->run;
	struct ms_err err = { 0 };

	store_body_writer_free(&r->w);
	r->is_w_failed = false;
	if (b->section.len != 0 || b->has_origin || b->is_nil)
		return;
	if (store_body_writer_new(as->params.store, b->size, &r->w, &err) < 0) {
		log_err("acct=%s folder=%s uid=%u %s", as->name,
			r->fold->name, b->uid, err.msg);
		r->is_w_failed = true;
	}
}

static void
sync_on_chunk(struct imap_sync *as, const struct imap_ev_literal_chunk *c)
{
	struct sync_run *r = &as->run;
	struct ms_err err = { 0 };

	if (r->w == NULL)
		return;
	if (store_body_writer_write(r->w, c->data.p, c->data.len, &err) < 0) {
		log_err("acct=%s folder=%s message body: %s", as->name,
			r->fold->name, err.msg);
		store_body_writer_free(&r->w);
		r->is_w_failed = true;
	}
}

/* A message asked for could not be stored: the watermark stays before
 * it (the next pass fetches it again) and the folder counts as failed. */
static void
sync_msg_not_stored(struct imap_sync *as, uint32_t uid, const char *why)
{
	struct sync_run *r = &as->run;

	log_err("acct=%s folder=%s uid=%u not stored: %s", as->name,
		r->fold->name, uid, why);
	r->has_hole = true;
	if (!r->is_failed && !r->is_msg_failed)
		as->sum.folder_errors++;
	r->is_msg_failed = true;
}

/* True when uid was stored before this fetch (sync_run.known). */
static bool
sync_uid_known(const struct sync_run *r, uint32_t uid)
{
	size_t i = sync_ranges_find(r->known, r->n_known, uid);

	return i < r->n_known && r->known[i].lo <= uid;
}

/* True when this fetch put uid in a batch (sync_run.added). */
static bool
sync_uid_added(const struct sync_run *r, uint32_t uid)
{
	size_t i = sync_ranges_find(r->added, r->n_added, uid);

	return i < r->n_added && r->added[i].lo <= uid;
}

/* Notes uid in sync_run.added; MS_OK or MS_ENOMEM.  In UID order it
 * extends the last range; out of order it is inserted. */
static int
sync_uid_add(struct sync_run *r, uint32_t uid)
{
	size_t i = sync_ranges_find(r->added, r->n_added, uid);

	if (i < r->n_added && r->added[i].lo <= uid)
		return MS_OK;
	if (i > 0 && r->added[i - 1].hi + 1 == uid) {
		r->added[i - 1].hi = uid;
		if (i < r->n_added && r->added[i].lo == uid + 1) {
			/* The gap between two ranges is closed. */
			r->added[i - 1].hi = r->added[i].hi;
			memmove(&r->added[i], &r->added[i + 1],
				(r->n_added - i - 1) * sizeof(*r->added));
			r->n_added--;
		}
		return MS_OK;
	}
	if (i < r->n_added && r->added[i].lo == uid + 1) {
		r->added[i].lo = uid;
		return MS_OK;
	}
	if (sync_ranges_reserve(&r->added, &r->added_cap, r->n_added) < 0)
		return MS_ENOMEM;
	memmove(&r->added[i + 1], &r->added[i],
		(r->n_added - i) * sizeof(*r->added));
	r->added[i] = (struct sync_uid_range){ uid, uid };
	r->n_added++;
	return MS_OK;
}

/* A new message is complete: its body goes into the batch. */
static void
sync_on_new_fetch(struct imap_sync *as, const struct imap_ev_fetch *fe)
{
	struct sync_run *r = &as->run;
	struct store_body *body = NULL;
	struct ms_err err = { 0 };
	struct store_msg m;
	const struct sync_fetch_range *first = &r->ranges[r->range_head];
	const struct sync_fetch_range *last = &r->ranges[
		(r->range_head + r->n_ranges + SYNC_RANGES - 1) % SYNC_RANGES];
	bool is_new = (fe->has & IMAP_FETCH_HAS_UID) != 0 &&
		      fe->uid >= r->fetch_from && r->n_ranges > 0 &&
		      fe->uid >= first->lo && fe->uid <= last->hi;
	bool is_w_failed = r->is_w_failed;
	bool is_again = false;

	r->is_w_failed = false;

	if ((fe->has & IMAP_FETCH_HAS_UID) == 0 &&
	    (fe->n_bodies > 0 || r->w != NULL || is_w_failed)) {
		/* A message asked for came without its UID: it cannot be
		 * stored, and the watermark must not pass it. */
		store_body_writer_free(&r->w);
		sync_msg_not_stored(as, 0, "a FETCH with a body but no UID");
		return;
	}
	if (!is_new && fe->n_bodies > 0 && (fe->has & IMAP_FETCH_HAS_UID) &&
	    fe->uid >= r->fetch_from) {
		/* No command in flight asked for it: a later range
		 * fetches it if it exists. */
		log_warn("acct=%s folder=%s uid=%u the server sent a message "
			 "not asked for: ignored", as->name, r->fold->name,
			 fe->uid);
	}
	if (!is_new) {
		/* "lo:*" answers with the last message even below lo; and
		 * a flag-only FETCH may be a change pushed meanwhile. */
		store_body_writer_free(&r->w);
		if (fe->n_bodies == 0)
			sync_on_fetch_flags(as, fe);
		return;
	}
	if (fe->n_bodies == 0 && r->w == NULL && !is_w_failed) {
		sync_on_fetch_flags(as, fe);
		return;
	}
	if (r->w == NULL || store_body_writer_finish(&r->w, &body, &err) < 0) {
		sync_msg_not_stored(as, fe->uid, err.msg[0] ? err.msg :
				    "no body in the FETCH response");
		return;
	}
	if ((fe->has & IMAP_FETCH_HAS_RFC822_SIZE) != 0 &&
	    store_body_size(body) != fe->rfc822_size) {
		/* Stored as sent: the literal is complete (a cut connection
		 * never gets here), and some servers (Exchange) report
		 * sizes that differ from the bytes they send; refusing it
		 * would leave the message out of the store for good. */
		log_warn("acct=%s folder=%s uid=%u the body has %llu bytes, "
			 "RFC822.SIZE said %llu: stored as sent", as->name,
			 r->fold->name, fe->uid,
			 (unsigned long long)store_body_size(body),
			 (unsigned long long)fe->rfc822_size);
	}
	if (fe->uid <= r->last_uid && !sync_uid_known(r, fe->uid) &&
	    sync_uid_added(r, fe->uid)) {
		/* This UID again (a server fault): the record this fetch
		 * stored is in a batch, where it cannot be read, so it is
		 * committed here, on the loop (a message merely out of UID
		 * order is not in sync_run.added and needs none).  The
		 * commit leaves the watermark where it is. */
		bool has_hole = r->has_hole;

		is_again = true;
		r->has_hole = true;
		if (sync_commit(as) < 0) {
			store_body_free(&body);
			return;
		}
		r->has_hole = has_hole;
	}
	if (fe->uid > r->last_uid)
		r->last_uid = fe->uid;
	if (store_msg_get(as->params.store, r->fold->id, fe->uid, &m,
			  NULL) == MS_OK) {
		uint8_t hash[STORE_HASH_LEN];

		/* An adopted file's message fetched again (its size was
		 * not the server's): the server's bytes under the same
		 * record, which keeps its file and flags. */
		if (sync_is_refetch(r, fe->uid) && !is_again) {
			as->sum.bytes += store_body_size(body);
			if (sync_batch_ok(as, store_batch_msg_add(as->batch,
								  &m, body)) &&
			    sync_batch_ok(as, sync_uid_add(r, fe->uid)))
				(void)sync_commit_if_full(as);
			return;
		}

		store_body_hash(body, hash);
		if (memcmp(hash, m.hash, STORE_HASH_LEN) != 0 && is_again) {
			/* Two messages with one UID: which one the UID
			 * names cannot be told.  The first stays, and the
			 * watermark does not pass it this pass. */
			store_body_free(&body);
			sync_msg_not_stored(as, fe->uid, "the server sent "
					    "another message with this UID in "
					    "the same fetch (a server fault): "
					    "the first one is kept");
			return;
		}
		if (memcmp(hash, m.hash, STORE_HASH_LEN) == 0) {
			/* Stored before the watermark could pass it (a
			 * crash, or a message not stored before it): a
			 * replaced record would lose its local flag
			 * changes, so the flags are merged instead. */
			store_body_free(&body);
			if (fe->has & IMAP_FETCH_HAS_FLAGS)
				sync_flags_pull(as, &m, fe->flags,
						(fe->has &
						 IMAP_FETCH_HAS_MODSEQ) ?
						fe->modseq : 0);
			return;
		}
	}
	memset(&m, 0, sizeof(m));
	m.folder_id = r->fold->id;
	m.uid = fe->uid;
	m.flags = m.synced_flags = sync_flags_from_imap(fe->flags);
	m.modseq = (fe->has & IMAP_FETCH_HAS_MODSEQ) ? fe->modseq : 0;
	if ((fe->has & IMAP_FETCH_HAS_INTERNALDATE) == 0 ||
	    sync_date_parse(fe->internaldate, &m.internal_date) < 0)
		m.internal_date = 0;
	as->sum.new_msgs++;
	as->sum.bytes += store_body_size(body);
	if (!sync_batch_ok(as, store_batch_msg_add(as->batch, &m, body)) ||
	    !sync_batch_ok(as, sync_uid_add(r, fe->uid)))
		return;
	if (sync_bodies_waiting(as) > as->max_waiting)
		as->max_waiting = sync_bodies_waiting(as);
	(void)sync_commit_if_full(as);
}

/* Marks the range whose command completed (st) and retires the
 * completed ones at the head, moving done_hi. */
static void
sync_fetch_retire(struct imap_sync *as, const struct imap_ev_status *st)
{
	struct sync_run *r = &as->run;
	uint32_t tag = 0;

	if (st != NULL && imap_client_tag_parse(st->tag, &tag)) {
		for (unsigned i = 0; i < r->n_ranges; i++) {
			struct sync_fetch_range *fr =
				&r->ranges[(r->range_head + i) % SYNC_RANGES];

			if (fr->tag >= 0 && (uint32_t)fr->tag == tag &&
			    !fr->is_done) {
				fr->is_done = true;
				fr->is_ok = sync_st_ok(st);
				break;
			}
		}
	}
	while (r->n_ranges > 0 && r->ranges[r->range_head].is_done) {
		struct sync_fetch_range *fr = &r->ranges[r->range_head];

		if (fr->is_ok && fr->hi != UINT32_MAX)
			r->done_hi = fr->hi;
		r->range_head = (r->range_head + 1) % SYNC_RANGES;
		r->n_ranges--;
	}
}

static void
sync_fetch_done(struct imap_session *s, int rc,
		const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	r->in_flight--;
	sync_fetch_retire(as, st);
	store_body_writer_free(&r->w);
	if (r->is_top && sync_st_ok(st)) {
		sync_fetch_after_top(as);
		return;
	}
	r->is_top = false;
	/* A refused command ends the folder's fetch; a message that could
	 * not be stored does not: the later ones are still fetched (the
	 * watermark stays before it, so it is fetched again next pass). */
	if (!sync_st_ok(st)) {
		sync_folder_error(as, "UID FETCH", st);
		r->is_all_sent = true;
	}
	sync_fetch_pump(as);
}

/*
 * The UID set for the new messages lo..hi (hi UINT32_MAX: "lo:*") that
 * are not stored already; "" when every one is.  Walks r->known from
 * known_i, which only moves forward as ranges are sent in order.
 */
static void
sync_fetch_set(struct sync_run *r, uint32_t lo, uint32_t hi, char *set,
	       size_t size)
{
	size_t len = 0;
	uint32_t at = lo;

	set[0] = '\0';
	while (r->known_i < r->n_known && r->known[r->known_i].hi < lo)
		r->known_i++;
	for (size_t i = r->known_i; i < r->n_known && at <= hi; i++) {
		const struct sync_uid_range *k = &r->known[i];

		/* Only "lo:*" can hold more pieces than fit: the rest is
		 * asked for whole (a stored message fetched again is
		 * recognised by its body). */
		if (k->lo > hi || len + 48 > size)
			break;
		if (k->lo > at)
			len += (size_t)snprintf(set + len, size - len, "%s%u:%u",
						len > 0 ? "," : "", at,
						k->lo - 1);
		if (k->hi >= hi)
			return;
		at = k->hi + 1;
	}
	if (hi == UINT32_MAX) {
		/* "at:*" answers with the last message even when it is
		 * below at (and stored): not asked when every UID below
		 * UIDNEXT is stored.  Otherwise "*" also finds messages at
		 * or above a UIDNEXT the server got wrong. */
		if (!r->has_uidnext || at < r->uidnext)
			snprintf(set + len, size - len, "%s%u:*",
				 len > 0 ? "," : "", at);
	} else {
		snprintf(set + len, size - len, "%s%u:%u", len > 0 ? "," : "",
			 at, hi);
	}
}

/* The fetch from the watermark spans far more UIDs than messages can be
 * new (a first sync of a folder whose UIDs run into the billions). */
static bool
sync_fetch_is_sparse(const struct sync_run *r)
{
	uint32_t span, n_new;

	if (!r->has_uidnext || r->exists == 0 || r->uidnext <= r->fetch_from)
		return false;
	span = r->uidnext - r->fetch_from;
	n_new = r->exists > r->stored.local_count ?
		r->exists - r->stored.local_count : 0;
	return span > SYNC_SPARSE_SPAN && span / 8 > n_new;
}

static void
sync_on_cut_search(struct imap_sync *as, const struct imap_ev_search *se)
{
	struct sync_run *r = &as->run;
	struct ms_slice cur = se->nums;
	uint32_t uid;

	while (r->n_cuts < SYNC_CUTS_MAX &&
	       imap_numlist_next(&cur, &uid) == MS_OK)
		if (r->n_cuts == 0 || uid > r->cuts[r->n_cuts - 1])
			r->cuts[r->n_cuts++] = uid;
}

static void
sync_cut_search_done(struct imap_session *s, int rc,
		     const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_run *r = &as->run;

	(void)s;
	if (!sync_cmd_live(as, rc) || !as->has_run || !r->is_cut_search)
		return;
	r->is_cut_search = false;
	if (!sync_st_ok(st)) {
		/* The rest in one range: slower to commit, as complete. */
		log_warn("acct=%s folder=%s UID SEARCH failed (%.*s): the "
			 "rest is fetched in one command", as->name,
			 r->fold->name, st != NULL ? (int)st->text.len : 0,
			 st != NULL ? (const char *)st->text.p : "");
		r->n_cuts = r->cut_i = 0;
		r->is_cuts_final = true;
	}
	sync_fetch_pump(as);
}

/* Asks for the next SYNC_CUTS_MAX cuts from lo on; false when none is
 * left to ask for (the rest is one range). */
static bool
sync_cut_search(struct imap_sync *as, uint32_t lo)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	char seqs[SYNC_CUTS_MAX * 11 + 1], uids[24];
	size_t len = 0;

	r->n_cuts = r->cut_i = 0;
	seqs[0] = '\0';
	for (unsigned k = 0; k < SYNC_CUTS_MAX; k++) {
		uint64_t seq = (uint64_t)r->cut_seq + SYNC_RANGE_UIDS;

		if (seq >= r->exists)
			break;
		r->cut_seq = (uint32_t)seq;
		len += (size_t)snprintf(seqs + len, sizeof(seqs) - len, "%s%u",
					len > 0 ? "," : "", r->cut_seq);
	}
	r->is_cuts_final = (uint64_t)r->cut_seq + SYNC_RANGE_UIDS >= r->exists;
	if (len == 0)
		return false;
	snprintf(uids, sizeof(uids), "%u:*", lo);
	r->is_cut_search = true;
	(void)sync_submit(as, imap_cmd_uid_search(core,
			  ms_slice_from_cstr(seqs), ms_slice_from_cstr(uids)),
			  sync_cut_search_done);
	return true;
}

/* The end of the sparse fetch's range from lo: the next cut, or
 * UINT32_MAX past the last.  False while the cuts are being asked for. */
static bool
sync_fetch_sparse_hi(struct imap_sync *as, uint32_t lo, uint64_t *hi_r)
{
	struct sync_run *r = &as->run;

	if (r->is_cut_search)
		return false;
	while (r->cut_i < r->n_cuts && r->cuts[r->cut_i] < lo)
		r->cut_i++;
	if (r->cut_i < r->n_cuts) {
		*hi_r = r->cuts[r->cut_i++];
		return true;
	}
	if (!r->is_cuts_final && sync_cut_search(as, lo))
		return false;
	*hi_r = UINT32_MAX;
	return true;
}

/* What a fetch of new messages asks for. */
static void
sync_fetch_items(const struct imap_sync *as, char *items, size_t size)
{
	snprintf(items, size, "UID FLAGS INTERNALDATE RFC822.SIZE%s "
		 "BODY.PEEK[]", (as->caps & IMAP_SESSION_CAP_CONDSTORE) ?
		 " MODSEQ" : "");
}

static void
sync_fetch_pump(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	/* At most SYNC_RANGE_UIDS / 2 pieces of at most 22 bytes. */
	char set[SYNC_RANGE_UIDS * 12 + 32], items[96];

	sync_fetch_items(as, items, sizeof(items));
	r->is_fetch_paused = false;
	while (!r->is_all_sent && r->in_flight < SYNC_IN_FLIGHT &&
	       r->n_ranges < SYNC_RANGES && !as->is_closing) {
		uint32_t lo = r->next_lo;
		uint64_t hi = (uint64_t)lo + SYNC_RANGE_UIDS - 1;
		struct sync_fetch_range *fr = &r->ranges[
			(r->range_head + r->n_ranges) % SYNC_RANGES];
		int tag;

		if (sync_bodies_waiting(as) >= SYNC_WAITING_MEM) {
			/* The disk is behind the server: memory stays
			 * bounded by what is already asked for. */
			r->is_fetch_paused = true;
			break;
		}

		if (r->is_sparse && !sync_fetch_sparse_hi(as, lo, &hi))
			break;
		if (!r->has_uidnext || hi + 1 >= r->uidnext ||
		    hi >= UINT32_MAX) {
			hi = UINT32_MAX;
			r->is_all_sent = true;
		} else {
			r->next_lo = (uint32_t)hi + 1;
		}
		sync_fetch_set(r, lo, (uint32_t)hi, set, sizeof(set));
		if (set[0] == '\0') {
			/* All stored: a range that completed at once. */
			*fr = (struct sync_fetch_range){ .lo = lo,
				.hi = (uint32_t)hi, .tag = -1, .is_done = true,
				.is_ok = true };
			r->n_ranges++;
			sync_fetch_retire(as, NULL);
			continue;
		}
		tag = imap_cmd_uid_fetch(core, ms_slice_from_cstr(set), items,
					 0, false);
		if (!sync_submit(as, tag, sync_fetch_done))
			return;
		*fr = (struct sync_fetch_range){ .lo = lo, .hi = (uint32_t)hi,
						 .tag = tag };
		r->n_ranges++;
		r->in_flight++;
	}
	if (r->in_flight == 0 && r->is_all_sent && !r->is_cut_search &&
	    !as->is_closing)
		as->run.step_done(as);	/* every range is in */
}

void
sync_fetch_resume(struct imap_sync *as)
{
	if (as->run.is_fetch_paused && !as->is_closing)
		sync_fetch_pump(as);
}

/* Notes the records at or above fetch_from (see sync_run.known). */
static int
sync_fetch_load_known(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_msg_iter *it = NULL;
	struct store_msg m;
	int rc;

	r->n_known = r->known_i = 0;
	if ((rc = store_msg_iter_new(as->params.store, r->fold->id,
				     r->fetch_from, &it)) < 0)
		return rc;
	while ((rc = store_msg_iter_next(it, &m, NULL)) == MS_OK) {
		if (sync_is_refetch(r, m.uid))
			continue;	/* stored, but to be fetched again */
		if (r->n_known > 0 && r->known[r->n_known - 1].hi + 1 == m.uid) {
			r->known[r->n_known - 1].hi = m.uid;
			continue;
		}
		if (sync_ranges_reserve(&r->known, &r->known_cap,
					r->n_known) < 0) {
			rc = MS_ENOMEM;
			break;
		}
		r->known[r->n_known++] = (struct sync_uid_range){ m.uid, m.uid };
	}
	store_msg_iter_free(&it);
	return rc == STORE_NOTFOUND ? MS_OK : rc;
}

static void
sync_fetch_known_done(struct imap_session *s, int rc,
		      const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;

	(void)s;
	if (sync_step_ok(as, rc, st, "UID FETCH (FLAGS of stored UIDs)"))
		sync_fetch_pump(as);
}

/*
 * The records above the watermark are left out of the fetch, but the
 * pass that moves the watermark past them records the SELECT's
 * HIGHESTMODSEQ, and later passes ask CHANGEDSINCE it (with CONDSTORE but
 * no QRESYNC only below the old watermark): a flag another client set on
 * one of them before this SELECT would never be read.  Their flags are
 * read first, flags only, merged as any flag update.  False when no
 * command went out.
 */
static bool
sync_fetch_known_flags(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	char set[32];

	if (r->n_known == 0)
		return false;
	snprintf(set, sizeof(set), "%u:%u", r->known[0].lo,
		 r->known[r->n_known - 1].hi);
	(void)sync_submit(as, imap_cmd_uid_fetch(core, ms_slice_from_cstr(set),
			  (as->caps & IMAP_SESSION_CAP_CONDSTORE) ?
			  "UID FLAGS MODSEQ" : "UID FLAGS", 0, false),
			  sync_fetch_known_done);
	return true;
}

/*
 * The first fetch of a folder with more than two ranges of UIDs asks for
 * its newest messages first: the last SYNC_RANGE_UIDS UIDs, alone, so
 * that they are committed (and in the mirror, acct_mirror.h) before the
 * rest; a person opens recent mail first.  The rest then comes from the
 * watermark up, leaving them out as stored (sync_run.known), as records
 * bound by APPENDUID are.  The range ends in "*" (hi UINT32_MAX), so its
 * completion never moves the watermark.  False when no command went out.
 */
static bool
sync_fetch_top(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	char set[24], items[96];
	uint32_t lo;
	int tag;

	if (!r->is_first || !r->has_uidvalidity || !r->has_uidnext ||
	    r->exists <= SYNC_RANGE_UIDS || r->n_ranges > 0 ||
	    r->uidnext <= r->fetch_from ||
	    r->uidnext - r->fetch_from <= 2 * SYNC_RANGE_UIDS)
		return false;
	lo = r->uidnext - SYNC_RANGE_UIDS;
	snprintf(set, sizeof(set), "%u:*", lo);
	sync_fetch_items(as, items, sizeof(items));
	tag = imap_cmd_uid_fetch(core, ms_slice_from_cstr(set), items, 0,
				 false);
	if (!sync_submit(as, tag, sync_fetch_done))
		return true;
	r->ranges[r->range_head] = (struct sync_fetch_range){ .lo = lo,
		.hi = UINT32_MAX, .tag = tag };
	r->n_ranges = 1;
	r->in_flight = 1;
	r->is_top = true;
	log_debug("acct=%s folder=%s the newest messages first: UIDs %s",
		  as->name, r->fold->name, set);
	return true;
}

/* The newest messages are committed: the rest, from the watermark up. */
static void
sync_fetch_after_top_committed(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	int rc;

	/* What the top fetch added is committed: known from here on. */
	r->last_uid = 0;
	r->n_added = 0;
	if ((rc = sync_fetch_load_known(as)) < 0) {
		sync_fail(as, rc, "store: folder %s: %s", r->fold->name,
			  ms_strerror(rc));
		return;
	}
	sync_fetch_pump(as);
}

/*
 * The newest messages are in: committed with the folder's UIDVALIDITY
 * (their UIDs mean nothing without it; UIDNEXT stays, as the watermark
 * has not moved), then the rest is fetched.  The commit runs on the
 * threadpool after the one committing behind the pass (sync_commit_then()):
 * in place, the loop waited for that one and then for this one's fsyncs,
 * 100 ms and more at the start of each folder.  Nothing is fetched before
 * it is done, so the known UIDs are read from what it committed.
 */
static void
sync_fetch_after_top(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_folder_state st = { .uidvalidity = r->uidvalidity };

	r->is_top = false;
	if (!sync_batch_ok(as, store_batch_folder_state(as->batch, r->fold->id,
							&st,
							STORE_FS_UIDVALIDITY)))
		return;
	sync_commit_then(as, sync_fetch_after_top_committed);
}

void
sync_fetch_start(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	int rc;

	r->fetch_from = r->stored.state.uidnext > 0 ?
			r->stored.state.uidnext : 1;
	r->next_lo = r->fetch_from;
	r->last_uid = 0;
	r->n_added = 0;
	r->is_fetching = true;
	/* A first fetch only adds records from here on: what the folders
	 * before it committed may go to the mirror now (is_adding). */
	if (r->is_first)
		sync_progress(as);
	if ((r->is_sparse = sync_fetch_is_sparse(r))) {
		/* The messages below the watermark come first. */
		r->cut_seq = r->stored.local_count < r->exists ?
			     r->stored.local_count : 0;
		log_debug("acct=%s folder=%s UIDs %u to %u for at most %u "
			  "messages: fetched in ranges of existing UIDs",
			  as->name, r->fold->name, r->fetch_from, r->uidnext,
			  r->exists);
	}
	/* Nothing at or above fetch_from existed when the folder was
	 * selected: nothing new. */
	if (r->has_uidnext && r->uidnext <= r->fetch_from)
		r->is_all_sent = true;
	else if ((rc = sync_fetch_load_known(as)) < 0 ||
		 (rc = sync_rematch_known_add(as)) < 0) {
		sync_fail(as, rc, "store: folder %s: %s", r->fold->name,
			  ms_strerror(rc));
		return;
	} else if (sync_fetch_known_flags(as) || sync_fetch_top(as)) {
		return;
	}
	sync_fetch_pump(as);
}

/* Untagged responses of the FETCH step. */
void
sync_fetch_on_event(struct imap_sync *as, const struct imap_event *ev)
{
	switch (ev->type) {
	case IMAP_EV_SEARCH:
		if (as->run.is_cut_search)
			sync_on_cut_search(as, &ev->u.search);
		break;
	case IMAP_EV_FETCH_BODY:
		sync_on_fetch_body(as, &ev->u.body);
		break;
	case IMAP_EV_LITERAL_CHUNK:
		sync_on_chunk(as, &ev->u.chunk);
		break;
	case IMAP_EV_FETCH:
		sync_on_new_fetch(as, &ev->u.fetch);
		break;
	default:
		break;
	}
}
