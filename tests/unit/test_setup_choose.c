/*
 * test_setup_choose.c - which found server `mailsyncctl setup`
 * recommends: only verified ones; IMAP over POP3 unless --pop3, with a
 * fallback; implicit TLS over STARTTLS; autoconfig over autodiscover
 * over SRV over the MX domain over a guess; SRV priority then weight;
 * OAuth-only providers named by host and by the mechanisms offered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "setup/choose.h"

static struct setup_cand *
add(struct setup_found *f, enum probe_proto proto, enum probe_tls tls,
    const char *host, unsigned sources, bool is_ok)
{
	struct setup_cand *c = &f->cands[f->n++];

	memset(c, 0, sizeof(*c));
	c->proto = proto;
	c->tls = tls;
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = 993;
	c->sources = sources;
	c->is_ok = is_ok;
	c->srv_priority = 65536;
	snprintf(c->res.mechs, sizeof(c->res.mechs), "PLAIN LOGIN");
	return c;
}

static void
test_incoming(void **state)
{
	static struct setup_found f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(setup_choose_incoming(&f, false), -1);
	/* 0: the autoconfig file's, but its probe failed. */
	add(&f, PROBE_IMAP, PROBE_TLS_IMPLICIT, "a", SETUP_SRC_AUTOCONFIG,
	    false);
	add(&f, PROBE_POP3, PROBE_TLS_IMPLICIT, "b", SETUP_SRC_SRV, true);
	/* Only POP3 works: it is recommended even without --pop3. */
	assert_int_equal(setup_choose_incoming(&f, false), 1);
	add(&f, PROBE_IMAP, PROBE_TLS_STARTTLS, "c", SETUP_SRC_GUESS, true);
	assert_int_equal(setup_choose_incoming(&f, false), 2);
	assert_int_equal(setup_choose_incoming(&f, true), 1);
	/* Implicit TLS wins over STARTTLS, whatever the source. */
	add(&f, PROBE_IMAP, PROBE_TLS_IMPLICIT, "d", SETUP_SRC_GUESS, true);
	assert_int_equal(setup_choose_incoming(&f, false), 3);
	/* Then the source: autodiscover over SRV over MX over guess. */
	add(&f, PROBE_IMAP, PROBE_TLS_IMPLICIT, "e", SETUP_SRC_MX, true);
	assert_int_equal(setup_choose_incoming(&f, false), 4);
	add(&f, PROBE_IMAP, PROBE_TLS_IMPLICIT, "f",
	    SETUP_SRC_SRV | SETUP_SRC_GUESS, true);
	assert_int_equal(setup_choose_incoming(&f, false), 5);
	/* Then SRV priority (lower first) and weight (higher first). */
	f.cands[5].srv_priority = 10;
	add(&f, PROBE_IMAP, PROBE_TLS_IMPLICIT, "g", SETUP_SRC_SRV,
	    true)->srv_priority = 5;
	assert_int_equal(setup_choose_incoming(&f, false), 6);
	add(&f, PROBE_IMAP, PROBE_TLS_IMPLICIT, "h", SETUP_SRC_SRV, true);
	f.cands[7].srv_priority = 5;
	f.cands[7].srv_weight = 50;
	assert_int_equal(setup_choose_incoming(&f, false), 7);
	/* SMTP is never a reading server. */
	add(&f, PROBE_SMTP, PROBE_TLS_IMPLICIT, "s", SETUP_SRC_AUTOCONFIG,
	    true);
	assert_int_equal(setup_choose_incoming(&f, false), 7);
	assert_int_equal(setup_choose_outgoing(&f), 8);
}

static void
test_outgoing(void **state)
{
	static struct setup_found f;

	(void)state;
	memset(&f, 0, sizeof(f));
	add(&f, PROBE_IMAP, PROBE_TLS_IMPLICIT, "i", SETUP_SRC_SRV, true);
	assert_int_equal(setup_choose_outgoing(&f), -1);
	add(&f, PROBE_SMTP, PROBE_TLS_STARTTLS, "s1", SETUP_SRC_AUTOCONFIG,
	    true);
	add(&f, PROBE_SMTP, PROBE_TLS_IMPLICIT, "s2", SETUP_SRC_AUTOCONFIG,
	    false);
	assert_int_equal(setup_choose_outgoing(&f), 1);
	add(&f, PROBE_SMTP, PROBE_TLS_IMPLICIT, "s3", SETUP_SRC_GUESS, true);
	assert_int_equal(setup_choose_outgoing(&f), 3);
	add(&f, PROBE_SMTP, PROBE_TLS_IMPLICIT, "s4", SETUP_SRC_SRV, true);
	assert_int_equal(setup_choose_outgoing(&f), 4);
	add(&f, PROBE_SMTP, PROBE_TLS_IMPLICIT, "s5", SETUP_SRC_AUTODISCOVER,
	    true);
	assert_int_equal(setup_choose_outgoing(&f), 5);
	add(&f, PROBE_SMTP, PROBE_TLS_IMPLICIT, "s6", SETUP_SRC_AUTOCONFIG |
	    SETUP_SRC_GUESS, true);
	assert_int_equal(setup_choose_outgoing(&f), 6);
}

static void
test_oauth(void **state)
{
	struct setup_found f = { 0 };
	struct setup_cand *c;

	(void)state;
	assert_string_equal(setup_oauth_provider("imap.gmail.com"), "Google");
	assert_string_equal(setup_oauth_provider("IMAP.GMAIL.COM."), "Google");
	assert_string_equal(setup_oauth_provider("outlook.office365.com"),
	    "Microsoft");
	assert_null(setup_oauth_provider("notgmail.com"));
	assert_null(setup_oauth_provider("gmail.com.example.org"));
	c = add(&f, PROBE_IMAP, PROBE_TLS_IMPLICIT, "imap.example.org",
	    SETUP_SRC_SRV, true);
	assert_null(setup_oauth_required(c));
	snprintf(c->res.mechs, sizeof(c->res.mechs), "XOAUTH2 OAUTHBEARER");
	assert_string_equal(setup_oauth_required(c), "this server");
	snprintf(c->res.mechs, sizeof(c->res.mechs), "XOAUTH2 PLAIN");
	assert_null(setup_oauth_required(c));
	c->oauth_provider = setup_oauth_provider("smtp.gmail.com");
	assert_string_equal(setup_oauth_required(c), "Google");
}

static void
test_sources_name(void **state)
{
	char buf[64];

	(void)state;
	setup_sources_name(SETUP_SRC_AUTOCONFIG | SETUP_SRC_GUESS, buf,
	    sizeof(buf));
	assert_string_equal(buf, "autoconfig+guess");
	setup_sources_name(SETUP_SRC_MX, buf, sizeof(buf));
	assert_string_equal(buf, "MX");
	setup_sources_name(SETUP_SRC_AUTODISCOVER | SETUP_SRC_SRV, buf,
	    sizeof(buf));
	assert_string_equal(buf, "autodiscover+SRV");
	setup_sources_name(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incoming),
		cmocka_unit_test(test_outgoing),
		cmocka_unit_test(test_oauth),
		cmocka_unit_test(test_sources_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
