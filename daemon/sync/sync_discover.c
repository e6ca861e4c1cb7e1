/*
 * sync_discover.c - the first part of an IMAP pass: which folders the
 * account has.  In order:
 *
 *	[UNSELECT]	a kept session leaves the folder the last pass
 *			selected (pipelined with what follows)
 *	NAMESPACE	the personal prefix the mirror strips (not on a kept
 *			session: the store has it), pipelined with LIST
 *	LIST		with STATUS where LIST-STATUS exists, else STATUS of
 *			each wanted folder, pipelined; of only the pass's
 *			folder, without STATUS and UNSELECT, when it has one
 *			synced before and nothing is to be pushed (a pushed
 *			message: sync_list_is_one())
 *	reconcile	wanted folders go into the store; a stored folder the
 *			LIST left out is asked for with STATUS
 *	settle		folders confirmed gone become tombstones (or go);
 *			pending changes mark their folders; destinations of
 *			moves are synced first
 *	CREATE		folders a reader made (sync_create.c)
 *
 * Then as->after_discovery: discovery never starts the folders itself.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_client.h"
#include "imap/imap_cmd.h"
#include "imap/imap_utf7.h"
#include "log.h"
#include "session/imap_session.h"
#include "sync/imap_sync_int.h"
#include "sync/sync_folders.h"

static void
sync_on_list(struct imap_sync *as, const struct imap_ev_list *l)
{
	struct ms_buf name;
	struct sync_fold *f;

	if (l->is_lsub)
		return;
	ms_buf_init(&name, STORE_FOLDER_NAME_MAX);
	if (imap_utf7_decode(l->name, &name) < 0 || name.len == 0) {
		log_warn("acct=%s skipping folder %.*s: not a valid modified "
			 "UTF-7 name of at most %d bytes", as->name,
			 (int)l->name.len, (const char *)l->name.p,
			 STORE_FOLDER_NAME_MAX);
		ms_buf_deinit(&name);
		return;
	}
	for (size_t i = 0; i < as->n_folds; i++) {
		if (strcmp(as->folds[i].name, (const char *)name.p) != 0)
			continue;
		/* Listed twice: one folder, with the attributes of both. */
		as->folds[i].attrs |= sync_folder_attrs(l->attrs,
							as->folds[i].name);
		ms_buf_deinit(&name);
		return;
	}
	if (as->n_folds == SYNC_FOLDERS_MAX) {
		ms_buf_deinit(&name);
		sync_fail(as, MS_EPROTO, "the server lists more than %d "
			  "folders, the most mailsyncd takes", SYNC_FOLDERS_MAX);
		return;
	}
	f = sync_fold_add(as, (const char *)name.p);
	ms_buf_deinit(&name);
	if (f == NULL)
		return;
	f->delim = (char)l->delim;
	f->attrs = sync_folder_attrs(l->attrs, f->name);
}

static void
sync_on_status(struct imap_sync *as, const struct imap_ev_status_data *sd)
{
	unsigned need = IMAP_STATUS_HAS_MESSAGES | IMAP_STATUS_HAS_UIDNEXT |
			IMAP_STATUS_HAS_UIDVALIDITY;
	struct ms_buf name;

	if (sd->is_malformed) {
		/* Which folder it is about cannot be told: every folder
		 * without a status gets selected, this one with them, and
		 * the rest of the account syncs.  Said once a pass. */
		if (!as->warned_bad_status)
			log_warn("acct=%s the server sent a STATUS response "
				 "against the IMAP grammar (a server fault): "
				 "%.*s; the folder it is about is selected "
				 "instead", as->name,
				 (int)(sd->raw.len > 200 ? 200 : sd->raw.len),
				 (const char *)sd->raw.p);
		as->warned_bad_status = true;
		return;
	}
	if ((sd->has & need) != need && (sd->bad & need) == 0)
		return;
	ms_buf_init(&name, STORE_FOLDER_NAME_MAX);
	if (imap_utf7_decode(sd->mailbox, &name) < 0) {
		ms_buf_deinit(&name);
		return;
	}
	for (size_t i = 0; i < as->n_folds; i++) {
		struct sync_fold *f = &as->folds[i];

		if (strcmp(f->name, (const char *)name.p) != 0)
			continue;
		if (sd->bad & need) {
			f->status_fault = (sd->bad & IMAP_STATUS_HAS_UIDNEXT) ?
				"UIDNEXT" : (sd->bad & IMAP_STATUS_HAS_MESSAGES) ?
				"MESSAGES" : "UIDVALIDITY";
			f->status_fault_num = sd->out_of_range;
			break;
		}
		f->st.has_status = true;
		f->st.messages = sd->messages;
		f->st.uidnext = sd->uidnext;
		f->st.uidvalidity = sd->uidvalidity;
		f->st.highestmodseq = (sd->has & IMAP_STATUS_HAS_HIGHESTMODSEQ)
				      ? sd->highestmodseq : 0;
		f->st.size = (sd->has & IMAP_STATUS_HAS_SIZE) ? sd->size : 0;
		break;
	}
	ms_buf_deinit(&name);
}

/* The personal namespace: its prefix is what the mirror strips. */
static void
sync_on_namespace(struct imap_sync *as, const struct imap_ev_namespace *ns)
{
	struct ms_buf name;

	if (!ns->has_personal)
		return;
	ms_buf_init(&name, STORE_NS_PREFIX_MAX);
	if (imap_utf7_decode(ns->personal_prefix, &name) < 0 ||
	    (name.len > 0 && memchr(name.p, '\0', name.len) != NULL)) {
		log_warn("acct=%s the personal namespace prefix %.*s is not "
			 "a name of at most %d bytes: ignored", as->name,
			 (int)ns->personal_prefix.len,
			 (const char *)ns->personal_prefix.p,
			 STORE_NS_PREFIX_MAX);
	} else {
		if (name.len > 0)
			memcpy(as->ns_prefix, name.p, name.len);
		as->ns_prefix[name.len] = '\0';
		as->has_ns = true;
	}
	ms_buf_deinit(&name);
}

/*
 * A tombstone (STORE_FOLDER_GONE) the server lists again is a folder made
 * anew: it starts from nothing, as it did when gone folders were deleted
 * from the store.  The old UIDVALIDITY and UIDNEXT must not carry over: a
 * server that re-creates it under the same UIDVALIDITY with UIDs from 1
 * would have its messages below the old watermark never fetched.  The
 * reset is committed before store_folder_ensure() clears the mark, so a
 * crash in between repeats it.
 */
static int
sync_folder_revive(struct imap_sync *as, const struct sync_fold *f)
{
	struct store_folder old;
	struct store_folder_state st = { 0 };
	int rc;

	if (store_folder_find(as->params.store, as->name, f->name, &old,
			      NULL) != MS_OK || !(old.attrs & STORE_FOLDER_GONE))
		return MS_OK;
	log_info("acct=%s folder=%s is on the server again: synced anew",
		 as->name, f->name);
	if (!sync_batch_ok(as, store_batch_folder_state(as->batch, old.id, &st,
			STORE_FS_UIDVALIDITY | STORE_FS_UIDNEXT |
			STORE_FS_HIGHESTMODSEQ | STORE_FS_MESSAGES)))
		return MS_ENOMEM;
	rc = sync_commit(as);
	return rc < 0 ? rc : MS_OK;
}

/*
 * The order of the folders: pending moves' destinations first, then
 * INBOX (where a person looks first: on a first sync its mail reaches
 * the mirror before the other folders'), then the rest in LIST order.
 * A destination goes first so that a copy the server made for an
 * earlier attempt whose reply never came (the connection cut, a crash,
 * no COPYUID) is fetched before the source retries the move, which
 * finds it by its body (sync_push_move()) instead of copying again.
 * Moves both ways between two folders still retry one of them before
 * its destination is synced.
 */
static int
sync_folder_rank(const struct sync_fold *f)
{
	return f->is_move_dest ? 0 : strcmp(f->name, "INBOX") == 0 ? 1 : 2;
}

/* Puts the folders in that order.  False when out of memory (the
 * account is failed then). */
static bool
sync_folders_dests_first(struct imap_sync *as)
{
	struct sync_fold *v;
	size_t k = 0;

	if (as->n_folds == 0)
		return true;
	if ((v = malloc(as->n_folds * sizeof(*v))) == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return false;
	}
	for (int rank = 0; rank < 3; rank++)
		for (size_t i = 0; i < as->n_folds; i++)
			if (sync_folder_rank(&as->folds[i]) == rank)
				v[k++] = as->folds[i];
	memcpy(as->folds, v, as->n_folds * sizeof(*v));
	free(v);
	return true;
}

/*
 * For progress: the new messages the server's counts announce, summed
 * over the wanted folders (a folder with a new UIDVALIDITY counts whole),
 * and their bytes where STATUS gave SIZE (a folder's share of its size
 * for a part of it).  An estimate: expunges elsewhere in a folder hide
 * as many arrivals.
 */
static void
sync_expect(struct imap_sync *as, const struct store_folder *stored,
	    size_t n_stored)
{
	as->sum.msgs_expected = 0;
	as->sum.bytes_expected = 0;
	for (size_t i = 0; i < as->n_folds; i++) {
		const struct sync_fold *f = &as->folds[i];
		uint32_t have = 0;

		if (!f->is_wanted || !f->st.has_status)
			continue;
		for (size_t j = 0; j < n_stored; j++)
			if (stored[j].id == f->id &&
			    stored[j].state.uidvalidity == f->st.uidvalidity)
				have = stored[j].local_count;
		if (f->st.messages <= have)
			continue;
		as->sum.msgs_expected += f->st.messages - have;
		as->sum.bytes_expected += have == 0 ? f->st.size :
			(uint64_t)((double)f->st.size *
				   (f->st.messages - have) / f->st.messages);
	}
	sync_progress(as);
}

/*
 * Does the pass list only its one folder (a pushed message's), without
 * STATUS, and select it whatever its counts (the push said it changed)?
 * When the folder was synced before and nothing is to be pushed (no
 * pending change anywhere, no folder a reader made): then nothing in the
 * pass needs another folder (a Trash for a deletion, a move's
 * destination, a new folder's parent).  Per pushed message the server
 * then answers a LIST of one folder, not a LIST and a STATUS of every
 * folder of the account, and no UNSELECT goes first (the SELECT leaves
 * the last pass's folder).  Not for a name with LIST's wildcards.
 */
static bool
sync_list_is_one(struct imap_sync *as)
{
	const uint32_t unsure = STORE_FOLDER_CREATE | STORE_FOLDER_GONE |
				STORE_FOLDER_MISSING | STORE_FOLDER_NOSELECT |
				STORE_FOLDER_UNSELECTABLE;
	struct store_mirror_stamp stamp;
	struct store_folder *stored = NULL;
	size_t n_stored = 0;
	bool is_one = true, is_synced = false;

	if (as->only_folder == NULL || strpbrk(as->only_folder, "*%") != NULL ||
	    store_mirror_stamp_get(as->params.store, &stamp, NULL) != MS_OK ||
	    stamp.changes != 0 ||
	    store_folder_list(as->params.store, as->name, &stored, &n_stored,
			      NULL) < 0)
		return false;
	for (size_t i = 0; i < n_stored && is_one; i++) {
		is_one = (stored[i].attrs & STORE_FOLDER_CREATE) == 0;
		if (strcmp(stored[i].name, as->only_folder) == 0)
			is_synced = (stored[i].attrs & unsure) == 0 &&
				    stored[i].state.uidvalidity != 0;
	}
	free(stored);
	return is_one && is_synced;
}

/* A stored folder a LIST of only another one does not judge. */
static bool
sync_is_unlisted_other(const struct imap_sync *as, const char *name)
{
	return as->is_list_one && strcmp(name, as->only_folder) != 0;
}

/* The verdict on a stored folder the LIST left out (sync_missing). */
static enum sync_missing_verdict
sync_missing_verdict(const struct imap_sync *as, uint32_t id)
{
	for (size_t i = 0; i < as->n_missing; i++)
		if (as->missing[i].id == id)
			return as->missing[i].verdict;
	return SYNC_MISSING_ASKING;
}

/* Logs what goes with a folder gone from the server: its pending flag
 * changes, deletions and moves (a reader's moved file stays where it was
 * put, and the mirror records it there as a new message). */
static void
sync_folder_gone_log(struct imap_sync *as, const struct store_folder *f,
		     const struct store_change *ch, size_t n_ch)
{
	size_t n[STORE_CHANGE_MOVE + 1] = { 0 };

	for (size_t k = 0; k < n_ch; k++)
		if (ch[k].folder_id == f->id && ch[k].kind <= STORE_CHANGE_MOVE)
			n[ch[k].kind]++;
	if (n[STORE_CHANGE_FLAGS] + n[STORE_CHANGE_DELETE] +
	    n[STORE_CHANGE_MOVE] == 0) {
		log_info("acct=%s folder=%s is gone from the server: removing "
			 "it from the store", as->name, f->name);
		return;
	}
	log_warn("acct=%s folder=%s is gone from the server: removing it "
		 "from the store; pending changes dropped with it: %zu flag "
		 "change%s, %zu deletion%s, %zu move%s (a moved message's "
		 "file stays where the reader put it)", as->name, f->name,
		 n[STORE_CHANGE_FLAGS], n[STORE_CHANGE_FLAGS] == 1 ? "" : "s",
		 n[STORE_CHANGE_DELETE], n[STORE_CHANGE_DELETE] == 1 ? "" : "s",
		 n[STORE_CHANGE_MOVE], n[STORE_CHANGE_MOVE] == 1 ? "" : "s");
}

/* A stored folder the LIST left out and STATUS did not confirm gone:
 * kept (logged); true when its STORE_FOLDER_MISSING mark changes. */
static bool
sync_folder_kept(struct imap_sync *as, const struct store_folder *f,
		 enum sync_missing_verdict v)
{
	bool was_missing = (f->attrs & STORE_FOLDER_MISSING) != 0;

	if (v == SYNC_MISSING_EXISTS) {
		log_warn("acct=%s folder=%s is not in the server's LIST, but "
			 "STATUS finds it: kept, not synced this pass",
			 as->name, f->name);
		return was_missing;
	}
	log_warn("acct=%s folder=%s is not in the server's LIST, and STATUS "
		 "does not say it does not exist: kept; removed if the next "
		 "pass does not list it either", as->name, f->name);
	return !was_missing;
}

/*
 * Stored folders the LIST left out, confirmed gone (sync_missing), go
 * from the store; the others stay; wanted ones are created; pending
 * changes mark their folders.
 */
static void
sync_folders_settle(struct imap_sync *as)
{
	struct store_folder *stored = NULL;
	struct store_change *ch = NULL;
	struct ms_err err = { 0 };
	size_t n_stored = 0, n_ch = 0, n_marks = 0;
	int rc;

	rc = store_folder_list(as->params.store, as->name, &stored, &n_stored,
			       &err);
	if (rc < 0) {
		sync_fail(as, rc, "store: %s", err.msg);
		return;
	}
	if ((rc = store_change_list(as->params.store, 0, SYNC_CHANGES_MAX, &ch,
				    &n_ch, &err)) < 0) {
		free(stored);
		sync_fail(as, rc, "store: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < n_stored && !as->is_closing; i++) {
		bool is_listed = false;
		size_t n_local = 0;
		enum sync_missing_verdict v;

		for (size_t j = 0; j < as->n_folds && !is_listed; j++)
			is_listed = strcmp(as->folds[j].name,
					   stored[i].name) == 0;
		if (is_listed || (stored[i].attrs & STORE_FOLDER_GONE) ||
		    sync_is_unlisted_other(as, stored[i].name))
			continue;
		if (stored[i].attrs & STORE_FOLDER_CREATE) {
			if (!sync_create_add(as, &stored[i]))
				break;
			continue;
		}
		for (size_t k = 0; k < n_ch; k++)
			if (ch[k].folder_id == stored[i].id &&
			    ch[k].kind == STORE_CHANGE_APPEND)
				n_local++;
		if (n_local > 0) {
			/* Local messages not yet on the server would go
			 * with the folder: it stays until they are dealt
			 * with. */
			log_warn("acct=%s folder=%s is gone from the server "
				 "but holds %zu local message%s never "
				 "appended: kept in the store", as->name,
				 stored[i].name, n_local,
				 n_local == 1 ? "" : "s");
			continue;
		}
		v = sync_missing_verdict(as, stored[i].id);
		if (v != SYNC_MISSING_GONE) {
			/* After the commit: a mark to set or clear. */
			if (sync_folder_kept(as, &stored[i], v)) {
				stored[i].attrs ^= STORE_FOLDER_MISSING;
				stored[n_marks++] = stored[i];
			}
			continue;
		}
		sync_folder_gone_log(as, &stored[i], ch, n_ch);
		for (size_t k = 0; k < n_ch; k++)
			if (ch[k].folder_id == stored[i].id &&
			    !sync_batch_ok(as, store_batch_change_clear(
					as->batch, ch[k].seq)))
				break;
		if (as->acct->maildir != NULL) {
			/* A tombstone, so the mirror removes its files and
			 * does not take the directory for a new folder. */
			if (!sync_batch_ok(as, store_batch_msg_expunge(
					as->batch, stored[i].id, 1,
					UINT32_MAX)))
				break;
			stored[i].attrs = (stored[i].attrs &
					   ~STORE_FOLDER_MISSING) |
					  STORE_FOLDER_GONE;
			stored[n_marks++] = stored[i];
		} else if (!sync_batch_ok(as, store_batch_folder_delete(
				as->batch, stored[i].id))) {
			break;
		}
	}
	if (as->is_closing || sync_commit(as) < 0) {
		free(stored);
		free(ch);
		return;
	}
	/* After the commit that emptied the gone ones (a crash in between
	 * leaves them to the next pass, not marked with their records). */
	for (size_t i = 0; i < n_marks; i++) {
		uint32_t id;

		rc = store_folder_ensure(as->params.store, as->name,
					 stored[i].name, stored[i].delimiter,
					 stored[i].attrs, &id, &err);
		if (rc < 0) {
			free(stored);
			free(ch);
			sync_fail(as, rc, "store: folder %s: %s",
				  stored[i].name, err.msg);
			return;
		}
	}
	free(stored);
	for (size_t i = 0; i < n_ch &&
	     as->acct->direction == CFG_DIRECTION_BOTH; i++)
		for (size_t j = 0; j < as->n_folds; j++) {
			if (as->folds[j].is_wanted &&
			    as->folds[j].id == ch[i].folder_id)
				as->folds[j].has_pending = true;
			if (ch[i].kind == STORE_CHANGE_MOVE &&
			    as->folds[j].id == ch[i].dest_folder_id)
				as->folds[j].is_move_dest = true;
		}
	free(ch);
	if (!sync_folders_dests_first(as))
		return;
	sync_create_folders(as);
}

static void
sync_missing_status_done(struct imap_session *s, int rc,
			 const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	uint32_t tag = 0;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	if (st != NULL && imap_client_tag_parse(st->tag, &tag)) {
		for (size_t i = 0; i < as->n_missing; i++) {
			struct sync_missing *m = &as->missing[i];

			if (m->tag < 0 || (uint32_t)m->tag != tag)
				continue;
			/* Another NO or BAD leaves the verdict by
			 * absence (missing before: gone now). */
			if (sync_st_ok(st))
				m->verdict = SYNC_MISSING_EXISTS;
			else if (st->code.code == IMAP_CODE_NONEXISTENT)
				m->verdict = SYNC_MISSING_GONE;
			break;
		}
	}
	if (--as->missing_pending == 0)
		sync_folders_settle(as);
}

static void sync_folders_check_stored(struct imap_sync *as);

/*
 * Wanted folders go into the store (written on the threadpool where that
 * takes a commit: sync_folders_ensure()).  A stored folder that a LIST (which
 * answered OK) left out may still exist: a server can leave a folder out
 * of one LIST.  Each is asked for with STATUS first; it goes only when
 * STATUS answers NO [NONEXISTENT], or when a second pass does not list it
 * either (STORE_FOLDER_MISSING).  Then sync_folders_settle().
 */
static void
sync_folders_reconcile(struct imap_sync *as)
{
	const struct cfg_list *pat = &as->acct->folders;

	for (size_t i = 0; i < as->n_folds; i++) {
		struct sync_fold *f = &as->folds[i];

		f->is_wanted = (f->attrs & STORE_FOLDER_NOSELECT) == 0 &&
			       cfg_folder_wanted(pat->v, pat->n, f->name,
						  f->delim) &&
			       (as->only_folder == NULL ||
				strcmp(as->only_folder, f->name) == 0);
		if (!f->is_wanted)
			continue;
		as->sum.folders++;
		if (sync_folder_revive(as, f) < 0)
			return;
	}
	sync_folders_ensure(as, sync_folders_check_stored);
}

/* The wanted folders are in the store: which stored ones the LIST left
 * out. */
static void
sync_folders_check_stored(struct imap_sync *as)
{
	struct imap_client *core = imap_session_core(as->sess);
	struct store_folder *stored = NULL;
	struct ms_err err = { 0 };
	size_t n_stored = 0;
	int rc;

	rc = store_folder_list(as->params.store, as->name, &stored, &n_stored,
			       &err);
	if (rc < 0) {
		sync_fail(as, rc, "store: %s", err.msg);
		return;
	}
	sync_expect(as, stored, n_stored);
	free(as->missing);
	as->missing = calloc(n_stored > 0 ? n_stored : 1,
			     sizeof(*as->missing));
	as->n_missing = 0;
	if (as->missing == NULL) {
		free(stored);
		sync_fail(as, MS_ENOMEM, "out of memory");
		return;
	}
	as->step = SYNC_STEP_STATUS;
	for (size_t i = 0; i < n_stored && !as->is_closing; i++) {
		struct sync_missing *m = &as->missing[as->n_missing];
		bool is_listed = false;

		for (size_t j = 0; j < as->n_folds && !is_listed; j++)
			is_listed = strcmp(as->folds[j].name,
					   stored[i].name) == 0;
		if (is_listed || (stored[i].attrs & (STORE_FOLDER_GONE |
						     STORE_FOLDER_CREATE)) ||
		    sync_is_unlisted_other(as, stored[i].name))
			continue;
		m->id = stored[i].id;
		m->verdict = (stored[i].attrs & STORE_FOLDER_MISSING) ?
			     SYNC_MISSING_GONE : SYNC_MISSING_UNSURE;
		m->tag = imap_cmd_status(core,
					 ms_slice_from_cstr(stored[i].name),
					 IMAP_STATUS_MESSAGES);
		as->n_missing++;
		if (m->tag < 0) {
			/* A name no command can carry: by absence alone. */
			m->tag = -1;
			continue;
		}
		if (!sync_submit(as, m->tag, sync_missing_status_done))
			break;
		as->missing_pending++;
	}
	free(stored);
	if (as->missing_pending == 0 && !as->is_closing)
		sync_folders_settle(as);
}

static void
sync_status_done(struct imap_session *s, int rc,
		 const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;

	(void)s;
	(void)st;
	if (!sync_cmd_live(as, rc))
		return;
	/* A folder whose STATUS failed has no status: it gets selected. */
	if (--as->status_pending == 0)
		sync_folders_reconcile(as);
}

static void
sync_list_done(struct imap_session *s, int rc, const struct imap_ev_status *st,
	       void *arg)
{
	struct imap_sync *as = arg;
	struct imap_client *core = imap_session_core(s);
	unsigned items = IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT |
			 IMAP_STATUS_UIDVALIDITY;

	if (!sync_cmd_live(as, rc))
		return;
	if (!sync_st_ok(st)) {
		sync_fail(as, MS_ERESP, "LIST failed: %.*s",
			  st != NULL ? (int)st->text.len : 0,
			  st != NULL ? (const char *)st->text.p : "");
		return;
	}
	if ((as->caps & IMAP_SESSION_CAP_LIST_STATUS) || as->is_list_one) {
		sync_folders_reconcile(as);
		return;
	}
	if (as->caps & IMAP_SESSION_CAP_CONDSTORE)
		items |= IMAP_STATUS_HIGHESTMODSEQ;
	if (as->caps & IMAP_SESSION_CAP_STATUS_SIZE)
		items |= IMAP_STATUS_SIZE;	/* progress: bytes to come */
	as->step = SYNC_STEP_STATUS;
	for (size_t i = 0; i < as->n_folds; i++) {
		struct sync_fold *f = &as->folds[i];

		if ((f->attrs & STORE_FOLDER_NOSELECT) != 0 ||
		    !cfg_folder_wanted(as->acct->folders.v,
					as->acct->folders.n, f->name, f->delim))
			continue;
		if (!sync_submit(as, imap_cmd_status(core,
				 ms_slice_from_cstr(f->name), items),
				 sync_status_done))
			return;
		as->status_pending++;
	}
	if (as->status_pending == 0)
		sync_folders_reconcile(as);
}

/* LIST (with STATUS where LIST-STATUS exists): the pass's folders. */
static void
sync_list_start(struct imap_sync *as)
{
	struct imap_client *core = imap_session_core(as->sess);
	unsigned ret = 0, items = 0;

	if (as->caps & IMAP_SESSION_CAP_SPECIAL_USE)
		ret |= IMAP_LIST_RET_SPECIAL_USE;
	if ((as->caps & IMAP_SESSION_CAP_LIST_STATUS) && !as->is_list_one) {
		items = IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT |
			IMAP_STATUS_UIDVALIDITY;
		if (as->caps & IMAP_SESSION_CAP_CONDSTORE)
			items |= IMAP_STATUS_HIGHESTMODSEQ;
		if (as->caps & IMAP_SESSION_CAP_STATUS_SIZE)
			items |= IMAP_STATUS_SIZE;	/* progress */
	}
	as->step = SYNC_STEP_LIST;
	(void)sync_submit(as, imap_cmd_list(core, MS_SLICE_LIT(""),
			  as->is_list_one ? ms_slice_from_cstr(as->only_folder) :
			  MS_SLICE_LIT("*"), ret, items), sync_list_done);
}

static void
sync_namespace_done(struct imap_session *s, int rc,
		    const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	/* Without an answer the mirror keeps what it knew; with one, the
	 * prefix is stored with the folders (sync_folders_ensure()). */
	as->is_ns_answered = sync_st_ok(st);
}

static void
sync_unselect_done(struct imap_session *s, int rc,
		   const struct imap_ev_status *st, void *arg)
{
	/* Only the session's state matters: NO (nothing was selected, or
	 * the made-up name does not exist) leaves no folder selected. */
	(void)s;
	(void)rc;
	(void)st;
	(void)arg;
}

/* Untagged responses of discovery. */
static void
sync_discover_on_event(struct imap_sync *as, const struct imap_event *ev)
{
	switch (ev->type) {
	case IMAP_EV_LIST:
		if (as->step == SYNC_STEP_LIST)
			sync_on_list(as, &ev->u.list_resp);
		break;
	case IMAP_EV_STATUS:
		if (as->step == SYNC_STEP_LIST || as->step == SYNC_STEP_STATUS)
			sync_on_status(as, &ev->u.status_resp);
		break;
	case IMAP_EV_NAMESPACE:
		/* Only NAMESPACE answers it, pipelined before LIST. */
		sync_on_namespace(as, &ev->u.namespace_resp);
		break;
	default:
		break;
	}
}

/* The first commands of the pass. */
void
sync_discover_start(struct imap_sync *as)
{
	struct imap_client *core = imap_session_core(as->sess);
	struct imap_select_opts ro = { .read_only = true };
	int tag;

	as->caps = imap_session_caps(as->sess);
	as->on_event = sync_discover_on_event;
	as->is_list_one = sync_list_is_one(as);
	/* A kept session may still have the last pass's folder selected;
	 * STATUS of it would not show new mail (RFC 3501 6.3.10).  Leave
	 * it, pipelined with what follows: without UNSELECT, by an EXAMINE
	 * that fails (which deselects; never CLOSE, which expunges).  A
	 * pass of one folder listed alone asks for no STATUS: its SELECT
	 * leaves the other folder (and until then one stays selected). */
	if (as->params.is_selected && as->is_list_one) {
		as->sum.is_selected = true;
	} else if (as->params.is_selected) {
		tag = (as->caps & IMAP_SESSION_CAP_UNSELECT) ?
		      imap_cmd_unselect(core) :
		      imap_cmd_select(core, MS_SLICE_LIT(
				      "mailsync-deselect-nonexistent"), &ro);
		if (!sync_submit(as, tag, sync_unselect_done))
			return;
	}
	/* NAMESPACE goes out with LIST, not before it: its answer comes
	 * first and is in the store before LIST's ends discovery. */
	if ((as->caps & IMAP_SESSION_CAP_NAMESPACE) && !as->params.is_reused) {
		as->step = SYNC_STEP_NAMESPACE;
		if (!sync_submit(as, imap_cmd_namespace(
				 imap_session_core(as->sess)),
				 sync_namespace_done))
			return;
	}
	sync_list_start(as);
}
