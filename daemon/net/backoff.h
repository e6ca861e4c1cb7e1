/*
 * backoff.h - reconnect delays: exponential backoff with full jitter from
 * BACKOFF_MIN_MS up to BACKOFF_MAX_MS, reset after a good session.
 *
 * Pure: the caller injects the clock (milliseconds since the Unix epoch,
 * so status can print a wall-clock time) and the random number, so tests
 * can pin every value.  No I/O, no allocation.
 */
#ifndef MS_NET_BACKOFF_H
#define MS_NET_BACKOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS (5u * 60u * 1000u)

/* Caller-owned state of one account's reconnect loop. */
struct backoff {
	unsigned attempt;	/* failures since the last good session */
	uint64_t until_ms;	/* no reconnect before this time; 0 = none */
	uint64_t delay_ms;	/* the delay last chosen */
	uint64_t max_ms;	/* the cap; BACKOFF_MAX_MS unless set */
};

/* Attempt 0, cap BACKOFF_MAX_MS. */
void backoff_init(struct backoff *b);

/* Another cap (at least BACKOFF_MIN_MS); kept by backoff_reset(). */
void backoff_set_max(struct backoff *b, uint64_t max_ms);

/*
 * The upper bound of the delay after the attempt-th consecutive failure
 * (attempt 0 is the first): BACKOFF_MIN_MS * 2^attempt, capped at
 * BACKOFF_MAX_MS.
 */
uint64_t backoff_ceiling_ms(unsigned attempt);

/*
 * The delay for the attempt-th failure given a uniformly random rnd: full
 * jitter, uniform in [BACKOFF_MIN_MS, backoff_ceiling_ms(attempt)].
 */
uint64_t backoff_delay_ms(unsigned attempt, uint32_t rnd);
/* The same under another cap. */
uint64_t backoff_ceiling_max_ms(unsigned attempt, uint64_t max_ms);
uint64_t backoff_delay_max_ms(unsigned attempt, uint32_t rnd, uint64_t max_ms);

/*
 * Records a failed connection or session at now_ms: picks the delay,
 * sets until_ms and counts the attempt.  Returns the delay in ms.
 */
uint64_t backoff_fail(struct backoff *b, uint64_t now_ms, uint32_t rnd);

/* A good session (logged in, synced): the next failure starts at 1 s. */
void backoff_reset(struct backoff *b);

/* True when a reconnect is allowed at now_ms. */
bool backoff_is_ready(const struct backoff *b, uint64_t now_ms);

/* Milliseconds left to wait at now_ms (0 when ready). */
uint64_t backoff_remaining_ms(const struct backoff *b, uint64_t now_ms);

/*
 * Writes the state for status into out (size outsz, always
 * NUL-terminated): "backoff until 2026-11-28T04:30:12Z (in 17 s), attempt 3"
 * or "ready".  Returns out.
 */
char *backoff_format(const struct backoff *b, uint64_t now_ms, char *out,
		     size_t outsz);

#endif
