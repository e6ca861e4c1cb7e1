/*
 * log.h - the daemon's one logging path: one line per event on stderr, with
 * a level.  When stderr is the journal (JOURNAL_STREAM names its device
 * and inode) each line starts with the sd-daemon "<N>" priority prefix;
 * otherwise with a timestamp and level name.
 *
 * Messages are key=value where it helps: "acct=work conn=3 imap state=A->B".
 * Arguments may hold what a server sent (folder names, response texts):
 * every line is escaped (log_escape()) before it is written, so nothing
 * in it ends the line or reaches the terminal as a control sequence.
 * Never pass a secret to these functions; log_redact_line() masks
 * credentials in protocol traces.
 */
#ifndef MS_LOG_H
#define MS_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* Trace areas for -v protocol traces; combine with |. */
enum {
	TRACE_IMAP = 1 << 0,
	TRACE_POP3 = 1 << 1,
	TRACE_SMTP = 1 << 2,
	TRACE_TLS = 1 << 3,
	TRACE_NET = 1 << 4,
	TRACE_STORE = 1 << 5,
	TRACE_CTL = 1 << 6,
	TRACE_ALL = 0x7f,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_trace(unsigned areas);
bool log_trace_enabled(unsigned areas);

/* Parses "error|warn|info|debug"; returns false if unknown. */
bool log_level_parse(const char *s, enum log_level *level_r);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like log_err/log_warn, with ": strerror(errnum)" appended. */
void log_err_errno(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_warn_errno(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Emitted at debug priority when one of areas is enabled. */
void log_trace(unsigned areas, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * What starts a log line at level, in out (outsz bytes, NUL-terminated):
 * "<N>" when stderr is the journal (it has its own timestamps), else the
 * local time with milliseconds and its UTC offset, and the level:
 * "2026-12-07T06:45:00.123+0000 info ".  For lines written outside
 * these functions that must read like the log (--once's summary of
 * failures).  Returns out.
 */
char *log_prefix(enum log_level level, char *out, size_t outsz);

/*
 * Status lines kept at the bottom of a terminal (--once's progress):
 * text is one or more lines separated by '\n' (no trailing one), each
 * cut to the terminal's width.  Each log line erases them, is written
 * and draws them again below it.  NULL or "" erases them for good.  The
 * caller decides that stderr is a terminal; text is copied, up to
 * LOG_STATUS_MAX - 1 bytes.
 */
#define LOG_STATUS_MAX 2048
void log_status_set(const char *text);

/* True when stderr is a terminal (not a file, a pipe or the journal),
 * where status lines can be drawn. */
bool log_is_terminal(void);

/*
 * Copies s[0..len) into out (outsz bytes, NUL-terminated when outsz > 0)
 * with what could forge a log line or drive a terminal escaped as \xNN,
 * byte by byte: control characters (U+0000-U+001F, U+007F, U+0080-U+009F),
 * U+2028 and U+2029, and bytes that are not valid UTF-8.  Valid UTF-8
 * stays readable; a backslash stays as it is, so escaping twice changes
 * nothing.  Output that does not fit is cut at a whole character or
 * escape.  Every log line goes through it; returns out.
 */
char *log_escape(const char *s, size_t len, char *out, size_t outsz);

/*
 * Copies one protocol line (len bytes, not NUL-terminated, CRLF optional)
 * into out (size outsz, always NUL-terminated), masking credentials:
 * IMAP "tag LOGIN user pass" and "tag AUTHENTICATE mech initial",
 * POP3 "PASS x" / "AUTH mech initial", SMTP "AUTH mech initial", and a
 * bare SASL continuation line when in_auth is true.  Control characters
 * and invalid UTF-8 are escaped as by log_escape().  Returns out.
 */
char *log_redact_line(const char *line, size_t len, bool in_auth,
		      char *out, size_t outsz);

#endif
