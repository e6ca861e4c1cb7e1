/*
 * test_pop3_session.c - daemon/session/pop3_session.c on a real uv loop:
 * against the fixture Dovecot (STLS and implicit TLS with the generated
 * CA, each SASL mechanism it offers over POP3 AUTH, a wrong password) and
 * against a scripted fake server (tests/data/session-fake/) for the
 * attacks and faults: STLS not advertised, STLS refused, bytes injected
 * after the +OK, a stall, a close mid-handshake, one byte at a time,
 * USER/PASS as the last resort only over TLS.  The fake server records
 * every byte it received before TLS; no test may find the password or
 * its base64 forms there.  Every run ends with uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"
#include "net/tls.h"
#include "session/pop3_session.h"
#include "session_test_util.h"

#define FAKE_USER "alice"
#define FAKE_PASS "s3cret pw"

#define DOVECOT_SCRIPT \
	"set -u\n" \
	". \"$1/integration/lib/dovecot.sh\" || exit 1\n" \
	"dovecot_start; rc=$?\n" \
	"[ \"$rc\" = 0 ] || exit \"$rc\"\n" \
	"printf 'pop3=%s\\npop3s=%s\\nuser1=%s\\npass1=%s\\ntoken1=%s\\n" \
	"ca=%s\\nREADY\\n' \"$MS_POP3_PORT\" \"$MS_POP3S_PORT\" " \
	"\"$MS_USER1\" \"$MS_PASS1\" \"${MS_OAUTH_TOKEN1:-}\" " \
	"\"$MS_TLS_CA\"\n" \
	"read -r _ || true\n" \
	"dovecot_stop\n"

static struct st_fixture dovecot;
static int dovecot_rc;

struct run {
	struct st_loop l;
	int readies, closes, reason;
	struct ms_err err;
	char auth_used[24];
	bool was_tls;
	size_t discarded;
	int stat_done;
	bool stat_ok;
	char stat_text[64];
};

static void
run_stat_done_cb(struct pop3_session *s, int rc, const struct pop3_event *st,
    void *arg)
{
	struct run *r = arg;

	r->stat_done++;
	if (rc == MS_OK && st != NULL) {
		r->stat_ok = st->is_ok;
		snprintf(r->stat_text, sizeof(r->stat_text), "%.*s",
		    (int)st->text.len, (const char *)st->text.p);
	}
	pop3_session_close(s, MS_OK);
}

static void
run_ready_cb(struct pop3_session *s, void *arg)
{
	struct run *r = arg;
	struct pop3_session_cmd_cbs cbs = { .on_done_cb = run_stat_done_cb,
	    .arg = r };

	r->readies++;
	snprintf(r->auth_used, sizeof(r->auth_used), "%s",
	    pop3_session_auth_used(s));
	r->was_tls = net_conn_is_tls(pop3_session_conn(s));
	r->discarded = net_conn_discarded_bytes(pop3_session_conn(s));
	/* A command through the public API proves the session is usable. */
	assert_int_equal(pop3_cmd_stat(pop3_session_core(s)), MS_OK);
	assert_int_equal(pop3_session_submit(s, &cbs), MS_OK);
	/* A second submit without a command is refused. */
	assert_int_equal(pop3_session_submit(s, &cbs), MS_EINVAL);
}

static void
run_close_cb(struct pop3_session *s, int reason, const struct ms_err *err,
    void *arg)
{
	struct run *r = arg;

	r->closes++;
	r->reason = reason;
	r->err = *err;
}

/* Runs one session to its end. */
static void
run_session(struct run *r, struct pop3_session_params *p, const char *ca)
{
	struct net_tls_ctx_params tp = { .ca_file = ca };
	struct net_tls_ctx *ctx = NULL;
	struct pop3_session *s;
	struct ms_err err;

	memset(r, 0, sizeof(*r));
	st_loop_init(&r->l);
	if (p->tls != NET_TLS_NONE) {
		assert_int_equal(net_tls_ctx_new(&tp, &ctx, &err), MS_OK);
		p->tls_ctx = ctx;
	}
	p->account = "test";
	p->on_ready_cb = run_ready_cb;
	p->on_close_cb = run_close_cb;
	p->arg = r;
	if (p->timeout_ms == 0)
		p->timeout_ms = 10000;
	assert_int_equal(pop3_session_new(&r->l.loop, p, &s, &err), MS_OK);
	if (ctx != NULL)
		net_tls_ctx_unref(&ctx);	/* the session holds its own */
	/* Never from inside new(). */
	assert_int_equal(r->closes, 0);
	st_loop_run_and_close(&r->l);
	assert_int_equal(r->closes, 1);
	assert_true(r->readies <= 1);
}

static void
expect_ok(const struct run *r)
{
	if (r->reason != MS_OK)
		fail_msg("session failed: %s: %s", ms_strerror(r->reason),
		    r->err.msg);
	assert_int_equal(r->readies, 1);
	assert_int_equal(r->stat_done, 1);
	assert_true(r->stat_ok);
	assert_true(r->was_tls);
}

static void
expect_fail(const struct run *r, int code, const char *text)
{
	if (r->reason != code || strstr(r->err.msg, text) == NULL)
		fail_msg("expected %s '%s', got %s: %s", ms_strerror(code),
		    text, ms_strerror(r->reason), r->err.msg);
	assert_int_equal(r->readies, 0);
	assert_int_equal(r->stat_done, 0);
}

/* The password and its base64 forms (PLAIN, LOGIN) never went plain. */
static void
expect_no_secret(const struct st_server *srv)
{
	st_expect_no_secret(srv, FAKE_USER, FAKE_PASS);
	assert_false(st_file_contains(srv->record, "USER"));
	assert_false(st_file_contains(srv->record, "PASS"));
}

static void
fake_params(struct pop3_session_params *p, const struct st_server *srv,
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

static void
test_fake_starttls_ok(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;

	st_server_start(&srv, "pop3", "good");
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	run_session(&r, &p, fake_ca());
	st_server_stop(&srv);
	expect_ok(&r);
	assert_string_equal(r.auth_used, "PLAIN");
	assert_string_equal(r.stat_text, "2 320");
	assert_int_equal(r.discarded, 0);
	assert_true(st_file_contains(srv.record, "STLS"));
	expect_no_secret(&srv);
}

static void
test_fake_implicit_ok(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;

	st_server_start(&srv, "pop3", "implicit");
	fake_params(&p, &srv, NET_TLS_IMPLICIT);
	run_session(&r, &p, fake_ca());
	st_server_stop(&srv);
	expect_ok(&r);
	assert_int_equal(st_file_size(srv.record), 0);
}

static void
test_fake_stls_not_advertised(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;

	st_server_start(&srv, "pop3", "no-tls");
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	run_session(&r, &p, fake_ca());
	st_server_stop(&srv);
	expect_fail(&r, MS_ETLS, "does not offer STLS");
	expect_no_secret(&srv);
	assert_false(st_file_contains(srv.record, "STLS"));
}

static void
test_fake_stls_refused(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;

	st_server_start(&srv, "pop3", "refused");
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	run_session(&r, &p, fake_ca());
	st_server_stop(&srv);
	expect_fail(&r, MS_ETLS, "STLS refused: -ERR not now");
	expect_no_secret(&srv);
}

static void
test_fake_injection(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;

	/* "+OK Begin TLS\r\n+OK logged in\r\n" in one packet. */
	st_server_start(&srv, "pop3", "inject");
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	run_session(&r, &p, fake_ca());
	st_server_stop(&srv);
	expect_ok(&r);
	/* The injected line was dropped by the connection, never parsed:
	 * the login really happened over TLS. */
	assert_int_equal(r.discarded, strlen("+OK logged in\r\n"));
	assert_string_equal(r.auth_used, "PLAIN");
	expect_no_secret(&srv);
}

static void
test_fake_stall(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;
	uint64_t t0;

	st_server_start(&srv, "pop3", "stall");
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	p.timeout_ms = 300;
	t0 = uv_hrtime();
	run_session(&r, &p, fake_ca());
	st_server_stop(&srv);
	expect_fail(&r, MS_ETIMEDOUT, "");
	assert_true(uv_hrtime() - t0 < 5000000000ull);
	expect_no_secret(&srv);
}

static void
test_fake_close_mid_handshake(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;

	st_server_start(&srv, "pop3", "midhs");
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	run_session(&r, &p, fake_ca());
	st_server_stop(&srv);
	/* The handshake failed: TLS or connection error, never ready. */
	assert_true(r.reason == MS_ETLS || r.reason == MS_ECONN);
	assert_int_equal(r.readies, 0);
	expect_no_secret(&srv);
}

static void
test_fake_slow(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;

	st_server_start(&srv, "pop3", "slow");
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	run_session(&r, &p, fake_ca());
	st_server_stop(&srv);
	expect_ok(&r);
	assert_string_equal(r.stat_text, "2 320");
	expect_no_secret(&srv);
}

static void
test_fake_wrong_password(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;

	st_server_start(&srv, "pop3", "good");
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	p.password = "wrong";
	run_session(&r, &p, fake_ca());
	st_server_stop(&srv);
	expect_fail(&r, MS_EAUTH, "Authentication failed.");
	assert_false(st_file_contains(srv.record, "wrong"));
}

static void
test_fake_user_pass_fallback(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;

	/* No SASL offered: USER/PASS over TLS is the last resort. */
	st_server_start(&srv, "pop3", "nosasl");
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	run_session(&r, &p, fake_ca());
	expect_ok(&r);
	assert_string_equal(r.auth_used, "USER");
	expect_no_secret(&srv);

	/* A mechanism that is configured but not offered: no fallback. */
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	p.auth = SASL_MECH_PLAIN;
	run_session(&r, &p, fake_ca());
	expect_fail(&r, MS_EIMPL, "");

	/* Without TLS (loopback tls = none): never USER/PASS. */
	fake_params(&p, &srv, NET_TLS_NONE);
	run_session(&r, &p, NULL);
	st_server_stop(&srv);
	expect_fail(&r, MS_ETLS, "");
	expect_no_secret(&srv);
}

static void
test_fake_password_cmd(void **state)
{
	struct st_server srv;
	struct pop3_session_params p;
	struct run r;

	st_server_start(&srv, "pop3", "good");
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	p.password = NULL;
	p.password_cmd = "echo " FAKE_PASS;
	run_session(&r, &p, fake_ca());
	expect_ok(&r);

	fake_params(&p, &srv, NET_TLS_STARTTLS);
	p.password = NULL;
	p.password_cmd = "false";
	run_session(&r, &p, fake_ca());
	st_server_stop(&srv);
	assert_int_equal(r.reason, MS_EIO);
	assert_int_equal(r.readies, 0);
}

/* Closing with a command in flight cancels it, once, before on_close. */
static void
cancel_done_cb(struct pop3_session *s, int rc, const struct pop3_event *st,
    void *arg)
{
	struct run *r = arg;

	assert_int_equal(rc, MS_ECANCELED);
	assert_null(st);
	assert_int_equal(r->closes, 0);
	r->stat_done++;
}

static void
cancel_ready_cb(struct pop3_session *s, void *arg)
{
	struct pop3_session_cmd_cbs cbs = { .on_done_cb = cancel_done_cb,
	    .arg = arg };

	((struct run *)arg)->readies++;
	assert_int_equal(pop3_cmd_stat(pop3_session_core(s)), MS_OK);
	assert_int_equal(pop3_session_submit(s, &cbs), MS_OK);
	pop3_session_close(s, MS_ECANCELED);
	pop3_session_close(s, MS_OK);	/* idempotent */
}

static void
test_fake_cancel(void **state)
{
	struct pop3_session_params p = { 0 };
	struct net_tls_ctx_params tp = { .ca_file = fake_ca() };
	struct pop3_session *s;
	struct st_server srv;
	struct ms_err err;
	struct run r;

	st_server_start(&srv, "pop3", "good");
	memset(&r, 0, sizeof(r));
	st_loop_init(&r.l);
	fake_params(&p, &srv, NET_TLS_STARTTLS);
	assert_int_equal(net_tls_ctx_new(&tp, &p.tls_ctx, &err), MS_OK);
	p.on_ready_cb = cancel_ready_cb;
	p.on_close_cb = run_close_cb;
	p.arg = &r;
	assert_int_equal(pop3_session_new(&r.l.loop, &p, &s, &err), MS_OK);
	net_tls_ctx_unref(&p.tls_ctx);
	st_loop_run_and_close(&r.l);
	assert_int_equal(r.readies, 1);
	assert_int_equal(r.stat_done, 1);
	assert_int_equal(r.closes, 1);
	assert_int_equal(r.reason, MS_ECANCELED);

	/* Closed while password_cmd still runs: one on_close, no connect. */
	memset(&r, 0, sizeof(r));
	st_loop_init(&r.l);
	fake_params(&p, &srv, NET_TLS_NONE);
	p.password = NULL;
	p.password_cmd = "sleep 10";
	p.on_ready_cb = run_ready_cb;
	p.on_close_cb = run_close_cb;
	p.arg = &r;
	assert_int_equal(pop3_session_new(&r.l.loop, &p, &s, &err), MS_OK);
	pop3_session_close(s, MS_OK);
	st_loop_run_and_close(&r.l);
	st_server_stop(&srv);
	assert_int_equal(r.closes, 1);
	assert_int_equal(r.readies, 0);
}

static void
test_bad_params(void **state)
{
	struct pop3_session_params p = { .host = "localhost", .port = 1,
	    .tls = NET_TLS_NONE, .user = "u", .password = "x",
	    .on_ready_cb = run_ready_cb, .on_close_cb = run_close_cb };
	struct pop3_session *s;
	struct ms_err err;
	uv_loop_t loop;

	assert_int_equal(uv_loop_init(&loop), 0);
	p.password_cmd = "echo x";	/* two sources */
	assert_int_equal(pop3_session_new(&loop, &p, &s, &err), MS_EINVAL);
	p.password_cmd = NULL;
	p.user = NULL;
	assert_int_equal(pop3_session_new(&loop, &p, &s, &err), MS_EINVAL);
	p.user = "u";
	p.tls = NET_TLS_IMPLICIT;	/* no TLS context */
	assert_int_equal(pop3_session_new(&loop, &p, &s, &err), MS_EINVAL);
	p.tls = NET_TLS_NONE;
	p.host = "192.0.2.1";		/* tls none off loopback */
	assert_int_equal(pop3_session_new(&loop, &p, &s, &err), MS_ECONFIG);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- against Dovecot -------------------------------------------------- */

static bool
dovecot_skip(void)
{
	if (dovecot_rc == 77) {
		print_message("dovecot fixture unavailable: skipped\n");
		return true;
	}
	assert_int_equal(dovecot_rc, 0);
	return false;
}

static void
dovecot_params(struct pop3_session_params *p, const char *port_key,
    enum net_tls_mode tls)
{
	memset(p, 0, sizeof(*p));
	p->host = "localhost";
	p->port = (uint16_t)strtoul(st_fixture_get(&dovecot, port_key), NULL,
	    10);
	p->tls = tls;
	p->user = st_fixture_get(&dovecot, "user1");
	p->password = st_fixture_get(&dovecot, "pass1");
}

static void
test_dovecot_starttls_auto(void **state)
{
	struct pop3_session_params p;
	struct run r;

	if (dovecot_skip())
		skip();
	dovecot_params(&p, "pop3", NET_TLS_STARTTLS);
	run_session(&r, &p, st_fixture_get(&dovecot, "ca"));
	expect_ok(&r);
	/* auto picks the strongest both offer. */
	assert_string_equal(r.auth_used, "SCRAM-SHA-256");
}

static void
test_dovecot_implicit(void **state)
{
	struct pop3_session_params p;
	struct run r;

	if (dovecot_skip())
		skip();
	dovecot_params(&p, "pop3s", NET_TLS_IMPLICIT);
	run_session(&r, &p, st_fixture_get(&dovecot, "ca"));
	expect_ok(&r);
}

static void
test_dovecot_each_mech(void **state)
{
	static const enum sasl_mech mechs[] = { SASL_MECH_PLAIN,
	    SASL_MECH_LOGIN, SASL_MECH_CRAM_MD5, SASL_MECH_SCRAM_SHA_256,
	    SASL_MECH_XOAUTH2, SASL_MECH_OAUTHBEARER };
	const char *token = st_fixture_get(&dovecot, "token1");
	char cmd[300];

	if (dovecot_skip())
		skip();
	snprintf(cmd, sizeof(cmd), "echo %s", token);
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		struct pop3_session_params p;
		struct run r;

		dovecot_params(&p, "pop3", NET_TLS_STARTTLS);
		p.auth = mechs[i];
		if (sasl_mech_is_oauth(mechs[i])) {
			if (token[0] == '\0')
				continue;	/* no OAuth in this fixture */
			p.password = NULL;
			p.oauth_token_cmd = cmd;
		}
		run_session(&r, &p, st_fixture_get(&dovecot, "ca"));
		if (r.reason != MS_OK)
			fail_msg("%s: %s", sasl_mech_name(mechs[i]), r.err.msg);
		expect_ok(&r);
		assert_string_equal(r.auth_used, sasl_mech_name(mechs[i]));
	}
}

static void
test_dovecot_wrong_password(void **state)
{
	struct pop3_session_params p;
	struct run r;

	if (dovecot_skip())
		skip();
	dovecot_params(&p, "pop3", NET_TLS_STARTTLS);
	p.password = "not-the-password";
	run_session(&r, &p, st_fixture_get(&dovecot, "ca"));
	expect_fail(&r, MS_EAUTH, "Authentication failed");
	dovecot_params(&p, "pop3", NET_TLS_STARTTLS);
	p.password = "not-the-password";
	p.auth = SASL_MECH_PLAIN;
	run_session(&r, &p, st_fixture_get(&dovecot, "ca"));
	expect_fail(&r, MS_EAUTH, "Authentication failed");
}

static int
group_setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	if (getenv("MS_TEST_TRACE") != NULL) {
		log_set_level(LOG_LEVEL_DEBUG);
		log_set_trace(TRACE_ALL);
	}
	if (st_pki_make() != 0)
		return -1;
	dovecot_rc = st_fixture_start(&dovecot, DOVECOT_SCRIPT);
	return dovecot_rc < 0 ? -1 : 0;
}

static int
group_teardown(void **state)
{
	int rc = st_fixture_stop(&dovecot);

	st_servers_kill_all();
	st_pki_remove();
	return rc;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_fake_starttls_ok),
		cmocka_unit_test(test_fake_implicit_ok),
		cmocka_unit_test(test_fake_stls_not_advertised),
		cmocka_unit_test(test_fake_stls_refused),
		cmocka_unit_test(test_fake_injection),
		cmocka_unit_test(test_fake_stall),
		cmocka_unit_test(test_fake_close_mid_handshake),
		cmocka_unit_test(test_fake_slow),
		cmocka_unit_test(test_fake_wrong_password),
		cmocka_unit_test(test_fake_user_pass_fallback),
		cmocka_unit_test(test_fake_password_cmd),
		cmocka_unit_test(test_fake_cancel),
		cmocka_unit_test(test_dovecot_starttls_auto),
		cmocka_unit_test(test_dovecot_implicit),
		cmocka_unit_test(test_dovecot_each_mech),
		cmocka_unit_test(test_dovecot_wrong_password),
	};

	if (getenv("MS_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("MS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
