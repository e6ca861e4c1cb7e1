/*
 * test_ctl_codec.c - the control protocol codec (proto/ctl): every
 * stream fed whole, byte by byte and split at every index (and every
 * pair for short ones) yields the same events, errors included; the
 * encoders' lines decode to what was encoded; bounds hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_proto.h"
/* The transcript readers of split_feed.h are for the server cores. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "split_feed.h"

struct tx {
	struct ctl_decoder d;
	struct ctl_decoder_params p;
	bool in_payload;
};

static void
tx_reset_cb(void *arg)
{
	struct tx *t = arg;

	ctl_decoder_deinit(&t->d);
	assert_int_equal(ctl_decoder_init(&t->d, &t->p), MS_OK);
	t->in_payload = false;
}

static int
tx_feed_cb(void *arg, const uint8_t *p, size_t len, size_t *used)
{
	struct tx *t = arg;

	return ctl_decoder_feed(&t->d, p, len, used);
}

/* One line per frame (its members sorted), payload bytes merged since
 * their chunking follows the feed. */
static void
tx_drain_cb(void *arg, struct ms_buf *out)
{
	struct tx *t = arg;
	struct ctl_event ev;

	while (ctl_decoder_next_event(&t->d, &ev) == MS_OK) {
		if (ev.type == CTL_EV_PAYLOAD) {
			assert_true(ev.chunk.len > 0);
			if (!t->in_payload)
				assert_int_equal(ms_buf_append(out, "P:", 2),
						 MS_OK);
			t->in_payload = true;
			assert_int_equal(ms_buf_append(out, ev.chunk.p,
						       ev.chunk.len), MS_OK);
			continue;
		}
		if (ev.type == CTL_EV_PAYLOAD_END) {
			assert_int_equal(ms_buf_append_cstr(out, "|END\n"),
					 MS_OK);
			t->in_payload = false;
			continue;
		}
		{
			const struct ctl_msg *m = &ev.msg;
			char *js = json_dumps(m->root, JSON_COMPACT |
					      JSON_SORT_KEYS);

			assert_non_null(js);
			assert_int_equal(ms_buf_printf(out, "MSG %d id=%llu "
				"cmd=%s ok=%d code=%s event=%s proto=%d pay=%d/%llu "
				"%s\n", (int)m->type, (unsigned long long)m->id,
				m->cmd ? m->cmd : "-", m->is_ok,
				m->code ? m->code : "-",
				m->event ? m->event : "-", m->proto,
				m->has_payload,
				(unsigned long long)m->payload_len, js), MS_OK);
			free(js);
		}
	}
}

/* Feeds stream all three ways; the whole feed's events must be want. */
static void
run(const char *stream, size_t len, size_t max_line, const char *want)
{
	struct tx t = { .p = { .max_line = max_line, .max_payload = 64 } };
	struct split_core sc = { tx_reset_cb, tx_feed_cb, tx_drain_cb, &t };
	struct ms_buf whole;

	assert_int_equal(ctl_decoder_init(&t.d, &t.p), MS_OK);
	ms_buf_init(&whole, 1u << 20);
	split_feed_all(&sc, (const uint8_t *)stream, len, &whole);
	if (strcmp((const char *)whole.p, want) != 0)
		fail_msg("events:\n%s\nwanted:\n%s", (const char *)whole.p,
			 want);
	ms_buf_deinit(&whole);
	ctl_decoder_deinit(&t.d);
}

#define RUN(s, max, want) run(s, sizeof(s) - 1, max, want)

static void
test_frames(void **state)
{
	(void)state;
	RUN("{\"hello\":{\"proto\":1,\"version\":\"0.1\"}}\n"
	    "\n"
	    "{\"id\":3,\"cmd\":\"status\"}\r\n"
	    "{\"id\":4,\"cmd\":\"list\",\"args\":{\"a\":\"b\"}}\n"
	    "{\"id\":3,\"ok\":true,\"data\":{\"x\":[1,2]}}\n"
	    "{\"id\":5,\"ok\":false,\"error\":{\"code\":\"no-account\","
	    "\"message\":\"no\"}}\n"
	    "{\"event\":\"state\",\"account\":\"w\"}\n", 200,
	    "MSG 1 id=0 cmd=- ok=0 code=- event=- proto=1 pay=0/0 "
	    "{\"hello\":{\"proto\":1,\"version\":\"0.1\"}}\n"
	    "MSG 2 id=3 cmd=status ok=0 code=- event=- proto=0 pay=0/0 "
	    "{\"args\":{},\"cmd\":\"status\",\"id\":3}\n"
	    "MSG 2 id=4 cmd=list ok=0 code=- event=- proto=0 pay=0/0 "
	    "{\"args\":{\"a\":\"b\"},\"cmd\":\"list\",\"id\":4}\n"
	    "MSG 3 id=3 cmd=- ok=1 code=- event=- proto=0 pay=0/0 "
	    "{\"data\":{\"x\":[1,2]},\"id\":3,\"ok\":true}\n"
	    "MSG 3 id=5 cmd=- ok=0 code=no-account event=- proto=0 pay=0/0 "
	    "{\"error\":{\"code\":\"no-account\",\"message\":\"no\"},"
	    "\"id\":5,\"ok\":false}\n"
	    "MSG 4 id=0 cmd=- ok=0 code=- event=state proto=0 pay=0/0 "
	    "{\"account\":\"w\",\"event\":\"state\"}\n");
}

/* Raw bytes after a reply, newlines and braces included, then frames
 * again; a payload of 0 bytes still ends. */
static void
test_payload(void **state)
{
	(void)state;
	RUN("{\"id\":1,\"ok\":true,\"payload\":9}\n"
	    "a\n{b}\r\n\n\x01"
	    "{\"id\":2,\"ok\":true,\"payload\":0}\n"
	    "{\"event\":\"e\"}\n", 200,
	    "MSG 3 id=1 cmd=- ok=1 code=- event=- proto=0 pay=1/9 "
	    "{\"id\":1,\"ok\":true,\"payload\":9}\n"
	    "P:a\n{b}\r\n\n\x01|END\n"
	    "MSG 3 id=2 cmd=- ok=1 code=- event=- proto=0 pay=1/0 "
	    "{\"id\":2,\"ok\":true,\"payload\":0}\n"
	    "|END\n"
	    "MSG 4 id=0 cmd=- ok=0 code=- event=e proto=0 pay=0/0 "
	    "{\"event\":\"e\"}\n");
	/* Above max_payload (64): refused before any byte of it. */
	RUN("{\"id\":1,\"ok\":true,\"payload\":65}\nxxxx", 200,
	    "ERROR ETOOBIG\n");
}

/* A line of max_line bytes with its LF passes; one more byte does not,
 * whether or not its LF ever comes. */
static void
test_line_limit(void **state)
{
	(void)state;
	RUN("{\"event\":\"abcdefgh\"}\n", 21,
	    "MSG 4 id=0 cmd=- ok=0 code=- event=abcdefgh proto=0 pay=0/0 "
	    "{\"event\":\"abcdefgh\"}\n");
	RUN("{\"event\":\"e\"}\n{\"event\":\"abcdefghi\"}\n", 21,
	    "MSG 4 id=0 cmd=- ok=0 code=- event=e proto=0 pay=0/0 "
	    "{\"event\":\"e\"}\n"
	    "ERROR ETOOBIG\n");
	RUN("{\"event\":\"abcdefghijklmnopqrstuvwxyz", 21, "ERROR ETOOBIG\n");
}

/* Garbage of every kind ends the stream with an error, after the good
 * frames before it, and nothing after. */
static void
test_garbage(void **state)
{
	static const char *const bad[] = {
		"hello\n",
		"[1,2]\n",
		"{\"id\":1}\n",
		"{\"cmd\":\"x\"}\n",
		"{\"id\":-1,\"cmd\":\"x\"}\n",
		"{\"id\":1,\"cmd\":\"x\",\"args\":[]}\n",
		"{\"id\":1,\"cmd\":7}\n",
		"{\"id\":1,\"ok\":\"yes\"}\n",
		"{\"id\":1,\"ok\":false}\n",
		"{\"id\":1,\"ok\":false,\"error\":{\"code\":1}}\n",
		"{\"hello\":{}}\n",
		"{\"id\":1,\"ok\":true,\"payload\":-3}\n",
		"{\"a\":1,\"a\":2}\n",
		"{\"event\":\"e\"} {}\n",
		"{\"event\":\"\xff\"}\n",
		"{\"event\":\"e\"\n",
	};
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = snprintf(buf, sizeof(buf), "{\"event\":\"ok\"}\n%s"
				 "{\"event\":\"after\"}\n", bad[i]);

		run(buf, (size_t)n, 200,
		    "MSG 4 id=0 cmd=- ok=0 code=- event=ok proto=0 pay=0/0 "
		    "{\"event\":\"ok\"}\n"
		    "ERROR EPROTO\n");
	}
}

/* After an error, every feed fails the same way and takes nothing. */
static void
test_dead(void **state)
{
	struct ctl_decoder_params p = { 0 };
	struct ctl_decoder d;
	size_t used = 99;

	(void)state;
	assert_int_equal(ctl_decoder_init(&d, &p), MS_OK);
	assert_int_equal(ctl_decoder_feed(&d, (const uint8_t *)"x\n", 2,
					  &used), MS_EPROTO);
	assert_true(strstr(d.err.msg, "invalid JSON") != NULL);
	assert_int_equal(ctl_decoder_feed(&d, (const uint8_t *)"{}\n", 3,
					  &used), MS_EPROTO);
	assert_int_equal(used, 0);
	ctl_decoder_deinit(&d);
}

/* What the encoders write decodes to what was meant. */
static void
test_encode_roundtrip(void **state)
{
	struct ctl_decoder_params p = { .max_payload = 10 };
	struct ctl_decoder d;
	struct ctl_event ev;
	struct ms_buf b;
	json_t *args = json_pack("{s:s}", "account", "work");
	json_t *data = json_pack("{s:[i]}", "v", 1);
	size_t off = 0, used;
	int n_msgs = 0;

	(void)state;
	ms_buf_init(&b, 1u << 16);
	assert_int_equal(ctl_encode_hello(&b, "9.9"), MS_OK);
	assert_int_equal(ctl_encode_request(&b, 7, "sync", args), MS_OK);
	assert_int_equal(ctl_encode_request(&b, 8, "status", NULL), MS_OK);
	assert_int_equal(ctl_encode_reply(&b, 7, data, true, 3), MS_OK);
	assert_int_equal(ms_buf_append(&b, "a\nb", 3), MS_OK);
	assert_int_equal(ctl_encode_error(&b, 8, CTL_ERR_NO_ACCOUNT,
					  "bad \xff byte\n"), MS_OK);
	assert_int_equal(ctl_encode_event(&b, "progress", args), MS_OK);
	assert_int_equal(ctl_decoder_init(&d, &p), MS_OK);
	while (off < b.len) {
		int rc = ctl_decoder_feed(&d, b.p + off, b.len - off, &used);

		assert_true(rc >= 0);
		off += used;
		while (ctl_decoder_next_event(&d, &ev) == MS_OK) {
			const struct ctl_msg *m = &ev.msg;

			if (ev.type != CTL_EV_MSG)
				continue;
			switch (n_msgs++) {
			case 0:
				assert_int_equal(m->type, CTL_MSG_HELLO);
				assert_int_equal(m->proto, CTL_PROTO_VERSION);
				assert_string_equal(m->version, "9.9");
				break;
			case 1:
				assert_int_equal(m->type, CTL_MSG_REQUEST);
				assert_int_equal(m->id, 7);
				assert_string_equal(m->cmd, "sync");
				assert_string_equal(json_string_value(
					json_object_get(m->args, "account")),
					"work");
				break;
			case 2:
				assert_true(json_is_object(m->args));
				break;
			case 3:
				assert_true(m->is_ok && m->has_payload);
				assert_int_equal(m->payload_len, 3);
				assert_true(json_equal(m->data, data));
				break;
			case 4:
				assert_false(m->is_ok);
				assert_string_equal(m->code, "no-account");
				/* Invalid UTF-8 became U+FFFD. */
				assert_string_equal(m->message,
						    "bad \xef\xbf\xbd byte\n");
				break;
			case 5:
				assert_string_equal(m->event, "progress");
				break;
			}
		}
	}
	assert_int_equal(n_msgs, 6);
	ctl_decoder_deinit(&d);
	ms_buf_deinit(&b);
	json_decref(args);
	json_decref(data);
}

/* An encoder never writes part of a line. */
static void
test_encode_bounds(void **state)
{
	struct ms_buf b;
	json_t *data = json_pack("{s:s}", "k", "0123456789012345678901234567");

	(void)state;
	ms_buf_init(&b, 40);
	assert_int_equal(ctl_encode_reply(&b, 1, data, false, 0), MS_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_int_equal(ctl_encode_event(&b, "e", NULL), MS_OK);
	assert_int_equal(b.len, strlen("{\"event\":\"e\"}\n"));
	ms_buf_deinit(&b);
	json_decref(data);
}

/* Strings: valid UTF-8 kept, every bad byte one U+FFFD. */
static void
test_json_string(void **state)
{
	json_t *j;

	(void)state;
	j = ctl_json_stringn("\xc3\xa9t\xc3", 4);
	assert_string_equal(json_string_value(j), "\xc3\xa9t\xef\xbf\xbd");
	json_decref(j);
	j = ctl_json_stringn("a\0b\xed\xa0\x80", 6);	/* NUL, surrogate */
	assert_string_equal(json_string_value(j), "a\xef\xbf\xbd"
			    "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(j);
	j = ctl_json_string(NULL);
	assert_string_equal(json_string_value(j), "");
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_payload),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_dead),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_encode_bounds),
		cmocka_unit_test(test_json_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
