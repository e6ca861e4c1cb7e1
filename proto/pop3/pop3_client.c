/*
 * pop3_client.c - POP3 response parser, command queue, CAPA and the
 * STLS barrier.
 */
#include "pop3/pop3_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Dot-unstuffing states inside a message body. */
enum {
	POP3_BODY_BOL = 0,	/* at the start of a line */
	POP3_BODY_MID,
	POP3_BODY_DOT,		/* a '.' started the line */
	POP3_BODY_DOT_CR,	/* ".\r" started the line */
};

static const char *const pop3_client_state_names[] = {
	[POP3_CLIENT_GREETING] = "GREETING",
	[POP3_CLIENT_READY] = "READY",
	[POP3_CLIENT_TLS_WAIT] = "TLS_WAIT",
	[POP3_CLIENT_DEAD] = "DEAD",
};

static const char *const pop3_cmd_names[] = {
	[POP3_CMD_NONE] = "NONE", [POP3_CMD_GREETING] = "GREETING",
	[POP3_CMD_CAPA] = "CAPA", [POP3_CMD_STLS] = "STLS",
	[POP3_CMD_USER] = "USER", [POP3_CMD_PASS] = "PASS",
	[POP3_CMD_AUTH] = "AUTH", [POP3_CMD_STAT] = "STAT",
	[POP3_CMD_LIST] = "LIST", [POP3_CMD_LIST_ALL] = "LIST",
	[POP3_CMD_UIDL] = "UIDL", [POP3_CMD_UIDL_ALL] = "UIDL",
	[POP3_CMD_RETR] = "RETR", [POP3_CMD_TOP] = "TOP",
	[POP3_CMD_DELE] = "DELE", [POP3_CMD_NOOP] = "NOOP",
	[POP3_CMD_RSET] = "RSET", [POP3_CMD_QUIT] = "QUIT",
};

const char *
pop3_client_state_name(enum pop3_client_state state)
{
	if ((size_t)state < sizeof(pop3_client_state_names) /
	    sizeof(pop3_client_state_names[0]))
		return pop3_client_state_names[state];
	return "?";
}

const char *
pop3_cmd_name(enum pop3_cmd cmd)
{
	if ((size_t)cmd < sizeof(pop3_cmd_names) / sizeof(pop3_cmd_names[0]))
		return pop3_cmd_names[cmd];
	return "?";
}

/* The one place the state changes; DEAD is final. */
static void
pop3_client_set_state(struct pop3_client *c, enum pop3_client_state state)
{
	if (c->state != POP3_CLIENT_DEAD)
		c->state = state;
}

static int
pop3_client_fail(struct pop3_client *c, int rc)
{
	c->state = POP3_CLIENT_DEAD;
	return rc;
}

int
pop3_client_init(struct pop3_client *c, const struct pop3_client_params *params)
{
	struct pop3_client_params p = { 0 };

	memset(c, 0, sizeof(*c));
	if (params != NULL)
		p = *params;
	ms_buf_init(&c->line, p.max_line ? p.max_line : 8192);
	ms_buf_init(&c->out, p.max_output ? p.max_output : 64u * 1024);
	c->max_chunk = p.max_chunk ? p.max_chunk : 16384;
	if (c->max_chunk < 2)
		c->max_chunk = 2;	/* one input byte may emit two */
	c->max_cmd_line = p.max_cmd_line ? p.max_cmd_line : 255;
	c->max_auth_line = p.max_auth_line ? p.max_auth_line : 16384;
	c->state = POP3_CLIENT_GREETING;
	c->chunk = malloc(c->max_chunk);
	c->cmds_cap = 16;
	c->cmds = malloc(c->cmds_cap);
	if (c->chunk == NULL || c->cmds == NULL)
		return MS_ENOMEM;
	/* The greeting is the answer to connecting. */
	c->cmds[0] = POP3_CMD_GREETING;
	c->ncmds = 1;
	return MS_OK;
}

void
pop3_client_deinit(struct pop3_client *c)
{
	/* PASS and AUTH put secrets into out. */
	ms_buf_wipe(&c->out);
	ms_buf_deinit(&c->out);
	ms_buf_deinit(&c->line);
	free(c->chunk);
	free(c->cmds);
	c->chunk = NULL;
	c->cmds = NULL;
}

static enum pop3_cmd
pop3_client_head(const struct pop3_client *c)
{
	return c->ncmds > 0 ? (enum pop3_cmd)c->cmds[c->cmds_head] :
	    POP3_CMD_NONE;
}

static void
pop3_client_pop(struct pop3_client *c)
{
	if (c->ncmds == 0)
		return;
	c->cmds_head++;
	if (--c->ncmds == 0)
		c->cmds_head = 0;
}

static int
pop3_client_push(struct pop3_client *c, enum pop3_cmd cmd)
{
	if (c->cmds_head + c->ncmds == c->cmds_cap) {
		if (c->cmds_head > 0) {
			memmove(c->cmds, c->cmds + c->cmds_head, c->ncmds);
		} else {
			uint8_t *n = realloc(c->cmds, c->cmds_cap * 2);

			if (n == NULL)
				return MS_ENOMEM;
			c->cmds = n;
			c->cmds_cap *= 2;
		}
		c->cmds_head = 0;
	}
	c->cmds[c->cmds_head + c->ncmds++] = (uint8_t)cmd;
	return MS_OK;
}

size_t
pop3_client_pending(const struct pop3_client *c)
{
	return c->ncmds;
}

unsigned
pop3_client_caps(const struct pop3_client *c)
{
	return c->caps;
}

struct ms_slice
pop3_client_sasl_mechs(const struct pop3_client *c)
{
	return ms_slice_from_cstr(c->sasl_mechs);
}

/* A CAPA line: learn the capabilities the session needs. */
static void
pop3_client_learn_cap(struct pop3_client *c, struct ms_slice l)
{
	static const struct {
		const char *name;
		unsigned bit;
	} caps[] = {
		{ "STLS", POP3_CAP_STLS }, { "SASL", POP3_CAP_SASL },
		{ "UIDL", POP3_CAP_UIDL }, { "TOP", POP3_CAP_TOP },
		{ "PIPELINING", POP3_CAP_PIPELINING },
		{ "RESP-CODES", POP3_CAP_RESP_CODES },
		{ "AUTH-RESP-CODE", POP3_CAP_AUTH_RESP_CODE },
		{ "USER", POP3_CAP_USER },
	};
	struct ms_slice word = l;
	const uint8_t *sp = memchr(l.p, ' ', l.len);
	size_t i;

	if (sp != NULL)
		word.len = (size_t)(sp - l.p);
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (ms_slice_case_eq_cstr(word, caps[i].name))
			break;
	}
	if (i == sizeof(caps) / sizeof(caps[0]))
		return;
	c->caps |= caps[i].bit;
	if (caps[i].bit == POP3_CAP_SASL && sp != NULL) {
		size_t n = l.len - word.len - 1;

		/* Keep whole names only if the list is absurdly long. */
		if (n > POP3_MAX_SASL_MECHS) {
			n = POP3_MAX_SASL_MECHS;
			while (n > 0 && sp[1 + n] != ' ')
				n--;
		}
		memcpy(c->sasl_mechs, sp + 1, n);
		c->sasl_mechs[n] = '\0';
	}
}

static void
pop3_client_set_event(struct pop3_client *c, enum pop3_ev_type type,
    enum pop3_cmd cmd, struct ms_slice text)
{
	memset(&c->ev, 0, sizeof(c->ev));
	c->ev.type = type;
	c->ev.cmd = cmd;
	c->ev.text = text;
	c->has_event = true;
}

/* A line inside a listing: "." ends it, a leading "." is stuffing. */
static int
pop3_client_listing_line(struct pop3_client *c, struct ms_slice l)
{
	enum pop3_cmd cmd = pop3_client_head(c);

	if (l.len == 1 && l.p[0] == '.') {
		pop3_client_set_event(c, POP3_EV_END, cmd, l);
		c->ev.text.len = 0;
		c->in_mode = POP3_IN_STATUS;
		pop3_client_pop(c);
		return MS_OK;
	}
	if (l.len > 0 && l.p[0] == '.') {
		l.p++;
		l.len--;
	}
	if (cmd == POP3_CMD_CAPA)
		pop3_client_learn_cap(c, l);
	pop3_client_set_event(c, POP3_EV_LINE, cmd, l);
	return MS_OK;
}

static bool
pop3_cmd_is_listing(enum pop3_cmd cmd)
{
	return cmd == POP3_CMD_CAPA || cmd == POP3_CMD_LIST_ALL ||
	    cmd == POP3_CMD_UIDL_ALL;
}

/* "+OK text", "-ERR [CODE] text" or, during AUTH, "+ challenge". */
static int
pop3_client_status_line(struct pop3_client *c, struct ms_slice l)
{
	enum pop3_cmd cmd = pop3_client_head(c);
	struct ms_slice text;
	bool ok;

	if (cmd == POP3_CMD_NONE)
		return pop3_client_fail(c, MS_EPROTO);	/* unsolicited */
	if (l.len >= 3 && memcmp(l.p, "+OK", 3) == 0 &&
	    (l.len == 3 || l.p[3] == ' ')) {
		ok = true;
		text = (struct ms_slice){ l.p + 3, l.len - 3 };
	} else if (l.len >= 4 && memcmp(l.p, "-ERR", 4) == 0 &&
	    (l.len == 4 || l.p[4] == ' ')) {
		ok = false;
		text = (struct ms_slice){ l.p + 4, l.len - 4 };
	} else if (cmd == POP3_CMD_AUTH && l.len >= 1 && l.p[0] == '+' &&
	    (l.len == 1 || l.p[1] == ' ')) {
		/* RFC 5034 4: "+" SP base64; some servers omit the SP. */
		text = (struct ms_slice){ l.p + 1, l.len - 1 };
		if (text.len > 0) {
			text.p++;
			text.len--;
		}
		pop3_client_set_event(c, POP3_EV_CONTINUATION, cmd, text);
		return MS_OK;
	} else {
		return pop3_client_fail(c, MS_EPROTO);
	}
	if (text.len > 0) {
		text.p++;
		text.len--;
	}
	pop3_client_set_event(c, POP3_EV_STATUS, cmd, text);
	c->ev.is_ok = ok;
	/* RFC 2449 8: "[" code "]" starts the text. */
	if (text.len > 0 && text.p[0] == '[') {
		const uint8_t *end = memchr(text.p, ']', text.len);

		if (end != NULL) {
			size_t n = (size_t)(end - text.p);

			c->ev.code = (struct ms_slice){ text.p + 1, n - 1 };
			c->ev.text.p = end + 1;
			c->ev.text.len = text.len - n - 1;
			if (c->ev.text.len > 0 && c->ev.text.p[0] == ' ') {
				c->ev.text.p++;
				c->ev.text.len--;
			}
		}
	}
	if (cmd == POP3_CMD_GREETING) {
		pop3_client_pop(c);
		pop3_client_set_state(c, ok ? POP3_CLIENT_READY :
		    POP3_CLIENT_DEAD);
	} else if (ok && pop3_cmd_is_listing(cmd)) {
		if (cmd == POP3_CMD_CAPA) {
			c->caps = POP3_CAP_CAPA;
			c->sasl_mechs[0] = '\0';
		}
		c->in_mode = POP3_IN_LINES;
	} else if (ok && (cmd == POP3_CMD_RETR || cmd == POP3_CMD_TOP)) {
		c->in_mode = POP3_IN_BODY;
		c->body_state = POP3_BODY_BOL;
	} else {
		pop3_client_pop(c);
		if (ok && cmd == POP3_CMD_STLS)
			pop3_client_set_state(c, POP3_CLIENT_TLS_WAIT);
	}
	return MS_OK;
}

static int
pop3_client_feed_line(struct pop3_client *c, const uint8_t *data, size_t len,
    size_t *consumed_r)
{
	const uint8_t *nl = memchr(data, '\n', len);
	size_t n = nl != NULL ? (size_t)(nl - data) + 1 : len;
	struct ms_slice l;

	if (ms_buf_append(&c->line, data, n) != MS_OK)
		return pop3_client_fail(c, MS_ETOOBIG);
	*consumed_r = n;
	if (nl == NULL)
		return MS_AGAIN;
	c->line_taken = true;
	l = (struct ms_slice){ c->line.p, c->line.len - 1 };
	if (l.len > 0 && l.p[l.len - 1] == '\r')
		l.len--;
	if (c->in_mode == POP3_IN_LINES)
		return pop3_client_listing_line(c, l);
	return pop3_client_status_line(c, l);
}

/* One body byte through the unstuffing machine; true at the final ".". */
static bool
pop3_client_body_byte(struct pop3_client *c, uint8_t b)
{
	switch (c->body_state) {
	case POP3_BODY_DOT_CR:
		if (b == '\n')
			return true;
		/* ".\rX": not the end; keep the CR, go on with X. */
		c->chunk[c->chunk_len++] = '\r';
		c->body_state = POP3_BODY_MID;
		break;
	case POP3_BODY_DOT:
		if (b == '\r') {
			c->body_state = POP3_BODY_DOT_CR;
			return false;
		}
		if (b == '\n')
			return true;
		/* The stuffed dot is dropped; b (maybe '.') is data. */
		c->body_state = POP3_BODY_MID;
		break;
	case POP3_BODY_BOL:
		if (b == '.') {
			c->body_state = POP3_BODY_DOT;
			return false;
		}
		c->body_state = POP3_BODY_MID;
		break;
	default:
		break;
	}
	c->chunk[c->chunk_len++] = b;
	if (b == '\n')
		c->body_state = POP3_BODY_BOL;
	return false;
}

static int
pop3_client_feed_body(struct pop3_client *c, const uint8_t *data, size_t len,
    size_t *consumed_r)
{
	enum pop3_cmd cmd = pop3_client_head(c);
	size_t i = 0;
	bool is_end = false;

	while (i < len && c->chunk_len + 2 <= c->max_chunk && !is_end) {
		const uint8_t *nl;
		size_t n;

		if (c->body_state != POP3_BODY_MID) {
			is_end = pop3_client_body_byte(c, data[i++]);
			continue;
		}
		/*
		 * Inside a line nothing is unstuffed: the bytes up to and
		 * including its LF are copied whole (the same bytes, and
		 * the same room check, as one at a time; memchr instead of
		 * the byte machine was 14% of a POP3 download's CPU time).
		 */
		n = len - i;
		if (n > c->max_chunk - 1 - c->chunk_len)
			n = c->max_chunk - 1 - c->chunk_len;
		nl = memchr(data + i, '\n', n);
		if (nl != NULL) {
			n = (size_t)(nl - (data + i)) + 1;
			c->body_state = POP3_BODY_BOL;
		}
		memcpy(c->chunk + c->chunk_len, data + i, n);
		c->chunk_len += n;
		i += n;
	}
	*consumed_r = i;
	if (is_end) {
		c->in_mode = POP3_IN_STATUS;
		pop3_client_pop(c);
		if (c->chunk_len == 0) {
			pop3_client_set_event(c, POP3_EV_END, cmd,
			    (struct ms_slice){ c->chunk, 0 });
			return MS_OK;
		}
		c->end_pending = true;
	}
	if (c->chunk_len == 0)
		return MS_AGAIN;
	pop3_client_set_event(c, POP3_EV_BODY_CHUNK, cmd,
	    (struct ms_slice){ c->chunk, c->chunk_len });
	return MS_OK;
}

int
pop3_client_feed(struct pop3_client *c, const uint8_t *data, size_t len,
    size_t *consumed_r)
{
	*consumed_r = 0;
	if (c->state == POP3_CLIENT_DEAD)
		return MS_EPROTO;
	if (c->has_event)
		return MS_OK;
	if (c->state == POP3_CLIENT_TLS_WAIT) {
		/* Plaintext after the STLS +OK can only be injected. */
		if (len > 0)
			return pop3_client_fail(c, MS_EPROTO);
		return MS_AGAIN;
	}
	if (c->line_taken) {
		ms_buf_reset(&c->line);
		c->line_taken = false;
	}
	c->chunk_len = 0;
	if (len == 0)
		return MS_AGAIN;
	if (c->in_mode == POP3_IN_BODY)
		return pop3_client_feed_body(c, data, len, consumed_r);
	return pop3_client_feed_line(c, data, len, consumed_r);
}

int
pop3_client_next_event(struct pop3_client *c, struct pop3_event *ev)
{
	if (!c->has_event)
		return MS_AGAIN;
	*ev = c->ev;
	c->has_event = false;
	if (c->end_pending && ev->type == POP3_EV_BODY_CHUNK) {
		/* The chunk stays valid: END carries no bytes. */
		c->end_pending = false;
		pop3_client_set_event(c, POP3_EV_END, ev->cmd,
		    (struct ms_slice){ c->chunk, 0 });
	}
	return MS_OK;
}

void
pop3_client_out_peek(struct pop3_client *c, const uint8_t **p_r, size_t *len_r)
{
	*p_r = c->out.p;
	*len_r = c->out.len;
}

void
pop3_client_out_consume(struct pop3_client *c, size_t n)
{
	ms_buf_consume(&c->out, n);
	if (c->out.len == 0 && c->out_has_secret) {
		ms_buf_wipe(&c->out);
		c->out_has_secret = false;
	}
}

static bool
pop3_arg_ok(struct ms_slice a)
{
	for (size_t i = 0; i < a.len; i++) {
		if (a.p[i] == '\r' || a.p[i] == '\n' || a.p[i] == '\0')
			return false;
	}
	return true;
}

/*
 * Appends "VERB[ arg1][ arg2]\r\n" and expects cmd's answer (unless cmd
 * is NONE: a SASL response).  Undoes everything on error.
 */
static int
pop3_client_cmd(struct pop3_client *c, enum pop3_cmd cmd, const char *verb,
    const struct ms_slice *a1, const struct ms_slice *a2, bool is_secret)
{
	size_t start = c->out.len;
	size_t max = cmd == POP3_CMD_AUTH || cmd == POP3_CMD_NONE ?
	    c->max_auth_line : c->max_cmd_line;
	int rc;

	if (c->state != POP3_CLIENT_READY)
		return MS_EINVAL;
	if ((a1 != NULL && !pop3_arg_ok(*a1)) ||
	    (a2 != NULL && !pop3_arg_ok(*a2)))
		return MS_EINVAL;
	if (strlen(verb) + (a1 ? a1->len + 1 : 0) + (a2 ? a2->len + 1 : 0) +
	    2 > max)
		return MS_ETOOBIG;
	if (is_secret)
		c->out_has_secret = true;
	rc = ms_buf_printf(&c->out, "%s%s%.*s%s%.*s\r\n", verb,
	    a1 != NULL && verb[0] != '\0' ? " " : "",
	    a1 != NULL ? (int)a1->len : 0, a1 != NULL ? (const char *)a1->p : "",
	    a2 != NULL ? " " : "",
	    a2 != NULL ? (int)a2->len : 0, a2 != NULL ? (const char *)a2->p : "");
	if (rc == MS_OK && cmd != POP3_CMD_NONE)
		rc = pop3_client_push(c, cmd);
	if (rc != MS_OK) {
		c->out.len = start;
		return rc;
	}
	return MS_OK;
}

static int
pop3_client_cmd_num(struct pop3_client *c, enum pop3_cmd cmd,
    const char *verb, uint32_t n1, bool has_n2, uint32_t n2)
{
	char b1[16], b2[16];
	struct ms_slice s1, s2;

	snprintf(b1, sizeof(b1), "%u", (unsigned)n1);
	snprintf(b2, sizeof(b2), "%u", (unsigned)n2);
	s1 = ms_slice_from_cstr(b1);
	s2 = ms_slice_from_cstr(b2);
	return pop3_client_cmd(c, cmd, verb, &s1, has_n2 ? &s2 : NULL, false);
}

int
pop3_cmd_capa(struct pop3_client *c)
{
	return pop3_client_cmd(c, POP3_CMD_CAPA, "CAPA", NULL, NULL, false);
}

int
pop3_cmd_stls(struct pop3_client *c)
{
	return pop3_client_cmd(c, POP3_CMD_STLS, "STLS", NULL, NULL, false);
}

int
pop3_cmd_user(struct pop3_client *c, struct ms_slice user)
{
	if (user.len == 0)
		return MS_EINVAL;
	return pop3_client_cmd(c, POP3_CMD_USER, "USER", &user, NULL, false);
}

int
pop3_cmd_pass(struct pop3_client *c, struct ms_slice pass)
{
	return pop3_client_cmd(c, POP3_CMD_PASS, "PASS", &pass, NULL, true);
}

int
pop3_cmd_auth(struct pop3_client *c, const char *mech,
    const struct ms_slice *initial)
{
	struct ms_slice m = ms_slice_from_cstr(mech);
	struct ms_slice ir;

	if (m.len == 0 || memchr(mech, ' ', m.len) != NULL)
		return MS_EINVAL;
	if (initial == NULL)
		return pop3_client_cmd(c, POP3_CMD_AUTH, "AUTH", &m, NULL,
		    false);
	/* RFC 5034 4: an empty initial response is sent as "=". */
	ir = initial->len > 0 ? *initial : MS_SLICE_LIT("=");
	return pop3_client_cmd(c, POP3_CMD_AUTH, "AUTH", &m, &ir, true);
}

int
pop3_cmd_auth_response(struct pop3_client *c, struct ms_slice b64)
{
	if (pop3_client_head(c) != POP3_CMD_AUTH)
		return MS_EINVAL;
	return pop3_client_cmd(c, POP3_CMD_NONE, "", &b64, NULL, true);
}

int
pop3_cmd_stat(struct pop3_client *c)
{
	return pop3_client_cmd(c, POP3_CMD_STAT, "STAT", NULL, NULL, false);
}

int
pop3_cmd_list(struct pop3_client *c, uint32_t msg)
{
	if (msg == 0)
		return pop3_client_cmd(c, POP3_CMD_LIST_ALL, "LIST", NULL,
		    NULL, false);
	return pop3_client_cmd_num(c, POP3_CMD_LIST, "LIST", msg, false, 0);
}

int
pop3_cmd_uidl(struct pop3_client *c, uint32_t msg)
{
	if (msg == 0)
		return pop3_client_cmd(c, POP3_CMD_UIDL_ALL, "UIDL", NULL,
		    NULL, false);
	return pop3_client_cmd_num(c, POP3_CMD_UIDL, "UIDL", msg, false, 0);
}

int
pop3_cmd_retr(struct pop3_client *c, uint32_t msg)
{
	if (msg == 0)
		return MS_EINVAL;
	return pop3_client_cmd_num(c, POP3_CMD_RETR, "RETR", msg, false, 0);
}

int
pop3_cmd_top(struct pop3_client *c, uint32_t msg, uint32_t lines)
{
	if (msg == 0)
		return MS_EINVAL;
	return pop3_client_cmd_num(c, POP3_CMD_TOP, "TOP", msg, true, lines);
}

int
pop3_cmd_dele(struct pop3_client *c, uint32_t msg)
{
	if (msg == 0)
		return MS_EINVAL;
	return pop3_client_cmd_num(c, POP3_CMD_DELE, "DELE", msg, false, 0);
}

int
pop3_cmd_noop(struct pop3_client *c)
{
	return pop3_client_cmd(c, POP3_CMD_NOOP, "NOOP", NULL, NULL, false);
}

int
pop3_cmd_rset(struct pop3_client *c)
{
	return pop3_client_cmd(c, POP3_CMD_RSET, "RSET", NULL, NULL, false);
}

int
pop3_cmd_quit(struct pop3_client *c)
{
	return pop3_client_cmd(c, POP3_CMD_QUIT, "QUIT", NULL, NULL, false);
}

int
pop3_client_starttls_done(struct pop3_client *c)
{
	if (c->state != POP3_CLIENT_TLS_WAIT)
		return pop3_client_fail(c, MS_EPROTO);
	c->caps = 0;
	c->sasl_mechs[0] = '\0';
	pop3_client_set_state(c, POP3_CLIENT_READY);
	return MS_OK;
}
