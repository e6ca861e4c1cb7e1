/*
 * cli.h - what mailsyncctl's files share: the connection to the daemon
 * (cli_conn.c, blocking, one request at a time), finding the socket
 * (cli_config.c), output helpers (cli_out.c) and the commands
 * (cli_cmd_*.c, listed in main.c's table).
 */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/ms.h"
#include "ctl/ctl_progress.h"
#include "ctl/ctl_proto.h"

/* Exit codes (DESIGN.md "mailsyncctl"). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,	/* the daemon reported a failure */
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_UNREACHABLE = 3,
};

struct cli {
	const char *config;		/* -c */
	const char *socket_arg;		/* -s */
	char *socket;			/* the one used; owned */
	bool is_json;
	bool is_tty;			/* stdout */
	bool is_color;			/* tty and no NO_COLOR */
	int fd;				/* -1: not connected */
	struct ctl_decoder dec;
	uint64_t next_id;
	uint8_t in[65536];
	size_t in_off, in_len;		/* bytes read, not yet fed */
	const char *daemon_version;
	char daemon_version_buf[64];
};

/* A command of mailsyncctl: parses its arguments (argv[0] is its name),
 * talks to the daemon, prints; returns the exit code. */
struct cli_cmd {
	const char *name;
	const char *usage;
	const char *help;
	int (*run_cb)(struct cli *cli, int argc, char **argv);
	/* Runs without the daemon (send): not connected first. */
	bool is_local;
};

extern const struct cli_cmd *const cli_cmds[];

/* setup's entry, the same in mailsyncctl (cli_cmd_setup_exec.c) and in
 * its helper mailsyncctl-setup (setup_cmd.c). */
#define CLI_SETUP_USAGE \
	"ADDRESS [--password-cmd CMD] [--pop3] [--yes] [--dry-run]"
#define CLI_SETUP_HELP \
	"find IMAP/POP3/SMTP settings and write a checked account"

/* --- the connection (cli_conn.c) ---------------------------------------- */

/* Connects and reads the hello: CLI_EXIT_OK, or prints why and returns
 * CLI_EXIT_UNREACHABLE. */
int cli_connect(struct cli *cli);
void cli_disconnect(struct cli *cli);

/* Called for every event that arrives while waiting for a reply. */
typedef void cli_event_fn(struct cli *cli, const char *name, json_t *ev,
			  void *arg);

/*
 * Sends a request (args borrowed; NULL: none) and waits for its reply;
 * events on the way go to ev_cb (may be NULL).  On ok: CLI_EXIT_OK with
 * the reply's frame in *reply_r (json_decref() it; "data" is inside).
 * On a failed reply: prints it (as JSON with --json) and returns
 * CLI_EXIT_FAIL, or CLI_EXIT_USAGE for bad-args and unknown-command.
 * CLI_EXIT_UNREACHABLE when the daemon cannot be reached or goes away.
 * With payload_out, an announced payload is copied there.
 */
int cli_call(struct cli *cli, const char *cmd, json_t *args,
	     cli_event_fn *ev_cb, void *ev_arg, FILE *payload_out,
	     json_t **reply_r);

/*
 * cli_call() as most commands use it: args (stolen; NULL: none) sent,
 * no events, no payload.  With --json the reply's data is printed and
 * *data_r is NULL; else *data_r points into *reply_r, which the caller
 * json_decref()s.  Returns cli_call()'s exit code.
 */
int cli_request(struct cli *cli, const char *cmd, json_t *args,
		json_t **reply_r, json_t **data_r);

/* Waits for the next event (watch); CLI_EXIT_OK with its frame in
 * *ev_r, or CLI_EXIT_UNREACHABLE when the daemon goes away. */
int cli_next_event(struct cli *cli, json_t **ev_r);

/* --- the config (cli_config.c) ------------------------------------------- */

/* Finds the socket: -s, else [general] socket of the config (-c, or the
 * daemon's search order), else the daemon's default.  CLI_EXIT_OK, or
 * CLI_EXIT_USAGE after printing why. */
int cli_find_socket(struct cli *cli);

/* --- output (cli_out.c) ----------------------------------------------------- */

void cli_out_init(struct cli *cli);
/* Prints JSON as one document (pretty unless compact) and a newline. */
void cli_out_json(json_t *j, bool compact);
/* "2026-12-07 14:03" in local time; "never" for null. */
void cli_out_time(json_t *ms, char *buf, size_t size);
/* "in 4m", "3h ago"; relative to now. */
void cli_out_when(json_t *ms, char *buf, size_t size);
/* "1.2 MB", "830 B". */
void cli_out_size(uint64_t bytes, char *buf, size_t size);
/* The escape that starts a colour (a state's), or "" without colour. */
const char *cli_out_color(const struct cli *cli, const char *state);
const char *cli_out_reset(const struct cli *cli);
/* Prints s with control characters escaped (server text on a tty). */
void cli_out_safe(FILE *f, const char *s);
/* At most n characters of UTF-8 src into dst (never a partial one). */
void cli_out_chars(char *dst, size_t size, const char *src, size_t n);
/* Columns of a terminal (80 when unknown). */
unsigned cli_out_columns(void);

/* "INBOX: 3/12 folders, 1200/18000 messages, 12.3 MB, 2.1 MB/s" of a
 * progress object. */
void cli_progress_text(json_t *p, char *buf, size_t size);
/* A "progress" object's numbers; the folder points into p. */
void cli_progress_read(json_t *p, struct ctl_progress *cp_r);

/* Usage error: prints "mailsyncctl: ..." and a hint; CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* JSON helpers for reading replies. */
const char *cli_str(json_t *o, const char *key);
uint64_t cli_u64(json_t *o, const char *key);

#endif
