/*
 * cfg_fetchmail.c - ~/.fetchmailrc to a mailsync configuration
 * (cfg_fetchmail.h).
 *
 * cfg_fetchmail_read.c reads the file into entries and users; this file
 * then makes an account of each user, looking an option up in the user,
 * its entry, and the defaults entry, in that order, as fetchmail merges
 * them.
 */
#include "cfg/cfg_fetchmail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg/cfg_convert.h"
#include "cfg/cfg_fetchmail_int.h"
#include "cfg/cfg_int.h"

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
fm_free(struct fm *f)
{
	cfg_fetchmail__read_free(f);
	for (size_t i = 0; i < f->n_written; i++) {
		free(f->names[i]);
		free(f->maildirs[i]);
	}
	free(f->names);
	free(f->maildirs);
}

/* --- the interface ----------------------------------------------------- */

static void
fm_convert(const char *text, size_t len, void *arg)
{
	struct fm *f = arg;

	cfg_fetchmail__read(f, text, len);
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
