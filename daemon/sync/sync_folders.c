/*
 * sync_folders.c - folder patterns and the per-folder plan
 * (sync_folders.h).
 */
#include <strings.h>

#include "imap/imap_parser.h"
#include "session/imap_session.h"
#include "sync/sync_folders.h"

/* Length of the INBOX prefix of name that compares case-insensitively
 * ("INBOX" alone or followed by the delimiter), or 0. */
static size_t
sync_inbox_prefix(const char *name, char delim)
{
	if (strncasecmp(name, "INBOX", 5) != 0)
		return 0;
	if (name[5] == '\0' || (delim != 0 && name[5] == delim))
		return 5;
	return 0;
}

static bool
sync_glob(const char *p, const char *s, char delim)
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
				if (sync_glob(p + 1, t, delim))
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
sync_pattern_match(const char *pattern, const char *name, char delim)
{
	size_t np = sync_inbox_prefix(name, delim);
	size_t pp = sync_inbox_prefix(pattern, delim);

	/* INBOX is case-insensitive: compare that part on its own. */
	if (np > 0 && pp > 0)
		return sync_glob(pattern + pp, name + np, delim);
	return sync_glob(pattern, name, delim);
}

bool
sync_folder_wanted(char *const *patterns, size_t n, const char *name,
		   char delim)
{
	bool has_positive = false, is_matched = false;

	for (size_t i = 0; i < n; i++) {
		const char *pat = patterns[i];

		if (pat[0] == '!') {
			if (sync_pattern_match(pat + 1, name, delim))
				return false;
			continue;
		}
		has_positive = true;
		if (!is_matched && sync_pattern_match(pat, name, delim))
			is_matched = true;
	}
	return is_matched || !has_positive;
}

uint32_t
sync_folder_attrs(struct ms_slice attrs, const char *name)
{
	static const struct {
		const char *atom;
		uint32_t bit;
	} map[] = {
		{ "\\Noselect", STORE_FOLDER_NOSELECT },
		{ "\\NonExistent", STORE_FOLDER_NOSELECT },
		{ "\\Sent", STORE_FOLDER_SENT },
		{ "\\Drafts", STORE_FOLDER_DRAFTS },
		{ "\\Trash", STORE_FOLDER_TRASH },
		{ "\\Junk", STORE_FOLDER_JUNK },
		{ "\\Archive", STORE_FOLDER_ARCHIVE },
		{ "\\All", STORE_FOLDER_ALL },
		{ "\\Flagged", STORE_FOLDER_FLAGGED },
	};
	struct ms_slice cur = attrs, item;
	uint32_t bits = 0;

	while (imap_list_next(&cur, &item))
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (ms_slice_case_eq_cstr(item, map[i].atom))
				bits |= map[i].bit;
	if (strcasecmp(name, "INBOX") == 0)
		bits |= STORE_FOLDER_INBOX;
	return bits;
}

const char *
sync_folder_mode_name(enum sync_folder_mode mode)
{
	switch (mode) {
	case SYNC_MODE_SKIP: return "skip";
	case SYNC_MODE_INITIAL: return "initial";
	case SYNC_MODE_QRESYNC: return "qresync";
	case SYNC_MODE_CONDSTORE: return "condstore";
	case SYNC_MODE_FULL: return "full";
	}
	return "?";
}

enum sync_folder_mode
sync_folder_plan(const struct store_folder_state *stored,
		 const struct sync_folder_status *st, unsigned caps,
		 bool has_pending)
{
	if (stored->uidvalidity == 0)
		return SYNC_MODE_INITIAL;
	/* Without a modseq a flag change shows in none of the four values:
	 * such a folder is always diffed. */
	if (st->has_status && !has_pending && st->highestmodseq != 0 &&
	    st->uidvalidity == stored->uidvalidity &&
	    st->uidnext == stored->uidnext &&
	    st->messages == stored->messages &&
	    st->highestmodseq == stored->highestmodseq)
		return SYNC_MODE_SKIP;
	/* QRESYNC needs a modseq we know to be complete: it is written only
	 * by the batch that finished the folder, so 0 means "resume". */
	if ((caps & IMAP_SESSION_CAP_QRESYNC) != 0 &&
	    stored->highestmodseq > 0)
		return SYNC_MODE_QRESYNC;
	if ((caps & IMAP_SESSION_CAP_CONDSTORE) != 0 &&
	    stored->highestmodseq > 0)
		return SYNC_MODE_CONDSTORE;
	return SYNC_MODE_FULL;
}
