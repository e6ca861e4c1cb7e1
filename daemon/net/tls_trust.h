/*
 * tls_trust.h - trust anchor stores shared by every TLS context that
 * trusts the same thing: one X509_STORE per ca_file, one for the system
 * store.
 *
 * Loading the system bundle parses every certificate in it: about 140
 * certificates, 0.9 MB of memory and tens of milliseconds of CPU for
 * each context that loads it.  An account makes up to three contexts
 * (IMAP or POP3, SMTP, the sender's IMAP), so a daemon with a few
 * accounts paid that many times over for identical stores.
 *
 * A store is reused while its file is the same version (device, inode,
 * size and modification time), so editing or replacing a ca_file and
 * reloading picks up the new contents.  Loop thread only; verification
 * on any thread is fine (X509_STORE locks itself).
 */
#ifndef MS_NET_TLS_TRUST_H
#define MS_NET_TLS_TRUST_H

#include <openssl/x509.h>

#include "common/ms.h"

/*
 * Returns in *store_r a new reference to the store for ca_file (a PEM
 * file of trusted CAs), or for the system trust store when ca_file is
 * NULL.  The caller owns the reference (SSL_CTX_set1_cert_store takes its
 * own; free ours with X509_STORE_free).  MS_ECONFIG when ca_file cannot
 * be loaded, MS_ETLS when the system store cannot, with err_r set.
 */
int net_tls_trust_get(const char *ca_file, X509_STORE **store_r,
		      struct ms_err *err_r) MS_WUR;

/* How many stores have been loaded from files since start (for tests). */
unsigned net_tls_trust_loads(void);

/* Drops the cached stores (at exit; contexts keep their own references). */
void net_tls_trust_clear(void);

#endif
