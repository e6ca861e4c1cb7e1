/*
 * sync_push.c - pushes a selected folder's pending local changes to the
 * server (direction = both) in a handful of round trips, not one per
 * change.  The folder's changes are planned first, then sent pipelined:
 *
 *	flag changes	grouped by identical change (same flags added and
 *			removed): UID STORE set +FLAGS.SILENT / -FLAGS.SILENT,
 *			with UNCHANGEDSINCE where CONDSTORE exists (UIDs the
 *			server names in MODIFIED stay pending and merge on
 *			a later pass)
 *	deletions	one UID STORE set +FLAGS.SILENT (\Deleted) and, with
 *			UIDPLUS, one UID EXPUNGE set (never a plain EXPUNGE)
 *	moves		per destination one UID MOVE set, or UID COPY set,
 *			then \Deleted and UID EXPUNGE of the set, bound by
 *			COPYUID (source set to destination set in order)
 *	APPENDs		with their flags and date, several in flight, bound
 *			to their UID by APPENDUID, or without it (no
 *			UIDPLUS) by UID SEARCH HEADER Message-ID (without
 *			one: UID SEARCH of the new UIDs), whose hits'
 *			RFC822.SIZE and INTERNALDATE must be the ones sent, one at a time after the APPEND's OK; one the
 *			server refuses
 *			(NO) is recorded as refused in the store, next to
 *			its change, stays local and is not sent again
 *			until its file changes or the user asks; one with
 *			NUL bytes goes as a literal8 (BINARY) or, where the
 *			server has no BINARY, stays local (recorded too)
 *
 * A set too long for one command line is split into chunks; a chunk is
 * the unit that succeeds or fails.  Each change is cleared in the batch
 * that records the server's confirmation of its chunk, so a crash in
 * between pushes it again, and a push found done already (the body is in
 * the folder, or in a move's destination) needs no command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>


#include "hash/body_hash.h"
#include "imap/imap_cmd.h"
#include "imap/imap_seqset.h"
#include "log.h"
#include "sync/imap_sync_int.h"
#include "sync/sync_date.h"
#include "sync/sync_flags.h"

#define SYNC_PUSH_SET_MAX 4000		/* bytes of a set in one command */
#define SYNC_PUSH_IN_FLIGHT 64		/* commands pipelined */
#define SYNC_PUSH_APPENDS 8		/* APPENDs pipelined */
#define SYNC_PUSH_APPEND_MEM (8u << 20)	/* their body bytes */

enum sync_push_kind {
	SYNC_PUSH_FLAGS,	/* UID STORE +/-FLAGS.SILENT */
	SYNC_PUSH_DELETE,	/* \Deleted, UID EXPUNGE */
	SYNC_PUSH_MOVE,		/* UID MOVE */
	SYNC_PUSH_COPY,		/* UID COPY, then \Deleted, UID EXPUNGE */
	/* An earlier attempt's copy is in the destination: the source is
	 * only removed. */
	SYNC_PUSH_REMOVE,
};

/* One pending change of a UID; a UID may have several. */
struct sync_push_item {
	uint64_t seq;		/* the change, cleared once confirmed */
	uint32_t uid;
	uint32_t synced;	/* the record's synced flags when planned */
	uint32_t dest_uid;	/* a move's UID in the destination (COPYUID) */
	bool is_modified;	/* named by MODIFIED: stays pending */
};

/* Changes that go in the same commands, items sorted by UID. */
struct sync_push_group {
	enum sync_push_kind kind;
	uint32_t add, rem;		/* FLAGS */
	struct store_folder dest;	/* MOVE, COPY, REMOVE */
	struct sync_push_item *v;
	size_t n, cap;
};

enum sync_chunk_state {
	SYNC_CHUNK_WAITING,	/* not sent yet */
	SYNC_CHUNK_OUT,		/* its commands are out */
	SYNC_CHUNK_REMOVING,	/* copied; the source's \Deleted is out */
	SYNC_CHUNK_EXPUNGING,	/* marked \Deleted; UID EXPUNGE is out */
	SYNC_CHUNK_DONE,
};

/* The items [lo, hi) of a group whose set fits in one command. */
struct sync_push_chunk {
	size_t group, lo, hi;
	char *set;
	enum sync_chunk_state state;
	int tags[2];		/* the stage's commands (0: none) */
	unsigned pending;
	bool is_ok;		/* every command of the stage said OK */
	bool is_marked;		/* removed without UIDPLUS: only \Deleted */
	bool is_bound;		/* COPYUID bound its items */
};

static const char *const sync_chunk_state_names[] = {
	[SYNC_CHUNK_WAITING] = "WAITING",
	[SYNC_CHUNK_OUT] = "OUT",
	[SYNC_CHUNK_REMOVING] = "REMOVING",
	[SYNC_CHUNK_EXPUNGING] = "EXPUNGING",
	[SYNC_CHUNK_DONE] = "DONE",
};

/* The one place a chunk's state changes. */
static void
sync_push_chunk_set_state(const struct imap_sync *as,
			  struct sync_push_chunk *k, enum sync_chunk_state st)
{
	log_debug("acct=%s folder=%s push uid=%.40s%s state=%s->%s", as->name,
		  as->run.fold->name, k->set, strlen(k->set) > 40 ? "..." : "",
		  sync_chunk_state_names[k->state], sync_chunk_state_names[st]);
	k->state = st;
}

/* An APPEND out. */
struct sync_push_append {
	int tag;		/* 0: a free slot */
	struct store_change c;
	uint32_t flags;		/* sent with it */
	int64_t date;		/* sent with it (0: none) */
	uint64_t size;		/* bytes sent */
	/* The bytes sent when they differ from the stored body (bare LF
	 * made CRLF): the record is bound to them. */
	uint8_t *converted;
	/* NUL bytes, sent as a literal8: the server's copy may differ
	 * (Dovecot sends NUL as 0x80 in BODY[]), so nothing is bound */
	bool is_binary;
};

/*
 * An APPEND the server took without naming its UID (no UIDPLUS): its
 * copy is looked for by Message-ID (without one, among every new
 * message), then told from another copy with that Message-ID (a Sent
 * copy the server saved) by the size and date it was sent with
 * (sync_push_find_pick).  Not by body: a server may rewrite
 * what it stores (GNU imap4d drops a leading "From " line, Status: and
 * X-UID: headers, squeezes spaces), and then no fetch ever returns the
 * bytes sent, and the reader's file, bound to no record, was taken for a
 * new message and appended again every pass; the date it keeps.  Nor by
 * a header of our own (mbsync's X-TUID): the bytes the server keeps would
 * no longer be the reader's.  Found or not, it is never sent again.
 */
struct sync_push_find {
	struct sync_push_append a;	/* as sent (a.converted owned) */
	char msgid[256];		/* "<id>"; "": it has none */
	uint32_t uid;			/* bound to it (0: not found) */
	bool is_done;
};

struct sync_push {
	bool is_planned;
	/* The folder's DELETE group only marks \Deleted (local_delete =
	 * flag, or trash without a Trash folder). */
	bool is_delete_marked;
	struct sync_push_group *groups;
	size_t n_groups;
	struct sync_push_chunk *chunks;
	size_t n_chunks, next_chunk;
	size_t *appends;	/* indexes of APPEND changes in run.changes */
	size_t n_appends, next_append;
	struct sync_push_append out[SYNC_PUSH_APPENDS];
	uint64_t append_mem;	/* body bytes of the APPENDs out */
	unsigned pending;	/* commands out */
	/* The folder's refusals (store.h), by change sequence */
	struct store_refusal *refusals;
	size_t n_refusals;
	size_t n_held;		/* refused APPENDs held back this pass */
	size_t n_unsendable;	/* APPENDs with NUL bytes, no BINARY */
	/* APPENDs taken without APPENDUID, searched for one at a time */
	struct sync_push_find *finds;
	size_t n_finds, finds_cap;
	size_t next_find;	/* finds done */
	size_t cur_find;	/* the one searched for (find_tag) */
	int find_tag;		/* the UID SEARCH or FETCH out (0: none) */
	bool is_find_fetch;	/* it is the FETCH of the hits */
	struct sync_push_hit *hits;	/* the SEARCH's usable hits */
	size_t n_hits, hits_cap;
	uint32_t find_from;	/* UIDs below it were there before */
};

void
sync_push_free(struct sync_push **pp)
{
	struct sync_push *p = *pp;

	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_groups; i++)
		free(p->groups[i].v);
	for (size_t i = 0; i < p->n_chunks; i++)
		free(p->chunks[i].set);
	for (size_t i = 0; i < SYNC_PUSH_APPENDS; i++)
		free(p->out[i].converted);
	for (size_t i = 0; i < p->n_finds; i++)
		free(p->finds[i].a.converted);
	free(p->finds);
	free(p->hits);
	free(p->groups);
	free(p->chunks);
	free(p->appends);
	free(p->refusals);
	free(p);
	*pp = NULL;
}

int
sync_push_load(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct store_change *changes = NULL;
	struct ms_err err = { 0 };
	size_t n = 0;
	int rc;

	if ((rc = store_change_list_folder(as->params.store, r->fold->id,
					   SYNC_CHANGES_MAX, &changes, &n,
					   &err)) < 0) {
		sync_fail(as, rc, "store: %s", err.msg);
		return rc;
	}
	r->changes = changes;
	r->n_changes = n;
	r->ci = 0;
	sync_push_free(&r->push);
	if ((r->push = calloc(1, sizeof(*r->push))) == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return MS_ENOMEM;
	}
	if ((rc = store_refusal_list(as->params.store, r->fold->id,
				     &r->push->refusals, &r->push->n_refusals,
				     &err)) < 0) {
		sync_fail(as, rc, "store: %s", err.msg);
		return rc;
	}
	return MS_OK;
}

/* The refusal of change seq, or NULL. */
static const struct store_refusal *
sync_push_refusal(const struct sync_push *p, uint64_t seq)
{
	for (size_t i = 0; i < p->n_refusals; i++)
		if (p->refusals[i].seq == seq)
			return &p->refusals[i];
	return NULL;
}

/* "Subject" <Message-ID> of a local message, for users; "" if unknown. */
static void
sync_push_describe(struct imap_sync *as, const uint8_t *hash, char *buf,
		   size_t size)
{
	struct store_summary sum;

	buf[0] = '\0';
	if (store_summary_get(as->params.store, hash, &sum, NULL) != MS_OK)
		return;
	snprintf(buf, size, "\"%.80s\" <%.120s>",
		 sum.subject != NULL ? sum.subject : "",
		 sum.message_id != NULL ? sum.message_id : "");
	store_summary_deinit(&sum);
}

/* A local message held back (refused, or unsendable): counted in the
 * pass's summary (*count_r), whose text names the last one. */
static void
sync_push_count_refused(struct imap_sync *as, uint64_t *count_r,
			const uint8_t *hash, const char *text)
{
	char what[256];

	sync_push_describe(as, hash, what, sizeof(what));
	(*count_r)++;
	/* Cut to fit: the log has the whole of it. */
	snprintf(as->sum.refused_text, sizeof(as->sum.refused_text),
		 "%.60s: %.120s: %.200s", as->run.fold->name, what, text);
}

/*
 * What APPEND a sent (NULL: nothing), recorded with its hold so that the
 * next passes look for its copy by that hash without reading the body
 * again: the body as it is, or its CRLF form (a->converted).
 */
static void
sync_push_sent_form(const struct sync_push_append *a, struct store_refusal *ref)
{
	if (a == NULL)
		return;
	ref->sent_form = STORE_SENT_BODY;
	if (a->converted != NULL &&
	    body_hash(a->converted, a->size, ref->sent_hash) == MS_OK)
		ref->sent_form = STORE_SENT_CRLF;
	else if (a->converted != NULL)
		ref->sent_form = STORE_SENT_UNKNOWN;
}

/*
 * Records the refusal of change c made here (kind, why; a: the APPEND
 * sent, NULL when nothing was) in the batch and logs it naming the
 * message; the next passes skip the change quietly.
 */
static void
sync_push_hold(struct imap_sync *as, const struct store_change *c,
	       const struct sync_push_append *a, enum store_refusal_kind kind,
	       const char *why)
{
	struct store_refusal ref = {
		.seq = c->seq,
		.folder_id = c->folder_id,
		.kind = kind,
		.when = (int64_t)time(NULL),
	};
	char what[256];

	sync_push_sent_form(a, &ref);
	snprintf(ref.text, sizeof(ref.text), "%s", why);
	sync_push_describe(as, c->hash, what, sizeof(what));
	log_warn("acct=%s folder=%s the local message %s %s", as->name,
		 as->run.fold->name, what, why);
	if (kind == STORE_REFUSAL_UNSENDABLE)
		sync_push_count_refused(as, &as->sum.unsendable, c->hash,
					ref.text);
	if (sync_batch_ok(as, store_batch_refusal_put(as->batch, &ref)))
		(void)sync_commit_if_full(as);
}

/* True when the folder holds a record with this body. */
static bool
sync_folder_has_hash(struct imap_sync *as, uint32_t folder_id,
		     const uint8_t *hash)
{
	struct store_msg_ref *refs = NULL;
	size_t n = 0;
	bool found = false;

	if (store_find_by_hash(as->params.store, hash, &refs, &n, NULL) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (refs[i].folder_id == folder_id)
			found = true;
	free(refs);
	return found;
}

static void
sync_push_clear(struct imap_sync *as, uint64_t seq)
{
	if (!sync_batch_ok(as, store_batch_change_clear(as->batch, seq)))
		return;
	(void)sync_commit_if_full(as);
}

/* --- planning ------------------------------------------------------------- */

/* The group for this kind (and flags, or destination); NULL when out of
 * memory (the account is failed then). */
static struct sync_push_group *
sync_push_group(struct imap_sync *as, enum sync_push_kind kind, uint32_t add,
		uint32_t rem, const struct store_folder *dest)
{
	struct sync_push *p = as->run.push;
	struct sync_push_group *g;

	for (size_t i = 0; i < p->n_groups; i++) {
		g = &p->groups[i];
		if (g->kind == kind && g->add == add && g->rem == rem &&
		    (dest == NULL || g->dest.id == dest->id))
			return g;
	}
	g = realloc(p->groups, (p->n_groups + 1) * sizeof(*g));
	if (g == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return NULL;
	}
	p->groups = g;
	g = &p->groups[p->n_groups++];
	memset(g, 0, sizeof(*g));
	g->kind = kind;
	g->add = add;
	g->rem = rem;
	if (dest != NULL)
		g->dest = *dest;
	return g;
}

static bool
sync_push_item_add(struct imap_sync *as, struct sync_push_group *g,
		   const struct store_change *c, const struct store_msg *rec)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		struct sync_push_item *v = realloc(g->v, cap * sizeof(*v));

		if (v == NULL) {
			sync_fail(as, MS_ENOMEM, "out of memory");
			return false;
		}
		g->v = v;
		g->cap = cap;
	}
	g->v[g->n++] = (struct sync_push_item){ .seq = c->seq, .uid = c->uid,
						.synced = rec->synced_flags };
	return true;
}

/* The destination of a move, when it can take it; false leaves the move
 * pending (logged). */
static bool
sync_push_move_dest(struct imap_sync *as, const struct store_change *c,
		    struct store_folder *dest)
{
	struct ms_err err = { 0 };
	int rc;

	rc = store_folder_get(as->params.store, c->dest_folder_id, dest, &err);
	if (rc == MS_OK && !(dest->attrs & (STORE_FOLDER_GONE |
					    STORE_FOLDER_CREATE)))
		return true;
	log_warn("acct=%s folder=%s uid=%u move: the destination folder is "
		 "%s (the move stays pending)", as->name, as->run.fold->name,
		 c->uid, rc < 0 ? err.msg : rc != MS_OK ||
		 (dest->attrs & STORE_FOLDER_GONE) ? "gone from the server" :
		 "not created yet");
	return false;
}

/*
 * The group of a pending MOVE.  A copy made by an earlier attempt (UID
 * COPY, then a failure or a crash before the source was removed) is in
 * the destination already: only the source is left to remove.  Not with
 * MOVE: it leaves no copy beside the source (one the server took is found
 * by the source's record being gone), so a body already in the
 * destination is another message with the same bytes (the same mail filed
 * twice), which must not take this one's place.  Without MOVE that case
 * is not told apart from a copy.
 */
static struct sync_push_group *
sync_push_move_group(struct imap_sync *as, const struct store_change *c,
		     const struct store_msg *rec)
{
	struct store_folder dest;
	enum sync_push_kind kind = SYNC_PUSH_MOVE;

	if (!sync_push_move_dest(as, c, &dest))
		return NULL;
	if ((as->caps & IMAP_SESSION_CAP_MOVE) == 0)
		kind = sync_folder_has_hash(as, dest.id, rec->hash) ?
		       SYNC_PUSH_REMOVE : SYNC_PUSH_COPY;
	return sync_push_group(as, kind, 0, 0, &dest);
}

static int sync_crlf(const struct ms_buf *in, struct ms_buf *out);

/*
 * A hold recorded before its sent form was (ref): reads c's body once
 * to learn it, and records it with the hold, so that later passes do
 * not read and hash the body again.  False when it cannot be read.
 */
static bool
sync_push_sent_form_learn(struct imap_sync *as, const struct store_change *c,
			  struct store_refusal *ref)
{
	struct sync_run *r = &as->run;
	bool ok;

	log_debug("acct=%s folder=%s held APPEND: its body is read for the "
		  "form it was sent in", as->name, r->fold->name);
	ms_buf_reset(&r->push_body);
	ok = store_body_read_all(as->params.store, c->hash, &r->push_body,
				 NULL) == MS_OK &&
	     sync_crlf(&r->push_body, &r->push_crlf) == MS_OK;
	ref->sent_form = STORE_SENT_BODY;
	if (ok && r->push_crlf.len > 0) {
		ok = body_hash(r->push_crlf.p, r->push_crlf.len,
			       ref->sent_hash) == MS_OK;
		ref->sent_form = STORE_SENT_CRLF;
	}
	ms_buf_reset(&r->push_body);
	ms_buf_reset(&r->push_crlf);
	if (ok && sync_batch_ok(as, store_batch_refusal_put(as->batch, ref)))
		(void)sync_commit_if_full(as);
	return ok;
}

/* True when the folder holds the bytes held APPEND c sent in a form other
 * than its body (bare LF sent as CRLF).  The body itself the caller
 * looked for. */
static bool
sync_push_sent_in_folder(struct imap_sync *as, const struct store_change *c,
			 const struct store_refusal *refusal)
{
	struct store_refusal ref = *refusal;

	if (ref.sent_form == STORE_SENT_UNKNOWN &&
	    !sync_push_sent_form_learn(as, c, &ref))
		return false;
	return ref.sent_form == STORE_SENT_CRLF &&
	       sync_folder_has_hash(as, c->folder_id, ref.sent_hash);
}

/*
 * The Trash a deletion goes to with local_delete = trash: the folder the
 * LIST marked \Trash (SPECIAL-USE), else one named Trash (at the top, or
 * under INBOX on a server that puts every folder there).  One the
 * folders = patterns exclude is still the Trash: its copy is only not
 * synced.  False when the server has none.
 */
static bool
sync_push_trash(struct imap_sync *as, struct store_folder *dest)
{
	const struct sync_fold *hit = NULL;

	for (size_t i = 0; i < as->n_folds && hit == NULL; i++)
		if ((as->folds[i].attrs & STORE_FOLDER_TRASH) &&
		    !(as->folds[i].attrs & STORE_FOLDER_NOSELECT))
			hit = &as->folds[i];
	for (size_t i = 0; i < as->n_folds && hit == NULL; i++) {
		const struct sync_fold *f = &as->folds[i];
		const char *base = f->name;

		if (f->delim != 0 && strncasecmp(base, "INBOX", 5) == 0 &&
		    base[5] == f->delim)
			base += 6;
		if (strcasecmp(base, "Trash") == 0 &&
		    !(f->attrs & STORE_FOLDER_NOSELECT))
			hit = f;
	}
	if (hit == NULL)
		return false;
	memset(dest, 0, sizeof(*dest));
	if (hit->id != 0 && store_folder_get(as->params.store, hit->id, dest,
					     NULL) == MS_OK)
		return true;
	/* Not synced: a name is all a MOVE needs (no COPYUID binding, as
	 * its UIDVALIDITY is not known). */
	memset(dest, 0, sizeof(*dest));
	snprintf(dest->name, sizeof(dest->name), "%s", hit->name);
	dest->delimiter = hit->delim;
	return true;
}

/*
 * The group of a pending DELETE (local_delete, cfg.h): a move to the
 * Trash, or \Deleted with UID EXPUNGE, or (flag; trash without a Trash,
 * said once per process with how to choose) \Deleted only.  In the
 * Trash itself a deletion expunges, as emptying it does in any client.
 */
static struct sync_push_group *
sync_push_delete_group(struct imap_sync *as, const struct store_msg *rec)
{
	struct sync_push *p = as->run.push;
	enum cfg_local_delete mode = as->acct->local_delete;
	struct store_folder dest;
	enum sync_push_kind kind = SYNC_PUSH_MOVE;

	if (mode == CFG_LOCAL_DELETE_TRASH && sync_push_trash(as, &dest)) {
		if (strcmp(dest.name, as->run.fold->name) == 0)
			return sync_push_group(as, SYNC_PUSH_DELETE, 0, 0, NULL);
		if ((as->caps & IMAP_SESSION_CAP_MOVE) == 0)
			kind = dest.id != 0 &&
			       sync_folder_has_hash(as, dest.id, rec->hash) ?
			       SYNC_PUSH_REMOVE : SYNC_PUSH_COPY;
		return sync_push_group(as, kind, 0, 0, &dest);
	}
	if (mode == CFG_LOCAL_DELETE_TRASH && !as->warned_no_trash) {
		log_err("acct=%s local_delete = trash, but the server has no "
			"Trash folder (none marked \\Trash, none named Trash): "
			"local deletions are only marked \\Deleted; create a "
			"Trash folder, or set local_delete = flag or expunge",
			as->name);
		as->warned_no_trash = true;
	}
	p->is_delete_marked = mode != CFG_LOCAL_DELETE_EXPUNGE;
	return sync_push_group(as, SYNC_PUSH_DELETE, 0, 0, NULL);
}

/* Sorts one change into its group; false when it needs no command (or
 * cannot go now).  Fails the account when out of memory. */
static bool
sync_push_plan_one(struct imap_sync *as, const struct store_change *c,
		   size_t ci)
{
	struct sync_push *p = as->run.push;
	struct sync_push_group *g = NULL;
	const struct store_refusal *refusal;
	struct store_msg rec;
	uint32_t add, rem;

	if (c->kind == STORE_CHANGE_APPEND) {
		if (sync_folder_has_hash(as, c->folder_id, c->hash)) {
			/* The folder has this message: re-matched after a
			 * UIDVALIDITY change, or appended before a crash. */
			sync_push_clear(as, c->seq);
			return false;
		}
		if (as->acct->direction != CFG_DIRECTION_BOTH)
			return false;
		refusal = sync_push_refusal(p, c->seq);
		if (refusal != NULL &&
		    refusal->kind == STORE_REFUSAL_UNSENDABLE &&
		    (as->caps & IMAP_SESSION_CAP_BINARY) != 0)
			refusal = NULL;	/* the server can take it now */
		if (refusal != NULL && refusal->kind == STORE_REFUSAL_ALTERED) {
			/* Sent: the server has a copy.  One sent as CRLF
			 * (bare LF converted) is found by that form. */
			if (sync_push_sent_in_folder(as, c, refusal))
				sync_push_clear(as, c->seq);
			return false;
		}
		if (refusal != NULL) {
			/* Refused before: not sent again until its file
			 * changes (a new change) or the user asks. */
			bool is_refused = refusal->kind ==
					  STORE_REFUSAL_REFUSED;

			sync_push_count_refused(as, is_refused ?
				&as->sum.refused : &as->sum.unsendable,
				c->hash, refusal->text);
			if (is_refused)
				p->n_held++;
			else
				p->n_unsendable++;
			return false;
		}
		if (c->uid != 0 && !as->run.is_fetch_whole) {
			/* Parked by a UIDVALIDITY change, and not every
			 * message of the folder was fetched again: it may be
			 * one of those still on the server. */
			as->run.n_parked_held++;
			return false;
		}
		p->appends[p->n_appends++] = ci;
		return true;
	}
	if (as->acct->direction != CFG_DIRECTION_BOTH ||
	    (c->kind != STORE_CHANGE_FLAGS && c->kind != STORE_CHANGE_DELETE &&
	     c->kind != STORE_CHANGE_MOVE))
		return false;
	if (store_msg_get(as->params.store, c->folder_id, c->uid, &rec,
			  NULL) != MS_OK) {
		/* Expunged on the server meanwhile: nothing to do (a moved
		 * message's file in the destination is then a new message
		 * there). */
		sync_push_clear(as, c->seq);
		return false;
	}
	if (c->kind == STORE_CHANGE_MOVE) {
		g = sync_push_move_group(as, c, &rec);
		return g != NULL && sync_push_item_add(as, g, c, &rec);
	}
	if (c->kind == STORE_CHANGE_DELETE) {
		g = sync_push_delete_group(as, &rec);
		return g != NULL && sync_push_item_add(as, g, c, &rec);
	}
	add = rec.flags & ~rec.synced_flags;
	rem = rec.synced_flags & ~rec.flags;
	if (add == 0 && rem == 0) {
		sync_push_clear(as, c->seq);
		return false;
	}
	g = sync_push_group(as, SYNC_PUSH_FLAGS, add, rem, NULL);
	return g != NULL && sync_push_item_add(as, g, c, &rec);
}

static int
sync_push_item_cmp(const void *a, const void *b)
{
	const struct sync_push_item *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Cuts group gi into chunks whose sets fit in a command line. */
static bool
sync_push_chunk_group(struct imap_sync *as, size_t gi)
{
	struct sync_push *p = as->run.push;
	struct sync_push_group *g = &p->groups[gi];
	uint32_t *uids;
	struct ms_buf set;
	size_t at = 0;
	bool ok = true;

	qsort(g->v, g->n, sizeof(*g->v), sync_push_item_cmp);
	if ((uids = malloc(g->n * sizeof(*uids))) == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return false;
	}
	for (size_t i = 0; i < g->n; i++)
		uids[i] = g->v[i].uid;
	ms_buf_init(&set, SYNC_PUSH_SET_MAX + 1);
	while (at < g->n && ok) {
		struct sync_push_chunk *k;
		size_t used = 0;

		ms_buf_reset(&set);
		k = realloc(p->chunks, (p->n_chunks + 1) * sizeof(*k));
		if (k == NULL || imap_seqset_format(&set, uids + at, g->n - at,
						    SYNC_PUSH_SET_MAX,
						    &used) < 0 || used == 0) {
			if (k != NULL)
				p->chunks = k;
			sync_fail(as, MS_ENOMEM, "building a UID set");
			ok = false;
			break;
		}
		p->chunks = k;
		k = &p->chunks[p->n_chunks];
		memset(k, 0, sizeof(*k));
		k->group = gi;
		k->lo = at;
		k->hi = at + used;
		if ((k->set = (char *)ms_buf_take(&set, NULL)) == NULL) {
			sync_fail(as, MS_ENOMEM, "out of memory");
			ok = false;
			break;
		}
		p->n_chunks++;
		at += used;
	}
	ms_buf_deinit(&set);
	free(uids);
	return ok;
}

/* Sorts the folder's changes into groups and chunks. */
static bool
sync_push_plan(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct sync_push *p = r->push;

	p->is_planned = true;
	/* What the APPENDs without APPENDUID make gets a UID from here. */
	p->find_from = r->has_uidnext ? r->uidnext : 1;
	if (r->n_changes > 0 &&
	    (p->appends = malloc(r->n_changes * sizeof(*p->appends))) == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return false;
	}
	for (; r->ci < r->n_changes && !as->is_closing; r->ci++)
		(void)sync_push_plan_one(as, &r->changes[r->ci], r->ci);
	if (p->n_held > 0)
		log_info("acct=%s folder=%s %zu local message%s refused by the "
			 "server before: kept local, not sent again until %s "
			 "file changes or a sync is asked for", as->name,
			 r->fold->name, p->n_held, p->n_held == 1 ? "" : "s",
			 p->n_held == 1 ? "its" : "their");
	if (p->n_unsendable > 0)
		log_info("acct=%s folder=%s %zu local message%s with NUL bytes "
			 "kept local: the server has no BINARY", as->name,
			 r->fold->name, p->n_unsendable,
			 p->n_unsendable == 1 ? "" : "s");
	/* Deletions go out first: their UID EXPUNGE waits for the \Deleted
	 * STORE's reply, which then comes while the server still works on
	 * the larger commands behind it. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t gi = 0; gi < p->n_groups && !as->is_closing; gi++)
			if ((p->groups[gi].kind == SYNC_PUSH_DELETE) ==
			    (pass == 0) && !sync_push_chunk_group(as, gi))
				return false;
	return !as->is_closing;
}

/* --- sending -------------------------------------------------------------- */

static void sync_push_done(struct imap_session *s, int rc,
			   const struct imap_ev_status *st, void *arg);

/* Submits the command just built as one of chunk k's. */
static bool
sync_push_submit(struct imap_sync *as, struct sync_push_chunk *k, int tag)
{
	if (!sync_submit(as, tag, sync_push_done))
		return false;
	k->tags[k->pending++] = tag;
	as->run.push->pending++;
	return true;
}

/*
 * Marks the chunk's UIDs \Deleted; with UIDPLUS the chunk's next stage
 * expunges just them (a plain EXPUNGE would take every message someone
 * else marked).  Without UIDPLUS the messages are only marked
 * (k->is_marked).
 */
static void
sync_push_remove(struct imap_sync *as, struct sync_push_chunk *k)
{
	struct imap_client *core = imap_session_core(as->sess);
	const struct sync_push_group *g = &as->run.push->groups[k->group];

	k->is_marked = (as->caps & IMAP_SESSION_CAP_UIDPLUS) == 0 ||
		       (g->kind == SYNC_PUSH_DELETE &&
			as->run.push->is_delete_marked);
	(void)sync_push_submit(as, k, imap_cmd_uid_store(core,
				ms_slice_from_cstr(k->set), 0, "+FLAGS.SILENT",
				"\\Deleted"));
}

/*
 * UID EXPUNGE of the set once its \Deleted STORE said OK, not pipelined
 * behind it: Dovecot may start a pipelined UID EXPUNGE before an earlier
 * UID STORE is done (neither uses sequence numbers), and the expunge then
 * leaves the messages not yet marked (seen with 30 deletions sent behind
 * 300 flag changes: all 30 stayed on the server, \Deleted).
 */
static void
sync_push_expunge(struct imap_sync *as, struct sync_push_chunk *k)
{
	sync_push_chunk_set_state(as, k, SYNC_CHUNK_EXPUNGING);
	(void)sync_push_submit(as, k, imap_cmd_uid_expunge(
				imap_session_core(as->sess),
				ms_slice_from_cstr(k->set)));
}

/* UNCHANGEDSINCE for a flag change: the HIGHESTMODSEQ this pass synced
 * the folder to.  Every server change up to it is merged into the local
 * view the change was computed from; a message changed after it (by
 * another client meanwhile) is refused with MODIFIED and merged next
 * pass.  One value serves the whole set, where the message's own modseq
 * would take a command per message. */
static uint64_t
sync_push_unchangedsince(const struct imap_sync *as)
{
	return (as->caps & IMAP_SESSION_CAP_CONDSTORE) ? as->run.hms : 0;
}

static void
sync_push_flags_send(struct imap_sync *as, struct sync_push_chunk *k,
		     const struct sync_push_group *g)
{
	struct imap_client *core = imap_session_core(as->sess);
	struct ms_slice set = ms_slice_from_cstr(k->set);
	uint64_t unch = sync_push_unchangedsince(as);
	char names[SYNC_FLAGS_TEXT_MAX];

	/* UNCHANGEDSINCE on the first command only: it moves the modseq. */
	if (g->add != 0) {
		if (sync_flags_to_imap(g->add, names, sizeof(names)) < 0 ||
		    !sync_push_submit(as, k, imap_cmd_uid_store(core, set,
				unch, "+FLAGS.SILENT", names)))
			return;
		unch = 0;
	}
	if (g->rem != 0 &&
	    sync_flags_to_imap(g->rem, names, sizeof(names)) == MS_OK)
		(void)sync_push_submit(as, k, imap_cmd_uid_store(core, set,
				unch, "-FLAGS.SILENT", names));
}

static void
sync_push_chunk_send(struct imap_sync *as, struct sync_push_chunk *k)
{
	struct sync_push_group *g = &as->run.push->groups[k->group];
	struct imap_client *core = imap_session_core(as->sess);
	struct ms_slice set = ms_slice_from_cstr(k->set);

	sync_push_chunk_set_state(as, k, SYNC_CHUNK_OUT);
	k->is_ok = true;
	for (size_t i = k->lo; i < k->hi; i++)
		g->v[i].dest_uid = 0;
	switch (g->kind) {
	case SYNC_PUSH_FLAGS:
		sync_push_flags_send(as, k, g);
		break;
	case SYNC_PUSH_DELETE:
		sync_push_remove(as, k);
		if (k->is_marked && !as->run.push->is_delete_marked &&
		    !as->is_closing && !as->warned_no_uidplus) {
			log_warn("acct=%s the server has no UIDPLUS: local "
				 "deletions are marked \\Deleted, not expunged",
				 as->name);
			as->warned_no_uidplus = true;
		}
		break;
	case SYNC_PUSH_MOVE:
		(void)sync_push_submit(as, k, imap_cmd_uid_move(core, set,
				ms_slice_from_cstr(g->dest.name)));
		break;
	case SYNC_PUSH_COPY:
		(void)sync_push_submit(as, k, imap_cmd_uid_copy(core, set,
				ms_slice_from_cstr(g->dest.name)));
		break;
	case SYNC_PUSH_REMOVE:
		sync_push_chunk_set_state(as, k, SYNC_CHUNK_REMOVING);
		sync_push_remove(as, k);
		break;
	}
}

/*
 * IMAP messages end lines with CRLF; a local body with bare LF is sent
 * converted (into out), and the record is bound to the converted bytes,
 * which are what the server stores.  Returns MS_OK with out empty when
 * no conversion is needed.
 */
static int
sync_crlf(const struct ms_buf *in, struct ms_buf *out)
{
	bool needs = false;

	ms_buf_reset(out);
	for (size_t i = 0; i < in->len && !needs; i++)
		needs = in->p[i] == '\n' && (i == 0 || in->p[i - 1] != '\r');
	if (!needs)
		return MS_OK;
	for (size_t i = 0, start = 0; i <= in->len; i++) {
		int rc;

		if (i < in->len && !(in->p[i] == '\n' &&
				     (i == 0 || in->p[i - 1] != '\r')))
			continue;
		if ((rc = ms_buf_append(out, in->p + start, i - start)) < 0)
			return rc;
		if (i < in->len && (rc = ms_buf_append(out, "\r\n", 2)) < 0)
			return rc;
		start = i + 1;
	}
	return MS_OK;
}

/* The date an APPEND carries: the message's Date header, else the one
 * recorded with the change (the file's mtime, or the server's old
 * INTERNALDATE); 0 for none. */
static int64_t
sync_push_append_date(struct imap_sync *as, const struct store_change *c)
{
	struct store_summary sum;
	int64_t t = c->internal_date;

	if (store_summary_get(as->params.store, c->hash, &sum, NULL) == MS_OK) {
		if (sum.has_date && sum.date > 0)
			t = sum.date;
		store_summary_deinit(&sum);
	}
	return t;
}

/*
 * Reads the body of APPEND c into r->push_body (converted to CRLF when
 * needed, then also kept in a->converted).  False when it is not to be
 * sent: unreadable (logged), or on the server already (cleared).
 */
static bool
sync_push_append_body(struct imap_sync *as, const struct store_change *c,
		      struct sync_push_append *a)
{
	struct sync_run *r = &as->run;
	struct ms_err err = { 0 };
	uint8_t h[STORE_HASH_LEN];
	int rc;

	ms_buf_reset(&r->push_body);
	rc = store_body_read_all(as->params.store, c->hash, &r->push_body,
				 &err);
	if (rc != MS_OK) {
		log_err("acct=%s folder=%s pending APPEND: body not readable: "
			"%s", as->name, r->fold->name,
			rc < 0 ? err.msg : "not in the store");
		return false;
	}
	if ((rc = sync_crlf(&r->push_body, &r->push_crlf)) < 0) {
		log_err("acct=%s folder=%s pending APPEND: %s", as->name,
			r->fold->name, ms_strerror(rc));
		return false;
	}
	if (r->push_crlf.len == 0)
		return true;
	/* What the server holds of an APPEND taken before a crash (or
	 * without APPENDUID) is the converted body: found by that hash, it
	 * is not sent again. */
	if (body_hash(r->push_crlf.p, r->push_crlf.len, h) == MS_OK &&
	    sync_folder_has_hash(as, c->folder_id, h)) {
		sync_push_clear(as, c->seq);
		return false;
	}
	ms_buf_reset(&r->push_body);
	if (ms_buf_append(&r->push_body, r->push_crlf.p, r->push_crlf.len) < 0)
		return false;
	a->converted = ms_buf_take(&r->push_crlf, NULL);
	return a->converted != NULL;
}

/* Sends APPEND c in slot a; false when nothing went out. */
static bool
sync_push_append_send(struct imap_sync *as, const struct store_change *c,
		      struct sync_push_append *a)
{
	struct sync_run *r = &as->run;
	struct imap_client *core = imap_session_core(as->sess);
	char date[SYNC_DATE_TEXT_MAX], names[SYNC_FLAGS_TEXT_MAX];
	int64_t t = sync_push_append_date(as, c);
	uint64_t size;
	/* \Deleted would make the reader's new message vanish on the next
	 * expunge someone runs. */
	uint32_t flags = c->flags_add & ~STORE_FLAG_DELETED;
	int tag;

	memset(a, 0, sizeof(*a));
	if (!sync_push_append_body(as, c, a))
		return false;
	/* IMAP's literal cannot carry NUL (Cyrus refuses it, Dovecot
	 * turns it into 0x80): only BINARY's literal8 can. */
	a->is_binary = r->push_body.len > 0 &&
		       memchr(r->push_body.p, 0, r->push_body.len) != NULL;
	if (a->is_binary && (as->caps & IMAP_SESSION_CAP_BINARY) == 0) {
		sync_push_hold(as, c, NULL, STORE_REFUSAL_UNSENDABLE,
			       "holds NUL bytes, which IMAP can only carry "
			       "with BINARY, and the server does not offer "
			       "BINARY: it stays local, not sent");
		ms_buf_reset(&r->push_body);
		free(a->converted);
		a->converted = NULL;
		return false;
	}
	if (sync_flags_to_imap(flags, names, sizeof(names)) < 0)
		names[0] = '\0';
	sync_date_format(t, date);
	tag = (a->is_binary ? imap_cmd_append_binary : imap_cmd_append)(core,
			      ms_slice_from_cstr(r->fold->name),
			      names[0] != '\0' ? names : NULL,
			      t != 0 ? ms_slice_from_cstr(date) :
			      (struct ms_slice){ NULL, 0 },
			      (struct ms_slice){ r->push_body.p,
						 r->push_body.len });
	size = r->push_body.len;
	ms_buf_reset(&r->push_body);
	if (!sync_submit(as, tag, sync_push_done)) {
		free(a->converted);
		a->converted = NULL;
		return false;
	}
	a->tag = tag;
	a->c = *c;
	a->flags = flags;
	a->date = t;
	a->size = size;
	r->push->append_mem += a->size;
	r->push->pending++;
	return true;
}

/* Starts APPENDs while the window has room. */
static void
sync_push_appends_pump(struct imap_sync *as)
{
	struct sync_run *r = &as->run;
	struct sync_push *p = r->push;

	while (p->next_append < p->n_appends && !as->is_closing) {
		struct sync_push_append *a = NULL;
		const struct store_change *c;

		for (size_t i = 0; i < SYNC_PUSH_APPENDS && a == NULL; i++)
			if (p->out[i].tag == 0)
				a = &p->out[i];
		/* One APPEND goes out whatever its size. */
		if (a == NULL || p->append_mem >= SYNC_PUSH_APPEND_MEM)
			return;
		c = &r->changes[p->appends[p->next_append++]];
		(void)sync_push_append_send(as, c, a);
	}
}

/* --- replies: APPEND ------------------------------------------------------ */

/* A finished store body holding p[0..len). */
static int
sync_body_from(struct imap_sync *as, const uint8_t *p, size_t len,
	       struct store_body **body_r)
{
	struct store_body_writer *w = NULL;
	struct ms_err err = { 0 };
	int rc;

	if ((rc = store_body_writer_new(as->params.store, len, &w,
					&err)) < 0 ||
	    (rc = store_body_writer_write(w, p, len, &err)) < 0 ||
	    (rc = store_body_writer_finish(&w, body_r, &err)) < 0) {
		store_body_writer_free(&w);
		log_err("acct=%s storing an appended body: %s", as->name,
			err.msg);
		return rc;
	}
	return MS_OK;
}

/*
 * The server says it gave the message with body hash the UID uid in
 * folder_id (APPENDUID, COPYUID).  False when the store holds another
 * message under that UID: a server fault, logged; the record is not
 * replaced (the original would never be fetched again), and the message
 * sent is fetched like any new one.  A record of this very body is one an
 * earlier attempt bound: false too, quietly.
 */
static bool
sync_push_uid_free(struct imap_sync *as, uint32_t folder_id,
		   const char *folder, uint32_t uid,
		   const uint8_t hash[STORE_HASH_LEN], const char *code)
{
	struct store_msg m;

	if (store_msg_get(as->params.store, folder_id, uid, &m, NULL) != MS_OK)
		return true;
	if (memcmp(m.hash, hash, STORE_HASH_LEN) != 0)
		log_warn("acct=%s folder=%s %s names UID %u, which the store "
			 "holds for another message (a server fault): that "
			 "record stays, the message is fetched as a new one",
			 as->name, folder, code, uid);
	return false;
}

/* Binds the appended message to uid, with the flags and date it was sent
 * with: a record of the bytes sent, so the reader's file is adopted. */
static void
sync_push_append_bind_uid(struct imap_sync *as,
			  const struct sync_push_append *a, uint32_t uid)
{
	struct store_body *body = NULL;
	struct store_msg m;

	memset(&m, 0, sizeof(m));
	m.folder_id = a->c.folder_id;
	m.uid = uid;
	memcpy(m.hash, a->c.hash, STORE_HASH_LEN);
	m.internal_date = a->date;
	m.size = a->size;
	m.flags = m.synced_flags = a->flags;
	if (a->converted != NULL &&
	    sync_body_from(as, a->converted, a->size, &body) < 0)
		return;
	(void)sync_batch_ok(as, store_batch_msg_add(as->batch, &m, body));
}

/* Binds the appended message to the UID APPENDUID names.  False when the
 * reply names no usable UID: the copy is then looked for by Message-ID
 * (sync_push_find_add). */
static bool
sync_push_append_bind(struct imap_sync *as, const struct sync_push_append *a,
		      const struct imap_ev_status *st)
{
	struct sync_run *r = &as->run;
	struct imap_seqset_iter it;
	uint32_t lo, hi;

	imap_seqset_iter_init(&it, st->code.set1);
	if (st->code.code != IMAP_CODE_APPENDUID ||
	    st->code.uidvalidity != r->uidvalidity ||
	    imap_seqset_iter_next(&it, &lo, &hi) != MS_OK || lo != hi)
		return false;
	if (sync_push_uid_free(as, a->c.folder_id, r->fold->name, lo,
			       a->c.hash, "APPENDUID"))
		sync_push_append_bind_uid(as, a, lo);
	return true;
}

/* --- APPENDs without APPENDUID: found by Message-ID ------------------------ */

/* The change stays, held (STORE_REFUSAL_ALTERED): its file is not taken
 * for a new message, and it is not sent again; a fetch that brings the
 * same bytes clears it (sync_push_plan_one). */
static void
sync_push_find_hold(struct imap_sync *as, const struct sync_push_append *a,
		    const char *why)
{
	char text[STORE_REFUSAL_TEXT_MAX];

	snprintf(text, sizeof(text), "was appended, but the server gave no "
		 "UID (no UIDPLUS) and %s: the server's copy comes with the "
		 "next fetch, the local file stays as it is", why);
	sync_push_hold(as, &a->c, a, STORE_REFUSAL_ALTERED, text);
}

/*
 * The server took the APPEND but named no UID: held at once, like a
 * BINARY one, so that a pass that ends before the search for its copy
 * answers (a drop, a stop, a crash after a commit) leaves the server's
 * copy to the next fetch instead of appending it again.  The search's
 * answer replaces the hold: a bind and clear, or the hold with why.
 * Quiet: the search's answer is what is logged.
 */
static void
sync_push_find_pending(struct imap_sync *as, const struct sync_push_append *a)
{
	struct store_refusal ref = {
		.seq = a->c.seq,
		.folder_id = a->c.folder_id,
		.kind = STORE_REFUSAL_ALTERED,
		.when = (int64_t)time(NULL),
	};

	sync_push_sent_form(a, &ref);
	snprintf(ref.text, sizeof(ref.text), "was appended, but the server "
		 "gave no UID (no UIDPLUS) and the pass ended before its "
		 "copy was searched for: the server's copy comes with the "
		 "next fetch, the local file stays as it is");
	if (sync_batch_ok(as, store_batch_refusal_put(as->batch, &ref)))
		(void)sync_commit_if_full(as);
}

/* A Message-ID a quoted string carries as it is. */
static bool
sync_push_msgid_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 250)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] < 0x21 || id[i] > 0x7e || id[i] == '"' ||
		    id[i] == '\\')
			return false;
	return true;
}

/* APPEND a said OK without APPENDUID: queued to be found by its
 * Message-ID, or among the new messages when it has none (taking
 * a->converted); held when its header cannot be read. */
static void
sync_push_find_add(struct imap_sync *as, struct sync_push_append *a)
{
	struct sync_push *p = as->run.push;
	struct store_summary sum;
	struct sync_push_find *f;

	if (store_summary_get(as->params.store, a->c.hash, &sum,
			      NULL) != MS_OK) {
		sync_push_find_hold(as, a, "its header cannot be read");
		return;
	}
	if (p->n_finds == p->finds_cap) {
		size_t cap = p->finds_cap ? 2 * p->finds_cap : 8;
		void *v = realloc(p->finds, cap * sizeof(*p->finds));

		if (v == NULL) {
			store_summary_deinit(&sum);
			sync_fail(as, MS_ENOMEM, "out of memory");
			return;
		}
		p->finds = v;
		p->finds_cap = cap;
	}
	f = &p->finds[p->n_finds++];
	memset(f, 0, sizeof(*f));
	f->a = *a;
	a->converted = NULL;
	/* Without a Message-ID every new message is a candidate: the size
	 * and date it was sent with tell which is its copy. */
	if (sync_push_msgid_ok(sum.message_id))
		snprintf(f->msgid, sizeof(f->msgid), "<%s>", sum.message_id);
	store_summary_deinit(&sum);
}

/* A NO that says nothing about the message (RFC 5530: the server is
 * busy, the mailbox over quota or missing): the APPEND is tried again. */
static bool
sync_push_is_transient(const struct imap_resp_code *code)
{
	return imap_code_is_any(code, "UNAVAILABLE INUSE OVERQUOTA LIMIT "
				"TRYCREATE");
}

/*
 * The server refused APPEND a (NO, BAD): the message stays local, and the
 * refusal is recorded next to its change with the server's text, so it
 * is not sent again every pass (a server that refuses a message keeps
 * refusing it) and status names it.  A refusal for a passing reason
 * (sync_push_is_transient) is only logged: the next pass tries again.
 */
static void
sync_push_append_refused(struct imap_sync *as,
			 const struct sync_push_append *a,
			 const struct imap_ev_status *st)
{
	struct store_refusal ref = {
		.seq = a->c.seq,
		.folder_id = a->c.folder_id,
		.kind = STORE_REFUSAL_REFUSED,
		.when = (int64_t)time(NULL),
	};
	char what[256];
	int n = 0;

	if (st->code.name.len > 0)
		n = snprintf(ref.text, sizeof(ref.text), "[%.*s] ",
			     (int)(st->code.name.len > 64 ? 64 :
				   st->code.name.len),
			     (const char *)st->code.name.p);
	snprintf(ref.text + n, sizeof(ref.text) - (size_t)n, "%.*s",
		 (int)(st->text.len > STORE_REFUSAL_TEXT_MAX ?
		       STORE_REFUSAL_TEXT_MAX : st->text.len),
		 (const char *)st->text.p);
	sync_push_describe(as, a->c.hash, what, sizeof(what));
	if (sync_push_is_transient(&st->code)) {
		log_warn("acct=%s folder=%s the server did not take the local "
			 "message %s for now: %s; it stays pending and is "
			 "tried again next pass", as->name, as->run.fold->name,
			 what, ref.text);
		return;
	}
	log_warn("acct=%s folder=%s the server refused to append the local "
		 "message %s: %s; it stays local and is not sent again until "
		 "its file changes or a sync is asked for", as->name,
		 as->run.fold->name, what, ref.text);
	sync_push_count_refused(as, &as->sum.refused, a->c.hash, ref.text);
	if (sync_batch_ok(as, store_batch_refusal_put(as->batch, &ref)))
		(void)sync_commit_if_full(as);
}

static void
sync_push_append_reply(struct imap_sync *as, struct sync_push_append *a,
		       const struct imap_ev_status *st)
{
	struct sync_push *p = as->run.push;

	if (!sync_st_ok(st)) {
		sync_push_append_refused(as, a, st);
	} else if (a->is_binary) {
		/* What the server returns for it is not what was sent
		 * (BODY[] cannot carry NUL): the next fetch brings the
		 * server's copy.  The change stays, held, so that the
		 * local file is not taken for a new message and sent
		 * again. */
		as->sum.appended++;
		sync_push_hold(as, &a->c, a, STORE_REFUSAL_ALTERED,
			       "holds NUL bytes: appended with BINARY; the "
			       "server's copy comes with the next fetch and "
			       "may differ, the local file stays as it is");
	} else if (!sync_push_append_bind(as, a, st)) {
		as->sum.appended++;
		sync_push_find_pending(as, a);
		sync_push_find_add(as, a);
	} else {
		as->sum.appended++;
		if (!as->is_closing)
			sync_push_clear(as, a->c.seq);
	}
	free(a->converted);
	a->converted = NULL;
	a->tag = 0;
	p->append_mem -= a->size;
}

static void sync_push_find_done(struct imap_session *s, int rc,
				const struct imap_ev_status *st, void *arg);

/*
 * The find to search for next (n_finds: none now): those with a
 * Message-ID first, then, once every APPEND is answered, those without,
 * whose search takes every new message the others did not bind (two
 * files a reader dropped in one second have one date).
 */
static size_t
sync_push_find_next(const struct sync_push *p)
{
	size_t i;

	for (i = 0; i < p->n_finds; i++)
		if (!p->finds[i].is_done && p->finds[i].msgid[0] != '\0')
			return i;
	for (i = 0; i < SYNC_PUSH_APPENDS; i++)
		if (p->out[i].tag != 0 || p->next_append < p->n_appends)
			return p->n_finds;
	for (i = 0; i < p->n_finds; i++)
		if (!p->finds[i].is_done)
			return i;
	return p->n_finds;
}

/* Sends the next UID SEARCH for an APPEND without APPENDUID (by its
 * Message-ID, or for every new message when it has none), one at a
 * time: a SEARCH answer names no command, so only one may be out. */
static void
sync_push_finds_pump(struct imap_sync *as)
{
	struct sync_push *p = as->run.push;
	const struct sync_push_find *f;
	char from[16];
	int tag;

	if (p->find_tag != 0 || as->is_closing ||
	    (p->cur_find = sync_push_find_next(p)) == p->n_finds)
		return;
	f = &p->finds[p->cur_find];
	snprintf(from, sizeof(from), "%u:*", (unsigned)p->find_from);
	tag = f->msgid[0] != '\0' ?
	      imap_cmd_uid_search_header(imap_session_core(as->sess),
					 MS_SLICE_LIT("Message-ID"),
					 ms_slice_from_cstr(f->msgid)) :
	      imap_cmd_uid_search(imap_session_core(as->sess),
				  (struct ms_slice){ NULL, 0 },
				  ms_slice_from_cstr(from));
	if (!sync_submit(as, tag, sync_push_find_done))
		return;
	p->find_tag = tag;
	p->is_find_fetch = false;
	p->n_hits = 0;
	p->pending++;
}

/* A hit of the SEARCH out: usable when it came with this pass's APPENDs,
 * is in no record, and no earlier search of the pass took it. */
static void
sync_push_find_hits(struct imap_sync *as, const struct imap_ev_search *sr)
{
	struct sync_push *p = as->run.push;
	struct ms_slice cur = sr->nums;
	struct store_msg m;
	uint32_t uid;

	while (imap_numlist_next(&cur, &uid) == MS_OK) {
		bool is_taken = uid < p->find_from;

		for (size_t i = 0; i < p->n_finds && !is_taken; i++)
			is_taken = p->finds[i].uid == uid;
		for (size_t i = 0; i < p->n_hits && !is_taken; i++)
			is_taken = p->hits[i].uid == uid;
		if (is_taken || store_msg_get(as->params.store,
					      as->run.fold->id, uid, &m,
					      NULL) == MS_OK)
			continue;
		if (p->n_hits == p->hits_cap) {
			size_t cap = p->hits_cap ? 2 * p->hits_cap : 4;
			void *v = realloc(p->hits, cap * sizeof(*p->hits));

			if (v == NULL) {
				sync_fail(as, MS_ENOMEM, "out of memory");
				return;
			}
			p->hits = v;
			p->hits_cap = cap;
		}
		p->hits[p->n_hits++] = (struct sync_push_hit){ .uid = uid };
	}
}

/* A FETCH of the hits: notes whether the size and date are the APPEND's. */
static void
sync_push_find_fetched_one(struct imap_sync *as, const struct imap_ev_fetch *fe)
{
	struct sync_push *p = as->run.push;
	const struct sync_push_find *f = &p->finds[p->cur_find];
	int64_t t;

	if ((fe->has & IMAP_FETCH_HAS_UID) == 0)
		return;
	for (size_t i = 0; i < p->n_hits; i++) {
		struct sync_push_hit *h = &p->hits[i];

		if (h->uid != fe->uid)
			continue;
		if (fe->has & IMAP_FETCH_HAS_RFC822_SIZE)
			h->is_size = fe->rfc822_size == f->a.size;
		if ((fe->has & IMAP_FETCH_HAS_INTERNALDATE) &&
		    sync_date_parse(fe->internaldate, &t) == MS_OK)
			h->is_date = f->a.date != 0 && t == f->a.date;
	}
}

uint32_t
sync_push_find_pick(const struct sync_push_hit *v, size_t n, const char **why_r)
{
	uint32_t exact = 0, dated = 0;
	size_t n_exact = 0, n_dated = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i].is_size && v[i].is_date) {
			exact = v[i].uid;
			n_exact++;
		}
		if (v[i].is_date) {
			dated = v[i].uid;
			n_dated++;
		}
	}
	*why_r = NULL;
	if (n_exact == 1)
		return exact;
	if (n_exact > 1) {
		*why_r = "several new messages have the size and date it was "
			 "sent with";
		return 0;
	}
	/* A server that rewrites what it stores changes the size, never
	 * the date it was given: the one copy with that date is the
	 * APPEND's. */
	if (n_dated == 1)
		return dated;
	*why_r = n_dated > 1 ? "several new messages have the date it was "
			       "sent with" :
		 "no new message has the date it was sent with";
	return 0;
}

static void sync_push_find_fetch_done(struct imap_session *s, int rc,
				      const struct imap_ev_status *st,
				      void *arg);

static int
sync_push_hit_cmp(const void *a, const void *b)
{
	const struct sync_push_hit *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Asks for the hits' sizes and dates; false when no command went out
 * (every hit must fit one command: more are not guessed among). */
static bool
sync_push_find_fetch(struct imap_sync *as)
{
	struct sync_push *p = as->run.push;
	uint32_t *uids;
	struct ms_buf set;
	size_t used = 0;
	int tag = -1;

	qsort(p->hits, p->n_hits, sizeof(*p->hits), sync_push_hit_cmp);
	if ((uids = malloc(p->n_hits * sizeof(*uids))) == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return false;
	}
	for (size_t i = 0; i < p->n_hits; i++)
		uids[i] = p->hits[i].uid;
	ms_buf_init(&set, SYNC_PUSH_SET_MAX + 1);
	if (imap_seqset_format(&set, uids, p->n_hits, SYNC_PUSH_SET_MAX,
			       &used) == MS_OK && used == p->n_hits &&
	    ms_buf_append(&set, "", 1) == MS_OK)
		tag = imap_cmd_uid_fetch(imap_session_core(as->sess),
					 ms_slice_from_cstr((char *)set.p),
					 "RFC822.SIZE INTERNALDATE", 0, false);
	ms_buf_deinit(&set);
	free(uids);
	if (tag < 0 || !sync_submit(as, tag, sync_push_find_fetch_done))
		return false;
	p->find_tag = tag;
	p->is_find_fetch = true;
	p->pending++;
	return true;
}

/* The search for find f is over: bind it to uid, or hold it with why. */
static void
sync_push_find_end(struct imap_sync *as, uint32_t uid, const char *why)
{
	struct sync_push *p = as->run.push;
	struct sync_push_find *f = &p->finds[p->cur_find];
	char what[256];

	f->is_done = true;
	p->next_find++;

	if (uid != 0) {
		f->uid = uid;
		sync_push_append_bind_uid(as, &f->a, f->uid);
		sync_push_describe(as, f->a.c.hash, what, sizeof(what));
		log_info("acct=%s folder=%s the local message %s appended "
			 "without APPENDUID is UID %u on the server (found by "
			 "%s)", as->name, as->run.fold->name, what, f->uid,
			 f->msgid[0] != '\0' ? "its Message-ID" :
			 "its size and date among the new messages");
		if (!as->is_closing)
			sync_push_clear(as, f->a.c.seq);
	} else {
		sync_push_find_hold(as, &f->a, why);
	}
	free(f->a.converted);
	f->a.converted = NULL;
	sync_push_next(as);
}

/*
 * The SEARCH is answered.  A hit is not taken on its Message-ID alone:
 * another copy may have come meanwhile (a Sent copy the server saved
 * from the submission), and binding it would show the reader's message
 * twice and that copy never.  The hits' sizes and dates decide.
 */
static void
sync_push_find_done(struct imap_session *s, int rc,
		    const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_push *p = as->run.push;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	p->pending--;
	p->find_tag = 0;
	if (!sync_st_ok(st)) {
		sync_push_find_end(as, 0, "the search for its copy failed");
		return;
	}
	if (p->n_hits == 0) {
		sync_push_find_end(as, 0, p->finds[p->cur_find].msgid[0] ?
				   "no new message has its Message-ID" :
				   "no new message came with it");
		return;
	}
	if (!sync_push_find_fetch(as) && !as->is_closing)
		sync_push_find_end(as, 0, "its copies cannot be told apart");
}

static void
sync_push_find_fetch_done(struct imap_session *s, int rc,
			  const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_push *p = as->run.push;
	const char *why = "the size and date of its copy cannot be read";
	uint32_t uid = 0;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	p->pending--;
	p->find_tag = 0;
	p->is_find_fetch = false;
	if (sync_st_ok(st))
		uid = sync_push_find_pick(p->hits, p->n_hits, &why);
	sync_push_find_end(as, uid, why);
}

/* --- replies: sets -------------------------------------------------------- */

/* The first item of the chunk holding uid, or k->hi. */
static size_t
sync_push_find(const struct sync_push_group *g,
	       const struct sync_push_chunk *k, uint32_t uid)
{
	size_t lo = k->lo, hi = k->hi;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < k->hi && g->v[lo].uid == uid ? lo : k->hi;
}

/* True for the first of a UID's items (a UID may have several changes,
 * which one command serves). */
static bool
sync_push_is_first(const struct sync_push_group *g,
		   const struct sync_push_chunk *k, size_t i)
{
	return i == k->lo || g->v[i - 1].uid != g->v[i].uid;
}

/* Walks a sequence set UID by UID. */
struct sync_uid_walk {
	struct imap_seqset_iter it;
	uint64_t at, hi;
};

static bool
sync_uid_walk_next(struct sync_uid_walk *w, uint32_t *uid_r)
{
	uint32_t lo, hi;

	if (w->at > w->hi) {
		if (imap_seqset_iter_next(&w->it, &lo, &hi) != MS_OK)
			return false;
		w->at = lo;
		w->hi = hi;
	}
	*uid_r = (uint32_t)w->at++;
	return true;
}

/* The number of UIDs in set, or UINT64_MAX when it is not a valid set or
 * holds more than max. */
static uint64_t
sync_uid_count(struct ms_slice set, uint64_t max)
{
	struct imap_seqset_iter it;
	uint32_t lo, hi;
	uint64_t n = 0;
	int rc;

	imap_seqset_iter_init(&it, set);
	while ((rc = imap_seqset_iter_next(&it, &lo, &hi)) == MS_OK) {
		n += (uint64_t)hi - lo + 1;
		if (n > max)
			return UINT64_MAX;
	}
	return rc == MS_AGAIN ? n : UINT64_MAX;
}

/*
 * COPYUID uidvalidity src dst for chunk k of a move: binds each source
 * UID to its UID in the destination, the two sets read in order.  Only
 * when the destination's UIDVALIDITY is the one the store knows (so the
 * UIDs mean something there), both sets are as long, and every source
 * UID is one of the chunk's; otherwise nothing is bound and the
 * destination fetches the copies.  True when it bound.
 */
static bool
sync_push_bind(struct imap_sync *as, struct sync_push_chunk *k,
	       const struct imap_resp_code *code)
{
	struct sync_push_group *g = &as->run.push->groups[k->group];
	struct sync_uid_walk s, d;
	uint64_t n = sync_uid_count(code->set1, k->hi - k->lo);
	uint32_t su, du;

	if (code->code != IMAP_CODE_COPYUID || k->is_bound ||
	    code->uidvalidity == 0 ||
	    code->uidvalidity != g->dest.state.uidvalidity || n == 0 ||
	    n == UINT64_MAX || sync_uid_count(code->set2, n) != n)
		return false;
	memset(&s, 0, sizeof(s));
	s.at = 1;
	imap_seqset_iter_init(&s.it, code->set1);
	while (sync_uid_walk_next(&s, &su))
		if (sync_push_find(g, k, su) == k->hi)
			return false;
	memset(&s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	s.at = d.at = 1;
	imap_seqset_iter_init(&s.it, code->set1);
	imap_seqset_iter_init(&d.it, code->set2);
	while (sync_uid_walk_next(&s, &su) && sync_uid_walk_next(&d, &du))
		for (size_t i = sync_push_find(g, k, su);
		     i < k->hi && g->v[i].uid == su; i++)
			g->v[i].dest_uid = du;
	k->is_bound = true;
	return true;
}

void
sync_push_on_event(struct imap_sync *as, const struct imap_event *ev)
{
	struct sync_push *p = as->run.push;

	if (ev->type == IMAP_EV_SEARCH && p != NULL && p->find_tag != 0 &&
	    !p->is_find_fetch) {
		sync_push_find_hits(as, &ev->u.search);
		return;
	}
	if (ev->type == IMAP_EV_FETCH && p != NULL && p->find_tag != 0 &&
	    p->is_find_fetch) {
		sync_push_find_fetched_one(as, &ev->u.fetch);
		return;
	}

	/* UID MOVE sends COPYUID untagged, before its expunges.  Several
	 * moves may be out: it belongs to the one whose UIDs it names. */
	if (ev->type != IMAP_EV_UNTAGGED_STATUS || p == NULL ||
	    ev->u.status.code.code != IMAP_CODE_COPYUID)
		return;
	for (size_t i = 0; i < p->n_chunks; i++) {
		struct sync_push_chunk *k = &p->chunks[i];

		if (k->state == SYNC_CHUNK_OUT && k->pending > 0 &&
		    p->groups[k->group].kind == SYNC_PUSH_MOVE &&
		    sync_push_bind(as, k, &ev->u.status.code))
			return;
	}
}

/* MODIFIED set: those UIDs changed on the server since the local view
 * was synced; their changes stay pending and merge on the next pass. */
static void
sync_push_modified(struct sync_push_group *g, struct sync_push_chunk *k,
		   const struct imap_resp_code *code)
{
	struct imap_seqset_iter it;
	uint32_t lo, hi;

	imap_seqset_iter_init(&it, code->set1);
	while (imap_seqset_iter_next(&it, &lo, &hi) == MS_OK)
		for (size_t i = k->lo; i < k->hi; i++)
			if (g->v[i].uid >= lo && g->v[i].uid <= hi)
				g->v[i].is_modified = true;
}

/* The server holds what was synced plus what was sent.  The local view
 * is read again: a local change made while the command was out (its own
 * pending change follows) must not be undone. */
static void
sync_push_flags_finish(struct imap_sync *as, struct sync_push_chunk *k)
{
	struct sync_push_group *g = &as->run.push->groups[k->group];

	for (size_t i = k->lo; i < k->hi && k->is_ok && !as->is_closing; i++) {
		const struct sync_push_item *it = &g->v[i];
		uint32_t synced = (it->synced | g->add) & ~g->rem;
		struct store_msg now;

		if (it->is_modified)
			continue;
		if (sync_push_is_first(g, k, i) &&
		    store_msg_get(as->params.store, as->run.fold->id, it->uid,
				  &now, NULL) == MS_OK) {
			as->sum.changed++;
			if (!sync_batch_ok(as, store_batch_msg_flags(as->batch,
					now.folder_id, now.uid, now.flags,
					synced, now.modseq)))
				return;
		}
		sync_push_clear(as, it->seq);
	}
}

/*
 * The chunk's messages are gone from the folder on the server, or (no
 * UIDPLUS) marked \Deleted there: in the batch their records go and
 * their changes are cleared.  *n_r counts them; marked ones only when
 * is_marked_counted.
 *
 * A marked message stays on the server until some client expunges it (a
 * plain EXPUNGE would take every message others marked too), but the
 * reader deleted or moved it away: a record kept with \Deleted would be
 * exported to the mirror again (as ":2,ST"), or show a moved message in
 * both folders.  So the record goes as if expunged; the server's copy is
 * below the UIDNEXT watermark, never fetched again, and the flag diff
 * ignores UIDs the store does not hold (mailsync.conf(5) direction).
 */
static void
sync_push_removed(struct imap_sync *as, struct sync_push_chunk *k,
		  uint64_t *n_r, bool is_marked_counted)
{
	struct sync_push_group *g = &as->run.push->groups[k->group];
	uint32_t folder_id = as->run.fold->id;

	for (size_t i = k->lo; i < k->hi && !as->is_closing; i++) {
		const struct sync_push_item *it = &g->v[i];
		int rc = MS_OK;

		if (sync_push_is_first(g, k, i)) {
			*n_r += !k->is_marked || is_marked_counted;
			rc = store_batch_msg_expunge(as->batch, folder_id,
						     it->uid, it->uid);
		}
		if (!sync_batch_ok(as, rc))
			return;
		sync_push_clear(as, it->seq);
	}
}

/*
 * The copy of a moved message whose UID COPYUID told: its record (same
 * body, so the mirror's file is adopted, not written again) goes into the
 * batch, with the local flag changes not pushed yet as a pending change.
 */
static bool
sync_move_add_dest(struct imap_sync *as, const struct sync_push_group *g,
		   const struct sync_push_item *it)
{
	struct store_msg m;

	if (it->dest_uid == 0 ||
	    store_msg_get(as->params.store, as->run.fold->id, it->uid, &m,
			  NULL) != MS_OK ||
	    !sync_push_uid_free(as, g->dest.id, g->dest.name, it->dest_uid,
				m.hash, "COPYUID"))
		return true;	/* the destination fetches the copy */
	m.folder_id = g->dest.id;
	m.uid = it->dest_uid;
	m.modseq = 0;
	m.mirror_name[0] = '\0';
	if (!sync_batch_ok(as, store_batch_msg_add(as->batch, &m, NULL)))
		return false;
	if (m.flags != m.synced_flags) {
		struct store_change fc = {
			.kind = STORE_CHANGE_FLAGS,
			.folder_id = m.folder_id,
			.uid = m.uid,
			.flags_add = m.flags & ~m.synced_flags,
			.flags_remove = m.synced_flags & ~m.flags,
		};

		if (!sync_batch_ok(as, store_batch_change_add(as->batch, &fc,
							      NULL)))
			return false;
	}
	return true;
}

/* Adds the copies' records of chunk k; false when the account failed. */
static bool
sync_move_add_dests(struct imap_sync *as, struct sync_push_chunk *k)
{
	struct sync_push_group *g = &as->run.push->groups[k->group];

	for (size_t i = k->lo; i < k->hi; i++)
		if (sync_push_is_first(g, k, i) &&
		    !sync_move_add_dest(as, g, &g->v[i]))
			return false;
	return true;
}

/*
 * The messages are in the destination and gone from the source: in one
 * batch the source records go (marked without UIDPLUS too), the
 * destination's come (UID MOVE: when COPYUID named them;
 * without, the destination fetches them like any new message), and the
 * pending changes are cleared.
 */
static void
sync_move_finish(struct imap_sync *as, struct sync_push_chunk *k)
{
	struct sync_push_group *g = &as->run.push->groups[k->group];

	if (g->kind == SYNC_PUSH_MOVE && !sync_move_add_dests(as, k))
		return;
	sync_push_removed(as, k, &as->sum.moved, true);
	log_info("acct=%s folder=%s uid=%.200s moved to %s%s", as->name,
		 as->run.fold->name, k->set, g->dest.name,
		 k->is_bound ? "" : " (no COPYUID: fetched there later)");
}

/* The copies exist (UID COPY): their records are durable before the
 * source is touched.  After a crash from here on the retry must find
 * them (by body, sync_push_move_group()), and the folder order may sync
 * the destination only after this source, so its fetch would come too
 * late to stop a second COPY.  Then the source's removal goes out. */
static void
sync_move_copied(struct imap_sync *as, struct sync_push_chunk *k)
{
	if (k->is_bound &&
	    (!sync_move_add_dests(as, k) || sync_commit(as) < 0))
		return;
	sync_push_chunk_set_state(as, k, SYNC_CHUNK_REMOVING);
	k->is_ok = true;
	sync_push_remove(as, k);
}

static void
sync_push_refused(struct imap_sync *as, const struct sync_push_chunk *k,
		  const struct imap_ev_status *st)
{
	const struct sync_push_group *g = &as->run.push->groups[k->group];
	const char *what = "expunge the source after copying";

	if (g->kind == SYNC_PUSH_FLAGS || g->kind == SYNC_PUSH_DELETE) {
		log_warn("acct=%s folder=%s uid=%.200s the server did not take "
			 "the local change (%s%.*s); it stays pending and is "
			 "merged on the next pass", as->name,
			 as->run.fold->name, k->set,
			 st->code.code == IMAP_CODE_MODIFIED ? "MODIFIED " : "",
			 (int)st->text.len, (const char *)st->text.p);
		return;
	}
	if (k->state == SYNC_CHUNK_OUT)
		what = g->kind == SYNC_PUSH_MOVE ? "move" : "copy";
	/* After a copy the source stays, marked or not; the retry would
	 * make a second copy, so the destination is fetched first and the
	 * copy found by its body. */
	log_warn("acct=%s folder=%s uid=%.200s the server refused to %s it to %s "
		 "(the move stays pending): %.*s", as->name,
		 as->run.fold->name, k->set, what, g->dest.name,
		 (int)st->text.len, (const char *)st->text.p);
}

/* Sends the chunk's next stage once one said OK: the removal after a
 * copy, UID EXPUNGE after \Deleted.  False when it has none. */
static bool
sync_push_chunk_step(struct imap_sync *as, struct sync_push_chunk *k)
{
	const struct sync_push_group *g = &as->run.push->groups[k->group];
	bool is_marking = k->state == SYNC_CHUNK_REMOVING ||
			  (g->kind == SYNC_PUSH_DELETE &&
			   k->state == SYNC_CHUNK_OUT);

	if (g->kind == SYNC_PUSH_COPY && k->state == SYNC_CHUNK_OUT) {
		sync_move_copied(as, k);
		return true;
	}
	if (!is_marking || k->is_marked)
		return false;
	sync_push_expunge(as, k);
	return true;
}

/* One reply to one of chunk k's commands. */
static void
sync_push_chunk_reply(struct imap_sync *as, struct sync_push_chunk *k,
		      const struct imap_ev_status *st)
{
	struct sync_push_group *g = &as->run.push->groups[k->group];
	bool is_modified = sync_st_ok(st) && g->kind == SYNC_PUSH_FLAGS &&
			   st->code.code == IMAP_CODE_MODIFIED;

	k->pending--;
	if (is_modified)
		sync_push_modified(g, k, &st->code);
	if (g->kind == SYNC_PUSH_MOVE || g->kind == SYNC_PUSH_COPY)
		(void)sync_push_bind(as, k, &st->code);
	if ((!sync_st_ok(st) || is_modified) && k->is_ok)
		sync_push_refused(as, k, st);
	if (!sync_st_ok(st))
		k->is_ok = false;
	if (k->pending > 0 || (k->is_ok && sync_push_chunk_step(as, k)))
		return;
	sync_push_chunk_set_state(as, k, SYNC_CHUNK_DONE);
	if (!k->is_ok)
		return;
	if (g->kind == SYNC_PUSH_FLAGS)
		sync_push_flags_finish(as, k);
	else if (g->kind == SYNC_PUSH_DELETE)
		sync_push_removed(as, k, &as->sum.deleted, false);
	else
		sync_move_finish(as, k);
}

static void
sync_push_done(struct imap_session *s, int rc,
	       const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	struct sync_push *p = as->run.push;
	uint32_t tag = 0;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	p->pending--;
	if (!imap_client_tag_parse(st->tag, &tag) || tag > INT32_MAX) {
		sync_fail(as, MS_EPROTO, "a tagged reply with a bad tag");
		return;
	}
	for (size_t i = 0; i < SYNC_PUSH_APPENDS; i++)
		if (p->out[i].tag == (int)tag) {
			sync_push_append_reply(as, &p->out[i], st);
			sync_push_next(as);
			return;
		}
	for (size_t i = 0; i < p->n_chunks; i++) {
		struct sync_push_chunk *k = &p->chunks[i];

		for (unsigned t = 0; t < 2; t++)
			if (k->tags[t] == (int)tag && k->pending > 0) {
				k->tags[t] = 0;
				sync_push_chunk_reply(as, k, st);
				sync_push_next(as);
				return;
			}
	}
	sync_fail(as, MS_EINTERNAL, "a push reply no command waits for");
}

void
sync_push_next(struct imap_sync *as)
{
	struct sync_push *p = as->run.push;

	if (as->is_closing || (!p->is_planned && !sync_push_plan(as)))
		return;
	while (p->next_chunk < p->n_chunks &&
	       p->pending < SYNC_PUSH_IN_FLIGHT && !as->is_closing)
		sync_push_chunk_send(as, &p->chunks[p->next_chunk++]);
	sync_push_appends_pump(as);
	sync_push_finds_pump(as);
	if (p->pending == 0 && p->next_chunk == p->n_chunks &&
	    p->next_append == p->n_appends && p->next_find == p->n_finds &&
	    !as->is_closing) {
		if (as->run.n_parked_held > 0)
			log_warn("acct=%s folder=%s %zu message%s from before "
				 "the UIDVALIDITY change not found again: "
				 "appended only after a pass that fetches the "
				 "whole folder", as->name, as->run.fold->name,
				 as->run.n_parked_held,
				 as->run.n_parked_held == 1 ? "" : "s");
		as->run.step_done(as);	/* the PUSH step is over */
	}
}
