/* test_common.c - proto/common: result names, error detail, slices, ms_buf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/ms.h"

static void
test_strerror_names(void **state)
{
	assert_string_equal(ms_strerror(MS_EPROTO), "EPROTO");
	assert_string_equal(ms_strerror(MS_ETOOBIG), "ETOOBIG");
	assert_string_equal(ms_strerror(-999), "EUNKNOWN");
}

static void
test_err_set(void **state)
{
	struct ms_err err = { 0 };

	assert_int_equal(ms_err_set(&err, MS_ECONN, "port %d", 993), MS_ECONN);
	assert_int_equal(err.code, MS_ECONN);
	assert_string_equal(err.msg, "port 993");
	/* A NULL err is allowed and still returns the code. */
	assert_int_equal(ms_err_set(NULL, MS_EIO, "x"), MS_EIO);
}

static void
test_slices(void **state)
{
	struct ms_slice s = MS_SLICE_LIT("Capability");

	assert_true(ms_slice_eq_cstr(s, "Capability"));
	assert_false(ms_slice_eq_cstr(s, "CAPABILITY"));
	assert_true(ms_slice_case_eq_cstr(s, "CAPABILITY"));
	assert_false(ms_slice_case_eq_cstr(s, "CAPABILITIES"));
	assert_true(ms_slice_eq_cstr(ms_slice_from_cstr(""), ""));
}

static void
test_buf_append_and_cap(void **state)
{
	struct ms_buf b;

	ms_buf_init(&b, 10);
	assert_int_equal(ms_buf_append_cstr(&b, "hello"), MS_OK);
	assert_int_equal(ms_buf_printf(&b, "%d", 12345), MS_OK);
	assert_int_equal(b.len, 10);
	assert_string_equal((char *)b.p, "hello12345");
	/* One byte past the cap is refused and leaves the buffer unchanged. */
	assert_int_equal(ms_buf_append(&b, "x", 1), MS_ETOOBIG);
	assert_int_equal(ms_buf_printf(&b, "y"), MS_ETOOBIG);
	assert_string_equal((char *)b.p, "hello12345");
	ms_buf_consume(&b, 5);
	assert_string_equal((char *)b.p, "12345");
	ms_buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	ms_buf_deinit(&b);
}

static void
test_buf_take(void **state)
{
	struct ms_buf b;
	uint8_t *p;
	size_t len;

	ms_buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(ms_buf_append(&b, "abcdefgh", 8), MS_OK);
	p = ms_buf_take(&b, &len);
	assert_int_equal(len, 8000);
	assert_memory_equal(p + 7992, "abcdefgh", 8);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	free(p);
	/* The buffer is reusable after a take. */
	assert_int_equal(ms_buf_append_cstr(&b, "again"), MS_OK);
	ms_buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_names),
		cmocka_unit_test(test_err_set),
		cmocka_unit_test(test_slices),
		cmocka_unit_test(test_buf_append_and_cap),
		cmocka_unit_test(test_buf_take),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
