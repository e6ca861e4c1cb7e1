/*
 * sasl.h - client side SASL mechanisms (RFC 4422) for IMAP AUTHENTICATE,
 * POP3 AUTH and SMTP AUTH, without I/O and without a crypto library.
 *
 * Mechanisms: PLAIN (RFC 4616, empty authzid), LOGIN (draft-murchison-sasl-
 * login), CRAM-MD5 (RFC 2195), XOAUTH2 (Google), OAUTHBEARER (RFC 7628) and
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding (gs2 "n,,").
 *
 * Layers.  The core works on decoded bytes: sasl_client_initial() and
 * sasl_client_step() take a decoded challenge and append the raw response.
 * Every protocol we speak carries SASL in base64, so the *_b64 variants do
 * the strict decoding (common/base64.h) and the encoding here too, with
 * every intermediate copy of a secret wiped; drivers should use those and
 * only add the protocol framing: IMAP "+ ", SMTP "334 ", POP3 "+ " in front
 * of a challenge; "=" for an empty initial response on a command line
 * (RFC 4959, RFC 4954); "*" to cancel.
 *
 * A typical exchange, driven by the protocol core:
 *
 *	sasl_select(server_mechs, cfg_auth, tls, have_token, &mech, &err);
 *	sasl_client_init(&s, mech, &params, &err);
 *	rc = sasl_client_initial_b64(&s, &line, &err);
 *	    MS_OK: send "AUTHENTICATE mech <line>" (SASL-IR) or, if the server
 *	           lacks SASL-IR, send "AUTHENTICATE mech" and call
 *	           sasl_client_step_b64() on its empty challenge instead.
 *	    MS_AGAIN: the mechanism has no initial response (LOGIN, CRAM-MD5).
 *	for each challenge "+ X": sasl_client_step_b64(&s, X, &line, &err),
 *	    send line (possibly empty) on MS_OK, cancel with "*" on error.
 *	on success: sasl_client_finish_b64(&s, data or NULL, &err) - this is
 *	    where SCRAM checks that the server knew the password.
 *	on failure: sasl_client_report_failure(&s, server_text, &err).
 *	sasl_client_deinit(&s);
 *
 * Secrets.  The client copies the secret at init and wipes it, the SCRAM
 * keys and every temporary with explicit_bzero.  Responses appended to the
 * caller's buffer contain the secret (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER):
 * the caller traces them only through log_redact_line() with in_auth set
 * and wipes the buffer with ms_buf_wipe() (common/ms.h) once sent.
 * Responses are appended with one ms_buf_append, so the buffer reallocates
 * at most once while the secret is added; appending more after it (CRLF)
 * may realloc and leave a copy in freed memory, so reset and reuse a
 * buffer that already has room, or accept that risk knowingly.
 *
 * SASLprep (RFC 4013) is implemented only for ASCII: for printable ASCII it
 * is the identity, control characters are prohibited (MS_EINVAL) and any
 * non-ASCII byte in the SCRAM user name or password is refused with
 * MS_EIMPL rather than risk a wrong normalisation that would fail in a
 * confusing way.  The other mechanisms send the bytes as configured.
 */
#ifndef MS_SASL_H
#define MS_SASL_H

#include "common/ms.h"

/*
 * Mechanisms.  SASL_MECH_AUTO is only a configuration value ("auth =
 * auto"); sasl_select() turns it into a real mechanism.
 */
enum sasl_mech {
	SASL_MECH_AUTO = 0,
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
	SASL_MECH_CRAM_MD5,
	SASL_MECH_XOAUTH2,
	SASL_MECH_OAUTHBEARER,
	SASL_MECH_SCRAM_SHA_256,
};

/* IANA name ("SCRAM-SHA-256"), or "AUTO"; static. */
const char *sasl_mech_name(enum sasl_mech mech);

/*
 * Parses a mechanism name, ASCII case-insensitive: the IANA names and
 * "auto" (the config file spells them "plain", "cram-md5", ...).  Returns
 * MS_OK or MS_EINVAL for an unknown name.
 */
int sasl_mech_parse(struct ms_slice name, enum sasl_mech *mech_r) MS_WUR;

/* True for mechanisms that send the secret itself (PLAIN, LOGIN, the
 * bearer mechanisms): they need TLS. */
bool sasl_mech_is_plaintext(enum sasl_mech mech);

/* True for XOAUTH2 and OAUTHBEARER, whose secret is a bearer token. */
bool sasl_mech_is_oauth(enum sasl_mech mech);

/*
 * Chooses the mechanism for one login.
 *   server_mechs: the server's mechanisms, separated by spaces (SMTP EHLO
 *                 "AUTH" line, POP3 CAPA "SASL" line; the IMAP driver joins
 *                 its AUTH= capabilities), case-insensitive, unknown names
 *                 ignored.
 *   configured:   the account's "auth" (SASL_MECH_AUTO for auto).
 *   tls_active:   the channel is TLS-protected.  Plaintext mechanisms are
 *                 never chosen without it, configured or not.
 *   have_oauth_token: the account has an oauth_token_cmd; its secret is a
 *                 bearer token, otherwise a password.
 * Auto picks the strongest mechanism both sides support: with a password
 * SCRAM-SHA-256 > CRAM-MD5 > PLAIN > LOGIN, with a token OAUTHBEARER >
 * XOAUTH2.
 * Returns MS_OK with *mech_r set, or fills err_r and returns:
 *   MS_EIMPL   the server offers nothing usable (the message lists what it
 *              offers), or a configured mechanism it does not offer;
 *   MS_ETLS    only plaintext mechanisms are possible and TLS is off;
 *   MS_ECONFIG the configured mechanism needs the other kind of secret.
 * After MS_EIMPL with auto and a password, a driver may fall back to IMAP
 * LOGIN or POP3 USER/PASS if sasl_may_use_login_command() allows it.
 */
int sasl_select(struct ms_slice server_mechs, enum sasl_mech configured,
    bool tls_active, bool have_oauth_token, enum sasl_mech *mech_r,
    struct ms_err *err_r) MS_WUR;

/*
 * sasl_select() for auto after a refusal: the same choice, leaving out the
 * mechanisms in tried (bit 1 << mech each, the ones the server refused
 * already).  A server may offer a mechanism it cannot do for this user
 * (GNU imap4d offers SCRAM-SHA-256 without the stored keys it needs), so
 * a driver tries the next one rather than give up.  A configured
 * mechanism is chosen (or not) as sasl_select() does, whatever tried
 * says.  MS_EIMPL once every offered mechanism was tried.
 */
int sasl_select_next(struct ms_slice server_mechs, enum sasl_mech configured,
    bool tls_active, bool have_oauth_token, unsigned tried,
    enum sasl_mech *mech_r, struct ms_err *err_r) MS_WUR;

/*
 * Whether the protocol's own plaintext login (IMAP LOGIN, POP3 USER/PASS)
 * may be used as the last resort: only over TLS, only with a password
 * (never a bearer token).  Fills err_r with the reason when it returns false.
 */
bool sasl_may_use_login_command(bool tls_active, bool have_oauth_token,
    struct ms_err *err_r);

/*
 * Crypto primitives, filled by the daemon (daemon/auth/sasl_crypto_openssl.h)
 * or by a test.  Each returns 0 on success, negative on failure; arg is
 * passed through.  The struct must outlive every client using it.
 */
#define SASL_SHA256_LEN 32
#define SASL_MD5_LEN 16
struct sasl_crypto {
	int (*hmac_sha256)(const uint8_t *key, size_t key_len,
	    const uint8_t *data, size_t data_len,
	    uint8_t out[SASL_SHA256_LEN], void *arg);
	int (*sha256)(const uint8_t *data, size_t data_len,
	    uint8_t out[SASL_SHA256_LEN], void *arg);
	/* PBKDF2-HMAC-SHA256 with a 32 byte output: SCRAM's Hi(). */
	int (*pbkdf2_hmac_sha256)(const uint8_t *pw, size_t pw_len,
	    const uint8_t *salt, size_t salt_len, uint32_t iterations,
	    uint8_t out[SASL_SHA256_LEN], void *arg);
	int (*hmac_md5)(const uint8_t *key, size_t key_len,
	    const uint8_t *data, size_t data_len,
	    uint8_t out[SASL_MD5_LEN], void *arg);
	/* Cryptographically strong random bytes (SCRAM client nonce). */
	int (*random_bytes)(uint8_t *out, size_t len, void *arg);
	void *arg;
};

/* Limits on what the client accepts; 0 in params picks these defaults. */
#define SASL_SCRAM_MIN_ITER_DEFAULT 4096
#define SASL_SCRAM_MAX_ITER_DEFAULT 1000000
#define SASL_MAX_USER 1024
#define SASL_MAX_SECRET 65536
#define SASL_MAX_HOST 1024
/* Server error texts (OAuth JSON) kept for the error message. */
#define SASL_MAX_SERVER_ERROR 512
/* Random bytes in the SCRAM client nonce: 120 bits, 20 base64 chars. */
#define SASL_SCRAM_NONCE_BYTES 15

struct sasl_params {
	struct ms_slice user;	/* authentication id; copied */
	struct ms_slice secret;	/* password or bearer token; copied */
	struct ms_slice host;	/* OAUTHBEARER host=; copied; may be empty */
	uint16_t port;		/* OAUTHBEARER port=; 0 to omit */
	const struct sasl_crypto *crypto;	/* borrowed, must outlive */
	uint32_t scram_min_iter;	/* 0: SASL_SCRAM_MIN_ITER_DEFAULT */
	uint32_t scram_max_iter;	/* 0: SASL_SCRAM_MAX_ITER_DEFAULT */
};

enum sasl_client_state {
	SASL_CLIENT_STATE_START,	/* nothing sent */
	SASL_CLIENT_STATE_LOGIN_PASSWORD,	/* LOGIN: user sent */
	SASL_CLIENT_STATE_SCRAM_SERVER_FIRST,	/* client-first sent */
	SASL_CLIENT_STATE_SCRAM_SERVER_FINAL,	/* client-final sent */
	SASL_CLIENT_STATE_WAIT_OUTCOME,	/* our part is done */
	SASL_CLIENT_STATE_OAUTH_ERROR,	/* error challenge answered */
	SASL_CLIENT_STATE_DONE,		/* success accepted */
	SASL_CLIENT_STATE_FAILED,
};

/*
 * One authentication exchange.  Caller-owned; the fields are private to
 * proto/sasl.  All heap memory in it is wiped before it is freed.
 */
struct sasl_client {
	enum sasl_mech mech;
	enum sasl_client_state state;
	const struct sasl_crypto *crypto;
	uint8_t *user;		/* owned, user_len bytes + NUL */
	size_t user_len;
	uint8_t *secret;	/* owned, wiped */
	size_t secret_len;
	uint8_t *host;		/* owned */
	size_t host_len;
	uint16_t port;
	uint32_t scram_min_iter, scram_max_iter;
	bool server_verified;	/* SCRAM: server signature checked */
	/* SCRAM: client-first-message-bare, then the AuthMessage prefix. */
	struct ms_buf scram_bare;
	size_t scram_nonce_len;	/* client nonce length in scram_bare tail */
	uint8_t scram_server_sig[SASL_SHA256_LEN];	/* expected v= */
	/* The server's error challenge (OAuth JSON), printable ASCII only. */
	char server_error[SASL_MAX_SERVER_ERROR + 1];
};

/* Name of a state ("SCRAM_SERVER_FIRST") for traces; static. */
const char *sasl_client_state_name(enum sasl_client_state state);

/*
 * Prepares s for mech (not AUTO).  Copies user, secret and host.  Returns
 * MS_OK; MS_EINVAL for missing crypto hooks, an empty user or secret, or
 * over-long values; MS_EIMPL for SCRAM with non-ASCII credentials; MS_ENOMEM.
 * After any return sasl_client_deinit() is safe and needed.
 */
int sasl_client_init(struct sasl_client *s, enum sasl_mech mech,
    const struct sasl_params *params, struct ms_err *err_r) MS_WUR;

/* Wipes and frees everything; s may be initialised again afterwards. */
void sasl_client_deinit(struct sasl_client *s);

/*
 * The initial response, for SASL-IR and SMTP "AUTH mech initial".
 * MS_OK: out got the (raw, possibly empty) response; MS_AGAIN: this
 * mechanism has none, wait for the first challenge; negative on error.
 * Must be the first call after init, if it is made at all.
 */
int sasl_client_initial(struct sasl_client *s, struct ms_buf *out,
    struct ms_err *err_r) MS_WUR;

/*
 * Answers one decoded server challenge by appending the raw response to
 * out.  MS_OK: send out (an empty response is valid and must be sent).
 * Errors (the driver then cancels with "*" and reports err_r):
 *   MS_EPROTO malformed or unexpected challenge;
 *   MS_EAUTH  the server refused (SCRAM e=) or failed to prove it knows
 *             the password (wrong SCRAM server signature);
 *   MS_ETOOBIG/MS_ENOMEM/MS_EINTERNAL (crypto hook failed).
 * For XOAUTH2/OAUTHBEARER a challenge after the initial response is the
 * server's JSON error: it is kept for sasl_client_report_failure() and the
 * dummy response (empty, or %x01 for OAUTHBEARER per RFC 7628 3.2.3) is
 * returned with MS_OK; the server then reports failure.
 */
int sasl_client_step(struct sasl_client *s, struct ms_slice challenge,
    struct ms_buf *out, struct ms_err *err_r) MS_WUR;

/*
 * The server reported success.  additional is the decoded success data
 * (SMTP 235 has none, IMAP may carry it in the OK) or NULL.  SCRAM checks
 * here that the server signature was verified, either from a last
 * challenge or from additional; success without it is MS_EAUTH.  Returns
 * MS_OK, MS_EAUTH or MS_EPROTO.
 */
int sasl_client_finish(struct sasl_client *s, const struct ms_slice *additional,
    struct ms_err *err_r) MS_WUR;

/*
 * The server reported failure with server_text (its response line, may be
 * empty).  Fills err_r with one message naming the mechanism, the server's
 * text and any OAuth error JSON it sent, and returns MS_EAUTH.
 */
int sasl_client_report_failure(struct sasl_client *s,
    struct ms_slice server_text, struct ms_err *err_r);

/*
 * Base64 wrappers: challenge_b64 and additional_b64 are the base64 text as
 * received (strictly decoded, MS_EPROTO if malformed); the response is
 * appended to out base64-encoded (empty response: nothing appended).
 * Return values as for the raw calls.
 */
int sasl_client_initial_b64(struct sasl_client *s, struct ms_buf *out,
    struct ms_err *err_r) MS_WUR;
int sasl_client_step_b64(struct sasl_client *s, struct ms_slice challenge_b64,
    struct ms_buf *out, struct ms_err *err_r) MS_WUR;
int sasl_client_finish_b64(struct sasl_client *s,
    const struct ms_slice *additional_b64, struct ms_err *err_r) MS_WUR;

#endif
