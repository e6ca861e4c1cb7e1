/*
 * store_outbox.c - outbox records: their encoding and the listing.  The
 * batch operations that change them live with the other batch code.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Value: state u8, attempts u32, created i64, next_attempt i64, hash,
 * then account, from, rcpts, last_error, each u32 length + bytes.
 */
#define STORE_OUTBOX_FIXED (1 + 4 + 8 + 8 + STORE_HASH_LEN)

static const char *
store_outbox_str(const char *p)
{
	return p != NULL ? p : "";
}

int
store__outbox_encode(const struct store_outbox *e, uint8_t **out_r,
		     size_t *len_r)
{
	const char *str[4] = {
		store_outbox_str(e->account), store_outbox_str(e->from),
		store_outbox_str(e->rcpts), store_outbox_str(e->last_error),
	};
	size_t n = STORE_OUTBOX_FIXED;
	uint8_t *p;

	for (int i = 0; i < 4; i++) {
		size_t l = strlen(str[i]);

		if (l > (i == 2 ? STORE_OUTBOX_RCPTS_MAX
				 : STORE_OUTBOX_STR_MAX))
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
	for (int i = 0; i < 4; i++) {
		size_t l = strlen(str[i]);

		store__put32(p, (uint32_t)l);
		memcpy(p + 4, str[i], l);
		p += 4 + l;
	}
	return MS_OK;
}

int
store__outbox_decode(uint64_t id, const void *data, size_t len,
		     struct store_outbox *e)
{
	const uint8_t *p = data, *end = p + len;
	char **str[4];

	memset(e, 0, sizeof(*e));
	str[0] = &e->account;
	str[1] = &e->from;
	str[2] = &e->rcpts;
	str[3] = &e->last_error;
	if (len < STORE_OUTBOX_FIXED)
		return MS_ESTORE;
	e->id = id;
	e->state = (enum store_outbox_state)p[0];
	e->attempts = store__get32(p + 1);
	e->created = (int64_t)store__get64(p + 5);
	e->next_attempt = (int64_t)store__get64(p + 13);
	memcpy(e->hash, p + 21, STORE_HASH_LEN);
	p += STORE_OUTBOX_FIXED;
	for (int i = 0; i < 4; i++) {
		uint32_t l;

		if (end - p < 4 || (size_t)(end - p - 4) < store__get32(p)) {
			store_outbox_deinit(e);
			return MS_ESTORE;
		}
		l = store__get32(p);
		*str[i] = malloc((size_t)l + 1);
		if (*str[i] == NULL) {
			store_outbox_deinit(e);
			return MS_ENOMEM;
		}
		memcpy(*str[i], p + 4, l);
		(*str[i])[l] = '\0';
		p += 4 + l;
	}
	return MS_OK;
}

void
store_outbox_deinit(struct store_outbox *e)
{
	free(e->account);
	free(e->from);
	free(e->rcpts);
	free(e->last_error);
	e->account = e->from = e->rcpts = e->last_error = NULL;
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
