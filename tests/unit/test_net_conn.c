/*
 * test_net_conn.c - daemon/net/conn.c and tls.c against loopback fake
 * servers (tests/data/net/fake_server.py) and a throwaway PKI made by
 * tests/data/net/mkcerts.sh.  Each test runs its own uv_loop under a guard
 * timer, closes every handle and asserts uv_loop_close() == 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <uv.h>

#include "log.h"
#include "net/conn.h"
#include "net/conn_internal.h"
#include "net/tls.h"
#include "net/tls_trust.h"

/* The session tests' helpers: only st_spawn_port is used. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "session_test_util.h"
#pragma GCC diagnostic pop

#define GUARD_MS 15000

static char pki[256];		/* temp dir with the generated certs */
static char script[512];	/* fake_server.py */

/* ---- fake server processes ------------------------------------------- */

struct server {
	pid_t pid;
	int port;
};

/*
 * Servers still running, so a failed assertion (which longjmps out of the
 * test) still gets them killed by test_teardown.
 */
static pid_t live_servers[4];

static void
live_add(pid_t pid)
{
	for (size_t i = 0; i < 4; i++)
		if (live_servers[i] == 0) {
			live_servers[i] = pid;
			return;
		}
}

static void
live_del(pid_t pid)
{
	for (size_t i = 0; i < 4; i++)
		if (live_servers[i] == pid)
			live_servers[i] = 0;
}

static void
path_in_pki(char *out, size_t sz, const char *name)
{
	snprintf(out, sz, "%s/%s", pki, name);
}

/*
 * Starts fake_server.py MODE [--cert pki/C.pem --key pki/C.key] [extra...]
 * and waits (bounded) for its "PORT n" line.
 */
struct server_opts {
	const char *cert;	/* pki/<cert>.pem and .key; NULL = no TLS */
	const char *bind;	/* NULL = 127.0.0.1 */
	const char *report;	/* where the server records plaintext leaks */
	int port;		/* 0 = any free port */
	const char *tls_max;	/* "1.1", "1.2" or NULL */
};

static void
server_start_opts(struct server *s, const char *mode,
		  const struct server_opts *o)
{
	const char *cert = o->cert, *bind = o->bind, *report = o->report;
	int port = o->port;
	char certp[300], keyp[300], line[64], portarg[16];
	const char *argv[20];
	int argc = 0;

	memset(s, 0, sizeof(*s));
	argv[argc++] = "/usr/bin/python3";
	argv[argc++] = script;
	argv[argc++] = mode;
	if (cert != NULL) {
		snprintf(certp, sizeof(certp), "%s/%s.pem", pki, cert);
		snprintf(keyp, sizeof(keyp), "%s/%s.key", pki, cert);
		argv[argc++] = "--cert";
		argv[argc++] = certp;
		argv[argc++] = "--key";
		argv[argc++] = keyp;
	}
	if (bind != NULL) {
		argv[argc++] = "--bind";
		argv[argc++] = bind;
	}
	if (report != NULL) {
		argv[argc++] = "--report";
		argv[argc++] = report;
	}
	if (o->tls_max != NULL) {
		argv[argc++] = "--tls-max";
		argv[argc++] = o->tls_max;
	}
	if (port != 0) {
		snprintf(portarg, sizeof(portarg), "%d", port);
		argv[argc++] = "--port";
		argv[argc++] = portarg;
	}
	argv[argc] = NULL;
	s->pid = st_spawn_port(argv, &s->port, line, sizeof(line));
	if (s->pid < 0)
		fail_msg("fake server %s did not start: '%s'", mode, line);
	live_add(s->pid);
}

static void
server_start(struct server *s, const char *mode, const char *cert,
	     const char *bind, const char *report)
{
	struct server_opts o = { .cert = cert, .bind = bind,
				 .report = report };

	server_start_opts(s, mode, &o);
}

static void
server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		live_del(s->pid);
		s->pid = 0;
	}
}

/* A port nobody listens on: bind, read the port, close. */
static int
closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void
read_fp(const char *name, char *out, size_t sz)
{
	char p[300];
	FILE *f;

	path_in_pki(p, sizeof(p), name);
	f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, (int)sz, f));
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
}

/* ---- a tiny line driver ----------------------------------------------- */

struct drv;
typedef void drv_line_fn(struct drv *d, const char *line, size_t *consumed,
			 size_t linelen);

struct drv {
	uv_loop_t loop;
	uv_timer_t guard;
	uv_timer_t aux;
	bool has_aux;
	struct net_conn *conn;
	struct net_tls_ctx *tls;
	int n_connected, n_tls_ready, n_close, n_data_calls;
	int reason;
	struct ms_err err;
	bool guard_fired;
	char lines[4096];	/* every line seen, '|' separated */
	drv_line_fn *on_line;
	uint64_t t_connected, t_closed;
	const char *send_on_connect;
	const char *expect_then_close;	/* close MS_OK on this line */
	bool was_reused;
	bool was_tls;
	char version[16];
	size_t discarded;
	char peer[64];
	int n_lines;
};

static void
drv_guard_cb(uv_timer_t *t)
{
	struct drv *d = t->data;

	d->guard_fired = true;
	if (d->conn != NULL)
		net_conn_close(d->conn, MS_ECANCELED);
}

static void
drv_send(struct drv *d, const char *s)
{
	assert_int_equal(net_conn_write(d->conn, s, strlen(s)), MS_OK);
}

static void
drv_connected_cb(struct net_conn *conn, void *arg)
{
	struct drv *d = arg;

	d->n_connected++;
	d->t_connected = uv_now(&d->loop);
	d->was_tls = net_conn_is_tls(conn);
	d->was_reused = net_conn_tls_session_reused(conn);
	snprintf(d->version, sizeof(d->version), "%s",
		 net_conn_tls_version(conn));
	if (d->send_on_connect != NULL)
		drv_send(d, d->send_on_connect);
}

static void
drv_tls_ready_cb(struct net_conn *conn, void *arg)
{
	struct drv *d = arg;

	d->n_tls_ready++;
	d->was_tls = net_conn_is_tls(conn);
}

/* Consumes complete lines one at a time, so STARTTLS can stop mid-buffer. */
static size_t
drv_data_cb(struct net_conn *conn, const uint8_t *p, size_t len, void *arg)
{
	struct drv *d = arg;
	const uint8_t *nl;
	char line[512];
	size_t n, consumed;

	d->n_data_calls++;
	nl = memchr(p, '\n', len);
	if (nl == NULL)
		return 0;
	d->n_lines++;
	consumed = (size_t)(nl - p) + 1;
	n = consumed - 1;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, p, n);
	line[n] = '\0';
	if (strlen(d->lines) + n + 2 < sizeof(d->lines)) {
		strncat(d->lines, line, sizeof(d->lines) - strlen(d->lines) - 1);
		strncat(d->lines, "|", sizeof(d->lines) - strlen(d->lines) - 1);
	}
	if (d->on_line != NULL)
		d->on_line(d, line, &consumed, consumed);
	if (d->expect_then_close != NULL &&
	    strcmp(line, d->expect_then_close) == 0)
		net_conn_close(conn, MS_OK);
	return consumed;
}

static void
drv_close_cb(struct net_conn *conn, int reason, const struct ms_err *err,
	     void *arg)
{
	struct drv *d = arg;

	d->n_close++;
	d->reason = reason;
	d->err = *err;
	assert_int_equal(err->code, reason);
	d->t_closed = uv_now(&d->loop);
	d->discarded = net_conn_discarded_bytes(conn);
	snprintf(d->peer, sizeof(d->peer), "%s", net_conn_peer_addr(conn));
	d->conn = NULL;
	if (d->has_aux && !uv_is_closing((uv_handle_t *)&d->aux))
		uv_close((uv_handle_t *)&d->aux, NULL);
	uv_close((uv_handle_t *)&d->guard, NULL);
}

static void
drv_init(struct drv *d)
{
	memset(d, 0, sizeof(*d));
	assert_int_equal(uv_loop_init(&d->loop), 0);
	assert_int_equal(uv_timer_init(&d->loop, &d->guard), 0);
	d->guard.data = d;
	assert_int_equal(uv_timer_start(&d->guard, drv_guard_cb, GUARD_MS, 0),
			 0);
}

static void
drv_params(struct drv *d, struct net_conn_params *p, const char *host,
	   int port, enum net_tls_mode tls)
{
	memset(p, 0, sizeof(*p));
	p->account = "test";
	p->host = host;
	p->port = (uint16_t)port;
	p->tls = tls;
	p->tls_ctx = d->tls;
	p->connect_timeout_ms = 5000;
	p->read_timeout_ms = 5000;
	p->on_connected_cb = drv_connected_cb;
	p->on_tls_ready_cb = drv_tls_ready_cb;
	p->on_data_cb = drv_data_cb;
	p->on_close_cb = drv_close_cb;
	p->arg = d;
}

static void
drv_tls_ctx(struct drv *d, const char *ca, const char *pin)
{
	struct net_tls_ctx_params tp = { 0 };
	struct ms_err err;
	char cap[300];

	if (ca != NULL) {
		path_in_pki(cap, sizeof(cap), ca);
		tp.ca_file = cap;
	}
	tp.fingerprint = pin;
	assert_int_equal(net_tls_ctx_new(&tp, &d->tls, &err), MS_OK);
}

static void
drv_start(struct drv *d, const struct net_conn_params *p)
{
	struct ms_err err = { 0 };
	int r = net_conn_new(&d->loop, p, &d->conn, &err);

	if (r != MS_OK)
		fail_msg("net_conn_new: %s", err.msg);
}

/* Runs the loop to the end and checks that nothing leaked. */
static void
drv_run_and_close(struct drv *d)
{
	assert_int_equal(uv_run(&d->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(d->n_close, 1);
	net_tls_ctx_unref(&d->tls);
	assert_int_equal(uv_loop_close(&d->loop), 0);
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("'%s' does not contain '%s'", hay, needle);
}

/* ---- implicit TLS ----------------------------------------------------- */

/* Connects to a server in mode (fake_server.py) with tls and the given
 * read timeout (0: the default), each line to on_line (NULL: none), and
 * runs it to the end. */
static void
mode_case_lines(struct drv *d, const char *mode, enum net_tls_mode tls,
		unsigned read_timeout_ms, drv_line_fn *on_line)
{
	struct net_conn_params p;
	struct server s;

	server_start(&s, mode, NULL, NULL, NULL);
	drv_init(d);
	d->on_line = on_line;
	if (tls != NET_TLS_NONE)
		drv_tls_ctx(d, "ca.pem", NULL);
	drv_params(d, &p, "localhost", s.port, tls);
	if (read_timeout_ms != 0)
		p.read_timeout_ms = read_timeout_ms;
	drv_start(d, &p);
	drv_run_and_close(d);
	server_stop(&s);
	assert_false(d->guard_fired);
}

static void
mode_case(struct drv *d, const char *mode, enum net_tls_mode tls,
	  unsigned read_timeout_ms)
{
	mode_case_lines(d, mode, tls, read_timeout_ms, NULL);
}

/* Runs d (initialised, with its TLS context) against s: ping, echo, close. */
static void
tls_echo(struct drv *d, struct server *s)
{
	struct net_conn_params p;

	drv_params(d, &p, "localhost", s->port, NET_TLS_IMPLICIT);
	d->send_on_connect = "ping\r\n";
	d->expect_then_close = "ECHO ping";
	drv_start(d, &p);
	drv_run_and_close(d);
	server_stop(s);
}

/*
 * Connects to a TLS server with cert C, trusting ca, pinning the
 * fingerprint in pki/pinfile if not NULL; runs it to the end.
 */
static void
tls_case(struct drv *d, struct server *s, const char *cert, const char *ca,
	 const char *pinfile)
{
	char fp[128], pin[140];

	if (pinfile != NULL) {
		read_fp(pinfile, fp, sizeof(fp));
		snprintf(pin, sizeof(pin), "sha256:%s", fp);
	}
	server_start(s, "tls", cert, NULL, NULL);
	drv_init(d);
	drv_tls_ctx(d, ca, pinfile != NULL ? pin : NULL);
	tls_echo(d, s);
}

static void
test_tls_ok(void **state)
{
	struct server s;
	struct drv d;

	tls_case(&d, &s, "good", "ca.pem", NULL);
	assert_false(d.guard_fired);
	assert_int_equal(d.reason, MS_OK);
	assert_int_equal(d.n_connected, 1);
	assert_true(d.was_tls);
	assert_string_equal(d.lines, "* OK hello|ECHO ping|");
}

static void
assert_refused(const struct drv *d, int port, const char *reason,
	       const char *fpfile)
{
	char hp[64], fp[128];

	assert_false(d->guard_fired);
	assert_int_equal(d->n_connected, 0);
	assert_int_equal(d->reason, MS_ETLS);
	assert_string_equal(d->lines, "");
	snprintf(hp, sizeof(hp), "localhost:%d", port);
	assert_contains(d->err.msg, hp);
	assert_contains(d->err.msg, reason);
	if (fpfile != NULL) {
		read_fp(fpfile, fp, sizeof(fp));
		assert_contains(d->err.msg, fp);
	}
}

static void
test_tls_wrong_ca(void **state)
{
	struct server s;
	struct drv d;

	tls_case(&d, &s, "good", "other-ca.pem", NULL);
	assert_refused(&d, s.port, "unable to get local issuer certificate",
		       "good.fp");
}

/* Copies pki/from over pki/to through a new file (a new inode). */
static void
pki_replace(const char *from, const char *to)
{
	char cmd[1300], a[300], b[300];

	path_in_pki(a, sizeof(a), from);
	path_in_pki(b, sizeof(b), to);
	snprintf(cmd, sizeof(cmd), "cp %s %s.new && mv %s.new %s", a, b, b, b);
	assert_int_equal(system(cmd), 0);
}

/*
 * Contexts trusting the same ca_file share one store, loaded once; a
 * replaced file is loaded again, and a context made before keeps
 * verifying with the store it was made with.
 */
static void
test_tls_trust_shared(void **state)
{
	struct server s;
	struct drv d;
	struct net_tls_ctx *old = NULL;
	struct net_tls_ctx_params tp = { 0 };
	struct ms_err err;
	char cap[300];
	unsigned loads;

	pki_replace("ca.pem", "trust.pem");
	loads = net_tls_trust_loads();
	tls_case(&d, &s, "good", "trust.pem", NULL);
	assert_int_equal(d.reason, MS_OK);
	assert_int_equal(net_tls_trust_loads(), loads + 1);
	path_in_pki(cap, sizeof(cap), "trust.pem");
	tp.ca_file = cap;
	assert_int_equal(net_tls_ctx_new(&tp, &old, &err), MS_OK);
	tls_case(&d, &s, "good", "trust.pem", NULL);
	assert_int_equal(d.reason, MS_OK);
	assert_int_equal(net_tls_trust_loads(), loads + 1);

	/* The file now names another CA: the server is no longer trusted. */
	pki_replace("other-ca.pem", "trust.pem");
	tls_case(&d, &s, "good", "trust.pem", NULL);
	assert_refused(&d, s.port, "unable to get local issuer certificate",
		       "good.fp");
	assert_int_equal(net_tls_trust_loads(), loads + 2);

	/* The context made before the change still trusts the first CA. */
	server_start(&s, "tls", "good", NULL, NULL);
	drv_init(&d);
	d.tls = old;
	tls_echo(&d, &s);
	assert_int_equal(d.reason, MS_OK);
	assert_string_equal(d.lines, "* OK hello|ECHO ping|");
}

/* A ca_file that holds no certificate is refused with its name. */
static void
test_tls_trust_bad_file(void **state)
{
	struct net_tls_ctx_params tp = { 0 };
	struct net_tls_ctx *ctx = NULL;
	struct ms_err err = { 0 };
	char cap[300];

	path_in_pki(cap, sizeof(cap), "good.fp");
	tp.ca_file = cap;
	assert_int_equal(net_tls_ctx_new(&tp, &ctx, &err), MS_ECONFIG);
	assert_null(ctx);
	assert_contains(err.msg, "ca_file ");
	assert_contains(err.msg, "good.fp: cannot load");
}

static void
test_tls_wrong_host(void **state)
{
	struct server s;
	struct drv d;

	tls_case(&d, &s, "wrong", "ca.pem", NULL);
	assert_refused(&d, s.port, "hostname mismatch", NULL);
	/* The names the certificate has, so the user can fix host =. */
	assert_contains(d.err.msg, "it is for wrong.example, not localhost "
			"(set host = one of those names)");
}

/* Implicit TLS to a port that greets in plain text (143 for 993): the
 * error says to use STARTTLS. */
static void
test_tls_to_plain_port(void **state)
{
	struct drv d;

	mode_case(&d, "plain", NET_TLS_IMPLICIT, 0);
	assert_int_equal(d.reason, MS_ETLS);
	assert_contains(d.err.msg, "the server answers without TLS on this "
			"port (for STARTTLS, usually on port 143, 110 or 587, "
			"set tls = starttls)");
}

static void
test_tls_expired(void **state)
{
	struct server s;
	struct drv d;

	tls_case(&d, &s, "expired", "ca.pem", NULL);
	assert_refused(&d, s.port, "certificate has expired", NULL);
}

static void
test_tls_self_signed_unpinned(void **state)
{
	struct server s;
	struct drv d;

	tls_case(&d, &s, "self", "ca.pem", NULL);
	assert_refused(&d, s.port, "self-signed", "self.fp");
}

static void
test_tls_pin_ok(void **state)
{
	struct server s;
	struct drv d;

	tls_case(&d, &s, "self", NULL, "self.fp");
	assert_false(d.guard_fired);
	assert_int_equal(d.reason, MS_OK);
	assert_string_equal(d.lines, "* OK hello|ECHO ping|");
}

static void
test_tls_pin_wrong(void **state)
{
	struct server s;
	struct drv d;

	/* The good cert's pin against the self-signed server. */
	tls_case(&d, &s, "self", NULL, "good.fp");
	assert_refused(&d, s.port, "fingerprint mismatch", "self.fp");
}

static void
test_tls_pin_wrong_valid_chain(void **state)
{
	struct server s;
	struct drv d;

	/* A chain that verifies is still refused when the pin differs. */
	tls_case(&d, &s, "good", "ca.pem", "self.fp");
	assert_refused(&d, s.port, "fingerprint mismatch", "good.fp");
}

static void
resumption_case(const char *tls_max, const char *want_version)
{
	struct server_opts o = { .cert = "good", .tls_max = tls_max };
	struct net_conn_params p;
	struct server s;
	struct drv d;

	server_start_opts(&s, "tls", &o);
	drv_init(&d);
	drv_tls_ctx(&d, "ca.pem", NULL);
	for (int i = 0; i < 2; i++) {
		if (i == 1) {
			/* A fresh guard for the second connection. */
			assert_int_equal(uv_timer_init(&d.loop, &d.guard), 0);
			assert_int_equal(uv_timer_start(&d.guard, drv_guard_cb,
							GUARD_MS, 0), 0);
			d.lines[0] = '\0';
		}
		drv_params(&d, &p, "localhost", s.port, NET_TLS_IMPLICIT);
		d.send_on_connect = "ping\r\n";
		d.expect_then_close = "ECHO ping";
		drv_start(&d, &p);
		assert_int_equal(uv_run(&d.loop, UV_RUN_DEFAULT), 0);
		assert_int_equal(d.reason, MS_OK);
		assert_int_equal(d.n_close, i + 1);
		assert_true(d.was_tls);
		assert_string_equal(d.version, want_version);
		assert_true(net_tls_ctx_session_count(d.tls) >= 1);
		if (i == 0)
			assert_false(d.was_reused);
		else
			assert_true(d.was_reused);
	}
	net_tls_ctx_unref(&d.tls);
	assert_int_equal(uv_loop_close(&d.loop), 0);
	server_stop(&s);
}

static void
test_tls_resumption(void **state)
{
	resumption_case(NULL, "TLSv1.3");	/* tickets after the handshake */
}

static void
test_tls12_resumption(void **state)
{
	resumption_case("1.2", "TLSv1.2");	/* session made in the handshake */
}

static void
test_tls11_refused(void **state)
{
	struct server_opts o = { .cert = "good", .tls_max = "1.1" };
	struct net_conn_params p;
	struct server s;
	struct drv d;

	server_start_opts(&s, "tls", &o);
	drv_init(&d);
	drv_tls_ctx(&d, "ca.pem", NULL);
	drv_params(&d, &p, "localhost", s.port, NET_TLS_IMPLICIT);
	drv_start(&d, &p);
	drv_run_and_close(&d);
	server_stop(&s);
	assert_int_equal(d.n_connected, 0);
	assert_int_equal(d.reason, MS_ETLS);
	assert_contains(d.err.msg, "TLS handshake with localhost:");
	/* The server found no version in common: we offer 1.2 and up. */
	assert_contains(d.err.msg, "protocol version");
}

static void
bye_case(const char *cert, const char *want)
{
	struct net_conn_params p;
	struct server s;
	struct drv d;

	server_start(&s, "bye", cert, NULL, NULL);
	drv_init(&d);
	if (cert != NULL)
		drv_tls_ctx(&d, "ca.pem", NULL);
	drv_params(&d, &p, "localhost", s.port,
		   cert != NULL ? NET_TLS_IMPLICIT : NET_TLS_NONE);
	drv_start(&d, &p);
	drv_run_and_close(&d);
	server_stop(&s);
	assert_int_equal(d.n_connected, 1);
	/* What came before the close was delivered, then the close. */
	assert_string_equal(d.lines, "* BYE going away|");
	assert_int_equal(d.reason, MS_ECONN);
	assert_contains(d.err.msg, want);
}

static void
test_server_closes_plain(void **state)
{
	bye_case(NULL, "(127.0.0.1): connection closed by server");
}

static void
test_server_closes_tls(void **state)
{
	bye_case("good", "connection closed by server");
}

static void
bulk_connected_cb(struct net_conn *conn, void *arg)
{
	struct drv *d = arg;
	static char big[1000];
	static char huge[300000];

	d->n_connected++;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\n';
	/* Far more than one write: the queue grows behind the write in flight. */
	for (int i = 0; i < 200; i++)
		assert_int_equal(net_conn_write(conn, big, sizeof(big)), MS_OK);
	/* Past max_output nothing is queued and the caller is told. */
	assert_int_equal(net_conn_write(conn, huge, sizeof(huge)), MS_ETOOBIG);
	drv_send(d, "end\r\n");
}

static void
test_tls_bulk_writes(void **state)
{
	struct net_conn_params p;
	struct server s;
	struct drv d;

	server_start(&s, "tls", "good", NULL, NULL);
	drv_init(&d);
	drv_tls_ctx(&d, "ca.pem", NULL);
	drv_params(&d, &p, "localhost", s.port, NET_TLS_IMPLICIT);
	p.max_output = 256 << 10;
	p.on_connected_cb = bulk_connected_cb;
	d.expect_then_close = "ECHO end";
	drv_start(&d, &p);
	drv_run_and_close(&d);
	server_stop(&s);
	assert_false(d.guard_fired);
	assert_int_equal(d.reason, MS_OK);
	/* The greeting, 200 echoed lines and the end marker. */
	assert_int_equal(d.n_lines, 202);
}

/* ---- STARTTLS --------------------------------------------------------- */

static void
starttls_line(struct drv *d, const char *line, size_t *consumed, size_t len)
{
	if (strcmp(line, "* OK ready") == 0) {
		drv_send(d, "a STARTTLS\r\n");
	} else if (strcmp(line, "a OK begin TLS") == 0) {
		/* Consume exactly this reply and switch; the rest is dropped. */
		assert_int_equal(net_conn_starttls(d->conn), MS_OK);
	} else if (strcmp(line, "* OK tls") == 0) {
		assert_int_equal(d->n_tls_ready, 1);
		drv_send(d, "secret\r\n");
	}
}

static void
test_starttls_injection(void **state)
{
	struct net_conn_params p;
	char report[300];
	struct server s;
	struct drv d;
	FILE *f;

	path_in_pki(report, sizeof(report), "starttls.report");
	unlink(report);
	server_start(&s, "starttls", "good", NULL, report);
	drv_init(&d);
	drv_tls_ctx(&d, "ca.pem", NULL);
	drv_params(&d, &p, "localhost", s.port, NET_TLS_STARTTLS);
	d.on_line = starttls_line;
	d.expect_then_close = "ECHO secret";
	drv_start(&d, &p);
	assert_int_equal(uv_run(&d.loop, UV_RUN_DEFAULT), 0);
	assert_false(d.guard_fired);
	assert_int_equal(d.reason, MS_OK);
	assert_int_equal(d.n_connected, 1);
	assert_int_equal(d.n_tls_ready, 1);
	assert_true(d.was_tls);
	/* The driver never saw the injected line... */
	assert_string_equal(d.lines,
	    "* OK ready|a OK begin TLS|* OK tls|ECHO secret|");
	/* ...because the connection dropped exactly those bytes. */
	assert_int_equal(d.discarded, strlen("* OK injected\r\n"));
	net_tls_ctx_unref(&d.tls);
	assert_int_equal(uv_loop_close(&d.loop), 0);
	server_stop(&s);
	/* Nothing crossed the wire in plaintext but STARTTLS itself. */
	f = fopen(report, "r");
	assert_null(f);
}

/* ---- faults ----------------------------------------------------------- */

static void
test_close_mid_handshake(void **state)
{
	struct drv d;

	mode_case(&d, "midhs", NET_TLS_IMPLICIT, 0);
	assert_int_equal(d.n_connected, 0);
	assert_int_equal(d.reason, MS_ETLS);
	assert_contains(d.err.msg, "during the TLS handshake");
}

/* A server that accepts and never speaks: the read timeout fires. */
static void
stall_case(enum net_tls_mode tls, const char *expect)
{
	struct net_conn_params p;
	struct server s;
	struct drv d;
	uint64_t t0, dt;

	server_start(&s, "stall", NULL, NULL, NULL);
	drv_init(&d);
	if (tls != NET_TLS_NONE)
		drv_tls_ctx(&d, "ca.pem", NULL);
	drv_params(&d, &p, "localhost", s.port, tls);
	p.read_timeout_ms = 300;
	t0 = uv_now(&d.loop);
	drv_start(&d, &p);
	drv_run_and_close(&d);
	server_stop(&s);
	assert_false(d.guard_fired);
	assert_int_equal(d.reason, MS_ETIMEDOUT);
	assert_contains(d.err.msg, "read timeout after 300 ms");
	assert_contains(d.err.msg, expect);
	dt = d.t_closed - t0;
	/* Within bounds: not before 300 ms, and well before the guard. */
	assert_true(dt >= 290);
	assert_true(dt < 3000);
}

static void
test_stall_plain(void **state)
{
	/* Silence on a plain connection: most likely a TLS port. */
	stall_case(NET_TLS_NONE, "not a byte received (a port that speaks "
		   "TLS at once, such as 993, 995 or 465, needs tls = "
		   "implicit)");
}

static void
test_stall_handshake(void **state)
{
	stall_case(NET_TLS_IMPLICIT, "during the TLS handshake");
}

/* Slow handling of each line, as on a loaded machine: 150 ms per 16 KiB. */
static void
burst_line(struct drv *d, const char *line, size_t *consumed, size_t linelen)
{
	const struct timespec ts = { 0, 150 * 1000 * 1000 };

	(void)consumed;
	(void)linelen;
	if (line[0] == 'x')
		nanosleep(&ts, NULL);
	else if (strcmp(line, "END") == 0)
		net_conn_close(d->conn, MS_OK);
}

/*
 * A server that keeps sending is not silent, however long its data takes
 * to handle: 512 KiB at once, 150 ms per 16 KiB read (NET_CONN_CHUNK),
 * under a 600 ms read timeout.  libuv reads a busy socket up to 32 times
 * in one loop turn (here the socket's buffer, 6 to 11 reads, about 1 to
 * 1.6 s); a timeout armed from the turn's start fired at the next turn
 * before its reads, as the sync's did on a LIST of 40,000 folders.
 */
static void
test_read_timeout_busy(void **state)
{
	struct drv d;

	(void)state;
	mode_case_lines(&d, "burst", NET_TLS_NONE, 600, burst_line);
	if (d.reason != MS_OK)
		fail_msg("closed: %s", d.err.msg);
	assert_int_equal(d.n_lines, 32 + 1);
}

static void
idle_aux_cb(uv_timer_t *t)
{
	struct drv *d = t->data;

	/* Still open while idle; re-arming starts the timeout again. */
	assert_non_null(d->conn);
	assert_int_equal(d->n_close, 0);
	net_conn_set_idle(d->conn, false);
}

static void
idle_connected_cb(struct net_conn *conn, void *arg)
{
	struct drv *d = arg;

	d->n_connected++;
	d->t_connected = uv_now(&d->loop);
	net_conn_set_idle(conn, true);
	assert_int_equal(uv_timer_start(&d->aux, idle_aux_cb, 800, 0), 0);
}

static void
test_idle_disarms_timeout(void **state)
{
	struct net_conn_params p;
	struct server s;
	struct drv d;

	server_start(&s, "stall", NULL, NULL, NULL);
	drv_init(&d);
	assert_int_equal(uv_timer_init(&d.loop, &d.aux), 0);
	d.aux.data = &d;
	d.has_aux = true;
	drv_params(&d, &p, "localhost", s.port, NET_TLS_NONE);
	p.read_timeout_ms = 200;
	p.on_connected_cb = idle_connected_cb;
	drv_start(&d, &p);
	drv_run_and_close(&d);
	server_stop(&s);
	assert_int_equal(d.reason, MS_ETIMEDOUT);
	/* 800 ms idle without a timeout, then 200 ms after re-arming. */
	assert_true(d.t_closed - d.t_connected >= 990);
	assert_true(d.t_closed - d.t_connected < 3000);
}

static void
test_slow_server(void **state)
{
	struct net_conn_params p;
	struct server s;
	struct drv d;

	server_start(&s, "slow", "good", NULL, NULL);
	drv_init(&d);
	drv_tls_ctx(&d, "ca.pem", NULL);
	drv_params(&d, &p, "localhost", s.port, NET_TLS_IMPLICIT);
	p.read_timeout_ms = 2000;
	d.expect_then_close = "* OK slow greeting";
	drv_start(&d, &p);
	drv_run_and_close(&d);
	server_stop(&s);
	assert_false(d.guard_fired);
	assert_int_equal(d.reason, MS_OK);
	assert_string_equal(d.lines, "* OK slow greeting|");
	/* The line came in pieces, and was reassembled. */
	assert_true(d.n_data_calls > 5);
}

static void
test_connect_refused(void **state)
{
	struct net_conn_params p;
	char want[64];
	struct drv d;
	int port = closed_port();

	drv_init(&d);
	drv_params(&d, &p, "127.0.0.1", port, NET_TLS_NONE);
	drv_start(&d, &p);
	drv_run_and_close(&d);
	assert_int_equal(d.reason, MS_ECONN);
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%d (127.0.0.1): "
		 "connection refused", port);
	assert_string_equal(d.err.msg, want);
}

static void
test_resolve_failure(void **state)
{
	struct net_conn_params p;
	struct drv d;

	drv_init(&d);
	drv_params(&d, &p, "no-such-host.invalid", 993, NET_TLS_NONE);
	drv_start(&d, &p);
	drv_run_and_close(&d);
	assert_int_equal(d.reason, MS_ECONN);
	assert_contains(d.err.msg, "resolve no-such-host.invalid");
}

static struct addrinfo *
addrs_of(const char *a, const char *b, int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ra = NULL, *rb = NULL;
	char ps[16];

	snprintf(ps, sizeof(ps), "%d", port);
	assert_int_equal(getaddrinfo(a, ps, &hints, &ra), 0);
	assert_int_equal(getaddrinfo(b, ps, &hints, &rb), 0);
	/* glibc frees a list node by node, so two lists chain into one. */
	ra->ai_next = rb;
	return ra;
}

static void
multi_addr_case(const char *listen, const char *first, const char *second,
		const char *want_peer)
{
	struct net_conn_params p;
	struct ms_err err;
	struct server s;
	struct drv d;

	server_start(&s, "plain", NULL, listen, NULL);
	drv_init(&d);
	drv_params(&d, &p, "localhost", s.port, NET_TLS_NONE);
	d.send_on_connect = "hi\r\n";
	d.expect_then_close = "ECHO hi";
	assert_int_equal(net__conn_new_with_addrs(&d.loop, &p,
		addrs_of(first, second, s.port), &d.conn, &err), MS_OK);
	drv_run_and_close(&d);
	server_stop(&s);
	assert_int_equal(d.reason, MS_OK);
	assert_string_equal(d.peer, want_peer);
	assert_string_equal(d.lines, "* OK hello|ECHO hi|");
}

static void
test_multi_addr_v6_refused(void **state)
{
	multi_addr_case("127.0.0.1", "::1", "127.0.0.1", "127.0.0.1");
}

static void
test_multi_addr_v4_refused(void **state)
{
	multi_addr_case("::1", "127.0.0.1", "::1", "::1");
}

static void
test_connect_timeout(void **state)
{
	struct net_conn_params p;
	struct ms_err err;
	struct server s;
	struct drv d;
	char want[128];
	uint64_t t0, dt;

	server_start(&s, "full", NULL, NULL, NULL);
	drv_init(&d);
	drv_params(&d, &p, "localhost", s.port, NET_TLS_NONE);
	p.connect_timeout_ms = 300;
	t0 = uv_now(&d.loop);
	assert_int_equal(net__conn_new_with_addrs(&d.loop, &p,
		addrs_of("127.0.0.1", "127.0.0.1", s.port), &d.conn, &err),
		MS_OK);
	drv_run_and_close(&d);
	server_stop(&s);
	dt = d.t_closed - t0;
	assert_int_equal(d.reason, MS_ETIMEDOUT);
	snprintf(want, sizeof(want), "connect to localhost:%d (127.0.0.1): "
		 "timed out after 300 ms", s.port);
	assert_string_equal(d.err.msg, want);
	/* Two addresses, each under its own 300 ms timeout. */
	assert_true(dt >= 590);
	assert_true(dt < 4000);
}

static void
test_connect_timeout_then_next(void **state)
{
	struct net_conn_params p;
	struct ms_err err;
	struct server full, v6;
	struct drv d;

	/* 127.0.0.1:P hangs, [::1]:P answers: the second address wins. */
	server_start(&full, "full", NULL, NULL, NULL);
	server_start_opts(&v6, "plain", &(struct server_opts){
		.bind = "::1", .port = full.port });
	drv_init(&d);
	drv_params(&d, &p, "localhost", full.port, NET_TLS_NONE);
	p.connect_timeout_ms = 300;
	d.send_on_connect = "hi\r\n";
	d.expect_then_close = "ECHO hi";
	assert_int_equal(net__conn_new_with_addrs(&d.loop, &p,
		addrs_of("127.0.0.1", "::1", full.port), &d.conn, &err),
		MS_OK);
	drv_run_and_close(&d);
	server_stop(&v6);
	server_stop(&full);
	assert_int_equal(d.reason, MS_OK);
	assert_string_equal(d.peer, "::1");
	assert_string_equal(d.lines, "* OK hello|ECHO hi|");
}

static void
test_localhost_resolves(void **state)
{
	struct net_conn_params p;
	struct server s;
	struct drv d;

	/* The real resolver path, with whatever localhost maps to here. */
	server_start(&s, "plain", NULL, NULL, NULL);
	drv_init(&d);
	drv_params(&d, &p, "localhost", s.port, NET_TLS_NONE);
	d.send_on_connect = "hi\r\n";
	d.expect_then_close = "ECHO hi";
	drv_start(&d, &p);
	drv_run_and_close(&d);
	server_stop(&s);
	assert_int_equal(d.reason, MS_OK);
	assert_string_equal(d.peer, "127.0.0.1");
}

static void
test_tls_none_remote_refused(void **state)
{
	struct net_conn_params p;
	struct net_conn *conn = NULL;
	struct ms_err err = { 0 };
	struct drv d;

	drv_init(&d);
	/* An address literal is refused at once... */
	drv_params(&d, &p, "192.0.2.1", 143, NET_TLS_NONE);
	assert_int_equal(net_conn_new(&d.loop, &p, &conn, &err), MS_ECONFIG);
	assert_null(conn);
	assert_contains(err.msg, "non-loopback");
	/* ...and a name resolving to a remote address before connecting. */
	drv_params(&d, &p, "mail.example", 143, NET_TLS_NONE);
	assert_int_equal(net__conn_new_with_addrs(&d.loop, &p,
		addrs_of("192.0.2.1", "2001:db8::1", 143), &d.conn, &err),
		MS_OK);
	drv_run_and_close(&d);
	assert_int_equal(d.reason, MS_ECONFIG);
	assert_contains(d.err.msg, "non-loopback");
}

static void
test_close_while_resolving(void **state)
{
	struct net_conn_params p;
	struct drv d;

	drv_init(&d);
	drv_params(&d, &p, "localhost", 1, NET_TLS_NONE);
	drv_start(&d, &p);
	net_conn_close(d.conn, MS_OK);
	net_conn_close(d.conn, MS_ECONN);	/* idempotent */
	assert_int_equal(d.n_close, 0);		/* never before a callback */
	drv_run_and_close(&d);
	assert_int_equal(d.reason, MS_OK);
}

static void
test_write_before_ready(void **state)
{
	struct net_conn_params p;
	struct drv d;

	drv_init(&d);
	drv_params(&d, &p, "localhost", 1, NET_TLS_NONE);
	drv_start(&d, &p);
	assert_int_equal(net_conn_write(d.conn, "x", 1), MS_EINVAL);
	assert_int_equal(net_conn_starttls(d.conn), MS_EINVAL);
	net_conn_close(d.conn, MS_OK);
	drv_run_and_close(&d);
}

static void
test_fingerprint_parse(void **state)
{
	uint8_t fp[NET_TLS_FP_LEN];
	char out[NET_TLS_FP_STRLEN];
	const char *s = "sha256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:"
	    "FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff";

	assert_int_equal(net_tls_fingerprint_parse(s, fp), MS_OK);
	net_tls_fingerprint_format(fp, out);
	assert_string_equal(out, "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:"
	    "EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
	assert_int_equal(net_tls_fingerprint_parse(out, fp), MS_OK);
	assert_int_equal(net_tls_fingerprint_parse("sha256:00:11", fp),
			 MS_EINVAL);
	assert_int_equal(net_tls_fingerprint_parse("sha256:zz", fp),
			 MS_EINVAL);
	assert_int_equal(net_tls_fingerprint_parse("", fp), MS_EINVAL);
}

/* ---- setup ------------------------------------------------------------ */

static int
test_teardown(void **state)
{
	for (size_t i = 0; i < 4; i++) {
		if (live_servers[i] != 0) {
			kill(live_servers[i], SIGKILL);
			waitpid(live_servers[i], NULL, 0);
			live_servers[i] = 0;
		}
	}
	return 0;
}

static int
group_setup(void **state)
{
	const char *data = getenv("MS_TEST_DATA");
	char cmd[1024];

	if (data == NULL)
		data = "tests/data";
	snprintf(script, sizeof(script), "%s/net/fake_server.py", data);
	snprintf(pki, sizeof(pki), "/tmp/ms-test-net-XXXXXX");
	if (mkdtemp(pki) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh %s/net/mkcerts.sh %s", data, pki);
	signal(SIGPIPE, SIG_IGN);
	if (getenv("MS_TEST_TRACE") != NULL) {
		log_set_level(LOG_LEVEL_DEBUG);
		log_set_trace(TRACE_ALL);
	}
	return system(cmd) == 0 ? 0 : -1;
}

static int
group_teardown(void **state)
{
	char cmd[300];

	net_tls_trust_clear();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fingerprint_parse, test_teardown),
		cmocka_unit_test_teardown(test_tls_ok, test_teardown),
		cmocka_unit_test_teardown(test_tls_wrong_ca, test_teardown),
		cmocka_unit_test_teardown(test_tls_trust_shared, test_teardown),
		cmocka_unit_test_teardown(test_tls_trust_bad_file, test_teardown),
		cmocka_unit_test_teardown(test_tls_wrong_host, test_teardown),
		cmocka_unit_test_teardown(test_tls_to_plain_port, test_teardown),
		cmocka_unit_test_teardown(test_tls_expired, test_teardown),
		cmocka_unit_test_teardown(test_tls_self_signed_unpinned, test_teardown),
		cmocka_unit_test_teardown(test_tls_pin_ok, test_teardown),
		cmocka_unit_test_teardown(test_tls_pin_wrong, test_teardown),
		cmocka_unit_test_teardown(test_tls_pin_wrong_valid_chain, test_teardown),
		cmocka_unit_test_teardown(test_tls_resumption, test_teardown),
		cmocka_unit_test_teardown(test_tls12_resumption, test_teardown),
		cmocka_unit_test_teardown(test_tls11_refused, test_teardown),
		cmocka_unit_test_teardown(test_server_closes_plain,
					  test_teardown),
		cmocka_unit_test_teardown(test_server_closes_tls, test_teardown),
		cmocka_unit_test_teardown(test_tls_bulk_writes, test_teardown),
		cmocka_unit_test_teardown(test_starttls_injection, test_teardown),
		cmocka_unit_test_teardown(test_close_mid_handshake, test_teardown),
		cmocka_unit_test_teardown(test_stall_plain, test_teardown),
		cmocka_unit_test_teardown(test_stall_handshake, test_teardown),
		cmocka_unit_test_teardown(test_idle_disarms_timeout, test_teardown),
		cmocka_unit_test_teardown(test_read_timeout_busy, test_teardown),
		cmocka_unit_test_teardown(test_slow_server, test_teardown),
		cmocka_unit_test_teardown(test_connect_refused, test_teardown),
		cmocka_unit_test_teardown(test_resolve_failure, test_teardown),
		cmocka_unit_test_teardown(test_multi_addr_v6_refused, test_teardown),
		cmocka_unit_test_teardown(test_multi_addr_v4_refused, test_teardown),
		cmocka_unit_test_teardown(test_connect_timeout, test_teardown),
		cmocka_unit_test_teardown(test_connect_timeout_then_next,
					  test_teardown),
		cmocka_unit_test_teardown(test_localhost_resolves, test_teardown),
		cmocka_unit_test_teardown(test_tls_none_remote_refused, test_teardown),
		cmocka_unit_test_teardown(test_close_while_resolving, test_teardown),
		cmocka_unit_test_teardown(test_write_before_ready, test_teardown),
	};

	if (getenv("MS_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("MS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
