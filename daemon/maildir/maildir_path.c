/*
 * maildir_path.c - server folder name <-> mirror path (see maildir_path.h).
 */
#include <string.h>
#include <strings.h>

#include "maildir/maildir_path.h"

#define MAILDIR_PATH_COMPONENT_MAX 255
#define MAILDIR_PATH_MAX_COMPONENTS 256

/* How one component is written (maildir_path.h, "escaped"). */
struct maildir_path_rule {
	bool is_dirname;	/* the component is a whole directory name */
	bool is_top;		/* ... at the top: INBOX is escaped too */
	bool is_dot_refused;	/* maildir++: '.' separates levels */
};

/* A name split at the delimiter: offsets and lengths into it. */
struct maildir_path_parts {
	const char *p[MAILDIR_PATH_MAX_COMPONENTS];
	size_t len[MAILDIR_PATH_MAX_COMPONENTS];
	size_t n;
};

static bool
maildir_path_ieq(const char *p, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(p, word, len) == 0;
}

static bool
maildir_path_is_inbox_word(const char *p, size_t len)
{
	return len == 5 && memcmp(p, "INBOX", 5) == 0;
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
maildir_path_encode_component(const char *p, size_t len,
			      struct maildir_path_rule rule,
			      struct ms_buf *out, struct ms_err *err_r)
{
	static const char hex[] = "0123456789ABCDEF";
	bool first_escaped = len > 0 && (p[0] == '.' ||
		(rule.is_dirname &&
		 maildir_path_is_reserved(p, len, rule.is_top)));
	int rc = MS_OK;

	if (len == 0)
		return ms_err_set(err_r, MS_EINVAL, "empty folder name component");
	if (rule.is_dot_refused && memchr(p, '.', len) != NULL)
		return ms_err_set(err_r, MS_EINVAL, "\"%.*s\" holds a '.', which "
				  "maildir_layout = maildir++ uses between "
				  "levels (rename the folder, or choose "
				  "verbatim or legacy)", (int)len, p);
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
	return MS_OK;
}

/* Splits name[0..len) at delim (0: one component); empty ones kept. */
static int
maildir_path_split(const char *name, size_t len, char delim,
		   struct maildir_path_parts *parts, struct ms_err *err_r)
{
	size_t start = 0;

	parts->n = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && (delim == 0 || name[i] != delim))
			continue;
		if (parts->n == MAILDIR_PATH_MAX_COMPONENTS)
			return ms_err_set(err_r, MS_EINVAL, "folder nested "
					  "deeper than %d levels",
					  MAILDIR_PATH_MAX_COMPONENTS);
		parts->p[parts->n] = name + start;
		parts->len[parts->n++] = i - start;
		start = i + 1;
	}
	return MS_OK;
}

/* Every '/'-separated directory name of out from start is short enough. */
static int
maildir_path_check_lengths(const struct ms_buf *out, size_t start,
			   enum maildir_layout layout, struct ms_err *err_r)
{
	const char *p = (const char *)out->p + start;
	size_t len = out->len - start, n = 0;

	for (size_t i = 0; i <= len; i++, n++) {
		if (i < len && p[i] != '/')
			continue;
		if (n > MAILDIR_PATH_COMPONENT_MAX)
			return ms_err_set(err_r, MS_EINVAL,
					  layout == MAILDIR_LAYOUT_MAILDIRPP ?
					  "folder name longer than %d bytes "
					  "(maildir++ puts the whole name in "
					  "one directory)" :
					  "folder name component longer than "
					  "%d bytes", MAILDIR_PATH_COMPONENT_MAX);
		n = (size_t)-1;
	}
	return MS_OK;
}

/* Are INBOX's children inside INBOX's directory (maildir_path.h)? */
static bool
maildir_path_has_inbox_children(const struct maildir_path_ns *ns)
{
	return ns->layout != MAILDIR_LAYOUT_VERBATIM || ns->is_inbox_subfolder;
}

/* INBOX's own directory: "" or "INBOX". */
static const char *
maildir_path_inbox_dir(const struct maildir_path_ns *ns)
{
	return ns->is_inbox_subfolder && ns->layout != MAILDIR_LAYOUT_MAILDIRPP ?
	       "INBOX" : "";
}

/* Writes parts[first..] in the layout's form. */
static int
maildir_path_join(const struct maildir_path_ns *ns,
		  const struct maildir_path_parts *parts, bool is_inbox_child,
		  struct ms_buf *out, struct ms_err *err_r)
{
	const char *inbox = maildir_path_inbox_dir(ns);
	size_t first = is_inbox_child ? 1 : 0;
	bool is_sep;
	int rc = MS_OK;

	if (ns->layout == MAILDIR_LAYOUT_MAILDIRPP) {
		struct maildir_path_rule rule = { false, false, true };

		rc = ms_buf_append(out, "..", is_inbox_child ? 2 : 1);
		for (size_t i = first; rc == MS_OK && i < parts->n; i++) {
			if (i > first)
				rc = ms_buf_append(out, ".", 1);
			if (rc == MS_OK)
				rc = maildir_path_encode_component(
					parts->p[i], parts->len[i], rule, out,
					err_r);
			else
				ms_err_set(err_r, rc, "mirror path too long");
		}
		return rc;
	}
	is_sep = is_inbox_child && inbox[0] != '\0';
	if (is_sep && (rc = ms_buf_append_cstr(out, inbox)) != MS_OK)
		return ms_err_set(err_r, rc, "mirror path too long");
	for (size_t i = first; i < parts->n; i++) {
		/* Legacy: below the top (or inside INBOX), a dot directory. */
		bool is_dotted = ns->layout == MAILDIR_LAYOUT_LEGACY &&
				 (i > 0 || is_inbox_child);
		struct maildir_path_rule rule = { !is_dotted, i == 0, false };

		if (is_sep)
			rc = ms_buf_append(out, "/", 1);
		is_sep = true;
		if (rc == MS_OK && is_dotted)
			rc = ms_buf_append(out, ".", 1);
		if (rc != MS_OK)
			return ms_err_set(err_r, rc, "mirror path too long");
		rc = maildir_path_encode_component(parts->p[i], parts->len[i],
						   rule, out, err_r);
		if (rc != MS_OK)
			return rc;
	}
	return MS_OK;
}

int
maildir_path_from_server(const struct maildir_path_ns *ns, const char *name,
			 size_t len, struct ms_buf *out, struct ms_err *err_r)
{
	const char *prefix = ns->prefix != NULL ? ns->prefix : "";
	size_t plen = strlen(prefix), start = out->len;
	struct maildir_path_parts parts;
	bool is_inbox_child;
	int rc;

	if (maildir_path_ieq(name, len, "inbox")) {
		rc = ms_buf_append_cstr(out, maildir_path_inbox_dir(ns));
		return rc != MS_OK ? ms_err_set(err_r, rc, "mirror path too long")
				   : MS_OK;
	}
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
	if ((rc = maildir_path_split(name, len, ns->delim, &parts,
				     err_r)) != MS_OK)
		return rc;
	for (size_t i = 0; i < parts.n; i++)
		if (parts.len[i] == 0)
			return ms_err_set(err_r, MS_EINVAL,
					  "empty folder name component");
	is_inbox_child = maildir_path_has_inbox_children(ns) && parts.n > 1 &&
			 maildir_path_is_inbox_word(parts.p[0], parts.len[0]);
	rc = maildir_path_join(ns, &parts, is_inbox_child, out, err_r);
	if (rc == MS_OK)
		rc = maildir_path_check_lengths(out, start, ns->layout, err_r);
	return rc;

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
			      size_t len, struct maildir_path_rule rule,
			      struct ms_buf *out, struct ms_err *err_r)
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

	ms_buf_init(&check, 4 * MAILDIR_PATH_COMPONENT_MAX);
	rc = maildir_path_encode_component((const char *)out->p + start,
					   out->len - start, rule, &check, NULL);
	if (rc == MS_OK && (check.len != len || memcmp(check.p, p, len) != 0))
		rc = MS_EINVAL;
	ms_buf_deinit(&check);
	if (rc != MS_OK)
		return ms_err_set(err_r, MS_EINVAL,
				  "\"%.*s\" is not a canonical mirror name",
				  (int)len, p);
	return MS_OK;
}

/*
 * Splits a mirror path into encoded components by the layout: each
 * parts->p[i] without the dot legacy and maildir++ put before it.
 * *is_inbox_child_r: the path is inside INBOX's (legacy, maildir++).
 */
static int
maildir_path_parse(const struct maildir_path_ns *ns, const char *path,
		   size_t len, struct maildir_path_parts *parts,
		   bool *is_inbox_child_r, struct ms_err *err_r)
{
	const char *inbox = maildir_path_inbox_dir(ns);
	size_t ilen = strlen(inbox);
	int rc;

	*is_inbox_child_r = false;
	if (ns->layout == MAILDIR_LAYOUT_MAILDIRPP) {
		if (memchr(path, '/', len) != NULL || path[0] != '.')
			return ms_err_set(err_r, MS_EINVAL, "\"%.*s\" is no "
					  "maildir++ folder (.Name.Sub at the "
					  "top)", (int)len, path);
		*is_inbox_child_r = len > 1 && path[1] == '.';
		path += *is_inbox_child_r ? 2 : 1;
		len -= *is_inbox_child_r ? 2 : 1;
		return maildir_path_split(path, len, '.', parts, err_r);
	}
	if ((ns->layout == MAILDIR_LAYOUT_LEGACY && ilen == 0 &&
	     path[0] == '.') ||
	    (ilen > 0 && len > ilen + 1 && memcmp(path, inbox, ilen) == 0 &&
	     path[ilen] == '/')) {
		*is_inbox_child_r = true;
		if (ilen > 0) {
			path += ilen + 1;
			len -= ilen + 1;
		}
	}
	if ((rc = maildir_path_split(path, len, '/', parts, err_r)) != MS_OK)
		return rc;
	if (ns->layout != MAILDIR_LAYOUT_LEGACY)
		return MS_OK;
	for (size_t i = 0; i < parts->n; i++) {
		if (i == 0 && !*is_inbox_child_r)
			continue;
		if (parts->len[i] < 2 || parts->p[i][0] != '.')
			return ms_err_set(err_r, MS_EINVAL, "\"%.*s\" is no legacy "
					  "subfolder (.Name)", (int)len, path);
		parts->p[i]++;
		parts->len[i]--;
	}
	return MS_OK;
}

/* A mirror path names directories: no component of it can be longer than
 * a file name may be (and the way back, maildir_path_from_server(),
 * refuses to make one). */
static int
maildir_path_check_dirnames(const char *path, size_t len, struct ms_err *err_r)
{
	size_t n = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && path[i] != '/') {
			n++;
			continue;
		}
		if (n > MAILDIR_PATH_COMPONENT_MAX)
			return ms_err_set(err_r, MS_EINVAL, "\"%.*s\": a directory "
					  "name longer than %d bytes", (int)len,
					  path, MAILDIR_PATH_COMPONENT_MAX);
		n = 0;
	}
	return MS_OK;
}

int
maildir_path_to_server(const struct maildir_path_ns *ns, const char *path,
		       size_t len, struct ms_buf *out, struct ms_err *err_r)
{
	const char *prefix = ns->prefix != NULL ? ns->prefix : "";
	const char *inbox = maildir_path_inbox_dir(ns);
	size_t plen = strlen(prefix);
	size_t base = out->len;
	struct maildir_path_parts parts;
	bool is_inbox_child;
	int rc;

	if (len == strlen(inbox) && memcmp(path, inbox, len) == 0) {
		rc = ms_buf_append_cstr(out, "INBOX");
		return rc != MS_OK ? ms_err_set(err_r, rc, "name too long") : MS_OK;
	}
	if (len == 0)
		return ms_err_set(err_r, MS_EINVAL, "the root Maildir is no "
				  "folder (INBOX is INBOX/)");
	if ((rc = maildir_path_check_dirnames(path, len, err_r)) != MS_OK)
		return rc;
	rc = maildir_path_parse(ns, path, len, &parts, &is_inbox_child, err_r);
	if (rc != MS_OK)
		return rc;
	if (ns->delim == 0 && parts.n + is_inbox_child > 1)
		return ms_err_set(err_r, MS_EINVAL,
				  "nested folder on a server without hierarchy");
	if ((rc = ms_buf_append(out, prefix, plen)) == MS_OK && plen > 0 &&
	    ns->delim != 0 && prefix[plen - 1] != ns->delim)
		rc = ms_buf_append(out, &ns->delim, 1);
	if (rc == MS_OK && is_inbox_child) {
		rc = ms_buf_append_cstr(out, "INBOX");
		if (rc == MS_OK)
			rc = ms_buf_append(out, &ns->delim, 1);
	}
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "name too long");

	for (size_t i = 0; i < parts.n; i++) {
		bool is_dotted = ns->layout == MAILDIR_LAYOUT_LEGACY &&
				 (i > 0 || is_inbox_child);
		struct maildir_path_rule rule = {
			ns->layout != MAILDIR_LAYOUT_MAILDIRPP && !is_dotted,
			i == 0 && !is_inbox_child,
			ns->layout == MAILDIR_LAYOUT_MAILDIRPP };
		size_t at;

		if (i > 0 && (rc = ms_buf_append(out, &ns->delim, 1)) != MS_OK)
			return ms_err_set(err_r, rc, "name too long");
		at = out->len;
		rc = maildir_path_decode_component(ns, parts.p[i], parts.len[i],
						   rule, out, err_r);
		if (rc != MS_OK)
			return rc;
		/* INBOX's children have a place of their own (legacy,
		 * maildir++): a top "INBOX" with children is not it. */
		if (i == 0 && !is_inbox_child && parts.n > 1 &&
		    maildir_path_has_inbox_children(ns) &&
		    maildir_path_is_inbox_word((const char *)out->p + at,
					       out->len - at))
			return ms_err_set(err_r, MS_EINVAL, "\"%.*s\" is not a "
					  "canonical mirror name (INBOX's "
					  "children are inside INBOX)",
					  (int)len, path);
	}
	/* "%49NBOX" alone (no prefix) would name INBOX, which is elsewhere. */
	if (maildir_path_ieq((const char *)out->p + base, out->len - base, "inbox"))
		return ms_err_set(err_r, MS_EINVAL,
				  "\"%.*s\" would name INBOX, which is %s",
				  (int)len, path, inbox[0] != '\0' ?
				  "INBOX/" : "the root");
	return MS_OK;
}

bool
maildir_path_is_walked(enum maildir_layout layout, int depth, const char *name)
{
	bool is_dot = name[0] == '.';

	switch (layout) {
	case MAILDIR_LAYOUT_MAILDIRPP:
		return depth == 0 && is_dot;
	case MAILDIR_LAYOUT_LEGACY:
		return depth == 0 || is_dot;
	case MAILDIR_LAYOUT_VERBATIM:
	default:
		return !is_dot;
	}
}
