/* imap_seqset.c - iterate and format IMAP sequence sets. */
#include "imap/imap_seqset.h"

#include <stdio.h>
#include <string.h>

void
imap_seqset_iter_init(struct imap_seqset_iter *it, struct ms_slice set)
{
	it->p = set.p;
	/* An empty slice may have p == NULL; NULL + 0 is undefined in C. */
	it->end = set.len > 0 ? set.p + set.len : set.p;
}

/* Reads one seq-number ("*" or nz-number) at it->p. */
static int
imap_seqset_number(struct imap_seqset_iter *it, uint32_t *n_r)
{
	uint64_t v = 0;
	const uint8_t *start = it->p;

	if (it->p < it->end && *it->p == '*') {
		it->p++;
		*n_r = IMAP_SEQ_STAR;
		return MS_OK;
	}
	while (it->p < it->end && *it->p >= '0' && *it->p <= '9') {
		v = v * 10 + (uint64_t)(*it->p - '0');
		/* 4294967295 is the highest UID there is: as an upper
		 * bound it is what "*" (IMAP_SEQ_STAR) is, the same value. */
		if (v > UINT32_MAX)
			return MS_EPROTO;
		it->p++;
	}
	if (it->p == start || v == 0)
		return MS_EPROTO;
	*n_r = (uint32_t)v;
	return MS_OK;
}

int
imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *lo_r,
    uint32_t *hi_r)
{
	uint32_t a, b;

	if (it->p == it->end)
		return MS_AGAIN;
	if (imap_seqset_number(it, &a) != MS_OK)
		return MS_EPROTO;
	b = a;
	if (it->p < it->end && *it->p == ':') {
		it->p++;
		if (imap_seqset_number(it, &b) != MS_OK)
			return MS_EPROTO;
	}
	if (it->p < it->end) {
		if (*it->p != ',')
			return MS_EPROTO;
		it->p++;
		/* A trailing comma is not a valid set. */
		if (it->p == it->end)
			return MS_EPROTO;
	}
	*lo_r = a < b ? a : b;
	*hi_r = a < b ? b : a;
	return MS_OK;
}

bool
imap_seqset_is_valid(struct ms_slice set, bool allow_star)
{
	struct imap_seqset_iter it;
	uint32_t lo, hi;
	int rc;

	if (set.len == 0 || (!allow_star && memchr(set.p, '*', set.len)))
		return false;
	imap_seqset_iter_init(&it, set);
	while ((rc = imap_seqset_iter_next(&it, &lo, &hi)) == MS_OK)
		;
	return rc == MS_AGAIN;
}

int
imap_seqset_format(struct ms_buf *out, const uint32_t *nums, size_t n,
    size_t max_len, size_t *used_r)
{
	size_t i = 0, written = 0;
	char tmp[32];
	int len, rc;

	*used_r = 0;
	while (i < n) {
		uint32_t lo = nums[i], hi = lo;
		size_t j = i + 1;

		if (lo == 0)
			return MS_EINVAL;
		/* Extend the run over duplicates and consecutive numbers. */
		while (j < n && (nums[j] == hi || nums[j] == hi + 1)) {
			hi = nums[j];
			j++;
		}
		if (j < n && nums[j] < hi)
			return MS_EINVAL;
		if (lo == hi)
			len = snprintf(tmp, sizeof(tmp), "%s%u",
			    written ? "," : "", lo);
		else
			len = snprintf(tmp, sizeof(tmp), "%s%u:%u",
			    written ? "," : "", lo, hi);
		if ((size_t)len > max_len - written) {
			if (written == 0)
				return MS_EINVAL;
			break;
		}
		if ((rc = ms_buf_append(out, tmp, (size_t)len)) != MS_OK)
			return rc;
		written += (size_t)len;
		i = j;
	}
	*used_r = i;
	return MS_OK;
}
