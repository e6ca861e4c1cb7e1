/* test_base64.c - strict base64: RFC 4648 vectors, round trips, rejects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/base64.h"

/* RFC 4648 section 10. */
static const char *const b64_vectors[][2] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_base64_rfc4648(void **state)
{
	for (size_t i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]);
	    i++) {
		struct ms_buf b;
		const char *raw = b64_vectors[i][0], *enc = b64_vectors[i][1];

		ms_buf_init(&b, 1024);
		assert_int_equal(ms_base64_encode(&b, raw, strlen(raw)), MS_OK);
		assert_int_equal(b.len, strlen(enc));
		assert_int_equal(ms_base64_encoded_len(strlen(raw)),
		    strlen(enc));
		if (b.len > 0)
			assert_memory_equal(b.p, enc, b.len);
		ms_buf_reset(&b);
		assert_int_equal(ms_base64_decode(&b, enc, strlen(enc)), MS_OK);
		assert_int_equal(b.len, strlen(raw));
		if (b.len > 0)
			assert_memory_equal(b.p, raw, b.len);
		ms_buf_deinit(&b);
	}
}

/* Every byte value and every length up to 300 survive a round trip. */
static void
test_base64_roundtrip(void **state)
{
	uint8_t data[300];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 13);
	for (size_t n = 0; n <= sizeof(data); n++) {
		struct ms_buf e, d;

		ms_buf_init(&e, 4096);
		ms_buf_init(&d, 4096);
		assert_int_equal(ms_base64_encode(&e, data, n), MS_OK);
		assert_int_equal(e.len % 4, 0);
		assert_int_equal(ms_base64_decode(&d, e.p, e.len), MS_OK);
		assert_int_equal(d.len, n);
		if (n > 0)
			assert_memory_equal(d.p, data, n);
		ms_buf_deinit(&e);
		ms_buf_deinit(&d);
	}
}

static void
test_base64_rejects(void **state)
{
	static const char *const bad[] = {
		"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm=v",
		"Zm9v\n", " Zm9v", "Zm9v ", "Zm9-", "Zm9_", "Zm\0v",
		"Zh==",	/* non-canonical: low bits under the padding */
		"Zm9=",	/* Zm9= decodes "fo" only if canonical: 9 has bits */
		"=Zm9", "Zm9vY===",
	};
	static const size_t bad_len[] = { 2, 3, 3, 4, 4, 8, 4, 5, 5, 5, 4, 4,
		4, 4, 4, 4, 8 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ms_buf b;

		ms_buf_init(&b, 1024);
		assert_int_equal(ms_buf_append(&b, "x", 1), MS_OK);
		assert_int_equal(ms_base64_decode(&b, bad[i], bad_len[i]),
		    MS_EPROTO);
		/* On error the buffer keeps exactly what it had. */
		assert_int_equal(b.len, 1);
		ms_buf_deinit(&b);
	}
}

static void
test_base64_bounds(void **state)
{
	struct ms_buf b;

	ms_buf_init(&b, 3);
	assert_int_equal(ms_base64_encode(&b, "ab", 2), MS_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_int_equal(ms_base64_decode(&b, "Zm9v", 4), MS_OK);
	assert_int_equal(ms_base64_decode(&b, "Zg==", 4), MS_ETOOBIG);
	assert_int_equal(b.len, 3);
	ms_buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_rfc4648),
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_base64_rejects),
		cmocka_unit_test(test_base64_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
