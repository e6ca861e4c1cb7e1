/*
 * test_maildir_eol.c - CRLF <-> LF at the mirror's edge (maildir_eol.h):
 * each input converted whole, one byte at a time, split at every index
 * and (short inputs) at every pair of indexes gives the same bytes and
 * the same verdict; and a message file's two content hashes
 * (maildir_hash_mail()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>

#include "hash/body_hash.h"
#include "maildir/maildir_eol.h"
#include "maildir/maildir_hash.h"

struct eol_case {
	const char *in;
	const char *lf;		/* the LF form, when exact */
	bool is_exact;
};

static const struct eol_case eol_cases[] = {
	{ "", "", true },
	{ "Subject: a\r\n\r\nbody\r\n", "Subject: a\n\nbody\n", true },
	{ "no line end", "no line end", true },
	{ "\r\n\r\n\r\n", "\n\n\n", true },
	{ "a\rb\r\n", NULL, false },		/* bare CR inside */
	{ "a\r\n\r", NULL, false },		/* bare CR at the end */
	{ "a\r\r\nb\r\n", NULL, false },	/* CR CR LF */
	{ "a\nb\r\n", NULL, false },		/* LF without CR, mixed */
	{ "a\nb\n", NULL, false },		/* LF only */
	{ "\n", NULL, false },
	{ "\r", NULL, false },
	{ "\r\r", NULL, false },
	{ "a\r\r\r\n", NULL, false },		/* CRs held in turn */
	/* Long runs between line ends (copied whole, not byte by byte). */
	{ "abcdefghijklmnopqrstuvwxyz0123456789\r\nABCDEFGHIJKLMNOPQRST\r\n",
	  "abcdefghijklmnopqrstuvwxyz0123456789\nABCDEFGHIJKLMNOPQRST\n",
	  true },
	{ "abcdefghijklmnopqrstuvwxyz0123456789\r\nABCDEFGHIJKLMNOPQRST\n",
	  NULL, false },			/* the last LF without CR */
	{ "abcdefghijklmnopqrstuvwxyz0123456789\nABCDEFGHIJKLMNOPQRST\r\n",
	  NULL, false },			/* a LF inside a run */
};

/* Converts in split at the given points (sorted, npts of them). */
static size_t
eol_lf_split(const char *in, const size_t *pts, size_t npts, uint8_t *out,
	     bool *is_exact_r)
{
	struct maildir_eol_lf e;
	size_t len = strlen(in), at = 0, k = 0;

	maildir_eol_lf_init(&e);
	for (size_t i = 0; i <= npts; i++) {
		size_t end = i < npts ? pts[i] : len;
		/* Each piece on its own heap block: ASan sees overreads. */
		uint8_t *piece = malloc(end - at + 1);

		assert_non_null(piece);
		memcpy(piece, in + at, end - at);
		k += maildir_eol_lf_feed(&e, piece, end - at, out + k);
		free(piece);
		at = end;
	}
	k += maildir_eol_lf_finish(&e, out + k);
	*is_exact_r = e.is_exact;
	return k;
}

static void
eol_lf_check(const struct eol_case *c, const size_t *pts, size_t npts,
	     const uint8_t *want, size_t want_len)
{
	uint8_t out[128];
	bool is_exact;
	size_t k = eol_lf_split(c->in, pts, npts, out, &is_exact);

	assert_int_equal(is_exact, c->is_exact);
	if (c->is_exact) {
		assert_int_equal(k, want_len);
		assert_memory_equal(out, want, k);
	}
}

static void
test_lf_every_split(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < sizeof(eol_cases) / sizeof(eol_cases[0]);
	     ci++) {
		const struct eol_case *c = &eol_cases[ci];
		size_t len = strlen(c->in), pts[64];
		const char *want = c->lf != NULL ? c->lf : "";

		eol_lf_check(c, NULL, 0, (const uint8_t *)want, strlen(want));
		for (size_t i = 0; i < len; i++)
			pts[i] = i + 1;
		eol_lf_check(c, pts, len > 0 ? len - 1 : 0,
			     (const uint8_t *)want, strlen(want));
		for (size_t i = 0; i <= len; i++) {
			pts[0] = i;
			eol_lf_check(c, pts, 1, (const uint8_t *)want,
				     strlen(want));
			for (size_t j = i; j <= len; j++) {
				pts[1] = j;
				eol_lf_check(c, pts, 2, (const uint8_t *)want,
					     strlen(want));
			}
		}
	}
}

/* An exact body comes back from its LF form. */
static void
test_round_trip(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < sizeof(eol_cases) / sizeof(eol_cases[0]);
	     ci++) {
		const struct eol_case *c = &eol_cases[ci];
		struct maildir_eol_crlf e;
		uint8_t out[256];
		size_t k;

		if (!c->is_exact)
			continue;
		maildir_eol_crlf_init(&e);
		k = maildir_eol_crlf_feed(&e, (const uint8_t *)c->lf,
					  strlen(c->lf), out, NULL);
		assert_int_equal(k, strlen(c->in));
		assert_memory_equal(out, c->in, k);
	}
}

/* LF -> CRLF split anywhere: a CR at the end of one piece counts. */
static void
test_crlf_every_split(void **state)
{
	static const char in[] = "a\r\nb\nc\r\rd\n\n";
	static const char want[] = "a\r\nb\r\nc\r\rd\r\n\r\n";
	size_t len = strlen(in);

	(void)state;
	for (size_t i = 0; i <= len; i++)
		for (size_t j = i; j <= len; j++) {
			struct maildir_eol_crlf e;
			uint8_t out[64];
			bool is_changed = false;
			size_t k;

			maildir_eol_crlf_init(&e);
			k = maildir_eol_crlf_feed(&e, (const uint8_t *)in, i, out,
						  &is_changed);
			k += maildir_eol_crlf_feed(&e, (const uint8_t *)in + i,
						   j - i, out + k, &is_changed);
			k += maildir_eol_crlf_feed(&e, (const uint8_t *)in + j,
						   len - j, out + k, &is_changed);
			assert_int_equal(k, strlen(want));
			assert_memory_equal(out, want, k);
			assert_true(is_changed);
		}
}

static void
eol_write(int dfd, const char *name, const void *p, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
}

/*
 * A file's hash is its CRLF form's; its raw hash is there only when they
 * differ, also when the first bare LF comes after many blocks.
 */
static void
test_hash_mail(void **state)
{
	char dir[] = "/tmp/ms-eol-XXXXXX";
	size_t big = 100000;
	char *crlf = malloc(2 * big + 8), *lf = malloc(2 * big + 8);
	uint8_t want[BODY_HASH_LEN], want_raw[BODY_HASH_LEN];
	struct maildir_fhash fh;
	struct ms_err err = { 0 };
	size_t nc = 0, nl = 0;
	int dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_non_null(crlf);
	assert_non_null(lf);
	/* CRLF lines, then one LF line far in: mixed. */
	for (size_t i = 0; nc + 4 < big; i++) {
		memcpy(crlf + nc, "ab\r\n", 4);
		nc += 4;
	}
	memcpy(lf, crlf, nc);
	nl = nc;
	memcpy(lf + nl, "x\n", 2);
	nl += 2;
	memcpy(crlf + nc, "x\r\n", 3);
	nc += 3;
	eol_write(dfd, "mixed", lf, nl);
	assert_int_equal(maildir_hash_mail(dfd, "mixed", &fh, &err), MS_OK);
	assert_int_equal(body_hash(crlf, nc, want), MS_OK);
	assert_int_equal(body_hash(lf, nl, want_raw), MS_OK);
	assert_memory_equal(fh.hash, want, BODY_HASH_LEN);
	assert_true(fh.has_raw);
	assert_memory_equal(fh.raw, want_raw, BODY_HASH_LEN);
	assert_true(maildir_fhash_is(&fh, want));
	assert_true(maildir_fhash_is(&fh, want_raw));
	/* A CRLF file: one hash, the body's. */
	eol_write(dfd, "crlf", crlf, nc);
	assert_int_equal(maildir_hash_mail(dfd, "crlf", &fh, &err), MS_OK);
	assert_memory_equal(fh.hash, want, BODY_HASH_LEN);
	assert_false(fh.has_raw);
	assert_false(maildir_fhash_is(&fh, want_raw));
	/* An LF file: the body it came from. */
	eol_write(dfd, "lf", "a\n\nb\n", 5);
	assert_int_equal(maildir_hash_mail(dfd, "lf", &fh, &err), MS_OK);
	assert_int_equal(body_hash("a\r\n\r\nb\r\n", 8, want), MS_OK);
	assert_memory_equal(fh.hash, want, BODY_HASH_LEN);
	assert_int_equal(maildir_hash_mail(dfd, "gone", &fh, &err), MS_EIO);
	unlinkat(dfd, "mixed", 0);
	unlinkat(dfd, "crlf", 0);
	unlinkat(dfd, "lf", 0);
	close(dfd);
	rmdir(dir);
	free(crlf);
	free(lf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lf_every_split),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_crlf_every_split),
		cmocka_unit_test(test_hash_mail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
