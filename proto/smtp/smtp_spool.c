/*
 * smtp_spool.c - the spool file's envelope (smtp_spool.h).
 */
#include "smtp/smtp_spool.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#define SMTP_SPOOL_MAGIC "mailsync-spool "

static bool
smtp_spool_value_ok(const char *s, size_t len)
{
	if (len > SMTP_SPOOL_MAX_VALUE)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((uint8_t)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

int
smtp_spool_encode(const struct smtp_spool_env *e, struct ms_buf *out)
{
	size_t old_len = out->len, n = 0;
	const char *p = e->rcpts;
	int rc;

	if (e->account == NULL || e->account[0] == '\0' ||
	    !smtp_spool_value_ok(e->account, strlen(e->account)) ||
	    e->from == NULL || !smtp_spool_value_ok(e->from, strlen(e->from)))
		return MS_EINVAL;
	rc = ms_buf_printf(out, SMTP_SPOOL_MAGIC "%d\naccount %s\nfrom %s\n",
			   SMTP_SPOOL_VERSION, e->account, e->from);
	while (rc == MS_OK && p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (len > 0) {
			if (!smtp_spool_value_ok(p, len)) {
				rc = MS_EINVAL;
				break;
			}
			rc = ms_buf_printf(out, "rcpt %.*s\n", (int)len, p);
			n++;
		}
		p += len + (nl != NULL);
	}
	if (rc == MS_OK && n == 0)
		rc = MS_EINVAL;
	if (rc == MS_OK)
		rc = ms_buf_printf(out, "created %" PRId64 "\n\n", e->created);
	if (rc != MS_OK) {
		out->len = old_len;
		if (out->p != NULL)
			out->p[old_len] = '\0';
	}
	return rc;
}

/* A decimal number without sign or leading junk; false on overflow. */
static bool
smtp_spool_number(struct ms_slice v, uint64_t *n_r)
{
	uint64_t n = 0;

	if (v.len == 0 || v.len > 19)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	*n_r = n;
	return true;
}

static int
smtp_spool_fail(const char **why_r, const char *why)
{
	*why_r = why;
	return MS_EPROTO;
}

int
smtp_spool_decode(struct ms_slice file, struct smtp_spool_head *h,
		  struct ms_buf *rcpts, const char **why_r)
{
	size_t pos = 0, mlen = sizeof(SMTP_SPOOL_MAGIC) - 1;
	bool has_account = false, has_from = false, has_created = false;
	uint64_t n;

	memset(h, 0, sizeof(*h));
	*why_r = "";
	if (file.len < mlen || memcmp(file.p, SMTP_SPOOL_MAGIC, mlen) != 0)
		return smtp_spool_fail(why_r, "not a mailsync spool file");
	for (;;) {
		const uint8_t *nl, *sp;
		struct ms_slice line, key, val;

		if (pos >= file.len || pos > SMTP_SPOOL_MAX_ENVELOPE)
			return smtp_spool_fail(why_r, "the envelope has no end");
		nl = memchr(file.p + pos, '\n', file.len - pos);
		if (nl == NULL)
			return smtp_spool_fail(why_r, "the envelope has no end");
		line = (struct ms_slice){ file.p + pos, (size_t)(nl - file.p) -
					  pos };
		pos += line.len + 1;
		if (line.len == 0)
			break;
		sp = memchr(line.p, ' ', line.len);
		if (sp == NULL)
			return smtp_spool_fail(why_r, "an envelope line without "
					       "a value");
		key = (struct ms_slice){ line.p, (size_t)(sp - line.p) };
		val = (struct ms_slice){ sp + 1, line.len - key.len - 1 };
		if (!smtp_spool_value_ok((const char *)val.p, val.len))
			return smtp_spool_fail(why_r, "a control character or "
					       "an over-long value in the "
					       "envelope");
		if (h->version == 0) {
			/* The first line: "mailsync-spool N". */
			if (!smtp_spool_number(val, &n) || n == 0)
				return smtp_spool_fail(why_r, "a bad version");
			if (n != SMTP_SPOOL_VERSION) {
				*why_r = "a spool format version this daemon "
					 "does not know (a newer mailsyncctl?)";
				return MS_EIMPL;
			}
			h->version = (unsigned)n;
		} else if (ms_slice_eq_cstr(key, "account")) {
			h->account = val;
			has_account = val.len > 0;
		} else if (ms_slice_eq_cstr(key, "from")) {
			h->from = val;
			has_from = true;
		} else if (ms_slice_eq_cstr(key, "rcpt")) {
			if (val.len == 0)
				return smtp_spool_fail(why_r, "an empty "
						       "recipient");
			if (ms_buf_append(rcpts, val.p, val.len) != MS_OK ||
			    ms_buf_append(rcpts, "\n", 1) != MS_OK)
				return MS_ETOOBIG;
			h->n_rcpts++;
		} else if (ms_slice_eq_cstr(key, "created")) {
			if (!smtp_spool_number(val, &n) || n > INT64_MAX)
				return smtp_spool_fail(why_r, "a bad creation "
						       "time");
			h->created = (int64_t)n;
			has_created = true;
		}
		/* Other keys: added compatibly by a later version. */
	}
	if (!has_account || !has_from || !has_created || h->n_rcpts == 0)
		return smtp_spool_fail(why_r, "the envelope lacks account, "
				       "from, created or a recipient");
	h->body_off = pos;
	return MS_OK;
}
