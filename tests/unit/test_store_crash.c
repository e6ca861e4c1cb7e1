/*
 * test_store_crash.c - durability under kill -9.  A child process ingests
 * batches of messages (with shared bodies and expunges, and the folder's
 * UIDNEXT in the same batch) until the parent kills it with SIGKILL at a
 * random moment.  After each kill the parent reopens the store and checks
 * that store_check passes (bodies re-hashed) and that the store holds
 * exactly the committed batches: every UID below UIDNEXT as expected,
 * nothing at or above it.  Every other batch is committed lazily
 * (store_batch_commit_lazy(): no sync of the meta page), which a killed
 * process must not lose or damage either.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "test_store_util.h"

#define BATCH 50u
#define ROUNDS 6

/* UIDs sharing a body: every 7th message repeats the one 3 before. */
static uint32_t
body_id(uint32_t uid)
{
	return (uid % 7 == 0 && uid > 3) ? uid - 3 : uid;
}

static size_t
body_bytes(uint32_t id, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap,
				    "Message-ID: <%u@crash>\r\nSubject: m%u\r\n"
				    "\r\n", id, id);
	size_t size = 200 + (id * 7919u) % 30000;

	for (; n < size && n < cap; n++)
		out[n] = (char)('a' + (id + n) % 26);
	return n;
}

/* Batch i (UIDs 1+i*BATCH ...) expunges the previous batch's x0 UIDs. */
static bool
uid_expected(uint32_t uid, uint32_t uidnext)
{
	uint32_t committed = (uidnext - 1) / BATCH;
	uint32_t batch = (uid - 1) / BATCH;

	if (uid >= uidnext)
		return false;
	return !(uid % 10 == 0 && batch + 1 < committed);
}

static void
child_run(const char *dir)
{
	struct store *s = tsu_open(dir, 64 * 1024);
	struct ms_err err = { 0 };
	struct store_folder f;
	struct store_batch *b;
	static char buf[40000];
	uint32_t fid;

	if (store_folder_ensure(s, "crash", "INBOX", '/', 0, &fid, &err) < 0 ||
	    store_folder_get(s, fid, &f, &err) != MS_OK ||
	    store_batch_new(s, &b) < 0)
		_exit(3);
	if (f.state.uidnext == 0)
		f.state.uidnext = 1;
	for (;;) {
		uint32_t first = f.state.uidnext;

		for (uint32_t uid = first; uid < first + BATCH; uid++) {
			struct store_msg m;
			size_t n = body_bytes(body_id(uid), buf, sizeof(buf));

			memset(&m, 0, sizeof(m));
			m.folder_id = fid;
			m.uid = uid;
			if (store_batch_msg_add(b, &m,
						tsu_body(s, buf, n, 4096)) < 0)
				_exit(4);
		}
		if (first > BATCH) {
			for (uint32_t uid = first - BATCH; uid < first; uid++)
				if (uid % 10 == 0 &&
				    store_batch_msg_expunge(b, fid, uid,
							    uid) < 0)
					_exit(5);
		}
		f.state.uidnext = first + BATCH;
		if (store_batch_folder_state(b, fid, &f.state,
					     STORE_FS_UIDNEXT) < 0 ||
		    ((first / BATCH) % 2 == 0 ?
		     store_batch_commit(b, &err) :
		     store_batch_commit_lazy(b, &err)) < 0) {
			fprintf(stderr, "child: %s\n", err.msg);
			_exit(6);
		}
	}
}

static void
verify(const char *dir, uint32_t *uidnext_r)
{
	struct store *s = tsu_open(dir, 64 * 1024);
	struct ms_err err = { 0 };
	struct store_folder f;
	struct store_msg_iter *it;
	struct store_msg m;
	static char buf[40000];
	uint32_t expect_count = 0, seen = 0;
	int rc;

	if (store_check(s, STORE_CHECK_HASHES, &err) != MS_OK)
		fail_msg("store_check: %s", err.msg);
	rc = store_folder_find(s, "crash", "INBOX", &f, &err);
	if (rc == STORE_NOTFOUND) {
		*uidnext_r = 1;
		store_close(&s);
		return;
	}
	assert_int_equal(rc, MS_OK);
	if (f.state.uidnext == 0)
		f.state.uidnext = 1;
	assert_int_equal((f.state.uidnext - 1) % BATCH, 0);
	for (uint32_t uid = 1; uid < f.state.uidnext; uid++)
		expect_count += uid_expected(uid, f.state.uidnext);
	assert_int_equal(store_msg_iter_new(s, f.id, 0, &it), MS_OK);
	while ((rc = store_msg_iter_next(it, &m, &err)) == MS_OK) {
		uint8_t md[EVP_MAX_MD_SIZE];
		unsigned int mdlen;
		size_t n = body_bytes(body_id(m.uid), buf, sizeof(buf));

		if (!uid_expected(m.uid, f.state.uidnext))
			fail_msg("uid %u present, uidnext %u", m.uid,
				 f.state.uidnext);
		EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL);
		assert_memory_equal(m.hash, md, STORE_HASH_LEN);
		assert_int_equal(m.size, n);
		seen++;
	}
	assert_int_equal(rc, STORE_NOTFOUND);
	store_msg_iter_free(&it);
	/* Nothing missing either: the counts agree. */
	assert_int_equal(seen, expect_count);
	assert_int_equal(f.local_count, expect_count);
	*uidnext_r = f.state.uidnext;
	store_close(&s);
}

static void
test_kill9_rounds(void **state)
{
	char *dir = tsu_tmpdir();
	uint32_t uidnext = 1, prev = 1;
	unsigned seed = (unsigned)time(NULL);

	(void)state;
	printf("# seed %u\n", seed);
	srand(seed);
	for (int round = 0; round < ROUNDS; round++) {
		int status;
		pid_t pid;
		long ms = 30 + rand() % 400;
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		fflush(stdout);
		fflush(stderr);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child_run(dir);
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* The child must have died of the kill, not of an error. */
		if (!WIFSIGNALED(status))
			fail_msg("child exited with %d", WEXITSTATUS(status));
		verify(dir, &uidnext);
		printf("# round %d: killed after %ld ms, uidnext %u\n", round,
		       ms, uidnext);
		assert_true(uidnext >= prev);
		prev = uidnext;
	}
	/* Bounded but not vacuous: batches were committed. */
	assert_true(uidnext > 1);
	tsu_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_rounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
