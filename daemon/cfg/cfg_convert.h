/*
 * cfg_convert.h - what the converters from other tools' configurations
 * (cfg_mbsync.h: ~/.mbsyncrc; cfg_offlineimap.h: ~/.offlineimaprc;
 * cfg_fetchmail.h: ~/.fetchmailrc)
 * share: their result (a mailsync configuration and a note for every
 * setting not translated as it was) and the writer that makes it, so
 * that every converter writes keys, folder lists and account names that
 * mailsync reads back the same way.  Pure: no file, no environment.
 * Out of memory aborts, as daemon code may.
 */
#ifndef MS_CFG_CONVERT_H
#define MS_CFG_CONVERT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ms.h"

/* Largest input a converter reads. */
#define CFG_CONVERT_MAX (1024 * 1024)

struct cfg_convert_note {
	unsigned line;		/* of the input; 0: the file as a whole */
	char *text;		/* "SSLVersions: not translated (...)" */
};

struct cfg_convert_result {
	char *ini;		/* the mailsync configuration, NUL-terminated */
	struct cfg_convert_note *notes;	/* in input line order */
	size_t n_notes;
	unsigned n_accounts;	/* [account] sections written */
};

void cfg_convert_result_free(struct cfg_convert_result *res);

/* The writer: the configuration being written and the notes. */
struct cfg_convert {
	struct ms_buf out;
	bool is_out_full;
	struct cfg_convert_note *notes;
	size_t n_notes;
	unsigned n_accounts;
};

/* Starts the output with a comment naming file and the tool it was for. */
void cfg_convert_init(struct cfg_convert *w, const char *file,
		      const char *tool);

void cfg_convert_note(struct cfg_convert *w, unsigned line,
		      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends text as it is (a comment, a fixed line). */
void cfg_convert_out(struct cfg_convert *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * "[account NAME]" and its protocol line.  name is made one mailsync
 * accepts (letters, digits, '.', '_', '-'; others become '-'), with a
 * note on line when it changed.
 */
void cfg_convert_account(struct cfg_convert *w, unsigned line,
			 const char *name, const char *protocol);

/*
 * "key = value", unless value is NULL; a value an INI line cannot hold
 * (a ';' after white space, a control character, white space at an
 * end) is left out with a note on line instead.
 */
void cfg_convert_key(struct cfg_convert *w, unsigned line, const char *key,
		     const char *value);

/* True when "key = value" reads back as value. */
bool cfg_convert_value_ok(const char *v);

/* The auth value of a SASL mechanism's name ("CRAM-MD5" ->
 * "cram-md5"), or NULL for one mailsync does not have. */
const char *cfg_convert_auth_name(const char *mech);

/* Appends name to *list (a folders value), quoted when it must be, once. */
void cfg_convert_folder_add(char **list, const char *name);

/*
 * Ends the writing into res_r (notes sorted by line, stably): MS_OK when
 * an account was written, else MS_ECONFIG with a note saying why.
 */
int cfg_convert_finish(struct cfg_convert *w, const char *tool,
		       struct cfg_convert_result *res_r);

/*
 * A converter's whole run: cfg_convert_init(w, file, tool), then
 * convert_cb(text, len, arg) unless text is larger than CFG_CONVERT_MAX
 * (a note), then cfg_convert_finish() into res_r, whose result it
 * returns.  w is the converter's writer, inside arg.
 */
int cfg_convert_run(struct cfg_convert *w, const char *file, const char *tool,
		    const char *text, size_t len,
		    void (*convert_cb)(const char *text, size_t len, void *arg),
		    void *arg, struct cfg_convert_result *res_r);

/*
 * The first line of text that is neither blank nor a comment (its first
 * character other than space, tab or CR is in comments): true with
 * *line_r at it and *n_r its length (without the line end).
 */
bool cfg_convert_first_line(const char *text, size_t len,
			    const char *comments, const char **line_r,
			    size_t *n_r);

#endif
