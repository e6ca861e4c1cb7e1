/*
 * acct_engine.c - which engine serves a protocol, and what every engine
 * makes of the account's configuration the same way (acct_engine.h).
 */
#include "acct/acct_engine.h"

#include <stdlib.h>

const struct acct_engine_ops *
acct_engine_for(enum cfg_protocol protocol)
{
	switch (protocol) {
	case CFG_PROTOCOL_IMAP:
		return &acct_imap_ops;
	case CFG_PROTOCOL_POP3:
		return &acct_pop3_ops;
	case CFG_PROTOCOL_SMTP:
		/* Send-only: no runtime; the account's sender delivers
		 * (send/send_queue.h). */
		return NULL;
	}
	return NULL;
}

enum sasl_mech
acct_engine_sasl_mech(enum cfg_auth a)
{
	switch (a) {
	case CFG_AUTH_AUTO: return SASL_MECH_AUTO;
	case CFG_AUTH_PLAIN: return SASL_MECH_PLAIN;
	case CFG_AUTH_LOGIN: return SASL_MECH_LOGIN;
	case CFG_AUTH_XOAUTH2: return SASL_MECH_XOAUTH2;
	case CFG_AUTH_OAUTHBEARER: return SASL_MECH_OAUTHBEARER;
	case CFG_AUTH_CRAM_MD5: return SASL_MECH_CRAM_MD5;
	case CFG_AUTH_SCRAM_SHA_256: return SASL_MECH_SCRAM_SHA_256;
	}
	return SASL_MECH_AUTO;
}

enum net_tls_mode
acct_engine_tls_mode(enum cfg_tls t)
{
	return t == CFG_TLS_IMPLICIT ? NET_TLS_IMPLICIT :
	       t == CFG_TLS_STARTTLS ? NET_TLS_STARTTLS : NET_TLS_NONE;
}

int
acct_engine_common_init(struct acct_engine_common *c, uv_loop_t *loop,
			struct store *store, const struct cfg_account *account,
			const struct acct_engine_cbs *cbs, void *engine,
			struct ms_err *err_r)
{
	struct net_tls_ctx_params tp = {
		.ca_file = account->ca_file,
		.fingerprint = account->tls_fingerprint.is_set ?
			       account->tls_fingerprint.text : NULL,
	};
	int rc;

	c->loop = loop;
	c->store = store;
	c->acct = account;
	c->cbs = *cbs;
	c->tls_ctx = NULL;
	if (account->tls != CFG_TLS_NONE &&
	    (rc = net_tls_ctx_new(&tp, &c->tls_ctx, err_r)) < 0)
		return rc;
	uv_timer_init(loop, &c->defer);
	c->defer.data = engine;
	return MS_OK;
}

int
acct_engine_new(size_t size, size_t common_off,
		const struct acct_engine_ops *ops, uv_loop_t *loop,
		struct store *store, const struct cfg_account *account,
		const struct acct_engine_cbs *cbs, struct acct_engine **e_r,
		struct ms_err *err_r)
{
	struct acct_engine *e;
	int rc;

	*e_r = NULL;
	if ((e = calloc(1, size)) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	e->ops = ops;
	rc = acct_engine_common_init(
	    (struct acct_engine_common *)(void *)((char *)e + common_off),
	    loop, store, account, cbs, e, err_r);
	if (rc < 0) {
		free(e);
		return rc;
	}
	*e_r = e;
	return MS_OK;
}

void
acct_engine_common_deinit(struct acct_engine_common *c)
{
	net_tls_ctx_unref(&c->tls_ctx);
}
