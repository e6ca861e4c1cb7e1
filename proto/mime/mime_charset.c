/*
 * mime_charset.c - charset conversions to UTF-8, opened once per charset
 * and shared by the process's threads (mime_charset.h).
 */
#include "mime/mime_charset.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/*
 * Names real mail uses that glibc's iconv does not know, or knows as a
 * narrower set than senders actually use (GB2312 mail is written by GBK
 * encoders; ISO-8859-1 and US-ASCII labels hide windows-1252, as the WHATWG
 * encoding standard also assumes).
 */
static const struct {
	const char *label;
	const char *iconv_name;
} mime_charset_aliases[] = {
	{ "ks_c_5601-1987", "cp949" },
	{ "ks_c_5601", "cp949" },
	{ "euc-kr", "cp949" },
	{ "gb2312", "gb18030" },
	{ "gbk", "gb18030" },
	{ "x-gbk", "gb18030" },
	{ "iso-8859-8-i", "iso-8859-8" },
	{ "iso-8859-6-i", "iso-8859-6" },
	{ "x-sjis", "shift_jis" },
	{ "shift-jis", "shift_jis" },
	{ "iso-8859-1", "windows-1252" },
	{ "iso8859-1", "windows-1252" },
	{ "latin1", "windows-1252" },
	{ "us-ascii", "windows-1252" },
	{ "ascii", "windows-1252" },
};

/* Warmed at start-up: the charsets of most non-UTF-8 mail. */
static const char *const mime_charset_common[] = {
	"windows-1252", "iso-8859-2", "iso-8859-15", "windows-1250",
	"windows-1251", "koi8-r", "iso-2022-jp", "shift_jis", "gb18030",
	"big5", "cp949",
};

#define MIME_CHARSET_NAME 48

struct mime_charset_entry {
	char name[MIME_CHARSET_NAME];	/* resolved, lower case */
	iconv_t idle[MIME_CHARSET_IDLE_MAX];
	unsigned n_idle;
};

static pthread_mutex_t mime_charset_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mime_charset_entry mime_charset_table[MIME_CHARSET_MAX];
static unsigned mime_charset_n;
static uint64_t mime_charset_n_opens;

static int
mime_charset_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* The iconv name of label, lower case, into name; false if too long. */
static bool
mime_charset_resolve(const uint8_t *label, size_t len,
		     char name[MIME_CHARSET_NAME])
{
	if (len == 0 || len >= MIME_CHARSET_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		name[i] = (char)mime_charset_lower(label[i]);
	name[len] = '\0';
	for (size_t i = 0; i < sizeof(mime_charset_aliases) /
			       sizeof(mime_charset_aliases[0]); i++) {
		if (strcmp(name, mime_charset_aliases[i].label) == 0) {
			snprintf(name, MIME_CHARSET_NAME, "%s",
				 mime_charset_aliases[i].iconv_name);
			break;
		}
	}
	return true;
}

/* The entry of name, or NULL; with the lock held. */
static struct mime_charset_entry *
mime_charset_find(const char *name)
{
	for (unsigned i = 0; i < mime_charset_n; i++)
		if (strcmp(mime_charset_table[i].name, name) == 0)
			return &mime_charset_table[i];
	return NULL;
}

bool
mime_charset_get(const uint8_t *label, size_t len, iconv_t *cd_r)
{
	char name[MIME_CHARSET_NAME];
	struct mime_charset_entry *e;
	iconv_t cd;

	*cd_r = (iconv_t)-1;
	if (!mime_charset_resolve(label, len, name))
		return false;
	pthread_mutex_lock(&mime_charset_lock);
	e = mime_charset_find(name);
	if (e != NULL && e->n_idle > 0) {
		*cd_r = e->idle[--e->n_idle];
		pthread_mutex_unlock(&mime_charset_lock);
		return true;
	}
	mime_charset_n_opens++;
	pthread_mutex_unlock(&mime_charset_lock);
	/* Outside the lock: a module load must not hold up other threads. */
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return false;
	*cd_r = cd;
	return true;
}

void
mime_charset_put(const uint8_t *label, size_t len, iconv_t cd)
{
	char name[MIME_CHARSET_NAME];
	struct mime_charset_entry *e;

	if (cd == (iconv_t)-1)
		return;
	if (!mime_charset_resolve(label, len, name)) {
		iconv_close(cd);
		return;
	}
	/* Back to the initial state for the next user. */
	(void)iconv(cd, NULL, NULL, NULL, NULL);
	pthread_mutex_lock(&mime_charset_lock);
	e = mime_charset_find(name);
	if (e == NULL && mime_charset_n < MIME_CHARSET_MAX) {
		e = &mime_charset_table[mime_charset_n++];
		memcpy(e->name, name, sizeof(e->name));
		e->n_idle = 0;
	}
	if (e != NULL && e->n_idle < MIME_CHARSET_IDLE_MAX) {
		e->idle[e->n_idle++] = cd;
		cd = (iconv_t)-1;
	}
	pthread_mutex_unlock(&mime_charset_lock);
	if (cd != (iconv_t)-1)
		iconv_close(cd);
}

void
mime_charset_warm(void)
{
	for (size_t i = 0; i < sizeof(mime_charset_common) /
			       sizeof(mime_charset_common[0]); i++) {
		const uint8_t *label = (const uint8_t *)mime_charset_common[i];
		size_t len = strlen(mime_charset_common[i]);
		iconv_t cd;

		if (mime_charset_get(label, len, &cd))
			mime_charset_put(label, len, cd);
	}
}

uint64_t
mime_charset_opens(void)
{
	uint64_t n;

	pthread_mutex_lock(&mime_charset_lock);
	n = mime_charset_n_opens;
	pthread_mutex_unlock(&mime_charset_lock);
	return n;
}

void
mime_charset_clear(void)
{
	pthread_mutex_lock(&mime_charset_lock);
	for (unsigned i = 0; i < mime_charset_n; i++)
		for (unsigned k = 0; k < mime_charset_table[i].n_idle; k++)
			iconv_close(mime_charset_table[i].idle[k]);
	mime_charset_n = 0;
	pthread_mutex_unlock(&mime_charset_lock);
}
