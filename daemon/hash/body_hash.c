/*
 * body_hash.c - the content hash of a message body (body_hash.h).
 */
#include <pthread.h>

#include <openssl/evp.h>

#include "hash/body_hash.h"

/* Fetched once for the process: an implicit fetch by EVP_sha256() costs a
 * lookup at every init, which showed in profiles of big syncs. */
static EVP_MD *body_hash_md;
static pthread_once_t body_hash_once = PTHREAD_ONCE_INIT;

static void
body_hash_fetch(void)
{
	body_hash_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int
body_hash_init(struct body_hasher *h)
{
	EVP_MD_CTX *ctx;

	h->ctx = NULL;
	pthread_once(&body_hash_once, body_hash_fetch);
	if (body_hash_md == NULL)
		return MS_EINTERNAL;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return MS_ENOMEM;
	if (EVP_DigestInit_ex(ctx, body_hash_md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return MS_EINTERNAL;
	}
	h->ctx = ctx;
	return MS_OK;
}

int
body_hash_update(struct body_hasher *h, const void *p, size_t len)
{
	if (h->ctx == NULL || EVP_DigestUpdate(h->ctx, p, len) != 1)
		return MS_EINTERNAL;
	return MS_OK;
}

int
body_hash_final(struct body_hasher *h, uint8_t out[BODY_HASH_LEN])
{
	unsigned int n = 0;
	int rc = MS_OK;

	if (h->ctx == NULL || EVP_DigestFinal_ex(h->ctx, out, &n) != 1 ||
	    n != BODY_HASH_LEN)
		rc = MS_EINTERNAL;
	body_hash_deinit(h);
	return rc;
}

int
body_hash_copy(struct body_hasher *dst, const struct body_hasher *src)
{
	EVP_MD_CTX *ctx;

	dst->ctx = NULL;
	if (src->ctx == NULL)
		return MS_EINTERNAL;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return MS_ENOMEM;
	if (EVP_MD_CTX_copy_ex(ctx, src->ctx) != 1) {
		EVP_MD_CTX_free(ctx);
		return MS_EINTERNAL;
	}
	dst->ctx = ctx;
	return MS_OK;
}

void
body_hash_deinit(struct body_hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int
body_hash(const void *p, size_t len, uint8_t out[BODY_HASH_LEN])
{
	struct body_hasher h;
	int rc;

	if ((rc = body_hash_init(&h)) < 0)
		return rc;
	if ((rc = body_hash_update(&h, p, len)) < 0) {
		body_hash_deinit(&h);
		return rc;
	}
	return body_hash_final(&h, out);
}
