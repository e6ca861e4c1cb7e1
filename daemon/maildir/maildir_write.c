/*
 * maildir_write.c - writing, renaming and removing Maildir files (see
 * maildir_write.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir/maildir_report.h"
#include "maildir/maildir_expect.h"
#include "maildir/maildir_write.h"

static const char *const maildir_sub_names[] = { "new", "cur", "tmp" };

const char *
maildir_sub_name(enum maildir_sub sub)
{
	return maildir_sub_names[sub];
}

static int
maildir_write_fail(struct ms_err *err_r, int errnum, const char *what,
		   const struct maildir_dir *d, enum maildir_sub sub,
		   const char *name)
{
	return ms_err_set(err_r, MS_EIO, "%s %s/%s/%s: %s", what, d->path,
			  maildir_sub_name(sub), name, strerror(errnum));
}

/* mkdir -p path, mode 0700. */
static int
maildir_dir_mkdirs(const char *path, struct ms_err *err_r)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return ms_err_set(err_r, MS_EIO, "bad Maildir path \"%s\"", path);
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return ms_err_set(err_r, MS_EIO, "mkdir %s: %s", buf,
					  strerror(errno));
		buf[i] = i < len ? '/' : '\0';
	}
	return MS_OK;
}

/*
 * Opens directory name in dirfd, not following a link; with create, one
 * that is not there is made first.  Made only when missing: a mirror
 * that exists (every export but the first) costs no failing mkdir.  The
 * fd, or -1 with errno (a mkdirat failure's, other than EEXIST: another
 * made it in between).
 */
static int
maildir_dir_openat(int dirfd, const char *name, bool create)
{
	int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dirfd, name, flags);

	if (fd >= 0 || errno != ENOENT || !create)
		return fd;
	if (mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST)
		return -1;
	return openat(dirfd, name, flags);
}

/*
 * Entry name of dirfd, which openat() with O_NOFOLLOW | O_DIRECTORY
 * refused with ENOTDIR or ELOOP (a symbolic link, a file, a FIFO...):
 * reported as the tree walk reports such entries, and MS_EINVAL.  what
 * (len bytes) is its path for messages.
 */
static int
maildir_dir_refused(int dirfd, const char *name, struct maildir_report *rep,
		    const char *what, int len, struct ms_err *err_r)
{
	struct stat st;
	const char *why = "not a directory";
	char *at = NULL;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		why = "symbolic link, not followed";
	if (rep != NULL && asprintf(&at, "%.*s", len, what) >= 0)
		maildir_report_note(rep, at, why);
	free(at);
	return ms_err_set(err_r, MS_EINVAL, "%.*s: %s", len, what, why);
}

int
maildir_dir_walk(const char *root, const char *path, bool create,
		 struct maildir_report *rep, int *fd_r, bool *is_missing_r,
		 struct ms_err *err_r)
{
	size_t rlen = strlen(root);
	const char *p;
	int fd, rc;

	*fd_r = -1;
	if (is_missing_r != NULL)
		*is_missing_r = false;
	while (rlen > 1 && root[rlen - 1] == '/')
		rlen--;
	if (strncmp(path, root, rlen) != 0 ||
	    (path[rlen] != '\0' && path[rlen] != '/' && rlen > 1))
		return ms_err_set(err_r, MS_EINTERNAL, "%s is not inside %s",
				  path, root);
	/* The root is the user's choice, a symbolic link to it too; made
	 * when it is not there. */
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if ((rc = maildir_dir_mkdirs(root, err_r)) != MS_OK)
			return rc;
		fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		if (is_missing_r != NULL)
			*is_missing_r = errno == ENOENT;
		return ms_err_set(err_r, MS_EIO, "open %s: %s", root,
				  strerror(errno));
	}
	for (p = path + rlen; *p != '\0';) {
		char comp[NAME_MAX + 1];
		size_t n;
		int next;

		p += strspn(p, "/");
		if ((n = strcspn(p, "/")) == 0)
			break;
		if (n > NAME_MAX) {
			close(fd);
			return ms_err_set(err_r, MS_EIO, "open %.*s: %s",
					  (int)(p + n - path), path,
					  strerror(ENAMETOOLONG));
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		/* Below the root nothing is followed: a reader's link would
		 * take the mirror into someone else's tree. */
		next = maildir_dir_openat(fd, comp, create);
		if (next < 0 && (errno == ELOOP || errno == ENOTDIR))
			rc = maildir_dir_refused(fd, comp, rep, path,
						 (int)(p - path), err_r);
		else if (next < 0) {
			if (is_missing_r != NULL)
				*is_missing_r = errno == ENOENT;
			rc = ms_err_set(err_r, MS_EIO, "open %.*s: %s",
					(int)(p - path), path, strerror(errno));
		}
		close(fd);
		if (next < 0)
			return rc;
		fd = next;
	}
	*fd_r = fd;
	return MS_OK;
}

int
maildir_dir_open(struct maildir_dir *d, const char *root, const char *path,
		 bool create, struct maildir_report *rep, struct ms_err *err_r)
{
	int rc;

	d->fd = -1;
	for (int i = 0; i < 3; i++)
		d->sub_fd[i] = -1;
	d->expect = NULL;
	d->path = strdup(path);
	if (d->path == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	rc = maildir_dir_walk(root, path, create, rep, &d->fd, NULL, err_r);
	if (rc != MS_OK)
		goto fail;
	for (int i = 0; i < 3; i++) {
		const char *sub = maildir_sub_names[i];

		d->sub_fd[i] = maildir_dir_openat(d->fd, sub, create);
		if (d->sub_fd[i] < 0 && (errno == ELOOP || errno == ENOTDIR)) {
			char what[PATH_MAX];
			int len = snprintf(what, sizeof(what), "%s/%s", path,
					   sub);

			rc = maildir_dir_refused(d->fd, sub, rep, what, len,
						 err_r);
			goto fail;
		}
		if (d->sub_fd[i] < 0) {
			rc = ms_err_set(err_r, MS_EIO, "open %s/%s: %s", path,
					sub, strerror(errno));
			goto fail;
		}
	}
	return MS_OK;
fail:
	maildir_dir_close(d);
	return rc;
}

int
maildir_file_open(int dirfd, const char *name, int *fd_r, bool *vanished_r,
		  struct ms_err *err_r)
{
	struct stat st;
	int fd;

	*fd_r = -1;
	if (vanished_r != NULL)
		*vanished_r = false;
	/* O_NONBLOCK: opening a FIFO put here after readdir would wait for a
	 * writer for ever.  O_NOFOLLOW: a link is not a message. */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT && vanished_r != NULL)
			*vanished_r = true;
		if (errno == ELOOP)
			return ms_err_set(err_r, MS_EINVAL, "open %s: symbolic "
					  "link, not followed", name);
		return ms_err_set(err_r, MS_EIO, "open %s: %s", name,
				  strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int rc = ms_err_set(err_r, MS_EINVAL, "open %s: not a regular "
				    "file", name);

		close(fd);
		return rc;
	}
	*fd_r = fd;
	return MS_OK;
}

void
maildir_dir_close(struct maildir_dir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	for (int i = 0; i < 3; i++) {
		if (d->sub_fd[i] >= 0)
			close(d->sub_fd[i]);
		d->sub_fd[i] = -1;
	}
	free(d->path);
	d->path = NULL;
}

int
maildir_wfile_open(struct maildir_wfile *w, struct maildir_dir *d,
		   struct maildir_namegen *g, struct ms_err *err_r)
{
	struct maildir_name_params p = { 0 };

	w->d = d;
	w->fd = -1;
	w->size = 0;
	/* A clash means another writer reused our name: try a few more. */
	for (int attempt = 0; attempt < 8; attempt++) {
		if (maildir_name_new(g, &p, w->tmpname, sizeof(w->tmpname)) < 0)
			return ms_err_set(err_r, MS_EINTERNAL, "cannot build a name");
		w->fd = openat(d->sub_fd[MAILDIR_SUB_TMP], w->tmpname,
			       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			       0600);
		if (w->fd >= 0)
			return MS_OK;
		if (errno != EEXIST)
			break;
	}
	return maildir_write_fail(err_r, errno, "create", d, MAILDIR_SUB_TMP,
				  w->tmpname);
}

void
maildir_wfile_abort(struct maildir_wfile *w)
{
	if (w->fd < 0)
		return;
	close(w->fd);
	w->fd = -1;
	(void)unlinkat(w->d->sub_fd[MAILDIR_SUB_TMP], w->tmpname, 0);
}

int
maildir_wfile_write(struct maildir_wfile *w, const void *p, size_t len,
		    struct ms_err *err_r)
{
	const uint8_t *q = p;

	if (w->fd < 0)
		return ms_err_set(err_r, MS_EINVAL, "write to a closed Maildir file");
	while (len > 0) {
		ssize_t n = write(w->fd, q, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = maildir_write_fail(err_r, n < 0 ? errno : EIO,
						    "write", w->d, MAILDIR_SUB_TMP,
						    w->tmpname);

			maildir_wfile_abort(w);
			return rc;
		}
		q += n;
		len -= (size_t)n;
		w->size += (uint64_t)n;
	}
	return MS_OK;
}

/*
 * Renames without replacing an existing file unless asked to.  File
 * systems without RENAME_NOREPLACE get link() + unlink(), the Maildir way.
 */
static int
maildir_write_rename(int from_fd, const char *from, int to_fd, const char *to,
		     bool may_replace)
{
	if (may_replace)
		return renameat(from_fd, from, to_fd, to);
	if (renameat2(from_fd, from, to_fd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (linkat(from_fd, from, to_fd, to, 0) != 0)
		return -1;
	(void)unlinkat(from_fd, from, 0);
	return 0;
}

int
maildir_wfile_commit(struct maildir_wfile *w, const struct maildir_name_params *p,
		     unsigned flags, char *name_r, size_t name_sz,
		     struct ms_err *err_r)
{
	struct maildir_name_params np = *p;
	enum maildir_sub sub = p->has_info ? MAILDIR_SUB_CUR : MAILDIR_SUB_NEW;
	int fd = w->fd;
	int rc;

	if (fd < 0)
		return ms_err_set(err_r, MS_EINVAL, "commit of a closed Maildir file");
	np.has_size = true;
	np.size = w->size;
	if (p->id != NULL)
		rc = maildir_name_new(NULL, &np, name_r, name_sz);
	else
		rc = maildir_name__build(w->tmpname, &np, name_r, name_sz);
	if (rc < 0) {
		maildir_wfile_abort(w);
		return ms_err_set(err_r, rc, "cannot name the message in %s: %s",
				  w->d->path, ms_strerror(rc));
	}
	w->fd = -1;
	/* close() is where some file systems report a failed write. */
	if (close(fd) != 0) {
		rc = maildir_write_fail(err_r, errno, "close", w->d,
					MAILDIR_SUB_TMP, w->tmpname);
		goto fail;
	}
	maildir_expect_add(w->d->expect, w->d->path, sub,
			   MAILDIR_EXPECT_COMES, name_r);
	if (maildir_write_rename(w->d->sub_fd[MAILDIR_SUB_TMP], w->tmpname,
				 w->d->sub_fd[sub], name_r,
				 (flags & MAILDIR_WRITE_REPLACE) != 0) != 0) {
		int errnum = errno;

		maildir_expect_cancel(w->d->expect, w->d->path, sub,
				      MAILDIR_EXPECT_COMES, name_r);
		rc = maildir_write_fail(err_r, errnum, "rename into", w->d, sub,
					name_r);
		goto fail;
	}
	return MS_OK;
fail:
	(void)unlinkat(w->d->sub_fd[MAILDIR_SUB_TMP], w->tmpname, 0);
	return rc;
}

int
maildir_msg_write(struct maildir_dir *d, struct maildir_namegen *g,
		  const struct maildir_name_params *p, unsigned flags,
		  const void *data, size_t len, char *name_r, size_t name_sz,
		  struct ms_err *err_r)
{
	struct maildir_wfile w;
	int rc;

	if ((rc = maildir_wfile_open(&w, d, g, err_r)) != MS_OK)
		return rc;
	if ((rc = maildir_wfile_write(&w, data, len, err_r)) != MS_OK)
		return rc;
	return maildir_wfile_commit(&w, p, flags, name_r, name_sz, err_r);
}

int
maildir_msg_set_flags(struct maildir_dir *d, enum maildir_sub sub,
		      const char *name, maildir_flags_t flags, char *name_r,
		      size_t name_sz, bool *vanished_r, struct ms_err *err_r)
{
	struct maildir_name_info info;
	size_t len = strlen(name);
	int rc;

	if (vanished_r != NULL)
		*vanished_r = false;
	if (sub == MAILDIR_SUB_TMP || maildir_name_parse(name, len, &info) != MS_OK)
		return ms_err_set(err_r, MS_EINVAL, "not a message: %s/%s/%s",
				  d->path, maildir_sub_name(sub), name);
	if ((sub == MAILDIR_SUB_CUR && info.sep != 0 && info.flags == flags) ||
	    (sub == MAILDIR_SUB_NEW && flags == 0)) {
		if (len + 1 > name_sz)
			return ms_err_set(err_r, MS_ETOOBIG, "name buffer too small");
		memcpy(name_r, name, len + 1);
		return MS_OK;
	}
	rc = maildir_name_with_flags(info.base, info.sep, flags, name_r, name_sz);
	if (rc < 0)
		return ms_err_set(err_r, rc, "name too long: %s/%s/%s", d->path,
				  maildir_sub_name(sub), name);
	/* A rename is two events: the old name goes, the new one comes. */
	maildir_expect_add(d->expect, d->path, sub, MAILDIR_EXPECT_GOES, name);
	maildir_expect_add(d->expect, d->path, MAILDIR_SUB_CUR,
			   MAILDIR_EXPECT_COMES, name_r);
	if (maildir_write_rename(d->sub_fd[sub], name, d->sub_fd[MAILDIR_SUB_CUR],
				 name_r, false) != 0) {
		int errnum = errno;

		maildir_expect_cancel(d->expect, d->path, sub,
				      MAILDIR_EXPECT_GOES, name);
		maildir_expect_cancel(d->expect, d->path, MAILDIR_SUB_CUR,
				      MAILDIR_EXPECT_COMES, name_r);
		if (errnum == ENOENT && vanished_r != NULL)
			*vanished_r = true;
		return maildir_write_fail(err_r, errnum, "rename", d, sub, name);
	}
	return MS_OK;
}

int
maildir_msg_remove(struct maildir_dir *d, enum maildir_sub sub, const char *name,
		   bool *vanished_r, struct ms_err *err_r)
{
	if (vanished_r != NULL)
		*vanished_r = false;
	maildir_expect_add(d->expect, d->path, sub, MAILDIR_EXPECT_GOES, name);
	if (unlinkat(d->sub_fd[sub], name, 0) != 0) {
		int errnum = errno;

		maildir_expect_cancel(d->expect, d->path, sub,
				      MAILDIR_EXPECT_GOES, name);
		if (errnum == ENOENT && vanished_r != NULL)
			*vanished_r = true;
		return maildir_write_fail(err_r, errnum, "remove", d, sub, name);
	}
	return MS_OK;
}

int
maildir_dir_clean_tmp(struct maildir_dir *d, time_t older_than,
		       unsigned *removed_r, struct ms_err *err_r)
{
	int fd = openat(d->sub_fd[MAILDIR_SUB_TMP], ".",
			O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	unsigned removed = 0;
	int rc = MS_OK;

	if (dir == NULL) {
		rc = ms_err_set(err_r, MS_EIO, "open %s/tmp: %s", d->path,
				strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	for (errno = 0; (de = readdir(dir)) != NULL; errno = 0) {
		struct stat st;

		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime >= older_than)
			continue;
		if (unlinkat(dirfd(dir), de->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			rc = maildir_write_fail(err_r, errno, "remove", d,
						MAILDIR_SUB_TMP, de->d_name);
	}
	if (rc == MS_OK && errno != 0)
		rc = ms_err_set(err_r, MS_EIO, "readdir %s/tmp: %s", d->path,
				strerror(errno));
	closedir(dir);
	if (removed_r != NULL)
		*removed_r = removed;
	return rc;
}

int
maildir_syncfs(int dirfd, struct ms_err *err_r)
{
	if (syncfs(dirfd) != 0)
		return ms_err_set(err_r, MS_EIO, "syncfs: %s", strerror(errno));
	return MS_OK;
}
