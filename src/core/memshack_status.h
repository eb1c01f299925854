/*
 * memshack_status — the Memshack's status from what the operator observed
 * of its children. Pure.
 *
 * Conditions:
 *   Ready        True when every memcached pod and every gateway is ready.
 *   Progressing  True while pools or the gateway are still converging.
 *   Degraded     True when the spec is invalid (InvalidSpec) or applying
 *                failed (ApplyFailed); False (AsExpected) otherwise.
 * lastTransitionTime moves only when a condition's status flips.
 */
#ifndef MEMSHACK_CORE_MEMSHACK_STATUS_H
#define MEMSHACK_CORE_MEMSHACK_STATUS_H

#include <jansson.h>
#include <stdbool.h>

#include "core/memshack_spec.h"

#define MEMSHACK_MAX_POOLS 8

typedef struct memshack_observed {
	struct {
		bool exists;
		int ready;
		bool current; /* status.observedGeneration caught up with metadata.generation */
	} pools[MEMSHACK_MAX_POOLS];
	bool gateway_exists;
	int gateway_ready;
	bool gateway_current;
	const char *apply_error; /* NULL, or why applying failed */
} memshack_observed;

/*
 * The new status object (new reference), built on `old` (borrowed, may be
 * NULL) so unchanged conditions keep their transition times. `now` is RFC
 * 3339. endpoint / selector / config_md5 describe what was applied.
 */
json_t *memshack_status_build(const memshack_spec *s, const memshack_observed *o, json_t *old, const char *endpoint,
			      const char *selector, const char *config_md5, const char *now);

/* Status for a spec that cannot be used: Ready False / Degraded True, reason InvalidSpec. */
json_t *memshack_status_invalid(json_t *old, long long generation, const char *message, const char *now);

/* Whether two statuses differ in anything but condition transition times. */
bool memshack_status_differs(json_t *a, json_t *b);

#endif
