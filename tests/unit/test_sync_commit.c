/*
 * test_sync_commit.c - daemon/sync/sync_commit.c: a full batch handed to
 * a pool thread is committed there while the loop fills the spare; the
 * join returns its result (and waits for it), the batch comes back empty
 * as the next spare, a new one is handed out only once the request is
 * retired; freed with a commit under way, the commit finishes and the
 * loop frees what is left (nothing leaks, the loop closes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sync/sync_commit.h"
#include "test_store_util.h"

static void
sc_fill(struct store_batch *b, struct store *s, uint32_t folder,
	uint32_t first, uint32_t n)
{
	char text[128];

	for (uint32_t uid = first; uid < first + n; uid++) {
		snprintf(text, sizeof(text), "Subject: %u\r\n\r\nbody %u\r\n",
			 uid, uid);
		tsu_add(b, s, folder, uid, text);
	}
}

static uint32_t
sc_count(struct store *s, uint32_t folder)
{
	struct store_msg_iter *it = NULL;
	struct store_msg m;
	uint32_t n = 0;

	assert_int_equal(store_msg_iter_new(s, folder, 0, &it), MS_OK);
	while (store_msg_iter_next(it, &m, NULL) == MS_OK)
		n++;
	store_msg_iter_free(&it);
	return n;
}

static void
test_commit_behind(void **state)
{
	char *dir = tsu_tmpdir();
	struct store *s = tsu_open(dir, 0);
	struct sync_commit_behind *c = NULL;
	struct store_batch *b = NULL, *first;
	struct ms_err err = { 0 };
	uv_loop_t loop;
	uint32_t folder;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(store_folder_ensure(s, "a", "INBOX", '/', 0, &folder,
					     &err), MS_OK);
	assert_int_equal(store_batch_new(s, &b), MS_OK);
	assert_int_equal(sync_commit_behind_new(s, &c), MS_OK);
	assert_true(sync_commit_behind_is_ready(c));
	assert_int_equal(sync_commit_behind_join(c, &err), MS_OK);	/* none */

	sc_fill(b, s, folder, 1, 300);
	first = b;
	assert_int_equal(sync_commit_behind_start(c, &loop, &b, &err), MS_OK);
	assert_ptr_not_equal(b, first);		/* the spare */
	assert_int_equal(store_batch_count(b), 0);
	assert_false(sync_commit_behind_is_ready(c));
	/* The loop fills the spare meanwhile. */
	sc_fill(b, s, folder, 301, 10);
	assert_int_equal(sync_commit_behind_join(c, &err), MS_OK);
	assert_int_equal(sc_count(s, folder), 300);
	assert_true(sync_commit_behind_is_finished(c));
	/* Joined, but the request is retired by the loop only. */
	assert_false(sync_commit_behind_is_ready(c));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(sync_commit_behind_is_ready(c));
	assert_int_equal(sync_commit_behind_start(c, &loop, &b, &err), MS_OK);
	assert_ptr_equal(b, first);		/* came back empty */
	assert_int_equal(store_batch_count(b), 0);
	assert_int_equal(sync_commit_behind_join(c, &err), MS_OK);
	assert_int_equal(sc_count(s, folder), 310);
	uv_run(&loop, UV_RUN_DEFAULT);

	/* Freed with a commit under way: it ends, the loop frees the rest. */
	sc_fill(b, s, folder, 311, 200);
	assert_int_equal(sync_commit_behind_start(c, &loop, &b, &err), MS_OK);
	sync_commit_behind_free(&c);
	assert_null(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(sc_count(s, folder), 510);
	assert_int_equal(store_check(s, 0, &err), MS_OK);
	store_batch_free(&b);
	store_close(&s);
	tsu_rmdir(dir);
}

struct sc_retired {
	struct sync_commit_behind *c;
	struct store *s;
	uint32_t folder;
	unsigned calls;
	uint32_t count_seen;	/* records in the store at the call */
	bool was_finished;
};

static void
sc_on_retired(void *arg)
{
	struct sc_retired *r = arg;

	r->calls++;
	r->count_seen = sc_count(r->s, r->folder);
	r->was_finished = sync_commit_behind_is_finished(r->c);
}

/* The pass's forced commits wait for the pool through on_retired: it
 * fires once per commit, on the loop, with the commit finished (joining
 * does not wait), and never after the free. */
static void
test_on_retired(void **state)
{
	char *dir = tsu_tmpdir();
	struct sc_retired r = { 0 };
	struct store_batch *b = NULL;
	struct ms_err err = { 0 };
	uv_loop_t loop;

	(void)state;
	r.s = tsu_open(dir, 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(store_folder_ensure(r.s, "a", "INBOX", '/', 0,
					     &r.folder, &err), MS_OK);
	assert_int_equal(store_batch_new(r.s, &b), MS_OK);
	assert_int_equal(sync_commit_behind_new(r.s, &r.c), MS_OK);
	sync_commit_behind_on_retired(r.c, sc_on_retired, &r);
	sc_fill(b, r.s, r.folder, 1, 50);
	assert_int_equal(sync_commit_behind_start(r.c, &loop, &b, &err), MS_OK);
	assert_int_equal(r.calls, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.count_seen, 50);
	assert_true(r.was_finished);
	assert_int_equal(sync_commit_behind_join(r.c, &err), MS_OK);
	assert_true(sync_commit_behind_is_ready(r.c));

	sc_fill(b, r.s, r.folder, 51, 50);
	assert_int_equal(sync_commit_behind_start(r.c, &loop, &b, &err), MS_OK);
	sync_commit_behind_free(&r.c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.calls, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(sc_count(r.s, r.folder), 100);
	store_batch_free(&b);
	store_close(&r.s);
	tsu_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_behind),
		cmocka_unit_test(test_on_retired),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
