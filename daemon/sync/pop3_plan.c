/*
 * pop3_plan.c - keys, ambiguity and the keep/delete policy of a POP3 pass
 * (pop3_plan.h).
 */
#include "sync/pop3_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
pop3_plan_top_key(uint64_t size, const uint8_t hash[STORE_HASH_LEN],
		  char *key)
{
	int n = snprintf(key, STORE_UIDL_MAX + 1, POP3_PLAN_TOP_PREFIX "%llu ",
			 (unsigned long long)size);

	for (size_t i = 0; i < STORE_HASH_LEN && n + 2 <= STORE_UIDL_MAX; i++)
		n += snprintf(key + n, STORE_UIDL_MAX + 1 - (size_t)n, "%02x",
			      hash[i]);
}

bool
pop3_plan_is_top_key(const char *key)
{
	return strncmp(key, POP3_PLAN_TOP_PREFIX,
		       sizeof(POP3_PLAN_TOP_PREFIX) - 1) == 0;
}

static const struct pop3_plan_msg *pop3_plan_sort_base;

static int
pop3_plan_cmp_idx(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(pop3_plan_sort_base[i].key, pop3_plan_sort_base[j].key);

	/* Equal keys stay in message-number order. */
	if (c != 0)
		return c;
	return i < j ? -1 : i > j;
}

/* The key of the k-th copy (k >= 1: " #2" for the second) of key into
 * out (NULL: only its length); its length without the NUL. */
static size_t
pop3_plan_renamed(const char *key, size_t k, char *out)
{
	char suffix[24];
	size_t kl = strlen(key);
	size_t sl = (size_t)snprintf(suffix, sizeof(suffix), " #%zu", k + 1);

	/* A UIDL is at most 70 bytes (RFC 1939), so this fits unless a
	 * server breaks that too. */
	if (kl + sl > STORE_UIDL_MAX)
		kl = STORE_UIDL_MAX - sl;
	if (out != NULL) {
		memcpy(out, key, kl);
		memcpy(out + kl, suffix, sl + 1);
	}
	return kl + sl;
}

int
pop3_plan_disambiguate(struct pop3_plan_msg *msgs, size_t n, char **keys_r)
{
	size_t *idx;
	size_t i, j, need = 0;
	char *keys, *at;

	*keys_r = NULL;
	if (n < 2)
		return MS_OK;
	if ((idx = malloc(n * sizeof(*idx))) == NULL)
		return MS_ENOMEM;
	for (i = 0; i < n; i++)
		idx[i] = i;
	pop3_plan_sort_base = msgs;
	qsort(idx, n, sizeof(*idx), pop3_plan_cmp_idx);
	pop3_plan_sort_base = NULL;
	/* Two walks over the runs of equal keys: the room the renamed keys
	 * need, then (in one buffer) the keys themselves. */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(msgs[idx[i]].key,
						msgs[idx[j]].key) == 0; j++)
			need += pop3_plan_renamed(msgs[idx[i]].key, j - i,
						  NULL) + 1;
	}
	if (need == 0) {
		free(idx);
		return MS_OK;
	}
	if ((keys = malloc(need)) == NULL) {
		free(idx);
		return MS_ENOMEM;
	}
	at = keys;
	for (i = 0; i < n; i = j) {
		const char *key = msgs[idx[i]].key;

		for (j = i + 1; j < n && strcmp(key, msgs[idx[j]].key) == 0;
		     j++) {
			struct pop3_plan_msg *m = &msgs[idx[j]];

			m->is_ambiguous = true;
			m->key = at;
			at += pop3_plan_renamed(key, j - i, at) + 1;
		}
		if (j - i > 1)
			msgs[idx[i]].is_ambiguous = true;
	}
	free(idx);
	*keys_r = keys;
	return MS_OK;
}

bool
pop3_plan_want_delete(const struct pop3_plan_policy *policy,
		      const struct store_pop3 *rec, bool is_ambiguous)
{
	int64_t age;

	if (is_ambiguous)
		return false;
	if (rec->is_deleted || !policy->keep)
		return true;
	if (policy->delete_after_days == 0)
		return false;
	age = policy->now - rec->fetched;
	return age >= (int64_t)policy->delete_after_days * 86400;
}

static size_t
pop3_plan_find(const struct store_pop3_entry *recs, size_t nrecs,
	       const char *key)
{
	size_t lo = 0, hi = nrecs;

	/* memcmp order of NUL-terminated strings is strcmp order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(recs[mid].uidl, key);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return nrecs;
}

void
pop3_plan_decide(struct pop3_plan_msg *msgs, size_t n,
		 const struct store_pop3_entry *recs, size_t nrecs,
		 const struct pop3_plan_policy *policy, bool *is_seen_r)
{
	memset(is_seen_r, 0, nrecs * sizeof(*is_seen_r));
	for (size_t i = 0; i < n; i++) {
		struct pop3_plan_msg *m = &msgs[i];
		size_t r = pop3_plan_find(recs, nrecs, m->key);

		m->rec = r;
		if (r == nrecs) {
			m->action = POP3_PLAN_FETCH;
			continue;
		}
		is_seen_r[r] = true;
		m->action = pop3_plan_want_delete(policy, &recs[r].rec,
						  m->is_ambiguous) ?
			    POP3_PLAN_DELETE : POP3_PLAN_HAVE;
	}
}
