/*
 * autodiscover.c - the autodiscover response on the XML tokenizer
 * (xml.h), element by element: the path decides what a value is, the
 * Protocol element's end commits one server.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "setup/autodiscover.h"

/* The Protocol element ended: keep it when it is one of ours. */
static void
ad_protocol_end(struct autodiscover_parser *p)
{
	struct autoconfig_server *s = &p->cur;

	if (p->cur_proto == 0 || p->nservers == AUTODISCOVER_MAX_SERVERS) {
		p->nskipped++;
		return;
	}
	s->proto = (enum autoconfig_proto)p->cur_proto;
	if (p->has_encryption)
		s->socket = p->cur_encryption;
	else if (p->is_ssl_off)
		s->socket = AUTOCONFIG_SOCKET_PLAIN;
	else if (s->port == 993 || s->port == 995 || s->port == 465)
		s->socket = AUTOCONFIG_SOCKET_SSL;
	else
		s->socket = AUTOCONFIG_SOCKET_STARTTLS;
	p->servers[p->nservers++] = *s;
}

/* A field of the Protocol being read. */
static void
ad_protocol_field(struct autodiscover_parser *p, const char *name,
    const char *v)
{
	struct autoconfig_server *s = &p->cur;

	if (strcmp(name, "Type") == 0) {
		p->cur_proto = strcasecmp(v, "IMAP") == 0 ? AUTOCONFIG_IMAP :
		    strcasecmp(v, "POP3") == 0 ? AUTOCONFIG_POP3 :
		    strcasecmp(v, "SMTP") == 0 ? AUTOCONFIG_SMTP : 0;
	} else if (strcmp(name, "Server") == 0) {
		snprintf(s->host, sizeof(s->host), "%s", v);
	} else if (strcmp(name, "Port") == 0) {
		s->port = autoconfig_port(v);
	} else if (strcmp(name, "LoginName") == 0) {
		snprintf(s->username, sizeof(s->username), "%s", v);
	} else if (strcmp(name, "SSL") == 0) {
		p->is_ssl_off = strcasecmp(v, "off") == 0;
	} else if (strcmp(name, "Encryption") == 0) {
		p->has_encryption = true;
		p->cur_encryption = strcasecmp(v, "None") == 0 ?
		    AUTOCONFIG_SOCKET_PLAIN : strcasecmp(v, "SSL") == 0 ?
		    AUTOCONFIG_SOCKET_SSL : strcasecmp(v, "TLS") == 0 ?
		    AUTOCONFIG_SOCKET_STARTTLS : AUTOCONFIG_SOCKET_UNKNOWN;
		/* Auto: the client chooses; the port tells. */
		if (strcasecmp(v, "Auto") == 0)
			p->has_encryption = false;
	} else if (strcmp(name, "SPA") == 0 && strcasecmp(v, "on") == 0) {
		snprintf(s->auth, sizeof(s->auth), "password-encrypted");
	}
}

/* Account's own fields: Action and where it redirects. */
static void
ad_account_field(struct autodiscover_parser *p, const char *name,
    const char *v)
{
	if (strcmp(name, "Action") == 0) {
		p->action = strcasecmp(v, "settings") == 0 ?
		    AUTODISCOVER_SETTINGS : strcasecmp(v, "redirectAddr") == 0 ?
		    AUTODISCOVER_REDIRECT_ADDR :
		    strcasecmp(v, "redirectUrl") == 0 ?
		    AUTODISCOVER_REDIRECT_URL : p->action;
	} else if (strcmp(name, "RedirectAddr") == 0 ||
	    strcmp(name, "RedirectUrl") == 0) {
		snprintf(p->redirect, sizeof(p->redirect), "%s", v);
	}
}

/* Error's ErrorCode and Message, joined into "600 Invalid Request". */
static void
ad_error_field(struct autodiscover_parser *p, const char *name,
    const char *v)
{
	size_t have = strlen(p->error);

	if (strcmp(name, "ErrorCode") != 0 && strcmp(name, "Message") != 0)
		return;
	snprintf(p->error + have, sizeof(p->error) - have, "%s%s",
	    have > 0 && v[0] != '\0' ? " " : "", v);
	p->action = AUTODISCOVER_ERROR;
}

static int
ad_start(struct autodiscover_parser *p, const struct xml_event *ev,
    const char *name, const char **why_r)
{
	if (ev->depth == 1 && strcmp(name, "Autodiscover") != 0) {
		*why_r = "the root element is not Autodiscover (not an "
		    "autodiscover response)";
		return MS_EPROTO;
	}
	if (ev->depth == 3) {
		p->is_in_account = strcmp(name, "Account") == 0;
		p->is_in_error = strcmp(name, "Error") == 0;
	}
	if (ev->depth == 4 && p->is_in_account &&
	    strcmp(name, "Protocol") == 0) {
		p->is_in_protocol = true;
		memset(&p->cur, 0, sizeof(p->cur));
		p->cur_proto = 0;
		p->has_encryption = false;
		p->is_ssl_off = false;
	}
	return MS_OK;
}

/* The element's value is read (others may be of any length). */
static bool
ad_is_kept(const struct autodiscover_parser *p, size_t depth,
    const char *name)
{
	static const char *const fields[] = {
		"Type", "Server", "Port", "LoginName", "SSL", "Encryption",
		"SPA",
	};
	static const char *const account[] = {
		"Action", "RedirectAddr", "RedirectUrl",
	};

	if (depth == 5 && p->is_in_protocol) {
		for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
			if (strcmp(name, fields[i]) == 0)
				return true;
	} else if (depth == 4 && p->is_in_account && !p->is_in_protocol) {
		for (size_t i = 0; i < sizeof(account) / sizeof(*account); i++)
			if (strcmp(name, account[i]) == 0)
				return true;
	} else if (depth == 4 && p->is_in_error) {
		return strcmp(name, "ErrorCode") == 0 ||
		    strcmp(name, "Message") == 0;
	}
	return false;
}

static int
ad_event_cb(void *arg, const struct xml_event *ev, const char **why_r)
{
	struct autodiscover_parser *p = arg;
	const char *name = xml_local_name(ev->name);

	switch (ev->type) {
	case XML_ATTR:
		return MS_OK;
	case XML_START:
		return ad_start(p, ev, name, why_r);
	case XML_END:
		break;
	}
	/* A value we keep is never cut: a cut one is refused. */
	if (ev->is_cut && ad_is_kept(p, ev->depth, name)) {
		*why_r = "a value is over 255 bytes";
		return MS_ETOOBIG;
	}
	if (ev->depth == 5 && p->is_in_protocol) {
		ad_protocol_field(p, name, ev->value);
	} else if (ev->depth == 4 && p->is_in_protocol) {
		ad_protocol_end(p);
		p->is_in_protocol = false;
	} else if (ev->depth == 4 && p->is_in_account) {
		ad_account_field(p, name, ev->value);
	} else if (ev->depth == 4 && p->is_in_error) {
		ad_error_field(p, name, ev->value);
	} else if (ev->depth == 3) {
		p->is_in_account = false;
		p->is_in_error = false;
	}
	return MS_OK;
}

void
autodiscover_init(struct autodiscover_parser *p)
{
	memset(p, 0, sizeof(*p));
	xml_init(&p->xml, AUTODISCOVER_MAX_BYTES, ad_event_cb, p);
}

int
autodiscover_feed(struct autodiscover_parser *p, const uint8_t *data,
    size_t len)
{
	return xml_feed(&p->xml, data, len);
}

int
autodiscover_finish(struct autodiscover_parser *p)
{
	if (p->xml.err.code == MS_OK && !xml_has_root(&p->xml))
		return xml_fail(&p->xml, MS_EPROTO, "no Autodiscover element "
		    "(empty or not an autodiscover response)");
	return xml_finish(&p->xml);
}

const char *
autodiscover_error(const struct autodiscover_parser *p)
{
	return xml_error(&p->xml);
}

size_t
autodiscover_count(const struct autodiscover_parser *p)
{
	return p->nservers;
}

const struct autoconfig_server *
autodiscover_server(const struct autodiscover_parser *p, size_t i)
{
	return i < p->nservers ? &p->servers[i] : NULL;
}

enum autodiscover_action
autodiscover_action(const struct autodiscover_parser *p)
{
	return p->action;
}

const char *
autodiscover_redirect(const struct autodiscover_parser *p)
{
	return p->redirect;
}

const char *
autodiscover_server_error(const struct autodiscover_parser *p)
{
	return p->error;
}

int
autodiscover_request(const char *address, char *out, size_t size)
{
	static const char head[] =
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"
	    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/"
	    "autodiscover/outlook/requestschema/2006\">\r\n"
	    "<Request>\r\n<EMailAddress>";
	static const char tail[] =
	    "</EMailAddress>\r\n"
	    "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/"
	    "autodiscover/outlook/responseschema/2006a"
	    "</AcceptableResponseSchema>\r\n"
	    "</Request>\r\n</Autodiscover>\r\n";
	size_t o = 0;

	if (size < sizeof(head))
		return MS_ETOOBIG;
	memcpy(out, head, sizeof(head) - 1);
	o = sizeof(head) - 1;
	for (const char *c = address; *c != '\0'; c++) {
		const char *esc = *c == '&' ? "&amp;" : *c == '<' ? "&lt;" :
		    *c == '>' ? "&gt;" : NULL;
		size_t n = esc != NULL ? strlen(esc) : 1;

		if (o + n >= size)
			return MS_ETOOBIG;
		memcpy(out + o, esc != NULL ? esc : c, n);
		o += n;
	}
	if (o + sizeof(tail) > size)
		return MS_ETOOBIG;
	memcpy(out + o, tail, sizeof(tail));
	return MS_OK;
}
