/* test_log.c - level parsing and credential redaction in protocol traces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

static const char *
redact(const char *line, bool in_auth)
{
	static char out[256];

	return log_redact_line(line, strlen(line), in_auth, out, sizeof(out));
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
		cmocka_unit_test(test_redact_imap),
		cmocka_unit_test(test_redact_pop3_smtp),
		cmocka_unit_test(test_redact_continuation),
		cmocka_unit_test(test_redact_truncates_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
