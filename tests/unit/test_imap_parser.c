/*
 * test_imap_parser.c - the IMAP response parser: recorded Dovecot sessions
 * replayed whole, byte by byte and at every split point; each response
 * kind; limits, syntax errors and truncated input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit/test_imap_replay.h"

static uint8_t *
read_file(const char *dir_env, const char *name, size_t *len_r)
{
	const char *dir = getenv(dir_env);
	char path[1024];
	FILE *f;
	uint8_t *data;
	long size;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	data = malloc((size_t)size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len_r = (size_t)size;
	return data;
}

/*
 * Copies data so that it ends right at an unmapped page: any read past
 * the end faults, also in builds without ASan (picohttpparser's trick).
 */
struct guarded {
	uint8_t *map;
	size_t maplen;
	uint8_t *p;
};

static void
guarded_init(struct guarded *g, const uint8_t *data, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (len + pg - 1) / pg + 1;

	g->maplen = pages * pg;
	g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	assert_int_equal(mprotect(g->map + (pages - 1) * pg, pg, PROT_NONE), 0);
	g->p = g->map + (pages - 1) * pg - len;
	if (len > 0)
		memcpy(g->p, data, len);
}

static void
guarded_deinit(struct guarded *g)
{
	munmap(g->map, g->maplen);
}

static struct imap_parser_params
params_nogreet(void)
{
	struct imap_parser_params pp;

	imap_parser_params_default(&pp);
	pp.expect_greeting = false;
	return pp;
}

static void
assert_same(const struct ms_buf *want, const struct ms_buf *got,
    const char *what, size_t i, size_t j)
{
	if (want->len != got->len ||
	    memcmp(want->p, got->p, want->len) != 0) {
		fprintf(stderr, "%s split at %zu,%zu differs:\n--- whole\n%s\n"
		    "--- split\n%s\n", what, i, j, (const char *)want->p,
		    (const char *)got->p);
		fail();
	}
}

/*
 * Runs data whole, byte at a time, at every split point and (when
 * pairs) at every pair of split points; all must give the same events.
 * Returns the canonical events of the whole run (caller frees).
 */
static struct ms_buf
check_splits(const struct imap_parser_params *pp, const uint8_t *data,
    size_t len, bool pairs)
{
	struct guarded g;
	struct ms_buf whole, got;
	size_t *all, sp[2];

	guarded_init(&g, data, len);
	imap_replay_run(pp, g.p, len, NULL, 0, &whole);
	all = malloc((len + 1) * sizeof(*all));
	assert_non_null(all);
	for (size_t i = 0; i < len; i++)
		all[i] = i + 1;
	imap_replay_run(pp, g.p, len, all, len, &got);
	assert_same(&whole, &got, "byte-at-a-time", 0, 0);
	ms_buf_deinit(&got);
	for (size_t i = 1; i < len; i++) {
		sp[0] = i;
		imap_replay_run(pp, g.p, len, sp, 1, &got);
		assert_same(&whole, &got, "single", i, 0);
		ms_buf_deinit(&got);
		for (size_t j = i + 1; pairs && j < len; j++) {
			sp[1] = j;
			imap_replay_run(pp, g.p, len, sp, 2, &got);
			assert_same(&whole, &got, "pair", i, j);
			ms_buf_deinit(&got);
		}
	}
	free(all);
	guarded_deinit(&g);
	if (getenv("IMAP_TEST_DUMP") != NULL)
		fprintf(stderr, "%s", (const char *)whole.p);
	return whole;
}

/* Asserts that the canonical events contain line-substring needle. */
static void
assert_has(const struct ms_buf *ev, const char *needle)
{
	if (strstr((const char *)ev->p, needle) == NULL) {
		fprintf(stderr, "missing \"%s\" in:\n%s\n", needle,
		    (const char *)ev->p);
		fail();
	}
}

static void
assert_lacks(const struct ms_buf *ev, const char *needle)
{
	if (strstr((const char *)ev->p, needle) != NULL) {
		fprintf(stderr, "unexpected \"%s\" in:\n%s\n", needle,
		    (const char *)ev->p);
		fail();
	}
}

static size_t
count_of(const struct ms_buf *ev, const char *needle)
{
	size_t n = 0;
	const char *s = (const char *)ev->p;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* Short input, checked at every pair of split points. */
static struct ms_buf
run_short(const char *text)
{
	struct imap_parser_params pp = params_nogreet();

	return check_splits(&pp, (const uint8_t *)text, strlen(text), true);
}

/* --- recorded sessions ------------------------------------------------- */

/* Collects the bodies of a whole-feed run, in order. */
struct bodies {
	struct ms_buf b[16];
	uint32_t uid[16];
	size_t n;
};

static void
collect_bodies(const uint8_t *data, size_t len, struct bodies *bs)
{
	struct imap_parser p;
	struct imap_event ev;
	size_t off = 0, n;
	int rc;

	bs->n = 0;
	assert_int_equal(imap_parser_init(&p, NULL), MS_OK);
	do {
		rc = imap_parser_feed(&p, data + off, len - off, &n);
		off += n;
		while (imap_parser_next_event(&p, &ev) == MS_OK) {
			if (ev.type == IMAP_EV_FETCH_BODY) {
				assert_true(bs->n < 16);
				ms_buf_init(&bs->b[bs->n], 1 << 24);
				bs->uid[bs->n++] = ev.u.body.uid;
			} else if (ev.type == IMAP_EV_LITERAL_CHUNK) {
				assert_int_equal(ms_buf_append(
				    &bs->b[bs->n - 1], ev.u.chunk.data.p,
				    ev.u.chunk.data.len), MS_OK);
			}
		}
	} while (rc == MS_OK);
	assert_int_equal(rc, MS_AGAIN);
	assert_int_equal(off, len);
	imap_parser_deinit(&p);
}

/* The corpus file with bare LFs turned into CRLF, as IMAP serves it. */
static struct ms_buf
corpus_crlf(const char *name)
{
	struct ms_buf b;
	size_t len;
	uint8_t *d = read_file("MS_CORPUS", name, &len);

	ms_buf_init(&b, 1 << 24);
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r'))
			assert_int_equal(ms_buf_append(&b, "\r", 1), MS_OK);
		assert_int_equal(ms_buf_append(&b, &d[i], 1), MS_OK);
	}
	free(d);
	return b;
}

static void
test_session1(void **state)
{
	struct imap_parser_params pp;
	struct ms_buf ev, want;
	struct bodies bs;
	size_t len;
	uint8_t *d = read_file("MS_TEST_DATA", "imap/dovecot-session1.txt",
	    &len);
	static const char *const files[] = {
		"messages/notmuch/0048.eml", "messages/spamassassin/0309.eml",
		"messages/notmuch/0073.eml", "messages/notmuch/0232.eml",
	};
	static const uint32_t uids[] = { 1, 2, 3, 5 };

	(void)state;
	imap_parser_params_default(&pp);
	ev = check_splits(&pp, d, len, false);
	assert_lacks(&ev, "ERROR");
	assert_lacks(&ev, "BAD_CHUNK");
	assert_has(&ev, "END rc=AGAIN");
	assert_has(&ev, "GREETING status=1 tag=\"\" code=3 name=\"CAPABILITY\"");
	assert_has(&ev, "ENABLED list=\"QRESYNC\"");
	assert_has(&ev, "LIST lsub=0 delim=47 sub=0 has_old=0 attrs=\"\" "
	    "name=\"with \\x22quote\\x22\"");
	assert_has(&ev, "LIST lsub=0 delim=47 sub=0 has_old=0 "
	    "attrs=\"\\x5cNoselect\" name=\"Lists\"");
	assert_has(&ev, "name=\"Entw&APw-rfe\"");
	assert_has(&ev, "STATUS mailbox=\"INBOX\" has=0x17 messages=4 "
	    "uidnext=6 uidvalidity=1795839353 unseen=0 recent=0 "
	    "highestmodseq=9");
	assert_has(&ev, "VANISHED earlier=1 set=\"4\"");
	assert_has(&ev, "UNTAGGED_STATUS status=1 tag=\"\" code=8 "
	    "name=\"HIGHESTMODSEQ\" args=\"9\"");
	assert_has(&ev, "TAGGED status=1 tag=\"a5\" code=16 "
	    "name=\"READ-WRITE\"");
	assert_has(&ev, "FETCH seq=4 has=0x13 uid=5 size=0 modseq=9 bodies=0 "
	    "flags=\"\\x5cRecent\"");
	assert_has(&ev, "FETCH_BODY item=\"BODY[]\" section=\"\" seq=2 uid=2 "
	    "origin=0:0 binary=0 nil=0 size=596");
	assert_has(&ev, "FETCH seq=2 has=0x1f uid=2 size=596 modseq=9 "
	    "bodies=1 flags=\"\\x5cFlagged \\x5cRecent\" "
	    "date=\"28-Nov-2026 04:15:53 +0000\"");
	assert_has(&ev, "CONTINUATION text=\"idling\"");
	assert_has(&ev, "EXISTS num=5");
	assert_has(&ev, "UNTAGGED_STATUS status=5");
	assert_int_equal(count_of(&ev, "FETCH_BODY"), 4);
	assert_int_equal(count_of(&ev, "TAGGED status=1 tag=\"a"), 8);
	ms_buf_deinit(&ev);

	/* The streamed bodies are the corpus messages, byte for byte. */
	collect_bodies(d, len, &bs);
	assert_int_equal(bs.n, 4);
	for (size_t i = 0; i < 4; i++) {
		want = corpus_crlf(files[i]);
		assert_int_equal(bs.uid[i], uids[i]);
		assert_int_equal(bs.b[i].len, want.len);
		assert_memory_equal(bs.b[i].p, want.p, want.len);
		ms_buf_deinit(&want);
		ms_buf_deinit(&bs.b[i]);
	}
	free(d);
}

static void
test_session2(void **state)
{
	struct imap_parser_params pp;
	struct ms_buf ev;
	size_t len;
	uint8_t *d = read_file("MS_TEST_DATA", "imap/dovecot-session2.txt",
	    &len);

	(void)state;
	imap_parser_params_default(&pp);
	ev = check_splits(&pp, d, len, false);
	assert_lacks(&ev, "ERROR");
	assert_has(&ev, "END rc=AGAIN");
	assert_has(&ev, "NAMESPACE personal=\"((\\x22\\x22 \\x22/\\x22))\" "
	    "other=\"NIL\" shared=\"NIL\" prefix=\"\" has_personal=1 "
	    "delim=47");
	assert_has(&ev, "ID raw=\"(\\x22name\\x22 \\x22Dovecot\\x22)\"");
	assert_has(&ev, "ESEARCH tag=\"b5\" all=\"1:2,5:8\" uid=1 has=0xf "
	    "min=1 max=8 count=6");
	assert_has(&ev, "SEARCH nums=\"1 2 3 4 5 6\" has_modseq=0");
	assert_has(&ev, "CONTINUATION text=\"OK\"");
	assert_has(&ev, "code=11 name=\"APPENDUID\"");
	assert_has(&ev, "code=12 name=\"COPYUID\" args=\"1795839359 1:2 5:6\" "
	    "list=\"\" set1=\"1:2\" set2=\"5:6\" num=0 "
	    "uidvalidity=1795839359");
	assert_has(&ev, "envelope=\"(\\x22Thu, 29 Dec 2010 15:07:54 +0100\\x22");
	assert_has(&ev, "FETCH_BODY item=\"BINARY[1]\" section=\"1\" seq=1 "
	    "uid=0 origin=0:0 binary=1 nil=0 size=708");
	assert_has(&ev, "FETCH_BODY item=\"BODY[HEADER.FIELDS (SUBJECT "
	    "FROM)]<0>\" section=\"HEADER.FIELDS (SUBJECT FROM)\" seq=1 "
	    "uid=0 origin=1:0 binary=0 nil=0 size=40");
	assert_has(&ev, "bodystructure=\"(\\x22text\\x22 \\x22plain\\x22");
	assert_has(&ev, "STATUS mailbox=\"Lists/dev\" has=0x6b messages=3 "
	    "uidnext=4 uidvalidity=0 unseen=2 recent=3 highestmodseq=0 "
	    "size=8246");
	assert_has(&ev, "code=10 name=\"MODIFIED\" args=\"1:2\" list=\"\" "
	    "set1=\"1:2\"");
	assert_has(&ev, "code=13 name=\"CLOSED\"");
	assert_has(&ev, "TAGGED status=2 tag=\"b13\"");
	assert_has(&ev, "TAGGED status=3 tag=\"b14\"");
	assert_has(&ev, "LIST lsub=1 delim=47");
	assert_has(&ev, "attrs=\"\\x5cSubscribed \\x5cHasNoChildren\"");
	ms_buf_deinit(&ev);
	free(d);
}

/* --- each response kind ------------------------------------------------ */

static void
test_greetings(void **state)
{
	struct imap_parser_params pp;
	struct ms_buf ev;
	static const char preauth[] = "* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n";
	static const char bye[] = "* BYE server shutting down\r\n";
	static const char bad[] = "* NO go away\r\n";
	static const char data[] = "* 3 EXISTS\r\n";

	(void)state;
	imap_parser_params_default(&pp);
	ev = check_splits(&pp, (const uint8_t *)preauth, strlen(preauth),
	    true);
	assert_has(&ev, "GREETING status=4 tag=\"\" code=3 "
	    "name=\"CAPABILITY\" args=\"IMAP4rev2\" list=\"IMAP4rev2\"");
	ms_buf_deinit(&ev);
	ev = check_splits(&pp, (const uint8_t *)bye, strlen(bye), true);
	assert_has(&ev, "GREETING status=5");
	ms_buf_deinit(&ev);
	ev = check_splits(&pp, (const uint8_t *)bad, strlen(bad), true);
	assert_has(&ev, "ERROR code=EPROTO off=0 msg=greeting must be OK");
	ms_buf_deinit(&ev);
	ev = check_splits(&pp, (const uint8_t *)data, strlen(data), true);
	assert_has(&ev, "ERROR code=EPROTO off=0 msg=expected a greeting");
	ms_buf_deinit(&ev);
}

static void
test_status_responses(void **state)
{
	struct ms_buf ev;

	(void)state;
	ev = run_short("a1 OK [UIDNEXT 4294967295] x\r\n"
	    "* NO [ALERT] disk \"full\r\n"
	    "b BAD\r\n"
	    "* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n"
	    "* OK [XFOO bar baz] what\r\n"
	    "* NO [NOMODSEQ] no\r\n"
	    "+\r\n"
	    "* OK [READ-ONLY] [x]\r\n");
	assert_has(&ev, "TAGGED status=1 tag=\"a1\" code=6 name=\"UIDNEXT\" "
	    "args=\"4294967295\" list=\"\" set1=\"\" set2=\"\" "
	    "num=4294967295");
	assert_has(&ev, "UNTAGGED_STATUS status=2 tag=\"\" code=2 "
	    "name=\"ALERT\" args=\"\" list=\"\" set1=\"\" set2=\"\" num=0 "
	    "uidvalidity=0 text=\"disk \\x22full\"");
	assert_has(&ev, "TAGGED status=3 tag=\"b\" text=\"\"");
	assert_has(&ev, "list=\"\\x5cSeen \\x5c*\"");
	assert_has(&ev, "code=1 name=\"XFOO\" args=\"bar baz\"");
	assert_has(&ev, "code=9 name=\"NOMODSEQ\"");
	assert_has(&ev, "CONTINUATION text=\"\"");
	assert_has(&ev, "code=15 name=\"READ-ONLY\" args=\"\" list=\"\" "
	    "set1=\"\" set2=\"\" num=0 uidvalidity=0 text=\"[x]\"");
	ms_buf_deinit(&ev);
}

/* What a NOTIFY (RFC 5465) session receives: STATUS of other mailboxes,
 * LIST for a renamed one, the overflow and the refused events. */
static void
test_notify_responses(void **state)
{
	struct ms_buf ev;

	(void)state;
	ev = run_short("* STATUS Lists (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 7 "
	    "UNSEEN 1)\r\n"
	    "* LIST () \"/\" New (OLDNAME (Old))\r\n"
	    "* OK [NOTIFICATIONOVERFLOW] lost some\r\n"
	    "a1 NO [BADEVENT (FlagChange AnnotationChange)] no\r\n");
	assert_lacks(&ev, "ERROR");
	assert_has(&ev, "STATUS mailbox=\"Lists\" has=0xf messages=1 "
	    "uidnext=2 uidvalidity=7 unseen=1");
	assert_has(&ev, "name=\"New\"");
	assert_has(&ev, "oldname=\"Old\"");
	assert_has(&ev, "UNTAGGED_STATUS status=1 tag=\"\" code=20 "
	    "name=\"NOTIFICATIONOVERFLOW\"");
	assert_has(&ev, "TAGGED status=2 tag=\"a1\" code=21 "
	    "name=\"BADEVENT\" args=\"(FlagChange AnnotationChange)\" "
	    "list=\"FlagChange AnnotationChange\"");
	ms_buf_deinit(&ev);
	/* A BADEVENT without its list is the server's protocol error. */
	ev = run_short("a1 NO [BADEVENT FlagChange] no\r\n");
	assert_has(&ev, "ERROR");
	assert_has(&ev, "bad BADEVENT response code");
	ms_buf_deinit(&ev);
}

static void
test_simple_data(void **state)
{
	struct ms_buf ev;

	(void)state;
	ev = run_short("* 0 EXISTS\r\n* 7 RECENT\r\n* 3 EXPUNGE\r\n"
	    "* FLAGS ()\r\n* CAPABILITY IMAP4rev1 IDLE\r\n"
	    "* VANISHED 1:3,9\r\n* ID NIL\r\n");
	assert_has(&ev, "EXISTS num=0\nRECENT num=7\nEXPUNGE num=3\n"
	    "FLAGS list=\"\"\nCAPABILITY list=\"IMAP4rev1 IDLE\"\n"
	    "VANISHED earlier=0 set=\"1:3,9\"\nID raw=\"NIL\"\nEND rc=AGAIN");
	ms_buf_deinit(&ev);
	/* A number past 32 bits is that folder's fault, not the stream's. */
	ev = run_short("* OK [UIDNEXT 4294967296] x\r\n");
	assert_has(&ev, "args=\"4294967296\"");
	ms_buf_deinit(&ev);
	ev = run_short("* STATUS x (MESSAGES 2 UIDNEXT 4294967296)\r\n");
	assert_has(&ev, "STATUS mailbox=\"x\" has=0x1 messages=2 uidnext=0 "
	    "uidvalidity=0 unseen=0 recent=0 highestmodseq=0 size=0 bad=0x2 "
	    "out_of_range=4294967296\nEND rc=AGAIN");
	ms_buf_deinit(&ev);
}

/* STATUS responses servers send against the grammar: one folder's fault,
 * reported as such, and the stream goes on (every split point). */
static void
test_status_malformed(void **state)
{
	struct ms_buf ev;

	(void)state;
	/* GNU imap4d: a name with spaces, unquoted. */
	ev = run_short("* STATUS Other Folder (MESSAGES 1 UIDNEXT 2 "
	    "UIDVALIDITY 7)\r\n* 3 EXISTS\r\n");
	assert_has(&ev, "STATUS mailbox=\"\" has=0 messages=0 uidnext=0 "
	    "uidvalidity=0 unseen=0 recent=0 highestmodseq=0 size=0 malformed "
	    "raw=\"Other Folder (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 7)\"\n"
	    "EXISTS num=3\nEND rc=AGAIN");
	ms_buf_deinit(&ev);
	/* hoodiecrow: HIGHESTMODSEQ NIL for a folder never used. */
	ev = run_short("* STATUS \"Sub\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 7 "
	    "HIGHESTMODSEQ NIL)\r\na1 OK done\r\n");
	assert_has(&ev, "STATUS mailbox=\"\" has=0 messages=0 uidnext=0 "
	    "uidvalidity=0 unseen=0 recent=0 highestmodseq=0 size=0 malformed "
	    "raw=\"\\x22Sub\\x22 (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 7 "
	    "HIGHESTMODSEQ NIL)\"\nTAGGED status=1");
	ms_buf_deinit(&ev);
	/* An item without its value, and no list at all. */
	ev = run_short("* STATUS x (MESSAGES)\r\n* STATUS x\r\n");
	assert_int_equal(count_of(&ev, " malformed raw="), 2);
	assert_has(&ev, "raw=\"x (MESSAGES)\"");
	assert_has(&ev, "raw=\"x\"\nEND rc=AGAIN");
	ms_buf_deinit(&ev);
	/* A line that cannot be read at all still fails the stream. */
	ev = run_short("* STATUS \"x (MESSAGES 1)\r\n");
	assert_has(&ev, "unterminated quoted string");
	ms_buf_deinit(&ev);
}

static void
test_list(void **state)
{
	struct ms_buf ev;

	(void)state;
	ev = run_short("* LIST (\\HasChildren) NIL {3}\r\na\"b "
	    "(\"CHILDINFO\" (\"SUBSCRIBED\") \"OLDNAME\" (\"old\\\\x\"))\r\n"
	    "* LSUB () \".\" \"\"\r\n");
	assert_has(&ev, "LIST lsub=0 delim=0 sub=1 has_old=1 "
	    "attrs=\"\\x5cHasChildren\" name=\"a\\x22b\" "
	    "oldname=\"old\\x5cx\"");
	assert_has(&ev, "LIST lsub=1 delim=46 sub=0 has_old=0 attrs=\"\" "
	    "name=\"\" oldname=\"\"");
	ms_buf_deinit(&ev);
}

static void
test_search_esearch(void **state)
{
	struct ms_buf ev;
	struct ms_slice nums = MS_SLICE_LIT("4 17 2");
	uint32_t n;

	(void)state;
	ev = run_short("* SEARCH\r\n* SEARCH 2 84 (MODSEQ 917162500)\r\n"
	    "* ESEARCH\r\n* ESEARCH UID COUNT 0 MODSEQ 5 ALL 4:1,7 XX (a)\r\n");
	assert_has(&ev, "SEARCH nums=\"\" has_modseq=0 modseq=0\n"
	    "SEARCH nums=\"2 84\" has_modseq=1 modseq=917162500\n"
	    "ESEARCH tag=\"\" all=\"\" uid=0 has=0");
	assert_has(&ev, "ESEARCH tag=\"\" all=\"4:1,7\" uid=1 has=0x1c min=0 "
	    "max=0 count=0 modseq=5");
	ms_buf_deinit(&ev);
	assert_int_equal(imap_numlist_next(&nums, &n), MS_OK);
	assert_int_equal(n, 4);
	assert_int_equal(imap_numlist_next(&nums, &n), MS_OK);
	assert_int_equal(imap_numlist_next(&nums, &n), MS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(imap_numlist_next(&nums, &n), MS_AGAIN);
}

static void
test_fetch_items(void **state)
{
	struct ms_buf ev;

	(void)state;
	ev = run_short("* 12 FETCH (FLAGS (\\Seen $Junk) UID 4 "
	    "X-GM-LABELS (\"a b\" {1}\r\n)) EMAILID (M1) THREADID NIL "
	    "BODY[1]<5> \"q\\\"x\" BODY[2] NIL RFC822.SIZE 44 "
	    "BINARY[3] ~{2}\r\n\1\2 MODSEQ (12345678901234))\r\n");
	assert_has(&ev, "FETCH_BODY item=\"BODY[1]<5>\" section=\"1\" seq=12 "
	    "uid=4 origin=1:5 binary=0 nil=0 size=3\n"
	    "LITERAL_CHUNK offset=0 last=1 data=\"q\\x22x\"\n"
	    "FETCH_BODY item=\"BODY[2]\" section=\"2\" seq=12 uid=4 "
	    "origin=0:0 binary=0 nil=1 size=0\n");
	assert_has(&ev, "FETCH_BODY item=\"BINARY[3]\" section=\"3\" seq=12 "
	    "uid=4 origin=0:0 binary=1 nil=0 size=2\n"
	    "LITERAL_CHUNK offset=0 last=1 data=\"\\x01\\x02\"\n");
	assert_has(&ev, "FETCH seq=12 has=0x19b uid=4 size=44 "
	    "modseq=12345678901234 bodies=3 flags=\"\\x5cSeen $Junk\" "
	    "date=\"\" envelope=\"\" bodystructure=\"\" emailid=\"M1\" "
	    "threadid=\"\"");
	ms_buf_deinit(&ev);

	/* A zero-length body literal announces size 0 and sends no chunk. */
	ev = run_short("* 1 FETCH (BODY[] {0}\r\n UID 9)\r\n");
	assert_has(&ev, "FETCH_BODY item=\"BODY[]\" section=\"\" seq=1 uid=0 "
	    "origin=0:0 binary=0 nil=0 size=0\nFETCH seq=1 has=0x1 uid=9");
	ms_buf_deinit(&ev);
}

/* A big body arrives in many chunks and is never copied into the parser. */
static void
test_fetch_streams(void **state)
{
	static const size_t big = 50u * 1024 * 1024;
	struct imap_parser_params pp = params_nogreet();
	struct imap_parser p;
	struct imap_event ev;
	uint8_t *msg = malloc(big + 128);
	size_t hdr, len, off = 0, n, got = 0, chunks = 0;
	int rc;

	(void)state;
	assert_non_null(msg);
	pp.max_response = 4096;
	pp.max_line = 1024;
	hdr = (size_t)snprintf((char *)msg, 128,
	    "* 1 FETCH (UID 7 RFC822 {%zu}\r\n", big);
	memset(msg + hdr, 'x', big);
	memcpy(msg + hdr + big, ")\r\n", 3);
	len = hdr + big + 3;
	assert_int_equal(imap_parser_init(&p, &pp), MS_OK);
	while (off < len) {
		size_t step = len - off < 65536 ? len - off : 65536;

		rc = imap_parser_feed(&p, msg + off, step, &n);
		assert_true(rc >= 0);
		off += n;
		while (imap_parser_next_event(&p, &ev) == MS_OK) {
			if (ev.type == IMAP_EV_LITERAL_CHUNK) {
				assert_int_equal(ev.u.chunk.offset, got);
				/* The chunk is the caller's own memory. */
				assert_ptr_equal(ev.u.chunk.data.p,
				    msg + hdr + got);
				got += ev.u.chunk.data.len;
				chunks++;
			} else if (ev.type == IMAP_EV_FETCH) {
				assert_int_equal(ev.u.fetch.uid, 7);
			}
		}
	}
	assert_int_equal(got, big);
	assert_true(chunks > 100);
	assert_true(p.buf.cap <= 8192);
	imap_parser_deinit(&p);
	free(msg);
}

/* --- errors and limits ------------------------------------------------- */

struct bad_case {
	const char *input;
	const char *error;
};

static void
test_malformed(void **state)
{
	static const struct bad_case cases[] = {
		{ "* 1 FETCH (UID x)\r\n", "code=EPROTO off=0 msg=malformed "
		    "FETCH UID response" },
		{ "* 1 FETCH (UID 4294967296)\r\n", "malformed FETCH UID" },
		{ "* 1 FETCH (MODSEQ (9223372036854775808))\r\n",
		    "malformed FETCH MODSEQ" },
		{ "* 1 FETCH (FLAGS (\\Seen)\r\n", "unclosed '('" },
		{ "* 1 FETCH (FLAGS)\r\n", "FETCH item without a value" },
		{ "* 1 FETCH (FLAGS x)\r\n", "malformed FETCH FLAGS" },
		{ "* 1 FETCH UID 1)\r\n", "unbalanced ')'" },
		{ "* 1 FETCH (UID)\r\n", "FETCH item without a value" },
		{ "* 0 FETCH (UID 1)\r\n", "FETCH for message 0" },
		{ "* 4294967296 EXISTS\r\n", "bad message number" },
		{ "* 3 EXISTS x\r\n", "malformed EXISTS" },
		{ "* LIST () \"/\" \"unterminated\r\n",
		    "unterminated quoted string" },
		{ "* LIST () \"/\" \"a\\b\"\r\n", "bad escape" },
		{ "* LIST () \"/\" {5} x\r\n", "literal marker must end" },
		{ "* LIST () \"/\" {}\r\n", "bad literal size" },
		{ "* LIST () \"/\" {99999999999999999999}\r\n",
		    "literal size overflows" },
		{ "* LIST () \"//\" x\r\n", "malformed LIST delimiter" },
		{ "* VANISHED 0:3\r\n", "malformed VANISHED" },
		{ "* ESEARCH ALL 1,,2\r\n", "malformed ESEARCH ALL" },
		{ "* OK [UIDVALIDITY x] y\r\n", "bad number in UIDVALIDITY" },
		{ "* OK [COPYUID 1 2] y\r\n", "bad COPYUID response code" },
		{ "* OK [UIDNEXT 1\r\n", "unterminated response code" },
		{ "a1 FOO bar\r\n", "tagged response without OK/NO/BAD" },
		{ "a+1 OK x\r\n", "bad tag" },
		{ "*x\r\n", "expected SP after '*'" },
		{ "\r\n", "empty line" },
		{ "* CAPABILITY IMAP4rev1 \"x\"\r\n", "malformed CAPABILITY" },
		{ "* FLAGS (\\Seen\1)\r\n", "unexpected byte 0x01" },
		{ "* 1 FETCH (BODY[1 NIL)\r\n", "unterminated '['" },
		{ "* 1 FETCH (BODY[1]<x> NIL)\r\n", "bad origin" },
		{ "* NAMESPACE ((\"\" \"/\")) NIL\r\n", "malformed NAMESPACE" },
		{ "* NAMESPACE () NIL NIL\r\n", "malformed NAMESPACE" },
		{ "* 1 EXPUNGE\r\n* 0 EXPUNGE\r\n", "malformed EXPUNGE" },
	};
	struct ms_buf ev;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ev = run_short(cases[i].input);
		assert_has(&ev, "ERROR code=");
		assert_has(&ev, cases[i].error);
		assert_has(&ev, "END rc=E");
		/* Nothing follows the error: the parser is dead. */
		assert_int_equal(count_of(&ev, "ERROR"), 1);
		assert_non_null(strstr(strstr((const char *)ev.p, "ERROR"),
		    "\nEND rc=E"));
		assert_int_equal(count_of(&ev, "\n"),
		    count_of(&ev, "ERROR") + 1 + (i == sizeof(cases) /
		    sizeof(cases[0]) - 1 ? 1 : 0));
		ms_buf_deinit(&ev);
	}
}

static struct ms_buf
run_limited(const char *text, void (*adjust)(struct imap_parser_params *))
{
	struct imap_parser_params pp = params_nogreet();

	adjust(&pp);
	return check_splits(&pp, (const uint8_t *)text, strlen(text), true);
}

static void lim_line(struct imap_parser_params *pp) { pp->max_line = 10; }
static void lim_lit(struct imap_parser_params *pp) { pp->max_literal = 9; }
static void lim_inl(struct imap_parser_params *pp)
{
	pp->max_inline_literal = 3;
}
static void lim_depth(struct imap_parser_params *pp) { pp->max_depth = 2; }
static void lim_items(struct imap_parser_params *pp)
{
	pp->max_list_items = 3;
}
static void lim_resp(struct imap_parser_params *pp)
{
	pp->max_response = 26;
}

static void
test_limits(void **state)
{
	struct ms_buf ev;

	(void)state;
	ev = run_limited("* 1 EXISTS\r\n* 22 EXISTS\r\n", lim_line);
	assert_has(&ev, "EXISTS num=1\nERROR code=ETOOBIG off=12 msg=line "
	    "longer than 10 bytes");
	ms_buf_deinit(&ev);
	ev = run_limited("* 1 FETCH (BODY[] {10}\r\n", lim_lit);
	assert_has(&ev, "ERROR code=ETOOBIG off=0 msg=literal of 10 bytes "
	    "exceeds 9");
	ms_buf_deinit(&ev);
	ev = run_limited("* 1 FETCH (BODY[] {3}\r\nabc X {4}\r\nabcd)\r\n",
	    lim_inl);
	assert_has(&ev, "LITERAL_CHUNK offset=0 last=1 data=\"abc\"\n"
	    "ERROR code=ETOOBIG off=26 msg=literal of 4 bytes exceeds 3 "
	    "(not a body)");
	ms_buf_deinit(&ev);
	ev = run_limited("* XFOO (())\r\n* XFOO ((()))\r\n", lim_depth);
	assert_has(&ev, "ERROR code=ETOOBIG off=13 msg=lists nested deeper "
	    "than 2");
	ms_buf_deinit(&ev);
	ev = run_limited("* FLAGS (a b c)\r\n* FLAGS (a b c d)\r\n",
	    lim_items);
	assert_has(&ev, "FLAGS list=\"a b c\"\nERROR code=ETOOBIG off=17 "
	    "msg=more than 3 items");
	ms_buf_deinit(&ev);
	ev = run_limited("* LIST () NIL {4}\r\nabcd\r\n"
	    "* LIST () NIL {9}\r\nabcdefghi\r\n", lim_resp);
	assert_has(&ev, "name=\"abcd\"");
	assert_has(&ev, "ERROR code=ETOOBIG off=25 msg=response longer than "
	    "26 bytes");
	ms_buf_deinit(&ev);
}

/* Input that stops mid-response yields no event and no error. */
static void
test_truncated(void **state)
{
	static const char *const inputs[] = {
		"* 1 FETCH (UID 1 BODY[] {5}\r\nab",
		"* LIST () \"/\" {5}\r\nab",
		"* 3 EXIS",
		"a1 OK done",
		"* 1 FETCH (UID 1 BODY[] {2}\r\nab",
	};
	struct ms_buf ev;

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		ev = run_short(inputs[i]);
		assert_lacks(&ev, "ERROR");
		assert_lacks(&ev, "\nFETCH ");
		assert_lacks(&ev, "LIST ");
		assert_lacks(&ev, "TAGGED");
		assert_has(&ev, "END rc=AGAIN");
		ms_buf_deinit(&ev);
	}
}

static void
test_seqset(void **state)
{
	struct imap_seqset_iter it;
	struct ms_buf b;
	uint32_t lo, hi;
	size_t used;
	static const uint32_t nums[] = { 1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 12,
	    4000000000u };
	static const uint32_t unsorted[] = { 3, 2 };

	(void)state;
	imap_seqset_iter_init(&it, MS_SLICE_LIT("5:3,7,9:*"));
	assert_int_equal(imap_seqset_iter_next(&it, &lo, &hi), MS_OK);
	assert_int_equal(lo, 3);
	assert_int_equal(hi, 5);
	assert_int_equal(imap_seqset_iter_next(&it, &lo, &hi), MS_OK);
	assert_int_equal(lo, 7);
	assert_int_equal(hi, 7);
	assert_int_equal(imap_seqset_iter_next(&it, &lo, &hi), MS_OK);
	assert_int_equal(hi, IMAP_SEQ_STAR);
	assert_int_equal(imap_seqset_iter_next(&it, &lo, &hi), MS_AGAIN);
	assert_false(imap_seqset_is_valid(MS_SLICE_LIT("1,"), false));
	assert_false(imap_seqset_is_valid(MS_SLICE_LIT("1:*"), false));
	assert_true(imap_seqset_is_valid(MS_SLICE_LIT("1:*"), true));
	/* The highest UID is a number like any other; past it is not. */
	assert_true(imap_seqset_is_valid(MS_SLICE_LIT("1:4294967295"), false));
	assert_false(imap_seqset_is_valid(MS_SLICE_LIT("4294967296"), false));
	assert_false(imap_seqset_is_valid(MS_SLICE_LIT("1,*"), false));
	assert_false(imap_seqset_is_valid(MS_SLICE_LIT(""), false));

	ms_buf_init(&b, 1024);
	assert_int_equal(imap_seqset_format(&b, nums, 12, 100, &used), MS_OK);
	assert_int_equal(used, 12);
	assert_string_equal((const char *)b.p, "1:5,7,9:12,4000000000");
	ms_buf_reset(&b);
	/* Splitting: only whole ranges that fit in 8 bytes. */
	assert_int_equal(imap_seqset_format(&b, nums, 12, 8, &used), MS_OK);
	assert_string_equal((const char *)b.p, "1:5,7");
	assert_int_equal(used, 6);
	ms_buf_reset(&b);
	assert_int_equal(imap_seqset_format(&b, unsorted, 2, 100, &used),
	    MS_EINVAL);
	assert_int_equal(imap_seqset_format(&b, nums + 11, 1, 5, &used),
	    MS_EINVAL);
	ms_buf_deinit(&b);
}

static void
test_code_is_any(void **state)
{
	struct imap_resp_code c = { .name = MS_SLICE_LIT("AuthenticationFailed") };
	struct imap_resp_code none = { 0 };

	(void)state;
	assert_true(imap_code_is_any(&c, "EXPIRED AUTHENTICATIONFAILED"));
	assert_true(imap_code_is_any(&c, "AUTHENTICATIONFAILED"));
	assert_false(imap_code_is_any(&c, "AUTHENTICATION FAILED"));
	assert_false(imap_code_is_any(&c, "AUTHENTICATIONFAILEDX EXPIRED"));
	assert_false(imap_code_is_any(&c, ""));
	/* A status without a code is none of them. */
	assert_false(imap_code_is_any(&none, "INUSE UNAVAILABLE"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session1),
		cmocka_unit_test(test_session2),
		cmocka_unit_test(test_greetings),
		cmocka_unit_test(test_status_responses),
		cmocka_unit_test(test_notify_responses),
		cmocka_unit_test(test_simple_data),
		cmocka_unit_test(test_status_malformed),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_search_esearch),
		cmocka_unit_test(test_fetch_items),
		cmocka_unit_test(test_fetch_streams),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_code_is_any),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
