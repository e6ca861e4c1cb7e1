/*
 * test_cfg_convert.c - daemon/cfg/cfg_convert.c, the writer every
 * configuration converter shares: what it writes reads back as written
 * (folder names quoted when a space, comma or quote would split them,
 * each folder once; a value an INI line cannot hold left out with a
 * note); account names made ones mailsync accepts; notes sorted by input
 * line, stably; no account is an error that says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cfg/cfg_convert.h"

static void
test_folder_add(void **state)
{
	char *list = NULL;

	(void)state;
	cfg_convert_folder_add(&list, "INBOX");
	cfg_convert_folder_add(&list, "Sent Items");
	cfg_convert_folder_add(&list, "a,b");
	cfg_convert_folder_add(&list, "say \"hi\"\\");
	cfg_convert_folder_add(&list, "INBOX");		/* once */
	cfg_convert_folder_add(&list, "Sent Items");	/* once, quoted */
	cfg_convert_folder_add(&list, "INBOX.x");	/* not INBOX */
	assert_string_equal(list, "INBOX \"Sent Items\" \"a,b\" "
			    "\"say \\\"hi\\\"\\\\\" INBOX.x");
	free(list);
}

static void
test_value_ok(void **state)
{
	(void)state;
	assert_true(cfg_convert_value_ok("pass show mail/work"));
	assert_true(cfg_convert_value_ok("a;b"));	/* not a comment */
	assert_false(cfg_convert_value_ok(""));
	assert_false(cfg_convert_value_ok(" lead"));
	assert_false(cfg_convert_value_ok("trail\t"));
	assert_false(cfg_convert_value_ok("a ;b"));	/* inih: a comment */
	assert_false(cfg_convert_value_ok("a\nb"));
	assert_false(cfg_convert_value_ok("a\x7f"));
}

static bool
has_note(const struct cfg_convert_result *res, unsigned line,
	 const char *text)
{
	for (size_t i = 0; i < res->n_notes; i++)
		if (res->notes[i].line == line &&
		    strcmp(res->notes[i].text, text) == 0)
			return true;
	return false;
}

static void
test_write(void **state)
{
	struct cfg_convert w;
	struct cfg_convert_result res;

	(void)state;
	cfg_convert_init(&w, "/home/me/.rc", "tool");
	cfg_convert_account(&w, 7, "my mail", "imap");
	cfg_convert_key(&w, 8, "host", "imap.example.com");
	cfg_convert_key(&w, 9, "user", NULL);		/* nothing */
	cfg_convert_key(&w, 3, "password", "x ;y");	/* a note instead */
	cfg_convert_account(&w, 12, "ok_name-1.2", "pop3");
	assert_int_equal(cfg_convert_finish(&w, "tool", &res), MS_OK);
	assert_string_equal(res.ini,
		"; mailsync configuration converted from /home/me/.rc (tool) "
		"by mailsyncctl convert.\n; Check it with: mailsyncd -c FILE "
		"--check-config; every key: mailsync.conf(5).\n"
		"\n[account my-mail]\nprotocol = imap\n"
		"host = imap.example.com\n"
		"\n[account ok_name-1.2]\nprotocol = pop3\n");
	assert_int_equal(res.n_accounts, 2);
	assert_int_equal(res.n_notes, 2);
	/* Sorted by line: line 3's note first though written second. */
	assert_int_equal(res.notes[0].line, 3);
	assert_true(has_note(&res, 3, "password: the value cannot be written "
			     "into an INI line (a ';' after a space, a "
			     "control character, or space at an end): set it "
			     "by hand"));
	assert_true(has_note(&res, 7, "account my mail: named my-mail "
			     "(account names are letters, digits, '.', '_' "
			     "and '-')"));
	cfg_convert_result_free(&res);
}

static void
test_no_account(void **state)
{
	struct cfg_convert w;
	struct cfg_convert_result res;

	(void)state;
	cfg_convert_init(&w, "bad\nname", "tool");
	assert_int_equal(cfg_convert_finish(&w, "tool", &res), MS_ECONFIG);
	assert_non_null(strstr(res.ini, "converted from a file (tool)"));
	assert_int_equal(res.n_accounts, 0);
	assert_true(has_note(&res, 0, "no tool account with a server: "
			     "nothing to convert"));
	cfg_convert_result_free(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folder_add),
		cmocka_unit_test(test_value_ok),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_no_account),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
