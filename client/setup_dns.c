/*
 * setup_dns.c - SRV, MX and address lookups for `mailsyncctl setup`
 * through c-ares, driven by the libuv loop: c-ares tells which sockets
 * it wants watched (sock_state_cb), each gets a uv_poll_t, and one
 * uv_timer_t follows ares_timeout() so retries and time-outs happen
 * without a thread.  Answers are copied out of c-ares before the
 * callback, so callers own nothing of it.
 */
#include <arpa/nameser.h>
#include <ares.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setup.h"

#define SETUP_DNS_MAX_SOCKS 16

struct setup_dns_sock {
	ares_socket_t fd;
	uv_poll_t poll;
	bool is_used;
	struct setup_dns *dns;
};

struct setup_dns {
	uv_loop_t *loop;
	ares_channel channel;
	bool has_channel;
	uv_timer_t timer;
	struct setup_dns_sock socks[SETUP_DNS_MAX_SOCKS];
	/* Handles not yet closed (the timer and the polls): the struct is
	 * freed when the last one closes after setup_dns_free(). */
	unsigned nopen;
	bool is_freeing;
};

/* One query in flight: the caller's callback and its argument. */
struct setup_dns_query {
	struct setup_dns *dns;
	void *cb;
	void *arg;
	int type;			/* ns_t_srv, ns_t_mx */
	char name[SETUP_HOST_MAX];
};

static void setup_dns_arm_timer(struct setup_dns *dns);

static void
setup_dns_timer_cb(uv_timer_t *t)
{
	struct setup_dns *dns = t->data;

	ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	setup_dns_arm_timer(dns);
}

/* Next c-ares deadline (retry or give up), or none while idle. */
static void
setup_dns_arm_timer(struct setup_dns *dns)
{
	struct timeval tv, *tvp;

	tvp = ares_timeout(dns->channel, NULL, &tv);
	if (tvp == NULL) {
		uv_timer_stop(&dns->timer);
		return;
	}
	uv_timer_start(&dns->timer, setup_dns_timer_cb,
		       (uint64_t)tvp->tv_sec * 1000 +
		       (uint64_t)tvp->tv_usec / 1000 + 1, 0);
}

static void
setup_dns_poll_cb(uv_poll_t *h, int status, int events)
{
	struct setup_dns_sock *s = h->data;
	struct setup_dns *dns = s->dns;
	ares_socket_t fd = s->fd;

	/* An error on the socket: let c-ares read it and see. */
	if (status < 0)
		events = UV_READABLE | UV_WRITABLE;
	ares_process_fd(dns->channel,
			(events & UV_READABLE) ? fd : ARES_SOCKET_BAD,
			(events & UV_WRITABLE) ? fd : ARES_SOCKET_BAD);
	setup_dns_arm_timer(dns);
}

static void
setup_dns_handle_closed(struct setup_dns *dns)
{
	if (--dns->nopen == 0 && dns->is_freeing)
		free(dns);
}

static void
setup_dns_sock_closed_cb(uv_handle_t *h)
{
	struct setup_dns_sock *s = h->data;

	s->is_used = false;
	setup_dns_handle_closed(s->dns);
}

/* c-ares opens, watches and closes its sockets through this. */
static void
setup_dns_sock_state_cb(void *data, ares_socket_t fd, int readable,
			int writable)
{
	struct setup_dns *dns = data;
	struct setup_dns_sock *s = NULL, *free_slot = NULL;
	int events = (readable ? UV_READABLE : 0) |
		     (writable ? UV_WRITABLE : 0);

	for (size_t i = 0; i < SETUP_DNS_MAX_SOCKS; i++) {
		if (dns->socks[i].is_used && dns->socks[i].fd == fd &&
		    !uv_is_closing((uv_handle_t *)&dns->socks[i].poll))
			s = &dns->socks[i];
		else if (!dns->socks[i].is_used && free_slot == NULL)
			free_slot = &dns->socks[i];
	}
	if (events == 0) {
		if (s != NULL) {
			uv_poll_stop(&s->poll);
			uv_close((uv_handle_t *)&s->poll,
				 setup_dns_sock_closed_cb);
		}
		return;
	}
	if (s == NULL) {
		/* More sockets than slots: that query times out. */
		if (free_slot == NULL ||
		    uv_poll_init_socket(dns->loop, &free_slot->poll, fd) != 0)
			return;
		s = free_slot;
		dns->nopen++;
		s->fd = fd;
		s->is_used = true;
		s->dns = dns;
		s->poll.data = s;
	}
	uv_poll_start(&s->poll, events, setup_dns_poll_cb);
}

int
setup_dns_new(uv_loop_t *loop, const char *resolver, unsigned timeout_ms,
	      struct setup_dns **dns_r, struct ms_err *err_r)
{
	struct ares_options o;
	struct setup_dns *dns;
	int r;

	*dns_r = NULL;
	r = ares_library_init(ARES_LIB_INIT_ALL);
	if (r != ARES_SUCCESS)
		return ms_err_set(err_r, MS_EINTERNAL, "c-ares: %s",
				  ares_strerror(r));
	dns = calloc(1, sizeof(*dns));
	if (dns == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	dns->loop = loop;
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = setup_dns_sock_state_cb;
	o.sock_state_cb_data = dns;
	o.timeout = (int)(timeout_ms / 2 > 0 ? timeout_ms / 2 : 1000);
	o.tries = 2;
	r = ares_init_options(&dns->channel, &o, ARES_OPT_SOCK_STATE_CB |
			      ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (r != ARES_SUCCESS) {
		free(dns);
		return ms_err_set(err_r, MS_EINTERNAL, "c-ares: %s",
				  ares_strerror(r));
	}
	dns->has_channel = true;
	if (resolver != NULL) {
		r = ares_set_servers_ports_csv(dns->channel, resolver);
		if (r != ARES_SUCCESS) {
			ares_destroy(dns->channel);
			free(dns);
			return ms_err_set(err_r, MS_EINVAL, "--resolver %s: %s "
					  "(expected IP[:PORT] or "
					  "[IPv6]:PORT)", resolver,
					  ares_strerror(r));
		}
	}
	uv_timer_init(loop, &dns->timer);
	dns->timer.data = dns;
	dns->nopen = 1;
	*dns_r = dns;
	return MS_OK;
}

static void
setup_dns_timer_closed_cb(uv_handle_t *h)
{
	setup_dns_handle_closed(h->data);
}

void
setup_dns_free(struct setup_dns *dns)
{
	if (dns == NULL)
		return;
	/* Pending callbacks fire with ARES_EDESTRUCTION and free their
	 * query; the sock_state_cb closes the polls. */
	dns->is_freeing = true;
	ares_destroy(dns->channel);
	for (size_t i = 0; i < SETUP_DNS_MAX_SOCKS; i++) {
		uv_handle_t *h = (uv_handle_t *)&dns->socks[i].poll;

		if (dns->socks[i].is_used && !uv_is_closing(h))
			uv_close(h, setup_dns_sock_closed_cb);
	}
	uv_timer_stop(&dns->timer);
	uv_close((uv_handle_t *)&dns->timer, setup_dns_timer_closed_cb);
}

static int
setup_dns_status(int ares_status, const char **why_r)
{
	*why_r = ares_strerror(ares_status);
	switch (ares_status) {
	case ARES_SUCCESS: return MS_OK;
	case ARES_ETIMEOUT: return MS_ETIMEDOUT;
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION: return MS_ECANCELED;
	case ARES_ENODATA:
	case ARES_ENOTFOUND: return MS_ERESP;
	default: return MS_ECONN;
	}
}

static struct setup_dns_query *
setup_dns_query_new(struct setup_dns *dns, const char *name, void *cb,
		    void *arg)
{
	struct setup_dns_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->dns = dns;
	q->cb = cb;
	q->arg = arg;
	snprintf(q->name, sizeof(q->name), "%s", name);
	return q;
}

/* c-ares' SRV or MX answer as records sorted by priority (preference). */
static size_t
setup_dns_parse(int type, unsigned char *abuf, int alen, int *status,
		struct setup_srv *v, size_t max)
{
	struct ares_srv_reply *srv = NULL, *srv_head = NULL;
	struct ares_mx_reply *mx = NULL, *mx_head = NULL;
	size_t n = 0;

	if (type == ns_t_srv)
		*status = ares_parse_srv_reply(abuf, alen, &srv_head);
	else
		*status = ares_parse_mx_reply(abuf, alen, &mx_head);
	srv = srv_head;
	mx = mx_head;
	for (; (srv != NULL || mx != NULL) && n < max; n++) {
		const char *host = srv != NULL ? srv->host : mx->host;
		struct setup_srv r = { .port = srv != NULL ? srv->port : 0,
			.priority = srv != NULL ? srv->priority : mx->priority,
			.weight = srv != NULL ? srv->weight : 0 };
		size_t i = n;

		/* RFC 2782: a target of "." means "not offered here". */
		snprintf(r.target, sizeof(r.target), "%s",
			 strcmp(host, ".") == 0 ? "" : host);
		for (; i > 0 && v[i - 1].priority > r.priority; i--)
			v[i] = v[i - 1];
		v[i] = r;
		if (srv != NULL)
			srv = srv->next;
		else
			mx = mx->next;
	}
	if (srv_head != NULL)
		ares_free_data(srv_head);
	if (mx_head != NULL)
		ares_free_data(mx_head);
	return n;
}

static void
setup_dns_records_done(void *arg, int status, int timeouts,
		       unsigned char *abuf, int alen)
{
	struct setup_dns_query *q = arg;
	setup_dns_records_cb *cb = (setup_dns_records_cb *)q->cb;
	struct setup_srv v[16];
	size_t n = 0;
	const char *why;
	int rc;

	(void)timeouts;
	if (status == ARES_SUCCESS)
		n = setup_dns_parse(q->type, abuf, alen, &status, v, 16);
	rc = setup_dns_status(status, &why);
	cb(q->arg, rc, why, v, rc == MS_OK ? n : 0);
	free(q);
}

void
setup_dns_records(struct setup_dns *dns, const char *name, bool is_mx,
		  setup_dns_records_cb *cb, void *arg)
{
	struct setup_dns_query *q = setup_dns_query_new(dns, name,
							(void *)cb, arg);

	if (q == NULL) {
		cb(arg, MS_ENOMEM, "out of memory", NULL, 0);
		return;
	}
	q->type = is_mx ? ns_t_mx : ns_t_srv;
	ares_query(dns->channel, q->name, ns_c_in, q->type,
		   setup_dns_records_done, q);
	setup_dns_arm_timer(dns);
}

/* ---- addresses ---------------------------------------------------------- */

static void
setup_dns_addr_done(void *arg, int status, int timeouts,
		    struct ares_addrinfo *res)
{
	struct setup_dns_query *q = arg;
	setup_dns_addr_cb *cb = (setup_dns_addr_cb *)q->cb;
	char addrs[SETUP_ADDRS_MAX] = "", one[64];
	size_t len = 0, n = 0;
	const char *why;
	int rc;

	(void)timeouts;
	rc = setup_dns_status(status, &why);
	/* Every address, in c-ares' order: a host with an unreachable IPv6
	 * address is still reached over IPv4. */
	for (struct ares_addrinfo_node *a = rc == MS_OK && res != NULL ?
	     res->nodes : NULL; a != NULL && n < 4; a = a->ai_next) {
		if (getnameinfo(a->ai_addr, (socklen_t)a->ai_addrlen, one,
				sizeof(one), NULL, 0, NI_NUMERICHOST) != 0 ||
		    len + strlen(one) + 2 > sizeof(addrs))
			continue;
		len += (size_t)snprintf(addrs + len, sizeof(addrs) - len,
					"%s%s", n++ > 0 ? " " : "", one);
	}
	if (rc == MS_OK && n == 0) {
		rc = MS_ERESP;
		why = "no address";
	}
	if (res != NULL)
		ares_freeaddrinfo(res);
	cb(q->arg, rc, why, addrs);
	free(q);
}

void
setup_dns_addr(struct setup_dns *dns, const char *host, setup_dns_addr_cb *cb,
	       void *arg)
{
	struct ares_addrinfo_hints hints;
	struct setup_dns_query *q = setup_dns_query_new(dns, host,
							(void *)cb, arg);

	if (q == NULL) {
		cb(arg, MS_ENOMEM, "out of memory", NULL);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	ares_getaddrinfo(dns->channel, host, NULL, &hints,
			 setup_dns_addr_done, q);
	setup_dns_arm_timer(dns);
}
