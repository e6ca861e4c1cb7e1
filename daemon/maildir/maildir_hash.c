/*
 * maildir_hash.c - the content hash (hash/body_hash.h) of a file,
 * streaming.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hash/body_hash.h"
#include "maildir/maildir_eol.h"
#include "maildir/maildir_hash.h"
#include "maildir/maildir_write.h"

_Static_assert(MAILDIR_HASH_LEN == BODY_HASH_LEN, "a file is known by its "
	       "body's content hash");

#define MAILDIR_HASH_BLOCK 32768	/* on the stack: pool threads too */

/*
 * Reads the file name (in dirfd) in blocks of buf_len into buf, giving
 * each to piece(arg); a piece's non-MS_OK result stops the read (an
 * OpenSSL failure).  MS_OK, MS_EIO or MS_EINTERNAL, err_r set.
 */
static int
maildir_hash_read(int dirfd, const char *name, uint8_t *buf, size_t buf_len,
		  int (*piece)(void *arg, const uint8_t *p, size_t n),
		  void *arg, struct ms_err *err_r)
{
	int fd, rc = MS_OK;
	ssize_t n;

	/* Not a link, and no FIFO swapped in since readdir to block on. */
	if (maildir_file_open(dirfd, name, &fd, NULL, err_r) != MS_OK) {
		if (err_r != NULL)
			err_r->code = MS_EIO;	/* one more file error here */
		return MS_EIO;
	}
	for (;;) {
		n = read(fd, buf, buf_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ms_err_set(err_r, MS_EIO, "read %s: %s", name,
					strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (piece(arg, buf, (size_t)n) != MS_OK) {
			rc = ms_err_set(err_r, MS_EINTERNAL, "SHA-256 failed");
			break;
		}
	}
	close(fd);
	return rc;
}

static int
maildir_hash_raw_piece(void *arg, const uint8_t *p, size_t n)
{
	return body_hash_update(arg, p, n);
}

int
maildir_hash_file(int dirfd, const char *name, uint8_t out[MAILDIR_HASH_LEN],
		  struct ms_err *err_r)
{
	uint8_t buf[MAILDIR_HASH_BLOCK];
	struct body_hasher h;
	int rc;

	if (body_hash_init(&h) != MS_OK)
		return ms_err_set(err_r, MS_EINTERNAL, "SHA-256 init failed");
	rc = maildir_hash_read(dirfd, name, buf, sizeof(buf),
			       maildir_hash_raw_piece, &h, err_r);
	if (rc == MS_OK && body_hash_final(&h, out) != MS_OK)
		rc = ms_err_set(err_r, MS_EINTERNAL, "SHA-256 final failed");
	body_hash_deinit(&h);
	return rc;
}

/* maildir_hash_mail()'s state: both hashes, and the CRLF form's room. */
struct maildir_hash_two {
	struct body_hasher crlf, raw;
	struct maildir_fhash *h;
	struct maildir_eol_crlf eol;
	uint8_t out[MAILDIR_HASH_BLOCK / 2];
};

/* Feeds one piece read to both hashes. */
static int
maildir_hash_mail_piece(void *arg, const uint8_t *in, size_t n)
{
	struct maildir_hash_two *t = arg;
	bool is_changed = false;
	size_t k = maildir_eol_crlf_feed(&t->eol, in, n, t->out, &is_changed);
	int rc;

	/* Up to this piece both forms were the same bytes. */
	if (is_changed && !t->h->has_raw) {
		if ((rc = body_hash_copy(&t->raw, &t->crlf)) != MS_OK)
			return rc;
		t->h->has_raw = true;
	}
	if (t->h->has_raw && (rc = body_hash_update(&t->raw, in, n)) != MS_OK)
		return rc;
	return body_hash_update(&t->crlf, t->out, k);
}

int
maildir_hash_mail(int dirfd, const char *name, struct maildir_fhash *h_r,
		  struct ms_err *err_r)
{
	uint8_t buf[MAILDIR_HASH_BLOCK / 4];
	struct maildir_hash_two t = { .h = h_r };
	int rc;

	_Static_assert(sizeof(t.out) >= 2 * sizeof(buf), "room for CRLF");
	memset(h_r, 0, sizeof(*h_r));
	maildir_eol_crlf_init(&t.eol);
	if (body_hash_init(&t.crlf) != MS_OK)
		return ms_err_set(err_r, MS_EINTERNAL, "SHA-256 init failed");
	rc = maildir_hash_read(dirfd, name, buf, sizeof(buf),
			       maildir_hash_mail_piece, &t, err_r);
	if (rc == MS_OK && (body_hash_final(&t.crlf, h_r->hash) != MS_OK ||
			    (h_r->has_raw &&
			     body_hash_final(&t.raw, h_r->raw) != MS_OK)))
		rc = ms_err_set(err_r, MS_EINTERNAL, "SHA-256 final failed");
	body_hash_deinit(&t.crlf);
	body_hash_deinit(&t.raw);
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
