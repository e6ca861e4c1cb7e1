/*
 * tls.h - the TLS client context of one account: an OpenSSL SSL_CTX with
 * TLS 1.2 minimum, the trust anchors (system store or ca_file), an
 * optional pinned leaf fingerprint, and a small session cache so that a
 * reconnect to the same host:port resumes the previous session.  The
 * trust anchors themselves are one store per file, shared by every
 * context that trusts it (tls_trust.h).
 *
 * One net_tls_ctx is shared by every connection of an account; each
 * net_conn takes a reference for its lifetime.  Loop thread only.
 */
#ifndef MS_NET_TLS_H
#define MS_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/ms.h"

#define NET_TLS_FP_LEN 32	/* SHA-256 */
/* "AB:CD:..." for 32 bytes, plus NUL. */
#define NET_TLS_FP_STRLEN (NET_TLS_FP_LEN * 3)

struct net_tls_ctx;

struct net_tls_ctx_params {
	/* PEM file of trusted CAs; NULL = the system trust store. */
	const char *ca_file;
	/*
	 * Optional pin "sha256:AB:CD:..." (colons optional, any case).  When
	 * set, the server's leaf certificate is accepted if and only if its
	 * SHA-256 matches, whatever its chain or name; a mismatch is refused
	 * even when the chain would verify.
	 */
	const char *fingerprint;
};

/*
 * Creates a context.  Returns MS_OK and *ctx_r (refs = 1), or MS_ECONFIG
 * (bad fingerprint syntax, unreadable ca_file) / MS_ETLS with err_r set.
 * Copies everything it keeps from params.
 */
int net_tls_ctx_new(const struct net_tls_ctx_params *params,
		    struct net_tls_ctx **ctx_r, struct ms_err *err_r) MS_WUR;
void net_tls_ctx_ref(struct net_tls_ctx *ctx);
/* Drops a reference, frees on the last one, sets *ctxp = NULL. */
void net_tls_ctx_unref(struct net_tls_ctx **ctxp);

/*
 * Parses "sha256:AB:CD:..." (the "sha256:" prefix and the colons are
 * optional, hex in any case) into 32 bytes.  Returns MS_OK or MS_EINVAL.
 */
int net_tls_fingerprint_parse(const char *s, uint8_t fp_r[NET_TLS_FP_LEN])
	MS_WUR;
/* Formats 32 bytes as "AB:CD:..." into out (at least NET_TLS_FP_STRLEN). */
void net_tls_fingerprint_format(const uint8_t fp[NET_TLS_FP_LEN], char *out);

/*
 * What a connection's verification saw, filled by the verify callback of
 * an SSL created with net_tls__ssl_new().  Owned by the connection.
 */
struct net_tls_verify {
	bool has_leaf;
	uint8_t leaf_fp[NET_TLS_FP_LEN];
	int first_error;	/* X509_V_ERR_*; X509_V_OK if none */
	int first_error_depth;
	char leaf_names[256];	/* the leaf's names, for a mismatch */
	/* Set by net_tls__check_peer(): only then may a session be cached. */
	bool is_accepted;
	char session_key[280];	/* "host:port" */
};

/* Module-internal API for daemon/net/conn.c. */

/*
 * Creates an SSL in client mode for host:port with SNI, host-name or IP
 * verification and peer verification wired to *verify, memory BIOs
 * attached, and a cached session for host:port set if there is one.
 * Returns NULL with err_r set on failure.
 */
SSL *net_tls__ssl_new(struct net_tls_ctx *ctx, const char *host,
		      uint16_t port, struct net_tls_verify *verify,
		      struct ms_err *err_r);

/*
 * After a completed handshake: applies the fingerprint pin (if any) and
 * re-checks the verification result.  On success marks the connection's
 * verify state accepted, so its sessions may be cached from now on.  Returns MS_OK or MS_ETLS with a
 * message naming host:port, the reason and the fingerprint seen.
 */
int net_tls__check_peer(struct net_tls_ctx *ctx, SSL *ssl, const char *host,
			uint16_t port, struct ms_err *err_r) MS_WUR;

/*
 * Describes a failed handshake (SSL_ERROR_SSL) into err_r as MS_ETLS:
 * the certificate verification reason and fingerprint when verification
 * failed, the OpenSSL error text otherwise.  Drains the error queue.
 */
int net_tls__handshake_error(SSL *ssl, const char *host, uint16_t port,
			     const struct net_tls_verify *verify,
			     struct ms_err *err_r);

/* Number of sessions currently cached (tests, status). */
size_t net_tls_ctx_session_count(const struct net_tls_ctx *ctx);

#endif
