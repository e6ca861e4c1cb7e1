/*
 * test_imap_cmd.c - the IMAP command builder and client core: quoting,
 * literals per capability, held synchronising literals, sequence sets,
 * modified UTF-7, STARTTLS injection, IDLE, and the commands of the
 * recorded Dovecot session rebuilt byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap_cmd.h"
#include "imap/imap_utf7.h"

#define S(x) MS_SLICE_LIT(x)

/* Drains everything sendable into a NUL-terminated string (static). */
static const char *
drain(struct imap_client *c)
{
	static char buf[65536];
	const uint8_t *p;
	size_t n;

	assert_int_equal(imap_client_out_peek(c, &p, &n), MS_OK);
	assert_true(n < sizeof(buf));
	memcpy(buf, p, n);
	buf[n] = '\0';
	imap_client_out_consume(c, n);
	return buf;
}

/* Feeds text and returns the events' type names joined by spaces. */
static const char *
feed(struct imap_client *c, const char *text)
{
	static char names[1024];
	struct imap_event ev;
	size_t off = 0, len = strlen(text), n, w = 0;
	int rc;

	names[0] = '\0';
	do {
		rc = imap_client_feed(c, (const uint8_t *)text + off,
		    len - off, &n);
		off += n;
		while (imap_client_next_event(c, &ev) == MS_OK)
			w += (size_t)snprintf(names + w, sizeof(names) - w,
			    "%s ", imap_ev_type_name(ev.type));
	} while (rc == MS_OK && off < len);
	if (rc < 0)
		snprintf(names + w, sizeof(names) - w, "%s", ms_strerror(rc));
	return names;
}

static void
client_ready(struct imap_client *c, const char *caps)
{
	char greet[512];

	assert_int_equal(imap_client_init(c, NULL), MS_OK);
	snprintf(greet, sizeof(greet), "* OK [CAPABILITY IMAP4rev1%s] hi\r\n",
	    caps);
	assert_string_equal(feed(c, greet), "GREETING ");
	assert_int_equal(c->state, IMAP_CLIENT_READY);
}

static void
test_quoting(void **state)
{
	struct imap_client c;

	(void)state;
	client_ready(&c, "");
	assert_int_equal(imap_cmd_login(&c, S("joe"), S("p w\"\\")), 1);
	assert_string_equal(drain(&c), "A1 LOGIN joe \"p w\\\"\\\\\"\r\n");
	assert_int_equal(imap_cmd_login(&c, S("NIL"), S("")), 2);
	assert_string_equal(drain(&c), "A2 LOGIN \"NIL\" \"\"\r\n");
	assert_int_equal(imap_cmd_login(&c, S("a*b"), S("x]")), 3);
	assert_string_equal(drain(&c), "A3 LOGIN \"a*b\" \"x]\"\r\n");
	/* 8-bit and CR/LF need a literal; without LITERAL+ it waits. */
	assert_int_equal(imap_cmd_login(&c, S("j\xc3\xb6"), S("x")), 4);
	assert_string_equal(drain(&c), "A4 LOGIN {3}\r\n");
	assert_string_equal(feed(&c, "+ go\r\n"), "");
	assert_string_equal(drain(&c), "j\xc3\xb6 x\r\n");
	imap_client_deinit(&c);
}

static void
test_literal_caps(void **state)
{
	struct imap_client c;
	static char big[5000];

	(void)state;
	memset(big, 'x', sizeof(big));
	client_ready(&c, " LITERAL+");
	assert_true(imap_cmd_append(&c, S("INBOX"), NULL, S(""),
	    (struct ms_slice){ (const uint8_t *)big, 5000 }) > 0);
	assert_int_equal(strlen(drain(&c)), 25 + 5000 + 2);
	imap_client_deinit(&c);

	client_ready(&c, " LITERAL-");
	assert_true(imap_cmd_append(&c, S("INBOX"), "\\Seen",
	    S("01-Jan-2020 10:00:00 +0100"), S("abc")) > 0);
	assert_string_equal(drain(&c), "A1 APPEND INBOX (\\Seen) "
	    "\"01-Jan-2020 10:00:00 +0100\" {3+}\r\nabc\r\n");
	/* Over LITERAL-'s 4096 bytes the literal synchronises. */
	assert_true(imap_cmd_append(&c, S("INBOX"), NULL, S(""),
	    (struct ms_slice){ (const uint8_t *)big, 4097 }) > 0);
	assert_string_equal(drain(&c), "A2 APPEND INBOX {4097}\r\n");
	assert_string_equal(drain(&c), "");
	assert_string_equal(feed(&c, "+ OK\r\n"), "");
	assert_int_equal(strlen(drain(&c)), 4097 + 2);
	imap_client_deinit(&c);
}

/* A message with NUL bytes: never in a plain literal (CHAR8 excludes
 * NUL), as a literal8 with BINARY's APPEND; the "+" of LITERAL+ holds. */
static void
test_literal_binary(void **state)
{
	static const uint8_t msg[] = "From: x\r\n\r\na\0b\r\n";
	struct ms_slice m = { msg, sizeof(msg) - 1 };
	struct imap_client c;
	const char *out;

	(void)state;
	client_ready(&c, " LITERAL+ BINARY");
	assert_int_equal(imap_cmd_append(&c, S("INBOX"), NULL, S(""), m),
	    MS_EINVAL);
	assert_string_equal(drain(&c), "");
	assert_int_equal(imap_cmd_append_binary(&c, S("INBOX"), "\\Seen",
	    S(""), m), 1);
	out = drain(&c);
	assert_string_equal(out, "A1 APPEND INBOX (\\Seen) ~{16+}\r\n"
	    "From: x\r\n\r\na");
	assert_memory_equal(out + strlen(out), "\0b\r\n\r\n", 6);
	imap_client_deinit(&c);

	/* Without LITERAL+ the literal8 synchronises like a literal. */
	client_ready(&c, " BINARY");
	assert_int_equal(imap_cmd_append_binary(&c, S("INBOX"), NULL, S(""),
	    m), 1);
	assert_string_equal(drain(&c), "A1 APPEND INBOX ~{16}\r\n");
	assert_string_equal(feed(&c, "+ OK\r\n"), "");
	imap_client_deinit(&c);
}

/* A refused synchronising literal is never sent; later commands are. */
static void
test_literal_refused(void **state)
{
	struct imap_client c;

	(void)state;
	client_ready(&c, "");
	assert_int_equal(imap_cmd_append(&c, S("INBOX"), NULL, S(""),
	    S("From: x\r\n\r\nbody\r\n")), 1);
	assert_int_equal(imap_cmd_noop(&c), 2);
	assert_string_equal(drain(&c), "A1 APPEND INBOX {17}\r\n");
	assert_string_equal(feed(&c, "A1 NO [TRYCREATE] no such mailbox\r\n"),
	    "TAGGED ");
	assert_string_equal(drain(&c), "A2 NOOP\r\n");
	/* A "+" now is not for us any more: it reaches the caller. */
	assert_string_equal(feed(&c, "+ huh\r\n"), "CONTINUATION ");
	imap_client_deinit(&c);
}

static void
test_commands(void **state)
{
	struct imap_client c;
	struct imap_select_opts so = { 0 };
	static const char *const id[] = { "name", "mailsync", "version",
	    "0.1" };

	(void)state;
	client_ready(&c, " SASL-IR");
	assert_true(imap_cmd_enable(&c, "QRESYNC CONDSTORE") > 0);
	so.qresync = true;
	so.uidvalidity = 67890007;
	so.modseq = 90060115194045000ull;
	so.known_uids = S("41:211,214:541");
	assert_true(imap_cmd_select(&c, S("Entwürfe"), &so) > 0);
	so.qresync = false;
	so.condstore = true;
	so.read_only = true;
	assert_true(imap_cmd_select(&c, S("a b"), &so) > 0);
	assert_true(imap_cmd_list(&c, S(""), S("*"),
	    IMAP_LIST_RET_SPECIAL_USE | IMAP_LIST_RET_CHILDREN,
	    IMAP_STATUS_MESSAGES | IMAP_STATUS_SIZE) > 0);
	assert_true(imap_cmd_list(&c, S(""), S("%"), 0, 0) > 0);
	assert_true(imap_cmd_status(&c, S("INBOX"),
	    IMAP_STATUS_UIDNEXT | IMAP_STATUS_HIGHESTMODSEQ) > 0);
	assert_true(imap_cmd_uid_fetch(&c, S("1:*"), "UID FLAGS", 12,
	    true) > 0);
	assert_true(imap_cmd_uid_store(&c, S("4,7:9"), 200, "+FLAGS.SILENT",
	    "\\Seen $Forwarded") > 0);
	assert_true(imap_cmd_uid_expunge(&c, S("3:5")) > 0);
	assert_true(imap_cmd_uid_move(&c, S("9"), S("Trash")) > 0);
	assert_true(imap_cmd_uid_copy(&c, S("9"), S("台北")) > 0);
	assert_true(imap_cmd_id(&c, id, 2) > 0);
	assert_true(imap_cmd_id(&c, NULL, 0) > 0);
	assert_true(imap_cmd_authenticate(&c, "PLAIN", S("AGpvZQBzZWNyZXQ=")) >
	    0);
	assert_true(imap_cmd_authenticate(&c, "XOAUTH2", S("")) > 0);
	assert_true(imap_cmd_compress_deflate(&c) > 0);
	assert_true(imap_cmd_namespace(&c) > 0);
	assert_true(imap_cmd_unselect(&c) > 0);
	assert_true(imap_cmd_create(&c, S("Projects/Ünïcödé & co")) > 0);
	assert_string_equal(drain(&c),
	    "A1 ENABLE QRESYNC CONDSTORE\r\n"
	    "A2 SELECT Entw&APw-rfe (QRESYNC (67890007 90060115194045000 "
	    "41:211,214:541))\r\n"
	    "A3 EXAMINE \"a b\" (CONDSTORE)\r\n"
	    "A4 LIST \"\" \"*\" RETURN (SPECIAL-USE CHILDREN STATUS "
	    "(MESSAGES SIZE))\r\n"
	    "A5 LIST \"\" \"%\"\r\n"
	    "A6 STATUS INBOX (UIDNEXT HIGHESTMODSEQ)\r\n"
	    "A7 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 12 VANISHED)\r\n"
	    "A8 UID STORE 4,7:9 (UNCHANGEDSINCE 200) +FLAGS.SILENT "
	    "(\\Seen $Forwarded)\r\n"
	    "A9 UID EXPUNGE 3:5\r\n"
	    "A10 UID MOVE 9 Trash\r\n"
	    "A11 UID COPY 9 &U,BTFw-\r\n"
	    "A12 ID (\"name\" \"mailsync\" \"version\" \"0.1\")\r\n"
	    "A13 ID NIL\r\n"
	    "A14 AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n"
	    "A15 AUTHENTICATE XOAUTH2 =\r\n"
	    "A16 COMPRESS DEFLATE\r\n"
	    "A17 NAMESPACE\r\n"
	    "A18 UNSELECT\r\n"
	    "A19 CREATE \"Projects/&ANw-n&AO8-c&APY-d&AOk- &- co\"\r\n");
	imap_client_deinit(&c);

	/* Without SASL-IR the initial response waits for "+". */
	client_ready(&c, "");
	assert_int_equal(imap_cmd_authenticate(&c, "PLAIN",
	    S("AGpvZQBzZWNyZXQ=")), 1);
	assert_string_equal(drain(&c), "A1 AUTHENTICATE PLAIN\r\n");
	assert_string_equal(feed(&c, "+ \r\n"), "CONTINUATION ");
	assert_int_equal(imap_cmd_sasl_response(&c, S("AGpvZQBzZWNyZXQ=")),
	    MS_OK);
	assert_int_equal(imap_cmd_sasl_cancel(&c), MS_OK);
	assert_string_equal(drain(&c), "AGpvZQBzZWNyZXQ=\r\n*\r\n");
	assert_int_equal(imap_cmd_sasl_response(&c, S("a\r\nA2 x")),
	    MS_EINVAL);
	imap_client_deinit(&c);
}

/* Bad arguments and limits leave the output exactly as it was. */
static void
test_rejects(void **state)
{
	struct imap_client_params pp;
	struct imap_client c;
	struct imap_select_opts so = { 0 };
	static char name[300];

	(void)state;
	imap_client_params_default(&pp);
	pp.max_cmd_line = 64;
	assert_int_equal(imap_client_init(&c, &pp), MS_OK);
	assert_string_equal(feed(&c, "* OK hi\r\n"), "GREETING ");
	assert_int_equal(imap_cmd_uid_fetch(&c, S("1,,2"), "UID", 0, false),
	    MS_EINVAL);
	assert_int_equal(imap_cmd_uid_fetch(&c, S("0"), "UID", 0, false),
	    MS_EINVAL);
	assert_int_equal(imap_cmd_uid_search(&c, S("1 OR"), S("1:*")),
	    MS_EINVAL);
	assert_int_equal(imap_cmd_uid_search(&c, S(""), S("")), MS_EINVAL);
	assert_int_equal(imap_cmd_uid_store(&c, S("1"), 0, "+FLAGS",
	    "\\Seen)\r\nA9 DELETE INBOX"), MS_EINVAL);
	assert_int_equal(imap_cmd_select(&c, S("bad\xc3"), &so), MS_EINVAL);
	assert_int_equal(imap_cmd_status(&c, S("INBOX"), 0), MS_EINVAL);
	so.qresync = true;
	assert_int_equal(imap_cmd_select(&c, S("INBOX"), &so), MS_EINVAL);
	memset(name, 'n', sizeof(name) - 1);
	assert_int_equal(imap_cmd_select(&c, ms_slice_from_cstr(name),
	    &(struct imap_select_opts){ 0 }), MS_ETOOBIG);
	assert_int_equal(imap_cmd_idle_done(&c), MS_EINVAL);
	assert_int_equal(imap_cmd_authenticate(&c, "PL AIN", S("")),
	    MS_EINVAL);
	assert_string_equal(drain(&c), "");
	/* The tag counter did not move either. */
	assert_int_equal(imap_cmd_noop(&c), 1);
	assert_string_equal(drain(&c), "A1 NOOP\r\n");
	imap_client_deinit(&c);
}

static void
test_idle(void **state)
{
	struct imap_client c;

	(void)state;
	client_ready(&c, "");
	assert_int_equal(imap_cmd_idle(&c), 1);
	assert_int_equal(c.state, IMAP_CLIENT_IDLE);
	assert_int_equal(imap_cmd_idle(&c), MS_EINVAL);
	assert_string_equal(feed(&c, "+ idling\r\n* 5 EXISTS\r\n"),
	    "CONTINUATION EXISTS ");
	assert_int_equal(imap_cmd_idle_done(&c), MS_OK);
	assert_string_equal(drain(&c), "A1 IDLE\r\nDONE\r\n");
	assert_string_equal(feed(&c, "A1 OK Idle completed\r\n"), "TAGGED ");
	assert_int_equal(c.state, IMAP_CLIENT_READY);
	imap_client_deinit(&c);
}

static void
test_notify(void **state)
{
	struct imap_client c;

	(void)state;
	client_ready(&c, "");
	assert_int_equal(imap_cmd_notify_personal(&c, false,
	    IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE |
	    IMAP_NOTIFY_FLAG_CHANGE | IMAP_NOTIFY_MAILBOX_NAME |
	    IMAP_NOTIFY_SUBSCRIPTION_CHANGE), 1);
	assert_int_equal(imap_cmd_notify_personal(&c, true,
	    IMAP_NOTIFY_MESSAGE_NEW), 2);
	assert_int_equal(imap_cmd_notify_none(&c), 3);
	assert_string_equal(drain(&c), "A1 NOTIFY SET (personal (MessageNew "
	    "MessageExpunge FlagChange MailboxName SubscriptionChange))\r\n"
	    "A2 NOTIFY SET STATUS (personal (MessageNew))\r\n"
	    "A3 NOTIFY NONE\r\n");
	/* FlagChange alone, no event, an unknown bit: nothing is sent and
	 * the tag does not move. */
	assert_int_equal(imap_cmd_notify_personal(&c, false,
	    IMAP_NOTIFY_FLAG_CHANGE | IMAP_NOTIFY_MESSAGE_NEW), MS_EINVAL);
	assert_int_equal(imap_cmd_notify_personal(&c, false, 0), MS_EINVAL);
	assert_int_equal(imap_cmd_notify_personal(&c, false, 1u << 7),
	    MS_EINVAL);
	assert_string_equal(drain(&c), "");
	assert_int_equal(imap_cmd_noop(&c), 4);
	imap_client_deinit(&c);
}

/* Plaintext after the STARTTLS OK is refused, however it arrives. */
static void
test_starttls(void **state)
{
	static const char in[] = "A1 OK Begin TLS\r\n* OK [CAPABILITY "
	    "IMAP4rev1 AUTH=PLAIN] injected\r\n";
	struct imap_client c;
	struct imap_event ev;
	size_t n;

	(void)state;
	/* Injected bytes in the same read: the driver reports them. */
	client_ready(&c, "");
	assert_int_equal(imap_cmd_starttls(&c), 1);
	assert_int_equal(imap_client_feed(&c, (const uint8_t *)in,
	    strlen(in), &n), MS_OK);
	assert_int_equal(n, 17);
	assert_int_equal(imap_client_next_event(&c, &ev), MS_OK);
	assert_int_equal(ev.type, IMAP_EV_TAGGED);
	assert_true(ms_slice_eq_cstr(ev.u.status.tag, "A1"));
	assert_true(ms_slice_eq_cstr(ev.u.status.text, "Begin TLS"));
	assert_int_equal(c.state, IMAP_CLIENT_TLS_WAIT);
	assert_int_equal(imap_client_starttls_done(&c, strlen(in) - n),
	    MS_EPROTO);
	assert_int_equal(c.state, IMAP_CLIENT_DEAD);
	imap_client_deinit(&c);

	/* ... or feed them: that is an error too. */
	client_ready(&c, "");
	assert_int_equal(imap_cmd_starttls(&c), 1);
	assert_string_equal(feed(&c, in), "TAGGED ERROR EPROTO");
	assert_int_equal(imap_client_starttls_done(&c, 0), MS_EPROTO);
	imap_client_deinit(&c);

	/* A clean switch: input is accepted again once TLS is up. */
	client_ready(&c, "");
	assert_int_equal(imap_cmd_starttls(&c), 1);
	assert_string_equal(feed(&c, "A1 OK Begin TLS\r\n"), "TAGGED ");
	assert_int_equal(imap_cmd_noop(&c), MS_EINVAL);
	assert_int_equal(imap_client_starttls_done(&c, 0), MS_OK);
	assert_int_equal(imap_cmd_capability(&c), 2);
	assert_string_equal(feed(&c, "* CAPABILITY IMAP4rev1\r\n"
	    "A2 OK done\r\n"), "CAPABILITY TAGGED ");
	/* A NO to STARTTLS keeps the plaintext session going. */
	assert_int_equal(imap_cmd_starttls(&c), 3);
	assert_string_equal(feed(&c, "A3 NO not now\r\n* 1 EXISTS\r\n"),
	    "TAGGED EXISTS ");
	imap_client_deinit(&c);
}

static void
check_utf7(const char *utf8, const char *mutf7)
{
	struct ms_buf b;

	ms_buf_init(&b, 4096);
	assert_int_equal(imap_utf7_encode(ms_slice_from_cstr(utf8), &b),
	    MS_OK);
	assert_string_equal(b.len ? (const char *)b.p : "", mutf7);
	ms_buf_reset(&b);
	assert_int_equal(imap_utf7_decode(ms_slice_from_cstr(mutf7), &b),
	    MS_OK);
	assert_string_equal(b.len ? (const char *)b.p : "", utf8);
	ms_buf_deinit(&b);
}

static void
test_utf7(void **state)
{
	static const char *const bad_mutf7[] = {
		"&", "&Jjo", "&Jjo!", "&U,BTFw-&ZeVnLIqe-", "&AGE-", "&APx-",
		"a\xc3\xa4", "&2D0-", "&3gA-", "&2D3YPQ-", "tab\t", "&AAA-",
	};
	static const char *const bad_utf8[] = {
		"\xc3\x28", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xe2\x82", "\xff",
	};
	struct ms_buf b;

	(void)state;
	/* RFC 3501 5.1.3's example, and others. */
	check_utf7("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	check_utf7("Entwürfe", "Entw&APw-rfe");
	check_utf7("a&b", "a&-b");
	check_utf7("&&", "&-&-");
	check_utf7("😀", "&2D3eAA-");
	check_utf7("", "");
	check_utf7("x\x01y", "x&AAE-y");
	ms_buf_init(&b, 4096);
	assert_int_equal(ms_buf_append(&b, "keep", 4), MS_OK);
	for (size_t i = 0; i < sizeof(bad_mutf7) / sizeof(bad_mutf7[0]); i++)
		if (imap_utf7_decode(ms_slice_from_cstr(bad_mutf7[i]), &b) !=
		    MS_EINVAL)
			fail_msg("decoded invalid \"%s\"", bad_mutf7[i]);
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++)
		assert_int_equal(imap_utf7_encode(
		    ms_slice_from_cstr(bad_utf8[i]), &b), MS_EINVAL);
	assert_int_equal(imap_utf7_encode((struct ms_slice){
	    (const uint8_t *)"a\0b", 3 }, &b), MS_EINVAL);
	/* Failures leave the buffer as it was. */
	assert_string_equal((const char *)b.p, "keep");
	ms_buf_deinit(&b);
}

/* UID SEARCH by sequence numbers and UIDs (the sync's cut points). */
static void
test_uid_search(void **state)
{
	struct imap_client c;

	(void)state;
	assert_int_equal(imap_client_init(&c, NULL), MS_OK);
	assert_string_equal(feed(&c, "* OK hi\r\n"), "GREETING ");
	assert_true(imap_cmd_uid_search(&c, S("200,400,600"), S("5:*")) > 0);
	assert_true(imap_cmd_uid_search(&c, S(""), S("1:*")) > 0);
	/* The Sent copy's check: a header always as a string. */
	assert_true(imap_cmd_uid_search_header(&c, S("Message-ID"),
					       S("<a\"b@x>")) > 0);
	assert_true(imap_cmd_uid_search_header(&c, S("Message-ID"),
					       S("plain")) > 0);
	assert_true(imap_cmd_uid_search_deleted(&c) > 0);
	assert_string_equal(drain(&c),
	    "A1 UID SEARCH 200,400,600 UID 5:*\r\n"
	    "A2 UID SEARCH UID 1:*\r\n"
	    "A3 UID SEARCH HEADER Message-ID \"<a\\\"b@x>\"\r\n"
	    "A4 UID SEARCH HEADER Message-ID \"plain\"\r\n"
	    "A5 UID SEARCH DELETED\r\n");
	imap_client_deinit(&c);
}

/* Long UID lists are split into commands that each fit a line. */
static void
test_seqset_split(void **state)
{
	struct imap_client c;
	struct ms_buf set;
	uint32_t uids[5000];
	size_t done = 0, used, ncmds = 0;
	const char *out;

	(void)state;
	for (size_t i = 0; i < 5000; i++)
		uids[i] = (uint32_t)(i * 2 + 1);	/* no ranges at all */
	client_ready(&c, "");
	ms_buf_init(&set, 8192);
	while (done < 5000) {
		ms_buf_reset(&set);
		assert_int_equal(imap_seqset_format(&set, uids + done,
		    5000 - done, 7900, &used), MS_OK);
		assert_true(used > 0);
		assert_true(imap_cmd_uid_fetch(&c, (struct ms_slice){ set.p,
		    set.len }, "FLAGS", 0, false) > 0);
		out = drain(&c);
		assert_true(strlen(out) <= 8000 + 2);
		done += used;
		ncmds++;
	}
	assert_true(ncmds >= 3);
	ms_buf_deinit(&set);
	imap_client_deinit(&c);
}

/* The builder writes what the recording client sent to Dovecot. */
static void
test_session1_commands(void **state)
{
	struct imap_client c;
	struct imap_select_opts so = { 0 };
	const char *dir = getenv("MS_TEST_DATA");
	char path[1024], want[4096], got[4096];
	size_t wlen, glen = 0;
	FILE *f;

	(void)state;
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/imap/dovecot-session1.client.txt",
	    dir);
	f = fopen(path, "rb");
	assert_non_null(f);
	wlen = fread(want, 1, sizeof(want) - 1, f);
	fclose(f);
	want[wlen] = '\0';

	client_ready(&c, " LITERAL+");
	assert_true(imap_cmd_capability(&c) > 0);
	assert_true(imap_cmd_login(&c, S("testuser"), S("secret")) > 0);
	assert_true(imap_cmd_enable(&c, "QRESYNC") > 0);
	assert_true(imap_cmd_list(&c, S(""), S("*"), IMAP_LIST_RET_SPECIAL_USE,
	    IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT |
	    IMAP_STATUS_UIDVALIDITY | IMAP_STATUS_HIGHESTMODSEQ) > 0);
	so.qresync = true;
	so.uidvalidity = 1795839353;
	so.modseq = 1;
	so.known_uids = S("1:6");
	assert_true(imap_cmd_select(&c, S("INBOX"), &so) > 0);
	assert_true(imap_cmd_uid_fetch(&c, S("1:*"), "UID FLAGS INTERNALDATE "
	    "RFC822.SIZE MODSEQ BODY.PEEK[]", 0, false) > 0);
	assert_true(imap_cmd_idle(&c) > 0);
	assert_int_equal(imap_cmd_idle_done(&c), MS_OK);
	assert_true(imap_cmd_logout(&c) > 0);
	glen = (size_t)snprintf(got, sizeof(got), "%s", drain(&c));
	/* The recording used lower-case tags. */
	for (size_t i = 0; i < glen; i++)
		if (got[i] == 'A' && (i == 0 || got[i - 1] == '\n'))
			got[i] = 'a';
	assert_string_equal(got, want);
	imap_client_deinit(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_literal_caps),
		cmocka_unit_test(test_literal_refused),
		cmocka_unit_test(test_literal_binary),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_utf7),
		cmocka_unit_test(test_uid_search),
		cmocka_unit_test(test_seqset_split),
		cmocka_unit_test(test_session1_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
