/*
 * maildir_path.c - server folder name <-> mirror path (see maildir_path.h).
 */
#include <string.h>
#include <strings.h>

#include "maildir/maildir_path.h"

#define MAILDIR_PATH_COMPONENT_MAX 255

static bool
maildir_path_ieq(const char *p, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(p, word, len) == 0;
}

static bool
maildir_path_is_reserved(const char *p, size_t len, bool is_top)
{
	return maildir_path_ieq(p, len, "cur") || maildir_path_ieq(p, len, "new") ||
	       maildir_path_ieq(p, len, "tmp") ||
	       (is_top && maildir_path_ieq(p, len, "inbox"));
}

static bool
maildir_path_must_escape(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '/' || c == '%';
}

/* Appends one escaped component (raw bytes p, len) to out. */
static int
maildir_path_encode_component(const char *p, size_t len, bool is_top,
			      struct ms_buf *out, struct ms_err *err_r)
{
	static const char hex[] = "0123456789ABCDEF";
	bool first_escaped = len > 0 &&
		(p[0] == '.' || maildir_path_is_reserved(p, len, is_top));
	size_t start = out->len;
	int rc = MS_OK;

	if (len == 0)
		return ms_err_set(err_r, MS_EINVAL, "empty folder name component");
	for (size_t i = 0; i < len && rc == MS_OK; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((i == 0 && first_escaped) || maildir_path_must_escape(c)) {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };

			rc = ms_buf_append(out, esc, 3);
		} else {
			rc = ms_buf_append(out, &p[i], 1);
		}
	}
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "mirror path too long");
	if (out->len - start > MAILDIR_PATH_COMPONENT_MAX)
		return ms_err_set(err_r, MS_EINVAL,
				  "folder name component longer than %d bytes",
				  MAILDIR_PATH_COMPONENT_MAX);
	return MS_OK;
}

int
maildir_path_from_server(const struct maildir_path_ns *ns, const char *name,
			 size_t len, struct ms_buf *out, struct ms_err *err_r)
{
	const char *prefix = ns->prefix != NULL ? ns->prefix : "";
	size_t plen = strlen(prefix);
	size_t i, start;
	int rc;

	if (maildir_path_ieq(name, len, "inbox"))
		return MS_OK;
	/* A prefix without its trailing delimiter still means "prefix.". */
	if (plen > 0 && ns->delim != 0 && prefix[plen - 1] != ns->delim) {
		if (len <= plen || memcmp(name, prefix, plen) != 0 ||
		    name[plen] != ns->delim)
			goto outside;
		plen++;
	} else if (plen > 0) {
		if (len <= plen || memcmp(name, prefix, plen) != 0)
			goto outside;
	}
	name += plen;
	len -= plen;
	if (len == 0)
		return ms_err_set(err_r, MS_EINVAL, "empty folder name");

	for (i = 0, start = 0; i <= len; i++) {
		if (i < len && (ns->delim == 0 || name[i] != ns->delim))
			continue;
		if (start > 0 && (rc = ms_buf_append(out, "/", 1)) != MS_OK)
			return ms_err_set(err_r, rc, "mirror path too long");
		rc = maildir_path_encode_component(name + start, i - start,
						   start == 0, out, err_r);
		if (rc != MS_OK)
			return rc;
		start = i + 1;
	}
	return MS_OK;

outside:
	return ms_err_set(err_r, MS_EINVAL,
			  "folder \"%.*s\" is outside the personal namespace \"%s\"",
			  (int)(len > 100 ? 100 : len), name, prefix);
}

static int
maildir_path_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes one component into out, then checks it encodes back to itself. */
static int
maildir_path_decode_component(const struct maildir_path_ns *ns, const char *p,
			      size_t len, bool is_top, struct ms_buf *out,
			      struct ms_err *err_r)
{
	size_t start = out->len;
	struct ms_buf check;
	int rc = MS_OK;

	if (len == 0)
		return ms_err_set(err_r, MS_EINVAL, "empty mirror path component");
	for (size_t i = 0; i < len && rc == MS_OK; i++) {
		char c = p[i];

		if (c == '%') {
			int hi = i + 2 < len ? maildir_path_hexval(p[i + 1]) : -1;
			int lo = i + 2 < len ? maildir_path_hexval(p[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return ms_err_set(err_r, MS_EINVAL,
						  "bad %% escape in \"%.*s\"",
						  (int)len, p);
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (ns->delim != 0 && c == ns->delim)
			return ms_err_set(err_r, MS_EINVAL,
					  "\"%.*s\" holds the hierarchy delimiter",
					  (int)len, p);
		rc = ms_buf_append(out, &c, 1);
	}
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "folder name too long");

	ms_buf_init(&check, MAILDIR_PATH_COMPONENT_MAX + 1);
	rc = maildir_path_encode_component((const char *)out->p + start,
					   out->len - start, is_top, &check, NULL);
	if (rc == MS_OK && (check.len != len || memcmp(check.p, p, len) != 0))
		rc = MS_EINVAL;
	ms_buf_deinit(&check);
	if (rc != MS_OK)
		return ms_err_set(err_r, MS_EINVAL,
				  "\"%.*s\" is not a canonical mirror name",
				  (int)len, p);
	return MS_OK;
}

int
maildir_path_to_server(const struct maildir_path_ns *ns, const char *path,
		       size_t len, struct ms_buf *out, struct ms_err *err_r)
{
	const char *prefix = ns->prefix != NULL ? ns->prefix : "";
	size_t plen = strlen(prefix);
	size_t base = out->len;
	size_t i, start;
	int rc;

	if (len == 0) {
		rc = ms_buf_append_cstr(out, "INBOX");
		return rc != MS_OK ? ms_err_set(err_r, rc, "name too long") : MS_OK;
	}
	if (ns->delim == 0 && memchr(path, '/', len) != NULL)
		return ms_err_set(err_r, MS_EINVAL,
				  "nested folder on a server without hierarchy");
	if ((rc = ms_buf_append(out, prefix, plen)) == MS_OK && plen > 0 &&
	    ns->delim != 0 && prefix[plen - 1] != ns->delim)
		rc = ms_buf_append(out, &ns->delim, 1);
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "name too long");

	for (i = 0, start = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		if (start > 0 && (rc = ms_buf_append(out, &ns->delim, 1)) != MS_OK)
			return ms_err_set(err_r, rc, "name too long");
		rc = maildir_path_decode_component(ns, path + start, i - start,
						   start == 0, out, err_r);
		if (rc != MS_OK)
			return rc;
		start = i + 1;
	}
	/* "%49NBOX" alone (no prefix) would name INBOX, which is the root. */
	if (maildir_path_ieq((const char *)out->p + base, out->len - base, "inbox"))
		return ms_err_set(err_r, MS_EINVAL,
				  "\"%.*s\" would name INBOX, which is the root",
				  (int)len, path);
	return MS_OK;
}
