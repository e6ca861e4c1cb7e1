/*
 * fuzz_pop3.c - libFuzzer target for the POP3 client core.
 *
 * Input: byte 0 picks the commands built before the server speaks (each
 * bit one of CAPA, RETR, LIST, UIDL, AUTH, TOP, STLS, STAT, in that
 * order), byte 1 is a split seed, the rest is what the server sends (the
 * greeting first).  The input is fed whole, one byte at a time and in
 * pieces of seed-dependent sizes; the events (body chunks merged, since
 * their boundaries follow the feed) must be identical.  Checked besides:
 * consumed never exceeds what was offered, chunks never exceed max_chunk,
 * the core makes progress, and the output buffer stays bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_client.h"

#define FUZZ_MAX_CHUNK 7


/* The buffers are far larger than any fuzz input needs. */
static void
fuzz_ok(int rc)
{
	if (rc != MS_OK)
		abort();
}

static void
fuzz_pop3_render(struct ms_buf *out, const struct pop3_event *ev,
    bool *in_chunk)
{
	if (ev->type == POP3_EV_BODY_CHUNK) {
		if (ev->text.len == 0 || ev->text.len > FUZZ_MAX_CHUNK)
			abort();
		if (!*in_chunk)
			fuzz_ok(ms_buf_append(out, "B:", 2));
		*in_chunk = true;
		fuzz_ok(ms_buf_append(out, ev->text.p, ev->text.len));
		return;
	}
	*in_chunk = false;
	fuzz_ok(ms_buf_printf(out, "\n%d %s %d [%.*s] %.*s\n",
	    (int)ev->type, pop3_cmd_name(ev->cmd), ev->is_ok,
	    (int)ev->code.len, (const char *)ev->code.p, (int)ev->text.len,
	    (const char *)ev->text.p));
}

static void
fuzz_pop3_build(struct pop3_client *c, uint8_t which)
{
	struct ms_slice ir = MS_SLICE_LIT("AGEAYg==");
	int rc = MS_OK;

	for (int bit = 0; bit < 8 && rc == MS_OK; bit++) {
		if (!(which & (1u << bit)))
			continue;
		switch (bit) {
		case 0: rc = pop3_cmd_capa(c); break;
		case 1: rc = pop3_cmd_retr(c, 1); break;
		case 2: rc = pop3_cmd_list(c, 0); break;
		case 3: rc = pop3_cmd_uidl(c, 0); break;
		case 4: rc = pop3_cmd_auth(c, "PLAIN", &ir); break;
		case 5: rc = pop3_cmd_top(c, 2, 0); break;
		case 6: rc = pop3_cmd_stls(c); break;
		default: rc = pop3_cmd_stat(c); break;
		}
	}
}

/*
 * Feeds data in pieces of the sizes step() gives and renders the events
 * into out.  Commands are built once the greeting arrived.
 */
static void
fuzz_pop3_run(const uint8_t *data, size_t size, uint8_t which,
    size_t (*step)(size_t i, uint8_t seed), uint8_t seed, struct ms_buf *out)
{
	struct pop3_client_params p = { .max_line = 64,
	    .max_chunk = FUZZ_MAX_CHUNK, .max_output = 4096 };
	struct pop3_client c;
	struct pop3_event ev;
	bool built = false, in_chunk = false;
	size_t off = 0, piece = 0;

	if (pop3_client_init(&c, &p) != MS_OK)
		abort();
	while (off < size) {
		size_t n = step(piece++, seed), end, used = 0;
		int rc;

		if (n > size - off)
			n = size - off;
		end = off + n;
		while (off < end) {
			rc = pop3_client_feed(&c, data + off, end - off, &used);
			if (used > end - off)
				abort();
			off += used;
			while (pop3_client_next_event(&c, &ev) == MS_OK)
				fuzz_pop3_render(out, &ev, &in_chunk);
			if (!built && c.state == POP3_CLIENT_READY) {
				fuzz_pop3_build(&c, which);
				built = true;
			}
			if (rc < 0) {
				fuzz_ok(ms_buf_printf(out, "\nERR %d\n", rc));
				goto done;
			}
			/* No event pending and nothing taken: a stuck core. */
			if (used == 0 && rc != MS_OK)
				abort();
		}
	}
done:
	if (c.out.len > 4096)
		abort();
	pop3_client_deinit(&c);
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
fuzz_pop3_compare(const struct ms_buf *a, const struct ms_buf *b,
    const char *how)
{
	if (a->len == b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0))
		return;
	fprintf(stderr, "fuzz_pop3: %s feed differs\n", how);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_buf whole, other;

	if (size < 2)
		return 0;
	ms_buf_init(&whole, 1u << 22);
	ms_buf_init(&other, 1u << 22);
	fuzz_pop3_run(data + 2, size - 2, data[0], fuzz_step_whole, data[1],
	    &whole);
	fuzz_pop3_run(data + 2, size - 2, data[0], fuzz_step_byte, data[1],
	    &other);
	fuzz_pop3_compare(&whole, &other, "byte");
	ms_buf_reset(&other);
	fuzz_pop3_run(data + 2, size - 2, data[0], fuzz_step_seeded, data[1],
	    &other);
	fuzz_pop3_compare(&whole, &other, "seeded");
	ms_buf_deinit(&whole);
	ms_buf_deinit(&other);
	return 0;
}
