/* maildir_mbsync.c - mbsync's sync state, parsed (maildir_mbsync.h). */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "maildir/maildir_mbsync.h"

/* One line: [p, end) without its LF. */
struct maildir_mbsync_line {
	const char *p;
	size_t len;
	unsigned no;	/* 1-based */
};

static bool
maildir_mbsync_next_line(const char **pos, const char *end,
			 struct maildir_mbsync_line *l)
{
	const char *nl;

	if (*pos >= end)
		return false;
	nl = memchr(*pos, '\n', (size_t)(end - *pos));
	l->p = *pos;
	l->len = (size_t)((nl != NULL ? nl : end) - *pos);
	l->no++;
	*pos = nl != NULL ? nl + 1 : end;
	return true;
}

/* A decimal number at *pp (an optional '-' first: old versions wrote
 * "-1" and "-2" for a side without the message; *is_neg_r says so). */
static bool
maildir_mbsync_number(const char **pp, const char *end, uint32_t *v_r,
		      bool *is_neg_r)
{
	const char *p = *pp;

	*is_neg_r = p < end && *p == '-';
	if (*is_neg_r)
		p++;
	if (!maildir_parse_u32(&p, end, v_r))
		return false;
	*pp = p;
	return true;
}

static bool
maildir_mbsync_key_is(const struct maildir_mbsync_line *l, size_t klen,
		      const char *word)
{
	return klen == strlen(word) && memcmp(l->p, word, klen) == 0;
}

/* One header line "Key value" into st; have collects the keys seen. */
enum {
	MBSYNC_HAS_FAR = 1 << 0,
	MBSYNC_HAS_NEAR = 1 << 1,
	MBSYNC_HAS_PULLED = 1 << 2,
};

static int
maildir_mbsync_header(const struct maildir_mbsync_line *l,
		      struct maildir_mbsync_state *st, unsigned *have,
		      struct ms_err *err_r)
{
	const char *sp = memchr(l->p, ' ', l->len);
	const char *p, *end = l->p + l->len;
	size_t klen;
	uint32_t v;
	bool is_neg;

	klen = sp != NULL ? (size_t)(sp - l->p) : 0;
	for (size_t i = 0; i < klen; i++)
		if (!isalpha((unsigned char)l->p[i]))
			klen = 0;
	if (klen == 0)
		return ms_err_set(err_r, MS_EINVAL, "line %u: no \"Key value\" "
				  "header line (an mbsync older than 1.3?)",
				  l->no);
	p = sp + 1;
	if (!maildir_mbsync_number(&p, end, &v, &is_neg) || is_neg || p != end)
		return ms_err_set(err_r, MS_EINVAL, "line %u: \"%.*s\" has no "
				  "number", l->no, (int)(klen > 40 ? 40 : klen),
				  l->p);
	if (maildir_mbsync_key_is(l, klen, "FarUidValidity") ||
	    maildir_mbsync_key_is(l, klen, "MasterUidValidity")) {
		st->far_uidvalidity = v;
		*have |= MBSYNC_HAS_FAR;
	} else if (maildir_mbsync_key_is(l, klen, "NearUidValidity") ||
		   maildir_mbsync_key_is(l, klen, "SlaveUidValidity")) {
		st->near_uidvalidity = v;
		*have |= MBSYNC_HAS_NEAR;
	} else if (maildir_mbsync_key_is(l, klen, "MaxPulledUid")) {
		st->max_pulled = v;
		*have |= MBSYNC_HAS_PULLED;
	} else if (!maildir_mbsync_key_is(l, klen, "MaxPushedUid") &&
		   !maildir_mbsync_key_is(l, klen, "MaxExpiredFarUid") &&
		   !maildir_mbsync_key_is(l, klen, "MaxExpiredMasterUid") &&
		   !maildir_mbsync_key_is(l, klen, "MaxExpiredSlaveUid")) {
		return ms_err_set(err_r, MS_EINVAL, "line %u: unknown header "
				  "\"%.*s\"", l->no,
				  (int)(klen > 40 ? 40 : klen), l->p);
	}
	return MS_OK;
}

/* One entry line "FAR NEAR [marks]FLAGS". */
static int
maildir_mbsync_entry(const struct maildir_mbsync_line *l,
		     struct maildir_mbsync_state *st, size_t *cap,
		     struct ms_err *err_r)
{
	const char *p = l->p, *end = l->p + l->len;
	struct maildir_mbsync_pair pair = { 0 };
	bool far_neg, near_neg, is_complete;
	maildir_flags_t flags = 0;

	if (!maildir_mbsync_number(&p, end, &pair.far_uid, &far_neg) ||
	    p == end || *p++ != ' ' ||
	    !maildir_mbsync_number(&p, end, &pair.near_uid, &near_neg) ||
	    (p < end && *p++ != ' '))
		return ms_err_set(err_r, MS_EINVAL, "line %u: not \"FAR-UID "
				  "NEAR-UID FLAGS\"", l->no);
	is_complete = !far_neg && !near_neg && pair.far_uid > 0 &&
		      pair.near_uid > 0;
	for (; p < end; p++) {
		maildir_flags_t bit;

		if (*p < 'A' || *p > 'Z') {
			/* A mark: skipped, pending, expired, a placeholder. */
			is_complete = false;
			continue;
		}
		bit = MAILDIR_FLAG_BIT(*p);
		if ((bit & MAILDIR_FLAGS_SYSTEM) == 0)
			return ms_err_set(err_r, MS_EINVAL, "line %u: unknown "
					  "flag '%c'", l->no, *p);
		flags |= bit;
	}
	if (!is_complete) {
		st->n_incomplete++;
		if (!far_neg && pair.far_uid > 0 &&
		    (st->min_incomplete_far == 0 ||
		     pair.far_uid < st->min_incomplete_far))
			st->min_incomplete_far = pair.far_uid;
		return MS_OK;
	}
	pair.flags = flags;
	if (st->n == *cap) {
		size_t ncap = *cap != 0 ? *cap * 2 : 256;
		struct maildir_mbsync_pair *v = realloc(st->v,
							ncap * sizeof(*v));

		if (v == NULL)
			return ms_err_set(err_r, MS_ENOMEM, "out of memory");
		st->v = v;
		*cap = ncap;
	}
	st->v[st->n++] = pair;
	return MS_OK;
}

int
maildir_mbsync_state_parse(const char *buf, size_t len,
			   struct maildir_mbsync_state *st,
			   struct ms_err *err_r)
{
	struct maildir_mbsync_line l = { 0 };
	const char *pos = buf, *end = buf + len;
	unsigned have = 0;
	bool is_header = true;
	size_t cap = 0;
	int rc = MS_OK;

	memset(st, 0, sizeof(*st));
	if (len > MAILDIR_MBSYNC_STATE_MAX)
		return ms_err_set(err_r, MS_EINVAL, "larger than %zu MiB",
				  MAILDIR_MBSYNC_STATE_MAX >> 20);
	while (rc == MS_OK && maildir_mbsync_next_line(&pos, end, &l)) {
		if (is_header && l.len == 0)
			is_header = false;
		else if (is_header)
			rc = maildir_mbsync_header(&l, st, &have, err_r);
		else
			rc = maildir_mbsync_entry(&l, st, &cap, err_r);
	}
	if (rc != MS_OK)
		return rc;
	if (is_header)
		return ms_err_set(err_r, MS_EINVAL, "the header does not end "
				  "(no empty line: a state cut short?)");
	if (have != (MBSYNC_HAS_FAR | MBSYNC_HAS_NEAR | MBSYNC_HAS_PULLED))
		return ms_err_set(err_r, MS_EINVAL, "the header lacks %s",
				  !(have & MBSYNC_HAS_FAR) ? "FarUidValidity" :
				  !(have & MBSYNC_HAS_NEAR) ? "NearUidValidity" :
				  "MaxPulledUid");
	return MS_OK;
}

void
maildir_mbsync_state_deinit(struct maildir_mbsync_state *st)
{
	free(st->v);
	memset(st, 0, sizeof(*st));
}

int
maildir_mbsync_uidvalidity_parse(const char *buf, size_t len, uint32_t *uv_r,
				 struct ms_err *err_r)
{
	const char *p = buf, *end = buf + len;
	bool is_neg;

	if (!maildir_mbsync_number(&p, end, uv_r, &is_neg) || is_neg ||
	    (p < end && *p != '\n'))
		return ms_err_set(err_r, MS_EINVAL, "no UIDVALIDITY on its "
				  "first line");
	return MS_OK;
}
