/* loop_lateness.c - how late the event loop runs (loop_lateness.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loop_lateness.h"

static void loop_lateness_arm(struct loop_lateness *l);

/*
 * The loop thread's run-queue wait so far (the second figure of
 * /proc/thread-self/schedstat, in ns); false when it cannot be read (the
 * own part is then not reported).
 */
static bool
loop_lateness_rq_wait(struct loop_lateness *l, uint64_t *ns_r)
{
	char buf[96];
	unsigned long long run, wait;
	ssize_t n;

	if (l->schedstat_fd < 0)
		return false;
	n = pread(l->schedstat_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
		return false;
	*ns_r = wait;
	return true;
}

static void
loop_lateness_on_timer(uv_timer_t *t)
{
	struct loop_lateness *l = t->data;
	uint64_t now = uv_hrtime();
	uint64_t late = now > l->due_ns ? now - l->due_ns : 0;
	uint64_t ms = late / 1000000u;
	uint64_t rq = 0, cpu_wait = 0, own;

	l->samples++;
	l->sum_ns += late;
	if (late > l->max_ns)
		l->max_ns = late;
	l->hist[ms < LOOP_LATENESS_BUCKETS ? ms : LOOP_LATENESS_BUCKETS - 1]++;
	/* Waiting for a CPU since the last firing delayed this one by as
	 * much at most: the rest is the daemon's own. */
	if (loop_lateness_rq_wait(l, &rq)) {
		cpu_wait = rq > l->rq_wait_ns ? rq - l->rq_wait_ns : 0;
		l->rq_wait_ns = rq;
	}
	own = late > cpu_wait ? late - cpu_wait : 0;
	if (own > l->own_max_ns)
		l->own_max_ns = own;
	ms = own / 1000000u;
	l->own_hist[ms < LOOP_LATENESS_BUCKETS ? ms :
		    LOOP_LATENESS_BUCKETS - 1]++;
	/* The monotonic time it was due lets a profile of the process
	 * (perf record -k CLOCK_MONOTONIC) show what held the loop. */
	if (l->log_over_ns > 0 && late > l->log_over_ns)
		log_info("loop late by %.1f ms (due at monotonic %.6f s; "
			 "waiting for a CPU %.1f ms of it)", (double)late / 1e6,
			 (double)l->due_ns / 1e9,
			 (double)(late < cpu_wait ? late : cpu_wait) / 1e6);
	loop_lateness_arm(l);
}

/*
 * libuv fires a timer once the loop's clock (uv_now(), taken when the
 * iteration began) has passed its start plus the timeout; the due time is
 * measured from that same clock, so the loop's own clock granularity
 * (1 ms) is all the error there is.
 */
static void
loop_lateness_arm(struct loop_lateness *l)
{
	l->due_ns = (uv_now(l->timer.loop) + LOOP_LATENESS_PERIOD_MS) *
		    1000000u;
	uv_timer_start(&l->timer, loop_lateness_on_timer,
		       LOOP_LATENESS_PERIOD_MS, 0);
}

void
loop_lateness_start(struct loop_lateness *l, uv_loop_t *loop,
		    unsigned log_over_ms)
{
	memset(l, 0, sizeof(*l));
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	/* A probe never keeps the daemon running. */
	uv_unref((uv_handle_t *)&l->timer);
	l->log_over_ns = (uint64_t)log_over_ms * 1000000u;
	l->schedstat_fd = open("/proc/thread-self/schedstat",
			       O_RDONLY | O_CLOEXEC);
	l->has_own = loop_lateness_rq_wait(l, &l->rq_wait_ns);
	l->is_on = true;
	/* The loop's clock dates from its last turn (or its init, before
	 * the store was opened): the first due time must not. */
	uv_update_time(loop);
	loop_lateness_arm(l);
}

bool
loop_lateness_start_from_env(struct loop_lateness *l, uv_loop_t *loop)
{
	const char *v = getenv("MAILSYNC_LOOP_LATENESS");
	unsigned long over = 0;
	char *end = NULL;

	memset(l, 0, sizeof(*l));
	l->schedstat_fd = -1;
	if (v == NULL || *v == '\0')
		return false;
	over = strtoul(v, &end, 10);
	if (*end != '\0' || over > 60000) {
		log_warn("MAILSYNC_LOOP_LATENESS=%s: not a number of "
			 "milliseconds (0 to 60000); measuring without "
			 "logging single stalls", v);
		over = 0;
	}
	loop_lateness_start(l, loop, (unsigned)over);
	return true;
}

static unsigned
loop_lateness_hist_percentile(const struct loop_lateness *l,
			      const uint32_t *hist, double p)
{
	uint64_t want, seen = 0;

	if (l->samples == 0)
		return 0;
	want = (uint64_t)((double)l->samples * p / 100.0 + 0.999999);
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < LOOP_LATENESS_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= want)
			return i;
	}
	return LOOP_LATENESS_BUCKETS - 1;
}

unsigned
loop_lateness_percentile(const struct loop_lateness *l, double p)
{
	return loop_lateness_hist_percentile(l, l->hist, p);
}

unsigned
loop_lateness_own_percentile(const struct loop_lateness *l, double p)
{
	return loop_lateness_hist_percentile(l, l->own_hist, p);
}

void
loop_lateness_report(const struct loop_lateness *l)
{
	/* Coarse upper bounds in ms; the last bucket is unbounded. */
	static const unsigned edges[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500,
					   1000 };
	char hist[256];
	size_t pos = 0;
	unsigned lo = 0;

	if (!l->is_on || l->samples == 0)
		return;
	for (size_t e = 0; e <= sizeof(edges) / sizeof(edges[0]); e++) {
		unsigned hi = e < sizeof(edges) / sizeof(edges[0]) ? edges[e] :
			      LOOP_LATENESS_BUCKETS;
		uint64_t n = 0;
		int k;

		for (unsigned i = lo; i < hi && i < LOOP_LATENESS_BUCKETS; i++)
			n += l->hist[i];
		lo = hi;
		if (e < sizeof(edges) / sizeof(edges[0]))
			k = snprintf(hist + pos, sizeof(hist) - pos, "%s<%u:%"
				     PRIu64, pos > 0 ? "," : "", hi, n);
		else
			k = snprintf(hist + pos, sizeof(hist) - pos, ",>=%u:%"
				     PRIu64, edges[e - 1], n);
		if (k < 0 || (size_t)k >= sizeof(hist) - pos)
			break;
		pos += (size_t)k;
	}
	log_info("loop lateness samples=%" PRIu64 " max_ms=%.1f mean_ms=%.2f "
		 "p50_ms=%u p99_ms=%u p999_ms=%u histogram=%s", l->samples,
		 (double)l->max_ns / 1e6,
		 (double)l->sum_ns / 1e6 / (double)l->samples,
		 loop_lateness_percentile(l, 50), loop_lateness_percentile(l, 99),
		 loop_lateness_percentile(l, 99.9), hist);
	if (l->has_own)
		log_info("loop lateness own max_ms=%.1f p50_ms=%u p99_ms=%u "
			 "p999_ms=%u (without waiting for a CPU)",
			 (double)l->own_max_ns / 1e6,
			 loop_lateness_own_percentile(l, 50),
			 loop_lateness_own_percentile(l, 99),
			 loop_lateness_own_percentile(l, 99.9));
}

void
loop_lateness_close(struct loop_lateness *l)
{
	if (!l->is_on || uv_is_closing((uv_handle_t *)&l->timer))
		return;
	if (l->schedstat_fd >= 0)
		close(l->schedstat_fd);
	l->schedstat_fd = -1;
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, NULL);
}
