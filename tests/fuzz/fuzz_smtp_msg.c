/*
 * fuzz_smtp_msg.c - libFuzzer target for what sending reads of untrusted
 * bytes: a spool file's envelope (smtp_spool_decode, the daemon reads
 * files another process wrote), the message's header fields, every
 * field's address list, and the CRLF conversion.  Checks: bounds, and
 * that every address returned is a valid SMTP path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_msg.h"
#include "smtp/smtp_spool.h"

static void
fuzz_check_addrs(const struct ms_buf *b)
{
	const uint8_t *p, *end;

	/* An empty list may have no buffer at all: NULL + 0 is undefined. */
	if (b->p == NULL || b->len == 0)
		return;
	p = b->p;
	end = b->p + b->len;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL ||
		    !smtp_addr_is_valid((struct ms_slice){ p,
					(size_t)(nl - p) }))
			abort();
		p = nl + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_slice in = { data, size };
	struct smtp_spool_head h;
	struct smtp_msg_field f;
	struct ms_buf rcpts, out;
	const char *why;
	size_t pos = 0, n;

	ms_buf_init(&rcpts, 1 << 16);
	if (smtp_spool_decode(in, &h, &rcpts, &why) == MS_OK) {
		if (h.body_off > size || h.n_rcpts == 0)
			abort();
		in = (struct ms_slice){ data + h.body_off, size - h.body_off };
	}
	ms_buf_deinit(&rcpts);
	ms_buf_init(&out, 1 << 16);
	while (smtp_msg_next_field(in, &pos, &f)) {
		if (pos > in.len || f.raw.p + f.raw.len > in.p + in.len)
			abort();
		ms_buf_reset(&out);
		if (smtp_addr_list_parse(f.value, &out, &n) == MS_OK)
			fuzz_check_addrs(&out);
	}
	if (smtp_msg_header_end(in) != pos)
		abort();
	ms_buf_deinit(&out);
	ms_buf_init(&out, 2 * size + 2);
	if (smtp_msg_crlf(in, &out) != MS_OK)
		abort();
	for (size_t i = 0; i < out.len; i++)
		if (out.p[i] == '\n' && (i == 0 || out.p[i - 1] != '\r'))
			abort();
	ms_buf_deinit(&out);
	return 0;
}
