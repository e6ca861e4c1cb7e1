/*
 * test_sasl_dovecot.c - every SASL mechanism against a real Dovecot.
 *
 * The test starts a private Dovecot through the integration fixture
 * (tests/integration/lib/dovecot.sh) in a child bash, which prints the
 * ports and credentials and then waits for its stdin to close; closing it
 * makes the child stop the server (dovecot_stop, plus the fixture's EXIT
 * trap), and the test waits for the child.  Without Dovecot the fixture
 * answers 77 and the tests are skipped, unless MS_REQUIRE_SERVERS=1 makes
 * that a failure, as in CI.
 *
 * The protocol driving is a minimal blocking IMAP/POP3 exchange over the
 * plain loopback ports, which Dovecot treats as secure; what is tested is
 * that the bytes proto/sasl produces are what Dovecot accepts, that a wrong
 * secret becomes MS_EAUTH with the server's words, and that the SCRAM
 * server signature of a real server verifies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/sasl_crypto_openssl.h"
#include "sasl/sasl.h"

#define DOVECOT_SCRIPT \
	"set -u\n" \
	". \"$1/integration/lib/dovecot.sh\" || exit 1\n" \
	"dovecot_start; rc=$?\n" \
	"[ \"$rc\" = 0 ] || exit \"$rc\"\n" \
	"printf 'imap=%s\\npop3=%s\\nuser1=%s\\npass1=%s\\nuser2=%s\\n" \
	"pass2=%s\\ntoken1=%s\\nREADY\\n' \"$MS_IMAP_PORT\" \"$MS_POP3_PORT\" " \
	"\"$MS_USER1\" \"$MS_PASS1\" \"$MS_USER2\" \"$MS_PASS2\" " \
	"\"${MS_OAUTH_TOKEN1:-}\"\n" \
	"read -r _ || true\n" \
	"dovecot_stop\n"

struct fixture {
	pid_t pid;
	int to_child;		/* closing it stops the server */
	bool running;
	int imap_port, pop3_port;
	char user1[64], pass1[64], user2[64], pass2[64], token1[128];
};

static struct fixture fx;

/* Copies the value of "key=value\n" lines the fixture child prints. */
static void
fixture_take(const char *line, const char *key, char *dst, size_t size)
{
	size_t n = strlen(key);

	if (strncmp(line, key, n) == 0 && line[n] == '=')
		snprintf(dst, size, "%.*s", (int)strcspn(line + n + 1, "\n"),
		    line + n + 1);
}

static int
fixture_start(void **state)
{
	const char *data = getenv("MS_TEST_DATA");
	char tests_dir[4096], line[512], port[16];
	int in[2], out[2], status;
	FILE *f;

	memset(&fx, 0, sizeof(fx));
	if (data == NULL)
		data = "tests/data";
	snprintf(tests_dir, sizeof(tests_dir), "%s/..", data);
	if (pipe(in) != 0 || pipe(out) != 0)
		return -1;
	fx.pid = fork();
	if (fx.pid < 0)
		return -1;
	if (fx.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/bin/bash", "bash", "-c", DOVECOT_SCRIPT, "fixture",
		    tests_dir, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fx.to_child = in[1];
	f = fdopen(out[0], "r");
	if (f == NULL)
		return -1;
	/* The fixture bounds its own waits (10 s per server). */
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strcmp(line, "READY\n") == 0) {
			fx.running = true;
			break;
		}
		port[0] = '\0';
		fixture_take(line, "imap", port, sizeof(port));
		if (port[0] != '\0')
			fx.imap_port = (int)strtol(port, NULL, 10);
		port[0] = '\0';
		fixture_take(line, "pop3", port, sizeof(port));
		if (port[0] != '\0')
			fx.pop3_port = (int)strtol(port, NULL, 10);
		fixture_take(line, "user1", fx.user1, sizeof(fx.user1));
		fixture_take(line, "pass1", fx.pass1, sizeof(fx.pass1));
		fixture_take(line, "user2", fx.user2, sizeof(fx.user2));
		fixture_take(line, "pass2", fx.pass2, sizeof(fx.pass2));
		fixture_take(line, "token1", fx.token1, sizeof(fx.token1));
	}
	fclose(f);
	if (fx.running)
		return 0;
	close(fx.to_child);
	waitpid(fx.pid, &status, 0);
	fx.pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return 0;	/* skipped: each test says so */
	fprintf(stderr, "dovecot fixture failed (status %d)\n", status);
	return -1;
}

static int
fixture_stop(void **state)
{
	int status = 0;

	if (fx.pid > 0) {
		close(fx.to_child);
		if (waitpid(fx.pid, &status, 0) != fx.pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "dovecot fixture stop failed (%d)\n",
			    status);
			return -1;
		}
	}
	return 0;
}

/* A blocking loopback connection with 10 s timeouts on every call. */
struct line_conn {
	int fd;
	char buf[8192];
	size_t len;
};

static void
conn_open(struct line_conn *c, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 10 };

	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
}

/* Reads one line into line (NUL-terminated, CRLF stripped). */
static void
conn_read_line(struct line_conn *c, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t n;

		if (nl != NULL) {
			size_t l = (size_t)(nl - c->buf);

			assert_true(l < size);
			memcpy(line, c->buf, l);
			line[l] = '\0';
			if (l > 0 && line[l - 1] == '\r')
				line[l - 1] = '\0';
			memmove(c->buf, nl + 1, c->len - l - 1);
			c->len -= l + 1;
			return;
		}
		assert_true(c->len < sizeof(c->buf));
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			fail_msg("server closed or timed out (%zd, %s)", n,
			    strerror(errno));
		c->len += (size_t)n;
	}
}

static void
conn_send(struct line_conn *c, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len > 0) {
		ssize_t n = write(c->fd, b, len);

		assert_true(n > 0);
		b += n;
		len -= (size_t)n;
	}
}

enum proto { PROTO_IMAP, PROTO_POP3 };

struct auth_case {
	enum proto proto;
	enum sasl_mech mech;
	const char *user, *secret;
	bool sasl_ir;
};

/*
 * Runs one AUTHENTICATE (IMAP) or AUTH (POP3) exchange and returns the
 * SASL result: MS_OK after a verified success, else the error in err.
 */
static int
run_auth(const struct auth_case *ac, struct ms_err *err)
{
	bool imap = ac->proto == PROTO_IMAP;
	struct sasl_params params = {
		.user = ms_slice_from_cstr(ac->user),
		.secret = ms_slice_from_cstr(ac->secret),
		.host = MS_SLICE_LIT("127.0.0.1"),
		.port = (uint16_t)(imap ? fx.imap_port : fx.pop3_port),
		.crypto = sasl_crypto_openssl(),
	};
	struct line_conn c;
	struct sasl_client s;
	struct ms_buf out;
	char line[8192];
	int rc, result = MS_EINTERNAL;
	bool cancelled = false;

	conn_open(&c, params.port);
	conn_read_line(&c, line, sizeof(line));
	assert_true(strncmp(line, imap ? "* OK" : "+OK", imap ? 4 : 3) == 0);
	assert_int_equal(sasl_client_init(&s, ac->mech, &params, err), MS_OK);
	ms_buf_init(&out, 16384);
	assert_int_equal(ms_buf_printf(&out, "%sAUTH%s %s", imap ? "a " : "",
	    imap ? "ENTICATE" : "", sasl_mech_name(ac->mech)), MS_OK);
	if (ac->sasl_ir) {
		size_t before = out.len;

		assert_int_equal(ms_buf_append(&out, " ", 1), MS_OK);
		rc = sasl_client_initial_b64(&s, &out, err);
		assert_true(rc == MS_OK || rc == MS_AGAIN);
		if (rc == MS_AGAIN)
			out.len = before;
		else if (out.len == before + 1)
			assert_int_equal(ms_buf_append(&out, "=", 1), MS_OK);
	}
	assert_int_equal(ms_buf_append(&out, "\r\n", 2), MS_OK);
	conn_send(&c, out.p, out.len);
	for (;;) {
		conn_read_line(&c, line, sizeof(line));
		if (line[0] == '+' && (line[1] == ' ' || line[1] == '\0')) {
			const char *chal = line[1] ? line + 2 : line + 1;

			ms_buf_wipe(&out);
			rc = sasl_client_step_b64(&s,
			    ms_slice_from_cstr(chal), &out, err);
			if (rc != MS_OK) {
				/* Cancel, keep the client's error. */
				result = rc;
				cancelled = true;
				conn_send(&c, "*\r\n", 3);
				continue;
			}
			assert_int_equal(ms_buf_append(&out, "\r\n", 2), MS_OK);
			conn_send(&c, out.p, out.len);
		} else if (strncmp(line, imap ? "a OK" : "+OK",
		    imap ? 4 : 3) == 0) {
			assert_false(cancelled);
			result = sasl_client_finish_b64(&s, NULL, err);
			break;
		} else if (strncmp(line, imap ? "a " : "-ERR",
		    imap ? 2 : 4) == 0) {
			if (!cancelled)
				result = sasl_client_report_failure(&s,
				    ms_slice_from_cstr(line), err);
			break;
		}
		/* Untagged IMAP data (capabilities) is not SASL's. */
	}
	conn_send(&c, imap ? "b LOGOUT\r\n" : "QUIT\r\n", imap ? 10 : 6);
	close(c.fd);
	sasl_client_deinit(&s);
	ms_buf_wipe(&out);
	ms_buf_deinit(&out);
	return result;
}

#define NEED_DOVECOT() do { \
	if (!fx.running) \
		skip(); \
} while (0)

static const enum sasl_mech password_mechs[] = {
	SASL_MECH_PLAIN, SASL_MECH_LOGIN, SASL_MECH_CRAM_MD5,
	SASL_MECH_SCRAM_SHA_256,
};

static void
test_dovecot_password_mechs(void **state)
{
	NEED_DOVECOT();
	for (int proto = PROTO_IMAP; proto <= PROTO_POP3; proto++) {
		for (size_t i = 0; i < 4; i++) {
			for (int ir = 0; ir <= 1; ir++) {
				/* bob's password has spaces and a '!'. */
				struct auth_case ok1 = { proto,
				    password_mechs[i], fx.user1, fx.pass1,
				    ir };
				struct auth_case ok2 = { proto,
				    password_mechs[i], fx.user2, fx.pass2,
				    ir };
				struct auth_case bad = { proto,
				    password_mechs[i], fx.user1,
				    "wrong-password", ir };
				struct ms_err err = { 0 };
				int rc;

				rc = run_auth(&ok1, &err);
				if (rc != MS_OK)
					fail_msg("%s %s ir=%d: %s: %s",
					    proto == PROTO_IMAP ? "IMAP" :
					    "POP3",
					    sasl_mech_name(password_mechs[i]),
					    ir, ms_strerror(rc), err.msg);
				assert_int_equal(run_auth(&ok2, &err), MS_OK);
				rc = run_auth(&bad, &err);
				if (rc != MS_EAUTH)
					fail_msg("%s wrong password: %s: %s",
					    sasl_mech_name(password_mechs[i]),
					    ms_strerror(rc), err.msg);
				assert_non_null(strstr(err.msg,
				    sasl_mech_name(password_mechs[i])));
			}
		}
	}
}

static void
test_dovecot_oauth(void **state)
{
	static const enum sasl_mech mechs[] = {
		SASL_MECH_XOAUTH2, SASL_MECH_OAUTHBEARER,
	};

	NEED_DOVECOT();
	if (fx.token1[0] == '\0')
		fail_msg("the fixture started no OAuth2 introspection server");
	for (size_t i = 0; i < 2; i++) {
		for (int proto = PROTO_IMAP; proto <= PROTO_POP3; proto++) {
			struct auth_case ok = { proto, mechs[i], fx.user1,
			    fx.token1, true };
			struct auth_case bad = { proto, mechs[i], fx.user1,
			    "tok1-not-a-valid-token", true };
			struct ms_err err = { 0 };
			int rc;

			rc = run_auth(&ok, &err);
			if (rc != MS_OK)
				fail_msg("%s: %s: %s",
				    sasl_mech_name(mechs[i]),
				    ms_strerror(rc), err.msg);
			/* The server answers a bad token with its JSON
			 * error as a challenge; the error names it. */
			rc = run_auth(&bad, &err);
			if (rc != MS_EAUTH)
				fail_msg("%s bad token: %s: %s",
				    sasl_mech_name(mechs[i]),
				    ms_strerror(rc), err.msg);
			assert_non_null(strstr(err.msg, "server error: {"));
		}
	}
}

/* auto over the real capability list picks SCRAM-SHA-256, which works. */
static void
test_dovecot_select_auto(void **state)
{
	struct line_conn c;
	struct ms_buf mechs;
	struct ms_err err = { 0 };
	enum sasl_mech m;
	char line[8192];
	bool tagged = false;

	NEED_DOVECOT();
	conn_open(&c, fx.imap_port);
	conn_read_line(&c, line, sizeof(line));
	conn_send(&c, "a CAPABILITY\r\n", 14);
	ms_buf_init(&mechs, 4096);
	while (!tagged) {
		conn_read_line(&c, line, sizeof(line));
		if (strncmp(line, "* CAPABILITY ", 13) == 0) {
			for (char *t = line + 13; *t != '\0';) {
				size_t n = strcspn(t, " ");

				if (n > 5 && strncmp(t, "AUTH=", 5) == 0)
					assert_int_equal(ms_buf_printf(&mechs,
					    "%.*s ", (int)n - 5, t + 5),
					    MS_OK);
				t += n + (t[n] == ' ');
			}
		}
		tagged = strncmp(line, "a ", 2) == 0;
	}
	close(c.fd);
	assert_int_equal(sasl_select((struct ms_slice){ mechs.p, mechs.len },
	    SASL_MECH_AUTO, false, false, &m, &err), MS_OK);
	assert_int_equal(m, SASL_MECH_SCRAM_SHA_256);
	/* With a token the same list offers OAUTHBEARER. */
	assert_int_equal(sasl_select((struct ms_slice){ mechs.p, mechs.len },
	    SASL_MECH_AUTO, true, true, &m, &err), MS_OK);
	assert_int_equal(m, SASL_MECH_OAUTHBEARER);
	ms_buf_deinit(&mechs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dovecot_select_auto),
		cmocka_unit_test(test_dovecot_password_mechs),
		cmocka_unit_test(test_dovecot_oauth),
	};

	/* A server that closes mid-write must fail a test, not kill it. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, fixture_start, fixture_stop);
}
