/*
 * cli_cmd_convert.c - `convert [FILE]`: an mbsync configuration
 * (~/.mbsyncrc by default, cfg/cfg_mbsync.h), an OfflineIMAP one
 * (cfg/cfg_offlineimap.h) or a fetchmail one (cfg/cfg_fetchmail.h),
 * told apart by their content, turned into a
 * mailsync one on stdout, with what could not be translated on stderr,
 * one line each.  Runs without the daemon (is_local).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg/cfg_fetchmail.h"
#include "cfg/cfg_mbsync.h"
#include "cfg/cfg_offlineimap.h"
#include "cli.h"
#include "log.h"

/* Reads path (at most max bytes, or one more to tell it is larger) into
 * a new NUL-terminated buffer; NULL with errno on failure. */
static char *
cli_convert_read(const char *path, size_t max, size_t *len_r)
{
	char *text = malloc(max + 2);
	size_t len = 0;
	ssize_t n;
	int fd, saved;

	if (text == NULL)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		free(text);
		return NULL;
	}
	while (len < max + 1 && (n = read(fd, text + len, max + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			close(fd);
			free(text);
			errno = saved;
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	*len_r = len;
	return text;
}

static int
cli_convert_run(struct cli *cli, int argc, char **argv)
{
	struct cfg_convert_result res;
	const char *home = getenv("HOME");
	char *path, *text, safe[2400], dflt[4096];
	size_t len = 0;
	int rc;

	(void)cli;
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return cli_usage_error("convert takes [FILE] (default "
				       "~/.mbsyncrc)");
	if (argc < 2 && (home == NULL || home[0] == '\0'))
		return cli_usage_error("convert: no FILE and no $HOME to find "
				       "~/.mbsyncrc in");
	if (argc < 2)
		snprintf(dflt, sizeof(dflt), "%s/.mbsyncrc", home);
	if ((path = strdup(argc == 2 ? argv[1] : dflt)) == NULL)
		abort();	/* the client's xmalloc rule (STYLE.md 4) */
	if ((text = cli_convert_read(path, CFG_CONVERT_MAX, &len)) == NULL) {
		fprintf(stderr, "mailsyncctl: convert: cannot read %s: %s\n",
			path, strerror(errno));
		free(path);
		return CLI_EXIT_FAIL;
	}
	if (cfg_offlineimap_looks_like(text, len)) {
		rc = cfg_offlineimap_convert(path, text, len, &res);
	} else if (cfg_mbsync_looks_like(text, len)) {
		rc = cfg_mbsync_convert(path, text, len, &res);
	} else if (cfg_fetchmail_looks_like(text, len)) {
		rc = cfg_fetchmail_convert(path, text, len, &res);
	} else {
		fprintf(stderr, "mailsyncctl: convert: %s does not look like "
			"an mbsync configuration (~/.mbsyncrc: its first "
			"setting is an mbsync keyword such as IMAPAccount), "
			"an OfflineIMAP one (~/.offlineimaprc: its first "
			"section is [general], [Account NAME] or [Repository "
			"NAME]) or a fetchmail one (~/.fetchmailrc: it starts "
			"with poll, defaults or set)\n", path);
		explicit_bzero(text, len);
		free(text);
		free(path);
		return CLI_EXIT_FAIL;
	}
	explicit_bzero(text, len);	/* it may hold a password */
	free(text);
	fputs(res.ini, stdout);
	/* What was not translated: escaped, since it quotes the file. */
	for (size_t i = 0; i < res.n_notes; i++) {
		log_escape(res.notes[i].text, strlen(res.notes[i].text), safe,
			   sizeof(safe));
		if (res.notes[i].line > 0)
			fprintf(stderr, "%s:%u: %s\n", path,
				res.notes[i].line, safe);
		else
			fprintf(stderr, "%s: %s\n", path, safe);
	}
	fprintf(stderr, "mailsyncctl: convert: %u account%s written, %zu "
		"note%s%s\n", res.n_accounts, res.n_accounts == 1 ? "" : "s",
		res.n_notes, res.n_notes == 1 ? "" : "s",
		res.n_notes > 0 ? " above (settings not translated as they "
		"were)" : "");
	cfg_convert_result_free(&res);
	free(path);
	return rc == MS_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

const struct cli_cmd cli_cmd_convert = {
	.name = "convert",
	.usage = "[FILE]",
	.help = "print the mailsync configuration for an mbsync, "
		"OfflineIMAP or fetchmail one (default ~/.mbsyncrc)",
	.run_cb = cli_convert_run,
	.is_local = true,
};
