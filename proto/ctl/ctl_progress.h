/*
 * ctl_progress.h - the one text of a running pass's progress, as the
 * control protocol's "progress" object carries it (mailsyncctl(1)), so
 * that `mailsyncctl sync --wait`, `status` and `watch`, and mailsyncd's
 * own progress (--once on a terminal, the log) say it the same way:
 *
 *	INBOX: 3/9 folders, 1200/5000 messages, 12.3 MB of 80.1 MB,
 *	2.1 MB/s, ETA 35s
 *
 * A total of 0 is not known and is left out ("1200 messages"); a done
 * count above its total (the totals are the server's announcement, an
 * estimate) shows the total as the count.  Pure: no clock, no I/O.
 */
#ifndef MS_CTL_PROGRESS_H
#define MS_CTL_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct ctl_progress {
	const char *folder;		/* being synced; NULL or "": none */
	uint64_t folders_done, folders_total;
	uint64_t msgs_done, msgs_total;
	uint64_t bytes_done, bytes_total;
	double seconds;			/* since the pass started */
	double rate_bps;		/* body bytes per second */
};

/*
 * How far the pass is, 0.0 to 1.0, by bytes when their total is known,
 * else by messages, else by folders; -1.0 when nothing is known.
 */
double ctl_progress_fraction(const struct ctl_progress *p);

/*
 * Seconds left at the pass's rate so far, or -1.0 when that cannot be
 * told yet (under 2 s in, nothing done, no total).
 */
double ctl_progress_eta(const struct ctl_progress *p);

/* "1.5 kB", "12.3 MB", "512 B" (powers of 1000) in out; returns out. */
char *ctl_progress_size(uint64_t bytes, char *out, size_t size);

/* "35s", "4m05s", "2h10m" in out; returns out. */
char *ctl_progress_duration(double secs, char *out, size_t size);

/* The line above (without a folder: from the counts on) in out, which is
 * always NUL-terminated and cut when too small; returns out. */
char *ctl_progress_text(const struct ctl_progress *p, char *out,
			size_t size);

#endif
