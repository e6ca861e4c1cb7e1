/*
 * fuzz_net_change.c - rtnetlink datagrams into net_change_feed(): any
 * bytes, never a read past the datagram (ASan), and the kept addresses
 * stay within their bound.  The input is split into datagrams at each
 * 0xff 0xfe pair (so one run feeds several, as the watcher does, with
 * the addresses the earlier ones recorded); the first byte decides
 * whether the port id matches the dump replies' (a dump in progress) or
 * not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_change.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_change nc;
	char what[128];
	size_t start;

	if (size == 0)
		return 0;
	net_change_init(&nc, (data[0] & 1) ? 4242u : 0u);
	start = 1;
	for (size_t i = 1; i <= size; i++) {
		unsigned bits;
		uint8_t *copy;
		size_t len;

		if (i < size && !(i + 1 < size && data[i] == 0xff &&
				  data[i + 1] == 0xfe))
			continue;
		/* An exact-size heap copy: ASan sees any read past it. */
		len = i - start;
		copy = malloc(len > 0 ? len : 1);
		if (copy == NULL)
			return 0;
		memcpy(copy, data + start, len);
		bits = net_change_feed(&nc, copy, len);
		free(copy);
		CHECK(bits < (NET_CHANGE_UNKNOWN << 1));
		CHECK(nc.n <= NET_CHANGE_ADDRS_MAX);
		net_change_describe(bits, what, sizeof(what));
		CHECK(strlen(what) < sizeof(what));
		start = i + 2;
		i++;
	}
	return 0;
}
