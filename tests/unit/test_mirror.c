/* test_mirror.c - daemon/mirror: export, reader changes found by scan,
 * rebuild and the consistency check, on a temporary store; an export in
 * steps beside a writer's commits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/wait.h>
#include <time.h>

#include "mirror/mirror.h"
#include "store/store_int.h"
#include "test_maildir_util.h"
#include "test_store_util.h"

#define MT_MSG1 "From: a@example.org\r\nSubject: one\r\n\r\nfirst\r\n"
#define MT_MSG2 "From: b@example.org\r\nSubject: two\r\n\r\nsecond\r\n"
#define MT_MSG3 "From: c@example.org\r\nSubject: three\r\n\r\nthird\r\n"
#define MT_MSG4 "From: d@example.org\r\nSubject: four\r\n\r\nfourth\r\n"
/* "Ünïcödé" */
#define MT_UNI "\xc3\x9c" "n" "\xc3\xaf" "c" "\xc3\xb6" "d" "\xc3\xa9"
#define MT_NEW "From: me@example.org\r\nSubject: draft\r\n\r\nnew one\r\n"

struct mt {
	char *sdir;
	char root[4200];
	struct store *s;
	uint32_t inbox, dev, uni;
	struct maildir_report rep;
	unsigned nreports;
	struct mirror_params p;
};

static void
mt_report_cb(const char *path, const char *why, void *arg)
{
	struct mt *t = arg;

	(void)path;
	(void)why;
	t->nreports++;
}

static void
mt_folder(struct mt *t, const char *name, uint32_t uidvalidity, uint32_t *id_r)
{
	struct store_folder_state fs = { .uidvalidity = uidvalidity,
					 .uidnext = 100 };
	struct store_batch *b;
	struct ms_err err = { 0 };

	assert_int_equal(store_folder_ensure(t->s, "acct", name, '/', 0, id_r,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_folder_state(b, *id_r, &fs,
						  STORE_FS_UIDVALIDITY |
						  STORE_FS_UIDNEXT), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
}

/* Adds record m, with body (NULL: its hash names a body the store has). */
static void
mt_add_msg(struct mt *t, struct store_msg *m, struct store_body *body)
{
	struct store_batch *b;
	struct ms_err err = { 0 };

	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_msg_add(b, m, body), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
}

static void
mt_add(struct mt *t, uint32_t folder, uint32_t uid, const char *text,
       uint32_t flags)
{
	struct store_msg m;

	memset(&m, 0, sizeof(m));
	m.folder_id = folder;
	m.uid = uid;
	m.flags = flags;
	m.synced_flags = flags;
	m.internal_date = 1000 + uid;
	mt_add_msg(t, &m, tsu_body(t->s, text, strlen(text), 64));
}

/* The server's copy of an appended body (hash) arrives as (folder, uid),
 * \Seen. */
static void
mt_server_copy(struct mt *t, uint32_t folder, uint32_t uid,
	       const uint8_t hash[STORE_HASH_LEN])
{
	struct store_msg nm;

	memset(&nm, 0, sizeof(nm));
	nm.folder_id = folder;
	nm.uid = uid;
	nm.flags = nm.synced_flags = STORE_FLAG_SEEN;
	memcpy(nm.hash, hash, STORE_HASH_LEN);
	mt_add_msg(t, &nm, NULL);
}

static void
mt_server_flags(struct mt *t, uint32_t folder, uint32_t uid, uint32_t flags)
{
	struct store_batch *b;
	struct ms_err err = { 0 };

	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_msg_flags(b, folder, uid, flags, flags, 0),
			 MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
}

static int
mt_setup(void **state)
{
	struct mt *t = calloc(1, sizeof(*t));

	t->sdir = tsu_tmpdir();
	snprintf(t->root, sizeof(t->root), "%s/mail", t->sdir);
	t->s = tsu_open(t->sdir, 0);
	maildir_report_init(&t->rep, mt_report_cb, t);
	t->p.account = "acct";
	t->p.root = t->root;
	t->p.rep = &t->rep;
	mt_folder(t, "INBOX", 100, &t->inbox);
	mt_folder(t, "Lists/dev", 200, &t->dev);
	mt_folder(t, MT_UNI, 300, &t->uni);
	mt_add(t, t->inbox, 1, MT_MSG1, 0);
	mt_add(t, t->inbox, 2, MT_MSG2, STORE_FLAG_SEEN);
	mt_add(t, t->inbox, 3, MT_MSG3, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED |
					STORE_FLAG_ANSWERED);
	mt_add(t, t->dev, 7, MT_MSG4, STORE_FLAG_SEEN);
	mt_add(t, t->uni, 9, MT_MSG1, 0);	/* the same body twice */
	*state = t;
	return 0;
}

static int
mt_teardown(void **state)
{
	struct mt *t = *state;
	struct ms_err err = { 0 };

	assert_int_equal(store_check(t->s, STORE_CHECK_HASHES, &err), MS_OK);
	maildir_report_deinit(&t->rep);
	store_close(&t->s);
	tsu_rmdir(t->sdir);
	free(t);
	return 0;
}

typedef int (*mt_pass_fn)(struct store *, const struct mirror_params *,
			  struct mirror_stats *, struct ms_err *);

static struct mirror_stats
mt_pass(struct mt *t, mt_pass_fn fn, const char *what)
{
	struct mirror_stats st = { 0 };
	struct ms_err err = { 0 };

	if (fn(t->s, &t->p, &st, &err) != MS_OK)
		fail_msg("%s: %s", what, err.msg);
	return st;
}

#define mt_export(t) mt_pass((t), mirror_export, "export")
#define mt_scan(t) mt_pass((t), mirror_scan, "scan")

static void
mt_check(struct mt *t)
{
	struct ms_err err = { 0 };

	if (mirror_check(t->s, &t->p, MIRROR_CHECK_CONTENT, &err) != MS_OK)
		fail_msg("check: %s", err.msg);
}

/* The LF form of a CRLF text (what export writes), into out. */
static size_t
mt_lf(const char *crlf, char *out, size_t outsz)
{
	size_t k = 0;

	for (const char *p = crlf; *p != '\0' && k + 1 < outsz; p++)
		if (!(p[0] == '\r' && p[1] == '\n'))
			out[k++] = *p;
	out[k] = '\0';
	return k;
}

/* Finds the file of (folder dir rel, uid): "cur/NAME" or "new/NAME". */
static bool
mt_find(struct mt *t, const char *rel, uint32_t uid, char *out, size_t outsz)
{
	static const char *const subs[] = { "new", "cur" };
	char dir[8192], prefix[64];
	uint32_t uv = strcmp(rel, "") == 0 ? 100 :
		      strcmp(rel, "Lists/dev") == 0 ? 200 : 300;
	bool found = false;

	snprintf(prefix, sizeof(prefix), "%u-%u-", uv, uid);
	for (int i = 0; i < 2; i++) {
		DIR *d;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "%s/%s/%s", t->root, rel, subs[i]);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
				assert_false(found);	/* exactly one */
				snprintf(out, outsz, "%s/%s", subs[i], de->d_name);
				found = true;
			}
		closedir(d);
	}
	return found;
}

static struct store_change *
mt_changes(struct mt *t, size_t *n_r)
{
	struct store_change *ch = NULL;
	struct ms_err err = { 0 };

	assert_int_equal(store_change_list(t->s, 0, 1000, &ch, n_r, &err), MS_OK);
	return ch;
}

static void
mt_clear_changes(struct mt *t)
{
	struct store_batch *b;
	struct store_change *ch;
	struct ms_err err = { 0 };
	size_t n;

	ch = mt_changes(t, &n);
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(store_batch_change_clear(b, ch[i].seq), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	free(ch);
}

/* A scan that finds nothing to push, then an export; store and mirror agree. */
static void
mt_pass_no_change(struct mt *t)
{
	struct store_change *ch;
	size_t n;

	(void)mt_scan(t);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 0);
	free(ch);
	(void)mt_export(t);
	mt_check(t);
}

static void
mt_rename(struct mt *t, const char *rel, const char *from, const char *to)
{
	char a[8192], b[8192];

	snprintf(a, sizeof(a), "%s/%s/%s", t->root, rel, from);
	snprintf(b, sizeof(b), "%s/%s/%s", t->root, rel, to);
	assert_int_equal(rename(a, b), 0);
}

static void
test_export_layout(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st = mt_export(t);
	struct store_folder f;
	struct store_msg m;
	struct ms_err err = { 0 };
	char name[512], buf[256], lf[256], sz[32], path[8300];
	ssize_t n;

	assert_int_equal(st.written, 5);
	assert_int_equal(st.folders, 3);
	mt_check(t);
	/* Unread without flags in new/ with no info; others sorted in cur/. */
	assert_true(mt_find(t, "", 1, name, sizeof(name)));
	assert_memory_equal(name, "new/100-1-", 10);
	assert_null(strchr(name, ':'));
	assert_true(mt_find(t, "", 3, name, sizeof(name)));
	assert_memory_equal(name, "cur/", 4);
	assert_string_equal(strstr(name, ":2,"), ":2,FRS");
	assert_non_null(strstr(name, ",U=3,S="));
	/* The stored bytes with LF line ends, S= their size. */
	n = tmd_get(t->root, name, buf, sizeof(buf));
	assert_int_equal(n, mt_lf(MT_MSG3, lf, sizeof(lf)));
	assert_memory_equal(buf, lf, (size_t)n);
	snprintf(sz, sizeof(sz), ",S=%zd:", n);
	assert_non_null(strstr(name, sz));
	/* Nested and UTF-8 folder names. */
	assert_true(mt_find(t, "Lists/dev", 7, name, sizeof(name)));
	assert_true(mt_find(t, MT_UNI, 9, name,
			    sizeof(name)));
	/* Names recorded, watermark at the folder's last local_seq. */
	assert_int_equal(store_msg_get(t->s, t->inbox, 3, &m, &err), MS_OK);
	assert_true(mt_find(t, "", 3, name, sizeof(name)));
	assert_string_equal(m.mirror_name, name + 4);
	assert_int_equal(store_folder_get(t->s, t->inbox, &f, &err), MS_OK);
	assert_int_equal(f.state.mirror_durable, m.local_seq);
	snprintf(path, sizeof(path), "%s/" MIRROR_MARKER, t->root);
	assert_int_equal(access(path, F_OK), 0);
	/* Idempotent. */
	st = mt_export(t);
	assert_int_equal(st.written + st.renamed + st.removed + st.adopted, 0);
	st = mt_scan(t);
	assert_int_equal(st.flag_changes + st.deletes + st.moves + st.appends, 0);
	mt_check(t);
}

static void
test_server_changes(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_batch *b;
	struct ms_err err = { 0 };
	char name[512];

	(void)mt_export(t);
	mt_server_flags(t, t->inbox, 1, STORE_FLAG_SEEN);
	mt_server_flags(t, t->inbox, 3, 0);
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_msg_expunge(b, t->dev, 7, 7), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	mt_add(t, t->inbox, 4, MT_MSG4, 0);
	/* The scan before the pass sees no reader change in any of this. */
	st = mt_scan(t);
	assert_int_equal(st.flag_changes + st.deletes + st.moves + st.appends, 0);
	st = mt_export(t);
	assert_int_equal(st.renamed, 2);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.written, 1);
	assert_true(mt_find(t, "", 1, name, sizeof(name)));
	assert_string_equal(strstr(name, ":2,"), ":2,S");
	assert_true(mt_find(t, "", 3, name, sizeof(name)));
	assert_string_equal(strstr(name, ":2,"), ":2,");	/* stays in cur/ */
	assert_false(mt_find(t, "Lists/dev", 7, name, sizeof(name)));
	assert_int_equal(tmd_count(t->root, "Lists/dev/cur") +
			 tmd_count(t->root, "Lists/dev/new"), 0);
	mt_check(t);
}

static void
test_reader_flags(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	struct store_msg m;
	struct ms_err err = { 0 };
	char name[512], to[600], to3[600];
	size_t n;

	(void)mt_export(t);
	/* uid 3 FRS -> FT (S and R removed, T added). */
	assert_true(mt_find(t, "", 3, name, sizeof(name)));
	snprintf(to, sizeof(to), "%.*s:2,FT",
		 (int)(strstr(name, ":2,") - name), name);
	mt_rename(t, "", name, to);
	snprintf(to3, sizeof(to3), "%s", to + 4);
	/* uid 1 new/ -> cur/ without flags: nothing to push. */
	assert_true(mt_find(t, "", 1, name, sizeof(name)));
	snprintf(to, sizeof(to), "cur/%s:2,", name + 4);
	mt_rename(t, "", name, to);
	st = mt_scan(t);
	assert_int_equal(st.flag_changes, 1);
	assert_int_equal(st.deletes + st.moves + st.appends, 0);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].kind, STORE_CHANGE_FLAGS);
	assert_int_equal(ch[0].folder_id, t->inbox);
	assert_int_equal(ch[0].uid, 3);
	assert_int_equal(ch[0].flags_add, STORE_FLAG_DELETED);
	assert_int_equal(ch[0].flags_remove, STORE_FLAG_SEEN | STORE_FLAG_ANSWERED);
	free(ch);
	assert_int_equal(store_msg_get(t->s, t->inbox, 3, &m, &err), MS_OK);
	assert_int_equal(m.flags, STORE_FLAG_FLAGGED | STORE_FLAG_DELETED);
	assert_int_equal(m.synced_flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED |
					 STORE_FLAG_ANSWERED);
	assert_string_equal(m.mirror_name, to3);
	/* A second scan finds nothing new; export has nothing to rename. */
	st = mt_scan(t);
	assert_int_equal(st.flag_changes, 0);
	st = mt_export(t);
	assert_int_equal(st.renamed + st.written, 0);
	mt_check(t);
	assert_true(mt_find(t, "", 1, name, sizeof(name)));
	assert_memory_equal(name, "cur/", 4);
}

static void
test_both_sides(void **state)
{
	struct mt *t = *state;
	struct store_change *ch;
	struct store_msg m;
	struct ms_err err = { 0 };
	char name[512], to[600];
	size_t n;

	(void)mt_export(t);
	/* Server: uid 2 S -> S F.  Reader, on the old name: S -> (none) + D. */
	mt_server_flags(t, t->inbox, 2, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_true(mt_find(t, "", 2, name, sizeof(name)));
	snprintf(to, sizeof(to), "%.*s:2,D", (int)(strstr(name, ":2,") - name),
		 name);
	mt_rename(t, "", name, to);
	(void)mt_scan(t);
	assert_int_equal(store_msg_get(t->s, t->inbox, 2, &m, &err), MS_OK);
	assert_int_equal(m.flags, STORE_FLAG_FLAGGED | STORE_FLAG_DRAFT);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].flags_add, STORE_FLAG_DRAFT);
	assert_int_equal(ch[0].flags_remove, STORE_FLAG_SEEN);
	free(ch);
	(void)mt_export(t);
	assert_true(mt_find(t, "", 2, name, sizeof(name)));
	assert_string_equal(strstr(name, ":2,"), ":2,DF");
	mt_check(t);
	/* The same flag set on both sides: no change to push. */
	mt_clear_changes(t);
	mt_server_flags(t, t->inbox, 1, STORE_FLAG_SEEN);
	assert_true(mt_find(t, "", 1, name, sizeof(name)));
	snprintf(to, sizeof(to), "cur/%s:2,S", name + 4);
	mt_rename(t, "", name, to);
	mt_pass_no_change(t);
	/* A file with letters put into new/: no change, back into cur/. */
	assert_true(mt_find(t, "", 2, name, sizeof(name)));
	snprintf(to, sizeof(to), "new/%s", name + 4);
	mt_rename(t, "", name, to);
	mt_pass_no_change(t);
	assert_true(mt_find(t, "", 2, name, sizeof(name)));
	assert_memory_equal(name, "cur/", 4);
}

static void
test_reader_delete_and_move(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	char name[512], a[8300], b[8300];
	size_t n;

	(void)mt_export(t);
	/* Delete uid 2; move uid 3 to Lists/dev under a name of the
	 * reader's; move Lists/dev uid 7 to INBOX keeping its name. */
	assert_true(mt_find(t, "", 2, name, sizeof(name)));
	snprintf(a, sizeof(a), "%s/%s", t->root, name);
	assert_int_equal(unlink(a), 0);
	assert_true(mt_find(t, "", 3, name, sizeof(name)));
	snprintf(a, sizeof(a), "%s/%s", t->root, name);
	snprintf(b, sizeof(b), "%s/Lists/dev/cur/1700000000.M1P2Q3.host:2,FRS",
		 t->root);
	assert_int_equal(rename(a, b), 0);
	assert_true(mt_find(t, "Lists/dev", 7, name, sizeof(name)));
	snprintf(a, sizeof(a), "%s/Lists/dev/%s", t->root, name);
	snprintf(b, sizeof(b), "%s/%s", t->root, name);
	assert_int_equal(rename(a, b), 0);
	st = mt_scan(t);
	assert_int_equal(st.deletes, 1);
	assert_int_equal(st.moves, 2);
	assert_int_equal(st.appends + st.flag_changes, 0);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (ch[i].kind == STORE_CHANGE_DELETE) {
			assert_int_equal(ch[i].folder_id, t->inbox);
			assert_int_equal(ch[i].uid, 2);
		} else {
			assert_int_equal(ch[i].kind, STORE_CHANGE_MOVE);
			if (ch[i].uid == 3) {
				assert_int_equal(ch[i].folder_id, t->inbox);
				assert_int_equal(ch[i].dest_folder_id, t->dev);
			} else {
				assert_int_equal(ch[i].uid, 7);
				assert_int_equal(ch[i].folder_id, t->dev);
				assert_int_equal(ch[i].dest_folder_id, t->inbox);
			}
		}
	}
	free(ch);
	/* Pending: nothing recorded twice, nothing written back. */
	st = mt_scan(t);
	assert_int_equal(st.deletes + st.moves + st.appends, 0);
	st = mt_export(t);
	assert_int_equal(st.written + st.removed + st.adopted, 0);
	mt_check(t);
	/* The server did it: the moved messages arrive under new UIDs with
	 * their bodies (no download), the old records go.  Export adopts the
	 * reader's files instead of writing copies. */
	{
		struct store_batch *bb;
		struct store_msg m3, m7, nm;
		struct ms_err err = { 0 };

		assert_int_equal(store_msg_get(t->s, t->inbox, 3, &m3, &err), MS_OK);
		assert_int_equal(store_msg_get(t->s, t->dev, 7, &m7, &err), MS_OK);
		assert_int_equal(store_batch_new(t->s, &bb), MS_OK);
		memset(&nm, 0, sizeof(nm));
		nm.folder_id = t->dev;
		nm.uid = 8;
		nm.flags = nm.synced_flags = m3.flags;
		memcpy(nm.hash, m3.hash, STORE_HASH_LEN);
		assert_int_equal(store_batch_msg_add(bb, &nm, NULL), MS_OK);
		nm.folder_id = t->inbox;
		nm.uid = 5;
		nm.flags = nm.synced_flags = m7.flags;
		memcpy(nm.hash, m7.hash, STORE_HASH_LEN);
		assert_int_equal(store_batch_msg_add(bb, &nm, NULL), MS_OK);
		assert_int_equal(store_batch_msg_expunge(bb, t->inbox, 2, 3), MS_OK);
		assert_int_equal(store_batch_msg_expunge(bb, t->dev, 7, 7), MS_OK);
		assert_int_equal(store_batch_commit(bb, &err), MS_OK);
		store_batch_free(&bb);
	}
	mt_clear_changes(t);
	st = mt_scan(t);
	assert_int_equal(st.deletes + st.moves + st.appends, 0);
	st = mt_export(t);
	assert_int_equal(st.written, 0);
	mt_check(t);
	assert_int_equal(tmd_count(t->root, "Lists/dev/cur") +
			 tmd_count(t->root, "Lists/dev/new"), 1);
	assert_int_equal(tmd_count(t->root, "cur") + tmd_count(t->root, "new"), 2);
}

static void
test_reader_new_file(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	struct store_msg nm;
	struct ms_err err = { 0 };
	uint8_t hash[STORE_HASH_LEN];
	char buf[256];
	size_t n;

	(void)mt_export(t);
	assert_int_equal(tmd_put(t->root, "Lists/dev/cur/1700000001.M5P6.host:2,DS",
				 MT_NEW, strlen(MT_NEW)), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends, 1);
	assert_int_equal(st.deletes + st.moves + st.flag_changes, 0);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].kind, STORE_CHANGE_APPEND);
	assert_int_equal(ch[0].folder_id, t->dev);
	memcpy(hash, ch[0].hash, STORE_HASH_LEN);
	free(ch);
	/* Not recorded twice; export leaves the file; check accepts it. */
	st = mt_scan(t);
	assert_int_equal(st.appends, 0);
	st = mt_export(t);
	assert_int_equal(st.written + st.removed + st.adopted, 0);
	mt_check(t);
	/* The server took it as uid 8: export adopts the file. */
	mt_server_copy(t, t->dev, 8, hash);
	mt_clear_changes(t);
	st = mt_export(t);
	assert_int_equal(st.written, 0);
	assert_int_equal(st.adopted, 1);
	/* The reader's \Draft, which the APPEND did not carry, is pushed. */
	assert_int_equal(st.flag_changes, 1);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].kind, STORE_CHANGE_FLAGS);
	assert_int_equal(ch[0].uid, 8);
	assert_int_equal(ch[0].flags_add, STORE_FLAG_DRAFT);
	free(ch);
	/* The file keeps the reader's name (a postponed draft is found
	 * again by it), now uid 8's. */
	assert_int_equal(store_msg_get(t->s, t->dev, 8, &nm, &err), MS_OK);
	assert_string_equal(nm.mirror_name, "1700000001.M5P6.host:2,DS");
	assert_int_equal(tmd_get(t->root,
				 "Lists/dev/cur/1700000001.M5P6.host:2,DS", buf,
				 sizeof(buf)), strlen(MT_NEW));
	assert_int_equal(tmd_count(t->root, "Lists/dev/new") +
			 tmd_count(t->root, "Lists/dev/cur"), 2);
	mt_check(t);
	st = mt_scan(t);
	assert_int_equal(st.appends + st.deletes + st.flag_changes, 0);
}

/* A reader's file with LF line ends: the body (what the server will
 * store) is its CRLF form; the file stays as it is, under its name, and
 * is the record's file once the server's copy arrives. */
static void
test_reader_new_lf(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	struct store_msg nm;
	struct ms_err err = { 0 };
	struct ms_buf body;
	static const char lf[] = "Subject: lf\n\nline one\nline two\r\n";
	static const char crlf[] = "Subject: lf\r\n\r\nline one\r\nline two\r\n";
	static const char fname[] = "cur/1700000002.M1P1.host:2,S";
	char buf[256];
	size_t n;
	int files;

	(void)mt_export(t);
	files = tmd_count(t->root, "cur") + tmd_count(t->root, "new");
	assert_int_equal(tmd_put(t->root, fname, lf, strlen(lf)), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends, 1);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 1);
	ms_buf_init(&body, 4096);
	assert_int_equal(store_body_read_all(t->s, ch[0].hash, &body, &err), MS_OK);
	assert_int_equal(body.len, strlen(crlf));
	assert_memory_equal(body.p, crlf, body.len);
	ms_buf_deinit(&body);
	/* The file is untouched; nothing else was written. */
	assert_int_equal(tmd_get(t->root, fname, buf, sizeof(buf)), strlen(lf));
	assert_memory_equal(buf, lf, strlen(lf));
	assert_int_equal(tmd_count(t->root, "cur") + tmd_count(t->root, "new"),
			 files + 1);
	assert_int_equal(tmd_count(t->root, "tmp"), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends, 0);
	mt_check(t);
	/* The server's copy (uid 9) adopts the file under its name. */
	mt_server_copy(t, t->inbox, 9, ch[0].hash);
	free(ch);
	mt_clear_changes(t);
	st = mt_export(t);
	assert_int_equal(st.adopted, 1);
	assert_int_equal(st.written + st.renamed + st.flag_changes, 0);
	assert_int_equal(store_msg_get(t->s, t->inbox, 9, &nm, &err), MS_OK);
	assert_string_equal(nm.mirror_name, fname + 4);
	assert_int_equal(tmd_get(t->root, fname, buf, sizeof(buf)), strlen(lf));
	mt_check(t);
	mt_pass_no_change(t);
}

/*
 * Bodies whose line ends would not survive LF (a bare CR, a LF without
 * CR among CRLFs, LF only) are written exact, and are still known by
 * content: a reader's move of each to another folder is a MOVE, not a
 * deletion and an upload.
 */
static void
test_export_exact(void **state)
{
	static const char *const bodies[] = {
		"Subject: cr\r\n\r\nbare\rcr\r\n",
		"Subject: mixed\r\n\r\nbare\nlf\r\n",
		"Subject: lf\n\nonly\n",
	};
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_msg m;
	struct ms_err err = { 0 };
	char name[512], buf[256], from[8400], to[8400];

	for (uint32_t i = 0; i < 3; i++)
		mt_add(t, t->inbox, 20 + i, bodies[i], STORE_FLAG_SEEN);
	(void)mt_export(t);
	mt_check(t);
	/* An old mirror's CRLF file (written before LF) is the record's as
	 * it is: no write, no change. */
	assert_int_equal(store_msg_get(t->s, t->inbox, 1, &m, &err), MS_OK);
	snprintf(from, sizeof(from), "%s/new/%s", t->root, m.mirror_name);
	assert_int_equal(unlink(from), 0);
	snprintf(name, sizeof(name), "new/%.*s,U=1,S=%zu",
		 (int)strcspn(m.mirror_name, ","), m.mirror_name,
		 strlen(MT_MSG1));
	assert_int_equal(tmd_put(t->root, name, MT_MSG1, strlen(MT_MSG1)), 0);
	st = mt_export(t);
	assert_int_equal(st.written, 0);
	mt_check(t);
	for (uint32_t i = 0; i < 3; i++) {
		assert_true(mt_find(t, "", 20 + i, name, sizeof(name)));
		assert_int_equal(tmd_get(t->root, name, buf, sizeof(buf)),
				 strlen(bodies[i]));
		assert_memory_equal(buf, bodies[i], strlen(bodies[i]));
		snprintf(from, sizeof(from), "%s/%s", t->root, name);
		snprintf(to, sizeof(to), "%s/Lists/dev/cur/moved%u:2,S",
			 t->root, i);
		assert_int_equal(rename(from, to), 0);
	}
	st = mt_scan(t);
	assert_int_equal(st.moves, 3);
	assert_int_equal(st.deletes + st.appends, 0);
	mt_check(t);
}

/* Exports, which writes that many files: the bodies it read from the
 * store meanwhile (store_body_read() calls). */
static unsigned long
mt_export_reads(struct mt *t, unsigned written)
{
	unsigned long reads = __atomic_load_n(&t->s->n_body_reads,
					      __ATOMIC_RELAXED);
	struct mirror_stats st = mt_export(t);

	assert_int_equal(st.written, written);
	return __atomic_load_n(&t->s->n_body_reads, __ATOMIC_RELAXED) - reads;
}

/* The bodies held for the export: n of them, bytes in memory, spool_bytes
 * in files. */
static void
mt_handed_held(struct mt *t, size_t n, uint64_t bytes, uint64_t spool_bytes)
{
	struct store_handed_stats hs;

	store_handed_stats(t->s, &hs);
	assert_int_equal(hs.n_held, n);
	assert_int_equal(hs.bytes_held, bytes);
	assert_int_equal(hs.spool_bytes_held, spool_bytes);
}

/*
 * Bodies their commit handed over are written into the mirror from
 * memory: the export reads none of them back from the store, the files
 * hold the same bytes, and what was not handed over (too large for the
 * cap, dropped) is read from the store as before.
 */
static void
test_export_handed_bodies(void **state)
{
	static const char *const bodies[] = {
		"Subject: a\r\n\r\nhanded over\r\n",
		"Subject: cr\r\n\r\nbare\rcr\r\n",	/* written exact */
		"Subject: a\r\n\r\nhanded over\r\n",	/* the first's */
	};
	struct mt *t = *state;
	struct store_handed_stats hs;
	struct store_batch *b;
	struct ms_err err = { 0 };
	char name[512], buf[256], lf[256];
	ssize_t n;

	(void)mt_export(t);
	store_handed_enable(t->s, 1u << 20, 4u << 20);
	/* One batch, two messages with the same body. */
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	for (uint32_t i = 0; i < 3; i++) {
		struct store_msg m;

		memset(&m, 0, sizeof(m));
		m.folder_id = t->inbox;
		m.uid = 30 + i;
		m.flags = m.synced_flags = STORE_FLAG_SEEN;
		assert_int_equal(store_batch_msg_add(b, &m,
						     tsu_body(t->s, bodies[i],
							      strlen(bodies[i]),
							      5)),
				 MS_OK);
	}
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	store_handed_stats(t->s, &hs);
	assert_int_equal(hs.n_kept, 2);
	mt_handed_held(t, 2, strlen(bodies[0]) + strlen(bodies[1]), 0);
	assert_int_equal(mt_export_reads(t, 3), 0);
	store_handed_stats(t->s, &hs);
	assert_int_equal(hs.n_taken, 3);
	mt_handed_held(t, 0, 0, 0);
	for (uint32_t i = 0; i < 3; i++) {
		assert_true(mt_find(t, "", 30 + i, name, sizeof(name)));
		n = tmd_get(t->root, name, buf, sizeof(buf));
		if (i == 1) {
			assert_int_equal(n, strlen(bodies[i]));
			assert_memory_equal(buf, bodies[i], (size_t)n);
		} else {
			assert_int_equal(n, mt_lf(bodies[i], lf, sizeof(lf)));
			assert_memory_equal(buf, lf, (size_t)n);
		}
	}
	mt_check(t);

	/* A large body, in its spool file (over the store's 1 MiB spool
	 * threshold): taken from the file. */
	{
		size_t big_len = (1u << 20) + 4096, k = 0;
		char *big = malloc(big_len + 1);
		struct store_msg m;

		assert_non_null(big);
		k += (size_t)snprintf(big, big_len, "Subject: big\r\n\r\n");
		while (k + 64 <= big_len) {
			memset(big + k, 'a' + (char)(k % 26), 62);
			memcpy(big + k + 62, "\r\n", 2);
			k += 64;
		}
		memset(&m, 0, sizeof(m));
		m.folder_id = t->inbox;
		m.uid = 35;
		mt_add_msg(t, &m, tsu_body(t->s, big, k, 4096));
		free(big);
		mt_handed_held(t, 1, 0, k);
		assert_int_equal(mt_export_reads(t, 1), 0);
		mt_handed_held(t, 0, 0, 0);
		mt_check(t);
	}

	/* Over the cap: not kept, read from the store. */
	store_handed_enable(t->s, 8, 8);
	mt_add(t, t->inbox, 40, MT_MSG4, STORE_FLAG_SEEN);
	mt_handed_held(t, 0, 0, 0);
	assert_true(mt_export_reads(t, 1) > 0);

	/* Dropped before the export: read from the store. */
	store_handed_enable(t->s, 1u << 20, 4u << 20);
	mt_add(t, t->inbox, 41, MT_NEW, STORE_FLAG_SEEN);
	mt_handed_held(t, 1, strlen(MT_NEW), 0);
	store_handed_drop(t->s);
	mt_handed_held(t, 0, 0, 0);
	assert_true(mt_export_reads(t, 1) > 0);
	mt_check(t);
}

/* The oldest bodies go first when a commit's would pass the cap. */
static void
test_handed_cap(void **state)
{
	struct mt *t = *state;
	struct store_handed_stats hs;
	size_t len = strlen(MT_MSG1);

	/* Room for two of the (equally long) bodies. */
	store_handed_enable(t->s, 2 * len + len / 2, 0);
	mt_add(t, t->inbox, 50, MT_MSG1 "1", 0);
	mt_add(t, t->inbox, 51, MT_MSG1 "2", 0);
	mt_add(t, t->inbox, 52, MT_MSG1 "3", 0);
	store_handed_stats(t->s, &hs);
	assert_int_equal(hs.n_kept, 3);
	assert_int_equal(hs.n_held, 2);
	assert_int_equal(hs.n_dropped, 1);
	assert_int_equal(hs.bytes_held, 2 * (len + 1));
	(void)mt_export(t);
	store_handed_stats(t->s, &hs);
	assert_int_equal(hs.n_taken, 2);
	assert_int_equal(hs.n_held, 0);
	mt_check(t);
	/* Off: nothing kept. */
	store_handed_enable(t->s, 0, 0);
	mt_add(t, t->inbox, 53, MT_MSG2, 0);
	store_handed_stats(t->s, &hs);
	assert_int_equal(hs.n_kept, 3);
	assert_int_equal(hs.n_held, 0);
}

static void
test_not_messages(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	char path[8300];

	(void)mt_export(t);
	assert_int_equal(tmd_put(t->root, "cur/.hidden", "x", 1), 0);
	assert_int_equal(tmd_put(t->root, "Lists/notes.txt", "x", 1), 0);
	snprintf(path, sizeof(path), "%s/cur/adir", t->root);
	assert_int_equal(mkdir(path, 0700), 0);
	/* A Maildir that cannot be a folder (not a canonical name), one
	 * inside it, and a file in them: left alone. */
	assert_int_equal(tmd_mkmaildir(t->root, "50%"), 0);
	assert_int_equal(tmd_mkmaildir(t->root, "50%/sub"), 0);
	assert_int_equal(tmd_put(t->root, "50%/sub/new/1.M1P1.h", MT_NEW,
				 strlen(MT_NEW)), 0);
	t->nreports = 0;
	st = mt_scan(t);
	assert_int_equal(st.appends + st.deletes + st.moves, 0);
	assert_int_equal(t->nreports, 5);
	st = mt_scan(t);
	(void)mt_export(t);
	assert_int_equal(t->nreports, 5);	/* once each */
	mt_check(t);
	assert_int_equal(tmd_get(t->root, "Lists/notes.txt", path, 10), 1);
}

static void
test_rebuild(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	size_t n;

	(void)mt_export(t);
	tmd_rmtree(t->root);
	st = mt_scan(t);
	assert_int_equal(st.deletes, 0);
	st = mt_export(t);
	assert_int_equal(st.written, 5);
	mt_check(t);
	/* A folder's directory removed: rebuilt, nothing deleted. */
	{
		char p[8300];

		snprintf(p, sizeof(p), "%s/Lists", t->root);
		tmd_rmtree(p);
	}
	st = mt_scan(t);
	assert_int_equal(st.deletes, 0);
	st = mt_export(t);
	assert_int_equal(st.written, 1);
	mt_check(t);
	/* Pointed at a new path that holds a copy of an old mirror with one
	 * file missing: no marker, so no deletion; the files are adopted. */
	{
		char cmd[17000];

		snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s.2' && rm '%s.2/"
			 MIRROR_MARKER "' && rm -f '%s.2'/cur/100-2-*",
			 t->root, t->root, t->root, t->root);
		assert_int_equal(system(cmd), 0);
		snprintf(t->root + strlen(t->root),
			 sizeof(t->root) - strlen(t->root), ".2");
	}
	st = mt_scan(t);
	assert_int_equal(st.deletes + st.appends + st.moves, 0);
	st = mt_export(t);
	assert_int_equal(st.written, 1);
	mt_check(t);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 0);
	free(ch);
	tmd_rmtree(t->root);
}

static void
test_watermark(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_folder f;
	struct store_msg m;
	struct ms_err err = { 0 };
	char name[512], a[8300];

	(void)mt_export(t);
	/* A server change whose file did not reach the disk (a crash
	 * before the syncfs): beyond the watermark, so written again, not
	 * taken for a reader's deletion. */
	mt_server_flags(t, t->inbox, 2, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_true(mt_find(t, "", 2, name, sizeof(name)));
	snprintf(a, sizeof(a), "%s/%s", t->root, name);
	assert_int_equal(unlink(a), 0);
	/* And a cut-short file. */
	mt_server_flags(t, t->inbox, 3, STORE_FLAG_SEEN);
	assert_true(mt_find(t, "", 3, name, sizeof(name)));
	assert_int_equal(tmd_put(t->root, name, "x", 1), 0);
	/* And what a killed writer left in tmp/: removed once it is old
	 * (36 hours, the convention); a fresh one may be a reader's. */
	assert_int_equal(tmd_put(t->root, "tmp/1.M1P1.host", "x", 1), 0);
	assert_int_equal(tmd_put(t->root, "tmp/2.M2P2.host", "x", 1), 0);
	{
		struct timespec old[2] = { { time(NULL) - 37 * 3600, 0 },
					   { time(NULL) - 37 * 3600, 0 } };

		snprintf(a, sizeof(a), "%s/tmp/1.M1P1.host", t->root);
		assert_int_equal(utimensat(AT_FDCWD, a, old, 0), 0);
	}
	st = mt_scan(t);
	assert_int_equal(st.deletes, 0);
	st = mt_export(t);
	assert_int_equal(st.written, 2);
	mt_check(t);
	assert_int_equal(tmd_get(t->root, "tmp/1.M1P1.host", a, 10), -1);
	assert_int_equal(tmd_get(t->root, "tmp/2.M2P2.host", a, 10), 1);
	assert_int_equal(store_msg_get(t->s, t->inbox, 3, &m, &err), MS_OK);
	assert_int_equal(store_folder_get(t->s, t->inbox, &f, &err), MS_OK);
	assert_true(f.state.mirror_durable >= m.local_seq);
}

/*
 * The early exports of one pass (beside a first sync that adds records):
 * the first lists each folder, a later one lists none and writes only
 * the records without a file; a folder that held a file no record
 * claims is listed again; the export after the pass lists them all.
 */
static void
test_early_unlisted(void **state)
{
	struct mt *t = *state;
	struct mirror_early early = { 0 };
	struct mirror_stats st;
	char name[512];

	t->p.is_early = true;
	t->p.early = &early;
	st = mt_export(t);
	assert_int_equal(st.written, 5);
	assert_int_equal(early.n, 3);
	/* New records (above the watermark each folder had, 100). */
	mt_add(t, t->inbox, 150, MT_MSG4, 0);
	mt_add(t, t->dev, 151, MT_MSG2, STORE_FLAG_SEEN);
	st = mt_export(t);
	assert_int_equal(st.listed, 0);
	assert_int_equal(st.written, 2);
	assert_true(mt_find(t, "", 150, name, sizeof(name)));
	assert_true(mt_find(t, "Lists/dev", 151, name, sizeof(name)));
	st = mt_export(t);
	assert_int_equal(st.listed, 0);
	assert_int_equal(st.written, 0);

	/* The export after the pass: every folder listed (some twice when
	 * their times are too recent to record), nothing to do. */
	mirror_early_clear(&early);
	t->p.is_early = false;
	st = mt_export(t);
	assert_true(st.listed >= 7);
	assert_int_equal(st.written, 0);
	mt_check(t);

	/* A reader's file in INBOX: the next pass's early exports list
	 * INBOX each time, the other folders once. */
	assert_int_equal(tmd_put(t->root, "cur/1.M1P1.reader:2,S", MT_NEW,
				 strlen(MT_NEW)), 0);
	t->p.is_early = true;
	st = mt_export(t);
	assert_int_equal(st.listed, 8);
	assert_int_equal(early.n, 2);
	mt_add(t, t->inbox, 152, MT_MSG3, 0);
	st = mt_export(t);
	assert_int_equal(st.listed, 5);
	assert_int_equal(st.written, 1);
	assert_true(mt_find(t, "", 152, name, sizeof(name)));
	mirror_early_clear(&early);
	t->p.is_early = false;
	t->p.early = NULL;
	(void)mt_scan(t);
	(void)mt_export(t);
	mt_check(t);
}

/* Expunges INBOX's uid, its file name first set to name (NULL: kept). */
static void
mt_push_expunge(struct mt *t, uint32_t uid, const char *name)
{
	struct store_batch *b;
	struct ms_err err = { 0 };

	if (name != NULL) {
		assert_int_equal(store_batch_new(t->s, &b), MS_OK);
		assert_int_equal(store_batch_msg_mirror(b, t->inbox, uid, name),
				 MS_OK);
		assert_int_equal(store_batch_commit(b, &err), MS_OK);
		store_batch_free(&b);
	}
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_msg_expunge(b, t->inbox, uid, uid), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
}

/* An export that lists and writes these many files. */
static void
mt_export_counts(struct mt *t, uint64_t listed, uint64_t written)
{
	struct mirror_stats st = mt_export(t);

	assert_int_equal(st.listed, listed);
	assert_int_equal(st.written, written);
}

/*
 * Push exports (one folder, after a pass that only added messages): the
 * first lists the folder, the next ones list nothing and write only the
 * new records' files; a pass that changed flags, a pending change (a
 * reader's), a removed record's leftover, or a record gone without one,
 * and the folder is listed again.
 */
static void
test_push_unlisted(void **state)
{
	struct mt *t = *state;
	struct mirror_early pushed = { 0 };
	struct mirror_stats st;
	char name[512], a[8300];

	(void)mt_export(t);
	t->p.only_folder = "INBOX";
	t->p.pushed = &pushed;
	t->p.is_append_only = true;
	mt_add(t, t->inbox, 149, MT_MSG3, 0);
	mt_export_counts(t, 3, 1);
	assert_int_equal(pushed.n, 1);
	mt_add(t, t->inbox, 150, MT_MSG4, 0);
	mt_export_counts(t, 0, 1);
	assert_true(mt_find(t, "", 150, name, sizeof(name)));
	mt_add(t, t->inbox, 151, MT_MSG2, STORE_FLAG_SEEN);
	mt_add(t, t->inbox, 152, MT_MSG3, 0);
	mt_export_counts(t, 0, 2);
	mt_export_counts(t, 0, 0);
	mt_check(t);

	/* The pass pulled a flag change: listed, the file renamed; the
	 * next push export is unlisted again. */
	mt_server_flags(t, t->inbox, 2, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	t->p.is_append_only = false;
	st = mt_export(t);
	assert_int_equal(st.listed, 7);
	assert_int_equal(st.renamed, 1);
	t->p.is_append_only = true;
	mt_add(t, t->inbox, 153, MT_MSG1, 0);
	mt_export_counts(t, 0, 1);
	mt_check(t);

	/* A reader's rename, scanned: a pending change, listed. */
	assert_true(mt_find(t, "", 150, name, sizeof(name)));
	assert_memory_equal(name, "new/", 4);
	snprintf(a, sizeof(a), "cur/%s:2,S", name + 4);
	mt_rename(t, "", name, a);
	st = mt_scan(t);
	assert_int_equal(st.flag_changes, 1);
	st = mt_export(t);
	assert_true(st.listed > 0);
	mt_clear_changes(t);
	st = mt_export(t);
	assert_true(st.listed > 0);
	st = mt_export(t);
	assert_int_equal(st.listed, 0);

	/* An expunge the pass did not report: its leftover, listed, the
	 * file removed. */
	mt_push_expunge(t, 151, NULL);
	st = mt_export(t);
	assert_true(st.listed > 0);
	assert_int_equal(st.removed, 1);
	mt_check(t);

	/* A record gone without a leftover (no file name recorded): the
	 * count tells, and the folder is listed. */
	mt_add(t, t->inbox, 154, MT_MSG2, 0);
	mt_push_expunge(t, 152, "");
	st = mt_export(t);
	assert_true(st.listed > 0);
	assert_int_equal(st.written, 1);
	assert_true(mt_find(t, "", 154, name, sizeof(name)));

	mirror_early_clear(&pushed);
	t->p.only_folder = NULL;
	t->p.pushed = NULL;
	t->p.is_append_only = false;
}

/*
 * An export in steps while a sync pass commits beside it (the mirror
 * filling during a first sync, acct_mirror.h): a record committed below
 * the UIDs the export has read, after a record above them, is not seen
 * by it.  The folder's durable watermark must not pass it, or its
 * missing file would count as a reader's deletion, pushed to the server.
 */
static void
test_export_beside_commits(void **state)
{
	struct mt *t = *state;
	struct mirror_export_job *j;
	struct mirror_stats st = { 0 };
	struct store_folder f;
	struct store_batch *b;
	struct store_msg m;
	struct ms_err err = { 0 };
	struct stat sb;
	char dir[4300];
	uint32_t work;
	int rc = MS_AGAIN, after = -1;

	/* UIDs 2, 4, ... 512: more than the store's iterator reads at
	 * once, so that it reads again (and sees what came meanwhile). */
	mt_folder(t, "Work", 400, &work);
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	for (uint32_t uid = 2; uid <= 512; uid += 2) {
		memset(&m, 0, sizeof(m));
		m.folder_id = work;
		m.uid = uid;
		assert_int_equal(store_batch_msg_add(b, &m, tsu_body(t->s,
				 MT_MSG1, strlen(MT_MSG1), 64)), MS_OK);
	}
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	snprintf(dir, sizeof(dir), "%s/Work/cur", t->root);
	assert_int_equal(mirror_export_begin(t->s, &t->p, &j, &err), MS_OK);
	/* One piece per step: once Work's Maildir is listed, the next step
	 * starts its records, the one after reads the first of them (a
	 * chunk up to 512); then 3 and 1000 are committed. */
	for (int i = 0; i < 100000 && rc != MS_OK; i++) {
		rc = mirror_export_step(j, 0, &err);
		if (rc == MIRROR_EXPORT_WORK) {
			mirror_export_work(j);
			if (after < 0 && stat(dir, &sb) == 0)
				after = 0;
			continue;
		}
		if (rc < 0)
			fail_msg("export step: %s", err.msg);
		if (after >= 0 && ++after == 2) {
			mt_add(t, work, 3, MT_MSG3, 0);
			mt_add(t, work, 1000, MT_MSG4, 0);
		}
	}
	assert_int_equal(rc, MS_OK);
	assert_true(after >= 2);
	mirror_export_end(&j, &st);
	/* The setup's 5, Work's 256 and 1000; not 3. */
	assert_int_equal(st.written, 5 + 256 + 1);
	assert_int_equal(store_msg_get(t->s, work, 3, &m, &err), MS_OK);
	assert_int_equal(store_folder_get(t->s, work, &f, &err), MS_OK);
	assert_true(f.state.mirror_durable < m.local_seq);
	/* 3's file is missing, and no reader removed it. */
	st = mt_scan(t);
	assert_int_equal(st.deletes, 0);
	st = mt_export(t);
	assert_int_equal(st.written, 1);
	mt_check(t);
}

/* Names that need care: "&" (modified UTF-7's escape, stored decoded),
 * deep nesting, a component named like a Maildir subdirectory, a leading
 * dot, and a \Noselect parent that gets no Maildir of its own. */
static void
test_folder_names(void **state)
{
	struct mt *t = *state;
	struct store_folder_state fs = { .uidvalidity = 400, .uidnext = 9 };
	struct store_batch *b;
	struct ms_err err = { 0 };
	static const char *const names[] = { "R&D", "a/b/c", "x/cur", ".hidden" };
	static const char *const dirs[] = { "R&D/cur", "a/b/c/cur", "x/%63ur/cur",
					    "%2Ehidden/cur" };
	uint32_t id, lists;
	char path[8300];
	struct stat sb;

	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(store_folder_ensure(t->s, "acct", names[i], '/', 0,
						     &id, &err), MS_OK);
		assert_int_equal(store_batch_new(t->s, &b), MS_OK);
		assert_int_equal(store_batch_folder_state(b, id, &fs,
							  STORE_FS_UIDVALIDITY),
				 MS_OK);
		assert_int_equal(store_batch_commit(b, &err), MS_OK);
		store_batch_free(&b);
		mt_add(t, id, 1, MT_MSG2, STORE_FLAG_SEEN);
	}
	assert_int_equal(store_folder_ensure(t->s, "acct", "Lists", '/',
					     STORE_FOLDER_NOSELECT, &lists, &err),
			 MS_OK);
	(void)mt_export(t);
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", t->root, dirs[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(tmd_count(t->root, dirs[i]), 1);
	}
	snprintf(path, sizeof(path), "%s/Lists/cur", t->root);
	assert_int_not_equal(stat(path, &sb), 0);
	mt_check(t);
	t->nreports = 0;
	(void)mt_scan(t);
	assert_int_equal(t->nreports, 0);	/* all of them are folders */
}

/* Export alone (no scan first, as after a server change in the daemon)
 * never undoes what a reader did. */
static void
test_export_keeps_reader_changes(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_msg m;
	struct ms_err err = { 0 };
	char name[512], to[600], a[8300];

	(void)mt_export(t);
	mt_server_flags(t, t->inbox, 3, STORE_FLAG_SEEN);	/* was FRS */
	assert_true(mt_find(t, "", 3, name, sizeof(name)));
	snprintf(to, sizeof(to), "%.*s:2,DFRS", (int)(strstr(name, ":2,") - name),
		 name);
	mt_rename(t, "", name, to);
	assert_true(mt_find(t, "", 2, name, sizeof(name)));
	snprintf(a, sizeof(a), "%s/%s", t->root, name);
	assert_int_equal(unlink(a), 0);
	st = mt_export(t);
	assert_int_equal(st.written + st.renamed, 0);
	assert_false(mt_find(t, "", 2, name, sizeof(name)));
	assert_true(mt_find(t, "", 3, name, sizeof(name)));
	assert_string_equal(strstr(name, ":2,"), ":2,DFRS");
	st = mt_scan(t);
	assert_int_equal(st.flag_changes, 1);
	assert_int_equal(st.deletes, 1);
	/* Merged: the server removed F and R, the reader added D. */
	assert_int_equal(store_msg_get(t->s, t->inbox, 3, &m, &err), MS_OK);
	assert_int_equal(m.flags, STORE_FLAG_SEEN | STORE_FLAG_DRAFT);
	st = mt_export(t);
	assert_int_equal(st.renamed, 1);
	assert_true(mt_find(t, "", 3, name, sizeof(name)));
	assert_string_equal(strstr(name, ":2,"), ":2,DS");
	mt_check(t);
}

#define MT_RACE_N 1500

/* A reader renames files (adding F) while export renames the same
 * folder's files for server changes: afterwards scan + export agree with
 * the store, and every rename the reader managed to make counts. */
static void
test_rename_race(void **state)
{
	struct mt *t = *state;
	struct store_batch *b;
	struct ms_err err = { 0 };
	char text[200], path[8300], from[8600], to[8700], line[600];
	int pfd[2];
	pid_t pid;
	FILE *in;
	unsigned won = 0;

	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	for (uint32_t uid = 10; uid < 10 + MT_RACE_N; uid++) {
		struct store_msg m = { .folder_id = t->inbox, .uid = uid,
				       .flags = STORE_FLAG_SEEN,
				       .synced_flags = STORE_FLAG_SEEN };

		snprintf(text, sizeof(text), "Subject: race %u\r\n\r\nbody %u\r\n",
			 uid, uid);
		assert_int_equal(store_batch_msg_add(b, &m, tsu_body(t->s, text,
					strlen(text), 64)), MS_OK);
	}
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	(void)mt_export(t);
	for (uint32_t uid = 10; uid < 10 + MT_RACE_N; uid++)
		assert_int_equal(store_batch_msg_flags(b, t->inbox, uid,
						       STORE_FLAG_SEEN |
						       STORE_FLAG_ANSWERED,
						       STORE_FLAG_SEEN |
						       STORE_FLAG_ANSWERED, 0),
				 MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(pipe(pfd), 0);
	snprintf(path, sizeof(path), "%s/cur", t->root);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The reader: every ":2,S" file it still finds gets F. */
		DIR *d = opendir(path);
		struct dirent *de;
		FILE *out = fdopen(pfd[1], "w");

		close(pfd[0]);
		while (d != NULL && (de = readdir(d)) != NULL) {
			char *info = strstr(de->d_name, ":2,S");

			if (info == NULL || info[4] != '\0')
				continue;
			snprintf(from, sizeof(from), "%s/%s", path, de->d_name);
			snprintf(to, sizeof(to), "%s/%.*s:2,FS", path,
				 (int)(info - de->d_name), de->d_name);
			if (rename(from, to) == 0)
				fprintf(out, "%.*s\n", (int)strcspn(de->d_name, ","),
					de->d_name);
		}
		fclose(out);
		_exit(0);
	}
	close(pfd[1]);
	(void)mt_export(t);
	in = fdopen(pfd[0], "r");
	assert_non_null(in);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	(void)mt_scan(t);
	(void)mt_export(t);
	mt_check(t);
	while (fgets(line, sizeof(line), in) != NULL) {
		unsigned uv, uid;
		struct store_msg m;

		assert_int_equal(sscanf(line, "%u-%u-", &uv, &uid), 2);
		assert_int_equal(store_msg_get(t->s, t->inbox, uid, &m, &err), MS_OK);
		if (uid >= 10)
			assert_int_equal(m.flags, STORE_FLAG_SEEN |
					 STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED);
		won++;
	}
	fclose(in);
	printf("reader renames that won the race: %u of %u\n", won, MT_RACE_N);
}

static uint32_t
mt_folder_id(struct mt *t, const char *name, uint32_t *attrs_r, char *delim_r)
{
	struct store_folder f;
	struct ms_err err = { 0 };

	if (store_folder_find(t->s, "acct", name, &f, &err) != MS_OK)
		return 0;
	*attrs_r = f.attrs;
	*delim_r = f.delimiter;
	return f.id;
}

/* The server took the reader's new folder: LIST shows it, SELECT gives
 * UIDVALIDITY, the APPENDs are records (uid 1, 2, ... in change order). */
static void
mt_server_took(struct mt *t, const char *name, uint32_t uidvalidity)
{
	struct store_change *ch;
	struct store_batch *b;
	struct store_folder_state fs = { .uidvalidity = uidvalidity,
					 .uidnext = 100 };
	struct ms_err err = { 0 };
	uint32_t id, uid = 1;
	size_t n;

	assert_int_equal(store_folder_ensure(t->s, "acct", name, '/', 0, &id,
					     &err), MS_OK);
	ch = mt_changes(t, &n);
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_folder_state(b, id, &fs,
						  STORE_FS_UIDVALIDITY |
						  STORE_FS_UIDNEXT), MS_OK);
	for (size_t i = 0; i < n; i++) {
		struct store_msg m;

		if (ch[i].folder_id != id || ch[i].kind != STORE_CHANGE_APPEND)
			continue;
		memset(&m, 0, sizeof(m));
		m.folder_id = id;
		m.uid = uid++;
		memcpy(m.hash, ch[i].hash, STORE_HASH_LEN);
		assert_int_equal(store_batch_msg_add(b, &m, NULL), MS_OK);
		assert_int_equal(store_batch_change_clear(b, ch[i].seq), MS_OK);
	}
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	free(ch);
}

/* A Maildir a reader made: a store folder to be created on the server,
 * its files pending APPENDs; export leaves them alone until the server's
 * copies arrive, then adopts them. */
static void
test_reader_new_folder(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	struct ms_err err = { 0 };
	uint32_t id_p, id_u, attrs = 0;
	char delim = 0, name[512], path[4300];
	size_t n, n_p = 0, n_u = 0;

	(void)mt_export(t);
	assert_int_equal(tmd_mkmaildir(t->root, "Projects/2026"), 0);
	assert_int_equal(tmd_put(t->root, "Projects/2026/new/1700000001.M1P1.h",
				 MT_NEW, strlen(MT_NEW)), 0);
	assert_int_equal(tmd_put(t->root, "Projects/2026/cur/1700000002.M1P1.h:2,S",
				 MT_MSG2, strlen(MT_MSG2)), 0);
	assert_int_equal(tmd_mkmaildir(t->root, MT_UNI "-new"), 0);
	assert_int_equal(tmd_put(t->root, MT_UNI "-new/cur/1700000003.M1P1.h:2,FS",
				 MT_MSG3, strlen(MT_MSG3)), 0);
	/* tmp/ is optional for readers. */
	snprintf(path, sizeof(path), "%s/%s-new/tmp", t->root, MT_UNI);
	assert_int_equal(rmdir(path), 0);
	/* Before any scan, check sees the Maildir no folder holds. */
	assert_int_equal(mirror_check(t->s, &t->p, 0, &err), MS_EINVAL);
	assert_non_null(strstr(err.msg, "Projects/2026"));
	t->nreports = 0;
	st = mt_scan(t);
	assert_int_equal(st.appends, 3);
	assert_int_equal(st.created, 2);
	assert_int_equal(st.deletes + st.moves + st.flag_changes, 0);
	assert_int_equal(t->nreports, 0);
	id_p = mt_folder_id(t, "Projects/2026", &attrs, &delim);
	assert_int_not_equal(id_p, 0);
	assert_int_equal(attrs, STORE_FOLDER_CREATE);
	assert_int_equal(delim, '/');
	id_u = mt_folder_id(t, MT_UNI "-new", &attrs, &delim);
	assert_int_not_equal(id_u, 0);
	assert_int_equal(attrs, STORE_FOLDER_CREATE);
	/* The plain directory "Projects" is no folder. */
	assert_int_equal(mt_folder_id(t, "Projects", &attrs, &delim), 0);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ch[i].kind, STORE_CHANGE_APPEND);
		n_p += ch[i].folder_id == id_p;
		n_u += ch[i].folder_id == id_u;
	}
	assert_int_equal(n_p, 2);
	assert_int_equal(n_u, 1);
	free(ch);
	mt_check(t);
	/* Nothing twice; export touches none of the reader's files. */
	st = mt_scan(t);
	assert_int_equal(st.appends + st.flag_changes + st.created, 0);
	st = mt_export(t);
	assert_int_equal(st.written + st.removed + st.adopted + st.renamed, 0);
	assert_int_equal(tmd_get(t->root, "Projects/2026/new/1700000001.M1P1.h",
				 name, sizeof(name)), strlen(MT_NEW));
	assert_int_equal(tmd_get(t->root, "Projects/2026/cur/1700000002.M1P1.h:2,S",
				 name, sizeof(name)), strlen(MT_MSG2));
	mt_check(t);
	/* The folder deleted by the reader before the server has it: its
	 * mail is pending all the same, and export makes the Maildir again. */
	tmd_rmtree(t->root);
	st = mt_export(t);
	assert_int_equal(tmd_count(t->root, "Projects/2026/new") +
			 tmd_count(t->root, "Projects/2026/cur"), 0);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 3);
	free(ch);
	assert_int_equal(tmd_put(t->root, "Projects/2026/new/1700000001.M1P1.h",
				 MT_NEW, strlen(MT_NEW)), 0);
	assert_int_equal(tmd_put(t->root, "Projects/2026/cur/1700000002.M1P1.h:2,S",
				 MT_MSG2, strlen(MT_MSG2)), 0);
	assert_int_equal(tmd_put(t->root, MT_UNI "-new/cur/1700000003.M1P1.h:2,FS",
				 MT_MSG3, strlen(MT_MSG3)), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends, 0);
	/* The server created both and took the messages: export adopts
	 * the files, the reader's letters become pending FLAGS. */
	mt_server_took(t, "Projects/2026", 700);
	mt_server_took(t, MT_UNI "-new", 701);
	(void)mt_folder_id(t, "Projects/2026", &attrs, &delim);
	assert_int_equal(attrs & STORE_FOLDER_CREATE, 0);
	st = mt_export(t);
	assert_int_equal(st.written, 0);
	assert_int_equal(st.adopted, 3);
	assert_int_equal(st.flag_changes, 2);
	assert_int_equal(tmd_count(t->root, "Projects/2026/new") +
			 tmd_count(t->root, "Projects/2026/cur"), 2);
	assert_int_equal(tmd_count(t->root, MT_UNI "-new/cur"), 1);
	mt_check(t);
	mt_clear_changes(t);
	st = mt_scan(t);
	assert_int_equal(st.appends + st.flag_changes + st.deletes, 0);
}

/* Maildirs that cannot become folders: a \Noselect folder's, one in a
 * Maildir that cannot be a folder, and any in an account without folders. */
static void
test_reader_new_folder_refused(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	struct ms_err err = { 0 };
	uint32_t id, attrs = 0;
	char delim = 0;
	size_t n;

	assert_int_equal(store_folder_ensure(t->s, "acct", "Lists", '/',
					     STORE_FOLDER_NOSELECT, &id, &err),
			 MS_OK);
	(void)mt_export(t);
	assert_int_equal(tmd_mkmaildir(t->root, "Lists"), 0);
	assert_int_equal(tmd_mkmaildir(t->root, "Lists/new2"), 0);
	assert_int_equal(tmd_mkmaildir(t->root, "a%2fb"), 0);
	assert_int_equal(tmd_mkmaildir(t->root, "a%2fb/c"), 0);
	t->nreports = 0;
	st = mt_scan(t);
	assert_int_equal(st.appends, 0);
	assert_int_equal(t->nreports, 3);
	/* Lists is on the server (\Noselect): a child can be created. */
	assert_int_not_equal(mt_folder_id(t, "Lists/new2", &attrs, &delim), 0);
	assert_int_equal(attrs, STORE_FOLDER_CREATE);
	(void)mt_folder_id(t, "Lists", &attrs, &delim);
	assert_int_equal(attrs, STORE_FOLDER_NOSELECT);
	mt_check(t);

	/* Another account, no folder yet: nothing to take a delimiter from. */
	t->p.account = "empty";
	t->nreports = 0;
	st = mt_scan(t);
	assert_int_equal(st.appends, 0);
	assert_true(t->nreports > 0);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 0);
	free(ch);
	t->p.account = "acct";
}

/* Folders made in the same second share a UIDVALIDITY on some servers: a
 * reader's move between two of them keeps a name that reads as a record
 * of the destination; it is a move, not an expunged message's file. */
static void
test_move_same_uidvalidity(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	struct store_batch *b;
	struct store_msg m, nm;
	struct ms_err err = { 0 };
	char from[8400], to[8400], name[512];
	uint32_t same;
	size_t n;

	mt_folder(t, "Same", 100, &same);	/* INBOX's UIDVALIDITY */
	(void)mt_export(t);
	assert_int_equal(store_msg_get(t->s, t->inbox, 2, &m, &err), MS_OK);
	snprintf(from, sizeof(from), "%s/cur/%s", t->root, m.mirror_name);
	snprintf(to, sizeof(to), "%s/Same/cur/%s", t->root, m.mirror_name);
	assert_int_equal(rename(from, to), 0);
	st = mt_scan(t);
	assert_int_equal(st.moves, 1);
	assert_int_equal(st.deletes + st.appends, 0);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].kind, STORE_CHANGE_MOVE);
	assert_int_equal(ch[0].dest_folder_id, same);
	free(ch);
	/* Export leaves the moved file alone until the server moved it. */
	st = mt_export(t);
	assert_int_equal(st.removed + st.written, 0);
	mt_check(t);
	/* The server moved it: uid 2 left INBOX, Same has it as uid 1. */
	memset(&nm, 0, sizeof(nm));
	nm.folder_id = same;
	nm.uid = 1;
	nm.flags = nm.synced_flags = m.flags;
	memcpy(nm.hash, m.hash, STORE_HASH_LEN);
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_msg_add(b, &nm, NULL), MS_OK);
	assert_int_equal(store_batch_msg_expunge(b, t->inbox, 2, 2), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	mt_clear_changes(t);
	st = mt_scan(t);
	assert_int_equal(st.deletes + st.moves + st.appends, 0);
	/* The scan adopts it already: its name is no leftover of Same. */
	assert_int_equal(st.adopted, 1);
	st = mt_export(t);
	assert_int_equal(st.removed + st.written + st.adopted, 0);
	assert_int_equal(tmd_count(t->root, "Same/cur") +
			 tmd_count(t->root, "Same/new"), 1);
	assert_int_equal(store_msg_get(t->s, same, 1, &nm, &err), MS_OK);
	snprintf(name, sizeof(name), "Same/cur/%s", nm.mirror_name);
	assert_int_equal(tmd_get(t->root, name, from, sizeof(from)),
			 mt_lf(MT_MSG2, to, sizeof(to)));
	mt_check(t);
	mt_pass_no_change(t);
}

/* The server deleted folder id: its records go, it stays a tombstone (as
 * imap_sync.c's reconcile does with a mirror). */
static void
mt_server_deleted(struct mt *t, const char *name)
{
	struct store_batch *b;
	struct store_folder f;
	struct ms_err err = { 0 };
	uint32_t id;

	assert_int_equal(store_folder_find(t->s, "acct", name, &f, &err), MS_OK);
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_msg_expunge(b, f.id, 1, UINT32_MAX), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	assert_int_equal(store_folder_ensure(t->s, "acct", name, f.delimiter,
					     f.attrs | STORE_FOLDER_GONE, &id,
					     &err), MS_OK);
}

static size_t
mt_nchanges(struct mt *t, enum store_change_kind kind, uint32_t folder_id)
{
	struct store_change *ch;
	size_t n, k = 0;

	ch = mt_changes(t, &n);
	for (size_t i = 0; i < n; i++)
		k += ch[i].kind == kind && ch[i].folder_id == folder_id;
	free(ch);
	return k;
}

/*
 * The server expunges a flagged message and delivers the same bytes again
 * under a new UID, unflagged, in one pass: the expunged record's file is
 * not adopted by the new record (its F would be taken for a reader's
 * change and pushed to the server); it goes, and the new record gets a
 * file with its own flags.
 */
static void
test_leftover_not_adopted(void **state)
{
	static const char text[] =
		"From: r@example.org\r\nSubject: again\r\n\r\nsame bytes\r\n";
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	char name[256];
	size_t n;

	mt_add(t, t->inbox, 70, text, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	(void)mt_export(t);
	assert_true(mt_find(t, "", 70, name, sizeof(name)));
	assert_non_null(strstr(name, ":2,FS"));
	mt_push_expunge(t, 70, NULL);
	mt_add(t, t->inbox, 71, text, 0);
	mt_clear_changes(t);
	st = mt_export(t);
	assert_int_equal(st.flag_changes, 0);
	assert_int_equal(st.adopted, 0);
	ch = mt_changes(t, &n);
	free(ch);
	assert_int_equal(n, 0);
	assert_false(mt_find(t, "", 70, name, sizeof(name)));
	assert_true(mt_find(t, "", 71, name, sizeof(name)));
	assert_null(strchr(name, 'F'));
	mt_check(t);
}

/*
 * A reader renaming a file while the scan lists its directory: readdir
 * may give the entry under both names (tmpfs and ext4 both can).  Two
 * names with one unique part are one message, never a reader's new one
 * (an APPEND would duplicate it on the server); the rename's event brings
 * the scan that records the letters.  Hard links stand in for the race.
 */
static void
test_listed_twice(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_msg m;
	struct ms_err err = { 0 };
	char name[256], from[8600], to[8700];
	unsigned changes;
	size_t len;

	mt_add(t, t->inbox, 70, MT_MSG2, STORE_FLAG_SEEN);
	(void)mt_export(t);
	assert_true(mt_find(t, "", 70, name, sizeof(name)));
	len = strlen(name);
	assert_true(len > 4 && strcmp(name + len - 4, ":2,S") == 0);
	snprintf(from, sizeof(from), "%s/%s", t->root, name);
	snprintf(to, sizeof(to), "%s/%.*s:2,RS", t->root, (int)(len - 4), name);
	assert_int_equal(link(from, to), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends, 0);
	changes = st.flag_changes;
	assert_int_equal(mt_nchanges(t, STORE_CHANGE_APPEND, t->inbox), 0);
	/* Once the old name is gone, the new one is the record's file
	 * (the first scan took either name for it). */
	assert_int_equal(unlink(from), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends, 0);
	assert_int_equal(changes + st.flag_changes, 1);
	assert_int_equal(mt_nchanges(t, STORE_CHANGE_APPEND, t->inbox), 0);
	assert_int_equal(store_msg_get(t->s, t->inbox, 70, &m, &err), MS_OK);
	assert_int_equal(m.flags, STORE_FLAG_SEEN | STORE_FLAG_ANSWERED);
	(void)mt_export(t);
	mt_check(t);
}

/* A tombstone's Maildir with a reader's files is a folder the reader
 * wants (made anew: no state of the deleted folder); one with only the
 * export's leftovers is the export's to remove. */
static void
test_tombstone_reader_files(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_folder f;
	struct ms_err err = { 0 };
	uint32_t old, left, attrs = 0;
	char delim = 0, path[8400];

	mt_folder(t, "Old", 400, &old);
	mt_add(t, old, 5, MT_MSG2, STORE_FLAG_SEEN);
	mt_folder(t, "Left", 401, &left);
	mt_add(t, left, 6, MT_MSG3, 0);
	(void)mt_export(t);
	assert_int_equal(tmd_count(t->root, "Old/cur"), 1);
	assert_int_equal(tmd_count(t->root, "Left/new"), 1);
	mt_server_deleted(t, "Old");
	mt_server_deleted(t, "Left");
	/* Before the export removed its file, a reader filed one in Old. */
	assert_int_equal(tmd_put(t->root, "Old/new/1700000011.M1P1.h", MT_NEW,
				 strlen(MT_NEW)), 0);
	st = mt_scan(t);
	assert_int_equal(st.created + st.appends + st.deletes, 0);
	(void)mt_folder_id(t, "Old", &attrs, &delim);
	assert_int_equal(attrs, STORE_FOLDER_GONE);
	/* Export removes its own files: Left's Maildir goes, Old's stays. */
	st = mt_export(t);
	assert_int_equal(st.removed, 2);
	snprintf(path, sizeof(path), "%s/Left", t->root);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(tmd_count(t->root, "Old/new"), 1);
	assert_int_equal(tmd_count(t->root, "Old/cur"), 0);
	/* Now Old holds the reader's file only: to be created again. */
	st = mt_scan(t);
	assert_int_equal(st.created, 1);
	assert_int_equal(st.appends, 1);
	assert_int_equal(st.deletes + st.moves, 0);
	assert_int_equal(store_folder_get(t->s, old, &f, &err), MS_OK);
	assert_int_equal(f.attrs, STORE_FOLDER_CREATE);
	assert_int_equal(f.state.uidvalidity, 0);
	assert_int_equal(f.state.uidnext, 0);
	assert_int_equal(f.state.highestmodseq, 0);
	assert_int_equal(mt_nchanges(t, STORE_CHANGE_APPEND, old), 1);
	(void)mt_folder_id(t, "Left", &attrs, &delim);
	assert_int_equal(attrs, STORE_FOLDER_GONE);
	mt_check(t);
	st = mt_scan(t);
	assert_int_equal(st.created + st.appends, 0);
	/* A reader makes the removed Left again and files a message. */
	assert_int_equal(tmd_mkmaildir(t->root, "Left"), 0);
	assert_int_equal(tmd_put(t->root, "Left/cur/1700000012.M1P1.h:2,S",
				 MT_MSG4, strlen(MT_MSG4)), 0);
	st = mt_scan(t);
	assert_int_equal(st.created, 1);
	assert_int_equal(st.appends, 1);
	(void)mt_folder_id(t, "Left", &attrs, &delim);
	assert_int_equal(attrs, STORE_FOLDER_CREATE);
	assert_int_equal(mt_nchanges(t, STORE_CHANGE_APPEND, left), 1);
	/* The server created both and took the messages: adopted. */
	mt_server_took(t, "Old", 900);
	mt_server_took(t, "Left", 901);
	st = mt_export(t);
	assert_int_equal(st.written + st.removed, 0);
	assert_int_equal(st.adopted, 2);
	mt_check(t);
}

/* A pending move into a folder the server deleted: with the reader's file
 * still in the tombstone's Maildir the folder is made again and the move
 * waits for it; with the file gone too the move is dropped, and the
 * message is the mirror's again in its folder (no deletion). */
static void
test_move_into_gone_folder(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_msg m2, m3;
	struct store_change *ch;
	struct ms_err err = { 0 };
	uint32_t kept, lost, attrs = 0;
	char delim = 0, from[8400], to[8400], name[512];
	size_t n;

	mt_folder(t, "Kept", 500, &kept);
	mt_add(t, kept, 1, MT_MSG4, 0);
	mt_folder(t, "Lost", 501, &lost);
	mt_add(t, lost, 1, MT_MSG4, 0);
	(void)mt_export(t);
	assert_int_equal(store_msg_get(t->s, t->inbox, 2, &m2, &err), MS_OK);
	assert_int_equal(store_msg_get(t->s, t->inbox, 3, &m3, &err), MS_OK);
	snprintf(from, sizeof(from), "%s/cur/%s", t->root, m2.mirror_name);
	snprintf(to, sizeof(to), "%s/Kept/cur/%s", t->root, m2.mirror_name);
	assert_int_equal(rename(from, to), 0);
	snprintf(from, sizeof(from), "%s/cur/%s", t->root, m3.mirror_name);
	snprintf(to, sizeof(to), "%s/Lost/cur/%s", t->root, m3.mirror_name);
	assert_int_equal(rename(from, to), 0);
	st = mt_scan(t);
	assert_int_equal(st.moves, 2);
	mt_server_deleted(t, "Kept");
	mt_server_deleted(t, "Lost");
	/* The reader removes Lost's Maildir, the moved file with it. */
	snprintf(to, sizeof(to), "%s/Lost", t->root);
	tmd_rmtree(to);
	st = mt_scan(t);
	assert_int_equal(st.moves_dropped, 1);
	assert_int_equal(st.deletes + st.appends + st.moves, 0);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].kind, STORE_CHANGE_MOVE);
	assert_int_equal(ch[0].uid, 2);
	assert_int_equal(ch[0].dest_folder_id, kept);
	free(ch);
	/* Kept still holds the export's file: it waits for the export. */
	(void)mt_folder_id(t, "Kept", &attrs, &delim);
	assert_int_equal(attrs, STORE_FOLDER_GONE);
	st = mt_export(t);
	assert_int_equal(st.written, 1);	/* INBOX uid 3 again */
	assert_int_equal(st.removed, 1);	/* Kept's uid 1 */
	assert_true(mt_find(t, "", 3, name, sizeof(name)));
	assert_false(mt_find(t, "", 2, name, sizeof(name)));
	st = mt_scan(t);
	assert_int_equal(st.created, 1);
	assert_int_equal(st.deletes + st.appends + st.moves + st.moves_dropped,
			 0);
	(void)mt_folder_id(t, "Kept", &attrs, &delim);
	assert_int_equal(attrs, STORE_FOLDER_CREATE);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].kind, STORE_CHANGE_MOVE);
	assert_int_equal(ch[0].dest_folder_id, kept);
	free(ch);
	mt_check(t);
	st = mt_export(t);
	assert_int_equal(st.written + st.removed, 0);
	mt_check(t);
}

/* A reader's Maildir that the account's folders = patterns exclude is no
 * folder: reported once, left alone. */
static void
test_reader_new_folder_excluded(void **state)
{
	struct mt *t = *state;
	char *const pats[] = { "*", "!Private*" };
	struct mirror_stats st;
	uint32_t attrs = 0;
	char delim = 0;

	t->p.folders = pats;
	t->p.nfolders = 2;
	(void)mt_export(t);
	assert_int_equal(tmd_mkmaildir(t->root, "Private"), 0);
	assert_int_equal(tmd_put(t->root, "Private/new/1700000021.M1P1.h",
				 MT_NEW, strlen(MT_NEW)), 0);
	assert_int_equal(tmd_mkmaildir(t->root, "Work"), 0);
	assert_int_equal(tmd_put(t->root, "Work/new/1700000022.M1P1.h",
				 MT_MSG4, strlen(MT_MSG4)), 0);
	t->nreports = 0;
	st = mt_scan(t);
	assert_int_equal(st.created, 1);
	assert_int_equal(st.appends, 1);
	assert_int_equal(t->nreports, 1);
	assert_int_equal(mt_folder_id(t, "Private", &attrs, &delim), 0);
	assert_int_not_equal(mt_folder_id(t, "Work", &attrs, &delim), 0);
	st = mt_scan(t);
	assert_int_equal(st.created + st.appends, 0);
	assert_int_equal(t->nreports, 1);
	st = mt_export(t);
	assert_int_equal(tmd_count(t->root, "Private/new"), 1);
	t->p.folders = NULL;
	t->p.nfolders = 0;
}

/* A reader's file the scan cannot take (larger than a body may be, as one
 * that cannot be read) is reported and left alone; every other change of
 * the account is recorded all the same. */
static void
test_scan_skips_unreadable(void **state)
{
	struct mt *t = *state;
	struct store_params sp = { .dir = t->sdir, .max_body_size = 4096 };
	struct mirror_stats st = { 0 };
	struct ms_err err = { 0 };
	char name[512], a[8300], big[6000];

	store_close(&t->s);
	assert_int_equal(store_open(&t->s, &sp, &err), MS_OK);
	(void)mt_export(t);
	memset(big, 'x', sizeof(big));
	memcpy(big, "Subject: big\r\n\r\n", 17);
	/* INBOX comes first: its file is the first the scan resolves. */
	assert_int_equal(tmd_put(t->root, "cur/1700000031.M1P1.h:2,S", big,
				 sizeof(big)), 0);
	assert_int_equal(tmd_put(t->root, "Lists/dev/new/1700000032.M1P1.h",
				 MT_NEW, strlen(MT_NEW)), 0);
	assert_true(mt_find(t, "", 2, name, sizeof(name)));
	snprintf(a, sizeof(a), "%s/%s", t->root, name);
	assert_int_equal(unlink(a), 0);
	t->nreports = 0;
	assert_int_equal(mirror_scan(t->s, &t->p, &st, &err), MS_OK);
	assert_int_equal(st.appends, 1);
	assert_int_equal(st.deletes, 1);
	assert_int_equal(mt_nchanges(t, STORE_CHANGE_APPEND, t->dev), 1);
	assert_int_equal(mt_nchanges(t, STORE_CHANGE_DELETE, t->inbox), 1);
	assert_int_equal(mt_nchanges(t, STORE_CHANGE_APPEND, t->inbox), 0);
	assert_int_equal(t->nreports, 1);
	/* Reported once; the file stays as it is. */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mirror_scan(t->s, &t->p, &st, &err), MS_OK);
	assert_int_equal(st.appends + st.deletes, 0);
	assert_int_equal(t->nreports, 1);
	assert_int_equal(tmd_get(t->root, "cur/1700000031.M1P1.h:2,S", big,
				 sizeof(big)), sizeof(big));
}

/* Two server folders whose Maildirs would be one (INBOX and inbox; Work
 * and work on a file system that ignores case): the first is mirrored,
 * the second reported and left out; neither gets the other's mail. */
static void
test_folders_one_maildir(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	struct store_msg m;
	struct ms_err err = { 0 };
	uint32_t lower, work, work2;
	char path[8300];
	size_t n;

	mt_folder(t, "inbox", 150, &lower);
	mt_add(t, lower, 5, MT_NEW, 0);
	mt_folder(t, "Work", 160, &work);
	mt_add(t, work, 1, MT_MSG2, STORE_FLAG_SEEN);
	mt_folder(t, "work", 170, &work2);
	mt_add(t, work2, 1, MT_MSG3, STORE_FLAG_SEEN);
	t->nreports = 0;
	st = mt_export(t);
	assert_int_equal(st.written, 6);
	assert_int_equal(t->nreports, 2);
	assert_int_equal(tmd_count(t->root, "cur") + tmd_count(t->root, "new"),
			 3);
	assert_int_equal(tmd_count(t->root, "Work/cur"), 1);
	snprintf(path, sizeof(path), "%s/work", t->root);
	assert_int_equal(access(path, F_OK), -1);
	/* Nothing crosses: no appends, no moves, no deletions. */
	st = mt_scan(t);
	assert_int_equal(st.appends + st.moves + st.deletes + st.created, 0);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 0);
	free(ch);
	st = mt_export(t);
	assert_int_equal(st.written + st.removed + st.adopted, 0);
	assert_int_equal(t->nreports, 2);	/* once each */
	mt_check(t);
	/* The store keeps both. */
	assert_int_equal(store_msg_get(t->s, lower, 5, &m, &err), MS_OK);
	assert_int_equal(store_msg_get(t->s, work2, 1, &m, &err), MS_OK);
}

/* The export removes the file of a record the server expunged only while
 * the store holds its bytes (a leftover): a file restored from a backup
 * under such a name later, or one whose bytes a reader changed, is a
 * reader's new message, uploaded and never removed. */
static void
test_restored_file(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	struct store_batch *b;
	struct ms_err err = { 0 };
	char name2[512], name3[512], buf[256];
	uint32_t uid = 10;
	size_t n;

	(void)mt_export(t);
	assert_true(mt_find(t, "", 2, name2, sizeof(name2)));
	assert_true(mt_find(t, "", 3, name3, sizeof(name3)));
	assert_int_equal(store_batch_new(t->s, &b), MS_OK);
	assert_int_equal(store_batch_msg_expunge(b, t->inbox, 2, 3), MS_OK);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	/* Before the export came, a reader wrote other bytes into uid 3's. */
	assert_int_equal(tmd_put(t->root, name3, MT_NEW, strlen(MT_NEW)), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends + st.deletes, 0);
	st = mt_export(t);
	assert_int_equal(st.removed, 1);
	assert_int_equal(tmd_get(t->root, name2, buf, sizeof(buf)), -1);
	assert_int_equal(tmd_get(t->root, name3, buf, sizeof(buf)),
			 strlen(MT_NEW));
	/* uid 2's file restored from a backup; both are new messages. */
	assert_int_equal(tmd_put(t->root, name2, MT_MSG2, strlen(MT_MSG2)), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends, 2);
	assert_int_equal(mt_nchanges(t, STORE_CHANGE_APPEND, t->inbox), 2);
	st = mt_export(t);
	assert_int_equal(st.removed + st.written + st.adopted, 0);
	assert_int_equal(tmd_get(t->root, name2, buf, sizeof(buf)),
			 strlen(MT_MSG2));
	mt_check(t);
	st = mt_scan(t);
	assert_int_equal(st.appends, 0);
	/* The server took them: export adopts the files. */
	ch = mt_changes(t, &n);
	for (size_t i = 0; i < n; i++) {
		struct store_msg m = { .folder_id = t->inbox, .uid = uid++ };

		memcpy(m.hash, ch[i].hash, STORE_HASH_LEN);
		assert_int_equal(store_batch_msg_add(b, &m, NULL), MS_OK);
		assert_int_equal(store_batch_change_clear(b, ch[i].seq), MS_OK);
	}
	free(ch);
	assert_int_equal(store_batch_commit(b, &err), MS_OK);
	store_batch_free(&b);
	st = mt_export(t);
	assert_int_equal(st.adopted, 2);
	assert_int_equal(st.removed + st.written, 0);
	assert_int_equal(st.flag_changes, 2);	/* the files' letters */
	mt_check(t);
	mt_clear_changes(t);
	mt_pass_no_change(t);
}

/*
 * Nothing in the tree is followed or blocked on: a folder's parent made a
 * link to another account's tree (its message must not become an APPEND,
 * ours must not look deleted, export must write nothing there), a FIFO
 * with a message's name, and a link or FIFO as the marker.  alarm(): a
 * regression fails instead of hanging.
 */
static void
test_links_not_followed(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	char other[4300], lists[4300], marker[4300], victim[4300];
	char fifo[4400];
	size_t n;

	(void)mt_export(t);
	snprintf(other, sizeof(other), "%s/other", t->sdir);
	assert_int_equal(tmd_mkmaildir(other, "dev"), 0);
	assert_int_equal(tmd_put(other, "dev/new/1.M1P1.other", MT_NEW,
				 strlen(MT_NEW)), 0);
	snprintf(lists, sizeof(lists), "%s/Lists", t->root);
	tmd_rmtree(lists);
	assert_int_equal(symlink(other, lists), 0);
	snprintf(fifo, sizeof(fifo), "%s/cur/5.M1P1.h:2,S", t->root);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(60);
	t->nreports = 0;
	st = mt_scan(t);
	assert_int_equal(st.appends + st.deletes + st.moves, 0);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 0);
	free(ch);
	assert_int_equal(t->nreports, 2);	/* the link, the FIFO */
	(void)mt_export(t);
	assert_int_equal(tmd_count(other, "dev/cur"), 0);
	assert_int_equal(tmd_count(other, "dev/new"), 1);
	assert_int_equal(tmd_count(other, "dev/tmp"), 0);

	/* The link gone, the folder is rebuilt; a link as the marker is
	 * not written through (nor taken for the marker). */
	assert_int_equal(unlink(lists), 0);
	assert_int_equal(unlink(fifo), 0);
	snprintf(marker, sizeof(marker), "%s/" MIRROR_MARKER, t->root);
	snprintf(victim, sizeof(victim), "%s/victim", t->sdir);
	assert_int_equal(unlink(marker), 0);
	assert_int_equal(symlink(victim, marker), 0);
	st = mt_export(t);
	assert_int_equal(st.written, 1);
	assert_int_equal(access(victim, F_OK), -1);
	mt_check(t);
	/* A FIFO as the marker is never opened to write (that blocks). */
	assert_int_equal(unlink(marker), 0);
	assert_int_equal(mkfifo(marker, 0600), 0);
	(void)mt_export(t);
	mt_pass_no_change(t);
	alarm(0);
	assert_int_equal(unlink(marker), 0);
}

/* Long enough for any directory time taken now to be older than the
 * clock by more than mirror_seen.c's margin. */
static void
mt_tick(void)
{
	struct timespec ts = { 0, 30 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* A file path of (folder dir rel, uid), absolute. */
static void
mt_path(struct mt *t, const char *rel, uint32_t uid, char *out, size_t outsz)
{
	char name[512];

	assert_true(mt_find(t, rel, uid, name, sizeof(name)));
	snprintf(out, outsz, "%s/%s%s%s", t->root, rel, *rel ? "/" : "", name);
}

/*
 * A pass over an unchanged mirror lists no Maildir; a reader's change
 * (a new file, a rename to other flags, a deletion, in new/ and cur/)
 * is seen by the next scan all the same, also one made at once after a
 * scan that recorded the folder, or right after one that found the
 * directory changed within the same clock tick.
 */
static void
test_unchanged_not_listed(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct store_change *ch;
	char a[8300], b[8300];
	size_t n;

	/* The export wrote every folder, listed each again once the clock
	 * had moved on, and recorded them: neither scan nor export lists
	 * them again. */
	st = mt_export(t);
	assert_int_equal(st.listed, 5);
	st = mt_scan(t);
	assert_int_equal(st.folders, 3);
	assert_int_equal(st.unchanged, 3);
	assert_int_equal(st.listed, 0);
	st = mt_export(t);
	assert_int_equal(st.unchanged, 3);
	assert_int_equal(st.listed, 0);
	assert_int_equal(st.written + st.renamed + st.removed, 0);

	/* At once after that scan: a flag change (a rename in cur/). */
	mt_path(t, "", 2, a, sizeof(a));
	snprintf(b, sizeof(b), "%.*s:2,FS", (int)(strstr(a, ":2,") - a), a);
	assert_int_equal(rename(a, b), 0);
	st = mt_scan(t);
	assert_int_equal(st.flag_changes, 1);
	assert_int_equal(st.unchanged, 2);
	mt_clear_changes(t);

	/* At once after a scan that listed a directory changed just now
	 * (too recent to record): a new file in new/ of the same folder. */
	assert_int_equal(tmd_put(t->root, "new/1700000002.M1P1.host", MT_NEW,
				 strlen(MT_NEW)), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends, 1);
	assert_int_equal(tmd_put(t->root, "new/1700000003.M1P1.host", MT_MSG4,
				 strlen(MT_MSG4)), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends, 1);
	snprintf(a, sizeof(a), "%s/new/1700000002.M1P1.host", t->root);
	assert_int_equal(unlink(a), 0);
	snprintf(a, sizeof(a), "%s/new/1700000003.M1P1.host", t->root);
	assert_int_equal(unlink(a), 0);
	mt_clear_changes(t);

	/* Recorded again, then at once: a deletion in new/, a new file in
	 * cur/ of another folder, a deletion in cur/ of a third. */
	(void)mt_export(t);
	mt_tick();
	(void)mt_scan(t);
	mt_tick();
	st = mt_scan(t);
	assert_int_equal(st.listed, 0);
	mt_path(t, "", 1, a, sizeof(a));
	assert_int_equal(unlink(a), 0);
	assert_int_equal(tmd_put(t->root, "Lists/dev/cur/1700000004.M1P1.host:2,S",
				 MT_MSG2, strlen(MT_MSG2)), 0);
	mt_path(t, MT_UNI, 9, a, sizeof(a));
	assert_int_equal(unlink(a), 0);
	st = mt_scan(t);
	assert_int_equal(st.unchanged, 0);
	assert_int_equal(st.deletes, 2);
	assert_int_equal(st.appends, 1);
	ch = mt_changes(t, &n);
	assert_int_equal(n, 3);
	free(ch);
}

/* A tool that puts new/'s mtime back after adding a file (a restore):
 * the ctime still tells. */
static void
test_unchanged_mtime_put_back(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	struct timespec times[2];
	struct stat sb;
	char a[8300];

	(void)mt_export(t);
	mt_tick();
	(void)mt_scan(t);
	mt_tick();
	st = mt_scan(t);
	assert_int_equal(st.listed, 0);
	snprintf(a, sizeof(a), "%s/Lists/dev/new", t->root);
	assert_int_equal(stat(a, &sb), 0);
	assert_int_equal(tmd_put(t->root, "Lists/dev/new/1700000005.M1P1.host",
				 MT_MSG3, strlen(MT_MSG3)), 0);
	times[0] = sb.st_atim;
	times[1] = sb.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, a, times, 0), 0);
	st = mt_scan(t);
	assert_int_equal(st.appends, 1);
}

/* A store change the mirror depends on (a server flag change, a pending
 * change gone) makes the folders listed again though no directory moved. */
static void
test_unchanged_store_changed(void **state)
{
	struct mt *t = *state;
	struct mirror_stats st;
	char name[512];

	(void)mt_export(t);
	mt_tick();
	(void)mt_scan(t);
	st = mt_export(t);
	assert_int_equal(st.unchanged, 3);
	mt_server_flags(t, t->inbox, 1, STORE_FLAG_SEEN);
	st = mt_export(t);
	assert_int_equal(st.unchanged, 0);
	assert_int_equal(st.renamed, 1);
	assert_true(mt_find(t, "", 1, name, sizeof(name)));
	assert_string_equal(strstr(name, ":2,"), ":2,S");
	mt_check(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_export_layout, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_export_exact, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_server_changes, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_reader_flags, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_both_sides, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_reader_delete_and_move, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_reader_new_file, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_reader_new_lf, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_export_handed_bodies, mt_setup,
						mt_teardown),
		cmocka_unit_test_setup_teardown(test_handed_cap, mt_setup,
						mt_teardown),
		cmocka_unit_test_setup_teardown(test_not_messages, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_watermark, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_early_unlisted, mt_setup,
						mt_teardown),
		cmocka_unit_test_setup_teardown(test_push_unlisted, mt_setup,
						mt_teardown),
		cmocka_unit_test_setup_teardown(test_export_beside_commits, mt_setup,
						mt_teardown),
		cmocka_unit_test_setup_teardown(test_folder_names, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_export_keeps_reader_changes, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_rename_race, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_reader_new_folder, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_reader_new_folder_refused, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_move_same_uidvalidity, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_leftover_not_adopted, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_listed_twice, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_tombstone_reader_files, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_move_into_gone_folder, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_reader_new_folder_excluded, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_scan_skips_unreadable, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_folders_one_maildir, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_restored_file, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_links_not_followed, mt_setup,
						mt_teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_not_listed, mt_setup,
						mt_teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_store_changed,
						mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_mtime_put_back,
						mt_setup, mt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
