/* cfg_convert.c - the writer the configuration converters share
 * (cfg_convert.h). */
#include "cfg/cfg_convert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg/cfg_int.h"

/* Longest line written. */
#define CFG_CONVERT_LINE_MAX 4400

void
cfg_convert_note(struct cfg_convert *w, unsigned line, const char *fmt, ...)
{
	struct cfg_convert_note *n;
	char text[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	w->notes = cfg__reallocarray(w->notes, w->n_notes + 1,
				     sizeof(*w->notes));
	n = &w->notes[w->n_notes++];
	n->line = line;
	n->text = cfg__strdup(text);
}

void
cfg_convert_out(struct cfg_convert *w, const char *fmt, ...)
{
	char text[CFG_CONVERT_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!w->is_out_full && ms_buf_append_cstr(&w->out, text) != MS_OK)
		w->is_out_full = true;
}

void
cfg_convert_init(struct cfg_convert *w, const char *file, const char *tool)
{
	memset(w, 0, sizeof(*w));
	ms_buf_init(&w->out, 4 * CFG_CONVERT_MAX);
	cfg_convert_out(w, "; mailsync configuration converted from %s (%s) "
			"by mailsyncctl convert.\n; Check it with: mailsyncd -c "
			"FILE --check-config; every key: mailsync.conf(5).\n",
			cfg_convert_value_ok(file) ? file : "a file", tool);
}

bool
cfg_convert_value_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
	    v[n - 1] == '\t' || n > CFG_CONVERT_LINE_MAX - 100)
		return false;
	/* inih takes " ;" for the start of a comment. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f ||
		    (v[i] == ';' && i > 0 && (v[i - 1] == ' ' ||
					      v[i - 1] == '\t')))
			return false;
	return true;
}

void
cfg_convert_key(struct cfg_convert *w, unsigned line, const char *key,
		const char *value)
{
	if (value == NULL)
		return;
	if (!cfg_convert_value_ok(value)) {
		cfg_convert_note(w, line, "%s: the value cannot be written "
				 "into an INI line (a ';' after a space, a "
				 "control character, or space at an end): set "
				 "it by hand", key);
		return;
	}
	cfg_convert_out(w, "%s = %s\n", key, value);
}

void
cfg_convert_account(struct cfg_convert *w, unsigned line, const char *name,
		    const char *protocol)
{
	char *fixed = cfg__strdup(name), why[200];

	for (char *p = fixed; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		      *p == '-'))
			*p = '-';
	if (cfg__value_account_name(fixed, why, sizeof(why)) != MS_OK) {
		free(fixed);
		fixed = cfg__printf("account%u", line);
	}
	if (strcmp(fixed, name) != 0)
		cfg_convert_note(w, line, "account %s: named %s (account "
				 "names are letters, digits, '.', '_' and '-')",
				 name, fixed);
	cfg_convert_out(w, "\n[account %s]\nprotocol = %s\n", fixed, protocol);
	w->n_accounts++;
	free(fixed);
}

const char *
cfg_convert_auth_name(const char *mech)
{
	static const char *const mechs[][2] = {
		{ "XOAUTH2", "xoauth2" }, { "OAUTHBEARER", "oauthbearer" },
		{ "PLAIN", "plain" }, { "LOGIN", "login" },
		{ "CRAM-MD5", "cram-md5" }, { "SCRAM-SHA-256", "scram-sha-256" },
	};

	for (size_t k = 0; k < sizeof(mechs) / sizeof(*mechs); k++)
		if (strcasecmp(mech, mechs[k][0]) == 0)
			return mechs[k][1];
	return NULL;
}

void
cfg_convert_folder_add(char **list, const char *name)
{
	char *q = cfg__calloc(1, 2 * strlen(name) + 3), *p = q, *joined;
	bool need = name[0] == '\0' || name[0] == '"' ||
		    strpbrk(name, " \t,") != NULL;
	size_t ql;

	if (need)
		*p++ = '"';
	for (const char *s = name; *s != '\0'; s++) {
		if (need && (*s == '"' || *s == '\\'))
			*p++ = '\\';
		*p++ = *s;
	}
	if (need)
		*p++ = '"';
	ql = strlen(q);
	/* Once each: a whole item of the list, between spaces. */
	for (const char *f = *list; f != NULL && (f = strstr(f, q)) != NULL;
	     f++)
		if ((f == *list || f[-1] == ' ') &&
		    (f[ql] == ' ' || f[ql] == '\0')) {
			free(q);
			return;
		}
	joined = *list == NULL ? cfg__strdup(q) : cfg__printf("%s %s", *list, q);
	free(*list);
	free(q);
	*list = joined;
}

int
cfg_convert_finish(struct cfg_convert *w, const char *tool,
		   struct cfg_convert_result *res_r)
{
	size_t len;

	memset(res_r, 0, sizeof(*res_r));
	if (w->n_accounts == 0)
		cfg_convert_note(w, 0, "no %s account with a server: nothing "
				 "to convert", tool);
	if (w->is_out_full)
		cfg_convert_note(w, 0, "the result is too large");
	/* In the order of the file (stable: a line's notes as written). */
	for (size_t i = 1; i < w->n_notes; i++) {
		struct cfg_convert_note t = w->notes[i];
		size_t j = i;

		for (; j > 0 && w->notes[j - 1].line > t.line; j--)
			w->notes[j] = w->notes[j - 1];
		w->notes[j] = t;
	}
	res_r->ini = (char *)ms_buf_take(&w->out, &len);	/* NUL-ended */
	if (res_r->ini == NULL)
		res_r->ini = cfg__strdup("");
	ms_buf_deinit(&w->out);
	res_r->notes = w->notes;
	res_r->n_notes = w->n_notes;
	res_r->n_accounts = w->n_accounts;
	w->notes = NULL;
	w->n_notes = 0;
	return w->n_accounts > 0 && !w->is_out_full ? MS_OK : MS_ECONFIG;
}

int
cfg_convert_run(struct cfg_convert *w, const char *file, const char *tool,
		const char *text, size_t len,
		void (*convert_cb)(const char *text, size_t len, void *arg),
		void *arg, struct cfg_convert_result *res_r)
{
	cfg_convert_init(w, file, tool);
	if (len > CFG_CONVERT_MAX)
		cfg_convert_note(w, 0, "larger than %d bytes: not a %s "
				 "configuration?", CFG_CONVERT_MAX, tool);
	else
		convert_cb(text, len, arg);
	return cfg_convert_finish(w, tool, res_r);
}

bool
cfg_convert_first_line(const char *text, size_t len, const char *comments,
		       const char **line_r, size_t *n_r)
{
	size_t pos = 0;

	while (pos < len) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - p) : len - pos, i = 0;

		pos += n + (nl != NULL);
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
			i++;
		if (i == n || (p[i] != '\0' && strchr(comments, p[i]) != NULL))
			continue;
		*line_r = p;
		*n_r = n;
		return true;
	}
	return false;
}

void
cfg_convert_result_free(struct cfg_convert_result *res)
{
	if (res->ini != NULL) {
		explicit_bzero(res->ini, strlen(res->ini));	/* a password */
		free(res->ini);
	}
	for (size_t i = 0; i < res->n_notes; i++)
		free(res->notes[i].text);
	free(res->notes);
	memset(res, 0, sizeof(*res));
}
