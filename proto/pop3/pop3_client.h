/*
 * pop3_client.h - the POP3 client core (RFC 1939, CAPA RFC 2449, STLS
 * RFC 2595, AUTH RFC 5034).  Sans-I/O (STYLE.md 3): bytes in, events
 * out, commands appended to a bounded output buffer.
 *
 * Driver loop:
 *
 *	on readable bytes p[0..n):
 *	    rc = pop3_client_feed(c, p, n, &used);	advance p by used
 *	    while (pop3_client_next_event(c, &ev) == MS_OK) handle ev;
 *	    repeat while bytes remain and rc >= 0
 *	after handling events and after building commands:
 *	    pop3_client_out_peek(c, &p, &n), write, pop3_client_out_consume()
 *
 * pop3_client_feed() never consumes past the end of the response line (or
 * body chunk) that produces the next event: it stops there and returns
 * MS_OK until the event was taken.  So a driver that stops feeding after
 * the "+OK" to STLS leaves every later byte unconsumed, for the
 * connection to discard.  While the core waits for TLS
 * (POP3_CLIENT_TLS_WAIT) any fed byte is MS_EPROTO.
 *
 * Responses are matched to commands in the order the commands were built
 * (POP3 has no tags).  A positive answer to CAPA, UIDL and LIST without
 * argument is a listing: POP3_EV_LINE per line.  A positive answer to
 * RETR and TOP is a message: POP3_EV_BODY_CHUNK events with the
 * dot-unstuffed bytes (CRLF kept, at most max_chunk each; how the bytes
 * are split into chunks depends on how they were fed).  Both end with
 * POP3_EV_END.
 */
#ifndef MS_POP3_CLIENT_H
#define MS_POP3_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

struct pop3_client_params {
	size_t max_line;	/* a response line with CRLF; 0 = 8192 */
	size_t max_chunk;	/* body bytes per event; 0 = 16384 */
	size_t max_output;	/* queued command bytes; 0 = 64 KiB */
	/* A command line with CRLF (RFC 2449: 255); 0 = 255. */
	size_t max_cmd_line;
	/* A SASL response line; 0 = 16384. */
	size_t max_auth_line;
};

enum pop3_client_state {
	POP3_CLIENT_GREETING = 0,	/* waiting for "+OK" greeting */
	POP3_CLIENT_READY,
	POP3_CLIENT_TLS_WAIT,		/* +OK to STLS seen, TLS not up */
	POP3_CLIENT_DEAD,		/* protocol error: drop the link */
};

enum pop3_cmd {
	POP3_CMD_NONE = 0,
	POP3_CMD_GREETING,	/* the server's first line */
	POP3_CMD_CAPA,
	POP3_CMD_STLS,
	POP3_CMD_USER,
	POP3_CMD_PASS,
	POP3_CMD_AUTH,
	POP3_CMD_STAT,
	POP3_CMD_LIST,		/* with a message number: one line */
	POP3_CMD_LIST_ALL,
	POP3_CMD_UIDL,		/* with a message number */
	POP3_CMD_UIDL_ALL,
	POP3_CMD_RETR,
	POP3_CMD_TOP,
	POP3_CMD_DELE,
	POP3_CMD_NOOP,
	POP3_CMD_RSET,
	POP3_CMD_QUIT,
};

enum pop3_ev_type {
	/* "+OK"/"-ERR" to cmd: is_ok, code (RESP-CODES), text. */
	POP3_EV_STATUS = 1,
	/* "+ base64" during AUTH: text is the challenge (maybe empty). */
	POP3_EV_CONTINUATION,
	/* One dot-unstuffed listing line, without CRLF. */
	POP3_EV_LINE,
	/* Dot-unstuffed message bytes (RETR, TOP). */
	POP3_EV_BODY_CHUNK,
	/* The "." that ends a listing or message. */
	POP3_EV_END,
};

/*
 * An event.  The slices point into core memory and stay valid until the
 * next pop3_client_feed() or pop3_client_next_event() call.
 */
struct pop3_event {
	enum pop3_ev_type type;
	enum pop3_cmd cmd;	/* the command this answers */
	bool is_ok;		/* POP3_EV_STATUS */
	struct ms_slice code;	/* "[SYS/TEMP]" without brackets, or empty */
	struct ms_slice text;	/* status text, line, chunk or challenge */
};

/* Capabilities learned from CAPA (and reset by pop3_client_starttls_done). */
enum {
	POP3_CAP_STLS = 1u << 0,
	POP3_CAP_SASL = 1u << 1,
	POP3_CAP_UIDL = 1u << 2,
	POP3_CAP_TOP = 1u << 3,
	POP3_CAP_PIPELINING = 1u << 4,
	POP3_CAP_RESP_CODES = 1u << 5,
	POP3_CAP_AUTH_RESP_CODE = 1u << 6,
	POP3_CAP_USER = 1u << 7,
	POP3_CAP_CAPA = 1u << 8,	/* the server answered CAPA with +OK */
};

#define POP3_MAX_SASL_MECHS 512

enum pop3_in_mode {
	POP3_IN_STATUS = 0,	/* expecting a status (or "+ ") line */
	POP3_IN_LINES,		/* inside a listing */
	POP3_IN_BODY,		/* inside a message */
};

/* Caller-owned; treat the fields as private. */
struct pop3_client {
	enum pop3_client_state state;
	enum pop3_in_mode in_mode;
	int body_state;		/* dot-unstuffing state inside a body */
	struct ms_buf line;	/* the current response line (owned) */
	uint8_t *chunk;		/* unstuffed body bytes (owned, max_chunk) */
	size_t chunk_len;
	bool end_pending;	/* END follows the chunk being delivered */
	struct ms_buf out;	/* bytes for the server (owned, wiped) */
	bool out_has_secret;	/* wipe out once it drains */
	bool has_event;		/* ev is ready and not yet taken */
	bool line_taken;	/* line was delivered: reset on next feed */
	struct pop3_event ev;
	size_t max_chunk, max_cmd_line, max_auth_line;
	/* Commands sent and not yet answered, oldest first (ring). */
	uint8_t *cmds;
	size_t ncmds, cmds_head, cmds_cap;
	unsigned caps;
	char sasl_mechs[POP3_MAX_SASL_MECHS + 1];	/* from "SASL" */
};

/* Sets up c; params may be NULL.  Returns MS_OK or MS_ENOMEM. */
int pop3_client_init(struct pop3_client *c,
    const struct pop3_client_params *params) MS_WUR;
/* Frees everything; the output buffer is wiped (it held secrets). */
void pop3_client_deinit(struct pop3_client *c);

/*
 * Takes bytes up to the end of the next event (see above) and stores the
 * count in *consumed_r.  Returns MS_OK when an event is ready, MS_AGAIN
 * when everything was consumed without completing one, or MS_EPROTO
 * (malformed or unexpected response, input during TLS_WAIT) / MS_ETOOBIG
 * (over-long line); errors are final (state DEAD).
 */
int pop3_client_feed(struct pop3_client *c, const uint8_t *data, size_t len,
    size_t *consumed_r) MS_WUR;

/* MS_OK with *ev filled, or MS_AGAIN when no event is ready. */
int pop3_client_next_event(struct pop3_client *c, struct pop3_event *ev);

/* Bytes that may be sent now; valid until the next builder or consume. */
void pop3_client_out_peek(struct pop3_client *c, const uint8_t **p_r,
    size_t *len_r);
/* Marks n (<= peeked length) bytes as written. */
void pop3_client_out_consume(struct pop3_client *c, size_t n);

/*
 * Command builders: append one command to the output and expect its
 * answer.  Arguments must not contain CR, LF or NUL and the line must fit
 * max_cmd_line (max_auth_line for AUTH and SASL responses).  Return MS_OK;
 * MS_EINVAL (bad argument, or not READY), MS_ETOOBIG or MS_ENOMEM with
 * nothing queued.  pass, auth initial and SASL responses are secrets: the
 * output buffer is wiped once it drains.
 */
int pop3_cmd_capa(struct pop3_client *c) MS_WUR;
int pop3_cmd_stls(struct pop3_client *c) MS_WUR;
int pop3_cmd_user(struct pop3_client *c, struct ms_slice user) MS_WUR;
int pop3_cmd_pass(struct pop3_client *c, struct ms_slice pass) MS_WUR;
/* AUTH mech [initial]; initial NULL: none; an empty one is sent as "=". */
int pop3_cmd_auth(struct pop3_client *c, const char *mech,
    const struct ms_slice *initial) MS_WUR;
/* The answer to a POP3_EV_CONTINUATION (base64, may be empty); "*" cancels. */
int pop3_cmd_auth_response(struct pop3_client *c, struct ms_slice b64) MS_WUR;
int pop3_cmd_stat(struct pop3_client *c) MS_WUR;
/* msg 0: the whole listing. */
int pop3_cmd_list(struct pop3_client *c, uint32_t msg) MS_WUR;
int pop3_cmd_uidl(struct pop3_client *c, uint32_t msg) MS_WUR;
int pop3_cmd_retr(struct pop3_client *c, uint32_t msg) MS_WUR;
int pop3_cmd_top(struct pop3_client *c, uint32_t msg, uint32_t lines) MS_WUR;
int pop3_cmd_dele(struct pop3_client *c, uint32_t msg) MS_WUR;
int pop3_cmd_noop(struct pop3_client *c) MS_WUR;
int pop3_cmd_rset(struct pop3_client *c) MS_WUR;
int pop3_cmd_quit(struct pop3_client *c) MS_WUR;

/*
 * Tells the core that TLS is up after the +OK to STLS: capabilities are
 * forgotten (ask CAPA again).  Bytes that arrived after the +OK must have
 * been discarded by the driver, never fed.  Returns MS_OK, or MS_EPROTO
 * when no STLS +OK was seen.
 */
int pop3_client_starttls_done(struct pop3_client *c) MS_WUR;

/* Commands built whose answer has not completed. */
size_t pop3_client_pending(const struct pop3_client *c);

/* POP3_CAP_* bits and the "SASL" mechanisms (space-separated). */
unsigned pop3_client_caps(const struct pop3_client *c);
struct ms_slice pop3_client_sasl_mechs(const struct pop3_client *c);

/* Static names ("READY", "RETR") for traces. */
const char *pop3_client_state_name(enum pop3_client_state state);
const char *pop3_cmd_name(enum pop3_cmd cmd);

#endif
