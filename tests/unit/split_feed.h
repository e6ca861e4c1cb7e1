/*
 * split_feed.h - runs one server transcript through a sans-I/O core three
 * ways (whole, one byte at a time, split at every index i and, for short
 * inputs, at every pair i < j) and checks that the rendered events are
 * identical (STYLE.md 12).  Every piece is copied to the end of a page
 * followed by an inaccessible guard page, so reading past it faults.
 * Header-only, for the POP3 and SMTP core tests.
 */
#ifndef MS_TEST_SPLIT_FEED_H
#define MS_TEST_SPLIT_FEED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/ms.h"

struct split_core {
	/* A fresh core with the transcript's commands built. */
	void (*reset_cb)(void *arg);
	/* Feeds; returns the core's rc and sets *used. */
	int (*feed_cb)(void *arg, const uint8_t *p, size_t len, size_t *used);
	/* Renders every ready event into out. */
	void (*drain_cb)(void *arg, struct ms_buf *out);
	void *arg;
};

struct split_guard {
	uint8_t *base;
	size_t page;
};

static void
split_guard_init(struct split_guard *g, size_t max)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);

	g->page = (max + ps - 1) / ps * ps + ps;
	g->base = mmap(NULL, g->page + ps, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->base != MAP_FAILED);
	assert_int_equal(mprotect(g->base + g->page, ps, PROT_NONE), 0);
}

static void
split_guard_deinit(struct split_guard *g)
{
	munmap(g->base, g->page + (size_t)sysconf(_SC_PAGESIZE));
}

/* Feeds one piece, as a driver would: until consumed or an error. */
static bool
split_feed_piece(const struct split_core *sc, struct split_guard *g,
    const uint8_t *p, size_t len, struct ms_buf *out)
{
	uint8_t *q = g->base + g->page - len;

	/* A driver never feeds nothing. */
	if (len == 0)
		return true;
	memcpy(q, p, len);
	do {
		size_t used = 0;
		int rc = sc->feed_cb(sc->arg, q, len, &used);

		q += used;
		len -= used;
		sc->drain_cb(sc->arg, out);
		if (rc < 0) {
			assert_true(ms_buf_printf(out, "ERROR %s\n",
			    ms_strerror(rc)) == MS_OK);
			return false;
		}
		assert_true(used > 0 || rc == MS_OK || len == 0);
	} while (len > 0);
	return true;
}

static void
split_feed_cuts(const struct split_core *sc, struct split_guard *g,
    const uint8_t *p, size_t len, const size_t *cuts, size_t ncuts,
    struct ms_buf *out)
{
	size_t prev = 0;

	sc->reset_cb(sc->arg);
	ms_buf_reset(out);
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;

		if (!split_feed_piece(sc, g, p + prev, end - prev, out))
			return;
		prev = end;
	}
}

static void
split_expect_same(const struct ms_buf *a, const struct ms_buf *b,
    const char *how)
{
	/* Both may be empty with no buffer yet (memcmp of NULL is UB). */
	if (a->len != b->len ||
	    (a->len > 0 && memcmp(a->p, b->p, a->len) != 0))
		fail_msg("%s differs:\n--- whole\n%s\n--- split\n%s", how,
		    (const char *)a->p, (const char *)b->p);
}

/* Runs all three ways; whole_r gets the events of the whole feed. */
static void
split_feed_all(const struct split_core *sc, const uint8_t *p, size_t len,
    struct ms_buf *whole_r)
{
	struct split_guard g;
	struct ms_buf other;
	size_t cuts[2];

	split_guard_init(&g, len + 1);
	ms_buf_init(&other, 1u << 24);
	split_feed_cuts(sc, &g, p, len, NULL, 0, whole_r);
	/* One byte at a time. */
	sc->reset_cb(sc->arg);
	for (size_t i = 0; i < len; i++) {
		if (!split_feed_piece(sc, &g, p + i, 1, &other))
			break;
	}
	split_expect_same(whole_r, &other, "byte by byte");
	ms_buf_reset(&other);
	for (size_t i = 0; i <= len; i++) {
		cuts[0] = i;
		split_feed_cuts(sc, &g, p, len, cuts, 1, &other);
		split_expect_same(whole_r, &other, "split at i");
	}
	if (len <= 400) {
		for (size_t i = 0; i <= len; i++) {
			for (size_t j = i; j <= len; j++) {
				cuts[0] = i;
				cuts[1] = j;
				split_feed_cuts(sc, &g, p, len, cuts, 2,
				    &other);
				split_expect_same(whole_r, &other,
				    "split at i, j");
			}
		}
	}
	ms_buf_deinit(&other);
	split_guard_deinit(&g);
}

/* Reads MS_TEST_DATA/sub/name+ext; NULL if missing.  Caller frees. */
static char *
split_read_file(const char *sub, const char *name, const char *ext,
    size_t *len_r)
{
	const char *dir = getenv("MS_TEST_DATA");
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s/%s%s",
	    dir != NULL ? dir : "tests/data", sub, name, ext);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len_r = (size_t)n;
	return buf;
}

#define SPLIT_MAX_CMDS 16

/*
 * A transcript: "G: none" (no greeting is pre-fed), "C: VERB args" lines
 * (commands built before feeding), "S:" and the server's bytes verbatim.
 */
struct split_transcript {
	char *data;		/* owned */
	const uint8_t *server;
	size_t server_len;
	bool has_greeting;
	char cmds[SPLIT_MAX_CMDS][64];
	size_t ncmds;
};

static void
split_transcript_read(struct split_transcript *t, const char *sub,
    const char *name)
{
	size_t len;
	char *p;

	memset(t, 0, sizeof(*t));
	t->has_greeting = true;
	t->data = split_read_file(sub, name, ".txt", &len);
	assert_non_null(t->data);
	p = t->data;
	while (strncmp(p, "S:\n", 3) != 0) {
		char *nl = strchr(p, '\n');

		assert_non_null(nl);
		if (strncmp(p, "C: ", 3) == 0) {
			assert_true(t->ncmds < SPLIT_MAX_CMDS);
			snprintf(t->cmds[t->ncmds++], sizeof(t->cmds[0]),
			    "%.*s", (int)(nl - p - 3), p + 3);
		} else if (strncmp(p, "G: none", 7) == 0) {
			t->has_greeting = false;
		}
		p = nl + 1;
	}
	t->server = (const uint8_t *)p + 3;
	t->server_len = len - (size_t)(p + 3 - t->data);
}

/*
 * Compares events with sub/name.events (MS_TEST_UPDATE=1 rewrites it).
 */
static void
split_expect_events(const char *sub, const char *name,
    const struct ms_buf *events, bool may_update)
{
	char *expect;
	size_t elen;

	if (may_update && getenv("MS_TEST_UPDATE") != NULL) {
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s/%s.events",
		    getenv("MS_TEST_DATA"), sub, name);
		f = fopen(path, "wb");
		assert_non_null(f);
		fwrite(events->p, 1, events->len, f);
		fclose(f);
	}
	expect = split_read_file(sub, name, ".events", &elen);
	assert_non_null(expect);
	assert_string_equal((const char *)events->p, expect);
	free(expect);
}

/* Appends s with bytes outside printable ASCII (and '\\') escaped. */
static void
split_render_slice(struct ms_buf *out, struct ms_slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		uint8_t b = s.p[i];
		int rc;

		if (b >= 0x20 && b < 0x7f && b != '\\')
			rc = ms_buf_append(out, &b, 1);
		else
			rc = ms_buf_printf(out, "\\x%02x", b);
		assert_int_equal(rc, MS_OK);
	}
}

#endif
