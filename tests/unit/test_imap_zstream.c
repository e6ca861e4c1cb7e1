/*
 * test_imap_zstream.c - COMPRESS=DEFLATE's inflate side, through each
 * inflater this build has (zlib always, ISA-L when built with it): a
 * server that ends its deflate stream (Dovecot does after LOGOUT's OK
 * and with a BYE) has its last block read like any other, bytes after
 * the end are a protocol error, not output; the same streams (stored,
 * fixed and dynamic blocks, sync flushes, references 30 KiB back, a
 * corrupt block) give the same output and the same error through both,
 * split at every point (split_feed.h), and everything before a sync
 * flush is out once the flush is in (the server then waits for us).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "session/imap_session_compress.h"
/* Only the feeding half of split_feed.h is used: no transcripts here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "split_feed.h"

/* The inflaters to test: zlib always, ISA-L when this build has it. */
static const enum imap_zinflater *inflaters;
static size_t n_inflaters;


/* Raw deflate (as RFC 4978 says) of text, the stream ended with Z_FINISH
 * when finish is set, else flushed with Z_SYNC_FLUSH. */
static size_t
raw_deflate(const char *text, bool finish, uint8_t *out, size_t outsz)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
				      -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)text;
	z.avail_in = (uInt)strlen(text);
	z.next_out = out;
	z.avail_out = (uInt)outsz;
	assert_int_not_equal(deflate(&z, finish ? Z_FINISH : Z_SYNC_FLUSH),
			     Z_STREAM_ERROR);
	size_t n = outsz - z.avail_out;
	deflateEnd(&z);
	return n;
}

/* Inflates all of in, one byte at a time when split is set. */
static int
inflate_all(struct imap_zstream *zs, const uint8_t *in, size_t len,
	    bool split, char *out, size_t outsz, size_t *outlen_r)
{
	size_t off = 0, used, made;
	bool more = true;
	uint8_t buf[64];
	int rc;

	*outlen_r = 0;
	while (off < len || more) {
		size_t step = split && off < len ? 1 : len - off;

		rc = imap_zstream_inflate(zs, in + off, step, &used, buf,
					  sizeof(buf), &made, &more);
		if (rc != MS_OK)
			return rc;
		assert_true(*outlen_r + made <= outsz);
		memcpy(out + *outlen_r, buf, made);
		*outlen_r += made;
		off += used;
		if (used == 0 && made == 0 && !(split && off < len))
			break;
	}
	return MS_OK;
}

static const char LOGOUT_REPLY[] =
	"* BYE Logging out\r\nA13 OK Logout completed (0.001 + 0.000 secs).\r\n";

static void
test_ended_stream_is_read(void **state)
{
	(void)state;
	for (size_t k = 0; k < 2 * n_inflaters; k++) {
		bool split = k % 2;
		struct imap_zstream zs;
		uint8_t z[512];
		char out[512];
		size_t zlen = raw_deflate(LOGOUT_REPLY, true, z, sizeof(z));
		size_t outlen;

		assert_int_equal(imap_zstream_init_with(&zs, inflaters[k / 2]),
				 MS_OK);
		assert_int_equal(inflate_all(&zs, z, zlen, split, out,
					     sizeof(out), &outlen), MS_OK);
		assert_int_equal(outlen, strlen(LOGOUT_REPLY));
		assert_memory_equal(out, LOGOUT_REPLY, outlen);
		imap_zstream_deinit(&zs);
	}
}

static void
test_bytes_after_end_are_refused(void **state)
{
	(void)state;
	/* One byte after the end and nine: ISA-L reads up to 8 ahead. */
	for (size_t k = 0; k < 2 * n_inflaters; k++) {
		size_t extra = k % 2 ? 9 : 1;
		struct imap_zstream zs;
		uint8_t z[512];
		char out[512];
		size_t zlen, outlen, used, made;
		bool more;

		zlen = raw_deflate(LOGOUT_REPLY, true, z, sizeof(z));
		memset(z + zlen, 'X', extra);
		zlen += extra;
		assert_int_equal(imap_zstream_init_with(&zs, inflaters[k / 2]),
				 MS_OK);
		assert_int_equal(inflate_all(&zs, z, zlen, false, out,
					     sizeof(out), &outlen), MS_EPROTO);
		/* Once ended, more input is refused; none is harmless. */
		assert_int_equal(imap_zstream_inflate(&zs, z, 1, &used,
						      (uint8_t *)out,
						      sizeof(out), &made,
						      &more), MS_EPROTO);
		assert_int_equal(imap_zstream_inflate(&zs, z, 0, &used,
						      (uint8_t *)out,
						      sizeof(out), &made,
						      &more), MS_OK);
		assert_int_equal(made, 0);
		imap_zstream_deinit(&zs);
	}
}

static void
test_corrupt_stream_is_refused(void **state)
{
	struct imap_zstream zs;
	/* 0xff: a reserved block type (BTYPE 11). */
	const uint8_t bad[] = { 0xff, 0xff, 0xff, 0xff };
	char out[64];
	size_t outlen;

	(void)state;
	for (size_t k = 0; k < n_inflaters; k++) {
		assert_int_equal(imap_zstream_init_with(&zs, inflaters[k]),
				 MS_OK);
		assert_int_equal(inflate_all(&zs, bad, sizeof(bad), false, out,
					     sizeof(out), &outlen), MS_EPROTO);
		imap_zstream_deinit(&zs);
	}
}

static void
test_flushed_stream_continues(void **state)
{
	struct imap_zstream zs;
	uint8_t z[512];
	char out[512];
	size_t zlen, outlen;

	(void)state;
	zlen = raw_deflate(LOGOUT_REPLY, false, z, sizeof(z));
	for (size_t k = 0; k < n_inflaters; k++) {
		assert_int_equal(imap_zstream_init_with(&zs, inflaters[k]),
				 MS_OK);
		assert_int_equal(inflate_all(&zs, z, zlen, true, out,
					     sizeof(out), &outlen), MS_OK);
		assert_int_equal(outlen, strlen(LOGOUT_REPLY));
		assert_memory_equal(out, LOGOUT_REPLY, outlen);
		assert_false(zs.in_ended);
		imap_zstream_deinit(&zs);
	}
}

/* ---- the same streams through both inflaters, split everywhere ------ */

/*
 * A session's worth of server bytes: IMAP lines and literals of text
 * made of words (so deflate finds matches) with, now and then, a line
 * repeated from up to 30 KiB back (so matches reach across sync
 * flushes, into the history the inflater keeps between calls).
 */
static void
make_text(struct ms_buf *t, size_t len, unsigned seed)
{
	static const char *const words[] = {
		"the", "message", "Received:", "from", "by", "with", "ESMTPS",
		"id", "for", "<list@example.org>;", "Subject:", "Re:", "patch",
		"mailsync", "=?UTF-8?Q?caf=C3=A9?=", "boundary", "--",
		"Content-Type:", "text/plain;", "charset=utf-8", "\r\n",
		"FETCH", "(UID", "FLAGS", "(\\Seen)", "BODY[]", "{4096}",
	};
	unsigned x = seed;
	size_t line_start = 0;

	ms_buf_reset(t);
	while (t->len < len) {
		x = x * 1103515245u + 12345u;
		if ((x >> 16) % 97 == 0 && t->len > 31000) {
			/* A line repeated from 20-30 KiB back. */
			size_t back = 20000 + (x >> 8) % 10000;
			size_t from = t->len - back, n = 40 + (x >> 4) % 200;

			for (size_t i = 0; i < n && t->len < len; i++) {
				/* A copy: the append may move t->p. */
				uint8_t c = t->p[from + i];

				assert_int_equal(ms_buf_append(t, &c, 1), MS_OK);
			}
			continue;
		}
		const char *w = words[(x >> 16) % (sizeof(words) /
						    sizeof(words[0]))];

		assert_int_equal(ms_buf_append_cstr(t, w), MS_OK);
		if (t->len - line_start > 60 + (x >> 24) % 20) {
			assert_int_equal(ms_buf_append_cstr(t, "\r\n"), MS_OK);
			line_start = t->len;
		} else {
			assert_int_equal(ms_buf_append_cstr(t, " "), MS_OK);
		}
	}
}

/*
 * Deflates text in pieces of about piece bytes, each ended with a sync
 * flush (as Dovecot sends each response), with the given level and
 * strategy; *ends_r (may be NULL) gets where each flush ends in the
 * compressed stream and *text_ends_r what text precedes it.
 */
#define MAX_FLUSHES 512
struct zstream_case {
	struct ms_buf z;
	size_t ends[MAX_FLUSHES], text_ends[MAX_FLUSHES], nends;
};

static void
deflate_flushed(struct zstream_case *c, const struct ms_buf *text,
		size_t piece, int level, int strategy, bool finish)
{
	z_stream z;
	uint8_t buf[4096];
	size_t off = 0;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, level, Z_DEFLATED, -15, 8, strategy),
			 Z_OK);
	ms_buf_reset(&c->z);
	c->nends = 0;
	while (off < text->len) {
		size_t n = text->len - off < piece ? text->len - off : piece;
		bool last = off + n == text->len;
		int flush = last && finish ? Z_FINISH : Z_SYNC_FLUSH;

		z.next_in = text->p + off;
		z.avail_in = (uInt)n;
		do {
			z.next_out = buf;
			z.avail_out = sizeof(buf);
			assert_int_not_equal(deflate(&z, flush), Z_STREAM_ERROR);
			assert_int_equal(ms_buf_append(&c->z, buf, sizeof(buf) -
						       z.avail_out), MS_OK);
		} while (z.avail_out == 0);
		off += n;
		assert_true(c->nends < MAX_FLUSHES);
		c->ends[c->nends] = c->z.len;
		c->text_ends[c->nends++] = off;
	}
	deflateEnd(&z);
}

/* The split_feed.h core: an imap_zstream whose output is the "events". */
struct zcore {
	enum imap_zinflater inflater;
	size_t outsz;		/* 0: 61 bytes */
	struct imap_zstream zs;
	bool ready;
	struct ms_buf made;
};

static void
zcore_reset(void *arg)
{
	struct zcore *c = arg;

	if (c->ready)
		imap_zstream_deinit(&c->zs);
	assert_int_equal(imap_zstream_init_with(&c->zs, c->inflater), MS_OK);
	c->ready = true;
	ms_buf_reset(&c->made);
}

/* Inflates all of p as the session does, into a small buffer (61 bytes
 * unless c->outsz says: the output fills up often, mid-match and
 * mid-block). */
static int
zcore_feed(void *arg, const uint8_t *p, size_t len, size_t *used_r)
{
	struct zcore *c = arg;
	uint8_t out[16384];
	size_t outsz = c->outsz > 0 ? c->outsz : 61;
	bool more = true;
	size_t used, made;
	int rc;

	*used_r = 0;
	while (*used_r < len || more) {
		rc = imap_zstream_inflate(&c->zs, p + *used_r, len - *used_r,
					  &used, out, outsz, &made, &more);
		/* What came before an error is output too (the whole feed
		 * and the split ones must agree on it). */
		assert_int_equal(ms_buf_append(&c->made, out, made), MS_OK);
		*used_r += used;
		if (rc != MS_OK)
			return rc;
		if (used == 0 && made == 0)
			break;
	}
	/* Input left unused with no output to make: the inflater stalled. */
	return *used_r == len ? MS_OK : MS_EINTERNAL;
}

static void
zcore_drain(void *arg, struct ms_buf *out)
{
	struct zcore *c = arg;

	assert_int_equal(ms_buf_append(out, c->made.p, c->made.len), MS_OK);
	ms_buf_reset(&c->made);
}

/* Runs z through every inflater split every way; each must give the
 * same rendering, and that must be expect. */
static void
split_all_inflaters(const struct ms_buf *z, const struct ms_buf *expect)
{
	struct ms_buf whole, first;

	ms_buf_init(&whole, 1u << 24);
	ms_buf_init(&first, 1u << 24);
	for (size_t k = 0; k < n_inflaters; k++) {
		struct zcore c = { .inflater = inflaters[k] };
		struct split_core sc = {
			.reset_cb = zcore_reset, .feed_cb = zcore_feed,
			.drain_cb = zcore_drain, .arg = &c,
		};

		ms_buf_init(&c.made, 1u << 24);
		split_feed_all(&sc, z->p, z->len, &whole);
		split_expect_same(expect, &whole, "inflated");
		if (k == 0)
			assert_int_equal(ms_buf_append(&first, whole.p,
						       whole.len), MS_OK);
		else
			split_expect_same(&first, &whole, "zlib vs ISA-L");
		imap_zstream_deinit(&c.zs);
		ms_buf_deinit(&c.made);
	}
	ms_buf_deinit(&whole);
	ms_buf_deinit(&first);
}

/* Stored, fixed-Huffman and dynamic blocks, each response sync-flushed,
 * the last one ending the stream or not. */
static void
test_same_output_every_split(void **state)
{
	static const struct {
		int level, strategy;
		size_t text, piece;
		bool finish;
	} cases[] = {
		{ 0, Z_DEFAULT_STRATEGY, 1500, 300, true },	/* stored */
		{ 6, Z_FIXED, 3000, 700, false },		/* fixed */
		{ 6, Z_DEFAULT_STRATEGY, 33000, 4000, true },	/* dynamic */
		{ 1, Z_DEFAULT_STRATEGY, 8000, 3000, false },
		{ 9, Z_DEFAULT_STRATEGY, 300, 1, false },	/* 1-byte flushes */
		{ 6, Z_DEFAULT_STRATEGY, 300, 100, true },	/* split twice */
	};
	struct zstream_case zc;
	struct ms_buf text;

	(void)state;
	ms_buf_init(&text, 1u << 20);
	ms_buf_init(&zc.z, 1u << 20);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_text(&text, cases[i].text, 17 + (unsigned)i);
		deflate_flushed(&zc, &text, cases[i].piece, cases[i].level,
				cases[i].strategy, cases[i].finish);
		split_all_inflaters(&zc.z, &text);
	}
	ms_buf_deinit(&text);
	ms_buf_deinit(&zc.z);
}

/*
 * IMAP needs every byte before a sync flush out once the flush is in:
 * the server sent a whole response and waits for our next command.
 * Fed byte by byte, the output after each flush's last byte is exactly
 * the text before it.
 */
static void
test_nothing_held_at_a_flush(void **state)
{
	struct zstream_case zc;
	struct ms_buf text;

	(void)state;
	ms_buf_init(&text, 1u << 20);
	ms_buf_init(&zc.z, 1u << 20);
	make_text(&text, 60000, 5);
	deflate_flushed(&zc, &text, 777, 6, Z_DEFAULT_STRATEGY, false);
	/* A large output buffer (the session's is 64 KiB), and a small. */
	for (size_t k = 0; k < 2 * n_inflaters; k++) {
		struct zcore c = { .inflater = inflaters[k / 2],
				   .outsz = k % 2 ? 16384 : 61 };
		size_t used, flush = 0;

		ms_buf_init(&c.made, 1u << 24);
		zcore_reset(&c);
		for (size_t i = 0; i < zc.z.len; i++) {
			assert_int_equal(zcore_feed(&c, zc.z.p + i, 1, &used),
					 MS_OK);
			if (i + 1 < zc.ends[flush])
				continue;
			assert_int_equal(c.made.len, zc.text_ends[flush]);
			assert_memory_equal(c.made.p, text.p, c.made.len);
			flush++;
		}
		assert_int_equal(flush, zc.nends);
		imap_zstream_deinit(&c.zs);
		ms_buf_deinit(&c.made);
	}
	ms_buf_deinit(&text);
	ms_buf_deinit(&zc.z);
}

/* Renders of a corrupt stream must be the text, or a prefix of it (an
 * inflater may decode ahead of what it hands out and report the error
 * first: the session fails either way), then the error. */
static void
expect_prefix_then_error(const struct ms_buf *got, const struct ms_buf *text)
{
	static const char err[] = "ERROR EPROTO\n";
	size_t n;

	assert_true(got->len >= sizeof(err) - 1);
	n = got->len - (sizeof(err) - 1);
	assert_memory_equal(got->p + n, err, sizeof(err) - 1);
	assert_true(n <= text->len);
	assert_memory_equal(got->p, text->p, n);
}

/* Corrupt data after good responses: through both inflaters, whole,
 * byte by byte and split at every point, a clear error after none but
 * the good text; never a crash or a read past the input. */
static void
test_corrupt_after_flush(void **state)
{
	static const uint8_t bad_type[] = { 0x07 };	/* BTYPE 11, final */
	/* A stored block whose NLEN is not LEN's complement. */
	static const uint8_t bad_len[] = { 0x00, 0x05, 0x00, 0x05, 0x00 };
	struct zstream_case zc;
	struct ms_buf text, got;
	struct split_guard g;

	(void)state;
	ms_buf_init(&text, 1u << 20);
	ms_buf_init(&got, 1u << 24);
	ms_buf_init(&zc.z, 1u << 20);
	make_text(&text, 2000, 9);
	for (size_t k = 0; k < 2 * n_inflaters; k++) {
		struct zcore c = { .inflater = inflaters[k / 2] };
		struct split_core sc = {
			.reset_cb = zcore_reset, .feed_cb = zcore_feed,
			.drain_cb = zcore_drain, .arg = &c,
		};
		const uint8_t *bad = k % 2 ? bad_len : bad_type;
		size_t nbad = k % 2 ? sizeof(bad_len) : sizeof(bad_type);

		deflate_flushed(&zc, &text, 500, 6, Z_DEFAULT_STRATEGY, false);
		assert_int_equal(ms_buf_append(&zc.z, bad, nbad), MS_OK);
		ms_buf_init(&c.made, 1u << 24);
		split_guard_init(&g, zc.z.len + 1);
		for (size_t i = 0; i <= zc.z.len + 1; i++) {
			size_t cut = i;

			if (i <= zc.z.len) {
				split_feed_cuts(&sc, &g, zc.z.p, zc.z.len, &cut,
						1, &got);
			} else {
				sc.reset_cb(sc.arg);
				ms_buf_reset(&got);
				for (size_t j = 0; j < zc.z.len; j++)
					if (!split_feed_piece(&sc, &g,
							      zc.z.p + j, 1,
							      &got))
						break;
			}
			expect_prefix_then_error(&got, &text);
		}
		split_guard_deinit(&g);
		imap_zstream_deinit(&c.zs);
		ms_buf_deinit(&c.made);
	}
	ms_buf_deinit(&text);
	ms_buf_deinit(&got);
	ms_buf_deinit(&zc.z);
}

/* Random bytes, and a good stream with bytes flipped: whatever each
 * inflater makes of them, it returns (an error or output), never
 * crashes, reads past its input or loops. */
static void
test_garbage_is_survived(void **state)
{
	struct zstream_case zc;
	struct ms_buf text;
	unsigned x = 1;

	(void)state;
	ms_buf_init(&text, 1u << 20);
	ms_buf_init(&zc.z, 1u << 20);
	make_text(&text, 20000, 3);
	for (int round = 0; round < 200; round++) {
		deflate_flushed(&zc, &text, 2500, 6, Z_DEFAULT_STRATEGY, true);
		for (int f = 0; f < 1 + round % 4; f++) {
			x = x * 1103515245u + 12345u;
			if (round < 50)
				zc.z.p[(x >> 8) % zc.z.len] = (uint8_t)(x >> 24);
			else
				zc.z.p[(x >> 8) % zc.z.len] ^=
					(uint8_t)(1u << ((x >> 4) % 8));
		}
		for (size_t k = 0; k < n_inflaters; k++) {
			struct zcore c = { .inflater = inflaters[k] };
			size_t used;

			ms_buf_init(&c.made, 1u << 24);
			zcore_reset(&c);
			(void)zcore_feed(&c, zc.z.p, zc.z.len, &used);
			assert_true(c.made.len <= (1u << 24));
			imap_zstream_deinit(&c.zs);
			ms_buf_deinit(&c.made);
		}
	}
	ms_buf_deinit(&text);
	ms_buf_deinit(&zc.z);
}

int
main(void)
{
	n_inflaters = imap_zstream_inflaters(&inflaters);
	printf("inflaters: zlib%s\n", n_inflaters > 1 ? ", ISA-L" : "");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ended_stream_is_read),
		cmocka_unit_test(test_bytes_after_end_are_refused),
		cmocka_unit_test(test_corrupt_stream_is_refused),
		cmocka_unit_test(test_flushed_stream_continues),
		cmocka_unit_test(test_same_output_every_split),
		cmocka_unit_test(test_nothing_held_at_a_flush),
		cmocka_unit_test(test_corrupt_after_flush),
		cmocka_unit_test(test_garbage_is_survived),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
