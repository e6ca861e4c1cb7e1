/*
 * loop_lateness.h - how late the event loop runs: a 10 ms timer whose
 * every firing is compared with when it was due.  Any callback that
 * blocks the loop (a scan, a hash, a commit's fsync) shows as lateness,
 * and so does everything waiting behind it: a control request, a
 * watcher's event, a server's push.  Off unless asked for
 * (MAILSYNC_LOOP_LATENESS, mailsyncd(1)), so that an idle daemon does
 * not wake every 10 ms.  Loop thread only.
 */
#ifndef MS_LOOP_LATENESS_H
#define MS_LOOP_LATENESS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#define LOOP_LATENESS_PERIOD_MS 10
/* One bucket per millisecond; the last takes everything from there on. */
#define LOOP_LATENESS_BUCKETS 1001

struct loop_lateness {
	uv_timer_t timer;
	bool is_on;
	uint64_t due_ns;		/* when the timer should fire */
	uint64_t log_over_ns;		/* log each lateness above; 0: none */
	uint64_t samples;
	uint64_t max_ns;
	uint64_t sum_ns;
	uint32_t hist[LOOP_LATENESS_BUCKETS];	/* by whole milliseconds */
	/* The part of each lateness the loop thread did not spend waiting
	 * for a CPU (its run-queue wait since the last firing, from
	 * /proc/thread-self/schedstat): what the daemon itself held the
	 * loop for, on a CPU or waiting for the disk.  On a loaded machine
	 * the lateness is mostly the other part. */
	int schedstat_fd;		/* -1: not available, or closed */
	bool has_own;			/* the own part is measured */
	uint64_t rq_wait_ns;		/* the run-queue wait last read */
	uint64_t own_max_ns;
	uint32_t own_hist[LOOP_LATENESS_BUCKETS];
};

/*
 * Starts measuring when the environment asks for it
 * (MAILSYNC_LOOP_LATENESS=N: measure; N > 0 also logs each lateness
 * above N ms as it happens).  The timer does not keep the loop alive.
 * Returns whether it runs.
 */
bool loop_lateness_start_from_env(struct loop_lateness *l, uv_loop_t *loop);

/* The same, with the threshold given (0: no per-stall lines). */
void loop_lateness_start(struct loop_lateness *l, uv_loop_t *loop,
			 unsigned log_over_ms);

/* The p-th percentile (0 < p <= 100) in ms, from the histogram (of the
 * own part: own_hist). */
unsigned loop_lateness_percentile(const struct loop_lateness *l, double p);
unsigned loop_lateness_own_percentile(const struct loop_lateness *l,
				      double p);

/*
 * Logs (at info) the samples, the largest lateness, percentiles and a
 * coarse histogram: "loop lateness samples=N max_ms=X p50_ms=..
 * p99_ms=.. histogram=<1:N,<2:N,..."; then the same figures of the
 * daemon's own part ("loop lateness own max_ms=X p99_ms=.. p999_ms=..",
 * without the time the thread waited for a CPU) where the kernel tells
 * it.  A no-op when it never ran.
 */
void loop_lateness_report(const struct loop_lateness *l);

/* Stops and closes the timer (the loop must run once more).  Idempotent. */
void loop_lateness_close(struct loop_lateness *l);

#endif
