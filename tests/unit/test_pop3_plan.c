/*
 * test_pop3_plan.c - daemon/sync/pop3_plan.c: the keys of a POP3 pass
 * (UIDL, the weaker TOP fallback, repeated keys made unique and marked
 * ambiguous) and the keep / delete_after_days policy, including that an
 * ambiguous message is never deleted and an owed deletion always is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/pop3_plan.h"

#define NOW 1800000000	/* some time in 2027 */
#define DAY 86400

static struct pop3_plan_msg
msg(uint32_t num, const char *key)
{
	struct pop3_plan_msg m;

	memset(&m, 0, sizeof(m));
	m.num = num;
	m.size = 100 + num;
	m.key = key;
	return m;
}

static struct store_pop3_entry
rec(const char *uidl, int64_t fetched, bool is_owed)
{
	struct store_pop3_entry e;

	memset(&e, 0, sizeof(e));
	e.uidl = uidl;
	e.rec.fetched = fetched;
	e.rec.is_deleted = is_owed;
	return e;
}

static void
test_top_key(void **state)
{
	uint8_t h[STORE_HASH_LEN];
	char key[STORE_UIDL_MAX + 1];

	(void)state;
	memset(h, 0xab, sizeof(h));
	pop3_plan_top_key(1234, h, key);
	assert_true(pop3_plan_is_top_key(key));
	assert_int_equal(strncmp(key, "TOP0 1234 abababab", 18), 0);
	assert_int_equal(strlen(key), 5 + 5 + 64);
	assert_false(pop3_plan_is_top_key("00000001abcdef"));
}

static void
test_disambiguate(void **state)
{
	struct pop3_plan_msg m[5] = {
		msg(1, "a"), msg(2, "b"), msg(3, "a"), msg(4, "c"),
		msg(5, "a"),
	};

	char *keys;

	(void)state;
	assert_int_equal(pop3_plan_disambiguate(m, 5, &keys), MS_OK);
	/* The first keeps its key; all three are ambiguous. */
	assert_string_equal(m[0].key, "a");
	assert_string_equal(m[2].key, "a #2");
	assert_string_equal(m[4].key, "a #3");
	assert_true(m[0].is_ambiguous && m[2].is_ambiguous &&
		    m[4].is_ambiguous);
	assert_false(m[1].is_ambiguous || m[3].is_ambiguous);
	assert_string_equal(m[1].key, "b");
	/* The renamed keys are in the one buffer the caller frees. */
	assert_non_null(keys);
	assert_ptr_equal(m[2].key, keys);
	free(keys);
}

/* No key repeats: nothing renamed, no buffer. */
static void
test_disambiguate_unique(void **state)
{
	struct pop3_plan_msg m[3] = { msg(1, "b"), msg(2, "a"), msg(3, "c") };
	char *keys = (char *)"not set";

	(void)state;
	assert_int_equal(pop3_plan_disambiguate(m, 3, &keys), MS_OK);
	assert_null(keys);
	assert_false(m[0].is_ambiguous || m[1].is_ambiguous ||
		     m[2].is_ambiguous);
	assert_string_equal(m[1].key, "a");
}

/* A key at the limit keeps its suffix: the key is cut, not the suffix. */
static void
test_disambiguate_long(void **state)
{
	char longkey[STORE_UIDL_MAX + 1];
	struct pop3_plan_msg m[2];
	char *keys;

	(void)state;
	memset(longkey, 'u', STORE_UIDL_MAX);
	longkey[STORE_UIDL_MAX] = '\0';
	m[0] = msg(1, longkey);
	m[1] = msg(2, longkey);
	assert_int_equal(pop3_plan_disambiguate(m, 2, &keys), MS_OK);
	assert_int_equal(strlen(m[1].key), STORE_UIDL_MAX);
	assert_string_equal(m[1].key + STORE_UIDL_MAX - 3, " #2");
	assert_true(m[0].is_ambiguous && m[1].is_ambiguous);
	free(keys);
}

static void
test_policy(void **state)
{
	struct pop3_plan_policy keep = { .keep = true, .now = NOW };
	struct pop3_plan_policy nokeep = { .keep = false, .now = NOW };
	struct pop3_plan_policy days = { .keep = true, .delete_after_days = 30,
					 .now = NOW };
	struct store_pop3 young = { .fetched = NOW - 29 * DAY };
	struct store_pop3 old = { .fetched = NOW - 30 * DAY };
	struct store_pop3 owed = { .fetched = NOW, .is_deleted = true };

	(void)state;
	assert_false(pop3_plan_want_delete(&keep, &old, false));
	assert_true(pop3_plan_want_delete(&nokeep, &young, false));
	assert_false(pop3_plan_want_delete(&days, &young, false));
	assert_true(pop3_plan_want_delete(&days, &old, false));
	/* An owed deletion stands whatever the policy says now. */
	assert_true(pop3_plan_want_delete(&keep, &owed, false));
	/* Never an ambiguous one, not even owed. */
	assert_false(pop3_plan_want_delete(&nokeep, &young, true));
	assert_false(pop3_plan_want_delete(&days, &old, true));
	assert_false(pop3_plan_want_delete(&keep, &owed, true));
}

static void
test_decide(void **state)
{
	struct pop3_plan_policy days = { .keep = true, .delete_after_days = 7,
					 .now = NOW };
	/* Sorted by uidl, as store_pop3_list() returns them. */
	struct store_pop3_entry recs[4] = {
		rec("gone", NOW - DAY, false), rec("new1", NOW - DAY, false),
		rec("old1", NOW - 8 * DAY, false),
		rec("x", NOW - 9 * DAY, false),
	};
	struct pop3_plan_msg m[4] = {
		msg(1, "new1"), msg(2, "old1"), msg(3, "fresh"), msg(4, "x"),
	};
	bool seen[4];

	(void)state;
	m[3].is_ambiguous = true;
	pop3_plan_decide(m, 4, recs, 4, &days, seen);
	assert_int_equal(m[0].action, POP3_PLAN_HAVE);
	assert_int_equal(m[0].rec, 1);
	assert_int_equal(m[1].action, POP3_PLAN_DELETE);
	assert_int_equal(m[2].action, POP3_PLAN_FETCH);
	/* Old enough, but ambiguous: kept on the server. */
	assert_int_equal(m[3].action, POP3_PLAN_HAVE);
	assert_false(seen[0]);
	assert_true(seen[1] && seen[2] && seen[3]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_key),
		cmocka_unit_test(test_disambiguate),
		cmocka_unit_test(test_disambiguate_unique),
		cmocka_unit_test(test_disambiguate_long),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
