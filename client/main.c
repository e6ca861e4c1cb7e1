/*
 * main.c - mailsyncctl entry point.
 *
 * The control protocol (proto/ctl) and the daemon's control server are not
 * written yet, so this client only answers --help and --version and says so
 * plainly for every other command instead of pretending to work.
 */
#include <stdio.h>
#include <string.h>

#include "ms_version.h"
#include "send_cmd.h"

static void
ctl_usage(FILE *out)
{
	fputs("usage: mailsyncctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
	      "       mailsyncctl --help | --version\n"
	      "\n"
	      "Commands (see DESIGN): status, sync, folders, list, cat, flag, move,\n"
	      "delete, send, outbox, watch, pause, resume, reload, version.\n"
	      "Not implemented yet: this build has no control protocol; every\n"
	      "command except 'send' and 'version' exits 2.\n\n",
	      out);
	send_cmd_usage(out);
}

int
main(int argc, char **argv)
{
	const char *config = NULL;

	/* -c FILE: the config to read (the spool of send). */
	if (argc >= 3 && strcmp(argv[1], "-c") == 0) {
		config = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return send_cmd_main(argc - 1, argv + 1, config);
	if (argc < 2) {
		ctl_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		ctl_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("mailsyncctl %s\n", MS_VERSION);
		return 0;
	}
	fprintf(stderr, "mailsyncctl: %s: the control protocol is not "
		"implemented yet\n", argv[1]);
	return 2;
}
