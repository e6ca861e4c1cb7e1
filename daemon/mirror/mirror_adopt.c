/*
 * mirror_adopt.c - a Maildir that mbsync filled, taken over as it is
 * (mirror.h, mirror_adopt()): each file becomes the record of the server
 * message mbsync's state pairs it with, so nothing is downloaded again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash/body_hash.h"
#include "log.h"
#include "maildir/maildir_eol.h"
#include "maildir/maildir_mbsync.h"
#include "mirror/mirror_int.h"

#define MIRROR_ADOPT_BATCH_OPS 500
/* Bodies wait in memory until their batch commits (store.h). */
#define MIRROR_ADOPT_BATCH_MEM (4u << 20)
/* A file is read whole up to this size (mirror__mbsync_read()). */
#define MIRROR_MBSYNC_READ_MAX ((uint64_t)64 << 20)

/* A file's Maildir UID (its ",U="), and which entry it is. */
struct mirror_adopt_near {
	uint32_t uid;
	uint32_t entry;
	bool is_dup;		/* two files carry the UID: neither is used */
};

struct mirror_adopt {
	struct mirror_ctx c;
	struct mirror_dir md;
	bool is_dir_open;
	const struct store_folder *f;
	char *path;			/* the folder's Maildir, owned */
	struct maildir_mbsync_state st;
	struct mirror_adopt_near *near;	/* sorted by uid */
	size_t nnear;
	struct store_batch *b;
	struct mirror_adopt_result *res;
};

static int
mirror_adopt_near_cmp(const void *a, const void *b)
{
	const struct mirror_adopt_near *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Reads file name of dirfd whole (at most max bytes) into *buf_r (the
 * caller's, NUL-terminated).  STORE_NOTFOUND when it does not exist. */
static int
mirror_adopt_slurp(int dirfd, const char *dir, const char *name, size_t max,
		   char **buf_r, size_t *len_r, struct ms_err *err_r)
{
	bool is_gone = false;
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, rc;

	*buf_r = NULL;
	rc = maildir_file_open(dirfd, name, &fd, &is_gone, err_r);
	if (is_gone)
		return STORE_NOTFOUND;
	if (rc != MS_OK)
		return rc;
	if (fstat(fd, &sb) != 0)
		rc = ms_err_set(err_r, MS_EIO, "stat %s/%s: %s", dir, name,
				strerror(errno));
	else if ((uint64_t)sb.st_size > max)
		rc = ms_err_set(err_r, MS_EINVAL, "%s/%s: larger than %zu "
				"bytes", dir, name, max);
	else if ((buf = malloc((size_t)sb.st_size + 1)) == NULL)
		rc = ms_err_set(err_r, MS_ENOMEM, "out of memory");
	while (rc == MS_OK && len < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = ms_err_set(err_r, MS_EIO, "read %s/%s: %s", dir,
					name, n < 0 ? strerror(errno) :
					"cut short");
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (rc != MS_OK) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*buf_r = buf;
	*len_r = len;
	return MS_OK;
}

/* Does root/rel hold a Maildir (its cur/)? */
static bool
mirror_adopt_has_maildir(const char *root, const char *rel)
{
	char *p = maildir__path_join(root, rel, "cur");
	struct stat sb;
	bool has = p != NULL && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);

	free(p);
	return has;
}

int
mirror__inbox_place(const struct mirror_params *p, struct ms_err *err_r)
{
	bool has_top = mirror_adopt_has_maildir(p->root, "");
	bool has_sub = mirror_adopt_has_maildir(p->root, "INBOX");

	if (!p->is_inbox_subfolder && has_sub && !has_top)
		return ms_err_set(err_r, MS_EINVAL, "%s holds INBOX as the "
				  "Maildir INBOX/ (mbsync's layout), but "
				  "maildir_inbox = root makes the top "
				  "directory INBOX: set maildir_inbox = "
				  "subfolder", p->root);
	if (p->is_inbox_subfolder && has_top && !has_sub)
		return ms_err_set(err_r, MS_EINVAL, "%s holds INBOX at the "
				  "top, but maildir_inbox = subfolder makes "
				  "it INBOX/: set maildir_inbox = root", p->root);
	return MS_OK;
}

/*
 * The box name mbsync gives folder f, as its state files carry it: the
 * name without the personal namespace prefix, levels joined with '/'
 * (mbsync's canonical form), then each '/' made '!' (isync's
 * clean_strdup()).  Into out (outsz bytes); false when it does not fit.
 */
static bool
mirror_adopt_box(const struct mirror_adopt *a, char *out, size_t outsz)
{
	const char *name = a->f->name;
	const char *prefix = a->c.p->ns_prefix != NULL ? a->c.p->ns_prefix : "";
	size_t plen = strlen(prefix), n = 0;
	char delim = a->f->delimiter;

	if (strcasecmp(name, "INBOX") != 0 && plen > 0 &&
	    strncmp(name, prefix, plen) == 0) {
		name += plen;
		if (delim != 0 && prefix[plen - 1] != delim && *name == delim)
			name++;
	}
	for (; *name != '\0'; name++) {
		if (n + 1 >= outsz)
			return false;
		out[n++] = (*name == delim || *name == '/') ? '!' : *name;
	}
	out[n] = '\0';
	return n > 0;
}

/*
 * Is name the state file of box in a SyncState directory given outside
 * a Channel (mbsync's default ~/.mbsync/): "<base>:<far store>:<box>_:
 * <near store>:<box>"?  Store names hold no ':'.
 */
static bool
mirror_adopt_is_global_state(const char *name, const char *base,
			     const char *box)
{
	size_t blen = strlen(base), xlen = strlen(box), len = strlen(name);
	const char *m, *s2, *colon;
	size_t mlen;

	/* base ":" S1 ":" box "_:" S2 ":" box */
	if (len < blen + 2 * xlen + 7 || strncmp(name, base, blen) != 0 ||
	    name[blen] != ':' || strcmp(name + len - xlen, box) != 0 ||
	    name[len - xlen - 1] != ':')
		return false;
	m = name + blen + 1;		/* S1 ":" box "_:" S2 */
	mlen = len - blen - 1 - xlen - 1;
	colon = memchr(m, ':', mlen);
	if (colon == NULL || colon == m ||
	    (size_t)(m + mlen - (colon + 1)) < xlen + 3 ||
	    strncmp(colon + 1, box, xlen) != 0 ||
	    strncmp(colon + 1 + xlen, "_:", 2) != 0)
		return false;
	s2 = colon + 1 + xlen + 2;
	return s2 < m + mlen && memchr(s2, ':', (size_t)(m + mlen - s2)) == NULL;
}

/*
 * Finds the folder's state file under p->mbsync_state, mbsync's
 * SyncState: a prefix to which a Channel's SyncState appends the box
 * ("~/.mbsync/Lists!dev"), and the global one ":<far>:<box>_:<near>:
 * <box>" (mbsync's default, ~/.mbsync/).  *dirfd_r (the caller closes
 * it) and name (NAME_MAX + 1 bytes) name it.  MS_OK; 1 when there is
 * none, or more than one (res->why says so); negative on errors.
 */
static int
mirror_adopt_state_dir(struct mirror_adopt *a, int *dirfd_r, char *name,
		       struct ms_err *err_r)
{
	const char *prefix = a->c.p->mbsync_state;
	const char *slash = strrchr(prefix, '/');
	char dir[4096], box[NAME_MAX + 1], base[NAME_MAX + 1];
	struct dirent *de;
	size_t found = 0;
	DIR *d;
	int fd;

	*dirfd_r = -1;
	if (!mirror_adopt_box(a, box, sizeof(box)) || slash == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%.*s", slash == prefix ? 1 :
		 (int)(slash - prefix), prefix);
	snprintf(base, sizeof(base), "%s", slash + 1);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(a->res->why, sizeof(a->res->why), "mbsync_state: "
			 "%.200s: %s", dir, strerror(errno));
		return 1;
	}
	if ((d = fdopendir(dup(fd))) == NULL) {
		close(fd);
		return ms_err_set(err_r, MS_EIO, "%s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		bool is_channel = strncmp(de->d_name, base, strlen(base)) == 0 &&
				  strcmp(de->d_name + strlen(base), box) == 0;

		if (!is_channel &&
		    !mirror_adopt_is_global_state(de->d_name, base, box))
			continue;
		if (found++ == 0)
			snprintf(name, NAME_MAX + 1, "%s", de->d_name);
	}
	closedir(d);
	if (found != 1) {
		close(fd);
		if (found > 1)
			snprintf(a->res->why, sizeof(a->res->why), "%zu state "
				 "files for box %.80s under %.100s (several "
				 "channels?): none is guessed at", found, box,
				 prefix);
		else
			snprintf(a->res->why, sizeof(a->res->why), "no state "
				 "file for box %.80s under mbsync_state = %.100s, nor a "
				 ".mbsyncstate in the Maildir", box, prefix);
		return 1;
	}
	*dirfd_r = fd;
	return MS_OK;
}

/*
 * Reads and checks mbsync's state of the folder's Maildir: its
 * .mbsyncstate ("SyncState *"), else the state file under
 * p->mbsync_state.  MS_OK with a->st set; 1 when there is none (the
 * folder is left to the sync) or it does not fit (res->why says why);
 * negative on errors.
 */
static int
mirror_adopt_state(struct mirror_adopt *a, uint32_t uidvalidity,
		   struct ms_err *err_r)
{
	struct mirror_adopt_result *res = a->res;
	struct ms_err perr = { 0 };
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	uint32_t near_uv = 0;
	char name[NAME_MAX + 1] = ".mbsyncstate", journal[NAME_MAX + 16];
	int statefd = a->md.d.fd, dirfd = -1;
	int rc;

	rc = mirror_adopt_slurp(statefd, a->path, name,
				MAILDIR_MBSYNC_STATE_MAX, &buf, &len, &perr);
	if (rc == STORE_NOTFOUND && a->c.p->mbsync_state != NULL) {
		rc = mirror_adopt_state_dir(a, &dirfd, name, err_r);
		if (rc != MS_OK)
			return rc;
		statefd = dirfd;
		rc = mirror_adopt_slurp(statefd, a->c.p->mbsync_state, name,
					MAILDIR_MBSYNC_STATE_MAX, &buf, &len,
					&perr);
	}
	snprintf(journal, sizeof(journal), "%s.journal", name);
	if (rc == MS_OK && fstatat(statefd, journal, &sb,
				   AT_SYMLINK_NOFOLLOW) == 0)
		rc = 2;
	if (dirfd >= 0)
		close(dirfd);
	if (rc == STORE_NOTFOUND)
		return 1;
	if (rc == MS_ENOMEM)
		return ms_err_set(err_r, rc, "%s", perr.msg);
	if (rc == 2) {
		snprintf(res->why, sizeof(res->why), "a journal is next to "
			 "it: mbsync was interrupted (run mbsync once more "
			 "to adopt its files without a download)");
		free(buf);
		return 1;
	}
	if (rc == MS_OK)
		rc = maildir_mbsync_state_parse(buf, len, &a->st, &perr);
	free(buf);
	if (rc == MS_ENOMEM)
		return ms_err_set(err_r, rc, "%s", perr.msg);
	if (rc != MS_OK) {
		snprintf(res->why, sizeof(res->why), "%s", perr.msg);
		return 1;
	}
	if (a->st.far_uidvalidity != uidvalidity) {
		snprintf(res->why, sizeof(res->why), "it is for UIDVALIDITY "
			 "%" PRIu32 ", the server's is %" PRIu32,
			 a->st.far_uidvalidity, uidvalidity);
		return 1;
	}
	rc = mirror_adopt_slurp(a->md.d.fd, a->path, ".uidvalidity", 4096,
				&buf, &len, &perr);
	if (rc == MS_OK)
		rc = maildir_mbsync_uidvalidity_parse(buf, len, &near_uv,
						      &perr);
	free(buf);
	if (rc == MS_ENOMEM)
		return ms_err_set(err_r, rc, "%s", perr.msg);
	if (rc == STORE_NOTFOUND)
		snprintf(perr.msg, sizeof(perr.msg), "no .uidvalidity");
	if (rc != MS_OK) {
		snprintf(res->why, sizeof(res->why), ".uidvalidity: %s",
			 perr.msg);
		return 1;
	}
	if (near_uv != a->st.near_uidvalidity) {
		snprintf(res->why, sizeof(res->why), "it is for the Maildir's "
			 "UIDVALIDITY %" PRIu32 ", .uidvalidity says %" PRIu32
			 " (the Maildir was renumbered since)",
			 a->st.near_uidvalidity, near_uv);
		return 1;
	}
	return MS_OK;
}

/* The files' ",U=" UIDs, sorted; a UID two files carry is marked. */
static int
mirror_adopt_index(struct mirror_adopt *a, struct ms_err *err_r)
{
	const struct maildir_list *l = &a->md.l;

	if (l->n > 0 && (a->near = calloc(l->n, sizeof(*a->near))) == NULL)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	for (size_t i = 0; i < l->n; i++) {
		const char *name = maildir_list_name(l, i);
		struct maildir_name_info info;

		if (maildir_name_parse(name, strlen(name), &info) != MS_OK ||
		    !info.has_uid || info.uid == 0)
			continue;
		a->near[a->nnear++] = (struct mirror_adopt_near){
			info.uid, (uint32_t)i, false };
	}
	if (a->nnear > 1)
		qsort(a->near, a->nnear, sizeof(*a->near),
		      mirror_adopt_near_cmp);
	for (size_t i = 1; i < a->nnear; i++)
		if (a->near[i].uid == a->near[i - 1].uid)
			a->near[i].is_dup = a->near[i - 1].is_dup = true;
	return MS_OK;
}

/* The entry of the file carrying Maildir UID uid, or SIZE_MAX. */
static size_t
mirror_adopt_find(const struct mirror_adopt *a, uint32_t uid)
{
	struct mirror_adopt_near key = { uid, 0, false };
	const struct mirror_adopt_near *hit;

	hit = a->nnear == 0 ? NULL :
	      bsearch(&key, a->near, a->nnear, sizeof(*a->near),
		      mirror_adopt_near_cmp);
	return hit == NULL || hit->is_dup ? SIZE_MAX : hit->entry;
}

static int
mirror_adopt_flush(struct mirror_adopt *a, bool is_last, struct ms_err *err_r)
{
	if (!is_last &&
	    store_batch_count(a->b) < MIRROR_ADOPT_BATCH_OPS &&
	    store_batch_commit_mem(a->b) < MIRROR_ADOPT_BATCH_MEM)
		return MS_OK;
	return store_batch_commit(a->b, err_r);
}

/*
 * Where mbsync put its "X-TUID: <12 characters>" line into the file's
 * header: the last header line (isync 1.4 adds one to every message it
 * copies, and replaces one the message had where it stood).  *off_r and
 * *len_r: the line with its LF; false when the last line is none.
 */
static bool
mirror_adopt_tuid(const char *buf, size_t len, size_t *off_r, size_t *len_r)
{
	static const char tag[] = "X-TUID: ";
	const size_t tlen = sizeof(tag) - 1, vlen = 12;
	const char *end = NULL, *line;

	for (size_t i = 0; i + 1 < len && end == NULL; i++)
		if (buf[i] == '\n' && (buf[i + 1] == '\n' ||
		    (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')))
			end = buf + i + 1;	/* after the last header line */
	if (end == NULL)
		return false;
	line = end - 1;
	while (line > buf && line[-1] != '\n')
		line--;
	/* "X-TUID: " and the value, then LF (or CRLF). */
	if ((size_t)(end - line) < tlen + vlen + 1 ||
	    strncasecmp(line, tag, tlen) != 0 ||
	    (size_t)(end - line) - (end[-2] == '\r') != tlen + vlen + 1)
		return false;
	*off_r = (size_t)(line - buf);
	*len_r = (size_t)(end - line);
	return true;
}

int
mirror__mbsync_read(int dirfd, const char *dir, const char *name,
		    uint8_t **out_r, size_t *len_r, int64_t *mtime_r,
		    struct ms_err *err_r)
{
	struct maildir_eol_crlf eol;
	struct stat sb;
	uint8_t *out = NULL;
	char *buf = NULL;
	size_t len = 0, cut = 0, cutlen = 0, k;
	bool has_tuid;
	int rc;

	*out_r = NULL;
	*len_r = 0;
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return STORE_NOTFOUND;
	if ((uint64_t)sb.st_size > MIRROR_MBSYNC_READ_MAX)
		return MS_ETOOBIG;
	rc = mirror_adopt_slurp(dirfd, dir, name, MIRROR_MBSYNC_READ_MAX,
				&buf, &len, err_r);
	if (rc == MS_EINVAL)
		rc = STORE_NOTFOUND;	/* a link or a FIFO: not a message */
	if (rc != MS_OK)
		return rc;
	if (mtime_r != NULL)
		*mtime_r = (int64_t)sb.st_mtime;
	has_tuid = mirror_adopt_tuid(buf, len, &cut, &cutlen);
	if (!has_tuid)
		cut = len;
	if ((out = malloc(2 * len + 1)) == NULL) {
		free(buf);
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	}
	maildir_eol_crlf_init(&eol);
	k = maildir_eol_crlf_feed(&eol, (const uint8_t *)buf, cut, out, NULL);
	k += maildir_eol_crlf_feed(&eol, (const uint8_t *)buf + cut + cutlen,
				   len - cut - cutlen, out + k, NULL);
	free(buf);
	*out_r = out;
	*len_r = k;
	return has_tuid ? 1 : MS_OK;
}

/*
 * Reads entry i into a body: the server's bytes of an mbsync file
 * (mirror__mbsync_read()); one too large to hold is read as it is
 * (mirror__read_body()).  Errors as there.
 */
static int
mirror_adopt_read(struct mirror_adopt *a, size_t i, struct store_body **body_r,
		  int64_t *mtime_r, struct ms_err *err_r)
{
	const char *name = mirror__dir_name(&a->md, i);
	int dirfd = mirror__dir_subfd(&a->md, i);
	struct store_body_writer *w = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	int rc;

	*body_r = NULL;
	rc = mirror__mbsync_read(dirfd, a->path, name, &out, &len, mtime_r,
				 err_r);
	if (rc == MS_ETOOBIG)
		return mirror__read_body(a->c.s, dirfd, a->path, name, body_r,
					 mtime_r, err_r);
	if (rc < 0 || rc == STORE_NOTFOUND)
		return rc;
	rc = store_body_writer_new(a->c.s, len, &w, err_r);
	if (rc == MS_OK)
		rc = store_body_writer_write(w, out, len, err_r);
	if (rc == MS_OK)
		rc = store_body_writer_finish(&w, body_r, err_r);
	store_body_writer_free(&w);
	free(out);
	return rc;
}

int
mirror__mbsync_hash(int dirfd, const char *dir, const char *name,
		    uint8_t hash_r[STORE_HASH_LEN], struct ms_err *err_r)
{
	uint8_t *out = NULL;
	size_t len = 0;
	int rc = mirror__mbsync_read(dirfd, dir, name, &out, &len, NULL,
				     err_r);

	if (rc == 1 && body_hash(out, len, hash_r) != MS_OK)
		rc = ms_err_set(err_r, MS_EINTERNAL, "SHA-256 failed");
	free(out);
	return rc == 1 ? 1 : rc < 0 ? rc : 0;
}

/*
 * The pair's file becomes the record of the server's message: its CRLF
 * form the body, mbsync's synced flags the synced flags, the file's
 * letters the local flags (a reader's change since mbsync's last run is
 * a pending flag change, merged as any other).  1 adopted, 0 not (no
 * such file, or it cannot be read: the sync fetches the message), or
 * negative.
 */
static int
mirror_adopt_pair(struct mirror_adopt *a, const struct maildir_mbsync_pair *pr,
		  struct ms_err *err_r)
{
	size_t i = mirror_adopt_find(a, pr->near_uid);
	const char *name;
	struct store_body *body = NULL;
	struct store_msg m = { 0 };
	struct ms_err ferr = { 0 };
	uint32_t now;
	int rc;

	if (i == SIZE_MAX)
		return 0;
	name = mirror__dir_name(&a->md, i);
	if (strlen(name) > STORE_MIRROR_NAME_MAX)
		return 0;
	m.folder_id = a->f->id;
	m.uid = pr->far_uid;
	m.flags = m.synced_flags = mirror_flags_from_maildir(pr->flags);
	rc = mirror_adopt_read(a, i, &body, &m.internal_date, &ferr);
	if (rc == MS_ENOMEM)
		return ms_err_set(err_r, rc, "%s", ferr.msg);
	if (rc != MS_OK) {
		log_warn("acct=%s mirror folder=%s uid=%" PRIu32 " %s: not "
			 "adopted, downloaded instead", a->c.p->account,
			 a->f->name, pr->far_uid,
			 rc == STORE_NOTFOUND ? "file gone" : ferr.msg);
		return 0;
	}
	snprintf(m.mirror_name, sizeof(m.mirror_name), "%s", name);
	if (store_batch_msg_add(a->b, &m, body) != MS_OK)
		return ms_err_set(err_r, MS_ENOMEM, "out of memory");
	now = mirror_flags_from_maildir(a->md.l.v[i].flags);
	rc = store_batch_local_flags(a->b, &m, now);
	if (rc < 0)
		return ms_err_set(err_r, rc, "out of memory");
	a->res->flag_changes += (unsigned)rc;
	return 1;
}

/*
 * Every pair, then the watermark: every UID below it is stored, so it
 * stops at the first message not adopted (the sync fetches from there:
 * a file a reader removed since mbsync's last run comes back, nothing is
 * lost) and is past the last UID mbsync saw.
 */
static int
mirror_adopt_pairs(struct mirror_adopt *a, uint32_t uidvalidity,
		   struct ms_err *err_r)
{
	struct store_folder_state fs = { .uidvalidity = uidvalidity,
					 .uidnext = 1 };
	uint32_t top = a->st.max_pulled, low = a->st.min_incomplete_far;
	int rc;

	if ((rc = store_batch_new(a->c.s, &a->b)) != MS_OK)
		return ms_err_set(err_r, rc, "out of memory");
	/* First the UIDVALIDITY, with nothing below the watermark: the
	 * records of a run cut short are then above it, whose flags the
	 * next pass reads and whose bodies it never fetches. */
	rc = store_batch_folder_state(a->b, a->f->id, &fs,
				      STORE_FS_UIDVALIDITY | STORE_FS_UIDNEXT);
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "out of memory");
	for (size_t k = 0; k < a->st.n; k++) {
		const struct maildir_mbsync_pair *pr = &a->st.v[k];

		rc = mirror_adopt_pair(a, pr, err_r);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			a->res->not_adopted++;
			if (low == 0 || pr->far_uid < low)
				low = pr->far_uid;
			continue;
		}
		a->res->adopted++;
		if (pr->far_uid > top)
			top = pr->far_uid;
		if ((rc = mirror_adopt_flush(a, false, err_r)) != MS_OK)
			return rc;
	}
	fs.uidnext = top < UINT32_MAX ? top + 1 : UINT32_MAX;
	if (low != 0 && low < fs.uidnext)
		fs.uidnext = low;
	a->res->uidnext = fs.uidnext;
	rc = store_batch_folder_state(a->b, a->f->id, &fs, STORE_FS_UIDNEXT);
	if (rc != MS_OK)
		return ms_err_set(err_r, rc, "out of memory");
	return mirror_adopt_flush(a, true, err_r);
}

int
mirror_adopt(struct store *s, const struct mirror_params *p,
	     uint32_t folder_id, uint32_t uidvalidity,
	     struct mirror_adopt_result *res_r, struct ms_err *err_r)
{
	struct mirror_adopt a = { .res = res_r };
	bool exists = false;
	int rc;

	memset(res_r, 0, sizeof(*res_r));
	rc = mirror__ctx_init(&a.c, s, p, err_r);
	for (size_t i = 0; rc == MS_OK && i < a.c.nfolders; i++)
		if (a.c.folders[i].id == folder_id)
			a.f = &a.c.folders[i];
	/* Only a tree mailsync has not made its own (no marker yet). */
	if (rc != MS_OK || a.f == NULL || !a.c.is_fresh)
		goto out;
	if ((a.f->attrs & STORE_FOLDER_INBOX ||
	     strcasecmp(a.f->name, "INBOX") == 0) &&
	    (rc = mirror__inbox_place(p, err_r)) != MS_OK)
		goto out;
	rc = mirror__folder_path(&a.c, a.f, &a.path, err_r);
	if (rc != MS_OK || a.path == NULL)
		goto out;
	rc = mirror__dir_open(&a.md, p->root, a.path, false, p->rep, &exists,
			      err_r);
	a.is_dir_open = rc == MS_OK && exists;
	if (!a.is_dir_open)
		goto out;
	if ((rc = mirror_adopt_state(&a, uidvalidity, err_r)) != MS_OK) {
		rc = rc > 0 ? MS_OK : rc;
		goto out;
	}
	if ((rc = mirror_adopt_index(&a, err_r)) == MS_OK)
		rc = mirror_adopt_pairs(&a, uidvalidity, err_r);
out:
	store_batch_free(&a.b);
	maildir_mbsync_state_deinit(&a.st);
	free(a.near);
	free(a.path);
	mirror__dir_close(&a.md);
	mirror__ctx_deinit(&a.c);
	return rc;
}
