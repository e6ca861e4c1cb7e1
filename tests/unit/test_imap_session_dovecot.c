/*
 * test_imap_session_dovecot.c - the IMAP session against a real Dovecot
 * (tests/integration/lib/dovecot.sh, started in a child bash as in
 * test_sasl_dovecot.c): implicit TLS and STARTTLS with the generated CA,
 * every SASL mechanism Dovecot offers, auth = auto, a wrong password,
 * password_cmd success/failure/timeout, certificate failures (wrong CA,
 * wrong host name, expired) and pinning, COMPRESS=DEFLATE with a real
 * APPEND/SELECT/FETCH round trip, pipelined commands routed to the right
 * callbacks, ENABLE QRESYNC, IDLE.  Without Dovecot the tests skip, unless
 * MS_REQUIRE_SERVERS=1 makes that a failure.
 */
#include "test_imap_session_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* The POP3/SMTP session tests' helpers: only the fixture runner is used. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "session_test_util.h"
#pragma GCC diagnostic pop

#include "common/base64.h"
#include "imap/imap_cmd.h"

/* The certificate to serve comes in $MS_ISESS_CERT (good, expired, ...). */
#define DOVECOT_SCRIPT \
	"set -u\n" \
	". \"$1/integration/lib/dovecot.sh\" || exit 1\n" \
	"dovecot_start --cert \"${MS_ISESS_CERT:-good}\"; rc=$?\n" \
	"[ \"$rc\" = 0 ] || exit \"$rc\"\n" \
	"printf 'imap=%s\\nimaps=%s\\nuser1=%s\\npass1=%s\\ntoken1=%s\\n" \
	"ca=%s\\nfp=%s\\nsscert=%s\\nssfp=%s\\nREADY\\n' " \
	"\"$MS_IMAP_PORT\" \"$MS_IMAPS_PORT\" \"$MS_USER1\" \"$MS_PASS1\" " \
	"\"${MS_OAUTH_TOKEN1:-}\" \"$MS_TLS_CA\" \"$MS_TLS_FINGERPRINT\" " \
	"\"$MS_TLS_SELFSIGNED_CERT\" \"$MS_TLS_SELFSIGNED_FINGERPRINT\"\n" \
	"read -r _ || true\n" \
	"dovecot_stop\n"

/* One private Dovecot and what its fixture printed. */
struct dfx {
	struct st_fixture st;
	bool running, skipped;
	int imap, imaps;
	const char *user1, *pass1, *token1, *ca, *fp, *sscert, *ssfp;
};

static struct dfx fx;		/* --cert good, for the whole group */

/* Starts a private Dovecot serving certificate cert; false on failure. */
static bool
dfx_start(struct dfx *d, const char *cert)
{
	int rc;

	memset(d, 0, sizeof(*d));
	if (setenv("MS_ISESS_CERT", cert, 1) != 0)
		return false;
	rc = st_fixture_start(&d->st, DOVECOT_SCRIPT);
	if (rc == 77) {
		d->skipped = true;
		return true;
	}
	if (rc != 0)
		return false;
	d->running = true;
	d->imap = (int)strtol(st_fixture_get(&d->st, "imap"), NULL, 10);
	d->imaps = (int)strtol(st_fixture_get(&d->st, "imaps"), NULL, 10);
	d->user1 = st_fixture_get(&d->st, "user1");
	d->pass1 = st_fixture_get(&d->st, "pass1");
	d->token1 = st_fixture_get(&d->st, "token1");
	d->ca = st_fixture_get(&d->st, "ca");
	d->fp = st_fixture_get(&d->st, "fp");
	d->sscert = st_fixture_get(&d->st, "sscert");
	d->ssfp = st_fixture_get(&d->st, "ssfp");
	return true;
}

static bool
dfx_stop(struct dfx *d)
{
	return st_fixture_stop(&d->st) == 0;
}

#define NEED_DOVECOT() \
	do { \
		if (!fx.running) \
			skip(); \
	} while (0)

/* alice over implicit TLS with the fixture's CA. */
static void
dv_params(struct srun *r, struct imap_session_params *p, const struct dfx *d,
    enum net_tls_mode tls)
{
	srun_params(r, p);
	p->port = (uint16_t)(tls == NET_TLS_IMPLICIT ? d->imaps : d->imap);
	p->tls = tls;
	p->tls_ctx = tls == NET_TLS_NONE ? NULL : srun_tls_ctx(d->ca, NULL);
	p->user = d->user1;
	p->password = d->pass1;
}

static void
dv_run(struct srun *r, struct imap_session_params *p)
{
	srun_go(r, p);
	if (p->tls_ctx != NULL)
		net_tls_ctx_unref(&p->tls_ctx);
}

static void
assert_logged_in(const struct srun *r, enum sasl_mech mech)
{
	if (!r->ready || r->close_rc != MS_OK)
		fail_msg("login failed: %s: %s", ms_strerror(r->close_rc),
		    r->close_msg);
	assert_int_equal(r->mech, mech);
}

static void
test_implicit_tls(void **state)
{
	const unsigned want = IMAP_SESSION_CAP_IDLE |
	    IMAP_SESSION_CAP_CONDSTORE | IMAP_SESSION_CAP_QRESYNC |
	    IMAP_SESSION_CAP_UIDPLUS | IMAP_SESSION_CAP_MOVE |
	    IMAP_SESSION_CAP_LIST_STATUS | IMAP_SESSION_CAP_SPECIAL_USE |
	    IMAP_SESSION_CAP_LITERAL_PLUS | IMAP_SESSION_CAP_NOTIFY |
	    IMAP_SESSION_CAP_BINARY | IMAP_SESSION_CAP_NAMESPACE;
	struct imap_session_params p;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	p.auth = SASL_MECH_PLAIN;
	dv_run(&r, &p);
	assert_logged_in(&r, SASL_MECH_PLAIN);
	/* QRESYNC means ENABLE QRESYNC succeeded. */
	if ((r.caps & want) != want)
		fail_msg("caps 0x%x, want 0x%x: %s", r.caps, want, r.caplist);
	assert_false(r.caps & IMAP_SESSION_CAP_COMPRESS);
	srun_assert_contains(r.caplist, "QRESYNC");
	/* Post-login capabilities, not the pre-login ones. */
	assert_null(strstr(r.caplist, "AUTH="));
}

static void
test_starttls_auto_scram(void **state)
{
	struct imap_session_params p;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	dv_params(&r, &p, &fx, NET_TLS_STARTTLS);
	dv_run(&r, &p);
	assert_logged_in(&r, SASL_MECH_SCRAM_SHA_256);
	assert_true(r.caps & IMAP_SESSION_CAP_QRESYNC);
}

/* Plaintext loopback: auto still works, with SCRAM (nothing plaintext). */
static void
test_none_auto_scram(void **state)
{
	struct imap_session_params p;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	dv_params(&r, &p, &fx, NET_TLS_NONE);
	dv_run(&r, &p);
	assert_logged_in(&r, SASL_MECH_SCRAM_SHA_256);
}

static void
mech_case(enum sasl_mech mech, enum net_tls_mode tls)
{
	char cmd[256];
	struct imap_session_params p;
	struct srun r;

	dv_params(&r, &p, &fx, tls);
	p.auth = mech;
	if (sasl_mech_is_oauth(mech)) {
		if (fx.token1[0] == '\0')
			skip();
		snprintf(cmd, sizeof(cmd), "echo %s", fx.token1);
		p.password = NULL;
		p.oauth_token_cmd = cmd;
	}
	dv_run(&r, &p);
	assert_logged_in(&r, mech);
}

static void
test_mech_plain(void **state)
{
	(void)state;
	NEED_DOVECOT();
	mech_case(SASL_MECH_PLAIN, NET_TLS_STARTTLS);
}

static void
test_mech_login(void **state)
{
	(void)state;
	NEED_DOVECOT();
	mech_case(SASL_MECH_LOGIN, NET_TLS_IMPLICIT);
}

static void
test_mech_cram_md5(void **state)
{
	(void)state;
	NEED_DOVECOT();
	mech_case(SASL_MECH_CRAM_MD5, NET_TLS_STARTTLS);
}

static void
test_mech_scram(void **state)
{
	(void)state;
	NEED_DOVECOT();
	mech_case(SASL_MECH_SCRAM_SHA_256, NET_TLS_IMPLICIT);
}

static void
test_mech_xoauth2(void **state)
{
	(void)state;
	NEED_DOVECOT();
	mech_case(SASL_MECH_XOAUTH2, NET_TLS_IMPLICIT);
}

static void
test_mech_oauthbearer(void **state)
{
	(void)state;
	NEED_DOVECOT();
	mech_case(SASL_MECH_OAUTHBEARER, NET_TLS_STARTTLS);
}

/* auto with a token picks OAUTHBEARER. */
static void
test_auto_oauth(void **state)
{
	char cmd[256];
	struct imap_session_params p;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	if (fx.token1[0] == '\0')
		skip();
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	snprintf(cmd, sizeof(cmd), "echo %s", fx.token1);
	p.password = NULL;
	p.oauth_token_cmd = cmd;
	dv_run(&r, &p);
	assert_logged_in(&r, SASL_MECH_OAUTHBEARER);
}

static void
refused_case(struct imap_session_params *p, int code, const char *text)
{
	struct srun *r = p->arg;

	dv_run(r, p);
	assert_false(r->ready);
	if (r->close_rc != code)
		fail_msg("expected %s, got %s: %s", ms_strerror(code),
		    ms_strerror(r->close_rc), r->close_msg);
	srun_assert_contains(r->close_msg, text);
}

static void
test_wrong_password(void **state)
{
	struct imap_session_params p;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	p.password = "wrong-password";
	p.auth = SASL_MECH_PLAIN;
	/* Dovecot's own words travel into the message. */
	refused_case(&p, MS_EAUTH, "Authentication failed");
	dv_params(&r, &p, &fx, NET_TLS_STARTTLS);
	p.password = "wrong-password";
	refused_case(&p, MS_EAUTH, "Authentication failed");
}

static void
test_password_cmd(void **state)
{
	char cmd[256];
	struct imap_session_params p;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	snprintf(cmd, sizeof(cmd), "echo %s", fx.pass1);
	p.password = NULL;
	p.password_cmd = cmd;
	dv_run(&r, &p);
	assert_logged_in(&r, SASL_MECH_SCRAM_SHA_256);
}

static void
test_password_cmd_fails(void **state)
{
	struct imap_session_params p;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	p.password = NULL;
	p.password_cmd = "sh -c 'echo no keyring >&2; exit 3'";
	refused_case(&p, MS_EIO, "no keyring");
	srun_assert_contains(r.close_msg, "password_cmd");
}

static void
test_password_cmd_timeout(void **state)
{
	struct imap_session_params p;
	struct srun r;
	uint64_t t0 = uv_hrtime();

	(void)state;
	NEED_DOVECOT();
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	p.password = NULL;
	p.password_cmd = "sleep 20";
	p.timeout_ms = 600;
	refused_case(&p, MS_EIO, "timed out");
	assert_true((uv_hrtime() - t0) / 1000000 < 10000);
}

/* Closing while password_cmd runs kills it and ends cleanly. */
static void
test_close_during_password_cmd(void **state)
{
	struct imap_session_params p;
	struct srun r;
	uint64_t t0 = uv_hrtime();

	(void)state;
	NEED_DOVECOT();
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	p.password = NULL;
	p.password_cmd = "sleep 20";
	p.timeout_ms = 15000;
	r.close_after_ms = 500;
	r.close_rc_early = MS_ECANCELED;
	dv_run(&r, &p);
	assert_false(r.ready);
	assert_int_equal(r.close_rc, MS_ECANCELED);
	assert_true((uv_hrtime() - t0) / 1000000 < 10000);
}

static void
test_wrong_ca(void **state)
{
	struct imap_session_params p;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	net_tls_ctx_unref(&p.tls_ctx);
	/* An unrelated self-signed certificate as the only anchor. */
	p.tls_ctx = srun_tls_ctx(fx.sscert, NULL);
	refused_case(&p, MS_ETLS, "local issuer");
	srun_assert_contains(r.close_msg, "fingerprint seen sha256:");
	dv_params(&r, &p, &fx, NET_TLS_STARTTLS);
	net_tls_ctx_unref(&p.tls_ctx);
	p.tls_ctx = srun_tls_ctx(fx.sscert, NULL);
	refused_case(&p, MS_ETLS, "local issuer");
}

/* Starts a Dovecot with another certificate and runs one refused login. */
static void
cert_case(const char *cert, const char *text)
{
	struct imap_session_params p;
	struct dfx d;
	struct srun r;

	assert_true(dfx_start(&d, cert));
	if (d.skipped)
		skip();
	dv_params(&r, &p, &d, NET_TLS_IMPLICIT);
	refused_case(&p, MS_ETLS, text);
	srun_assert_contains(r.close_msg, "127.0.0.1");
	dv_params(&r, &p, &d, NET_TLS_STARTTLS);
	refused_case(&p, MS_ETLS, text);
	assert_true(dfx_stop(&d));
}

static void
test_wrong_host(void **state)
{
	(void)state;
	NEED_DOVECOT();
	cert_case("wronghost", "mismatch");
}

static void
test_expired(void **state)
{
	(void)state;
	NEED_DOVECOT();
	cert_case("expired", "expired");
}

static void
test_pin(void **state)
{
	struct imap_session_params p;
	struct dfx d;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	assert_true(dfx_start(&d, "selfsigned"));
	if (d.skipped)
		skip();
	/* Without a pin the self-signed server is refused. */
	dv_params(&r, &p, &d, NET_TLS_IMPLICIT);
	refused_case(&p, MS_ETLS, "self-signed");
	/* Pinned: accepted whatever the chain. */
	dv_params(&r, &p, &d, NET_TLS_IMPLICIT);
	net_tls_ctx_unref(&p.tls_ctx);
	p.tls_ctx = srun_tls_ctx(NULL, d.ssfp);
	dv_run(&r, &p);
	assert_logged_in(&r, SASL_MECH_SCRAM_SHA_256);
	/* A wrong pin (the CA-signed certificate's) is refused. */
	dv_params(&r, &p, &d, NET_TLS_STARTTLS);
	net_tls_ctx_unref(&p.tls_ctx);
	p.tls_ctx = srun_tls_ctx(d.ca, d.fp);
	refused_case(&p, MS_ETLS, "fingerprint mismatch");
	assert_true(dfx_stop(&d));
}

/* ---- commands after login ------------------------------------------------ */

#define MSG_HEAD "From: a@example.test\r\nTo: b@example.test\r\n" \
	"Subject: compressed round trip\r\n\r\n"
#define MSG_LINES 3000
#define BODY_MAX (256u << 10)

struct flow {
	struct srun *r;
	int step;
	uint32_t uid;
	struct ms_buf msg;	/* what is appended */
	char *body;		/* BODY_MAX bytes: what is fetched */
	size_t body_len;
	uint64_t bytes_in, bytes_out;
	int fetches;
	/* Pipelining: per command, the order its on_done fired and counts. */
	int tags[8];
	int done_order[8];
	int events[8];
	int ndone;
	bool idle_done;
	uv_timer_t timer;
};

static struct flow *
flow_of(struct imap_session *s, void *arg)
{
	(void)s;
	return arg;
}

static void flow_step(struct imap_session *s, struct flow *f);

static void
flow_event_cb(struct imap_session *s, const struct imap_event *ev, void *arg)
{
	struct flow *f = flow_of(s, arg);

	if (ev->type == IMAP_EV_LITERAL_CHUNK) {
		assert_true(f->body_len + ev->u.chunk.data.len <= BODY_MAX);
		memcpy(f->body + f->body_len, ev->u.chunk.data.p,
		    ev->u.chunk.data.len);
		f->body_len += ev->u.chunk.data.len;
	} else if (ev->type == IMAP_EV_FETCH) {
		f->fetches++;
	}
}

static void
flow_done_cb(struct imap_session *s, int rc, const struct imap_ev_status *st,
    void *arg)
{
	struct flow *f = flow_of(s, arg);
	struct ms_slice set1;
	uint32_t uid;

	assert_int_equal(rc, MS_OK);
	if (st->status != IMAP_STATUS_OK)
		fail_msg("step %d: %.*s", f->step, (int)st->text.len,
		    (const char *)st->text.p);
	if (st->code.code == IMAP_CODE_APPENDUID) {
		set1 = st->code.set1;
		assert_int_equal(imap_numlist_next(&set1, &uid), MS_OK);
		f->uid = uid;
	}
	f->step++;
	flow_step(s, f);
}

static void
flow_submit(struct imap_session *s, struct flow *f, int tag)
{
	const struct imap_session_cmd_cbs cbs = { flow_event_cb, flow_done_cb,
	    f };

	assert_true(tag > 0);
	assert_int_equal(imap_session_submit(s, tag, &cbs), MS_OK);
}

/* APPEND, SELECT, UID FETCH the appended message, then LOGOUT. */
static void
flow_step(struct imap_session *s, struct flow *f)
{
	struct imap_client *c = imap_session_core(s);
	const struct imap_select_opts so = { .qresync = false };
	char set[16];

	switch (f->step) {
	case 0:
		flow_submit(s, f, imap_cmd_append(c, MS_SLICE_LIT("INBOX"),
		    NULL, (struct ms_slice){ NULL, 0 },
		    (struct ms_slice){ f->msg.p, f->msg.len }));
		break;
	case 1:
		assert_true(f->uid > 0);
		flow_submit(s, f, imap_cmd_select(c, MS_SLICE_LIT("INBOX"),
		    &so));
		break;
	case 2:
		snprintf(set, sizeof(set), "%u", f->uid);
		flow_submit(s, f, imap_cmd_uid_fetch(c, ms_slice_from_cstr(set),
		    "UID BODY.PEEK[]", 0, false));
		break;
	default:
		f->bytes_in = imap_session_bytes_in(s);
		f->bytes_out = imap_session_bytes_out(s);
		imap_session_close(s, MS_OK);
		break;
	}
}

static void
compress_ready(struct srun *r)
{
	struct flow *f = r->user;

	flow_step(r->s, f);
}

/*
 * APPEND a 130 KB message, SELECT, UID FETCH it back, byte for byte, with
 * or without COMPRESS; returns the session's received byte count.
 */
static uint64_t
round_trip(bool want_compress)
{
	struct imap_session_params p;
	struct flow f;
	struct srun r;

	memset(&f, 0, sizeof(f));
	ms_buf_init(&f.msg, BODY_MAX);
	assert_int_equal(ms_buf_append_cstr(&f.msg, MSG_HEAD), MS_OK);
	for (int i = 0; i < MSG_LINES; i++)
		assert_int_equal(ms_buf_printf(&f.msg, "Line %04d of a body "
		    "that compresses well.\r\n", i), MS_OK);
	f.body = malloc(BODY_MAX);
	assert_non_null(f.body);
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	p.want_compress = want_compress;
	r.on_ready = compress_ready;
	r.user = &f;
	f.r = &r;
	dv_run(&r, &p);
	assert_logged_in(&r, SASL_MECH_SCRAM_SHA_256);
	assert_int_equal(!!(r.caps & IMAP_SESSION_CAP_COMPRESS),
	    want_compress);
	assert_int_equal(f.step, 3);
	assert_int_equal(f.fetches, 1);
	assert_int_equal(f.body_len, f.msg.len);
	assert_memory_equal(f.body, f.msg.p, f.msg.len);
	fprintf(stderr, "round trip of %zu bytes, compress %s: %llu bytes "
	    "in, %llu out\n", f.msg.len, want_compress ? "on" : "off",
	    (unsigned long long)f.bytes_in, (unsigned long long)f.bytes_out);
	ms_buf_deinit(&f.msg);
	free(f.body);
	return f.bytes_in + f.bytes_out;
}

static void
test_compress_round_trip(void **state)
{
	uint64_t plain, z;

	(void)state;
	NEED_DOVECOT();
	plain = round_trip(false);
	z = round_trip(true);
	/* Both directions really are compressed, not just negotiated. */
	assert_true(plain > 2 * 129000);
	assert_true(z * 5 < plain);
}

/* ---- pipelining ------------------------------------------------------------ */

enum { P_NOOP1, P_STATUS, P_LIST, P_CAPA, P_NAMESPACE, P_NOOP2, P_N };

struct pipe_cmd {
	struct flow *f;
	int idx;
	enum imap_ev_type want;	/* the event type this command must get */
};

static struct pipe_cmd pipe_cmds[P_N];

static void
pipe_ev_cb(struct imap_session *s, const struct imap_event *ev, void *arg)
{
	struct pipe_cmd *pc = arg;

	(void)s;
	if (ev->type == pc->want)
		pc->f->events[pc->idx]++;
	else if (pc->want != 0 && ev->type != IMAP_EV_UNTAGGED_STATUS)
		fail_msg("command %d got a %s event", pc->idx,
		    imap_ev_type_name(ev->type));
}

static void
pipe_done_cb(struct imap_session *s, int rc, const struct imap_ev_status *st,
    void *arg)
{
	struct pipe_cmd *pc = arg;
	struct flow *f = pc->f;
	char want[16];

	assert_int_equal(rc, MS_OK);
	assert_int_equal(st->status, IMAP_STATUS_OK);
	imap_client_tag_format((uint32_t)f->tags[pc->idx], want, sizeof(want));
	assert_true(ms_slice_eq_cstr(st->tag, want));
	f->done_order[f->ndone++] = pc->idx;
	if (f->ndone == P_N)
		imap_session_close(s, MS_OK);
}

static void
pipe_ready(struct srun *r)
{
	struct flow *f = r->user;
	struct imap_client *c = imap_session_core(r->s);
	static const enum imap_ev_type want[P_N] = {
		[P_STATUS] = IMAP_EV_STATUS,
		[P_LIST] = IMAP_EV_LIST,
		[P_CAPA] = IMAP_EV_CAPABILITY,
		[P_NAMESPACE] = IMAP_EV_NAMESPACE,
	};

	/* Build and submit all six before the loop runs again. */
	f->tags[P_NOOP1] = imap_cmd_noop(c);
	f->tags[P_STATUS] = imap_cmd_status(c, MS_SLICE_LIT("INBOX"),
	    IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT);
	f->tags[P_LIST] = imap_cmd_list(c, MS_SLICE_LIT(""),
	    MS_SLICE_LIT("*"), 0, 0);
	f->tags[P_CAPA] = imap_cmd_capability(c);
	f->tags[P_NAMESPACE] = imap_cmd_namespace(c);
	f->tags[P_NOOP2] = imap_cmd_noop(c);
	for (int i = 0; i < P_N; i++) {
		struct imap_session_cmd_cbs cbs = { pipe_ev_cb, pipe_done_cb,
		    &pipe_cmds[i] };

		pipe_cmds[i] = (struct pipe_cmd){ f, i, want[i] };
		assert_true(f->tags[i] > 0);
		assert_int_equal(imap_session_submit(r->s, f->tags[i], &cbs),
		    MS_OK);
	}
	assert_int_equal(imap_session_in_flight(r->s), P_N);
	/* A tag twice, or one never built, is refused. */
	assert_int_equal(imap_session_submit(r->s, f->tags[0], NULL),
	    MS_EINVAL);
	assert_int_equal(imap_session_submit(r->s, f->tags[P_N - 1] + 5,
	    NULL), MS_EINVAL);
}

static void
test_pipelined_routing(void **state)
{
	struct imap_session_params p;
	struct flow f;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	memset(&f, 0, sizeof(f));
	dv_params(&r, &p, &fx, NET_TLS_STARTTLS);
	r.on_ready = pipe_ready;
	r.user = &f;
	dv_run(&r, &p);
	assert_logged_in(&r, SASL_MECH_SCRAM_SHA_256);
	assert_int_equal(f.ndone, P_N);
	for (int i = 0; i < P_N; i++)
		assert_int_equal(f.done_order[i], i);
	assert_int_equal(f.events[P_STATUS], 1);
	assert_true(f.events[P_LIST] >= 5);	/* INBOX + 4 special-use */
	assert_int_equal(f.events[P_CAPA], 1);
	assert_int_equal(f.events[P_NAMESPACE], 1);
}

/* ---- IDLE ----------------------------------------------------------------- */

static void
idle_done_cb(struct imap_session *s, int rc, const struct imap_ev_status *st,
    void *arg)
{
	struct flow *f = arg;

	assert_int_equal(rc, MS_OK);
	assert_int_equal(st->status, IMAP_STATUS_OK);
	f->idle_done = true;
	imap_session_close(s, MS_OK);
}

static void
idle_timer_cb(uv_timer_t *t)
{
	struct flow *f = t->data;

	assert_int_equal(imap_session_idle_stop(f->r->s), MS_OK);
	uv_close((uv_handle_t *)t, NULL);
}

static void
idle_ready(struct srun *r)
{
	struct flow *f = r->user;
	const struct imap_session_cmd_cbs cbs = { NULL, idle_done_cb, f };

	assert_int_equal(imap_session_idle_start(r->s, &cbs), MS_OK);
	/* Nothing else while idling. */
	assert_int_equal(imap_session_idle_start(r->s, &cbs), MS_EINVAL);
	uv_timer_init(&r->loop, &f->timer);
	f->timer.data = f;
	/* Longer than the 400 ms read timeout: IDLE must disarm it. */
	uv_timer_start(&f->timer, idle_timer_cb, 900, 0);
}

static void
test_idle(void **state)
{
	struct imap_session_params p;
	struct flow f;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	memset(&f, 0, sizeof(f));
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	p.timeout_ms = 400;
	r.on_ready = idle_ready;
	r.user = &f;
	f.r = &r;
	dv_run(&r, &p);
	assert_logged_in(&r, SASL_MECH_SCRAM_SHA_256);
	assert_true(f.idle_done);
}

/* ---- traces ----------------------------------------------------------- */

static void
assert_absent(const char *hay, size_t n, const char *needle)
{
	if (needle[0] != '\0' && memmem(hay, n, needle, strlen(needle)) != NULL)
		fail_msg("the trace contains '%s'", needle);
}

/*
 * With -v traces on (to a file instead of stderr), logins with PLAIN,
 * LOGIN and XOAUTH2 leave neither the password, nor its SASL encodings,
 * nor the token in the log, while the trace itself is there.
 */
static void
test_trace_redacted(void **state)
{
	static const enum sasl_mech mechs[] = { SASL_MECH_PLAIN,
	    SASL_MECH_LOGIN, SASL_MECH_XOAUTH2 };
	char path[] = "/tmp/ms-test-isess-trace-XXXXXX";
	enum log_level level = log_get_level();
	struct ms_buf b64, raw;
	char *log;
	size_t n;
	int fd, saved;
	FILE *f;

	(void)state;
	NEED_DOVECOT();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fd, 2) == 2);
	log_set_level(LOG_LEVEL_DEBUG);
	log_set_trace(TRACE_IMAP);
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		if (sasl_mech_is_oauth(mechs[i]) && fx.token1[0] == '\0')
			continue;
		mech_case(mechs[i], i % 2 ? NET_TLS_IMPLICIT :
		    NET_TLS_STARTTLS);
	}
	fflush(stderr);
	assert_true(dup2(saved, 2) == 2);
	close(saved);
	close(fd);
	log_set_trace(0);
	log_set_level(level);

	f = fopen(path, "rb");
	assert_non_null(f);
	log = malloc(1u << 20);
	assert_non_null(log);
	n = fread(log, 1, (1u << 20) - 1, f);
	fclose(f);
	unlink(path);
	log[n] = '\0';
	if (strstr(log, "C: A") == NULL || strstr(log, "S: ") == NULL)
		fail_msg("no trace written");
	ms_buf_init(&raw, 1024);
	ms_buf_init(&b64, 1024);
	assert_int_equal(ms_buf_append(&raw, "", 1), MS_OK);
	assert_int_equal(ms_buf_append_cstr(&raw, fx.user1), MS_OK);
	assert_int_equal(ms_buf_append(&raw, "", 1), MS_OK);
	assert_int_equal(ms_buf_append_cstr(&raw, fx.pass1), MS_OK);
	assert_int_equal(ms_base64_encode(&b64, raw.p, raw.len), MS_OK);
	assert_absent(log, n, (const char *)b64.p);
	ms_buf_reset(&b64);
	assert_int_equal(ms_base64_encode(&b64, fx.pass1, strlen(fx.pass1)),
	    MS_OK);
	assert_absent(log, n, (const char *)b64.p);
	assert_absent(log, n, fx.pass1);
	assert_absent(log, n, fx.token1);
	ms_buf_deinit(&raw);
	ms_buf_deinit(&b64);
	free(log);
}

/* ---- IDLE with a push from a second session -------------------------- */

#define PUSH_MSG "From: c@example.test\r\nSubject: push\r\n\r\npushed\r\n"

struct push {
	struct srun *r;
	struct imap_session *b;		/* the appending session */
	bool b_appended, b_closed, idle_stopping, idle_done;
	int b_close_rc;
	char b_msg[256];
	unsigned exists;
};

static void
push_b_done_cb(struct imap_session *s, int rc, const struct imap_ev_status *st,
    void *arg)
{
	struct push *pu = arg;

	assert_int_equal(rc, MS_OK);
	assert_int_equal(st->status, IMAP_STATUS_OK);
	pu->b_appended = true;
	imap_session_close(s, MS_OK);
}

static void
push_b_ready_cb(struct imap_session *s, void *arg)
{
	struct push *pu = arg;
	const struct imap_session_cmd_cbs cbs = { NULL, push_b_done_cb, pu };
	int tag = imap_cmd_append(imap_session_core(s), MS_SLICE_LIT("INBOX"),
	    NULL, (struct ms_slice){ NULL, 0 }, MS_SLICE_LIT(PUSH_MSG));

	assert_true(tag > 0);
	assert_int_equal(imap_session_submit(s, tag, &cbs), MS_OK);
}

static void
push_b_close_cb(struct imap_session *s, int reason, const struct ms_err *err,
    void *arg)
{
	struct push *pu = arg;

	(void)s;
	pu->b_closed = true;
	pu->b_close_rc = reason;
	snprintf(pu->b_msg, sizeof(pu->b_msg), "%s", err->msg);
	pu->b = NULL;
}

static void
push_idle_done_cb(struct imap_session *s, int rc,
    const struct imap_ev_status *st, void *arg)
{
	struct push *pu = arg;

	assert_int_equal(rc, MS_OK);
	assert_int_equal(st->status, IMAP_STATUS_OK);
	pu->idle_done = true;
	imap_session_close(s, MS_OK);
}

/* A's unsolicited responses: EXISTS while idling ends the IDLE. */
static void
push_unsol(struct srun *r, const struct imap_event *ev)
{
	struct push *pu = r->user;

	if (ev->type != IMAP_EV_EXISTS || pu->idle_stopping)
		return;
	pu->exists = ev->u.num;
	pu->idle_stopping = true;
	assert_int_equal(imap_session_idle_stop(r->s), MS_OK);
}

static void
push_select_done_cb(struct imap_session *s, int rc,
    const struct imap_ev_status *st, void *arg)
{
	struct push *pu = arg;
	const struct imap_session_cmd_cbs cbs = { NULL, push_idle_done_cb,
	    pu };
	struct imap_session_params p;
	struct srun dummy;
	struct ms_err err;

	assert_int_equal(rc, MS_OK);
	assert_int_equal(st->status, IMAP_STATUS_OK);
	assert_int_equal(imap_session_idle_start(s, &cbs), MS_OK);
	/* A second session on the same loop appends to the same INBOX. */
	dv_params(&dummy, &p, &fx, NET_TLS_STARTTLS);
	p.account = "pusher";
	p.on_ready_cb = push_b_ready_cb;
	p.on_unsolicited_cb = NULL;
	p.on_close_cb = push_b_close_cb;
	p.arg = pu;
	if (imap_session_new(&pu->r->loop, &p, &pu->b, &err) != MS_OK)
		fail_msg("second session: %s", err.msg);
	net_tls_ctx_unref(&p.tls_ctx);
}

static void
push_ready(struct srun *r)
{
	struct push *pu = r->user;
	const struct imap_select_opts so = { .read_only = true };
	const struct imap_session_cmd_cbs cbs = { NULL, push_select_done_cb,
	    pu };
	int tag = imap_cmd_select(imap_session_core(r->s),
	    MS_SLICE_LIT("INBOX"), &so);

	assert_true(tag > 0);
	assert_int_equal(imap_session_submit(r->s, tag, &cbs), MS_OK);
}

static void
test_idle_push(void **state)
{
	struct imap_session_params p;
	struct push pu;
	struct srun r;

	(void)state;
	NEED_DOVECOT();
	memset(&pu, 0, sizeof(pu));
	dv_params(&r, &p, &fx, NET_TLS_IMPLICIT);
	r.on_ready = push_ready;
	r.on_unsol = push_unsol;
	r.user = &pu;
	pu.r = &r;
	dv_run(&r, &p);
	assert_logged_in(&r, SASL_MECH_SCRAM_SHA_256);
	assert_true(pu.b_closed);
	if (pu.b_close_rc != MS_OK || !pu.b_appended)
		fail_msg("second session: %s", pu.b_msg);
	assert_true(pu.exists > 0);
	assert_true(pu.idle_done);
}

static int
group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	/* st_fixture_start fails instead of skipping with MS_REQUIRE_SERVERS. */
	return dfx_start(&fx, "good") ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	return dfx_stop(&fx) ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_implicit_tls),
		cmocka_unit_test(test_starttls_auto_scram),
		cmocka_unit_test(test_none_auto_scram),
		cmocka_unit_test(test_mech_plain),
		cmocka_unit_test(test_mech_login),
		cmocka_unit_test(test_mech_cram_md5),
		cmocka_unit_test(test_mech_scram),
		cmocka_unit_test(test_mech_xoauth2),
		cmocka_unit_test(test_mech_oauthbearer),
		cmocka_unit_test(test_auto_oauth),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_password_cmd),
		cmocka_unit_test(test_password_cmd_fails),
		cmocka_unit_test(test_password_cmd_timeout),
		cmocka_unit_test(test_close_during_password_cmd),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_wrong_host),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_compress_round_trip),
		cmocka_unit_test(test_pipelined_routing),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_idle_push),
		cmocka_unit_test(test_trace_redacted),
	};

	if (getenv("MS_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("MS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
