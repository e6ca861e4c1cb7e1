/*
 * maildir_name.h - Maildir file names: the flag letters of the ":2," info
 * suffix and unique names per the Maildir convention
 * (cr.yp.to/proto/maildir.html, with Dovecot's ",S=" and ",W=" style fields).
 *
 * A name we write looks like
 *
 *	<unique>[,U=<uid>],S=<size>[:2,<flags>]
 *
 * where <unique> is either generated, "<sec>.M<usec>P<pid>Q<n>.<host>", or a
 * stable id chosen by the caller (the store derives it from what it knows,
 * e.g. "<uidvalidity>-<uid>-<hash8>"), so the store can find its files
 * again from the name alone.  Fields after the first ',' are "X=value"
 * pairs; we read U= and S= and keep any others untouched inside the base.
 *
 * The info separator is ':' when we write; '!' (used where ':' is not
 * allowed in file names, e.g. mbsync's InfoDelimiter) is accepted when
 * reading and kept when a flag change renames the file.  Only "2," info is
 * understood; a name without it has no flags and its whole name is the base.
 */
#ifndef MS_MAILDIR_NAME_H
#define MS_MAILDIR_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/ms.h"

/*
 * Flags are a set of ASCII letters: bit (c - 'A') for 'A'..'Z', bit
 * 26 + (c - 'a') for 'a'..'z'.  Bit order is ASCII order, so writing the
 * bits from low to high gives the sorted suffix the convention asks for.
 * Lowercase letters are Dovecot keywords (a = first keyword, ...); unknown
 * letters are kept, never dropped.
 */
typedef uint64_t maildir_flags_t;

/* One shift of a selected count: a shift in each arm of ?: would make
 * clang warn about the arm that is never taken (a negative count). */
#define MAILDIR_FLAG_BIT(c) \
	((maildir_flags_t)1 << ((c) >= 'a' ? 26 + (c) - 'a' : (c) - 'A'))
#define MAILDIR_FLAG_DRAFT	MAILDIR_FLAG_BIT('D')	/* \Draft */
#define MAILDIR_FLAG_FLAGGED	MAILDIR_FLAG_BIT('F')	/* \Flagged */
#define MAILDIR_FLAG_PASSED	MAILDIR_FLAG_BIT('P')	/* $Forwarded */
#define MAILDIR_FLAG_REPLIED	MAILDIR_FLAG_BIT('R')	/* \Answered */
#define MAILDIR_FLAG_SEEN	MAILDIR_FLAG_BIT('S')	/* \Seen */
#define MAILDIR_FLAG_TRASHED	MAILDIR_FLAG_BIT('T')	/* \Deleted */
#define MAILDIR_FLAGS_SYSTEM \
	(MAILDIR_FLAG_DRAFT | MAILDIR_FLAG_FLAGGED | MAILDIR_FLAG_PASSED | \
	 MAILDIR_FLAG_REPLIED | MAILDIR_FLAG_SEEN | MAILDIR_FLAG_TRASHED)
#define MAILDIR_FLAGS_KEYWORDS	((maildir_flags_t)0x3ffffff << 26)

/*
 * The IMAP flag (ASCII case-insensitive, len bytes) that a letter stands
 * for: "\Draft" D, "\Flagged" F, "$Forwarded" P, "\Answered" R,
 * "\Seen" S, "\Deleted" T.  Returns the bit, or 0 for any other flag
 * (keywords are mapped to letters a-z by the caller, as Dovecot's
 * dovecot-keywords file does, if at all).
 */
maildir_flags_t maildir_flag_from_imap(const char *flag, size_t len);
/* The IMAP name of one system flag bit, or NULL. */
const char *maildir_flag_to_imap(maildir_flags_t bit);

/* Longest flag string: 52 letters plus NUL. */
#define MAILDIR_FLAGS_STRMAX 53

/*
 * Writes the letters of flags, sorted, NUL-terminated, into out (at least
 * MAILDIR_FLAGS_STRMAX bytes).  Returns the number of letters.
 */
size_t maildir_flags_format(maildir_flags_t flags, char *out);
/*
 * Parses flag letters.  Letters are collected (duplicates collapse); any
 * other byte is ignored and counted in *ignored_r (may be NULL).
 */
maildir_flags_t maildir_flags_parse(const char *s, size_t len, size_t *ignored_r);

/*
 * A decimal number of at most 32 bits at *pp (before end) into *v_r, *pp
 * moved past it; false (nothing moved) when there is no digit or it is
 * larger.
 */
bool maildir_parse_u32(const char **pp, const char *end, uint32_t *v_r);

/* What maildir_name_parse() found.  Slices point into the parsed name. */
struct maildir_name_info {
	struct ms_slice base;	/* everything before the info separator */
	struct ms_slice unique;	/* base up to its first ',' */
	char sep;		/* ':' or '!' before "2,", or 0 if no info */
	maildir_flags_t flags;
	bool has_size;		/* a valid S=<decimal> field was present */
	bool has_uid;		/* a valid U=<decimal> field was present */
	uint64_t size;
	uint32_t uid;
};

/*
 * Parses a file name (len bytes, need not be NUL-terminated).  Returns
 * MS_OK, or MS_EINVAL for something that cannot be a message file name:
 * empty, longer than 255 bytes, starting with '.', or holding '/' or NUL.
 * Malformed S=/U= fields are ignored (has_size/has_uid stay false).
 */
int maildir_name_parse(const char *name, size_t len,
		       struct maildir_name_info *info_r) MS_WUR;

/*
 * Builds "<base><sep>2,<flags>" into out (outsz bytes, NUL-terminated):
 * the name of the same message with other flags.  sep 0 means ':'.
 * Returns the length, or MS_ETOOBIG.
 */
int maildir_name_with_flags(struct ms_slice base, char sep,
			    maildir_flags_t flags, char *out, size_t outsz) MS_WUR;

/* Longest name we build (NAME_MAX). */
#define MAILDIR_NAME_MAX 255

/*
 * State for generated unique names: the host part (escaped once) and the
 * per-process counter.  One per process is enough; it is not thread-safe.
 */
struct maildir_namegen {
	char host[128];		/* hostname with '/' -> \057, ':' -> \072 */
	pid_t pid;		/* refreshed after fork() */
	uint64_t counter;
};

/* Takes the hostname (read once per process); after fork() the next name
 * notices the new pid. */
void maildir_namegen_init(struct maildir_namegen *g);

/* What goes into a new name. */
struct maildir_name_params {
	/*
	 * Stable unique part chosen by the caller, or NULL for a generated
	 * one.  Allowed bytes: [A-Za-z0-9._-], not starting with '.'; the
	 * caller guarantees uniqueness within the folder.
	 */
	const char *id;
	uint32_t uid;		/* 0: no U= field */
	bool has_size;		/* write S=<size> */
	uint64_t size;		/* message size in bytes, as stored */
	bool has_info;		/* write ":2,<flags>" (files in cur/) */
	maildir_flags_t flags;
};

/*
 * Builds a new name into out (outsz bytes, NUL-terminated; MAILDIR_NAME_MAX
 * + 1 is always enough).  g may be NULL only when p->id is set.  Returns
 * the length, MS_EINVAL for a bad id, or MS_ETOOBIG.
 */
int maildir_name_new(struct maildir_namegen *g,
		     const struct maildir_name_params *p,
		     char *out, size_t outsz) MS_WUR;

/*
 * Module-internal: like maildir_name_new() with the unique part given as
 * is (p->id is ignored); the writer uses it to keep its tmp/ name.
 */
int maildir_name__build(const char *unique, const struct maildir_name_params *p,
			char *out, size_t outsz) MS_WUR;

#endif
