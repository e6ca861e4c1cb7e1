/* test_backoff.c - daemon/net/backoff.c: growth, cap, jitter bounds, reset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "net/backoff.h"

static void
test_ceiling_growth_and_cap(void **state)
{
	assert_int_equal(backoff_ceiling_ms(0), 1000);
	assert_int_equal(backoff_ceiling_ms(1), 2000);
	assert_int_equal(backoff_ceiling_ms(2), 4000);
	assert_int_equal(backoff_ceiling_ms(8), 256000);
	assert_int_equal(backoff_ceiling_ms(9), 300000);	/* capped */
	assert_int_equal(backoff_ceiling_ms(1000), 300000);	/* no overflow */
	assert_int_equal(backoff_ceiling_ms(~0u), 300000);
}

static void
test_jitter_bounds(void **state)
{
	static const uint32_t rnds[] = { 0, 1, 999, 1000, 12345, 299000,
					 299001, 0x7fffffff, 0xffffffff };

	for (unsigned a = 0; a < 20; a++) {
		for (size_t i = 0; i < sizeof(rnds) / sizeof(*rnds); i++) {
			uint64_t d = backoff_delay_ms(a, rnds[i]);

			assert_true(d >= BACKOFF_MIN_MS);
			assert_true(d <= backoff_ceiling_ms(a));
		}
	}
	/* Full jitter reaches both ends of the window. */
	assert_int_equal(backoff_delay_ms(3, 0), 1000);
	assert_int_equal(backoff_delay_ms(3, 7000), 8000);
	assert_int_equal(backoff_delay_ms(20, 299000), 300000);
	/* The first retry is always after exactly 1 s. */
	assert_int_equal(backoff_delay_ms(0, 0xffffffff), 1000);
}

static void
test_fail_and_reset(void **state)
{
	struct backoff b;
	uint64_t now = 1800000000000ull, d;
	char s[128];

	backoff_init(&b);
	assert_true(backoff_is_ready(&b, now));
	assert_string_equal(backoff_format(&b, now, s, sizeof(s)), "ready");
	for (unsigned i = 0; i < 12; i++) {
		/* Always the top of the window: shows the growth and the cap. */
		d = backoff_fail(&b, now, 0xffffffffu);
		assert_true(d <= backoff_ceiling_ms(i));
		assert_int_equal(b.attempt, i + 1);
		assert_false(backoff_is_ready(&b, now));
		assert_false(backoff_is_ready(&b, now + d - 1));
		assert_true(backoff_is_ready(&b, now + d));
		assert_int_equal(backoff_remaining_ms(&b, now), d);
		now += d;
	}
	d = backoff_fail(&b, now, 299000);
	assert_int_equal(d, 300000);
	assert_int_equal(b.attempt, 13);
	backoff_reset(&b);
	assert_int_equal(b.attempt, 0);
	assert_true(backoff_is_ready(&b, now));
	assert_int_equal(backoff_fail(&b, now, 0xffffffffu), 1000);
}

static void
test_format(void **state)
{
	struct backoff b;
	uint64_t now = 1800000000000ull;	/* 2027-01-15T08:00:00Z */
	char s[128];

	backoff_init(&b);
	backoff_fail(&b, now, 0);
	backoff_fail(&b, now, 41000);		/* 1000 + 41000 % 1001 = 1960 */
	assert_int_equal(b.until_ms, now + 1960);
	backoff_format(&b, now, s, sizeof(s));
	assert_string_equal(s, "backoff until 2027-01-15T08:00:01Z (in 2 s), "
			    "attempt 2");
	backoff_format(&b, now + 1960, s, sizeof(s));
	assert_string_equal(s, "ready");
	backoff_format(&b, now, s, 10);		/* truncated, terminated */
	assert_string_equal(s, "backoff u");
}

/* MAILSYNC_BACKOFF_MAX: another cap, kept across a reset. */
static void
test_custom_cap(void **state)
{
	struct backoff b;

	(void)state;
	backoff_init(&b);
	backoff_set_max(&b, 10000);
	for (unsigned i = 0; i < 40; i++)
		assert_true(backoff_fail(&b, 0, 0xffffffffu) <= 10000);
	/* At the cap the window is [1 s, 10 s]: its top is reached. */
	assert_int_equal(backoff_fail(&b, 0, 9000), 10000);
	backoff_reset(&b);
	assert_int_equal(b.attempt, 0);
	assert_int_equal(b.max_ms, 10000);
	assert_int_equal(backoff_ceiling_max_ms(3, 10000), 8000);
	assert_int_equal(backoff_ceiling_max_ms(4, 10000), 10000);
	assert_int_equal(backoff_ceiling_max_ms(4, 0), 16000);
	backoff_set_max(&b, 1);
	assert_int_equal(b.max_ms, BACKOFF_MIN_MS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling_growth_and_cap),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_fail_and_reset),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_custom_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
