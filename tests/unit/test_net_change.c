/* test_net_change.c - daemon/net: rtnetlink messages to "the network
 * changed", on messages built here as the kernel sends them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "acct/acct_policy.h"
#include "net/net_change.h"

#define PORTID 4242u

/* A datagram being built: messages appended one after the other. */
struct dgram {
	uint8_t b[4096];
	size_t len;
};

/* Appends an address message (ip: dotted or IPv6 text). */
static void
put_addr(struct dgram *d, uint16_t type, uint32_t pid, uint16_t nlflags,
	 unsigned ifindex, const char *ip, uint32_t ifa_flags)
{
	struct nlmsghdr h = { 0 };
	struct ifaddrmsg ifa = { 0 };
	struct rtattr rta = { 0 };
	uint8_t addr[16];
	int family = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	size_t alen = family == AF_INET ? 4 : 16;
	size_t start = d->len;

	assert_int_equal(inet_pton(family, ip, addr), 1);
	ifa.ifa_family = (uint8_t)family;
	ifa.ifa_prefixlen = family == AF_INET ? 24 : 64;
	ifa.ifa_flags = (uint8_t)ifa_flags;
	ifa.ifa_index = ifindex;
	h.nlmsg_type = type;
	h.nlmsg_flags = nlflags;
	h.nlmsg_pid = pid;
	d->len += NLMSG_HDRLEN;
	memcpy(d->b + d->len, &ifa, sizeof(ifa));
	d->len += NLMSG_ALIGN(sizeof(ifa));
	rta.rta_type = family == AF_INET ? IFA_LOCAL : IFA_ADDRESS;
	rta.rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(d->b + d->len, &rta, sizeof(rta));
	memcpy(d->b + d->len + RTA_LENGTH(0), addr, alen);
	d->len += RTA_ALIGN(rta.rta_len);
	rta.rta_type = IFA_FLAGS;
	rta.rta_len = (unsigned short)RTA_LENGTH(4);
	memcpy(d->b + d->len, &rta, sizeof(rta));
	memcpy(d->b + d->len + RTA_LENGTH(0), &ifa_flags, 4);
	d->len += RTA_ALIGN(rta.rta_len);
	h.nlmsg_len = (uint32_t)(d->len - start);
	memcpy(d->b + start, &h, sizeof(h));
}

static void
put_link(struct dgram *d, uint16_t type, unsigned ifindex, unsigned flags,
	 unsigned change)
{
	struct nlmsghdr h = { 0 };
	struct ifinfomsg ifi = { 0 };

	ifi.ifi_index = (int)ifindex;
	ifi.ifi_flags = flags;
	ifi.ifi_change = change;
	h.nlmsg_type = type;
	h.nlmsg_len = (uint32_t)NLMSG_LENGTH(sizeof(ifi));
	memcpy(d->b + d->len, &h, sizeof(h));
	memcpy(d->b + d->len + NLMSG_HDRLEN, &ifi, sizeof(ifi));
	d->len += NLMSG_ALIGN(h.nlmsg_len);
}

static void
put_done(struct dgram *d, uint32_t pid)
{
	struct nlmsghdr h = { 0 };

	h.nlmsg_type = NLMSG_DONE;
	h.nlmsg_flags = NLM_F_MULTI;
	h.nlmsg_pid = pid;
	h.nlmsg_len = (uint32_t)NLMSG_LENGTH(4);
	memcpy(d->b + d->len, &h, sizeof(h));
	memset(d->b + d->len + NLMSG_HDRLEN, 0, 4);
	d->len += NLMSG_ALIGN(h.nlmsg_len);
}

static unsigned
feed(struct net_change *nc, struct dgram *d)
{
	unsigned bits = net_change_feed(nc, d->b, d->len);

	d->len = 0;
	return bits;
}

/* The dump at start records silently; then only real changes count. */
static void
test_addresses(void **state)
{
	struct net_change nc;
	struct dgram d = { .len = 0 };

	(void)state;
	net_change_init(&nc, PORTID);
	put_addr(&d, RTM_NEWADDR, PORTID, NLM_F_MULTI, 1, "127.0.0.1", 0);
	put_addr(&d, RTM_NEWADDR, PORTID, NLM_F_MULTI, 2, "192.0.2.7", 0);
	put_addr(&d, RTM_NEWADDR, PORTID, NLM_F_MULTI, 2, "2001:db8::7", 0);
	put_done(&d, PORTID);
	assert_int_equal(feed(&nc, &d), 0);
	assert_int_equal(nc.n, 3);
	assert_true(nc.is_dumped);

	/* A router advertisement renews 2001:db8::7: no change. */
	put_addr(&d, RTM_NEWADDR, 0, 0, 2, "2001:db8::7", 0);
	assert_int_equal(feed(&nc, &d), 0);
	/* The address our connection uses goes ("ip addr del", its pid). */
	put_addr(&d, RTM_DELADDR, 777, 0, 2, "192.0.2.7", 0);
	assert_int_equal(feed(&nc, &d), NET_CHANGE_ADDR_REMOVED);
	/* Gone twice (a second notification): nothing more. */
	put_addr(&d, RTM_DELADDR, 777, 0, 2, "192.0.2.7", 0);
	assert_int_equal(feed(&nc, &d), 0);
	/* And back. */
	put_addr(&d, RTM_NEWADDR, 777, 0, 2, "192.0.2.7", 0);
	assert_int_equal(feed(&nc, &d), NET_CHANGE_ADDR_ADDED);
	/* The same address on another interface is another address. */
	put_addr(&d, RTM_NEWADDR, 0, 0, 3, "192.0.2.7", 0);
	assert_int_equal(feed(&nc, &d), NET_CHANGE_ADDR_ADDED);
	assert_int_equal(nc.n, 4);
}

/* IPv6 duplicate address detection: usable only once not tentative; a
 * tentative address that fails and goes was never there. */
static void
test_tentative(void **state)
{
	struct net_change nc;
	struct dgram d = { .len = 0 };

	(void)state;
	net_change_init(&nc, PORTID);
	put_done(&d, PORTID);
	assert_int_equal(feed(&nc, &d), 0);
	put_addr(&d, RTM_NEWADDR, 0, 0, 2, "2001:db8::9", IFA_F_TENTATIVE);
	assert_int_equal(feed(&nc, &d), 0);
	put_addr(&d, RTM_NEWADDR, 0, 0, 2, "2001:db8::9", 0);
	assert_int_equal(feed(&nc, &d), NET_CHANGE_ADDR_ADDED);
	put_addr(&d, RTM_NEWADDR, 0, 0, 2, "2001:db8::a", IFA_F_TENTATIVE);
	put_addr(&d, RTM_DELADDR, 0, 0, 2, "2001:db8::a",
		 IFA_F_TENTATIVE | IFA_F_DADFAILED);
	assert_int_equal(feed(&nc, &d), 0);
}

/* Before the dump ended, an address going that was never seen is one
 * that was there before: a change. */
static void
test_removed_before_dump(void **state)
{
	struct net_change nc;
	struct dgram d = { .len = 0 };

	(void)state;
	net_change_init(&nc, PORTID);
	put_addr(&d, RTM_DELADDR, 0, 0, 2, "198.51.100.1", 0);
	assert_int_equal(feed(&nc, &d), NET_CHANGE_ADDR_REMOVED);
}

static void
test_links(void **state)
{
	struct net_change nc;
	struct dgram d = { .len = 0 };
	const unsigned up = IFF_UP | IFF_RUNNING;

	(void)state;
	net_change_init(&nc, PORTID);
	/* Carrier lost: RUNNING cleared. */
	put_link(&d, RTM_NEWLINK, 2, IFF_UP, IFF_RUNNING);
	assert_int_equal(feed(&nc, &d), NET_CHANGE_LINK_DOWN);
	put_link(&d, RTM_NEWLINK, 2, up, IFF_RUNNING);
	assert_int_equal(feed(&nc, &d), NET_CHANGE_LINK_UP);
	/* Something else changed (MTU, statistics): not a change. */
	put_link(&d, RTM_NEWLINK, 2, up, 0);
	assert_int_equal(feed(&nc, &d), 0);
	/* The interface went away. */
	put_link(&d, RTM_DELLINK, 2, 0, 0);
	assert_int_equal(feed(&nc, &d), NET_CHANGE_LINK_DOWN);
	/* Loopback is not looked at. */
	put_link(&d, RTM_NEWLINK, 1, IFF_LOOPBACK, IFF_UP);
	assert_int_equal(feed(&nc, &d), 0);
	/* Several messages in one datagram: every kind. */
	put_link(&d, RTM_NEWLINK, 2, IFF_UP, IFF_RUNNING);
	put_addr(&d, RTM_DELADDR, 0, 0, 2, "203.0.113.5", 0);
	assert_int_equal(feed(&nc, &d),
			 NET_CHANGE_LINK_DOWN | NET_CHANGE_ADDR_REMOVED);
}

/* Short, truncated or lying messages end the walk without a read past
 * the datagram (the test runs under ASan too). */
static void
test_malformed(void **state)
{
	struct net_change nc;
	struct dgram d = { .len = 0 };
	struct nlmsghdr h = { 0 };

	(void)state;
	net_change_init(&nc, PORTID);
	put_addr(&d, RTM_DELADDR, 0, 0, 2, "203.0.113.5", 0);
	for (size_t n = 0; n < d.len; n++)
		assert_int_equal(net_change_feed(&nc, d.b, n), 0);
	assert_int_equal(net_change_feed(&nc, d.b, d.len),
			 NET_CHANGE_ADDR_REMOVED);
	/* A length larger than the datagram. */
	h.nlmsg_type = RTM_DELADDR;
	h.nlmsg_len = 4000;
	assert_int_equal(net_change_feed(&nc, &h, sizeof(h)), 0);
	/* A length shorter than a header. */
	h.nlmsg_len = 3;
	assert_int_equal(net_change_feed(&nc, &h, sizeof(h)), 0);
	assert_int_equal(net_change_feed(&nc, NULL, 0), 0);
}

/* Beyond the addresses kept, a new one is a change of unknown kind. */
static void
test_many_addresses(void **state)
{
	struct net_change nc;
	struct dgram d = { .len = 0 };
	char ip[32];

	(void)state;
	net_change_init(&nc, PORTID);
	for (int i = 0; i < NET_CHANGE_ADDRS_MAX; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 200, i % 200 + 1);
		put_addr(&d, RTM_NEWADDR, PORTID, NLM_F_MULTI, 2, ip, 0);
		assert_int_equal(feed(&nc, &d), 0);
	}
	put_addr(&d, RTM_NEWADDR, 0, 0, 2, "10.1.0.1", 0);
	assert_int_equal(feed(&nc, &d), NET_CHANGE_UNKNOWN);
}

static void
test_describe(void **state)
{
	char out[128];

	(void)state;
	assert_string_equal(net_change_describe(0, out, sizeof(out)), "nothing");
	assert_string_equal(net_change_describe(NET_CHANGE_ADDR_REMOVED |
						NET_CHANGE_LINK_DOWN, out,
						sizeof(out)),
			    "address removed, link down");
	assert_string_equal(net_change_describe(NET_CHANGE_ADDR_ADDED, out, 8),
			    "address");
}

/* Who reconnects and who retries on a network change. */
static void
test_policy(void **state)
{
	(void)state;
	assert_int_equal(acct_net_change_action(ACCT_IDLE, true),
			 ACCT_NET_RECONNECT);
	assert_int_equal(acct_net_change_action(ACCT_SYNCING, true),
			 ACCT_NET_RECONNECT);
	/* POP3 between polls holds no connection. */
	assert_int_equal(acct_net_change_action(ACCT_IDLE, false),
			 ACCT_NET_NONE);
	assert_int_equal(acct_net_change_action(ACCT_OFFLINE, false),
			 ACCT_NET_RETRY);
	assert_int_equal(acct_net_change_action(ACCT_BACKOFF, true),
			 ACCT_NET_RETRY);
	/* A refused password is not fixed by a network. */
	assert_int_equal(acct_net_change_action(ACCT_AUTH_FAILED, true),
			 ACCT_NET_NONE);
	assert_int_equal(acct_net_change_action(ACCT_PAUSED, true),
			 ACCT_NET_NONE);
	assert_int_equal(acct_net_change_action(ACCT_STOPPED, true),
			 ACCT_NET_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_tentative),
		cmocka_unit_test(test_removed_before_dump),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_many_addresses),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
