/*
 * cli_cmd_outbox.c - outbox [ACCOUNT], outbox show|retry|drop ID: the
 * queue of outgoing mail, one row per message (state, attempts, next
 * try, recipients, subject, the server's last reply), and the user's
 * word on one entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_table.h"

/* "a@x, b@y" of a JSON array of strings (or of {"rcpt"} objects). */
static void
cli_outbox_join(json_t *v, char *buf, size_t size)
{
	size_t i, pos = 0;
	json_t *x;

	buf[0] = '\0';
	json_array_foreach(v, i, x) {
		const char *a = json_is_string(x) ? json_string_value(x) :
				cli_str(x, "rcpt");
		int n = snprintf(buf + pos, size - pos, "%s%s",
				 i > 0 ? ", " : "", a != NULL ? a : "?");

		if (n < 0 || (size_t)n >= size - pos)
			break;
		pos += (size_t)n;
	}
}

/* The state column: "possibly sent" where the window was hit. */
static const char *
cli_outbox_state(json_t *e, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", cli_str(e, "state"),
		 json_is_true(json_object_get(e, "possibly_sent")) ?
		 " (possibly sent)" : "");
	return buf;
}

static int
cli_outbox_list(struct cli *cli, const char *account)
{
	static const char *const head[8] = { "ID", "ACCOUNT", "STATE",
		"TRIES", "NEXT", "TO", "SUBJECT", "LAST REPLY" };
	json_t *reply = NULL, *data, *e, *args = json_object();
	struct cli_table t;
	size_t i;
	int rc;

	if (account != NULL)
		json_object_set_new(args, "account", json_string(account));
	json_object_set_new(args, "op", json_string("list"));
	if ((rc = cli_request(cli, "outbox", args, &reply, &data)) !=
	    CLI_EXIT_OK || data == NULL)
		return rc;
	if (json_array_size(json_object_get(data, "entries")) == 0) {
		puts("the outbox is empty");
		json_decref(reply);
		return CLI_EXIT_OK;
	}
	cli_table_init(&t, 8);
	t.color_col = 2;
	cli_table_add(&t, head, NULL);
	json_array_foreach(json_object_get(data, "entries"), i, e) {
		char id[24], tries[16], next[40], to[300], state[48];
		const char *st = cli_str(e, "state");
		json_t *pending = json_object_get(e, "recipients");
		const char *row[8] = { id, cli_str(e, "account"),
			cli_outbox_state(e, state, sizeof(state)), tries, next,
			to, cli_str(e, "subject"), cli_str(e, "last_reply") };

		snprintf(id, sizeof(id), "%llu",
			 (unsigned long long)cli_u64(e, "id"));
		snprintf(tries, sizeof(tries), "%llu",
			 (unsigned long long)cli_u64(e, "attempts"));
		next[0] = '\0';
		if (cli_u64(e, "next_ms") > 0)
			cli_out_when(json_object_get(e, "next_ms"), next,
				     sizeof(next));
		cli_outbox_join(json_array_size(pending) > 0 ? pending :
				json_object_get(e, "delivered"), to,
				sizeof(to));
		cli_table_add(&t, row, cli_out_color(cli,
			      strcmp(st, "failed") == 0 ? "error" :
			      strcmp(st, "sent") == 0 ? "idle" : "syncing"));
	}
	cli_table_print(&t, stdout, cli->is_tty ? cli_out_columns() : 10000,
			cli_out_reset(cli));
	cli_table_deinit(&t);
	json_decref(reply);
	return CLI_EXIT_OK;
}

static void
cli_outbox_line(const char *what, const char *value)
{
	printf("%-13s ", what);
	cli_out_safe(stdout, value != NULL ? value : "");
	putchar('\n');
}

static int
cli_outbox_show(struct cli *cli, uint64_t id)
{
	json_t *reply = NULL, *data, *x;
	char buf[4096], when[64];
	size_t i;
	int rc;

	rc = cli_request(cli, "outbox", json_pack("{s:s,s:I}", "op", "show",
						  "id", (json_int_t)id),
			 &reply, &data);
	if (rc != CLI_EXIT_OK || data == NULL)
		return rc;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)id);
	cli_outbox_line("id:", buf);
	cli_outbox_line("account:", cli_str(data, "account"));
	cli_outbox_line("state:", cli_outbox_state(data, buf, sizeof(buf)));
	cli_outbox_line("subject:", cli_str(data, "subject"));
	cli_outbox_line("message-id:", cli_str(data, "message_id"));
	cli_outbox_line("from:", cli_str(data, "from"));
	cli_outbox_join(json_object_get(data, "recipients"), buf, sizeof(buf));
	cli_outbox_line("waiting:", buf);
	cli_outbox_join(json_object_get(data, "delivered"), buf, sizeof(buf));
	cli_outbox_line("delivered:", buf);
	json_array_foreach(json_object_get(data, "rejected"), i, x) {
		snprintf(buf, sizeof(buf), "%s: %s", cli_str(x, "rcpt"),
			 cli_str(x, "reply"));
		cli_outbox_line("refused:", buf);
	}
	snprintf(buf, sizeof(buf), "%llu",
		 (unsigned long long)cli_u64(data, "attempts"));
	cli_outbox_line("attempts:", buf);
	cli_out_time(json_object_get(data, "created_ms"), when, sizeof(when));
	cli_outbox_line("queued:", when);
	if (cli_u64(data, "next_ms") > 0) {
		cli_out_when(json_object_get(data, "next_ms"), when,
			     sizeof(when));
		cli_outbox_line("next try:", when);
	}
	cli_outbox_line("last reply:", cli_str(data, "last_reply"));
	cli_outbox_line("sent copy:", cli_str(data, "sent_copy"));
	if (json_is_true(json_object_get(data, "possibly_sent")))
		puts("note:         the connection ended after the message "
		     "and before the\n              server's reply once: it "
		     "may have arrived before (see mailsyncd(1), SENDING)");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_outbox_run(struct cli *cli, int argc, char **argv)
{
	const char *op = argc >= 2 ? argv[1] : NULL;
	unsigned long long id;
	json_t *reply = NULL, *data;
	char *end;
	int rc;

	if (op == NULL || (argc == 2 && strcmp(op, "show") != 0 &&
			   strcmp(op, "retry") != 0 && strcmp(op, "drop") != 0))
		return cli_outbox_list(cli, op);
	if (argc != 3 || (strcmp(op, "show") != 0 &&
			  strcmp(op, "retry") != 0 && strcmp(op, "drop") != 0))
		return cli_usage_error("outbox takes [ACCOUNT], or show, retry "
				       "or drop and an ID");
	errno = 0;
	id = strtoull(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[2] || id == 0)
		return cli_usage_error("'%s' is not an outbox ID (mailsyncctl "
				       "outbox lists them)", argv[2]);
	if (strcmp(op, "show") == 0)
		return cli_outbox_show(cli, id);
	rc = cli_request(cli, "outbox", json_pack("{s:s,s:I}", "op", op, "id",
						  (json_int_t)id),
			 &reply, &data);
	if (rc == CLI_EXIT_OK && data != NULL)
		printf("outbox %llu: %s\n", id, strcmp(op, "drop") == 0 ?
		       "dropped" : "queued for an attempt now");
	json_decref(reply);
	return rc;
}

const struct cli_cmd cli_cmd_outbox = {
	.name = "outbox",
	.usage = "[ACCOUNT] | show|retry|drop ID",
	.help = "the queue of outgoing mail; show, retry or drop an entry",
	.run_cb = cli_outbox_run,
};
