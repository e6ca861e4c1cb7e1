/*
 * sync_commit.h - a pass's full batches committed behind it, on the libuv
 * threadpool: the commit of a batch of new messages writes megabytes and
 * waits for two fsyncs, which on a slow disk holds the loop for tens of
 * milliseconds; handed to a pool thread, it runs while the loop goes on
 * filling the next batch.
 *
 * Order and durability stay as the pass wants them (imap_sync.h): one
 * commit at a time, in order; a batch is handed out only after the
 * previous commit is known to have succeeded (sync_commit_behind_join()),
 * so a failed batch is never followed by one whose watermark passes it;
 * and what the pass reads back is never in a batch still committing (it
 * joins before every commit made in place, and records of a batch are
 * never read before that batch is committed, as before).  The store's
 * write lock keeps the pool's commit from meeting a loop write (another
 * account's, which then waits for it).
 *
 * Loop thread only, except the commit itself.
 */
#ifndef MS_SYNC_COMMIT_H
#define MS_SYNC_COMMIT_H

#include <stdbool.h>

#include <uv.h>

#include "common/ms.h"
#include "store/store.h"

struct sync_commit_behind;

/* A new one, with a spare batch of store s.  MS_OK or MS_ENOMEM. */
int sync_commit_behind_new(struct store *s,
			   struct sync_commit_behind **cb_r) MS_WUR;

/*
 * Can a batch be handed out now?  False while a commit runs (its result
 * not yet joined) or its request is not yet retired by the loop.
 */
bool sync_commit_behind_is_ready(const struct sync_commit_behind *c);

/* Has the commit under way (if any) finished?  (Joining then does not
 * wait.) */
bool sync_commit_behind_is_finished(struct sync_commit_behind *c);

/*
 * Hands *batch_io to a pool thread to commit and puts the spare (empty)
 * batch in its place.  Only when sync_commit_behind_is_ready().  MS_OK,
 * or an error in err_r and nothing handed out (commit in place then).
 */
int sync_commit_behind_start(struct sync_commit_behind *c, uv_loop_t *loop,
			     struct store_batch **batch_io,
			     struct ms_err *err_r) MS_WUR;

/*
 * The result of the commit handed out last, waiting for it when it still
 * runs (the loop waits: call it where the pass needs its data committed).
 * MS_OK also when none was handed out; a result is returned once.
 */
int sync_commit_behind_join(struct sync_commit_behind *c,
			    struct ms_err *err_r) MS_WUR;

/* Bytes of bodies in memory (store_batch_mem()) of the batch handed out
 * while its commit runs; 0 when none runs. */
size_t sync_commit_behind_mem(struct sync_commit_behind *c);

/* How many joins had to wait for the commit (the loop held meanwhile). */
uint64_t sync_commit_behind_waits(const struct sync_commit_behind *c);

/*
 * fn(arg) runs on the loop each time a commit handed out is retired: its
 * result can then be joined without waiting, and another batch handed
 * out.  Never after sync_commit_behind_free().
 */
void sync_commit_behind_on_retired(struct sync_commit_behind *c,
				   void (*fn)(void *arg), void *arg);

/*
 * Frees it; a commit under way finishes first on its thread and the loop
 * frees what is left when it retires the request (the store must outlive
 * that: the loop runs until then).  NULL-safe; sets *cp to NULL.
 */
void sync_commit_behind_free(struct sync_commit_behind **cp);

#endif
