/*
 * test_cfg_fetchmail.c - daemon/cfg/cfg_fetchmail.c: a fetchmail run
 * control file turned into a mailsync configuration, checked against
 * what a person would write by hand, with a note for each setting that
 * has no counterpart (an MDA's rules, SMTP forwarding, multidrop,
 * preconnect, skip entries); fetchmail's syntax (free-format tokens,
 * keywords in any order, noise words and punctuation, both quotes and
 * their escapes, comments, "no KEYWORD" and "noKEYWORD", a defaults
 * entry); the result validated by cfg_load_text(); and how a
 * .fetchmailrc is told from an mbsync, OfflineIMAP or INI file.
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
#include "cfg/cfg_fetchmail.h"
#include "cfg/cfg_mbsync.h"
#include "cfg/cfg_offlineimap.h"
#include "test_convert_util.h"

static int
convert(const char *text)
{
	cfg_convert_result_free(&res);
	return cfg_fetchmail_convert("rc", text, strlen(text), &res);
}

/* A .fetchmailrc as people write them: a defaults entry, several polls,
 * noise words and punctuation, both quotes, a comment, odd spacing. */
static const char realistic[] =
	"# ~/.fetchmailrc\n"					/* 1 */
	"set daemon 600\n"
	"set logfile ~/.fetchmail.log\n"
	"set no bouncemail\n"
	"\n"							/* 5 */
	"defaults\n"
	"\tproto pop3  timeout 45\n"
	"\tssl sslcertck\n"
	"\n"
	"poll pop.example.com with proto pop3 and options\n"	/* 10 */
	"   user \"me@example.com\" there with password "
	"'s3cret #1', is me here;\n"
	"   keep fetchall\n"
	"   mda \"/usr/bin/procmail -d %T\"\n"
	"\n"
	"poll imap.example.org   protocol IMAP port 993:\n"	/* 15 */
	"\tuser me, with pass \"two words\"\n"
	"\tfolders INBOX, \"Lists/dev\", 'Sent Items'\n"
	"\tnokeep no idle\n"
	"\tsmtphost localhost\n"
	"\tmda \"mdeliver -c ~/Maildir/\"\n"			/* 20 */
	"\n"
	"skip old.example.net proto pop3 user a pass b\n"
	"\n"
	"poll shared.example.net via mail.example.net service pop3s "
	"interval 3\n"
	"  preconnect \"ssh -f -L 1995:localhost:995 gw sleep 5\"\n" /* 25 */
	"  user alice password a1 is alice here keep\n"
	"  user bob password \"b\\x31\" to bob carol here\n"
	"  sslproto tls1 no sslcertck\n";

static void
test_realistic(void **state)
{
	(void)state;
	assert_int_equal(convert(realistic), MS_OK);
	assert_int_equal(res.n_accounts, 4);
	assert_string_equal(section("pop.example.com"),
		"[account pop.example.com]\n"
		"protocol = pop3\n"
		"host = pop.example.com\n"
		"tls = implicit\n"
		"timeout = 45s\n"
		"user = me@example.com\n"
		"password = s3cret #1\n"
		"keep = yes\n"
		"maildir = ~/Mail/pop.example.com\n"
		"poll_interval = 600s\n");
	assert_string_equal(section("imap.example.org"),
		"[account imap.example.org]\n"
		"protocol = imap\n"
		"host = imap.example.org\n"
		"port = 993\n"
		"tls = implicit\n"
		"timeout = 45s\n"
		"user = me\n"
		"password = two words\n"
		"folders = INBOX Lists/dev \"Sent Items\"\n"
		"idle = no\n"
		"maildir = ~/Mail/imap.example.org\n"
		"poll_interval = 600s\n");
	/* Several users: one account each, named after entry and user;
	 * options before the first user are the entry's, for both. */
	assert_string_equal(section("shared.example.net-alice"),
		"[account shared.example.net-alice]\n"
		"protocol = pop3\n"
		"host = mail.example.net\n"
		"port = 995\n"
		"tls = implicit\n"
		"timeout = 45s\n"
		"user = alice\n"
		"password = a1\n"
		"keep = yes\n"
		"maildir = ~/Mail/shared.example.net-alice\n"
		"poll_interval = 1800s\n");
	/* \x31 is "1"; bob's own sslproto and no sslcertck are noted. */
	assert_non_null(strstr(section("shared.example.net-bob"),
			       "user = bob\npassword = b1\nkeep = no\n"));
	assert_null(strstr(res.ini, "old.example.net"));

	assert_true(has_note(3, "set logfile: not translated (mailsyncd logs "
			     "to standard error"));
	assert_true(has_note(4, "set no bouncemail: not translated"));
	assert_true(has_note(11, "password: written as password =, so the "
			     "file must be private (chmod 600); password_cmd "
			     "keeps it out of the file"));
	assert_true(has_note(12, "keep: the first pass downloads every "
			     "message the server holds"));
	assert_true(has_note(12, "fetchall: not translated"));
	assert_true(has_note(13, "mda: not run; mailsync delivers into "
			     "maildir = ~/Mail/pop.example.com (procmail's "
			     "rules are not applied"));
	assert_true(has_note(18, "account imap.example.org: IMAP is synced "
			     "both ways"));
	assert_true(has_note(20, "mda: ~/Maildir holds what fetchmail "
			     "delivered; an IMAP mirror there would upload "
			     "what the server does not have, so it gets a "
			     "Maildir of its own: maildir = "
			     "~/Mail/imap.example.org"));
	assert_true(has_note(19, "smtphost: not translated (mailsync "
			     "delivers into a Maildir and forwards nothing "
			     "over SMTP)"));
	assert_true(has_note(22, "skip old.example.net: fetchmail polls it "
			     "only when named on its command line: not "
			     "converted"));
	assert_true(has_note(25, "preconnect: not translated"));
	assert_true(has_note(26, "account shared.example.net-alice: "
			     "fetchmail passed the mail to the local mail "
			     "server"));
	assert_true(has_note(27, "is: several local names: not translated "
			     "(multidrop"));
	assert_true(has_note(28, "sslproto tls1: not translated (mailsync "
			     "uses TLS 1.2 or later)"));
	assert_true(has_note(28, "no sslcertck: not translated (mailsync "
			     "always checks the certificate"));
	/* The secrets are in the file, never in a note. */
	for (size_t i = 0; i < res.n_notes; i++) {
		assert_null(strstr(res.notes[i].text, "s3cret"));
		assert_null(strstr(res.notes[i].text, "two words"));
	}
	notes_in_order();
}

static void
test_result_validates(void **state)
{
	(void)state;
	assert_int_equal(convert(realistic), MS_OK);
	result_loads(4);
}

/* The defaults entry fills in what a poll leaves out, user included;
 * no protocol: auto, IMAP unless the port is POP3's; tls = starttls
 * unless ssl (fetchmail requires STARTTLS), none with sslproto ''. */
static void
test_defaults_and_protocols(void **state)
{
	(void)state;
	assert_int_equal(convert(
		"defaults proto pop3\n"
		"     user \"jsmith\"\n"
		"poll pop.provider.net\n"
		"     pass \"secret1\"\n"			/* 4 */
		"poll mail.provider.net\n"
		"     user \"jjsmith\" there has password \"secret2\"\n"
		"poll auto.example proto auto\n"
		"poll plain.example proto pop3 port 110 user u pass p "
		"sslproto ''\n"
		"poll guess.example service 110 user u pass p\n" /* 9 */
		"poll etrn.example proto etrn user u pass p\n"), MS_OK);
	assert_string_equal(section("pop.provider.net"),
		"[account pop.provider.net]\n"
		"protocol = pop3\n"
		"host = pop.provider.net\n"
		"tls = starttls\n"
		"user = jsmith\n"
		"password = secret1\n"
		"keep = no\n"
		"maildir = ~/Mail/pop.provider.net\n");
	assert_non_null(strstr(section("mail.provider.net"),
			       "user = jjsmith\npassword = secret2\n"));
	/* auto: the defaults say pop3 for every entry that says nothing;
	 * this one says auto. */
	assert_non_null(strstr(section("auto.example"), "protocol = imap\n"));
	assert_non_null(strstr(section("auto.example"), "folders = INBOX\n"));
	assert_true(has_note(7, "account auto.example: protocol auto "
			     "(fetchmail tries IMAP, then POP3): written as "
			     "imap"));
	assert_non_null(strstr(section("plain.example"), "tls = none\n"));
	assert_true(has_note(8, "sslproto '': tls = none, which mailsync "
			     "accepts for a server on this machine only"));
	assert_non_null(strstr(section("guess.example"), "protocol = pop3\n"));
	assert_true(has_note(10, "protocol etrn: mailsync speaks IMAP and "
			     "POP3: account etrn.example not converted"));
	assert_int_equal(res.n_accounts, 5);
	assert_true(has_note(0, "no set daemon: fetchmail polled when it "
			     "was run"));
}

/* The Maildir delivery tools an mda may name; two accounts cannot share
 * one Maildir. */
static void
test_mda(void **state)
{
	(void)state;
	assert_int_equal(convert(
		"poll a proto pop3 user u pass p mda "
		"\"safecat $HOME/Mail/a/tmp $HOME/Mail/a/new\"\n"
		"poll b proto pop3 user u pass p mda "
		"'/usr/bin/deliverquota -w 90 ~/Mail/b'\n"
		"poll c proto pop3 user u pass p mda \"getmail_maildir "
		"$HOME/Mail/a/\"\n"
		"poll d proto pop3 user u pass p mda \"maildrop\"\n"
		"poll e proto pop3 user u pass p mda \"mdeliver %F\"\n"),
		MS_OK);
	assert_non_null(strstr(section("a"), "maildir = $HOME/Mail/a\n"));
	assert_non_null(strstr(section("b"), "maildir = ~/Mail/b\n"));
	assert_non_null(strstr(section("c"), "maildir = ~/Mail/c\n"));
	assert_true(has_note(3, "mda: $HOME/Mail/a is (or holds, or is in) "
			     "account a's maildir, and each account has a "
			     "Maildir of its own: maildir = ~/Mail/c"));
	assert_true(has_note(4, "mda: not run; mailsync delivers into "
			     "maildir = ~/Mail/d (the command is not a "
			     "Maildir delivery tool mailsync recognises"));
	assert_non_null(strstr(section("e"), "maildir = ~/Mail/e\n"));
}

/* fetchmail's lexer: escapes, a joined line, a quoted keyword is a
 * value, a keyword after user is a name (its NAME state), '#' inside a
 * word, and negations. */
static void
test_syntax(void **state)
{
	(void)state;
	assert_int_equal(convert(
		"poll h proto pop3 # a comment: keep\n"
		"  user keep pass \"a\\tb\\101\\x41\\0102\\\n"
		"c\" \\\n"
		"  keep no keep ; nofetchall\n"
		"  folder \"not#comment\"\n"), MS_OK);
	assert_non_null(strstr(section("h"), "user = keep\n"));
	/* \t is a control character: the password is left out. */
	assert_null(strstr(res.ini, "password ="));
	assert_true(has_note(2, "password: the value cannot be written into "
			     "an INI line"));
	assert_non_null(strstr(section("h"), "keep = no\n"));
	assert_true(has_note(5, "folder: not translated (POP3 has one "
			     "mailbox)"));
	assert_int_equal(convert(
		"poll h proto pop3 user u pass \"A\\101\\x42\\0103\\\n"
		"D\"\n"), MS_OK);
	/* \101 is decimal, as fetchmail reads it. */
	assert_non_null(strstr(section("h"), "password = AeBCD\n"));
}

static void
test_bad_input(void **state)
{
	static const char nul[] = "poll h proto pop3 user u\0 pass p\n";

	(void)state;
	assert_int_equal(convert("set daemon soon\nkeep\n"), MS_ECONFIG);
	assert_true(has_note(1, "set daemon: not a number of seconds"));
	assert_true(has_note(2, "'keep': an option outside a poll or "
			     "defaults entry"));
	assert_true(has_note(0, "no fetchmail account with a server: "
			     "nothing to convert"));
	assert_int_equal(convert("poll\n"), MS_ECONFIG);
	assert_true(has_note(1, "poll: no server name"));
	assert_int_equal(convert("poll h proto pop3 user u pass \"open\n"),
			 MS_OK);
	assert_true(has_note(1, "a string without its closing \": the rest "
			     "of the file is ignored"));
	assert_true(has_note(1, "account h: no password"));
	assert_int_equal(convert("poll h proto pop3 user u passwd hunter2 "
				 "keep\n"), MS_OK);
	assert_true(has_note(1, "'passwd': not a fetchmail keyword (ignored "
			     "up to the next keyword)"));
	for (size_t i = 0; i < res.n_notes; i++)
		assert_null(strstr(res.notes[i].text, "hunter2"));
	assert_non_null(strstr(section("h"), "keep = yes\n"));
	/* A quote cannot be escaped: what follows is not quoted back. */
	assert_int_equal(convert("poll h proto pop3 user u pass \"se\\\"cret"
				 "\" keep\n"), MS_OK);
	for (size_t i = 0; i < res.n_notes; i++)
		assert_null(strstr(res.notes[i].text, "cret"));
	assert_true(has_note(1, "the word after a password"));
	cfg_convert_result_free(&res);
	assert_int_equal(cfg_fetchmail_convert("rc", nul, sizeof(nul) - 1,
					       &res), MS_OK);
	assert_true(has_note(1, "a NUL byte (ignored)"));
}

static void
test_looks_like(void **state)
{
	static const char *const yes[] = {
		"poll h proto pop3\n", "# mine\n\nset daemon 60\n",
		"defaults\n", "  skip h\n", "server h\n", "poll\th\r\n",
	};
	static const char *const no[] = {
		"IMAPAccount a\n", "[general]\n", "", "\n# x\n",
		"server = x\n", "polling h\n", "Poll h\n", "set -e\n",
		"set\n",
		"[account a]\nhost = h\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		assert_true(cfg_fetchmail_looks_like(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		assert_false(cfg_fetchmail_looks_like(no[i], strlen(no[i])));
	/* Neither other converter claims one. */
	assert_false(cfg_mbsync_looks_like(realistic, strlen(realistic)));
	assert_false(cfg_offlineimap_looks_like(realistic, strlen(realistic)));
}

/* mailsyncd given a .fetchmailrc says so in one line. */
static void
test_load_says_fetchmail(void **state)
{
	(void)state;
	load_refused("/home/me/.fetchmailrc", realistic,
		     "/home/me/.fetchmailrc: this is a fetchmail "
		     "configuration (~/.fetchmailrc), not a mailsync one; "
		     "convert it with: mailsyncctl convert "
		     "/home/me/.fetchmailrc > ~/.config/mailsync/config.ini");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_realistic),
		cmocka_unit_test(test_result_validates),
		cmocka_unit_test(test_defaults_and_protocols),
		cmocka_unit_test(test_mda),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_looks_like),
		cmocka_unit_test(test_load_says_fetchmail),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
