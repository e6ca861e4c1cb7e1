/*
 * cfg_offlineimap.c - ~/.offlineimaprc to a mailsync configuration
 * (cfg_offlineimap.h).
 *
 * Two steps: the reader splits the text into sections of settings as
 * Python's configparser does; the writer then makes one [account] per
 * OfflineIMAP account from its two repositories, marking each setting it
 * used, and every setting left unused becomes a note.
 */
#include "cfg/cfg_offlineimap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg/cfg_convert.h"
#include "cfg/cfg_int.h"

#define OI_LINE_MAX 4096

struct oi_key {
	char *key;		/* lower case, as configparser keeps it */
	char *value;		/* continuation lines joined with '\n' */
	unsigned line;
	bool is_used;
};

struct oi_section {
	char *name;
	unsigned line;
	struct oi_key *keys;
	size_t n_keys;
};

struct oi {
	struct cfg_convert w;		/* the output and the notes */
	struct oi_section *secs;
	size_t n_secs;
};

#define oi_note(o, line, ...) cfg_convert_note(&(o)->w, (line), __VA_ARGS__)

/* --- the reader ------------------------------------------------------------ */

static char *
oi_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static void
oi_add_section(struct oi *o, const char *name, unsigned line)
{
	struct oi_section *sec;

	o->secs = cfg__reallocarray(o->secs, o->n_secs + 1, sizeof(*o->secs));
	sec = &o->secs[o->n_secs++];
	memset(sec, 0, sizeof(*sec));
	sec->name = cfg__strdup(name);
	sec->line = line;
}

static void
oi_add_key(struct oi *o, char *key, const char *value, unsigned line)
{
	struct oi_section *sec = &o->secs[o->n_secs - 1];
	struct oi_key *k;

	for (char *p = key; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	sec->keys = cfg__reallocarray(sec->keys, sec->n_keys + 1,
				      sizeof(*sec->keys));
	k = &sec->keys[sec->n_keys++];
	k->key = cfg__strdup(key);
	k->value = cfg__strdup(value);
	k->line = line;
	k->is_used = false;
}

/* One line (NUL-free, without its line end); *has_key says whether an
 * indented line after it continues the last setting. */
static void
oi_line(struct oi *o, char *buf, unsigned line, bool *has_key)
{
	size_t i = strspn(buf, " \t"), sep;
	char *end;

	if (buf[i] == '\0' || buf[i] == '#' || buf[i] == ';')
		return;
	if (i > 0 && *has_key) {
		struct oi_section *sec = &o->secs[o->n_secs - 1];
		struct oi_key *k = &sec->keys[sec->n_keys - 1];
		char *joined = cfg__printf("%s\n%s", k->value, oi_trim(buf));

		free(k->value);
		k->value = joined;
		return;
	}
	*has_key = false;
	if (buf[0] == '[') {
		if ((end = strchr(buf, ']')) == NULL) {
			oi_note(o, line, "a section header without ']' "
				"(ignored)");
			return;
		}
		*end = '\0';
		oi_add_section(o, buf + 1, line);
		return;
	}
	sep = strcspn(buf, "=:");
	if (buf[sep] == '\0' || i > 0) {
		oi_note(o, line, "not a setting (ignored)");
		return;
	}
	if (o->n_secs == 0) {
		oi_note(o, line, "a setting before any section (ignored)");
		return;
	}
	buf[sep] = '\0';
	oi_add_key(o, oi_trim(buf), oi_trim(buf + sep + 1), line);
	*has_key = true;
}

static void
oi_read(struct oi *o, const char *text, size_t len)
{
	char buf[OI_LINE_MAX];
	size_t pos = 0;
	unsigned line = 0;
	bool has_key = false;

	while (pos < len) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - p) : len - pos;

		pos += n + (nl != NULL);
		line++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\0', n) != NULL || n >= sizeof(buf)) {
			oi_note(o, line, "%s (ignored)", n >= sizeof(buf) ?
				"a line too long" : "a NUL byte");
			has_key = false;
			continue;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		oi_line(o, buf, line, &has_key);
	}
}

/* --- lookups ---------------------------------------------------------------- */

static struct oi_section *
oi_section(struct oi *o, const char *kind, const char *name)
{
	char want[OI_LINE_MAX + 16];

	snprintf(want, sizeof(want), "%s%s%s", kind, name != NULL ? " " : "",
		 name != NULL ? name : "");
	for (size_t i = o->n_secs; i > 0; i--)
		if (strcmp(o->secs[i - 1].name, want) == 0)
			return &o->secs[i - 1];
	return NULL;
}

/* The setting key of sec (the last one given), or of [DEFAULT]; marked
 * used.  NULL when neither has it. */
static struct oi_key *
oi_key(struct oi *o, struct oi_section *sec, const char *key)
{
	struct oi_section *dflt = oi_section(o, "DEFAULT", NULL);

	for (int pass = 0; pass < 2; pass++) {
		struct oi_section *s = pass == 0 ? sec : dflt;

		for (size_t i = s != NULL ? s->n_keys : 0; i > 0; i--)
			if (strcmp(s->keys[i - 1].key, key) == 0) {
				s->keys[i - 1].is_used = true;
				return &s->keys[i - 1];
			}
	}
	return NULL;
}

/* Its value, or NULL when unset or when it cannot be taken as it is
 * (interpolation, several lines: noted). */
static const char *
oi_get(struct oi *o, struct oi_section *sec, const char *key)
{
	struct oi_key *k = oi_key(o, sec, key);

	if (k == NULL)
		return NULL;
	if (strstr(k->value, "%(") != NULL) {
		oi_note(o, k->line, "%s: %%(...)s interpolation is not "
			"expanded: set it by hand", key);
		return NULL;
	}
	if (strchr(k->value, '\n') != NULL) {
		oi_note(o, k->line, "%s: a value of several lines: set it by "
			"hand", key);
		return NULL;
	}
	return k->value;
}

/* configparser's booleans; dflt when unset or unknown (noted). */
static bool
oi_bool(struct oi *o, struct oi_section *sec, const char *key, bool dflt)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	const char *v = oi_get(o, sec, key);

	for (size_t i = 0; v != NULL && i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return true;
		if (strcasecmp(v, no[i]) == 0)
			return false;
	}
	if (v != NULL)
		oi_note(o, oi_key(o, sec, key)->line, "%s = %s: not a yes or "
			"no; taken as %s", key, v, dflt ? "yes" : "no");
	return dflt;
}

/* --- the writer --------------------------------------------------------------- */

/* "to = " the value of setting from, noted on its line when it cannot
 * be written. */
static void
oi_write_key(struct oi *o, struct oi_section *sec, const char *from,
	     const char *to)
{
	const char *v = oi_get(o, sec, from);

	if (v != NULL)
		cfg_convert_key(&o->w, oi_key(o, sec, from)->line, to, v);
}

/* Notes a setting with no counterpart that changes what is synced. */
static void
oi_note_python(struct oi *o, struct oi_section *sec, const char *key,
	       const char *what)
{
	struct oi_key *k = oi_key(o, sec, key);

	if (k != NULL)
		oi_note(o, k->line, "%s: Python, not translated (%s)", key,
			what);
}

static const char *
oi_tls(struct oi *o, struct oi_section *rs, bool is_gmail)
{
	/* OfflineIMAP 7 and 8: ssl = yes unless said otherwise. */
	if (is_gmail || oi_bool(o, rs, "ssl", true))
		return "implicit";
	if (oi_bool(o, rs, "starttls", true))
		return "starttls";
	oi_note(o, rs->line, "Repository: ssl = no and starttls = no: tls = "
		"none, which mailsync accepts for a server on this machine "
		"only");
	return "none";
}

/* auth_mechanisms: one mechanism mailsync has is kept; else auto. */
static const char *
oi_auth(struct oi *o, struct oi_section *rs)
{
	struct oi_key *k = oi_key(o, rs, "auth_mechanisms");
	char list[OI_LINE_MAX], *save = NULL, *one = NULL;
	const char *auth = NULL;
	unsigned n = 0;

	if (k == NULL)
		return NULL;
	snprintf(list, sizeof(list), "%s", k->value);
	for (char *t = strtok_r(list, ", \t\n", &save); t != NULL;
	     t = strtok_r(NULL, ", \t\n", &save)) {
		one = t;
		n++;
	}
	if (n == 1)
		auth = cfg_convert_auth_name(one);
	if (auth == NULL || strcmp(auth, "xoauth2") == 0 ||
	    strcmp(auth, "oauthbearer") == 0) {
		oi_note(o, k->line, "auth_mechanisms: auth = auto (mailsync "
			"picks the strongest mechanism the server offers; "
			"OAuth needs oauth_token_cmd, a command that prints "
			"the token)");
		return NULL;
	}
	return auth;
}

/* remotepass, remotepassfile, remotepasseval. */
static void
oi_write_password(struct oi *o, struct oi_section *rs)
{
	const char *pass = oi_get(o, rs, "remotepass");
	const char *file = oi_get(o, rs, "remotepassfile");
	struct oi_key *k;
	char *cmd;

	if (file != NULL &&
	    strspn(file, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789_./~-+") == strlen(file)) {
		cmd = cfg__printf("head -n 1 %s", file);
		cfg_convert_key(&o->w, rs->line, "password_cmd", cmd);
		free(cmd);
	} else if (file != NULL) {
		oi_note(o, oi_key(o, rs, "remotepassfile")->line,
			"remotepassfile: a path with characters a shell would "
			"read: set password_cmd by hand");
	} else if (pass != NULL) {
		k = oi_key(o, rs, "remotepass");
		cfg_convert_key(&o->w, k->line, "password", pass);
		oi_note(o, k->line, "remotepass: written as password =, so "
			"the file must be private (chmod 600); password_cmd "
			"keeps it out of the file");
	}
	oi_note_python(o, rs, "remotepasseval", "set password_cmd = a "
		       "command that prints the password");
	oi_note_python(o, rs, "remoteusereval", "set user =");
}

/* The remote repository's settings into the account. */
static void
oi_write_remote(struct oi *o, struct oi_section *rs, bool is_gmail,
		const char *host)
{
	const char *ca = oi_get(o, rs, "sslcacertfile");

	if (oi_key(o, rs, "remotehost") != NULL)
		oi_write_key(o, rs, "remotehost", "host");
	else
		cfg_convert_key(&o->w, rs->line, "host", host);
	oi_write_key(o, rs, "remoteport", "port");
	cfg_convert_key(&o->w, rs->line, "tls", oi_tls(o, rs, is_gmail));
	if (ca != NULL && strcmp(ca, "OS-DEFAULT") != 0)
		oi_write_key(o, rs, "sslcacertfile", "ca_file");
	oi_write_key(o, rs, "remoteuser", "user");
	oi_write_password(o, rs);
	cfg_convert_key(&o->w, rs->line, "auth", oi_auth(o, rs));
	if (oi_bool(o, rs, "readonly", false))
		cfg_convert_out(&o->w, "direction = pull\n");
	oi_note_python(o, rs, "folderfilter", "list the folders to sync "
		       "with folders =");
	oi_note_python(o, rs, "folderincludes", "list the folders to sync "
		       "with folders =");
	oi_note_python(o, rs, "nametrans", "mailsync names Maildir folders "
		       "as the server does");
	/* mailsync compresses when the server offers it. */
	(void)oi_key(o, rs, "usecompression");
	(void)oi_key(o, rs, "type");
}

/* The local repository: maildir =, or a note why none. */
static void
oi_write_local(struct oi *o, struct oi_section *acc, const char *name)
{
	const char *local = oi_get(o, acc, "localrepository");
	struct oi_section *ls = local != NULL ?
				oi_section(o, "Repository", local) : NULL;
	const char *type = ls != NULL ? oi_get(o, ls, "type") : NULL;
	const char *dir = ls != NULL ? oi_get(o, ls, "localfolders") : NULL;
	const char *sep = ls != NULL ? oi_get(o, ls, "sep") : NULL;

	if (type == NULL || dir == NULL || (strcasecmp(type, "Maildir") != 0 &&
					    strcasecmp(type, "GmailMaildir") != 0)) {
		oi_note(o, acc->line, "Account %s: no local Maildir repository "
			"with localfolders: synced into the store only (add "
			"maildir = to read it)", name);
		return;
	}
	oi_write_key(o, ls, "localfolders", "maildir");
	oi_note(o, ls->line, "Repository %s: OfflineIMAP keeps INBOX in %s/INBOX "
		"and other folders as %s-separated names; mailsync keeps INBOX "
		"at the top of maildir = %s and other folders in "
		"subdirectories", local, dir, sep != NULL ? sep : ".", dir);
	oi_note_python(o, ls, "nametrans", "mailsync names Maildir folders "
		       "as the server does");
}

/* autorefresh (minutes, maybe fractional) as poll_interval. */
static void
oi_write_refresh(struct oi *o, struct oi_section *acc)
{
	const char *v = oi_get(o, acc, "autorefresh");
	char *end = NULL, *d;
	double min;

	if (v == NULL)
		return;
	min = strtod(v, &end);
	if (end == v || *end != '\0' || !(min > 0) || min > 525600) {
		oi_note(o, oi_key(o, acc, "autorefresh")->line, "autorefresh "
			"= %s: not a number of minutes", v);
		return;
	}
	d = cfg__printf("%lus", (unsigned long)(min * 60 + 0.5));
	cfg_convert_key(&o->w, acc->line, "poll_interval", d);
	free(d);
}

static void
oi_write_account(struct oi *o, const char *name, unsigned line)
{
	struct oi_section *acc = oi_section(o, "Account", name), *rs;
	const char *remote, *type, *host;
	bool is_gmail;

	if (acc == NULL) {
		oi_note(o, line, "accounts: no [Account %s] section", name);
		return;
	}
	remote = oi_get(o, acc, "remoterepository");
	rs = remote != NULL ? oi_section(o, "Repository", remote) : NULL;
	type = rs != NULL ? oi_get(o, rs, "type") : NULL;
	if (rs == NULL || type == NULL) {
		oi_note(o, acc->line, "Account %s: no remote repository with a "
			"type (remoterepository = a [Repository] section): not "
			"converted", name);
		return;
	}
	is_gmail = strcasecmp(type, "Gmail") == 0;
	if (!is_gmail && strcasecmp(type, "IMAP") != 0) {
		oi_note(o, rs->line, "Repository %s: type %s is not an IMAP "
			"server: account %s not converted", remote, type, name);
		return;
	}
	host = oi_get(o, rs, "remotehost");
	if (host == NULL && is_gmail)
		host = "imap.gmail.com";
	if (host == NULL) {
		oi_note(o, rs->line, "Repository %s: no remotehost: account %s "
			"not converted", remote, name);
		return;
	}
	cfg_convert_account(&o->w, acc->line, name, "imap");
	oi_write_remote(o, rs, is_gmail, host);
	oi_write_local(o, acc, name);
	oi_write_refresh(o, acc);
	/* Passes are cheap without it (CONDSTORE, QRESYNC). */
	(void)oi_key(o, acc, "quick");
}

/* The accounts [general] names, else every [Account] section. */
static void
oi_write_accounts(struct oi *o)
{
	struct oi_section *gen = oi_section(o, "general", NULL);
	struct oi_key *k = gen != NULL ? oi_key(o, gen, "accounts") : NULL;
	char *list, *save = NULL;

	if (k == NULL) {
		for (size_t i = 0; i < o->n_secs; i++)
			if (strncmp(o->secs[i].name, "Account ", 8) == 0)
				oi_write_account(o, o->secs[i].name + 8,
						 o->secs[i].line);
		return;
	}
	list = cfg__strdup(k->value);
	for (char *t = strtok_r(list, ", \t\n", &save); t != NULL;
	     t = strtok_r(NULL, ", \t\n", &save))
		oi_write_account(o, t, k->line);
	free(list);
}

/* Every setting no account used: not translated. */
static void
oi_note_unused(struct oi *o)
{
	for (size_t i = 0; i < o->n_secs; i++)
		for (size_t j = 0; j < o->secs[i].n_keys; j++) {
			const struct oi_key *k = &o->secs[i].keys[j];

			if (!k->is_used)
				oi_note(o, k->line, "[%s] %s: not translated",
					o->secs[i].name, k->key);
		}
}

static void
oi_free(struct oi *o)
{
	for (size_t i = 0; i < o->n_secs; i++) {
		for (size_t j = 0; j < o->secs[i].n_keys; j++) {
			/* A remotepass is a secret. */
			explicit_bzero(o->secs[i].keys[j].value,
				       strlen(o->secs[i].keys[j].value));
			free(o->secs[i].keys[j].key);
			free(o->secs[i].keys[j].value);
		}
		free(o->secs[i].keys);
		free(o->secs[i].name);
	}
	free(o->secs);
}

/* --- the interface -------------------------------------------------------------- */

int
cfg_offlineimap_convert(const char *file, const char *text, size_t len,
			struct cfg_convert_result *res_r)
{
	struct oi o = { 0 };
	int rc;

	cfg_convert_init(&o.w, file, "OfflineIMAP");
	if (len > CFG_CONVERT_MAX) {
		oi_note(&o, 0, "larger than %d bytes: not an OfflineIMAP "
			"configuration?", CFG_CONVERT_MAX);
	} else {
		oi_read(&o, text, len);
		oi_write_accounts(&o);
		oi_note_unused(&o);
	}
	rc = cfg_convert_finish(&o.w, "OfflineIMAP", res_r);
	oi_free(&o);
	return rc;
}

/* A line of text starts with head (at the start of the line). */
static bool
oi_has_line(const char *text, size_t len, const char *head)
{
	size_t hl = strlen(head);

	for (size_t pos = 0; pos + hl <= len; pos++)
		if ((pos == 0 || text[pos - 1] == '\n') &&
		    memcmp(text + pos, head, hl) == 0)
			return true;
	return false;
}

bool
cfg_offlineimap_looks_like(const char *text, size_t len)
{
	static const char *const heads[] = {
		"[general]", "[DEFAULT]", "[Account ", "[Repository ",
	};
	size_t pos = 0;

	/* mailsync's own configuration starts with [general] too. */
	if (!oi_has_line(text, len, "[Account ") &&
	    !oi_has_line(text, len, "[Repository "))
		return false;
	while (pos < len) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - p) : len - pos, i;

		pos += n + (nl != NULL);
		i = 0;
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
			i++;
		if (i == n || p[i] == '#' || p[i] == ';')
			continue;
		for (size_t k = 0; k < sizeof(heads) / sizeof(*heads); k++)
			if (i == 0 && n >= strlen(heads[k]) &&
			    strncmp(p, heads[k], strlen(heads[k])) == 0)
				return true;
		return false;
	}
	return false;
}
