/*
 * ctl_work.c - commands that read much of the store (folders, list,
 * search) run on libuv's threadpool, so that a large folder never holds
 * up the loop, the sync or another client.  The store allows reads from
 * any thread (store.h: short read transactions, MDB_NOTLS); the worker
 * only reads the request's args and builds a new JSON document, which
 * the loop thread sends.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctl/ctl_int.h"

struct ctl_work {
	uv_work_t work;
	struct ctl_req *req;
	ctl_work_fn *fn;
	struct store *store;
	json_t *data;
	struct ctl_work_err err;
};

static void
ctl_work_run(uv_work_t *w)
{
	struct ctl_work *cw = w->data;

	cw->fn(cw->store, cw->req->args, &cw->data, &cw->err);
}

static void
ctl_work_done(uv_work_t *w, int status)
{
	struct ctl_work *cw = w->data;

	if (status < 0 && cw->err.code == NULL) {
		cw->err.code = CTL_ERR_INTERNAL;
		snprintf(cw->err.msg, sizeof(cw->err.msg), "%s",
			 uv_strerror(status));
	}
	if (cw->err.code != NULL) {
		if (cw->data != NULL)
			json_decref(cw->data);
		ctl_req_fail(cw->req, cw->err.code, "%s", cw->err.msg);
	} else {
		ctl_req_ok(cw->req, cw->data);
	}
	free(cw);
}

void
ctl_req_work(struct ctl_req *req, ctl_work_fn *fn)
{
	struct ctl_work *cw = calloc(1, sizeof(*cw));
	int rc;

	if (cw == NULL) {
		ctl_req_fail(req, CTL_ERR_INTERNAL, "out of memory");
		return;
	}
	cw->req = req;
	cw->fn = fn;
	cw->store = req->srv->host.store;
	cw->work.data = cw;
	if ((rc = uv_queue_work(req->srv->host.loop, &cw->work, ctl_work_run,
				ctl_work_done)) < 0) {
		free(cw);
		ctl_req_fail(req, CTL_ERR_INTERNAL, "%s", uv_strerror(rc));
	}
}
