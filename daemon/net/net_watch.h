/*
 * net_watch.h - tells when the network under the daemon's connections
 * changed (an address removed or added, a link down or up), so that a
 * connection on a vanished address is redone at once instead of waiting
 * for its socket to time out, and an account offline retries as soon as
 * an address comes.
 *
 * An rtnetlink socket (RTMGRP_LINK, RTMGRP_IPV4_IFADDR,
 * RTMGRP_IPV6_IFADDR) watched by uv_poll; what the messages mean is
 * net_change.h's.  Changes are debounced: the callback fires once
 * NET_WATCH_DEBOUNCE_MS after the last of a burst (a Wi-Fi roam removes
 * and adds addresses within milliseconds), with every kind seen in it.
 * Loop thread only.
 */
#ifndef MS_NET_WATCH_H
#define MS_NET_WATCH_H

#include <uv.h>

#include "common/ms.h"

#define NET_WATCH_DEBOUNCE_MS 200u

struct net_watch;

/* bits: the NET_CHANGE_* of the burst.  May call net_watch_close(). */
typedef void (*net_watch_cb)(unsigned bits, void *arg);

/*
 * Opens the socket, asks the kernel for the addresses there are now (not
 * reported) and starts watching.  NULL with err_r set when the socket
 * cannot be had (no AF_NETLINK under a sandbox that refuses it): the
 * caller goes on without, connections then find out by their timeouts.
 */
struct net_watch *net_watch_new(uv_loop_t *loop, net_watch_cb cb, void *arg,
				struct ms_err *err_r);

/* Stops; no callback afterwards; freed from the handles' close
 * callbacks (run the loop once more).  A no-op on NULL. */
void net_watch_close(struct net_watch *w);

#endif
