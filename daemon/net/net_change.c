/* net_change.c - rtnetlink messages to "the network changed" (see
 * net_change.h).  Every header and attribute is copied out with memcpy:
 * a datagram's bytes need not be aligned (a fuzzer's are not). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include "net/net_change.h"

void
net_change_init(struct net_change *nc, uint32_t portid)
{
	memset(nc, 0, sizeof(*nc));
	nc->portid = portid;
}

static unsigned
net_change_find(const struct net_change *nc, const struct net_change_addr *a)
{
	for (unsigned i = 0; i < nc->n; i++)
		if (nc->v[i].family == a->family && nc->v[i].len == a->len &&
		    nc->v[i].ifindex == a->ifindex &&
		    memcmp(nc->v[i].addr, a->addr, a->len) == 0)
			return i;
	return nc->n;
}

/*
 * The address of an RTM_NEWADDR/RTM_DELADDR body (p, len bytes after the
 * netlink header) into *a and its flags into *flags_r.  false when the
 * body is short or holds no address of a family we use.
 */
static bool
net_change_addr_parse(const uint8_t *p, size_t len, struct net_change_addr *a,
		      uint32_t *flags_r)
{
	struct ifaddrmsg ifa;
	size_t off = NLMSG_ALIGN(sizeof(ifa));
	bool has_local = false, has_addr = false;
	uint8_t addr[16], local[16];

	if (len < sizeof(ifa))
		return false;
	memcpy(&ifa, p, sizeof(ifa));
	if (ifa.ifa_family != AF_INET && ifa.ifa_family != AF_INET6)
		return false;
	memset(a, 0, sizeof(*a));
	a->family = ifa.ifa_family;
	a->len = ifa.ifa_family == AF_INET ? 4 : 16;
	a->ifindex = ifa.ifa_index;
	*flags_r = ifa.ifa_flags;
	while (off + sizeof(struct rtattr) <= len) {
		struct rtattr rta;
		size_t dlen;

		memcpy(&rta, p + off, sizeof(rta));
		if (rta.rta_len < sizeof(rta) || rta.rta_len > len - off)
			break;
		dlen = rta.rta_len - RTA_LENGTH(0);
		if ((rta.rta_type == IFA_ADDRESS || rta.rta_type == IFA_LOCAL) &&
		    dlen == a->len) {
			memcpy(rta.rta_type == IFA_LOCAL ? local : addr,
			       p + off + RTA_LENGTH(0), dlen);
			if (rta.rta_type == IFA_LOCAL)
				has_local = true;
			else
				has_addr = true;
		} else if (rta.rta_type == IFA_FLAGS && dlen == 4) {
			memcpy(flags_r, p + off + RTA_LENGTH(0), 4);
		}
		off += RTA_ALIGN(rta.rta_len);
	}
	/* On a point-to-point link IFA_ADDRESS is the peer's; IFA_LOCAL is
	 * ours when present. */
	if (!has_local && !has_addr)
		return false;
	memcpy(a->addr, has_local ? local : addr, a->len);
	return true;
}

static unsigned
net_change_addr(struct net_change *nc, uint16_t type, bool is_dump,
		const uint8_t *p, size_t len)
{
	struct net_change_addr a;
	uint32_t flags;
	unsigned i;

	if (!net_change_addr_parse(p, len, &a, &flags))
		return 0;
	i = net_change_find(nc, &a);
	if (type == RTM_DELADDR) {
		if (i < nc->n) {
			nc->v[i] = nc->v[--nc->n];
			return is_dump ? 0 : NET_CHANGE_ADDR_REMOVED;
		}
		/* Unknown: usable before we knew them all, or one that was
		 * never usable (it failed duplicate address detection). */
		return nc->is_dumped || (flags & IFA_F_TENTATIVE) ?
		       0 : NET_CHANGE_ADDR_REMOVED;
	}
	/* A tentative address cannot be used yet; it is added when the
	 * detection ends (another RTM_NEWADDR without the flag). */
	if (i < nc->n || (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)))
		return 0;
	if (nc->n == NET_CHANGE_ADDRS_MAX)
		return is_dump ? 0 : NET_CHANGE_UNKNOWN;
	nc->v[nc->n++] = a;
	return is_dump ? 0 : NET_CHANGE_ADDR_ADDED;
}

static unsigned
net_change_link(uint16_t type, bool is_dump, const uint8_t *p, size_t len)
{
	struct ifinfomsg ifi;
	const unsigned up = IFF_UP | IFF_RUNNING;

	if (is_dump || len < sizeof(ifi))
		return 0;
	memcpy(&ifi, p, sizeof(ifi));
	if (ifi.ifi_flags & IFF_LOOPBACK)
		return 0;
	if (type == RTM_DELLINK)
		return NET_CHANGE_LINK_DOWN;
	if ((ifi.ifi_change & up) == 0)
		return 0;	/* a change of something else: MTU, name */
	return (ifi.ifi_flags & up) == up ? NET_CHANGE_LINK_UP :
	       NET_CHANGE_LINK_DOWN;
}

unsigned
net_change_feed(struct net_change *nc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	unsigned bits = 0;
	size_t off = 0;

	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		size_t body;
		bool is_dump;

		memcpy(&h, p + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			break;
		body = h.nlmsg_len - NLMSG_HDRLEN;
		is_dump = nc->portid != 0 && h.nlmsg_pid == nc->portid &&
			  (h.nlmsg_flags & NLM_F_MULTI) != 0;
		switch (h.nlmsg_type) {
		case NLMSG_DONE:
			if (h.nlmsg_pid == nc->portid)
				nc->is_dumped = 1;
			break;
		case RTM_NEWADDR:
		case RTM_DELADDR:
			bits |= net_change_addr(nc, h.nlmsg_type, is_dump,
						p + off + NLMSG_HDRLEN, body);
			break;
		case RTM_NEWLINK:
		case RTM_DELLINK:
			bits |= net_change_link(h.nlmsg_type, is_dump,
						p + off + NLMSG_HDRLEN, body);
			break;
		default:
			break;
		}
		if (NLMSG_ALIGN(h.nlmsg_len) >= len - off)
			break;
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return bits;
}

char *
net_change_describe(unsigned bits, char *out, size_t size)
{
	static const char *const names[] = {
		"address added", "address removed", "link up", "link down",
		"notifications lost",
	};
	size_t pos = 0;

	if (size == 0)
		return out;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int n;

		if (!(bits & (1u << i)) || pos >= size)
			continue;
		n = snprintf(out + pos, size - pos, "%s%s", pos > 0 ? ", " : "",
			     names[i]);
		if (n > 0)
			pos += (size_t)n;
	}
	if (pos == 0)
		snprintf(out, size, "nothing");
	return out;
}
