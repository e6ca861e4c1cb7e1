/* mirror_scan.c - what readers did in the mirror, as pending changes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "maildir/maildir_hash.h"
#include "mirror/mirror_int.h"
#include "cfg/cfg.h"

/* A record whose durable file is gone: a deletion, unless it moved. */
struct mirror_vanished {
	uint8_t hash[STORE_HASH_LEN];	/* first: sorted by it */
	uint32_t folder_id;
	uint32_t uid;
	bool is_done;
	/* The unique part its file had (mirror__key()), owned. */
	char *key;
};

/* A file no record claims: a move's target or a new message. */
struct mirror_unknown {
	uint32_t folder_id;
	char *dir;		/* the folder's path (owned) */
	char *name;		/* the file's name (owned) */
	uint8_t sub;		/* MAILDIR_SUB_NEW or _CUR */
	maildir_flags_t flags;
	struct maildir_fhash fh;
	int64_t mtime;
};

/* A record of the folder being scanned that has no file. */
struct mirror_nofile {
	uint8_t hash[STORE_HASH_LEN];	/* first: sorted by it */
	uint32_t uid;
	size_t vanished;	/* index into vanished, or SIZE_MAX */
	bool is_done;
};

struct mirror_scan {
	struct mirror_ctx *c;
	struct store_batch *b;
	struct mirror_stats *st;
	struct mirror_vanished *van;
	size_t nvan, van_cap;
	struct mirror_unknown *unk;
	size_t nunk, unk_cap;
	/* Unique parts of files that are there but cannot be read (owned):
	 * a vanished record whose file had one is no deletion. */
	char **unread;
	size_t nunread, unread_cap;
	/* the folder being scanned */
	const struct store_folder *f;
	const char *path;
	struct mirror_dir md;
	struct mirror_left left;	/* its files of removed records */
	struct mirror_nofile *nof;
	size_t nnof, nof_cap;
	/* The folder had something to do (a reader's change, a name to
	 * record): mirror_seen.c records no time for it. */
	bool is_unclean;
	uint64_t max_seq;	/* its records' highest local_seq */
	char **paths;		/* each folder's Maildir, for the resolve */
};

static bool
mirror_vanished_is_done(const void *e)
{
	return ((const struct mirror_vanished *)e)->is_done;
}

static bool
mirror_nofile_is_done(const void *e)
{
	return ((const struct mirror_nofile *)e)->is_done;
}

static int
mirror_scan_commit_fn(struct store *s, void *arg, struct ms_err *err_r)
{
	(void)s;
	return store_batch_commit(arg, err_r);
}

/*
 * Commits the batch when it holds enough (always with force): directly,
 * or, for a scan on a pool thread, on the loop thread (c->w), in smaller
 * batches so that no commit holds the loop for long.
 */
static int
mirror_scan_flush(struct mirror_scan *x, bool force, struct ms_err *err_r)
{
	const struct mirror_writer *w = x->c->w;

	if (w == NULL)
		return mirror__batch_flush(x->b, force, false, err_r);
	if (store_batch_count(x->b) == 0)
		return MS_OK;
	if (!force && store_batch_count(x->b) < w->batch_ops &&
	    store_batch_mem(x->b) < w->batch_mem)
		return MS_OK;
	return w->run(w->ctx, mirror_scan_commit_fn, x->b, err_r);
}

struct mirror_scan_ensure {
	const char *account;
	const char *name;
	char delim;
	uint32_t attrs;
	uint32_t *id_r;
};

static int
mirror_scan_ensure_fn(struct store *s, void *arg, struct ms_err *err_r)
{
	struct mirror_scan_ensure *e = arg;

	return store_folder_ensure(s, e->account, e->name, e->delim, e->attrs,
				   e->id_r, err_r);
}

/* store_folder_ensure() where the scan's writes run. */
static int
mirror_scan_folder_ensure(struct mirror_ctx *c, const char *name, char delim,
			  uint32_t attrs, uint32_t *id_r, struct ms_err *err_r)
{
	struct mirror_scan_ensure e = { c->p->account, name, delim, attrs,
					id_r };

	if (c->w == NULL)
		return mirror_scan_ensure_fn(c->s, &e, err_r);
	return c->w->run(c->w->ctx, mirror_scan_ensure_fn, &e, err_r);
}

/* A scan on a pool thread asked to stop: MS_ECANCELED, else MS_OK. */
static int
mirror_scan_check_cancel(const struct mirror_ctx *c, struct ms_err *err_r)
{
	if (c->w == NULL || !c->w->is_canceled(c->w->ctx))
		return MS_OK;
	return ms_err_set(err_r, MS_ECANCELED, "mirror scan canceled");
}

/* The file of record m is entry name with letters now. */
static int
mirror_scan_found(struct mirror_scan *x, const struct store_msg *m,
		  const char *name, maildir_flags_t now, bool has_ref,
		  struct ms_err *err_r)
{
	maildir_flags_t ref;
	int rc;

	if (strcmp(name, m->mirror_name) != 0)
		x->is_unclean = true;
	if (has_ref && mirror__recorded_flags(m, &ref) &&
	    (ref & MAILDIR_FLAGS_SYSTEM) != (now & MAILDIR_FLAGS_SYSTEM)) {
		rc = mirror__flags_merge(x->b, m, ref, now, NULL, err_r);
		if (rc < 0)
			return rc;
		x->st->flag_changes += (unsigned)rc;
	}
	if (strcmp(name, m->mirror_name) != 0 &&
	    (rc = store_batch_msg_mirror(x->b, m->folder_id, m->uid, name))
	    != MS_OK)
		return ms_err_set(err_r, rc, "out of memory");
	return mirror_scan_flush(x, false, err_r);
}

/*
 * Would export rename record m's file e (letters other than the record's,
 * or letters on a file in new/)?  Then the folder is not left alone.
 */
static void
mirror_scan_check_place(struct mirror_scan *x, const struct store_msg *m,
			const struct maildir_entry *e)
{
	maildir_flags_t want = mirror_flags_to_maildir(m->flags) |
			       (e->flags & ~MAILDIR_FLAGS_SYSTEM);

	if ((e->flags & MAILDIR_FLAGS_SYSTEM) != (want & MAILDIR_FLAGS_SYSTEM) ||
	    (e->sub == MAILDIR_SUB_NEW && want != 0))
		x->is_unclean = true;
}

static int
mirror_scan_records(struct mirror_scan *x, struct ms_err *err_r)
{
	const struct store_folder *f = x->f;
	struct store_msg_iter *it = NULL;
	struct store_msg m;
	int rc = store_msg_iter_new(x->c->s, f->id, 0, &it);

	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "out of memory");
	while ((rc = store_msg_iter_next(it, &m, err_r)) == MS_OK) {
		char idbuf[MIRROR_ID_MAX];
		size_t klen, i;
		const char *key = mirror__key(f->state.uidvalidity, &m, idbuf,
					      &klen);
		struct mirror_nofile *nf;

		if (m.local_seq > x->max_seq)
			x->max_seq = m.local_seq;
		i = mirror__dir_find_unclaimed(&x->md, key, klen);
		if (i != SIZE_MAX)
			x->md.claimed[i] = true;
		if (mirror__is_pending_src(x->c, f->id, m.uid))
			continue;
		if (i != SIZE_MAX) {
			mirror_scan_check_place(x, &m, &x->md.l.v[i]);
			rc = mirror_scan_found(x, &m, mirror__dir_name(&x->md, i),
					       x->md.l.v[i].flags, true, err_r);
			if (rc < 0)
				break;
			continue;
		}
		rc = mirror__grow((void **)&x->nof, &x->nof_cap, x->nnof,
				  sizeof(*x->nof), err_r);
		if (rc < 0)
			break;
		nf = &x->nof[x->nnof++];
		nf->uid = m.uid;
		memcpy(nf->hash, m.hash, STORE_HASH_LEN);
		nf->is_done = false;
		nf->vanished = SIZE_MAX;
		/* Only a file known durable can have been removed by a
		 * reader; anything else export simply writes (again). */
		if (x->c->is_fresh || m.mirror_name[0] == '\0' ||
		    m.local_seq > f->state.mirror_durable)
			continue;
		/* local_delete = flag: a \Deleted record without its file is
		 * a deletion made already (export writes it no file). */
		if (x->c->p->is_deleted_hidden &&
		    (m.flags & STORE_FLAG_DELETED))
			continue;
		rc = mirror__grow((void **)&x->van, &x->van_cap, x->nvan,
				  sizeof(*x->van), err_r);
		if (rc < 0)
			break;
		memcpy(x->van[x->nvan].hash, m.hash, STORE_HASH_LEN);
		x->van[x->nvan].folder_id = f->id;
		x->van[x->nvan].uid = m.uid;
		x->van[x->nvan].is_done = false;
		x->van[x->nvan].key = strndup(key, klen);
		if (x->van[x->nvan].key == NULL) {
			rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
			break;
		}
		nf->vanished = x->nvan++;
	}
	store_msg_iter_free(&it);
	return rc == STORE_NOTFOUND ? MS_OK : rc;
}

/*
 * A file that is there but cannot be read (or is larger than a body may
 * be): reported once, left alone, and the rest of the scan goes on.  Its
 * unique part is kept: a vanished record whose file had it (a reader
 * moved it here) is not taken for a deletion.
 */
static int
mirror_scan_unreadable(struct mirror_scan *x, const char *dir, uint8_t sub,
		       const char *name, size_t ulen, const char *why,
		       struct ms_err *err_r)
{
	char *path = maildir__path_join(dir,
					maildir_sub_name((enum maildir_sub)sub),
					name);
	char what[400];
	int rc;

	if (path == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	snprintf(what, sizeof(what), "message file that cannot be read (%s); "
		 "not synced while it stays", why);
	maildir_report_note(x->c->p->rep, path, what);
	free(path);
	rc = mirror__grow((void **)&x->unread, &x->unread_cap, x->nunread,
			  sizeof(*x->unread), err_r);
	if (rc < 0)
		return rc;
	if ((x->unread[x->nunread] = strndup(name, ulen)) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	x->nunread++;
	return MS_OK;
}

/* Is v's file one that is there but could not be read? */
static bool
mirror_scan_is_unread(const struct mirror_scan *x,
		      const struct mirror_vanished *v)
{
	for (size_t i = 0; i < x->nunread; i++)
		if (strcmp(x->unread[i], v->key) == 0)
			return true;
	return false;
}

/*
 * A file no record claimed.  The file of a removed record (a leftover)
 * waits for export to remove it; any other is a reader's (also one under
 * the name of a record long gone, restored from a backup): one whose bytes a pending APPEND or MOVE into
 * this folder already names is known; one whose bytes are a record of this
 * folder without a file is that record's file now (a reader renamed it
 * beyond recognition, or the server's copy of an append arrived); anything
 * else is kept for the cross-folder pass.
 */
static int
mirror_scan_orphan(struct mirror_scan *x, size_t i, struct ms_err *err_r)
{
	const struct store_folder *f = x->f;
	const char *name = mirror__dir_name(&x->md, i);
	int fd = mirror__dir_subfd(&x->md, i);
	struct maildir_fhash fh;
	struct ms_err herr = { 0 };
	struct mirror_nofile *hit = NULL;
	size_t k;
	struct mirror_unknown *u;
	struct store_msg m;
	struct stat sb;
	int rc;

	/*
	 * A second name of a file a record claimed: a reader renamed it
	 * while the directory was read, and readdir gave both names.  It
	 * is that record's file, never a new message; the rename's event
	 * brings the scan that records its letters.
	 */
	if (mirror__dir_find_claimed(&x->md, name, x->md.ulen[i]) != SIZE_MAX) {
		log_debug("acct=%s mirror %s/%s listed under two names: "
			  "renamed during the scan", x->c->p->account, x->path,
			  name);
		x->is_unclean = true;
		return MS_OK;
	}
	if (mirror__left_find(&x->left, name, x->md.ulen[i]) != SIZE_MAX)
		return MS_OK;
	rc = maildir_hash_mail(fd, name, &fh, &herr);
	if (rc == MS_OK && fstatat(fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		rc = ms_err_set(&herr, MS_EIO, "stat %s: %s", name,
				strerror(errno));
	if (rc != MS_OK) {
		if (fstatat(fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 &&
		    errno == ENOENT) {
			log_debug("acct=%s mirror %s", x->c->p->account,
				  herr.msg);
			return MS_OK;	/* renamed meanwhile: the next scan
					 * sees it */
		}
		return mirror_scan_unreadable(x, x->path, x->md.l.v[i].sub, name,
					      x->md.ulen[i], herr.msg, err_r);
	}
	if (mirror__is_incoming_file(x->c, f->id, &fh))
		return MS_OK;
	k = mirror__fhash_find(x->nof, x->nnof, sizeof(*x->nof), &fh,
			       mirror_nofile_is_done);
	if (k != SIZE_MAX) {
		hit = &x->nof[k];
		rc = store_msg_get(x->c->s, f->id, hit->uid, &m, err_r);
		if (rc < 0)
			return rc;
		hit->is_done = true;
		if (hit->vanished != SIZE_MAX)
			x->van[hit->vanished].is_done = true;
		x->st->adopted++;
		/* A vanished record's file had a name from us: the flags
		 * the reader changed since count.  A record that never had
		 * a file (the server's copy of an append) takes the
		 * letters the reader gave the file; but not in a mirror
		 * made over an existing tree (no marker: another tool's
		 * Maildir), where the server's flags are newer. */
		if (hit->vanished == SIZE_MAX && !x->c->is_fresh) {
			rc = mirror__flags_merge(x->b, &m, 0, x->md.l.v[i].flags,
						 NULL, err_r);
			if (rc < 0)
				return rc;
			x->st->flag_changes += (unsigned)rc;
		}
		return mirror_scan_found(x, &m, name, x->md.l.v[i].flags,
					 hit->vanished != SIZE_MAX, err_r);
	}
	rc = mirror__grow((void **)&x->unk, &x->unk_cap, x->nunk, sizeof(*x->unk),
			  err_r);
	if (rc < 0)
		return rc;
	u = &x->unk[x->nunk];
	u->folder_id = f->id;
	u->mtime = (int64_t)sb.st_mtime;
	u->fh = fh;
	u->sub = x->md.l.v[i].sub;
	u->flags = x->md.l.v[i].flags;
	u->dir = strdup(x->path);
	u->name = strdup(name);
	if (u->dir == NULL || u->name == NULL) {
		free(u->dir);
		free(u->name);
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	}
	x->nunk++;
	return MS_OK;
}

/*
 * In another tool's tree (no marker yet), the files of a server folder no
 * pass has synced are no reader's new messages: the pass adopts them
 * (mirror_adopt()) or the export matches them with the server's copies.
 * Only what is left after that is new, for the scans that follow.
 */
static bool
mirror_scan_is_unsynced(const struct mirror_scan *x)
{
	return x->c->is_fresh && x->f->state.uidvalidity == 0 &&
	       (x->f->attrs & STORE_FOLDER_CREATE) == 0;
}

static int
mirror_scan_folder(struct mirror_scan *x, struct ms_err *err_r)
{
	bool exists;
	int rc;

	x->nnof = 0;
	x->is_unclean = false;
	x->max_seq = 0;
	rc = mirror__dir_open_sized(&x->md, x->c->p->root, x->path, false,
				    x->c->p->rep, x->f->local_count, &exists,
				    err_r);
	x->st->listed += x->md.nlisted;
	if (rc == MS_OK && exists)
		rc = mirror__left_load(x->c, x->f->id, &x->left, err_r);
	if (rc == MS_OK && exists) {
		rc = mirror_scan_records(x, err_r);
		if (x->nnof > 1)
			qsort(x->nof, x->nnof, sizeof(*x->nof), mirror__hash_cmp);
		for (size_t i = 0; rc == MS_OK && !mirror_scan_is_unsynced(x) &&
				   i < x->md.l.n; i++)
			if (!x->md.claimed[i] &&
			    (rc = mirror_scan_check_cancel(x->c, err_r)) == MS_OK)
				rc = mirror_scan_orphan(x, i, err_r);
	}
	/* Nothing to do here: every file a record's, named as recorded,
	 * every record's file there, no leftover. */
	if (rc == MS_OK && exists) {
		bool is_clean = !x->is_unclean && x->nnof == 0 &&
				x->left.n == 0 && !mirror_scan_is_unsynced(x);

		for (size_t i = 0; is_clean && i < x->md.l.n; i++)
			is_clean = x->md.claimed[i];
		rc = mirror__seen_add(x->c, x->f, &x->md, is_clean, x->max_seq,
				      err_r);
	}
	x->st->folders++;
	mirror__dir_close(&x->md);
	mirror__left_free(&x->left);
	return rc;
}

/*
 * Reads a reader's new file into a body (mirror__read_body()), so that the
 * server's copy is recognised as this file when it arrives.  The file
 * itself is left as it is, under its name: a reader may remember it (a
 * postponed draft), and its LF line ends are what readers expect.
 */
static int
mirror_scan_read(struct mirror_scan *x, const struct mirror_unknown *u,
		 struct store_body **body_r, struct ms_err *err_r)
{
	struct maildir_dir d = { 0 };
	int rc;

	*body_r = NULL;
	rc = maildir_dir_open(&d, x->c->p->root, u->dir, false, x->c->p->rep,
			      err_r);
	if (rc != MS_OK)
		return rc == MS_EINVAL ? STORE_NOTFOUND : rc;
	rc = mirror__read_body(x->c->s, d.sub_fd[u->sub], u->dir, u->name,
			       body_r, NULL, err_r);
	maildir_dir_close(&d);
	return rc;
}

/* Reads a new file into a body and records its APPEND. */
static int
mirror_scan_append(struct mirror_scan *x, const struct mirror_unknown *u,
		   struct ms_err *err_r)
{
	struct store_body *body = NULL;
	int rc = mirror_scan_read(x, u, &body, err_r);

	if (rc == STORE_NOTFOUND)
		return MS_OK;	/* gone meanwhile: the next scan sees why */
	if (rc != MS_OK)
		return rc;
	/* The file's letters go with the APPEND: a reader's draft is a
	 * Draft on the server at once, not after a second pass. */
	rc = store_batch_local_append(x->b, u->folder_id, body, u->mtime,
				      mirror_flags_from_maildir(u->flags));
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "out of memory");
	log_info("acct=%s mirror new message %s/%s/%s: APPEND pending",
		 x->c->p->account, u->dir,
		 maildir_sub_name((enum maildir_sub)u->sub), u->name);
	x->st->appends++;
	return mirror_scan_flush(x, false, err_r);
}

/*
 * Is the file of a record about to be taken for a deletion there after
 * all?  A listing can miss a file that a reader renames while the
 * directory is read (readdir gives an entry renamed meanwhile zero, one
 * or two times), so each folder that has such records is listed again
 * and a record found there is left for the next scan (the rename raised
 * an event that brings one).
 */
static int
mirror_scan_relist(struct mirror_scan *x, struct ms_err *err_r)
{
	struct mirror_ctx *c = x->c;
	int rc = MS_OK;

	for (size_t k = 0; rc == MS_OK && k < c->nfolders; k++) {
		uint32_t id = c->folders[k].id;
		struct mirror_dir md;
		bool has = false, exists;

		for (size_t i = 0; i < x->nvan && !has; i++)
			has = !x->van[i].is_done && x->van[i].folder_id == id;
		if (!has || x->paths == NULL || x->paths[k] == NULL)
			continue;
		rc = mirror__dir_open(&md, c->p->root, x->paths[k], false, NULL,
				      &exists, err_r);
		for (size_t i = 0; rc == MS_OK && exists && i < x->nvan; i++) {
			struct mirror_vanished *v = &x->van[i];

			if (v->is_done || v->folder_id != id ||
			    mirror__dir_find(&md, v->key, strlen(v->key)) ==
			    SIZE_MAX)
				continue;
			log_info("acct=%s mirror uid=%" PRIu32 ": its file was "
				 "renamed while the folder was read; the next "
				 "scan records what changed", c->p->account,
				 v->uid);
			v->is_done = true;
		}
		mirror__dir_close(&md);
	}
	return rc;
}

/* Matches new files with vanished records across the account's folders. */
static int
mirror_scan_resolve(struct mirror_scan *x, struct ms_err *err_r)
{
	int rc = MS_OK;

	if (x->nvan > 1)
		qsort(x->van, x->nvan, sizeof(*x->van), mirror__hash_cmp);
	for (size_t i = 0; rc == MS_OK && i < x->nunk; i++) {
		struct mirror_unknown *u = &x->unk[i];

		if ((rc = mirror_scan_check_cancel(x->c, err_r)) != MS_OK)
			break;
		size_t k = mirror__fhash_find(x->van, x->nvan, sizeof(*x->van),
					      &u->fh, mirror_vanished_is_done);
		struct mirror_vanished *v;

		if (k == SIZE_MAX) {
			struct ms_err aerr = { 0 };

			rc = mirror_scan_append(x, u, &aerr);
			/* One file that cannot be read or is too large
			 * stops nothing else. */
			if (rc == MS_EIO || rc == MS_ETOOBIG)
				rc = mirror_scan_unreadable(x, u->dir, u->sub,
							    u->name,
							    strcspn(u->name,
								    ",:!"),
							    aerr.msg, err_r);
			else if (rc != MS_OK && err_r != NULL)
				*err_r = aerr;
			continue;
		}
		v = &x->van[k];
		v->is_done = true;
		rc = store_batch_local_move(x->b, v->folder_id, v->uid,
					    u->folder_id);
		if (rc != MS_OK) {
			rc = ms_err_set(err_r, rc, "out of memory");
			break;
		}
		log_info("acct=%s mirror uid=%" PRIu32 " moved to %s/%s: MOVE "
			 "pending", x->c->p->account, v->uid, u->dir, u->name);
		x->st->moves++;
		rc = mirror_scan_flush(x, false, err_r);
	}
	if (rc == MS_OK)
		rc = mirror_scan_relist(x, err_r);
	for (size_t i = 0; rc == MS_OK && i < x->nvan; i++) {
		if (x->van[i].is_done)
			continue;
		if (mirror_scan_is_unread(x, &x->van[i])) {
			log_info("acct=%s mirror uid=%" PRIu32 ": its file "
				 "cannot be read; not taken for a deletion",
				 x->c->p->account, x->van[i].uid);
			continue;
		}
		rc = store_batch_local_delete(x->b, x->van[i].folder_id,
					      x->van[i].uid);
		if (rc != MS_OK) {
			rc = ms_err_set(err_r, rc, "out of memory");
			break;
		}
		x->st->deletes++;
		rc = mirror_scan_flush(x, false, err_r);
	}
	return rc;
}

/* Adds the new store folder id to the context, its path to *paths. */
static int
mirror_scan_add_folder(struct mirror_ctx *c, char ***paths, uint32_t id,
		       const char *abs, struct ms_err *err_r)
{
	struct store_folder *fv;
	char **pv;
	int rc;

	fv = realloc(c->folders, (c->nfolders + 1) * sizeof(*fv));
	if (fv == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	c->folders = fv;
	pv = realloc(*paths, (c->nfolders + 1) * sizeof(*pv));
	if (pv == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	*paths = pv;
	rc = store_folder_get(c->s, id, &fv[c->nfolders], err_r);
	if (rc == STORE_NOTFOUND)
		rc = ms_err_set(err_r, MS_ESTORE, "folder %u vanished", id);
	if (rc != MS_OK)
		return rc;
	if ((pv[c->nfolders] = strdup(abs)) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	c->nfolders++;
	return MS_OK;
}

/* A reader's new Maildir: a store folder to be created on the server. */
struct mirror_scan_new {
	char ***paths;
	struct mirror_stats *st;
};

static int
mirror_scan_new_folder(struct mirror_ctx *c, const char *abs, const char *name,
		       char delim, void *arg, struct ms_err *err_r)
{
	struct mirror_scan_new *sn = arg;
	uint32_t id;
	int rc;

	rc = mirror_scan_folder_ensure(c, name, delim, STORE_FOLDER_CREATE,
				       &id, err_r);
	if (rc != MS_OK)
		return rc;
	log_info("acct=%s mirror new folder %s: \"%s\" to be created on the "
		 "server", c->p->account, abs, name);
	sn->st->created++;
	return mirror_scan_add_folder(c, sn->paths, id, abs, err_r);
}

/*
 * Folder f, deleted on the server (a tombstone), whose Maildir is at path.
 * Files in it are the export's own (leftovers of its removed records:
 * export removes them) or a reader's (anything else: a message they put
 * there, or moved there before the folder went).  With a reader's file and none of ours, the reader wants
 * the folder: it is reset (as sync_folder_revive() resets a tombstone the
 * server lists again, so no UIDVALIDITY or UIDNEXT of the deleted folder
 * carries over) and marked STORE_FOLDER_CREATE, and scanned like any new
 * folder.  With ours left too, it waits for the export to remove them
 * first (after the reset they would look like a reader's).  *has_reader_r
 * says a reader's files are there and the folder is (or will be) made
 * again: moves into it stay pending.
 */
static int
mirror_scan_tombstone(struct mirror_scan *x, struct store_folder *f,
		      const char *path, bool *has_reader_r,
		      struct ms_err *err_r)
{
	struct mirror_ctx *c = x->c;
	struct store_folder_state fs = { 0 };
	struct mirror_dir md;
	struct mirror_left left = { 0 };
	size_t n_ours = 0, n_reader = 0;
	bool exists;
	uint32_t id;
	int rc;

	*has_reader_r = false;
	rc = mirror__dir_open(&md, c->p->root, path, false, c->p->rep, &exists,
			      err_r);
	if (rc == MS_OK && exists)
		rc = mirror__left_load(c, f->id, &left, err_r);
	for (size_t i = 0; rc == MS_OK && exists && i < md.l.n; i++) {
		if (mirror__left_find(&left, mirror__dir_name(&md, i),
				      md.ulen[i]) != SIZE_MAX)
			n_ours++;
		else
			n_reader++;
	}
	mirror__left_free(&left);
	mirror__dir_close(&md);
	if (rc != MS_OK || n_reader == 0)
		return rc;
	if (!cfg_folder_wanted(c->p->folders, c->p->nfolders, f->name,
				f->delimiter)) {
		maildir_report_note(c->p->rep, path, "Maildir of a folder "
				    "deleted on the server; not synced: "
				    "folders = excludes it");
		return MS_OK;
	}
	*has_reader_r = true;
	if (n_ours > 0) {
		log_debug("acct=%s mirror folder=%s deleted on the server: %s "
			  "holds a reader's files, made again once export has "
			  "removed its own %zu", c->p->account, f->name, path,
			  n_ours);
		return MS_OK;
	}
	/* The reset is committed before the mark changes: a crash in
	 * between leaves a tombstone that is revived again. */
	rc = store_batch_folder_state(x->b, f->id, &fs, STORE_FS_UIDVALIDITY |
				      STORE_FS_UIDNEXT | STORE_FS_HIGHESTMODSEQ |
				      STORE_FS_MESSAGES);
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "out of memory");
	rc = mirror_scan_flush(x, true, err_r);
	if (rc == MS_OK)
		rc = mirror_scan_folder_ensure(c, f->name, f->delimiter,
					       (f->attrs & ~STORE_FOLDER_GONE) |
					       STORE_FOLDER_CREATE, &id, err_r);
	if (rc == MS_OK)
		rc = store_folder_get(c->s, f->id, f, err_r);
	if (rc == STORE_NOTFOUND)
		rc = ms_err_set(err_r, MS_ESTORE, "folder %u vanished", f->id);
	if (rc != MS_OK)
		return rc;
	log_info("acct=%s mirror folder=%s was deleted on the server, but a "
		 "reader put messages in %s: to be created on the server again",
		 c->p->account, f->name, path);
	x->st->created++;
	return MS_OK;
}

/* Index of folder id in c->folders, or SIZE_MAX. */
static size_t
mirror_scan_folder_index(const struct mirror_ctx *c, uint32_t id)
{
	for (size_t i = 0; i < c->nfolders; i++)
		if (c->folders[i].id == id)
			return i;
	return SIZE_MAX;
}

/* Forgets the pending source (folder, uid): the record is the mirror's
 * again. */
static void
mirror_scan_src_drop(struct mirror_ctx *c, uint32_t folder_id, uint32_t uid)
{
	uint64_t key = (uint64_t)folder_id << 32 | uid;

	for (size_t i = 0; i < c->nsrc; i++)
		if (c->src[i] == key) {
			memmove(&c->src[i], &c->src[i + 1],
				(c->nsrc - i - 1) * sizeof(*c->src));
			c->nsrc--;
			return;
		}
}

/*
 * A pending MOVE into a folder deleted on the server whose Maildir holds
 * no reader's file (keep[k]: folder k's does) can never be done: it is
 * dropped and the message stays where it was.  Its record's file name is
 * cleared, so that its missing file is not taken for a reader's deletion
 * (scan) and export writes it again.
 */
static int
mirror_scan_gone_move(struct mirror_scan *x, const struct store_change *ch,
		      const bool *keep, struct ms_err *err_r)
{
	struct mirror_ctx *c = x->c;
	size_t src, dest;
	struct store_msg m;
	int rc;

	if (ch->kind != STORE_CHANGE_MOVE)
		return MS_OK;
	src = mirror_scan_folder_index(c, ch->folder_id);
	dest = mirror_scan_folder_index(c, ch->dest_folder_id);
	if (src == SIZE_MAX || dest == SIZE_MAX || keep[dest] ||
	    !(c->folders[dest].attrs & STORE_FOLDER_GONE))
		return MS_OK;
	rc = store_batch_change_clear(x->b, ch->seq);
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "out of memory");
	rc = store_msg_get(c->s, ch->folder_id, ch->uid, &m, err_r);
	if (rc < 0)
		return rc;
	if (rc == MS_OK &&
	    (rc = store_batch_msg_mirror(x->b, ch->folder_id, ch->uid, ""))
	    != MS_OK)
		return ms_err_set(err_r, rc, "out of memory");
	mirror_scan_src_drop(c, ch->folder_id, ch->uid);
	log_info("acct=%s mirror folder=%s uid=%" PRIu32 ": the move to %s is "
		 "dropped, that folder was deleted on the server; the message "
		 "stays in %s", c->p->account, c->folders[src].name, ch->uid,
		 c->folders[dest].name, c->folders[src].name);
	x->st->moves_dropped++;
	return mirror_scan_flush(x, false, err_r);
}

/* Tombstones first, then the moves into those that stay deleted. */
static int
mirror_scan_gone(struct mirror_scan *x, char **paths, struct ms_err *err_r)
{
	struct mirror_ctx *c = x->c;
	bool *keep = NULL, has_gone = false;
	uint64_t after = 0;
	int rc = MS_OK;

	for (size_t i = 0; i < c->nfolders; i++)
		has_gone |= (c->folders[i].attrs & STORE_FOLDER_GONE) != 0;
	if (!has_gone)
		return MS_OK;
	if ((keep = calloc(c->nfolders, sizeof(*keep))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	for (size_t i = 0; rc == MS_OK && i < c->nfolders; i++)
		if (paths[i] != NULL && (c->folders[i].attrs & STORE_FOLDER_GONE))
			rc = mirror_scan_tombstone(x, &c->folders[i], paths[i],
						   &keep[i], err_r);
	while (rc == MS_OK) {
		struct store_change *ch = NULL;
		size_t n = 0;

		rc = store_change_list(c->s, after, MIRROR_CHANGES_CHUNK, &ch,
				       &n, err_r);
		for (size_t i = 0; rc >= 0 && i < n; i++)
			rc = mirror_scan_gone_move(x, &ch[i], keep, err_r);
		if (n > 0)
			after = ch[n - 1].seq;
		free(ch);
		if (rc < 0 || n < MIRROR_CHANGES_CHUNK)
			break;
	}
	free(keep);
	/* Committed before the folders are scanned: their records are
	 * read afresh there. */
	if (rc >= 0)
		rc = mirror_scan_flush(x, true, err_r);
	return rc;
}

/*
 * Is folder i (Maildir path) to be scanned: every folder without
 * p->only_dirs; else one of those, or one a reader made during this scan
 * (i beyond the folders the scan began with).
 */
static bool
mirror_scan_is_wanted(const struct mirror_ctx *c, const char *path, size_t i)
{
	const struct mirror_params *p = c->p;
	size_t root_len = strlen(p->root);

	if (p->only_dirs == NULL || i >= c->npaths)
		return true;
	if (strncmp(path, p->root, root_len) != 0)
		return true;	/* not under the root as written: scan it */
	path += root_len;
	while (*path == '/')
		path++;
	for (size_t k = 0; k < p->n_only_dirs; k++) {
		const char *d = p->only_dirs[k];
		size_t n;

		while (*d == '/')
			d++;
		n = strlen(d);
		while (n > 0 && d[n - 1] == '/')
			n--;
		if (strncmp(path, d, n) == 0 &&
		    (path[n] == '\0' || (path[n] == '/' && path[n + 1] == '\0')))
			return true;
	}
	return false;
}

/*
 * A scan of some folders only (the watch's): does it need the others?  A
 * record whose file went, unmatched in these folders, may have been moved
 * by a reader to a folder the watch has not reported yet (a MOVE, not a
 * DELETE); a new file unmatched here may be the target of a file that
 * went from such a folder (a MOVE, not an APPEND).  Only every folder
 * tells.
 */
static bool
mirror_scan_needs_all(const struct mirror_scan *x)
{
	if (x->c->p->only_dirs == NULL)
		return false;
	if (x->nunk > 0)
		return true;
	for (size_t i = 0; i < x->nvan; i++)
		if (!x->van[i].is_done)
			return true;
	return false;
}

int
mirror_scan(struct store *s, const struct mirror_params *p,
	    struct mirror_stats *st_r, struct ms_err *err_r)
{
	return mirror__scan_with(s, p, NULL, st_r, err_r);
}

int
mirror__scan_with(struct store *s, const struct mirror_params *p,
		  const struct mirror_writer *w, struct mirror_stats *st_r,
		  struct ms_err *err_r)
{
	struct mirror_ctx c;
	struct mirror_scan x = { .c = &c, .st = st_r };
	char **paths = NULL;
	struct stat sb;
	int rc, rc2;

	if (stat(p->root, &sb) != 0 && errno == ENOENT)
		return MS_OK;	/* no mirror yet: export makes it */
	rc = mirror__ctx_init(&c, s, p, err_r);
	c.w = w;
	if (rc == MS_OK && (rc = store_batch_new(s, &x.b)) != MS_OK)
		ms_err_set(err_r, rc, "out of memory");
	if (rc == MS_OK && c.nfolders > 0 &&
	    (paths = calloc(c.nfolders, sizeof(*paths))) == NULL)
		rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
	for (size_t i = 0; rc == MS_OK && i < c.nfolders; i++)
		rc = mirror__folder_path(&c, &c.folders[i], &paths[i], err_r);
	/* New folders first: their files are new files like any other. */
	if (rc == MS_OK)
		rc = mirror__tree_new(&c, &paths, mirror_scan_new_folder,
				      &(struct mirror_scan_new){ &paths, st_r },
				      err_r);
	if (rc == MS_OK)
		rc = mirror_scan_gone(&x, paths, err_r);
	/* The folders the watch named, then, if what they hold cannot be
	 * told apart there, all the others (is_wide). */
	for (int pass = 0; rc == MS_OK && pass < 2; pass++) {
		bool is_wide = pass == 1;

		if (is_wide && !mirror_scan_needs_all(&x))
			break;
		if (is_wide)
			log_debug("acct=%s mirror scan widened to every folder: "
				  "a file came or went that the folders seen "
				  "changed cannot account for", p->account);
		for (size_t i = 0; rc == MS_OK && i < c.nfolders; i++) {
			/* A folder deleted on the server takes no new
			 * messages; its Maildir is known, so it is not a new
			 * folder either. */
			if (paths[i] == NULL ||
			    (c.folders[i].attrs & STORE_FOLDER_GONE))
				continue;
			if (mirror_scan_is_wanted(&c, paths[i], i) == is_wide)
				continue;
			if ((rc = mirror_scan_check_cancel(&c, err_r)) != MS_OK)
				break;
			if (mirror__seen_is_unchanged(&c, &c.folders[i],
						      paths[i])) {
				st_r->folders++;
				st_r->unchanged++;
				continue;
			}
			x.f = &c.folders[i];
			x.path = paths[i];
			rc = mirror_scan_folder(&x, err_r);
		}
	}
	x.paths = paths;
	if (rc == MS_OK)
		rc = mirror_scan_resolve(&x, err_r);
	if (rc == MS_OK)
		rc = mirror__seen_commit(&c, err_r);
	/* What was found before an error is committed all the same. */
	if (x.b != NULL) {
		struct ms_err cerr = { 0 };

		rc2 = mirror_scan_flush(&x, true, &cerr);
		if (rc2 != MS_OK && rc == MS_OK) {
			rc = rc2;
			if (err_r != NULL)
				*err_r = cerr;
		}
	}
	store_batch_free(&x.b);
	for (size_t i = 0; paths != NULL && i < c.nfolders; i++)
		free(paths[i]);
	free(paths);
	for (size_t i = 0; i < x.nunk; i++) {
		free(x.unk[i].dir);
		free(x.unk[i].name);
	}
	free(x.unk);
	for (size_t i = 0; i < x.nvan; i++)
		free(x.van[i].key);
	free(x.van);
	for (size_t i = 0; i < x.nunread; i++)
		free(x.unread[i]);
	free(x.unread);
	free(x.nof);
	mirror__ctx_deinit(&c);
	return rc;
}
