/* progress_report.c - a long pass's progress on a terminal or in the log
 * (progress_report.h). */
#include "progress_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_progress.h"
#include "log.h"

/* A terminal line only once a pass has run this long: a pass that
 * changes nothing ends sooner, and would only make the screen flicker. */
#define PROGRESS_REPORT_DRAW_AFTER_S 1.0

struct progress_report_acct {
	struct acct *a;
	bool is_syncing;		/* a pass runs: it has a line */
	double next_log_s;		/* of the pass's clock */
	char line[400];			/* the terminal's */
};

void
progress_report_init(struct progress_report *r, bool is_terminal,
		     uint64_t every_ms)
{
	const char *env = getenv("MAILSYNC_PROGRESS_MS");
	char *end;

	memset(r, 0, sizeof(*r));
	r->is_terminal = is_terminal;
	r->every_ms = every_ms;
	if (r->every_ms == 0 && env != NULL && env[0] != '\0') {
		unsigned long long v = strtoull(env, &end, 10);

		if (*end == '\0' && v > 0)
			r->every_ms = v;
		else
			log_warn("MAILSYNC_PROGRESS_MS=%s is not a number of "
				 "milliseconds: progress every %u ms", env,
				 PROGRESS_REPORT_EVERY_MS);
	}
	if (r->every_ms == 0)
		r->every_ms = PROGRESS_REPORT_EVERY_MS;
}

static void
progress_report_read(const struct acct_status *st, struct ctl_progress *cp)
{
	const struct acct_progress *p = &st->progress;

	*cp = (struct ctl_progress){
		.folder = p->folder,
		.folders_done = p->folders_done,
		.folders_total = p->folders_total,
		.msgs_done = p->msgs_done,
		.msgs_total = p->msgs_total,
		.bytes_done = p->bytes_done,
		.bytes_total = p->bytes_total,
		.seconds = p->seconds,
		.rate_bps = st->rate_bps,
	};
}

char *
progress_report_line(const char *name, const struct acct_status *st,
		     char *out, size_t size)
{
	struct ctl_progress cp;
	double frac;
	char text[300], pct[8] = "", folder[160] = "";

	progress_report_read(st, &cp);
	frac = ctl_progress_fraction(&cp);
	if (frac >= 0)
		snprintf(pct, sizeof(pct), "%3.0f%% ", frac * 100.0);
	/* The folder last: the line is cut at the terminal's width, and
	 * the numbers are what must stay in sight. */
	if (cp.folder[0] != '\0')
		snprintf(folder, sizeof(folder), " (%s)", cp.folder);
	cp.folder = NULL;
	snprintf(out, size, "%s %s%s%s", name, pct,
		 ctl_progress_text(&cp, text, sizeof(text)), folder);
	return out;
}

static struct progress_report_acct *
progress_report_find(struct progress_report *r, struct acct *a)
{
	struct progress_report_acct *v;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].a == a)
			return &r->v[i];
	if ((v = realloc(r->v, (r->n + 1) * sizeof(*v))) == NULL)
		return NULL;	/* no report is no harm */
	r->v = v;
	memset(&v[r->n], 0, sizeof(v[r->n]));
	v[r->n].a = a;
	return &v[r->n++];
}

/* The terminal's lines: one per account with a pass running long
 * enough to have one. */
static void
progress_report_draw(const struct progress_report *r)
{
	char text[LOG_STATUS_MAX];
	size_t pos = 0;

	text[0] = '\0';
	for (size_t i = 0; i < r->n; i++) {
		const struct progress_report_acct *e = &r->v[i];

		if (!e->is_syncing || e->line[0] == '\0' ||
		    pos >= sizeof(text))
			continue;
		pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "%s%s",
					pos > 0 ? "\n" : "", e->line);
	}
	log_status_set(text);
}

/* A pass's progress moved: the terminal's line, or a log line when
 * every_ms of the pass went by since the last one. */
static void
progress_report_moved(struct progress_report *r,
		      struct progress_report_acct *e, struct acct *a)
{
	const struct acct_status *st = acct_status(a);
	struct ctl_progress cp;
	char text[300];
	double every = (double)r->every_ms / 1000.0;

	if (!e->is_syncing) {
		e->is_syncing = true;
		e->next_log_s = every;
	}
	if (r->is_terminal) {
		if (st->progress.seconds < PROGRESS_REPORT_DRAW_AFTER_S)
			return;
		progress_report_line(acct_name(a), st, e->line,
				     sizeof(e->line));
		progress_report_draw(r);
		return;
	}
	if (st->progress.seconds < e->next_log_s)
		return;
	/* The next line one interval on, skipping the ones a stall ate. */
	while (e->next_log_s <= st->progress.seconds)
		e->next_log_s += every;
	progress_report_read(st, &cp);
	log_info("acct=%s syncing %s", acct_name(a),
		 ctl_progress_text(&cp, text, sizeof(text)));
}

void
progress_report_event(struct progress_report *r, struct acct *a,
		      enum acct_event ev)
{
	struct progress_report_acct *e = progress_report_find(r, a);
	bool was_drawn;

	if (e == NULL)
		return;
	if (ev == ACCT_EV_PROGRESS &&
	    acct_status(a)->state == ACCT_SYNCING) {
		progress_report_moved(r, e, a);
		return;
	}
	if (ev == ACCT_EV_PROGRESS || !e->is_syncing)
		return;
	/* A pass ended, or the account left SYNCING (stopped, paused): its
	 * line goes; the next pass starts counting anew. */
	if (ev == ACCT_EV_PASS_DONE ||
	    acct_status(a)->state != ACCT_SYNCING) {
		was_drawn = e->line[0] != '\0';
		e->is_syncing = false;
		e->line[0] = '\0';
		if (r->is_terminal && was_drawn)
			progress_report_draw(r);
	}
}

void
progress_report_forget(struct progress_report *r, struct acct *a)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].a != a)
			continue;
		memmove(&r->v[i], &r->v[i + 1],
			(r->n - i - 1) * sizeof(*r->v));
		r->n--;
		if (r->is_terminal)
			progress_report_draw(r);
		return;
	}
}

void
progress_report_deinit(struct progress_report *r)
{
	if (r->is_terminal)
		log_status_set(NULL);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}
