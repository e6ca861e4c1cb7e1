/*
 * fuzz_imap.c - libFuzzer target for the IMAP response parser.  Besides
 * looking for crashes it requires that feeding the input whole, byte by
 * byte and in uneven pieces gives exactly the same events (STYLE.md 12).
 * Small limits make the limit paths reachable.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../unit/test_imap_replay.h"

static void
fuzz_imap_compare(const struct ms_buf *a, const struct ms_buf *b,
    const char *how)
{
	if (a->len == b->len && memcmp(a->p, b->p, a->len) == 0)
		return;
	fprintf(stderr, "fuzz_imap: %s feed differs\n--- whole\n%s\n--- %s\n"
	    "%s\n", how, (const char *)a->p, how, (const char *)b->p);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_params pp;
	struct ms_buf whole, other;
	size_t *splits, nsplits = 0, step;

	imap_parser_params_default(&pp);
	pp.expect_greeting = false;
	pp.max_line = 2048;
	pp.max_response = 8192;
	pp.max_literal = 1 << 20;
	pp.max_inline_literal = 512;
	pp.max_depth = 8;
	pp.max_list_items = 128;

	imap_replay_run(&pp, data, size, NULL, 0, &whole);
	splits = malloc((size + 1) * sizeof(*splits));
	if (splits == NULL)
		abort();
	if (size <= 4096) {
		for (size_t i = 1; i < size; i++)
			splits[nsplits++] = i;
		imap_replay_run(&pp, data, size, splits, nsplits, &other);
		fuzz_imap_compare(&whole, &other, "byte-at-a-time");
		ms_buf_deinit(&other);
	}
	/* Uneven pieces whose sizes depend on the input itself. */
	nsplits = 0;
	step = size > 0 ? 1 + data[0] % 13 : 1;
	for (size_t i = step; i < size; i += step + (i & 7))
		splits[nsplits++] = i;
	imap_replay_run(&pp, data, size, splits, nsplits, &other);
	fuzz_imap_compare(&whole, &other, "pieces");
	ms_buf_deinit(&other);
	free(splits);
	ms_buf_deinit(&whole);
	return 0;
}
