/* log.c - stderr logging with levels, trace areas and credential redaction. */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static enum log_level log_level = LOG_LEVEL_INFO;
static unsigned log_trace_areas;

static const char *const log_level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/* sd-daemon(3) priorities: err=3 warning=4 info=6 debug=7. */
static const int log_level_prio[] = { 3, 4, 6, 7 };

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

void
log_set_trace(unsigned areas)
{
	log_trace_areas = areas;
}

bool
log_trace_enabled(unsigned areas)
{
	return (log_trace_areas & areas) != 0;
}

bool
log_level_parse(const char *s, enum log_level *level_r)
{
	for (size_t i = 0; i < sizeof(log_level_names) / sizeof(*log_level_names); i++) {
		if (strcasecmp(s, log_level_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return true;
		}
	}
	return false;
}

static void
log_vemit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (errnum != 0)
		snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
	/* Under systemd the journal adds its own timestamp; give it a priority. */
	if (getenv("JOURNAL_STREAM") != NULL) {
		fprintf(stderr, "<%d>%s\n", log_level_prio[level], line);
	} else {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s %s %s\n", ts, log_level_names[level], line);
	}
}

#define LOG_DEFINE(fn, level)                              \
	void fn(const char *fmt, ...)                      \
	{                                                  \
		va_list ap;                                \
		if (log_level < (level))                   \
			return;                            \
		va_start(ap, fmt);                         \
		log_vemit((level), 0, fmt, ap);            \
		va_end(ap);                                \
	}

LOG_DEFINE(log_err, LOG_LEVEL_ERROR)
LOG_DEFINE(log_warn, LOG_LEVEL_WARN)
LOG_DEFINE(log_info, LOG_LEVEL_INFO)
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG)

void
log_err_errno(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERROR, errnum, fmt, ap);
	va_end(ap);
}

void
log_warn_errno(int errnum, const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOG_LEVEL_WARN)
		return;
	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_WARN, errnum, fmt, ap);
	va_end(ap);
}

void
log_trace(unsigned areas, const char *fmt, ...)
{
	va_list ap;

	if ((log_trace_areas & areas) == 0)
		return;
	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

/* Index just past the n-th space-separated word of line, or len. */
static size_t
log_skip_words(const char *line, size_t len, int n)
{
	size_t i = 0;

	while (n-- > 0) {
		while (i < len && line[i] != ' ')
			i++;
		while (i < len && line[i] == ' ')
			i++;
	}
	return i;
}

static bool
log_word_is(const char *line, size_t len, size_t at, const char *word)
{
	size_t wl = strlen(word);

	return at + wl <= len && strncasecmp(line + at, word, wl) == 0 &&
	       (at + wl == len || line[at + wl] == ' ' || line[at + wl] == '\r');
}

char *
log_redact_line(const char *line, size_t len, bool in_auth, char *out,
		size_t outsz)
{
	size_t keep = len, o = 0;
	bool masked = false;

	while (keep > 0 && (line[keep - 1] == '\n' || line[keep - 1] == '\r'))
		keep--;
	len = keep;
	if (in_auth) {
		keep = 0;	/* a SASL continuation is all secret */
		masked = len > 0;
	} else {
		size_t w1 = log_skip_words(line, len, 1);

		/*
		 * POP3/SMTP commands start the line; check them first so that
		 * "AUTH LOGIN" is not mistaken for an IMAP "tag LOGIN".  Our
		 * IMAP tags are never AUTH or PASS.
		 */
		if (log_word_is(line, len, 0, "AUTH")) {
			keep = log_skip_words(line, len, 2);
			masked = keep < len;	/* an initial response */
		} else if (log_word_is(line, len, 0, "PASS")) {
			keep = w1;
			masked = true;
		} else if (log_word_is(line, len, w1, "LOGIN")) {
			/* IMAP "tag LOGIN user pass": hide both */
			keep = log_skip_words(line, len, 2);
			masked = true;
		} else if (log_word_is(line, len, w1, "AUTHENTICATE")) {
			keep = log_skip_words(line, len, 3);
			masked = keep < len;
		}
	}
	if (outsz == 0)
		return out;
	for (size_t i = 0; i < keep && o + 5 < outsz; i++) {
		unsigned char c = (unsigned char)line[i];
		if (isprint(c)) {
			out[o++] = (char)c;
		} else {
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		}
	}
	if (masked && o + 10 < outsz) {
		memcpy(out + o, "<redacted>", 10);
		o += 10;
	}
	out[o < outsz ? o : outsz - 1] = '\0';
	return out;
}
