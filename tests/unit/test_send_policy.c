/*
 * test_send_policy.c - the retry verdicts of outgoing mail
 * (daemon/send/send_policy.h): reply classes, the backoff's growth, cap
 * and jitter, and the queue lifetime.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "send/send_policy.h"

static void
test_judge(void **state)
{
	(void)state;
	assert_int_equal(send_policy_judge(250), SEND_OK);
	assert_int_equal(send_policy_judge(251), SEND_OK);
	assert_int_equal(send_policy_judge(421), SEND_TEMP);
	assert_int_equal(send_policy_judge(451), SEND_TEMP);
	assert_int_equal(send_policy_judge(0), SEND_TEMP);	/* no reply */
	assert_int_equal(send_policy_judge(550), SEND_PERM);
	assert_int_equal(send_policy_judge(554), SEND_PERM);
	assert_int_equal(send_policy_judge(999), SEND_TEMP);
}

static void
test_delay(void **state)
{
	(void)state;
	/* Jitter in [d/2, d]: rnd 0 is the low end. */
	assert_int_equal(send_policy_retry_delay_s(1, 0), 30);
	assert_int_equal(send_policy_retry_delay_s(1, 30), 60);
	assert_int_equal(send_policy_retry_delay_s(1, 31), 30);
	assert_int_equal(send_policy_retry_delay_s(2, 0), 60);
	assert_int_equal(send_policy_retry_delay_s(3, 0), 120);
	/* Minutes, then hours, capped at 4 h. */
	assert_int_equal(send_policy_retry_delay_s(8, 0), 3840);
	assert_int_equal(send_policy_retry_delay_s(9, 0), 7200);
	assert_int_equal(send_policy_retry_delay_s(10, 0), 7200);
	assert_int_equal(send_policy_retry_delay_s(10, 7200), 14400);
	assert_int_equal(send_policy_retry_delay_s(1000, 0), 7200);
	for (uint32_t r = 0; r < 5000; r += 7) {
		uint64_t d = send_policy_retry_delay_s(4, r);

		assert_true(d >= 240 && d <= 480);
	}
}

static void
test_lifetime(void **state)
{
	int64_t next = 0;

	(void)state;
	assert_true(send_policy_next_attempt(1000, 1, 1000, 432000, 0, &next));
	assert_int_equal(next, 1030);
	/* Never past the lifetime's end; at the end, given up. */
	assert_true(send_policy_next_attempt(1000, 20, 1000 + 431000, 432000,
					     0, &next));
	assert_int_equal(next, 1000 + 432000);
	assert_false(send_policy_next_attempt(1000, 21, 1000 + 432000, 432000,
					      0, &next));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_lifetime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
