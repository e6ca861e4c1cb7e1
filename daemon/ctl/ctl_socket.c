/*
 * ctl_socket.c - the control socket's file (ctl_socket.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl_socket.h"

/* Makes dir, 0700; 0750 with group gid when it is shared. */
static int
ctl_socket_mkdir(const char *dir, gid_t gid)
{
	if (mkdir(dir, gid == (gid_t)-1 ? 0700 : 0750) < 0)
		return errno == EEXIST ? 0 : -1;
	if (gid != (gid_t)-1 && (chown(dir, (uid_t)-1, gid) < 0 ||
				 chmod(dir, 0750) < 0))
		return -1;
	return 0;
}

/* Makes each missing component of dir (ctl_socket_mkdir()). */
static int
ctl_socket_mkdirs(char *dir, gid_t gid, struct ms_err *err_r)
{
	struct stat st;

	if (stat(dir, &st) == 0)
		return MS_OK;
	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (ctl_socket_mkdir(dir, gid) < 0) {
			int e = errno;

			*p = '/';
			return ms_err_set(err_r, MS_EIO, "cannot create %s: %s",
					  dir, strerror(e));
		}
		*p = '/';
	}
	if (ctl_socket_mkdir(dir, gid) < 0)
		return ms_err_set(err_r, MS_EIO, "cannot create %s: %s", dir,
				  strerror(errno));
	return MS_OK;
}

/* Nobody but us (or root) may replace a file in dir; a group the socket
 * is shared with must get through it. */
static int
ctl_socket_check_dir(const char *dir, gid_t gid, struct ms_err *err_r)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return ms_err_set(err_r, MS_EIO, "socket directory %s: %s",
				  dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ms_err_set(err_r, MS_ECONFIG, "socket directory %s is "
				  "not a directory", dir);
	if (st.st_uid != getuid() && st.st_uid != 0)
		return ms_err_set(err_r, MS_ECONFIG, "socket directory %s "
				  "belongs to uid %lu, not to this user: set "
				  "[general] socket to a path of your own", dir,
				  (unsigned long)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st.st_mode & S_ISVTX) == 0)
		return ms_err_set(err_r, MS_ECONFIG, "socket directory %s is "
				  "writable by others (chmod 700 %s)", dir,
				  dir);
	if (gid != (gid_t)-1 && (st.st_mode & S_IXOTH) == 0 &&
	    ((st.st_mode & S_IXGRP) == 0 || st.st_gid != gid))
		return ms_err_set(err_r, MS_ECONFIG, "socket directory %s "
				  "does not let group %lu (socket_group) "
				  "through: chgrp %lu %s && chmod 750 %s", dir,
				  (unsigned long)gid, (unsigned long)gid, dir,
				  dir);
	return MS_OK;
}

/* Locks PATH.lock; a lock held elsewhere names its pid. */
static int
ctl_socket_lock(struct ctl_socket *cs, const char *path, struct ms_err *err_r)
{
	char lock[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	char pid[32] = "";
	ssize_t n;

	snprintf(lock, sizeof(lock), "%s.lock", path);
	cs->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			   0600);
	if (cs->lock_fd < 0)
		return ms_err_set(err_r, MS_EIO, "cannot open %s: %s", lock,
				  strerror(errno));
	if (flock(cs->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		n = pread(cs->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(cs->lock_fd);
		cs->lock_fd = -1;
		if (e == EWOULDBLOCK)
			return ms_err_set(err_r, MS_ECONFIG, "mailsyncd is "
					  "already running%s%s%s on socket %s",
					  pid[0] != '\0' ? " (pid " : "", pid,
					  pid[0] != '\0' ? ")" : "", path);
		return ms_err_set(err_r, MS_EIO, "cannot lock %s: %s", lock,
				  strerror(e));
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(cs->lock_fd, 0) < 0 ||
	    pwrite(cs->lock_fd, pid, (size_t)n, 0) != n)
		return ms_err_set(err_r, MS_EIO, "cannot write %s: %s", lock,
				  strerror(errno));
	return MS_OK;
}

/* With the lock held, a socket file left there is a dead daemon's. */
static int
ctl_socket_clear_stale(const char *path, struct ms_err *err_r)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? MS_OK :
			ms_err_set(err_r, MS_EIO, "%s: %s", path,
				   strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return ms_err_set(err_r, MS_ECONFIG, "%s exists and is not a "
				  "socket: remove it or set [general] socket",
				  path);
	if (unlink(path) < 0)
		return ms_err_set(err_r, MS_EIO, "cannot remove the stale "
				  "socket %s: %s", path, strerror(errno));
	return MS_OK;
}

static int
ctl_socket_bind(struct ctl_socket *cs, const char *path, struct ms_err *err_r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int rc;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);
	if (cs->fd < 0)
		return ms_err_set(err_r, MS_EIO, "socket: %s", strerror(errno));
	/* Never reachable by others, not even for a moment. */
	old = umask(0177);
	rc = bind(cs->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	/* Shared: the group first, then the mode that lets it in. */
	if (rc == 0 && cs->gid != (gid_t)-1)
		rc = chown(path, (uid_t)-1, cs->gid);
	if (rc < 0 || chmod(path, cs->gid != (gid_t)-1 ? 0660 : 0600) < 0) {
		rc = ms_err_set(err_r, MS_EIO, "cannot bind the control socket "
				"%s: %s", path, strerror(errno));
		close(cs->fd);
		cs->fd = -1;
		return rc;
	}
	return MS_OK;
}

int
ctl_socket_open(struct ctl_socket *cs, const char *path, gid_t gid,
		struct ms_err *err_r)
{
	struct sockaddr_un sa;
	char *dir, *slash;
	int rc;

	cs->fd = cs->lock_fd = -1;
	cs->path = NULL;
	cs->gid = gid;
	if (path[0] != '/')
		return ms_err_set(err_r, MS_EINVAL, "control socket %s: an "
				  "absolute path is needed", path);
	/* ".lock" goes next to it, and must fit as well. */
	if (strlen(path) + 5 >= sizeof(sa.sun_path))
		return ms_err_set(err_r, MS_EINVAL, "control socket %s: the "
				  "path is longer than %zu bytes (set [general] "
				  "socket to a shorter one)", path,
				  sizeof(sa.sun_path) - 6);
	if ((dir = strdup(path)) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	rc = ctl_socket_mkdirs(dir, gid, err_r);
	if (rc == MS_OK)
		rc = ctl_socket_check_dir(dir, gid, err_r);
	free(dir);
	if (rc == MS_OK)
		rc = ctl_socket_lock(cs, path, err_r);
	if (rc == MS_OK)
		rc = ctl_socket_clear_stale(path, err_r);
	if (rc == MS_OK)
		rc = ctl_socket_bind(cs, path, err_r);
	if (rc == MS_OK && (cs->path = strdup(path)) == NULL)
		rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
	if (rc != MS_OK) {
		if (cs->fd >= 0) {
			close(cs->fd);
			unlink(path);
		}
		if (cs->lock_fd >= 0)
			close(cs->lock_fd);
		cs->fd = cs->lock_fd = -1;
	}
	return rc;
}

void
ctl_socket_release(struct ctl_socket *cs)
{
	/* The socket goes before the lock, so that a daemon starting now
	 * never sees our file with the lock free and takes it for its
	 * own. */
	if (cs->path != NULL)
		unlink(cs->path);
	free(cs->path);
	cs->path = NULL;
	if (cs->lock_fd >= 0)
		close(cs->lock_fd);
	cs->lock_fd = -1;
	cs->fd = -1;
}
