/*
 * sasl.c - the SASL client exchange: init, the state machine, the simple
 * mechanisms (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER) and the base64
 * wrappers.  SCRAM lives in sasl_scram.c, mechanism choice in sasl_select.c.
 */
#include "sasl/sasl_private.h"

#include "common/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sasl_client_state_names[] = {
	[SASL_CLIENT_STATE_START] = "START",
	[SASL_CLIENT_STATE_LOGIN_PASSWORD] = "LOGIN_PASSWORD",
	[SASL_CLIENT_STATE_SCRAM_SERVER_FIRST] = "SCRAM_SERVER_FIRST",
	[SASL_CLIENT_STATE_SCRAM_SERVER_FINAL] = "SCRAM_SERVER_FINAL",
	[SASL_CLIENT_STATE_WAIT_OUTCOME] = "WAIT_OUTCOME",
	[SASL_CLIENT_STATE_OAUTH_ERROR] = "OAUTH_ERROR",
	[SASL_CLIENT_STATE_DONE] = "DONE",
	[SASL_CLIENT_STATE_FAILED] = "FAILED",
};

const char *
sasl_client_state_name(enum sasl_client_state state)
{
	if ((size_t)state >= sizeof(sasl_client_state_names) /
	    sizeof(sasl_client_state_names[0]))
		return "?";
	return sasl_client_state_names[state];
}

void
sasl__set_state(struct sasl_client *s, enum sasl_client_state state)
{
	s->state = state;
}

void
sasl__sanitize(char *dst, size_t dst_size, struct ms_slice src)
{
	size_t n = 0;

	if (dst_size == 0)
		return;
	for (size_t i = 0; i < src.len && n + 1 < dst_size; i++)
		dst[n++] = (src.p[i] >= 0x20 && src.p[i] < 0x7f) ?
		    (char)src.p[i] : '?';
	dst[n] = '\0';
}

/* Frees a copied credential after wiping it. */
static void
sasl_client_free_copy(uint8_t **pp, size_t *len)
{
	if (*pp != NULL) {
		explicit_bzero(*pp, *len + 1);
		free(*pp);
	}
	*pp = NULL;
	*len = 0;
}

static int
sasl_client_copy(uint8_t **dst_r, size_t *len_r, struct ms_slice src)
{
	uint8_t *p = malloc(src.len + 1);

	if (p == NULL)
		return MS_ENOMEM;
	if (src.len > 0)
		memcpy(p, src.p, src.len);
	p[src.len] = '\0';
	*dst_r = p;
	*len_r = src.len;
	return MS_OK;
}

static bool
sasl_slice_has_byte(struct ms_slice s, uint8_t c)
{
	return s.len > 0 && memchr(s.p, c, s.len) != NULL;
}

/* Checks the credentials against what the mechanism can carry. */
static int
sasl_client_check_params(enum sasl_mech mech, const struct sasl_params *p,
    struct ms_err *err_r)
{
	const struct sasl_crypto *c = p->crypto;

	if (mech == SASL_MECH_AUTO || mech > SASL_MECH_SCRAM_SHA_256)
		return ms_err_set(err_r, MS_EINVAL,
		    "SASL: no mechanism chosen");
	if (p->user.len == 0 || p->secret.len == 0)
		return ms_err_set(err_r, MS_EINVAL,
		    "SASL %s: empty user name or %s", sasl_mech_name(mech),
		    sasl_mech_is_oauth(mech) ? "token" : "password");
	if (p->user.len > SASL_MAX_USER || p->secret.len > SASL_MAX_SECRET ||
	    p->host.len > SASL_MAX_HOST)
		return ms_err_set(err_r, MS_EINVAL,
		    "SASL %s: user name, secret or host too long",
		    sasl_mech_name(mech));
	/* A NUL would end the field early in PLAIN and confuses servers
	 * everywhere else; ^A is the OAuth field separator. */
	if (sasl_slice_has_byte(p->user, 0) ||
	    sasl_slice_has_byte(p->secret, 0))
		return ms_err_set(err_r, MS_EINVAL,
		    "SASL %s: user name or secret contains a NUL byte",
		    sasl_mech_name(mech));
	if (sasl_mech_is_oauth(mech) && (sasl_slice_has_byte(p->user, 1) ||
	    sasl_slice_has_byte(p->secret, 1) ||
	    sasl_slice_has_byte(p->host, 1)))
		return ms_err_set(err_r, MS_EINVAL,
		    "SASL %s: user, token or host contains a ^A byte",
		    sasl_mech_name(mech));
	if (mech == SASL_MECH_CRAM_MD5 && (c == NULL || c->hmac_md5 == NULL))
		return ms_err_set(err_r, MS_EINVAL,
		    "SASL CRAM-MD5: no HMAC-MD5 implementation");
	if (mech == SASL_MECH_SCRAM_SHA_256 && (c == NULL ||
	    c->hmac_sha256 == NULL || c->sha256 == NULL ||
	    c->pbkdf2_hmac_sha256 == NULL || c->random_bytes == NULL))
		return ms_err_set(err_r, MS_EINVAL,
		    "SASL SCRAM-SHA-256: crypto hooks missing");
	if (mech == SASL_MECH_SCRAM_SHA_256)
		return sasl__scram_check_creds(p->user, p->secret, err_r);
	return MS_OK;
}

int
sasl_client_init(struct sasl_client *s, enum sasl_mech mech,
    const struct sasl_params *params, struct ms_err *err_r)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->mech = mech;
	s->state = SASL_CLIENT_STATE_START;
	ms_buf_init(&s->scram_bare, 2 * SASL_MAX_SECRET + 4 * SASL_MAX_USER);
	rc = sasl_client_check_params(mech, params, err_r);
	if (rc != MS_OK)
		return rc;
	s->crypto = params->crypto;
	s->port = params->port;
	s->scram_min_iter = params->scram_min_iter ? params->scram_min_iter :
	    SASL_SCRAM_MIN_ITER_DEFAULT;
	s->scram_max_iter = params->scram_max_iter ? params->scram_max_iter :
	    SASL_SCRAM_MAX_ITER_DEFAULT;
	if (sasl_client_copy(&s->user, &s->user_len, params->user) != MS_OK ||
	    sasl_client_copy(&s->secret, &s->secret_len,
	    params->secret) != MS_OK ||
	    sasl_client_copy(&s->host, &s->host_len, params->host) != MS_OK)
		return ms_err_set(err_r, MS_ENOMEM, "SASL: out of memory");
	return MS_OK;
}

void
sasl_client_deinit(struct sasl_client *s)
{
	sasl_client_free_copy(&s->user, &s->user_len);
	sasl_client_free_copy(&s->secret, &s->secret_len);
	sasl_client_free_copy(&s->host, &s->host_len);
	ms_buf_wipe(&s->scram_bare);
	ms_buf_deinit(&s->scram_bare);
	explicit_bzero(s, sizeof(*s));
}

/* PLAIN (RFC 4616): authzid NUL authcid NUL passwd, authzid empty. */
static int
sasl_plain_response(struct sasl_client *s, struct ms_buf *out)
{
	size_t len = 2 + s->user_len + s->secret_len;
	uint8_t *p = malloc(len);

	if (p == NULL)
		return MS_ENOMEM;
	p[0] = '\0';
	memcpy(p + 1, s->user, s->user_len);
	p[1 + s->user_len] = '\0';
	memcpy(p + 2 + s->user_len, s->secret, s->secret_len);
	return ms_buf_append_wipe_free(out, p, len, len);
}

/* Length of user in RFC 5802 saslname form (',' -> =2C, '=' -> =3D). */
static size_t
sasl_saslname_len(const uint8_t *p, size_t len)
{
	size_t n = len;

	for (size_t i = 0; i < len; i++)
		if (p[i] == ',' || p[i] == '=')
			n += 2;
	return n;
}

static size_t
sasl_saslname_write(uint8_t *dst, const uint8_t *p, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == ',' || p[i] == '=') {
			dst[o++] = '=';
			dst[o++] = p[i] == ',' ? '2' : '3';
			dst[o++] = p[i] == ',' ? 'C' : 'D';
		} else {
			dst[o++] = p[i];
		}
	}
	return o;
}

int
sasl__append_saslname(struct ms_buf *out, const uint8_t *p, size_t len)
{
	size_t n = sasl_saslname_len(p, len);
	uint8_t *tmp = malloc(n + 1);

	if (tmp == NULL)
		return MS_ENOMEM;
	sasl_saslname_write(tmp, p, len);
	return ms_buf_append_wipe_free(out, tmp, n + 1, n);
}

/*
 * XOAUTH2: "user=" u ^A "auth=Bearer " token ^A ^A.
 * OAUTHBEARER (RFC 7628 3.1): gs2 header "n,a=" saslname "," then ^A,
 * then "host=" h ^A "port=" p ^A (both optional), "auth=Bearer " token,
 * ^A ^A.
 */
static int
sasl_oauth_response(struct sasl_client *s, struct ms_buf *out)
{
	static const char bearer[] = "auth=Bearer ";
	char portbuf[16] = "";
	size_t len, o = 0;
	uint8_t *p;

	if (s->mech == SASL_MECH_XOAUTH2) {
		len = 5 + s->user_len + 1 + (sizeof(bearer) - 1) +
		    s->secret_len + 2;
	} else {
		if (s->port != 0)
			snprintf(portbuf, sizeof(portbuf), "port=%u\001",
			    (unsigned)s->port);
		len = 4 + sasl_saslname_len(s->user, s->user_len) + 2 +
		    (s->host_len > 0 ? 5 + s->host_len + 1 : 0) +
		    strlen(portbuf) + (sizeof(bearer) - 1) + s->secret_len +
		    2;
	}
	p = malloc(len);
	if (p == NULL)
		return MS_ENOMEM;
	if (s->mech == SASL_MECH_XOAUTH2) {
		memcpy(p + o, "user=", 5);
		o += 5;
		memcpy(p + o, s->user, s->user_len);
		o += s->user_len;
		p[o++] = 1;
	} else {
		memcpy(p + o, "n,a=", 4);
		o += 4;
		o += sasl_saslname_write(p + o, s->user, s->user_len);
		p[o++] = ',';
		p[o++] = 1;
		if (s->host_len > 0) {
			memcpy(p + o, "host=", 5);
			o += 5;
			memcpy(p + o, s->host, s->host_len);
			o += s->host_len;
			p[o++] = 1;
		}
		memcpy(p + o, portbuf, strlen(portbuf));
		o += strlen(portbuf);
	}
	memcpy(p + o, bearer, sizeof(bearer) - 1);
	o += sizeof(bearer) - 1;
	memcpy(p + o, s->secret, s->secret_len);
	o += s->secret_len;
	p[o++] = 1;
	p[o++] = 1;
	return ms_buf_append_wipe_free(out, p, len, o);
}

/* CRAM-MD5 (RFC 2195): user SP hex(HMAC-MD5(password, challenge)). */
static int
sasl_cram_md5_response(struct sasl_client *s, struct ms_slice challenge,
    struct ms_buf *out, struct ms_err *err_r)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[SASL_MD5_LEN];
	size_t len = s->user_len + 1 + 2 * SASL_MD5_LEN, o;
	uint8_t *p;
	int rc;

	if (challenge.len == 0)
		return ms_err_set(err_r, MS_EPROTO,
		    "SASL CRAM-MD5: server sent an empty challenge");
	if (s->crypto->hmac_md5(s->secret, s->secret_len, challenge.p,
	    challenge.len, mac, s->crypto->arg) != 0)
		return ms_err_set(err_r, MS_EINTERNAL,
		    "SASL CRAM-MD5: HMAC-MD5 failed");
	p = malloc(len);
	if (p == NULL) {
		explicit_bzero(mac, sizeof(mac));
		return ms_err_set(err_r, MS_ENOMEM, "SASL: out of memory");
	}
	memcpy(p, s->user, s->user_len);
	o = s->user_len;
	p[o++] = ' ';
	for (size_t i = 0; i < SASL_MD5_LEN; i++) {
		p[o++] = (uint8_t)hex[mac[i] >> 4];
		p[o++] = (uint8_t)hex[mac[i] & 15];
	}
	explicit_bzero(mac, sizeof(mac));
	rc = ms_buf_append_wipe_free(out, p, len, o);
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "SASL CRAM-MD5: %s",
		    ms_strerror(rc));
	return MS_OK;
}

static bool
sasl_mech_has_initial(enum sasl_mech mech)
{
	return mech == SASL_MECH_PLAIN || mech == SASL_MECH_XOAUTH2 ||
	    mech == SASL_MECH_OAUTHBEARER || mech == SASL_MECH_SCRAM_SHA_256;
}

/* Produces the initial response of a client-first mechanism. */
static int
sasl_client_first(struct sasl_client *s, struct ms_buf *out,
    struct ms_err *err_r)
{
	int rc;

	switch (s->mech) {
	case SASL_MECH_PLAIN:
		rc = sasl_plain_response(s, out);
		break;
	case SASL_MECH_XOAUTH2:
	case SASL_MECH_OAUTHBEARER:
		rc = sasl_oauth_response(s, out);
		break;
	case SASL_MECH_SCRAM_SHA_256:
		rc = sasl__scram_initial(s, out, err_r);
		if (rc == MS_OK)
			sasl__set_state(s,
			    SASL_CLIENT_STATE_SCRAM_SERVER_FIRST);
		return rc;
	default:
		return ms_err_set(err_r, MS_EINTERNAL,
		    "SASL: no initial response for %s",
		    sasl_mech_name(s->mech));
	}
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "SASL %s: cannot build response: %s",
		    sasl_mech_name(s->mech), ms_strerror(rc));
	sasl__set_state(s, SASL_CLIENT_STATE_WAIT_OUTCOME);
	return MS_OK;
}

int
sasl_client_initial(struct sasl_client *s, struct ms_buf *out,
    struct ms_err *err_r)
{
	if (s->state != SASL_CLIENT_STATE_START)
		return ms_err_set(err_r, MS_EINVAL,
		    "SASL: initial response requested in state %s",
		    sasl_client_state_name(s->state));
	if (!sasl_mech_has_initial(s->mech))
		return MS_AGAIN;
	return sasl_client_first(s, out, err_r);
}

/* A challenge at the start: client-first mechanisms expect it empty
 * (server without SASL-IR), LOGIN and CRAM-MD5 answer it. */
static int
sasl_client_step_start(struct sasl_client *s, struct ms_slice challenge,
    struct ms_buf *out, struct ms_err *err_r)
{
	int rc;

	if (sasl_mech_has_initial(s->mech)) {
		if (challenge.len != 0)
			return ms_err_set(err_r, MS_EPROTO,
			    "SASL %s: server sent a non-empty first challenge",
			    sasl_mech_name(s->mech));
		return sasl_client_first(s, out, err_r);
	}
	if (s->mech == SASL_MECH_LOGIN) {
		/* The challenge text ("Username:") varies between servers
		 * and is not looked at: the step decides the answer. */
		rc = ms_buf_append(out, s->user, s->user_len);
		if (rc != MS_OK)
			return ms_err_set(err_r, rc, "SASL LOGIN: %s",
			    ms_strerror(rc));
		sasl__set_state(s, SASL_CLIENT_STATE_LOGIN_PASSWORD);
		return MS_OK;
	}
	rc = sasl_cram_md5_response(s, challenge, out, err_r);
	sasl__set_state(s, rc == MS_OK ? SASL_CLIENT_STATE_WAIT_OUTCOME :
	    SASL_CLIENT_STATE_FAILED);
	return rc;
}

/* An OAuth error challenge: keep the JSON, send the dummy response. */
static int
sasl_client_oauth_error(struct sasl_client *s, struct ms_slice challenge,
    struct ms_buf *out, struct ms_err *err_r)
{
	int rc = MS_OK;

	sasl__sanitize(s->server_error, sizeof(s->server_error), challenge);
	if (s->mech == SASL_MECH_OAUTHBEARER)
		rc = ms_buf_append(out, "\001", 1);
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "SASL %s: %s",
		    sasl_mech_name(s->mech), ms_strerror(rc));
	sasl__set_state(s, SASL_CLIENT_STATE_OAUTH_ERROR);
	return MS_OK;
}

int
sasl_client_step(struct sasl_client *s, struct ms_slice challenge,
    struct ms_buf *out, struct ms_err *err_r)
{
	int rc;

	switch (s->state) {
	case SASL_CLIENT_STATE_START:
		return sasl_client_step_start(s, challenge, out, err_r);
	case SASL_CLIENT_STATE_LOGIN_PASSWORD:
		rc = ms_buf_append(out, s->secret, s->secret_len);
		if (rc != MS_OK)
			return ms_err_set(err_r, rc, "SASL LOGIN: %s",
			    ms_strerror(rc));
		sasl__set_state(s, SASL_CLIENT_STATE_WAIT_OUTCOME);
		return MS_OK;
	case SASL_CLIENT_STATE_SCRAM_SERVER_FIRST:
		rc = sasl__scram_server_first(s, challenge, out, err_r);
		if (rc == MS_OK)
			sasl__set_state(s,
			    SASL_CLIENT_STATE_SCRAM_SERVER_FINAL);
		else
			sasl__set_state(s, SASL_CLIENT_STATE_FAILED);
		return rc;
	case SASL_CLIENT_STATE_SCRAM_SERVER_FINAL:
		/* server-final as a challenge; the empty response lets
		 * the server send its tagged OK. */
		rc = sasl__scram_server_final(s, challenge, err_r);
		sasl__set_state(s, rc == MS_OK ?
		    SASL_CLIENT_STATE_WAIT_OUTCOME : SASL_CLIENT_STATE_FAILED);
		return rc;
	case SASL_CLIENT_STATE_WAIT_OUTCOME:
		if (sasl_mech_is_oauth(s->mech))
			return sasl_client_oauth_error(s, challenge, out,
			    err_r);
		break;
	case SASL_CLIENT_STATE_OAUTH_ERROR:
		break;
	case SASL_CLIENT_STATE_DONE:
	case SASL_CLIENT_STATE_FAILED:
		return ms_err_set(err_r, MS_EINVAL,
		    "SASL %s: exchange already over",
		    sasl_mech_name(s->mech));
	}
	sasl__set_state(s, SASL_CLIENT_STATE_FAILED);
	return ms_err_set(err_r, MS_EPROTO,
	    "SASL %s: unexpected challenge from the server",
	    sasl_mech_name(s->mech));
}

int
sasl_client_finish(struct sasl_client *s, const struct ms_slice *additional,
    struct ms_err *err_r)
{
	int rc;

	if (s->state == SASL_CLIENT_STATE_DONE ||
	    s->state == SASL_CLIENT_STATE_FAILED)
		return ms_err_set(err_r, MS_EINVAL,
		    "SASL %s: exchange already over",
		    sasl_mech_name(s->mech));
	if (s->mech != SASL_MECH_SCRAM_SHA_256) {
		sasl__set_state(s, SASL_CLIENT_STATE_DONE);
		return MS_OK;
	}
	/* SCRAM: success counts only once the server has proven that it
	 * knows the password; a server-final may ride on the success. */
	if (!s->server_verified && additional != NULL &&
	    s->state == SASL_CLIENT_STATE_SCRAM_SERVER_FINAL) {
		rc = sasl__scram_server_final(s, *additional, err_r);
		if (rc != MS_OK) {
			sasl__set_state(s, SASL_CLIENT_STATE_FAILED);
			return rc;
		}
	}
	if (!s->server_verified) {
		sasl__set_state(s, SASL_CLIENT_STATE_FAILED);
		return ms_err_set(err_r, MS_EAUTH,
		    "SASL SCRAM-SHA-256: server reported success without "
		    "proving it knows the password (no server signature)");
	}
	sasl__set_state(s, SASL_CLIENT_STATE_DONE);
	return MS_OK;
}

int
sasl_client_report_failure(struct sasl_client *s,
    struct ms_slice server_text, struct ms_err *err_r)
{
	char text[SASL_MAX_SERVER_ERROR + 1];

	sasl__sanitize(text, sizeof(text), server_text);
	sasl__set_state(s, SASL_CLIENT_STATE_FAILED);
	if (s->server_error[0] != '\0')
		return ms_err_set(err_r, MS_EAUTH,
		    "SASL %s authentication failed: %s (server error: %s)",
		    sasl_mech_name(s->mech), text[0] ? text : "no text",
		    s->server_error);
	return ms_err_set(err_r, MS_EAUTH,
	    "SASL %s authentication failed: %s", sasl_mech_name(s->mech),
	    text[0] ? text : "no text");
}

/*
 * The base64 wrappers keep decoded challenges and raw responses in
 * temporaries that are wiped, so that the secret reaches the caller only
 * in encoded form.
 */
static int
sasl_b64_decode(struct sasl_client *s, struct ms_slice in, struct ms_buf *dec,
    struct ms_err *err_r)
{
	int rc;

	ms_buf_init(dec, ms_base64_decoded_max(in.len));
	rc = ms_base64_decode(dec, in.p, in.len);
	if (rc == MS_EPROTO)
		return ms_err_set(err_r, rc,
		    "SASL %s: server sent malformed base64",
		    sasl_mech_name(s->mech));
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "SASL %s: %s",
		    sasl_mech_name(s->mech), ms_strerror(rc));
	return MS_OK;
}

static int
sasl_b64_encode_out(struct sasl_client *s, int rc, struct ms_buf *raw,
    struct ms_buf *out, struct ms_err *err_r)
{
	if (rc == MS_OK && raw->len > 0) {
		rc = ms_base64_encode(out, raw->p, raw->len);
		if (rc != MS_OK)
			ms_err_set(err_r, rc, "SASL %s: response: %s",
			    sasl_mech_name(s->mech), ms_strerror(rc));
	}
	ms_buf_wipe(raw);
	ms_buf_deinit(raw);
	return rc;
}

int
sasl_client_initial_b64(struct sasl_client *s, struct ms_buf *out,
    struct ms_err *err_r)
{
	struct ms_buf raw;
	int rc;

	ms_buf_init(&raw, ms_base64_decoded_max(out->max - out->len));
	rc = sasl_client_initial(s, &raw, err_r);
	return sasl_b64_encode_out(s, rc, &raw, out, err_r);
}

int
sasl_client_step_b64(struct sasl_client *s, struct ms_slice challenge_b64,
    struct ms_buf *out, struct ms_err *err_r)
{
	struct ms_buf dec, raw;
	int rc;

	rc = sasl_b64_decode(s, challenge_b64, &dec, err_r);
	if (rc != MS_OK) {
		ms_buf_deinit(&dec);
		sasl__set_state(s, SASL_CLIENT_STATE_FAILED);
		return rc;
	}
	ms_buf_init(&raw, ms_base64_decoded_max(out->max - out->len));
	rc = sasl_client_step(s, (struct ms_slice){ dec.p, dec.len }, &raw,
	    err_r);
	ms_buf_wipe(&dec);
	ms_buf_deinit(&dec);
	return sasl_b64_encode_out(s, rc, &raw, out, err_r);
}

int
sasl_client_finish_b64(struct sasl_client *s,
    const struct ms_slice *additional_b64, struct ms_err *err_r)
{
	struct ms_buf dec;
	struct ms_slice add;
	int rc;

	if (additional_b64 == NULL)
		return sasl_client_finish(s, NULL, err_r);
	rc = sasl_b64_decode(s, *additional_b64, &dec, err_r);
	if (rc == MS_OK) {
		add = (struct ms_slice){ dec.p, dec.len };
		rc = sasl_client_finish(s, &add, err_r);
	} else {
		sasl__set_state(s, SASL_CLIENT_STATE_FAILED);
	}
	ms_buf_deinit(&dec);
	return rc;
}
