/*
 * test_cfg_mbsync.c - daemon/cfg/cfg_mbsync.c: an mbsync configuration
 * turned into mailsync's, checked section by section against what a
 * person would write by hand, with a note for each setting that has no
 * counterpart; mbsync's syntax (quotes, escapes, comments that do not end
 * a section, blank lines that do); stores that carry their account;
 * group members; bad input noted, never a crash; the result validated by
 * cfg_load_text(); and how an mbsync file is told from an INI one.
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
#include "cfg/cfg_mbsync.h"
#include "test_convert_util.h"

static int
convert(const char *text)
{
	cfg_convert_result_free(&res);
	return cfg_mbsync_convert("rc", text, strlen(text), &res);
}

static char *
fixture(size_t *len_r)
{
	const char *dir = getenv("MS_TEST_DATA");
	char path[1024], *text;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/mbsync/mbsyncrc",
		 dir != NULL ? dir : "tests/data");
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len_r = (size_t)n;
	return text;
}

/* Converts the fixture into res. */
static void
convert_fixture(void)
{
	size_t len;
	char *text = fixture(&len);

	cfg_convert_result_free(&res);
	assert_int_equal(cfg_mbsync_convert("rc", text, len, &res), MS_OK);
	free(text);
}

/* tests/data/mbsync/mbsyncrc: three accounts of three kinds. */
static void
test_realistic(void **state)
{
	(void)state;
	convert_fixture();
	assert_int_equal(res.n_accounts, 3);
	assert_string_equal(section("work"),
		"[account work]\n"
		"protocol = imap\n"
		"host = imap.example.com\n"
		"tls = implicit\n"
		"ca_file = /etc/ssl/certs/ca-certificates.crt\n"
		"user = me@example.com\n"
		"password_cmd = pass show mail/work\n"
		"auth = login\n"
		"timeout = 60s\n"
		"folders = * !Junk \"!Deleted Messages\"\n"
		"maildir = ~/Mail/work\n"
		"maildir_inbox = subfolder\n");
	/* OAuth: the PassCmd is the token command. */
	assert_string_equal(section("gmail"),
		"[account gmail]\n"
		"protocol = imap\n"
		"host = imap.gmail.com\n"
		"port = 993\n"
		"tls = implicit\n"
		"user = me@gmail.com\n"
		"oauth_token_cmd = ~/bin/oauth2token gmail\n"
		"auth = xoauth2\n"
		"folders = INBOX \"[Gmail]/Sent Mail\"\n"
		"direction = pull\n"
		"maildir = ~/Mail/gmail/INBOX\n"
		"maildir_layout = maildir++\n");
	/* A store with its own account keys; mbsync's default STARTTLS. */
	assert_string_equal(section("old"),
		"[account old]\n"
		"protocol = imap\n"
		"host = mail.example.org\n"
		"tls = starttls\n"
		"user = olduser\n"
		"password = secret; with a semicolon\n"
		"folders = INBOX\n"
		"maildir = ~/Mail/old\n");
	/* What was not translated, on its line, in the file's order. */
	assert_true(has_note(3, "Create Both: not translated"));
	assert_true(has_note(4, "Expunge Both: not translated"));
	assert_true(has_note(12, "SSLVersions: not translated (mailsync uses "
			     "TLS 1.2 or later)"));
	assert_true(has_note(13, "mailsync trusts only it"));
	assert_true(has_note(37, "PassCmd +: the command runs without a "
			     "terminal"));
	assert_true(has_note(40, "PipelineDepth: not translated"));
	assert_true(has_note(55, "[Gmail]/Sent Mail becomes the Maildir folder "
			     "[Gmail]/Sent Mail, not sent"));
	assert_true(has_note(59, "MaxMessages: not translated"));
	assert_true(has_note(67, "chmod 600"));
	assert_true(has_note(70, "Tunnel: not translated"));
	notes_in_order();
}

/*
 * SubFolders and SyncState become maildir_layout and mbsync_state (the
 * migration reads mbsync's state there): a Channel's SyncState, the
 * global one, mbsync's default ~/.mbsync/, and "*" (in each Maildir:
 * nothing to write).
 */
/*
 * Converts an account "a" whose MaildirStore "l" has the lines store and
 * whose Channel "c" (Patterns *) has the lines channel, after the global
 * lines global; returns its section.
 */
static const char *
convert_store(const char *global, const char *store, const char *channel)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s"
		 "IMAPAccount a\nHost h\nUser u\nPassCmd p\nSSLType IMAPS\n\n"
		 "IMAPStore r\nAccount a\n\nMaildirStore l\n%s\n"
		 "Channel c\nFar :r:\nNear :l:\nPatterns *\n%s", global, store,
		 channel);
	assert_int_equal(convert(text), MS_OK);
	return section("a");
}

static void
test_layout_and_state(void **state)
{
	const char *a;

	(void)state;
	a = convert_store("", "Path /m/\nInbox /m/INBOX\nSubFolders Legacy\n",
			  "SyncState /s/\n");
	assert_non_null(strstr(a, "maildir = /m\nmaildir_inbox = subfolder\n"
			       "maildir_layout = legacy\nmbsync_state = /s/\n"));
	for (size_t i = 0; i < res.n_notes; i++)
		assert_null(strstr(res.notes[i].text, "SubFolders"));
	result_loads(1);

	a = convert_store("SyncState ~/state/\n\n",
			  "Inbox /m/\nSubFolders Maildir++\n", "");
	assert_non_null(strstr(a, "maildir = /m/\nmaildir_layout = maildir++\n"
			       "mbsync_state = ~/state/\n"));
	assert_null(strstr(a, "maildir_inbox"));
	result_loads(1);

	/* No SyncState anywhere: mbsync's default. */
	a = convert_store("", "Path /m/\nInbox /m/\n", "");
	assert_non_null(strstr(a, "maildir = /m\nmbsync_state = ~/.mbsync/\n"));
	assert_null(strstr(a, "maildir_inbox"));
	assert_null(strstr(a, "maildir_layout"));

	/* SyncState * (in the Maildir), and a style mailsync has not. */
	a = convert_store("", "Path /m/\nInbox /m/\nSubFolders Flat\n",
			  "SyncState *\n");
	assert_null(strstr(a, "mbsync_state"));
	assert_true(has_note(13, "SubFolders Flat: not translated"));
}

/* The result is a valid mailsync configuration. */
static void
test_result_validates(void **state)
{
	(void)state;
	convert_fixture();
	result_loads(3);
}

/* Quotes, escapes, comments inside a section, and a blank line ending it. */
static void
test_syntax(void **state)
{
	(void)state;
	assert_int_equal(convert(
		"IMAPAccount a\n"
		"# a comment does not end the section\n"
		"Host \"imap.example.com\"  # and this is one too\n"
		"User me\\ too\n"
		"PassCmd \"printf '%s' \\\"x\\\"\"\n"
		"\n"
		"Host ignored.example.com\n"), MS_OK);
	assert_string_equal(section("a"),
		"[account a]\n"
		"protocol = imap\n"
		"host = imap.example.com\n"
		"tls = starttls\n"
		"user = me too\n"
		"password_cmd = printf '%s' \"x\"\n");
	/* After the blank line, Host is a global option: noted. */
	assert_true(has_note(7, "Host: not translated"));
	assert_true(has_note(1, "no Channel pairs it with a MaildirStore"));
}

static void
test_bad_input(void **state)
{
	static const char nul[] = "IMAPAccount a\nHost x\0y\nHost h\n";

	(void)state;
	assert_int_equal(convert("IMAPAccount a\nHost \"unterminated\n"),
			 MS_ECONFIG);
	assert_true(has_note(2, "missing closing quote (ignored)"));
	assert_true(has_note(0, "no mbsync account with a server: "
			     "nothing to convert"));
	assert_int_equal(convert("IMAPAccount a\nHost h\\"), MS_ECONFIG);
	assert_true(has_note(2, "unterminated escape (ignored)"));
	assert_int_equal(convert("IMAPAccount\n"), MS_ECONFIG);
	assert_true(has_note(1, "IMAPAccount: no value (ignored)"));
	cfg_convert_result_free(&res);
	assert_int_equal(cfg_mbsync_convert("rc", nul, sizeof(nul) - 1, &res),
			 MS_OK);
	assert_true(has_note(2, "a NUL byte (ignored)"));
	assert_non_null(strstr(res.ini, "host = h\n"));
	/* A value an INI line cannot hold is noted, not written. */
	assert_int_equal(convert("IMAPAccount a\nHost h\nPassCmd \"pass "
				 "show x ; echo\"\n"), MS_OK);
	assert_null(strstr(res.ini, "password_cmd"));
	assert_true(has_note(1, "password_cmd: the value cannot be written"));
	/* AuthMechs: one mechanism mailsync has stays; a list is auto. */
	assert_int_equal(convert("IMAPAccount a\nHost h\nAuthMechs "
				 "SCRAM-SHA-256\n"), MS_OK);
	assert_non_null(strstr(res.ini, "auth = scram-sha-256\n"));
	assert_int_equal(convert("IMAPAccount a\nHost h\nAuthMechs PLAIN "
				 "LOGIN\n"), MS_OK);
	assert_null(strstr(res.ini, "auth ="));
	assert_true(has_note(3, "AuthMechs: auth = auto"));
	/* An account name mailsync cannot take is made one it can. */
	assert_int_equal(convert("IMAPAccount \"my mail\"\nHost h\n"), MS_OK);
	assert_non_null(strstr(res.ini, "[account my-mail]\n"));
	assert_true(has_note(1, "account my mail: named my-mail"));
}

/* Channels whose IMAP side is Near, a Channel per folder, groups, and a
 * positive pattern after an exclusion. */
static void
test_channels(void **state)
{
	(void)state;
	assert_int_equal(convert(
		"IMAPStore r\nHost h\nUser u\nSSLType STARTTLS\n\n"
		"MaildirStore l\nPath /m/\nInbox /m/INBOX\n\n"
		"Channel one\nNear :r:Lists/a\nFar :l:Lists/a\n\n"
		"Channel two\nFar :r:\nNear :l:\nPatterns !Spam Archive*\n"
		"Sync PullNew\n\n"
		"Group g\nChannel one\nChannel two\n"), MS_OK);
	assert_string_equal(section("r"),
		"[account r]\n"
		"protocol = imap\n"
		"host = h\n"
		"tls = starttls\n"
		"user = u\n"
		"folders = Lists/a !Spam Archive*\n"
		"maildir = /m\n"
		"maildir_inbox = subfolder\n"
		"mbsync_state = ~/.mbsync/\n");
	assert_true(has_note(14, "Channel two: Patterns Archive* after an "
			     "exclusion"));
	assert_true(has_note(18, "Sync PullNew: mailsync syncs new messages, "
			     "flags and deletions together (direction = "
			     "pull)"));
	/* Only channel two pulls only: the account syncs both ways. */
	assert_null(strstr(res.ini, "direction"));
}

static void
test_looks_like(void **state)
{
	static const char *const yes[] = {
		"IMAPAccount work\nHost x\n",
		"# mbsync\n\n  imapstore x\n",
		"Create Both\nExpunge Both\n",
		"MaildirStore\tlocal\n",
	};
	static const char *const no[] = {
		"[account work]\nhost = x\n",
		"; comment\n[general]\n",
		"Channel = x\n",
		"IMAPAccounts x\n",
		"",
		"# only a comment\n",
		"host imap.example.com\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		assert_true(cfg_mbsync_looks_like(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		assert_false(cfg_mbsync_looks_like(no[i], strlen(no[i])));
}

/* cfg_load_text() on an mbsync file: one line pointing at the converter. */
static void
test_load_says_mbsync(void **state)
{
	(void)state;
	load_refused("/home/me/.mbsyncrc", "IMAPAccount work\nHost x\n"
		     "User y\n", "/home/me/.mbsyncrc: this is an mbsync "
		     "configuration (~/.mbsyncrc), not a mailsync one; "
		     "convert it with: mailsyncctl convert /home/me/.mbsyncrc "
		     "> ~/.config/mailsync/config.ini");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_realistic),
		cmocka_unit_test(test_layout_and_state),
		cmocka_unit_test(test_result_validates),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_channels),
		cmocka_unit_test(test_looks_like),
		cmocka_unit_test(test_load_says_mbsync),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
