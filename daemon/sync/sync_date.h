/*
 * sync_date.h - IMAP date-time ("17-Jul-1996 02:44:25 -0700", INTERNALDATE
 * and APPEND) to and from seconds since the epoch.
 */
#ifndef MS_SYNC_DATE_H
#define MS_SYNC_DATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/ms.h"

/* MS_OK with *t_r, or MS_EINVAL for text that is not a date-time (the
 * day may have a leading space, as RFC 3501 allows). */
int sync_date_parse(struct ms_slice text, int64_t *t_r) MS_WUR;

/* Writes t as "dd-Mon-yyyy hh:mm:ss +0000" (26 bytes and NUL; the buffer
 * has room for any year). */
#define SYNC_DATE_TEXT_MAX 64
void sync_date_format(int64_t t, char buf[SYNC_DATE_TEXT_MAX]);

#endif
