/*
 * setup_probe_net.c - one candidate's probe on the wire: the daemon's
 * own connection (daemon/net/conn.c: TCP, TLS through memory BIOs,
 * chain and host-name verification, the same error texts with their
 * hints) carries the sans-I/O probe (proto/setup/probe.c).  The story:
 * net_conn_new_at() -> on_connected (implicit TLS: verified) -> the
 * probe's requests -> on_data feeds it -> STARTTLS: net_conn_starttls()
 * -> on_tls_ready -> probe_tls_done() -> the result -> net_conn_close()
 * -> on_close records why it ended and reports once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/conn.h"
#include "setup.h"

struct setup_probe_run {
	struct probe probe;
	struct setup_cand *cand;
	setup_probe_cb *cb;
	void *arg;
	bool is_connected;		/* on_connected fired */
};

static void
setup_probe_flush(struct net_conn *conn, struct setup_probe_run *r)
{
	const uint8_t *p;
	size_t n;

	probe_out_peek(&r->probe, &p, &n);
	if (n == 0)
		return;
	if (net_conn_write(conn, p, n) != MS_OK) {
		probe_closed(&r->probe, "cannot queue output");
		net_conn_close(conn, MS_EINTERNAL);
		return;
	}
	probe_out_consume(&r->probe, n);
}

/* After the probe moved: TLS, the end, or more requests. */
static void
setup_probe_next(struct net_conn *conn, struct setup_probe_run *r)
{
	enum probe_state st = probe_get_state(&r->probe);

	setup_probe_flush(conn, r);
	if (st == PROBE_WANT_TLS) {
		if (net_conn_starttls(conn) != MS_OK) {
			probe_closed(&r->probe, "cannot start TLS");
			net_conn_close(conn, MS_ETLS);
		}
		return;
	}
	if (st == PROBE_DONE || st == PROBE_FAILED)
		net_conn_close(conn, MS_OK);
}

static void
setup_probe_connected_cb(struct net_conn *conn, void *arg)
{
	struct setup_probe_run *r = arg;

	r->is_connected = true;
	snprintf(r->cand->addr, sizeof(r->cand->addr), "%s",
		 net_conn_peer_addr(conn));
	/* Every protocol here waits for the server's greeting. */
	setup_probe_next(conn, r);
}

static void
setup_probe_tls_ready_cb(struct net_conn *conn, void *arg)
{
	struct setup_probe_run *r = arg;

	probe_tls_done(&r->probe);
	setup_probe_next(conn, r);
}

static size_t
setup_probe_data_cb(struct net_conn *conn, const uint8_t *p, size_t len,
		    void *arg)
{
	struct setup_probe_run *r = arg;
	size_t used = 0;

	probe_feed(&r->probe, p, len, &used);
	if (net_conn_is_tls(conn))
		snprintf(r->cand->tls_version, sizeof(r->cand->tls_version),
			 "%s", net_conn_tls_version(conn));
	setup_probe_next(conn, r);
	/* After the end the rest does not matter. */
	return probe_is_finished(&r->probe) &&
	       probe_get_state(&r->probe) != PROBE_QUIT ? len : used;
}

static void
setup_probe_close_cb(struct net_conn *conn, int reason,
		     const struct ms_err *err, void *arg)
{
	struct setup_probe_run *r = arg;
	struct setup_cand *c = r->cand;

	(void)conn;
	if (reason != MS_OK)
		probe_closed(&r->probe, err->msg);
	else
		probe_closed(&r->probe, "the server closed the connection");
	c->is_done = true;
	c->is_ok = probe_is_ok(&r->probe);
	c->res = *probe_get_result(&r->probe);
	/* Before the protocol began, the connection's words say it all
	 * (refused, timed out, the certificate and its names). */
	if (!r->is_connected && reason != MS_OK)
		snprintf(c->res.why, sizeof(c->res.why), "%s", err->msg);
	probe_deinit(&r->probe);
	r->cb(c, r->arg);
	free(r);
}

int
setup_probe_start(uv_loop_t *loop, struct net_tls_ctx *tls_ctx,
		  struct setup_cand *c, unsigned timeout_ms,
		  setup_probe_cb *cb, void *arg)
{
	struct net_conn_params params;
	struct setup_probe_run *r;
	struct net_conn *conn;
	struct ms_err err = { 0 };
	char me[64] = "localhost";

	c->is_done = true;
	c->is_ok = false;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(c->res.why, sizeof(c->res.why), "out of memory");
		return MS_ENOMEM;
	}
	/* EHLO names this machine, as a mail client does. */
	(void)gethostname(me, sizeof(me) - 1);
	if (probe_init(&r->probe, c->proto, c->tls, me) != MS_OK) {
		free(r);
		snprintf(c->res.why, sizeof(c->res.why), "out of memory");
		return MS_ENOMEM;
	}
	r->cand = c;
	r->cb = cb;
	r->arg = arg;
	memset(&params, 0, sizeof(params));
	params.account = "setup";
	params.host = c->host;
	params.port = c->port;
	params.tls = c->tls == PROBE_TLS_IMPLICIT ? NET_TLS_IMPLICIT :
		     NET_TLS_STARTTLS;
	params.tls_ctx = tls_ctx;
	params.connect_timeout_ms = timeout_ms;
	params.read_timeout_ms = timeout_ms;
	params.on_connected_cb = setup_probe_connected_cb;
	params.on_tls_ready_cb = setup_probe_tls_ready_cb;
	params.on_data_cb = setup_probe_data_cb;
	params.on_close_cb = setup_probe_close_cb;
	params.arg = r;
	if (net_conn_new_at(loop, &params, c->addrs, &conn, &err) != MS_OK) {
		snprintf(c->res.why, sizeof(c->res.why), "%s", err.msg);
		probe_deinit(&r->probe);
		free(r);
		return err.code;
	}
	c->is_done = false;
	return MS_OK;
}
