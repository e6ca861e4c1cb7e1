/*
 * fuzz_autoconfig.c - libFuzzer target for the autoconfig parser (and the
 * XML tokenizer under it); the input and the checks are fuzz_setup_doc.h's.
 */
#include "fuzz_setup_doc.h"

static void
fuzz_ac_init_cb(void *p)
{
	autoconfig_init(p);
}

static int
fuzz_ac_feed_cb(void *p, const uint8_t *data, size_t n)
{
	return autoconfig_feed(p, data, n);
}

static size_t
fuzz_ac_render_cb(void *p, int rc, char *out, size_t size)
{
	if (rc == MS_OK)
		rc = autoconfig_finish(p);
	return (size_t)snprintf(out, size, "%d %s|", rc,
	    rc == MS_OK ? "" : autoconfig_error(p));
}

static size_t
fuzz_ac_count_cb(const void *p)
{
	return autoconfig_count(p);
}

static const struct autoconfig_server *
fuzz_ac_server_cb(const void *p, size_t i)
{
	return autoconfig_server(p, i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fuzz_doc doc = {
		fuzz_ac_init_cb, fuzz_ac_feed_cb, fuzz_ac_render_cb,
		fuzz_ac_count_cb, fuzz_ac_server_cb,
	};
	struct autoconfig_parser p;

	return fuzz_doc_run(&doc, &p, data, size);
}
