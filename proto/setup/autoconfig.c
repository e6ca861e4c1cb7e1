/*
 * autoconfig.c - a byte-at-a-time state machine over the XML subset of
 * config-v1.1.xml (see autoconfig.h).  Each byte moves one state; what a
 * construct needs across bytes (a name, a value, how much of "-->" was
 * seen) lives in the parser, so the result never depends on the split.
 */
#include <stdio.h>
#include <string.h>

#include "setup/autoconfig.h"

enum ac_state {
	AC_TEXT = 0,		/* character data (or outside the root) */
	AC_LT,			/* after '<' */
	AC_NAME,		/* element name */
	AC_IN_TAG,		/* between attributes */
	AC_ATTR_NAME,
	AC_ATTR_EQ,		/* waiting for '=' */
	AC_ATTR_QUOTE,		/* waiting for the opening quote */
	AC_ATTR_VALUE,
	AC_SELF_CLOSE,		/* after '/' in a start tag: wants '>' */
	AC_END_TAIL,		/* after an end tag's name: wants '>' */
	AC_PI,			/* <? ... ?> */
	AC_BANG,		/* after "<!" */
	AC_COMMENT_OPEN,	/* after "<!-": wants '-' */
	AC_COMMENT,		/* until "-->" */
	AC_CDATA_OPEN,		/* matching "CDATA[" */
	AC_CDATA,		/* until "]]>" */
	AC_DECL,		/* <!DOCTYPE ...> */
	AC_ENTITY,		/* after '&', until ';' */
	AC_DEAD,
};

#define AC_TYPE_OTHER (-1)
/* A byte that ends one construct and is read again in the next state. */
#define AC_REREAD 2

static const char ac_bom[] = "\xEF\xBB\xBF";

void
autoconfig_init(struct autoconfig_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->server = -1;
	p->state = AC_TEXT;
}

static int
ac_fail(struct autoconfig_parser *p, int code, const char *why)
{
	p->state = AC_DEAD;
	return ms_err_set(&p->err, code, "offset %zu: %s", p->offset, why);
}

static bool
ac_is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
ac_is_name(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == ':' || c >= 0x80;
}

/* The server being filled, when the open element is one of its fields. */
static struct autoconfig_server *
ac_field_server(struct autoconfig_parser *p)
{
	/* clientConfig / emailProvider / incomingServer / hostname */
	if (p->server < 0 || p->depth != 4)
		return NULL;
	return &p->servers[p->server];
}

static int
ac_text_add(struct autoconfig_parser *p, const char *s, size_t n)
{
	if (ac_field_server(p) == NULL)
		return MS_OK;	/* character data nobody reads */
	if (p->text_len + n >= sizeof(p->text))
		return ac_fail(p, MS_ETOOBIG, "a value is over 255 bytes");
	memcpy(p->text + p->text_len, s, n);
	p->text_len += n;
	p->text[p->text_len] = '\0';
	return MS_OK;
}

static int
ac_name_add(struct autoconfig_parser *p, uint8_t c)
{
	if (p->name_len + 1 >= sizeof(p->name))
		return ac_fail(p, MS_ETOOBIG, "a name is over 63 bytes");
	p->name[p->name_len++] = (char)c;
	p->name[p->name_len] = '\0';
	return MS_OK;
}

/* Trims spaces and copies the collected text into dst. */
static void
ac_text_take(struct autoconfig_parser *p, char *dst, size_t size)
{
	size_t a = 0, b = p->text_len;

	while (a < b && ac_is_space((uint8_t)p->text[a]))
		a++;
	while (b > a && ac_is_space((uint8_t)p->text[b - 1]))
		b--;
	if (b - a >= size)
		b = a + size - 1;
	memcpy(dst, p->text + a, b - a);
	dst[b - a] = '\0';
}

static uint16_t
ac_port(const char *s)
{
	unsigned long v = 0;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return 0;
	}
	return (uint16_t)v;
}

static void
ac_field_end(struct autoconfig_parser *p, const char *name)
{
	struct autoconfig_server *s = ac_field_server(p);
	char v[AUTOCONFIG_MAX_TEXT];

	if (s == NULL)
		return;
	ac_text_take(p, v, sizeof(v));
	if (strcmp(name, "hostname") == 0) {
		memcpy(s->host, v, sizeof(v));
	} else if (strcmp(name, "port") == 0) {
		s->port = ac_port(v);
	} else if (strcmp(name, "socketType") == 0) {
		s->socket = strcmp(v, "SSL") == 0 ? AUTOCONFIG_SOCKET_SSL :
		    strcmp(v, "STARTTLS") == 0 ? AUTOCONFIG_SOCKET_STARTTLS :
		    strcmp(v, "plain") == 0 ? AUTOCONFIG_SOCKET_PLAIN :
		    AUTOCONFIG_SOCKET_UNKNOWN;
	} else if (strcmp(name, "username") == 0) {
		memcpy(s->username, v, sizeof(v));
	} else if (strcmp(name, "authentication") == 0 && v[0] != '\0') {
		size_t have = strlen(s->auth), n = strlen(v);

		/* Values past the field's size are dropped, not cut. */
		if (have + n + 2 <= sizeof(s->auth)) {
			if (have > 0)
				s->auth[have++] = ' ';
			memcpy(s->auth + have, v, n + 1);
		}
	}
}

/* A start tag is complete (its '>' or "/>" was read). */
static int
ac_start_tag(struct autoconfig_parser *p)
{
	if (p->is_done)
		return ac_fail(p, MS_EPROTO, "an element after the root");
	if (p->depth == AUTOCONFIG_MAX_DEPTH)
		return ac_fail(p, MS_ETOOBIG, "elements nested over 16 deep");
	if (p->depth == 0) {
		if (strcmp(p->name, "clientConfig") != 0)
			return ac_fail(p, MS_EPROTO, "the root element is not "
			    "clientConfig (not an autoconfig file)");
		p->is_root_seen = true;
	}
	memcpy(p->stack[p->depth++], p->name, sizeof(p->name));
	if (p->depth == 3 && strcmp(p->stack[1], "emailProvider") == 0 &&
	    (strcmp(p->name, "incomingServer") == 0 ||
	    strcmp(p->name, "outgoingServer") == 0)) {
		if (p->pending_type <= 0 ||
		    p->nservers == AUTOCONFIG_MAX_SERVERS) {
			p->nskipped++;
		} else {
			p->server = (int)p->nservers++;
			p->servers[p->server].proto =
			    (enum autoconfig_proto)p->pending_type;
		}
	}
	p->text_len = 0;
	p->text[0] = '\0';
	return MS_OK;
}

static int
ac_end_tag(struct autoconfig_parser *p)
{
	if (p->depth == 0 || strcmp(p->stack[p->depth - 1], p->name) != 0)
		return ac_fail(p, MS_EPROTO, "an end tag that closes no open "
		    "element");
	ac_field_end(p, p->name);
	p->depth--;
	if (p->depth == 2)
		p->server = -1;
	if (p->depth == 0)
		p->is_done = true;
	p->text_len = 0;
	p->text[0] = '\0';
	return MS_OK;
}

/* The tag's name was read: start or end tag, or a self-closing one. */
static int
ac_tag_close(struct autoconfig_parser *p, bool is_self_closing)
{
	int rc;

	p->state = AC_TEXT;
	if (p->is_end_tag)
		return ac_end_tag(p);
	if ((rc = ac_start_tag(p)) != MS_OK || !is_self_closing)
		return rc;
	return ac_end_tag(p);
}

static void
ac_attr_value_end(struct autoconfig_parser *p)
{
	/* type="imap" on a server element; other attributes are ignored. */
	if (strcmp(p->attr, "type") != 0)
		return;
	p->pending_type = strcmp(p->text, "imap") == 0 ? AUTOCONFIG_IMAP :
	    strcmp(p->text, "pop3") == 0 ? AUTOCONFIG_POP3 :
	    strcmp(p->text, "smtp") == 0 ? AUTOCONFIG_SMTP : AC_TYPE_OTHER;
}

/* Appends code point cp as UTF-8 through add. */
static int
ac_utf8(struct autoconfig_parser *p, unsigned long cp, bool is_attr)
{
	char u[4];
	size_t n;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return ac_fail(p, MS_EPROTO, "a character reference to an "
		    "invalid code point");
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	if (!is_attr)
		return ac_text_add(p, u, n);
	if (p->text_len + n >= sizeof(p->text))
		return ac_fail(p, MS_ETOOBIG, "an attribute value is over "
		    "255 bytes");
	memcpy(p->text + p->text_len, u, n);
	p->text_len += n;
	p->text[p->text_len] = '\0';
	return MS_OK;
}

static int
ac_entity_end(struct autoconfig_parser *p)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' },
		{ "quot", '"' }, { "apos", '\'' },
	};
	bool is_attr = p->ent_return == AC_ATTR_VALUE;
	unsigned long cp = 0;

	p->ent[p->ent_len] = '\0';
	p->state = p->ent_return;
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strcmp(p->ent, named[i].name) == 0)
			return ac_utf8(p, (unsigned char)named[i].c, is_attr);
	if (p->ent[0] == '#' && p->ent_len > 1) {
		bool is_hex = p->ent[1] == 'x';
		const char *d = p->ent + (is_hex ? 2 : 1);

		if (*d == '\0')
			return ac_fail(p, MS_EPROTO, "an empty character "
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
				return ac_fail(p, MS_EPROTO, "a bad character "
				    "reference");
			cp = cp * (is_hex ? 16 : 10) + v;
			if (cp > 0x10FFFF)
				break;
		}
		return ac_utf8(p, cp, is_attr);
	}
	return ac_fail(p, MS_EPROTO, "an unknown entity (only &amp; &lt; "
	    "&gt; &quot; &apos; and &#N; are allowed)");
}

/* Matches the closing marker of a skipped construct ("-->", "?>"...). */
static bool
ac_marker(struct autoconfig_parser *p, uint8_t c, const char *marker)
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
ac_byte_text(struct autoconfig_parser *p, uint8_t c)
{
	if (c == '<') {
		p->state = AC_LT;
		return MS_OK;
	}
	if (c == '&') {
		p->ent_len = 0;
		p->ent_return = AC_TEXT;
		p->state = AC_ENTITY;
		return MS_OK;
	}
	if (p->depth == 0 && !ac_is_space(c)) {
		/* A UTF-8 byte order mark may open the file. */
		if (p->offset < 3 && c == (uint8_t)ac_bom[p->offset])
			return MS_OK;
		return ac_fail(p, MS_EPROTO, "text outside the root element "
		    "(not an XML file)");
	}
	return ac_text_add(p, (const char *)&c, 1);
}

static int
ac_byte_lt(struct autoconfig_parser *p, uint8_t c)
{
	p->name_len = 0;
	p->name[0] = '\0';
	p->is_end_tag = false;
	p->pending_type = 0;
	p->marker = 0;
	if (c == '?') {
		p->state = AC_PI;
	} else if (c == '!') {
		p->state = AC_BANG;
	} else if (c == '/') {
		p->is_end_tag = true;
		p->state = AC_NAME;
	} else if (ac_is_name(c)) {
		p->state = AC_NAME;
		return ac_name_add(p, c);
	} else {
		return ac_fail(p, MS_EPROTO, "a '<' that starts no tag");
	}
	return MS_OK;
}

static int
ac_byte_name(struct autoconfig_parser *p, uint8_t c)
{
	if (ac_is_name(c))
		return ac_name_add(p, c);
	if (p->name_len == 0)
		return ac_fail(p, MS_EPROTO, "a tag without a name");
	if (p->is_end_tag) {
		if (c == '>')
			return ac_tag_close(p, false);
		if (!ac_is_space(c))
			return ac_fail(p, MS_EPROTO, "a bad end tag");
		p->state = AC_END_TAIL;
		return MS_OK;
	}
	p->state = AC_IN_TAG;
	return ac_is_space(c) ? MS_OK : AC_REREAD;	/* re-read in AC_IN_TAG */
}

static int
ac_byte_in_tag(struct autoconfig_parser *p, uint8_t c)
{
	if (ac_is_space(c))
		return MS_OK;
	if (c == '>')
		return ac_tag_close(p, false);
	if (c == '/') {
		p->state = AC_SELF_CLOSE;
		return MS_OK;
	}
	if (!ac_is_name(c))
		return ac_fail(p, MS_EPROTO, "a bad character in a tag");
	p->attr[0] = (char)c;
	p->attr[1] = '\0';
	p->state = AC_ATTR_NAME;
	return MS_OK;
}

static int
ac_byte_attr_name(struct autoconfig_parser *p, uint8_t c)
{
	size_t n = strlen(p->attr);

	if (ac_is_name(c)) {
		if (n + 1 >= sizeof(p->attr))
			return ac_fail(p, MS_ETOOBIG, "a name is over 63 "
			    "bytes");
		p->attr[n] = (char)c;
		p->attr[n + 1] = '\0';
		return MS_OK;
	}
	p->state = AC_ATTR_EQ;
	return ac_is_space(c) ? MS_OK : AC_REREAD;
}

static int
ac_byte_attr_eq(struct autoconfig_parser *p, uint8_t c)
{
	if (ac_is_space(c))
		return MS_OK;
	if (c != '=')
		return ac_fail(p, MS_EPROTO, "an attribute without '='");
	p->state = AC_ATTR_QUOTE;
	return MS_OK;
}

static int
ac_byte_attr_quote(struct autoconfig_parser *p, uint8_t c)
{
	if (ac_is_space(c))
		return MS_OK;
	if (c != '"' && c != '\'')
		return ac_fail(p, MS_EPROTO, "an attribute value without "
		    "quotes");
	p->quote = (char)c;
	p->text_len = 0;
	p->text[0] = '\0';
	p->state = AC_ATTR_VALUE;
	return MS_OK;
}

static int
ac_byte_attr_value(struct autoconfig_parser *p, uint8_t c)
{
	if (c == (uint8_t)p->quote) {
		ac_attr_value_end(p);
		p->state = AC_IN_TAG;
		return MS_OK;
	}
	if (c == '<')
		return ac_fail(p, MS_EPROTO, "'<' inside an attribute value");
	if (c == '&') {
		p->ent_len = 0;
		p->ent_return = AC_ATTR_VALUE;
		p->state = AC_ENTITY;
		return MS_OK;
	}
	return ac_utf8(p, c, true);
}

static int
ac_byte_bang(struct autoconfig_parser *p, uint8_t c)
{
	p->marker = 0;
	if (c == '-') {
		p->state = AC_COMMENT_OPEN;
	} else if (c == '[') {
		p->state = AC_CDATA_OPEN;
	} else if (c >= 'A' && c <= 'Z' && p->depth == 0) {
		p->state = AC_DECL;
	} else {
		return ac_fail(p, MS_EPROTO, "a bad '<!' construct");
	}
	return MS_OK;
}

static int
ac_byte_cdata_open(struct autoconfig_parser *p, uint8_t c)
{
	static const char word[] = "CDATA[";

	if (c != (uint8_t)word[p->marker])
		return ac_fail(p, MS_EPROTO, "a bad CDATA section");
	if (++p->marker == sizeof(word) - 1) {
		p->marker = 0;
		p->state = AC_CDATA;
	}
	return MS_OK;
}

static int
ac_byte_cdata(struct autoconfig_parser *p, uint8_t c)
{
	static const char held[2] = { ']', ']' };

	/* p->marker counts the ']' held back as a possible "]]>". */
	if (c == ']') {
		if (p->marker < 2) {
			p->marker++;
			return MS_OK;
		}
		return ac_text_add(p, held, 1);	/* "]]]": one is data */
	}
	if (c == '>' && p->marker == 2) {
		p->marker = 0;
		p->state = AC_TEXT;
		return MS_OK;
	}
	if (p->marker > 0 && ac_text_add(p, held, p->marker) != MS_OK)
		return p->err.code;
	p->marker = 0;
	return ac_text_add(p, (const char *)&c, 1);
}

static int
ac_byte_entity(struct autoconfig_parser *p, uint8_t c)
{
	if (c == ';')
		return ac_entity_end(p);
	if (p->ent_len + 1 >= sizeof(p->ent) ||
	    !(ac_is_name(c) || (c == '#' && p->ent_len == 0)) || c == ':')
		return ac_fail(p, MS_EPROTO, "a bad entity reference");
	p->ent[p->ent_len++] = (char)c;
	return MS_OK;
}

/* One byte in the current state; AC_REREAD: read it again in the next. */
static int
ac_byte(struct autoconfig_parser *p, uint8_t c)
{
	switch ((enum ac_state)p->state) {
	case AC_TEXT: return ac_byte_text(p, c);
	case AC_LT: return ac_byte_lt(p, c);
	case AC_NAME: return ac_byte_name(p, c);
	case AC_IN_TAG: return ac_byte_in_tag(p, c);
	case AC_ATTR_NAME: return ac_byte_attr_name(p, c);
	case AC_ATTR_EQ: return ac_byte_attr_eq(p, c);
	case AC_ATTR_QUOTE: return ac_byte_attr_quote(p, c);
	case AC_ATTR_VALUE: return ac_byte_attr_value(p, c);
	case AC_SELF_CLOSE:
		if (c != '>')
			return ac_fail(p, MS_EPROTO, "'/' not followed by "
			    "'>' in a tag");
		return ac_tag_close(p, true);
	case AC_END_TAIL:
		if (c == '>')
			return ac_tag_close(p, false);
		return ac_is_space(c) ? MS_OK :
		    ac_fail(p, MS_EPROTO, "a bad end tag");
	case AC_PI:
		if (ac_marker(p, c, "?>"))
			p->state = AC_TEXT;
		return MS_OK;
	case AC_BANG: return ac_byte_bang(p, c);
	case AC_COMMENT_OPEN:
		if (c != '-')
			return ac_fail(p, MS_EPROTO, "a bad comment");
		p->state = AC_COMMENT;
		return MS_OK;
	case AC_COMMENT:
		if (ac_marker(p, c, "-->"))
			p->state = AC_TEXT;
		return MS_OK;
	case AC_CDATA_OPEN: return ac_byte_cdata_open(p, c);
	case AC_CDATA: return ac_byte_cdata(p, c);
	case AC_DECL:
		if (c == '[')
			return ac_fail(p, MS_EPROTO, "a DOCTYPE with an "
			    "internal subset (entity definitions are not "
			    "accepted)");
		if (c == '>')
			p->state = AC_TEXT;
		return MS_OK;
	case AC_ENTITY: return ac_byte_entity(p, c);
	case AC_DEAD: break;
	}
	return p->err.code != 0 ? p->err.code : MS_EPROTO;
}

int
autoconfig_feed(struct autoconfig_parser *p, const uint8_t *data, size_t len)
{
	if (p->state == AC_DEAD)
		return p->err.code;
	if (len > AUTOCONFIG_MAX_BYTES - p->offset)
		return ac_fail(p, MS_ETOOBIG, "the file is over 256 KiB");
	for (size_t i = 0; i < len; i++) {
		int rc = ac_byte(p, data[i]);

		if (rc == AC_REREAD)
			rc = ac_byte(p, data[i]);
		if (rc != MS_OK)
			return rc;
		p->offset++;
	}
	return MS_OK;
}

int
autoconfig_finish(struct autoconfig_parser *p)
{
	if (p->state == AC_DEAD)
		return p->err.code;
	if (!p->is_root_seen)
		return ac_fail(p, MS_EPROTO, "no clientConfig element (empty "
		    "or not an autoconfig file)");
	if (!p->is_done || p->state != AC_TEXT)
		return ac_fail(p, MS_EPROTO, "the file ends inside an "
		    "element (truncated)");
	return MS_OK;
}

const char *
autoconfig_error(const struct autoconfig_parser *p)
{
	return p->err.msg;
}

size_t
autoconfig_count(const struct autoconfig_parser *p)
{
	return p->nservers;
}

const struct autoconfig_server *
autoconfig_server(const struct autoconfig_parser *p, size_t i)
{
	return i < p->nservers ? &p->servers[i] : NULL;
}

int
autoconfig_expand(const char *in, const char *address, char *out, size_t size)
{
	const char *at = strrchr(address, '@');
	size_t o = 0;

	if (at == NULL)
		return MS_EINVAL;
	while (*in != '\0') {
		const char *v = NULL;
		size_t vlen = 0, skip = 0;

		if (*in == '%') {
			if (strncmp(in, "%EMAILADDRESS%", 14) == 0) {
				v = address, vlen = strlen(address), skip = 14;
			} else if (strncmp(in, "%EMAILLOCALPART%", 16) == 0) {
				v = address;
				vlen = (size_t)(at - address);
				skip = 16;
			} else if (strncmp(in, "%EMAILDOMAIN%", 13) == 0) {
				v = at + 1, vlen = strlen(at + 1), skip = 13;
			} else {
				return MS_EINVAL;
			}
		} else {
			v = in, vlen = 1, skip = 1;
		}
		if (o + vlen >= size)
			return MS_ETOOBIG;
		memcpy(out + o, v, vlen);
		o += vlen;
		in += skip;
	}
	if (size == 0)
		return MS_ETOOBIG;
	out[o] = '\0';
	return MS_OK;
}

const char *
autoconfig_proto_name(enum autoconfig_proto proto)
{
	switch (proto) {
	case AUTOCONFIG_IMAP: return "imap";
	case AUTOCONFIG_POP3: return "pop3";
	case AUTOCONFIG_SMTP: return "smtp";
	}
	return "?";
}

const char *
autoconfig_socket_name(enum autoconfig_socket socket)
{
	switch (socket) {
	case AUTOCONFIG_SOCKET_SSL: return "SSL";
	case AUTOCONFIG_SOCKET_STARTTLS: return "STARTTLS";
	case AUTOCONFIG_SOCKET_PLAIN: return "plain";
	case AUTOCONFIG_SOCKET_UNKNOWN: break;
	}
	return "unknown";
}
