/*
 * xml.h - a streaming, sans-I/O tokenizer for the small XML documents that
 * mail autoconfiguration serves (Thunderbird's config-v1.1.xml, Microsoft's
 * autodiscover.xml).  Feed the HTTP body in pieces of any size; each piece
 * turns into events for the caller's callback, the same events whatever the
 * split, since every construct's state is carried byte by byte.
 *
 * Only the XML such files use is understood: elements, attributes in
 * single or double quotes, character data with the five predefined
 * entities and numeric references, comments, CDATA, processing
 * instructions and a DOCTYPE without an internal subset (so no entity
 * expansion, no external fetch).  Names are reported as written, prefix
 * included.  Limits bound everything kept: nesting depth, name, attribute
 * value and text lengths, and the whole document.  Anything else is an
 * error with the byte offset where it was found.
 */
#ifndef MS_SETUP_XML_H
#define MS_SETUP_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

#define XML_MAX_DEPTH 16
#define XML_MAX_NAME 64		/* element and attribute names, with NUL */
#define XML_MAX_TEXT 256	/* a value, with its NUL */

enum xml_event_type {
	XML_ATTR,	/* one attribute of the element about to start */
	XML_START,	/* the element's start tag is complete */
	XML_END,	/* the element ended (also after a self-closing tag) */
};

struct xml_event {
	enum xml_event_type type;
	size_t depth;		/* the element's: 1 for the root */
	const char *name;	/* the element's name */
	const char *attr;	/* XML_ATTR: the attribute's name */
	/*
	 * XML_ATTR: the attribute's value.  XML_END: the element's own
	 * character data (not its children's; after the last child when it
	 * has children), spaces trimmed.
	 */
	const char *value;
	/* XML_END: the text was over XML_MAX_TEXT - 1 bytes and is cut;
	 * a caller that needs the value refuses it. */
	bool is_cut;
};

/*
 * The caller's reading of one event: MS_OK, or an error code with a
 * static reason in *why_r that stops the parse (as a syntax error does).
 */
typedef int xml_event_cb(void *arg, const struct xml_event *ev,
    const char **why_r);

/* Caller-owned; treat the fields as private. */
struct xml_parser {
	int state;
	size_t offset;			/* bytes fed so far */
	size_t max_bytes;
	xml_event_cb *cb;
	void *cb_arg;
	char stack[XML_MAX_DEPTH][XML_MAX_NAME];	/* open elements */
	size_t depth;
	char name[XML_MAX_NAME];	/* the tag being read */
	size_t name_len;
	char attr[XML_MAX_NAME];	/* the attribute whose value is read */
	char quote;
	bool is_end_tag;
	char text[XML_MAX_TEXT];	/* character data or attribute value */
	size_t text_len;
	bool is_text_cut;
	char ent[12];			/* an entity reference being read */
	size_t ent_len;
	int ent_return;			/* the state it interrupted */
	size_t marker;			/* matched bytes of "-->", "]]>" ... */
	bool is_root_seen, is_done;
	struct ms_err err;
};

/* A document of at most max_bytes; events go to cb(arg, ...). */
void xml_init(struct xml_parser *p, size_t max_bytes, xml_event_cb *cb,
    void *arg);

/*
 * Takes len bytes (all of them, or none after an error).  Returns MS_OK,
 * or MS_EPROTO (not well-formed, or refused by the callback) / MS_ETOOBIG
 * (a limit) with the reason in xml_error(); errors are final.
 */
int xml_feed(struct xml_parser *p, const uint8_t *data, size_t len) MS_WUR;

/* The body ended: MS_OK when the root element was complete, else
 * MS_EPROTO ("truncated"; "no root element" when there was none). */
int xml_finish(struct xml_parser *p) MS_WUR;

/* Stops the parse from the caller's side with a reason (final). */
int xml_fail(struct xml_parser *p, int code, const char *why);

/* True once a root element started. */
bool xml_has_root(const struct xml_parser *p);

/* The reason of the last error ("offset 120: ..."). */
const char *xml_error(const struct xml_parser *p);

/* name without its namespace prefix ("a:Server" -> "Server"). */
const char *xml_local_name(const char *name);

#endif
