/*
 * fuzz_ctl.c - libFuzzer target for the control protocol decoder
 * (proto/ctl).
 *
 * Input: byte 0 picks the line bound (16 << (byte & 7)) and byte 1 is a
 * split seed; the rest is the stream.  It is fed whole, one byte at a
 * time and in pieces of seed-dependent sizes; the events (payload chunks
 * merged, since their boundaries follow the feed) and the error must be
 * identical.  Checked besides: consumed never exceeds what was offered,
 * a payload never exceeds its announcement, the decoder makes progress,
 * and every request decoded re-encodes into a line that decodes again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_proto.h"

static void
fuzz_ok(int rc)
{
	if (rc != MS_OK)
		abort();
}

/* A decoded request, encoded again, must decode to the same request. */
static void
fuzz_ctl_reencode(const struct ctl_msg *m)
{
	struct ctl_decoder_params p = { 0 };
	struct ctl_decoder d;
	struct ctl_event ev;
	struct ms_buf b;
	size_t used;

	ms_buf_init(&b, CTL_MAX_LINE_DEFAULT);
	if (ctl_encode_request(&b, m->id, m->cmd, m->args) != MS_OK)
		abort();
	fuzz_ok(ctl_decoder_init(&d, &p));
	if (ctl_decoder_feed(&d, b.p, b.len, &used) != MS_OK ||
	    used != b.len || ctl_decoder_next_event(&d, &ev) != MS_OK ||
	    ev.msg.type != CTL_MSG_REQUEST || ev.msg.id != m->id ||
	    strcmp(ev.msg.cmd, m->cmd) != 0 ||
	    !json_equal(ev.msg.args, m->args))
		abort();
	ctl_decoder_deinit(&d);
	ms_buf_deinit(&b);
}

static void
fuzz_ctl_render(struct ms_buf *out, const struct ctl_event *ev, bool *in_chunk,
		uint64_t *left)
{
	char *js;

	if (ev->type == CTL_EV_PAYLOAD) {
		if (ev->chunk.len == 0 || ev->chunk.len > *left)
			abort();
		*left -= ev->chunk.len;
		if (!*in_chunk)
			fuzz_ok(ms_buf_append(out, "P:", 2));
		*in_chunk = true;
		fuzz_ok(ms_buf_append(out, ev->chunk.p, ev->chunk.len));
		return;
	}
	*in_chunk = false;
	if (ev->type == CTL_EV_PAYLOAD_END) {
		if (*left != 0)
			abort();
		fuzz_ok(ms_buf_append(out, "\nEND\n", 5));
		return;
	}
	if (ev->msg.type == CTL_MSG_REQUEST)
		fuzz_ctl_reencode(&ev->msg);
	*left = ev->msg.has_payload ? ev->msg.payload_len : 0;
	js = json_dumps(ev->msg.root, JSON_COMPACT | JSON_SORT_KEYS);
	if (js == NULL)
		abort();
	fuzz_ok(ms_buf_printf(out, "\n%d %llu %s\n", (int)ev->msg.type,
			      (unsigned long long)ev->msg.id, js));
	free(js);
}

static void
fuzz_ctl_run(const uint8_t *data, size_t size, size_t max_line,
	     size_t (*step)(size_t i, uint8_t seed), uint8_t seed,
	     struct ms_buf *out)
{
	struct ctl_decoder_params p = { .max_line = max_line,
		.max_payload = 4096 };
	struct ctl_decoder d;
	struct ctl_event ev;
	bool in_chunk = false;
	uint64_t left = 0;
	size_t off = 0, piece = 0;

	fuzz_ok(ctl_decoder_init(&d, &p));
	while (off < size) {
		size_t n = step(piece++, seed), end, used = 0;
		int rc;

		if (n > size - off)
			n = size - off;
		end = off + n;
		while (off < end) {
			rc = ctl_decoder_feed(&d, data + off, end - off, &used);
			if (used > end - off)
				abort();
			off += used;
			while (ctl_decoder_next_event(&d, &ev) == MS_OK)
				fuzz_ctl_render(out, &ev, &in_chunk, &left);
			if (rc < 0) {
				fuzz_ok(ms_buf_printf(out, "\nERR %d\n", rc));
				goto done;
			}
			if (used == 0 && rc != MS_OK)
				abort();	/* stuck */
		}
	}
done:
	ctl_decoder_deinit(&d);
}

static size_t
fuzz_step_whole(size_t i, uint8_t seed)
{
	(void)i;
	(void)seed;
	return SIZE_MAX;
}

static size_t
fuzz_step_byte(size_t i, uint8_t seed)
{
	(void)i;
	(void)seed;
	return 1;
}

static size_t
fuzz_step_seeded(size_t i, uint8_t seed)
{
	return 1 + (size_t)((seed * 31u + i * 17u) % 13u);
}

static void
fuzz_ctl_compare(const struct ms_buf *a, const struct ms_buf *b,
		 const char *how)
{
	if (a->len == b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0))
		return;
	fprintf(stderr, "fuzz_ctl: %s feed differs\n", how);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_buf whole, other;
	size_t max_line;

	if (size < 2)
		return 0;
	max_line = (size_t)16 << (data[0] & 7);
	ms_buf_init(&whole, 1u << 22);
	ms_buf_init(&other, 1u << 22);
	fuzz_ctl_run(data + 2, size - 2, max_line, fuzz_step_whole, data[1],
		     &whole);
	fuzz_ctl_run(data + 2, size - 2, max_line, fuzz_step_byte, data[1],
		     &other);
	fuzz_ctl_compare(&whole, &other, "byte");
	ms_buf_reset(&other);
	fuzz_ctl_run(data + 2, size - 2, max_line, fuzz_step_seeded, data[1],
		     &other);
	fuzz_ctl_compare(&whole, &other, "seeded");
	ms_buf_deinit(&whole);
	ms_buf_deinit(&other);
	return 0;
}
