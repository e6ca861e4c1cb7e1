/*
 * maildir_write.h - one Maildir folder on disk: open (creating cur/new/tmp
 * on demand), write messages through tmp/, change flags by rename, remove,
 * and the batched durability point (syncfs).
 *
 * No per-file fsync: the store holds the durable copy and records how far
 * the mirror is known durable; it advances that watermark after
 * maildir_syncfs() and re-writes anything beyond it at start-up.
 *
 * Every error is returned as a negative MS_E* value with the path and the
 * system's reason in err_r.  A failed write leaves nothing in new/ or cur/
 * and removes its tmp/ file.
 */
#ifndef MS_MAILDIR_WRITE_H
#define MS_MAILDIR_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/ms.h"
#include "maildir/maildir_name.h"

enum maildir_sub {
	MAILDIR_SUB_NEW = 0,
	MAILDIR_SUB_CUR = 1,
	MAILDIR_SUB_TMP = 2,
};

/* "new", "cur" or "tmp". */
const char *maildir_sub_name(enum maildir_sub sub);

struct maildir_expect;

/* An open folder: directory fds for the folder and its three subdirs. */
struct maildir_dir {
	char *path;		/* owned; as given to open, for messages */
	int fd;			/* the folder itself */
	int sub_fd[3];		/* indexed by enum maildir_sub */
	/* Not owned, NULL after open: when the caller sets it, every entry
	 * the calls below make, rename or remove in new/ or cur/ is
	 * announced there first (maildir_expect.h). */
	struct maildir_expect *expect;
};

struct maildir_report;

/*
 * Opens directory path, which is root or lies inside it, into *fd_r
 * (O_DIRECTORY; the caller closes it).  root is opened as given, following
 * symbolic links (it is the user's configured path); every directory
 * below it is opened with O_NOFOLLOW, so that the walk never leaves the
 * tree through a link someone put there.  With create, what is missing is
 * made (mode 0700; the root with mkdir -p).  Returns MS_OK; MS_EINVAL
 * when a directory below root is a symbolic link or not a directory (a
 * file, a FIFO): its path goes to rep (may be NULL) and err_r, and nothing
 * beyond it is opened or made; MS_EIO on other errors, with *is_missing_r
 * (may be NULL) set when a directory does not exist.
 */
int maildir_dir_walk(const char *root, const char *path, bool create,
		     struct maildir_report *rep, int *fd_r, bool *is_missing_r,
		     struct ms_err *err_r) MS_WUR;

/*
 * Opens the Maildir at path, inside root, through maildir_dir_walk() (see
 * there for links and what goes to rep); cur/, new/ and tmp/ are opened
 * with O_NOFOLLOW too.  With create, makes path and cur/new/tmp as needed,
 * mode 0700.  Returns MS_OK, MS_EINVAL (a link or non-directory in the
 * way, reported) or MS_EIO.
 */
int maildir_dir_open(struct maildir_dir *d, const char *root, const char *path,
		     bool create, struct maildir_report *rep,
		     struct ms_err *err_r) MS_WUR;

/*
 * Opens the file name in dirfd for reading into *fd_r, never following a
 * symbolic link and never blocking on a FIFO or a device (O_NOFOLLOW,
 * O_NONBLOCK, then fstat): only a regular file is opened.  Returns MS_OK,
 * MS_EINVAL for a link or anything but a regular file, or MS_EIO, with the
 * reason in err_r; *vanished_r (may be NULL) is set when the file is gone
 * (a reader renamed it).
 */
int maildir_file_open(int dirfd, const char *name, int *fd_r,
		      bool *vanished_r, struct ms_err *err_r) MS_WUR;
/* Closes the fds and frees path; safe on a zeroed or closed struct. */
void maildir_dir_close(struct maildir_dir *d);

/* A message being written into tmp/. */
struct maildir_wfile {
	struct maildir_dir *d;	/* not owned; must outlive the wfile */
	int fd;			/* -1 when not open */
	uint64_t size;		/* bytes written so far */
	char tmpname[MAILDIR_NAME_MAX + 1];
};

/* Opens a fresh file in tmp/ with O_EXCL under a generated unique name. */
int maildir_wfile_open(struct maildir_wfile *w, struct maildir_dir *d,
		       struct maildir_namegen *g, struct ms_err *err_r) MS_WUR;
/* Appends len bytes; on error the tmp/ file is removed (as by abort). */
int maildir_wfile_write(struct maildir_wfile *w, const void *p, size_t len,
			struct ms_err *err_r) MS_WUR;

enum {
	/* Replace an existing file of the final name (idempotent re-writes). */
	MAILDIR_WRITE_REPLACE = 1 << 0,
};

/*
 * Closes the file and renames it into place: new/ when p->has_info is
 * false, cur/ otherwise.  The name is built from p with S= set to the
 * bytes written (p->has_size and p->size are ignored); the unique part is
 * p->id, or the tmp/ name when p->id is NULL.  Without MAILDIR_WRITE_REPLACE
 * an existing file of that name is never overwritten (MS_EIO, EEXIST).  The
 * final name goes to name_r (name_sz bytes).  On error the tmp/ file is
 * removed.  The wfile is closed either way.
 */
int maildir_wfile_commit(struct maildir_wfile *w,
			 const struct maildir_name_params *p, unsigned flags,
			 char *name_r, size_t name_sz,
			 struct ms_err *err_r) MS_WUR;
/* Removes the tmp/ file and closes; a no-op on a closed wfile. */
void maildir_wfile_abort(struct maildir_wfile *w);

/* open + write + commit for a message held in memory. */
int maildir_msg_write(struct maildir_dir *d, struct maildir_namegen *g,
		      const struct maildir_name_params *p, unsigned flags,
		      const void *data, size_t len, char *name_r,
		      size_t name_sz, struct ms_err *err_r) MS_WUR;

/*
 * Gives the message sub/name the flags: renames it within cur/, or from
 * new/ into cur/ (new/ keeps files whose flags stay empty).  The resulting
 * name goes to name_r; when nothing needs to change it is name itself.
 * When the file is gone (a reader moved or deleted it) the result is
 * MS_EIO and *vanished_r (may be NULL) is set.
 */
int maildir_msg_set_flags(struct maildir_dir *d, enum maildir_sub sub,
			  const char *name, maildir_flags_t flags,
			  char *name_r, size_t name_sz, bool *vanished_r,
			  struct ms_err *err_r) MS_WUR;

/* Removes sub/name; a file already gone gives MS_EIO and *vanished_r. */
int maildir_msg_remove(struct maildir_dir *d, enum maildir_sub sub,
		       const char *name, bool *vanished_r,
		       struct ms_err *err_r) MS_WUR;

/*
 * Removes regular files in tmp/ last modified before older_than: what a
 * crashed writer (ours or a reader's) left behind.  The convention says 36
 * hours; the daemon may use less for its own names.  *removed_r (may be
 * NULL) counts them.  Files that vanish meanwhile are skipped.
 */
int maildir_dir_clean_tmp(struct maildir_dir *d, time_t older_than,
			  unsigned *removed_r, struct ms_err *err_r) MS_WUR;

/*
 * syncfs(2) on the file system holding dirfd: the batched durability point
 * after which the store may advance its mirror watermark.
 */
int maildir_syncfs(int dirfd, struct ms_err *err_r) MS_WUR;

#endif
