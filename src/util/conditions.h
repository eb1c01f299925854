/*
 * conditions — status conditions by the Kubernetes API conventions. Pure.
 *
 * A condition is {type, status: True|False|Unknown, reason (CamelCase),
 * message, lastTransitionTime, observedGeneration}; the list is a map keyed
 * on type. lastTransitionTime changes only when the status flips.
 */
#ifndef MEMSHACK_UTIL_CONDITIONS_H
#define MEMSHACK_UTIL_CONDITIONS_H

#include <jansson.h>
#include <stdbool.h>

/* The condition of this type in the array, or NULL. Borrowed. */
json_t *conditions_find(json_t *conditions, const char *type);

/*
 * Sets (or adds) condition `type` in the JSON array `conditions`, in place.
 * `now` is an RFC 3339 time, used as lastTransitionTime for a new condition
 * or a status flip. Returns true if anything observable changed (status,
 * reason, message or observedGeneration).
 */
bool conditions_set(json_t *conditions, const char *type, const char *status, const char *reason,
		    const char *message, json_int_t observed_generation, const char *now);

/* Whether condition `type` has status "True". */
bool conditions_is_true(json_t *conditions, const char *type);

#endif
