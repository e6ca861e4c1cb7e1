/*
 * test_acct_policy.c - daemon/acct/acct_policy.c: the scheduling decision
 * after a pass (which failures back off or count as offline, which wait
 * the poll interval, refused logins retried a few times slowly and then
 * not at all, the reset after a good pass) and the state names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "acct/acct_policy.h"

#define NOW 1800000000000ull	/* some time in 2027, in ms */

static void
test_classify(void **state)
{
	(void)state;
	assert_int_equal(acct_fail_classify(MS_OK), ACCT_FAIL_NONE);
	assert_int_equal(acct_fail_classify(MS_ECONN), ACCT_FAIL_CONN);
	assert_int_equal(acct_fail_classify(MS_ETIMEDOUT), ACCT_FAIL_CONN);
	assert_int_equal(acct_fail_classify(MS_ETLS), ACCT_FAIL_CONN);
	assert_int_equal(acct_fail_classify(MS_EIO), ACCT_FAIL_CONN);
	assert_int_equal(acct_fail_classify(MS_EPROTO), ACCT_FAIL_CONN);
	assert_int_equal(acct_fail_classify(MS_EAUTH), ACCT_FAIL_AUTH);
	assert_int_equal(acct_fail_classify(MS_ECANCELED),
			 ACCT_FAIL_STOPPED);
	assert_int_equal(acct_fail_classify(MS_ESTORE), ACCT_FAIL_OTHER);
	assert_int_equal(acct_fail_classify(MS_ERESP), ACCT_FAIL_OTHER);
	assert_int_equal(acct_fail_classify(MS_EIMPL), ACCT_FAIL_OTHER);
}

static void
test_good_pass_waits_poll_interval(void **state)
{
	struct acct_sched b;
	struct acct_next next;

	(void)state;
	acct_sched_init(&b);
	acct_next_after_pass(&b, MS_OK, true, 300, NOW, 12345, &next);
	assert_int_equal(next.state, ACCT_IDLE);
	assert_int_equal(next.delay_ms, 300000);
	assert_false(next.is_error);
	assert_int_equal(b.backoff.attempt, 0);
	assert_int_equal(b.backoff.until_ms, 0);
}

/* Connection failures back off 1 s, then up to 2 s, 4 s ..., capped at
 * 5 min, whatever the poll interval; a good pass resets to 1 s. */
static void
test_conn_failures_back_off_and_reset(void **state)
{
	struct acct_sched b;
	struct acct_next next;
	static const int rcs[] = { MS_ECONN, MS_ETIMEDOUT, MS_ETLS, MS_EIO,
				   MS_EPROTO };

	(void)state;
	acct_sched_init(&b);
	for (unsigned i = 0; i < 12; i++) {
		uint64_t ceiling = backoff_ceiling_ms(i);

		acct_next_after_pass(&b, rcs[i % 5], true, 2, NOW, 0xffffffffu,
				       &next);
		assert_int_equal(next.state, ACCT_BACKOFF);
		assert_false(next.is_error);
		assert_int_equal(b.backoff.attempt, i + 1);
		assert_true(next.delay_ms >= BACKOFF_MIN_MS);
		assert_true(next.delay_ms <= ceiling);
		assert_true(next.delay_ms <= BACKOFF_MAX_MS);
		assert_int_equal(b.backoff.until_ms, NOW + next.delay_ms);
	}
	/* The first failure is exactly 1 s, whatever the random number. */
	acct_sched_init(&b);
	acct_next_after_pass(&b, MS_ECONN, true, 300, NOW, 777, &next);
	assert_int_equal(next.delay_ms, 1000);
	acct_next_after_pass(&b, MS_ECONN, true, 300, NOW, 0, &next);
	assert_int_equal(next.delay_ms, 1000);	/* jitter may pick 1 s */
	acct_next_after_pass(&b, MS_OK, true, 300, NOW, 0, &next);
	assert_int_equal(next.state, ACCT_IDLE);
	assert_int_equal(next.delay_ms, 300000);
	assert_int_equal(b.backoff.attempt, 0);
	acct_next_after_pass(&b, MS_ECONN, true, 300, NOW, 0xffffffffu, &next);
	assert_int_equal(b.backoff.attempt, 1);
	assert_int_equal(next.delay_ms, 1000);
}

/* Jitter spreads the delay: different random numbers, different delays. */
static void
test_jitter_uses_the_random_number(void **state)
{
	struct acct_sched b1, b2;
	struct acct_next n1, n2;

	(void)state;
	acct_sched_init(&b1);
	acct_sched_init(&b2);
	for (unsigned i = 0; i < 5; i++) {
		acct_next_after_pass(&b1, MS_ECONN, true, 60, NOW, 1, &n1);
		acct_next_after_pass(&b2, MS_ECONN, true, 60, NOW, 2000000u, &n2);
	}
	assert_int_not_equal(n1.delay_ms, n2.delay_ms);
}

/* A refused login: auth-failed, logged as an error, retried
 * ACCT_AUTH_RETRIES times after 15 min, 30 min, 60 min, then never; the
 * connection backoff is untouched; a good pass resets the count. */
static void
test_auth_failure_retries_few_times_then_waits(void **state)
{
	struct acct_sched b;
	struct acct_next next;

	(void)state;
	acct_sched_init(&b);
	for (unsigned i = 0; i < ACCT_AUTH_RETRIES; i++) {
		acct_next_after_pass(&b, MS_EAUTH, true, 60, NOW, 5, &next);
		assert_int_equal(next.state, ACCT_AUTH_FAILED);
		assert_true(next.is_error);
		assert_int_equal(next.delay_ms,
				 (uint64_t)ACCT_AUTH_RETRY_MS << i);
		assert_int_equal(b.auth_failures, i + 1);
	}
	assert_int_equal(ACCT_AUTH_RETRY_MS, 15u * 60u * 1000u);
	acct_next_after_pass(&b, MS_EAUTH, true, 60, NOW, 5, &next);
	assert_int_equal(next.state, ACCT_AUTH_FAILED);
	assert_int_equal(next.delay_ms, ACCT_NEVER);
	assert_int_equal(b.backoff.attempt, 0);
	acct_next_after_pass(&b, MS_OK, true, 60, NOW, 5, &next);
	assert_int_equal(next.state, ACCT_IDLE);
	assert_int_equal(b.auth_failures, 0);
	acct_next_after_pass(&b, MS_EAUTH, true, 60, NOW, 5, &next);
	assert_int_equal(next.delay_ms, ACCT_AUTH_RETRY_MS);
}

/* A connection failure before the server answered is "offline"; after,
 * "backoff"; both back off alike. */
static void
test_unreached_server_is_offline(void **state)
{
	struct acct_sched b;
	struct acct_next next;

	(void)state;
	acct_sched_init(&b);
	acct_next_after_pass(&b, MS_ECONN, false, 60, NOW, 5, &next);
	assert_int_equal(next.state, ACCT_OFFLINE);
	assert_false(next.is_error);
	assert_int_equal(next.delay_ms, 1000);
	acct_next_after_pass(&b, MS_ETIMEDOUT, true, 60, NOW, 5, &next);
	assert_int_equal(next.state, ACCT_BACKOFF);
	assert_int_equal(b.backoff.attempt, 2);
}

/* A failure that is no connection problem waits the poll interval and
 * neither grows nor resets the backoff. */
static void
test_other_failure_waits_poll_interval(void **state)
{
	struct acct_sched b;
	struct acct_next next;

	(void)state;
	acct_sched_init(&b);
	acct_next_after_pass(&b, MS_ECONN, true, 60, NOW, 5, &next);
	assert_int_equal(b.backoff.attempt, 1);
	acct_next_after_pass(&b, MS_ESTORE, true, 60, NOW, 5, &next);
	assert_int_equal(next.state, ACCT_ERROR);
	assert_true(next.is_error);
	assert_int_equal(next.delay_ms, 60000);
	assert_int_equal(b.backoff.attempt, 1);
}

static void
test_state_names(void **state)
{
	static const char *const names[] = {
		"idle", "syncing", "backoff", "offline", "error",
		"auth-failed", "paused", "disabled", "stopped",
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_string_equal(acct_state_name((enum acct_state)i),
				    names[i]);
	assert_int_equal(ACCT_STOPPED + 1, sizeof(names) / sizeof(names[0]));
	assert_string_equal(acct_state_name((enum acct_state)99), "?");
}

/* Suspend: the monotonic clock stood still while the wall clock ran. */
static void
test_clock_jump(void **state)
{
	const uint64_t wall = 1796600000000ull, mono = 5000;

	(void)state;
	/* A minute on both clocks, and NTP's slew of a few ms: no jump. */
	assert_false(acct_clock_jumped(mono, wall, mono + 60000,
				       wall + 60000));
	assert_false(acct_clock_jumped(mono, wall, mono + 60000,
				       wall + 60000 + 250));
	assert_false(acct_clock_jumped(mono, wall, mono + 60000,
				       wall + 60000 + ACCT_CLOCK_JUMP_MS));
	/* An hour asleep within one check, and a clock set back. */
	assert_true(acct_clock_jumped(mono, wall, mono + 60000,
				      wall + 60000 + 3600000));
	assert_true(acct_clock_jumped(mono, wall, mono + 60000,
				      wall + 60000 + ACCT_CLOCK_JUMP_MS + 1));
	assert_true(acct_clock_jumped(mono, wall, mono + 60000,
				      wall + 60000 - 20000));
	/* A wall clock set before the epoch reading does not wrap. */
	assert_true(acct_clock_jumped(mono, wall, mono + 60000, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_good_pass_waits_poll_interval),
		cmocka_unit_test(test_conn_failures_back_off_and_reset),
		cmocka_unit_test(test_jitter_uses_the_random_number),
		cmocka_unit_test(test_auth_failure_retries_few_times_then_waits),
		cmocka_unit_test(test_unreached_server_is_offline),
		cmocka_unit_test(test_other_failure_waits_poll_interval),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_clock_jump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
