/* ms.c - result names, error detail, slices and the bounded buffer. */
#include "ms.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
ms_strerror(int code)
{
	switch (code) {
	case MS_OK: return "OK";
	case MS_AGAIN: return "AGAIN";
	case MS_EINTERNAL: return "EINTERNAL";
	case MS_ENOMEM: return "ENOMEM";
	case MS_ETOOBIG: return "ETOOBIG";
	case MS_ECONN: return "ECONN";
	case MS_ETIMEDOUT: return "ETIMEDOUT";
	case MS_ETLS: return "ETLS";
	case MS_EPROTO: return "EPROTO";
	case MS_EIMPL: return "EIMPL";
	case MS_ERESP: return "ERESP";
	case MS_ESTORE: return "ESTORE";
	case MS_ECONFIG: return "ECONFIG";
	case MS_ECANCELED: return "ECANCELED";
	case MS_EINVAL: return "EINVAL";
	case MS_EAUTH: return "EAUTH";
	case MS_EIO: return "EIO";
	}
	return "EUNKNOWN";
}

int
ms_err_set(struct ms_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

struct ms_slice
ms_slice_from_cstr(const char *s)
{
	return (struct ms_slice){ (const uint8_t *)s, strlen(s) };
}

bool
ms_slice_eq_cstr(struct ms_slice s, const char *cstr)
{
	size_t n = strlen(cstr);

	return s.len == n && (n == 0 || memcmp(s.p, cstr, n) == 0);
}

static int
ms_ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

bool
ms_slice_case_eq_cstr(struct ms_slice s, const char *cstr)
{
	size_t n = strlen(cstr);

	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ms_ascii_lower(s.p[i]) !=
		    ms_ascii_lower((unsigned char)cstr[i]))
			return false;
	return true;
}

void
ms_buf_init(struct ms_buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
ms_buf_deinit(struct ms_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void
ms_buf_reset(struct ms_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

/* Makes room for len + extra + 1 (NUL) bytes, doubling to amortise. */
static int
ms_buf_reserve(struct ms_buf *b, size_t extra)
{
	size_t need, ncap;
	uint8_t *np;

	if (extra > b->max - b->len)
		return MS_ETOOBIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return MS_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	np = realloc(b->p, ncap);
	if (np == NULL)
		return MS_ENOMEM;
	b->p = np;
	b->cap = ncap;
	return MS_OK;
}

int
ms_buf_append(struct ms_buf *b, const void *p, size_t len)
{
	int rc = ms_buf_reserve(b, len);

	if (rc != MS_OK)
		return rc;
	if (len > 0)
		memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
	return MS_OK;
}

int
ms_buf_append_cstr(struct ms_buf *b, const char *s)
{
	return ms_buf_append(b, s, strlen(s));
}

int
ms_buf_printf(struct ms_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MS_EINTERNAL;
	rc = ms_buf_reserve(b, (size_t)n);
	if (rc != MS_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return MS_OK;
}

void
ms_buf_consume(struct ms_buf *b, size_t n)
{
	if (n >= b->len) {
		ms_buf_reset(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = '\0';
}

uint8_t *
ms_buf_take(struct ms_buf *b, size_t *len_r)
{
	uint8_t *p = b->p;

	if (len_r != NULL)
		*len_r = b->len;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void
ms_buf_wipe(struct ms_buf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->cap);
	ms_buf_reset(b);
}

int
ms_buf_append_wipe_free(struct ms_buf *b, uint8_t *tmp, size_t tmp_size,
	size_t len)
{
	int rc = ms_buf_append(b, tmp, len);

	explicit_bzero(tmp, tmp_size);
	free(tmp);
	return rc;
}

size_t
ms_utf8_put(uint32_t cp, uint8_t u[4])
{
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | (cp >> 6));
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | (cp >> 12));
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (uint8_t)(0xf0 | (cp >> 18));
	u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	u[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}
