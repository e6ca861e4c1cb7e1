/*
 * cli_config.c - where mailsyncctl finds the daemon's socket: -s, else
 * [general] socket of the daemon's configuration file (-c, else the
 * daemon's search order: $MAILSYNC_CONFIG,
 * $XDG_CONFIG_HOME/mailsync/config.ini, ~/.config/mailsync/config.ini,
 * /etc/mailsync/config.ini), else the daemon's default.  The client
 * links no daemon code, so it reads that one key itself, with the
 * daemon's rules for ~ and $VAR (daemon/cfg/cfg_path.c); anything else
 * in the file is the daemon's to check.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct cli_ini {
	char *socket;		/* the raw values; owned */
	char *store;
};

static int
cli_ini_cb(void *arg, const char *section, const char *key,
	   const char *value)
{
	struct cli_ini *ini = arg;

	char **dst = NULL;

	if (strcmp(section, "general") == 0 && strcmp(key, "socket") == 0)
		dst = &ini->socket;
	else if (strcmp(section, "general") == 0 && strcmp(key, "store") == 0)
		dst = &ini->store;
	if (dst != NULL) {
		free(*dst);
		*dst = strdup(value);
	}
	return 1;
}

static const char *
cli_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* ~ and $NAME / ${NAME} / $$, as the daemon expands paths.  NULL after
 * printing why. */
static char *
cli_expand(const char *in, const char *file, const char *key)
{
	struct ms_buf out;
	const char *p = in, *v;
	char var[128];
	int rc = MS_OK;

	ms_buf_init(&out, 4096);
	if (p[0] == '~' && (p[1] == '\0' || p[1] == '/')) {
		if ((v = cli_env("HOME")) == NULL)
			goto bad;
		rc = ms_buf_append_cstr(&out, v);
		p++;
	}
	while (rc == MS_OK && *p != '\0') {
		size_t len = 0;
		bool braced;

		if (*p != '$') {
			rc = ms_buf_append(&out, p++, 1);
			continue;
		}
		if (p[1] == '$') {
			rc = ms_buf_append(&out, "$", 1);
			p += 2;
			continue;
		}
		braced = p[1] == '{';
		p += braced ? 2 : 1;
		while ((p[len] >= 'A' && p[len] <= 'Z') ||
		       (p[len] >= 'a' && p[len] <= 'z') || p[len] == '_' ||
		       (len > 0 && p[len] >= '0' && p[len] <= '9'))
			len++;
		if (len == 0 || len >= sizeof(var) || (braced && p[len] != '}'))
			goto bad;
		memcpy(var, p, len);
		var[len] = '\0';
		if ((v = cli_env(var)) == NULL)
			goto bad;
		rc = ms_buf_append_cstr(&out, v);
		p += len + (braced ? 1 : 0);
	}
	if (rc == MS_OK && ms_buf_append(&out, "", 0) == MS_OK)
		return (char *)ms_buf_take(&out, NULL);
bad:
	fprintf(stderr, "mailsyncctl: %s: [general] %s = %s cannot be "
		"expanded (run 'mailsyncd --check-config'), or give -s SOCKET\n",
		file, key, in);
	ms_buf_deinit(&out);
	return NULL;
}

static char *
cli_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
cli_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* The daemon's default (daemon/cfg/cfg_path.c cfg__socket_default):
 * beside the store (by default $XDG_DATA_HOME/mailsync when that is
 * absolute, else ~/.local/share/mailsync) when there is no
 * XDG_RUNTIME_DIR. */
static char *
cli_default_socket(const char *store_raw, const char *file)
{
	const char *dir = cli_env("XDG_RUNTIME_DIR");
	char *store, *s;

	if (dir != NULL)
		return cli_printf("%s/mailsync.sock", dir);
	if (getuid() == 0)
		return strdup("/run/mailsync/mailsync.sock");
	if (store_raw != NULL)
		store = cli_expand(store_raw, file, "store");
	else if ((dir = cli_env("XDG_DATA_HOME")) != NULL && dir[0] == '/')
		store = cli_printf("%s/mailsync", dir);
	else
		store = cli_expand("~/.local/share/mailsync", file, "store");
	if (store == NULL)
		return NULL;
	s = cli_printf("%s/run/mailsync.sock", store);
	free(store);
	return s;
}

/* The config file the daemon would read; NULL when there is none. */
static char *
cli_config_path(const struct cli *cli)
{
	const char *v;
	char *p;

	if (cli->config != NULL)
		return strdup(cli->config);
	if ((v = cli_env("MAILSYNC_CONFIG")) != NULL)
		return strdup(v);
	v = cli_env("XDG_CONFIG_HOME");
	if (v != NULL && v[0] == '/')
		p = cli_printf("%s/mailsync/config.ini", v);
	else if ((v = cli_env("HOME")) != NULL)
		p = cli_printf("%s/.config/mailsync/config.ini", v);
	else
		p = NULL;
	if (p != NULL && access(p, F_OK) == 0)
		return p;
	free(p);
	if (access("/etc/mailsync/config.ini", F_OK) == 0)
		return strdup("/etc/mailsync/config.ini");
	return NULL;
}

int
cli_find_socket(struct cli *cli)
{
	struct cli_ini ini = { 0 };
	char *path;
	int rc;

	if (cli->socket_arg != NULL) {
		cli->socket = strdup(cli->socket_arg);
		return CLI_EXIT_OK;
	}
	path = cli_config_path(cli);
	if (path != NULL) {
		rc = ini_parse(path, cli_ini_cb, &ini);
		if (rc < 0 && cli->config != NULL) {
			fprintf(stderr, "mailsyncctl: cannot read %s: %s\n",
				path, strerror(errno));
			free(path);
			return CLI_EXIT_USAGE;
		}
		/* Other problems are the daemon's to report. */
	}
	if (ini.socket != NULL)
		cli->socket = cli_expand(ini.socket, path, "socket");
	else
		cli->socket = cli_default_socket(ini.store, path != NULL ?
						 path : "(no config file)");
	free(ini.socket);
	free(ini.store);
	free(path);
	return cli->socket != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}
