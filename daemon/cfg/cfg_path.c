/*
 * cfg_path.c - ~ and $VAR expansion in path values, the default socket
 * path, and the config file search order.  The environment is reached only
 * through struct cfg_env so tests can use a fake one.
 */
#include "cfg/cfg_int.h"

#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *
cfg_env_system_get(const char *name, void *arg)
{
	const char *v = getenv(name);

	(void)arg;
	/* A service started without HOME still has a passwd entry. */
	if (v == NULL && strcmp(name, "HOME") == 0) {
		struct passwd *pw = getpwuid(getuid());

		if (pw != NULL && pw->pw_dir != NULL && pw->pw_dir[0] != '\0')
			v = pw->pw_dir;
	}
	return v;
}

static bool
cfg_env_system_exists(const char *path, void *arg)
{
	(void)arg;
	return access(path, F_OK) == 0;
}

const struct cfg_env *
cfg_env_system(void)
{
	static struct cfg_env env = {
		.get = cfg_env_system_get,
		.exists = cfg_env_system_exists,
	};

	env.uid = getuid();
	return &env;
}

/* A variable's value, with unset and empty treated alike. */
static const char *
cfg_path_var(const struct cfg_env *env, const char *name)
{
	const char *v = env->get(name, env->arg);

	return (v != NULL && v[0] != '\0') ? v : NULL;
}

static bool
cfg_path_is_name_char(int c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* Expands one $NAME or ${NAME} at *sp (on the '$') onto out. */
static int
cfg_path_expand_var(const char **sp, const struct cfg_env *env,
		    struct ms_buf *out, char *why, size_t whysz)
{
	const char *p = *sp + 1, *name, *v;
	bool braced = (*p == '{');
	size_t len = 0;
	char var[128];

	if (*p == '$') {
		*sp = p + 1;
		return ms_buf_append(out, "$", 1);
	}
	if (braced)
		p++;
	name = p;
	while (cfg_path_is_name_char((unsigned char)p[len], len == 0))
		len++;
	if (len == 0 || len >= sizeof(var) || (braced && p[len] != '}')) {
		snprintf(why, whysz, "bad variable reference in '%s' (write "
			 "$NAME or ${NAME}, and $$ for a '$')", *sp);
		return MS_EINVAL;
	}
	memcpy(var, name, len);
	var[len] = '\0';
	v = cfg_path_var(env, var);
	if (v == NULL) {
		snprintf(why, whysz, "variable $%s is not set", var);
		return MS_EINVAL;
	}
	*sp = p + len + (braced ? 1 : 0);
	return ms_buf_append_cstr(out, v);
}

int
cfg__path_expand(const char *in, const struct cfg_env *env, char **out_r,
		 char *why, size_t whysz)
{
	struct ms_buf out;
	const char *p = in;
	int rc = MS_OK;

	ms_buf_init(&out, 4096);
	if (p[0] == '~') {
		const char *home;

		if (p[1] != '\0' && p[1] != '/') {
			snprintf(why, whysz, "'%s': only ~ and ~/ are "
				 "expanded, not ~user", in);
			return MS_EINVAL;
		}
		home = cfg_path_var(env, "HOME");
		if (home == NULL) {
			snprintf(why, whysz, "'~' needs $HOME, which is not "
				 "set");
			return MS_EINVAL;
		}
		rc = ms_buf_append_cstr(&out, home);
		p++;
	}
	while (rc == MS_OK && *p != '\0') {
		if (*p == '$') {
			rc = cfg_path_expand_var(&p, env, &out, why, whysz);
			if (rc == MS_EINVAL) {
				ms_buf_deinit(&out);
				return rc;
			}
		} else {
			rc = ms_buf_append(&out, p++, 1);
		}
	}
	if (rc == MS_OK && out.len == 0)
		rc = ms_buf_append(&out, "", 0);	/* allocate "" */
	if (rc != MS_OK) {
		ms_buf_deinit(&out);
		snprintf(why, whysz, "'%s' expands to a path that is too long",
			 in);
		return MS_EINVAL;
	}
	if (out.p[0] != '/') {
		snprintf(why, whysz, "'%s' is a relative path", (char *)out.p);
		ms_buf_deinit(&out);
		return MS_EINVAL;
	}
	*out_r = (char *)ms_buf_take(&out, NULL);
	return MS_OK;
}

/* Drops the last component of the absolute path in b ("/" stays). */
static void
cfg_path_pop(struct ms_buf *b)
{
	while (b->len > 1 && b->p[b->len - 1] != '/')
		b->len--;
	if (b->len > 1)
		b->len--;	/* the '/' before it, unless it is the root */
	b->p[b->len] = '\0';
}

char *
cfg__path_canonical(const char *path)
{
	struct ms_buf out;
	bool is_real = true;	/* out is what realpath gave (or "/") */
	size_t real_len = 0;	/* when not: the length of its real part */
	const char *p = path;
	int rc;

	ms_buf_init(&out, 2 * PATH_MAX + strlen(path));
	rc = ms_buf_append(&out, "/", 1);
	while (rc == MS_OK && *p != '\0') {
		size_t n = strcspn(p, "/"), before = out.len;
		const char *comp = p;
		char *real;

		p += n + (p[n] == '/');
		if (n == 0 || (n == 1 && comp[0] == '.'))
			continue;
		if (n == 2 && comp[0] == '.' && comp[1] == '.') {
			/* The parent of a resolved directory is resolved. */
			cfg_path_pop(&out);
			is_real |= out.len <= real_len;
			continue;
		}
		if (out.len > 1)
			rc = ms_buf_append(&out, "/", 1);
		if (rc == MS_OK)
			rc = ms_buf_append(&out, comp, n);
		if (rc != MS_OK || !is_real)
			continue;
		if ((real = realpath((char *)out.p, NULL)) == NULL) {
			/* The longest existing prefix ends before comp. */
			is_real = false;
			real_len = before;
			continue;
		}
		out.len = 0;
		rc = ms_buf_append_cstr(&out, real);
		free(real);
	}
	if (rc != MS_OK) {
		ms_buf_deinit(&out);
		return NULL;
	}
	return (char *)ms_buf_take(&out, NULL);
}

/* The XDG base directory spec: $XDG_DATA_HOME when set and absolute,
 * else ~/.local/share.  A value to parse, like a key's default. */
const char *
cfg__store_default(const struct cfg_env *env)
{
	const char *v = cfg_path_var(env, "XDG_DATA_HOME");

	return v != NULL && v[0] == '/' ? "$XDG_DATA_HOME/mailsync" :
	    "~/.local/share/mailsync";
}

char *
cfg__socket_default(const struct cfg_env *env, const char *store)
{
	const char *dir = cfg_path_var(env, "XDG_RUNTIME_DIR");

	if (dir != NULL)
		return cfg__printf("%s/mailsync.sock", dir);
	if (env->uid == 0)
		return cfg__strdup("/run/mailsync/mailsync.sock");
	/* A directory of the user's own, not a name in /tmp that anyone
	 * could take first: the daemon makes it 0700. */
	if (store != NULL)
		return cfg__printf("%s/run/mailsync.sock", store);
	return cfg__printf("/tmp/mailsync-%lu/mailsync.sock",
			   (unsigned long)env->uid);
}

int
cfg_path_search(const struct cfg_env *env, char **path_r,
		struct cfg_report *rep)
{
	const char *v = cfg_path_var(env, "MAILSYNC_CONFIG");
	const char *home = cfg_path_var(env, "HOME");
	char *cand[2] = { NULL, NULL };
	int rc = MS_ECONFIG;

	/* An explicit variable is obeyed like -c, even if the file is not
	 * there, so that its open error names it. */
	if (v != NULL) {
		*path_r = cfg__strdup(v);
		return MS_OK;
	}
	/* The XDG base directory spec says to ignore relative values. */
	v = cfg_path_var(env, "XDG_CONFIG_HOME");
	if (v != NULL && v[0] == '/')
		cand[0] = cfg__printf("%s/mailsync/config.ini", v);
	else if (home != NULL)
		cand[0] = cfg__printf("%s/.config/mailsync/config.ini", home);
	cand[1] = cfg__strdup("/etc/mailsync/config.ini");
	for (size_t i = 0; i < 2; i++) {
		if (cand[i] != NULL && env->exists(cand[i], env->arg)) {
			*path_r = cand[i];
			cand[i] = NULL;
			rc = MS_OK;
			break;
		}
	}
	if (rc != MS_OK) {
		cfg__report_add(rep, "mailsyncd", 0, "no configuration file "
				"found; searched: $MAILSYNC_CONFIG (not set), "
				"%s, %s (use -c FILE or set MAILSYNC_CONFIG)",
				cand[0] ? cand[0] :
				"~/.config/mailsync/config.ini ($HOME not set)",
				cand[1]);
	}
	free(cand[0]);
	free(cand[1]);
	return rc;
}
