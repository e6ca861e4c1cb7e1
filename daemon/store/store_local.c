/*
 * store_local.c - recording what the user did to the mail (store.h,
 * "local changes"): each kind of change is one operation here, whoever
 * saw it happen (the mirror's scan of a reader's Maildir today, the
 * control socket's flag/move/delete next), so that every source records
 * the same way and the engine pushes them alike.
 */
#include "store/store_int.h"

int
store_batch_local_flags(struct store_batch *b, const struct store_msg *m,
			uint32_t flags)
{
	struct store_change ch = { 0 };
	uint32_t old = m->flags;
	int rc;

	if (flags == old)
		return 0;
	ch.kind = STORE_CHANGE_FLAGS;
	ch.folder_id = m->folder_id;
	ch.uid = m->uid;
	ch.flags_add = flags & ~old;
	ch.flags_remove = old & ~flags;
	/* The record shows the user's flags at once; the synced flags stay,
	 * so the three-way merge sees what changed locally. */
	if ((rc = store_batch_msg_flags(b, m->folder_id, m->uid, flags,
					m->synced_flags, m->modseq)) < 0 ||
	    (rc = store_batch_change_add(b, &ch, NULL)) < 0)
		return rc;
	return 1;
}

int
store_batch_local_delete(struct store_batch *b, uint32_t folder_id,
			 uint32_t uid)
{
	struct store_change ch = {
		.kind = STORE_CHANGE_DELETE,
		.folder_id = folder_id,
		.uid = uid,
	};

	return store_batch_change_add(b, &ch, NULL);
}

int
store_batch_local_move(struct store_batch *b, uint32_t folder_id,
		       uint32_t uid, uint32_t dest_folder_id)
{
	struct store_change ch = {
		.kind = STORE_CHANGE_MOVE,
		.folder_id = folder_id,
		.uid = uid,
		.dest_folder_id = dest_folder_id,
	};

	return store_batch_change_add(b, &ch, NULL);
}

int
store_batch_local_append(struct store_batch *b, uint32_t folder_id,
			 struct store_body *body, int64_t internal_date,
			 uint32_t flags)
{
	struct store_change ch = {
		.kind = STORE_CHANGE_APPEND,
		.folder_id = folder_id,
		.internal_date = internal_date,
		.flags_add = flags,
	};

	store_body_hash(body, ch.hash);
	return store_batch_change_add(b, &ch, body);
}
