/*
 * progress_report.h - what a person running mailsyncd sees of a long
 * pass, made from the account runtimes' events (acct.h: ACCT_EV_STATE,
 * ACCT_EV_PROGRESS, ACCT_EV_PASS_DONE), the same events the control
 * socket forwards to `mailsyncctl sync --wait` and `watch`, worded the
 * same way (ctl/ctl_progress.h):
 *   - on a terminal (--once with stderr a terminal): a line per syncing
 *     account, redrawn in place below the log (log_status_set()) and
 *     erased when its pass ends;
 *   - elsewhere (a log file, the journal, the foreground daemon): a log
 *     line per syncing account every every_ms of its pass, the first one
 *     every_ms into it, so a short pass (every poll of a quiet account)
 *     logs none.
 * Timing comes from the pass's own clock (acct_progress.seconds), so the
 * report needs no timer; a line can only come with a progress event
 * (at most 4 a second, and at each folder's start and end).
 * Loop thread only.
 */
#ifndef MS_PROGRESS_REPORT_H
#define MS_PROGRESS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acct/acct.h"

/* The interval of plain lines when MAILSYNC_PROGRESS_MS does not say. */
#define PROGRESS_REPORT_EVERY_MS 5000u

struct progress_report_acct;

struct progress_report {
	bool is_terminal;
	uint64_t every_ms;
	struct progress_report_acct *v;	/* owned; one per account seen */
	size_t n;
};

/*
 * Sets r up: is_terminal draws lines on stderr (the caller checked it is
 * a terminal and not the journal), else every_ms spaces the log lines (0:
 * $MAILSYNC_PROGRESS_MS, else PROGRESS_REPORT_EVERY_MS).
 */
void progress_report_init(struct progress_report *r, bool is_terminal,
			  uint64_t every_ms);

/* An account's event, as the owner of its runtime gets it. */
void progress_report_event(struct progress_report *r, struct acct *a,
			   enum acct_event ev);

/* An account goes away (a reload removed it): its line with it. */
void progress_report_forget(struct progress_report *r, struct acct *a);

/* Erases what is drawn and frees what r holds; r can be set up again. */
void progress_report_deinit(struct progress_report *r);

/*
 * The terminal's line of an account (pure, for tests):
 * "work  45% 3/9 folders, 1200/5000 messages, ..., ETA 35s (INBOX)"
 */
char *progress_report_line(const char *name, const struct acct_status *st,
			   char *out, size_t size);

#endif
