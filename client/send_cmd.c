/*
 * send_cmd.c - `mailsyncctl send [-t] [-f FROM] [-F NAME] [-i] [-oi]
 * [--account NAME] [RCPT...]`: reads a message on stdin, works out its
 * recipients and account, completes its header (Date, Message-ID, From)
 * and makes it durable in the daemon's spool (send_spool.h).
 *
 * The order, and why:
 *   options -> config (same search as the daemon, for the spool and the
 *   accounts' from lists) -> message (read to EOF; CRLF line ends, as it
 *   goes on the wire) -> recipients (arguments, plus To/Cc/Bcc with -t)
 *   -> account (--account, else -f, else From) -> header completed, Bcc
 *   removed -> spool.  Every refusal happens before anything is written,
 *   so a failed call leaves nothing behind.
 */
#include "send_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cfg/cfg.h"
#include "cli.h"
#include "send_spool.h"
#include "smtp/smtp_msg.h"
#include "smtp/smtp_spool.h"

/* A message larger than this is refused (exit 2), not queued. */
#define SEND_MAX_MESSAGE (64u * 1024 * 1024)	/* as the daemon sends */
#define SEND_MAX_RCPTS_BYTES (64u * 1024)

struct send_opts {
	bool want_headers;	/* -t */
	bool want_dots;		/* not -i: a lone "." line ends the input */
	const char *from;	/* -f / -r */
	const char *full_name;	/* -F */
	const char *account;	/* --account */
	bool want_wait;		/* --wait */
	char **rcpts;		/* the arguments left */
	int n_rcpts;
};

/* What the message's header says. */
struct send_header {
	char from[256];		/* the From address, or "" */
	bool has_date, has_message_id, has_from;
};

void
send_cmd_usage(FILE *out)
{
	fputs("usage: mailsyncctl [-c FILE] send [-t] [-f FROM] [-F NAME] "
	      "[-i] [-oi]\n"
	      "                   [--account NAME] [RCPT...] < message\n"
	      "  Queues the message on stdin for the daemon to deliver "
	      "(also while it is\n"
	      "  stopped); exits 0 once the message is durable.  "
	      "Recipients are the\n"
	      "  arguments, plus To, Cc and Bcc with -t; Bcc is never sent.  "
	      "The account\n"
	      "  is --account, else the one whose from list has -f, else "
	      "the From address.\n"
	      "  -i, -oi: a line with a lone '.' does not end the message.\n"
	      "  --wait: then wait for the first attempt and print the server's "
	      "reply\n"
	      "  (exit 0 sent, 1 refused, 75 queued for a retry, 3 no daemon).\n"
	      "  Exit: 0 queued, 2 no recipient, no account or unreadable "
	      "input,\n"
	      "  75 nothing could be queued (try again).\n", out);
}

static int
send_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
send_fail(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("mailsyncctl send: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* --- options ------------------------------------------------------------- */

/*
 * sendmail's options as readers pass them.  -o and -b take a letter
 * glued on (-oi, -oem, -bm); of those only -oi means anything here.
 * Returns -1 to go on, or an exit status.
 */
static int
send_parse_args(int argc, char **argv, struct send_opts *o)
{
	static const struct option longopts[] = {
		{ "account", required_argument, NULL, 'A' },
		{ "wait", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->want_dots = true;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":tf:r:F:io:b:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 't': o->want_headers = true; break;
		case 'f': case 'r': o->from = optarg; break;
		case 'F': o->full_name = optarg; break;
		case 'i': o->want_dots = false; break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				o->want_dots = false;
			break;	/* -oem, -odb, ...: sendmail's, no meaning */
		case 'b':
			if (strcmp(optarg, "m") != 0)
				return send_fail(SEND_EXIT_USAGE, "-b%s is not "
						 "supported (only -bm, "
						 "deliver mail)", optarg);
			break;
		case 'A': o->account = optarg; break;
		case 'W': o->want_wait = true; break;
		case 'h':
			send_cmd_usage(stdout);
			return SEND_EXIT_OK;
		case ':':
			return send_fail(SEND_EXIT_USAGE, "option '%s' needs "
					 "an argument", argv[optind - 1]);
		default:
			return send_fail(SEND_EXIT_USAGE, "unknown option "
					 "'%s' (try 'mailsyncctl send "
					 "--help')", argv[optind - 1]);
		}
	}
	o->rcpts = argv + optind;
	o->n_rcpts = argc - optind;
	return -1;
}

static const struct cfg *
send_load_config(const char *path, struct cfg **cfg_r)
{
	const struct cfg_env *env = cfg_env_system();
	struct cfg_report rep;
	char *found = NULL;

	*cfg_r = NULL;
	cfg_report_init(&rep);
	if (path == NULL && cfg_path_search(env, &found, &rep) == MS_OK)
		path = found;
	if (path != NULL && cfg_load(path, env, cfg_r, &rep) != MS_OK)
		*cfg_r = NULL;
	cfg_report_print(&rep, stderr);
	cfg_report_deinit(&rep);
	free(found);
	return *cfg_r;
}

/* --- the message ------------------------------------------------------------ */

/* All of stdin into raw.  MS_OK, MS_ETOOBIG or MS_EIO. */
static int
send_read_stdin(struct ms_buf *raw)
{
	uint8_t chunk[65536];
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return MS_EIO;
		if (n == 0)
			return MS_OK;
		if (ms_buf_append(raw, chunk, (size_t)n) != MS_OK)
			return MS_ETOOBIG;
	}
}

/* Without -i, sendmail ends the input at a line holding only ".". */
static size_t
send_dot_end(struct ms_slice m)
{
	for (size_t i = 0; i < m.len; ) {
		const uint8_t *lf = memchr(m.p + i, '\n', m.len - i);
		size_t end = lf != NULL ? (size_t)(lf - m.p) : m.len;
		size_t len = end - i;

		if ((len == 1 && m.p[i] == '.') ||
		    (len == 2 && m.p[i] == '.' && m.p[i + 1] == '\r'))
			return i;
		i = end + 1;
	}
	return m.len;
}

static bool
send_is_field(const struct smtp_msg_field *f, const char *name)
{
	return ms_slice_case_eq_cstr(f->name, name);
}

/*
 * Reads the header: recipients of To/Cc/Bcc (with -t) into rcpts, the
 * From address, which fields exist; copies every field but Bcc into out.
 * Returns MS_OK or an exit status already printed (> 0).
 */
static int
send_scan_header(struct ms_slice m, const struct send_opts *o,
		 struct send_header *h, struct ms_buf *rcpts,
		 struct ms_buf *out)
{
	struct smtp_msg_field f;
	struct ms_buf addrs;
	size_t pos = 0;
	int rc;

	ms_buf_init(&addrs, SEND_MAX_RCPTS_BYTES);
	while (smtp_msg_next_field(m, &pos, &f)) {
		bool is_rcpt = send_is_field(&f, "To") ||
			       send_is_field(&f, "Cc") ||
			       send_is_field(&f, "Bcc");

		if (is_rcpt && o->want_headers) {
			rc = smtp_addr_list_parse(f.value, rcpts, NULL);
			if (rc != MS_OK) {
				ms_buf_deinit(&addrs);
				return send_fail(SEND_EXIT_USAGE, "cannot read "
						 "the addresses of %.*s: "
						 "%.*s", (int)f.name.len,
						 (const char *)f.name.p,
						 (int)(f.value.len > 200 ? 200 :
						       f.value.len),
						 (const char *)f.value.p);
			}
		}
		if (send_is_field(&f, "From")) {
			h->has_from = true;
			ms_buf_reset(&addrs);
			if (smtp_addr_list_parse(f.value, &addrs, NULL) ==
			    MS_OK && addrs.len > 0) {
				size_t l = strcspn((char *)addrs.p, "\n");

				snprintf(h->from, sizeof(h->from), "%.*s",
					 (int)l, (char *)addrs.p);
			}
		}
		h->has_date |= send_is_field(&f, "Date");
		h->has_message_id |= send_is_field(&f, "Message-ID");
		/* Bcc is the one field no recipient may see. */
		if (send_is_field(&f, "Bcc"))
			continue;
		/* The last field may lack its line end (no body). */
		if (ms_buf_append(out, f.raw.p, f.raw.len) != MS_OK ||
		    (f.raw.p[f.raw.len - 1] != '\n' &&
		     ms_buf_append(out, "\r\n", 2) != MS_OK)) {
			ms_buf_deinit(&addrs);
			return send_fail(SEND_EXIT_USAGE, "message too large");
		}
	}
	ms_buf_deinit(&addrs);
	return MS_OK;
}

/* The domain for a Message-ID: the sender's, else the host name. */
static void
send_msgid_domain(const char *from, char *out, size_t outsz)
{
	const char *at = strrchr(from, '@');

	if (at != NULL && at[1] != '\0') {
		snprintf(out, outsz, "%s", at + 1);
		return;
	}
	if (gethostname(out, outsz) < 0 || out[0] == '\0')
		snprintf(out, outsz, "localhost");
	out[outsz - 1] = '\0';
}

/* Date:, Message-ID: and From: where the header lacks them. */
static int
send_complete_header(const struct send_header *h, const struct send_opts *o,
		     const char *env_from, struct ms_buf *out)
{
	char date[64], domain[256];
	uint32_t rnd[2] = { 0, 0 };
	time_t now = time(NULL);
	struct tm tm;
	int rc = MS_OK;

	if (!h->has_date) {
		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		rc = ms_buf_printf(out, "Date: %s\r\n", date);
	}
	if (rc == MS_OK && !h->has_message_id) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			rnd[0] ^= (uint32_t)clock() ^ (uint32_t)getpid();
		send_msgid_domain(env_from, domain, sizeof(domain));
		rc = ms_buf_printf(out, "Message-ID: <%lld.%08x%08x.mailsync@"
				   "%s>\r\n", (long long)now, rnd[0], rnd[1],
				   domain);
	}
	if (rc == MS_OK && !h->has_from) {
		if (o->full_name != NULL && o->full_name[0] != '\0')
			rc = ms_buf_printf(out, "From: \"%s\" <%s>\r\n",
					   o->full_name, env_from);
		else
			rc = ms_buf_printf(out, "From: %s\r\n", env_from);
	}
	return rc;
}

/* --- recipients and account ----------------------------------------------- */

/* Appends each argument's addresses ("Name <a@b>", "a@b, c@d" allowed). */
static int
send_args_rcpts(const struct send_opts *o, struct ms_buf *rcpts)
{
	for (int i = 0; i < o->n_rcpts; i++) {
		size_t n = 0;

		if (smtp_addr_list_parse(ms_slice_from_cstr(o->rcpts[i]), rcpts,
					 &n) != MS_OK || n == 0)
			return send_fail(SEND_EXIT_USAGE, "'%s' is not a "
					 "recipient address", o->rcpts[i]);
	}
	return MS_OK;
}

/* Drops repeated recipients (compared without case), keeping the order. */
static void
send_dedupe(struct ms_buf *rcpts)
{
	char *s = (char *)rcpts->p, *w = s, *line;
	size_t kept = 0;

	if (s == NULL)
		return;
	for (line = s; *line != '\0'; ) {
		size_t len = strcspn(line, "\n");
		bool is_dup = false;

		for (char *k = s; k < s + kept && !is_dup; ) {
			size_t kl = strcspn(k, "\n");

			is_dup = kl == len && strncasecmp(k, line, len) == 0;
			k += kl + 1;
		}
		if (!is_dup) {
			memmove(w, line, len);
			w[len] = '\n';
			w += len + 1;
			kept = (size_t)(w - s);
		}
		line += len + (line[len] == '\n');
	}
	rcpts->len = kept;
	s[kept] = '\0';
}

static bool
send_account_has(const struct cfg_account *a, const char *addr)
{
	for (size_t i = 0; i < a->from.n; i++)
		if (strcasecmp(a->from.v[i], addr) == 0)
			return true;
	return false;
}

/* The account to send with; prints why none and returns NULL. */
static const struct cfg_account *
send_pick_account(const struct cfg *cfg, const struct send_opts *o,
		  const struct send_header *h)
{
	const char *addr = o->from != NULL ? o->from : h->from;

	if (o->account != NULL) {
		const struct cfg_account *a = cfg_account_find(cfg,
							       o->account);

		if (a == NULL)
			send_fail(0, "no account '%s' in %s", o->account,
				  cfg->file);
		else if (a->smtp_host == NULL)
			send_fail(0, "account '%s' does not send (it has no "
				  "smtp_host in %s)", o->account, cfg->file);
		return a != NULL && a->smtp_host != NULL ? a : NULL;
	}
	for (size_t i = 0; addr[0] != '\0' && i < cfg->n_accounts; i++)
		if (cfg->accounts[i].smtp_host != NULL &&
		    send_account_has(&cfg->accounts[i], addr))
			return &cfg->accounts[i];
	if (addr[0] == '\0')
		send_fail(0, "no account: the message has no From address "
			  "(give -f ADDRESS or --account NAME)");
	else
		send_fail(0, "no account sends as '%s' (add it to an "
			  "account's from list in %s, or give --account "
			  "NAME)", addr, cfg->file);
	return NULL;
}

/* --- the command ------------------------------------------------------------ */

struct send_job {
	struct send_opts o;
	struct cfg *cfg;
	struct ms_buf raw, msg, out, rcpts, env;
	struct send_header h;
};

static void
send_job_deinit(struct send_job *j)
{
	cfg_free(&j->cfg);
	ms_buf_deinit(&j->raw);
	ms_buf_deinit(&j->msg);
	ms_buf_deinit(&j->out);
	ms_buf_deinit(&j->rcpts);
	ms_buf_deinit(&j->env);
}

/* Everything before the spool; MS_OK or an exit status (printed). */
static int
send_prepare(struct send_job *j)
{
	const struct cfg_account *a;
	struct ms_slice m;
	size_t hend;
	int rc;

	rc = send_read_stdin(&j->raw);
	if (rc == MS_ETOOBIG)
		return send_fail(SEND_EXIT_USAGE, "the message is larger than "
				 "%u MiB", SEND_MAX_MESSAGE >> 20);
	if (rc != MS_OK)
		return send_fail(SEND_EXIT_USAGE, "cannot read the message on "
				 "stdin: %s", strerror(errno));
	m = (struct ms_slice){ j->raw.p, j->raw.len };
	if (j->o.want_dots)
		m.len = send_dot_end(m);
	if (m.len == 0)
		return send_fail(SEND_EXIT_USAGE, "the message on stdin is "
				 "empty");
	if (smtp_msg_crlf(m, &j->msg) != MS_OK)
		return send_fail(SEND_EXIT_USAGE, "the message is too large");
	m = (struct ms_slice){ j->msg.p, j->msg.len };
	if ((rc = send_args_rcpts(&j->o, &j->rcpts)) != MS_OK)
		return rc;
	if ((rc = send_scan_header(m, &j->o, &j->h, &j->rcpts, &j->out)) !=
	    MS_OK)
		return rc;
	send_dedupe(&j->rcpts);
	if (j->rcpts.len == 0)
		return send_fail(SEND_EXIT_USAGE, "no recipients (give them "
				 "as arguments, or -t to read To, Cc and "
				 "Bcc)");
	if ((a = send_pick_account(j->cfg, &j->o, &j->h)) == NULL)
		return SEND_EXIT_USAGE;
	{
		const char *env_from = j->o.from != NULL ? j->o.from :
				       j->h.from[0] != '\0' ? j->h.from :
				       a->from.v[0];
		struct smtp_spool_env e = {
			.account = a->name,
			.from = env_from,
			.rcpts = (const char *)j->rcpts.p,
			.created = (int64_t)time(NULL),
		};

		if (env_from[0] != '\0' &&
		    !smtp_addr_is_valid(ms_slice_from_cstr(env_from)))
			return send_fail(SEND_EXIT_USAGE, "'%s' is not a "
					 "sender address", env_from);
		if (send_complete_header(&j->h, &j->o, env_from, &j->out) !=
		    MS_OK)
			return send_fail(SEND_EXIT_USAGE, "the header is too "
					 "large");
		if (smtp_spool_encode(&e, &j->env) != MS_OK)
			return send_fail(SEND_EXIT_USAGE, "a recipient or the "
					 "sender has control characters");
	}
	/* The body: everything after the header, the empty line first. */
	hend = smtp_msg_header_end(m);
	rc = MS_OK;
	if (hend == m.len || (m.p[hend] != '\r' && m.p[hend] != '\n'))
		rc = ms_buf_append(&j->out, "\r\n", 2);
	if (rc == MS_OK)
		rc = ms_buf_append(&j->out, m.p + hend, m.len - hend);
	if (rc != MS_OK)
		return send_fail(SEND_EXIT_USAGE, "the message is too large");
	return MS_OK;
}

/* The recipients of a JSON array of strings, on one line. */
static void
send_print_list(const char *what, json_t *v)
{
	size_t i;
	json_t *x;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return;
	printf("%s:", what);
	json_array_foreach(v, i, x) {
		const char *a = json_is_string(x) ? json_string_value(x) :
				cli_str(x, "rcpt");

		putchar(' ');
		cli_out_safe(stdout, a != NULL ? a : "?");
		if (json_is_object(x) && cli_str(x, "reply") != NULL) {
			fputs(" (", stdout);
			cli_out_safe(stdout, cli_str(x, "reply"));
			putchar(')');
		}
	}
	putchar('\n');
}

/*
 * --wait: the message is durable; asks the daemon for its first outcome.
 * Exit 0 sent, 1 refused, 75 queued for a retry, 3 no daemon.
 */
static int
send_wait(struct cli *cli, const char *name)
{
	json_t *reply = NULL, *data;
	const char *state;
	int rc;

	if ((rc = cli_find_socket(cli)) != CLI_EXIT_OK)
		return rc;
	if ((rc = cli_connect(cli)) != CLI_EXIT_OK) {
		fputs("mailsyncctl send: the message is queued; it goes out "
		      "when mailsyncd runs\n", stderr);
		return rc;
	}
	rc = cli_request(cli, "outbox", json_pack("{s:s,s:s}", "op", "wait",
						  "spool", name),
			 &reply, &data);
	if (rc != CLI_EXIT_OK || data == NULL) {
		json_decref(reply);
		return rc;
	}
	state = cli_str(data, "state");
	printf("%s: ", state != NULL ? state : "?");
	cli_out_safe(stdout, cli_str(data, "last_reply") != NULL ?
		     cli_str(data, "last_reply") : "");
	putchar('\n');
	send_print_list("delivered", json_object_get(data, "delivered"));
	send_print_list("refused", json_object_get(data, "rejected"));
	send_print_list("waiting", json_object_get(data, "recipients"));
	rc = state != NULL && strcmp(state, "sent") == 0 ? CLI_EXIT_OK :
	     state != NULL && strcmp(state, "failed") == 0 ? CLI_EXIT_FAIL :
	     SEND_EXIT_TEMPFAIL;
	json_decref(reply);
	return rc;
}

int
send_cmd_main(int argc, char **argv, struct cli *cli)
{
	struct send_job j;
	struct ms_err err = { 0 };
	char name[256];
	int rc;

	memset(&j, 0, sizeof(j));
	ms_buf_init(&j.raw, SEND_MAX_MESSAGE);
	ms_buf_init(&j.msg, 2 * (size_t)SEND_MAX_MESSAGE);
	ms_buf_init(&j.out, 2 * (size_t)SEND_MAX_MESSAGE + 4096);
	ms_buf_init(&j.rcpts, SEND_MAX_RCPTS_BYTES);
	ms_buf_init(&j.env, SMTP_SPOOL_MAX_ENVELOPE);
	if ((rc = send_parse_args(argc, argv, &j.o)) >= 0)
		goto out;
	if (send_load_config(cli->config, &j.cfg) == NULL) {
		rc = send_fail(SEND_EXIT_USAGE, "no usable configuration; "
			       "the message was not queued");
		goto out;
	}
	if ((rc = send_prepare(&j)) != MS_OK)
		goto out;
	rc = send_spool_write(j.cfg->spool, j.env.p, j.env.len, j.out.p,
			      j.out.len, name, sizeof(name), &err);
	if (rc != MS_OK) {
		rc = send_fail(SEND_EXIT_TEMPFAIL, "%s; the message was not "
			       "queued (try again)", err.msg);
		goto out;
	}
	rc = j.o.want_wait ? send_wait(cli, name) : SEND_EXIT_OK;
out:
	send_job_deinit(&j);
	return rc;
}
