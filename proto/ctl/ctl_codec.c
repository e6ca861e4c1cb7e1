/*
 * ctl_codec.c - the control protocol codec (ctl_proto.h): the decoder's
 * line and payload states, frame classification, and the encoders.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_proto.h"

/* --- decoder --------------------------------------------------------------- */

int
ctl_decoder_init(struct ctl_decoder *d, const struct ctl_decoder_params *params)
{
	memset(d, 0, sizeof(*d));
	d->params = *params;
	if (d->params.max_line == 0)
		d->params.max_line = CTL_MAX_LINE_DEFAULT;
	/* The LF is not kept: max_line - 1 bytes of JSON at most. */
	ms_buf_init(&d->line, d->params.max_line);
	d->state = CTL_DEC_LINE;
	return MS_OK;
}

void
ctl_decoder_deinit(struct ctl_decoder *d)
{
	ms_buf_deinit(&d->line);
	if (d->root != NULL)
		json_decref(d->root);
	d->root = NULL;
}

/* The one place the decoder dies: every later feed returns code. */
static int
ctl_decoder_fail(struct ctl_decoder *d, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
ctl_decoder_fail(struct ctl_decoder *d, int code, const char *fmt, ...)
{
	va_list ap;

	d->state = CTL_DEC_DEAD;
	d->err.code = code;
	va_start(ap, fmt);
	vsnprintf(d->err.msg, sizeof(d->err.msg), fmt, ap);
	va_end(ap);
	ms_buf_reset(&d->line);
	return code;
}

/* A non-negative integer member, or false. */
static bool
ctl_get_u64(json_t *obj, const char *key, uint64_t *v_r)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*v_r = (uint64_t)json_integer_value(v);
	return true;
}

static const char *
ctl_get_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Fills m from the object root; MS_OK or MS_EPROTO with the reason. */
static int
ctl_classify(struct ctl_decoder *d, json_t *root, struct ctl_msg *m)
{
	json_t *hello = json_object_get(root, "hello"), *v;

	memset(m, 0, sizeof(*m));
	m->root = root;
	if ((v = json_object_get(root, "payload")) != NULL) {
		if (!ctl_get_u64(root, "payload", &m->payload_len))
			return ctl_decoder_fail(d, MS_EPROTO, "\"payload\" "
						"must be a byte count");
		m->has_payload = true;
	}
	if (hello != NULL) {
		m->type = CTL_MSG_HELLO;
		v = json_object_get(hello, "proto");
		if (!json_is_integer(v))
			return ctl_decoder_fail(d, MS_EPROTO, "a hello needs "
						"\"proto\": a number");
		m->proto = (int)json_integer_value(v);
		m->version = ctl_get_str(hello, "version");
		if (m->version == NULL)
			m->version = "";
		return MS_OK;
	}
	if ((m->event = ctl_get_str(root, "event")) != NULL) {
		m->type = CTL_MSG_EVENT;
		return MS_OK;
	}
	if (json_object_get(root, "cmd") != NULL) {
		m->type = CTL_MSG_REQUEST;
		m->cmd = ctl_get_str(root, "cmd");
		if (m->cmd == NULL || !ctl_get_u64(root, "id", &m->id))
			return ctl_decoder_fail(d, MS_EPROTO, "a request "
						"needs \"id\" (a number >= 0) "
						"and \"cmd\" (a string)");
		m->args = json_object_get(root, "args");
		if (m->args == NULL) {
			m->args = json_object();
			if (m->args == NULL ||
			    json_object_set_new(root, "args", m->args) != 0)
				return ctl_decoder_fail(d, MS_ENOMEM,
							"out of memory");
		}
		if (!json_is_object(m->args))
			return ctl_decoder_fail(d, MS_EPROTO, "\"args\" must "
						"be an object");
		return MS_OK;
	}
	if ((v = json_object_get(root, "ok")) != NULL) {
		json_t *e;

		m->type = CTL_MSG_REPLY;
		if (!json_is_boolean(v) || !ctl_get_u64(root, "id", &m->id))
			return ctl_decoder_fail(d, MS_EPROTO, "a reply needs "
						"\"id\" and \"ok\" (a boolean)");
		m->is_ok = json_is_true(v);
		if (m->is_ok) {
			m->data = json_object_get(root, "data");
			if (m->data == NULL)
				m->data = json_null();
			return MS_OK;
		}
		e = json_object_get(root, "error");
		m->code = ctl_get_str(e, "code");
		m->message = ctl_get_str(e, "message");
		if (m->code == NULL || m->message == NULL)
			return ctl_decoder_fail(d, MS_EPROTO, "a failed reply "
						"needs \"error\" with \"code\" "
						"and \"message\"");
		return MS_OK;
	}
	return ctl_decoder_fail(d, MS_EPROTO, "a frame needs \"hello\", "
				"\"cmd\", \"ok\" or \"event\"");
}

/* A complete line in d->line: parse it into the pending event. */
static int
ctl_decoder_line(struct ctl_decoder *d)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	root = json_loadb((const char *)d->line.p, d->line.len,
			  JSON_REJECT_DUPLICATES, &jerr);
	ms_buf_reset(&d->line);
	if (root == NULL)
		return ctl_decoder_fail(d, MS_EPROTO, "invalid JSON at "
					"column %d: %s", jerr.column,
					jerr.text);
	/* json_loadb() takes only an object or an array. */
	if (!json_is_object(root)) {
		json_decref(root);
		return ctl_decoder_fail(d, MS_EPROTO, "a frame must be a "
					"JSON object");
	}
	d->root = root;
	if ((rc = ctl_classify(d, root, &d->ev.msg)) < 0)
		return rc;
	if (d->ev.msg.has_payload) {
		if (d->ev.msg.payload_len > d->params.max_payload)
			return ctl_decoder_fail(d, MS_ETOOBIG, "a payload of "
						"%llu bytes (at most %llu here)",
				(unsigned long long)d->ev.msg.payload_len,
				(unsigned long long)d->params.max_payload);
		d->payload_left = d->ev.msg.payload_len;
		if (d->payload_left > 0)
			d->state = CTL_DEC_PAYLOAD;
		else
			d->want_payload_end = true;
	}
	d->ev.type = CTL_EV_MSG;
	d->has_ev = true;
	return MS_OK;
}

static int
ctl_decoder_feed_line(struct ctl_decoder *d, const uint8_t *p, size_t len,
		      size_t *used_r)
{
	size_t off = 0;

	while (off < len) {
		const uint8_t *lf = memchr(p + off, '\n', len - off);
		size_t n = lf != NULL ? (size_t)(lf - (p + off)) : len - off;

		/* The LF counts, so a line is at most max_line bytes. */
		if (d->line.len + n + 1 > d->params.max_line)
			return ctl_decoder_fail(d, MS_ETOOBIG, "a line longer "
						"than %zu bytes",
						d->params.max_line);
		if (ms_buf_append(&d->line, p + off, n) != MS_OK)
			return ctl_decoder_fail(d, MS_ENOMEM, "out of memory");
		off += n;
		if (lf == NULL)
			break;
		off++;
		if (d->line.len > 0 && d->line.p[d->line.len - 1] == '\r')
			d->line.len--;
		if (d->line.len == 0)
			continue;	/* an empty line: nothing */
		*used_r = off;
		return ctl_decoder_line(d);
	}
	*used_r = off;
	return MS_AGAIN;
}

int
ctl_decoder_feed(struct ctl_decoder *d, const uint8_t *p, size_t len,
		 size_t *used_r)
{
	size_t n;

	*used_r = 0;
	if (d->state == CTL_DEC_DEAD)
		return d->err.code;
	if (d->has_ev || d->want_payload_end)
		return MS_OK;
	if (d->root != NULL) {
		json_decref(d->root);
		d->root = NULL;
	}
	if (d->state == CTL_DEC_LINE)
		return ctl_decoder_feed_line(d, p, len, used_r);
	if (len == 0)
		return MS_AGAIN;
	n = len < d->payload_left ? len : (size_t)d->payload_left;
	memset(&d->ev, 0, sizeof(d->ev));
	d->ev.type = CTL_EV_PAYLOAD;
	d->ev.chunk.p = p;
	d->ev.chunk.len = n;
	d->has_ev = true;
	d->payload_left -= n;
	if (d->payload_left == 0) {
		d->state = CTL_DEC_LINE;
		d->want_payload_end = true;
	}
	*used_r = n;
	return MS_OK;
}

int
ctl_decoder_next_event(struct ctl_decoder *d, struct ctl_event *ev_r)
{
	if (d->has_ev) {
		*ev_r = d->ev;
		d->has_ev = false;
		return MS_OK;
	}
	if (d->want_payload_end) {
		memset(ev_r, 0, sizeof(*ev_r));
		ev_r->type = CTL_EV_PAYLOAD_END;
		d->want_payload_end = false;
		return MS_OK;
	}
	return MS_AGAIN;
}

/* --- encoders ---------------------------------------------------------------- */

/* Appends obj (consumed) as one line. */
static int
ctl_encode_line(struct ms_buf *out, json_t *obj)
{
	char *s;
	size_t n;
	int rc;

	if (obj == NULL)
		return MS_ENOMEM;
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL)
		return MS_ENOMEM;
	n = strlen(s);
	if (n + 1 > CTL_MAX_LINE_DEFAULT || out->len + n + 1 > out->max) {
		free(s);
		return MS_ETOOBIG;
	}
	rc = ms_buf_append(out, s, n);
	if (rc == MS_OK && (rc = ms_buf_append(out, "\n", 1)) != MS_OK)
		out->len -= n;	/* all or nothing */
	free(s);
	return rc;
}

int
ctl_encode_hello(struct ms_buf *out, const char *version)
{
	return ctl_encode_line(out, json_pack("{s:{s:i,s:s}}", "hello",
					      "proto", CTL_PROTO_VERSION,
					      "version", version));
}

int
ctl_encode_request(struct ms_buf *out, uint64_t id, const char *cmd,
		   json_t *args)
{
	if (args == NULL)
		return ctl_encode_line(out, json_pack("{s:I,s:s,s:{}}", "id",
						      (json_int_t)id, "cmd",
						      cmd, "args"));
	return ctl_encode_line(out, json_pack("{s:I,s:s,s:O}", "id",
					      (json_int_t)id, "cmd", cmd,
					      "args", args));
}

int
ctl_encode_reply(struct ms_buf *out, uint64_t id, json_t *data,
		 bool has_payload, uint64_t payload_len)
{
	json_t *o = json_pack("{s:I,s:b,s:O}", "id", (json_int_t)id, "ok", 1,
			      "data", data != NULL ? data : json_null());

	if (o != NULL && has_payload &&
	    json_object_set_new(o, "payload",
				json_integer((json_int_t)payload_len)) != 0) {
		json_decref(o);
		return MS_ENOMEM;
	}
	return ctl_encode_line(out, o);
}

int
ctl_encode_error(struct ms_buf *out, uint64_t id, const char *code,
		 const char *message)
{
	json_t *msg = ctl_json_string(message);

	if (msg == NULL)
		return MS_ENOMEM;
	return ctl_encode_line(out, json_pack("{s:I,s:b,s:{s:s,s:o}}", "id",
					      (json_int_t)id, "ok", 0,
					      "error", "code", code,
					      "message", msg));
}

int
ctl_encode_event(struct ms_buf *out, const char *name, json_t *fields)
{
	json_t *o = json_pack("{s:s}", "event", name);

	if (o != NULL && fields != NULL && json_object_update(o, fields) != 0) {
		json_decref(o);
		return MS_ENOMEM;
	}
	/* The name wins over a field of the same name. */
	if (o != NULL && fields != NULL &&
	    json_object_set_new(o, "event", json_string(name)) != 0) {
		json_decref(o);
		return MS_ENOMEM;
	}
	return ctl_encode_line(out, o);
}

/* --- strings ---------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t
ctl_utf8_seq(const uint8_t *p, size_t n)
{
	size_t want;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		want = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		want = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		want = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < want)
		return 0;
	for (size_t i = 1; i < want; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF. */
	if ((want == 3 && cp < 0x800) || (want == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return want;
}

json_t *
ctl_json_stringn(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	struct ms_buf b;
	json_t *j;
	size_t i = 0;

	/* The common case: valid already. */
	while (i < len) {
		size_t k = ctl_utf8_seq(p + i, len - i);

		if (k == 0 || p[i] == 0)
			break;
		i += k;
	}
	if (i == len)
		return json_stringn(s, len);
	ms_buf_init(&b, len * 3 + 1);
	i = 0;
	while (i < len) {
		size_t k = ctl_utf8_seq(p + i, len - i);

		if (k == 0 || p[i] == 0) {
			if (ms_buf_append(&b, "\xef\xbf\xbd", 3) != MS_OK)
				break;
			i++;
			continue;
		}
		if (ms_buf_append(&b, p + i, k) != MS_OK)
			break;
		i += k;
	}
	j = i == len ? json_stringn((const char *)b.p, b.len) : NULL;
	ms_buf_deinit(&b);
	return j;
}

json_t *
ctl_json_string(const char *s)
{
	return ctl_json_stringn(s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}
