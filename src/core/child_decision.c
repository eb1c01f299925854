#include "core/child_decision.h"

#include <string.h>

bool child_kind_has_generation(const char *kind)
{
	return kind &&
	       (!strcmp(kind, "StatefulSet") || !strcmp(kind, "Deployment") || !strcmp(kind, "PodDisruptionBudget"));
}

/* Whether the cached child is a version other than the one our write produced: somebody edited it since. */
static bool edited_since(const child_memo *memo, const child_seen *seen, bool has_generation)
{
	if (has_generation)
		return seen->generation > memo->generation;
	return seen->rv && strcmp(seen->rv, memo->rv) && strcmp(seen->rv, memo->rv_before);
}

child_verdict child_decide(const child_memo *memo, const child_seen *seen, const char *want, bool has_generation,
			   int64_t now_us)
{
	child_verdict v = { CHILD_APPLY, 0, 0 };
	if (!seen)
		return v; /* not cached: create it */
	bool as_desired = seen->digest && !strcmp(seen->digest, want);
	if (memo && !strcmp(memo->digest, want)) {
		if (!as_desired || !edited_since(memo, seen, has_generation)) {
			v.action = CHILD_UP_TO_DATE; /* ours, or the cache has not caught up with our write yet */
			return v;
		}
		/* Somebody edited it after our write: revert at once a few times, then back off. */
		v.reverts = now_us - memo->last_revert_us < CHILD_CONTEST_WINDOW_US ? memo->reverts : 0;
		v.action = CHILD_REVERT;
		if (v.reverts >= CHILD_CONTEST_FREE) {
			int shift = v.reverts - CHILD_CONTEST_FREE;
			int64_t delay = shift > 20 ? CHILD_CONTEST_MAX_DELAY_US : 1000000LL << shift;
			if (delay > CHILD_CONTEST_MAX_DELAY_US)
				delay = CHILD_CONTEST_MAX_DELAY_US;
			if (now_us < memo->last_revert_us + delay) {
				v.action = CHILD_DEFER;
				v.defer_us = memo->last_revert_us + delay - now_us;
			}
		}
		return v;
	}
	if (as_desired)
		v.action = CHILD_ADOPT; /* already as desired (e.g. after a restart) */
	return v;
}
