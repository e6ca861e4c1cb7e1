/*
 * maildir_scan.c - folder listings and tree discovery (see maildir_scan.h).
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

#include "maildir/maildir_scan.h"

#define MAILDIR_WALK_MAX_DEPTH 64

/* --- folder listing ------------------------------------------------------- */

void
maildir_list_init(struct maildir_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
maildir_list_deinit(struct maildir_list *l)
{
	free(l->v);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

const char *
maildir_list_name(const struct maildir_list *l, size_t i)
{
	return l->names + l->v[i].name_off;
}

static int
maildir_list_add(struct maildir_list *l, const struct maildir_entry *e,
		 const char *name, size_t len)
{
	if (l->n == l->cap) {
		size_t cap = l->cap != 0 ? l->cap * 2 : 256;
		struct maildir_entry *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return MS_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (l->names_len + len + 1 > l->names_cap) {
		size_t cap = l->names_cap != 0 ? l->names_cap * 2 : 16384;
		char *p;

		while (cap < l->names_len + len + 1)
			cap *= 2;
		if (cap > UINT32_MAX)
			return MS_ENOMEM;
		p = realloc(l->names, cap);
		if (p == NULL)
			return MS_ENOMEM;
		l->names = p;
		l->names_cap = cap;
	}
	l->v[l->n] = *e;
	l->v[l->n].name_off = (uint32_t)l->names_len;
	l->v[l->n].name_len = (uint8_t)len;
	memcpy(l->names + l->names_len, name, len + 1);
	l->names_len += len + 1;
	l->n++;
	return MS_OK;
}

char *
maildir__path_join(const char *a, const char *b, const char *c)
{
	const char *parts[3] = { a, b, c };
	struct ms_buf buf;
	int rc = MS_OK;

	ms_buf_init(&buf, 3 * PATH_MAX);
	for (int i = 0; i < 3 && rc == MS_OK; i++) {
		if (parts[i][0] == '\0')
			continue;
		if (buf.len > 0)
			rc = ms_buf_append(&buf, "/", 1);
		if (rc == MS_OK)
			rc = ms_buf_append_cstr(&buf, parts[i]);
	}
	if (rc != MS_OK || buf.p == NULL) {
		ms_buf_deinit(&buf);
		return rc == MS_OK ? strdup("") : NULL;
	}
	return (char *)ms_buf_take(&buf, NULL);
}

static void
maildir_scan_note(struct maildir_report *rep, const char *dir, const char *sub,
		  const char *name, const char *why)
{
	char *path;

	if (rep == NULL)
		return;
	path = maildir__path_join(dir, sub, name);
	if (path != NULL)
		maildir_report_note(rep, path, why);
	free(path);
}

static int
maildir_scan_sub(struct maildir_dir *d, enum maildir_sub sub,
		 maildir_entry_cb cb, void *arg, struct maildir_report *rep,
		 struct ms_err *err_r)
{
	const char *subname = maildir_sub_name(sub);
	int fd = openat(d->sub_fd[sub], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int rc = MS_OK;

	if (dir == NULL) {
		rc = ms_err_set(err_r, MS_EIO, "open %s/%s: %s", d->path, subname,
				strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	for (errno = 0; rc == MS_OK && (de = readdir(dir)) != NULL; errno = 0) {
		struct maildir_name_info info;
		struct maildir_entry e = { 0 };
		size_t len = strlen(de->d_name);
		unsigned char type = de->d_type;
		struct stat st;
		bool have_stat = false;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (maildir_name_parse(de->d_name, len, &info) != MS_OK) {
			maildir_scan_note(rep, d->path, subname, de->d_name,
					  "not a message file name");
			continue;
		}
		if (type == DT_UNKNOWN || (type == DT_REG && !info.has_size)) {
			if (fstatat(d->sub_fd[sub], de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) != 0) {
				if (errno == ENOENT)
					continue;	/* renamed under us */
				rc = ms_err_set(err_r, MS_EIO, "stat %s/%s/%s: %s",
						d->path, subname, de->d_name,
						strerror(errno));
				break;
			}
			have_stat = true;
			type = S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
		}
		if (type != DT_REG) {
			maildir_scan_note(rep, d->path, subname, de->d_name,
					  "not a regular file");
			continue;
		}
		e.sub = (uint8_t)sub;
		e.flags = info.flags;
		e.ino = de->d_ino;
		e.is_size_from_name = info.has_size;
		e.size = info.has_size ? info.size :
			 have_stat ? (uint64_t)st.st_size : 0;
		rc = cb(&e, de->d_name, len, arg);
		if (rc != MS_OK)
			ms_err_set(err_r, rc, "%s listing %s",
				   rc == MS_ENOMEM ? "out of memory" :
				   "stopped", d->path);
	}
	if (rc == MS_OK && errno != 0)
		rc = ms_err_set(err_r, MS_EIO, "readdir %s/%s: %s", d->path,
				subname, strerror(errno));
	closedir(dir);
	return rc;
}

int
maildir_scan_folder_each(struct maildir_dir *d, maildir_entry_cb cb, void *arg,
			 struct maildir_report *rep, struct ms_err *err_r)
{
	int rc = maildir_scan_sub(d, MAILDIR_SUB_NEW, cb, arg, rep, err_r);

	if (rc == MS_OK)
		rc = maildir_scan_sub(d, MAILDIR_SUB_CUR, cb, arg, rep, err_r);
	return rc;
}

static int
maildir_list_add_cb(const struct maildir_entry *e, const char *name,
		    size_t len, void *arg)
{
	return maildir_list_add(arg, e, name, len);
}

int
maildir_scan_folder(struct maildir_dir *d, struct maildir_list *l,
		    struct maildir_report *rep, struct ms_err *err_r)
{
	return maildir_scan_folder_each(d, maildir_list_add_cb, l, rep, err_r);
}

int
maildir_list_reserve(struct maildir_list *l, size_t n, size_t names_len)
{
	struct maildir_entry *v;
	char *names;

	if (n > l->cap) {
		if ((v = realloc(l->v, n * sizeof(*v))) == NULL)
			return MS_ENOMEM;
		l->v = v;
		l->cap = n;
	}
	if (names_len > l->names_cap && names_len <= UINT32_MAX) {
		if ((names = realloc(l->names, names_len)) == NULL)
			return MS_ENOMEM;
		l->names = names;
		l->names_cap = names_len;
	}
	return MS_OK;
}

void
maildir_list_trim(struct maildir_list *l)
{
	struct maildir_entry *v;
	char *names;

	/* Shrinking never fails for want of memory: a NULL keeps the old. */
	if (l->n > 0 && l->n < l->cap &&
	    (v = realloc(l->v, l->n * sizeof(*v))) != NULL) {
		l->v = v;
		l->cap = l->n;
	}
	if (l->names_len > 0 && l->names_len < l->names_cap &&
	    (names = realloc(l->names, l->names_len)) != NULL) {
		l->names = names;
		l->names_cap = l->names_len;
	}
}

/* --- tree walk ------------------------------------------------------------ */

struct maildir_walk {
	const char *root;
	enum maildir_layout layout;
	maildir_walk_cb cb;
	void *arg;
	struct maildir_report *rep;
	struct ms_err *err_r;
};

/* Appends a copy of str to f (also used for a directory's child names). */
static int
maildir_folders_push(struct maildir_folders *f, const char *str)
{
	if (f->n == f->cap) {
		size_t cap = f->cap != 0 ? f->cap * 2 : 16;
		char **v = realloc(f->v, cap * sizeof(*v));

		if (v == NULL)
			return MS_ENOMEM;
		f->v = v;
		f->cap = cap;
	}
	if ((f->v[f->n] = strdup(str)) == NULL)
		return MS_ENOMEM;
	f->n++;
	return MS_OK;
}

static int
maildir_walk_dir(struct maildir_walk *wk, int fd, const char *rel, int depth);

/* Reads one directory: notes its children, then calls cb and recurses. */
static int
maildir_walk_dir(struct maildir_walk *wk, int fd, const char *rel, int depth)
{
	char *dirpath = maildir__path_join(wk->root, rel, "");
	struct maildir_folders kids = { 0 };	/* child directory names */
	struct maildir_folders others = { 0 };	/* ones the layout skips */
	bool has[3] = { false, false, false };	/* new, cur, tmp */
	DIR *dir = dirpath != NULL ? fdopendir(fd) : NULL;
	struct dirent *de;
	int rc = MS_OK;

	if (dir == NULL) {
		rc = dirpath == NULL ?
			ms_err_set(wk->err_r, MS_ENOMEM, "out of memory in %s", wk->root) :
			ms_err_set(wk->err_r, MS_EIO, "open %s: %s", dirpath,
				   strerror(errno));
		close(fd);
		free(dirpath);
		return rc;
	}
	for (errno = 0; rc == MS_OK && (de = readdir(dir)) != NULL; errno = 0) {
		unsigned char type = de->d_type;
		struct stat st;
		int sub = -1;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (type == DT_UNKNOWN) {
			if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
				continue;
			type = S_ISDIR(st.st_mode) ? DT_DIR :
			       S_ISREG(st.st_mode) ? DT_REG :
			       S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
		}
		/* Dot names are tools' state (.notmuch, .mbsyncstate)
		 * unless the layout makes folders of them (.Lists.dev). */
		if (de->d_name[0] == '.' && (type != DT_DIR ||
		    !maildir_path_is_walked(wk->layout, depth, de->d_name)))
			continue;
		for (int i = 0; i < 3; i++)
			if (strcmp(de->d_name, maildir_sub_name((enum maildir_sub)i)) == 0)
				sub = i;
		if (type == DT_DIR && sub >= 0) {
			has[sub] = true;
		} else if (type == DT_DIR &&
			   !maildir_path_is_walked(wk->layout, depth,
						   de->d_name)) {
			rc = maildir_folders_push(&others, de->d_name);
			if (rc != MS_OK)
				ms_err_set(wk->err_r, rc, "out of memory in %s", dirpath);
		} else if (type == DT_DIR) {
			rc = maildir_folders_push(&kids, de->d_name);
			if (rc != MS_OK)
				ms_err_set(wk->err_r, rc, "out of memory in %s", dirpath);
		} else {
			maildir_scan_note(wk->rep, dirpath, "", de->d_name,
					  type == DT_LNK ? "symbolic link, not followed" :
					  type == DT_REG ? "file outside cur/ and new/" :
					  "not a file or directory");
		}
	}
	if (rc == MS_OK && errno != 0)
		rc = ms_err_set(wk->err_r, MS_EIO, "readdir %s: %s", dirpath,
				strerror(errno));
	if (rc == MS_OK && (has[0] || has[1]) && !(has[0] && has[1]))
		maildir_report_note(wk->rep, dirpath,
				    has[0] ? "incomplete Maildir: no cur/"
					   : "incomplete Maildir: no new/");
	/* A directory the layout makes no folder of, at the top or in a
	 * Maildir, is a reader's mistake (or another layout's tree); one
	 * inside a tool's own directory (.notmuch/xapian) is the tool's. */
	for (size_t i = 0; rc == MS_OK && i < others.n; i++)
		if (depth == 0 || (has[0] && has[1]))
			maildir_scan_note(wk->rep, dirpath, "", others.v[i],
					  "directory that is no folder in the "
					  "mirror's maildir_layout");
	if (rc == MS_OK)
		rc = wk->cb(rel, has[0] && has[1], wk->arg);
	for (size_t i = 0; rc == MS_OK && i < kids.n; i++) {
		char *child;
		int cfd;

		if (depth + 1 > MAILDIR_WALK_MAX_DEPTH) {
			maildir_report_note(wk->rep, dirpath, "nested too deep, not scanned");
			break;
		}
		cfd = openat(dirfd(dir), kids.v[i],
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0) {
			if (errno == ENOENT)
				continue;	/* removed while we walked */
			rc = ms_err_set(wk->err_r, MS_EIO, "open %s/%s: %s", dirpath,
					kids.v[i], strerror(errno));
			break;
		}
		if ((child = maildir__path_join(rel, kids.v[i], "")) == NULL) {
			close(cfd);
			rc = ms_err_set(wk->err_r, MS_ENOMEM, "out of memory in %s",
					dirpath);
			break;
		}
		rc = maildir_walk_dir(wk, cfd, child, depth + 1);
		free(child);
	}
	maildir_folders_deinit(&kids);
	maildir_folders_deinit(&others);
	closedir(dir);
	free(dirpath);
	return rc;
}

int
maildir_tree_walk(const char *root, enum maildir_layout layout,
		  maildir_walk_cb cb, void *arg, struct maildir_report *rep,
		  struct ms_err *err_r)
{
	struct maildir_walk wk = { root, layout, cb, arg, rep, err_r };
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return ms_err_set(err_r, MS_EIO, "open %s: %s", root, strerror(errno));
	return maildir_walk_dir(&wk, fd, "", 0);
}

static int
maildir_discover_cb(const char *rel, bool is_maildir, void *arg)
{
	struct maildir_folders *f = arg;

	return is_maildir ? maildir_folders_push(f, rel) : MS_OK;
}

int
maildir_tree_discover(const char *root, enum maildir_layout layout,
		      struct maildir_folders *f, struct maildir_report *rep,
		      struct ms_err *err_r)
{
	int rc = maildir_tree_walk(root, layout, maildir_discover_cb, f, rep,
				   err_r);

	if (rc == MS_ENOMEM)
		ms_err_set(err_r, rc, "out of memory discovering %s", root);
	return rc;
}

void
maildir_folders_deinit(struct maildir_folders *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
	memset(f, 0, sizeof(*f));
}
