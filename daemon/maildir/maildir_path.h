/*
 * maildir_path.h - server folder name <-> mirror path, relative to the
 * account's maildir root: the one mapping export, scan, watch and the
 * adoption of another tool's tree all go through.
 *
 * Rules (DESIGN.md "Maildir mirror"; docs/mirror-layouts.md):
 * - INBOX (any case) is the root Maildir (relative path ""), or "INBOX"
 *   with is_inbox_subfolder (mbsync's usual "Inbox ~/Mail/INBOX");
 *   Maildir++ always keeps it at the root.
 * - Other folders: the personal namespace prefix is stripped ("INBOX." on
 *   Cyrus/Courier, "" on Dovecot) and the rest is split at the server's
 *   hierarchy delimiter into components: "INBOX.Lists.dev" (prefix
 *   "INBOX.", delimiter '.') and "Lists/dev" (prefix "", delimiter '/')
 *   both become Lists, dev.  A folder outside the personal namespace is
 *   refused (MS_EINVAL) so that two server names can never meet in one
 *   directory.
 * - The layout joins the components as mbsync's SubFolders styles do
 *   (checked against isync 1.4's own trees):
 *     verbatim   Lists/dev                  (the default)
 *     legacy     Lists/.dev, and INBOX's children inside INBOX's
 *                Maildir: "INBOX/sub" -> ".sub" (or "INBOX/.sub")
 *     maildir++  .Lists.dev, every folder a dot directory at the top,
 *                INBOX's children with an empty first level: "..sub"
 *   "INBOX's children" are names whose first component (after the
 *   prefix) is exactly "INBOX".  In verbatim they are inside INBOX's
 *   Maildir only where INBOX is INBOX/ ("INBOX/sub", as mbsync's
 *   Verbatim has them); with INBOX at the root they stay apart from the
 *   top folders ("%49NBOX/sub", below).
 * - Names are UTF-8 (the caller decoded modified UTF-7); bytes >= 0x80 are
 *   kept as they are.
 * - A component is escaped with %XX (uppercase hex) where a file system
 *   component cannot hold it as it is, or where it would be mistaken for
 *   Maildir structure: every '/', '%', control byte (0x00-0x1f, 0x7f); a
 *   leading '.' (covers ".", ".." and hidden names; maildir++ refuses
 *   dots instead); where a component is a whole directory name (verbatim,
 *   and legacy's top level), the first letter of one named cur, new or tmp
 *   (any case, so case-insensitive file systems are safe too) and of a
 *   top-level one named INBOX (any case), because INBOX's children on
 *   Dovecot ("INBOX/x") must not meet the root.  So "50%" -> "50%25",
 *   "a/b" (delimiter '.') -> "a%2Fb", "cur" -> "%63ur", ".hidden" ->
 *   "%2Ehidden", "INBOX/x" -> "%49NBOX/x" (verbatim).
 * - Maildir++ separates levels with '.', as mbsync and Dovecot do: a
 *   component holding a '.' cannot be represented and is refused
 *   (MS_EINVAL naming it), never merged with the folder the dots would
 *   name; so is a name whose directory would be longer than 255 bytes.
 * - The reverse mapping accepts exactly the paths the forward mapping
 *   produces (it decodes, re-encodes and compares), so the mapping is a
 *   bijection; a directory a reader made that is not canonical ("50%",
 *   "a%2fb", legacy "Lists/dev") is refused with MS_EINVAL and can be
 *   reported.
 * - An empty component ("a//b"), a directory name longer than 255 bytes
 *   after escaping, or a component that would hold the delimiter after
 *   decoding is refused with MS_EINVAL.
 */
#ifndef MS_MAILDIR_PATH_H
#define MS_MAILDIR_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ms.h"

/* How folders nest on disk (the maildir_layout setting). */
enum maildir_layout {
	MAILDIR_LAYOUT_VERBATIM = 0,	/* Lists/dev */
	MAILDIR_LAYOUT_MAILDIRPP,	/* .Lists.dev */
	MAILDIR_LAYOUT_LEGACY,		/* Lists/.dev */
};

struct maildir_path_ns {
	char delim;		/* hierarchy delimiter; 0 for a flat server */
	const char *prefix;	/* personal namespace prefix, e.g. "INBOX."; may be NULL */
	enum maildir_layout layout;
	bool is_inbox_subfolder;	/* INBOX is "INBOX", not "" */
};

/*
 * Appends the mirror path of server name (len bytes) to out ("" for INBOX
 * at the root).  Returns MS_OK, MS_EINVAL (with a reason in err_r), or
 * MS_ETOOBIG.
 */
int maildir_path_from_server(const struct maildir_path_ns *ns, const char *name,
			     size_t len, struct ms_buf *out,
			     struct ms_err *err_r) MS_WUR;

/*
 * Appends the server name of a mirror path (relative, '/'-separated, ""
 * for the root) to out.  Returns MS_OK, MS_EINVAL or MS_ETOOBIG.
 */
int maildir_path_to_server(const struct maildir_path_ns *ns, const char *path,
			   size_t len, struct ms_buf *out,
			   struct ms_err *err_r) MS_WUR;

/*
 * May the tree walk find a folder in a child directory named name, of a
 * directory depth levels below the root?  Verbatim: names without a
 * leading dot; maildir++: dot names at the top only; legacy: any name at
 * the top (dot names are INBOX's children when INBOX is the root), dot
 * names below.  ".", ".." and the Maildir's own cur, new, tmp are the
 * caller's to skip.
 */
bool maildir_path_is_walked(enum maildir_layout layout, int depth,
			    const char *name);

#endif
