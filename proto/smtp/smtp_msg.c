/*
 * smtp_msg.c - header fields, address lists and line ends of an outgoing
 * message (smtp_msg.h).
 */
#include "smtp/smtp_msg.h"

#include <string.h>

/* The end of the line starting at i (the offset after its LF, or len). */
static size_t
smtp_msg_line_end(struct ms_slice m, size_t i)
{
	const uint8_t *lf = memchr(m.p + i, '\n', m.len - i);

	return lf != NULL ? (size_t)(lf - m.p) + 1 : m.len;
}

/* The length of the line's content without its CRLF or LF. */
static size_t
smtp_msg_trim_eol(struct ms_slice m, size_t start, size_t end)
{
	if (end > start && m.p[end - 1] == '\n')
		end--;
	if (end > start && m.p[end - 1] == '\r')
		end--;
	return end;
}

bool
smtp_msg_next_field(struct ms_slice msg, size_t *pos, struct smtp_msg_field *f)
{
	size_t i = *pos, end, colon, vend;

	if (i >= msg.len || msg.p[i] == '\n' || msg.p[i] == '\r' ||
	    msg.p[i] == ' ' || msg.p[i] == '\t')
		return false;
	/* The name: printable ASCII up to the colon (RFC 5322 2.2). */
	for (colon = i; colon < msg.len; colon++) {
		uint8_t c = msg.p[colon];

		if (c == ':' || c <= ' ' || c >= 0x7f)
			break;
	}
	if (colon == i || colon >= msg.len || msg.p[colon] != ':')
		return false;
	/* The body runs on over continuation lines (starting with WSP). */
	end = smtp_msg_line_end(msg, i);
	while (end < msg.len && (msg.p[end] == ' ' || msg.p[end] == '\t'))
		end = smtp_msg_line_end(msg, end);
	vend = smtp_msg_trim_eol(msg, colon + 1, end);
	f->name = (struct ms_slice){ msg.p + i, colon - i };
	f->value = (struct ms_slice){ msg.p + colon + 1, vend - colon - 1 };
	f->raw = (struct ms_slice){ msg.p + i, end - i };
	*pos = end;
	return true;
}

size_t
smtp_msg_header_end(struct ms_slice msg)
{
	struct smtp_msg_field f;
	size_t pos = 0;

	while (smtp_msg_next_field(msg, &pos, &f))
		;
	return pos;
}

/* --- addresses ----------------------------------------------------------- */

bool
smtp_addr_is_valid(struct ms_slice a)
{
	bool in_quote = false;
	size_t ats = 0;

	if (a.len == 0 || a.len > 254)
		return false;
	for (size_t i = 0; i < a.len; i++) {
		uint8_t c = a.p[i];

		if (c < 0x20 || c == 0x7f)
			return false;
		if (in_quote) {
			/* RFC 5321 quoted-pairSMTP: a backslash and one
			 * printable ASCII character (never a line end). */
			if (c == '\\' && i + 1 < a.len) {
				if (a.p[i + 1] < 0x20 || a.p[i + 1] > 0x7e)
					return false;
				i++;
			} else if (c == '"')
				in_quote = false;
			continue;
		}
		if (c == '"') {
			in_quote = true;
		} else if (c == ' ' || c == '<' || c == '>' || c == ',' ||
			   c == '(' || c == ')') {
			return false;
		} else if (c == '@') {
			ats++;
			if (i + 1 == a.len)
				return false;
		}
	}
	return !in_quote && ats <= 1;
}

static bool
smtp_addr_is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Where a byte of an address list stands (RFC 5322 3.2). */
enum smtp_addr_class {
	SMTP_ADDR_TOP,		/* outside quotes and comments */
	SMTP_ADDR_QUOTED,	/* in a quoted string, its quotes included */
	SMTP_ADDR_COMMENT,	/* in a comment, its parentheses included */
};

struct smtp_addr_scan {
	bool in_quote;
	bool is_escaped;	/* the byte after a backslash */
	size_t depth;		/* of nested comments */
};

static enum smtp_addr_class
smtp_addr_scan_feed(struct smtp_addr_scan *sc, uint8_t c)
{
	if (sc->in_quote || sc->depth > 0) {
		enum smtp_addr_class cls = sc->in_quote ? SMTP_ADDR_QUOTED :
					   SMTP_ADDR_COMMENT;

		if (sc->is_escaped)
			sc->is_escaped = false;
		else if (c == '\\')
			sc->is_escaped = true;
		else if (sc->in_quote && c == '"')
			sc->in_quote = false;
		else if (!sc->in_quote && c == '(')
			sc->depth++;
		else if (!sc->in_quote && c == ')')
			sc->depth--;
		return cls;
	}
	if (c == '"') {
		sc->in_quote = true;
		return SMTP_ADDR_QUOTED;
	}
	if (c == '(') {
		sc->depth = 1;
		return SMTP_ADDR_COMMENT;
	}
	return SMTP_ADDR_TOP;
}

static bool
smtp_addr_scan_is_open(const struct smtp_addr_scan *sc)
{
	return sc->in_quote || sc->depth > 0;
}

/* The part inside the last top-level "<...>" of [start, end) into tmp,
 * without an obsolete source route ("<@relay:a@b>" names a@b). */
static int
smtp_addr_angle(struct ms_slice v, size_t lt, size_t gt, uint8_t *tmp,
		size_t tmpsz, size_t *len_r)
{
	size_t a = lt + 1, b = gt;
	const uint8_t *colon;

	if (a < b && v.p[a] == '@' &&
	    (colon = memchr(v.p + a, ':', b - a)) != NULL)
		a = (size_t)(colon - v.p) + 1;
	while (a < b && smtp_addr_is_ws(v.p[a]))
		a++;
	while (b > a && smtp_addr_is_ws(v.p[b - 1]))
		b--;
	if (b - a > tmpsz)
		return MS_EINVAL;
	memcpy(tmp, v.p + a, b - a);
	*len_r = b - a;
	return MS_OK;
}

/*
 * A bare addr-spec of [start, end) into tmp: comments and whitespace
 * around it dropped; words apart ("John Smith") are not an address.
 */
static int
smtp_addr_bare(struct ms_slice v, size_t start, size_t end, uint8_t *tmp,
	       size_t tmpsz, size_t *len_r)
{
	struct smtp_addr_scan sc = { 0 };
	bool has_gap = false;
	size_t len = 0;

	for (size_t i = start; i < end; i++) {
		uint8_t c = v.p[i];
		enum smtp_addr_class cls = smtp_addr_scan_feed(&sc, c);

		if (cls == SMTP_ADDR_COMMENT)
			continue;
		if (cls == SMTP_ADDR_TOP && smtp_addr_is_ws(c)) {
			has_gap = len > 0;
			continue;
		}
		if (has_gap || len == tmpsz)
			return MS_EINVAL;
		tmp[len++] = c;
	}
	*len_r = len;
	return MS_OK;
}

/*
 * One element of an address list, [start, end): the part inside its last
 * top-level angle brackets, or else the bare address.  An empty element
 * ("<>", only a comment) names nobody and is skipped.
 */
static int
smtp_addr_element(struct ms_slice v, size_t start, size_t end,
		  struct ms_buf *out, size_t *n)
{
	struct smtp_addr_scan sc = { 0 };
	uint8_t tmp[256];
	size_t len = 0, lt = SIZE_MAX, gt = SIZE_MAX;
	int rc;

	for (size_t i = start; i < end; i++) {
		if (smtp_addr_scan_feed(&sc, v.p[i]) != SMTP_ADDR_TOP)
			continue;
		if (v.p[i] == '<')
			lt = i;
		else if (v.p[i] == '>' && lt != SIZE_MAX)
			gt = i;
	}
	if (lt != SIZE_MAX && (gt == SIZE_MAX || gt < lt))
		return MS_EINVAL;
	rc = lt != SIZE_MAX ?
	     smtp_addr_angle(v, lt, gt, tmp, sizeof(tmp), &len) :
	     smtp_addr_bare(v, start, end, tmp, sizeof(tmp), &len);
	if (rc != MS_OK || len == 0)
		return rc;
	if (!smtp_addr_is_valid((struct ms_slice){ tmp, len }))
		return MS_EINVAL;
	if (ms_buf_append(out, tmp, len) != MS_OK ||
	    ms_buf_append(out, "\n", 1) != MS_OK)
		return MS_ETOOBIG;
	(*n)++;
	return MS_OK;
}

int
smtp_addr_list_parse(struct ms_slice value, struct ms_buf *out, size_t *n_r)
{
	struct smtp_addr_scan sc = { 0 };
	size_t start = 0, n = 0, old_len = out->len;
	bool in_angle = false;
	int rc = MS_OK;

	for (size_t i = 0; i <= value.len && rc == MS_OK; i++) {
		uint8_t c = i < value.len ? value.p[i] : ',';

		if (i < value.len &&
		    smtp_addr_scan_feed(&sc, c) != SMTP_ADDR_TOP)
			continue;
		if (c == '<') {
			in_angle = true;
		} else if (c == '>') {
			in_angle = false;
		} else if (c == ':' && !in_angle) {
			/* A group's display name: its members follow. */
			start = i + 1;
		} else if ((c == ',' || c == ';') && !in_angle) {
			rc = smtp_addr_element(value, start, i, out, &n);
			start = i + 1;
		}
	}
	if (rc == MS_OK && (smtp_addr_scan_is_open(&sc) || in_angle))
		rc = MS_EINVAL;
	if (rc != MS_OK) {
		out->len = old_len;
		if (out->p != NULL)
			out->p[old_len] = '\0';
		return rc;
	}
	if (n_r != NULL)
		*n_r = n;
	return MS_OK;
}

/* --- bytes ---------------------------------------------------------------- */

bool
smtp_msg_has_8bit(struct ms_slice s)
{
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] >= 0x80)
			return true;
	return false;
}

int
smtp_msg_crlf(struct ms_slice msg, struct ms_buf *out)
{
	size_t old_len = out->len, run = 0;
	int rc = MS_OK;

	for (size_t i = 0; i < msg.len && rc == MS_OK; i++) {
		uint8_t c = msg.p[i];

		if (c != '\r' && c != '\n')
			continue;
		/* Copy the run before the line end, then a CRLF. */
		rc = ms_buf_append(out, msg.p + run, i - run);
		if (rc == MS_OK)
			rc = ms_buf_append(out, "\r\n", 2);
		if (c == '\r' && i + 1 < msg.len && msg.p[i + 1] == '\n')
			i++;
		run = i + 1;
	}
	if (rc == MS_OK)
		rc = ms_buf_append(out, msg.p + run, msg.len - run);
	if (rc != MS_OK) {
		out->len = old_len;
		if (out->p != NULL)
			out->p[old_len] = '\0';
	}
	return rc;
}
