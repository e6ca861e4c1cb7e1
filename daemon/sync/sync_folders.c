/*
 * sync_folders.c - LIST attributes and the per-folder plan
 * (sync_folders.h).
 */
#include "imap/imap_parser.h"
#include "session/imap_session.h"
#include "sync/sync_folders.h"

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
	case SYNC_MODE_REMATCH: return "rematch";
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
