/*
 * imap_parser.c - incremental IMAP response parser.
 *
 * Bytes are collected one line at a time into p->buf.  Each line is cut
 * into tokens as soon as its LF arrives, so nothing is scanned twice.  A
 * line that ends in a literal "{N}" either copies the literal into the
 * buffer (small values: mailbox names, envelope strings) or, for FETCH
 * body items, streams it to the caller without buffering.  When a line
 * ends without a literal the response is complete and the token list is
 * turned into one typed event (plus events for inline bodies).
 */
#include "imap/imap_parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum imap_parser_state {
	IMAP_PS_LINE = 0,
	IMAP_PS_LIT_INLINE,
	IMAP_PS_LIT_STREAM,
	IMAP_PS_HOLD,
	IMAP_PS_ERROR,
};

/* What the untagged response collects; decides how the tokens are read. */
enum imap_kind {
	IMAP_K_NONE = 0,
	IMAP_K_FETCH,
	IMAP_K_CAPABILITY,
	IMAP_K_ENABLED,
	IMAP_K_FLAGS,
	IMAP_K_LIST,
	IMAP_K_LSUB,
	IMAP_K_STATUS,
	IMAP_K_SEARCH,
	IMAP_K_ESEARCH,
	IMAP_K_NAMESPACE,
	IMAP_K_ID,
	IMAP_K_VANISHED,
	IMAP_K_OTHER,
};

enum imap_tok_type {
	IMAP_TOK_ATOM = 1,
	IMAP_TOK_QUOTED,
	IMAP_TOK_LITERAL,	/* bytes copied into buf */
	IMAP_TOK_STREAMED,	/* bytes went to the caller */
	IMAP_TOK_LPAREN,
	IMAP_TOK_RPAREN,
};

struct imap_tok {
	uint8_t type;
	bool is_lit8;
	size_t off, len;	/* the value (quoted: unescaped, in place) */
	size_t raw_off, raw_end;	/* the bytes as sent */
	size_t match;		/* LPAREN: index of its RPAREN */
};

static const char *const imap_ev_names[] = {
	[IMAP_EV_ERROR] = "ERROR",
	[IMAP_EV_GREETING] = "GREETING",
	[IMAP_EV_TAGGED] = "TAGGED",
	[IMAP_EV_UNTAGGED_STATUS] = "UNTAGGED_STATUS",
	[IMAP_EV_CONTINUATION] = "CONTINUATION",
	[IMAP_EV_CAPABILITY] = "CAPABILITY",
	[IMAP_EV_ENABLED] = "ENABLED",
	[IMAP_EV_FLAGS] = "FLAGS",
	[IMAP_EV_EXISTS] = "EXISTS",
	[IMAP_EV_RECENT] = "RECENT",
	[IMAP_EV_EXPUNGE] = "EXPUNGE",
	[IMAP_EV_VANISHED] = "VANISHED",
	[IMAP_EV_LIST] = "LIST",
	[IMAP_EV_STATUS] = "STATUS",
	[IMAP_EV_SEARCH] = "SEARCH",
	[IMAP_EV_ESEARCH] = "ESEARCH",
	[IMAP_EV_NAMESPACE] = "NAMESPACE",
	[IMAP_EV_ID] = "ID",
	[IMAP_EV_FETCH_BODY] = "FETCH_BODY",
	[IMAP_EV_LITERAL_CHUNK] = "LITERAL_CHUNK",
	[IMAP_EV_FETCH] = "FETCH",
	[IMAP_EV_UNTAGGED_OTHER] = "UNTAGGED_OTHER",
};

const char *
imap_ev_type_name(enum imap_ev_type type)
{
	if ((size_t)type < sizeof(imap_ev_names) / sizeof(imap_ev_names[0]) &&
	    imap_ev_names[type] != NULL)
		return imap_ev_names[type];
	return "?";
}

void
imap_parser_params_default(struct imap_parser_params *params)
{
	params->max_line = 1024 * 1024;
	params->max_response = 4 * 1024 * 1024;
	params->max_literal = (uint64_t)1 << 31;
	params->max_inline_literal = 1024 * 1024;
	params->max_depth = 64;
	params->max_list_items = 1024 * 1024;
	params->expect_greeting = true;
}

int
imap_parser_init(struct imap_parser *p, const struct imap_parser_params *params)
{
	memset(p, 0, sizeof(*p));
	if (params != NULL)
		p->params = *params;
	else
		imap_parser_params_default(&p->params);
	if (p->params.max_depth < 1)
		p->params.max_depth = 1;
	if (p->params.max_depth > 4096)
		p->params.max_depth = 4096;
	/*
	 * Whole lines are checked against max_response once their LF is
	 * in, so the buffer may briefly hold one line more than that.
	 */
	ms_buf_init(&p->buf, p->params.max_response + p->params.max_line + 2);
	p->counts = calloc(p->params.max_depth + 1, sizeof(*p->counts));
	p->open_tok = calloc(p->params.max_depth + 1, sizeof(*p->open_tok));
	if (p->counts == NULL || p->open_tok == NULL)
		return MS_ENOMEM;
	p->greeted = !p->params.expect_greeting;
	return MS_OK;
}

void
imap_parser_deinit(struct imap_parser *p)
{
	ms_buf_deinit(&p->buf);
	free(p->toks);
	free(p->evq);
	free(p->counts);
	free(p->open_tok);
	p->open_tok = NULL;
	p->toks = NULL;
	p->evq = NULL;
	p->counts = NULL;
}

/* Records the first error; later input is refused with the same code. */
static int
imap_parser_fail(struct imap_parser *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
imap_parser_fail(struct imap_parser *p, int code, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	struct imap_event *ev;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ms_err_set(&p->err, code, "%s (line at offset %llu)", msg,
	    (unsigned long long)p->line_off);
	p->state = IMAP_PS_ERROR;
	/*
	 * The error replaces whatever was queued: events of a response that
	 * turned out malformed must not reach the caller half-parsed.  The
	 * queue always has room for one event once it was allocated.
	 */
	p->evq_head = 0;
	p->evq_len = 0;
	if (p->evq_cap == 0) {
		p->evq = calloc(4, sizeof(*p->evq));
		if (p->evq == NULL)
			return code;
		p->evq_cap = 4;
	}
	ev = &p->evq[p->evq_len++];
	memset(ev, 0, sizeof(*ev));
	ev->type = IMAP_EV_ERROR;
	ev->u.error.code = code;
	ev->u.error.msg = p->err.msg;
	ev->u.error.offset = p->line_off;
	return code;
}

static struct imap_event *
imap_parser_push(struct imap_parser *p, enum imap_ev_type type)
{
	struct imap_event *ev;

	if (p->evq_len == p->evq_cap) {
		size_t ncap = p->evq_cap ? p->evq_cap * 2 : 8;
		struct imap_event *nq = realloc(p->evq, ncap * sizeof(*nq));

		if (nq == NULL)
			return NULL;
		p->evq = nq;
		p->evq_cap = ncap;
	}
	ev = &p->evq[p->evq_len++];
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	return ev;
}

#define IMAP_PUSH(p, ev, type) do {					\
	if (((ev) = imap_parser_push((p), (type))) == NULL)		\
		return imap_parser_fail((p), MS_ENOMEM, "out of memory"); \
} while (0)

int
imap_parser_next_event(struct imap_parser *p, struct imap_event *ev)
{
	if (p->evq_head == p->evq_len)
		return MS_AGAIN;
	*ev = p->evq[p->evq_head++];
	return MS_OK;
}

/* Clears the finished response so the next one starts at buf offset 0. */
static void
imap_parser_reset_response(struct imap_parser *p)
{
	ms_buf_reset(&p->buf);
	p->seg_start = 0;
	p->resp_started = false;
	p->resp_done = false;
	p->kind = IMAP_K_NONE;
	p->ntoks = 0;
	p->depth = 0;
	p->counts[0] = 0;
	p->fetch_uid = 0;
	p->resp_num = 0;
}

size_t
imap_parser_hold(struct imap_parser *p)
{
	size_t pending = p->resp_done ? 0 : p->buf.len;

	if (p->state == IMAP_PS_ERROR)
		return pending;
	/*
	 * The buffer is cleared by the next feed, not here: the event that
	 * led to the hold may still point into it.
	 */
	if (!p->resp_done) {
		p->resp_done = true;
		p->evq_head = p->evq_len;
	}
	p->state = IMAP_PS_HOLD;
	return pending;
}

void
imap_parser_resume(struct imap_parser *p)
{
	if (p->state == IMAP_PS_HOLD)
		p->state = IMAP_PS_LINE;
}

static struct ms_slice
imap_parser_slice(const struct imap_parser *p, size_t off, size_t len)
{
	return (struct ms_slice){ p->buf.p + off, len };
}

/* --- small lexical helpers ------------------------------------------- */

static bool
imap_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Parses a decimal number of at most max; rejects empty, signs, junk. */
static bool
imap_parse_num(struct ms_slice s, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (!imap_is_digit(s.p[i]))
			return false;
		if (v > (max - (uint64_t)(s.p[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	*v_r = v;
	return true;
}

static bool
imap_parse_u32(struct ms_slice s, uint32_t *v_r)
{
	uint64_t v;

	if (!imap_parse_num(s, UINT32_MAX, &v))
		return false;
	*v_r = (uint32_t)v;
	return true;
}

/* mod-sequence-value is 63 bits (RFC 7162). */
static bool
imap_parse_u63(struct ms_slice s, uint64_t *v_r)
{
	return imap_parse_num(s, INT64_MAX, v_r);
}

bool
imap_list_next(struct ms_slice *cursor, struct ms_slice *item_r)
{
	const uint8_t *p = cursor->p, *end = cursor->p + cursor->len, *s;

	while (p < end && *p == ' ')
		p++;
	if (p == end) {
		cursor->p = end;
		cursor->len = 0;
		return false;
	}
	s = p;
	while (p < end && *p != ' ')
		p++;
	item_r->p = s;
	item_r->len = (size_t)(p - s);
	cursor->p = p;
	cursor->len = (size_t)(end - p);
	return true;
}

int
imap_numlist_next(struct ms_slice *cursor, uint32_t *num_r)
{
	struct ms_slice item;

	if (!imap_list_next(cursor, &item))
		return MS_AGAIN;
	return imap_parse_u32(item, num_r) ? MS_OK : MS_EPROTO;
}

bool
imap_list_has(struct ms_slice list, const char *word)
{
	struct ms_slice item;

	while (imap_list_next(&list, &item))
		if (ms_slice_case_eq_cstr(item, word))
			return true;
	return false;
}

static uint8_t
imap_ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

bool
imap_code_is_any(const struct imap_resp_code *code, const char *names)
{
	struct ms_slice list = ms_slice_from_cstr(names);
	struct ms_slice item;

	while (imap_list_next(&list, &item)) {
		size_t i = 0;

		if (item.len != code->name.len)
			continue;
		while (i < item.len &&
		       imap_ascii_lower(item.p[i]) ==
		       imap_ascii_lower(code->name.p[i]))
			i++;
		if (i == item.len && i > 0)
			return true;
	}
	return false;
}

/* --- tokenizer ------------------------------------------------------- */

static int
imap_parser_add_tok(struct imap_parser *p, uint8_t type, size_t off,
    size_t len, size_t raw_off, size_t raw_end)
{
	struct imap_tok *t;

	if (++p->counts[p->depth] > p->params.max_list_items)
		return imap_parser_fail(p, MS_ETOOBIG,
		    "more than %zu items in a list", p->params.max_list_items);
	if (p->ntoks == p->toks_cap) {
		size_t ncap = p->toks_cap ? p->toks_cap * 2 : 64;
		struct imap_tok *nt = realloc(p->toks, ncap * sizeof(*nt));

		if (nt == NULL)
			return imap_parser_fail(p, MS_ENOMEM, "out of memory");
		p->toks = nt;
		p->toks_cap = ncap;
	}
	t = &p->toks[p->ntoks++];
	t->type = type;
	t->is_lit8 = false;
	t->off = off;
	t->len = len;
	t->raw_off = raw_off;
	t->raw_end = raw_end;
	t->match = 0;
	return MS_OK;
}

/*
 * True for bytes that end an atom.  We are lenient about what an atom may
 * hold (8-bit mailbox names, "]" and "\*") but never about controls.
 */
static bool
imap_atom_end(uint8_t c)
{
	return c == ' ' || c == '(' || c == ')' || c == '"' || c < 0x20 ||
	    c == 0x7f;
}

/* The FETCH item names whose values are message data, streamed. */
static bool
imap_fetch_key_is_body(struct ms_slice k)
{
	if (k.len >= 5 && memcmp(k.p, "BODY[", 5) == 0)
		return true;
	if (k.len >= 7 && memcmp(k.p, "BINARY[", 7) == 0)
		return true;
	return ms_slice_eq_cstr(k, "RFC822") ||
	    ms_slice_eq_cstr(k, "RFC822.HEADER") ||
	    ms_slice_eq_cstr(k, "RFC822.TEXT");
}

static int imap_parser_fetch_body_start(struct imap_parser *p, size_t key,
    uint64_t size, bool is_lit8, bool is_nil, struct ms_slice inline_data);
static int imap_parser_begin_literal(struct imap_parser *p, size_t marker);

/*
 * Remembers the UID of a FETCH as it is tokenized, so that a body
 * announced later in the same response can carry it.
 */
static void
imap_parser_note_fetch_uid(struct imap_parser *p)
{
	struct imap_tok *v, *k;

	if (p->kind != IMAP_K_FETCH || p->depth != 1 || p->ntoks < 3)
		return;
	v = &p->toks[p->ntoks - 1];
	k = &p->toks[p->ntoks - 2];
	if ((p->counts[1] & 1) == 0 && v->type == IMAP_TOK_ATOM &&
	    k->type == IMAP_TOK_ATOM &&
	    ms_slice_case_eq_cstr(imap_parser_slice(p, k->off, k->len), "UID"))
		(void)imap_parse_u32(imap_parser_slice(p, v->off, v->len),
		    &p->fetch_uid);
}

/*
 * Cuts buf[pos, end) (one line without its CRLF) into tokens.  Returns
 * MS_OK when the line ends the response, MS_AGAIN when it ends with a
 * literal (p->lit_* set, state switched), or a negative error.
 */
static int
imap_parser_tokenize(struct imap_parser *p, size_t pos, size_t end)
{
	uint8_t *b = p->buf.p;
	int rc;

	while (pos < end) {
		size_t start = pos;
		uint8_t c = b[pos];

		if (c == ' ') {
			pos++;
			continue;
		}
		if (c == '(') {
			if (p->depth >= p->params.max_depth)
				return imap_parser_fail(p, MS_ETOOBIG,
				    "lists nested deeper than %u",
				    p->params.max_depth);
			if ((rc = imap_parser_add_tok(p, IMAP_TOK_LPAREN, pos,
			    1, pos, pos + 1)) != MS_OK)
				return rc;
			p->open_tok[p->depth] = p->ntoks - 1;
			p->depth++;
			p->counts[p->depth] = 0;
			pos++;
			continue;
		}
		if (c == ')') {
			if (p->depth == 0)
				return imap_parser_fail(p, MS_EPROTO,
				    "unbalanced ')' at column %zu",
				    pos - p->seg_start);
			p->depth--;
			if ((rc = imap_parser_add_tok(p, IMAP_TOK_RPAREN, pos,
			    1, pos, pos + 1)) != MS_OK)
				return rc;
			/*
			 * The RPAREN counted as an item of the enclosing
			 * list; undo that so counts[] means "values".
			 */
			p->counts[p->depth]--;
			p->toks[p->open_tok[p->depth]].match = p->ntoks - 1;
			pos++;
			continue;
		}
		if (c == '"') {
			size_t w = pos + 1;

			pos++;
			for (;;) {
				if (pos >= end)
					return imap_parser_fail(p, MS_EPROTO,
					    "unterminated quoted string");
				c = b[pos];
				if (c == '"')
					break;
				if (c == '\\') {
					if (pos + 1 >= end ||
					    (b[pos + 1] != '\\' &&
					    b[pos + 1] != '"'))
						return imap_parser_fail(p,
						    MS_EPROTO, "bad escape "
						    "in quoted string");
					pos++;
					c = b[pos];
				} else if (c == '\r' || c == '\n' || c == 0) {
					return imap_parser_fail(p, MS_EPROTO,
					    "control character in quoted "
					    "string");
				}
				/* Unescape in place: w never passes pos. */
				b[w++] = c;
				pos++;
			}
			pos++;
			if ((rc = imap_parser_add_tok(p, IMAP_TOK_QUOTED,
			    start + 1, w - (start + 1), start, pos)) != MS_OK)
				return rc;
			imap_parser_note_fetch_uid(p);
			continue;
		}
		if (c == '{' || (c == '~' && pos + 1 < end &&
		    b[pos + 1] == '{')) {
			bool is8 = c == '~';
			uint64_t n = 0;
			size_t d;

			pos += is8 ? 2 : 1;
			d = pos;
			while (pos < end && imap_is_digit(b[pos])) {
				if (n > (UINT64_MAX - 9) / 10)
					return imap_parser_fail(p, MS_EPROTO,
					    "literal size overflows");
				n = n * 10 + (uint64_t)(b[pos] - '0');
				pos++;
			}
			if (pos == d)
				return imap_parser_fail(p, MS_EPROTO,
				    "bad literal size");
			/* A server never sends "{N+}", but it is harmless. */
			if (pos < end && b[pos] == '+')
				pos++;
			if (pos >= end || b[pos] != '}' || pos + 1 != end)
				return imap_parser_fail(p, MS_EPROTO,
				    "literal marker must end the line");
			if (n > p->params.max_literal)
				return imap_parser_fail(p, MS_ETOOBIG,
				    "literal of %llu bytes exceeds %llu",
				    (unsigned long long)n,
				    (unsigned long long)p->params.max_literal);
			p->lit_size = n;
			p->lit_left = n;
			p->lit_is8 = is8;
			return imap_parser_begin_literal(p, start);
		}
		/* An atom; "[...]" may hold spaces and parentheses. */
		while (pos < end && !imap_atom_end(b[pos])) {
			if (b[pos] == '[') {
				while (pos < end && b[pos] != ']') {
					if (b[pos] < 0x20 || b[pos] == 0x7f)
						return imap_parser_fail(p,
						    MS_EPROTO, "control "
						    "character in atom");
					pos++;
				}
				if (pos == end)
					return imap_parser_fail(p, MS_EPROTO,
					    "unterminated '['");
			}
			pos++;
		}
		if (pos == start)
			return imap_parser_fail(p, MS_EPROTO,
			    "unexpected byte 0x%02x at column %zu", b[pos],
			    pos - p->seg_start);
		if ((rc = imap_parser_add_tok(p, IMAP_TOK_ATOM, start,
		    pos - start, start, pos)) != MS_OK)
			return rc;
		imap_parser_note_fetch_uid(p);
	}
	return MS_OK;
}

/* --- literals and bodies ---------------------------------------------- */

static bool
imap_prefix_case(struct ms_slice s, const char *prefix)
{
	size_t n = strlen(prefix);

	return s.len >= n &&
	    ms_slice_case_eq_cstr((struct ms_slice){ s.p, n }, prefix);
}

/*
 * Announces a FETCH body item.  key is the token index of its name.  For
 * bodies that are not streamed, inline_data carries the bytes and goes
 * out as one chunk right after the announcement.
 */
static int
imap_parser_fetch_body_start(struct imap_parser *p, size_t key, uint64_t size,
    bool is_lit8, bool is_nil, struct ms_slice inline_data)
{
	const struct imap_tok *k = &p->toks[key];
	struct ms_slice item = imap_parser_slice(p, k->off, k->len);
	struct imap_event *ev;
	struct imap_ev_fetch_body *b;
	const uint8_t *lb, *rb;

	IMAP_PUSH(p, ev, IMAP_EV_FETCH_BODY);
	b = &ev->u.body;
	b->seq = p->resp_num;
	b->uid = p->fetch_uid;
	b->item = item;
	b->is_binary = is_lit8 || imap_prefix_case(item, "BINARY[");
	b->is_nil = is_nil;
	b->size = size;
	lb = memchr(item.p, '[', item.len);
	if (lb != NULL) {
		/* The tokenizer guaranteed a "]" after any "[". */
		rb = memchr(lb, ']', (size_t)(item.p + item.len - lb));
		b->section.p = lb + 1;
		b->section.len = (size_t)(rb - lb - 1);
		if (rb + 1 < item.p + item.len) {
			struct ms_slice o = { rb + 2, 0 };
			const uint8_t *gt;

			gt = memchr(rb + 1, '>', (size_t)(item.p + item.len -
			    (rb + 1)));
			if (rb[1] != '<' || gt == NULL ||
			    gt + 1 != item.p + item.len)
				return imap_parser_fail(p, MS_EPROTO,
				    "bad FETCH item name");
			o.len = (size_t)(gt - o.p);
			if (!imap_parse_u32(o, &b->origin))
				return imap_parser_fail(p, MS_EPROTO,
				    "bad origin in FETCH item name");
			b->has_origin = true;
		}
	}
	if (inline_data.len > 0) {
		IMAP_PUSH(p, ev, IMAP_EV_LITERAL_CHUNK);
		ev->u.chunk.data = inline_data;
		ev->u.chunk.offset = 0;
		ev->u.chunk.is_last = true;
	}
	return MS_OK;
}

/*
 * Handles "{N}" ending the line whose marker starts at buf offset marker.
 * A FETCH body value is streamed; any other literal is copied into buf.
 */
static int
imap_parser_begin_literal(struct imap_parser *p, size_t marker)
{
	size_t n = p->ntoks;
	const struct imap_tok *k = n > 0 ? &p->toks[n - 1] : NULL;
	int rc;

	if (p->kind == IMAP_K_FETCH && p->depth == 1 &&
	    (p->counts[1] & 1) == 1 && k != NULL && k->type == IMAP_TOK_ATOM &&
	    imap_fetch_key_is_body(imap_parser_slice(p, k->off, k->len))) {
		if ((rc = imap_parser_add_tok(p, IMAP_TOK_STREAMED, p->buf.len,
		    0, marker, p->buf.len)) != MS_OK)
			return rc;
		p->toks[p->ntoks - 1].is_lit8 = p->lit_is8;
		if ((rc = imap_parser_fetch_body_start(p, n - 1, p->lit_size,
		    p->lit_is8, false, (struct ms_slice){ NULL, 0 })) != MS_OK)
			return rc;
		p->state = IMAP_PS_LIT_STREAM;
	} else {
		if (p->lit_size > p->params.max_inline_literal)
			return imap_parser_fail(p, MS_ETOOBIG,
			    "literal of %llu bytes exceeds %zu (not a body)",
			    (unsigned long long)p->lit_size,
			    p->params.max_inline_literal);
		if (p->lit_size > p->params.max_response - p->buf.len)
			return imap_parser_fail(p, MS_ETOOBIG,
			    "response longer than %zu bytes",
			    p->params.max_response);
		if ((rc = imap_parser_add_tok(p, IMAP_TOK_LITERAL, p->buf.len,
		    (size_t)p->lit_size, marker, p->buf.len)) != MS_OK)
			return rc;
		p->toks[p->ntoks - 1].is_lit8 = p->lit_is8;
		p->state = IMAP_PS_LIT_INLINE;
	}
	if (p->lit_left == 0) {
		p->state = IMAP_PS_LINE;
		p->seg_start = p->buf.len;
	}
	return MS_AGAIN;
}

/* --- response codes and status responses ------------------------------ */

struct imap_code_name {
	const char *name;
	enum imap_code code;
};

static const struct imap_code_name imap_code_names[] = {
	{ "ALERT", IMAP_CODE_ALERT },
	{ "CAPABILITY", IMAP_CODE_CAPABILITY },
	{ "PERMANENTFLAGS", IMAP_CODE_PERMANENTFLAGS },
	{ "UIDVALIDITY", IMAP_CODE_UIDVALIDITY },
	{ "UIDNEXT", IMAP_CODE_UIDNEXT },
	{ "UNSEEN", IMAP_CODE_UNSEEN },
	{ "HIGHESTMODSEQ", IMAP_CODE_HIGHESTMODSEQ },
	{ "NOMODSEQ", IMAP_CODE_NOMODSEQ },
	{ "MODIFIED", IMAP_CODE_MODIFIED },
	{ "APPENDUID", IMAP_CODE_APPENDUID },
	{ "COPYUID", IMAP_CODE_COPYUID },
	{ "CLOSED", IMAP_CODE_CLOSED },
	{ "TRYCREATE", IMAP_CODE_TRYCREATE },
	{ "READ-ONLY", IMAP_CODE_READ_ONLY },
	{ "READ-WRITE", IMAP_CODE_READ_WRITE },
	{ "NONEXISTENT", IMAP_CODE_NONEXISTENT },
	{ "ALREADYEXISTS", IMAP_CODE_ALREADYEXISTS },
	{ "PARSE", IMAP_CODE_PARSE },
	{ "NOTIFICATIONOVERFLOW", IMAP_CODE_NOTIFICATIONOVERFLOW },
	{ "BADEVENT", IMAP_CODE_BADEVENT },
};

/* Splits "a b c" at the first space. */
static void
imap_split_sp(struct ms_slice s, struct ms_slice *head_r,
    struct ms_slice *rest_r)
{
	const uint8_t *sp = s.len ? memchr(s.p, ' ', s.len) : NULL;

	if (sp == NULL) {
		*head_r = s;
		*rest_r = (struct ms_slice){ s.p + s.len, 0 };
		return;
	}
	head_r->p = s.p;
	head_r->len = (size_t)(sp - s.p);
	rest_r->p = sp + 1;
	rest_r->len = s.len - head_r->len - 1;
}

static int
imap_parser_resp_code(struct imap_parser *p, struct ms_slice name,
    struct ms_slice args, struct imap_resp_code *rc)
{
	struct ms_slice a, b, c;
	uint64_t v;

	rc->name = name;
	rc->args = args;
	rc->code = IMAP_CODE_OTHER;
	for (size_t i = 0; i < sizeof(imap_code_names) /
	    sizeof(imap_code_names[0]); i++)
		if (ms_slice_case_eq_cstr(name, imap_code_names[i].name))
			rc->code = imap_code_names[i].code;
	switch (rc->code) {
	case IMAP_CODE_CAPABILITY:
		rc->list = args;
		break;
	case IMAP_CODE_PERMANENTFLAGS:
	case IMAP_CODE_BADEVENT:
		if (args.len < 2 || args.p[0] != '(' ||
		    args.p[args.len - 1] != ')')
			return imap_parser_fail(p, MS_EPROTO,
			    "bad %.*s response code", (int)name.len,
			    (const char *)name.p);
		rc->list = (struct ms_slice){ args.p + 1, args.len - 2 };
		break;
	case IMAP_CODE_UIDVALIDITY:
	case IMAP_CODE_UIDNEXT:
	case IMAP_CODE_UNSEEN:
		/* 32-bit numbers; a larger one is one folder's fault, for
		 * the caller to judge, not a reason to drop the
		 * connection. */
		if (!imap_parse_u63(args, &rc->num))
			return imap_parser_fail(p, MS_EPROTO,
			    "bad number in %.*s response code",
			    (int)name.len, (const char *)name.p);
		break;
	case IMAP_CODE_HIGHESTMODSEQ:
		if (!imap_parse_u63(args, &rc->num))
			return imap_parser_fail(p, MS_EPROTO,
			    "bad HIGHESTMODSEQ response code");
		break;
	case IMAP_CODE_MODIFIED:
		rc->set1 = args;
		if (!imap_seqset_is_valid(args, false))
			return imap_parser_fail(p, MS_EPROTO,
			    "bad set in MODIFIED response code");
		break;
	case IMAP_CODE_APPENDUID:
	case IMAP_CODE_COPYUID:
		imap_split_sp(args, &a, &b);
		if (rc->code == IMAP_CODE_COPYUID) {
			imap_split_sp(b, &b, &c);
			rc->set2 = c;
		}
		if (!imap_parse_num(a, UINT32_MAX, &v) || v == 0 ||
		    !imap_seqset_is_valid(b, false) ||
		    (rc->code == IMAP_CODE_COPYUID &&
		    !imap_seqset_is_valid(c, false)))
			return imap_parser_fail(p, MS_EPROTO,
			    "bad %.*s response code", (int)name.len,
			    (const char *)name.p);
		rc->uidvalidity = (uint32_t)v;
		rc->set1 = b;
		break;
	default:
		break;
	}
	return MS_OK;
}

/* Parses resp-text: ["[" code "]" SP] text, from buf[pos, end). */
static int
imap_parser_resp_text(struct imap_parser *p, size_t pos, size_t end,
    struct imap_ev_status *st)
{
	const uint8_t *b = p->buf.p;
	int rc;

	if (pos < end && b[pos] == '[') {
		const uint8_t *rb = memchr(b + pos + 1, ']', end - pos - 1);
		struct ms_slice inner, name, args;

		if (rb == NULL)
			return imap_parser_fail(p, MS_EPROTO,
			    "unterminated response code");
		inner.p = b + pos + 1;
		inner.len = (size_t)(rb - inner.p);
		imap_split_sp(inner, &name, &args);
		if (name.len == 0)
			return imap_parser_fail(p, MS_EPROTO,
			    "empty response code");
		if ((rc = imap_parser_resp_code(p, name, args, &st->code)) !=
		    MS_OK)
			return rc;
		pos = (size_t)(rb - b) + 1;
		if (pos < end && b[pos] == ' ')
			pos++;
	}
	st->text = imap_parser_slice(p, pos, end - pos);
	return MS_OK;
}

static bool
imap_status_word(struct ms_slice w, enum imap_status *st_r)
{
	static const char *const words[] = {
		[IMAP_STATUS_OK] = "OK", [IMAP_STATUS_NO] = "NO",
		[IMAP_STATUS_BAD] = "BAD", [IMAP_STATUS_PREAUTH] = "PREAUTH",
		[IMAP_STATUS_BYE] = "BYE",
	};

	for (int i = IMAP_STATUS_OK; i <= IMAP_STATUS_BYE; i++)
		if (ms_slice_case_eq_cstr(w, words[i])) {
			*st_r = (enum imap_status)i;
			return true;
		}
	return false;
}

/* --- untagged data ------------------------------------------------------ */

static struct ms_slice
imap_tok_val(const struct imap_parser *p, const struct imap_tok *t)
{
	return imap_parser_slice(p, t->off, t->len);
}

static bool
imap_tok_is_atom(const struct imap_parser *p, const struct imap_tok *t,
    const char *word)
{
	return t->type == IMAP_TOK_ATOM &&
	    ms_slice_case_eq_cstr(imap_tok_val(p, t), word);
}

static bool
imap_tok_is_string(const struct imap_tok *t)
{
	return t->type == IMAP_TOK_QUOTED || t->type == IMAP_TOK_LITERAL;
}

/* astring: atom, quoted or literal. */
static bool
imap_tok_is_astring(const struct imap_tok *t)
{
	return t->type == IMAP_TOK_ATOM || imap_tok_is_string(t);
}

/* The bytes of tokens [a, b] as sent. */
static struct ms_slice
imap_tok_raw(const struct imap_parser *p, size_t a, size_t b)
{
	return imap_parser_slice(p, p->toks[a].raw_off,
	    p->toks[b].raw_end - p->toks[a].raw_off);
}

/* The bytes between a "(" at index i and its ")". */
static struct ms_slice
imap_tok_inner(const struct imap_parser *p, size_t i)
{
	size_t m = p->toks[i].match;

	return imap_parser_slice(p, p->toks[i].raw_end,
	    p->toks[m].raw_off - p->toks[i].raw_end);
}

/* Index after the value at i (a whole list for "("). */
static size_t
imap_tok_skip(const struct imap_parser *p, size_t i)
{
	if (p->toks[i].type == IMAP_TOK_LPAREN)
		return p->toks[i].match + 1;
	return i + 1;
}

static bool
imap_tok_num(const struct imap_parser *p, size_t i, size_t end, uint64_t max,
    uint64_t *v_r)
{
	return i < end && p->toks[i].type == IMAP_TOK_ATOM &&
	    imap_parse_num(imap_tok_val(p, &p->toks[i]), max, v_r);
}

/* True if tokens [i, m) are all atoms (flag lists, attributes). */
static bool
imap_toks_all_atoms(const struct imap_parser *p, size_t i, size_t m)
{
	for (; i < m; i++)
		if (p->toks[i].type != IMAP_TOK_ATOM)
			return false;
	return true;
}

#define IMAP_BAD(p, what) \
	imap_parser_fail((p), MS_EPROTO, "malformed %s response", (what))

static int
imap_parser_fetch(struct imap_parser *p)
{
	struct imap_event *ev;
	struct imap_ev_fetch f;
	size_t i, m, k;
	uint64_t v;
	int rc;

	memset(&f, 0, sizeof(f));
	f.seq = p->resp_num;
	if (p->ntoks == 0 || p->toks[0].type != IMAP_TOK_LPAREN ||
	    p->toks[0].match != p->ntoks - 1)
		return IMAP_BAD(p, "FETCH");
	m = p->toks[0].match;
	for (i = 1; i < m; i = imap_tok_skip(p, i)) {
		const struct imap_tok *kt = &p->toks[i], *vt;
		struct ms_slice key = imap_tok_val(p, kt);

		k = i++;
		if (kt->type != IMAP_TOK_ATOM || i >= m)
			return imap_parser_fail(p, MS_EPROTO,
			    "FETCH item without a value");
		vt = &p->toks[i];
		if (ms_slice_case_eq_cstr(key, "UID")) {
			if (!imap_tok_num(p, i, m, UINT32_MAX, &v) || v == 0)
				return IMAP_BAD(p, "FETCH UID");
			f.uid = (uint32_t)v;
			f.has |= IMAP_FETCH_HAS_UID;
		} else if (ms_slice_case_eq_cstr(key, "FLAGS")) {
			if (vt->type != IMAP_TOK_LPAREN ||
			    !imap_toks_all_atoms(p, i + 1, vt->match))
				return IMAP_BAD(p, "FETCH FLAGS");
			f.flags = imap_tok_inner(p, i);
			f.has |= IMAP_FETCH_HAS_FLAGS;
		} else if (ms_slice_case_eq_cstr(key, "INTERNALDATE")) {
			if (!imap_tok_is_string(vt))
				return IMAP_BAD(p, "FETCH INTERNALDATE");
			f.internaldate = imap_tok_val(p, vt);
			f.has |= IMAP_FETCH_HAS_INTERNALDATE;
		} else if (ms_slice_case_eq_cstr(key, "RFC822.SIZE")) {
			if (!imap_tok_num(p, i, m, INT64_MAX, &f.rfc822_size))
				return IMAP_BAD(p, "FETCH RFC822.SIZE");
			f.has |= IMAP_FETCH_HAS_RFC822_SIZE;
		} else if (ms_slice_case_eq_cstr(key, "MODSEQ")) {
			if (vt->type != IMAP_TOK_LPAREN || vt->match != i + 2 ||
			    !imap_tok_num(p, i + 1, m, INT64_MAX, &f.modseq))
				return IMAP_BAD(p, "FETCH MODSEQ");
			f.has |= IMAP_FETCH_HAS_MODSEQ;
		} else if (ms_slice_case_eq_cstr(key, "ENVELOPE")) {
			if (vt->type != IMAP_TOK_LPAREN)
				return IMAP_BAD(p, "FETCH ENVELOPE");
			f.envelope = imap_tok_raw(p, i, vt->match);
			f.has |= IMAP_FETCH_HAS_ENVELOPE;
		} else if (ms_slice_case_eq_cstr(key, "BODYSTRUCTURE") ||
		    ms_slice_case_eq_cstr(key, "BODY")) {
			if (vt->type != IMAP_TOK_LPAREN)
				return IMAP_BAD(p, "FETCH BODYSTRUCTURE");
			f.bodystructure = imap_tok_raw(p, i, vt->match);
			f.has |= IMAP_FETCH_HAS_BODYSTRUCTURE;
		} else if (ms_slice_case_eq_cstr(key, "EMAILID") ||
		    ms_slice_case_eq_cstr(key, "THREADID")) {
			bool is_email = ms_slice_case_eq_cstr(key, "EMAILID");
			struct ms_slice id = { NULL, 0 };

			if (vt->type == IMAP_TOK_LPAREN && vt->match == i + 2 &&
			    p->toks[i + 1].type == IMAP_TOK_ATOM)
				id = imap_tok_val(p, &p->toks[i + 1]);
			else if (is_email || !imap_tok_is_atom(p, vt, "NIL"))
				return IMAP_BAD(p, "FETCH EMAILID/THREADID");
			if (is_email) {
				f.emailid = id;
				f.has |= IMAP_FETCH_HAS_EMAILID;
			} else {
				f.threadid = id;
				f.has |= IMAP_FETCH_HAS_THREADID;
			}
		} else if (imap_fetch_key_is_body(key)) {
			f.n_bodies++;
			if (vt->type == IMAP_TOK_STREAMED)
				continue;	/* announced while streaming */
			if (imap_tok_is_atom(p, vt, "NIL"))
				rc = imap_parser_fetch_body_start(p, k, 0,
				    false, true, (struct ms_slice){ NULL, 0 });
			else if (imap_tok_is_string(vt))
				rc = imap_parser_fetch_body_start(p, k,
				    vt->len, vt->is_lit8, false,
				    imap_tok_val(p, vt));
			else
				return IMAP_BAD(p, "FETCH body");
			if (rc != MS_OK)
				return rc;
		} else if (vt->type == IMAP_TOK_RPAREN) {
			return IMAP_BAD(p, "FETCH");
		}
		/* Unknown items (BINARY.SIZE, X-GM-*, ...) are skipped. */
	}
	IMAP_PUSH(p, ev, IMAP_EV_FETCH);
	ev->u.fetch = f;
	return MS_OK;
}

static int
imap_parser_list(struct imap_parser *p)
{
	struct imap_event *ev;
	struct imap_ev_list l;
	const struct imap_tok *t = p->toks;
	size_t n = p->ntoks, i;

	memset(&l, 0, sizeof(l));
	l.is_lsub = p->kind == IMAP_K_LSUB;
	if (n < 4 || t[0].type != IMAP_TOK_LPAREN ||
	    !imap_toks_all_atoms(p, 1, t[0].match))
		return IMAP_BAD(p, "LIST");
	l.attrs = imap_tok_inner(p, 0);
	i = t[0].match + 1;
	if (i + 1 >= n)
		return IMAP_BAD(p, "LIST");
	if (t[i].type == IMAP_TOK_QUOTED && t[i].len == 1)
		l.delim = p->buf.p[t[i].off];
	else if (!imap_tok_is_atom(p, &t[i], "NIL"))
		return IMAP_BAD(p, "LIST delimiter");
	i++;
	if (!imap_tok_is_astring(&t[i]))
		return IMAP_BAD(p, "LIST mailbox");
	l.name = imap_tok_val(p, &t[i]);
	i++;
	if (i < n) {
		/* mbox-list-extended: "(" tag SP value ... ")" */
		size_t m;

		if (t[i].type != IMAP_TOK_LPAREN || t[i].match != n - 1)
			return IMAP_BAD(p, "LIST extended data");
		m = t[i].match;
		for (i++; i < m; i = imap_tok_skip(p, i)) {
			struct ms_slice tag = imap_tok_val(p, &t[i]);
			size_t vi = i + 1;

			if (!imap_tok_is_astring(&t[i]) || vi >= m)
				return IMAP_BAD(p, "LIST extended data");
			i = vi;
			if (t[vi].type != IMAP_TOK_LPAREN)
				continue;
			if (ms_slice_case_eq_cstr(tag, "CHILDINFO")) {
				for (size_t j = vi + 1; j < t[vi].match; j++)
					if (imap_tok_is_astring(&t[j]) &&
					    ms_slice_case_eq_cstr(
					    imap_tok_val(p, &t[j]),
					    "SUBSCRIBED"))
						l.childinfo_subscribed = true;
			} else if (ms_slice_case_eq_cstr(tag, "OLDNAME")) {
				if (t[vi].match != vi + 2 ||
				    !imap_tok_is_astring(&t[vi + 1]))
					return IMAP_BAD(p, "LIST OLDNAME");
				l.has_oldname = true;
				l.oldname = imap_tok_val(p, &t[vi + 1]);
			}
		}
	}
	IMAP_PUSH(p, ev, IMAP_EV_LIST);
	ev->u.list_resp = l;
	return MS_OK;
}

/* The IMAP_STATUS_HAS_* bit of a 32-bit STATUS item (0: other). */
static unsigned
imap_status_item_bit(struct ms_slice key)
{
	static const struct {
		const char *name;
		unsigned bit;
	} items[] = {
		{ "MESSAGES", IMAP_STATUS_HAS_MESSAGES },
		{ "UIDNEXT", IMAP_STATUS_HAS_UIDNEXT },
		{ "UIDVALIDITY", IMAP_STATUS_HAS_UIDVALIDITY },
		{ "UNSEEN", IMAP_STATUS_HAS_UNSEEN },
		{ "RECENT", IMAP_STATUS_HAS_RECENT },
	};

	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		if (ms_slice_case_eq_cstr(key, items[i].name))
			return items[i].bit;
	return 0;
}

/*
 * A STATUS response that does not follow the grammar, but whose line was
 * read whole: one folder's fault, not the connection's.  Servers send
 * them (GNU imap4d: a mailbox name with spaces unquoted; hoodiecrow:
 * HIGHESTMODSEQ NIL), so the event says so (is_malformed, the raw text)
 * with no item, and the caller treats that folder as one without status.
 */
static int
imap_parser_status_malformed(struct imap_parser *p)
{
	struct imap_event *ev;

	IMAP_PUSH(p, ev, IMAP_EV_STATUS);
	memset(&ev->u.status_resp, 0, sizeof(ev->u.status_resp));
	ev->u.status_resp.is_malformed = true;
	ev->u.status_resp.raw = p->ntoks > 0 ?
	    imap_tok_raw(p, 0, p->ntoks - 1) : imap_parser_slice(p, 0, 0);
	return MS_OK;
}

static int
imap_parser_status(struct imap_parser *p)
{
	struct imap_event *ev;
	struct imap_ev_status_data s;
	const struct imap_tok *t = p->toks;
	size_t n = p->ntoks, i, m;
	uint64_t v;

	memset(&s, 0, sizeof(s));
	if (n < 3 || !imap_tok_is_astring(&t[0]) ||
	    t[1].type != IMAP_TOK_LPAREN || t[1].match != n - 1)
		return imap_parser_status_malformed(p);
	s.mailbox = imap_tok_val(p, &t[0]);
	m = t[1].match;
	for (i = 2; i < m; i += 2) {
		struct ms_slice key = imap_tok_val(p, &t[i]);
		bool is64 = ms_slice_case_eq_cstr(key, "HIGHESTMODSEQ") ||
		    ms_slice_case_eq_cstr(key, "SIZE");

		if (t[i].type != IMAP_TOK_ATOM ||
		    !imap_tok_num(p, i + 1, m, INT64_MAX, &v))
			return imap_parser_status_malformed(p);
		if (!is64 && v > UINT32_MAX) {
			/* One folder's fault, for the caller to report: not
			 * a reason to drop the connection. */
			s.bad |= imap_status_item_bit(key);
			s.out_of_range = v;
			continue;
		}
		if (ms_slice_case_eq_cstr(key, "MESSAGES")) {
			s.messages = (uint32_t)v;
			s.has |= IMAP_STATUS_HAS_MESSAGES;
		} else if (ms_slice_case_eq_cstr(key, "UIDNEXT")) {
			s.uidnext = (uint32_t)v;
			s.has |= IMAP_STATUS_HAS_UIDNEXT;
		} else if (ms_slice_case_eq_cstr(key, "UIDVALIDITY")) {
			s.uidvalidity = (uint32_t)v;
			s.has |= IMAP_STATUS_HAS_UIDVALIDITY;
		} else if (ms_slice_case_eq_cstr(key, "UNSEEN")) {
			s.unseen = (uint32_t)v;
			s.has |= IMAP_STATUS_HAS_UNSEEN;
		} else if (ms_slice_case_eq_cstr(key, "RECENT")) {
			s.recent = (uint32_t)v;
			s.has |= IMAP_STATUS_HAS_RECENT;
		} else if (ms_slice_case_eq_cstr(key, "HIGHESTMODSEQ")) {
			s.highestmodseq = v;
			s.has |= IMAP_STATUS_HAS_HIGHESTMODSEQ;
		} else if (ms_slice_case_eq_cstr(key, "SIZE")) {
			s.size = v;
			s.has |= IMAP_STATUS_HAS_SIZE;
		}
	}
	IMAP_PUSH(p, ev, IMAP_EV_STATUS);
	ev->u.status_resp = s;
	return MS_OK;
}

static int
imap_parser_search(struct imap_parser *p)
{
	struct imap_event *ev;
	struct imap_ev_search s;
	const struct imap_tok *t = p->toks;
	size_t n = p->ntoks, i;
	uint64_t v;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < n && t[i].type == IMAP_TOK_ATOM; i++)
		if (!imap_tok_num(p, i, n, UINT32_MAX, &v) || v == 0)
			return IMAP_BAD(p, "SEARCH");
	s.nums = i > 0 ? imap_tok_raw(p, 0, i - 1) :
	    imap_parser_slice(p, 0, 0);
	if (i < n) {
		/* CONDSTORE: "(MODSEQ n)" ends the response. */
		if (t[i].type != IMAP_TOK_LPAREN || t[i].match != n - 1 ||
		    t[i].match != i + 3 ||
		    !imap_tok_is_atom(p, &t[i + 1], "MODSEQ") ||
		    !imap_tok_num(p, i + 2, n, INT64_MAX, &s.modseq))
			return IMAP_BAD(p, "SEARCH");
		s.has_modseq = true;
	}
	IMAP_PUSH(p, ev, IMAP_EV_SEARCH);
	ev->u.search = s;
	return MS_OK;
}

static int
imap_parser_esearch(struct imap_parser *p)
{
	struct imap_event *ev;
	struct imap_ev_esearch e;
	const struct imap_tok *t = p->toks;
	size_t n = p->ntoks, i = 0;
	uint64_t v;

	memset(&e, 0, sizeof(e));
	if (n > 0 && t[0].type == IMAP_TOK_LPAREN) {
		if (t[0].match != 3 || !imap_tok_is_atom(p, &t[1], "TAG") ||
		    !imap_tok_is_string(&t[2]))
			return IMAP_BAD(p, "ESEARCH correlator");
		e.tag = imap_tok_val(p, &t[2]);
		i = 4;
	}
	if (i < n && imap_tok_is_atom(p, &t[i], "UID")) {
		e.is_uid = true;
		i++;
	}
	for (; i < n; i = imap_tok_skip(p, i)) {
		struct ms_slice key = imap_tok_val(p, &t[i]);

		if (t[i].type != IMAP_TOK_ATOM || i + 1 >= n)
			return IMAP_BAD(p, "ESEARCH");
		i++;
		if (ms_slice_case_eq_cstr(key, "MIN") ||
		    ms_slice_case_eq_cstr(key, "MAX") ||
		    ms_slice_case_eq_cstr(key, "COUNT")) {
			if (!imap_tok_num(p, i, n, UINT32_MAX, &v))
				return IMAP_BAD(p, "ESEARCH");
			if (ms_slice_case_eq_cstr(key, "COUNT")) {
				e.count = (uint32_t)v;
				e.has |= IMAP_ESEARCH_HAS_COUNT;
			} else if (ms_slice_case_eq_cstr(key, "MIN")) {
				e.min = (uint32_t)v;
				e.has |= IMAP_ESEARCH_HAS_MIN;
			} else {
				e.max = (uint32_t)v;
				e.has |= IMAP_ESEARCH_HAS_MAX;
			}
		} else if (ms_slice_case_eq_cstr(key, "ALL")) {
			if (t[i].type != IMAP_TOK_ATOM ||
			    !imap_seqset_is_valid(imap_tok_val(p, &t[i]),
			    false))
				return IMAP_BAD(p, "ESEARCH ALL");
			e.all = imap_tok_val(p, &t[i]);
			e.has |= IMAP_ESEARCH_HAS_ALL;
		} else if (ms_slice_case_eq_cstr(key, "MODSEQ")) {
			if (!imap_tok_num(p, i, n, INT64_MAX, &e.modseq))
				return IMAP_BAD(p, "ESEARCH MODSEQ");
			e.has |= IMAP_ESEARCH_HAS_MODSEQ;
		} else if (t[i].type == IMAP_TOK_RPAREN) {
			return IMAP_BAD(p, "ESEARCH");
		}
	}
	IMAP_PUSH(p, ev, IMAP_EV_ESEARCH);
	ev->u.esearch = e;
	return MS_OK;
}

static int
imap_parser_vanished(struct imap_parser *p)
{
	struct imap_event *ev;
	const struct imap_tok *t = p->toks;
	size_t n = p->ntoks, i = 0;
	bool earlier = false;

	if (n == 4 && t[0].type == IMAP_TOK_LPAREN && t[0].match == 2 &&
	    imap_tok_is_atom(p, &t[1], "EARLIER")) {
		earlier = true;
		i = 3;
	}
	if (i + 1 != n || t[i].type != IMAP_TOK_ATOM ||
	    !imap_seqset_is_valid(imap_tok_val(p, &t[i]), false))
		return IMAP_BAD(p, "VANISHED");
	IMAP_PUSH(p, ev, IMAP_EV_VANISHED);
	ev->u.vanished.earlier = earlier;
	ev->u.vanished.set = imap_tok_val(p, &t[i]);
	return MS_OK;
}

/* One namespace part: NIL or "(" 1*( "(" prefix delim *ext ")" ) ")". */
static int
imap_parser_ns_part(struct imap_parser *p, size_t *i, struct ms_slice *raw_r)
{
	const struct imap_tok *t = p->toks;
	size_t m, j;

	if (*i >= p->ntoks)
		return IMAP_BAD(p, "NAMESPACE");
	if (imap_tok_is_atom(p, &t[*i], "NIL")) {
		*raw_r = imap_tok_raw(p, *i, *i);
		(*i)++;
		return MS_OK;
	}
	/* At least one namespace: "()" is not allowed. */
	if (t[*i].type != IMAP_TOK_LPAREN || t[*i].match == *i + 1)
		return IMAP_BAD(p, "NAMESPACE");
	m = t[*i].match;
	for (j = *i + 1; j < m; j = t[j].match + 1)
		if (t[j].type != IMAP_TOK_LPAREN || t[j].match < j + 3 ||
		    !imap_tok_is_string(&t[j + 1]) ||
		    !(imap_tok_is_atom(p, &t[j + 2], "NIL") ||
		    (t[j + 2].type == IMAP_TOK_QUOTED && t[j + 2].len == 1)))
			return IMAP_BAD(p, "NAMESPACE");
	*raw_r = imap_tok_raw(p, *i, m);
	*i = m + 1;
	return MS_OK;
}

static int
imap_parser_namespace(struct imap_parser *p)
{
	struct imap_event *ev;
	struct imap_ev_namespace ns;
	const struct imap_tok *t = p->toks;
	size_t i = 0;
	int rc;

	memset(&ns, 0, sizeof(ns));
	if ((rc = imap_parser_ns_part(p, &i, &ns.personal)) != MS_OK)
		return rc;
	if (t[0].type == IMAP_TOK_LPAREN) {
		ns.has_personal = true;
		ns.personal_prefix = imap_tok_val(p, &t[2]);
		if (t[3].type == IMAP_TOK_QUOTED)
			ns.personal_delim = p->buf.p[t[3].off];
	}
	if ((rc = imap_parser_ns_part(p, &i, &ns.other)) != MS_OK ||
	    (rc = imap_parser_ns_part(p, &i, &ns.shared)) != MS_OK)
		return rc;
	if (i != p->ntoks)
		return IMAP_BAD(p, "NAMESPACE");
	IMAP_PUSH(p, ev, IMAP_EV_NAMESPACE);
	ev->u.namespace_resp = ns;
	return MS_OK;
}

/* Finishes an untagged data response whose tokens are all collected. */
static int
imap_parser_finish_data(struct imap_parser *p)
{
	struct imap_event *ev;
	const struct imap_tok *t = p->toks;
	size_t n = p->ntoks;

	if (p->depth != 0)
		return imap_parser_fail(p, MS_EPROTO, "unclosed '('");
	switch (p->kind) {
	case IMAP_K_FETCH:
		return imap_parser_fetch(p);
	case IMAP_K_LIST:
	case IMAP_K_LSUB:
		return imap_parser_list(p);
	case IMAP_K_STATUS:
		return imap_parser_status(p);
	case IMAP_K_SEARCH:
		return imap_parser_search(p);
	case IMAP_K_ESEARCH:
		return imap_parser_esearch(p);
	case IMAP_K_VANISHED:
		return imap_parser_vanished(p);
	case IMAP_K_NAMESPACE:
		return imap_parser_namespace(p);
	case IMAP_K_CAPABILITY:
	case IMAP_K_ENABLED:
		if (!imap_toks_all_atoms(p, 0, n))
			return IMAP_BAD(p, p->kind == IMAP_K_ENABLED ?
			    "ENABLED" : "CAPABILITY");
		IMAP_PUSH(p, ev, p->kind == IMAP_K_ENABLED ? IMAP_EV_ENABLED :
		    IMAP_EV_CAPABILITY);
		ev->u.list = n > 0 ? imap_tok_raw(p, 0, n - 1) :
		    imap_parser_slice(p, 0, 0);
		return MS_OK;
	case IMAP_K_FLAGS:
		if (n == 0 || t[0].type != IMAP_TOK_LPAREN ||
		    t[0].match != n - 1 || !imap_toks_all_atoms(p, 1, n - 1))
			return IMAP_BAD(p, "FLAGS");
		IMAP_PUSH(p, ev, IMAP_EV_FLAGS);
		ev->u.list = imap_tok_inner(p, 0);
		return MS_OK;
	case IMAP_K_ID:
		if (n == 1 && imap_tok_is_atom(p, &t[0], "NIL")) {
			/* NIL */
		} else if (n == 0 || t[0].type != IMAP_TOK_LPAREN ||
		    t[0].match != n - 1) {
			return IMAP_BAD(p, "ID");
		}
		IMAP_PUSH(p, ev, IMAP_EV_ID);
		ev->u.raw = imap_tok_raw(p, 0, n - 1);
		return MS_OK;
	default:
		IMAP_PUSH(p, ev, IMAP_EV_UNTAGGED_OTHER);
		ev->u.other.name = imap_parser_slice(p, p->name_off,
		    p->name_len);
		ev->u.other.raw = n > 0 ? imap_tok_raw(p, 0, n - 1) :
		    imap_parser_slice(p, 0, 0);
		return MS_OK;
	}
}

/* --- lines and the feed loop ------------------------------------------- */

struct imap_kind_name {
	const char *name;
	enum imap_kind kind;
};

static const struct imap_kind_name imap_kind_names[] = {
	{ "CAPABILITY", IMAP_K_CAPABILITY },
	{ "ENABLED", IMAP_K_ENABLED },
	{ "FLAGS", IMAP_K_FLAGS },
	{ "LIST", IMAP_K_LIST },
	{ "LSUB", IMAP_K_LSUB },
	{ "STATUS", IMAP_K_STATUS },
	{ "SEARCH", IMAP_K_SEARCH },
	{ "ESEARCH", IMAP_K_ESEARCH },
	{ "NAMESPACE", IMAP_K_NAMESPACE },
	{ "ID", IMAP_K_ID },
	{ "VANISHED", IMAP_K_VANISHED },
};

/* Reads a word up to SP or end, starting at *pos; skips one SP after it. */
static struct ms_slice
imap_parser_word(struct imap_parser *p, size_t *pos, size_t end)
{
	size_t s = *pos;
	const uint8_t *sp = memchr(p->buf.p + s, ' ', end - s);
	size_t e = sp != NULL ? (size_t)(sp - p->buf.p) : end;

	*pos = e < end ? e + 1 : end;
	return imap_parser_slice(p, s, e - s);
}

/* Only trailing spaces may follow "* 3 EXISTS". */
static bool
imap_parser_rest_empty(const struct imap_parser *p, size_t pos, size_t end)
{
	while (pos < end && p->buf.p[pos] == ' ')
		pos++;
	return pos == end;
}

/* Tag characters: astring-char minus "+" (RFC 3501). */
static bool
imap_tag_valid(struct ms_slice tag)
{
	if (tag.len == 0)
		return false;
	for (size_t i = 0; i < tag.len; i++) {
		uint8_t c = tag.p[i];

		if (c <= 0x20 || c >= 0x7f || c == '(' || c == ')' ||
		    c == '{' || c == '%' || c == '*' || c == '"' ||
		    c == '\\' || c == '+')
			return false;
	}
	return true;
}

/* Parses the first line of a response, buf[pos, end) without CRLF. */
static int
imap_parser_first_line(struct imap_parser *p, size_t pos, size_t end)
{
	const uint8_t *b = p->buf.p;
	struct imap_event *ev;
	struct ms_slice w, tag;
	enum imap_status st;
	uint64_t num;
	int rc;

	if (pos == end)
		return imap_parser_fail(p, MS_EPROTO, "empty line");
	if (b[pos] == '+') {
		if (!p->greeted)
			return imap_parser_fail(p, MS_EPROTO,
			    "continuation before the greeting");
		pos++;
		if (pos < end && b[pos] == ' ')
			pos++;
		IMAP_PUSH(p, ev, IMAP_EV_CONTINUATION);
		ev->u.text = imap_parser_slice(p, pos, end - pos);
		p->resp_done = true;
		return MS_OK;
	}
	if (b[pos] != '*') {
		tag = imap_parser_word(p, &pos, end);
		if (!imap_tag_valid(tag))
			return imap_parser_fail(p, MS_EPROTO, "bad tag");
		w = imap_parser_word(p, &pos, end);
		if (!imap_status_word(w, &st) || st > IMAP_STATUS_BAD)
			return imap_parser_fail(p, MS_EPROTO,
			    "tagged response without OK/NO/BAD");
		if (!p->greeted)
			return imap_parser_fail(p, MS_EPROTO,
			    "tagged response before the greeting");
		IMAP_PUSH(p, ev, IMAP_EV_TAGGED);
		ev->u.status.status = st;
		ev->u.status.tag = tag;
		p->resp_done = true;
		return imap_parser_resp_text(p, pos, end, &ev->u.status);
	}
	if (pos + 1 >= end || b[pos + 1] != ' ')
		return imap_parser_fail(p, MS_EPROTO, "expected SP after '*'");
	pos += 2;
	p->name_off = pos;
	w = imap_parser_word(p, &pos, end);
	if (w.len == 0)
		return imap_parser_fail(p, MS_EPROTO, "empty response name");
	if (imap_status_word(w, &st)) {
		bool greeting = !p->greeted;

		if (greeting && st != IMAP_STATUS_OK &&
		    st != IMAP_STATUS_PREAUTH && st != IMAP_STATUS_BYE)
			return imap_parser_fail(p, MS_EPROTO,
			    "greeting must be OK, PREAUTH or BYE");
		p->greeted = true;
		IMAP_PUSH(p, ev, greeting ? IMAP_EV_GREETING :
		    IMAP_EV_UNTAGGED_STATUS);
		ev->u.status.status = st;
		p->resp_done = true;
		return imap_parser_resp_text(p, pos, end, &ev->u.status);
	}
	if (!p->greeted)
		return imap_parser_fail(p, MS_EPROTO,
		    "expected a greeting, got untagged data");
	p->kind = IMAP_K_OTHER;
	if (imap_is_digit(w.p[0])) {
		if (!imap_parse_num(w, UINT32_MAX, &num))
			return imap_parser_fail(p, MS_EPROTO,
			    "bad message number");
		p->resp_num = (uint32_t)num;
		w = imap_parser_word(p, &pos, end);
		if (ms_slice_case_eq_cstr(w, "EXISTS") ||
		    ms_slice_case_eq_cstr(w, "RECENT") ||
		    ms_slice_case_eq_cstr(w, "EXPUNGE")) {
			bool expunge = ms_slice_case_eq_cstr(w, "EXPUNGE");

			/* EXPUNGE names a message, so it cannot be 0. */
			if (!imap_parser_rest_empty(p, pos, end) ||
			    (num == 0 && expunge))
				return imap_parser_fail(p, MS_EPROTO,
				    "malformed %.*s response", (int)w.len,
				    (const char *)w.p);
			IMAP_PUSH(p, ev, expunge ? IMAP_EV_EXPUNGE :
			    ms_slice_case_eq_cstr(w, "EXISTS") ?
			    IMAP_EV_EXISTS : IMAP_EV_RECENT);
			ev->u.num = (uint32_t)num;
			p->resp_done = true;
			return MS_OK;
		}
		if (ms_slice_case_eq_cstr(w, "FETCH")) {
			if (num == 0)
				return imap_parser_fail(p, MS_EPROTO,
				    "FETCH for message 0");
			p->kind = IMAP_K_FETCH;
		}
	} else {
		for (size_t i = 0; i < sizeof(imap_kind_names) /
		    sizeof(imap_kind_names[0]); i++)
			if (ms_slice_case_eq_cstr(w, imap_kind_names[i].name))
				p->kind = imap_kind_names[i].kind;
	}
	p->name_len = (size_t)(w.p + w.len - (p->buf.p + p->name_off));
	rc = imap_parser_tokenize(p, pos, end);
	if (rc == MS_OK) {
		p->resp_done = true;
		return imap_parser_finish_data(p);
	}
	return rc == MS_AGAIN ? MS_OK : rc;
}

/* A whole line (through LF) sits at buf[seg_start, len). */
static int
imap_parser_line(struct imap_parser *p)
{
	size_t end = p->buf.len - 1;
	int rc;

	if (end > p->seg_start && p->buf.p[end - 1] == '\r')
		end--;
	if (!p->resp_started) {
		p->resp_started = true;
		return imap_parser_first_line(p, p->seg_start, end);
	}
	rc = imap_parser_tokenize(p, p->seg_start, end);
	if (rc == MS_OK) {
		p->resp_done = true;
		return imap_parser_finish_data(p);
	}
	return rc == MS_AGAIN ? MS_OK : rc;
}

int
imap_parser_feed(struct imap_parser *p, const uint8_t *data, size_t len,
    size_t *consumed_r)
{
	size_t used = 0, n;
	int rc = MS_OK;

	*consumed_r = 0;
	if (p->state == IMAP_PS_ERROR)
		return p->err.code;
	if (p->evq_head < p->evq_len)
		return MS_OK;
	p->evq_head = 0;
	p->evq_len = 0;
	if (p->resp_done)
		imap_parser_reset_response(p);
	if (p->state == IMAP_PS_HOLD) {
		if (len == 0)
			return MS_AGAIN;
		p->line_off = p->stream_off;
		return imap_parser_fail(p, MS_EPROTO,
		    "input arrived while the connection is switching to TLS");
	}
	while (used < len && p->evq_len == 0 && rc >= 0) {
		const uint8_t *s = data + used;
		size_t avail = len - used;

		switch (p->state) {
		case IMAP_PS_LINE: {
			const uint8_t *lf = memchr(s, '\n', avail);
			size_t seg_len = p->buf.len - p->seg_start;

			n = lf != NULL ? (size_t)(lf - s) + 1 : avail;
			if (seg_len == 0)
				p->line_off = p->stream_off + used;
			/* The limit excludes the CRLF. */
			if (n > p->params.max_line + 2 - seg_len) {
				rc = imap_parser_fail(p, MS_ETOOBIG,
				    "line longer than %zu bytes",
				    p->params.max_line);
				break;
			}
			if ((rc = ms_buf_append(&p->buf, s, n)) != MS_OK) {
				rc = imap_parser_fail(p, rc, "out of memory");
				break;
			}
			used += n;
			if (lf == NULL)
				break;
			/* A bare LF line may not use the CR's byte. */
			seg_len = p->buf.len - 1 - p->seg_start;
			if (seg_len > p->params.max_line &&
			    p->buf.p[p->buf.len - 2] != '\r') {
				rc = imap_parser_fail(p, MS_ETOOBIG,
				    "line longer than %zu bytes",
				    p->params.max_line);
				break;
			}
			if (p->buf.len > p->params.max_response) {
				rc = imap_parser_fail(p, MS_ETOOBIG,
				    "response longer than %zu bytes",
				    p->params.max_response);
				break;
			}
			rc = imap_parser_line(p);
			break;
		}
		case IMAP_PS_LIT_INLINE:
			n = avail < p->lit_left ? avail : (size_t)p->lit_left;
			if ((rc = ms_buf_append(&p->buf, s, n)) != MS_OK) {
				rc = imap_parser_fail(p, rc, "out of memory");
				break;
			}
			used += n;
			p->lit_left -= n;
			if (p->lit_left == 0) {
				p->state = IMAP_PS_LINE;
				p->seg_start = p->buf.len;
			}
			break;
		case IMAP_PS_LIT_STREAM: {
			struct imap_event *ev;

			n = avail < p->lit_left ? avail : (size_t)p->lit_left;
			if ((ev = imap_parser_push(p,
			    IMAP_EV_LITERAL_CHUNK)) == NULL) {
				rc = imap_parser_fail(p, MS_ENOMEM,
				    "out of memory");
				break;
			}
			ev->u.chunk.data = (struct ms_slice){ s, n };
			ev->u.chunk.offset = p->lit_size - p->lit_left;
			used += n;
			p->lit_left -= n;
			ev->u.chunk.is_last = p->lit_left == 0;
			if (p->lit_left == 0) {
				p->state = IMAP_PS_LINE;
				p->seg_start = p->buf.len;
			}
			break;
		}
		default:
			rc = imap_parser_fail(p, MS_EINTERNAL, "bad state");
			break;
		}
	}
	p->stream_off += used;
	*consumed_r = used;
	if (rc < 0)
		return rc;
	return p->evq_len > 0 ? MS_OK : MS_AGAIN;
}

/* --- canonical text form ------------------------------------------------ */

static int
imap_fmt_slice(struct ms_buf *out, const char *name, struct ms_slice s)
{
	int rc = ms_buf_printf(out, " %s=\"", name);

	for (size_t i = 0; i < s.len && rc == MS_OK; i++) {
		uint8_t c = s.p[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			rc = ms_buf_printf(out, "\\x%02x", c);
		else
			rc = ms_buf_append(out, &c, 1);
	}
	return rc == MS_OK ? ms_buf_append(out, "\"", 1) : rc;
}

static int
imap_fmt_code(struct ms_buf *out, const struct imap_resp_code *c)
{
	int rc;

	if (c->code == IMAP_CODE_NONE)
		return MS_OK;
	if ((rc = ms_buf_printf(out, " code=%d", (int)c->code)) != MS_OK ||
	    (rc = imap_fmt_slice(out, "name", c->name)) != MS_OK ||
	    (rc = imap_fmt_slice(out, "args", c->args)) != MS_OK ||
	    (rc = imap_fmt_slice(out, "list", c->list)) != MS_OK ||
	    (rc = imap_fmt_slice(out, "set1", c->set1)) != MS_OK ||
	    (rc = imap_fmt_slice(out, "set2", c->set2)) != MS_OK)
		return rc;
	return ms_buf_printf(out, " num=%llu uidvalidity=%u",
	    (unsigned long long)c->num, c->uidvalidity);
}

int
imap_event_format(const struct imap_event *ev, struct ms_buf *out)
{
	const struct imap_ev_fetch *f = &ev->u.fetch;
	const struct imap_ev_fetch_body *b = &ev->u.body;
	const struct imap_ev_list *l = &ev->u.list_resp;
	const struct imap_ev_status_data *s = &ev->u.status_resp;
	const struct imap_ev_esearch *e = &ev->u.esearch;
	const struct imap_ev_namespace *ns = &ev->u.namespace_resp;
	int rc;

	if ((rc = ms_buf_append_cstr(out, imap_ev_type_name(ev->type))) !=
	    MS_OK)
		return rc;
	switch (ev->type) {
	case IMAP_EV_ERROR:
		rc = ms_buf_printf(out, " code=%s off=%llu msg=%s",
		    ms_strerror(ev->u.error.code),
		    (unsigned long long)ev->u.error.offset, ev->u.error.msg);
		break;
	case IMAP_EV_GREETING:
	case IMAP_EV_TAGGED:
	case IMAP_EV_UNTAGGED_STATUS:
		if ((rc = ms_buf_printf(out, " status=%d",
		    (int)ev->u.status.status)) != MS_OK ||
		    (rc = imap_fmt_slice(out, "tag", ev->u.status.tag)) !=
		    MS_OK ||
		    (rc = imap_fmt_code(out, &ev->u.status.code)) != MS_OK)
			break;
		rc = imap_fmt_slice(out, "text", ev->u.status.text);
		break;
	case IMAP_EV_CONTINUATION:
		rc = imap_fmt_slice(out, "text", ev->u.text);
		break;
	case IMAP_EV_CAPABILITY:
	case IMAP_EV_ENABLED:
	case IMAP_EV_FLAGS:
		rc = imap_fmt_slice(out, "list", ev->u.list);
		break;
	case IMAP_EV_ID:
		rc = imap_fmt_slice(out, "raw", ev->u.raw);
		break;
	case IMAP_EV_EXISTS:
	case IMAP_EV_RECENT:
	case IMAP_EV_EXPUNGE:
		rc = ms_buf_printf(out, " num=%u", ev->u.num);
		break;
	case IMAP_EV_VANISHED:
		if ((rc = ms_buf_printf(out, " earlier=%d",
		    ev->u.vanished.earlier)) == MS_OK)
			rc = imap_fmt_slice(out, "set", ev->u.vanished.set);
		break;
	case IMAP_EV_LIST:
		if ((rc = ms_buf_printf(out, " lsub=%d delim=%u sub=%d "
		    "has_old=%d", l->is_lsub, l->delim,
		    l->childinfo_subscribed, l->has_oldname)) != MS_OK ||
		    (rc = imap_fmt_slice(out, "attrs", l->attrs)) != MS_OK ||
		    (rc = imap_fmt_slice(out, "name", l->name)) != MS_OK)
			break;
		rc = imap_fmt_slice(out, "oldname", l->oldname);
		break;
	case IMAP_EV_STATUS:
		if ((rc = imap_fmt_slice(out, "mailbox", s->mailbox)) != MS_OK)
			break;
		rc = ms_buf_printf(out, " has=%#x messages=%u uidnext=%u "
		    "uidvalidity=%u unseen=%u recent=%u highestmodseq=%llu "
		    "size=%llu", s->has, s->messages, s->uidnext,
		    s->uidvalidity, s->unseen, s->recent,
		    (unsigned long long)s->highestmodseq,
		    (unsigned long long)s->size);
		if (rc == MS_OK && s->bad != 0)
			rc = ms_buf_printf(out, " bad=%#x out_of_range=%llu",
			    s->bad, (unsigned long long)s->out_of_range);
		if (rc == MS_OK && s->is_malformed &&
		    (rc = ms_buf_printf(out, " malformed")) == MS_OK)
			rc = imap_fmt_slice(out, "raw", s->raw);
		break;
	case IMAP_EV_SEARCH:
		if ((rc = imap_fmt_slice(out, "nums", ev->u.search.nums)) ==
		    MS_OK)
			rc = ms_buf_printf(out, " has_modseq=%d modseq=%llu",
			    ev->u.search.has_modseq,
			    (unsigned long long)ev->u.search.modseq);
		break;
	case IMAP_EV_ESEARCH:
		if ((rc = imap_fmt_slice(out, "tag", e->tag)) != MS_OK ||
		    (rc = imap_fmt_slice(out, "all", e->all)) != MS_OK)
			break;
		rc = ms_buf_printf(out, " uid=%d has=%#x min=%u max=%u "
		    "count=%u modseq=%llu", e->is_uid, e->has, e->min, e->max,
		    e->count, (unsigned long long)e->modseq);
		break;
	case IMAP_EV_NAMESPACE:
		if ((rc = imap_fmt_slice(out, "personal", ns->personal)) !=
		    MS_OK ||
		    (rc = imap_fmt_slice(out, "other", ns->other)) != MS_OK ||
		    (rc = imap_fmt_slice(out, "shared", ns->shared)) !=
		    MS_OK ||
		    (rc = imap_fmt_slice(out, "prefix",
		    ns->personal_prefix)) != MS_OK)
			break;
		rc = ms_buf_printf(out, " has_personal=%d delim=%u",
		    ns->has_personal, ns->personal_delim);
		break;
	case IMAP_EV_FETCH_BODY:
		if ((rc = imap_fmt_slice(out, "item", b->item)) != MS_OK ||
		    (rc = imap_fmt_slice(out, "section", b->section)) != MS_OK)
			break;
		rc = ms_buf_printf(out, " seq=%u uid=%u origin=%d:%u "
		    "binary=%d nil=%d size=%llu", b->seq, b->uid,
		    b->has_origin, b->origin, b->is_binary, b->is_nil,
		    (unsigned long long)b->size);
		break;
	case IMAP_EV_LITERAL_CHUNK:
		if ((rc = ms_buf_printf(out, " offset=%llu last=%d",
		    (unsigned long long)ev->u.chunk.offset,
		    ev->u.chunk.is_last)) == MS_OK)
			rc = imap_fmt_slice(out, "data", ev->u.chunk.data);
		break;
	case IMAP_EV_FETCH:
		if ((rc = ms_buf_printf(out, " seq=%u has=%#x uid=%u "
		    "size=%llu modseq=%llu bodies=%u", f->seq, f->has, f->uid,
		    (unsigned long long)f->rfc822_size,
		    (unsigned long long)f->modseq, f->n_bodies)) != MS_OK ||
		    (rc = imap_fmt_slice(out, "flags", f->flags)) != MS_OK ||
		    (rc = imap_fmt_slice(out, "date", f->internaldate)) !=
		    MS_OK ||
		    (rc = imap_fmt_slice(out, "envelope", f->envelope)) !=
		    MS_OK ||
		    (rc = imap_fmt_slice(out, "bodystructure",
		    f->bodystructure)) != MS_OK ||
		    (rc = imap_fmt_slice(out, "emailid", f->emailid)) != MS_OK)
			break;
		rc = imap_fmt_slice(out, "threadid", f->threadid);
		break;
	case IMAP_EV_UNTAGGED_OTHER:
		if ((rc = imap_fmt_slice(out, "name", ev->u.other.name)) ==
		    MS_OK)
			rc = imap_fmt_slice(out, "raw", ev->u.other.raw);
		break;
	}
	return rc == MS_OK ? ms_buf_append(out, "\n", 1) : rc;
}
