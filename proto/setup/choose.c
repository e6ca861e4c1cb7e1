/*
 * choose.c - which of the probed servers `mailsyncctl setup`
 * recommends, as pure functions of the candidates (unit-tested): only a
 * server whose probe succeeded (TLS verified, capabilities read); IMAP
 * over POP3 unless --pop3 asks otherwise; implicit TLS over STARTTLS
 * (RFC 8314); then the more authoritative source (the provider's
 * autoconfig file, its autodiscover answer, its SRV records, the MX
 * host's domain, a guess); then
 * SRV priority and weight; then the order found.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "setup/choose.h"

/* Providers that refuse passwords (app passwords aside) for IMAP, POP3
 * and SMTP: Google since 2022, Microsoft 365 and Outlook.com since 2022
 * ("basic authentication" retired). */
static const struct {
	const char *suffix;
	const char *name;
} setup_oauth_only[] = {
	{ "gmail.com", "Google" },
	{ "googlemail.com", "Google" },
	{ "google.com", "Google" },
	{ "outlook.com", "Microsoft" },
	{ "office365.com", "Microsoft" },
	{ "hotmail.com", "Microsoft" },
	{ "live.com", "Microsoft" },
};

static bool
setup_host_in(const char *host, const char *domain)
{
	size_t h = strlen(host), d = strlen(domain);

	while (h > 0 && host[h - 1] == '.')
		h--;		/* a trailing dot: the root */
	if (h < d || strncasecmp(host + h - d, domain, d) != 0)
		return false;
	return h == d || host[h - d - 1] == '.';
}

const char *
setup_oauth_provider(const char *host)
{
	for (size_t i = 0; i < sizeof(setup_oauth_only) /
	     sizeof(setup_oauth_only[0]); i++)
		if (setup_host_in(host, setup_oauth_only[i].suffix))
			return setup_oauth_only[i].name;
	return NULL;
}

/* Offered mechanisms that are all OAuth: no password would work. */
static bool
setup_mechs_oauth_only(const char *mechs)
{
	bool has_oauth = false, has_other = false;

	while (*mechs != '\0') {
		size_t n = strcspn(mechs, " ");

		if ((n == 7 && strncmp(mechs, "XOAUTH2", 7) == 0) ||
		    (n == 11 && strncmp(mechs, "OAUTHBEARER", 11) == 0))
			has_oauth = true;
		else if (n > 0)
			has_other = true;
		mechs += n;
		mechs += strspn(mechs, " ");
	}
	return has_oauth && !has_other;
}

const char *
setup_oauth_required(const struct setup_cand *c)
{
	if (c->oauth_provider != NULL)
		return c->oauth_provider;
	if (c->is_ok && setup_mechs_oauth_only(c->res.mechs))
		return "this server";
	return NULL;
}

/* The most authoritative source that proposed it: 0 is best. */
static unsigned
setup_source_rank(unsigned sources)
{
	for (unsigned i = 0; i < SETUP_SRC_COUNT; i++)
		if (sources & (1u << i))
			return i;
	return SETUP_SRC_COUNT;
}

/* Negative when a is better than b. */
static int
setup_compare(const struct setup_cand *a, const struct setup_cand *b,
	      enum probe_proto want)
{
	if ((a->proto == want) != (b->proto == want))
		return a->proto == want ? -1 : 1;
	if (a->tls != b->tls)
		return a->tls == PROBE_TLS_IMPLICIT ? -1 : 1;
	if (setup_source_rank(a->sources) != setup_source_rank(b->sources))
		return setup_source_rank(a->sources) <
		       setup_source_rank(b->sources) ? -1 : 1;
	if (a->srv_priority != b->srv_priority)
		return a->srv_priority < b->srv_priority ? -1 : 1;
	if (a->srv_weight != b->srv_weight)
		return a->srv_weight > b->srv_weight ? -1 : 1;
	return 0;
}

static int
setup_choose(const struct setup_found *f, bool is_incoming,
	     enum probe_proto want)
{
	int best = -1;

	for (size_t i = 0; i < f->n; i++) {
		const struct setup_cand *c = &f->cands[i];

		if (!c->is_ok || (c->proto == PROBE_SMTP) == is_incoming)
			continue;
		if (best < 0 || setup_compare(c, &f->cands[best], want) < 0)
			best = (int)i;
	}
	return best;
}

int
setup_choose_incoming(const struct setup_found *f, bool want_pop3)
{
	return setup_choose(f, true, want_pop3 ? PROBE_POP3 : PROBE_IMAP);
}

int
setup_choose_outgoing(const struct setup_found *f)
{
	return setup_choose(f, false, PROBE_SMTP);
}

void
setup_sources_name(unsigned sources, char *buf, size_t size)
{
	static const char *const names[SETUP_SRC_COUNT] = { "autoconfig",
		"autodiscover", "SRV", "MX", "guess" };
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < SETUP_SRC_COUNT; i++) {
		if (!(sources & (1u << i)) || o >= size)
			continue;
		o += (size_t)snprintf(buf + o, size - o, "%s%s",
				      o > 0 ? "+" : "", names[i]);
	}
}
