/*
 * test_probe.c - the setup probe over the IMAP, POP3 and SMTP cores:
 * server transcripts (before STARTTLS, and after it) fed whole, byte by
 * byte and split at every index (split_feed.h) give the same commands,
 * final state and result; plaintext-only servers, refusals, malformed
 * replies, injected bytes after STARTTLS and early closes fail with why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setup/probe.h"
/* Only the feeding half of split_feed.h is used: transcripts are here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "split_feed.h"

struct probe_tx {
	struct probe p;
	bool is_init;
	enum probe_proto proto;
	enum probe_tls tls;
	/* Non-NULL: fed whole and TLS started before the stream under test. */
	const char *pre;
};

static void
tx_drain_out(struct probe_tx *t, struct ms_buf *out)
{
	const uint8_t *p;
	size_t n;

	probe_out_peek(&t->p, &p, &n);
	/* Raw: how the output was drained must not show. */
	if (n > 0 && out != NULL)
		assert_true(ms_buf_append(out, p, n) == MS_OK);
	probe_out_consume(&t->p, n);
}

static void
tx_drain_cb(void *arg, struct ms_buf *out)
{
	struct probe_tx *t = arg;

	tx_drain_out(t, out);
}

static void
tx_reset_cb(void *arg)
{
	struct probe_tx *t = arg;

	if (t->is_init)
		probe_deinit(&t->p);
	assert_int_equal(probe_init(&t->p, t->proto, t->tls, "client.test"),
	    MS_OK);
	t->is_init = true;
	if (t->pre != NULL) {
		size_t used = 0;

		probe_feed(&t->p, (const uint8_t *)t->pre, strlen(t->pre),
		    &used);
		assert_int_equal(used, strlen(t->pre));
		assert_int_equal(probe_get_state(&t->p), PROBE_WANT_TLS);
		tx_drain_out(t, NULL);
		probe_tls_done(&t->p);
	}
}

static int
tx_feed_cb(void *arg, const uint8_t *p, size_t len, size_t *used)
{
	struct probe_tx *t = arg;

	probe_feed(&t->p, p, len, used);
	return MS_OK;
}

/* Runs server bytes three ways and checks the events and the result. */
static void
tx_run(struct probe_tx *t, const char *server, const char *expected,
    const char *result)
{
	struct split_core sc = { tx_reset_cb, tx_feed_cb, tx_drain_cb, t };
	const struct probe_result *r;
	struct ms_buf whole;
	char got[2048];

	ms_buf_init(&whole, 1u << 20);
	split_feed_all(&sc, (const uint8_t *)server, strlen(server), &whole);
	assert_true(ms_buf_printf(&whole, "-> %s\n",
	    probe_state_name(probe_get_state(&t->p))) == MS_OK);
	assert_true(ms_buf_append(&whole, "", 1) == MS_OK);
	assert_string_equal((const char *)whole.p, expected);
	r = probe_get_result(&t->p);
	if (probe_is_ok(&t->p))
		snprintf(got, sizeof(got), "ok starttls=%d logindisabled=%d "
		    "user=%d mechs=[%s] caps=[%s]", r->has_starttls,
		    r->is_login_disabled, r->has_user, r->mechs, r->caps);
	else
		snprintf(got, sizeof(got), "failed: %s", r->why);
	assert_string_equal(got, result);
	probe_deinit(&t->p);
	t->is_init = false;
	ms_buf_deinit(&whole);
}

static void
test_imap_implicit(void **state)
{
	struct probe_tx t = { .proto = PROBE_IMAP, .tls = PROBE_TLS_IMPLICIT };

	(void)state;
	tx_run(&t, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot ready.\r\n"
	    "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 "
	    "auth=login AUTH=plain\r\n"
	    "A1 OK Pre-login capabilities listed.\r\n"
	    "* BYE Logging out\r\nA2 OK Logout completed.\r\n",
	    "A1 CAPABILITY\r\n"
	    "A2 LOGOUT\r\n-> done\n",
	    "ok starttls=0 logindisabled=0 user=0 mechs=[PLAIN XOAUTH2 LOGIN] "
	    "caps=[IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 auth=login "
	    "AUTH=plain]");
}

static void
test_imap_starttls(void **state)
{
	static const char pre[] = "* OK ready\r\n"
	    "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\nA1 OK done\r\n"
	    "A2 OK Begin TLS negotiation now.\r\n";
	struct probe_tx t = { .proto = PROBE_IMAP, .tls = PROBE_TLS_STARTTLS };

	(void)state;
	tx_run(&t, pre, "A1 CAPABILITY\r\n"
	    "A2 STARTTLS\r\n-> TLS handshake\n",
	    "failed: ");
	/* Under TLS: capabilities again, then LOGOUT. */
	t.pre = pre;
	tx_run(&t, "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=SCRAM-SHA-256\r\n"
	    "A3 OK listed\r\n* BYE bye\r\nA4 OK bye\r\n",
	    "A3 CAPABILITY\r\nA4 LOGOUT\r\n-> done\n",
	    "ok starttls=1 logindisabled=0 user=0 "
	    "mechs=[PLAIN SCRAM-SHA-256] "
	    "caps=[IMAP4rev1 AUTH=PLAIN AUTH=SCRAM-SHA-256]");
	/* LOGINDISABLED under TLS is reported. */
	tx_run(&t, "A3 OK [CAPABILITY IMAP4rev1 LOGINDISABLED] listed\r\n",
	    "A3 CAPABILITY\r\nA4 LOGOUT\r\n-> quit\n",
	    "ok starttls=1 logindisabled=1 user=0 mechs=[] "
	    "caps=[IMAP4rev1 LOGINDISABLED]");
}

static void
test_imap_refusals(void **state)
{
	struct probe_tx t = { .proto = PROBE_IMAP, .tls = PROBE_TLS_STARTTLS };

	(void)state;
	tx_run(&t, "* OK ready\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
	    "A1 OK done\r\n",
	    "A1 CAPABILITY\r\n-> failed\n",
	    "failed: offers no STARTTLS: plaintext only, refused "
	    "(credentials would travel in clear)");
	tx_run(&t, "* OK ready\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\n"
	    "A1 OK done\r\nA2 NO [UNAVAILABLE] no TLS today\r\n",
	    "A1 CAPABILITY\r\nA2 STARTTLS\r\n"
	    "-> failed\n",
	    "failed: STARTTLS refused: no TLS today");
	t.tls = PROBE_TLS_IMPLICIT;
	tx_run(&t, "* BYE Too many connections\r\n", "-> failed\n",
	    "failed: the server said BYE: Too many connections");
	tx_run(&t, "HTTP/1.1 400 Bad Request\r\n", "-> failed\n",
	    "failed: malformed IMAP response: tagged response without "
	    "OK/NO/BAD (line at offset 0)");
}

static void
test_pop3(void **state)
{
	static const char pre[] = "+OK Dovecot ready.\r\n"
	    "+OK\r\nCAPA\r\nTOP\r\nSTLS\r\nUSER\r\n.\r\n+OK Begin TLS\r\n";
	struct probe_tx t = { .proto = PROBE_POP3, .tls = PROBE_TLS_STARTTLS };

	(void)state;
	tx_run(&t, pre, "CAPA\r\nSTLS\r\n"
	    "-> TLS handshake\n", "failed: ");
	t.pre = pre;
	tx_run(&t, "+OK\r\nCAPA\r\nUSER\r\nSASL PLAIN login\r\n.\r\n"
	    "+OK Logging out.\r\n",
	    "CAPA\r\nQUIT\r\n-> done\n",
	    "ok starttls=1 logindisabled=0 user=1 mechs=[PLAIN LOGIN] "
	    "caps=[CAPA USER SASL PLAIN login]");
	/* An old server without CAPA, over implicit TLS: USER only. */
	t.pre = NULL;
	t.tls = PROBE_TLS_IMPLICIT;
	tx_run(&t, "+OK hi\r\n-ERR unknown command\r\n+OK bye\r\n",
	    "CAPA\r\nQUIT\r\n-> done\n",
	    "ok starttls=0 logindisabled=0 user=1 mechs=[] caps=[]");
	/* No STLS: plaintext only. */
	t.tls = PROBE_TLS_STARTTLS;
	tx_run(&t, "+OK hi\r\n+OK\r\nUSER\r\n.\r\n",
	    "CAPA\r\n-> failed\n",
	    "failed: offers no STARTTLS: plaintext only, refused "
	    "(credentials would travel in clear)");
	tx_run(&t, "-ERR go away\r\n", "-> failed\n",
	    "failed: the server refused the connection: -ERR go away");
}

static void
test_smtp(void **state)
{
	static const char pre[] = "220 mx.test ESMTP\r\n"
	    "250-mx.test\r\n250-STARTTLS\r\n250 SIZE 1000\r\n220 go ahead\r\n";
	struct probe_tx t = { .proto = PROBE_SMTP, .tls = PROBE_TLS_STARTTLS };

	(void)state;
	tx_run(&t, pre, "EHLO client.test\r\n"
	    "STARTTLS\r\n-> TLS handshake\n", "failed: ");
	t.pre = pre;
	tx_run(&t, "250-mx.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
	    "221 bye\r\n",
	    "EHLO client.test\r\nQUIT\r\n-> done\n",
	    "ok starttls=1 logindisabled=0 user=0 mechs=[PLAIN LOGIN] "
	    "caps=[AUTH PLAIN LOGIN 8BITMIME]");
	t.pre = NULL;
	tx_run(&t, "220 mx ESMTP\r\n250-mx\r\n250 AUTH PLAIN\r\n",
	    "EHLO client.test\r\n-> failed\n",
	    "failed: offers no STARTTLS: plaintext only, refused "
	    "(credentials would travel in clear)");
	t.tls = PROBE_TLS_IMPLICIT;
	tx_run(&t, "554 no service for you\r\n", "-> failed\n",
	    "failed: the server refused the connection: 554 no service for "
	    "you");
	tx_run(&t, "220 mx\r\n502 what\r\n",
	    "EHLO client.test\r\n-> failed\n",
	    "failed: EHLO refused: 502 what");
}

static void
test_injection_and_close(void **state)
{
	static const char s[] = "220 mx\r\n250-mx\r\n250 STARTTLS\r\n"
	    "220 go\r\n250 injected\r\n";
	struct probe p;
	size_t used = 0;

	(void)state;
	/* Bytes after the STARTTLS reply stay unconsumed. */
	assert_int_equal(probe_init(&p, PROBE_SMTP, PROBE_TLS_STARTTLS, NULL),
	    MS_OK);
	probe_feed(&p, (const uint8_t *)s, sizeof(s) - 1, &used);
	assert_int_equal(probe_get_state(&p), PROBE_WANT_TLS);
	assert_int_equal(used, strlen(s) - strlen("250 injected\r\n"));
	/* Feeding them anyway fails the probe. */
	probe_feed(&p, (const uint8_t *)s + used, sizeof(s) - 1 - used,
	    &used);
	assert_int_equal(probe_get_state(&p), PROBE_FAILED);
	assert_non_null(strstr(probe_get_result(&p)->why, "injection"));
	probe_deinit(&p);
	/* A close before the end says when it happened. */
	assert_int_equal(probe_init(&p, PROBE_POP3, PROBE_TLS_IMPLICIT, NULL),
	    MS_OK);
	probe_closed(&p, "connection reset");
	assert_string_equal(probe_get_result(&p)->why,
	    "connection reset (while greeting)");
	probe_deinit(&p);
	/* A close while quitting keeps the result. */
	assert_int_equal(probe_init(&p, PROBE_POP3, PROBE_TLS_IMPLICIT, NULL),
	    MS_OK);
	probe_feed(&p, (const uint8_t *)"+OK\r\n+OK\r\n.\r\n", 13, &used);
	assert_int_equal(probe_get_state(&p), PROBE_QUIT);
	probe_closed(&p, "EOF");
	assert_int_equal(probe_get_state(&p), PROBE_DONE);
	assert_true(probe_is_ok(&p));
	probe_deinit(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_imap_implicit),
		cmocka_unit_test(test_imap_starttls),
		cmocka_unit_test(test_imap_refusals),
		cmocka_unit_test(test_pop3),
		cmocka_unit_test(test_smtp),
		cmocka_unit_test(test_injection_and_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
