/*
 * cli_conn.c - mailsyncctl's connection to the daemon: a blocking Unix
 * socket, the proto/ctl codec both ways, one request at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "ms_version.h"

/* Replies may be large (a big folder's list); payloads are messages. */
#define CLI_MAX_LINE (256u * 1024u * 1024u)
#define CLI_MAX_PAYLOAD (4ull * 1024u * 1024u * 1024u)

static int
cli_unreachable(const struct cli *cli, const char *why)
{
	fprintf(stderr, "mailsyncctl: cannot reach mailsyncd at %s: %s\n",
		cli->socket, why);
	return CLI_EXIT_UNREACHABLE;
}

static int
cli_send(struct cli *cli, const struct ms_buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = send(cli->fd, b->p + off, b->len - off,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cli_unreachable(cli, strerror(errno));
		off += (size_t)n;
	}
	return CLI_EXIT_OK;
}

/* The next decoder event, reading as needed. */
static int
cli_event(struct cli *cli, struct ctl_event *ev)
{
	size_t used;
	ssize_t n;
	int rc;

	for (;;) {
		if (ctl_decoder_next_event(&cli->dec, ev) == MS_OK)
			return CLI_EXIT_OK;
		if (cli->in_off == cli->in_len) {
			do {
				n = read(cli->fd, cli->in, sizeof(cli->in));
			} while (n < 0 && errno == EINTR);
			if (n < 0)
				return cli_unreachable(cli, strerror(errno));
			if (n == 0)
				return cli_unreachable(cli, "the daemon closed "
						       "the connection");
			cli->in_off = 0;
			cli->in_len = (size_t)n;
		}
		rc = ctl_decoder_feed(&cli->dec, cli->in + cli->in_off,
				      cli->in_len - cli->in_off, &used);
		cli->in_off += used;
		if (rc < 0) {
			fprintf(stderr, "mailsyncctl: bad data from mailsyncd "
				"at %s: %s\n", cli->socket, cli->dec.err.msg);
			return CLI_EXIT_UNREACHABLE;
		}
	}
}

int
cli_connect(struct cli *cli)
{
	struct ctl_decoder_params dp = {
		.max_line = CLI_MAX_LINE,
		.max_payload = CLI_MAX_PAYLOAD,
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_event ev;
	struct ms_buf b;
	int rc;

	if (strlen(cli->socket) >= sizeof(sa.sun_path))
		return cli_unreachable(cli, "the path is too long");
	memcpy(sa.sun_path, cli->socket, strlen(cli->socket) + 1);
	cli->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cli->fd < 0)
		return cli_unreachable(cli, strerror(errno));
	if (connect(cli->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(cli->fd);
		cli->fd = -1;
		return cli_unreachable(cli, e == ENOENT || e == ECONNREFUSED ?
				       "it is not running (start it with "
				       "'mailsyncd' or 'systemctl --user start "
				       "mailsyncd')" : strerror(e));
	}
	if (ctl_decoder_init(&cli->dec, &dp) != MS_OK)
		return cli_unreachable(cli, "out of memory");
	if ((rc = cli_event(cli, &ev)) != CLI_EXIT_OK)
		return rc;
	if (ev.type != CTL_EV_MSG || ev.msg.type != CTL_MSG_HELLO) {
		/* A refused peer gets no hello: the connection closes. */
		return cli_unreachable(cli, "no hello from the daemon");
	}
	snprintf(cli->daemon_version_buf, sizeof(cli->daemon_version_buf),
		 "%s", ev.msg.version);
	cli->daemon_version = cli->daemon_version_buf;
	if (ev.msg.proto != CTL_PROTO_VERSION) {
		fprintf(stderr, "mailsyncctl: mailsyncd %s at %s speaks control "
			"protocol %d, this mailsyncctl (%s) speaks %d: use the "
			"mailsyncctl of the same version\n", ev.msg.version,
			cli->socket, ev.msg.proto, MS_VERSION,
			CTL_PROTO_VERSION);
		return CLI_EXIT_UNREACHABLE;
	}
	ms_buf_init(&b, 4096);
	rc = ctl_encode_hello(&b, MS_VERSION) == MS_OK ?
		cli_send(cli, &b) : cli_unreachable(cli, "out of memory");
	ms_buf_deinit(&b);
	return rc;
}

void
cli_disconnect(struct cli *cli)
{
	if (cli->fd >= 0) {
		close(cli->fd);
		ctl_decoder_deinit(&cli->dec);
	}
	cli->fd = -1;
}

/* A failed reply: printed for a person, or as JSON for a script. */
static int
cli_failed(struct cli *cli, const struct ctl_msg *m)
{
	const char *p = m->message;

	if (cli->is_json)
		cli_out_json(m->root, false);
	/* One problem a line (reload lists FILE:LINE problems). */
	do {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, n);

		if (line == NULL)
			abort();
		fprintf(stderr, "mailsyncctl: ");
		cli_out_safe(stderr, line);
		fputc('\n', stderr);
		free(line);
		p = nl != NULL ? nl + 1 : NULL;
	} while (p != NULL);
	if (strcmp(m->code, CTL_ERR_BAD_ARGS) == 0 ||
	    strcmp(m->code, CTL_ERR_UNKNOWN_COMMAND) == 0)
		return CLI_EXIT_USAGE;
	return CLI_EXIT_FAIL;
}

int
cli_call(struct cli *cli, const char *cmd, json_t *args, cli_event_fn *ev_cb,
	 void *ev_arg, FILE *payload_out, json_t **reply_r)
{
	uint64_t id = ++cli->next_id;
	json_t *reply = NULL;
	struct ctl_event ev;
	struct ms_buf b;
	int rc;

	*reply_r = NULL;
	ms_buf_init(&b, CTL_MAX_LINE_DEFAULT);
	rc = ctl_encode_request(&b, id, cmd, args) == MS_OK ?
		cli_send(cli, &b) : cli_usage_error("the request is too large");
	ms_buf_deinit(&b);
	if (rc != CLI_EXIT_OK)
		return rc;
	for (;;) {
		if ((rc = cli_event(cli, &ev)) != CLI_EXIT_OK)
			break;
		if (ev.type == CTL_EV_PAYLOAD) {
			if (payload_out != NULL &&
			    fwrite(ev.chunk.p, 1, ev.chunk.len, payload_out) !=
			    ev.chunk.len) {
				fprintf(stderr, "mailsyncctl: writing the "
					"message: %s\n", strerror(errno));
				rc = CLI_EXIT_FAIL;
				break;
			}
			continue;
		}
		if (ev.type == CTL_EV_PAYLOAD_END)
			break;	/* the reply came before its payload */
		if (ev.msg.type == CTL_MSG_EVENT) {
			if (ev_cb != NULL)
				ev_cb(cli, ev.msg.event, ev.msg.root, ev_arg);
			continue;
		}
		if (ev.msg.type != CTL_MSG_REPLY || ev.msg.id != id)
			continue;
		if (!ev.msg.is_ok) {
			rc = cli_failed(cli, &ev.msg);
			break;
		}
		reply = json_incref(ev.msg.root);
		if (!ev.msg.has_payload || ev.msg.payload_len == 0) {
			/* A zero-length payload still ends with its end
			 * event: take it. */
			if (ev.msg.has_payload)
				(void)cli_event(cli, &ev);
			break;
		}
	}
	if (rc == CLI_EXIT_OK) {
		*reply_r = reply;
		return rc;
	}
	if (reply != NULL)
		json_decref(reply);
	return rc;
}

int
cli_request(struct cli *cli, const char *cmd, json_t *args, json_t **reply_r,
	    json_t **data_r)
{
	int rc = cli_call(cli, cmd, args, NULL, NULL, NULL, reply_r);

	if (args != NULL)
		json_decref(args);
	*data_r = NULL;
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->is_json) {
		cli_out_json(json_object_get(*reply_r, "data"), false);
		json_decref(*reply_r);
		*reply_r = NULL;
		return rc;
	}
	*data_r = json_object_get(*reply_r, "data");
	return rc;
}

int
cli_next_event(struct cli *cli, json_t **ev_r)
{
	struct ctl_event ev;
	int rc;

	for (;;) {
		if ((rc = cli_event(cli, &ev)) != CLI_EXIT_OK)
			return rc;
		if (ev.type == CTL_EV_MSG && ev.msg.type == CTL_MSG_EVENT) {
			*ev_r = json_incref(ev.msg.root);
			return CLI_EXIT_OK;
		}
	}
}
