/*
 * bench_imap_parse.c - IMAP parser throughput over a FETCH stream built
 * from the corpus messages, as a sync would receive it.
 *
 * Usage: bench_imap_parse [CORPUS_DIR [MEGABYTES]]
 *	CORPUS_DIR defaults to $MS_CORPUS or ../shared/corpus; MEGABYTES
 *	(default 200) is the size of the synthetic stream.
 *
 * The stream is parsed three ways: handed over in one piece, in 16 KiB
 * reads, and in 16 KiB reads with the consumer copying every body chunk
 * out (the parser itself never copies body bytes, so the first two show
 * its per-response cost).  The figure is MB/s of message bytes delivered.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "imap/imap_parser.h"

struct msgs {
	uint8_t **data;
	size_t *len;
	size_t n, cap;
};

static void
bench_load(struct msgs *m, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];
	struct stat st;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			bench_load(m, path);
			continue;
		}
		if (strstr(de->d_name, ".eml") == NULL || st.st_size <= 0)
			continue;
		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 256;
			m->data = realloc(m->data, m->cap * sizeof(*m->data));
			m->len = realloc(m->len, m->cap * sizeof(*m->len));
			if (m->data == NULL || m->len == NULL)
				exit(1);
		}
		m->data[m->n] = malloc((size_t)st.st_size);
		f = fopen(path, "rb");
		if (f == NULL || m->data[m->n] == NULL ||
		    fread(m->data[m->n], 1, (size_t)st.st_size, f) !=
		    (size_t)st.st_size)
			exit(1);
		fclose(f);
		m->len[m->n++] = (size_t)st.st_size;
	}
	closedir(d);
}

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses the stream fed in pieces of at most step bytes. */
static uint8_t bench_sink[1 << 20];

static double
bench_run(const uint8_t *s, size_t len, size_t step, bool copy,
    uint64_t *body_r, uint64_t *fetches_r)
{
	struct imap_parser p;
	struct imap_parser_params pp;
	struct imap_event ev;
	size_t off = 0, n;
	double t0;
	int rc;

	imap_parser_params_default(&pp);
	pp.expect_greeting = false;
	if (imap_parser_init(&p, &pp) != MS_OK)
		exit(1);
	*body_r = 0;
	*fetches_r = 0;
	t0 = bench_now();
	while (off < len) {
		size_t end = len - off < step ? len : off + step;

		do {
			rc = imap_parser_feed(&p, s + off, end - off, &n);
			off += n;
			while (imap_parser_next_event(&p, &ev) == MS_OK) {
				if (ev.type == IMAP_EV_LITERAL_CHUNK) {
					size_t o = ev.u.chunk.offset %
					    (sizeof(bench_sink) / 2);
					size_t k = ev.u.chunk.data.len;

					/* 16 KiB feeds: no chunk is larger. */
					if (copy && k <= sizeof(bench_sink) / 2)
						memcpy(bench_sink + o,
						    ev.u.chunk.data.p, k);
					*body_r += k;
				}
				else if (ev.type == IMAP_EV_FETCH)
					(*fetches_r)++;
			}
		} while (rc == MS_OK && off < end);
		if (rc < 0) {
			fprintf(stderr, "parse error at %zu\n", off);
			exit(1);
		}
	}
	t0 = bench_now() - t0;
	imap_parser_deinit(&p);
	return t0;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("MS_CORPUS");
	size_t mb = argc > 2 ? strtoul(argv[2], NULL, 10) : 200;
	struct msgs m = { 0 };
	struct ms_buf s;
	uint64_t body = 0, bodies_in = 0, fetches;
	char path[4096];
	uint32_t seq = 0;
	static const size_t steps[] = { (size_t)-1, 16384, 16384 };
	static const char *const names[] = { "one feed:", "16 KiB feeds:",
	    "16 KiB + copy:" };

	if (dir == NULL)
		dir = "../shared/corpus";
	snprintf(path, sizeof(path), "%s/messages", dir);
	bench_load(&m, path);
	if (m.n == 0) {
		fprintf(stderr, "no .eml files under %s\n", path);
		return 1;
	}
	ms_buf_init(&s, (mb + 64) << 20);
	while (s.len < mb << 20) {
		for (size_t i = 0; i < m.n && s.len < mb << 20; i++) {
			seq++;
			if (ms_buf_printf(&s, "* %u FETCH (UID %u FLAGS "
			    "(\\Seen $Junk) INTERNALDATE \"17-Jul-1996 "
			    "02:44:25 -0700\" RFC822.SIZE %zu MODSEQ (%u) "
			    "BODY[] {%zu}\r\n", seq, seq, m.len[i], seq,
			    m.len[i]) != MS_OK ||
			    ms_buf_append(&s, m.data[i], m.len[i]) != MS_OK ||
			    ms_buf_append(&s, ")\r\n", 3) != MS_OK)
				return 1;
			bodies_in += m.len[i];
		}
	}
	printf("stream: %zu messages from %zu corpus files, %.1f MB total, "
	    "%.1f MB of message bodies\n", (size_t)seq, m.n, s.len / 1e6,
	    bodies_in / 1e6);
	for (size_t k = 0; k < 3; k++) {
		double best = 1e9;

		for (int rep = 0; rep < 3; rep++) {
			double t = bench_run(s.p, s.len, steps[k], k == 2,
			    &body, &fetches);

			if (t < best)
				best = t;
		}
		if (body != bodies_in || fetches != seq) {
			fprintf(stderr, "lost data: %llu of %llu bytes\n",
			    (unsigned long long)body,
			    (unsigned long long)bodies_in);
			return 1;
		}
		printf("%-14s %8.1f MB/s of body bytes (%.1f MB/s of stream, "
		    "%.0f FETCH/s, best of 3)\n",
		    names[k], body / 1e6 / best,
		    s.len / 1e6 / best, fetches / best);
	}
	ms_buf_deinit(&s);
	for (size_t i = 0; i < m.n; i++)
		free(m.data[i]);
	free(m.data);
	free(m.len);
	return 0;
}
