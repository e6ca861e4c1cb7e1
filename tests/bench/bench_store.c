/*
 * bench_store.c - ingest throughput of the store: every corpus message,
 * ROUNDS times with a distinct first header line per round (so dedup does
 * not hide the cost), streamed into body writers in 64 KB chunks and
 * committed in batches of BATCH, into a fresh store.  Prints messages/s,
 * MB/s, CPU time and peak RSS; then the time of a full store_check.
 *
 * Usage: bench_store [CORPUS_DIR [ROUNDS [BATCH [STORE_PARENT_DIR]]]]
 * Defaults: $MS_CORPUS or ../shared/corpus, 20, 500, $TMPDIR or /tmp.
 */
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

struct bench_msg {
	uint8_t *p;
	size_t len;
};

static struct bench_msg *msgs;
static size_t n_msgs, cap_msgs;

static void
bench_load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n_msgs == cap_msgs) {
		cap_msgs = cap_msgs ? cap_msgs * 2 : 1024;
		msgs = realloc(msgs, cap_msgs * sizeof(*msgs));
		if (msgs == NULL)
			exit(2);
	}
	msgs[n_msgs].p = malloc((size_t)n + 1);
	if (msgs[n_msgs].p == NULL ||
	    fread(msgs[n_msgs].p, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	msgs[n_msgs++].len = (size_t)n;
	fclose(f);
}

static void
bench_load(const char *corpus)
{
	char path[4096], file[8192];
	struct dirent *src, *e;
	DIR *top, *d;

	snprintf(path, sizeof(path), "%s/messages", corpus);
	top = opendir(path);
	if (top == NULL) {
		perror(path);
		exit(2);
	}
	while ((src = readdir(top)) != NULL) {
		if (src->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/messages/%s", corpus,
			 src->d_name);
		d = opendir(path);
		if (d == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
			bench_load_file(file);
		}
		closedir(d);
	}
	closedir(top);
}

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
bench_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
bench_rm_cb(const char *path, const struct stat *st, int flag,
	    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Prints the anonymous / file-backed split of the current RSS. */
static void
bench_rss_split(const char *when)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long anon = -1, file = -1, hwm = -1;

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		(void)(sscanf(line, "RssAnon: %ld kB", &anon) ||
		       sscanf(line, "RssFile: %ld kB", &file) ||
		       sscanf(line, "VmHWM: %ld kB", &hwm));
	}
	fclose(f);
	printf("RSS %s: anonymous %ld KB, file-backed (the LMDB map, page "
	       "cache) %ld KB\n", when, anon, file);
}

static void
bench_die(const char *what, const struct ms_err *err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, err->msg);
	exit(1);
}

int
main(int argc, char **argv)
{
	const char *corpus = argc > 1 ? argv[1] : getenv("MS_CORPUS");
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 20;
	long batch_n = argc > 3 ? strtol(argv[3], NULL, 10) : 500;
	const char *parent = argc > 4 ? argv[4] : getenv("TMPDIR");
	struct store_params params = { 0 };
	struct ms_err err = { 0 };
	struct store *s;
	struct store_batch *b;
	struct rusage ru;
	long ingest_rss;
	char dir[4096], prefix[64];
	double t0, c0, t1, c1, t2;
	uint64_t bytes = 0, count = 0;
	uint32_t fid, uid = 1;

	if (corpus == NULL)
		corpus = "../shared/corpus";
	if (parent == NULL)
		parent = "/tmp";
	if (rounds <= 0 || batch_n <= 0) {
		fprintf(stderr, "usage: bench_store [CORPUS [ROUNDS [BATCH "
			"[DIR]]]]\n");
		return 2;
	}
	bench_load(corpus);
	snprintf(dir, sizeof(dir), "%s/ms-bench-store-XXXXXX", parent);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	params.dir = dir;
	if (store_open(&s, &params, &err) != MS_OK)
		bench_die("open", &err);
	if (store_folder_ensure(s, "bench", "INBOX", '/', 0, &fid, &err) < 0 ||
	    store_batch_new(s, &b) < 0)
		bench_die("folder", &err);

	t0 = bench_now();
	c0 = bench_cpu();
	for (int r = 0; r < rounds; r++) {
		int plen = snprintf(prefix, sizeof(prefix),
				    "X-Bench-Round: %d\r\n", r);

		for (size_t i = 0; i < n_msgs; i++) {
			struct store_body_writer *w;
			struct store_body *body;
			struct store_msg m;

			if (store_body_writer_new(s, msgs[i].len + (size_t)plen,
						  &w, &err) < 0 ||
			    store_body_writer_write(w, prefix, (size_t)plen,
						    &err) < 0)
				bench_die("writer", &err);
			for (size_t off = 0; off < msgs[i].len; off += 65536) {
				size_t n = msgs[i].len - off < 65536 ?
					   msgs[i].len - off : 65536;

				if (store_body_writer_write(w, msgs[i].p + off,
							    n, &err) < 0)
					bench_die("write", &err);
			}
			if (store_body_writer_finish(&w, &body, &err) < 0)
				bench_die("finish", &err);
			memset(&m, 0, sizeof(m));
			m.folder_id = fid;
			m.uid = uid++;
			bytes += store_body_size(body);
			if (store_batch_msg_add(b, &m, body) < 0)
				bench_die("add", &err);
			if (++count % (uint64_t)batch_n == 0) {
				struct store_folder_state st = {
					.uidnext = uid,
				};

				if (store_batch_folder_state(b, fid, &st,
							     STORE_FS_UIDNEXT)
				    < 0 || store_batch_commit(b, &err) < 0)
					bench_die("commit", &err);
			}
		}
	}
	if (store_batch_commit(b, &err) < 0)
		bench_die("commit", &err);
	t1 = bench_now();
	c1 = bench_cpu();
	getrusage(RUSAGE_SELF, &ru);
	ingest_rss = ru.ru_maxrss;
	bench_rss_split("after ingest");
	if (store_check(s, STORE_CHECK_HASHES, &err) != MS_OK)
		bench_die("check", &err);
	t2 = bench_now();
	getrusage(RUSAGE_SELF, &ru);

	printf("bench_store: %llu messages (%zu corpus x %d rounds), %.1f MB, "
	       "batches of %ld, store %s\n", (unsigned long long)count,
	       n_msgs, rounds, (double)bytes / 1e6, batch_n, dir);
	printf("ingest: %.2f s wall, %.2f s cpu, %.0f messages/s, "
	       "%.1f MB/s\n", t1 - t0, c1 - c0, (double)count / (t1 - t0),
	       (double)bytes / 1e6 / (t1 - t0));
	printf("store_check (re-hash every body): %.2f s\n", t2 - t1);
	/* store_check reads every body through the map, and those mapped
	 * pages count in RSS: report the ingest peak separately. */
	printf("peak RSS: %ld KB during ingest, %ld KB after store_check "
	       "(the corpus held in memory: %.1f MB); map %zu MB\n",
	       ingest_rss, ru.ru_maxrss, (double)bytes / rounds / 1e6,
	       store_map_size(s) >> 20);
	store_batch_free(&b);
	store_close(&s);
	nftw(dir, bench_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < n_msgs; i++)
		free(msgs[i].p);
	free(msgs);
	return 0;
}
