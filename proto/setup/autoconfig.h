/*
 * autoconfig.h - parser of Thunderbird's mail autoconfig file
 * (config-v1.1.xml, as served by autoconfig.DOMAIN and ISPDB): the
 * incoming (IMAP, POP3) and outgoing (SMTP) servers of an
 * emailProvider.  Sans-I/O and streaming: feed the HTTP body in pieces of
 * any size, then finish; every state is carried byte by byte, so how the
 * body was split never changes the result.
 *
 * Only the XML that such files use is understood: elements, attributes
 * in single or double quotes, character data with the five predefined
 * entities and numeric references, comments, CDATA, processing
 * instructions and a DOCTYPE without an internal subset.  Limits bound
 * everything kept: nesting depth, name and text lengths, server count.
 * Anything else is an error with the byte offset where it was found.
 */
#ifndef MS_AUTOCONFIG_H
#define MS_AUTOCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

#define AUTOCONFIG_MAX_SERVERS 16
#define AUTOCONFIG_MAX_DEPTH 16
#define AUTOCONFIG_MAX_NAME 64		/* element and attribute names */
#define AUTOCONFIG_MAX_TEXT 256		/* a value, with its NUL */
/* A whole file; providers' files are a few kilobytes. */
#define AUTOCONFIG_MAX_BYTES (256 * 1024)

enum autoconfig_proto {
	AUTOCONFIG_IMAP = 1,
	AUTOCONFIG_POP3,
	AUTOCONFIG_SMTP,
};

enum autoconfig_socket {
	AUTOCONFIG_SOCKET_UNKNOWN = 0,	/* missing or a value we do not know */
	AUTOCONFIG_SOCKET_SSL,		/* implicit TLS */
	AUTOCONFIG_SOCKET_STARTTLS,
	AUTOCONFIG_SOCKET_PLAIN,
};

/* One <incomingServer> or <outgoingServer>; strings are NUL-terminated. */
struct autoconfig_server {
	enum autoconfig_proto proto;
	char host[AUTOCONFIG_MAX_TEXT];
	uint16_t port;			/* 0 when missing or invalid */
	enum autoconfig_socket socket;
	char username[AUTOCONFIG_MAX_TEXT];	/* may hold %EMAILADDRESS% */
	/* Every <authentication> value, space-separated ("password-cleartext
	 * OAuth2"). */
	char auth[AUTOCONFIG_MAX_TEXT];
};

/* Caller-owned; treat the fields as private. */
struct autoconfig_parser {
	int state;
	size_t offset;			/* bytes fed so far */
	/* Open elements: names, and whether each is a server we keep. */
	char stack[AUTOCONFIG_MAX_DEPTH][AUTOCONFIG_MAX_NAME];
	size_t depth;
	char name[AUTOCONFIG_MAX_NAME];	/* the tag or attribute being read */
	size_t name_len;
	char attr[AUTOCONFIG_MAX_NAME];	/* the attribute whose value is read */
	char quote;
	bool is_end_tag;
	char text[AUTOCONFIG_MAX_TEXT];	/* character data or attribute value */
	size_t text_len;
	char ent[12];			/* an entity reference being read */
	size_t ent_len;
	int ent_return;			/* the state it interrupted */
	size_t marker;			/* matched bytes of "-->", "]]>" ... */
	int pending_type;		/* the type="" of the tag being read */
	bool is_root_seen, is_done;
	int server;			/* index being filled, or -1 */
	struct autoconfig_server servers[AUTOCONFIG_MAX_SERVERS];
	size_t nservers;
	size_t nskipped;		/* servers over the limit or of other types */
	struct ms_err err;
};

void autoconfig_init(struct autoconfig_parser *p);

/*
 * Takes len bytes (all of them, or none after an error).  Returns MS_OK,
 * or MS_EPROTO (not well-formed, or not a clientConfig) / MS_ETOOBIG (a
 * limit) with the reason in autoconfig_error(); errors are final.
 */
int autoconfig_feed(struct autoconfig_parser *p, const uint8_t *data,
    size_t len) MS_WUR;

/* The body ended: MS_OK when the document was complete, else MS_EPROTO. */
int autoconfig_finish(struct autoconfig_parser *p) MS_WUR;

/* The reason of the last error ("offset 120: ..."). */
const char *autoconfig_error(const struct autoconfig_parser *p);

/* The servers found so far, in document order. */
size_t autoconfig_count(const struct autoconfig_parser *p);
const struct autoconfig_server *autoconfig_server(
    const struct autoconfig_parser *p, size_t i);

/*
 * Replaces %EMAILADDRESS%, %EMAILLOCALPART% and %EMAILDOMAIN% in in with
 * the parts of address (local@domain).  Returns MS_OK, or MS_ETOOBIG when
 * out (size bytes) is too small, MS_EINVAL for an unknown placeholder.
 */
int autoconfig_expand(const char *in, const char *address, char *out,
    size_t size) MS_WUR;

const char *autoconfig_proto_name(enum autoconfig_proto proto);
const char *autoconfig_socket_name(enum autoconfig_socket socket);

#endif
