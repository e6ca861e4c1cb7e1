/*
 * cli_out.c - mailsyncctl's output helpers: JSON documents, local times,
 * human sizes, colour (only on a terminal, never with NO_COLOR), and
 * escaping what servers wrote before it reaches a terminal.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void
cli_out_init(struct cli *cli)
{
	const char *nc = getenv("NO_COLOR");

	cli->is_tty = isatty(STDOUT_FILENO) == 1;
	/* https://no-color.org: present and not empty disables colour. */
	cli->is_color = cli->is_tty && (nc == NULL || nc[0] == '\0');
}

void
cli_out_json(json_t *j, bool compact)
{
	json_dumpf(j, stdout, compact ? JSON_COMPACT :
		   JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	fflush(stdout);
}

void
cli_out_time(json_t *ms, char *buf, size_t size)
{
	time_t t;
	struct tm tm;

	if (!json_is_integer(ms)) {
		snprintf(buf, size, "never");
		return;
	}
	t = (time_t)(json_integer_value(ms) / 1000);
	localtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void
cli_out_span(uint64_t s, char *buf, size_t size)
{
	if (s < 60)
		snprintf(buf, size, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, size, "%llum", (unsigned long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, size, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else
		snprintf(buf, size, "%llud", (unsigned long long)(s / 86400));
}

void
cli_out_when(json_t *ms, char *buf, size_t size)
{
	char span[32];
	int64_t now = (int64_t)time(NULL), t;

	if (!json_is_integer(ms)) {
		snprintf(buf, size, "-");
		return;
	}
	t = (int64_t)(json_integer_value(ms) / 1000);
	if (t >= now) {
		cli_out_span((uint64_t)(t - now), span, sizeof(span));
		snprintf(buf, size, "in %s", span);
	} else {
		cli_out_span((uint64_t)(now - t), span, sizeof(span));
		snprintf(buf, size, "%s ago", span);
	}
}

void
cli_out_size(uint64_t bytes, char *buf, size_t size)
{
	ctl_progress_size(bytes, buf, size);	/* the daemon's units too */
}

const char *
cli_out_color(const struct cli *cli, const char *state)
{
	if (!cli->is_color)
		return "";
	if (strcmp(state, "idle") == 0 || strcmp(state, "ok") == 0)
		return "\033[32m";
	if (strcmp(state, "syncing") == 0 || strcmp(state, "paused") == 0 ||
	    strcmp(state, "backoff") == 0 || strcmp(state, "disabled") == 0)
		return "\033[33m";
	if (strcmp(state, "bold") == 0)
		return "\033[1m";
	return "\033[31m";
}

const char *
cli_out_reset(const struct cli *cli)
{
	return cli->is_color ? "\033[0m" : "";
}

void
cli_out_safe(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';
	     p++) {
		if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

void
cli_out_chars(char *dst, size_t size, const char *src, size_t n)
{
	size_t i = 0, end = 0, chars = 0;

	/* At each character boundary i, src[0..i) holds chars characters:
	 * end is the last boundary that fits both bounds. */
	for (;; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c != '\0' && (c & 0xc0) == 0x80)
			continue;
		if (i + 1 > size || chars > n)
			break;
		end = i;
		if (c == '\0')
			break;
		chars++;
	}
	memcpy(dst, src, end);
	dst[end] = '\0';
}

unsigned
cli_out_columns(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

int
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mailsyncctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try 'mailsyncctl --help')\n", stderr);
	return CLI_EXIT_USAGE;
}

const char *
cli_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

uint64_t
cli_u64(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ?
		(uint64_t)json_integer_value(v) : 0;
}
