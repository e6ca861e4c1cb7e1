/*
 * cfg_fetchmail_int.h - what the two halves of the .fetchmailrc converter
 * (cfg_fetchmail.h) share: cfg_fetchmail_read.c reads the text into
 * entries and users, each holding the options given to it;
 * cfg_fetchmail.c writes an account of each user from them.
 */
#ifndef MS_CFG_FETCHMAIL_INT_H
#define MS_CFG_FETCHMAIL_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg/cfg_convert.h"

/* What the accounts are written from. */
enum fm_key {
	FM_PROTO,		/* entry */
	FM_PORT,		/* entry: port or service */
	FM_VIA,			/* entry */
	FM_TIMEOUT,		/* entry */
	FM_AUTH,		/* entry */
	FM_INTERVAL,		/* entry */
	FM_USER,		/* user: the remote name */
	FM_PASSWORD,
	FM_SSL,
	FM_SSLPROTO,
	FM_SSLCERTCK,
	FM_SSLCERTFILE,
	FM_KEEP,
	FM_FETCHALL,
	FM_FOLDER,		/* a folders = list */
	FM_MDA,
	FM_IDLE,
	FM_LOCAL,		/* is/to: local names */
	FM_KEY_N,
	FM_NOTED = -1,		/* not translated: a note with why */
	FM_SILENT = -2,		/* what mailsync does anyway */
};

/* The first options that belong to an entry, not to a user. */
#define FM_KEY_IS_ENTRY(k) ((k) <= FM_INTERVAL)

struct fm_val {
	char *s;		/* NULL for a flag */
	unsigned line;
	bool is_set;
	bool is_no;		/* "no KEYWORD" */
	bool is_multi;		/* FM_LOCAL: multidrop */
};

struct fm_scope {
	struct fm_val v[FM_KEY_N];
};

struct fm_user {
	unsigned line;
	struct fm_scope s;
};

struct fm_entry {
	char *name;		/* NULL: defaults */
	unsigned line;
	bool is_skip;
	struct fm_scope s;	/* the entry's, and its users' common ones */
	struct fm_user *users;
	size_t n_users;
};

enum fm_tok_kind { FM_TOK_WORD, FM_TOK_STRING, FM_TOK_MAP, FM_TOK_WILD };

struct fm_tok {
	enum fm_tok_kind kind;
	char *s;
	unsigned line;
};

struct fm {
	struct cfg_convert w;		/* the output and the notes */
	struct fm_tok *toks;
	size_t n_toks, pos;
	struct fm_entry *ents;
	size_t n_ents;
	struct fm_entry *cur;		/* the entry being read */
	struct fm_user *cur_user;	/* its user being read, or NULL */
	size_t dflt;			/* the defaults entry, or n_ents */
	unsigned long daemon;		/* set daemon: seconds; 0: none */
	/* What the accounts written so far are named and deliver into. */
	char **names, **maildirs;
	size_t n_written;
};

#define fm_note(f, line, ...) cfg_convert_note(&(f)->w, (line), __VA_ARGS__)

#define FM_WHY_MULTI "multidrop: mailsync keeps the whole mailbox in one " \
	"Maildir and sorts nothing by recipient"

/*
 * Lexes and parses text into f->ents (and f->dflt, f->daemon), noting in
 * f->w what it cannot read and every option that has no counterpart.
 */
void cfg_fetchmail__read(struct fm *f, const char *text, size_t len);

/* Frees what cfg_fetchmail__read() made, zeroing the tokens first. */
void cfg_fetchmail__read_free(struct fm *f);

#endif
