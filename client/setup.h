/*
 * setup.h - what the files of `mailsyncctl setup` share.  The command
 * (setup_cmd.c) runs one libuv loop that drives discovery
 * (setup_discover.c): DNS through c-ares (setup_dns.c), the autoconfig
 * file over HTTPS through libcurl's multi interface (setup_http.c), and
 * a probe of every candidate server (setup_probe_net.c: the daemon's
 * net_conn and TLS verification around proto/setup/probe).  The choice
 * (setup_choose.c) is a pure function of the candidates; writing the
 * account into the configuration file is setup_write.c.
 */
#ifndef MS_SETUP_H
#define MS_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "common/ms.h"
#include "net/tls.h"
#include "setup/choose.h"
#include "setup/probe.h"

struct setup_opts {
	const char *address;		/* you@example.com */
	const char *domain;		/* within address */
	const char *resolver;		/* --resolver IP[:PORT], or NULL */
	const char *autoconfig_url;	/* --autoconfig-url, or NULL */
	const char *ca_file;		/* --ca-file, or NULL */
	unsigned timeout_ms;		/* per probe and per lookup */
	bool want_pop3;
	bool is_verbose;		/* every source's lookups shown */
};

/* ---- DNS (setup_dns.c) -------------------------------------------------- */

struct setup_dns;

/* An SRV record, or an MX record (port and weight 0). */
struct setup_srv {
	char target[SETUP_HOST_MAX];	/* "" for "." (service not offered) */
	uint16_t port;
	unsigned short priority, weight;
};

/* status: MS_OK, or a negative code with why ("NXDOMAIN", "timeout");
 * the records sorted by priority (MX: preference). */
typedef void setup_dns_records_cb(void *arg, int status, const char *why,
				  const struct setup_srv *v, size_t n);
/* addrs: up to 4 addresses as text, space-separated. */
typedef void setup_dns_addr_cb(void *arg, int status, const char *why,
			       const char *addrs);

/*
 * A c-ares channel on the loop; resolver (IP[:PORT], "[IPv6]:PORT") or
 * NULL for the system's resolv.conf.  MS_OK, or MS_EINVAL / MS_EINTERNAL
 * with err_r set.
 */
int setup_dns_new(uv_loop_t *loop, const char *resolver, unsigned timeout_ms,
		  struct setup_dns **dns_r, struct ms_err *err_r) MS_WUR;
/* Cancels pending queries (their callbacks fire with MS_ECANCELED) and
 * closes the handles; the loop must run once more to finish closing. */
void setup_dns_free(struct setup_dns *dns);

/* The callbacks fire once each, from the loop or (a cached or local
 * answer, an error) before the call returns. */
void setup_dns_records(struct setup_dns *dns, const char *name, bool is_mx,
		       setup_dns_records_cb *cb, void *arg);
void setup_dns_addr(struct setup_dns *dns, const char *host,
		    setup_dns_addr_cb *cb, void *arg);

/* ---- HTTPS (setup_http.c) ----------------------------------------------- */

struct setup_http;

/* Body bytes as they arrive; false stops the transfer. */
typedef bool setup_http_data_cb(void *arg, const uint8_t *p, size_t n);
/* The end: status MS_OK with the HTTP code, or an error with why. */
typedef void setup_http_done_cb(void *arg, int status, long code,
				const char *why);

int setup_http_new(uv_loop_t *loop, const char *ca_file, unsigned timeout_ms,
		   struct setup_http **http_r, struct ms_err *err_r) MS_WUR;
void setup_http_free(struct setup_http *http);

/*
 * GETs url, or POSTs post_xml to it when not NULL (https only, verified,
 * redirects only to https), connecting to addrs (IP literals the caller
 * resolved, space-separated) for the URL's host.  The callbacks fire from
 * the loop; done exactly once.
 */
int setup_http_fetch(struct setup_http *http, const char *url,
		     const char *addrs, const char *post_xml,
		     setup_http_data_cb *data_cb, setup_http_done_cb *done_cb,
		     void *arg, struct ms_err *err_r) MS_WUR;

/* The host and port of an https URL: MS_OK, or MS_EINVAL with err_r. */
int setup_http_url_host(const char *url, char *host, size_t size,
			struct ms_err *err_r) MS_WUR;

/* ---- probing (setup_probe_net.c) ----------------------------------------- */

typedef void setup_probe_cb(struct setup_cand *c, void *arg);

/*
 * Probes c at c->addrs (resolved by the caller) with tls_ctx's trust
 * anchors; fills c's outcome and calls cb once, from the loop.  MS_OK,
 * or an error with c's outcome filled and no callback.
 */
int setup_probe_start(uv_loop_t *loop, struct net_tls_ctx *tls_ctx,
		      struct setup_cand *c, unsigned timeout_ms,
		      setup_probe_cb *cb, void *arg) MS_WUR;

/* ---- discovery (setup_discover.c) ---------------------------------------- */

/* Runs every source and probe to the end on loop.  MS_OK, or an error
 * that stopped everything (err_r). */
int setup_discover(uv_loop_t *loop, const struct setup_opts *opts,
		   struct setup_found *found, struct ms_err *err_r) MS_WUR;

/* ---- writing (setup_write.c) --------------------------------------------- */

struct setup_account {
	char name[64];
	const struct setup_cand *in;	/* may be NULL: send-only */
	const struct setup_cand *out;	/* may be NULL: no sending */
	const char *user;
	const char *password_cmd;	/* or NULL with oauth_token_cmd */
	const char *oauth_token_cmd;
	const char *auth;		/* "xoauth2" or NULL */
	const char *maildir;
	const char *from;
	const char *ca_file;
};

/* The [account NAME] section as text (owned by out). */
int setup_write_section(const struct setup_account *a, struct ms_buf *out)
	MS_WUR;

/*
 * Appends the section to path (created 0600 with its directory when
 * missing; an existing file keeps every byte, mode and owner and gets
 * the section at the end, replaced atomically), after checking the
 * result as --check-config does; prints problems.  MS_OK, MS_ECONFIG
 * (invalid, nothing written) or MS_EIO.
 */
int setup_write_config(const char *path, const char *section,
		       const char *account_name, FILE *errout) MS_WUR;

#endif
