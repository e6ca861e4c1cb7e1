/* test_maildir_scan.c - daemon/maildir: folder listings, tree discovery, fingerprints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "maildir/maildir_hash.h"
#include "maildir/maildir_scan.h"
#include "test_maildir_util.h"

struct reports {
	int n;
	char paths[16][512];
};

static void
record_cb(const char *path, const char *why, void *arg)
{
	struct reports *r = arg;

	assert_non_null(why);
	if (r->n < 16)
		snprintf(r->paths[r->n], sizeof(r->paths[0]), "%s", path);
	r->n++;
}

static bool
reported(const struct reports *r, const char *suffix)
{
	size_t sl = strlen(suffix);

	for (int i = 0; i < r->n && i < 16; i++) {
		size_t pl = strlen(r->paths[i]);

		if (pl >= sl && strcmp(r->paths[i] + pl - sl, suffix) == 0)
			return true;
	}
	return false;
}

static const struct maildir_entry *
find(const struct maildir_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(maildir_list_name(l, i), name) == 0)
			return &l->v[i];
	return NULL;
}

static void
test_scan_mixed(void **state)
{
	char *root = tmd_mkdtemp();
	struct maildir_dir d;
	struct maildir_list l;
	struct maildir_report rep;
	struct reports rs = { 0 };
	struct ms_err err = { 0 };
	const struct maildir_entry *e;
	char path[1024];

	assert_non_null(root);
	assert_int_equal(tmd_mkmaildir(root, "f"), 0);
	snprintf(path, sizeof(path), "%s/f", root);
	assert_int_equal(tmd_put(path, "new/1.a.host", "hello", 5), 0);
	assert_int_equal(tmd_put(path, "new/2.b.host,S=7", "abc", 3), 0);
	assert_int_equal(tmd_put(path, "cur/3.c.host:2,SF", "0123456789", 10), 0);
	assert_int_equal(tmd_put(path, "cur/4.d.host,U=9,S=11:2,RSab", "x", 1), 0);
	assert_int_equal(tmd_put(path, "cur/5.e.host!2,T", "", 0), 0);
	assert_int_equal(tmd_put(path, "cur/README", "not mail", 8), 0);
	assert_int_equal(tmd_put(path, "cur/6.f.host:2,S?!", "y", 1), 0);
	assert_int_equal(tmd_put(path, "cur/.garbage", "z", 1), 0);
	assert_int_equal(tmd_mkdirs(path, "cur/subdir"), 0);
	snprintf(path, sizeof(path), "%s/f/cur/lnk", root);
	assert_int_equal(symlink("README", path), 0);
	assert_int_equal(tmd_put(root, "f/tmp/7.in.progress", "partial", 7), 0);

	snprintf(path, sizeof(path), "%s/f", root);
	assert_int_equal(maildir_dir_open(&d, path, path, false, NULL, &err),
			 MS_OK);
	maildir_list_init(&l);
	maildir_report_init(&rep, record_cb, &rs);
	assert_int_equal(maildir_scan_folder(&d, &l, &rep, &err), MS_OK);
	assert_int_equal(l.n, 7);

	e = find(&l, "1.a.host");
	assert_non_null(e);
	assert_int_equal(e->sub, MAILDIR_SUB_NEW);
	assert_int_equal(e->size, 5);
	assert_false(e->is_size_from_name);
	assert_true(e->flags == 0);
	/* S= is trusted: no stat. */
	e = find(&l, "2.b.host,S=7");
	assert_non_null(e);
	assert_int_equal(e->size, 7);
	assert_true(e->is_size_from_name);
	e = find(&l, "3.c.host:2,SF");
	assert_non_null(e);
	assert_int_equal(e->sub, MAILDIR_SUB_CUR);
	assert_true(e->flags == (MAILDIR_FLAG_SEEN | MAILDIR_FLAG_FLAGGED));
	assert_int_equal(e->size, 10);
	assert_true(e->ino != 0);
	e = find(&l, "4.d.host,U=9,S=11:2,RSab");
	assert_non_null(e);
	assert_true(e->flags == (MAILDIR_FLAG_REPLIED | MAILDIR_FLAG_SEEN |
				 MAILDIR_FLAG_BIT('a') | MAILDIR_FLAG_BIT('b')));
	e = find(&l, "5.e.host!2,T");
	assert_non_null(e);
	assert_true(e->flags == MAILDIR_FLAG_TRASHED);
	assert_int_equal(e->size, 0);
	/* Any name is a message in cur/, per the convention. */
	assert_non_null(find(&l, "README"));
	e = find(&l, "6.f.host:2,S?!");
	assert_non_null(e);
	assert_true(e->flags == MAILDIR_FLAG_SEEN);
	assert_null(find(&l, "7.in.progress"));	/* tmp/ is not listed */

	/* The dot file, the directory and the symlink, once each. */
	assert_int_equal(rs.n, 3);
	assert_true(reported(&rs, "/f/cur/.garbage"));
	assert_true(reported(&rs, "/f/cur/subdir"));
	assert_true(reported(&rs, "/f/cur/lnk"));
	/* A second scan reports nothing new and lists the same. */
	maildir_list_deinit(&l);
	maildir_list_init(&l);
	assert_int_equal(maildir_scan_folder(&d, &l, &rep, &err), MS_OK);
	assert_int_equal(l.n, 7);
	assert_int_equal(rs.n, 3);
	/* Nothing was touched. */
	assert_int_equal(tmd_count(path, "cur"), 8);
	assert_int_equal(tmd_count(path, "tmp"), 1);

	maildir_report_deinit(&rep);
	maildir_list_deinit(&l);
	maildir_dir_close(&d);
	tmd_rmtree(root);
	free(root);
}

/*
 * A reader renaming files (flag changes) while we list the folder: every
 * listing succeeds, and a file is seen at most under both of its names.
 */
static void
test_scan_during_renames(void **state)
{
	char *root = tmd_mkdtemp();
	char path[1024], name[64], from[128], to[128];
	struct maildir_dir d;
	struct ms_err err = { 0 };
	const int n = 300;
	pid_t pid;
	int st;

	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/f", root);
	assert_int_equal(maildir_dir_open(&d, path, path, true, NULL, &err),
			 MS_OK);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "cur/%d.r.host:2,", i);
		assert_int_equal(tmd_put(path, name, "x", 1), 0);
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Toggle \Seen on every file, for a bounded number of rounds. */
		for (int round = 0; round < 40; round++) {
			for (int i = 0; i < n; i++) {
				snprintf(from, sizeof(from), "%d.r.host:2,%s", i,
					 round % 2 ? "S" : "");
				snprintf(to, sizeof(to), "%d.r.host:2,%s", i,
					 round % 2 ? "" : "S");
				if (renameat(d.sub_fd[MAILDIR_SUB_CUR], from,
					     d.sub_fd[MAILDIR_SUB_CUR], to) != 0)
					_exit(1);
			}
		}
		_exit(0);
	}
	for (int k = 0; k < 200; k++) {
		struct maildir_list l;

		maildir_list_init(&l);
		/* No S= in these names: each entry is stat()ed, racing the renames. */
		assert_int_equal(maildir_scan_folder(&d, &l, NULL, &err), MS_OK);
		assert_true(l.n <= (size_t)(2 * n));
		maildir_list_deinit(&l);
		if (waitpid(pid, &st, WNOHANG) == pid) {
			pid = 0;
			break;
		}
	}
	if (pid != 0)
		assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	maildir_dir_close(&d);
	tmd_rmtree(root);
	free(root);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_discover_tree(void **state)
{
	char *root = tmd_mkdtemp();
	struct maildir_folders f = { 0 };
	struct maildir_report rep;
	struct reports rs = { 0 };
	struct ms_err err = { 0 };
	char path[1024];

	assert_non_null(root);
	assert_int_equal(tmd_mkmaildir(root, ""), 0);
	assert_int_equal(tmd_mkmaildir(root, "Lists/dev"), 0);
	assert_int_equal(tmd_mkmaildir(root, "Lists/dev/%63ur"), 0);
	assert_int_equal(tmd_mkmaildir(root, "Ünïcödé"), 0);
	assert_int_equal(tmd_mkmaildir(root, ".notmuch/xapian"), 0);
	assert_int_equal(tmd_mkmaildir(root, "Lists/.hidden"), 0);
	assert_int_equal(tmd_mkdirs(root, "broken/cur"), 0);
	assert_int_equal(tmd_mkdirs(root, "empty"), 0);
	assert_int_equal(tmd_put(root, "stray.txt", "x", 1), 0);
	assert_int_equal(tmd_put(root, "Lists/dev/dovecot-uidlist", "x", 1), 0);
	assert_int_equal(tmd_put(root, ".mbsyncstate", "x", 1), 0);
	snprintf(path, sizeof(path), "%s/link", root);
	assert_int_equal(symlink("Lists", path), 0);

	maildir_report_init(&rep, record_cb, &rs);
	assert_int_equal(maildir_tree_discover(root, MAILDIR_LAYOUT_VERBATIM, &f, &rep, &err), MS_OK);
	/* Root first. */
	assert_int_equal(f.n, 4);
	assert_string_equal(f.v[0], "");
	qsort(f.v, f.n, sizeof(*f.v), cmp_str);
	assert_string_equal(f.v[1], "Lists/dev");
	assert_string_equal(f.v[2], "Lists/dev/%63ur");
	assert_string_equal(f.v[3], "Ünïcödé");
	assert_int_equal(rs.n, 4);
	assert_true(reported(&rs, "/stray.txt"));
	assert_true(reported(&rs, "/Lists/dev/dovecot-uidlist"));
	assert_true(reported(&rs, "/broken"));
	assert_true(reported(&rs, "/link"));
	/* Again: same folders, no new reports. */
	maildir_folders_deinit(&f);
	assert_int_equal(maildir_tree_discover(root, MAILDIR_LAYOUT_VERBATIM, &f, &rep, &err), MS_OK);
	assert_int_equal(f.n, 4);
	assert_int_equal(rs.n, 4);
	maildir_folders_deinit(&f);
	/* Maildir++: the dot directories at the top are the folders (a
	 * tool's, without cur/ and new/, is none); "Lists" and "Ünïcödé"
	 * are no folders there, reported; .notmuch/xapian is notmuch's. */
	rs.n = 0;
	maildir_report_deinit(&rep);
	maildir_report_init(&rep, record_cb, &rs);
	assert_int_equal(tmd_mkmaildir(root, ".Lists.dev"), 0);
	assert_int_equal(maildir_tree_discover(root, MAILDIR_LAYOUT_MAILDIRPP, &f,
					       &rep, &err), MS_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[0], "");
	assert_string_equal(f.v[1], ".Lists.dev");
	assert_true(reported(&rs, "/Lists"));
	assert_true(reported(&rs, "/Ünïcödé"));
	assert_false(reported(&rs, "/xapian"));
	maildir_folders_deinit(&f);
	/* Legacy: Lists/.hidden is Lists/hidden; Lists/dev is none, and
	 * Lists is no Maildir, so it is not reported either. */
	rs.n = 0;
	maildir_report_deinit(&rep);
	maildir_report_init(&rep, record_cb, &rs);
	assert_int_equal(maildir_tree_discover(root, MAILDIR_LAYOUT_LEGACY, &f,
					       &rep, &err), MS_OK);
	qsort(f.v, f.n, sizeof(*f.v), cmp_str);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.v[0], "");
	assert_string_equal(f.v[1], ".Lists.dev");
	assert_string_equal(f.v[2], "Lists/.hidden");
	assert_string_equal(f.v[3], "Ünïcödé");
	assert_false(reported(&rs, "/Lists/dev"));
	maildir_folders_deinit(&f);
	/* A missing root is an error naming it. */
	snprintf(path, sizeof(path), "%s/nope", root);
	assert_int_equal(maildir_tree_discover(path, MAILDIR_LAYOUT_VERBATIM, &f, &rep, &err), MS_EIO);
	assert_non_null(strstr(err.msg, path));
	maildir_report_deinit(&rep);
	tmd_rmtree(root);
	free(root);
}

static void
test_report_set_grows(void **state)
{
	struct maildir_report rep;
	struct reports rs = { 0 };
	char p[32];

	maildir_report_init(&rep, record_cb, &rs);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 1000; i++) {
			snprintf(p, sizeof(p), "/x/%d", i);
			maildir_report_note(&rep, p, "why");
		}
	}
	assert_int_equal(rs.n, 1000);
	maildir_report_deinit(&rep);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * 100,000 files named with S= in cur/ (no stat needed) plus 20,000 without
 * S= in new/ (a stat each), in one folder.  The bound is loose (sanitizers, slow disks); a
 * quadratic scan would take minutes.  MS_MAILDIR_SCAN_N changes the count.
 */
/* Counts the streamed entries, stops after stop_after (0: never). */
struct each_count {
	size_t n, n_new, n_cur, stop_after;
	bool saw_readme;
};

static int
each_cb(const struct maildir_entry *e, const char *name, size_t len, void *arg)
{
	struct each_count *c = arg;

	assert_int_equal(strlen(name), len);
	c->n++;
	c->n_new += e->sub == MAILDIR_SUB_NEW;
	c->n_cur += e->sub == MAILDIR_SUB_CUR;
	c->saw_readme |= strcmp(name, "README") == 0;
	return c->stop_after != 0 && c->n == c->stop_after ? MS_ECANCELED : MS_OK;
}

/*
 * The streamed listing sees exactly the entries the kept one holds and
 * keeps none (what the export's check after its writes uses); a callback's
 * error stops it.  A trimmed list holds no more room than its entries,
 * and one with room reserved ahead does not grow.
 */
static void
test_scan_each_and_trim(void **state)
{
	char *root = tmd_mkdtemp();
	char path[1024], name[64];
	struct maildir_dir d;
	struct maildir_list l;
	struct each_count c = { 0 };
	struct ms_err err = { 0 };

	(void)state;
	assert_non_null(root);
	assert_int_equal(tmd_mkmaildir(root, "f"), 0);
	snprintf(path, sizeof(path), "%s/f", root);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "%s/%d.x.host,S=1:2,S",
			 i % 3 == 0 ? "new" : "cur", i);
		assert_int_equal(tmd_put(path, name, "x", 1), 0);
	}
	assert_int_equal(tmd_put(path, "cur/README", "not mail", 8), 0);
	assert_int_equal(tmd_put(path, "cur/.dot", "z", 1), 0);
	assert_int_equal(maildir_dir_open(&d, path, path, false, NULL, &err),
			 MS_OK);
	assert_int_equal(maildir_scan_folder_each(&d, each_cb, &c, NULL, &err),
			 MS_OK);
	assert_int_equal(c.n, 301);
	assert_int_equal(c.n_new, 100);
	assert_int_equal(c.n_cur, 201);
	assert_true(c.saw_readme);

	memset(&c, 0, sizeof(c));
	c.stop_after = 5;
	assert_int_equal(maildir_scan_folder_each(&d, each_cb, &c, NULL, &err),
			 MS_ECANCELED);
	assert_int_equal(c.n, 5);

	maildir_list_init(&l);
	assert_int_equal(maildir_scan_folder(&d, &l, NULL, &err), MS_OK);
	assert_int_equal(l.n, 301);
	assert_true(l.cap > l.n);	/* grown by doubling from 256 */
	maildir_list_trim(&l);
	assert_int_equal(l.cap, l.n);
	assert_int_equal(l.names_cap, l.names_len);
	assert_non_null(find(&l, "README"));
	assert_non_null(find(&l, "299.x.host,S=1:2,S"));
	maildir_list_deinit(&l);

	/* Room made ahead for the entries: the listing grows none. */
	maildir_list_init(&l);
	assert_int_equal(maildir_list_reserve(&l, 310, 310 * 24), MS_OK);
	assert_int_equal(maildir_scan_folder(&d, &l, NULL, &err), MS_OK);
	assert_int_equal(l.n, 301);
	assert_int_equal(l.cap, 310);
	assert_int_equal(l.names_cap, 310 * 24);
	maildir_list_trim(&l);
	assert_int_equal(l.cap, 301);
	maildir_list_deinit(&l);
	maildir_dir_close(&d);
	tmd_rmtree(root);
	free(root);
}

static void
test_scan_100k(void **state)
{
	const char *env = getenv("MS_MAILDIR_SCAN_N");
	long n = env != NULL ? strtol(env, NULL, 10) : 100000;
	char *root = tmd_mkdtemp();
	char folder[1024], name[128];
	struct maildir_dir d;
	struct maildir_list l;
	struct ms_err err = { 0 };
	double t0, t_mixed, t_named;

	assert_non_null(root);
	assert_true(n > 0);
	snprintf(folder, sizeof(folder), "%s/big", root);
	assert_int_equal(maildir_dir_open(&d, folder, folder, true, NULL,
					  &err), MS_OK);
	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(name, sizeof(name), "1700000000.M%ldP1Q%ld.host,S=%ld:2,S", i, i, i);
		fd = openat(d.sub_fd[MAILDIR_SUB_CUR], name, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		close(fd);
		if (i % 5 != 0)
			continue;
		snprintf(name, sizeof(name), "1700000000.M%ldP2Q%ld.host", i, i);
		fd = openat(d.sub_fd[MAILDIR_SUB_NEW], name, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	maildir_list_init(&l);
	t0 = now_s();
	assert_int_equal(maildir_scan_folder(&d, &l, NULL, &err), MS_OK);
	t_mixed = now_s() - t0;
	assert_int_equal(l.n, (size_t)(n + (n + 4) / 5));
	{
		size_t with_s = 0;

		for (size_t i = 0; i < l.n; i++)
			with_s += l.v[i].is_size_from_name;
		assert_int_equal(with_s, (size_t)n);
	}
	fprintf(stderr, "# scan of %ld files with S= + %ld without (stat): %.3f s, "
		"%.2f us/file, list memory %zu bytes\n", n, (n + 4) / 5, t_mixed,
		t_mixed * 1e6 / (double)l.n,
		l.cap * sizeof(*l.v) + l.names_cap);
	maildir_list_deinit(&l);

	/* Now only the S= half: move the files without S= out of the way. */
	assert_int_equal(renameat(d.fd, "new", d.fd, "new.old"), 0);
	assert_int_equal(mkdirat(d.fd, "new", 0700), 0);
	maildir_dir_close(&d);
	assert_int_equal(maildir_dir_open(&d, folder, folder, false, NULL,
					  &err), MS_OK);
	maildir_list_init(&l);
	t0 = now_s();
	assert_int_equal(maildir_scan_folder(&d, &l, NULL, &err), MS_OK);
	t_named = now_s() - t0;
	assert_int_equal(l.n, (size_t)n);
	fprintf(stderr, "# scan of %ld files with S= only: %.3f s, %.2f us/file\n",
		n, t_named, t_named * 1e6 / (double)n);
	assert_true(t_mixed < 20.0);
	assert_true(t_named < 20.0);
	maildir_list_deinit(&l);
	maildir_dir_close(&d);
	tmd_rmtree(root);
	free(root);
}

static void
test_hash_file(void **state)
{
	char *root = tmd_mkdtemp();
	uint8_t h[MAILDIR_HASH_LEN], h2[MAILDIR_HASH_LEN];
	char hex[MAILDIR_HASH_HEXLEN];
	struct ms_err err = { 0 };
	size_t big = 200000;
	uint8_t *data = malloc(big);
	int dfd;

	assert_non_null(root);
	assert_non_null(data);
	dfd = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(tmd_put(root, "abc", "abc", 3), 0);
	assert_int_equal(maildir_hash_file(dfd, "abc", h, &err), MS_OK);
	maildir_hash_hex(h, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(tmd_put(root, "empty", "", 0), 0);
	assert_int_equal(maildir_hash_file(dfd, "empty", h, &err), MS_OK);
	maildir_hash_hex(h, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* A file larger than the read block: same bytes, same hash, under two names. */
	for (size_t i = 0; i < big; i++)
		data[i] = (uint8_t)(i * 31 + (i >> 9));
	assert_int_equal(tmd_put(root, "m1", data, big), 0);
	assert_int_equal(tmd_put(root, "m2", data, big), 0);
	assert_int_equal(maildir_hash_file(dfd, "m1", h, &err), MS_OK);
	assert_int_equal(maildir_hash_file(dfd, "m2", h2, &err), MS_OK);
	assert_memory_equal(h, h2, MAILDIR_HASH_LEN);
	data[big - 1] ^= 1;
	assert_int_equal(tmd_put(root, "m2", data, big), 0);
	assert_int_equal(maildir_hash_file(dfd, "m2", h2, &err), MS_OK);
	assert_memory_not_equal(h, h2, MAILDIR_HASH_LEN);
	/* A vanished file. */
	assert_int_equal(maildir_hash_file(dfd, "gone", h, &err), MS_EIO);
	assert_non_null(strstr(err.msg, "gone"));
	close(dfd);
	free(data);
	tmd_rmtree(root);
	free(root);
}

/*
 * A FIFO or a symbolic link where a message was listed (a swap after
 * readdir) is an error at once, never waited on or followed.  alarm():
 * a regression fails instead of hanging.
 */
static void
test_hash_not_regular(void **state)
{
	char *root = tmd_mkdtemp();
	uint8_t h[MAILDIR_HASH_LEN];
	struct ms_err err = { 0 };
	char path[4200];
	int dfd;

	assert_non_null(root);
	dfd = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	snprintf(path, sizeof(path), "%s/1.M1P1.h:2,S", root);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(tmd_put(root, "target", "abc", 3), 0);
	assert_int_equal(symlinkat("target", dfd, "2.M1P1.h:2,S"), 0);
	alarm(10);
	assert_int_equal(maildir_hash_file(dfd, "1.M1P1.h:2,S", h, &err),
			 MS_EIO);
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_int_equal(maildir_hash_file(dfd, "2.M1P1.h:2,S", h, &err),
			 MS_EIO);
	assert_non_null(strstr(err.msg, "symbolic link, not followed"));
	alarm(0);
	close(dfd);
	tmd_rmtree(root);
	free(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_mixed),
		cmocka_unit_test(test_scan_during_renames),
		cmocka_unit_test(test_discover_tree),
		cmocka_unit_test(test_report_set_grows),
		cmocka_unit_test(test_hash_file),
		cmocka_unit_test(test_hash_not_regular),
		cmocka_unit_test(test_scan_each_and_trim),
		cmocka_unit_test(test_scan_100k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
