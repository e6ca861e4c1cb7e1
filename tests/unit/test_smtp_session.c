/*
 * test_smtp_session.c - daemon/session/smtp_session.c on a real uv loop:
 * against the fixture SMTP sink (tests/integration/lib/smtp.sh, aiosmtpd)
 * with STARTTLS and implicit TLS, AUTH PLAIN and LOGIN (offered only
 * after TLS), a wrong password and a message sent through the public
 * command API (dot-stuffing and LF -> CRLF checked in what the sink
 * stored); and against the scripted fake server for the attacks and
 * faults: STARTTLS not advertised, answered 454, bytes injected after the
 * 220, a stall, a close mid-handshake, one byte at a time.  The fake
 * server records every byte received before TLS; the password and its
 * base64 forms must never be there.  Every run ends with
 * uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"
#include "net/tls.h"
#include "session/smtp_session.h"
#include "session_test_util.h"

#define FAKE_USER "alice"
#define FAKE_PASS "s3cret pw"
#define SINK_USER "mailsync"
#define SINK_PASS "sink pass 1"

/* $2 is the TLS mode of the sink. */
#define SINK_SCRIPT \
	"set -u\n" \
	". \"$1/integration/lib/smtp.sh\" || exit 1\n" \
	"smtp_sink_start --tls \"$2\" --auth '" SINK_USER ":" SINK_PASS "'" \
	"; rc=$?\n" \
	"[ \"$rc\" = 0 ] || exit \"$rc\"\n" \
	"printf 'port=%s\\ndir=%s\\nca=%s\\nREADY\\n' \"$MS_SMTP_PORT\" " \
	"\"$MS_SMTP_DIR\" \"$MS_TLS_CA\"\n" \
	"read -r _ || true\n" \
	"smtp_sink_stop\n"

static struct st_fixture sink_starttls, sink_implicit;
static int sink_rc;

/* What on_ready does once the session is up. */
enum run_job {
	RUN_NOOP,	/* NOOP, then QUIT */
	RUN_SEND,	/* MAIL, RCPT, DATA, the message, then QUIT */
};

struct run {
	struct st_loop l;
	enum run_job job;
	int readies, closes, reason;
	struct ms_err err;
	char auth_used[24];
	bool was_tls;
	size_t discarded;
	int replies;
	int codes[8];
	int cancelled;
};

static const char send_body[] = "Subject: dots\n\n.hidden dot\n..two\r\n"
    "bare\rcr\nlast line";

static void run_reply_cb(struct smtp_session *s, int rc,
    const struct smtp_event *ev, void *arg);

static void
run_submit(struct smtp_session *s, struct run *r, int rc)
{
	struct smtp_session_cmd_cbs cbs = { .on_reply_cb = run_reply_cb,
	    .arg = r };

	assert_int_equal(rc, MS_OK);
	assert_int_equal(smtp_session_submit(s, &cbs), MS_OK);
}

static void
run_reply_cb(struct smtp_session *s, int rc, const struct smtp_event *ev,
    void *arg)
{
	struct run *r = arg;
	struct smtp_client *c = smtp_session_core(s);

	if (rc != MS_OK) {
		r->cancelled++;
		return;
	}
	if (r->replies < 8)
		r->codes[r->replies] = ev->code;
	r->replies++;
	if (ev->cmd == SMTP_CMD_DATA && ev->code == 354) {
		/* In two pieces: the encoder carries its state over. */
		assert_int_equal(smtp_client_data_write(c,
		    (const uint8_t *)send_body, 20), MS_OK);
		assert_int_equal(smtp_client_data_write(c,
		    (const uint8_t *)send_body + 20, sizeof(send_body) - 21),
		    MS_OK);
		run_submit(s, r, smtp_client_data_end(c));
		return;
	}
	if (smtp_session_in_flight(s) == 0)
		smtp_session_close(s, MS_OK);
}

static void
run_ready_cb(struct smtp_session *s, void *arg)
{
	struct run *r = arg;
	struct smtp_client *c = smtp_session_core(s);
	struct smtp_session_cmd_cbs cbs = { .on_reply_cb = run_reply_cb,
	    .arg = r };

	r->readies++;
	snprintf(r->auth_used, sizeof(r->auth_used), "%s",
	    smtp_session_auth_used(s));
	r->was_tls = net_conn_is_tls(smtp_session_conn(s));
	r->discarded = net_conn_discarded_bytes(smtp_session_conn(s));
	if (r->job == RUN_NOOP) {
		run_submit(s, r, smtp_cmd_noop(c));
		assert_int_equal(smtp_session_submit(s, &cbs), MS_EINVAL);
		return;
	}
	/* Pipelined envelope. */
	run_submit(s, r, smtp_cmd_mail(c, MS_SLICE_LIT("from@example.test"),
	    NULL));
	run_submit(s, r, smtp_cmd_rcpt(c, MS_SLICE_LIT("to@example.test"),
	    NULL));
	run_submit(s, r, smtp_cmd_data(c));
}

static void
run_close_cb(struct smtp_session *s, int reason, const struct ms_err *err,
    void *arg)
{
	struct run *r = arg;

	r->closes++;
	r->reason = reason;
	r->err = *err;
}

static void
run_session(struct run *r, struct smtp_session_params *p, const char *ca,
    enum run_job job)
{
	struct net_tls_ctx_params tp = { .ca_file = ca };
	struct net_tls_ctx *ctx = NULL;
	struct smtp_session *s;
	struct ms_err err;

	memset(r, 0, sizeof(*r));
	r->job = job;
	st_loop_init(&r->l);
	if (p->tls != NET_TLS_NONE) {
		assert_int_equal(net_tls_ctx_new(&tp, &ctx, &err), MS_OK);
		p->tls_ctx = ctx;
	}
	p->account = "test";
	p->helo_name = "client.example.test";
	p->on_ready_cb = run_ready_cb;
	p->on_close_cb = run_close_cb;
	p->arg = r;
	if (p->timeout_ms == 0)
		p->timeout_ms = 10000;
	assert_int_equal(smtp_session_new(&r->l.loop, p, &s, &err), MS_OK);
	if (ctx != NULL)
		net_tls_ctx_unref(&ctx);
	assert_int_equal(r->closes, 0);
	st_loop_run_and_close(&r->l);
	assert_int_equal(r->closes, 1);
	assert_true(r->readies <= 1);
}

static void
expect_ok(const struct run *r, bool want_tls)
{
	if (r->reason != MS_OK)
		fail_msg("session failed: %s: %s", ms_strerror(r->reason),
		    r->err.msg);
	assert_int_equal(r->readies, 1);
	assert_true(r->replies >= 1);
	assert_int_equal(r->cancelled, 0);
	assert_int_equal(r->was_tls, want_tls);
}

static void
expect_fail(const struct run *r, int code, const char *text)
{
	if (r->reason != code || strstr(r->err.msg, text) == NULL)
		fail_msg("expected %s '%s', got %s: %s", ms_strerror(code),
		    text, ms_strerror(r->reason), r->err.msg);
	assert_int_equal(r->readies, 0);
	assert_int_equal(r->replies, 0);
}

static void
expect_no_secret(const struct st_server *srv)
{
	st_expect_no_secret(srv, FAKE_USER, FAKE_PASS);
}

static void
fake_params(struct smtp_session_params *p, const struct st_server *srv,
    enum net_tls_mode tls)
{
	memset(p, 0, sizeof(*p));
	p->host = "localhost";
	p->port = (uint16_t)srv->port;
	p->tls = tls;
	p->user = FAKE_USER;
	p->password = FAKE_PASS;
}

static const char *
fake_ca(void)
{
	static char ca[300];

	snprintf(ca, sizeof(ca), "%s/ca.pem", st_pki);
	return ca;
}

/* Runs the fake server in mode with STARTTLS; the run is in r. */
static void
fake_case(struct run *r, struct st_server *srv, const char *mode,
    unsigned timeout_ms)
{
	struct smtp_session_params p;

	st_server_start(srv, "smtp", mode);
	fake_params(&p, srv, NET_TLS_STARTTLS);
	p.timeout_ms = timeout_ms;
	run_session(r, &p, fake_ca(), RUN_NOOP);
	st_server_stop(srv);
	expect_no_secret(srv);
}

static void
test_fake_starttls_ok(void **state)
{
	struct st_server srv;
	struct run r;

	fake_case(&r, &srv, "good", 0);
	expect_ok(&r, true);
	assert_string_equal(r.auth_used, "PLAIN");
	assert_int_equal(r.codes[0], 250);
	assert_int_equal(r.discarded, 0);
	assert_true(st_file_contains(srv.record, "STARTTLS"));
}

static void
test_fake_implicit_ok(void **state)
{
	struct smtp_session_params p;
	struct st_server srv;
	struct run r;

	st_server_start(&srv, "smtp", "implicit");
	fake_params(&p, &srv, NET_TLS_IMPLICIT);
	run_session(&r, &p, fake_ca(), RUN_NOOP);
	st_server_stop(&srv);
	expect_ok(&r, true);
	assert_int_equal(st_file_size(srv.record), 0);
}

static void
test_fake_starttls_not_advertised(void **state)
{
	struct st_server srv;
	struct run r;

	fake_case(&r, &srv, "no-tls", 0);
	expect_fail(&r, MS_ETLS, "does not offer STARTTLS");
	assert_false(st_file_contains(srv.record, "STARTTLS"));
}

static void
test_fake_starttls_refused(void **state)
{
	struct st_server srv;
	struct run r;

	fake_case(&r, &srv, "refused", 0);
	expect_fail(&r, MS_ETLS, "STARTTLS refused: 454 TLS not available");
}

static void
test_fake_injection(void **state)
{
	struct st_server srv;
	struct run r;

	/* "220 2.0.0 Ready\r\n250 AUTH PLAIN\r\n" in one packet. */
	fake_case(&r, &srv, "inject", 0);
	expect_ok(&r, true);
	assert_int_equal(r.discarded, strlen("250 AUTH PLAIN\r\n"));
	assert_string_equal(r.auth_used, "PLAIN");
}

static void
test_fake_stall(void **state)
{
	struct st_server srv;
	struct run r;

	fake_case(&r, &srv, "stall", 300);
	expect_fail(&r, MS_ETIMEDOUT, "");
}

static void
test_fake_close_mid_handshake(void **state)
{
	struct st_server srv;
	struct run r;

	fake_case(&r, &srv, "midhs", 0);
	assert_true(r.reason == MS_ETLS || r.reason == MS_ECONN);
	assert_int_equal(r.readies, 0);
}

static void
test_fake_slow(void **state)
{
	struct st_server srv;
	struct run r;

	fake_case(&r, &srv, "slow", 0);
	expect_ok(&r, true);
	assert_int_equal(r.codes[0], 250);
}

static void
test_fake_no_auth_plaintext(void **state)
{
	struct smtp_session_params p;
	struct st_server srv;
	struct run r;

	/* Loopback relay without credentials: no TLS, no AUTH. */
	st_server_start(&srv, "smtp", "good");
	fake_params(&p, &srv, NET_TLS_NONE);
	p.user = NULL;
	p.password = NULL;
	run_session(&r, &p, NULL, RUN_NOOP);
	expect_ok(&r, false);
	assert_string_equal(r.auth_used, "");

	/* With credentials but without TLS: refused before any AUTH. */
	fake_params(&p, &srv, NET_TLS_NONE);
	run_session(&r, &p, NULL, RUN_NOOP);
	st_server_stop(&srv);
	expect_fail(&r, MS_ETLS, "");
	expect_no_secret(&srv);
}

/* ---- against the SMTP sink ---------------------------------------------- */

static bool
sink_skip(void)
{
	if (sink_rc == 77) {
		print_message("smtp sink unavailable: skipped\n");
		return true;
	}
	assert_int_equal(sink_rc, 0);
	return false;
}

static void
sink_params(struct smtp_session_params *p, const struct st_fixture *fx,
    enum net_tls_mode tls)
{
	memset(p, 0, sizeof(*p));
	p->host = "localhost";
	p->port = (uint16_t)strtoul(st_fixture_get(fx, "port"), NULL, 10);
	p->tls = tls;
	p->user = SINK_USER;
	p->password = SINK_PASS;
}

static void
test_sink_starttls_mechs(void **state)
{
	static const enum sasl_mech mechs[] = { SASL_MECH_AUTO,
	    SASL_MECH_PLAIN, SASL_MECH_LOGIN };

	if (sink_skip())
		skip();
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		struct smtp_session_params p;
		struct run r;

		sink_params(&p, &sink_starttls, NET_TLS_STARTTLS);
		p.auth = mechs[i];
		run_session(&r, &p, st_fixture_get(&sink_starttls, "ca"),
		    RUN_NOOP);
		expect_ok(&r, true);
		assert_string_equal(r.auth_used, mechs[i] == SASL_MECH_AUTO ?
		    "PLAIN" : sasl_mech_name(mechs[i]));
	}
}

static void
test_sink_implicit(void **state)
{
	struct smtp_session_params p;
	struct run r;

	if (sink_skip())
		skip();
	sink_params(&p, &sink_implicit, NET_TLS_IMPLICIT);
	p.auth = SASL_MECH_LOGIN;
	run_session(&r, &p, st_fixture_get(&sink_implicit, "ca"), RUN_NOOP);
	expect_ok(&r, true);
	assert_string_equal(r.auth_used, "LOGIN");
}

static void
test_sink_wrong_password(void **state)
{
	static const enum sasl_mech mechs[] = { SASL_MECH_PLAIN,
	    SASL_MECH_LOGIN };

	if (sink_skip())
		skip();
	for (size_t i = 0; i < 2; i++) {
		struct smtp_session_params p;
		struct run r;

		sink_params(&p, &sink_starttls, NET_TLS_STARTTLS);
		p.password = "wrong";
		p.auth = mechs[i];
		run_session(&r, &p, st_fixture_get(&sink_starttls, "ca"),
		    RUN_NOOP);
		/* The server's own words reach the error. */
		expect_fail(&r, MS_EAUTH, "535 Authentication credentials "
		    "invalid");
	}
}

static void
test_sink_send_message(void **state)
{
	static const char want[] = "Subject: dots\r\n\r\n.hidden dot\r\n"
	    "..two\r\nbare\r\ncr\r\nlast line\r\n";
	struct smtp_session_params p;
	char path[600], got[256];
	struct run r;
	size_t n = 0;
	FILE *f = NULL;

	if (sink_skip())
		skip();
	sink_params(&p, &sink_starttls, NET_TLS_STARTTLS);
	run_session(&r, &p, st_fixture_get(&sink_starttls, "ca"), RUN_SEND);
	expect_ok(&r, true);
	/* MAIL, RCPT, DATA 354, then the reply to the final dot. */
	assert_int_equal(r.replies, 4);
	assert_int_equal(r.codes[0], 250);
	assert_int_equal(r.codes[1], 250);
	assert_int_equal(r.codes[2], 354);
	assert_int_equal(r.codes[3], 250);
	/* The sink stores the message once it answered: no wait needed. */
	snprintf(path, sizeof(path), "%s/001.eml",
	    st_fixture_get(&sink_starttls, "dir"));
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[n] = '\0';
	assert_string_equal(got, want);
}

static int
group_setup(void **state)
{
	char script[2048];

	signal(SIGPIPE, SIG_IGN);
	if (getenv("MS_TEST_TRACE") != NULL) {
		log_set_level(LOG_LEVEL_DEBUG);
		log_set_trace(TRACE_ALL);
	}
	if (st_pki_make() != 0)
		return -1;
	/* The mode goes in as $2: "set --" keeps $1, the tests dir. */
	snprintf(script, sizeof(script), "set -- \"$1\" starttls\n%s",
	    SINK_SCRIPT);
	sink_rc = st_fixture_start(&sink_starttls, script);
	if (sink_rc == 0) {
		snprintf(script, sizeof(script),
		    "set -- \"$1\" implicit\n%s", SINK_SCRIPT);
		sink_rc = st_fixture_start(&sink_implicit, script);
	}
	return sink_rc < 0 ? -1 : 0;
}

static int
group_teardown(void **state)
{
	int rc = st_fixture_stop(&sink_starttls);

	if (st_fixture_stop(&sink_implicit) != 0)
		rc = -1;
	st_servers_kill_all();
	st_pki_remove();
	return rc;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fake_starttls_ok),
		cmocka_unit_test(test_fake_implicit_ok),
		cmocka_unit_test(test_fake_starttls_not_advertised),
		cmocka_unit_test(test_fake_starttls_refused),
		cmocka_unit_test(test_fake_injection),
		cmocka_unit_test(test_fake_stall),
		cmocka_unit_test(test_fake_close_mid_handshake),
		cmocka_unit_test(test_fake_slow),
		cmocka_unit_test(test_fake_no_auth_plaintext),
		cmocka_unit_test(test_sink_starttls_mechs),
		cmocka_unit_test(test_sink_implicit),
		cmocka_unit_test(test_sink_wrong_password),
		cmocka_unit_test(test_sink_send_message),
	};

	if (getenv("MS_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("MS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
