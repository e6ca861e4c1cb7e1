/*
 * test_autoconfig.c - the autoconfig (config-v1.1.xml) parser: a file
 * like the ones providers serve, fed whole, byte by byte and split at
 * every index (split_feed.h), must give the same servers; malformed and
 * oversized files are refused with a reason; placeholders expand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setup/autoconfig.h"
/* Only the feeding half of split_feed.h is used: no transcripts here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "split_feed.h"

struct ac_tx {
	struct autoconfig_parser p;
	size_t rendered;	/* servers already rendered */
};

static void
ac_reset_cb(void *arg)
{
	struct ac_tx *t = arg;

	autoconfig_init(&t->p);
	t->rendered = 0;
}

static int
ac_feed_cb(void *arg, const uint8_t *p, size_t len, size_t *used)
{
	struct ac_tx *t = arg;
	int rc = autoconfig_feed(&t->p, p, len);

	*used = rc == MS_OK ? len : 0;
	return rc;
}

/* Renders each server once its element closed. */
static void
ac_drain_cb(void *arg, struct ms_buf *out)
{
	struct ac_tx *t = arg;

	while (t->rendered < autoconfig_count(&t->p) &&
	    (int)t->rendered != t->p.server) {
		const struct autoconfig_server *s =
		    autoconfig_server(&t->p, t->rendered++);

		assert_true(ms_buf_printf(out, "%s %s:%u %s user=%s auth=%s\n",
		    autoconfig_proto_name(s->proto), s->host,
		    (unsigned)s->port, autoconfig_socket_name(s->socket),
		    s->username, s->auth) == MS_OK);
	}
}

static const char provider_expected[] =
    "imap imap.example.com:993 SSL user=%EMAILADDRESS% "
    "auth=OAuth2 password-cleartext\n"
    "imap mail.example.com:143 STARTTLS user=%EMAILLOCALPART% "
    "auth=password-encrypted\n"
    "pop3 pop.example.com:995 SSL user=\"%EMAILLOCALPART%\" auth=\n"
    "smtp smtp.example.com:465 SSL user=%EMAILADDRESS% "
    "auth=password-cleartext\n"
    "smtp smtp.example.com:0 unknown user=a]]b<&] auth=\n";

static void
test_provider_file(void **state)
{
	struct ac_tx t;
	struct split_core sc = { ac_reset_cb, ac_feed_cb, ac_drain_cb, &t };
	struct ms_buf whole;
	size_t len = 0;
	char *xml = split_read_file("autoconfig", "provider", ".xml", &len);

	(void)state;
	assert_non_null(xml);
	ms_buf_init(&whole, 1u << 20);
	split_feed_all(&sc, (const uint8_t *)xml, len, &whole);
	assert_true(ms_buf_append(&whole, "", 1) == MS_OK);
	assert_string_equal((const char *)whole.p, provider_expected);
	assert_int_equal(autoconfig_finish(&t.p), MS_OK);
	/* The exchange server is not one of ours. */
	assert_int_equal(t.p.nskipped, 1);
	ms_buf_deinit(&whole);
	free(xml);
}

/* Feeds s whole; returns feed's or finish's code. */
static int
ac_parse(struct autoconfig_parser *p, const char *s)
{
	int rc;

	autoconfig_init(p);
	rc = autoconfig_feed(p, (const uint8_t *)s, strlen(s));
	return rc != MS_OK ? rc : autoconfig_finish(p);
}

static void
ac_expect_error(const char *xml, int code, const char *words)
{
	struct autoconfig_parser p;

	assert_int_equal(ac_parse(&p, xml), code);
	if (strstr(autoconfig_error(&p), words) == NULL)
		fail_msg("error '%s' lacks '%s'", autoconfig_error(&p), words);
	/* Errors are final. */
	assert_int_equal(autoconfig_feed(&p, (const uint8_t *)"<a/>", 4),
	    code);
}

static void
test_malformed(void **state)
{
	char deep[512] = "<clientConfig>";
	char longv[600];

	(void)state;
	ac_expect_error("<html><body>Not found</body></html>", MS_EPROTO,
	    "not clientConfig");
	ac_expect_error("404 Not Found", MS_EPROTO, "not an XML file");
	ac_expect_error("", MS_EPROTO, "no clientConfig");
	ac_expect_error("<clientConfig><emailProvider></clientConfig>",
	    MS_EPROTO, "closes no open element");
	ac_expect_error("<clientConfig><emailProvider>", MS_EPROTO,
	    "truncated");
	ac_expect_error("<!DOCTYPE x [<!ENTITY a \"b\">]><clientConfig/>",
	    MS_EPROTO, "internal subset");
	ac_expect_error("<clientConfig>&nbsp;</clientConfig>", MS_EPROTO,
	    "unknown entity");
	ac_expect_error("<clientConfig>&#0;</clientConfig>", MS_EPROTO,
	    "invalid code point");
	ac_expect_error("<clientConfig a=b/>", MS_EPROTO, "without quotes");
	ac_expect_error("<clientConfig/><clientConfig/>", MS_EPROTO,
	    "after the root");
	ac_expect_error("<clientConfig>< x/></clientConfig>", MS_EPROTO,
	    "starts no tag");
	for (size_t i = 0, o = strlen(deep); i < 20; i++, o += 3)
		memcpy(deep + o, "<a>", 4);
	ac_expect_error(deep, MS_ETOOBIG, "nested");
	/* A long value is refused where it is kept, ignored elsewhere. */
	memset(longv, 'x', sizeof(longv));
	longv[sizeof(longv) - 1] = '\0';
	{
		char doc[1024];
		struct autoconfig_parser p;

		snprintf(doc, sizeof(doc), "<clientConfig><emailProvider>"
		    "<displayName>%s</displayName></emailProvider>"
		    "</clientConfig>", longv);
		assert_int_equal(ac_parse(&p, doc), MS_OK);
		snprintf(doc, sizeof(doc), "<clientConfig><emailProvider>"
		    "<incomingServer type=\"imap\"><hostname>%s</hostname>"
		    "</incomingServer></emailProvider></clientConfig>", longv);
		ac_expect_error(doc, MS_ETOOBIG, "over 255 bytes");
	}
}

static void
test_limits(void **state)
{
	struct autoconfig_parser p;
	struct ms_buf doc;

	(void)state;
	/* More servers than kept: the rest are counted as skipped. */
	ms_buf_init(&doc, 1u << 20);
	assert_true(ms_buf_append_cstr(&doc, "<clientConfig><emailProvider>")
	    == MS_OK);
	for (int i = 0; i < AUTOCONFIG_MAX_SERVERS + 3; i++)
		assert_true(ms_buf_printf(&doc, "<incomingServer type=\"imap\">"
		    "<hostname>h%d</hostname></incomingServer>", i) == MS_OK);
	assert_true(ms_buf_append_cstr(&doc, "</emailProvider></clientConfig>")
	    == MS_OK);
	assert_true(ms_buf_append(&doc, "", 1) == MS_OK);
	assert_int_equal(ac_parse(&p, (const char *)doc.p), MS_OK);
	assert_int_equal(autoconfig_count(&p), AUTOCONFIG_MAX_SERVERS);
	assert_int_equal(p.nskipped, 3);
	assert_string_equal(autoconfig_server(&p, 15)->host, "h15");
	assert_null(autoconfig_server(&p, 16));
	ms_buf_deinit(&doc);
	/* A file over the limit stops at the limit. */
	autoconfig_init(&p);
	{
		static uint8_t big[AUTOCONFIG_MAX_BYTES + 1];

		memset(big, ' ', sizeof(big));
		assert_int_equal(autoconfig_feed(&p, big, sizeof(big)),
		    MS_ETOOBIG);
	}
}

static void
test_expand(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(autoconfig_expand("%EMAILADDRESS%", "me@ex.org", out,
	    sizeof(out)), MS_OK);
	assert_string_equal(out, "me@ex.org");
	assert_int_equal(autoconfig_expand("u-%EMAILLOCALPART%@%EMAILDOMAIN%",
	    "me@ex.org", out, sizeof(out)), MS_OK);
	assert_string_equal(out, "u-me@ex.org");
	assert_int_equal(autoconfig_expand("imap.%EMAILDOMAIN%", "a@b@c.org",
	    out, sizeof(out)), MS_OK);
	assert_string_equal(out, "imap.c.org");
	assert_int_equal(autoconfig_expand("%REALNAME%", "me@ex.org", out,
	    sizeof(out)), MS_EINVAL);
	assert_int_equal(autoconfig_expand("x", "no-at", out, sizeof(out)),
	    MS_EINVAL);
	assert_int_equal(autoconfig_expand("%EMAILADDRESS%", "me@ex.org", out,
	    9), MS_ETOOBIG);
	assert_int_equal(autoconfig_expand("%EMAILADDRESS%", "me@ex.org", out,
	    10), MS_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provider_file),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_expand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
