/*
 * child_decision — whether to write an owned child, decided from what we
 * remember of our last write and what the cache holds. Pure: no I/O, no
 * clock (now is given), no allocation. operator/children carries it out.
 *
 * A child is written (server-side apply) only when the cache lacks it, its
 * applied-digest annotation differs from the desired one, or it changed after
 * our last write (a hand edit: by generation for kinds that have one, else by
 * resourceVersion, compared for equality only). A child already as desired
 * when first seen (after a restart) is adopted without a write. A child
 * somebody keeps changing is reverted at once CHILD_CONTEST_FREE times within
 * CHILD_CONTEST_WINDOW_US of each other, then with a doubling delay (1 s,
 * 2 s ... CHILD_CONTEST_MAX_DELAY_US).
 */
#ifndef MEMSHACK_CORE_CHILD_DECISION_H
#define MEMSHACK_CORE_CHILD_DECISION_H

#include <stdbool.h>
#include <stdint.h>

#define CHILD_CONTEST_WINDOW_US (60LL * 1000000)
#define CHILD_CONTEST_FREE 3
#define CHILD_CONTEST_MAX_DELAY_US (300LL * 1000000)

/* What we remember of our last write of a child. */
typedef struct child_memo {
	char digest[33];
	long long generation; /* after our write (kinds with a generation) */
	char rv[64];          /* resourceVersion after our write (others) */
	char rv_before[64];   /* resourceVersion the cache held when we wrote */
	int reverts;          /* hand edits reverted within the contest window of each other */
	int64_t last_revert_us;
} child_memo;

/* The cached child as the decision needs it; NULL strings when absent. */
typedef struct child_seen {
	const char *digest; /* its applied-digest annotation */
	long long generation;
	const char *rv;
} child_seen;

typedef enum child_action {
	CHILD_UP_TO_DATE, /* nothing to write: as desired, or the cache has not caught up with our write */
	CHILD_ADOPT,      /* already as desired but not written by us since we started: remember it, write nothing */
	CHILD_APPLY,      /* missing or different: write it */
	CHILD_REVERT,     /* edited by somebody after our write: write it back now */
	CHILD_DEFER,      /* edited again and again: write it back after defer_us */
} child_action;

typedef struct child_verdict {
	child_action action;
	int64_t defer_us; /* CHILD_DEFER */
	int reverts;      /* CHILD_REVERT: the reverts in the current contest before this one */
} child_verdict;

/*
 * memo: our last write (NULL: none since we started); seen: the cached child
 * (NULL: not cached); want: the desired applied-digest; has_generation: the
 * kind bumps metadata.generation on spec edits; now_us: a monotonic clock.
 */
child_verdict child_decide(const child_memo *memo, const child_seen *seen, const char *want, bool has_generation,
			   int64_t now_us);

/* Kinds whose spec edits bump metadata.generation (others are compared by resourceVersion). */
bool child_kind_has_generation(const char *kind);

#endif
