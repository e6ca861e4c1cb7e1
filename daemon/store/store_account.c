/*
 * store_account.c - what the store keeps per account beyond its folders:
 * the personal namespace prefix the server announced (NAMESPACE), which
 * the Maildir mirror strips from folder names.  Kept in the meta database
 * under "ns_prefix/ACCOUNT".
 */
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

#define STORE_NS_KEY "ns_prefix/"

struct store_ns_arg {
	const char *account;
	const char *prefix;
};

static int
store_ns_key(const char *account, char *key, size_t size, size_t *len_r,
	     struct ms_err *err_r)
{
	size_t alen = strlen(account);

	if (alen == 0 || alen > STORE_ACCOUNT_MAX ||
	    sizeof(STORE_NS_KEY) - 1 + alen >= size)
		return ms_err_set(err_r, MS_EINVAL, "store: bad account name");
	*len_r = (size_t)snprintf(key, size, STORE_NS_KEY "%s", account);
	return MS_OK;
}

static int
store_ns_set_txn(struct store *s, MDB_txn *txn, void *arg,
		 struct ms_err *err_r)
{
	struct store_ns_arg *a = arg;
	char key[sizeof(STORE_NS_KEY) + STORE_ACCOUNT_MAX];
	MDB_val k, v = { strlen(a->prefix), (void *)a->prefix };
	size_t klen = 0;
	int rc;

	if ((rc = store_ns_key(a->account, key, sizeof(key), &klen,
			       err_r)) < 0)
		return rc;
	k = (MDB_val){ klen, key };
	rc = mdb_put(txn, s->dbi[STORE_DBI_META], &k, &v, 0);
	return rc == 0 ? MS_OK : store__mdb_err(s, err_r, rc, "namespace");
}

int
store_account_ns_set(struct store *s, const char *account, const char *prefix,
		     struct ms_err *err_r)
{
	struct store_ns_arg a = { account, prefix };
	char now[STORE_NS_PREFIX_MAX + 1];

	if (strlen(prefix) > STORE_NS_PREFIX_MAX)
		return ms_err_set(err_r, MS_EINVAL, "store: namespace prefix "
				  "over %d bytes", STORE_NS_PREFIX_MAX);
	/* Most passes learn what is stored already: no write then. */
	if (store_account_ns_get(s, account, now, sizeof(now), NULL) ==
	    MS_OK && strcmp(now, prefix) == 0)
		return MS_OK;
	return store__write(s, store_ns_set_txn, &a, err_r);
}

int
store_account_ns_get(struct store *s, const char *account, char *prefix_r,
		     size_t size, struct ms_err *err_r)
{
	char key[sizeof(STORE_NS_KEY) + STORE_ACCOUNT_MAX];
	MDB_val k, v;
	MDB_txn *txn;
	size_t klen = 0;
	int rc;

	if (size > 0)
		prefix_r[0] = '\0';
	if ((rc = store_ns_key(account, key, sizeof(key), &klen, err_r)) < 0)
		return rc;
	k = (MDB_val){ klen, key };
	if ((rc = store__read_begin(s, &txn, err_r)) < 0)
		return rc;
	rc = mdb_get(txn, s->dbi[STORE_DBI_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		rc = STORE_NOTFOUND;
	} else if (rc != 0) {
		rc = store__mdb_err(s, err_r, rc, "namespace");
	} else if (v.mv_size >= size) {
		rc = ms_err_set(err_r, MS_ETOOBIG, "store: namespace prefix "
				"of %zu bytes", v.mv_size);
	} else {
		memcpy(prefix_r, v.mv_data, v.mv_size);
		prefix_r[v.mv_size] = '\0';
		rc = MS_OK;
	}
	store__read_end(s, txn);
	return rc;
}
