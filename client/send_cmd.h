/*
 * send_cmd.h - `mailsyncctl send`: the sendmail-compatible command that
 * readers (neomutt's sendmail, aerc's outgoing, git send-email's
 * --sendmail-cmd) hand outgoing mail to.  See mailsyncctl's --help and
 * mailsyncd(1), SENDING.
 */
#ifndef MS_CLIENT_SEND_CMD_H
#define MS_CLIENT_SEND_CMD_H

#include <stdio.h>

/* Exit statuses (sendmail's, from sysexits.h). */
enum {
	SEND_EXIT_OK = 0,
	SEND_EXIT_USAGE = 2,	/* no recipient, no account, unreadable */
	SEND_EXIT_TEMPFAIL = 75,	/* nothing could be made durable */
};

struct cli;

/*
 * Runs `send` with argv[0] == "send".  cli carries the global options
 * (-c FILE, or NULL to search as the daemon does; -s for --wait).  Reads
 * the message from stdin; returns the exit status.
 */
int send_cmd_main(int argc, char **argv, struct cli *cli);

/* The usage lines of `send`, for mailsyncctl's help. */
void send_cmd_usage(FILE *out);

#endif
