/*
 * maildir_mbsync.h - mbsync's (isync 1.3 to 1.5) sync state of one Maildir,
 * read so that the mirror can adopt a Maildir mbsync filled (mirror.h,
 * mirror_adopt()).  Parsing only: bytes in, a struct out; no file is
 * opened here.
 *
 * With "SyncState *" mbsync keeps, in each Maildir:
 *
 *   .uidvalidity    "<near UIDVALIDITY>\n<highest near UID given>\n": the
 *                   Maildir's own UIDs, which file names carry as ",U=<n>"
 *   .mbsyncstate    a header of "Key value" lines, an empty line, then one
 *                   line per message: "<far UID> <near UID> <flags>", the
 *                   far UID being the server's, the flags (letters D F P R
 *                   S T) those both sides last agreed on.  A mark before
 *                   the flags ('^' skipped, '!' pending, '~' expired, and
 *                   any other newer versions add) or a UID that is not
 *                   positive means the pair is not complete.
 *
 * Header keys: FarUidValidity and NearUidValidity (Master/Slave before
 * isync 1.4), MaxPulledUid (every far UID up to it was seen), and
 * MaxPushedUid, MaxExpired*Uid, which say nothing adoption needs.  An
 * unknown key is an error: a format we do not know is not guessed at.
 */
#ifndef MS_MAILDIR_MBSYNC_H
#define MS_MAILDIR_MBSYNC_H

#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"
#include "maildir/maildir_name.h"

/* A message both sides have: the server's UID, the Maildir's UID (the
 * ",U=" of its file), and the flags last synced. */
struct maildir_mbsync_pair {
	uint32_t far_uid;
	uint32_t near_uid;
	maildir_flags_t flags;
};

struct maildir_mbsync_state {
	uint32_t far_uidvalidity;
	uint32_t near_uidvalidity;
	uint32_t max_pulled;		/* MaxPulledUid */
	struct maildir_mbsync_pair *v;	/* owned; in file order */
	size_t n;
	/* Entries that are no complete pair, and the lowest far UID among
	 * them (0: none with a far UID). */
	size_t n_incomplete;
	uint32_t min_incomplete_far;
};

/* The largest state file read (about 40 bytes a message). */
#define MAILDIR_MBSYNC_STATE_MAX ((size_t)256 << 20)

/*
 * Parses the bytes of a .mbsyncstate into *st (zeroed first; free it with
 * maildir_mbsync_state_deinit(), also after an error).  MS_OK, MS_EINVAL
 * with the line and what is wrong in err_r, or MS_ENOMEM.
 */
int maildir_mbsync_state_parse(const char *buf, size_t len,
			       struct maildir_mbsync_state *st,
			       struct ms_err *err_r) MS_WUR;
void maildir_mbsync_state_deinit(struct maildir_mbsync_state *st);

/*
 * The near UIDVALIDITY of a .uidvalidity file's bytes (its first line)
 * into *uv_r.  MS_OK or MS_EINVAL with err_r set.
 */
int maildir_mbsync_uidvalidity_parse(const char *buf, size_t len,
				     uint32_t *uv_r,
				     struct ms_err *err_r) MS_WUR;

#endif
