/*
 * xml.c - a byte-at-a-time state machine over the XML subset of xml.h.
 * Each byte moves one state; what a construct needs across bytes (a name,
 * a value, how much of "-->" was seen) lives in the parser, so the events
 * never depend on how the document was split.
 */
#include <stdio.h>
#include <string.h>

#include "setup/xml.h"

enum xml_state {
	XML_TEXT = 0,		/* character data (or outside the root) */
	XML_LT,			/* after '<' */
	XML_NAME,		/* element name */
	XML_IN_TAG,		/* between attributes */
	XML_ATTR_NAME,
	XML_ATTR_EQ,		/* waiting for '=' */
	XML_ATTR_QUOTE,		/* waiting for the opening quote */
	XML_ATTR_VALUE,
	XML_SELF_CLOSE,		/* after '/' in a start tag: wants '>' */
	XML_END_TAIL,		/* after an end tag's name: wants '>' */
	XML_PI,			/* <? ... ?> */
	XML_BANG,		/* after "<!" */
	XML_COMMENT_OPEN,	/* after "<!-": wants '-' */
	XML_COMMENT,		/* until "-->" */
	XML_CDATA_OPEN,		/* matching "CDATA[" */
	XML_CDATA,		/* until "]]>" */
	XML_DECL,		/* <!DOCTYPE ...> */
	XML_ENTITY,		/* after '&', until ';' */
	XML_DEAD,
};

/* A byte that ends one construct and is read again in the next state. */
#define XML_REREAD 2

static const char xml_bom[] = "\xEF\xBB\xBF";

int
xml_fail(struct xml_parser *p, int code, const char *why)
{
	p->state = XML_DEAD;
	return ms_err_set(&p->err, code, "offset %zu: %s", p->offset, why);
}

static bool
xml_is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
xml_is_name(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == ':' || c >= 0x80;
}

/* Character data: kept up to the limit, the rest only noted (a long
 * text nobody reads is no error; the caller judges is_cut). */
static int
xml_text_add(struct xml_parser *p, const char *s, size_t n)
{
	if (p->is_text_cut || p->text_len + n >= sizeof(p->text)) {
		p->is_text_cut = true;
		return MS_OK;
	}
	memcpy(p->text + p->text_len, s, n);
	p->text_len += n;
	p->text[p->text_len] = '\0';
	return MS_OK;
}

static int
xml_name_add(struct xml_parser *p, uint8_t c)
{
	if (p->name_len + 1 >= sizeof(p->name))
		return xml_fail(p, MS_ETOOBIG, "a name is over 63 bytes");
	p->name[p->name_len++] = (char)c;
	p->name[p->name_len] = '\0';
	return MS_OK;
}

static void
xml_text_reset(struct xml_parser *p)
{
	p->text_len = 0;
	p->text[0] = '\0';
	p->is_text_cut = false;
}

/* Hands ev to the caller; its refusal stops the parse. */
static int
xml_emit(struct xml_parser *p, const struct xml_event *ev)
{
	const char *why = "refused by the reader";
	int rc = p->cb(p->cb_arg, ev, &why);

	return rc == MS_OK ? MS_OK : xml_fail(p, rc, why);
}

/* A start tag is complete (its '>' or "/>" was read). */
static int
xml_start_tag(struct xml_parser *p)
{
	struct xml_event ev = { .type = XML_START, .name = p->name };

	if (p->is_done)
		return xml_fail(p, MS_EPROTO, "an element after the root");
	if (p->depth == XML_MAX_DEPTH)
		return xml_fail(p, MS_ETOOBIG, "elements nested over 16 deep");
	p->is_root_seen = true;
	memcpy(p->stack[p->depth++], p->name, sizeof(p->name));
	xml_text_reset(p);
	ev.depth = p->depth;
	return xml_emit(p, &ev);
}

static int
xml_end_tag(struct xml_parser *p)
{
	struct xml_event ev = { .type = XML_END, .name = p->name };
	size_t a = 0, b = p->text_len;
	int rc;

	if (p->depth == 0 || strcmp(p->stack[p->depth - 1], p->name) != 0)
		return xml_fail(p, MS_EPROTO, "an end tag that closes no open "
		    "element");
	while (a < b && xml_is_space((uint8_t)p->text[a]))
		a++;
	while (b > a && xml_is_space((uint8_t)p->text[b - 1]))
		b--;
	p->text[b] = '\0';
	ev.depth = p->depth;
	ev.value = p->text + a;
	ev.is_cut = p->is_text_cut;
	if ((rc = xml_emit(p, &ev)) != MS_OK)
		return rc;
	p->depth--;
	if (p->depth == 0)
		p->is_done = true;
	xml_text_reset(p);
	return MS_OK;
}

/* The tag's name was read: start or end tag, or a self-closing one. */
static int
xml_tag_close(struct xml_parser *p, bool is_self_closing)
{
	int rc;

	p->state = XML_TEXT;
	if (p->is_end_tag)
		return xml_end_tag(p);
	if ((rc = xml_start_tag(p)) != MS_OK || !is_self_closing)
		return rc;
	return xml_end_tag(p);
}

static int
xml_attr_value_end(struct xml_parser *p)
{
	struct xml_event ev = {
		.type = XML_ATTR, .depth = p->depth + 1, .name = p->name,
		.attr = p->attr, .value = p->text,
	};

	return xml_emit(p, &ev);
}

/* Appends n bytes to the attribute value being read. */
static int
xml_attr_add(struct xml_parser *p, const char *b, size_t n)
{
	if (p->text_len + n >= sizeof(p->text))
		return xml_fail(p, MS_ETOOBIG, "an attribute value is over "
		    "255 bytes");
	memcpy(p->text + p->text_len, b, n);
	p->text_len += n;
	p->text[p->text_len] = '\0';
	return MS_OK;
}

/* A character reference's code point, as UTF-8: to the text, or the
 * attribute value. */
static int
xml_utf8(struct xml_parser *p, unsigned long cp, bool is_attr)
{
	uint8_t u[4];
	size_t n;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return xml_fail(p, MS_EPROTO, "a character reference to an "
		    "invalid code point");
	n = ms_utf8_put((uint32_t)cp, u);
	return is_attr ? xml_attr_add(p, (const char *)u, n) :
	    xml_text_add(p, (const char *)u, n);
}

static int
xml_entity_end(struct xml_parser *p)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' },
		{ "quot", '"' }, { "apos", '\'' },
	};
	bool is_attr = p->ent_return == XML_ATTR_VALUE;
	unsigned long cp = 0;

	p->ent[p->ent_len] = '\0';
	p->state = p->ent_return;
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strcmp(p->ent, named[i].name) == 0)
			return xml_utf8(p, (unsigned char)named[i].c, is_attr);
	if (p->ent[0] == '#' && p->ent_len > 1) {
		bool is_hex = p->ent[1] == 'x';
		const char *d = p->ent + (is_hex ? 2 : 1);

		if (*d == '\0')
			return xml_fail(p, MS_EPROTO, "an empty character "
			    "reference");
		for (; *d != '\0'; d++) {
			unsigned v;

			if (*d >= '0' && *d <= '9')
				v = (unsigned)(*d - '0');
			else if (is_hex && *d >= 'a' && *d <= 'f')
				v = (unsigned)(*d - 'a' + 10);
			else if (is_hex && *d >= 'A' && *d <= 'F')
				v = (unsigned)(*d - 'A' + 10);
			else
				return xml_fail(p, MS_EPROTO, "a bad character "
				    "reference");
			cp = cp * (is_hex ? 16 : 10) + v;
			if (cp > 0x10FFFF)
				break;
		}
		return xml_utf8(p, cp, is_attr);
	}
	return xml_fail(p, MS_EPROTO, "an unknown entity (only &amp; &lt; "
	    "&gt; &quot; &apos; and &#N; are allowed)");
}

/* Matches the closing marker of a skipped construct ("-->", "?>"...). */
static bool
xml_marker(struct xml_parser *p, uint8_t c, const char *marker)
{
	size_t n = strlen(marker);

	if (c == (uint8_t)marker[p->marker]) {
		if (++p->marker == n) {
			p->marker = 0;
			return true;
		}
		return false;
	}
	/* "--->" and "]]]>": the longest suffix that is still a prefix. */
	if (p->marker > 0 && c == (uint8_t)marker[p->marker - 1])
		return false;
	p->marker = c == (uint8_t)marker[0] ? 1 : 0;
	return false;
}

static int
xml_byte_text(struct xml_parser *p, uint8_t c)
{
	if (c == '<') {
		p->state = XML_LT;
		return MS_OK;
	}
	if (c == '&') {
		p->ent_len = 0;
		p->ent_return = XML_TEXT;
		p->state = XML_ENTITY;
		return MS_OK;
	}
	if (p->depth == 0 && !xml_is_space(c)) {
		/* A UTF-8 byte order mark may open the file. */
		if (p->offset < 3 && c == (uint8_t)xml_bom[p->offset])
			return MS_OK;
		return xml_fail(p, MS_EPROTO, "text outside the root element "
		    "(not an XML file)");
	}
	return xml_text_add(p, (const char *)&c, 1);
}

static int
xml_byte_lt(struct xml_parser *p, uint8_t c)
{
	p->name_len = 0;
	p->name[0] = '\0';
	p->is_end_tag = false;
	p->marker = 0;
	if (c == '?') {
		p->state = XML_PI;
	} else if (c == '!') {
		p->state = XML_BANG;
	} else if (c == '/') {
		p->is_end_tag = true;
		p->state = XML_NAME;
	} else if (xml_is_name(c)) {
		p->state = XML_NAME;
		return xml_name_add(p, c);
	} else {
		return xml_fail(p, MS_EPROTO, "a '<' that starts no tag");
	}
	return MS_OK;
}

static int
xml_byte_name(struct xml_parser *p, uint8_t c)
{
	if (xml_is_name(c))
		return xml_name_add(p, c);
	if (p->name_len == 0)
		return xml_fail(p, MS_EPROTO, "a tag without a name");
	if (p->is_end_tag) {
		if (c == '>')
			return xml_tag_close(p, false);
		if (!xml_is_space(c))
			return xml_fail(p, MS_EPROTO, "a bad end tag");
		p->state = XML_END_TAIL;
		return MS_OK;
	}
	p->state = XML_IN_TAG;
	/* A byte that is no space is read again in XML_IN_TAG. */
	return xml_is_space(c) ? MS_OK : XML_REREAD;
}

static int
xml_byte_in_tag(struct xml_parser *p, uint8_t c)
{
	if (xml_is_space(c))
		return MS_OK;
	if (c == '>')
		return xml_tag_close(p, false);
	if (c == '/') {
		p->state = XML_SELF_CLOSE;
		return MS_OK;
	}
	if (!xml_is_name(c))
		return xml_fail(p, MS_EPROTO, "a bad character in a tag");
	p->attr[0] = (char)c;
	p->attr[1] = '\0';
	p->state = XML_ATTR_NAME;
	return MS_OK;
}

static int
xml_byte_attr_name(struct xml_parser *p, uint8_t c)
{
	size_t n = strlen(p->attr);

	if (xml_is_name(c)) {
		if (n + 1 >= sizeof(p->attr))
			return xml_fail(p, MS_ETOOBIG, "a name is over 63 "
			    "bytes");
		p->attr[n] = (char)c;
		p->attr[n + 1] = '\0';
		return MS_OK;
	}
	p->state = XML_ATTR_EQ;
	return xml_is_space(c) ? MS_OK : XML_REREAD;
}

static int
xml_byte_attr_eq(struct xml_parser *p, uint8_t c)
{
	if (xml_is_space(c))
		return MS_OK;
	if (c != '=')
		return xml_fail(p, MS_EPROTO, "an attribute without '='");
	p->state = XML_ATTR_QUOTE;
	return MS_OK;
}

static int
xml_byte_attr_quote(struct xml_parser *p, uint8_t c)
{
	if (xml_is_space(c))
		return MS_OK;
	if (c != '"' && c != '\'')
		return xml_fail(p, MS_EPROTO, "an attribute value without "
		    "quotes");
	p->quote = (char)c;
	xml_text_reset(p);
	p->state = XML_ATTR_VALUE;
	return MS_OK;
}

static int
xml_byte_attr_value(struct xml_parser *p, uint8_t c)
{
	if (c == (uint8_t)p->quote) {
		p->state = XML_IN_TAG;
		return xml_attr_value_end(p);
	}
	if (c == '<')
		return xml_fail(p, MS_EPROTO, "'<' inside an attribute value");
	if (c == '&') {
		p->ent_len = 0;
		p->ent_return = XML_ATTR_VALUE;
		p->state = XML_ENTITY;
		return MS_OK;
	}
	/* A byte as it comes: UTF-8 stays UTF-8. */
	return xml_attr_add(p, (const char *)&c, 1);
}

static int
xml_byte_bang(struct xml_parser *p, uint8_t c)
{
	p->marker = 0;
	if (c == '-') {
		p->state = XML_COMMENT_OPEN;
	} else if (c == '[') {
		p->state = XML_CDATA_OPEN;
	} else if (c >= 'A' && c <= 'Z' && p->depth == 0) {
		p->state = XML_DECL;
	} else {
		return xml_fail(p, MS_EPROTO, "a bad '<!' construct");
	}
	return MS_OK;
}

static int
xml_byte_cdata_open(struct xml_parser *p, uint8_t c)
{
	static const char word[] = "CDATA[";

	if (c != (uint8_t)word[p->marker])
		return xml_fail(p, MS_EPROTO, "a bad CDATA section");
	if (++p->marker == sizeof(word) - 1) {
		p->marker = 0;
		p->state = XML_CDATA;
	}
	return MS_OK;
}

static int
xml_byte_cdata(struct xml_parser *p, uint8_t c)
{
	static const char held[2] = { ']', ']' };

	/* p->marker counts the ']' held back as a possible "]]>". */
	if (c == ']') {
		if (p->marker < 2) {
			p->marker++;
			return MS_OK;
		}
		return xml_text_add(p, held, 1);	/* "]]]": one is data */
	}
	if (c == '>' && p->marker == 2) {
		p->marker = 0;
		p->state = XML_TEXT;
		return MS_OK;
	}
	if (p->marker > 0 && xml_text_add(p, held, p->marker) != MS_OK)
		return p->err.code;
	p->marker = 0;
	return xml_text_add(p, (const char *)&c, 1);
}

static int
xml_byte_entity(struct xml_parser *p, uint8_t c)
{
	if (c == ';')
		return xml_entity_end(p);
	if (p->ent_len + 1 >= sizeof(p->ent) ||
	    !(xml_is_name(c) || (c == '#' && p->ent_len == 0)) || c == ':')
		return xml_fail(p, MS_EPROTO, "a bad entity reference");
	p->ent[p->ent_len++] = (char)c;
	return MS_OK;
}

/* One byte in the current state; XML_REREAD: read it again in the next. */
static int
xml_byte(struct xml_parser *p, uint8_t c)
{
	switch ((enum xml_state)p->state) {
	case XML_TEXT: return xml_byte_text(p, c);
	case XML_LT: return xml_byte_lt(p, c);
	case XML_NAME: return xml_byte_name(p, c);
	case XML_IN_TAG: return xml_byte_in_tag(p, c);
	case XML_ATTR_NAME: return xml_byte_attr_name(p, c);
	case XML_ATTR_EQ: return xml_byte_attr_eq(p, c);
	case XML_ATTR_QUOTE: return xml_byte_attr_quote(p, c);
	case XML_ATTR_VALUE: return xml_byte_attr_value(p, c);
	case XML_SELF_CLOSE:
		if (c != '>')
			return xml_fail(p, MS_EPROTO, "'/' not followed by "
			    "'>' in a tag");
		return xml_tag_close(p, true);
	case XML_END_TAIL:
		if (c == '>')
			return xml_tag_close(p, false);
		return xml_is_space(c) ? MS_OK :
		    xml_fail(p, MS_EPROTO, "a bad end tag");
	case XML_PI:
		if (xml_marker(p, c, "?>"))
			p->state = XML_TEXT;
		return MS_OK;
	case XML_BANG: return xml_byte_bang(p, c);
	case XML_COMMENT_OPEN:
		if (c != '-')
			return xml_fail(p, MS_EPROTO, "a bad comment");
		p->state = XML_COMMENT;
		return MS_OK;
	case XML_COMMENT:
		if (xml_marker(p, c, "-->"))
			p->state = XML_TEXT;
		return MS_OK;
	case XML_CDATA_OPEN: return xml_byte_cdata_open(p, c);
	case XML_CDATA: return xml_byte_cdata(p, c);
	case XML_DECL:
		if (c == '[')
			return xml_fail(p, MS_EPROTO, "a DOCTYPE with an "
			    "internal subset (entity definitions are not "
			    "accepted)");
		if (c == '>')
			p->state = XML_TEXT;
		return MS_OK;
	case XML_ENTITY: return xml_byte_entity(p, c);
	case XML_DEAD: break;
	}
	return p->err.code != 0 ? p->err.code : MS_EPROTO;
}

int
xml_feed(struct xml_parser *p, const uint8_t *data, size_t len)
{
	if (p->state == XML_DEAD)
		return p->err.code;
	if (len > p->max_bytes - p->offset) {
		p->state = XML_DEAD;
		return ms_err_set(&p->err, MS_ETOOBIG, "offset %zu: the "
		    "document is over %zu KiB", p->offset,
		    p->max_bytes / 1024);
	}
	for (size_t i = 0; i < len; i++) {
		int rc = xml_byte(p, data[i]);

		if (rc == XML_REREAD)
			rc = xml_byte(p, data[i]);
		if (rc != MS_OK)
			return rc;
		p->offset++;
	}
	return MS_OK;
}


int
xml_finish(struct xml_parser *p)
{
	if (p->state == XML_DEAD)
		return p->err.code;
	if (!p->is_root_seen)
		return xml_fail(p, MS_EPROTO, "no root element (empty, or "
		    "not XML)");
	if (!p->is_done || p->state != XML_TEXT)
		return xml_fail(p, MS_EPROTO, "the document ends inside an "
		    "element (truncated)");
	return MS_OK;
}

void
xml_init(struct xml_parser *p, size_t max_bytes, xml_event_cb *cb, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->state = XML_TEXT;
	p->max_bytes = max_bytes;
	p->cb = cb;
	p->cb_arg = arg;
}

bool
xml_has_root(const struct xml_parser *p)
{
	return p->is_root_seen;
}

const char *
xml_error(const struct xml_parser *p)
{
	return p->err.msg;
}

const char *
xml_local_name(const char *name)
{
	const char *colon = strrchr(name, ':');

	return colon != NULL ? colon + 1 : name;
}
