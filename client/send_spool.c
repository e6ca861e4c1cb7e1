/*
 * send_spool.c - writing one spool file durably (send_spool.h).
 */
#include "send_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* mkdir -p for the spool and its two subdirectories. */
static int
send_spool_mkdirs(const char *dir, struct ms_err *err_r)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path) - 8)
		return ms_err_set(err_r, MS_EIO, "spool path '%s' unusable",
				  dir);
	memcpy(path, dir, len + 1);
	/* Each parent in turn; an existing one is fine. */
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return ms_err_set(err_r, MS_EIO, "cannot create %s: %s",
					  path, strerror(errno));
		path[i] = i < len ? '/' : '\0';
	}
	for (int j = 0; j < 2; j++) {
		snprintf(path, sizeof(path), "%s/%s", dir, j == 0 ? "tmp" :
			 "new");
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return ms_err_set(err_r, MS_EIO, "cannot create %s: %s",
					  path, strerror(errno));
	}
	return MS_OK;
}

static int
send_spool_write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len > 0) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync of a directory, so that a rename in it is durable. */
static int
send_spool_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
send_spool_write(const char *dir, const void *envelope, size_t env_len,
		 const void *msg, size_t msg_len, char *name_r, size_t namesz,
		 struct ms_err *err_r)
{
	char tmp[4200], dst[4200], newdir[4200];
	uint32_t rnd[2] = { 0, 0 };
	struct timespec ts;
	int fd, rc;

	if ((rc = send_spool_mkdirs(dir, err_r)) < 0)
		return rc;
	/* Unique without coordination: time, pid and 64 random bits. */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd[0] ^= (uint32_t)clock();
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name_r, namesz, "%lld.%09ld.%ld.%08x%08x",
		 (long long)ts.tv_sec, ts.tv_nsec, (long)getpid(), rnd[0],
		 rnd[1]);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name_r);
	snprintf(dst, sizeof(dst), "%s/new/%s", dir, name_r);
	snprintf(newdir, sizeof(newdir), "%s/new", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ms_err_set(err_r, MS_EIO, "cannot create %s: %s", tmp,
				  strerror(errno));
	if (send_spool_write_all(fd, envelope, env_len) < 0 ||
	    send_spool_write_all(fd, msg, msg_len) < 0 || fsync(fd) < 0) {
		rc = ms_err_set(err_r, MS_EIO, "cannot write %s: %s", tmp,
				strerror(errno));
		close(fd);
		unlink(tmp);
		return rc;
	}
	if (close(fd) < 0) {
		rc = ms_err_set(err_r, MS_EIO, "cannot write %s: %s", tmp,
				strerror(errno));
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, dst) < 0) {
		rc = ms_err_set(err_r, MS_EIO, "cannot move %s to %s: %s", tmp,
				dst, strerror(errno));
		unlink(tmp);
		return rc;
	}
	/* The rename is durable only once its directory is. */
	if (send_spool_sync_dir(newdir) < 0) {
		rc = ms_err_set(err_r, MS_EIO, "cannot sync %s: %s", newdir,
				strerror(errno));
		unlink(dst);
		return rc;
	}
	return MS_OK;
}
