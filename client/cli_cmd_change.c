/*
 * cli_cmd_change.c - flag, move, delete: the daemon records them as
 * local changes, like a reader's, and syncs to push them.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "7", "3:9" or "3-9" into uids; false when it is not a UID or range. */
static bool
cli_uids_add(json_t *uids, const char *s)
{
	unsigned long long lo, hi;
	char *end;

	lo = strtoull(s, &end, 10);
	if (end == s || lo == 0 || lo > 0xffffffffull)
		return false;
	hi = lo;
	if (*end == ':' || *end == '-') {
		const char *p = end + 1;

		hi = strtoull(p, &end, 10);
		if (end == p || hi < lo || hi > 0xffffffffull ||
		    hi - lo >= 100000)
			return false;
	}
	if (*end != '\0')
		return false;
	for (unsigned long long u = lo; u <= hi; u++)
		json_array_append_new(uids, json_integer((json_int_t)u));
	return true;
}

/* ACCOUNT FOLDER UID... [DEST]: args gets account, folder, uids (and
 * dest); the +FLAG/-FLAG words go to add/remove when flags is set. */
static int
cli_change_args(int argc, char **argv, json_t *args, bool want_dest,
		bool want_flags)
{
	json_t *uids = json_array(), *add = json_array(), *rem = json_array();
	int last = want_dest ? argc - 1 : argc;

	json_object_set_new(args, "uids", uids);
	if (want_flags) {
		json_object_set_new(args, "add", add);
		json_object_set_new(args, "remove", rem);
	} else {
		json_decref(add);
		json_decref(rem);
	}
	if (argc < (want_dest ? 5 : 4))
		return cli_usage_error("%s needs ACCOUNT FOLDER UID...%s%s",
				       argv[0], want_dest ? " DEST" : "",
				       want_flags ? " +FLAG|-FLAG..." : "");
	json_object_set_new(args, "account", json_string(argv[1]));
	json_object_set_new(args, "folder", json_string(argv[2]));
	if (want_dest)
		json_object_set_new(args, "dest", json_string(argv[argc - 1]));
	for (int k = 3; k < last; k++) {
		const char *a = argv[k];

		if (want_flags && (a[0] == '+' || a[0] == '-') && a[1] != '\0') {
			json_array_append_new(a[0] == '+' ? add : rem,
					      json_string(a + 1));
			continue;
		}
		if (!cli_uids_add(uids, a))
			return cli_usage_error("%s: '%s' is not a UID (N, or "
					       "N:M for a range)%s", argv[0], a,
					       want_flags ? ", nor +FLAG or "
					       "-FLAG" : "");
	}
	if (json_array_size(uids) == 0)
		return cli_usage_error("%s: which UIDs?", argv[0]);
	if (want_flags && json_array_size(add) + json_array_size(rem) == 0)
		return cli_usage_error("flag: which flags? (+seen -flagged "
				       "...)");
	return -1;
}

static int
cli_change_run(struct cli *cli, int argc, char **argv, bool want_dest,
	       bool want_flags)
{
	json_t *args = json_object(), *reply, *data;
	int rc;

	if ((rc = cli_change_args(argc, argv, args, want_dest,
				  want_flags)) >= 0) {
		json_decref(args);
		return rc;
	}
	if ((rc = cli_request(cli, argv[0], args, &reply, &data)) !=
	    CLI_EXIT_OK || data == NULL)
		return rc;
	printf("%s %s: %llu of %zu message%s changed%s\n",
	       cli_str(data, "account"), cli_str(data, "folder"),
	       (unsigned long long)cli_u64(data, "changed"),
	       json_array_size(json_object_get(data, "uids")),
	       json_array_size(json_object_get(data, "uids")) == 1 ? "" : "s",
	       strcmp(cli_str(data, "sync"), "requested") == 0 ?
	       "; syncing to the server now" :
	       strcmp(cli_str(data, "sync"), "later") == 0 ?
	       "; sent when the account syncs again" : "");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_flag_run(struct cli *cli, int argc, char **argv)
{
	return cli_change_run(cli, argc, argv, false, true);
}

static int
cli_move_run(struct cli *cli, int argc, char **argv)
{
	return cli_change_run(cli, argc, argv, true, false);
}

static int
cli_delete_run(struct cli *cli, int argc, char **argv)
{
	return cli_change_run(cli, argc, argv, false, false);
}

const struct cli_cmd cli_cmd_flag = {
	.name = "flag",
	.usage = "ACCOUNT FOLDER UID... +FLAG|-FLAG...",
	.help = "+/- seen answered flagged deleted draft forwarded junk "
		"notjunk",
	.run_cb = cli_flag_run,
};

const struct cli_cmd cli_cmd_move = {
	.name = "move",
	.usage = "ACCOUNT FOLDER UID... DEST",
	.help = "move messages to the folder DEST",
	.run_cb = cli_move_run,
};

const struct cli_cmd cli_cmd_delete = {
	.name = "delete",
	.usage = "ACCOUNT FOLDER UID...",
	.help = "delete messages (as a reader's deletion does)",
	.run_cb = cli_delete_run,
};
