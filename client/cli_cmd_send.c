/*
 * cli_cmd_send.c - `send` in mailsyncctl's command table: the
 * sendmail-compatible queueing of send_cmd.c, which runs without the
 * daemon (is_local); only --wait talks to it, after the message is
 * durable.
 */
#include "cli.h"
#include "send_cmd.h"

static int
cli_cmd_send_run(struct cli *cli, int argc, char **argv)
{
	return send_cmd_main(argc, argv, cli);
}

const struct cli_cmd cli_cmd_send = {
	.name = "send",
	.usage = "[-t] [-f FROM] [-i] [RCPT...]",
	.help = "queue the message on stdin (sendmail-compatible)",
	.run_cb = cli_cmd_send_run,
	.is_local = true,
};
