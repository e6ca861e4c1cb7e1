/*
 * imap_session_compress.c - raw deflate both ways for COMPRESS=DEFLATE.
 */
#include "session/imap_session_compress.h"

#include <string.h>

#ifdef MS_HAVE_ISAL
#include "session/imap_zinflate_isal.h"
#endif

enum imap_zinflater
imap_zstream_best_inflater(void)
{
#ifdef MS_HAVE_ISAL
	return IMAP_ZINFLATE_ISAL;
#else
	return IMAP_ZINFLATE_ZLIB;
#endif
}

size_t
imap_zstream_inflaters(const enum imap_zinflater **list_r)
{
	static const enum imap_zinflater all[] = {
		IMAP_ZINFLATE_ZLIB,
#ifdef MS_HAVE_ISAL
		IMAP_ZINFLATE_ISAL,
#endif
	};

	*list_r = all;
	return sizeof(all) / sizeof(all[0]);
}

int
imap_zstream_init(struct imap_zstream *z)
{
	return imap_zstream_init_with(z, imap_zstream_best_inflater());
}

int
imap_zstream_init_with(struct imap_zstream *z, enum imap_zinflater inflater)
{
	memset(z, 0, sizeof(*z));
	z->inflater = inflater;
	/* RFC 4978 section 3: raw deflate, no zlib header. */
	switch (inflater) {
	case IMAP_ZINFLATE_ZLIB:
		if (inflateInit2(&z->in, -15) != Z_OK)
			return MS_ENOMEM;
		break;
	case IMAP_ZINFLATE_ISAL:
#ifdef MS_HAVE_ISAL
		if ((z->isal_in = imap_zinflate_isal_new()) == NULL)
			return MS_ENOMEM;
		break;
#else
		return MS_EIMPL;
#endif
	}
	z->in_ready = true;
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return MS_ENOMEM;
	z->out_ready = true;
	return MS_OK;
}

void
imap_zstream_deinit(struct imap_zstream *z)
{
	if (z->in_ready && z->inflater == IMAP_ZINFLATE_ZLIB)
		(void)inflateEnd(&z->in);
#ifdef MS_HAVE_ISAL
	imap_zinflate_isal_free(z->isal_in);
	z->isal_in = NULL;
#endif
	if (z->out_ready)
		(void)deflateEnd(&z->out);
	z->in_ready = z->out_ready = false;
}

static int
inflate_zlib(struct imap_zstream *z, const uint8_t *in, size_t len,
	     size_t *consumed_r, uint8_t *out, size_t outsz,
	     size_t *produced_r, bool *more_r, bool *ended_r)
{
	int zrc;

	z->in.next_in = (Bytef *)(uintptr_t)in;
	z->in.avail_in = (uInt)len;
	z->in.next_out = out;
	z->in.avail_out = (uInt)outsz;
	zrc = inflate(&z->in, Z_SYNC_FLUSH);
	*consumed_r = len - z->in.avail_in;
	*produced_r = outsz - z->in.avail_out;
	*more_r = z->in.avail_out == 0;
	/* Z_BUF_ERROR only means no progress was possible: wait for more. */
	if (zrc == Z_OK || zrc == Z_BUF_ERROR)
		return MS_OK;
	if (zrc == Z_STREAM_END) {
		*ended_r = true;
		*more_r = false;
		return MS_OK;
	}
	return MS_EPROTO;
}

int
imap_zstream_inflate(struct imap_zstream *z, const uint8_t *in, size_t len,
		     size_t *consumed_r, uint8_t *out, size_t outsz,
		     size_t *produced_r, bool *more_r)
{
	bool ended = false;
	int rc;

	*consumed_r = *produced_r = 0;
	*more_r = false;
	if (z->in_ended)
		return len > 0 ? MS_EPROTO : MS_OK;
	/* Both inflaters count in 32 bits; the caller calls again. */
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	if (outsz > UINT32_MAX)
		outsz = UINT32_MAX;
#ifdef MS_HAVE_ISAL
	if (z->inflater == IMAP_ZINFLATE_ISAL)
		rc = imap_zinflate_isal(z->isal_in, in, len, consumed_r, out,
					outsz, produced_r, more_r, &ended);
	else
#endif
		rc = inflate_zlib(z, in, len, consumed_r, out, outsz,
				  produced_r, more_r, &ended);
	/* The server ended its stream: it does so only as it closes the
	 * connection (Dovecot after LOGOUT's OK or a BYE).  What the last
	 * block held is output like any other; bytes after it are not. */
	if (ended)
		z->in_ended = true;
	if (rc != MS_OK)
		return rc;
	return ended && *consumed_r < len ? MS_EPROTO : MS_OK;
}

int
imap_zstream_deflate(struct imap_zstream *z, const uint8_t *in, size_t len,
		     uint8_t *out, size_t outsz,
		     imap_zstream_write_cb *write_cb, void *arg)
{
	int rc;

	if (len > UINT32_MAX || outsz > UINT32_MAX)
		return MS_EINVAL;
	z->out.next_in = (Bytef *)(uintptr_t)in;
	z->out.avail_in = (uInt)len;
	/*
	 * With Z_SYNC_FLUSH deflate is done when it leaves room in the
	 * output buffer: everything is out, ending on a byte boundary.
	 */
	do {
		z->out.next_out = out;
		z->out.avail_out = (uInt)outsz;
		if (deflate(&z->out, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
			return MS_EINTERNAL;
		if (outsz - z->out.avail_out > 0 &&
		    (rc = write_cb(out, outsz - z->out.avail_out, arg)) !=
		    MS_OK)
			return rc;
	} while (z->out.avail_out == 0);
	return MS_OK;
}
