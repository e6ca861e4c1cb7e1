/*
 * store_outbox.c - outbox records: their encoding and the listing.  The
 * batch operations that change them live with the other batch code.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Value: state u8, attempts u32, created i64, next_attempt i64, hash,
 * then account, from, rcpts, last_error, each u32 length + bytes; then
 * (written since sending was built; absent in older records) flags u32
 * and delivered, rejected, spool, message_id as strings.
 */
#define STORE_OUTBOX_FIXED (1 + 4 + 8 + 8 + STORE_HASH_LEN)
#define STORE_OUTBOX_NSTR 8

static const char *
store_outbox_str(const char *p)
{
	return p != NULL ? p : "";
}

/* The record's strings in their order, and each one's limit. */
static void
store_outbox_strs(const struct store_outbox *e, const char *str[],
		  size_t max[])
{
	const char *v[STORE_OUTBOX_NSTR] = {
		e->account, e->from, e->rcpts, e->last_error,
		e->delivered, e->rejected, e->spool, e->message_id,
	};

	for (int i = 0; i < STORE_OUTBOX_NSTR; i++) {
		str[i] = store_outbox_str(v[i]);
		max[i] = i == 2 || i == 4 || i == 5 ? STORE_OUTBOX_RCPTS_MAX :
			 STORE_OUTBOX_STR_MAX;
	}
}

static uint8_t *
store_outbox_put_str(uint8_t *p, const char *str)
{
	size_t l = strlen(str);

	store__put32(p, (uint32_t)l);
	memcpy(p + 4, str, l);
	return p + 4 + l;
}

int
store__outbox_encode(const struct store_outbox *e, uint8_t **out_r,
		     size_t *len_r)
{
	const char *str[STORE_OUTBOX_NSTR];
	size_t max[STORE_OUTBOX_NSTR];
	size_t n = STORE_OUTBOX_FIXED + 4;
	uint8_t *p;

	store_outbox_strs(e, str, max);
	for (int i = 0; i < STORE_OUTBOX_NSTR; i++) {
		size_t l = strlen(str[i]);

		if (l > max[i])
			return MS_EINVAL;
		n += 4 + l;
	}
	p = malloc(n);
	if (p == NULL)
		return MS_ENOMEM;
	*out_r = p;
	*len_r = n;
	p[0] = (uint8_t)e->state;
	store__put32(p + 1, e->attempts);
	store__put64(p + 5, (uint64_t)e->created);
	store__put64(p + 13, (uint64_t)e->next_attempt);
	memcpy(p + 21, e->hash, STORE_HASH_LEN);
	p += STORE_OUTBOX_FIXED;
	for (int i = 0; i < 4; i++)
		p = store_outbox_put_str(p, str[i]);
	store__put32(p, e->flags);
	p += 4;
	for (int i = 4; i < STORE_OUTBOX_NSTR; i++)
		p = store_outbox_put_str(p, str[i]);
	return MS_OK;
}

/* One u32-length string at *pp into *str_r (malloc'ed). */
static int
store_outbox_get_str(const uint8_t **pp, const uint8_t *end, char **str_r)
{
	const uint8_t *p = *pp;
	uint32_t l;

	if (end - p < 4 || (size_t)(end - p - 4) < store__get32(p))
		return MS_ESTORE;
	l = store__get32(p);
	*str_r = malloc((size_t)l + 1);
	if (*str_r == NULL)
		return MS_ENOMEM;
	memcpy(*str_r, p + 4, l);
	(*str_r)[l] = '\0';
	*pp = p + 4 + l;
	return MS_OK;
}

int
store__outbox_decode(uint64_t id, const void *data, size_t len,
		     struct store_outbox *e)
{
	const uint8_t *p = data, *end = p + len;
	char **str[STORE_OUTBOX_NSTR] = {
		&e->account, &e->from, &e->rcpts, &e->last_error,
		&e->delivered, &e->rejected, &e->spool, &e->message_id,
	};
	int rc = MS_OK;

	memset(e, 0, sizeof(*e));
	if (len < STORE_OUTBOX_FIXED)
		return MS_ESTORE;
	e->id = id;
	e->state = (enum store_outbox_state)p[0];
	e->attempts = store__get32(p + 1);
	e->created = (int64_t)store__get64(p + 5);
	e->next_attempt = (int64_t)store__get64(p + 13);
	memcpy(e->hash, p + 21, STORE_HASH_LEN);
	p += STORE_OUTBOX_FIXED;
	for (int i = 0; i < 4 && rc == MS_OK; i++)
		rc = store_outbox_get_str(&p, end, str[i]);
	if (rc == MS_OK && p != end) {
		if (end - p < 4)
			rc = MS_ESTORE;
		else
			e->flags = store__get32(p);
		p += 4;
		for (int i = 4; i < STORE_OUTBOX_NSTR && rc == MS_OK; i++)
			rc = store_outbox_get_str(&p, end, str[i]);
	}
	/* An older record: the later strings are empty. */
	for (int i = 4; i < STORE_OUTBOX_NSTR && rc == MS_OK; i++)
		if (*str[i] == NULL && (*str[i] = calloc(1, 1)) == NULL)
			rc = MS_ENOMEM;
	if (rc < 0)
		store_outbox_deinit(e);
	return rc;
}

void
store_outbox_deinit(struct store_outbox *e)
{
	free(e->account);
	free(e->from);
	free(e->rcpts);
	free(e->last_error);
	free(e->delivered);
	free(e->rejected);
	free(e->spool);
	free(e->message_id);
	e->account = e->from = e->rcpts = e->last_error = NULL;
	e->delivered = e->rejected = e->spool = e->message_id = NULL;
}

int
store_outbox_list(struct store *s, struct store_outbox **entries_r,
		  size_t *n_r, struct ms_err *err_r)
{
	struct store_outbox *arr = NULL;
	size_t n = 0, cap = 0;
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	*entries_r = NULL;
	*n_r = 0;
	rc = store__cursor_begin(s, STORE_DBI_OUTBOX, &txn, &c, err_r);
	if (rc < 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != 8)
			continue;
		if (store__reserve(&arr, &cap, n, sizeof(*arr), 8) < 0) {
			rc = ms_err_set(err_r, MS_ENOMEM,
					"store: out of memory");
			goto out;
		}
		rc = store__outbox_decode(store__get64(k.mv_data), v.mv_data,
					  v.mv_size, &arr[n]);
		if (rc < 0) {
			rc = ms_err_set(err_r, rc, "store: bad outbox entry");
			goto out;
		}
		n++;
	}
	rc = rc == MDB_NOTFOUND ? MS_OK :
	     store__mdb_err(s, err_r, rc, "outbox");
out:
	store__cursor_end(s, txn, c);
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			store_outbox_deinit(&arr[i]);
		free(arr);
		return rc;
	}
	*entries_r = arr;
	*n_r = n;
	return MS_OK;
}
