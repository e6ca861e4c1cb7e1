/*
 * sync_ensure.c - the pass's wanted folders (and the namespace prefix)
 * written into the store on the libuv threadpool (sync_folders_ensure(),
 * imap_sync_int.h).
 *
 * A folder new to the store (every folder of the first pass) or whose
 * delimiter or attributes changed, or a new namespace prefix, needs a
 * write transaction, whose commit waits for the disk twice: on a busy disk tens of milliseconds that the
 * loop would wait too.  The job carries copies of what it writes, so a
 * pass that ends meanwhile (imap_sync_free() orphans it) leaves the worker
 * nothing of its own to touch; after_work hands the ids to the pass, or
 * only frees the job.
 */
#include <stdlib.h>
#include <string.h>

#include "sync/imap_sync_int.h"

struct sync_ensure {
	uv_work_t work;
	struct imap_sync *as;		/* NULL: orphaned by the pass */
	struct store *store;
	char *account;
	char *ns_prefix;		/* to store; NULL: as it is */
	struct store_folder_want *v;	/* names owned */
	size_t n;
	void (*then)(struct imap_sync *as);
	int rc;
	struct ms_err err;
};

static void
sync_ensure_free(struct sync_ensure *e)
{
	for (size_t i = 0; i < e->n; i++)
		free((char *)e->v[i].name);
	free(e->v);
	free(e->ns_prefix);
	free(e->account);
	free(e);
}

static int
sync_ensure_write(struct sync_ensure *e)
{
	if (e->ns_prefix != NULL) {
		int rc = store_account_ns_set(e->store, e->account,
					      e->ns_prefix, &e->err);

		if (rc < 0)
			return rc;
	}
	return store_folders_ensure(e->store, e->account, e->v, e->n, &e->err);
}

static void
sync_ensure_work(uv_work_t *w)
{
	struct sync_ensure *e = w->data;

	e->rc = sync_ensure_write(e);
}

/* The ids go to the pass's folders of the same names, and the pass goes
 * on; or it fails.  Frees e. */
static void
sync_ensure_finish(struct imap_sync *as, struct sync_ensure *e)
{
	void (*then)(struct imap_sync *as) = e->then;

	if (e->rc < 0) {
		sync_fail(as, e->rc, "store: %s", e->err.msg);
		sync_ensure_free(e);
		return;
	}
	for (size_t i = 0; i < e->n; i++)
		for (size_t j = 0; j < as->n_folds; j++)
			if (strcmp(as->folds[j].name, e->v[i].name) == 0)
				as->folds[j].id = e->v[i].id;
	sync_ensure_free(e);
	if (!as->is_closing)
		then(as);
}

static void
sync_ensure_after_work(uv_work_t *w, int status)
{
	struct sync_ensure *e = w->data;
	struct imap_sync *as = e->as;

	if (as == NULL) {
		sync_ensure_free(e);
		return;
	}
	as->ensure = NULL;
	if (status < 0 && e->rc == MS_OK)
		e->rc = ms_err_set(&e->err, MS_EINTERNAL, "folders: %s",
				   uv_strerror(status));
	sync_ensure_finish(as, e);
}

/* Adds folder f, with attrs, to e; false when out of memory. */
static bool
sync_ensure_add(struct sync_ensure *e, const struct sync_fold *f,
		uint32_t attrs)
{
	struct store_folder_want *wv = &e->v[e->n];

	if ((wv->name = strdup(f->name)) == NULL)
		return false;
	wv->delimiter = f->delim;
	wv->attrs = attrs;
	e->n++;
	return true;
}

void
sync_folders_ensure(struct imap_sync *as, void (*then)(struct imap_sync *as))
{
	struct store *s = as->params.store;
	struct sync_ensure *e = calloc(1, sizeof(*e));
	int rc;

	if (e == NULL || (e->v = calloc(as->n_folds + 1, sizeof(*e->v))) == NULL ||
	    (e->account = strdup(as->name)) == NULL) {
		if (e != NULL)
			sync_ensure_free(e);
		sync_fail(as, MS_ENOMEM, "out of memory");
		return;
	}
	/* A folder the store holds as it is needs no write: its id now. */
	for (size_t i = 0; i < as->n_folds; i++) {
		struct sync_fold *f = &as->folds[i];
		struct store_folder old;
		uint32_t attrs = f->attrs;
		bool is_stored;

		if (!f->is_wanted)
			continue;
		is_stored = store_folder_find(s, as->name, f->name, &old,
					      NULL) == MS_OK;
		/* Ours that a LIST does not replace: a folder that refused
		 * SELECT stays marked so (sync_folder.c), and is not
		 * reported again, until a SELECT succeeds. */
		if (is_stored && (old.attrs & STORE_FOLDER_UNSELECTABLE))
			attrs |= STORE_FOLDER_UNSELECTABLE |
				 STORE_FOLDER_NOSELECT;
		if (is_stored && old.delimiter == f->delim &&
		    old.attrs == attrs) {
			f->id = old.id;
			continue;
		}
		if (!sync_ensure_add(e, f, attrs)) {
			sync_ensure_free(e);
			sync_fail(as, MS_ENOMEM, "out of memory");
			return;
		}
	}
	if (as->is_ns_answered) {
		const char *prefix = as->has_ns ? as->ns_prefix : "";
		char now[STORE_NS_PREFIX_MAX + 1];

		if ((store_account_ns_get(s, as->name, now, sizeof(now),
					  NULL) != MS_OK ||
		     strcmp(now, prefix) != 0) &&
		    (e->ns_prefix = strdup(prefix)) == NULL) {
			sync_ensure_free(e);
			sync_fail(as, MS_ENOMEM, "out of memory");
			return;
		}
	}
	e->as = as;
	e->store = s;
	e->then = then;
	if ((e->n == 0 && e->ns_prefix == NULL) || as->params.loop == NULL) {
		/* Nothing to write, or no loop to hand it to: in place. */
		e->rc = sync_ensure_write(e);
		sync_ensure_finish(as, e);
		return;
	}
	e->work.data = e;
	if ((rc = uv_queue_work(as->params.loop, &e->work, sync_ensure_work,
				sync_ensure_after_work)) != 0) {
		sync_ensure_free(e);
		sync_fail(as, MS_EINTERNAL, "store: folders: %s",
			  uv_strerror(rc));
		return;
	}
	as->ensure = e;
}

void
sync_ensure_orphan(struct imap_sync *as)
{
	if (as->ensure != NULL)
		as->ensure->as = NULL;
	as->ensure = NULL;
}
