/*
 * mirror_int.h - shared by the mirror's export, scan and check: the
 * account's folders and pending changes, and one folder's listing with
 * its table from unique part to file.
 */
#ifndef MS_MIRROR_INT_H
#define MS_MIRROR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maildir/maildir_hash.h"
#include "maildir/maildir_name.h"
#include "maildir/maildir_scan.h"
#include "maildir/maildir_write.h"
#include "mirror/mirror.h"
#include "store/store.h"

/* Pending changes are read in chunks of this many (a few hundred bytes
 * each). */
#define MIRROR_CHANGES_CHUNK 1024

/* A message arriving in a folder through a pending APPEND or MOVE. */
struct mirror_incoming {
	uint32_t folder_id;
	uint8_t hash[STORE_HASH_LEN];
};

/*
 * How a scan on a pool thread (mirror_scan_job.h) makes its store writes
 * (a batch commit, a folder made) and learns that it is to stop.  Its
 * writes run on that thread, where their fsyncs hold no loop; the store's
 * write lock keeps them from meeting another thread's.
 */
typedef int (*mirror_write_fn)(struct store *s, void *arg,
			       struct ms_err *err_r);
struct mirror_writer {
	/* Runs fn(s, arg) and returns its result; MS_ECANCELED (fn not
	 * run) once the scan is to stop. */
	int (*run)(void *ctx, mirror_write_fn fn, void *arg,
		   struct ms_err *err_r);
	/* Has the scan been asked to stop? */
	bool (*is_canceled)(void *ctx);
	void *ctx;
	/* A batch commits when it holds this many operations or bytes. */
	size_t batch_ops;
	size_t batch_mem;
};

/* The account and the pending changes that concern the mirror. */
struct mirror_ctx {
	struct store *s;
	const struct mirror_params *p;
	struct store_folder *folders;	/* the account's, from the store */
	size_t nfolders;
	uint64_t *src;		/* folder << 32 | uid of pending DELETE and
				 * MOVE sources, sorted */
	size_t nsrc;
	struct mirror_incoming *in;	/* pending APPEND and MOVE targets */
	size_t nin;
	/* Maildir path of folders[i] for i < npaths (NULL: no Maildir),
	 * one folder per path (mirror__folder_path()). */
	char **paths;
	size_t npaths;
	bool is_fresh;		/* no marker: nothing missing is a deletion */
	struct maildir_namegen gen;
	/* The scan's writes; NULL: on the caller's thread (export, check
	 * and a scan run directly). */
	const struct mirror_writer *w;
	/* The store's stamp when the pass began, and the folders it left
	 * with nothing to do, to record (mirror_seen.c). */
	struct store_mirror_stamp stamp;
	struct mirror_seen_rec *seen;
	size_t nseen, seen_cap;
};

int mirror__ctx_init(struct mirror_ctx *c, struct store *s,
		     const struct mirror_params *p, struct ms_err *err_r) MS_WUR;
void mirror__ctx_deinit(struct mirror_ctx *c);
bool mirror__is_pending_src(const struct mirror_ctx *c, uint32_t folder_id,
			    uint32_t uid);
bool mirror__is_incoming(const struct mirror_ctx *c, uint32_t folder_id,
			 const uint8_t hash[STORE_HASH_LEN]);
/* The same for a file, known by either of its hashes. */
bool mirror__is_incoming_file(const struct mirror_ctx *c, uint32_t folder_id,
			      const struct maildir_fhash *fh);

/*
 * The folder's Maildir path (malloc'ed) into *path_r, or NULL for a folder
 * the mirror does not hold (\Noselect, a name outside the namespace, or
 * a folder whose Maildir would be another's: see mirror.h; both reported).
 * f is one of c->folders.  MS_OK or MS_ENOMEM.
 */
int mirror__folder_path(struct mirror_ctx *c, const struct store_folder *f,
			char **path_r, struct ms_err *err_r) MS_WUR;

/* The mapping's parameters (maildir_path.h) for folders with delimiter
 * delim: the one place the mirror's settings become them. */
struct maildir_path_ns mirror__path_ns(const struct mirror_params *p,
				       char delim);

/*
 * The Maildirs of the tree that no store folder holds (*paths: the
 * folders' Maildir paths as from mirror__folder_path(), c->nfolders of
 * them; cb may grow the array).  One that can be a server folder (see
 * mirror.h) and that the folders = patterns (c->p->folders) want is passed
 * to cb with its server name and delimiter; cb's non-MS_OK result stops
 * the walk.  Any other is reported (once per report) and left alone.
 */
typedef int (*mirror_new_folder_cb)(struct mirror_ctx *c, const char *abs,
				    const char *name, char delim, void *arg,
				    struct ms_err *err_r);
int mirror__tree_new(struct mirror_ctx *c, char **const *paths,
		     mirror_new_folder_cb cb, void *arg,
		     struct ms_err *err_r) MS_WUR;

/*
 * A folder's leftovers (store.h: the files of records removed while they
 * had one), each marked once its file is dealt with.
 */
struct mirror_left {
	struct store_leftover *v;
	bool *is_done;
	size_t n;
};

int mirror__left_load(struct mirror_ctx *c, uint32_t folder_id,
		      struct mirror_left *l, struct ms_err *err_r) MS_WUR;
void mirror__left_free(struct mirror_left *l);
/* The leftover whose part is key[0..len), or SIZE_MAX. */
size_t mirror__left_find(const struct mirror_left *l, const char *key,
			 size_t len);

/* One folder's listing. */
struct mirror_dir {
	struct maildir_dir d;
	bool is_open;
	/* new/ and cur/ just before they were listed; is_seen: taken
	 * early enough to tell a later change (mirror__seen_take()). */
	struct store_mirror_dir seen;
	bool is_seen;
	bool is_recent;		/* not is_seen only for being too recent */
	size_t nlisted;		/* entries the listing read */
	struct maildir_list l;
	uint8_t *ulen;		/* length of each entry's unique part */
	bool *claimed;		/* entry belongs to a record */
	uint32_t *slots;	/* entry index + 1, open addressing */
	size_t nslots;
};

/*
 * Opens and lists the Maildir at path, inside root (the account's mirror
 * root).  Without create, a folder lacking cur/ or new/ is not opened and
 * *exists_r is false (MS_OK).  Below root nothing is followed: a folder
 * reached through a symbolic link, or with a file or FIFO in its path,
 * goes to rep and is not opened either (*exists_r false, MS_OK), with
 * create too.
 */
int mirror__dir_open(struct mirror_dir *md, const char *root, const char *path,
		     bool create, struct maildir_report *rep, bool *exists_r,
		     struct ms_err *err_r) MS_WUR;
/*
 * The same, with room for expect files made before the listing (the
 * folder's records: at 100,000 files the doubling growth of the listing
 * held up to twice what it used at its peak).
 */
int mirror__dir_open_sized(struct mirror_dir *md, const char *root,
			   const char *path, bool create,
			   struct maildir_report *rep, size_t expect,
			   bool *exists_r, struct ms_err *err_r) MS_WUR;
/*
 * Opens the Maildir at path (made when it is gone) without listing it:
 * no entry is found in it.  A link or a file in its path: *exists_r
 * false, MS_OK, as mirror__dir_open().
 */
int mirror__dir_open_unlisted(struct mirror_dir *md, const char *root,
			      const char *path, bool *exists_r,
			      struct ms_err *err_r) MS_WUR;
void mirror__dir_close(struct mirror_dir *md);
/*
 * Skipping a Maildir nothing changed in (mirror_seen.c).  A pass that
 * lists a folder and leaves it with nothing to do (every file the file of
 * a record, under the name recorded, every record's file there, no
 * leftover) records what new/ and cur/ looked like just before the
 * listing; a later pass leaves the folder alone, unlisted, while they
 * still look so and the store holds what it held then.
 */
struct mirror_seen_rec {
	uint32_t folder_id;
	bool is_clean;			/* false: remove its record */
	struct store_mirror_dir d;
};

/* Takes md's new/ and cur/ times; between opening and listing. */
void mirror__seen_take(struct mirror_dir *md);
/*
 * May folder f (one of c->folders, Maildir at path) be left alone,
 * unlisted: has neither the store nor its Maildir changed since a pass
 * recorded it, and are its files on disk?  Any doubt is false.
 */
bool mirror__seen_is_unchanged(struct mirror_ctx *c,
			       const struct store_folder *f, const char *path);
/*
 * Folder f was listed in md: with is_clean (the pass had nothing to do
 * there, its records' local_seq at most max_local_seq), its record is
 * written at mirror__seen_commit() when md's times allow; otherwise its
 * record, if any, is removed.  MS_OK or MS_ENOMEM.
 */
int mirror__seen_add(struct mirror_ctx *c, const struct store_folder *f,
		     const struct mirror_dir *md, bool is_clean,
		     uint64_t max_local_seq, struct ms_err *err_r) MS_WUR;
/*
 * Writes what mirror__seen_add() collected, with the store's stamp from
 * mirror__ctx_init(), through c->w when set.
 */
int mirror__seen_commit(struct mirror_ctx *c, struct ms_err *err_r) MS_WUR;

/* The first entry whose unique part is key[0..len), or SIZE_MAX. */
size_t mirror__dir_find(const struct mirror_dir *md, const char *key,
			size_t len);
/* The first entry of key not yet claimed, or SIZE_MAX. */
size_t mirror__dir_find_unclaimed(const struct mirror_dir *md,
				  const char *key, size_t len);
/* The first entry of key a record claimed, or SIZE_MAX. */
size_t mirror__dir_find_claimed(const struct mirror_dir *md, const char *key,
				size_t len);
static inline const char *
mirror__dir_name(const struct mirror_dir *md, size_t i)
{
	return maildir_list_name(&md->l, i);
}
static inline int
mirror__dir_subfd(const struct mirror_dir *md, size_t i)
{
	return md->d.sub_fd[md->l.v[i].sub];
}

/* "<uidvalidity>-<uid>-<hash8>" into out (at least MIRROR_ID_MAX). */
#define MIRROR_ID_MAX 40
void mirror__id(uint32_t uidvalidity, const struct store_msg *m, char *out);
/*
 * The key a record's file is found by: the unique part of its recorded
 * name, else its id.  Points into m or out; *len_r its length.
 */
const char *mirror__key(uint32_t uidvalidity, const struct store_msg *m,
			char *out, size_t *len_r);
/* The letters of the record's recorded name; false when it has none. */
bool mirror__recorded_flags(const struct store_msg *m,
			    maildir_flags_t *flags_r);
/*
 * Is name[0..len), an id of (uv, uid) with uv the UIDVALIDITY of folder
 * f, the file of a record of another folder of the account with the same
 * UIDVALIDITY (servers give folders made in the same second the same
 * one)?  Then a reader moved or copied it into f, and it is no record of
 * f expunged on the server.  1 yes, 0 no, or a negative MS_E*.
 */
int mirror__is_foreign_id(struct mirror_ctx *c, const struct store_folder *f,
			  uint32_t uv, uint32_t uid, const char *name,
			  size_t len, struct ms_err *err_r) MS_WUR;
/*
 * May name, size bytes, be record m's whole file?  A file export wrote
 * (the record's id) has the size its S= says (with LF line ends it is
 * not the body's), or, without S=, the body's; a reader's file the
 * record adopted says nothing (true): it is never written again.
 */
bool mirror__size_ok(uint32_t uidvalidity, const struct store_msg *m,
		     const char *name, uint64_t size);
/* Parses an id; false for any other unique part. */
bool mirror__id_parse(const char *p, size_t len, uint32_t *uidvalidity_r,
		      uint32_t *uid_r);

/*
 * The name a record's file should have, in sub *sub_r: the record's
 * letters plus other_letters (keywords kept from the current name).
 */
int mirror__name(uint32_t uidvalidity, const struct store_msg *m,
		 maildir_flags_t other_letters, char *out, size_t outsz,
		 enum maildir_sub *sub_r) MS_WUR;

/*
 * Arrays sorted by a hash held in each element's first STORE_HASH_LEN
 * bytes: mirror__hash_cmp() orders them, mirror__hash_find() gives the
 * index of the first element equal to hash for which is_done() is false,
 * or SIZE_MAX.
 */
int mirror__hash_cmp(const void *a, const void *b);
size_t mirror__hash_find(const void *v, size_t n, size_t size,
			 const uint8_t hash[STORE_HASH_LEN],
			 bool (*is_done)(const void *elem));
/* mirror__hash_find() of a file: its CRLF form's hash, else its raw. */
size_t mirror__fhash_find(const void *v, size_t n, size_t size,
			  const struct maildir_fhash *fh,
			  bool (*is_done)(const void *elem));

/*
 * A reader's flag change: their adds and removes from ref to now (Maildir
 * letters; only system letters count) applied to the record's flags.
 * When that changes them, queues the record update and a pending
 * STORE_CHANGE_FLAGS in b and returns 1, else 0; *flags_r (may be NULL)
 * gets the resulting flags.  Negative on error.
 */
int mirror__flags_merge(struct store_batch *b, const struct store_msg *m,
			maildir_flags_t ref, maildir_flags_t now,
			uint32_t *flags_r, struct ms_err *err_r) MS_WUR;

/*
 * A tree mailsync has not made its own (c->is_fresh) where INBOX is not
 * where p->is_inbox_subfolder puts it: mbsync's INBOX/ with
 * maildir_inbox = root (the top directory has no Maildir), or a top
 * Maildir and no INBOX/ with subfolder.  Mirroring it so would put a
 * second INBOX beside the user's, so the export and the adoption
 * (mirror_adopt.c) refuse: MS_EINVAL, err_r naming the setting that fits.
 */
int mirror__inbox_place(const struct mirror_params *p,
			struct ms_err *err_r) MS_WUR;

/*
 * A message file mbsync wrote, as the server holds it: its CRLF form
 * without the "X-TUID: <12 characters>" line mbsync puts last in the
 * header of every message it copies (isync 1.4; it replaces one the
 * message had).  read: into *out_r (malloc'ed, the caller's), *len_r
 * bytes; 1 when such a line was left out, MS_OK when there was none,
 * STORE_NOTFOUND when the file is gone or no regular file, MS_ETOOBIG
 * for a file over 64 MiB (not read), MS_EIO or MS_ENOMEM (err_r).
 * hash: its SHA-256 into hash_r; 1 when the file had the line, 0 when
 * not (hash_r unset: the file's own hashes say all), negative on errors.
 */
int mirror__mbsync_read(int dirfd, const char *dir, const char *name,
			uint8_t **out_r, size_t *len_r, int64_t *mtime_r,
			struct ms_err *err_r) MS_WUR;
int mirror__mbsync_hash(int dirfd, const char *dir, const char *name,
			uint8_t hash_r[STORE_HASH_LEN],
			struct ms_err *err_r) MS_WUR;

/*
 * Reads the message file name in dirfd (of Maildir dir, for messages)
 * into a finished body (*body_r, the caller's): its CRLF form
 * (maildir_eol.h), the bytes the server holds of it.  *mtime_r (may be
 * NULL) gets the file's mtime.  MS_OK; STORE_NOTFOUND when it is gone or
 * no regular file (a reader renamed it, or put a link there); MS_EIO,
 * MS_ETOOBIG (past max_body_size) or MS_ENOMEM with err_r set.
 */
int mirror__read_body(struct store *s, int dirfd, const char *dir,
		      const char *name, struct store_body **body_r,
		      int64_t *mtime_r, struct ms_err *err_r) MS_WUR;

/*
 * mirror_scan() with its store writes handed to w (NULL: made directly);
 * checks w's cancel between files and returns MS_ECANCELED then.
 */
int mirror__scan_with(struct store *s, const struct mirror_params *p,
		      const struct mirror_writer *w, struct mirror_stats *st_r,
		      struct ms_err *err_r) MS_WUR;

/*
 * A report a pool thread fills (rep, whose callback collects each note),
 * passed on to the caller's report on the loop: the caller's may be in
 * use there meanwhile (the watch reports into it).
 */
struct mirror_note {
	char *path;
	char *why;
};
struct mirror_report_buf {
	struct maildir_report rep;
	struct mirror_note *v;
	size_t n, cap;
};
void mirror__report_buf_init(struct mirror_report_buf *rb);
/* Each note into out (may be NULL), once; loop thread. */
void mirror__report_buf_flush(struct mirror_report_buf *rb,
			      struct maildir_report *out);
void mirror__report_buf_deinit(struct mirror_report_buf *rb);

/* Makes room for element n of *v (cap elements of size bytes), doubling
 * it (64 at first).  MS_OK or MS_ENOMEM. */
int mirror__grow(void **v, size_t *cap, size_t n, size_t size,
		 struct ms_err *err_r) MS_WUR;

/* Commits b when it holds enough (or always, with force); is_lazy: with
 * store_batch_commit_lazy(), for what a later pass would write again. */
int mirror__batch_flush(struct store_batch *b, bool force, bool is_lazy,
			struct ms_err *err_r) MS_WUR;

#endif
