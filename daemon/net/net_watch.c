/* net_watch.c - rtnetlink over uv_poll, debounced (see net_watch.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "log.h"
#include "net/net_change.h"
#include "net/net_watch.h"

struct net_watch {
	uv_poll_t poll;
	uv_timer_t timer;
	int fd;
	int nopen;		/* handles not yet closed */
	bool is_closing;
	unsigned bits;		/* of the burst the timer waits for */
	net_watch_cb cb;
	void *arg;
	struct net_change nc;
};

static void
net_watch_on_close(uv_handle_t *h)
{
	struct net_watch *w = h->data;

	if (--w->nopen > 0)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

static void
net_watch_on_timer(uv_timer_t *t)
{
	struct net_watch *w = t->data;
	unsigned bits = w->bits;

	w->bits = 0;
	if (bits != 0 && !w->is_closing)
		w->cb(bits, w->arg);
}

/* Reads every datagram waiting; a change (re)arms the debounce timer. */
static void
net_watch_on_readable(uv_poll_t *p, int status, int events)
{
	struct net_watch *w = p->data;
	/* The kernel's messages fit in a page; 8 kB as it advises. */
	uint8_t buf[8192];
	unsigned bits = 0;

	(void)events;
	if (status < 0) {
		log_warn("network watch: %s (network changes now go unseen)",
			 uv_strerror(status));
		uv_poll_stop(p);
		return;
	}
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == ENOBUFS) {
			/* Notifications were dropped: assume the worst. */
			bits |= NET_CHANGE_UNKNOWN;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		bits |= net_change_feed(&w->nc, buf, (size_t)n);
	}
	if (bits == 0)
		return;
	w->bits |= bits;
	uv_timer_start(&w->timer, net_watch_on_timer, NET_WATCH_DEBOUNCE_MS, 0);
}

/* Asks for every address there is now: the replies fill w->nc. */
static int
net_watch_dump(struct net_watch *w)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg ifa;
	} req;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	req.h.nlmsg_type = RTM_GETADDR;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = 1;
	req.ifa.ifa_family = AF_UNSPEC;
	return send(w->fd, &req, req.h.nlmsg_len, 0) < 0 ? -errno : 0;
}

/* The socket, bound to the groups; the port id the kernel gave it. */
static int
net_watch_socket(uint32_t *portid_r, struct ms_err *err_r)
{
	struct sockaddr_nl sa;
	socklen_t salen = sizeof(sa);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			NETLINK_ROUTE);

	if (fd < 0)
		return ms_err_set(err_r, MS_EIO, "netlink socket: %s",
				  strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
		int rc = ms_err_set(err_r, MS_EIO, "netlink bind: %s",
				    strerror(errno));

		close(fd);
		return rc;
	}
	*portid_r = sa.nl_pid;
	return fd;
}

struct net_watch *
net_watch_new(uv_loop_t *loop, net_watch_cb cb, void *arg,
	      struct ms_err *err_r)
{
	struct net_watch *w;
	uint32_t portid = 0;
	int fd, rc;

	if ((fd = net_watch_socket(&portid, err_r)) < 0)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		close(fd);
		ms_err_set(err_r, MS_ENOMEM, "out of memory");
		return NULL;
	}
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	net_change_init(&w->nc, portid);
	if ((rc = net_watch_dump(w)) < 0)
		/* Not fatal: addresses are then learnt as they change. */
		log_warn("network watch: asking for the addresses: %s",
			 strerror(-rc));
	if ((rc = uv_poll_init(loop, &w->poll, fd)) < 0) {
		close(fd);
		free(w);
		ms_err_set(err_r, MS_EIO, "network watch: %s", uv_strerror(rc));
		return NULL;
	}
	w->poll.data = w;
	w->nopen = 1;
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	w->nopen++;
	if ((rc = uv_poll_start(&w->poll, UV_READABLE,
				net_watch_on_readable)) < 0) {
		ms_err_set(err_r, MS_EIO, "network watch: %s", uv_strerror(rc));
		net_watch_close(w);
		return NULL;
	}
	return w;
}

void
net_watch_close(struct net_watch *w)
{
	if (w == NULL || w->is_closing)
		return;
	w->is_closing = true;
	uv_timer_stop(&w->timer);
	uv_poll_stop(&w->poll);
	uv_close((uv_handle_t *)&w->poll, net_watch_on_close);
	uv_close((uv_handle_t *)&w->timer, net_watch_on_close);
}
