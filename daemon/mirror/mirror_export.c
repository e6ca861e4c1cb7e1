/* mirror_export.c - the store's messages into the Maildir mirror. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "maildir/maildir_eol.h"
#include "maildir/maildir_hash.h"
#include "mirror/mirror_int.h"

#define MIRROR_COPY_CHUNK (64 * 1024)
/* tmp/ files older than this are a crashed writer's (the convention). */
#define MIRROR_TMP_MAX_AGE (36 * 3600)

/* A record with no file found: written (or adopted) after the listing. */
struct mirror_missing {
	uint8_t hash[STORE_HASH_LEN];	/* first: sorted by it */
	uint32_t uid;
	bool is_done;
	bool is_vanished;		/* durable once: a reader removed it */
	bool is_hidden;			/* \Deleted, p->is_deleted_hidden */
};

/*
 * A set of file names (in new/ or cur/) as a count, a sum and an
 * exclusive or of a 64-bit hash of each: two sets are taken as equal when
 * all three are.  A reader's change adds, removes or renames a file, and
 * would have to leave both the sum and the exclusive or as they were.
 */
struct mirror_digest {
	uint64_t n, sum, mix;
};

static void
mirror_digest_add(struct mirror_digest *d, enum maildir_sub sub,
		  const char *name)
{
	uint64_t h = 14695981039346656037ull ^ (uint64_t)sub;	/* FNV-1a */

	for (const char *p = name; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	/* splitmix64's finaliser spreads FNV's low-entropy bits. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	d->n++;
	d->sum += h;
	d->mix ^= h * 0x9e3779b97f4a7c15ull;
}

/* maildir_scan_folder_each()'s callback: arg is the digest. */
static int
mirror_digest_add_cb(const struct maildir_entry *e, const char *name,
		     size_t len, void *arg)
{
	(void)len;
	mirror_digest_add(arg, (enum maildir_sub)e->sub, name);
	return MS_OK;
}

static bool
mirror_digest_eq(const struct mirror_digest *a, const struct mirror_digest *b)
{
	return a->n == b->n && a->sum == b->sum && a->mix == b->mix;
}

struct mirror_export {
	struct mirror_ctx *c;
	const struct store_folder *f;
	struct mirror_dir md;
	struct store_batch *b;
	struct mirror_stats *st;
	uint8_t *buf;			/* 2 * MIRROR_COPY_CHUNK + 1 bytes */
	struct mirror_missing *miss;
	size_t nmiss, miss_cap;
	struct mirror_left left;	/* files of removed records */
	bool existed;			/* the folder was there before */
	bool is_dirty;			/* something to syncfs */
	bool is_complete;		/* every record has its file */
	/* A file not under its recorded name, or not a record's: the
	 * folder had something to do (mirror_seen.c). */
	bool is_unclean;
	/* The records' files as they should be now, as a digest that does
	 * not depend on order (mirror_export_verify() compares the listing
	 * after the writes with it; constant memory however large the
	 * folder). */
	struct mirror_digest final;
	size_t nmiss_written;		/* missing records written */
	bool is_verified;		/* the listing after the writes agreed */
};

static bool
mirror_missing_is_done(const void *e)
{
	return ((const struct mirror_missing *)e)->is_done;
}

/*
 * Are the export's commits lazy (store_batch_commit_lazy())?  With marks
 * (the daemon) they hold names, leftovers and flags that a system crash
 * may take back as a whole: the next export finds the files by their ids
 * and does it all again (the watermarks, which say the files are on disk,
 * go in the flush's own durable commit, mirror_durable.h).  Without
 * marks, the folder's commit carries its watermark after the syncfs.
 */
static bool
mirror_export_is_lazy(const struct mirror_ctx *c)
{
	return c->p->marks != NULL;
}

/* Records where the record's file now is (committed with the batch). */
static int
mirror_export_record(struct mirror_export *x, uint32_t uid, const char *name,
		     struct ms_err *err_r)
{
	int rc = store_batch_msg_mirror(x->b, x->f->id, uid, name);

	return rc == MS_OK ? mirror__batch_flush(x->b, false,
						 mirror_export_is_lazy(x->c),
						 err_r) :
	       ms_err_set(err_r, rc, "recording a mirror name");
}

/* A record's file as it is now: name in sub. */
static void
mirror_export_final(struct mirror_export *x, enum maildir_sub sub,
		    const char *name)
{
	mirror_digest_add(&x->final, sub, name);
}

/*
 * The next piece of the record's body at off into *p_r, *n_r bytes (0 at
 * the end): from the body its commit handed over (in memory or in a
 * file), else read from the store into x->buf.
 */
static int
mirror_export_piece(struct mirror_export *x, const struct store_msg *m,
		    const struct store_handed_body *handed, uint64_t off,
		    const uint8_t **p_r, size_t *n_r, struct ms_err *err_r)
{
	int rc;

	if (handed->mem != NULL || handed->fd >= 0)
		return store_handed_body_read(handed, off, x->buf,
					      MIRROR_COPY_CHUNK, p_r, n_r,
					      err_r);
	*p_r = x->buf;
	rc = store_body_read(x->c->s, m->hash, off, x->buf, MIRROR_COPY_CHUNK,
			     n_r, err_r);
	if (rc == STORE_NOTFOUND)
		rc = ms_err_set(err_r, MS_ESTORE,
				"folder %s uid %" PRIu32 ": body missing",
				x->f->name, m->uid);
	return rc;
}

/*
 * Streams the record's body (handed over, or from the store) into the
 * tmp/ file w: with LF line ends (with_lf; *is_exact_r false, and the file
 * incomplete, as soon as a piece shows the body would not come back from
 * them), or exact.  *size_r gets the body's bytes read.
 */
static int
mirror_export_copy(struct mirror_export *x, const struct store_msg *m,
		   const struct store_handed_body *handed,
		   struct maildir_wfile *w, bool with_lf, bool *is_exact_r,
		   uint64_t *size_r, struct ms_err *err_r)
{
	uint8_t *out = x->buf + MIRROR_COPY_CHUNK;
	struct maildir_eol_lf eol;
	uint64_t off = 0;
	int rc;

	maildir_eol_lf_init(&eol);
	*is_exact_r = true;
	for (;;) {
		const uint8_t *p;
		size_t n = 0, k;

		rc = mirror_export_piece(x, m, handed, off, &p, &n, err_r);
		if (rc != MS_OK)
			return rc;
		if (n == 0)
			break;
		off += n;
		if (!with_lf) {
			rc = maildir_wfile_write(w, p, n, err_r);
		} else {
			k = maildir_eol_lf_feed(&eol, p, n, out);
			if (!eol.is_exact)
				break;
			rc = maildir_wfile_write(w, out, k, err_r);
		}
		if (rc != MS_OK)
			return rc;	/* the wfile removed its tmp/ file */
	}
	if (with_lf) {
		size_t k = maildir_eol_lf_finish(&eol, out);

		if (k > 0 && eol.is_exact &&
		    (rc = maildir_wfile_write(w, out, k, err_r)) != MS_OK)
			return rc;
		*is_exact_r = eol.is_exact;
	}
	*size_r = off;
	return MS_OK;
}

/*
 * Writes the record's body into a new file: with LF line ends, as readers
 * expect, unless the body would not come back from them (a bare CR, a LF
 * without CR): then its exact bytes (maildir_eol.h), which are rare, so
 * that case reads the body a second time.
 */
static int
mirror_export_write(struct mirror_export *x, const struct store_msg *m,
		    struct ms_err *err_r)
{
	struct maildir_name_params np = { 0 };
	struct maildir_wfile w;
	char id[MIRROR_ID_MAX], name[MAILDIR_NAME_MAX + 1];
	struct store_handed_body handed;
	uint64_t off = 0;
	bool is_exact = false;
	int rc;

	/* Just committed: its bytes are still at hand (or the store's). */
	if (store_handed_take(x->c->s, m->hash, &handed) != MS_OK)
		handed = (struct store_handed_body){ .fd = -1 };
	rc = maildir_wfile_open(&w, &x->md.d, &x->c->gen, err_r);
	if (rc == MS_OK)
		rc = mirror_export_copy(x, m, &handed, &w, true,
					&is_exact, &off, err_r);
	if (rc == MS_OK && !is_exact) {
		maildir_wfile_abort(&w);
		log_debug("acct=%s mirror folder=%s uid=%" PRIu32 " line ends "
			  "would not survive LF: written exact",
			  x->c->p->account, x->f->name, m->uid);
		rc = maildir_wfile_open(&w, &x->md.d, &x->c->gen, err_r);
		if (rc == MS_OK)
			rc = mirror_export_copy(x, m, &handed, &w,
						false, &is_exact, &off, err_r);
	}
	store_handed_body_free(&handed);
	if (rc != MS_OK) {
		maildir_wfile_abort(&w);
		return rc;
	}
	mirror__id(x->f->state.uidvalidity, m, id);
	np.id = id;
	np.uid = m->uid;
	np.flags = mirror_flags_to_maildir(m->flags);
	np.has_info = np.flags != 0;
	rc = maildir_wfile_commit(&w, &np, MAILDIR_WRITE_REPLACE, name,
				  sizeof(name), err_r);
	if (rc != MS_OK)
		return rc;
	x->is_dirty = true;
	x->st->written++;
	x->st->bytes += off;
	mirror_export_final(x, np.has_info ? MAILDIR_SUB_CUR : MAILDIR_SUB_NEW,
			    name);
	if (strcmp(name, m->mirror_name) == 0)
		return MS_OK;
	return mirror_export_record(x, m->uid, name, err_r);
}

/* Do the file's letters differ from the ones the mirror last gave it? */
static bool
mirror_export_reader_flags(const struct store_msg *m, maildir_flags_t now)
{
	maildir_flags_t ref;

	return mirror__recorded_flags(m, &ref) &&
	       (ref & MAILDIR_FLAGS_SYSTEM) != (now & MAILDIR_FLAGS_SYSTEM);
}

/*
 * The record's file is entry i: give it the record's flags, re-write it
 * when it may not have reached the disk intact, and record its name.
 */
static int
mirror_export_found(struct mirror_export *x, size_t i,
		    const struct store_msg *m, struct ms_err *err_r)
{
	const struct maildir_entry *e = &x->md.l.v[i];
	maildir_flags_t want = mirror_flags_to_maildir(m->flags) |
			       (e->flags & ~MAILDIR_FLAGS_SYSTEM);
	char name[MAILDIR_NAME_MAX + 1];
	enum maildir_sub sub = (enum maildir_sub)e->sub;
	struct ms_err ferr = { 0 };
	struct stat sb;
	bool is_gone = false;
	int rc;

	snprintf(name, sizeof(name), "%s", mirror__dir_name(&x->md, i));
	if (strcmp(name, m->mirror_name) != 0)
		x->is_unclean = true;
	if (strcmp(name, m->mirror_name) != 0 &&
	    mirror_export_reader_flags(m, e->flags)) {
		/* A reader changed the flags and no scan has seen it yet:
		 * renaming now would undo their change.  The next scan
		 * records it; until then the watermark stays. */
		x->is_complete = false;
		return MS_OK;
	}
	/* Other letters, or letters on a file in new/ (a reader put it
	 * there): rename, into cur/ when there are letters. */
	if ((e->flags & MAILDIR_FLAGS_SYSTEM) != (want & MAILDIR_FLAGS_SYSTEM) ||
	    (sub == MAILDIR_SUB_NEW && want != 0)) {
		bool is_vanished = false;

		rc = maildir_msg_set_flags(&x->md.d, sub, mirror__dir_name(&x->md, i),
					   want, name, sizeof(name), &is_vanished,
					   &ferr);
		if (rc != MS_OK && is_vanished) {
			/* A reader renamed or removed it just now: the next
			 * scan sees what they did. */
			log_debug("acct=%s mirror folder=%s uid=%" PRIu32
				  " file moved while renaming", x->c->p->account,
				  x->f->name, m->uid);
			x->is_complete = false;
			return MS_OK;
		}
		if (rc != MS_OK)
			return ms_err_set(err_r, rc, "%s", ferr.msg);
		if (want != 0)
			sub = MAILDIR_SUB_CUR;
		x->is_dirty = true;
		x->st->renamed++;
	}
	/* Beyond the watermark the file may be one a crash cut short. */
	if (m->local_seq > x->f->state.mirror_durable &&
	    fstatat(x->md.d.sub_fd[sub], name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !mirror__size_ok(x->f->state.uidvalidity, m, name,
			     (uint64_t)sb.st_size)) {
		log_info("acct=%s mirror folder=%s uid=%" PRIu32
			 " file has %lld bytes, not what was written; writing "
			 "it again", x->c->p->account, x->f->name, m->uid,
			 (long long)sb.st_size);
		rc = maildir_msg_remove(&x->md.d, sub, name, &is_gone, err_r);
		if (rc != MS_OK && !is_gone)
			return rc;
		return mirror_export_write(x, m, err_r);
	}
	mirror_export_final(x, sub, name);
	if (strcmp(name, m->mirror_name) == 0)
		return MS_OK;
	return mirror_export_record(x, m->uid, name, err_r);
}

static int
mirror_export_miss(struct mirror_export *x, const struct store_msg *m,
		   struct ms_err *err_r)
{
	int rc = mirror__grow((void **)&x->miss, &x->miss_cap, x->nmiss,
			      sizeof(*x->miss), err_r);

	if (rc != MS_OK)
		return rc;
	x->miss[x->nmiss].uid = m->uid;
	memcpy(x->miss[x->nmiss].hash, m->hash, STORE_HASH_LEN);
	x->miss[x->nmiss].is_done = false;
	x->miss[x->nmiss].is_hidden = x->c->p->is_deleted_hidden &&
				      (m->flags & STORE_FLAG_DELETED) != 0;
	x->miss[x->nmiss].is_vanished = x->existed && !x->c->is_fresh &&
					m->mirror_name[0] != '\0' &&
					m->local_seq <= x->f->state.mirror_durable;
	x->nmiss++;
	return MS_OK;
}

/* Removes entry i, the file of a record expunged on the server. */
static int
mirror_export_unlink(struct mirror_export *x, size_t i, struct ms_err *err_r)
{
	const char *name = mirror__dir_name(&x->md, i);
	bool is_gone = false;
	int rc;

	rc = maildir_msg_remove(&x->md.d, (enum maildir_sub)x->md.l.v[i].sub,
				name, &is_gone, err_r);
	if (rc != MS_OK && !is_gone)
		return rc;
	x->is_dirty = true;
	x->st->removed++;
	return MS_OK;
}

/*
 * Is entry i, whose bytes (hash) are those of a leftover, the export's own
 * file of a removed record?  Not when a pending APPEND or MOVE brings
 * those bytes into the folder (a UIDVALIDITY change parks the old records
 * so: the file waits for the server's copy), nor when it is the file of
 * another folder's record that a reader moved here (folders can share a
 * UIDVALIDITY, and so names): that waits for the scan.  1 yes, 0 no, or a
 * negative MS_E*.
 */
static int
mirror_export_is_ours(struct mirror_export *x, size_t i,
		      const struct maildir_fhash *fh, struct ms_err *err_r)
{
	const char *name = mirror__dir_name(&x->md, i);
	uint32_t uv, uid;
	int rc;

	if (mirror__is_incoming_file(x->c, x->f->id, fh))
		return 0;
	if (!mirror__id_parse(name, x->md.ulen[i], &uv, &uid) ||
	    uv != x->f->state.uidvalidity)
		return 1;
	rc = mirror__is_foreign_id(x->c, x->f, uv, uid, name, x->md.ulen[i],
				   err_r);
	return rc < 0 ? rc : !rc;
}

/*
 * Entry i is the file of record m (hit): it becomes the record's file
 * under the name it has, which a reader may remember (a postponed draft;
 * an editor's file); only its letters change, when the record's flags
 * say other.  The letters are the reader's change, as a scan would find
 * them: from the name the mirror gave the file, or, on a file the record
 * never had (the server's copy of their append), all of them; but in a
 * mirror made over an existing tree (no marker yet: another tool's
 * Maildir, a backup), the server's flags win, since the file's are older.
 */
static int
mirror_export_adopt(struct mirror_export *x, size_t i,
		    struct mirror_missing *hit, struct store_msg *m,
		    struct ms_err *err_r)
{
	const char *name = mirror__dir_name(&x->md, i);
	const struct maildir_entry *e = &x->md.l.v[i];
	char newname[MAILDIR_NAME_MAX + 1];
	struct ms_err ferr = { 0 };
	maildir_flags_t ref, want;
	bool is_vanished = false;
	int rc;

	if (!x->c->is_fresh) {
		if (!hit->is_vanished || !mirror__recorded_flags(m, &ref))
			ref = 0;
		rc = mirror__flags_merge(x->b, m, ref, e->flags, &m->flags,
					 err_r);
		if (rc < 0)
			return rc;
		x->st->flag_changes += (unsigned)rc;
	}
	want = mirror_flags_to_maildir(m->flags) |
	       (e->flags & ~MAILDIR_FLAGS_SYSTEM);
	snprintf(newname, sizeof(newname), "%s", name);
	if ((e->flags & MAILDIR_FLAGS_SYSTEM) != (want & MAILDIR_FLAGS_SYSTEM) ||
	    (e->sub == MAILDIR_SUB_NEW && want != 0)) {
		rc = maildir_msg_set_flags(&x->md.d, (enum maildir_sub)e->sub,
					   name, want, newname, sizeof(newname),
					   &is_vanished, &ferr);
		if (rc != MS_OK && is_vanished)
			return MS_OK;	/* the next scan sees where it went */
		if (rc != MS_OK)
			return ms_err_set(err_r, rc, "%s", ferr.msg);
		x->st->renamed++;
	}
	hit->is_done = true;
	x->is_dirty = true;
	x->st->adopted++;
	log_debug("acct=%s mirror folder=%s uid=%" PRIu32 " is file %s",
		  x->c->p->account, x->f->name, m->uid, newname);
	return mirror_export_record(x, m->uid, newname, err_r);
}

/*
 * A file no record claimed: the file of a removed record (a leftover) whose
 * bytes the store still holds (removed), a reader's file that turns out to
 * be a missing record's (adopted under its own name), or any other
 * reader's file, such as one restored from a backup under the name of a
 * record long gone (left alone: the scan uploads it).  A file is removed
 * only when its bytes are a body the store holds.
 */
static int
mirror_export_orphan(struct mirror_export *x, size_t i, struct ms_err *err_r)
{
	const char *name = mirror__dir_name(&x->md, i);
	int fd = mirror__dir_subfd(&x->md, i);
	struct maildir_fhash fh;
	size_t k, lk = mirror__left_find(&x->left, name, x->md.ulen[i]);
	struct store_msg m;
	struct ms_err herr = { 0 };
	bool is_ours = false;
	int rc;

	/* A second name of a record's file (renamed while listed): never
	 * another record's file, nor a leftover to remove. */
	if (mirror__dir_find_claimed(&x->md, name, x->md.ulen[i]) != SIZE_MAX)
		return MS_OK;
	if (lk != SIZE_MAX && x->left.is_done[lk])
		lk = SIZE_MAX;	/* two files under one name: one is ours */
	if (lk == SIZE_MAX && x->nmiss == 0)
		return MS_OK;
	if (maildir_hash_mail(fd, name, &fh, &herr) != MS_OK) {
		log_debug("acct=%s mirror %s", x->c->p->account, herr.msg);
		/* Gone meanwhile, or unreadable: a leftover stays for the
		 * next export to check. */
		if (lk != SIZE_MAX)
			x->left.is_done[lk] = true;
		return MS_OK;
	}
	if (lk != SIZE_MAX) {
		/* Dealt with here, whatever the file turns out to be. */
		x->left.is_done[lk] = true;
		rc = store_batch_leftover_clear(x->b, x->f->id,
						x->left.v[lk].part);
		if (rc != MS_OK)
			return ms_err_set(err_r, rc, "out of memory");
		if (maildir_fhash_is(&fh, x->left.v[lk].hash)) {
			rc = mirror_export_is_ours(x, i, &fh, err_r);
			if (rc < 0)
				return rc;
			is_ours = rc == 1;
		}
	}
	k = x->nmiss == 0 ? SIZE_MAX :
	    mirror__fhash_find(x->miss, x->nmiss, sizeof(*x->miss), &fh,
			       mirror_missing_is_done);
	/* In another tool's tree, a file mbsync wrote is the server's
	 * message without the X-TUID line mbsync added. */
	if (k == SIZE_MAX && x->nmiss > 0 && x->c->is_fresh && !is_ours) {
		rc = mirror__mbsync_hash(fd, x->md.d.path, name, fh.hash, &herr);
		if (rc < 0 && rc != MS_ETOOBIG)
			log_debug("acct=%s mirror %s", x->c->p->account,
				  herr.msg);
		fh.has_raw = false;
		if (rc == 1)
			k = mirror__fhash_find(x->miss, x->nmiss,
					       sizeof(*x->miss), &fh,
					       mirror_missing_is_done);
	}
	/*
	 * Our own file of a removed record is never adopted by a new record
	 * with the same bytes: its letters are the removed record's flags,
	 * which adopting would take for the reader's change and push to the
	 * server.  It goes, and the new record is written with its own.
	 */
	if (k == SIZE_MAX || is_ours)
		return is_ours ? mirror_export_unlink(x, i, err_r) : MS_OK;
	rc = store_msg_get(x->c->s, x->f->id, x->miss[k].uid, &m, err_r);
	if (rc != MS_OK)
		return rc < 0 ? rc : MS_OK;
	return mirror_export_adopt(x, i, &x->miss[k], &m, err_r);
}

/* Writes missing record i unless an orphan turned out to be its file. */
static int
mirror_export_missing(struct mirror_export *x, size_t i, struct ms_err *err_r)
{
	struct store_msg m;
	struct ms_err werr = { 0 };
	int rc;

	if (x->miss[i].is_done)
		return MS_OK;
	if (x->miss[i].is_hidden) {
		/* Deleted (flag): no file, and none to be missed. */
		rc = store_msg_get(x->c->s, x->f->id, x->miss[i].uid, &m, err_r);
		if (rc != MS_OK || m.mirror_name[0] == '\0')
			return rc < 0 ? rc : MS_OK;
		return mirror_export_record(x, m.uid, "", err_r);
	}
	if (x->miss[i].is_vanished) {
		/* Removed by a reader, not yet scanned: writing it again
		 * would undo the deletion. */
		x->is_complete = false;
		return MS_OK;
	}
	rc = store_msg_get(x->c->s, x->f->id, x->miss[i].uid, &m, err_r);
	if (rc < 0)
		return rc;
	if (rc == STORE_NOTFOUND)
		return MS_OK;
	rc = mirror_export_write(x, &m, &werr);
	if (rc == MS_EIO || rc == MS_ESTORE) {
		/* One message: log it, keep the watermark back so a later
		 * pass tries again, and go on. */
		log_warn("acct=%s mirror folder=%s uid=%" PRIu32 " %s",
			 x->c->p->account, x->f->name, m.uid, werr.msg);
		x->is_complete = false;
		return MS_OK;
	}
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "%s", werr.msg);
	x->nmiss_written++;
	return MS_OK;
}

/*
 * After the export's own writes a folder's times say nothing: a reader's
 * change in the same clock tick as our last write would have left the
 * same ones.  So once the clock has moved on (mirror__seen_take() would
 * take the times), the folder is listed again: when it holds exactly the
 * files the records should have, nobody else wrote in between, and the
 * times taken before that listing may be recorded (x->is_verified).
 * Blocking work: the file system only.
 */
static void
mirror_export_verify(struct mirror_export *x)
{
	struct mirror_digest now = { 0 };

	for (int tries = 0; tries < 3; tries++) {
		struct timespec ts = { 0, 12 * 1000 * 1000 };

		mirror__seen_take(&x->md);
		if (!x->md.is_recent)
			break;
		nanosleep(&ts, NULL);
	}
	if (!x->md.is_seen)
		return;
	/* Streamed into the digest: no second listing held beside the
	 * first (at 100,000 files that was the export's peak). */
	if (maildir_scan_folder_each(&x->md.d, mirror_digest_add_cb, &now,
				     NULL, NULL) == MS_OK)
		x->is_verified = mirror_digest_eq(&now, &x->final);
	x->st->listed += now.n;
}

/*
 * Does directory path (inside root) hold nothing?  A missing one counts as
 * empty; one reached through a link is not looked into (not empty).
 */
static bool
mirror_export_is_empty(const char *root, const char *path)
{
	bool is_empty = true, is_missing;
	struct dirent *de;
	DIR *d = NULL;
	int fd;

	if (maildir_dir_walk(root, path, false, NULL, &fd, &is_missing,
			     NULL) != MS_OK)
		return is_missing;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return false;
	}
	while (is_empty && (de = readdir(d)) != NULL)
		is_empty = strcmp(de->d_name, ".") == 0 ||
			   strcmp(de->d_name, "..") == 0;
	closedir(d);
	return is_empty;
}

/*
 * A folder deleted on the server whose files export just removed: its
 * Maildir goes too when nothing else is in it.  Only as a whole: a
 * reader's file keeps all of it (cur/ and new/), so that it stays a
 * Maildir, one the scan takes for a folder the reader wants; a child
 * folder keeps the directory (rmdir only removes empty ones).
 */
static void
mirror_export_gone(struct mirror_ctx *c, const struct store_folder *f,
		   const char *path)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	bool is_empty = true;

	for (size_t i = 0; is_empty && i < sizeof(subs) / sizeof(subs[0]); i++) {
		char *sub = maildir__path_join(path, subs[i], "");

		is_empty = sub != NULL &&
			   mirror_export_is_empty(c->p->root, sub);
		free(sub);
	}
	for (size_t i = 0; is_empty && i < sizeof(subs) / sizeof(subs[0]); i++) {
		char *sub = maildir__path_join(path, subs[i], "");

		if (sub == NULL || (rmdir(sub) != 0 && errno != ENOENT))
			is_empty = false;
		free(sub);
	}
	if (is_empty && rmdir(path) == 0)
		log_info("acct=%s mirror folder=%s deleted on the server: "
			 "removed %s", c->p->account, f->name, path);
}

/* The marker says "this tree is the mirror; what is missing was removed". */
static int
mirror_export_marker(struct mirror_ctx *c, struct ms_err *err_r)
{
	char *path = maildir__path_join(c->p->root, MIRROR_MARKER, "");
	char text[STORE_ACCOUNT_MAX + 80];
	const char *why = NULL;
	struct stat st;
	int fd, n;

	if (path == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	/*
	 * Neither through a link nor into a FIFO, which would block: such a
	 * thing in the marker's place is reported and left alone, and the
	 * tree stays without a marker (a missing file is no deletion).
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
		  O_NONBLOCK | O_NOCTTY, 0600);
	if (fd < 0 && (errno == ELOOP || errno == ENXIO))
		why = errno == ELOOP ? "symbolic link, not followed" :
		      "not a regular file";
	else if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)))
		why = "not a regular file";
	if (why != NULL) {
		maildir_report_note(c->p->rep, path, why);
		if (fd >= 0)
			close(fd);
		free(path);
		return MS_OK;
	}
	if (fd < 0 || ftruncate(fd, 0) != 0) {
		int rc = ms_err_set(err_r, MS_EIO, "create %s: %s", path,
				    strerror(errno));

		if (fd >= 0)
			close(fd);
		free(path);
		return rc;
	}
	n = snprintf(text, sizeof(text),
		     "mailsync Maildir mirror of account %s\n", c->p->account);
	if (write(fd, text, (size_t)n) != n) {
		int rc = ms_err_set(err_r, MS_EIO, "write %s: %s", path,
				    strerror(errno));
		close(fd);
		free(path);
		return rc;
	}
	close(fd);
	free(path);
	return MS_OK;
}

/* --- the export as steps --------------------------------------------------- */

/*
 * The phases of one folder, in order; LIST and SYNCFS are the blocking
 * work (mirror_export_work()), which touches the file system only.
 */
enum mirror_export_phase {
	MIRROR_PH_FOLDER,	/* the next folder's path */
	MIRROR_PH_LIST,		/* work: open (create) and list its Maildir */
	MIRROR_PH_LISTED,	/* the listing is there */
	MIRROR_PH_RECORDS,	/* each record finds its file or is missing */
	MIRROR_PH_ORPHANS,	/* files no record claimed */
	MIRROR_PH_MISSING,	/* write what is still missing */
	MIRROR_PH_SYNCFS,	/* work: syncfs */
	MIRROR_PH_VERIFY,	/* work: list again after our writes */
	MIRROR_PH_FOLDER_END,	/* watermark, commit, close */
	MIRROR_PH_MARKER,
	MIRROR_PH_DONE,
};

struct mirror_export_job {
	struct mirror_ctx c;
	bool has_ctx;
	struct store_batch *b;
	uint8_t *buf;			/* MIRROR_COPY_CHUNK bytes */
	struct mirror_stats st;
	bool is_complete;		/* every folder complete */
	enum mirror_export_phase phase;
	size_t fi;			/* the folder being exported */
	char *path;			/* its Maildir */
	struct mirror_export x;		/* its state, while has_folder */
	bool has_folder;
	struct store_msg_iter *it;
	uint64_t max_seq;
	uint64_t max_seq_all;		/* the folder's highest local_seq */
	uint64_t bytes_marked;		/* st.bytes counted in the marks */
	/* The store's last local_seq before the records were read: a
	 * record past it may have been committed behind the iterator (a
	 * sync pass adds records beside an export in its first fetch,
	 * acct_mirror.h), so the watermark never passes it. */
	uint64_t seq_cap;
	size_t i;			/* index in ORPHANS and MISSING */
	int work_rc;			/* of the last blocking work */
	struct ms_err work_err;
	/* An early export's folder that an earlier one left (p->early),
	 * or a push export's (p->pushed, is_push): not listed, its
	 * records read from from_uid on. */
	bool is_unlisted;
	uint32_t from_uid;
	bool is_push;
	uint32_t push_count;		/* its records below from_uid */
	uint32_t nread;			/* records the walk read */
	uint32_t max_uid;		/* the highest UID it read */
};

void
mirror_early_clear(struct mirror_early *e)
{
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static struct mirror_early_folder *
mirror_early_find(const struct mirror_early *e, uint32_t folder_id)
{
	for (size_t i = 0; e != NULL && i < e->n; i++)
		if (e->v[i].folder_id == folder_id)
			return &e->v[i];
	return NULL;
}

/*
 * Folder f's entry in e, made when missing (*ef_r, with its folder and
 * UIDVALIDITY set), or removed (*ef_r NULL) when is_gone.
 */
static int
mirror_early_set(struct mirror_early *e, const struct store_folder *f,
		 bool is_gone, struct mirror_early_folder **ef_r,
		 struct ms_err *err_r)
{
	struct mirror_early_folder *ef = mirror_early_find(e, f->id);
	int rc;

	*ef_r = NULL;
	if (is_gone) {
		if (ef != NULL)
			*ef = e->v[--e->n];
		return MS_OK;
	}
	if (ef == NULL) {
		rc = mirror__grow((void **)&e->v, &e->cap, e->n, sizeof(*e->v),
				  err_r);
		if (rc != MS_OK)
			return rc;
		ef = &e->v[e->n++];
	}
	ef->folder_id = f->id;
	ef->uidvalidity = f->state.uidvalidity;
	*ef_r = ef;
	return MS_OK;
}

/* Did an earlier early export leave folder f?  Then from where on. */
static bool
mirror_early_from(const struct mirror_export_job *j,
		  const struct store_folder *f, uint32_t *uid_r)
{
	const struct mirror_early_folder *ef;

	*uid_r = 0;
	if (!j->c.p->is_early ||
	    (ef = mirror_early_find(j->c.p->early, f->id)) == NULL ||
	    ef->uidvalidity != f->state.uidvalidity)
		return false;
	*uid_r = ef->uid_from;
	return true;
}

/*
 * An early export is done with the folder.  When it had nothing to do but
 * write new records' files, the next one reads the records from the
 * folder's watermark as this one found it (every UID below it was in the
 * store, and has its file now; the newest messages, fetched first, and
 * ranges answered out of order are above it) and does not list the
 * folder; otherwise it lists the folder again.
 */
static int
mirror_early_note(struct mirror_export_job *j, struct ms_err *err_r)
{
	const struct mirror_export *x = &j->x;
	struct mirror_early_folder *ef;
	int rc;

	if (!j->c.p->is_early || j->c.p->early == NULL)
		return MS_OK;
	rc = mirror_early_set(j->c.p->early, x->f, !x->is_complete ||
			      x->is_unclean || x->left.n != 0, &ef, err_r);
	if (rc == MS_OK && ef != NULL)
		ef->uid_from = x->f->state.uidnext > j->from_uid ?
			       x->f->state.uidnext : j->from_uid;
	return rc;
}

/* Does the store's stamp differ only by records added or changed
 * (next_local_seq): no pending change or leftover added or removed? */
static bool
mirror_push_stamp_eq(const struct store_mirror_stamp *a,
		     const struct store_mirror_stamp *b)
{
	return a->next_change_seq == b->next_change_seq &&
	       a->changes == b->changes && a->leftovers == b->leftovers;
}

/*
 * May a push export leave folder f unlisted (mirror_params.pushed)?  When
 * the last push export left it complete, the pass only added messages
 * to it, and the store shows nothing else since: the same UIDVALIDITY,
 * no pending change (a reader's or mailsyncctl's) or leftover added or
 * removed anywhere.  A record removed (an expunge the pass did not
 * report) shows in the count, checked once the records are read
 * (mirror_push_is_counted()).
 */
static bool
mirror_push_from(const struct mirror_export_job *j,
		 const struct store_folder *f, uint32_t *uid_r,
		 uint32_t *count_r)
{
	const struct mirror_params *p = j->c.p;
	const struct mirror_early_folder *ef;

	*uid_r = 0;
	*count_r = 0;
	if (p->is_early || p->only_folder == NULL || !p->is_append_only ||
	    (ef = mirror_early_find(p->pushed, f->id)) == NULL ||
	    f->state.uidvalidity == 0 ||
	    ef->uidvalidity != f->state.uidvalidity ||
	    (f->attrs & (STORE_FOLDER_GONE | STORE_FOLDER_CREATE |
			 STORE_FOLDER_NOSELECT)) != 0 ||
	    !mirror_push_stamp_eq(&ef->stamp, &j->c.stamp) ||
	    f->local_count < ef->local_count)
		return false;
	*uid_r = ef->uid_from;
	*count_r = ef->local_count;
	return true;
}

/* Unlisted push export: the records it read from from_uid on are all the
 * folder has beyond those it had (none removed below from_uid). */
static bool
mirror_push_is_counted(const struct mirror_export_job *j)
{
	return (uint64_t)j->push_count + j->nread == j->x.f->local_count;
}

/*
 * A push export is done with the folder: where the next one may start
 * (mirror_push_from()), when this one left every record with its file
 * and no file that is not a record's (a listed one), or read every
 * record the folder added (an unlisted one); otherwise the next lists.
 */
static int
mirror_push_note(struct mirror_export_job *j, struct ms_err *err_r)
{
	const struct mirror_params *p = j->c.p;
	const struct mirror_export *x = &j->x;
	struct mirror_early_folder *ef;
	uint32_t from = x->f->state.uidnext;
	int rc;

	if (p->is_early || p->only_folder == NULL || p->pushed == NULL)
		return MS_OK;
	rc = mirror_early_set(p->pushed, x->f, !x->is_complete ||
			      x->is_unclean || x->left.n != 0 ||
			      x->nmiss_written != x->nmiss ||
			      x->f->state.uidvalidity == 0 ||
			      (!j->is_unlisted &&
			       j->nread != x->f->local_count), &ef, err_r);
	if (rc != MS_OK || ef == NULL)
		return rc;
	if (from < j->from_uid)
		from = j->from_uid;
	if (j->nread > 0 && j->max_uid != UINT32_MAX && from <= j->max_uid)
		from = j->max_uid + 1;
	ef->uid_from = from;
	ef->local_count = x->f->local_count;
	ef->stamp = j->c.stamp;
	return MS_OK;
}

/* Record m finds its file (claimed) or joins the missing. */
static int
mirror_export_rec(struct mirror_export_job *j, const struct store_msg *m,
		  struct ms_err *err_r)
{
	struct mirror_export *x = &j->x;
	char idbuf[MIRROR_ID_MAX];
	size_t klen, i;
	const char *key = mirror__key(x->f->state.uidvalidity, m, idbuf, &klen);

	if (m->local_seq > j->max_seq && m->local_seq <= j->seq_cap)
		j->max_seq = m->local_seq;
	if (m->local_seq > j->max_seq_all)
		j->max_seq_all = m->local_seq;
	j->nread++;
	if (m->uid > j->max_uid)
		j->max_uid = m->uid;
	/* Unlisted: a record the mirror named has its file (an earlier
	 * early export of this pass listed the folder or wrote it). */
	if (j->is_unlisted && m->mirror_name[0] != '\0')
		return MS_OK;
	i = mirror__dir_find_unclaimed(&x->md, key, klen);
	if (i != SIZE_MAX)
		x->md.claimed[i] = true;
	if (mirror__is_pending_src(x->c, x->f->id, m->uid))
		return MS_OK;	/* deleted or moved away by a reader */
	return i != SIZE_MAX ? mirror_export_found(x, i, m, err_r) :
	       mirror_export_miss(x, m, err_r);
}

static uint64_t
mirror_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
mirror_export_begin(struct store *s, const struct mirror_params *p,
		    struct mirror_export_job **job_r, struct ms_err *err_r)
{
	struct mirror_export_job *j = calloc(1, sizeof(*j));
	int rc;

	*job_r = NULL;
	/* A chunk read from the store, and its LF form (one more byte). */
	if (j == NULL || (j->buf = malloc(2 * MIRROR_COPY_CHUNK + 1)) == NULL) {
		free(j);
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	}
	j->is_complete = true;
	j->phase = MIRROR_PH_FOLDER;
	rc = mirror__ctx_init(&j->c, s, p, err_r);
	j->has_ctx = true;
	/* Before anything is made in another tool's tree (or the marker
	 * that makes it ours). */
	if (rc == MS_OK && j->c.is_fresh)
		rc = mirror__inbox_place(p, err_r);
	if (rc == MS_OK && (rc = store_batch_new(s, &j->b)) != MS_OK)
		ms_err_set(err_r, rc, "out of memory");
	if (rc != MS_OK) {
		mirror_export_end(&j, NULL);
		return rc;
	}
	*job_r = j;
	return MS_OK;
}

/*
 * Did the folder's export make its Maildir or write or rename files (or
 * find it changed just now, by an early export), and nothing else that
 * leaves it unlike what a scan would leave alone: then its listing after
 * the writes may record it (mirror_export_verify()).  Only an export of
 * every folder (a whole pass, --once, the start) pays for that: the
 * export after a one-folder pass (a pushed message, one at a time) would
 * wait for the clock and list the folder again for every message, for a
 * record the next message changes anyway.  Its folder is not recorded,
 * and the next whole pass lists it once and records it then.
 */
static bool
mirror_export_wants_verify(const struct mirror_export_job *j)
{
	const struct mirror_export *x = &j->x;

	return !j->c.p->is_early && j->c.p->only_folder == NULL &&
	       (x->is_dirty || !x->existed || x->md.is_recent) &&
	       x->is_complete && !x->is_unclean &&
	       x->left.n == 0 && x->nmiss_written == x->nmiss;
}

/* Starts folder j->fi: its path, or MS_OK with no path to move past it.
 * is_listed: list it, even where an earlier export left it. */
static int
mirror_export_folder_begin(struct mirror_export_job *j, bool is_listed,
			   struct ms_err *err_r)
{
	const struct store_folder *f = &j->c.folders[j->fi];
	struct mirror_export *x = &j->x;

	free(j->path);
	j->path = NULL;
	memset(x, 0, sizeof(*x));
	x->c = &j->c;
	x->f = f;
	x->b = j->b;
	x->st = &j->st;
	x->buf = j->buf;
	x->is_complete = true;
	j->max_seq = f->state.mirror_durable;
	j->max_seq_all = 0;
	j->nread = 0;
	j->max_uid = 0;
	j->is_unlisted = !is_listed && mirror_early_from(j, f, &j->from_uid);
	j->is_push = !is_listed && !j->is_unlisted &&
		     mirror_push_from(j, f, &j->from_uid, &j->push_count);
	if (j->is_push)
		j->is_unlisted = true;
	else if (!j->is_unlisted)
		j->from_uid = 0;
	return mirror__folder_path(&j->c, f, &j->path, err_r);
}

/*
 * Opens and lists the folder's Maildir, making it when it is gone (a
 * rebuild) unless the folder is gone from the server too.  Blocking work:
 * no store access, no report (the scan reports what is not a message).
 */
static void
mirror_export_list(struct mirror_export_job *j)
{
	struct mirror_export *x = &j->x;
	bool exists;
	int rc;

	if (j->is_unlisted) {
		rc = mirror__dir_open_unlisted(&x->md, j->c.p->root, j->path,
					       &exists, &j->work_err);
		x->existed = exists;
		j->has_folder = rc == MS_OK && exists;
		if (j->has_folder)
			x->md.d.expect = j->c.p->expect;
		else if (rc == MS_OK)
			j->is_complete = false;	/* as below */
		j->work_rc = rc;
		return;
	}
	rc = mirror__dir_open_sized(&x->md, j->c.p->root, j->path, false,
				    NULL, x->f->local_count, &exists,
				    &j->work_err);
	x->existed = exists;
	j->st.listed += x->md.nlisted;
	if (rc == MS_OK && !exists && (x->f->attrs & STORE_FOLDER_GONE)) {
		/* Deleted on the server, and its Maildir is gone too. */
		mirror__dir_close(&x->md);
		j->work_rc = MS_OK;
		return;
	}
	if (rc == MS_OK && !exists) {
		mirror__dir_close(&x->md);
		rc = mirror__dir_open(&x->md, j->c.p->root, j->path, true,
				      NULL, &exists, &j->work_err);
	}
	if (rc == MS_OK && !exists) {
		/* A link or a file in its path, never followed (the scan
		 * reports it): the folder waits, and the mirror is not
		 * complete. */
		mirror__dir_close(&x->md);
		j->is_complete = false;
		j->work_rc = MS_OK;
		return;
	}
	j->has_folder = true;
	/* What the export does in new/ and cur/ is announced to the watch. */
	x->md.d.expect = j->c.p->expect;
	/* A crashed writer's tmp/ files are a day and a half old before
	 * they go: the export of every folder (the start, each whole pass)
	 * looks for them, not the one after each pushed message. */
	if (rc == MS_OK && j->c.p->only_folder == NULL)
		rc = maildir_dir_clean_tmp(&x->md.d, time(NULL) - MIRROR_TMP_MAX_AGE,
					   NULL, &j->work_err);
	j->work_rc = rc;
}

void
mirror_export_work(struct mirror_export_job *j)
{
	switch (j->phase) {
	case MIRROR_PH_LIST:
		mirror_export_list(j);
		j->phase = MIRROR_PH_LISTED;
		break;
	case MIRROR_PH_SYNCFS:
		j->work_rc = maildir_syncfs(j->x.md.d.fd, &j->work_err);
		if (j->work_rc == MS_OK && mirror_export_wants_verify(j))
			mirror_export_verify(&j->x);
		j->phase = MIRROR_PH_FOLDER_END;
		break;
	case MIRROR_PH_VERIFY:
		mirror_export_verify(&j->x);
		j->phase = MIRROR_PH_FOLDER_END;
		break;
	default:
		break;
	}
}

/* The blocking work's result (it was done, or is done now). */
static int
mirror_export_worked(struct mirror_export_job *j, struct ms_err *err_r)
{
	if (j->phase == MIRROR_PH_LIST || j->phase == MIRROR_PH_SYNCFS ||
	    j->phase == MIRROR_PH_VERIFY)
		mirror_export_work(j);
	if (j->work_rc != MS_OK && err_r != NULL)
		*err_r = j->work_err;
	return j->work_rc;
}

static void
mirror_export_folder_close(struct mirror_export_job *j)
{
	store_msg_iter_free(&j->it);
	if (!j->has_folder)
		return;
	free(j->x.miss);
	mirror__left_free(&j->x.left);
	mirror__dir_close(&j->x.md);
	memset(&j->x, 0, sizeof(j->x));
	j->has_folder = false;
}

/* The folder's files are on disk: its watermark moves, the batch commits. */
static int
mirror_export_folder_end(struct mirror_export_job *j, struct ms_err *err_r)
{
	const struct store_folder *f = j->x.f;
	const struct mirror_export *x = &j->x;
	int rc = MS_OK;

	/* Nothing written, renamed, removed or recorded, and nothing
	 * missing or unknown: a later pass may leave the folder alone. */
	if (!j->c.p->is_early) {
		bool is_clean = x->is_complete && !x->is_unclean &&
				x->left.n == 0 &&
				((x->existed && !x->is_dirty && x->nmiss == 0) ||
				 x->is_verified);

		rc = mirror__seen_add(&j->c, f, &x->md, is_clean,
				      j->max_seq_all, err_r);
		if (rc != MS_OK)
			return rc;
	}
	if (j->x.is_complete && j->max_seq > f->state.mirror_durable &&
	    j->c.p->marks != NULL) {
		/* Files found here may be an earlier export's that are not
		 * on disk yet either: the mark waits for the next syncfs
		 * all the same. */
		if (mirror_marks_add(j->c.p->marks, f->id, j->max_seq,
				     j->st.bytes - j->bytes_marked) != MS_OK)
			rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
		j->bytes_marked = j->st.bytes;
	} else if (j->x.is_complete && j->max_seq > f->state.mirror_durable) {
		struct store_folder_state fs = f->state;

		fs.mirror_durable = j->max_seq;
		rc = store_batch_folder_state(j->b, f->id, &fs,
					      STORE_FS_MIRROR_DURABLE);
		if (rc != MS_OK)
			ms_err_set(err_r, rc, "out of memory");
	}
	if (rc == MS_OK)
		rc = mirror__batch_flush(j->b, true,
					 mirror_export_is_lazy(&j->c), err_r);
	if (rc == MS_OK)
		rc = mirror_early_note(j, err_r);
	if (rc == MS_OK)
		rc = mirror_push_note(j, err_r);
	if (!j->x.is_complete)
		j->is_complete = false;
	j->st.folders++;
	mirror_export_folder_close(j);
	if (rc == MS_OK && (f->attrs & STORE_FOLDER_GONE))
		mirror_export_gone(&j->c, f, j->path);
	return rc;
}

/*
 * Clears the leftovers of folder id not dealt with (all of them without
 * l): their files are gone, or the folder has no Maildir to hold them.
 */
static int
mirror_export_left_clear(struct mirror_export_job *j, uint32_t id,
			 const struct mirror_left *l, struct ms_err *err_r)
{
	struct mirror_left all;
	int rc = MS_OK;

	if (l == NULL) {
		if ((rc = mirror__left_load(&j->c, id, &all, err_r)) != MS_OK) {
			mirror__left_free(&all);
			return rc;
		}
		l = &all;
	}
	for (size_t i = 0; rc == MS_OK && i < l->n; i++)
		if (!l->is_done[i] &&
		    (rc = store_batch_leftover_clear(j->b, id, l->v[i].part))
		    != MS_OK)
			rc = ms_err_set(err_r, rc, "out of memory");
	if (l == &all)
		mirror__left_free(&all);
	return rc == MS_OK ? mirror__batch_flush(j->b, false,
						 mirror_export_is_lazy(&j->c),
						 err_r) : rc;
}

/*
 * An unlisted push export found a record gone that the pass did not
 * report: the folder starts again, listed, as before push exports.
 * Nothing was written yet (the records phase only looks).
 */
static int
mirror_export_relist(struct mirror_export_job *j, struct ms_err *err_r)
{
	int rc;

	log_debug("acct=%s mirror folder=%s: records gone since the last "
		  "push export, listing it", j->c.p->account, j->x.f->name);
	mirror_export_folder_close(j);
	if ((rc = mirror_export_folder_begin(j, true, err_r)) != MS_OK)
		return rc;
	if (j->path == NULL)
		return ms_err_set(err_r, MS_EINTERNAL, "mirror export: "
				  "folder without a path");
	j->work_rc = MS_OK;
	j->phase = MIRROR_PH_LIST;
	return MIRROR_EXPORT_WORK;
}

/* One unit of work; MS_AGAIN when there is more. */
static int
mirror_export_one(struct mirror_export_job *j, struct ms_err *err_r)
{
	struct mirror_export *x = &j->x;
	struct store_msg m;
	int rc;

	switch (j->phase) {
	case MIRROR_PH_FOLDER:
		if (j->fi >= j->c.nfolders) {
			j->phase = MIRROR_PH_MARKER;
			return MS_AGAIN;
		}
		if ((j->c.p->only_folder != NULL &&
		     strcmp(j->c.folders[j->fi].name,
			    j->c.p->only_folder) != 0) ||
		    (j->c.p->is_early && j->c.folders[j->fi].local_count == 0)) {
			j->fi++;
			return MS_AGAIN;
		}
		rc = mirror_export_folder_begin(j, false, err_r);
		if (rc != MS_OK)
			return rc;
		if (j->path == NULL) {
			rc = mirror_export_left_clear(j, j->c.folders[j->fi].id,
						      NULL, err_r);
			if (rc != MS_OK)
				return rc;
			j->fi++;
			return MS_AGAIN;
		}
		/* Not beside a pass (an early export): it adds records. */
		if (!j->c.p->is_early &&
		    mirror__seen_is_unchanged(&j->c, &j->c.folders[j->fi],
					      j->path)) {
			j->st.folders++;
			j->st.unchanged++;
			j->fi++;
			return MS_AGAIN;
		}
		j->work_rc = MS_OK;
		j->phase = MIRROR_PH_LIST;
		return MIRROR_EXPORT_WORK;
	case MIRROR_PH_LIST:
	case MIRROR_PH_LISTED:
		if ((rc = mirror_export_worked(j, err_r)) != MS_OK)
			return rc;
		if (!j->has_folder) {
			rc = mirror_export_left_clear(j, j->x.f->id, NULL, err_r);
			if (rc != MS_OK)
				return rc;
			j->fi++;
			j->phase = MIRROR_PH_FOLDER;
			return MS_AGAIN;
		}
		/* Unlisted, no leftover's file is looked for (nor cleared
		 * as gone). */
		if (!j->is_unlisted &&
		    (rc = mirror__left_load(&j->c, j->x.f->id, &j->x.left,
					    err_r)) != MS_OK)
			return rc;
		if ((rc = store_local_seq_last(j->c.s, &j->seq_cap,
					       err_r)) != MS_OK)
			return rc;
		if ((rc = store_msg_iter_new(j->c.s, j->x.f->id, j->from_uid,
					     &j->it))
		    != MS_OK)
			return ms_err_set(err_r, rc, "out of memory");
		j->phase = MIRROR_PH_RECORDS;
		return MS_AGAIN;
	case MIRROR_PH_RECORDS:
		rc = store_msg_iter_next(j->it, &m, err_r);
		if (rc == MS_OK)
			return (rc = mirror_export_rec(j, &m, err_r)) < 0 ?
			       rc : MS_AGAIN;
		if (rc != STORE_NOTFOUND)
			return rc;
		store_msg_iter_free(&j->it);
		if (j->is_push && !mirror_push_is_counted(j))
			return mirror_export_relist(j, err_r);
		if (x->nmiss > 1)
			qsort(x->miss, x->nmiss, sizeof(*x->miss),
			      mirror__hash_cmp);
		j->i = 0;
		j->phase = MIRROR_PH_ORPHANS;
		return MS_AGAIN;
	case MIRROR_PH_ORPHANS:
		if (j->i < x->md.l.n) {
			size_t i = j->i++;

			if (x->md.claimed[i])
				return MS_AGAIN;
			x->is_unclean = true;
			return (rc = mirror_export_orphan(x, i, err_r)) < 0 ?
			       rc : MS_AGAIN;
		}
		rc = mirror_export_left_clear(j, x->f->id, &x->left, err_r);
		if (rc != MS_OK)
			return rc;
		j->i = 0;
		j->phase = MIRROR_PH_MISSING;
		return MS_AGAIN;
	case MIRROR_PH_MISSING:
		if (j->i < x->nmiss)
			return (rc = mirror_export_missing(x, j->i++, err_r)) < 0 ?
			       rc : MS_AGAIN;
		j->work_rc = MS_OK;
		/* With marks, one syncfs comes later for many exports. */
		if (x->is_dirty && j->c.p->marks == NULL) {
			j->phase = MIRROR_PH_SYNCFS;
			return MIRROR_EXPORT_WORK;
		}
		if (mirror_export_wants_verify(j)) {
			j->phase = MIRROR_PH_VERIFY;
			return MIRROR_EXPORT_WORK;
		}
		j->phase = MIRROR_PH_FOLDER_END;
		return MS_AGAIN;
	case MIRROR_PH_SYNCFS:
	case MIRROR_PH_VERIFY:
	case MIRROR_PH_FOLDER_END:
		if ((rc = mirror_export_worked(j, err_r)) != MS_OK)
			return rc;
		rc = mirror_export_folder_end(j, err_r);
		if (rc != MS_OK)
			return rc;
		j->fi++;
		j->phase = MIRROR_PH_FOLDER;
		return MS_AGAIN;
	case MIRROR_PH_MARKER:
		/* The folders' files are on disk (syncfs) before the marker
		 * says that a missing file means a reader removed it.  Not
		 * from an early export: it skips folders, and in another
		 * tool's tree the marker would turn that tool's files not
		 * yet matched into a reader's new messages, to upload. */
		j->phase = MIRROR_PH_DONE;
		if ((rc = mirror__seen_commit(&j->c, err_r)) != MS_OK)
			return rc;
		if (j->c.is_fresh && j->is_complete && j->c.nfolders > 0 &&
		    j->c.p->only_folder == NULL && !j->c.p->is_early &&
		    (rc = mirror_export_marker(&j->c, err_r)) != MS_OK)
			return rc;
		return MS_OK;
	case MIRROR_PH_DONE:
		return MS_OK;
	}
	return ms_err_set(err_r, MS_EINTERNAL, "mirror export: bad phase");
}

int
mirror_export_step(struct mirror_export_job *j, uint64_t budget_ns,
		   struct ms_err *err_r)
{
	uint64_t until = mirror_now_ns() + budget_ns;
	int rc;

	if (until < budget_ns)
		until = UINT64_MAX;	/* no budget */
	do
		rc = mirror_export_one(j, err_r);
	while (rc == MS_AGAIN && mirror_now_ns() < until);
	return rc;
}

void
mirror_export_end(struct mirror_export_job **jp, struct mirror_stats *st_r)
{
	struct mirror_export_job *j = *jp;

	if (j == NULL)
		return;
	*jp = NULL;
	if (st_r != NULL)
		mirror_stats_add(st_r, &j->st);
	/* What the batch holds is not committed: names not recorded are
	 * found again by their ids, files not yet durable are checked
	 * against their sizes by the next export. */
	mirror_export_folder_close(j);
	store_batch_free(&j->b);
	if (j->has_ctx)
		mirror__ctx_deinit(&j->c);
	free(j->path);
	free(j->buf);
	free(j);
}

int
mirror_export(struct store *s, const struct mirror_params *p,
	      struct mirror_stats *st_r, struct ms_err *err_r)
{
	struct mirror_export_job *j = NULL;
	int rc = mirror_export_begin(s, p, &j, err_r);

	/* Unbounded steps; the blocking work runs in the step after. */
	if (rc == MS_OK)
		do
			rc = mirror_export_step(j, UINT64_MAX, err_r);
		while (rc == MIRROR_EXPORT_WORK);
	mirror_export_end(&j, st_r);
	return rc;
}
