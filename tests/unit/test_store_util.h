/*
 * test_store_util.h - helpers shared by the store tests: temporary store
 * directories and bodies built from bytes.
 */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

/* TEST_ASAN: built with AddressSanitizer (memory figures mean little). */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

static inline int
tsu_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A fresh temporary directory (malloc'ed path). */
static inline char *
tsu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p = malloc(4096);

	snprintf(p, 4096, "%s/ms-store-test-XXXXXX",
		 base != NULL ? base : "/tmp");
	if (mkdtemp(p) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

static inline void
tsu_rmdir(char *dir)
{
	nftw(dir, tsu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static inline struct store *
tsu_open(const char *dir, size_t map_size)
{
	struct store_params params = { .dir = dir, .map_size = map_size };
	struct ms_err err = { 0 };
	struct store *s = NULL;

	if (store_open(&s, &params, &err) != MS_OK) {
		fprintf(stderr, "store_open: %s\n", err.msg);
		abort();
	}
	return s;
}

/* A finished body of the given bytes, written in chunks of `chunk`. */
static inline struct store_body *
tsu_body(struct store *s, const void *p, size_t len, size_t chunk)
{
	struct store_body_writer *w;
	struct store_body *b;
	struct ms_err err = { 0 };

	if (store_body_writer_new(s, 0, &w, &err) != MS_OK)
		abort();
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (store_body_writer_write(w, (const char *)p + off, n,
					    &err) != MS_OK) {
			fprintf(stderr, "write: %s\n", err.msg);
			abort();
		}
	}
	if (store_body_writer_finish(&w, &b, &err) != MS_OK)
		abort();
	return b;
}

/* Adds (folder, uid) with a body of the string text. */
static inline void
tsu_add(struct store_batch *b, struct store *s, uint32_t folder,
	uint32_t uid, const char *text)
{
	struct store_msg m;

	memset(&m, 0, sizeof(m));
	m.folder_id = folder;
	m.uid = uid;
	m.flags = 1;
	m.internal_date = 1000 + uid;
	if (store_batch_msg_add(b, &m, tsu_body(s, text, strlen(text), 7))
	    != MS_OK)
		abort();
}

#endif
