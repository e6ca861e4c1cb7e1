/*
 * test_sasl_crypto.c - the OpenSSL crypto hooks against published vectors:
 * RFC 4231 (HMAC-SHA256), RFC 2104 (HMAC-MD5), FIPS 180-2 (SHA-256) and the
 * PBKDF2-HMAC-SHA256 vectors widely used for RFC 6070-style checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth/sasl_crypto_openssl.h"

static void
assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	char hex[2 * 64 + 1];

	assert_true(len <= 64);
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", got[i]);
	assert_string_equal(hex, want_hex);
}

static void
test_crypto_hmac_sha256(void **state)
{
	const struct sasl_crypto *c = sasl_crypto_openssl();
	uint8_t key[20], out[SASL_SHA256_LEN];

	/* RFC 4231 test case 1. */
	memset(key, 0x0b, sizeof(key));
	assert_int_equal(c->hmac_sha256(key, sizeof(key),
	    (const uint8_t *)"Hi There", 8, out, c->arg), 0);
	assert_hex(out, sizeof(out), "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
	/* RFC 4231 test case 2. */
	assert_int_equal(c->hmac_sha256((const uint8_t *)"Jefe", 4,
	    (const uint8_t *)"what do ya want for nothing?", 28, out, c->arg),
	    0);
	assert_hex(out, sizeof(out), "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
}

static void
test_crypto_hmac_md5(void **state)
{
	const struct sasl_crypto *c = sasl_crypto_openssl();
	uint8_t key[16], out[SASL_MD5_LEN];

	/* RFC 2104 appendix, first example. */
	memset(key, 0x0b, sizeof(key));
	assert_int_equal(c->hmac_md5(key, sizeof(key),
	    (const uint8_t *)"Hi There", 8, out, c->arg), 0);
	assert_hex(out, sizeof(out), "9294727a3638bb1c13f48ef8158bfc9d");
}

static void
test_crypto_sha256(void **state)
{
	const struct sasl_crypto *c = sasl_crypto_openssl();
	uint8_t out[SASL_SHA256_LEN];

	assert_int_equal(c->sha256((const uint8_t *)"abc", 3, out, c->arg), 0);
	assert_hex(out, sizeof(out), "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(c->sha256((const uint8_t *)"", 0, out, c->arg), 0);
	assert_hex(out, sizeof(out), "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
}

static void
test_crypto_pbkdf2(void **state)
{
	const struct sasl_crypto *c = sasl_crypto_openssl();
	uint8_t out[SASL_SHA256_LEN];

	assert_int_equal(c->pbkdf2_hmac_sha256((const uint8_t *)"password", 8,
	    (const uint8_t *)"salt", 4, 1, out, c->arg), 0);
	assert_hex(out, sizeof(out), "120fb6cffcf8b32c43e7225256c4f837"
	    "a86548c92ccc35480805987cb70be17b");
	assert_int_equal(c->pbkdf2_hmac_sha256((const uint8_t *)"password", 8,
	    (const uint8_t *)"salt", 4, 4096, out, c->arg), 0);
	assert_hex(out, sizeof(out), "c5e478d59288c841aa530db6845c4c8d"
	    "962893a001ce4e11a4963873aa98134a");
	assert_int_equal(c->pbkdf2_hmac_sha256(
	    (const uint8_t *)"passwordPASSWORDpassword", 24,
	    (const uint8_t *)"saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096,
	    out, c->arg), 0);
	assert_hex(out, sizeof(out), "348c89dbcbd32b2f32d814b8116e84cf"
	    "2b17347ebc1800181c4e2a1fb8dd53e1");
	/* Zero iterations is not a valid Hi(). */
	assert_int_not_equal(c->pbkdf2_hmac_sha256((const uint8_t *)"p", 1,
	    (const uint8_t *)"s", 1, 0, out, c->arg), 0);
}

static void
test_crypto_random(void **state)
{
	const struct sasl_crypto *c = sasl_crypto_openssl();
	uint8_t a[32], b[32];

	assert_int_equal(c->random_bytes(a, sizeof(a), c->arg), 0);
	assert_int_equal(c->random_bytes(b, sizeof(b), c->arg), 0);
	/* 2^-256 chance of a false failure. */
	assert_memory_not_equal(a, b, sizeof(a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crypto_hmac_sha256),
		cmocka_unit_test(test_crypto_hmac_md5),
		cmocka_unit_test(test_crypto_sha256),
		cmocka_unit_test(test_crypto_pbkdf2),
		cmocka_unit_test(test_crypto_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
