/*
 * sync_folders.h - what LIST says of a folder, and how each is synced this
 * pass.  Pure functions, no I/O.  Which folders an account syncs is the
 * configuration's rule: cfg_folder_wanted() (cfg/cfg.h).
 */
#ifndef MS_SYNC_FOLDERS_H
#define MS_SYNC_FOLDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"
#include "store/store.h"

/* STORE_FOLDER_* bits of LIST attributes (space-separated atoms), plus
 * STORE_FOLDER_INBOX for INBOX itself. */
uint32_t sync_folder_attrs(struct ms_slice attrs, const char *name);

/* What the server told about a folder (LIST-STATUS or STATUS). */
struct sync_folder_status {
	bool has_status;	/* false: STATUS failed or was not sent */
	uint32_t messages, uidnext, uidvalidity;
	uint64_t highestmodseq;	/* 0: no CONDSTORE */
	uint64_t size;		/* STATUS SIZE (RFC 8438); 0: not given */
};

enum sync_folder_mode {
	SYNC_MODE_SKIP = 0,	/* unchanged: not selected at all */
	SYNC_MODE_INITIAL,	/* never synced: fetch everything */
	/* UIDVALIDITY changed: the old records are parked; re-match on
	 * size and Message-ID first, then fetch the rest (sync_rematch.c) */
	SYNC_MODE_REMATCH,
	SYNC_MODE_QRESYNC,	/* SELECT (QRESYNC ...): changes and VANISHED */
	SYNC_MODE_CONDSTORE,	/* UID FETCH (FLAGS) (CHANGEDSINCE m); UIDs
				 * diffed only when the counts disagree */
	SYNC_MODE_FULL,		/* UID FETCH 1:n (FLAGS), diff with the store */
};

const char *sync_folder_mode_name(enum sync_folder_mode mode);

/*
 * The plan for one folder.  stored is the store's state, st the
 * server's, caps the session's IMAP_SESSION_CAP_* bits; has_pending says
 * local changes wait to be pushed.  A folder whose UIDVALIDITY, UIDNEXT,
 * MESSAGES and HIGHESTMODSEQ all equal the stored state (and has no
 * pending change) is skipped, but only when the server has modseqs: else
 * a flag change would go unseen, so the folder is diffed every pass.
 * A changed UIDVALIDITY is found after SELECT and handled there; the plan
 * for it is the one for a changed folder.
 */
enum sync_folder_mode sync_folder_plan(const struct store_folder_state *stored,
				       const struct sync_folder_status *st,
				       unsigned caps, bool has_pending);

#endif
