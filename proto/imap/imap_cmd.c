/*
 * imap_cmd.c - command builders.  A command is written straight into the
 * client's output buffer; if any step fails the buffer is cut back to
 * where the command began, so a half-built command is never sent.
 */
#include "imap/imap_cmd.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_client_int.h"
#include "imap/imap_utf7.h"

/* LITERAL- (RFC 7888) allows non-synchronising literals up to this size. */
#define IMAP_LITERAL_MINUS_MAX 4096
/* Longer strings go as literals even when they could be quoted. */
#define IMAP_QUOTED_MAX 1024

static int
imap_cmd_begin(struct imap_client *c, const char *verb)
{
	int rc;

	c->cmd_start = c->out.len;
	c->cmd_holds = c->nholds;
	c->cmd_tag = c->next_tag;
	c->cmd_line_start = c->out.len;
	if (c->state == IMAP_CLIENT_DEAD || c->state == IMAP_CLIENT_TLS_WAIT)
		return MS_EINVAL;
	if ((rc = ms_buf_printf(&c->out, "A%u %s", c->cmd_tag, verb)) !=
	    MS_OK) {
		c->out.len = c->cmd_start;
		return rc;
	}
	return MS_OK;
}

/* Undoes the command being built and passes rc on. */
static int
imap_cmd_abort(struct imap_client *c, int rc)
{
	c->out.len = c->cmd_start;
	if (c->out.p != NULL)
		c->out.p[c->out.len] = '\0';
	c->nholds = c->cmd_holds;
	return rc;
}

static int
imap_cmd_check_line(struct imap_client *c)
{
	return c->out.len - c->cmd_line_start > c->max_cmd_line ?
	    MS_ETOOBIG : MS_OK;
}

/* Ends the command; returns its tag or an error (command undone). */
static int
imap_cmd_finish(struct imap_client *c, int rc)
{
	if (rc == MS_OK)
		rc = imap_cmd_check_line(c);
	if (rc == MS_OK)
		rc = ms_buf_append(&c->out, "\r\n", 2);
	if (rc != MS_OK)
		return imap_cmd_abort(c, rc);
	for (size_t i = c->cmd_holds; i < c->nholds; i++)
		c->holds[i].cmd_end = c->out.len;
	c->next_tag = c->next_tag >= INT_MAX ? 1 : c->next_tag + 1;
	return (int)c->cmd_tag;
}

static int
imap_cmd_str(struct imap_client *c, const char *s)
{
	return ms_buf_append_cstr(&c->out, s);
}

/* Text that goes out as it is (item lists, flags): no controls. */
static int
imap_cmd_plain(struct imap_client *c, const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return MS_EINVAL;
	return imap_cmd_str(c, s);
}

static bool
imap_cmd_is_atom_char(uint8_t ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '(' && ch != ')' &&
	    ch != '{' && ch != '%' && ch != '*' && ch != '"' && ch != '\\' &&
	    ch != ']';
}

/*
 * A literal ("{n}"), or with is_binary a literal8 ("~{n}", RFC 3516; the
 * "+" of LITERAL+ and LITERAL- applies to it too, RFC 7888).  A plain
 * literal cannot carry NUL (CHAR8 is %x01-ff): MS_EINVAL.
 */
static int
imap_cmd_literal_any(struct imap_client *c, struct ms_slice data,
    bool is_binary)
{
	bool nonsync = (c->caps & IMAP_CAP_LITERAL_PLUS) ||
	    ((c->caps & (IMAP_CAP_LITERAL_MINUS | IMAP_CAP_IMAP4REV2)) &&
	    data.len <= IMAP_LITERAL_MINUS_MAX);
	int rc;

	if (!is_binary && data.len > 0 && memchr(data.p, 0, data.len) != NULL)
		return MS_EINVAL;
	if ((rc = ms_buf_printf(&c->out, "%s{%zu%s}\r\n",
	    is_binary ? "~" : "", data.len, nonsync ? "+" : "")) != MS_OK)
		return rc;
	/* The line up to the literal must fit, like any other line. */
	if (c->out.len - 2 - c->cmd_line_start > c->max_cmd_line)
		return MS_ETOOBIG;
	if (!nonsync) {
		if (c->nholds == c->holds_cap) {
			size_t ncap = c->holds_cap ? c->holds_cap * 2 : 4;
			struct imap_out_hold *nh = realloc(c->holds,
			    ncap * sizeof(*nh));

			if (nh == NULL)
				return MS_ENOMEM;
			c->holds = nh;
			c->holds_cap = ncap;
		}
		c->holds[c->nholds].at = c->out.len;
		c->holds[c->nholds].cmd_end = c->out.len;
		c->holds[c->nholds].tag = c->cmd_tag;
		c->nholds++;
	}
	if (data.len > 0 && (rc = ms_buf_append(&c->out, data.p, data.len)) !=
	    MS_OK)
		return rc;
	c->cmd_line_start = c->out.len;
	return MS_OK;
}

static int
imap_cmd_literal(struct imap_client *c, struct ms_slice data)
{
	return imap_cmd_literal_any(c, data, false);
}

/* Appends s as an atom (if allowed), a quoted string or a literal. */
static int
imap_cmd_string(struct imap_client *c, struct ms_slice s, bool allow_atom)
{
	bool atom = allow_atom && s.len > 0 &&
	    !ms_slice_case_eq_cstr(s, "NIL");
	bool quotable = s.len <= IMAP_QUOTED_MAX;
	int rc;

	for (size_t i = 0; i < s.len; i++) {
		uint8_t ch = s.p[i];

		if (!imap_cmd_is_atom_char(ch))
			atom = false;
		if (ch == 0 || ch == '\r' || ch == '\n' || ch >= 0x80)
			quotable = false;
	}
	if (atom)
		return ms_buf_append(&c->out, s.p, s.len);
	if (!quotable)
		return imap_cmd_literal(c, s);
	rc = ms_buf_append(&c->out, "\"", 1);
	for (size_t i = 0; i < s.len && rc == MS_OK; i++) {
		if (s.p[i] == '"' || s.p[i] == '\\')
			rc = ms_buf_append(&c->out, "\\", 1);
		if (rc == MS_OK)
			rc = ms_buf_append(&c->out, &s.p[i], 1);
	}
	return rc == MS_OK ? ms_buf_append(&c->out, "\"", 1) : rc;
}

/* Appends SP and s as an astring. */
static int
imap_cmd_astring(struct imap_client *c, struct ms_slice s)
{
	int rc = ms_buf_append(&c->out, " ", 1);

	return rc == MS_OK ? imap_cmd_string(c, s, true) : rc;
}

/* Appends SP and a UTF-8 mailbox name (or LIST pattern) in mUTF-7. */
static int
imap_cmd_mailbox(struct imap_client *c, struct ms_slice name)
{
	struct ms_buf enc;
	int rc;

	ms_buf_init(&enc, c->max_cmd_line + 1);
	rc = imap_utf7_encode(name, &enc);
	if (rc == MS_OK)
		rc = imap_cmd_astring(c,
		    (struct ms_slice){ enc.p ? enc.p : (const uint8_t *)"",
		    enc.len });
	ms_buf_deinit(&enc);
	return rc;
}

static int
imap_cmd_set(struct imap_client *c, struct ms_slice set)
{
	int rc;

	if (!imap_seqset_is_valid(set, true))
		return MS_EINVAL;
	if ((rc = ms_buf_append(&c->out, " ", 1)) != MS_OK)
		return rc;
	return ms_buf_append(&c->out, set.p, set.len);
}

static int
imap_cmd_simple(struct imap_client *c, const char *verb)
{
	int rc = imap_cmd_begin(c, verb);

	return rc != MS_OK ? rc : imap_cmd_finish(c, MS_OK);
}

int
imap_cmd_capability(struct imap_client *c)
{
	return imap_cmd_simple(c, "CAPABILITY");
}

int
imap_cmd_noop(struct imap_client *c)
{
	return imap_cmd_simple(c, "NOOP");
}

int
imap_cmd_logout(struct imap_client *c)
{
	return imap_cmd_simple(c, "LOGOUT");
}

int
imap_cmd_namespace(struct imap_client *c)
{
	return imap_cmd_simple(c, "NAMESPACE");
}

int
imap_cmd_unselect(struct imap_client *c)
{
	return imap_cmd_simple(c, "UNSELECT");
}

int
imap_cmd_compress_deflate(struct imap_client *c)
{
	return imap_cmd_simple(c, "COMPRESS DEFLATE");
}

int
imap_cmd_starttls(struct imap_client *c)
{
	int tag = imap_cmd_simple(c, "STARTTLS");

	if (tag > 0)
		c->starttls_tag = (uint32_t)tag;
	return tag;
}

int
imap_cmd_login(struct imap_client *c, struct ms_slice user,
    struct ms_slice pass)
{
	int rc = imap_cmd_begin(c, "LOGIN");

	if (rc != MS_OK)
		return rc;
	if ((rc = imap_cmd_astring(c, user)) == MS_OK)
		rc = imap_cmd_astring(c, pass);
	return imap_cmd_finish(c, rc);
}

static bool
imap_cmd_is_b64(struct ms_slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		uint8_t ch = s.p[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' ||
		    ch == '='))
			return false;
	}
	return true;
}

int
imap_cmd_authenticate(struct imap_client *c, const char *mech,
    struct ms_slice initial)
{
	int rc;

	for (const char *p = mech; *p != '\0'; p++)
		if (!imap_cmd_is_atom_char((uint8_t)*p))
			return MS_EINVAL;
	if (*mech == '\0' || (initial.p != NULL && !imap_cmd_is_b64(initial)))
		return MS_EINVAL;
	if ((rc = imap_cmd_begin(c, "AUTHENTICATE ")) != MS_OK)
		return rc;
	rc = imap_cmd_str(c, mech);
	if (rc == MS_OK && initial.p != NULL &&
	    (c->caps & (IMAP_CAP_SASL_IR | IMAP_CAP_IMAP4REV2))) {
		rc = ms_buf_append(&c->out, " ", 1);
		/* RFC 4959: an empty initial response is sent as "=". */
		if (rc == MS_OK)
			rc = initial.len == 0 ?
			    ms_buf_append(&c->out, "=", 1) :
			    ms_buf_append(&c->out, initial.p, initial.len);
		if (rc == MS_OK && initial.len > c->max_cmd_line)
			rc = MS_ETOOBIG;
		/* A long initial response is fine (RFC 4959 has no limit). */
		c->cmd_line_start = c->out.len;
	}
	return imap_cmd_finish(c, rc);
}

/* An untagged continuation line: the command state is left alone. */
static int
imap_cmd_line(struct imap_client *c, struct ms_slice s)
{
	size_t start = c->out.len;
	int rc = ms_buf_append(&c->out, s.p, s.len);

	if (rc == MS_OK)
		rc = ms_buf_append(&c->out, "\r\n", 2);
	if (rc != MS_OK) {
		c->out.len = start;
		if (c->out.p != NULL)
			c->out.p[start] = '\0';
	}
	return rc;
}

int
imap_cmd_sasl_response(struct imap_client *c, struct ms_slice b64)
{
	if (!imap_cmd_is_b64(b64))
		return MS_EINVAL;
	return imap_cmd_line(c, b64);
}

int
imap_cmd_sasl_cancel(struct imap_client *c)
{
	return imap_cmd_line(c, MS_SLICE_LIT("*"));
}

int
imap_cmd_enable(struct imap_client *c, const char *caps)
{
	int rc;

	if (*caps == '\0')
		return MS_EINVAL;
	if ((rc = imap_cmd_begin(c, "ENABLE ")) != MS_OK)
		return rc;
	return imap_cmd_finish(c, imap_cmd_plain(c, caps));
}

int
imap_cmd_select(struct imap_client *c, struct ms_slice mailbox,
    const struct imap_select_opts *o)
{
	int rc;

	if (o->qresync && (o->uidvalidity == 0 || o->modseq == 0))
		return MS_EINVAL;
	if (o->known_uids.len > 0 &&
	    !imap_seqset_is_valid(o->known_uids, true))
		return MS_EINVAL;
	if ((rc = imap_cmd_begin(c, o->read_only ? "EXAMINE" : "SELECT")) !=
	    MS_OK)
		return rc;
	rc = imap_cmd_mailbox(c, mailbox);
	if (rc == MS_OK && o->qresync) {
		rc = ms_buf_printf(&c->out, " (QRESYNC (%u %llu",
		    o->uidvalidity, (unsigned long long)o->modseq);
		if (rc == MS_OK && o->known_uids.len > 0)
			rc = imap_cmd_set(c, o->known_uids);
		if (rc == MS_OK)
			rc = imap_cmd_str(c, "))");
	} else if (rc == MS_OK && o->condstore) {
		rc = imap_cmd_str(c, " (CONDSTORE)");
	}
	return imap_cmd_finish(c, rc);
}

static int
imap_cmd_status_items(struct imap_client *c, unsigned items)
{
	static const char *const names[] = { "MESSAGES", "UIDNEXT",
	    "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "SIZE" };
	bool first = true;
	int rc = imap_cmd_str(c, "(");

	for (size_t i = 0; i < 6 && rc == MS_OK; i++) {
		if (!(items & (1u << i)))
			continue;
		if (!first)
			rc = imap_cmd_str(c, " ");
		if (rc == MS_OK)
			rc = imap_cmd_str(c, names[i]);
		first = false;
	}
	return rc == MS_OK ? imap_cmd_str(c, ")") : rc;
}

int
imap_cmd_list(struct imap_client *c, struct ms_slice ref,
    struct ms_slice pattern, unsigned ret, unsigned status_items)
{
	static const char *const opts[] = { "SPECIAL-USE", "CHILDREN",
	    "SUBSCRIBED" };
	bool first = true;
	int rc;

	if ((rc = imap_cmd_begin(c, "LIST")) != MS_OK)
		return rc;
	/* An empty reference or pattern must still be sent, as "". */
	rc = imap_cmd_mailbox(c, ref);
	if (rc == MS_OK)
		rc = imap_cmd_mailbox(c, pattern);
	if (rc == MS_OK && (ret != 0 || status_items != 0))
		rc = imap_cmd_str(c, " RETURN (");
	for (size_t i = 0; i < 3 && rc == MS_OK; i++) {
		if (!(ret & (1u << i)))
			continue;
		rc = imap_cmd_str(c, first ? "" : " ");
		if (rc == MS_OK)
			rc = imap_cmd_str(c, opts[i]);
		first = false;
	}
	if (rc == MS_OK && status_items != 0) {
		rc = imap_cmd_str(c, first ? "STATUS " : " STATUS ");
		if (rc == MS_OK)
			rc = imap_cmd_status_items(c, status_items);
	}
	if (rc == MS_OK && (ret != 0 || status_items != 0))
		rc = imap_cmd_str(c, ")");
	return imap_cmd_finish(c, rc);
}

int
imap_cmd_status(struct imap_client *c, struct ms_slice mailbox,
    unsigned status_items)
{
	int rc;

	if (status_items == 0)
		return MS_EINVAL;
	if ((rc = imap_cmd_begin(c, "STATUS")) != MS_OK)
		return rc;
	rc = imap_cmd_mailbox(c, mailbox);
	if (rc == MS_OK)
		rc = imap_cmd_str(c, " ");
	if (rc == MS_OK)
		rc = imap_cmd_status_items(c, status_items);
	return imap_cmd_finish(c, rc);
}

int
imap_cmd_create(struct imap_client *c, struct ms_slice mailbox)
{
	int rc;

	if ((rc = imap_cmd_begin(c, "CREATE")) != MS_OK)
		return rc;
	return imap_cmd_finish(c, imap_cmd_mailbox(c, mailbox));
}

int
imap_cmd_idle(struct imap_client *c)
{
	int tag;

	if (c->state == IMAP_CLIENT_IDLE)
		return MS_EINVAL;
	tag = imap_cmd_simple(c, "IDLE");
	if (tag > 0) {
		c->idle_tag = (uint32_t)tag;
		imap_client__set_state(c, IMAP_CLIENT_IDLE);
	}
	return tag;
}

int
imap_cmd_idle_done(struct imap_client *c)
{
	if (c->state != IMAP_CLIENT_IDLE || c->idle_tag == 0)
		return MS_EINVAL;
	return imap_cmd_line(c, MS_SLICE_LIT("DONE"));
}

static const struct {
	unsigned bit;
	const char *name;
} imap_notify_events[] = {
	{ IMAP_NOTIFY_MESSAGE_NEW, "MessageNew" },
	{ IMAP_NOTIFY_MESSAGE_EXPUNGE, "MessageExpunge" },
	{ IMAP_NOTIFY_FLAG_CHANGE, "FlagChange" },
	{ IMAP_NOTIFY_MAILBOX_NAME, "MailboxName" },
	{ IMAP_NOTIFY_SUBSCRIPTION_CHANGE, "SubscriptionChange" },
};

int
imap_cmd_notify_personal(struct imap_client *c, bool want_status,
    unsigned events)
{
	const unsigned msgs = IMAP_NOTIFY_MESSAGE_NEW |
	    IMAP_NOTIFY_MESSAGE_EXPUNGE;
	const char *sep = "";
	int rc;

	if (events == 0 || (events & ~0x1fu) != 0 ||
	    ((events & IMAP_NOTIFY_FLAG_CHANGE) && (events & msgs) != msgs))
		return MS_EINVAL;
	rc = imap_cmd_begin(c, want_status ? "NOTIFY SET STATUS (personal (" :
	    "NOTIFY SET (personal (");
	for (size_t i = 0; rc == MS_OK && i < sizeof(imap_notify_events) /
	    sizeof(imap_notify_events[0]); i++) {
		if ((events & imap_notify_events[i].bit) == 0)
			continue;
		if ((rc = imap_cmd_plain(c, sep)) == MS_OK)
			rc = imap_cmd_plain(c, imap_notify_events[i].name);
		sep = " ";
	}
	if (rc == MS_OK)
		rc = imap_cmd_plain(c, "))");
	return imap_cmd_finish(c, rc);
}

int
imap_cmd_notify_none(struct imap_client *c)
{
	return imap_cmd_simple(c, "NOTIFY NONE");
}

static int
imap_cmd_append_any(struct imap_client *c, struct ms_slice mailbox,
    const char *flags, struct ms_slice date, struct ms_slice message,
    bool is_binary)
{
	int rc;

	if ((rc = imap_cmd_begin(c, "APPEND")) != MS_OK)
		return rc;
	rc = imap_cmd_mailbox(c, mailbox);
	if (rc == MS_OK && flags != NULL) {
		rc = imap_cmd_str(c, " (");
		if (rc == MS_OK)
			rc = imap_cmd_plain(c, flags);
		if (rc == MS_OK)
			rc = imap_cmd_str(c, ")");
	}
	if (rc == MS_OK && date.len > 0) {
		/* date-time is always a quoted string. */
		for (size_t i = 0; i < date.len; i++)
			if (date.p[i] < 0x20 || date.p[i] >= 0x7f ||
			    date.p[i] == '"' || date.p[i] == '\\')
				rc = MS_EINVAL;
		if (rc == MS_OK)
			rc = imap_cmd_str(c, " \"");
		if (rc == MS_OK)
			rc = ms_buf_append(&c->out, date.p, date.len);
		if (rc == MS_OK)
			rc = imap_cmd_str(c, "\"");
	}
	if (rc == MS_OK)
		rc = imap_cmd_str(c, " ");
	if (rc == MS_OK)
		rc = imap_cmd_literal_any(c, message, is_binary);
	return imap_cmd_finish(c, rc);
}

int
imap_cmd_append(struct imap_client *c, struct ms_slice mailbox,
    const char *flags, struct ms_slice date, struct ms_slice message)
{
	return imap_cmd_append_any(c, mailbox, flags, date, message, false);
}

int
imap_cmd_append_binary(struct imap_client *c, struct ms_slice mailbox,
    const char *flags, struct ms_slice date, struct ms_slice message)
{
	return imap_cmd_append_any(c, mailbox, flags, date, message, true);
}

int
imap_cmd_uid_fetch(struct imap_client *c, struct ms_slice set,
    const char *items, uint64_t changedsince, bool vanished)
{
	int rc;

	if (*items == '\0' || (vanished && changedsince == 0))
		return MS_EINVAL;
	if ((rc = imap_cmd_begin(c, "UID FETCH")) != MS_OK)
		return rc;
	rc = imap_cmd_set(c, set);
	if (rc == MS_OK)
		rc = imap_cmd_str(c, " (");
	if (rc == MS_OK)
		rc = imap_cmd_plain(c, items);
	if (rc == MS_OK)
		rc = imap_cmd_str(c, ")");
	if (rc == MS_OK && changedsince > 0)
		rc = ms_buf_printf(&c->out, " (CHANGEDSINCE %llu%s)",
		    (unsigned long long)changedsince,
		    vanished ? " VANISHED" : "");
	return imap_cmd_finish(c, rc);
}

int
imap_cmd_uid_store(struct imap_client *c, struct ms_slice set,
    uint64_t unchangedsince, const char *op, const char *flags)
{
	int rc;

	if ((rc = imap_cmd_begin(c, "UID STORE")) != MS_OK)
		return rc;
	rc = imap_cmd_set(c, set);
	if (rc == MS_OK && unchangedsince > 0)
		rc = ms_buf_printf(&c->out, " (UNCHANGEDSINCE %llu)",
		    (unsigned long long)unchangedsince);
	if (rc == MS_OK)
		rc = imap_cmd_str(c, " ");
	if (rc == MS_OK)
		rc = *op != '\0' ? imap_cmd_plain(c, op) : MS_EINVAL;
	if (rc == MS_OK)
		rc = imap_cmd_str(c, " (");
	if (rc == MS_OK)
		rc = imap_cmd_plain(c, flags);
	if (rc == MS_OK)
		rc = imap_cmd_str(c, ")");
	return imap_cmd_finish(c, rc);
}

int
imap_cmd_uid_expunge(struct imap_client *c, struct ms_slice set)
{
	int rc;

	if ((rc = imap_cmd_begin(c, "UID EXPUNGE")) != MS_OK)
		return rc;
	return imap_cmd_finish(c, imap_cmd_set(c, set));
}

int
imap_cmd_uid_search(struct imap_client *c, struct ms_slice seqs,
    struct ms_slice uids)
{
	int rc;

	if ((rc = imap_cmd_begin(c, "UID SEARCH")) != MS_OK)
		return rc;
	if (seqs.len > 0)
		rc = imap_cmd_set(c, seqs);
	if (rc == MS_OK)
		rc = imap_cmd_str(c, " UID");
	if (rc == MS_OK)
		rc = imap_cmd_set(c, uids);
	return imap_cmd_finish(c, rc);
}

int
imap_cmd_uid_search_deleted(struct imap_client *c)
{
	int rc;

	if ((rc = imap_cmd_begin(c, "UID SEARCH DELETED")) != MS_OK)
		return rc;
	return imap_cmd_finish(c, MS_OK);
}

int
imap_cmd_uid_search_header(struct imap_client *c, struct ms_slice field,
    struct ms_slice value)
{
	int rc;

	if ((rc = imap_cmd_begin(c, "UID SEARCH HEADER")) != MS_OK)
		return rc;
	rc = imap_cmd_astring(c, field);
	/* Always a string: a Message-ID would otherwise pass as an atom
	 * only sometimes. */
	if (rc == MS_OK)
		rc = imap_cmd_str(c, " ");
	if (rc == MS_OK)
		rc = imap_cmd_string(c, value, false);
	return imap_cmd_finish(c, rc);
}

static int
imap_cmd_uid_set_mailbox(struct imap_client *c, const char *verb,
    struct ms_slice set, struct ms_slice mailbox)
{
	int rc;

	if ((rc = imap_cmd_begin(c, verb)) != MS_OK)
		return rc;
	rc = imap_cmd_set(c, set);
	if (rc == MS_OK)
		rc = imap_cmd_mailbox(c, mailbox);
	return imap_cmd_finish(c, rc);
}

int
imap_cmd_uid_copy(struct imap_client *c, struct ms_slice set,
    struct ms_slice mailbox)
{
	return imap_cmd_uid_set_mailbox(c, "UID COPY", set, mailbox);
}

int
imap_cmd_uid_move(struct imap_client *c, struct ms_slice set,
    struct ms_slice mailbox)
{
	return imap_cmd_uid_set_mailbox(c, "UID MOVE", set, mailbox);
}

int
imap_cmd_id(struct imap_client *c, const char *const *kv, size_t n)
{
	int rc;

	if ((rc = imap_cmd_begin(c, "ID")) != MS_OK)
		return rc;
	if (n == 0)
		return imap_cmd_finish(c, imap_cmd_str(c, " NIL"));
	rc = imap_cmd_str(c, " (");
	for (size_t i = 0; i < 2 * n && rc == MS_OK; i++) {
		if (i > 0)
			rc = imap_cmd_str(c, " ");
		/* ID values are nstrings: quoted or literal, never atoms. */
		if (rc == MS_OK)
			rc = imap_cmd_string(c, ms_slice_from_cstr(kv[i]),
			    false);
	}
	if (rc == MS_OK)
		rc = imap_cmd_str(c, ")");
	return imap_cmd_finish(c, rc);
}
