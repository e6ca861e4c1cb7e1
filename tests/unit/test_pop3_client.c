/*
 * test_pop3_client.c - the POP3 core: transcripts from tests/data/pop3/
 * fed whole, byte by byte and split at every index (split_feed.h), their
 * events compared with the .events file next to them; builders, limits,
 * the STLS barrier and CAPA learning.
 *
 * Transcript format: "G: none" (do not pre-feed a greeting), "C: VERB
 * args" lines (commands built before feeding, in order), "S:" and then
 * the server's bytes verbatim.  MS_TEST_UPDATE=1 rewrites .events files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_client.h"
#include "split_feed.h"

struct pop3_tx {
	struct pop3_client c;
	bool is_init;
	bool has_greeting;
	char cmds[SPLIT_MAX_CMDS][64];
	size_t ncmds;
	bool in_chunk;
	size_t max_chunk;
};

static void
tx_build(struct pop3_client *c, const char *cmd)
{
	char verb[16] = "", a1[48] = "", a2[48] = "";
	int n = sscanf(cmd, "%15s %47s %47s", verb, a1, a2);
	uint32_t n1 = (uint32_t)strtoul(a1, NULL, 10);
	int rc = MS_EINVAL;	/* fail_msg() below is not known to return */

	if (strcmp(verb, "CAPA") == 0)
		rc = pop3_cmd_capa(c);
	else if (strcmp(verb, "STLS") == 0)
		rc = pop3_cmd_stls(c);
	else if (strcmp(verb, "USER") == 0)
		rc = pop3_cmd_user(c, ms_slice_from_cstr(a1));
	else if (strcmp(verb, "PASS") == 0)
		rc = pop3_cmd_pass(c, ms_slice_from_cstr(a1));
	else if (strcmp(verb, "AUTH") == 0) {
		struct ms_slice ir = ms_slice_from_cstr(a2);

		rc = pop3_cmd_auth(c, a1, n == 3 ? &ir : NULL);
	} else if (strcmp(verb, "STAT") == 0)
		rc = pop3_cmd_stat(c);
	else if (strcmp(verb, "LIST") == 0)
		rc = pop3_cmd_list(c, n >= 2 ? n1 : 0);
	else if (strcmp(verb, "UIDL") == 0)
		rc = pop3_cmd_uidl(c, n >= 2 ? n1 : 0);
	else if (strcmp(verb, "RETR") == 0)
		rc = pop3_cmd_retr(c, n1);
	else if (strcmp(verb, "TOP") == 0)
		rc = pop3_cmd_top(c, n1, (uint32_t)strtoul(a2, NULL, 10));
	else if (strcmp(verb, "DELE") == 0)
		rc = pop3_cmd_dele(c, n1);
	else if (strcmp(verb, "NOOP") == 0)
		rc = pop3_cmd_noop(c);
	else if (strcmp(verb, "RSET") == 0)
		rc = pop3_cmd_rset(c);
	else if (strcmp(verb, "QUIT") == 0)
		rc = pop3_cmd_quit(c);
	else
		fail_msg("unknown transcript command %s", cmd);
	assert_int_equal(rc, MS_OK);
}

static void
tx_reset_cb(void *arg)
{
	struct pop3_tx *t = arg;
	struct pop3_client_params p = { .max_chunk = t->max_chunk };
	const char *greet = "+OK ready\r\n";
	struct pop3_event ev;
	size_t used;

	if (t->is_init)
		pop3_client_deinit(&t->c);
	assert_int_equal(pop3_client_init(&t->c, &p), MS_OK);
	t->is_init = true;
	t->in_chunk = false;
	if (!t->has_greeting)
		return;
	assert_int_equal(pop3_client_feed(&t->c, (const uint8_t *)greet,
	    strlen(greet), &used), MS_OK);
	assert_int_equal(pop3_client_next_event(&t->c, &ev), MS_OK);
	for (size_t i = 0; i < t->ncmds; i++)
		tx_build(&t->c, t->cmds[i]);
}

static int
tx_feed_cb(void *arg, const uint8_t *p, size_t len, size_t *used)
{
	struct pop3_tx *t = arg;

	return pop3_client_feed(&t->c, p, len, used);
}

static void
tx_drain_cb(void *arg, struct ms_buf *out)
{
	static const char *const types[] = { "?", "STATUS", "CONT", "LINE",
	    "BODY", "END" };
	struct pop3_tx *t = arg;
	struct pop3_event ev;

	while (pop3_client_next_event(&t->c, &ev) == MS_OK) {
		/* Chunk boundaries depend on the feed: merge chunks. */
		if (ev.type == POP3_EV_BODY_CHUNK) {
			if (!t->in_chunk)
				assert_true(ms_buf_printf(out, "BODY %s ",
				    pop3_cmd_name(ev.cmd)) == MS_OK);
			t->in_chunk = true;
			assert_true(t->max_chunk == 0 ||
			    ev.text.len <= t->max_chunk);
			split_render_slice(out, ev.text);
			continue;
		}
		if (t->in_chunk)
			assert_true(ms_buf_append(out, "\n", 1) == MS_OK);
		t->in_chunk = false;
		assert_true(ms_buf_printf(out, "%s %s", types[ev.type],
		    pop3_cmd_name(ev.cmd)) == MS_OK);
		if (ev.type == POP3_EV_STATUS)
			assert_true(ms_buf_printf(out, " %s [",
			    ev.is_ok ? "OK" : "ERR") == MS_OK);
		if (ev.type == POP3_EV_STATUS)
			split_render_slice(out, ev.code);
		assert_true(ms_buf_append_cstr(out,
		    ev.type == POP3_EV_STATUS ? "] " : " ") == MS_OK);
		split_render_slice(out, ev.text);
		assert_true(ms_buf_printf(out, " (state %s caps %#x)\n",
		    pop3_client_state_name(t->c.state), t->c.caps) == MS_OK);
	}
}

static void
run_transcript(const char *name, size_t max_chunk)
{
	struct split_transcript tr;
	struct pop3_tx t = { .max_chunk = max_chunk };
	struct split_core sc = { tx_reset_cb, tx_feed_cb, tx_drain_cb, &t };
	struct ms_buf whole;

	split_transcript_read(&tr, "pop3", name);
	t.has_greeting = tr.has_greeting;
	t.ncmds = tr.ncmds;
	memcpy(t.cmds, tr.cmds, sizeof(t.cmds));
	ms_buf_init(&whole, 1u << 24);
	split_feed_all(&sc, tr.server, tr.server_len, &whole);
	split_expect_events("pop3", name, &whole, max_chunk == 0);
	ms_buf_deinit(&whole);
	pop3_client_deinit(&t.c);
	free(tr.data);
}

static void
test_transcripts(void **state)
{
	static const char *const names[] = { "capa", "retr", "listing",
	    "auth", "stls_inject", "greeting", "greeting_err", "unsolicited",
	    "garbage" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		run_transcript(names[i], 0);
		/* Tiny chunks: same bytes, more events. */
		run_transcript(names[i], 2);
	}
}

/* Output of the core as a C string (the test owns nothing). */
static const char *
out_str(struct pop3_client *c)
{
	const uint8_t *p;
	size_t n;

	pop3_client_out_peek(c, &p, &n);
	return n > 0 ? (const char *)p : "";
}

static void
ready(struct pop3_client *c, const struct pop3_client_params *p)
{
	struct pop3_event ev;
	size_t used;

	assert_int_equal(pop3_client_init(c, p), MS_OK);
	assert_int_equal(pop3_client_feed(c, (const uint8_t *)"+OK\r\n", 5,
	    &used), MS_OK);
	assert_int_equal(pop3_client_next_event(c, &ev), MS_OK);
	assert_int_equal(c->state, POP3_CLIENT_READY);
}

static void
test_builders(void **state)
{
	struct pop3_client c;
	struct ms_slice ir = MS_SLICE_LIT("AGFsaWNlAHNlY3JldA==");
	struct ms_slice empty = { (const uint8_t *)"", 0 };
	const uint8_t *p;
	size_t n;

	/* Nothing may be sent before the greeting. */
	assert_int_equal(pop3_client_init(&c, NULL), MS_OK);
	assert_int_equal(pop3_cmd_capa(&c), MS_EINVAL);
	pop3_client_deinit(&c);

	ready(&c, NULL);
	assert_int_equal(pop3_cmd_capa(&c), MS_OK);
	assert_int_equal(pop3_cmd_user(&c, MS_SLICE_LIT("alice")), MS_OK);
	assert_int_equal(pop3_cmd_pass(&c, MS_SLICE_LIT("pw with space")),
	    MS_OK);
	assert_int_equal(pop3_cmd_auth(&c, "PLAIN", &ir), MS_OK);
	assert_int_equal(pop3_cmd_auth(&c, "PLAIN", &empty), MS_OK);
	assert_int_equal(pop3_cmd_auth(&c, "LOGIN", NULL), MS_OK);
	assert_int_equal(pop3_cmd_top(&c, 3, 10), MS_OK);
	assert_int_equal(pop3_cmd_list(&c, 0), MS_OK);
	assert_int_equal(pop3_cmd_uidl(&c, 4294967295u), MS_OK);
	assert_string_equal(out_str(&c), "CAPA\r\nUSER alice\r\n"
	    "PASS pw with space\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	    "AUTH PLAIN =\r\nAUTH LOGIN\r\nTOP 3 10\r\nLIST\r\n"
	    "UIDL 4294967295\r\n");
	assert_int_equal(pop3_client_pending(&c), 9);
	/* Injection of a second command through an argument. */
	assert_int_equal(pop3_cmd_user(&c, MS_SLICE_LIT("a\r\nDELE 1")),
	    MS_EINVAL);
	assert_int_equal(pop3_cmd_pass(&c, MS_SLICE_LIT("a\nb")), MS_EINVAL);
	assert_int_equal(pop3_cmd_user(&c,
	    (struct ms_slice){ (const uint8_t *)"a\0b", 3 }), MS_EINVAL);
	assert_int_equal(pop3_cmd_retr(&c, 0), MS_EINVAL);
	assert_int_equal(pop3_cmd_auth(&c, "BAD MECH", NULL), MS_EINVAL);
	/* Not answering a continuation: no AUTH is at the head. */
	assert_int_equal(pop3_cmd_auth_response(&c, MS_SLICE_LIT("x")),
	    MS_EINVAL);
	pop3_client_out_peek(&c, &p, &n);
	pop3_client_out_consume(&c, n);
	/* The secret is wiped once drained. */
	assert_true(c.out.p == NULL || c.out.len == 0);
	pop3_client_deinit(&c);
}

static void
test_line_limits(void **state)
{
	struct pop3_client_params prm = { .max_line = 64, .max_cmd_line = 20 };
	struct pop3_client c;
	char longuser[32];
	uint8_t big[100];
	size_t used;

	ready(&c, &prm);
	memset(longuser, 'u', sizeof(longuser) - 1);
	longuser[sizeof(longuser) - 1] = '\0';
	/* "USER " + 14 + CRLF = 21 > 20. */
	assert_int_equal(pop3_cmd_user(&c, (struct ms_slice){
	    (const uint8_t *)longuser, 14 }), MS_ETOOBIG);
	assert_int_equal(pop3_cmd_user(&c, (struct ms_slice){
	    (const uint8_t *)longuser, 13 }), MS_OK);
	assert_int_equal(pop3_cmd_noop(&c), MS_OK);
	/* A response line longer than max_line is an error, never a realloc
	 * past the limit. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "+OK ", 4);
	assert_int_equal(pop3_client_feed(&c, big, sizeof(big), &used),
	    MS_ETOOBIG);
	assert_int_equal(c.state, POP3_CLIENT_DEAD);
	assert_int_equal(pop3_client_feed(&c, big, 1, &used), MS_EPROTO);
	pop3_client_deinit(&c);
}

static void
test_stls_barrier(void **state)
{
	static const char in[] = "+OK Begin TLS\r\n+OK injected\r\n";
	struct pop3_client c;
	struct pop3_event ev;
	size_t used;

	assert_int_equal(pop3_client_starttls_done(&c), MS_EPROTO);
	ready(&c, NULL);
	assert_int_equal(pop3_cmd_capa(&c), MS_OK);
	assert_int_equal(pop3_client_feed(&c, (const uint8_t *)
	    "+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n", 26, &used), MS_OK);
	while (used < 26) {
		size_t u;

		while (pop3_client_next_event(&c, &ev) == MS_OK)
			;
		assert_true(pop3_client_feed(&c, (const uint8_t *)
		    "+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n" + used, 26 - used,
		    &u) >= 0);
		used += u;
	}
	while (pop3_client_next_event(&c, &ev) == MS_OK)
		;
	assert_int_equal(pop3_client_caps(&c) & POP3_CAP_STLS, POP3_CAP_STLS);
	assert_true(ms_slice_eq_cstr(pop3_client_sasl_mechs(&c), "PLAIN"));
	assert_int_equal(pop3_cmd_stls(&c), MS_OK);
	/* The core stops exactly after the +OK line. */
	assert_int_equal(pop3_client_feed(&c, (const uint8_t *)in,
	    sizeof(in) - 1, &used), MS_OK);
	assert_int_equal(used, 15);
	assert_int_equal(pop3_client_next_event(&c, &ev), MS_OK);
	assert_true(ev.is_ok && ev.cmd == POP3_CMD_STLS);
	assert_int_equal(c.state, POP3_CLIENT_TLS_WAIT);
	/* No command may be written before TLS. */
	assert_int_equal(pop3_cmd_user(&c, MS_SLICE_LIT("alice")), MS_EINVAL);
	assert_int_equal(pop3_client_starttls_done(&c), MS_OK);
	/* Capabilities learned in plaintext are forgotten. */
	assert_int_equal(pop3_client_caps(&c), 0);
	assert_int_equal(pop3_client_sasl_mechs(&c).len, 0);
	assert_int_equal(pop3_cmd_capa(&c), MS_OK);
	pop3_client_deinit(&c);

	/* Fed the injected bytes anyway: refused. */
	ready(&c, NULL);
	assert_int_equal(pop3_cmd_stls(&c), MS_OK);
	assert_int_equal(pop3_client_feed(&c, (const uint8_t *)in,
	    sizeof(in) - 1, &used), MS_OK);
	assert_int_equal(pop3_client_next_event(&c, &ev), MS_OK);
	assert_int_equal(pop3_client_feed(&c, (const uint8_t *)in + used,
	    sizeof(in) - 1 - used, &used), MS_EPROTO);
	assert_int_equal(used, 0);
	pop3_client_deinit(&c);
}

static void
test_body_streams(void **state)
{
	/* A 1 MiB message never needs more than max_chunk in the core. */
	struct pop3_client_params prm = { .max_chunk = 4096, .max_line = 128 };
	struct pop3_client c;
	struct pop3_event ev;
	uint8_t *msg = malloc(1u << 20);
	size_t total = 0, off = 0, len = 0, ends = 0;

	assert_non_null(msg);
	len += (size_t)snprintf((char *)msg, 64, "+OK big\r\n");
	while (len < (1u << 20) - 200)
		len += (size_t)snprintf((char *)msg + len, 100,
		    "..%s\r\n", "0123456789012345678901234567890123456789"
		    "01234567890123456789");
	memcpy(msg + len, ".\r\n", 3);
	len += 3;
	ready(&c, &prm);
	assert_int_equal(pop3_cmd_retr(&c, 1), MS_OK);
	while (off < len) {
		size_t used;
		int rc = pop3_client_feed(&c, msg + off, len - off, &used);

		assert_true(rc >= 0);
		off += used;
		while (pop3_client_next_event(&c, &ev) == MS_OK) {
			if (ev.type == POP3_EV_BODY_CHUNK) {
				assert_true(ev.text.len <= 4096);
				total += ev.text.len;
			}
			ends += ev.type == POP3_EV_END;
		}
	}
	assert_int_equal(ends, 1);
	/* Each line loses one stuffed dot: 64 data bytes -> 63. */
	assert_int_equal(total, (len - 9 - 3) / 64 * 63);
	assert_true(c.line.cap <= 128 + 1);
	pop3_client_deinit(&c);
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transcripts),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_stls_barrier),
		cmocka_unit_test(test_body_streams),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
