/*
 * cfg_fetchmail.h - ~/.fetchmailrc to a mailsync configuration, for
 * `mailsyncctl convert`.  Pure: text in, text and notes out, through the
 * writer every converter shares (cfg_convert.h).
 *
 * Each user of a `poll` (or `server`) entry whose protocol is POP3 or
 * IMAP becomes an [account NAME] (the entry's name, with "-USER" when it
 * has several users): via or the entry's name (host), port or service,
 * ssl and sslproto (tls), sslcertfile (ca_file), timeout, user, password
 * (password =, as the other converters write a plain password, with a
 * note), auth; POP3's keep or no keep (keep = yes or no); IMAP's folders
 * (folders =, INBOX when none); `set daemon` times `interval` as
 * poll_interval.  The Maildir to deliver into is the one an mda names
 * when it is a Maildir delivery tool (mblaze's mdeliver, safecat,
 * getmail_maildir, deliverquota), else ~/Mail/NAME, with a note.  The
 * `defaults` entry fills in what an entry leaves unset.  What has no
 * counterpart (procmail or another MDA and its rules, smtphost
 * forwarding, multidrop, preconnect, plugins, limits, header rewriting,
 * `skip` entries, ...) is a note naming its line and why.
 *
 * The syntax is fetchmail's (its rcfile lexer): free-format tokens,
 * "double" or 'single' quoted strings with fetchmail's backslash
 * escapes, '#' comments, keywords in any order within an entry, the
 * noise words and, with, has, wants, options, here, there and the
 * punctuation ';', ':' and ','; "no KEYWORD" or "noKEYWORD" negates.
 * Options given before an entry's first `user` apply to all its users.
 */
#ifndef MS_CFG_FETCHMAIL_H
#define MS_CFG_FETCHMAIL_H

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
int cfg_fetchmail_convert(const char *file, const char *text, size_t len,
			  struct cfg_convert_result *res_r);

/*
 * True when text reads as a fetchmail run control file: its first line
 * that is neither blank nor a '#' comment starts with poll, skip,
 * server, defaults or set followed by white space (or the line's end),
 * and not by '=' (an INI key); set by one of fetchmail's global options
 * (daemon, logfile, no, ...), so that a shell script's "set -e" is not
 * taken for one.
 */
bool cfg_fetchmail_looks_like(const char *text, size_t len);

#endif
