/*
 * fuzz_autoconfig.c - libFuzzer target for the autoconfig parser.
 *
 * Input: byte 0 is a split seed, the rest an autoconfig file.  It is fed
 * whole and in pieces of seed-dependent sizes; the outcome (error code
 * and message, or every server and the finish result) must be identical,
 * and every kept string must be NUL-terminated within its field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setup/autoconfig.h"

static void
fuzz_ac_render(struct autoconfig_parser *p, int rc, char *out, size_t size)
{
	size_t o;

	if (rc == MS_OK)
		rc = autoconfig_finish(p);
	o = (size_t)snprintf(out, size, "%d %s|", rc,
	    rc == MS_OK ? "" : autoconfig_error(p));
	for (size_t i = 0; i < autoconfig_count(p) && o < size; i++) {
		const struct autoconfig_server *s = autoconfig_server(p, i);

		if (memchr(s->host, '\0', sizeof(s->host)) == NULL ||
		    memchr(s->username, '\0', sizeof(s->username)) == NULL ||
		    memchr(s->auth, '\0', sizeof(s->auth)) == NULL)
			abort();
		o += (size_t)snprintf(out + o, size - o, "%d %s %u %d %s %s|",
		    (int)s->proto, s->host, (unsigned)s->port, (int)s->socket,
		    s->username, s->auth);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char whole[65536], split[65536];
	struct autoconfig_parser p;
	unsigned seed;
	int rc;

	if (size < 1)
		return 0;
	seed = data[0];
	data++;
	size--;
	autoconfig_init(&p);
	rc = autoconfig_feed(&p, data, size);
	fuzz_ac_render(&p, rc, whole, sizeof(whole));
	autoconfig_init(&p);
	rc = MS_OK;
	for (size_t off = 0, n; off < size && rc == MS_OK; off += n) {
		n = 1 + (seed + off) % 13;
		if (n > size - off)
			n = size - off;
		rc = autoconfig_feed(&p, data + off, n);
	}
	fuzz_ac_render(&p, rc, split, sizeof(split));
	if (strcmp(whole, split) != 0)
		abort();
	return 0;
}
