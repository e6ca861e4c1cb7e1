/*
 * maildir_hash.c - the content hash (hash/body_hash.h) of a file,
 * streaming.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hash/body_hash.h"
#include "maildir/maildir_hash.h"
#include "maildir/maildir_write.h"

_Static_assert(MAILDIR_HASH_LEN == BODY_HASH_LEN, "a file is known by its "
	       "body's content hash");

#define MAILDIR_HASH_BLOCK 32768	/* on the stack: pool threads too */

int
maildir_hash_file(int dirfd, const char *name, uint8_t out[MAILDIR_HASH_LEN],
		  struct ms_err *err_r)
{
	uint8_t buf[MAILDIR_HASH_BLOCK];
	struct body_hasher h;
	int fd, rc = MS_OK;
	ssize_t n;

	/* Not a link, and no FIFO swapped in since readdir to block on. */
	if (maildir_file_open(dirfd, name, &fd, NULL, err_r) != MS_OK) {
		if (err_r != NULL)
			err_r->code = MS_EIO;	/* one more file error here */
		return MS_EIO;
	}
	if (body_hash_init(&h) != MS_OK) {
		close(fd);
		return ms_err_set(err_r, MS_EINTERNAL, "SHA-256 init failed");
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ms_err_set(err_r, MS_EIO, "read %s: %s", name,
					strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (body_hash_update(&h, buf, (size_t)n) != MS_OK) {
			rc = ms_err_set(err_r, MS_EINTERNAL, "SHA-256 update failed");
			goto out;
		}
	}
	if (body_hash_final(&h, out) != MS_OK)
		rc = ms_err_set(err_r, MS_EINTERNAL, "SHA-256 final failed");
out:
	body_hash_deinit(&h);
	close(fd);
	return rc;
}

void
maildir_hash_hex(const uint8_t hash[MAILDIR_HASH_LEN], char out[MAILDIR_HASH_HEXLEN])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < MAILDIR_HASH_LEN; i++) {
		out[2 * i] = hex[hash[i] >> 4];
		out[2 * i + 1] = hex[hash[i] & 15];
	}
	out[2 * MAILDIR_HASH_LEN] = '\0';
}
