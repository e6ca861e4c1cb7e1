/* base64.c - strict RFC 4648 base64. */
#include "common/base64.h"

#include <stdlib.h>
#include <string.h>

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
ms_base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t
ms_base64_decoded_max(size_t n)
{
	return n / 4 * 3;
}

int
ms_base64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Both directions work in a temporary buffer of the exact size and append
 * it in one go; the temporary is wiped because SASL pushes passwords
 * through here.
 */
int
ms_base64_encode(struct ms_buf *out, const void *p, size_t len)
{
	const uint8_t *in = p;
	size_t olen, o = 0;
	uint8_t *tmp;

	if (len > (SIZE_MAX - 3) / 4 * 3 - 3)
		return MS_ETOOBIG;
	olen = ms_base64_encoded_len(len);
	if (olen > out->max - out->len)
		return MS_ETOOBIG;
	tmp = malloc(olen + 1);
	if (tmp == NULL)
		return MS_ENOMEM;
	for (size_t i = 0; i < len; i += 3) {
		size_t n = len - i < 3 ? len - i : 3;
		uint32_t v = (uint32_t)in[i] << 16;

		if (n > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (n > 2)
			v |= in[i + 2];
		/* n input bytes give n + 1 characters, "=" pads to four. */
		for (size_t k = 0; k < 4; k++)
			tmp[o++] = k <= n ? (uint8_t)base64_alphabet[
			    (v >> (18 - 6 * k)) & 63] : '=';
	}
	return ms_buf_append_wipe_free(out, tmp, olen + 1, o);
}

int
ms_base64_decode(struct ms_buf *out, const void *p, size_t len)
{
	const uint8_t *in = p;
	size_t pad = 0, olen, o = 0;
	uint8_t *tmp;

	if (len == 0)
		return MS_OK;
	if (len % 4 != 0)
		return MS_EPROTO;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	olen = len / 4 * 3 - pad;
	if (olen > out->max - out->len)
		return MS_ETOOBIG;
	tmp = malloc(olen + 1);
	if (tmp == NULL)
		return MS_ENOMEM;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		bool last = i + 4 == len;
		size_t n = last ? 4 - pad : 4;
		uint32_t w = 0;

		/* "=" is only valid in the final group; the loop below sees
		 * it as a bad character anywhere else. */
		for (size_t k = 0; k < 4; k++) {
			v[k] = k < n ? ms_base64_value(in[i + k]) : 0;
			if (v[k] < 0)
				goto bad;
			w = w << 6 | (uint32_t)v[k];
		}
		tmp[o++] = (uint8_t)(w >> 16);
		if (n >= 3)
			tmp[o++] = (uint8_t)(w >> 8);
		if (n == 4)
			tmp[o++] = (uint8_t)w;
		/* Non-canonical encodings (bits set under the padding) are
		 * rejected so that one byte string has one encoding. */
		if ((n == 2 && (w & 0xffff) != 0) ||
		    (n == 3 && (w & 0xff) != 0))
			goto bad;
	}
	return ms_buf_append_wipe_free(out, tmp, olen + 1, o);
bad:
	explicit_bzero(tmp, olen + 1);
	free(tmp);
	return MS_EPROTO;
}
