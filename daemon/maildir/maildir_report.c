/*
 * maildir_report.c - the set of paths already reported (maildir_report.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "maildir/maildir_report.h"

void
maildir_report_init(struct maildir_report *r, maildir_report_cb cb, void *arg)
{
	memset(r, 0, sizeof(*r));
	r->cb = cb;
	r->arg = arg;
}

void
maildir_report_deinit(struct maildir_report *r)
{
	for (size_t i = 0; i < r->nslots; i++)
		free(r->slots[i]);
	free(r->slots);
	memset(r, 0, sizeof(*r));
}

static size_t
maildir_report_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Returns the slot holding s, or the empty slot where it would go. */
static char **
maildir_report_slot(char **slots, size_t nslots, const char *s)
{
	size_t i = maildir_report_hash(s) & (nslots - 1);

	while (slots[i] != NULL && strcmp(slots[i], s) != 0)
		i = (i + 1) & (nslots - 1);
	return &slots[i];
}

static bool
maildir_report_grow(struct maildir_report *r)
{
	size_t n = r->nslots != 0 ? r->nslots * 2 : 16;
	char **slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return false;
	for (size_t i = 0; i < r->nslots; i++)
		if (r->slots[i] != NULL)
			*maildir_report_slot(slots, n, r->slots[i]) = r->slots[i];
	free(r->slots);
	r->slots = slots;
	r->nslots = n;
	return true;
}

void
maildir_report_note(struct maildir_report *r, const char *path, const char *why)
{
	char **slot;

	if (r == NULL)
		return;
	if (r->nslots != 0 && *maildir_report_slot(r->slots, r->nslots, path) != NULL)
		return;
	/* Keep the table at most half full. */
	if ((r->nused + 1) * 2 > r->nslots && !maildir_report_grow(r)) {
		if (r->cb != NULL)	/* cannot remember: report anyway */
			r->cb(path, why, r->arg);
		return;
	}
	slot = maildir_report_slot(r->slots, r->nslots, path);
	*slot = strdup(path);
	if (*slot != NULL)
		r->nused++;
	if (r->cb != NULL)
		r->cb(path, why, r->arg);
}
