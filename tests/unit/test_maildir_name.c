/* test_maildir_name.c - daemon/maildir: flag letters, unique names, parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "maildir/maildir_name.h"

static void
test_flags_sorted_round_trip(void **state)
{
	char out[MAILDIR_FLAGS_STRMAX];
	maildir_flags_t f;

	/* Every subset of the six system flags round-trips, sorted. */
	static const char letters[] = "DFPRST";
	for (unsigned m = 0; m < 64; m++) {
		char want[8];
		size_t n = 0;

		f = 0;
		for (unsigned i = 0; i < 6; i++) {
			if (m & (1u << i)) {
				want[n++] = letters[i];
				f |= MAILDIR_FLAG_BIT(letters[i]);
			}
		}
		want[n] = '\0';
		assert_int_equal(maildir_flags_format(f, out), n);
		assert_string_equal(out, want);
		assert_true(maildir_flags_parse(out, n, NULL) == f);
	}
	/* Unsorted, duplicated input comes out sorted and once. */
	f = maildir_flags_parse("TSSRD", 5, NULL);
	maildir_flags_format(f, out);
	assert_string_equal(out, "DRST");
	assert_true(f == (MAILDIR_FLAG_DRAFT | MAILDIR_FLAG_REPLIED |
			  MAILDIR_FLAG_SEEN | MAILDIR_FLAG_TRASHED));
	assert_true((f & ~MAILDIR_FLAGS_SYSTEM) == 0);
}

static void
test_flags_unknown_letters_kept(void **state)
{
	char out[MAILDIR_FLAGS_STRMAX];
	size_t ignored;
	maildir_flags_t f = maildir_flags_parse("zSaFb1-", 7, &ignored);

	assert_int_equal(ignored, 2);
	maildir_flags_format(f, out);
	/* Uppercase before lowercase: ASCII order. */
	assert_string_equal(out, "FSabz");
	assert_true((f & MAILDIR_FLAGS_KEYWORDS) ==
		    (MAILDIR_FLAG_BIT('a') | MAILDIR_FLAG_BIT('b') | MAILDIR_FLAG_BIT('z')));
	/* All 52 letters fit. */
	f = maildir_flags_parse("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
				52, NULL);
	assert_int_equal(maildir_flags_format(f, out), 52);
}

static void
test_imap_names(void **state)
{
	static const char *const names[] = { "\\Draft", "\\Flagged", "$Forwarded",
					      "\\Answered", "\\Seen", "\\Deleted" };
	static const char letters[] = "DFPRST";
	maildir_flags_t all = 0;

	for (int i = 0; i < 6; i++) {
		maildir_flags_t bit = maildir_flag_from_imap(names[i], strlen(names[i]));

		assert_true(bit == MAILDIR_FLAG_BIT(letters[i]));
		assert_string_equal(maildir_flag_to_imap(bit), names[i]);
		all |= bit;
	}
	assert_true(all == MAILDIR_FLAGS_SYSTEM);
	assert_true(maildir_flag_from_imap("\\SEEN", 5) == MAILDIR_FLAG_SEEN);
	assert_true(maildir_flag_from_imap("\\Recent", 7) == 0);
	assert_true(maildir_flag_from_imap("$Junk", 5) == 0);
	assert_true(maildir_flag_from_imap("\\Seen", 4) == 0);
	assert_null(maildir_flag_to_imap(MAILDIR_FLAG_BIT('a')));
}

static void
test_parse_info(void **state)
{
	struct maildir_name_info in;
	char out[MAILDIR_NAME_MAX + 1];

	assert_int_equal(maildir_name_parse("123.M4P5Q6.host,S=42:2,SRa", 26, &in), MS_OK);
	assert_int_equal(in.sep, ':');
	assert_true(in.flags == (MAILDIR_FLAG_SEEN | MAILDIR_FLAG_REPLIED |
				 MAILDIR_FLAG_BIT('a')));
	assert_true(ms_slice_eq_cstr(in.base, "123.M4P5Q6.host,S=42"));
	assert_true(ms_slice_eq_cstr(in.unique, "123.M4P5Q6.host"));
	assert_true(in.has_size);
	assert_int_equal(in.size, 42);
	assert_false(in.has_uid);
	/* A flag change keeps base and separator, and sorts. */
	assert_int_equal(maildir_name_with_flags(in.base, in.sep, in.flags | MAILDIR_FLAG_FLAGGED,
						 out, sizeof(out)), 27);
	assert_string_equal(out, "123.M4P5Q6.host,S=42:2,FRSa");

	/* '!' separator, as mbsync's InfoDelimiter writes on some systems. */
	assert_int_equal(maildir_name_parse("x,U=7,S=10!2,T", 14, &in), MS_OK);
	assert_int_equal(in.sep, '!');
	assert_true(in.flags == MAILDIR_FLAG_TRASHED);
	assert_true(in.has_uid);
	assert_int_equal(in.uid, 7);
	assert_int_equal(in.size, 10);
	assert_int_equal(maildir_name_with_flags(in.base, in.sep, 0, out, sizeof(out)), 13);
	assert_string_equal(out, "x,U=7,S=10!2,");

	/* No ":2,": no flags, whole name is the base. */
	assert_int_equal(maildir_name_parse("1700000000.abc.host", 19, &in), MS_OK);
	assert_int_equal(in.sep, 0);
	assert_true(in.flags == 0);
	assert_int_equal(in.base.len, 19);
	assert_false(in.has_size);
	/* ":1," info is not flags. */
	assert_int_equal(maildir_name_parse("a:1,xy", 6, &in), MS_OK);
	assert_int_equal(in.sep, 0);
	assert_int_equal(in.base.len, 6);
	/* Empty flag list. */
	assert_int_equal(maildir_name_parse("a:2,", 4, &in), MS_OK);
	assert_int_equal(in.sep, ':');
	assert_true(in.flags == 0);
	assert_int_equal(in.base.len, 1);

	/* Malformed fields are ignored, not fatal. */
	assert_int_equal(maildir_name_parse("a,S=12x,U=0,S=,W=5", 18, &in), MS_OK);
	assert_false(in.has_size);
	assert_false(in.has_uid);
	assert_int_equal(maildir_name_parse("a,S=99999999999999999999999", 27, &in), MS_OK);
	assert_false(in.has_size);
	assert_int_equal(maildir_name_parse("a,U=4294967296", 14, &in), MS_OK);
	assert_false(in.has_uid);
	assert_int_equal(maildir_name_parse("a,U=4294967295", 14, &in), MS_OK);
	assert_true(in.has_uid);

	/* Not message names. */
	assert_int_equal(maildir_name_parse("", 0, &in), MS_EINVAL);
	assert_int_equal(maildir_name_parse(".hidden", 7, &in), MS_EINVAL);
	assert_int_equal(maildir_name_parse("a/b", 3, &in), MS_EINVAL);
	assert_int_equal(maildir_name_parse("a\0b", 3, &in), MS_EINVAL);
}

static void
test_new_name_round_trip(void **state)
{
	struct maildir_namegen g;
	struct maildir_name_info in;
	char out[MAILDIR_NAME_MAX + 1];
	char out2[MAILDIR_NAME_MAX + 1];
	struct maildir_name_params p = {
		.id = "1234567-42-0badc0de", .uid = 42, .has_size = true,
		.size = 5000, .has_info = true,
		.flags = MAILDIR_FLAG_SEEN | MAILDIR_FLAG_DRAFT | MAILDIR_FLAG_BIT('c'),
	};
	int n;

	maildir_namegen_init(&g);
	n = maildir_name_new(NULL, &p, out, sizeof(out));
	assert_int_equal(n, (int)strlen(out));
	assert_string_equal(out, "1234567-42-0badc0de,U=42,S=5000:2,DSc");
	assert_int_equal(maildir_name_parse(out, (size_t)n, &in), MS_OK);
	assert_true(ms_slice_eq_cstr(in.unique, p.id));
	assert_true(in.has_uid && in.uid == 42);
	assert_true(in.has_size && in.size == 5000);
	assert_true(in.flags == p.flags);
	/* parse -> with_flags gives the same name back. */
	assert_int_equal(maildir_name_with_flags(in.base, in.sep, in.flags, out2, sizeof(out2)), n);
	assert_string_equal(out2, out);

	/* Generated names parse back too. */
	p.id = NULL;
	p.uid = 0;
	p.has_info = false;
	n = maildir_name_new(&g, &p, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(maildir_name_parse(out, (size_t)n, &in), MS_OK);
	assert_int_equal(in.sep, 0);
	assert_false(in.has_uid);
	assert_true(in.has_size && in.size == 5000);
	assert_non_null(strstr(out, ".M"));
	assert_non_null(strstr(out, ",S=5000"));

	/* Bad ids, missing generator, too small a buffer. */
	p.id = "a:b";
	assert_int_equal(maildir_name_new(&g, &p, out, sizeof(out)), MS_EINVAL);
	p.id = ".x";
	assert_int_equal(maildir_name_new(&g, &p, out, sizeof(out)), MS_EINVAL);
	p.id = "a,b";
	assert_int_equal(maildir_name_new(&g, &p, out, sizeof(out)), MS_EINVAL);
	p.id = NULL;
	assert_int_equal(maildir_name_new(NULL, &p, out, sizeof(out)), MS_EINVAL);
	assert_int_equal(maildir_name_new(&g, &p, out, 10), MS_ETOOBIG);
}

static void
test_hostname_escaped(void **state)
{
	struct maildir_namegen g;

	maildir_namegen_init(&g);
	/* Whatever the host is, no raw separators may survive in it. */
	assert_null(strchr(g.host, '/'));
	assert_null(strchr(g.host, ':'));
	assert_null(strchr(g.host, ','));
	assert_true(g.host[0] != '\0');
}

static int
test_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

#define NAMES_N 100000

static void
test_unique_in_loop(void **state)
{
	struct maildir_namegen g;
	struct maildir_name_params p = { 0 };
	char **v = calloc(NAMES_N, sizeof(*v));
	char out[MAILDIR_NAME_MAX + 1];

	assert_non_null(v);
	maildir_namegen_init(&g);
	for (int i = 0; i < NAMES_N; i++) {
		assert_true(maildir_name_new(&g, &p, out, sizeof(out)) > 0);
		v[i] = strdup(out);
		assert_non_null(v[i]);
	}
	qsort(v, NAMES_N, sizeof(*v), test_cmp_str);
	for (int i = 1; i < NAMES_N; i++)
		assert_string_not_equal(v[i - 1], v[i]);
	for (int i = 0; i < NAMES_N; i++)
		free(v[i]);
	free(v);
}

#define FORK_N 4
#define FORK_PER 2000

static void
test_unique_across_fork(void **state)
{
	struct maildir_namegen g;
	struct maildir_name_params p = { 0 };
	int fds[2];
	char out[MAILDIR_NAME_MAX + 1];
	char **v = calloc(FORK_N * FORK_PER, sizeof(*v));
	size_t nv = 0;
	FILE *f;
	char line[512];

	assert_non_null(v);
	/* The generator is initialised once, before fork(), as a daemon would. */
	maildir_namegen_init(&g);
	assert_int_equal(pipe(fds), 0);
	for (int c = 0; c < FORK_N; c++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			for (int i = 0; i < FORK_PER; i++) {
				int n = maildir_name_new(&g, &p, out, sizeof(out));

				if (n <= 0)
					_exit(1);
				out[n] = '\n';
				/* One write() per line: atomic on a pipe (< PIPE_BUF). */
				if (write(fds[1], out, (size_t)n + 1) != n + 1)
					_exit(1);
			}
			_exit(0);
		}
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL && nv < FORK_N * FORK_PER) {
		line[strcspn(line, "\n")] = '\0';
		v[nv] = strdup(line);
		assert_non_null(v[nv]);
		nv++;
	}
	fclose(f);
	for (int c = 0; c < FORK_N; c++) {
		int st;

		assert_true(wait(&st) > 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(nv, FORK_N * FORK_PER);
	qsort(v, nv, sizeof(*v), test_cmp_str);
	for (size_t i = 1; i < nv; i++)
		assert_string_not_equal(v[i - 1], v[i]);
	for (size_t i = 0; i < nv; i++)
		free(v[i]);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags_sorted_round_trip),
		cmocka_unit_test(test_flags_unknown_letters_kept),
		cmocka_unit_test(test_imap_names),
		cmocka_unit_test(test_parse_info),
		cmocka_unit_test(test_new_name_round_trip),
		cmocka_unit_test(test_hostname_escaped),
		cmocka_unit_test(test_unique_in_loop),
		cmocka_unit_test(test_unique_across_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
