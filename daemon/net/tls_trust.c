/*
 * tls_trust.c - trust anchor stores shared by every TLS context that
 * trusts the same file (see tls_trust.h for why).
 */
#include "net/tls_trust.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>

/*
 * One loaded store and the version of the file it was loaded from.  The
 * system store is keyed by its bundle file (SSL_CERT_FILE or OpenSSL's
 * default); its hashed directory is read lazily at verification time, so
 * it needs no key.
 */
struct net_tls_trust {
	struct net_tls_trust *next;
	char *path;		/* ca_file; NULL for the system store */
	bool has_stat;		/* false: the file could not be stat()ed */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	X509_STORE *store;	/* one reference owned by the cache */
};

static struct net_tls_trust *net_tls_trusts;
static unsigned net_tls_trust_n_loads;

/* The bundle file the system store loads, as OpenSSL resolves it. */
static const char *
net_tls_trust_system_file(void)
{
	const char *env = getenv(X509_get_default_cert_file_env());

	return env != NULL ? env : X509_get_default_cert_file();
}

/* Fills t's version fields from the file it names now. */
static void
net_tls_trust_stat(struct net_tls_trust *t, const char *file)
{
	struct stat st;

	t->has_stat = stat(file, &st) == 0;
	if (!t->has_stat)
		return;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->size = st.st_size;
	t->mtime = st.st_mtim;
}

static bool
net_tls_trust_same_version(const struct net_tls_trust *a,
			   const struct net_tls_trust *b)
{
	if (!a->has_stat || !b->has_stat)
		return false;	/* unknown: load again rather than trust it */
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static bool
net_tls_trust_same_path(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
net_tls_trust_free(struct net_tls_trust *t)
{
	X509_STORE_free(t->store);
	free(t->path);
	free(t);
}

/* Loads a store for ca_file (NULL: the system store) into *store_r. */
static int
net_tls_trust_load(const char *ca_file, X509_STORE **store_r,
		   struct ms_err *err_r)
{
	X509_STORE *store = X509_STORE_new();
	unsigned long e;
	char ebuf[160];
	int ok;

	*store_r = NULL;
	if (store == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	if (ca_file != NULL)
		ok = X509_STORE_load_file(store, ca_file);
	else
		ok = X509_STORE_set_default_paths(store);
	if (ok != 1) {
		e = ERR_get_error();
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		ERR_clear_error();
		X509_STORE_free(store);
		if (ca_file != NULL)
			return ms_err_set(err_r, MS_ECONFIG,
			    "ca_file %s: cannot load: %s", ca_file, ebuf);
		return ms_err_set(err_r, MS_ETLS,
		    "TLS context: system trust store: %s", ebuf);
	}
	net_tls_trust_n_loads++;
	*store_r = store;
	return MS_OK;
}

int
net_tls_trust_get(const char *ca_file, X509_STORE **store_r,
		  struct ms_err *err_r)
{
	struct net_tls_trust now = { 0 }, *t, **tp;
	int rc;

	*store_r = NULL;
	net_tls_trust_stat(&now, ca_file != NULL ? ca_file :
			   net_tls_trust_system_file());
	for (tp = &net_tls_trusts; (t = *tp) != NULL; tp = &t->next)
		if (net_tls_trust_same_path(t->path, ca_file))
			break;
	if (t != NULL && net_tls_trust_same_version(t, &now)) {
		if (X509_STORE_up_ref(t->store) != 1)
			return ms_err_set(err_r, MS_ETLS,
			    "TLS context: cannot share the trust store");
		*store_r = t->store;
		return MS_OK;
	}
	/* Absent, or its file changed since: load it (again). */
	if ((rc = net_tls_trust_load(ca_file, &now.store, err_r)) < 0)
		return rc;
	if (t != NULL) {
		*tp = t->next;
		net_tls_trust_free(t);
	}
	t = malloc(sizeof(*t));
	if (t == NULL || (ca_file != NULL &&
			  (now.path = strdup(ca_file)) == NULL) ||
	    X509_STORE_up_ref(now.store) != 1) {
		/* Not cached; the caller still gets a working store. */
		free(t);
		free(now.path);
		*store_r = now.store;
		return MS_OK;
	}
	*t = now;
	t->next = net_tls_trusts;
	net_tls_trusts = t;
	*store_r = now.store;
	return MS_OK;
}

unsigned
net_tls_trust_loads(void)
{
	return net_tls_trust_n_loads;
}

void
net_tls_trust_clear(void)
{
	struct net_tls_trust *t;

	while ((t = net_tls_trusts) != NULL) {
		net_tls_trusts = t->next;
		net_tls_trust_free(t);
	}
}
