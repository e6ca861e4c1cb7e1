/*
 * main.c - mailsyncctl entry point: global options, the command table,
 * and the exit codes of DESIGN.md (0 ok, 1 the daemon reported a
 * failure, 2 usage, 3 the daemon is not reachable).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ms_version.h"

extern const struct cli_cmd cli_cmd_status, cli_cmd_accounts,
	cli_cmd_version, cli_cmd_sync, cli_cmd_pause, cli_cmd_resume,
	cli_cmd_watch, cli_cmd_folders, cli_cmd_list, cli_cmd_cat,
	cli_cmd_search, cli_cmd_flag, cli_cmd_move, cli_cmd_delete,
	cli_cmd_reload, cli_cmd_send, cli_cmd_outbox, cli_cmd_setup,
	cli_cmd_convert;

const struct cli_cmd *const cli_cmds[] = {
	&cli_cmd_status,
	&cli_cmd_accounts,
	&cli_cmd_folders,
	&cli_cmd_list,
	&cli_cmd_cat,
	&cli_cmd_search,
	&cli_cmd_flag,
	&cli_cmd_move,
	&cli_cmd_delete,
	&cli_cmd_sync,
	&cli_cmd_pause,
	&cli_cmd_resume,
	&cli_cmd_watch,
	&cli_cmd_reload,
	&cli_cmd_send,
	&cli_cmd_outbox,
	&cli_cmd_setup,
	&cli_cmd_convert,
	&cli_cmd_version,
	NULL,
};

static void
cli_usage(FILE *out)
{
	fputs("usage: mailsyncctl [-c FILE] [-s SOCKET] [--json] COMMAND "
	      "[ARGS]\n"
	      "       mailsyncctl --help | --version\n"
	      "\n"
	      "Asks the running mailsyncd over its control socket.\n"
	      "\n"
	      "Commands:\n", out);
	/* Usage, then what it does below it: both fit 80 columns. */
	for (size_t i = 0; cli_cmds[i] != NULL; i++)
		fprintf(out, "  %s%s%s\n      %s\n", cli_cmds[i]->name,
			cli_cmds[i]->usage[0] != '\0' ? " " : "",
			cli_cmds[i]->usage, cli_cmds[i]->help);
	fputs("\n"
	      "  -c, --config FILE  the daemon's config, to find the socket\n"
	      "  -s, --socket PATH  the control socket (overrides the config)\n"
	      "      --json         machine-readable output (one JSON "
	      "document,\n"
	      "                     one per line for watch)\n"
	      "\n"
	      "Without -c the config is found as mailsyncd finds it.\n"
	      "Exit status: 0 ok, 1 the daemon reported a failure, 2 usage,\n"
	      "3 the daemon is not reachable.  See mailsyncctl(1).\n", out);
}

static const struct cli_cmd *
cli_cmd_find(const char *name)
{
	for (size_t i = 0; cli_cmds[i] != NULL; i++)
		if (strcmp(cli_cmds[i]->name, name) == 0)
			return cli_cmds[i];
	return NULL;
}

static int
cli_unknown(const char *name)
{
	fprintf(stderr, "mailsyncctl: unknown command '%s'; commands:", name);
	for (size_t i = 0; cli_cmds[i] != NULL; i++)
		fprintf(stderr, " %s", cli_cmds[i]->name);
	fputs(" (try 'mailsyncctl --help')\n", stderr);
	return CLI_EXIT_USAGE;
}

/* Global options before the command; *first_r: the command's index. */
static int
cli_parse(struct cli *cli, int argc, char **argv, int *first_r)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];

		if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
			cli_usage(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(o, "--version") == 0) {
			printf("mailsyncctl %s\n", MS_VERSION);
			return CLI_EXIT_OK;
		}
		if (strcmp(o, "--json") == 0) {
			cli->is_json = true;
			continue;
		}
		if (strcmp(o, "-c") == 0 || strcmp(o, "--config") == 0 ||
		    strcmp(o, "-s") == 0 || strcmp(o, "--socket") == 0) {
			if (i + 1 >= argc)
				return cli_usage_error("option '%s' needs an "
						       "argument", o);
			if (o[1] == 'c' || o[2] == 'c')
				cli->config = argv[++i];
			else
				cli->socket_arg = argv[++i];
			continue;
		}
		return cli_usage_error("unknown option '%s'", o);
	}
	if (i == argc) {
		cli_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	*first_r = i;
	return -1;
}

int
main(int argc, char **argv)
{
	struct cli cli = { .fd = -1 };
	const struct cli_cmd *cmd;
	int first = 0, rc;

	if ((rc = cli_parse(&cli, argc, argv, &first)) >= 0)
		return rc;
	if ((cmd = cli_cmd_find(argv[first])) == NULL)
		return cli_unknown(argv[first]);
	/* --json may also follow the command, where scripts put it. */
	for (int i = first + 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			cli.is_json = true;
			memmove(&argv[i], &argv[i + 1],
				(size_t)(argc - i - 1) * sizeof(*argv));
			argc--;
			i--;
		}
	}
	cli_out_init(&cli);
	/* A local command (send) connects itself, if at all. */
	if (cmd->is_local) {
		rc = cmd->run_cb(&cli, argc - first, argv + first);
	} else {
		if ((rc = cli_find_socket(&cli)) != CLI_EXIT_OK)
			return rc;
		if ((rc = cli_connect(&cli)) == CLI_EXIT_OK)
			rc = cmd->run_cb(&cli, argc - first, argv + first);
	}
	cli_disconnect(&cli);
	free(cli.socket);
	if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
		rc = CLI_EXIT_FAIL;
	return rc;
}
