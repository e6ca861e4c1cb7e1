/*
 * test_autodiscover.c - the autodiscover response parser: a response like
 * Exchange's, fed whole, byte by byte and split at every index
 * (split_feed.h), gives the same servers and TLS modes; redirects and
 * errors are reported; malformed and oversized responses are refused with
 * a reason; the request escapes the address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setup/autodiscover.h"
/* Only the feeding half of split_feed.h is used: no transcripts here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "split_feed.h"

struct ad_tx {
	struct autodiscover_parser p;
	size_t rendered;	/* servers already rendered */
};

static void
ad_reset_cb(void *arg)
{
	struct ad_tx *t = arg;

	autodiscover_init(&t->p);
	t->rendered = 0;
}

static int
ad_feed_cb(void *arg, const uint8_t *p, size_t len, size_t *used)
{
	struct ad_tx *t = arg;
	int rc = autodiscover_feed(&t->p, p, len);

	*used = rc == MS_OK ? len : 0;
	return rc;
}

/* Renders each server once its Protocol element closed. */
static void
ad_drain_cb(void *arg, struct ms_buf *out)
{
	struct ad_tx *t = arg;

	while (t->rendered < autodiscover_count(&t->p)) {
		const struct autoconfig_server *s =
		    autodiscover_server(&t->p, t->rendered++);

		assert_true(ms_buf_printf(out, "%s %s:%u %s user=%s auth=%s\n",
		    autoconfig_proto_name(s->proto), s->host,
		    (unsigned)s->port, autoconfig_socket_name(s->socket),
		    s->username, s->auth) == MS_OK);
	}
}

static const char response_expected[] =
    "imap imap.example.com:993 SSL user=alice@example.com auth=\n"
    "pop3 pop.example.com:995 SSL user=alice auth=\n"
    "smtp smtp.example.com:587 STARTTLS user= auth=password-encrypted\n"
    "imap mail.example.com:143 STARTTLS user= auth=\n"
    "pop3 old.example.com:110 plain user= auth=\n";

static void
test_response_file(void **state)
{
	struct ad_tx t;
	struct split_core sc = { ad_reset_cb, ad_feed_cb, ad_drain_cb, &t };
	struct ms_buf whole;
	size_t len = 0;
	char *xml = split_read_file("autodiscover", "response", ".xml", &len);

	(void)state;
	assert_non_null(xml);
	ms_buf_init(&whole, 1u << 20);
	split_feed_all(&sc, (const uint8_t *)xml, len, &whole);
	assert_true(ms_buf_append(&whole, "", 1) == MS_OK);
	assert_string_equal((const char *)whole.p, response_expected);
	assert_int_equal(autodiscover_finish(&t.p), MS_OK);
	assert_int_equal(autodiscover_action(&t.p), AUTODISCOVER_SETTINGS);
	/* The Exchange protocol is not one of ours. */
	assert_int_equal(t.p.nskipped, 1);
	ms_buf_deinit(&whole);
	free(xml);
}

/* Feeds s whole; returns feed's or finish's code. */
static int
ad_parse(struct autodiscover_parser *p, const char *s)
{
	int rc;

	autodiscover_init(p);
	rc = autodiscover_feed(p, (const uint8_t *)s, strlen(s));
	return rc != MS_OK ? rc : autodiscover_finish(p);
}

static void
test_redirect_and_error(void **state)
{
	struct autodiscover_parser p;

	(void)state;
	assert_int_equal(ad_parse(&p, "<Autodiscover><Response><Account>"
	    "<Action>redirectAddr</Action><RedirectAddr>bob@example.net"
	    "</RedirectAddr></Account></Response></Autodiscover>"), MS_OK);
	assert_int_equal(autodiscover_action(&p), AUTODISCOVER_REDIRECT_ADDR);
	assert_string_equal(autodiscover_redirect(&p), "bob@example.net");
	assert_int_equal(autodiscover_count(&p), 0);
	assert_int_equal(ad_parse(&p, "<Autodiscover><Response><Account>"
	    "<Action>redirectUrl</Action><RedirectUrl> https://x.example/a"
	    " </RedirectUrl></Account></Response></Autodiscover>"), MS_OK);
	assert_int_equal(autodiscover_action(&p), AUTODISCOVER_REDIRECT_URL);
	assert_string_equal(autodiscover_redirect(&p), "https://x.example/a");
	assert_int_equal(ad_parse(&p, "<Autodiscover xmlns=\"urn:a\">"
	    "<Response><Error Time=\"1\" Id=\"2\"><ErrorCode>600</ErrorCode>"
	    "<Message>Invalid Request</Message><DebugData/></Error>"
	    "</Response></Autodiscover>"), MS_OK);
	assert_int_equal(autodiscover_action(&p), AUTODISCOVER_ERROR);
	assert_string_equal(autodiscover_server_error(&p),
	    "600 Invalid Request");
	/* A Protocol outside an Account is nobody's. */
	assert_int_equal(ad_parse(&p, "<Autodiscover><Response><Protocol>"
	    "<Type>IMAP</Type><Server>x</Server></Protocol></Response>"
	    "</Autodiscover>"), MS_OK);
	assert_int_equal(autodiscover_count(&p), 0);
	/* Encryption Auto: the port tells; SSL missing means on. */
	assert_int_equal(ad_parse(&p, "<Autodiscover><Response><Account>"
	    "<Protocol><Type>IMAP</Type><Server>a</Server><Port>143</Port>"
	    "<Encryption>Auto</Encryption></Protocol><Protocol><Type>SMTP"
	    "</Type><Server>b</Server><Port>465</Port></Protocol></Account>"
	    "</Response></Autodiscover>"), MS_OK);
	assert_int_equal(autodiscover_count(&p), 2);
	assert_int_equal(autodiscover_server(&p, 0)->socket,
	    AUTOCONFIG_SOCKET_STARTTLS);
	assert_int_equal(autodiscover_server(&p, 1)->socket,
	    AUTOCONFIG_SOCKET_SSL);
}

static void
ad_expect_error(const char *xml, int code, const char *words)
{
	struct autodiscover_parser p;

	assert_int_equal(ad_parse(&p, xml), code);
	if (strstr(autodiscover_error(&p), words) == NULL)
		fail_msg("error '%s' lacks '%s'", autodiscover_error(&p),
		    words);
	/* Errors are final. */
	assert_int_equal(autodiscover_feed(&p, (const uint8_t *)"<a/>", 4),
	    code);
}

static void
test_malformed(void **state)
{
	char longv[600], doc[1024];
	struct autodiscover_parser p;

	(void)state;
	ad_expect_error("<html><body>Not found</body></html>", MS_EPROTO,
	    "not Autodiscover");
	ad_expect_error("Moved", MS_EPROTO, "not an XML file");
	ad_expect_error("", MS_EPROTO, "no Autodiscover");
	ad_expect_error("<Autodiscover><Response></Autodiscover>", MS_EPROTO,
	    "closes no open element");
	ad_expect_error("<Autodiscover><Response>", MS_EPROTO, "truncated");
	ad_expect_error("<!DOCTYPE x [<!ENTITY a \"b\">]><Autodiscover/>",
	    MS_EPROTO, "internal subset");
	ad_expect_error("<Autodiscover>&xxe;</Autodiscover>", MS_EPROTO,
	    "unknown entity");
	/* A long value is refused where it is read, ignored elsewhere. */
	memset(longv, 'x', sizeof(longv));
	longv[sizeof(longv) - 1] = '\0';
	snprintf(doc, sizeof(doc), "<Autodiscover><Response><Account>"
	    "<Protocol><Type>EXCH</Type><EwsUrl>%s</EwsUrl></Protocol>"
	    "</Account></Response></Autodiscover>", longv);
	assert_int_equal(ad_parse(&p, doc), MS_OK);
	snprintf(doc, sizeof(doc), "<Autodiscover><Response><Account>"
	    "<Protocol><Type>IMAP</Type><Server>%s</Server></Protocol>"
	    "</Account></Response></Autodiscover>", longv);
	ad_expect_error(doc, MS_ETOOBIG, "over 255 bytes");
}

static void
test_limits(void **state)
{
	struct autodiscover_parser p;
	struct ms_buf doc;

	(void)state;
	ms_buf_init(&doc, 1u << 20);
	assert_true(ms_buf_append_cstr(&doc, "<Autodiscover><Response>"
	    "<Account>") == MS_OK);
	for (int i = 0; i < AUTODISCOVER_MAX_SERVERS + 2; i++)
		assert_true(ms_buf_printf(&doc, "<Protocol><Type>IMAP</Type>"
		    "<Server>h%d</Server></Protocol>", i) == MS_OK);
	assert_true(ms_buf_append_cstr(&doc, "</Account></Response>"
	    "</Autodiscover>") == MS_OK);
	assert_true(ms_buf_append(&doc, "", 1) == MS_OK);
	assert_int_equal(ad_parse(&p, (const char *)doc.p), MS_OK);
	assert_int_equal(autodiscover_count(&p), AUTODISCOVER_MAX_SERVERS);
	assert_int_equal(p.nskipped, 2);
	assert_string_equal(autodiscover_server(&p, 15)->host, "h15");
	assert_null(autodiscover_server(&p, 16));
	ms_buf_deinit(&doc);
	autodiscover_init(&p);
	{
		static uint8_t big[AUTODISCOVER_MAX_BYTES + 1];

		memset(big, ' ', sizeof(big));
		assert_int_equal(autodiscover_feed(&p, big, sizeof(big)),
		    MS_ETOOBIG);
		assert_non_null(strstr(autodiscover_error(&p), "256 KiB"));
	}
}

static void
test_request(void **state)
{
	char out[1024];
	struct autodiscover_parser p;
	size_t n;

	(void)state;
	assert_int_equal(autodiscover_request("a&b<c>@example.com", out,
	    sizeof(out)), MS_OK);
	assert_non_null(strstr(out, "<EMailAddress>a&amp;b&lt;c&gt;"
	    "@example.com</EMailAddress>"));
	assert_non_null(strstr(out, "responseschema/2006a"));
	/* The request is well-formed XML (our tokenizer reads it). */
	assert_int_equal(ad_parse(&p, out), MS_OK);
	assert_int_equal(autodiscover_count(&p), 0);
	/* Exactly enough room, and one byte less. */
	assert_int_equal(autodiscover_request("me@example.com", out,
	    sizeof(out)), MS_OK);
	n = strlen(out) + 1;
	assert_int_equal(autodiscover_request("me@example.com", out, n),
	    MS_OK);
	assert_int_equal(autodiscover_request("me@example.com", out, n - 1),
	    MS_ETOOBIG);
	assert_int_equal(autodiscover_request("me@example.com", out, 100),
	    MS_ETOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response_file),
		cmocka_unit_test(test_redirect_and_error),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
