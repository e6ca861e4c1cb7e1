/*
 * imap_zinflate_isal.c - raw inflate of the server's COMPRESS stream
 * with ISA-L.
 */
#include "session/imap_zinflate_isal.h"

#include <stdlib.h>

#include <isa-l/igzip_lib.h>

struct inflate_state *
imap_zinflate_isal_new(void)
{
	struct inflate_state *st = malloc(sizeof(*st));

	if (st == NULL)
		return NULL;
	isal_inflate_init(st);
	/* RFC 4978 section 3: raw deflate, no header or checksum, the
	 * full 32 KiB window (hist_bits 0 means the largest). */
	st->crc_flag = ISAL_DEFLATE;
	st->hist_bits = 0;
	return st;
}

void
imap_zinflate_isal_free(struct inflate_state *st)
{
	free(st);
}

int
imap_zinflate_isal(struct inflate_state *st, const uint8_t *in, size_t len,
		   size_t *consumed_r, uint8_t *out, size_t outsz,
		   size_t *produced_r, bool *more_r, bool *ended_r)
{
	int rc;

	*consumed_r = *produced_r = 0;
	*more_r = *ended_r = false;
	/* isal_inflate only reads the input; its field is not const. */
	st->next_in = (uint8_t *)(uintptr_t)in;
	st->avail_in = (uint32_t)len;
	st->next_out = out;
	st->avail_out = (uint32_t)outsz;
	rc = isal_inflate(st);
	/* On an error ISA-L's counts are not to be trusted (avail_in can
	 * exceed what it was given): the stream is dead, all of it used. */
	*produced_r = st->avail_out <= outsz ? outsz - st->avail_out : 0;
	if (rc != ISAL_DECOMP_OK || st->avail_in > len) {
		/* Negative: an invalid block, symbol or distance.  A raw
		 * stream never asks for a dictionary (ISAL_NEED_DICT is
		 * zlib-wrapped only): anything else is corrupt data. */
		*consumed_r = len;
		return MS_EPROTO;
	}
	*consumed_r = len - st->avail_in;
	/* ISAL_BLOCK_FINISH: the final block is decoded and all of its
	 * output handed out.  ISA-L reads up to 8 bytes ahead into its bit
	 * buffer and keeps them: a whole byte left there (beyond the last
	 * byte's padding bits) was sent after the end of the stream. */
	if (st->block_state == ISAL_BLOCK_FINISH) {
		*ended_r = true;
		return st->read_in_length >= 8 ? MS_EPROTO : MS_OK;
	}
	/* With the output full ISA-L may hold decoded bytes back. */
	*more_r = st->avail_out == 0;
	return MS_OK;
}
