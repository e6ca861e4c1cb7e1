/*
 * sd_notify.h - sd_notify(3) without libsystemd: one datagram per message
 * to the AF_UNIX socket named by NOTIFY_SOCKET (a leading '@' names an
 * abstract socket), and the watchdog interval from WATCHDOG_USEC.
 */
#ifndef MS_SD_NOTIFY_H
#define MS_SD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct sd_notifier {
	int fd;				/* -1: not under systemd */
	struct sockaddr_un addr;
	socklen_t addr_len;
	uint64_t watchdog_ms;		/* ping interval; 0: no watchdog */
};

/*
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, then removes them
 * from the environment so that password_cmd and other children do not
 * talk to systemd as us.  Problems are logged; n is usable either way.
 */
void sd_notifier_open(struct sd_notifier *n);

bool sd_notifier_is_on(const struct sd_notifier *n);

/* Sends msg ("READY=1", "STATUS=...") when under systemd. */
void sd_notifier_send(const struct sd_notifier *n, const char *msg);

void sd_notifier_close(struct sd_notifier *n);

#endif
