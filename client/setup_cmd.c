/*
 * setup_cmd.c - `mailsyncctl setup ADDRESS`: finds the servers
 * (setup_discover.c), shows every candidate side by side with its source
 * and probe result and the recommended pair, asks for password_cmd and a
 * confirmation (or takes --password-cmd and --yes), writes and checks
 * the account (setup_write.c), and offers a running daemon a reload.
 * Runs without the daemon: a local command.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cfg/cfg.h"
#include "cli.h"
#include "setup.h"

#define SETUP_TIMEOUT_MS 10000

struct setup_args {
	struct setup_opts o;
	const char *password_cmd;
	const char *oauth_token_cmd;
	const char *account;
	const char *maildir;
	const char *config;		/* -c after the command, as before it */
	bool is_yes;
	bool is_dry_run;
	char domain[SETUP_HOST_MAX];
	char name[64];
	char maildir_buf[300];
	char ca_file_abs[4096];
};

static int
setup_usage_error(const char *why, const char *what)
{
	return cli_usage_error("setup: %s%s (usage: mailsyncctl setup "
			       "ADDRESS [--password-cmd CMD] [--pop3] "
			       "[--yes] [--dry-run] ...)", why, what);
}

static void
setup_help(void)
{
	fputs("usage: mailsyncctl [-c FILE] setup ADDRESS [options]\n"
	      "\n"
	      "Finds the IMAP, POP3 and SMTP servers of ADDRESS (autoconfig "
	      "file,\nautodiscover, SRV and MX records, guesses), probes "
	      "each (TLS verified,\ncapabilities), shows them and writes "
	      "the recommended account into the\nconfiguration file.\n"
	      "\n"
	      "  --password-cmd CMD     password_cmd of the account (else "
	      "asked)\n"
	      "  --oauth-token-cmd CMD  oauth_token_cmd, for OAuth-only "
	      "providers\n"
	      "  --account NAME         the account's name (default: the "
	      "domain)\n"
	      "  --maildir PATH         its Maildir mirror (default: "
	      "~/Mail/NAME)\n"
	      "  --pop3                 prefer POP3 to IMAP\n"
	      "  --resolver IP[:PORT]   the DNS server to ask\n"
	      "  --autoconfig-url URL   fetch this autoconfig file "
	      "instead (no autodiscover)\n"
	      "  --ca-file FILE         trust these CAs (HTTPS and probes; "
	      "written as ca_file)\n"
	      "  -y, --yes              write (and reload) without "
	      "asking\n"
	      "  -n, --dry-run          show the account, write nothing\n"
	      "\nSee mailsyncctl(1).\n", stdout);
}

/* The option's value, or NULL after a usage error. */
static const char *
setup_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int
setup_parse(struct setup_args *a, int argc, char **argv)
{
	static const struct {
		const char *name;
		size_t off;
	} valued[] = {
		{ "--password-cmd", offsetof(struct setup_args,
					      password_cmd) },
		{ "--oauth-token-cmd", offsetof(struct setup_args,
						 oauth_token_cmd) },
		{ "--account", offsetof(struct setup_args, account) },
		{ "--maildir", offsetof(struct setup_args, maildir) },
		{ "--resolver", offsetof(struct setup_args, o.resolver) },
		{ "--autoconfig-url", offsetof(struct setup_args,
						o.autoconfig_url) },
		{ "--ca-file", offsetof(struct setup_args, o.ca_file) },
		{ "-c", offsetof(struct setup_args, config) },
		{ "--config", offsetof(struct setup_args, config) },
	};
	const char *at;

	a->o.timeout_ms = SETUP_TIMEOUT_MS;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		bool is_known = false;

		for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]);
		     k++) {
			if (strcmp(o, valued[k].name) != 0)
				continue;
			*(const char **)((char *)a + valued[k].off) =
			    setup_value(argc, argv, &i);
			if (*(const char **)((char *)a + valued[k].off) ==
			    NULL)
				return setup_usage_error("option needs a "
							 "value: ", o);
			is_known = true;
		}
		if (is_known)
			continue;
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			setup_help();
			return CLI_EXIT_OK;
		}
		if (strcmp(o, "--pop3") == 0)
			a->o.want_pop3 = true;
		else if (strcmp(o, "--yes") == 0 || strcmp(o, "-y") == 0)
			a->is_yes = true;
		else if (strcmp(o, "--dry-run") == 0 || strcmp(o, "-n") == 0)
			a->is_dry_run = true;
		else if (o[0] == '-')
			return setup_usage_error("unknown option ", o);
		else if (a->o.address != NULL)
			return setup_usage_error("one address only, not also ",
						 o);
		else
			a->o.address = o;
	}
	if (a->o.address == NULL)
		return setup_usage_error("", "the address is missing");
	at = strrchr(a->o.address, '@');
	if (at == NULL || at == a->o.address || at[1] == '\0' ||
	    strchr(at + 1, '.') == NULL ||
	    strpbrk(a->o.address, " \t\r\n/") != NULL ||
	    strlen(at + 1) >= sizeof(a->domain))
		return setup_usage_error("not a mail address: ",
					 a->o.address);
	snprintf(a->domain, sizeof(a->domain), "%s", at + 1);
	a->o.domain = a->domain;
	if (a->password_cmd != NULL && a->oauth_token_cmd != NULL)
		return setup_usage_error("", "--password-cmd or "
					 "--oauth-token-cmd, not both");
	/* The account names files and commands: the domain is a good one. */
	if (snprintf(a->name, sizeof(a->name), "%s", a->account != NULL ?
		     a->account : a->domain) >= (int)sizeof(a->name))
		return setup_usage_error("the account name is over 63 "
					 "bytes; choose one with --account "
					 "NAME: ", a->name);
	if (a->maildir == NULL) {
		snprintf(a->maildir_buf, sizeof(a->maildir_buf), "~/Mail/%s",
			 a->name);
		a->maildir = a->maildir_buf;
	}
	/* The daemon reads ca_file from anywhere: make it absolute. */
	if (a->o.ca_file != NULL && a->o.ca_file[0] != '/') {
		char cwd[2048];

		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    snprintf(a->ca_file_abs, sizeof(a->ca_file_abs), "%s/%s",
			     cwd, a->o.ca_file) >= (int)sizeof(a->ca_file_abs))
			return setup_usage_error("--ca-file: path too long: ",
						 a->o.ca_file);
		a->o.ca_file = a->ca_file_abs;
	}
	if (a->o.ca_file != NULL && access(a->o.ca_file, R_OK) != 0)
		return setup_usage_error("--ca-file: cannot read ",
					 a->o.ca_file);
	return -1;
}

/* ---- the table ---------------------------------------------------------- */

static void
setup_print_row(const struct setup_cand *c, size_t i, bool is_chosen)
{
	char server[SETUP_HOST_MAX + 8], src[64];
	const char *oauth = setup_oauth_required(c);

	snprintf(server, sizeof(server), "%s:%u", c->host, (unsigned)c->port);
	setup_sources_name(c->sources, src, sizeof(src));
	printf("%s%2zu  %-4s  %-32s %-8s  %-15s ", is_chosen ? "*" : " ",
	       i + 1, c->proto == PROBE_IMAP ? "IMAP" :
	       c->proto == PROBE_POP3 ? "POP3" : "SMTP", server,
	       c->tls == PROBE_TLS_IMPLICIT ? "implicit" : "STARTTLS", src);
	if (!c->is_ok) {
		fputs("refused: ", stdout);
		cli_out_safe(stdout, c->res.why);
		fputc('\n', stdout);
		return;
	}
	printf("ok: %s verified, auth %s%s%s%s\n", c->tls_version,
	       c->res.mechs[0] != '\0' ? c->res.mechs :
	       c->proto == PROBE_POP3 && c->res.has_user ? "USER/PASS" :
	       "(none offered)",
	       c->res.is_login_disabled ? ", LOGINDISABLED" : "",
	       oauth != NULL ? "; OAuth required by " : "",
	       oauth != NULL ? oauth : "");
}

/* A guess whose host does not exist is one word, not a row. */
static bool
setup_is_missing_guess(const struct setup_cand *c)
{
	return !c->is_ok && c->addrs[0] == '\0' &&
	       !(c->sources & (SETUP_SRC_AUTOCONFIG | SETUP_SRC_SRV)) &&
	       strstr(c->res.why, "no such host") != NULL;
}

static void
setup_print(const struct setup_args *a, const struct setup_found *f,
	    int in, int out)
{
	size_t nmissing = 0;

	printf("Servers for %s (each probed: connect, TLS verified, "
	       "capabilities):\n\n", a->o.address);
	printf(" %2s  %-4s  %-32s %-8s  %-15s probe\n", "#", "kind", "server",
	       "TLS", "found by");
	for (size_t i = 0; i < f->n; i++) {
		if (setup_is_missing_guess(&f->cands[i])) {
			nmissing++;
			continue;
		}
		setup_print_row(&f->cands[i], i, (int)i == in || (int)i == out);
	}
	if (nmissing > 0) {
		printf("\nGuessed hosts that do not exist:");
		for (size_t i = 0; i < f->n; i++) {
			const struct setup_cand *c = &f->cands[i];

			/* Each host once (a host has several ports). */
			if (!setup_is_missing_guess(c))
				continue;
			bool is_first = true;

			for (size_t j = 0; j < i && is_first; j++)
				if (setup_is_missing_guess(&f->cands[j]) &&
				    strcmp(f->cands[j].host, c->host) == 0)
					is_first = false;
			if (is_first)
				printf(" %s", c->host);
		}
		fputc('\n', stdout);
	}
	for (size_t i = 0; i < f->nnotes; i++) {
		fputs(i == 0 ? "\nNot used: " : "          ", stdout);
		cli_out_safe(stdout, f->notes[i]);
		fputc('\n', stdout);
	}
	fputc('\n', stdout);
	if (in >= 0)
		printf("Recommended for reading: #%d (%s, %s)%s\n", in + 1,
		       f->cands[in].proto == PROBE_IMAP ? "IMAP" : "POP3",
		       f->cands[in].tls == PROBE_TLS_IMPLICIT ?
		       "implicit TLS" : "STARTTLS",
		       (f->cands[in].proto == PROBE_POP3) != a->o.want_pop3 ?
		       (a->o.want_pop3 ? "; no POP3 server worked" :
			"; no IMAP server worked") : "");
	else
		printf("No reading server (IMAP or POP3) passed the probe.\n");
	if (out >= 0)
		printf("Recommended for sending: #%d (SMTP submission, %s)\n",
		       out + 1, f->cands[out].tls == PROBE_TLS_IMPLICIT ?
		       "implicit TLS" : "STARTTLS");
	else
		printf("No sending server (SMTP submission) passed the "
		       "probe.\n");
}

/* ---- questions ---------------------------------------------------------- */

/* One line from the terminal into buf; false at EOF. */
static bool
setup_ask(const char *question, char *buf, size_t size)
{
	size_t n;

	fputs(question, stdout);
	fflush(stdout);
	if (fgets(buf, (int)size, stdin) == NULL)
		return false;
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
			 buf[n - 1] == ' '))
		buf[--n] = '\0';
	return true;
}

static bool
setup_ask_yes(const char *question, bool is_default_yes)
{
	char buf[16];

	if (!setup_ask(question, buf, sizeof(buf)))
		return false;
	if (buf[0] == '\0')
		return is_default_yes;
	return buf[0] == 'y' || buf[0] == 'Y';
}

/* ---- the config file and the daemon -------------------------------------- */

/* -c, else the daemon's search, else the first place it searches. */
static int
setup_config_path(const struct cli *cli, char **path_r)
{
	const struct cfg_env *env = cfg_env_system();
	struct cfg_report rep;
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char buf[4096];

	if (cli->config != NULL) {
		*path_r = strdup(cli->config);
		return *path_r != NULL ? MS_OK : MS_ENOMEM;
	}
	cfg_report_init(&rep);
	if (cfg_path_search(env, path_r, &rep) == MS_OK) {
		cfg_report_deinit(&rep);
		return MS_OK;
	}
	cfg_report_deinit(&rep);
	/* None exists yet: where a user's own file goes. */
	if (getenv("MAILSYNC_CONFIG") != NULL &&
	    getenv("MAILSYNC_CONFIG")[0] != '\0')
		snprintf(buf, sizeof(buf), "%s", getenv("MAILSYNC_CONFIG"));
	else if (xdg != NULL && xdg[0] == '/')
		snprintf(buf, sizeof(buf), "%s/mailsync/config.ini", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(buf, sizeof(buf), "%s/.config/mailsync/config.ini",
			 home);
	else
		return MS_ECONFIG;
	*path_r = strdup(buf);
	return *path_r != NULL ? MS_OK : MS_ENOMEM;
}

/* The account must not exist yet.  A file that does not load (one with
 * no account yet does not) is judged with the new account added. */
static int
setup_config_precheck(const char *path, const char *name)
{
	struct cfg_report rep;
	struct cfg *cfg = NULL;
	int rc = MS_OK;

	if (access(path, F_OK) != 0)
		return MS_OK;
	cfg_report_init(&rep);
	if (cfg_load(path, cfg_env_system(), &cfg, &rep) == MS_OK &&
	    cfg_account_find(cfg, name) != NULL) {
		fprintf(stderr, "mailsyncctl: setup: %s already has "
			"[account %s]; choose another name with --account "
			"NAME\n", path, name);
		rc = MS_ECONFIG;
	}
	cfg_free(&cfg);
	cfg_report_deinit(&rep);
	return rc;
}

/* True when something accepts connections on the daemon's socket. */
static bool
setup_daemon_listens(struct cli *cli)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool is_up;
	int fd;

	/* The file was just checked, so this finds the socket (or says
	 * why not). */
	if (cli_find_socket(cli) != CLI_EXIT_OK ||
	    strlen(cli->socket) >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path, cli->socket, strlen(cli->socket) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	is_up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return is_up;
}

static int
setup_offer_reload(struct cli *cli, const struct setup_args *a, bool is_tty)
{
	json_t *reply = NULL, *data = NULL;
	int rc;

	if (!setup_daemon_listens(cli)) {
		printf("mailsyncd is not running: start it (mailsyncd, or "
		       "systemctl --user start mailsyncd), or try one pass "
		       "with: mailsyncd --once %s\n", a->name);
		return CLI_EXIT_OK;
	}
	if (!a->is_yes && !(is_tty && setup_ask_yes("mailsyncd is running: "
	    "reload its configuration now? [Y/n] ", true))) {
		printf("Not reloaded: run 'mailsyncctl reload' to start the "
		       "new account.\n");
		return CLI_EXIT_OK;
	}
	if ((rc = cli_connect(cli)) != CLI_EXIT_OK)
		return rc;
	rc = cli_request(cli, "reload", NULL, &reply, &data);
	json_decref(reply);
	if (rc == CLI_EXIT_OK)
		printf("mailsyncd reloaded its configuration.\n");
	return rc;
}

/* ---- the command -------------------------------------------------------- */

/* password_cmd (or oauth_token_cmd): the option, else asked. */
static int
setup_secret_cmd(struct setup_args *a, const char *oauth, bool is_tty,
		 char *buf, size_t size)
{
	if (oauth != NULL && a->password_cmd != NULL) {
		fprintf(stderr, "mailsyncctl: setup: %s takes only OAuth "
			"here; give --oauth-token-cmd CMD (a command that "
			"prints a fresh access token) instead of "
			"--password-cmd\n", oauth);
		return CLI_EXIT_USAGE;
	}
	if (oauth == NULL && a->oauth_token_cmd != NULL)
		return CLI_EXIT_OK;	/* the user knows better: OAuth */
	if ((oauth != NULL ? a->oauth_token_cmd : a->password_cmd) != NULL)
		return CLI_EXIT_OK;
	if (!is_tty) {
		fprintf(stderr, "mailsyncctl: setup: give %s (stdin is not "
			"a terminal to ask on); a password is never "
			"written\n", oauth != NULL ? "--oauth-token-cmd CMD" :
			"--password-cmd CMD");
		return CLI_EXIT_USAGE;
	}
	if (oauth != NULL)
		printf("%s takes only OAuth: a command that prints an "
		       "access token is needed (e.g. oama access %s).\n",
		       oauth, a->o.address);
	else
		printf("The password is never written to the file: give a "
		       "command that prints it\n(e.g. pass show mail/%s, "
		       "or secret-tool lookup mail %s).\n", a->name,
		       a->o.address);
	if (!setup_ask(oauth != NULL ? "oauth_token_cmd: " :
		       "password_cmd: ", buf, size) || buf[0] == '\0') {
		fprintf(stderr, "mailsyncctl: setup: no command given; "
			"nothing written\n");
		return CLI_EXIT_USAGE;
	}
	if (oauth != NULL)
		a->oauth_token_cmd = buf;
	else
		a->password_cmd = buf;
	return CLI_EXIT_OK;
}

static int
setup_run(struct cli *cli, int argc, char **argv)
{
	struct setup_args a = { 0 };
	struct setup_account acct = { 0 };
	struct setup_found *f;
	struct ms_err err = { 0 };
	struct ms_buf section;
	char *path = NULL, secret_buf[1024];
	const char *oauth = NULL;
	bool is_tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	uv_loop_t loop;
	int rc, in, out;

	if ((rc = setup_parse(&a, argc, argv)) >= 0)
		return rc;
	if (a.config != NULL)
		cli->config = a.config;
	if (setup_config_path(cli, &path) != MS_OK) {
		fprintf(stderr, "mailsyncctl: setup: no place for the "
			"configuration: set HOME, or give -c FILE\n");
		return CLI_EXIT_USAGE;
	}
	if (!a.is_dry_run && setup_config_precheck(path, a.name) != MS_OK) {
		free(path);
		return CLI_EXIT_USAGE;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || uv_loop_init(&loop) != 0) {
		free(f);
		free(path);
		fprintf(stderr, "mailsyncctl: setup: out of memory\n");
		return CLI_EXIT_FAIL;
	}
	printf("Looking for the servers of %s ...\n", a.o.address);
	fflush(stdout);
	rc = setup_discover(&loop, &a.o, f, &err);
	(void)uv_loop_close(&loop);
	if (rc != MS_OK) {
		fprintf(stderr, "mailsyncctl: setup: %s\n", err.msg);
		free(f);
		free(path);
		return rc == MS_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
	}
	in = setup_choose_incoming(f, a.o.want_pop3);
	out = setup_choose_outgoing(f);
	setup_print(&a, f, in, out);
	fflush(stdout);		/* the table before any complaint on stderr */
	if (in < 0 && out < 0) {
		fprintf(stderr, "mailsyncctl: setup: no server of %s passed "
			"the probe; nothing written (see the reasons above; "
			"--resolver, --autoconfig-url and --ca-file help on "
			"unusual networks)\n", a.o.domain);
		free(f);
		free(path);
		return CLI_EXIT_FAIL;
	}
	if (in >= 0)
		oauth = setup_oauth_required(&f->cands[in]);
	if (oauth == NULL && out >= 0)
		oauth = setup_oauth_required(&f->cands[out]);
	acct.in = in >= 0 ? &f->cands[in] : NULL;
	acct.out = out >= 0 ? &f->cands[out] : NULL;
	snprintf(acct.name, sizeof(acct.name), "%s", a.name);
	acct.user = acct.in != NULL && acct.in->user[0] != '\0' ?
	    acct.in->user : a.o.address;
	acct.maildir = a.maildir;
	acct.from = a.o.address;
	acct.ca_file = a.o.ca_file;
	if (a.is_dry_run && a.password_cmd == NULL &&
	    a.oauth_token_cmd == NULL) {
		/* Shown, not asked: nothing is written anyway. */
		if (oauth != NULL)
			a.oauth_token_cmd = "COMMAND-THAT-PRINTS-A-TOKEN";
		else
			a.password_cmd = "COMMAND-THAT-PRINTS-THE-PASSWORD";
	} else if ((rc = setup_secret_cmd(&a, oauth, is_tty, secret_buf,
					  sizeof(secret_buf))) !=
		   CLI_EXIT_OK) {
		free(f);
		free(path);
		return rc;
	}
	acct.password_cmd = a.password_cmd;
	acct.oauth_token_cmd = a.oauth_token_cmd;
	if (a.oauth_token_cmd != NULL)
		acct.auth = acct.in != NULL &&
		    strstr(acct.in->res.mechs, "XOAUTH2") == NULL &&
		    strstr(acct.in->res.mechs, "OAUTHBEARER") != NULL ?
		    "oauthbearer" : "xoauth2";
	ms_buf_init(&section, 64 * 1024);
	if (setup_write_section(&acct, &section) != MS_OK ||
	    ms_buf_append(&section, "", 1) != MS_OK) {
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	printf("\nThe account for %s:\n%s\n", path, (const char *)section.p);
	if (a.is_dry_run) {
		printf("--dry-run: nothing written.\n");
		rc = CLI_EXIT_OK;
		goto out;
	}
	if (!a.is_yes && !(is_tty && setup_ask_yes("Write it? [y/N] ",
						   false))) {
		printf("Not written%s.\n", is_tty ? "" : " (confirm on a "
		       "terminal, or give --yes)");
		rc = is_tty ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		goto out;
	}
	if (setup_write_config(path, (const char *)section.p, a.name,
			       stderr) != MS_OK) {
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	printf("Written to %s and checked (as mailsyncd --check-config "
	       "does).\n", path);
	if (cli->config == NULL)
		cli->config = path;	/* the socket is found in it */
	rc = setup_offer_reload(cli, &a, is_tty);
	if (cli->config == path)
		cli->config = NULL;
out:
	explicit_bzero(secret_buf, sizeof(secret_buf));
	ms_buf_deinit(&section);
	free(f);
	free(path);
	return rc;
}

const struct cli_cmd cli_cmd_setup = {
	.name = "setup",
	.usage = CLI_SETUP_USAGE,
	.help = CLI_SETUP_HELP,
	.run_cb = setup_run,
	.is_local = true,
};
