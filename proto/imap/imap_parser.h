/*
 * imap_parser.h - incremental, bounded parser of IMAP server responses
 * (RFC 3501, with the RFC 9051, CONDSTORE/QRESYNC, ESEARCH, LIST-EXTENDED,
 * UIDPLUS, BINARY, OBJECTID and NOTIFY additions).  Sans-I/O: bytes in, typed
 * events out (STYLE.md 3).
 *
 * Usage:
 *
 *	imap_parser_init(&p, NULL);
 *	for each chunk read from the connection:
 *		off = 0;
 *		do {
 *			rc = imap_parser_feed(&p, buf + off, len - off, &n);
 *			off += n;
 *			while (imap_parser_next_event(&p, &ev) == MS_OK)
 *				handle(&ev);
 *		} while (rc == MS_OK);
 *		if (rc < 0) give up (an IMAP_EV_ERROR event said why);
 *
 * Feed stops as soon as it has events to hand out, so it may consume less
 * than it was given; feed the rest after draining the events.  While
 * events are pending, feed consumes nothing.
 *
 * Lifetimes: every slice in an event points either into the parser's own
 * response buffer or (for IMAP_EV_LITERAL_CHUNK) into the bytes the caller
 * passed to the last feed.  Both stay valid until the next feed call (the
 * caller must also keep its own bytes until then).  Copy what you keep.
 *
 * Message bodies (FETCH BODY[...], BINARY[...], RFC822*) sent as literals
 * are streamed: IMAP_EV_FETCH_BODY announces the section and total size,
 * then IMAP_EV_LITERAL_CHUNK events carry the bytes as they arrive, and the
 * IMAP_EV_FETCH event for the whole response comes last.  The parser never
 * holds a body; small bodies sent as quoted strings or NIL produce the same
 * event shape (announced when the FETCH response is complete).
 *
 * Errors: a malformed response or an exceeded limit produces one
 * IMAP_EV_ERROR event with a message naming the problem and the stream
 * offset of the offending line; feed returns the negative code then and on
 * every later call.
 */
#ifndef IMAP_PARSER_H
#define IMAP_PARSER_H

#include "common/ms.h"
#include "imap/imap_seqset.h"

/* Limits; imap_parser_params_default() fills sensible values. */
struct imap_parser_params {
	size_t max_line;	/* one line, outside literals */
	size_t max_response;	/* all buffered bytes of one response */
	uint64_t max_literal;	/* any literal, streamed or not */
	size_t max_inline_literal;	/* a literal that is not a body */
	unsigned max_depth;	/* parenthesis nesting */
	size_t max_list_items;	/* items in one list (or at top level) */
	bool expect_greeting;	/* first response must be OK/PREAUTH/BYE */
};

void imap_parser_params_default(struct imap_parser_params *params);

enum imap_ev_type {
	IMAP_EV_ERROR = 1,	/* ev.error; the parser is dead now */
	IMAP_EV_GREETING,	/* ev.status (untagged OK/PREAUTH/BYE) */
	IMAP_EV_TAGGED,		/* ev.status with tag set */
	IMAP_EV_UNTAGGED_STATUS,	/* ev.status: * OK/NO/BAD/BYE/PREAUTH */
	IMAP_EV_CONTINUATION,	/* ev.text: "+ text" */
	IMAP_EV_CAPABILITY,	/* ev.list: space-separated atoms */
	IMAP_EV_ENABLED,	/* ev.list */
	IMAP_EV_FLAGS,		/* ev.list: flags inside the parentheses */
	IMAP_EV_EXISTS,		/* ev.num */
	IMAP_EV_RECENT,		/* ev.num */
	IMAP_EV_EXPUNGE,	/* ev.num */
	IMAP_EV_VANISHED,	/* ev.vanished */
	IMAP_EV_LIST,		/* ev.list_resp (LIST and LSUB) */
	IMAP_EV_STATUS,		/* ev.status_resp */
	IMAP_EV_SEARCH,		/* ev.search */
	IMAP_EV_ESEARCH,	/* ev.esearch */
	IMAP_EV_NAMESPACE,	/* ev.namespace */
	IMAP_EV_ID,		/* ev.raw: the parameter list or NIL */
	IMAP_EV_FETCH_BODY,	/* ev.body: a body item starts */
	IMAP_EV_LITERAL_CHUNK,	/* ev.chunk: bytes of the announced body */
	IMAP_EV_FETCH,		/* ev.fetch: one FETCH response, complete */
	IMAP_EV_UNTAGGED_OTHER,	/* ev.other: an untagged response we skip */
};

enum imap_status {
	IMAP_STATUS_OK = 1,
	IMAP_STATUS_NO,
	IMAP_STATUS_BAD,
	IMAP_STATUS_PREAUTH,
	IMAP_STATUS_BYE,
};

enum imap_code {
	IMAP_CODE_NONE = 0,
	IMAP_CODE_OTHER,	/* unknown: name and args passed through */
	IMAP_CODE_ALERT,
	IMAP_CODE_CAPABILITY,	/* list */
	IMAP_CODE_PERMANENTFLAGS,	/* list (inside the parentheses) */
	IMAP_CODE_UIDVALIDITY,	/* num */
	IMAP_CODE_UIDNEXT,	/* num */
	IMAP_CODE_UNSEEN,	/* num */
	IMAP_CODE_HIGHESTMODSEQ,	/* num */
	IMAP_CODE_NOMODSEQ,
	IMAP_CODE_MODIFIED,	/* set1 */
	IMAP_CODE_APPENDUID,	/* uidvalidity, set1 (uid or uid-set) */
	IMAP_CODE_COPYUID,	/* uidvalidity, set1 (source), set2 (dest) */
	IMAP_CODE_CLOSED,
	IMAP_CODE_TRYCREATE,
	IMAP_CODE_READ_ONLY,
	IMAP_CODE_READ_WRITE,
	IMAP_CODE_NONEXISTENT,
	IMAP_CODE_ALREADYEXISTS,
	IMAP_CODE_PARSE,
	/* RFC 5465 NOTIFY: the server dropped notifications (resync) */
	IMAP_CODE_NOTIFICATIONOVERFLOW,
	IMAP_CODE_BADEVENT,	/* list: the event names it refused */
};

struct imap_resp_code {
	enum imap_code code;
	struct ms_slice name;	/* as sent, e.g. "COPYUID" */
	struct ms_slice args;	/* raw text after the name, up to "]" */
	/* UIDVALIDITY, UIDNEXT, UNSEEN (as sent: past 32 bits is the
	 * server's fault, for the caller to judge), HIGHESTMODSEQ */
	uint64_t num;
	uint32_t uidvalidity;
	struct ms_slice list;
	struct ms_slice set1, set2;	/* walk with imap_seqset_iter */
};

struct imap_ev_status {
	enum imap_status status;
	struct ms_slice tag;	/* empty unless IMAP_EV_TAGGED */
	struct imap_resp_code code;
	struct ms_slice text;
};

struct imap_ev_vanished {
	bool earlier;
	struct ms_slice set;	/* UID set */
};

struct imap_ev_list {
	bool is_lsub;
	struct ms_slice attrs;	/* atoms, e.g. "\HasNoChildren \Sent" */
	uint8_t delim;		/* 0 for NIL */
	struct ms_slice name;	/* as sent (modified UTF-7), unescaped */
	bool childinfo_subscribed;	/* CHILDINFO ("SUBSCRIBED") */
	bool has_oldname;
	struct ms_slice oldname;
};

/* Bits of imap_ev_status_data.has */
#define IMAP_STATUS_HAS_MESSAGES	(1u << 0)
#define IMAP_STATUS_HAS_UIDNEXT		(1u << 1)
#define IMAP_STATUS_HAS_UIDVALIDITY	(1u << 2)
#define IMAP_STATUS_HAS_UNSEEN		(1u << 3)
#define IMAP_STATUS_HAS_HIGHESTMODSEQ	(1u << 4)
#define IMAP_STATUS_HAS_SIZE		(1u << 5)
#define IMAP_STATUS_HAS_RECENT		(1u << 6)

struct imap_ev_status_data {
	struct ms_slice mailbox;	/* as sent (modified UTF-7) */
	unsigned has;
	/* IMAP_STATUS_HAS_* of 32-bit items the server gave a larger
	 * number (a server fault the caller reports; not in has, the value
	 * is in out_of_range) */
	unsigned bad;
	uint64_t out_of_range;
	uint32_t messages, uidnext, uidvalidity, unseen, recent;
	uint64_t highestmodseq, size;
	/* The response does not follow the grammar (an unquoted name with
	 * spaces, HIGHESTMODSEQ NIL): a server fault confined to one
	 * folder, not the connection's.  Nothing above is set (mailbox
	 * empty, has 0); raw is the whole response after "STATUS ". */
	bool is_malformed;
	struct ms_slice raw;
};

struct imap_ev_search {
	struct ms_slice nums;	/* "1 2 3": walk with imap_numlist_next */
	bool has_modseq;
	uint64_t modseq;
};

#define IMAP_ESEARCH_HAS_MIN	(1u << 0)
#define IMAP_ESEARCH_HAS_MAX	(1u << 1)
#define IMAP_ESEARCH_HAS_COUNT	(1u << 2)
#define IMAP_ESEARCH_HAS_ALL	(1u << 3)
#define IMAP_ESEARCH_HAS_MODSEQ	(1u << 4)

struct imap_ev_esearch {
	struct ms_slice tag;	/* the correlator, empty if none */
	bool is_uid;
	unsigned has;
	uint32_t min, max, count;
	uint64_t modseq;
	struct ms_slice all;	/* a sequence set */
};

struct imap_ev_namespace {
	/* Raw text of each part: "((\"\" \"/\"))" or "NIL". */
	struct ms_slice personal, other, shared;
	/* The first personal namespace, the one a client usually needs. */
	bool has_personal;
	struct ms_slice personal_prefix;
	uint8_t personal_delim;	/* 0 for NIL */
};

/* Bits of imap_ev_fetch.has */
#define IMAP_FETCH_HAS_UID		(1u << 0)
#define IMAP_FETCH_HAS_FLAGS		(1u << 1)
#define IMAP_FETCH_HAS_INTERNALDATE	(1u << 2)
#define IMAP_FETCH_HAS_RFC822_SIZE	(1u << 3)
#define IMAP_FETCH_HAS_MODSEQ		(1u << 4)
#define IMAP_FETCH_HAS_ENVELOPE		(1u << 5)
#define IMAP_FETCH_HAS_BODYSTRUCTURE	(1u << 6)
#define IMAP_FETCH_HAS_EMAILID		(1u << 7)
#define IMAP_FETCH_HAS_THREADID		(1u << 8)

struct imap_ev_fetch {
	uint32_t seq;
	unsigned has;
	uint32_t uid;
	struct ms_slice flags;	/* atoms inside the parentheses */
	struct ms_slice internaldate;	/* "17-Jul-1996 02:44:25 -0700" */
	uint64_t rfc822_size;
	uint64_t modseq;
	struct ms_slice envelope;	/* raw, including the parentheses */
	struct ms_slice bodystructure;	/* raw, including the parentheses */
	struct ms_slice emailid, threadid;	/* threadid empty for NIL */
	unsigned n_bodies;	/* body items announced for this response */
};

struct imap_ev_fetch_body {
	uint32_t seq;
	uint32_t uid;		/* 0 unless UID came before the body item */
	struct ms_slice item;	/* the whole item name, "BODY[1.MIME]<0>" */
	struct ms_slice section;	/* in the brackets; empty: RFC822 */
	bool has_origin;
	uint32_t origin;
	bool is_binary;		/* BINARY[...] or a literal8 */
	bool is_nil;		/* NIL: no chunks follow */
	uint64_t size;		/* total bytes the chunks will carry */
};

struct imap_ev_literal_chunk {
	struct ms_slice data;
	uint64_t offset;	/* of data within the body */
	bool is_last;
};

struct imap_ev_other {
	struct ms_slice name;	/* e.g. "THREAD", or "123 FOO" for numbered */
	struct ms_slice raw;	/* the rest of the response */
};

struct imap_ev_error {
	int code;		/* MS_EPROTO or MS_ETOOBIG or MS_ENOMEM */
	const char *msg;
	uint64_t offset;	/* stream offset of the offending line */
};

struct imap_event {
	enum imap_ev_type type;
	union {
		struct imap_ev_error error;
		struct imap_ev_status status;
		struct ms_slice text;
		struct ms_slice list;
		struct ms_slice raw;
		uint32_t num;
		struct imap_ev_vanished vanished;
		struct imap_ev_list list_resp;
		struct imap_ev_status_data status_resp;
		struct imap_ev_search search;
		struct imap_ev_esearch esearch;
		struct imap_ev_namespace namespace_resp;
		struct imap_ev_fetch_body body;
		struct imap_ev_literal_chunk chunk;
		struct imap_ev_fetch fetch;
		struct imap_ev_other other;
	} u;
};

struct imap_tok;

/* Caller-owned; treat the fields as private. */
struct imap_parser {
	struct imap_parser_params params;
	int state;		/* enum imap_parser_state in imap_parser.c */
	struct ms_buf buf;	/* the response being assembled (owned) */
	size_t seg_start;	/* current line's start in buf */
	bool resp_started, resp_done, greeted;
	int kind;		/* which untagged data is being collected */
	uint32_t resp_num;	/* "* <num> FETCH" */
	size_t name_off, name_len;	/* response name in buf */
	struct imap_tok *toks;	/* tokens of this response (owned) */
	size_t ntoks, toks_cap;
	unsigned depth;
	size_t *counts;		/* items per open list, max_depth + 1 */
	size_t *open_tok;	/* token index of each open "(" */
	uint64_t lit_size, lit_left;
	bool lit_is8;
	uint32_t fetch_uid;	/* UID seen so far in this FETCH */
	struct imap_event *evq;	/* pending events (owned) */
	size_t evq_len, evq_head, evq_cap;
	uint64_t stream_off;	/* bytes consumed in total */
	uint64_t line_off;	/* stream offset of the current line */
	struct ms_err err;
};

/* Sets up p; params may be NULL for defaults.  Returns MS_OK or MS_ENOMEM. */
int imap_parser_init(struct imap_parser *p,
    const struct imap_parser_params *params) MS_WUR;
void imap_parser_deinit(struct imap_parser *p);

/*
 * Parses up to len bytes of server output.  *consumed_r tells how many
 * bytes were used.  Returns MS_OK when events are ready (drain them with
 * imap_parser_next_event, then feed the rest), MS_AGAIN when all input was
 * consumed and more is needed, or a negative MS_E* code on error.
 */
int imap_parser_feed(struct imap_parser *p, const uint8_t *data, size_t len,
    size_t *consumed_r) MS_WUR;

/* Stores the next event in *ev and returns MS_OK, or returns MS_AGAIN. */
int imap_parser_next_event(struct imap_parser *p, struct imap_event *ev);

/*
 * Drops any unfinished response and undelivered events, and makes the
 * parser refuse input until imap_parser_resume() (imap_client uses it
 * around STARTTLS).  Slices of the event just delivered stay valid until
 * the next feed.  Returns the number of bytes of an unfinished response
 * that were dropped.
 */
size_t imap_parser_hold(struct imap_parser *p);
void imap_parser_resume(struct imap_parser *p);

/* Returns a static name for an event type ("FETCH"). */
const char *imap_ev_type_name(enum imap_ev_type type);

/*
 * Walks space-separated items of a list slice (capabilities, flags, SEARCH
 * numbers): stores the next item in *item_r and returns true, or returns
 * false at the end.  *cursor is advanced.
 */
bool imap_list_next(struct ms_slice *cursor, struct ms_slice *item_r);

/* Like imap_list_next for numbers; returns MS_OK, MS_AGAIN at the end, or
 * MS_EPROTO for a non-number. */
int imap_numlist_next(struct ms_slice *cursor, uint32_t *num_r) MS_WUR;

/* Returns true if the space-separated list contains word (ASCII case-
 * insensitively), e.g. imap_list_has(caps, "IDLE"). */
bool imap_list_has(struct ms_slice list, const char *word);

/* Returns true if the response code's name is one of the space-separated
 * names (ASCII case-insensitively), e.g.
 * imap_code_is_any(&st->code, "INUSE UNAVAILABLE"). */
bool imap_code_is_any(const struct imap_resp_code *code, const char *names);

/*
 * Appends a canonical one-line text form of ev to out (used by tests and
 * protocol traces): every field, slices escaped, so two event sequences
 * compare equal exactly when the events do.
 */
int imap_event_format(const struct imap_event *ev, struct ms_buf *out) MS_WUR;

#endif
