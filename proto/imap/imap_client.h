/*
 * imap_client.h - the IMAP client core: response parser, command output
 * buffer, tags, capabilities that change how commands are written, and
 * the two places where input and output interlock (synchronising literals
 * and STARTTLS).  Sans-I/O (STYLE.md 3); commands are built with the
 * functions in imap_cmd.h.
 *
 * Driver loop:
 *
 *	on readable bytes: imap_client_feed() / imap_client_next_event()
 *	    exactly as with imap_parser (see imap_parser.h)
 *	after handling events and after building commands:
 *	    while (imap_client_out_peek(c, &p, &n) == MS_OK && n > 0)
 *	        write p[0..n), then imap_client_out_consume(c, written)
 *
 * Synchronising literals: when a command needs "{N}" (no LITERAL+ or
 * LITERAL-, or a LITERAL- value over 4096 bytes), out_peek stops right
 * after the "{N}\r\n" line.  The core releases the rest when the server's
 * "+" continuation arrives (that event is consumed, not delivered), or
 * drops the rest of that command if the server answers it with a tagged
 * NO/BAD instead.
 *
 * STARTTLS: when the tagged OK to STARTTLS is delivered the core stops
 * accepting input: any byte fed before imap_client_starttls_done() is a
 * protocol error (it could only be injected plaintext).  The driver must
 * also report bytes it read but did not feed.
 */
#ifndef IMAP_CLIENT_H
#define IMAP_CLIENT_H

#include "common/ms.h"
#include "imap/imap_parser.h"

struct imap_client_params {
	struct imap_parser_params parser;
	size_t max_output;	/* bytes queued for the server */
	size_t max_cmd_line;	/* a command line, literals excluded */
};

void imap_client_params_default(struct imap_client_params *params);

/* Capabilities that change how the core writes commands. */
#define IMAP_CAP_LITERAL_PLUS	(1u << 0)
#define IMAP_CAP_LITERAL_MINUS	(1u << 1)
#define IMAP_CAP_SASL_IR	(1u << 2)
#define IMAP_CAP_IMAP4REV2	(1u << 3)

enum imap_client_state {
	IMAP_CLIENT_GREETING = 0,	/* waiting for the server's greeting */
	IMAP_CLIENT_READY,
	IMAP_CLIENT_IDLE,		/* IDLE sent, DONE not yet */
	IMAP_CLIENT_TLS_WAIT,		/* STARTTLS OK seen, TLS not yet up */
	IMAP_CLIENT_DEAD,		/* protocol error: drop the link */
};

struct imap_out_hold;

/* Caller-owned; treat the fields as private. */
struct imap_client {
	struct imap_parser parser;
	enum imap_client_state state;
	struct ms_buf out;	/* bytes for the server (owned) */
	size_t max_cmd_line;
	uint32_t next_tag;
	unsigned caps;		/* IMAP_CAP_* */
	uint32_t starttls_tag;	/* 0 if none pending */
	uint32_t idle_tag;
	struct imap_out_hold *holds;	/* pending sync literals (owned) */
	size_t nholds, holds_cap;
	/* Where the command being built starts, to undo it on error. */
	size_t cmd_start, cmd_holds, cmd_line_start;
	uint32_t cmd_tag;
};

/* Sets up c; params may be NULL.  Returns MS_OK or MS_ENOMEM. */
int imap_client_init(struct imap_client *c,
    const struct imap_client_params *params) MS_WUR;
/* Frees everything; the output buffer is zeroed first (it held secrets). */
void imap_client_deinit(struct imap_client *c);

/* As imap_parser_feed; also MS_EPROTO for input while waiting for TLS. */
int imap_client_feed(struct imap_client *c, const uint8_t *data, size_t len,
    size_t *consumed_r) MS_WUR;

/*
 * As imap_parser_next_event.  Besides handing out events the client
 * learns capabilities (CAPABILITY responses and codes), releases held
 * literals on "+", and stops input after a STARTTLS OK.
 */
int imap_client_next_event(struct imap_client *c, struct imap_event *ev);

/*
 * Stores in *p_r and *len_r the bytes that may be sent now (possibly 0
 * while a synchronising literal waits for "+").  The pointer is valid
 * until the next call that builds a command or consumes output.
 * Returns MS_OK.
 */
int imap_client_out_peek(struct imap_client *c, const uint8_t **p_r,
    size_t *len_r);

/* Marks n bytes (n <= the last peeked length) as written. */
void imap_client_out_consume(struct imap_client *c, size_t n);

/*
 * Tells the core that TLS is up.  unread is the number of plaintext bytes
 * the driver received after the STARTTLS response but did not feed; any
 * such byte means injected data, so MS_EPROTO is returned and the
 * connection must be dropped.  Returns MS_OK or MS_EPROTO (also when no
 * STARTTLS OK was seen).
 */
int imap_client_starttls_done(struct imap_client *c, size_t unread) MS_WUR;

/* Sets or learns capabilities (space-separated list as in CAPABILITY). */
void imap_client_set_caps(struct imap_client *c, struct ms_slice caps);

/* Returns a static name for state ("READY"). */
const char *imap_client_state_name(enum imap_client_state state);

/* Formats tag number as the client writes it ("A12") into buf (>= 12). */
void imap_client_tag_format(uint32_t tag, char *buf, size_t size);
/* Parses a tag the client wrote ("A12") into *n_r; false if not one. */
bool imap_client_tag_parse(struct ms_slice tag, uint32_t *n_r);

#endif
