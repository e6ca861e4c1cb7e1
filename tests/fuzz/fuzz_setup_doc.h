/*
 * fuzz_setup_doc.h - the body shared by the autoconfig and autodiscover
 * fuzz targets.  Input: byte 0 is a split seed, the rest a document.  It
 * is fed whole and in pieces of seed-dependent sizes; the outcome (error
 * code and message, or every server and what else the render gives, and
 * the finish result) must be identical, and every kept string must be
 * NUL-terminated within its field.
 */
#ifndef MS_FUZZ_SETUP_DOC_H
#define MS_FUZZ_SETUP_DOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setup/autoconfig.h"

struct fuzz_doc {
	void (*init_cb)(void *parser);
	int (*feed_cb)(void *parser, const uint8_t *p, size_t n);
	/* Finishes when rc is MS_OK; renders the code, the message and any
	 * other outcome into out; returns the length. */
	size_t (*render_cb)(void *parser, int rc, char *out, size_t size);
	size_t (*count_cb)(const void *parser);
	const struct autoconfig_server *(*server_cb)(const void *parser,
	    size_t i);
};

static void
fuzz_doc_render(const struct fuzz_doc *d, void *parser, int rc, char *out,
    size_t size)
{
	size_t o = d->render_cb(parser, rc, out, size);

	for (size_t i = 0; i < d->count_cb(parser) && o < size; i++) {
		const struct autoconfig_server *s = d->server_cb(parser, i);

		if (memchr(s->host, '\0', sizeof(s->host)) == NULL ||
		    memchr(s->username, '\0', sizeof(s->username)) == NULL ||
		    memchr(s->auth, '\0', sizeof(s->auth)) == NULL)
			abort();
		o += (size_t)snprintf(out + o, size - o, "%d %s %u %d %s %s|",
		    (int)s->proto, s->host, (unsigned)s->port, (int)s->socket,
		    s->username, s->auth);
	}
}

static int
fuzz_doc_run(const struct fuzz_doc *d, void *parser, const uint8_t *data,
    size_t size)
{
	static char whole[65536], split[65536];
	unsigned seed;
	int rc;

	if (size < 1)
		return 0;
	seed = data[0];
	data++;
	size--;
	d->init_cb(parser);
	rc = d->feed_cb(parser, data, size);
	fuzz_doc_render(d, parser, rc, whole, sizeof(whole));
	d->init_cb(parser);
	rc = MS_OK;
	for (size_t off = 0, n; off < size && rc == MS_OK; off += n) {
		n = 1 + (seed + off) % 13;
		if (n > size - off)
			n = size - off;
		rc = d->feed_cb(parser, data + off, n);
	}
	fuzz_doc_render(d, parser, rc, split, sizeof(split));
	if (strcmp(whole, split) != 0)
		abort();
	return 0;
}

#endif
