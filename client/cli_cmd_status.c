/*
 * cli_cmd_status.c - status, accounts, version.
 */
#include <string.h>

#include "cli.h"
#include "cli_table.h"
#include "ms_version.h"

/* "INBOX: 3/12 folders, 1200/18000 messages, 12.3 MB of 80.1 MB,
 * 2.1 MB/s, ETA 35s": the daemon's own wording (ctl/ctl_progress.h). */
void
cli_progress_text(json_t *p, char *buf, size_t size)
{
	struct ctl_progress cp;

	cli_progress_read(p, &cp);
	ctl_progress_text(&cp, buf, size);
}

void
cli_progress_read(json_t *p, struct ctl_progress *cp_r)
{
	*cp_r = (struct ctl_progress){
		.folder = cli_str(p, "folder"),
		.folders_done = cli_u64(p, "folders_done"),
		.folders_total = cli_u64(p, "folders_total"),
		.msgs_done = cli_u64(p, "msgs_done"),
		.msgs_total = cli_u64(p, "msgs_total"),
		.bytes_done = cli_u64(p, "bytes_done"),
		.bytes_total = cli_u64(p, "bytes_total"),
		.seconds = json_number_value(json_object_get(p, "seconds")),
		.rate_bps = json_number_value(json_object_get(p, "rate_bps")),
	};
}

/* The lines under an account's row: what a person should know. */
static void
cli_status_notes(const struct cli *cli, json_t *a)
{
	json_t *p = json_object_get(a, "progress");
	json_t *last = json_object_get(a, "last");
	json_t *ob = json_object_get(a, "outbox");
	const char *name = cli_str(a, "name");
	char text[600];
	uint64_t n;

	if (json_is_object(p)) {
		cli_progress_text(p, text, sizeof(text));
		printf("  %s: syncing ", name);
		cli_out_safe(stdout, text);
		putchar('\n');
	}
	if (cli_str(a, "reason")[0] != '\0' &&
	    strcmp(cli_str(a, "state"), "idle") != 0 &&
	    strcmp(cli_str(a, "state"), "syncing") != 0) {
		printf("  %s: %s", name, cli_out_color(cli, "error"));
		cli_out_safe(stdout, cli_str(a, "reason"));
		printf("%s\n", cli_out_reset(cli));
	}
	if (json_is_object(last) && cli_u64(last, "folder_errors") > 0)
		printf("  %s: %llu folder(s) failed in the last pass (see the "
		       "log)\n", name,
		       (unsigned long long)cli_u64(last, "folder_errors"));
	if ((n = cli_u64(a, "refused")) > 0)
		printf("  %s: %llu local message%s refused by the server, kept "
		       "local ('mailsyncctl sync %s' retries)\n", name,
		       (unsigned long long)n, n == 1 ? "" : "s", name);
	if ((n = cli_u64(a, "unsendable")) > 0)
		printf("  %s: %llu local message%s not sent: NUL bytes need "
		       "BINARY, which the server lacks\n", name,
		       (unsigned long long)n, n == 1 ? "" : "s");
	if (cli_u64(ob, "queued") + cli_u64(ob, "failed") > 0)
		printf("  %s: outbox %llu queued, %llu failed\n", name,
		       (unsigned long long)cli_u64(ob, "queued"),
		       (unsigned long long)cli_u64(ob, "failed"));
	/* How new mail reaches it: NOTIFY, IDLE on which folders, polling
	 * (IMAP accounts; "off" says nothing a person needs). */
	if (strcmp(cli_str(a, "protocol"), "imap") == 0 &&
	    cli_str(a, "push")[0] != '\0' &&
	    strcmp(cli_str(a, "push"), "off") != 0) {
		printf("  %s: push: ", name);
		cli_out_safe(stdout, cli_str(a, "push"));
		putchar('\n');
	}
	if (cli_str(a, "mirror_error")[0] != '\0') {
		printf("  %s: mirror: ", name);
		cli_out_safe(stdout, cli_str(a, "mirror_error"));
		putchar('\n');
	}
}

static int
cli_status_run(struct cli *cli, int argc, char **argv)
{
	static const char *const head[] = { "ACCOUNT", "PROTO", "STATE",
		"LAST SYNC", "NEXT", "FOLDERS", "MESSAGES" };
	json_t *args, *reply, *data, *v, *a;
	struct cli_table t;
	size_t i;
	int rc;

	if (argc > 2)
		return cli_usage_error("status takes at most an ACCOUNT");
	args = json_object();
	if (argc == 2)
		json_object_set_new(args, "account", json_string(argv[1]));
	if ((rc = cli_request(cli, "status", args, &reply, &data)) !=
	    CLI_EXIT_OK || data == NULL)
		return rc;
	v = json_object_get(data, "accounts");
	if (json_array_size(v) == 0)
		printf("mailsyncd %s: no accounts\n", cli->daemon_version);
	cli_table_init(&t, 7);
	t.color_col = 2;
	if (json_array_size(v) > 0)
		cli_table_add(&t, head, NULL);
	json_array_foreach(v, i, a) {
		char last[40], next[40], nf[24], nm[24];
		const char *row[7];

		cli_out_time(json_object_get(a, "last_sync"), last,
			     sizeof(last));
		cli_out_when(json_object_get(a, "next_sync"), next,
			     sizeof(next));
		snprintf(nf, sizeof(nf), "%llu",
			 (unsigned long long)cli_u64(a, "folders"));
		snprintf(nm, sizeof(nm), "%llu",
			 (unsigned long long)cli_u64(a, "messages"));
		row[0] = cli_str(a, "name");
		row[1] = cli_str(a, "protocol");
		row[2] = cli_str(a, "state");
		row[3] = last;
		row[4] = next;
		row[5] = nf;
		row[6] = nm;
		cli_table_add(&t, row, cli_out_color(cli, row[2]));
	}
	cli_table_print(&t, stdout, cli->is_tty ? cli_out_columns() : 10000,
			cli_out_reset(cli));
	cli_table_deinit(&t);
	json_array_foreach(v, i, a)
		cli_status_notes(cli, a);
	json_decref(reply);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_status = {
	.name = "status",
	.usage = "[ACCOUNT]",
	.help = "every account: state and reason, last sync, next attempt, "
		"counts, progress",
	.run_cb = cli_status_run,
};

static int
cli_accounts_run(struct cli *cli, int argc, char **argv)
{
	json_t *reply, *data, *a;
	size_t i;
	int rc;

	(void)argv;
	if (argc > 1)
		return cli_usage_error("accounts takes no argument");
	if ((rc = cli_request(cli, "accounts", NULL, &reply, &data)) !=
	    CLI_EXIT_OK || data == NULL)
		return rc;
	json_array_foreach(json_object_get(data, "accounts"), i, a)
		printf("%s\n", cli_str(a, "name"));
	json_decref(reply);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_accounts = {
	.name = "accounts",
	.usage = "",
	.help = "the names of the configured accounts",
	.run_cb = cli_accounts_run,
};

static int
cli_version_run(struct cli *cli, int argc, char **argv)
{
	json_t *reply, *d;
	int rc;

	(void)argv;
	if (argc > 1)
		return cli_usage_error("version takes no argument");
	if ((rc = cli_call(cli, "version", NULL, NULL, NULL, NULL, &reply)) !=
	    CLI_EXIT_OK)
		return rc;
	d = json_object_get(reply, "data");
	if (cli->is_json) {
		json_t *o = json_pack("{s:s,s:O}", "client", MS_VERSION,
				      "daemon", d);

		cli_out_json(o, false);
		json_decref(o);
	} else {
		printf("mailsyncctl %s\nmailsyncd %s (control protocol %d)\n",
		       MS_VERSION, cli_str(d, "version"),
		       (int)json_integer_value(json_object_get(d, "proto")));
	}
	json_decref(reply);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_version = {
	.name = "version",
	.usage = "",
	.help = "the versions of mailsyncctl and the running mailsyncd",
	.run_cb = cli_version_run,
};

static void
cli_reload_list(json_t *data, const char *key, const char *what)
{
	json_t *v = json_object_get(data, key), *e;
	size_t i;

	if (json_array_size(v) == 0)
		return;
	printf("%s:", what);
	json_array_foreach(v, i, e)
		printf(" %s", json_string_value(e));
	putchar('\n');
}

static int
cli_reload_run(struct cli *cli, int argc, char **argv)
{
	json_t *reply, *data;
	int rc;

	(void)argv;
	if (argc > 1)
		return cli_usage_error("reload takes no argument");
	if ((rc = cli_request(cli, "reload", NULL, &reply, &data)) !=
	    CLI_EXIT_OK || data == NULL)
		return rc;
	printf("reloaded\n");
	cli_reload_list(data, "added", "added");
	cli_reload_list(data, "removed", "removed");
	cli_reload_list(data, "restarted", "restarted");
	cli_reload_list(data, "unchanged", "unchanged");
	cli_reload_list(data, "restart_needed", "changed, but kept until "
			"mailsyncd restarts");
	cli_reload_list(data, "problems", "problems");
	rc = json_array_size(json_object_get(data, "problems")) > 0 ?
		CLI_EXIT_FAIL : CLI_EXIT_OK;
	json_decref(reply);
	return rc;
}

const struct cli_cmd cli_cmd_reload = {
	.name = "reload",
	.usage = "",
	.help = "re-read the configuration (a bad file keeps the running one)",
	.run_cb = cli_reload_run,
};
