/*
 * pop3_local.h - what a reader did to a POP3 account's mirror stays local.
 * POP3 cannot carry a flag, a deletion or a new message back to the
 * server, so the pending changes the mirror's scan records
 * (store_batch_local_*) are settled in the store alone: flags become the
 * record's synced flags, a deletion removes the record (the POP3 record
 * stays, so the message is not downloaded again while the server has it),
 * a move or a new file becomes a record of its folder, and a folder a
 * reader made is a local folder (its CREATE mark is cleared).
 */
#ifndef MS_POP3_LOCAL_H
#define MS_POP3_LOCAL_H

#include <stdint.h>

#include "common/ms.h"
#include "store/store.h"

/*
 * Settles every pending change of account's folders, in one commit per
 * folder.  *settled_r counts them.  MS_OK or a store error in err_r.
 */
int pop3_local_settle(struct store *s, const char *account,
		      uint64_t *settled_r, struct ms_err *err_r) MS_WUR;

/* The UIDVALIDITY of every folder of a POP3 account: its records are
 * numbered by the store alone, so it never changes. */
#define POP3_LOCAL_UIDVALIDITY 1u

#endif
