/*
 * sd_notify.c - systemd notification (sd_notify.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sd_notify.h"

void
sd_notifier_open(struct sd_notifier *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wd_pid = getenv("WATCHDOG_PID");
	size_t len;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (wd != NULL && (wd_pid == NULL ||
			   strtol(wd_pid, NULL, 10) == (long)getpid())) {
		char *end;
		unsigned long long usec;

		errno = 0;
		usec = strtoull(wd, &end, 10);
		if (errno == 0 && end != wd && *end == '\0' && usec > 0)
			n->watchdog_ms = usec / 2000u > 0 ? usec / 2000u : 1;
		else
			log_warn("WATCHDOG_USEC=%s is not a number of "
				 "microseconds; no watchdog pings", wd);
	}
	if (path == NULL || path[0] == '\0') {
		n->watchdog_ms = 0;
		goto out;
	}
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(n->addr.sun_path)) {
		log_warn("NOTIFY_SOCKET=%s: not a socket path or abstract "
			 "name; not notifying systemd", path);
		n->watchdog_ms = 0;
		goto out;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				  len);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0) {
		log_warn_errno(errno, "NOTIFY_SOCKET: socket");
		n->watchdog_ms = 0;
	}
out:
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

bool
sd_notifier_is_on(const struct sd_notifier *n)
{
	return n->fd >= 0;
}

void
sd_notifier_send(const struct sd_notifier *n, const char *msg)
{
	if (n->fd < 0)
		return;
	if (sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL,
		   (const struct sockaddr *)&n->addr, n->addr_len) < 0)
		log_debug("sd_notify %.*s: %s", (int)strcspn(msg, "\n"), msg,
			  strerror(errno));
}

void
sd_notifier_close(struct sd_notifier *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
