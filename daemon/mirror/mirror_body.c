/*
 * mirror_body.c - a message file of the mirror read into a store body
 * (mirror_int.h): its CRLF form (maildir_eol.h), as IMAP messages end
 * lines and as the server's copy of it comes back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir/maildir_eol.h"
#include "mirror/mirror_int.h"

#define MIRROR_READ_CHUNK (64 * 1024)

int
mirror__read_body(struct store *s, int dirfd, const char *dir,
		  const char *name, struct store_body **body_r,
		  int64_t *mtime_r, struct ms_err *err_r)
{
	struct store_body_writer *w = NULL;
	struct maildir_eol_crlf eol;
	uint8_t *buf = malloc(3 * MIRROR_READ_CHUNK);
	bool is_gone = false;
	struct stat sb;
	ssize_t n = 0;
	int fd = -1, rc;

	*body_r = NULL;
	if (buf == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	maildir_eol_crlf_init(&eol);
	rc = maildir_file_open(dirfd, name, &fd, &is_gone, err_r);
	/* Gone, or a link or a FIFO in its place since it was listed: the
	 * next scan reports what is there. */
	if (is_gone || rc == MS_EINVAL)
		rc = STORE_NOTFOUND;
	if (rc == MS_OK && mtime_r != NULL) {
		if (fstat(fd, &sb) != 0)
			rc = ms_err_set(err_r, MS_EIO, "stat %s/%s: %s", dir,
					name, strerror(errno));
		else
			*mtime_r = (int64_t)sb.st_mtime;
	}
	if (rc == MS_OK)
		rc = store_body_writer_new(s, 0, &w, err_r);
	while (rc == MS_OK && (n = read(fd, buf, MIRROR_READ_CHUNK)) > 0) {
		uint8_t *out = buf + MIRROR_READ_CHUNK;
		size_t k = maildir_eol_crlf_feed(&eol, buf, (size_t)n, out,
						 NULL);

		rc = store_body_writer_write(w, out, k, err_r);
	}
	if (rc == MS_OK && n < 0)
		rc = ms_err_set(err_r, MS_EIO, "read %s/%s: %s", dir, name,
				strerror(errno));
	if (rc == MS_OK)
		rc = store_body_writer_finish(&w, body_r, err_r);
	store_body_writer_free(&w);
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}
