/* mirror_check.c - does the mirror show exactly what the store holds? */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "maildir/maildir_hash.h"
#include "mirror/mirror_int.h"

static int
mirror_check_record(struct mirror_ctx *c, const struct store_folder *f,
		    struct mirror_dir *md, const struct store_msg *m,
		    unsigned flags, struct ms_err *err_r)
{
	char idbuf[MIRROR_ID_MAX];
	size_t klen, i;
	const char *key = mirror__key(f->state.uidvalidity, m, idbuf, &klen);
	const struct maildir_entry *e;
	const char *name;
	struct maildir_fhash fh;
	struct stat sb;
	int rc;

	i = mirror__dir_find_unclaimed(md, key, klen);
	if (mirror__is_pending_src(c, f->id, m->uid)) {
		if (i != SIZE_MAX)
			return ms_err_set(err_r, MS_EINVAL,
					  "%s uid %" PRIu32 ": pending delete or "
					  "move, but file %s is there", f->name,
					  m->uid, mirror__dir_name(md, i));
		return MS_OK;
	}
	if (i == SIZE_MAX && c->p->is_deleted_hidden &&
	    (m->flags & STORE_FLAG_DELETED))
		return MS_OK;	/* deleted (local_delete = flag): no file */
	if (i == SIZE_MAX)
		return ms_err_set(err_r, MS_EINVAL, "%s uid %" PRIu32 ": no file "
				  "(recorded \"%s\")", f->name, m->uid,
				  m->mirror_name);
	md->claimed[i] = true;
	e = &md->l.v[i];
	name = mirror__dir_name(md, i);
	if (strcmp(name, m->mirror_name) != 0)
		return ms_err_set(err_r, MS_EINVAL, "%s uid %" PRIu32 ": file %s, "
				  "recorded \"%s\"", f->name, m->uid, name,
				  m->mirror_name);
	if ((e->flags & MAILDIR_FLAGS_SYSTEM) != mirror_flags_to_maildir(m->flags) ||
	    (e->sub == MAILDIR_SUB_NEW && e->flags != 0))
		return ms_err_set(err_r, MS_EINVAL, "%s uid %" PRIu32 ": file %s/%s "
				  "has other flags than %#x", f->name, m->uid,
				  maildir_sub_name((enum maildir_sub)e->sub), name,
				  m->flags);
	if (fstatat(mirror__dir_subfd(md, i), name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !mirror__size_ok(f->state.uidvalidity, m, name,
			     (uint64_t)sb.st_size))
		return ms_err_set(err_r, MS_EINVAL, "%s uid %" PRIu32 ": file %s "
				  "is not the size written (%lld bytes)",
				  f->name, m->uid, name, (long long)sb.st_size);
	if (!(flags & MIRROR_CHECK_CONTENT))
		return MS_OK;
	rc = maildir_hash_mail(mirror__dir_subfd(md, i), name, &fh, err_r);
	if (rc != MS_OK)
		return rc;
	if (!maildir_fhash_is(&fh, m->hash))
		return ms_err_set(err_r, MS_EINVAL, "%s uid %" PRIu32 ": file %s "
				  "differs from the stored body", f->name, m->uid,
				  name);
	return MS_OK;
}

static int
mirror_check_folder(struct mirror_ctx *c, const struct store_folder *f,
		    const char *path, unsigned flags, struct ms_err *err_r)
{
	struct mirror_dir md;
	struct store_msg_iter *it = NULL;
	struct store_msg m;
	bool exists;
	int rc;

	rc = mirror__dir_open(&md, c->p->root, path, false, NULL, &exists,
			      err_r);
	if (rc == MS_OK && !exists && (f->attrs & STORE_FOLDER_GONE)) {
		mirror__dir_close(&md);
		return MS_OK;	/* deleted on the server, and in the mirror */
	}
	if (rc == MS_OK && !exists)
		rc = ms_err_set(err_r, MS_EINVAL, "%s: no Maildir at %s",
				f->name, path);
	if (rc == MS_OK && (rc = store_msg_iter_new(c->s, f->id, 0, &it)) != MS_OK)
		ms_err_set(err_r, rc, "out of memory");
	while (rc == MS_OK && (rc = store_msg_iter_next(it, &m, err_r)) == MS_OK)
		rc = mirror_check_record(c, f, &md, &m, flags, err_r);
	store_msg_iter_free(&it);
	if (rc == STORE_NOTFOUND)
		rc = MS_OK;
	/* Files no record claims: only a pending APPEND or MOVE explains one. */
	for (size_t i = 0; rc == MS_OK && i < md.l.n; i++) {
		struct maildir_fhash fh;
		const char *name = mirror__dir_name(&md, i);

		if (md.claimed[i])
			continue;
		rc = maildir_hash_mail(mirror__dir_subfd(&md, i), name, &fh, err_r);
		if (rc == MS_OK && !mirror__is_incoming_file(c, f->id, &fh))
			rc = ms_err_set(err_r, MS_EINVAL, "%s: file %s/%s belongs "
					"to no message", f->name,
					maildir_sub_name((enum maildir_sub)md.l.v[i].sub),
					name);
	}
	mirror__dir_close(&md);
	return rc;
}

/* A Maildir a scan would make a folder of: the scan has not run yet. */
static int
mirror_check_new_folder(struct mirror_ctx *c, const char *abs, const char *name,
			char delim, void *arg, struct ms_err *err_r)
{
	(void)c;
	(void)delim;
	(void)arg;
	return ms_err_set(err_r, MS_EINVAL, "Maildir %s is no store folder's "
			  "(a scan would make it folder \"%s\")", abs, name);
}

int
mirror_check(struct store *s, const struct mirror_params *p, unsigned flags,
	     struct ms_err *err_r)
{
	struct mirror_ctx c;
	char **paths = NULL;
	int rc = mirror__ctx_init(&c, s, p, err_r);

	if (rc == MS_OK && c.nfolders > 0 &&
	    (paths = calloc(c.nfolders, sizeof(*paths))) == NULL)
		rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
	for (size_t i = 0; rc == MS_OK && i < c.nfolders; i++) {
		rc = mirror__folder_path(&c, &c.folders[i], &paths[i], err_r);
		if (rc == MS_OK && paths[i] != NULL)
			rc = mirror_check_folder(&c, &c.folders[i], paths[i],
						 flags, err_r);
	}
	if (rc == MS_OK)
		rc = mirror__tree_new(&c, &paths, mirror_check_new_folder, NULL,
				      err_r);
	for (size_t i = 0; paths != NULL && i < c.nfolders; i++)
		free(paths[i]);
	free(paths);
	mirror__ctx_deinit(&c);
	return rc;
}
