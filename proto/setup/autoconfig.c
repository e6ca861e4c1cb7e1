/*
 * autoconfig.c - Thunderbird's autoconfig file on the XML tokenizer
 * (xml.h): the servers are the clientConfig / emailProvider /
 * incomingServer|outgoingServer elements, their fields its children.
 */
#include <stdio.h>
#include <string.h>

#include "setup/autoconfig.h"

#define AC_TYPE_OTHER (-1)

uint16_t
autoconfig_port(const char *s)
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

/* A field of the server being filled ended with value v. */
static void
ac_field_end(struct autoconfig_server *s, const char *name, const char *v)
{
	if (strcmp(name, "hostname") == 0) {
		snprintf(s->host, sizeof(s->host), "%s", v);
	} else if (strcmp(name, "port") == 0) {
		s->port = autoconfig_port(v);
	} else if (strcmp(name, "socketType") == 0) {
		s->socket = strcmp(v, "SSL") == 0 ? AUTOCONFIG_SOCKET_SSL :
		    strcmp(v, "STARTTLS") == 0 ? AUTOCONFIG_SOCKET_STARTTLS :
		    strcmp(v, "plain") == 0 ? AUTOCONFIG_SOCKET_PLAIN :
		    AUTOCONFIG_SOCKET_UNKNOWN;
	} else if (strcmp(name, "username") == 0) {
		snprintf(s->username, sizeof(s->username), "%s", v);
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

/* clientConfig / emailProvider / incomingServer starts: one of ours? */
static void
ac_server_start(struct autoconfig_parser *p, const char *name)
{
	if (strcmp(name, "incomingServer") != 0 &&
	    strcmp(name, "outgoingServer") != 0)
		return;
	if (p->pending_type <= 0 || p->nservers == AUTOCONFIG_MAX_SERVERS) {
		p->nskipped++;
		return;
	}
	p->server = (int)p->nservers++;
	p->servers[p->server].proto = (enum autoconfig_proto)p->pending_type;
}

static int
ac_event_cb(void *arg, const struct xml_event *ev, const char **why_r)
{
	struct autoconfig_parser *p = arg;

	switch (ev->type) {
	case XML_ATTR:
		/* type="imap" on a server element; others are ignored. */
		if (ev->depth == 3 && strcmp(ev->attr, "type") == 0)
			p->pending_type = strcmp(ev->value, "imap") == 0 ?
			    AUTOCONFIG_IMAP : strcmp(ev->value, "pop3") == 0 ?
			    AUTOCONFIG_POP3 : strcmp(ev->value, "smtp") == 0 ?
			    AUTOCONFIG_SMTP : AC_TYPE_OTHER;
		return MS_OK;
	case XML_START:
		if (ev->depth == 1 && strcmp(ev->name, "clientConfig") != 0) {
			*why_r = "the root element is not clientConfig (not "
			    "an autoconfig file)";
			return MS_EPROTO;
		}
		if (ev->depth == 2)
			p->is_in_provider = strcmp(ev->name,
			    "emailProvider") == 0;
		if (ev->depth == 3 && p->is_in_provider)
			ac_server_start(p, ev->name);
		p->pending_type = 0;
		return MS_OK;
	case XML_END:
		if (ev->depth == 3)
			p->server = -1;
		/* clientConfig / emailProvider / incomingServer / hostname */
		if (ev->depth != 4 || p->server < 0)
			return MS_OK;
		if (ev->is_cut) {
			*why_r = "a value is over 255 bytes";
			return MS_ETOOBIG;
		}
		ac_field_end(&p->servers[p->server], ev->name, ev->value);
		return MS_OK;
	}
	return MS_OK;
}

void
autoconfig_init(struct autoconfig_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->server = -1;
	xml_init(&p->xml, AUTOCONFIG_MAX_BYTES, ac_event_cb, p);
}

int
autoconfig_feed(struct autoconfig_parser *p, const uint8_t *data, size_t len)
{
	return xml_feed(&p->xml, data, len);
}

int
autoconfig_finish(struct autoconfig_parser *p)
{
	if (p->xml.err.code == MS_OK && !xml_has_root(&p->xml))
		return xml_fail(&p->xml, MS_EPROTO, "no clientConfig element "
		    "(empty or not an autoconfig file)");
	return xml_finish(&p->xml);
}

const char *
autoconfig_error(const struct autoconfig_parser *p)
{
	return xml_error(&p->xml);
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
