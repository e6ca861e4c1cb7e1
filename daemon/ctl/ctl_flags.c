/*
 * ctl_flags.c - message flags between the store's bits and the names
 * users and scripts write: IMAP's names in JSON, short names on the
 * command line.
 */
#include <strings.h>

#include "ctl/ctl_cmd.h"

static const struct {
	uint32_t bit;
	const char *imap;	/* as JSON shows it */
	const char *word;	/* as a user writes it */
} ctl_flag_names[] = {
	{ STORE_FLAG_SEEN, "\\Seen", "seen" },
	{ STORE_FLAG_ANSWERED, "\\Answered", "answered" },
	{ STORE_FLAG_FLAGGED, "\\Flagged", "flagged" },
	{ STORE_FLAG_DELETED, "\\Deleted", "deleted" },
	{ STORE_FLAG_DRAFT, "\\Draft", "draft" },
	{ STORE_FLAG_FORWARDED, "$Forwarded", "forwarded" },
	{ STORE_FLAG_JUNK, "$Junk", "junk" },
	{ STORE_FLAG_NOTJUNK, "$NotJunk", "notjunk" },
};

#define CTL_N_FLAGS (sizeof(ctl_flag_names) / sizeof(ctl_flag_names[0]))

json_t *
ctl_flags_json(uint32_t flags)
{
	json_t *v = json_array();

	for (size_t i = 0; i < CTL_N_FLAGS && v != NULL; i++)
		if (flags & ctl_flag_names[i].bit)
			json_array_append_new(v,
					      json_string(ctl_flag_names[i].imap));
	return v;
}

uint32_t
ctl_flag_parse(const char *name)
{
	for (size_t i = 0; i < CTL_N_FLAGS; i++) {
		const char *imap = ctl_flag_names[i].imap;

		if (strcasecmp(name, imap) == 0 ||
		    strcasecmp(name, imap + 1) == 0 ||
		    strcasecmp(name, ctl_flag_names[i].word) == 0)
			return ctl_flag_names[i].bit;
	}
	return 0;
}
