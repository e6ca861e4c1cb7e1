/*
 * body_hash.h - the one content hash of a message body: SHA-256 of its
 * bytes exactly as the server holds them.  The store addresses bodies by
 * it, the mirror recognises a reader's file by it, the push finds an
 * earlier APPEND by it; all of them compute it here, so that they can
 * never disagree.  Safe on any thread (the mirror hashes files on the
 * libuv threadpool).
 */
#ifndef MS_BODY_HASH_H
#define MS_BODY_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

#define BODY_HASH_LEN 32

/* A hash computed piece by piece; the caller owns the struct. */
struct body_hasher {
	void *ctx;			/* OpenSSL's; NULL after final */
};

/* MS_OK, or MS_ENOMEM/MS_EINTERNAL (OpenSSL failed). */
int body_hash_init(struct body_hasher *h) MS_WUR;
int body_hash_update(struct body_hasher *h, const void *p,
		     size_t len) MS_WUR;
/* Writes the hash and frees the state (also on error). */
int body_hash_final(struct body_hasher *h,
		    uint8_t out[BODY_HASH_LEN]) MS_WUR;
/* dst (not initialised) continues from where src is: both then hash
 * the same prefix.  MS_OK, or MS_ENOMEM/MS_EINTERNAL. */
int body_hash_copy(struct body_hasher *dst,
		   const struct body_hasher *src) MS_WUR;
/* Frees the state of a hash not finished.  Idempotent. */
void body_hash_deinit(struct body_hasher *h);

/* The hash of p[0..len) in one call. */
int body_hash(const void *p, size_t len, uint8_t out[BODY_HASH_LEN]) MS_WUR;

#endif
