/* maildir_expect.c - announced events of our own Maildir writes (see
 * maildir_expect.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "maildir/maildir_expect.h"

/* One announcement: dir and name in one allocation ("dir\0name\0"). */
struct maildir_expect_entry {
	uint64_t at_ns;		/* uv_hrtime() when announced */
	enum maildir_sub sub;
	enum maildir_expect_kind kind;
	char *dir;
	const char *name;	/* inside dir's allocation */
};

struct maildir_expect {
	uv_mutex_t mu;
	uint64_t ttl_ns;
	/* Oldest first: an expired entry is always at the front. */
	struct maildir_expect_entry v[MAILDIR_EXPECT_MAX];
	unsigned n;
};

struct maildir_expect *
maildir_expect_new(unsigned ttl_ms)
{
	struct maildir_expect *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	if (uv_mutex_init(&e->mu) != 0) {
		free(e);
		return NULL;
	}
	e->ttl_ns = (uint64_t)ttl_ms * 1000000u;
	return e;
}

void
maildir_expect_free(struct maildir_expect **ep)
{
	struct maildir_expect *e = *ep;

	if (e == NULL)
		return;
	*ep = NULL;
	for (unsigned i = 0; i < e->n; i++)
		free(e->v[i].dir);
	uv_mutex_destroy(&e->mu);
	free(e);
}

/* Removes entry i, keeping the order. */
static void
maildir_expect_remove(struct maildir_expect *e, unsigned i)
{
	free(e->v[i].dir);
	memmove(&e->v[i], &e->v[i + 1], (e->n - i - 1) * sizeof(e->v[0]));
	e->n--;
}

/* Drops the announcements older than the time to live.  Under mu. */
static void
maildir_expect_expire(struct maildir_expect *e, uint64_t now)
{
	unsigned k = 0;

	while (k < e->n && now - e->v[k].at_ns > e->ttl_ns)
		free(e->v[k++].dir);
	if (k == 0)
		return;
	memmove(&e->v[0], &e->v[k], (e->n - k) * sizeof(e->v[0]));
	e->n -= k;
}

/* The newest entry that matches, or e->n.  Under mu. */
static unsigned
maildir_expect_find(const struct maildir_expect *e, const char *dir,
		    enum maildir_sub sub, enum maildir_expect_kind kind,
		    const char *name)
{
	for (unsigned i = e->n; i-- > 0;)
		if (e->v[i].sub == sub && e->v[i].kind == kind &&
		    strcmp(e->v[i].name, name) == 0 &&
		    strcmp(e->v[i].dir, dir) == 0)
			return i;
	return e->n;
}

void
maildir_expect_add(struct maildir_expect *e, const char *dir,
		   enum maildir_sub sub, enum maildir_expect_kind kind,
		   const char *name)
{
	size_t dlen, nlen;
	char *p;

	if (e == NULL)
		return;
	dlen = strlen(dir);
	nlen = strlen(name);
	if ((p = malloc(dlen + nlen + 2)) == NULL)
		return;		/* unannounced: its event scans */
	memcpy(p, dir, dlen + 1);
	memcpy(p + dlen + 1, name, nlen + 1);
	uv_mutex_lock(&e->mu);
	maildir_expect_expire(e, uv_hrtime());
	if (e->n == MAILDIR_EXPECT_MAX) {
		uv_mutex_unlock(&e->mu);
		free(p);
		return;
	}
	e->v[e->n].at_ns = uv_hrtime();
	e->v[e->n].sub = sub;
	e->v[e->n].kind = kind;
	e->v[e->n].dir = p;
	e->v[e->n].name = p + dlen + 1;
	e->n++;
	uv_mutex_unlock(&e->mu);
}

/* Removes the newest match; true when there was one. */
static bool
maildir_expect_consume(struct maildir_expect *e, const char *dir,
		       enum maildir_sub sub, enum maildir_expect_kind kind,
		       const char *name)
{
	bool is_found;
	unsigned i;

	if (e == NULL)
		return false;
	uv_mutex_lock(&e->mu);
	maildir_expect_expire(e, uv_hrtime());
	i = maildir_expect_find(e, dir, sub, kind, name);
	is_found = i < e->n;
	if (is_found)
		maildir_expect_remove(e, i);
	uv_mutex_unlock(&e->mu);
	return is_found;
}

void
maildir_expect_cancel(struct maildir_expect *e, const char *dir,
		      enum maildir_sub sub, enum maildir_expect_kind kind,
		      const char *name)
{
	(void)maildir_expect_consume(e, dir, sub, kind, name);
}

bool
maildir_expect_take(struct maildir_expect *e, const char *dir,
		    enum maildir_sub sub, enum maildir_expect_kind kind,
		    const char *name)
{
	return maildir_expect_consume(e, dir, sub, kind, name);
}

unsigned
maildir_expect_count(struct maildir_expect *e)
{
	unsigned n;

	if (e == NULL)
		return 0;
	uv_mutex_lock(&e->mu);
	maildir_expect_expire(e, uv_hrtime());
	n = e->n;
	uv_mutex_unlock(&e->mu);
	return n;
}
