/*
 * cfg_validate.c - phase 2 of reading the config: raw records become a
 * typed struct cfg.  One table (cfg_keys) says, for every key, where it may
 * appear, its type, where it is stored and its default; the default text
 * goes through the same parser as a value from the file, so the two cannot
 * drift apart.  Defaults that depend on other keys (ports, the socket) and
 * the rules between keys are written out below the table.
 *
 * Every problem is reported and validation carries on.  A key with a bad
 * value counts as present, so one mistake yields one message and not a
 * cascade ("missing protocol" after "bad protocol").
 */
#include "cfg/cfg_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cfg_type {
	CFG_TYPE_STRING,	/* char *, non-empty */
	CFG_TYPE_HOST,		/* char * */
	CFG_TYPE_PORT,		/* uint16_t */
	CFG_TYPE_BOOL,		/* bool */
	CFG_TYPE_DURATION,	/* unsigned seconds */
	CFG_TYPE_DAYS,		/* unsigned */
	CFG_TYPE_ENUM,		/* an enum, stored as int */
	CFG_TYPE_LOG_LEVEL,	/* enum log_level */
	CFG_TYPE_PATH,		/* char *, expanded and absolute */
	CFG_TYPE_LIST,		/* struct cfg_list */
	CFG_TYPE_FOLDERS,	/* struct cfg_list of patterns */
	CFG_TYPE_ADDRESSES,	/* struct cfg_list of addresses */
	CFG_TYPE_FINGERPRINT,	/* struct cfg_fingerprint */
	CFG_TYPE_FOLDER_NONE,	/* char *; "none" stores NULL */
	CFG_TYPE_GROUP,		/* gid_t of an existing group */
};

_Static_assert(sizeof(enum cfg_tls) == sizeof(int) &&
	       sizeof(enum cfg_protocol) == sizeof(int) &&
	       sizeof(enum cfg_auth) == sizeof(int) &&
	       sizeof(enum cfg_direction) == sizeof(int) &&
	       sizeof(enum cfg_local_delete) == sizeof(int) &&
	       sizeof(enum cfg_maildir_inbox) == sizeof(int) &&
	       sizeof(enum cfg_maildir_layout) == sizeof(int) &&
	       sizeof(enum log_level) == sizeof(int),
	       "enum keys are stored through an int pointer");

enum { CFG_IN_GENERAL = 1, CFG_IN_ACCOUNT = 2 };
enum {
	CFG_FOR_IMAP = 1 << CFG_PROTOCOL_IMAP,
	CFG_FOR_POP3 = 1 << CFG_PROTOCOL_POP3,
	CFG_FOR_SMTP = 1 << CFG_PROTOCOL_SMTP,
	/* Accounts that read mail from a server. */
	CFG_FOR_READ = CFG_FOR_IMAP | CFG_FOR_POP3,
	CFG_FOR_ALL = CFG_FOR_READ | CFG_FOR_SMTP,
};

/* Key ids, in the order of cfg_keys[]. */
enum cfg_key_id {
	K_STORE, K_SOCKET, K_SOCKET_GROUP, K_SPOOL, K_LOG_LEVEL,
	K_PROTOCOL, K_HOST, K_PORT, K_TLS, K_CA_FILE, K_TLS_FINGERPRINT,
	K_TIMEOUT, K_USER, K_PASSWORD, K_PASSWORD_CMD, K_AUTH,
	K_OAUTH_TOKEN_CMD, K_FOLDERS, K_DIRECTION, K_IDLE, K_IDLE_FOLDERS,
	K_COMPRESS, K_POLL_INTERVAL, K_KEEP, K_DELETE_AFTER_DAYS, K_MAILDIR,
	K_SMTP_HOST, K_SMTP_PORT, K_SMTP_TLS, K_FROM, K_SENT_FOLDER,
	K_NEW_MAIL_CMD, K_LOCAL_DELETE, K_MAILDIR_INBOX, K_MAILDIR_LAYOUT,
	K_MBSYNC_STATE,
	K_SMTP_USER, K_SMTP_PASSWORD_CMD, K_SMTP_QUEUE_LIFETIME,
	K_COUNT,
};

static const char *const cfg_protocol_names[] = { "imap", "pop3", "smtp",
						   NULL };
static const char *const cfg_tls_names[] = { "implicit", "starttls", "none",
					     NULL };
static const char *const cfg_auth_names[] = { "auto", "plain", "login",
	"xoauth2", "oauthbearer", "cram-md5", "scram-sha-256", NULL };
static const char *const cfg_direction_names[] = { "both", "pull", NULL };
/*
 * local_delete: trash by default, the safest of the three.  A file a
 * reader removes by mistake (a wrong key, a script, an rm in the wrong
 * directory) stays recoverable in the Trash folder, where every client
 * shows it and no other client's EXPUNGE or CLOSE of the source folder
 * removes it; flag leaves it marked in place, where the next client to
 * expunge that folder (many do on closing it) removes it for good;
 * expunge removes it at once.  Without a Trash folder the server gets
 * flag, never a silent expunge (sync_push.c).
 */
static const char *const cfg_local_delete_names[] = { "trash", "flag",
						       "expunge", NULL };
static const char *const cfg_maildir_inbox_names[] = { "root", "subfolder",
							NULL };
static const char *const cfg_maildir_layout_names[] = { "verbatim",
							 "maildir++", "legacy",
							 NULL };

struct cfg_key {
	const char *name;
	unsigned scope;		/* CFG_IN_* */
	unsigned protocols;	/* CFG_FOR_* (accounts only) */
	enum cfg_type type;
	size_t offset;		/* in struct cfg or struct cfg_account */
	const char *const *choices;	/* CFG_TYPE_ENUM */
	const char *def;	/* default, parsed as a value; NULL: none or
				 * computed (see cfg_validate_derived) */
	const char *expected;	/* NULL: derived from type and choices */
};

#define G(f) CFG_IN_GENERAL, CFG_FOR_ALL, f, offsetof(struct cfg, 
#define A(p, f) CFG_IN_ACCOUNT, p, f, offsetof(struct cfg_account, 

static const struct cfg_key cfg_keys[K_COUNT] = {
	[K_STORE] = { "store", G(CFG_TYPE_PATH) store), NULL,
		"~/.local/share/mailsync", NULL },
	[K_SOCKET] = { "socket", G(CFG_TYPE_PATH) socket), NULL, NULL, NULL },
	[K_SOCKET_GROUP] = { "socket_group", G(CFG_TYPE_GROUP) socket_gid),
		NULL, NULL, "a group name or number" },
	[K_SPOOL] = { "spool", G(CFG_TYPE_PATH) spool), NULL, NULL, NULL },
	[K_LOG_LEVEL] = { "log_level", G(CFG_TYPE_LOG_LEVEL) log_level), NULL,
		"info", "error, warn, info or debug" },
	[K_PROTOCOL] = { "protocol", A(CFG_FOR_ALL, CFG_TYPE_ENUM) protocol),
		cfg_protocol_names, NULL, NULL },
	[K_HOST] = { "host", A(CFG_FOR_READ, CFG_TYPE_HOST) host), NULL, NULL,
		NULL },
	[K_PORT] = { "port", A(CFG_FOR_READ, CFG_TYPE_PORT) port), NULL, NULL,
		NULL },
	[K_TLS] = { "tls", A(CFG_FOR_READ, CFG_TYPE_ENUM) tls), cfg_tls_names,
		"implicit", NULL },
	[K_CA_FILE] = { "ca_file", A(CFG_FOR_ALL, CFG_TYPE_PATH) ca_file),
		NULL, NULL, NULL },
	[K_TLS_FINGERPRINT] = { "tls_fingerprint",
		A(CFG_FOR_ALL, CFG_TYPE_FINGERPRINT) tls_fingerprint), NULL,
		NULL, NULL },
	[K_TIMEOUT] = { "timeout", A(CFG_FOR_ALL, CFG_TYPE_DURATION) timeout),
		NULL, "30s", NULL },
	[K_USER] = { "user", A(CFG_FOR_ALL, CFG_TYPE_STRING) user), NULL, NULL,
		"the login name" },
	[K_PASSWORD] = { "password", A(CFG_FOR_ALL, CFG_TYPE_STRING) password),
		NULL, NULL, "the password" },
	[K_PASSWORD_CMD] = { "password_cmd",
		A(CFG_FOR_ALL, CFG_TYPE_STRING) password_cmd), NULL, NULL,
		"a command that prints the password" },
	[K_AUTH] = { "auth", A(CFG_FOR_ALL, CFG_TYPE_ENUM) auth),
		cfg_auth_names, "auto", NULL },
	[K_OAUTH_TOKEN_CMD] = { "oauth_token_cmd",
		A(CFG_FOR_ALL, CFG_TYPE_STRING) oauth_token_cmd), NULL, NULL,
		"a command that prints a bearer token" },
	[K_FOLDERS] = { "folders", A(CFG_FOR_IMAP, CFG_TYPE_FOLDERS) folders),
		NULL, "*", NULL },
	[K_DIRECTION] = { "direction",
		A(CFG_FOR_IMAP, CFG_TYPE_ENUM) direction), cfg_direction_names,
		"both", NULL },
	[K_IDLE] = { "idle", A(CFG_FOR_IMAP, CFG_TYPE_BOOL) idle), NULL, "yes",
		NULL },
	[K_IDLE_FOLDERS] = { "idle_folders",
		A(CFG_FOR_IMAP, CFG_TYPE_LIST) idle_folders), NULL, "INBOX",
		NULL },
	[K_COMPRESS] = { "compress", A(CFG_FOR_IMAP, CFG_TYPE_BOOL) compress),
		NULL, "yes", NULL },
	[K_POLL_INTERVAL] = { "poll_interval",
		A(CFG_FOR_READ, CFG_TYPE_DURATION) poll_interval), NULL, "5m",
		NULL },
	[K_KEEP] = { "keep", A(CFG_FOR_POP3, CFG_TYPE_BOOL) keep), NULL, "yes",
		NULL },
	[K_DELETE_AFTER_DAYS] = { "delete_after_days",
		A(CFG_FOR_POP3, CFG_TYPE_DAYS) delete_after_days), NULL, "0",
		NULL },
	[K_MAILDIR] = { "maildir", A(CFG_FOR_READ, CFG_TYPE_PATH) maildir),
		NULL, NULL, NULL },
	[K_SMTP_HOST] = { "smtp_host", A(CFG_FOR_ALL, CFG_TYPE_HOST) smtp_host),
		NULL, NULL, NULL },
	[K_SMTP_PORT] = { "smtp_port", A(CFG_FOR_ALL, CFG_TYPE_PORT) smtp_port),
		NULL, NULL, NULL },
	[K_SMTP_TLS] = { "smtp_tls", A(CFG_FOR_ALL, CFG_TYPE_ENUM) smtp_tls),
		cfg_tls_names, "implicit", NULL },
	[K_FROM] = { "from", A(CFG_FOR_ALL, CFG_TYPE_ADDRESSES) from), NULL,
		NULL, NULL },
	[K_SENT_FOLDER] = { "sent_folder",
		A(CFG_FOR_IMAP, CFG_TYPE_FOLDER_NONE) sent_folder), NULL,
		NULL, "a folder name, or none" },
	[K_NEW_MAIL_CMD] = { "new_mail_cmd",
		A(CFG_FOR_ALL, CFG_TYPE_STRING) new_mail_cmd), NULL, NULL,
		"a command to run when new mail arrived" },
	[K_LOCAL_DELETE] = { "local_delete",
		A(CFG_FOR_IMAP, CFG_TYPE_ENUM) local_delete),
		cfg_local_delete_names, "trash", NULL },
	[K_MAILDIR_INBOX] = { "maildir_inbox",
		A(CFG_FOR_READ, CFG_TYPE_ENUM) maildir_inbox),
		cfg_maildir_inbox_names, "root", NULL },
	[K_MAILDIR_LAYOUT] = { "maildir_layout",
		A(CFG_FOR_READ, CFG_TYPE_ENUM) maildir_layout),
		cfg_maildir_layout_names, "verbatim", NULL },
	[K_MBSYNC_STATE] = { "mbsync_state",
		A(CFG_FOR_IMAP, CFG_TYPE_PATH) mbsync_state), NULL, NULL,
		NULL },
	[K_SMTP_USER] = { "smtp_user", A(CFG_FOR_ALL, CFG_TYPE_STRING)
		smtp_user), NULL, NULL, "the SMTP login name" },
	[K_SMTP_PASSWORD_CMD] = { "smtp_password_cmd",
		A(CFG_FOR_ALL, CFG_TYPE_STRING) smtp_password_cmd), NULL, NULL,
		"a command that prints the SMTP password" },
	[K_SMTP_QUEUE_LIFETIME] = { "smtp_queue_lifetime",
		A(CFG_FOR_ALL, CFG_TYPE_DURATION) smtp_queue_lifetime), NULL,
		"5d", NULL },
};

#undef G
#undef A

/* Longest days value for delete_after_days: a hundred years. */
#define CFG_DAYS_MAX 36500u

/* What a key is checked against within one section. */
struct cfg_seen {
	const struct cfg_raw_entry *entry;	/* NULL: not in the section */
	bool is_valid;		/* parsed and applicable */
	bool is_suggested;	/* an unknown key looked like this one */
};

struct cfg_vctx {
	const char *file;
	const struct cfg_env *env;
	struct cfg_report *rep;
	const char *label;	/* section name as written, for messages */
	bool is_bad;
};

/* Adds "FILE:LINE: [label] key: message". */
static void
cfg_validate_problem(struct cfg_vctx *v, unsigned line, const char *key,
		     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
cfg_validate_problem(struct cfg_vctx *v, unsigned line, const char *key,
		     const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key != NULL)
		cfg__report_add(v->rep, v->file, line, "[%s] %s: %s", v->label,
				key, msg);
	else
		cfg__report_add(v->rep, v->file, line, "[%s]: %s", v->label,
				msg);
	v->is_bad = true;
}

/* The "(expected ...)" text for a key. */
static void
cfg_validate_expected(const struct cfg_key *k, char *out, size_t outsz)
{
	size_t n = 0;

	if (k->expected != NULL) {
		snprintf(out, outsz, "%s", k->expected);
		return;
	}
	switch (k->type) {
	case CFG_TYPE_ENUM:
		out[0] = '\0';
		for (size_t i = 0; k->choices[i] != NULL; i++) {
			const char *sep = i == 0 ? "" :
				k->choices[i + 1] == NULL ? " or " : ", ";

			n += (size_t)snprintf(out + n,
					      n < outsz ? outsz - n : 0,
					      "%s%s", sep, k->choices[i]);
		}
		return;
	case CFG_TYPE_HOST:
		snprintf(out, outsz, "a host name or IP address");
		return;
	case CFG_TYPE_PORT:
		snprintf(out, outsz, "a port number 1-65535");
		return;
	case CFG_TYPE_BOOL:
		snprintf(out, outsz, "yes, no, true, false, on, off, 1 or 0");
		return;
	case CFG_TYPE_DURATION:
		snprintf(out, outsz, "a duration such as 30s, 5m, 1h or 1h30m, "
			 "or plain seconds");
		return;
	case CFG_TYPE_DAYS:
		snprintf(out, outsz, "a number of days 0-%u", CFG_DAYS_MAX);
		return;
	case CFG_TYPE_PATH:
		snprintf(out, outsz, "an absolute path; ~, $VAR and ${VAR} "
			 "expand");
		return;
	case CFG_TYPE_LIST:
		snprintf(out, outsz, "names separated by commas or spaces, "
			 "\"quoted\" if they contain spaces");
		return;
	case CFG_TYPE_FOLDERS:
		snprintf(out, outsz, "folder patterns separated by spaces, "
			 "such as * !Junk");
		return;
	case CFG_TYPE_ADDRESSES:
		snprintf(out, outsz, "e-mail addresses separated by commas, "
			 "such as me@example.com");
		return;
	case CFG_TYPE_FINGERPRINT:
		snprintf(out, outsz, "sha256: followed by 32 hex bytes, such "
			 "as sha256:AB:CD:...");
		return;
	case CFG_TYPE_STRING:
	case CFG_TYPE_LOG_LEVEL:
	case CFG_TYPE_FOLDER_NONE:
	case CFG_TYPE_GROUP:
		break;
	}
	snprintf(out, outsz, "a value");
}

/* Checks every item of a folder pattern list. */
static int
cfg_validate_folders(const struct cfg_list *l, char *why, size_t whysz)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], "!") == 0) {
			snprintf(why, whysz, "'!' without a pattern to "
				 "exclude");
			return MS_EINVAL;
		}
	}
	return MS_OK;
}

/*
 * Parses value as key k into the struct at base.  Returns MS_OK or
 * MS_EINVAL with the reason in why.  The field is untouched on error.
 */
static int
cfg_validate_value(const struct cfg_key *k, const char *value,
		   const struct cfg_env *env, void *base, char *why,
		   size_t whysz)
{
	void *field = (char *)base + k->offset;
	struct cfg_list list;
	int rc, idx;

	switch (k->type) {
	case CFG_TYPE_STRING:
		*(char **)field = cfg__strdup(value);
		return MS_OK;
	case CFG_TYPE_HOST:
		if ((rc = cfg__value_host(value, why, whysz)) != MS_OK)
			return rc;
		*(char **)field = cfg__strdup(value);
		return MS_OK;
	case CFG_TYPE_PORT:
		return cfg__value_port(value, field, why, whysz);
	case CFG_TYPE_BOOL:
		return cfg__value_bool(value, field, why, whysz);
	case CFG_TYPE_DURATION:
		return cfg__value_duration(value, field, why, whysz);
	case CFG_TYPE_DAYS:
		return cfg__value_uint(value, CFG_DAYS_MAX, field, why, whysz);
	case CFG_TYPE_ENUM:
		if ((rc = cfg__value_enum(value, k->choices, &idx, why,
					  whysz)) != MS_OK)
			return rc;
		*(int *)field = idx;
		return MS_OK;
	case CFG_TYPE_LOG_LEVEL:
		if (strcmp(value, "error") != 0 && strcmp(value, "warn") != 0 &&
		    strcmp(value, "info") != 0 && strcmp(value, "debug") != 0) {
			snprintf(why, whysz, "'%s' is not a log level", value);
			return MS_EINVAL;
		}
		(void)log_level_parse(value, field);
		return MS_OK;
	case CFG_TYPE_PATH:
		return cfg__path_expand(value, env, field, why, whysz);
	case CFG_TYPE_LIST:
	case CFG_TYPE_FOLDERS:
	case CFG_TYPE_ADDRESSES:
		if ((rc = cfg__value_list(value, &list, why, whysz)) != MS_OK)
			return rc;
		for (size_t i = 0; i < list.n && rc == MS_OK; i++)
			if (k->type == CFG_TYPE_ADDRESSES)
				rc = cfg__value_address(list.v[i], why, whysz);
		if (rc == MS_OK && k->type == CFG_TYPE_FOLDERS)
			rc = cfg_validate_folders(&list, why, whysz);
		if (rc != MS_OK) {
			cfg__list_free(&list);
			return rc;
		}
		*(struct cfg_list *)field = list;
		return MS_OK;
	case CFG_TYPE_FINGERPRINT:
		return cfg__value_fingerprint(value, field, why, whysz);
	case CFG_TYPE_FOLDER_NONE:
		*(char **)field = strcmp(value, "none") == 0 ? NULL :
				  cfg__strdup(value);
		return MS_OK;
	case CFG_TYPE_GROUP:
		return cfg__value_group(value, field, why, whysz);
	}
	snprintf(why, whysz, "internal error: unknown type");
	return MS_EINVAL;
}

/* The key named name, or NULL. */
static const struct cfg_key *
cfg_validate_key_find(const char *name)
{
	for (size_t i = 0; i < K_COUNT; i++)
		if (strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/*
 * Reports an unknown key, suggesting a close known one of that scope.
 * Returns the suggested key's id, or K_COUNT.
 */
static size_t
cfg_validate_unknown_key(struct cfg_vctx *v, const struct cfg_raw_entry *e,
			 unsigned scope)
{
	const char *best = NULL;
	unsigned best_d = ~0u;
	size_t best_id = K_COUNT;

	for (size_t i = 0; i < K_COUNT; i++) {
		unsigned d;

		if (!(cfg_keys[i].scope & scope))
			continue;
		d = cfg__edit_distance(e->key, cfg_keys[i].name);
		/* Close means at most two edits, and fewer than half the
		 * name, so "to" does not become "tls". */
		if (d <= 2 && 2 * d < strlen(cfg_keys[i].name) && d < best_d) {
			best = cfg_keys[i].name;
			best_d = d;
			best_id = i;
		}
	}
	if (best != NULL)
		cfg_validate_problem(v, e->line, e->key, "unknown key; did you "
				     "mean '%s'?", best);
	else
		cfg_validate_problem(v, e->line, e->key, "unknown key "
				     "(expected a key from mailsync.conf(5))");
	return best_id;
}

/*
 * First pass over a section: sorts entries into seen[] by key, reporting
 * unknown keys, keys of the other kind of section and duplicates.
 */
static void
cfg_validate_collect(struct cfg_vctx *v, const struct cfg_raw_section *sec,
		     unsigned scope, struct cfg_seen *seen)
{
	for (size_t i = 0; i < sec->n; i++) {
		const struct cfg_raw_entry *e = &sec->entries[i];
		const struct cfg_key *k = cfg_validate_key_find(e->key);
		size_t id;

		if (k == NULL) {
			/* "hots = x" gets one message, not a second one
			 * about host missing. */
			id = cfg_validate_unknown_key(v, e, scope);
			if (id < K_COUNT)
				seen[id].is_suggested = true;
			continue;
		}
		if (!(k->scope & scope)) {
			cfg_validate_problem(v, e->line, e->key,
					     "belongs in %s",
					     k->scope == CFG_IN_GENERAL ?
					     "[general]" :
					     "an [account NAME] section");
			continue;
		}
		id = (size_t)(k - cfg_keys);
		if (seen[id].entry != NULL) {
			cfg_validate_problem(v, e->line, e->key,
					     "duplicate key (first set on "
					     "line %u)", seen[id].entry->line);
			continue;
		}
		seen[id].entry = e;
	}
}

/* Second pass: parses the value of every present key into base. */
static void
cfg_validate_parse(struct cfg_vctx *v, struct cfg_seen *seen, size_t id,
		   void *base)
{
	const struct cfg_key *k = &cfg_keys[id];
	const struct cfg_raw_entry *e = seen[id].entry;
	char why[512], expected[256];

	if (e == NULL)
		return;
	cfg_validate_expected(k, expected, sizeof(expected));
	if (e->value[0] == '\0') {
		cfg_validate_problem(v, e->line, k->name, "empty value "
				     "(expected %s)", expected);
		return;
	}
	if (cfg_validate_value(k, e->value, v->env, base, why,
			       sizeof(why)) != MS_OK) {
		/* A password must not be echoed back in an error. */
		cfg_validate_problem(v, e->line, k->name, "%s (expected %s)",
				     id == K_PASSWORD ? "bad value" : why,
				     expected);
		return;
	}
	seen[id].is_valid = true;
}

/* Applies the table default of an absent or invalid key. */
static void
cfg_validate_default(struct cfg_vctx *v, const struct cfg_seen *seen,
		     size_t id, unsigned line, void *base)
{
	const struct cfg_key *k = &cfg_keys[id];
	/* The store's default follows the environment (XDG_DATA_HOME). */
	const char *def = id == K_STORE ? cfg__store_default(v->env) : k->def;
	char why[512];

	if (seen[id].is_valid || def == NULL)
		return;
	if (cfg_validate_value(k, def, v->env, base, why,
			       sizeof(why)) != MS_OK && seen[id].entry == NULL)
		cfg_validate_problem(v, line, k->name, "the default '%s' "
				     "cannot be used: %s (expected %s = ...)",
				     def, why, k->name);
}

static bool
cfg_validate_has(const struct cfg_seen *seen, size_t id)
{
	return seen[id].entry != NULL;
}

static unsigned
cfg_validate_line(const struct cfg_seen *seen, size_t id)
{
	return seen[id].entry->line;
}

/* Reports a present key that only makes sense together with another. */
static void
cfg_validate_needs(struct cfg_vctx *v, const struct cfg_seen *seen, size_t id,
		   const char *condition)
{
	if (cfg_validate_has(seen, id))
		cfg_validate_problem(v, cfg_validate_line(seen, id),
				     cfg_keys[id].name, "only applies with %s",
				     condition);
}

/* The port a protocol uses by default with a TLS mode. */
static uint16_t
cfg_validate_default_port(enum cfg_protocol p, enum cfg_tls tls)
{
	if (p == CFG_PROTOCOL_POP3)
		return tls == CFG_TLS_IMPLICIT ? 995 : 110;
	return tls == CFG_TLS_IMPLICIT ? 993 : 143;
}

static uint16_t
cfg_validate_default_smtp_port(enum cfg_tls tls)
{
	return tls == CFG_TLS_IMPLICIT ? 465 : tls == CFG_TLS_STARTTLS ? 587 :
	       25;
}

/*
 * Catches a well-known port used with the wrong TLS mode, such as 993 with
 * starttls: the connection would hang in a TLS handshake or send a
 * plaintext greeting into one.  Other ports are the user's business.
 */
static void
cfg_validate_port_vs_tls(struct cfg_vctx *v, const struct cfg_seen *seen,
			 size_t port_id, size_t tls_id, uint16_t port,
			 enum cfg_tls tls, uint16_t usual)
{
	static const uint16_t implicit_ports[] = { 993, 995, 465 };
	static const uint16_t plain_ports[] = { 143, 110, 587, 25 };
	bool is_implicit_port = false, is_plain_port = false;

	if (!seen[port_id].is_valid ||
	    (cfg_validate_has(seen, tls_id) && !seen[tls_id].is_valid))
		return;
	for (size_t i = 0; i < 3; i++)
		is_implicit_port |= port == implicit_ports[i];
	for (size_t i = 0; i < 4; i++)
		is_plain_port |= port == plain_ports[i];
	if ((tls == CFG_TLS_IMPLICIT && is_plain_port) ||
	    (tls != CFG_TLS_IMPLICIT && is_implicit_port))
		cfg_validate_problem(v, cfg_validate_line(seen, port_id),
				     cfg_keys[port_id].name,
				     "%u is the usual port for %s, but %s = %s "
				     "(expected %u, or another %s)", port,
				     is_plain_port ? "plaintext and STARTTLS" :
				     "implicit TLS", cfg_keys[tls_id].name,
				     cfg_tls_name(tls), usual,
				     cfg_keys[tls_id].name);
}

/* tls = none is refused unless the host is this machine. */
static void
cfg_validate_tls_none(struct cfg_vctx *v, const struct cfg_seen *seen,
		      size_t tls_id, enum cfg_tls tls, size_t host_id,
		      const char *host)
{
	if (!seen[tls_id].is_valid || tls != CFG_TLS_NONE ||
	    !seen[host_id].is_valid || cfg__host_is_loopback(host))
		return;
	cfg_validate_problem(v, cfg_validate_line(seen, tls_id),
			     cfg_keys[tls_id].name, "none is only allowed for "
			     "a loopback host, and %s is '%s' (expected "
			     "implicit or starttls)", cfg_keys[host_id].name,
			     host);
}

/* Reports a password key given with an OAuth mechanism. */
static void
cfg_validate_unused(struct cfg_vctx *v, const struct cfg_seen *seen,
		    size_t id, const char *mech)
{
	if (cfg_validate_has(seen, id))
		cfg_validate_problem(v, cfg_validate_line(seen, id),
				     cfg_keys[id].name, "not used with auth = "
				     "%s (expected oauth_token_cmd only)",
				     mech);
}

/* Password, password_cmd and oauth_token_cmd against auth. */
static void
cfg_validate_credentials(struct cfg_vctx *v, const struct cfg_seen *seen,
			 const struct cfg_account *a, unsigned header)
{
	bool has_pw = cfg_validate_has(seen, K_PASSWORD);
	bool has_cmd = cfg_validate_has(seen, K_PASSWORD_CMD);
	bool is_oauth = a->auth == CFG_AUTH_XOAUTH2 ||
			a->auth == CFG_AUTH_OAUTHBEARER;

	if (cfg_validate_has(seen, K_AUTH) && !seen[K_AUTH].is_valid)
		is_oauth = false;	/* unknown; check what we can */
	if (is_oauth) {
		const char *mech = cfg_auth_names[a->auth];

		if (!cfg_validate_has(seen, K_OAUTH_TOKEN_CMD))
			cfg_validate_problem(v, cfg_validate_line(seen, K_AUTH),
					     "auth", "%s needs oauth_token_cmd "
					     "(expected oauth_token_cmd = "
					     "COMMAND)", mech);
		cfg_validate_unused(v, seen, K_PASSWORD, mech);
		cfg_validate_unused(v, seen, K_PASSWORD_CMD, mech);
		return;
	}
	if (seen[K_AUTH].entry == NULL || seen[K_AUTH].is_valid)
		cfg_validate_needs(v, seen, K_OAUTH_TOKEN_CMD,
				   "auth = xoauth2 or auth = oauthbearer");
	if (has_pw && has_cmd) {
		size_t later = cfg_validate_line(seen, K_PASSWORD) >
			       cfg_validate_line(seen, K_PASSWORD_CMD) ?
			       K_PASSWORD : K_PASSWORD_CMD;

		cfg_validate_problem(v, cfg_validate_line(seen, later),
				     cfg_keys[later].name, "password and "
				     "password_cmd exclude each other "
				     "(expected only one of them)");
	} else if (!has_pw && !has_cmd &&
		   !cfg_validate_has(seen, K_OAUTH_TOKEN_CMD) &&
		   !seen[K_PASSWORD].is_suggested &&
		   !seen[K_PASSWORD_CMD].is_suggested) {
		cfg_validate_problem(v, header, "password_cmd", "missing "
				     "(expected password_cmd = COMMAND, or "
				     "password = SECRET in a file only you "
				     "can read)");
	}
}

/* The rules between keys of one account, and the computed defaults. */
static void
cfg_validate_account_rules(struct cfg_vctx *v, const struct cfg_seen *seen,
			   struct cfg_account *a)
{
	static const size_t required[] = { K_PROTOCOL, K_HOST, K_USER };
	static const size_t smtp_only[] = { K_SMTP_PORT, K_SMTP_TLS, K_FROM,
		K_SENT_FOLDER, K_SMTP_USER, K_SMTP_PASSWORD_CMD,
		K_SMTP_QUEUE_LIFETIME };
	bool is_send_only = seen[K_PROTOCOL].is_valid &&
			    a->protocol == CFG_PROTOCOL_SMTP;
	char expected[256];

	for (size_t i = 0; i < sizeof(required) / sizeof(*required); i++) {
		/* A send-only account has no reading server; its login
		 * may be smtp_user alone. */
		if (is_send_only && (required[i] == K_HOST ||
		    (required[i] == K_USER &&
		     cfg_validate_has(seen, K_SMTP_USER))))
			continue;
		if (cfg_validate_has(seen, required[i]) ||
		    seen[required[i]].is_suggested)
			continue;
		cfg_validate_expected(&cfg_keys[required[i]], expected,
				      sizeof(expected));
		cfg_validate_problem(v, a->line, cfg_keys[required[i]].name,
				     "missing required key (expected %s)",
				     expected);
	}
	if (!seen[K_PORT].is_valid)
		a->port = cfg_validate_default_port(a->protocol, a->tls);
	if (seen[K_PROTOCOL].is_valid)
		cfg_validate_port_vs_tls(v, seen, K_PORT, K_TLS, a->port,
					 a->tls, cfg_validate_default_port(
					 a->protocol, a->tls));
	cfg_validate_tls_none(v, seen, K_TLS, a->tls, K_HOST, a->host);
	/* A mistyped CA file would otherwise surface only as a TLS error at
	 * the first connection. */
	if (seen[K_CA_FILE].is_valid && !v->env->exists(a->ca_file,
							 v->env->arg))
		cfg_validate_problem(v, cfg_validate_line(seen, K_CA_FILE),
				     "ca_file", "'%s' does not exist (expected "
				     "a PEM file of CA certificates)",
				     a->ca_file);
	/* smtp_password_cmd alone is the secret of a send-only account. */
	if (!(is_send_only && cfg_validate_has(seen, K_SMTP_PASSWORD_CMD)))
		cfg_validate_credentials(v, seen, a, a->line);
	if (seen[K_KEEP].is_valid && !a->keep)
		cfg_validate_needs(v, seen, K_DELETE_AFTER_DAYS, "keep = yes");
	if (seen[K_IDLE].is_valid && !a->idle)
		cfg_validate_needs(v, seen, K_IDLE_FOLDERS, "idle = yes");
	if (!cfg_validate_has(seen, K_MAILDIR)) {
		cfg_validate_needs(v, seen, K_MAILDIR_LAYOUT, "maildir");
		cfg_validate_needs(v, seen, K_MBSYNC_STATE, "maildir");
	}
	/* Maildir++ is the INBOX Maildir with the folders inside it, as
	 * mbsync (which refuses Path with it) and Dovecot make it. */
	if (seen[K_MAILDIR_LAYOUT].is_valid && seen[K_MAILDIR_INBOX].is_valid &&
	    a->maildir_layout == CFG_MAILDIR_LAYOUT_MAILDIRPP &&
	    a->maildir_inbox == CFG_MAILDIR_INBOX_SUBFOLDER)
		cfg_validate_problem(v, cfg_validate_line(seen, K_MAILDIR_INBOX),
				     "maildir_inbox", "subfolder does not go "
				     "with maildir_layout = maildir++, whose "
				     "INBOX is the top Maildir (expected "
				     "maildir_inbox = root)");

	if (!cfg_validate_has(seen, K_SMTP_HOST)) {
		if (is_send_only && !seen[K_SMTP_HOST].is_suggested)
			cfg_validate_problem(v, a->line, "smtp_host", "missing; "
					     "a protocol = smtp account only "
					     "sends (expected smtp_host = "
					     "smtp.example.com)");
		for (size_t i = 0; i < sizeof(smtp_only) / sizeof(*smtp_only);
		     i++)
			if (seen[smtp_only[i]].is_valid)
				cfg_validate_needs(v, seen, smtp_only[i],
						   "smtp_host");
		return;
	}
	if (!seen[K_SMTP_PORT].is_valid)
		a->smtp_port = cfg_validate_default_smtp_port(a->smtp_tls);
	cfg_validate_port_vs_tls(v, seen, K_SMTP_PORT, K_SMTP_TLS,
				 a->smtp_port, a->smtp_tls,
				 cfg_validate_default_smtp_port(a->smtp_tls));
	cfg_validate_tls_none(v, seen, K_SMTP_TLS, a->smtp_tls, K_SMTP_HOST,
			      a->smtp_host);
	if (!cfg_validate_has(seen, K_FROM) && !seen[K_FROM].is_suggested)
		cfg_validate_problem(v, a->line, "from", "missing; an account "
				     "with smtp_host needs it (expected the "
				     "addresses it sends as, such as "
				     "me@example.com)");
	/* Unset: the server's \Sent special-use folder (none when the
	 * account only sends). */
	if (!cfg_validate_has(seen, K_SENT_FOLDER))
		a->is_sent_auto = a->protocol == CFG_PROTOCOL_IMAP;
}

/* Validates one [account NAME] section into a. */
static void
cfg_validate_account(struct cfg_vctx *v, const struct cfg_raw_section *sec,
		     const char *name, struct cfg_account *a)
{
	struct cfg_seen seen[K_COUNT];
	unsigned protocols = CFG_FOR_ALL;

	memset(seen, 0, sizeof(seen));
	a->name = cfg__strdup(name);
	a->line = sec->line;
	cfg_validate_collect(v, sec, CFG_IN_ACCOUNT, seen);
	cfg_validate_parse(v, seen, K_PROTOCOL, a);
	if (seen[K_PROTOCOL].is_valid)
		protocols = 1u << a->protocol;
	for (size_t id = K_PROTOCOL + 1; id < K_COUNT; id++) {
		const struct cfg_key *k = &cfg_keys[id];

		if (seen[id].entry != NULL && !(k->protocols & protocols)) {
			cfg_validate_problem(v, seen[id].entry->line, k->name,
					     "only applies to protocol = %s "
					     "(this account uses %s)",
					     k->protocols == CFG_FOR_IMAP ?
					     "imap" : k->protocols ==
					     CFG_FOR_POP3 ? "pop3" :
					     "imap or pop3",
					     cfg_protocol_name(a->protocol));
			continue;
		}
		cfg_validate_parse(v, seen, id, a);
	}
	for (size_t id = K_PROTOCOL; id < K_COUNT; id++)
		cfg_validate_default(v, seen, id, a->line, a);
	if (seen[K_MAILDIR].is_valid)
		a->maildir_line = cfg_validate_line(seen, K_MAILDIR);
	cfg_validate_account_rules(v, seen, a);
}

static void
cfg_validate_general(struct cfg_vctx *v, const struct cfg_raw_section *sec,
		     struct cfg_seen *seen, struct cfg *cfg)
{
	bool had[K_COUNT];

	for (size_t id = K_STORE; id < K_PROTOCOL; id++)
		had[id] = seen[id].entry != NULL;
	cfg_validate_collect(v, sec, CFG_IN_GENERAL, seen);
	for (size_t id = K_STORE; id < K_PROTOCOL; id++)
		if (!had[id])
			cfg_validate_parse(v, seen, id, cfg);
}

/*
 * What a section header names: [general] or [account NAME].  Returns the
 * account name (within sec->name), "" for [general], or NULL after
 * reporting an unknown section.
 */
static const char *
cfg_validate_section_kind(struct cfg_vctx *v, const struct cfg_raw_section *sec)
{
	const char *p;
	char why[256];
	size_t word;

	if (strcmp(sec->name, "general") == 0)
		return "";
	if (strncmp(sec->name, "account", 7) == 0 &&
	    (sec->name[7] == '\0' || sec->name[7] == ' ' ||
	     sec->name[7] == '\t')) {
		for (p = sec->name + 7; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0') {
			cfg_validate_problem(v, sec->line, NULL, "missing "
					     "account name (expected [account "
					     "NAME])");
			return NULL;
		}
		if (cfg__value_account_name(p, why, sizeof(why)) !=
			   MS_OK) {
			cfg_validate_problem(v, sec->line, NULL,
					     "%s (expected letters, digits, "
					     "'.', '_' and '-': it names files "
					     "and commands)", why);
		}
		return p;
	}
	/* Suggest by the first word, so [acount work] finds [account NAME]. */
	word = strcspn(sec->name, " \t");
	if (word < sizeof(why)) {
		memcpy(why, sec->name, word);
		why[word] = '\0';
	}
	if (word < sizeof(why) && cfg__edit_distance(why, "account") <= 2 &&
	    sec->name[word] != '\0')
		cfg_validate_problem(v, sec->line, NULL, "unknown section; "
				     "did you mean [account NAME]?");
	else if (cfg__edit_distance(sec->name, "general") <= 2)
		cfg_validate_problem(v, sec->line, NULL, "unknown section; "
				     "did you mean [general]?");
	else
		cfg_validate_problem(v, sec->line, NULL, "unknown section "
				     "(expected [general] or [account NAME])");
	return NULL;
}

/* How dir a stands to dir b, both canonical. */
enum cfg_nest { CFG_NEST_APART, CFG_NEST_EQUAL, CFG_NEST_INSIDE,
		CFG_NEST_CONTAINS };

static bool
cfg_validate_is_below(const char *a, const char *b)
{
	size_t n = strlen(b);

	return strncmp(a, b, n) == 0 &&
	       (a[n] == '/' || (n == 1 && a[1] != '\0'));
}

static enum cfg_nest
cfg_validate_nest(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return CFG_NEST_EQUAL;
	if (cfg_validate_is_below(a, b))
		return CFG_NEST_INSIDE;
	if (cfg_validate_is_below(b, a))
		return CFG_NEST_CONTAINS;
	return CFG_NEST_APART;
}

static const char *const cfg_nest_words[] = {
	[CFG_NEST_EQUAL] = "is also", [CFG_NEST_INSIDE] = "is inside",
	[CFG_NEST_CONTAINS] = "contains",
};

/* " (that is, CANON)" when the canonical form differs from the text. */
static void
cfg_validate_canon_note(const char *text, const char *canon, char *out,
			size_t outsz)
{
	if (strcmp(text, canon) == 0)
		out[0] = '\0';
	else
		snprintf(out, outsz, " (that is, %s)", canon);
}

/*
 * Two mirrors that are one directory, or one inside the other, would take
 * each other's Maildirs for folders a reader made and upload one account's
 * mail to the other's server; a mirror and the store must not share a
 * tree either.  Paths are compared as the file system resolves them
 * (cfg__path_canonical()), so "Mail/" and a symbolic link to "Mail" count
 * as "Mail".  Reported at the maildir line of the later account.
 */
static void
cfg_validate_across(struct cfg_vctx *v, struct cfg *cfg, unsigned store_line)
{
	char **canon = cfg__calloc(cfg->n_accounts, sizeof(*canon));
	char *store = cfg->store != NULL ? cfg__path_canonical(cfg->store) :
		      NULL;
	char note[PATH_MAX + 16], note_j[PATH_MAX + 16], where[64];
	char label[300];

	if (store_line != 0)
		snprintf(where, sizeof(where), "[general] store, line %u",
			 store_line);
	else
		snprintf(where, sizeof(where), "the default store");
	for (size_t i = 0; i < cfg->n_accounts; i++) {
		struct cfg_account *a = &cfg->accounts[i];
		enum cfg_nest nest;

		if (a->maildir == NULL ||
		    (canon[i] = cfg__path_canonical(a->maildir)) == NULL)
			continue;
		snprintf(label, sizeof(label), "account %s", a->name);
		v->label = label;
		cfg_validate_canon_note(a->maildir, canon[i], note,
					sizeof(note));
		for (size_t j = 0; j < i; j++) {
			if (canon[j] == NULL || (nest = cfg_validate_nest(
			    canon[i], canon[j])) == CFG_NEST_APART)
				continue;
			cfg_validate_canon_note(cfg->accounts[j].maildir,
						canon[j], note_j,
						sizeof(note_j));
			cfg_validate_problem(v, a->maildir_line, "maildir",
					     "'%s'%s %s the maildir of account "
					     "'%s', '%s'%s (expected a "
					     "directory apart from other "
					     "accounts' maildirs)", a->maildir,
					     note, cfg_nest_words[nest],
					     cfg->accounts[j].name,
					     cfg->accounts[j].maildir, note_j);
			break;
		}
		if (store == NULL || (nest = cfg_validate_nest(canon[i],
		    store)) == CFG_NEST_APART)
			continue;
		cfg_validate_problem(v, a->maildir_line, "maildir",
				     "'%s'%s %s the store, %s (%s) (expected a "
				     "directory apart from the store)",
				     a->maildir, note, nest == CFG_NEST_EQUAL ?
				     "is" : cfg_nest_words[nest], store,
				     where);
	}
	v->label = "general";	/* label was this function's */
	for (size_t i = 0; i < cfg->n_accounts; i++)
		free(canon[i]);
	free(canon);
	free(store);
}

int
cfg__validate(const char *file, const struct cfg_raw *raw,
	      const struct cfg_env *env, struct cfg **cfg_r,
	      struct cfg_report *rep)
{
	struct cfg_vctx v = { .file = file, .env = env, .rep = rep };
	struct cfg_seen general[K_COUNT];
	unsigned general_line = 0;
	struct cfg *cfg = cfg__calloc(1, sizeof(*cfg));

	memset(general, 0, sizeof(general));
	cfg->file = cfg__strdup(file);
	cfg->socket_gid = (gid_t)-1;
	cfg->accounts = cfg__calloc(raw->n ? raw->n : 1,
				    sizeof(*cfg->accounts));
	for (size_t i = 0; i < raw->n; i++) {
		const struct cfg_raw_section *sec = &raw->sections[i];
		const char *name;

		v.label = sec->name;
		if (sec->line == 0) {
			for (size_t j = 0; j < sec->n; j++) {
				cfg__report_add(rep, file, sec->entries[j].line,
						"%s: outside any section "
						"(expected it under [general] "
						"or [account NAME])",
						sec->entries[j].key);
				v.is_bad = true;
			}
			continue;
		}
		if ((name = cfg_validate_section_kind(&v, sec)) == NULL)
			continue;
		if (name[0] == '\0') {
			/* A second [general] continues the first, so its keys
			 * are checked against the first's for duplicates. */
			if (general_line != 0)
				cfg_validate_problem(&v, sec->line, NULL,
						     "duplicate section (first "
						     "on line %u)",
						     general_line);
			else
				general_line = sec->line;
			cfg_validate_general(&v, sec, general, cfg);
			continue;
		}
		for (size_t j = 0; j < cfg->n_accounts; j++) {
			if (strcmp(cfg->accounts[j].name, name) == 0) {
				cfg_validate_problem(&v, sec->line, NULL,
						     "duplicate account name "
						     "(first defined on line "
						     "%u)",
						     cfg->accounts[j].line);
				break;
			}
		}
		cfg_validate_account(&v, sec, name,
				     &cfg->accounts[cfg->n_accounts++]);
	}
	v.label = "general";
	for (size_t id = K_STORE; id < K_PROTOCOL; id++)
		cfg_validate_default(&v, general, id, general_line, cfg);
	if (cfg->socket == NULL)
		cfg->socket = cfg__socket_default(env, cfg->store);
	if (cfg->spool == NULL && cfg->store != NULL)
		cfg->spool = cfg__printf("%s/spool", cfg->store);
	cfg_validate_across(&v, cfg, general[K_STORE].is_valid ?
			    general[K_STORE].entry->line : 0);
	if (cfg->n_accounts == 0) {
		cfg__report_add(rep, file, 0, "no [account NAME] section "
				"(expected at least one account)");
		v.is_bad = true;
	}
	if (v.is_bad) {
		cfg_free(&cfg);
		return MS_ECONFIG;
	}
	*cfg_r = cfg;
	return MS_OK;
}

const char *
cfg_protocol_name(enum cfg_protocol p)
{
	/* The table ends with NULL for the value parser. */
	if ((size_t)p + 1 >= sizeof(cfg_protocol_names) /
	    sizeof(cfg_protocol_names[0]))
		return "?";
	return cfg_protocol_names[p];
}

const char *
cfg_tls_name(enum cfg_tls t)
{
	return cfg_tls_names[t];
}
