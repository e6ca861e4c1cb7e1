/*
 * cli_cmd_sync.c - sync (with --wait: a progress bar per account on a
 * terminal, plain lines otherwise), pause, resume, watch.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* --- sync --wait's progress ---------------------------------------------- */

#define CLI_BAR_WIDTH 24
#define CLI_MAX_BARS 32

struct cli_bars {
	char names[CLI_MAX_BARS][65];
	char last_folder[CLI_MAX_BARS][129];
	size_t n;
	size_t drawn;			/* lines drawn on the terminal */
	char lines[CLI_MAX_BARS][400];
};

static size_t
cli_bars_slot(struct cli_bars *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->names[i], name) == 0)
			return i;
	if (b->n == CLI_MAX_BARS)
		return CLI_MAX_BARS - 1;
	snprintf(b->names[b->n], sizeof(b->names[0]), "%s", name);
	b->last_folder[b->n][0] = '\0';
	b->lines[b->n][0] = '\0';
	return b->n++;
}

/* "[#########---------]  45% INBOX: 1200/18000 messages, 12.3 MB of
 * 80.1 MB, 2.1 MB/s, ETA 1m05s" */
static void
cli_bar_line(json_t *p, char *buf, size_t size)
{
	struct ctl_progress cp;
	double frac;
	char bar[CLI_BAR_WIDTH + 1], text[300];
	size_t fill;

	cli_progress_read(p, &cp);
	frac = ctl_progress_fraction(&cp);
	if (frac < 0)
		frac = 0;
	fill = (size_t)(frac * CLI_BAR_WIDTH);
	for (size_t i = 0; i < CLI_BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[CLI_BAR_WIDTH] = '\0';
	ctl_progress_text(&cp, text, sizeof(text));
	snprintf(buf, size, "[%s] %3.0f%% %s", bar, frac * 100.0, text);
}

static void
cli_bars_draw(struct cli_bars *b)
{
	if (b->drawn > 0)
		printf("\033[%zuA", b->drawn);
	for (size_t i = 0; i < b->n; i++) {
		printf("\r\033[K%s ", b->names[i]);
		cli_out_safe(stdout, b->lines[i]);
		putchar('\n');
	}
	b->drawn = b->n;
	fflush(stdout);
}

static void
cli_sync_on_event(struct cli *cli, const char *name, json_t *ev, void *arg)
{
	struct cli_bars *b = arg;
	const char *acct = cli_str(ev, "account");
	size_t i = cli_bars_slot(b, acct);
	char text[400];

	if (cli->is_json)
		return;
	if (strcmp(name, "progress") == 0) {
		if (cli->is_tty) {
			cli_bar_line(ev, b->lines[i], sizeof(b->lines[i]));
			cli_bars_draw(b);
			return;
		}
		/* Plain lines: one per folder, not one per tick. */
		if (strcmp(b->last_folder[i], cli_str(ev, "folder")) == 0)
			return;
		snprintf(b->last_folder[i], sizeof(b->last_folder[i]), "%s",
			 cli_str(ev, "folder"));
		cli_progress_text(ev, text, sizeof(text));
		printf("%s: ", acct);
		cli_out_safe(stdout, text);
		putchar('\n');
		fflush(stdout);
		return;
	}
	if (strcmp(name, "state") == 0 && !cli->is_tty) {
		printf("%s: %s", acct, cli_str(ev, "state"));
		if (cli_str(ev, "reason")[0] != '\0') {
			fputs(" (", stdout);
			cli_out_safe(stdout, cli_str(ev, "reason"));
			putchar(')');
		}
		putchar('\n');
		fflush(stdout);
	}
}

/* "work: 12 folders, 30 new, ..." as mailsyncd --once prints it. */
static void
cli_result_line(const char *acct, json_t *r)
{
	char size[32];

	cli_out_size(cli_u64(r, "bytes"), size, sizeof(size));
	printf("%s: %llu folder%s, %llu new, %llu changed, %llu deleted, "
	       "%llu appended, %llu moved, %s, %.1f s\n", acct,
	       (unsigned long long)cli_u64(r, "folders"),
	       cli_u64(r, "folders") == 1 ? "" : "s",
	       (unsigned long long)cli_u64(r, "new"),
	       (unsigned long long)cli_u64(r, "changed"),
	       (unsigned long long)cli_u64(r, "deleted"),
	       (unsigned long long)cli_u64(r, "appended"),
	       (unsigned long long)cli_u64(r, "moved"), size,
	       json_real_value(json_object_get(r, "seconds")));
}

static int
cli_sync_run(struct cli *cli, int argc, char **argv)
{
	json_t *args = json_object(), *reply, *v, *a;
	struct cli_bars *bars;
	bool want_wait = false;
	int npos = 0, rc;
	size_t i;

	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--wait") == 0 || strcmp(argv[k], "-w") == 0) {
			want_wait = true;
		} else if (argv[k][0] == '-') {
			json_decref(args);
			return cli_usage_error("sync: unknown option '%s'",
					       argv[k]);
		} else if (npos < 2) {
			json_object_set_new(args, npos == 0 ? "account" :
					    "folder", json_string(argv[k]));
			npos++;
		} else {
			json_decref(args);
			return cli_usage_error("sync takes [ACCOUNT [FOLDER]] "
					       "[--wait]");
		}
	}
	json_object_set_new(args, "wait", json_boolean(want_wait));
	if ((bars = calloc(1, sizeof(*bars))) == NULL)
		abort();
	rc = cli_call(cli, "sync", args, cli_sync_on_event, bars, NULL, &reply);
	json_decref(args);
	free(bars);
	if (rc != CLI_EXIT_OK)
		return rc;
	v = json_object_get(json_object_get(reply, "data"), "accounts");
	if (cli->is_json) {
		cli_out_json(json_object_get(reply, "data"), false);
	} else if (!want_wait) {
		json_array_foreach(v, i, a)
			printf("%s: sync requested\n", json_string_value(a));
		if (json_array_size(v) == 0)
			printf("no account can sync now (see mailsyncctl "
			       "status)\n");
	} else {
		json_array_foreach(v, i, a)
			cli_result_line(cli_str(a, "account"),
					json_object_get(a, "result"));
	}
	json_decref(reply);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_sync = {
	.name = "sync",
	.usage = "[ACCOUNT [FOLDER]] [--wait]",
	.help = "sync now; --wait shows progress and fails if the sync did",
	.run_cb = cli_sync_run,
};

static int
cli_pause_resume(struct cli *cli, int argc, char **argv, const char *cmd)
{
	json_t *args, *reply, *data, *a;
	size_t i;
	int rc;

	if (argc > 2)
		return cli_usage_error("%s takes at most an ACCOUNT", cmd);
	args = json_object();
	if (argc == 2)
		json_object_set_new(args, "account", json_string(argv[1]));
	if ((rc = cli_request(cli, cmd, args, &reply, &data)) != CLI_EXIT_OK ||
	    data == NULL)
		return rc;
	json_array_foreach(json_object_get(data, "accounts"), i, a)
		printf("%s: %s\n", json_string_value(a),
		       strcmp(cmd, "pause") == 0 ? "paused" : "resumed");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_pause_run(struct cli *cli, int argc, char **argv)
{
	return cli_pause_resume(cli, argc, argv, "pause");
}

static int
cli_resume_run(struct cli *cli, int argc, char **argv)
{
	return cli_pause_resume(cli, argc, argv, "resume");
}

const struct cli_cmd cli_cmd_pause = {
	.name = "pause",
	.usage = "[ACCOUNT]",
	.help = "stop syncing (the running pass ends) until resume",
	.run_cb = cli_pause_run,
};

const struct cli_cmd cli_cmd_resume = {
	.name = "resume",
	.usage = "[ACCOUNT]",
	.help = "sync again, starting at once",
	.run_cb = cli_resume_run,
};

/* --- watch ------------------------------------------------------------------ */

static void
cli_watch_line(struct cli *cli, json_t *ev)
{
	const char *name = cli_str(ev, "event"), *acct = cli_str(ev, "account");
	char stamp[16], text[400];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	if (strcmp(name, "progress") == 0) {
		cli_progress_text(ev, text, sizeof(text));
		printf("%s %s: ", stamp, acct);
		cli_out_safe(stdout, text);
		putchar('\n');
	} else if (strcmp(name, "state") == 0) {
		printf("%s %s: %s%s%s", stamp, acct,
		       cli_out_color(cli, cli_str(ev, "state")),
		       cli_str(ev, "state"), cli_out_reset(cli));
		if (cli_str(ev, "reason")[0] != '\0') {
			fputs(" (", stdout);
			cli_out_safe(stdout, cli_str(ev, "reason"));
			putchar(')');
		}
		putchar('\n');
	} else if (strcmp(name, "new-mail") == 0) {
		printf("%s %s: %s%llu new message%s%s\n", stamp, acct,
		       cli_out_color(cli, "bold"),
		       (unsigned long long)cli_u64(ev, "count"),
		       cli_u64(ev, "count") == 1 ? "" : "s",
		       cli_out_reset(cli));
	} else if (strcmp(name, "pass-done") == 0) {
		if (json_is_true(json_object_get(ev, "ok"))) {
			printf("%s ", stamp);
			cli_result_line(acct, ev);
		} else {
			printf("%s %s: %spass failed: ", stamp, acct,
			       cli_out_color(cli, "error"));
			cli_out_safe(stdout, cli_str(ev, "error"));
			printf("%s\n", cli_out_reset(cli));
		}
	} else {
		printf("%s %s: %s\n", stamp, acct, name);
	}
	fflush(stdout);
}

static int
cli_watch_run(struct cli *cli, int argc, char **argv)
{
	json_t *reply, *ev;
	int rc;

	(void)argv;
	if (argc > 1)
		return cli_usage_error("watch takes no argument");
	if ((rc = cli_call(cli, "watch", NULL, NULL, NULL, NULL, &reply)) !=
	    CLI_EXIT_OK)
		return rc;
	if (cli->is_json) {
		json_t *first = json_pack("{s:s,s:O}", "event", "status",
					  "accounts",
					  json_object_get(json_object_get(reply,
						  "data"), "accounts"));

		cli_out_json(first, true);
		json_decref(first);
	} else {
		printf("watching %zu account%s (Ctrl-C to stop)\n",
		       json_array_size(json_object_get(json_object_get(reply,
				"data"), "accounts")),
		       json_array_size(json_object_get(json_object_get(reply,
				"data"), "accounts")) == 1 ? "" : "s");
		fflush(stdout);
	}
	json_decref(reply);
	while ((rc = cli_next_event(cli, &ev)) == CLI_EXIT_OK) {
		if (cli->is_json)
			cli_out_json(ev, true);
		else
			cli_watch_line(cli, ev);
		json_decref(ev);
	}
	return rc;
}

const struct cli_cmd cli_cmd_watch = {
	.name = "watch",
	.usage = "",
	.help = "stream events (new mail, sync progress, errors) until "
		"interrupted",
	.run_cb = cli_watch_run,
};
