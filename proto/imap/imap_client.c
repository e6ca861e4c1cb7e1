/*
 * imap_client.c - the client core around the parser: output buffer,
 * held synchronising literals, capabilities and the STARTTLS barrier.
 */
#include "imap/imap_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_client_int.h"

static const char *const imap_client_state_names[] = {
	[IMAP_CLIENT_GREETING] = "GREETING",
	[IMAP_CLIENT_READY] = "READY",
	[IMAP_CLIENT_IDLE] = "IDLE",
	[IMAP_CLIENT_TLS_WAIT] = "TLS_WAIT",
	[IMAP_CLIENT_DEAD] = "DEAD",
};

const char *
imap_client_state_name(enum imap_client_state state)
{
	if ((size_t)state < sizeof(imap_client_state_names) /
	    sizeof(imap_client_state_names[0]))
		return imap_client_state_names[state];
	return "?";
}

/* The one place the state changes, so a tracer can hook it. */
void
imap_client__set_state(struct imap_client *c, enum imap_client_state state)
{
	if (c->state != IMAP_CLIENT_DEAD)
		c->state = state;
}

void
imap_client_params_default(struct imap_client_params *params)
{
	imap_parser_params_default(&params->parser);
	params->max_output = 256u * 1024 * 1024;
	/* RFC 7162 3.2.5: keep command lines under 8192 bytes. */
	params->max_cmd_line = 8000;
}

int
imap_client_init(struct imap_client *c, const struct imap_client_params *params)
{
	struct imap_client_params def;
	int rc;

	memset(c, 0, sizeof(*c));
	if (params == NULL) {
		imap_client_params_default(&def);
		params = &def;
	}
	ms_buf_init(&c->out, params->max_output);
	c->max_cmd_line = params->max_cmd_line;
	c->next_tag = 1;
	c->state = IMAP_CLIENT_GREETING;
	if ((rc = imap_parser_init(&c->parser, &params->parser)) != MS_OK) {
		imap_parser_deinit(&c->parser);
		return rc;
	}
	return MS_OK;
}

void
imap_client_deinit(struct imap_client *c)
{
	/* LOGIN and AUTHENTICATE put secrets here. */
	if (c->out.p != NULL)
		explicit_bzero(c->out.p, c->out.cap);
	ms_buf_deinit(&c->out);
	free(c->holds);
	c->holds = NULL;
	c->nholds = 0;
	imap_parser_deinit(&c->parser);
}

int
imap_client_feed(struct imap_client *c, const uint8_t *data, size_t len,
    size_t *consumed_r)
{
	int rc = imap_parser_feed(&c->parser, data, len, consumed_r);

	if (rc < 0)
		imap_client__set_state(c, IMAP_CLIENT_DEAD);
	return rc;
}

void
imap_client_tag_format(uint32_t tag, char *buf, size_t size)
{
	snprintf(buf, size, "A%u", tag);
}

bool
imap_client_tag_parse(struct ms_slice tag, uint32_t *n_r)
{
	uint64_t v = 0;

	if (tag.len < 2 || tag.len > 11 || tag.p[0] != 'A')
		return false;
	for (size_t i = 1; i < tag.len; i++) {
		if (tag.p[i] < '0' || tag.p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(tag.p[i] - '0');
	}
	if (v == 0 || v > UINT32_MAX)
		return false;
	*n_r = (uint32_t)v;
	return true;
}

static void
imap_client_pop_hold(struct imap_client *c, size_t i)
{
	memmove(&c->holds[i], &c->holds[i + 1],
	    (c->nholds - i - 1) * sizeof(c->holds[0]));
	c->nholds--;
}

/*
 * The server finished command tag: if it still has held literal bytes
 * (it refused the command instead of sending "+"), they must never be
 * sent, or the server would read message data as commands.
 */
static void
imap_client_drop_holds(struct imap_client *c, uint32_t tag)
{
	size_t i, at, end, cut;

	for (i = 0; i < c->nholds && c->holds[i].tag != tag; i++)
		;
	if (i == c->nholds)
		return;
	at = c->holds[i].at;
	end = c->holds[i].cmd_end;
	cut = end - at;
	memmove(c->out.p + at, c->out.p + end, c->out.len - end);
	c->out.len -= cut;
	c->out.p[c->out.len] = '\0';
	while (i < c->nholds && c->holds[i].tag == tag)
		imap_client_pop_hold(c, i);
	for (size_t j = i; j < c->nholds; j++) {
		c->holds[j].at -= cut;
		c->holds[j].cmd_end -= cut;
	}
}

void
imap_client_set_caps(struct imap_client *c, struct ms_slice caps)
{
	c->caps = 0;
	if (imap_list_has(caps, "LITERAL+"))
		c->caps |= IMAP_CAP_LITERAL_PLUS;
	if (imap_list_has(caps, "LITERAL-"))
		c->caps |= IMAP_CAP_LITERAL_MINUS;
	if (imap_list_has(caps, "SASL-IR"))
		c->caps |= IMAP_CAP_SASL_IR;
	if (imap_list_has(caps, "IMAP4rev2"))
		c->caps |= IMAP_CAP_IMAP4REV2;
}

int
imap_client_next_event(struct imap_client *c, struct imap_event *ev)
{
	uint32_t tag;
	int rc;

	for (;;) {
		if ((rc = imap_parser_next_event(&c->parser, ev)) != MS_OK)
			return rc;
		switch (ev->type) {
		case IMAP_EV_ERROR:
			imap_client__set_state(c, IMAP_CLIENT_DEAD);
			break;
		case IMAP_EV_GREETING:
			imap_client__set_state(c,
			    ev->u.status.status == IMAP_STATUS_BYE ?
			    IMAP_CLIENT_DEAD : IMAP_CLIENT_READY);
			/* FALLTHROUGH */
		case IMAP_EV_UNTAGGED_STATUS:
			if (ev->u.status.code.code == IMAP_CODE_CAPABILITY)
				imap_client_set_caps(c, ev->u.status.code.list);
			break;
		case IMAP_EV_CAPABILITY:
			imap_client_set_caps(c, ev->u.list);
			break;
		case IMAP_EV_CONTINUATION:
			/* "+" for a held literal whose line was sent. */
			if (c->nholds > 0 && c->holds[0].at == 0) {
				imap_client_pop_hold(c, 0);
				continue;
			}
			break;
		case IMAP_EV_TAGGED:
			if (ev->u.status.code.code == IMAP_CODE_CAPABILITY)
				imap_client_set_caps(c, ev->u.status.code.list);
			if (!imap_client_tag_parse(ev->u.status.tag, &tag))
				break;
			imap_client_drop_holds(c, tag);
			if (tag == c->idle_tag) {
				c->idle_tag = 0;
				imap_client__set_state(c, IMAP_CLIENT_READY);
			}
			if (tag == c->starttls_tag) {
				c->starttls_tag = 0;
				if (ev->u.status.status == IMAP_STATUS_OK) {
					/*
					 * Nothing the server sent in plaintext
					 * after this line may be believed.
					 */
					(void)imap_parser_hold(&c->parser);
					imap_client__set_state(c,
					    IMAP_CLIENT_TLS_WAIT);
				}
			}
			break;
		default:
			break;
		}
		return MS_OK;
	}
}

int
imap_client_out_peek(struct imap_client *c, const uint8_t **p_r,
    size_t *len_r)
{
	*p_r = c->out.p;
	*len_r = c->nholds > 0 ? c->holds[0].at : c->out.len;
	return MS_OK;
}

void
imap_client_out_consume(struct imap_client *c, size_t n)
{
	size_t old = c->out.len;

	if (n > old)
		n = old;
	ms_buf_consume(&c->out, n);
	/* The moved-out tail may have held a password. */
	if (n > 0)
		explicit_bzero(c->out.p + c->out.len + 1, old - c->out.len - 1);
	for (size_t i = 0; i < c->nholds; i++) {
		c->holds[i].at -= n;
		c->holds[i].cmd_end -= n;
	}
}

int
imap_client_starttls_done(struct imap_client *c, size_t unread)
{
	if (c->state != IMAP_CLIENT_TLS_WAIT || unread > 0) {
		imap_client__set_state(c, IMAP_CLIENT_DEAD);
		return MS_EPROTO;
	}
	imap_parser_resume(&c->parser);
	imap_client__set_state(c, IMAP_CLIENT_READY);
	return MS_OK;
}
