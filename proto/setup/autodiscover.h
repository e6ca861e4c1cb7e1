/*
 * autodiscover.h - parser of Microsoft's "plain old XML" autodiscover
 * response (Outlook response schema 2006a, as served at
 * https://autodiscover.DOMAIN/autodiscover/autodiscover.xml by Exchange,
 * Microsoft 365 and many hosting panels), and the request that asks for
 * it.  The servers are Autodiscover / Response / Account / Protocol
 * elements of Type IMAP, POP3 or SMTP; a response may instead redirect
 * (Action redirectAddr or redirectUrl) or carry an Error.
 *
 * Sans-I/O and streaming on the XML tokenizer (xml.h, which says what XML
 * is understood; namespace prefixes are ignored): feed the HTTP body in
 * pieces of any size, then finish; how the body was split never changes
 * the result.  The servers are given as autoconfig_server (autoconfig.h),
 * the same shape the autoconfig file gives, with the TLS mode read as
 * Thunderbird reads it: Encryption (None, SSL, TLS, Auto) first, else
 * SSL off as plain, else (SSL on, the default) implicit TLS on the
 * implicit ports 993, 995 and 465 and STARTTLS on any other.
 */
#ifndef MS_AUTODISCOVER_H
#define MS_AUTODISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"
#include "setup/autoconfig.h"
#include "setup/xml.h"

#define AUTODISCOVER_MAX_SERVERS 16
#define AUTODISCOVER_MAX_BYTES (256 * 1024)

enum autodiscover_action {
	AUTODISCOVER_NONE = 0,		/* no Action element */
	AUTODISCOVER_SETTINGS,		/* the servers are given */
	AUTODISCOVER_REDIRECT_ADDR,	/* ask again for another address */
	AUTODISCOVER_REDIRECT_URL,	/* ask another URL */
	AUTODISCOVER_ERROR,		/* an Error element (see error) */
};

/* Caller-owned; treat the fields as private. */
struct autodiscover_parser {
	struct xml_parser xml;
	bool is_in_account;		/* inside Response / Account */
	bool is_in_protocol;		/* inside Account / Protocol */
	bool is_in_error;		/* inside Response / Error */
	/* The Protocol being read: committed at its end tag, since its
	 * Type may come after its other fields. */
	struct autoconfig_server cur;
	int cur_proto;			/* 0: not IMAP, POP3 or SMTP */
	enum autoconfig_socket cur_encryption;	/* from Encryption */
	bool has_encryption;
	bool is_ssl_off;
	struct autoconfig_server servers[AUTODISCOVER_MAX_SERVERS];
	size_t nservers;
	size_t nskipped;		/* other types, or over the limit */
	enum autodiscover_action action;
	char redirect[XML_MAX_TEXT];	/* the address or URL */
	char error[XML_MAX_TEXT];	/* "600 Invalid Request" */
};

void autodiscover_init(struct autodiscover_parser *p);

/*
 * Takes len bytes (all of them, or none after an error).  Returns MS_OK,
 * or MS_EPROTO (not well-formed, or not an autodiscover response) /
 * MS_ETOOBIG (a limit) with the reason in autodiscover_error(); errors
 * are final.
 */
int autodiscover_feed(struct autodiscover_parser *p, const uint8_t *data,
    size_t len) MS_WUR;

/* The body ended: MS_OK when the response was complete, else MS_EPROTO. */
int autodiscover_finish(struct autodiscover_parser *p) MS_WUR;

/* The reason of the last error ("offset 120: ..."). */
const char *autodiscover_error(const struct autodiscover_parser *p);

/* The servers found so far, in document order. */
size_t autodiscover_count(const struct autodiscover_parser *p);
const struct autoconfig_server *autodiscover_server(
    const struct autodiscover_parser *p, size_t i);

/* What the response says to do; redirect and error text with it. */
enum autodiscover_action autodiscover_action(
    const struct autodiscover_parser *p);
const char *autodiscover_redirect(const struct autodiscover_parser *p);
const char *autodiscover_server_error(const struct autodiscover_parser *p);

/*
 * The POST body asking for address's settings (the Outlook request
 * schema), with address escaped.  MS_OK, or MS_ETOOBIG when out (size
 * bytes) is too small.
 */
int autodiscover_request(const char *address, char *out, size_t size) MS_WUR;

#endif
