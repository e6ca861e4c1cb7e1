/*
 * sync_date.c - IMAP date-time conversion (sync_date.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sync/sync_date.h"

static const char sync_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Reads n decimal digits at *pp into *v; false if they are not digits. */
static bool
sync_date_digits(const uint8_t **pp, const uint8_t *end, int n, int *v)
{
	int x = 0;

	if (end - *pp < n)
		return false;
	for (int i = 0; i < n; i++) {
		uint8_t c = (*pp)[i];

		if (c < '0' || c > '9')
			return false;
		x = x * 10 + (c - '0');
	}
	*pp += n;
	*v = x;
	return true;
}

static bool
sync_date_char(const uint8_t **pp, const uint8_t *end, uint8_t c)
{
	if (*pp >= end || **pp != c)
		return false;
	(*pp)++;
	return true;
}

int
sync_date_parse(struct ms_slice text, int64_t *t_r)
{
	const uint8_t *p = text.p, *end = text.p + text.len;
	int day, year, hh, mm, ss, zh, zm, mon = -1, sign;
	struct tm tm;
	time_t t;

	if (p < end && *p == ' ')
		p++;
	if (end - p >= 2 && p[1] == '-') {
		if (!sync_date_digits(&p, end, 1, &day))
			return MS_EINVAL;
	} else if (!sync_date_digits(&p, end, 2, &day)) {
		return MS_EINVAL;
	}
	if (!sync_date_char(&p, end, '-') || end - p < 4)
		return MS_EINVAL;
	for (int i = 0; i < 12; i++)
		if (strncasecmp((const char *)p, sync_months[i], 3) == 0)
			mon = i;
	p += 3;
	if (mon < 0 || !sync_date_char(&p, end, '-') ||
	    !sync_date_digits(&p, end, 4, &year) ||
	    !sync_date_char(&p, end, ' ') ||
	    !sync_date_digits(&p, end, 2, &hh) ||
	    !sync_date_char(&p, end, ':') ||
	    !sync_date_digits(&p, end, 2, &mm) ||
	    !sync_date_char(&p, end, ':') ||
	    !sync_date_digits(&p, end, 2, &ss) ||
	    !sync_date_char(&p, end, ' ') || p >= end)
		return MS_EINVAL;
	if (*p != '+' && *p != '-')
		return MS_EINVAL;
	sign = *p++ == '-' ? -1 : 1;
	if (!sync_date_digits(&p, end, 2, &zh) ||
	    !sync_date_digits(&p, end, 2, &zm) || p != end)
		return MS_EINVAL;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || zm > 59)
		return MS_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	*t_r = (int64_t)t - sign * (int64_t)(zh * 3600 + zm * 60);
	return MS_OK;
}

void
sync_date_format(int64_t t, char buf[SYNC_DATE_TEXT_MAX])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	/* The modulos only tell the compiler the widths. */
	snprintf(buf, SYNC_DATE_TEXT_MAX, "%02u-%.3s-%04u %02u:%02u:%02u +0000",
		 (unsigned)tm.tm_mday % 100u,
		 sync_months[(unsigned)tm.tm_mon % 12u],
		 (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
		 (unsigned)tm.tm_sec % 100u);
}
