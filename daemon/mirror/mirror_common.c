/* mirror_common.c - folders, pending changes, listings and names shared
 * by the mirror's export, scan and check. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/imap_utf7.h"
#include "log.h"
#include "maildir/maildir_path.h"
#include "mirror/mirror_int.h"
#include "cfg/cfg.h"

/* Commit a batch once it holds this much (memory stays bounded): a
 * batch's bodies wait in memory until it commits, and the commit copies
 * them again into LMDB's dirty pages. */
#define MIRROR_BATCH_OPS 2000
#define MIRROR_BATCH_MEM (4u << 20)

static const struct {
	uint32_t store;
	char letter;
} mirror_flag_map[] = {
	{ STORE_FLAG_DRAFT, 'D' },
	{ STORE_FLAG_FLAGGED, 'F' },
	{ STORE_FLAG_FORWARDED, 'P' },
	{ STORE_FLAG_ANSWERED, 'R' },
	{ STORE_FLAG_SEEN, 'S' },
	{ STORE_FLAG_DELETED, 'T' },
};
#define MIRROR_NFLAGS (sizeof(mirror_flag_map) / sizeof(mirror_flag_map[0]))

maildir_flags_t
mirror_flags_to_maildir(uint32_t store_flags)
{
	maildir_flags_t f = 0;

	for (size_t i = 0; i < MIRROR_NFLAGS; i++)
		if (store_flags & mirror_flag_map[i].store)
			f |= MAILDIR_FLAG_BIT(mirror_flag_map[i].letter);
	return f;
}

uint32_t
mirror_flags_from_maildir(maildir_flags_t flags)
{
	uint32_t f = 0;

	for (size_t i = 0; i < MIRROR_NFLAGS; i++)
		if (flags & MAILDIR_FLAG_BIT(mirror_flag_map[i].letter))
			f |= mirror_flag_map[i].store;
	return f;
}

/* --- account context ---------------------------------------------------- */

static int
mirror_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
mirror_ctx_add_change(struct mirror_ctx *c, const struct store_change *ch,
		      size_t *src_cap, size_t *in_cap, struct ms_err *err_r)
{
	struct mirror_incoming inc = { 0 };
	struct store_msg m;
	int rc;

	if (ch->kind == STORE_CHANGE_DELETE || ch->kind == STORE_CHANGE_MOVE) {
		if (c->nsrc == *src_cap) {
			size_t cap = *src_cap != 0 ? *src_cap * 2 : 64;
			uint64_t *v = realloc(c->src, cap * sizeof(*v));

			if (v == NULL)
				return ms_err_set(err_r, MS_ENOMEM, "out of memory");
			c->src = v;
			*src_cap = cap;
		}
		c->src[c->nsrc++] = (uint64_t)ch->folder_id << 32 | ch->uid;
	}
	if (ch->kind == STORE_CHANGE_APPEND) {
		inc.folder_id = ch->folder_id;
		memcpy(inc.hash, ch->hash, STORE_HASH_LEN);
	} else if (ch->kind == STORE_CHANGE_MOVE) {
		rc = store_msg_get(c->s, ch->folder_id, ch->uid, &m, err_r);
		if (rc < 0)
			return rc;
		if (rc == STORE_NOTFOUND)
			return MS_OK;
		inc.folder_id = ch->dest_folder_id;
		memcpy(inc.hash, m.hash, STORE_HASH_LEN);
	} else {
		return MS_OK;
	}
	if (c->nin == *in_cap) {
		size_t cap = *in_cap != 0 ? *in_cap * 2 : 16;
		struct mirror_incoming *v = realloc(c->in, cap * sizeof(*v));

		if (v == NULL)
			return ms_err_set(err_r, MS_ENOMEM, "out of memory");
		c->in = v;
		*in_cap = cap;
	}
	c->in[c->nin++] = inc;
	return MS_OK;
}

static int mirror_ctx_paths(struct mirror_ctx *c, struct ms_err *err_r);

int
mirror__ctx_init(struct mirror_ctx *c, struct store *s,
		 const struct mirror_params *p, struct ms_err *err_r)
{
	size_t src_cap = 0, in_cap = 0;
	uint64_t after = 0;
	struct stat st;
	char *marker;
	int rc;

	memset(c, 0, sizeof(*c));
	c->s = s;
	c->p = p;
	maildir_namegen_init(&c->gen);
	rc = store_folder_list(s, p->account, &c->folders, &c->nfolders, err_r);
	if (rc < 0)
		return rc;
	/* Every pending change, in chunks: a few hundred bytes each. */
	for (;;) {
		struct store_change *ch = NULL;
		size_t n = 0;

		rc = store_change_list(s, after, MIRROR_CHANGES_CHUNK, &ch, &n,
				       err_r);
		for (size_t i = 0; rc >= 0 && i < n; i++)
			rc = mirror_ctx_add_change(c, &ch[i], &src_cap, &in_cap,
						   err_r);
		if (n > 0)
			after = ch[n - 1].seq;
		free(ch);
		if (rc < 0)
			return rc;
		if (n < MIRROR_CHANGES_CHUNK)
			break;
	}
	if (c->nsrc > 1)
		qsort(c->src, c->nsrc, sizeof(*c->src), mirror_u64_cmp);
	/* Marks not yet committed are watermarks within this process
	 * (mirror_durable.h). */
	for (size_t i = 0; p->marks != NULL && i < c->nfolders; i++) {
		uint64_t seq = mirror_marks_get(p->marks, c->folders[i].id);

		if (seq > c->folders[i].state.mirror_durable)
			c->folders[i].state.mirror_durable = seq;
	}
	if ((rc = mirror_ctx_paths(c, err_r)) != MS_OK)
		return rc;
	if ((rc = store_mirror_stamp_get(s, &c->stamp, err_r)) != MS_OK)
		return rc;
	marker = maildir__path_join(p->root, MIRROR_MARKER, "");
	if (marker == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	/* Only our regular file counts: a link could point anywhere. */
	c->is_fresh = lstat(marker, &st) != 0 || !S_ISREG(st.st_mode);
	free(marker);
	return MS_OK;
}

void
mirror__ctx_deinit(struct mirror_ctx *c)
{
	for (size_t i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->folders);
	free(c->src);
	free(c->in);
	free(c->seen);
	memset(c, 0, sizeof(*c));
}

bool
mirror__is_pending_src(const struct mirror_ctx *c, uint32_t folder_id,
		       uint32_t uid)
{
	uint64_t key = (uint64_t)folder_id << 32 | uid;

	return c->nsrc > 0 &&
	       bsearch(&key, c->src, c->nsrc, sizeof(*c->src),
		       mirror_u64_cmp) != NULL;
}

bool
mirror__is_incoming(const struct mirror_ctx *c, uint32_t folder_id,
		    const uint8_t hash[STORE_HASH_LEN])
{
	/* Pending appends and moves are few; a linear look is enough. */
	for (size_t i = 0; i < c->nin; i++)
		if (c->in[i].folder_id == folder_id &&
		    memcmp(c->in[i].hash, hash, STORE_HASH_LEN) == 0)
			return true;
	return false;
}

bool
mirror__is_incoming_file(const struct mirror_ctx *c, uint32_t folder_id,
			 const struct maildir_fhash *fh)
{
	return mirror__is_incoming(c, folder_id, fh->hash) ||
	       (fh->has_raw && mirror__is_incoming(c, folder_id, fh->raw));
}

struct maildir_path_ns
mirror__path_ns(const struct mirror_params *p, char delim)
{
	return (struct maildir_path_ns){
		.delim = delim,
		.prefix = p->ns_prefix,
		.layout = p->layout,
		.is_inbox_subfolder = p->is_inbox_subfolder,
	};
}

static int
mirror_folder_path(struct mirror_ctx *c, const struct store_folder *f,
		   char **path_r, struct ms_err *err_r)
{
	struct maildir_path_ns ns = mirror__path_ns(c->p, f->delimiter);
	struct ms_buf rel;
	struct ms_err perr = { 0 };
	int rc;

	*path_r = NULL;
	if (f->attrs & STORE_FOLDER_NOSELECT)
		return MS_OK;
	ms_buf_init(&rel, 4096);
	rc = maildir_path_from_server(&ns, f->name, strlen(f->name), &rel, &perr);
	if (rc == MS_OK) {
		*path_r = maildir__path_join(c->p->root,
					     rel.p != NULL ? (char *)rel.p : "",
					     "");
		if (*path_r == NULL)
			rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
	} else if (rc == MS_EINVAL || rc == MS_ETOOBIG) {
		char what[STORE_FOLDER_NAME_MAX + 64];

		snprintf(what, sizeof(what), "%s (server folder)", f->name);
		maildir_report_note(c->p->rep, what, perr.msg);
		rc = MS_OK;
	} else {
		ms_err_set(err_r, rc, "%s", perr.msg);
	}
	ms_buf_deinit(&rel);
	return rc;
}

/* Does folder a, rather than b, get the Maildir both map to? */
static bool
mirror_folder_wins(const struct store_folder *a, const struct store_folder *b)
{
	bool a_gone = (a->attrs & STORE_FOLDER_GONE) != 0;
	bool b_gone = (b->attrs & STORE_FOLDER_GONE) != 0;
	bool a_inbox = (a->attrs & STORE_FOLDER_INBOX) ||
		       strcmp(a->name, "INBOX") == 0;
	bool b_inbox = (b->attrs & STORE_FOLDER_INBOX) ||
		       strcmp(b->name, "INBOX") == 0;

	/* A live folder before a deleted one, INBOX before "inbox"; else
	 * the first in store order. */
	if (a_gone != b_gone)
		return b_gone;
	if (a_inbox != b_inbox)
		return a_inbox;
	return a < b;
}

/*
 * Every folder's Maildir path.  Two folders that map to one path (INBOX
 * and "inbox" on a server that lists both; "Work" and "work" on a file
 * system that ignores case, as vfat, exFAT and macOS shares do, so case is
 * ignored always) would each take the other's files for a reader's new
 * messages: one of them keeps the path, the other gets none (reported)
 * and stays in the store, synced, without a Maildir.
 */
/* Orders folder indexes by their paths, ignoring case (qsort_r). */
static int
mirror_path_cmp(const void *a, const void *b, void *arg)
{
	char *const *paths = arg;

	return strcasecmp(paths[*(const size_t *)a], paths[*(const size_t *)b]);
}

static int
mirror_ctx_paths(struct mirror_ctx *c, struct ms_err *err_r)
{
	size_t *ix, n = 0;
	int rc = MS_OK;

	if (c->nfolders == 0)
		return MS_OK;
	if ((c->paths = calloc(c->nfolders, sizeof(*c->paths))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	c->npaths = c->nfolders;
	if ((ix = calloc(c->nfolders, sizeof(*ix))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	for (size_t i = 0; rc == MS_OK && i < c->nfolders; i++) {
		rc = mirror_folder_path(c, &c->folders[i], &c->paths[i], err_r);
		if (rc == MS_OK && c->paths[i] != NULL)
			ix[n++] = i;
	}
	if (rc == MS_OK)
		qsort_r(ix, n, sizeof(*ix), mirror_path_cmp, c->paths);
	/* Each run of equal paths: the winner keeps its path. */
	for (size_t lo = 0, hi; rc == MS_OK && lo < n; lo = hi) {
		size_t w = ix[lo];

		for (hi = lo + 1; hi < n && strcasecmp(c->paths[ix[lo]],
						       c->paths[ix[hi]]) == 0; hi++)
			if (mirror_folder_wins(&c->folders[ix[hi]],
					       &c->folders[w]))
				w = ix[hi];
		for (size_t k = lo; k < hi; k++) {
			size_t i = ix[k];
			char what[STORE_FOLDER_NAME_MAX + 64], why[600];

			if (i == w)
				continue;
			snprintf(what, sizeof(what), "%s (server folder)",
				 c->folders[i].name);
			snprintf(why, sizeof(why), "its Maildir would be server "
				 "folder \"%.400s\"'s%s: not mirrored, synced in "
				 "the store only", c->folders[w].name,
				 strcmp(c->paths[i], c->paths[w]) == 0 ? "" :
				 " where case is ignored");
			maildir_report_note(c->p->rep, what, why);
		}
		for (size_t k = lo; k < hi; k++)
			if (ix[k] != w) {
				free(c->paths[ix[k]]);
				c->paths[ix[k]] = NULL;
			}
	}
	free(ix);
	return rc;
}

int
mirror__folder_path(struct mirror_ctx *c, const struct store_folder *f,
		    char **path_r, struct ms_err *err_r)
{
	size_t i = (size_t)(f - c->folders);

	/* Folders added since (a reader's new ones) have a Maildir of
	 * their own: it is where they were found. */
	if (f < c->folders || i >= c->npaths)
		return mirror_folder_path(c, f, path_r, err_r);
	*path_r = NULL;
	if (c->paths[i] != NULL && (*path_r = strdup(c->paths[i])) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	return MS_OK;
}

/* --- Maildirs a reader made ------------------------------------------- */

/*
 * The hierarchy delimiter a reader's new folder gets: INBOX's, else that
 * of the account's first folder that has one; 0 when no folder tells.
 */
static bool
mirror_tree_delim(const struct mirror_ctx *c, char *delim_r)
{
	bool is_found = false;

	for (size_t i = 0; i < c->nfolders; i++) {
		const struct store_folder *f = &c->folders[i];

		if ((f->attrs & STORE_FOLDER_INBOX) ||
		    strcasecmp(f->name, "INBOX") == 0) {
			*delim_r = f->delimiter;
			return true;
		}
		if (!is_found && f->delimiter != 0) {
			*delim_r = f->delimiter;
			is_found = true;
		}
	}
	if (!is_found && c->nfolders > 0) {
		*delim_r = c->folders[0].delimiter;
		is_found = true;
	}
	return is_found;
}

/* Is found->v[i] inside one of the Maildirs before it that were refused? */
static bool
mirror_tree_under(const struct maildir_folders *found, const bool *is_refused,
		  size_t i)
{
	const char *rel = found->v[i];

	for (size_t k = 0; k < i; k++) {
		size_t n = strlen(found->v[k]);

		if (is_refused[k] && n > 0 && strncmp(rel, found->v[k], n) == 0 &&
		    rel[n] == '/')
			return true;
	}
	return false;
}

/*
 * Is name, which no store folder has, a folder's name as IMAP's modified
 * UTF-7 spells it ("&AMQ-rger" for "Ärger", "R&-D" for "R&D")?  mbsync
 * 1.4 names its Maildirs so, the mirror in UTF-8: such a Maildir is the
 * old copy of a server folder (which the sync may not have listed yet),
 * not a new one to create and fill on the server.  MS_EINVAL with why
 * set then, else MS_OK.
 */
static int
mirror_tree_utf7_twin(const char *name, char *why, size_t whysz)
{
	struct ms_buf dec;
	int rc = MS_OK;

	if (strchr(name, '&') == NULL)
		return MS_OK;
	ms_buf_init(&dec, STORE_FOLDER_NAME_MAX);
	if (imap_utf7_decode((struct ms_slice){ (const uint8_t *)name,
						strlen(name) }, &dec) == MS_OK &&
	    ms_buf_append(&dec, "", 1) == MS_OK &&
	    strcmp((const char *)dec.p, name) != 0) {
		snprintf(why, whysz, "Maildir named in IMAP's modified UTF-7 "
			 "(as mbsync 1.4 names them) of folder \"%.100s\", "
			 "mirrored under its UTF-8 name: no new folder "
			 "(remove it)", (const char *)dec.p);
		rc = MS_EINVAL;
	}
	ms_buf_deinit(&dec);
	return rc;
}

/*
 * The server name of Maildir found->v[i], which no store folder holds,
 * into name (STORE_FOLDER_NAME_MAX + 1 bytes).  MS_OK, MS_EINVAL with why
 * set (the Maildir is to be left alone; is_refused[i] is set when its
 * folder is not on the server either, so nothing inside it can be
 * created), or MS_ENOMEM.
 */
static int
mirror_tree_name(struct mirror_ctx *c, const struct maildir_folders *found,
		 bool *is_refused, size_t i, char delim, char *name, char *why,
		 size_t whysz, struct ms_err *err_r)
{
	const char *rel = found->v[i];
	struct maildir_path_ns ns = mirror__path_ns(c->p, delim);
	struct ms_buf buf, utf7;
	struct ms_err perr = { 0 };
	struct store_folder f;
	int rc;

	is_refused[i] = true;
	if (rel[0] == '\0') {
		snprintf(why, whysz, c->p->is_inbox_subfolder ?
			 "the root Maildir is no folder (maildir_inbox = "
			 "subfolder: INBOX is INBOX/)" :
			 "the root Maildir is INBOX, which the server has not "
			 "listed");
		return MS_EINVAL;
	}
	if (mirror_tree_under(found, is_refused, i)) {
		snprintf(why, whysz, "Maildir inside a folder that is not "
			 "created on the server");
		return MS_EINVAL;
	}
	ms_buf_init(&buf, STORE_FOLDER_NAME_MAX);
	ms_buf_init(&utf7, 4 * STORE_FOLDER_NAME_MAX);
	rc = maildir_path_to_server(&ns, rel, strlen(rel), &buf, &perr);
	if (rc == MS_EINVAL) {
		snprintf(why, whysz, "Maildir that cannot be a server folder: "
			 "%s", perr.msg);
	} else if (rc == MS_ETOOBIG) {
		snprintf(why, whysz, "Maildir whose server name would be "
			 "longer than %d bytes", STORE_FOLDER_NAME_MAX);
		rc = MS_EINVAL;
	} else if (rc != MS_OK) {
		ms_err_set(err_r, rc, "%s", perr.msg);
	} else if (imap_utf7_encode((struct ms_slice){ buf.p, buf.len },
				    &utf7) != MS_OK) {
		/* The engine sends names in modified UTF-7, made of UTF-8. */
		snprintf(why, whysz, "Maildir whose name is not UTF-8");
		rc = MS_EINVAL;
	} else {
		memcpy(name, buf.p, buf.len);
		name[buf.len] = '\0';
		rc = store_folder_find(c->s, c->p->account, name, &f, err_r);
		if (rc == MS_OK) {
			snprintf(why, whysz, "Maildir of server folder \"%.200s\"%s",
				 f.name, (f.attrs & STORE_FOLDER_NOSELECT) ?
				 ", which holds no messages (\\Noselect)" :
				 ", whose mirror is elsewhere");
			/* The folder is on the server: children can be. */
			is_refused[i] = false;
			rc = MS_EINVAL;
		} else if (rc == STORE_NOTFOUND) {
			/* Created (so can children be), but for the old
			 * copy of a folder named in modified UTF-7. */
			rc = mirror_tree_utf7_twin(name, why, whysz);
			is_refused[i] = rc == MS_EINVAL;
		}
	}
	ms_buf_deinit(&buf);
	ms_buf_deinit(&utf7);
	return rc;
}

int
mirror__tree_new(struct mirror_ctx *c, char **const *paths,
		 mirror_new_folder_cb cb, void *arg, struct ms_err *err_r)
{
	struct maildir_folders found = { 0 };
	char name[STORE_FOLDER_NAME_MAX + 1], why[400];
	char delim = 0;
	bool has_delim = mirror_tree_delim(c, &delim);
	bool *is_refused = NULL;
	size_t nknown = c->nfolders;
	struct stat sb;
	int rc;

	if (stat(c->p->root, &sb) != 0 && errno == ENOENT)
		return MS_OK;	/* no tree, no Maildir in it */
	rc = maildir_tree_discover(c->p->root, c->p->layout, &found, c->p->rep,
				   err_r);
	if (rc == MS_OK && found.n > 0 &&
	    (is_refused = calloc(found.n, sizeof(*is_refused))) == NULL)
		rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
	for (size_t i = 0; rc == MS_OK && i < found.n; i++) {
		char *abs = maildir__path_join(c->p->root, found.v[i], "");
		bool is_known = false;

		if (abs == NULL) {
			rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
			break;
		}
		/* cb may grow *paths: only the first nknown count. */
		for (size_t k = 0; k < nknown && !is_known; k++)
			is_known = (*paths)[k] != NULL &&
				   strcmp((*paths)[k], abs) == 0;
		if (is_known) {
			free(abs);
			continue;
		}
		if (!has_delim) {
			snprintf(why, sizeof(why), "Maildir without a server "
				 "folder (the account has no folder yet)");
			is_refused[i] = true;
			rc = MS_EINVAL;
		} else {
			rc = mirror_tree_name(c, &found, is_refused, i, delim,
					      name, why, sizeof(why), err_r);
		}
		/* One the folders = patterns exclude the engine would never
		 * create (sync_create_add()): its files would wait forever. */
		if (rc == MS_OK && !cfg_folder_wanted(c->p->folders,
						       c->p->nfolders, name,
						       delim)) {
			snprintf(why, sizeof(why), "not synced: folders = "
				 "excludes it");
			rc = MS_EINVAL;
		}
		if (rc == MS_EINVAL) {
			maildir_report_note(c->p->rep, abs, why);
			rc = MS_OK;
		} else if (rc == MS_OK) {
			rc = cb(c, abs, name, delim, arg, err_r);
		}
		free(abs);
	}
	free(is_refused);
	maildir_folders_deinit(&found);
	return rc;
}

/* --- one folder's listing ----------------------------------------------- */

static uint32_t
mirror_key_hash(const char *p, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static int
mirror_dir_index(struct mirror_dir *md, struct ms_err *err_r)
{
	size_t n = md->l.n;

	md->nslots = 16;
	while (md->nslots < 2 * n)
		md->nslots *= 2;
	md->slots = calloc(md->nslots, sizeof(*md->slots));
	md->ulen = malloc(n > 0 ? n : 1);
	md->claimed = calloc(n > 0 ? n : 1, sizeof(*md->claimed));
	if (md->slots == NULL || md->ulen == NULL || md->claimed == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *name = mirror__dir_name(md, i);
		size_t len = strcspn(name, ",:!");
		size_t slot;

		md->ulen[i] = (uint8_t)len;
		slot = mirror_key_hash(name, len) & (md->nslots - 1);
		while (md->slots[slot] != 0)
			slot = (slot + 1) & (md->nslots - 1);
		md->slots[slot] = (uint32_t)i + 1;
	}
	return MS_OK;
}

/*
 * Is the folder directory at path (inside root) a Maildir, with cur/ and
 * new/?  A reader's may lack tmp/ (readers only need cur/ and new/);
 * writes go through it, so it is made.  The directories are reached
 * without following links (maildir_dir_walk()); a link or a file in the
 * way counts as no Maildir and goes to rep.
 */
static int
mirror_dir_probe(const char *root, const char *path,
		 struct maildir_report *rep, bool *exists_r,
		 struct ms_err *err_r)
{
	struct stat st;
	bool is_missing;
	int fd, rc;

	*exists_r = false;
	rc = maildir_dir_walk(root, path, false, rep, &fd, &is_missing, err_r);
	if (rc == MS_EINVAL || (rc == MS_EIO && is_missing))
		return MS_OK;
	if (rc != MS_OK)
		return rc;
	*exists_r = fstatat(fd, "cur", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode) &&
		    fstatat(fd, "new", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode);
	if (*exists_r && fstatat(fd, "tmp", &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT && mkdirat(fd, "tmp", 0700) != 0 &&
	    errno != EEXIST)
		rc = ms_err_set(err_r, MS_EIO, "mkdir %s/tmp: %s", path,
				strerror(errno));
	close(fd);
	return rc;
}

/* Opens the Maildir unlisted: mirror__dir_open() without its listing. */
static int
mirror_dir_open_only(struct mirror_dir *md, const char *root,
		     const char *path, bool create, struct maildir_report *rep,
		     bool *exists_r, struct ms_err *err_r)
{
	int rc;

	memset(md, 0, sizeof(*md));
	maildir_list_init(&md->l);
	*exists_r = true;
	if (!create) {
		rc = mirror_dir_probe(root, path, rep, exists_r, err_r);
		if (rc != MS_OK || !*exists_r)
			return rc;
	}
	rc = maildir_dir_open(&md->d, root, path, create, rep, err_r);
	if (rc == MS_EINVAL) {
		/* A link or a file in the way: reported, never followed. */
		*exists_r = false;
		return MS_OK;
	}
	if (rc == MS_OK)
		md->is_open = true;
	return rc;
}

int
mirror__dir_open_unlisted(struct mirror_dir *md, const char *root,
			  const char *path, bool *exists_r,
			  struct ms_err *err_r)
{
	return mirror_dir_open_only(md, root, path, true, NULL, exists_r,
				    err_r);
}

/* A mirror file's name, NUL included, as export names them at 100,000
 * messages ("<uidvalidity>-<uid>-<hash8>,U=<uid>,S=<size>:2,<letters>"),
 * a little over: the room left is given back after the listing. */
#define MIRROR_NAME_GUESS 48

int
mirror__dir_open_sized(struct mirror_dir *md, const char *root,
		       const char *path, bool create,
		       struct maildir_report *rep, size_t expect,
		       bool *exists_r, struct ms_err *err_r)
{
	int rc = mirror_dir_open_only(md, root, path, create, rep, exists_r,
				      err_r);

	if (rc != MS_OK || !md->is_open)
		return rc;
	/* A few more than the records: a reader's new files. */
	expect += expect / 64;
	if (expect > 0 &&
	    maildir_list_reserve(&md->l, expect, expect * MIRROR_NAME_GUESS)
	    != MS_OK)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	mirror__seen_take(md);
	rc = maildir_scan_folder(&md->d, &md->l, rep, err_r);
	md->nlisted = md->l.n;
	/* Held through the whole folder's export. */
	maildir_list_trim(&md->l);
	if (rc == MS_OK)
		rc = mirror_dir_index(md, err_r);
	return rc;
}

int
mirror__dir_open(struct mirror_dir *md, const char *root, const char *path,
		 bool create, struct maildir_report *rep, bool *exists_r,
		 struct ms_err *err_r)
{
	return mirror__dir_open_sized(md, root, path, create, rep, 0,
				      exists_r, err_r);
}

void
mirror__dir_close(struct mirror_dir *md)
{
	if (md->is_open)
		maildir_dir_close(&md->d);
	maildir_list_deinit(&md->l);
	free(md->slots);
	free(md->ulen);
	free(md->claimed);
	memset(md, 0, sizeof(*md));
}

enum mirror_dir_want { MIRROR_DIR_ANY, MIRROR_DIR_UNCLAIMED,
		       MIRROR_DIR_CLAIMED };

static size_t
mirror_dir_lookup(const struct mirror_dir *md, const char *key, size_t len,
		  enum mirror_dir_want want)
{
	size_t slot;

	if (md->nslots == 0)
		return SIZE_MAX;
	slot = mirror_key_hash(key, len) & (md->nslots - 1);
	for (; md->slots[slot] != 0; slot = (slot + 1) & (md->nslots - 1)) {
		size_t i = md->slots[slot] - 1;

		if (md->ulen[i] == len &&
		    memcmp(mirror__dir_name(md, i), key, len) == 0 &&
		    (want == MIRROR_DIR_ANY ||
		     md->claimed[i] == (want == MIRROR_DIR_CLAIMED)))
			return i;
	}
	return SIZE_MAX;
}

size_t
mirror__dir_find(const struct mirror_dir *md, const char *key, size_t len)
{
	return mirror_dir_lookup(md, key, len, MIRROR_DIR_ANY);
}

size_t
mirror__dir_find_unclaimed(const struct mirror_dir *md, const char *key,
			   size_t len)
{
	return mirror_dir_lookup(md, key, len, MIRROR_DIR_UNCLAIMED);
}

size_t
mirror__dir_find_claimed(const struct mirror_dir *md, const char *key,
			 size_t len)
{
	return mirror_dir_lookup(md, key, len, MIRROR_DIR_CLAIMED);
}

/* --- leftovers ------------------------------------------------------------ */

int
mirror__left_load(struct mirror_ctx *c, uint32_t folder_id,
		  struct mirror_left *l, struct ms_err *err_r)
{
	int rc;

	memset(l, 0, sizeof(*l));
	rc = store_leftover_list(c->s, folder_id, &l->v, &l->n, err_r);
	if (rc < 0)
		return rc;
	if (l->n > 0 && (l->is_done = calloc(l->n, sizeof(*l->is_done))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	return MS_OK;
}

void
mirror__left_free(struct mirror_left *l)
{
	free(l->v);
	free(l->is_done);
	memset(l, 0, sizeof(*l));
}

size_t
mirror__left_find(const struct mirror_left *l, const char *key, size_t len)
{
	size_t lo = 0, hi = l->n;

	/* The store's order: bytes as memcmp, a shorter prefix first. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *p = l->v[mid].part;
		size_t plen = strlen(p);
		int d = memcmp(p, key, plen < len ? plen : len);

		if (d == 0)
			d = plen < len ? -1 : plen > len;
		if (d == 0)
			return mid;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

/* --- names ---------------------------------------------------------------- */

void
mirror__id(uint32_t uidvalidity, const struct store_msg *m, char *out)
{
	snprintf(out, MIRROR_ID_MAX, "%" PRIu32 "-%" PRIu32 "-%02x%02x%02x%02x",
		 uidvalidity, m->uid, m->hash[0], m->hash[1], m->hash[2],
		 m->hash[3]);
}

const char *
mirror__key(uint32_t uidvalidity, const struct store_msg *m, char *out,
	    size_t *len_r)
{
	if (m->mirror_name[0] != '\0') {
		*len_r = strcspn(m->mirror_name, ",:!");
		return m->mirror_name;
	}
	mirror__id(uidvalidity, m, out);
	*len_r = strlen(out);
	return out;
}

bool
mirror__recorded_flags(const struct store_msg *m, maildir_flags_t *flags_r)
{
	struct maildir_name_info info;

	if (m->mirror_name[0] == '\0' ||
	    maildir_name_parse(m->mirror_name, strlen(m->mirror_name),
			       &info) != MS_OK)
		return false;
	*flags_r = info.flags;
	return true;
}

bool
mirror__size_ok(uint32_t uidvalidity, const struct store_msg *m,
		const char *name, uint64_t size)
{
	struct maildir_name_info info;
	char id[MIRROR_ID_MAX];

	mirror__id(uidvalidity, m, id);
	if (maildir_name_parse(name, strlen(name), &info) != MS_OK ||
	    info.unique.len != strlen(id) ||
	    memcmp(info.unique.p, id, info.unique.len) != 0)
		return true;
	return size == (info.has_size ? info.size : m->size);
}

bool
mirror__id_parse(const char *p, size_t len, uint32_t *uidvalidity_r,
		 uint32_t *uid_r)
{
	const char *end = p + len;

	if (!maildir_parse_u32(&p, end, uidvalidity_r) || p == end || *p++ != '-' ||
	    !maildir_parse_u32(&p, end, uid_r) || p == end || *p++ != '-' ||
	    end - p != 8)
		return false;
	for (; p < end; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int
mirror__is_foreign_id(struct mirror_ctx *c, const struct store_folder *f,
		      uint32_t uv, uint32_t uid, const char *name, size_t len,
		      struct ms_err *err_r)
{
	for (size_t i = 0; i < c->nfolders; i++) {
		const struct store_folder *g = &c->folders[i];
		char id[MIRROR_ID_MAX];
		struct store_msg m;
		size_t klen;
		const char *key;
		int rc;

		if (g->id == f->id || g->state.uidvalidity != uv)
			continue;
		rc = store_msg_get(c->s, g->id, uid, &m, err_r);
		if (rc < 0)
			return rc;
		if (rc == STORE_NOTFOUND)
			continue;
		key = mirror__key(uv, &m, id, &klen);
		if (klen == len && memcmp(key, name, len) == 0)
			return 1;
		mirror__id(uv, &m, id);
		if (strlen(id) == len && memcmp(id, name, len) == 0)
			return 1;
	}
	return 0;
}

int
mirror__name(uint32_t uidvalidity, const struct store_msg *m,
	     maildir_flags_t other_letters, char *out, size_t outsz,
	     enum maildir_sub *sub_r)
{
	char id[MIRROR_ID_MAX];
	struct maildir_name_params np = { 0 };

	mirror__id(uidvalidity, m, id);
	np.id = id;
	np.uid = m->uid;
	np.has_size = true;
	np.size = m->size;
	np.flags = mirror_flags_to_maildir(m->flags) | other_letters;
	np.has_info = np.flags != 0;
	*sub_r = np.has_info ? MAILDIR_SUB_CUR : MAILDIR_SUB_NEW;
	return maildir_name_new(NULL, &np, out, outsz);
}

int
mirror__flags_merge(struct store_batch *b, const struct store_msg *m,
		    maildir_flags_t ref, maildir_flags_t now, uint32_t *flags_r,
		    struct ms_err *err_r)
{
	uint32_t add = mirror_flags_from_maildir(now & ~ref);
	uint32_t rem = mirror_flags_from_maildir(ref & ~now);
	uint32_t old = m->flags, nf = (old | add) & ~rem;
	int rc;

	/* flags_r may point into m: read m first. */
	rc = store_batch_local_flags(b, m, nf);
	if (rc > 0)
		log_debug("mirror folder_id=%u uid=%u reader flags +%#x -%#x",
			  m->folder_id, m->uid, nf & ~old, old & ~nf);
	if (flags_r != NULL)
		*flags_r = nf;
	if (rc < 0)
		return ms_err_set(err_r, rc, "out of memory");
	return rc;
}

int
mirror__hash_cmp(const void *a, const void *b)
{
	return memcmp(a, b, STORE_HASH_LEN);
}

size_t
mirror__hash_find(const void *v, size_t n, size_t size,
		  const uint8_t hash[STORE_HASH_LEN],
		  bool (*is_done)(const void *elem))
{
	const uint8_t *base = v;
	size_t lo = 0, hi = n;

	/* The first element not below hash, then past the done ones. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(base + mid * size, hash, STORE_HASH_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && memcmp(base + lo * size, hash, STORE_HASH_LEN) == 0;
	     lo++)
		if (!is_done(base + lo * size))
			return lo;
	return SIZE_MAX;
}

size_t
mirror__fhash_find(const void *v, size_t n, size_t size,
		   const struct maildir_fhash *fh,
		   bool (*is_done)(const void *elem))
{
	size_t k = mirror__hash_find(v, n, size, fh->hash, is_done);

	if (k == SIZE_MAX && fh->has_raw)
		k = mirror__hash_find(v, n, size, fh->raw, is_done);
	return k;
}

int
mirror__batch_flush(struct store_batch *b, bool force, bool is_lazy,
		    struct ms_err *err_r)
{
	if (store_batch_count(b) == 0)
		return MS_OK;
	if (!force && store_batch_count(b) < MIRROR_BATCH_OPS &&
	    store_batch_mem(b) < MIRROR_BATCH_MEM)
		return MS_OK;
	return is_lazy ? store_batch_commit_lazy(b, err_r) :
	       store_batch_commit(b, err_r);
}

/* --- reports from a pool thread -------------------------------------------- */

static void
mirror_report_buf_note(const char *path, const char *why, void *arg)
{
	struct mirror_report_buf *rb = arg;
	struct mirror_note *v;

	if (rb->n == rb->cap) {
		size_t cap = rb->cap != 0 ? rb->cap * 2 : 8;

		if ((v = realloc(rb->v, cap * sizeof(*v))) == NULL)
			return;	/* a report lost to memory, nothing more */
		rb->v = v;
		rb->cap = cap;
	}
	v = &rb->v[rb->n];
	v->path = strdup(path);
	v->why = strdup(why);
	if (v->path == NULL || v->why == NULL) {
		free(v->path);
		free(v->why);
		return;
	}
	rb->n++;
}

void
mirror__report_buf_init(struct mirror_report_buf *rb)
{
	memset(rb, 0, sizeof(*rb));
	maildir_report_init(&rb->rep, mirror_report_buf_note, rb);
}

static void
mirror_report_buf_clear(struct mirror_report_buf *rb)
{
	for (size_t i = 0; i < rb->n; i++) {
		free(rb->v[i].path);
		free(rb->v[i].why);
	}
	rb->n = 0;
}

void
mirror__report_buf_flush(struct mirror_report_buf *rb,
			 struct maildir_report *out)
{
	for (size_t i = 0; i < rb->n; i++)
		maildir_report_note(out, rb->v[i].path, rb->v[i].why);
	mirror_report_buf_clear(rb);
}

void
mirror__report_buf_deinit(struct mirror_report_buf *rb)
{
	mirror_report_buf_clear(rb);
	free(rb->v);
	maildir_report_deinit(&rb->rep);
	memset(rb, 0, sizeof(*rb));
}

void
mirror_stats_add(struct mirror_stats *to, const struct mirror_stats *from)
{
	to->folders += from->folders;
	to->unchanged += from->unchanged;
	to->listed += from->listed;
	to->written += from->written;
	to->renamed += from->renamed;
	to->removed += from->removed;
	to->adopted += from->adopted;
	to->flag_changes += from->flag_changes;
	to->deletes += from->deletes;
	to->moves += from->moves;
	to->appends += from->appends;
	to->created += from->created;
	to->moves_dropped += from->moves_dropped;
	to->bytes += from->bytes;
}

int
mirror__grow(void **v, size_t *cap, size_t n, size_t size,
	     struct ms_err *err_r)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return MS_OK;
	ncap = *cap != 0 ? *cap * 2 : 64;
	if ((p = realloc(*v, ncap * size)) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	*v = p;
	*cap = ncap;
	return MS_OK;
}
