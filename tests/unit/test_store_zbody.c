/*
 * test_store_zbody.c - bodies kept compressed in the store: every size
 * around the piece boundaries reads back byte-exact at every offset, text
 * is stored compressed and incompressible or oversized bodies as they
 * are, a store written before compression still reads, and a damaged
 * compressed value is an error (store_check(), reads), never wrong bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store_int.h"
#include "store/store_zbody.h"
#include "test_store_util.h"

/* Mail-like text: header lines and words, compressible like real mail. */
static void
fill_text(uint8_t *p, size_t len, uint32_t seed)
{
	static const char *const words[] = {
		"the", "message", "Received:", "from", "mail.example.org",
		"by", "with", "ESMTPS", "id", "for", "<alice@example.net>;",
		"Subject:", "Re:", "meeting", "tomorrow", "\r\n", "\r\n",
		"Content-Type:", "text/plain;", "charset=utf-8", "thanks",
	};
	size_t n = sizeof(words) / sizeof(words[0]), off = 0;
	uint32_t x = seed;

	while (off < len) {
		const char *w;
		size_t k;

		x = x * 1103515245u + 12345u;
		w = words[(x >> 16) % n];
		k = strlen(w);
		for (size_t i = 0; i < k && off < len; i++)
			p[off++] = (uint8_t)w[i];
		if (off < len)
			p[off++] = ' ';
	}
}

/* Bytes that do not compress. */
static void
fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* Commits one message (uid) with these bytes; *hash_r gets its hash. */
static void
put_body(struct store *s, uint32_t fid, uint32_t uid, const uint8_t *p,
	 size_t len, uint8_t hash_r[STORE_HASH_LEN])
{
	struct store_body *body = tsu_body(s, p, len, 4096);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_msg m;

	store_body_hash(body, hash_r);
	memset(&m, 0, sizeof(m));
	m.folder_id = fid;
	m.uid = uid;
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	assert_int_equal(store_batch_msg_add(b, &m, body), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
}

/* The length of the stored value of hash. */
static size_t
value_len(struct store *s, const uint8_t *hash)
{
	MDB_val k = { STORE_HASH_LEN, (void *)hash }, v;
	struct ms_err err = { 0 };
	MDB_txn *txn;
	size_t len;

	assert_int_equal(store__read_begin(s, &txn, &err), MS_OK);
	assert_int_equal(mdb_get(txn, s->dbi[STORE_DBI_BODIES], &k, &v), 0);
	len = v.mv_size;
	store__read_end(s, txn);
	return len;
}

/* Reads [off, off + len) back and compares. */
static void
check_range(struct store *s, const uint8_t *hash, const uint8_t *want,
	    size_t size, size_t off, size_t len)
{
	uint8_t *got = malloc(len + 1);
	struct ms_err err = { 0 };
	size_t n = 0, expect;

	assert_non_null(got);
	if (store_body_read(s, hash, off, got, len, &n, &err) != MS_OK)
		fail_msg("size %zu off %zu len %zu: %s", size, off, len,
			 err.msg);
	expect = off >= size ? 0 : (size - off < len ? size - off : len);
	assert_int_equal(n, expect);
	if (n > 0)
		assert_memory_equal(got, want + off, n);
	free(got);
}

/* Every offset class around the piece boundaries, several lengths. */
static void
check_body(struct store *s, const uint8_t *hash, const uint8_t *p,
	   size_t size)
{
	const size_t P = STORE__ZPIECE;
	const size_t offs[] = { 0, 1, P - 1, P, P + 1, 2 * P - 3, size / 2,
				size - 1, size, size + 5 };
	const size_t lens[] = { 1, 100, P, P + 7, 3 * P, size };
	struct ms_buf all;
	struct ms_err err = { 0 };

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++)
			if (lens[j] > 0)
				check_range(s, hash, p, size, offs[i],
					    lens[j]);
	ms_buf_init(&all, 64u << 20);
	assert_int_equal(store_body_read_all(s, hash, &all, &err), MS_OK);
	assert_int_equal(all.len, size);
	assert_memory_equal(all.p, p, size);
	ms_buf_deinit(&all);
}

static void
test_sizes_roundtrip(void **state)
{
	const size_t P = STORE__ZPIECE;
	/* Past 1 MiB (the default spool threshold) the body is in a spool
	 * file, and its value is built in one (store__zbody_encode()). */
	const size_t sizes[] = { 1, STORE__ZMIN - 1, STORE__ZMIN, 4000,
				 P - 1, P, P + 1, 3 * P + 17, 1000000,
				 (1u << 20) + 1, 3 * (1u << 20) + P / 2,
				 STORE__ZMAX };
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 64u << 20);
	struct ms_err err = { 0 };
	uint8_t hash[STORE_HASH_LEN];
	uint32_t fid;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *p = malloc(sizes[i]);

		fill_text(p, sizes[i], (uint32_t)i + 1);
		put_body(s, fid, (uint32_t)i + 1, p, sizes[i], hash);
		/* Text at or above the minimum is kept compressed, and to
		 * well under its size; below it, as it is. */
		if (sizes[i] >= STORE__ZMIN)
			assert_true(value_len(s, hash) < sizes[i] / 2);
		else
			assert_int_equal(value_len(s, hash), sizes[i]);
		check_body(s, hash, p, sizes[i]);
		free(p);
	}
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	/* And after reopening (nothing cached). */
	store_close(&s);
	s = tsu_open(dir, 64u << 20);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

static void
test_kept_as_is(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 64u << 20);
	struct ms_err err = { 0 };
	uint8_t hash[STORE_HASH_LEN];
	size_t big = STORE__ZMAX + 1;
	uint8_t *rnd = malloc(300000), *text = malloc(big);
	uint32_t fid;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	/* Incompressible: stored as it is. */
	fill_random(rnd, 300000, 7);
	put_body(s, fid, 1, rnd, 300000, hash);
	assert_int_equal(value_len(s, hash), 300000);
	check_body(s, hash, rnd, 300000);
	/* The same from a spool file (over 1 MiB). */
	fill_random(text, (2u << 20), 8);
	put_body(s, fid, 3, text, (2u << 20), hash);
	assert_int_equal(value_len(s, hash), (2u << 20));
	check_body(s, hash, text, (2u << 20));
	/* Above STORE__ZMAX: as it is, however well it would compress. */
	fill_text(text, big, 9);
	put_body(s, fid, 2, text, big, hash);
	assert_int_equal(value_len(s, hash), big);
	check_range(s, hash, text, big, big - 10, 100);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	free(rnd);
	free(text);
	store_close(&s);
	tsu_rmdir(dir);
}

struct put_value_arg {
	const uint8_t *hash;
	const void *p;
	size_t len;
};

/* Replaces the stored value of a body (what another version wrote, or
 * damage). */
static int
put_value_txn(struct store *s, MDB_txn *txn, void *arg, struct ms_err *err_r)
{
	struct put_value_arg *a = arg;
	MDB_val k = { STORE_HASH_LEN, (void *)a->hash };
	MDB_val v = { a->len, (void *)a->p };

	(void)err_r;
	return mdb_put(txn, s->dbi[STORE_DBI_BODIES], &k, &v, 0) == 0 ?
	       MS_OK : MS_ESTORE;
}

static void
put_value(struct store *s, const uint8_t *hash, const void *p, size_t len)
{
	struct put_value_arg a = { hash, p, len };
	struct ms_err err = { 0 };

	assert_int_equal(store__write(s, put_value_txn, &a, &err), MS_OK);
}

/* A value as a store written before compression holds it: the bytes. */
static void
test_plain_value_reads(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 64u << 20);
	struct ms_err err = { 0 };
	uint8_t hash[STORE_HASH_LEN];
	size_t size = 2 * STORE__ZPIECE + 99;
	uint8_t *p = malloc(size);
	uint32_t fid;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	fill_text(p, size, 3);
	put_body(s, fid, 1, p, size, hash);
	assert_true(value_len(s, hash) < size);
	put_value(s, hash, p, size);
	assert_int_equal(value_len(s, hash), size);
	check_body(s, hash, p, size);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	free(p);
	store_close(&s);
	tsu_rmdir(dir);
}

/* A damaged compressed value: an error everywhere, never other bytes. */
static void
test_damage_detected(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 64u << 20);
	struct ms_err err = { 0 };
	uint8_t hash[STORE_HASH_LEN], got[256];
	size_t size = 3 * STORE__ZPIECE, vlen, n;
	uint8_t *p = malloc(size), *v;
	MDB_val k = { STORE_HASH_LEN, hash }, mv;
	MDB_txn *txn;
	uint32_t fid;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	fill_text(p, size, 5);
	put_body(s, fid, 1, p, size, hash);
	vlen = value_len(s, hash);
	assert_true(vlen < size);
	v = malloc(vlen);
	assert_int_equal(store__read_begin(s, &txn, &err), MS_OK);
	assert_int_equal(mdb_get(txn, s->dbi[STORE_DBI_BODIES], &k, &mv), 0);
	memcpy(v, mv.mv_data, vlen);
	store__read_end(s, txn);

	/* A frame's bytes changed: its checksum refuses them. */
	v[vlen - 20] ^= 0x55;
	put_value(s, hash, v, vlen);
	assert_int_equal(store_body_read(s, hash, 2 * STORE__ZPIECE, got,
					 sizeof(got), &n, &err), MS_ESTORE);
	assert_int_equal(n, 0);
	assert_int_not_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	/* The table says the last frame ends past the value. */
	v[vlen - 20] ^= 0x55;
	store__put32(v + 4 + 4 * 2, (uint32_t)vlen);
	put_value(s, hash, v, vlen);
	assert_int_equal(store_body_read(s, hash, 2 * STORE__ZPIECE, got,
					 sizeof(got), &n, &err), MS_ESTORE);
	assert_int_equal(n, 0);
	assert_int_not_equal(store_check(s, 0, &err), MS_OK);
	/* Cut short: shorter than the table. */
	put_value(s, hash, v, 6);
	assert_int_equal(store_body_read(s, hash, 0, got, sizeof(got), &n,
					 &err), MS_ESTORE);
	assert_int_not_equal(store_check(s, 0, &err), MS_OK);
	free(v);
	free(p);
	store_close(&s);
	tsu_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_roundtrip),
		cmocka_unit_test(test_kept_as_is),
		cmocka_unit_test(test_plain_value_reads),
		cmocka_unit_test(test_damage_detected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
