/* ctl_progress.c - the text of a pass's progress (ctl_progress.h). */
#include "ctl/ctl_progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Seconds into a pass before a rate says anything about what is left. */
#define CTL_PROGRESS_ETA_AFTER 2.0

double
ctl_progress_fraction(const struct ctl_progress *p)
{
	uint64_t done, total;

	if (p->bytes_total > 0) {
		done = p->bytes_done;
		total = p->bytes_total;
	} else if (p->msgs_total > 0) {
		done = p->msgs_done;
		total = p->msgs_total;
	} else if (p->folders_total > 0) {
		done = p->folders_done;
		total = p->folders_total;
	} else {
		return -1.0;
	}
	return done >= total ? 1.0 : (double)done / (double)total;
}

double
ctl_progress_eta(const struct ctl_progress *p)
{
	double frac;

	if (p->seconds < CTL_PROGRESS_ETA_AFTER)
		return -1.0;
	/* By bytes at the measured rate: messages differ too much in size
	 * for their count to predict the time left. */
	if (p->bytes_total > 0 && p->rate_bps > 0)
		return p->bytes_done >= p->bytes_total ? 0.0 :
			(double)(p->bytes_total - p->bytes_done) / p->rate_bps;
	if (p->msgs_total == 0 || p->msgs_done == 0)
		return -1.0;
	frac = ctl_progress_fraction(p);
	return frac >= 1.0 ? 0.0 : p->seconds / frac - p->seconds;
}

char *
ctl_progress_size(uint64_t bytes, char *out, size_t size)
{
	static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)bytes;
	unsigned i = 0;

	while (v >= 1000.0 && i < 4) {
		v /= 1000.0;
		i++;
	}
	if (i == 0)
		snprintf(out, size, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, size, "%.1f %s", v, unit[i]);
	return out;
}

char *
ctl_progress_duration(double secs, char *out, size_t size)
{
	unsigned long long s = secs < 0 ? 0 : (unsigned long long)(secs + 0.5);

	if (s < 60)
		snprintf(out, size, "%llus", s);
	else if (s < 3600)
		snprintf(out, size, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(out, size, "%lluh%02llum", s / 3600, s / 60 % 60);
	return out;
}

/* Appends to out at *pos, keeping *pos within size. */
static void ctl_progress_add(char *out, size_t size, size_t *pos,
			     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
ctl_progress_add(char *out, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *pos, size - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n < size - *pos ? (size_t)n : size - *pos - 1;
}

/* "done/total" or "done" of what (total unknown); a total the count
 * passed shows as the count. */
static void
ctl_progress_count(char *out, size_t size, size_t *pos, uint64_t done,
		   uint64_t total, const char *what)
{
	if (total == 0)
		ctl_progress_add(out, size, pos, "%llu %s",
				 (unsigned long long)done, what);
	else
		ctl_progress_add(out, size, pos, "%llu/%llu %s",
				 (unsigned long long)done,
				 (unsigned long long)(total > done ? total :
						      done), what);
}

char *
ctl_progress_text(const struct ctl_progress *p, char *out, size_t size)
{
	char a[32], b[32];
	size_t pos = 0;
	double eta = ctl_progress_eta(p);

	if (size == 0)
		return out;
	out[0] = '\0';
	if (p->folder != NULL && p->folder[0] != '\0')
		ctl_progress_add(out, size, &pos, "%s: ", p->folder);
	ctl_progress_count(out, size, &pos, p->folders_done, p->folders_total,
			   "folders");
	ctl_progress_add(out, size, &pos, ", ");
	ctl_progress_count(out, size, &pos, p->msgs_done, p->msgs_total,
			   "messages");
	ctl_progress_size(p->bytes_done, a, sizeof(a));
	if (p->bytes_total > 0)
		ctl_progress_add(out, size, &pos, ", %s of %s", a,
				 ctl_progress_size(p->bytes_total >
						   p->bytes_done ?
						   p->bytes_total :
						   p->bytes_done, b,
						   sizeof(b)));
	else
		ctl_progress_add(out, size, &pos, ", %s", a);
	ctl_progress_add(out, size, &pos, ", %s/s",
			 ctl_progress_size((uint64_t)(p->rate_bps > 0 ?
						      p->rate_bps : 0), a,
					   sizeof(a)));
	if (eta >= 0)
		ctl_progress_add(out, size, &pos, ", ETA %s",
				 ctl_progress_duration(eta, a, sizeof(a)));
	return out;
}
