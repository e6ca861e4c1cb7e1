/*
 * test_imap_zstream.c - COMPRESS=DEFLATE's inflate side: a server that
 * ends its deflate stream (Dovecot does after LOGOUT's OK and with a BYE)
 * has its last block read like any other, and bytes after the end are a
 * protocol error, not output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <zlib.h>

#include "session/imap_session_compress.h"

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
	for (int split = 0; split <= 1; split++) {
		struct imap_zstream zs;
		uint8_t z[512];
		char out[512];
		size_t zlen = raw_deflate(LOGOUT_REPLY, true, z, sizeof(z));
		size_t outlen;

		assert_int_equal(imap_zstream_init(&zs), MS_OK);
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
	struct imap_zstream zs;
	uint8_t z[512];
	char out[512];
	size_t zlen, outlen, used, made;
	bool more;

	(void)state;
	zlen = raw_deflate(LOGOUT_REPLY, true, z, sizeof(z));
	z[zlen++] = 'X';
	assert_int_equal(imap_zstream_init(&zs), MS_OK);
	assert_int_equal(inflate_all(&zs, z, zlen, false, out, sizeof(out),
				     &outlen), MS_EPROTO);
	/* Once ended, more input is refused; none is harmless. */
	assert_int_equal(imap_zstream_inflate(&zs, z, 1, &used, (uint8_t *)out,
					      sizeof(out), &made, &more),
			 MS_EPROTO);
	assert_int_equal(imap_zstream_inflate(&zs, z, 0, &used, (uint8_t *)out,
					      sizeof(out), &made, &more),
			 MS_OK);
	assert_int_equal(made, 0);
	imap_zstream_deinit(&zs);
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
	assert_int_equal(imap_zstream_init(&zs), MS_OK);
	assert_int_equal(inflate_all(&zs, bad, sizeof(bad), false, out,
				     sizeof(out), &outlen), MS_EPROTO);
	imap_zstream_deinit(&zs);
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
	assert_int_equal(imap_zstream_init(&zs), MS_OK);
	assert_int_equal(inflate_all(&zs, z, zlen, true, out, sizeof(out),
				     &outlen), MS_OK);
	assert_int_equal(outlen, strlen(LOGOUT_REPLY));
	assert_false(zs.in_ended);
	imap_zstream_deinit(&zs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ended_stream_is_read),
		cmocka_unit_test(test_bytes_after_end_are_refused),
		cmocka_unit_test(test_corrupt_stream_is_refused),
		cmocka_unit_test(test_flushed_stream_continues),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
