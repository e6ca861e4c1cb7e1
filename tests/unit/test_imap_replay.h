/*
 * test_imap_replay.h - feeds bytes to an imap_parser cut at chosen split
 * points and records the events in canonical text, so that tests and the
 * fuzzer can require "whole == split" exactly.  Body chunks are merged
 * into one line per body, since chunk boundaries follow the feed sizes.
 * Header-only so both tests/unit and tests/fuzz can include it.
 */
#ifndef TEST_IMAP_REPLAY_H
#define TEST_IMAP_REPLAY_H

#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"

struct imap_replay {
	struct ms_buf out;	/* canonical events */
	struct ms_buf body;	/* the body being collected */
	bool in_body;
	uint64_t body_size;
};

static int
imap_replay_event(struct imap_replay *r, const struct imap_event *ev)
{
	struct imap_event whole;
	int rc;

	if (ev->type == IMAP_EV_FETCH_BODY) {
		ms_buf_reset(&r->body);
		r->in_body = !ev->u.body.is_nil && ev->u.body.size > 0;
		r->body_size = ev->u.body.size;
		return imap_event_format(ev, &r->out);
	}
	if (ev->type != IMAP_EV_LITERAL_CHUNK)
		return imap_event_format(ev, &r->out);
	/* A chunk must continue exactly where the last one ended. */
	if (!r->in_body || ev->u.chunk.offset != r->body.len ||
	    ev->u.chunk.is_last !=
	    (r->body.len + ev->u.chunk.data.len == r->body_size))
		return ms_buf_append_cstr(&r->out, "BAD_CHUNK\n");
	if (ev->u.chunk.data.len > 0 && (rc = ms_buf_append(&r->body,
	    ev->u.chunk.data.p, ev->u.chunk.data.len)) != MS_OK)
		return rc;
	if (!ev->u.chunk.is_last)
		return MS_OK;
	r->in_body = false;
	whole = *ev;
	whole.u.chunk.data = (struct ms_slice){ r->body.p, r->body.len };
	whole.u.chunk.offset = 0;
	return imap_event_format(&whole, &r->out);
}

/*
 * Parses data[0, len) fed in pieces cut at splits[0..nsplits) (ascending)
 * with a fresh parser, appending canonical events and a final "END" line
 * to *out_r (initialised here; the caller frees it with ms_buf_deinit).
 * Returns the last feed result.
 */
static int
imap_replay_run(const struct imap_parser_params *params, const uint8_t *data,
    size_t len, const size_t *splits, size_t nsplits, struct ms_buf *out_r)
{
	struct imap_parser p;
	struct imap_replay r;
	struct imap_event ev;
	size_t a = 0, n;
	int rc = MS_AGAIN;

	ms_buf_init(&r.out, (size_t)1 << 30);
	ms_buf_init(&r.body, (size_t)1 << 30);
	r.in_body = false;
	r.body_size = 0;
	if (imap_parser_init(&p, params) != MS_OK) {
		*out_r = r.out;
		ms_buf_deinit(&r.body);
		return MS_ENOMEM;
	}
	for (size_t k = 0; k <= nsplits && rc >= 0; k++) {
		size_t b = k < nsplits ? splits[k] : len;

		if (b < a || b > len)
			continue;
		while (rc >= 0) {
			rc = imap_parser_feed(&p, data + a, b - a, &n);
			a += n;
			while (imap_parser_next_event(&p, &ev) == MS_OK)
				if (imap_replay_event(&r, &ev) != MS_OK)
					abort();
			if (rc == MS_AGAIN && a == b)
				break;
		}
	}
	if (ms_buf_printf(&r.out, "END rc=%s\n", ms_strerror(rc)) != MS_OK)
		abort();
	imap_parser_deinit(&p);
	ms_buf_deinit(&r.body);
	*out_r = r.out;
	return rc;
}

#endif
