/*
 * cli_cmd_mail.c - folders, list, cat, search: reading what the daemon's
 * store holds.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_table.h"
#include "common/base64.h"

/* "N" unread, "F" flagged, "R" answered, "P" forwarded, "D" draft, "T"
 * deleted, as mutt's index shows them. */
static void
cli_flag_letters(json_t *flags, char *buf, size_t size)
{
	static const struct {
		const char *name;
		char letter;
	} map[] = {
		{ "\\Flagged", 'F' }, { "\\Answered", 'R' },
		{ "$Forwarded", 'P' }, { "\\Draft", 'D' },
		{ "\\Deleted", 'T' },
	};
	bool is_seen = false;
	json_t *f;
	size_t i, n = 0;

	json_array_foreach(flags, i, f)
		if (strcmp(json_string_value(f), "\\Seen") == 0)
			is_seen = true;
	if (!is_seen && n + 1 < size)
		buf[n++] = 'N';
	for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++)
		json_array_foreach(flags, i, f)
			if (strcmp(json_string_value(f), map[k].name) == 0 &&
			    n + 1 < size)
				buf[n++] = map[k].letter;
	buf[n] = '\0';
}

/* --- folders ----------------------------------------------------------------- */

static int
cli_folders_run(struct cli *cli, int argc, char **argv)
{
	static const char *const head[] = { "ACCOUNT", "FOLDER", "MESSAGES",
		"UNREAD", "FLAGGED", "SIZE", "LAST SYNC" };
	json_t *args, *reply, *data, *f;
	struct cli_table t;
	bool want_names = false;
	const char *account = NULL;
	size_t i;
	int rc;

	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--names") == 0)
			want_names = true;
		else if (argv[k][0] == '-' || account != NULL)
			return cli_usage_error("folders takes [ACCOUNT] "
					       "[--names]");
		else
			account = argv[k];
	}
	args = json_object();
	if (account != NULL)
		json_object_set_new(args, "account", json_string(account));
	if ((rc = cli_request(cli, "folders", args, &reply, &data)) !=
	    CLI_EXIT_OK || data == NULL)
		return rc;
	if (want_names) {
		/* One a line, for scripts and shell completion. */
		json_array_foreach(json_object_get(data, "folders"), i, f)
			printf("%s\n", cli_str(f, "name"));
		json_decref(reply);
		return CLI_EXIT_OK;
	}
	cli_table_init(&t, 7);
	t.color_col = 3;
	cli_table_add(&t, head, NULL);
	json_array_foreach(json_object_get(data, "folders"), i, f) {
		char n[24], unread[24], flagged[24], size[32], last[40];
		const char *row[7] = { cli_str(f, "account"), cli_str(f, "name"),
			n, unread, flagged, size, last };

		snprintf(n, sizeof(n), "%llu",
			 (unsigned long long)cli_u64(f, "messages"));
		snprintf(unread, sizeof(unread), "%llu",
			 (unsigned long long)cli_u64(f, "unread"));
		snprintf(flagged, sizeof(flagged), "%llu",
			 (unsigned long long)cli_u64(f, "flagged"));
		cli_out_size(cli_u64(f, "bytes"), size, sizeof(size));
		cli_out_time(json_object_get(f, "last_sync"), last,
			     sizeof(last));
		cli_table_add(&t, row, cli_u64(f, "unread") > 0 ?
			      cli_out_color(cli, "bold") : NULL);
	}
	cli_table_print(&t, stdout, cli->is_tty ? cli_out_columns() : 10000,
			cli_out_reset(cli));
	cli_table_deinit(&t);
	json_decref(reply);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_folders = {
	.name = "folders",
	.usage = "[ACCOUNT] [--names]",
	.help = "folders with their counts, unread and size (--names: one "
		"name a line)",
	.run_cb = cli_folders_run,
};

/* --- list and search -------------------------------------------------------------- */

/* The messages of a list or search reply, as an aligned table. */
static void
cli_msgs_print(const struct cli *cli, json_t *msgs, bool with_folder)
{
	static const char *const head[] = { "UID", "DATE", "FLAGS", "SIZE",
		"FROM", "SUBJECT", "FOLDER" };
	const char *hrow[7];
	struct cli_table t;
	json_t *m;
	size_t i;

	/* The folder, when there is one, comes before the subject, which
	 * is last so it can be cut to the terminal. */
	memcpy(hrow, head, sizeof(head));
	if (with_folder) {
		hrow[5] = "FOLDER";
		hrow[6] = "SUBJECT";
	}
	cli_table_init(&t, with_folder ? 7 : 6);
	t.color_col = 2;
	cli_table_add(&t, hrow, NULL);
	json_array_foreach(msgs, i, m) {
		char uid[16], date[40], flags[16], size[32], from[64];
		const char *row[7] = { uid, date, flags, size, from };
		json_t *d = json_object_get(m, "date");
		time_t when;
		struct tm tm;

		snprintf(uid, sizeof(uid), "%llu",
			 (unsigned long long)cli_u64(m, "uid"));
		when = (time_t)(json_is_integer(d) ? json_integer_value(d) :
				json_integer_value(json_object_get(m,
						"internal_date")));
		localtime_r(&when, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
		cli_flag_letters(json_object_get(m, "flags"), flags,
				 sizeof(flags));
		cli_out_size(cli_u64(m, "size"), size, sizeof(size));
		cli_out_chars(from, sizeof(from), cli_str(m, "from"), 30);
		row[5] = with_folder ? cli_str(m, "folder") :
			cli_str(m, "subject");
		row[6] = with_folder ? cli_str(m, "subject") : NULL;
		cli_table_add(&t, row, strchr(flags, 'N') != NULL ?
			      cli_out_color(cli, "bold") : NULL);
	}
	cli_table_print(&t, stdout, cli->is_tty ? cli_out_columns() : 10000,
			cli_out_reset(cli));
	cli_table_deinit(&t);
}

/* "2026-12-01", "2026-12-01 14:30" (local time) or "7d" (days ago). */
static bool
cli_parse_since(const char *s, json_int_t *t_r)
{
	struct tm tm = { .tm_isdst = -1 };
	char *end;
	long days;

	days = strtol(s, &end, 10);
	if (end != s && strcmp(end, "d") == 0 && days >= 0) {
		*t_r = (json_int_t)time(NULL) - (json_int_t)days * 86400;
		return true;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end != NULL && *end == ' ')
		end = strptime(end + 1, "%H:%M", &tm);
	if (end == NULL || *end != '\0')
		return false;
	*t_r = (json_int_t)mktime(&tm);
	return true;
}

/* --unread, --limit N, --since DATE into args; the rest into pos. */
static int
cli_list_opts(int argc, char **argv, json_t *args, char **pos, int *npos,
	      int max_pos)
{
	for (int k = 1; k < argc; k++) {
		const char *a = argv[k];
		json_int_t v;
		char *end;

		if (strcmp(a, "--unread") == 0) {
			json_object_set_new(args, "unread", json_true());
		} else if (strcmp(a, "--limit") == 0 || strcmp(a, "-n") == 0) {
			if (k + 1 == argc || (v = strtoll(argv[k + 1], &end,
							  10)) < 0 ||
			    *end != '\0' || end == argv[k + 1])
				return cli_usage_error("%s needs a count", a);
			json_object_set_new(args, "limit", json_integer(v));
			k++;
		} else if (strcmp(a, "--since") == 0) {
			if (k + 1 == argc || !cli_parse_since(argv[k + 1], &v))
				return cli_usage_error("--since needs a date: "
						       "YYYY-MM-DD, \"YYYY-MM-DD "
						       "HH:MM\" or Nd");
			json_object_set_new(args, "since", json_integer(v));
			k++;
		} else if (a[0] == '-' && a[1] != '\0') {
			return cli_usage_error("%s: unknown option '%s'",
					       argv[0], a);
		} else if (*npos < max_pos) {
			pos[(*npos)++] = argv[k];
		} else {
			return cli_usage_error("%s: unexpected '%s'", argv[0],
					       a);
		}
	}
	return -1;
}

static int
cli_list_run(struct cli *cli, int argc, char **argv)
{
	json_t *args = json_object(), *reply, *data;
	char *pos[2];
	int npos = 0, rc;

	if ((rc = cli_list_opts(argc, argv, args, pos, &npos, 2)) >= 0 ||
	    npos != 2) {
		json_decref(args);
		return rc >= 0 ? rc : cli_usage_error("list needs ACCOUNT "
						      "FOLDER");
	}
	json_object_set_new(args, "account", json_string(pos[0]));
	json_object_set_new(args, "folder", json_string(pos[1]));
	if ((rc = cli_request(cli, "list", args, &reply, &data)) !=
	    CLI_EXIT_OK || data == NULL)
		return rc;
	cli_msgs_print(cli, json_object_get(data, "messages"), false);
	json_decref(reply);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_list = {
	.name = "list",
	.usage = "ACCOUNT FOLDER [--unread] [--limit N] [--since DATE]",
	.help = "the messages of a folder (the newest N with --limit)",
	.run_cb = cli_list_run,
};

static int
cli_search_run(struct cli *cli, int argc, char **argv)
{
	json_t *args = json_object(), *reply, *data;
	char *pos[3];
	int npos = 0, rc;

	if ((rc = cli_list_opts(argc, argv, args, pos, &npos, 3)) >= 0 ||
	    npos < 2) {
		json_decref(args);
		return rc >= 0 ? rc : cli_usage_error("search needs ACCOUNT "
						      "[FOLDER] TEXT");
	}
	json_object_set_new(args, "account", json_string(pos[0]));
	if (npos == 3)
		json_object_set_new(args, "folder", json_string(pos[1]));
	json_object_set_new(args, "text", json_string(pos[npos - 1]));
	if ((rc = cli_request(cli, "search", args, &reply, &data)) !=
	    CLI_EXIT_OK || data == NULL)
		return rc;
	cli_msgs_print(cli, json_object_get(data, "messages"), true);
	json_decref(reply);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_search = {
	.name = "search",
	.usage = "ACCOUNT [FOLDER] TEXT [--unread] [--limit N] [--since DATE]",
	.help = "messages whose subject, from, to or Message-ID has TEXT",
	.run_cb = cli_search_run,
};

/* --- cat ----------------------------------------------------------------------- */

/* --json: the message as base64 next to its metadata. */
static int
cli_cat_json(struct cli *cli, json_t *args)
{
	json_t *reply, *d;
	FILE *mem;
	char *body = NULL;
	size_t len = 0;
	struct ms_buf b64;
	int rc;

	if ((mem = open_memstream(&body, &len)) == NULL)
		abort();
	rc = cli_call(cli, "cat", args, NULL, NULL, mem, &reply);
	fclose(mem);
	if (rc == CLI_EXIT_OK) {
		ms_buf_init(&b64, ms_base64_encoded_len(len) + 1);
		d = json_object_get(reply, "data");
		if (ms_base64_encode(&b64, body, len) != MS_OK)
			abort();
		json_object_set_new(d, "body_base64",
				    json_stringn((const char *)b64.p, b64.len));
		cli_out_json(d, false);
		ms_buf_deinit(&b64);
		json_decref(reply);
	}
	free(body);
	return rc;
}

static int
cli_cat_run(struct cli *cli, int argc, char **argv)
{
	json_t *args, *reply;
	char *end;
	unsigned long long uid;
	int rc;

	if (argc != 4)
		return cli_usage_error("cat needs ACCOUNT FOLDER UID");
	uid = strtoull(argv[3], &end, 10);
	if (end == argv[3] || *end != '\0' || uid == 0 || uid > 0xffffffffull)
		return cli_usage_error("cat: '%s' is not a UID", argv[3]);
	args = json_pack("{s:s,s:s,s:I}", "account", argv[1], "folder",
			 argv[2], "uid", (json_int_t)uid);
	if (cli->is_json) {
		rc = cli_cat_json(cli, args);
		json_decref(args);
		return rc;
	}
	rc = cli_call(cli, "cat", args, NULL, NULL, stdout, &reply);
	json_decref(args);
	if (rc == CLI_EXIT_OK)
		json_decref(reply);
	return rc;
}

const struct cli_cmd cli_cmd_cat = {
	.name = "cat",
	.usage = "ACCOUNT FOLDER UID",
	.help = "the raw message on stdout, byte for byte",
	.run_cb = cli_cat_run,
};
