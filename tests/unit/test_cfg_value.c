/*
 * test_cfg_value.c - the config module's typed value parsers, ~ and $VAR
 * expansion, the default socket path and the config file search order,
 * driven through a fake environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfg/cfg_int.h"

/* ---- a fake environment ------------------------------------------------ */

struct fake_env {
	const char *vars[16];	/* "NAME=value" */
	const char *files[8];	/* paths that "exist" */
};

static const char *
fake_get(const char *name, void *arg)
{
	struct fake_env *f = arg;
	size_t n = strlen(name);

	for (size_t i = 0; i < 16 && f->vars[i] != NULL; i++)
		if (strncmp(f->vars[i], name, n) == 0 && f->vars[i][n] == '=')
			return f->vars[i] + n + 1;
	return NULL;
}

static bool
fake_exists(const char *path, void *arg)
{
	struct fake_env *f = arg;

	for (size_t i = 0; i < 8 && f->files[i] != NULL; i++)
		if (strcmp(f->files[i], path) == 0)
			return true;
	return false;
}

static struct cfg_env
fake_env(struct fake_env *f, uid_t uid)
{
	return (struct cfg_env){ fake_get, fake_exists, f, uid };
}

static char why[512];

/* ---- ports, booleans, numbers ------------------------------------------ */

static void
test_port(void **state)
{
	uint16_t port = 0;

	assert_int_equal(cfg__value_port("1", &port, why, sizeof(why)), 0);
	assert_int_equal(port, 1);
	assert_int_equal(cfg__value_port("65535", &port, why, sizeof(why)), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(cfg__value_port("993", &port, why, sizeof(why)), 0);
	assert_int_equal(port, 993);

	assert_int_equal(cfg__value_port("0", &port, why, sizeof(why)),
			 MS_EINVAL);
	assert_string_equal(why, "0 is out of range");
	assert_int_equal(cfg__value_port("65536", &port, why, sizeof(why)),
			 MS_EINVAL);
	assert_string_equal(why, "65536 is out of range");
	assert_int_equal(cfg__value_port("99999999999999999999", &port, why,
					 sizeof(why)), MS_EINVAL);
	assert_int_equal(cfg__value_port("-1", &port, why, sizeof(why)),
			 MS_EINVAL);
	assert_string_equal(why, "'-1' is not a port number");
	assert_int_equal(cfg__value_port("+5", &port, why, sizeof(why)),
			 MS_EINVAL);
	assert_int_equal(cfg__value_port("99a", &port, why, sizeof(why)),
			 MS_EINVAL);
	assert_int_equal(cfg__value_port(" 99", &port, why, sizeof(why)),
			 MS_EINVAL);
	assert_int_equal(cfg__value_port("", &port, why, sizeof(why)),
			 MS_EINVAL);
	assert_int_equal(port, 993);	/* untouched by failures */
}

static void
test_bool(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES",
					   "True" };
	static const char *const no[] = { "no", "false", "off", "0", "No",
					  "OFF" };
	static const char *const bad[] = { "yess", "2", "y", "", "enabled",
					   "yes please" };
	bool b;

	for (size_t i = 0; i < 6; i++) {
		b = false;
		assert_int_equal(cfg__value_bool(yes[i], &b, why, sizeof(why)),
				 0);
		assert_true(b);
		assert_int_equal(cfg__value_bool(no[i], &b, why, sizeof(why)),
				 0);
		assert_false(b);
		assert_int_equal(cfg__value_bool(bad[i], &b, why, sizeof(why)),
				 MS_EINVAL);
	}
	cfg__value_bool("maybe", &b, why, sizeof(why));
	assert_string_equal(why, "'maybe' is not a boolean");
}

static void
test_duration(void **state)
{
	static const struct { const char *s; unsigned secs; } good[] = {
		{ "30s", 30 }, { "5m", 300 }, { "1h", 3600 }, { "90", 90 },
		{ "1h30m", 5400 }, { "2d", 172800 }, { "1m30s", 90 },
		{ "366d", 366u * 86400 }, { "0h1s", 1 },
	};
	static const char *const bad[] = { "", "0", "0s", "5x", "m", "30 s",
		"1h30", "-5s", "1.5h", "s30", "5M", " 5m", "5m " };
	unsigned secs;

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		secs = 0;
		assert_int_equal(cfg__value_duration(good[i].s, &secs, why,
						     sizeof(why)), 0);
		assert_int_equal(secs, good[i].secs);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(cfg__value_duration(bad[i], &secs, why,
						     sizeof(why)), MS_EINVAL);
	cfg__value_duration("5x", &secs, why, sizeof(why));
	assert_string_equal(why, "'5x' is not a duration");
	cfg__value_duration("0s", &secs, why, sizeof(why));
	assert_string_equal(why, "'0s' is zero");
	/* Overflow in the number itself, in the product and in the sum. */
	assert_int_equal(cfg__value_duration("99999999999999999999999s", &secs,
					     why, sizeof(why)), MS_EINVAL);
	assert_string_equal(why, "'99999999999999999999999s' is too long "
			    "(at most 366d)");
	assert_int_equal(cfg__value_duration("367d", &secs, why, sizeof(why)),
			 MS_EINVAL);
	assert_int_equal(cfg__value_duration("366d1s", &secs, why,
					     sizeof(why)), MS_EINVAL);
	assert_int_equal(cfg__value_duration("4294967296", &secs, why,
					     sizeof(why)), MS_EINVAL);
}

static void
test_uint_and_enum(void **state)
{
	static const char *const names[] = { "imap", "pop3", NULL };
	unsigned n;
	int idx;

	assert_int_equal(cfg__value_uint("0", 36500, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cfg__value_uint("36500", 36500, &n, why, sizeof(why)),
			 0);
	assert_int_equal(n, 36500);
	assert_int_equal(cfg__value_uint("36501", 36500, &n, why, sizeof(why)),
			 MS_EINVAL);
	assert_string_equal(why, "'36501' is too large (at most 36500)");
	assert_int_equal(cfg__value_uint("3d", 36500, &n, why, sizeof(why)),
			 MS_EINVAL);
	assert_string_equal(why, "'3d' is not a whole number");

	assert_int_equal(cfg__value_enum("pop3", names, &idx, why, sizeof(why)),
			 0);
	assert_int_equal(idx, 1);
	assert_int_equal(cfg__value_enum("IMAP", names, &idx, why, sizeof(why)),
			 MS_EINVAL);
	assert_string_equal(why, "'IMAP' is not a valid choice");
}

/* ---- lists ------------------------------------------------------------- */

static void
expect_list(const char *s, size_t n, ...)
{
	struct cfg_list l = { NULL, 0 };
	va_list ap;

	assert_int_equal(cfg__value_list(s, &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l.v[i], va_arg(ap, const char *));
	va_end(ap);
	cfg__list_free(&l);
}

static void
test_list(void **state)
{
	static const char *const bad[] = { "a,,b", ",a", "a,", "", " ", ",",
		"\"unterminated", "\"a\"b", "a, ,b" };
	struct cfg_list l = { NULL, 0 };

	expect_list("* !Junk !Trash", 3, "*", "!Junk", "!Trash");
	expect_list("a, b", 2, "a", "b");
	expect_list("a,b", 2, "a", "b");
	expect_list("  a ,\tb  c ", 3, "a", "b", "c");
	expect_list("INBOX", 1, "INBOX");
	expect_list("\"Sent Items\", Drafts", 2, "Sent Items", "Drafts");
	expect_list("\"a \\\"q\\\" \\\\ b\"", 1, "a \"q\" \\ b");
	expect_list("\"\"", 1, "");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(cfg__value_list(bad[i], &l, why, sizeof(why)),
				 MS_EINVAL);
		assert_null(l.v);
	}
	cfg__value_list("a,,b", &l, why, sizeof(why));
	assert_string_equal(why, "empty item in 'a,,b'");
	cfg__value_list("\"x", &l, why, sizeof(why));
	assert_string_equal(why, "unterminated '\"'");
}

/* ---- hosts, fingerprints, addresses, names ----------------------------- */

static void
test_host(void **state)
{
	static const char *const good[] = { "imap.example.com", "127.0.0.1",
		"::1", "localhost", "a-b_c.example.", "2001:db8::1", "x" };
	static const char *const bad[] = { "a b", "[::1]", "host:993", "a..b",
		".a", "", "a/b", "ex@mple.com", "::g",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com" };

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(cfg__value_host(good[i], why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(cfg__value_host(bad[i], why, sizeof(why)),
				 MS_EINVAL);
	cfg__value_host("a b", why, sizeof(why));
	assert_string_equal(why, "'a b' is not a host name");
	/* What people paste from a provider's page says how to write it. */
	cfg__value_host("imap.example.com:993", why, sizeof(why));
	assert_string_equal(why, "'imap.example.com:993' holds a port; the "
			    "port has its own key: host = imap.example.com "
			    "and port = 993");
	assert_int_equal(cfg__value_host("imaps://imap.example.com:993/", why,
					 sizeof(why)), MS_EINVAL);
	assert_string_equal(why, "'imaps://imap.example.com:993/' is a URL; "
			    "write the host name alone (host = "
			    "imap.example.com) and the port, if any, as "
			    "port = ...");
	cfg__value_host("[::1]:993", why, sizeof(why));
	assert_string_equal(why, "'[::1]:993' is not an IPv6 address (write "
			    "it without brackets; the port has its own key)");
}

static void
test_loopback(void **state)
{
	static const char *const yes[] = { "localhost", "LOCALHOST",
		"localhost.", "127.0.0.1", "127.255.0.1", "::1",
		"::ffff:127.0.0.1", "0:0:0:0:0:0:0:1" };
	static const char *const no[] = { "128.0.0.1", "10.0.0.1", "::2",
		"example.com", "localhost.example.com", "127.0.0.1.nip.io",
		"::ffff:10.0.0.1", "0.0.0.0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		assert_true(cfg__host_is_loopback(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		assert_false(cfg__host_is_loopback(no[i]));
}

#define FP_COLONS "sha256:3b:6F:2A:9C:11:D0:8E:47:5A:C2:19:E4:7B:0F:66:A1:" \
		  "3D:92:58:C7:E0:14:B9:6D:2F:8A:71:C5:09:EE:43:b8"
#define FP_PLAIN "SHA256:3B6F2A9C11D08E475AC219E47B0F66A13D9258C7E014B96D2F8A" \
		 "71C509EE43B8"
#define FP_NORM "sha256:3B:6F:2A:9C:11:D0:8E:47:5A:C2:19:E4:7B:0F:66:A1:" \
		"3D:92:58:C7:E0:14:B9:6D:2F:8A:71:C5:09:EE:43:B8"

static void
test_fingerprint(void **state)
{
	static const char *const bad[] = {
		"3B:6F", "sha1:3B6F2A9C11D08E475AC219E47B0F66A13D9258C7",
		/* 31 and 33 bytes */
		"sha256:3B6F2A9C11D08E475AC219E47B0F66A13D9258C7E014B96D2F8A71C509EE43",
		"sha256:3B6F2A9C11D08E475AC219E47B0F66A13D9258C7E014B96D2F8A71C509EE43B8AA",
		/* a non-hex digit; a colon moved; colons only in part */
		"sha256:3G6F2A9C11D08E475AC219E47B0F66A13D9258C7E014B96D2F8A71C509EE43B8",
		"sha256:3B6:F:2A:9C:11:D0:8E:47:5A:C2:19:E4:7B:0F:66:A1:3D:92:58:C7:E0:14:B9:6D:2F:8A:71:C5:09:EE:43:B8",
		"sha256:3B:6F2A9C11D08E475AC219E47B0F66A13D9258C7E014B96D2F8A71C509EE43B8::::::::::::::::::::::::::::::",
		"sha256:",
	};
	struct cfg_fingerprint a, b;

	assert_int_equal(cfg__value_fingerprint(FP_COLONS, &a, why, sizeof(why)),
			 0);
	assert_true(a.is_set);
	assert_string_equal(a.text, FP_NORM);
	assert_int_equal(a.sha256[0], 0x3b);
	assert_int_equal(a.sha256[31], 0xb8);
	assert_int_equal(cfg__value_fingerprint(FP_PLAIN, &b, why, sizeof(why)),
			 0);
	assert_memory_equal(a.sha256, b.sha256, 32);
	assert_string_equal(b.text, FP_NORM);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(cfg__value_fingerprint(bad[i], &a, why,
							sizeof(why)), MS_EINVAL);
	cfg__value_fingerprint("md5:00", &a, why, sizeof(why));
	assert_string_equal(why, "'md5:00' does not start with 'sha256:'");
	cfg__value_fingerprint("sha256:00", &a, why, sizeof(why));
	assert_string_equal(why, "'sha256:00' is not 32 hex bytes after "
			    "'sha256:'");
}

static void
test_address(void **state)
{
	static const char *const good[] = { "me@example.com",
		"a.b+tag@sub.example.co", "test@localhost", "x_y-z@a-b.example" };
	static const char *const bad[] = { "me", "@example.com", "me@",
		"me@exa mple.com", "Me <me@example.com>", "a@b@c",
		"me@example..com", ".me@example.com", "me.@example.com",
		"a..b@example.com", "me@example.com,", "me@-\x01" };

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(cfg__value_address(good[i], why, sizeof(why)),
				 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(cfg__value_address(bad[i], why, sizeof(why)),
				 MS_EINVAL);
	cfg__value_address("me", why, sizeof(why));
	assert_string_equal(why, "'me' is not an e-mail address");
}

static void
test_account_name(void **state)
{
	static const char *const good[] = { "work", "my-acct_2.x", "A", "0" };
	static const char *const bad[] = { "two words", "a/b", ".hidden", "-x",
		"", "a;b", "\xc3\xa9t\xc3\xa9",
		"a1234567890123456789012345678901234567890123456789012345678901234" };

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(cfg__value_account_name(good[i], why,
							 sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(cfg__value_account_name(bad[i], why,
							 sizeof(why)), MS_EINVAL);
	cfg__value_account_name("a/b", why, sizeof(why));
	assert_string_equal(why, "'a/b' is not a valid account name");
}

static void
test_edit_distance(void **state)
{
	assert_int_equal(cfg__edit_distance("prot", "port"), 1);
	assert_int_equal(cfg__edit_distance("hots", "host"), 1);
	assert_int_equal(cfg__edit_distance("passwd", "password"), 2);
	assert_int_equal(cfg__edit_distance("abc", "abc"), 0);
	assert_int_equal(cfg__edit_distance("Host", "host"), 0);
	assert_int_equal(cfg__edit_distance("", "tls"), 3);
	assert_int_equal(cfg__edit_distance("kitten", "sitting"), 3);
}

/* ---- paths ------------------------------------------------------------- */

static void
expect_path(struct cfg_env *env, const char *in, const char *out)
{
	char *p = NULL;

	assert_int_equal(cfg__path_expand(in, env, &p, why, sizeof(why)), 0);
	assert_string_equal(p, out);
	free(p);
}

static void
expect_path_error(struct cfg_env *env, const char *in, const char *msg)
{
	char *p = NULL;

	assert_int_equal(cfg__path_expand(in, env, &p, why, sizeof(why)),
			 MS_EINVAL);
	assert_null(p);
	assert_string_equal(why, msg);
}

static void
test_path_expand(void **state)
{
	struct fake_env f = { .vars = { "HOME=/home/me", "XDG_RUNTIME_DIR=/run/user/1000",
		"A=/srv", "EMPTY=", "REL=rel/dir", "B_2=x" } };
	struct cfg_env env = fake_env(&f, 1000);
	struct fake_env nohome = { .vars = { "A=/srv" } };
	struct cfg_env env2 = fake_env(&nohome, 1000);

	expect_path(&env, "~", "/home/me");
	expect_path(&env, "~/Mail/work", "/home/me/Mail/work");
	expect_path(&env, "$XDG_RUNTIME_DIR/mailsync.sock",
		    "/run/user/1000/mailsync.sock");
	expect_path(&env, "${A}/b", "/srv/b");
	expect_path(&env, "$A/${B_2}y/$B_2", "/srv/xy/x");
	expect_path(&env, "/a$$b", "/a$b");
	expect_path(&env, "/plain/path", "/plain/path");
	expect_path(&env, "/a~b", "/a~b");	/* ~ only at the start */

	expect_path_error(&env, "$NOPE/x", "variable $NOPE is not set");
	expect_path_error(&env, "/x/${NOPE}", "variable $NOPE is not set");
	expect_path_error(&env, "$EMPTY/x", "variable $EMPTY is not set");
	expect_path_error(&env, "~bob/x", "'~bob/x': only ~ and ~/ are "
			  "expanded, not ~user");
	expect_path_error(&env, "Mail", "'Mail' is a relative path");
	expect_path_error(&env, "$REL/x", "'rel/dir/x' is a relative path");
	expect_path_error(&env, "/x/${A", "bad variable reference in '${A' "
			  "(write $NAME or ${NAME}, and $$ for a '$')");
	expect_path_error(&env, "/x/$", "bad variable reference in '$' "
			  "(write $NAME or ${NAME}, and $$ for a '$')");
	expect_path_error(&env, "/x/$1", "bad variable reference in '$1' "
			  "(write $NAME or ${NAME}, and $$ for a '$')");
	expect_path_error(&env2, "~/x", "'~' needs $HOME, which is not set");
}

static void
test_socket_default(void **state)
{
	struct fake_env with = { .vars = { "XDG_RUNTIME_DIR=/run/user/1000" } };
	struct fake_env empty = { .vars = { "XDG_RUNTIME_DIR=" } };
	struct fake_env none = { .vars = { "HOME=/root" } };
	struct cfg_env env;
	char *s;

	env = fake_env(&with, 1000);
	s = cfg__socket_default(&env, "/home/u/store");
	assert_string_equal(s, "/run/user/1000/mailsync.sock");
	free(s);
	env = fake_env(&empty, 1000);
	s = cfg__socket_default(&env, "/home/u/store");
	assert_string_equal(s, "/home/u/store/run/mailsync.sock");
	free(s);
	s = cfg__socket_default(&env, NULL);
	assert_string_equal(s, "/tmp/mailsync-1000/mailsync.sock");
	free(s);
	env = fake_env(&none, 0);
	s = cfg__socket_default(&env, "/home/u/store");
	assert_string_equal(s, "/run/mailsync/mailsync.sock");
	free(s);
}

/* ---- the search order -------------------------------------------------- */

static void
expect_search(struct fake_env *f, const char *want)
{
	struct cfg_env env = fake_env(f, 1000);
	struct cfg_report rep;
	char *path = NULL;

	cfg_report_init(&rep);
	assert_int_equal(cfg_path_search(&env, &path, &rep), 0);
	assert_int_equal(rep.n, 0);
	assert_string_equal(path, want);
	free(path);
}

static void
test_search(void **state)
{
	/* $MAILSYNC_CONFIG wins, even when nothing is there. */
	struct fake_env f1 = {
		.vars = { "HOME=/h", "MAILSYNC_CONFIG=/cfg/m.ini",
			  "XDG_CONFIG_HOME=/x" },
		.files = { "/x/mailsync/config.ini", "/etc/mailsync/config.ini" },
	};
	/* XDG_CONFIG_HOME before ~/.config and /etc. */
	struct fake_env f2 = {
		.vars = { "HOME=/h", "XDG_CONFIG_HOME=/x" },
		.files = { "/x/mailsync/config.ini", "/h/.config/mailsync/config.ini",
			   "/etc/mailsync/config.ini" },
	};
	/* XDG_CONFIG_HOME replaces ~/.config: the latter is not looked at. */
	struct fake_env f3 = {
		.vars = { "HOME=/h", "XDG_CONFIG_HOME=/x" },
		.files = { "/h/.config/mailsync/config.ini",
			   "/etc/mailsync/config.ini" },
	};
	/* Unset, empty or relative XDG_CONFIG_HOME means ~/.config. */
	struct fake_env f4 = {
		.vars = { "HOME=/h", "MAILSYNC_CONFIG=" },
		.files = { "/h/.config/mailsync/config.ini",
			   "/etc/mailsync/config.ini" },
	};
	struct fake_env f5 = {
		.vars = { "HOME=/h", "XDG_CONFIG_HOME=rel" },
		.files = { "/h/.config/mailsync/config.ini", "rel/mailsync/config.ini" },
	};
	struct fake_env f6 = {
		.vars = { "HOME=/h" },
		.files = { "/etc/mailsync/config.ini" },
	};

	expect_search(&f1, "/cfg/m.ini");
	expect_search(&f2, "/x/mailsync/config.ini");
	expect_search(&f3, "/etc/mailsync/config.ini");
	expect_search(&f4, "/h/.config/mailsync/config.ini");
	expect_search(&f5, "/h/.config/mailsync/config.ini");
	expect_search(&f6, "/etc/mailsync/config.ini");
}

static void
test_search_nothing(void **state)
{
	struct fake_env f = { .vars = { "HOME=/h", "XDG_CONFIG_HOME=/x" } };
	struct fake_env nohome = { .vars = { "PATH=/bin" } };
	struct cfg_env env = fake_env(&f, 1000);
	struct cfg_report rep;
	char *path = NULL;

	cfg_report_init(&rep);
	assert_int_equal(cfg_path_search(&env, &path, &rep), MS_ECONFIG);
	assert_null(path);
	assert_int_equal(rep.n, 1);
	assert_string_equal(rep.v[0].text, "mailsyncd: no configuration file "
		"found; searched: $MAILSYNC_CONFIG (not set), "
		"/x/mailsync/config.ini, /etc/mailsync/config.ini "
		"(use -c FILE or set MAILSYNC_CONFIG)");
	cfg_report_deinit(&rep);

	env = fake_env(&nohome, 1000);
	assert_int_equal(cfg_path_search(&env, &path, &rep), MS_ECONFIG);
	assert_int_equal(rep.n, 1);
	assert_non_null(strstr(rep.v[0].text, "~/.config/mailsync/config.ini "
			       "($HOME not set)"));
	cfg_report_deinit(&rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_uint_and_enum),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_account_name),
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_path_expand),
		cmocka_unit_test(test_socket_default),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_search_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
