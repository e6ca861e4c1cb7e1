/*
 * acct_engine.h - the one small interface between an account's runtime
 * (acct.h) and the protocol engine that does its passes: IMAP
 * (acct_imap.c) and POP3 (acct_pop3.c); SMTP delivery plugs in the same
 * way.
 *
 * An engine owns its connection(s) and may keep them between passes (the
 * IMAP engine stays logged in, so the next pass and later push reuse the
 * session).  The runtime owns everything around a pass: its schedule,
 * state, backoff, requests, the Maildir mirror and what watchers see.
 * The runtime never looks inside an engine, and nothing else talks to
 * one.
 *
 * The contract, in the order things happen:
 *   create   -> the engine exists; it has not connected yet.
 *   pass     -> one pass starts (connecting first when needed); progress
 *               fires any number of times, then pass_done exactly once,
 *               always from a later loop turn than the pass call.
 *   cancel   -> the running pass ends early (what is complete stays);
 *               pass_done fires with MS_ECANCELED, or with the pass's
 *               own result when it had already ended and its report
 *               was on the way.  No-op without a pass.
 *   close    -> connections are dropped (politely when idle: LOGOUT); a
 *               running pass is cancelled first; closed fires once, from
 *               a later loop turn, when the engine holds no handle.
 *   push     -> (optional) after a good pass: the engine starts watching
 *               for the server's changes, unless it already does; each
 *               change comes as on_change_cb (the runtime starts a pass
 *               of that folder, or of all), and what push is doing as
 *               on_push_cb.
 *   reconnect-> (optional) the connections may be dead (the clock
 *               jumped: the machine slept): drop them now rather than
 *               wait for a timeout; a running pass fails over to a new
 *               session.
 *   resume   -> (optional) while progress says is_adding, the runtime
 *               may read the store beside the pass (the mirror's
 *               export); when the pass is about to change records it
 *               asks hold_cb, and if told to, waits for resume.
 *   destroy  -> frees an engine that is closed (or never passed).
 * Loop thread only.
 */
#ifndef MS_ACCT_ENGINE_H
#define MS_ACCT_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "cfg/cfg.h"
#include "common/ms.h"
#include "net/conn.h"
#include "net/tls.h"
#include "sasl/sasl.h"
#include "store/store.h"

/* How far a pass is.  Totals of 0 are not known (yet); they are what
 * the server announced (STATUS or LIST counts and sizes, POP3 LIST), so
 * done may pass total a little. */
struct acct_progress {
	unsigned folders_done, folders_total;
	uint64_t msgs_done, msgs_total;
	uint64_t bytes_done, bytes_total;
	char folder[128];		/* the folder being synced, or "" */
	double seconds;			/* since the pass started */
	/* The pass only adds messages now and has committed some (IMAP: a
	 * folder's first fetch; POP3: the report after a batch of
	 * downloads committed): the mirror may export beside it until
	 * hold_cb. */
	bool is_adding;
};

/* What one pass did, and how it ended. */
struct acct_result {
	int rc;				/* MS_OK, or why the account failed */
	char error[256];		/* with rc < 0: the reason, for users */
	/* False when the server was never reached (resolve, connect); a
	 * connection-class failure then means "offline". */
	bool is_reached;
	unsigned folders;		/* folders the pass looked at */
	unsigned folder_errors;		/* of those, failed (logged) */
	uint64_t new_msgs, changed, deleted, appended, moved;
	/* Local messages the server refused, kept local (not an error of
	 * the pass, but --once exits 1), and the last one named with the
	 * server's text */
	uint64_t refused;
	/* Local messages with NUL bytes kept local (no BINARY) */
	uint64_t unsendable;
	char refused_text[400];
	uint64_t bytes;			/* body bytes stored */
	double seconds;
};

struct acct_engine_cbs {
	void (*on_progress_cb)(const struct acct_progress *p, void *arg);
	void (*on_pass_done_cb)(const struct acct_result *res, void *arg);
	void (*on_closed_cb)(void *arg);
	/* Push: folder (as the server names it) changed; NULL: any may
	 * have (also after push lost its connection).  Valid during the
	 * call only. */
	void (*on_change_cb)(const char *folder, void *arg);
	/* Push: what it does now, one line for status ("notify on every
	 * folder (1 connection)", "off"). */
	void (*on_push_cb)(const char *desc, void *arg);
	/* Optional: the pass stops adding only (is_adding ends).  True
	 * keeps it waiting until the engine's resume. */
	bool (*hold_cb)(void *arg);
	void *arg;
};

struct acct_engine;

struct acct_engine_ops {
	const char *protocol;		/* "imap" */
	/* account and store outlive the engine. */
	int (*create)(uv_loop_t *loop, struct store *store,
		      const struct cfg_account *account,
		      const struct acct_engine_cbs *cbs,
		      struct acct_engine **e_r, struct ms_err *err_r);
	/* folder: only that folder (copied), NULL: all.  MS_OK, or an
	 * error (a pass already runs, out of memory) and no callback. */
	int (*pass)(struct acct_engine *e, const char *folder,
		    struct ms_err *err_r);
	void (*cancel)(struct acct_engine *e);
	void (*close)(struct acct_engine *e);
	void (*push)(struct acct_engine *e);		/* may be NULL */
	void (*reconnect)(struct acct_engine *e);	/* may be NULL */
	/* A pass hold_cb kept goes on; may be NULL (never holds). */
	void (*resume)(struct acct_engine *e);
	void (*destroy)(struct acct_engine *e);
};

/* Every engine struct starts with this, so the runtime can call it. */
struct acct_engine {
	const struct acct_engine_ops *ops;
};

/* The engine for a protocol, or NULL when there is none (yet). */
const struct acct_engine_ops *acct_engine_for(enum cfg_protocol protocol);

/* The IMAP engine (acct_imap.c). */
extern const struct acct_engine_ops acct_imap_ops;
/* The POP3 engine (acct_pop3.c). */
extern const struct acct_engine_ops acct_pop3_ops;

/*
 * What every engine keeps the same way: the runtime's arguments, the
 * account's TLS context (one per engine, so that its sessions resume) and
 * the timer from which it reports to the runtime on a later loop turn.
 */
struct acct_engine_common {
	uv_loop_t *loop;
	struct store *store;
	const struct cfg_account *acct;
	struct acct_engine_cbs cbs;
	struct net_tls_ctx *tls_ctx;	/* NULL with tls = none */
	uv_timer_t defer;		/* .data: the engine */
};

/* Sets c up for engine (the defer timer's data).  MS_OK, or an error in
 * err_r (the TLS context) with nothing to undo. */
int acct_engine_common_init(struct acct_engine_common *c, uv_loop_t *loop,
			    struct store *store,
			    const struct cfg_account *account,
			    const struct acct_engine_cbs *cbs, void *engine,
			    struct ms_err *err_r) MS_WUR;
/*
 * A new engine of size bytes, zeroed, whose struct starts with its
 * struct acct_engine and holds its struct acct_engine_common at
 * common_off: both set up (ops, and acct_engine_common_init()).  MS_OK
 * with *e_r, or an error in err_r with nothing left to free.
 */
int acct_engine_new(size_t size, size_t common_off,
		    const struct acct_engine_ops *ops, uv_loop_t *loop,
		    struct store *store, const struct cfg_account *account,
		    const struct acct_engine_cbs *cbs, struct acct_engine **e_r,
		    struct ms_err *err_r) MS_WUR;
/* Drops the TLS context; the defer timer must be closed. */
void acct_engine_common_deinit(struct acct_engine_common *c);

/* What every engine makes of the account's keys, the same way. */
enum sasl_mech acct_engine_sasl_mech(enum cfg_auth auth);
enum net_tls_mode acct_engine_tls_mode(enum cfg_tls tls);


#endif
