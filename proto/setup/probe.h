/*
 * probe.h - what `mailsyncctl setup` asks a candidate server before it
 * proposes it: the greeting, the capabilities (IMAP CAPABILITY, POP3
 * CAPA, SMTP EHLO), STARTTLS when the candidate is a STARTTLS one, the
 * capabilities again under TLS, the authentication mechanisms, then a
 * polite LOGOUT/QUIT.  No login is attempted.  Sans-I/O over the
 * existing client cores (imap_client, pop3_client, smtp_client): bytes
 * in, commands out, a result at the end.
 *
 * Driver loop (client/setup_probe_net.c):
 *
 *	connected (implicit TLS: after the verified handshake): nothing
 *	    to send, every protocol here waits for the server's greeting
 *	on bytes: probe_feed(p, data, len, &used); keep the rest
 *	    state PROBE_WANT_TLS: switch to TLS (the bytes after the reply
 *	        are discarded, never fed), then probe_tls_done()
 *	    state PROBE_DONE: the result is final; close once the LOGOUT /
 *	        QUIT reply came (probe_is_finished()) or the server closed
 *	after every call: write probe_out_peek(), then probe_out_consume()
 *
 * probe_feed() stops after the reply that asks for TLS, so bytes after
 * it stay unconsumed for the connection to discard.
 */
#ifndef MS_PROBE_H
#define MS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"
#include "imap/imap_client.h"
#include "pop3/pop3_client.h"
#include "smtp/smtp_client.h"

enum probe_proto {
	PROBE_IMAP = 0,
	PROBE_POP3,
	PROBE_SMTP,
};

enum probe_tls {
	PROBE_TLS_IMPLICIT = 0,		/* TLS before the first byte */
	PROBE_TLS_STARTTLS,		/* plaintext, then STARTTLS / STLS */
};

enum probe_state {
	PROBE_GREETING = 0,	/* waiting for the server's greeting */
	PROBE_CAPS,		/* capabilities asked (STARTTLS: before TLS) */
	PROBE_STARTTLS,		/* STARTTLS asked */
	PROBE_WANT_TLS,		/* the driver must start TLS now */
	PROBE_CAPS_TLS,		/* capabilities asked under TLS */
	PROBE_QUIT,		/* result final; LOGOUT/QUIT asked */
	PROBE_DONE,		/* result final; LOGOUT/QUIT answered */
	PROBE_FAILED,		/* result final: refused or broken (why) */
};

#define PROBE_MAX_CAPS 1024
#define PROBE_MAX_MECHS 256

/* What the probe learnt; strings NUL-terminated. */
struct probe_result {
	bool has_starttls;		/* offered before TLS */
	bool is_login_disabled;		/* IMAP LOGINDISABLED under TLS */
	bool has_user;			/* POP3 USER/PASS offered */
	/* Capabilities under TLS, space-separated, as the server wrote them. */
	char caps[PROBE_MAX_CAPS];
	/* SASL mechanisms under TLS, upper case, space-separated. */
	char mechs[PROBE_MAX_MECHS];
	/* The greeting's text, for the table (bounded, control chars gone). */
	char greeting[128];
	char why[512];			/* PROBE_FAILED: the reason */
};

/* Caller-owned; treat the fields as private. */
struct probe {
	enum probe_proto proto;
	enum probe_tls tls;
	enum probe_state state;
	char ehlo_name[64];
	uint32_t tag;			/* IMAP: the tag of the command sent */
	bool is_tls_up;
	union {
		struct imap_client imap;
		struct pop3_client pop3;
		struct smtp_client smtp;
	} core;
	struct probe_result res;
};

/*
 * Sets up a probe.  ehlo_name is the name SMTP's EHLO gives (a host
 * name of ours; copied, at most 63 bytes).  Returns MS_OK or MS_ENOMEM.
 */
int probe_init(struct probe *p, enum probe_proto proto, enum probe_tls tls,
    const char *ehlo_name) MS_WUR;
void probe_deinit(struct probe *p);

/*
 * Takes bytes from the server (see above); *used_r is how many.  Errors
 * end in PROBE_FAILED with the reason in the result.
 */
void probe_feed(struct probe *p, const uint8_t *data, size_t len,
    size_t *used_r);

/* TLS is up after PROBE_WANT_TLS: the capabilities are asked again. */
void probe_tls_done(struct probe *p);

/* The connection ended (EOF or error) before PROBE_DONE: why. */
void probe_closed(struct probe *p, const char *why);

void probe_out_peek(struct probe *p, const uint8_t **p_r, size_t *len_r);
void probe_out_consume(struct probe *p, size_t n);

enum probe_state probe_get_state(const struct probe *p);
/* The result is final: it worked (QUIT, DONE) or failed (FAILED). */
bool probe_is_finished(const struct probe *p);
bool probe_is_ok(const struct probe *p);
const struct probe_result *probe_get_result(const struct probe *p);

const char *probe_state_name(enum probe_state state);
const char *probe_proto_name(enum probe_proto proto);

#endif
