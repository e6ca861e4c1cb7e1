/*
 * ctl_socket.h - the control socket's file (DESIGN.md "Control
 * protocol"): where it may live, who may reach it, and how a second
 * daemon learns that one runs.
 *
 *   - Its directory is made 0700 when missing (each missing component);
 *     an existing one must belong to the daemon's uid or root and not be
 *     writable by others unless sticky, or the socket could be swapped.
 *   - PATH.lock is locked (flock, exclusive) for the daemon's lifetime:
 *     a lock held elsewhere is "already running"; a held lock makes an
 *     existing socket file stale (its daemon died), so it is replaced.
 *   - The socket is created 0600 (bound under umask 0177); with a group
 *     (socket_group, the system unit's mailsync) it is then given to
 *     that group and made 0660, and its directory must let the group
 *     through (a missing one is made 0750 with that group).
 */
#ifndef MS_CTL_SOCKET_H
#define MS_CTL_SOCKET_H

#include <sys/types.h>

#include "common/ms.h"

struct ctl_socket {
	int fd;			/* the listening socket's, bound */
	int lock_fd;		/* PATH.lock, locked */
	char *path;		/* owned */
	gid_t gid;		/* the group it is shared with; (gid_t)-1:
				 * none */
};

/*
 * Creates the socket at path, bound but not listening.  MS_OK, or an
 * error in err_r (MS_EINVAL for a path too long or not absolute, MS_EIO
 * for the file system, MS_ECONFIG for an unsafe directory or another
 * daemon on it).
 */
int ctl_socket_open(struct ctl_socket *cs, const char *path, gid_t gid,
		    struct ms_err *err_r) MS_WUR;

/* Removes the socket file and releases the lock (the fd is the
 * caller's: libuv closes it).  Idempotent. */
void ctl_socket_release(struct ctl_socket *cs);

#endif
