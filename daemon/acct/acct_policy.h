/*
 * acct_policy.h - the account runtime's decisions, kept pure (no clock,
 * no randomness, no I/O of their own) so that unit tests can drive them:
 * what an account's state and next pass are after a pass ended.
 *
 *   good pass           -> idle, next pass after poll_interval; the
 *                          backoff and the refused-login count reset
 *   connection failure  -> offline (the server was never reached) or
 *                          backoff (it was, then failed): exponential
 *                          backoff with jitter (net/backoff.h)
 *   refused login       -> auth-failed: retried ACCT_AUTH_RETRIES times,
 *                          ACCT_AUTH_RETRY_MS then twice as long each
 *                          time (servers lock accounts that hammer a
 *                          wrong password), then not again until the
 *                          user asks (a sync request, a restart)
 *   anything else       -> error, next pass after poll_interval
 */
#ifndef MS_ACCT_POLICY_H
#define MS_ACCT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ms.h"
#include "net/backoff.h"

enum acct_state {
	ACCT_IDLE,		/* waiting for the next pass */
	ACCT_SYNCING,		/* a pass (and its mirror export) runs */
	ACCT_BACKOFF,		/* the session failed; retry after backoff */
	ACCT_OFFLINE,		/* the server was not reached; likewise */
	ACCT_ERROR,		/* a pass failed otherwise; next poll */
	ACCT_AUTH_FAILED,	/* the server refused the login */
	ACCT_PAUSED,		/* the user paused it */
	ACCT_DISABLED,		/* no engine for its protocol yet */
	ACCT_STOPPED,		/* shut down, or --once is done */
};

/* "idle", "syncing", "backoff", "offline", "error", "auth-failed",
 * "paused", "disabled", "stopped". */
const char *acct_state_name(enum acct_state state);

enum acct_fail_class {
	ACCT_FAIL_NONE,		/* MS_OK */
	ACCT_FAIL_CONN,		/* connect, TLS, timeout, protocol, secret */
	ACCT_FAIL_AUTH,		/* the login was refused */
	ACCT_FAIL_OTHER,	/* store, config, a server NO ... */
	ACCT_FAIL_STOPPED,	/* MS_ECANCELED: we stopped the pass */
};

enum acct_fail_class acct_fail_classify(int rc);

#define ACCT_AUTH_RETRIES 3u
#define ACCT_AUTH_RETRY_MS (15u * 60u * 1000u)
/* delay_ms of a next pass that waits for the user. */
#define ACCT_NEVER UINT64_MAX

/* What the policy remembers of an account between passes. */
struct acct_sched {
	struct backoff backoff;		/* connection failures */
	unsigned auth_failures;		/* refused logins in a row */
};

void acct_sched_init(struct acct_sched *s);

struct acct_next {
	enum acct_state state;
	uint64_t delay_ms;		/* until the next pass; ACCT_NEVER */
	bool is_error;			/* log at error level */
};

/*
 * After a pass ended with rc at now_ms (is_reached: the server answered
 * at all), with rnd a uniformly random number for the jitter: the
 * account's next state and delay, updating s.  Not for MS_ECANCELED.
 */
void acct_next_after_pass(struct acct_sched *s, int rc, bool is_reached,
			  unsigned poll_interval_s, uint64_t now_ms,
			  uint32_t rnd, struct acct_next *next_r);

/*
 * Suspend and resume: CLOCK_MONOTONIC stands still while the machine
 * sleeps, the wall clock does not.  Between two readings of both (ms),
 * true when the wall clock moved ACCT_CLOCK_JUMP_MS more or less than the
 * monotonic one: connections are then likely dead (a NAT forgot them, the
 * server timed out), and waiting for a read timeout would delay mail.
 * A clock set by hand by as much trips it too, at the cost of a
 * reconnect.  The daemon reads both every ACCT_CLOCK_CHECK_MS.
 */
#define ACCT_CLOCK_JUMP_MS 10000u
#define ACCT_CLOCK_CHECK_MS 60000u

bool acct_clock_jumped(uint64_t mono_before_ms, uint64_t wall_before_ms,
		       uint64_t mono_now_ms, uint64_t wall_now_ms);

/* What a network change (net/net_watch.h) does to an account. */
enum acct_net_action {
	ACCT_NET_NONE,		/* nothing open, nothing waiting */
	ACCT_NET_RECONNECT,	/* drop the kept connections, pass now */
	ACCT_NET_RETRY,		/* waiting out a failure: try now */
};

/*
 * In state, with connections kept open between passes (IMAP: the
 * session and push; POP3 keeps none) or not.  A refused login or a
 * paused, disabled or stopped account is left alone.
 */
enum acct_net_action acct_net_change_action(enum acct_state state,
					    bool has_kept_conns);

#endif
