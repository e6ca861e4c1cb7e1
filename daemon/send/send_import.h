/*
 * send_import.h - the daemon's side of the send spool (smtp_spool.h):
 * every file `mailsyncctl send` left in SPOOL/new becomes an outbox entry
 * in the store, one write transaction per message, and only then is the
 * file removed.  A crash between the commit and the unlink leaves the
 * file, and the next import finds its entry (the entry records the file's
 * name) and only removes it: never lost, never queued twice.
 *
 * A file that cannot be read as a spool file, or names an account that
 * does not send, is moved to SPOOL/bad (logged with the reason), not
 * deleted: the user can fix the config and move it back.
 *
 * Synchronous (a directory scan and small commits) on the loop thread.
 */
#ifndef MS_SEND_IMPORT_H
#define MS_SEND_IMPORT_H

#include <stddef.h>

#include "cfg/cfg.h"
#include "common/ms.h"
#include "store/store.h"

/*
 * Imports every file in spool/new.  *n_r counts the entries added.
 * MS_OK (a missing spool is an empty one; bad files are moved aside), or
 * an error of the store or of the directory, with err_r; files not yet
 * imported stay for the next run.
 */
int send_import_run(struct store *s, const struct cfg *cfg,
		    const char *spool, size_t *n_r,
		    struct ms_err *err_r) MS_WUR;

/* The Message-ID of a message ("<...>" as written), or "" in out. */
void send_message_id(struct ms_slice msg, char *out, size_t outsz);

#endif
