/* log.c - stderr logging with levels, trace areas and credential redaction. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/*
 * The length of the UTF-8 character at s[0..len) that may stand in a log
 * line as it is, or 0 when s[0] is to be escaped: a control character
 * (C0, DEL, C1), a line or paragraph separator (U+2028, U+2029, which
 * some viewers break lines at), or a byte that starts no valid UTF-8
 * sequence (overlong forms and surrogates included).
 */
static size_t
log_char_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0x20 && c < 0x7f)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;	/* C0, DEL, a continuation byte, 0xc0-0xc1... */
	if (c == 0xe0)
		lo = 0xa0;	/* overlong */
	else if (c == 0xed)
		hi = 0x9f;	/* surrogates */
	else if (c == 0xf0)
		lo = 0x90;	/* overlong */
	else if (c == 0xf4)
		hi = 0x8f;	/* beyond U+10FFFF */
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	if (c == 0xc2 && s[1] <= 0x9f)
		return 0;	/* C1 controls, U+0080-U+009F */
	if (c == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9))
		return 0;	/* U+2028, U+2029 */
	return n;
}

char *
log_escape(const char *s, size_t len, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0;

	if (outsz == 0)
		return out;
	while (i < len) {
		size_t n = log_char_len(p + i, len - i);

		if (n == 0) {
			/* Whole escapes only: a cut one would read wrongly. */
			if (o + 4 >= outsz)
				break;
			snprintf(out + o, outsz - o, "\\x%02x", p[i]);
			o += 4;
			i++;
			continue;
		}
		if (o + n >= outsz)
			break;
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

/*
 * True when stderr is the journal's stream: systemd sets JOURNAL_STREAM
 * to "DEVICE:INODE" of the stream it connected, and only when stderr is
 * still that stream (not redirected by a wrapper or a shell) do the "<N>"
 * prefixes mean something.  Checked per line: a log line is rare, and a
 * test or wrapper may change stderr at any time.
 */
static bool
log_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

char *
log_prefix(enum log_level level, char *out, size_t outsz)
{
	char ts[48];
	struct timespec now;
	struct tm tm;

	/* The journal adds its own timestamp; give it a priority. */
	if (log_is_journal()) {
		snprintf(out, outsz, "<%d>", log_level_prio[level]);
		return out;
	}
	/*
	 * Local time with its offset from UTC and milliseconds: a line
	 * compared with a server's log, or read after a move to another
	 * time zone or a DST change, still says when it happened.
	 */
	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outsz, "%s.%03ld", ts, now.tv_nsec / 1000000L);
	strftime(ts, sizeof(ts), "%z", &tm);
	snprintf(out + strlen(out), outsz - strlen(out), "%s %s ", ts,
		 log_level_names[level]);
	return out;
}

/* --- the status lines under the log (a terminal only) ------------------- */

/*
 * The lines the caller keeps at the bottom of the terminal, and how many
 * of them are drawn now: a log line erases them, is written, and draws
 * them again, so a progress display and the log never overwrite each
 * other.
 */
static char log_status_text[LOG_STATUS_MAX];
static unsigned log_status_drawn;
/*
 * Held while a line is written and the status lines erased and drawn
 * again: threadpool workers log too (mirror scans, exports), and two
 * threads between an erase and a draw garbled the terminal and raced on
 * the two variables above.
 */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void
log_status_erase(void)
{
	if (log_status_drawn == 0)
		return;
	/* Up to the first drawn line, then clear to the end of the screen. */
	fprintf(stderr, "\033[%uA\r\033[J", log_status_drawn);
	log_status_drawn = 0;
}

/* The terminal's width, so that no drawn line wraps (a wrapped line
 * would make the count of lines to erase wrong). */
static size_t
log_status_cols(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 8)
		return ws.ws_col;
	return 80;
}

static void
log_status_draw(void)
{
	const char *p = log_status_text;
	size_t cols;
	char safe[LOG_STATUS_MAX * 4];

	/* Nothing to draw (not a terminal, or no status): no ioctl for the
	 * width after every log line. */
	if (*p == '\0')
		return;
	cols = log_status_cols();
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		/* Escaped, and cut at a whole character within the width;
		 * the text is mostly ASCII, one byte a column. */
		log_escape(p, len, safe, cols < sizeof(safe) ? cols : sizeof(safe));
		fprintf(stderr, "%s\n", safe);
		log_status_drawn++;
		p += len;
		if (*p == '\n')
			p++;
	}
	fflush(stderr);
}

void
log_status_set(const char *text)
{
	pthread_mutex_lock(&log_lock);
	log_status_erase();
	snprintf(log_status_text, sizeof(log_status_text), "%s",
		 text != NULL ? text : "");
	log_status_draw();
	pthread_mutex_unlock(&log_lock);
}

bool
log_is_terminal(void)
{
	return isatty(STDERR_FILENO) && !log_is_journal();
}

static void
log_vemit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[2048], safe[4 * sizeof(line)], prefix[64];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (errnum != 0)
		snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
	/*
	 * Folder names and server texts arrive in the arguments: a control
	 * character among them must not end the line or drive the terminal,
	 * or a server could forge log lines.  Every line is escaped here,
	 * once, rather than at each call site.
	 */
	log_escape(line, strlen(line), safe, sizeof(safe));
	log_prefix(level, prefix, sizeof(prefix));
	pthread_mutex_lock(&log_lock);
	log_status_erase();
	fprintf(stderr, "%s%s\n", prefix, safe);
	log_status_draw();
	pthread_mutex_unlock(&log_lock);
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
	/* Room for the mark, so a long line still says it was masked. */
	log_escape(line, keep, out, outsz > 16 ? outsz - 10 : outsz);
	o = strlen(out);
	if (masked && o + 10 < outsz) {
		memcpy(out + o, "<redacted>", 10);
		o += 10;
	}
	out[o < outsz ? o : outsz - 1] = '\0';
	return out;
}
