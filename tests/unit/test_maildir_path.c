/* test_maildir_path.c - daemon/maildir: server folder name <-> mirror path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "maildir/maildir_path.h"

#define NS(d, p, l, sub) { .delim = (d), .prefix = (p), .layout = (l), \
			  .is_inbox_subfolder = (sub) }
static const struct maildir_path_ns ns_dovecot = NS('/', "", MAILDIR_LAYOUT_VERBATIM, false);
static const struct maildir_path_ns ns_courier = NS('.', "INBOX.", MAILDIR_LAYOUT_VERBATIM, false);
static const struct maildir_path_ns ns_dot = NS('.', NULL, MAILDIR_LAYOUT_VERBATIM, false);
static const struct maildir_path_ns ns_flat = NS(0, NULL, MAILDIR_LAYOUT_VERBATIM, false);
static const struct maildir_path_ns ns_pp = NS('/', "", MAILDIR_LAYOUT_MAILDIRPP, false);
static const struct maildir_path_ns ns_pp_courier = NS('.', "INBOX.", MAILDIR_LAYOUT_MAILDIRPP, false);
static const struct maildir_path_ns ns_legacy = NS('/', "", MAILDIR_LAYOUT_LEGACY, false);
static const struct maildir_path_ns ns_legacy_sub = NS('/', "", MAILDIR_LAYOUT_LEGACY, true);
static const struct maildir_path_ns ns_legacy_courier = NS('.', "INBOX.", MAILDIR_LAYOUT_LEGACY, false);
static const struct maildir_path_ns ns_verbatim_sub = NS('/', "", MAILDIR_LAYOUT_VERBATIM, true);

/* Forward must give want; reverse must give the name back. */
static void
check_map(const struct maildir_path_ns *ns, const char *name, const char *want)
{
	struct ms_buf fwd, back;
	struct ms_err err = { 0 };
	int rc;

	ms_buf_init(&fwd, 4096);
	ms_buf_init(&back, 4096);
	rc = maildir_path_from_server(ns, name, strlen(name), &fwd, &err);
	if (rc != MS_OK)
		fail_msg("forward %s: %s", name, err.msg);
	assert_string_equal(fwd.p != NULL ? (char *)fwd.p : "", want);
	rc = maildir_path_to_server(ns, fwd.p != NULL ? (char *)fwd.p : "", fwd.len,
				    &back, &err);
	if (rc != MS_OK)
		fail_msg("reverse %s: %s", want, err.msg);
	if (strcasecmp(name, "inbox") == 0)
		assert_string_equal((char *)back.p, "INBOX");
	else
		assert_string_equal((char *)back.p, name);
	ms_buf_deinit(&fwd);
	ms_buf_deinit(&back);
}

/*
 * The trees isync 1.4 writes with each SubFolders style (found by running
 * mbsync against the fixture Dovecot, folders INBOX, Archive, Lists/dev,
 * Lists/dev/deep, INBOX/sub and a.b).
 */
static void
test_layouts(void **state)
{
	/* SubFolders Maildir++ (Inbox is the root; Path is refused). */
	check_map(&ns_pp, "INBOX", "");
	check_map(&ns_pp, "Archive", ".Archive");
	check_map(&ns_pp, "Lists/dev", ".Lists.dev");
	check_map(&ns_pp, "Lists/dev/deep", ".Lists.dev.deep");
	check_map(&ns_pp, "INBOX/sub", "..sub");
	check_map(&ns_pp_courier, "INBOX.Lists.dev", ".Lists.dev");
	check_map(&ns_pp_courier, "INBOX.INBOX.x", "..x");
	check_map(&ns_pp, "Ünïcödé/Müll", ".Ünïcödé.Müll");
	check_map(&ns_pp, "cur", ".cur");
	check_map(&ns_pp, "50%/x", ".50%25.x");
	check_map(&ns_pp_courier, "INBOX.a/b", ".a%2Fb");
	check_map(&ns_pp, "Inbox/x", ".Inbox.x");
	/* Maildir++ keeps INBOX at the root even as a "subfolder". */
	struct maildir_path_ns ns_pp_sub = ns_pp;
	ns_pp_sub.is_inbox_subfolder = true;
	check_map(&ns_pp_sub, "INBOX", "");
	check_map(&ns_pp_sub, "INBOX/sub", "..sub");

	/* SubFolders Legacy, Inbox at the root and as INBOX/. */
	check_map(&ns_legacy, "INBOX", "");
	check_map(&ns_legacy, "Archive", "Archive");
	check_map(&ns_legacy, "Lists/dev", "Lists/.dev");
	check_map(&ns_legacy, "Lists/dev/deep", "Lists/.dev/.deep");
	check_map(&ns_legacy, "INBOX/sub", ".sub");
	check_map(&ns_legacy, "INBOX/sub/x", ".sub/.x");
	check_map(&ns_legacy, "a.b", "a.b");
	check_map(&ns_legacy, "a.b/c.d", "a.b/.c.d");
	check_map(&ns_legacy, "x/.y", "x/.%2Ey");
	check_map(&ns_legacy, "x/cur", "x/.cur");
	check_map(&ns_legacy, "cur/x", "%63ur/.x");
	check_map(&ns_legacy_sub, "INBOX", "INBOX");
	check_map(&ns_legacy_sub, "INBOX/sub", "INBOX/.sub");
	check_map(&ns_legacy_sub, "Lists/dev", "Lists/.dev");
	check_map(&ns_legacy_courier, "INBOX.Lists.dev", "Lists/.dev");
	check_map(&ns_legacy_courier, "INBOX.a/b.c", "a%2Fb/.c");

	/* Verbatim with INBOX as INBOX/ (mbsync's usual layout). */
	check_map(&ns_verbatim_sub, "INBOX", "INBOX");
	check_map(&ns_verbatim_sub, "INBOX/x", "INBOX/x");
	check_map(&ns_verbatim_sub, "INBOX/cur/x", "INBOX/%63ur/x");
	check_map(&ns_verbatim_sub, "Inbox/x", "%49nbox/x");
	check_map(&ns_verbatim_sub, "Lists/dev", "Lists/dev");
}

static void check_refused_fwd(const struct maildir_path_ns *ns,
			      const char *name, size_t len);
static void check_refused_rev(const struct maildir_path_ns *ns,
			      const char *path);

/* What a layout cannot hold is refused, naming it; never merged. */
static void
test_layouts_refused(void **state)
{
	char longname[300];
	struct ms_buf b;
	struct ms_err err = { 0 };

	/* Dots are Maildir++'s level separator. */
	ms_buf_init(&b, 4096);
	assert_int_equal(maildir_path_from_server(&ns_pp, "a.b", 3, &b, &err),
			 MS_EINVAL);
	assert_non_null(strstr(err.msg, "\"a.b\" holds a '.'"));
	ms_buf_deinit(&b);
	check_refused_fwd(&ns_pp, "x/v1.2", 6);
	check_refused_fwd(&ns_pp, ".hidden", 7);
	/* The whole Maildir++ name is one directory: 255 bytes at most. */
	memset(longname, 'x', sizeof(longname));
	longname[100] = '/';
	longname[200] = '/';
	check_refused_fwd(&ns_pp, longname, 260);
	check_map(&ns_legacy, "x/y", "x/.y");
	/* Directories a reader made that are no canonical name. */
	check_refused_rev(&ns_pp, "Archive");		/* no dot */
	check_refused_rev(&ns_pp, ".a/b");
	check_refused_rev(&ns_pp, ".");
	check_refused_rev(&ns_pp, "..");
	check_refused_rev(&ns_pp, ".a..b");
	check_refused_rev(&ns_pp, ".a%2Eb");		/* a dot, escaped */
	check_refused_rev(&ns_pp, ".INBOX.x");		/* that is "..x" */
	check_refused_rev(&ns_pp, ".INBOX");
	check_refused_rev(&ns_legacy, "Lists/dev");	/* that is Lists/.dev */
	check_refused_rev(&ns_legacy, "Lists/.");
	check_refused_rev(&ns_legacy, "Lists/..x");
	check_refused_rev(&ns_legacy, "INBOX/.x");	/* that is .x */
	check_refused_rev(&ns_legacy_sub, ".x");	/* that is INBOX/.x */
	check_refused_rev(&ns_legacy_sub, "");
	check_refused_rev(&ns_verbatim_sub, "");
	check_refused_rev(&ns_verbatim_sub, "%49NBOX");
	check_refused_rev(&ns_verbatim_sub, "%49NBOX/x");	/* that is INBOX/x */
}

static void
test_named_cases(void **state)
{
	check_map(&ns_dovecot, "INBOX", "");
	check_map(&ns_dovecot, "inbox", "");
	check_map(&ns_dovecot, "Lists/dev", "Lists/dev");
	check_map(&ns_courier, "INBOX", "");
	check_map(&ns_courier, "INBOX.Lists.dev", "Lists/dev");
	check_map(&ns_dovecot, "Ünïcödé", "Ünïcödé");
	check_map(&ns_courier, "INBOX.Ünïcödé.Müll", "Ünïcödé/Müll");
	/* "a/b" is nested on '/' servers, one component on '.' servers. */
	check_map(&ns_dovecot, "a/b", "a/b");
	check_map(&ns_courier, "INBOX.a/b", "a%2Fb");
	check_map(&ns_flat, "a/b", "a%2Fb");
	check_map(&ns_dovecot, "&", "&");
	check_map(&ns_dovecot, "cur", "%63ur");
	check_map(&ns_dovecot, "Lists/NEW/tmp", "Lists/%4EEW/%74mp");
	check_map(&ns_dovecot, ".hidden", "%2Ehidden");
	check_map(&ns_courier, "INBOX./x", "%2Fx");
	check_map(&ns_dovecot, "x/./..", "x/%2E/%2E.");
	check_map(&ns_dovecot, "50%", "50%25");
	check_map(&ns_dovecot, "a\tb\x7f", "a%09b%7F");
	/* INBOX's children on Dovecot do not meet the root. */
	check_map(&ns_dovecot, "INBOX/x", "%49NBOX/x");
	check_map(&ns_dovecot, "x/INBOX", "x/INBOX");
	check_map(&ns_courier, "INBOX.INBOX", "%49NBOX");
	check_map(&ns_courier, "INBOX.Inbox.x", "%49nbox/x");
	/* A prefix written without its delimiter. */
	struct maildir_path_ns ns_nodelim = NS('.', "INBOX", MAILDIR_LAYOUT_VERBATIM, false);
	check_map(&ns_nodelim, "INBOX.Sent", "Sent");
}

static void
check_refused_fwd(const struct maildir_path_ns *ns, const char *name, size_t len)
{
	struct ms_buf b;
	struct ms_err err = { 0 };

	ms_buf_init(&b, 4096);
	assert_int_equal(maildir_path_from_server(ns, name, len, &b, &err), MS_EINVAL);
	assert_true(err.msg[0] != '\0');
	ms_buf_deinit(&b);
}

static void
check_refused_rev(const struct maildir_path_ns *ns, const char *path)
{
	struct ms_buf b;
	struct ms_err err = { 0 };

	ms_buf_init(&b, 4096);
	assert_int_equal(maildir_path_to_server(ns, path, strlen(path), &b, &err), MS_EINVAL);
	assert_true(err.msg[0] != '\0');
	ms_buf_deinit(&b);
}

static void
test_refused(void **state)
{
	char longname[300];

	check_refused_fwd(&ns_courier, "Trash", 5);	/* outside INBOX. */
	check_refused_fwd(&ns_courier, "INBOX.", 6);
	check_refused_fwd(&ns_dovecot, "a//b", 4);
	check_refused_fwd(&ns_dovecot, "/a", 2);
	check_refused_fwd(&ns_dovecot, "a/", 2);
	memset(longname, 'x', sizeof(longname));
	check_refused_fwd(&ns_dovecot, longname, 256);
	/* Non-canonical mirror names a reader may create. */
	check_refused_rev(&ns_dovecot, "50%");
	check_refused_rev(&ns_dovecot, "a%2fb");
	check_refused_rev(&ns_dovecot, "%61bc");	/* needless escape */
	check_refused_rev(&ns_dovecot, "cur");
	check_refused_rev(&ns_dovecot, ".x");
	check_refused_rev(&ns_dovecot, "%49NBOX");	/* only INBOX's children */
	check_refused_rev(&ns_dovecot, "a//b");
	check_refused_rev(&ns_dovecot, "a%2Fb");	/* would hold the delimiter */
	check_refused_rev(&ns_dot, "a.b");
	check_refused_rev(&ns_flat, "a/b");
}

/*
 * Every string of up to 4 bytes over an alphabet of troublemakers maps to a
 * path without Maildir-looking components, and back to itself.
 */
static void
test_exhaustive_round_trip(void **state)
{
	static const char alpha[] = { 'a', 'c', 'u', 'r', '.', '/', '%', '\x01',
				      '\xc3', 'I', ':', '&' };
	const size_t na = sizeof(alpha);
	const struct maildir_path_ns *nss[] = {
		&ns_dovecot, &ns_courier, &ns_dot, &ns_flat, &ns_pp,
		&ns_pp_courier, &ns_legacy, &ns_legacy_sub, &ns_legacy_courier,
		&ns_verbatim_sub };
	const size_t nns = sizeof(nss) / sizeof(nss[0]);
	size_t tested = 0;

	for (size_t ni = 0; ni < nns; ni++) {
		const struct maildir_path_ns *ns = nss[ni];

		for (size_t len = 1; len <= 4; len++) {
			size_t total = 1;

			for (size_t k = 0; k < len; k++)
				total *= na;
			for (size_t code = 0; code < total; code++) {
				char name[16];
				size_t off = 0, c = code;
				struct ms_buf fwd, back;
				struct ms_err err;

				if (ns->prefix != NULL && ns->prefix[0] != '\0') {
					memcpy(name, "INBOX.", 6);
					off = 6;
				}
				for (size_t k = 0; k < len; k++, c /= na)
					name[off + k] = alpha[c % na];
				name[off + len] = '\0';
				ms_buf_init(&fwd, 4096);
				ms_buf_init(&back, 4096);
				if (maildir_path_from_server(ns, name, off + len, &fwd, &err) == MS_OK) {
					const char *p = fwd.p != NULL ? (char *)fwd.p : "";

					/* No component may look like Maildir
					 * structure, and the tree walk finds
					 * every one. */
					int depth = 0;

					for (const char *s = p; *s != '\0'; depth++) {
						size_t cl = strcspn(s, "/");
						char dname[64];

						assert_true(cl > 0);
						snprintf(dname, sizeof(dname), "%.*s", (int)cl, s);
						assert_true(maildir_path_is_walked(ns->layout, depth, dname));
						assert_true(ns->layout != MAILDIR_LAYOUT_VERBATIM || s[0] != '.');
						assert_false(cl == 1 && s[0] == '.');
						assert_false(cl == 2 && s[0] == '.' && s[1] == '.');
						assert_false(cl == 3 && (strncasecmp(s, "cur", 3) == 0 ||
									 strncasecmp(s, "new", 3) == 0 ||
									 strncasecmp(s, "tmp", 3) == 0));
						for (size_t q = 0; q < cl; q++)
							assert_true((unsigned char)s[q] >= 0x20);
						s += cl;
						if (*s == '/')
							s++;
					}
					if (maildir_path_to_server(ns, p, fwd.len, &back, &err) != MS_OK)
						fail_msg("reverse of \"%s\" failed: %s", p, err.msg);
					if (strcasecmp(name, "inbox") == 0)
						assert_string_equal((char *)back.p, "INBOX");
					else
						assert_memory_equal(back.p, name, off + len);
					tested++;
				}
				ms_buf_deinit(&fwd);
				ms_buf_deinit(&back);
			}
		}
	}
	/* Most of the space maps; refusals are only empty components. */
	assert_true(tested > 50000);
}

static void
test_too_long(void **state)
{
	struct ms_buf b;
	struct ms_err err;

	ms_buf_init(&b, 8);
	assert_int_equal(maildir_path_from_server(&ns_dovecot, "abcdefgh/ij", 11, &b, &err),
			 MS_ETOOBIG);
	ms_buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_cases),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_layouts_refused),
		cmocka_unit_test(test_exhaustive_round_trip),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
