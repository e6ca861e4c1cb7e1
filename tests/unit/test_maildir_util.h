/* test_maildir_util.h - temp dirs and file helpers for the maildir tests. */
#ifndef TEST_MAILDIR_UTIL_H
#define TEST_MAILDIR_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int
tmd_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes a tree (rm -rf). */
static inline void
tmd_rmtree(const char *path)
{
	(void)nftw(path, tmd_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes a fresh temp dir; the caller frees the string after tmd_rmtree. */
static inline char *
tmd_mkdtemp(void)
{
	char tmpl[] = "/tmp/ms-maildir-test-XXXXXX";
	char *p = mkdtemp(tmpl);

	return p != NULL ? strdup(p) : NULL;
}

/* Number of entries (without . and ..) in dir/sub; -1 if it cannot open. */
static inline int
tmd_count(const char *dir, const char *sub)
{
	char path[16384];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Writes a file with content (creating it); returns 0 on success. */
static inline int
tmd_put(const char *dir, const char *rel, const void *data, size_t len)
{
	char path[16384];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* Reads up to cap bytes of dir/rel into buf; returns the length or -1. */
static inline ssize_t
tmd_get(const char *dir, const char *rel, void *buf, size_t cap)
{
	char path[16384];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, cap);
	close(fd);
	return n;
}

/* mkdir -p of dir/rel. */
static inline int
tmd_mkdirs(const char *dir, const char *rel)
{
	char path[16384];
	size_t len;

	len = (size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) != 0 && access(path, F_OK) != 0)
			return -1;
		path[i] = i < len ? '/' : '\0';
	}
	return 0;
}

/* Makes dir/rel a Maildir (cur, new, tmp). */
static inline int
tmd_mkmaildir(const char *dir, const char *rel)
{
	char sub[16384];
	static const char *const subs[] = { "cur", "new", "tmp" };

	for (int i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] != '\0' ? "/" : "",
			 subs[i]);
		if (tmd_mkdirs(dir, sub) != 0)
			return -1;
	}
	return 0;
}

#endif
