/*
 * cfg_int.h - helpers shared inside daemon/cfg/ (and by its unit tests):
 * the raw phase, the typed value parsers and path expansion.  Nothing
 * outside daemon/cfg/ and tests/unit/test_cfg*.c should include it.
 *
 * Value parsers take a NUL-terminated value and, on failure, return
 * MS_EINVAL and write the problem ("'x' is out of range") into why (size
 * whysz); the caller adds the key and the "(expected ...)" part.
 */
#ifndef MS_CFG_INT_H
#define MS_CFG_INT_H

#include "cfg/cfg.h"

/* ---- report ------------------------------------------------------------ */

/*
 * Adds "FILE:LINE: message" (or "FILE: message" when line is 0), with
 * control characters escaped (log_escape()).  Out of memory aborts, as
 * daemon code may (STYLE.md 4).
 */
void cfg__report_add(struct cfg_report *rep, const char *file, unsigned line,
		     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Orders problems by line, keeping the order of those on the same line. */
void cfg__report_sort(struct cfg_report *rep);

/* ---- phase 1: raw records ---------------------------------------------- */

struct cfg_raw_entry {
	char *key;
	char *value;
	unsigned line;
};

struct cfg_raw_section {
	char *name;		/* trimmed text between the brackets */
	unsigned line;		/* 0: keys before any section header */
	struct cfg_raw_entry *entries;
	size_t n;
	size_t cap;
};

struct cfg_raw {
	struct cfg_raw_section *sections;
	size_t n;
	size_t cap;
};

/* Longest line accepted, without its line end. */
#define CFG_LINE_MAX 1024
/* Largest config file read. */
#define CFG_FILE_MAX (1024 * 1024)

/*
 * Parses text with inih into raw (which the caller zero-initialises and
 * frees with cfg__raw_free()).  Syntax problems (a line that is neither
 * "key = value", "[section]" nor a comment; over-long lines; NUL bytes;
 * indented continuation lines) go to rep.  Returns MS_OK or MS_ECONFIG.
 */
int cfg__raw_parse(const char *file, const char *text, size_t len,
		   struct cfg_raw *raw, struct cfg_report *rep);
/* Frees raw's contents, zeroing every value (one may be a password). */
void cfg__raw_free(struct cfg_raw *raw);

/* Phase 2: see cfg_validate.c.  Returns MS_OK or MS_ECONFIG. */
int cfg__validate(const char *file, const struct cfg_raw *raw,
		  const struct cfg_env *env, struct cfg **cfg_r,
		  struct cfg_report *rep);

/* ---- value parsers (cfg_value.c) --------------------------------------- */

int cfg__value_port(const char *s, uint16_t *port_r, char *why, size_t whysz);
/* A group name or number that exists on this system, as its gid. */
int cfg__value_group(const char *s, gid_t *gid_r, char *why, size_t whysz);
int cfg__value_bool(const char *s, bool *b_r, char *why, size_t whysz);
/*
 * "30s", "5m", "1h", "2d", combinations such as "1h30m", or plain seconds.
 * The result is in seconds, from 1 up to CFG_DURATION_MAX.
 */
#define CFG_DURATION_MAX (366u * 24 * 3600)
int cfg__value_duration(const char *s, unsigned *secs_r, char *why,
			size_t whysz);
/* A whole number 0..max. */
int cfg__value_uint(const char *s, unsigned max, unsigned *n_r, char *why,
		    size_t whysz);
/* The index of s in the NULL-terminated names, exactly as spelled. */
int cfg__value_enum(const char *s, const char *const *names, int *idx_r,
		    char *why, size_t whysz);
/*
 * Items separated by commas and/or white space; "double quotes" keep an
 * item with spaces together (\" and \\ escape inside).  Empty items, such
 * as in "a,,b", are an error.
 */
int cfg__value_list(const char *s, struct cfg_list *list_r, char *why,
		    size_t whysz);
void cfg__list_free(struct cfg_list *list);
/* A host name or an IP address literal (IPv6 without brackets). */
int cfg__value_host(const char *s, char *why, size_t whysz);
/* True for localhost, 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool cfg__host_is_loopback(const char *host);
/* "sha256:" and 32 hex bytes, with or without colons between them. */
int cfg__value_fingerprint(const char *s, struct cfg_fingerprint *fp_r,
			   char *why, size_t whysz);
/* local@domain, no spaces or angle brackets. */
int cfg__value_address(const char *s, char *why, size_t whysz);
/* Letters, digits, '.', '_' and '-', not starting with '.' or '-'. */
int cfg__value_account_name(const char *s, char *why, size_t whysz);
/* Optimal string alignment distance, ASCII case-insensitive. */
unsigned cfg__edit_distance(const char *a, const char *b);

/* ---- paths (cfg_path.c) ------------------------------------------------ */

/*
 * Expands a leading "~" or "~/" (from HOME) and every $NAME or ${NAME}
 * ("$$" is a literal "$") and requires the result to be absolute.  An
 * unset or empty variable is an error naming it.  *out_r is malloc'd.
 */
int cfg__path_expand(const char *in, const struct cfg_env *env, char **out_r,
		     char *why, size_t whysz);
/*
 * The absolute path as the file system resolves it, to compare two paths
 * that need not exist yet: empty and "." components and a trailing "/"
 * go, symbolic links in the longest prefix that exists are resolved
 * (realpath), and ".." in the rest is resolved lexically (nothing there
 * can be a link).  Malloc'd; NULL when out of memory.
 */
char *cfg__path_canonical(const char *path);
/* The default store, a value to parse: $XDG_DATA_HOME/mailsync when that
 * is absolute, else ~/.local/share/mailsync. */
const char *cfg__store_default(const struct cfg_env *env);
/*
 * The default control socket: $XDG_RUNTIME_DIR/mailsync.sock; when that is
 * unset, /run/mailsync/mailsync.sock for root and STORE/run/mailsync.sock
 * for other users (/tmp/mailsync-UID/mailsync.sock without a store); the
 * daemon creates the directory 0700 and refuses one it does not own.
 * Malloc'd.
 */
char *cfg__socket_default(const struct cfg_env *env, const char *store);

/* malloc-or-abort helpers for daemon code. */
char *cfg__strdup(const char *s);
void *cfg__calloc(size_t n, size_t size);
void *cfg__reallocarray(void *p, size_t n, size_t size);
char *cfg__printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
