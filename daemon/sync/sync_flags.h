/*
 * sync_flags.h - IMAP flag names <-> STORE_FLAG_* bits, and the three-way
 * flag merge of DESIGN.md ("Guarantees").  Pure functions, no I/O.
 */
#ifndef MS_SYNC_FLAGS_H
#define MS_SYNC_FLAGS_H

#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

/*
 * The STORE_FLAG_* bits of a space-separated IMAP flag list ("\Seen
 * $Junk foo"), ASCII case-insensitively.  Flags the store has no bit for
 * (\Recent, other keywords) are ignored.
 */
uint32_t sync_flags_from_imap(struct ms_slice list);

/* The bit of one flag name ("\Seen", "$Junk"); 0 when there is none. */
uint32_t sync_flag_from_name(struct ms_slice name);

/*
 * Writes the IMAP names of the bits in flags, space-separated, into buf
 * (NUL-terminated; "" for none).  Returns MS_OK or MS_ETOOBIG when size
 * is too small (SYNC_FLAGS_TEXT_MAX always suffices).
 */
#define SYNC_FLAGS_TEXT_MAX 96
int sync_flags_to_imap(uint32_t flags, char *buf, size_t size) MS_WUR;

/*
 * Three-way merge of one message's flags.  local is the store's current
 * view, synced what both sides last agreed on, server what the server
 * says now.  Per flag: a change on one side wins over no change; changes
 * on both sides to different values resolve to the server's value, and
 * *conflicts_r (may be NULL) gets the bits where that happened.
 */
uint32_t sync_flags_merge(uint32_t local, uint32_t synced, uint32_t server,
			  uint32_t *conflicts_r);

#endif
