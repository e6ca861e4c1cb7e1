/*
 * fuzz_probe.c - libFuzzer target for the setup probe (proto/setup).
 *
 * Input: byte 0 picks the protocol (bits 0-1: IMAP, POP3, SMTP) and the
 * TLS mode (bit 2: STARTTLS), byte 1 is a split seed, the rest is what
 * the server sends; a "\x00TLS\x00" marker in it stands for the TLS
 * handshake: when the probe asks for TLS, the bytes up to the marker are
 * dropped (as the connection discards them) and probe_tls_done() is
 * called.  Fed whole and in seed-dependent pieces, the commands written,
 * the final state and the result must be identical; consumed never
 * exceeds what was offered and strings stay NUL-terminated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setup/probe.h"

static const uint8_t fuzz_tls_mark[] = { 0, 'T', 'L', 'S', 0 };

static void
fuzz_probe_ok(int rc)
{
	if (rc != MS_OK)
		abort();
}

static void
fuzz_probe_drain(struct probe *p, struct ms_buf *out)
{
	const uint8_t *q;
	size_t n;

	probe_out_peek(p, &q, &n);
	fuzz_probe_ok(ms_buf_append(out, q, n));
	probe_out_consume(p, n);
}

/* Runs the whole exchange with pieces of at most max bytes (0: whole). */
static void
fuzz_probe_run(uint8_t mode, unsigned seed, const uint8_t *data, size_t size,
    struct ms_buf *out)
{
	struct probe p;
	size_t off = 0;

	fuzz_probe_ok(probe_init(&p, (enum probe_proto)((mode & 3) % 3),
	    (mode & 4) ? PROBE_TLS_STARTTLS : PROBE_TLS_IMPLICIT, "fuzz"));
	for (unsigned guard = 0; off < size && guard < 100000; guard++) {
		size_t n = size - off, used = 0;

		if (probe_get_state(&p) == PROBE_WANT_TLS) {
			const uint8_t *m = memmem(data + off, size - off,
			    fuzz_tls_mark, sizeof(fuzz_tls_mark));

			if (m == NULL)
				break;
			off = (size_t)(m - data) + sizeof(fuzz_tls_mark);
			probe_tls_done(&p);
			fuzz_probe_drain(&p, out);
			continue;
		}
		if (seed != 0 && n > 1 + (seed + off) % 11)
			n = 1 + (seed + off) % 11;
		probe_feed(&p, data + off, n, &used);
		if (used > n)
			abort();
		off += used;
		fuzz_probe_drain(&p, out);
		/* Stuck before TLS or at the end: the rest is not fed. */
		if (used < n && probe_get_state(&p) != PROBE_WANT_TLS)
			break;
		if (probe_get_state(&p) == PROBE_DONE ||
		    probe_get_state(&p) == PROBE_FAILED)
			break;
	}
	probe_closed(&p, "EOF");
	{
		const struct probe_result *r = probe_get_result(&p);

		if (memchr(r->caps, '\0', sizeof(r->caps)) == NULL ||
		    memchr(r->mechs, '\0', sizeof(r->mechs)) == NULL ||
		    memchr(r->why, '\0', sizeof(r->why)) == NULL)
			abort();
		fuzz_probe_ok(ms_buf_printf(out, "|%s|%d%d%d|%s|%s|%s",
		    probe_state_name(probe_get_state(&p)), r->has_starttls,
		    r->is_login_disabled, r->has_user, r->caps, r->mechs,
		    r->why));
	}
	probe_deinit(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_buf whole, split;
	uint8_t mode;
	unsigned seed;

	if (size < 2)
		return 0;
	mode = data[0];
	seed = data[1] | 1u;
	ms_buf_init(&whole, 1u << 24);
	ms_buf_init(&split, 1u << 24);
	fuzz_probe_run(mode, 0, data + 2, size - 2, &whole);
	fuzz_probe_run(mode, seed, data + 2, size - 2, &split);
	if (whole.len != split.len || memcmp(whole.p, split.p, whole.len) != 0)
		abort();
	ms_buf_deinit(&whole);
	ms_buf_deinit(&split);
	return 0;
}
