/*
 * sync_create.c - folders a reader created in the Maildir mirror: the
 * mirror scan records them in the store (STORE_FOLDER_CREATE) with their
 * files as pending APPENDs; here the pass CREATEs them on the server
 * before any folder is synced, so that the APPENDs, and moves into them,
 * have somewhere to go.  A created folder joins the pass's folders; the
 * next LIST shows it and replaces its attributes.  The folders of the
 * pass (sync_fold_add) are kept here, since a created one joins them.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_cmd.h"
#include "log.h"
#include "sync/imap_sync_int.h"

struct sync_fold *
sync_fold_add(struct imap_sync *as, const char *name)
{
	struct sync_fold *f;

	if (as->n_folds == as->folds_cap) {
		size_t cap = as->folds_cap ? as->folds_cap * 2 : 16;
		struct sync_fold *v = realloc(as->folds, cap * sizeof(*v));

		if (v == NULL) {
			sync_fail(as, MS_ENOMEM, "out of memory");
			return NULL;
		}
		as->folds = v;
		as->folds_cap = cap;
	}
	f = &as->folds[as->n_folds];
	memset(f, 0, sizeof(*f));
	if ((f->name = strdup(name)) == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return NULL;
	}
	as->n_folds++;
	return f;
}

bool
sync_create_add(struct imap_sync *as, const struct store_folder *f)
{
	const struct cfg_list *pat = &as->acct->folders;
	struct store_folder *v;

	if (as->acct->direction != CFG_DIRECTION_BOTH ||
	    !cfg_folder_wanted(pat->v, pat->n, f->name, f->delimiter)) {
		log_info("acct=%s folder=%s was created in the mirror; not "
			 "created on the server (%s)", as->name, f->name,
			 as->acct->direction != CFG_DIRECTION_BOTH ?
			 "direction = pull" : "not matched by folders =");
		return true;
	}
	v = realloc(as->creates, (as->n_creates + 1) * sizeof(*v));
	if (v == NULL) {
		sync_fail(as, MS_ENOMEM, "out of memory");
		return false;
	}
	as->creates = v;
	as->creates[as->n_creates++] = *f;
	return true;
}

static void
sync_create_finish(struct imap_sync *as)
{
	free(as->creates);
	as->creates = NULL;
	as->n_creates = as->create_i = 0;
	as->after_discovery(as);
}

/* The folder exists on the server now: it joins the pass (the LIST is
 * over) and loses its STORE_FOLDER_CREATE mark. */
static bool
sync_create_created(struct imap_sync *as, const struct store_folder *f)
{
	struct sync_fold *fold;
	struct ms_err err = { 0 };
	uint32_t id;
	int rc;

	rc = store_folder_ensure(as->params.store, as->name, f->name,
				 f->delimiter, f->attrs & ~STORE_FOLDER_CREATE,
				 &id, &err);
	if (rc < 0) {
		sync_fail(as, rc, "store: folder %s: %s", f->name, err.msg);
		return false;
	}
	if ((fold = sync_fold_add(as, f->name)) == NULL)
		return false;
	fold->delim = f->delimiter;
	fold->attrs = f->attrs & ~STORE_FOLDER_CREATE;
	fold->id = id;
	fold->is_wanted = true;
	fold->has_pending = true;
	as->sum.folders++;
	log_info("acct=%s folder=%s created on the server (a reader made it "
		 "in the mirror)", as->name, f->name);
	return true;
}

static void sync_create_next(struct imap_sync *as);

static void
sync_create_done(struct imap_session *s, int rc,
		 const struct imap_ev_status *st, void *arg)
{
	struct imap_sync *as = arg;
	const struct store_folder *f = &as->creates[as->create_i - 1];

	(void)s;
	if (!sync_cmd_live(as, rc))
		return;
	if (sync_st_ok(st) ||
	    (st != NULL && st->code.code == IMAP_CODE_ALREADYEXISTS)) {
		/* ALREADYEXISTS: created by an earlier pass that ended
		 * before it recorded so. */
		if (!sync_create_created(as, f))
			return;
	} else {
		log_warn("acct=%s folder=%s could not be created on the "
			 "server (its messages stay local and pending): %.*s",
			 as->name, f->name,
			 st != NULL ? (int)st->text.len : 0,
			 st != NULL ? (const char *)st->text.p : "");
	}
	sync_create_next(as);
}

/* One CREATE at a time: there are few, and the answer is matched to its
 * folder without relying on the order of tagged replies. */
static void
sync_create_next(struct imap_sync *as)
{
	struct imap_client *core = imap_session_core(as->sess);
	const struct store_folder *f;

	if (as->create_i == as->n_creates) {
		sync_create_finish(as);
		return;
	}
	f = &as->creates[as->create_i++];
	(void)sync_submit(as, imap_cmd_create(core,
			  ms_slice_from_cstr(f->name)), sync_create_done);
}

void
sync_create_folders(struct imap_sync *as)
{
	as->create_i = 0;
	sync_create_next(as);
}
