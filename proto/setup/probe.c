/*
 * probe.c - the probe's one state machine over the three client cores.
 * Every protocol walks the same steps (greeting, capabilities,
 * STARTTLS, capabilities under TLS, quit); only the verbs differ, so
 * each protocol has a feed function that turns its core's events into
 * the shared steps (probe_step_*), and one setter moves the state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "imap/imap_cmd.h"
#include "setup/probe.h"

static void
probe_set_state(struct probe *p, enum probe_state st)
{
	p->state = st;
}

static void
probe_fail(struct probe *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
probe_fail(struct probe *p, const char *fmt, ...)
{
	va_list ap;

	if (p->state == PROBE_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(p->res.why, sizeof(p->res.why), fmt, ap);
	va_end(ap);
	probe_set_state(p, PROBE_FAILED);
}

/* Server text for a message or the table: printable ASCII, bounded. */
static void
probe_copy_text(char *dst, size_t size, struct ms_slice s)
{
	size_t o = 0;

	for (size_t i = 0; i < s.len && o + 1 < size; i++)
		dst[o++] = s.p[i] >= 0x20 && s.p[i] < 0x7f ? (char)s.p[i] :
		    (s.p[i] == '\n' ? ' ' : '?');
	dst[o] = '\0';
}

/* Appends word (upper-cased) to a space-separated list unless present. */
static void
probe_list_add(char *list, size_t size, struct ms_slice word)
{
	char w[64];
	size_t have = strlen(list);
	const char *q;

	if (word.len == 0 || word.len >= sizeof(w))
		return;
	for (size_t i = 0; i < word.len; i++) {
		uint8_t c = word.p[i];

		/* A mechanism name is printable ASCII (RFC 4422 3.1); a NUL
		 * would also cut the word short below. */
		if (c <= 0x20 || c >= 0x7f)
			return;
		w[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
	}
	w[word.len] = '\0';
	for (q = list; (q = strstr(q, w)) != NULL; q += word.len)
		if ((q == list || q[-1] == ' ') &&
		    (q[word.len] == ' ' || q[word.len] == '\0'))
			return;
	if (have + word.len + 2 > size)
		return;		/* the table shows what fits */
	if (have > 0)
		list[have++] = ' ';
	memcpy(list + have, w, word.len + 1);
}

/* Walks space- or newline-separated words of s. */
static bool
probe_next_word(struct ms_slice *s, struct ms_slice *w)
{
	size_t i = 0, j;

	while (i < s->len && (s->p[i] == ' ' || s->p[i] == '\n'))
		i++;
	for (j = i; j < s->len && s->p[j] != ' ' && s->p[j] != '\n'; j++)
		;
	w->p = s->p + i;
	w->len = j - i;
	s->p += j;
	s->len -= j;
	return w->len > 0;
}

static bool
probe_has_prefix(struct ms_slice w, const char *prefix)
{
	size_t n = strlen(prefix);

	if (w.len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = w.p[i];

		if ((c >= 'a' && c <= 'z' ? c - 32 : c) != (uint8_t)prefix[i])
			return false;
	}
	return true;
}

/* The core may take more bytes: not waiting for TLS, not at the end. */
static bool
probe_wants_input(const struct probe *p)
{
	return p->state != PROBE_WANT_TLS && p->state != PROBE_FAILED &&
	    p->state != PROBE_DONE;
}

/* ---- the shared steps ------------------------------------------------ */

static int probe_ask_caps(struct probe *p);

/* Capabilities were answered: STARTTLS next, or the result is final. */
static void
probe_step_caps_done(struct probe *p)
{
	int rc;

	if (p->tls == PROBE_TLS_STARTTLS && !p->is_tls_up) {
		if (!p->res.has_starttls) {
			probe_fail(p, "offers no STARTTLS: plaintext only, "
			    "refused (credentials would travel in clear)");
			return;
		}
		switch (p->proto) {
		case PROBE_IMAP:
			rc = imap_cmd_starttls(&p->core.imap);
			if (rc > 0)
				p->tag = (uint32_t)rc;
			break;
		case PROBE_POP3: rc = pop3_cmd_stls(&p->core.pop3); break;
		default: rc = smtp_cmd_starttls(&p->core.smtp); break;
		}
		if (rc < 0) {
			probe_fail(p, "cannot build STARTTLS: %s",
			    ms_strerror(rc));
			return;
		}
		probe_set_state(p, PROBE_STARTTLS);
		return;
	}
	switch (p->proto) {
	case PROBE_IMAP:
		rc = imap_cmd_logout(&p->core.imap);
		if (rc > 0)
			p->tag = (uint32_t)rc;
		break;
	case PROBE_POP3: rc = pop3_cmd_quit(&p->core.pop3); break;
	default: rc = smtp_cmd_quit(&p->core.smtp); break;
	}
	/* The result stands even if the goodbye cannot be built. */
	probe_set_state(p, rc < 0 ? PROBE_DONE : PROBE_QUIT);
}

static void
probe_step_greeting(struct probe *p, struct ms_slice text)
{
	probe_copy_text(p->res.greeting, sizeof(p->res.greeting), text);
	if (probe_ask_caps(p) == MS_OK)
		probe_set_state(p, PROBE_CAPS);
}

/* ---- IMAP ------------------------------------------------------------- */

static void
probe_imap_caps(struct probe *p, struct ms_slice list)
{
	struct ms_slice w;

	if (p->tls == PROBE_TLS_STARTTLS && !p->is_tls_up) {
		while (probe_next_word(&list, &w))
			if (probe_has_prefix(w, "STARTTLS") && w.len == 8)
				p->res.has_starttls = true;
		return;
	}
	p->res.caps[0] = '\0';
	p->res.mechs[0] = '\0';
	p->res.is_login_disabled = false;
	probe_copy_text(p->res.caps, sizeof(p->res.caps), list);
	while (probe_next_word(&list, &w)) {
		if (probe_has_prefix(w, "AUTH=")) {
			w.p += 5;
			w.len -= 5;
			probe_list_add(p->res.mechs, sizeof(p->res.mechs), w);
		} else if (probe_has_prefix(w, "LOGINDISABLED") &&
		    w.len == 13) {
			p->res.is_login_disabled = true;
		}
	}
}

static void
probe_imap_tagged(struct probe *p, const struct imap_ev_status *st)
{
	uint32_t tag;

	if (!imap_client_tag_parse(st->tag, &tag) || tag != p->tag)
		return;
	if (st->status != IMAP_STATUS_OK) {
		if (p->state == PROBE_QUIT) {
			probe_set_state(p, PROBE_DONE);
			return;
		}
		probe_fail(p, "%s refused: %.*s", probe_state_name(p->state),
		    (int)st->text.len, (const char *)st->text.p);
		return;
	}
	switch (p->state) {
	case PROBE_CAPS:
	case PROBE_CAPS_TLS:
		probe_step_caps_done(p);
		break;
	case PROBE_STARTTLS:
		probe_set_state(p, PROBE_WANT_TLS);
		break;
	case PROBE_QUIT:
		probe_set_state(p, PROBE_DONE);
		break;
	default:
		break;
	}
}

static void
probe_imap_event(struct probe *p, const struct imap_event *ev)
{
	const struct imap_ev_status *st = &ev->u.status;

	switch (ev->type) {
	case IMAP_EV_ERROR:
		probe_fail(p, "malformed IMAP response: %s",
		    ev->u.error.msg);
		break;
	case IMAP_EV_GREETING:
		if (st->status == IMAP_STATUS_BYE) {
			probe_fail(p, "the server said BYE: %.*s",
			    (int)st->text.len, (const char *)st->text.p);
			break;
		}
		probe_step_greeting(p, st->text);
		break;
	case IMAP_EV_CAPABILITY:
		probe_imap_caps(p, ev->u.list);
		break;
	case IMAP_EV_TAGGED:
		if (st->code.code == IMAP_CODE_CAPABILITY &&
		    p->state != PROBE_STARTTLS)
			probe_imap_caps(p, st->code.list);
		probe_imap_tagged(p, st);
		break;
	case IMAP_EV_UNTAGGED_STATUS:
		if (st->status == IMAP_STATUS_BYE && p->state != PROBE_QUIT)
			probe_fail(p, "the server said BYE: %.*s",
			    (int)st->text.len, (const char *)st->text.p);
		break;
	default:
		break;
	}
}


/* ---- POP3 ------------------------------------------------------------- */

static void
probe_pop3_caps_line(struct probe *p, struct ms_slice line)
{
	struct ms_slice w;

	if (!probe_next_word(&line, &w))
		return;
	if (p->tls == PROBE_TLS_STARTTLS && !p->is_tls_up) {
		if (probe_has_prefix(w, "STLS") && w.len == 4)
			p->res.has_starttls = true;
		return;
	}
	if (probe_has_prefix(w, "USER") && w.len == 4)
		p->res.has_user = true;
	if (probe_has_prefix(w, "SASL") && w.len == 4)
		while (probe_next_word(&line, &w))
			probe_list_add(p->res.mechs, sizeof(p->res.mechs), w);
}

static void
probe_pop3_event(struct probe *p, const struct pop3_event *ev)
{
	size_t have;

	if (ev->type == POP3_EV_LINE && ev->cmd == POP3_CMD_CAPA) {
		if (!(p->tls == PROBE_TLS_STARTTLS && !p->is_tls_up)) {
			have = strlen(p->res.caps);
			if (have > 0 && have + 1 < sizeof(p->res.caps))
				p->res.caps[have++] = ' ';
			probe_copy_text(p->res.caps + have,
			    sizeof(p->res.caps) - have, ev->text);
		}
		probe_pop3_caps_line(p, ev->text);
		return;
	}
	if (ev->type == POP3_EV_END && ev->cmd == POP3_CMD_CAPA) {
		probe_step_caps_done(p);
		return;
	}
	if (ev->type != POP3_EV_STATUS)
		return;
	switch (ev->cmd) {
	case POP3_CMD_GREETING:
		if (!ev->is_ok) {
			probe_fail(p, "the server refused the connection: "
			    "-ERR %.*s", (int)ev->text.len,
			    (const char *)ev->text.p);
			return;
		}
		probe_step_greeting(p, ev->text);
		break;
	case POP3_CMD_CAPA:
		/* An -ERR to CAPA: a server without RFC 2449 offers USER
		 * only, and no STLS. */
		if (!ev->is_ok) {
			p->res.has_user = true;
			probe_step_caps_done(p);
		}
		break;
	case POP3_CMD_STLS:
		if (!ev->is_ok) {
			probe_fail(p, "STLS refused: -ERR %.*s",
			    (int)ev->text.len, (const char *)ev->text.p);
			return;
		}
		probe_set_state(p, PROBE_WANT_TLS);
		break;
	case POP3_CMD_QUIT:
		probe_set_state(p, PROBE_DONE);
		break;
	default:
		break;
	}
}


/* ---- SMTP ------------------------------------------------------------- */

static void
probe_smtp_ehlo(struct probe *p, const struct smtp_event *ev)
{
	struct ms_slice text = ev->text, w;
	size_t start = 0;

	if (p->tls == PROBE_TLS_STARTTLS && !p->is_tls_up) {
		p->res.has_starttls = (smtp_client_exts(&p->core.smtp) &
		    SMTP_EXT_STARTTLS) != 0;
		return;
	}
	/* The first line is the server's name; the rest are keywords. */
	while (start < text.len && text.p[start] != '\n')
		start++;
	text.p += start;
	text.len -= start;
	probe_copy_text(p->res.caps, sizeof(p->res.caps), text);
	memmove(p->res.caps, p->res.caps + (p->res.caps[0] == ' '),
	    strlen(p->res.caps) + 1 - (p->res.caps[0] == ' '));
	text = smtp_client_auth_mechs(&p->core.smtp);
	while (probe_next_word(&text, &w))
		probe_list_add(p->res.mechs, sizeof(p->res.mechs), w);
}

static void
probe_smtp_event(struct probe *p, const struct smtp_event *ev)
{
	bool is_ok = ev->code >= 200 && ev->code < 300;

	if (ev->type != SMTP_EV_REPLY)
		return;
	switch (ev->cmd) {
	case SMTP_CMD_GREETING:
		if (ev->code != 220) {
			probe_fail(p, "the server refused the connection: "
			    "%d %.*s", ev->code, (int)ev->text.len,
			    (const char *)ev->text.p);
			return;
		}
		probe_step_greeting(p, ev->text);
		break;
	case SMTP_CMD_EHLO:
		if (!is_ok) {
			probe_fail(p, "EHLO refused: %d %.*s", ev->code,
			    (int)ev->text.len, (const char *)ev->text.p);
			return;
		}
		probe_smtp_ehlo(p, ev);
		probe_step_caps_done(p);
		break;
	case SMTP_CMD_STARTTLS:
		if (ev->code != 220) {
			probe_fail(p, "STARTTLS refused: %d %.*s", ev->code,
			    (int)ev->text.len, (const char *)ev->text.p);
			return;
		}
		probe_set_state(p, PROBE_WANT_TLS);
		break;
	case SMTP_CMD_QUIT:
		probe_set_state(p, PROBE_DONE);
		break;
	case SMTP_CMD_NONE:
		probe_fail(p, "the server closed the session: %d %.*s",
		    ev->code, (int)ev->text.len, (const char *)ev->text.p);
		break;
	default:
		break;
	}
}


/* ---- feeding ------------------------------------------------------------- */

/* The core's events while the probe takes them; returns how many. */
static size_t
probe_drain(struct probe *p)
{
	struct imap_event iev;
	struct pop3_event pev;
	struct smtp_event sev;
	size_t n = 0;

	for (; probe_wants_input(p); n++) {
		if (p->proto == PROBE_IMAP &&
		    imap_client_next_event(&p->core.imap, &iev) == MS_OK)
			probe_imap_event(p, &iev);
		else if (p->proto == PROBE_POP3 &&
		    pop3_client_next_event(&p->core.pop3, &pev) == MS_OK)
			probe_pop3_event(p, &pev);
		else if (p->proto == PROBE_SMTP &&
		    smtp_client_next_event(&p->core.smtp, &sev) == MS_OK)
			probe_smtp_event(p, &sev);
		else
			break;
	}
	return n;
}

/* Every core stops after the reply that produces an event, so the probe
 * sees each reply before the next byte is taken (STARTTLS needs that). */
static void
probe_feed_core(struct probe *p, const uint8_t *data, size_t len,
    size_t *used_r)
{
	size_t off = 0;

	while (off < len && probe_wants_input(p)) {
		size_t n = 0;
		int rc;

		switch (p->proto) {
		case PROBE_IMAP:
			rc = imap_client_feed(&p->core.imap, data + off,
			    len - off, &n);
			break;
		case PROBE_POP3:
			rc = pop3_client_feed(&p->core.pop3, data + off,
			    len - off, &n);
			break;
		default:
			rc = smtp_client_feed(&p->core.smtp, data + off,
			    len - off, &n);
			break;
		}
		off += n;
		if (probe_drain(p) == 0 && n == 0 && rc >= 0)
			break;		/* no progress: wait for more */
		if (rc < 0) {
			if (probe_wants_input(p))
				probe_fail(p, "malformed %s reply (%s)",
				    probe_proto_name(p->proto),
				    ms_strerror(rc));
			break;
		}
	}
	*used_r = off;
}

/* ---- the interface ---------------------------------------------------- */

static int
probe_ask_caps(struct probe *p)
{
	int rc;

	switch (p->proto) {
	case PROBE_IMAP:
		rc = imap_cmd_capability(&p->core.imap);
		if (rc > 0) {
			p->tag = (uint32_t)rc;
			rc = MS_OK;
		}
		break;
	case PROBE_POP3: rc = pop3_cmd_capa(&p->core.pop3); break;
	default: rc = smtp_cmd_ehlo(&p->core.smtp, p->ehlo_name); break;
	}
	if (rc != MS_OK)
		probe_fail(p, "cannot build the capability request: %s",
		    ms_strerror(rc));
	return rc;
}

int
probe_init(struct probe *p, enum probe_proto proto, enum probe_tls tls,
    const char *ehlo_name)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->proto = proto;
	p->tls = tls;
	p->is_tls_up = tls == PROBE_TLS_IMPLICIT;
	snprintf(p->ehlo_name, sizeof(p->ehlo_name), "%s",
	    ehlo_name != NULL && ehlo_name[0] != '\0' ? ehlo_name :
	    "localhost");
	switch (proto) {
	case PROBE_IMAP: rc = imap_client_init(&p->core.imap, NULL); break;
	case PROBE_POP3: rc = pop3_client_init(&p->core.pop3, NULL); break;
	default: rc = smtp_client_init(&p->core.smtp, NULL); break;
	}
	probe_set_state(p, PROBE_GREETING);
	return rc;
}

void
probe_deinit(struct probe *p)
{
	switch (p->proto) {
	case PROBE_IMAP: imap_client_deinit(&p->core.imap); break;
	case PROBE_POP3: pop3_client_deinit(&p->core.pop3); break;
	default: smtp_client_deinit(&p->core.smtp); break;
	}
}

void
probe_feed(struct probe *p, const uint8_t *data, size_t len, size_t *used_r)
{
	*used_r = 0;
	if (probe_is_finished(p) && p->state != PROBE_QUIT) {
		*used_r = len;	/* after the end nothing matters */
		return;
	}
	if (p->state == PROBE_WANT_TLS) {
		probe_fail(p, "plaintext after the STARTTLS reply (an "
		    "injection attempt)");
		return;
	}
	probe_feed_core(p, data, len, used_r);
}

void
probe_tls_done(struct probe *p)
{
	int rc;

	if (p->state != PROBE_WANT_TLS)
		return;
	switch (p->proto) {
	case PROBE_IMAP:
		rc = imap_client_starttls_done(&p->core.imap, 0);
		break;
	case PROBE_POP3: rc = pop3_client_starttls_done(&p->core.pop3); break;
	default: rc = smtp_client_starttls_done(&p->core.smtp); break;
	}
	if (rc != MS_OK) {
		probe_fail(p, "the core refused the switch to TLS: %s",
		    ms_strerror(rc));
		return;
	}
	p->is_tls_up = true;
	if (probe_ask_caps(p) == MS_OK)
		probe_set_state(p, PROBE_CAPS_TLS);
}

void
probe_closed(struct probe *p, const char *why)
{
	if (p->state == PROBE_QUIT) {
		probe_set_state(p, PROBE_DONE);
		return;
	}
	if (!probe_is_finished(p))
		probe_fail(p, "%s (while %s)", why, probe_state_name(p->state));
}

void
probe_out_peek(struct probe *p, const uint8_t **p_r, size_t *len_r)
{
	switch (p->proto) {
	case PROBE_IMAP:
		(void)imap_client_out_peek(&p->core.imap, p_r, len_r);
		break;
	case PROBE_POP3: pop3_client_out_peek(&p->core.pop3, p_r, len_r); break;
	default: smtp_client_out_peek(&p->core.smtp, p_r, len_r); break;
	}
}

void
probe_out_consume(struct probe *p, size_t n)
{
	switch (p->proto) {
	case PROBE_IMAP: imap_client_out_consume(&p->core.imap, n); break;
	case PROBE_POP3: pop3_client_out_consume(&p->core.pop3, n); break;
	default: smtp_client_out_consume(&p->core.smtp, n); break;
	}
}

enum probe_state
probe_get_state(const struct probe *p)
{
	return p->state;
}

bool
probe_is_finished(const struct probe *p)
{
	return p->state == PROBE_QUIT || p->state == PROBE_DONE ||
	    p->state == PROBE_FAILED;
}

bool
probe_is_ok(const struct probe *p)
{
	return p->state == PROBE_QUIT || p->state == PROBE_DONE;
}

const struct probe_result *
probe_get_result(const struct probe *p)
{
	return &p->res;
}

const char *
probe_state_name(enum probe_state state)
{
	static const char *const names[] = {
		[PROBE_GREETING] = "greeting",
		[PROBE_CAPS] = "capabilities",
		[PROBE_STARTTLS] = "STARTTLS",
		[PROBE_WANT_TLS] = "TLS handshake",
		[PROBE_CAPS_TLS] = "capabilities under TLS",
		[PROBE_QUIT] = "quit",
		[PROBE_DONE] = "done",
		[PROBE_FAILED] = "failed",
	};

	return (size_t)state < sizeof(names) / sizeof(names[0]) ?
	    names[state] : "?";
}

const char *
probe_proto_name(enum probe_proto proto)
{
	return proto == PROBE_IMAP ? "imap" : proto == PROBE_POP3 ? "pop3" :
	    "smtp";
}
