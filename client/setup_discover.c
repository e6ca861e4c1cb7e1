/*
 * setup_discover.c - finds the candidate servers of an address and
 * probes each, in two phases on one libuv loop:
 *
 *   1. the provider's autoconfig file (autoconfig.DOMAIN, then
 *      DOMAIN/.well-known; or only --autoconfig-url), its autodiscover
 *      answer (autodiscover.DOMAIN; one redirect followed), the RFC 6186
 *      / 8314 SRV records and the MX records, all at once; then every
 *      candidate found is resolved and probed;
 *   2. only for what phase 1 left without a working server (reading or
 *      sending): guesses (imap., mail., pop., pop3., smtp. on the
 *      standard ports) under the MX host's domain, then under the
 *      address's own domain; resolved and probed the same way.
 *
 * Every asynchronous step holds one count in d->pending; when it falls
 * to zero the phase is over (setup_disc_settle).  A step may complete
 * before the call that started it returns (a cached DNS answer), so a
 * phase holds a count of its own while it starts its steps.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "setup.h"
#include "setup/autoconfig.h"
#include "setup/autodiscover.h"

struct setup_disc;

enum setup_phase {
	SETUP_PHASE_SOURCES,	/* autoconfig, SRV, MX being asked */
	SETUP_PHASE_PROBES,	/* their candidates being probed */
	SETUP_PHASE_GUESSES,	/* guesses for what is missing, probed */
	SETUP_PHASE_DONE,
};

/* One autoconfig or autodiscover URL being fetched. */
struct setup_ac_fetch {
	struct setup_disc *d;
	bool is_autodiscover;
	const char *what;		/* "autoconfig", "autodiscover" */
	char url[600];
	char host[SETUP_HOST_MAX];
	struct autoconfig_parser parser;
	struct autodiscover_parser ad;
	char request[1024];		/* autodiscover's POST body */
	unsigned nredirects;		/* autodiscover's own redirects */
	int parse_rc;
};

struct setup_srv_query {
	struct setup_disc *d;
	const char *service;		/* "_imaps._tcp" */
	enum probe_proto proto;
	enum probe_tls tls;
	char name[SETUP_HOST_MAX + 32];
};

struct setup_disc {
	uv_loop_t *loop;
	const struct setup_opts *o;
	struct setup_found *f;
	struct setup_dns *dns;
	struct setup_http *http;
	struct net_tls_ctx *tls_ctx;
	unsigned pending;
	enum setup_phase phase;
	char mx_domain[SETUP_HOST_MAX];	/* the MX host's domain, or "" */
	size_t first_new;		/* this phase's first candidate */
	struct setup_ac_fetch ac[3];	/* 2 autoconfig, 1 autodiscover */
	struct setup_srv_query srv[6];
};

static void setup_disc_settle(struct setup_disc *d);

static void
setup_disc_note(struct setup_disc *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
setup_disc_note(struct setup_disc *d, const char *fmt, ...)
{
	va_list ap;

	if (d->f->nnotes == sizeof(d->f->notes) / sizeof(d->f->notes[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(d->f->notes[d->f->nnotes++], sizeof(d->f->notes[0]), fmt,
		  ap);
	va_end(ap);
}

static void
setup_disc_done_one(struct setup_disc *d)
{
	d->pending--;
	setup_disc_settle(d);
}

/* Adds a candidate, or merges its source into an equal one. */
static struct setup_cand *
setup_disc_add(struct setup_disc *d, enum probe_proto proto,
	       enum probe_tls tls, const char *host, uint16_t port,
	       unsigned source)
{
	struct setup_found *f = d->f;
	struct setup_cand *c;
	size_t hl = strlen(host);

	/* "imap.example.com." and "imap.example.com" are one host. */
	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (hl == 0 || hl >= SETUP_HOST_MAX)
		return NULL;
	for (size_t i = 0; i < f->n; i++) {
		c = &f->cands[i];
		if (c->proto == proto && c->tls == tls && c->port == port &&
		    strlen(c->host) == hl && strncasecmp(c->host, host,
		    hl) == 0) {
			c->sources |= source;
			return c;
		}
	}
	if (f->n == SETUP_MAX_CANDS)
		return NULL;
	c = &f->cands[f->n++];
	memset(c, 0, sizeof(*c));
	c->proto = proto;
	c->tls = tls;
	memcpy(c->host, host, hl);
	c->host[hl] = '\0';
	c->port = port;
	c->sources = source;
	c->srv_priority = 65536;	/* after any SRV record */
	c->oauth_provider = setup_oauth_provider(c->host);
	return c;
}

/* ---- probing ---------------------------------------------------------- */

static void
setup_disc_probed_cb(struct setup_cand *c, void *arg)
{
	struct setup_disc *d = arg;

	(void)c;
	setup_disc_done_one(d);
}

/* The address lookup of one candidate, then its probe. */
struct setup_disc_resolve {
	struct setup_disc *d;
	struct setup_cand *c;
};

static void
setup_disc_resolved_cb(void *arg, int status, const char *why,
		       const char *addrs)
{
	struct setup_disc_resolve *r = arg;
	struct setup_disc *d = r->d;
	struct setup_cand *c = r->c;

	free(r);
	if (status != MS_OK) {
		c->is_done = true;
		snprintf(c->res.why, sizeof(c->res.why), "%s: %s", c->host,
			 status == MS_ERESP ? "no such host" : why);
		setup_disc_done_one(d);
		return;
	}
	snprintf(c->addrs, sizeof(c->addrs), "%s", addrs);
	if (setup_probe_start(d->loop, d->tls_ctx, c, d->o->timeout_ms,
			      setup_disc_probed_cb, d) == MS_OK)
		return;		/* the probe holds the count now */
	setup_disc_done_one(d);
}

static void
setup_disc_probe_all(struct setup_disc *d)
{
	for (size_t i = d->first_new; i < d->f->n; i++) {
		struct setup_cand *c = &d->f->cands[i];
		struct setup_disc_resolve *r;

		if (c->is_done)
			continue;	/* refused before probing */
		r = calloc(1, sizeof(*r));
		if (r == NULL) {
			c->is_done = true;
			snprintf(c->res.why, sizeof(c->res.why),
				 "out of memory");
			continue;
		}
		r->d = d;
		r->c = c;
		d->pending++;
		setup_dns_addr(d->dns, c->host, setup_disc_resolved_cb, r);
	}
	d->first_new = d->f->n;
}

/* ---- autoconfig ------------------------------------------------------- */

static bool
setup_ac_data_cb(void *arg, const uint8_t *p, size_t n)
{
	struct setup_ac_fetch *a = arg;

	if (a->parse_rc == MS_OK)
		a->parse_rc = a->is_autodiscover ?
		    autodiscover_feed(&a->ad, p, n) :
		    autoconfig_feed(&a->parser, p, n);
	return a->parse_rc == MS_OK;
}

static uint16_t
setup_default_port(enum probe_proto proto, enum probe_tls tls)
{
	static const uint16_t ports[3][2] = {
		{ 993, 143 }, { 995, 110 }, { 465, 587 },
	};

	return ports[proto][tls];
}

/* The servers of a parsed file become candidates. */
static void
setup_ac_take(struct setup_ac_fetch *a)
{
	struct setup_disc *d = a->d;
	unsigned source = a->is_autodiscover ? SETUP_SRC_AUTODISCOVER :
	    SETUP_SRC_AUTOCONFIG;
	size_t n = a->is_autodiscover ? autodiscover_count(&a->ad) :
	    autoconfig_count(&a->parser);

	if (n == 0)
		setup_disc_note(d, "%s %s: no IMAP, POP3 or SMTP server in "
				"it", a->what, a->url);
	for (size_t i = 0; i < n; i++) {
		const struct autoconfig_server *s = a->is_autodiscover ?
		    autodiscover_server(&a->ad, i) :
		    autoconfig_server(&a->parser, i);
		enum probe_proto proto = s->proto == AUTOCONFIG_IMAP ?
		    PROBE_IMAP : s->proto == AUTOCONFIG_POP3 ? PROBE_POP3 :
		    PROBE_SMTP;
		enum probe_tls tls = s->socket == AUTOCONFIG_SOCKET_SSL ?
		    PROBE_TLS_IMPLICIT : PROBE_TLS_STARTTLS;
		char host[SETUP_HOST_MAX];
		struct setup_cand *c;

		if (autoconfig_expand(s->host, d->o->address, host,
				      sizeof(host)) != MS_OK ||
		    host[0] == '\0') {
			setup_disc_note(d, "%s %s: a server without a usable "
					"hostname", a->what, a->url);
			continue;
		}
		c = setup_disc_add(d, proto, tls, host, s->port != 0 ?
				   s->port : setup_default_port(proto, tls),
				   source);
		if (c == NULL)
			continue;
		if (c->user[0] == '\0' &&
		    autoconfig_expand(s->username, d->o->address, c->user,
				      sizeof(c->user)) != MS_OK)
			c->user[0] = '\0';
		if (s->socket == AUTOCONFIG_SOCKET_PLAIN && !c->is_done &&
		    !(c->sources & ~source)) {
			c->is_done = true;
			snprintf(c->res.why, sizeof(c->res.why), "the %s "
				 "%s says plain (no TLS): refused, "
				 "credentials would travel in clear",
				 a->what, a->is_autodiscover ? "answer" :
				 "file");
		} else if (s->socket == AUTOCONFIG_SOCKET_UNKNOWN) {
			setup_disc_note(d, "%s %s: %s:%u has no known TLS "
					"mode; probed with STARTTLS", a->what,
					a->url, host, (unsigned)c->port);
		}
	}
}

static void setup_ac_start(struct setup_disc *d, struct setup_ac_fetch *a);

/* The parsed autodiscover answer: servers, or one redirect followed
 * (a second is refused: redirect loops are how such answers fail). */
static void
setup_ad_take(struct setup_ac_fetch *a)
{
	struct setup_disc *d = a->d;
	enum autodiscover_action action = autodiscover_action(&a->ad);
	const char *to = autodiscover_redirect(&a->ad);

	if (action == AUTODISCOVER_ERROR) {
		setup_disc_note(d, "autodiscover %s: the server says: %s",
				a->url, autodiscover_server_error(&a->ad));
		return;
	}
	if (action != AUTODISCOVER_REDIRECT_ADDR &&
	    action != AUTODISCOVER_REDIRECT_URL) {
		setup_ac_take(a);
		return;
	}
	if (a->nredirects++ > 0 || to[0] == '\0') {
		setup_disc_note(d, "autodiscover %s: a redirect to %s not "
				"followed (one is)", a->url, to);
		return;
	}
	if (action == AUTODISCOVER_REDIRECT_URL)
		snprintf(a->url, sizeof(a->url), "%s", to);
	else if (autodiscover_request(to, a->request, sizeof(a->request)) !=
		 MS_OK) {
		setup_disc_note(d, "autodiscover %s: a redirect to an address "
				"too long", a->url);
		return;
	}
	setup_ac_start(d, a);
}

static void
setup_ac_done_cb(void *arg, int status, long code, const char *why)
{
	struct setup_ac_fetch *a = arg;
	struct setup_disc *d = a->d;
	/* The parser's reason, filled by a feed or the finish below. */
	const char *parse_why = a->is_autodiscover ?
	    autodiscover_error(&a->ad) : autoconfig_error(&a->parser);

	/* The HTTP status first: a 404 page is no parse error. */
	if (status != MS_OK)
		setup_disc_note(d, "%s %s: %s", a->what, a->url, why);
	else if (code != 200)
		setup_disc_note(d, "%s %s: HTTP %ld", a->what, a->url, code);
	else if (a->parse_rc != MS_OK)
		setup_disc_note(d, "%s %s: not a usable %s: %s", a->what,
				a->url, a->what, parse_why);
	else if ((a->is_autodiscover ? autodiscover_finish(&a->ad) :
		  autoconfig_finish(&a->parser)) != MS_OK)
		setup_disc_note(d, "%s %s: not a usable %s: %s", a->what,
				a->url, a->what, parse_why);
	else if (a->is_autodiscover)
		setup_ad_take(a);
	else
		setup_ac_take(a);
	setup_disc_done_one(d);
}

static void
setup_ac_resolved_cb(void *arg, int status, const char *why,
		     const char *addrs)
{
	struct setup_ac_fetch *a = arg;
	struct setup_disc *d = a->d;
	struct ms_err err = { 0 };

	if (status != MS_OK) {
		setup_disc_note(d, "%s %s: %s: %s", a->what, a->url, a->host,
				status == MS_ERESP ? "no such host" : why);
		setup_disc_done_one(d);
		return;
	}
	a->parse_rc = MS_OK;
	autoconfig_init(&a->parser);
	autodiscover_init(&a->ad);
	if (setup_http_fetch(d->http, a->url, addrs, a->is_autodiscover ?
			     a->request : NULL, setup_ac_data_cb,
			     setup_ac_done_cb, a, &err) != MS_OK) {
		setup_disc_note(d, "%s %s: %s", a->what, a->url, err.msg);
		setup_disc_done_one(d);
	}
}

static void
setup_ac_start(struct setup_disc *d, struct setup_ac_fetch *a)
{
	struct ms_err err = { 0 };

	a->d = d;
	if (a->what == NULL)
		a->what = a->is_autodiscover ? "autodiscover" : "autoconfig";
	if (setup_http_url_host(a->url, a->host, sizeof(a->host), &err) !=
	    MS_OK) {
		setup_disc_note(d, "%s: %s", a->what, err.msg);
		return;
	}
	d->pending++;
	setup_dns_addr(d->dns, a->host, setup_ac_resolved_cb, a);
}

/* ---- SRV and MX --------------------------------------------------------- */

static void
setup_srv_cb(void *arg, int status, const char *why,
	     const struct setup_srv *v, size_t n)
{
	struct setup_srv_query *q = arg;
	struct setup_disc *d = q->d;

	if (status != MS_OK && status != MS_ERESP)
		setup_disc_note(d, "SRV %s: %s", q->name, why);
	for (size_t i = 0; i < n; i++) {
		struct setup_cand *c;

		/* RFC 2782: "." says the service is not offered. */
		if (v[i].target[0] == '\0') {
			if (n == 1)
				setup_disc_note(d, "SRV %s: not offered "
						"(target \".\")", q->name);
			continue;
		}
		c = setup_disc_add(d, q->proto, q->tls, v[i].target,
				   v[i].port, SETUP_SRC_SRV);
		if (c != NULL && v[i].priority < c->srv_priority) {
			c->srv_priority = v[i].priority;
			c->srv_weight = v[i].weight;
		}
	}
	setup_disc_done_one(d);
}

/* The MX host's registered-looking domain: mx1.mail.example.net ->
 * mail.example.net (drop the first label, keep at least two). */
static void
setup_mx_domain(const char *mx, char *out, size_t size)
{
	const char *dot = strchr(mx, '.');
	size_t n;

	out[0] = '\0';
	if (dot == NULL || strchr(dot + 1, '.') == NULL)
		return;
	snprintf(out, size, "%s", dot + 1);
	n = strlen(out);
	if (n > 0 && out[n - 1] == '.')
		out[n - 1] = '\0';
}

static void
setup_mx_cb(void *arg, int status, const char *why,
	    const struct setup_srv *v, size_t n)
{
	struct setup_disc *d = arg;

	if (status != MS_OK && status != MS_ERESP)
		setup_disc_note(d, "MX %s: %s", d->o->domain, why);
	if (n > 0) {
		setup_mx_domain(v[0].target, d->mx_domain,
				sizeof(d->mx_domain));
		if (strcasecmp(d->mx_domain, d->o->domain) == 0)
			d->mx_domain[0] = '\0';
	}
	setup_disc_done_one(d);
}

/* ---- phases -------------------------------------------------------------- */

static void
setup_disc_phase1(struct setup_disc *d)
{
	static const struct {
		const char *service;
		enum probe_proto proto;
		enum probe_tls tls;
	} srv[6] = {
		{ "_imaps._tcp", PROBE_IMAP, PROBE_TLS_IMPLICIT },
		{ "_imap._tcp", PROBE_IMAP, PROBE_TLS_STARTTLS },
		{ "_pop3s._tcp", PROBE_POP3, PROBE_TLS_IMPLICIT },
		{ "_pop3._tcp", PROBE_POP3, PROBE_TLS_STARTTLS },
		{ "_submissions._tcp", PROBE_SMTP, PROBE_TLS_IMPLICIT },
		{ "_submission._tcp", PROBE_SMTP, PROBE_TLS_STARTTLS },
	};

	if (d->o->autoconfig_url != NULL) {
		snprintf(d->ac[0].url, sizeof(d->ac[0].url), "%s",
			 d->o->autoconfig_url);
		setup_ac_start(d, &d->ac[0]);
	} else {
		/* Thunderbird's two places (the address is the query). */
		snprintf(d->ac[0].url, sizeof(d->ac[0].url), "https://"
			 "autoconfig.%s/mail/config-v1.1.xml?emailaddress=%s",
			 d->o->domain, d->o->address);
		snprintf(d->ac[1].url, sizeof(d->ac[1].url), "https://%s/"
			 ".well-known/autoconfig/mail/config-v1.1.xml",
			 d->o->domain);
		setup_ac_start(d, &d->ac[0]);
		setup_ac_start(d, &d->ac[1]);
		/* Microsoft's: one POST, cheap beside the probes. */
		d->ac[2].is_autodiscover = true;
		snprintf(d->ac[2].url, sizeof(d->ac[2].url), "https://"
			 "autodiscover.%s/autodiscover/autodiscover.xml",
			 d->o->domain);
		if (autodiscover_request(d->o->address, d->ac[2].request,
					 sizeof(d->ac[2].request)) == MS_OK)
			setup_ac_start(d, &d->ac[2]);
	}
	for (size_t i = 0; i < 6; i++) {
		struct setup_srv_query *q = &d->srv[i];

		q->d = d;
		q->service = srv[i].service;
		q->proto = srv[i].proto;
		q->tls = srv[i].tls;
		snprintf(q->name, sizeof(q->name), "%s.%s", q->service,
			 d->o->domain);
		d->pending++;
		setup_dns_records(d->dns, q->name, false, setup_srv_cb, q);
	}
	d->pending++;
	setup_dns_records(d->dns, d->o->domain, true, setup_mx_cb, d);
}

static bool
setup_disc_has_ok(const struct setup_disc *d, bool is_incoming)
{
	for (size_t i = 0; i < d->f->n; i++)
		if (d->f->cands[i].is_ok &&
		    (d->f->cands[i].proto == PROBE_SMTP) != is_incoming)
			return true;
	return false;
}

/* Standard names and ports under domain, for what is still missing. */
static void
setup_disc_guess(struct setup_disc *d, const char *domain, unsigned source,
		 bool want_in, bool want_out)
{
	static const struct {
		const char *label;
		enum probe_proto proto;
	} names[] = {
		{ "imap", PROBE_IMAP }, { "mail", PROBE_IMAP },
		{ "pop", PROBE_POP3 }, { "pop3", PROBE_POP3 },
		{ "mail", PROBE_POP3 },
		{ "smtp", PROBE_SMTP }, { "mail", PROBE_SMTP },
	};
	char host[SETUP_HOST_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		bool is_in = names[i].proto != PROBE_SMTP;

		if (is_in ? !want_in : !want_out)
			continue;
		if (snprintf(host, sizeof(host), "%s.%s", names[i].label,
			     domain) >= (int)sizeof(host))
			continue;
		for (int t = 0; t < 2; t++)
			(void)setup_disc_add(d, names[i].proto,
			    (enum probe_tls)t, host,
			    setup_default_port(names[i].proto,
			    (enum probe_tls)t), source);
	}
}

static void
setup_disc_phase2(struct setup_disc *d)
{
	bool want_in = !setup_disc_has_ok(d, true);
	bool want_out = !setup_disc_has_ok(d, false);

	if (!want_in && !want_out)
		return;
	if (d->mx_domain[0] != '\0')
		setup_disc_guess(d, d->mx_domain, SETUP_SRC_MX, want_in,
				 want_out);
	setup_disc_guess(d, d->o->domain, SETUP_SRC_GUESS, want_in, want_out);
	setup_disc_probe_all(d);
}

/* Nothing pending: the next phase starts (or discovery is over).  The
 * count held while a phase starts keeps a step that completes at once
 * from re-entering here. */
static void
setup_disc_settle(struct setup_disc *d)
{
	while (d->pending == 0 && d->phase != SETUP_PHASE_DONE) {
		d->pending++;
		switch (d->phase) {
		case SETUP_PHASE_SOURCES:
			d->phase = SETUP_PHASE_PROBES;
			setup_disc_probe_all(d);
			break;
		case SETUP_PHASE_PROBES:
			d->phase = SETUP_PHASE_GUESSES;
			setup_disc_phase2(d);
			break;
		default:
			d->phase = SETUP_PHASE_DONE;
			break;
		}
		d->pending--;
	}
}

int
setup_discover(uv_loop_t *loop, const struct setup_opts *o,
	       struct setup_found *found, struct ms_err *err_r)
{
	struct net_tls_ctx_params tp = { .ca_file = o->ca_file };
	struct setup_disc *d;
	int rc;

	memset(found, 0, sizeof(*found));
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	d->loop = loop;
	d->o = o;
	d->f = found;
	rc = net_tls_ctx_new(&tp, &d->tls_ctx, err_r);
	if (rc == MS_OK)
		rc = setup_dns_new(loop, o->resolver, o->timeout_ms, &d->dns,
				   err_r);
	if (rc == MS_OK)
		rc = setup_http_new(loop, o->ca_file, o->timeout_ms, &d->http,
				    err_r);
	if (rc == MS_OK) {
		d->phase = SETUP_PHASE_SOURCES;
		d->pending = 1;
		setup_disc_phase1(d);
		setup_disc_done_one(d);
		/* Every step is bounded by timeout_ms, so this ends. */
		uv_run(loop, UV_RUN_DEFAULT);
	}
	setup_http_free(d->http);
	setup_dns_free(d->dns);
	net_tls_ctx_unref(&d->tls_ctx);
	uv_run(loop, UV_RUN_DEFAULT);	/* the handles' close callbacks */
	free(d);
	return rc;
}
