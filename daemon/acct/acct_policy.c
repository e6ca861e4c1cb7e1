/*
 * acct_policy.c - the account runtime's decisions (acct_policy.h).
 */
#include "acct/acct_policy.h"

static const char *const acct_state_names[] = {
	[ACCT_IDLE] = "idle",
	[ACCT_SYNCING] = "syncing",
	[ACCT_BACKOFF] = "backoff",
	[ACCT_OFFLINE] = "offline",
	[ACCT_ERROR] = "error",
	[ACCT_AUTH_FAILED] = "auth-failed",
	[ACCT_PAUSED] = "paused",
	[ACCT_DISABLED] = "disabled",
	[ACCT_STOPPED] = "stopped",
};

const char *
acct_state_name(enum acct_state state)
{
	if ((unsigned)state >= sizeof(acct_state_names) /
			       sizeof(acct_state_names[0]))
		return "?";
	return acct_state_names[state];
}

enum acct_fail_class
acct_fail_classify(int rc)
{
	switch (rc) {
	case MS_OK:
		return ACCT_FAIL_NONE;
	case MS_ECONN:
	case MS_ETIMEDOUT:
	case MS_ETLS:
	case MS_EIO:		/* password_cmd / oauth_token_cmd failed */
	case MS_EPROTO:
		return ACCT_FAIL_CONN;
	case MS_EAUTH:
		return ACCT_FAIL_AUTH;
	case MS_ECANCELED:
		return ACCT_FAIL_STOPPED;
	default:
		return ACCT_FAIL_OTHER;
	}
}

void
acct_sched_init(struct acct_sched *s)
{
	backoff_init(&s->backoff);
	s->auth_failures = 0;
}

void
acct_next_after_pass(struct acct_sched *s, int rc, bool is_reached,
		     unsigned poll_interval_s, uint64_t now_ms, uint32_t rnd,
		     struct acct_next *next_r)
{
	uint64_t poll_ms = (uint64_t)poll_interval_s * 1000u;

	switch (acct_fail_classify(rc)) {
	case ACCT_FAIL_NONE:
		backoff_reset(&s->backoff);
		s->auth_failures = 0;
		next_r->state = ACCT_IDLE;
		next_r->delay_ms = poll_ms;
		next_r->is_error = false;
		return;
	case ACCT_FAIL_CONN:
		next_r->state = is_reached ? ACCT_BACKOFF : ACCT_OFFLINE;
		next_r->delay_ms = backoff_fail(&s->backoff, now_ms, rnd);
		next_r->is_error = false;
		return;
	case ACCT_FAIL_AUTH:
		/* A password does not fix itself: a few slow retries (an
		 * auth backend that was down comes back), then the user. */
		s->auth_failures++;
		next_r->state = ACCT_AUTH_FAILED;
		next_r->is_error = true;
		next_r->delay_ms = s->auth_failures > ACCT_AUTH_RETRIES ?
				   ACCT_NEVER :
				   (uint64_t)ACCT_AUTH_RETRY_MS <<
				   (s->auth_failures - 1);
		return;
	case ACCT_FAIL_OTHER:
	case ACCT_FAIL_STOPPED:
		break;
	}
	next_r->state = ACCT_ERROR;
	next_r->delay_ms = poll_ms;
	next_r->is_error = true;
}

bool
acct_clock_jumped(uint64_t mono_before_ms, uint64_t wall_before_ms,
		  uint64_t mono_now_ms, uint64_t wall_now_ms)
{
	int64_t mono = (int64_t)(mono_now_ms - mono_before_ms);
	int64_t wall = (int64_t)(wall_now_ms - wall_before_ms);
	int64_t diff = wall - mono;

	return diff > (int64_t)ACCT_CLOCK_JUMP_MS ||
	       diff < -(int64_t)ACCT_CLOCK_JUMP_MS;
}

enum acct_net_action
acct_net_change_action(enum acct_state state, bool has_kept_conns)
{
	switch (state) {
	case ACCT_IDLE:
	case ACCT_SYNCING:
		/* Their sockets may be bound to an address that is gone. */
		return has_kept_conns ? ACCT_NET_RECONNECT : ACCT_NET_NONE;
	case ACCT_BACKOFF:
	case ACCT_OFFLINE:
	case ACCT_ERROR:
		/* The network that failed them may be back. */
		return ACCT_NET_RETRY;
	case ACCT_AUTH_FAILED:
	case ACCT_PAUSED:
	case ACCT_DISABLED:
	case ACCT_STOPPED:
		break;
	}
	return ACCT_NET_NONE;
}
