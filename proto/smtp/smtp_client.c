/*
 * smtp_client.c - SMTP reply parser, EHLO keywords, command queue, the
 * DATA encoder and the STARTTLS barrier.
 */
#include "smtp/smtp_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const smtp_client_state_names[] = {
	[SMTP_CLIENT_GREETING] = "GREETING",
	[SMTP_CLIENT_READY] = "READY",
	[SMTP_CLIENT_TLS_WAIT] = "TLS_WAIT",
	[SMTP_CLIENT_DEAD] = "DEAD",
};

static const char *const smtp_cmd_names[] = {
	[SMTP_CMD_NONE] = "NONE", [SMTP_CMD_GREETING] = "GREETING",
	[SMTP_CMD_EHLO] = "EHLO", [SMTP_CMD_HELO] = "HELO",
	[SMTP_CMD_STARTTLS] = "STARTTLS", [SMTP_CMD_AUTH] = "AUTH",
	[SMTP_CMD_MAIL] = "MAIL", [SMTP_CMD_RCPT] = "RCPT",
	[SMTP_CMD_DATA] = "DATA", [SMTP_CMD_DATA_END] = "DATA_END",
	[SMTP_CMD_RSET] = "RSET", [SMTP_CMD_NOOP] = "NOOP",
	[SMTP_CMD_QUIT] = "QUIT",
};

const char *
smtp_client_state_name(enum smtp_client_state state)
{
	if ((size_t)state < sizeof(smtp_client_state_names) /
	    sizeof(smtp_client_state_names[0]))
		return smtp_client_state_names[state];
	return "?";
}

const char *
smtp_cmd_name(enum smtp_cmd cmd)
{
	if ((size_t)cmd < sizeof(smtp_cmd_names) / sizeof(smtp_cmd_names[0]))
		return smtp_cmd_names[cmd];
	return "?";
}

static void
smtp_client_set_state(struct smtp_client *c, enum smtp_client_state state)
{
	if (c->state != SMTP_CLIENT_DEAD)
		c->state = state;
}

static int
smtp_client_fail(struct smtp_client *c, int rc)
{
	c->state = SMTP_CLIENT_DEAD;
	return rc;
}

int
smtp_client_init(struct smtp_client *c, const struct smtp_client_params *params)
{
	struct smtp_client_params p = { 0 };

	memset(c, 0, sizeof(*c));
	if (params != NULL)
		p = *params;
	ms_buf_init(&c->line, p.max_line ? p.max_line : 4096);
	c->max_reply = p.max_reply ? p.max_reply : 16384;
	ms_buf_init(&c->text, c->max_reply);
	ms_buf_init(&c->out, p.max_output ? p.max_output : 1024u * 1024);
	c->max_cmd_line = p.max_cmd_line ? p.max_cmd_line : 512;
	c->max_auth_line = p.max_auth_line ? p.max_auth_line : 16384;
	c->state = SMTP_CLIENT_GREETING;
	c->cmds[0] = SMTP_CMD_GREETING;
	c->ncmds = 1;
	smtp_data_enc_init(&c->enc);
	return MS_OK;
}

void
smtp_client_deinit(struct smtp_client *c)
{
	ms_buf_wipe(&c->out);
	ms_buf_deinit(&c->out);
	ms_buf_deinit(&c->line);
	ms_buf_deinit(&c->text);
}

static enum smtp_cmd
smtp_client_head(const struct smtp_client *c)
{
	return c->ncmds > 0 ? (enum smtp_cmd)c->cmds[c->cmds_head] :
	    SMTP_CMD_NONE;
}

static void
smtp_client_pop(struct smtp_client *c)
{
	if (c->ncmds > 0) {
		c->cmds_head = (c->cmds_head + 1) % SMTP_MAX_PIPELINE;
		c->ncmds--;
	}
}

size_t
smtp_client_pending(const struct smtp_client *c)
{
	return c->ncmds;
}

unsigned
smtp_client_exts(const struct smtp_client *c)
{
	return c->exts;
}

struct ms_slice
smtp_client_auth_mechs(const struct smtp_client *c)
{
	return ms_slice_from_cstr(c->auth_mechs);
}

uint64_t
smtp_client_size_limit(const struct smtp_client *c)
{
	return c->size_limit;
}

/* One EHLO keyword line ("AUTH PLAIN LOGIN", "SIZE 1000"). */
static void
smtp_client_learn_ext(struct smtp_client *c, struct ms_slice l)
{
	static const struct {
		const char *name;
		unsigned bit;
	} exts[] = {
		{ "STARTTLS", SMTP_EXT_STARTTLS }, { "AUTH", SMTP_EXT_AUTH },
		{ "SIZE", SMTP_EXT_SIZE }, { "PIPELINING", SMTP_EXT_PIPELINING },
		{ "8BITMIME", SMTP_EXT_8BITMIME },
		{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
		{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
	};
	struct ms_slice word = l, rest = { l.p + l.len, 0 };
	size_t i;

	for (i = 0; i < l.len; i++) {
		/* "AUTH=PLAIN" is the pre-RFC 4954 form some servers add. */
		if (l.p[i] == ' ' || l.p[i] == '=') {
			word.len = i;
			rest = (struct ms_slice){ l.p + i + 1, l.len - i - 1 };
			break;
		}
	}
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		if (ms_slice_case_eq_cstr(word, exts[i].name))
			break;
	}
	if (i == sizeof(exts) / sizeof(exts[0]))
		return;
	if (exts[i].bit == SMTP_EXT_AUTH) {
		size_t n = rest.len;

		/* The standard line wins over "AUTH=". */
		if ((c->exts & SMTP_EXT_AUTH) && word.p[word.len] == '=')
			return;
		if (n > SMTP_MAX_AUTH_MECHS) {
			n = SMTP_MAX_AUTH_MECHS;
			while (n > 0 && rest.p[n] != ' ')
				n--;
		}
		memcpy(c->auth_mechs, rest.p, n);
		c->auth_mechs[n] = '\0';
	} else if (exts[i].bit == SMTP_EXT_SIZE) {
		uint64_t v = 0;

		for (size_t k = 0; k < rest.len && rest.p[k] >= '0' &&
		    rest.p[k] <= '9' && v < UINT64_MAX / 10 - 9; k++)
			v = v * 10 + (uint64_t)(rest.p[k] - '0');
		c->size_limit = v;
	}
	c->exts |= exts[i].bit;
}

/* "d.d{1,3}.d{1,3} " of RFC 3463 at the start of s; its length or 0. */
static size_t
smtp_enhanced_parse(struct ms_slice s, int *cls, int *subj, int *det)
{
	int v[3] = { 0, 0, 0 };
	size_t i = 0;

	for (int k = 0; k < 3; k++) {
		size_t start = i;

		while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9' &&
		    i - start < 3)
			v[k] = v[k] * 10 + (s.p[i++] - '0');
		if (i == start || (k == 0 && i - start != 1))
			return 0;
		if (k < 2) {
			if (i >= s.len || s.p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < s.len && s.p[i] != ' ')
		return 0;
	*cls = v[0];
	*subj = v[1];
	*det = v[2];
	return i < s.len ? i + 1 : i;
}

static void
smtp_client_reply_done(struct smtp_client *c, enum smtp_cmd cmd)
{
	memset(&c->ev, 0, sizeof(c->ev));
	c->ev.cmd = cmd;
	c->ev.code = c->cur_code;
	c->ev.text = (struct ms_slice){ c->text.p, c->text.len };
	c->ev.type = SMTP_EV_REPLY;
	c->ev.has_enhanced = c->cur_has_enh;
	c->ev.enh_class = c->cur_enh[0];
	c->ev.enh_subject = c->cur_enh[1];
	c->ev.enh_detail = c->cur_enh[2];
	c->has_event = true;
	if (cmd == SMTP_CMD_AUTH && c->cur_code == 334) {
		c->ev.type = SMTP_EV_AUTH_CHALLENGE;
	} else {
		smtp_client_pop(c);
	}
	if (cmd == SMTP_CMD_GREETING)
		smtp_client_set_state(c, c->cur_code == 220 ?
		    SMTP_CLIENT_READY : SMTP_CLIENT_DEAD);
	else if (cmd == SMTP_CMD_STARTTLS && c->cur_code == 220)
		smtp_client_set_state(c, SMTP_CLIENT_TLS_WAIT);
	else if (cmd == SMTP_CMD_DATA && c->cur_code == 354) {
		c->in_data = true;
		smtp_data_enc_init(&c->enc);
	} else if (cmd == SMTP_CMD_EHLO && c->cur_code == 250)
		c->exts |= SMTP_EXT_EHLO;
	if (c->cur_code == 421)
		smtp_client_set_state(c, SMTP_CLIENT_DEAD);
	c->cur_code = 0;
	c->nlines = 0;
}

static int
smtp_client_line(struct smtp_client *c, struct ms_slice l)
{
	enum smtp_cmd cmd = smtp_client_head(c);
	struct ms_slice t;
	int code, cls = 0, subj = 0, det = 0;
	bool is_last;
	size_t n;

	if (l.len < 3 || l.p[0] < '2' || l.p[0] > '5' || l.p[1] < '0' ||
	    l.p[1] > '9' || l.p[2] < '0' || l.p[2] > '9')
		return smtp_client_fail(c, MS_EPROTO);
	if (l.len > 3 && l.p[3] != ' ' && l.p[3] != '-')
		return smtp_client_fail(c, MS_EPROTO);
	code = (l.p[0] - '0') * 100 + (l.p[1] - '0') * 10 + (l.p[2] - '0');
	is_last = l.len == 3 || l.p[3] == ' ';
	t = l.len > 3 ? (struct ms_slice){ l.p + 4, l.len - 4 } :
	    (struct ms_slice){ l.p + 3, 0 };
	if (c->nlines == 0) {
		/* Only a 421 (shutting down) may come unasked. */
		if (cmd == SMTP_CMD_NONE && code != 421)
			return smtp_client_fail(c, MS_EPROTO);
		c->cur_code = code;
		ms_buf_reset(&c->text);
		if (cmd == SMTP_CMD_EHLO && code == 250) {
			c->exts = 0;
			c->size_limit = 0;
			c->auth_mechs[0] = '\0';
		}
	} else if (code != c->cur_code) {
		return smtp_client_fail(c, MS_EPROTO);
	}
	n = smtp_enhanced_parse(t, &cls, &subj, &det);
	if (n > 0 && cls == code / 100 && code != 334) {
		if (c->nlines == 0) {
			c->cur_has_enh = true;
			c->cur_enh[0] = cls;
			c->cur_enh[1] = subj;
			c->cur_enh[2] = det;
		}
		t.p += n;
		t.len -= n;
	} else if (c->nlines == 0) {
		c->cur_has_enh = false;
	}
	if (cmd == SMTP_CMD_EHLO && code == 250 && c->nlines > 0)
		smtp_client_learn_ext(c, t);
	if ((c->nlines > 0 && ms_buf_append(&c->text, "\n", 1) != MS_OK) ||
	    ms_buf_append(&c->text, t.p, t.len) != MS_OK)
		return smtp_client_fail(c, MS_ETOOBIG);
	c->nlines++;
	if (!is_last)
		return MS_AGAIN;
	smtp_client_reply_done(c, cmd);
	return MS_OK;
}

int
smtp_client_feed(struct smtp_client *c, const uint8_t *data, size_t len,
    size_t *consumed_r)
{
	size_t done = 0;

	*consumed_r = 0;
	if (c->state == SMTP_CLIENT_DEAD)
		return MS_EPROTO;
	if (c->has_event)
		return MS_OK;
	if (c->state == SMTP_CLIENT_TLS_WAIT) {
		/* Plaintext after the 220 to STARTTLS can only be injected. */
		if (len > 0)
			return smtp_client_fail(c, MS_EPROTO);
		return MS_AGAIN;
	}
	if (c->line_taken) {
		ms_buf_reset(&c->line);
		c->line_taken = false;
	}
	/* Line by line until a reply completes or the input ends. */
	while (done < len) {
		const uint8_t *p = data + done;
		const uint8_t *nl = memchr(p, '\n', len - done);
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : len - done;
		struct ms_slice l;
		int rc;

		if (ms_buf_append(&c->line, p, n) != MS_OK)
			return smtp_client_fail(c, MS_ETOOBIG);
		done += n;
		*consumed_r = done;
		if (nl == NULL)
			break;
		l = (struct ms_slice){ c->line.p, c->line.len - 1 };
		if (l.len > 0 && l.p[l.len - 1] == '\r')
			l.len--;
		rc = smtp_client_line(c, l);
		if (rc != MS_AGAIN) {
			c->line_taken = true;
			return rc;
		}
		ms_buf_reset(&c->line);
	}
	return MS_AGAIN;
}

int
smtp_client_next_event(struct smtp_client *c, struct smtp_event *ev)
{
	if (!c->has_event)
		return MS_AGAIN;
	*ev = c->ev;
	c->has_event = false;
	return MS_OK;
}

void
smtp_client_out_peek(struct smtp_client *c, const uint8_t **p_r, size_t *len_r)
{
	*p_r = c->out.p;
	*len_r = c->out.len;
}

void
smtp_client_out_consume(struct smtp_client *c, size_t n)
{
	ms_buf_consume(&c->out, n);
	if (c->out.len == 0 && c->out_has_secret) {
		ms_buf_wipe(&c->out);
		c->out_has_secret = false;
	}
}

static bool
smtp_arg_ok(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			return false;
	}
	return true;
}

/*
 * Appends "<pre><arg><post>\r\n" and expects cmd's reply (none for
 * SMTP_CMD_NONE: a SASL response).  Undoes everything on error.
 */
static int
smtp_client_cmd(struct smtp_client *c, enum smtp_cmd cmd, const char *pre,
    struct ms_slice arg, const char *post, bool is_secret)
{
	size_t start = c->out.len;
	size_t max = cmd == SMTP_CMD_AUTH || cmd == SMTP_CMD_NONE ?
	    c->max_auth_line : c->max_cmd_line;
	int rc;

	if (c->state != SMTP_CLIENT_READY || c->in_data)
		return MS_EINVAL;
	if (!smtp_arg_ok(arg.p, arg.len) ||
	    !smtp_arg_ok((const uint8_t *)post, strlen(post)))
		return MS_EINVAL;
	if (strlen(pre) + arg.len + strlen(post) + 2 > max)
		return MS_ETOOBIG;
	if (cmd != SMTP_CMD_NONE && c->ncmds == SMTP_MAX_PIPELINE)
		return MS_ETOOBIG;
	if (is_secret)
		c->out_has_secret = true;
	rc = ms_buf_printf(&c->out, "%s%.*s%s\r\n", pre, (int)arg.len,
	    arg.len > 0 ? (const char *)arg.p : "", post);
	if (rc != MS_OK) {
		c->out.len = start;
		return rc;
	}
	if (cmd != SMTP_CMD_NONE) {
		c->cmds[(c->cmds_head + c->ncmds) % SMTP_MAX_PIPELINE] =
		    (uint8_t)cmd;
		c->ncmds++;
	}
	return MS_OK;
}

static int
smtp_client_cmd_domain(struct smtp_client *c, enum smtp_cmd cmd,
    const char *verb, const char *domain)
{
	struct ms_slice d = ms_slice_from_cstr(domain);

	if (d.len == 0 || memchr(domain, ' ', d.len) != NULL)
		return MS_EINVAL;
	return smtp_client_cmd(c, cmd, verb, d, "", false);
}

int
smtp_cmd_ehlo(struct smtp_client *c, const char *domain)
{
	return smtp_client_cmd_domain(c, SMTP_CMD_EHLO, "EHLO ", domain);
}

int
smtp_cmd_helo(struct smtp_client *c, const char *domain)
{
	return smtp_client_cmd_domain(c, SMTP_CMD_HELO, "HELO ", domain);
}

int
smtp_cmd_starttls(struct smtp_client *c)
{
	return smtp_client_cmd(c, SMTP_CMD_STARTTLS, "STARTTLS",
	    (struct ms_slice){ NULL, 0 }, "", false);
}

int
smtp_cmd_auth(struct smtp_client *c, const char *mech,
    const struct ms_slice *initial)
{
	struct ms_slice m = ms_slice_from_cstr(mech);
	size_t start = c->out.len;
	int rc;

	if (m.len == 0 || memchr(mech, ' ', m.len) != NULL ||
	    !smtp_arg_ok(m.p, m.len))
		return MS_EINVAL;
	if (initial == NULL)
		return smtp_client_cmd(c, SMTP_CMD_AUTH, "AUTH ", m, "", false);
	if (!smtp_arg_ok(initial->p, initial->len))
		return MS_EINVAL;
	/*
	 * One printf so the secret is written once.  RFC 4954 4: an empty
	 * initial response is "=".
	 */
	if (c->state != SMTP_CLIENT_READY || c->in_data)
		return MS_EINVAL;
	if (7 + m.len + initial->len + 3 > c->max_auth_line)
		return MS_ETOOBIG;
	if (c->ncmds == SMTP_MAX_PIPELINE)
		return MS_ETOOBIG;
	c->out_has_secret = true;
	rc = ms_buf_printf(&c->out, "AUTH %s %.*s\r\n", mech,
	    initial->len > 0 ? (int)initial->len : 1,
	    initial->len > 0 ? (const char *)initial->p : "=");
	if (rc != MS_OK) {
		c->out.len = start;
		return rc;
	}
	c->cmds[(c->cmds_head + c->ncmds) % SMTP_MAX_PIPELINE] =
	    SMTP_CMD_AUTH;
	c->ncmds++;
	return MS_OK;
}

int
smtp_cmd_auth_response(struct smtp_client *c, struct ms_slice b64)
{
	if (smtp_client_head(c) != SMTP_CMD_AUTH)
		return MS_EINVAL;
	return smtp_client_cmd(c, SMTP_CMD_NONE, "", b64, "", true);
}

static int
smtp_client_cmd_path(struct smtp_client *c, enum smtp_cmd cmd,
    const char *verb, struct ms_slice addr, const char *params)
{
	char post[512];

	if (memchr(addr.p != NULL ? addr.p : (const uint8_t *)"", '>',
	    addr.len) != NULL || (addr.len > 0 && addr.p[0] == '<'))
		return MS_EINVAL;
	if (params != NULL && params[0] != '\0') {
		if ((size_t)snprintf(post, sizeof(post), "> %s", params) >=
		    sizeof(post))
			return MS_ETOOBIG;
	} else {
		post[0] = '>';
		post[1] = '\0';
	}
	return smtp_client_cmd(c, cmd, verb, addr, post, false);
}

int
smtp_cmd_mail(struct smtp_client *c, struct ms_slice from, const char *params)
{
	return smtp_client_cmd_path(c, SMTP_CMD_MAIL, "MAIL FROM:<", from,
	    params);
}

int
smtp_cmd_rcpt(struct smtp_client *c, struct ms_slice to, const char *params)
{
	if (to.len == 0)
		return MS_EINVAL;
	return smtp_client_cmd_path(c, SMTP_CMD_RCPT, "RCPT TO:<", to,
	    params);
}

static int
smtp_client_cmd_bare(struct smtp_client *c, enum smtp_cmd cmd,
    const char *verb)
{
	return smtp_client_cmd(c, cmd, verb, (struct ms_slice){ NULL, 0 }, "",
	    false);
}

int
smtp_cmd_data(struct smtp_client *c)
{
	return smtp_client_cmd_bare(c, SMTP_CMD_DATA, "DATA");
}

int
smtp_cmd_rset(struct smtp_client *c)
{
	return smtp_client_cmd_bare(c, SMTP_CMD_RSET, "RSET");
}

int
smtp_cmd_noop(struct smtp_client *c)
{
	return smtp_client_cmd_bare(c, SMTP_CMD_NOOP, "NOOP");
}

int
smtp_cmd_quit(struct smtp_client *c)
{
	return smtp_client_cmd_bare(c, SMTP_CMD_QUIT, "QUIT");
}

int
smtp_client_data_write(struct smtp_client *c, const uint8_t *p, size_t len)
{
	if (!c->in_data || c->state != SMTP_CLIENT_READY)
		return MS_EINVAL;
	return smtp_data_enc_feed(&c->enc, &c->out, p, len);
}

int
smtp_client_data_end(struct smtp_client *c)
{
	int rc;

	if (!c->in_data || c->state != SMTP_CLIENT_READY ||
	    c->ncmds == SMTP_MAX_PIPELINE)
		return MS_EINVAL;
	if ((rc = smtp_data_enc_finish(&c->enc, &c->out)) != MS_OK)
		return rc;
	c->in_data = false;
	c->cmds[(c->cmds_head + c->ncmds) % SMTP_MAX_PIPELINE] =
	    SMTP_CMD_DATA_END;
	c->ncmds++;
	return MS_OK;
}

int
smtp_client_starttls_done(struct smtp_client *c)
{
	if (c->state != SMTP_CLIENT_TLS_WAIT)
		return smtp_client_fail(c, MS_EPROTO);
	c->exts = 0;
	c->size_limit = 0;
	c->auth_mechs[0] = '\0';
	smtp_client_set_state(c, SMTP_CLIENT_READY);
	return MS_OK;
}

void
smtp_data_enc_init(struct smtp_data_enc *e)
{
	e->is_bol = true;
	e->has_cr = false;
}

int
smtp_data_enc_feed(struct smtp_data_enc *e, struct ms_buf *out,
    const uint8_t *p, size_t len)
{
	struct smtp_data_enc st = *e;
	uint8_t tmp[2 * 4096 + 2];
	size_t start = out->len, i = 0;
	int rc;

	/* Encode in blocks; every input byte yields at most two. */
	while (i < len) {
		size_t end = len - i > 4096 ? i + 4096 : len, o = 0;

		for (; i < end; i++) {
			uint8_t b = p[i];

			if (st.has_cr) {
				tmp[o++] = '\r';
				tmp[o++] = '\n';
				st.has_cr = false;
				st.is_bol = true;
				if (b == '\n')
					continue;
			}
			if (b == '\r') {
				st.has_cr = true;
			} else if (b == '\n') {
				tmp[o++] = '\r';
				tmp[o++] = '\n';
				st.is_bol = true;
			} else {
				if (st.is_bol && b == '.')
					tmp[o++] = '.';
				tmp[o++] = b;
				st.is_bol = false;
			}
		}
		if ((rc = ms_buf_append(out, tmp, o)) != MS_OK) {
			out->len = start;
			if (out->p != NULL)
				out->p[start] = '\0';
			return rc;
		}
	}
	*e = st;
	return MS_OK;
}

int
smtp_data_enc_finish(struct smtp_data_enc *e, struct ms_buf *out)
{
	int rc;

	if (e->has_cr || !e->is_bol)
		rc = ms_buf_append(out, "\r\n.\r\n", 5);
	else
		rc = ms_buf_append(out, ".\r\n", 3);
	if (rc == MS_OK)
		smtp_data_enc_init(e);
	return rc;
}
