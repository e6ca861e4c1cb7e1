/*
 * sync_flags.c - flag names and the three-way merge (see sync_flags.h).
 */
#include <string.h>

#include "imap/imap_parser.h"
#include "store/store.h"
#include "sync/sync_flags.h"

static const struct {
	const char *name;
	uint32_t bit;
} sync_flag_names[] = {
	{ "\\Seen", STORE_FLAG_SEEN },
	{ "\\Answered", STORE_FLAG_ANSWERED },
	{ "\\Flagged", STORE_FLAG_FLAGGED },
	{ "\\Deleted", STORE_FLAG_DELETED },
	{ "\\Draft", STORE_FLAG_DRAFT },
	{ "$Forwarded", STORE_FLAG_FORWARDED },
	{ "$Junk", STORE_FLAG_JUNK },
	{ "$NotJunk", STORE_FLAG_NOTJUNK },
};

#define SYNC_N_FLAGS (sizeof(sync_flag_names) / sizeof(sync_flag_names[0]))

uint32_t
sync_flag_from_name(struct ms_slice name)
{
	for (size_t i = 0; i < SYNC_N_FLAGS; i++)
		if (ms_slice_case_eq_cstr(name, sync_flag_names[i].name))
			return sync_flag_names[i].bit;
	return 0;
}

uint32_t
sync_flags_from_imap(struct ms_slice list)
{
	struct ms_slice cur = list, item;
	uint32_t flags = 0;

	while (imap_list_next(&cur, &item))
		flags |= sync_flag_from_name(item);
	return flags;
}

int
sync_flags_to_imap(uint32_t flags, char *buf, size_t size)
{
	size_t len = 0;

	if (size == 0)
		return MS_ETOOBIG;
	buf[0] = '\0';
	for (size_t i = 0; i < SYNC_N_FLAGS; i++) {
		const char *name = sync_flag_names[i].name;
		size_t n = strlen(name);

		if ((flags & sync_flag_names[i].bit) == 0)
			continue;
		if (len + (len > 0) + n + 1 > size)
			return MS_ETOOBIG;
		if (len > 0)
			buf[len++] = ' ';
		memcpy(buf + len, name, n + 1);
		len += n;
	}
	return MS_OK;
}

uint32_t
sync_flags_merge(uint32_t local, uint32_t synced, uint32_t server,
		 uint32_t *conflicts_r)
{
	uint32_t local_changed = local ^ synced;
	uint32_t server_changed = server ^ synced;
	/* Both changed and disagree: with single bits this cannot happen
	 * (two changes away from one value agree), but the rule is kept
	 * explicit so a wider flag model cannot silently break it. */
	uint32_t conflicts = local_changed & server_changed & (local ^ server);
	uint32_t from_local = local_changed & ~conflicts;

	if (conflicts_r != NULL)
		*conflicts_r = conflicts;
	return (local & from_local) | (server & ~from_local);
}
