/*
 * send_import.c - spool files into the outbox (send_import.h).
 */
#include "send/send_import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "smtp/smtp_msg.h"
#include "smtp/smtp_spool.h"

/* A spool file is read whole; the client refuses larger messages. */
#define SEND_IMPORT_MAX (600u * 1024 * 1024)

void
send_message_id(struct ms_slice msg, char *out, size_t outsz)
{
	struct smtp_msg_field f;
	size_t pos = 0, a, b;

	out[0] = '\0';
	while (smtp_msg_next_field(msg, &pos, &f)) {
		if (!ms_slice_case_eq_cstr(f.name, "Message-ID"))
			continue;
		for (a = 0; a < f.value.len && (f.value.p[a] == ' ' ||
		     f.value.p[a] == '\t' || f.value.p[a] == '\r' ||
		     f.value.p[a] == '\n'); a++)
			;
		for (b = f.value.len; b > a && (f.value.p[b - 1] == ' ' ||
		     f.value.p[b - 1] == '\t'); b--)
			;
		/* Only a plain one: it goes into an IMAP SEARCH later. */
		for (size_t i = a; i < b; i++)
			if (f.value.p[i] < 0x21 || f.value.p[i] > 0x7e ||
			    f.value.p[i] == '"' || f.value.p[i] == '\\')
				return;
		if (b - a < outsz)
			snprintf(out, outsz, "%.*s", (int)(b - a),
				 (const char *)f.value.p + a);
		return;
	}
}

static int
send_import_read(const char *path, struct ms_buf *out, struct ms_err *err_r)
{
	uint8_t chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return ms_err_set(err_r, MS_EIO, "cannot open %s: %s", path,
				  strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || ms_buf_append(out, chunk, (size_t)n) != MS_OK) {
			ms_err_set(err_r, MS_EIO, "cannot read %s: %s", path,
				   n < 0 ? strerror(errno) : "too large");
			close(fd);
			return MS_EIO;
		}
	}
	close(fd);
	return MS_OK;
}

/* Moves a file the daemon cannot queue to spool/bad, keeping it. */
static void
send_import_set_aside(const char *spool, const char *name, const char *why)
{
	char from[4200], to[4200];

	snprintf(from, sizeof(from), "%s/new/%s", spool, name);
	snprintf(to, sizeof(to), "%s/bad", spool);
	if (mkdir(to, 0700) < 0 && errno != EEXIST) {
		log_err("send spool: %s: %s; and cannot create %s: %s (left "
			"in place)", from, why, to, strerror(errno));
		return;
	}
	snprintf(to, sizeof(to), "%s/bad/%s", spool, name);
	if (rename(from, to) < 0)
		log_err("send spool: %s: %s; and cannot move it to %s: %s",
			from, why, to, strerror(errno));
	else
		log_err("send spool: %s: %s; moved to %s (fix the cause, "
			"then move it back into new/)", from, why, to);
}

/* True when an outbox entry came from this spool file. */
static bool
send_import_has(const struct store_outbox *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].spool != NULL && strcmp(list[i].spool, name) == 0)
			return true;
	return false;
}

/* One file: decode, check, one transaction.  MS_OK, or a store error. */
static int
send_import_one(struct store *s, const struct cfg *cfg, const char *spool,
		const char *name, struct ms_buf *file, size_t *n_r,
		struct ms_err *err_r)
{
	char path[4200], msgid[400], account[256];
	struct smtp_spool_head h;
	struct store_outbox e = { 0 };
	struct store_body_writer *w = NULL;
	struct store_body *body = NULL;
	struct store_batch *b = NULL;
	const struct cfg_account *a;
	struct ms_buf rcpts;
	struct ms_slice msg;
	const char *why;
	char from[SMTP_SPOOL_MAX_VALUE + 1];
	uint64_t id;
	int rc;

	snprintf(path, sizeof(path), "%s/new/%s", spool, name);
	ms_buf_reset(file);
	if ((rc = send_import_read(path, file, err_r)) < 0) {
		send_import_set_aside(spool, name, err_r->msg);
		return MS_OK;
	}
	ms_buf_init(&rcpts, STORE_OUTBOX_RCPTS_MAX);
	rc = smtp_spool_decode((struct ms_slice){ file->p, file->len }, &h,
			       &rcpts, &why);
	if (rc == MS_ETOOBIG)
		why = "too many recipients";
	if (rc != MS_OK) {
		send_import_set_aside(spool, name, why);
		ms_buf_deinit(&rcpts);
		return MS_OK;
	}
	snprintf(account, sizeof(account), "%.*s", (int)h.account.len,
		 (const char *)h.account.p);
	a = cfg_account_find(cfg, account);
	if (a == NULL || a->smtp_host == NULL) {
		char what[400];

		snprintf(what, sizeof(what), "account '%s' %s in %s", account,
			 a == NULL ? "is not" : "has no smtp_host", cfg->file);
		send_import_set_aside(spool, name, what);
		ms_buf_deinit(&rcpts);
		return MS_OK;
	}
	msg = (struct ms_slice){ file->p + h.body_off,
				 file->len - h.body_off };
	send_message_id(msg, msgid, sizeof(msgid));
	snprintf(from, sizeof(from), "%.*s", (int)h.from.len,
		 (const char *)h.from.p);
	e.state = STORE_OUTBOX_QUEUED;
	e.created = h.created;
	e.next_attempt = h.created;
	e.account = account;
	e.from = from;
	e.rcpts = (char *)rcpts.p;
	e.spool = (char *)name;
	e.message_id = msgid;
	rc = store_body_writer_new(s, msg.len, &w, err_r);
	if (rc == MS_OK)
		rc = store_body_writer_write(w, msg.p, msg.len, err_r);
	if (rc == MS_OK)
		rc = store_body_writer_finish(&w, &body, err_r);
	if (rc == MS_OK)
		rc = store_batch_new(s, &b);
	if (rc == MS_OK) {
		rc = store_batch_outbox_add(b, &e, body, &id);
		body = NULL;	/* consumed */
	}
	if (rc == MS_OK)
		rc = store_batch_commit(b, err_r);
	store_batch_free(&b);
	store_body_free(&body);
	store_body_writer_free(&w);
	ms_buf_deinit(&rcpts);
	if (rc < 0) {
		if (err_r->msg[0] == '\0')
			ms_err_set(err_r, rc, "queueing %s: %s", path,
				   ms_strerror(rc));
		return rc;
	}
	log_info("acct=%s outbox id=%llu queued from the spool (%zu "
		 "recipient%s, %zu bytes%s%s)", account,
		 (unsigned long long)id, h.n_rcpts, h.n_rcpts == 1 ? "" : "s",
		 msg.len, msgid[0] != '\0' ? ", " : "", msgid);
	if (unlink(path) < 0)
		log_warn("send spool: cannot remove %s after queueing it: %s "
			 "(it will not be queued twice)", path,
			 strerror(errno));
	(*n_r)++;
	return MS_OK;
}

static int
send_import_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir (not starting with '.'), sorted: oldest first, as
 * the names start with the time. */
static int
send_import_names(const char *dir, char ***names_r, size_t *n_r,
		  struct ms_err *err_r)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*names_r = NULL;
	*n_r = 0;
	if (d == NULL) {
		if (errno == ENOENT)
			return MS_OK;
		return ms_err_set(err_r, MS_EIO, "cannot read %s: %s", dir,
				  strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nv;

			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		if ((v[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), send_import_cmp);
	*names_r = v;
	*n_r = n;
	return MS_OK;
}

int
send_import_run(struct store *s, const struct cfg *cfg, const char *spool,
		size_t *n_r, struct ms_err *err_r)
{
	char dir[4200], path[4200 + 256];
	struct store_outbox *list = NULL;
	size_t nlist = 0, nnames = 0, removed = 0;
	char **names = NULL;
	struct ms_buf file;
	int rc, fd;

	*n_r = 0;
	snprintf(dir, sizeof(dir), "%s/new", spool);
	if ((rc = send_import_names(dir, &names, &nnames, err_r)) < 0 ||
	    nnames == 0)
		return rc;
	if ((rc = store_outbox_list(s, &list, &nlist, err_r)) < 0)
		goto out;
	ms_buf_init(&file, SEND_IMPORT_MAX);
	for (size_t i = 0; i < nnames && rc == MS_OK; i++) {
		if (send_import_has(list, nlist, names[i])) {
			/* Queued before a crash that kept the file. */
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			if (unlink(path) == 0)
				removed++;
			continue;
		}
		rc = send_import_one(s, cfg, spool, names[i], &file, n_r,
				     err_r);
	}
	ms_buf_deinit(&file);
	/* The unlinks durable too: a file back after a crash would find
	 * its entry gone once delivered. */
	if ((*n_r > 0 || removed > 0) &&
	    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) < 0)
			log_warn("send spool: fsync %s: %s", dir,
				 strerror(errno));
		close(fd);
	}
out:
	for (size_t i = 0; i < nlist; i++)
		store_outbox_deinit(&list[i]);
	free(list);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return rc;
}
