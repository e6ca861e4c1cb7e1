/*
 * cfg_mbsync.h - an mbsync configuration (~/.mbsyncrc, isync 1.3 to 1.5)
 * turned into the mailsync configuration that syncs the same mail, with a
 * note for everything that could not be translated, so that nobody
 * loses a setting without being told.  Pure: text in, text out; no file,
 * no environment (a "~" stays a "~", which mailsync expands too).
 *
 * What it translates: each IMAPAccount (or IMAPStore with its own
 * account keys) that a Channel pairs with a MaildirStore becomes an
 * [account NAME]: Host, Port, User, Pass, PassCmd (oauth_token_cmd with
 * AuthMechs XOAUTH2 or OAUTHBEARER), SSLType/TLSType, CertificateFile,
 * AuthMechs, Timeout; the MaildirStore's Path becomes maildir; the
 * Channels' Patterns (or their single boxes) become folders; Sync Pull
 * becomes direction = pull; an Inbox that is Path/INBOX becomes
 * maildir_inbox = subfolder, SubFolders Maildir++ or Legacy becomes
 * maildir_layout (Maildir++'s maildir is its Inbox), and a SyncState
 * other than "*" (mbsync's default ~/.mbsync/ when none is given) becomes
 * mbsync_state, so that the migration finds mbsync's state.  The rest
 * (SSLVersions, Tunnel, Expunge, Create, Remove, MaxMessages, Flatten,
 * renamed boxes, ...) is noted with the line it came from and why.
 *
 * The syntax is mbsync's: "Keyword value..." lines, values split at
 * white space unless "quoted", a backslash escaping the next character,
 * '#' comments, a section (IMAPAccount, IMAPStore, MaildirStore,
 * Channel, Group) ending at a blank line or the next section.
 */
#ifndef MS_CFG_MBSYNC_H
#define MS_CFG_MBSYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg/cfg_convert.h"
#include "common/ms.h"

/*
 * Converts text (len bytes; file names it in the output's header
 * comment) into res_r, which the caller frees with
 * cfg_convert_result_free().  MS_OK when at least one account was
 * written; MS_ECONFIG when none could be (the notes say why; res_r is
 * filled either way).  Out of memory aborts, as daemon code may.
 */
int cfg_mbsync_convert(const char *file, const char *text, size_t len,
		       struct cfg_convert_result *res_r);

/*
 * True when text reads as an mbsync configuration rather than an INI
 * file: its first line that is neither blank nor a comment starts with
 * an mbsync section keyword (IMAPAccount, IMAPStore, MaildirStore,
 * Channel, Group) or a global one (SyncState, Create, Expunge, ...)
 * followed by white space, and has no '=' or '['.
 */
bool cfg_mbsync_looks_like(const char *text, size_t len);

#endif
