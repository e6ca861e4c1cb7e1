/*
 * test_smtp_client.c - the SMTP core: transcripts from tests/data/smtp/
 * fed whole, byte by byte and split at every index (split_feed.h) and
 * compared with their .events files; builders, limits, the STARTTLS
 * barrier, EHLO keywords and the DATA encoder (also split at every index).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_client.h"
#include "split_feed.h"

struct smtp_tx {
	struct smtp_client c;
	bool is_init;
	struct split_transcript tr;
};

static void
tx_build(struct smtp_client *c, const char *cmd)
{
	char verb[16] = "", a1[48] = "", a2[48] = "";
	int n = sscanf(cmd, "%15s %47s %47s", verb, a1, a2);
	int rc = MS_EINVAL;	/* fail_msg() below is not known to return */

	if (strcmp(verb, "EHLO") == 0)
		rc = smtp_cmd_ehlo(c, a1);
	else if (strcmp(verb, "HELO") == 0)
		rc = smtp_cmd_helo(c, a1);
	else if (strcmp(verb, "STARTTLS") == 0)
		rc = smtp_cmd_starttls(c);
	else if (strcmp(verb, "AUTH") == 0) {
		struct ms_slice ir = ms_slice_from_cstr(a2);

		rc = smtp_cmd_auth(c, a1, n == 3 ? &ir : NULL);
	} else if (strcmp(verb, "MAIL") == 0)
		rc = smtp_cmd_mail(c, ms_slice_from_cstr(a1), NULL);
	else if (strcmp(verb, "RCPT") == 0)
		rc = smtp_cmd_rcpt(c, ms_slice_from_cstr(a1), NULL);
	else if (strcmp(verb, "DATA") == 0)
		rc = smtp_cmd_data(c);
	else if (strcmp(verb, "RSET") == 0)
		rc = smtp_cmd_rset(c);
	else if (strcmp(verb, "NOOP") == 0)
		rc = smtp_cmd_noop(c);
	else if (strcmp(verb, "QUIT") == 0)
		rc = smtp_cmd_quit(c);
	else
		fail_msg("unknown transcript command %s", cmd);
	assert_int_equal(rc, MS_OK);
}

static void
tx_reset_cb(void *arg)
{
	struct smtp_tx *t = arg;
	const char *greet = "220 hi\r\n";
	struct smtp_event ev;
	size_t used;

	if (t->is_init)
		smtp_client_deinit(&t->c);
	assert_int_equal(smtp_client_init(&t->c, NULL), MS_OK);
	t->is_init = true;
	if (!t->tr.has_greeting)
		return;
	assert_int_equal(smtp_client_feed(&t->c, (const uint8_t *)greet,
	    strlen(greet), &used), MS_OK);
	assert_int_equal(smtp_client_next_event(&t->c, &ev), MS_OK);
	for (size_t i = 0; i < t->tr.ncmds; i++)
		tx_build(&t->c, t->tr.cmds[i]);
}

static int
tx_feed_cb(void *arg, const uint8_t *p, size_t len, size_t *used)
{
	struct smtp_tx *t = arg;

	return smtp_client_feed(&t->c, p, len, used);
}

static void
tx_drain_cb(void *arg, struct ms_buf *out)
{
	struct smtp_tx *t = arg;
	struct smtp_event ev;

	while (smtp_client_next_event(&t->c, &ev) == MS_OK) {
		assert_true(ms_buf_printf(out, "%s %s %d",
		    ev.type == SMTP_EV_REPLY ? "REPLY" : "CHALLENGE",
		    smtp_cmd_name(ev.cmd), ev.code) == MS_OK);
		if (ev.has_enhanced)
			assert_true(ms_buf_printf(out, " %d.%d.%d",
			    ev.enh_class, ev.enh_subject, ev.enh_detail) ==
			    MS_OK);
		assert_true(ms_buf_append_cstr(out, " [") == MS_OK);
		split_render_slice(out, ev.text);
		assert_true(ms_buf_printf(out, "] (state %s exts %#x",
		    smtp_client_state_name(t->c.state), t->c.exts) == MS_OK);
		if (t->c.exts & SMTP_EXT_AUTH)
			assert_true(ms_buf_printf(out, " auth '%s'",
			    t->c.auth_mechs) == MS_OK);
		if (t->c.size_limit != 0)
			assert_true(ms_buf_printf(out, " size %llu",
			    (unsigned long long)t->c.size_limit) == MS_OK);
		assert_true(ms_buf_append_cstr(out, ")\n") == MS_OK);
	}
}

static void
test_transcripts(void **state)
{
	static const char *const names[] = { "greeting", "greeting_multi",
	    "greeting_err", "ehlo", "starttls_inject", "auth", "envelope",
	    "code_mismatch", "unsolicited_421", "unsolicited", "garbage",
	    "enhanced_class" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct smtp_tx t = { 0 };
		struct split_core sc = { tx_reset_cb, tx_feed_cb, tx_drain_cb,
		    &t };
		struct ms_buf whole;

		split_transcript_read(&t.tr, "smtp", names[i]);
		ms_buf_init(&whole, 1u << 24);
		split_feed_all(&sc, t.tr.server, t.tr.server_len, &whole);
		split_expect_events("smtp", names[i], &whole, true);
		ms_buf_deinit(&whole);
		smtp_client_deinit(&t.c);
		free(t.tr.data);
	}
}

static const char *
out_str(struct smtp_client *c)
{
	const uint8_t *p;
	size_t n;

	smtp_client_out_peek(c, &p, &n);
	return n > 0 ? (const char *)p : "";
}

static void
ready(struct smtp_client *c, const struct smtp_client_params *p)
{
	struct smtp_event ev;
	size_t used;

	assert_int_equal(smtp_client_init(c, p), MS_OK);
	assert_int_equal(smtp_client_feed(c, (const uint8_t *)"220 x\r\n", 7,
	    &used), MS_OK);
	assert_int_equal(smtp_client_next_event(c, &ev), MS_OK);
	assert_int_equal(c->state, SMTP_CLIENT_READY);
}

static void
feed_all(struct smtp_client *c, const char *s, struct smtp_event *last)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		size_t used;

		assert_true(smtp_client_feed(c, (const uint8_t *)s + off,
		    len - off, &used) >= 0);
		off += used;
		while (smtp_client_next_event(c, last) == MS_OK)
			;
	}
}

static void
test_builders(void **state)
{
	struct smtp_client c;
	struct smtp_event ev;
	struct ms_slice ir = MS_SLICE_LIT("AGFsaWNlAHNlY3JldA==");
	struct ms_slice empty = { (const uint8_t *)"", 0 };
	const uint8_t *p;
	size_t n;

	assert_int_equal(smtp_client_init(&c, NULL), MS_OK);
	assert_int_equal(smtp_cmd_ehlo(&c, "x"), MS_EINVAL);
	smtp_client_deinit(&c);

	ready(&c, NULL);
	assert_int_equal(smtp_cmd_ehlo(&c, "client.example"), MS_OK);
	assert_int_equal(smtp_cmd_auth(&c, "PLAIN", &ir), MS_OK);
	assert_int_equal(smtp_cmd_auth(&c, "EXTERNAL", &empty), MS_OK);
	assert_int_equal(smtp_cmd_auth(&c, "LOGIN", NULL), MS_OK);
	assert_int_equal(smtp_cmd_mail(&c, empty, NULL), MS_OK);
	assert_int_equal(smtp_cmd_mail(&c, MS_SLICE_LIT("a@b"),
	    "SIZE=100 BODY=8BITMIME"), MS_OK);
	assert_int_equal(smtp_cmd_rcpt(&c, MS_SLICE_LIT("c@d"), NULL), MS_OK);
	assert_int_equal(smtp_cmd_data(&c), MS_OK);
	assert_string_equal(out_str(&c), "EHLO client.example\r\n"
	    "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH EXTERNAL =\r\n"
	    "AUTH LOGIN\r\nMAIL FROM:<>\r\n"
	    "MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<c@d>\r\n"
	    "DATA\r\n");
	/* Command injection through arguments. */
	assert_int_equal(smtp_cmd_rcpt(&c, MS_SLICE_LIT("a@b>\r\nRCPT TO:<x"),
	    NULL), MS_EINVAL);
	assert_int_equal(smtp_cmd_rcpt(&c, MS_SLICE_LIT("a@b>"), NULL),
	    MS_EINVAL);
	assert_int_equal(smtp_cmd_mail(&c, MS_SLICE_LIT("a@b"), "X\r\nQUIT"),
	    MS_EINVAL);
	assert_int_equal(smtp_cmd_ehlo(&c, "a b"), MS_EINVAL);
	assert_int_equal(smtp_cmd_rcpt(&c, empty, NULL), MS_EINVAL);
	assert_int_equal(smtp_cmd_auth_response(&c, MS_SLICE_LIT("x")),
	    MS_EINVAL);
	smtp_client_out_peek(&c, &p, &n);
	smtp_client_out_consume(&c, n);
	assert_int_equal(c.out.len, 0);
	/* Replies are matched in order: EHLO, AUTH x3, MAIL x2, RCPT, DATA. */
	feed_all(&c, "250 hi\r\n235 ok\r\n535 no\r\n334 VXNlcm5hbWU6\r\n",
	    &ev);
	assert_int_equal(ev.type, SMTP_EV_AUTH_CHALLENGE);
	assert_int_equal(smtp_cmd_auth_response(&c, MS_SLICE_LIT("YQ==")),
	    MS_OK);
	assert_string_equal(out_str(&c), "YQ==\r\n");
	feed_all(&c, "235 ok\r\n250 a\r\n250 b\r\n250 c\r\n354 go\r\n", &ev);
	assert_int_equal(ev.code, 354);
	/* During DATA no command may be built. */
	assert_int_equal(smtp_cmd_noop(&c), MS_EINVAL);
	assert_int_equal(smtp_client_data_write(&c, (const uint8_t *)
	    ".a\nb\r\n", 6), MS_OK);
	assert_int_equal(smtp_client_data_end(&c), MS_OK);
	assert_string_equal(out_str(&c), "YQ==\r\n..a\r\nb\r\n.\r\n");
	feed_all(&c, "250 2.0.0 queued as 12\r\n", &ev);
	assert_int_equal(ev.cmd, SMTP_CMD_DATA_END);
	assert_int_equal(ev.code, 250);
	assert_int_equal(smtp_client_pending(&c), 0);
	smtp_client_deinit(&c);
}

static void
test_limits(void **state)
{
	struct smtp_client_params prm = { .max_line = 64, .max_reply = 100,
	    .max_cmd_line = 16 };
	struct smtp_client c;
	struct smtp_event ev;
	char big[200];
	size_t used;

	ready(&c, &prm);
	/* "EHLO " + 9 + CRLF = 16. */
	assert_int_equal(smtp_cmd_ehlo(&c, "abcdefghij"), MS_ETOOBIG);
	assert_int_equal(smtp_cmd_ehlo(&c, "abcdefghi"), MS_OK);
	assert_int_equal(c.out.len, 16);
	/* 3 lines of 40 bytes exceed max_reply. */
	snprintf(big, sizeof(big), "250-%s\r\n250-%s\r\n250 %s\r\n",
	    "0123456789012345678901234567890123456789",
	    "0123456789012345678901234567890123456789",
	    "0123456789012345678901234567890123456789");
	while (smtp_client_feed(&c, (const uint8_t *)big, strlen(big),
	    &used) == MS_AGAIN && used < strlen(big))
		memmove(big, big + used, strlen(big) - used + 1);
	assert_int_equal(c.state, SMTP_CLIENT_DEAD);
	assert_int_equal(smtp_client_next_event(&c, &ev), MS_AGAIN);
	smtp_client_deinit(&c);

	ready(&c, &prm);
	assert_int_equal(smtp_cmd_noop(&c), MS_OK);
	memset(big, 'x', sizeof(big));
	memcpy(big, "250 ", 4);
	assert_int_equal(smtp_client_feed(&c, (const uint8_t *)big,
	    sizeof(big), &used), MS_ETOOBIG);
	smtp_client_deinit(&c);

	/* The pipeline depth is bounded. */
	ready(&c, NULL);
	for (int i = 0; i < SMTP_MAX_PIPELINE; i++)
		assert_int_equal(smtp_cmd_noop(&c), MS_OK);
	assert_int_equal(smtp_cmd_noop(&c), MS_ETOOBIG);
	smtp_client_deinit(&c);
}

static void
test_starttls_barrier(void **state)
{
	static const char in[] = "220 2.0.0 go ahead\r\n250 AUTH PLAIN\r\n";
	struct smtp_client c;
	struct smtp_event ev;
	size_t used;

	ready(&c, NULL);
	assert_int_equal(smtp_client_starttls_done(&c), MS_EPROTO);
	smtp_client_deinit(&c);

	ready(&c, NULL);
	assert_int_equal(smtp_cmd_ehlo(&c, "c"), MS_OK);
	feed_all(&c, "250-x\r\n250-STARTTLS\r\n250 AUTH LOGIN\r\n", &ev);
	assert_int_equal(smtp_client_exts(&c) & SMTP_EXT_STARTTLS,
	    SMTP_EXT_STARTTLS);
	assert_int_equal(smtp_cmd_starttls(&c), MS_OK);
	assert_int_equal(smtp_client_feed(&c, (const uint8_t *)in,
	    sizeof(in) - 1, &used), MS_OK);
	assert_int_equal(used, 20);
	assert_int_equal(smtp_client_next_event(&c, &ev), MS_OK);
	assert_int_equal(c.state, SMTP_CLIENT_TLS_WAIT);
	assert_int_equal(smtp_cmd_auth(&c, "PLAIN", NULL), MS_EINVAL);
	assert_int_equal(smtp_client_feed(&c, (const uint8_t *)in + used,
	    sizeof(in) - 1 - used, &used), MS_EPROTO);
	assert_int_equal(used, 0);
	smtp_client_deinit(&c);

	ready(&c, NULL);
	assert_int_equal(smtp_cmd_ehlo(&c, "c"), MS_OK);
	feed_all(&c, "250-x\r\n250-STARTTLS\r\n250 AUTH LOGIN\r\n", &ev);
	assert_int_equal(smtp_cmd_starttls(&c), MS_OK);
	feed_all(&c, "220 go\r\n", &ev);
	assert_int_equal(smtp_client_starttls_done(&c), MS_OK);
	/* Extensions learned in plaintext are forgotten. */
	assert_int_equal(smtp_client_exts(&c), 0);
	assert_int_equal(smtp_client_auth_mechs(&c).len, 0);
	assert_int_equal(smtp_cmd_ehlo(&c, "c"), MS_OK);
	smtp_client_deinit(&c);
}

/* The DATA encoder as a split_core: events are the encoded bytes. */
struct enc_tx {
	struct smtp_data_enc e;
	struct ms_buf out;
	bool is_done;
};

static void
enc_reset_cb(void *arg)
{
	struct enc_tx *t = arg;

	smtp_data_enc_init(&t->e);
	ms_buf_reset(&t->out);
}

static int
enc_feed_cb(void *arg, const uint8_t *p, size_t len, size_t *used)
{
	struct enc_tx *t = arg;

	*used = len;
	return smtp_data_enc_feed(&t->e, &t->out, p, len);
}

static void
enc_drain_cb(void *arg, struct ms_buf *out)
{
	struct enc_tx *t = arg;

	split_render_slice(out, (struct ms_slice){ t->out.p, t->out.len });
	ms_buf_reset(&t->out);
}

static void
test_data_encoder(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", ".\r\n" },
		{ "a", "a\r\n.\r\n" },
		{ "a\n", "a\r\n.\r\n" },
		{ ".\n", "..\r\n.\r\n" },
		{ "x\r\n.\r\n..y\n", "x\r\n..\r\n...y\r\n.\r\n" },
		{ "bare\rcr", "bare\r\ncr\r\n.\r\n" },
		{ "end\r", "end\r\n.\r\n" },
		{ "\r\r\n\n.", "\r\n\r\n\r\n..\r\n.\r\n" },
		{ "mid.dot\r\n.", "mid.dot\r\n..\r\n.\r\n" },
	};
	static const char tx[] = "From: a\nSubject: x\r\n\r\n.\n..\r\n"
	    "line\rwith\r\n.cr\r";
	struct enc_tx t;
	struct split_core sc = { enc_reset_cb, enc_feed_cb, enc_drain_cb, &t };
	struct ms_buf whole, exp;

	ms_buf_init(&t.out, 1u << 20);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enc_reset_cb(&t);
		assert_int_equal(smtp_data_enc_feed(&t.e, &t.out,
		    (const uint8_t *)cases[i].in, strlen(cases[i].in)), MS_OK);
		assert_int_equal(smtp_data_enc_finish(&t.e, &t.out), MS_OK);
		assert_string_equal((const char *)t.out.p, cases[i].out);
	}
	/* Split anywhere, including between CR and LF: same bytes. */
	ms_buf_init(&whole, 1u << 20);
	ms_buf_init(&exp, 1u << 20);
	split_feed_all(&sc, (const uint8_t *)tx, sizeof(tx) - 1, &whole);
	split_render_slice(&exp, MS_SLICE_LIT("From: a\r\nSubject: x\r\n\r\n"
	    "..\r\n...\r\nline\r\nwith\r\n..cr"));
	assert_string_equal((const char *)whole.p, (const char *)exp.p);
	ms_buf_deinit(&whole);
	ms_buf_deinit(&exp);
	/* A bounded output refuses and stays unchanged. */
	ms_buf_deinit(&t.out);
	ms_buf_init(&t.out, 8);
	smtp_data_enc_init(&t.e);
	assert_int_equal(smtp_data_enc_feed(&t.e, &t.out,
	    (const uint8_t *)"\n\n\n\n\n", 5), MS_ETOOBIG);
	assert_int_equal(t.out.len, 0);
	assert_true(t.e.is_bol && !t.e.has_cr);
	ms_buf_deinit(&t.out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transcripts),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_starttls_barrier),
		cmocka_unit_test(test_data_encoder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
