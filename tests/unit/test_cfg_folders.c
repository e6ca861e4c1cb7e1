/*
 * test_cfg_folders.c - daemon/cfg/cfg_folders.c: the folders= patterns
 * ("*", "%" within one level, INBOX case-insensitive, "!" excludes) that
 * the engine and the mirror both ask.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cfg/cfg.h"

static void
test_patterns(void **state)
{
	char *all[] = { "*" };
	char *ex[] = { "*", "!Trash", "!Lists/*" };
	char *only_ex[] = { "!Junk" };
	char *some[] = { "INBOX", "Lists/%", "Ü*" };

	(void)state;
	assert_true(cfg_folder_match("*", "a/b/c", '/'));
	assert_true(cfg_folder_match("%", "abc", '/'));
	assert_false(cfg_folder_match("%", "a/b", '/'));
	assert_true(cfg_folder_match("a/%", "a/b", '/'));
	assert_false(cfg_folder_match("a/%", "a/b/c", '/'));
	assert_true(cfg_folder_match("a/*", "a/b/c", '/'));
	assert_true(cfg_folder_match("%/c", "b/c", '/'));
	assert_true(cfg_folder_match("*c", "a/b/c", '/'));
	assert_false(cfg_folder_match("a", "ab", '/'));
	assert_true(cfg_folder_match("a*b*c", "axxbyyc", '/'));
	assert_false(cfg_folder_match("a*b*c", "axxbyy", '/'));
	assert_true(cfg_folder_match("inbox", "INBOX", '/'));
	assert_true(cfg_folder_match("Inbox/%", "INBOX/x", '/'));
	assert_false(cfg_folder_match("inboxes", "INBOX", '/'));
	assert_false(cfg_folder_match("sent", "Sent", '/'));
	assert_true(cfg_folder_match("Ünïcödé", "Ünïcödé", '/'));
	assert_true(cfg_folder_match("%", "x.y", 0));

	assert_true(cfg_folder_wanted(all, 1, "Trash", '/'));
	assert_true(cfg_folder_wanted(NULL, 0, "Trash", '/'));
	assert_false(cfg_folder_wanted(ex, 3, "Trash", '/'));
	assert_false(cfg_folder_wanted(ex, 3, "Lists/dev", '/'));
	assert_true(cfg_folder_wanted(ex, 3, "Lists", '/'));
	assert_true(cfg_folder_wanted(ex, 3, "INBOX", '/'));
	assert_false(cfg_folder_wanted(only_ex, 1, "Junk", '/'));
	assert_true(cfg_folder_wanted(only_ex, 1, "INBOX", '/'));
	assert_true(cfg_folder_wanted(some, 3, "inbox", '/'));
	assert_true(cfg_folder_wanted(some, 3, "Lists/dev", '/'));
	assert_false(cfg_folder_wanted(some, 3, "Lists/dev/old", '/'));
	assert_true(cfg_folder_wanted(some, 3, "Ünïcödé", '/'));
	assert_false(cfg_folder_wanted(some, 3, "Sent", '/'));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
