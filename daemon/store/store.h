/*
 * store.h - the durable store: one LMDB environment holding every folder,
 * message record, message body, summary, pending local change, POP3 UIDL
 * and outbox entry.  This header is the store's whole interface; nothing
 * outside daemon/store includes <lmdb.h>.
 *
 * Layout (schema version STORE_SCHEMA_VERSION).  All integers in keys and
 * values are big-endian, so cursors iterate in numeric order.
 *
 *   meta         "schema_version" -> u32; "next_folder_id" -> u32;
 *                "next_change_seq", "next_local_seq", "next_outbox_id" -> u64;
 *                "ns_prefix/ACCOUNT" -> namespace prefix (bytes);
 *                "mirror_dir/" folder id (u32) -> what the mirror last
 *                saw of the folder's Maildir (struct store_mirror_dir)
 *   folders      folder id (u32) -> account, name, delimiter, flags,
 *                UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, MESSAGES (server),
 *                local message count, mirror durable watermark
 *   folder_names account NUL name -> folder id (u32)
 *   messages     folder id (u32) . uid (u32) -> body hash, flags, last
 *                synced flags, modseq, internal date, size, local change
 *                sequence, Maildir file name
 *   bodies       SHA-256 (32 bytes) -> the raw message bytes
 *   body_info    SHA-256 -> refcount (u32), size (u64)
 *   body_refs    SHA-256 -> folder id . uid (dupsort: every message record
 *                holding the body; "find by hash")
 *   summaries    SHA-256 -> date, from, to, subject, Message-ID (UTF-8)
 *   msgids       Message-ID (at most 400 bytes) -> SHA-256 (dupsort)
 *   changes      sequence (u64) -> pending local change
 *   pop3         account NUL uidl -> SHA-256, fetch time
 *   outbox       id (u64) -> state, attempts, times, envelope, error, hash
 *   leftovers    folder id (u32) . unique part of a Maildir file name ->
 *                SHA-256 (the files of removed records; see below)
 *   refusals     change sequence (u64) -> kind, folder id, time, text
 *                (pending APPENDs held back; see "refusals" below)
 *
 * A body's refcount counts the message records, pending APPEND changes,
 * POP3 records, outbox entries and leftovers that name it.  When it drops to zero at
 * the end of a write transaction, the body, its body_info, its summary and
 * its Message-ID index entries are deleted in that same transaction.
 *
 * Threads: writes are serialized by a lock, so a function that writes
 * may run on any thread; the daemon makes them on the loop thread, except
 * a batch it hands whole to a pool thread to commit (a loop write made
 * meanwhile waits for that commit), and never writes one batch from two
 * threads.  Read functions may run on any thread at any time (the
 * environment is opened with MDB_NOTLS); every read opens and closes its
 * own short read transaction and copies what it returns, so nothing
 * returned points into the map.  No function keeps a transaction open after it returns.  A map
 * resize waits until no read transaction is open (a reader/writer lock).
 *
 * Memory: a body is in memory while it arrives and, finished, until its
 * batch commits (a larger one than the spool threshold goes to a spool
 * file of its own); the commit holds the batch's new bodies in LMDB's
 * dirty pages.  The caller bounds how many bodies wait (store_batch_mem()).  The
 * map's pages that reads and writes touch count in the process's RSS as
 * file-backed memory; on kernels that cache files in large folios one
 * touch maps up to 2 MiB, so the store unmaps them again (they stay in
 * the page cache) before every commit and whenever they have grown by
 * 2 MiB since the last time, and reads large bodies with pread() instead
 * of through the map.
 *
 * Errors: every fallible function returns MS_OK (or another documented
 * non-negative value) or a negative MS_E* code, with detail in err_r when
 * err_r is not NULL.  LMDB failures are MS_ESTORE with mdb_strerror()'s
 * text.  MDB_MAP_FULL is never reported: the map is doubled (logged) and
 * the transaction retried.
 */
#ifndef MS_STORE_H
#define MS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

#define STORE_SCHEMA_VERSION 5
#define STORE_HASH_LEN 32		/* SHA-256 */
#define STORE_ACCOUNT_MAX 64		/* bytes of an account name */
#define STORE_FOLDER_NAME_MAX 400	/* bytes of a folder name */
#define STORE_MIRROR_NAME_MAX 255	/* bytes of a Maildir file name */
#define STORE_UIDL_MAX 128		/* bytes of a POP3 UIDL */
#define STORE_MSGID_KEY_MAX 400		/* Message-ID bytes indexed */

/* A lookup found nothing (a success value, not an error). */
#define STORE_NOTFOUND 2

struct store;
struct store_batch;
struct store_body;
struct store_body_writer;

/* --- opening ------------------------------------------------------------- */

struct store_params {
	const char *dir;	/* environment directory; created if absent */
	/* Initial map size in bytes; 0: 256 MiB.  An existing environment
	 * keeps its larger size.  The map doubles whenever it fills. */
	size_t map_size;
	/* Bodies larger than this spool to an unlinked temporary file in
	 * DIR/tmp while they arrive; smaller ones stay in memory.  0: 1 MiB. */
	size_t spool_threshold;
	/* Largest body accepted; 0: 1 GiB. */
	uint64_t max_body_size;
};

/*
 * Opens (creating when needed) the store in params->dir.  Takes an
 * exclusive lock on DIR/mailsync.lock (an open-file-description lock, so a
 * second open in the same process also fails); when another process holds
 * it, fails with MS_ESTORE "store DIR is in use by pid N".  Creates the
 * schema in a new environment, runs the migration functions of every
 * version step in one transaction for an older one, and refuses a newer
 * one (MS_ESTORE "schema version N is newer than this mailsyncd (M)").
 * On success *store_r is owned by the caller: store_close() it.
 */
int store_open(struct store **store_r, const struct store_params *params,
	       struct ms_err *err_r) MS_WUR;

/* Closes the environment and releases the lock.  NULL-safe; sets *storep
 * to NULL.  No batch, body or writer of this store may outlive it. */
void store_close(struct store **storep);

/* The current map size in bytes (it grows on demand). */
size_t store_map_size(const struct store *s);

/* --- flags --------------------------------------------------------------- */

/* Message flags: IMAP system flags and the common keywords. */
enum {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
	STORE_FLAG_FORWARDED = 1 << 5,	/* $Forwarded (Maildir "P") */
	STORE_FLAG_JUNK = 1 << 6,	/* $Junk */
	STORE_FLAG_NOTJUNK = 1 << 7,	/* $NotJunk */
};

/* --- folders ------------------------------------------------------------- */

/* Folder attribute bits (from LIST / SPECIAL-USE). */
enum {
	STORE_FOLDER_NOSELECT = 1 << 0,
	STORE_FOLDER_INBOX = 1 << 1,
	STORE_FOLDER_SENT = 1 << 2,
	STORE_FOLDER_DRAFTS = 1 << 3,
	STORE_FOLDER_TRASH = 1 << 4,
	STORE_FOLDER_JUNK = 1 << 5,
	STORE_FOLDER_ARCHIVE = 1 << 6,
	STORE_FOLDER_ALL = 1 << 7,
	STORE_FOLDER_FLAGGED = 1 << 8,
	/* Not from the server: a folder a reader created in the mirror,
	 * to be created on the server (CREATE) by the next sync pass.  The
	 * next LIST that shows the folder replaces the attributes, which
	 * clears it. */
	STORE_FOLDER_CREATE = 1 << 9,
	/* Deleted on the server: the records are gone, the folder stays as
	 * a tombstone (name, UIDVALIDITY) so that the mirror removes the
	 * files it wrote there and does not take the directory for a
	 * folder a reader created.  A LIST showing the name again replaces
	 * the attributes. */
	STORE_FOLDER_GONE = 1 << 10,
	/* Not from the server: a LIST that answered OK left the folder
	 * out, and STATUS could not say it does not exist.  A second pass
	 * that does not list it makes it a tombstone; a LIST showing it
	 * replaces the attributes, which clears it. */
	STORE_FOLDER_MISSING = 1 << 11,
	/* Not from the server: a folder its LIST shows as selectable that
	 * refuses SELECT, never selected before (a Gmail-like "[Gmail]"
	 * whose \Noselect the server forgot).  Set with
	 * STORE_FOLDER_NOSELECT (no Maildir, not shown); the sync keeps both
	 * across LISTs, reports the refusal once, tries SELECT each pass and
	 * clears both when it succeeds. */
	STORE_FOLDER_UNSELECTABLE = 1 << 12,
};

/* What the server said about a folder, as last committed. */
struct store_folder_state {
	uint32_t uidvalidity;	/* 0: never selected */
	uint32_t uidnext;	/* every UID below it is in the store */
	uint64_t highestmodseq;	/* 0: no CONDSTORE */
	uint32_t messages;	/* MESSAGES from STATUS/SELECT */
	uint64_t mirror_durable; /* local change sequence known on disk in
				  * the Maildir mirror */
};

/* Which members of a struct store_folder_state an update sets. */
enum {
	STORE_FS_UIDVALIDITY = 1 << 0,
	STORE_FS_UIDNEXT = 1 << 1,
	STORE_FS_HIGHESTMODSEQ = 1 << 2,
	STORE_FS_MESSAGES = 1 << 3,
	STORE_FS_MIRROR_DURABLE = 1 << 4,
	STORE_FS_ALL = 0x1f,
};

struct store_folder {
	uint32_t id;		/* store-wide, never reused */
	char account[STORE_ACCOUNT_MAX + 1];
	/* The name as the server spells it. */
	char name[STORE_FOLDER_NAME_MAX + 1];
	char delimiter;		/* hierarchy delimiter; 0: none */
	uint32_t attrs;		/* STORE_FOLDER_* */
	struct store_folder_state state;
	uint32_t local_count;	/* message records in the store */
};

/*
 * Finds the folder (account, name) or creates it (in its own short write
 * transaction) with the given delimiter and attributes and an empty state.
 * For an existing folder, delimiter and attrs are updated when they
 * differ.  *id_r gets the folder id.  MS_EINVAL for an empty or too long
 * account or name.
 */
int store_folder_ensure(struct store *s, const char *account,
			const char *name, char delimiter, uint32_t attrs,
			uint32_t *id_r, struct ms_err *err_r) MS_WUR;

/* One folder for store_folders_ensure(): what it should be, and its id. */
struct store_folder_want {
	const char *name;
	char delimiter;
	uint32_t attrs;
	uint32_t id;		/* set by store_folders_ensure() */
};

/*
 * store_folder_ensure() for n folders of account in one write transaction
 * (one commit, one wait for the disk).  Safe on any thread: the pass
 * calls it on the libuv threadpool.  All or none.
 */
int store_folders_ensure(struct store *s, const char *account,
			 struct store_folder_want *v, size_t n,
			 struct ms_err *err_r) MS_WUR;

/* Copies the folder record.  MS_OK or STORE_NOTFOUND. */
int store_folder_get(struct store *s, uint32_t folder_id,
		     struct store_folder *folder_r,
		     struct ms_err *err_r) MS_WUR;
int store_folder_find(struct store *s, const char *account, const char *name,
		      struct store_folder *folder_r,
		      struct ms_err *err_r) MS_WUR;

/*
 * Lists the folders of account (NULL: of every account), sorted by
 * account then name.  *folders_r is a malloc'ed array of *n_r records
 * (NULL when there are none): free() it.
 */
int store_folder_list(struct store *s, const char *account,
		      struct store_folder **folders_r, size_t *n_r,
		      struct ms_err *err_r) MS_WUR;

/* --- what the mirror last saw of a folder's Maildir ----------------------- */

/*
 * A cheap fingerprint of what the Maildir mirror depends on: the next
 * local and change sequences (every record or pending change added or
 * changed moves one) and how many pending changes and leftovers there
 * are (a removal lowers one; a record's removal also lowers its folder's
 * local_count).  Equal stamps: no record, pending change or leftover was
 * added, changed or removed in between, except the file names the mirror
 * records (store_batch_msg_mirror()).
 */
struct store_mirror_stamp {
	uint64_t next_local_seq;
	uint64_t next_change_seq;
	uint64_t changes;
	uint64_t leftovers;
};

int store_mirror_stamp_get(struct store *s, struct store_mirror_stamp *stamp_r,
			   struct ms_err *err_r) MS_WUR;

/* A directory's identity and times (struct stat's), as a pass saw it. */
struct store_mirror_sub {
	uint64_t dev, ino;
	int64_t mtime_sec, mtime_nsec;
	int64_t ctime_sec, ctime_nsec;
};

/*
 * What a mirror pass found of one folder's Maildir when it left the
 * folder with nothing to do (mirror_seen.c says when that is safe to
 * use): new/ and cur/ as listed, the stamp and the folder's record then,
 * and the highest local_seq of its records (every file is on disk once
 * the folder's mirror_durable reaches it).  Kept in the meta database
 * under "mirror_dir/" and the folder id; an older mailsyncd ignores it.
 */
struct store_mirror_dir {
	struct store_mirror_sub sub[2];	/* MAILDIR_SUB_NEW, MAILDIR_SUB_CUR */
	struct store_mirror_stamp stamp;
	uint32_t uidvalidity;
	uint32_t attrs;
	uint32_t local_count;
	uint64_t max_local_seq;
};

/* The folder's record: MS_OK or STORE_NOTFOUND (none, or one written by
 * another version). */
int store_mirror_dir_get(struct store *s, uint32_t folder_id,
			 struct store_mirror_dir *dir_r,
			 struct ms_err *err_r) MS_WUR;

/*
 * Sets (dirs[i] != NULL) or removes (NULL) the records of n folders in
 * one write transaction.
 */
int store_mirror_dir_put(struct store *s, const uint32_t *folder_ids,
			 const struct store_mirror_dir *const *dirs, size_t n,
			 struct ms_err *err_r) MS_WUR;

/* --- accounts ------------------------------------------------------------ */

#define STORE_NS_PREFIX_MAX 100	/* bytes of a namespace prefix */

/*
 * The personal namespace prefix the server announced for the account
 * ("INBOX." on Cyrus; "" when none), as the sync pass last learned it.
 * get: MS_OK with it in prefix_r (size bytes with the NUL), or
 * STORE_NOTFOUND when never learned.  set: its own short write
 * transaction, skipped when unchanged.
 */
int store_account_ns_get(struct store *s, const char *account, char *prefix_r,
			 size_t size, struct ms_err *err_r) MS_WUR;
int store_account_ns_set(struct store *s, const char *account,
			 const char *prefix, struct ms_err *err_r) MS_WUR;

/* --- message records ----------------------------------------------------- */

struct store_msg {
	uint32_t folder_id;
	uint32_t uid;
	uint8_t hash[STORE_HASH_LEN];	/* the body's SHA-256 */
	uint32_t flags;			/* STORE_FLAG_*, the local view */
	uint32_t synced_flags;		/* last agreed with the server */
	uint64_t modseq;		/* 0: unknown */
	int64_t internal_date;		/* seconds since the epoch */
	uint64_t size;			/* body bytes */
	uint64_t local_seq;		/* set by the store on every write */
	char mirror_name[STORE_MIRROR_NAME_MAX + 1]; /* "" until exported */
};

/*
 * The local_seq of the last write committed (0: none yet).  A record
 * read later with a local_seq at or below it was committed before this
 * call: what a reader beside the writers uses to know which records it
 * has surely seen.
 */
int store_local_seq_last(struct store *s, uint64_t *seq_r,
			 struct ms_err *err_r) MS_WUR;

/* Copies the record of (folder, uid).  MS_OK or STORE_NOTFOUND. */
int store_msg_get(struct store *s, uint32_t folder_id, uint32_t uid,
		  struct store_msg *msg_r, struct ms_err *err_r) MS_WUR;

/*
 * Iterates one folder's records in UID order, from uid_from upwards.
 * The iterator reads chunks of records in short read transactions and
 * holds none between calls, so it may live across loop callbacks and
 * commits; records committed meanwhile above the last returned UID are
 * seen.  It is owned by the caller: store_msg_iter_free() it.
 */
struct store_msg_iter;
int store_msg_iter_new(struct store *s, uint32_t folder_id, uint32_t uid_from,
		       struct store_msg_iter **it_r) MS_WUR;
/* MS_OK with the next record in *msg_r, STORE_NOTFOUND at the end. */
int store_msg_iter_next(struct store_msg_iter *it, struct store_msg *msg_r,
			struct ms_err *err_r) MS_WUR;
void store_msg_iter_free(struct store_msg_iter **itp);

/* A message record's place: (folder, uid). */
struct store_msg_ref {
	uint32_t folder_id;
	uint32_t uid;
};

/*
 * Every message record holding the body with this hash, in (folder, uid)
 * order.  *refs_r is malloc'ed (NULL when none): free() it.
 */
int store_find_by_hash(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		       struct store_msg_ref **refs_r, size_t *n_r,
		       struct ms_err *err_r) MS_WUR;

/*
 * Hashes of every stored body whose Message-ID (without angle brackets)
 * is msgid.  *hashes_r is a malloc'ed array of *n_r hashes: free() it.
 */
int store_find_by_msgid(struct store *s, const char *msgid,
			uint8_t (**hashes_r)[STORE_HASH_LEN], size_t *n_r,
			struct ms_err *err_r) MS_WUR;

/* --- leftovers: Maildir files of removed records ---------------------------- */

/*
 * A record that store_batch_msg_expunge() removes while it has a Maildir
 * file name (mirror_name: the mirror wrote its file) leaves a leftover:
 * (folder, the name's unique part, up to the first ',', ':' or '!') ->
 * its body hash, holding a reference on the body.  So the mirror knows a
 * file of its own whose record is gone (the server expunged it) from a
 * file a reader put there under such a name (a backup restored), and the
 * bytes of the file it removes are in the store until it has removed it.
 * The mirror's export clears the leftover once the file is gone (or is not
 * that body); store_batch_folder_delete() drops a folder's leftovers.
 * An account whose mirror is no longer exported keeps them (and their
 * bodies) until it is again.
 */
struct store_leftover {
	char part[STORE_MIRROR_NAME_MAX + 1];	/* the unique part */
	uint8_t hash[STORE_HASH_LEN];
};

/*
 * The folder's leftovers, ordered by part as memcmp orders bytes (a
 * shorter prefix first).  *v_r is malloc'ed (NULL when none): free() it.
 */
int store_leftover_list(struct store *s, uint32_t folder_id,
			struct store_leftover **v_r, size_t *n_r,
			struct ms_err *err_r) MS_WUR;

/* --- bodies -------------------------------------------------------------- */

/*
 * A body being received.  Bytes are hashed as they arrive and the header
 * is summarised on the way; bodies above the spool threshold (or announced
 * above it with size_hint) go to an unlinked temporary file in DIR/tmp,
 * so a body is never held twice in memory.  Those writes are the one
 * disk write on the caller's thread (the loop, for a fetch): a pwrite()
 * of each chunk as it arrives, for bodies over 1 MiB only.
 */
int store_body_writer_new(struct store *s, uint64_t size_hint,
			  struct store_body_writer **w_r,
			  struct ms_err *err_r) MS_WUR;
/* Appends bytes.  MS_ETOOBIG past max_body_size, MS_EIO on a spool error. */
int store_body_writer_write(struct store_body_writer *w, const void *p,
			    size_t len, struct ms_err *err_r) MS_WUR;
/*
 * Finishes the body: *wp is consumed (set to NULL) whatever the result,
 * and on success *body_r is a finished body owned by the caller until it
 * is handed to a batch (or store_body_free()'d).
 */
int store_body_writer_finish(struct store_body_writer **wp,
			     struct store_body **body_r,
			     struct ms_err *err_r) MS_WUR;
/* Abandons a body being received.  NULL-safe. */
void store_body_writer_free(struct store_body_writer **wp);

void store_body_hash(const struct store_body *b,
		     uint8_t hash_r[STORE_HASH_LEN]);
uint64_t store_body_size(const struct store_body *b);
void store_body_free(struct store_body **bp);

/*
 * Copies up to len bytes of the body with this hash, from offset, into
 * dst; *n_r gets the count (0 at or past the end).  MS_OK or
 * STORE_NOTFOUND.  Each call is one short read transaction, so a large
 * body can be streamed out in pieces without holding it in memory.
 */
int store_body_read(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		    uint64_t offset, void *dst, size_t len, size_t *n_r,
		    struct ms_err *err_r) MS_WUR;
/* The size of the stored body with this hash.  MS_OK or STORE_NOTFOUND. */
int store_body_size_get(struct store *s, const uint8_t hash[STORE_HASH_LEN],
			uint64_t *size_r, struct ms_err *err_r) MS_WUR;
/* The whole body appended to out (bounded by out's limit).  MS_OK,
 * STORE_NOTFOUND or MS_ETOOBIG. */
int store_body_read_all(struct store *s, const uint8_t hash[STORE_HASH_LEN],
			struct ms_buf *out, struct ms_err *err_r) MS_WUR;

/*
 * Bodies handed over (store_handed.c): each commit keeps the bytes of the
 * bodies it stored, the oldest going first, at most cap bytes of bodies in
 * memory and spool_cap bytes of large ones in their spool files (0: none
 * of the kind), so the mirror's export that follows writes them without
 * reading them back.  Any thread.
 */
void store_handed_enable(struct store *s, size_t cap, uint64_t spool_cap);
/* A body taken: its bytes in memory (mem), or in a file (fd, -1 if not),
 * size bytes; the taker's, freed with store_handed_body_free(). */
struct store_handed_body {
	uint8_t *mem;
	int fd;
	uint64_t size;
};
/* The kept body with this hash, taken into *out.  MS_OK, or
 * STORE_NOTFOUND (then read it from the store). */
int store_handed_take(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		      struct store_handed_body *out) MS_WUR;
/* Up to len bytes of b from off: *p_r points at them (into the body in
 * memory, or dst, where a file's are read), *n_r counts them (0 at the
 * end). */
int store_handed_body_read(const struct store_handed_body *b, uint64_t off,
			   void *dst, size_t len, const uint8_t **p_r,
			   size_t *n_r, struct ms_err *err_r) MS_WUR;
void store_handed_body_free(struct store_handed_body *b);
/* Frees every body kept (the export after a pass is over). */
void store_handed_drop(struct store *s);
struct store_handed_stats {
	uint64_t n_kept;	/* bodies kept by commits */
	uint64_t n_taken;	/* taken by an export */
	uint64_t n_dropped;	/* pushed out or dropped */
	size_t n_held;		/* held now */
	uint64_t bytes_held;	/* in memory */
	uint64_t spool_bytes_held;	/* in spool files */
};
void store_handed_stats(struct store *s, struct store_handed_stats *st_r);

/* --- summaries ----------------------------------------------------------- */

/* Decoded header summary of a body; strings are malloc'ed, NUL-terminated
 * UTF-8 ("" when absent), freed by store_summary_deinit(). */
struct store_summary {
	int64_t date;		/* epoch seconds; 0 with !has_date */
	bool has_date;
	char *from;
	char *to;
	char *subject;
	char *message_id;	/* without angle brackets */
};

/* MS_OK or STORE_NOTFOUND.  On MS_OK deinit the summary. */
int store_summary_get(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		      struct store_summary *sum_r,
		      struct ms_err *err_r) MS_WUR;
void store_summary_deinit(struct store_summary *sum);

/* --- pending local changes ----------------------------------------------- */

enum store_change_kind {
	STORE_CHANGE_FLAGS = 1,	/* add flags_add, remove flags_remove */
	STORE_CHANGE_DELETE = 2,	/* delete (folder, uid) on the server */
	STORE_CHANGE_APPEND = 3,	/* append body hash to folder */
	STORE_CHANGE_MOVE = 4,		/* to dest_folder_id */
};

struct store_change {
	uint64_t seq;		/* assigned at commit, increasing */
	enum store_change_kind kind;
	uint32_t folder_id;
	/* APPEND: 0 for a local message; a message parked by a
	 * UIDVALIDITY change keeps its old UID here, and goes out only
	 * after a fetch of the folder without gaps */
	uint32_t uid;
	uint32_t flags_add;
	uint32_t flags_remove;
	uint32_t dest_folder_id;	/* MOVE */
	uint8_t hash[STORE_HASH_LEN];	/* APPEND: the body (a ref) */
	int64_t internal_date;		/* APPEND */
};

/*
 * Pending changes with seq > after_seq, oldest first, at most max of them.
 * *changes_r is malloc'ed (NULL when none): free() it.
 */
int store_change_list(struct store *s, uint64_t after_seq, size_t max,
		      struct store_change **changes_r, size_t *n_r,
		      struct ms_err *err_r) MS_WUR;

/*
 * The pending changes of one folder (a MOVE is its source's), oldest
 * first, at most max of them; *changes_r as above.
 */
int store_change_list_folder(struct store *s, uint32_t folder_id, size_t max,
			     struct store_change **changes_r, size_t *n_r,
			     struct ms_err *err_r) MS_WUR;

/* --- refusals ------------------------------------------------------------- */

/*
 * A pending APPEND the engine holds back, next to its change (keyed by
 * its sequence): not sent again until the user asks (the refusals are
 * cleared) or the file changes (a new file is a new change).  A restart
 * does not retry it either.  Clearing the change clears its refusal in
 * the same transaction.
 */
enum store_refusal_kind {
	STORE_REFUSAL_REFUSED = 1,	/* the server answered NO */
	/* Not sent: this server cannot take it (NUL bytes, no BINARY);
	 * sent once the server offers BINARY */
	STORE_REFUSAL_UNSENDABLE = 2,
	/* Appended in a form the server may alter (NUL bytes, sent with
	 * BINARY): the server's copy comes with a fetch; the change stays
	 * so that its file is not taken for a new message, and is never
	 * sent again nor retried */
	STORE_REFUSAL_ALTERED = 3,
};

#define STORE_REFUSAL_TEXT_MAX 300	/* bytes of text kept */

/* What an ALTERED APPEND sent, so that later passes find its copy
 * without reading and hashing the body again. */
enum store_sent_form {
	STORE_SENT_UNKNOWN = 0,	/* not recorded (a refusal of before) */
	STORE_SENT_BODY = 1,	/* the body as it is */
	STORE_SENT_CRLF = 2,	/* bare LF sent as CRLF: sent_hash */
};

struct store_refusal {
	uint64_t seq;			/* the pending change */
	uint32_t folder_id;
	enum store_refusal_kind kind;
	int64_t when;			/* Unix time it was recorded */
	/* The text is cut to STORE_REFUSAL_TEXT_MAX - 34 bytes when a
	 * sent form is recorded. */
	char text[STORE_REFUSAL_TEXT_MAX + 1];	/* the server's, or why */
	enum store_sent_form sent_form;
	uint8_t sent_hash[STORE_HASH_LEN];	/* STORE_SENT_CRLF */
};

/*
 * The refusals of folder_id (0: of every folder), in change order.
 * *v_r is malloc'ed (NULL when none): free() it.
 */
int store_refusal_list(struct store *s, uint32_t folder_id,
		       struct store_refusal **v_r, size_t *n_r,
		       struct ms_err *err_r) MS_WUR;

/* --- POP3 ---------------------------------------------------------------- */

/*
 * A message downloaded from a POP3 server, keyed by its UIDL (or, for a
 * server without UIDL, the POP3 engine's own key: see sync/pop3_plan.h).
 * It holds a reference on the body, so that a message the reader deleted
 * locally is not downloaded again while the server still has it.
 */
struct store_pop3 {
	uint8_t hash[STORE_HASH_LEN];
	int64_t fetched;	/* when the message was first stored */
	/* A deletion is owed: the server is to delete it (DELE is sent
	 * again each pass until the server lists it no more). */
	bool is_deleted;
};

/* MS_OK or STORE_NOTFOUND. */
int store_pop3_get(struct store *s, const char *account, const char *uidl,
		   struct store_pop3 *rec_r, struct ms_err *err_r) MS_WUR;

struct store_pop3_entry {
	const char *uidl;	/* NUL-terminated, in the same allocation */
	struct store_pop3 rec;
};

/* Every POP3 record of account, ordered by UIDL as memcmp orders bytes.
 * *v_r is one malloc'ed block, the entries then their UIDLs (NULL when
 * none): free() it.  The map pages the walk reads are released as it
 * goes (each is read once), so that a large maildrop's records do not
 * stay mapped. */
int store_pop3_list(struct store *s, const char *account,
		    struct store_pop3_entry **v_r, size_t *n_r,
		    struct ms_err *err_r) MS_WUR;

/* --- outbox -------------------------------------------------------------- */

enum store_outbox_state {
	STORE_OUTBOX_QUEUED = 1,	/* waiting for (another) attempt */
	STORE_OUTBOX_FAILED = 2,	/* permanent rejection; the user acts */
	/* An attempt reached the end of DATA: the final "." may have left
	 * and the server's verdict is not recorded.  Found at start, this
	 * is the one window where the message was possibly sent. */
	STORE_OUTBOX_SENDING = 3,
	STORE_OUTBOX_SENT = 4,		/* every recipient delivered */
};

/* flags */
enum {
	/* A connection was lost (or the daemon stopped) after the final
	 * "." and before the reply: the server may have the message. */
	STORE_OUTBOX_POSSIBLY_SENT = 1u << 0,
	/* Delivered to a recipient; the Sent copy is not filed yet. */
	STORE_OUTBOX_SENT_PENDING = 1u << 1,
	/* The Sent copy is filed (or not wanted). */
	STORE_OUTBOX_SENT_FILED = 1u << 2,
};

#define STORE_OUTBOX_STR_MAX 4096	/* account, from, last error, ... */
#define STORE_OUTBOX_RCPTS_MAX (64 * 1024)

/*
 * A queued outgoing message.  The strings are malloc'ed and owned by the
 * record when it comes from store_outbox_list() (free with
 * store_outbox_deinit()); when passed to a batch they are copied.  NULL
 * strings are stored as "".
 */
struct store_outbox {
	uint64_t id;
	enum store_outbox_state state;
	uint32_t attempts;
	int64_t created;
	int64_t next_attempt;		/* not before this time */
	uint8_t hash[STORE_HASH_LEN];	/* the message (holds a ref) */
	char *account;
	char *from;			/* envelope sender */
	char *rcpts;			/* recipients still to deliver, "\n"-separated */
	char *last_error;		/* the server's last reply, or "" */
	/* Added after schema 4's first outbox (a record without them reads
	 * as flags 0 and empty strings). */
	uint32_t flags;			/* STORE_OUTBOX_* bits */
	char *delivered;		/* recipients accepted, "\n"-separated */
	char *rejected;			/* "rcpt\treply\n" per refused one */
	char *spool;			/* the spool file it came from */
	char *message_id;		/* of the message, "<...>", or "" */
};

/* Every outbox entry, oldest first.  *entries_r is malloc'ed (NULL when
 * none): store_outbox_deinit() each entry, then free() the array. */
int store_outbox_list(struct store *s, struct store_outbox **entries_r,
		      size_t *n_r, struct ms_err *err_r) MS_WUR;
void store_outbox_deinit(struct store_outbox *e);

/* --- batches ------------------------------------------------------------- */

/*
 * A batch collects operations in memory and writes them all in one write
 * transaction at store_batch_commit().  Operations apply in the order
 * they were added.  Nothing is visible, and nothing is durable, before
 * the commit returned MS_OK.  Add a folder's UIDNEXT/HIGHESTMODSEQ to the
 * same batch as the messages below it, so the watermark is never ahead of
 * the messages on disk.
 *
 * Adding an operation only copies its arguments (MS_ENOMEM, MS_EINVAL);
 * store errors appear at commit.
 */
int store_batch_new(struct store *s, struct store_batch **b_r) MS_WUR;
/* Frees the batch and everything it owns (bodies included).  NULL-safe. */
void store_batch_free(struct store_batch **bp);

/*
 * Stores a message record for (msg->folder_id, msg->uid), replacing an
 * existing one (its old body loses a reference).  body (consumed, even on
 * error) is the finished body; its hash and size override msg's.  With
 * body NULL, msg->hash must name a body already in the store or added
 * earlier in the batch (re-matching after a UIDVALIDITY change); the
 * commit fails with MS_EINVAL otherwise.  msg->local_seq is ignored.
 */
int store_batch_msg_add(struct store_batch *b, const struct store_msg *msg,
			struct store_body *body) MS_WUR;
/* Sets flags, synced flags and modseq of an existing record (skipped
 * when the record does not exist: the server may report flags of a
 * message expunged locally). */
int store_batch_msg_flags(struct store_batch *b, uint32_t folder_id,
			  uint32_t uid, uint32_t flags, uint32_t synced_flags,
			  uint64_t modseq) MS_WUR;
/* Records the Maildir file name of an existing record (skipped when
 * absent). */
int store_batch_msg_mirror(struct store_batch *b, uint32_t folder_id,
			   uint32_t uid, const char *mirror_name) MS_WUR;
/* Removes every record with uid_lo <= uid <= uid_hi (a VANISHED range);
 * UIDs without a record are ignored.  A record with a mirror_name leaves
 * a leftover (see above) that takes over its body reference. */
int store_batch_msg_expunge(struct store_batch *b, uint32_t folder_id,
			    uint32_t uid_lo, uint32_t uid_hi) MS_WUR;
/* Sets the members of state named by mask (STORE_FS_*).  The commit fails
 * with MS_EINVAL for an unknown folder. */
int store_batch_folder_state(struct store_batch *b, uint32_t folder_id,
			     const struct store_folder_state *state,
			     unsigned mask) MS_WUR;
/* Removes the folder, its name and all its records. */
int store_batch_folder_delete(struct store_batch *b,
			      uint32_t folder_id) MS_WUR;
/* Records a pending change (c->seq is assigned at commit; an APPEND takes
 * a reference on c->hash, which must be in the store or added earlier in
 * the batch with a body: pass that body here or NULL). */
int store_batch_change_add(struct store_batch *b,
			   const struct store_change *c,
			   struct store_body *body) MS_WUR;
/*
 * Local changes (store_local.c): what the user did, recorded as one
 * operation each whoever saw it (the mirror's scan, the control socket),
 * as pending changes the engine pushes.
 *   flags:  the record m takes flags at once (its synced flags stay, for
 *           the three-way merge) and a pending FLAGS change holds the
 *           difference; 1 when recorded, 0 when flags equal m's.
 *   delete: the message is to be expunged on the server.
 *   move:   to dest_folder_id.
 *   append: body (consumed as by store_batch_change_add) is a new
 *           message of folder_id, with its internal date and the flags
 *           it is to have on the server (sent with the APPEND).
 * Errors as store_batch_change_add's.
 */
int store_batch_local_flags(struct store_batch *b, const struct store_msg *m,
			    uint32_t flags) MS_WUR;
int store_batch_local_delete(struct store_batch *b, uint32_t folder_id,
			     uint32_t uid) MS_WUR;
int store_batch_local_move(struct store_batch *b, uint32_t folder_id,
			   uint32_t uid, uint32_t dest_folder_id) MS_WUR;
int store_batch_local_append(struct store_batch *b, uint32_t folder_id,
			     struct store_body *body, int64_t internal_date,
			     uint32_t flags) MS_WUR;
/* Clears the pending change seq (no-op when absent), and its refusal. */
int store_batch_change_clear(struct store_batch *b, uint64_t seq) MS_WUR;
/* Records (or replaces) the refusal of pending change r->seq; skipped
 * when the change is no longer pending at commit.  The text is cut at
 * STORE_REFUSAL_TEXT_MAX bytes. */
int store_batch_refusal_put(struct store_batch *b,
			    const struct store_refusal *r) MS_WUR;
/* Forgets the refusals of folder_id (0: of every folder), so that their
 * APPENDs are tried again; ALTERED ones stay (their copy is on the
 * server).  For the user's request to retry (the control socket's
 * sync). */
int store_batch_refusals_clear(struct store_batch *b,
			       uint32_t folder_id) MS_WUR;
/* Clears the leftover (folder_id, part), dropping its body reference
 * (no-op when absent).  MS_EINVAL for an empty or too long part. */
int store_batch_leftover_clear(struct store_batch *b, uint32_t folder_id,
			       const char *part) MS_WUR;
/* Stores or replaces a POP3 record; body as for store_batch_msg_add. */
int store_batch_pop3_put(struct store_batch *b, const char *account,
			 const char *uidl, const struct store_pop3 *rec,
			 struct store_body *body) MS_WUR;
/* Removes a POP3 record (no-op when absent). */
int store_batch_pop3_delete(struct store_batch *b, const char *account,
			    const char *uidl) MS_WUR;
/*
 * Queues a message: e's id is ignored, a new one is assigned now and
 * returned in *id_r (ids increase; one from a failed commit is not
 * reused).  body as for store_batch_msg_add.  MS_EINVAL for strings over
 * their limits.
 */
int store_batch_outbox_add(struct store_batch *b, const struct store_outbox *e,
			   struct store_body *body, uint64_t *id_r) MS_WUR;
/* Records an attempt's outcome on entry id (skipped when absent). */
int store_batch_outbox_update(struct store_batch *b, uint64_t id,
			      enum store_outbox_state state, uint32_t attempts,
			      int64_t next_attempt,
			      const char *last_error) MS_WUR;
/*
 * Rewrites entry id with e (every field but id, hash and created; e->hash
 * must be the entry's, or the commit fails with MS_EINVAL); skipped when
 * absent.  MS_EINVAL for strings over their limits.
 */
int store_batch_outbox_set(struct store_batch *b,
			   const struct store_outbox *e) MS_WUR;
/* Removes entry id (delivered, or dropped by the user); no-op when
 * absent. */
int store_batch_outbox_delete(struct store_batch *b, uint64_t id) MS_WUR;

/*
 * Operations queued, and bytes of the batch's bodies below the spool
 * threshold: those the batch holds in memory (larger ones wait in spool
 * files in DIR/tmp).  Its commit copies every new body into LMDB's dirty
 * pages in memory until the transaction is written.  So the memory is
 * whatever the caller lets the batch hold: commit when either passes the
 * budget (say 500 operations or 4 MiB), and memory stays bounded whatever
 * the mailbox.
 */
size_t store_batch_count(const struct store_batch *b);
size_t store_batch_mem(const struct store_batch *b);
/*
 * Bytes of all the batch's bodies, large ones (above the spool threshold)
 * included: the memory its commit takes for them.  A budget on this one
 * also keeps several large bodies out of one commit.
 */
size_t store_batch_commit_mem(const struct store_batch *b);

/*
 * Writes every operation in one write transaction and commits it
 * durably: its data pages synced, then its meta page (two device
 * flushes).  On MS_OK the batch is empty and may be reused.  On an error
 * nothing was written and the batch is unchanged: the caller may retry
 * it or free it.  MDB_MAP_FULL grows the map and retries.  A commit that
 * could not be synced after LMDB committed it (MS_EIO) refuses every
 * later write of this store: nothing is built on what the disk may not
 * keep.
 */
int store_batch_commit(struct store_batch *b, struct ms_err *err_r) MS_WUR;
/*
 * The same, for what may be lost to a system crash (never half of it:
 * the commit stays atomic): what a later commit would write again, such
 * as the mirror's names for files it finds by their ids.  The meta page
 * goes without its own sync (the environment's MDB_NOMETASYNC; LMDB 0.9
 * ignores the flag on a transaction): one device flush instead of two,
 * and the next durable commit (or closing the store) makes this one
 * durable.
 */
int store_batch_commit_lazy(struct store_batch *b, struct ms_err *err_r) MS_WUR;

/* --- consistency --------------------------------------------------------- */

enum {
	STORE_CHECK_HASHES = 1 << 0,	/* also re-hash every body */
};

/*
 * Verifies the invariants: every message record's folder exists and its
 * body, body_info and summary exist; every refcount equals the references
 * (messages, pending APPENDs, POP3 records, outbox entries); no body,
 * body_info or summary is orphaned; every refusal names a pending APPEND;
 * body_refs mirrors the message records; folder local counts are right;
 * with STORE_CHECK_HASHES every body hashes to its key.
 * Returns MS_OK, or MS_ESTORE naming the first violation found.
 */
int store_check(struct store *s, unsigned flags, struct ms_err *err_r) MS_WUR;

/* --- testing ------------------------------------------------------------- */

/*
 * Deliberate damage, for tests of store_check(), migrations and schema
 * refusal only.  hash is used by the body faults.
 */
enum store_testing_fault {
	STORE_TESTING_DROP_BODY,	/* delete the bytes of hash */
	STORE_TESTING_BUMP_REFCOUNT,	/* refcount of hash + 1 */
	STORE_TESTING_ORPHAN_BODY,	/* add an unreferenced body */
	STORE_TESTING_SCHEMA_V1,	/* turn into a version 1 store */
	STORE_TESTING_SCHEMA_FUTURE,	/* claim schema version 9999 */
};
int store_testing_fault(struct store *s, enum store_testing_fault fault,
			const uint8_t hash[STORE_HASH_LEN],
			struct ms_err *err_r) MS_WUR;

#endif
