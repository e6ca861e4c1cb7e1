/*
 * bench_mirror.c - the Maildir mirror at scale: one folder of N messages
 * (distinct bodies of about 2 KB) in a store, then each step in its own
 * process run so that /usr/bin/time can measure its peak RSS:
 *
 *   bench_mirror fill   DIR N   store in DIR/store, N records in INBOX
 *   bench_mirror export DIR     mirror into DIR/mail (first run: all files)
 *   bench_mirror scan   DIR     reader changes (none, or what was done)
 *   bench_mirror touch  DIR K   K server flag changes + K reader renames
 *   bench_mirror check  DIR     mirror_check
 *   bench_mirror open   DIR     nothing: the store's own baseline
 *
 * Each step prints its wall and CPU time, what it did and the process's
 * peak RSS (getrusage).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mirror/mirror.h"
#include "store/store.h"

static struct store *
bench_open(const char *dir)
{
	char path[4096];
	struct store_params sp = { 0 };
	struct store *s = NULL;
	struct ms_err err = { 0 };

	snprintf(path, sizeof(path), "%s/store", dir);
	sp.dir = path;
	if (store_open(&s, &sp, &err) != MS_OK) {
		fprintf(stderr, "store_open: %s\n", err.msg);
		exit(1);
	}
	return s;
}

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak RSS mixes the store's mapped pages (file-backed, reclaimable) with
 * the heap; /proc says which is which, at the end of the step. */
static void
bench_status(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "RssAnon:", 8) == 0 ||
		    strncmp(line, "RssFile:", 8) == 0)
			printf("  %s", line);
	fclose(f);
}

static void
bench_report(const char *step, double t0, const struct mirror_stats *st)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("%s: wall %.2f s, cpu %.2f s (user %.2f, sys %.2f), peak RSS %ld KB",
	       step, bench_now() - t0,
	       (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	       (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	       ru.ru_maxrss);
	if (st != NULL)
		printf("; written %llu, renamed %llu, removed %llu, flag changes "
		       "%llu, deletes %llu, appends %llu, %.1f MB",
		       (unsigned long long)st->written,
		       (unsigned long long)st->renamed,
		       (unsigned long long)st->removed,
		       (unsigned long long)st->flag_changes,
		       (unsigned long long)st->deletes,
		       (unsigned long long)st->appends, st->bytes / 1e6);
	printf("\n");
	bench_status();
}

static void
bench_fill(struct store *s, unsigned n)
{
	struct store_batch *b = NULL;
	struct store_folder_state fs = { .uidvalidity = 1234,
					  .uidnext = n + 1 };
	struct ms_err err = { 0 };
	char text[2200];
	uint32_t folder;

	if (store_folder_ensure(s, "bench", "INBOX", '/', 0, &folder, &err) != MS_OK ||
	    store_batch_new(s, &b) != MS_OK) {
		fprintf(stderr, "folder: %s\n", err.msg);
		exit(1);
	}
	for (unsigned uid = 1; uid <= n; uid++) {
		struct store_body_writer *w;
		struct store_body *body;
		struct store_msg m = { 0 };
		int len = snprintf(text, sizeof(text),
				   "From: sender%u@example.org\r\nTo: me@example.org\r\n"
				   "Subject: message %u\r\nMessage-ID: <%u@bench>\r\n\r\n",
				   uid % 97, uid, uid);

		while (len < 2000)
			len += snprintf(text + len, sizeof(text) - (size_t)len,
					"line %u of message %u, some words.\r\n",
					(unsigned)len, uid);
		if (store_body_writer_new(s, 0, &w, &err) != MS_OK ||
		    store_body_writer_write(w, text, (size_t)len, &err) != MS_OK ||
		    store_body_writer_finish(&w, &body, &err) != MS_OK) {
			fprintf(stderr, "body: %s\n", err.msg);
			exit(1);
		}
		m.folder_id = folder;
		m.uid = uid;
		m.flags = m.synced_flags = uid % 3 == 0 ? 0 : STORE_FLAG_SEEN;
		m.internal_date = 1700000000 + uid;
		if (store_batch_msg_add(b, &m, body) != MS_OK)
			exit(1);
		if (store_batch_count(b) >= 1000 && store_batch_commit(b, &err) != MS_OK) {
			fprintf(stderr, "commit: %s\n", err.msg);
			exit(1);
		}
	}
	if (store_batch_folder_state(b, folder, &fs, STORE_FS_UIDVALIDITY |
				     STORE_FS_UIDNEXT) != MS_OK ||
	    store_batch_commit(b, &err) != MS_OK) {
		fprintf(stderr, "commit: %s\n", err.msg);
		exit(1);
	}
	store_batch_free(&b);
}

/* K server flag changes (uids 1, 1+step, ...) and K reader renames
 * (flag F added to files of other uids). */
static void
bench_touch(struct store *s, const char *dir, unsigned k)
{
	struct store_folder f;
	struct store_batch *b = NULL;
	struct ms_err err = { 0 };
	char path[4096], from[8192], to[8300];
	unsigned renamed = 0;
	DIR *d;
	struct dirent *de;

	if (store_folder_find(s, "bench", "INBOX", &f, &err) != MS_OK ||
	    store_batch_new(s, &b) != MS_OK)
		exit(1);
	for (unsigned i = 0; i < k; i++) {
		uint32_t uid = 1 + i * 2 * (f.local_count / (2 * k + 1));

		if (store_batch_msg_flags(b, f.id, uid, STORE_FLAG_ANSWERED |
					  STORE_FLAG_SEEN, STORE_FLAG_ANSWERED |
					  STORE_FLAG_SEEN, 0) != MS_OK)
			exit(1);
	}
	if (store_batch_commit(b, &err) != MS_OK)
		exit(1);
	store_batch_free(&b);
	snprintf(path, sizeof(path), "%s/mail/cur", dir);
	if ((d = opendir(path)) == NULL)
		exit(1);
	while (renamed < k && (de = readdir(d)) != NULL) {
		const char *info = strstr(de->d_name, ":2,S");

		/* Every other file, so server and reader changes interleave. */
		if (info == NULL || info[4] != '\0' || (de->d_ino & 1))
			continue;
		snprintf(from, sizeof(from), "%s/%s", path, de->d_name);
		snprintf(to, sizeof(to), "%s/%.*s:2,FS", path,
			 (int)(info - de->d_name), de->d_name);
		if (rename(from, to) == 0)
			renamed++;
	}
	closedir(d);
	printf("touch: %u server flag changes, %u reader renames\n", k, renamed);
}

int
main(int argc, char **argv)
{
	struct mirror_stats st = { 0 };
	struct maildir_report rep;
	struct mirror_params p = { 0 };
	struct ms_err err = { 0 };
	char root[4096];
	struct store *s;
	double t0;
	int rc = MS_OK;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_mirror fill|export|scan|touch|check "
			"DIR [N]\n");
		return 2;
	}
	s = bench_open(argv[2]);
	snprintf(root, sizeof(root), "%s/mail", argv[2]);
	maildir_report_init(&rep, NULL, NULL);
	p.account = "bench";
	p.root = root;
	p.rep = &rep;
	t0 = bench_now();
	if (strcmp(argv[1], "fill") == 0) {
		bench_fill(s, argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 100000);
		bench_report("fill", t0, NULL);
	} else if (strcmp(argv[1], "export") == 0) {
		rc = mirror_export(s, &p, &st, &err);
		bench_report("export", t0, &st);
	} else if (strcmp(argv[1], "scan") == 0) {
		rc = mirror_scan(s, &p, &st, &err);
		bench_report("scan", t0, &st);
	} else if (strcmp(argv[1], "touch") == 0) {
		bench_touch(s, argv[2], argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10)
					       : 1000);
	} else if (strcmp(argv[1], "open") == 0) {
		bench_report("open", t0, NULL);	/* the baseline */
	} else if (strcmp(argv[1], "check") == 0) {
		rc = mirror_check(s, &p, 0, &err);
		bench_report("check", t0, NULL);
	}
	if (rc != MS_OK)
		fprintf(stderr, "%s: %s\n", argv[1], err.msg);
	maildir_report_deinit(&rep);
	store_close(&s);
	return rc == MS_OK ? 0 : 1;
}
