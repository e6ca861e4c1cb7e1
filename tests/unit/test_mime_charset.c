/*
 * test_mime_charset.c - the process's charset conversions: one iconv_open()
 * per charset however many messages use it, aliases sharing a conversion,
 * unknown and over-long labels refused (the word stays literal), two users
 * of one charset at once, and threads decoding together.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "mime/mime_charset.h"

static bool
get(const char *label, iconv_t *cd_r)
{
	return mime_charset_get((const uint8_t *)label, strlen(label), cd_r);
}

static void
put(const char *label, iconv_t cd)
{
	mime_charset_put((const uint8_t *)label, strlen(label), cd);
}

static char *
decode(const char *in)
{
	struct ms_buf out;

	ms_buf_init(&out, 1 << 16);
	assert_int_equal(mime_words_decode(ms_slice_from_cstr(in), &out),
			 MS_OK);
	if (out.p == NULL)
		assert_int_equal(ms_buf_append(&out, "", 0), MS_OK);
	return (char *)ms_buf_take(&out, NULL);
}

static int
setup(void **state)
{
	(void)state;
	mime_charset_clear();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mime_charset_clear();
	return 0;
}

/* Given back, the same conversion comes again, under any case or alias. */
static void
test_same_conversion(void **state)
{
	uint64_t opens = mime_charset_opens();
	iconv_t a, b;

	(void)state;
	assert_true(get("KOI8-R", &a));
	put("KOI8-R", a);
	assert_true(get("koi8-r", &b));
	assert_ptr_equal(a, b);
	put("koi8-r", b);
	/* latin1 and iso-8859-1 both mean windows-1252. */
	assert_true(get("latin1", &a));
	put("latin1", a);
	assert_true(get("ISO-8859-1", &b));
	assert_ptr_equal(a, b);
	put("ISO-8859-1", b);
	assert_int_equal(mime_charset_opens() - opens, 2);
}

static void
test_unknown(void **state)
{
	char *got;
	iconv_t cd;
	char long_label[80];

	(void)state;
	assert_false(get("x-no-such-charset", &cd));
	assert_true(cd == (iconv_t)-1);
	memset(long_label, 'a', sizeof(long_label) - 1);
	long_label[sizeof(long_label) - 1] = '\0';
	assert_false(get(long_label, &cd));
	assert_false(get("", &cd));
	/* Still refused the second time (not cached as known). */
	assert_false(get("x-no-such-charset", &cd));
	got = decode("=?x-no-such-charset?q?a?= =?koi8-r?q?=F0=D2=C9?=");
	assert_string_equal(got, "=?x-no-such-charset?q?a?= При");
	free(got);
	/* A conversion given back under a label too long is closed. */
	assert_true(get("koi8-r", &cd));
	put(long_label, cd);
}

/* Two users of one charset at once get two conversions; both are kept. */
static void
test_two_at_once(void **state)
{
	uint64_t opens = mime_charset_opens();
	iconv_t a, b, c, d;

	(void)state;
	assert_true(get("iso-8859-2", &a));
	assert_true(get("iso-8859-2", &b));
	assert_true(a != b);
	put("iso-8859-2", a);
	put("iso-8859-2", b);
	assert_true(get("iso-8859-2", &c));
	assert_true(get("iso-8859-2", &d));
	assert_true((c == a && d == b) || (c == b && d == a));
	put("iso-8859-2", c);
	put("iso-8859-2", d);
	assert_int_equal(mime_charset_opens() - opens, 2);
}

/* A stateful conversion left mid-shift is reset when given back. */
static void
test_state_reset(void **state)
{
	char *got;

	(void)state;
	/* ESC $ B without the return to ASCII: the next word starts
	 * fresh all the same. */
	got = decode("=?ISO-2022-JP?B?GyRCJEYkOSRI?=");
	free(got);
	got = decode("=?ISO-2022-JP?B?YWJj?=");
	assert_string_equal(got, "abc");
	free(got);
}

static const char *const headers[] = {
	"Subject: =?koi8-r?q?=F0=D2=C9=D7=C5=D4?=\r\n",
	"Subject: =?windows-1251?B?z/Do4uXy?=\r\n",
	"Subject: =?iso-8859-2?q?=BFo=B3w?=\r\n",
	"Subject: =?ISO-2022-JP?B?GyRCJEYkOSRIGyhC?=\r\n",
	"Subject: =?gb2312?B?xOO6ww==?=\r\n",
	"Subject: =?iso-8859-1?q?J=F8rn?=\r\n",
};
static const char *const subjects[] = {
	"Привет", "Привет", "żołw", "てすと", "你好", "Jørn",
};
#define N_CHARSETS 6

/* Summarises a message with header i; true when the subject is right.
 * (No cmocka assertion here: threads call it.) */
static bool
summarised(unsigned i)
{
	char msg[256];
	struct mime_summary s;
	size_t used;
	bool ok;
	int n;

	n = snprintf(msg, sizeof(msg), "From: a@b\r\n%sTo: c@d\r\n\r\nbody\r\n",
		     headers[i % N_CHARSETS]);
	mime_summary_init(&s, NULL);
	ok = mime_summary_feed(&s, (const uint8_t *)msg, (size_t)n,
			       &used) == MS_OK &&
	     mime_summary_finish(&s) == MS_OK && s.subject.p != NULL &&
	     strcmp((char *)s.subject.p, subjects[i % N_CHARSETS]) == 0;
	mime_summary_deinit(&s);
	return ok;
}

static void
summarise_one(unsigned i)
{
	assert_true(summarised(i));
}

/* 3000 messages in 6 charsets: 6 iconv_open() calls, not 3000. */
static void
test_many_messages_opens(void **state)
{
	uint64_t opens = mime_charset_opens();

	(void)state;
	for (unsigned i = 0; i < 3000; i++)
		summarise_one(i);
	assert_int_equal(mime_charset_opens() - opens, N_CHARSETS);
	/* And once kept, none at all. */
	opens = mime_charset_opens();
	for (unsigned i = 0; i < 600; i++)
		summarise_one(i);
	assert_int_equal(mime_charset_opens() - opens, 0);
}

/* After warming, the common charsets open nothing on first use. */
static void
test_warm(void **state)
{
	uint64_t opens;

	(void)state;
	mime_charset_warm();
	opens = mime_charset_opens();
	summarise_one(0);	/* koi8-r */
	summarise_one(1);	/* windows-1251 */
	summarise_one(3);	/* ISO-2022-JP */
	summarise_one(4);	/* gb2312: gb18030 */
	summarise_one(5);	/* iso-8859-1: windows-1252 */
	assert_int_equal(mime_charset_opens() - opens, 0);
}

struct decoder {
	unsigned first;		/* the header it starts with */
	unsigned n_bad;		/* wrong subjects */
};

static void *
decode_thread(void *arg)
{
	struct decoder *d = arg;

	for (unsigned i = 0; i < 2000; i++)
		if (!summarised(i + d->first))
			d->n_bad++;
	return NULL;
}

/* Threads decoding together: correct results, conversions bounded by
 * how many threads used a charset at once. */
static void
test_threads(void **state)
{
	uint64_t opens = mime_charset_opens();
	pthread_t t[4];
	struct decoder d[4];

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		d[i] = (struct decoder){ .first = i };
		assert_int_equal(pthread_create(&t[i], NULL, decode_thread,
						&d[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(d[i].n_bad, 0);
	}
	assert_true(mime_charset_opens() - opens <=
		    N_CHARSETS * MIME_CHARSET_IDLE_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_conversion, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_at_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_reset, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_messages_opens,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_warm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
