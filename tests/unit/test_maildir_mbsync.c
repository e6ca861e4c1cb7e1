/*
 * test_maildir_mbsync.c - mbsync's sync state (maildir_mbsync.h): the
 * state files isync 1.4 writes (as a real mbsync run wrote them in
 * tests/integration/test_mirror_migrate.sh), the names of isync 1.3,
 * entries that are no complete pair, and malformed states, each refused
 * with the line and what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "maildir/maildir_mbsync.h"

static int
parse(const char *text, struct maildir_mbsync_state *st, struct ms_err *err)
{
	memset(err, 0, sizeof(*err));
	return maildir_mbsync_state_parse(text, strlen(text), st, err);
}

static void
test_isync_1_4(void **state)
{
	struct maildir_mbsync_state st;
	struct ms_err err;

	(void)state;
	assert_int_equal(parse("FarUidValidity 1796644566\n"
			       "NearUidValidity 1796644554\n"
			       "MaxPulledUid 7\n"
			       "MaxPushedUid 3\n"
			       "\n"
			       "2 1 S\n"
			       "3 2 FS\n"
			       "7 3 \n"
			       "5 4\n", &st, &err), MS_OK);
	assert_int_equal(st.far_uidvalidity, 1796644566u);
	assert_int_equal(st.near_uidvalidity, 1796644554u);
	assert_int_equal(st.max_pulled, 7);
	assert_int_equal(st.n, 4);
	assert_int_equal(st.v[0].far_uid, 2);
	assert_int_equal(st.v[0].near_uid, 1);
	assert_true(st.v[0].flags == MAILDIR_FLAG_SEEN);
	assert_true(st.v[1].flags == (MAILDIR_FLAG_FLAGGED | MAILDIR_FLAG_SEEN));
	assert_true(st.v[2].flags == 0 && st.v[3].flags == 0);
	assert_int_equal(st.n_incomplete, 0);
	assert_int_equal(st.min_incomplete_far, 0);
	maildir_mbsync_state_deinit(&st);
	assert_null(st.v);
}

static void
test_isync_1_3_names(void **state)
{
	struct maildir_mbsync_state st;
	struct ms_err err;

	(void)state;
	assert_int_equal(parse("MasterUidValidity 10\nSlaveUidValidity 20\n"
			       "MaxPulledUid 1\nMaxPushedUid 0\n"
			       "MaxExpiredMasterUid 0\n\n1 1 DFPRST\n",
			       &st, &err), MS_OK);
	assert_int_equal(st.far_uidvalidity, 10);
	assert_int_equal(st.near_uidvalidity, 20);
	assert_int_equal(st.n, 1);
	assert_true(st.v[0].flags == MAILDIR_FLAGS_SYSTEM);
	maildir_mbsync_state_deinit(&st);
}

/* Skipped, pending, expired, placeholders, one side missing (0 or, in
 * old versions, negative): no pair; the lowest far UID among them. */
static void
test_incomplete(void **state)
{
	struct maildir_mbsync_state st;
	struct ms_err err;

	(void)state;
	assert_int_equal(parse("FarUidValidity 1\nNearUidValidity 2\n"
			       "MaxPulledUid 40\nMaxPushedUid 9\n"
			       "MaxExpiredFarUid 3\n\n"
			       "10 1 S\n"
			       "31 0 \n"
			       "32 5 ^\n"
			       "33 6 !S\n"
			       "34 7 ~S\n"
			       "35 8 <\n"
			       "0 9 F\n"
			       "36 -1 S\n"
			       "-2 10 \n"
			       "12 11 R\n", &st, &err), MS_OK);
	assert_int_equal(st.n, 2);
	assert_int_equal(st.v[0].far_uid, 10);
	assert_int_equal(st.v[1].far_uid, 12);
	assert_true(st.v[1].flags == MAILDIR_FLAG_REPLIED);
	assert_int_equal(st.n_incomplete, 8);
	assert_int_equal(st.min_incomplete_far, 31);
	maildir_mbsync_state_deinit(&st);
}

static void
test_bad(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "", "the header does not end (no empty line: a state cut "
		  "short?)" },
		{ "FarUidValidity 1\nNearUidValidity 2\nMaxPulledUid 3\n",
		  "the header does not end (no empty line: a state cut "
		  "short?)" },
		{ "1:2 3:4\n\n", "line 1: no \"Key value\" header line (an "
		  "mbsync older than 1.3?)" },
		{ "FarUidValidity x\n\n", "line 1: \"FarUidValidity\" has no "
		  "number" },
		{ "FarUidValidity 4294967296\n\n", "line 1: \"FarUidValidity\" "
		  "has no number" },
		{ "FarUidValidity 1\nColour 3\n\n", "line 2: unknown header "
		  "\"Colour\"" },
		{ "FarUidValidity 1\nMaxPulledUid 3\n\n", "the header lacks "
		  "NearUidValidity" },
		{ "NearUidValidity 1\nMaxPulledUid 3\n\n", "the header lacks "
		  "FarUidValidity" },
		{ "FarUidValidity 1\nNearUidValidity 1\n\n", "the header "
		  "lacks MaxPulledUid" },
		{ "FarUidValidity 1\nNearUidValidity 1\nMaxPulledUid 3\n\n"
		  "1 2 S\n1x 2\n", "line 6: not \"FAR-UID NEAR-UID FLAGS\"" },
		{ "FarUidValidity 1\nNearUidValidity 1\nMaxPulledUid 3\n\n"
		  "1\n", "line 5: not \"FAR-UID NEAR-UID FLAGS\"" },
		{ "FarUidValidity 1\nNearUidValidity 1\nMaxPulledUid 3\n\n"
		  "1 2 SX\n", "line 5: unknown flag 'X'" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct maildir_mbsync_state st;
		struct ms_err err;

		assert_int_equal(parse(cases[i].text, &st, &err), MS_EINVAL);
		assert_string_equal(err.msg, cases[i].msg);
		maildir_mbsync_state_deinit(&st);
	}
}

static void
test_uidvalidity(void **state)
{
	struct ms_err err = { 0 };
	uint32_t uv = 0;

	(void)state;
	assert_int_equal(maildir_mbsync_uidvalidity_parse("1796644554\n12\n",
							  14, &uv, &err), MS_OK);
	assert_int_equal(uv, 1796644554u);
	assert_int_equal(maildir_mbsync_uidvalidity_parse("77", 2, &uv, &err),
			 MS_OK);
	assert_int_equal(uv, 77);
	assert_int_equal(maildir_mbsync_uidvalidity_parse("", 0, &uv, &err),
			 MS_EINVAL);
	assert_string_equal(err.msg, "no UIDVALIDITY on its first line");
	assert_int_equal(maildir_mbsync_uidvalidity_parse("12 x\n", 5, &uv,
							  &err), MS_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_isync_1_4),
		cmocka_unit_test(test_isync_1_3_names),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_uidvalidity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
