/*
 * conn_internal.h - test seam of net/conn.c, not for drivers.
 */
#ifndef MS_NET_CONN_INTERNAL_H
#define MS_NET_CONN_INTERNAL_H

#include <netdb.h>

#include "net/conn.h"

/*
 * Like net_conn_new(), but skips resolution and tries the addresses of
 * addrs in order.  Takes ownership of addrs (a getaddrinfo() list, freed
 * with freeaddrinfo()) whether it succeeds or not.  This lets a test give
 * a host both an IPv6 and an IPv4 address on machines whose hosts file
 * maps localhost to one of them only.
 */
int net__conn_new_with_addrs(uv_loop_t *loop,
			     const struct net_conn_params *params,
			     struct addrinfo *addrs, struct net_conn **conn_r,
			     struct ms_err *err_r) MS_WUR;

#endif
