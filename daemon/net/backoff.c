/* backoff.c - exponential reconnect backoff with full jitter. */
#include "net/backoff.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

void
backoff_init(struct backoff *b)
{
	b->attempt = 0;
	b->until_ms = 0;
	b->delay_ms = 0;
	b->max_ms = BACKOFF_MAX_MS;
}

void
backoff_set_max(struct backoff *b, uint64_t max_ms)
{
	b->max_ms = max_ms < BACKOFF_MIN_MS ? BACKOFF_MIN_MS : max_ms;
}

uint64_t
backoff_ceiling_max_ms(unsigned attempt, uint64_t max_ms)
{
	uint64_t c = BACKOFF_MIN_MS;

	if (max_ms < BACKOFF_MIN_MS)	/* 0: a struct never initialised */
		max_ms = BACKOFF_MAX_MS;
	/* Doubling stops at the cap, so a huge attempt count cannot overflow. */
	for (unsigned i = 0; i < attempt && c < max_ms; i++)
		c *= 2;
	return c < max_ms ? c : max_ms;
}

uint64_t
backoff_ceiling_ms(unsigned attempt)
{
	return backoff_ceiling_max_ms(attempt, BACKOFF_MAX_MS);
}

uint64_t
backoff_delay_ms(unsigned attempt, uint32_t rnd)
{
	return backoff_delay_max_ms(attempt, rnd, BACKOFF_MAX_MS);
}

uint64_t
backoff_delay_max_ms(unsigned attempt, uint32_t rnd, uint64_t max_ms)
{
	uint64_t ceil = backoff_ceiling_max_ms(attempt, max_ms);
	uint64_t span = ceil - BACKOFF_MIN_MS + 1;

	/*
	 * Full jitter spreads the reconnects of many accounts (or many
	 * daemons behind one NAT) over the whole window instead of having
	 * them hit the server in lockstep.  The floor of 1 s keeps a server
	 * that refuses at once from turning into a busy loop.
	 */
	return BACKOFF_MIN_MS + (uint64_t)rnd % span;
}

uint64_t
backoff_fail(struct backoff *b, uint64_t now_ms, uint32_t rnd)
{
	b->delay_ms = backoff_delay_max_ms(b->attempt, rnd, b->max_ms);
	b->until_ms = now_ms + b->delay_ms;
	if (b->attempt < 64)
		b->attempt++;
	return b->delay_ms;
}

void
backoff_reset(struct backoff *b)
{
	uint64_t max_ms = b->max_ms;

	backoff_init(b);
	b->max_ms = max_ms;
}

bool
backoff_is_ready(const struct backoff *b, uint64_t now_ms)
{
	return now_ms >= b->until_ms;
}

uint64_t
backoff_remaining_ms(const struct backoff *b, uint64_t now_ms)
{
	return now_ms >= b->until_ms ? 0 : b->until_ms - now_ms;
}

char *
backoff_format(const struct backoff *b, uint64_t now_ms, char *out,
	       size_t outsz)
{
	time_t t = (time_t)(b->until_ms / 1000);
	struct tm tm;
	char ts[32];

	if (outsz == 0)
		return out;
	if (backoff_is_ready(b, now_ms)) {
		snprintf(out, outsz, "ready");
		return out;
	}
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* Round up so "in 0 s" is never shown while still waiting. */
	snprintf(out, outsz, "backoff until %s (in %" PRIu64 " s), attempt %u",
		 ts, (backoff_remaining_ms(b, now_ms) + 999) / 1000,
		 b->attempt);
	return out;
}
