/*
 * send_policy.h - what becomes of an outgoing message after an attempt,
 * decided in pure functions (the clock and the random number injected)
 * so that unit tests pin every value.  The sender (send_queue.h) applies
 * the verdicts to the store.
 *
 * Retries, as MTAs do them: a temporary failure (4xx, a connection lost
 * or timed out before the final reply) is tried again after
 * SEND_RETRY_MIN_S * 2^(attempts-1), capped at SEND_RETRY_MAX_S, with
 * jitter (uniform in [delay/2, delay]) so that messages queued together
 * do not retry in lockstep; a message older than the account's
 * smtp_queue_lifetime is given up (failed, kept with the last reply).
 * A permanent failure (5xx) is failed at once.
 */
#ifndef MS_SEND_POLICY_H
#define MS_SEND_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#define SEND_RETRY_MIN_S 60u		/* the first retry: a minute */
#define SEND_RETRY_MAX_S (4u * 3600u)	/* then at most every 4 hours */

/* How an SMTP reply (or its absence) judges a recipient or a message. */
enum send_verdict {
	SEND_OK,	/* 2xx */
	SEND_TEMP,	/* 4xx, lost connection, timeout: retry */
	SEND_PERM,	/* 5xx: failed, kept for the user */
};

/* The verdict of a reply code (0: no reply, the connection was lost). */
enum send_verdict send_policy_judge(int code);

/* The delay after the attempts-th failed attempt (attempts >= 1). */
uint64_t send_policy_retry_delay_s(uint32_t attempts, uint32_t rnd);

/*
 * After a temporary failure at now of a message created at created that
 * has failed attempts times (this one counted): true with *next_r, the
 * time of the next attempt, or false when lifetime seconds have passed
 * since created (give up).  The last retry is never planned beyond the
 * lifetime's end.
 */
bool send_policy_next_attempt(int64_t created, uint32_t attempts,
			      int64_t now, uint32_t lifetime, uint32_t rnd,
			      int64_t *next_r);

#endif
