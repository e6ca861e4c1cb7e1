/*
 * ctl_proto.h - the control protocol codec (DESIGN.md "Control
 * protocol"), shared by the daemon's control server and mailsyncctl.
 * Sans-I/O (STYLE.md 3): bytes in, messages out; messages in, one line
 * of bytes out.  JSON is jansson's; nothing here touches a socket.
 *
 * Frames are newline-delimited JSON objects, one per line:
 *	{"hello":{"proto":1,"version":"0.1.0"}}		either side, first
 *	{"id":7,"cmd":"status","args":{...}}		request
 *	{"id":7,"ok":true,"data":{...}}			reply
 *	{"id":7,"ok":false,"error":{"code":"...","message":"..."}}
 *	{"event":"progress", ...}			event
 * Any frame may announce "payload":N: exactly N raw bytes follow its
 * line (a message for `cat`), then frames resume.  Empty lines (and a
 * CR before the LF) are ignored, so that a person can talk to the socket
 * with socat.  A line longer than max_line, invalid JSON, a frame that is
 * none of the above, or a payload above max_payload is an error that
 * ends the stream: the decoder refuses every later byte.
 *
 * Driver loop (like the other cores):
 *	rc = ctl_decoder_feed(d, p, n, &used);	advance p by used
 *	while (ctl_decoder_next_event(d, &ev) == MS_OK) handle ev;
 *	repeat while bytes remain and rc >= 0
 * feed stops after the frame or payload chunk that makes an event, so
 * events arrive in stream order.
 */
#ifndef MS_CTL_PROTO_H
#define MS_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/ms.h"

/* Bump on any incompatible change (renaming or removing a field or a
 * command, changing a meaning).  Adding a field or a command is
 * compatible and does not bump it. */
#define CTL_PROTO_VERSION 1

/* Default bound of one line (the JSON and its LF). */
#define CTL_MAX_LINE_DEFAULT (1u << 20)

enum ctl_msg_type {
	CTL_MSG_HELLO = 1,
	CTL_MSG_REQUEST,
	CTL_MSG_REPLY,
	CTL_MSG_EVENT,
};

/*
 * A decoded frame.  Every pointer points into root, which the decoder
 * owns until the next feed or next_event call: json_incref() what you
 * keep.
 */
struct ctl_msg {
	enum ctl_msg_type type;
	json_t *root;			/* the whole object */
	int proto;			/* hello */
	const char *version;		/* hello; "" when absent */
	uint64_t id;			/* request, reply */
	const char *cmd;		/* request */
	json_t *args;			/* request: an object, maybe empty */
	bool is_ok;			/* reply */
	json_t *data;			/* reply with ok: maybe JSON null */
	const char *code;		/* reply without ok */
	const char *message;		/* reply without ok */
	const char *event;		/* event: its name */
	bool has_payload;		/* "payload":N follows */
	uint64_t payload_len;
};

enum ctl_ev_type {
	CTL_EV_MSG = 1,		/* msg */
	CTL_EV_PAYLOAD,		/* chunk: bytes of the announced payload */
	CTL_EV_PAYLOAD_END,	/* the announced payload is complete */
};

struct ctl_event {
	enum ctl_ev_type type;
	struct ctl_msg msg;
	/* Points into the bytes given to the last feed; valid until the
	 * caller reuses them. */
	struct ms_slice chunk;
};

struct ctl_decoder_params {
	size_t max_line;	/* 0: CTL_MAX_LINE_DEFAULT */
	uint64_t max_payload;	/* 0: payloads are refused */
};

enum ctl_decoder_state {
	CTL_DEC_LINE = 0,	/* reading a frame's line */
	CTL_DEC_PAYLOAD,	/* reading announced raw bytes */
	CTL_DEC_DEAD,		/* an error ended the stream */
};

struct ctl_decoder {
	struct ctl_decoder_params params;
	enum ctl_decoder_state state;
	struct ms_buf line;		/* the line so far, without LF */
	uint64_t payload_left;
	json_t *root;			/* the last frame's; owned */
	struct ctl_event ev;		/* ready when has_ev */
	bool has_ev;
	bool want_payload_end;		/* after the last chunk's event */
	struct ms_err err;		/* why DEAD */
};

int ctl_decoder_init(struct ctl_decoder *d,
		     const struct ctl_decoder_params *params) MS_WUR;
void ctl_decoder_deinit(struct ctl_decoder *d);

/*
 * Takes bytes of p[0..len) into the decoder; *used_r gets how many.
 * MS_OK: an event is ready (take it with next_event before feeding
 * again); MS_AGAIN: all of p was taken and more is needed; negative: the
 * stream is broken (MS_ETOOBIG for an oversized line or payload,
 * MS_EPROTO otherwise, MS_ENOMEM), with the reason in d->err.msg; every
 * later feed returns the same error.
 */
int ctl_decoder_feed(struct ctl_decoder *d, const uint8_t *p, size_t len,
		     size_t *used_r) MS_WUR;

/* MS_OK with the next event in *ev_r, or MS_AGAIN. */
int ctl_decoder_next_event(struct ctl_decoder *d, struct ctl_event *ev_r);

/*
 * Encoders: each appends one complete line (compact JSON and LF) to out,
 * or nothing: MS_ETOOBIG when the line would exceed CTL_MAX_LINE_DEFAULT
 * or out's limit, MS_ENOMEM.  JSON arguments are borrowed (not stolen)
 * and may be NULL (no args; JSON null data; no fields).
 */
int ctl_encode_hello(struct ms_buf *out, const char *version) MS_WUR;
int ctl_encode_request(struct ms_buf *out, uint64_t id, const char *cmd,
		       json_t *args) MS_WUR;
/* has_payload: "payload":payload_len, whose bytes the caller sends next. */
int ctl_encode_reply(struct ms_buf *out, uint64_t id, json_t *data,
		     bool has_payload, uint64_t payload_len) MS_WUR;
int ctl_encode_error(struct ms_buf *out, uint64_t id, const char *code,
		     const char *message) MS_WUR;
/* fields: an object whose members go next to "event". */
int ctl_encode_event(struct ms_buf *out, const char *name,
		     json_t *fields) MS_WUR;

/*
 * A JSON string of s (len bytes) that is always valid UTF-8: each byte
 * that is not part of a valid sequence (and each NUL) becomes U+FFFD, so
 * a subject in a broken charset still shows.  A new reference, or NULL
 * when out of memory.
 */
json_t *ctl_json_stringn(const char *s, size_t len);
json_t *ctl_json_string(const char *s);	/* NULL: "" */

/* The stable error codes of replies (mailsyncctl(1) lists them). */
#define CTL_ERR_BAD_FRAME "bad-frame"		/* not a valid frame */
#define CTL_ERR_PROTO "proto-mismatch"		/* another proto version */
#define CTL_ERR_UNKNOWN_COMMAND "unknown-command"
#define CTL_ERR_BAD_ARGS "bad-args"
#define CTL_ERR_NO_ACCOUNT "no-account"
#define CTL_ERR_NO_FOLDER "no-folder"
#define CTL_ERR_NO_MESSAGE "no-message"
#define CTL_ERR_STATE "not-now"			/* the state forbids it */
#define CTL_ERR_FAILED "failed"			/* sync --wait: a pass failed */
#define CTL_ERR_CONFIG "config"			/* reload: a bad file */
#define CTL_ERR_STORE "store"
#define CTL_ERR_INTERNAL "internal"

#endif
