/* imap_utf7.c - modified UTF-7 encoding and strict decoding. */
#include "imap/imap_utf7.h"

#include "common/base64.h"

static const char imap_utf7_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* The modified alphabet has "," where RFC 4648 has "/". */
static int
imap_utf7_b64_value(uint8_t c)
{
	if (c == '/')
		return -1;
	return c == ',' ? 63 : ms_base64_value(c);
}

/* Decodes one UTF-8 sequence at s[*i]; returns the code point or -1. */
static int32_t
imap_utf7_next_cp(struct ms_slice s, size_t *i)
{
	uint8_t c = s.p[*i];
	int32_t cp, min;
	size_t n;

	if (c < 0x80) {
		(*i)++;
		return c;
	} else if ((c & 0xe0) == 0xc0) {
		n = 1;
		cp = c & 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2;
		cp = c & 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if (s.len - *i <= n)
		return -1;
	for (size_t k = 1; k <= n; k++) {
		if ((s.p[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s.p[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	return cp;
}

struct imap_utf7_bits {
	uint32_t acc;
	unsigned nbits;
};

static int
imap_utf7_put16(struct ms_buf *out, struct imap_utf7_bits *b, uint32_t u)
{
	int rc;

	b->acc = (b->acc << 16) | u;
	b->nbits += 16;
	while (b->nbits >= 6) {
		b->nbits -= 6;
		if ((rc = ms_buf_append(out,
		    &imap_utf7_b64[(b->acc >> b->nbits) & 0x3f], 1)) != MS_OK)
			return rc;
	}
	return MS_OK;
}

/* Ends a base64 run: the last bits zero-padded, then "-". */
static int
imap_utf7_flush(struct ms_buf *out, struct imap_utf7_bits *b)
{
	int rc = MS_OK;

	if (b->nbits > 0)
		rc = ms_buf_append(out,
		    &imap_utf7_b64[(b->acc << (6 - b->nbits)) & 0x3f], 1);
	b->nbits = 0;
	return rc == MS_OK ? ms_buf_append(out, "-", 1) : rc;
}

int
imap_utf7_encode(struct ms_slice utf8, struct ms_buf *out)
{
	size_t start = out->len, i = 0;
	bool in_b64 = false;
	struct imap_utf7_bits b = { 0, 0 };
	int32_t cp;
	int rc = MS_OK;

	while (i < utf8.len && rc == MS_OK) {
		cp = imap_utf7_next_cp(utf8, &i);
		if (cp <= 0) {
			rc = MS_EINVAL;
			break;
		}
		if (cp >= 0x20 && cp <= 0x7e) {
			if (in_b64)
				rc = imap_utf7_flush(out, &b);
			in_b64 = false;
			if (rc == MS_OK && cp == '&') {
				rc = ms_buf_append(out, "&-", 2);
			} else if (rc == MS_OK) {
				uint8_t ch = (uint8_t)cp;

				rc = ms_buf_append(out, &ch, 1);
			}
			continue;
		}
		if (!in_b64) {
			rc = ms_buf_append(out, "&", 1);
			in_b64 = true;
		}
		if (rc == MS_OK && cp >= 0x10000) {
			/* Astral characters go as a UTF-16 surrogate pair. */
			cp -= 0x10000;
			rc = imap_utf7_put16(out, &b, 0xd800 | (cp >> 10));
			cp = 0xdc00 | (cp & 0x3ff);
		}
		if (rc == MS_OK)
			rc = imap_utf7_put16(out, &b, (uint32_t)cp);
	}
	if (rc == MS_OK && in_b64)
		rc = imap_utf7_flush(out, &b);
	if (rc != MS_OK)
		out->len = start;
	if (out->p != NULL)
		out->p[out->len] = '\0';
	return rc;
}

static int
imap_utf7_put_cp(struct ms_buf *out, uint32_t cp)
{
	uint8_t u[4];

	return ms_buf_append(out, u, ms_utf8_put(cp, u));
}

/* Decodes the base64 run s.p[*i] up to "-"; *i ends after the "-". */
static int
imap_utf7_decode_run(struct ms_slice s, size_t *i, struct ms_buf *out)
{
	uint32_t acc = 0, hi = 0;
	unsigned nbits = 0;
	size_t n = 0;
	int v, rc;

	for (; *i < s.len && s.p[*i] != '-'; (*i)++, n++) {
		if ((v = imap_utf7_b64_value(s.p[*i])) < 0)
			return MS_EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t u = (acc >> nbits) & 0xffff;

		if (hi != 0) {
			if (u < 0xdc00 || u > 0xdfff)
				return MS_EINVAL;
			u = 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00);
			hi = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			hi = u;
			continue;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			return MS_EINVAL;
		} else if (u >= 0x20 && u <= 0x7e) {
			/* Printable ASCII must not be encoded. */
			return MS_EINVAL;
		} else if (u == 0) {
			return MS_EINVAL;
		}
		if ((rc = imap_utf7_put_cp(out, u)) != MS_OK)
			return rc;
	}
	/* Unterminated, empty, a dangling surrogate or non-zero padding. */
	if (*i == s.len || n == 0 || hi != 0 || nbits >= 6 ||
	    (acc & ((1u << nbits) - 1)) != 0)
		return MS_EINVAL;
	(*i)++;
	return MS_OK;
}

int
imap_utf7_decode(struct ms_slice mutf7, struct ms_buf *out)
{
	size_t start = out->len, i = 0;
	bool after_run = false;
	int rc = MS_OK;

	while (i < mutf7.len && rc == MS_OK) {
		uint8_t c = mutf7.p[i];

		if (c < 0x20 || c > 0x7e) {
			rc = MS_EINVAL;
		} else if (c != '&') {
			rc = ms_buf_append(out, &c, 1);
			i++;
			after_run = false;
		} else if (i + 1 < mutf7.len && mutf7.p[i + 1] == '-') {
			rc = ms_buf_append(out, "&", 1);
			i += 2;
			after_run = false;
		} else if (after_run) {
			/* "&AOQ-&AOQ-" must have been one run. */
			rc = MS_EINVAL;
		} else {
			i++;
			rc = imap_utf7_decode_run(mutf7, &i, out);
			after_run = true;
		}
	}
	if (rc != MS_OK)
		out->len = start;
	if (out->p != NULL)
		out->p[out->len] = '\0';
	return rc;
}
