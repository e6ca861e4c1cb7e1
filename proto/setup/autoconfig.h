/*
 * autoconfig.h - parser of Thunderbird's mail autoconfig file
 * (config-v1.1.xml, as served by autoconfig.DOMAIN and ISPDB): the
 * incoming (IMAP, POP3) and outgoing (SMTP) servers of an
 * emailProvider.  Sans-I/O and streaming on the XML tokenizer (xml.h, which
 * says what XML is understood): feed the HTTP body in pieces of any size,
 * then finish; how the body was split never changes the result.  Limits
 * bound everything kept (xml.h's, and the server count); anything else is
 * an error with the byte offset where it was found.
 */
#ifndef MS_AUTOCONFIG_H
#define MS_AUTOCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"
#include "setup/xml.h"

#define AUTOCONFIG_MAX_SERVERS 16
#define AUTOCONFIG_MAX_TEXT XML_MAX_TEXT	/* a value, with its NUL */
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
	struct xml_parser xml;
	bool is_in_provider;		/* inside <emailProvider> */
	int pending_type;		/* the type="" of the tag being read */
	int server;			/* index being filled, or -1 */
	struct autoconfig_server servers[AUTOCONFIG_MAX_SERVERS];
	size_t nservers;
	size_t nskipped;		/* over the limit, or of other types */
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

/* A port number in decimal, or 0 when empty, not a number or over 65535. */
uint16_t autoconfig_port(const char *s);

const char *autoconfig_proto_name(enum autoconfig_proto proto);
const char *autoconfig_socket_name(enum autoconfig_socket socket);

#endif
