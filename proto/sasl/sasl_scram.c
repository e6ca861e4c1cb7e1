/*
 * sasl_scram.c - SCRAM-SHA-256 client (RFC 5802, RFC 7677) without channel
 * binding: gs2 header "n,,", so the channel-binding attribute is "c=biws".
 *
 *	C: n,,n=user,r=CNONCE                     (client-first)
 *	S: r=CNONCE+SNONCE,s=SALT,i=ITER          (server-first)
 *	C: c=biws,r=CNONCE+SNONCE,p=PROOF         (client-final)
 *	S: v=SERVERSIGNATURE  or  e=error          (server-final)
 *
 * The iteration count is bounded both ways: too few makes a stolen
 * exchange cheap to brute-force, too many lets a hostile server burn our
 * CPU.  The server signature is the server's proof that it knows the
 * password; without it a man in the middle could accept any login.
 */
#include "sasl/sasl_private.h"

#include "common/base64.h"

#include <stdlib.h>
#include <string.h>

#define SCRAM_MAX_SALT 1024
/* AuthMessage and client-final stay well under this. */
#define SCRAM_MAX_MESSAGE (64 * 1024)

/* One "a=value" attribute of a SCRAM message. */
struct scram_attr {
	uint8_t name;
	struct ms_slice value;
};

/*
 * Reads the attribute at *pos and moves *pos past its comma.  Returns
 * MS_OK, MS_AGAIN at the end of msg, MS_EPROTO for a malformed attribute.
 */
static int
scram_next_attr(struct ms_slice msg, size_t *pos, struct scram_attr *attr)
{
	size_t i = *pos, end;
	const uint8_t *comma;

	if (i >= msg.len)
		return MS_AGAIN;
	if (msg.len - i < 2 || msg.p[i + 1] != '=' ||
	    !((msg.p[i] >= 'a' && msg.p[i] <= 'z') ||
	    (msg.p[i] >= 'A' && msg.p[i] <= 'Z')))
		return MS_EPROTO;
	comma = memchr(msg.p + i, ',', msg.len - i);
	end = comma != NULL ? (size_t)(comma - msg.p) : msg.len;
	attr->name = msg.p[i];
	attr->value = (struct ms_slice){ msg.p + i + 2, end - i - 2 };
	/* A trailing comma would promise an attribute that never comes. */
	if (comma != NULL && end + 1 == msg.len)
		return MS_EPROTO;
	*pos = comma != NULL ? end + 1 : msg.len;
	return MS_OK;
}

int
sasl__scram_check_creds(struct ms_slice user, struct ms_slice secret,
    struct ms_err *err_r)
{
	const struct ms_slice both[2] = { user, secret };

	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < both[k].len; i++) {
			uint8_t c = both[k].p[i];

			if (c >= 0x80)
				return ms_err_set(err_r, MS_EIMPL,
				    "SASL SCRAM-SHA-256: the %s contains "
				    "non-ASCII characters; SASLprep is only "
				    "implemented for ASCII",
				    k == 0 ? "user name" : "password");
			if (c < 0x20 || c == 0x7f)
				return ms_err_set(err_r, MS_EINVAL,
				    "SASL SCRAM-SHA-256: the %s contains a "
				    "control character, which SASLprep "
				    "prohibits",
				    k == 0 ? "user name" : "password");
		}
	}
	return MS_OK;
}

int
sasl__scram_initial(struct sasl_client *s, struct ms_buf *out,
    struct ms_err *err_r)
{
	uint8_t rnd[SASL_SCRAM_NONCE_BYTES];
	size_t before;
	int rc;

	if (s->crypto->random_bytes(rnd, sizeof(rnd), s->crypto->arg) != 0)
		return ms_err_set(err_r, MS_EINTERNAL,
		    "SASL SCRAM-SHA-256: no random bytes for the nonce");
	ms_buf_reset(&s->scram_bare);
	rc = ms_buf_append(&s->scram_bare, "n=", 2);
	if (rc == MS_OK)
		rc = sasl__append_saslname(&s->scram_bare, s->user,
		    s->user_len);
	if (rc == MS_OK)
		rc = ms_buf_append(&s->scram_bare, ",r=", 3);
	before = s->scram_bare.len;
	/* base64 of random bytes is printable and has no ',': a valid
	 * nonce as it is. */
	if (rc == MS_OK)
		rc = ms_base64_encode(&s->scram_bare, rnd, sizeof(rnd));
	explicit_bzero(rnd, sizeof(rnd));
	s->scram_nonce_len = s->scram_bare.len - before;
	if (rc == MS_OK && ms_buf_append(out, "n,,", 3) != MS_OK)
		rc = MS_ETOOBIG;
	if (rc == MS_OK)
		rc = ms_buf_append(out, s->scram_bare.p, s->scram_bare.len);
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "SASL SCRAM-SHA-256: %s",
		    ms_strerror(rc));
	return MS_OK;
}

/* Parses i=: decimal, no sign, no leading zero, within the bounds. */
static int
scram_parse_iter(struct sasl_client *s, struct ms_slice v, uint32_t *iter_r,
    struct ms_err *err_r)
{
	uint64_t n = 0;

	if (v.len == 0 || v.len > 10 || (v.p[0] == '0'))
		return ms_err_set(err_r, MS_EPROTO,
		    "SASL SCRAM-SHA-256: bad iteration count");
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return ms_err_set(err_r, MS_EPROTO,
			    "SASL SCRAM-SHA-256: bad iteration count");
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	if (n < s->scram_min_iter || n > s->scram_max_iter)
		return ms_err_set(err_r, MS_EPROTO,
		    "SASL SCRAM-SHA-256: server asks for %llu iterations, "
		    "outside the accepted %u..%u",
		    (unsigned long long)n, s->scram_min_iter,
		    s->scram_max_iter);
	*iter_r = (uint32_t)n;
	return MS_OK;
}

/* Checks r=: our nonce, followed by at least one server character, all
 * printable (%x21-7E except ','). */
static int
scram_check_nonce(struct sasl_client *s, struct ms_slice r,
    struct ms_err *err_r)
{
	const uint8_t *ours = s->scram_bare.p + s->scram_bare.len -
	    s->scram_nonce_len;

	if (r.len <= s->scram_nonce_len ||
	    memcmp(r.p, ours, s->scram_nonce_len) != 0)
		return ms_err_set(err_r, MS_EPROTO,
		    "SASL SCRAM-SHA-256: server nonce does not extend ours");
	for (size_t i = 0; i < r.len; i++)
		if (r.p[i] < 0x21 || r.p[i] > 0x7e)
			return ms_err_set(err_r, MS_EPROTO,
			    "SASL SCRAM-SHA-256: server nonce is not "
			    "printable");
	return MS_OK;
}

/* The server's e= text as an authentication error. */
static int
scram_server_error(struct ms_slice e, struct ms_err *err_r)
{
	char text[SASL_MAX_SERVER_ERROR + 1];

	sasl__sanitize(text, sizeof(text), e);
	return ms_err_set(err_r, MS_EAUTH,
	    "SASL SCRAM-SHA-256: server refused: %s", text);
}

/* Keys derived from the password; wiped as a whole after use. */
struct scram_keys {
	uint8_t salted[SASL_SHA256_LEN];
	uint8_t client_key[SASL_SHA256_LEN];
	uint8_t stored_key[SASL_SHA256_LEN];
	uint8_t server_key[SASL_SHA256_LEN];
	uint8_t client_sig[SASL_SHA256_LEN];
	uint8_t proof[SASL_SHA256_LEN];
};

static int
scram_compute(struct sasl_client *s, struct ms_slice salt, uint32_t iter,
    struct ms_slice auth_msg, struct scram_keys *k)
{
	const struct sasl_crypto *c = s->crypto;

	if (c->pbkdf2_hmac_sha256(s->secret, s->secret_len, salt.p, salt.len,
	    iter, k->salted, c->arg) != 0 ||
	    c->hmac_sha256(k->salted, sizeof(k->salted),
	    (const uint8_t *)"Client Key", 10, k->client_key, c->arg) != 0 ||
	    c->sha256(k->client_key, sizeof(k->client_key), k->stored_key,
	    c->arg) != 0 ||
	    c->hmac_sha256(k->stored_key, sizeof(k->stored_key), auth_msg.p,
	    auth_msg.len, k->client_sig, c->arg) != 0 ||
	    c->hmac_sha256(k->salted, sizeof(k->salted),
	    (const uint8_t *)"Server Key", 10, k->server_key, c->arg) != 0 ||
	    c->hmac_sha256(k->server_key, sizeof(k->server_key), auth_msg.p,
	    auth_msg.len, s->scram_server_sig, c->arg) != 0)
		return MS_EINTERNAL;
	for (size_t i = 0; i < SASL_SHA256_LEN; i++)
		k->proof[i] = k->client_key[i] ^ k->client_sig[i];
	return MS_OK;
}

int
sasl__scram_server_first(struct sasl_client *s, struct ms_slice msg,
    struct ms_buf *out, struct ms_err *err_r)
{
	struct scram_attr r, a;
	struct ms_buf salt, auth, final;
	struct scram_keys k;
	size_t pos = 0, wo_proof_at;
	uint32_t iter = 0;
	int rc;

	rc = scram_next_attr(msg, &pos, &r);
	if (rc == MS_OK && r.name == 'e')
		return scram_server_error(r.value, err_r);
	if (rc == MS_OK && r.name == 'm')
		return ms_err_set(err_r, MS_EIMPL,
		    "SASL SCRAM-SHA-256: server requires an unsupported "
		    "extension");
	if (rc != MS_OK || r.name != 'r')
		return ms_err_set(err_r, MS_EPROTO,
		    "SASL SCRAM-SHA-256: malformed server-first message");
	rc = scram_check_nonce(s, r.value, err_r);
	if (rc != MS_OK)
		return rc;
	if (scram_next_attr(msg, &pos, &a) != MS_OK || a.name != 's')
		return ms_err_set(err_r, MS_EPROTO,
		    "SASL SCRAM-SHA-256: server-first lacks the salt");
	ms_buf_init(&salt, SCRAM_MAX_SALT);
	rc = ms_base64_decode(&salt, a.value.p, a.value.len);
	if (rc != MS_OK || salt.len == 0) {
		ms_buf_deinit(&salt);
		return ms_err_set(err_r, MS_EPROTO,
		    "SASL SCRAM-SHA-256: bad salt in server-first");
	}
	if (scram_next_attr(msg, &pos, &a) != MS_OK || a.name != 'i') {
		ms_buf_deinit(&salt);
		return ms_err_set(err_r, MS_EPROTO,
		    "SASL SCRAM-SHA-256: server-first lacks the iteration "
		    "count");
	}
	rc = scram_parse_iter(s, a.value, &iter, err_r);
	if (rc != MS_OK) {
		ms_buf_deinit(&salt);
		return rc;
	}
	/* Later attributes are optional extensions; they must still be
	 * well-formed. */
	while ((rc = scram_next_attr(msg, &pos, &a)) == MS_OK)
		;
	if (rc != MS_AGAIN) {
		ms_buf_deinit(&salt);
		return ms_err_set(err_r, MS_EPROTO,
		    "SASL SCRAM-SHA-256: malformed server-first message");
	}

	/* AuthMessage = client-first-bare "," server-first ","
	 * client-final-without-proof; the last part is also the start of
	 * our answer. */
	ms_buf_init(&auth, SCRAM_MAX_MESSAGE);
	ms_buf_init(&final, SCRAM_MAX_MESSAGE);
	rc = ms_buf_append(&auth, s->scram_bare.p, s->scram_bare.len);
	if (rc == MS_OK)
		rc = ms_buf_append(&auth, ",", 1);
	if (rc == MS_OK)
		rc = ms_buf_append(&auth, msg.p, msg.len);
	if (rc == MS_OK)
		rc = ms_buf_append(&auth, ",", 1);
	wo_proof_at = auth.len;
	if (rc == MS_OK)
		rc = ms_buf_append(&auth, "c=biws,r=", 9);
	if (rc == MS_OK)
		rc = ms_buf_append(&auth, r.value.p, r.value.len);
	if (rc == MS_OK)
		rc = scram_compute(s, (struct ms_slice){ salt.p, salt.len },
		    iter, (struct ms_slice){ auth.p, auth.len }, &k);
	/* The password is no longer needed once the keys exist. */
	explicit_bzero(s->secret, s->secret_len);
	if (rc == MS_OK)
		rc = ms_buf_append(&final, auth.p + wo_proof_at,
		    auth.len - wo_proof_at);
	if (rc == MS_OK)
		rc = ms_buf_append(&final, ",p=", 3);
	if (rc == MS_OK)
		rc = ms_base64_encode(&final, k.proof, sizeof(k.proof));
	if (rc == MS_OK)
		rc = ms_buf_append(out, final.p, final.len);
	explicit_bzero(&k, sizeof(k));
	ms_buf_deinit(&salt);
	ms_buf_deinit(&auth);
	ms_buf_wipe(&final);
	ms_buf_deinit(&final);
	if (rc != MS_OK) {
		explicit_bzero(s->scram_server_sig,
		    sizeof(s->scram_server_sig));
		return ms_err_set(err_r, rc,
		    "SASL SCRAM-SHA-256: cannot build client-final: %s",
		    ms_strerror(rc));
	}
	return MS_OK;
}

int
sasl__scram_server_final(struct sasl_client *s, struct ms_slice msg,
    struct ms_err *err_r)
{
	struct scram_attr a;
	struct ms_buf v;
	size_t pos = 0;
	uint8_t diff = 0;
	int rc;

	rc = scram_next_attr(msg, &pos, &a);
	if (rc == MS_OK && a.name == 'e')
		return scram_server_error(a.value, err_r);
	if (rc != MS_OK || a.name != 'v')
		return ms_err_set(err_r, MS_EPROTO,
		    "SASL SCRAM-SHA-256: malformed server-final message");
	ms_buf_init(&v, SASL_SHA256_LEN);
	rc = ms_base64_decode(&v, a.value.p, a.value.len);
	if (rc != MS_OK || v.len != SASL_SHA256_LEN) {
		ms_buf_deinit(&v);
		return ms_err_set(err_r, MS_EAUTH,
		    "SASL SCRAM-SHA-256: malformed server signature: the "
		    "server did not prove it knows the password");
	}
	/* Constant time, though the value is no secret once we sent the
	 * proof: it costs nothing. */
	for (size_t i = 0; i < SASL_SHA256_LEN; i++)
		diff |= v.p[i] ^ s->scram_server_sig[i];
	ms_buf_deinit(&v);
	if (diff != 0)
		return ms_err_set(err_r, MS_EAUTH,
		    "SASL SCRAM-SHA-256: wrong server signature: the server "
		    "is not who it claims to be (or does not know the "
		    "password)");
	s->server_verified = true;
	return MS_OK;
}
