/*
 * net_change.h - which rtnetlink messages say the network changed under
 * the daemon's connections: an address gone or come, a link down or up.
 * Pure (no socket, no clock): net_watch.h reads the datagrams and feeds
 * them here, so a unit test and a fuzz target can feed their own.
 *
 * An address is a change only when it really comes or goes: IPv6
 * re-announces an address each time a router advertisement renews its
 * lifetime (RTM_NEWADDR again), and a tentative address (duplicate
 * address detection still running) is not usable yet.  So the addresses
 * seen are kept (at most NET_CHANGE_ADDRS_MAX; beyond, a new one counts
 * as a change of unknown kind), filled silently from the dump the watcher
 * asks for at start (the replies to its own port id; a notification
 * carries the port id of whoever changed the address, or 0).  A link is a
 * change when a notification says its IFF_UP or IFF_RUNNING flag changed
 * (ifi_change) or it went away; loopback links are not looked at.
 */
#ifndef MS_NET_CHANGE_H
#define MS_NET_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#define NET_CHANGE_ADDRS_MAX 64

/* What a datagram said, as bits. */
enum {
	NET_CHANGE_ADDR_ADDED = 1u << 0,
	NET_CHANGE_ADDR_REMOVED = 1u << 1,
	NET_CHANGE_LINK_UP = 1u << 2,
	NET_CHANGE_LINK_DOWN = 1u << 3,
	/* The kernel dropped notifications (ENOBUFS), or more addresses
	 * than are kept: anything may have changed. */
	NET_CHANGE_UNKNOWN = 1u << 4,
};

struct net_change_addr {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t len;		/* bytes of addr used: 4 or 16 */
	uint32_t ifindex;
	uint8_t addr[16];
};

/* Caller-owned, set up by net_change_init(). */
struct net_change {
	struct net_change_addr v[NET_CHANGE_ADDRS_MAX];
	unsigned n;
	uint32_t portid;	/* the watcher's socket: dump replies go to it */
	/* The dump asked for at start has ended (NLMSG_DONE). */
	int is_dumped;
};

/* portid: the netlink port id of the socket that asked for the dump
 * (getsockname() after bind), whose replies are recorded silently. */
void net_change_init(struct net_change *nc, uint32_t portid);

/*
 * Feeds one datagram of len bytes (any content: a malformed message ends
 * the walk, never reads past len).  Returns the NET_CHANGE_* bits it
 * holds, 0 when nothing the connections care about changed.
 */
unsigned net_change_feed(struct net_change *nc, const void *buf, size_t len);

/* "address removed, link down" for the bits (at most size bytes, always
 * terminated); "nothing" for 0.  Returns out. */
char *net_change_describe(unsigned bits, char *out, size_t size);

#endif
