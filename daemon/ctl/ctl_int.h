/*
 * ctl_int.h - what the control server's files share (not for commands:
 * they use ctl_cmd.h).
 */
#ifndef MS_CTL_INT_H
#define MS_CTL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "ctl/ctl_cmd.h"
#include "ctl/ctl_server.h"
#include "ctl/ctl_socket.h"

/* A request line is small; a longer one is garbage. */
#define CTL_REQ_MAX_LINE (64u * 1024u)
/* Replies may be large (list of a big folder); events are small, and a
 * watcher whose queue passes CTL_EVENT_BACKLOG is dropped. */
#define CTL_OUT_MAX (64u * 1024u * 1024u)
#define CTL_EVENT_BACKLOG (1u * 1024u * 1024u)
/* A payload is read from the store in pieces of this size, whenever the
 * queue holds less. */
#define CTL_BODY_PIECE (256u * 1024u)

struct ctl_listener {
	ctl_listen_fn *fn;		/* NULL: a free slot */
	void *arg;
};

struct ctl_server {
	struct ctl_host host;
	struct ctl_socket sock;
	uv_pipe_t listener;
	bool has_listener;
	struct ctl_conn *conns;		/* a list, newest first */
	unsigned n_conns;
	uint64_t next_conn_id;
	struct ctl_listener *listeners;
	size_t n_listeners;
	struct ctl_outbox_wait *outbox_waits;	/* send --wait, a list */
	bool is_closed;
	unsigned open_handles;		/* listener + conns not yet closed */
};

/* A body streamed as a reply's payload. */
struct ctl_body_stream {
	uint8_t hash[STORE_HASH_LEN];
	uint64_t off, size;
};

struct ctl_conn {
	struct ctl_server *srv;
	struct ctl_conn *next, **prevp;	/* in srv->conns */
	uint64_t id;			/* for the log */
	unsigned refs;			/* the handle's + each request's */
	uv_pipe_t pipe;
	bool is_closing;		/* ctl_conn_close() was called */
	bool is_closed;			/* the handle's close cb ran */
	bool close_after_flush;		/* a bad frame: reply, then go */
	bool is_eof;			/* the client ended its side */
	bool is_watching;
	struct ctl_decoder dec;
	uint8_t in[16384];
	struct ms_buf out;		/* queued, not yet written */
	struct ms_buf wbuf;		/* the write in flight */
	struct ms_buf later;		/* lines behind a payload */
	uv_write_t wreq;
	bool is_writing;
	struct ctl_body_stream *stream;	/* a payload still to queue */
	/* Requests read while a payload streams wait here (reading stops
	 * meanwhile), so that replies keep the order of requests. */
	struct ms_buf stash;
	bool is_read_paused;
};

/* Sends the hello and starts reading. */
void ctl_conn_start(struct ctl_conn *c);
void ctl_conn_ref(struct ctl_conn *c);
void ctl_conn_unref(struct ctl_conn *c);
void ctl_conn_close(struct ctl_conn *c, const char *why);
/* Queues one encoded line; a full queue drops the client. */
void ctl_conn_queue_reply(struct ctl_conn *c, uint64_t id, json_t *data,
			  const struct ctl_body_stream *body);
void ctl_conn_queue_error(struct ctl_conn *c, uint64_t id, const char *code,
			  const char *msg);
void ctl_conn_queue_event(struct ctl_conn *c, const char *name,
			  json_t *fields);

/* Ends every send --wait request (the server closes). */
void ctl_outbox_close_waits(struct ctl_server *s);

/* The request dispatcher (ctl_req.c). */
void ctl_req_dispatch(struct ctl_conn *c, const struct ctl_msg *m);

/* The server's bookkeeping of closed handles. */
void ctl_server__handle_closed(struct ctl_server *s);

#endif
