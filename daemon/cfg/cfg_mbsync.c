/*
 * cfg_mbsync.c - ~/.mbsyncrc to a mailsync configuration (cfg_mbsync.h).
 *
 * Two steps: the reader splits the text into lines of words and files
 * each keyword into the section it belongs to (accounts, stores,
 * channels), noting what has no mailsync counterpart; the writer then
 * makes one [account] per IMAP account from what its channels pair it
 * with.
 */
#include "cfg/cfg_mbsync.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg/cfg_convert.h"
#include "cfg/cfg_int.h"

#define MBS_MAX_WORDS 32	/* words of one line kept (Patterns) */
#define MBS_LINE_MAX 4096

enum mbs_kind {
	MBS_NONE = 0,		/* global options, before any section */
	MBS_ACCOUNT,
	MBS_IMAP_STORE,
	MBS_MAILDIR_STORE,
	MBS_CHANNEL,
	MBS_GROUP,
};

struct mbs_account {
	char *name;
	unsigned line;
	char *host, *port, *user, *pass, *pass_cmd, *tls, *ca_file, *timeout;
	const char *auth;	/* mailsync's auth value; NULL: auto */
	bool has_tunnel;
};

struct mbs_store {
	char *name;
	unsigned line;
	bool is_imap;
	char *account;		/* IMAP: the IMAPAccount's name */
	char *path, *inbox;	/* Maildir */
	/* SubFolders as mailsync's maildir_layout; NULL: Verbatim (and
	 * mbsync's default, which nests no folder). */
	const char *layout;
};

/* A Channel's side: ":store:box". */
struct mbs_side {
	char *store;
	char *box;		/* NULL: none given */
};

struct mbs_channel {
	char *name;
	unsigned line;
	struct mbs_side far, near;
	char **patterns;
	size_t n_patterns;
	bool is_pull_only;
	bool has_sync;
	char *sync_state;	/* SyncState; NULL: none given */
};

struct mbs {
	const char *file;
	struct mbs_account *accounts;
	size_t n_accounts;
	struct mbs_store *stores;
	size_t n_stores;
	struct mbs_channel *channels;
	size_t n_channels;
	struct cfg_convert w;		/* the output and the notes */
	/* Global options: the defaults of every later channel (Sync). */
	struct mbs_channel global;
	/* The section being read, and its object. */
	enum mbs_kind kind;
	void *cur;
};

/* What is noted goes with the writer's notes. */
#define mbs_note(m, line, ...) cfg_convert_note(&(m)->w, (line), __VA_ARGS__)

/* --- the reader ------------------------------------------------------------ */

/*
 * Splits line (len bytes) into words as mbsync does: white space
 * separates, "..." quotes, a backslash takes the next character as it
 * is, '#' at the start of a word ends the line.  The words are written
 * into buf (len + 1 bytes or more).  Returns the count, or -1 with why
 * set for an unterminated quote or escape.
 */
static int
mbs_split(const char *line, size_t len, char *buf, char **words,
	  const char **why_r)
{
	size_t i = 0, o = 0;
	int n = 0;

	for (;;) {
		bool is_quoted = false, is_escaped = false;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len || line[i] == '#')
			return n;
		if (n < MBS_MAX_WORDS)
			words[n] = buf + o;
		for (; i < len; i++) {
			char c = line[i];

			if (is_escaped) {
				is_escaped = false;
				buf[o++] = c;
			} else if (c == '\\') {
				is_escaped = true;
			} else if (c == '"') {
				is_quoted = !is_quoted;
			} else if (!is_quoted && (c == ' ' || c == '\t')) {
				break;
			} else {
				buf[o++] = c;
			}
		}
		buf[o++] = '\0';
		if (is_quoted || is_escaped) {
			*why_r = is_quoted ? "missing closing quote" :
				 "unterminated escape";
			return -1;
		}
		if (n < MBS_MAX_WORDS)
			n++;
	}
}

static struct mbs_account *
mbs_account_find(struct mbs *m, const char *name)
{
	for (size_t i = 0; i < m->n_accounts; i++)
		if (strcmp(m->accounts[i].name, name) == 0)
			return &m->accounts[i];
	return NULL;
}

static struct mbs_store *
mbs_store_find(struct mbs *m, const char *name)
{
	for (size_t i = 0; i < m->n_stores; i++)
		if (strcmp(m->stores[i].name, name) == 0)
			return &m->stores[i];
	return NULL;
}

static struct mbs_account *
mbs_account_add(struct mbs *m, const char *name, unsigned line)
{
	struct mbs_account *a;

	m->accounts = cfg__reallocarray(m->accounts, m->n_accounts + 1,
					sizeof(*m->accounts));
	a = &m->accounts[m->n_accounts++];
	memset(a, 0, sizeof(*a));
	a->name = cfg__strdup(name);
	a->line = line;
	return a;
}

/* Replaces *field with a copy of value. */
static void
mbs_set(char **field, const char *value)
{
	free(*field);
	*field = cfg__strdup(value);
}

/*
 * AuthMechs: the mailsync auth that honours the list, or NULL for auto.
 * One mechanism mailsync has is kept as it is; an OAuth one wins (the
 * PassCmd is then a token command); any other list is auto.
 */
static const char *
mbs_auth(struct mbs *m, unsigned line, char **w, int n)
{
	const char *one = NULL;

	for (int i = 1; i < n; i++) {
		const char *a = cfg_convert_auth_name(w[i]);

		if (a != NULL && (strcmp(a, "xoauth2") == 0 ||
				  strcmp(a, "oauthbearer") == 0))
			return a;
	}
	if (n == 2)
		one = cfg_convert_auth_name(w[1]);
	if (one == NULL && !(n == 2 && strcmp(w[1], "*") == 0))
		mbs_note(m, line, "AuthMechs: auth = auto (mailsync picks the "
			 "strongest mechanism the server offers, SCRAM-SHA-256 "
			 "first)");
	return one;
}

/* The keys of an IMAP account (IMAPAccount, or an IMAPStore's own).
 * Returns false for a key that is none of them. */
static bool
mbs_account_key(struct mbs *m, struct mbs_account *a, unsigned line,
		char **w, int n)
{
	const char *k = w[0];

	if (strcasecmp(k, "Host") == 0) {
		mbs_set(&a->host, w[1]);
	} else if (strcasecmp(k, "Port") == 0) {
		mbs_set(&a->port, w[1]);
	} else if (strcasecmp(k, "User") == 0) {
		mbs_set(&a->user, w[1]);
	} else if (strcasecmp(k, "Pass") == 0) {
		mbs_set(&a->pass, w[1]);
	} else if (strcasecmp(k, "PassCmd") == 0) {
		/* "+cmd": mbsync lets the command use the terminal;
		 * mailsync runs it without one. */
		if (w[1][0] == '+')
			mbs_note(m, line, "PassCmd +: the command runs without "
				 "a terminal under mailsyncd (a gpg or pass "
				 "agent must be unlocked already)");
		mbs_set(&a->pass_cmd, w[1] + (w[1][0] == '+'));
	} else if (strcasecmp(k, "SSLType") == 0 ||
		   strcasecmp(k, "TLSType") == 0) {
		mbs_set(&a->tls, w[1]);
	} else if (strcasecmp(k, "CertificateFile") == 0) {
		mbs_set(&a->ca_file, w[1]);
		mbs_note(m, line, "CertificateFile: ca_file = %s; mbsync "
			 "trusted it besides the system's authorities, "
			 "mailsync trusts only it (for a self-signed server "
			 "tls_fingerprint pins its certificate)", w[1]);
	} else if (strcasecmp(k, "AuthMechs") == 0 ||
		   strcasecmp(k, "AuthMech") == 0) {
		a->auth = mbs_auth(m, line, w, n);
	} else if (strcasecmp(k, "Timeout") == 0) {
		if (strcmp(w[1], "0") == 0)
			mbs_note(m, line, "Timeout 0: not translated (mailsync "
				 "always has one; default 30s)");
		else
			mbs_set(&a->timeout, w[1]);
	} else if (strcasecmp(k, "Tunnel") == 0) {
		a->has_tunnel = true;
		mbs_note(m, line, "Tunnel: not translated (mailsync connects "
			 "to host and port itself, over TLS)");
	} else if (strcasecmp(k, "SSLVersions") == 0 ||
		   strcasecmp(k, "TLSVersions") == 0) {
		mbs_note(m, line, "%s: not translated (mailsync uses TLS 1.2 "
			 "or later)", k);
	} else if (strcasecmp(k, "UserCmd") == 0 ||
		   strcasecmp(k, "SystemCertificates") == 0 ||
		   strcasecmp(k, "ClientCertificate") == 0 ||
		   strcasecmp(k, "ClientKey") == 0 ||
		   strcasecmp(k, "CipherString") == 0 ||
		   strcasecmp(k, "PipelineDepth") == 0 ||
		   strcasecmp(k, "DisableExtension") == 0 ||
		   strcasecmp(k, "DisableExtensions") == 0 ||
		   strcasecmp(k, "LocalIP") == 0 ||
		   strcasecmp(k, "Sasl") == 0 ||
		   strcasecmp(k, "RequireSSL") == 0 ||
		   strcasecmp(k, "UseIMAPS") == 0 ||
		   strcasecmp(k, "RequireCRAM") == 0) {
		mbs_note(m, line, "%s: not translated (mailsync has no such "
			 "setting)", k);
	} else {
		return false;
	}
	return true;
}

/* ":store:box" into side; false when malformed. */
static bool
mbs_side_parse(const char *spec, struct mbs_side *side)
{
	const char *colon;

	if (spec[0] != ':' || (colon = strchr(spec + 1, ':')) == NULL)
		return false;
	free(side->store);
	free(side->box);
	side->store = cfg__printf("%.*s", (int)(colon - spec - 1), spec + 1);
	side->box = colon[1] != '\0' ? cfg__strdup(colon + 1) : NULL;
	return true;
}

/* Sync: pull only when nothing goes toward the server. */
static void
mbs_sync(struct mbs *m, struct mbs_channel *c, unsigned line, char **w,
	 int n)
{
	bool has_push = false, has_part = false;

	c->has_sync = true;
	for (int i = 1; i < n; i++) {
		if (strncasecmp(w[i], "Push", 4) == 0 ||
		    strcasecmp(w[i], "All") == 0 ||
		    strcasecmp(w[i], "Full") == 0)
			has_push = true;
		if (strcasecmp(w[i], "Pull") != 0 &&
		    strcasecmp(w[i], "Push") != 0 &&
		    strcasecmp(w[i], "All") != 0 &&
		    strcasecmp(w[i], "Full") != 0)
			has_part = true;
	}
	/* New, Flags, Delete... alone go both ways in mbsync. */
	c->is_pull_only = !has_push && !(has_part && n == 2 &&
					 strncasecmp(w[1], "Pull", 4) != 0);
	if (has_part)
		mbs_note(m, line, "Sync %s: mailsync syncs new messages, flags "
			 "and deletions together (direction = %s)", w[1],
			 c->is_pull_only ? "pull" : "both");
	else if (has_push && !c->is_pull_only && n == 2 &&
		 strcasecmp(w[1], "Push") == 0)
		mbs_note(m, line, "Sync Push: mailsync always takes the "
			 "server's changes (direction = both)");
}

static void
mbs_channel_key(struct mbs *m, struct mbs_channel *c, unsigned line, char **w,
		int n)
{
	const char *k = w[0];
	struct mbs_side *side = NULL;

	if (strcasecmp(k, "Far") == 0 || strcasecmp(k, "Master") == 0)
		side = &c->far;
	else if (strcasecmp(k, "Near") == 0 || strcasecmp(k, "Slave") == 0)
		side = &c->near;
	if (side != NULL) {
		if (!mbs_side_parse(w[1], side))
			mbs_note(m, line, "%s %s: not a ':store:box' "
				 "(ignored)", k, w[1]);
	} else if (strcasecmp(k, "Pattern") == 0 ||
		   strcasecmp(k, "Patterns") == 0) {
		for (int i = 1; i < n; i++) {
			c->patterns = cfg__reallocarray(c->patterns,
							c->n_patterns + 1,
							sizeof(*c->patterns));
			c->patterns[c->n_patterns++] = cfg__strdup(w[i]);
		}
	} else if (strcasecmp(k, "Sync") == 0) {
		mbs_sync(m, c, line, w, n);
	} else if (strcasecmp(k, "Expunge") == 0) {
		mbs_note(m, line, "Expunge %s: not translated (a message a "
			 "reader deletes from the Maildir is deleted on the "
			 "server; see mailsync.conf(5))", w[1]);
	} else if (strcasecmp(k, "Create") == 0 ||
		   strcasecmp(k, "Remove") == 0) {
		mbs_note(m, line, "%s %s: not translated (mailsync creates "
			 "and removes folders on both sides as they come and "
			 "go)", k, w[1]);
	} else if (strcasecmp(k, "SyncState") == 0) {
		/* Where the migration finds mbsync's state: mbsync_state. */
		mbs_set(&c->sync_state, w[1]);
	} else if (strcasecmp(k, "CopyArrivalDate") == 0) {
		/* mailsync keeps the server's INTERNALDATE anyway. */
	} else {
		mbs_note(m, line, "%s: not translated (mailsync has no such "
			 "setting)", k);
	}
}

static void
mbs_maildir_key(struct mbs *m, struct mbs_store *s, unsigned line, char **w)
{
	const char *k = w[0];

	if (strcasecmp(k, "Path") == 0) {
		size_t n = strlen(w[1]);

		/* "~/Mail/work/": mbsync wants the slash, mailsync none. */
		while (n > 1 && w[1][n - 1] == '/')
			w[1][--n] = '\0';
		mbs_set(&s->path, w[1]);
	} else if (strcasecmp(k, "Inbox") == 0) {
		mbs_set(&s->inbox, w[1]);
	} else if (strcasecmp(k, "SubFolders") == 0) {
		s->layout = NULL;
		if (strcasecmp(w[1], "Maildir++") == 0)
			s->layout = "maildir++";
		else if (strcasecmp(w[1], "Legacy") == 0)
			s->layout = "legacy";
		else if (strcasecmp(w[1], "Verbatim") != 0)
			mbs_note(m, line, "SubFolders %s: not translated "
				 "(mailsync nests folders as SubFolders "
				 "Verbatim, Maildir++ or Legacy do)", w[1]);
	} else {
		mbs_note(m, line, "%s: not translated (mailsync has no such "
			 "setting)", k);
	}
}

/* Starts a section for keyword k (name w1); false when k starts none. */
static bool
mbs_section_start(struct mbs *m, const char *k, const char *w1, unsigned line)
{
	struct mbs_store *s;
	struct mbs_channel *c;

	if (strcasecmp(k, "IMAPAccount") == 0) {
		m->kind = MBS_ACCOUNT;
		m->cur = mbs_account_add(m, w1, line);
	} else if (strcasecmp(k, "IMAPStore") == 0 ||
		   strcasecmp(k, "MaildirStore") == 0) {
		m->stores = cfg__reallocarray(m->stores, m->n_stores + 1,
					      sizeof(*m->stores));
		s = &m->stores[m->n_stores++];
		memset(s, 0, sizeof(*s));
		s->name = cfg__strdup(w1);
		s->line = line;
		s->is_imap = strcasecmp(k, "IMAPStore") == 0;
		m->kind = s->is_imap ? MBS_IMAP_STORE : MBS_MAILDIR_STORE;
		m->cur = s;
	} else if (strcasecmp(k, "Channel") == 0) {
		m->channels = cfg__reallocarray(m->channels, m->n_channels + 1,
						sizeof(*m->channels));
		c = &m->channels[m->n_channels++];
		memset(c, 0, sizeof(*c));
		c->name = cfg__strdup(w1);
		c->line = line;
		c->is_pull_only = m->global.is_pull_only;
		c->has_sync = m->global.has_sync;
		m->kind = MBS_CHANNEL;
		m->cur = c;
	} else if (strcasecmp(k, "Group") == 0) {
		/* Groups only name sets of channels to run together;
		 * mailsync runs every account. */
		m->kind = MBS_GROUP;
		m->cur = NULL;
	} else {
		return false;
	}
	return true;
}

/* One line of words (n > 0) in the current section. */
static void
mbs_line(struct mbs *m, unsigned line, char **w, int n)
{
	struct mbs_store *s = m->cur;
	struct mbs_account *a;

	if (n < 2) {
		mbs_note(m, line, "%s: no value (ignored)", w[0]);
		return;
	}
	/* A group's members; mailsync runs every account anyway. */
	if (m->kind == MBS_GROUP && (strcasecmp(w[0], "Channel") == 0 ||
				     strcasecmp(w[0], "Channels") == 0))
		return;
	if (mbs_section_start(m, w[0], w[1], line))
		return;
	switch (m->kind) {
	case MBS_ACCOUNT:
		if (!mbs_account_key(m, m->cur, line, w, n))
			mbs_note(m, line, "%s: not translated (mailsync has no "
				 "such setting)", w[0]);
		break;
	case MBS_IMAP_STORE:
		if (strcasecmp(w[0], "Account") == 0) {
			mbs_set(&s->account, w[1]);
			break;
		}
		/* An IMAPStore may hold its account's keys itself: the
		 * first of them makes an account of the store's name. */
		a = s->account != NULL ? mbs_account_find(m, s->account) :
		    NULL;
		if (a == NULL && s->account == NULL) {
			a = mbs_account_add(m, s->name, line);
			if (mbs_account_key(m, a, line, w, n)) {
				mbs_set(&s->account, s->name);
				break;
			}
			free(a->name);
			m->n_accounts--;
			a = NULL;
		}
		if (a != NULL && mbs_account_key(m, a, line, w, n))
			break;
		if (strcasecmp(w[0], "UseNamespace") == 0 &&
		    strcasecmp(w[1], "no") != 0)
			break;	/* mailsync strips the namespace too */
		mbs_note(m, line, "%s: not translated (mailsync has no such "
			 "setting)", w[0]);
		break;
	case MBS_MAILDIR_STORE:
		mbs_maildir_key(m, s, line, w);
		break;
	case MBS_CHANNEL:
		mbs_channel_key(m, m->cur, line, w, n);
		break;
	case MBS_GROUP:
		break;
	case MBS_NONE:
		/* Global options: defaults for every channel. */
		if (strcasecmp(w[0], "FSync") == 0 ||
		    strcasecmp(w[0], "BufferLimit") == 0 ||
		    strcasecmp(w[0], "FieldDelimiter") == 0)
			mbs_note(m, line, "%s: not translated (mailsync has "
				 "no such setting)", w[0]);
		else
			mbs_channel_key(m, &m->global, line, w, n);
		break;
	}
}

static void
mbs_read(struct mbs *m, const char *text, size_t len)
{
	char buf[MBS_LINE_MAX + 1], *w[MBS_MAX_WORDS];
	size_t pos = 0;
	unsigned line = 0;

	while (pos < len) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - p) : len - pos;
		const char *why = NULL;
		int nw;

		pos += n + (nl != NULL);
		line++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > MBS_LINE_MAX) {
			mbs_note(m, line, "line longer than %d characters "
				 "(ignored)", MBS_LINE_MAX);
			continue;
		}
		if (memchr(p, '\0', n) != NULL) {
			mbs_note(m, line, "a NUL byte (ignored)");
			continue;
		}
		if ((nw = mbs_split(p, n, buf, w, &why)) < 0) {
			mbs_note(m, line, "%s (ignored)", why);
			continue;
		}
		/* A blank line ends a section; a comment does not. */
		if (nw == 0) {
			if (memchr(p, '#', n) == NULL && m->kind != MBS_NONE) {
				m->kind = MBS_NONE;
				m->cur = NULL;
			}
			continue;
		}
		mbs_line(m, line, w, nw);
	}
}

/* --- the writer --------------------------------------------------------- */

/* The IMAP account a channel's side names, or NULL. */
static struct mbs_account *
mbs_side_account(struct mbs *m, const struct mbs_side *side)
{
	struct mbs_store *s = side->store != NULL ?
		mbs_store_find(m, side->store) : NULL;

	if (s == NULL || !s->is_imap || s->account == NULL)
		return NULL;
	return mbs_account_find(m, s->account);
}

static struct mbs_store *
mbs_side_maildir(struct mbs *m, const struct mbs_side *side)
{
	struct mbs_store *s = side->store != NULL ?
		mbs_store_find(m, side->store) : NULL;

	return s != NULL && !s->is_imap ? s : NULL;
}

/* What the account's channels sync: folders, maildir, direction. */
struct mbs_plan {
	char *folders;
	const struct mbs_store *maildir;
	const char *sync_state;		/* the first channel's; NULL: "*" */
	bool has_sync_state;
	unsigned n_channels;
	bool is_pull;
	bool has_exclude;
};

/*
 * Where the channel kept its state: its SyncState, else the global one,
 * else mbsync's default ~/.mbsync/ (the migration reads it there:
 * mbsync_state); "*" is in each Maildir, where it is read anyway.
 */
static void
mbs_plan_sync_state(struct mbs *m, struct mbs_plan *plan,
		    const struct mbs_channel *c)
{
	const char *st = c->sync_state != NULL ? c->sync_state :
			 m->global.sync_state != NULL ? m->global.sync_state :
			 "~/.mbsync/";

	if (strcmp(st, "*") == 0)
		st = NULL;
	if (!plan->has_sync_state) {
		plan->has_sync_state = true;
		plan->sync_state = st;
	} else if ((st == NULL) != (plan->sync_state == NULL) ||
		   (st != NULL && strcmp(st, plan->sync_state) != 0)) {
		mbs_note(m, c->line, "Channel %s: SyncState %s differs from "
			 "the account's other channels' (%s): mbsync_state "
			 "names one", c->name, st != NULL ? st : "*",
			 plan->sync_state != NULL ? plan->sync_state : "*");
	}
}

static void
mbs_plan_channel(struct mbs *m, struct mbs_plan *plan,
		 const struct mbs_channel *c, const struct mbs_side *remote,
		 const struct mbs_side *local)
{
	const struct mbs_store *md = mbs_side_maildir(m, local);

	if (md == NULL) {
		mbs_note(m, c->line, "Channel %s: its other side is not a "
			 "MaildirStore (skipped)", c->name);
		return;
	}
	if (plan->maildir == NULL)
		plan->maildir = md;
	else if (plan->maildir != md)
		mbs_note(m, c->line, "Channel %s: its Maildir %s differs from "
			 "the account's other channels' (%s): mailsync has one "
			 "maildir per account", c->name, md->path != NULL ?
			 md->path : md->name, plan->maildir->path != NULL ?
			 plan->maildir->path : plan->maildir->name);
	plan->n_channels++;
	plan->is_pull = (plan->n_channels == 1 || plan->is_pull) &&
			c->is_pull_only;
	mbs_plan_sync_state(m, plan, c);
	if (remote->box != NULL) {
		cfg_convert_folder_add(&plan->folders, remote->box);
		if (local->box != NULL &&
		    strcmp(local->box, remote->box) != 0 &&
		    !(strcasecmp(remote->box, "INBOX") == 0 &&
		      strcasecmp(local->box, "INBOX") == 0))
			mbs_note(m, c->line, "Channel %s: %s becomes the "
				 "Maildir folder %s, not %s (mailsync names "
				 "each folder as the server does)", c->name,
				 remote->box, remote->box, local->box);
		return;
	}
	if (c->n_patterns == 0) {
		cfg_convert_folder_add(&plan->folders, "INBOX");
		return;
	}
	for (size_t i = 0; i < c->n_patterns; i++) {
		const char *pat = c->patterns[i];

		if (pat[0] == '!')
			plan->has_exclude = true;
		else if (plan->has_exclude)
			mbs_note(m, c->line, "Channel %s: Patterns %s after an "
				 "exclusion: in mailsync an exclusion always "
				 "wins, whatever its place", c->name, pat);
		cfg_convert_folder_add(&plan->folders, pat);
	}
}

/* Is inbox (trailing slashes aside) path + suffix? */
static bool
mbs_is_path(const char *inbox, const char *path, const char *suffix)
{
	size_t n = strlen(inbox), plen = strlen(path);

	while (n > 1 && inbox[n - 1] == '/')
		n--;
	return n == plen + strlen(suffix) && strncmp(inbox, path, plen) == 0 &&
	       strncmp(inbox + plen, suffix, strlen(suffix)) == 0;
}

/*
 * The mirror's keys of a MaildirStore: maildir (Maildir++ has its
 * folders inside Inbox, and mbsync refuses Path with it), maildir_inbox
 * (mbsync's Inbox as Path/INBOX), maildir_layout (SubFolders); an Inbox
 * elsewhere is noted.
 */
static void
mbs_write_maildir(struct mbs *m, const struct mbs_store *md)
{
	bool is_pp = md->layout != NULL && strcmp(md->layout, "maildir++") == 0;
	const char *path = md->path;

	if (is_pp && md->inbox != NULL)
		path = md->inbox;
	cfg_convert_key(&m->w, md->line, "maildir", path);
	if (md->inbox != NULL && md->path != NULL && !is_pp &&
	    mbs_is_path(md->inbox, md->path, "/INBOX"))
		cfg_convert_out(&m->w, "maildir_inbox = subfolder\n");
	else if (md->inbox == NULL && !is_pp)
		mbs_note(m, md->line, "MaildirStore %s: no Inbox, so mbsync "
			 "kept INBOX in ~/Maildir; mailsync keeps it at the "
			 "top of maildir = %s", md->name,
			 path != NULL ? path : "");
	else if (md->inbox != NULL && !is_pp &&
		 (md->path == NULL || !mbs_is_path(md->inbox, md->path, "")))
		mbs_note(m, md->line, "MaildirStore %s: Inbox %s; mailsync "
			 "keeps INBOX at the top of maildir = %s or in its "
			 "INBOX/ (maildir_inbox)", md->name, md->inbox,
			 path != NULL ? path : "");
	if (md->layout != NULL)
		cfg_convert_key(&m->w, md->line, "maildir_layout", md->layout);
}

/* The tls key, and the port it implies when none is set. */
static const char *
mbs_tls(struct mbs *m, const struct mbs_account *a)
{
	if (a->tls == NULL)
		return "starttls";	/* mbsync's default */
	if (strcasecmp(a->tls, "IMAPS") == 0)
		return "implicit";
	if (strcasecmp(a->tls, "STARTTLS") == 0)
		return "starttls";
	if (strcasecmp(a->tls, "None") == 0) {
		mbs_note(m, a->line, "SSLType None: tls = none, which mailsync "
			 "accepts for a server on this machine only");
		return "none";
	}
	mbs_note(m, a->line, "SSLType %s: unknown; tls = implicit", a->tls);
	return "implicit";
}

static void
mbs_write_account(struct mbs *m, struct mbs_account *a)
{
	struct mbs_plan plan = { 0 };
	char *timeout = NULL;
	bool is_oauth = a->auth != NULL && (strcmp(a->auth, "xoauth2") == 0 ||
					    strcmp(a->auth, "oauthbearer") == 0);

	if (a->host == NULL) {
		mbs_note(m, a->line, "IMAPAccount %s: no Host%s: not "
			 "converted", a->name, a->has_tunnel ? " (a Tunnel)" :
			 "");
		return;
	}
	for (size_t i = 0; i < m->n_channels; i++) {
		const struct mbs_channel *c = &m->channels[i];

		if (mbs_side_account(m, &c->far) == a)
			mbs_plan_channel(m, &plan, c, &c->far, &c->near);
		else if (mbs_side_account(m, &c->near) == a)
			mbs_plan_channel(m, &plan, c, &c->near, &c->far);
	}
	cfg_convert_account(&m->w, a->line, a->name, "imap");
	cfg_convert_key(&m->w, a->line, "host", a->host);
	cfg_convert_key(&m->w, a->line, "port", a->port);
	cfg_convert_key(&m->w, a->line, "tls", mbs_tls(m, a));
	cfg_convert_key(&m->w, a->line, "ca_file", a->ca_file);
	cfg_convert_key(&m->w, a->line, "user", a->user);
	if (a->pass_cmd != NULL) {
		cfg_convert_key(&m->w, a->line, is_oauth ? "oauth_token_cmd" :
			    "password_cmd", a->pass_cmd);
	} else if (a->pass != NULL) {
		cfg_convert_key(&m->w, a->line, "password", a->pass);
		mbs_note(m, a->line, "Pass: written as password =, so the "
			 "file must be private (chmod 600); password_cmd "
			 "keeps it out of the file");
	}
	cfg_convert_key(&m->w, a->line, "auth", a->auth);
	if (a->timeout != NULL) {
		timeout = cfg__printf("%ss", a->timeout);
		cfg_convert_key(&m->w, a->line, "timeout", timeout);
		free(timeout);
	}
	if (plan.maildir == NULL) {
		mbs_note(m, a->line, "IMAPAccount %s: no Channel pairs it with "
			 "a MaildirStore: synced into the store only (add "
			 "maildir = to read it)", a->name);
	} else {
		cfg_convert_key(&m->w, a->line, "folders", plan.folders);
		if (plan.is_pull)
			cfg_convert_out(&m->w, "direction = pull\n");
		mbs_write_maildir(m, plan.maildir);
		cfg_convert_key(&m->w, plan.maildir->line, "mbsync_state",
				plan.sync_state);
	}
	free(plan.folders);
}

/* --- the interface -------------------------------------------------------- */

static void
mbs_channel_free(struct mbs_channel *c)
{
	free(c->name);
	free(c->far.store);
	free(c->far.box);
	free(c->near.store);
	free(c->near.box);
	free(c->sync_state);
	for (size_t j = 0; j < c->n_patterns; j++)
		free(c->patterns[j]);
	free(c->patterns);
}

static void
mbs_free(struct mbs *m)
{
	for (size_t i = 0; i < m->n_accounts; i++) {
		struct mbs_account *a = &m->accounts[i];

		if (a->pass != NULL)
			explicit_bzero(a->pass, strlen(a->pass));
		free(a->name);
		free(a->host);
		free(a->port);
		free(a->user);
		free(a->pass);
		free(a->pass_cmd);
		free(a->tls);
		free(a->ca_file);
		free(a->timeout);
	}
	for (size_t i = 0; i < m->n_stores; i++) {
		free(m->stores[i].name);
		free(m->stores[i].account);
		free(m->stores[i].path);
		free(m->stores[i].inbox);
	}
	for (size_t i = 0; i < m->n_channels; i++)
		mbs_channel_free(&m->channels[i]);
	mbs_channel_free(&m->global);
	free(m->accounts);
	free(m->stores);
	free(m->channels);
}

int
cfg_mbsync_convert(const char *file, const char *text, size_t len,
		   struct cfg_convert_result *res_r)
{
	struct mbs m = { .file = file };
	int rc;

	cfg_convert_init(&m.w, file, "mbsync");
	if (len > CFG_CONVERT_MAX)
		mbs_note(&m, 0, "larger than %d bytes: not an mbsync "
			 "configuration?", CFG_CONVERT_MAX);
	else
		mbs_read(&m, text, len);
	for (size_t i = 0; i < m.n_accounts; i++)
		mbs_write_account(&m, &m.accounts[i]);
	rc = cfg_convert_finish(&m.w, "mbsync", res_r);
	mbs_free(&m);
	return rc;
}

bool
cfg_mbsync_looks_like(const char *text, size_t len)
{
	static const char *const words[] = {
		"IMAPAccount", "IMAPStore", "MaildirStore", "Channel", "Group",
		"SyncState", "Create", "Expunge", "Remove", "Sync", "FSync",
		"CopyArrivalDate", "MaxMessages", "BufferLimit", NULL,
	};
	const char *p;
	size_t n, i = 0;

	if (!cfg_convert_first_line(text, len, "#;", &p, &n))
		return false;
	while (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')
		i++;
	if (memchr(p, '=', n) != NULL || memchr(p, '[', n) != NULL)
		return false;
	for (size_t k = 0; words[k] != NULL; k++) {
		size_t wl = strlen(words[k]);

		if (n - i > wl && strncasecmp(p + i, words[k], wl) == 0 &&
		    (p[i + wl] == ' ' || p[i + wl] == '\t'))
			return true;
	}
	return false;
}
