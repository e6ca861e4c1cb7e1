/*
 * maildir_hash.c - SHA-256 of a file through OpenSSL EVP, streaming.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "maildir/maildir_hash.h"
#include "maildir/maildir_write.h"

#define MAILDIR_HASH_BLOCK 32768	/* on the stack: pool threads too */

int
maildir_hash_file(int dirfd, const char *name, uint8_t out[MAILDIR_HASH_LEN],
		  struct ms_err *err_r)
{
	uint8_t buf[MAILDIR_HASH_BLOCK];
	EVP_MD_CTX *ctx;
	unsigned int outlen = 0;
	int fd, rc = MS_OK;
	ssize_t n;

	/* Not a link, and no FIFO swapped in since readdir to block on. */
	if (maildir_file_open(dirfd, name, &fd, NULL, err_r) != MS_OK) {
		if (err_r != NULL)
			err_r->code = MS_EIO;	/* one more file error here */
		return MS_EIO;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = ms_err_set(err_r, MS_EINTERNAL, "SHA-256 init failed");
		goto out;
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
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			rc = ms_err_set(err_r, MS_EINTERNAL, "SHA-256 update failed");
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != MAILDIR_HASH_LEN)
		rc = ms_err_set(err_r, MS_EINTERNAL, "SHA-256 final failed");
out:
	EVP_MD_CTX_free(ctx);
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
