/*
 * cfg_fetchmail.c - ~/.fetchmailrc to a mailsync configuration
 * (cfg_fetchmail.h).
 *
 * Three steps: the lexer cuts the text into fetchmail's tokens; the
 * parser files each option of an entry under the entry or its current
 * user, noting at once what has no counterpart; the writer then makes an
 * account of each user, looking an option up in the user, its entry, and
 * the defaults entry, in that order, as fetchmail merges them.
 */
#include "cfg/cfg_fetchmail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg/cfg_convert.h"
#include "cfg/cfg_int.h"

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

/* --- the lexer ---------------------------------------------------------- */

static int
fm_digit(char c, int base)
{
	int d = c >= '0' && c <= '9' ? c - '0' :
		c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;

	return d < base ? d : -1;
}

/*
 * p[0..n) with fetchmail's escapes undone (fetchmail(1), "Run Control
 * Syntax"): \n \t \b \r, \xhh, \0ooo, \nnn decimal, a backslash before
 * a line end joins the lines, any other escaped character is itself.  A
 * NUL ends the string, as it does fetchmail's.
 */
static char *
fm_unescape(const char *p, size_t n)
{
	char *out = cfg__calloc(1, n + 1), *o = out;
	size_t i = 0;

	while (i < n) {
		int v, base = 0, digits = 0, d;

		if (p[i] != '\\') {
			*o++ = p[i++];
			continue;
		}
		if (++i == n)
			break;
		switch (p[i]) {
		case 'x': case 'X': base = 16; i++; break;
		case '0': base = 8; i++; break;
		case '1': case '2': case '3': case '4': case '5': case '6':
		case '7': case '8': case '9': base = 10; break;
		case '\n': i++; continue;
		case 'n': *o++ = '\n'; i++; continue;
		case 't': *o++ = '\t'; i++; continue;
		case 'b': *o++ = '\b'; i++; continue;
		case 'r': *o++ = '\r'; i++; continue;
		default: *o++ = p[i++]; continue;
		}
		for (v = 0; digits < (base == 16 ? 2 : 3) && i < n &&
		     (d = fm_digit(p[i], base)) >= 0; digits++, i++)
			v = v * base + d;
		if ((v & 0xff) == 0)
			break;
		*o++ = (char)(v & 0xff);
	}
	*o = '\0';
	return out;
}

static void
fm_tok_add(struct fm *f, enum fm_tok_kind kind, char *s, unsigned line)
{
	f->toks = cfg__reallocarray(f->toks, f->n_toks + 1, sizeof(*f->toks));
	f->toks[f->n_toks++] = (struct fm_tok){ kind, s, line };
}

/* A character that ends an unquoted string (fetchmail's lexer). */
static bool
fm_is_stop(char c)
{
	return c == '=' || c == ';' || c == ':' || c == ',' || c == ' ' ||
	       c == '\t' || c == '\r' || c == '\n' || c == '\0';
}

static void
fm_lex(struct fm *f, const char *text, size_t len)
{
	unsigned line = 1;
	size_t i = 0;

	while (i < len) {
		char c = text[i];
		size_t start;

		if (c == '\n') {
			line++;
			i++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == ';' ||
			   c == ':' || c == ',') {
			i++;	/* white space and punctuation: noise */
		} else if (c == '\0') {
			fm_note(f, line, "a NUL byte (ignored)");
			i++;
		} else if (c == '\\' && i + 1 < len && text[i + 1] == '\n') {
			i++;	/* a joined line */
		} else if (c == '#') {
			while (i < len && text[i] != '\n')
				i++;
		} else if (c == '=') {
			fm_tok_add(f, FM_TOK_MAP, cfg__strdup("="), line);
			i++;
		} else if (c == '"' || c == '\'') {
			const char *end = memchr(text + i + 1, c, len - i - 1);
			unsigned at = line;

			if (end == NULL) {
				fm_note(f, line, "a string without its closing "
					"%c: the rest of the file is ignored",
					c);
				return;
			}
			start = i + 1;
			i = (size_t)(end - text) + 1;
			for (size_t k = start; k < i; k++)
				line += text[k] == '\n';
			fm_tok_add(f, FM_TOK_STRING,
				   fm_unescape(text + start, i - 1 - start), at);
		} else {
			start = i;
			while (i < len && !fm_is_stop(text[i]))
				i++;
			if (i - start == 1 && c == '*')
				fm_tok_add(f, FM_TOK_WILD, cfg__strdup("*"),
					   line);
			else
				fm_tok_add(f, FM_TOK_WORD, fm_unescape(text +
					   start, i - start), line);
		}
	}
}

/* --- keywords ------------------------------------------------------------- */

/* What follows a keyword. */
enum fm_arg {
	FM_ARG_NONE,
	FM_ARG_ONE,		/* a value */
	FM_ARG_NAME,		/* the next token whatever it is */
	FM_ARG_LIST,		/* values up to the next keyword */
	FM_ARG_NAMES,		/* is/to: names, NAME=NAME, '*' */
};

struct fm_kw {
	const char *names[3];	/* its spellings */
	enum fm_arg arg;
	int key;		/* enum fm_key */
	bool can_no;		/* "no KEYWORD" exists */
	bool is_no_silent;	/* and means what mailsync does anyway */
	const char *why;	/* FM_NOTED: why */
};

#define FM_WHY_SMTP "mailsync delivers into a Maildir and forwards " \
	"nothing over SMTP"
#define FM_WHY_MULTI "multidrop: mailsync keeps the whole mailbox in one " \
	"Maildir and sorts nothing by recipient"
#define FM_WHY_BYTES "mailsync keeps each message as the server sends it"
#define FM_WHY_BATCH "mailsync downloads in batches of its own"

static const struct fm_kw fm_kws[] = {
	{ { "proto", "protocol" }, FM_ARG_ONE, FM_PROTO, false, false, NULL },
	{ { "port", "service" }, FM_ARG_ONE, FM_PORT, false, false, NULL },
	{ { "via" }, FM_ARG_ONE, FM_VIA, false, false, NULL },
	{ { "timeout" }, FM_ARG_ONE, FM_TIMEOUT, false, false, NULL },
	{ { "auth", "authenticate", "preauth" }, FM_ARG_NAME, FM_AUTH, false,
	  false, NULL },
	{ { "interval" }, FM_ARG_ONE, FM_INTERVAL, false, false, NULL },
	{ { "user", "username" }, FM_ARG_NAME, FM_USER, false, false, NULL },
	{ { "pass", "password" }, FM_ARG_NAME, FM_PASSWORD, false, false,
	  NULL },
	{ { "ssl" }, FM_ARG_NONE, FM_SSL, true, false, NULL },
	{ { "sslproto" }, FM_ARG_ONE, FM_SSLPROTO, false, false, NULL },
	{ { "sslcertck" }, FM_ARG_NONE, FM_SSLCERTCK, true, false, NULL },
	{ { "sslcertfile" }, FM_ARG_ONE, FM_SSLCERTFILE, false, false, NULL },
	{ { "keep" }, FM_ARG_NONE, FM_KEEP, true, false, NULL },
	{ { "fetchall" }, FM_ARG_NONE, FM_FETCHALL, true, false, NULL },
	{ { "folder", "folders" }, FM_ARG_LIST, FM_FOLDER, false, false,
	  NULL },
	{ { "mda" }, FM_ARG_ONE, FM_MDA, false, false, NULL },
	{ { "idle" }, FM_ARG_NONE, FM_IDLE, true, false, NULL },
	{ { "is", "to" }, FM_ARG_NAMES, FM_LOCAL, false, false, NULL },
	/* mailsync always keeps POP3 UIDLs. */
	{ { "uidl" }, FM_ARG_NONE, FM_SILENT, true, true, NULL },
	{ { "smtp", "smtphost" }, FM_ARG_LIST, FM_NOTED, false, false,
	  FM_WHY_SMTP },
	{ { "smtpaddress" }, FM_ARG_ONE, FM_NOTED, false, false, FM_WHY_SMTP },
	{ { "smtpname" }, FM_ARG_ONE, FM_NOTED, false, false, FM_WHY_SMTP },
	{ { "antispam" }, FM_ARG_LIST, FM_NOTED, false, false, FM_WHY_SMTP },
	{ { "bsmtp" }, FM_ARG_ONE, FM_NOTED, false, false, FM_WHY_SMTP },
	{ { "lmtp" }, FM_ARG_NONE, FM_NOTED, true, true, FM_WHY_SMTP },
	{ { "esmtpname" }, FM_ARG_ONE, FM_NOTED, false, false, FM_WHY_SMTP },
	{ { "esmtppassword" }, FM_ARG_NAME, FM_NOTED, false, false,
	  FM_WHY_SMTP },
	{ { "aka" }, FM_ARG_LIST, FM_NOTED, false, false, FM_WHY_MULTI },
	{ { "local", "localdomains" }, FM_ARG_LIST, FM_NOTED, false, false,
	  FM_WHY_MULTI },
	{ { "envelope" }, FM_ARG_LIST, FM_NOTED, true, true, FM_WHY_MULTI },
	{ { "qvirtual" }, FM_ARG_ONE, FM_NOTED, false, false, FM_WHY_MULTI },
	{ { "dns" }, FM_ARG_NONE, FM_NOTED, true, true, FM_WHY_MULTI },
	{ { "checkalias" }, FM_ARG_NONE, FM_NOTED, true, true, FM_WHY_MULTI },
	{ { "fetchdomains" }, FM_ARG_LIST, FM_NOTED, false, false,
	  FM_WHY_MULTI },
	{ { "pre", "preconnect" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync runs no command before a connection" },
	{ { "post", "postconnect" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync runs no command after a connection" },
	{ { "plugin" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync connects over TCP itself; a connection command has no "
	  "counterpart" },
	{ { "plugout" }, FM_ARG_ONE, FM_NOTED, false, false, FM_WHY_SMTP },
	{ { "interface" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync polls whatever the network; it waits while it is "
	  "offline" },
	{ { "monitor" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync polls on its own schedule" },
	{ { "principal" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync has no Kerberos" },
	{ { "flush" }, FM_ARG_NONE, FM_NOTED, true, true,
	  "mailsync never deletes a message it has not stored" },
	{ { "limitflush" }, FM_ARG_NONE, FM_NOTED, true, true,
	  "mailsync never deletes a message it has not stored" },
	{ { "limit" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync downloads every message, whatever its size" },
	{ { "warnings" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync downloads every message, whatever its size" },
	{ { "fetchlimit" }, FM_ARG_ONE, FM_NOTED, false, false, FM_WHY_BATCH },
	{ { "batchlimit" }, FM_ARG_ONE, FM_NOTED, false, false, FM_WHY_BATCH },
	{ { "fetchsizelimit" }, FM_ARG_ONE, FM_NOTED, false, false,
	  FM_WHY_BATCH },
	{ { "fastuidl" }, FM_ARG_ONE, FM_NOTED, false, false, FM_WHY_BATCH },
	{ { "expunge" }, FM_ARG_ONE, FM_NOTED, false, false, FM_WHY_BATCH },
	{ { "rewrite" }, FM_ARG_NONE, FM_NOTED, true, true, FM_WHY_BYTES },
	{ { "stripcr" }, FM_ARG_NONE, FM_NOTED, true, true,
	  "mailsync's Maildir files have LF line ends; the store keeps the "
	  "server's" },
	{ { "forcecr" }, FM_ARG_NONE, FM_NOTED, true, true, FM_WHY_BYTES },
	{ { "pass8", "pass8bits" }, FM_ARG_NONE, FM_NOTED, true, true,
	  FM_WHY_SMTP },
	{ { "dropstatus" }, FM_ARG_NONE, FM_NOTED, true, true, FM_WHY_BYTES },
	{ { "dropdelivered" }, FM_ARG_NONE, FM_NOTED, true, true,
	  FM_WHY_BYTES },
	{ { "mimedec", "mimedecode" }, FM_ARG_NONE, FM_NOTED, true, true,
	  FM_WHY_BYTES },
	{ { "tracepolls" }, FM_ARG_NONE, FM_NOTED, false, false,
	  FM_WHY_BYTES },
	{ { "bad-header" }, FM_ARG_ONE, FM_NOTED, false, false,
	  FM_WHY_BYTES },
	{ { "sslcert" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync has no client certificates" },
	{ { "sslkey" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync has no client certificates" },
	{ { "sslcertpath" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync reads CA certificates from one file: set ca_file" },
	{ { "sslcommonname" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "mailsync checks the certificate against host: set host = a name "
	  "it carries" },
	{ { "sslfingerprint" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "fetchmail pins an MD5 digest; mailsync pins SHA-256: "
	  "tls_fingerprint = sha256:..., which mailsync prints when it "
	  "refuses a certificate" },
	{ { "properties" }, FM_ARG_ONE, FM_NOTED, false, false,
	  "fetchmail ignores it too" },
};

/* Words fetchmail ignores, unquoted. */
static bool
fm_is_noise(const struct fm_tok *t)
{
	static const char *const noise[] = {
		"and", "with", "has", "wants", "options", "here", "there",
	};

	if (t->kind != FM_TOK_WORD)
		return false;
	for (size_t i = 0; i < sizeof(noise) / sizeof(*noise); i++)
		if (strcmp(t->s, noise[i]) == 0)
			return true;
	return false;
}

static const struct fm_kw *
fm_kw_find(const char *word)
{
	for (size_t i = 0; i < sizeof(fm_kws) / sizeof(*fm_kws); i++)
		for (size_t j = 0; j < 3 && fm_kws[i].names[j] != NULL; j++)
			if (strcmp(word, fm_kws[i].names[j]) == 0)
				return &fm_kws[i];
	return NULL;
}

/* The statements' own words. */
static bool
fm_is_verb(const char *word)
{
	return strcmp(word, "poll") == 0 || strcmp(word, "skip") == 0 ||
	       strcmp(word, "server") == 0 || strcmp(word, "defaults") == 0 ||
	       strcmp(word, "set") == 0;
}

/* A token that is a keyword (so it ends a list or lacks a value). */
static bool
fm_is_keyword(const struct fm_tok *t)
{
	if (t->kind != FM_TOK_WORD)
		return false;
	if (fm_is_verb(t->s) || fm_kw_find(t->s) != NULL ||
	    strcmp(t->s, "no") == 0)
		return true;
	return strncmp(t->s, "no", 2) == 0 && fm_kw_find(t->s + 2) != NULL &&
	       fm_kw_find(t->s + 2)->can_no;
}

/* --- the parser --------------------------------------------------------- */

static struct fm_tok *
fm_peek(struct fm *f)
{
	return f->pos < f->n_toks ? &f->toks[f->pos] : NULL;
}

/* The next token, skipping noise words when skip_noise. */
static struct fm_tok *
fm_next(struct fm *f, bool skip_noise)
{
	while (skip_noise && fm_peek(f) != NULL && fm_is_noise(fm_peek(f)))
		f->pos++;
	return f->pos < f->n_toks ? &f->toks[f->pos++] : NULL;
}

/* A value: a string, or a word that is not a keyword. */
static bool
fm_is_value(const struct fm_tok *t)
{
	return t != NULL && (t->kind == FM_TOK_STRING ||
			     (t->kind == FM_TOK_WORD && !fm_is_keyword(t) &&
			      !fm_is_noise(t)));
}

static void
fm_val_set(struct fm_val *v, const char *s, unsigned line, bool is_no)
{
	if (v->s != NULL)
		explicit_bzero(v->s, strlen(v->s));	/* a password */
	free(v->s);
	v->s = s != NULL ? cfg__strdup(s) : NULL;
	v->line = line;
	v->is_set = true;
	v->is_no = is_no;
	v->is_multi = false;
}

/* is/to NAMES: several names, a mapping (NAME=NAME) or '*' make a
 * multidrop box.  "is NAME there" names the remote user instead
 * (fetchmail's grammar). */
static void
fm_read_names(struct fm *f, struct fm_scope *s, const struct fm_tok *kw)
{
	struct fm_tok *t = fm_next(f, false), *after;
	unsigned n = 0;
	bool is_multi = false;

	if (t == NULL || (t->kind == FM_TOK_WORD && fm_is_keyword(t))) {
		if (t != NULL)
			f->pos--;
		fm_note(f, kw->line, "%s: no name (ignored)", kw->s);
		return;
	}
	after = fm_peek(f);
	if ((t->kind == FM_TOK_WORD || t->kind == FM_TOK_STRING) &&
	    after != NULL && after->kind == FM_TOK_WORD &&
	    strcmp(after->s, "there") == 0) {
		fm_val_set(&s->v[FM_USER], t->s, t->line, false);
		f->pos++;
		return;
	}
	for (;;) {
		if (t->kind == FM_TOK_WILD) {
			is_multi = true;
		} else if (t->kind == FM_TOK_MAP) {
			/* SERVERNAME=LOCALNAME: the local name follows. */
			is_multi = true;
			if (fm_peek(f) != NULL)
				f->pos++;
		} else {
			n++;
		}
		after = fm_peek(f);
		if (after == NULL || (!fm_is_value(after) &&
				      after->kind != FM_TOK_MAP &&
				      after->kind != FM_TOK_WILD))
			break;
		t = fm_next(f, false);
	}
	fm_val_set(&s->v[FM_LOCAL], NULL, kw->line, false);
	s->v[FM_LOCAL].is_multi = is_multi || n > 1;
}

/* A list: values up to the next keyword, as a folders = value. */
static char *
fm_read_list(struct fm *f)
{
	char *list = NULL;

	while (fm_is_value(fm_peek(f)))
		cfg_convert_folder_add(&list, fm_next(f, false)->s);
	return list;
}

/* The scope an option goes to. */
static struct fm_scope *
fm_scope_for(struct fm *f, int key)
{
	if (FM_KEY_IS_ENTRY(key) || f->cur_user == NULL)
		return &f->cur->s;
	return &f->cur_user->s;
}

static void
fm_user_new(struct fm *f, unsigned line)
{
	struct fm_entry *e = f->cur;

	e->users = cfg__reallocarray(e->users, e->n_users + 1,
				     sizeof(*e->users));
	f->cur_user = &e->users[e->n_users++];
	memset(f->cur_user, 0, sizeof(*f->cur_user));
	f->cur_user->line = line;
}

/* One option of the current entry: kw read from t, negated by is_no. */
static void
fm_option(struct fm *f, const struct fm_kw *kw, const struct fm_tok *t,
	  bool is_no)
{
	struct fm_tok *v = NULL;
	char *list = NULL;

	if (is_no && !kw->can_no) {
		fm_note(f, t->line, "no %s: not a fetchmail option (ignored)",
			kw->names[0]);
		return;
	}
	if (!is_no) {
		switch (kw->arg) {
		case FM_ARG_NONE:
			break;
		case FM_ARG_ONE:
			while (fm_peek(f) != NULL && fm_is_noise(fm_peek(f)))
				f->pos++;
			v = fm_is_value(fm_peek(f)) ? fm_next(f, false) : NULL;
			break;
		case FM_ARG_NAME:
			v = fm_peek(f) != NULL &&
			    fm_peek(f)->kind != FM_TOK_MAP ?
			    fm_next(f, false) : NULL;
			break;
		case FM_ARG_LIST:
			list = fm_read_list(f);
			break;
		case FM_ARG_NAMES:
			break;
		}
		if ((kw->arg == FM_ARG_ONE || kw->arg == FM_ARG_NAME) &&
		    v == NULL) {
			fm_note(f, t->line, "%s: no value (ignored)", t->s);
			return;
		}
		if (kw->arg == FM_ARG_LIST && list == NULL) {
			fm_note(f, t->line, "%s: no value (ignored)", t->s);
			return;
		}
	}
	if (kw->key == FM_NOTED) {
		if (!is_no || !kw->is_no_silent)
			fm_note(f, t->line, "%s%s: not translated (%s)",
				is_no ? "no " : "", is_no ? kw->names[0] :
				t->s, kw->why);
		free(list);
		return;
	}
	if (kw->key == FM_SILENT)
		return;
	if (kw->key == FM_USER) {
		/* "user NAME here" names the local user: no remote name. */
		fm_user_new(f, t->line);
		if (fm_peek(f) != NULL && fm_peek(f)->kind == FM_TOK_WORD &&
		    strcmp(fm_peek(f)->s, "here") == 0)
			fm_val_set(&f->cur_user->s.v[FM_LOCAL], NULL, t->line,
				   false);
		else
			fm_val_set(&f->cur_user->s.v[FM_USER], v->s, t->line,
				   false);
		return;
	}
	if (kw->key == FM_LOCAL) {
		fm_read_names(f, fm_scope_for(f, kw->key), t);
		return;
	}
	fm_val_set(&fm_scope_for(f, kw->key)->v[kw->key],
		   list != NULL ? list : v != NULL ? v->s : NULL, t->line, is_no);
	free(list);
}

/* set NAME [VALUE]: the global options. */
static void
fm_set(struct fm *f, const struct fm_tok *set)
{
	static const char *const with_value[] = {
		"logfile", "idfile", "pidfile", "postmaster", "properties",
	};
	struct fm_tok *t = fm_next(f, true), *v;
	bool is_no = false;
	char *end = NULL;

	if (t != NULL && t->kind == FM_TOK_WORD && strcmp(t->s, "no") == 0) {
		is_no = true;
		t = fm_next(f, true);
	}
	if (t == NULL || t->kind != FM_TOK_WORD) {
		fm_note(f, set->line, "set: no option name (ignored)");
		return;
	}
	if (strcmp(t->s, "daemon") == 0) {
		v = fm_next(f, true);
		if (v == NULL || (f->daemon = strtoul(v->s, &end, 10), *end) ||
		    v->s[0] == '-' || f->daemon > 31 * 86400) {
			fm_note(f, t->line, "set daemon: not a number of "
				"seconds (ignored)");
			f->daemon = 0;
		}
		return;
	}
	for (size_t i = 0; i < sizeof(with_value) / sizeof(*with_value); i++)
		if (strcmp(t->s, with_value[i]) == 0) {
			if (fm_peek(f) != NULL && fm_peek(f)->kind == FM_TOK_MAP)
				f->pos++;
			if (fm_is_value(fm_peek(f)))
				f->pos++;
			break;
		}
	if (strcmp(t->s, "idfile") == 0)
		fm_note(f, t->line, "set idfile: not translated (mailsync "
			"does not read fetchmail's list of messages seen: a "
			"POP3 account with keep downloads again what the "
			"server still holds)");
	else if (strcmp(t->s, "logfile") == 0 || strcmp(t->s, "syslog") == 0)
		fm_note(f, t->line, "set %s%s: not translated (mailsyncd logs "
			"to standard error, the journal under systemd)",
			is_no ? "no " : "", t->s);
	else if (strcmp(t->s, "pidfile") == 0)
		fm_note(f, t->line, "set pidfile: not translated (mailsyncd "
			"runs in the foreground; systemd or a script tracks "
			"it)");
	else if (strcmp(t->s, "postmaster") == 0 ||
		 strcmp(t->s, "bouncemail") == 0 ||
		 strcmp(t->s, "spambounce") == 0 ||
		 strcmp(t->s, "softbounce") == 0)
		fm_note(f, t->line, "set %s%s: not translated (mailsync "
			"forwards nothing, so it bounces nothing)",
			is_no ? "no " : "", t->s);
	else if (strcmp(t->s, "invisible") == 0 ||
		 strcmp(t->s, "showdots") == 0 ||
		 strcmp(t->s, "properties") == 0)
		fm_note(f, t->line, "set %s%s: not translated", is_no ?
			"no " : "", t->s);
	else
		fm_note(f, t->line, "set %s: not a fetchmail option (ignored)",
			t->s);
}

static void
fm_entry_new(struct fm *f, const struct fm_tok *verb, const char *name)
{
	struct fm_entry *e;

	f->ents = cfg__reallocarray(f->ents, f->n_ents + 1, sizeof(*f->ents));
	e = &f->ents[f->n_ents++];
	memset(e, 0, sizeof(*e));
	e->name = name != NULL ? cfg__strdup(name) : NULL;
	e->line = verb->line;
	e->is_skip = strcmp(verb->s, "skip") == 0;
	f->cur = e;
	f->cur_user = NULL;
	if (name == NULL)
		f->dflt = f->n_ents - 1;
}

/* Skips what follows an unexpected token up to the next keyword, so that
 * a note names the first only (the rest may be a password); one right
 * after a password's value (a quote in it ended it) is not quoted. */
static void
fm_skip_unexpected(struct fm *f, const struct fm_tok *t, const char *why)
{
	size_t at = (size_t)(t - f->toks);
	bool is_after_pass = at >= 2 && f->toks[at - 2].kind == FM_TOK_WORD &&
			     (strcmp(f->toks[at - 2].s, "pass") == 0 ||
			      strcmp(f->toks[at - 2].s, "password") == 0);

	if (is_after_pass)
		fm_note(f, t->line, "the word after a password: %s (ignored "
			"up to the next keyword; a quote cannot be escaped "
			"in a quoted string)", why);
	else
		fm_note(f, t->line, "'%s': %s (ignored up to the next "
			"keyword)", t->kind == FM_TOK_STRING ?
			"a quoted string" : t->s, why);
	while (fm_peek(f) != NULL && !fm_is_keyword(fm_peek(f)))
		f->pos++;
}

static void
fm_parse(struct fm *f)
{
	struct fm_tok *t;

	f->dflt = SIZE_MAX;
	while ((t = fm_next(f, true)) != NULL) {
		const struct fm_kw *kw = NULL;
		bool is_no = false;

		if (t->kind == FM_TOK_WORD && strcmp(t->s, "set") == 0) {
			f->cur = NULL;
			fm_set(f, t);
			continue;
		}
		if (t->kind == FM_TOK_WORD && strcmp(t->s, "defaults") == 0) {
			if (f->dflt != SIZE_MAX)
				fm_note(f, t->line, "a second defaults entry: "
					"it replaces the first");
			fm_entry_new(f, t, NULL);
			continue;
		}
		if (t->kind == FM_TOK_WORD && (strcmp(t->s, "poll") == 0 ||
					       strcmp(t->s, "skip") == 0 ||
					       strcmp(t->s, "server") == 0)) {
			if (!fm_is_value(fm_peek(f))) {
				fm_note(f, t->line, "%s: no server name (the "
					"entry is ignored)", t->s);
				f->cur = NULL;
				continue;
			}
			fm_entry_new(f, t, fm_next(f, false)->s);
			continue;
		}
		if (t->kind == FM_TOK_WORD && strcmp(t->s, "no") == 0 &&
		    fm_peek(f) != NULL && fm_peek(f)->kind == FM_TOK_WORD) {
			is_no = true;
			t = fm_next(f, false);
		}
		if (t->kind == FM_TOK_WORD)
			kw = fm_kw_find(t->s);
		/* nokeep, nofetchall, ...: "no keep". */
		if (t->kind == FM_TOK_WORD && kw == NULL && !is_no &&
		    strncmp(t->s, "no", 2) == 0 &&
		    (kw = fm_kw_find(t->s + 2)) != NULL) {
			if (kw->can_no)
				is_no = true;
			else
				kw = NULL;
		}
		if (kw == NULL) {
			fm_skip_unexpected(f, t, "not a fetchmail keyword");
			continue;
		}
		if (f->cur == NULL) {
			fm_skip_unexpected(f, t, "an option outside a poll or "
					   "defaults entry");
			continue;
		}
		fm_option(f, kw, t, is_no);
	}
}

/* --- lookups -------------------------------------------------------------- */

/* key of user u of entry e (u NULL: the entry has none), else of its
 * entry, else of the defaults entry's first user, else of the defaults
 * entry; NULL when none sets it. */
static const struct fm_val *
fm_get(const struct fm *f, const struct fm_entry *e, const struct fm_user *u,
       enum fm_key key)
{
	const struct fm_entry *d = f->dflt < f->n_ents ? &f->ents[f->dflt] :
				   NULL;
	const struct fm_scope *chain[4] = {
		u != NULL ? &u->s : NULL, &e->s,
		d != NULL && d->n_users > 0 ? &d->users[0].s : NULL,
		d != NULL ? &d->s : NULL,
	};

	for (size_t i = 0; i < 4; i++)
		if (chain[i] != NULL && chain[i]->v[key].is_set)
			return &chain[i]->v[key];
	return NULL;
}

/* The string value of key, or NULL. */
static const char *
fm_str(const struct fm *f, const struct fm_entry *e, const struct fm_user *u,
       enum fm_key key)
{
	const struct fm_val *v = fm_get(f, e, u, key);

	return v != NULL ? v->s : NULL;
}

/* The flag key: 1 set, 0 negated, -1 unset. */
static int
fm_flag(const struct fm *f, const struct fm_entry *e, const struct fm_user *u,
	enum fm_key key)
{
	const struct fm_val *v = fm_get(f, e, u, key);

	return v == NULL ? -1 : v->is_no ? 0 : 1;
}

/* --- the writer -------------------------------------------------------- */

/* The Maildir an MDA command delivers into, when it is a Maildir tool
 * that takes the directory as an argument; NULL otherwise. */
static char *
fm_mda_maildir(const char *mda)
{
	char *copy = cfg__strdup(mda), *words[16], *save = NULL, *base;
	char *dir = NULL;
	size_t n = 0, k;

	for (char *w = strtok_r(copy, " \t", &save); w != NULL && n < 16;
	     w = strtok_r(NULL, " \t", &save)) {
		size_t wl = strlen(w);

		if (strcmp(w, "|") == 0 || strcmp(w, ";") == 0 ||
		    strcmp(w, "&&") == 0)
			break;
		/* Shell quotes around one word. */
		if (wl >= 2 && (w[0] == '"' || w[0] == '\'') &&
		    w[wl - 1] == w[0]) {
			w[wl - 1] = '\0';
			w++;
		}
		words[n++] = w;
	}
	if (n < 2)
		goto out;
	base = strrchr(words[0], '/') != NULL ? strrchr(words[0], '/') + 1 :
	       words[0];
	k = 1;
	if (strcmp(base, "mdeliver") == 0) {	/* mblaze: the last word */
		k = n - 1;
	} else if (strcmp(base, "safecat") == 0) {
		/* safecat TMPDIR NEWDIR: the Maildir holds NEWDIR. */
		if (n != 3)
			goto out;
		k = 2;
	} else if (strcmp(base, "deliverquota") == 0 ||
		   strcmp(base, "getmail_maildir") == 0 ||
		   strcmp(base, "getmail-maildir") == 0) {
		while (k < n && words[k][0] == '-')
			k += strcmp(words[k], "-w") == 0 ? 2 : 1;
	} else {
		goto out;
	}
	if (k >= n || words[k][0] == '-' || words[k][0] == '\0' ||
	    strchr(words[k], '%') != NULL || strpbrk(words[k], "\"'`|<>") !=
	    NULL)
		goto out;
	dir = cfg__strdup(words[k]);
	for (size_t l = strlen(dir); l > 1 && dir[l - 1] == '/'; l--)
		dir[l - 1] = '\0';
	if (strcmp(base, "safecat") == 0) {
		char *slash = strrchr(dir, '/');

		if (slash == NULL || strcmp(slash, "/new") != 0) {
			free(dir);
			dir = NULL;
			goto out;
		}
		*slash = '\0';
	}
out:
	free(copy);
	return dir;
}

/* True when Maildir a is b or holds it, or b holds a. */
static bool
fm_dirs_meet(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), l = la < lb ? la : lb;

	return strncmp(a, b, l) == 0 && (la == lb || (la < lb ? b : a)[l] ==
					 '/');
}

/*
 * The maildir of the account: the mda's, or ~/Mail/NAME with a note.  A
 * POP3 account goes on delivering where fetchmail did: the files already
 * there stay local (POP3 cannot upload).  An IMAP one gets a Maildir of
 * its own: its mirror would upload the files fetchmail delivered there
 * that the server no longer holds.
 */
static char *
fm_maildir(struct fm *f, const struct fm_entry *e, const struct fm_user *u,
	   const char *name, bool is_imap, unsigned line)
{
	const struct fm_val *mda = fm_get(f, e, u, FM_MDA);
	char *dir = mda != NULL ? fm_mda_maildir(mda->s) : NULL;
	char *dflt = cfg__printf("~/Mail/%s", name);

	if (dir != NULL && is_imap) {
		fm_note(f, mda->line, "mda: %s holds what fetchmail delivered; "
			"an IMAP mirror there would upload what the server "
			"does not have, so it gets a Maildir of its own: "
			"maildir = %s", dir, dflt);
		free(dir);
		return dflt;
	}

	for (size_t i = 0; dir != NULL && i < f->n_written; i++)
		if (f->maildirs[i] != NULL && fm_dirs_meet(dir, f->maildirs[i])) {
			fm_note(f, mda->line, "mda: %s is (or holds, or is "
				"in) account %s's maildir, and each account "
				"has a Maildir of its own: maildir = %s", dir,
				f->names[i], dflt);
			free(dir);
			return dflt;
		}
	if (dir != NULL) {
		free(dflt);
		return dir;
	}
	if (mda == NULL)
		fm_note(f, line, "account %s: fetchmail passed the mail to "
			"the local mail server (SMTP on localhost); mailsync "
			"delivers it into maildir = %s", name, dflt);
	else
		fm_note(f, mda->line, "mda: not run; mailsync delivers into "
			"maildir = %s (%s; new_mail_cmd runs a command after "
			"new mail arrived)", dflt, strstr(mda->s, "procmail") ?
			"procmail's rules are not applied" :
			"the command is not a Maildir delivery tool mailsync "
			"recognises (mdeliver, safecat, deliverquota)");
	free(dir);
	return dflt;
}

/* protocol: "pop3", "imap", or NULL when not converted (noted). */
static const char *
fm_protocol(struct fm *f, const struct fm_entry *e, const struct fm_user *u,
	    const char *name)
{
	const struct fm_val *v = fm_get(f, e, u, FM_PROTO);
	const char *port = fm_str(f, e, u, FM_PORT);

	if (v == NULL || strcasecmp(v->s, "auto") == 0) {
		/* fetchmail tries IMAP, then POP3: a POP3 port says which. */
		if (port != NULL && (strcmp(port, "110") == 0 ||
				     strcmp(port, "995") == 0 ||
				     strcmp(port, "pop3") == 0 ||
				     strcmp(port, "pop3s") == 0))
			return "pop3";
		fm_note(f, v != NULL ? v->line : e->line, "account %s: "
			"protocol auto (fetchmail tries IMAP, then POP3): "
			"written as imap; set protocol = pop3 for a server "
			"without IMAP", name);
		return "imap";
	}
	if (strcasecmp(v->s, "pop3") == 0)
		return "pop3";
	if (strcasecmp(v->s, "imap") == 0)
		return "imap";
	if (strcasecmp(v->s, "apop") == 0 || strcasecmp(v->s, "rpop") == 0 ||
	    strcasecmp(v->s, "kpop") == 0) {
		fm_note(f, v->line, "protocol %s: written as pop3 (mailsync "
			"logs in with USER and PASS, or SASL, over TLS)",
			v->s);
		return "pop3";
	}
	fm_note(f, v->line, "protocol %s: mailsync speaks IMAP and POP3: "
		"account %s not converted", v->s, name);
	return NULL;
}

/* port or service: a number, or a service name mailsync knows. */
static void
fm_write_port(struct fm *f, const struct fm_entry *e, const struct fm_user *u)
{
	static const char *const services[][2] = {
		{ "pop3", "110" }, { "pop3s", "995" }, { "imap", "143" },
		{ "imap2", "143" }, { "imaps", "993" },
	};
	const struct fm_val *v = fm_get(f, e, u, FM_PORT);

	if (v == NULL)
		return;
	for (size_t i = 0; i < sizeof(services) / sizeof(*services); i++)
		if (strcmp(v->s, services[i][0]) == 0) {
			cfg_convert_key(&f->w, v->line, "port", services[i][1]);
			return;
		}
	if (strspn(v->s, "0123456789") != strlen(v->s)) {
		fm_note(f, v->line, "service %s: not a port number: set port = "
			"by hand", v->s);
		return;
	}
	cfg_convert_key(&f->w, v->line, "port", v->s);
}

/* ssl, sslproto, sslcertck, sslcertfile. */
static void
fm_write_tls(struct fm *f, const struct fm_entry *e, const struct fm_user *u)
{
	const struct fm_val *proto = fm_get(f, e, u, FM_SSLPROTO);
	const struct fm_val *ck = fm_get(f, e, u, FM_SSLCERTCK);
	const char *file = fm_str(f, e, u, FM_SSLCERTFILE);
	const char *tls = "starttls";

	if (fm_flag(f, e, u, FM_SSL) == 1)
		tls = "implicit";
	else if (proto != NULL && proto->s[0] == '\0')
		tls = "none";
	cfg_convert_key(&f->w, e->line, "tls", tls);
	if (strcmp(tls, "none") == 0)
		fm_note(f, proto->line, "sslproto '': tls = none, which "
			"mailsync accepts for a server on this machine only");
	else if (proto != NULL && strcasecmp(proto->s, "auto") != 0 &&
		 strcasecmp(proto->s, "tls1.2+") != 0 &&
		 strcasecmp(proto->s, "tls1.3+") != 0 &&
		 strcasecmp(proto->s, "ssl23") != 0 && proto->s[0] != '\0')
		fm_note(f, proto->line, "sslproto %s: not translated (mailsync "
			"uses TLS 1.2 or later)", proto->s);
	if (ck != NULL && ck->is_no)
		fm_note(f, ck->line, "no sslcertck: not translated (mailsync "
			"always checks the certificate; pin a self-signed one "
			"with tls_fingerprint, or name its CA in ca_file)");
	cfg_convert_key(&f->w, e->line, "ca_file", file);
}

/* password, auth, and their notes; as the other converters do, a plain
 * password is written as it is, with a note. */
static void
fm_write_login(struct fm *f, const struct fm_entry *e, const struct fm_user *u,
	       const char *name)
{
	const struct fm_val *pass = fm_get(f, e, u, FM_PASSWORD);
	const struct fm_val *auth = fm_get(f, e, u, FM_AUTH);
	const char *mech = NULL;

	if (pass != NULL) {
		cfg_convert_key(&f->w, pass->line, "password", pass->s);
		if (cfg_convert_value_ok(pass->s))
			fm_note(f, pass->line, "password: written as "
				"password =, so the file must be private "
				"(chmod 600); password_cmd keeps it out of "
				"the file");
	} else {
		fm_note(f, u != NULL ? u->line : e->line, "account %s: no "
			"password (fetchmail asked for it or read ~/.netrc): "
			"set password_cmd = a command that prints it", name);
	}
	if (auth == NULL || strcmp(auth->s, "any") == 0 ||
	    strcmp(auth->s, "password") == 0)
		return;
	if (strcmp(auth->s, "cram-md5") == 0 || strcmp(auth->s, "cram") == 0)
		mech = "cram-md5";
	if (mech != NULL)
		cfg_convert_key(&f->w, auth->line, "auth", mech);
	else
		fm_note(f, auth->line, "auth %s: not translated (auth = auto: "
			"mailsync picks the strongest mechanism the server "
			"offers; OAuth needs oauth_token_cmd, a command that "
			"prints the token)", auth->s);
}

/* set daemon, times interval. */
static void
fm_write_poll(struct fm *f, const struct fm_entry *e, const struct fm_user *u)
{
	const struct fm_val *iv = fm_get(f, e, u, FM_INTERVAL);
	unsigned long n = 1;
	char *end = NULL, *d;

	if (iv != NULL && ((n = strtoul(iv->s, &end, 10)) == 0 || *end ||
			   n > 1000)) {
		fm_note(f, iv->line, "interval %s: not a number of polls "
			"(ignored)", iv->s);
		n = 1;
	}
	if (f->daemon == 0) {
		if (iv != NULL)
			fm_note(f, iv->line, "interval: no set daemon to "
				"multiply (ignored)");
		return;
	}
	d = cfg__printf("%lus", f->daemon * n);
	cfg_convert_key(&f->w, e->line, "poll_interval", d);
	free(d);
}

/* POP3: keep and fetchall. */
static void
fm_write_pop3(struct fm *f, const struct fm_entry *e, const struct fm_user *u)
{
	const struct fm_val *keep = fm_get(f, e, u, FM_KEEP);
	const struct fm_val *all = fm_get(f, e, u, FM_FETCHALL);
	const struct fm_val *folder = fm_get(f, e, u, FM_FOLDER);
	bool is_keep = keep != NULL && !keep->is_no;

	/* fetchmail's default is no keep. */
	cfg_convert_out(&f->w, "keep = %s\n", is_keep ? "yes" : "no");
	if (is_keep)
		fm_note(f, keep->line, "keep: the first pass downloads every "
			"message the server holds, also those fetchmail "
			"delivered already (mailsync does not read "
			"fetchmail's ~/.fetchids)");
	if (all != NULL && !all->is_no)
		fm_note(f, all->line, "fetchall: not translated (mailsync "
			"downloads each message the server holds once)");
	if (folder != NULL)
		fm_note(f, folder->line, "folder: not translated (POP3 has "
			"one mailbox)");
}

/* IMAP: folders, idle, and what keep meant. */
static void
fm_write_imap(struct fm *f, const struct fm_entry *e, const struct fm_user *u,
	      const char *name)
{
	const struct fm_val *keep = fm_get(f, e, u, FM_KEEP);
	const struct fm_val *folder = fm_get(f, e, u, FM_FOLDER);

	cfg_convert_key(&f->w, folder != NULL ? folder->line : e->line,
			"folders", folder != NULL ? folder->s : "INBOX");
	if (fm_flag(f, e, u, FM_IDLE) == 0)
		cfg_convert_out(&f->w, "idle = no\n");
	fm_note(f, keep != NULL ? keep->line : e->line, "account %s: IMAP is "
		"synced both ways: every message of the folders is kept in "
		"the Maildir and stays on the server (fetchmail fetched the "
		"unseen ones%s); a message deleted in the Maildir goes to the "
		"server's Trash (local_delete)", name, keep != NULL &&
		!keep->is_no ? "" : " and deleted them");
}

static void
fm_write_account(struct fm *f, const struct fm_entry *e,
		 const struct fm_user *u)
{
	const struct fm_val *user = fm_get(f, e, u, FM_USER);
	const struct fm_val *local = fm_get(f, e, u, FM_LOCAL);
	const char *host = fm_str(f, e, u, FM_VIA), *proto, *timeout;
	unsigned line = u != NULL ? u->line : e->line;
	char *name, *base, *maildir, *t;

	if (e->n_users > 1 && user != NULL)
		name = cfg__printf("%s-%s", e->name, user->s);
	else
		name = cfg__strdup(e->name);
	/* Unique: a second "poll" of one server (with via) is allowed. */
	base = name;
	name = cfg__strdup(base);
	for (size_t i = 0, k = 2; i < f->n_written; i++)
		if (strcmp(f->names[i], name) == 0) {
			free(name);
			name = cfg__printf("%s-%zu", base, k++);
			i = (size_t)-1;		/* from the first again */
		}
	free(base);
	if ((proto = fm_protocol(f, e, u, name)) == NULL) {
		free(name);
		return;
	}
	cfg_convert_account(&f->w, line, name, proto);
	cfg_convert_key(&f->w, e->line, "host", host != NULL ? host : e->name);
	fm_write_port(f, e, u);
	fm_write_tls(f, e, u);
	if ((timeout = fm_str(f, e, u, FM_TIMEOUT)) != NULL &&
	    strspn(timeout, "0123456789") == strlen(timeout)) {
		t = cfg__printf("%ss", timeout);
		cfg_convert_key(&f->w, e->line, "timeout", t);
		free(t);
	} else if (timeout != NULL) {
		fm_note(f, fm_get(f, e, u, FM_TIMEOUT)->line, "timeout %s: "
			"not a number of seconds (ignored)", timeout);
	}
	if (user != NULL)
		cfg_convert_key(&f->w, user->line, "user", user->s);
	else
		fm_note(f, line, "account %s: no user (fetchmail logs in as "
			"your login name): set user =", name);
	fm_write_login(f, e, u, name);
	if (strcmp(proto, "pop3") == 0)
		fm_write_pop3(f, e, u);
	else
		fm_write_imap(f, e, u, name);
	if (local != NULL && local->is_multi)
		fm_note(f, local->line, "is: several local names: not "
			"translated (" FM_WHY_MULTI ")");
	maildir = fm_maildir(f, e, u, name, strcmp(proto, "imap") == 0,
			     line);
	cfg_convert_key(&f->w, line, "maildir", maildir);
	fm_write_poll(f, e, u);
	f->names = cfg__reallocarray(f->names, f->n_written + 1,
				     sizeof(*f->names));
	f->maildirs = cfg__reallocarray(f->maildirs, f->n_written + 1,
					sizeof(*f->maildirs));
	f->names[f->n_written] = name;
	f->maildirs[f->n_written++] = maildir;
}

static void
fm_write(struct fm *f)
{
	for (size_t i = 0; i < f->n_ents; i++) {
		const struct fm_entry *e = &f->ents[i];

		if (e->name == NULL)
			continue;
		if (e->is_skip) {
			fm_note(f, e->line, "skip %s: fetchmail polls it only "
				"when named on its command line: not converted "
				"(make it a poll entry to convert it)",
				e->name);
			continue;
		}
		if (e->n_users == 0)
			fm_write_account(f, e, NULL);
		for (size_t j = 0; j < e->n_users; j++)
			fm_write_account(f, e, &e->users[j]);
	}
	if (f->daemon == 0 && f->w.n_accounts > 0)
		fm_note(f, 0, "no set daemon: fetchmail polled when it was "
			"run; mailsyncd polls every poll_interval (5m unless "
			"set)");
}

static void
fm_scope_free(struct fm_scope *s)
{
	for (size_t k = 0; k < FM_KEY_N; k++)
		fm_val_set(&s->v[k], NULL, 0, false);
}

static void
fm_free(struct fm *f)
{
	for (size_t i = 0; i < f->n_ents; i++) {
		for (size_t j = 0; j < f->ents[i].n_users; j++)
			fm_scope_free(&f->ents[i].users[j].s);
		fm_scope_free(&f->ents[i].s);
		free(f->ents[i].users);
		free(f->ents[i].name);
	}
	for (size_t i = 0; i < f->n_toks; i++) {
		explicit_bzero(f->toks[i].s, strlen(f->toks[i].s));
		free(f->toks[i].s);
	}
	for (size_t i = 0; i < f->n_written; i++) {
		free(f->names[i]);
		free(f->maildirs[i]);
	}
	free(f->ents);
	free(f->toks);
	free(f->names);
	free(f->maildirs);
}

/* --- the interface ----------------------------------------------------- */

static void
fm_convert(const char *text, size_t len, void *arg)
{
	struct fm *f = arg;

	fm_lex(f, text, len);
	fm_parse(f);
	fm_write(f);
}

int
cfg_fetchmail_convert(const char *file, const char *text, size_t len,
		      struct cfg_convert_result *res_r)
{
	struct fm f = { 0 };
	int rc;

	rc = cfg_convert_run(&f.w, file, "fetchmail", text, len, fm_convert,
			     &f, res_r);
	fm_free(&f);
	return rc;
}

/* "set" then one of fetchmail's global options (not "set -e"). */
static bool
fm_is_set_line(const char *p, size_t n)
{
	static const char *const opts[] = {
		"daemon", "logfile", "idfile", "pidfile", "postmaster", "no",
		"bouncemail", "spambounce", "softbounce", "syslog",
		"invisible", "showdots", "properties",
	};
	size_t i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	for (size_t k = 0; k < sizeof(opts) / sizeof(*opts); k++) {
		size_t ol = strlen(opts[k]);

		if (n - i >= ol && memcmp(p + i, opts[k], ol) == 0 &&
		    (i + ol == n || p[i + ol] == ' ' || p[i + ol] == '\t' ||
		     p[i + ol] == '\r' || p[i + ol] == '='))
			return true;
	}
	return false;
}

bool
cfg_fetchmail_looks_like(const char *text, size_t len)
{
	static const char *const verbs[] = {
		"poll", "skip", "server", "defaults", "set",
	};
	const char *p;
	size_t n, i = 0;

	if (!cfg_convert_first_line(text, len, "#", &p, &n))
		return false;
	while (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')
		i++;
	for (size_t k = 0; k < sizeof(verbs) / sizeof(*verbs); k++) {
		size_t vl = strlen(verbs[k]), j = i + vl;

		if (n - i < vl || memcmp(p + i, verbs[k], vl) != 0 ||
		    (j < n && p[j] != ' ' && p[j] != '\t' && p[j] != '\r'))
			continue;
		/* "server = x" is an INI key. */
		while (j < n && (p[j] == ' ' || p[j] == '\t'))
			j++;
		if (strcmp(verbs[k], "set") == 0)
			return fm_is_set_line(p + j, n - j);
		return j == n || p[j] != '=';
	}
	return false;
}
