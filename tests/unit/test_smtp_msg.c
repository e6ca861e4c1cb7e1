/*
 * test_smtp_msg.c - what sending reads of a message (proto/smtp/smtp_msg.h)
 * and the spool file's envelope (proto/smtp/smtp_spool.h): header fields,
 * address lists (display names, quotes, comments, groups, refusals), CRLF
 * line ends, and the spool envelope both ways with its refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/smtp_msg.h"
#include "smtp/smtp_spool.h"

/* The addresses of value, "\n"-separated; NULL when refused. */
static char *
addrs(const char *value)
{
	static char out[1024];
	struct ms_buf b;
	int rc;

	ms_buf_init(&b, sizeof(out) - 1);
	rc = smtp_addr_list_parse(ms_slice_from_cstr(value), &b, NULL);
	if (rc != MS_OK) {
		ms_buf_deinit(&b);
		return NULL;
	}
	snprintf(out, sizeof(out), "%s", b.p != NULL ? (char *)b.p : "");
	ms_buf_deinit(&b);
	return out;
}

static void
test_addr_list(void **state)
{
	(void)state;
	assert_string_equal(addrs("a@x.org"), "a@x.org\n");
	assert_string_equal(addrs(" \"Doe, John\" <j@x.org>, b@y.org (Bee)"),
			    "j@x.org\nb@y.org\n");
	assert_string_equal(addrs("team: a@x.org, \"c d\" <c@x.org>;, e@x.org"),
			    "a@x.org\nc@x.org\ne@x.org\n");
	assert_string_equal(addrs("undisclosed-recipients:;"), "");
	assert_string_equal(addrs("Name (a, comment) <n@x.org>"), "n@x.org\n");
	assert_string_equal(addrs("<@relay.org:r@x.org>"), "r@x.org\n");
	assert_string_equal(addrs("\"odd local\"@x.org"),
			    "\"odd local\"@x.org\n");
	assert_string_equal(addrs("root"), "root\n");
	assert_string_equal(addrs(",, ,"), "");
	assert_string_equal(addrs("\r\n\tfolded@x.org"), "folded@x.org\n");
	/* Refused: words that are no address, unbalanced syntax. */
	assert_null(addrs("John Smith"));
	assert_null(addrs("<a@x.org"));
	assert_null(addrs("\"open@x.org"));
	assert_null(addrs("a@x.org (open"));
	assert_null(addrs("a@b@c"));
	assert_null(addrs("x@"));
	assert_false(smtp_addr_is_valid(MS_SLICE_LIT("")));
	assert_false(smtp_addr_is_valid(MS_SLICE_LIT("a\rb@x")));
	/* A quoted pair is a backslash and a printable character: not a
	 * line end (the fuzzer found one splitting an envelope line). */
	assert_false(smtp_addr_is_valid(MS_SLICE_LIT("\"q\\\no\"@x")));
	assert_true(smtp_addr_is_valid(MS_SLICE_LIT("\"q\\\"o\"@x")));
	assert_true(smtp_addr_is_valid(MS_SLICE_LIT("müller@x.de")));
}

static void
test_fields(void **state)
{
	const char *m = "From: a@x.org\r\nTo: b@y.org,\r\n\tc@z.org\r\n"
			"Subject: hi\r\n\r\nbody: not a field\r\n";
	struct ms_slice msg = ms_slice_from_cstr(m);
	struct smtp_msg_field f;
	size_t pos = 0;

	(void)state;
	assert_true(smtp_msg_next_field(msg, &pos, &f));
	assert_true(ms_slice_eq_cstr(f.name, "From"));
	assert_true(ms_slice_eq_cstr(f.value, " a@x.org"));
	assert_true(smtp_msg_next_field(msg, &pos, &f));
	assert_true(ms_slice_eq_cstr(f.value, " b@y.org,\r\n\tc@z.org"));
	assert_true(ms_slice_eq_cstr(f.raw, "To: b@y.org,\r\n\tc@z.org\r\n"));
	assert_true(smtp_msg_next_field(msg, &pos, &f));
	assert_false(smtp_msg_next_field(msg, &pos, &f));
	assert_int_equal(pos, strstr(m, "\r\n\r\n") - m + 2);
	assert_int_equal(smtp_msg_header_end(msg), pos);
	/* No body, no final line end; a non-field line ends the header. */
	msg = ms_slice_from_cstr("Subject: x");
	assert_int_equal(smtp_msg_header_end(msg), msg.len);
	msg = ms_slice_from_cstr("Subject: x\nnot a field\n");
	assert_int_equal(smtp_msg_header_end(msg), 11);
	assert_int_equal(smtp_msg_header_end(MS_SLICE_LIT(": x\n")), 0);
}

static void
test_crlf(void **state)
{
	struct ms_buf b;

	(void)state;
	ms_buf_init(&b, 100);
	assert_int_equal(smtp_msg_crlf(MS_SLICE_LIT("a\nb\r\nc\rd"), &b),
			 MS_OK);
	assert_string_equal((char *)b.p, "a\r\nb\r\nc\r\nd");
	ms_buf_deinit(&b);
	ms_buf_init(&b, 5);
	assert_int_equal(smtp_msg_crlf(MS_SLICE_LIT("a\nb\nc\n"), &b),
			 MS_ETOOBIG);
	assert_int_equal(b.len, 0);
	ms_buf_deinit(&b);
	assert_true(smtp_msg_has_8bit(MS_SLICE_LIT("caf\xc3\xa9")));
	assert_false(smtp_msg_has_8bit(MS_SLICE_LIT("cafe")));
}

static void
test_spool_roundtrip(void **state)
{
	struct smtp_spool_env e = { "work", "me@x.org", "a@y.org\nb@z.org",
				    1765080000 };
	struct smtp_spool_head h;
	struct ms_buf file, rcpts;
	const char *why;

	(void)state;
	ms_buf_init(&file, 4096);
	ms_buf_init(&rcpts, 4096);
	assert_int_equal(smtp_spool_encode(&e, &file), MS_OK);
	assert_string_equal((char *)file.p, "mailsync-spool 1\naccount work\n"
			    "from me@x.org\nrcpt a@y.org\nrcpt b@z.org\n"
			    "created 1765080000\n\n");
	assert_int_equal(ms_buf_append_cstr(&file, "Subject: x\r\n\r\nb\r\n"),
			 MS_OK);
	assert_int_equal(smtp_spool_decode((struct ms_slice){ file.p,
			 file.len }, &h, &rcpts, &why), MS_OK);
	assert_true(ms_slice_eq_cstr(h.account, "work"));
	assert_true(ms_slice_eq_cstr(h.from, "me@x.org"));
	assert_int_equal(h.n_rcpts, 2);
	assert_int_equal(h.created, 1765080000);
	assert_string_equal((char *)rcpts.p, "a@y.org\nb@z.org\n");
	assert_string_equal((char *)file.p + h.body_off,
			    "Subject: x\r\n\r\nb\r\n");
	ms_buf_deinit(&file);
	ms_buf_deinit(&rcpts);

	/* Refused to encode: no recipient, a control character. */
	ms_buf_init(&file, 4096);
	e.rcpts = "\n";
	assert_int_equal(smtp_spool_encode(&e, &file), MS_EINVAL);
	e.rcpts = "a@y.org";
	e.from = "me\r@x.org";
	assert_int_equal(smtp_spool_encode(&e, &file), MS_EINVAL);
	assert_int_equal(file.len, 0);
	ms_buf_deinit(&file);
}

static int
decode(const char *text, const char **why)
{
	struct smtp_spool_head h;
	struct ms_buf rcpts;
	int rc;

	ms_buf_init(&rcpts, 4096);
	rc = smtp_spool_decode(ms_slice_from_cstr(text), &h, &rcpts, why);
	ms_buf_deinit(&rcpts);
	return rc;
}

static void
test_spool_refusals(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(decode("From: x\r\n", &why), MS_EPROTO);
	assert_string_equal(why, "not a mailsync spool file");
	assert_int_equal(decode("mailsync-spool 2\n\n", &why), MS_EIMPL);
	assert_int_equal(decode("mailsync-spool 1\naccount a\nfrom x\n"
				"created 1\n\n", &why), MS_EPROTO);
	assert_int_equal(decode("mailsync-spool 1\naccount a\nfrom x\n"
				"rcpt b\ncreated 1\n", &why), MS_EPROTO);
	assert_string_equal(why, "the envelope has no end");
	assert_int_equal(decode("mailsync-spool 1\naccount a\nfrom x\n"
				"rcpt b\ncreated -1\n\n", &why), MS_EPROTO);
	assert_int_equal(decode("mailsync-spool 1\naccount a\x01\nfrom x\n"
				"rcpt b\ncreated 1\n\n", &why), MS_EPROTO);
	/* Unknown keys are a later version's compatible additions. */
	assert_int_equal(decode("mailsync-spool 1\naccount a\nfrom \n"
				"rcpt b\nnew thing\ncreated 1\n\n", &why),
			 MS_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_list),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_spool_roundtrip),
		cmocka_unit_test(test_spool_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
