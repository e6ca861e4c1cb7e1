/*
 * sasl_crypto_openssl.c - struct sasl_crypto on top of OpenSSL 3.
 *
 * The one-shot HMAC(), EVP_Digest() and PKCS5_PBKDF2_HMAC() calls are not
 * deprecated in OpenSSL 3 and keep no state between calls, so the table
 * can be shared by every connection.
 */
#include "auth/sasl_crypto_openssl.h"

#include <limits.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static int
sasl_crypto_hmac(const EVP_MD *md, const uint8_t *key, size_t key_len,
    const uint8_t *data, size_t data_len, uint8_t *out, unsigned want)
{
	unsigned out_len = 0;

	if (key_len > INT_MAX)
		return -1;
	if (HMAC(md, key, (int)key_len, data, data_len, out, &out_len) ==
	    NULL || out_len != want)
		return -1;
	return 0;
}

static int
sasl_crypto_hmac_sha256(const uint8_t *key, size_t key_len,
    const uint8_t *data, size_t data_len, uint8_t out[SASL_SHA256_LEN],
    void *arg)
{
	return sasl_crypto_hmac(EVP_sha256(), key, key_len, data, data_len,
	    out, SASL_SHA256_LEN);
}

static int
sasl_crypto_hmac_md5(const uint8_t *key, size_t key_len,
    const uint8_t *data, size_t data_len, uint8_t out[SASL_MD5_LEN],
    void *arg)
{
	return sasl_crypto_hmac(EVP_md5(), key, key_len, data, data_len,
	    out, SASL_MD5_LEN);
}

static int
sasl_crypto_sha256(const uint8_t *data, size_t data_len,
    uint8_t out[SASL_SHA256_LEN], void *arg)
{
	unsigned out_len = 0;

	if (EVP_Digest(data, data_len, out, &out_len, EVP_sha256(), NULL) !=
	    1 || out_len != SASL_SHA256_LEN)
		return -1;
	return 0;
}

static int
sasl_crypto_pbkdf2_hmac_sha256(const uint8_t *pw, size_t pw_len,
    const uint8_t *salt, size_t salt_len, uint32_t iterations,
    uint8_t out[SASL_SHA256_LEN], void *arg)
{
	if (pw_len > INT_MAX || salt_len > INT_MAX || iterations == 0 ||
	    iterations > INT_MAX)
		return -1;
	if (PKCS5_PBKDF2_HMAC((const char *)pw, (int)pw_len, salt,
	    (int)salt_len, (int)iterations, EVP_sha256(), SASL_SHA256_LEN,
	    out) != 1)
		return -1;
	return 0;
}

static int
sasl_crypto_random_bytes(uint8_t *out, size_t len, void *arg)
{
	if (len > INT_MAX || RAND_bytes(out, (int)len) != 1)
		return -1;
	return 0;
}

static const struct sasl_crypto sasl_crypto_openssl_table = {
	.hmac_sha256 = sasl_crypto_hmac_sha256,
	.sha256 = sasl_crypto_sha256,
	.pbkdf2_hmac_sha256 = sasl_crypto_pbkdf2_hmac_sha256,
	.hmac_md5 = sasl_crypto_hmac_md5,
	.random_bytes = sasl_crypto_random_bytes,
	.arg = NULL,
};

const struct sasl_crypto *
sasl_crypto_openssl(void)
{
	return &sasl_crypto_openssl_table;
}
