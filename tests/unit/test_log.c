/*
 * test_log.c - level parsing, escaping of control characters in every
 * line, the timestamp's form, status lines under the log, and credential
 * redaction in protocol traces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

static const char *
redact(const char *line, bool in_auth)
{
	static char out[256];

	return log_redact_line(line, strlen(line), in_auth, out, sizeof(out));
}

static const char *
escape(const char *s)
{
	static char out[256];

	return log_escape(s, strlen(s), out, sizeof(out));
}

/*
 * Runs fn with stderr in a file and JOURNAL_STREAM set to js ("" for the
 * device and inode of that file; NULL: unset); returns what stderr got.
 */
static char *
log_capture(void (*fn)(void), const char *js, char *buf, size_t size)
{
	FILE *tmp = tmpfile();
	struct stat st;
	char self[64];
	size_t n;
	int saved;

	assert_non_null(tmp);
	assert_int_equal(fstat(fileno(tmp), &st), 0);
	snprintf(self, sizeof(self), "%llu:%llu",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	if (js == NULL)
		unsetenv("JOURNAL_STREAM");
	else
		setenv("JOURNAL_STREAM", js[0] != '\0' ? js : self, 1);
	fn();
	unsetenv("JOURNAL_STREAM");
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, size - 1, tmp);
	fclose(tmp);
	buf[n] = '\0';
	return buf;
}

static void
test_escape(void **state)
{
	char out[8];

	/* A server's folder name or text must not end the line. */
	assert_string_equal(escape("INBOX\n2026-01-01 error forged"),
			    "INBOX\\x0a2026-01-01 error forged");
	assert_string_equal(escape("a\rb\tc\x1b[2J\x7f\x01"),
			    "a\\x0db\\x09c\\x1b[2J\\x7f\\x01");
	/* C1 controls (U+009B is CSI) and line separators too. */
	assert_string_equal(escape("x\xc2\x9b" "31m\xe2\x80\xa8y"),
			    "x\\xc2\\x9b" "31m\\xe2\\x80\\xa8y");
	/* Valid UTF-8 stays readable. */
	assert_string_equal(escape("\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 "
				   "\xe6\x97\xa5 \xf0\x9f\x93\xa7 \xc2\xa0"),
			    "\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 "
			    "\xe6\x97\xa5 \xf0\x9f\x93\xa7 \xc2\xa0");
	/* Invalid UTF-8: stray bytes, a cut sequence, overlong, surrogate. */
	assert_string_equal(escape("\xff\xc3 \xc0\xaf \xed\xa0\x80 \xe6\x97"),
			    "\\xff\\xc3 \\xc0\\xaf \\xed\\xa0\\x80 "
			    "\\xe6\\x97");
	/* Escaping twice changes nothing: a backslash is kept. */
	assert_string_equal(escape("a\\x0ab \\"), "a\\x0ab \\");
	/* Cut at a whole escape or character, never inside one. */
	assert_string_equal(log_escape("abc\x1b", 4, out, sizeof(out)),
			    "abc\\x1b");
	assert_string_equal(log_escape("abcd\x1b", 5, out, sizeof(out)),
			    "abcd");
	assert_string_equal(log_escape("abcde\xe6\x97\xa5", 8, out,
					sizeof(out)), "abcde");
	assert_string_equal(log_escape("\n", 1, out, 0), "abcde");
}

static void
log_hostile(void)
{
	log_warn("acct=a folder=%s", "x\n<3>forged \x1b]0;title\x07");
}

/* What log_warn() writes to stderr for a hostile folder name. */
static void
test_log_line_escaped(void **state)
{
	char buf[512];
	size_t n;

	(void)state;
	n = strlen(log_capture(log_hostile, NULL, buf, sizeof(buf)));
	/* One line, the name's control characters escaped. */
	assert_true(n > 0 && buf[n - 1] == '\n');
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_non_null(strstr(buf, " warn acct=a folder=x\\x0a<3>forged "
			       "\\x1b]0;title\\x07\n"));
}

static void
test_level_parse(void **state)
{
	enum log_level l;

	assert_true(log_level_parse("debug", &l));
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_true(log_level_parse("WARN", &l));
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_false(log_level_parse("verbose", &l));
}

static void
log_two(void)
{
	log_warn("acct=a state=offline");
	log_info("acct=a state=idle");
}

/* Logs one warning and one info line with JOURNAL_STREAM set to js (""
 * for the device and inode of the file stderr goes to) and returns what
 * stderr got. */
static char *
log_with_journal_stream(const char *js, char *buf, size_t size)
{
	return log_capture(log_two, js, buf, size);
}

/* "<N>" prefixes only when stderr is the stream JOURNAL_STREAM names. */
static void
test_journal_stream(void **state)
{
	char buf[512];

	(void)state;
	assert_string_equal(log_with_journal_stream("", buf, sizeof(buf)),
			    "<4>acct=a state=offline\n<6>acct=a state=idle\n");
	/* Another stream (stderr redirected after systemd started us), or
	 * a value that is not DEVICE:INODE: timestamped lines. */
	log_with_journal_stream("1:2", buf, sizeof(buf));
	assert_non_null(strstr(buf, " warn acct=a state=offline\n"));
	assert_non_null(strstr(buf, " info acct=a state=idle\n"));
	assert_null(strchr(buf, '<'));
	log_with_journal_stream("journal", buf, sizeof(buf));
	assert_non_null(strstr(buf, " warn acct=a state=offline\n"));
}

static void
log_one_info(void)
{
	log_info("acct=a state=idle");
}

/* Local time with milliseconds and the offset from UTC, then the level. */
static void
test_timestamp(void **state)
{
	char buf[256];
	regex_t re;

	(void)state;
	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
				 "[0-9]{2}:[0-9]{2}\\.[0-9]{3}[+-][0-9]{4} info "
				 "acct=a state=idle\n$", REG_EXTENDED), 0);
	log_capture(log_one_info, NULL, buf, sizeof(buf));
	assert_int_equal(regexec(&re, buf, 0, NULL, 0), 0);
	regfree(&re);
	/* The same prefix for lines written elsewhere (--once's summary). */
	log_prefix(LOG_LEVEL_ERROR, buf, sizeof(buf));
	assert_non_null(strstr(buf, " error "));
	assert_int_equal(strlen(buf), strlen("2026-12-07T06:45:00.123+0000 "
					     "error "));
}

static void
log_status_steps(void)
{
	log_status_set("work 1/9 folders\nhome 2/3 folders");
	log_warn("acct=work slow");
	log_status_set("work 2/9 folders");
	log_status_set(NULL);
	log_warn("acct=work done");
}

/* A log line erases the status lines, is written, and draws them again
 * below it; NULL erases them for good. */
static void
test_status_lines(void **state)
{
	char buf[1024];
	const char *p;

	(void)state;
	log_capture(log_status_steps, NULL, buf, sizeof(buf));
	p = buf;
	assert_memory_equal(p, "work 1/9 folders\nhome 2/3 folders\n", 34);
	p += 34;
	assert_memory_equal(p, "\033[2A\r\033[J", 8);
	p = strstr(p, " warn acct=work slow\n");
	assert_non_null(p);
	p += strlen(" warn acct=work slow\n");
	assert_memory_equal(p, "work 1/9 folders\nhome 2/3 folders\n", 34);
	p += 34;
	assert_memory_equal(p, "\033[2A\r\033[Jwork 2/9 folders\n", 25);
	p += 25;
	assert_memory_equal(p, "\033[1A\r\033[J", 8);
	p += 8;
	/* Nothing left to erase or draw around the last line. */
	assert_null(strchr(p, '\033'));
	assert_non_null(strstr(p, " warn acct=work done\n"));
	assert_int_equal(strlen(strstr(p, " warn acct=work done\n")),
			 strlen(" warn acct=work done\n"));
}

static void
test_redact_imap(void **state)
{
	assert_string_equal(redact("a1 LOGIN me@x.org s3cret\r\n", false),
			    "a1 LOGIN <redacted>");
	assert_string_equal(redact("a2 AUTHENTICATE PLAIN AG1lAHNlY3JldA==\r\n", false),
			    "a2 AUTHENTICATE PLAIN <redacted>");
	assert_string_equal(redact("a3 AUTHENTICATE SCRAM-SHA-256", false),
			    "a3 AUTHENTICATE SCRAM-SHA-256");
	assert_string_equal(redact("a4 UID FETCH 1:* (FLAGS)\r\n", false),
			    "a4 UID FETCH 1:* (FLAGS)");
}

static void
test_redact_pop3_smtp(void **state)
{
	assert_string_equal(redact("PASS hunter2\r\n", false), "PASS <redacted>");
	assert_string_equal(redact("AUTH PLAIN AGEAYg==\r\n", false),
			    "AUTH PLAIN <redacted>");
	assert_string_equal(redact("AUTH LOGIN\r\n", false), "AUTH LOGIN");
	assert_string_equal(redact("USER me\r\n", false), "USER me");
}

static void
test_redact_continuation(void **state)
{
	assert_string_equal(redact("bWUAc2VjcmV0\r\n", true), "<redacted>");
	/* Control bytes are escaped, never written raw to the log. */
	assert_string_equal(redact("* OK \x1b[2Jhi", false), "* OK \\x1b[2Jhi");
	/* UTF-8 (a folder name in a LIST line) stays readable. */
	assert_string_equal(redact("* LIST () \"/\" \xc3\x9cn\xc3\xaf\r\n",
				   false), "* LIST () \"/\" \xc3\x9cn\xc3\xaf");
}

static void
test_redact_truncates_safely(void **state)
{
	char out[8];

	log_redact_line("a1 NOOP and more", 16, false, out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_log_line_escaped),
		cmocka_unit_test(test_journal_stream),
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_status_lines),
		cmocka_unit_test(test_redact_imap),
		cmocka_unit_test(test_redact_pop3_smtp),
		cmocka_unit_test(test_redact_continuation),
		cmocka_unit_test(test_redact_truncates_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
