/*
 * imap_cmd.h - IMAP command builders.  Each appends one complete command
 * to the client's output buffer (imap_client.h) and returns the tag number
 * it assigned (> 0; IMAP_EV_TAGGED carries it as "A<n>"), or a negative
 * MS_E* code, in which case nothing was appended.
 *
 * Strings are quoted as needed: an atom when possible, a quoted string
 * when it is short and plain, otherwise a literal (non-synchronising
 * with LITERAL+, or with LITERAL- up to 4096 bytes; synchronising
 * otherwise, see imap_client.h).  Mailbox names are UTF-8 and are sent in
 * modified UTF-7; invalid UTF-8 gives MS_EINVAL.  Sets are sequence-set
 * text (see imap_seqset_format, which also splits long sets); an invalid
 * set gives MS_EINVAL.  A command line longer than max_cmd_line (literal
 * bytes excluded) gives MS_ETOOBIG.  Builders never keep pointers to their
 * arguments.
 */
#ifndef IMAP_CMD_H
#define IMAP_CMD_H

#include "imap/imap_client.h"

int imap_cmd_capability(struct imap_client *c) MS_WUR;
int imap_cmd_noop(struct imap_client *c) MS_WUR;
int imap_cmd_logout(struct imap_client *c) MS_WUR;
int imap_cmd_namespace(struct imap_client *c) MS_WUR;
/* After its tagged OK the driver must switch to TLS (imap_client.h). */
int imap_cmd_starttls(struct imap_client *c) MS_WUR;
/* After its tagged OK the driver compresses both directions. */
int imap_cmd_compress_deflate(struct imap_client *c) MS_WUR;
int imap_cmd_unselect(struct imap_client *c) MS_WUR;

int imap_cmd_login(struct imap_client *c, struct ms_slice user,
    struct ms_slice pass) MS_WUR;

/*
 * AUTHENTICATE mech.  initial (base64, possibly empty, or p == NULL for
 * none) is sent inline when the server has SASL-IR; otherwise the driver
 * sends it after the first "+" with imap_cmd_sasl_response.
 */
int imap_cmd_authenticate(struct imap_client *c, const char *mech,
    struct ms_slice initial) MS_WUR;
/* One SASL response line (base64) after a "+"; returns MS_OK. */
int imap_cmd_sasl_response(struct imap_client *c, struct ms_slice b64) MS_WUR;
/* Cancels an exchange ("*"); returns MS_OK. */
int imap_cmd_sasl_cancel(struct imap_client *c) MS_WUR;

/* ENABLE with space-separated capability names, e.g. "QRESYNC". */
int imap_cmd_enable(struct imap_client *c, const char *caps) MS_WUR;

struct imap_select_opts {
	bool read_only;		/* EXAMINE */
	bool condstore;
	bool qresync;		/* needs uidvalidity and modseq */
	uint32_t uidvalidity;
	uint64_t modseq;
	struct ms_slice known_uids;	/* optional UID set */
};

int imap_cmd_select(struct imap_client *c, struct ms_slice mailbox,
    const struct imap_select_opts *opts) MS_WUR;

#define IMAP_LIST_RET_SPECIAL_USE	(1u << 0)
#define IMAP_LIST_RET_CHILDREN		(1u << 1)
#define IMAP_LIST_RET_SUBSCRIBED	(1u << 2)

/* Items for STATUS and LIST RETURN (STATUS (...)). */
#define IMAP_STATUS_MESSAGES		(1u << 0)
#define IMAP_STATUS_UIDNEXT		(1u << 1)
#define IMAP_STATUS_UIDVALIDITY		(1u << 2)
#define IMAP_STATUS_UNSEEN		(1u << 3)
#define IMAP_STATUS_HIGHESTMODSEQ	(1u << 4)
#define IMAP_STATUS_SIZE		(1u << 5)

/* LIST ref pattern [RETURN (...)]; status_items 0 for no STATUS. */
int imap_cmd_list(struct imap_client *c, struct ms_slice ref,
    struct ms_slice pattern, unsigned ret, unsigned status_items) MS_WUR;
int imap_cmd_status(struct imap_client *c, struct ms_slice mailbox,
    unsigned status_items) MS_WUR;

/* IDLE; then imap_cmd_idle_done (returns MS_OK) sends "DONE". */
/* CREATE mailbox (a UTF-8 name, sent in modified UTF-7). */
int imap_cmd_create(struct imap_client *c, struct ms_slice mailbox) MS_WUR;
int imap_cmd_idle(struct imap_client *c) MS_WUR;
int imap_cmd_idle_done(struct imap_client *c) MS_WUR;

/* NOTIFY (RFC 5465) events, for imap_cmd_notify_personal(). */
#define IMAP_NOTIFY_MESSAGE_NEW		(1u << 0)
#define IMAP_NOTIFY_MESSAGE_EXPUNGE	(1u << 1)
#define IMAP_NOTIFY_FLAG_CHANGE		(1u << 2)
#define IMAP_NOTIFY_MAILBOX_NAME	(1u << 3)
#define IMAP_NOTIFY_SUBSCRIPTION_CHANGE	(1u << 4)

/*
 * NOTIFY SET [STATUS] (personal (events)): the events of every mailbox in
 * the user's personal namespaces; with want_status the server first sends
 * a STATUS of each.  No event, or FlagChange without both MessageNew and
 * MessageExpunge (RFC 5465 section 5), gives MS_EINVAL.
 */
int imap_cmd_notify_personal(struct imap_client *c, bool want_status,
    unsigned events) MS_WUR;
/* NOTIFY NONE: no more notifications. */
int imap_cmd_notify_none(struct imap_client *c) MS_WUR;

/*
 * APPEND mailbox [(flags)] ["date"] literal.  flags is a space-separated
 * flag list or NULL, date an IMAP date-time or empty.  A message holding
 * a NUL byte cannot go in a literal (IMAP's CHAR8 excludes it): MS_EINVAL;
 * send it with imap_cmd_append_binary() where the server offers BINARY.
 */
int imap_cmd_append(struct imap_client *c, struct ms_slice mailbox,
    const char *flags, struct ms_slice date, struct ms_slice message) MS_WUR;
/*
 * The same with the message as a literal8 ("~{n}", or "~{n+}" where a
 * non-synchronising literal is allowed): RFC 3516 APPEND, for a server
 * that offers BINARY.  Any byte may be in it.
 */
int imap_cmd_append_binary(struct imap_client *c, struct ms_slice mailbox,
    const char *flags, struct ms_slice date, struct ms_slice message) MS_WUR;

/*
 * UID FETCH set (items) [(CHANGEDSINCE m [VANISHED])], items like
 * "UID FLAGS BODY.PEEK[]".  changedsince 0 leaves the modifier out.
 */
int imap_cmd_uid_fetch(struct imap_client *c, struct ms_slice set,
    const char *items, uint64_t changedsince, bool vanished) MS_WUR;

/* UID STORE set [(UNCHANGEDSINCE m)] op (flags); op like "+FLAGS.SILENT". */
int imap_cmd_uid_store(struct imap_client *c, struct ms_slice set,
    uint64_t unchangedsince, const char *op, const char *flags) MS_WUR;
int imap_cmd_uid_expunge(struct imap_client *c, struct ms_slice set) MS_WUR;
/* UID SEARCH [seqs] UID uids: the UIDs of the messages whose sequence
 * numbers are in seqs (empty: any) and whose UIDs are in uids. */
int imap_cmd_uid_search(struct imap_client *c, struct ms_slice seqs,
    struct ms_slice uids) MS_WUR;
/* UID SEARCH DELETED: the UIDs of the selected folder's messages marked
 * \Deleted. */
int imap_cmd_uid_search_deleted(struct imap_client *c) MS_WUR;
/* UID SEARCH HEADER field "value": the UIDs of the selected folder's
 * messages whose header field contains value (RFC 3501 6.4.4). */
int imap_cmd_uid_search_header(struct imap_client *c, struct ms_slice field,
    struct ms_slice value) MS_WUR;
int imap_cmd_uid_copy(struct imap_client *c, struct ms_slice set,
    struct ms_slice mailbox) MS_WUR;
int imap_cmd_uid_move(struct imap_client *c, struct ms_slice set,
    struct ms_slice mailbox) MS_WUR;

/* ID ("k" "v" ...), or ID NIL when n == 0; kv holds 2n C strings. */
int imap_cmd_id(struct imap_client *c, const char *const *kv, size_t n) MS_WUR;

#endif
