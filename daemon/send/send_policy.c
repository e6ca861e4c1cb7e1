/*
 * send_policy.c - retry verdicts (send_policy.h).
 */
#include "send/send_policy.h"

enum send_verdict
send_policy_judge(int code)
{
	if (code >= 200 && code < 400)
		return SEND_OK;
	if (code >= 500 && code < 600)
		return SEND_PERM;
	/* 4xx, a reply outside the classes, or none at all. */
	return SEND_TEMP;
}

uint64_t
send_policy_retry_delay_s(uint32_t attempts, uint32_t rnd)
{
	uint64_t d = SEND_RETRY_MIN_S;

	for (uint32_t i = 1; i < attempts && d < SEND_RETRY_MAX_S; i++)
		d *= 2;
	if (d > SEND_RETRY_MAX_S)
		d = SEND_RETRY_MAX_S;
	/* Uniform in [d/2, d]. */
	return d / 2 + (uint64_t)rnd % (d / 2 + 1);
}

bool
send_policy_next_attempt(int64_t created, uint32_t attempts, int64_t now,
			 uint32_t lifetime, uint32_t rnd, int64_t *next_r)
{
	int64_t end = created + (int64_t)lifetime;
	int64_t next;

	if (now >= end)
		return false;
	next = now + (int64_t)send_policy_retry_delay_s(attempts, rnd);
	*next_r = next < end ? next : end;
	return true;
}
