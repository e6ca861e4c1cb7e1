/*
 * test_sync_logic.c - the sync engine's pure parts: flag names and the
 * three-way merge (every case), folder attributes, the per-folder plan
 * and the order of a folder's steps, and IMAP dates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "session/imap_session.h"
#include "store/store.h"
#include "sync/sync_date.h"
#include "sync/sync_flags.h"
#include "sync/imap_sync_int.h"
#include "sync/sync_folders.h"

static void
test_flag_names(void **state)
{
	char buf[SYNC_FLAGS_TEXT_MAX];
	uint32_t all = 0xff;

	(void)state;
	assert_int_equal(sync_flags_from_imap(MS_SLICE_LIT(
		"\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded "
		"$Junk $NotJunk")), all);
	/* Case-insensitive; unknown keywords and \Recent ignored. */
	assert_int_equal(sync_flags_from_imap(MS_SLICE_LIT(
		"\\SEEN \\recent foo $junk")),
		STORE_FLAG_SEEN | STORE_FLAG_JUNK);
	assert_int_equal(sync_flags_from_imap(MS_SLICE_LIT("")), 0);
	assert_int_equal(sync_flag_from_name(MS_SLICE_LIT("\\Seenx")), 0);
	assert_int_equal(sync_flags_to_imap(all, buf, sizeof(buf)), MS_OK);
	assert_string_equal(buf, "\\Seen \\Answered \\Flagged \\Deleted "
			    "\\Draft $Forwarded $Junk $NotJunk");
	assert_int_equal(sync_flags_from_imap(ms_slice_from_cstr(buf)), all);
	assert_int_equal(sync_flags_to_imap(0, buf, sizeof(buf)), MS_OK);
	assert_string_equal(buf, "");
	assert_int_equal(sync_flags_to_imap(STORE_FLAG_FLAGGED |
					    STORE_FLAG_SEEN, buf, sizeof(buf)),
			 MS_OK);
	assert_string_equal(buf, "\\Seen \\Flagged");
	assert_int_equal(sync_flags_to_imap(all, buf, 10), MS_ETOOBIG);
	assert_int_equal(sync_flags_to_imap(STORE_FLAG_SEEN, buf, 5),
			 MS_ETOOBIG);
	assert_int_equal(sync_flags_to_imap(STORE_FLAG_SEEN, buf, 6), MS_OK);
}

/* All eight (local, synced, server) combinations of one flag. */
static void
test_merge_cases(void **state)
{
	static const struct {
		int local, synced, server, want;
	} cases[] = {
		{ 0, 0, 0, 0 },	/* nobody changed */
		{ 1, 1, 1, 1 },
		{ 1, 0, 0, 1 },	/* local set wins over no change */
		{ 0, 1, 1, 0 },	/* local clear wins over no change */
		{ 0, 0, 1, 1 },	/* server set wins over no change */
		{ 1, 1, 0, 0 },	/* server clear wins over no change */
		{ 1, 0, 1, 1 },	/* both set: set */
		{ 0, 1, 0, 0 },	/* both clear: clear */
	};
	uint32_t conflicts;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (uint32_t bit = 1; bit <= STORE_FLAG_NOTJUNK; bit <<= 1) {
			uint32_t got = sync_flags_merge(
				cases[i].local ? bit : 0,
				cases[i].synced ? bit : 0,
				cases[i].server ? bit : 0, &conflicts);

			assert_int_equal(got, cases[i].want ? bit : 0);
			assert_int_equal(conflicts, 0);
		}
	}
	/* Independent flags merge independently: local +Flagged, server
	 * +Answered -Seen, local and server both +Draft. */
	assert_int_equal(sync_flags_merge(
		STORE_FLAG_SEEN | STORE_FLAG_FLAGGED | STORE_FLAG_DRAFT,
		STORE_FLAG_SEEN,
		STORE_FLAG_ANSWERED | STORE_FLAG_DRAFT, NULL),
		STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED | STORE_FLAG_DRAFT);
}

/* The order of a folder's steps, read in one place: each plan's path
 * from SELECT to DONE, the CONDSTORE second diff, and a failure ending
 * the folder from any step. */
static enum sync_folder_step
path(enum sync_folder_mode mode, bool uid_check_after_fetch, char *out,
     size_t outsz)
{
	enum sync_folder_step s = SYNC_FOLDER_SELECT;
	bool is_uid_check = false;
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < 20 && s != SYNC_FOLDER_DONE; i++) {
		n += (size_t)snprintf(out + n, outsz - n, "%s ",
				      sync_folder_step_name(s));
		if (s == SYNC_FOLDER_CHECK && uid_check_after_fetch)
			is_uid_check = true;
		s = sync_folder_after(s, mode, false, is_uid_check);
	}
	snprintf(out + n, outsz - n, "%s", sync_folder_step_name(s));
	return s;
}

static void
test_folder_steps(void **state)
{
	char p[256];

	(void)state;
	path(SYNC_MODE_INITIAL, false, p, sizeof(p));
	assert_string_equal(p, "select fetch check settle push done");
	/* After a UIDVALIDITY change: sizes and Message-IDs first. */
	path(SYNC_MODE_REMATCH, false, p, sizeof(p));
	assert_string_equal(p, "select rematch fetch check settle push done");
	path(SYNC_MODE_QRESYNC, false, p, sizeof(p));
	assert_string_equal(p, "select fetch check settle push done");
	path(SYNC_MODE_FULL, false, p, sizeof(p));
	assert_string_equal(p, "select diff fetch check settle push done");
	path(SYNC_MODE_CONDSTORE, false, p, sizeof(p));
	assert_string_equal(p, "select changes fetch check settle push done");
	/* CHANGEDSINCE does not tell expunges: counts that disagree after
	 * the fetch send the folder through a second diff once. */
	path(SYNC_MODE_CONDSTORE, true, p, sizeof(p));
	assert_string_equal(p, "select changes fetch check diff settle push "
			    "done");
	for (int s = SYNC_FOLDER_SELECT; s <= SYNC_FOLDER_DONE; s++)
		assert_int_equal(sync_folder_after((enum sync_folder_step)s,
						   SYNC_MODE_FULL, true, false),
				 SYNC_FOLDER_DONE);
	assert_string_equal(sync_folder_step_name((enum sync_folder_step)99),
			    "?");
}

static void
test_attrs(void **state)
{
	(void)state;
	assert_int_equal(sync_folder_attrs(MS_SLICE_LIT(
		"\\HasNoChildren \\Sent"), "Sent"), STORE_FOLDER_SENT);
	assert_int_equal(sync_folder_attrs(MS_SLICE_LIT(
		"\\Noselect \\HasChildren"), "Lists"), STORE_FOLDER_NOSELECT);
	assert_int_equal(sync_folder_attrs(MS_SLICE_LIT(""), "inbox"),
			 STORE_FOLDER_INBOX);
	assert_int_equal(sync_folder_attrs(MS_SLICE_LIT(
		"\\Trash \\Junk \\Drafts \\Archive \\All \\Flagged"), "x"),
		STORE_FOLDER_TRASH | STORE_FOLDER_JUNK | STORE_FOLDER_DRAFTS |
		STORE_FOLDER_ARCHIVE | STORE_FOLDER_ALL |
		STORE_FOLDER_FLAGGED);
}

static void
test_plan(void **state)
{
	struct store_folder_state stored = {
		.uidvalidity = 7, .uidnext = 101, .highestmodseq = 500,
		.messages = 90,
	};
	struct sync_folder_status st = {
		.has_status = true, .uidvalidity = 7, .uidnext = 101,
		.highestmodseq = 500, .messages = 90,
	};
	struct store_folder_state fresh = { 0 };
	unsigned qr = IMAP_SESSION_CAP_QRESYNC | IMAP_SESSION_CAP_CONDSTORE;
	struct sync_folder_status t;

	(void)state;
	/* Unchanged: not selected, whatever the capabilities. */
	assert_int_equal(sync_folder_plan(&stored, &st, qr, false),
			 SYNC_MODE_SKIP);
	assert_int_equal(sync_folder_plan(&stored, &st, 0, false),
			 SYNC_MODE_SKIP);
	/* Pending local changes need the folder selected. */
	assert_int_equal(sync_folder_plan(&stored, &st, qr, true),
			 SYNC_MODE_QRESYNC);
	/* Each of the four values alone makes it changed. */
	t = st; t.uidnext = 102;
	assert_int_equal(sync_folder_plan(&stored, &t, qr, false),
			 SYNC_MODE_QRESYNC);
	t = st; t.messages = 89;
	assert_int_equal(sync_folder_plan(&stored, &t, qr, false),
			 SYNC_MODE_QRESYNC);
	t = st; t.highestmodseq = 501;
	assert_int_equal(sync_folder_plan(&stored, &t, qr, false),
			 SYNC_MODE_QRESYNC);
	t = st; t.uidvalidity = 8;
	assert_int_equal(sync_folder_plan(&stored, &t, qr, false),
			 SYNC_MODE_QRESYNC);
	/* No modseqs (no CONDSTORE, or NOMODSEQ): flag changes are
	 * invisible in STATUS, so the folder is always diffed. */
	stored.highestmodseq = 0;
	t = st; t.highestmodseq = 0;
	assert_int_equal(sync_folder_plan(&stored, &t, 0, false),
			 SYNC_MODE_FULL);
	assert_int_equal(sync_folder_plan(&stored, &t, qr, false),
			 SYNC_MODE_FULL);
	stored.highestmodseq = 500;
	/* CONDSTORE without QRESYNC: CHANGEDSINCE; neither: the diff. */
	t = st; t.highestmodseq = 501;
	assert_int_equal(sync_folder_plan(&stored, &t,
					  IMAP_SESSION_CAP_CONDSTORE, false),
			 SYNC_MODE_CONDSTORE);
	assert_int_equal(sync_folder_plan(&stored, &t, 0, false),
			 SYNC_MODE_FULL);
	/* No STATUS known: selected. */
	t = st; t.has_status = false;
	assert_int_equal(sync_folder_plan(&stored, &t, qr, false),
			 SYNC_MODE_QRESYNC);
	/* Never synced: initial. */
	assert_int_equal(sync_folder_plan(&fresh, &st, qr, false),
			 SYNC_MODE_INITIAL);
	/* An interrupted first pass left no modseq: resume by the diff. */
	stored.highestmodseq = 0;
	t = st; t.uidnext = 200;
	assert_int_equal(sync_folder_plan(&stored, &t, qr, false),
			 SYNC_MODE_FULL);
	assert_string_equal(sync_folder_mode_name(SYNC_MODE_SKIP), "skip");
}

static void
test_dates(void **state)
{
	char buf[SYNC_DATE_TEXT_MAX];
	int64_t t;

	(void)state;
	assert_int_equal(sync_date_parse(MS_SLICE_LIT(
		"17-Jul-1996 02:44:25 -0700"), &t), MS_OK);
	assert_int_equal(t, 837596665);
	assert_int_equal(sync_date_parse(MS_SLICE_LIT(
		" 7-Jul-1996 02:44:25 +0000"), &t), MS_OK);
	assert_int_equal(t, 836707465);
	assert_int_equal(sync_date_parse(MS_SLICE_LIT(
		"7-jul-1996 02:44:25 +0000"), &t), MS_OK);
	sync_date_format(837596665, buf);
	assert_string_equal(buf, "17-Jul-1996 09:44:25 +0000");
	assert_int_equal(sync_date_parse(ms_slice_from_cstr(buf), &t), MS_OK);
	assert_int_equal(t, 837596665);
	assert_int_equal(sync_date_parse(MS_SLICE_LIT(
		"17-Jux-1996 02:44:25 -0700"), &t), MS_EINVAL);
	assert_int_equal(sync_date_parse(MS_SLICE_LIT(
		"17-Jul-1996 02:44:25"), &t), MS_EINVAL);
	assert_int_equal(sync_date_parse(MS_SLICE_LIT(
		"17-Jul-1996 02:44:25 -0700x"), &t), MS_EINVAL);
	assert_int_equal(sync_date_parse(MS_SLICE_LIT(""), &t), MS_EINVAL);
	assert_int_equal(sync_date_parse(MS_SLICE_LIT("1"), &t), MS_EINVAL);
}

/* An APPEND without APPENDUID: which new message with its Message-ID
 * is its copy (a Sent copy the server saved may have come meanwhile). */
static void
test_find_pick(void **state)
{
	const char *why;
	/* Our copy (size and date sent) after the Sent copy: ours. */
	struct sync_push_hit sent[] = {
		{ .uid = 5 }, { .uid = 6, .is_size = true, .is_date = true },
	};
	/* Two that look alike: not guessed. */
	struct sync_push_hit twins[] = {
		{ .uid = 5, .is_size = true, .is_date = true },
		{ .uid = 6, .is_size = true, .is_date = true },
	};
	/* A rewriting server: the size changed, the date did not. */
	struct sync_push_hit rewritten[] = { { .uid = 9, .is_date = true } };
	/* ...but beside another copy with that date: not guessed. */
	struct sync_push_hit rewritten2[] = {
		{ .uid = 9, .is_date = true }, { .uid = 10, .is_date = true },
	};
	/* ...beside one with another date (a Sent copy): the dated one. */
	struct sync_push_hit rewritten3[] = {
		{ .uid = 9 }, { .uid = 10, .is_date = true },
	};
	/* The only hit, neither size nor date: not ours (or not known). */
	struct sync_push_hit other[] = { { .uid = 7 } };

	(void)state;
	assert_int_equal(sync_push_find_pick(sent, 2, &why), 6);
	assert_null(why);
	assert_int_equal(sync_push_find_pick(twins, 2, &why), 0);
	assert_non_null(strstr(why, "several"));
	assert_int_equal(sync_push_find_pick(rewritten, 1, &why), 9);
	assert_int_equal(sync_push_find_pick(rewritten2, 2, &why), 0);
	assert_non_null(why);
	assert_int_equal(sync_push_find_pick(rewritten3, 2, &why), 10);
	assert_int_equal(sync_push_find_pick(other, 1, &why), 0);
	assert_non_null(strstr(why, "no new message"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flag_names),
		cmocka_unit_test(test_merge_cases),
		cmocka_unit_test(test_folder_steps),
		cmocka_unit_test(test_attrs),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_find_pick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
