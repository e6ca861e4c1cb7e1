/*
 * maildir_hash.h - content fingerprints, to recognise a message a reader
 * moved to another folder or renamed beyond recognition: SHA-256 of the
 * file's bytes, read in fixed-size blocks (bounded memory at any size).
 */
#ifndef MS_MAILDIR_HASH_H
#define MS_MAILDIR_HASH_H

#include <stdint.h>

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

/* Lowercase hex of a hash, NUL-terminated, into out. */
void maildir_hash_hex(const uint8_t hash[MAILDIR_HASH_LEN],
		      char out[MAILDIR_HASH_HEXLEN]);

#endif
