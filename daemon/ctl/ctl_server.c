/*
 * ctl_server.c - the listener, accepting clients (with the peer check),
 * and the fan-out of account events to watchers and waiting commands
 * (ctl_server.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl/ctl_int.h"
#include "log.h"

void
ctl_server__handle_closed(struct ctl_server *s)
{
	s->open_handles--;
}

/* Is gid among the peer's supplementary groups (SO_PEERGROUPS)? */
static bool
ctl_server_peer_in_group(int fd, gid_t gid)
{
	gid_t small[64], *v = small;
	socklen_t len = sizeof(small);
	bool is_in = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &len) < 0) {
		/* More groups than fit: len says how many bytes. */
		if (errno != ERANGE || (v = malloc(len)) == NULL ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &len) < 0) {
			if (v != small)
				free(v);
			return false;
		}
	}
	for (size_t i = 0; i < len / sizeof(*v) && !is_in; i++)
		is_in = v[i] == gid;
	if (v != small)
		free(v);
	return is_in;
}

/* SO_PEERCRED: the daemon's own uid, or root (OpenSMTPD control_accept);
 * or a member of the socket's group. */
static bool
ctl_server_peer_ok(struct ctl_server *s, struct ctl_conn *c)
{
	gid_t gid = s->sock.gid;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("ctl client=%llu: the peer's credentials cannot be "
			 "read: refused", (unsigned long long)c->id);
		return false;
	}
	if (cred.uid == getuid() || cred.uid == 0)
		return true;
	if (gid != (gid_t)-1 &&
	    (cred.gid == gid || ctl_server_peer_in_group(fd, gid)))
		return true;
	if (gid != (gid_t)-1)
		log_warn("ctl client=%llu refused: uid %lu (pid %ld) is "
			 "neither this daemon's uid %lu nor root nor in "
			 "group %lu (socket_group)", (unsigned long long)c->id,
			 (unsigned long)cred.uid, (long)cred.pid,
			 (unsigned long)getuid(), (unsigned long)gid);
	else
		log_warn("ctl client=%llu refused: uid %lu (pid %ld) is "
			 "neither this daemon's uid %lu nor root",
			 (unsigned long long)c->id, (unsigned long)cred.uid,
			 (long)cred.pid, (unsigned long)getuid());
	return false;
}

static void
ctl_server_on_conn(uv_stream_t *listener, int status)
{
	struct ctl_server *s = listener->data;
	struct ctl_conn *c;
	int rc;

	if (status < 0) {
		log_warn("ctl: accept: %s", uv_strerror(status));
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_err("ctl: out of memory for a client");
		return;
	}
	c->srv = s;
	c->id = ++s->next_conn_id;
	c->refs = 1;		/* the handle's */
	uv_pipe_init(s->host.loop, &c->pipe, 0);
	c->pipe.data = c;
	s->open_handles++;
	s->n_conns++;
	c->next = s->conns;
	if (c->next != NULL)
		c->next->prevp = &c->next;
	c->prevp = &s->conns;
	s->conns = c;
	if ((rc = uv_accept(listener, (uv_stream_t *)&c->pipe)) < 0) {
		ctl_conn_close(c, uv_strerror(rc));
		return;
	}
	log_debug("ctl client=%llu connected (%u clients)",
		  (unsigned long long)c->id, s->n_conns);
	if (!ctl_server_peer_ok(s, c)) {
		/* No hello, no error: a stranger learns nothing. */
		ctl_conn_close(c, NULL);
		return;
	}
	ctl_conn_start(c);
}

static void
ctl_server_listener_closed(uv_handle_t *h)
{
	ctl_server__handle_closed(h->data);
}

int
ctl_server_open(const struct ctl_host *host, const char *path, gid_t gid,
		struct ctl_server **s_r, struct ms_err *err_r)
{
	struct ctl_server *s;
	int rc;

	*s_r = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	s->host = *host;
	if ((rc = ctl_socket_open(&s->sock, path, gid, err_r)) < 0) {
		free(s);
		return rc;
	}
	uv_pipe_init(host->loop, &s->listener, 0);
	s->listener.data = s;
	s->has_listener = true;
	s->open_handles = 1;
	if ((rc = uv_pipe_open(&s->listener, s->sock.fd)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&s->listener, 64,
			    ctl_server_on_conn)) < 0) {
		ms_err_set(err_r, MS_EIO, "cannot listen on %s: %s", path,
			   uv_strerror(rc));
		ctl_server_close(s);
		/* The caller runs the loop to close the handle, then
		 * frees; hand it over for that. */
		*s_r = s;
		return MS_EIO;
	}
	log_info("control socket %s listening", path);
	*s_r = s;
	return MS_OK;
}

/* --- account events ------------------------------------------------------------ */

int
ctl_server_listen(struct ctl_server *s, ctl_listen_fn *fn, void *arg)
{
	struct ctl_listener *v;

	for (size_t i = 0; i < s->n_listeners; i++) {
		if (s->listeners[i].fn == NULL) {
			s->listeners[i].fn = fn;
			s->listeners[i].arg = arg;
			return MS_OK;
		}
	}
	v = realloc(s->listeners, (s->n_listeners + 1) * sizeof(*v));
	if (v == NULL)
		return MS_ENOMEM;
	s->listeners = v;
	v[s->n_listeners].fn = fn;
	v[s->n_listeners].arg = arg;
	s->n_listeners++;
	return MS_OK;
}

void
ctl_server_unlisten(struct ctl_server *s, ctl_listen_fn *fn, void *arg)
{
	/* Slots are emptied, never moved, so that a fan-out under way
	 * skips nobody. */
	for (size_t i = 0; i < s->n_listeners; i++)
		if (s->listeners[i].fn == fn && s->listeners[i].arg == arg) {
			s->listeners[i].fn = NULL;
			s->listeners[i].arg = NULL;
			return;
		}
}

static void
ctl_server_tell_listeners(struct ctl_server *s, struct acct *a,
			  enum acct_event ev)
{
	for (size_t i = 0; i < s->n_listeners; i++) {
		struct ctl_listener l = s->listeners[i];

		if (l.fn != NULL)
			l.fn(a, ev, false, l.arg);
	}
}

/* The watchers' event for ev (NULL: none); *name_r its name. */
static json_t *
ctl_server_event_json(struct acct *a, enum acct_event ev, const char **name_r)
{
	const struct acct_status *st = acct_status(a);
	json_t *o;

	switch (ev) {
	case ACCT_EV_STATE:
		*name_r = "state";
		o = json_pack("{s:s,s:s}", "account", st->name, "state",
			      acct_state_name(st->state));
		if (o != NULL && st->reason[0] != '\0')
			json_object_set_new(o, "reason",
					    ctl_json_string(st->reason));
		return o;
	case ACCT_EV_PROGRESS:
		*name_r = "progress";
		o = ctl_json_progress(st);
		if (o != NULL)
			json_object_set_new(o, "account",
					    json_string(st->name));
		return o;
	case ACCT_EV_PASS_DONE:
		*name_r = "pass-done";
		o = ctl_json_result(&st->last);
		if (o != NULL)
			json_object_set_new(o, "account",
					    json_string(st->name));
		return o;
	}
	return NULL;
}

void
ctl_server_acct_event(struct ctl_server *s, struct acct *a, enum acct_event ev)
{
	const struct acct_status *st = acct_status(a);
	const char *name = NULL;
	json_t *o = NULL, *mail = NULL;

	if (s == NULL || s->is_closed)
		return;
	ctl_server_tell_listeners(s, a, ev);
	for (struct ctl_conn *c = s->conns; c != NULL; c = c->next) {
		if (!c->is_watching || c->is_closing)
			continue;
		if (o == NULL &&
		    (o = ctl_server_event_json(a, ev, &name)) == NULL)
			return;
		ctl_conn_queue_event(c, name, o);
		if (ev == ACCT_EV_PASS_DONE && st->last.new_msgs > 0) {
			if (mail == NULL)
				mail = json_pack("{s:s,s:I}", "account",
						 st->name, "count",
						 (json_int_t)st->last.new_msgs);
			if (mail != NULL && !c->is_closing)
				ctl_conn_queue_event(c, "new-mail", mail);
		}
	}
	if (o != NULL)
		json_decref(o);
	if (mail != NULL)
		json_decref(mail);
}

void
ctl_server_acct_gone(struct ctl_server *s, struct acct *a)
{
	if (s == NULL || s->is_closed)
		return;
	for (size_t i = 0; i < s->n_listeners; i++) {
		struct ctl_listener l = s->listeners[i];

		if (l.fn != NULL)
			l.fn(a, ACCT_EV_STATE, true, l.arg);
	}
}

/* --- the end --------------------------------------------------------------------- */

void
ctl_server_close(struct ctl_server *s)
{
	struct ctl_conn *c, *next;

	if (s == NULL || s->is_closed)
		return;
	s->is_closed = true;
	/* Waiting commands end (and free what they hold). */
	ctl_outbox_close_waits(s);
	for (size_t i = 0; i < s->n_listeners; i++) {
		struct ctl_listener l = s->listeners[i];

		if (l.fn != NULL)
			l.fn(NULL, ACCT_EV_STATE, true, l.arg);
	}
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		ctl_conn_close(c, NULL);
	}
	if (s->has_listener && !uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener,
			 ctl_server_listener_closed);
	ctl_socket_release(&s->sock);
}

void
ctl_server_free(struct ctl_server **sp)
{
	struct ctl_server *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	ctl_server_close(s);
	if (s->open_handles != 0)
		log_err("ctl: freed with %u handles open", s->open_handles);
	free(s->listeners);
	free(s);
}
