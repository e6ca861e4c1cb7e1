/*
 * test_xml.c - the XML tokenizer under the autoconfig and autodiscover
 * parsers: its events (attributes before their start tag, an element's
 * own trimmed text at its end, self-closing tags, entities, CDATA,
 * comments, a byte order mark) are the same whole, byte by byte and split
 * anywhere (split_feed.h); a long text is cut and said so, not refused; a
 * reader's refusal stops the parse with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setup/xml.h"
/* Only the feeding half of split_feed.h is used: no transcripts here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "split_feed.h"

struct xml_tx {
	struct xml_parser p;
	struct ms_buf events;	/* rendered by the callback, drained */
	const char *refuse;	/* an element name the reader refuses */
};

static int
xml_tx_event_cb(void *arg, const struct xml_event *ev, const char **why_r)
{
	struct xml_tx *t = arg;

	if (t->refuse != NULL && ev->type == XML_START &&
	    strcmp(ev->name, t->refuse) == 0) {
		*why_r = "refused by the test";
		return MS_EPROTO;
	}
	switch (ev->type) {
	case XML_ATTR:
		assert_true(ms_buf_printf(&t->events, "A%zu %s %s=%s\n",
		    ev->depth, ev->name, ev->attr, ev->value) == MS_OK);
		break;
	case XML_START:
		assert_true(ms_buf_printf(&t->events, "S%zu %s\n", ev->depth,
		    ev->name) == MS_OK);
		break;
	case XML_END:
		assert_true(ms_buf_printf(&t->events, "E%zu %s [%s]%s\n",
		    ev->depth, xml_local_name(ev->name), ev->value,
		    ev->is_cut ? " cut" : "") == MS_OK);
		break;
	}
	return MS_OK;
}

static void
xml_reset_cb(void *arg)
{
	struct xml_tx *t = arg;

	xml_init(&t->p, 4096, xml_tx_event_cb, t);
	ms_buf_reset(&t->events);
}

static int
xml_feed_cb(void *arg, const uint8_t *p, size_t len, size_t *used)
{
	struct xml_tx *t = arg;
	int rc = xml_feed(&t->p, p, len);

	*used = rc == MS_OK ? len : 0;
	return rc;
}

static void
xml_drain_cb(void *arg, struct ms_buf *out)
{
	struct xml_tx *t = arg;

	assert_true(ms_buf_append(out, t->events.p, t->events.len) == MS_OK);
	ms_buf_reset(&t->events);
}

static const char doc[] =
    "\xEF\xBB\xBF<?xml version='1.0'?>\n<!DOCTYPE r>\n"
    "<r a=\"1 &amp; 2\" b='&#x41;\xC3\xA9&#xE9;'><!-- a --- comment -->\n"
    " <x:f>  one &lt;two&gt; </x:f><e/><g k=\"v\" />"
    "<c><![CDATA[<raw>]]]]><![CDATA[>]]></c>tail</r>\n";

static const char doc_expected[] =
    "A1 r a=1 & 2\n"
    "A1 r b=A\xC3\xA9\xC3\xA9\n"
    "S1 r\n"
    "S2 x:f\n"
    "E2 f [one <two>]\n"
    "S2 e\n"
    "E2 e []\n"
    "A2 g k=v\n"
    "S2 g\n"
    "E2 g []\n"
    "S2 c\n"
    "E2 c [<raw>]]>]\n"
    "E1 r [tail]\n";

static void
test_events(void **state)
{
	struct xml_tx t = { 0 };
	struct split_core sc = { xml_reset_cb, xml_feed_cb, xml_drain_cb, &t };
	struct ms_buf whole;

	(void)state;
	ms_buf_init(&t.events, 1u << 20);
	ms_buf_init(&whole, 1u << 20);
	split_feed_all(&sc, (const uint8_t *)doc, strlen(doc), &whole);
	assert_true(ms_buf_append(&whole, "", 1) == MS_OK);
	assert_string_equal((const char *)whole.p, doc_expected);
	assert_int_equal(xml_finish(&t.p), MS_OK);
	ms_buf_deinit(&whole);
	ms_buf_deinit(&t.events);
}

static void
test_cut_and_refusal(void **state)
{
	struct xml_tx t = { 0 };
	char d[700];
	int n;

	(void)state;
	ms_buf_init(&t.events, 1u << 20);
	n = snprintf(d, sizeof(d), "<r><v>");
	memset(d + n, 'x', 600);
	snprintf(d + n + 600, sizeof(d) - (size_t)n - 600, "</v></r>");
	xml_reset_cb(&t);
	assert_int_equal(xml_feed(&t.p, (const uint8_t *)d, strlen(d)), MS_OK);
	assert_int_equal(xml_finish(&t.p), MS_OK);
	assert_non_null(strstr((const char *)t.events.p, "] cut\nE1 r []"));
	/* The reader refuses an element: the parse stops, with its why. */
	t.refuse = "bad";
	xml_reset_cb(&t);
	assert_int_equal(xml_feed(&t.p, (const uint8_t *)"<r><bad/></r>", 13),
	    MS_EPROTO);
	assert_string_equal(xml_error(&t.p), "offset 8: refused by the test");
	assert_int_equal(xml_finish(&t.p), MS_EPROTO);
	/* The document's limit. */
	t.refuse = NULL;
	xml_init(&t.p, 8, xml_tx_event_cb, &t);
	assert_int_equal(xml_feed(&t.p, (const uint8_t *)"<r></r>", 7), MS_OK);
	assert_int_equal(xml_feed(&t.p, (const uint8_t *)"  ", 2),
	    MS_ETOOBIG);
	ms_buf_deinit(&t.events);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_cut_and_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
