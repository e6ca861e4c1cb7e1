/*
 * ctl_cmd.h - the control server's commands: one table (ctl_cmd_table.c)
 * of small files, one per command or family.  To add a command: write
 * ctl_cmd_NAME.c defining a `const struct ctl_cmd`, declare it below and
 * add it to the table.  Commands see the daemon only through the
 * helpers here (the store, the account runtimes, the request's args) and
 * answer through ctl_req_ok()/ctl_req_fail(); the codec (proto/ctl)
 * builds every byte.
 */
#ifndef MS_CTL_CMD_H
#define MS_CTL_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "acct/acct.h"
#include "ctl/ctl_proto.h"
#include "store/store.h"

struct ctl_conn;
struct ctl_server;

/*
 * One request.  It holds a reference on its connection, so it may wait
 * (sync --wait) across loop turns; the connection may close meanwhile,
 * and a reply to a closed one is dropped.  Exactly one of the reply
 * functions ends each request, and frees it.
 */
struct ctl_req {
	struct ctl_server *srv;
	struct ctl_conn *conn;
	uint64_t id;
	const char *cmd;		/* points into args' frame */
	json_t *frame;			/* a reference: keeps cmd, args */
	json_t *args;			/* an object */
};

struct ctl_cmd {
	const char *name;
	const char *usage;		/* "ACCOUNT FOLDER UID" */
	void (*run_cb)(struct ctl_req *req);
};

/* The table, NULL-terminated, in the order `help` lists them. */
extern const struct ctl_cmd *const ctl_cmds[];
const struct ctl_cmd *ctl_cmd_find(const char *name);

/* --- replies ------------------------------------------------------------- */

/* data is stolen (NULL: JSON null). */
void ctl_req_ok(struct ctl_req *req, json_t *data);
void ctl_req_fail(struct ctl_req *req, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A reply followed by the body with this hash (size bytes) as its
 * payload, streamed from the store as the client reads. */
void ctl_req_ok_body(struct ctl_req *req, json_t *data,
		     const uint8_t hash[STORE_HASH_LEN], uint64_t size);
/* An event to this request's connection only (sync --wait's progress);
 * fields stolen. */
void ctl_req_event(struct ctl_req *req, const char *name, json_t *fields);
/* False once the request's client has gone. */
bool ctl_req_is_alive(const struct ctl_req *req);

/* --- the daemon, as commands see it ------------------------------------- */

struct store *ctl_req_store(const struct ctl_req *req);
size_t ctl_req_n_accts(const struct ctl_req *req);
struct acct *ctl_req_acct(const struct ctl_req *req, size_t i);
/* The runtime named name, or NULL after ctl_req_fail(no-account) with
 * the names there are. */
struct acct *ctl_req_acct_find(struct ctl_req *req, const char *name);
/* Makes the connection a watcher: every account event from now on. */
void ctl_req_watch(struct ctl_req *req);
int ctl_req_reload(struct ctl_req *req, json_t **data_r);
/* The host's outbox_cb (retry, drop). */
int ctl_req_outbox(struct ctl_req *req, const char *op, uint64_t id,
		   struct ms_err *err_r);

/*
 * Calls fn for every account event, until ctl_server_unlisten().  For
 * commands that wait (sync --wait).  is_gone: the runtime a is about to
 * be freed (a reload removed it), or, with a NULL, the server closes;
 * the listener must unlisten and let go then.  MS_OK or MS_ENOMEM.
 */
typedef void ctl_listen_fn(struct acct *a, enum acct_event ev, bool is_gone,
			   void *arg);
int ctl_server_listen(struct ctl_server *s, ctl_listen_fn *fn,
		      void *arg) MS_WUR;
void ctl_server_unlisten(struct ctl_server *s, ctl_listen_fn *fn, void *arg);

/*
 * Work on the threadpool (ctl_work.c): fn runs on a pool thread with
 * the store and the request's args (read only) and sets either *data_r
 * (a new document, the reply's data) or err (code: a CTL_ERR_* and a
 * message); the reply goes out on the loop.  fn may call only the
 * store's read functions and jansson.
 */
struct ctl_work_err {
	const char *code;		/* NULL: no error */
	char msg[512];
};
typedef void ctl_work_fn(struct store *s, json_t *args, json_t **data_r,
			 struct ctl_work_err *err);
void ctl_req_work(struct ctl_req *req, ctl_work_fn *fn);

/* --- flags (ctl_flags.c) --------------------------------------------------- */

/* The IMAP names of flags ("\\Seen", "$Forwarded"), as an array. */
json_t *ctl_flags_json(uint32_t flags);
/* A flag from a user's name: "seen", "\\Seen", "Seen" (any case);
 * 0 when unknown. */
uint32_t ctl_flag_parse(const char *name);

/* --- args ------------------------------------------------------------------ */

/* The string member key, or NULL when absent; fails the request (and
 * returns NULL with *is_bad set) when it is there but not a string. */
const char *ctl_arg_str(struct ctl_req *req, const char *key, bool *is_bad);
/* Like ctl_arg_str for a member that must be there. */
const char *ctl_arg_need_str(struct ctl_req *req, const char *key);
bool ctl_arg_bool(const struct ctl_req *req, const char *key);

/* --- JSON of what the store and the runtimes hold (ctl_json.c) ----------- */

/* An account's status, as `status` and watch events show it. */
json_t *ctl_json_acct(struct store *s, struct acct *a);
json_t *ctl_json_progress(const struct acct_status *st);
json_t *ctl_json_result(const struct acct_result *r);

/* --- the commands ------------------------------------------------------- */

extern const struct ctl_cmd ctl_cmd_status, ctl_cmd_accounts,
	ctl_cmd_version, ctl_cmd_help, ctl_cmd_sync, ctl_cmd_pause,
	ctl_cmd_resume, ctl_cmd_watch, ctl_cmd_folders, ctl_cmd_list,
	ctl_cmd_search, ctl_cmd_cat, ctl_cmd_flag, ctl_cmd_move,
	ctl_cmd_delete, ctl_cmd_reload, ctl_cmd_outbox;

#endif
