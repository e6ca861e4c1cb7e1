/*
 * sasl_crypto_openssl.h - the OpenSSL 3 implementation of the crypto hooks
 * proto/sasl needs (struct sasl_crypto): HMAC-SHA256, SHA-256,
 * PBKDF2-HMAC-SHA256, HMAC-MD5 (CRAM-MD5) and RAND_bytes.
 */
#ifndef MS_SASL_CRYPTO_OPENSSL_H
#define MS_SASL_CRYPTO_OPENSSL_H

#include "sasl/sasl.h"

/* A static, immutable table; valid for the life of the process. */
const struct sasl_crypto *sasl_crypto_openssl(void);

#endif
