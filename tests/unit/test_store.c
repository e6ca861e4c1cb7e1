/*
 * test_store.c - the LMDB store on temporary directories: schema and
 * migration, ingest, dedup and refcounts, batch atomicity, map growth,
 * the process lock, iteration, pending changes, POP3 records, summaries
 * and store_check against planted damage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_int.h"
#include "test_store_util.h"

static void
test_schema_reopen(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct store_folder f, *list;
	struct ms_err err = { 0 };
	uint32_t inbox, sent, again;
	size_t n;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "work", "INBOX", '/',
					     STORE_FOLDER_INBOX, &inbox, &err),
			 MS_OK);
	assert_int_equal(store_folder_ensure(s, "work", "Sent", '/', 0, &sent,
					     &err), MS_OK);
	assert_int_not_equal(inbox, sent);
	assert_int_equal(store_folder_ensure(s, "home", "INBOX", '.', 0,
					     &again, &err), MS_OK);
	assert_int_not_equal(again, inbox);
	store_close(&s);
	assert_null(s);

	s = tsu_open(dir, 0);
	assert_int_equal(store_folder_ensure(s, "work", "INBOX", '/',
					     STORE_FOLDER_INBOX, &again, &err),
			 MS_OK);
	assert_int_equal(again, inbox);
	assert_int_equal(store_folder_find(s, "work", "Sent", &f, &err), MS_OK);
	assert_int_equal(f.id, sent);
	assert_string_equal(f.account, "work");
	assert_int_equal(f.delimiter, '/');
	assert_int_equal(store_folder_find(s, "work", "Nope", &f, &err),
			 STORE_NOTFOUND);
	assert_int_equal(store_folder_get(s, 999, &f, &err), STORE_NOTFOUND);
	assert_int_equal(store_folder_list(s, "work", &list, &n, &err), MS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "INBOX");
	assert_string_equal(list[1].name, "Sent");
	free(list);
	assert_int_equal(store_folder_list(s, NULL, &list, &n, &err), MS_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].account, "home");
	free(list);
	assert_int_equal(store_folder_ensure(s, "", "x", '/', 0, &again, &err),
			 MS_EINVAL);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

/* Several folders in one transaction (what a pass does on the threadpool):
 * the ids store_folder_ensure() would give, changed attributes written,
 * and a bad name leaves none of them. */
static void
test_folders_ensure_many(void **state)
{
	struct ms_err err = { 0 };
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct store_folder f;
	uint32_t inbox;
	struct store_folder_want v[] = {
		{ "INBOX", '/', STORE_FOLDER_INBOX, 0 },
		{ "Sent", '/', 0, 0 },
		{ "Lists/dev", '/', 0, 0 },
	};
	struct store_folder_want bad[] = {
		{ "Drafts", '/', 0, 0 },
		{ "", '/', 0, 0 },
	};

	(void)state;
	assert_int_equal(store_folder_ensure(s, "work", "INBOX", '/',
					     STORE_FOLDER_INBOX, &inbox, &err),
			 MS_OK);
	assert_int_equal(store_folders_ensure(s, "work", v, 3, &err), MS_OK);
	assert_int_equal(v[0].id, inbox);
	assert_int_not_equal(v[1].id, v[0].id);
	assert_int_not_equal(v[2].id, v[1].id);
	assert_int_not_equal(v[2].id, v[0].id);
	assert_int_equal(store_folder_find(s, "work", "Lists/dev", &f, &err),
			 MS_OK);
	assert_int_equal(f.id, v[2].id);
	v[1].attrs = STORE_FOLDER_NOSELECT;
	v[1].id = 0;
	assert_int_equal(store_folders_ensure(s, "work", v + 1, 1, &err), MS_OK);
	assert_int_equal(store_folder_find(s, "work", "Sent", &f, &err), MS_OK);
	assert_int_equal(f.id, v[1].id);
	assert_int_equal(f.attrs, STORE_FOLDER_NOSELECT);
	assert_int_equal(store_folders_ensure(s, "work", bad, 2, &err),
			 MS_EINVAL);
	assert_int_equal(store_folder_find(s, "work", "Drafts", &f, &err),
			 STORE_NOTFOUND);
	assert_int_equal(store_folders_ensure(s, "work", NULL, 0, &err), MS_OK);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

/* A first run with the default store (~/.local/share/mailsync on a fresh
 * home): the missing parents are made, private, and what is in the way is
 * named in the error. */
static void
test_open_makes_parents(void **state)
{
	char *dir = tsu_tmpdir();
	char deep[1200], file[1200];
	struct store *s = NULL;
	struct store_params sp = { 0 };
	struct ms_err err = { 0 };
	struct stat st;

	(void)state;
	snprintf(deep, sizeof(deep), "%s/home/.local/share/mailsync", dir);
	s = tsu_open(deep, 0);
	store_close(&s);
	snprintf(file, sizeof(file), "%s/home/.local", dir);
	assert_int_equal(stat(file, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);

	/* A file where a directory should be. */
	snprintf(file, sizeof(file), "%s/plain", dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(deep, sizeof(deep), "%s/plain/store", dir);
	sp.dir = deep;
	assert_int_not_equal(store_open(&s, &sp, &err), MS_OK);
	assert_null(s);
	assert_non_null(strstr(err.msg, "plain"));
	tsu_rmdir(dir);
}

static void
test_migration_and_future(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct store_params params = { .dir = dir };
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_msg_ref *refs;
	struct store_msg m;
	uint32_t fid;
	size_t n;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	tsu_add(b, s, fid, 1, "Subject: one\r\n\r\nbody one\r\n");
	tsu_add(b, s, fid, 2, "Subject: two\r\n\r\nbody two\r\n");
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	/* Turn it into a version 1 store: no body_refs. */
	assert_int_equal(store_testing_fault(s, STORE_TESTING_SCHEMA_V1, NULL,
					     &err), MS_OK);
	assert_int_equal(store_check(s, 0, &err), MS_ESTORE);
	store_close(&s);

	s = tsu_open(dir, 0);	/* migrates 1 -> 2 */
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	assert_int_equal(store_msg_get(s, fid, 2, &m, &err), MS_OK);
	assert_int_equal(store_find_by_hash(s, m.hash, &refs, &n, &err), MS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(refs[0].folder_id, fid);
	assert_int_equal(refs[0].uid, 2);
	free(refs);

	assert_int_equal(store_testing_fault(s, STORE_TESTING_SCHEMA_FUTURE,
					     NULL, &err), MS_OK);
	store_close(&s);
	assert_int_equal(store_open(&s, &params, &err), MS_ESTORE);
	assert_null(s);
	assert_non_null(strstr(err.msg, "is newer than this mailsyncd"));
	tsu_rmdir(dir);
}

static void
test_ingest_and_summary(void **state)
{
	static const char msg[] =
		"From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\n"
		"To: you@example.org\r\n"
		"Subject: =?ISO-8859-1?Q?caf=E9?= time\r\n"
		"Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
		"Message-ID: <m1@example.org>\r\n"
		"\r\n"
		"Hello.\r\n";
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_body *body;
	struct store_summary sum;
	struct store_msg m;
	struct ms_buf out;
	uint8_t hash[STORE_HASH_LEN], want[STORE_HASH_LEN];
	uint8_t (*hashes)[STORE_HASH_LEN];
	unsigned int hl;
	char buf[8];
	size_t n;
	uint32_t fid;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	body = tsu_body(s, msg, sizeof(msg) - 1, 5);
	store_body_hash(body, hash);
	EVP_Digest(msg, sizeof(msg) - 1, want, &hl, EVP_sha256(), NULL);
	assert_memory_equal(hash, want, STORE_HASH_LEN);
	assert_int_equal(store_body_size(body), sizeof(msg) - 1);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	memset(&m, 0, sizeof(m));
	m.folder_id = fid;
	m.uid = 7;
	m.flags = STORE_FLAG_SEEN;
	m.synced_flags = STORE_FLAG_SEEN;
	m.modseq = 42;
	m.internal_date = 1057049557;
	assert_int_equal(store_batch_msg_add(b, &m, body), MS_OK);
	assert_int_equal(store_batch_count(b), 1);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_batch_count(b), 0);
	store_batch_free(&b);

	memset(&m, 0, sizeof(m));
	assert_int_equal(store_msg_get(s, fid, 7, &m, &err), MS_OK);
	assert_memory_equal(m.hash, want, STORE_HASH_LEN);
	assert_int_equal(m.flags, STORE_FLAG_SEEN);
	assert_int_equal(m.modseq, 42);
	assert_int_equal(m.internal_date, 1057049557);
	assert_int_equal(m.size, sizeof(msg) - 1);
	assert_int_equal(store_msg_get(s, fid, 8, &m, &err), STORE_NOTFOUND);

	ms_buf_init(&out, 1 << 20);
	assert_int_equal(store_body_read_all(s, want, &out, &err), MS_OK);
	assert_int_equal(out.len, sizeof(msg) - 1);
	assert_memory_equal(out.p, msg, out.len);
	ms_buf_deinit(&out);
	assert_int_equal(store_body_read(s, want, 6, buf, 4, &n, &err), MS_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, msg + 6, 4);
	assert_int_equal(store_body_read(s, want, 10000, buf, 4, &n, &err),
			 MS_OK);
	assert_int_equal(n, 0);

	assert_int_equal(store_summary_get(s, want, &sum, &err), MS_OK);
	assert_string_equal(sum.from, "Jürgen <j@example.org>");
	assert_string_equal(sum.to, "you@example.org");
	assert_string_equal(sum.subject, "café time");
	assert_string_equal(sum.message_id, "m1@example.org");
	assert_true(sum.has_date);
	assert_int_equal(sum.date, 1057049557);
	store_summary_deinit(&sum);

	assert_int_equal(store_find_by_msgid(s, "m1@example.org", &hashes, &n,
					     &err), MS_OK);
	assert_int_equal(n, 1);
	assert_memory_equal(hashes[0], want, STORE_HASH_LEN);
	free(hashes);
	assert_int_equal(store_find_by_msgid(s, "m2@example.org", &hashes, &n,
					     &err), MS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

static void
test_dedup_refcount(void **state)
{
	static const char text[] = "Message-ID: <dup@x>\r\n\r\nsame bytes\r\n";
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_msg m;
	struct store_msg_ref *refs;
	struct store_folder f;
	struct store_summary sum;
	uint8_t (*hashes)[STORE_HASH_LEN];
	uint8_t hash[STORE_HASH_LEN], buf[4];
	uint32_t f1, f2;
	size_t n;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &f1,
					     &err), MS_OK);
	assert_int_equal(store_folder_ensure(s, "a", "Archive", '/', 0, &f2,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	/* Twice in one batch, then again in another. */
	tsu_add(b, s, f1, 1, text);
	tsu_add(b, s, f2, 10, text);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	tsu_add(b, s, f2, 11, text);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_check(s, 0, &err), MS_OK);

	assert_int_equal(store_msg_get(s, f1, 1, &m, &err), MS_OK);
	memcpy(hash, m.hash, sizeof(hash));
	assert_int_equal(store_find_by_hash(s, hash, &refs, &n, &err), MS_OK);
	assert_int_equal(n, 3);
	free(refs);
	assert_int_equal(store_find_by_msgid(s, "dup@x", &hashes, &n, &err),
			 MS_OK);
	assert_int_equal(n, 1);	/* stored once */
	free(hashes);
	assert_int_equal(store_folder_get(s, f2, &f, &err), MS_OK);
	assert_int_equal(f.local_count, 2);

	/* Expunging two of three references keeps the body. */
	assert_int_equal(store_batch_msg_expunge(b, f1, 1, 1), MS_OK);
	assert_int_equal(store_batch_msg_expunge(b, f2, 11, 4000000000u),
			 MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	assert_int_equal(store_body_read(s, hash, 0, buf, 4, &n, &err), MS_OK);
	assert_int_equal(store_msg_get(s, f1, 1, &m, &err), STORE_NOTFOUND);
	assert_int_equal(store_folder_get(s, f2, &f, &err), MS_OK);
	assert_int_equal(f.local_count, 1);

	/* A body re-referenced by hash alone (UIDVALIDITY re-match), after
	 * its last record went earlier in the same batch: bodies at zero
	 * are only collected at the end of the commit. */
	assert_int_equal(store_batch_msg_expunge(b, f2, 10, 10), MS_OK);
	memset(&m, 0, sizeof(m));
	m.folder_id = f1;
	m.uid = 100;
	memcpy(m.hash, hash, sizeof(hash));
	assert_int_equal(store_batch_msg_add(b, &m, NULL), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_msg_get(s, f1, 100, &m, &err), MS_OK);
	assert_int_equal(m.size, sizeof(text) - 1);
	assert_int_equal(store_check(s, 0, &err), MS_OK);

	/* The last reference goes: body, summary and index go with it. */
	assert_int_equal(store_batch_folder_delete(b, f1), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_body_read(s, hash, 0, buf, 4, &n, &err),
			 STORE_NOTFOUND);
	assert_int_equal(store_summary_get(s, hash, &sum, &err),
			 STORE_NOTFOUND);
	assert_int_equal(store_find_by_msgid(s, "dup@x", &hashes, &n, &err),
			 MS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_folder_get(s, f1, &f, &err), STORE_NOTFOUND);
	assert_int_equal(store_folder_find(s, "a", "INBOX", &f, &err),
			 STORE_NOTFOUND);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	store_batch_free(&b);
	store_close(&s);
	tsu_rmdir(dir);
}

/* A record removed while it has a Maildir file leaves a leftover that
 * holds its body until cleared; a folder's deletion drops its leftovers. */
/* What the mirror records of a folder's Maildir: kept, read back,
 * removed; the stamp moves with every change the mirror depends on (a
 * record added or its flags changed, an expunge leaving a leftover, a
 * leftover cleared) and not with a recorded file name. */
static void
test_mirror_dir(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_mirror_dir d = { 0 }, got;
	struct store_mirror_stamp st[6];
	const struct store_mirror_dir *dv[2];
	uint32_t f1, ids[2];

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &f1,
					     &err), MS_OK);
	assert_int_equal(store_mirror_dir_get(s, f1, &got, &err),
			 STORE_NOTFOUND);
	d.sub[0] = (struct store_mirror_sub){ 1, 2, 3, 4, 5, 6 };
	d.sub[1] = (struct store_mirror_sub){ 7, 8, -9, 999999999, 11, 12 };
	d.stamp = (struct store_mirror_stamp){ 13, 14, 15, 16 };
	d.uidvalidity = 17;
	d.attrs = 18;
	d.local_count = 19;
	d.max_local_seq = UINT64_MAX;
	ids[0] = f1;
	dv[0] = &d;
	assert_int_equal(store_mirror_dir_put(s, ids, dv, 1, &err), MS_OK);
	assert_int_equal(store_mirror_dir_get(s, f1, &got, &err), MS_OK);
	assert_memory_equal(&got, &d, sizeof(d));
	dv[0] = NULL;
	assert_int_equal(store_mirror_dir_put(s, ids, dv, 1, &err), MS_OK);
	assert_int_equal(store_mirror_dir_get(s, f1, &got, &err),
			 STORE_NOTFOUND);

	assert_int_equal(store_mirror_stamp_get(s, &st[0], &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	tsu_add(b, s, f1, 1, "Subject: one\r\n\r\nx\r\n");
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_mirror_stamp_get(s, &st[1], &err), MS_OK);
	assert_int_equal(store_batch_msg_mirror(b, f1, 1, "7-1-aa,U=1"), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_mirror_stamp_get(s, &st[2], &err), MS_OK);
	assert_int_equal(store_batch_msg_flags(b, f1, 1, STORE_FLAG_SEEN,
					       STORE_FLAG_SEEN, 0), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_mirror_stamp_get(s, &st[3], &err), MS_OK);
	assert_int_equal(store_batch_msg_expunge(b, f1, 1, 1), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_mirror_stamp_get(s, &st[4], &err), MS_OK);
	assert_int_equal(store_batch_leftover_clear(b, f1, "7-1-aa"), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_mirror_stamp_get(s, &st[5], &err), MS_OK);
	assert_memory_not_equal(&st[0], &st[1], sizeof(st[0]));
	assert_memory_equal(&st[1], &st[2], sizeof(st[0]));
	assert_memory_not_equal(&st[2], &st[3], sizeof(st[0]));
	assert_int_equal(st[4].leftovers, st[3].leftovers + 1);
	assert_int_equal(st[5].leftovers, st[3].leftovers);
	store_batch_free(&b);
	store_close(&s);
	tsu_rmdir(dir);
}

static void
test_leftovers(void **state)
{
	static const char text[] = "Subject: left\r\n\r\nover\r\n";
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_leftover *v;
	struct store_msg m;
	uint8_t hash[STORE_HASH_LEN], buf[4];
	uint32_t f1;
	size_t n;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &f1,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	tsu_add(b, s, f1, 1, text);
	tsu_add(b, s, f1, 2, "Subject: other\r\n\r\nx\r\n");
	tsu_add(b, s, f1, 3, "Subject: third\r\n\r\ny\r\n");
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_batch_msg_mirror(b, f1, 1, "7-1-aa,U=1:2,S"),
			 MS_OK);
	assert_int_equal(store_batch_msg_mirror(b, f1, 3, "7-3-cc,U=3"), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_msg_get(s, f1, 1, &m, &err), MS_OK);
	memcpy(hash, m.hash, STORE_HASH_LEN);
	/* uid 2 had no file: no leftover. */
	assert_int_equal(store_batch_msg_expunge(b, f1, 1, 3), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	assert_int_equal(store_leftover_list(s, f1, &v, &n, &err), MS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].part, "7-1-aa");
	assert_memory_equal(v[0].hash, hash, STORE_HASH_LEN);
	assert_string_equal(v[1].part, "7-3-cc");
	free(v);
	assert_int_equal(store_body_read(s, hash, 0, buf, 4, &n, &err), MS_OK);
	/* Cleared: the body goes with its last reference. */
	assert_int_equal(store_batch_leftover_clear(b, f1, "7-1-aa"), MS_OK);
	assert_int_equal(store_batch_leftover_clear(b, f1, "7-9-zz"), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_body_read(s, hash, 0, buf, 4, &n, &err),
			 STORE_NOTFOUND);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	assert_int_equal(store_batch_folder_delete(b, f1), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_leftover_list(s, f1, &v, &n, &err), MS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	store_batch_free(&b);
	store_close(&s);
	tsu_rmdir(dir);
}

static void
test_replace_and_flags(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_msg m;
	uint64_t seq1;
	uint32_t fid;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	tsu_add(b, s, fid, 5, "first version");
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_msg_get(s, fid, 5, &m, &err), MS_OK);
	seq1 = m.local_seq;
	/* Same (folder, uid), other bytes: the old body goes. */
	tsu_add(b, s, fid, 5, "second version");
	assert_int_equal(store_batch_msg_flags(b, fid, 5, STORE_FLAG_FLAGGED,
					       STORE_FLAG_SEEN, 9), MS_OK);
	assert_int_equal(store_batch_msg_flags(b, fid, 6, 1, 1, 1), MS_OK);
	assert_int_equal(store_batch_msg_mirror(b, fid, 5, "123.abc:2,F"),
			 MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_msg_get(s, fid, 5, &m, &err), MS_OK);
	assert_int_equal(m.flags, STORE_FLAG_FLAGGED);
	assert_int_equal(m.synced_flags, STORE_FLAG_SEEN);
	assert_int_equal(m.modseq, 9);
	assert_int_equal(m.size, strlen("second version"));
	assert_string_equal(m.mirror_name, "123.abc:2,F");
	assert_true(m.local_seq > seq1);
	assert_int_equal(store_msg_get(s, fid, 6, &m, &err), STORE_NOTFOUND);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	store_batch_free(&b);
	store_close(&s);
	tsu_rmdir(dir);
}

static void
test_batch_atomic(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_msg m;
	struct store_folder f;
	struct store_folder_state st = { .uidvalidity = 7, .uidnext = 4 };
	uint32_t fid;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	tsu_add(b, s, fid, 1, "one");
	tsu_add(b, s, fid, 2, "two");
	tsu_add(b, s, fid, 3, "three");
	assert_int_equal(store_batch_folder_state(b, fid, &st,
						  STORE_FS_UIDVALIDITY |
						  STORE_FS_UIDNEXT), MS_OK);
	/* A record naming a body the store does not have. */
	memset(&m, 0, sizeof(m));
	m.folder_id = fid;
	m.uid = 4;
	memset(m.hash, 0xab, sizeof(m.hash));
	assert_int_equal(store_batch_msg_add(b, &m, NULL), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_EINVAL);
	assert_non_null(strstr(err.msg, "no body in the store"));
	assert_int_equal(store_batch_count(b), 5);	/* unchanged */
	assert_int_equal(store_msg_get(s, fid, 1, &m, &err), STORE_NOTFOUND);
	assert_int_equal(store_folder_get(s, fid, &f, &err), MS_OK);
	assert_int_equal(f.state.uidnext, 0);
	assert_int_equal(f.local_count, 0);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	store_batch_free(&b);

	/* A batch for an unknown folder fails as a whole too. */
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	tsu_add(b, s, fid, 1, "one");
	assert_int_equal(store_batch_folder_state(b, 4242, &st,
						  STORE_FS_UIDNEXT), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_EINVAL);
	assert_int_equal(store_msg_get(s, fid, 1, &m, &err), STORE_NOTFOUND);
	store_batch_free(&b);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

/* The meta page syncs of the commits that must be durable, counted. */
static unsigned long
durable_syncs(struct store *s)
{
	return __atomic_load_n(&s->n_durable_syncs, __ATOMIC_RELAXED);
}

/*
 * What each commit costs the disk.  LMDB 0.9 ignores MDB_NOMETASYNC on a
 * transaction, so the store opens the environment with it and syncs the
 * meta page itself after a durable commit only: a lazy commit syncs once
 * (its data pages), a durable one twice, and one that changes nothing
 * not at all.  A durable commit after lazy ones makes them durable too,
 * and so does a clean close.
 */
static void
test_commit_syncs(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_msg m;
	const struct store_mirror_dir *dv[1] = { NULL };
	unsigned int flags = 0;
	unsigned long n;
	uint32_t fid;

	(void)state;
	assert_int_equal(mdb_env_get_flags(s->env, &flags), 0);
	assert_true((flags & MDB_NOMETASYNC) != 0);
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	n = durable_syncs(s);
	tsu_add(b, s, fid, 1, "one");
	assert_int_equal(store_batch_commit_lazy(b, &err), MS_OK);
	assert_int_equal(durable_syncs(s), n);
	assert_true(s->is_lazy_pending);
	tsu_add(b, s, fid, 2, "two");
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(durable_syncs(s), n + 1);
	assert_false(s->is_lazy_pending);
	/* A transaction that changes nothing (removing a record that is
	 * not there) is not written, and syncs nothing. */
	assert_int_equal(store_mirror_dir_put(s, &fid, dv, 1, &err), MS_OK);
	assert_int_equal(durable_syncs(s), n + 1);
	tsu_add(b, s, fid, 3, "three");
	assert_int_equal(store_batch_commit_lazy(b, &err), MS_OK);
	assert_int_equal(durable_syncs(s), n + 1);
	store_batch_free(&b);
	store_close(&s);
	s = tsu_open(dir, 0);
	for (uint32_t uid = 1; uid <= 3; uid++)
		assert_int_equal(store_msg_get(s, fid, uid, &m, &err), MS_OK);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

/* A lazy commit is a commit: atomic, seen at once, kept by the next
 * durable commit and a reopen. */
static void
test_batch_lazy(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_msg m;
	struct store_folder f;
	uint32_t fid;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	tsu_add(b, s, fid, 1, "one");
	assert_int_equal(store_batch_commit_lazy(b, &err), MS_OK);
	assert_int_equal(store_batch_count(b), 0);
	assert_int_equal(store_msg_get(s, fid, 1, &m, &err), MS_OK);
	assert_int_equal(store_batch_msg_mirror(b, fid, 1, "1-1,U=1"), MS_OK);
	assert_int_equal(store_batch_commit_lazy(b, &err), MS_OK);
	/* A failing lazy batch leaves nothing, like a durable one. */
	tsu_add(b, s, fid, 2, "two");
	memset(&m, 0, sizeof(m));
	m.folder_id = fid;
	m.uid = 3;
	memset(m.hash, 0xab, sizeof(m.hash));
	assert_int_equal(store_batch_msg_add(b, &m, NULL), MS_OK);
	assert_int_equal(store_batch_commit_lazy(b, &err), MS_EINVAL);
	assert_int_equal(store_msg_get(s, fid, 2, &m, &err), STORE_NOTFOUND);
	store_batch_free(&b);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	tsu_add(b, s, fid, 2, "two");
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	store_close(&s);

	s = tsu_open(dir, 0);
	assert_int_equal(store_msg_get(s, fid, 1, &m, &err), MS_OK);
	assert_string_equal(m.mirror_name, "1-1,U=1");
	assert_int_equal(store_msg_get(s, fid, 2, &m, &err), MS_OK);
	assert_int_equal(store_folder_get(s, fid, &f, &err), MS_OK);
	assert_int_equal(f.local_count, 2);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

static void
test_map_growth(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 256 * 1024);
	struct ms_err err = { 0 };
	struct store_batch *b;
	size_t before = store_map_size(s);
	char *text = malloc(300 * 1024);
	uint32_t fid, x = 12345;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	for (uint32_t uid = 1; uid <= 12; uid++) {
		/* Letters at random: the store compresses a run of one
		 * letter to nothing, and the map would not grow. */
		for (size_t i = 0; i < 300 * 1024 - 1; i++) {
			x = x * 1103515245u + 12345u;
			text[i] = (char)('a' + (x >> 16) % 26);
		}
		text[300 * 1024 - 1] = '\0';
		tsu_add(b, s, fid, uid, text);
		if (uid % 4 == 0)
			assert_int_equal(store_batch_commit(b, &err), MS_OK);
	}
	assert_true(store_map_size(s) >= 4 * before);
	store_batch_free(&b);
	store_close(&s);
	s = tsu_open(dir, 256 * 1024);
	assert_true(store_map_size(s) >= 4 * before);	/* kept */
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	store_close(&s);
	free(text);
	tsu_rmdir(dir);
}

static void
test_lock(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0), *s2 = NULL;
	struct store_params params = { .dir = dir };
	struct ms_err err = { 0 };
	char want[64];

	(void)state;
	assert_int_equal(store_open(&s2, &params, &err), MS_ESTORE);
	assert_null(s2);
	snprintf(want, sizeof(want), "is in use by pid %ld", (long)getpid());
	assert_non_null(strstr(err.msg, want));
	store_close(&s);
	assert_int_equal(store_open(&s2, &params, &err), MS_OK);
	store_close(&s2);
	tsu_rmdir(dir);
}

static void
test_iteration(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_msg_iter *it;
	struct store_msg m;
	uint32_t f1, f2, expect;
	char text[32];
	int rc;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "A", '/', 0, &f1, &err),
			 MS_OK);
	assert_int_equal(store_folder_ensure(s, "a", "B", '/', 0, &f2, &err),
			 MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	/* UIDs 3, 6, ..., 1500 added in a scrambled order, over several
	 * iterator chunks; and a neighbour folder that must not leak in. */
	for (uint32_t i = 0; i < 500; i++) {
		uint32_t uid = 3 * (1 + (i * 7919) % 500);

		snprintf(text, sizeof(text), "msg %u", uid);
		tsu_add(b, s, f1, uid, text);
	}
	tsu_add(b, s, f2, 1, "other");
	tsu_add(b, s, f2, 2, "other 2");
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);

	assert_int_equal(store_msg_iter_new(s, f1, 0, &it), MS_OK);
	expect = 3;
	while ((rc = store_msg_iter_next(it, &m, &err)) == MS_OK) {
		assert_int_equal(m.folder_id, f1);
		assert_int_equal(m.uid, expect);
		expect += 3;
	}
	assert_int_equal(rc, STORE_NOTFOUND);
	assert_int_equal(expect, 1503);
	store_msg_iter_free(&it);
	/* From the middle. */
	assert_int_equal(store_msg_iter_new(s, f1, 1000, &it), MS_OK);
	assert_int_equal(store_msg_iter_next(it, &m, &err), MS_OK);
	assert_int_equal(m.uid, 1002);
	store_msg_iter_free(&it);
	assert_int_equal(store_msg_iter_new(s, f2 + 1, 0, &it), MS_OK);
	assert_int_equal(store_msg_iter_next(it, &m, &err), STORE_NOTFOUND);
	store_msg_iter_free(&it);
	store_close(&s);
	tsu_rmdir(dir);
}

static void
test_changes_and_pop3(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_change c, *list;
	struct store_pop3 rec;
	struct store_body *body;
	uint8_t h_append[STORE_HASH_LEN], h_pop[STORE_HASH_LEN], buf[4];
	uint32_t fid;
	size_t n;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	memset(&c, 0, sizeof(c));
	c.kind = STORE_CHANGE_FLAGS;
	c.folder_id = fid;
	c.uid = 3;
	c.flags_add = STORE_FLAG_SEEN;
	assert_int_equal(store_batch_change_add(b, &c, NULL), MS_OK);
	c.kind = STORE_CHANGE_DELETE;
	c.uid = 4;
	assert_int_equal(store_batch_change_add(b, &c, NULL), MS_OK);
	body = tsu_body(s, "Subject: draft\r\n\r\nx", 19, 3);
	store_body_hash(body, h_append);
	c.kind = STORE_CHANGE_APPEND;
	c.uid = 0;
	c.internal_date = 99;
	assert_int_equal(store_batch_change_add(b, &c, body), MS_OK);
	body = tsu_body(s, "pop3 message", 12, 100);
	store_body_hash(body, h_pop);
	memset(&rec, 0, sizeof(rec));
	rec.fetched = 1234;
	assert_int_equal(store_batch_pop3_put(b, "pop", "UID-1", &rec, body),
			 MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	store_batch_free(&b);
	store_close(&s);

	s = tsu_open(dir, 0);
	assert_int_equal(store_change_list(s, 0, 100, &list, &n, &err), MS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(list[0].kind, STORE_CHANGE_FLAGS);
	assert_int_equal(list[0].flags_add, STORE_FLAG_SEEN);
	assert_int_equal(list[1].kind, STORE_CHANGE_DELETE);
	assert_int_equal(list[1].uid, 4);
	assert_int_equal(list[2].kind, STORE_CHANGE_APPEND);
	assert_memory_equal(list[2].hash, h_append, STORE_HASH_LEN);
	assert_int_equal(list[2].internal_date, 99);
	assert_true(list[0].seq < list[1].seq && list[1].seq < list[2].seq);
	uint64_t s1 = list[0].seq, s3 = list[2].seq;
	free(list);
	assert_int_equal(store_change_list(s, s1, 1, &list, &n, &err), MS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].kind, STORE_CHANGE_DELETE);
	free(list);
	assert_int_equal(store_pop3_get(s, "pop", "UID-1", &rec, &err), MS_OK);
	assert_memory_equal(rec.hash, h_pop, STORE_HASH_LEN);
	assert_int_equal(rec.fetched, 1234);
	assert_int_equal(store_pop3_get(s, "pop", "UID-2", &rec, &err),
			 STORE_NOTFOUND);

	/* Clearing the APPEND and the POP3 record frees their bodies. */
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	assert_int_equal(store_batch_change_clear(b, s1), MS_OK);
	assert_int_equal(store_batch_change_clear(b, s3), MS_OK);
	assert_int_equal(store_batch_change_clear(b, 999999), MS_OK);
	assert_int_equal(store_batch_pop3_delete(b, "pop", "UID-1"), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(store_change_list(s, 0, 100, &list, &n, &err), MS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].kind, STORE_CHANGE_DELETE);
	free(list);
	assert_int_equal(store_body_read(s, h_append, 0, buf, 4, &n, &err),
			 STORE_NOTFOUND);
	assert_int_equal(store_body_read(s, h_pop, 0, buf, 4, &n, &err),
			 STORE_NOTFOUND);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

/* The store answers one folder's pending changes itself, in order; a
 * MOVE is its source folder's. */
static void
test_change_list_folder(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_change c, *list;
	uint32_t inbox, sent;
	size_t n;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &inbox,
					     &err), MS_OK);
	assert_int_equal(store_folder_ensure(s, "a", "Sent", '/', 0, &sent,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	memset(&c, 0, sizeof(c));
	for (uint32_t uid = 1; uid <= 6; uid++) {
		c.kind = uid == 5 ? STORE_CHANGE_MOVE : STORE_CHANGE_FLAGS;
		c.folder_id = uid % 2 ? inbox : sent;
		c.dest_folder_id = uid == 5 ? sent : 0;
		c.uid = uid;
		c.flags_add = STORE_FLAG_SEEN;
		assert_int_equal(store_batch_change_add(b, &c, NULL), MS_OK);
	}
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(store_change_list_folder(s, inbox, 100, &list, &n,
						  &err), MS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(list[0].uid, 1);
	assert_int_equal(list[1].uid, 3);
	assert_int_equal(list[2].uid, 5);
	assert_int_equal(list[2].kind, STORE_CHANGE_MOVE);
	free(list);
	assert_int_equal(store_change_list_folder(s, sent, 2, &list, &n,
						  &err), MS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].uid, 2);
	assert_int_equal(list[1].uid, 4);
	free(list);
	assert_int_equal(store_change_list_folder(s, 999, 100, &list, &n,
						  &err), MS_OK);
	assert_int_equal(n, 0);
	assert_null(list);
	store_close(&s);
	tsu_rmdir(dir);
}

/* Local changes are one operation each: flags update the record and
 * queue the difference (synced flags kept), delete/move/append queue
 * their change; an append's body stays referenced. */
static void
test_local_changes(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_change *list;
	struct store_msg m;
	uint8_t h[STORE_HASH_LEN], buf[8];
	uint32_t inbox, sent;
	size_t n;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &inbox,
					     &err), MS_OK);
	assert_int_equal(store_folder_ensure(s, "a", "Sent", '/', 0, &sent,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	tsu_add(b, s, inbox, 7, "Subject: x\r\n\r\nbody");
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_msg_get(s, inbox, 7, &m, &err), MS_OK);
	assert_int_equal(m.flags, 1);
	/* The same flags: nothing recorded. */
	assert_int_equal(store_batch_local_flags(b, &m, m.flags), 0);
	assert_int_equal(store_batch_local_flags(b, &m, STORE_FLAG_FLAGGED), 1);
	assert_int_equal(store_batch_local_delete(b, inbox, 8), MS_OK);
	assert_int_equal(store_batch_local_move(b, inbox, 9, sent), MS_OK);
	{
		struct store_body *body = tsu_body(s, "Subject: d\r\n\r\nd", 15,
						   4);

		store_body_hash(body, h);
		assert_int_equal(store_batch_local_append(b, sent, body, 42,
							  STORE_FLAG_DRAFT),
				 MS_OK);
	}
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(store_msg_get(s, inbox, 7, &m, &err), MS_OK);
	assert_int_equal(m.flags, STORE_FLAG_FLAGGED);
	assert_int_equal(store_change_list(s, 0, 100, &list, &n, &err), MS_OK);
	assert_int_equal(n, 4);
	assert_int_equal(list[0].kind, STORE_CHANGE_FLAGS);
	assert_int_equal(list[0].uid, 7);
	assert_int_equal(list[0].flags_add, STORE_FLAG_FLAGGED);
	assert_int_equal(list[0].flags_remove, 1);
	assert_int_equal(list[1].kind, STORE_CHANGE_DELETE);
	assert_int_equal(list[1].uid, 8);
	assert_int_equal(list[2].kind, STORE_CHANGE_MOVE);
	assert_int_equal(list[2].dest_folder_id, sent);
	assert_int_equal(list[3].kind, STORE_CHANGE_APPEND);
	assert_int_equal(list[3].folder_id, sent);
	assert_int_equal(list[3].internal_date, 42);
	assert_int_equal(list[3].flags_add, STORE_FLAG_DRAFT);
	assert_memory_equal(list[3].hash, h, STORE_HASH_LEN);
	free(list);
	assert_int_equal(store_body_read(s, h, 0, buf, 8, &n, &err), MS_OK);
	assert_memory_equal(buf, "Subject:", 8);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

/* Each planted fault is found by store_check. */
/*
 * A refused APPEND is recorded next to its change, durably: listed by
 * folder, replaced by a later refusal, gone with its change, and cleared
 * by the user's retry, except an ALTERED one (its copy is on the server).
 */
static void
test_refusals(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_change *ch;
	struct store_refusal *v, r = { .kind = STORE_REFUSAL_REFUSED };
	uint32_t inbox, sent;
	size_t n;

	(void)state;
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &inbox,
					     &err), MS_OK);
	assert_int_equal(store_folder_ensure(s, "a", "Sent", '/', 0, &sent,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	for (int i = 0; i < 3; i++) {
		char text[32];
		int len = snprintf(text, sizeof(text), "Subject: %d\r\n\r\nx",
				   i);

		assert_int_equal(store_batch_local_append(b, i == 2 ? sent :
				inbox, tsu_body(s, text, (size_t)len, 4), 0, 0),
				 MS_OK);
	}
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_change_list(s, 0, 10, &ch, &n, &err), MS_OK);
	assert_int_equal(n, 3);
	/* A refusal of a change that is not pending is not recorded. */
	r.seq = ch[2].seq + 100;
	assert_int_equal(store_batch_refusal_put(b, &r), MS_OK);
	r.seq = ch[0].seq;
	r.folder_id = inbox;
	r.when = 1000;
	snprintf(r.text, sizeof(r.text), "first");
	assert_int_equal(store_batch_refusal_put(b, &r), MS_OK);
	snprintf(r.text, sizeof(r.text), "[TOOBIG] no");
	assert_int_equal(store_batch_refusal_put(b, &r), MS_OK);
	r.seq = ch[1].seq;
	r.kind = STORE_REFUSAL_ALTERED;
	/* What it was sent as goes with it, the text cut to make room. */
	r.sent_form = STORE_SENT_CRLF;
	memset(r.sent_hash, 0xab, sizeof(r.sent_hash));
	memset(r.text, 'x', STORE_REFUSAL_TEXT_MAX);
	r.text[STORE_REFUSAL_TEXT_MAX] = '\0';
	assert_int_equal(store_batch_refusal_put(b, &r), MS_OK);
	r.sent_form = STORE_SENT_UNKNOWN;
	snprintf(r.text, sizeof(r.text), "[TOOBIG] no");
	r.seq = ch[2].seq;
	r.folder_id = sent;
	r.kind = STORE_REFUSAL_UNSENDABLE;
	assert_int_equal(store_batch_refusal_put(b, &r), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	assert_int_equal(store_refusal_list(s, 0, &v, &n, &err), MS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].seq, ch[0].seq);
	assert_int_equal(v[0].kind, STORE_REFUSAL_REFUSED);
	assert_int_equal(v[0].when, 1000);
	assert_string_equal(v[0].text, "[TOOBIG] no");
	free(v);
	assert_int_equal(store_refusal_list(s, sent, &v, &n, &err), MS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].seq, ch[2].seq);
	assert_int_equal(v[0].kind, STORE_REFUSAL_UNSENDABLE);
	free(v);
	/* Clearing the change clears its refusal. */
	assert_int_equal(store_batch_change_clear(b, ch[2].seq), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_refusal_list(s, sent, &v, &n, &err), MS_OK);
	assert_int_equal(n, 0);
	assert_null(v);
	/* Durable: a reopened store has them. */
	store_batch_free(&b);
	store_close(&s);
	s = tsu_open(dir, 0);
	assert_int_equal(store_refusal_list(s, inbox, &v, &n, &err), MS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].sent_form, STORE_SENT_UNKNOWN);
	assert_int_equal(v[1].sent_form, STORE_SENT_CRLF);
	assert_int_equal(v[1].sent_hash[0], 0xab);
	assert_int_equal(v[1].sent_hash[STORE_HASH_LEN - 1], 0xab);
	assert_int_equal(strlen(v[1].text), STORE_REFUSAL_TEXT_MAX - 34);
	free(v);
	/* The user's retry clears them, but the ALTERED one. */
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	assert_int_equal(store_batch_refusals_clear(b, 0), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(store_refusal_list(s, 0, &v, &n, &err), MS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].seq, ch[1].seq);
	assert_int_equal(v[0].kind, STORE_REFUSAL_ALTERED);
	free(v);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	free(ch);
	store_close(&s);
	tsu_rmdir(dir);
}

static void
test_check_detects(void **state)
{
	static const enum store_testing_fault faults[] = {
		STORE_TESTING_DROP_BODY,
		STORE_TESTING_BUMP_REFCOUNT,
		STORE_TESTING_ORPHAN_BODY,
	};
	static const char *const want[] = {
		"body bytes missing", "refcount wrong", "orphaned body bytes",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		char *dir = tsu_tmpdir();
		struct store *s = tsu_open(dir, 0);
		struct ms_err err = { 0 };
		struct store_batch *b;
		struct store_msg m;
		uint32_t fid;

		assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0,
						     &fid, &err), MS_OK);
		assert_int_equal(store_batch_new(s, &b), MS_OK);
		tsu_add(b, s, fid, 1, "one");
		tsu_add(b, s, fid, 2, "two");
		assert_int_equal(store_batch_commit(b, &err), MS_OK);
		store_batch_free(&b);
		assert_int_equal(store_check(s, 0, &err), MS_OK);
		assert_int_equal(store_msg_get(s, fid, 2, &m, &err), MS_OK);
		assert_int_equal(store_testing_fault(s, faults[i], m.hash,
						     &err), MS_OK);
		assert_int_equal(store_check(s, 0, &err), MS_ESTORE);
		assert_non_null(strstr(err.msg, want[i]));
		store_close(&s);
		tsu_rmdir(dir);
	}
}

static void
test_body_limits(void **state)
{
	char *dir = tsu_tmpdir();
	struct store_params params = { .dir = dir, .spool_threshold = 64,
				       .max_body_size = 1000 };
	struct ms_err err = { 0 };
	struct store_body_writer *w;
	struct store_body *body;
	struct store_batch *b;
	struct store *s;
	char buf[600];
	uint32_t fid;

	(void)state;
	assert_int_equal(store_open(&s, &params, &err), MS_OK);
	assert_int_equal(store_body_writer_new(s, 5000, &w, &err), MS_ETOOBIG);
	assert_null(w);
	assert_int_equal(store_body_writer_new(s, 0, &w, &err), MS_OK);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(store_body_writer_write(w, buf, sizeof(buf), &err),
			 MS_OK);
	assert_int_equal(store_body_writer_write(w, buf, sizeof(buf), &err),
			 MS_ETOOBIG);
	store_body_writer_free(&w);
	assert_null(w);
	/* Over the spool threshold: goes through a spool file. */
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &fid,
					     &err), MS_OK);
	body = tsu_body(s, buf, sizeof(buf), 50);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	{
		struct store_msg m = { .folder_id = fid, .uid = 1 };

		assert_int_equal(store_batch_msg_add(b, &m, body), MS_OK);
	}
	assert_int_equal(store_batch_mem(b), 0);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(store_check(s, STORE_CHECK_HASHES, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

static void
test_outbox(void **state)
{
	static const char text[] = "From: me@x\r\nSubject: out\r\n\r\nhi\r\n";
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_outbox e, *list;
	struct store_summary sum;
	uint8_t hash[STORE_HASH_LEN], buf[4];
	uint64_t id1, id2, id3;
	struct store_body *body;
	size_t n;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.state = STORE_OUTBOX_QUEUED;
	e.created = 111;
	e.account = "work";
	e.from = "me@x";
	e.rcpts = "a@y\nb@z";
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	body = tsu_body(s, text, sizeof(text) - 1, 8);
	store_body_hash(body, hash);
	assert_int_equal(store_batch_outbox_add(b, &e, body, &id1), MS_OK);
	/* The same message queued twice shares its body. */
	memcpy(e.hash, hash, sizeof(hash));
	assert_int_equal(store_batch_outbox_add(b, &e, NULL, &id2), MS_OK);
	assert_true(id2 > id1);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_batch_outbox_update(b, id1, STORE_OUTBOX_FAILED,
						   3, 999, "550 no such user"),
			 MS_OK);
	assert_int_equal(store_batch_outbox_update(b, 4242, STORE_OUTBOX_FAILED,
						   1, 1, "x"), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	store_close(&s);

	s = tsu_open(dir, 0);
	assert_int_equal(store_outbox_list(s, &list, &n, &err), MS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, id1);
	assert_int_equal(list[0].state, STORE_OUTBOX_FAILED);
	assert_int_equal(list[0].attempts, 3);
	assert_int_equal(list[0].next_attempt, 999);
	assert_int_equal(list[0].created, 111);
	assert_string_equal(list[0].last_error, "550 no such user");
	assert_string_equal(list[0].account, "work");
	assert_string_equal(list[0].rcpts, "a@y\nb@z");
	assert_memory_equal(list[0].hash, hash, STORE_HASH_LEN);
	assert_int_equal(list[1].state, STORE_OUTBOX_QUEUED);
	assert_string_equal(list[1].last_error, "");
	for (size_t i = 0; i < n; i++)
		store_outbox_deinit(&list[i]);
	free(list);
	assert_int_equal(store_summary_get(s, hash, &sum, &err), MS_OK);
	assert_string_equal(sum.subject, "out");
	store_summary_deinit(&sum);

	/* Ids keep increasing across a reopen; deleting frees the body. */
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	assert_int_equal(store_batch_outbox_add(b, &e, NULL, &id3), MS_OK);
	assert_true(id3 > id2);
	assert_int_equal(store_batch_outbox_delete(b, id1), MS_OK);
	assert_int_equal(store_batch_outbox_delete(b, id2), MS_OK);
	assert_int_equal(store_batch_outbox_delete(b, id3), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(store_body_read(s, hash, 0, buf, 4, &n, &err),
			 STORE_NOTFOUND);
	assert_int_equal(store_outbox_list(s, &list, &n, &err), MS_OK);
	assert_int_equal(n, 0);
	assert_null(list);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	store_close(&s);
	tsu_rmdir(dir);
}

/* Sending's fields: rewritten whole by outbox_set, hash and creation
 * kept; another message's hash refused; a record written before these
 * fields existed reads as empty ones. */
static void
test_outbox_set(void **state)
{
	static const char text[] = "Message-ID: <m@x>\r\n\r\nhi\r\n";
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct ms_err err = { 0 };
	struct store_batch *b;
	struct store_outbox e, *list, old;
	struct store_body *body;
	uint8_t *val;
	size_t n, len;
	uint64_t id;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.state = STORE_OUTBOX_QUEUED;
	e.created = 5;
	e.account = "work";
	e.from = "me@x";
	e.rcpts = "a@y\nb@z\nc@w\n";
	e.spool = "123.spool";
	e.message_id = "<m@x>";
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	body = tsu_body(s, text, sizeof(text) - 1, 8);
	store_body_hash(body, e.hash);
	assert_int_equal(store_batch_outbox_add(b, &e, body, &id), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);

	e.id = id;
	e.state = STORE_OUTBOX_FAILED;
	e.created = 777;	/* ignored: the entry's stays */
	e.attempts = 2;
	e.flags = STORE_OUTBOX_POSSIBLY_SENT | STORE_OUTBOX_SENT_PENDING;
	e.rcpts = "";
	e.delivered = "a@y\nc@w\n";
	e.rejected = "b@z\t550 5.1.1 no\n";
	e.last_error = "550 5.1.1 no";
	assert_int_equal(store_batch_outbox_set(b, &e), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	assert_int_equal(store_outbox_list(s, &list, &n, &err), MS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].state, STORE_OUTBOX_FAILED);
	assert_int_equal(list[0].created, 5);
	assert_int_equal(list[0].attempts, 2);
	assert_int_equal(list[0].flags, e.flags);
	assert_string_equal(list[0].rcpts, "");
	assert_string_equal(list[0].delivered, "a@y\nc@w\n");
	assert_string_equal(list[0].rejected, "b@z\t550 5.1.1 no\n");
	assert_string_equal(list[0].spool, "123.spool");
	assert_string_equal(list[0].message_id, "<m@x>");

	/* Another message's hash: refused, nothing written. */
	list[0].hash[0] ^= 1;
	list[0].state = STORE_OUTBOX_SENT;
	assert_int_equal(store_batch_outbox_set(b, &list[0]), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_EINVAL);
	store_batch_free(&b);
	store_outbox_deinit(&list[0]);
	free(list);
	assert_int_equal(store_outbox_list(s, &list, &n, &err), MS_OK);
	assert_int_equal(list[0].state, STORE_OUTBOX_FAILED);
	store_outbox_deinit(&list[0]);
	free(list);
	assert_int_equal(store_check(s, 0, &err), MS_OK);

	/* The older encoding: the four first strings only. */
	memset(&old, 0, sizeof(old));
	old.state = STORE_OUTBOX_QUEUED;
	old.account = "work";
	assert_int_equal(store__outbox_encode(&old, &val, &len), MS_OK);
	/* Drop flags and the four later (empty) strings: 4 + 4 * 4 bytes. */
	assert_int_equal(store__outbox_decode(9, val, len - 20, &old), MS_OK);
	assert_int_equal(old.flags, 0);
	assert_string_equal(old.account, "work");
	assert_string_equal(old.delivered, "");
	assert_string_equal(old.message_id, "");
	store_outbox_deinit(&old);
	/* A record cut inside the later fields is damage. */
	assert_int_equal(store__outbox_decode(9, val, len - 2, &old),
			 MS_ESTORE);
	free(val);
	store_close(&s);
	tsu_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_reopen),
		cmocka_unit_test(test_mirror_dir),
		cmocka_unit_test(test_folders_ensure_many),
		cmocka_unit_test(test_open_makes_parents),
		cmocka_unit_test(test_migration_and_future),
		cmocka_unit_test(test_ingest_and_summary),
		cmocka_unit_test(test_dedup_refcount),
		cmocka_unit_test(test_leftovers),
		cmocka_unit_test(test_replace_and_flags),
		cmocka_unit_test(test_batch_atomic),
		cmocka_unit_test(test_batch_lazy),
		cmocka_unit_test(test_commit_syncs),
		cmocka_unit_test(test_map_growth),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_iteration),
		cmocka_unit_test(test_changes_and_pop3),
		cmocka_unit_test(test_change_list_folder),
		cmocka_unit_test(test_local_changes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_check_detects),
		cmocka_unit_test(test_body_limits),
		cmocka_unit_test(test_outbox),
		cmocka_unit_test(test_outbox_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
