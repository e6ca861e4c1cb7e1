/* test_maildir_expect.c - daemon/maildir: the announced events of the
 * daemon's own Maildir writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "maildir/maildir_expect.h"

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* One announcement is taken by exactly one event of the same folder,
 * subdirectory and name. */
static void
test_one_for_one(void **state)
{
	struct maildir_expect *e = maildir_expect_new(MAILDIR_EXPECT_TTL_MS);

	(void)state;
	assert_non_null(e);
	maildir_expect_add(e, "/m/Lists", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "1.a.host,S=5");
	assert_int_equal(maildir_expect_count(e), 1);
	/* Another folder, subdirectory or name is someone else's event. */
	assert_false(maildir_expect_take(e, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "1.a.host,S=5"));
	assert_false(maildir_expect_take(e, "/m/Lists", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES,
					 "1.a.host,S=5"));
	assert_false(maildir_expect_take(e, "/m/Lists", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES,
					 "1.a.host,S=6"));
	assert_true(maildir_expect_take(e, "/m/Lists", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES,
					"1.a.host,S=5"));
	/* A second event of that name (a reader moved the file on): not
	 * ours. */
	assert_false(maildir_expect_take(e, "/m/Lists", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES,
					 "1.a.host,S=5"));
	assert_int_equal(maildir_expect_count(e), 0);

	/* Two announcements of one name take two events. */
	maildir_expect_add(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES, "x:2,S");
	maildir_expect_add(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES, "x:2,S");
	assert_true(maildir_expect_take(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES, "x:2,S"));
	assert_true(maildir_expect_take(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES, "x:2,S"));
	assert_false(maildir_expect_take(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES, "x:2,S"));
	maildir_expect_free(&e);
	assert_null(e);
	maildir_expect_free(&e);	/* a no-op on NULL */
}

/*
 * An announcement takes only an event of its kind: a file exported before
 * its directory was watched leaves its announcement untaken, and a reader
 * deleting or renaming that file (a GOES event of the same name) must
 * still be seen.
 */
static void
test_kind(void **state)
{
	struct maildir_expect *e = maildir_expect_new(MAILDIR_EXPECT_TTL_MS);

	(void)state;
	assert_non_null(e);
	maildir_expect_add(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES, "1.a.host:2,S");
	assert_false(maildir_expect_take(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_GOES,
					 "1.a.host:2,S"));
	assert_true(maildir_expect_take(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES,
					"1.a.host:2,S"));
	/* Our flag change: the old name goes, the new one comes. */
	maildir_expect_add(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_GOES, "2.b.host:2,");
	maildir_expect_add(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES, "2.b.host:2,S");
	assert_false(maildir_expect_take(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES,
					 "2.b.host:2,"));
	assert_true(maildir_expect_take(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_GOES,
					"2.b.host:2,"));
	assert_true(maildir_expect_take(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES,
					"2.b.host:2,S"));
	assert_int_equal(maildir_expect_count(e), 0);
	maildir_expect_free(&e);
}

/* A failed call withdraws its announcement. */
static void
test_cancel(void **state)
{
	struct maildir_expect *e = maildir_expect_new(MAILDIR_EXPECT_TTL_MS);

	(void)state;
	maildir_expect_add(e, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "a");
	maildir_expect_add(e, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "b");
	maildir_expect_cancel(e, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "a");
	assert_int_equal(maildir_expect_count(e), 1);
	assert_false(maildir_expect_take(e, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "a"));
	assert_true(maildir_expect_take(e, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "b"));
	maildir_expect_free(&e);
}

/* Bounded: announcements beyond the cap are not kept (their events
 * scan), and the ones kept still match. */
static void
test_cap(void **state)
{
	struct maildir_expect *e = maildir_expect_new(MAILDIR_EXPECT_TTL_MS);
	char name[32];
	int taken = 0;

	(void)state;
	for (int i = 0; i < MAILDIR_EXPECT_MAX + 10; i++) {
		snprintf(name, sizeof(name), "%d", i);
		maildir_expect_add(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES, name);
	}
	assert_int_equal(maildir_expect_count(e), MAILDIR_EXPECT_MAX);
	for (int i = 0; i < MAILDIR_EXPECT_MAX + 10; i++) {
		snprintf(name, sizeof(name), "%d", i);
		taken += maildir_expect_take(e, "/m", MAILDIR_SUB_CUR, MAILDIR_EXPECT_COMES, name);
	}
	assert_int_equal(taken, MAILDIR_EXPECT_MAX);
	assert_int_equal(maildir_expect_count(e), 0);
	maildir_expect_free(&e);
}

/* An announcement whose event never came is forgotten after its time to
 * live: a reader's later event of that name is theirs. */
static void
test_expiry(void **state)
{
	struct maildir_expect *e = maildir_expect_new(50);

	(void)state;
	maildir_expect_add(e, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "old");
	sleep_ms(120);
	maildir_expect_add(e, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "fresh");
	assert_false(maildir_expect_take(e, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "old"));
	assert_true(maildir_expect_take(e, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "fresh"));
	assert_int_equal(maildir_expect_count(e), 0);
	maildir_expect_free(&e);
}

/* Without an object (out of memory at start) nothing is announced and
 * every event is a reader's. */
static void
test_null(void **state)
{
	(void)state;
	maildir_expect_add(NULL, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "a");
	maildir_expect_cancel(NULL, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "a");
	assert_false(maildir_expect_take(NULL, "/m", MAILDIR_SUB_NEW, MAILDIR_EXPECT_COMES, "a"));
	assert_int_equal(maildir_expect_count(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_for_one),
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
