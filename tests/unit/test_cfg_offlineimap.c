/*
 * test_cfg_offlineimap.c - daemon/cfg/cfg_offlineimap.c: an OfflineIMAP
 * configuration turned into mailsync's, checked against what a person
 * would write by hand, with a note for each setting that has no
 * counterpart (Python, hooks, settings no account used); configparser's
 * syntax (':' or '=', case-insensitive keys, continuation lines,
 * [DEFAULT]); the result validated by cfg_load_text(); and how an
 * OfflineIMAP file is told from an mbsync or INI one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg.h"
#include "cfg/cfg_offlineimap.h"
#include "test_convert_util.h"

static int
convert(const char *text)
{
	cfg_convert_result_free(&res);
	return cfg_offlineimap_convert("rc", text, strlen(text), &res);
}

/* The shape of ~/.offlineimaprc in OfflineIMAP's own example. */
static const char realistic[] =
	"[general]\n"					/* 1 */
	"accounts = Work, Gmail\n"
	"maxsyncaccounts = 2\n"
	"pythonfile = ~/.offlineimap.py\n"
	"\n"						/* 5 */
	"[Account Work]\n"
	"localrepository = WorkLocal\n"
	"remoterepository = WorkRemote\n"
	"autorefresh = 5\n"
	"quick = 10\n"					/* 10 */
	"postsynchook = notmuch new\n"
	"\n"
	"[Repository WorkLocal]\n"
	"type = Maildir\n"
	"localfolders = ~/Mail/work\n"			/* 15 */
	"\n"
	"[Repository WorkRemote]\n"
	"type = IMAP\n"
	"remotehost = imap.example.com\n"
	"remoteport: 993\n"				/* 20 */
	"RemoteUser = me@example.com\n"
	"remotepassfile = ~/.work-pass\n"
	"sslcacertfile = OS-DEFAULT\n"
	"auth_mechanisms = CRAM-MD5\n"
	"folderfilter = lambda f: f not in ['Trash',\n"	/* 25 */
	"    'Spam']\n"
	"# a comment inside the section\n"
	"\n"
	"[Account Gmail]\n"
	"localrepository = GmailLocal\n"		/* 30 */
	"remoterepository = GmailRemote\n"
	"\n"
	"[Repository GmailLocal]\n"
	"type = GmailMaildir\n"
	"localfolders = ~/Mail/gmail\n"			/* 35 */
	"\n"
	"[Repository GmailRemote]\n"
	"type = Gmail\n"
	"remoteuser = me@gmail.com\n"
	"remotepasseval = get_pass('gmail')\n"		/* 40 */
	"readonly = True\n";

static void
test_realistic(void **state)
{
	(void)state;
	assert_int_equal(convert(realistic), MS_OK);
	assert_int_equal(res.n_accounts, 2);
	assert_string_equal(section("Work"),
		"[account Work]\n"
		"protocol = imap\n"
		"host = imap.example.com\n"
		"port = 993\n"
		"tls = implicit\n"
		"user = me@example.com\n"
		"password_cmd = head -n 1 ~/.work-pass\n"
		"auth = cram-md5\n"
		"maildir = ~/Mail/work\n"
		"poll_interval = 300s\n");
	assert_string_equal(section("Gmail"),
		"[account Gmail]\n"
		"protocol = imap\n"
		"host = imap.gmail.com\n"
		"tls = implicit\n"
		"user = me@gmail.com\n"
		"direction = pull\n"
		"maildir = ~/Mail/gmail\n");
	assert_true(has_note(3, "[general] maxsyncaccounts: not translated"));
	assert_true(has_note(4, "[general] pythonfile: not translated"));
	assert_true(has_note(11, "[Account Work] postsynchook: not "
			     "translated"));
	assert_true(has_note(13, "Repository WorkLocal: OfflineIMAP keeps "
			     "INBOX in ~/Mail/work/INBOX and other folders as "
			     ".-separated names; mailsync keeps INBOX at the "
			     "top of maildir = ~/Mail/work"));
	assert_true(has_note(25, "folderfilter: Python, not translated "
			     "(list the folders to sync with folders =)"));
	assert_true(has_note(40, "remotepasseval: Python, not translated "
			     "(set password_cmd = a command that prints the "
			     "password)"));
	/* In input order. */
	notes_in_order();
}

/* The result loads as it is once the password is one mailsync can run
 * (remotepasseval, Python, is only noted: --check-config then says the
 * password is missing, as the note does). */
static void
test_result_validates(void **state)
{
	char text[sizeof(realistic) + 64], *at;

	(void)state;
	snprintf(text, sizeof(text), "%s", realistic);
	at = strstr(text, "remotepasseval = get_pass('gmail')");
	assert_non_null(at);
	memcpy(at, "remotepassfile = ~/.gmail-pass    ", 34);
	assert_int_equal(convert(text), MS_OK);
	result_loads(2);
}

/* Without accounts =, every [Account]; [DEFAULT] fills in; STARTTLS;
 * a plain password; interpolation and an unknown type noted. */
static void
test_defaults_and_notes(void **state)
{
	(void)state;
	assert_int_equal(convert(
		"[DEFAULT]\n"
		"remoteuser = shared\n"
		"[Account a]\n"
		"remoterepository = r\n"
		"[Repository r]\n"				/* 5 */
		"type = IMAP\n"
		"remotehost = mail.example.org\n"
		"ssl = no\n"
		"remotepass = s3cret\n"
		"remoteport = %(port)s\n"			/* 10 */
		"[Account b]\n"
		"remoterepository = pop\n"
		"[Repository pop]\n"
		"type = Maildir\n"), MS_OK);
	assert_string_equal(section("a"),
		"[account a]\n"
		"protocol = imap\n"
		"host = mail.example.org\n"
		"tls = starttls\n"
		"user = shared\n"
		"password = s3cret\n");
	assert_true(has_note(9, "remotepass: written as password =, so the "
			     "file must be private (chmod 600)"));
	assert_true(has_note(10, "remoteport: %(...)s interpolation is not "
			     "expanded: set it by hand"));
	assert_true(has_note(3, "Account a: no local Maildir repository with "
			     "localfolders: synced into the store only"));
	assert_true(has_note(13, "Repository pop: type Maildir is not an IMAP "
			     "server: account b not converted"));
	assert_int_equal(res.n_accounts, 1);
}

static void
test_bad_input(void **state)
{
	static const char nul[] = "[general]\nac\0counts = x\n";

	(void)state;
	assert_int_equal(convert("[general]\naccounts = nowhere\n"),
			 MS_ECONFIG);
	assert_true(has_note(2, "accounts: no [Account nowhere] section"));
	assert_true(has_note(0, "no OfflineIMAP account with a server: "
			     "nothing to convert"));
	assert_int_equal(convert("key = before\n[general\n  indented\n"),
			 MS_ECONFIG);
	assert_true(has_note(1, "a setting before any section (ignored)"));
	assert_true(has_note(2, "a section header without ']' (ignored)"));
	assert_true(has_note(3, "not a setting (ignored)"));
	cfg_convert_result_free(&res);
	assert_int_equal(cfg_offlineimap_convert("rc", nul, sizeof(nul) - 1,
						 &res), MS_ECONFIG);
	assert_true(has_note(2, "a NUL byte (ignored)"));
	/* A value an INI line cannot hold is left out, with a note. */
	assert_int_equal(convert("[Account x]\nremoterepository = r\n"
				 "[Repository r]\ntype = IMAP\n"
				 "remotehost = h\nremoteuser = a ;b\n"), MS_OK);
	assert_null(strstr(res.ini, "user ="));
	assert_true(has_note(6, "user: the value cannot be written"));
}

static void
test_looks_like(void **state)
{
	static const char *const yes[] = {
		"[general]\naccounts = a\n[Account a]\n",
		"# mine\n\n[Account a]\n", "[Repository r]\n",
		"[DEFAULT]\nx = 1\n[Repository r]\n",
	};
	static const char *const no[] = {
		"IMAPAccount a\n", "[account a]\nhost = h\n", "", "\n# x\n",
		" [general]\n[Account a]\n",
		/* mailsync's own */
		"[general]\nstore = ~/s\n[account a]\nhost = h\n",
		"[general]\naccounts = a\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		assert_true(cfg_offlineimap_looks_like(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		assert_false(cfg_offlineimap_looks_like(no[i], strlen(no[i])));
}

/* mailsyncd given an .offlineimaprc says so in one line. */
static void
test_load_says_offlineimap(void **state)
{
	(void)state;
	load_refused("/home/me/.offlineimaprc", realistic,
		     "/home/me/.offlineimaprc: this is an OfflineIMAP "
		     "configuration (~/.offlineimaprc), not a mailsync one; "
		     "convert it with: mailsyncctl convert "
		     "/home/me/.offlineimaprc > ~/.config/mailsync/config.ini");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_realistic),
		cmocka_unit_test(test_result_validates),
		cmocka_unit_test(test_defaults_and_notes),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_looks_like),
		cmocka_unit_test(test_load_says_offlineimap),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
