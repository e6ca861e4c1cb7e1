/*
 * maildir_scan.h - listing a Maildir folder's messages and discovering the
 * folders of an account's mirror tree, without reading message bodies.
 *
 * A listing costs one readdir pass over new/ and cur/ and, per entry, a
 * name parse; stat only when the type is unknown or the name has no S=.
 * Memory: one entry record plus the name bytes per message.
 */
#ifndef MS_MAILDIR_SCAN_H
#define MS_MAILDIR_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"
#include "maildir/maildir_name.h"
#include "maildir/maildir_path.h"
#include "maildir/maildir_report.h"
#include "maildir/maildir_write.h"

struct maildir_entry {
	uint64_t size;		/* from S= when present, else from stat */
	uint64_t ino;		/* a rename within the file system keeps it */
	maildir_flags_t flags;	/* from the ":2," suffix */
	uint32_t name_off;	/* into maildir_list.names */
	uint8_t name_len;
	uint8_t sub;		/* MAILDIR_SUB_NEW or MAILDIR_SUB_CUR */
	bool is_size_from_name;
};

/* The messages of one folder, in directory order. */
struct maildir_list {
	struct maildir_entry *v;
	size_t n, cap;
	char *names;		/* NUL-terminated names, back to back */
	size_t names_len, names_cap;
};

void maildir_list_init(struct maildir_list *l);
void maildir_list_deinit(struct maildir_list *l);
/* The file name of entry i, valid until the list changes. */
const char *maildir_list_name(const struct maildir_list *l, size_t i);

/*
 * Appends the messages in d's new/ and cur/ to l.  Entries that are not
 * messages (dot files, directories, symlinks, devices) go to rep.  A file
 * that vanishes between readdir and stat is skipped (a reader's rename
 * races us; the next scan sees its new name).  Returns MS_OK, MS_ENOMEM or
 * MS_EIO.
 */
int maildir_scan_folder(struct maildir_dir *d, struct maildir_list *l,
			struct maildir_report *rep, struct ms_err *err_r) MS_WUR;

/*
 * The same listing without keeping it: cb gets each message entry (its
 * name_off unset) with its name, name[len] NUL; a result other than MS_OK
 * stops the listing and is returned.  Memory: none per entry.
 */
typedef int (*maildir_entry_cb)(const struct maildir_entry *e,
				const char *name, size_t len, void *arg);
int maildir_scan_folder_each(struct maildir_dir *d, maildir_entry_cb cb,
			     void *arg, struct maildir_report *rep,
			     struct ms_err *err_r) MS_WUR;

/* Room for n entries whose names take names_len bytes (NULs included)
 * in all: a listing whose size is known ahead grows no slack (doubling
 * leaves up to half of a large one unused).  MS_OK or MS_ENOMEM. */
int maildir_list_reserve(struct maildir_list *l, size_t n,
			 size_t names_len) MS_WUR;

/* Gives back the room l grew for and did not use (a listing that stays
 * while much else is done: up to half its memory). */
void maildir_list_trim(struct maildir_list *l);

/*
 * Called for each directory of the tree, root first (rel ""), parents
 * before children; rel is '/'-separated and relative to the root.
 * is_maildir: it has cur/ and new/.  Return MS_OK to go on, anything else
 * stops the walk with that result.
 */
typedef int (*maildir_walk_cb)(const char *rel, bool is_maildir, void *arg);

/*
 * Walks the tree under root: the directories the layout makes folders of
 * (maildir_path_is_walked(): no dot names in verbatim, .Name.Sub at the
 * top in maildir++, Name/.Sub in legacy); other dot names are skipped
 * (tools' state), other directories reported.  Symlinks are not followed,
 * cur/new/tmp of a Maildir are not descended into; regular files and
 * other oddities outside messages' subdirectories go to rep.  Depth is
 * limited to 64.
 */
int maildir_tree_walk(const char *root, enum maildir_layout layout,
		      maildir_walk_cb cb, void *arg, struct maildir_report *rep,
		      struct ms_err *err_r) MS_WUR;

/* Relative paths of the Maildir folders of a tree ("" is the root). */
struct maildir_folders {
	char **v;		/* owned strings */
	size_t n, cap;
};

/* maildir_tree_walk() collecting the Maildirs into f (appended). */
int maildir_tree_discover(const char *root, enum maildir_layout layout,
			  struct maildir_folders *f, struct maildir_report *rep,
			  struct ms_err *err_r) MS_WUR;
void maildir_folders_deinit(struct maildir_folders *f);

/*
 * Module-internal: joins the non-empty parts of a, b, c with '/' into a
 * new string (free() it); NULL when out of memory.
 */
char *maildir__path_join(const char *a, const char *b, const char *c);

#endif
