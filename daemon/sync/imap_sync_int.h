/*
 * imap_sync_int.h - what the parts of the IMAP sync pass share: the
 * per-account and per-folder state, the helpers every step uses
 * (sync_pass.c), and each part's interface.  imap_sync.c orders the
 * parts: discovery (sync_discover.c, sync_create.c), then the folders
 * (sync_folder.c, whose steps include sync_fetch.c and sync_push.c).
 * A part reports its end through a pointer its caller set
 * (after_discovery, after_folders, run.step_done), never by calling the
 * next part.  Nothing outside daemon/sync includes this.
 */
#ifndef MS_IMAP_SYNC_INT_H
#define MS_IMAP_SYNC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ms.h"
#include "imap/imap_client.h"
#include "session/imap_session.h"
#include "store/store.h"
#include "sync/imap_sync.h"
#include "sync/sync_folders.h"

#define SYNC_RANGE_UIDS 200		/* UIDs per UID FETCH command */
#define SYNC_IN_FLIGHT 3		/* fetch commands pipelined */
#define SYNC_RANGES (2 * SYNC_IN_FLIGHT)	/* ranges not yet retired */
#define SYNC_BATCH_OPS 500		/* commit after this many operations */
/* or this many body bytes waiting (spooled or in memory): LMDB copies
 * every page a commit writes into memory, so this bounds that copy */
#define SYNC_BATCH_MEM (2u << 20)
/* The fetch asks for no more messages while this many bytes of bodies
 * wait in memory for a commit (sync_bodies_waiting()): two batches. */
#define SYNC_WAITING_MEM (2 * SYNC_BATCH_MEM)
#define SYNC_CHANGES_MAX (1u << 20)	/* pending changes read at once */
/* Folders one LIST may show (mailsyncd.1); more fail the account. */
#define SYNC_FOLDERS_MAX 10000
/* A fetch whose UIDs spread this much wider than its messages (more than
 * SYNC_SPARSE_SPAN UIDs, over 8 per message) learns where to cut its
 * ranges (sync_run.cuts), SYNC_CUTS_MAX cuts per UID SEARCH. */
#define SYNC_SPARSE_SPAN (16u * SYNC_RANGE_UIDS)
#define SYNC_CUTS_MAX 256

/* The account's part of the pass (imap_sync.c, sync_discover.c). */
enum sync_step {
	SYNC_STEP_START = 0,
	SYNC_STEP_NAMESPACE,
	SYNC_STEP_LIST,
	SYNC_STEP_STATUS,
	SYNC_STEP_FOLDERS,	/* one folder at a time: enum sync_folder_step */
	SYNC_STEP_DONE,		/* the session stays logged in */
};

/* A folder's steps, in their order (sync_folder.c says what each does). */
enum sync_folder_step {
	SYNC_FOLDER_SELECT = 0,
	SYNC_FOLDER_REMATCH,
	SYNC_FOLDER_CHANGES,
	SYNC_FOLDER_DIFF,
	SYNC_FOLDER_FETCH,
	SYNC_FOLDER_CHECK,
	SYNC_FOLDER_SETTLE,
	SYNC_FOLDER_PUSH,
	SYNC_FOLDER_DONE,
};

struct imap_sync;
/* A part of the pass is over: what comes next. */
typedef void sync_next_fn(struct imap_sync *as);
/* An untagged response of the part under way. */
typedef void sync_event_fn(struct imap_sync *as, const struct imap_event *ev);

struct sync_fold {
	char *name;		/* UTF-8 */
	char delim;
	uint32_t attrs;
	struct sync_folder_status st;
	uint32_t id;		/* store folder id once ensured */
	bool is_wanted;
	bool has_pending;
	bool is_move_dest;	/* a pending MOVE goes there: synced first */
	/* STATUS gave a number past 32 bits (a server fault): the folder
	 * is not synced this pass, and counts as failed */
	const char *status_fault;
	uint64_t status_fault_num;
};

/* A stored folder the LIST left out, being confirmed gone (STATUS). */
enum sync_missing_verdict {
	SYNC_MISSING_ASKING = 0,
	SYNC_MISSING_EXISTS,	/* STATUS answered OK */
	SYNC_MISSING_GONE,	/* NO [NONEXISTENT], or missing twice */
	SYNC_MISSING_UNSURE,	/* another NO or BAD: missing once */
};

struct sync_missing {
	uint32_t id;		/* store folder id */
	int tag;		/* of its STATUS */
	enum sync_missing_verdict verdict;
};

struct sync_push;
struct sync_rematch;

struct sync_uid_range {
	uint32_t lo, hi;
};

/* One UID FETCH of new messages (hi UINT32_MAX for "lo:*"). */
struct sync_fetch_range {
	uint32_t lo, hi;
	int tag;
	bool is_done, is_ok;
};

/* The folder being synced. */
struct sync_run {
	struct sync_fold *fold;
	enum sync_folder_step step;	/* set by sync_folder_set_step() */
	sync_next_fn *step_done;	/* a step in another file ends */
	struct store_folder stored;
	enum sync_folder_mode mode;
	uint32_t uidvalidity, uidnext, exists;
	uint64_t hms;
	bool has_uidvalidity, has_uidnext;
	/* SELECT gave UIDVALIDITY or UIDNEXT past 32 bits (a server fault):
	 * the folder is not synced this pass, and counts as failed */
	const char *select_fault;
	uint64_t select_fault_num;
	bool is_fetching;	/* the UIDNEXT watermark may advance */
	/* Never synced when the pass came to it (stored UIDVALIDITY 0, so
	 * VANISHED and EXPUNGE change no record): until its FETCH step
	 * ends, the pass only adds records (imap_sync_summary.is_adding) */
	bool is_first;
	/* A first fetch asks for its newest messages first, in one range
	 * (sync_fetch_top()): it is out */
	bool is_top;
	bool has_hole;		/* a message was not stored: freeze it */
	bool is_failed;
	bool is_msg_failed;	/* a message not stored; the rest goes on */
	bool is_uid_check;	/* CONDSTORE: the diff runs for expunges */
	/* CHECK: the store's count, and the server's messages marked
	 * \Deleted that the store forgot (no UIDPLUS), counted by a search */
	uint32_t check_local, check_forgotten;
	bool is_check_search;	/* that UID SEARCH DELETED is out */
	/* Every message below the server's UIDNEXT is stored: parked
	 * APPENDs (store_change.uid) not re-matched may go out */
	bool is_fetch_whole;
	size_t n_parked_held;	/* parked APPENDs held back this pass */
	uint32_t fetch_from;	/* first UID that is new */
	uint32_t next_lo;	/* next range to ask for */
	bool is_all_sent;
	/* No range asked for while bodies wait for a commit (past
	 * SYNC_WAITING_MEM); the commit's retirement goes on. */
	bool is_fetch_paused;
	unsigned in_flight;
	/* The fetch ranges sent and not yet retired, in UID order from
	 * range_head (a ring).  A range retires when it and every range
	 * before it completed; Dovecot may answer a later command's
	 * FETCHes before an earlier one's tagged OK, and tagged replies
	 * may come out of order, so completion is matched by tag. */
	struct sync_fetch_range ranges[SYNC_RANGES];
	unsigned range_head, n_ranges;
	uint32_t done_hi;	/* every UID up to it answered (0: none) */
	/* Records above the watermark when the fetch started (bound by
	 * APPENDUID or COPYUID, or stored after a message that could not
	 * be): ranges in UID order, left out of the fetch. */
	struct sync_uid_range *known;
	size_t n_known, known_cap, known_i;
	/* UIDs this fetch put in a batch (ranges in UID order): a message
	 * that comes out of UID order is new unless it is among them, and
	 * then needs no commit before it is stored. */
	struct sync_uid_range *added;
	size_t n_added, added_cap;
	/* A sparse UID space: each fetch range ends at a cut, the UID of
	 * every SYNC_RANGE_UIDS-th message (UID SEARCH by sequence
	 * number), so a range holds about that many messages however far
	 * apart their UIDs are.  The ranges still cover every UID from the
	 * watermark on: a cut that is off (a message expunged meanwhile)
	 * costs speed, never a message. */
	bool is_sparse;
	bool is_cut_search;	/* a UID SEARCH for cuts is out */
	bool is_cuts_final;	/* no message after the last cut */
	uint32_t cut_seq;	/* the sequence number of the last cut */
	uint32_t cuts[SYNC_CUTS_MAX];
	unsigned n_cuts, cut_i;
	uint32_t last_uid;	/* highest UID added */
	struct store_body_writer *w;
	bool is_w_failed;
	struct store_msg_iter *it;	/* flag diff */
	struct store_msg cur;
	bool has_cur;
	/* Stored UIDs the diff has not seen listed, as ranges in UID order;
	 * expunged only when the UID FETCH completed, since a response out
	 * of UID order (an unsolicited flag update) may still list them.
	 * Grows with the folder's expunges, not with its size. */
	struct sync_uid_range *gone;
	size_t n_gone, gone_cap;
	bool is_gone_open;	/* the last range may grow */
	/* The folder's records were adopted this pass (adopt_cb): the
	 * diff reads RFC822.SIZE too; the UIDs whose size is not the
	 * adopted body's (a message mbsync changed beyond its X-TUID line)
	 * are fetched again, their records keeping their file
	 * (sync_fetch.c), and so are the server's UIDs below the watermark
	 * without a record (messages mbsync skipped); sorted once the diff
	 * is done. */
	bool is_adopted;
	uint32_t *refetch;
	size_t n_refetch, refetch_cap;
	/* push */
	struct store_change *changes;
	size_t n_changes, ci;
	struct sync_push *push;	/* the push's plan and commands out */
	struct sync_rematch *rematch;	/* REMATCH step (sync_rematch.c) */
	struct ms_buf push_body;	/* an APPEND's body, being sent */
	struct ms_buf push_crlf;
};

struct imap_sync {
	struct imap_sync_params params;
	const struct cfg_account *acct;
	const char *name;
	struct imap_session *sess;
	struct store_batch *batch;
	/* Full batches commit behind the pass (sync_commit.h); NULL
	 * without a loop: every commit in place. */
	struct sync_commit_behind *behind;
	/* The step that waits for a commit on the pool (sync_commit_then());
	 * NULL: none. */
	void (*commit_then)(struct imap_sync *as);
	bool is_commit_handed;		/* its batch is on the pool */
	bool is_end_committed;		/* the pass's last commit is done */
	/* Batches committed in place while the loop runs (sync_commit():
	 * the loop waits for the disk); a debug line says it at the end. */
	uint64_t n_loop_commits;
	size_t max_waiting;		/* most sync_bodies_waiting() seen */
	/* A commit failed (whatever its code): what it held is not in the
	 * store, so no watermark may be written past it this pass. */
	bool has_commit_failed;
	enum sync_step step;
	sync_event_fn *on_event;	/* the part under way; NULL: none */
	sync_next_fn *after_discovery;
	sync_next_fn *after_folders;
	unsigned caps;
	struct sync_fold *folds;
	size_t n_folds, folds_cap;
	size_t fi;		/* next folder to look at */
	unsigned status_pending;
	struct sync_run run;
	bool has_run;
	struct imap_sync_summary sum;
	uint64_t t0;
	bool is_stopping, is_closing, is_done;
	/* hold_cb kept the pass at the end of a first FETCH step, until
	 * imap_sync_resume() */
	bool is_held;
	char *only_folder;	/* NULL: every wanted folder */
	/* The LIST named only only_folder (sync_list_is_one()): the other
	 * stored folders are not judged by it. */
	bool is_list_one;
	bool warned_no_uidplus;
	bool warned_bad_status;	/* a malformed STATUS response was seen */
	bool warned_no_trash;	/* local_delete = trash without a Trash */
	/* The personal namespace prefix (UTF-8) from NAMESPACE */
	char ns_prefix[STORE_NS_PREFIX_MAX + 1];
	bool has_ns;
	bool is_ns_answered;	/* NAMESPACE answered OK: store it */
	/* The wanted folders being written on the pool (sync_ensure.c);
	 * NULL: none. */
	struct sync_ensure *ensure;
	/* Stored folders the LIST left out (sync_folders_reconcile) */
	struct sync_missing *missing;
	size_t n_missing;
	unsigned missing_pending;
	/* Folders a reader created in the mirror, being created */
	struct store_folder *creates;
	size_t n_creates, create_i;
};

/* --- shared helpers (sync_pass.c) ---------------------------------------- */

/* The account cannot go on: remember why (the first reason) and close. */
void sync_fail(struct imap_sync *as, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Tells the owner how far the pass is (on_progress_cb). */
void sync_progress(struct imap_sync *as);
/* uid + 1, or UINT32_MAX at the top of the UID range. */
uint32_t sync_uid_after(uint32_t uid);
/* The UIDNEXT watermark of the fetch under way; false when it does not
 * move (or must not). */
bool sync_watermark(const struct imap_sync *as, struct store_folder_state *st);
/* Commits the batch with the UIDNEXT watermark, after the batch that
 * commits behind the pass; fails the account on a store error. */
int sync_commit(struct imap_sync *as);
/* When the batch is past its budget: hands it to a pool thread to
 * commit (sync_commit.h), or commits it. */
int sync_commit_if_full(struct imap_sync *as);
/* Bytes of bodies in memory waiting for a commit: in the batch and in
 * the one committing on the pool. */
size_t sync_bodies_waiting(struct imap_sync *as);
/*
 * sync_commit() without holding the loop: the batch (with the watermark)
 * commits on a pool thread, after the one behind the pass, and then(as)
 * runs on a later loop turn (at once when there is nothing to commit, or
 * in place without a loop).  Nothing else of the pass may run meanwhile
 * (no command in flight).  A store error fails the pass, and a pass that
 * closes meanwhile never gets then().
 */
void sync_commit_then(struct imap_sync *as,
		      void (*then)(struct imap_sync *as));
/* The pool's commit retired (sync_commit_behind_on_retired()). */
void sync_commit_on_retired(void *arg);
/* A batch operation could not be queued (out of memory): fatal. */
bool sync_batch_ok(struct imap_sync *as, int rc);
/* The folder under way failed (logged; what is complete stays). */
void sync_folder_error(struct imap_sync *as, const char *what,
		       const struct imap_ev_status *st);
/* A number past 32 bits in cmd's reply: the folder fails (logged). */
void sync_folder_fault(struct imap_sync *as, const struct sync_fold *f,
		       const char *cmd, const char *item, uint64_t num);
/* Submits the command just built (tag) with on_done; false on failure
 * (the account is failed then).  Its untagged responses go to
 * as->on_event. */
typedef void sync_done_fn(struct imap_session *s, int rc,
			  const struct imap_ev_status *st, void *arg);
bool sync_submit(struct imap_sync *as, int tag, sync_done_fn *on_done);
/* True when a command's completion should be acted on. */
bool sync_cmd_live(struct imap_sync *as, int rc);
bool sync_st_ok(const struct imap_ev_status *st);
/* A folder step's command completed: true to go on; on NO/BAD the folder
 * fails and its step ends (run.step_done). */
bool sync_step_ok(struct imap_sync *as, int rc, const struct imap_ev_status *st,
		  const char *what);
/* Merges the server's flags (and modseq, 0: none) into rec. */
void sync_flags_pull(struct imap_sync *as, const struct store_msg *rec,
		     struct ms_slice flags, uint64_t modseq);
/* A FETCH with flags of a message the store may know. */
void sync_on_fetch_flags(struct imap_sync *as, const struct imap_ev_fetch *fe);
/* The first of the n ranges v (in UID order) that ends at or after uid;
 * n when none does. */
/* Is uid one an adopted record's size check sends to the fetch again? */
bool sync_is_refetch(const struct sync_run *r, uint32_t uid);
size_t sync_ranges_find(const struct sync_uid_range *v, size_t n,
			uint32_t uid);
/* Room for one more range after the n in *v (of *cap); MS_ENOMEM. */
int sync_ranges_reserve(struct sync_uid_range **v, size_t *cap, size_t n);

/* --- discovery (sync_discover.c) ------------------------------------------ */

/* The first commands of the pass; as->after_discovery when the folders
 * are known. */
void sync_discover_start(struct imap_sync *as);

/*
 * The wanted folders (is_wanted) into the store, each f->id set, and the
 * personal namespace prefix NAMESPACE answered (is_ns_answered); then
 * then(as).  What the store holds as it is takes a read; the writes for
 * the rest run on the threadpool, then(as) on a later loop turn (in place
 * without a loop).  Nothing else of the pass
 * may run meanwhile.  A store error fails the pass; a pass that closes
 * meanwhile never gets then().  (sync_ensure.c)
 */
void sync_folders_ensure(struct imap_sync *as,
			 void (*then)(struct imap_sync *as));
/* The pass is being freed: a write under way finishes on its own. */
void sync_ensure_orphan(struct imap_sync *as);

/* --- folders (sync_folder.c, sync_fetch.c) --------------------------------- */

/* Syncs each wanted folder from the first; as->after_folders after the
 * last. */
void sync_folders_start(struct imap_sync *as);
/* The step under way ends: the next one starts (sync_folder_after()). */
void sync_folder_step_done(struct imap_sync *as);
/* The step after done, given the folder's plan and what its steps found;
 * pure, for tests. */
enum sync_folder_step sync_folder_after(enum sync_folder_step done,
					enum sync_folder_mode mode,
					bool is_failed, bool is_uid_check);
const char *sync_folder_step_name(enum sync_folder_step step);
/* Untagged responses while a folder is under way. */
void sync_folder_on_event(struct imap_sync *as, const struct imap_event *ev);
/* Frees the state of the folder under way. */
void sync_run_end(struct imap_sync *as);
/* The FETCH step: new messages; ends through run.step_done. */
void sync_fetch_start(struct imap_sync *as);
/* A commit retired: a fetch that stopped asking for messages while
 * bodies waited for it (sync_bodies_waiting()) goes on. */
void sync_fetch_resume(struct imap_sync *as);
void sync_fetch_on_event(struct imap_sync *as, const struct imap_event *ev);

/* --- re-match after a UIDVALIDITY change (sync_rematch.c) ----------------- */

/* The REMATCH step: binds the folder's messages whose size and Message-ID
 * are a parked body's without downloading them; ends through
 * run.step_done. */
void sync_rematch_start(struct imap_sync *as);
void sync_rematch_on_event(struct imap_sync *as, const struct imap_event *ev);
/* Adds the messages the REMATCH step leaves out (marked \Deleted on a
 * server without UIDPLUS, and in no parked body) to run.known, so FETCH
 * does not download them.  MS_OK or MS_ENOMEM. */
int sync_rematch_known_add(struct imap_sync *as);
/* NULL-safe; sets *rp to NULL. */
void sync_rematch_free(struct sync_rematch **rp);

/* --- folders a reader created (sync_create.c) ----------------------------- */

/* Appends a folder named name (copied) to as->folds; NULL when out of
 * memory (the account is failed then). */
struct sync_fold *sync_fold_add(struct imap_sync *as, const char *name);
/* Notes a STORE_FOLDER_CREATE folder the server does not list, to be
 * created when it is wanted and the direction is both; false when out of
 * memory (the account is failed then). */
bool sync_create_add(struct imap_sync *as, const struct store_folder *f);
/* CREATEs as->creates on the server, adds each created one to the
 * folders of the pass, then as->after_discovery. */
void sync_create_folders(struct imap_sync *as);

/* --- push (sync_push.c) ---------------------------------------------------- */

/* Loads this folder's pending changes for the push. */
int sync_push_load(struct imap_sync *as);
/* Sends what is left of the folder's push (grouped into sets, pipelined;
 * planned on the first call), or ends the PUSH step (run.step_done) once
 * every command is answered.  Called after sync_push_load() and by the
 * push's replies. */
void sync_push_next(struct imap_sync *as);
/* An untagged response while a push command is out (COPYUID of a MOVE,
 * SEARCH and FETCH of an APPEND's copy). */
void sync_push_on_event(struct imap_sync *as, const struct imap_event *ev);
/* Frees the push's state.  NULL-safe; sets *pp to NULL. */
void sync_push_free(struct sync_push **pp);

/* A new message with the Message-ID of an APPEND without APPENDUID: a
 * candidate for its copy, and what its FETCH says of it. */
struct sync_push_hit {
	uint32_t uid;
	bool is_size;		/* RFC822.SIZE is the bytes sent */
	bool is_date;		/* INTERNALDATE is the date sent */
};

/*
 * Which of the n hits is the APPEND's copy: the one alone with the size
 * and date sent; else the one alone with the date sent (a server that
 * rewrites what it stores changes the size, not the date).  Otherwise 0,
 * with *why_r saying why: two copies that look alike, or none that does,
 * are not guessed between (the APPEND is held, and the next fetch brings
 * its copy by content).
 */
uint32_t sync_push_find_pick(const struct sync_push_hit *v, size_t n,
			     const char **why_r);

#endif
