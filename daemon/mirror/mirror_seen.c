/*
 * mirror_seen.c - leaving alone the Maildirs nothing changed in, so that
 * a pass over an unchanged mirror costs per folder, not per message.
 *
 * A directory's mtime and ctime move whenever an entry is added, removed
 * or renamed in it: a reader's new file, deletion or flag change (a
 * rename) in new/ or cur/.  A pass that listed a folder and had nothing
 * to do there records new/'s and cur/'s device, inode, mtime and ctime
 * as they were just before the listing, with the store's stamp
 * (store_mirror_stamp_get()) and the folder's record.  A later pass skips
 * the folder while all of them are equal and every record's file is on
 * disk (mirror_durable reached the highest local_seq the listing saw: a
 * crash may have cut short a file written later, which the export checks).
 *
 * Times are only recorded when a change after the listing cannot have
 * the same time: the kernel stamps a change with its coarse clock, so the
 * recorded ctime must be older than that clock read before the fstat by
 * more than the file system's time granularity.  A time whose nanoseconds
 * are a whole number of milliseconds may come from a coarse file system
 * (FAT's two seconds, ext3's one): never recorded, the folder is listed.
 * Our own writes change the times too, and another's change in the same
 * clock tick would look like ours: a pass that wrote to a folder records
 * nothing, and the next pass lists it.  A file changed in place (no
 * rename) moves no directory time; the mirror never reads a file it
 * knows by name again, so skipping changes nothing there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mirror/mirror_int.h"

/* More than any fine-grained file system's timestamp granularity. */
#define MIRROR_SEEN_MARGIN_NS 10000000LL

static const char *const mirror_seen_subs[2] = { "new", "cur" };

static void
mirror_seen_from_stat(const struct stat *sb, struct store_mirror_sub *sub)
{
	sub->dev = (uint64_t)sb->st_dev;
	sub->ino = (uint64_t)sb->st_ino;
	sub->mtime_sec = (int64_t)sb->st_mtim.tv_sec;
	sub->mtime_nsec = (int64_t)sb->st_mtim.tv_nsec;
	sub->ctime_sec = (int64_t)sb->st_ctim.tv_sec;
	sub->ctime_nsec = (int64_t)sb->st_ctim.tv_nsec;
}

/* Is the time fine-grained (else *is_coarse_r) and older than now by
 * more than a tick? */
static bool
mirror_seen_is_old(int64_t sec, int64_t nsec, const struct timespec *now,
		   bool *is_coarse_r)
{
	int64_t t = sec * 1000000000LL + nsec;
	int64_t n = (int64_t)now->tv_sec * 1000000000LL + now->tv_nsec;

	if (nsec % 1000000 == 0)
		*is_coarse_r = true;
	return !*is_coarse_r && t + MIRROR_SEEN_MARGIN_NS < n;
}

void
mirror__seen_take(struct mirror_dir *md)
{
	struct timespec now;
	struct stat sb;
	bool is_coarse = false, is_old = true;

	memset(&md->seen, 0, sizeof(md->seen));
	md->is_seen = false;
	md->is_recent = false;
	/* The clock first: a change after it gets a time at or above it. */
	if (clock_gettime(CLOCK_REALTIME_COARSE, &now) != 0)
		return;
	for (size_t i = 0; i < 2; i++) {
		struct store_mirror_sub *sub = &md->seen.sub[i];

		if (fstat(md->d.sub_fd[i], &sb) != 0)
			return;
		mirror_seen_from_stat(&sb, sub);
		is_old &= mirror_seen_is_old(sub->mtime_sec, sub->mtime_nsec,
					     &now, &is_coarse);
		is_old &= mirror_seen_is_old(sub->ctime_sec, sub->ctime_nsec,
					     &now, &is_coarse);
	}
	md->is_seen = is_old && !is_coarse;
	md->is_recent = !is_old && !is_coarse;
}

static bool
mirror_seen_sub_eq(const struct store_mirror_sub *a,
		   const struct store_mirror_sub *b)
{
	return a->dev == b->dev && a->ino == b->ino &&
	       a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	       a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

static bool
mirror_seen_stamp_eq(const struct store_mirror_stamp *a,
		     const struct store_mirror_stamp *b)
{
	return a->next_local_seq == b->next_local_seq &&
	       a->next_change_seq == b->next_change_seq &&
	       a->changes == b->changes && a->leftovers == b->leftovers;
}

/* Folders whose Maildir the mirror treats specially are always listed.
 * (A mirror without its marker is too, but a folder may be recorded in
 * it: with nothing to do there, the marker the export writes next
 * changes nothing.) */
static bool
mirror_seen_is_plain(const struct store_folder *f)
{
	return f->state.uidvalidity != 0 &&
	       (f->attrs & (STORE_FOLDER_GONE | STORE_FOLDER_CREATE |
			    STORE_FOLDER_NOSELECT)) == 0;
}

bool
mirror__seen_is_unchanged(struct mirror_ctx *c, const struct store_folder *f,
			  const char *path)
{
	struct store_mirror_dir rec;
	struct stat sb;
	int fd;
	bool is_same = true;

	if (c->is_fresh || !mirror_seen_is_plain(f) ||
	    store_mirror_dir_get(c->s, f->id, &rec, NULL) != MS_OK ||
	    !mirror_seen_stamp_eq(&rec.stamp, &c->stamp) ||
	    rec.uidvalidity != f->state.uidvalidity || rec.attrs != f->attrs ||
	    rec.local_count != f->local_count ||
	    f->state.mirror_durable < rec.max_local_seq)
		return false;
	/* Reached as a listing would reach it: no link followed. */
	if (maildir_dir_walk(c->p->root, path, false, NULL, &fd, NULL,
			     NULL) != MS_OK)
		return false;
	for (size_t i = 0; is_same && i < 2; i++) {
		struct store_mirror_sub now;

		if (fstatat(fd, mirror_seen_subs[i], &sb,
			    AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(sb.st_mode)) {
			is_same = false;
			break;
		}
		mirror_seen_from_stat(&sb, &now);
		is_same = mirror_seen_sub_eq(&now, &rec.sub[i]);
	}
	close(fd);
	return is_same;
}

int
mirror__seen_add(struct mirror_ctx *c, const struct store_folder *f,
		 const struct mirror_dir *md, bool is_clean,
		 uint64_t max_local_seq, struct ms_err *err_r)
{
	struct mirror_seen_rec *r;
	int rc = mirror__grow((void **)&c->seen, &c->seen_cap, c->nseen,
			      sizeof(*c->seen), err_r);

	if (rc != MS_OK)
		return rc;
	r = &c->seen[c->nseen++];
	memset(r, 0, sizeof(*r));
	r->folder_id = f->id;
	r->is_clean = is_clean && md->is_seen && mirror_seen_is_plain(f);
	if (r->is_clean) {
		r->d = md->seen;
		r->d.uidvalidity = f->state.uidvalidity;
		r->d.attrs = f->attrs;
		r->d.local_count = f->local_count;
		r->d.max_local_seq = max_local_seq;
	}
	return MS_OK;
}

struct mirror_seen_put {
	uint32_t *ids;
	const struct store_mirror_dir **dirs;
	size_t n;
};

static int
mirror_seen_put_fn(struct store *s, void *arg, struct ms_err *err_r)
{
	struct mirror_seen_put *a = arg;

	return store_mirror_dir_put(s, a->ids, a->dirs, a->n, err_r);
}

int
mirror__seen_commit(struct mirror_ctx *c, struct ms_err *err_r)
{
	struct mirror_seen_put a = { 0 };
	size_t nclean = 0;
	int rc;

	if (c->nseen == 0)
		return MS_OK;
	a.ids = calloc(c->nseen, sizeof(*a.ids));
	a.dirs = calloc(c->nseen, sizeof(*a.dirs));
	if (a.ids == NULL || a.dirs == NULL) {
		free(a.ids);
		free(a.dirs);
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < c->nseen; i++) {
		struct mirror_seen_rec *r = &c->seen[i];

		/* The stamp from before the pass read anything: a change
		 * made since, by the pass or beside it, shows as another
		 * stamp, and the folder is listed again. */
		r->d.stamp = c->stamp;
		a.ids[a.n] = r->folder_id;
		a.dirs[a.n++] = r->is_clean ? &r->d : NULL;
		nclean += r->is_clean;
	}
	if (c->w == NULL)
		rc = mirror_seen_put_fn(c->s, &a, err_r);
	else
		rc = c->w->run(c->w->ctx, mirror_seen_put_fn, &a, err_r);
	log_debug("acct=%s mirror: %zu of %zu folders listed recorded "
		  "unchanged", c->p->account, nclean, c->nseen);
	free(a.ids);
	free(a.dirs);
	c->nseen = 0;
	return rc;
}
