/*
 * setup_write.c - the account `mailsyncctl setup` found, as an
 * [account NAME] section, appended to the configuration file.  The file
 * is never edited in place: its bytes (comments, order, blank lines)
 * stay as they are, the section goes at the end, and the result is
 * checked with the daemon's own parser and validator before it replaces
 * the old file in one rename (same mode and owner; a new file is 0600
 * in a 0700 directory).  A configuration path that is a symbolic link
 * (dotfiles kept in a repository) is written through: the link stays,
 * its target is replaced.  Afterwards the file on disk is checked again,
 * as `mailsyncd --check-config` would, including its permissions.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfg/cfg.h"
#include "setup.h"

static const char *
setup_tls_key(enum probe_tls tls)
{
	return tls == PROBE_TLS_IMPLICIT ? "implicit" : "starttls";
}

/* A value the INI file holds as it is: one line, no inline comment. */
static int
setup_value_ok(const char *key, const char *v)
{
	if (v == NULL || v[0] == '\0')
		return MS_EINVAL;
	if (strchr(v, '\n') != NULL || strchr(v, '\r') != NULL ||
	    strstr(v, " ;") != NULL || strstr(v, "\t;") != NULL) {
		fprintf(stderr, "mailsyncctl: setup: %s '%s' cannot be "
			"written: a line end or ' ;' (which starts a "
			"comment) in it; put the command in a script and "
			"name the script\n", key, v);
		return MS_EINVAL;
	}
	return MS_OK;
}

static int
setup_kv(struct ms_buf *out, const char *key, const char *v)
{
	if (setup_value_ok(key, v) != MS_OK)
		return MS_EINVAL;
	return ms_buf_printf(out, "%s = %s\n", key, v);
}

int
setup_write_section(const struct setup_account *a, struct ms_buf *out)
{
	const struct setup_cand *in = a->in, *o = a->out;
	const char *secret_key = a->oauth_token_cmd != NULL ?
	    "oauth_token_cmd" : "password_cmd";
	const char *secret = a->oauth_token_cmd != NULL ?
	    a->oauth_token_cmd : a->password_cmd;
	char when[32], src[64];
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	strftime(when, sizeof(when), "%Y-%m-%d", localtime_r(&now, &tm));
	rc = ms_buf_printf(out, "\n; Added by mailsyncctl setup on %s for "
			   "%s.\n", when, a->from);
	if (rc == MS_OK && in != NULL) {
		setup_sources_name(in->sources, src, sizeof(src));
		rc = ms_buf_printf(out, "; %s %s:%u found by %s, TLS "
				   "verified (%s).\n",
				   probe_proto_name(in->proto), in->host,
				   (unsigned)in->port, src, in->tls_version);
	}
	if (rc == MS_OK && o != NULL) {
		setup_sources_name(o->sources, src, sizeof(src));
		rc = ms_buf_printf(out, "; smtp %s:%u found by %s, TLS "
				   "verified (%s).\n", o->host,
				   (unsigned)o->port, src, o->tls_version);
	}
	if (rc == MS_OK)
		rc = ms_buf_printf(out, "[account %s]\n", a->name);
	if (rc == MS_OK)
		rc = setup_kv(out, "protocol", in != NULL ?
			      probe_proto_name(in->proto) : "smtp");
	if (rc == MS_OK && in != NULL) {
		rc = setup_kv(out, "host", in->host);
		if (rc == MS_OK)
			rc = ms_buf_printf(out, "port = %u\ntls = %s\n",
					   (unsigned)in->port,
					   setup_tls_key(in->tls));
	}
	if (rc == MS_OK)
		rc = setup_kv(out, "user", a->user);
	if (rc == MS_OK && a->auth != NULL)
		rc = setup_kv(out, "auth", a->auth);
	if (rc == MS_OK)
		rc = setup_kv(out, secret_key, secret);
	if (rc == MS_OK && a->ca_file != NULL)
		rc = setup_kv(out, "ca_file", a->ca_file);
	if (rc == MS_OK && in != NULL && a->maildir != NULL)
		rc = setup_kv(out, "maildir", a->maildir);
	if (rc == MS_OK && o != NULL) {
		rc = setup_kv(out, "smtp_host", o->host);
		if (rc == MS_OK)
			rc = ms_buf_printf(out, "smtp_port = %u\n"
					   "smtp_tls = %s\n",
					   (unsigned)o->port,
					   setup_tls_key(o->tls));
		/* autoconfig may give the SMTP login its own user name. */
		if (rc == MS_OK && o->user[0] != '\0' &&
		    strcmp(o->user, a->user) != 0) {
			rc = setup_kv(out, "smtp_user", o->user);
			if (rc == MS_OK && a->oauth_token_cmd == NULL)
				rc = setup_kv(out, "smtp_password_cmd",
					      a->password_cmd);
		}
		if (rc == MS_OK)
			rc = setup_kv(out, "from", a->from);
	}
	return rc;
}

#define SETUP_CONFIG_MAX (16u << 20)	/* bytes of a configuration file */

/* Reads the whole file; *text_r NULL when it does not exist.  A failure
 * is printed, with the errno of the call that failed. */
static int
setup_read_file(const char *path, char **text_r, size_t *len_r,
		struct stat *st_r, FILE *errout)
{
	struct ms_buf b;
	char chunk[8192];
	FILE *f;
	size_t n;
	int rc = MS_OK, err = 0;

	*text_r = NULL;
	*len_r = 0;
	f = fopen(path, "r");
	if (f == NULL && errno == ENOENT)
		return MS_OK;
	if (f == NULL || fstat(fileno(f), st_r) != 0) {
		fprintf(errout, "mailsyncctl: setup: cannot read %s: %s\n",
			path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return MS_EIO;
	}
	ms_buf_init(&b, SETUP_CONFIG_MAX);
	while (rc == MS_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = ms_buf_append(&b, chunk, n);
	if (rc == MS_OK && ferror(f)) {
		err = errno;
		rc = MS_EIO;
	}
	fclose(f);
	if (rc == MS_OK)
		rc = ms_buf_append(&b, "", 1);
	if (rc == MS_ETOOBIG)
		fprintf(errout, "mailsyncctl: setup: %s is larger than %u MiB: "
			"not a configuration file to add an account to (give "
			"another with -c)\n", path, SETUP_CONFIG_MAX >> 20);
	else if (rc == MS_EIO)
		fprintf(errout, "mailsyncctl: setup: cannot read %s: %s\n",
			path, strerror(err));
	else if (rc != MS_OK)
		fprintf(errout, "mailsyncctl: setup: cannot read %s: %s\n",
			path, ms_strerror(rc));
	if (rc != MS_OK) {
		ms_buf_deinit(&b);
		return rc;
	}
	*len_r = b.len - 1;
	*text_r = (char *)ms_buf_take(&b, &n);
	return MS_OK;
}

/*
 * The file a configuration path names: the path itself, or, when it is a
 * symbolic link (to a link...), the file at its end, which need not exist
 * yet.  Replacing the link by a regular file would cut it from its target
 * (and the target keeps the old configuration).  MS_OK with real_r set,
 * or printed and MS_EIO.
 */
static int
setup_resolve(const char *path, char *real_r, size_t size, FILE *errout)
{
	char link[4096], dir[4096];
	struct stat st;
	ssize_t n;

	if (snprintf(real_r, size, "%s", path) >= (int)size)
		goto too_long;
	for (int depth = 0; lstat(real_r, &st) == 0 && S_ISLNK(st.st_mode);
	     depth++) {
		if (depth == 40) {
			fprintf(errout, "mailsyncctl: setup: %s: %s\n", path,
				strerror(ELOOP));
			return MS_EIO;
		}
		n = readlink(real_r, link, sizeof(link) - 1);
		if (n < 0) {
			fprintf(errout, "mailsyncctl: setup: cannot read the "
				"link %s: %s\n", real_r, strerror(errno));
			return MS_EIO;
		}
		link[n] = '\0';
		/* A relative target is relative to the link's directory. */
		snprintf(dir, sizeof(dir), "%s", real_r);
		if (link[0] != '/' &&
		    snprintf(real_r, size, "%s/%s", dirname(dir), link) >=
		    (int)size)
			goto too_long;
		if (link[0] == '/' &&
		    snprintf(real_r, size, "%s", link) >= (int)size)
			goto too_long;
	}
	return MS_OK;
too_long:
	fprintf(errout, "mailsyncctl: setup: %s: %s\n", path,
		strerror(ENAMETOOLONG));
	return MS_EIO;
}

/* mkdir -p of path's directory, new ones 0700. */
static int
setup_make_dirs(const char *path)
{
	char dir[4096];
	size_t n;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return MS_EINVAL;
	for (n = strlen(dir); n > 0 && dir[n - 1] != '/'; n--)
		;
	dir[n] = '\0';
	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return MS_EIO;
		*p = '/';
	}
	return MS_OK;
}

/* Writes text to a temporary file beside path and renames it over. */
static int
setup_replace(const char *path, const char *text, size_t len,
	      const struct stat *old, FILE *errout)
{
	char tmp[4200], dirbuf[4200];
	int fd, dfd;
	size_t off = 0;

	snprintf(tmp, sizeof(tmp), "%s.setup-XXXXXX", path);
	fd = mkstemp(tmp);	/* 0600 */
	if (fd < 0) {
		fprintf(errout, "mailsyncctl: setup: cannot create a file "
			"beside %s: %s\n", path, strerror(errno));
		return MS_EIO;
	}
	/* An existing file keeps its mode and owner. */
	if (old != NULL && (fchmod(fd, old->st_mode & 07777) != 0 ||
	    (geteuid() == 0 && fchown(fd, old->st_uid, old->st_gid) != 0)))
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		(void)fsync(dfd);	/* the rename, durably */
		close(dfd);
	}
	return MS_OK;
fail:
	fprintf(errout, "mailsyncctl: setup: cannot write %s: %s (the file "
		"is unchanged)\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return MS_EIO;
}

int
setup_write_config(const char *path, const char *section,
		   const char *account_name, FILE *errout)
{
	const struct cfg_env *env = cfg_env_system();
	struct cfg_report rep;
	struct cfg *cfg = NULL;
	struct ms_buf text;
	struct stat st;
	char *old = NULL, real[4096];
	size_t old_len = 0;
	bool is_new;
	int rc;

	if ((rc = setup_resolve(path, real, sizeof(real), errout)) != MS_OK)
		return rc;
	if ((rc = setup_read_file(real, &old, &old_len, &st, errout)) != MS_OK)
		return rc == MS_ETOOBIG ? MS_ECONFIG : MS_EIO;
	is_new = old == NULL;
	ms_buf_init(&text, 32u << 20);
	rc = !is_new ? ms_buf_append(&text, old, old_len) :
	    ms_buf_printf(&text, "; mailsync configuration (mailsync.conf(5))"
			  ", created by mailsyncctl setup.\n");
	/* The section starts on a line of its own. */
	if (rc == MS_OK && text.len > 0 && text.p[text.len - 1] != '\n')
		rc = ms_buf_append(&text, "\n", 1);
	if (rc == MS_OK)
		rc = ms_buf_append_cstr(&text, section);
	free(old);
	if (rc != MS_OK) {
		ms_buf_deinit(&text);
		return rc;
	}
	/* Checked before anything is written: a bad result never lands. */
	cfg_report_init(&rep);
	rc = cfg_load_text(path, (const char *)text.p, text.len, env, &cfg,
			   &rep);
	if (rc != MS_OK) {
		fprintf(errout, "mailsyncctl: setup: the account would make "
			"%s invalid; nothing was written:\n", path);
		cfg_report_print(&rep, errout);
	} else if (cfg_account_find(cfg, account_name) == NULL) {
		rc = MS_EINTERNAL;
	}
	cfg_free(&cfg);
	cfg_report_deinit(&rep);
	if (rc == MS_OK && is_new && setup_make_dirs(real) != MS_OK) {
		fprintf(errout, "mailsyncctl: setup: cannot create the "
			"directory of %s: %s\n", real, strerror(errno));
		rc = MS_EIO;
	}
	if (rc == MS_OK)
		rc = setup_replace(real, (const char *)text.p, text.len,
				   is_new ? NULL : &st, errout);
	ms_buf_deinit(&text);
	if (rc != MS_OK)
		return rc;
	/* As mailsyncd --check-config: the file on disk, its mode too. */
	cfg_report_init(&rep);
	rc = cfg_load(path, env, &cfg, &rep);
	if (rc != MS_OK) {
		fprintf(errout, "mailsyncctl: setup: %s was written but "
			"does not pass the check:\n", path);
		cfg_report_print(&rep, errout);
	}
	cfg_free(&cfg);
	cfg_report_deinit(&rep);
	return rc;
}
