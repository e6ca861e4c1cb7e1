/*
 * cfg_offlineimap.h - ~/.offlineimaprc to a mailsync configuration, for
 * `mailsyncctl convert`.  Pure: text in, text and notes out, through the
 * writer every converter shares (cfg_convert.h).
 *
 * An [Account NAME] (those [general] accounts = names, else all) with a
 * remote IMAP or Gmail repository becomes [account NAME]: remotehost,
 * remoteport, ssl and starttls (tls), sslcacertfile (ca_file),
 * remoteuser, remotepass (password), remotepassfile (password_cmd =
 * head -n 1 FILE), auth_mechanisms, readonly (direction = pull), usecompression,
 * and autorefresh (poll_interval); the local Maildir repository's
 * localfolders becomes maildir.  What has no counterpart (Python in
 * remotepasseval, folderfilter and nametrans, hooks, interpolation) is
 * a note naming its line.  The file is read as Python's configparser
 * reads it: "key = value" or "key: value", case-insensitive keys,
 * indented continuation lines, '#' and ';' comment lines.
 */
#ifndef MS_CFG_OFFLINEIMAP_H
#define MS_CFG_OFFLINEIMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg/cfg_convert.h"
#include "common/ms.h"

/*
 * Converts text (len bytes; file names it in the output's header
 * comment) into res_r, which the caller frees with
 * cfg_convert_result_free().  MS_OK when at least one account was
 * written; MS_ECONFIG when none could be (the notes say why).
 */
int cfg_offlineimap_convert(const char *file, const char *text, size_t len,
			    struct cfg_convert_result *res_r);

/* True when text reads as an OfflineIMAP configuration: its first
 * section is [general], [Account ...], [Repository ...] or [DEFAULT],
 * and it has an [Account ...] or [Repository ...] section (mailsync's
 * own configuration starts with [general] too). */
bool cfg_offlineimap_looks_like(const char *text, size_t len);

#endif
