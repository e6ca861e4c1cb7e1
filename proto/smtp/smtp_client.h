/*
 * smtp_client.h - the SMTP client core (RFC 5321, ESMTP extensions,
 * STARTTLS RFC 3207, AUTH RFC 4954, enhanced status codes RFC 3463).
 * Sans-I/O (STYLE.md 3); the driver loop is the one of pop3_client.h:
 *
 *	rc = smtp_client_feed(c, p, n, &used); advance p by used;
 *	while (smtp_client_next_event(c, &ev) == MS_OK) handle ev;
 *	smtp_client_out_peek() / write / smtp_client_out_consume()
 *
 * smtp_client_feed() never consumes past the end of the reply that
 * produces the next event, so a driver that stops at the 220 answering
 * STARTTLS leaves every later byte unconsumed for the connection to
 * discard; while the core waits for TLS any fed byte is MS_EPROTO.
 *
 * Every reply (one line or a "250-" continuation series) is one event,
 * matched to the commands in the order they were built.  "334" to AUTH is
 * SMTP_EV_AUTH_CHALLENGE; the 354 to DATA is an ordinary reply after which
 * the message goes through smtp_client_data_write() and
 * smtp_client_data_end(), whose reply is reported for SMTP_CMD_DATA_END.
 */
#ifndef MS_SMTP_CLIENT_H
#define MS_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

struct smtp_client_params {
	size_t max_line;	/* one reply line with CRLF; 0 = 4096 */
	size_t max_reply;	/* text of a whole reply; 0 = 16384 */
	size_t max_output;	/* queued bytes; 0 = 1 MiB */
	size_t max_cmd_line;	/* a command line (RFC 5321: 512); 0 = 512 */
	size_t max_auth_line;	/* an AUTH line or SASL response; 0 = 16384 */
};

enum smtp_client_state {
	SMTP_CLIENT_GREETING = 0,
	SMTP_CLIENT_READY,
	SMTP_CLIENT_TLS_WAIT,	/* 220 to STARTTLS seen, TLS not up */
	SMTP_CLIENT_DEAD,
};

enum smtp_cmd {
	SMTP_CMD_NONE = 0,	/* an unsolicited 421 */
	SMTP_CMD_GREETING,
	SMTP_CMD_EHLO,
	SMTP_CMD_HELO,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_DATA_END,	/* the "." after the message */
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
};

enum smtp_ev_type {
	SMTP_EV_REPLY = 1,
	SMTP_EV_AUTH_CHALLENGE,	/* 334: text is the base64 challenge */
};

/*
 * A reply.  text holds the text of every line (after the code and the
 * enhanced code), joined with '\n'.  Slices point into core memory and
 * stay valid until the next feed or next_event call.
 */
struct smtp_event {
	enum smtp_ev_type type;
	enum smtp_cmd cmd;
	int code;		/* 3 digits */
	/* Enhanced status "class.subject.detail" from the first line. */
	bool has_enhanced;
	int enh_class, enh_subject, enh_detail;
	struct ms_slice text;
};

/* EHLO keywords (reset by every EHLO reply and by STARTTLS). */
enum {
	SMTP_EXT_STARTTLS = 1u << 0,
	SMTP_EXT_AUTH = 1u << 1,
	SMTP_EXT_SIZE = 1u << 2,
	SMTP_EXT_PIPELINING = 1u << 3,
	SMTP_EXT_8BITMIME = 1u << 4,
	SMTP_EXT_SMTPUTF8 = 1u << 5,
	SMTP_EXT_ENHANCEDSTATUSCODES = 1u << 6,
	SMTP_EXT_EHLO = 1u << 7,	/* EHLO was answered with 250 */
};

#define SMTP_MAX_AUTH_MECHS 512
/* Commands in flight at most (builders then return MS_ETOOBIG). */
#define SMTP_MAX_PIPELINE 128

/*
 * The DATA body encoder: dot-stuffs lines starting with '.', turns bare
 * LF and bare CR into CRLF.  Streaming: state carries over between calls.
 */
struct smtp_data_enc {
	bool is_bol;		/* at the start of a line */
	bool has_cr;		/* a CR was the last byte seen */
};

void smtp_data_enc_init(struct smtp_data_enc *e);
/*
 * Appends the encoding of p[0..len) to out (at most 2 * len + 2 bytes).
 * Returns MS_OK, or MS_ETOOBIG/MS_ENOMEM with out and e unchanged.
 */
int smtp_data_enc_feed(struct smtp_data_enc *e, struct ms_buf *out,
    const uint8_t *p, size_t len) MS_WUR;
/* Appends the line end still owed (if any) and ".\r\n". */
int smtp_data_enc_finish(struct smtp_data_enc *e, struct ms_buf *out) MS_WUR;

/* Caller-owned; treat the fields as private. */
struct smtp_client {
	enum smtp_client_state state;
	struct ms_buf line;	/* the current line (owned) */
	struct ms_buf text;	/* the reply's text so far (owned) */
	size_t max_reply;
	int cur_code;		/* code of the reply's first line, or 0 */
	bool cur_has_enh;	/* its enhanced status code, if any */
	int cur_enh[3];
	bool line_taken;
	bool has_event;
	struct smtp_event ev;
	struct ms_buf out;	/* bytes for the server (owned, wiped) */
	bool out_has_secret;
	size_t max_cmd_line, max_auth_line;
	/* Commands awaiting a reply, oldest first (ring). */
	uint8_t cmds[SMTP_MAX_PIPELINE];
	size_t ncmds, cmds_head;
	size_t nlines;		/* lines of the current reply so far */
	bool in_data;		/* 354 seen, message being written */
	struct smtp_data_enc enc;
	unsigned exts;
	uint64_t size_limit;	/* SIZE n, 0 if none or unlimited */
	char auth_mechs[SMTP_MAX_AUTH_MECHS + 1];
};

int smtp_client_init(struct smtp_client *c,
    const struct smtp_client_params *params) MS_WUR;
/* Frees everything; the output buffer is wiped. */
void smtp_client_deinit(struct smtp_client *c);

/*
 * Takes bytes up to the end of the next reply.  Returns MS_OK when an
 * event is ready, MS_AGAIN when all bytes were consumed, or (final, state
 * DEAD) MS_EPROTO (malformed reply, codes differing within one reply, a
 * reply nothing asked for, input during TLS_WAIT) / MS_ETOOBIG.
 */
int smtp_client_feed(struct smtp_client *c, const uint8_t *data, size_t len,
    size_t *consumed_r) MS_WUR;
/* MS_OK with *ev, or MS_AGAIN. */
int smtp_client_next_event(struct smtp_client *c, struct smtp_event *ev);

void smtp_client_out_peek(struct smtp_client *c, const uint8_t **p_r,
    size_t *len_r);
void smtp_client_out_consume(struct smtp_client *c, size_t n);

/*
 * Builders: append one command and expect its reply.  Arguments must not
 * hold CR, LF or NUL; lines must fit max_cmd_line (max_auth_line for AUTH
 * and SASL responses).  MS_OK, or MS_EINVAL (bad argument, not READY),
 * MS_ETOOBIG, MS_ENOMEM with nothing queued.
 */
int smtp_cmd_ehlo(struct smtp_client *c, const char *domain) MS_WUR;
int smtp_cmd_helo(struct smtp_client *c, const char *domain) MS_WUR;
int smtp_cmd_starttls(struct smtp_client *c) MS_WUR;
/* AUTH mech [initial]; an empty initial response is sent as "=". */
int smtp_cmd_auth(struct smtp_client *c, const char *mech,
    const struct ms_slice *initial) MS_WUR;
/* The answer to a 334 (base64, may be empty; "*" cancels). */
int smtp_cmd_auth_response(struct smtp_client *c, struct ms_slice b64) MS_WUR;
/* MAIL FROM:<from>[ params]; from may be empty (null reverse path). */
int smtp_cmd_mail(struct smtp_client *c, struct ms_slice from,
    const char *params) MS_WUR;
int smtp_cmd_rcpt(struct smtp_client *c, struct ms_slice to,
    const char *params) MS_WUR;
int smtp_cmd_data(struct smtp_client *c) MS_WUR;
int smtp_cmd_rset(struct smtp_client *c) MS_WUR;
int smtp_cmd_noop(struct smtp_client *c) MS_WUR;
int smtp_cmd_quit(struct smtp_client *c) MS_WUR;

/*
 * After the 354 to DATA: appends the encoded message bytes to the output
 * (feed in pieces; drain the output between them), then ends the message
 * with smtp_client_data_end(), which expects the final reply.  MS_EINVAL
 * outside a DATA phase.
 */
int smtp_client_data_write(struct smtp_client *c, const uint8_t *p,
    size_t len) MS_WUR;
int smtp_client_data_end(struct smtp_client *c) MS_WUR;

/* After the 220 to STARTTLS, TLS is up: extensions forgotten; EHLO again. */
int smtp_client_starttls_done(struct smtp_client *c) MS_WUR;

size_t smtp_client_pending(const struct smtp_client *c);
unsigned smtp_client_exts(const struct smtp_client *c);
/* "AUTH" mechanisms of the last EHLO, space-separated. */
struct ms_slice smtp_client_auth_mechs(const struct smtp_client *c);
uint64_t smtp_client_size_limit(const struct smtp_client *c);

const char *smtp_client_state_name(enum smtp_client_state state);
const char *smtp_cmd_name(enum smtp_cmd cmd);

#endif
