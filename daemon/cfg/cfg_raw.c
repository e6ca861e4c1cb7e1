/*
 * cfg_raw.c - phase 1 of reading the config: inih splits lines into
 * sections and "key = value" pairs, and the handler only records them with
 * their line numbers.  Types and rules are phase 2's business.
 *
 * inih (Debian's build) passes neither line numbers nor empty sections to
 * the handler, reports only the first bad line, silently truncates section
 * names, and cannot take lines over 200 bytes.  So inih reads through our
 * own reader, which sees every line first: it counts lines, records section
 * headers itself (names are never truncated and empty sections are seen),
 * notices lines inih rejects (the handler is not called for them), and
 * hands inih long "key = value" lines with the value set aside.
 */
#include "cfg/cfg_int.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cfg_raw_kind {
	CFG_RAW_BLANK,		/* empty or a comment */
	CFG_RAW_SECTION,	/* a complete "[...]" header */
	CFG_RAW_CONTINUATION,	/* indented line after a key */
	CFG_RAW_PAIR,		/* anything else: must be key = value */
};

struct cfg_raw_ctx {
	const char *file;
	const char *text;
	size_t len;
	size_t pos;
	unsigned lineno;
	struct cfg_raw *raw;
	struct cfg_report *rep;
	struct cfg_raw_section *cur;	/* NULL before the first header */
	enum cfg_raw_kind kind;		/* of the line inih is parsing */
	bool handler_called;		/* for the current line */
	bool after_key;			/* inih's "prev_name" is set */
	char *long_value;		/* value of an over-long line */
	bool is_bad;
};

static bool
cfg_raw_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static struct cfg_raw_section *
cfg_raw_section_add(struct cfg_raw *raw, const char *name, size_t namelen,
		    unsigned line)
{
	struct cfg_raw_section *sec;

	if (raw->n == raw->cap) {
		raw->cap = raw->cap ? raw->cap * 2 : 8;
		raw->sections = cfg__reallocarray(raw->sections, raw->cap,
						  sizeof(*raw->sections));
	}
	sec = &raw->sections[raw->n++];
	memset(sec, 0, sizeof(*sec));
	sec->name = cfg__calloc(1, namelen + 1);
	memcpy(sec->name, name, namelen);
	sec->line = line;
	return sec;
}

static void
cfg_raw_entry_add(struct cfg_raw_section *sec, const char *key,
		  const char *value, unsigned line)
{
	struct cfg_raw_entry *e;

	if (sec->n == sec->cap) {
		sec->cap = sec->cap ? sec->cap * 2 : 16;
		sec->entries = cfg__reallocarray(sec->entries, sec->cap,
						 sizeof(*sec->entries));
	}
	e = &sec->entries[sec->n++];
	e->key = cfg__strdup(key);
	e->value = cfg__strdup(value);
	e->line = line;
}

/*
 * The value inih would extract from a "key = value" line: after the first
 * '=' or ':', cut at an inline ";" comment (one preceded by white space),
 * trimmed on both sides.  Used only for lines too long to hand to inih.
 */
static char *
cfg_raw_value_of(const char *line, size_t len, size_t sep)
{
	size_t b = sep + 1, e;

	for (e = b; e < len; e++)
		if (line[e] == ';' && e > b && cfg_raw_is_space(line[e - 1]))
			break;
	while (b < e && cfg_raw_is_space(line[b]))
		b++;
	while (e > b && cfg_raw_is_space(line[e - 1]))
		e--;
	return cfg__printf("%.*s", (int)(e - b), line + b);
}

/* Reports a line for which inih did not call the handler (it rejected it). */
static void
cfg_raw_check_previous(struct cfg_raw_ctx *ctx)
{
	if (ctx->lineno == 0 || ctx->handler_called)
		return;
	if (ctx->kind == CFG_RAW_PAIR) {
		cfg__report_add(ctx->rep, ctx->file, ctx->lineno,
				"not a setting (expected 'key = value', "
				"'[section]' or a comment)");
		ctx->is_bad = true;
	}
	ctx->handler_called = true;	/* report each line once */
}

/* Classifies the line as inih will, and records section headers. */
static enum cfg_raw_kind
cfg_raw_classify(struct cfg_raw_ctx *ctx, const char *line, size_t len)
{
	size_t i = 0, close;

	while (i < len && cfg_raw_is_space(line[i]))
		i++;
	if (i == len || line[i] == ';' || line[i] == '#')
		return CFG_RAW_BLANK;
	if (i > 0 && ctx->after_key)
		return CFG_RAW_CONTINUATION;
	if (line[i] != '[')
		return CFG_RAW_PAIR;
	/* inih looks for ']' but stops at an inline comment. */
	for (close = i + 1; close < len; close++) {
		if (line[close] == ']')
			break;
		if (line[close] == ';' && cfg_raw_is_space(line[close - 1])) {
			close = len;
			break;
		}
	}
	if (close >= len) {
		cfg__report_add(ctx->rep, ctx->file, ctx->lineno,
				"section header without ']' (expected "
				"[general] or [account NAME])");
		ctx->is_bad = true;
		return CFG_RAW_BLANK;
	}
	i++;
	while (i < close && cfg_raw_is_space(line[i]))
		i++;
	while (close > i && cfg_raw_is_space(line[close - 1]))
		close--;
	ctx->cur = cfg_raw_section_add(ctx->raw, line + i, close - i,
				       ctx->lineno);
	ctx->after_key = false;
	return CFG_RAW_SECTION;
}

/* Gives inih a line that stands for a blank one. */
static char *
cfg_raw_blank(char *str)
{
	str[0] = '\n';
	str[1] = '\0';
	return str;
}

/*
 * ini_reader: copies the next line into str (num bytes).  Problems with the
 * line itself are reported here and inih sees a blank line instead.
 */
static char *
cfg_raw_reader(char *str, int num, void *stream)
{
	struct cfg_raw_ctx *ctx = stream;
	const char *line, *nl;
	size_t len, next, room = (size_t)num - 2;	/* '\n' and NUL */

	cfg_raw_check_previous(ctx);
	if (ctx->pos >= ctx->len || num < 8)
		return NULL;
	line = ctx->text + ctx->pos;
	nl = memchr(line, '\n', ctx->len - ctx->pos);
	len = nl ? (size_t)(nl - line) : ctx->len - ctx->pos;
	next = ctx->pos + len + (nl ? 1 : 0);
	ctx->pos = next;
	ctx->lineno++;
	ctx->handler_called = false;
	ctx->kind = CFG_RAW_BLANK;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* inih skips a UTF-8 byte order mark on line 1; do it first. */
	if (ctx->lineno == 1 && len >= 3 &&
	    memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		len -= 3;
	}
	if (memchr(line, '\0', len) != NULL) {
		cfg__report_add(ctx->rep, ctx->file, ctx->lineno,
				"contains a NUL byte (expected text)");
		ctx->is_bad = true;
		return cfg_raw_blank(str);
	}
	if (len > CFG_LINE_MAX) {
		cfg__report_add(ctx->rep, ctx->file, ctx->lineno,
				"line is longer than %d characters",
				CFG_LINE_MAX);
		ctx->is_bad = true;
		return cfg_raw_blank(str);
	}
	ctx->kind = cfg_raw_classify(ctx, line, len);
	if (ctx->kind == CFG_RAW_SECTION || ctx->kind == CFG_RAW_BLANK)
		return cfg_raw_blank(str);
	if (len > room) {
		/* Hand inih the key only; the handler takes our value. */
		size_t sep = 0;

		while (sep < len && line[sep] != '=' && line[sep] != ':')
			sep++;

		if (ctx->kind == CFG_RAW_PAIR && sep >= len) {
			/* No '=': inih would reject it; say so as for a
			 * short line. */
			return cfg_raw_blank(str);
		}
		if (ctx->kind != CFG_RAW_PAIR || sep + 1 > room) {
			cfg__report_add(ctx->rep, ctx->file, ctx->lineno,
					"line is too long to parse");
			ctx->is_bad = true;
			ctx->kind = CFG_RAW_BLANK;
			return cfg_raw_blank(str);
		}
		free(ctx->long_value);
		ctx->long_value = cfg_raw_value_of(line, len, sep);
		memcpy(str, line, sep + 1);
		str[sep + 1] = '\n';
		str[sep + 2] = '\0';
		return str;
	}
	memcpy(str, line, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static const char *
cfg_raw_section_label(const struct cfg_raw_ctx *ctx)
{
	return ctx->cur ? ctx->cur->name : "";
}

/* ini_handler: records one pair.  Always returns 1; problems are ours. */
static int
cfg_raw_handler(void *user, const char *section, const char *name,
		const char *value)
{
	struct cfg_raw_ctx *ctx = user;
	struct cfg_raw_section *sec;

	(void)section;	/* ours is never truncated (file comment) */
	ctx->handler_called = true;
	if (ctx->kind == CFG_RAW_CONTINUATION) {
		cfg__report_add(ctx->rep, ctx->file, ctx->lineno,
				"[%s] %s: indented line continues the previous "
				"value (expected 'key = value' at the start of "
				"the line)", cfg_raw_section_label(ctx), name);
		ctx->is_bad = true;
		return 1;
	}
	ctx->after_key = true;
	if (ctx->long_value != NULL) {
		value = ctx->long_value;
	}
	if (name[0] == '\0') {
		cfg__report_add(ctx->rep, ctx->file, ctx->lineno,
				"missing key name before '=' (expected "
				"'key = value')");
		ctx->is_bad = true;
	} else {
		sec = ctx->cur;
		if (sec == NULL) {
			/* Keys before any header go to a section of their
			 * own (line 0) that validation reports. */
			if (ctx->raw->n == 0 || ctx->raw->sections[0].line)
				cfg_raw_section_add(ctx->raw, "", 0, 0);
			sec = &ctx->raw->sections[0];
		}
		cfg_raw_entry_add(sec, name, value, ctx->lineno);
	}
	if (ctx->long_value != NULL) {
		explicit_bzero(ctx->long_value, strlen(ctx->long_value));
		free(ctx->long_value);
		ctx->long_value = NULL;
	}
	return 1;
}

int
cfg__raw_parse(const char *file, const char *text, size_t len,
	       struct cfg_raw *raw, struct cfg_report *rep)
{
	struct cfg_raw_ctx ctx = {
		.file = file, .text = text, .len = len, .raw = raw, .rep = rep,
	};
	int rc;

	rc = ini_parse_stream(cfg_raw_reader, &ctx, cfg_raw_handler, &ctx);
	/* The reader reports the last line only when asked for another. */
	cfg_raw_check_previous(&ctx);
	free(ctx.long_value);
	if (rc < 0) {
		cfg__report_add(rep, file, 0, "inih failed to parse (%d)", rc);
		return MS_ECONFIG;
	}
	return ctx.is_bad ? MS_ECONFIG : MS_OK;
}

void
cfg__raw_free(struct cfg_raw *raw)
{
	for (size_t i = 0; i < raw->n; i++) {
		struct cfg_raw_section *sec = &raw->sections[i];

		for (size_t j = 0; j < sec->n; j++) {
			explicit_bzero(sec->entries[j].value,
				       strlen(sec->entries[j].value));
			free(sec->entries[j].value);
			free(sec->entries[j].key);
		}
		free(sec->entries);
		free(sec->name);
	}
	free(raw->sections);
	memset(raw, 0, sizeof(*raw));
}
