/*
 * test_mime.c - header unfolding, RFC 2047 decoding (the RFC's section 8
 * examples from the corpus, Q/B, charsets, invalid words), dates, and the
 * incremental summary extractor (every split point, bounds, the corpus).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

static char *
decode(const char *in)
{
	struct ms_buf out;
	int rc;

	ms_buf_init(&out, 1 << 20);
	rc = mime_words_decode(ms_slice_from_cstr(in), &out);
	assert_int_equal(rc, MS_OK);
	if (out.p == NULL)
		assert_int_equal(ms_buf_append(&out, "", 0), MS_OK);
	return (char *)ms_buf_take(&out, NULL);
}

#define ASSERT_DECODES(in, want)                                        \
	do {                                                            \
		char *got_ = decode(in);                                \
		assert_string_equal(got_, want);                        \
		free(got_);                                             \
	} while (0)

static void
test_rfc2047_basic(void **state)
{
	(void)state;
	ASSERT_DECODES("=?UTF-8?Q?caf=C3=A9?=", "café");
	ASSERT_DECODES("=?utf-8?q?a_b?=", "a b");
	ASSERT_DECODES("=?UTF-8?B?Y2Fmw6k=?=", "café");
	ASSERT_DECODES("=?UTF-8?B?Y2Fmw6k?=", "café");	/* no padding */
	ASSERT_DECODES("=?iso-8859-1?q?J=F8rn?=", "Jørn");
	ASSERT_DECODES("=?ISO-2022-JP?B?GyRCJEYkOSRIGyhC?=", "てすと");
	ASSERT_DECODES("=?gb2312?B?xOO6ww==?=", "你好");
	ASSERT_DECODES("=?UTF-8*en?Q?hi?=", "hi");	/* RFC 2231 lang */
	/* A multibyte character split over two words of one charset. */
	ASSERT_DECODES("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", "é");
	ASSERT_DECODES("=?GB2312?B?xA==?= =?GB2312?B?47rD?=", "你好");
	ASSERT_DECODES("plain text", "plain text");
	ASSERT_DECODES("  padded\t", "padded");
	ASSERT_DECODES("a =?utf-8?q?b?= c", "a b c");
	ASSERT_DECODES("\"=?utf-8?q?Quoted?=\" <q@x>", "\"Quoted\" <q@x>");
}

static void
test_rfc2047_invalid(void **state)
{
	(void)state;
	ASSERT_DECODES("=?bogus-charset-x?Q?abc?=",
		       "=?bogus-charset-x?Q?abc?=");
	ASSERT_DECODES("=?utf-8?X?abc?=", "=?utf-8?X?abc?=");
	ASSERT_DECODES("=?utf-8?Q?a=ZZ?=", "=?utf-8?Q?a=ZZ?=");
	ASSERT_DECODES("=?utf-8?B?@@@@?=", "=?utf-8?B?@@@@?=");
	ASSERT_DECODES("=?utf-8?B?QUJDR?=", "=?utf-8?B?QUJDR?=");
	ASSERT_DECODES("=?utf-8?Q?abc", "=?utf-8?Q?abc");
	ASSERT_DECODES("=?utf-8?Q?a b?=", "=?utf-8?Q?a b?=");
	ASSERT_DECODES("=??Q?abc?=", "=??Q?abc?=");
	/* Whitespace next to an invalid word is not dropped. */
	ASSERT_DECODES("=?utf-8?q?a?= =?nope?q?b?= =?utf-8?q?c?=",
		       "a =?nope?q?b?= c");
	/* Bad UTF-8 inside a word and raw 8-bit text become U+FFFD. */
	ASSERT_DECODES("=?utf-8?q?x=FFy?=", "x\xef\xbf\xbdy");
	ASSERT_DECODES("caf\xe9", "caf\xef\xbf\xbd");
	/* Undecodable bytes in a real charset. */
	ASSERT_DECODES("=?ISO-2022-JP?B?GyRC/w==?=", "\xef\xbf\xbd");
}

static void
test_unfold(void **state)
{
	struct ms_buf out;

	(void)state;
	ms_buf_init(&out, 1024);
	assert_int_equal(mime_header_unfold(
		MS_SLICE_LIT("a\r\n b\n\tc\r\nd\n"), &out), MS_OK);
	assert_string_equal((char *)out.p, "a b\tc\r\nd\n");
	ms_buf_reset(&out);
	out.max = 3;
	assert_int_equal(mime_header_unfold(MS_SLICE_LIT("abcdef"), &out),
			 MS_ETOOBIG);
	assert_int_equal(out.len, 0);
	ms_buf_deinit(&out);
}

static void
test_dates(void **state)
{
	static const struct {
		const char *in;
		int64_t want;
	} cases[] = {
		{ "Tue, 1 Jul 2003 10:52:37 +0200", 1057049557 },
		{ "1 Jul 2003 10:52 GMT", 1057056720 },
		{ "Tue, 1 Jul 03 10:52:37 EDT", 1057071157 },
		{ "Thu, 13 Feb 1969 23:32:54 -0330", -27723426 },
		{ "Mon Jan 12 10:00:00 2004", 1073901600 },
		{ "21 Nov 97 09:55:06 GMT", 880106106 },
		{ "Fri, 21 Nov 1997 09(comment):   55  :  06 -0600",
		  880106106 - 55 * 60 - 6 + 21600 + 0 },
		{ "Tuesday, 01-Jul-2003 10:52:37 +0200 (CEST)", 1057049557 },
		{ "2003-07-01 08:52:37", 1057049557 },
		{ "Tue, 1 July 2003 8:52:37 AM GMT", 1057049557 },
		{ "1 Jul 103 10:52:37 +0200", 1057049557 },
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* The obsolete-spacing case is only checked for parsing. */
		struct ms_slice in = ms_slice_from_cstr(cases[i].in);

		assert_int_equal(mime_date_parse(in, &t), MS_OK);
		if (i != 6)
			assert_int_equal(t, cases[i].want);
	}
	assert_int_equal(mime_date_parse(MS_SLICE_LIT("no date here"), &t),
			 MS_EPROTO);
	assert_int_equal(mime_date_parse(MS_SLICE_LIT(""), &t), MS_EPROTO);
	assert_int_equal(mime_date_parse(MS_SLICE_LIT("32 Jan 2004"), &t),
			 MS_EPROTO);
}

/* --- summaries ------------------------------------------------------------ */

struct sum_result {
	char *from, *to, *subject, *msgid;
	int64_t date;
	bool has_date, is_truncated;
	size_t consumed;
};

static void
sum_result_free(struct sum_result *r)
{
	free(r->from);
	free(r->to);
	free(r->subject);
	free(r->msgid);
}

/* Feeds p in pieces cut at the given points (sorted, < len). */
static void
summarise(const uint8_t *p, size_t len, const size_t *cuts, size_t n_cuts,
	  const struct mime_summary_params *params, struct sum_result *r)
{
	struct mime_summary s;
	size_t pos = 0, total = 0;
	int rc = MS_AGAIN;

	mime_summary_init(&s, params);
	for (size_t c = 0; c <= n_cuts && rc == MS_AGAIN; c++) {
		size_t end = c < n_cuts ? cuts[c] : len, used;

		rc = mime_summary_feed(&s, p + pos, end - pos, &used);
		assert_true(rc == MS_OK || rc == MS_AGAIN);
		assert_true(used <= end - pos);
		total += used;
		pos = end;
	}
	assert_int_equal(mime_summary_finish(&s), MS_OK);
	r->from = strdup((char *)s.from.p);
	r->to = strdup((char *)s.to.p);
	r->subject = strdup((char *)s.subject.p);
	r->msgid = strdup((char *)s.message_id.p);
	r->date = s.date;
	r->has_date = s.has_date;
	r->is_truncated = s.is_truncated;
	r->consumed = total;
	mime_summary_deinit(&s);
}

static void
sum_result_eq(const struct sum_result *a, const struct sum_result *b)
{
	assert_string_equal(a->from, b->from);
	assert_string_equal(a->to, b->to);
	assert_string_equal(a->subject, b->subject);
	assert_string_equal(a->msgid, b->msgid);
	assert_int_equal(a->has_date, b->has_date);
	if (a->has_date)
		assert_int_equal(a->date, b->date);
	assert_int_equal(a->is_truncated, b->is_truncated);
	assert_int_equal(a->consumed, b->consumed);
}

/* Whole, every single split point, and one byte at a time. */
static void
check_splits(const uint8_t *p, size_t len, struct sum_result *whole)
{
	size_t *cuts = malloc(len * sizeof(*cuts));

	summarise(p, len, NULL, 0, NULL, whole);
	for (size_t i = 1; i < len; i++) {
		struct sum_result r;

		summarise(p, len, &i, 1, NULL, &r);
		sum_result_eq(whole, &r);
		sum_result_free(&r);
	}
	for (size_t i = 1; i < len; i++)
		cuts[i - 1] = i;
	{
		struct sum_result r;

		summarise(p, len, cuts, len > 0 ? len - 1 : 0, NULL, &r);
		sum_result_eq(whole, &r);
		sum_result_free(&r);
	}
	free(cuts);
}

static uint8_t *
read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len_r = (size_t)n;
	return p;
}

static const char *
corpus_dir(void)
{
	const char *d = getenv("MS_CORPUS");

	return d != NULL ? d : "../shared/corpus";
}

static void
test_rfc2047_section8(void **state)
{
	static const struct {
		const char *subject, *from;
	} want[] = {
		{ "If you can read this you understand the example.",
		  "Keith Moore <moore@cs.utk.edu>" },
		{ "Time for ISO 10646?",
		  "Olle Järnefors <ojarnef@admin.kth.se>" },
		{ "Re: RFC-HDR care and feeding",
		  "Patrik Fältström <paf@nada.kth.se>" },
		{ "Test of new header generator",
		  "Nathaniel Borenstein <nsb@thumper.bellcore.com>      "
		  "(םולש ןב ילטפנ)" },
		{ "(a)", "" },
		{ "(a b)", "" },
		{ "(ab)", "" },
		{ "(ab)", "" },
		{ "(ab)", "" },
		{ "(a b)", "" },
		{ "(a b)", "" },
	};
	char path[4096];
	uint8_t *mbox;
	size_t len, n = 0, pos = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/mbox/git-rfc2047-samples.mbox",
		 corpus_dir());
	mbox = read_file(path, &len);
	assert_non_null(mbox);
	while (pos < len) {
		/* Messages start at "From nobody"; the extractor skips that
		 * separator line itself. */
		const uint8_t *next = NULL;
		struct sum_result r;

		for (size_t i = pos + 1; i + 12 <= len; i++) {
			if (mbox[i - 1] == '\n' &&
			    memcmp(mbox + i, "From nobody ", 12) == 0) {
				next = mbox + i;
				break;
			}
		}
		size_t end = next ? (size_t)(next - mbox) : len;

		assert_true(n < sizeof(want) / sizeof(want[0]));
		check_splits(mbox + pos, end - pos, &r);
		assert_string_equal(r.subject, want[n].subject);
		assert_string_equal(r.from, want[n].from);
		sum_result_free(&r);
		n++;
		pos = end;
	}
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	free(mbox);
	ASSERT_DECODES("=?ISO8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
		       "André Pirard <PIRARD@vm1.ulg.ac.be>");
}

static void
test_summary_fields(void **state)
{
	static const char msg[] =
		"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\r\n"
		"Received: from x\r\n\tby y\r\n"
		"Subject : =?utf-8?q?Hello?=\r\n =?utf-8?q?_World?=\r\n"
		"FROM: =?iso-8859-1?q?Bj=F6rn?= <b@example.org>\r\n"
		"To: a@example.org,\r\n b@example.org\r\n"
		"Message-ID:\r\n <abc.123@example.org> (comment)\r\n"
		"Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
		"Subject: second subject is ignored\r\n"
		"\r\n"
		"Subject: body, not header\r\n";
	struct sum_result r;

	(void)state;
	check_splits((const uint8_t *)msg, sizeof(msg) - 1, &r);
	assert_string_equal(r.subject, "Hello World");
	assert_string_equal(r.from, "Björn <b@example.org>");
	assert_string_equal(r.to, "a@example.org, b@example.org");
	assert_string_equal(r.msgid, "abc.123@example.org");
	assert_true(r.has_date);
	assert_int_equal(r.date, 1057049557);
	assert_false(r.is_truncated);
	assert_int_equal(r.consumed, strstr(msg, "\r\n\r\n") + 4 - msg);
	sum_result_free(&r);

	/* A header without a body or a blank line, LF only. */
	static const char bare[] = "Subject: x\nFrom: y";
	check_splits((const uint8_t *)bare, sizeof(bare) - 1, &r);
	assert_string_equal(r.subject, "x");
	assert_string_equal(r.from, "y");
	assert_string_equal(r.msgid, "");
	assert_false(r.has_date);
	sum_result_free(&r);
}

static void
test_summary_bounds(void **state)
{
	size_t big = 200 * 1024, len;
	uint8_t *p = malloc(big + 4096);
	struct mime_summary_params params = { 64 * 1024, 1024 };
	struct sum_result r;

	(void)state;
	/* A 200 KB field before the interesting ones. */
	len = (size_t)snprintf((char *)p, 64, "X-Long: ");
	memset(p + len, 'x', big);
	len += big;
	len += (size_t)snprintf((char *)p + len, 4096,
				"\r\nSubject: after\r\n\r\nbody");
	summarise(p, len, NULL, 0, NULL, &r);
	assert_string_equal(r.subject, "after");
	assert_false(r.is_truncated);
	sum_result_free(&r);
	/* Under a 64 KB header limit: stops, truncated, bounded. */
	summarise(p, len, NULL, 0, &params, &r);
	assert_string_equal(r.subject, "");
	assert_true(r.is_truncated);
	assert_int_equal(r.consumed, params.max_header);
	sum_result_free(&r);
	/* A 200 KB subject is cut at max_field. */
	len = (size_t)snprintf((char *)p, 64, "Subject: ");
	memset(p + len, 's', big);
	len += big;
	len += (size_t)snprintf((char *)p + len, 64, "\r\n\r\n");
	summarise(p, len, NULL, 0, &params, &r);
	assert_int_equal(strlen(r.subject), params.max_field - 1);
	assert_true(r.is_truncated);
	sum_result_free(&r);
	free(p);
}

/* Runs the extractor over every corpus message; checks some exactly. */
static void
test_summary_corpus(void **state)
{
	static const struct {
		const char *file, *subject, *from, *msgid;
		int64_t date;
	} known[] = {
		{ "mail-parser/0542.eml", "代开各地增值税发票",
		  "张先生 <baoguan@hotmail.com>", "", 1526185942 },
		{ "notmuch/0049.eml", "Essai accentué",
		  "Olivier Berger <olivier.berger@it-sudparis.eu>",
		  "877h1wv7mg.fsf@inf-8657.int-evry.fr", 1292514599 },
		{ "notmuch/0232.eml",
		  "Re: [PATCH 43/44] sound/core/pcm_lib.c: Remove unnecessary "
		  "semicolons", "Takashi Iwai <tiwai@suse.de>",
		  "s5h4ob9svqy.wl%tiwai@suse.de", 1290408261 },
		{ "ruby-mail/0495.eml",
		  "まみむめもまみむめもまみむめもまみむめもまみむめも"
		  "まみむめもまみむめもまみむめもまみむめもまみむめも",
		  "Mikel Lindsaar <mikel@test.lindsaar.net>",
		  "60A112A8-F26C-4E23-95B8-4EB9F139D6A0@test.lindsaar.net",
		  1256890262 },
	};
	char path[4096];
	size_t files = 0, matched = 0;
	DIR *top;
	struct dirent *src;

	(void)state;
	snprintf(path, sizeof(path), "%s/messages", corpus_dir());
	top = opendir(path);
	assert_non_null(top);
	while ((src = readdir(top)) != NULL) {
		DIR *d;
		struct dirent *e;

		if (src->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/messages/%s", corpus_dir(),
			 src->d_name);
		d = opendir(path);
		assert_non_null(d);
		while ((e = readdir(d)) != NULL) {
			char file[8192], rel[600];
			struct sum_result r;
			uint8_t *p;
			size_t len, cut;

			if (e->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
			p = read_file(file, &len);
			assert_non_null(p);
			summarise(p, len, NULL, 0, NULL, &r);
			/* A split in the middle gives the same result. */
			{
				struct sum_result r2;

				cut = len / 3;
				summarise(p, len, &cut, len > 1 ? 1 : 0,
					  NULL, &r2);
				sum_result_eq(&r, &r2);
				sum_result_free(&r2);
			}
			snprintf(rel, sizeof(rel), "%s/%s", src->d_name,
				 e->d_name);
			for (size_t k = 0; k < sizeof(known) / sizeof(known[0]);
			     k++) {
				if (strcmp(rel, known[k].file) != 0)
					continue;
				assert_string_equal(r.subject,
						    known[k].subject);
				assert_string_equal(r.from, known[k].from);
				assert_string_equal(r.msgid, known[k].msgid);
				assert_true(r.has_date);
				assert_int_equal(r.date, known[k].date);
				matched++;
			}
			if (strcmp(rel, "flanker/0584.eml") == 0) {
				/* The 200 KB header: the subject is kept
				 * up to the field bound. */
				assert_true(r.is_truncated);
				assert_true(strncmp(r.subject,
						    "Die heiße Zypernsonne",
						    22) == 0);
				assert_string_equal(r.from, "bob@example.com");
			}
			sum_result_free(&r);
			free(p);
			files++;
		}
		closedir(d);
	}
	closedir(top);
	assert_int_equal(files, 776);
	assert_int_equal(matched, sizeof(known) / sizeof(known[0]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2047_basic),
		cmocka_unit_test(test_rfc2047_invalid),
		cmocka_unit_test(test_unfold),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_rfc2047_section8),
		cmocka_unit_test(test_summary_fields),
		cmocka_unit_test(test_summary_bounds),
		cmocka_unit_test(test_summary_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
