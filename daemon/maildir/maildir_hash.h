/*
 * maildir_hash.h - content fingerprints, to recognise a message a reader
 * moved to another folder or renamed beyond recognition: SHA-256 of the
 * file's bytes, read in fixed-size blocks (bounded memory at any size).
 */
#ifndef MS_MAILDIR_HASH_H
#define MS_MAILDIR_HASH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/ms.h"

#define MAILDIR_HASH_LEN 32
#define MAILDIR_HASH_HEXLEN (2 * MAILDIR_HASH_LEN + 1)

/*
 * Hashes the file name, relative to dirfd (AT_FDCWD for a path), into
 * out.  The file is opened with maildir_file_open(): a symbolic link, a
 * FIFO or a device is an error, never followed or waited on.  Returns
 * MS_OK, MS_EIO (with the name and reason in err_r; a file that vanished
 * says so in the message) or MS_EINTERNAL if OpenSSL fails.
 */
int maildir_hash_file(int dirfd, const char *name,
		      uint8_t out[MAILDIR_HASH_LEN], struct ms_err *err_r) MS_WUR;

/*
 * What a message file is, by content (maildir_eol.h): hash, the SHA-256
 * of its CRLF form (each LF without CR made CRLF: the bytes the server
 * stores of it, and those of a body export wrote with LF line ends);
 * raw, the SHA-256 of its bytes as they are, set only when it differs
 * (has_raw: the file has a LF without CR), for a body written exact.
 * A file is a body's when either equals the body's hash
 * (maildir_fhash_is()).
 */
struct maildir_fhash {
	uint8_t hash[MAILDIR_HASH_LEN];
	uint8_t raw[MAILDIR_HASH_LEN];
	bool has_raw;
};

/*
 * Hashes the message file name (relative to dirfd) both ways in one
 * read; opened and failing as maildir_hash_file().  Files without a bare
 * LF are hashed once; the raw hash starts at the first piece that has
 * one, from a copy of the state before it.
 */
int maildir_hash_mail(int dirfd, const char *name, struct maildir_fhash *h_r,
		      struct ms_err *err_r) MS_WUR;

/* Is the file of h the body whose hash is body? */
static inline bool
maildir_fhash_is(const struct maildir_fhash *h,
		 const uint8_t body[MAILDIR_HASH_LEN])
{
	return memcmp(h->hash, body, MAILDIR_HASH_LEN) == 0 ||
	       (h->has_raw && memcmp(h->raw, body, MAILDIR_HASH_LEN) == 0);
}

/* Lowercase hex of a hash, NUL-terminated, into out. */
void maildir_hash_hex(const uint8_t hash[MAILDIR_HASH_LEN],
		      char out[MAILDIR_HASH_HEXLEN]);

#endif
