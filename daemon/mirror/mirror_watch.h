/*
 * mirror_watch.h - reader changes while the daemon runs: inotify watches
 * over the account's mirror (maildir_watch, debounced) and, after each
 * burst of events, one mirror_scan() of the account, so that whatever a
 * reader did is a committed pending change within delay_ms of the burst.
 *
 * The daemon's own writes (export) also raise events; the scan that
 * follows finds nothing, because export records every name it gives.
 */
#ifndef MS_MIRROR_WATCH_H
#define MS_MIRROR_WATCH_H

#include <uv.h>

#include "common/ms.h"
#include "mirror/mirror.h"
#include "store/store.h"

struct mirror_watch;

/*
 * After a scan that found reader changes (st has them) or failed (rc < 0,
 * err says why).  The callback may call mirror_watch_close().
 */
typedef void (*mirror_watch_cb)(struct mirror_watch *w, int rc,
				const struct mirror_stats *st,
				const struct ms_err *err, void *arg);

/*
 * Starts watching p->root (which must exist: export first).  s and *p
 * (its strings and report included) must outlive the watch.  Returns NULL
 * with err_r set on failure; run the loop before uv_loop_close() then too.
 */
struct mirror_watch *mirror_watch_new(uv_loop_t *loop, struct store *s,
				      const struct mirror_params *p,
				      unsigned delay_ms, mirror_watch_cb cb,
				      void *arg, struct ms_err *err_r);

/*
 * While paused (a sync pass is running: its batches must not meet a
 * scan's), events only mark the mirror as changed; resuming scans once if
 * anything happened meanwhile (the callback may fire from within).
 */
void mirror_watch_pause(struct mirror_watch *w);
void mirror_watch_resume(struct mirror_watch *w);

/* Stops watching; no callback fires afterwards.  The loop must run once
 * more before uv_loop_close().  A no-op on NULL. */
void mirror_watch_close(struct mirror_watch *w);

#endif
