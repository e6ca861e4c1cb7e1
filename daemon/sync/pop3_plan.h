/*
 * pop3_plan.h - what a POP3 pass does with each message the server lists,
 * decided without I/O so that a unit test can drive it (test_pop3_plan).
 *
 * Identity.  A message is known by its key: its UIDL, or, on a server
 * without UIDL, "TOP0 <size> <sha256 of the TOP n 0 header, hex>" (a
 * weaker identity: two messages with equal size and equal headers are one,
 * and a server that rewrites headers makes a message new again).  A key
 * that repeats in one listing (a broken server's duplicate UIDLs, or two
 * messages with equal header and size) is ambiguous: the first keeps the
 * key, the later ones get " #2", " #3"... appended, and none of them is
 * ever deleted from the server, whatever the policy says, since which one
 * a stored record means cannot be told.
 *
 * Policy.  keep = no deletes a message once it is in the store; keep = yes
 * with delete_after_days = N deletes one first stored N days ago or
 * earlier; a stored deletion that is owed (store_pop3.is_deleted) is done
 * whatever the policy now says.
 */
#ifndef MS_POP3_PLAN_H
#define MS_POP3_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define POP3_PLAN_TOP_PREFIX "TOP0 "

enum pop3_plan_action {
	POP3_PLAN_HAVE = 0,	/* stored; stays on the server */
	POP3_PLAN_FETCH,	/* not stored: RETR it */
	POP3_PLAN_DELETE,	/* stored; DELE it */
};

/*
 * One message of the listing.  The key is a pointer, not an array: a
 * listing holds every message the server has (100,000 in a large
 * maildrop), and a UIDL is usually some 20 bytes of the 128 a key may
 * have.
 */
struct pop3_plan_msg {
	const char *key;		/* "" until known; NUL-terminated, in
					 * the caller's storage (or in
					 * pop3_plan_disambiguate()'s) */
	uint64_t size;			/* LIST's octets */
	size_t rec;			/* the stored record's index, if any */
	uint32_t num;			/* its number in this session */
	enum pop3_plan_action action;
	bool is_ambiguous;
};

struct pop3_plan_policy {
	bool keep;
	unsigned delete_after_days;	/* 0: never (with keep) */
	int64_t now;			/* seconds since the epoch */
};

/* The fallback key of a message without UIDL into key (STORE_UIDL_MAX+1
 * bytes). */
void pop3_plan_top_key(uint64_t size, const uint8_t hash[STORE_HASH_LEN],
		       char *key);

/* True for a key made by pop3_plan_top_key(). */
bool pop3_plan_is_top_key(const char *key);

/*
 * Marks repeated keys ambiguous and makes every key unique (see above),
 * in message-number order: the later copies' keys then point into
 * *keys_r, one buffer the caller frees (NULL when no key repeats).
 * MS_OK or MS_ENOMEM (keys unchanged).
 */
int pop3_plan_disambiguate(struct pop3_plan_msg *msgs, size_t n,
			   char **keys_r) MS_WUR;

/* Whether policy wants the stored message rec deleted from the server. */
bool pop3_plan_want_delete(const struct pop3_plan_policy *policy,
			   const struct store_pop3 *rec, bool is_ambiguous);

/*
 * Sets each message's action against the account's records (recs, sorted
 * by uidl as store_pop3_list() returns them).  is_seen_r (nrecs entries,
 * caller-owned) tells which records the listing holds: a record it does
 * not hold is for a message the server no longer has (or for the other
 * kind of key than this pass uses: is_top_keys says which kind the pass
 * uses, and the caller prunes only records of that kind).
 */
void pop3_plan_decide(struct pop3_plan_msg *msgs, size_t n,
		      const struct store_pop3_entry *recs, size_t nrecs,
		      const struct pop3_plan_policy *policy, bool *is_seen_r);

#endif
