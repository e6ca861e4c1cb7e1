/*
 * test_daemon_loop.c - daemon/daemon_loop.c: the scheduling decision after
 * a pass (which failures back off, which wait the poll interval, the reset
 * after a good pass) and the state names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "daemon_loop.h"

#define NOW 1800000000000ull	/* some time in 2027, in ms */

static void
test_classify(void **state)
{
	(void)state;
	assert_int_equal(daemon_fail_classify(MS_OK), DAEMON_FAIL_NONE);
	assert_int_equal(daemon_fail_classify(MS_ECONN), DAEMON_FAIL_CONN);
	assert_int_equal(daemon_fail_classify(MS_ETIMEDOUT), DAEMON_FAIL_CONN);
	assert_int_equal(daemon_fail_classify(MS_ETLS), DAEMON_FAIL_CONN);
	assert_int_equal(daemon_fail_classify(MS_EIO), DAEMON_FAIL_CONN);
	assert_int_equal(daemon_fail_classify(MS_EPROTO), DAEMON_FAIL_CONN);
	assert_int_equal(daemon_fail_classify(MS_EAUTH), DAEMON_FAIL_AUTH);
	assert_int_equal(daemon_fail_classify(MS_ECANCELED),
			 DAEMON_FAIL_STOPPED);
	assert_int_equal(daemon_fail_classify(MS_ESTORE), DAEMON_FAIL_OTHER);
	assert_int_equal(daemon_fail_classify(MS_ERESP), DAEMON_FAIL_OTHER);
	assert_int_equal(daemon_fail_classify(MS_EIMPL), DAEMON_FAIL_OTHER);
}

static void
test_good_pass_waits_poll_interval(void **state)
{
	struct backoff b;
	struct daemon_next next;

	(void)state;
	backoff_init(&b);
	daemon_next_after_pass(&b, MS_OK, 300, NOW, 12345, &next);
	assert_int_equal(next.state, DAEMON_ACCT_IDLE);
	assert_int_equal(next.delay_ms, 300000);
	assert_false(next.is_error);
	assert_int_equal(b.attempt, 0);
	assert_int_equal(b.until_ms, 0);
}

/* Connection failures back off 1 s, then up to 2 s, 4 s ..., capped at
 * 5 min, whatever the poll interval; a good pass resets to 1 s. */
static void
test_conn_failures_back_off_and_reset(void **state)
{
	struct backoff b;
	struct daemon_next next;
	static const int rcs[] = { MS_ECONN, MS_ETIMEDOUT, MS_ETLS, MS_EIO,
				   MS_EPROTO };

	(void)state;
	backoff_init(&b);
	for (unsigned i = 0; i < 12; i++) {
		uint64_t ceiling = backoff_ceiling_ms(i);

		daemon_next_after_pass(&b, rcs[i % 5], 2, NOW, 0xffffffffu,
				       &next);
		assert_int_equal(next.state, DAEMON_ACCT_BACKOFF);
		assert_false(next.is_error);
		assert_int_equal(b.attempt, i + 1);
		assert_true(next.delay_ms >= BACKOFF_MIN_MS);
		assert_true(next.delay_ms <= ceiling);
		assert_true(next.delay_ms <= BACKOFF_MAX_MS);
		assert_int_equal(b.until_ms, NOW + next.delay_ms);
	}
	/* The first failure is exactly 1 s, whatever the random number. */
	backoff_init(&b);
	daemon_next_after_pass(&b, MS_ECONN, 300, NOW, 777, &next);
	assert_int_equal(next.delay_ms, 1000);
	daemon_next_after_pass(&b, MS_ECONN, 300, NOW, 0, &next);
	assert_int_equal(next.delay_ms, 1000);	/* jitter may pick 1 s */
	daemon_next_after_pass(&b, MS_OK, 300, NOW, 0, &next);
	assert_int_equal(next.state, DAEMON_ACCT_IDLE);
	assert_int_equal(next.delay_ms, 300000);
	assert_int_equal(b.attempt, 0);
	daemon_next_after_pass(&b, MS_ECONN, 300, NOW, 0xffffffffu, &next);
	assert_int_equal(b.attempt, 1);
	assert_int_equal(next.delay_ms, 1000);
}

/* Jitter spreads the delay: different random numbers, different delays. */
static void
test_jitter_uses_the_random_number(void **state)
{
	struct backoff b1, b2;
	struct daemon_next n1, n2;

	(void)state;
	backoff_init(&b1);
	backoff_init(&b2);
	for (unsigned i = 0; i < 5; i++) {
		daemon_next_after_pass(&b1, MS_ECONN, 60, NOW, 1, &n1);
		daemon_next_after_pass(&b2, MS_ECONN, 60, NOW, 2000000u, &n2);
	}
	assert_int_not_equal(n1.delay_ms, n2.delay_ms);
}

static void
test_auth_failure_backs_off_as_error(void **state)
{
	struct backoff b;
	struct daemon_next next;

	(void)state;
	backoff_init(&b);
	daemon_next_after_pass(&b, MS_EAUTH, 60, NOW, 5, &next);
	assert_int_equal(next.state, DAEMON_ACCT_BACKOFF);
	assert_true(next.is_error);
	assert_int_equal(b.attempt, 1);
	daemon_next_after_pass(&b, MS_EAUTH, 60, NOW, 5, &next);
	assert_true(next.is_error);
	assert_int_equal(b.attempt, 2);
}

/* A failure that is no connection problem waits the poll interval and
 * neither grows nor resets the backoff. */
static void
test_other_failure_waits_poll_interval(void **state)
{
	struct backoff b;
	struct daemon_next next;

	(void)state;
	backoff_init(&b);
	daemon_next_after_pass(&b, MS_ECONN, 60, NOW, 5, &next);
	assert_int_equal(b.attempt, 1);
	daemon_next_after_pass(&b, MS_ESTORE, 60, NOW, 5, &next);
	assert_int_equal(next.state, DAEMON_ACCT_ERROR);
	assert_true(next.is_error);
	assert_int_equal(next.delay_ms, 60000);
	assert_int_equal(b.attempt, 1);
}

static void
test_state_names(void **state)
{
	(void)state;
	assert_string_equal(daemon_acct_state_name(DAEMON_ACCT_IDLE), "idle");
	assert_string_equal(daemon_acct_state_name(DAEMON_ACCT_SYNCING),
			    "syncing");
	assert_string_equal(daemon_acct_state_name(DAEMON_ACCT_BACKOFF),
			    "backoff");
	assert_string_equal(daemon_acct_state_name(DAEMON_ACCT_ERROR),
			    "error");
	assert_string_equal(daemon_acct_state_name(DAEMON_ACCT_DISABLED),
			    "disabled");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_good_pass_waits_poll_interval),
		cmocka_unit_test(test_conn_failures_back_off_and_reset),
		cmocka_unit_test(test_jitter_uses_the_random_number),
		cmocka_unit_test(test_auth_failure_backs_off_as_error),
		cmocka_unit_test(test_other_failure_waits_poll_interval),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
