/*
 * fuzz_autodiscover.c - libFuzzer target for the autodiscover response
 * parser (and the XML tokenizer under it); the input and the checks are
 * fuzz_setup_doc.h's, and the action, redirect and server error are part
 * of the outcome that must not depend on the split.
 */
#include "fuzz_setup_doc.h"
#include "setup/autodiscover.h"

static void
fuzz_ad_init_cb(void *p)
{
	autodiscover_init(p);
}

static int
fuzz_ad_feed_cb(void *p, const uint8_t *data, size_t n)
{
	return autodiscover_feed(p, data, n);
}

static size_t
fuzz_ad_render_cb(void *arg, int rc, char *out, size_t size)
{
	struct autodiscover_parser *p = arg;

	if (rc == MS_OK)
		rc = autodiscover_finish(p);
	if (memchr(p->redirect, '\0', sizeof(p->redirect)) == NULL ||
	    memchr(p->error, '\0', sizeof(p->error)) == NULL)
		abort();
	return (size_t)snprintf(out, size, "%d %s|%d %s %s|", rc,
	    rc == MS_OK ? "" : autodiscover_error(p),
	    (int)autodiscover_action(p), autodiscover_redirect(p),
	    autodiscover_server_error(p));
}

static size_t
fuzz_ad_count_cb(const void *p)
{
	return autodiscover_count(p);
}

static const struct autoconfig_server *
fuzz_ad_server_cb(const void *p, size_t i)
{
	return autodiscover_server(p, i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fuzz_doc doc = {
		fuzz_ad_init_cb, fuzz_ad_feed_cb, fuzz_ad_render_cb,
		fuzz_ad_count_cb, fuzz_ad_server_cb,
	};
	struct autodiscover_parser p;

	return fuzz_doc_run(&doc, &p, data, size);
}
