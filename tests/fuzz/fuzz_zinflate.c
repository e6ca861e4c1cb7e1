/*
 * fuzz_zinflate.c - libFuzzer target for the inflate side of IMAP
 * COMPRESS=DEFLATE (session/imap_session_compress.h), through each
 * inflater the build has (zlib, and ISA-L when built with it).
 *
 * Input: byte 0 is a split seed, the rest is what the server sends.
 * Each inflater is fed whole and in pieces of seed-dependent sizes, into
 * a 61-byte output buffer; checked: consumed and produced never exceed
 * what was offered, the inflater makes progress, the output stays within
 * deflate's bound, and where a feed is accepted to its end, whole and
 * split agree, and the two inflaters' outputs agree up to the shorter
 * (an inflater may decode less of a truncated block than the other).
 */
#include <stdlib.h>
#include <string.h>

#include "session/imap_session_compress.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* zlib and ISA-L at most. */
#define FUZZ_MAX_INFLATERS 2

/* Deflate expands at most 258 bytes per 1 bit of input. */
#define FUZZ_OUT_MAX(n) ((n) * 8u * 258u + 64u)


/* Inflates in[0..len) in pieces (piece 0: whole) into out; returns the
 * result of the last call, *outlen_r what came out. */
static int
fuzz_inflate(enum imap_zinflater which, const uint8_t *in, size_t len,
	     size_t piece, uint8_t *out, size_t outmax, size_t *outlen_r)
{
	struct imap_zstream zs;
	size_t off = 0;
	int rc = MS_OK;

	*outlen_r = 0;
	CHECK(imap_zstream_init_with(&zs, which) == MS_OK);
	while (off < len && rc == MS_OK) {
		size_t n = piece == 0 || len - off < piece ? len - off : piece;
		size_t fed = 0, used, made;
		bool more = true;
		/* An exact-size heap copy: ASan sees any read past it. */
		uint8_t *copy = malloc(n);

		CHECK(copy != NULL);
		memcpy(copy, in + off, n);
		while ((fed < n || more) && rc == MS_OK) {
			uint8_t buf[61];

			rc = imap_zstream_inflate(&zs, copy + fed, n - fed,
						  &used, buf, sizeof(buf),
						  &made, &more);
			CHECK(used <= n - fed && made <= sizeof(buf));
			CHECK(*outlen_r + made <= outmax);
			memcpy(out + *outlen_r, buf, made);
			*outlen_r += made;
			fed += used;
			if (used == 0 && made == 0)
				break;
		}
		free(copy);
		/* Input left with no output: only after the stream ended
		 * (the next call refuses it). */
		if (rc == MS_OK && fed < n && !zs.in_ended)
			abort();
		off += fed;
		if (rc == MS_OK && fed < n)
			rc = MS_EPROTO;
	}
	imap_zstream_deinit(&zs);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outmax, len[FUZZ_MAX_INFLATERS], len_split;
	uint8_t *out[FUZZ_MAX_INFLATERS], *split;
	int rc[FUZZ_MAX_INFLATERS];
	const enum imap_zinflater *inflaters;
	size_t n_inflaters = imap_zstream_inflaters(&inflaters);
	size_t piece;

	CHECK(n_inflaters <= FUZZ_MAX_INFLATERS);
	if (size < 1 || size > 4096)
		return 0;
	piece = 1 + data[0] % 37;
	outmax = FUZZ_OUT_MAX(size);
	split = malloc(outmax);
	CHECK(split != NULL);
	for (size_t k = 0; k < n_inflaters; k++) {
		out[k] = malloc(outmax);
		CHECK(out[k] != NULL);
		rc[k] = fuzz_inflate(inflaters[k], data + 1, size - 1, 0,
				     out[k], outmax, &len[k]);
		if (fuzz_inflate(inflaters[k], data + 1, size - 1, piece,
				 split, outmax, &len_split) == MS_OK &&
		    rc[k] == MS_OK) {
			/* Split or whole, an accepted stream's bytes are
			 * the same (a truncated block may leave a few less
			 * decoded in one of them). */
			size_t n = len_split < len[k] ? len_split : len[k];

			CHECK(memcmp(split, out[k], n) == 0);
		}
	}
	for (size_t k = 1; k < n_inflaters; k++) {
		size_t n = len[k] < len[0] ? len[k] : len[0];

		if (rc[0] == MS_OK && rc[k] == MS_OK)
			CHECK(memcmp(out[0], out[k], n) == 0);
	}
	for (size_t k = 0; k < n_inflaters; k++)
		free(out[k]);
	free(split);
	return 0;
}
