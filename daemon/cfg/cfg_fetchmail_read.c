/*
 * cfg_fetchmail_read.c - a .fetchmailrc read into entries and users
 * (cfg_fetchmail_int.h).
 *
 * The lexer cuts the text into fetchmail's tokens (its rcfile lexer's
 * rules); the parser files each option under the entry or its current
 * user (options before an entry's first user apply to all its users),
 * noting at once what has no counterpart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg/cfg_fetchmail_int.h"
#include "cfg/cfg_int.h"

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

static void
fm_scope_free(struct fm_scope *s)
{
	for (size_t k = 0; k < FM_KEY_N; k++)
		fm_val_set(&s->v[k], NULL, 0, false);
}

/* --- the interface ------------------------------------------------------ */

void
cfg_fetchmail__read(struct fm *f, const char *text, size_t len)
{
	fm_lex(f, text, len);
	fm_parse(f);
}

void
cfg_fetchmail__read_free(struct fm *f)
{
	for (size_t i = 0; i < f->n_ents; i++) {
		for (size_t j = 0; j < f->ents[i].n_users; j++)
			fm_scope_free(&f->ents[i].users[j].s);
		fm_scope_free(&f->ents[i].s);
		free(f->ents[i].users);
		free(f->ents[i].name);
	}
	/* The tokens hold the passwords. */
	for (size_t i = 0; i < f->n_toks; i++) {
		explicit_bzero(f->toks[i].s, strlen(f->toks[i].s));
		free(f->toks[i].s);
	}
	free(f->ents);
	free(f->toks);
}
