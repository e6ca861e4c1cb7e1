/*
 * send_spool.h - the client's side of the send spool: one message made
 * durable in the spool directory the daemon imports (Postfix's maildrop
 * is the model).  The file is written under DIR/tmp, fsync'ed, renamed
 * into DIR/new and the directory fsync'ed, so once this returns MS_OK the
 * message survives a crash whether or not the daemon runs; the daemon
 * never sees a partial file.
 */
#ifndef MS_CLIENT_SEND_SPOOL_H
#define MS_CLIENT_SEND_SPOOL_H

#include <stddef.h>

#include "common/ms.h"

/*
 * Writes envelope + message as one new file in dir/new (creating dir,
 * dir/tmp and dir/new, mode 0700, when missing).  MS_OK with the file's
 * name (not the path) in name_r (size namesz), or MS_EIO with err_r
 * naming the path and the system's reason; then nothing is left behind.
 */
int send_spool_write(const char *dir, const void *envelope, size_t env_len,
		     const void *msg, size_t msg_len, char *name_r,
		     size_t namesz, struct ms_err *err_r) MS_WUR;

#endif
