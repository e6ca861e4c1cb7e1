/*
 * test_store_spool.c - where body bytes live on their way into the store
 * and back out: finished small bodies wait in memory (no file written on
 * the way) until their batch commits, large ones in a spool file of their
 * own, large bodies are read back with pread() rather than through the
 * map, and the map's pages are unmapped again before commits and
 * when they have grown by release_over (not while a pass keeps reading
 * the same pages), also after the map has grown and moved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "store/store_int.h"
#include "test_store_util.h"

/* Deterministic bytes: body i of size n. */
static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint64_t st = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 17 | seed);
	size_t i = 0;
	int k;

	/* A header, so every body is a message with a distinct hash. */
	k = snprintf((char *)p, n, "Subject: body %u\r\n\r\n", seed);
	if (k > 0 && (size_t)k < n)
		i = (size_t)k;
	for (; i < n; i++) {
		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		p[i] = (uint8_t)('a' + st % 26);
	}
}

/* kB of the map of data.mdb that are mapped in this process now. */
static long
map_rss_kb(const struct store *s)
{
	unsigned long long lo, hi;
	char line[512];
	bool in = false;
	long kb = 0, v;
	FILE *f = fopen("/proc/self/smaps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		/* A mapping's first line; its fields' lines are "Name: N kB"
		 * (a hex-looking name stops at its second letter). */
		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2) {
			in = (uintptr_t)lo == (uintptr_t)s->map_base;
			continue;
		}
		if (in && sscanf(line, "Rss: %ld kB", &v) == 1)
			kb += v;
	}
	fclose(f);
	return kb;
}

static void
add_body(struct store_batch *b, uint32_t fid, uint32_t uid,
	 struct store_body *body)
{
	struct store_msg m;

	memset(&m, 0, sizeof(m));
	m.folder_id = fid;
	m.uid = uid;
	assert_int_equal(store_batch_msg_add(b, &m, body), MS_OK);
}

/* Reads body `seed` of size n back in pieces of `piece` bytes. */
static void
check_body(struct store *s, uint32_t fid, uint32_t uid, uint32_t seed,
	   size_t n, size_t piece)
{
	uint8_t *want = malloc(n), *got = malloc(piece);
	struct ms_err err = { 0 };
	struct store_msg m;
	struct ms_buf all;
	size_t off, got_n;

	fill(want, n, seed);
	assert_int_equal(store_msg_get(s, fid, uid, &m, &err), MS_OK);
	assert_int_equal(m.size, n);
	for (off = 0; off < n; off += got_n) {
		assert_int_equal(store_body_read(s, m.hash, off, got, piece,
						 &got_n, &err), MS_OK);
		assert_true(got_n > 0);
		assert_memory_equal(got, want + off, got_n);
	}
	assert_int_equal(store_body_read(s, m.hash, n, got, piece, &got_n,
					 &err), MS_OK);
	assert_int_equal(got_n, 0);
	ms_buf_init(&all, n + 1);
	assert_int_equal(ms_buf_append(&all, "x", 1), MS_OK);
	assert_int_equal(store_body_read_all(s, m.hash, &all, &err), MS_OK);
	assert_int_equal(all.len, n + 1);
	assert_memory_equal(all.p + 1, want, n);
	ms_buf_deinit(&all);
	free(want);
	free(got);
}

/* Small bodies wait in memory, without a file, and come back
 * byte-exact. */
static void
test_small_bodies_in_memory(void **state)
{
	static const size_t sizes[] = { 1, 100, 4095, 4096, 4097, 70000,
					500000 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_body *bodies[N], *dropped;
	struct store_batch *b;
	uint64_t total = 0;
	uint32_t fid;
	uint8_t *p;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	for (size_t i = 0; i < N; i++) {
		p = malloc(sizes[i]);
		fill(p, sizes[i], (uint32_t)i);
		bodies[i] = tsu_body(s, p, sizes[i], 1000);
		/* In memory as received, no spool file. */
		assert_non_null(bodies[i]->mem);
		assert_memory_equal(bodies[i]->mem, p, sizes[i]);
		assert_int_equal(bodies[i]->fd, -1);
		free(p);
		total += sizes[i];
	}

	/* A body dropped without a commit just goes. */
	p = malloc(3000);
	fill(p, 3000, 99);
	dropped = tsu_body(s, p, 3000, 3000);
	free(p);
	store_body_free(&dropped);

	assert_int_equal(store_batch_new(s, &b), MS_OK);
	for (size_t i = 0; i < N; i++)
		add_body(b, fid, (uint32_t)i + 1, bodies[i]);
	/* The batch counts what it holds in memory. */
	assert_int_equal(store_batch_mem(b), total);
	assert_int_equal(store_batch_commit_mem(b), total);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_batch_mem(b), 0);
	for (size_t i = 0; i < N; i++) {
		check_body(s, fid, (uint32_t)i + 1, (uint32_t)i, sizes[i],
			   4096);
		check_body(s, fid, (uint32_t)i + 1, (uint32_t)i, sizes[i],
			   65536);
	}
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	store_batch_free(&b);
	store_close(&s);
	tsu_rmdir(dir);
}

/* A large body has its own spool file; it counts in commit_mem only. */
static void
test_large_body_counts(void **state)
{
	char *dir = tsu_tmpdir();
	struct store_params params = { .dir = dir, .spool_threshold = 8192 };
	struct ms_err err = { 0 };
	struct store_body *big, *small;
	struct store_batch *b;
	struct store *s = NULL;
	uint8_t *p = malloc(100000);
	uint32_t fid;

	(void)state;
	assert_int_equal(store_open(&s, &params, &err), MS_OK);
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	fill(p, 100000, 1);
	big = tsu_body(s, p, 100000, 4000);
	fill(p, 6000, 2);
	small = tsu_body(s, p, 6000, 4000);
	assert_true(big->fd >= 0);
	assert_null(big->mem);
	assert_int_equal(small->fd, -1);
	assert_non_null(small->mem);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	add_body(b, fid, 1, big);
	add_body(b, fid, 2, small);
	assert_int_equal(store_batch_mem(b), 6000);
	assert_int_equal(store_batch_commit_mem(b), 106000);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_batch_commit_mem(b), 0);
	check_body(s, fid, 1, 1, 100000, 30000);
	check_body(s, fid, 2, 2, 6000, 30000);
	store_batch_free(&b);
	free(p);
	store_close(&s);
	tsu_rmdir(dir);
}

/*
 * Bodies read back through pread() leave the map unmapped; a commit
 * unmaps what the write touched; and all of it still holds after the map
 * has grown (and moved) several times.
 */
static void
test_map_release_and_growth(void **state)
{
	enum { NB = 48, SZ = 200000 };
	char *dir = tsu_tmpdir();
	/* 1 MiB: ~10 MB of bodies grow the map four times. */
	struct store *s = tsu_open(dir, 1024 * 1024);
	struct ms_err err = { 0 };
	struct store_batch *b;
	size_t first_len;
	uint32_t fid;
	uint8_t *p = malloc(SZ);

	(void)state;
	assert_non_null(s->map_base);
	first_len = s->map_len;
	assert_int_equal(first_len, store_map_size(s));
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	for (uint32_t i = 0; i < NB; i++) {
		fill(p, SZ, 1000 + i);
		add_body(b, fid, i + 1, tsu_body(s, p, SZ, 65536));
		if (i % 8 == 7)
			assert_int_equal(store_batch_commit(b, &err), MS_OK);
	}
	store_batch_free(&b);
	assert_true(store_map_size(s) > first_len);
	/* Found again where the resize put it. */
	assert_non_null(s->map_base);
	assert_int_equal(s->map_len, store_map_size(s));
	/*
	 * The last commit unmapped what its operations touched (its own
	 * bookkeeping, the free list, maps a page or two after that).
	 * ~10 MB were written through this map.
	 */
	printf("# mapped after the last commit: %ld KB\n", map_rss_kb(s));
	assert_true(map_rss_kb(s) <= 1024);
	/* No release between these reads: what do they map? */
	s->release_over = SIZE_MAX;
	for (uint32_t i = 0; i < NB; i++)
		check_body(s, fid, i + 1, 1000 + i, SZ, 1 << 20);
	/*
	 * ~10 MB read: through the map they would all be mapped now; read
	 * with pread(), only the B-tree pages the lookups used (on a kernel
	 * with large folios one touch maps up to 2 MiB) are.
	 */
	printf("# map %zu KB, mapped after reading %u bodies of %u KB: "
	       "%ld KB\n", s->map_len >> 10, NB, SZ >> 10, map_rss_kb(s));
	assert_true(map_rss_kb(s) < (long)NB * SZ / 1024 / 2);
	store__map_release(s);
	assert_true(map_rss_kb(s) <= 64);
	s->release_over = STORE__MAP_RELEASE_OVER;
	check_body(s, fid, 5, 1004, SZ, 100);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	free(p);
	store_close(&s);
	tsu_rmdir(dir);
}

/* Reads message uid's body (below STORE__MAP_PREAD_MIN: through the map). */
static void
read_small(struct store *s, uint32_t fid, uint32_t uid, size_t n)
{
	struct ms_err err = { 0 };
	struct store_msg m;
	uint8_t buf[4096];
	size_t got_n;

	assert_true(n <= sizeof(buf));
	assert_int_equal(store_msg_get(s, fid, uid, &m, &err), MS_OK);
	assert_int_equal(store_body_read(s, m.hash, 0, buf, sizeof(buf),
					 &got_n, &err), MS_OK);
	assert_int_equal(got_n, n);
}

/*
 * The map is released only when what the process has mapped of it grew
 * by release_over: reading the same message again and again keeps its
 * pages mapped (no release), reading every message keeps at most about
 * release_over mapped, where without releases it would all be.
 */
static void
test_map_release_policy(void **state)
{
	enum { NB = 6000, SZ = 3500 };
	/* release_over plus what one message's two reads may map (three
	 * large folios of 2 MiB). */
	const long bound_kb = 1024 + 3 * 2048;
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	unsigned long rel;
	long kb, max_kb = 0;
	uint32_t fid;
	uint8_t *p = malloc(SZ);

	(void)state;
	assert_true(s->statm_fd >= 0);
	assert_true(store__map_rss(s) > 0);
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	for (uint32_t i = 0; i < NB; i++) {
		fill(p, SZ, 5000 + i);
		add_body(b, fid, i + 1, tsu_body(s, p, SZ, SZ));
		if (i % 500 == 499)
			assert_int_equal(store_batch_commit(b, &err), MS_OK);
	}
	store_batch_free(&b);

	/* The same message again and again: nothing grows, nothing is
	 * released, its pages stay mapped. */
	s->release_over = 64u << 20;
	read_small(s, fid, 1, SZ);
	rel = s->n_releases;
	kb = map_rss_kb(s);
	assert_true(kb > 0);
	for (int i = 0; i < 500; i++)
		read_small(s, fid, 1, SZ);
	assert_int_equal(s->n_releases, rel);
	assert_true(map_rss_kb(s) >= kb);

	/* Every message, 1 MiB allowed. */
	s->release_over = 1u << 20;
	store__map_release(s);
	for (uint32_t i = 0; i < NB; i++) {
		read_small(s, fid, i + 1, SZ);
		if (i % 100 == 0 && (kb = map_rss_kb(s)) > max_kb)
			max_kb = kb;
	}
	printf("# %u reads of %u KB: %lu releases, at most %ld KB mapped\n",
	       NB, SZ >> 10, s->n_releases - rel, max_kb);
	assert_true(s->n_releases - rel >= 5);
	assert_true(max_kb <= bound_kb);

	/* Without releases the same reads map it all: the bound means
	 * something on this kernel. */
	s->release_over = SIZE_MAX;
	store__map_release(s);
	for (uint32_t i = 0; i < NB; i++)
		read_small(s, fid, i + 1, SZ);
	kb = map_rss_kb(s);
	printf("# without releases: %ld KB mapped\n", kb);
	assert_true(kb > 2 * bound_kb);
	free(p);
	store_close(&s);
	tsu_rmdir(dir);
}

/*
 * A walk over a folder's records (store_msg_iter) drops the pages it
 * read as it goes: with the policy's releases off, it holds about one
 * chunk's leaves mapped at a time, where reading the same records one by
 * one maps them all (at 100,000 records that walk, the export's, held
 * 22 MB of the map between two of the policy's checks).
 */
static void
test_iter_drops_its_pages(void **state)
{
	enum { NB = 40000, SZ = 64 };
	const long bound_kb = 2048;
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_msg_iter *it;
	struct store_msg m;
	long kb, max_kb = 0;
	uint32_t fid, n = 0;
	uint8_t p[SZ];
	int rc;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	for (uint32_t i = 0; i < NB; i++) {
		fill(p, SZ, 9000 + i);
		add_body(b, fid, i + 1, tsu_body(s, p, SZ, SZ));
		if (i % 2000 == 1999)
			assert_int_equal(store_batch_commit(b, &err), MS_OK);
	}
	store_batch_free(&b);

	s->release_over = SIZE_MAX;
	store__map_release(s);
	assert_int_equal(store_msg_iter_new(s, fid, 0, &it), MS_OK);
	while ((rc = store_msg_iter_next(it, &m, &err)) == MS_OK) {
		assert_int_equal(m.uid, ++n);
		if (n % 1000 == 0 && (kb = map_rss_kb(s)) > max_kb)
			max_kb = kb;
	}
	assert_int_equal(rc, STORE_NOTFOUND);
	assert_int_equal(n, NB);
	store_msg_iter_free(&it);
	printf("# a walk over %u records: at most %ld KB mapped\n", NB, max_kb);
	assert_true(max_kb <= bound_kb);

	/* The same records one by one, nothing dropped: the bound means
	 * something on this kernel. */
	store__map_release(s);
	for (uint32_t i = 0; i < NB; i++)
		assert_int_equal(store_msg_get(s, fid, i + 1, &m, &err), MS_OK);
	kb = map_rss_kb(s);
	printf("# the same records read one by one: %ld KB mapped\n", kb);
	assert_true(kb > 2 * bound_kb);
	store_close(&s);
	tsu_rmdir(dir);
}

/*
 * store_pop3_list() reads each record once and copies it out: nothing of
 * what it read stays mapped once it returns (the walk's last pages stayed
 * mapped, up to 0.6 MB at 5,000 records, the peak of a POP3 pass with
 * nothing new).
 */
static void
test_pop3_list_unmaps(void **state)
{
	enum { NB = 5000, SZ = 64 };
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_pop3_entry *v = NULL;
	struct store_pop3 rec = { .fetched = 1 };
	struct store_batch *b;
	char uidl[32];
	uint8_t p[SZ];
	size_t n = 0;
	long kb;

	(void)state;
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	for (uint32_t i = 0; i < NB; i++) {
		fill(p, SZ, 20000 + i);
		snprintf(uidl, sizeof(uidl), "uidl-%08u", i);
		assert_int_equal(store_batch_pop3_put(b, "p", uidl, &rec,
						      tsu_body(s, p, SZ, SZ)),
				 MS_OK);
	}
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);

	s->release_over = SIZE_MAX;
	store__map_release(s);
	assert_int_equal(store_pop3_list(s, "p", &v, &n, &err), MS_OK);
	assert_int_equal(n, NB);
	assert_string_equal(v[NB - 1].uidl, "uidl-00004999");
	kb = map_rss_kb(s);
	printf("# mapped after listing %u POP3 records: %ld KB\n", NB, kb);
	assert_true(kb <= 64);
	free(v);
	store_close(&s);
	tsu_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_bodies_in_memory),
		cmocka_unit_test(test_large_body_counts),
		cmocka_unit_test(test_map_release_and_growth),
		cmocka_unit_test(test_map_release_policy),
		cmocka_unit_test(test_iter_drops_its_pages),
		cmocka_unit_test(test_pop3_list_unmaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
