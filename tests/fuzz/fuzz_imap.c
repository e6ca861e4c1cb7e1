/*
 * fuzz_imap.c - libFuzzer target for the IMAP response parser.  Besides
 * looking for crashes it requires that feeding the input whole, byte by
 * byte and in uneven pieces gives exactly the same events (STYLE.md 12).
 * Small limits make the limit paths reachable.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../unit/test_imap_replay.h"
#include "imap/imap_cmd.h"
#include "imap/imap_utf7.h"

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

/*
 * Modified UTF-7 has exactly one encoding per name: whatever decodes must
 * encode back to the same bytes, and whatever encodes must decode back.
 */
static void
fuzz_imap_utf7(const uint8_t *data, size_t size)
{
	struct ms_slice in = { data, size };
	struct ms_buf a, b;

	ms_buf_init(&a, 1 << 20);
	ms_buf_init(&b, 1 << 20);
	if (imap_utf7_decode(in, &a) == MS_OK) {
		if (imap_utf7_encode((struct ms_slice){ a.p, a.len }, &b) !=
		    MS_OK || b.len != size ||
		    (size > 0 && memcmp(b.p, data, size) != 0))
			abort();
	}
	ms_buf_reset(&a);
	ms_buf_reset(&b);
	if (imap_utf7_encode(in, &a) == MS_OK) {
		if (imap_utf7_decode((struct ms_slice){ a.p, a.len }, &b) !=
		    MS_OK || b.len != size ||
		    (size > 0 && memcmp(b.p, data, size) != 0))
			abort();
	}
	ms_buf_deinit(&a);
	ms_buf_deinit(&b);
}

/*
 * The client core over the same bytes, with a command whose arguments
 * are the input: exercises held literals, caps and STARTTLS handling.
 */
static void
fuzz_imap_client(const uint8_t *data, size_t size)
{
	struct imap_client c;
	struct imap_event ev;
	const uint8_t *p;
	size_t off = 0, n;
	int rc;

	if (imap_client_init(&c, NULL) != MS_OK)
		abort();
	/* Either may fail (bad input makes bad arguments); both is fine. */
	if (imap_cmd_login(&c, (struct ms_slice){ data, size / 2 },
	    (struct ms_slice){ data + size / 2, size - size / 2 }) < 0 ||
	    imap_cmd_starttls(&c) < 0)
		c.starttls_tag = 0;
	do {
		rc = imap_client_feed(&c, data + off, size - off, &n);
		off += n;
		while (imap_client_next_event(&c, &ev) == MS_OK)
			;
		if (imap_client_out_peek(&c, &p, &n) != MS_OK ||
		    n > c.out.len)
			abort();
		imap_client_out_consume(&c, n);
	} while (rc == MS_OK && off < size);
	imap_client_deinit(&c);
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
	splits = calloc(size + 1, sizeof(*splits));
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
	fuzz_imap_utf7(data, size);
	fuzz_imap_client(data, size);
	return 0;
}
