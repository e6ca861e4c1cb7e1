/*
 * mirror.h - the Maildir mirror of an account (DESIGN.md "Maildir mirror"):
 * export makes the mirror match the store, scan turns what readers did in
 * the mirror into pending changes, check compares the two.
 *
 * Names.  A message record's file is named
 *
 *	<uidvalidity>-<uid>-<hash8>,U=<uid>,S=<size>[:2,<flags>]
 *
 * (hash8: the first 4 bytes of the body's SHA-256 in hex; S= the file's
 * size).  The store
 * records the name it was last given (store_msg.mirror_name); a record's
 * file is found again by the unique part of that name (the part before the
 * first ','), or by the id above when nothing was recorded yet.  Each pass
 * lists a folder once (new/ and cur/) and maps unique parts to files in a
 * hash table, so a pass is linear in the number of messages; a folder
 * whose new/ and cur/ and store content did not change since a pass found
 * nothing to do there is not listed at all (mirror_seen.c), so a pass
 * over an unchanged mirror is linear in the number of folders.
 *
 * Line ends.  A file holds its body with LF line ends, as readers
 * expect, unless the body would not come back from them (a bare CR, a LF
 * without CR): then its exact bytes (maildir_eol.h).  A file is known by
 * content through its CRLF form's hash, or its raw hash for one written
 * exact (struct maildir_fhash).  A file of an older mirror, written with
 * the server's CRLF, is left as it is: it is the record's file all the
 * same (its S= is its size), and rewriting every file of a mirror would
 * make readers' indexes (notmuch, mutt's header cache) take each for a
 * new message; removing the mirror rebuilds it with LF, offline.
 *
 * Flags.  \Seen S, \Answered R, \Flagged F, \Deleted T, \Draft D,
 * $Forwarded P.  A message without any of them lives in new/ without an
 * info suffix, any other in cur/ with ":2,<sorted letters>".  A file a
 * reader moved from new/ to cur/ stays there.  Other letters (keywords a
 * reader added) are kept on renames and ignored otherwise; $Junk and
 * $NotJunk have no letter.
 *
 * Durability.  No file is fsync'ed.  After a folder's files are written
 * and renamed, one syncfs(2) makes them durable, and only then the
 * folder's mirror_durable watermark moves to the highest local_seq the
 * pass covered (the daemon batches the syncfs over many exports:
 * mirror_durable.h).  A record beyond the watermark whose file is missing (or
 * has the wrong size) is written again; only a record at or below it whose
 * file is missing counts as deleted by a reader.
 *
 * One Maildir, one folder.  Two folders whose Maildir paths are equal
 * ignoring case (INBOX and "inbox", both the root; "Work" and "work", one
 * directory on vfat, exFAT or a macOS share) would each take the other's
 * files for a reader's new messages.  The first keeps the path (a live
 * folder before a deleted one, INBOX before another spelling, else store
 * order), the others get none: reported once per report, not mirrored,
 * synced in the store all the same.
 *
 * Rebuild.  The root holds a marker file, ".mailsync-mirror", written at
 * the end of the first complete export.  Without it the mirror is new (or
 * was deleted, or moved to a new path): nothing missing counts as a
 * reader's deletion and export writes every message from the store, with
 * no network.  A folder whose directory (cur/ and new/) is gone is
 * rebuilt the same way; deleting a folder's directory never deletes mail.
 *
 * Reader changes found by mirror_scan(), all committed to the store (one
 * or more batches) before it returns:
 *  - a file renamed to other flags: the record's local flags change (the
 *    reader's adds and removes relative to the name the mirror last gave
 *    it, so a server change in between is merged, not undone) and a
 *    pending STORE_CHANGE_FLAGS is recorded;
 *  - new/ -> cur/ with the same flags: only the recorded name changes;
 *  - a file gone: pending STORE_CHANGE_DELETE;
 *  - a file gone from folder A whose bytes (SHA-256) appear in a file of
 *    folder B that belongs to no record: pending STORE_CHANGE_MOVE to B;
 *  - a file that belongs to no record and matches nothing that vanished:
 *    its CRLF form becomes a body and a pending STORE_CHANGE_APPEND.  The
 *    file stays as it is, under its name (a reader may remember it: a
 *    postponed draft); when the server's copy arrives as a record of that
 *    folder with no file yet, export (or scan) adopts the file by its hash
 *    under that name (only its letters change, when the record's flags
 *    differ) instead of writing a second copy, and the file's letters,
 *    which an APPEND does not carry, become a pending
 *    STORE_CHANGE_FLAGS.  In a mirror without its marker (made over an
 *    existing tree: another tool's Maildir) the server's flags win
 *    instead: the file's are older.  A file
 *    whose hash is already pending (APPEND or MOVE into its folder) is not
 *    recorded twice;
 *  - a Maildir (cur/ and new/; tmp/ is made when missing) that no store
 *    folder holds: a folder the reader made.  Its server name is the
 *    inverse of the export's mapping (maildir_path.h) with the delimiter
 *    of the account's folders (INBOX's when there is one) and
 *    p->ns_prefix; it becomes a store folder with STORE_FOLDER_CREATE
 *    (the next sync pass creates it on the server) and its files are new
 *    files like any other.  A plain directory above it ("Projects" of
 *    "Projects/2026") is no folder: the server makes the hierarchy.
 *    Until the server has the folder (no UIDVALIDITY, no records) export
 *    leaves its files alone, and makes its Maildir again if the reader
 *    removes it (the APPENDs are pending all the same).  One whose
 *    name the account's folders = patterns (p->folders, matched with
 *    cfg_folder_wanted(), the engine's own rule) exclude is no folder:
 *    the engine would never create it, so it is reported once and left
 *    alone, with no store folder;
 *  - a message file that is there but cannot be read, or is larger than
 *    a body may be (store_params.max_body_size): reported once per
 *    report and left alone, and the rest of the scan goes on; a record
 *    whose file name it carries (a reader moved it) is no deletion;
 *  - a file inside the tree that is not a message (a name that cannot be
 *    a Maildir name, a directory in cur/, a file next to cur/) is left
 *    alone and reported once per struct maildir_report; so is a Maildir
 *    that cannot be a folder: its name is not one the export would give
 *    (not canonical, not UTF-8, too long, nested on a server without
 *    hierarchy, a name in IMAP's modified UTF-7 as mbsync 1.4 writes
 *    them: the old copy of a folder the mirror keeps in UTF-8), it is a
 *    \Noselect folder's, it is inside such a refused
 *    Maildir, it is the root when the account has no INBOX, or the
 *    account has no folder yet to take a delimiter from.
 * Removed records.  A record the server expunged (or a sync removed) while
 * it had a file leaves a leftover in the store (store.h) that holds its
 * body: scan ignores a file under a leftover's name, and export removes
 * it when its bytes are that body (the store still has them) and clears
 * the leftover, also when the file is gone or holds other bytes.  Any
 * other file is a reader's, whatever its name says: one restored from a
 * backup under the name of a record long gone becomes an APPEND (or is
 * adopted, when a record of its folder without a file has its bytes), as
 * does one whose bytes a reader changed; export never removes a file whose
 * bytes the store does not hold.  A leftover's file with the name of a
 * record of another folder with the same UIDVALIDITY (a reader moved it
 * here) is left to the scan.
 *
 * Tombstones.  A folder deleted on the server (STORE_FOLDER_GONE) has no
 * records; export removes its files (its leftovers) and then its
 * Maildir, as a whole, when nothing else is in it.  Any other file in
 * that Maildir (a reader's new message, a message a reader moved there
 * before the folder went, or one in a Maildir a reader made again under
 * the name) means the reader wants the folder: once the export's own
 * files are gone (until then they would look like a reader's), scan
 * resets the folder's state (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ,
 * MESSAGES: nothing of the deleted folder carries over, as when the
 * server lists a tombstone again), marks it STORE_FOLDER_CREATE instead
 * of GONE and scans it like a reader's new folder: its files become
 * APPENDs, a pending MOVE into it waits for the CREATE and is then done.
 * A tombstone's Maildir with none of a reader's files is the export's to
 * remove (an empty one too).  A pending MOVE into a tombstone whose
 * Maildir holds no reader's file (the reader's file went with the
 * directory) can never be done: scan clears it and clears the source
 * record's recorded name, so that its missing file is no reader's
 * deletion and export writes it again where it was.  Preferring the
 * revival when the file is still there keeps one copy of the message,
 * where the reader last put it; dropping the move then would leave the
 * reader's file to be appended as a second copy.
 *
 * Export never undoes a reader change no scan has seen yet (the daemon
 * exports after server changes without scanning first): a file whose
 * letters differ from the name the mirror gave it is not renamed, and a
 * durable file that is gone is not written again; the folder's watermark
 * then waits for the scan.  While the daemon runs, mirror_watch.h says
 * when readers changed the mirror; mirror_scan_job.h and mirror_job.h
 * run scans and exports on the threadpool.
 */
#ifndef MS_MIRROR_H
#define MS_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"
#include "maildir/maildir_path.h"
#include "maildir/maildir_scan.h"
#include "mirror/mirror_durable.h"
#include "store/store.h"

#define MIRROR_MARKER ".mailsync-mirror"

struct maildir_expect;

/*
 * Per folder, where the early exports of a pass left it: every record
 * below uid_from has its file, and the Maildir held no file that was not
 * a record's when it was last listed.  Early exports only add records'
 * files while the pass only adds records (acct_mirror.h), so the next one
 * reads the records from uid_from on, writes those without a file name,
 * and lists nothing: a 100,000-message folder's initial sync listed it
 * and looked up every record at each of its early exports.  The export
 * after the pass lists and reads it all.
 */
struct mirror_early_folder {
	uint32_t folder_id;
	uint32_t uidvalidity;
	uint32_t uid_from;
	/* Push exports only (mirror_params.pushed): the folder's record
	 * count, and the store's stamp when its records were read. */
	uint32_t local_count;
	struct store_mirror_stamp stamp;
};

struct mirror_early {
	struct mirror_early_folder *v;
	size_t n, cap;
};

/* Forgets every folder (and frees the array). */
void mirror_early_clear(struct mirror_early *e);

struct mirror_params {
	const char *account;	/* store account name */
	const char *root;	/* the account's maildir path (expanded) */
	/* Personal namespace prefix ("INBOX." on Cyrus), NULL or "" when
	 * none; the delimiter comes from each store folder. */
	const char *ns_prefix;
	/* Where non-message entries are reported (once per path per
	 * report); may be NULL.  Owned by the caller, who keeps it across
	 * passes so that a path is reported once per process. */
	struct maildir_report *rep;
	/* The account's folders = patterns (cfg_folder_wanted(), the
	 * engine's rule); none: every folder is wanted.  A reader's
	 * Maildir they exclude is reported and left alone. */
	char *const *folders;
	size_t nfolders;
	/* Export only this folder (as the server names it): the one a
	 * pass of a single folder changed.  NULL: every folder, and the
	 * marker. */
	const char *only_folder;
	/* An early export, beside a pass still adding records
	 * (acct_mirror.h): folders without records are left to a later
	 * export, since the pass may not have selected them yet and the
	 * server may still refuse one (a "[Gmail]" that refuses SELECT
	 * gets no Maildir); and it writes no marker (the export after
	 * the pass does). */
	bool is_early;
	/* Where the early exports of this pass left each folder, so that
	 * the next one lists no Maildir and reads no record they dealt
	 * with (NULL: each lists and reads them all).  The caller's, kept
	 * across the pass's early exports, cleared when it begins the
	 * export after the pass (mirror_early_clear()). */
	struct mirror_early *early;
	/*
	 * A push export: of only_folder, after a pass that only added
	 * messages to it (nothing pulled but new messages, nothing pushed).
	 * Where the push exports left each folder complete (pushed, kept
	 * by the caller across exports, cleared when an export of every
	 * folder begins or one fails): the next one reads the records from
	 * uid_from on, writes those without a file, and lists nothing,
	 * while the store says nothing else changed there (no pending
	 * change or leftover added or removed: the stamp; no record gone:
	 * local_count), else it lists the folder as before.  A pushed
	 * message then costs the same in a folder of 10 or 100,000.
	 */
	bool is_append_only;
	struct mirror_early *pushed;
	/* Scan only these Maildirs (paths relative to root, "" for the
	 * root: what the watch saw change), plus the Maildirs no folder
	 * holds yet.  NULL: every folder. */
	char *const *only_dirs;
	size_t n_only_dirs;
	/* Batched durability (mirror_durable.h): export adds a mark per
	 * folder instead of its syncfs and watermark, and export and scan
	 * count the marks as watermarks.  NULL: a syncfs per folder. */
	struct mirror_marks *marks;
	/* Where the export announces the entries it makes, renames and
	 * removes, so that the watch does not scan for them
	 * (maildir/maildir_expect.h); may be NULL. */
	struct maildir_expect *expect;
	/* maildir_inbox = subfolder: INBOX is the Maildir INBOX/ under
	 * root (mbsync's usual layout), and root is no folder. */
	bool is_inbox_subfolder;
	/* maildir_layout: how folders nest (maildir_path.h); every folder
	 * name <-> directory goes through maildir_path_from_server() and
	 * maildir_path_to_server() with it. */
	enum maildir_layout layout;
	/* mbsync_state: the prefix of mbsync's state files kept outside
	 * the Maildirs (its SyncState); NULL: only .mbsyncstate inside
	 * each Maildir (mirror_adopt()). */
	const char *mbsync_state;
	/* local_delete = flag: a record marked \Deleted whose file is gone
	 * (a reader's deletion, pushed as the flag) gets none again, and its
	 * missing file is no deletion; one that has its file keeps it, with
	 * the T letter. */
	bool is_deleted_hidden;
};

/* What a pass did; counters add up (the caller zeroes the struct). */
struct mirror_stats {
	uint64_t folders;	/* folders visited */
	uint64_t unchanged;	/* of those, left alone unlisted: nothing
				 * changed since a pass recorded them */
	uint64_t listed;	/* entries of new/ and cur/ listed */
	uint64_t written;	/* files written from the store */
	uint64_t renamed;	/* flag renames for server changes */
	uint64_t removed;	/* files of expunged records removed */
	uint64_t adopted;	/* reader files taken as a record's file */
	uint64_t flag_changes;	/* pending FLAGS recorded */
	uint64_t deletes;	/* pending DELETE recorded */
	uint64_t moves;		/* pending MOVE recorded */
	uint64_t appends;	/* pending APPEND recorded */
	uint64_t created;	/* folders a reader made (STORE_FOLDER_CREATE) */
	uint64_t moves_dropped;	/* pending MOVEs into deleted folders */
	uint64_t bytes;		/* bytes written */
};

/* Adds from's counters to to's. */
void mirror_stats_add(struct mirror_stats *to, const struct mirror_stats *from);

/*
 * Makes the mirror of p->account under p->root match the store: creates
 * the folders' Maildirs (not for \Noselect folders), writes missing
 * files through tmp/, renames files whose flags the server changed,
 * removes the files of records that are gone, records each file's name
 * (store_batch_msg_mirror), then per folder one syncfs and the watermark.
 * A record with a pending DELETE or MOVE gets no file.  Idempotent.
 * Returns MS_OK, or MS_EIO/MS_ESTORE/MS_ENOMEM with err_r set (a single
 * message that cannot be written is logged and keeps its folder's
 * watermark back, but does not stop the pass).
 */
int mirror_export(struct store *s, const struct mirror_params *p,
		  struct mirror_stats *st_r, struct ms_err *err_r) MS_WUR;

/*
 * The same export in steps, so that its caller can do other work (or
 * look for a cancel) in between: the daemon runs the steps one after the
 * other on a pool thread (mirror_job.h).  begin takes
 * the account's folders and pending changes as they are; the caller must
 * not run a scan or a sync pass of the account until end (other accounts
 * may).  Every store write happens inside step, on the caller's thread.
 *
 * step works for about budget_ns (UINT64_MAX: until done) and returns
 *  - MS_AGAIN: more to do;
 *  - MIRROR_EXPORT_WORK: the next piece may block for long (listing a
 *    large folder, or the syncfs after a folder's files are written,
 *    which can take seconds) and touches no store state: run
 *    mirror_export_work(j) on any thread, then step on (nothing else
 *    may use j meanwhile).  A step without the work run runs it itself;
 *  - MS_OK: done; or a negative MS_E* with err_r set.
 * end frees the job, adding its counters to *st_r (may be NULL); ending
 * early abandons the export: what is not yet recorded is found again, or
 * written again, by the next export.
 */
#define MIRROR_EXPORT_WORK 3
struct mirror_export_job;
int mirror_export_begin(struct store *s, const struct mirror_params *p,
			struct mirror_export_job **job_r,
			struct ms_err *err_r) MS_WUR;
int mirror_export_step(struct mirror_export_job *j, uint64_t budget_ns,
		       struct ms_err *err_r) MS_WUR;
void mirror_export_work(struct mirror_export_job *j);
void mirror_export_end(struct mirror_export_job **jp,
		       struct mirror_stats *st_r);

/*
 * Detects reader changes (see above) and commits them as pending changes
 * and record updates.  Touches no file.  A missing root is not an error
 * (nothing to scan).  Returns MS_OK or a negative MS_E* with err_r set;
 * changes found before an error are committed.
 */
int mirror_scan(struct store *s, const struct mirror_params *p,
		struct mirror_stats *st_r, struct ms_err *err_r) MS_WUR;

/* What mirror_adopt() did. */
struct mirror_adopt_result {
	uint64_t adopted;	/* files that became records */
	uint64_t flag_changes;	/* of those, with a reader's change pending */
	uint64_t not_adopted;	/* pairs without a usable file: fetched */
	uint32_t uidnext;	/* the folder's watermark set */
	/* Nothing adopted though mbsync's state is there: why (the sync
	 * then fills the folder, matching files by content). */
	char why[300];
};

/*
 * Migration from mbsync: adopts the Maildir of store folder folder_id,
 * which no pass has synced (no UIDVALIDITY, no record), as mbsync left
 * it, when the mirror is not yet mailsync's (no marker: made over
 * another tool's tree) and the Maildir holds mbsync's state
 * (.mbsyncstate and .uidvalidity, "SyncState *"; maildir_mbsync.h) for
 * the server's current uidvalidity.  Each message file the state pairs
 * with a server UID (through the ",U=" of its name) becomes that UID's
 * record, under its own name: its CRLF form the body, mbsync's last
 * synced flags the synced flags, the letters of its name the flags (a
 * reader's change since mbsync ran is a pending flag change, merged with
 * the server's as any other).  No file is moved, renamed or written, and
 * mbsync's files are left as they are.  The folder gets the UIDVALIDITY
 * and a watermark below the first message not adopted, past the last one
 * mbsync saw: the pass that follows reads flags, fetches only what is
 * new (or was not adopted), and the export renames files whose flags the
 * server changed.  Files no pair names are a reader's new files, as
 * ever.  Without such a state (or with one that does not fit: res_r->why)
 * nothing is adopted, and the sync fills the folder as for any new
 * mirror (export adopts files by content, with the server's flags).
 *
 * MS_OK (res_r->adopted may be 0); MS_EINVAL when INBOX's place in the
 * tree contradicts p->is_inbox_subfolder (err_r says which setting fits:
 * going on would download INBOX beside the user's); MS_ESTORE, MS_EIO or
 * MS_ENOMEM.  Loop thread (it commits batches).
 */
int mirror_adopt(struct store *s, const struct mirror_params *p,
		 uint32_t folder_id, uint32_t uidvalidity,
		 struct mirror_adopt_result *res_r,
		 struct ms_err *err_r) MS_WUR;

enum {
	MIRROR_CHECK_CONTENT = 1 << 0,	/* also hash every file */
};

/*
 * Compares store and mirror: every selectable folder has its Maildir;
 * every record without a pending DELETE/MOVE has exactly one file, named
 * as recorded, of the record's size, in new/ only when it has no flags,
 * with the record's flags (system letters); a record with a pending
 * DELETE/MOVE has none; every other message file is accounted for by a
 * pending APPEND or MOVE into its folder.  With MIRROR_CHECK_CONTENT each
 * file's SHA-256 must equal its record's body hash.  Returns MS_OK, or
 * MS_EINVAL naming the first difference in err_r (other negative codes:
 * the check itself failed).
 */
int mirror_check(struct store *s, const struct mirror_params *p,
		 unsigned flags, struct ms_err *err_r) MS_WUR;

/* The Maildir letters of store flags, and back (system letters only). */
maildir_flags_t mirror_flags_to_maildir(uint32_t store_flags);
uint32_t mirror_flags_from_maildir(maildir_flags_t flags);

#endif
