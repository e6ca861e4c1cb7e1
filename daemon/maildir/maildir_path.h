/*
 * maildir_path.h - server folder name <-> mirror path, relative to the
 * account's maildir root.
 *
 * Rules (DESIGN.md "Maildir mirror"):
 * - INBOX (any case) is the root Maildir itself: relative path "".
 * - Other folders: the personal namespace prefix is stripped ("INBOX." on
 *   Cyrus/Courier, "" on Dovecot), the rest is split at the server's
 *   hierarchy delimiter, and each component becomes one directory:
 *   "INBOX.Lists.dev" (prefix "INBOX.", delimiter '.') and "Lists/dev"
 *   (prefix "", delimiter '/') both become "Lists/dev".  A folder outside
 *   the personal namespace is refused (MS_EINVAL) so that two server names
 *   can never meet in one directory.
 * - Names are UTF-8 (the caller decoded modified UTF-7); bytes >= 0x80 are
 *   kept as they are.
 * - A component is escaped with %XX (uppercase hex) where a file system
 *   component cannot hold it as it is, or where it would be mistaken for
 *   Maildir structure: every '/', '%', control byte (0x00-0x1f, 0x7f); a
 *   leading '.' (covers ".", ".." and hidden names); the first letter of a
 *   component named cur, new or tmp (any case, so case-insensitive file
 *   systems are safe too); the first letter of a top-level component named
 *   INBOX (any case), because INBOX's children on Dovecot ("INBOX/x") must
 *   not meet the root.  So "50%" -> "50%25", "a/b" (delimiter '.') ->
 *   "a%2Fb", "cur" -> "%63ur", ".hidden" -> "%2Ehidden", "INBOX/x" ->
 *   "%49NBOX/x".
 * - The reverse mapping accepts exactly the paths the forward mapping
 *   produces (it decodes, re-encodes and compares), so the mapping is a
 *   bijection; a directory a reader made that is not canonical ("50%",
 *   "a%2fb") is refused with MS_EINVAL and can be reported.
 * - An empty component ("a//b"), a component longer than 255 bytes after
 *   escaping, or a component that would hold the delimiter after decoding
 *   is refused with MS_EINVAL.
 */
#ifndef MS_MAILDIR_PATH_H
#define MS_MAILDIR_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ms.h"

struct maildir_path_ns {
	char delim;		/* hierarchy delimiter; 0 for a flat server */
	const char *prefix;	/* personal namespace prefix, e.g. "INBOX."; may be NULL */
};

/*
 * Appends the mirror path of server name (len bytes) to out ("" for INBOX).
 * Returns MS_OK, MS_EINVAL (with a reason in err_r), or MS_ETOOBIG.
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

#endif
