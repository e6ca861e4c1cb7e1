/*
 * fuzz_mime.c - libFuzzer target for proto/mime: encoded-word decoding,
 * unfolding and dates on the raw input, and the summary extractor fed
 * whole and split in three places (chosen from the input), which must
 * agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

struct fuzz_sum {
	struct mime_summary s;
	size_t consumed;
};

static void
fuzz_summarise(struct fuzz_sum *f, const uint8_t *p, size_t len,
	       const size_t cuts[3])
{
	struct mime_summary_params params = { 4096, 512 };
	size_t pos = 0;
	int rc = MS_AGAIN;

	mime_summary_init(&f->s, &params);
	f->consumed = 0;
	for (int c = 0; c <= 3 && rc == MS_AGAIN; c++) {
		size_t end = c < 3 ? cuts[c] : len, used;

		if (end < pos)
			end = pos;
		rc = mime_summary_feed(&f->s, p + pos, end - pos, &used);
		if (used > end - pos)
			abort();
		f->consumed += used;
		pos = end;
	}
	if (mime_summary_finish(&f->s) != MS_OK)
		abort();
}

static void
fuzz_same(const struct ms_buf *a, const struct ms_buf *b)
{
	if (a->len != b->len || memcmp(a->p, b->p, a->len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_slice in = { data, size };
	struct ms_buf out;
	struct fuzz_sum whole, split;
	size_t none[3], cuts[3];
	int64_t t;
	int rc;

	ms_buf_init(&out, 3 * size + 16);
	if (mime_words_decode(in, &out) < 0)
		abort();
	ms_buf_reset(&out);
	if (mime_header_unfold(in, &out) != MS_OK || out.len > size)
		abort();
	ms_buf_deinit(&out);
	rc = mime_date_parse(in, &t);
	if (rc != MS_OK && rc != MS_EPROTO)
		abort();

	for (int i = 0; i < 3; i++) {
		none[i] = size;
		cuts[i] = size > 0 ?
			  (size_t)data[i % size] * (i + 1) % (size + 1) : 0;
	}
	/* Cuts must be increasing. */
	if (cuts[1] < cuts[0])
		cuts[1] = cuts[0];
	if (cuts[2] < cuts[1])
		cuts[2] = cuts[1];
	fuzz_summarise(&whole, data, size, none);
	fuzz_summarise(&split, data, size, cuts);
	fuzz_same(&whole.s.from, &split.s.from);
	fuzz_same(&whole.s.to, &split.s.to);
	fuzz_same(&whole.s.subject, &split.s.subject);
	fuzz_same(&whole.s.message_id, &split.s.message_id);
	if (whole.consumed != split.consumed ||
	    whole.s.has_date != split.s.has_date ||
	    (whole.s.has_date && whole.s.date != split.s.date) ||
	    whole.s.is_truncated != split.s.is_truncated)
		abort();
	mime_summary_deinit(&whole.s);
	mime_summary_deinit(&split.s);
	return 0;
}
