/*
 * cfg.h - mailsyncd's configuration: the INI file of DESIGN.md, read with
 * inih and validated into a typed struct cfg.
 *
 * Reading is two phases (STYLE.md 10): cfg_raw.c records every
 * "section.key = value" with its line number, then cfg_validate.c converts
 * types, applies the defaults of one key table and runs the cross-field
 * checks.  Every problem found on the way is collected in a struct
 * cfg_report as a ready-to-print "FILE:LINE: [section] key: problem
 * (expected ...)" line; nothing stops at the first one.
 *
 * The environment (variables for ~ and $VAR expansion, the config search,
 * file existence) is reached only through a struct cfg_env so that tests can
 * drive it without touching the process environment.
 */
#ifndef MS_CFG_H
#define MS_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/ms.h"
#include "log.h"

/* ---- environment ------------------------------------------------------- */

struct cfg_env {
	/* Returns the value of variable name, or NULL when it is unset. */
	const char *(*get)(const char *name, void *arg);
	/* True when path names an existing file (the search, ca_file). */
	bool (*exists)(const char *path, void *arg);
	void *arg;
	uid_t uid;	/* for the socket fallback paths */
};

/*
 * The real environment: getenv(), access(F_OK) and getuid().  When HOME is
 * unset its get() falls back to the home directory in the passwd database.
 * The returned struct is static.
 */
const struct cfg_env *cfg_env_system(void);

/* ---- problem report ---------------------------------------------------- */

struct cfg_problem {
	unsigned line;	/* 0: about the file as a whole */
	char *text;	/* "FILE:LINE: message", control characters
			 * escaped; owned by the report */
};

struct cfg_report {
	struct cfg_problem *v;
	size_t n;
	size_t cap;
};

void cfg_report_init(struct cfg_report *rep);
void cfg_report_deinit(struct cfg_report *rep);
/* Writes each problem's text and a newline to out. */
void cfg_report_print(const struct cfg_report *rep, FILE *out);

/* ---- typed configuration ----------------------------------------------- */

/* smtp: a send-only account (smtp_* keys and the credentials). */
enum cfg_protocol { CFG_PROTOCOL_IMAP, CFG_PROTOCOL_POP3, CFG_PROTOCOL_SMTP };
enum cfg_tls { CFG_TLS_IMPLICIT, CFG_TLS_STARTTLS, CFG_TLS_NONE };
enum cfg_auth {
	CFG_AUTH_AUTO,
	CFG_AUTH_PLAIN,
	CFG_AUTH_LOGIN,
	CFG_AUTH_XOAUTH2,
	CFG_AUTH_OAUTHBEARER,
	CFG_AUTH_CRAM_MD5,
	CFG_AUTH_SCRAM_SHA_256,
};
enum cfg_direction { CFG_DIRECTION_BOTH, CFG_DIRECTION_PULL };
/* What a local deletion (a reader's, or mailsyncctl delete) does on the
 * server; see cfg_validate.c for why trash is the default. */
enum cfg_local_delete {
	CFG_LOCAL_DELETE_TRASH,		/* move to the server's Trash */
	CFG_LOCAL_DELETE_FLAG,		/* only mark \Deleted */
	CFG_LOCAL_DELETE_EXPUNGE,	/* \Deleted and UID EXPUNGE */
};
/* Where the mirror keeps INBOX: the top Maildir, or INBOX/ in it (as
 * mbsync's Flatten-less layouts do). */
enum cfg_maildir_inbox { CFG_MAILDIR_INBOX_ROOT, CFG_MAILDIR_INBOX_SUBFOLDER };
/* How the mirror nests folders (mbsync's SubFolders styles): Lists/dev,
 * .Lists.dev at the top, or Lists/.dev (maildir_path.h). */
enum cfg_maildir_layout {
	CFG_MAILDIR_LAYOUT_VERBATIM,
	CFG_MAILDIR_LAYOUT_MAILDIRPP,
	CFG_MAILDIR_LAYOUT_LEGACY,
};

/* A list value; items and the array are owned by the list. */
struct cfg_list {
	char **v;
	size_t n;
};

/* A pinned server certificate: SHA-256 of the DER certificate. */
struct cfg_fingerprint {
	bool is_set;
	uint8_t sha256[32];
	char text[7 + 32 * 3];	/* normalised "sha256:AB:CD:..." */
};

/*
 * One [account NAME] section.  Strings are owned by the cfg and live until
 * cfg_free(); NULL means "not set" where the key is optional.  Keys that do
 * not apply to the account's protocol keep their defaults.
 */
struct cfg_account {
	char *name;
	unsigned line;			/* line of the section header */
	enum cfg_protocol protocol;
	char *host;
	uint16_t port;			/* default from protocol, tls */
	enum cfg_tls tls;
	char *ca_file;			/* NULL: the system trust store */
	struct cfg_fingerprint tls_fingerprint;
	unsigned timeout;		/* seconds */
	char *user;
	char *password;			/* zeroed by cfg_free() */
	char *password_cmd;		/* run by daemon/secret, not here */
	enum cfg_auth auth;
	char *oauth_token_cmd;
	struct cfg_list folders;	/* imap: patterns, "!" excludes */
	enum cfg_direction direction;	/* imap */
	enum cfg_local_delete local_delete;	/* imap */
	bool idle;			/* imap */
	struct cfg_list idle_folders;	/* imap */
	bool compress;			/* imap */
	unsigned poll_interval;		/* seconds */
	bool keep;			/* pop3 */
	unsigned delete_after_days;	/* pop3; 0: never */
	char *maildir;			/* NULL: no mirror */
	unsigned maildir_line;		/* of the maildir key; 0: not set */
	enum cfg_maildir_inbox maildir_inbox;
	enum cfg_maildir_layout maildir_layout;
	/* imap: where mbsync kept its sync state (its SyncState, a prefix
	 * of the state files' names); NULL: in each Maildir. */
	char *mbsync_state;
	char *smtp_host;		/* NULL: this account does not send */
	uint16_t smtp_port;		/* default from smtp_tls */
	enum cfg_tls smtp_tls;
	struct cfg_list from;		/* addresses it sends as */
	char *new_mail_cmd;		/* run by acct/acct_hook.c; NULL: none */
	/* imap: where a copy of sent mail goes; NULL with is_sent_auto
	 * false: "none" */
	char *sent_folder;
	bool is_sent_auto;		/* unset: the \Sent special-use one */
	char *smtp_user;		/* NULL: user */
	char *smtp_password_cmd;	/* NULL: the account's secret */
	unsigned smtp_queue_lifetime;	/* seconds a message is retried */
};

struct cfg {
	char *file;			/* the file it was read from */
	char *store;			/* LMDB environment directory */
	char *socket;			/* control socket path */
	/* The control socket's group (socket_group; the system unit's
	 * mailsync): the socket is 0660 and that group's members may use
	 * it.  (gid_t)-1: none, 0600 and this uid only. */
	gid_t socket_gid;
	char *spool;			/* mailsyncctl send's spool directory */
	enum log_level log_level;
	struct cfg_account *accounts;	/* in file order */
	size_t n_accounts;
};

/*
 * Reads and validates the config file at path.  On success returns MS_OK
 * and a new cfg in *cfg_r (free it with cfg_free()).  On failure returns a
 * negative MS_E* (MS_ECONFIG for problems in the file, MS_EIO when it cannot
 * be read), leaves *cfg_r NULL and adds every problem found to rep.
 * A file that sets `password` must not be accessible by group or others;
 * one that names a command (password_cmd, oauth_token_cmd) must be
 * changeable only by env->uid or root: the file, its owner and the
 * directories above it are checked.
 */
int cfg_load(const char *path, const struct cfg_env *env, struct cfg **cfg_r,
	     struct cfg_report *rep) MS_WUR;

/*
 * Like cfg_load() on text (len bytes, need not be NUL-terminated), reported
 * as if read from a file named file.  It skips the file mode check, which
 * needs a real file.
 */
int cfg_load_text(const char *file, const char *text, size_t len,
		  const struct cfg_env *env, struct cfg **cfg_r,
		  struct cfg_report *rep) MS_WUR;

/* Frees the cfg, zeroing passwords first; sets *cfgp to NULL.  NULL is ok. */
void cfg_free(struct cfg **cfgp);

/*
 * A deep copy of src into dst (an account runtime keeps its own, so a
 * reload can replace it); aborts when out of memory, like the parser.
 * Free it with cfg_account_deinit(), which zeroes the password.
 */
void cfg_account_copy(struct cfg_account *dst, const struct cfg_account *src);
void cfg_account_deinit(struct cfg_account *a);

/* True when a and b configure the same account (cfg_equal.c): a reload
 * keeps such an account running and restarts any other. */
bool cfg_account_equal(const struct cfg_account *a,
		       const struct cfg_account *b);

/* The account named name, or NULL. */
const struct cfg_account *cfg_account_find(const struct cfg *cfg,
					   const char *name);

/*
 * Finds the config file when -c is absent, in DESIGN.md's order:
 * $MAILSYNC_CONFIG (taken as given, even if missing, as -c would be),
 * $XDG_CONFIG_HOME/mailsync/config.ini (~/.config/mailsync/config.ini when
 * XDG_CONFIG_HOME is unset, empty or relative), /etc/mailsync/config.ini.
 * Returns MS_OK and a malloc'd path in *path_r, or MS_ECONFIG with one
 * problem listing every place searched.
 */
int cfg_path_search(const struct cfg_env *env, char **path_r,
		    struct cfg_report *rep) MS_WUR;

/* --- folders = (cfg_folders.c) ---------------------------------------- */

/*
 * Matches a UTF-8 folder name against one pattern of the folders= key:
 * "*" matches any run of characters, "%" any run without the hierarchy
 * delimiter delim (0: none), everything else itself.  INBOX (and the
 * "INBOX" part of "INBOX/...") matches case-insensitively, as IMAP
 * names it.
 */
bool cfg_folder_match(const char *pattern, const char *name, char delim);

/*
 * The folders= rule: a name is wanted when it matches at least one
 * pattern without "!" (or the list has none) and no "!" pattern.
 */
bool cfg_folder_wanted(char *const *patterns, size_t n, const char *name,
			char delim);

/* Names for the enums, as the config file spells them. */
const char *cfg_protocol_name(enum cfg_protocol p);
const char *cfg_tls_name(enum cfg_tls t);

#endif
