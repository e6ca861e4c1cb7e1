/*
 * sasl_select.c - mechanism names and the choice of a mechanism from what
 * the server offers, the configuration and whether TLS is up.
 */
#include "sasl/sasl_private.h"

#include <stdio.h>
#include <string.h>

static const char *const sasl_mech_names[] = {
	[SASL_MECH_AUTO] = "AUTO",
	[SASL_MECH_PLAIN] = "PLAIN",
	[SASL_MECH_LOGIN] = "LOGIN",
	[SASL_MECH_CRAM_MD5] = "CRAM-MD5",
	[SASL_MECH_XOAUTH2] = "XOAUTH2",
	[SASL_MECH_OAUTHBEARER] = "OAUTHBEARER",
	[SASL_MECH_SCRAM_SHA_256] = "SCRAM-SHA-256",
};
#define SASL_MECH_COUNT (sizeof(sasl_mech_names) / sizeof(sasl_mech_names[0]))

/* auto's preference, strongest first, per kind of secret. */
static const enum sasl_mech sasl_password_order[] = {
	SASL_MECH_SCRAM_SHA_256, SASL_MECH_CRAM_MD5, SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
};
static const enum sasl_mech sasl_token_order[] = {
	SASL_MECH_OAUTHBEARER, SASL_MECH_XOAUTH2,
};

const char *
sasl_mech_name(enum sasl_mech mech)
{
	if ((size_t)mech >= SASL_MECH_COUNT)
		return "?";
	return sasl_mech_names[mech];
}

int
sasl_mech_parse(struct ms_slice name, enum sasl_mech *mech_r)
{
	for (size_t m = 0; m < SASL_MECH_COUNT; m++) {
		if (ms_slice_case_eq_cstr(name, sasl_mech_names[m])) {
			*mech_r = (enum sasl_mech)m;
			return MS_OK;
		}
	}
	return MS_EINVAL;
}

bool
sasl_mech_is_oauth(enum sasl_mech mech)
{
	return mech == SASL_MECH_XOAUTH2 || mech == SASL_MECH_OAUTHBEARER;
}

bool
sasl_mech_is_plaintext(enum sasl_mech mech)
{
	return mech == SASL_MECH_PLAIN || mech == SASL_MECH_LOGIN ||
	    sasl_mech_is_oauth(mech);
}

/* Bit (1 << mech) for every known mechanism in the space-separated list. */
static unsigned
sasl_offered_mask(struct ms_slice list)
{
	unsigned mask = 0;
	size_t i = 0;

	while (i < list.len) {
		size_t start;
		enum sasl_mech m;

		while (i < list.len && list.p[i] == ' ')
			i++;
		start = i;
		while (i < list.len && list.p[i] != ' ')
			i++;
		if (i > start && sasl_mech_parse((struct ms_slice){
		    list.p + start, i - start }, &m) == MS_OK &&
		    m != SASL_MECH_AUTO)
			mask |= 1u << m;
	}
	return mask;
}

/* The server's list, made printable, for error messages. */
static void
sasl_offered_text(struct ms_slice list, char *buf, size_t size)
{
	sasl__sanitize(buf, size, list);
	if (buf[0] == '\0')
		snprintf(buf, size, "(none)");
}

static int
sasl_select_configured(unsigned offered, const char *offered_text,
    enum sasl_mech configured, bool tls_active, bool have_oauth_token,
    enum sasl_mech *mech_r, struct ms_err *err_r)
{
	const char *name = sasl_mech_name(configured);

	if (sasl_mech_is_oauth(configured) && !have_oauth_token)
		return ms_err_set(err_r, MS_ECONFIG,
		    "auth = %s needs oauth_token_cmd", name);
	if (!sasl_mech_is_oauth(configured) && have_oauth_token)
		return ms_err_set(err_r, MS_ECONFIG,
		    "auth = %s needs a password, but the account has an "
		    "oauth_token_cmd", name);
	if ((offered & (1u << configured)) == 0)
		return ms_err_set(err_r, MS_EIMPL,
		    "the server does not offer the configured SASL mechanism "
		    "%s; it offers: %s", name, offered_text);
	if (sasl_mech_is_plaintext(configured) && !tls_active)
		return ms_err_set(err_r, MS_ETLS,
		    "refusing SASL %s without TLS: it would send the %s in "
		    "the clear", name, have_oauth_token ? "token" : "password");
	*mech_r = configured;
	return MS_OK;
}

int
sasl_select(struct ms_slice server_mechs, enum sasl_mech configured,
    bool tls_active, bool have_oauth_token, enum sasl_mech *mech_r,
    struct ms_err *err_r)
{
	return sasl_select_next(server_mechs, configured, tls_active,
	    have_oauth_token, 0, mech_r, err_r);
}

int
sasl_select_next(struct ms_slice server_mechs, enum sasl_mech configured,
    bool tls_active, bool have_oauth_token, unsigned tried,
    enum sasl_mech *mech_r, struct ms_err *err_r)
{
	const enum sasl_mech *order = have_oauth_token ? sasl_token_order :
	    sasl_password_order;
	size_t n = have_oauth_token ?
	    sizeof(sasl_token_order) / sizeof(sasl_token_order[0]) :
	    sizeof(sasl_password_order) / sizeof(sasl_password_order[0]);
	unsigned offered = sasl_offered_mask(server_mechs);
	bool held_back = false;
	char text[128];

	sasl_offered_text(server_mechs, text, sizeof(text));
	if ((size_t)configured >= SASL_MECH_COUNT)
		return ms_err_set(err_r, MS_EINVAL, "bad SASL mechanism");
	if (configured != SASL_MECH_AUTO)
		return sasl_select_configured(offered, text, configured,
		    tls_active, have_oauth_token, mech_r, err_r);
	for (size_t i = 0; i < n; i++) {
		if ((offered & (1u << order[i])) == 0 ||
		    (tried & (1u << order[i])) != 0)
			continue;
		if (sasl_mech_is_plaintext(order[i]) && !tls_active) {
			held_back = true;
			continue;
		}
		*mech_r = order[i];
		return MS_OK;
	}
	if ((offered & ~tried) == 0 && tried != 0)
		return ms_err_set(err_r, MS_EIMPL,
		    "every SASL mechanism the server offers (%s) was tried",
		    text);
	if (held_back)
		return ms_err_set(err_r, MS_ETLS,
		    "the server offers only plaintext SASL mechanisms (%s) "
		    "and TLS is not active: refusing to send the %s in the "
		    "clear", text, have_oauth_token ? "token" : "password");
	return ms_err_set(err_r, MS_EIMPL,
	    "no usable SASL mechanism for a %s; the server offers: %s",
	    have_oauth_token ? "bearer token" : "password", text);
}

bool
sasl_may_use_login_command(bool tls_active, bool have_oauth_token,
    struct ms_err *err_r)
{
	if (have_oauth_token) {
		ms_err_set(err_r, MS_EIMPL,
		    "a bearer token cannot be used with the plaintext login "
		    "command");
		return false;
	}
	if (!tls_active) {
		ms_err_set(err_r, MS_ETLS,
		    "refusing the plaintext login command without TLS");
		return false;
	}
	return true;
}
