/*
 * choose.h - the servers `mailsyncctl setup` found, and which of them it
 * recommends: pure functions of the candidates (probed elsewhere), so a
 * unit test drives the policy.
 */
#ifndef MS_SETUP_CHOOSE_H
#define MS_SETUP_CHOOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "setup/probe.h"

/* Where a candidate came from (a bit each: several sources may agree),
 * most authoritative first. */
enum {
	SETUP_SRC_AUTOCONFIG = 1u << 0,
	SETUP_SRC_AUTODISCOVER = 1u << 1,
	SETUP_SRC_SRV = 1u << 2,
	SETUP_SRC_MX = 1u << 3,		/* a guess under the MX host's domain */
	SETUP_SRC_GUESS = 1u << 4,	/* a guess under the address's domain */
};
#define SETUP_SRC_COUNT 5

#define SETUP_MAX_CANDS 64
#define SETUP_HOST_MAX 256
#define SETUP_ADDRS_MAX 256	/* a few addresses, space-separated */

/* One server to probe: protocol, TLS mode, host and port. */
struct setup_cand {
	enum probe_proto proto;
	enum probe_tls tls;
	char host[SETUP_HOST_MAX];
	uint16_t port;
	unsigned sources;		/* SETUP_SRC_* */
	/* Lower is better: SRV priority, then weight (higher first). */
	unsigned srv_priority, srv_weight;
	char user[SETUP_HOST_MAX];	/* autoconfig's username, expanded */
	/* The probe's outcome. */
	bool is_done;
	bool is_ok;
	char addrs[SETUP_ADDRS_MAX];	/* resolved, tried in order */
	char addr[64];			/* the address connected to */
	char tls_version[16];
	struct probe_result res;	/* res.why when !is_ok */
	/* Named when the provider only takes OAuth (Google, Microsoft). */
	const char *oauth_provider;
};

struct setup_found {
	struct setup_cand cands[SETUP_MAX_CANDS];
	size_t n;
	/* One line per source that gave nothing, and why (shown). */
	char notes[16][300];
	size_t nnotes;
};

/*
 * Index of the recommended reading server (IMAP, or POP3 with
 * want_pop3; implicit TLS over STARTTLS; a verified probe over one that
 * failed; then source and SRV priority), or -1 when none worked.
 */
int setup_choose_incoming(const struct setup_found *f, bool want_pop3);
/* Index of the recommended SMTP server, or -1. */
int setup_choose_outgoing(const struct setup_found *f);
/* The provider that takes only OAuth for host ("Google"), or NULL. */
const char *setup_oauth_provider(const char *host);
/*
 * Who takes only OAuth for c: its provider by host name, "this server"
 * when every mechanism it offered is XOAUTH2 or OAUTHBEARER, or NULL.
 */
const char *setup_oauth_required(const struct setup_cand *c);
/* "autoconfig+SRV" of a sources mask, into buf. */
void setup_sources_name(unsigned sources, char *buf, size_t size);

#endif
