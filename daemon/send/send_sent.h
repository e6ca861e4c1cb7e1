/*
 * send_sent.h - filing copies of sent mail in the account's Sent folder
 * over IMAP, once each: the folder is searched by Message-ID first, so a
 * copy filed before a crash (APPEND done, its record not yet committed)
 * is found and not appended again.
 *
 * In order: a session (session/imap_session.h: the account's own IMAP
 * login) -> the folder: sent_folder, or the one LIST marks \Sent
 * (RFC 6154), else "Sent"; created when missing -> SELECT -> per message:
 * UID SEARCH HEADER Message-ID, then APPEND (\Seen) when not found ->
 * LOGOUT.  Every callback fires from the loop; on_done exactly once.
 */
#ifndef MS_SEND_SENT_H
#define MS_SEND_SENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cfg/cfg.h"
#include "common/ms.h"
#include "net/tls.h"

/* One copy to file; owned by the caller. */
struct send_sent_item {
	uint64_t id;
	const char *message_id;		/* "<...>", or "" (then no search) */
	struct ms_slice body;
	bool is_filed;			/* out: in the folder (found or
					 * appended) */
	bool was_there;			/* out: found by the search */
};

struct send_sent_params {
	uv_loop_t *loop;
	const struct cfg_account *account;	/* an IMAP account */
	struct net_tls_ctx *tls_ctx;	/* the account's IMAP one; or NULL */
	struct send_sent_item *items;
	size_t n_items;
	/* rc MS_OK when every item was filed; else err says why. */
	void (*on_done_cb)(int rc, const struct ms_err *err, void *arg);
	void *arg;
};

struct send_sent;

/* Starts; MS_OK with *s_r (freed after on_done returns), or an error with
 * err_r and no callback. */
int send_sent_start(const struct send_sent_params *p, struct send_sent **s_r,
		    struct ms_err *err_r) MS_WUR;

/* Ends early (what is filed stays filed); on_done follows.  Idempotent. */
void send_sent_cancel(struct send_sent *s);

#endif
