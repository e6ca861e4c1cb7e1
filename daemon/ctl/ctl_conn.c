/*
 * ctl_conn.c - one control client (ctl_server.h tells the story): the
 * pipe, the decoder, the bounded output queue and a body streamed as a
 * payload.
 *
 * Output: lines are encoded into out; one write at a time takes out's
 * bytes (out and wbuf swap), so a slow client never makes us copy.  A
 * body for `cat` is read from the store a piece at a time whenever out
 * runs low, and every line queued meanwhile waits in later, so nothing
 * lands inside the payload.
 *
 * Lifetime: the handle holds one reference, each request one more
 * (ctl_cmd.h); memory goes when the last is dropped, after uv_close's
 * callback.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_int.h"
#include "log.h"
#include "ms_version.h"

static void ctl_conn_flush(struct ctl_conn *c);
static void ctl_conn_resume(struct ctl_conn *c);

void
ctl_conn_ref(struct ctl_conn *c)
{
	c->refs++;
}

static void
ctl_conn_free(struct ctl_conn *c)
{
	struct ctl_server *srv = c->srv;

	ctl_decoder_deinit(&c->dec);
	ms_buf_deinit(&c->out);
	ms_buf_deinit(&c->wbuf);
	ms_buf_deinit(&c->later);
	ms_buf_deinit(&c->stash);
	free(c->stream);
	free(c);
	ctl_server__handle_closed(srv);
}

/* A client that ended its side (EOF) goes once its requests are
 * answered and its replies written. */
static void
ctl_conn_maybe_done(struct ctl_conn *c)
{
	if (c->is_eof && c->refs == 1 && !c->is_closing) {
		c->close_after_flush = true;
		ctl_conn_flush(c);
	}
}

void
ctl_conn_unref(struct ctl_conn *c)
{
	if (c->refs == 0)
		abort();	/* a reference dropped twice */
	if (--c->refs == 0) {
		ctl_conn_free(c);
		return;
	}
	ctl_conn_maybe_done(c);
}

static void
ctl_conn_close_cb(uv_handle_t *h)
{
	struct ctl_conn *c = h->data;

	c->is_closed = true;
	*c->prevp = c->next;
	if (c->next != NULL)
		c->next->prevp = c->prevp;
	c->srv->n_conns--;
	ctl_conn_unref(c);
}

void
ctl_conn_close(struct ctl_conn *c, const char *why)
{
	if (c->is_closing)
		return;
	c->is_closing = true;
	c->is_watching = false;
	if (why != NULL)
		log_info("ctl client=%llu closed: %s",
			 (unsigned long long)c->id, why);
	else
		log_debug("ctl client=%llu closed", (unsigned long long)c->id);
	free(c->stream);
	c->stream = NULL;
	uv_read_stop((uv_stream_t *)&c->pipe);
	uv_close((uv_handle_t *)&c->pipe, ctl_conn_close_cb);
}

/* --- output ------------------------------------------------------------------ */

static void
ctl_conn_write_cb(uv_write_t *w, int status)
{
	struct ctl_conn *c = w->data;

	c->is_writing = false;
	ms_buf_reset(&c->wbuf);
	if (status < 0 && !c->is_closing)
		ctl_conn_close(c, status == UV_EPIPE || status == UV_ECONNRESET ?
			       "the client went away" : uv_strerror(status));
	else if (!c->is_closing)
		ctl_conn_flush(c);
	if (!c->is_closing && c->stream == NULL && c->is_read_paused)
		ctl_conn_resume(c);
	ctl_conn_unref(c);
}

/* Tops out up with the next piece of the body being streamed. */
static int
ctl_conn_fill_body(struct ctl_conn *c)
{
	static uint8_t piece[CTL_BODY_PIECE];
	struct ctl_body_stream *bs = c->stream;
	struct ms_err err = { 0 };
	size_t want, n = 0;
	int rc;

	while (bs != NULL && c->out.len < CTL_BODY_PIECE) {
		want = bs->size - bs->off < sizeof(piece) ?
			(size_t)(bs->size - bs->off) : sizeof(piece);
		if (want > 0) {
			rc = store_body_read(c->srv->host.store, bs->hash,
					     bs->off, piece, want, &n, &err);
			if (rc != MS_OK || n == 0) {
				/* The announced length cannot be kept: the
				 * client must see a broken stream, not a
				 * short message. */
				log_warn("ctl client=%llu: the message body "
					 "went away while sent: %s",
					 (unsigned long long)c->id,
					 rc < 0 ? err.msg : "store: not found");
				return MS_ESTORE;
			}
			if (ms_buf_append(&c->out, piece, n) != MS_OK)
				return MS_ENOMEM;
			bs->off += n;
		}
		if (bs->off == bs->size) {
			free(c->stream);
			bs = c->stream = NULL;
			if (ms_buf_append(&c->out, c->later.p, c->later.len) !=
			    MS_OK)
				return MS_ENOMEM;
			ms_buf_reset(&c->later);
		}
	}
	return MS_OK;
}

static void
ctl_conn_flush(struct ctl_conn *c)
{
	struct ms_buf tmp;
	uv_buf_t b;
	int rc;

	if (c->is_writing || c->is_closing)
		return;
	if (ctl_conn_fill_body(c) != MS_OK) {
		ctl_conn_close(c, "a body could not be read");
		return;
	}
	if (c->out.len == 0) {
		if (c->close_after_flush)
			ctl_conn_close(c, NULL);
		return;
	}
	tmp = c->wbuf;
	c->wbuf = c->out;
	c->out = tmp;
	b = uv_buf_init((char *)c->wbuf.p, (unsigned)c->wbuf.len);
	c->wreq.data = c;
	if ((rc = uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &b, 1,
			   ctl_conn_write_cb)) < 0) {
		ctl_conn_close(c, uv_strerror(rc));
		return;
	}
	c->is_writing = true;
	ctl_conn_ref(c);
}

/* Where a line goes now: behind a payload still being streamed. */
static struct ms_buf *
ctl_conn_queue(struct ctl_conn *c)
{
	return c->stream != NULL ? &c->later : &c->out;
}

static void
ctl_conn_queued(struct ctl_conn *c, int rc, const char *what)
{
	if (rc == MS_ETOOBIG) {
		log_warn("ctl client=%llu: %s does not fit its output queue "
			 "(%u MiB): dropping the client",
			 (unsigned long long)c->id, what,
			 CTL_OUT_MAX / (1024u * 1024u));
		ctl_conn_close(c, "output queue full");
		return;
	}
	if (rc < 0) {
		ctl_conn_close(c, "out of memory");
		return;
	}
	ctl_conn_flush(c);
}

void
ctl_conn_queue_reply(struct ctl_conn *c, uint64_t id, json_t *data,
		     const struct ctl_body_stream *body)
{
	int rc;

	if (c->is_closing)
		return;
	rc = ctl_encode_reply(ctl_conn_queue(c), id, data, body != NULL,
			      body != NULL ? body->size : 0);
	if (rc == MS_OK && body != NULL) {
		if (c->stream != NULL)
			abort();	/* a second payload at once */
		if ((c->stream = malloc(sizeof(*c->stream))) == NULL)
			rc = MS_ENOMEM;
		else
			*c->stream = *body;
	}
	ctl_conn_queued(c, rc, "a reply");
}

void
ctl_conn_queue_error(struct ctl_conn *c, uint64_t id, const char *code,
		     const char *msg)
{
	if (c->is_closing)
		return;
	ctl_conn_queued(c, ctl_encode_error(ctl_conn_queue(c), id, code, msg),
			"an error reply");
}

void
ctl_conn_queue_event(struct ctl_conn *c, const char *name, json_t *fields)
{
	if (c->is_closing)
		return;
	/* A watcher that stopped reading: its events would pile up
	 * without end. */
	if (c->out.len + c->wbuf.len + c->later.len > CTL_EVENT_BACKLOG) {
		log_warn("ctl client=%llu does not read its events (%u KiB "
			 "queued): dropping it", (unsigned long long)c->id,
			 CTL_EVENT_BACKLOG / 1024u);
		ctl_conn_close(c, "events not read");
		return;
	}
	ctl_conn_queued(c, ctl_encode_event(ctl_conn_queue(c), name, fields),
			"an event");
}

/* --- input ------------------------------------------------------------------- */

static void
ctl_conn_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct ctl_conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)c->in, sizeof(c->in));
}

/* A frame we cannot serve: say why, then close. */
static void
ctl_conn_refuse(struct ctl_conn *c, const char *code, const char *msg)
{
	log_warn("ctl client=%llu: %s", (unsigned long long)c->id, msg);
	uv_read_stop((uv_stream_t *)&c->pipe);
	ctl_conn_queue_error(c, 0, code, msg);
	c->close_after_flush = true;
	ctl_conn_flush(c);
}

static void
ctl_conn_on_msg(struct ctl_conn *c, const struct ctl_msg *m)
{
	char msg[200];

	switch (m->type) {
	case CTL_MSG_REQUEST:
		ctl_req_dispatch(c, m);
		return;
	case CTL_MSG_HELLO:
		if (m->proto == CTL_PROTO_VERSION)
			return;
		snprintf(msg, sizeof(msg), "this mailsyncd (%s) speaks control "
			 "protocol %d, the client %d: use the mailsyncctl of "
			 "the same version", MS_VERSION, CTL_PROTO_VERSION,
			 m->proto);
		ctl_conn_refuse(c, CTL_ERR_PROTO, msg);
		return;
	case CTL_MSG_REPLY:
	case CTL_MSG_EVENT:
		break;
	}
	ctl_conn_refuse(c, CTL_ERR_BAD_FRAME, "a client sends requests, not "
			"replies or events");
}

/*
 * Feeds p[0..n) to the decoder and serves what it yields.  Stops early
 * when a reply's payload starts streaming: the rest waits in the stash
 * and reading pauses until the payload is out.
 */
static void
ctl_conn_process(struct ctl_conn *c, const uint8_t *p, size_t n)
{
	size_t off = 0, used;
	struct ctl_event ev;
	char msg[300];
	int rc;

	while (off < n && !c->is_closing && !c->close_after_flush) {
		if (c->stream != NULL) {
			/* At most one read's worth: it fits. */
			if (ms_buf_append(&c->stash, p + off, n - off) != MS_OK) {
				ctl_conn_close(c, "out of memory");
				return;
			}
			uv_read_stop((uv_stream_t *)&c->pipe);
			c->is_read_paused = true;
			return;
		}
		rc = ctl_decoder_feed(&c->dec, p + off, n - off, &used);
		off += used;
		while (ctl_decoder_next_event(&c->dec, &ev) == MS_OK &&
		       !c->is_closing && !c->close_after_flush)
			if (ev.type == CTL_EV_MSG)
				ctl_conn_on_msg(c, &ev.msg);
		if (rc < 0) {
			snprintf(msg, sizeof(msg), "bad frame: %s",
				 c->dec.err.msg);
			ctl_conn_refuse(c, CTL_ERR_BAD_FRAME, msg);
			return;
		}
	}
}

static void
ctl_conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_conn *c = st->data;

	if (nread == UV_EOF) {
		uv_read_stop(st);
		c->is_eof = true;
		c->is_watching = false;
		ctl_conn_maybe_done(c);
		return;
	}
	if (nread < 0) {
		ctl_conn_close(c, uv_strerror((int)nread));
		return;
	}
	ctl_conn_ref(c);
	ctl_conn_process(c, (const uint8_t *)buf->base, (size_t)nread);
	ctl_conn_unref(c);
}

/* The payload is out: serve what waited, then read again. */
static void
ctl_conn_resume(struct ctl_conn *c)
{
	uint8_t *p;
	size_t n;
	int rc;

	c->is_read_paused = false;
	ctl_conn_ref(c);
	p = ms_buf_take(&c->stash, &n);
	ctl_conn_process(c, p, n);
	free(p);
	if (!c->is_closing && !c->is_read_paused && !c->is_eof &&
	    !c->close_after_flush &&
	    (rc = uv_read_start((uv_stream_t *)&c->pipe, ctl_conn_alloc_cb,
				ctl_conn_read_cb)) < 0)
		ctl_conn_close(c, uv_strerror(rc));
	ctl_conn_unref(c);
}

void
ctl_conn_start(struct ctl_conn *c)
{
	struct ctl_decoder_params dp = { .max_line = CTL_REQ_MAX_LINE };
	int rc;

	/* Requests never carry a payload (max_payload 0). */
	if (ctl_decoder_init(&c->dec, &dp) != MS_OK) {
		ctl_conn_close(c, "out of memory");
		return;
	}
	ms_buf_init(&c->out, CTL_OUT_MAX);
	ms_buf_init(&c->wbuf, CTL_OUT_MAX);
	ms_buf_init(&c->later, CTL_OUT_MAX);
	ms_buf_init(&c->stash, sizeof(c->in));
	if (ctl_encode_hello(&c->out, MS_VERSION) != MS_OK) {
		ctl_conn_close(c, "out of memory");
		return;
	}
	if ((rc = uv_read_start((uv_stream_t *)&c->pipe, ctl_conn_alloc_cb,
				ctl_conn_read_cb)) < 0) {
		ctl_conn_close(c, uv_strerror(rc));
		return;
	}
	ctl_conn_flush(c);
}
