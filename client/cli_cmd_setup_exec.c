/*
 * cli_cmd_setup_exec.c - `mailsyncctl setup` runs in a helper program of
 * its own, mailsyncctl-setup (the whole of mailsyncctl with setup_cmd.c,
 * c-ares and libcurl).  Linked into mailsyncctl, those two libraries and
 * the 30-odd they load made every command start in 13.6 ms instead of
 * 1.7 ms, before `mailsyncctl status` even connects.  The helper is
 * looked for beside mailsyncctl (a build tree), then where it is
 * installed; it gets the global options and the command's arguments.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef MS_SETUP_HELPER
#define MS_SETUP_HELPER "/usr/local/libexec/mailsync/mailsyncctl-setup"
#endif

/* DIR/mailsyncctl-setup for the directory of this program, or "". */
static void
setup_exec_beside(char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	out[0] = '\0';
	if (len <= 0)
		return;
	self[len] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return;
	*slash = '\0';
	if ((size_t)snprintf(out, size, "%s/mailsyncctl-setup", self) >= size)
		out[0] = '\0';
}

static int
setup_exec_run(struct cli *cli, int argc, char **argv)
{
	char beside[PATH_MAX + 32];
	const char *paths[2];
	size_t n_paths = 0;
	char **args;
	int n = 0;

	setup_exec_beside(beside, sizeof(beside));
	if (beside[0] != '\0')
		paths[n_paths++] = beside;
	paths[n_paths++] = MS_SETUP_HELPER;
	if ((args = calloc((size_t)argc + 7, sizeof(*args))) == NULL) {
		fprintf(stderr, "mailsyncctl: setup: out of memory\n");
		return CLI_EXIT_FAIL;
	}
	args[n++] = "mailsyncctl";
	if (cli->config != NULL) {
		args[n++] = "-c";
		args[n++] = (char *)cli->config;
	}
	if (cli->socket_arg != NULL) {
		args[n++] = "-s";
		args[n++] = (char *)cli->socket_arg;
	}
	if (cli->is_json)
		args[n++] = "--json";
	for (int i = 0; i < argc; i++)	/* argv[0] is "setup" */
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	for (size_t i = 0; i < n_paths; i++) {
		execv(paths[i], args);
		if (errno != ENOENT) {
			fprintf(stderr, "mailsyncctl: setup: cannot run %s: "
				"%s\n", paths[i], strerror(errno));
			free(args);
			return CLI_EXIT_FAIL;
		}
	}
	fprintf(stderr, "mailsyncctl: setup: its helper mailsyncctl-setup is "
		"missing (looked beside mailsyncctl and for %s): reinstall "
		"mailsync\n", MS_SETUP_HELPER);
	free(args);
	return CLI_EXIT_FAIL;
}

const struct cli_cmd cli_cmd_setup = {
	.name = "setup",
	.usage = CLI_SETUP_USAGE,
	.help = CLI_SETUP_HELP,
	.run_cb = setup_exec_run,
	.is_local = true,
};
