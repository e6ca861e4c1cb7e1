/*
 * test_imap_session_fake.c - the IMAP session against hostile and broken
 * servers (tests/data/session/fake_imap.py on a loopback port): STARTTLS
 * missing or refused, response injection after the STARTTLS reply, a
 * stalling server, a close in the middle of the TLS handshake, a server
 * that sends one byte per TLS record, LOGINDISABLED without TLS.  Every
 * fake server records what it received before TLS, and every test checks
 * that neither the password nor its SASL PLAIN encoding is there.
 */
#include "test_imap_session_util.h"

#include "imap/imap_cmd.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* The POP3/SMTP session tests' helpers: only st_spawn_port is used. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "session_test_util.h"
#pragma GCC diagnostic pop

#define USER "alice"
#define PASS "s3cret-pw"
/* base64("\0alice\0s3cret-pw"), what AUTHENTICATE PLAIN would carry. */
#define PASS_PLAIN_B64 "AGFsaWNlAHMzY3JldC1wdw=="

static char tmp[256];		/* certificates and reports */
static char script[512];
static char ca[300];

struct server {
	pid_t pid;
	int port;
	char report[300];
};

/* Starts fake_imap.py MODE and waits (bounded) for its "PORT n" line. */
static void
server_start(struct server *s, const char *mode)
{
	static unsigned seq;
	char certp[300], keyp[300], line[64];
	const char *argv[16];
	int argc = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->report, sizeof(s->report), "%s/report-%s-%u", tmp, mode,
	    seq++);
	snprintf(certp, sizeof(certp), "%s/good.pem", tmp);
	snprintf(keyp, sizeof(keyp), "%s/good.key", tmp);
	argv[argc++] = "/usr/bin/python3";
	argv[argc++] = script;
	argv[argc++] = mode;
	argv[argc++] = "--cert";
	argv[argc++] = certp;
	argv[argc++] = "--key";
	argv[argc++] = keyp;
	argv[argc++] = "--report";
	argv[argc++] = s->report;
	argv[argc++] = "--user";
	argv[argc++] = USER;
	argv[argc++] = "--password";
	argv[argc++] = PASS;
	argv[argc] = NULL;
	s->pid = st_spawn_port(argv, &s->port, line, sizeof(line));
	if (s->pid < 0)
		fail_msg("fake server %s did not start: '%s'", mode, line);
}

/*
 * Stops the server and checks that no credential reached it in
 * plaintext (unless is_plain_ok: tls = none, loopback); returns how many
 * plaintext bytes it received.
 */
static size_t
server_stop_check(struct server *s, bool is_plain_ok)
{
	char buf[65536];
	size_t n = 0;
	FILE *f;

	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
	if ((f = fopen(s->report, "rb")) != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	if (is_plain_ok)
		return n;
	if (memmem(buf, n, PASS, strlen(PASS)) != NULL ||
	    memmem(buf, n, PASS_PLAIN_B64, strlen(PASS_PLAIN_B64)) != NULL ||
	    memmem(buf, n, "AUTHENTICATE", 12) != NULL ||
	    memmem(buf, n, "LOGIN", 5) != NULL)
		fail_msg("credential or login in plaintext: '%s'", buf);
	return n;
}

/* What a case changes from the defaults (PLAIN-capable password login). */
struct fake_case {
	const char *mode;
	enum net_tls_mode tls;
	const char *password;		/* NULL: the right one */
	enum sasl_mech auth;
	unsigned timeout_ms;		/* 0: 5 s */
	/* tls = none to loopback: the credentials may go in the clear */
	bool is_plain_ok;
};

/*
 * Runs one session against a fresh fake server and checks that no
 * credential reached it in plaintext; returns the plaintext byte count.
 */
static size_t
fake_run_hooked(const struct fake_case *fc, struct srun *r,
    srun_hook *on_ready, void *user)
{
	struct imap_session_params p;
	struct server srv;

	server_start(&srv, fc->mode);
	srun_params(r, &p);
	r->on_ready = on_ready;
	r->user = user;
	p.port = (uint16_t)srv.port;
	p.tls = fc->tls;
	p.tls_ctx = fc->tls == NET_TLS_NONE ? NULL : srun_tls_ctx(ca, NULL);
	p.user = USER;
	p.password = fc->password != NULL ? fc->password : PASS;
	p.auth = fc->auth;
	if (fc->timeout_ms != 0)
		p.timeout_ms = fc->timeout_ms;
	srun_go(r, &p);
	if (p.tls_ctx != NULL)
		net_tls_ctx_unref(&p.tls_ctx);
	return server_stop_check(&srv, fc->is_plain_ok);
}

static size_t
fake_run(const struct fake_case *fc, struct srun *r)
{
	return fake_run_hooked(fc, r, NULL, NULL);
}

/* A case that must end before login with code and a message with text. */
static size_t
fake_refused(const struct fake_case *fc, int code, const char *text)
{
	struct srun r;
	size_t n = fake_run(fc, &r);

	assert_false(r.ready);
	if (r.close_rc != code)
		fail_msg("%s: expected %s, got %s: %s", fc->mode,
		    ms_strerror(code), ms_strerror(r.close_rc), r.close_msg);
	if (text != NULL)
		srun_assert_contains(r.close_msg, text);
	return n;
}

static void
test_starttls_not_advertised(void **state)
{
	const struct fake_case fc = { .mode = "nostarttls",
	    .tls = NET_TLS_STARTTLS };

	(void)state;
	/* It did talk (CAPABILITY), and sent nothing secret. */
	assert_true(fake_refused(&fc, MS_ETLS,
	    "does not offer STARTTLS") > 0);
}

static void
test_starttls_refused(void **state)
{
	const struct fake_case fc = { .mode = "starttls-no",
	    .tls = NET_TLS_STARTTLS };

	(void)state;
	(void)fake_refused(&fc, MS_ETLS, "broken today");
}

/*
 * "A2 OK LOGIN done\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" arrives in
 * the same packet as the STARTTLS OK: 53 bytes that must be dropped
 * unparsed (they would fake a login and plaintext capabilities).  The
 * session refuses to go on and says how many bytes it dropped.
 */
static void
test_starttls_injection(void **state)
{
	const struct fake_case fc = { .mode = "inject",
	    .tls = NET_TLS_STARTTLS };

	(void)state;
	(void)fake_refused(&fc, MS_ETLS,
	    "sent 53 plaintext bytes after its STARTTLS reply");
}

static void
stall_case(enum net_tls_mode tls)
{
	const struct fake_case fc = { .mode = "stall", .tls = tls,
	    .timeout_ms = 400 };
	uint64_t t0 = uv_hrtime();

	(void)fake_refused(&fc, MS_ETIMEDOUT, NULL);
	/* The timeout, not the 30 s guard, ended it. */
	assert_true((uv_hrtime() - t0) / 1000000 < 5000);
}

static void
test_stall_greeting(void **state)
{
	(void)state;
	stall_case(NET_TLS_NONE);
}

static void
test_stall_handshake(void **state)
{
	(void)state;
	stall_case(NET_TLS_IMPLICIT);
}

static void
test_close_mid_handshake(void **state)
{
	const struct fake_case fc = { .mode = "midhs",
	    .tls = NET_TLS_STARTTLS };

	(void)state;
	(void)fake_refused(&fc, MS_ETLS, "TLS handshake");
}

/* One byte per TLS record, a millisecond apart: the login still works. */
static void
test_slow_server(void **state)
{
	const struct fake_case fc = { .mode = "slow",
	    .tls = NET_TLS_IMPLICIT };
	struct srun r;

	(void)state;
	assert_int_equal(fake_run(&fc, &r), 0);
	if (!r.ready)
		fail_msg("not ready: %s", r.close_msg);
	assert_int_equal(r.close_rc, MS_OK);
	assert_int_equal(r.mech, SASL_MECH_PLAIN);
	/* From the OK's CAPABILITY code, after login. */
	assert_true(r.caps & IMAP_SESSION_CAP_IDLE);
}

static void
test_slow_server_wrong_password(void **state)
{
	const struct fake_case fc = { .mode = "slow", .tls = NET_TLS_IMPLICIT,
	    .password = "not-the-password" };

	(void)state;
	assert_int_equal(fake_refused(&fc, MS_EAUTH, "bad credentials"), 0);
}

/* LOGINDISABLED, only PLAIN, no TLS (loopback): nothing may be sent. */
static void
test_logindisabled_no_tls(void **state)
{
	/* tls = none (loopback only): the user chose plaintext, so PLAIN
	 * goes out; this server refuses it, and LOGIN is disabled. */
	const struct fake_case fc = { .mode = "logindisabled",
	    .tls = NET_TLS_NONE, .is_plain_ok = true };

	(void)state;
	(void)fake_refused(&fc, MS_EAUTH, "not available here");
}

/* Configured PLAIN with tls = none goes out just the same. */
static void
test_plain_configured_no_tls(void **state)
{
	const struct fake_case fc = { .mode = "nostarttls", .tls = NET_TLS_NONE,
	    .auth = SASL_MECH_PLAIN, .is_plain_ok = true };

	(void)state;
	(void)fake_refused(&fc, MS_EAUTH, "not available here");
}

/* No SASL at all: the LOGIN command, over TLS only. */
static void
test_login_command_tls(void **state)
{
	const struct fake_case fc = { .mode = "loginonly",
	    .tls = NET_TLS_IMPLICIT };
	struct srun r;

	(void)state;
	assert_int_equal(fake_run(&fc, &r), 0);
	if (!r.ready)
		fail_msg("not ready: %s", r.close_msg);
	assert_int_equal(r.mech, SASL_MECH_AUTO);	/* LOGIN */
}

static void
test_login_command_no_tls(void **state)
{
	const struct fake_case fc = { .mode = "loginonly-plain",
	    .tls = NET_TLS_NONE, .is_plain_ok = true };
	struct srun r;

	(void)state;
	/* It logged in over plaintext, as tls = none asks. */
	assert_true(fake_run(&fc, &r) > 0);
	if (!r.ready)
		fail_msg("not ready: %s", r.close_msg);
	assert_int_equal(r.mech, SASL_MECH_AUTO);	/* LOGIN */
}

/* AUTH=PLAIN without SASL-IR: the response goes after the "+". */
static void
test_no_sasl_ir(void **state)
{
	const struct fake_case fc = { .mode = "nosaslir",
	    .tls = NET_TLS_IMPLICIT };
	struct srun r;

	(void)state;
	assert_int_equal(fake_run(&fc, &r), 0);
	if (!r.ready)
		fail_msg("not ready: %s", r.close_msg);
	assert_int_equal(r.mech, SASL_MECH_PLAIN);
}

static void
test_greeting_bye(void **state)
{
	const struct fake_case fc = { .mode = "bye", .tls = NET_TLS_NONE };

	(void)state;
	(void)fake_refused(&fc, MS_ECONN, "too many connections");
}

/* PREAUTH on a connection that must do STARTTLS first: refused. */
static void
test_preauth_starttls(void **state)
{
	const struct fake_case fc = { .mode = "preauth",
	    .tls = NET_TLS_STARTTLS };

	(void)state;
	(void)fake_refused(&fc, MS_ETLS, "PREAUTH");
}

/* LOGOUT unanswered: close(MS_OK) still ends, within the bounded wait. */
static void
nologout_ready(struct srun *r)
{
	imap_session_close(r->s, MS_OK);
}

static void
test_logout_unanswered(void **state)
{
	const struct fake_case fc = { .mode = "nologout",
	    .tls = NET_TLS_IMPLICIT, .timeout_ms = 800 };
	struct srun r;
	uint64_t t0 = uv_hrtime(), ms;

	(void)state;
	assert_int_equal(fake_run_hooked(&fc, &r, nologout_ready, NULL), 0);
	ms = (uv_hrtime() - t0) / 1000000;
	assert_true(r.ready);
	assert_int_equal(r.close_rc, MS_OK);
	assert_true(ms >= 700 && ms < 5000);
}

/* A BYE in the middle: the command in flight and the session end. */
struct bye_state {
	int done_rc;
	bool done_st_null, done_fired;
};

static void
bye_done_cb(struct imap_session *s, int rc, const struct imap_ev_status *st,
    void *arg)
{
	struct bye_state *b = arg;

	(void)s;
	assert_false(b->done_fired);
	b->done_fired = true;
	b->done_rc = rc;
	b->done_st_null = st == NULL;
}

static void
bye_ready(struct srun *r)
{
	const struct imap_session_cmd_cbs cbs = { NULL, bye_done_cb, r->user };
	int tag = imap_cmd_noop(imap_session_core(r->s));

	assert_true(tag > 0);
	assert_int_equal(imap_session_submit(r->s, tag, &cbs), MS_OK);
}

static void
test_bye_mid_session(void **state)
{
	const struct fake_case fc = { .mode = "byelater",
	    .tls = NET_TLS_IMPLICIT };
	struct bye_state b = { 0 };
	struct srun r;

	(void)state;
	assert_int_equal(fake_run_hooked(&fc, &r, bye_ready, &b), 0);
	assert_true(r.ready);
	assert_int_equal(r.close_rc, MS_ECONN);
	srun_assert_contains(r.close_msg, "BYE server shutting down");
	assert_true(b.done_fired);
	assert_int_equal(b.done_rc, MS_ECONN);
	assert_true(b.done_st_null);
}

static int
group_setup(void **state)
{
	const char *data = getenv("MS_TEST_DATA");
	char cmd[1024];

	(void)state;
	if (data == NULL)
		data = "tests/data";
	snprintf(script, sizeof(script), "%s/session/fake_imap.py", data);
	snprintf(tmp, sizeof(tmp), "/tmp/ms-test-isess-XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	snprintf(ca, sizeof(ca), "%s/ca.pem", tmp);
	snprintf(cmd, sizeof(cmd), "sh %s/session/mkcert.sh %s", data, tmp);
	signal(SIGPIPE, SIG_IGN);
	return system(cmd) == 0 ? 0 : -1;
}

static int
group_teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starttls_not_advertised),
		cmocka_unit_test(test_starttls_refused),
		cmocka_unit_test(test_starttls_injection),
		cmocka_unit_test(test_stall_greeting),
		cmocka_unit_test(test_stall_handshake),
		cmocka_unit_test(test_close_mid_handshake),
		cmocka_unit_test(test_slow_server),
		cmocka_unit_test(test_slow_server_wrong_password),
		cmocka_unit_test(test_logindisabled_no_tls),
		cmocka_unit_test(test_plain_configured_no_tls),
		cmocka_unit_test(test_login_command_tls),
		cmocka_unit_test(test_login_command_no_tls),
		cmocka_unit_test(test_no_sasl_ir),
		cmocka_unit_test(test_greeting_bye),
		cmocka_unit_test(test_preauth_starttls),
		cmocka_unit_test(test_logout_unanswered),
		cmocka_unit_test(test_bye_mid_session),
	};

	if (getenv("MS_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("MS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
