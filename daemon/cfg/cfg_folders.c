/*
 * cfg_folders.c - the folders= key's patterns (cfg.h): which folders an
 * account syncs, the one rule the engine and the mirror both ask.
 */
#include <strings.h>

#include "cfg/cfg.h"

/* Length of the INBOX prefix of name that compares case-insensitively
 * ("INBOX" alone or followed by the delimiter), or 0. */
static size_t
cfg_inbox_prefix(const char *name, char delim)
{
	if (strncasecmp(name, "INBOX", 5) != 0)
		return 0;
	if (name[5] == '\0' || (delim != 0 && name[5] == delim))
		return 5;
	return 0;
}

static bool
cfg_glob(const char *p, const char *s, char delim)
{
	/* Iterative glob with one backtrack point per wildcard kind: a "*"
	 * backtrack covers any later "%" failure, so this stays linear
	 * enough for folder names. */
	const char *star_p = NULL, *star_s = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
			continue;
		}
		if (*p == '%') {
			/* Try the rest of the pattern at every position up
			 * to the next delimiter. */
			const char *t = s;

			for (;;) {
				if (cfg_glob(p + 1, t, delim))
					return true;
				if (*t == '\0' || (delim != 0 && *t == delim))
					break;
				t++;
			}
		} else if (*p == *s) {
			p++;
			s++;
			continue;
		}
		if (star_p == NULL)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (*p == '*' || *p == '%')
		p++;
	return *p == '\0';
}

bool
cfg_folder_match(const char *pattern, const char *name, char delim)
{
	size_t np = cfg_inbox_prefix(name, delim);
	size_t pp = cfg_inbox_prefix(pattern, delim);

	/* INBOX is case-insensitive: compare that part on its own. */
	if (np > 0 && pp > 0)
		return cfg_glob(pattern + pp, name + np, delim);
	return cfg_glob(pattern, name, delim);
}

bool
cfg_folder_wanted(char *const *patterns, size_t n, const char *name,
		   char delim)
{
	bool has_positive = false, is_matched = false;

	for (size_t i = 0; i < n; i++) {
		const char *pat = patterns[i];

		if (pat[0] == '!') {
			if (cfg_folder_match(pat + 1, name, delim))
				return false;
			continue;
		}
		has_positive = true;
		if (!is_matched && cfg_folder_match(pat, name, delim))
			is_matched = true;
	}
	return is_matched || !has_positive;
}
