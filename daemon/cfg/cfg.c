/*
 * cfg.c - loading a config file (read, mode check, the two phases), the
 * problem report, and freeing.
 */
#include "cfg/cfg_int.h"
#include "cfg/cfg_fetchmail.h"
#include "cfg/cfg_mbsync.h"
#include "cfg/cfg_offlineimap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
cfg_oom(void)
{
	fputs("mailsyncd: out of memory\n", stderr);
	abort();
}

char *
cfg__strdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		cfg_oom();
	return p;
}

void *
cfg__calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		cfg_oom();
	return p;
}

void *
cfg__reallocarray(void *p, size_t n, size_t size)
{
	void *np = reallocarray(p, n ? n : 1, size ? size : 1);

	if (np == NULL)
		cfg_oom();
	return np;
}

char *
cfg__printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		cfg_oom();
	va_end(ap);
	return s;
}

void
cfg_report_init(struct cfg_report *rep)
{
	memset(rep, 0, sizeof(*rep));
}

void
cfg_report_deinit(struct cfg_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		free(rep->v[i].text);
	free(rep->v);
	memset(rep, 0, sizeof(*rep));
}

void
cfg_report_print(const struct cfg_report *rep, FILE *out)
{
	for (size_t i = 0; i < rep->n; i++)
		fprintf(out, "%s\n", rep->v[i].text);
}

void
cfg__report_add(struct cfg_report *rep, const char *file, unsigned line,
		const char *fmt, ...)
{
	char *msg, *text;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		cfg_oom();
	va_end(ap);
	if (rep->n == rep->cap) {
		rep->cap = rep->cap ? rep->cap * 2 : 8;
		rep->v = cfg__reallocarray(rep->v, rep->cap, sizeof(*rep->v));
	}
	text = line ? cfg__printf("%s:%u: %s", file, line, msg) :
		      cfg__printf("%s: %s", file, msg);
	/* Keys, section names and values from the file are echoed in
	 * messages; a binary file's escape sequences must not reach the
	 * terminal of --check-config. */
	len = strlen(text);
	rep->v[rep->n].line = line;
	rep->v[rep->n].text = log_escape(text, len, cfg__calloc(1, 4 * len + 1),
					 4 * len + 1);
	rep->n++;
	free(text);
	free(msg);
}

void
cfg__report_sort(struct cfg_report *rep)
{
	/* Insertion sort: stable, and reports are short. */
	for (size_t i = 1; i < rep->n; i++) {
		struct cfg_problem p = rep->v[i];
		size_t j = i;

		while (j > 0 && rep->v[j - 1].line > p.line) {
			rep->v[j] = rep->v[j - 1];
			j--;
		}
		rep->v[j] = p;
	}
}

static void
cfg_string_zero_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
cfg_account_deinit(struct cfg_account *a)
{
	free(a->name);
	free(a->host);
	free(a->ca_file);
	free(a->user);
	cfg_string_zero_free(a->password);
	free(a->password_cmd);
	free(a->oauth_token_cmd);
	cfg__list_free(&a->folders);
	cfg__list_free(&a->idle_folders);
	free(a->maildir);
	free(a->mbsync_state);
	free(a->smtp_host);
	cfg__list_free(&a->from);
	free(a->sent_folder);
	free(a->new_mail_cmd);
	free(a->smtp_user);
	free(a->smtp_password_cmd);
	memset(a, 0, sizeof(*a));
}

static char *
cfg_strdup_opt(const char *s)
{
	return s != NULL ? cfg__strdup(s) : NULL;
}

static void
cfg_list_copy(struct cfg_list *dst, const struct cfg_list *src)
{
	dst->n = src->n;
	dst->v = src->n > 0 ? cfg__calloc(src->n, sizeof(*dst->v)) : NULL;
	for (size_t i = 0; i < src->n; i++)
		dst->v[i] = cfg__strdup(src->v[i]);
}

void
cfg_account_copy(struct cfg_account *dst, const struct cfg_account *src)
{
	*dst = *src;
	dst->name = cfg_strdup_opt(src->name);
	dst->host = cfg_strdup_opt(src->host);
	dst->ca_file = cfg_strdup_opt(src->ca_file);
	dst->user = cfg_strdup_opt(src->user);
	dst->password = cfg_strdup_opt(src->password);
	dst->password_cmd = cfg_strdup_opt(src->password_cmd);
	dst->oauth_token_cmd = cfg_strdup_opt(src->oauth_token_cmd);
	cfg_list_copy(&dst->folders, &src->folders);
	cfg_list_copy(&dst->idle_folders, &src->idle_folders);
	dst->maildir = cfg_strdup_opt(src->maildir);
	dst->mbsync_state = cfg_strdup_opt(src->mbsync_state);
	dst->smtp_host = cfg_strdup_opt(src->smtp_host);
	cfg_list_copy(&dst->from, &src->from);
	dst->sent_folder = cfg_strdup_opt(src->sent_folder);
	dst->new_mail_cmd = cfg_strdup_opt(src->new_mail_cmd);
	dst->smtp_user = cfg_strdup_opt(src->smtp_user);
	dst->smtp_password_cmd = cfg_strdup_opt(src->smtp_password_cmd);
}

void
cfg_free(struct cfg **cfgp)
{
	struct cfg *cfg = *cfgp;

	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_accounts; i++)
		cfg_account_deinit(&cfg->accounts[i]);
	free(cfg->accounts);
	free(cfg->file);
	free(cfg->store);
	free(cfg->socket);
	free(cfg->spool);
	free(cfg);
	*cfgp = NULL;
}

const struct cfg_account *
cfg_account_find(const struct cfg *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_accounts; i++)
		if (strcmp(cfg->accounts[i].name, name) == 0)
			return &cfg->accounts[i];
	return NULL;
}

/* The first of keys (NULL-terminated) that any section sets, or NULL. */
static const char *
cfg_raw_find_key(const struct cfg_raw *raw, const char *const *keys)
{
	for (size_t k = 0; keys[k] != NULL; k++)
		for (size_t i = 0; i < raw->n; i++)
			for (size_t j = 0; j < raw->sections[i].n; j++)
				if (strcmp(raw->sections[i].entries[j].key,
					   keys[k]) == 0)
					return keys[k];
	return NULL;
}

/* "group", "others" or "group and others", for the bits of mask in mode. */
static const char *
cfg_mode_who(mode_t mode, mode_t mask)
{
	mode &= mask;
	if ((mode & 070) && (mode & 007))
		return "group and others";
	return (mode & 070) ? "group" : "others";
}

/*
 * A file that names a command mailsyncd runs must be changeable only by
 * the user (or root): whoever can change it runs commands as the user.
 * That takes the file, its owner, and every directory above it (a
 * directory others can write lets them replace the file, unless it is
 * sticky, as /tmp is).  The directories are those of the resolved path,
 * as OpenSSH checks its files.  Reports the first problem; false then.
 */
static bool
cfg_check_writers(const char *file, const struct stat *st, const char *key,
		  const struct cfg_env *env, struct cfg_report *rep)
{
	char *real, *slash;
	struct stat dst;
	bool is_ok = true;

	if ((st->st_mode & 022) != 0) {
		cfg__report_add(rep, file, 0, "sets %s, a command mailsyncd "
				"runs as you, but is writable by %s (mode "
				"%04o); run: chmod go-w %s", key,
				cfg_mode_who(st->st_mode, 022),
				(unsigned)(st->st_mode & 07777), file);
		return false;
	}
	if (st->st_uid != env->uid && st->st_uid != 0) {
		cfg__report_add(rep, file, 0, "sets %s, a command mailsyncd "
				"runs as you, but is owned by uid %lu, who can "
				"change it (expected a file owned by you or "
				"root)", key, (unsigned long)st->st_uid);
		return false;
	}
	if ((real = realpath(file, NULL)) == NULL)
		return true;	/* it was just read; nothing to add */
	while (is_ok && (slash = strrchr(real, '/')) != NULL) {
		/* The parent of "/x" is "/", which is checked last. */
		slash[slash == real ? 1 : 0] = '\0';
		if (stat(real, &dst) != 0)
			break;
		if ((dst.st_mode & 022) != 0 && !(dst.st_mode & S_ISVTX)) {
			cfg__report_add(rep, file, 0, "sets %s, a command "
					"mailsyncd runs as you, but directory "
					"%s is writable by %s (mode %04o), who "
					"can replace the file; run: chmod go-w "
					"%s", key, real,
					cfg_mode_who(dst.st_mode, 022),
					(unsigned)(dst.st_mode & 07777), real);
			is_ok = false;
		} else if (dst.st_uid != env->uid && dst.st_uid != 0) {
			cfg__report_add(rep, file, 0, "sets %s, a command "
					"mailsyncd runs as you, but directory "
					"%s is owned by uid %lu, who can replace "
					"the file (expected directories owned by "
					"you or root)", key, real,
					(unsigned long)dst.st_uid);
			is_ok = false;
		}
		if (strcmp(real, "/") == 0)
			break;
	}
	free(real);
	return is_ok;
}

/* Do a and b name the same existing file? */
static bool
cfg_is_same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return a != NULL && b != NULL && stat(a, &sa) == 0 &&
	       stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/*
 * The file is an mbsync configuration: how to convert it.  Into
 * ~/.config/mailsync/config.ini, unless it is that file: "convert FILE >
 * FILE" would have the shell empty it before convert reads it.
 */
static void
cfg_mbsync_hint(const char *file, const struct cfg_env *env,
		struct cfg_report *rep)
{
	const char *home = env != NULL ? env->get("HOME", env->arg) : NULL;
	char *target = home != NULL && home[0] == '/' ?
		       cfg__printf("%s/.config/mailsync/config.ini", home) :
		       NULL;

	if (cfg_is_same_file(file, target))
		cfg__report_add(rep, file, 0, "this is an mbsync configuration "
				"(~/.mbsyncrc), not a mailsync one; convert it "
				"with: mailsyncctl convert %s > %s.new && mv "
				"%s.new %s (not straight into %s: the shell "
				"would empty it before convert reads it)", file,
				file, file, file, file);
	else
		cfg__report_add(rep, file, 0, "this is an mbsync configuration "
				"(~/.mbsyncrc), not a mailsync one; convert it "
				"with: mailsyncctl convert %s > "
				"~/.config/mailsync/config.ini", file);
	free(target);
}

/*
 * Both phases over text.  st is the file's, or NULL to skip the checks of
 * who may read and change it, which need a real file: a file holding a
 * password must be private (as msmtp wants), and one naming a command
 * must be changeable only by the user.
 */
static int
cfg_load_common(const char *file, const char *text, size_t len,
		const struct stat *st, const struct cfg_env *env,
		struct cfg **cfg_r, struct cfg_report *rep)
{
	static const char *const password_keys[] = { "password", NULL };
	static const char *const command_keys[] = { "password_cmd",
		"oauth_token_cmd", "new_mail_cmd", "smtp_password_cmd", NULL };
	/* Other tools' files, which mailsyncctl convert reads. */
	static const struct {
		bool (*looks_like)(const char *text, size_t len);
		const char *what, *rc;
	} others[] = {
		{ cfg_offlineimap_looks_like, "an OfflineIMAP",
		  "~/.offlineimaprc" },
		{ cfg_fetchmail_looks_like, "a fetchmail", "~/.fetchmailrc" },
	};
	struct cfg_raw raw = { NULL, 0, 0 };
	const char *key;
	int rc_raw, rc;

	*cfg_r = NULL;
	/* Someone moving from mbsync points us at ~/.mbsyncrc: one line
	 * that says so beats a "not a setting" for each of its lines. */
	if (cfg_mbsync_looks_like(text, len)) {
		cfg_mbsync_hint(file, env, rep);
		return MS_ECONFIG;
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(*others); i++)
		if (others[i].looks_like(text, len)) {
			cfg__report_add(rep, file, 0, "this is %s "
					"configuration (%s), not a mailsync "
					"one; convert it with: mailsyncctl "
					"convert %s > "
					"~/.config/mailsync/config.ini",
					others[i].what, others[i].rc, file);
			return MS_ECONFIG;
		}
	rc_raw = cfg__raw_parse(file, text, len, &raw, rep);
	if (st != NULL && (st->st_mode & 077) != 0 &&
	    cfg_raw_find_key(&raw, password_keys) != NULL) {
		cfg__report_add(rep, file, 0, "contains a password but is "
				"%s by others (mode %04o); run: chmod 600 %s",
				(st->st_mode & 044) ? "readable" : "accessible",
				(unsigned)(st->st_mode & 07777), file);
		rc_raw = MS_ECONFIG;
	}
	if (st != NULL && (key = cfg_raw_find_key(&raw, command_keys)) != NULL &&
	    !cfg_check_writers(file, st, key, env, rep))
		rc_raw = MS_ECONFIG;
	/* Validate even after syntax errors, to report everything at once. */
	rc = cfg__validate(file, &raw, env, cfg_r, rep);
	cfg__raw_free(&raw);
	if (rc == MS_OK && rc_raw != MS_OK) {
		cfg_free(cfg_r);
		rc = rc_raw;
	}
	cfg__report_sort(rep);
	return rc;
}

int
cfg_load_text(const char *file, const char *text, size_t len,
	      const struct cfg_env *env, struct cfg **cfg_r,
	      struct cfg_report *rep)
{
	return cfg_load_common(file, text, len, NULL, env, cfg_r, rep);
}

int
cfg_load(const char *path, const struct cfg_env *env, struct cfg **cfg_r,
	 struct cfg_report *rep)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	*cfg_r = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		cfg__report_add(rep, path, 0, "cannot open: %s",
				strerror(errno));
		return MS_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cfg__report_add(rep, path, 0, "not a regular file");
		close(fd);
		return MS_EIO;
	}
	if (st.st_size > CFG_FILE_MAX) {
		cfg__report_add(rep, path, 0, "larger than %d bytes; not a "
				"config file?", CFG_FILE_MAX);
		close(fd);
		return MS_ECONFIG;
	}
	text = cfg__calloc(1, (size_t)st.st_size + 1);
	/* Read what is there now, even if the file changes size meanwhile. */
	while (len < (size_t)st.st_size &&
	       (n = read(fd, text + len, (size_t)st.st_size - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cfg__report_add(rep, path, 0, "cannot read: %s",
					strerror(errno));
			close(fd);
			free(text);
			return MS_EIO;
		}
		len += (size_t)n;
	}
	close(fd);
	rc = cfg_load_common(path, text, len, &st, env, cfg_r, rep);
	explicit_bzero(text, len);	/* it may hold a password */
	free(text);
	return rc;
}
