/*
 * ctl_server.h - the daemon's control server (DESIGN.md "Control
 * protocol", mailsyncctl(1)): the Unix socket, its clients, and the
 * command table they are served from.
 *
 * The story of a client, in order:
 *   ctl_socket_open()     the socket file: its directory, the lock that
 *                         says "already running", a stale file replaced
 *   ctl_server_on_conn()  accept; SO_PEERCRED: the daemon's uid or root
 *                         only; the hello goes out
 *   ctl_conn_read_cb()    bytes -> the proto/ctl decoder -> requests ->
 *                         the command table (ctl_cmd.h)
 *   ctl_conn_flush()      replies and events leave through one bounded
 *                         queue per client: a client that does not read
 *                         is dropped once its queue passes the bound
 *   ctl_conn_close()      on EOF, an error, a bad frame (after its error
 *                         reply), or the server's close
 * Reads are served from the store's short read transactions on the loop
 * thread; nothing waits for a sync.  Loop thread only.
 */
#ifndef MS_CTL_SERVER_H
#define MS_CTL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "acct/acct.h"
#include "common/ms.h"
#include "store/store.h"

/* What the server needs of the daemon that owns it. */
struct ctl_host {
	uv_loop_t *loop;
	struct store *store;
	/* The account runtimes, in config order; a reload may change
	 * them, so look them up for every request. */
	size_t (*n_accts_cb)(void *arg);
	struct acct *(*acct_cb)(void *arg, size_t i);
	/*
	 * Re-reads the configuration (reload).  MS_OK with a summary of
	 * what changed in *data_r (a new object), or an error with every
	 * problem as a "FILE:LINE: message" string in *data_r (an array);
	 * the running configuration stays then.
	 */
	int (*reload_cb)(void *arg, json_t **data_r);
	/*
	 * The user's word on an outbox entry (op "retry" or "drop"), done
	 * by the account's sender.  MS_OK, or an error with err_r.
	 */
	int (*outbox_cb)(void *arg, const char *op, uint64_t id,
			 struct ms_err *err_r);
	void *arg;
};

struct ctl_server;

/*
 * Opens the socket at path (ctl_socket.h rules) and listens.  A client
 * is served when it runs as this daemon's uid or root, or, with gid (the
 * socket's group, socket_group; (gid_t)-1: none), as a member of that
 * group (its primary or a supplementary group: SO_PEERCRED,
 * SO_PEERGROUPS).  MS_OK with *s_r, or an error in err_r: another
 * mailsyncd holds the socket ("already running"), its directory is
 * unsafe or shut to the group, the path is too long.
 */
int ctl_server_open(const struct ctl_host *host, const char *path, gid_t gid,
		    struct ctl_server **s_r, struct ms_err *err_r) MS_WUR;

/* An account's event, relayed by the owner of the runtimes: watchers
 * and waiting `sync --wait` requests hear of it. */
void ctl_server_acct_event(struct ctl_server *s, struct acct *a,
			   enum acct_event ev);

/* The runtime is about to be freed (a reload removed or replaced it):
 * requests waiting on it end. */
void ctl_server_acct_gone(struct ctl_server *s, struct acct *a);

/* An outbox entry changed (an attempt's outcome, a drop): `send --wait`
 * requests waiting for it are answered. */
void ctl_server_outbox_event(struct ctl_server *s, uint64_t id);

/* Closes the listener and every client; the handles close on the loop
 * and the socket file is removed.  Idempotent. */
void ctl_server_close(struct ctl_server *s);

/* Frees a closed server once the loop ran its close callbacks.
 * NULL-safe; sets *sp to NULL. */
void ctl_server_free(struct ctl_server **sp);

#endif
