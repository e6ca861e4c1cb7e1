/*
 * imap_sync.h - one pass of the IMAP sync engine for one account: folder
 * discovery, change detection (QRESYNC, else a flag diff), streaming of
 * new messages into the store, and (direction = both) the push of local
 * changes.  A pass runs on a logged-in session it borrows
 * (daemon/session/imap_session.h) and leaves it logged in when it ends,
 * so the next pass reuses it; the owner (acct/acct_imap.c) keeps the
 * session's callbacks and hands its end to the pass.  Several accounts
 * run side by side on one loop and one store.
 *
 * Durability (DESIGN.md "Guarantees"): messages are committed in batches
 * in UID order; a folder's UIDNEXT never passes a message that is not in
 * the same or an earlier commit, and its HIGHESTMODSEQ is written only by
 * the batch that completes the folder.  A pending local change is cleared
 * in the batch that records the server's confirmation.
 *
 * UIDVALIDITY change: in one transaction every old record of the folder
 * becomes a pending APPEND of its body (which keeps the body alive) and
 * the records go; the folder is then fetched again under the new
 * UIDVALIDITY (bodies already stored are not stored twice).  A pending
 * APPEND whose body the folder holds again is dropped (re-matched by
 * content hash); the rest are messages the server no longer has: with
 * direction = both they are appended back, with direction = pull they
 * stay pending (kept locally, never sent) and are logged.  "No longer
 * has" is known only once every message below the server's UIDNEXT is
 * stored again: while the re-fetch has a gap (a message not stored),
 * the parked APPENDs (store_change.uid holds the old UID) wait, since a
 * message in the gap would be uploaded a second time.  The same holds
 * when UIDNEXT goes backwards (a lagging replica).  Old and new
 * UIDs never mix.  Pending flag changes and deletions on old UIDs are
 * dropped (logged): they name messages that no longer exist as such.
 */
#ifndef MS_IMAP_SYNC_H
#define MS_IMAP_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "cfg/cfg.h"
#include "common/ms.h"
#include "session/imap_session.h"
#include "store/store.h"

struct imap_sync;

struct imap_sync_summary {
	unsigned folders;	/* wanted, selectable folders of the pass */
	unsigned selected;	/* of those, selected (changed or pending) */
	unsigned folder_errors;	/* folders that failed (logged) */
	uint64_t new_msgs;	/* messages stored */
	uint64_t changed;	/* flag updates pulled or pushed */
	uint64_t deleted;	/* expunges pulled or pushed */
	uint64_t appended;	/* local messages appended to the server */
	uint64_t moved;		/* local moves done on the server */
	/* Local messages the server refused (this pass or before; they
	 * stay local, not retried), and the last one named with the
	 * server's text: "FOLDER: "Subject" <Message-ID>: TEXT" */
	uint64_t refused;
	/* Local messages with NUL bytes kept local: the server has no
	 * BINARY (refused_text names the last one too) */
	uint64_t unsendable;
	char refused_text[400];
	bool is_selected;	/* a folder is left selected */
	uint64_t bytes;		/* body bytes stored */
	double seconds;
	int rc;			/* MS_OK, or why the account failed */
	char error[256];	/* with rc < 0 */
	/* Progress while the pass runs (on_progress_cb). */
	unsigned folders_done;	/* of folders */
	uint64_t msgs_expected;	/* new messages the server's counts
				 * announce (0: not known) */
	uint64_t bytes_expected;	/* their bytes, where the server
					 * gives STATUS SIZE (0: not known) */
	const char *folder;	/* being synced; NULL between folders;
				 * valid during the callback only */
	/* The pass is fetching a folder never synced before: until that
	 * folder's FETCH step ends (hold_cb), it only adds records, so a
	 * reader of the store (the mirror's export) may run beside it. */
	bool is_adding;
};

struct imap_sync_params {
	struct store *store;
	/* The loop the pass runs on: full batches of new messages commit
	 * on its threadpool, behind the pass (sync/sync_commit.h); NULL:
	 * every batch commits in place. */
	uv_loop_t *loop;
	const struct cfg_account *account;	/* must outlive the sync */
	/* Ready (logged in) and idle; borrowed until on_done.  Its end
	 * must be handed to imap_sync_session_closed(). */
	struct imap_session *sess;
	/* The session served an earlier pass: its NAMESPACE is known (in
	 * the store), and is_selected says a folder may still be selected,
	 * which the pass leaves first (STATUS of the selected folder need
	 * not show new mail). */
	bool is_reused;
	bool is_selected;
	/* Only this folder (UTF-8, as the server names it); NULL: every
	 * wanted folder.  Copied. */
	const char *only_folder;
	/*
	 * The pass ended (also after imap_sync_stop()).  It may fire from
	 * inside a command callback of the session: free the sync on a
	 * later loop turn, not from here.  When rc is MS_OK the session is
	 * still logged in with no command in flight, unless commands were
	 * still out at the end: then the pass logged it out first, and its
	 * end came through imap_sync_session_closed().
	 */
	void (*on_done_cb)(struct imap_sync *sync,
			   const struct imap_sync_summary *sum, void *arg);
	/* Optional: a folder started or ended, or a batch committed. */
	void (*on_progress_cb)(struct imap_sync *sync,
			       const struct imap_sync_summary *sum, void *arg);
	/* Optional: the FETCH step of a folder never synced before ended
	 * (is_adding ends with it: the pass may change or remove records
	 * from here on).  True keeps the pass there until
	 * imap_sync_resume(), so that what reads the store beside it can
	 * finish first. */
	bool (*hold_cb)(struct imap_sync *sync, void *arg);
	/*
	 * Optional: a folder no pass has synced (no UIDVALIDITY, no
	 * record) was selected; uidvalidity is the server's.  The callback
	 * may adopt a copy the user already has (mirror_adopt(): a Maildir
	 * mbsync filled) by committing records and the folder's UIDVALIDITY
	 * and watermark; the pass then reads flags and fetches only above
	 * the watermark.  It returns how many records it made (0: none, the
	 * folder is fetched), or a negative MS_E* with err_r set: the folder
	 * fails (nothing fetched), the rest of the pass goes on.  It runs
	 * on the loop thread, between the pass's commits.
	 */
	int (*adopt_cb)(uint32_t folder_id, const char *folder,
			uint32_t uidvalidity, void *arg,
			struct ms_err *err_r);
	void *arg;
};

/*
 * Starts one pass on params->sess.  MS_OK with *sync_r (on_done fires
 * exactly once, never before this returns), or an error in err_r (no
 * callback fires).
 */
int imap_sync_start(const struct imap_sync_params *params,
		    struct imap_sync **sync_r, struct ms_err *err_r) MS_WUR;

/*
 * The borrowed session ended (its on_close fired) while the pass ran:
 * what is complete is committed and on_done fires, from this call.
 */
void imap_sync_session_closed(struct imap_sync *sync, int reason,
			      const struct ms_err *err);

/* Ends the pass early: what is complete is committed, the session is
 * closed (its end comes back through imap_sync_session_closed()), and
 * on_done fires with rc MS_ECANCELED.  Idempotent. */
void imap_sync_stop(struct imap_sync *sync);

/* Lets a pass that hold_cb kept go on (from a later loop turn than
 * hold_cb's).  A no-op when it is not held or has ended. */
void imap_sync_resume(struct imap_sync *sync);

/* Frees a sync whose on_done fired.  NULL-safe; sets *syncp to NULL. */
void imap_sync_free(struct imap_sync **syncp);

#endif
