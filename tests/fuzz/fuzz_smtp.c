/*
 * fuzz_smtp.c - libFuzzer target for the SMTP client core and the DATA
 * encoder.
 *
 * Input: byte 0 picks the commands built after the greeting (each bit one
 * of EHLO, AUTH, MAIL, RCPT, DATA, STARTTLS, NOOP, QUIT, in that order),
 * byte 1 is a split seed, the rest is what the server sends.  Fed whole,
 * one byte at a time and in seeded pieces, the replies must be identical.
 * The same bytes also go through the DATA encoder whole and in seeded
 * pieces: the output must be identical, contain only CRLF line ends, never
 * a line "." before the end, and unstuff to the input with its line ends
 * normalised.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_client.h"


/* The buffers are far larger than any fuzz input needs. */
static void
fuzz_ok(int rc)
{
	if (rc != MS_OK)
		abort();
}

static void
fuzz_smtp_build(struct smtp_client *c, uint8_t which)
{
	struct ms_slice ir = MS_SLICE_LIT("AGEAYg==");
	int rc = MS_OK;

	for (int bit = 0; bit < 8 && rc == MS_OK; bit++) {
		if (!(which & (1u << bit)))
			continue;
		switch (bit) {
		case 0: rc = smtp_cmd_ehlo(c, "client.test"); break;
		case 1: rc = smtp_cmd_auth(c, "PLAIN", &ir); break;
		case 2: rc = smtp_cmd_mail(c, MS_SLICE_LIT("a@b"), NULL); break;
		case 3: rc = smtp_cmd_rcpt(c, MS_SLICE_LIT("c@d"), NULL); break;
		case 4: rc = smtp_cmd_data(c); break;
		case 5: rc = smtp_cmd_starttls(c); break;
		case 6: rc = smtp_cmd_noop(c); break;
		default: rc = smtp_cmd_quit(c); break;
		}
	}
}

static size_t
fuzz_step(size_t i, uint8_t seed, int how)
{
	if (how == 0)
		return SIZE_MAX;
	if (how == 1)
		return 1;
	return 1 + (size_t)((seed * 31u + i * 17u) % 13u);
}

static void
fuzz_smtp_run(const uint8_t *data, size_t size, uint8_t which, uint8_t seed,
    int how, struct ms_buf *out)
{
	struct smtp_client_params p = { .max_line = 64, .max_reply = 200,
	    .max_output = 4096 };
	struct smtp_client c;
	struct smtp_event ev;
	bool built = false;
	size_t off = 0, piece = 0;

	if (smtp_client_init(&c, &p) != MS_OK)
		abort();
	while (off < size) {
		size_t n = fuzz_step(piece++, seed, how), end, used = 0;
		int rc;

		if (n > size - off)
			n = size - off;
		end = off + n;
		while (off < end) {
			rc = smtp_client_feed(&c, data + off, end - off, &used);
			if (used > end - off)
				abort();
			off += used;
			while (smtp_client_next_event(&c, &ev) == MS_OK) {
				if (ev.text.len > 200 || ev.code < 200 ||
				    ev.code > 599)
					abort();
				fuzz_ok(ms_buf_printf(out, "%d %s %d %d.%d.%d "
				    "[%.*s] %#x\n", (int)ev.type,
				    smtp_cmd_name(ev.cmd), ev.code,
				    ev.has_enhanced ? ev.enh_class : -1,
				    ev.enh_subject, ev.enh_detail,
				    (int)ev.text.len, (const char *)ev.text.p,
				    c.exts));
			}
			if (!built && c.state == SMTP_CLIENT_READY) {
				fuzz_smtp_build(&c, which);
				built = true;
			}
			if (rc < 0) {
				fuzz_ok(ms_buf_printf(out, "ERR %d\n", rc));
				goto done;
			}
			if (used == 0 && rc != MS_OK)
				abort();
		}
	}
done:
	if (strlen(c.auth_mechs) > SMTP_MAX_AUTH_MECHS)
		abort();
	smtp_client_deinit(&c);
}

static void
fuzz_smtp_encode(const uint8_t *data, size_t size, uint8_t seed, int how,
    struct ms_buf *out)
{
	struct smtp_data_enc e;
	size_t off = 0, piece = 0;

	smtp_data_enc_init(&e);
	while (off < size) {
		size_t n = fuzz_step(piece++, seed, how);

		if (n > size - off)
			n = size - off;
		if (smtp_data_enc_feed(&e, out, data + off, n) != MS_OK)
			abort();
		off += n;
	}
	if (smtp_data_enc_finish(&e, out) != MS_OK)
		abort();
}

/* Unstuffs enc and compares with data whose line ends are normalised. */
static void
fuzz_smtp_check_encoding(const uint8_t *data, size_t size,
    const struct ms_buf *enc)
{
	struct ms_buf norm, back;
	size_t i = 0;

	ms_buf_init(&norm, 1u << 22);
	ms_buf_init(&back, 1u << 22);
	for (size_t k = 0; k < size; k++) {
		if (data[k] == '\r' || data[k] == '\n') {
			fuzz_ok(ms_buf_append(&norm, "\r\n", 2));
			if (data[k] == '\r' && k + 1 < size &&
			    data[k + 1] == '\n')
				k++;
		} else {
			fuzz_ok(ms_buf_append(&norm, &data[k], 1));
		}
	}
	if (norm.len > 0 && (norm.len < 2 || norm.p[norm.len - 1] != '\n'))
		fuzz_ok(ms_buf_append(&norm, "\r\n", 2));
	while (i < enc->len) {
		const uint8_t *p = enc->p + i;
		const uint8_t *lf = memchr(p, '\n', enc->len - i);
		size_t n;

		if (lf == NULL || lf == p || lf[-1] != '\r')
			abort();	/* every line ends in CRLF */
		n = (size_t)(lf - p) + 1;
		if (n == 3 && p[0] == '.') {
			if (i + n != enc->len)
				abort();	/* "." only at the end */
			break;
		}
		if (p[0] == '.') {
			if (n < 4 || p[1] != '.')
				abort();	/* a leading dot is doubled */
			p++;
			n--;
		}
		fuzz_ok(ms_buf_append(&back, p, n));
		i = (size_t)(lf - enc->p) + 1;
	}
	if (back.len != norm.len ||
	    (back.len > 0 && memcmp(back.p, norm.p, back.len) != 0))
		abort();
	ms_buf_deinit(&norm);
	ms_buf_deinit(&back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_buf whole, other;

	if (size < 2)
		return 0;
	ms_buf_init(&whole, 1u << 22);
	ms_buf_init(&other, 1u << 22);
	for (int how = 0; how < 3; how++) {
		struct ms_buf *b = how == 0 ? &whole : &other;

		ms_buf_reset(b);
		fuzz_smtp_run(data + 2, size - 2, data[0], data[1], how, b);
		if (how > 0 && (whole.len != other.len || (whole.len > 0 &&
		    memcmp(whole.p, other.p, whole.len) != 0))) {
			fprintf(stderr, "fuzz_smtp: feed %d differs\n", how);
			abort();
		}
	}
	for (int how = 0; how < 3; how++) {
		struct ms_buf *b = how == 0 ? &whole : &other;

		ms_buf_reset(b);
		fuzz_smtp_encode(data + 2, size - 2, data[1], how, b);
		if (how > 0 && (whole.len != other.len || (whole.len > 0 &&
		    memcmp(whole.p, other.p, whole.len) != 0))) {
			fprintf(stderr, "fuzz_smtp: encoding %d differs\n",
			    how);
			abort();
		}
	}
	fuzz_smtp_check_encoding(data + 2, size - 2, &whole);
	ms_buf_deinit(&whole);
	ms_buf_deinit(&other);
	return 0;
}
