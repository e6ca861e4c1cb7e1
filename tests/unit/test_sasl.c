/*
 * test_sasl.c - SASL client mechanisms against RFC examples, byte-exact,
 * plus the failure paths and mechanism selection.  The crypto hooks are the
 * daemon's OpenSSL ones, with the random source replaced where a test needs
 * a fixed SCRAM nonce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth/sasl_crypto_openssl.h"
#include "common/base64.h"
#include "sasl/sasl.h"

#define S(lit) MS_SLICE_LIT(lit)

/* RFC 7677 section 3. */
#define RFC7677_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC7677_CLIENT_FIRST "n,,n=user,r=" RFC7677_CNONCE
#define RFC7677_SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIl" \
	"j)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC7677_CLIENT_FINAL "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTC" \
	"AfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC7677_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* Returns the RFC 7677 client nonce's bytes: base64-decoded, they give
 * back exactly "rOprNGfwEbeRWgbNEkqO" once the client encodes them. */
static int
test_fixed_random(uint8_t *out, size_t len, void *arg)
{
	struct ms_buf b;

	ms_buf_init(&b, 64);
	if (ms_base64_decode(&b, RFC7677_CNONCE, 20) != MS_OK ||
	    b.len != len) {
		ms_buf_deinit(&b);
		return -1;
	}
	memcpy(out, b.p, len);
	ms_buf_deinit(&b);
	return 0;
}

static struct sasl_crypto test_crypto;

static int
setup_crypto(void **state)
{
	test_crypto = *sasl_crypto_openssl();
	test_crypto.random_bytes = test_fixed_random;
	return 0;
}

static void
client_init(struct sasl_client *s, enum sasl_mech mech, const char *user,
    const char *secret)
{
	struct sasl_params p = {
		.user = ms_slice_from_cstr(user),
		.secret = ms_slice_from_cstr(secret),
		.host = S("server.example.com"),
		.port = 143,
		.crypto = &test_crypto,
	};
	struct ms_err err = { 0 };

	assert_int_equal(sasl_client_init(s, mech, &p, &err), MS_OK);
}

static void
assert_buf(const struct ms_buf *b, const void *want, size_t len)
{
	assert_int_equal(b->len, len);
	if (len > 0)
		assert_memory_equal(b->p, want, len);
}
#define ASSERT_BUF(b, lit) assert_buf((b), (lit), sizeof(lit) - 1)

/* A fresh client's initial response is exactly want. */
static void
expect_initial(enum sasl_mech mech, const char *user, const char *secret,
    const char *want, size_t want_len)
{
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };

	ms_buf_init(&out, 4096);
	client_init(&s, mech, user, secret);
	assert_int_equal(sasl_client_initial(&s, &out, &err), MS_OK);
	assert_buf(&out, want, want_len);
	sasl_client_deinit(&s);
	ms_buf_wipe(&out);
	ms_buf_deinit(&out);
}
#define EXPECT_INITIAL(m, u, p, lit) expect_initial(m, u, p, lit, \
	sizeof(lit) - 1)

static void
test_sasl_plain(void **state)
{
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };

	EXPECT_INITIAL(SASL_MECH_PLAIN, "tim", "tanstaaftanstaaf",
	    "\0tim\0tanstaaftanstaaf");
	/* No further challenge is legitimate. */
	ms_buf_init(&out, 4096);
	client_init(&s, SASL_MECH_PLAIN, "tim", "tanstaaftanstaaf");
	assert_int_equal(sasl_client_initial(&s, &out, &err), MS_OK);
	ms_buf_reset(&out);
	assert_int_equal(sasl_client_step(&s, S("x"), &out, &err), MS_EPROTO);
	assert_int_equal(out.len, 0);
	sasl_client_deinit(&s);

	/* Through base64, and without SASL-IR: the empty challenge gets
	 * the initial response. */
	client_init(&s, SASL_MECH_PLAIN, "tim", "tanstaaftanstaaf");
	assert_int_equal(sasl_client_step_b64(&s, S(""), &out, &err), MS_OK);
	ASSERT_BUF(&out, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	assert_int_equal(sasl_client_finish(&s, NULL, &err), MS_OK);
	sasl_client_deinit(&s);
	ms_buf_wipe(&out);
	ms_buf_deinit(&out);
}

static void
test_sasl_login(void **state)
{
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };

	ms_buf_init(&out, 4096);
	client_init(&s, SASL_MECH_LOGIN, "tim", "secret pw");
	assert_int_equal(sasl_client_initial(&s, &out, &err), MS_AGAIN);
	assert_int_equal(out.len, 0);
	/* The answer depends on the step, not on the challenge text. */
	assert_int_equal(sasl_client_step(&s, S("Password:"), &out, &err),
	    MS_OK);
	ASSERT_BUF(&out, "tim");
	ms_buf_reset(&out);
	assert_int_equal(sasl_client_step(&s, S("Username:"), &out, &err),
	    MS_OK);
	ASSERT_BUF(&out, "secret pw");
	ms_buf_reset(&out);
	assert_int_equal(sasl_client_step(&s, S(""), &out, &err), MS_EPROTO);
	sasl_client_deinit(&s);

	/* base64: "VXNlcm5hbWU6" is "Username:" as servers send it. */
	client_init(&s, SASL_MECH_LOGIN, "tim", "secret pw");
	assert_int_equal(sasl_client_step_b64(&s, S("VXNlcm5hbWU6"), &out,
	    &err), MS_OK);
	ASSERT_BUF(&out, "dGlt");
	ms_buf_reset(&out);
	assert_int_equal(sasl_client_step_b64(&s, S("UGFzc3dvcmQ6"), &out,
	    &err), MS_OK);
	ASSERT_BUF(&out, "c2VjcmV0IHB3");
	assert_int_equal(sasl_client_finish(&s, NULL, &err), MS_OK);
	sasl_client_deinit(&s);
	ms_buf_deinit(&out);
}

static void
test_sasl_cram_md5(void **state)
{
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };

	ms_buf_init(&out, 4096);
	/* RFC 2195 section 2. */
	client_init(&s, SASL_MECH_CRAM_MD5, "tim", "tanstaaftanstaaf");
	assert_int_equal(sasl_client_initial(&s, &out, &err), MS_AGAIN);
	assert_int_equal(sasl_client_step(&s,
	    S("<1896.697170952@postoffice.reston.mci.net>"), &out, &err),
	    MS_OK);
	ASSERT_BUF(&out, "tim b913a602c7eda7a495b4e6e7334d3890");
	sasl_client_deinit(&s);

	/* The same through base64, as RFC 2195 shows it on the wire. */
	ms_buf_reset(&out);
	client_init(&s, SASL_MECH_CRAM_MD5, "tim", "tanstaaftanstaaf");
	assert_int_equal(sasl_client_step_b64(&s,
	    S("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
	    &out, &err), MS_OK);
	ASSERT_BUF(&out, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
	sasl_client_deinit(&s);

	/* An empty challenge has nothing to sign. */
	ms_buf_reset(&out);
	client_init(&s, SASL_MECH_CRAM_MD5, "tim", "tanstaaftanstaaf");
	assert_int_equal(sasl_client_step(&s, S(""), &out, &err), MS_EPROTO);
	assert_int_equal(err.code, MS_EPROTO);
	sasl_client_deinit(&s);
	ms_buf_deinit(&out);
}

/* Google's XOAUTH2 example, and its error dance. */
static void
test_sasl_xoauth2(void **state)
{
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };

	EXPECT_INITIAL(SASL_MECH_XOAUTH2, "someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
	    "user=someuser@example.com\001auth=Bearer "
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001");
	ms_buf_init(&out, 4096);
	client_init(&s, SASL_MECH_XOAUTH2, "someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	assert_int_equal(sasl_client_initial_b64(&s, &out, &err), MS_OK);
	ASSERT_BUF(&out, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5"
	    "YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
	/* The server's JSON error arrives as a challenge; the answer is an
	 * empty response, then the server fails the command. */
	ms_buf_reset(&out);
	assert_int_equal(sasl_client_step_b64(&s, S("eyJzdGF0dXMiOiI0MDEiLCJz"
	    "Y2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNv"
	    "bS8ifQ=="), &out, &err), MS_OK);
	assert_int_equal(out.len, 0);
	assert_int_equal(sasl_client_report_failure(&s,
	    S("NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"),
	    &err), MS_EAUTH);
	assert_int_equal(err.code, MS_EAUTH);
	assert_non_null(strstr(err.msg, "XOAUTH2"));
	assert_non_null(strstr(err.msg, "Invalid credentials"));
	assert_non_null(strstr(err.msg, "{\"status\":\"401\",\"schemes\":"
	    "\"Bearer\",\"scope\":\"https://mail.google.com/\"}"));
	sasl_client_deinit(&s);
	/* A second challenge is a protocol error. */
	client_init(&s, SASL_MECH_XOAUTH2, "u", "t");
	assert_int_equal(sasl_client_initial(&s, &out, &err), MS_OK);
	assert_int_equal(sasl_client_step(&s, S("{}"), &out, &err), MS_OK);
	assert_int_equal(sasl_client_step(&s, S("{}"), &out, &err),
	    MS_EPROTO);
	sasl_client_deinit(&s);
	ms_buf_deinit(&out);
}

/* RFC 7628 section 4.1 example, and the error dance of section 3.2.3. */
static void
test_sasl_oauthbearer(void **state)
{
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };

	ms_buf_init(&out, 4096);
	client_init(&s, SASL_MECH_OAUTHBEARER, "user@example.com",
	    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
	assert_int_equal(sasl_client_initial(&s, &out, &err), MS_OK);
	ASSERT_BUF(&out, "n,a=user@example.com,\001host=server.example.com"
	    "\001port=143\001auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEu"
	    "Y29tCg==\001\001");
	ms_buf_reset(&out);
	assert_int_equal(sasl_client_step(&s, S("{\"status\":\"invalid_token\""
	    ",\"scope\":\"example_scope\",\"openid-configuration\":\"https://"
	    "example.com/.well-known/openid-configuration\"}"), &out, &err),
	    MS_OK);
	ASSERT_BUF(&out, "\001");
	assert_int_equal(sasl_client_report_failure(&s, S(""), &err),
	    MS_EAUTH);
	assert_non_null(strstr(err.msg, "OAUTHBEARER"));
	assert_non_null(strstr(err.msg, "\"status\":\"invalid_token\""));
	sasl_client_deinit(&s);

	/* A user name with ',' and '=' is escaped in the gs2 header; a
	 * non-printable byte in server text is masked. */
	EXPECT_INITIAL(SASL_MECH_OAUTHBEARER, "a,b=c", "tok",
	    "n,a=a=2Cb=3Dc,\001host=server.example.com\001"
	    "port=143\001auth=Bearer tok\001\001");
	ms_buf_reset(&out);
	client_init(&s, SASL_MECH_OAUTHBEARER, "a,b=c", "tok");
	assert_int_equal(sasl_client_initial(&s, &out, &err), MS_OK);
	ms_buf_reset(&out);
	assert_int_equal(sasl_client_step(&s, S("{\"x\":\"\r\n\"}"), &out,
	    &err), MS_OK);
	assert_int_equal(sasl_client_report_failure(&s, S("535 5.7.8\n"),
	    &err), MS_EAUTH);
	assert_non_null(strstr(err.msg, "{\"x\":\"??\"}"));
	assert_null(strchr(err.msg, '\n'));
	sasl_client_deinit(&s);
	ms_buf_deinit(&out);
}

static void
scram_start(struct sasl_client *s, struct ms_buf *out)
{
	struct ms_err err = { 0 };

	client_init(s, SASL_MECH_SCRAM_SHA_256, "user", "pencil");
	ms_buf_reset(out);
	assert_int_equal(sasl_client_initial(s, out, &err), MS_OK);
	ASSERT_BUF(out, RFC7677_CLIENT_FIRST);
	ms_buf_reset(out);
}

static void
test_sasl_scram_rfc7677(void **state)
{
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };

	ms_buf_init(&out, 4096);
	scram_start(&s, &out);
	assert_int_equal(sasl_client_step(&s, S(RFC7677_SERVER_FIRST), &out,
	    &err), MS_OK);
	ASSERT_BUF(&out, RFC7677_CLIENT_FINAL);
	/* The password is wiped as soon as the keys are derived. */
	for (size_t i = 0; i < s.secret_len; i++)
		assert_int_equal(s.secret[i], 0);
	ms_buf_reset(&out);
	/* server-final as a challenge (IMAP): an empty answer, then OK. */
	assert_int_equal(sasl_client_step(&s, S(RFC7677_SERVER_FINAL), &out,
	    &err), MS_OK);
	assert_int_equal(out.len, 0);
	assert_int_equal(sasl_client_finish(&s, NULL, &err), MS_OK);
	assert_int_equal(s.state, SASL_CLIENT_STATE_DONE);
	sasl_client_deinit(&s);

	/* server-final as success data (SMTP 235 / IMAP OK with data). */
	scram_start(&s, &out);
	assert_int_equal(sasl_client_step(&s, S(RFC7677_SERVER_FIRST), &out,
	    &err), MS_OK);
	assert_int_equal(sasl_client_finish(&s,
	    &S(RFC7677_SERVER_FINAL), &err), MS_OK);
	sasl_client_deinit(&s);

	/* The same through base64 on both sides. */
	scram_start(&s, &out);
	{
		struct ms_buf enc;

		ms_buf_init(&enc, 4096);
		assert_int_equal(ms_base64_encode(&enc, RFC7677_SERVER_FIRST,
		    strlen(RFC7677_SERVER_FIRST)), MS_OK);
		assert_int_equal(sasl_client_step_b64(&s, (struct ms_slice){
		    enc.p, enc.len }, &out, &err), MS_OK);
		ms_buf_reset(&enc);
		assert_int_equal(ms_base64_encode(&enc, RFC7677_CLIENT_FINAL,
		    strlen(RFC7677_CLIENT_FINAL)), MS_OK);
		assert_int_equal(out.len, enc.len);
		assert_memory_equal(out.p, enc.p, enc.len);
		ms_buf_reset(&enc);
		assert_int_equal(ms_base64_encode(&enc, RFC7677_SERVER_FINAL,
		    strlen(RFC7677_SERVER_FINAL)), MS_OK);
		assert_int_equal(sasl_client_finish_b64(&s, &(struct ms_slice){
		    enc.p, enc.len }, &err), MS_OK);
		ms_buf_deinit(&enc);
	}
	sasl_client_deinit(&s);
	ms_buf_deinit(&out);
}

/* Each tampered server-final must fail: the server is not who it claims. */
static void
test_sasl_scram_bad_server_final(void **state)
{
	static const char *const bad[] = {
		"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95A==",
		"v=",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
	};
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };

	ms_buf_init(&out, 4096);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		scram_start(&s, &out);
		assert_int_equal(sasl_client_step(&s, S(RFC7677_SERVER_FIRST),
		    &out, &err), MS_OK);
		assert_int_equal(sasl_client_step(&s,
		    ms_slice_from_cstr(bad[i]), &out, &err), MS_EAUTH);
		assert_non_null(strstr(err.msg, "server"));
		/* And the later OK does not make it a success. */
		assert_int_not_equal(sasl_client_finish(&s, NULL, &err),
		    MS_OK);
		sasl_client_deinit(&s);

		scram_start(&s, &out);
		assert_int_equal(sasl_client_step(&s, S(RFC7677_SERVER_FIRST),
		    &out, &err), MS_OK);
		assert_int_equal(sasl_client_finish(&s, &(struct ms_slice){
		    (const uint8_t *)bad[i], strlen(bad[i]) }, &err),
		    MS_EAUTH);
		sasl_client_deinit(&s);
	}

	/* Success without any server signature is no success. */
	scram_start(&s, &out);
	assert_int_equal(sasl_client_step(&s, S(RFC7677_SERVER_FIRST), &out,
	    &err), MS_OK);
	assert_int_equal(sasl_client_finish(&s, NULL, &err), MS_EAUTH);
	assert_non_null(strstr(err.msg, "without proving"));
	sasl_client_deinit(&s);

	/* e= in server-final is the server's refusal, with its reason. */
	scram_start(&s, &out);
	assert_int_equal(sasl_client_step(&s, S(RFC7677_SERVER_FIRST), &out,
	    &err), MS_OK);
	assert_int_equal(sasl_client_step(&s, S("e=invalid-proof"), &out,
	    &err), MS_EAUTH);
	assert_non_null(strstr(err.msg, "invalid-proof"));
	sasl_client_deinit(&s);
	ms_buf_deinit(&out);
}

static void
test_sasl_scram_bad_server_first(void **state)
{
	static const struct {
		const char *msg;
		int rc;
	} bad[] = {
		/* Nonce not extending ours, or not extending at all. */
		{ "r=XOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		    "i=4096", MS_EPROTO },
		{ "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		    MS_EPROTO },
		{ "r=rOprNGfwEbeRWgbNEkqO\x7fx,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		    "i=4096", MS_EPROTO },
		/* Iteration count out of bounds or malformed. */
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
		    MS_EPROTO },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		    "i=1000001", MS_EPROTO },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		    "i=99999999999", MS_EPROTO },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096",
		    MS_EPROTO },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
		    MS_EPROTO },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
		    MS_EPROTO },
		/* Salt missing, empty or malformed; wrong order. */
		{ "r=rOprNGfwEbeRWgbNEkqOx,i=4096", MS_EPROTO },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096", MS_EPROTO },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
		    MS_EPROTO },
		{ "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096",
		    MS_EPROTO },
		/* Trailing garbage, mandatory extension, server error. */
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,",
		    MS_EPROTO },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
		    "junk", MS_EPROTO },
		{ "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		    "i=4096", MS_EIMPL },
		{ "e=unknown-user", MS_EAUTH },
		{ "", MS_EPROTO },
	};
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };

	ms_buf_init(&out, 4096);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		scram_start(&s, &out);
		assert_int_equal(sasl_client_step(&s,
		    ms_slice_from_cstr(bad[i].msg), &out, &err), bad[i].rc);
		assert_int_equal(out.len, 0);
		assert_int_equal(err.code, bad[i].rc);
		sasl_client_deinit(&s);
	}
	/* Optional extensions after i= are fine. */
	scram_start(&s, &out);
	assert_int_equal(sasl_client_step(&s, S("r=rOprNGfwEbeRWgbNEkqOx,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=ext"), &out, &err), MS_OK);
	sasl_client_deinit(&s);
	ms_buf_deinit(&out);
}

static void
test_sasl_scram_params(void **state)
{
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };
	struct sasl_params p = {
		.user = S("user"),
		.secret = S("p\xc3\xa4ssword"),
		.crypto = &test_crypto,
	};

	assert_int_equal(sasl_client_init(&s, SASL_MECH_SCRAM_SHA_256, &p,
	    &err), MS_EIMPL);
	assert_non_null(strstr(err.msg, "SASLprep"));
	sasl_client_deinit(&s);
	p.secret = S("tab\there");
	assert_int_equal(sasl_client_init(&s, SASL_MECH_SCRAM_SHA_256, &p,
	    &err), MS_EINVAL);
	sasl_client_deinit(&s);
	p.secret = S("");
	assert_int_equal(sasl_client_init(&s, SASL_MECH_PLAIN, &p, &err),
	    MS_EINVAL);
	sasl_client_deinit(&s);

	/* Without SASL-IR: an empty first challenge, then the exchange,
	 * with ',' and '=' escaped in the user name. */
	ms_buf_init(&out, 4096);
	client_init(&s, SASL_MECH_SCRAM_SHA_256, "u,=", "pencil");
	assert_int_equal(sasl_client_step(&s, S(""), &out, &err), MS_OK);
	ASSERT_BUF(&out, "n,,n=u=2C=3D,r=" RFC7677_CNONCE);
	/* A second initial is a caller bug. */
	assert_int_equal(sasl_client_initial(&s, &out, &err), MS_EINVAL);
	sasl_client_deinit(&s);

	/* Custom iteration bounds. */
	p.secret = S("pencil");
	p.scram_min_iter = 8192;
	assert_int_equal(sasl_client_init(&s, SASL_MECH_SCRAM_SHA_256, &p,
	    &err), MS_OK);
	ms_buf_reset(&out);
	assert_int_equal(sasl_client_initial(&s, &out, &err), MS_OK);
	assert_int_equal(sasl_client_step(&s, S(RFC7677_SERVER_FIRST), &out,
	    &err), MS_EPROTO);
	assert_non_null(strstr(err.msg, "4096"));
	sasl_client_deinit(&s);
	ms_buf_deinit(&out);
}

/* Output bounded by the caller's buffer; nothing half-written. */
static void
test_sasl_out_bounds(void **state)
{
	struct sasl_client s;
	struct ms_buf out;
	struct ms_err err = { 0 };

	ms_buf_init(&out, 10);
	client_init(&s, SASL_MECH_PLAIN, "tim", "tanstaaftanstaaf");
	assert_int_equal(sasl_client_initial(&s, &out, &err), MS_ETOOBIG);
	assert_int_equal(out.len, 0);
	sasl_client_deinit(&s);
	client_init(&s, SASL_MECH_PLAIN, "tim", "tanstaaftanstaaf");
	assert_int_equal(sasl_client_initial_b64(&s, &out, &err), MS_ETOOBIG);
	assert_int_equal(out.len, 0);
	sasl_client_deinit(&s);
	/* Malformed base64 from the server. */
	client_init(&s, SASL_MECH_LOGIN, "tim", "x");
	assert_int_equal(sasl_client_step_b64(&s, S("VXNlcm5hbWU6="), &out,
	    &err), MS_EPROTO);
	assert_non_null(strstr(err.msg, "base64"));
	sasl_client_deinit(&s);
	ms_buf_deinit(&out);
}

static void
expect_select(const char *server, enum sasl_mech cfg, bool tls,
    bool token, int want_rc, enum sasl_mech want)
{
	enum sasl_mech got = SASL_MECH_AUTO;
	struct ms_err err = { 0 };
	int rc;

	rc = sasl_select(ms_slice_from_cstr(server), cfg, tls, token, &got,
	    &err);
	if (rc != want_rc)
		fail_msg("select(\"%s\", %s, tls=%d, token=%d) = %s (%s), "
		    "want %s", server, sasl_mech_name(cfg), tls, token,
		    ms_strerror(rc), err.msg, ms_strerror(want_rc));
	if (rc == MS_OK && got != want)
		fail_msg("select(\"%s\") picked %s, want %s", server,
		    sasl_mech_name(got), sasl_mech_name(want));
	if (rc != MS_OK)
		assert_int_equal(err.code, rc);
}

static void
test_sasl_select(void **state)
{
	const enum sasl_mech A = SASL_MECH_AUTO;
	struct ms_err err = { 0 };
	enum sasl_mech m;

	/* auto, password, TLS: strongest first. */
	expect_select("PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256", A, true, false,
	    MS_OK, SASL_MECH_SCRAM_SHA_256);
	expect_select("plain login cram-md5", A, true, false, MS_OK,
	    SASL_MECH_CRAM_MD5);
	expect_select("LOGIN PLAIN", A, true, false, MS_OK, SASL_MECH_PLAIN);
	expect_select("  LOGIN  ", A, true, false, MS_OK, SASL_MECH_LOGIN);
	expect_select("GSSAPI SCRAM-SHA-1 LOGIN", A, true, false, MS_OK,
	    SASL_MECH_LOGIN);
	/* Bearer mechanisms only for a token; OAUTHBEARER preferred. */
	expect_select("PLAIN XOAUTH2 OAUTHBEARER", A, true, false, MS_OK,
	    SASL_MECH_PLAIN);
	expect_select("PLAIN XOAUTH2 OAUTHBEARER", A, true, true, MS_OK,
	    SASL_MECH_OAUTHBEARER);
	expect_select("PLAIN XOAUTH2", A, true, true, MS_OK,
	    SASL_MECH_XOAUTH2);
	expect_select("PLAIN SCRAM-SHA-256", A, true, true, MS_EIMPL, 0);
	/* Without TLS: only the challenge-response mechanisms. */
	expect_select("PLAIN LOGIN SCRAM-SHA-256", A, false, false, MS_OK,
	    SASL_MECH_SCRAM_SHA_256);
	expect_select("PLAIN LOGIN CRAM-MD5", A, false, false, MS_OK,
	    SASL_MECH_CRAM_MD5);
	expect_select("PLAIN LOGIN", A, false, false, MS_ETLS, 0);
	expect_select("XOAUTH2 OAUTHBEARER", A, false, true, MS_ETLS, 0);
	expect_select("", A, true, false, MS_EIMPL, 0);
	expect_select("GSSAPI", A, true, false, MS_EIMPL, 0);
	/* Explicit choices. */
	expect_select("PLAIN LOGIN SCRAM-SHA-256", SASL_MECH_LOGIN, true,
	    false, MS_OK, SASL_MECH_LOGIN);
	expect_select("PLAIN LOGIN", SASL_MECH_PLAIN, false, false, MS_ETLS,
	    0);
	expect_select("PLAIN LOGIN", SASL_MECH_CRAM_MD5, true, false,
	    MS_EIMPL, 0);
	expect_select("OAUTHBEARER", SASL_MECH_XOAUTH2, true, true, MS_EIMPL,
	    0);
	expect_select("XOAUTH2", SASL_MECH_XOAUTH2, true, false, MS_ECONFIG,
	    0);
	expect_select("PLAIN", SASL_MECH_PLAIN, true, true, MS_ECONFIG, 0);
	expect_select("SCRAM-SHA-256", SASL_MECH_SCRAM_SHA_256, false, false,
	    MS_OK, SASL_MECH_SCRAM_SHA_256);

	/* The error names what the server offers. */
	assert_int_equal(sasl_select(S("PLAIN LOGIN"), SASL_MECH_CRAM_MD5,
	    true, false, &m, &err), MS_EIMPL);
	assert_non_null(strstr(err.msg, "CRAM-MD5"));
	assert_non_null(strstr(err.msg, "PLAIN LOGIN"));
	assert_int_equal(sasl_select(S(""), A, true, false, &m, &err),
	    MS_EIMPL);
	assert_non_null(strstr(err.msg, "(none)"));

	assert_true(sasl_may_use_login_command(true, false, &err));
	assert_false(sasl_may_use_login_command(false, false, &err));
	assert_int_equal(err.code, MS_ETLS);
	assert_false(sasl_may_use_login_command(true, true, &err));

	/* After refusals (imap4d offers SCRAM-SHA-256 it cannot do): the
	 * next offered one, never a refused one again. */
	assert_int_equal(sasl_select_next(S("SCRAM-SHA-256 CRAM-MD5 PLAIN"),
	    A, true, false, 1u << SASL_MECH_SCRAM_SHA_256, &m, &err), MS_OK);
	assert_int_equal(m, SASL_MECH_CRAM_MD5);
	assert_int_equal(sasl_select_next(S("SCRAM-SHA-256 CRAM-MD5 PLAIN"),
	    A, true, false, (1u << SASL_MECH_SCRAM_SHA_256) |
	    (1u << SASL_MECH_CRAM_MD5), &m, &err), MS_OK);
	assert_int_equal(m, SASL_MECH_PLAIN);
	assert_int_equal(sasl_select_next(S("SCRAM-SHA-256 PLAIN"), A, true,
	    false, (1u << SASL_MECH_SCRAM_SHA_256) | (1u << SASL_MECH_PLAIN),
	    &m, &err), MS_EIMPL);
	assert_non_null(strstr(err.msg, "was tried"));
	/* Plaintext stays held back without TLS, refusals or not. */
	assert_int_equal(sasl_select_next(S("SCRAM-SHA-256 PLAIN"), A, false,
	    false, 1u << SASL_MECH_SCRAM_SHA_256, &m, &err), MS_ETLS);
	/* A configured mechanism is what it is. */
	assert_int_equal(sasl_select_next(S("SCRAM-SHA-256 PLAIN"),
	    SASL_MECH_PLAIN, true, false, 1u << SASL_MECH_PLAIN, &m, &err),
	    MS_OK);
	assert_int_equal(m, SASL_MECH_PLAIN);
}

static void
test_sasl_mech_names(void **state)
{
	enum sasl_mech m;

	for (int i = SASL_MECH_AUTO; i <= SASL_MECH_SCRAM_SHA_256; i++) {
		assert_int_equal(sasl_mech_parse(ms_slice_from_cstr(
		    sasl_mech_name((enum sasl_mech)i)), &m), MS_OK);
		assert_int_equal(m, i);
	}
	assert_int_equal(sasl_mech_parse(S("scram-sha-256"), &m), MS_OK);
	assert_int_equal(m, SASL_MECH_SCRAM_SHA_256);
	assert_int_equal(sasl_mech_parse(S("auto"), &m), MS_OK);
	assert_int_equal(m, SASL_MECH_AUTO);
	assert_int_equal(sasl_mech_parse(S("PLAI"), &m), MS_EINVAL);
	assert_int_equal(sasl_mech_parse(S(""), &m), MS_EINVAL);
	assert_true(sasl_mech_is_plaintext(SASL_MECH_XOAUTH2));
	assert_false(sasl_mech_is_plaintext(SASL_MECH_CRAM_MD5));
}

/* The wipe helpers of common/ms.h clear every allocated byte. */
static void
test_sasl_wipe_helpers(void **state)
{
	struct ms_buf b;
	uint8_t *tmp = malloc(16);

	assert_non_null(tmp);
	memcpy(tmp, "secret-password", 16);
	ms_buf_init(&b, 100);
	assert_int_equal(ms_buf_append_wipe_free(&b, tmp, 16, 15), MS_OK);
	ASSERT_BUF(&b, "secret-password");
	assert_true(b.cap >= 16);
	ms_buf_wipe(&b);
	assert_int_equal(b.len, 0);
	for (size_t i = 0; i < b.cap; i++)
		assert_int_equal(b.p[i], 0);
	/* On a refused append the temporary is still wiped and freed
	 * (ASan reports a leak otherwise). */
	tmp = malloc(200);
	assert_non_null(tmp);
	memset(tmp, 'x', 200);
	assert_int_equal(ms_buf_append_wipe_free(&b, tmp, 200, 200),
	    MS_ETOOBIG);
	assert_int_equal(b.len, 0);
	ms_buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sasl_plain),
		cmocka_unit_test(test_sasl_login),
		cmocka_unit_test(test_sasl_cram_md5),
		cmocka_unit_test(test_sasl_xoauth2),
		cmocka_unit_test(test_sasl_oauthbearer),
		cmocka_unit_test(test_sasl_scram_rfc7677),
		cmocka_unit_test(test_sasl_scram_bad_server_final),
		cmocka_unit_test(test_sasl_scram_bad_server_first),
		cmocka_unit_test(test_sasl_scram_params),
		cmocka_unit_test(test_sasl_out_bounds),
		cmocka_unit_test(test_sasl_select),
		cmocka_unit_test(test_sasl_mech_names),
		cmocka_unit_test(test_sasl_wipe_helpers),
	};

	return cmocka_run_group_tests(tests, setup_crypto, NULL);
}
