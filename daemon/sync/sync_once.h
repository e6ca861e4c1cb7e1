/*
 * sync_once.h - `mailsyncd --once`: one pass of every (or every named)
 * account, concurrently on one libuv loop and one store, with a summary
 * line per account.
 */
#ifndef MS_SYNC_ONCE_H
#define MS_SYNC_ONCE_H

#include <stddef.h>
#include <stdio.h>

#include "cfg/cfg.h"
#include "net/tls.h"

/*
 * Opens the store at cfg->store, runs the accounts named in names[0..n)
 * (all when n is 0; the names must exist in cfg), and prints to out one
 * line per account that succeeded ("work: 6 folders, 120 new, 3 changed,
 * 2 deleted, 4.1 MB, 2.3 s") and to errout one line per account that
 * failed ("mailsyncd: work: ...").  SIGINT and SIGTERM commit what is
 * complete and end every pass.  Returns 0 when every account succeeded,
 * else 1 (DESIGN.md --once).
 */
int sync_once_run(const struct cfg *cfg, char *const *names, size_t n,
		  FILE *out, FILE *errout);

/*
 * The TLS context of account c (its ca_file and tls_fingerprint), shared by
 * --once and the foreground mode (daemon_loop.h), which keeps it across
 * passes so that TLS sessions resume.  *ctx_r is NULL for tls = none.
 */
int sync_tls_ctx_new(const struct cfg_account *c, struct net_tls_ctx **ctx_r,
		     struct ms_err *err_r) MS_WUR;

#endif
