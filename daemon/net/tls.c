/*
 * tls.c - OpenSSL client contexts: trust anchors, fingerprint pins,
 * verification reporting and a per-account session cache.
 */
#include "net/tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "net/tls_trust.h"

#define NET_TLS_CACHE_SLOTS 8

struct net_tls_cache_slot {
	char key[280];
	SSL_SESSION *sess;	/* one reference owned by the slot */
	uint64_t stamp;		/* for least-recently-stored eviction */
};

struct net_tls_ctx {
	int refs;
	SSL_CTX *ssl_ctx;
	bool has_pin;
	uint8_t pin[NET_TLS_FP_LEN];
	uint64_t stamp;
	struct net_tls_cache_slot cache[NET_TLS_CACHE_SLOTS];
};

/* ex_data indices: the net_tls_ctx on an SSL_CTX, the verify state on an SSL. */
static int net_tls_idx_ctx = -1;
static int net_tls_idx_verify = -1;

static void
net_tls_init_indices(void)
{
	if (net_tls_idx_ctx < 0)
		net_tls_idx_ctx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
							   NULL);
	if (net_tls_idx_verify < 0)
		net_tls_idx_verify = SSL_get_ex_new_index(0, NULL, NULL, NULL,
							  NULL);
}

int
net_tls_fingerprint_parse(const char *s, uint8_t fp_r[NET_TLS_FP_LEN])
{
	size_t n = 0;
	int hi = -1;

	if (strncasecmp(s, "sha256:", 7) == 0)
		s += 7;
	for (; *s != '\0'; s++) {
		int v;

		if (*s == ':' && hi < 0)
			continue;
		if (!isxdigit((unsigned char)*s))
			return MS_EINVAL;
		v = isdigit((unsigned char)*s) ? *s - '0' :
		    tolower((unsigned char)*s) - 'a' + 10;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == NET_TLS_FP_LEN)
			return MS_EINVAL;
		fp_r[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return n == NET_TLS_FP_LEN && hi < 0 ? MS_OK : MS_EINVAL;
}

void
net_tls_fingerprint_format(const uint8_t fp[NET_TLS_FP_LEN], char *out)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < NET_TLS_FP_LEN; i++) {
		out[i * 3] = hex[fp[i] >> 4];
		out[i * 3 + 1] = hex[fp[i] & 15];
		out[i * 3 + 2] = i + 1 < NET_TLS_FP_LEN ? ':' : '\0';
	}
}

static bool
net_tls_cert_fingerprint(X509 *cert, uint8_t fp_r[NET_TLS_FP_LEN])
{
	unsigned int len = 0;

	return cert != NULL &&
	    X509_digest(cert, EVP_sha256(), fp_r, &len) == 1 &&
	    len == NET_TLS_FP_LEN;
}

static struct net_tls_cache_slot *
net_tls_cache_find(struct net_tls_ctx *ctx, const char *key)
{
	for (size_t i = 0; i < NET_TLS_CACHE_SLOTS; i++)
		if (ctx->cache[i].sess != NULL &&
		    strcmp(ctx->cache[i].key, key) == 0)
			return &ctx->cache[i];
	return NULL;
}

/* Stores sess (taking over the caller's reference) under key. */
static void
net_tls_cache_put(struct net_tls_ctx *ctx, const char *key, SSL_SESSION *sess)
{
	struct net_tls_cache_slot *slot = net_tls_cache_find(ctx, key);

	if (slot == NULL) {
		slot = &ctx->cache[0];
		for (size_t i = 0; i < NET_TLS_CACHE_SLOTS; i++) {
			if (ctx->cache[i].sess == NULL) {
				slot = &ctx->cache[i];
				break;
			}
			if (ctx->cache[i].stamp < slot->stamp)
				slot = &ctx->cache[i];
		}
	}
	if (slot->sess != NULL)
		SSL_SESSION_free(slot->sess);
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->sess = sess;
	slot->stamp = ++ctx->stamp;
}

/*
 * OpenSSL hands us every new session here: for TLS 1.3 these are the
 * tickets the server sends after the handshake.  A session is cached only
 * once the connection passed our own checks (pin, verification), because a
 * resumed session skips certificate verification.
 */
static int
net_tls_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct net_tls_ctx *ctx = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
						      net_tls_idx_ctx);
	struct net_tls_verify *v = SSL_get_ex_data(ssl, net_tls_idx_verify);

	if (ctx == NULL || v == NULL || !v->is_accepted ||
	    !SSL_SESSION_is_resumable(sess))
		return 0;
	net_tls_cache_put(ctx, v->session_key, sess);
	if (log_trace_enabled(TRACE_TLS))
		log_trace(TRACE_TLS, "tls session cached for %s",
			  v->session_key);
	return 1;	/* we keep the reference */
}

/*
 * The names a certificate is for, for an error message: its DNS and IP
 * subject alternative names, else its common name ("" if none), joined
 * with ", " and cut to fit.
 */
static void
net_tls_cert_names(X509 *cert, char *out, size_t outsz)
{
	GENERAL_NAMES *names;
	size_t len = 0;

	out[0] = '\0';
	if (cert == NULL)
		return;
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		char ip[INET6_ADDRSTRLEN] = "";
		const char *name = NULL;
		int n;

		if (g->type == GEN_DNS) {
			name = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
		} else if (g->type == GEN_IPADD) {
			int alen = ASN1_STRING_length(g->d.iPAddress);
			const void *a = ASN1_STRING_get0_data(g->d.iPAddress);

			if (inet_ntop(alen == 16 ? AF_INET6 : AF_INET, a, ip,
				      sizeof(ip)) != NULL && (alen == 4 ||
							      alen == 16))
				name = ip;
		}
		if (name == NULL)
			continue;
		n = snprintf(out + len, outsz - len, "%s%s", len > 0 ? ", " : "",
			     name);
		if (n < 0 || (size_t)n >= outsz - len) {
			out[len] = '\0';
			break;
		}
		len += (size_t)n;
	}
	GENERAL_NAMES_free(names);
	if (len == 0) {
		X509_NAME *subj = X509_get_subject_name(cert);

		if (subj != NULL &&
		    X509_NAME_get_text_by_NID(subj, NID_commonName, out,
					      (int)outsz) < 0)
			out[0] = '\0';
	}
}

/*
 * Records what verification saw (the leaf's fingerprint, the first error)
 * so a refusal can name the reason and the fingerprint to pin.  With a pin
 * configured the chain result is only recorded here and the decision is
 * made in net_tls__check_peer() from the fingerprint.
 */
static int
net_tls_verify_cb(int ok, X509_STORE_CTX *sctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(sctx,
					SSL_get_ex_data_X509_STORE_CTX_idx());
	struct net_tls_verify *v;
	struct net_tls_ctx *ctx;

	if (ssl == NULL)
		return ok;
	v = SSL_get_ex_data(ssl, net_tls_idx_verify);
	ctx = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), net_tls_idx_ctx);
	if (v == NULL || ctx == NULL)
		return ok;
	if (!v->has_leaf) {
		v->has_leaf = net_tls_cert_fingerprint(
		    X509_STORE_CTX_get0_cert(sctx), v->leaf_fp);
		net_tls_cert_names(X509_STORE_CTX_get0_cert(sctx),
				   v->leaf_names, sizeof(v->leaf_names));
	}
	if (!ok && v->first_error == X509_V_OK) {
		v->first_error = X509_STORE_CTX_get_error(sctx);
		v->first_error_depth = X509_STORE_CTX_get_error_depth(sctx);
	}
	return ctx->has_pin ? 1 : ok;
}

int
net_tls_ctx_new(const struct net_tls_ctx_params *params,
		struct net_tls_ctx **ctx_r, struct ms_err *err_r)
{
	struct net_tls_ctx *ctx;
	X509_STORE *store;
	unsigned long e;
	char ebuf[160];
	int rc;

	*ctx_r = NULL;
	net_tls_init_indices();
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	ctx->refs = 1;
	if (params->fingerprint != NULL && params->fingerprint[0] != '\0') {
		if (net_tls_fingerprint_parse(params->fingerprint,
					      ctx->pin) != MS_OK) {
			free(ctx);
			return ms_err_set(err_r, MS_ECONFIG,
			    "tls_fingerprint: expected sha256: followed by "
			    "32 hex bytes (AB:CD:...)");
		}
		ctx->has_pin = true;
	}
	ctx->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (ctx->ssl_ctx == NULL)
		goto fail_ssl;
	SSL_CTX_set_ex_data(ctx->ssl_ctx, net_tls_idx_ctx, ctx);
	if (SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION) != 1)
		goto fail_ssl;
	SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER, net_tls_verify_cb);
	SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_CLIENT |
				       SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx->ssl_ctx, net_tls_new_session_cb);
	/* The trust anchors are shared with every context trusting the same. */
	if ((rc = net_tls_trust_get(params->ca_file, &store, err_r)) < 0) {
		net_tls_ctx_unref(&ctx);
		return rc;
	}
	SSL_CTX_set1_cert_store(ctx->ssl_ctx, store);
	X509_STORE_free(store);
	*ctx_r = ctx;
	return MS_OK;

fail_ssl:
	e = ERR_get_error();
	ERR_error_string_n(e, ebuf, sizeof(ebuf));
	ERR_clear_error();
	net_tls_ctx_unref(&ctx);
	return ms_err_set(err_r, MS_ETLS, "TLS context: %s", ebuf);
}

void
net_tls_ctx_ref(struct net_tls_ctx *ctx)
{
	ctx->refs++;
}

void
net_tls_ctx_unref(struct net_tls_ctx **ctxp)
{
	struct net_tls_ctx *ctx = *ctxp;

	if (ctx == NULL)
		return;
	*ctxp = NULL;
	if (--ctx->refs > 0)
		return;
	for (size_t i = 0; i < NET_TLS_CACHE_SLOTS; i++)
		if (ctx->cache[i].sess != NULL)
			SSL_SESSION_free(ctx->cache[i].sess);
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

size_t
net_tls_ctx_session_count(const struct net_tls_ctx *ctx)
{
	size_t n = 0;

	for (size_t i = 0; i < NET_TLS_CACHE_SLOTS; i++)
		n += ctx->cache[i].sess != NULL;
	return n;
}

static bool
net_tls_is_ip_literal(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
}

SSL *
net_tls__ssl_new(struct net_tls_ctx *ctx, const char *host, uint16_t port,
		 struct net_tls_verify *verify, struct ms_err *err_r)
{
	struct net_tls_cache_slot *slot;
	BIO *rbio = NULL, *wbio = NULL;
	SSL *ssl;
	bool ok;

	memset(verify, 0, sizeof(*verify));
	verify->first_error = X509_V_OK;
	snprintf(verify->session_key, sizeof(verify->session_key), "%s:%u",
		 host, (unsigned)port);
	ssl = SSL_new(ctx->ssl_ctx);
	if (ssl == NULL)
		goto fail;
	rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(BIO_s_mem());
	if (rbio == NULL || wbio == NULL)
		goto fail;
	/* An empty read BIO means "wait for more", not end of file. */
	BIO_set_mem_eof_return(rbio, -1);
	BIO_set_mem_eof_return(wbio, -1);
	SSL_set_bio(ssl, rbio, wbio);
	rbio = wbio = NULL;
	SSL_set_connect_state(ssl);
	SSL_set_ex_data(ssl, net_tls_idx_verify, verify);
	if (net_tls_is_ip_literal(host)) {
		/* RFC 6066 forbids IP literals in SNI; match the IP SAN. */
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
						   host) == 1;
	} else {
		ok = SSL_set_tlsext_host_name(ssl, host) == 1 &&
		    SSL_set1_host(ssl, host) == 1;
	}
	if (!ok)
		goto fail;
	slot = net_tls_cache_find(ctx, verify->session_key);
	if (slot != NULL) {
		int rs = SSL_set_session(ssl, slot->sess);

		if (log_trace_enabled(TRACE_TLS))
			log_trace(TRACE_TLS, "tls offering cached session for "
				  "%s: %s", verify->session_key,
				  rs == 1 ? "ok" : "refused");
		/* Not fatal: a full handshake follows. */
		ERR_clear_error();
	}
	return ssl;

fail:
	BIO_free(rbio);
	BIO_free(wbio);
	SSL_free(ssl);
	ERR_clear_error();
	ms_err_set(err_r, MS_ETLS, "TLS setup for %s:%u failed", host,
		   (unsigned)port);
	return NULL;
}

int
net_tls__check_peer(struct net_tls_ctx *ctx, SSL *ssl, const char *host,
		    uint16_t port, struct ms_err *err_r)
{
	struct net_tls_verify *v = SSL_get_ex_data(ssl, net_tls_idx_verify);
	uint8_t fp[NET_TLS_FP_LEN];
	char seen[NET_TLS_FP_STRLEN], want[NET_TLS_FP_STRLEN];
	long vr;

	/* A resumed session carries the peer certificate of the first one. */
	if (!net_tls_cert_fingerprint(SSL_get0_peer_certificate(ssl), fp))
		return ms_err_set(err_r, MS_ETLS,
		    "TLS with %s:%u: the server sent no certificate", host,
		    (unsigned)port);
	net_tls_fingerprint_format(fp, seen);
	if (ctx->has_pin) {
		if (memcmp(fp, ctx->pin, NET_TLS_FP_LEN) != 0) {
			net_tls_fingerprint_format(ctx->pin, want);
			return ms_err_set(err_r, MS_ETLS,
			    "TLS certificate of %s:%u refused: fingerprint "
			    "mismatch: seen sha256:%s, pinned sha256:%s", host,
			    (unsigned)port, seen, want);
		}
	} else {
		/* The verify callback already refused; this is belt and braces. */
		vr = SSL_get_verify_result(ssl);
		if (vr != X509_V_OK)
			return ms_err_set(err_r, MS_ETLS,
			    "TLS certificate of %s:%u refused: %s; "
			    "fingerprint seen sha256:%s", host, (unsigned)port,
			    X509_verify_cert_error_string(vr), seen);
	}
	if (v != NULL) {
		v->is_accepted = true;
		/*
		 * TLS 1.2 makes its session during the handshake, before we
		 * accepted the peer, so the callback skipped it; store it now.
		 * TLS 1.3 tickets arrive later through the callback.
		 */
		if (SSL_version(ssl) < TLS1_3_VERSION &&
		    !SSL_session_reused(ssl)) {
			SSL_SESSION *s = SSL_get1_session(ssl);

			if (s != NULL && SSL_SESSION_is_resumable(s))
				net_tls_cache_put(ctx, v->session_key, s);
			else if (s != NULL)
				SSL_SESSION_free(s);
		}
	}
	return MS_OK;
}

int
net_tls__handshake_error(SSL *ssl, const char *host, uint16_t port,
			 const struct net_tls_verify *verify,
			 struct ms_err *err_r)
{
	char ebuf[200], seen[NET_TLS_FP_STRLEN];
	unsigned long e;

	/* The reason alone ("tlsv1 alert protocol version") reads best. */
	e = ERR_peek_last_error();
	if (ERR_reason_error_string(e) != NULL)
		snprintf(ebuf, sizeof(ebuf), "%s", ERR_reason_error_string(e));
	else
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
	ERR_clear_error();
	(void)ssl;
	if (verify->first_error != X509_V_OK) {
		if (verify->has_leaf)
			net_tls_fingerprint_format(verify->leaf_fp, seen);
		else
			snprintf(seen, sizeof(seen), "(none)");
		if (verify->first_error == X509_V_ERR_HOSTNAME_MISMATCH ||
		    verify->first_error == X509_V_ERR_IP_ADDRESS_MISMATCH)
			return ms_err_set(err_r, MS_ETLS,
			    "TLS certificate of %s:%u refused: %s: it is for "
			    "%s, not %s (set host = one of those names); "
			    "fingerprint seen sha256:%s", host, (unsigned)port,
			    X509_verify_cert_error_string(verify->first_error),
			    verify->leaf_names[0] != '\0' ? verify->leaf_names :
			    "no name", host, seen);
		return ms_err_set(err_r, MS_ETLS,
		    "TLS certificate of %s:%u refused: %s (depth %d); "
		    "fingerprint seen sha256:%s", host, (unsigned)port,
		    X509_verify_cert_error_string(verify->first_error),
		    verify->first_error_depth, seen);
	}
	/* A server answering in plain text (an IMAP greeting where a TLS
	 * record should be): the port wants STARTTLS or no TLS at all. */
	if (ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ||
	    ERR_GET_REASON(e) == SSL_R_PACKET_LENGTH_TOO_LONG)
		return ms_err_set(err_r, MS_ETLS, "TLS handshake with %s:%u "
				  "failed: %s: the server answers without TLS "
				  "on this port (for STARTTLS, usually on port "
				  "143, 110 or 587, set tls = starttls)", host,
				  (unsigned)port, ebuf);
	return ms_err_set(err_r, MS_ETLS, "TLS handshake with %s:%u failed: %s",
			  host, (unsigned)port, e != 0 ? ebuf : "protocol error");
}
