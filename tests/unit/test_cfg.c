/*
 * test_cfg.c - reading whole config files: defaults, every error path with
 * its exact line and text, did-you-mean, the password file mode check, and
 * the sample files in tests/data/cfg/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg/cfg_int.h"

static const char *const test_vars[] = {
	"HOME=/home/me", "XDG_RUNTIME_DIR=/run/user/1000", "MAILROOT=/srv/mail",
	NULL,
};

static const char *
test_get(const char *name, void *arg)
{
	size_t n = strlen(name);

	(void)arg;
	for (size_t i = 0; test_vars[i] != NULL; i++)
		if (strncmp(test_vars[i], name, n) == 0 && test_vars[i][n] == '=')
			return test_vars[i] + n + 1;
	return NULL;
}

static bool
test_exists(const char *path, void *arg)
{
	(void)arg;
	return strcmp(path, "/etc/ca.pem") == 0 ||
	       strcmp(path, "/etc/ssl/certs/ca-certificates.crt") == 0;
}

static const struct cfg_env test_env = { test_get, test_exists, NULL, 1000 };

/* A valid IMAP account, lines 1-5. */
#define ACC "[account a]\n" \
	    "protocol = imap\n" \
	    "host = imap.example.com\n" \
	    "user = me\n" \
	    "password_cmd = pass a\n"

static void
dump(const struct cfg_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		fprintf(stderr, "  got: %s\n", rep->v[i].text);
}

/*
 * Loads text as "t.ini" and checks that it yields exactly the problems
 * given (NULL-terminated), in order; none means the config must be valid.
 */
static void
expect(const char *text, ...)
{
	struct cfg_report rep;
	struct cfg *cfg = NULL;
	const char *want;
	size_t n = 0;
	va_list ap;
	int rc;

	cfg_report_init(&rep);
	rc = cfg_load_text("t.ini", text, strlen(text), &test_env, &cfg, &rep);
	va_start(ap, text);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (n >= rep.n || strcmp(rep.v[n].text, want) != 0) {
			fprintf(stderr, "want: %s\n", want);
			dump(&rep);
			fail();
		}
		n++;
	}
	va_end(ap);
	if (n != rep.n) {
		dump(&rep);
		fail();
	}
	if (n == 0) {
		assert_int_equal(rc, MS_OK);
		assert_non_null(cfg);
	} else {
		assert_int_equal(rc, MS_ECONFIG);
		assert_null(cfg);
	}
	cfg_free(&cfg);
	assert_null(cfg);
	cfg_report_deinit(&rep);
}

/* Loads text that must be valid. */
static struct cfg *
load_ok(const char *text)
{
	struct cfg_report rep;
	struct cfg *cfg = NULL;

	cfg_report_init(&rep);
	if (cfg_load_text("t.ini", text, strlen(text), &test_env, &cfg,
			  &rep) != MS_OK) {
		dump(&rep);
		fail();
	}
	cfg_report_deinit(&rep);
	return cfg;
}

/* ---- defaults ---------------------------------------------------------- */

static void
test_defaults(void **state)
{
	struct cfg *cfg = load_ok(ACC);
	const struct cfg_account *a = cfg_account_find(cfg, "a");

	assert_string_equal(cfg->file, "t.ini");
	assert_string_equal(cfg->store, "/home/me/.local/share/mailsync");
	assert_string_equal(cfg->socket, "/run/user/1000/mailsync.sock");
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_int_equal(cfg->n_accounts, 1);
	assert_non_null(a);
	assert_null(cfg_account_find(cfg, "b"));
	assert_int_equal(a->line, 1);
	assert_int_equal(a->protocol, CFG_PROTOCOL_IMAP);
	assert_string_equal(a->host, "imap.example.com");
	assert_int_equal(a->port, 993);
	assert_int_equal(a->tls, CFG_TLS_IMPLICIT);
	assert_null(a->ca_file);
	assert_false(a->tls_fingerprint.is_set);
	assert_int_equal(a->timeout, 30);
	assert_string_equal(a->user, "me");
	assert_null(a->password);
	assert_string_equal(a->password_cmd, "pass a");
	assert_int_equal(a->auth, CFG_AUTH_AUTO);
	assert_null(a->oauth_token_cmd);
	assert_int_equal(a->folders.n, 1);
	assert_string_equal(a->folders.v[0], "*");
	assert_int_equal(a->direction, CFG_DIRECTION_BOTH);
	assert_int_equal(a->local_delete, CFG_LOCAL_DELETE_TRASH);
	assert_int_equal(a->maildir_inbox, CFG_MAILDIR_INBOX_ROOT);
	assert_int_equal(a->maildir_layout, CFG_MAILDIR_LAYOUT_VERBATIM);
	assert_null(a->mbsync_state);
	assert_true(a->idle);
	assert_int_equal(a->idle_folders.n, 1);
	assert_string_equal(a->idle_folders.v[0], "INBOX");
	assert_true(a->compress);
	assert_int_equal(a->poll_interval, 300);
	assert_true(a->keep);
	assert_int_equal(a->delete_after_days, 0);
	assert_null(a->maildir);
	assert_null(a->smtp_host);
	assert_int_equal(a->from.n, 0);
	assert_null(a->sent_folder);
	cfg_free(&cfg);
}

static void
expect_ports(const char *protocol, const char *tls, unsigned port)
{
	char text[512];
	struct cfg *cfg;

	snprintf(text, sizeof(text), "[account a]\nprotocol = %s\n"
		 "host = localhost\nuser = me\npassword_cmd = x\ntls = %s\n",
		 protocol, tls);
	cfg = load_ok(text);
	assert_int_equal(cfg->accounts[0].port, port);
	cfg_free(&cfg);
}

static void
expect_smtp_port(const char *tls, unsigned port)
{
	char text[512];
	struct cfg *cfg;

	snprintf(text, sizeof(text), ACC "smtp_host = localhost\n"
		 "smtp_tls = %s\nfrom = me@example.com\n", tls);
	cfg = load_ok(text);
	assert_int_equal(cfg->accounts[0].smtp_port, port);
	assert_int_equal(cfg->accounts[0].port, 993);
	cfg_free(&cfg);
}

/* maildir_layout and mbsync_state (the migration from mbsync's trees and
 * its state outside them): the values kept, the path expanded with its
 * trailing '/' (a prefix, as mbsync's SyncState is). */
static void
test_maildir_layout(void **state)
{
	struct cfg *cfg = load_ok(ACC "maildir = /m\nmaildir_layout = legacy\n"
				  "maildir_inbox = subfolder\n"
				  "mbsync_state = /home/me/.mbsync/\n");

	(void)state;
	assert_int_equal(cfg->accounts[0].maildir_layout,
			 CFG_MAILDIR_LAYOUT_LEGACY);
	assert_string_equal(cfg->accounts[0].mbsync_state, "/home/me/.mbsync/");
	cfg_free(&cfg);
	cfg = load_ok(ACC "maildir = /m\nmaildir_layout = maildir++\n");
	assert_int_equal(cfg->accounts[0].maildir_layout,
			 CFG_MAILDIR_LAYOUT_MAILDIRPP);
	cfg_free(&cfg);
}

/* socket_group: absent is none; a name or a number is a gid; a group
 * this system lacks is a FILE:LINE error saying how to fix it. */
static void
test_socket_group(void **state)
{
	struct cfg *cfg;

	(void)state;
	cfg = load_ok(ACC);
	assert_int_equal(cfg->socket_gid, (gid_t)-1);
	cfg_free(&cfg);
	cfg = load_ok("[general]\nsocket_group = root\n" ACC);
	assert_int_equal(cfg->socket_gid, 0);
	cfg_free(&cfg);
	cfg = load_ok("[general]\nsocket_group = 4242\n" ACC);
	assert_int_equal(cfg->socket_gid, 4242);
	cfg_free(&cfg);
	expect("[general]\nsocket_group = no-such-group-ms\n" ACC,
	       "t.ini:2: [general] socket_group: no group 'no-such-group-ms' on this "
	       "system (create it, e.g. groupadd --system no-such-group-ms, "
	       "or give a group number) (expected a group name or number)",
	       NULL);
}

static void
test_default_ports(void **state)
{
	expect_ports("imap", "implicit", 993);
	expect_ports("imap", "starttls", 143);
	expect_ports("imap", "none", 143);
	expect_ports("pop3", "implicit", 995);
	expect_ports("pop3", "starttls", 110);
	expect_ports("pop3", "none", 110);
	expect_smtp_port("implicit", 465);
	expect_smtp_port("starttls", 587);
	expect_smtp_port("none", 25);
}

static void
test_values_stored(void **state)
{
	struct cfg *cfg = load_ok(
		"[general]\n"
		"store = $MAILROOT/store\n"
		"socket = ~/ms.sock\n"
		"log_level = debug\n"
		"[account p]\n"
		"protocol = pop3\n"
		"host = ::1\n"
		"port = 1110\n"
		"tls = none\n"
		"user = u\n"
		"password = s3cret;x\n"
		"keep = off\n"
		"poll_interval = 1h30m\n"
		"timeout = 45\n"
		"maildir = ${MAILROOT}/p\n"
		"ca_file = /etc/ca.pem\n"
		"auth = login\n");
	const struct cfg_account *a = &cfg->accounts[0];

	assert_string_equal(cfg->store, "/srv/mail/store");
	assert_string_equal(cfg->socket, "/home/me/ms.sock");
	assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(a->protocol, CFG_PROTOCOL_POP3);
	assert_string_equal(a->host, "::1");
	assert_int_equal(a->port, 1110);
	assert_int_equal(a->tls, CFG_TLS_NONE);
	/* A ';' without a space before it is part of the value. */
	assert_string_equal(a->password, "s3cret;x");
	assert_false(a->keep);
	assert_int_equal(a->poll_interval, 5400);
	assert_int_equal(a->timeout, 45);
	assert_string_equal(a->maildir, "/srv/mail/p");
	assert_string_equal(a->ca_file, "/etc/ca.pem");
	assert_int_equal(a->auth, CFG_AUTH_LOGIN);
	cfg_free(&cfg);
}

static const char *
bare_get(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	return NULL;
}

static const char *xdg_data_home;

static const char *
xdg_get(const char *name, void *arg)
{
	if (strcmp(name, "XDG_DATA_HOME") == 0)
		return xdg_data_home;
	return test_get(name, arg);
}

/* The default store follows $XDG_DATA_HOME when it is absolute, as the
 * XDG base directory spec says (a relative one is ignored). */
static void
test_default_store_xdg(void **state)
{
	struct cfg_env env = { xdg_get, test_exists, NULL, 1000 };
	struct cfg_report rep;
	struct cfg *cfg = NULL;

	(void)state;
	cfg_report_init(&rep);
	xdg_data_home = "/data/me";
	assert_int_equal(cfg_load_text("t.ini", ACC, strlen(ACC), &env, &cfg,
				       &rep), MS_OK);
	assert_string_equal(cfg->store, "/data/me/mailsync");
	cfg_free(&cfg);
	xdg_data_home = "relative/data";
	assert_int_equal(cfg_load_text("t.ini", ACC, strlen(ACC), &env, &cfg,
				       &rep), MS_OK);
	assert_string_equal(cfg->store, "/home/me/.local/share/mailsync");
	cfg_free(&cfg);
	cfg_report_deinit(&rep);
}

/* With no HOME the default store cannot be made, and says so; with no
 * XDG_RUNTIME_DIR the socket falls back to a per-user directory. */
static void
test_defaults_bare_env(void **state)
{
	struct cfg_env env = { bare_get, test_exists, NULL, 1000 };
	struct cfg_report rep;
	struct cfg *cfg = NULL;

	cfg_report_init(&rep);
	assert_int_equal(cfg_load_text("t.ini", ACC, strlen(ACC), &env, &cfg,
				       &rep), MS_ECONFIG);
	assert_int_equal(rep.n, 1);
	assert_string_equal(rep.v[0].text, "t.ini: [general] store: the "
			    "default '~/.local/share/mailsync' cannot be used: "
			    "'~' needs $HOME, which is not set (expected store "
			    "= ...)");
	cfg_report_deinit(&rep);
	assert_int_equal(cfg_load_text("t.ini", "[general]\nstore = /s\n" ACC,
				       strlen("[general]\nstore = /s\n" ACC),
				       &env, &cfg, &rep), MS_OK);
	assert_string_equal(cfg->socket, "/s/run/mailsync.sock");
	assert_string_equal(cfg->store, "/s");
	cfg_free(&cfg);
	env.uid = 0;
	assert_int_equal(cfg_load_text("t.ini", "[general]\nstore = /s\n" ACC,
				       strlen("[general]\nstore = /s\n" ACC),
				       &env, &cfg, &rep), MS_OK);
	assert_string_equal(cfg->socket, "/run/mailsync/mailsync.sock");
	cfg_free(&cfg);
	cfg_report_deinit(&rep);
}

/* ---- syntax ------------------------------------------------------------ */

static void
test_syntax_errors(void **state)
{
	expect(ACC "just some words\n",
	       "t.ini:6: not a setting (expected 'key = value', '[section]' "
	       "or a comment)", NULL);
	expect(ACC "[general\n",
	       "t.ini:6: section header without ']' (expected [general] or "
	       "[account NAME])", NULL);
	expect(ACC "  maildir = ~/Mail\n",
	       "t.ini:6: [account a] password_cmd: indented line continues "
	       "the previous value (expected 'key = value' at the start of "
	       "the line)", NULL);
	expect(ACC "= value\n",
	       "t.ini:6: missing key name before '=' (expected 'key = value')",
	       NULL);
	/* Several bad lines: every one is reported, not just the first. */
	expect("oops\n" ACC "bad line\n\nworse\n",
	       "t.ini:1: not a setting (expected 'key = value', '[section]' "
	       "or a comment)",
	       "t.ini:7: not a setting (expected 'key = value', '[section]' "
	       "or a comment)",
	       "t.ini:9: not a setting (expected 'key = value', '[section]' "
	       "or a comment)", NULL);
	/* Comments, blank lines, CRLF, a BOM and an indented first key are
	 * all fine. */
	expect("\xef\xbb\xbf; comment\r\n# another\r\n\r\n[account a]\r\n"
	       "  protocol = imap\r\nhost = localhost ; inline\r\n"
	       "user = me\r\npassword_cmd = x\r\n", NULL);
}

static void
test_nul_and_long_lines(void **state)
{
	static const char nul[] = ACC "maildir = /a\0b\n";
	char *text = malloc(8192);
	struct cfg_report rep;
	struct cfg *cfg = NULL;

	cfg_report_init(&rep);
	assert_int_equal(cfg_load_text("t.ini", nul, sizeof(nul) - 1,
				       &test_env, &cfg, &rep), MS_ECONFIG);
	assert_int_equal(rep.n, 1);
	assert_string_equal(rep.v[0].text, "t.ini:6: contains a NUL byte "
			    "(expected text)");
	cfg_report_deinit(&rep);

	/* A 600-byte value is longer than inih's own line limit and must
	 * still arrive whole, inline comment removed. */
	snprintf(text, 8192, ACC "oauth_token_cmd = %0600d ; comment\n", 7);
	text[strlen(text) - 12] = 'x';	/* the last digit */
	expect(text, "t.ini:6: [account a] oauth_token_cmd: only applies with "
	       "auth = xoauth2 or auth = oauthbearer", NULL);
	snprintf(text, 8192, "[account a]\nprotocol = imap\nhost = localhost\n"
		 "user = me\nauth = xoauth2\noauth_token_cmd = %0600d ; c\n", 7);
	cfg = load_ok(text);
	assert_int_equal(strlen(cfg->accounts[0].oauth_token_cmd), 600);
	assert_int_equal(cfg->accounts[0].oauth_token_cmd[599], '7');
	cfg_free(&cfg);

	/* A long line without '=' is "not a setting", like a short one. */
	memset(text, 'x', 300);
	memcpy(text, ACC, sizeof(ACC) - 1);
	memcpy(text + 300, "\n", 2);
	expect(text, "t.ini:6: not a setting (expected 'key = value', "
	       "'[section]' or a comment)", NULL);

	memset(text, 'x', 2000);
	memcpy(text, ACC "maildir = /", sizeof(ACC) - 1 + 11);
	text[2000] = '\n';
	text[2001] = '\0';
	expect(text, "t.ini:6: line is longer than 1024 characters", NULL);
	free(text);
}

/* ---- sections ---------------------------------------------------------- */

static void
test_sections(void **state)
{
	expect("host = x\nport = 1\n" ACC,
	       "t.ini:1: host: outside any section (expected it under "
	       "[general] or [account NAME])",
	       "t.ini:2: port: outside any section (expected it under "
	       "[general] or [account NAME])", NULL);
	expect(ACC "[genral]\nstore = /x\n",
	       "t.ini:6: [genral]: unknown section; did you mean [general]?",
	       NULL);
	expect(ACC "[acount b]\n",
	       "t.ini:6: [acount b]: unknown section; did you mean "
	       "[account NAME]?", NULL);
	expect(ACC "[server]\n",
	       "t.ini:6: [server]: unknown section (expected [general] or "
	       "[account NAME])", NULL);
	expect(ACC "[account]\n",
	       "t.ini:6: [account]: missing account name (expected [account "
	       "NAME])", NULL);
	expect("[account my work]\nprotocol = imap\nhost = localhost\n"
	       "user = me\npassword_cmd = x\n",
	       "t.ini:1: [account my work]: 'my work' is not a valid account "
	       "name (expected letters, digits, '.', '_' and '-': it names "
	       "files and commands)", NULL);
	expect("[account a/b]\nprotocol = imap\nhost = localhost\n"
	       "user = me\npassword_cmd = x\n",
	       "t.ini:1: [account a/b]: 'a/b' is not a valid account name "
	       "(expected letters, digits, '.', '_' and '-': it names files "
	       "and commands)", NULL);
	expect(ACC "\n" ACC,
	       "t.ini:7: [account a]: duplicate account name (first defined "
	       "on line 1)", NULL);
	expect("[general]\nstore = /s\n" ACC "[general]\nstore = /t\n"
	       "log_level = warn\n",
	       "t.ini:8: [general]: duplicate section (first on line 1)",
	       "t.ini:9: [general] store: duplicate key (first set on line 2)",
	       NULL);
	expect("[general]\n",
	       "t.ini: no [account NAME] section (expected at least one "
	       "account)", NULL);
	expect("", "t.ini: no [account NAME] section (expected at least one "
	       "account)", NULL);
	/* White space inside the brackets does not matter. */
	expect("[ account  a ]\nprotocol = imap\nhost = localhost\n"
	       "user = me\npassword_cmd = x\n", NULL);
}

/* ---- keys -------------------------------------------------------------- */

static void
test_unknown_keys(void **state)
{
	expect(ACC "hots = x\n",
	       "t.ini:6: [account a] hots: unknown key; did you mean 'host'?",
	       NULL);
	expect(ACC "passwd = x\n",
	       "t.ini:6: [account a] passwd: unknown key; did you mean "
	       "'password'?", NULL);
	expect(ACC "Maildir = /m\n",
	       "t.ini:6: [account a] Maildir: unknown key; did you mean "
	       "'maildir'?", NULL);
	/* A misspelt required key is one mistake and one message. */
	expect("[account a]\nprotocol = imap\nhots = localhost\nuser = me\n"
	       "pasword_cmd = x\n",
	       "t.ini:3: [account a] hots: unknown key; did you mean 'host'?",
	       "t.ini:5: [account a] pasword_cmd: unknown key; did you mean "
	       "'password_cmd'?", NULL);
	expect(ACC "colour = blue\n",
	       "t.ini:6: [account a] colour: unknown key (expected a key from "
	       "mailsync.conf(5))", NULL);
	/* Suggestions come from the section's own keys. */
	expect("[general]\nstor = /x\n" ACC,
	       "t.ini:2: [general] stor: unknown key; did you mean 'store'?",
	       NULL);
	expect("[general]\nhost = x\n" ACC,
	       "t.ini:2: [general] host: belongs in an [account NAME] "
	       "section", NULL);
	expect(ACC "log_level = debug\n",
	       "t.ini:6: [account a] log_level: belongs in [general]", NULL);
	expect(ACC "user = you\n",
	       "t.ini:6: [account a] user: duplicate key (first set on line "
	       "4)", NULL);
	expect(ACC "maildir =\n",
	       "t.ini:6: [account a] maildir: empty value (expected an "
	       "absolute path; ~, $VAR and ${VAR} expand)", NULL);
}

static void
test_required(void **state)
{
	expect(ACC "[account b]\n",
	       "t.ini:6: [account b] protocol: missing required key "
	       "(expected imap, pop3 or smtp)",
	       "t.ini:6: [account b] host: missing required key (expected a "
	       "host name or IP address)",
	       "t.ini:6: [account b] user: missing required key (expected "
	       "the login name)",
	       "t.ini:6: [account b] password_cmd: missing (expected "
	       "password_cmd = COMMAND, or password = SECRET in a file only "
	       "you can read)", NULL);
	/* A bad value counts as present: one message, not two. */
	expect("[account a]\nprotocol = smpt\nhost = localhost\nuser = me\n"
	       "password_cmd = x\n",
	       "t.ini:2: [account a] protocol: 'smpt' is not a valid choice "
	       "(expected imap, pop3 or smtp)", NULL);
}

static void
test_bad_values(void **state)
{
	expect(ACC "port = 99999\n",
	       "t.ini:6: [account a] port: 99999 is out of range (expected a "
	       "port number 1-65535)", NULL);
	expect(ACC "idle = sometimes\n",
	       "t.ini:6: [account a] idle: 'sometimes' is not a boolean "
	       "(expected yes, no, true, false, on, off, 1 or 0)", NULL);
	expect(ACC "poll_interval = 5 minutes\n",
	       "t.ini:6: [account a] poll_interval: '5 minutes' is not a "
	       "duration (expected a duration such as 30s, 5m, 1h or 1h30m, "
	       "or plain seconds)", NULL);
	expect(ACC "tls = ssl\n",
	       "t.ini:6: [account a] tls: 'ssl' is not a valid choice "
	       "(expected implicit, starttls or none)", NULL);
	expect(ACC "auth = digest-md5\n",
	       "t.ini:6: [account a] auth: 'digest-md5' is not a valid choice "
	       "(expected auto, plain, login, xoauth2, oauthbearer, cram-md5 "
	       "or scram-sha-256)", NULL);
	expect(ACC "direction = push\n",
	       "t.ini:6: [account a] direction: 'push' is not a valid choice "
	       "(expected both or pull)", NULL);
	expect(ACC "local_delete = remove\n",
	       "t.ini:6: [account a] local_delete: 'remove' is not a valid "
	       "choice (expected trash, flag or expunge)", NULL);
	expect(ACC "maildir_inbox = INBOX\n",
	       "t.ini:6: [account a] maildir_inbox: 'INBOX' is not a valid "
	       "choice (expected root or subfolder)", NULL);
	expect(ACC "maildir = /m\nmaildir_layout = maildirpp\n",
	       "t.ini:7: [account a] maildir_layout: 'maildirpp' is not a "
	       "valid choice (expected verbatim, maildir++ or legacy)", NULL);
	expect(ACC "maildir = /m\nmaildir_layout = maildir++\n"
	       "maildir_inbox = subfolder\n",
	       "t.ini:8: [account a] maildir_inbox: subfolder does not go with "
	       "maildir_layout = maildir++, whose INBOX is the top Maildir "
	       "(expected maildir_inbox = root)", NULL);
	expect(ACC "maildir_layout = legacy\nmbsync_state = /s/\n",
	       "t.ini:6: [account a] maildir_layout: only applies with maildir",
	       "t.ini:7: [account a] mbsync_state: only applies with maildir",
	       NULL);
	expect("[general]\nlog_level = trace\n" ACC,
	       "t.ini:2: [general] log_level: 'trace' is not a log level "
	       "(expected error, warn, info or debug)", NULL);
	expect(ACC "maildir = $NOPE/Mail\n",
	       "t.ini:6: [account a] maildir: variable $NOPE is not set "
	       "(expected an absolute path; ~, $VAR and ${VAR} expand)", NULL);
	expect(ACC "ca_file = certs/ca.pem\n",
	       "t.ini:6: [account a] ca_file: 'certs/ca.pem' is a relative "
	       "path (expected an absolute path; ~, $VAR and ${VAR} expand)",
	       NULL);
	expect(ACC "ca_file = /etc/nope.pem\n",
	       "t.ini:6: [account a] ca_file: '/etc/nope.pem' does not exist "
	       "(expected a PEM file of CA certificates)", NULL);
	expect(ACC "tls_fingerprint = AB:CD\n",
	       "t.ini:6: [account a] tls_fingerprint: 'AB:CD' does not start "
	       "with 'sha256:' (expected sha256: followed by 32 hex bytes, "
	       "such as sha256:AB:CD:...)", NULL);
	expect(ACC "folders = * , , Junk\n",
	       "t.ini:6: [account a] folders: empty item in '* , , Junk' "
	       "(expected folder patterns separated by spaces, such as * "
	       "!Junk)", NULL);
	expect(ACC "folders = * !\n",
	       "t.ini:6: [account a] folders: '!' without a pattern to "
	       "exclude (expected folder patterns separated by spaces, such "
	       "as * !Junk)", NULL);
	expect(ACC "host = imap.example.com:993\n",
	       "t.ini:6: [account a] host: duplicate key (first set on line "
	       "3)", NULL);
	expect("[account a]\nprotocol = imap\nhost = imap.example.com:993\n"
	       "user = me\npassword_cmd = x\n",
	       "t.ini:3: [account a] host: 'imap.example.com:993' holds a "
	       "port; the port has its own key: host = imap.example.com and "
	       "port = 993 (expected a host name or IP address)", NULL);
	expect("[account p]\nprotocol = pop3\nhost = localhost\nuser = me\n"
	       "password_cmd = x\ndelete_after_days = 40000\n",
	       "t.ini:6: [account p] delete_after_days: '40000' is too large "
	       "(at most 36500) (expected a number of days 0-36500)", NULL);
	expect(ACC "timeout = 0s\n",
	       "t.ini:6: [account a] timeout: '0s' is zero (expected a "
	       "duration such as 30s, 5m, 1h or 1h30m, or plain seconds)",
	       NULL);
}

static void
test_password_not_echoed(void **state)
{
	expect("[account a]\nprotocol = imap\nhost = localhost\nuser = me\n"
	       "password =\n",
	       "t.ini:5: [account a] password: empty value (expected the "
	       "password)", NULL);
	/* Any message about the password key leaves its value out. */
	expect("[account a]\nprotocol = imap\nhost = localhost\nuser = me\n"
	       "password = hunter2\npassword_cmd = x\n",
	       "t.ini:6: [account a] password_cmd: password and password_cmd "
	       "exclude each other (expected only one of them)", NULL);
}

/*
 * Keys, values and section names are echoed in messages: a binary file's
 * escape sequences and line ends must not reach --check-config's terminal
 * or forge a line of its own.
 */
static void
test_control_chars_escaped(void **state)
{
	expect("[general]\nlog_level = \x1b[2J\x1b]0;title\x07\n" ACC,
	       "t.ini:2: [general] log_level: '\\x1b[2J\\x1b]0;title\\x07' is "
	       "not a log level (expected error, warn, info or debug)", NULL);
	expect(ACC "\x1b[31mkey\x07 = 1\n",
	       "t.ini:6: [account a] \\x1b[31mkey\\x07: unknown key (expected a "
	       "key from mailsync.conf(5))", NULL);
	expect("[gen\x9b" "1m\xc3\xa9ral]\n" ACC,
	       "t.ini:1: [gen\\x9b" "1m\xc3\xa9ral]: unknown section (expected "
	       "[general] or [account NAME])", NULL);
}

/* ---- rules between keys ------------------------------------------------ */

static void
test_tls_none(void **state)
{
	static const char *const loopback[] = { "localhost", "127.0.0.1",
		"127.1.2.3", "::1" };
	char text[256];

	expect(ACC "tls = none\n",
	       "t.ini:6: [account a] tls: none is only allowed for a loopback "
	       "host, and host is 'imap.example.com' (expected implicit or "
	       "starttls)", NULL);
	for (size_t i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "[account a]\nprotocol = imap\n"
			 "host = %s\nuser = me\npassword_cmd = x\ntls = none\n",
			 loopback[i]);
		expect(text, NULL);
	}
	expect(ACC "smtp_host = smtp.example.com\nsmtp_tls = none\n"
	       "from = me@example.com\n",
	       "t.ini:7: [account a] smtp_tls: none is only allowed for a "
	       "loopback host, and smtp_host is 'smtp.example.com' (expected "
	       "implicit or starttls)", NULL);
	expect(ACC "smtp_host = 127.0.0.1\nsmtp_tls = none\nsmtp_port = 2525\n"
	       "from = me@example.com\n", NULL);
}

static void
test_port_vs_tls(void **state)
{
	expect(ACC "tls = starttls\nport = 993\n",
	       "t.ini:7: [account a] port: 993 is the usual port for implicit "
	       "TLS, but tls = starttls (expected 143, or another tls)", NULL);
	expect(ACC "port = 143\n",
	       "t.ini:6: [account a] port: 143 is the usual port for plaintext "
	       "and STARTTLS, but tls = implicit (expected 993, or another "
	       "tls)", NULL);
	expect(ACC "smtp_host = smtp.example.com\nsmtp_port = 587\n"
	       "from = me@example.com\n",
	       "t.ini:7: [account a] smtp_port: 587 is the usual port for "
	       "plaintext and STARTTLS, but smtp_tls = implicit (expected 465, "
	       "or another smtp_tls)", NULL);
	/* Ports that are not well known are the user's business. */
	expect(ACC "port = 10993\ntls = starttls\n", NULL);
}

static void
test_protocol_keys(void **state)
{
	expect("[account p]\nprotocol = pop3\nhost = localhost\nuser = me\n"
	       "password_cmd = x\nidle = yes\nfolders = *\ncompress = no\n"
	       "direction = pull\nidle_folders = INBOX\nsent_folder = Sent\n",
	       "t.ini:6: [account p] idle: only applies to protocol = imap "
	       "(this account uses pop3)",
	       "t.ini:7: [account p] folders: only applies to protocol = imap "
	       "(this account uses pop3)",
	       "t.ini:8: [account p] compress: only applies to protocol = imap "
	       "(this account uses pop3)",
	       "t.ini:9: [account p] direction: only applies to protocol = "
	       "imap (this account uses pop3)",
	       "t.ini:10: [account p] idle_folders: only applies to protocol "
	       "= imap (this account uses pop3)",
	       "t.ini:11: [account p] sent_folder: only applies to protocol = "
	       "imap (this account uses pop3)", NULL);
	expect(ACC "keep = yes\ndelete_after_days = 3\n",
	       "t.ini:6: [account a] keep: only applies to protocol = pop3 "
	       "(this account uses imap)",
	       "t.ini:7: [account a] delete_after_days: only applies to "
	       "protocol = pop3 (this account uses imap)", NULL);
	expect("[account p]\nprotocol = pop3\nhost = localhost\nuser = me\n"
	       "password_cmd = x\nkeep = no\ndelete_after_days = 3\n",
	       "t.ini:7: [account p] delete_after_days: only applies with "
	       "keep = yes", NULL);
	expect(ACC "idle = no\nidle_folders = INBOX\n",
	       "t.ini:7: [account a] idle_folders: only applies with idle = "
	       "yes", NULL);
}

static void
test_credentials(void **state)
{
	expect("[account a]\nprotocol = imap\nhost = localhost\nuser = me\n"
	       "password_cmd = x\npassword = y\n",
	       "t.ini:6: [account a] password: password and password_cmd "
	       "exclude each other (expected only one of them)", NULL);
	expect("[account a]\nprotocol = imap\nhost = localhost\nuser = me\n"
	       "auth = xoauth2\n",
	       "t.ini:5: [account a] auth: xoauth2 needs oauth_token_cmd "
	       "(expected oauth_token_cmd = COMMAND)", NULL);
	expect("[account a]\nprotocol = imap\nhost = localhost\nuser = me\n"
	       "auth = oauthbearer\noauth_token_cmd = tok\npassword_cmd = x\n",
	       "t.ini:7: [account a] password_cmd: not used with auth = "
	       "oauthbearer (expected oauth_token_cmd only)", NULL);
	expect(ACC "oauth_token_cmd = tok\n",
	       "t.ini:6: [account a] oauth_token_cmd: only applies with auth "
	       "= xoauth2 or auth = oauthbearer", NULL);
	expect(ACC "auth = plain\noauth_token_cmd = tok\n",
	       "t.ini:7: [account a] oauth_token_cmd: only applies with auth "
	       "= xoauth2 or auth = oauthbearer", NULL);
	expect("[account a]\nprotocol = imap\nhost = localhost\nuser = me\n"
	       "auth = xoauth2\noauth_token_cmd = tok\n", NULL);
}

static void
test_smtp(void **state)
{
	expect(ACC "smtp_port = 465\nsmtp_tls = implicit\nfrom = a@b.c\n"
	       "sent_folder = Sent\n",
	       "t.ini:6: [account a] smtp_port: only applies with smtp_host",
	       "t.ini:7: [account a] smtp_tls: only applies with smtp_host",
	       "t.ini:8: [account a] from: only applies with smtp_host",
	       "t.ini:9: [account a] sent_folder: only applies with smtp_host",
	       NULL);
	expect(ACC "smtp_host = smtp.example.com\n",
	       "t.ini:1: [account a] from: missing; an account with smtp_host "
	       "needs it (expected the addresses it sends as, such as "
	       "me@example.com)", NULL);
	expect(ACC "smtp_host = smtp.example.com\nfrom = Me <me@example.com>\n",
	       "t.ini:7: [account a] from: 'Me' is not an e-mail address "
	       "(expected e-mail addresses separated by commas, such as "
	       "me@example.com)", NULL);
	{
		struct cfg *cfg = load_ok(ACC "smtp_host = smtp.example.com\n"
			"from = me@example.com, me@alias.example.com\n"
			"sent_folder = Sent\n");

		assert_int_equal(cfg->accounts[0].from.n, 2);
		assert_string_equal(cfg->accounts[0].from.v[1],
				    "me@alias.example.com");
		assert_string_equal(cfg->accounts[0].sent_folder, "Sent");
		assert_int_equal(cfg->accounts[0].smtp_port, 465);
		cfg_free(&cfg);
	}
}

/* Account b, lines 7-11, its maildir on line 12. */
#define ACC_B "[account b]\nprotocol = imap\nhost = localhost\nuser = me\n" \
	      "password_cmd = x\nmaildir = "

static void
test_maildir_shared(void **state)
{
	expect(ACC "maildir = ~/Mail\n" ACC_B "$HOME/Mail\n",
	       "t.ini:12: [account b] maildir: '/home/me/Mail' is also the "
	       "maildir of account 'a', '/home/me/Mail' (expected a directory "
	       "apart from other accounts' maildirs)", NULL);
	/* Equal up to a trailing slash, "//", "." or "..". */
	expect(ACC "maildir = ~/Mail\n" ACC_B "/home//me/./Mail/work/../\n",
	       "t.ini:12: [account b] maildir: '/home//me/./Mail/work/../' "
	       "(that is, /home/me/Mail) is also the maildir of account 'a', "
	       "'/home/me/Mail' (expected a directory apart from other "
	       "accounts' maildirs)", NULL);
	/* Nested either way: the outer one would take the inner one's
	 * Maildirs for folders a reader made. */
	expect(ACC "maildir = ~/Mail\n" ACC_B "~/Mail/work\n",
	       "t.ini:12: [account b] maildir: '/home/me/Mail/work' is inside "
	       "the maildir of account 'a', '/home/me/Mail' (expected a "
	       "directory apart from other accounts' maildirs)", NULL);
	expect(ACC "maildir = ~/Mail/work/\n" ACC_B "~/Mail\n",
	       "t.ini:12: [account b] maildir: '/home/me/Mail' contains the "
	       "maildir of account 'a', '/home/me/Mail/work/' (that is, "
	       "/home/me/Mail/work) (expected a directory apart from other "
	       "accounts' maildirs)", NULL);
	/* A common prefix is not nesting. */
	expect(ACC "maildir = ~/Mail/work\n" ACC_B "~/Mail/work2\n", NULL);
}

static void
test_maildir_store(void **state)
{
	expect("[general]\nstore = ~/Mail/.store\n" ACC "maildir = ~/Mail\n",
	       "t.ini:8: [account a] maildir: '/home/me/Mail' contains the "
	       "store, /home/me/Mail/.store ([general] store, line 2) "
	       "(expected a directory apart from the store)", NULL);
	expect(ACC "maildir = ~/.local/share/mailsync/Mail\n",
	       "t.ini:6: [account a] maildir: "
	       "'/home/me/.local/share/mailsync/Mail' is inside the store, "
	       "/home/me/.local/share/mailsync (the default store) (expected "
	       "a directory apart from the store)", NULL);
	expect("[general]\nstore = /srv/mail/\n" ACC "maildir = $MAILROOT\n",
	       "t.ini:8: [account a] maildir: '/srv/mail' is the store, "
	       "/srv/mail ([general] store, line 2) (expected a directory "
	       "apart from the store)", NULL);
}

/* Symbolic links in the part that exists are resolved before comparing. */
static void
test_maildir_symlink(void **state)
{
	char dir[] = "/tmp/test_cfg_link_XXXXXX", *real, text[1024];
	char link[64], sub[64], want[1024], note_a[256];

	assert_non_null(mkdtemp(dir));
	real = realpath(dir, NULL);
	assert_non_null(real);
	snprintf(sub, sizeof(sub), "%s/real", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(symlink("real", link), 0);
	/* Account a's path resolves only where dir is not real already. */
	note_a[0] = '\0';
	if (strcmp(dir, real) != 0)
		snprintf(note_a, sizeof(note_a), " (that is, %s/real/x)", real);
	/* x and x/y do not exist yet; link does, and is real. */
	snprintf(text, sizeof(text), ACC "maildir = %s/x\n" ACC_B "%s/x/y\n",
		 sub, link);
	snprintf(want, sizeof(want), "t.ini:12: [account b] maildir: "
		 "'%s/x/y' (that is, %s/real/x/y) is inside the maildir of "
		 "account 'a', '%s/x'%s (expected a directory apart from "
		 "other accounts' maildirs)", link, real, sub, note_a);
	expect(text, want, NULL);
	/* ".." after a link leaves the link's target. */
	snprintf(text, sizeof(text), ACC "maildir = %s/x\n" ACC_B
		 "%s/../real/x\n", sub, link);
	snprintf(want, sizeof(want), "t.ini:12: [account b] maildir: "
		 "'%s/../real/x' (that is, %s/real/x) is also the maildir of "
		 "account 'a', '%s/x'%s (expected a directory apart from "
		 "other accounts' maildirs)", link, real, sub, note_a);
	expect(text, want, NULL);
	unlink(link);
	rmdir(sub);
	rmdir(dir);
	free(real);
}

/* ---- files ------------------------------------------------------------- */

/* Writes text to a new temporary file with the given mode. */
static char *
write_temp(const char *text, mode_t mode)
{
	char *path = strdup("/tmp/test_cfg_XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void
test_mode_check(void **state)
{
	static const char pw[] = "[account a]\nprotocol = imap\nhost = localhost\n"
				 "user = me\npassword = hunter2\n";
	struct cfg_report rep;
	struct cfg *cfg = NULL;
	char *path, want[256];

	cfg_report_init(&rep);
	path = write_temp(pw, 0644);
	assert_int_equal(cfg_load(path, &test_env, &cfg, &rep), MS_ECONFIG);
	assert_null(cfg);
	assert_int_equal(rep.n, 1);
	snprintf(want, sizeof(want), "%s: contains a password but is readable "
		 "by others (mode 0644); run: chmod 600 %s", path, path);
	assert_string_equal(rep.v[0].text, want);
	cfg_report_deinit(&rep);

	/* Group access alone is refused too; the fix makes it load. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(cfg_load(path, &test_env, &cfg, &rep), MS_ECONFIG);
	assert_int_equal(rep.n, 1);
	assert_non_null(strstr(rep.v[0].text, "(mode 0640)"));
	cfg_report_deinit(&rep);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(cfg_load(path, &test_env, &cfg, &rep), MS_OK);
	assert_int_equal(rep.n, 0);
	assert_string_equal(cfg->accounts[0].password, "hunter2");
	cfg_free(&cfg);
	unlink(path);
	free(path);

	/* Without a password the mode does not matter. */
	path = write_temp(ACC, 0644);
	assert_int_equal(cfg_load(path, &test_env, &cfg, &rep), MS_OK);
	cfg_free(&cfg);
	unlink(path);
	free(path);
	cfg_report_deinit(&rep);
}

/* Loads path and checks for exactly one problem, want, or none. */
static void
expect_file(const char *path, const struct cfg_env *env, const char *want)
{
	struct cfg_report rep;
	struct cfg *cfg = NULL;
	int rc;

	cfg_report_init(&rep);
	rc = cfg_load(path, env, &cfg, &rep);
	if (rep.n != (want != NULL) ||
	    (want != NULL && strcmp(rep.v[0].text, want) != 0)) {
		fprintf(stderr, "want: %s\n", want ? want : "(nothing)");
		dump(&rep);
		fail();
	}
	assert_int_equal(rc, want != NULL ? MS_ECONFIG : MS_OK);
	cfg_free(&cfg);
	cfg_report_deinit(&rep);
}

static void
test_command_writers(void **state)
{
	char dir[] = "/tmp/test_cfg_dir_XXXXXX", path[64], want[512];
	struct cfg_env env = test_env;
	bool is_root = geteuid() == 0;
	FILE *f;

	env.uid = getuid();	/* the owner of the files made here */

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config.ini", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(ACC, f);
	fclose(f);

	/* Whoever may write the file may change password_cmd. */
	assert_int_equal(chmod(path, 0664), 0);
	snprintf(want, sizeof(want), "%s: sets password_cmd, a command "
		 "mailsyncd runs as you, but is writable by group (mode 0664); "
		 "run: chmod go-w %s", path, path);
	expect_file(path, &env, want);
	assert_int_equal(chmod(path, 0646), 0);
	snprintf(want, sizeof(want), "%s: sets password_cmd, a command "
		 "mailsyncd runs as you, but is writable by others (mode "
		 "0646); run: chmod go-w %s", path, path);
	expect_file(path, &env, want);
	/* Reading is not changing: no secret is in the file. */
	assert_int_equal(chmod(path, 0644), 0);
	expect_file(path, &env, NULL);

	/* An owner other than the user or root can chmod it. */
	if (is_root) {
		assert_int_equal(chown(path, 12345, (gid_t)-1), 0);
		snprintf(want, sizeof(want), "%s: sets password_cmd, a command "
			 "mailsyncd runs as you, but is owned by uid 12345, who "
			 "can change it (expected a file owned by you or root)",
			 path);
		expect_file(path, &env, want);
		assert_int_equal(chown(path, env.uid, (gid_t)-1), 0);
	}

	/* A directory others may write lets them replace the file... */
	assert_int_equal(chmod(dir, 0775), 0);
	snprintf(want, sizeof(want), "%s: sets password_cmd, a command "
		 "mailsyncd runs as you, but directory %s is writable by group "
		 "(mode 0775), who can replace the file; run: chmod go-w %s",
		 path, dir, dir);
	expect_file(path, &env, want);
	/* ...unless it is sticky, like /tmp. */
	assert_int_equal(chmod(dir, 01777), 0);
	expect_file(path, &env, NULL);
	assert_int_equal(chmod(dir, 0700), 0);
	if (is_root) {
		assert_int_equal(chown(dir, 12345, (gid_t)-1), 0);
		snprintf(want, sizeof(want), "%s: sets password_cmd, a command "
			 "mailsyncd runs as you, but directory %s is owned by "
			 "uid 12345, who can replace the file (expected "
			 "directories owned by you or root)", path, dir);
		expect_file(path, &env, want);
		assert_int_equal(chown(dir, env.uid, (gid_t)-1), 0);
	}

	/* oauth_token_cmd runs a command too. */
	assert_non_null(f = fopen(path, "w"));
	fputs("[account a]\nprotocol = imap\nhost = imap.example.com\n"
	      "user = me\nauth = xoauth2\noauth_token_cmd = tok\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0666), 0);
	snprintf(want, sizeof(want), "%s: sets oauth_token_cmd, a command "
		 "mailsyncd runs as you, but is writable by group and others "
		 "(mode 0666); run: chmod go-w %s", path, path);
	expect_file(path, &env, want);
	unlink(path);
	rmdir(dir);
}

static void
test_unreadable(void **state)
{
	struct cfg_report rep;
	struct cfg *cfg = NULL;

	cfg_report_init(&rep);
	assert_int_equal(cfg_load("/nonexistent/config.ini", &test_env, &cfg,
				  &rep), MS_EIO);
	assert_int_equal(rep.n, 1);
	assert_string_equal(rep.v[0].text, "/nonexistent/config.ini: cannot "
			    "open: No such file or directory");
	cfg_report_deinit(&rep);
	assert_int_equal(cfg_load("/tmp", &test_env, &cfg, &rep), MS_EIO);
	assert_string_equal(rep.v[0].text, "/tmp: not a regular file");
	cfg_report_deinit(&rep);
}

static char *
data_path(const char *name)
{
	const char *dir = getenv("MS_TEST_DATA");
	char *p;

	assert_true(asprintf(&p, "%s/cfg/%s", dir ? dir : "tests/data",
			     name) > 0);
	return p;
}

static void
test_five_mistakes(void **state)
{
	static const unsigned lines[] = { 4, 9, 12, 17, 20 };
	char *path = data_path("five-mistakes.ini");
	struct cfg_report rep;
	struct cfg *cfg = NULL;
	char prefix[512];

	cfg_report_init(&rep);
	assert_int_equal(cfg_load(path, &test_env, &cfg, &rep), MS_ECONFIG);
	if (rep.n != 5)
		dump(&rep);
	assert_int_equal(rep.n, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(rep.v[i].line, lines[i]);
		snprintf(prefix, sizeof(prefix), "%s:%u: ", path, lines[i]);
		assert_memory_equal(rep.v[i].text, prefix, strlen(prefix));
	}
	assert_non_null(strstr(rep.v[0].text, "[general] log_level: "));
	assert_non_null(strstr(rep.v[1].text, "did you mean 'port'?"));
	assert_non_null(strstr(rep.v[2].text, "[account work] timeout: "));
	assert_non_null(strstr(rep.v[3].text, "tls: none is only allowed"));
	assert_non_null(strstr(rep.v[4].text, "idle: only applies to protocol "
			       "= imap"));
	cfg_report_deinit(&rep);
	free(path);
}

static void
test_example(void **state)
{
	char *path = data_path("example.ini");
	struct cfg_report rep;
	struct cfg *cfg = NULL;
	const struct cfg_account *a;

	cfg_report_init(&rep);
	if (cfg_load(path, &test_env, &cfg, &rep) != MS_OK)
		dump(&rep);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_accounts, 4);
	a = cfg_account_find(cfg, "work");
	assert_string_equal(a->tls_fingerprint.text,
			    "sha256:3B:6F:2A:9C:11:D0:8E:47:5A:C2:19:E4:7B:0F:"
			    "66:A1:3D:92:58:C7:E0:14:B9:6D:2F:8A:71:C5:09:EE:"
			    "43:B8");
	assert_int_equal(a->folders.n, 4);
	assert_string_equal(a->folders.v[3], "!Deleted Items");
	assert_string_equal(a->maildir, "/home/me/Mail/work");
	assert_int_equal(a->idle_folders.n, 2);
	assert_string_equal(a->new_mail_cmd, "notmuch new");
	a = cfg_account_find(cfg, "gmail");
	assert_null(a->new_mail_cmd);
	assert_int_equal(a->auth, CFG_AUTH_XOAUTH2);
	assert_string_equal(a->folders.v[1], "[Gmail]/Sent Mail");
	a = cfg_account_find(cfg, "isp");
	assert_int_equal(a->port, 110);
	assert_int_equal(a->delete_after_days, 30);
	a = cfg_account_find(cfg, "local");
	assert_int_equal(a->timeout, 90);
	cfg_free(&cfg);
	cfg_report_deinit(&rep);
	free(path);
}

/* ---- sending ----------------------------------------------------------- */

/* protocol = smtp: only the smtp_* keys and the credentials. */
static void
test_send_only(void **state)
{
	struct cfg *cfg;
	const struct cfg_account *a;

	(void)state;
	cfg = load_ok("[general]\nstore = /s\n"
		      "[account out]\nprotocol = smtp\n"
		      "smtp_host = smtp.example.com\nsmtp_user = me\n"
		      "smtp_password_cmd = pass smtp\nfrom = me@example.com\n"
		      "smtp_queue_lifetime = 2d\n"
		      ACC "smtp_host = smtp.example.com\nfrom = a@example.com\n");
	a = cfg_account_find(cfg, "out");
	assert_non_null(a);
	assert_int_equal(a->protocol, CFG_PROTOCOL_SMTP);
	assert_string_equal(a->smtp_user, "me");
	assert_string_equal(a->smtp_password_cmd, "pass smtp");
	assert_int_equal(a->smtp_queue_lifetime, 2 * 86400);
	assert_int_equal(a->smtp_port, 465);
	assert_false(a->is_sent_auto);
	assert_string_equal(cfg->spool, "/s/spool");
	/* An IMAP account that sends: the \Sent folder, 5 days. */
	a = cfg_account_find(cfg, "a");
	assert_true(a->is_sent_auto);
	assert_null(a->sent_folder);
	assert_int_equal(a->smtp_queue_lifetime, 5 * 86400);
	cfg_free(&cfg);

	expect("[account out]\nprotocol = smtp\nuser = me\n"
	       "password_cmd = p\nhost = imap.example.com\n"
	       "sent_folder = Sent\n",
	       "t.ini:1: [account out] smtp_host: missing; a protocol = smtp "
	       "account only sends (expected smtp_host = smtp.example.com)",
	       "t.ini:5: [account out] host: only applies to protocol = imap "
	       "or pop3 (this account uses smtp)",
	       "t.ini:6: [account out] sent_folder: only applies to protocol "
	       "= imap (this account uses smtp)",
	       NULL);
	expect(ACC "smtp_user = x\n",
	       "t.ini:6: [account a] smtp_user: only applies with smtp_host",
	       NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_maildir_layout),
		cmocka_unit_test(test_default_ports),
		cmocka_unit_test(test_socket_group),
		cmocka_unit_test(test_values_stored),
		cmocka_unit_test(test_default_store_xdg),
		cmocka_unit_test(test_defaults_bare_env),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_nul_and_long_lines),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_password_not_echoed),
		cmocka_unit_test(test_control_chars_escaped),
		cmocka_unit_test(test_tls_none),
		cmocka_unit_test(test_port_vs_tls),
		cmocka_unit_test(test_protocol_keys),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_smtp),
		cmocka_unit_test(test_maildir_shared),
		cmocka_unit_test(test_maildir_store),
		cmocka_unit_test(test_maildir_symlink),
		cmocka_unit_test(test_mode_check),
		cmocka_unit_test(test_command_writers),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_five_mistakes),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_send_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
