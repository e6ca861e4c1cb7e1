/*
 * cfg.c - loading a config file (read, mode check, the two phases), the
 * problem report, and freeing.
 */
#include "cfg/cfg_int.h"

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
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		cfg_oom();
	va_end(ap);
	if (rep->n == rep->cap) {
		rep->cap = rep->cap ? rep->cap * 2 : 8;
		rep->v = cfg__reallocarray(rep->v, rep->cap, sizeof(*rep->v));
	}
	rep->v[rep->n].line = line;
	rep->v[rep->n].text = line ? cfg__printf("%s:%u: %s", file, line, msg) :
				     cfg__printf("%s: %s", file, msg);
	rep->n++;
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
	free(a->smtp_host);
	cfg__list_free(&a->from);
	free(a->sent_folder);
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
	dst->smtp_host = cfg_strdup_opt(src->smtp_host);
	cfg_list_copy(&dst->from, &src->from);
	dst->sent_folder = cfg_strdup_opt(src->sent_folder);
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

/* True when any section sets the key "password". */
static bool
cfg_raw_has_password(const struct cfg_raw *raw)
{
	for (size_t i = 0; i < raw->n; i++)
		for (size_t j = 0; j < raw->sections[i].n; j++)
			if (strcmp(raw->sections[i].entries[j].key,
				   "password") == 0)
				return true;
	return false;
}

/*
 * Both phases over text.  mode is the file's st_mode, or 0 to skip the
 * check that a file holding a password is private (as msmtp does).
 */
static int
cfg_load_common(const char *file, const char *text, size_t len, mode_t mode,
		const struct cfg_env *env, struct cfg **cfg_r,
		struct cfg_report *rep)
{
	struct cfg_raw raw = { NULL, 0, 0 };
	int rc_raw, rc;

	*cfg_r = NULL;
	rc_raw = cfg__raw_parse(file, text, len, &raw, rep);
	if ((mode & 077) != 0 && cfg_raw_has_password(&raw)) {
		cfg__report_add(rep, file, 0, "contains a password but is "
				"%s by others (mode %04o); run: chmod 600 %s",
				(mode & 044) ? "readable" : "accessible",
				(unsigned)(mode & 07777), file);
		rc_raw = MS_ECONFIG;
	}
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
	return cfg_load_common(file, text, len, 0, env, cfg_r, rep);
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
	rc = cfg_load_common(path, text, len, st.st_mode, env, cfg_r, rep);
	explicit_bzero(text, len);	/* it may hold a password */
	free(text);
	return rc;
}
